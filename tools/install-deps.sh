#!/usr/bin/env bash
# Installs everything sluice's build and tests need from Debian bookworm
# packages, plus s3rver (an S3-compatible test server) from npm into a
# directory outside the checkout. Idempotent: a no-op when everything is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache python3 curl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  librocksdb-dev libabsl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libsimdjson-dev tzdata
  libcurl4-openssl-dev libssl-dev  # store/: the S3 client
  prometheus  # e2e: a real Prometheus scrapes every process
  python3-botocore  # store tests: the proxy that verifies S3 signatures
  libpq-dev  # connectors/postgres: the PostgreSQL client
  postgresql  # e2e: a real PostgreSQL for postgres_sink
)
# s3rver runs on Node.js. A Node.js from elsewhere (e.g. NodeSource, which
# bundles npm and conflicts with Debian's npm package) is fine as it is.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# s3rver for the store tests (tests/support/s3_server.py finds it here too).
s3rver_version=3.7.1
tools_dir="${SLUICE_TOOLS_DIR:-$HOME/.cache/sluice-tools}"
installed=$(node -p "require('$tools_dir/node_modules/s3rver/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$s3rver_version" ]; then
  echo "installing s3rver@$s3rver_version into $tools_dir"
  mkdir -p "$tools_dir"
  (cd "$tools_dir" && npm install --no-audit --no-fund --loglevel=error "s3rver@$s3rver_version")
fi
