/* Eval logits of a model on the CPU or the CUDA device (real or emulated),
 * for the CUDA tests (test_cuda, test_cuda_emu, test_cuda_emu_xlsr).
 * Header-only; include after the sdd headers it uses. */
#ifndef SDD_TESTS_DEVICE_LOGITS_H
#define SDD_TESTS_DEVICE_LOGITS_H
#include <stdio.h>
#include <stdlib.h>
#include "models/infer.h"
#include "backend/device.h"

/* logits (B, 2) of wave (B, L) on the CPU (dev 0) or CUDA (dev 1); -1 with the reason printed */
static inline int logits_on(sdd_model *m, int dev, const float *wave, int B, int64_t L, float *logits)
{
    sdd_ctx c;
    sdd_err e;
    sdd_ctx_init(&c, &m->params);
    float *scores = malloc((size_t)B * sizeof(float));
    int rc = scores ? 0 : -1;
    if (!rc && sdd_ctx_set_device(&c, dev, &e)) { fprintf(stderr, "set device: %s\n", e.msg); rc = -1; }
    if (!rc && sdd_score_batch(m, &c, wave, B, L, scores, logits, &e)) { fprintf(stderr, "score (%s): %s\n", dev ? "cuda" : "cpu", e.msg); rc = -1; }
    free(scores);
    sdd_ctx_free(&c);
    return rc;
}

#endif
