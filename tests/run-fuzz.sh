#!/usr/bin/env bash
# Runs each libFuzzer target for N seconds over its seed corpus (fuzz/corpus/<name>).
# New inputs found go to a scratch dir, not into the committed corpus.
set -u
secs=$1; shift
fail=0
for bin in "$@"; do
  name=$(basename "$bin")
  seeds=fuzz/corpus/$name
  scratch=$(mktemp -d)
  mkdir -p "$seeds"
  echo "fuzz: $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
       -print_final_stats=0 "$scratch" "$seeds" > "$scratch.log" 2>&1; then
    echo "FUZZ FAIL $name"; tail -60 "$scratch.log"; fail=1
  else
    grep -E '^#[0-9]+.*DONE' "$scratch.log" | tail -1
  fi
  rm -rf "$scratch" "$scratch.log"
done
exit $fail
