#!/bin/sh
# Installs LoadPilot from its Debian 12 packages: the agent (default) or the CLI (--cli).
#
#   sh install.sh [--cli] [--dry-run] [FILE.deb | URL]
#   curl -fsSL https://HOST/install.sh | LOADPILOT_DEB_URL=https://HOST/loadpilot-agent_0.1.0_amd64.deb sh
#   curl -fsSL https://HOST/install.sh | sh -s -- --cli https://HOST/loadpilot_0.1.0_amd64.deb
#   scripts/install.sh [--cli]      # in a checkout: `make package` first, then that package
#
# The package comes from, first match wins: the FILE.deb or URL argument; the URL in
# LOADPILOT_DEB_URL; the URL this copy was published at (PUBLISHED_URL below); the
# LoadPilot checkout this script is in (built with make package).
# It is installed with apt-get, which fetches the libraries it depends on. Idempotent:
# the same version already installed is left alone. Runs as root, or through sudo.
# POSIX sh (dash), so `curl ... | sh` works on a minimal Debian.
#
# Exit codes (docs/install.md):
#   0  installed, or already installed at that version
#   1  the installation failed: download, build or apt-get (its message is above)
#   2  usage: unknown option, nothing to install from, a file that is not the package asked for
#   3  not a system these packages are for: no dpkg/apt (not Debian), or another architecture
#   4  not root, and no sudo to become root

set -eu

AGENT_PACKAGE=loadpilot-agent
CLI_PACKAGE=loadpilot
# Filled in by `make package` in the copy it writes next to the packages when
# LOADPILOT_PACKAGE_URL is set (build/packages/install.sh): published together at that
# URL, `curl -fsSL URL/install.sh | sh` needs no argument.
PUBLISHED_URL='https://github.com/VladislavAkulich/loadpilot/releases/download/v0.1.0'
PUBLISHED_VERSION='0.1.0'

say() { printf 'install.sh: %s\n' "$*"; }
fail() { code=$1; shift; printf 'install.sh: error: %s\n' "$*" >&2; exit "$code"; }

usage() {
  cat <<'EOF'
usage: install.sh [--cli] [--dry-run] [FILE.deb | URL]
  Installs loadpilot-agent (default) or, with --cli, loadpilot (the CLI, the
  coordinator and the demo target) from a .deb file, a URL (or LOADPILOT_DEB_URL),
  or, run from a LoadPilot checkout, from the packages `make package` builds.
  --cli      install the CLI package (loadpilot) instead of the agent
  --dry-run  print what would be done, change nothing
  -h, --help this help
EOF
}

# The checkout this script belongs to, if it was run from a file inside one (not piped
# into sh): its root has the CMakeLists.txt of project loadpilot and the Makefile.
checkout_root() {
  case $0 in
    */install.sh | install.sh) ;;
    *) return 1 ;;
  esac
  [ -f "$0" ] || return 1
  root=$(cd "$(dirname "$0")/.." && pwd) || return 1
  [ -f "$root/Makefile" ] && grep -q '^project(loadpilot ' "$root/CMakeLists.txt" 2>/dev/null || return 1
  printf '%s\n' "$root"
}

checkout_version() {
  sed -n 's/^project(loadpilot VERSION \([0-9][0-9.]*\).*/\1/p' "$1/CMakeLists.txt" | head -n 1
}

