#!/usr/bin/env python3
"""Reference values for sdd's ASVspoof 5 metrics, calibration and fusion
(src/metrics/dcf.c, sasv.c, calibration.c), and the fixtures that test them.

A numpy re-implementation, written for sdd, of the formulas of the official
ASVspoof 5 evaluation package (github.com/asvspoof-challenge/asvspoof5,
evaluation-package/calculate_modules.py and a_dcf.py):
  - minDCF: over the official DET curve (metrics_ref.det_curve),
    c = Cmiss * frr * p_target + Cfa * far * (1 - p_target), p_target =
    1 - Pspoof, first strict minimum, divided by min(Cmiss p_target,
    Cfa (1 - p_target)); Pspoof 0.05, Cmiss 1, Cfa 10.
  - actDCF: threshold -log(Cmiss (1 - Pspoof) / (Cfa Pspoof)), miss =
    bona < t, fa = spoof >= t, normalised by min(Cfa Pspoof, Cmiss (1 - Pspoof)).
  - Cllr: 0.5 (mean(log1p(exp(-bona))) + mean(log1p(exp(spoof)))) / log(2).
  - a-DCF: targets, nontargets, spoofs concatenated, mergesort; curve from
    (far_non, far_spoof, frr) = (1, 1, 0) at min - 1e-8, then one point per
    sorted score; a = Cmiss Ptar frr + Cfa_asv Pnon far_non + Cfa_cm Pspoof
    far_spoof, divided by min(Cfa_asv Pnon + Cfa_cm Pspoof, Cmiss Ptar);
    Ptar = 0.95 * 0.99, Pnon = 0.95 * 0.01, Pspoof 0.05, costs 1, 10, 10.
  - min t-DCF (compute_tDCF, the 2021 form) with the organisers' pooled ASV
    error rates that calculate_aDCF_tdcf_tEER uses without ASV scores:
    Pfa_non 0.01881016557566423, Pmiss 0.01880141010575793, Pfa_spoof
    0.4607082907604729; C0 = Ptar Cmiss Pmiss + Pnon Cfa Pfa, C1 = Ptar Cmiss
    - C0 (as written), C2 = Pspoof Cfa_spoof Pfa_spoof; curve (C0 + C1 Pmiss_cm
    + C2 Pfa_cm) / (C0 + min(C1, C2)), first argmin.
  - the per attack x codec table of calculate_minDCF_EER_CLLR_actDCF_full
    and the per-attack a-DCF of calculate_aDCF_tdcf_tEER_full.
Calibration / fusion (not in the official package): prior-weighted linear
logistic regression (FoCal / BOSARIS), minimised here with scipy's
trust-exact solver (sdd uses its own Newton iteration), l2 = 1e-6 on the
weights.
Writes tests/data/metrics/asv5_* and cal_*. Not needed to build or test sdd.
Run from the repository root:  python3 tools/reference/asv5_ref.py
To compare with the official code (not part of sdd): put the package's
calculate_modules.py and a_dcf.py in DIR and run:  asv5_ref.py --official DIR
"""
import math
import os
import sys

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_ref import OUT, det_curve, eer, hx, nums, write  # noqa: E402

PSPOOF, CMISS, CFA = 0.05, 1, 10
ADCF = dict(Ptrg=(1 - PSPOOF) * 0.99, Pnontrg=(1 - PSPOOF) * 0.01, Pspf=PSPOOF, Cmiss=1, Cfa_asv=10, Cfa_cm=10)
L2 = 1e-6


# ---------------------------------------------------------------- metrics

def min_dcf(bona, spoof):
    frr, far, thr = det_curve(bona, spoof)
    p_target = 1 - PSPOOF
    best, best_thr = float('inf'), None
    for i in range(len(frr)):
        c = CMISS * frr[i] * p_target + CFA * far[i] * (1 - p_target)
        if c < best:
            best, best_thr = c, thr[i]
    return best / min(CMISS * p_target, CFA * (1 - p_target)), best_thr


def act_dcf(bona, spoof):
    beta = CMISS * (1 - PSPOOF) / (CFA * PSPOOF)
    t = -np.log(beta)
    miss = np.sum(bona < t) / bona.size
    fa = np.sum(spoof >= t) / spoof.size
    a = CMISS * (1 - PSPOOF) * miss + CFA * PSPOOF * fa
    return a / np.min([CFA * PSPOOF, CMISS * (1 - PSPOOF)]), t


