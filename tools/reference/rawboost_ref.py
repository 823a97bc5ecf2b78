#!/usr/bin/python3
"""Independent numpy/scipy implementation of RawBoost for testing sdd.

Written from shared/docs/reference-spec.md section 5 (RawBoost, Tak et al.,
ICASSP 2022) and the documented semantics of scipy.signal.firwin, freqz and
lfilter. Every algorithm is split in two:

  * a deterministic part that takes the random draws as arguments
    (notch_coeffs, filter_fir, lnl_given, isd_given, ssi_given), built on the
    real scipy.signal.firwin / freqz / lfilter, so it is the reference maths;
  * a draw source: NumpyDraws draws exactly as the reference does (numpy's
    global RNG, same order), SddDraws reproduces sdd's counter RNG
    (src/core/rng.c) and the draw order documented in src/audio/rawboost.h.

With SddDraws, apply() gives what sdd_rawboost_apply() must give for the
same key, so the fixtures check sdd end to end (draw order included).

Computation is float64 throughout. (The reference feeds librosa's float32
audio, so np.power(x, i+1) in LnL, the norm in SSI-only runs and the ISD
store in ISD-only runs happen in float32 there: differences of ~1e-7
relative, below the fixture tolerance.)

Usage:
    /usr/bin/python3 tools/reference/rawboost_ref.py --write-fixtures tests/data/rawboost
"""

import argparse
import math
import os
import sys

import numpy as np
from scipy import signal

M64 = (1 << 64) - 1
RB_TAG = 0x52617742  # "RawB"
STAGE_LNL, STAGE_ISD, STAGE_SSI_NOISE, STAGE_SSI_FILTER = 1, 2, 3, 4


def default_params():
    return dict(nBands=5, minF=20.0, maxF=8000.0, minBW=100.0, maxBW=1000.0,
                minCoeff=10, maxCoeff=100, minG=0.0, maxG=0.0,
                minBiasLinNonLin=5.0, maxBiasLinNonLin=20.0, N_f=5, P=10.0,
                g_sd=2.0, SNRmin=10.0, SNRmax=40.0, fs=16000)


PARAM_ORDER = ["nBands", "minF", "maxF", "minBW", "maxBW", "minCoeff", "maxCoeff",
               "minG", "maxG", "minBiasLinNonLin", "maxBiasLinNonLin", "N_f", "P",
               "g_sd", "SNRmin", "SNRmax", "fs"]


# ---------------------------------------------------------------- sdd's RNG
def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def rng_key(a, b, c, d):
    k = _mix64((a + 0x9e3779b97f4a7c15) & M64)
    k = _mix64(k ^ ((b + 0x632be59bd9b4e019) & M64))
    k = _mix64(k ^ ((c + 0x85157af5) & M64))
    k = _mix64(k ^ ((d + 0x2545f4914f6cdd1d) & M64))
    return k


def rng_u64(key, ctr):
    return _mix64((_mix64(key ^ ((ctr * 0x9e3779b97f4a7c15) & M64)) + key) & M64)


def rng_uniform_d(key, ctr):
    return float(rng_u64(key, ctr) >> 11) * (1.0 / 9007199254740992.0)


def rng_normal(key, ctr):
    u1 = rng_uniform_d(key, 2 * ctr)
    u2 = rng_uniform_d(key, 2 * ctr + 1)
    if u1 < 1e-300:
        u1 = 1e-300
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


def stage_key(key, stage, index):
    return rng_key(key, RB_TAG, stage, index)


# ------------------------------------------------------- deterministic parts
def norm_wav(x, always):
    m = np.max(np.abs(x)) if x.size else 0.0
    if m == 0.0:          # sdd's guard: the reference would divide by zero
        return x
    if always or m > 1:
        x = x / m
    return x


