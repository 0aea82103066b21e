# Shared by deploy/*.sh (sourced, not run): logging, the cache directory, the host's apt
# mirror, and one interface over the two container engines this machine can run:
#   docker  a dockerd started by hand (own exec-root, socket and pidfile under a temp
#           dir, data-root in the cache, no bridge, no iptables), stopped by its pid;
#   podman  with --runtime runc, cgroupfs, private storage in the cache, explicit ulimits.
# Both build and run with host networking: nothing here creates bridges or firewall rules.

LP_SCRIPT=${LP_SCRIPT:-$(basename "$0" .sh)}
LP_T0=${LP_T0:-$(date +%s)}

lp_log() { echo "$LP_SCRIPT [$(( $(date +%s) - LP_T0 ))s]: $*" >&2; }
lp_die() { echo "$LP_SCRIPT: FAIL: $*" >&2; exit 1; }
# SKIP: the machine cannot run this check; exit 0 with the reason printed.
lp_skip() { echo "SKIP: $LP_SCRIPT: $*"; exit 0; }

lp_cache_dir() {
  local dir=${LOADPILOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/loadpilot}
  mkdir -p "$dir" && echo "$dir"
}

# Sets APT_MIRROR and APT_SECURITY_MIRROR from the host's apt configuration (deb822
# /etc/apt/sources.list.d/*.sources or one-line sources.list), unless
# LOADPILOT_APT_MIRROR / LOADPILOT_APT_SECURITY_MIRROR say otherwise.
lp_apt_mirrors() {
  local found
  found=$(
    { cat /etc/apt/sources.list 2>/dev/null | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i, $(i+1); break } }'
      for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" } {
               uri = ""; suites = ""; deb = 0
               for (i = 1; i <= NF; i++) {
                 if ($i ~ /^Types:.*deb( |$)/) deb = 1
                 if ($i ~ /^URIs:/) { uri = $i; sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
                 if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
               }
               if (deb && uri != "") { n = split(suites, s, /[ \t]+/); for (j = 1; j <= n; j++) print uri, s[j] }
             }' "$f"
      done
      for f in /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i, $(i+1); break } }' "$f"
      done
    } 2>/dev/null)
  APT_MIRROR=${LOADPILOT_APT_MIRROR:-$(echo "$found" | awk '$2 == "bookworm" { print $1; exit }')}
  APT_SECURITY_MIRROR=${LOADPILOT_APT_SECURITY_MIRROR:-$(echo "$found" | awk '$2 == "bookworm-security" { print $1; exit }')}
  APT_MIRROR=${APT_MIRROR%/}
  APT_SECURITY_MIRROR=${APT_SECURITY_MIRROR%/}
}

# A free TCP port on 127.0.0.1 (bound to port 0 and released; the caller binds it next).
lp_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until a command succeeds: lp_wait SECONDS WHAT CMD...
lp_wait() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < deadline )) || { lp_log "gave up after ${limit}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

# Stops a process we started: SIGTERM, then SIGKILL after SECONDS (default 10).
lp_stop_pid() {
  local pid=$1 grace=${2:-10} i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for (( i = 0; i < grace * 10; i++ )); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# --- container engines -----------------------------------------------------------------
# lp_engine_start ENGINE: prepares ENGINE (docker|podman) or returns 1 with LP_ENGINE_WHY.
# Afterwards: lp_ctr ARGS... runs the engine's CLI; lp_engine_stop undoes the start.
LP_ENGINE=""
LP_ENGINE_WHY=""
LP_ENGINE_TMP=""
LP_DOCKERD_PID=""
# Containers may not raise their limits (no CAP_SYS_RESOURCE here): podman's default
# RLIMIT_NOFILE of 1048576 makes runc fail ("error setting rlimit type 7"), and so does
# an RLIMIT_NPROC at this shell's hard limit ("type 6"). Both engines get the open-file
# hard limit we have and a fixed process limit well below ours.
lp_ulimits() { echo "--ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=4096:4096"; }

lp_ctr() {
  case $LP_ENGINE in
    docker) /usr/bin/docker -H "unix://$LP_ENGINE_TMP/docker.sock" "$@" ;;
    podman) podman --root "$LP_ENGINE_ROOT" --runroot "$LP_ENGINE_TMP/run" --runtime runc \
                   --tmpdir "$LP_ENGINE_TMP/libpod" --cgroup-manager cgroupfs --events-backend file "$@" ;;
  esac
}

