"""Distributed mode when agents fail: one killed, one frozen and thawed. Real processes
on loopback, over the embedded broker and over nats-server. Slow by nature (the
detection windows are 3 s and 15 s), so in a file of their own that ctest runs beside
the others (test_distributed_recovery.py has the coordinator's and the server's faults)."""

from __future__ import annotations

import signal
import time

from distributed_support import *  # noqa: F401,F403 (fixtures too)
from distributed_support import agent_rows, plan_for, snapshot_at, target_total

RUN_BOUND_S = 120


def test_an_agent_killed_mid_run_leaves_the_rate_held_by_the_rest(broker, target_server, agents, coordinators):
    # 4 agents at 40 rps for 20 s: 800 iterations. agent-3 is killed 5 s in. Its lease
    # runs at most 3 s past the last time the coordinator heard from it (stats every
    # second), and the others adopt its slot from exactly there: at most 3 s of its 10 rps
    # are lost, 30 of 800 (3.75 %), so the target sees ≥ 95 % of the plan.
    victims = {}
    for i in range(4):
        victims[f"agent-{i}"] = agents(broker.agent_url, f"agent-{i}")
    c = coordinators(plan_for(target_server.url, rps=40, duration=20), "--external-agents", "4",
                     *broker.coordinator_args())
    snapshot_at(c, 5, 40)

    victims["agent-3"].kill()

    assert c.wait(RUN_BOUND_S) == 0, c.stderr()
    planned = 800
    seen = target_total(target_server)
    final = c.final
    assert seen >= 0.95 * planned, (seen, c.stderr())
    assert seen <= planned
    # What the dead agent sent after its last report cannot be in the totals; nothing else is missing.
    assert 0 <= seen - final["requests_total"] <= 15, (seen, final["requests_total"])
    assert final["elapsed_secs"] <= 20 + 3, "the run waited for the dead agent"
    rows = agent_rows(final)
    assert rows["agent-3"]["state"] in ("lost", "timed_out")
    assert all(rows[f"agent-{i}"]["state"] == "done" for i in range(3)), rows
    assert "agent-3 silent for" in c.stderr() and " to agent-" in c.stderr(), c.stderr()


def test_an_agent_frozen_for_20_s_times_out_rejoins_and_never_doubles_the_load(broker, target_server, agents,
                                                                                 coordinators):
    # 3 agents, 30 rps for 32 s: 960 iterations. agent-1 is frozen (SIGSTOP) 4 s in and
    # thawed 20 s later: it is suspect after 3 s (its slot moves), timed out after 15 s,
    # and rejoins when it reports that its lease ran out; its slot comes back by release.
    frozen = None
    for i in range(3):
        p = agents(broker.agent_url, f"agent-{i}")
        if i == 1:
            frozen = p
    c = coordinators(plan_for(target_server.url, rps=30, duration=32), "--external-agents", "3",
                     *broker.coordinator_args())
    snapshot_at(c, 4, 40)

    frozen.signal(signal.SIGSTOP)
    time.sleep(20)
    frozen.signal(signal.SIGCONT)

    assert c.wait(RUN_BOUND_S) == 0, c.stderr()
    planned = 960
    seen = target_total(target_server)
    final = c.final
    assert seen <= planned, "some iterations were fired twice"
    assert seen == final["requests_total"]
    assert seen >= 0.95 * planned, (seen, c.stderr())
    states = [agent_rows(s)["agent-1"]["state"] for s in c.snapshots]
    assert "timed_out" in states
    assert "rejoined" in states[states.index("timed_out"):]
    assert agent_rows(final)["agent-1"]["state"] == "done"
    assert "agent-1 timed out" in c.stderr() and "agent-1 rejoined" in c.stderr()
    assert "paused (lease expired)" in frozen.stderr()
