/* XLSR-Mamba and XLSR-Conformer-TCM end to end, in their tiny registered
 * sizes (XLS-R tiny front end + tiny back-ends): a dual-path train step with
 * dropout (finite per-path losses, gradients reaching the front end and the
 * back-end on both paths), eval logits unchanged by a save/load round trip,
 * and XLSR-Mamba's final-norm setting in the model file: new models are
 * "fixed"; "reference" read back from the metadata changes the logits and
 * leaves the last blocks without gradient; a bad or missing value is an error
 * naming the file; a checkpoint in the reference code's layout (no sdd
 * metadata, "module." prefix) is recognised and loads in the reference form.
 * Then sdd_train_run trains each new model for two dual-path steps with
 * gradient alignment and writes a model that loads (XLSR-Mamba still "fixed"). */
#include "check.h"
#include "models/modelio.h"
#include "train/trainer.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define B 4
#define L 6400

static float wave[B * L];

/* eval logits (B, 2) of m on the test batch into z */
static int eval_logits(sdd_model *m, float *z)
{
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    sdd_ctx_begin(&c, B, 0, 0);
    int64_t shp[2] = { B, L };
    sdd_tensor *y = m->forward(&c, m, sdd_tensor_wrap(&c, wave, 2, shp));
    CHECK_MSG(y != NULL, "%s eval: %s", m->arch, c.err.msg);
    if (y) memcpy(z, y->x, B * 2 * sizeof(float));
    sdd_ctx_free(&c);
    return y ? 0 : -1;
}

/* a dual-path train step with dropout: per-path losses into loss[2]; gradients in m->params.grad[0..1] */
static int train_step(sdd_model *m, float *loss)
{
    sdd_err e;
    if (!m->params.grad[0] && sdd_params_alloc_grads(&m->params, 2, &e)) return -1;
    sdd_params_zero_grads(&m->params);
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    sdd_ctx_begin(&c, B, 1, 1);
    c.rng_key = 99;
    c.bn_per_seg = 1;
    int ends[2] = { B / 2, B };
    sdd_ctx_set_segments(&c, 2, ends, NULL);
    int64_t shp[2] = { B, L };
    const int labels[B] = { 1, 0, 1, 0 };
    const float cw[2] = { 0.1f, 0.9f };
    sdd_tensor *Ls = sdd_ce_weighted(&c, m->forward(&c, m, sdd_tensor_wrap(&c, wave, 2, shp)), labels, cw, NULL);
    int rc = -1;
    if (Ls) {
        float *g = sdd_grad_of(&c, Ls);
        g[0] = g[1] = 1.0f;
        if (!sdd_backward(&c, 0, NULL, NULL)) { loss[0] = Ls->x[0]; loss[1] = Ls->x[1]; rc = 0; }
    }
    CHECK_MSG(rc == 0, "%s train step: %s", m->arch, c.err.msg);
    sdd_ctx_free(&c);
    return rc;
}

static double grad_norm(const sdd_model *m, int path, const char *name)
{
    const int i = sdd_params_find(&m->params, name);
    CHECK_MSG(i >= 0, "%s has no parameter %s", m->arch, name);
    if (i < 0) return -1;
    double s = 0;
    for (size_t k = 0; k < m->params.p[i].numel; k++) {
        const double v = m->params.grad[path][m->params.p[i].off + k];
        s += v * v;
    }
    return sqrt(s);
}

/* saves ts (after the edit) and loads it back */
static sdd_model *roundtrip(const sdd_tensorset *ts, const char *path, sdd_err *e)
{
    if (sdd_safetensors_save(path, ts, e)) return NULL;
    return sdd_model_load(path, NULL, e);
}

/* a copy of ts without metadata key `drop` (NULL: keep all) and, with strip, without any metadata and
 * every tensor under "module." (the reference code's nn.DataParallel layout) */
static void copy_set(const sdd_tensorset *ts, sdd_tensorset *out, const char *drop, int strip)
{
    sdd_err e;
    sdd_tensorset_init(out);
    for (int i = 0; i < ts->n; i++) {
        char nm[256];
        snprintf(nm, sizeof nm, "%s%s", strip ? "module." : "", ts->t[i].name);
        sdd_tensorset_add(out, nm, ts->t[i].dtype, ts->t[i].ndim, ts->t[i].shape, ts->t[i].data, ts->t[i].nbytes, &e);
    }
    for (int i = 0; !strip && i < ts->nmeta; i++)
        if (!drop || strcmp(ts->meta_key[i], drop)) sdd_tensorset_set_meta(out, ts->meta_key[i], ts->meta_val[i], &e);
}

