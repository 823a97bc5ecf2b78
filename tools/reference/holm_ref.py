#!/usr/bin/env python3
"""Reference for sdd's Holm adjustment (sdd_holm, src/metrics/boot_table.c).

Writes tests/data/metrics/holm.txt: sets of p-values like those of a
bootstrap (multiples of 1/R, with ties, zeros taken as 1/R, ones) and plain
uniform ones, and their Holm step-down adjusted values computed by
statsmodels' multipletests(method='holm'), an implementation independent of
sdd's. The C test (tests/unit/test_boot_lists.c) checks sdd_holm gives these
values bit for bit. Needs numpy and statsmodels; not needed to build or test
sdd.
Run from the repository root:  python3 tools/reference/holm_ref.py
"""
import os

import numpy as np
from statsmodels.stats.multitest import multipletests

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'data', 'metrics', 'holm.txt')


def main():
    rng = np.random.default_rng(20261129)
    sets = []
    for k in range(40):
        n = int(rng.integers(1, 25))
        if k % 2 == 0:
            reps = int(rng.choice([100, 300, 1000]))
            # bootstrap-like: 2 min(le, ge) / R, ties likely; a zero is taken as 1/R (its bound)
            counts = rng.integers(0, reps // 2 + 1, size=n)
            p = np.minimum(2.0 * counts / reps, 1.0)
            p[p == 0] = 1.0 / reps
        else:
            p = rng.uniform(0.0, 0.3 if k % 4 == 1 else 1.0, size=n)
        sets.append(p)
    with open(OUT, 'w') as f:
        f.write('# p-values and their Holm-adjusted values (statsmodels multipletests, method holm);\n')
        f.write('# written by tools/reference/holm_ref.py; hex floats\n')
        for p in sets:
            adj = multipletests(p, method='holm')[1]
            f.write('set %d\n' % p.size)
            f.write('p %s\n' % ' '.join(float(x).hex() for x in p))
            f.write('adj %s\n' % ' '.join(float(x).hex() for x in adj))
    print('wrote %s: %d sets' % (OUT, len(sets)))


if __name__ == '__main__':
    main()
