#!/usr/bin/env bash
# Runs every integration test (tests/integ/test_*.py) against $EMBER_BIN.
set -u
cd "$(dirname "$0")/integ"
fail=0; n=0
for t in test_*.py; do
  [ -e "$t" ] || continue
  n=$((n+1))
  echo "integ: $t"
  if ! /usr/bin/python3 "$t"; then echo "FAIL $t"; fail=$((fail+1)); fi
done
echo "integ: $((n-fail))/$n passed"
[ $fail -eq 0 ]
