#!/bin/sh
# Points apt inside an image build at the given Debian mirror, so a build on a machine
# without internet access uses the same mirror as its host. Reads the build arguments
#   APT_MIRROR           e.g. http://deb.debian.org/debian (bookworm, bookworm-updates)
#   APT_SECURITY_MIRROR  e.g. http://deb.debian.org/debian-security (bookworm-security)
# With APT_MIRROR empty, the base image's own sources are kept (debian:bookworm-slim's).
set -eu
if [ -z "${APT_MIRROR:-}" ]; then
  [ -z "${APT_SECURITY_MIRROR:-}" ] || {
    echo "apt-sources: APT_SECURITY_MIRROR is set but APT_MIRROR is not; set both or neither" >&2
    exit 2
  }
  exit 0
fi
rm -f /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
{
  echo "deb ${APT_MIRROR} bookworm main"
  echo "deb ${APT_MIRROR} bookworm-updates main"
  if [ -n "${APT_SECURITY_MIRROR:-}" ]; then echo "deb ${APT_SECURITY_MIRROR} bookworm-security main"; fi
} > /etc/apt/sources.list
