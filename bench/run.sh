#!/usr/bin/env bash
# Runs every benchmark; each prints its figures and appends them to bench/RESULTS.md.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
/usr/bin/python3 bench/ingest_bench.py "$build"
/usr/bin/python3 bench/query_bench.py "$build"
/usr/bin/python3 bench/memory_bench.py "$build"
/usr/bin/python3 bench/wide_bench.py "$build"
/usr/bin/python3 bench/agent_bench.py "$build"
if [ -x "$build/bench/pprof_decode_bench" ]; then
  "$build/bench/pprof_decode_bench" "${EMBER_TESTDATA:-../shared/testdata}"/go/*.pb.gz | tee -a /dev/stderr | \
    sed "s/^/| $(date +%F) | $(git rev-parse --short HEAD) | $(hostname) ($(nproc) cpu) | /; s/$/ |/" >> bench/RESULTS.md
fi
# UI render time in Chromium (tests/ui: lines such as "ui render 10000 nodes: N ms" that a
# browser test prints go to bench/RESULTS.md); skipped when Chromium is not installed.
if [ -x /usr/bin/chromium ] && [ -d tests/ui/node_modules/playwright-core ]; then
  EMBER_BIN="$(pwd)/$build/ember" node tests/ui/run.js --bench
fi
