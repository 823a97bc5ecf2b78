#!/usr/bin/env python3
"""Reference for sdd's int8 linear layers (src/backend/qgemm.c).

Writes tests/data/qgemm/cases.txt: small random linear layers (x, W, b, with
shapes that are not multiples of the kernel's tiles) and y computed here with
numpy from the scheme in src/backend/qgemm.h: W quantized per output row
(symmetric int8), x per row (asymmetric uint8, zero exact), the integer sums
exact, the output in float64 rounded to float32 once. The C test
(tests/unit/test_qgemm.c) checks sdd's y equals these bit for bit, with the
VNNI kernel and with the scalar loop. numpy only; not needed to build or test
sdd.
Run from the repository root:  python3 tools/reference/qgemm_ref.py
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'data', 'qgemm', 'cases.txt')


def quant_weights(w):
    f32 = np.float32
    amax = np.max(np.abs(w), axis=1)
    s = np.where(amax > 0, (amax / f32(127)).astype(f32), f32(1)).astype(f32)
    q = np.clip(np.rint((w / s[:, None]).astype(f32)), -127, 127).astype(np.int64)
    return q, s


def quant_rows(x):
    f32 = np.float32
    lo = np.minimum(x.min(axis=1), f32(0)).astype(f32)
    hi = np.maximum(x.max(axis=1), f32(0)).astype(f32)
    s = np.where(hi > lo, ((hi - lo) / f32(255)).astype(f32), f32(1)).astype(f32)
    z = np.clip(np.rint((-lo / s).astype(f32)), 0, 255)
    a = np.clip(np.rint((x / s[:, None]).astype(f32)) + z[:, None].astype(f32), 0, 255).astype(np.int64)
    return a, s, z.astype(np.int64)


def linear_q8(x, w, b):
    q, sw = quant_weights(w)
    a, sx, z = quant_rows(x)
    acc = a @ q.T                                   # exact in int64
    v = acc - z[:, None] * q.sum(axis=1)[None, :]
    d = v.astype(np.float64) * (sx.astype(np.float64)[:, None] * sw.astype(np.float64)[None, :])
    if b is not None:
        d = d + b.astype(np.float64)[None, :]
    return d.astype(np.float32)


def hexs(a):
    return ' '.join(float(v).hex() for v in np.asarray(a, dtype=np.float32).ravel())


def main():
    rng = np.random.default_rng(2026_11_29)
    shapes = [(7, 13, 21, True), (12, 64, 48, True), (1, 5, 3, False), (13, 70, 40, True), (6, 4, 32, False),
              (20, 131, 33, True)]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        f.write('# int8 linear layers: x (R, din), W (dout, din), b (dout) or none, y (R, dout);\n')
        f.write('# written by tools/reference/qgemm_ref.py; float32 values as hex floats\n')
        for k, (R, din, dout, has_b) in enumerate(shapes):
            x = rng.normal(0, 1, size=(R, din)).astype(np.float32)
            if k == 1:
                x = np.abs(x)          # rows without negatives: zero point 0
            if k == 3:
                x[2] = 0.0             # a row of zeros: scale 1
                x[5] = -np.abs(x[5])   # a row without positives: zero point 255
            w = (rng.normal(0, 0.05, size=(dout, din))).astype(np.float32)
            w[0] = 0.0                 # a weight row of zeros: scale 1
            b = rng.normal(0, 0.1, size=dout).astype(np.float32) if has_b else None
            y = linear_q8(x, w, b)
            f.write('case %d %d %d %d\n' % (R, din, dout, 1 if has_b else 0))
            f.write('x %s\n' % hexs(x))
            f.write('w %s\n' % hexs(w))
            if has_b:
                f.write('b %s\n' % hexs(b))
            f.write('y %s\n' % hexs(y))
    print('wrote %s: %d cases' % (OUT, len(shapes)))


if __name__ == '__main__':
    main()
