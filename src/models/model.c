/* Owns the model registry and the generic (PyTorch-default) random init. */
#include "models/model.h"
#include "core/rng.h"
#include "models/xlsr.h"
#include "models/backends.h"
#include "core/str.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *sdd_model_archs(void)
{
    return "AASIST, AASIST-L, XLSR-AASIST, XLSR-AASIST-tiny, XLSR-Mamba, XLSR-Mamba-tiny, XLSR-Conformer-TCM, XLSR-Conformer-TCM-tiny";
}

int64_t sdd_model_cut(const sdd_model *m)
{
    return m->cut > 0 ? m->cut : m->nb_samp;
}

/* XLSR-Mamba(-tiny), XLSR-Conformer-TCM(-tiny); 1 when arch is none of them */
static int create_xlsr_seq(sdd_model *m, const char *arch, sdd_err *e)
{
    const int tiny = !strcmp(arch, "XLSR-Mamba-tiny") || !strcmp(arch, "XLSR-Conformer-TCM-tiny");
    const sdd_xlsr_config x = tiny ? sdd_xlsr_config_tiny() : sdd_xlsr_config_300m();
    if (!strcmp(arch, "XLSR-Mamba") || !strcmp(arch, "XLSR-Mamba-tiny")) {
        sdd_mamba_cfg b;
        if (tiny) sdd_mamba_cfg_tiny(&b); else sdd_mamba_cfg_default(&b);
        return sdd_xlsr_mamba_create(m, &x, &b, arch, e);
    }
    if (!strcmp(arch, "XLSR-Conformer-TCM") || !strcmp(arch, "XLSR-Conformer-TCM-tiny")) {
        sdd_conformer_cfg b;
        if (tiny) sdd_conformer_cfg_tiny(&b); else sdd_conformer_cfg_default(&b);
        return sdd_xlsr_conformer_create(m, &x, &b, arch, e);
    }
    return 1;
}

int sdd_model_set_recompute(sdd_model *m, int on, sdd_err *e)
{
    if (!m->ssl) return sdd_err_set(e, "%s has no XLS-R front end to recompute", m->arch);
    m->ssl->cfg.recompute = on != 0;
    return 0;
}

int sdd_model_cuda_check(const sdd_model *m, const char *who, sdd_err *e)
{
    if (m->cuda_ok) return 0;
    if (m->cuda_missing)
        return sdd_err_set(e, "%s%s has no CUDA implementation yet (no CUDA kernels for %s; use --device cpu)", who, m->arch, m->cuda_missing);
    return sdd_err_set(e, "%s%s has no CUDA implementation yet (use --device cpu)", who, m->arch);
}

const char *sdd_model_arch_name(const char *name)
{
    static const char *const names[] = { "AASIST", "AASIST-L", "XLSR-AASIST", "XLSR-AASIST-tiny", "XLSR-Mamba", "XLSR-Mamba-tiny",
                                         "XLSR-Conformer-TCM", "XLSR-Conformer-TCM-tiny" };
    /* the short names the paper's tables and issue use */
    static const char *const alias[][2] = { { "xlsr-tcm", "XLSR-Conformer-TCM" }, { "xlsr-tcm-tiny", "XLSR-Conformer-TCM-tiny" },
                                            { "xlsr-conformer", "XLSR-Conformer-TCM" }, { "xlsr-conformer-tiny", "XLSR-Conformer-TCM-tiny" } };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(name, names[i])) return names[i];
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcasecmp(name, alias[i][0])) return alias[i][1];
    return NULL;
}

