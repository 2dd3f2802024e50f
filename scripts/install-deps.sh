#!/usr/bin/env bash
# Installs every Debian and npm package Ember's build and tests need.
# Idempotent: packages already present are skipped; safe to run again and again.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

debian_packages=(
  build-essential pkg-config clang llvm libclang-rt-14-dev
  libhttp-parser-dev
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libdeflate-dev zlib1g-dev libzstd-dev
  libjansson-dev libyaml-dev libxxhash-dev libpcre2-dev
  libcurl4-openssl-dev libcmocka-dev
  golang-go prometheus python3 curl
  awscli s3cmd
  chromium fonts-dejavu-core
  libiberty-dev binutils
  bpftool libbpf-dev libelf-dev libdw-dev linux-perf
)
# Node.js (with its npm) may already come from elsewhere (e.g. NodeSource); only ask
# Debian for it when it is absent, since Debian's npm conflicts with NodeSource's nodejs.
command -v node >/dev/null 2>&1 || debian_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || debian_packages+=(npm)

missing=()
for p in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages used by the integration tests (the real Pyroscope Node.js SDK, s3rver).
if [ -f "$here/tests/integ/node/package.json" ] && { [ ! -d "$here/tests/integ/node/node_modules/@pyroscope/nodejs" ] ||
     [ ! -d "$here/tests/integ/node/node_modules/@20minutes/s3rver" ]; }; then
  echo "install-deps: installing npm packages for tests/integ/node"
  (cd "$here/tests/integ/node" && npm install --no-audit --no-fund --silent)
fi

# playwright-core for the browser tests (tests/ui); it drives Debian's chromium, so never
# `npx playwright install` (that downloads a browser).
if [ -f "$here/tests/ui/package.json" ] && [ ! -d "$here/tests/ui/node_modules/playwright-core" ]; then
  echo "install-deps: installing npm packages for tests/ui"
  (cd "$here/tests/ui" && npm ci --no-audit --no-fund --silent)
fi