lp_engine_start() {
  local engine=$1 cache
  cache=$(lp_cache_dir)/engine
  mkdir -p "$cache"
  LP_ENGINE_TMP=$(mktemp -d /tmp/lp-engine.XXXXXX)
  case $engine in
    docker)
      [[ -x /usr/sbin/dockerd && -x /usr/bin/docker ]] || { LP_ENGINE_WHY="dockerd or docker is not installed (Debian package docker.io)"; return 1; }
      LP_ENGINE_ROOT=$cache/docker
      # A dockerd of an earlier run of this script that was killed before its cleanup
      # still owns the data-root: stop it (its pid was written here by that run).
      if [[ -f $cache/dockerd.pid ]]; then
        local old; old=$(cat "$cache/dockerd.pid")
        if [[ -n "$old" ]] && tr '\0' ' ' < "/proc/$old/cmdline" 2>/dev/null | grep -q -- "--data-root $LP_ENGINE_ROOT"; then
          lp_log "stopping dockerd $old left by an earlier run"
          lp_stop_pid "$old" 20
        fi
        rm -f "$cache/dockerd.pid"
      fi
      LP_ENGINE=docker
      export LP_ENGINE LP_ENGINE_TMP LP_ENGINE_ROOT
      /usr/sbin/dockerd --data-root "$LP_ENGINE_ROOT" --exec-root "$LP_ENGINE_TMP/exec" \
        -H "unix://$LP_ENGINE_TMP/docker.sock" --pidfile "$LP_ENGINE_TMP/docker.pid" \
        --bridge=none --iptables=false --ip-masq=false \
        --containerd-namespace loadpilot-test --containerd-plugins-namespace loadpilot-test-plugins \
        > "$LP_ENGINE_TMP/dockerd.log" 2>&1 9>&- &
      LP_DOCKERD_PID=$!
      echo "$LP_DOCKERD_PID" > "$cache/dockerd.pid"
      if ! lp_wait 60 "dockerd to answer" lp_ctr version; then
        LP_ENGINE_WHY="dockerd did not start: $(tail -n 3 "$LP_ENGINE_TMP/dockerd.log" | tr '\n' ' ')"
        lp_engine_stop
        return 1
      fi
      ;;
    podman)
      command -v podman >/dev/null && command -v runc >/dev/null \
        || { LP_ENGINE_WHY="podman or runc is not installed (Debian packages podman, runc)"; return 1; }
      LP_ENGINE_ROOT=$cache/podman
      LP_ENGINE=podman
      export LP_ENGINE LP_ENGINE_TMP LP_ENGINE_ROOT
      # libpod's database records the runroot and tmpdir it was made with, and ours are
      # new every run: drop it (it holds only container state; the images live in the
      # storage beside it), then the containers an interrupted run left in the storage.
      rm -f "$LP_ENGINE_ROOT/libpod/bolt_state.db"
      local stale
      for stale in $(lp_ctr ps --all --external --format '{{.ID}}' 2>/dev/null); do
        lp_ctr rm --force --storage "$stale" >/dev/null 2>&1 || true
      done
      if ! lp_ctr info >/dev/null 2>"$LP_ENGINE_TMP/podman.log"; then
        LP_ENGINE_WHY="podman info failed: $(tail -n 3 "$LP_ENGINE_TMP/podman.log" | tr '\n' ' ')"
        lp_engine_stop
        return 1
      fi
      ;;
    *) LP_ENGINE_WHY="unknown engine '$engine' (use docker, podman or auto)"; return 1 ;;
  esac
}

lp_engine_stop() {
  if [[ $LP_ENGINE == docker && -n $LP_DOCKERD_PID ]]; then
    lp_stop_pid "$LP_DOCKERD_PID" 30
    rm -f "$(lp_cache_dir)/engine/dockerd.pid"
    LP_DOCKERD_PID=""
  fi
  if [[ $LP_ENGINE == podman ]]; then
    # podman keeps its overlay directory bind-mounted after the last container is gone
    findmnt -rn -o TARGET | grep -x "$LP_ENGINE_ROOT/overlay" | xargs -r -n1 umount -l 2>/dev/null
  fi
  if [[ -n $LP_ENGINE_TMP ]]; then
    # dockerd leaves its default network namespace mounted under exec-root
    findmnt -rn -o TARGET | grep "^$LP_ENGINE_TMP/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$LP_ENGINE_TMP"
  fi
  LP_ENGINE="" LP_ENGINE_TMP=""
}

# lp_build DOCKERFILE TAG [BUILD-ARGS...]: builds from the repository root with host
# networking (apt inside reaches the mirror the host uses).
lp_build() {
  local file=$1 tag=$2; shift 2
  case $LP_ENGINE in
    docker) lp_ctr build --network host -f "$file" -t "$tag" "$@" . ;;
    podman) lp_ctr build --network host $(lp_ulimits) --layers -f "$file" -t "$tag" "$@" . ;;
  esac
}

# lp_ctr_bounded SECONDS ARGS...: lp_ctr that gives up after SECONDS (cleanup paths).
lp_ctr_bounded() { local limit=$1; shift; timeout "$limit" bash -c 'lp_ctr "$@"' lp_ctr "$@"; }

# lp_run ARGS...: `run` with host networking and the ulimits this machine allows.
lp_run() { lp_ctr run --network host $(lp_ulimits) "$@"; }

# Image references: podman names local images localhost/NAME.
lp_ref() { if [[ $LP_ENGINE == podman && $1 != */* ]]; then echo "localhost/$1"; else echo "$1"; fi; }

# So that `timeout N bash -c '...'` and subshells can use them.
export -f lp_log lp_ulimits lp_ctr lp_ctr_bounded lp_build lp_run lp_ref lp_wait
export LP_SCRIPT LP_T0
