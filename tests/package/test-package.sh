#!/usr/bin/env bash
# `make test-package`: the two .deb packages installed into a fresh Debian 12 root and
# used there, which proves that their declared dependencies are complete.
#
#  1. the root: the minbase tarball of deploy/base-image.sh (`mmdebstrap
#     --variant=minbase bookworm` from the host's apt mirror, cached per week), unpacked
#     into a temporary directory;
#  2. in it, through chroot: scripts/install.sh (run by dash) installs loadpilot-agent
#     from its path; the agent alone (before anything else is installed) reports its
#     version, resolves every library, has no Python, and, started with the unit's
#     command line and /etc/default/loadpilot-agent, registers with a
#     loadpilot-coordinator OUTSIDE the root (--external-agents 1, plan on stdin) and
#     fires a run that loadpilot-target (also outside) counts; then install.sh --cli from
#     a URL (no curl in minbase: apt's own downloader); `loadpilot version`,
#     `loadpilot run examples/checkout.py --dry-run`, a Python-mode run the target counts;
#     install.sh again (nothing to do), with the wrong package, without root, through
#     sudo, on a system that says it is not Debian;
#  3. the unit, for real: systemd installed into the same root and booted with
#     systemd-nspawn: `systemctl enable --now loadpilot-agent@agent-1` runs a test,
#     as a dynamic user; killed, it comes back; an agent id it cannot use fails once
#     (no restart loop); an upgrade restarts it and keeps the edited settings; after a
#     reboot it is back and runs the next test; remove stops it, purge removes the
#     settings and the enablement.
#  4. lintian on both packages: no tag left except those overridden with a reason
#     (packaging/lintian/).
#
# Each check prints one `ok -`, `FAIL -` or `skip -` line, then
# `test-package: N passed, N failed, N skipped`. Where this machine cannot do a part
# (not root: no chroot; no systemd-nspawn or it cannot boot), that part is skipped with
# the reason; LOADPILOT_PACKAGE_STRICT=1 counts skips as failures. Every wait is
# bounded; processes are stopped by pid, mounts undone, the root removed (the base
# tarball and apt's downloaded .debs stay cached in ~/.cache/loadpilot).
#
# Environment:
#   LOADPILOT_BUILD            build directory (default build): packages/ and bin/
#   LOADPILOT_CACHE_DIR        cache (default ~/.cache/loadpilot)
#   LOADPILOT_PACKAGE_STRICT=1 a skipped part fails the run
#   LOADPILOT_KEEP_ROOT=1      keep the root (its path is printed) to look around
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
SRC=$PWD
# shellcheck disable=SC2034  # deploy/lib.sh names its messages with it
LP_SCRIPT=test-package
LP_T0=${LP_T0:-$(date +%s)}
source deploy/lib.sh

BUILD=$(realpath -m "${LOADPILOT_BUILD:-build}")   # relative to the checkout, as make passes it
BIN=$BUILD/bin
PKGS=$BUILD/packages
# The whole test skipped (exit 0, the reason printed), a failure under LOADPILOT_PACKAGE_STRICT=1.
skip_all() { [[ ${LOADPILOT_PACKAGE_STRICT:-0} == 1 ]] && lp_die "LOADPILOT_PACKAGE_STRICT=1 and skipped: $*"; lp_skip "$*"; }

[[ $(id -u) -eq 0 ]] || skip_all "installing packages into a root needs root (chroot, mount, systemd-nspawn): run it as root"
# Mounts made below vanish with this process's own mount namespace, however it ends.
if [[ -z ${LP_PACKAGE_NAMESPACE:-} ]] && unshare --mount --propagation private true 2>/dev/null; then
  LP_PACKAGE_NAMESPACE=1 LP_T0=$LP_T0 exec unshare --mount --propagation private "$0" "$@"
fi

