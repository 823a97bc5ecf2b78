/* libFuzzer target for the calibration / fusion solver
 * (sdd_calibration_train and sdd_calibration_check in
 * src/metrics/calibration.c): the bytes give 1-3 inputs, a prior, a scale
 * per input (1e-3 .. 1e30), trials of int16 scores with labels and an
 * occasional outlier. Checks the contract: the solver returns 0 with finite
 * weights, bias and threshold, or -1 with one line; a fit the check accepts
 * applies to finite LLRs; and for one input, whose affine family holds the
 * identity, the fit is never worse than the raw scores taken as LLRs: Cllr
 * after <= Cllr before + the regulariser's share (l2 = 1e-6, as sdd
 * calibrate). */
#include "metrics/calibration.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    const int k = 1 + data[0] % 3;
    static const double priors[4] = { 0.5, 0.05, 0.95, 0.2 };
    const double prior = priors[data[1] % 4];
    double scale[3];
    size_t o = 2;
    for (int j = 0; j < k; j++, o++) scale[j] = o < size ? pow(10.0, (double)(data[o] % 34) - 3.0) : 1.0;
    const size_t rec = (size_t)(2 * k + 1);
    int64_t n = 0;
    double x[MAXN * 3];
    unsigned char pos[MAXN];
    for (; o + rec <= size && n < MAXN; o += rec, n++) {
        const uint8_t flags = data[o + 2 * k];
        pos[n] = flags & 1;
        for (int j = 0; j < k; j++) {
            const int16_t v = (int16_t)(data[o + 2 * j] | data[o + 2 * j + 1] << 8);
            /* flags bit 1: this trial's first input is an outlier, 1e20 times farther out */
            x[n * k + j] = (double)v * scale[j] * (j == 0 && (flags & 2) ? 1e20 : 1.0);
        }
    }
    if (n < 2) return 0;
    sdd_calibration c;
    sdd_calibration_info info;
    sdd_err e = { "" };
    const double l2 = 1e-6;
    if (sdd_calibration_train(x, pos, n, k, prior, l2, &c, &info, &e)) {
        if (!e.msg[0] || strchr(e.msg, '\n')) __builtin_trap();
        return 0;
    }
    for (int j = 0; j < k; j++)
        if (!isfinite(c.w[j])) __builtin_trap();
    if (!isfinite(c.b) || !isfinite(c.threshold)) __builtin_trap();
    int input;
    if (sdd_calibration_check(&c, x, n, &input, &e)) {
        if (!e.msg[0] || strchr(e.msg, '\n') || input < -1 || input >= k) __builtin_trap();
        return 0;
    }
    static double s[MAXN];
    for (int64_t i = 0; i < n; i++) {
        s[i] = sdd_calibration_apply(&c, x + i * k);
        if (!isfinite(s[i])) __builtin_trap();
    }
    if (k == 1) {
        /* the objective is Cllr (in nats, times the entropy of the prior) plus
         * l2 w^2 / 2: the identity's costs Cllr_raw + l2 / 2, so the fit's
         * Cllr can exceed Cllr_raw by at most that share, in bits */
        const double h = -(prior * log2(prior) + (1 - prior) * log2(1 - prior)) * log(2.0);
        const double before = sdd_calibration_cllr(x, pos, n, prior);
        const double after = sdd_calibration_cllr(s, pos, n, prior);
        if (isfinite(before) && after > before + 0.5 * l2 / h + 1e-9 * (1 + before)) __builtin_trap();
    }
    return 0;
}
