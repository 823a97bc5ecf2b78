#!/usr/bin/env python3
"""C012 coefficient files for sdd's io/npy.c and metrics/c012.c tests.

The ASVspoof 2021 eval-package stores the t-DCF coefficients of every
attack x codec cell as a dictionary C012[attack][codec] = {'C0', 'C1', 'C2'}
('Pooled' for the pooled row/column) and writes it with
np.array(C012).dump(path) (a pickled 0-d object array; its LA-C012-eval.npy
is such a file); main.py reads it back with np.load(path, allow_pickle=True).
This script builds that dictionary, in that layout, from the ASV fixture of
tools/reference/metrics_ref.py (tests/data/metrics/asv21_la_asv_*.txt, the
eval subset), with metrics_ref.c012 (the eval-package formulas), so that
`sdd eval --asv-c012` must reproduce asv21_la_expected.txt cell for cell.
Two cells differ on purpose: C012['A19']['opus'] is left out and
C012['A13']['gsm'] holds NaNs (both: no min t-DCF in that cell).

Also writes small .npy files for the reader's own tests (tests/data/io):
float64/float32 arrays in .npy versions 1, 2 and 3, an np.save'd object
array, and a 3-value [C0, C1, C2] array.

Run from the repository root:  python3 tools/reference/c012_ref.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import metrics_ref as M  # noqa: E402

ROOT = os.path.join(HERE, '..', '..')
MET = os.path.join(ROOT, 'tests', 'data', 'metrics')
IO = os.path.join(ROOT, 'tests', 'data', 'io')


def asv_rows():
    key = [l.split() for l in open(os.path.join(MET, 'asv21_la_asv_key.txt'))]
    sc = [l.split() for l in open(os.path.join(MET, 'asv21_la_asv_scores.txt'))]
    assert len(key) == len(sc)
    rows = []
    for k, s in zip(key, sc):
        assert k[1] == s[1]
        # spk trial codec trans attack label trim subset
        rows.append((k[7], k[2], k[4], k[5], float(s[2])))
    return [r for r in rows if r[0] == 'eval']


def c012_dict():
    av = asv_rows()
    attacks = sorted({r[2] for r in av if r[3] == 'spoof'})
    codecs = ['none', 'alaw', 'gsm', 'opus']
    out = {}
    for a in attacks + ['Pooled']:
        for c in codecs + ['Pooled']:
            def sel(k):
                return np.array([r[4] for r in av if r[3] == k and (c == 'Pooled' or r[1] == c)
                                 and (k != 'spoof' or a == 'Pooled' or r[2] == a)])
            C0, C1, C2 = M.c012(sel('target'), sel('nontarget'), sel('spoof'))
            out.setdefault(a, {})[c] = {'C0': np.float64(C0), 'C1': np.float64(C1), 'C2': np.float64(C2)}
    del out['A19']['opus']
    out['A13']['gsm'] = {'C0': np.nan, 'C1': np.nan, 'C2': np.nan}
    return out


def main():
    os.makedirs(IO, exist_ok=True)
    d = c012_dict()
    np.array(d).dump(os.path.join(MET, 'asv21_la_c012.npy'))             # the eval-package's way
    np.save(os.path.join(IO, 'npy_c012_save.npy'), np.array(d, dtype=object), allow_pickle=True)
    p = d['Pooled']['Pooled']
    np.save(os.path.join(IO, 'npy_c012_pooled.npy'), np.array([p['C0'], p['C1'], p['C2']], dtype='<f8'))
    a = (np.arange(6, dtype=np.float64).reshape(2, 3) - 2.5) / 3.0
    np.save(os.path.join(IO, 'npy_f8_2x3.npy'), a)
    np.save(os.path.join(IO, 'npy_f4_2x3.npy'), a.astype('<f4'))
    for v in ((2, 0), (3, 0)):
        with open(os.path.join(IO, 'npy_f8_v%d.npy' % v[0]), 'wb') as f:
            np.lib.format.write_array(f, a[1], version=v)
    np.save(os.path.join(IO, 'npy_f8_scalar.npy'), np.float64(0.1))
    print('wrote', os.path.normpath(os.path.join(MET, 'asv21_la_c012.npy')), 'and', os.path.normpath(IO) + '/npy_*.npy')


if __name__ == '__main__':
    sys.exit(main())
