#!/bin/sh
# Runs every test binary given, sums their "N passed, M failed" lines and ends
# with one such line for the whole suite. Exit status 1 when anything failed.
set -u
pass=0; fail=0; bad=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ]; then
    printf '%s\n' "$out"; echo "$t: crashed or printed no summary (exit $rc)"; bad=$((bad + 1)); continue
  fi
  [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -v ' passed, ' | tail -n 40
  echo "$line"
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  pass=$((pass + p)); fail=$((fail + f))
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && bad=$((bad + 1))
done
fail=$((fail + bad))
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
