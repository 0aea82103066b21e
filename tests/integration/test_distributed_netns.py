"""Agents on "other machines": each agent runs in a network namespace of its own
(ip netns + a veth pair on a bridge this test creates, with addresses it assigns) and
reaches the broker on a non-loopback address, as an agent on another host would. Each
namespace has its own loadpilot-target on its own loopback (127.0.0.1 there), so the
load never leaves 127.0.0.0/8; only the control traffic crosses the veths.

Skipped, with the reason, where the machine does not allow namespaces (not root, no
`ip`, no CAP_SYS_ADMIN in a container)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import binary
from distributed_support import *  # noqa: F401,F403 (fixtures too)
from distributed_support import NATS_SERVER, Proc, agent_rows, free_port, plan_for, wait_for

SUFFIX = f"{os.getpid() % 100000}"
BRIDGE = f"lpbr{SUFFIX}"
SUBNET = "10.251.{}.{}"  # 10.251.<n>.1 the host side, .2 and .3 the agents
RUN_BOUND_S = 90


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = (["ip", "netns", "exec", netns] if netns else []) + ["ip", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=check)


def in_netns(netns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", netns, *cmd]


@pytest.fixture(scope="module")
def network():
    """A bridge on the host (10.251.N.1/24) and two namespaces plugged into it (.2, .3).
    Deleted at the end, whatever happened."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (this test creates and deletes them)")
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is not installed")
    octet = os.getpid() % 200 + 20
    names = [f"lp{SUFFIX}a{i}" for i in range(2)]
    created: list[str] = []
    try:
        probe = ip("netns", "add", names[0], check=False)
        if probe.returncode != 0:
            pytest.skip(f"cannot create a network namespace here: {probe.stderr.strip()}")
        created.append(names[0])
        ip("netns", "add", names[1])
        created.append(names[1])
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", SUBNET.format(octet, 1) + "/24", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        for i, ns in enumerate(names):
            host_end, ns_end = f"lpv{SUFFIX}h{i}", f"lpv{SUFFIX}n{i}"
            ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            ip("link", "set", host_end, "master", BRIDGE)
            ip("link", "set", host_end, "up")
            ip("link", "set", ns_end, "netns", ns)
            ip("addr", "add", SUBNET.format(octet, 2 + i) + "/24", "dev", ns_end, netns=ns)
            ip("link", "set", ns_end, "up", netns=ns)
            ip("link", "set", "lo", "up", netns=ns)
        yield {"host": SUBNET.format(octet, 1), "namespaces": names}
    finally:
        for ns in created:
            ip("netns", "delete", ns, check=False)  # takes its veth end, and so the pair, with it
        ip("link", "delete", BRIDGE, check=False)


def start_target_in(ns: str, port: int) -> Proc:
    p = Proc(in_netns(ns, str(binary("loadpilot-target")), "--port", str(port)))
    wait_for(lambda: subprocess.run(in_netns(ns, "/usr/bin/python3", "-c",
                                             f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)"),
                                    capture_output=True).returncode == 0, 15, f"loadpilot-target in {ns}")
    return p


def total_in(ns: str, port: int) -> int:
    out = subprocess.run(in_netns(ns, "/usr/bin/python3", "-c",
                                  "import json, urllib.request; "
                                  f"print(json.load(urllib.request.urlopen('http://127.0.0.1:{port}/__stats'))['total'])"),
                         capture_output=True, text=True, timeout=15, check=True).stdout
    return int(out)


@pytest.mark.parametrize("kind", ["embedded", "nats-server"])
def test_agents_in_their_own_network_namespaces_reach_the_broker_and_fire_their_share(kind, network, coordinators):
    host = network["host"]
    port = free_port()
    target_port = free_port()
    targets = [start_target_in(ns, target_port) for ns in network["namespaces"]]
    server = None
    agents = []
    try:
        if kind == "embedded":
            broker_args = ["--broker-addr", f"{host}:{port}", "--nats-token", "netns-secret"]
            url = f"{host}:{port}"
        else:
            server = Proc([NATS_SERVER, "-a", host, "-p", str(port), "--auth", "netns-secret"])
            wait_for(lambda: subprocess.run(["/usr/bin/python3", "-c",
                                             f"import socket; socket.create_connection(('{host}', {port}), 1)"],
                                            capture_output=True).returncode == 0, 15, "nats-server on the bridge")
            broker_args = ["--nats-url", f"nats://{host}:{port}", "--nats-token", "netns-secret"]
            url = f"nats://{host}:{port}"
        c = coordinators(plan_for(f"http://127.0.0.1:{target_port}", rps=40, duration=3), "--external-agents", "2",
                         *broker_args)
        for i, ns in enumerate(network["namespaces"]):
            agents.append(Proc(in_netns(ns, str(binary("loadpilot-agent")), "--coordinator", url, "--agent-id",
                                        f"remote-{i}"), env={"NATS_TOKEN": "netns-secret"}))

        assert c.wait(RUN_BOUND_S) == 0, c.stderr() + "".join(a.stderr() for a in agents)

        counted = [total_in(ns, target_port) for ns in network["namespaces"]]
        rows = agent_rows(c.final)
        assert sum(counted) == c.final["requests_total"] == 120
        assert counted == [rows["remote-0"]["requests"], rows["remote-1"]["requests"]] == [60, 60]
        assert f"connected to NATS at nats://{host}:{port}" in agents[0].stderr()
    finally:
        for p in agents + targets + ([server] if server else []):
            p.stop(timeout=5)
            p.close()