VERSION=$(sed -n 's/^project(loadpilot VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
AGENT_DEB=$PKGS/loadpilot-agent_${VERSION}_amd64.deb
CLI_DEB=$PKGS/loadpilot_${VERSION}_amd64.deb
WORK=$(mktemp -d /tmp/lp-package.XXXXXX)
ROOT=$WORK/root
MACHINE=lp-package-$$
PASSED=0 FAILED=0 SKIPPED=0
PIDS=()              # host processes started here: target, coordinators, http server
NSPAWN_PID=""        # the booted root
LEADER=""            # its PID 1 (systemd), as seen from here

ok()   { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip - $*"; }
# check NAME CMD...: one pass/fail line, the command's output shown when it fails.
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then ok "$name"; else fail "$name"; echo "$out" | tail -n 25 | sed 's/^/    /'; fi
}

unmount_root() {
  findmnt -rn -o TARGET | grep "^$ROOT/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}

# wait_exit PID SECONDS: waits (bounded) for a child of this script to end; its exit
# status in EXIT_STATUS (124 when it had to be killed). Not in $(...): only this shell
# can reap its children (lp_stop_pid's kill -0 would wait on a zombie).
EXIT_STATUS=""
running() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }
wait_exit() {
  local i
  for (( i = 0; i < $2 * 10; i++ )); do running "$1" || break; sleep 0.1; done
  if running "$1"; then
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    EXIT_STATUS=124
  else
    wait "$1" 2>/dev/null
    EXIT_STATUS=$?
  fi
}
stop_child() { running "$1" && kill -TERM "$1" 2>/dev/null; wait_exit "$1" "$2"; }

stop_container() {
  [[ -n $NSPAWN_PID ]] || return 0
  # SIGTERM asks systemd-nspawn for an orderly shutdown of the root's systemd.
  stop_child "$NSPAWN_PID" 60
  [[ -n $LEADER ]] && kill -KILL "$LEADER" 2>/dev/null
  NSPAWN_PID="" LEADER=""
  rm -rf "/run/systemd/nspawn/propagate/$MACHINE"
}

# Whatever still runs inside the root (a check that failed half-way): killed by pid.
kill_root_processes() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$ROOT" ]] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  return 0
}

cleanup() {
  local p
  set +e
  stop_container
  for p in "${PIDS[@]}"; do stop_child "$p" 10; done
  kill_root_processes
  unmount_root
  if [[ ${LOADPILOT_KEEP_ROOT:-0} == 1 ]]; then
    lp_log "kept the root: $ROOT"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 0. what this machine has --------------------------------------------------------------
for f in "$AGENT_DEB" "$CLI_DEB"; do
  [[ -f $f ]] || lp_die "$f not found: run 'make package' first (or set LOADPILOT_BUILD)"
done
for b in loadpilot-coordinator loadpilot-target; do
  [[ -x $BIN/$b ]] || lp_die "$BIN/$b not found: run 'make build' first"
done
command -v curl >/dev/null || lp_die "curl is not installed (scripts/install-deps.sh installs it)"

# --- 1. lintian -------------------------------------------------------------------------------
if command -v lintian >/dev/null; then
  # Every level, pedantic included; a tag counts unless packaging/lintian overrides it.
  check "lintian: no tag on either package but the overridden ones (packaging/lintian/, each with its reason)" \
    lintian --pedantic --display-info --fail-on error,warning,info,pedantic "$AGENT_DEB" "$CLI_DEB"
else
  skip "lintian: not installed (LOADPILOT_PACKAGE_DEPS=1 scripts/install-deps.sh installs it)"
fi

# --- 2. the fresh root ---------------------------------------------------------------------------
command -v mmdebstrap >/dev/null || skip_all "mmdebstrap is not installed, so no Debian 12 root can be made (LOADPILOT_PACKAGE_DEPS=1 scripts/install-deps.sh installs it)"
BASE_TAR=$(deploy/base-image.sh)
case $? in
  0) ;;
  3) skip_all "no Debian 12 root could be made here: deploy/base-image.sh failed (see above)" ;;
  *) lp_die "deploy/base-image.sh failed (see above)" ;;
esac
mkdir -p "$ROOT"
tar -xf "$BASE_TAR" -C "$ROOT" --numeric-owner || lp_die "cannot unpack $BASE_TAR into $ROOT"
lp_log "fresh root from $BASE_TAR"

# apt's downloads are kept between runs (the root itself is not): same base, same .debs.
APT_CACHE=$(lp_cache_dir)/package/apt-archives/$(deploy/base-image.sh --key)
mkdir -p "$APT_CACHE/partial"
find "$(dirname "$APT_CACHE")" -mindepth 1 -maxdepth 1 ! -path "$APT_CACHE" -exec rm -rf {} + 2>/dev/null

