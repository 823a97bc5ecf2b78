#!/bin/sh
# Line coverage of the library and the CLI by the unit suite (make coverage):
# reads the gcov counters a `--coverage` build left in BUILD (default
# build-cov/) after the suite ran, and writes BUILD/coverage.txt:
#   - one line per source file, least covered first: percent, lines run of
#     lines, file;
#   - the total;
#   - every function the suite never entered, by file (the first place to
#     look for an untested path).
# The CUDA sources (.cu) are not in a CPU build and are not listed. Counts
# from OpenMP threads are not atomic: a line's count can be low, but a line
# run is never reported as not run.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build-cov}
OUT=$B/coverage.txt
TMP=$B/gcov-tmp
rm -rf "$TMP"
mkdir -p "$TMP"
for src in src/*/*.c; do
  obj=$B/${src%.c}.o
  [ -f "${obj%.o}.gcda" ] || { echo "0 0 $src never-run" >> "$TMP/files"; continue; }
  # -n: no .gcov files; -f: per-function lines too
  gcov -n -f -o "$(dirname "$obj")" "$src" 2>/dev/null > "$TMP/one" || true
  awk -v want="$src" '
    /^Function / { fn = $2; gsub(/\047/, "", fn); next }
    /^File / { f = $2; gsub(/\047/, "", f); fn = ""; next }
    /^Lines executed:/ {
      split($0, a, /[:% ]+/); pct = a[3]; n = $NF
      if (fn != "" && pct + 0 == 0) print "fn", want, fn, n
      else if (fn == "" && f == want) { print "file", pct, n, want; f = "" }
      fn = ""
    }' "$TMP/one" >> "$TMP/raw"
done
{
  echo "# line coverage by the unit suite ($(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u '+%Y-%m-%d %H:%M UTC'))"
  echo "# percent  lines-run/lines  file"
  grep '^file ' "$TMP/raw" | awk '{ run = int($2 * $3 / 100 + 0.5); printf "%6.1f%%  %5d/%-5d  %s\n", $2, run, $3, $4 }' | sort -n
  [ -f "$TMP/files" ] && awk '{ printf "%6.1f%%  %5d/%-5s  %s (no counters: never run)\n", 0, 0, "?", $3 }' "$TMP/files"
  grep '^file ' "$TMP/raw" | awk '{ run += $2 * $3 / 100; all += $3 } END { printf "total: %.1f%% of %d lines (%d run)\n", 100 * run / all, all, run + 0.5 }'
  echo
  echo "# functions never entered"
  grep '^fn ' "$TMP/raw" | awk '{ printf "%s  %s (%s lines)\n", $2, $3, $4 }' | sort
} > "$OUT"
rm -rf "$TMP"
grep '^total:' "$OUT"
echo "coverage: $OUT"
