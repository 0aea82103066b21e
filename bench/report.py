"""Builds the Markdown report of bench/run.sh from its per-run records.

Usage (called by run.sh, with Debian's /usr/bin/python3):
    report.py RUNS_TSV REPORT_MD [RAW_JSON [STARTUP_JSON]]

RUNS_TSV has one tab-separated line per tool run (see run_one in run.sh):
    test label kind conns target rc user sys rss_kb wall req_srv ngx_cpu
    other_cpu out err plan cmd
The tool's own output files (out/err) are parsed here; for kind "lprun"
(`loadpilot run scenario.py`) plan is the scenario file and the figures come from
its --results-json file (the same path ending in .json). STARTUP_JSON is the
output of run.sh's startup.py (wall/CPU ms of each timed --dry-run). Host facts
come from BENCH_* environment variables set by run.sh. Standard library only.
"""
import json
import math
import os
import re
import sys

FIELDS = ("test label kind conns target rc user sys rss_kb wall req_srv "
          "ngx_cpu other_cpu out err plan cmd").split()
NAN = float("nan")


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return NAN


def ok(v):
    return isinstance(v, (int, float)) and not math.isnan(v)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def to_ms(v):
    """wrk durations: '1.23ms', '456.78us', '1.20s', '2.00m' -> ms."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v or "")
    if not m:
        return NAN
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


# ------------------------------------------------------------- parsers -----
def parse_loadpilot(out, err):
    done = last = None
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            snap = json.loads(line)
        except ValueError:
            continue
        last = snap
        if snap.get("phase") == "done":
            done = snap
    snap = done or last or {}
    lat = snap.get("latency") or {}
    svc = snap.get("service_latency") or {}
    req = num(snap.get("requests_total"))
    elapsed = num(snap.get("elapsed_secs"))
    return {
        "requests": req,
        "rps": req / elapsed if ok(req) and ok(elapsed) and elapsed > 0 else NAN,
        "elapsed": elapsed,
        "errors": num(snap.get("errors_total")),
        "late": num(snap.get("late")),
        "dropped": num(snap.get("dropped")),
        "current_rps": num(snap.get("current_rps")),
        "p50": num(lat.get("p50_ms")), "p99": num(lat.get("p99_ms")),
        "svc_p50": num(svc.get("p50_ms")), "svc_p99": num(svc.get("p99_ms")),
        "complete": done is not None,
    }


def parse_wrk(out, err):
    r = {"requests": NAN, "rps": NAN, "errors": 0.0, "p50": NAN, "p99": NAN}
    m = re.search(r"^\s*(\d+) requests in ", out, re.M)
    if m:
        r["requests"] = float(m.group(1))
    m = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        r["errors"] += float(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["errors"] += sum(float(g) for g in m.groups())
    m = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    if m:
        r["p50"] = to_ms(m.group(1))
    m = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if m:
        r["p99"] = to_ms(m.group(1))
    r["complete"] = ok(r["requests"])
    return r


def parse_hey(out, err):
    r = {"requests": NAN, "rps": NAN, "errors": 0.0, "p50": NAN, "p99": NAN}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        r["rps"] = float(m.group(1))
    good = bad = 0
    sect = None
    for line in out.splitlines():
        if "Status code distribution:" in line:
            sect = "status"
            continue
        if "Error distribution:" in line:
            sect = "errors"
            continue
        if sect == "status":
            m = re.match(r"\s*\[(\d+)\]\s+(\d+) responses", line)
            if m:
                if m.group(1) == "200":
                    good += int(m.group(2))
                else:
                    bad += int(m.group(2))
        elif sect == "errors":
            m = re.match(r"\s*\[(\d+)\]\s", line)
            if m:
                bad += int(m.group(1))
    if ok(r["rps"]):
        r["requests"] = float(good)
    r["errors"] = float(bad)
    m = re.search(r"^\s+50% in ([\d.]+) secs", out, re.M)
    if m:
        r["p50"] = float(m.group(1)) * 1e3
    m = re.search(r"^\s+99% in ([\d.]+) secs", out, re.M)
    if m:
        r["p99"] = float(m.group(1)) * 1e3
    r["complete"] = ok(r["rps"])
    return r


def parse_locust(out, err):
    # the final summary printed at exit (stats table, then percentiles table)
    r = {"requests": NAN, "rps": NAN, "errors": NAN, "p50": NAN, "p99": NAN}
    seen_stats = False
    for line in (out + "\n" + err).splitlines():
        f = line.split()
        if not f or f[0] != "Aggregated":
            continue
        if "|" in line and not seen_stats:
            seen_stats = True
            r["requests"] = num(f[1])
            r["errors"] = num(f[2].split("(")[0])
            r["rps"] = num(line.split("|")[-1].split()[0])
        elif "|" not in line and seen_stats and len(f) > 8:
            r["p50"], r["p99"] = num(f[1]), num(f[8])
    r["complete"] = ok(r["requests"])
    return r


def parse_lprun(results_json):
    """`loadpilot run --results-json` document."""
    try:
        doc = json.loads(results_json)
    except ValueError:
        doc = {}
    lat = doc.get("latency") or {}
    svc = doc.get("service_latency") or {}
    return {
        "requests": num(doc.get("requests_total")),
        "errors": num(doc.get("errors_total")),
        "late": num(doc.get("late")),
        "dropped": num(doc.get("dropped")),
        "rps": num(doc.get("rps_actual")),
        "elapsed": num(doc.get("duration_secs")),
        "p50": num(lat.get("p50_ms")), "p99": num(lat.get("p99_ms")),
        "svc_p50": num(svc.get("p50_ms")), "svc_p99": num(svc.get("p99_ms")),
        "mode": doc.get("mode") or "n/a",
        "errors_by_kind": {k: v for k, v in (doc.get("errors_by_kind") or {}).items() if v},
        "check_failures": doc.get("check_failures") or [],
        "complete": "requests_total" in doc,
    }


PARSERS = {"loadpilot": parse_loadpilot, "wrk": parse_wrk, "hey": parse_hey,
           "locust": parse_locust}


# ------------------------------------------------------------ formatting ---
def fmt(v, nd=0, pct=False):
    if not ok(v):
        return "n/a"
    s = f"{v:,.{nd}f}"
    return s + " %" if pct else s


def load_runs(path, dur):
    runs = []
    for line in read(path).splitlines():
        parts = line.split("\t")
        if len(parts) != len(FIELDS):
            continue
        r = dict(zip(FIELDS, parts))
        for k in ("conns", "rc", "user", "sys", "rss_kb", "wall", "req_srv", "ngx_cpu", "other_cpu"):
            r[k] = num(r[k])
        if r["kind"] == "lprun":
            r.update(parse_lprun(read(re.sub(r"\.py$", ".json", r["plan"]))))
            r["scenario"] = read(r["plan"]).strip()
            r["plan_json"] = ""
        else:
            parsed = PARSERS.get(r["kind"], lambda o, e: {})(read(r["out"]), read(r["err"]))
            r.update(parsed)
            r["plan_json"] = read(r["plan"]).strip() if r["plan"] != "-" else ""
        r["cpu"] = r["user"] + r["sys"]
        r["cpu_pct"] = 100 * r["cpu"] / r["wall"] if ok(r["wall"]) and r["wall"] > 0 else NAN
        r["sys_share"] = 100 * r["sys"] / r["cpu"] if ok(r["cpu"]) and r["cpu"] > 0 else NAN
        r["req_per_cpu"] = r["requests"] / r["cpu"] if ok(r["cpu"]) and r["cpu"] > 0 else NAN
        r["rss_mib"] = r["rss_kb"] / 1024
        # one definition of req/s for every tool: requests / configured duration
        # (the tools' own figures use different windows; Locust's is a moving
        # "current" rate). The tool's own figure stays in the JSON as tool_rps.
        r["tool_rps"] = r.get("rps", NAN)
        r["rps"] = r["requests"] / dur if ok(r["requests"]) and ok(dur) and dur > 0 else NAN
        runs.append(r)
    return runs


def div(a, b):
    return a / b if ok(a) and ok(b) and b > 0 else NAN


def goal(v, target):
    if not ok(v):
        return "n/a"
    return f"{v:.2f}x (goal >= {target:g}x: {'met' if v >= target else 'NOT met'})"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if not n:
        return NAN
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def failed(r):
    """Suffix for a run's name when it did not end cleanly."""
    if r.get("complete") and r["rc"] == 0:
        return ""
    return f" (exit {fmt(r['rc'])}{', incomplete output' if not r.get('complete') else ''})"


