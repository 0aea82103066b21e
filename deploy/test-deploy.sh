#!/usr/bin/env bash
# `make test-deploy`: the container images, built and run for real on this machine.
#
#  1. a Debian 12 base image from the host's apt mirror (deploy/base-image.sh, cached),
#     imported into a container engine: a dockerd started here, or podman (runc);
#  2. both images built with the documented command plus --build-arg BASE=<that image>
#     and the mirror, exactly as engine/Dockerfile.* say;
#  3. each image checked: runs as uid 10001, entrypoint is the binary, no compiler, no
#     libpython in the agent, every library resolved, size printed;
#  4. the coordinator image fires a plan (stdin mode) at a loadpilot-target on the host:
#     the target counts exactly the planned requests;
#  5. the service end to end: nats-server (host binary, with a token), the agent
#     container and the coordinator container (`--serve`), all on host networking;
#     /healthz through the chart's helm-test script, /readyz, 401 without the API token,
#     POST /run streams to a final line whose count equals the target's /__stats, and
#     /metrics passes promtool with the agent gauge.
#
# Where no engine can run here (neither dockerd nor podman), or the mirror is out of
# reach, it prints "SKIP: ..." and exits 0. Everything is bounded; containers, images it
# does not cache, and the daemons and servers it started are removed by pid/name.
#
# Environment:
#   LOADPILOT_BIN               host binaries (default build/bin): loadpilot-target
#   LOADPILOT_CONTAINER_ENGINE  auto (default: docker, else podman) | docker | podman
#   LOADPILOT_CACHE_DIR         cache (default ~/.cache/loadpilot): base tarball, engine storage
#   LOADPILOT_DEPLOY_STRICT=1   a skipped check fails the run
set -uo pipefail
cd "$(dirname "$0")/.."
LP_SCRIPT=test-deploy
LP_T0=$(date +%s)
source deploy/lib.sh

BIN=${LOADPILOT_BIN:-$PWD/build/bin}
CHART=cli/loadpilot/charts/loadpilot
COORD_IMAGE=loadpilot-coordinator:local   # the seed's tag
AGENT_IMAGE=loadpilot-agent:local
RUN_ID=lp-test-$$
WORK=$(mktemp -d /tmp/lp-deploy.XXXXXX)
PASSED=0 FAILED=0 SKIPPED=0
PIDS=()          # host processes started here (target, nats-server)
CONTAINERS=()    # containers started here
BUILT=()         # images built here, removed at the end (not cached)

ok()   { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip - $*"; }
# check NAME CMD...: one pass/fail line, the command's output shown when it fails.
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then ok "$name"; else fail "$name"; echo "$out" | tail -n 20 | sed 's/^/    /'; fi
}

cleanup() {
  local c i
  set +e
  for c in "${CONTAINERS[@]}"; do lp_ctr_bounded 60 rm -f "$c" >/dev/null 2>&1; done
  for i in "${BUILT[@]}"; do lp_ctr_bounded 60 rmi -f "$(lp_ref "$i")" >/dev/null 2>&1; done
  if [[ -n $LP_ENGINE ]]; then
    lp_ctr_bounded 120 image prune -f >/dev/null 2>&1   # the build stages' layers; deps and base stay cached
    lp_engine_stop
  fi
  for i in "${PIDS[@]}"; do lp_stop_pid "$i" 10; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 0. what this machine has --------------------------------------------------------------
[[ -x $BIN/loadpilot-target ]] || lp_die "$BIN/loadpilot-target not found: run 'make build' first (or set LOADPILOT_BIN)"
command -v curl >/dev/null || lp_die "curl is not installed (scripts/install-deps.sh installs it)"

# One run at a time: the engine storage in the cache is shared between runs.
exec 9>"$(lp_cache_dir)/test-deploy.lock"
flock -w 1800 9 || lp_die "another test-deploy has held $(lp_cache_dir)/test-deploy.lock for 30 minutes"

lp_apt_mirrors
[[ -n $APT_MIRROR ]] || lp_skip "no Debian bookworm mirror configured in /etc/apt/sources.list* (set LOADPILOT_APT_MIRROR)"
BUILD_ARGS=(--build-arg "APT_MIRROR=$APT_MIRROR" --build-arg "APT_SECURITY_MIRROR=$APT_SECURITY_MIRROR")

# --- 1. base image and engine ----------------------------------------------------------------
command -v mmdebstrap >/dev/null || lp_skip "mmdebstrap is not installed, so no base image can be made without a registry (scripts/install-deps.sh installs it)"
BASE_TAR=$(deploy/base-image.sh)
case $? in
  0) ;;
  3) lp_skip "no base image could be made here: deploy/base-image.sh failed (see above)" ;;
  *) lp_die "deploy/base-image.sh failed (see above)" ;;