mount_root() {
  mount -t proc proc "$ROOT/proc" && mount --bind "$APT_CACHE" "$ROOT/var/cache/apt/archives"
}
mount_root || lp_die "cannot mount /proc and the apt cache into $ROOT"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mkdir -p "$ROOT/srv/lp"
cp scripts/install.sh "$AGENT_DEB" "$CLI_DEB" "$ROOT/srv/lp/"

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }

check "the root is fresh Debian 12 minbase: /bin/sh is dash, neither package is installed" \
  bash -c '[[ $(chroot "$0" readlink -f /bin/sh) == /usr/bin/dash ]] && grep -q "^VERSION_ID=\"12\"" "$0/etc/os-release" &&
           ! chroot "$0" dpkg-query -W loadpilot-agent loadpilot' "$ROOT"
in_root apt-get update -qq > "$WORK/apt-update.log" 2>&1 || { cat "$WORK/apt-update.log"; lp_die "apt-get update failed inside the root (is the mirror reachable?)"; }

# --- 3. the agent package, alone ------------------------------------------------------------
TARGET_URL=""
start_target() {
  "$BIN/loadpilot-target" --host 127.0.0.1 --port 0 > "$WORK/target.out" 2>&1 9>&- &
  PIDS+=($!)
  lp_wait 15 "loadpilot-target" grep -q "listening on" "$WORK/target.out" || return 1
  TARGET_URL=$(sed -n 's/^loadpilot-target listening on \(http:[^ ]*\)$/\1/p' "$WORK/target.out")
}
target_stats() { curl -sS --max-time 5 "$TARGET_URL/__stats"; }
target_total() { target_stats | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])'; }
target_reset() { curl -sS --max-time 5 -X POST "$TARGET_URL/__reset" >/dev/null; }
start_target || lp_die "loadpilot-target did not start: $(cat "$WORK/target.out")"

RPS=20 SECS=3 EXPECTED=60
cat > "$WORK/plan.json" <<JSON
{"name": "package-check", "rps": $RPS, "duration_secs": $SECS, "mode": "constant",
 "target_url": "$TARGET_URL", "threads": 1,
 "tasks": [{"name": "browse", "weight": 1, "method": "GET", "url": "/api/products"}]}
JSON
NATS_TOKEN=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

# start_coordinator NAME [PORT]: loadpilot-coordinator on the host, waiting for one
# external agent on its embedded broker (127.0.0.1:$BROKER_PORT, a free port unless
# given, with the token); plan on stdin.
COORD_PID=""
start_coordinator() {
  BROKER_PORT=${2:-$(lp_free_port)}
  target_reset
  timeout -k 5 150 "$BIN/loadpilot-coordinator" --external-agents 1 --broker-addr "127.0.0.1:$BROKER_PORT" \
    --nats-token "$NATS_TOKEN" --wait-for-agents 90s < "$WORK/plan.json" > "$WORK/$1.ndjson" 2> "$WORK/$1.err" 9>&- &
  COORD_PID=$!
  PIDS+=("$COORD_PID")
  lp_wait 15 "the coordinator's broker" grep -q "listening on" "$WORK/$1.err"
}
# coordinator_result NAME AGENT: waits for the run (timeout bounds it: 124 when it
# expired); RESULT is then "phase/requests/errors/target's count/AGENT's requests".
RESULT=""
coordinator_result() {
  local status
  wait "$COORD_PID"
  status=$?
  [[ $status == 0 ]] || { RESULT="coordinator exit $status: $(tail -n 3 "$WORK/$1.err" | tr '\n' ' ')"; return; }
  RESULT=$(/usr/bin/python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
last = json.loads(lines[-1]) if lines else {}
agent = next((a.get("requests") for a in last.get("agents") or [] if a.get("id") == sys.argv[2]), "-")
print("/".join(str(v) for v in (last.get("phase"), last.get("requests_total"), last.get("errors_total"), sys.argv[3], agent)))' \
    "$WORK/$1.ndjson" "$2" "$(target_total)")
}
EXPECT_RUN="done/$EXPECTED/0/$EXPECTED/$EXPECTED"

out=$(in_root sh /srv/lp/install.sh "/srv/lp/$(basename "$AGENT_DEB")" 2>&1)
rc=$?
echo "$out" > "$WORK/install-agent.log"
check "install.sh (dash) installs loadpilot-agent from its path and says how to start it: exit $rc" \
  bash -c '[[ $0 == 0 ]] && grep -q "installed loadpilot-agent $2" <<<"$1" &&
           grep -q "loadpilot-agent --coordinator HOST:4222 --agent-id agent-0" <<<"$1" &&
           grep -q "systemctl enable --now loadpilot-agent@agent-0" <<<"$1" || { echo "$1"; exit 1; }' "$rc" "$out" "$VERSION"
check "loadpilot-agent --version, the package and the project all say $VERSION" \
  bash -c '[[ $(chroot "$0" loadpilot-agent --version) == "loadpilot-agent $1" &&
              $(chroot "$0" dpkg-query -W -f "\${Version}" loadpilot-agent) == "$1" ]]' "$ROOT" "$VERSION"
