#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of LoadPilot from Debian 12
# packages (and autocannon from npm, for benchmarks only). Idempotent: packages that
# are already installed are skipped, so a second run does no network work.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config
  libssl-dev                      # TLS for https:// targets
  nlohmann-json3-dev              # plan / snapshot JSON (kept out of widely included headers)
  libcli11-dev                    # command-line parsing
  libcpp-httplib-dev              # loadpilot-target, control-plane HTTP
  libgtest-dev googletest         # unit tests
  python3.11-dev pybind11-dev     # embedded CPython in the CLI
  python3-greenlet                # Python mode: virtual users as greenlets on one thread
  libnats-dev                     # distributed mode: the official NATS C client (agents, coordinator)
  liburing-dev                    # io_uring submission for the engine's fixed-rate path
  clang libclang-rt-14-dev        # libFuzzer targets and the sanitizer builds
  dpkg-dev help2man               # make package: dpkg-shlibdeps for Depends:, manual pages from --help
)
TEST_PKGS=(
  python3 python3-pytest          # black-box CLI tests (Debian's /usr/bin/python3)
  nginx-light                     # integration target (plain + TLS)
  openssl curl time procps        # throw-away certificates, probes, CPU accounting
  nats-server                     # a real NATS server: distributed tests run against it and the embedded broker
  iproute2                        # agents in network namespaces of their own (distributed tests)
  chromium fonts-dejavu-core      # the HTML report opened headless: screenshots at 1280/390 px, no network
  python3-pil                     # reading those screenshots' pixels
  prometheus                      # promtool: the /metrics exposition and the Grafana queries checked
)
BENCH_PKGS=(
  wrk hey python3-locust util-linux   # peers and taskset
  linux-perf                          # perf stat -e task-clock (bench/fixed_rate.py)
  liburing-dev                        # bench/uring_probe.sh: the io_uring fixed-rate probe
)
# make test-deploy (LOADPILOT_DEPLOY_DEPS=1): the images built and run for real
DEPLOY_PKGS=(
  docker.io runc                  # a dockerd the test starts and stops itself
  podman                          # the other engine, used when dockerd cannot start
  uidmap slirp4netns fuse-overlayfs   # podman and mmdebstrap without root
  mmdebstrap                      # the base image, made from the apt mirror (no registry needed)
)
# make test-package (LOADPILOT_PACKAGE_DEPS=1): both .deb packages installed into a fresh
# Debian 12 root and checked there (tests/package/test-package.sh)
PACKAGE_PKGS=(
  lintian                         # the packages' policy check, every remaining tag overridden with a reason
  mmdebstrap                      # the fresh root, made from the apt mirror
  systemd-container               # systemd-nspawn boots that root to run the unit for real
)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
# The Helm chart checks (deploy/helm-check.sh, part of make test) run helm from an npm
# package: Node.js and npm, Debian's unless a Node.js with npm is already installed.
want+=(unzip)
command -v npm >/dev/null || want+=(nodejs npm)
[[ "${LOADPILOT_BENCH_DEPS:-0}" == 1 ]] && want+=("${BENCH_PKGS[@]}")
[[ "${LOADPILOT_DEPLOY_DEPS:-0}" == 1 ]] && want+=("${DEPLOY_PKGS[@]}")
[[ "${LOADPILOT_PACKAGE_DEPS:-0}" == 1 ]] && want+=("${PACKAGE_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 2; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The prometheus package is here for promtool only. On a machine with systemd it also
# starts a Prometheus on :9090, the port `loadpilot run` serves its metrics on; one this
# script just installed is stopped and disabled (one you had before is left alone).
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  echo "install-deps: stopping the prometheus service the package started (only promtool is needed)"
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
