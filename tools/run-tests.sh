#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite with ctest
# (unit tests and the end-to-end tests that start real processes).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
cd build
ctest --output-on-failure -j2 --timeout 600
