#!/bin/sh
# Every GPU check of the CUDA backend, for a machine with a CUDA GPU, in a few
# minutes; results go to $OUT/gpu_results.md (default tests/gpu/out/), the
# raw benchmark lines to $OUT/gpu_bench.jsonl.
#   1. build: make CUDA=1 into build-cuda/ (sm_90 + compute_90 PTX), or,
#      when gpu-carry/pack.tar.xz exists (tests/gpu/pack.sh, for GPU machines
#      without sdd's build dependencies), the binaries and libraries in it
#   2. test_cuda: AASIST / AASIST-L eval logits on CUDA vs the float64
#      reference fixtures (the CPU tests' tolerances) and vs the CPU backend;
#      one DPDA training step per alignment method on CUDA vs the CPU backend
#   3. benchmark: sdd cuda vs sdd cpu, and vs PyTorch cuda when torch with
#      CUDA is installed (said so in the results when it is not)
#   4. compute-sanitizer memcheck on one fixture's forward and on one training
#      step of AASIST-L and of XLSR-AASIST-tiny, in the background during the
#      correctness sections (2 and 5), finished before any benchmark starts
#   5. a short sdd train --device cuda run on the test clips (AASIST-L; XLSR-AASIST-tiny
#      with --ssl-recompute auto deciding by the device's free memory); sdd score,
#      sdd landscape (against the CPU) and sdd bench with --device cuda
#   6. XLS-R: the XLSR-AASIST (300M) eval and training benchmarks (after the
#      benchmark section)
# The real-weight fixtures need the AASIST .pth files: SDD_SHARED (default
# ../shared, or tests/out/shared when that exists) must hold models/.
# Exit status 1 when any check failed. Needs no network.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-tests/gpu/out}
mkdir -p "$OUT"
RES="$OUT/gpu_results.md"
BENCH="$OUT/gpu_bench.jsonl"
B=build-cuda
: > "$BENCH"
[ -z "${SDD_SHARED:-}" ] && [ -d tests/out/shared/models ] && SDD_SHARED=tests/out/shared && export SDD_SHARED
fail=0
log() { printf '%s\n' "$*" | tee -a "$RES"; }
T0=$(date +%s)
section() { printf '\n## %s\n\n```\n' "$1" >> "$RES"; echo "== $1 (at $(( $(date +%s) - T0 )) s)"; }
endsec() { printf '```\n' >> "$RES"; }

{
  echo "# tests/gpu/run.sh results"
  echo
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$RES"
section "device"
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "nvidia-smi not available") | tee -a "$RES"
(nvcc --version 2>&1 | tail -n 2) | tee -a "$RES"
endsec

section "build (make CUDA=1)"
t0=$(date +%s)
if [ -f gpu-carry/pack.tar.xz ]; then
  P=/tmp/sdd-gpu-pack
  rm -rf $P && mkdir -p $P && tar xJf gpu-carry/pack.tar.xz -C $P
  SDD=$P/bin/sdd TC=$P/bin/test_cuda BS=$P/bin/bench_sdd
  export LD_LIBRARY_PATH="$P/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [ -z "${SDD_SHARED:-}" ] && SDD_SHARED=$P/shared && export SDD_SHARED
  log "prebuilt binaries from gpu-carry/pack.tar.xz: $(cat $P/bin/BUILD_INFO 2>/dev/null)"
elif make CUDA=1 BUILD=$B BIN=$B -j"$(nproc)" >"$OUT/build.log" 2>&1; then
  make CUDA=1 BUILD=$B BIN=$B $B/bench/bench_sdd >>"$OUT/build.log" 2>&1
  SDD=$B/sdd TC=$B/tests/gpu/test_cuda BS=$B/bench/bench_sdd
  log "build ok in $(( $(date +%s) - t0 )) s"
else
  tail -n 30 "$OUT/build.log" | tee -a "$RES"; log "BUILD FAILED"; endsec; exit 1