ORG = (0.01881016557566423, 0.01880141010575793, 0.4607082907604729)   # Pfa_non, Pmiss, Pfa_spoof
TDCF = {'Pspoof': PSPOOF, 'Ptar': (1 - PSPOOF) * 0.99, 'Pnon': (1 - PSPOOF) * 0.01, 'Cmiss': 1, 'Cfa': 10,
        'Cfa_spoof': 10}


def min_tdcf_org(bona, spoof):
    """min t-DCF and its CM threshold; None when the scores are not soft."""
    if np.unique(np.concatenate((bona, spoof))).size < 3:
        return None
    pfa, pmiss, pfa_spf = ORG
    c = TDCF
    pm, pf, thr = det_curve(bona, spoof)
    C0 = c['Ptar'] * c['Cmiss'] * pmiss + c['Pnon'] * c['Cfa'] * pfa
    C1 = c['Ptar'] * c['Cmiss'] - (c['Ptar'] * c['Cmiss'] * pmiss + c['Pnon'] * c['Cfa'] * pfa)
    C2 = c['Pspoof'] * c['Cfa_spoof'] * pfa_spf
    curve = (C0 + C1 * pm + C2 * pf) / (C0 + np.minimum(C1, C2))
    i = np.argmin(curve)
    return curve[i], thr[i]


def cllr_official(bona, spoof):
    return 0.5 * (np.mean(np.log1p(np.exp(-bona))) + np.mean(np.log1p(np.exp(spoof)))) / np.log(2)


def a_dcf(tar, non, spf):
    allsc = np.concatenate((tar, non, spf))
    lab = np.concatenate((np.ones_like(tar), np.zeros_like(non), np.ones_like(spf) + 1))
    order = np.argsort(allsc, kind='mergesort')
    lab, sc = lab[order], allsc[order]
    fp_non, fp_spf, fn = len(non), len(spf), 0
    fa_n, fa_s, frr, thr = [1.], [1.], [0.], [float(np.min(sc)) - 1e-8]
    for s, l in zip(sc, lab):
        if l == 0:
            fp_non -= 1
        elif l == 1:
            fn += 1
        else:
            fp_spf -= 1
        fa_n.append(fp_non / len(non))
        fa_s.append(fp_spf / len(spf))
        frr.append(fn / len(tar))
        thr.append(s)
    c = ADCF
    v = np.array([c['Cmiss'] * c['Ptrg']]) * np.array(frr) + np.array([c['Cfa_asv'] * c['Pnontrg']]) * np.array(fa_n) + \
        np.array([c['Cfa_cm'] * c['Pspf']]) * np.array(fa_s)
    acc = np.array([c['Cfa_asv'] * c['Pnontrg'] + c['Cfa_cm'] * c['Pspf']])
    rej = np.array([c['Cmiss'] * c['Ptrg']])
    v = v / min(acc, rej)
    i = np.argmin(v)
    return v[i], thr[i]


# ---------------------------------------------------------------- calibration

def train_lr(X, pos, prior, l2=L2):
    """argmin of P/Nb sum softplus(-(s+o)) + (1-P)/Ns sum softplus(s+o) + l2/2 |w|^2."""
    X = np.asarray(X, dtype=np.float64).reshape(len(pos), -1)
    pos = np.asarray(pos, dtype=bool)
    k = X.shape[1]
    Xt = np.hstack((X, np.ones((X.shape[0], 1))))
    o = math.log(prior / (1 - prior))
    c = np.where(pos, prior / pos.sum(), (1 - prior) / (~pos).sum())
    y = pos.astype(np.float64)
    R = np.diag([l2] * k + [0.0])

    def f(th):
        z = Xt @ th + o
        return np.sum(c * np.where(pos, np.logaddexp(0, -z), np.logaddexp(0, z))) + 0.5 * th @ R @ th

    def g(th):
        z = Xt @ th + o
        return Xt.T @ (c * (1 / (1 + np.exp(-z)) - y)) + R @ th

    def h(th):
        z = Xt @ th + o
        s = 1 / (1 + np.exp(-z))
        return (Xt * (c * s * (1 - s))[:, None]).T @ Xt + R
    r = minimize(f, np.zeros(k + 1), jac=g, hess=h, method='trust-exact', options={'gtol': 1e-14, 'maxiter': 1000})
    th = r.x
    for _ in range(5):  # polish: plain Newton steps from the trust-region answer
        th = th - np.linalg.solve(h(th), g(th))
    assert np.max(np.abs(g(th))) < 1e-15, g(th)
    return th[:k], th[k]


# ---------------------------------------------------------------- fixtures

