#!/usr/bin/env python3
"""Reference metrics for sdd's src/metrics, and the fixtures that test them.

A numpy re-implementation, written for sdd from the facts in
docs/reference-spec.md section 6, of the formulas of the official ASVspoof
tools (2021 eval-package eval_metrics.py / eval_wrapper.py / main.py, and
clovaai/aasist evaluation.py):
  - DET curve: targets then nontargets concatenated, stable mergesort argsort,
    frr = [0, cumsum/Nt], far = [1, (Nn - (k - cumsum))/Nn],
    thresholds = [min - 0.001, sorted scores]; EER at the first argmin of
    |frr - far|, EER = mean(frr, far) there.
  - 2019 legacy min t-DCF (clovaai) and 2021 min t-DCF (C0/C1/C2), with the
    ASV threshold at the ASV target/nontarget EER threshold.
  - the 2021 table: rows = attacks (a spoof-only factor), columns = codecs (a
    factor of both classes), C012 recomputed per cell from the ASV scores.
  - Cllr and min Cllr (PAV over blocks of equal scores; sdd's definition).
Writes tests/data/metrics/*: score/key files and the expected values as
exact hex floats. Not needed to build or test sdd. Run from the repository
root with a numpy/scipy Python:  python3 tools/reference/metrics_ref.py
To compare these functions with the official ones (not part of sdd), put the
eval-package's eval_metrics.py and eval_wrapper.py (and clovaai/aasist's
evaluation.py) in a folder DIR and run:  metrics_ref.py --official DIR
"""
import math
import os
import sys

import numpy as np
from scipy.special import ndtri

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'data', 'metrics')

PSPOOF = 0.05
COST = {'Pspoof': PSPOOF, 'Ptar': (1 - PSPOOF) * 0.99, 'Pnon': (1 - PSPOOF) * 0.01,
        'Cmiss': 1, 'Cfa': 10, 'Cfa_spoof': 10,
        'Cmiss_asv': 1, 'Cfa_asv': 10, 'Cmiss_cm': 1, 'Cfa_cm': 10}


# ---------------------------------------------------------------- metrics

def det_curve(pos, neg):
    """(frr, far, thresholds) of positives `pos` vs negatives `neg`."""
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    allsc = np.concatenate((pos, neg))
    lab = np.concatenate((np.ones(pos.size), np.zeros(neg.size)))
    order = np.argsort(allsc, kind='mergesort')
    lab = lab[order]
    rejected_pos = np.cumsum(lab)
    accepted_neg = neg.size - (np.arange(1, allsc.size + 1) - rejected_pos)
    frr = np.concatenate((np.atleast_1d(0), rejected_pos / pos.size))
    far = np.concatenate((np.atleast_1d(1), accepted_neg / neg.size))
    thr = np.concatenate((np.atleast_1d(allsc[order[0]] - 0.001), allsc[order]))
    return frr, far, thr


def eer(pos, neg):
    frr, far, thr = det_curve(pos, neg)
    i = np.argmin(np.abs(frr - far))
    return np.mean((frr[i], far[i])), thr[i], int(i)


def asv_rates(tar, non, spoof):
    _, t, _ = eer(tar, non)
    pfa = sum(non >= t) / non.size
    pmiss = sum(tar < t) / tar.size
    pmiss_spoof = np.sum(spoof < t) / spoof.size
    pfa_spoof = np.sum(spoof >= t) / spoof.size
    return pfa, pmiss, pmiss_spoof, pfa_spoof


def soft(bona, spoof):
    return np.unique(np.concatenate((bona, spoof))).size >= 3


def min_tdcf_2019(bona, spoof, tar, non, sp):
    """clovaai compute_tDCF (legacy); None when the scores are not soft."""
    if not soft(bona, spoof):
        return None
    pfa, pmiss, pmiss_spoof, _ = asv_rates(tar, non, sp)
    c = COST
    C1 = c['Ptar'] * (c['Cmiss_cm'] - c['Cmiss_asv'] * pmiss) - c['Pnon'] * c['Cfa_asv'] * pfa
    C2 = c['Cfa_cm'] * c['Pspoof'] * (1 - pmiss_spoof)
    assert C1 >= 0 and C2 >= 0
    pm, pf, thr = det_curve(bona, spoof)
    curve = (C1 * pm + C2 * pf) / np.minimum(C1, C2)
    i = np.argmin(curve)
    return curve[i], thr[i]