check "every library of loadpilot-agent resolves in the root, none is Python, and no Python was installed" \
  bash -c 'out=$(chroot "$0" ldd /usr/bin/loadpilot-agent) || exit 1; echo "$out"
           ! grep -q "not found" <<<"$out" && ! grep -qi python <<<"$out" &&
           ! chroot "$0" dpkg-query -W -f "\${Package} \${Status}\n" "libpython3*" "python3*" 2>/dev/null | grep -q "ok installed"' "$ROOT"
check "the unit, its settings (root only, a conffile) and the manual page are installed" \
  bash -c 'test -f "$0/lib/systemd/system/loadpilot-agent@.service" &&
           [[ $(stat -c %a "$0/etc/default/loadpilot-agent") == 600 ]] &&
           grep -qx /etc/default/loadpilot-agent "$0/var/lib/dpkg/info/loadpilot-agent.conffiles"' "$ROOT"

# The agent as its unit starts it (there is no systemd in the root yet): the unit's
# ExecStart with the agent id as instance, its EnvironmentFile edited as docs/install.md says.
UNIT=$ROOT/lib/systemd/system/loadpilot-agent@.service
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT" | sed 's/%i/agent-0/g')
env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$UNIT")
if start_coordinator chroot-run; then
  sed -i "s|^COORDINATOR=.*|COORDINATOR=127.0.0.1:$BROKER_PORT|; s|^#NATS_TOKEN=.*|NATS_TOKEN=$NATS_TOKEN|" "$ROOT$env_file"
  # shellcheck disable=SC2086  # the unit's command line, split as systemd splits it here
  # Not through in_root: the pid must be the agent's (chroot, env and sh each exec the next).
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c 'set -a; . "$1"; set +a; shift; exec "$@"' \
    sh "$env_file" $exec_start > "$WORK/agent-0.log" 2>&1 9>&- &
  AGENT_PID=$!
  coordinator_result chroot-run agent-0
  check "the agent in the root ($exec_start, $env_file) registers with the coordinator outside and fires the run: $RESULT (phase/reported/errors/target/agent-0), $EXPECTED planned" \
    test "$RESULT" = "$EXPECT_RUN"
  running "$AGENT_PID" && alive=yes || alive=no
  kill -TERM "$AGENT_PID" 2>/dev/null
  wait_exit "$AGENT_PID" 10
  check "the agent still waits for the next plan after the run ($alive), and SIGTERM stops it with exit 0 ($EXIT_STATUS)" \
    test "$alive/$EXIT_STATUS" = yes/0
  (( FAILED == 0 )) || tail -n 10 "$WORK/agent-0.log" | sed 's/^/    agent: /'
else
  fail "the coordinator did not start: $(tail -n 5 "$WORK/chroot-run.err")"
fi