def notch_coeffs(fc, bw, c, G, fs):
    """genNotchCoeffs with the draws given: fc, bw, c (int(U) draws, made odd
    here) per band, G in dB."""
    b = np.array([1.0])
    for k in range(len(fc)):
        ck = int(c[k])
        if ck % 2 == 0:
            ck += 1
        f1 = fc[k] - bw[k] / 2
        f2 = fc[k] + bw[k] / 2
        if f1 <= 0:
            f1 = 1 / 1000
        if f2 >= fs / 2:
            f2 = fs / 2 - 1 / 1000
        h = signal.firwin(ck, [float(f1), float(f2)], window='hamming', fs=fs)
        b = np.convolve(h, b)
    _, H = signal.freqz(b, 1, fs=fs)
    return pow(10, G / 20) * b / np.amax(np.abs(H))


def filter_fir(x, b):
    N = b.shape[0] + 1
    xp = np.pad(x, (0, N), 'constant')
    y = signal.lfilter(b, 1, xp)
    return y[int(N / 2):int(y.shape[0] - N / 2)]


def lnl_given(x, fcs, bws, cs, Gs, fs):
    """fcs[i], bws[i], cs[i]: the band draws of filter i; Gs[i] its gain."""
    y = np.zeros(x.shape[0])
    for i in range(len(Gs)):
        b = notch_coeffs(fcs[i], bws[i], cs[i], Gs[i], fs)
        y = y + filter_fir(np.power(x, i + 1), b)
    y = y - np.mean(y)
    return norm_wav(y, 0)


def isd_given(x, idx, fr, g_sd):
    y = x.copy()
    idx = np.asarray(idx, dtype=np.int64)
    r = g_sd * x[idx] * fr
    y[idx] = x[idx] + r
    return norm_wav(y, 0)


def ssi_given(x, noise, fc, bw, c, G, snr, fs):
    b = notch_coeffs(fc, bw, c, G, fs)
    noise = filter_fir(noise, b)
    noise = norm_wav(noise, 1)
    nn = np.linalg.norm(noise, 2)
    if nn == 0.0:         # sdd's guard (all-zero noise): add nothing
        return x.copy()
    noise = noise / nn * np.linalg.norm(x, 2) / 10.0 ** (0.05 * snr)
    return x + noise


# ------------------------------------------------------------- draw sources
class NumpyDraws:
    """Draws exactly as the reference: numpy's global RNG, in its order."""

    def __init__(self, seed=None):
        if seed is not None:
            np.random.seed(seed)

    def notch(self, p, minG, maxG, stage, index):
        fc, bw, c = [], [], []
        for _ in range(p["nBands"]):
            fc.append(float(np.random.uniform(p["minF"], p["maxF"], size=(1,))[0]))
            bw.append(float(np.random.uniform(p["minBW"], p["maxBW"], size=(1,))[0]))
            ck = int(np.random.uniform(p["minCoeff"], p["maxCoeff"], size=(1,))[0])
            c.append(ck + 1 if ck % 2 == 0 else ck)
        G = float(np.random.uniform(minG, maxG, size=(1,))[0])
        return fc, bw, c, G

    def isd(self, L, P):
        beta = float(np.random.uniform(0, P, size=(1,))[0])
        n = int(L * (beta / 100))
        idx = np.random.permutation(L)[:n]
        fr = (2 * np.random.rand(n) - 1) * (2 * np.random.rand(n) - 1)
        return idx, fr

    def noise(self, L):
        return np.random.normal(0, 1, L)

    def snr(self, p):
        return float(np.random.uniform(p["SNRmin"], p["SNRmax"], size=(1,))[0])


