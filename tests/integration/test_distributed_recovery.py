"""Distributed mode when the rest fails: the coordinator killed mid-run, the NATS server
killed and restarted, agent clocks that disagree. Real processes on loopback, over the
embedded broker and over nats-server."""

from __future__ import annotations

import time

from distributed_support import *  # noqa: F401,F403 (fixtures too)
from distributed_support import agent_rows, make_broker, plan_for, snapshot_at, target_total

RUN_BOUND_S = 120


def test_agents_stop_when_their_coordinator_dies_and_take_the_next_plan(broker, target_server, agents, coordinators):
    for i in range(2):
        agents(broker.agent_url, f"agent-{i}")
    first = coordinators(plan_for(target_server.url, rps=20, duration=60), "--external-agents", "2",
                         *broker.coordinator_args())
    snapshot_at(first, 2, 40)

    first.proc.kill()
    killed = time.monotonic()
    # No orphan load: the agents' leases run out (3 s) and within 15 s they have given
    # the run up.
    time.sleep(15)
    settled = target_total(target_server)
    time.sleep(2)
    assert target_total(target_server) == settled, "agents still fire for a dead coordinator"
    assert time.monotonic() - killed < 20

    second = coordinators(plan_for(target_server.url, rps=20, duration=2), "--external-agents", "2",
                          *broker.coordinator_args(), "--wait-for-agents", "40s")
    assert second.wait(RUN_BOUND_S) == 0, second.stderr()
    assert second.final["requests_total"] == 40
    assert target_total(target_server) == settled + 40


def test_agent_clocks_that_disagree_still_start_together(broker, target_server, agents, coordinators):
    agents(broker.agent_url, "ahead", offset_ms=5000)    # a machine 5 s ahead
    agents(broker.agent_url, "behind", offset_ms=-3000)  # and one 3 s behind
    c = coordinators(plan_for(target_server.url, rps=20, duration=3), "--external-agents", "2",
                     *broker.coordinator_args())

    assert c.wait(RUN_BOUND_S) == 0, c.stderr()
    final = c.final
    assert final["requests_total"] == target_total(target_server) == 60
    # Without the offset measurement the two would start 8 s apart.
    assert final["start_skew_ms"] is not None and final["start_skew_ms"] < 100, final["start_skew_ms"]
    assert "ahead: clock offset +5000." in c.stderr() or "ahead: clock offset +4999." in c.stderr(), c.stderr()
    assert "behind: clock offset -3000." in c.stderr() or "behind: clock offset -2999." in c.stderr(), c.stderr()


def test_a_nats_server_killed_and_restarted_mid_run_loses_no_count(target_server, agents, coordinators):
    b = make_broker("nats-server")
    try:
        for i in range(2):
            agents(b.agent_url, f"agent-{i}")
        c = coordinators(plan_for(target_server.url, rps=20, duration=16), "--external-agents", "2",
                         *b.coordinator_args())
        snapshot_at(c, 3, 40)

        b.server.kill()  # kill -9: every connection drops
        time.sleep(4)    # longer than a lease: the agents pause, the coordinator writes them off
        before_restart = target_total(target_server)
        b.server.start()  # same port

        assert c.wait(RUN_BOUND_S) == 0, c.stderr()
        final = c.final
        assert final["requests_total"] == target_total(target_server), c.stderr()
        assert target_total(target_server) > before_restart, "the run never resumed"
        assert "rejoined" in c.stderr()
        assert all(r["state"] == "done" for r in agent_rows(final).values()), agent_rows(final)
    finally:
        b.server.close()