# --- 4. the CLI package, from a URL ------------------------------------------------------------
# A web server on 127.0.0.1 with what a release publishes: both packages and the
# install.sh that `make package` writes for that URL (LOADPILOT_PACKAGE_URL).
HTTP_PORT=$(lp_free_port)
PUBLISHED=http://127.0.0.1:$HTTP_PORT
mkdir -p "$WORK/published"
ln -s "$AGENT_DEB" "$CLI_DEB" "$WORK/published/"
cmake -DLP_INSTALLER_URL="$PUBLISHED" -DLP_INSTALLER_VERSION="$VERSION" -DLP_INSTALLER_IN="$SRC/scripts/install.sh" \
  -DLP_INSTALLER_OUT="$WORK/published/install.sh" -P cmake/package.cmake || lp_die "cmake/package.cmake could not write install.sh for $PUBLISHED"
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$WORK/published" "$HTTP_PORT" > "$WORK/http.log" 2>&1 9>&- &
PIDS+=($!)
lp_wait 15 "the package server" curl -fsS -o /dev/null "$PUBLISHED/"
CLI_URL=$PUBLISHED/$(basename "$CLI_DEB")
out=$(in_root env LOADPILOT_DEB_URL="$CLI_URL" sh /srv/lp/install.sh --cli 2>&1)
rc=$?
echo "$out" > "$WORK/install-cli.log"
check "install.sh --cli installs loadpilot from LOADPILOT_DEB_URL (no curl or wget in the root: apt's downloader): exit $rc" \
  bash -c '[[ $0 == 0 ]] && grep -q "downloading $2" <<<"$1" && grep -q "installed loadpilot $3" <<<"$1" || { echo "$1"; exit 1; }' \
  "$rc" "$out" "$CLI_URL" "$VERSION"
check "loadpilot version, loadpilot-coordinator --version and the package all say $VERSION" \
  bash -c '[[ $(chroot "$0" loadpilot version | head -n 1) == "loadpilot $1" &&
              $(chroot "$0" loadpilot-coordinator --version) == "loadpilot-coordinator $1" &&
              $(chroot "$0" dpkg-query -W -f "\${Version}" loadpilot) == "$1" ]]' "$ROOT" "$VERSION"
check "every library of loadpilot, loadpilot-coordinator and loadpilot-target resolves in the root" \
  bash -c 'out=$(chroot "$0" ldd /usr/bin/loadpilot /usr/bin/loadpilot-coordinator /usr/bin/loadpilot-target) || { echo "$out"; exit 1; }
           ! grep -q "not found" <<<"$out" || { echo "$out"; exit 1; }' "$ROOT"
check "loadpilot run examples/checkout.py --dry-run (in /usr/share/loadpilot) prints the plan" \
  bash -c 'out=$(chroot "$0" /bin/sh -c "cd /usr/share/loadpilot && loadpilot run examples/checkout.py --dry-run" 2>/dev/null) &&
           /usr/bin/python3 -c "import json, sys; p = json.loads(sys.argv[1]); assert p[\"name\"] == \"CheckoutFlow\", p" "$out"' "$ROOT"
target_reset
in_root loadpilot run /usr/share/loadpilot/examples/checkout.py --target "$TARGET_URL" --rps 10 --duration 3s \
  --ramp-up 0s --results-json /srv/lp/results.json > "$WORK/python-run.log" 2>&1
rc=$?
check "a Python-mode run of examples/checkout.py in the root (greenlet, the standard library): exit $rc, every request it reports reached the target" \
  bash -c '[[ $0 == 0 || $0 == 1 ]] || { tail -n 20 "$3"; exit 1; }
           /usr/bin/python3 -c "
