#!/usr/bin/env bash
# bench/run.sh - LoadPilot benchmark harness (run by `make bench`).
#
# Method (same as the shared peer-bench.sh, reimplemented here): a private nginx
# on 127.0.0.1 (free port, own config in a temp dir, 1 worker, fixed 23-byte JSON
# answer, keepalive_requests 1000000, stub_status for a server-side request
# count), nginx pinned to CPU $NGINX_CPU and every load tool pinned to CPU
# $TOOL_CPU with taskset, each tool run under
#     /usr/bin/time -f "%U %S %M %e"  (user s, sys s, peak RSS KiB, wall s)
# and `timeout`, 2 s pause between runs, nginx stopped by its pid at exit.
# Loopback traffic only. See bench/README.md for what each figure means.
#
# Runs, in this order (about 6 1/2 minutes at DURATION=10, 3 of them section 6):
#   1. max throughput, $CONNS connections, 1 thread: LoadPilot, wrk, hey
#      (+ Locust FastHttpUser, 1 process, $CONNS users, if locust is installed)
#   2. max throughput, $LOW_CONNS connections: LoadPilot, wrk
#   3. precision: LoadPilot at each rate in $RATES (1 thread, $RATE_CONNS conns)
#   4. Python mode vs static mode: `loadpilot run` on two generated scenario files,
#      static.py (engine-only) and pymode.py (same + on_start + check_user), at
#      rps=$PY_MAX_RPS (max throughput) and at rps=$PY_RATE (+ Locust at $PY_RATE
#      req/s: $LOCUST_RATE_USERS users x constant_throughput)
#   5. start-up: wall time of `loadpilot run examples/checkout.py --dry-run`,
#      $STARTUP_RUNS runs after one warm-up
#   6. fixed-rate cost: LoadPilot vs hey at each rate in $FIXED_RATES, $FIXED_ROUNDS
#      rounds alternating the two, CPU from `perf stat -e task-clock`, send lag
#      (bench/fixed_rate.py on the same nginx; its table is appended to the report)
#
# Knobs (environment):
#   DURATION=10          seconds per run (3 for a quick check)
#   LOADPILOT_BIN=build/bin   directory holding loadpilot-coordinator
#   REPORT=bench/results/latest.md   Markdown report (also printed to stdout);
#                        raw per-run figures go to ${REPORT%.md}.json
#   CONNS=64 LOW_CONNS=8 RATES="2000 20000" RATE_CONNS=64 MAX_RPS=10000000
#   PY_MAX_RPS=1000000 PY_RATE=2000 LOCUST_RATE_USERS=20 STARTUP_RUNS=10
#   FIXED_RATES="2000 10000 20000" FIXED_ROUNDS=3
#   PIN=1 NGINX_CPU=0 TOOL_CPU=1   (PIN=0: no taskset)
#   PORT=<free port>     nginx port (default: a free port picked at start)
#   SKIP_TOOLS="hey locust"  labels to skip (loadpilot wrk hey locust lp-static fixed
#                        lp-python startup)
#   KEEP_TMP=1           keep the temp dir with raw tool outputs
set -u -o pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # nginx lives in /usr/sbin, which a non-login PATH may lack

