#!/usr/bin/env bash
# Configures and builds sluice into build/ (ccache keeps its cache outside
# the checkout, in ~/.cache/ccache).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