import json, sys
reported = json.load(open(sys.argv[1]))[\"requests_total\"]
seen = sum(json.loads(sys.argv[2])[\"by_authorization\"].values())  # the tasks carry the login token
print(reported, seen); assert reported == seen == 30, (reported, seen)" "$1" "$2"' \
  "$rc" "$ROOT/srv/lp/results.json" "$(target_stats)" "$WORK/python-run.log"

# --- 5. install.sh's other paths ----------------------------------------------------------------
out=$(in_root sh /srv/lp/install.sh "/srv/lp/$(basename "$AGENT_DEB")" 2>&1)
rc=$?
check "install.sh again: exit $rc, 'already installed: nothing to do', the package untouched" \
  bash -c '[[ $0 == 0 ]] && grep -q "loadpilot-agent $2 is already installed: nothing to do" <<<"$1" &&
           ! grep -q "^install.sh: installed" <<<"$1" || { echo "$1"; exit 1; }' "$rc" "$out" "$VERSION"
out=$(in_root sh /srv/lp/install.sh "/srv/lp/$(basename "$CLI_DEB")" 2>&1)
rc=$?
check "install.sh given the CLI package without --cli: exit $rc (2), says to pass --cli" \
  bash -c '[[ $0 == 2 ]] && grep -q "is the CLI package (loadpilot): pass --cli" <<<"$1" || { echo "$1"; exit 1; }' "$rc" "$out"

in_root useradd --create-home --shell /bin/sh lp >/dev/null 2>&1
as_user() { chroot --userspec=lp:lp "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/lp "$@"; }
out=$(as_user sh /srv/lp/install.sh --cli "/srv/lp/$(basename "$CLI_DEB")" 2>&1)
rc=$?
check "install.sh as a user without sudo: exit $rc (4), says it needs root" \
  bash -c '[[ $0 == 4 ]] && grep -q "installing needs root: run this as root, or install sudo" <<<"$1" || { echo "$1"; exit 1; }' "$rc" "$out"
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sudo > "$WORK/sudo.log" 2>&1 &&
  echo 'lp ALL=(ALL) NOPASSWD: ALL' > "$ROOT/etc/sudoers.d/lp" && chmod 440 "$ROOT/etc/sudoers.d/lp" &&
  in_root apt-get remove -y -qq loadpilot > "$WORK/remove-cli.log" 2>&1
out=$(as_user sh /srv/lp/install.sh --cli "/srv/lp/$(basename "$CLI_DEB")" 2>&1)
rc=$?
check "install.sh as a user with sudo (loadpilot removed first): exit $rc, installs through sudo" \
  bash -c '[[ $0 == 0 ]] && grep -q "not root: installing through sudo" <<<"$1" && grep -q "installed loadpilot $2" <<<"$1" &&
           chroot "$3" test -x /usr/bin/loadpilot || { echo "$1"; exit 1; }' "$rc" "$out" "$VERSION" "$ROOT"

cp "$ROOT/usr/lib/os-release" "$WORK/os-release.debian"
rm -f "$ROOT/etc/os-release"
printf '%s\n' 'NAME="Fedora Linux"' 'VERSION_ID=39' 'ID=fedora' 'PRETTY_NAME="Fedora Linux 39 (Container Image)"' > "$ROOT/etc/os-release"
out=$(in_root sh /srv/lp/install.sh "/srv/lp/$(basename "$AGENT_DEB")" 2>&1)
rc=$?
rm -f "$ROOT/etc/os-release" && ln -s ../usr/lib/os-release "$ROOT/etc/os-release"
check "install.sh on a system whose /etc/os-release is not Debian's: exit $rc (3), names it and says what to do" \
  bash -c '[[ $0 == 3 ]] && grep -q "this is not a Debian system (Fedora Linux 39 (Container Image)" <<<"$1" &&
           grep -q "docs/install.md" <<<"$1" || { echo "$1"; exit 1; }' "$rc" "$out"

# The seed's one-liner on an agent machine, against the published install.sh (curl is
# installed only now: it brings libraries the checks above must not have had).
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl > "$WORK/curl.log" 2>&1 &&
  in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq loadpilot-agent > "$WORK/purge-agent.log" 2>&1
out=$(in_root sh -c "curl -fsSL $PUBLISHED/install.sh | sh" 2>&1)
rc=$?
check "curl -fsSL $PUBLISHED/install.sh | sh (dash; loadpilot-agent purged first): exit $rc, installs the published agent package" \
  bash -c '[[ $0 == 0 ]] && grep -q "downloading $2/loadpilot-agent_$3_amd64.deb" <<<"$1" &&
           grep -q "installed loadpilot-agent $3" <<<"$1" && [[ $(chroot "$4" loadpilot-agent --version) == "loadpilot-agent $3" ]] ||
           { echo "$1"; exit 1; }' "$rc" "$out" "$PUBLISHED" "$VERSION" "$ROOT"

source tests/package/systemd-checks.sh

# --- summary ----------------------------------------------------------------------------------
lp_log "total $(( $(date +%s) - LP_T0 ))s"
if [[ ${LOADPILOT_PACKAGE_STRICT:-0} == 1 ]] && (( SKIPPED > 0 )); then
  echo "test-package: LOADPILOT_PACKAGE_STRICT=1 and $SKIPPED check(s) skipped"
  FAILED=$((FAILED + SKIPPED))
fi
echo "test-package: $PASSED passed, $FAILED failed, $SKIPPED skipped"
(( FAILED == 0 ))