esac
BASE_IMAGE=loadpilot-base:$(deploy/base-image.sh --key)
lp_log "base tarball $BASE_TAR"

# An engine counts as working once it has imported the base image and run a container.
engine_works() {
  if ! lp_ctr image inspect "$(lp_ref "$BASE_IMAGE")" >/dev/null 2>&1; then
    # the same config as debian:bookworm-slim: a tarball import has no PATH of its own
    lp_ctr import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' "$BASE_TAR" "$(lp_ref "$BASE_IMAGE")" > "$WORK/import.log" 2>&1 \
      || { LP_ENGINE_WHY="import of the base image failed: $(tail -n 2 "$WORK/import.log" | tr '\n' ' ')"; return 1; }
  fi
  local out
  if ! out=$(timeout 120 bash -c 'lp_run --rm "$0" true' "$(lp_ref "$BASE_IMAGE")" 2>&1); then
    LP_ENGINE_WHY="cannot run a container: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
    return 1
  fi
}
lp_run_rm() { lp_run --rm "$@"; }
export -f lp_run_rm

wanted=${LOADPILOT_CONTAINER_ENGINE:-auto}
case $wanted in
  auto | docker | podman) ;;
  *) lp_die "LOADPILOT_CONTAINER_ENGINE='$wanted': use auto, docker or podman" ;;
esac
[[ $wanted == auto ]] && candidates=(docker podman) || candidates=("$wanted")
why=()
for engine in "${candidates[@]}"; do
  if lp_engine_start "$engine" && engine_works; then
    break
  fi
  why+=("$engine: $LP_ENGINE_WHY")
  lp_log "$engine unusable: $LP_ENGINE_WHY"
  [[ -n $LP_ENGINE ]] && lp_engine_stop
done
[[ -n $LP_ENGINE ]] || lp_skip "no container engine can run here: ${why[*]}"
lp_log "engine: $LP_ENGINE ($( lp_ctr version --format '{{.Server.Version}}' 2>/dev/null || lp_ctr version --format '{{.Version}}' 2>/dev/null))"

