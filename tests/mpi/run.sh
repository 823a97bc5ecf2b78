#!/bin/sh
# Data-parallel tests of a `make MPI=1` build (CI runs them via `make MPI=1 test-mpi`):
#  1. test_mpi_step under -np 2 and -np 1: one step's gradient, losses and
#     BatchNorm running statistics equal those of one process with the global
#     batch (relative 1e-5 on the gradient), align none / pcgrad, both BN modes;
#     test_mpi_step_cu under -np 2: the same on the CUDA backend (emulated on
#     the CPU: BatchNorm sums and the path gradients reduced through the host);
#  2. whole runs: mpirun -np 2 `sdd train` ends with the weights of one process
#     with the same global batch (AASIST-L, cut 4000, 6 bundled clips, batch 2,
#     2 epochs = 6 steps), --align none and pcgrad, within TOL. lr is 1e-6
#     there: Adam turns a rounding-level gradient difference on an element
#     whose gradient is near zero into an update of up to 2 lr, so TOL bounds
#     what 6 steps of that can add up to (4 lr x 6 steps);
#     the same with --accum 2 and --bn-recompute 2, and with --seeds 3,4
#     (also: fresh --seeds runs start, a used OUT is refused with the reason);
#     every run scores the dev set in batches of 2 shared out over the ranks;
#     with --lr 0 its losses and EERs are those of one process, digit for digit;
#  3. a rank killed mid-run (SIGKILL) ends the job with a non-zero status
#     within the timeout (no hang), and --resume from the last checkpoint ends
#     with exactly the weights of an uninterrupted 2-rank run.
# Prints "test_mpi: N passed, M failed" like the unit tests.
set -u
BUILD=${1:-build-mpi}
SDD=$BUILD/sdd
DIFF=$BUILD/tests/params_diff
TOL=${TOL:-2.4e-5}
cd "$(dirname "$0")/../.."
MPIRUN="mpirun --oversubscribe --allow-run-as-root -np 2"
export OMP_NUM_THREADS=1
tmp=$(mktemp -d /tmp/sdd-test-mpi.XXXXXX)
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
printf 'real_01.flac bonafide\nreal_02.flac bonafide\ntts_01.flac spoof\nreal_03.flac bonafide\ntts_02.flac spoof\nreal_04.flac bonafide\n' > "$tmp/list.txt"
common="--train $tmp/list.txt --train-audio tests/data/audio --dev $tmp/list.txt --dev-audio tests/data/audio
        --model AASIST-L --batch 2 --cut 4000 --lr 1e-6 --patience 100 --n-best 2 --workers 0 --threads 1 --quiet --dev-batch 2"

if timeout 300 $MPIRUN "$BUILD/tests/test_mpi_step" "$tmp/list.txt" >"$tmp/err" 2>&1; then ok; else ko "test_mpi_step -np 2"; fi
cat "$tmp/err"
if timeout 300 "$BUILD/tests/test_mpi_step" "$tmp/list.txt" >"$tmp/err" 2>&1; then ok; else ko "test_mpi_step, one process"; fi
grep "failed" "$tmp/err"
if timeout 600 $MPIRUN "$BUILD/tests/test_mpi_step_cu" "$tmp/list.txt" >"$tmp/err" 2>&1; then ok; else ko "test_mpi_step_cu -np 2"; fi
cat "$tmp/err"

for align in none pcgrad; do
  # shellcheck disable=SC2086
  if timeout 300 "$SDD" train $common --align $align --epochs 2 --out "$tmp/one-$align" 2>"$tmp/err"; then ok; else ko "one process, align $align: $(cat "$tmp/err")"; fi
  # shellcheck disable=SC2086
  if timeout 300 $MPIRUN "$SDD" train $common --align $align --epochs 2 --out "$tmp/two-$align" >"$tmp/err" 2>&1; then ok; else ko "2 ranks, align $align: $(tail -5 "$tmp/err")"; fi
  for f in last model; do
    if "$DIFF" "$tmp/one-$align/$f.safetensors" "$tmp/two-$align/$f.safetensors" "$TOL"; then ok; else ko "$f.safetensors: 2 ranks differ from one process (align $align)"; fi
  done
  n1=$(grep -c '"type": "step"' "$tmp/one-$align/log.jsonl"); n2=$(grep -c '"type": "step"' "$tmp/two-$align/log.jsonl")
  if [ "$n1" = "$n2" ] && [ "$n1" -eq 6 ]; then ok; else ko "step lines: $n1 (one) vs $n2 (2 ranks), want 6"; fi
done

