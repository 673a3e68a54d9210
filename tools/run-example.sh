#!/usr/bin/env bash
# Installs dependencies, builds, and runs the example job in embedded mode.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
build/tools/sluice run examples/sensor-averages.yaml --workers 2