def dcf_case(name, bona, spoof):
    bona = np.asarray(bona, dtype=np.float64)
    spoof = np.asarray(spoof, dtype=np.float64)
    m, mt = min_dcf(bona, spoof)
    a, at = act_dcf(bona, spoof)
    return ['case ' + name, 'bona ' + nums(bona), 'spoof ' + nums(spoof),
            'dcf %s %s %s %s' % (hx(m), hx(mt), hx(a), hx(at)), 'cllr ' + hx(cllr_official(bona, spoof)), 'end']


def adcf_case(name, tar, non, spf):
    tar, non, spf = (np.asarray(x, dtype=np.float64) for x in (tar, non, spf))
    v, t = a_dcf(tar, non, spf)
    return ['adcf_case ' + name, 'tar ' + nums(tar), 'non ' + nums(non), 'spf ' + nums(spf),
            'adcf %s %s' % (hx(float(v)), hx(float(t))), 'end']


def unit_cases(rng):
    L = []
    L += dcf_case('llr_like', np.round(rng.normal(2.0, 2.0, 300), 2), np.round(rng.normal(-3.0, 2.5, 500), 2))
    L += dcf_case('integer_ties', rng.integers(-3, 4, 60).astype(float), rng.integers(-4, 2, 90).astype(float))
    L += dcf_case('separated', rng.uniform(2, 3, 30), rng.uniform(-1, 1, 50))
    L += dcf_case('reversed', rng.uniform(-1, 1, 30), rng.uniform(2, 3, 50))
    L += dcf_case('at_threshold', [-0.6418538861723947, 0.0, 1.0], [-0.6418538861723947, -1.0, -0.7])
    L += dcf_case('tiny', [0.5], [0.5])
    t32 = [float('%.9g' % np.float32(x)) for x in rng.normal(1.5, 2.0, 1500)]
    n32 = [float('%.9g' % np.float32(x)) for x in rng.normal(-2.5, 2.0, 2500)]
    L += dcf_case('float32', t32, n32)
    L += adcf_case('sasv', rng.normal(3, 1.5, 200), rng.normal(-1, 1.5, 300), rng.normal(0.5, 2, 400))
    L += adcf_case('sasv_ties', np.round(rng.normal(2, 1, 80)), np.round(rng.normal(-1, 1, 90)),
                   np.round(rng.normal(0, 1.5, 100)))
    L += adcf_case('all_equal', [0.0] * 3, [0.0] * 4, [0.0] * 5)
    L += adcf_case('tiny', [1.0], [0.0], [0.5])
    return L