CALLER_PWD=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# defaults are relative to the repo root; paths given by the caller to the caller's cwd
abs_from_caller() { case "$1" in /*) echo "$1" ;; *) echo "$CALLER_PWD/$1" ;; esac; }

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
LOW_CONNS=${LOW_CONNS:-8}
RATES=${RATES:-2000 20000}
RATE_CONNS=${RATE_CONNS:-64}
MAX_RPS=${MAX_RPS:-10000000}
PY_MAX_RPS=${PY_MAX_RPS:-1000000}        # section 4, max throughput point (scenario rps)
PY_RATE=${PY_RATE:-2000}                 # section 4, fixed-rate point
LOCUST_RATE_USERS=${LOCUST_RATE_USERS:-20}
STARTUP_RUNS=${STARTUP_RUNS:-10}
FIXED_RATES=${FIXED_RATES:-2000 10000 20000}
FIXED_ROUNDS=${FIXED_ROUNDS:-3}
if [ -n "${LOADPILOT_BIN:-}" ]; then BIN_DIR=$(abs_from_caller "$LOADPILOT_BIN"); else BIN_DIR="$ROOT/build/bin"; fi
if [ -n "${REPORT:-}" ]; then REPORT=$(abs_from_caller "$REPORT"); else REPORT="$ROOT/bench/results/latest.md"; fi
PIN=${PIN:-1}
NGINX_CPU=${NGINX_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
SKIP_TOOLS=" ${SKIP_TOOLS:-} "
HOST=127.0.0.1
LIMIT=$(( DURATION + 25 ))          # hard wall-clock cap per tool run (timeout)
PAUSE=2                             # seconds between runs (sockets settle)
PY=/usr/bin/python3                 # Debian's python, not a pyenv one on PATH
TIME=/usr/bin/time
TIME_FMT="%U %S %M %e"
HZ=$(getconf CLK_TCK)
LOCUST=${LOCUST:-/usr/bin/locust}

die() { echo "bench: $*" >&2; exit 1; }
[[ "$DURATION" =~ ^[0-9]+$ ]] && (( DURATION > 0 )) || die "DURATION must be a positive integer (seconds)"
for v in PY_MAX_RPS PY_RATE LOCUST_RATE_USERS STARTUP_RUNS FIXED_ROUNDS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] && (( ${!v} > 0 )) || die "$v must be a positive integer"
done
COORD="$BIN_DIR/loadpilot-coordinator"
LP="$BIN_DIR/loadpilot"                 # the CLI: `loadpilot run scenario.py` (sections 4 and 5)
# The binaries may be rebuilt by someone else while the benchmark runs: wait up to
# 60 s for one that is briefly missing instead of failing the whole run.
wait_bin() { # wait_bin <path>
    local i
    for i in $(seq 60); do [ -x "$1" ] && return 0; (( i == 1 )) && echo "bench: waiting for $1 ..." >&2; sleep 1; done
    [ -x "$1" ]
}
wait_bin "$COORD" || die "$COORD not found (run 'make build' or set LOADPILOT_BIN)"
wait_bin "$LP" || die "$LP not found (run 'make build' or set LOADPILOT_BIN)"
[ -x "$PY" ] || die "$PY missing"
[ -x "$TIME" ] || die "/usr/bin/time missing (apt-get install time)"
command -v nginx >/dev/null || die "nginx missing"
command -v curl >/dev/null || die "curl missing"
command -v timeout >/dev/null || die "timeout missing"
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null || die "taskset missing (apt-get install util-linux) or set PIN=0"
    (( $(nproc) > NGINX_CPU && $(nproc) > TOOL_CPU )) \
        || die "need CPUs $NGINX_CPU and $TOOL_CPU for pinning ($(nproc) online); set PIN=0"
fi

T=$(mktemp -d /tmp/loadpilot-bench.XXXXXX)
NGX_PID=""
stop_pid() { # stop_pid <pid>: TERM, wait up to 5 s, then KILL
    local p=$1
    kill -0 "$p" 2>/dev/null || return 0
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
}
cleanup() {
    [ -n "$NGX_PID" ] && stop_pid "$NGX_PID"
    # fallback: the master pid our own nginx wrote into our temp dir
    local fp
    fp=$(cat "$T/ngx/nginx.pid" 2>/dev/null)
    [[ "$fp" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$fp/comm" 2>/dev/null)" = nginx ] && stop_pid "$fp"
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench: raw outputs kept in $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 65536 2>/dev/null || true

pin() { # pin <cpu> cmd...
    local cpu=$1; shift
    if [ "$PIN" = 1 ]; then taskset -c "$cpu" "$@"; else "$@"; fi
}

# ---------------------------------------------------------------- nginx ----
if [ -z "${PORT:-}" ]; then
    PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()') \
        || die "cannot pick a free port"
fi
BASE="http://$HOST:$PORT"
URL="$BASE/api/user"
if curl -s -o /dev/null --max-time 1 "$BASE/"; then
    die "something already listens on $HOST:$PORT"
fi
mkdir -p "$T/ngx"
cat > "$T/ngx/nginx.conf" <<EOF
worker_processes 1;
pid $T/ngx/nginx.pid;
error_log $T/ngx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path $T/ngx/body;
    proxy_temp_path $T/ngx/proxy;
    fastcgi_temp_path $T/ngx/fastcgi;
    uwsgi_temp_path $T/ngx/uwsgi;
    scgi_temp_path $T/ngx/scgi;
    server {
        listen $HOST:$PORT;
        location /api/user {
            default_type application/json;
            return 200 '{"id":1,"name":"bench"}';
        }
        location = /nginx_status { stub_status; }
    }
}
EOF
# Started as a plain command (not via the pin function, which would fork a subshell),
# and taskset execs nginx, so $! is the nginx master's own pid.
NGX_CMD=(nginx -p "$T/ngx" -e "$T/ngx/error.log" -c "$T/ngx/nginx.conf" -g 'daemon off;')
[ "$PIN" = 1 ] && NGX_CMD=(taskset -c "$NGINX_CPU" "${NGX_CMD[@]}")
"${NGX_CMD[@]}" </dev/null >"$T/ngx/stdout.log" 2>&1 &
NGX_PID=$!
for _ in $(seq 50); do
    curl -s -o /dev/null --max-time 1 "$URL" && break
    kill -0 "$NGX_PID" 2>/dev/null || die "nginx failed to start: $(cat "$T/ngx/error.log" 2>/dev/null)"
    sleep 0.1
done
curl -s --max-time 1 "$URL" | grep -q '"bench"' || die "nginx not answering on $URL"
[ "$(cat "/proc/$NGX_PID/comm" 2>/dev/null)" = nginx ] || die "pid $NGX_PID is not the nginx master"
NGX_WORKER=""
for _ in $(seq 20); do
    NGX_WORKER=$(awk '{print $1}' "/proc/$NGX_PID/task/$NGX_PID/children" 2>/dev/null)
    [ -n "$NGX_WORKER" ] && break
    sleep 0.1
done
[ -n "$NGX_WORKER" ] && [ "$(cat "/proc/$NGX_WORKER/comm" 2>/dev/null)" = nginx ] \
    || die "cannot find nginx worker of master $NGX_PID"

ngx_requests() { curl -s --max-time 2 "$BASE/nginx_status" | awk 'NR==3{print $3}'; }
ngx_ticks() { awk '{print $14+$15}' "/proc/$NGX_WORKER/stat" 2>/dev/null || echo 0; }
sys_busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }   # user nice system irq softirq steal

# -------------------------------------------------------------- locust -----
# LOCUST_RATE_PER_USER unset: as fast as possible (max throughput); set: that many
# requests per second per user (fixed-rate run, as in peer-bench.sh).
cat > "$T/locustfile.py" <<'EOF'
import os

from locust import FastHttpUser, task, constant, constant_throughput

_rate = float(os.environ.get("LOCUST_RATE_PER_USER", "0"))


class ApiUser(FastHttpUser):
    wait_time = constant_throughput(_rate) if _rate > 0 else constant(0)

    @task
    def user(self):
        self.client.get("/api/user")
EOF

# ----------------------------------------------------- python scenarios -----
# write_scenarios <dir> <rps>: the two `loadpilot run` scenarios of section 4.
# static.py: one static GET, run by the C++ engine from the plan (static mode).
# pymode.py: the same task plus on_start and check_user, which put `loadpilot run`
# in Python mode (virtual users as greenlets run the task bodies; HTTP via the engine).
write_scenarios() {
    mkdir -p "$1"
    cat > "$1/static.py" <<EOF
from loadpilot import scenario, task


@scenario(rps=$2, duration="${DURATION}s", ramp_up="0", mode="constant")
class Static:
    @task
    def user(self, client):
        client.get("/api/user")
EOF
    cat > "$1/pymode.py" <<EOF
from loadpilot import scenario, task


@scenario(rps=$2, duration="${DURATION}s", ramp_up="0", mode="constant")
class PyMode:
    def on_start(self, client):
        self.n = 0

    @task
    def user(self, client):
        client.get("/api/user")

    def check_user(self, status_code, body):
        assert status_code == 200
EOF
}

# startup.py N cmd...: one untimed warm-up, then N timed runs of cmd (stdout must be
# a JSON plan), wall time by time.perf_counter around subprocess.run, child CPU by
# getrusage(RUSAGE_CHILDREN) deltas; also times /bin/true the same way (the
# fork+exec floor of this timer). Prints one JSON object.
cat > "$T/startup.py" <<'EOF'
import json, resource, subprocess, sys, time


def timed(cmd, check_plan):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    good = p.returncode == 0
    if good and check_plan:
        try:
            good = bool(json.loads(p.stdout).get("tasks"))
        except ValueError:
            good = False
    return {"wall_ms": (t1 - t0) * 1e3, "rc": p.returncode, "ok": good,
            "cpu_ms": ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1e3,
            "stderr": p.stderr.decode(errors="replace")[-300:] if not good else ""}


n, cmd = int(sys.argv[1]), sys.argv[2:]
timed(cmd, True)                                      # warm-up: page cache, not counted
runs = [timed(cmd, True) for _ in range(n)]
floor = [timed(["/bin/true"], False) for _ in range(n)]
print(json.dumps({"runs": runs, "floor": floor}))
EOF

# ------------------------------------------------------------- helpers -----
# One line per run, tab separated, parsed by bench/report.py:
# test label kind conns target rc user sys rss_kb wall req_srv ngx_cpu other_cpu out err plan cmd
# (kind lprun: plan is the scenario file; its results JSON is the same path with .json)
RUNS="$T/runs.tsv"
: > "$RUNS"

write_plan() { # write_plan <file> <name> <rps> <conns>
    printf '{"name":"%s","rps":%s,"duration_secs":%s,"mode":"constant","target_url":"%s","tasks":[{"name":"user","url":"/api/user"}],"threads":1,"max_connections":%s}\n' \
        "$2" "$3" "$DURATION" "$BASE" "$4" > "$1"
}

# run_one <test> <label> <kind> <conns> <target> <planfile|-> cmd...
run_one() {
    local test=$1 label=$2 kind=$3 conns=$4 target=$5 plan=$6; shift 6
    local id="${test}_${label}_c${conns}_${target}"
    local out="$T/$id.out" err="$T/$id.err" tf="$T/$id.time"
    case "$SKIP_TOOLS" in *" $label "*) echo "bench:   skip $label (SKIP_TOOLS)" >&2; return;; esac
    sleep "$PAUSE"                            # let the previous run's sockets close
    local r0 n0 s0 r1 n1 s1
    r0=$(ngx_requests); n0=$(ngx_ticks); s0=$(sys_busy_ticks)
    echo "bench:   [$test] $label c=$conns target=$target: $*" >&2
    ( cd "$T" && pin "$TOOL_CPU" "$TIME" -f "$TIME_FMT" -o "$tf" timeout -k 5 "$LIMIT" "$@" ) >"$out" 2>"$err"
    local rc=$?
    s1=$(sys_busy_ticks); n1=$(ngx_ticks); r1=$(ngx_requests)
    local user sys rss wall
    read -r user sys rss wall < <(tail -n 1 "$tf" 2>/dev/null || echo "nan nan nan nan")
    local req_srv=nan
    [[ "$r0" =~ ^[0-9]+$ && "$r1" =~ ^[0-9]+$ ]] && req_srv=$(( r1 - r0 - 1 ))   # minus the 2nd status request
    local ngx_cpu other_cpu
    ngx_cpu=$(awk -v a="$n0" -v b="$n1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)/hz}')
    other_cpu=$(awk -v a="$s0" -v b="$s1" -v hz="$HZ" -v n="$ngx_cpu" -v u="$user" -v s="$sys" \
                'BEGIN{v=(b-a)/hz-n-u-s; if(v<0)v=0; printf "%.2f", v}')
    [ "$rc" = 0 ] || echo "bench:     $label exited rc=$rc (stderr tail: $(tail -c 300 "$err" | tr '\n\t' '  '))" >&2
    local cmdstr
    cmdstr=$(printf '%q ' "$@"); cmdstr=${cmdstr% }
    cmdstr=${cmdstr//$T\//}                    # temp dir is the cwd of every run
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$test" "$label" "$kind" "$conns" "$target" "$rc" "$user" "$sys" "$rss" "$wall" \
        "$req_srv" "$ngx_cpu" "$other_cpu" "$out" "$err" "$plan" "$cmdstr" >> "$RUNS"
}

run_loadpilot() { # run_loadpilot <test> <conns> <rps|max>
    local test=$1 conns=$2 target=$3 rps=$3
    [ "$target" = max ] && rps=$MAX_RPS
    local plan="$T/plan_${test}_c${conns}_${target}.json"
    write_plan "$plan" "$test" "$rps" "$conns"
    wait_bin "$COORD" || die "$COORD disappeared during the run"
    run_one "$test" loadpilot loadpilot "$conns" "$target" "$plan" "$COORD" --plan "$(basename "$plan")"
}

run_lprun() { # run_lprun <test> <label> <target> <scenario file, relative to $T>
    local test=$1 label=$2 target=$3 scen=$4
    wait_bin "$LP" || die "$LP disappeared during the run"
    rm -f "$T/${scen%.py}.json"
    run_one "$test" "$label" lprun auto "$target" "$T/$scen" \
        "$LP" run "$scen" --target "$BASE" --results-json "${scen%.py}.json"
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }

# --------------------------------------------------------------- tests -----
START=$(date +%s)
START_ISO=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: nginx pid $NGX_PID (worker $NGX_WORKER) on $URL, ${DURATION}s per run, raw files in $T" >&2

# 1. max throughput, CONNS connections, one thread / core each
run_loadpilot max "$CONNS" max
have wrk && run_one max wrk wrk "$CONNS" max - wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$URL"
have hey && run_one max hey hey "$CONNS" max - hey -cpus 1 -c "$CONNS" -z "${DURATION}s" "$URL"
# optional reference: Locust FastHttpUser, 1 process, CONNS users
have "$LOCUST" && run_one max locust locust "$CONNS" max - "$LOCUST" -f locustfile.py \
    --headless -u "$CONNS" -r "$CONNS" -t "${DURATION}s" --host "$BASE" --only-summary --loglevel WARNING

# 2. max throughput at low concurrency
run_loadpilot max "$LOW_CONNS" max
have wrk && run_one max wrk wrk "$LOW_CONNS" max - wrk -t1 -c"$LOW_CONNS" -d"${DURATION}s" --latency "$URL"

# 3. precision at fixed rates
for r in $RATES; do run_loadpilot rate "$RATE_CONNS" "$r"; done

# 4. Python mode vs static mode, `loadpilot run` on a scenario file (same pinning and
#    wrapper). a) max throughput (rps far above capacity: the excess is counted as
#    dropped), compared with Locust's max run of section 1; b) fixed rate, with Locust
#    at the same rate: LOCUST_RATE_USERS users x constant_throughput(PY_RATE / users).
write_scenarios "$T/py_max" "$PY_MAX_RPS"
write_scenarios "$T/py_rate" "$PY_RATE"
run_lprun pymax lp-static max py_max/static.py
run_lprun pymax lp-python max py_max/pymode.py
run_lprun pyrate lp-static "$PY_RATE" py_rate/static.py
run_lprun pyrate lp-python "$PY_RATE" py_rate/pymode.py
LOCUST_PER_USER=$(awk -v r="$PY_RATE" -v u="$LOCUST_RATE_USERS" 'BEGIN{printf "%g", r/u}')
have "$LOCUST" && run_one pyrate locust locust "$LOCUST_RATE_USERS" "$PY_RATE" - \
    env LOCUST_RATE_PER_USER="$LOCUST_PER_USER" "$LOCUST" -f locustfile.py --headless \
    -u "$LOCUST_RATE_USERS" -r "$LOCUST_RATE_USERS" -t "${DURATION}s" --host "$BASE" \
    --only-summary --loglevel WARNING

# 5. start-up: `loadpilot run examples/checkout.py --dry-run` (Python start, scenario
#    import and capture, plan printed; nothing sent), timed STARTUP_RUNS times.
STARTUP_JSON=""
STARTUP_CMD=""
case "$SKIP_TOOLS" in
*" startup "*) echo "bench:   skip startup (SKIP_TOOLS)" >&2 ;;
*)
    sleep "$PAUSE"
    wait_bin "$LP" || die "$LP disappeared during the run"
    STARTUP_CMD="$LP run $ROOT/examples/checkout.py --dry-run"
    echo "bench:   [startup] $STARTUP_RUNS x $STARTUP_CMD" >&2
    if ( cd "$T" && pin "$TOOL_CPU" "$PY" startup.py "$STARTUP_RUNS" \
            "$LP" run "$ROOT/examples/checkout.py" --dry-run ) >"$T/startup.json" 2>"$T/startup.err"; then
        STARTUP_JSON="$T/startup.json"
    else
        echo "bench:     startup timing failed: $(tail -c 300 "$T/startup.err" | tr '\n' ' ')" >&2
    fi ;;
esac

# 6. fixed-rate cost, LoadPilot vs hey (bench/fixed_rate.py: perf stat -e task-clock,
#    alternated rounds, the same nginx). Needs perf and hey; pinning as above.
FIXED_MD=""
case "$SKIP_TOOLS" in
*" fixed "*) echo "bench:   skip fixed (SKIP_TOOLS)" >&2 ;;
*)
    fixed_tools="loadpilot hey"
    case "$SKIP_TOOLS" in *" hey "*) fixed_tools="loadpilot" ;; esac
    if [ "$PIN" != 1 ]; then
        echo "bench:   skip fixed (needs PIN=1: it pins nginx to CPU 0 and the tools to CPU 1)" >&2
    elif ! command -v perf >/dev/null; then
        echo "bench:   skip fixed (perf missing: apt-get install linux-perf)" >&2
    else
        echo "bench:   [fixed] rates $FIXED_RATES, $FIXED_ROUNDS rounds: $fixed_tools" >&2
        # shellcheck disable=SC2086  # word splitting of the rate and tool lists is wanted
        if "$PY" "$ROOT/bench/fixed_rate.py" --port "$PORT" --bin "$BIN_DIR" --duration "$DURATION" \
                --rounds "$FIXED_ROUNDS" --rates $FIXED_RATES --conns "$RATE_CONNS" --tools $fixed_tools \
                --tool-cpu "$TOOL_CPU" \
                --markdown "$T/fixed.md" --json "$T/fixed.json" >"$T/fixed.out" 2>&1; then
            FIXED_MD="$T/fixed.md"
        else
            echo "bench:     fixed-rate section failed: $(tail -c 300 "$T/fixed.out" | tr '\n' ' ')" >&2
        fi
    fi ;;
esac

END=$(date +%s)

# -------------------------------------------------------------- report -----
mkdir -p "$(dirname "$REPORT")" || die "cannot create $(dirname "$REPORT")"
JSON_OUT=""
case "$REPORT" in *.md) JSON_OUT="${REPORT%.md}.json" ;; esac
pin_desc="off"
WRAP="$TIME -f \"$TIME_FMT\" -o RUN.time timeout -k 5 $LIMIT"
STARTUP_WRAP="$PY startup.py $STARTUP_RUNS"
if [ "$PIN" = 1 ]; then
    pin_desc="nginx on CPU $NGINX_CPU, each tool on CPU $TOOL_CPU (taskset -c)"
    WRAP="taskset -c $TOOL_CPU $WRAP"
    STARTUP_WRAP="taskset -c $TOOL_CPU $STARTUP_WRAP"
fi
COORD_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- 2>/dev/null || COORD_REV="$COORD_REV+uncommitted changes"
env BENCH_START="$START_ISO" BENCH_ELAPSED=$(( END - START )) BENCH_DURATION="$DURATION" \
    BENCH_CPU="$(lscpu 2>/dev/null | awk -F: '/Model name/{gsub(/^ +/,"",$2);print $2; exit}')" \
    BENCH_NCPU="$(nproc)" BENCH_KERNEL="$(uname -r)" BENCH_NGINX="$(nginx -v 2>&1 | sed 's/.*\///')" \
    BENCH_URL="$URL" BENCH_PIN="$pin_desc" BENCH_LOAD_START="$LOAD_START" \
    BENCH_LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)" BENCH_WRAP="$WRAP" \
    BENCH_PINNED="$PIN" BENCH_COORD="$COORD" BENCH_REV="$COORD_REV" \
    BENCH_WRK="$(wrk --version 2>&1 | head -1 | awk '{print $2}')" \
    BENCH_HEY="$(dpkg-query -W -f='${Version}' hey 2>/dev/null)" \
    BENCH_LOCUST="$(dpkg-query -W -f='${Version}' python3-locust 2>/dev/null)" \
    BENCH_LP="$LP" BENCH_PY_MAX_RPS="$PY_MAX_RPS" BENCH_PY_RATE="$PY_RATE" \
    BENCH_LOCUST_RATE_USERS="$LOCUST_RATE_USERS" BENCH_LOCUST_PER_USER="$LOCUST_PER_USER" \
    BENCH_STARTUP_CMD="$STARTUP_CMD" BENCH_STARTUP_WRAP="$STARTUP_WRAP" BENCH_STARTUP_RUNS="$STARTUP_RUNS" \
    "$PY" "$ROOT/bench/report.py" "$RUNS" "$REPORT.tmp" "$JSON_OUT" "$STARTUP_JSON" || die "report generation failed"
if [ -n "$FIXED_MD" ]; then
    { echo; echo "## 6. Fixed-rate cost: LoadPilot vs hey"; echo; cat "$FIXED_MD"; } >> "$REPORT.tmp"
    [ -n "$JSON_OUT" ] && cp "$T/fixed.json" "${JSON_OUT%.json}.fixed.json"
fi
mv "$REPORT.tmp" "$REPORT"
cat "$REPORT"
echo "bench: report written to $REPORT${JSON_OUT:+ (raw: $JSON_OUT)}" >&2