def c012(tar, non, sp):
    """eval_wrapper.get_tDCF_C012_from_asv_scores; NaNs when a class is empty."""
    if not (len(tar) and len(non) and len(sp)):
        return np.nan, np.nan, np.nan
    pfa, pmiss, _, pfa_spoof = asv_rates(tar, non, sp)
    c = COST
    C0 = c['Ptar'] * c['Cmiss'] * pmiss + c['Pnon'] * c['Cfa'] * pfa
    C1 = c['Ptar'] * c['Cmiss'] - (c['Ptar'] * c['Cmiss'] * pmiss + c['Pnon'] * c['Cfa'] * pfa)
    C2 = c['Pspoof'] * c['Cfa_spoof'] * pfa_spoof
    return C0, C1, C2


def min_tdcf_2021(bona, spoof, C0, C1, C2):
    """eval_wrapper.get_mintDCF_eer's t-DCF part; None when not soft."""
    if not soft(bona, spoof):
        return None
    if np.isnan(C0) or np.isnan(C1) or np.isnan(C2):
        return np.nan, np.nan
    pm, pf, thr = det_curve(bona, spoof)
    curve = (C0 + C1 * pm + C2 * pf) / (C0 + np.minimum(C1, C2))
    i = curve.argmin()
    return curve[i], thr[i]


def cllr(pos, neg):
    ct = math.fsum(np.logaddexp(0.0, -np.asarray(pos)))
    cn = math.fsum(np.logaddexp(0.0, np.asarray(neg)))
    return (ct / len(pos) + cn / len(neg)) / (2.0 * np.log(2.0))


def min_cllr(pos, neg):
    """PAV over blocks of equal scores (non-decreasing positive fraction,
    merging while the previous block's fraction is >= the next one's)."""
    sc = np.concatenate((pos, neg))
    lab = np.concatenate((np.ones(len(pos)), np.zeros(len(neg))))
    order = np.argsort(sc, kind='mergesort')
    sc, lab = sc[order], lab[order]
    T, M = [], []

    def pool():
        while len(T) >= 2 and T[-2] * (T[-1] + M[-1]) >= T[-1] * (T[-2] + M[-2]):
            t, m = T.pop(), M.pop()
            T[-1] += t
            M[-1] += m
    prev = None
    for s, l in zip(sc, lab):
        if prev is None or s != prev:
            pool()
            T.append(0.0)
            M.append(0.0)
        prev = s
        if l:
            T[-1] += 1.0
        else:
            M[-1] += 1.0
    pool()
    Np, Nn = float(len(pos)), float(len(neg))
    ct = math.fsum(t * math.log1p((m * Np) / (t * Nn)) for t, m in zip(T, M) if t > 0 and m > 0)
    cn = math.fsum(m * math.log1p((t * Nn) / (m * Np)) for t, m in zip(T, M) if t > 0 and m > 0)
    return (ct / Np + cn / Nn) / (2.0 * math.log(2.0))


# ---------------------------------------------------------------- writers

def hx(x):
    return 'nan' if x is None or np.isnan(x) else float(x).hex()


def nums(v):
    return ' '.join(repr(float(x)) for x in v)


def case_lines(name, tar, non, asv=None):
    tar = np.asarray(tar, dtype=np.float64)
    non = np.asarray(non, dtype=np.float64)
    e, t, i = eer(tar, non)
    out = ['case ' + name, 'tar ' + nums(tar), 'non ' + nums(non),
           'eer %s %s %d' % (hx(e), hx(t), i),
           'cllr %s %s' % (hx(cllr(tar, non)), hx(min_cllr(tar, non)))]
    if asv is not None:
        at, an, asp = (np.asarray(x, dtype=np.float64) for x in asv)
        out += ['asv_tar ' + nums(at), 'asv_non ' + nums(an), 'asv_spoof ' + nums(asp)]
        r19 = min_tdcf_2019(tar, non, at, an, asp)
        C0, C1, C2 = c012(at, an, asp)
        r21 = min_tdcf_2021(tar, non, C0, C1, C2)
        out.append('tdcf2019 ' + ('none' if r19 is None else '%s %s' % (hx(r19[0]), hx(r19[1]))))
        out.append('tdcf2021 ' + ('none' if r21 is None else '%s %s' % (hx(r21[0]), hx(r21[1]))))
    out.append('end')
    return out


