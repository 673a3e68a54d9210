#!/usr/bin/env bash
# Configures and builds sluice into build/ (ccache keeps its cache outside
# the checkout, in ~/.cache/ccache).
set -euo pipefail
cd "$(dirname "$0")/.."
# Paths relative to the checkout in ccache's hashes, so another clone of the
# repository (CI's fresh one) reuses the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
