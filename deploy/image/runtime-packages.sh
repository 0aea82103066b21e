#!/bin/sh
# Prints, one per line as NAME=VERSION, the Debian packages that own the shared libraries
# the given binaries load (ldd), so the image's final stage installs exactly those with apt
# (same versions as the build stage linked against) instead of copying loose .so files.
# Fails, naming the library, when ldd cannot find one or no installed package owns it.
set -eu
[ "$#" -gt 0 ] || { echo "usage: runtime-packages.sh BINARY..." >&2; exit 2; }

libs=$(for bin in "$@"; do
  out=$(ldd "$bin") || { echo "runtime-packages: ldd failed on $bin" >&2; exit 1; }
  if echo "$out" | grep -q "not found"; then
    echo "runtime-packages: $bin needs a library that is not installed:" >&2
    echo "$out" | grep "not found" >&2
    exit 1
  fi
  # "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
  echo "$out" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u)

owner() {  # dpkg's database may hold the path before or after usr-merge: try both
  for path in "$1" "$(readlink -f "$1")"; do
    for candidate in "$path" "${path#/usr}" "/usr${path}"; do
      found=$(dpkg-query -S "$candidate" 2>/dev/null | head -n1 | cut -d: -f1) || true
      if [ -n "$found" ]; then echo "$found"; return 0; fi
    done
  done
  return 1
}

for lib in $libs; do
  pkg=$(owner "$lib") || { echo "runtime-packages: no installed Debian package owns $lib" >&2; exit 1; }
  echo "$pkg=$(dpkg-query -W -f='${Version}' "$pkg")"
done | sort -u
