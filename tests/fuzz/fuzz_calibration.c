/* libFuzzer target for the calibration / fusion file reader
 * (src/metrics/calibration.c). Checks the contract: success gives 1..64
 * finite weights, a finite bias and threshold, a prior in (0, 1) and costs
 * that pass validation, and the file written back parses to the same
 * values; failure gives -1, k = 0 and one line naming the input. */
#include "metrics/calibration.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_calibration c;
    sdd_err e = { "" };
    int rc = sdd_calibration_parse((const char *)data, size, "fuzz", &c, &e);
    if (rc == 0) {
        if (c.k < 1 || c.k > SDD_CAL_MAX_INPUTS) __builtin_trap();
        for (int i = 0; i < c.k; i++)
            if (!isfinite(c.w[i])) __builtin_trap();
        if (!isfinite(c.b) || !isfinite(c.threshold) || !(c.prior > 0 && c.prior < 1)) __builtin_trap();
        if (!(c.pspoof > 0 && c.pspoof < 1) || !(c.cmiss > 0) || !(c.cfa > 0)) __builtin_trap();
        double x[SDD_CAL_MAX_INPUTS] = { 0 };
        (void)sdd_calibration_apply(&c, x);
        char *js = sdd_calibration_to_json(&c, 1, NULL, NULL, &e);
        if (!js) __builtin_trap();
        sdd_calibration d;
        if (sdd_calibration_parse(js, strlen(js), "again", &d, &e)) __builtin_trap();
        if (d.k != c.k || d.b != c.b || d.threshold != c.threshold || memcmp(d.w, c.w, sizeof c.w[0] * (size_t)c.k))
            __builtin_trap();
        free(js);
    } else {
        if (rc != -1 || c.k != 0) __builtin_trap();
        if (strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) __builtin_trap();
    }
    return 0;
}