# the dev set's batches shared out over the ranks (--dev-batch 2: 3 batches,
# rank 0 forwards two, rank 1 one): with --lr 0 both runs hold the same
# weights and running statistics, so every dev loss and EER in the log (each
# epoch's and the final model's) is that of one process, digit for digit
# shellcheck disable=SC2086
if timeout 300 "$SDD" train $common --lr 0 --epochs 2 --out "$tmp/one-dev" 2>"$tmp/err"; then ok; else ko "one process, --lr 0: $(cat "$tmp/err")"; fi
# shellcheck disable=SC2086
if timeout 300 $MPIRUN "$SDD" train $common --lr 0 --epochs 2 --out "$tmp/two-dev" >"$tmp/err" 2>&1; then ok; else ko "2 ranks, --lr 0: $(tail -5 "$tmp/err")"; fi
if "$DIFF" "$tmp/one-dev/model.safetensors" "$tmp/two-dev/model.safetensors" 0; then ok; else ko "--lr 0: 2 ranks' weights differ from one process"; fi
d1=$(grep -o '"dev_loss": [^,]*, "dev_eer": [^,}]*' "$tmp/one-dev/log.jsonl"); d2=$(grep -o '"dev_loss": [^,]*, "dev_eer": [^,}]*' "$tmp/two-dev/log.jsonl")
if [ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$(echo "$d1" | wc -l)" -eq 3 ]; then ok; else ko "dev scoring over 2 ranks: $d2, one process: $d1"; fi

# --accum and --bn-recompute: 2 ranks against one process (3 steps of 2
# micro-batches, then the averaged model's statistics from 2 batches)
# shellcheck disable=SC2086
if timeout 300 "$SDD" train $common --align pcgrad --epochs 2 --accum 2 --bn-recompute 2 --out "$tmp/one-acc" 2>"$tmp/err"; then ok; else ko "one process, --accum 2: $(cat "$tmp/err")"; fi
# shellcheck disable=SC2086
if timeout 300 $MPIRUN "$SDD" train $common --align pcgrad --epochs 2 --accum 2 --bn-recompute 2 --out "$tmp/two-acc" >"$tmp/err" 2>&1; then ok; else ko "2 ranks, --accum 2: $(tail -5 "$tmp/err")"; fi
# last: the trained weights and running statistics; model: the recomputed
# statistics, of variances up to about 20, compared relative to their size
if "$DIFF" "$tmp/one-acc/last.safetensors" "$tmp/two-acc/last.safetensors" "$TOL"; then ok; else ko "--accum 2: 2 ranks differ from one process"; fi
if "$DIFF" "$tmp/one-acc/model.safetensors" "$tmp/two-acc/model.safetensors" "$TOL" 1e-5; then ok; else ko "--bn-recompute 2: 2 ranks differ from one process"; fi
n1=$(grep -c '"type": "step"' "$tmp/one-acc/log.jsonl"); n2=$(grep -c '"type": "step"' "$tmp/two-acc/log.jsonl")
if [ "$n1" = "$n2" ] && [ "$n1" -eq 2 ]; then ok; else ko "--accum 2 step lines: $n1 (one) vs $n2 (2 ranks), want 2"; fi
if grep -q '"bn_recompute_batches": 2' "$tmp/two-acc/log.jsonl"; then ok; else ko "2 ranks: no final record of 2 recomputation batches"; fi

# --seeds: each seed's run data-parallel, in turn; rank 0 writes the summary
# shellcheck disable=SC2086
if timeout 300 "$SDD" train $common --align pcgrad --epochs 1 --seeds 3,4 --out "$tmp/one-seeds" >"$tmp/one-seeds.out" 2>"$tmp/err"; then ok; else ko "one process, --seeds: $(cat "$tmp/err")"; fi
# shellcheck disable=SC2086
if timeout 300 $MPIRUN "$SDD" train $common --align pcgrad --epochs 1 --seeds 3,4 --out "$tmp/two-seeds" >"$tmp/two-seeds.out" 2>"$tmp/err"; then ok; else ko "2 ranks, --seeds: $(tail -5 "$tmp/err")"; fi
for sd in 3 4; do
  if "$DIFF" "$tmp/one-seeds/seed-$sd/model.safetensors" "$tmp/two-seeds/seed-$sd/model.safetensors" "$TOL"; then ok; else ko "--seeds: seed $sd on 2 ranks differs from one process"; fi
done
if [ "$(grep -c '^[34] ' "$tmp/two-seeds/summary.txt" 2>/dev/null)" = 2 ] && [ "$(grep -c '^dev EER' "$tmp/two-seeds.out")" = 1 ]; then ok
else ko "--seeds on 2 ranks: summary.txt or the printed summary (once) is not right: $(cat "$tmp/two-seeds.out")"; fi
# the lead alone checks OUT; when the other rank created folders too, its
# seed-3/ could make a fresh OUT look like a --seeds run already to that
# check (about one run in three): a few more fresh runs, then one into a
# used OUT, refused with the lead's reason
for i in 1 2 3 4; do
  # shellcheck disable=SC2086
  if timeout 300 $MPIRUN "$SDD" train $common --align pcgrad --epochs 1 --seeds 3,4 --out "$tmp/seeds-$i" >/dev/null 2>"$tmp/err"; then ok
  else ko "2 ranks, --seeds into a fresh OUT (try $i): $(grep 'sdd:' "$tmp/err")"; fi
done
# each seed's closing all-reduce figures are its own run's (the counters are per process)
# shellcheck disable=SC2086
timeout 300 $MPIRUN "$SDD" train $(echo $common | sed 's/--quiet//') --align pcgrad --epochs 1 --seeds 3,4 --out "$tmp/seeds-loud" >/dev/null 2>"$tmp/err"
n=$(grep -o 'ranks: [0-9]* all-reduces' "$tmp/err" | sort -u | wc -l); c=$(grep -c 'ranks: [0-9]* all-reduces' "$tmp/err")
if [ "$c" = 2 ] && [ "$n" = 1 ]; then ok; else ko "--seeds: the seeds' all-reduce counts differ or are missing: $(grep 'all-reduces' "$tmp/err")"; fi
# shellcheck disable=SC2086
if timeout 120 $MPIRUN "$SDD" train $common --align pcgrad --epochs 1 --seeds 3,4 --out "$tmp/two-seeds" >/dev/null 2>"$tmp/err"; then ko "--seeds into a used OUT ran"
elif grep -q 'holds a --seeds run already' "$tmp/err"; then ok
else ko "--seeds into a used OUT: $(grep 'sdd:' "$tmp/err")"; fi

# a batch smaller than the rank count is refused with a clear error
# shellcheck disable=SC2086
if timeout 120 $MPIRUN "$SDD" train $common --batch 1 --epochs 1 --out "$tmp/small" >"$tmp/err" 2>&1; then ko "--batch 1 on 2 ranks ran"
elif grep -q "smaller than the 2 ranks" "$tmp/err"; then ok; else ko "--batch 1 on 2 ranks: $(tail -3 "$tmp/err")"; fi

# the default (MPI-free) build under mpirun refuses instead of training N copies into one folder
if [ -x ./sdd ]; then
  # shellcheck disable=SC2086
  if timeout 120 $MPIRUN ./sdd train $common --epochs 1 --out "$tmp/nompi" >"$tmp/err" 2>&1; then ko "MPI-free ./sdd under mpirun ran"
  elif grep -q "built without MPI" "$tmp/err"; then ok; else ko "MPI-free ./sdd under mpirun: $(tail -3 "$tmp/err")"; fi
fi

# uninterrupted 2-rank reference of 3 epochs
# shellcheck disable=SC2086
if timeout 300 $MPIRUN "$SDD" train $common --epochs 3 --out "$tmp/ref" >"$tmp/err" 2>&1; then ok; else ko "2-rank reference: $(tail -5 "$tmp/err")"; fi
# the same run, one rank killed once the first checkpoint is written
# shellcheck disable=SC2086
timeout 300 $MPIRUN "$SDD" train $common --epochs 50 --out "$tmp/kill" >"$tmp/kill.err" 2>&1 &
job=$!
i=0
while [ ! -f "$tmp/kill/state.safetensors" ] && [ $i -lt 2400 ]; do sleep 0.1; i=$((i + 1)); done
mpi=$(ps -o pid= --ppid "$job" | head -n 1 | tr -d ' ')
rank=$(ps -o pid= --ppid "$mpi" 2>/dev/null | head -n 1 | tr -d ' ')
if [ -n "$rank" ]; then kill -9 "$rank"; ok; else ko "no rank process to kill"; fi
wait $job; rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then ok; else ko "killed job exited with $rc (0: not failed, 124: hung)"; fi
# shellcheck disable=SC2086
if timeout 300 $MPIRUN "$SDD" train $common --epochs 3 --resume --out "$tmp/kill" >"$tmp/err" 2>&1; then ok; else ko "resume: $(tail -5 "$tmp/err")"; fi
if "$DIFF" "$tmp/ref/model.safetensors" "$tmp/kill/model.safetensors" 0; then ok; else ko "resumed 2-rank run differs from the uninterrupted one"; fi

if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
echo "test_mpi: $pass passed, $fail failed"
[ $fail -eq 0 ]