def asv5_pipeline(rng):
    """An ASVspoof 5 eval-style protocol with codecs and attacks, CM scores,
    and track 2 SASV scores with their trial list."""
    attacks = ['A17', 'A18', 'A19', 'A20']
    codecs = ['-', 'C01', 'C02', 'C05']
    proto, scores, rows = [], [], []
    n = 0
    for i in range(900):
        bona = rng.random() < 0.3
        att = 'bonafide' if bona else attacks[rng.integers(len(attacks))]
        cod = codecs[rng.integers(len(codecs))]
        shift = {'-': 0.0, 'C01': -0.5, 'C02': -1.0, 'C05': -1.5}[cod]
        if bona:
            s = rng.normal(2.0 + shift, 1.5)
        else:
            s = rng.normal(-2.0 + {'A17': 0.0, 'A18': 1.0, 'A19': 2.5, 'A20': 3.5}[att], 1.5)
        s = float('%.9g' % np.float32(s))
        fid = 'E_%010d' % (1000 + n)
        n += 1
        q = '-' if cod == '-' else str(rng.integers(1, 9))
        seed = '-' if cod == '-' else 'E_%010d' % (9000000 + n)
        proto.append('E_%04d %s %s %s %s %s %s %s %s -' % (rng.integers(1, 40), fid, 'F' if rng.random() < .5 else 'M',
                                                            cod, q, seed, '-' if bona else 'AC%d' % rng.integers(1, 4),
                                                            att, 'bonafide' if bona else 'spoof'))
        scores.append('%s %.9g' % (fid, s))
        rows.append((att, cod, bona, s))
    write('asv5_protocol.tsv', proto)
    write('asv5_scores.txt', [scores[i] for i in rng.permutation(len(scores))])
    allb = np.array([r[3] for r in rows if r[2]])
    alls = np.array([r[3] for r in rows if not r[2]])
    e, t, _ = eer(allb, alls)
    m, mt = min_dcf(allb, alls)
    a, at = act_dcf(allb, alls)
    exp = ['# generated by tools/reference/asv5_ref.py: pooled, then per attack x codec cells',
           '# pooled EER EER_THR MINDCF MINDCF_THR ACTDCF CLLR; cell ATTACK CODEC NBONA NSPOOF EER MINDCF ACTDCF CLLR',
           'pooled %s %s %s %s %s %s' % (hx(e), hx(t), hx(m), hx(mt), hx(a), hx(cllr_official(allb, alls)))]
    for cod in codecs + ['pooled']:
        b = np.array([r[3] for r in rows if r[2] and (cod == 'pooled' or r[1] == cod)])
        for att in attacks + ['pooled']:
            sp = np.array([r[3] for r in rows if not r[2] and (cod == 'pooled' or r[1] == cod) and
                           (att == 'pooled' or r[0] == att)])
            if len(b) and len(sp):
                exp.append('cell %s %s %d %d %s %s %s %s' % (att, cod, len(b), len(sp), hx(eer(b, sp)[0]),
                                                             hx(min_dcf(b, sp)[0]), hx(act_dcf(b, sp)[0]),
                                                             hx(cllr_official(b, sp))))
    t = min_tdcf_org(allb, alls)
    exp.append('tdcf pooled pooled %s %s' % (hx(t[0]), hx(t[1])))
    for cod in codecs + ['pooled']:
        b = np.array([r[3] for r in rows if r[2] and (cod == 'pooled' or r[1] == cod)])
        for att in attacks + ['pooled']:
            sp = np.array([r[3] for r in rows if not r[2] and (cod == 'pooled' or r[1] == cod) and
                           (att == 'pooled' or r[0] == att)])
            t = min_tdcf_org(b, sp) if len(b) and len(sp) else None
            if t is not None:
                exp.append('tdcf %s %s %s %s' % (att, cod, hx(t[0]), hx(t[1])))
    write('asv5_expected.txt', exp)

    # track 2: trials (target speaker, file); a file may serve several targets
    sasv = ['spk\tfilename\tcm-score\tasv-score\tsasv-score']
    key = []
    cls_rows = []
    for i in range(700):
        u = rng.random()
        cls = 'target' if u < 0.45 else 'nontarget' if u < 0.7 else 'spoof'
        att = 'bonafide' if cls != 'spoof' else attacks[rng.integers(len(attacks))]
        spk = 'E_%04d' % rng.integers(1, 30)
        fid = 'E_%010d' % (rng.integers(1000, 1300) if i % 7 else 1000)
        if any(k[0] == spk and k[1] == fid for k in cls_rows):
            continue
        mu = {'target': 3.0, 'nontarget': -2.0, 'spoof': {'A17': -1.0, 'A18': 0.0, 'A19': 1.0, 'A20': 2.0}.get(att)}[cls]
        sc = float('%.9g' % np.float32(rng.normal(mu, 1.5)))
        cm = '%.6f' % rng.normal() if i % 3 else '-'
        asv = '%.6f' % rng.normal() if i % 3 else '-'
        sasv.append('%s\t%s\t%s\t%s\t%.9g' % (spk, fid, cm, asv, sc))
        key.append('%s %s %s %s %s' % (spk, fid, 'F' if i % 2 else 'M', att, cls))
        cls_rows.append((spk, fid, cls, att, sc))
    hdr, body = sasv[0], sasv[1:]
    perm = rng.permutation(len(body))
    write('asv5_sasv_scores.tsv', [hdr] + [body[i] for i in perm])
    write('asv5_sasv_key.tsv', key)
    tar = np.array([r[4] for r in cls_rows if r[2] == 'target'])
    non = np.array([r[4] for r in cls_rows if r[2] == 'nontarget'])
    exp = ['# generated by tools/reference/asv5_ref.py: a-DCF MIN THRESHOLD (pooled), then per attack',
           'adcf pooled %d %d %d %s %s' % ((len(tar), len(non), sum(r[2] == 'spoof' for r in cls_rows)) +
                                           tuple(hx(float(x)) for x in a_dcf(tar, non, np.array(
                                               [r[4] for r in cls_rows if r[2] == 'spoof']))))]
    for att in attacks:
        spf = np.array([r[4] for r in cls_rows if r[2] == 'spoof' and r[3] == att])
        exp.append('adcf %s %d %d %d %s %s' % ((att, len(tar), len(non), len(spf)) +
                                               tuple(hx(float(x)) for x in a_dcf(tar, non, spf))))
    write('asv5_sasv_expected.txt', exp)