def unit_cases(rng):
    L = []
    # random continuous, with ties through rounding to 1 decimal
    tar = np.round(rng.normal(1.0, 1.0, 200), 1)
    non = np.round(rng.normal(-1.0, 1.2, 300), 1)
    L += case_lines('random_ties', tar, non)
    # integer scores: many exact ties between the classes
    L += case_lines('integer_ties', rng.integers(0, 6, 50).astype(float), rng.integers(0, 6, 80).astype(float))
    L += case_lines('tiny_tie', [0.5], [0.5])
    L += case_lines('tiny_sep', [1.0], [0.0])
    L += case_lines('tiny_rev', [0.0], [1.0])
    L += case_lines('all_equal', [0.3] * 5, [0.3] * 7)
    L += case_lines('separated', rng.uniform(2, 3, 40), rng.uniform(-1, 1, 60))
    L += case_lines('reversed', rng.uniform(-1, 1, 40), rng.uniform(2, 3, 60))
    L += case_lines('signed_zero', [0.0, -0.0, 1.0, -1.0], [-0.0, 0.0, 0.5, -2.0, 0.0])
    # float32 scores as sdd prints them (%.9g), large enough for rounding to matter
    t32 = [float('%.9g' % np.float32(x)) for x in rng.normal(2.0, 1.5, 1500)]
    n32 = [float('%.9g' % np.float32(x)) for x in rng.normal(-2.0, 2.0, 2500)]
    L += case_lines('float32', t32, n32)
    # 2019-style tandem case: CM + ASV scores, both t-DCF forms
    asv = (rng.normal(4.0, 1.5, 300), rng.normal(-3.0, 1.5, 400), rng.normal(1.0, 2.5, 500))
    L += case_lines('tandem', np.round(rng.normal(2.0, 1.5, 250), 2), np.round(rng.normal(-1.5, 2.0, 700), 2), asv)
    # tandem with ties in the ASV scores (threshold on a tie) and coarse CM
    asv2 = (np.round(rng.normal(2.0, 1.0, 60)), np.round(rng.normal(-1.0, 1.0, 80)), np.round(rng.normal(0.5, 1.0, 90)))
    L += case_lines('tandem_ties', rng.integers(0, 10, 70).astype(float), rng.integers(0, 7, 120).astype(float), asv2)
    L += case_lines('tandem_binary', [1.0, 1.0, 0.0], [0.0, 0.0], asv2)
    # probit check values
    ps = [0.0, 1e-300, 1e-12, 1.0 / 600000, 0.001, 0.02425, 0.1, 0.3, 0.5, 0.5 + 1e-9, 0.7, 0.97575, 0.999, 1 - 1e-12, 1.0]
    L.append('probit ' + ' '.join('%s:%s' % (float(p).hex(), hx(ndtri(p)) if 0 < p < 1 else ('-inf' if p == 0 else 'inf'))
                                  for p in ps))
    return L


def write(name, lines):
    with open(os.path.join(OUT, name), 'w') as f:
        f.write('\n'.join(lines) + '\n')


# ---------------------------------------------------------------- pipelines