def main():
    runs_tsv, report_md = sys.argv[1], sys.argv[2]
    raw_json = sys.argv[3] if len(sys.argv) > 3 else ""
    startup_json = sys.argv[4] if len(sys.argv) > 4 else ""
    e = os.environ.get
    dur = num(e("BENCH_DURATION"))
    runs = load_runs(runs_tsv, dur)

    names = {"loadpilot": "LoadPilot", "wrk": "wrk", "hey": "hey",
             "locust": "Locust (FastHttpUser)"}
    wrk_eff = {r["conns"]: r["req_per_cpu"] for r in runs if r["test"] == "max" and r["kind"] == "wrk"}

    L = []
    w = L.append
    w(f"# LoadPilot benchmark {e('BENCH_START', '')}")
    w("")
    w(f"- Host: {e('BENCH_NCPU')} CPUs ({e('BENCH_CPU')}), kernel {e('BENCH_KERNEL')}, "
      f"load average {e('BENCH_LOAD_START')} at start, {e('BENCH_LOAD_END')} at end.")
    w(f"- Target: nginx {e('BENCH_NGINX')}, 1 worker, `{e('BENCH_URL')}` "
      "(fixed 23-byte JSON body, keep-alive), loopback only.")
    w(f"- Pinning: {e('BENCH_PIN')}. {fmt(dur)} s per run, "
      f"whole benchmark {e('BENCH_ELAPSED')} s.")
    w(f"- LoadPilot: `{e('BENCH_COORD')}` (source {e('BENCH_REV')}); "
      f"wrk {e('BENCH_WRK') or 'n/a'}, hey {e('BENCH_HEY') or 'n/a'}, "
      f"locust {e('BENCH_LOCUST') or 'not installed'}.")
    w("- CPU s = tool user+sys (`/usr/bin/time`); CPU % = CPU s / wall (100 % = one core); "
      "sys % = sys / (user+sys); req/s = tool-counted requests / duration; req/CPU-s = tool-counted requests / CPU s; "
      "vs wrk = req/CPU-s / wrk's at the same connection count; "
      "nginx req = server-side stub_status delta; other CPU s = machine busy time "
      "not from the tool or nginx (background noise, all CPUs).")
    noise = sorted(r["other_cpu"] / r["wall"] for r in runs
                   if ok(r["other_cpu"]) and ok(r["wall"]) and r["wall"] > 0)
    if noise and noise[len(noise) // 2] > 0.25:
        w(f"- **Noisy machine:** other processes used a median {noise[len(noise) // 2]:.2f} "
          "cores during the runs, so absolute req/s and CPU % are understated; "
          "req/CPU-s ratios are the more robust figures. Re-run on an idle machine for reference numbers.")
    w("")

    # ---- max throughput
    mx = [r for r in runs if r["test"] == "max"]
    w(f"## 1. Max throughput (1 thread, {fmt(dur)} s)")
    w("")
    w("| tool | conns | requests | req/s | nginx req | errors | CPU s | CPU % | sys % "
      "| req/CPU-s | vs wrk | peak RSS MiB | nginx CPU s | other CPU s |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = {"loadpilot": 0, "wrk": 1, "hey": 2, "locust": 3}
    for r in sorted(mx, key=lambda r: (-r["conns"], order.get(r["kind"], 9))):
        ref = wrk_eff.get(r["conns"], NAN)
        ratio = r["req_per_cpu"] / ref if ok(ref) and ref > 0 else NAN
        name = names.get(r["kind"], r["label"])
        if not r.get("complete") or r["rc"] != 0:
            name += f" (exit {fmt(r['rc'])}{', incomplete output' if not r.get('complete') else ''})"
        w(f"| {name} | {fmt(r['conns'])} | {fmt(r['requests'])} | {fmt(r['rps'])} "
          f"| {fmt(r['req_srv'])} | {fmt(r['errors'])} | {fmt(r['cpu'], 2)} | {fmt(r['cpu_pct'])} "
          f"| {fmt(r['sys_share'])} | {fmt(r['req_per_cpu'])} | {fmt(ratio, 2)} "
          f"| {fmt(r['rss_mib'], 1)} | {fmt(r['ngx_cpu'], 2)} | {fmt(r['other_cpu'], 2)} |")
    lp = {r["conns"]: r for r in mx if r["kind"] == "loadpilot"}
    summary = []
    for c in sorted(lp, reverse=True):
        ref = wrk_eff.get(c, NAN)
        if ok(ref) and ref > 0 and ok(lp[c]["req_per_cpu"]):
            summary.append(f"{lp[c]['req_per_cpu'] / ref:.2f}x wrk at {c:.0f} connections")
    if summary:
        w("")
        w("LoadPilot requests per CPU-second: " + ", ".join(summary) + ".")
    w("")

    # ---- precision
    rt = [r for r in runs if r["test"] == "rate"]
    w(f"## 2. Precision: LoadPilot at a fixed rate (1 thread, {fmt(dur)} s)")
    w("")
    w("| target req/s | conns | achieved req/s | error | requests | nginx req | errors | late | dropped "
      "| p50 ms | p99 ms | service p50 ms | service p99 ms | CPU s | CPU % | peak RSS MiB | other CPU s |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(rt, key=lambda r: num(r["target"])):
        tgt = num(r["target"])
        ach = r["requests"] / dur if ok(r["requests"]) and ok(dur) and dur > 0 else NAN
        err = 100 * (ach - tgt) / tgt if ok(ach) and ok(tgt) and tgt > 0 else NAN
        r["achieved_rps"], r["rate_error_pct"] = ach, err
        t = fmt(tgt)
        if not r.get("complete") or r["rc"] != 0:
            t += f" (exit {fmt(r['rc'])}{', incomplete output' if not r.get('complete') else ''})"
        w(f"| {t} | {fmt(r['conns'])} | {fmt(ach, 1)} | {'n/a' if not ok(err) else f'{err:+.2f} %'} "
          f"| {fmt(r['requests'])} | {fmt(r['req_srv'])} | {fmt(r['errors'])} | {fmt(r['late'])} "
          f"| {fmt(r['dropped'])} | {fmt(r['p50'], 3)} | {fmt(r['p99'], 3)} | {fmt(r['svc_p50'], 3)} "
          f"| {fmt(r['svc_p99'], 3)} | {fmt(r['cpu'], 2)} | {fmt(r['cpu_pct'], 1)} "
          f"| {fmt(r['rss_mib'], 1)} | {fmt(r['other_cpu'], 2)} |")
    w("")
    w("achieved req/s = requests_total / duration; error = (achieved - target) / target; "
      "latency is measured from the scheduled send time, service latency from the actual send; "
      "late = sent >= 10 ms after the due time, dropped = never sent (waited over 1 s for a connection, or the profile ended first). "
      "The highest-rate row is the memory figure.")
    w("")

    # ---- Python mode vs static mode
    lpname = {"lp-static": "LoadPilot static.py", "lp-python": "LoadPilot pymode.py"}
    pysum = {}

    def pyrow_name(r):
        if r["kind"] == "lprun":
            return lpname.get(r["label"], r["label"]) + failed(r)
        if r["kind"] == "locust":
            return f"Locust (FastHttpUser, {r['conns']:.0f} users)" + failed(r)
        return f"LoadPilot coordinator (plan, 1 thread, {r['conns']:.0f} conns)" + failed(r)

    def pick(test, label, conns=None):
        for r in runs:
            if r["test"] == test and r["label"] == label and (conns is None or r["conns"] == conns):
                return r
        return None

    pm_static, pm_py = pick("pymax", "lp-static"), pick("pymax", "lp-python")
    mx_locust = next((r for r in sorted(mx, key=lambda r: -r["conns"]) if r["kind"] == "locust"), None)
    mx_coord = next((r for r in sorted(mx, key=lambda r: -r["conns"]) if r["kind"] == "loadpilot"), None)
    pr_static, pr_py, pr_locust = pick("pyrate", "lp-static"), pick("pyrate", "lp-python"), pick("pyrate", "locust")
    if any((pm_static, pm_py, pr_static, pr_py, pr_locust)):
        eff = lambda r: r["req_per_cpu"] if r else NAN
        w(f"## 3. Python mode vs static mode (`loadpilot run`, {fmt(dur)} s)")
        w("")
        w("`loadpilot run FILE --target URL --results-json OUT.json` on two generated scenario files "
          "(sources under Commands): `static.py`, one `@task` doing `client.get(\"/api/user\")`, runs on the C++ "
          "engine from the plan (static mode); `pymode.py`, the same task plus `on_start` and `check_user`, "
          "runs in Python mode (virtual users as greenlets execute the task bodies and the check; HTTP "
          "through the engine). Both use `loadpilot run`'s defaults: static mode "
          f"{e('BENCH_NCPU')} engine threads (one per online CPU, all on the tool CPU) and up to 1,024 "
          "connections; Python mode one thread and up to 1,000 virtual users. mode = the results JSON's `mode`. "
          "Figures come from the results JSON; CPU s includes the CLI's start-up (Python start and scenario "
          "capture, see section 4).")
        w("")
        w(f"### 3a. Max throughput (scenario rps={fmt(num(e('BENCH_PY_MAX_RPS')))}; the excess is counted as dropped)")
        w("")
        w("| run | mode | requests | req/s | nginx req | errors | dropped | CPU s | CPU % | sys % "
          "| req/CPU-s | vs static.py | peak RSS MiB | other CPU s |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in (pm_static, pm_py, mx_locust, mx_coord):
            if not r:
                continue
            w(f"| {pyrow_name(r)} | {r.get('mode', '-') if r['kind'] == 'lprun' else '-'} "
              f"| {fmt(r['requests'])} | {fmt(r['rps'])} | {fmt(r['req_srv'])} | {fmt(r['errors'])} "
              f"| {fmt(r.get('dropped', NAN))} | {fmt(r['cpu'], 2)} | {fmt(r['cpu_pct'])} | {fmt(r['sys_share'])} "
              f"| {fmt(r['req_per_cpu'])} | {fmt(div(eff(r), eff(pm_static)), 2)} "
              f"| {fmt(r['rss_mib'], 1)} | {fmt(r['other_cpu'], 2)} |")
        a_st, a_lo = div(eff(pm_py), eff(pm_static)), div(eff(pm_py), eff(mx_locust))
        pysum["max"] = {"python_vs_static": a_st, "python_vs_locust": a_lo,
                          "static_req_per_cpu": eff(pm_static), "python_req_per_cpu": eff(pm_py),
                          "locust_req_per_cpu": eff(mx_locust)}
        w("")
        w(f"Python mode requests per CPU-second at max throughput: {goal(a_st, 0.5)} static mode, "
          f"{goal(a_lo, 10)} Locust (its max run of section 1, one process). "
          "The coordinator row (section 1) is the engine driven by a plan file, for reference.")
        w("")

        tgt = num(e("BENCH_PY_RATE"))
        w(f"### 3b. Fixed rate ({fmt(tgt)} req/s)")
        w("")
        w("| run | mode | achieved req/s | error | requests | nginx req | errors | late | dropped "
          "| p50 ms | p99 ms | CPU s | CPU % | req/CPU-s | vs static.py | peak RSS MiB | other CPU s |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in (pr_static, pr_py, pr_locust):
            if not r:
                continue
            ach = r["rps"]
            err = 100 * (ach - tgt) / tgt if ok(ach) and ok(tgt) and tgt > 0 else NAN
            r["achieved_rps"], r["rate_error_pct"] = ach, err
            w(f"| {pyrow_name(r)} | {r.get('mode', '-') if r['kind'] == 'lprun' else '-'} "
              f"| {fmt(ach, 1)} | {'n/a' if not ok(err) else f'{err:+.2f} %'} | {fmt(r['requests'])} "
              f"| {fmt(r['req_srv'])} | {fmt(r['errors'])} | {fmt(r.get('late', NAN))} | {fmt(r.get('dropped', NAN))} "
              f"| {fmt(r['p50'], 3)} | {fmt(r['p99'], 3)} | {fmt(r['cpu'], 2)} | {fmt(r['cpu_pct'], 1)} "
              f"| {fmt(r['req_per_cpu'])} | {fmt(div(eff(r), eff(pr_static)), 2)} "
              f"| {fmt(r['rss_mib'], 1)} | {fmt(r['other_cpu'], 2)} |")
        b_st, b_lo = div(eff(pr_py), eff(pr_static)), div(eff(pr_py), eff(pr_locust))
        pysum["rate"] = {"target_rps": tgt, "python_vs_static": b_st, "python_vs_locust": b_lo,
                           "static_req_per_cpu": eff(pr_static), "python_req_per_cpu": eff(pr_py),
                           "locust_req_per_cpu": eff(pr_locust)}
        w("")
        w(f"Python mode requests per CPU-second at {fmt(tgt)} req/s: {goal(b_st, 0.5)} static mode, "
          f"{goal(b_lo, 10)} Locust ({e('BENCH_LOCUST_RATE_USERS')} users x "
          f"`constant_throughput({e('BENCH_LOCUST_PER_USER')})`, one process). "
          "At a fixed rate req/CPU-s is the inverse of the CPU cost of that rate (a run that falls "
          "short of the rate shows it in achieved req/s); latency columns as in section 2 (Locust: "
          "its own response time).")
        w("")
        bad = [r for r in (pm_static, pm_py, pr_static, pr_py) if r and r["kind"] == "lprun"
               and (ok(r["errors"]) and r["errors"] > 0)]
        for r in bad:
            w(f"- **{pyrow_name(r)} ({r['test']}) had errors:** {r.get('errors_by_kind')}"
              + (f"; check failures {r['check_failures'][:3]}" if r.get("check_failures") else "")
              + ". Its req/CPU-s counts requests that failed.")
        wrong = [r for r, m in ((pm_static, "static"), (pm_py, "python"), (pr_static, "static"), (pr_py, "python"))
                 if r and r.get("complete") and r.get("mode") != m]
        for r in wrong:
            w(f"- **{pyrow_name(r)} ran in mode `{r.get('mode')}`**, not the intended one: its row does not measure what it says.")
        if bad or wrong:
            w("")

    # ---- start-up
    st = None
    if startup_json:
        try:
            st = json.loads(read(startup_json))
        except ValueError:
            st = None
    if st:
        rs, fl = st.get("runs") or [], st.get("floor") or []
        good = [x for x in rs if x.get("ok")]
        walls = [x["wall_ms"] for x in good]
        cpus = [x["cpu_ms"] for x in good]
        fwalls = [x["wall_ms"] for x in fl]
        med = median(walls)
        pysum["startup"] = {"runs": len(rs), "ok": len(good), "median_ms": med,
                              "min_ms": min(walls) if walls else NAN,
                              "max_ms": max(walls) if walls else NAN,
                              "median_cpu_ms": median(cpus), "floor_median_ms": median(fwalls),
                              "goal_ms": 150, "met": ok(med) and med < 150}
        w("## 4. Start-up")
        w("")
        w(f"Wall time of `{e('BENCH_STARTUP_CMD')}` (Python start, scenario import and capture, plan "
          "printed; nothing sent), measured by `time.perf_counter()` around `subprocess.run` in "
          f"`{e('BENCH_STARTUP_WRAP')} <command>`, after one untimed warm-up run. CPU ms = the child's "
          "user+sys (`getrusage(RUSAGE_CHILDREN)` delta). `/bin/true` timed the same way is the floor "
          "of this timer (fork + exec + wait).")
        w("")
        w("| command | runs ok | median ms | min ms | max ms | median CPU ms | goal |")
        w("|---|---:|---:|---:|---:|---:|---|")
        w(f"| `loadpilot run examples/checkout.py --dry-run` | {len(good)}/{len(rs)} | {fmt(med, 1)} "
          f"| {fmt(pysum['startup']['min_ms'], 1)} | {fmt(pysum['startup']['max_ms'], 1)} "
          f"| {fmt(median(cpus), 1)} | < 150 ms: {'met' if pysum['startup']['met'] else ('n/a' if not ok(med) else 'NOT met')} |")
        w(f"| `/bin/true` (timer floor) | {len(fl)}/{len(fl)} | {fmt(median(fwalls), 1)} "
          f"| {fmt(min(fwalls) if fwalls else NAN, 1)} | {fmt(max(fwalls) if fwalls else NAN, 1)} "
          f"| {fmt(median([x['cpu_ms'] for x in fl]), 1)} | |")
        if len(good) < len(rs):
            w("")
            w(f"- **{len(rs) - len(good)} run(s) failed** (exit code or output not a plan): "
              f"{[x.get('stderr') for x in rs if not x.get('ok')][:1]}")
        w("")

    # ---- commands
    w("## Commands")
    w("")
    w(f"Each command ran from the run's temp dir as `{e('BENCH_WRAP')} <command>`"
      + "; nginx (its own config, `worker_processes 1`) was pinned separately; 2 s pause before each run.")
    w("")
    scen_src = {}
    for r in runs:
        conns = f"{r['conns']:.0f}" if ok(r["conns"]) else "?"
        if r["kind"] == "lprun":
            title = f"{r['test']} / {lpname.get(r['label'], r['label'])}"
            scen_src[r["cmd"].split()[2] if len(r["cmd"].split()) > 2 else r["label"]] = r.get("scenario", "")
        else:
            title = f"{r['test']} / {names.get(r['kind'], r['label'])} / {conns} conns"
        if r["test"] in ("rate", "pyrate"):
            title += f" / {r['target']} req/s"
        w(f"- {title}: `{r['cmd']}`" + (f" (exit {r['rc']:.0f})" if ok(r["rc"]) and r["rc"] != 0 else ""))
        if r["plan_json"]:
            w(f"  - plan: `{r['plan_json']}`")
    if st:
        w(f"- startup: `{e('BENCH_STARTUP_WRAP')} {e('BENCH_STARTUP_CMD')}`")
    w("")
    if scen_src:
        w("Scenario files of section 3 (generated by run.sh into the temp dir; "
          "`py_rate/*` differ from `py_max/*` only in `rps`):")
        w("")
        for path, src in scen_src.items():
            if path.startswith("py_rate/") and path.replace("py_rate/", "py_max/") in scen_src:
                continue
            w(f"`{path}`:")
            w("")
            w("```python")
            w(src)
            w("```")
            w("")

    with open(report_md, "w") as f:
        f.write("\n".join(L))

    if raw_json:
        keep = []
        for r in runs:
            keep += [k for k in r if k not in keep]
        clean = [{k: (None if isinstance(r.get(k), float) and math.isnan(r[k]) else r.get(k))
                  for k in keep if k not in ("out", "err", "plan")} for r in runs]
        meta = {k[6:].lower(): v for k, v in os.environ.items() if k.startswith("BENCH_")}
        nan_none = lambda d: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
        with open(raw_json, "w") as f:
            json.dump({"meta": meta, "runs": clean,
                       "summary": {k: nan_none(v) for k, v in pysum.items()},
                       "startup_runs": st}, f, indent=1)


if __name__ == "__main__":
    main()