def calibration_fixture(rng):
    """Dev scores of two systems (badly scaled and shifted), their key, and
    the trained calibrations (each system, priors 0.5 and 0.95) and fusion."""
    n = 600
    pos = rng.random(n) < 0.4
    a = np.where(pos, rng.normal(6.0, 4.0, n), rng.normal(-1.0, 3.0, n))
    b = np.where(pos, rng.normal(0.8, 0.3, n), rng.normal(0.3, 0.35, n)) + 0.3 * a / 4
    a = np.array([float('%.9g' % np.float32(x)) for x in a])
    b = np.array([float('%.9g' % np.float32(x)) for x in b])
    ids = ['utt_%04d' % i for i in range(n)]
    write('cal_key.txt', ['%s %s' % (ids[i], 'bonafide' if pos[i] else 'spoof') for i in range(n)])
    write('cal_a.txt', ['%s %.9g' % (ids[i], a[i]) for i in rng.permutation(n)])
    write('cal_b.txt', ['%s %.9g' % (ids[i], b[i]) for i in rng.permutation(n)])
    exp = ['# generated by tools/reference/asv5_ref.py: NAME PRIOR WEIGHTS... BIAS (l2 = 1e-6)']
    for name, X in (('a', a[:, None]), ('b', b[:, None]), ('ab', np.stack((a, b), 1))):
        for prior in (0.5, 0.95):
            w, bias = train_lr(X, pos, prior)
            exp.append('%s %s %s %s' % (name, hx(prior), ' '.join(hx(x) for x in w), hx(bias)))
    write('cal_expected.txt', exp)


def check_official(d):
    """Compares this file's functions with the official ones (calculate_modules.py
    and a_dcf.py from DIR) on the unit cases; exact equality is required."""
    sys.path.insert(0, d)
    import calculate_modules as cmod
    import a_dcf as ad
    bad = n = 0

    def same(what, x, y):
        nonlocal bad, n
        n += 1
        if not (x == y):
            bad += 1
            print('MISMATCH', what, x, y)
    cur = {}
    for line in open(os.path.join(OUT, 'asv5_cases.txt')):
        w = line.split()
        if not w or w[0].startswith('#'):
            continue
        if w[0] in ('case', 'adcf_case'):
            cur = {'name': w[1], 'kind': w[0]}
        elif w[0] in ('bona', 'spoof', 'tar', 'non', 'spf'):
            cur[w[0]] = np.array([float(x) for x in w[1:]])
        elif w[0] == 'end' and cur['kind'] == 'case':
            b, s = cur['bona'], cur['spoof']
            _, frr, far, thr, _ = cmod.compute_eer(b, s)
            same(cur['name'] + ' minDCF', min_dcf(b, s), cmod.compute_mindcf(frr, far, thr, PSPOOF, CMISS, CFA))
            same(cur['name'] + ' actDCF', act_dcf(b, s), cmod.compute_actDCF(b, s, PSPOOF, CMISS, CFA))
            same(cur['name'] + ' Cllr', cllr_official(b, s), cmod.calculate_CLLR(b, s))
            mine = min_tdcf_org(b, s)
            if mine is not None:
                curve, thr = cmod.compute_tDCF(b, s, ORG[0], ORG[1], ORG[2], TDCF, False)
                same(cur['name'] + ' min t-DCF', mine, (curve[np.argmin(curve)], thr[np.argmin(curve)]))
        elif w[0] == 'end':
            c = ad.CostModel(Ptrg=ADCF['Ptrg'], Pnontrg=ADCF['Pnontrg'], Pspf=ADCF['Pspf'], Cmiss=1, Cfa_asv=10, Cfa_cm=10)
            r = ad._calculate_a_dcf(cur['tar'], cur['non'], cur['spf'], c, False)
            mine = a_dcf(cur['tar'], cur['non'], cur['spf'])
            same(cur['name'] + ' a-DCF', float(mine[0]), float(r['min_a_dcf']))
            same(cur['name'] + ' a-DCF thr', float(mine[1]), float(r['min_a_dcf_thresh']))
    print('official check: %d values compared, %d mismatches' % (n, bad))
    return 1 if bad else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--official':
        return check_official(sys.argv[2])
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20250505)
    write('asv5_cases.txt', ['# generated by tools/reference/asv5_ref.py: scores, then expected values as hex floats',
                             '# dcf MINDCF MINDCF_THR ACTDCF ACT_THR; cllr CLLR (official formula); adcf MIN THR']
          + unit_cases(rng))
    asv5_pipeline(rng)
    calibration_fixture(rng)
    print('wrote fixtures to', os.path.normpath(OUT))


if __name__ == '__main__':
    sys.exit(main())
