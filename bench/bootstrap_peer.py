#!/usr/bin/env python3
"""Peer of `sdd eval --ci N` for bench/bootstrap_run: the stratified
bootstrap of the EER as one writes it with numpy (each replicate draws the
bona fide and the spoof scores with replacement and runs the official
compute_eer on them: concatenate, mergesort argsort, cumulative sums), and
the percentile interval. Prints one JSON line. numpy only.
usage: bootstrap_peer.py KEY SCORES REPS [LEVEL]
KEY: 'ID bonafide|spoof' lines; SCORES: 'ID SCORE' lines."""
import json
import sys
import time

import numpy as np


def compute_eer(tar, non):
    allsc = np.concatenate((tar, non))
    lab = np.concatenate((np.ones(tar.size), np.zeros(non.size)))
    order = np.argsort(allsc, kind='mergesort')
    lab = lab[order]
    frr = np.concatenate((np.atleast_1d(0), np.cumsum(lab) / tar.size))
    far = np.concatenate((np.atleast_1d(1), (non.size - (np.arange(1, allsc.size + 1) - np.cumsum(lab))) / non.size))
    i = np.argmin(np.abs(frr - far))
    return np.mean((frr[i], far[i]))


def main():
    key, scores, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    level = float(sys.argv[4]) if len(sys.argv) > 4 else 0.95
    t0 = time.perf_counter()
    lab = dict(l.split()[:2] for l in open(key) if l.strip())
    sc = {}
    for l in open(scores):
        f = l.split()
        if len(f) >= 2:
            sc[f[0]] = float(f[1])
    tar = np.array([sc[i] for i, v in lab.items() if v == 'bonafide'])
    non = np.array([sc[i] for i, v in lab.items() if v == 'spoof'])
    t1 = time.perf_counter()
    rng = np.random.default_rng(0)
    e = np.empty(reps)
    for k in range(reps):
        e[k] = compute_eer(tar[rng.integers(0, tar.size, tar.size)], non[rng.integers(0, non.size, non.size)])
    lo, hi = np.quantile(e, [(1 - level) / 2, (1 + level) / 2])
    t2 = time.perf_counter()
    print(json.dumps({"mode": "bootstrap", "impl": "numpy " + np.__version__, "trials": int(tar.size + non.size),
                      "reps": reps, "eer": float(compute_eer(tar, non)), "lo": float(lo), "hi": float(hi),
                      "read_s": t1 - t0, "boot_s": t2 - t1}))


if __name__ == '__main__':
    main()
