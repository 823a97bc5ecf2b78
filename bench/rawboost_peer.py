#!/usr/bin/python3
"""Peer timing for RawBoost: algorithm 4 (LnL -> ISD -> SSI, dpda_ga's default)
on a 64,600-sample (4.04 s, 16 kHz) clip with numpy/scipy, drawing from
numpy's global RNG in the reference's order (tools/reference/rawboost_ref.py,
NumpyDraws). Prints one JSON line: median and mean wall seconds and mean CPU
seconds (time.process_time) per call over REPS calls with seeds 0..REPS-1,
after one warm-up call (the filter lengths are random, so compare means over
the same number of seeds). Run single-threaded for a fair comparison with sdd:
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/rawboost_peer.py [REPS]
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import rawboost_ref as R  # noqa: E402


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    n = 64600
    t = np.arange(n) / 16000.0
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
    p = R.default_params()
    R.apply(4, x, p, R.NumpyDraws(seed=1000003))
    times, cpu = [], []
    for s in range(reps):
        d = R.NumpyDraws(seed=s)
        c0 = time.process_time()
        t0 = time.perf_counter()
        y = R.apply(4, x, p, d)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert y.shape == (n,)
    print(json.dumps({"peer": "numpy/scipy", "algo": 4, "samples": n, "reps": reps,
                      "median_s": float(np.median(times)), "mean_s": float(np.mean(times)),
                      "cpu_mean_s": float(np.mean(cpu))}))


if __name__ == "__main__":
    main()