sdd_model *sdd_model_new(const char *name, sdd_err *e)
{
    const char *arch = sdd_model_arch_name(name);
    if (!arch) { sdd_err_set(e, "unknown model architecture '%s' (known: %s)", name, sdd_model_archs()); return NULL; }
    sdd_model *m = calloc(1, sizeof *m);
    if (!m) { sdd_err_set(e, "out of memory"); return NULL; }
    sdd_params_init(&m->params);
    int rc;
    if (strcmp(arch, "AASIST") == 0) rc = sdd_aasist_create(m, 0, e);
    else if (strcmp(arch, "AASIST-L") == 0) rc = sdd_aasist_create(m, 1, e);
    else if (strcmp(arch, "XLSR-AASIST") == 0) { sdd_xlsr_config x = sdd_xlsr_config_300m(); rc = sdd_xlsr_aasist_create(m, &x, e); }
    else if (strcmp(arch, "XLSR-AASIST-tiny") == 0) { sdd_xlsr_config x = sdd_xlsr_config_tiny(); rc = sdd_xlsr_aasist_create(m, &x, e); }
    else if ((rc = create_xlsr_seq(m, arch, e)) == 1)
        rc = sdd_err_set(e, "unknown model architecture '%s' (known: %s)", arch, sdd_model_archs());
    if (rc) { sdd_model_free(m); return NULL; }
    return m;
}

void sdd_model_free(sdd_model *m)
{
    if (!m) return;
    sdd_model_free_int8(m);
    if (m->free_impl) m->free_impl(m->impl);
    sdd_params_free(&m->params);
    free(m);
}

/* Weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's default for Linear/Conv
 * (kaiming_uniform with a = sqrt(5)); biases likewise with the weight's fan_in;
 * attention vectors (D, 1) xavier-normal; positional/master embeddings N(0, 1);
 * BatchNorm weight 1, bias 0, running mean 0, var 1. */
void sdd_model_init_random(sdd_model *m, uint64_t seed)
{
    sdd_params *ps = &m->params;
    for (int i = 0; i < ps->np; i++) {
        sdd_pinfo *pi = &ps->p[i];
        float *x = sdd_params_ptr(ps, i);
        const uint64_t key = sdd_rng_key(seed, 0x1417, (uint64_t)i, 0);
        const int isbn = strstr(pi->name, "bn") != NULL && pi->nd == 1;
        if (sdd_str_ends_with(pi->name, ".running_var") || (isbn && sdd_str_ends_with(pi->name, ".weight"))) {
            for (size_t k = 0; k < pi->numel; k++) x[k] = 1.0f;
        } else if (sdd_str_ends_with(pi->name, ".running_mean") || (isbn && sdd_str_ends_with(pi->name, ".bias"))) {
            for (size_t k = 0; k < pi->numel; k++) x[k] = 0.0f;
        } else if (pi->nd == 2 && pi->shape[1] == 1 && strstr(pi->name, "att_weight")) {
            const double sd = sqrt(2.0 / (double)(pi->shape[0] + 1));
            for (size_t k = 0; k < pi->numel; k++) x[k] = (float)(sd * sdd_rng_normal(key, k));
        } else if (sdd_str_ends_with(pi->name, ".weight") || sdd_str_ends_with(pi->name, ".bias")) {
            size_t fan_in = pi->numel / (size_t)(pi->shape[0] ? pi->shape[0] : 1);
            if (sdd_str_ends_with(pi->name, ".bias")) {
                /* fan_in of the sibling weight */
                char wn[sizeof pi->name];
                strcpy(wn, pi->name);
                strcpy(wn + strlen(wn) - 5, "weight");
                int w = sdd_params_find(ps, wn);
                fan_in = w >= 0 ? ps->p[w].numel / (size_t)ps->p[w].shape[0] : 1;
            }
            const double bound = 1.0 / sqrt((double)(fan_in ? fan_in : 1));
            for (size_t k = 0; k < pi->numel; k++) x[k] = (float)(bound * (2.0 * sdd_rng_uniform_d(key, k) - 1.0));
        } else {
            for (size_t k = 0; k < pi->numel; k++) x[k] = (float)sdd_rng_normal(key, k);
        }
    }
    if (m->post_init) m->post_init(m);
}
