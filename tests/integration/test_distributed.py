"""Distributed mode, black-box: loadpilot-coordinator with --agents / --external-agents,
loadpilot-agent processes, against loadpilot-target, over the coordinator's embedded
broker and over a real nats-server (every test taking `broker` runs once with each).

The target's own counters (/__stats) are the oracle: what the agents report must be
exactly what the target saw."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from conftest import binary
from distributed_support import *  # noqa: F401,F403 (fixtures too)
from distributed_support import (NatsServer, agent_rows, get_json, leftovers, make_broker, plan_for, snapshot_at,
                                 target_total,
                                 wait_for)

RUN_BOUND_S = 90


def test_coordinator_flags_that_do_not_go_together_are_usage_errors():
    coordinator = str(binary("loadpilot-coordinator"))
    for args, message in [
        (["--agents", "2", "--external-agents", "2"], "--agents and --external-agents cannot be combined"),
        (["--nats-url", "nats://127.0.0.1:4222"], "--nats-url needs --agents N or --external-agents N"),
        (["--agents", "0"], "--agents must be a whole number of agents >= 1, got '0'"),
        (["--external-agents", "1", "--broker-addr", "nowhere"], "--broker-addr must be ADDR:PORT"),
    ]:
        p = subprocess.run([coordinator, *args], input="{}", capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, (args, p.stderr)
        assert message in p.stderr, (args, p.stderr)


def test_local_agents_fire_exactly_what_the_target_counts(broker, target_server, coordinators):
    args = ["--agents", "2"] + (["--nats-url", broker.server.url] if broker.server else [])
    c = coordinators(plan_for(target_server.url, rps=40, duration=3), *args)

    assert c.wait(RUN_BOUND_S) == 0, c.stderr()

    final = c.final
    assert final["requests_total"] == target_total(target_server) == 120
    assert final["errors_total"] == 0 and final["dropped"] == 0
    rows = agent_rows(final)
    assert sorted(rows) == ["agent-0", "agent-1"]
    assert all(r["state"] == "done" for r in rows.values()), rows
    assert sum(r["requests"] for r in rows.values()) == 120
    assert rows["agent-0"]["requests"] == rows["agent-1"]["requests"] == 60  # slots 0 and 1: even and odd
    assert final["start_skew_ms"] is not None and final["start_skew_ms"] < 100  # ~0.03 ms measured; loaded CI
    # The same stream as a local run: every line a full snapshot, the interval figures in it.
    assert [s["phase"] for s in c.snapshots][-1] == "done"
    assert all("interval" in s and "agents" in s for s in c.snapshots)


def test_three_rps_over_two_agents_fires_three_per_second(target_server, coordinators):
    c = coordinators(plan_for(target_server.url, rps=3, duration=10), "--agents", "2")

    assert c.wait(RUN_BOUND_S) == 0, c.stderr()

    assert abs(target_total(target_server) - 30) <= 1
    assert c.final["requests_total"] == target_total(target_server)


def test_external_agents_started_before_and_after_the_coordinator(broker, target_server, agents, coordinators):
    agents(broker.agent_url, "early")  # before the coordinator (and its broker) exists
    c = coordinators(plan_for(target_server.url, rps=20, duration=2), "--external-agents", "2",
                     *broker.coordinator_args())
    wait_for(lambda: "waiting for agents: 1/2 (early)" in c.stderr(), 30, "the early agent to register")
    agents(broker.agent_url, "late")

    assert c.wait(RUN_BOUND_S) == 0, c.stderr()

    assert c.final["requests_total"] == target_total(target_server) == 40
    assert sorted(agent_rows(c.final)) == ["early", "late"]


def test_two_runs_in_a_row_on_the_same_persistent_agents(broker, target_server, agents, coordinators):
    for i in range(2):
        agents(broker.agent_url, f"agent-{i}")
    totals = []
    for _ in range(2):
        c = coordinators(plan_for(target_server.url, rps=20, duration=2), "--external-agents", "2",
                         *broker.coordinator_args(), "--wait-for-agents", "30s")
        assert c.wait(RUN_BOUND_S) == 0, c.stderr()
        totals.append(c.final["requests_total"])

    assert totals == [40, 40]
    assert target_total(target_server) == 80


@pytest.mark.parametrize("kind", ["embedded", "nats-server"])
def test_a_wrong_token_is_refused_with_a_clear_message(kind, agents, coordinators, target_server):
    b = make_broker(kind, token="right-token")
    try:
        c = coordinators(plan_for(target_server.url, rps=1, duration=1), "--external-agents", "1",
                         *b.coordinator_args(), "--wait-for-agents", "20s")
        if kind == "embedded":
            wait_for(lambda: "waiting for agents: 0/1" in c.stderr(), 20, "the coordinator's broker")
        bad = agents(b.agent_url, "intruder", token="wrong-token")

        assert bad.wait(20) == 3
        assert "NATS refused the connection: authorization violation \u2014 check --nats-token / NATS_TOKEN" in bad.stderr()
        c.proc.stop()
    finally:
        if b.server:
            b.server.close()


def test_a_coordinator_without_the_token_of_a_nats_server_is_refused(target_server):
    b = make_broker("nats-server", token="right-token")
    try:
        env = {k: v for k, v in os.environ.items() if k != "NATS_TOKEN"}
        p = subprocess.run([str(binary("loadpilot-coordinator")), "--external-agents", "1", "--nats-url", b.server.url],
                           input=json.dumps(plan_for(target_server.url, 1, 1)), capture_output=True, text=True,
                           timeout=30, env=env)

        assert p.returncode == 3
        assert "authorization violation" in p.stderr
    finally:
        b.server.close()


def test_agents_that_never_come_are_named_when_the_wait_ends(target_server, agents, coordinators, broker):
    agents(broker.agent_url, "agent-0")
    c = coordinators(plan_for(target_server.url, rps=1, duration=1), "--external-agents", "2",
                     *broker.coordinator_args(), "--wait-for-agents", "4s")

    assert c.wait(30) == 3
    assert "only 1 of 2 agents registered within 4 s: agent-0 came" in c.stderr()
    assert target_total(target_server) == 0


def test_each_agent_fires_its_own_slice_of_the_pre_auth_pool(target_server, coordinators):
    # Four pre-authenticated users, each with its own token and project URL. Two agents:
    # agent-0 gets users 0-1, agent-1 users 2-3 (disjoint slices), each rotating through its own.
    users = [{"task_headers": {"project": [["Authorization", f"Bearer token-{u}"]]},
              "task_urls": {"project": f"/api/products/{u + 1}"}} for u in range(4)]
    plan = plan_for(target_server.url, rps=40, duration=2, tasks=[{"name": "project", "url": "/unused"}],
                    vuser_configs=users)
    c = coordinators(plan, "--agents", "2")

    assert c.wait(RUN_BOUND_S) == 0, c.stderr()

    stats = get_json(target_server.url + "/__stats")
    rows = agent_rows(c.final)
    assert stats["total"] == c.final["requests_total"] == 80
    assert stats["by_authorization"] == {f"Bearer token-{u}": 20 for u in range(4)}
    assert stats["by_path"].get("/unused") is None
    first_slice = stats["by_path"]["/api/products/1"] + stats["by_path"]["/api/products/2"]
    second_slice = stats["by_path"]["/api/products/3"] + stats["by_path"]["/api/products/4"]
    assert first_slice == rows["agent-0"]["requests"] == 40
    assert second_slice == rows["agent-1"]["requests"] == 40


def our_agents() -> list[str]:
    return [p for p in leftovers() if p.startswith("loadpilot-agent")]


def test_ctrl_c_stops_the_local_agents_and_still_prints_the_final_snapshot(target_server, coordinators):
    c = coordinators(plan_for(target_server.url, rps=20, duration=30), "--agents", "2")
    snapshot_at(c, 2, 40)

    c.proc.signal(signal.SIGINT)

    assert c.wait(60) == 0, c.stderr()
    assert c.final["stopped"] is True
    assert c.final["requests_total"] == target_total(target_server)
    assert all(r["state"] == "done" for r in agent_rows(c.final).values())
    assert our_agents() == []


def test_an_agent_that_cannot_start_the_plan_fails_the_run_and_no_agent_is_left(coordinators):
    c = coordinators(plan_for("http://no-such-host.invalid:8000", rps=5, duration=5), "--agents", "2")

    assert c.wait(60) == 3
    assert "cannot run the plan: cannot resolve host 'no-such-host.invalid'" in c.stderr(), c.stderr()
    wait_for(lambda: our_agents() == [], 10, "the local agents to be gone")


def test_a_killed_coordinator_takes_its_local_agents_with_it(target_server, coordinators):
    c = coordinators(plan_for(target_server.url, rps=20, duration=30), "--agents", "2")
    snapshot_at(c, 1, 40)
    assert len(our_agents()) == 2

    c.proc.kill()

    wait_for(lambda: our_agents() == [], 10, "the orphaned agents to stop")


def test_stats_larger_than_the_servers_max_payload_travel_split_and_count_exactly(target_server, agents,
                                                                                    coordinators):
    # Ten tasks' histograms (hundreds of buckets each) do not fit in one 2 KiB message:
    # each agent splits its stats per task, the coordinator joins the parts of a seq
    # before counting it. Nothing is truncated.
    server = NatsServer(max_payload=2048)
    try:
        started = [agents(server.url, f"agent-{i}") for i in range(2)]
        tasks = [{"name": f"t{i}", "url": f"/api/products/{i + 1}"} for i in range(10)]
        c = coordinators(plan_for(target_server.url, rps=500, duration=4, tasks=tasks), "--external-agents", "2",
                         "--nats-url", server.url)

        assert c.wait(RUN_BOUND_S) == 0, c.stderr()

        assert c.final["requests_total"] == target_total(target_server) == 2000
        assert sum(t["requests"] for t in c.final["tasks"]) == 2000
        assert all("stats above the server's max_payload of 2048 bytes: sent in" in a.stderr() for a in started), \
            [a.stderr() for a in started]
    finally:
        server.close()