check_system() {
  # ID and ID_LIKE say which family a system belongs to (os-release(5)).
  # shellcheck disable=SC1091  # the system's own file, read at run time
  os=$( (. /etc/os-release && printf '%s|%s|%s|%s' "${ID:-}" "${ID_LIKE:-}" "${VERSION_ID:-}" "${PRETTY_NAME:-}") 2>/dev/null || true)
  os_id=${os%%|*}; rest=${os#*|}
  os_like=${rest%%|*}; rest=${rest#*|}
  os_version=${rest%%|*}; os_name=${rest#*|}
  case " $os_id $os_like " in
    *" debian "*) ;;
    *) fail 3 "this is not a Debian system (${os_name:-no /etc/os-release}): the LoadPilot packages are for Debian 12 (bookworm) and need dpkg and apt. Build from source instead: see docs/install.md" ;;
  esac
  if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    fail 3 "$os_name has no dpkg or apt-get: the LoadPilot packages need both. Build from source instead: see docs/install.md"
  fi
  if [ "$os_id" != debian ] || [ "$os_version" != 12 ]; then
    say "warning: the packages are built for Debian 12 (bookworm), this is ${os_name:-$os_id}: apt-get will say if a library they need is missing here"
  fi
  arch=$(dpkg --print-architecture)
  [ "$arch" = amd64 ] || fail 3 "the LoadPilot packages are built for amd64, this machine is $arch: build from source instead (see docs/install.md)"
}

# Sets SUDO to the command that runs apt-get as root ("" when we are root).
need_root() {
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
    say "not root: installing through sudo"
  else
    fail 4 "installing needs root: run this as root, or install sudo"
  fi
}

as_root() {
  if [ -n "$SUDO" ]; then "$SUDO" "$@"; else "$@"; fi
}

# download URL FILE: curl, wget, or apt's own downloader (every Debian has apt).
download() {
  say "downloading $1"
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  elif [ -x /usr/lib/apt/apt-helper ]; then
    /usr/lib/apt/apt-helper download-file "$1" "$2" >/dev/null
  else
    fail 1 "cannot download $1: no curl, wget or apt-helper on this machine"
  fi
}

installed_version() {
  dpkg-query -W -f '${Status} ${Version}\n' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'
}

apt_install() {
  # The lists are empty on a fresh system (container images ship none): fetch them first.
  if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    say "apt-get update (no package lists yet)"
    as_root apt-get update -qq </dev/null
  fi
  # --force-confold: an edited /etc/default/loadpilot-agent is kept on upgrade.
  set -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$1"
  if as_root "$@" </dev/null; then return 0; fi
  say "apt-get install failed; updating the package lists and trying once more"
  as_root apt-get update -qq </dev/null && as_root "$@" </dev/null
}

hints() {
  if [ "$1" = "$AGENT_PACKAGE" ]; then
    cat <<EOF

Start the agent: it connects to the coordinator and waits for a plan
  loadpilot-agent --coordinator HOST:4222 --agent-id agent-0
(HOST is the machine running the coordinator: loadpilot-coordinator --external-agents N.)
Or as a service that comes back after a failure and at boot: set COORDINATOR=HOST:4222
(and NATS_TOKEN, if the coordinator has one) in /etc/default/loadpilot-agent, then
  ${SUDO:+sudo }systemctl enable --now loadpilot-agent@agent-0
The instance name is the agent id. More: /usr/share/doc/loadpilot-agent/install.md
EOF
  else
    cat <<'EOF'

Try it against the bundled demo target:
  loadpilot-target --port 8000 &
  loadpilot run /usr/share/loadpilot/examples/checkout.py --target http://localhost:8000
On agents installed elsewhere (install.sh without --cli on each machine), from here:
  loadpilot-coordinator --external-agents 2 < plan.json
More: /usr/share/doc/loadpilot/ (cli.md, distributed.md, install.md)
EOF
  fi
}

main() {
  package=$AGENT_PACKAGE
  dry_run=0
  source=""
  while [ $# -gt 0 ]; do
    case $1 in
      --cli) package=$CLI_PACKAGE ;;
      --dry-run) dry_run=1 ;;
      -h | --help) usage; exit 0 ;;
      -*) usage >&2; fail 2 "unknown option '$1'" ;;
      *)
        [ -z "$source" ] || fail 2 "one package source at a time: got '$source' and '$1'"
        source=$1
        ;;
    esac
    shift
  done
  [ -n "$source" ] || source=${LOADPILOT_DEB_URL:-}
  if [ -z "$source" ] && [ -n "$PUBLISHED_URL" ]; then
    source=$PUBLISHED_URL/${package}_${PUBLISHED_VERSION}_amd64.deb
  fi

  check_system
  SUDO=""
  [ "$dry_run" -eq 1 ] || need_root

  work=""
  deb=""
  case $source in
    http://* | https://*)
      if [ "$dry_run" -eq 1 ]; then
        say "would download $source"
      else
        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        # Readable by apt's unprivileged downloader (user _apt), so apt does not warn.
        chmod 755 "$work"
        deb=$work/$(basename "$source")
        case $deb in *.deb) ;; *) deb=$work/package.deb ;; esac
        download "$source" "$deb" || fail 1 "could not download $source"
        chmod 644 "$deb"
      fi
      ;;
    "")
      root=$(checkout_root) || fail 2 "nothing to install from: pass a .deb file or a URL, or set LOADPILOT_DEB_URL (curl -fsSL .../install.sh | LOADPILOT_DEB_URL=https://.../${package}_VERSION_amd64.deb sh), or run scripts/install.sh inside a LoadPilot checkout to build the packages"
      version=$(checkout_version "$root")
      deb=$root/build/packages/${package}_${version}_amd64.deb
      if [ "$dry_run" -eq 1 ]; then
        say "would build the packages: make -C $root package"
      else
        say "building the packages from the checkout $root: make -C $root package"
        make -C "$root" package </dev/null || fail 1 "make package failed (its messages are above)"
        [ -f "$deb" ] || fail 1 "make package did not write $deb"
      fi
      ;;
    *)
      [ -f "$source" ] || fail 2 "no such file: $source (pass a .deb file or an http(s):// URL)"
      case $source in /*) deb=$source ;; *) deb=$(pwd)/$source ;; esac
      ;;
  esac

  if [ "$dry_run" -eq 1 ]; then
    say "would install ${deb:-the downloaded package} with apt-get install (package $package)"
    exit 0
  fi

  name=$(dpkg-deb -f "$deb" Package 2>/dev/null) || fail 2 "$deb is not a Debian package"
  version=$(dpkg-deb -f "$deb" Version)
  deb_arch=$(dpkg-deb -f "$deb" Architecture)
  if [ "$name" != "$package" ]; then
    if [ "$name" = "$CLI_PACKAGE" ]; then
      fail 2 "$deb is the CLI package ($name): pass --cli to install it, or give the $AGENT_PACKAGE package"
    fi
    fail 2 "$deb is package '$name', not $package"
  fi
  [ "$deb_arch" = "$arch" ] || fail 3 "$deb is for $deb_arch, this machine is $arch"

  if [ "$(installed_version "$package")" = "$version" ]; then
    say "$package $version is already installed: nothing to do"
  else
    was=$(installed_version "$package")
    apt_install "$deb" ||
      fail 1 "apt-get could not install $deb (above). The packages are built for Debian 12 (bookworm): on another release their libraries may not exist; build from source there (docs/install.md)"
    if [ -n "$was" ]; then
      say "upgraded $package from $was to $version"
    else
      say "installed $package $version"
    fi
  fi
  if [ "$package" = "$AGENT_PACKAGE" ]; then
    say "$(loadpilot-agent --version) at $(command -v loadpilot-agent)"
  else
    say "$(loadpilot version | head -n 1) at $(command -v loadpilot); loadpilot-coordinator and loadpilot-target beside it"
  fi
  hints "$package"
}

main "$@"
