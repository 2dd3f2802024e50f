#!/usr/bin/env bash
# Runs every unit test binary given; prints a summary; fails if any failed.
set -u
build=$1; shift
fail=0; n=0
for t in "$@"; do
  n=$((n+1))
  if ! out=$("$t" 2>&1); then
    echo "FAIL $t"; echo "$out" | tail -40; fail=$((fail+1))
  else
    echo "ok   $t ($(echo "$out" | grep -c '\[       OK \]') cases)"
  fi
done
echo "unit: $((n-fail))/$n test programs passed"
[ $fail -eq 0 ]
