#!/usr/bin/python3
"""Turns the JSON lines of bench/run into bench/RESULTS.md (markdown on stdout).

usage: report.py SDD.jsonl TORCH_DEFAULT.jsonl TORCH_TUNED.jsonl COMMAND
"""
import json
import platform
import subprocess
import sys
import time

FLOP_FWD = 19.1e9      # one AASIST utterance, forward (issue 8)
FLOP_FWDBWD = 55e9     # forward + backward


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                out[d.get("mode") or d.get("measure")] = d
    return out


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    s, td, tt, cmd = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3]), sys.argv[4]
    # sdd mode -> torch measure, utterances per iteration, flop per utterance
    rows = [("eval forward, batch 10", "fwd", "eval_forward", 10, FLOP_FWD),
            ("train forward+backward, batch 10", "fwdbwd", "train_forward_backward", 10, FLOP_FWDBWD),
            ("dual-path step, 5+5 (sdd: one backward, per-path gradients; PyTorch: reference PCGrad, two backwards + Adam)",
             "dual", "dual_path_pcgrad_step", 10, FLOP_FWDBWD),
            ("inference, batch 1 (10 utterances)", "infer1", "inference_batch1", 10, FLOP_FWD)]
    print("# Benchmarks: sdd vs PyTorch\n")
    print("Produced by `%s` on %s, %s, %s.\n" % (cmd, time.strftime("%Y-%m-%d"), cpu(), platform.machine()))
    print("Same machine, same run, 2 threads, AASIST (random weights: timing only), 64,600 samples per utterance. "
          "PyTorch is Debian's torch (oneDNN), run with the stock allocator and with glibc told to keep large "
          "buffers; ratios are against the faster of the two. Times are the best of the timed repetitions.\n")
    print("| measurement | sdd s | PyTorch stock s | PyTorch tuned s | speed-up vs faster PyTorch | sdd GFLOP/s | sdd peak RSS MB | PyTorch peak RSS MB (stock / tuned) | RSS ratio vs leaner PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, sm, tm, utts, flop in rows:
        a = s.get(sm)
        b, c = td.get(tm), tt.get(tm)
        if not a:
            continue
        st = a["best_s"]
        tb = b["sec_min"] if b else float("nan")
        tc = c["sec_min"] if c else float("nan")
        if sm == "infer1":
            tb, tc = tb * utts, tc * utts   # peer reports seconds per batch-1 call
        best = min(x for x in (tb, tc) if x == x) if (b or c) else float("nan")
        rb = b["peak_rss_mib"] if b else float("nan")
        rc = c["peak_rss_mib"] if c else float("nan")
        lean = min(x for x in (rb, rc) if x == x) if (b or c) else float("nan")
        print("| %s | %.2f | %.2f | %.2f | %.2fx | %.0f | %.0f | %.0f / %.0f | %.2f |" % (
            name, st, tb, tc, best / st, utts * flop / st / 1e9, a["peak_rss_mb"], rb, rc, a["peak_rss_mb"] / lean))
    if s.get("step-none") and s.get("step-pcgrad"):
        plain, al, joint = s["step-none"]["best_s"], s["step-pcgrad"]["best_s"], s.get("step-joint-pcgrad", {}).get("best_s")
        print("\n## Aligned vs plain dual-path step (sdd, full step: forward, backward, alignment, Adam; 5 + 5 x 64,600)\n")
        print("| step | seconds | ratio to plain |")
        print("|---|---|---|")
        print("| plain dual path (`--align none --bn-stats joint`: one loss, one backward) | %.2f | 1.00 |" % plain)
        print("| PCGrad, per-path statistics (default: one backward gives both path gradients) | %.2f | %.2f |" % (al, al / plain))
        if joint:
            print("| PCGrad, joint statistics (the reference recipe: two backward passes) | %.2f | %.2f |" % (joint, joint / plain))
        print("\nTarget (issue 4): the aligned step within 1.1x the plain step.")
    if len(sys.argv) > 5:
        rb = [json.loads(l) for l in open(sys.argv[5]) if l.strip().startswith("{")]
        c = next((d for d in rb if d.get("impl") == "sdd"), None)
        p = next((d for d in rb if d.get("peer")), None)
        if c and p:
            print("\n## RawBoost algorithm 4 (LnL -> ISD -> SSI), 64,000 samples, one thread, mean over %d draws\n" % c["reps"])
            print("| implementation | ms per call | speed-up |")
            print("|---|---|---|")
            print("| numpy/scipy reference (bench/rawboost_peer.py) | %.1f | 1.00 |" % (1e3 * p["mean_s"]))
            print("| sdd | %.1f | %.1fx |" % (1e3 * c["mean_s"], p["mean_s"] / c["mean_s"]))
            print("\nTarget (issue 3): >= 20x.")
    print("\nTargets (issues 2 and 8): a training step at >= 50% of the 2-core FP32 peak (~348 GFLOP/s with AVX-512), "
          ">= 2x the tuned PyTorch; peak RSS <= 0.5x the leaner PyTorch configuration. See the issue notes for where sdd stands.")
    print("\nRaw JSON lines: build/bench/*.jsonl.")


if __name__ == "__main__":
    main()
