#!/usr/bin/env bash
# Makes the Debian 12 base image that the image builds get as BASE where no registry can
# be reached: `mmdebstrap --variant=minbase bookworm` from the apt mirror this machine is
# configured with, as a tarball for `docker import` / `podman import`. Prints its path.
#
# Cached under ${LOADPILOT_CACHE_DIR:-~/.cache/loadpilot}/base/, keyed by the mirror lines
# and the ISO week (so security updates arrive within a week); older tarballs are removed.
#   deploy/base-image.sh            path of the cached tarball, made first if needed
#   deploy/base-image.sh --key      the cache key only (the image tag test-deploy uses)
set -euo pipefail
LP_SCRIPT=base-image
source "$(dirname "$0")/lib.sh"

lp_apt_mirrors
[[ -n $APT_MIRROR ]] || { echo "base-image: no bookworm mirror in /etc/apt/sources.list*; set LOADPILOT_APT_MIRROR" >&2; exit 2; }
lines=("deb $APT_MIRROR bookworm main" "deb $APT_MIRROR bookworm-updates main")
[[ -n $APT_SECURITY_MIRROR ]] && lines+=("deb $APT_SECURITY_MIRROR bookworm-security main")

key=bookworm-minbase-slim-$(date -u +%G-w%V)-$(printf '%s\n' "${lines[@]}" | sha256sum | cut -c1-8)
if [[ ${1:-} == --key ]]; then echo "$key"; exit 0; fi

dir=$(lp_cache_dir)/base
tar=$dir/$key.tar
if [[ -s $tar ]]; then
  echo "$tar"
  exit 0
fi

command -v mmdebstrap >/dev/null || { echo "base-image: mmdebstrap is not installed (Debian package mmdebstrap)" >&2; exit 3; }
mkdir -p "$dir"
tmp=$(mktemp "$dir/.partial.XXXXXX.tar")
trap 'rm -f "$tmp" "$tmp.log"' EXIT
lp_log "mmdebstrap --variant=minbase bookworm from $APT_MIRROR (once per week and mirror)"
# Like debian:bookworm-slim: no manuals, docs (copyright files kept) or translations, in
# the base and in everything apt installs on top of it later.
slim=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
      --dpkgopt='path-exclude=/usr/share/lintian/*')
# merged-/usr set up directly, as debian:bookworm-slim is, instead of through the
# usrmerge package (which would pull perl into every image).
merged=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
if ! timeout 900 mmdebstrap --quiet --variant=minbase --mode=auto "${slim[@]}" "${merged[@]}" bookworm "$tmp" "${lines[@]}" > "$tmp.log" 2>&1; then
  tail -n 20 "$tmp.log" >&2
  rm -f "$tmp.log"
  echo "base-image: mmdebstrap failed (is the mirror $APT_MIRROR reachable?)" >&2
  exit 3
fi
rm -f "$tmp.log"
chmod 644 "$tmp"
mv "$tmp" "$tar"
trap - EXIT
find "$dir" -maxdepth 1 -name 'bookworm-minbase-*.tar' ! -name "$key.tar" -delete
echo "$tar"