static void test_arch(const char *arch, int mamba)
{
    sdd_err e;
    sdd_model *m = sdd_model_new(arch, &e);
    CHECK_MSG(m != NULL, "%s: %s", arch, e.msg);
    if (!m) return;
    sdd_model_init_random(m, 7);
    CHECK_STR_CONTAINS(sdd_model_archs(), arch);
    if (mamba) CHECK_STR_CONTAINS(m->config, "\"mamba_final_norm\": \"fixed\"");
    float loss[2];
    if (train_step(m, loss) == 0) {
        CHECK_MSG(isfinite(loss[0]) && isfinite(loss[1]) && loss[0] > 0 && loss[1] > 0, "%s: losses %g %g", arch, loss[0], loss[1]);
        const char *back = mamba ? "conformer.forward_layers.1.mixer.A_log" : "conformer.encoder_blocks.1.attn.fn.ht_proj.weight";
        for (int p = 0; p < 2; p++) {
            CHECK_MSG(grad_norm(m, p, "ssl_model.model.encoder.layers.0.self_attn.q_proj.weight") > 0, "%s path %d: no front-end gradient", arch, p);
            CHECK_MSG(grad_norm(m, p, "ssl_model.model.feature_extractor.conv_layers.0.0.weight") > 0, "%s path %d: no conv-extractor gradient", arch, p);
            CHECK_MSG(grad_norm(m, p, back) > 0, "%s path %d: no gradient in %s", arch, p, back);
        }
    }
    float z0[B * 2], z1[B * 2];
    char path[64];
    snprintf(path, sizeof path, "/tmp/sdd_test_seq_%d.safetensors", (int)getpid());
    if (eval_logits(m, z0) == 0 && sdd_model_save(m, path, &e) == 0) {
        sdd_model *r = sdd_model_load(path, NULL, &e);
        CHECK_MSG(r != NULL, "%s reload: %s", arch, e.msg);
        if (r && eval_logits(r, z1) == 0) {
            CHECK_MSG(!memcmp(z0, z1, sizeof z0), "%s: logits change after a save/load round trip", arch);
            CHECK(!strcmp(r->arch, arch));
        }
        sdd_model_free(r);
    }
    if (mamba) {
        sdd_tensorset ts, ed;
        if (sdd_model_to_tensorset(m, &ts, &e) == 0) {
            /* the reference form from the metadata */
            copy_set(&ts, &ed, NULL, 0);
            sdd_tensorset_set_meta(&ed, "mamba_final_norm", "reference", &e);
            sdd_model *r = roundtrip(&ed, path, &e);
            CHECK_MSG(r != NULL, "reference-form reload: %s", e.msg);
            if (r) {
                CHECK_STR_CONTAINS(r->config, "\"mamba_final_norm\": \"reference\"");
                if (eval_logits(r, z1) == 0) CHECK_MSG(memcmp(z0, z1, sizeof z0) != 0, "reference and fixed final norms give the same logits");
                if (train_step(r, loss) == 0) {
                    CHECK(grad_norm(r, 0, "conformer.forward_layers.1.mixer.A_log") == 0.0);
                    CHECK(grad_norm(r, 1, "conformer.backward_layers.1.norm.weight") == 0.0);
                    CHECK(grad_norm(r, 0, "conformer.forward_layers.0.mixer.A_log") > 0.0);
                }
                /* saved again, it stays in the reference form (the train step moved the running statistics) */
                float z2[B * 2];
                eval_logits(r, z1);
                sdd_model *r2 = sdd_model_save(r, path, &e) == 0 ? sdd_model_load(path, NULL, &e) : NULL;
                CHECK_MSG(r2 && eval_logits(r2, z2) == 0 && !memcmp(z1, z2, sizeof z1), "reference form lost in a round trip: %s", e.msg);
                sdd_model_free(r2);
            }
            sdd_model_free(r);
            sdd_tensorset_free(&ed);
            /* a bad value, a missing value */
            copy_set(&ts, &ed, NULL, 0);
            sdd_tensorset_set_meta(&ed, "mamba_final_norm", "buggy", &e);
            r = roundtrip(&ed, path, &e);
            CHECK(r == NULL);
            CHECK_STR_CONTAINS(e.msg, path);
            CHECK_STR_CONTAINS(e.msg, "'buggy'");
            sdd_model_free(r);
            sdd_tensorset_free(&ed);
            copy_set(&ts, &ed, "mamba_final_norm", 0);
            r = roundtrip(&ed, path, &e);
            CHECK(r == NULL);
            CHECK_STR_CONTAINS(e.msg, "lacks mamba_final_norm");
            sdd_model_free(r);
            sdd_tensorset_free(&ed);
            /* the reference code's checkpoint layout: recognised, loaded in the reference form */
            copy_set(&ts, &ed, NULL, 1);
            r = roundtrip(&ed, path, &e);
            CHECK_MSG(r != NULL, "reference-layout checkpoint: %s", e.msg);
            if (r) {
                CHECK(!strcmp(r->arch, arch));
                CHECK_STR_CONTAINS(r->config, "\"mamba_final_norm\": \"reference\"");
                if (eval_logits(r, z1) == 0) CHECK_MSG(memcmp(z0, z1, sizeof z0) != 0, "imported checkpoint not in the reference form");
            }
            sdd_model_free(r);
            sdd_tensorset_free(&ed);
            sdd_tensorset_free(&ts);
        }
    }
    unlink(path);
    sdd_model_free(m);
}

