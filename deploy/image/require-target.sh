#!/bin/sh
# Fails with a clear message when the CMake build tree in $1 has no target named $2
# (e.g. loadpilot-agent before apps/agent_main.cpp exists), instead of ninja's terse
# "unknown target".
set -eu
build_dir=$1 target=$2
if ! cmake --build "$build_dir" --target help | grep -q "^${target}:"; then
  echo "image build: this source tree has no '${target}' target (its main, apps/*_main.cpp," >&2
  echo "is not there yet, or CMakeLists.txt does not define it); nothing to put in the image." >&2
  echo "Targets it has: $(cmake --build "$build_dir" --target help | sed -n 's/^\(loadpilot[^:]*\):.*/\1/p' | tr '\n' ' ')" >&2
  exit 1
fi