class SddDraws:
    """sdd's draws for stream `key` (see src/audio/rawboost.h)."""

    def __init__(self, key):
        self.key = key

    def notch(self, p, minG, maxG, stage, index):
        k = stage_key(self.key, stage, index)
        fc, bw, c = [], [], []
        ctr = 0
        for _ in range(p["nBands"]):
            u = rng_uniform_d(k, ctr); ctr += 1
            fc.append(p["minF"] + (p["maxF"] - p["minF"]) * u)
            u = rng_uniform_d(k, ctr); ctr += 1
            bw.append(p["minBW"] + (p["maxBW"] - p["minBW"]) * u)
            u = rng_uniform_d(k, ctr); ctr += 1
            ck = int(p["minCoeff"] + (p["maxCoeff"] - p["minCoeff"]) * u)
            c.append(ck + 1 if ck % 2 == 0 else ck)
        u = rng_uniform_d(k, ctr)
        return fc, bw, c, minG + (maxG - minG) * u

    def isd(self, L, P):
        k = stage_key(self.key, STAGE_ISD, 0)
        beta = 0.0 + (P - 0.0) * rng_uniform_d(k, 0)
        n = int(L * (beta / 100.0))
        n = min(n, L)
        perm = list(range(L))
        for j in range(n):
            r = j + int(rng_uniform_d(k, 1 + j) * (L - j))
            if r >= L:
                r = L - 1
            perm[j], perm[r] = perm[r], perm[j]
        fr = np.array([(2 * rng_uniform_d(k, 1 + n + j) - 1) * (2 * rng_uniform_d(k, 1 + 2 * n + j) - 1)
                       for j in range(n)])
        return np.array(perm[:n], dtype=np.int64), fr

    def noise(self, L):
        k = stage_key(self.key, STAGE_SSI_NOISE, 0)
        return np.array([rng_normal(k, j) for j in range(L)])

    def snr(self, p):
        k = stage_key(self.key, STAGE_SSI_FILTER, 0)
        u = rng_uniform_d(k, 3 * p["nBands"] + 1)
        return p["SNRmin"] + (p["SNRmax"] - p["SNRmin"]) * u


# --------------------------------------------------------------- algorithms
def lnl(x, p, d):
    fcs, bws, cs, Gs = [], [], [], []
    minG, maxG = p["minG"], p["maxG"]
    for i in range(p["N_f"]):
        if i == 1:
            minG = minG - p["minBiasLinNonLin"]
            maxG = maxG - p["maxBiasLinNonLin"]
        fc, bw, c, G = d.notch(p, minG, maxG, STAGE_LNL, i)
        fcs.append(fc); bws.append(bw); cs.append(c); Gs.append(G)
    return lnl_given(x, fcs, bws, cs, Gs, p["fs"])


def isd(x, p, d):
    idx, fr = d.isd(x.shape[0], p["P"])
    return isd_given(x, idx, fr, p["g_sd"])


def ssi(x, p, d):
    noise = d.noise(x.shape[0])
    fc, bw, c, G = d.notch(p, p["minG"], p["maxG"], STAGE_SSI_FILTER, 0)
    snr = d.snr(p)
    return ssi_given(x, noise, fc, bw, c, G, snr, p["fs"])


def apply(algo, x, p, d):
    x = np.asarray(x, dtype=np.float64)
    if algo == 1:
        return lnl(x, p, d)
    if algo == 2:
        return isd(x, p, d)
    if algo == 3:
        return ssi(x, p, d)
    if algo == 4:
        return ssi(isd(lnl(x, p, d), p, d), p, d)
    if algo == 5:
        return isd(lnl(x, p, d), p, d)
    if algo == 6:
        return ssi(lnl(x, p, d), p, d)
    if algo == 7:
        return ssi(isd(x, p, d), p, d)
    if algo == 8:
        return norm_wav(lnl(x, p, d) + isd(x, p, d), 0)
    return x.copy()


# ----------------------------------------------------------------- fixtures
class Fixture:
    """Text format read by tests/unit/test_rawboost.c: '@case NAME' starts a
    case; then 'NAME COUNT' followed by COUNT numbers (%.17g)."""

    def __init__(self, path, comment):
        self.f = open(path, "w")
        self.f.write("# " + comment + "\n# generated by tools/reference/rawboost_ref.py; do not edit\n")

    def case(self, name):
        self.f.write("@case %s\n" % name)

    def arr(self, name, v, fmt="%.17g"):
        v = np.atleast_1d(np.asarray(v, dtype=np.float64)).ravel()
        self.f.write("%s %d\n" % (name, v.size))
        for i in range(0, v.size, 6):
            self.f.write(" ".join(fmt % t for t in v[i:i + 6]) + "\n")

    def close(self):
        self.f.close()