def asv19_fixture(rng):
    """ASVspoof 2019 LA style: CM protocol, CM score files in both formats,
    3-column ASV scores; expected pooled values, both t-DCF forms, per attack."""
    attacks = ['A07', 'A08', 'A09', 'A16']
    proto, cm19, sdd = [], [], []
    bona, spoof, by_att = [], [], {a: [] for a in attacks}
    for i in range(400):
        utt = 'LA_E_%07d' % (1000000 + i * 37 % 999983)
        if i % 5 == 0:
            att, lab, s = '-', 'bonafide', rng.normal(3.0, 1.5)
        else:
            att = attacks[i % len(attacks)]
            lab, s = 'spoof', rng.normal(-1.0 + attacks.index(att), 1.5)
        s = float('%.9g' % np.float32(s))
        proto.append('LA_%04d %s - %s %s' % (i % 37, utt, att, lab))
        cm19.append('%s %s %s %r' % (utt, att, lab, s))
        sdd.append('%s %.9g' % (utt, s))
        (bona if lab == 'bonafide' else spoof).append(s)
        if lab == 'spoof':
            by_att[att].append(s)
    asv, at, an, asp = [], [], [], []
    for i in range(600):
        k = ('target', 'nontarget', 'spoof')[i % 3]
        v = float('%.6f' % {'target': rng.normal(3, 1.2), 'nontarget': rng.normal(-3, 1.5),
                            'spoof': rng.normal(0.5, 2)}[k])
        asv.append('LA_%04d %s %.6f' % (i % 41, k, v))
        {'target': at, 'nontarget': an, 'spoof': asp}[k].append(v)
    # the scores file order is shuffled: order must not matter
    perm = rng.permutation(len(sdd))
    write('asv19_protocol.txt', proto)
    write('asv19_cm_scores.txt', [cm19[i] for i in perm])
    write('asv19_scores.txt', [sdd[i] for i in perm])
    write('asv19_asv_scores.txt', asv)
    bona, spoof, at, an, asp = (np.array(x) for x in (bona, spoof, at, an, asp))
    e, t, _ = eer(bona, spoof)
    r19 = min_tdcf_2019(bona, spoof, at, an, asp)
    r21 = min_tdcf_2021(bona, spoof, *c012(at, an, asp))
    exp = ['eer %s %s' % (hx(e), hx(t)), 'cllr %s %s' % (hx(cllr(bona, spoof)), hx(min_cllr(bona, spoof))),
           'tdcf2019 %s %s' % (hx(r19[0]), hx(r19[1])), 'tdcf2021 %s %s' % (hx(r21[0]), hx(r21[1])),
           'trials %d %d' % (bona.size, spoof.size)]
    for a in attacks:
        exp.append('cell %s pooled %s nan' % (a, hx(eer(bona, np.array(by_att[a]))[0])))
    exp.append('cell pooled pooled %s %s' % (hx(e), hx(r19[0])))
    write('asv19_expected.txt', exp)