fi
# the CUDA libraries: the toolkit's, else the ones PyTorch's wheels bring
if ldd "$TC" | grep -q 'libcu.*not found'; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $(python3 -c 'import nvidia, os; p = os.path.dirname(nvidia.__path__[0]); print(" ".join(os.path.join(r) for r, _, f in os.walk(p) if any(x.startswith("libcublas.so") or x.startswith("libcudart.so") for x in f)))' 2>/dev/null); do
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:$d"
  done
fi
ldd "$TC" | grep -E 'libcu|not found' | tee -a "$RES"
endsec
if "$TC" --probe | tee -a "$RES" | grep -q '^SKIP test_cuda'; then
  log "no usable CUDA device here: GPU checks not run"
  exit 0
fi

# compute-sanitizer memcheck runs in the background while the correctness
# sections run (they time nothing; the benchmarks start only after it ends);
# its verdicts are written in the compute-sanitizer section
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$CS" ]; then
  ( timeout 60 "$CS" --tool memcheck --error-exitcode 9 "$TC" aasistl_rand.safetensors > "$OUT/sanitizer_memcheck.log" 2>&1
    echo $? > "$OUT/sanitizer_memcheck.rc" ) &
  ( timeout 100 "$CS" --tool memcheck --error-exitcode 9 "$TC" --train-step > "$OUT/sanitizer_train_memcheck.log" 2>&1
    echo $? > "$OUT/sanitizer_train_memcheck.rc" ) &
  # the XLS-R kernels (attention pointer arrays, the lane reductions, conv1d, recomputation) on the tiny model
  ( timeout 180 "$CS" --tool memcheck --error-exitcode 9 "$TC" --train-step XLSR-AASIST-tiny > "$OUT/sanitizer_xlsr_memcheck.log" 2>&1
    echo $? > "$OUT/sanitizer_xlsr_memcheck.rc" ) &
fi

section "reference fixtures on CUDA (test_cuda)"
timeout 150 "$TC" 2>&1 | tee -a "$RES"
[ "$(grep -c '^test_cuda: [0-9]* passed, 0 failed' "$RES")" -ge 1 ] || { fail=1; log "test_cuda FAILED"; }
endsec

