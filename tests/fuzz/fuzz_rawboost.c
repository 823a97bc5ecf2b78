/* libFuzzer target for the RawBoost flag parser (sdd_rawboost_parse_flag),
 * the parameter check behind it (sdd_rawboost_check_params) and the
 * algorithms on whatever parameters pass the check. The input is text:
 * line 1 = the algorithm (its first byte mod 9), then one "FLAG VALUE" per
 * line ("--rb-nbands 7"). Checks the contract: parse_flag returns 1, 0 or -1,
 * -1 with one line naming the flag; parameters that pass check_params never
 * make the algorithms fail, crash or produce a non-finite sample on a short
 * finite signal. */
#include "audio/rawboost.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N 1200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    const int algo = data[0] % 9;
    sdd_rawboost_params p;
    sdd_rawboost_default_params(&p);
    sdd_err e = { "" };
    char *save = NULL, *line = strtok_r(text, "\n", &save);   /* the algorithm line */
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *sp = strchr(line, ' ');
        const char *value = NULL;
        if (sp) { *sp = 0; value = sp + 1; }
        int r = sdd_rawboost_parse_flag(&p, line, value, &e);
        if (r < -1 || r > 1) __builtin_trap();
        if (r == -1 && (strncmp(e.msg, line, strlen(line)) || strchr(e.msg, '\n'))) __builtin_trap();
    }
    free(text);
    if (sdd_rawboost_check_params(&p, &e)) {
        if (strchr(e.msg, '\n') || !strstr(e.msg, "--rb-")) __builtin_trap();
        return 0;
    }
    /* bound the work per input (FIR taps x filters): the largest valid
     * settings (64 filters of 64 bands x 4096 taps) take seconds per call,
     * which would stall the fuzzer; their parsing and checks still run */
    if ((double)(p.N_f + 1) * (p.nBands + 1) * (p.maxCoeff + 1) > 20000) return 0;
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = 0.5f * sinf(0.05f * (float)i);
    if (sdd_rawboost_apply(algo, x, N, y, &p, 1234, &e)) {
        if (strchr(e.msg, '\n')) __builtin_trap();
        return 0;
    }
    for (int i = 0; i < N; i++)
        if (!isfinite(y[i])) __builtin_trap();
    return 0;
}
