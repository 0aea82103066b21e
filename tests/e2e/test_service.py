"""The coordinator as a service (`loadpilot-coordinator --serve`), black box: real
agents on a real nats-server with a token, a real loadpilot-target, the API on loopback.
The target's own counters (/__stats) say what was fired. Every wait is bounded and every
process is stopped by pid (`no_leftovers` checks none is left).

One service and two agents serve the whole module (agents are persistent: every test is
also a next run on the same agents); tests that need their own start their own.
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "service"))

from service_support import (API_TOKEN, NATS_TOKEN, NatsServer, Service, Stream, binary, cluster,  # noqa: E402
                             free_port, get, no_leftovers, plan_for, post, promtool_check, raw_request, service,
                             settled_total, start_agent, target_total, wait_for)

# Fixtures: no_leftovers (session: no agent, coordinator or nats-server left behind), and
# cluster / service (one nats-server, two agents and the service for the module).
_ = (no_leftovers, cluster, service)


def test_the_stream_arrives_line_by_line_and_ends_with_the_verdict(service, target):
    stream = Stream(service, plan_for(target.url, rps=20, duration=5, thresholds={"p99_ms": 1000}))
    assert stream.status == 200
    assert stream.response.getheader("Content-Type") == "application/x-ndjson"

    first = stream.next_line()
    seen_at_first_line = target_total(target)
    lines = stream.read_all()

    assert first["phase"] == "steady" and first["requests_total"] > 0
    assert seen_at_first_line < 100, "the first line came only after the run: the stream is buffered"
    final = stream.final
    assert [l["phase"] for l in lines].count("done") == 1
    assert final["requests_total"] == 100 == target_total(target)
    assert {a["id"]: (a["state"], a["requests"]) for a in final["agents"]} == {"agent-0": ("done", 50),
                                                                              "agent-1": ("done", 50)}
    assert final["verdict"]["passed"] is True
    assert [t["key"] for t in final["verdict"]["thresholds"]] == ["p99_ms", "dropped_rate"]
    assert "stats" not in final  # only when asked for (?stats=1)


def test_stats_come_with_every_line_when_asked(service, target):
    stream = Stream(service, plan_for(target.url, rps=10, duration=2), query="?stats=1")
    lines = stream.read_all()

    assert stream.final["requests_total"] == 20
    assert all(isinstance(l.get("stats"), str) and l["stats"] for l in lines)


def test_a_plan_while_a_test_runs_gets_409_naming_the_run(service, target):
    running = Stream(service, plan_for(target.url, rps=10, duration=4))
    running.next_line()

    status, body = post(service.api + "/run", json.dumps(plan_for(target.url, 5, 1)).encode(),
                        {"Authorization": f"Bearer {API_TOKEN}"})
    running.read_all()

    assert status == 409
    assert "already running" in body["error"] and body["run"] == running.run_id
    assert running.final["requests_total"] == 40 == target_total(target)  # the 409 fired nothing


def test_a_bad_plan_gets_400_with_every_problem(service, target):
    bad = plan_for("ftp://nowhere", rps=0, duration=10, ramp_up_secs=30, mode="ramp")

    status, body = post(service.api + "/run", json.dumps(bad).encode(), {"Authorization": f"Bearer {API_TOKEN}"})
    status_json, body_json = post(service.api + "/run", b"{not json", {"Authorization": f"Bearer {API_TOKEN}"})

    assert status == 400
    assert any("rps must be > 0, got 0" in p for p in body["problems"])
    assert any("target_url must start with http:// or https://" in p for p in body["problems"])
    assert any("ramp_up (30s) exceeds duration (10s)" in p for p in body["problems"])
    assert status_json == 400 and body_json["problems"]
    assert target_total(target) == 0


def test_the_api_token_missing_or_wrong_is_401_and_the_right_one_runs(service, target):
    plan = plan_for(target.url, rps=10, duration=1)

    missing = Stream(service, plan, token="")
    missing_body = missing.body_json()
    wrong = Stream(service, plan, token=API_TOKEN + "x")
    right = Stream(service, plan)
    right.read_all()

    assert missing.status == 401 and "missing API token" in missing_body["error"]
    assert "LOADPILOT_API_TOKEN" in missing_body["hint"]
    assert wrong.status == 401
    assert right.status == 200 and right.final["requests_total"] == 10 == target_total(target)


def test_a_body_over_16_mib_gets_413_before_it_is_sent(service):
    # Only the head goes out: the answer does not wait for a body it would not read.
    answer = raw_request(service.port, "POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                       f"Authorization: Bearer {API_TOKEN}\r\nContent-Length: {17 << 20}\r\n\r\n")

    assert answer.startswith("HTTP/1.1 413 ")
    body = json.loads(answer.split("\r\n\r\n", 1)[1])
    assert body["limit_bytes"] == 16 << 20 and "above this service's limit" in body["error"]


def test_healthz_is_ok_and_readyz_waits_for_the_wanted_agents(target):
    nats = NatsServer(token=NATS_TOKEN)
    service = Service(nats, agents=2)
    agents = []
    try:
        health = get(service.api + "/healthz")
        before = get(service.api + "/readyz")
        agents = [start_agent(nats.url, f"late-{i}", NATS_TOKEN) for i in range(2)]
        after = service.wait_ready()

        assert health == (200, "ok")
        assert before[0] == 503
        assert json.loads(before[1])["agents_connected"] == 0 and json.loads(before[1])["agents_wanted"] == 2
        assert after["agents_connected"] == 2 and after["ready"] is True
    finally:
        for a in agents:
            a.stop()
            a.close()
        service.close()
        nats.close()


def test_metrics_during_a_run_are_valid_prometheus_with_the_agents(service, target):
    stream = Stream(service, plan_for(target.url, rps=20, duration=4))
    stream.next_line()

    status, during = get(service.metrics)
    stream.read_all()
    _, after = get(service.metrics)

    assert status == 200
    check = promtool_check(during)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "\nloadpilot_service_running 1\n" in during
    assert "\nloadpilot_active_agents 2\n" in during
    assert "\nloadpilot_agents_connected 2\n" in during
    assert 'loadpilot_requests_total{task="products"}' in during
    assert promtool_check(after).returncode == 0
    assert "\nloadpilot_service_running 0\n" in after
    assert f'loadpilot_requests_total{{task="products"}} 80\n' in after  # the run's last figures stay


def test_a_client_that_goes_away_stops_the_run(service, target):
    stream = Stream(service, plan_for(target.url, rps=50, duration=30))
    stream.next_line()
    stream.next_line()

    stream.close()
    stopped_at = settled_total(target)

    assert 0 < stopped_at < 50 * 10, f"{stopped_at} requests: the run went on without its client"
    assert "the client of the run went away" in service.stderr()
    service.wait_ready()  # free for the next plan, agents idle again


def test_post_stop_ends_the_stream_with_a_stopped_final_line(service, target):
    stream = Stream(service, plan_for(target.url, rps=20, duration=30))
    stream.next_line()

    status, body = post(service.api + f"/stop?run={stream.run_id}", headers={"Authorization": f"Bearer {API_TOKEN}"})
    stream.read_all()

    assert status == 202 and body == {"run": stream.run_id, "stopping": True, "grace_secs": 2.0}
    assert stream.final["stopped"] is True
    assert stream.final["requests_total"] == target_total(target) < 20 * 30


def test_two_runs_back_to_back_each_fire_exactly_their_plan(service, target):
    first = Stream(service, plan_for(target.url, rps=20, duration=2))
    first.read_all()
    second = Stream(service, plan_for(target.url, rps=30, duration=2), timeout=40)
    second.read_all()

    assert first.final["requests_total"] == 40
    assert second.final["requests_total"] == 60
    assert target_total(target) == 100
    assert first.run_id != second.run_id


def test_sigterm_stops_the_run_and_its_client_still_gets_the_final_line(target):
    nats = NatsServer(token=NATS_TOKEN)
    agent = start_agent(nats.url, "solo", NATS_TOKEN)
    service = Service(nats, agents=1)
    try:
        service.wait_ready()
        stream = Stream(service, plan_for(target.url, rps=20, duration=30))
        stream.next_line()

        service.proc.signal(signal.SIGTERM)
        stream.read_all()
        code = service.proc.wait(timeout=30)

        assert stream.final["stopped"] is True
        assert stream.final["requests_total"] == settled_total(target)
        assert code == 0
    finally:
        service.close()
        agent.stop()
        agent.close()
        nats.close()


def test_the_embedded_broker_serves_agents_too(target):
    port = free_port()
    service = Service(None, broker_port=port)  # no --serve-agents: every connected agent
    agents = [start_agent(f"127.0.0.1:{port}", f"emb-{i}", NATS_TOKEN) for i in range(3)]
    try:
        ready = wait_for(lambda: json.loads(get(service.api + "/readyz")[1])["agents_connected"] == 3 or None, 20,
                         "3 agents on the embedded broker")
        stream = Stream(service, plan_for(target.url, rps=30, duration=2))
        stream.read_all()

        assert ready
        assert stream.final["requests_total"] == 60 == target_total(target)
        assert sorted(a["id"] for a in stream.final["agents"]) == ["emb-0", "emb-1", "emb-2"]
    finally:
        for a in agents:
            a.stop()
            a.close()
        service.close()


def test_serve_refuses_flags_of_the_stdin_mode():
    out = subprocess.run([str(binary("loadpilot-coordinator")), "--serve", "--agents", "2"], capture_output=True,
                         text=True, timeout=10)

    assert out.returncode == 2
    assert "--agents cannot be combined with --serve" in out.stderr
