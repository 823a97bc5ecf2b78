/* Tests for model-file loading in src/models/modelio.c as sdd_model_load
 * runs it on safetensors: the header is read first and each weight is then
 * read from the file into the parameter block (sdd_safetensors_open,
 * sdd_tensor_read). Checks the dtype conversions on that path (F32, F64, F16,
 * BF16 mixed in one file, values exact in every type), that a non-finite
 * value in a converted tensor is refused naming the file, tensor and element,
 * and that the snapshot reader (sdd_model_open_weights) wants F32. */
#include "check.h"
#include "io/safetensors.h"
#include "models/modelio.h"
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[256];

#define tpath(name) check_tmp_path(tmpdir, (name))

/* v as IEEE half; v is 0 or a normal half with at most 11 significant bits */
static uint16_t to_half(float v)
{
    if (v == 0.0f) return 0;
    uint16_t sign = v < 0 ? 0x8000 : 0;
    int ex;
    const float fr = frexpf(fabsf(v), &ex);   /* |v| = fr * 2^ex, fr in [0.5, 1) */
    const uint16_t man = (uint16_t)((fr * 2.0f - 1.0f) * 1024.0f);
    return (uint16_t)(sign | (uint16_t)((ex - 1 + 15) << 10) | man);
}

static uint16_t to_bf16(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return (uint16_t)(u >> 16);
}

/* m's weights written with dtype (i % 4) for parameter i: F32, F64, F16, BF16 */
static int save_mixed(const sdd_model *m, const char *path, int poison_f16, int poison_f64, sdd_err *e)
{
    sdd_tensorset ref, out;
    if (sdd_model_to_tensorset(m, &ref, e)) return -1;
    sdd_tensorset_init(&out);
    int rc = 0, f16_done = 0, f64_done = 0;
    for (int i = 0; i < ref.n && !rc; i++) {
        const sdd_ntensor *t = &ref.t[i];
        const float *x = t->data;
        const size_t n = t->nbytes / 4;
        const sdd_dtype dt = (sdd_dtype[]){ SDD_F32, SDD_F64, SDD_F16, SDD_BF16 }[i % 4];
        const size_t es = sdd_dtype_size(dt);
        unsigned char *b = malloc(n * es + 1);
        if (!b) { rc = -1; break; }
        for (size_t k = 0; k < n; k++) {
            if (dt == SDD_F32) memcpy(b + 4 * k, &x[k], 4);
            else if (dt == SDD_F64) { double d = x[k]; memcpy(b + 8 * k, &d, 8); }
            else { uint16_t h = dt == SDD_F16 ? to_half(x[k]) : to_bf16(x[k]); memcpy(b + 2 * k, &h, 2); }
        }
        /* element 3 of the first F16 / F64 tensor with 4 or more elements becomes +inf / NaN */
        if (dt == SDD_F16 && poison_f16 && !f16_done && n > 3) { uint16_t h = 0x7c00; memcpy(b + 6, &h, 2); f16_done = 1; }
        if (dt == SDD_F64 && poison_f64 && !f64_done && n > 3) { double d = NAN; memcpy(b + 24, &d, 8); f64_done = 1; }
        rc = sdd_tensorset_add_owned(&out, t->name, dt, t->ndim, t->shape, b, n * es, e);
    }
    for (int i = 0; i < ref.nmeta && !rc; i++) rc = sdd_tensorset_set_meta(&out, ref.meta_key[i], ref.meta_val[i], e);
    if (!rc) rc = sdd_safetensors_save(path, &out, e);
    sdd_tensorset_free(&ref);
    sdd_tensorset_free(&out);
    return rc;
}

static void test_dtypes(void)
{
    sdd_err e = { "" };
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK_MSG(m, "%s", e.msg);
    if (!m) return;
    /* multiples of 1/16 in [-2, 2): exact in every float type */
    for (int i = 0; i < m->params.np; i++) {
        float *x = sdd_params_ptr(&m->params, i);
        for (size_t k = 0; k < m->params.p[i].numel; k++) x[k] = (float)((int)((k + (size_t)i) * 7919 % 64) - 32) / 16.0f;
    }
    const char *p = tpath("mixed.safetensors");
    CHECK_MSG(save_mixed(m, p, 0, 0, &e) == 0, "%s", e.msg);
    sdd_model *r = sdd_model_load(p, NULL, &e);
    CHECK_MSG(r && r->params.total == m->params.total, "%s", e.msg);
    if (r) {
        size_t diff = 0;
        for (int i = 0; i < m->params.np; i++) {
            const float *x = sdd_params_ptr(&m->params, i), *y = sdd_params_ptr(&r->params, i);
            for (size_t k = 0; k < m->params.p[i].numel; k++) diff += x[k] != y[k];
        }
        CHECK_MSG(diff == 0, "%zu weights differ after the F32/F64/F16/BF16 round trip", diff);
        CHECK(!strcmp(r->arch, "AASIST-L"));
    }
    sdd_model_free(r);
    /* the snapshot reader takes F32 only */
    sdd_tensorset ts;
    CHECK(sdd_model_open_weights(m, p, &ts, &e) == -1 && ts.n == 0);
    CHECK_STR_CONTAINS(e.msg, "is not F32 with AASIST-L's shape");
    CHECK_STR_CONTAINS(e.msg, p);
    /* a non-finite value in a converted tensor: refused, naming file, tensor and element */
    const char *inf = tpath("inf16.safetensors"), *nan = tpath("nan64.safetensors");
    CHECK_MSG(save_mixed(m, inf, 1, 0, &e) == 0 && save_mixed(m, nan, 0, 1, &e) == 0, "%s", e.msg);
    CHECK(sdd_model_load(inf, NULL, &e) == NULL);
    CHECK_STR_CONTAINS(e.msg, inf);
    CHECK_STR_CONTAINS(e.msg, "holds a non-finite value at element 3");
    CHECK(!strchr(e.msg, '\n'));
    CHECK(sdd_model_load(nan, NULL, &e) == NULL);
    CHECK_STR_CONTAINS(e.msg, nan);
    CHECK_STR_CONTAINS(e.msg, "holds a non-finite value at element 3");
    sdd_model_free(m);
    unlink(p);
    unlink(inf);
    unlink(nan);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sdd_test_modelio.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("test_modelio: mkdtemp");
        return 1;
    }
    test_dtypes();
    rmdir(tmpdir);
    return CHECK_DONE("test_modelio");
}