def test_signal(n, seed):
    """A deterministic speech-like test signal (float32 values)."""
    g = np.random.RandomState(seed)
    t = np.arange(n) / 16000.0
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1330 * t + 0.4) \
        + 0.1 * np.sin(2 * np.pi * 5100 * t) + 0.05 * g.standard_normal(n)
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return x.astype(np.float32).astype(np.float64)


def write_fixtures(outdir):
    os.makedirs(outdir, exist_ok=True)
    fs = 16000.0
    # 1. notch filter design (firwin band-stop cascade, freqz normalisation, gain)
    fx = Fixture(os.path.join(outdir, "notch.txt"),
                 "genNotchCoeffs with given draws: fc bw c (per band) G fs -> b")
    cases = [
        ("default5", [1000.0, 3000.5, 250.25, 7000.0, 4500.0], [500.0, 120.0, 999.0, 300.0, 800.0],
         [51, 10, 99, 12, 33], 0.0),
        ("gain_neg", [4000.0, 123.456], [1000.0, 100.0], [21, 37], -12.5),
        ("clip_low_high", [30.0, 7990.0], [900.0, 700.0], [11, 15], -5.0),
        ("single_tap", [2000.0], [400.0], [1], 3.0),
        ("even_c", [6000.0, 500.0, 2500.0], [250.0, 250.0, 250.0], [2, 4, 100], -19.9),
        ("no_bands", [], [], [], -7.0),
    ]
    for name, fc, bw, c, G in cases:
        b = notch_coeffs(np.array(fc), np.array(bw), c, G, fs)
        fx.case(name)
        fx.arr("fc", fc); fx.arr("bw", bw); fx.arr("c", c); fx.arr("G", G); fx.arr("fs", fs)
        fx.arr("b", b)
    # firwin alone, for the window/sinc details
    for name, nt, f1, f2 in [("firwin_3", 3, 100.0, 200.0), ("firwin_101", 101, 0.001, 7999.999),
                             ("firwin_55", 55, 3000.0, 3100.0)]:
        fx.case(name)
        fx.arr("numtaps", nt); fx.arr("f1", f1); fx.arr("f2", f2); fx.arr("fs", fs)
        fx.arr("h", signal.firwin(nt, [f1, f2], window='hamming', fs=fs))
    fx.close()

    # 2. filterFIR, including inputs shorter than the filter
    fx = Fixture(os.path.join(outdir, "filter.txt"), "filterFIR: x b -> y")
    g = np.random.RandomState(7)
    for name, n, nb in [("n1_b1", 1, 1), ("n1_b7", 1, 7), ("n3_b9", 3, 9), ("n20_b4", 20, 4),
                        ("n50_b15", 50, 15), ("n700_b201", 700, 201), ("n10_b301", 10, 301)]:
        x = g.standard_normal(n)
        b = g.standard_normal(nb)
        fx.case(name)
        fx.arr("x", x); fx.arr("b", b); fx.arr("y", filter_fir(x, b))
    # long enough for several overlap-save blocks in sdd (its own generator,
    # so the draws of the cases above and of the files below stay as they were)
    g2 = np.random.RandomState(8)
    x = g2.standard_normal(3000)
    b = g2.standard_normal(491) / np.sqrt(491)
    fx.case("n3000_b491")
    fx.arr("x", x); fx.arr("b", b); fx.arr("y", filter_fir(x, b))
    fx.close()

    # 3. the three algorithms with given draws; x is stored once (case
    # "input") and each case uses x[:len] * scale
    fx = Fixture(os.path.join(outdir, "given.txt"), "LnL / ISD / SSI with given draws")
    x = test_signal(600, 1)
    noise = g.standard_normal(600)
    fx.case("input")
    fx.arr("x", x); fx.arr("noise", noise)
    nf, nb = 3, 2
    fcs = [[1500.0, 5000.0], [300.0, 7777.0], [4000.0, 2000.0]]
    bws = [[200.0, 600.0], [150.0, 400.0], [999.0, 101.0]]
    cs = [[21, 35], [11, 13], [99, 10]]
    Gs = [0.0, -7.5, -16.25]
    for name, scale, n in [("lnl", 1.0, 600), ("lnl_loud", 4.0, 600), ("lnl_short", 1.0, 40)]:
        xin = scale * x[:n]          # loud: the LnL output exceeds 1 and normWav divides
        fx.case(name)
        fx.arr("scale", scale); fx.arr("len", n)
        fx.arr("fc", fcs); fx.arr("bw", bws); fx.arr("c", cs); fx.arr("G", Gs)
        fx.arr("nf", nf); fx.arr("nbands", nb); fx.arr("fs", fs)
        fx.arr("y", lnl_given(xin, fcs, bws, cs, Gs, fs))
    idx = g.permutation(600)[:45]
    fr = (2 * g.rand(45) - 1) * (2 * g.rand(45) - 1)
    for name, scale, gsd in [("isd", 1.0, 2.0), ("isd_loud", 3.0, 5.0)]:
        fx.case(name)
        fx.arr("scale", scale); fx.arr("len", 600)
        fx.arr("idx", idx); fx.arr("fr", fr); fx.arr("gsd", gsd)
        fx.arr("y", isd_given(scale * x, idx, fr, gsd))
    fc, bw, c, G = [800.0, 3500.0, 6100.0], [300.0, 900.0, 120.0], [31, 45, 17], 0.0
    for name, n, snr in [("ssi", 600, 17.3), ("ssi_short", 25, -3.0)]:
        fx.case(name)
        fx.arr("scale", 1.0); fx.arr("len", n)
        fx.arr("fc", fc); fx.arr("bw", bw); fx.arr("c", c)
        fx.arr("G", G); fx.arr("snr", snr); fx.arr("fs", fs)
        fx.arr("y", ssi_given(x[:n], noise[:n], np.array(fc), np.array(bw), c, G, snr, fs))
    fx.close()

    # 4. end to end: sdd_rawboost_apply(algo, x[:len] * scale, params,
    # sdd_rng_key(seed, 0, 0, 0)); x stored once in case "input"
    fx = Fixture(os.path.join(outdir, "apply.txt"),
                 "sdd_rawboost_apply end to end with sdd's counter RNG: params seed algo x -> y")
    x = test_signal(500, 2)
    fx.case("input")
    fx.arr("x", x, "%.9g")
    p0 = default_params()
    p1 = dict(p0, nBands=2, minCoeff=3, maxCoeff=30, N_f=3, P=60.0, g_sd=4.0, minG=-3.0, maxG=2.0,
              SNRmin=-5.0, SNRmax=5.0, minF=100.0, maxF=7500.0)
    runs = [(p0, 11, a, 1.0, 500) for a in range(9)]
    runs += [(p1, 12345, a, 1.0, 500) for a in (1, 2, 3, 4, 8)]
    runs += [(p0, 99, 4, 3.0, 300), (p0, 7, 5, 1.0, 3)]
    for p, seed, algo, scale, n in runs:
        key = rng_key(seed, 0, 0, 0)
        xin = (scale * x[:n]).astype(np.float32).astype(np.float64)  # what sdd gets as float
        y = apply(algo, xin, p, SddDraws(key))
        fx.case("algo%d_seed%d_n%d" % (algo, seed, n))
        fx.arr("params", [p[k] for k in PARAM_ORDER]); fx.arr("seed", seed); fx.arr("algo", algo)
        fx.arr("scale", scale); fx.arr("len", n)
        fx.arr("y", y, "%.10g")
    fx.close()

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-fixtures", metavar="DIR")
    a = ap.parse_args()
    if a.write_fixtures:
        write_fixtures(a.write_fixtures)
        return 0
    ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
