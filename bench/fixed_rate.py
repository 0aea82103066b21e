#!/usr/bin/python3
"""Fixed-rate cost: LoadPilot (`loadpilot-coordinator`, one engine thread) and `hey`
(`-cpus 1`) at the same open-loop rates, on the same nginx, in the same run, alternated.

    /usr/bin/python3 bench/fixed_rate.py [--rates 2000 10000 20000] [--duration 10]
        [--rounds 3] [--conns 64] [--bin build/bin] [--port PORT --nginx-pid PID]
        [--json out.json] [--markdown out.md]

For every run: CPU from `perf stat -e task-clock` (the tool's threads, user + kernel),
the tool pinned to CPU 1 and nginx to CPU 0 (taskset), nginx's stub_status count
before and after (the count that matters), the tool's own count and latency
percentiles, LoadPilot's send lag (due time -> handed to the socket, for the iterations
sent on time or late) and how many it sent ahead (by at most 100 µs), the busy time of
the tool's CPU from /proc/stat (whatever ran there, interrupts included: work that
task-clock does not charge to the tool shows here) and the load average. The rounds
alternate LoadPilot and hey at each rate so background noise hits both alike; the
tables give medians with the range of the rounds.

Without --port, a private nginx (1 worker, 23-byte JSON, keep-alive) is started in a
temp dir on a free port and stopped by its pid. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

from bench_nginx import served, start_nginx

ROOT = pathlib.Path(__file__).resolve().parents[1]
NGINX_CPU = 0  # where start_nginx() pins its nginx


def cpu_busy_secs(cpu: int) -> float:
    """Busy time of one CPU (user nice system irq softirq steal), seconds."""
    hz = os.sysconf("SC_CLK_TCK")
    for line in pathlib.Path("/proc/stat").read_text().splitlines():
        f = line.split()
        if f[0] == f"cpu{cpu}":
            return (int(f[1]) + int(f[2]) + int(f[3]) + int(f[6]) + int(f[7]) + int(f[8])) / hz
    return float("nan")


def task_clock_ms(path: pathlib.Path) -> float:
    for line in path.read_text().splitlines():
        f = line.split(",")
        if len(f) > 2 and f[2].startswith("task-clock"):
            return float(f[0])
    raise SystemExit(f"no task-clock in {path}: {path.read_text()[-500:]}")


def parse_hey(out: str) -> dict:
    ok = sum(int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out) if code == "200")
    bad = sum(int(n) for code, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out) if code != "200")
    pct = {p: float(v) * 1000 for p, v in re.findall(r"\s(\d+)%% in ([\d.]+) secs".replace("%%", "%"), out)}
    return {"requests": ok, "errors": bad, "p50_ms": pct.get("50"), "p99_ms": pct.get("99")}


def run_one(tool: str, rate: float, args, port: int, tmp: pathlib.Path) -> dict:
    url = f"http://127.0.0.1:{port}"
    stat = tmp / "perf.csv"
    if tool != "hey":
        plan = {"name": "fixed-rate", "rps": rate, "duration_secs": args.duration, "ramp_up_secs": 0,
                "mode": "constant", "target_url": url, "tasks": [{"name": "user", "url": "/api/user"}],
                "threads": 1, "max_connections": args.conns}
        plan_file = tmp / "plan.json"
        plan_file.write_text(json.dumps(plan))
        cmd = [str(pathlib.Path(args.bins[tool]) / "loadpilot-coordinator"), "--plan", str(plan_file)]
    else:
        per_worker = rate / args.conns
        cmd = ["hey", "-cpus", "1", "-c", str(args.conns), "-q", f"{per_worker:g}", "-z", f"{args.duration:g}s",
               f"{url}/api/user"]
    full = ["taskset", "-c", str(args.tool_cpu), "perf", "stat", "-x,", "-e", "task-clock", "-o", str(stat), "--", *cmd]
    load = os.getloadavg()[0]
    before, busy0 = served(port), cpu_busy_secs(args.tool_cpu)
    p = subprocess.run(full, capture_output=True, text=True, timeout=args.duration + 60)
    busy1, after = cpu_busy_secs(args.tool_cpu), served(port)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(full)} failed ({p.returncode}): {p.stderr[-2000:]}")
    r = {"tool": tool, "rate": rate, "cmd": " ".join(cmd), "load": load, "nginx": after - before - 1,
         "cpu_ms": task_clock_ms(stat), "cpu1_busy_s": busy1 - busy0}
    if tool != "hey":
        final = json.loads(p.stdout.strip().splitlines()[-1])
        r.update(requests=final["requests_total"], errors=final["errors_total"], dropped=final["dropped"],
                 late=final["late"], p50_ms=final["latency"]["p50_ms"], p99_ms=final["latency"]["p99_ms"],
                 service_p50_ms=final["service_latency"]["p50_ms"], service_p99_ms=final["service_latency"]["p99_ms"])
        lag = final.get("send_lag", {})
        r.update(lag_p50_us=lag.get("p50_ms", 0) * 1000, lag_p99_us=lag.get("p99_ms", 0) * 1000,
                 lag_max_us=lag.get("max_ms", 0) * 1000, lag_count=lag.get("count", 0))
        # Sent ahead of their due time (sharing an earlier send's wake-up): how many, how early.
        early = final.get("send_early", {})
        r.update(early_share=early.get("count", 0) / max(1, early.get("count", 0) + lag.get("count", 0)),
                 early_max_us=early.get("max_ms", 0) * 1000)
    else:
        r.update(parse_hey(p.stdout))
    r["us_per_request"] = 1000 * r["cpu_ms"] / max(1, r["nginx"])
    return r


def med(rs: list[dict], key: str) -> str:
    vals = [r[key] for r in rs if r.get(key) is not None]
    if not vals:
        return "n/a"
    m = statistics.median(vals)
    fmt = (lambda v: f"{v:,.0f}") if m >= 100 else (lambda v: f"{v:.1f}") if m >= 1 else (lambda v: f"{v:.3f}")
    return fmt(m) if len(vals) == 1 else f"{fmt(m)} ({fmt(min(vals))}–{fmt(max(vals))})"


def markdown(results: list[dict], args) -> str:
    lines = [f"Fixed rate: {args.duration:g} s per run, {args.rounds} rounds alternating LoadPilot and hey at each "
             f"rate, tool on CPU {args.tool_cpu}, nginx on its own CPU, {args.conns} connections at most; "
             "medians (range). CPU = `perf stat -e task-clock` of the tool; µs/request = CPU / nginx's count.", "",
             "| rate | tool | achieved rps (nginx) | = tool's count | CPU µs / request | ratio to hey | tool CPU busy s "
             "| send lag p50 / p99 / max µs | sent early: share, max µs | latency p50 / p99 ms | service p50 / p99 ms "
             "| load avg |",
             "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for rate in args.rates:
        hey = [r for r in results if r["rate"] == rate and r["tool"] == "hey"]
        hey_us = statistics.median(r["us_per_request"] for r in hey) if hey else None
        for tool in args.tools:
            rs = [r for r in results if r["rate"] == rate and r["tool"] == tool]
            if not rs:
                continue
            for r in rs:
                r["achieved"] = r["nginx"] / args.duration
            same = "yes" if all(r["requests"] == r["nginx"] for r in rs) else \
                "no (" + ", ".join(f"{r['requests']}/{r['nginx']}" for r in rs) + ")"
            ours = statistics.median(r["us_per_request"] for r in rs)
            ratio = f"{ours / hey_us:.2f}" if hey_us else "n/a"
            lag = (f"{med(rs, 'lag_p50_us')} / {med(rs, 'lag_p99_us')} / {med(rs, 'lag_max_us')}"
                   if tool != "hey" else "—")
            service = f"{med(rs, 'service_p50_ms')} / {med(rs, 'service_p99_ms')}" if tool != "hey" else "—"
            early = (f"{statistics.median(r['early_share'] for r in rs):.0%}, {med(rs, 'early_max_us')}"
                     if tool != "hey" else "—")
            lines.append(f"| {rate:,.0f} | {tool} | {med(rs, 'achieved')} | {same} | {med(rs, 'us_per_request')} | "
                         f"{ratio} | {med(rs, 'cpu1_busy_s')} | {lag} | {early} | {med(rs, 'p50_ms')} / {med(rs, 'p99_ms')} | "
                         f"{service} | {med(rs, 'load')} |")
    lines += ["", "Commands (each as `taskset -c 1 perf stat -x, -e task-clock -o FILE -- CMD`; LoadPilot's plan: "
              f"`{{\"rps\": RATE, \"duration_secs\": {args.duration:g}, \"mode\": \"constant\", \"threads\": 1, "
              f"\"max_connections\": {args.conns}, \"tasks\": [{{\"name\": \"user\", \"url\": \"/api/user\"}}], ...}}`):", ""]
    seen = set()
    for r in results:
        key = (r["tool"], r["rate"])
        if key not in seen:
            seen.add(key)
            lines.append(f"- {r['tool']} {r['rate']:,.0f} rps: `{r['cmd']}`")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", type=float, nargs="+", default=[2000, 10000, 20000])
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--tool-cpu", type=int, default=1, help="CPU the tools are pinned to (nginx: CPU 0 when started here)")
    ap.add_argument("--tools", nargs="+", default=["loadpilot", "hey"])
    ap.add_argument("--bin", default=str(ROOT / "build" / "bin"))
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=BIN_DIR",
                    help="another loadpilot-coordinator to run as tool NAME (A/B of engine changes)")
    ap.add_argument("--port", type=int, help="an nginx already running (bench/run.sh's); default: start one")
    ap.add_argument("--json", help="write every run's figures here")
    ap.add_argument("--markdown", help="write the table here (it is printed too)")
    args = ap.parse_args()
    args.bins = {"loadpilot": args.bin}
    for v in args.variant:
        name, _, path = v.partition("=")
        if not name or not path or name == "hey":
            raise SystemExit(f"fixed_rate: --variant wants NAME=BIN_DIR, got {v!r}")
        args.bins[name] = path
    for tool in args.tools:
        if tool != "hey" and tool not in args.bins:
            raise SystemExit(f"fixed_rate: unknown tool {tool!r} (hey, loadpilot or a --variant NAME)")
    for tool in ("taskset", "perf") + (("hey",) if "hey" in args.tools else ()):
        if shutil.which(tool) is None:
            raise SystemExit(f"fixed_rate: {tool} not found (scripts/install-deps.sh with LOADPILOT_BENCH_DEPS=1)")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="lp-fixed-rate-"))
    nginx = None
    try:
        port = args.port
        if port is None:
            nginx, port = start_nginx(tmp, NGINX_CPU)
        results = []
        for rnd in range(args.rounds):
            for rate in args.rates:
                order = args.tools if rnd % 2 == 0 else list(reversed(args.tools))
                for tool in order:
                    time.sleep(1)  # the previous run's sockets close
                    r = run_one(tool, rate, args, port, tmp)
                    r["round"] = rnd
                    results.append(r)
                    print(f"fixed_rate: round {rnd} {tool} {rate:g} rps: {r['nginx']} requests, "
                          f"{r['us_per_request']:.1f} µs/request, load {r['load']:.1f}", flush=True)
        text = markdown(results, args)
        print(text)
        if args.markdown:
            pathlib.Path(args.markdown).write_text(text)
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGTERM)
            nginx.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
