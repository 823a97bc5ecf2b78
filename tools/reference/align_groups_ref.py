#!/usr/bin/python3
"""Reference fixture for grouped gradient alignment (sdd train --align-groups;
tests/data/train/align_groups.safetensors).

Grouped alignment applies the reference's whole-vector alignment of
train_ref.py (PCGrad, GradVac, CAGrad; reference-spec section 7) to each
group [off, off + n) of the flat gradient on its own: each group has its own
dot products and, for GradVac, its own running targets rho_T (2 x 2, zeros at
the start, carried from step to step). Groups tile the vector.

Three steps of random gradient pairs over 1,000 floats in five groups, each
group built to conflict or agree to a different degree (one all-zero group:
a buffer). Written from the description above, not from sdd's C.
Needs numpy and scipy (no torch): python3 tools/reference/align_groups_ref.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write  # noqa: E402
from train_ref import pcgrad, gradvac, cagrad  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "data", "train")
BOUNDS = [0, 96, 400, 416, 512, 1000]          # five groups; [416, 512) stays zero
MIX = [-0.8, 0.6, 0.0, None, -0.2]             # g1 = MIX * g0 + noise per group (None: zero group)


def main():
    rng = np.random.default_rng(77)
    n = BOUNDS[-1]
    ng = len(BOUNDS) - 1
    tensors = {"offsets": np.array(BOUNDS[:-1], dtype=np.int64), "sizes": np.diff(BOUNDS).astype(np.int64)}
    rho = np.zeros((ng, 2, 2))
    for step in range(3):
        g0 = np.zeros(n)
        g1 = np.zeros(n)
        for k in range(ng):
            a, b = BOUNDS[k], BOUNDS[k + 1]
            if MIX[k] is None:
                continue
            x = rng.standard_normal(b - a) * (1 + k)
            g0[a:b] = x
            g1[a:b] = (MIX[k] + 0.3 * step) * x + 0.5 * rng.standard_normal(b - a)
        g = [g0.astype(np.float32).astype(np.float64), g1.astype(np.float32).astype(np.float64)]
        tensors["step%d/g0" % step] = g[0].astype(np.float32)
        tensors["step%d/g1" % step] = g[1].astype(np.float32)
        out = {m: np.zeros(n) for m in ("pcgrad", "gradvac", "cagrad")}
        conflicts = 0
        for k in range(ng):
            a, b = BOUNDS[k], BOUNDS[k + 1]
            gk = [g[0][a:b], g[1][a:b]]
            conflicts += int(gk[0] @ gk[1] < 0)
            out["pcgrad"][a:b] = pcgrad(gk)
            out["gradvac"][a:b] = gradvac(gk, rho[k])
            out["cagrad"][a:b] = cagrad(gk)[0]
        for m, v in out.items():
            tensors["step%d/%s" % (step, m)] = v.astype(np.float32)
        tensors["step%d/gradvac_rho_after" % step] = rho.reshape(-1).copy()
        tensors["step%d/conflicts" % step] = np.array(conflicts, dtype=np.int64)
        print("step %d: %d of %d groups in conflict, whole-vector dot %.4g" % (step, conflicts, ng, g[0] @ g[1]))
    meta = {"generator": "tools/reference/align_groups_ref.py", "groups": str(ng), "steps": "3"}
    path = os.path.join(OUT, "align_groups.safetensors")
    st_write.save(path, tensors, meta)
    print("wrote", path)


if __name__ == "__main__":
    main()