static void test_train_run(const char *arch)
{
    char tmp[256], list[300], out[300], path[400];
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-xlsr-seq-%d", (int)getpid());
    mkdir(tmp, 0700);
    snprintf(list, sizeof list, "%s/list.txt", tmp);
    FILE *f = fopen(list, "w");
    if (!f) { CHECK_MSG(0, "cannot write %s", list); return; }
    fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\ntts_02.flac spoof\n");
    fclose(f);
    snprintf(out, sizeof out, "%s/run", tmp);
    sdd_train_config c = sdd_train_default_config();
    c.train_list = c.dev_list = list;
    c.train_audio = c.dev_audio = "tests/data/audio";
    c.out_dir = out;
    c.arch = arch;
    c.batch = 2;
    c.cut = 8000;
    c.epochs = 1;
    c.max_steps = 2;
    c.n_best = 1;
    c.workers = 1;
    c.quiet = 1;
    sdd_err e;
    const int rc = sdd_train_run(&c, &e);
    CHECK_MSG(rc == 0, "%s train: %s", arch, e.msg);
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    sdd_model *m = rc ? NULL : sdd_model_load(path, NULL, &e);
    CHECK_MSG(rc || m != NULL, "%s trained model: %s", arch, e.msg);
    if (m) {
        CHECK(!strcmp(m->arch, arch));
        if (!strcmp(arch, "XLSR-Mamba-tiny")) CHECK_STR_CONTAINS(m->config, "\"mamba_final_norm\": \"fixed\"");
        float z[B * 2];
        if (eval_logits(m, z) == 0) CHECK(isfinite(z[0]) && isfinite(z[7]));
    }
    sdd_model_free(m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
}

int main(void)
{
    for (int i = 0; i < B * L; i++) wave[i] = (float)(0.1 * sdd_rng_normal(5, (uint64_t)i));
    const char *a = sdd_model_arch_name("xlsr-tcm"), *b = sdd_model_arch_name("xlsr-mamba-TINY"), *l = sdd_model_arch_name("aasist-l");
    CHECK(a && !strcmp(a, "XLSR-Conformer-TCM"));
    CHECK(b && !strcmp(b, "XLSR-Mamba-tiny"));
    CHECK(l && !strcmp(l, "AASIST-L"));
    CHECK(sdd_model_arch_name("xlsr") == NULL && sdd_model_arch_name("AASIST-") == NULL);
    test_arch("XLSR-Mamba-tiny", 1);
    test_arch("XLSR-Conformer-TCM-tiny", 0);
    test_train_run("XLSR-Mamba-tiny");
    test_train_run("XLSR-Conformer-TCM-tiny");
    return CHECK_DONE("test_xlsr_seq");
}
