#!/usr/bin/python3
"""Distributed mode's overhead: the same plan, the same rate, on the same private nginx,
run locally (`loadpilot-coordinator`) and through two local agents
(`loadpilot-coordinator --agents 2`: embedded broker, clock sync, shards, leases,
stats every second, aggregation). Reports the total CPU of each (user + sys from
/usr/bin/time, which includes the agents: the coordinator reaps them) and the ratio.

    /usr/bin/python3 bench/distributed_overhead.py [--rate 2000] [--duration 10] [--runs 2]

Loopback only; nginx is started in a temp dir on a free port and stopped by its pid.
Runs alternate (local, agents, local, agents, ...) so background noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

from bench_nginx import served, start_nginx

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(bin_dir: pathlib.Path, plan: dict, extra: list[str], port: int, tmp: pathlib.Path) -> dict:
    timing = tmp / "time.txt"
    before = served(port)
    cmd = ["/usr/bin/time", "-f", "%U %S %e", "-o", str(timing), str(bin_dir / "loadpilot-coordinator"), *extra]
    p = subprocess.run(cmd, input=json.dumps(plan), capture_output=True, text=True, timeout=plan["duration_secs"] + 120)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    user, sys_, wall = map(float, timing.read_text().split()[-3:])
    final = json.loads(p.stdout.strip().splitlines()[-1])
    return {"requests": final["requests_total"], "nginx": served(port) - before - 1, "cpu": user + sys_,
            "wall": wall, "dropped": final["dropped"], "p99_ms": final["latency"]["p99_ms"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--bin", default=str(ROOT / "build" / "bin"))
    args = ap.parse_args()
    bin_dir = pathlib.Path(args.bin)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="lp-dist-bench-"))
    nginx, port = start_nginx(tmp)
    try:
        plan = {"name": "overhead", "rps": args.rate, "duration_secs": args.duration, "ramp_up_secs": 0,
                "mode": "constant", "target_url": f"http://127.0.0.1:{port}",
                "tasks": [{"name": "user", "url": "/api/user"}], "threads": 1, "max_connections": 64}
        results: dict[str, list[dict]] = {"local": [], "--agents 2": []}
        for _ in range(args.runs):
            results["local"].append(run(bin_dir, plan, [], port, tmp))
            time.sleep(1)
            results["--agents 2"].append(run(bin_dir, plan, ["--agents", "2"], port, tmp))
            time.sleep(1)
        load = os.getloadavg()[0]
        print(f"{args.rate:g} rps for {args.duration:g} s, 1 engine thread per process, nginx on loopback; "
              f"{args.runs} runs each, alternating; load average {load:.1f} at the end\n")
        print("| mode | requests | = nginx | dropped | p99 ms | CPU s (median) | CPU µs / request |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        medians = {}
        for mode, rs in results.items():
            cpu = statistics.median(r["cpu"] for r in rs)
            reqs = statistics.median(r["requests"] for r in rs)
            medians[mode] = cpu
            same = all(r["requests"] == r["nginx"] for r in rs)
            each = ", ".join(f"{r['cpu']:.2f}" for r in rs)
            p99 = statistics.median(r["p99_ms"] for r in rs)
            dropped = max(r["dropped"] for r in rs)
            print(f"| {mode} | {int(reqs):,} | {'yes' if same else 'NO'} | {dropped} | {p99:.3f} | {cpu:.2f} ({each}) | "
                  f"{1e6 * cpu / reqs:.1f} |")
        print(f"\ntotal CPU ratio, --agents 2 / local: {medians['--agents 2'] / medians['local']:.2f}")
    finally:
        nginx.send_signal(signal.SIGTERM)
        nginx.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
