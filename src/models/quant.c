/* Owns int8 inference for the XLS-R models (sdd score --int8): the
 * encoder's linear layers (per layer: q, k, v, out, fc1, fc2; in the 300M
 * front end about 85% of a forward's multiply-adds) quantized once into
 * backend/qgemm.h's form, which sdd_xlsr_forward then uses whenever no
 * tape is recorded on the CPU. The float32 weights stay: training, the
 * device and the other layers use them. */
#include "models/model.h"
#include "models/xlsr.h"
#include "backend/qgemm.h"

#include <stdlib.h>

void sdd_model_free_int8(sdd_model *m)
{
    if (!m || !m->ssl || !m->ssl->q8) return;
    for (int i = 0; i < m->params.np; i++) {
        sdd_q8_linear_free(m->ssl->q8[i]);
        free(m->ssl->q8[i]);
    }
    free(m->ssl->q8);
    m->ssl->q8 = NULL;
}

int sdd_model_quantize_int8(sdd_model *m, int *nlin, sdd_err *e)
{
    if (!m->ssl) return sdd_err_set(e, "%s: int8 inference covers the XLS-R front end's linear layers; this model has none", m->arch);
    sdd_xlsr *x = m->ssl;
    if (x->q8) { if (nlin) *nlin = 6 * x->cfg.layers; return 0; }
    x->q8 = calloc((size_t)m->params.np, sizeof *x->q8);
    if (!x->q8) return sdd_err_set(e, "out of memory");
    int n = 0;
    for (int l = 0; l < x->cfg.layers; l++) {
        const sdd_xlsr_layer *L = &x->layer[l];
        const sdd_xlsr_lin *lins[6] = { &L->q, &L->k, &L->v, &L->out, &L->fc1, &L->fc2 };
        for (int k = 0; k < 6; k++) {
            const sdd_pinfo *pi = &m->params.p[lins[k]->w];
            sdd_q8_linear *q = calloc(1, sizeof *q);
            if (!q) { sdd_model_free_int8(m); return sdd_err_set(e, "out of memory"); }
            x->q8[lins[k]->w] = q;
            if (sdd_q8_linear_init(q, sdd_params_ptr(&m->params, lins[k]->w), (int)pi->shape[0], (int)pi->shape[1], e)) {
                sdd_err_prefix(e, "%s", pi->name);
                sdd_model_free_int8(m);
                return -1;
            }
            n++;
        }
    }
    if (nlin) *nlin = n;
    return 0;
}
