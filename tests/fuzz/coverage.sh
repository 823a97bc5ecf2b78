#!/bin/sh
# Coverage of the parsers reached by the fuzz corpora: builds every fuzz
# target with clang's source-based coverage (-fprofile-instr-generate
# -fcoverage-mapping, no sanitizers) into build/fuzz-cov/, replays each
# target's corpus once (libFuzzer -runs=0: the committed seeds plus the
# corpus a long run grew, build/fuzz/long/corpus_NAME or build/fuzz/corpus_NAME,
# whichever exists) and prints llvm-cov's line/function/region summary of the
# files that target exercises. Usage: tests/fuzz/coverage.sh [NAME...]
set -eu
cd "$(dirname "$0")/../.."
OUT=build/fuzz-cov
LLVM_COV=${LLVM_COV:-llvm-cov-14}
LLVM_PROFDATA=${LLVM_PROFDATA:-llvm-profdata-14}
names=${*:-"pth safetensors list scores partial audio eval rawboost model model_meta npy calibration sasv recipe runlog xlsr_names"}
files_of() {
  case $1 in
    pth) echo src/io/pth.c ;;
    safetensors) echo src/io/safetensors.c src/io/tensorset.c ;;
    list) echo src/data/list.c src/core/lines.c ;;
    scores) echo src/metrics/scores.c ;;
    partial) echo src/metrics/partial.c ;;
    audio) echo src/audio/decode.c ;;
    eval) echo src/metrics/evaluate.c src/metrics/match.c src/metrics/scores.c src/data/list.c ;;
    rawboost) echo src/audio/rawboost.c ;;
    model) echo src/models/modelio.c ;;
    model_meta) echo src/models/modelio.c src/models/xlsr_seq.c ;;
    npy) echo src/io/npy.c src/metrics/c012.c ;;
    calibration) echo src/metrics/calibration.c ;;
    sasv) echo src/metrics/sasv.c ;;
    recipe) echo src/train/recipe.c src/train/options.c ;;
    runlog) echo src/train/runlog.c ;;
    xlsr_names) echo src/models/xlsr_names.c src/io/tensorset.c ;;
  esac
}
mkdir -p $OUT
for n in $names; do
  make --no-print-directory FUZZ_DIR=$OUT \
    FUZZ_FLAGS="-g -O1 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping" $OUT/fuzz_$n >/dev/null
  dirs=tests/fuzz/corpus/$n
  for d in build/fuzz/long/corpus_$n build/fuzz/corpus_$n; do
    if [ -d "$d" ]; then dirs="$dirs $d"; break; fi
  done
  rm -f $OUT/$n.profraw
  LLVM_PROFILE_FILE=$OUT/$n.profraw $OUT/fuzz_$n -runs=0 -timeout=30 $dirs > $OUT/$n.replay.log 2>&1 || true
  $LLVM_PROFDATA merge -sparse $OUT/$n.profraw -o $OUT/$n.profdata
  echo "== $n: replayed $(grep -o 'INITED.*corp: [0-9]*' $OUT/$n.replay.log | grep -o 'corp: [0-9]*' | head -1) inputs from $dirs"
  $LLVM_COV report $OUT/fuzz_$n -instr-profile=$OUT/$n.profdata $(files_of $n) | \
    grep -v '^-'
done
