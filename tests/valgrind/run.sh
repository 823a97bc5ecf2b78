#!/bin/sh
# valgrind memcheck over every sdd command on the bundled clips: the
# uninitialised reads that AddressSanitizer (make test-asan) does not see.
# Not part of make test or CI (about 20 minutes on 2 cores); run it with
# `make valgrind` after changes to the library's memory handling, and read
# the logs. Needs Debian's valgrind package.
#   1. build: -O1 with -march=x86-64-v3 into build-vg/ (valgrind 3.19 runs no
#      AVX-512): sdd's own AVX-512 kernels are compiled out and their portable
#      C forms run, so those kernels are not checked here (test-asan runs them)
#   2. a tiny corpus from tests/data/audio (4 train, 4 dev, all 6 to eval)
#   3. each command once under memcheck (--track-origins, definite leaks are
#      errors): import, info, train (AASIST-L and the three tiny XLS-R models,
#      one alignment method each, through dev scoring, the final average and
#      --eval), score (cut with the per-thread pool, --full), eval,
#      calibrate, fuse, augment, average, report, landscape
# OPENBLAS_CORETYPE=Haswell: OpenBLAS would otherwise choose by the CPU, and
# sdd's BLAS restart (src/backend/blas.c) would exec out of valgrind.
# Results: build-vg/valgrind/summary.txt (one "NAME rc=N" line each) and a
# log per command; exit status 1 when any command failed or valgrind
# reported an error.
set -u
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null 2>&1 || { echo "make valgrind: valgrind not found (Debian package valgrind)" >&2; exit 1; }
B=build-vg
make -j2 --no-print-directory BUILD=$B BIN=$B OPT=-O1 ARCH=-march=x86-64-v3 $B/sdd >/dev/null || exit 1
SDD_SHARED=${SDD_SHARED:-../shared}
SDD_SHARED=$(cd "$SDD_SHARED" 2>/dev/null && pwd || echo "$SDD_SHARED")
W=$B/valgrind
rm -rf "$W"
mkdir -p "$W"
S=$(pwd)/$B/sdd
A=$(pwd)/tests/data/audio
cd "$W" || exit 1
printf 'R1 real_01 - - bonafide\nT1 tts_01 - A01 spoof\nR2 real_02 - - bonafide\nT2 tts_02 - A02 spoof\n' > train.txt
printf 'R3 real_03 - - bonafide\nT1 tts_01 - A01 spoof\nR4 real_04 - - bonafide\nT2 tts_02 - A02 spoof\n' > dev.txt
cat train.txt dev.txt | sort -u -k2,2 > eval.txt
export OPENBLAS_CORETYPE=Haswell OMP_WAIT_POLICY=passive
V="valgrind -q --error-exitcode=99 --track-origins=yes --leak-check=full --errors-for-leak-kinds=definite"
fail=0
run() {
  name=$1; shift
  $V "$@" > "$name.out" 2> "$name.log"
  rc=$?
  echo "$name rc=$rc" | tee -a summary.txt
  [ $rc -eq 0 ] || fail=1
}
T="--train train.txt --train-audio $A --dev dev.txt --dev-audio $A --batch 2 --cut 2400 --epochs 1 --n-best 1 --max-steps 1 --threads 1 --quiet --eval all=eval.txt:$A"
if [ -f "$SDD_SHARED/models/AASIST-L.pth" ]; then
  run import "$S" import "$SDD_SHARED/models/AASIST-L.pth" -o imported.safetensors
  run info "$S" info imported.safetensors
  run score_full "$S" score -m imported.safetensors --threads 1 --full "$A/real_01.flac"
else
  echo "import, info, score_full: skipped ($SDD_SHARED/models/AASIST-L.pth not found; set SDD_SHARED)" | tee -a summary.txt
fi
run train_aasistl "$S" train --model AASIST-L --out aasistl --align cagrad $T
run train_xlsr_aasist "$S" train --model XLSR-AASIST-tiny --out xaasist --align pcgrad --bn-stats per-path $T
run train_xlsr_mamba "$S" train --model XLSR-Mamba-tiny --out xmamba --align gradvac $T
run train_xlsr_conformer "$S" train --model XLSR-Conformer-TCM-tiny --out xconf --align none $T
run score_pool "$S" score -m aasistl/model.safetensors --threads 2 -o scores.txt "$A"
run score_mamba_full "$S" score -m xmamba/model.safetensors --threads 2 --full "$A/real_02.flac" "$A/tts_02.flac"
awk '{print $1, 0.5 * $2 + 0.1 * NR}' aasistl/scores_all.txt > other.txt
run eval "$S" eval --scores aasistl/scores_all.txt --key eval.txt
run calibrate "$S" calibrate --scores aasistl/scores_all.txt --key eval.txt -o cal.json
run fuse_learn "$S" fuse --scores aasistl/scores_all.txt other.txt --key eval.txt -o fusion.json
run fuse_apply "$S" fuse --apply fusion.json --scores aasistl/scores_all.txt other.txt -o fused.txt
run augment4 "$S" augment --algo 4 --seed 1 "$A/real_01.flac" aug4.wav
run augment8 "$S" augment --algo 8 --seed 2 "$A/tts_01.flac" aug8.flac
run average "$S" average -o avg.safetensors aasistl/best-epoch000.safetensors aasistl/last.safetensors
run report "$S" report --svg report.svg aasistl xaasist xmamba xconf
run landscape "$S" landscape -m aasistl/model.safetensors --list dev.txt --audio-dir "$A" -o land.tsv --svg land.svg --threads 1 --dirs 1 --steps 2 --max-items 2 --cut 2400 --quiet
echo "valgrind: $([ $fail -eq 0 ] && echo 'no errors' || echo 'FAILED: see the logs') in $W"
exit $fail