# --- 2. the images ---------------------------------------------------------------------------
# The deps stage (apt install of the build dependencies) is tagged so that it stays cached
# when the images are removed at the end; the key covers its text and the base image.
DEPS_KEY=$( { sed -n '/^FROM \${BASE} AS deps/,/^$/p' engine/Dockerfile.coordinator; cat deploy/image/apt-sources.sh; echo "$BASE_IMAGE $APT_MIRROR $APT_SECURITY_MIRROR"; } | sha256sum | cut -c1-12)
DEPS_IMAGE=loadpilot-build-deps:$DEPS_KEY
# Keep only this week's base image and the current build-deps image in the engine storage.
for old in $(lp_ctr images --format '{{.Repository}}:{{.Tag}}' | grep -E '(^|/)loadpilot-(base|build-deps):'); do
  [[ ${old#localhost/} == "$BASE_IMAGE" || ${old#localhost/} == "$DEPS_IMAGE" ]] && continue
  lp_log "removing stale cached image $old"
  lp_ctr rmi -f "$old" >/dev/null 2>&1
done

build() {  # build NAME DOCKERFILE TAG [ARGS...]: logs to $WORK/NAME.log, times it
  local name=$1 file=$2 tag=$3; shift 3
  local t0=$(date +%s) rc
  timeout 1800 bash -c 'lp_build "$@"' lp_build "$file" "$(lp_ref "$tag")" \
    --build-arg "BASE=$(lp_ref "$BASE_IMAGE")" "${BUILD_ARGS[@]}" "$@" > "$WORK/$name.log" 2>&1
  rc=$?
  lp_log "build $name: exit $rc in $(( $(date +%s) - t0 ))s"
  return $rc
}

if lp_ctr image inspect "$(lp_ref "$DEPS_IMAGE")" >/dev/null 2>&1; then
  lp_log "build dependencies: cached ($DEPS_IMAGE)"
elif ! build deps engine/Dockerfile.coordinator "$DEPS_IMAGE" --target deps; then
  tail -n 30 "$WORK/deps.log"
  fail "build stage 'deps' (apt install of the build dependencies from $APT_MIRROR)"
fi

COORD_OK=0
if build coordinator engine/Dockerfile.coordinator "$COORD_IMAGE"; then
  BUILT+=("$COORD_IMAGE")
  COORD_OK=1
  ok "docker build -f engine/Dockerfile.coordinator -t $COORD_IMAGE . (BASE=$BASE_IMAGE, engine $LP_ENGINE)"
else
  tail -n 40 "$WORK/coordinator.log" | sed 's/^/    /'
  fail "coordinator image build"
fi

AGENT_OK=0
if build agent engine/Dockerfile.agent "$AGENT_IMAGE"; then
  BUILT+=("$AGENT_IMAGE")
  AGENT_OK=1
  ok "docker build -f engine/Dockerfile.agent -t $AGENT_IMAGE ."
else
  tail -n 40 "$WORK/agent.log" | sed 's/^/    /'
  fail "agent image build"
fi

# --- 3. what is in the images ------------------------------------------------------------
image_facts() {  # image_facts IMAGE BINARY: user, entrypoint, no toolchain, libraries
  local image=$1 binary=$2 ref; ref=$(lp_ref "$1")
  local user entry size
  user=$(lp_ctr image inspect --format '{{.Config.User}}' "$ref")
  entry=$(lp_ctr image inspect --format '{{json .Config.Entrypoint}}' "$ref")
  size=$(lp_ctr image inspect --format '{{.Size}}' "$ref")
  echo "    $image: $(( size / 1000 / 1000 )) MB, user $user, entrypoint $entry"
  echo "$image $(( size / 1000 / 1000 ))" >> "$WORK/sizes"
  check "$image runs as uid 10001, not root" \
    bash -c '[[ "$(lp_run_rm --entrypoint id "$0" -u)" == 10001 ]]' "$ref"
  check "$image entrypoint is /usr/local/bin/$binary" test "$entry" = "[\"/usr/local/bin/$binary\"]"
  check "$image carries no compiler, cmake or headers" \
    bash -c 'out=$(lp_run_rm --entrypoint sh "$0" -c "command -v gcc g++ cc c++ cmake ninja; ls /usr/include/openssl 2>/dev/null") || true; [[ -z $out ]] || { echo "found: $out"; exit 1; }' "$ref"
  check "$image: every shared library of $binary resolves" \
    bash -c 'out=$(lp_run_rm --entrypoint ldd "$0" "/usr/local/bin/$1") || { echo "$out"; exit 1; }; ! grep -q "not found" <<<"$out" || { echo "$out"; exit 1; }' "$ref" "$binary"
}
if (( COORD_OK )); then
  image_facts "$COORD_IMAGE" loadpilot-coordinator
  check "$COORD_IMAGE --version" \
    bash -c 'out=$(lp_run_rm "$0" --version); echo "$out"; [[ $out == "loadpilot-coordinator "* ]]' "$(lp_ref "$COORD_IMAGE")"
  check "$COORD_IMAGE default command is --serve" \
    test "$(lp_ctr image inspect --format '{{json .Config.Cmd}}' "$(lp_ref "$COORD_IMAGE")")" = '["--serve"]'
fi
if (( AGENT_OK )); then
  image_facts "$AGENT_IMAGE" loadpilot-agent
  check "$AGENT_IMAGE: loadpilot-agent does not link libpython" \
    bash -c '! lp_run_rm --entrypoint ldd "$0" /usr/local/bin/loadpilot-agent | grep -i python' "$(lp_ref "$AGENT_IMAGE")"
fi

# --- 4. the coordinator image fires a plan at the host's target ---------------------------
TARGET_URL=""
start_target() {
  "$BIN/loadpilot-target" --host 127.0.0.1 --port 0 > "$WORK/target.out" 2>&1 9>&- &
  PIDS+=($!)
  lp_wait 15 "loadpilot-target" grep -q "listening on" "$WORK/target.out" || return 1
  TARGET_URL=$(sed -n 's/^loadpilot-target listening on \(http:[^ ]*\)$/\1/p' "$WORK/target.out")
}
target_total() { curl -sS --max-time 5 "$TARGET_URL/__stats" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])'; }
target_reset() { curl -sS --max-time 5 -X POST "$TARGET_URL/__reset" >/dev/null; }
# The final line of an ndjson stream: line count, phase, requests_total, errors_total, and
# the requests of agent AGENT in its "agents" table (distributed runs; "-" when absent).
final_line() { /usr/bin/python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
if not lines: sys.exit("empty stream")
last = json.loads(lines[-1])
agent = next((a.get("requests") for a in last.get("agents") or [] if a.get("id") == sys.argv[2]), "-")
print(len(lines), last.get("phase"), last.get("requests_total"), last.get("errors_total"), agent)' "$1" "${2:-}"; }

RPS=20 SECS=3 EXPECTED=60
write_plan() {
  cat > "$WORK/plan.json" <<JSON
{"name": "deploy-check", "rps": $RPS, "duration_secs": $SECS, "mode": "constant",
 "target_url": "$TARGET_URL", "threads": 1,
 "tasks": [{"name": "browse", "weight": 1, "method": "GET", "url": "/api/products"}]}
JSON
}

if start_target; then
  write_plan
  if (( COORD_OK )); then
    target_reset
    if timeout 120 bash -c 'lp_run_rm -i "$0" --plan /dev/stdin < "$1" > "$2" 2> "$2.err"' \
         "$(lp_ref "$COORD_IMAGE")" "$WORK/plan.json" "$WORK/stdin-run.ndjson"; then
      read -r n phase total errors _ < <(final_line "$WORK/stdin-run.ndjson")
      seen=$(target_total)
      check "coordinator container fires the plan at the host target: $total requests reported, $seen at the target, $EXPECTED planned" \
        test "$phase/$total/$errors/$seen" = "done/$EXPECTED/0/$EXPECTED"
    else
      tail -n 20 "$WORK/stdin-run.ndjson.err" | sed 's/^/    /'
      fail "coordinator container run (plan on stdin, host networking)"
    fi
    check "the chart's helm-test script (files/http-check.sh) works in $COORD_IMAGE" \
      lp_run_rm --entrypoint bash "$(lp_ref "$COORD_IMAGE")" -c "$(cat $CHART/files/http-check.sh)" http-check \
        127.0.0.1 "${TARGET_URL##*:}" /health '{"status":"ok"}'
  fi
else
  fail "loadpilot-target did not start: $(cat "$WORK/target.out")"
fi

# --- 5. the service end to end ---------------------------------------------------------------
# An image that did not build has failed above already.
service_missing=""
(( COORD_OK )) || service_missing="the coordinator image did not build"
(( AGENT_OK )) || service_missing="${service_missing:+$service_missing; }the agent image did not build"

if [[ -n $service_missing ]]; then
  skip "service end to end (nats-server + agent container + coordinator container, POST /run): $service_missing"
elif [[ -z $TARGET_URL ]]; then
  fail "service end to end: no target"
else
  NATS_PORT=$(lp_free_port) API_PORT=$(lp_free_port) METRICS_PORT=$(lp_free_port)
  NATS_TOKEN=$(head -c 18 /dev/urandom | base64 | tr -d '/+=') API_TOKEN=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  # The chart's NATS arguments (templates/nats.yaml), on the host's nats-server 2.9.
  nats-server --addr 127.0.0.1 --port "$NATS_PORT" --auth "$NATS_TOKEN" > "$WORK/nats.log" 2>&1 9>&- &
  PIDS+=($!)
  lp_wait 15 "nats-server" grep -q "Server is ready" "$WORK/nats.log" || fail "nats-server did not start: $(tail -n 3 "$WORK/nats.log")"

  # Environment and arguments as the chart's agent and coordinator Deployments set them.
  lp_run -d --name "$RUN_ID-agent-0" -e "COORDINATOR=127.0.0.1:$NATS_PORT" -e AGENT_ID=agent-0 \
    -e "NATS_TOKEN=$NATS_TOKEN" "$(lp_ref "$AGENT_IMAGE")" > /dev/null && CONTAINERS+=("$RUN_ID-agent-0")
  lp_run -d --name "$RUN_ID-coordinator" -e "LOADPILOT_API_TOKEN=$API_TOKEN" -e "NATS_TOKEN=$NATS_TOKEN" \
    "$(lp_ref "$COORD_IMAGE")" --serve --listen "127.0.0.1:$API_PORT" --metrics-listen "127.0.0.1:$METRICS_PORT" \
    --nats-url "nats://127.0.0.1:$NATS_PORT" --nats-token "$NATS_TOKEN" --serve-agents 1 > /dev/null \
    && CONTAINERS+=("$RUN_ID-coordinator")
  API=http://127.0.0.1:$API_PORT

  lp_wait 60 "coordinator /healthz" curl -fsS --max-time 2 "$API/healthz"
  check "helm-test script: GET /healthz answers ok (from $COORD_IMAGE, as the test pod does)" \
    lp_run_rm --entrypoint bash "$(lp_ref "$COORD_IMAGE")" -c "$(cat $CHART/files/http-check.sh)" http-check \
      127.0.0.1 "$API_PORT" /healthz ok
  check "GET /readyz is 200 once the agent container has connected (60 s at most)" \
    lp_wait 60 "coordinator /readyz" curl -fsS --max-time 2 "$API/readyz"
  check "POST /run without the API token is refused with 401" \
    test "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X POST --data-binary @"$WORK/plan.json" "$API/run")" = 401

  target_reset
  if curl -sS -N --fail --max-time 120 -H "Authorization: Bearer $API_TOKEN" -H 'Content-Type: application/json' \
       --data-binary @"$WORK/plan.json" "$API/run" > "$WORK/serve-run.ndjson" 2> "$WORK/serve-run.err"; then
    read -r n phase total errors by_agent < <(final_line "$WORK/serve-run.ndjson" agent-0)
    seen=$(target_total)
    check "POST /run through NATS and the agent container: $n lines, last '$phase', $total requests reported ($by_agent by agent-0), $seen at the target, $EXPECTED planned" \
      test "$phase/$total/$errors/$seen/$by_agent" = "done/$EXPECTED/0/$EXPECTED/$EXPECTED"
  else
    cat "$WORK/serve-run.err" | sed 's/^/    /'
    lp_ctr logs "$RUN_ID-coordinator" 2>&1 | tail -n 20 | sed 's/^/    coordinator: /'
    lp_ctr logs "$RUN_ID-agent-0" 2>&1 | tail -n 20 | sed 's/^/    agent: /'
    fail "POST /run with the API token"
  fi
  # The agent counts as connected again once it has announced itself idle after the run.
  lp_wait 15 "the agent gauge" bash -c 'curl -fsS --max-time 5 "$0" > "$1" 2>&1 && grep -q "^loadpilot_agents_connected 1\$" "$1"' \
    "http://127.0.0.1:$METRICS_PORT/metrics" "$WORK/metrics.txt"
  check "GET /metrics on the metrics port: the run's last figures and the agent gauge" \
    bash -c 'grep -q "^loadpilot_requests_total{task=\"browse\"} $1\$" "$0" && grep -q "^loadpilot_agents_connected 1\$" "$0"' \
    "$WORK/metrics.txt" "$EXPECTED"
  if command -v promtool >/dev/null; then
    check "GET /metrics passes promtool check metrics" bash -c 'promtool check metrics < "$0"' "$WORK/metrics.txt"
  else
    skip "promtool check of /metrics: promtool is not installed"
  fi
fi

# --- summary ---------------------------------------------------------------------------------
[[ -s $WORK/sizes ]] && lp_log "image sizes (MB): $(tr '\n' ' ' < "$WORK/sizes")"
lp_log "engine $LP_ENGINE, total $(( $(date +%s) - LP_T0 ))s"
if [[ ${LOADPILOT_DEPLOY_STRICT:-0} == 1 ]] && (( SKIPPED > 0 )); then
  echo "test-deploy: LOADPILOT_DEPLOY_STRICT=1 and $SKIPPED check(s) skipped"
  FAILED=$((FAILED + SKIPPED))
fi
echo "test-deploy: $PASSED passed, $FAILED failed, $SKIPPED skipped"
(( FAILED == 0 ))