section "CLI: sdd train --device cuda (2 epochs on the test clips)"
ls tests/data/audio/*.flac tests/data/audio/*.wav 2>/dev/null | head -n 6 | awk -F/ '{n=$NF; sub(/\.[a-z0-9]+$/, "", n); print "LA_0001 " n " - - " (n ~ /^real/ ? "bonafide" : "spoof")}' > "$OUT/train_list.txt"
timeout 90 "$SDD" train --device cuda --train "$OUT/train_list.txt" --train-audio tests/data/audio --dev "$OUT/train_list.txt" \
  --dev-audio tests/data/audio --out "$OUT/train_cuda" --model AASIST-L --epochs 2 --batch 2 --align pcgrad 2>&1 | tail -n 6 | tee -a "$RES"
[ -f "$OUT/train_cuda/model.safetensors" ] || { fail=1; log "sdd train --device cuda FAILED"; }
endsec

section "CLI: sdd train --device cuda, XLSR-AASIST-tiny, --ssl-recompute auto (the device's free memory)"
timeout 90 "$SDD" train --device cuda --train "$OUT/train_list.txt" --train-audio tests/data/audio --dev "$OUT/train_list.txt" \
  --dev-audio tests/data/audio --out "$OUT/train_cuda_xlsr" --model XLSR-AASIST-tiny --max-steps 2 --batch 2 --cut 16000 2>&1 | tail -n 4 | tee -a "$RES"
grep '"ssl_recompute"' "$OUT/train_cuda_xlsr/log.jsonl" 2>/dev/null | tee -a "$RES" | grep -q '"memory": "device"' \
  || { fail=1; log "sdd train --device cuda --ssl-recompute auto FAILED (no device decision in log.jsonl)"; }
endsec

section "CLI: sdd score --device cuda vs --device cpu"
if [ -f "${SDD_SHARED:-../shared}/models/AASIST.pth" ]; then
  M="${SDD_SHARED:-../shared}/models/AASIST.pth"
  "$SDD" score --device cuda --batch 3 -m "$M" tests/data/audio > "$OUT/score_cuda.txt" 2>&1; rc1=$?
  "$SDD" score --device cpu --batch 3 -m "$M" tests/data/audio > "$OUT/score_cpu.txt" 2>&1; rc2=$?
  paste "$OUT/score_cuda.txt" "$OUT/score_cpu.txt" | awk '{d=$2-$4; if (d<0) d=-d; s=($4<0?-$4:$4); r=d/(s>1?s:1); if (r>m) m=r; n++} END {printf "%d files, worst |cuda - cpu| / max(1, |cpu|) = %.3g\n", n, m}' | tee -a "$RES"
  [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] || { fail=1; log "sdd score FAILED (cuda rc $rc1, cpu rc $rc2)"; head -n 5 "$OUT/score_cuda.txt" | tee -a "$RES"; }
else
  log "skipped: no AASIST.pth under ${SDD_SHARED:-../shared}/models"
fi
endsec

section "CLI: sdd landscape and sdd bench with --device cuda"
if [ -f "${SDD_SHARED:-../shared}/models/AASIST.pth" ]; then
  # the same 1-D landscape (5 points, the six clips) on CUDA and on the CPU: losses within 1e-4 relative
  L="--dirs 1 --steps 5 --range 0.5 --cut 16000 --batch 3 --quiet -m ${SDD_SHARED:-../shared}/models/AASIST.pth --list $OUT/train_list.txt --audio-dir tests/data/audio"
  "$SDD" landscape $L --device cuda -o "$OUT/landscape_cuda.tsv" > "$OUT/landscape.log" 2>&1; rc1=$?
  "$SDD" landscape $L --device cpu -o "$OUT/landscape_cpu.tsv" >> "$OUT/landscape.log" 2>&1; rc2=$?
  if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]; then
    paste "$OUT/landscape_cuda.tsv" "$OUT/landscape_cpu.tsv" | awk -F'\t' '!/^#/ && $1 != "a" && NF >= 8 { for (k = 3; k <= 4; k++) { d = $k - $(k + 4); if (d < 0) d = -d;
      s = $(k + 4) < 0 ? -$(k + 4) : $(k + 4); r = d / (s > 1e-12 ? s : 1); if (r > m) m = r } n++ }
      END { printf "sdd landscape: %d points, worst |cuda - cpu| / |cpu| = %.3g\n", n, m; exit !(n == 5 && m < 1e-4) }' | tee -a "$RES" \
      || { fail=1; log "sdd landscape --device cuda differs from the CPU"; }
  else
    fail=1; log "sdd landscape FAILED (cuda rc $rc1, cpu rc $rc2)"; tail -n 3 "$OUT/landscape.log" | tee -a "$RES"
  fi
else
  log "sdd landscape skipped: no AASIST.pth under ${SDD_SHARED:-../shared}/models"
fi
timeout 60 "$SDD" bench --device cuda --model AASIST --mode step-pcgrad --batch 10 --reps 2 --json > "$OUT/sdd_bench_cuda.jsonl" 2>&1 \
  && grep -q '"device": "cuda"' "$OUT/sdd_bench_cuda.jsonl" && tee -a "$RES" < "$OUT/sdd_bench_cuda.jsonl" \
  || { fail=1; log "sdd bench --device cuda FAILED"; tail -n 3 "$OUT/sdd_bench_cuda.jsonl" | tee -a "$RES"; }
endsec

section "compute-sanitizer (memcheck; started before the fixtures, in the background)"
if [ -n "$CS" ]; then
  wait
  for t in memcheck:"the AASIST-L fixture forward" train_memcheck:"one AASIST-L DPDA (pcgrad) training step" \
           xlsr_memcheck:"one XLSR-AASIST-tiny DPDA (pcgrad) training step"; do
    f=${t%%:*} what=${t#*:} rc=$(cat "$OUT/sanitizer_$f.rc" 2>/dev/null || echo none)
    tail -n 4 "$OUT/sanitizer_$f.log" | tee -a "$RES"
    if [ "$rc" = 124 ]; then log "compute-sanitizer memcheck on $what: timed out (no verdict)"
    else log "compute-sanitizer memcheck on $what: exit $rc"; [ "$rc" = 0 ] || fail=1; fi
  done
else
  log "compute-sanitizer not found"
fi
endsec

section "benchmark: eval forward, 64600 samples per utterance"
timeout 60 "$TC" --bench "$BENCH" 2>&1 | tee -a "$RES"
if /usr/bin/env python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  for mb in AASIST:32; do
    m=${mb%:*} bs=${mb#*:}
    timeout 60 python3 bench/peer_torch.py --device cuda --model $m --batch $bs --reps 20 --warmup 3 --measure eval >> "$BENCH" 2>>"$OUT/peer.log" || log "PyTorch peer $m batch $bs failed"
  done
  log "PyTorch: $(python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))' 2>&1)"
else
  log "PyTorch with CUDA is not installed on this machine: no PyTorch peer numbers"
fi
timeout 90 "$TC" --bench-train "$BENCH" > "$OUT/bench_train.txt" 2>&1; rc=$?
tee -a "$RES" < "$OUT/bench_train.txt"
[ $rc -eq 0 ] || { fail=1; log "training benchmark FAILED (exit $rc; 124: timed out)"; }
if /usr/bin/env python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  for ms in train pcgrad; do
    timeout 60 python3 bench/peer_torch.py --device cuda --model AASIST --batch 10 --reps 10 --warmup 2 --measure $ms >> "$BENCH" 2>>"$OUT/peer.log" || log "PyTorch peer $ms failed"
  done
fi
# the convolutions through im2col + cuBLAS (SDD_CUDA_CONV=im2col) instead of the direct kernel
SDD_CUDA_CONV=im2col timeout 40 "$TC" --bench-train "$BENCH" quick > "$OUT/bench_train_im2col.txt" 2>&1 || log "im2col training benchmark failed or timed out"
grep '^bench-train' "$OUT/bench_train_im2col.txt" | sed 's/^/im2col convs: /' | tee -a "$RES"
# the direct weight-gradient kernel (SDD_CUDA_WGRAD=direct, off by default until measured)
SDD_CUDA_WGRAD=direct timeout 40 "$TC" --bench-train "$BENCH" quick > "$OUT/bench_train_wgrad.txt" 2>&1 || log "direct weight-gradient benchmark failed or timed out"
grep '^bench-train' "$OUT/bench_train_wgrad.txt" | sed 's/^/direct weight gradient: /' | tee -a "$RES"
# TF32 tensor cores (SDD_CUDA_TF32=1, opt-in): step time, and how far the fixture logits move
SDD_CUDA_TF32=1 timeout 40 "$TC" --bench-train "$BENCH" quick > "$OUT/bench_train_tf32.txt" 2>&1 || log "TF32 training benchmark failed or timed out"
grep '^bench-train' "$OUT/bench_train_tf32.txt" | sed 's/^/TF32 /' | tee -a "$RES"
SDD_CUDA_TF32=1 timeout 30 "$TC" aasist_real.safetensors aasistl_real.safetensors 2>&1 | grep 'relative L2' | sed 's/^/TF32 (informational) /' | tee -a "$RES"
# the CLI-side benchmark program (make bench's bench_sdd) on the GPU: full steps and eval forward
for mode in step-none step-pcgrad fwd; do
  [ -x "$BS" ] && timeout 60 "$BS" $mode AASIST 10 64600 5 2 cuda >> "$BENCH" 2>>"$OUT/peer.log" || log "bench_sdd $mode cuda failed"
done
cat "$BENCH" | tee -a "$RES"
endsec
section "XLS-R on CUDA: XLSR-AASIST (300M, random weights) eval forward and dual-path training steps, 66800 samples per utterance"
timeout 90 "$TC" --bench-xlsr "$BENCH" 2>&1 | tee -a "$RES"
grep '"XLSR-AASIST"' "$BENCH" | tee -a "$RES"
[ "$(grep -c '"XLSR-AASIST", "measure": "eval_forward"' "$BENCH")" -eq 3 ] || { fail=1; log "XLS-R eval benchmark FAILED"; }
timeout 270 "$TC" --bench-xlsr-train "$BENCH" 2>&1 | tee -a "$RES"
grep '"XLSR-AASIST", "measure": "train_dual' "$BENCH" | tee -a "$RES"
[ "$(grep '"XLSR-AASIST", "measure": "train_dual' "$BENCH" | grep -c '"math": "fp32"')" -eq 8 ] || { fail=1; log "XLS-R training benchmark FAILED"; }
# TF32 tensor cores (SDD_CUDA_TF32=1, opt-in): two of the pcgrad lines again, and how far the tiny model's fixture logits move
SDD_CUDA_TF32=1 timeout 90 "$TC" --bench-xlsr-train "$BENCH" quick 2>&1 | grep '^bench-xlsr-train' | tee -a "$RES"
[ "$(grep '"XLSR-AASIST", "measure": "train_dual' "$BENCH" | grep -c '"math": "tf32"')" -eq 2 ] || log "XLS-R TF32 training benchmark failed or timed out (informational)"
SDD_CUDA_TF32=1 timeout 30 "$TC" xlsr_aasist_tiny.safetensors 2>&1 | grep 'relative L2' | sed 's/^/TF32 (informational) /' | tee -a "$RES"
# PyTorch eager's reference step on the same card (two backward passes over
# the joint batch: the peer of sdd's joint-BN pcgrad line) and its eval forward
if /usr/bin/env python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  for ms in pcgrad eval; do
    timeout 120 python3 bench/xlsr_peer.py --device cuda --measure $ms --batch 10 --reps 3 >> "$BENCH" 2>>"$OUT/peer.log" || log "PyTorch XLS-R peer $ms failed"
  done
  timeout 120 python3 bench/xlsr_peer.py --device cuda --measure pcgrad --tf32 --batch 10 --reps 3 >> "$BENCH" 2>>"$OUT/peer.log" || log "PyTorch XLS-R peer pcgrad TF32 failed"
  grep '"XLSR-AASIST"' "$BENCH" | grep '"torch"' | tee -a "$RES"
fi
endsec
# GPU time per kernel name from an ncu CSV (informational): the device time the
# profile's wall-clock labels (synchronised after every launch) cannot separate
# from host work
ncu_table() {
  awk -F'","' '/"Metric Name"/ { for (i = 1; i <= NF; i++) { h = $i; gsub(/"/, "", h); col[h] = i }; next }
    col["Metric Name"] && $col["Metric Name"] == "gpu__time_duration.sum" { v = $col["Metric Value"]; gsub(/[",]/, "", v);
      k = $col["Kernel Name"]; sub(/\(.*/, "", k); t[k] += v; n[k]++; all += v }
    END { for (k in t) printf "%10.3f ms %5.1f%% %5d launches  %s\n", t[k] / 1e6, 100 * t[k] / all, n[k], k; printf "%10.3f ms total\n", all / 1e6 }' \
    "$1" | sort -rn | head -n "$2" | tee -a "$RES"
}
section "Nsight Compute: GPU time per kernel of one AASIST-L DPDA (pcgrad) step, B = 4 + 4 (informational)"
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null)
if [ -n "$NCU" ]; then
  timeout 45 "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --print-units base "$TC" --train-step > "$OUT/ncu.csv" 2>"$OUT/ncu.log"
  ncu_table "$OUT/ncu.csv" 25
else
  log "ncu not found"
fi
endsec
section "Nsight Compute: GPU time per kernel of one XLSR-AASIST (300M) DPDA (pcgrad) step, B = 4 + 4 x 64600 (informational)"
if [ -n "$NCU" ]; then
  timeout 120 "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --print-units base "$TC" --train-step XLSR-AASIST > "$OUT/ncu_xlsr.csv" 2>"$OUT/ncu_xlsr.log" \
    || log "ncu on the XLSR-AASIST step failed or timed out (exit $?)"
  ncu_table "$OUT/ncu_xlsr.csv" 40
fi
endsec

log ""
log "overall: $([ $fail -eq 0 ] && echo PASS || echo FAIL)"
exit $fail
