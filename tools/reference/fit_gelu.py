#!/usr/bin/python3
"""Fits the polynomial coefficients of sdd's vectorised GELU (src/ops/vmath.h).

Not on any build path: it prints the C constants that vmath.h carries, so the
numbers can be re-derived. Targets come from mpmath at 50 digits; the fit is
weighted least squares on Chebyshev nodes refined by Lawson's iteration (the
weights move towards the minimax solution of the relative error).

  erf(z)  = z * P(z^2)                          for 0 <= z <= 1/2 (fitted on [0, 1])
  erfc(z) = t * exp(-z^2) * R(t), t = 1/(1+z/2)  for 1/2 <= z <= 10
(the switch at 1/2 keeps Phi = 1/2 - erf/2 away from cancellation)
(t as in the classic erfc approximation of Numerical Recipes; R fitted here
for this interval only).
Usage: /usr/bin/python3 tools/reference/fit_gelu.py
"""
import mpmath
import numpy as np

mpmath.mp.dps = 50


def lawson(xs, target, basis, scale, iters=60):
    """min max |sum c_j basis_j(x) - target(x)| / scale(x) (approximately)"""
    A = np.array([[b(x) for b in basis] for x in xs], dtype=np.float64)
    y = np.array([target(x) for x in xs], dtype=np.float64)
    s = np.array([scale(x) for x in xs], dtype=np.float64)
    w = np.ones(len(xs)) / len(xs)
    for _ in range(iters):
        sw = np.sqrt(w) / s
        c, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
        err = np.abs(A @ c - y) / s
        w = w * err
        w /= w.sum()
    return c, np.max(np.abs(A @ c - y) / s)


def cheb(a, b, n):
    k = np.arange(n)
    return 0.5 * (a + b) + 0.5 * (b - a) * np.cos(np.pi * (k + 0.5) / n)


def main():
    # erf on [0, 1]: P(u) with u = z^2, fitted to erf(z)/z (relative error of erf)
    us = cheb(1e-12, 1.0, 400)
    f = lambda u: float(mpmath.erf(mpmath.sqrt(u)) / mpmath.sqrt(u))
    for deg in (6, 7):
        c, e = lawson(us, f, [(lambda u, j=j: u ** j) for j in range(deg + 1)], lambda u: f(u))
        print("P degree %d: max relative error %.3g" % (deg, e))
        print("  " + ", ".join("%.9ef" % v for v in c))
    # erfc on [1/2, 10]: R(t) = erfc(z) exp(z^2) / t, relative error, in powers
    # of (t - TC): the centred basis keeps the coefficients small, so float
    # Horner adds little rounding
    ts = cheb(1.0 / (1.0 + 5.0), 1.0 / 1.25, 400)
    tc = 0.5 * (1.0 / 6.0 + 0.8)
    def r(t):
        z = 2 * (1 / mpmath.mpf(t) - 1)
        return float(mpmath.erfc(z) * mpmath.exp(z * z) / t)
    print("TC = %.9ef" % tc)
    for deg in (8, 9, 10):
        c, e = lawson(ts, r, [(lambda t, j=j: (t - tc) ** j) for j in range(deg + 1)], r)
        print("R degree %d: max relative error %.3g" % (deg, e))
        print("  " + ", ".join("%.9ef" % v for v in c))


if __name__ == "__main__":
    main()
