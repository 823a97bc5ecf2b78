#!/usr/bin/python3
"""PyTorch peer for the XLSR-AASIST benchmark (bench/run_xlsr): the reference
module of tools/reference/xlsr_ref.py with the XLS-R 300M configuration and
random weights (timing only), float32, CPU.

Usage:
    /usr/bin/python3 bench/xlsr_peer.py [--threads 2] [--batch 2] [--len 66800]
        [--reps 2] [--measure all|eval|train]

  eval   eval-mode forward under torch.no_grad()
  train  train-mode forward + backward (dropout as in training), weighted CE
         [0.1, 0.9], no optimizer step
Each measurement runs in its own subprocess (its own peak RSS) and prints one
JSON line like bench_sdd: best and mean seconds over --reps timed iterations
after one untimed one, and peak RSS in MiB.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))


def measure(a):
    import torch
    import torch.nn.functional as F
    import xlsr_ref
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = xlsr_ref.XLSRAASIST(xlsr_ref.CONFIGS["300m"])
    x = 0.1 * torch.randn(a.batch, a.length)
    y = torch.arange(a.batch) % 2
    w = torch.tensor([0.1, 0.9])
    times = []
    for r in range(a.reps + 1):
        t0 = time.perf_counter()
        if a.measure == "eval":
            m.eval()
            with torch.no_grad():
                m(x)
        else:
            m.train()
            m.zero_grad(set_to_none=True)
            F.cross_entropy(m(x), y, weight=w).backward()
        if r:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    mode = "fwd" if a.measure == "eval" else "fwdbwd"
    print(json.dumps({"impl": "torch", "mode": mode, "arch": "XLSR-AASIST", "batch": a.batch, "len": a.length,
                      "threads": a.threads, "reps": a.reps, "best_s": round(min(times), 4),
                      "mean_s": round(sum(times) / len(times), 4), "peak_rss_mb": round(rss, 1),
                      "torch": torch.__version__}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--len", type=int, default=66800, dest="length")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--measure", default="all", choices=("all", "eval", "train"))
    a = ap.parse_args()
    if a.measure != "all":
        measure(a)
        return 0
    rc = 0
    for m in ("eval", "train"):
        args = [sys.executable, os.path.abspath(__file__), "--threads", str(a.threads), "--batch", str(a.batch),
                "--len", str(a.length), "--reps", str(a.reps), "--measure", m]
        rc |= subprocess.call(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
