/* libFuzzer target for the SASV score/key reader (src/metrics/sasv.c) and the
 * a-DCF on what it accepts. The input is a score file, or a score file and a
 * key separated by a line "@@KEY@@"; the last byte's low bit asks for CM + ASV
 * sums. Checks the contract: success gives n > 0
 * trials with finite scores and classes 0..2, attacks only on spoof trials,
 * and an a-DCF in [0, 1]-normalised range (>= 0) or a clear refusal; failure
 * gives -1, n = 0 and one line naming one of the inputs. */
#include "metrics/sasv.h"
#include "metrics/dcf.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data, *key = NULL;
    size_t slen = size, klen = 0;
    const char *mark = memmem(buf, size, "@@KEY@@\n", 8);
    if (mark) {
        slen = (size_t)(mark - buf);
        key = mark + 8;
        klen = size - slen - 8;
    }
    sdd_sasv s;
    sdd_err e = { "" };
    const int sum = size > 0 && (data[size - 1] & 1);
    int rc = sdd_sasv_load_mem(buf, slen, "fuzz", key, klen, "fuzzkey", sum, &s, &e);
    if (rc == 0) {
        if (s.n <= 0) __builtin_trap();
        for (int64_t i = 0; i < s.n; i++) {
            if (!isfinite(s.score[i]) || s.cls[i] > 2) __builtin_trap();
            if (s.attack[i] && s.cls[i] != 2) __builtin_trap();
        }
        sdd_adcf_cost c;
        sdd_adcf_cost_asvspoof5(&c);
        sdd_adcf_result r;
        sdd_adcf_attacks a;
        if (s.n <= 5000 && sdd_sasv_adcf(&s, &c, &r, &a, &e) == 0) {
            if (!(r.min_adcf >= 0) || r.index < 0 || r.index > s.n) __builtin_trap();
            if (!(r.pmiss >= 0 && r.pmiss <= 1 && r.pfa_non >= 0 && r.pfa_non <= 1)) __builtin_trap();
            sdd_adcf_attacks_free(&a);
        }
        sdd_sasv_free(&s);
    } else {
        if (rc != -1 || s.n != 0) __builtin_trap();
        if (strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) __builtin_trap();
    }
    return 0;
}