def asv21_fixture(rng):
    """ASVspoof 2021 LA style: 8-column CM key with eval/progress subsets,
    'trial score' file, 8-column ASV key + 'spk trial score' ASV file;
    expected: the eval-package table (EER and min t-DCF per attack x codec,
    C012 per cell from the ASV scores)."""
    attacks = ['A07', 'A10', 'A13', 'A19']
    codecs = ['none', 'alaw', 'gsm', 'opus']  # table order as in config.py
    key, scores, rows = [], [], []
    for i in range(900):
        trial = 'LA_E_%07d' % (2000000 + i)
        subset = 'progress' if rng.random() < 0.15 else 'eval'
        codec = codecs[rng.integers(len(codecs))]
        trans = '-' if codec == 'none' else 'ita_tx'
        if rng.random() < 0.25:
            att, lab, s = 'bonafide', 'bonafide', rng.normal(2.5 - 0.4 * codecs.index(codec), 1.2)
        else:
            att = attacks[rng.integers(len(attacks))]
            lab, s = 'spoof', rng.normal(-1.5 + 0.6 * attacks.index(att), 1.3)
        s = float('%.9g' % np.float32(s))
        key.append('LA_%04d %s %s %s %s %s notrim %s' % (i % 53, trial, codec, trans, att, lab, subset))
        scores.append('%s %.9g' % (trial, s))
        rows.append((subset, codec, att, lab, s))
    perm = rng.permutation(len(scores))
    write('asv21_la_key.txt', key)
    write('asv21_la_scores.txt', [scores[i] for i in perm])
    akey, ascores, arows = [], [], []
    for i in range(1500):
        trial = 'LA_E_%07d' % (3000000 + i // 2)
        subset = 'progress' if rng.random() < 0.1 else 'eval'
        codec = codecs[rng.integers(len(codecs))]
        k = ('target', 'nontarget', 'spoof', 'spoof')[rng.integers(4)]
        att = attacks[rng.integers(len(attacks))] if k == 'spoof' else 'bonafide'
        v = float('%.5f' % {'target': rng.normal(2.5, 1.5), 'nontarget': rng.normal(-2.5, 1.5),
                            'spoof': rng.normal(0.3 * attacks.index(att) if k == 'spoof' else 0, 2)}[k])
        spk = 'LA_%04d' % (i % 29)
        akey.append('%s %s %s - %s %s notrim %s' % (spk, trial, codec, att, k, subset))
        ascores.append('%s %s %.5f' % (spk, trial, v))
        arows.append((subset, codec, att, k, v))
    write('asv21_la_asv_key.txt', akey)
    write('asv21_la_asv_scores.txt', ascores)

    cm = [r for r in rows if r[0] == 'eval']
    av = [r for r in arows if r[0] == 'eval']
    exp = []
    for a in attacks + ['pooled']:
        for c in codecs + ['pooled']:
            def cmsel(lab):
                return np.array([r[4] for r in cm if r[3] == lab and (c == 'pooled' or r[1] == c)
                                 and (lab == 'bonafide' or a == 'pooled' or r[2] == a)])
            def asel(k):
                return np.array([r[4] for r in av if r[3] == k and (c == 'pooled' or r[1] == c)
                                 and (k != 'spoof' or a == 'pooled' or r[2] == a)])
            bona, spoof = cmsel('bonafide'), cmsel('spoof')
            C0, C1, C2 = c012(asel('target'), asel('nontarget'), asel('spoof'))
            e = eer(bona, spoof)[0] if len(bona) and len(spoof) else np.nan
            t = min_tdcf_2021(bona, spoof, C0, C1, C2) if len(bona) and len(spoof) else (np.nan, np.nan)
            exp.append('cell %s %s %s %s' % (a, c, hx(e), hx(t[0])))
            if a == 'pooled' and c == 'pooled':
                exp.insert(0, 'eer %s %s' % (hx(e), hx(eer(bona, spoof)[1])))
                exp.insert(1, 'tdcf2021 %s %s' % (hx(t[0]), hx(t[1])))
                exp.insert(2, 'trials %d %d' % (bona.size, spoof.size))
    write('asv21_la_expected.txt', exp)


def df21_fixture(rng):
    """ASVspoof 2021 DF style: 13-column key; expected: the attack x codec and
    the eval-package's vocoder-type x codec EER tables (DF has no t-DCF)."""
    vocs = ['traditional_vocoder', 'waveform_concatenation', 'neural_vocoder_autoregressive',
            'neural_vocoder_nonautoregressive', 'unknown']
    codecs = ['nocodec', 'low_mp3', 'high_mp3', 'low_m4a', 'mp3m4a']
    attacks = ['A07', 'A08', 'A16', 'Task1-team02']
    key, scores, rows = [], [], []
    for i in range(700):
        trial = 'DF_E_%07d' % (2000000 + i)
        subset = ('eval', 'progress', 'hidden')[rng.choice(3, p=[0.7, 0.2, 0.1])]
        codec = codecs[rng.integers(len(codecs))]
        if rng.random() < 0.2:
            att, lab, voc, s = 'bonafide', 'bonafide', '-', rng.normal(2.0, 1.0)
        else:
            att, lab = attacks[rng.integers(len(attacks))], 'spoof'
            voc = vocs[rng.integers(len(vocs))]
            s = rng.normal(-1.0 + 0.5 * vocs.index(voc) + 0.2 * attacks.index(att), 1.2)
        s = float('%.9g' % np.float32(s))
        key.append('LA_%04d %s %s asvspoof %s %s notrim %s %s Task1 team02 FF eng'
                   % (i % 31, trial, codec, att, lab, subset, voc))
        scores.append('%s %.9g' % (trial, s))
        rows.append((subset, codec, att, lab, s, voc))
    write('asv21_df_key.txt', key)
    write('asv21_df_scores.txt', [scores[i] for i in rng.permutation(len(scores))])
    cm = [r for r in rows if r[0] == 'eval']
    exp = []
    for tag, names, col in (('cell', attacks, 2), ('vcell', vocs, 5)):
        for a in names + ['pooled']:
            for c in codecs + ['pooled']:
                bona = np.array([r[4] for r in cm if r[3] == 'bonafide' and (c == 'pooled' or r[1] == c)])
                spoof = np.array([r[4] for r in cm if r[3] == 'spoof' and (c == 'pooled' or r[1] == c)
                                  and (a == 'pooled' or r[col] == a)])
                e = eer(bona, spoof)[0] if len(bona) and len(spoof) else np.nan
                exp.append('%s %s %s %s nan' % (tag, a, c, hx(e)))
    bona = np.array([r[4] for r in cm if r[3] == 'bonafide'])
    spoof = np.array([r[4] for r in cm if r[3] == 'spoof'])
    e, t, _ = eer(bona, spoof)
    exp = ['eer %s %s' % (hx(e), hx(t)), 'trials %d %d' % (bona.size, spoof.size)] + exp
    write('asv21_df_expected.txt', exp)


def itw_fixture(rng):
    """In-the-Wild meta.csv + scores: EER only."""
    meta, sc, bona, spoof = ['file,speaker,label'], [], [], []
    for i in range(300):
        lab = 'bona-fide' if i % 3 else 'spoof'
        s = float('%.9g' % np.float32(rng.normal(1.0 if lab == 'bona-fide' else -0.5, 1.0)))
        meta.append('%d.wav,Speaker %d,%s' % (i, i % 11, lab))
        sc.append('%d.wav %.9g %s' % (i, s, 'bonafide' if s >= 0 else 'spoof'))
        (bona if lab == 'bona-fide' else spoof).append(s)
    write('itw_meta.csv', meta)
    write('itw_scores.txt', sc)
    e, t, _ = eer(np.array(bona), np.array(spoof))
    write('itw_expected.txt', ['eer %s %s' % (hx(e), hx(t)), 'trials %d %d' % (len(bona), len(spoof))])


def check_official(d):
    """Compares this file's functions with the official ones, imported from
    directory d holding the 2021 eval-package's eval_metrics.py and
    eval_wrapper.py (and optionally clovaai/aasist's evaluation.py), on the
    fixtures' score sets. Exact equality is required."""
    sys.path.insert(0, d)
    import eval_metrics as em
    import eval_wrapper as ew
    try:
        import evaluation as cv
    except ImportError:
        cv = None
    c19 = dict(COST)
    bad, n = 0, 0

    def same(what, a, b):
        nonlocal bad, n
        n += 1
        if not (a == b or (np.isnan(a) and np.isnan(b))):
            bad += 1
            print('MISMATCH', what, a, b)
    cur = {}
    for line in open(os.path.join(OUT, 'cases.txt')):
        w = line.split()
        if not w or w[0].startswith('#'):
            continue
        if w[0] == 'case':
            cur = {'name': w[1]}
        elif w[0] in ('tar', 'non', 'asv_tar', 'asv_non', 'asv_spoof'):
            cur[w[0]] = np.array([float(x) for x in w[1:]])
        elif w[0] == 'end':
            t, nn, name = cur['tar'], cur['non'], cur['name']
            e, th, _ = eer(t, nn)
            same(name + ' eer', e, em.compute_eer(t, nn)[0])
            same(name + ' thr', th, em.compute_eer(t, nn)[1])
            if cv:
                same(name + ' eer (clovaai)', e, cv.compute_eer(t, nn)[0])
            if 'asv_tar' in cur and soft(t, nn):
                at, an, asp = cur['asv_tar'], cur['asv_non'], cur['asv_spoof']
                r = em.obtain_asv_error_rates(at, an, asp, em.compute_eer(at, an)[1])
                curve, thr = em.compute_tDCF_legacy(t, nn, r[0], r[1], r[2], c19, False)
                mine = min_tdcf_2019(t, nn, at, an, asp)
                same(name + ' t-DCF 2019', mine[0], curve[np.argmin(curve)])
                same(name + ' t-DCF 2019 thr', mine[1], thr[np.argmin(curve)])
                if cv:
                    curve, thr = cv.compute_tDCF(t, nn, r[0], r[1], r[2], c19, False)
                    same(name + ' t-DCF 2019 (clovaai)', mine[0], curve[np.argmin(curve)])
                C = ew.get_tDCF_C012_from_asv_scores(at, an, asp, COST)
                same(name + ' t-DCF 2021', min_tdcf_2021(t, nn, *c012(at, an, asp))[0], ew.get_mintDCF_eer(t, nn, *C)[0])
    print('official check: %d values compared, %d mismatches' % (n, bad))
    return 1 if bad else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--official':
        return check_official(sys.argv[2])
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    write('cases.txt', ['# generated by tools/reference/metrics_ref.py: scores, then expected values as hex floats',
                        '# eer VALUE THRESHOLD INDEX; cllr CLLR MIN_CLLR; tdcfYYYY MIN THRESHOLD | none'] + unit_cases(rng))
    asv19_fixture(rng)
    asv21_fixture(rng)
    itw_fixture(rng)
    df21_fixture(rng)
    print('wrote fixtures to', os.path.normpath(OUT))


if __name__ == '__main__':
    sys.exit(main())
