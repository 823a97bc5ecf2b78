/* XLS-R checkpoint import (models/xlsr_import.h) on synthetic checkpoints in
 * each layout (tools/reference/xlsr_ckpt_fixtures.py; values from the tiny
 * XLSR-AASIST fixture): Hugging Face safetensors (weight_g/_v) and
 * pytorch_model.bin (wav2vec2. prefix, parametrizations.weight.original0/1,
 * pretraining heads), a fairseq checkpoint dict (plain, and in xlsr2_300m.pt's
 * layout with args, omegaconf cfg and optimizer state), and a full SSL_Anti-spoofing
 * style model under nn.DataParallel's "module.". Every encoder tensor must
 * arrive bit-exact with the loaded and dropped counts right; wrong shapes,
 * unknown and missing tensors fail with messages naming them. */
#include "check.h"
#include "models/modelio.h"
#include "models/xlsr_import.h"
#include "io/safetensors.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX "tests/data/fixtures/xlsr_aasist_tiny.safetensors"
#define DIR "tests/data/xlsr/"

static sdd_tensorset fx;

/* parameters of m equal to the fixture's: encoder only, or all; returns the count compared */
static int same_as_fixture(const sdd_model *m, int all)
{
    int n = 0;
    for (int i = 0; i < m->params.np; i++) {
        const sdd_pinfo *pi = &m->params.p[i];
        const int enc = !strncmp(pi->name, "ssl_model.model.", 16);
        if (!enc && !all) continue;
        char k[192];
        snprintf(k, sizeof k, "param/%s", pi->name);
        const sdd_ntensor *t = sdd_tensorset_find(&fx, k);
        const int ok = t && t->nbytes == pi->numel * 4 && !memcmp(t->data, sdd_params_ptr(&m->params, i), t->nbytes);
        CHECK_MSG(ok, "%s differs from the fixture", pi->name);
        n += ok;
    }
    return n;
}

static int n_encoder(const sdd_model *m)
{
    int n = 0;
    for (int i = 0; i < m->params.np; i++) n += !strncmp(m->params.p[i].name, "ssl_model.model.", 16);
    return n;
}

static void test_names(void)
{
    char o[256];
    CHECK(sdd_xlsr_map_name("wav2vec2.encoder.layers.3.feed_forward.output_dense.bias", "P.", o, sizeof o) == 1 && !strcmp(o, "P.encoder.layers.3.fc2.bias"));
    CHECK(sdd_xlsr_map_name("encoder.layers.0.layer_norm.weight", "", o, sizeof o) == 1 && !strcmp(o, "encoder.layers.0.self_attn_layer_norm.weight"));
    CHECK(sdd_xlsr_map_name("encoder.pos_conv_embed.conv.parametrizations.weight.original1", "", o, sizeof o) == 1 && !strcmp(o, "encoder.pos_conv.0.weight_v"));
    CHECK(sdd_xlsr_map_name("feature_extractor.conv_layers.2.layer_norm.bias", "", o, sizeof o) == 1 && !strcmp(o, "feature_extractor.conv_layers.2.2.1.bias"));
    CHECK(sdd_xlsr_map_name("feature_projection.projection.weight", "", o, sizeof o) == 1 && !strcmp(o, "post_extract_proj.weight"));
    CHECK(sdd_xlsr_map_name("module.ssl_model.model.encoder.layers.1.self_attn.k_proj.weight", "", o, sizeof o) == 1 && !strcmp(o, "encoder.layers.1.self_attn.k_proj.weight"));
    CHECK(sdd_xlsr_map_name("ssl_model.model.quantizer.vars", "", o, sizeof o) == 0);
    CHECK(sdd_xlsr_map_name("masked_spec_embed", "", o, sizeof o) == 0);
    /* AASIST's residual encoder and other back-end tensors are not XLS-R keys */
    CHECK(sdd_xlsr_map_name("encoder.0.0.conv1.weight", "", o, sizeof o) == -1);
    CHECK(sdd_xlsr_map_name("LL.weight", "", o, sizeof o) == -1);
}

static void test_layout(const char *file, int dropped)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST-tiny", &e);
    if (!m) { CHECK_MSG(0, "%s", e.msg); return; }
    sdd_xlsr_import_info info;
    const int rc = sdd_model_load_ssl(m, file, &info, &e);
    CHECK_MSG(rc == 0, "%s: %s", file, e.msg);
    if (rc == 0) {
        CHECK_MSG(info.mapped == n_encoder(m) && info.dropped == dropped, "%s: mapped %d of %d, dropped %d (expected %d)",
                  file, info.mapped, n_encoder(m), info.dropped, dropped);
        CHECK(same_as_fixture(m, 0) == n_encoder(m));
        /* the back-end is not touched */
        const int ill = sdd_params_find(&m->params, "LL.weight");
        CHECK(ill >= 0 && sdd_params_ptr(&m->params, ill)[0] == 0.0f);
    }
    sdd_model_free(m);
}

/* fairseq's xlsr2_300m.pt layout (args Namespace, omegaconf cfg, optimizer state next
 * to "model") gives the same weights as the Hugging Face layout of the same model */
static void test_fairseq_vs_hf(void)
{
    sdd_err e;
    sdd_model *a = sdd_model_new("XLSR-AASIST-tiny", &e), *b = sdd_model_new("XLSR-AASIST-tiny", &e);
    if (!a || !b) { CHECK_MSG(0, "%s", e.msg); sdd_model_free(a); sdd_model_free(b); return; }
    CHECK_MSG(sdd_model_load_ssl(a, DIR "hf_model.safetensors", NULL, &e) == 0, "%s", e.msg);
    CHECK_MSG(sdd_model_load_ssl(b, DIR "fairseq_full.pt", NULL, &e) == 0, "%s", e.msg);
    CHECK(a->params.total == b->params.total && !memcmp(a->params.data, b->params.data, a->params.total * sizeof(float)));
    sdd_model_free(a);
    sdd_model_free(b);
}

static void test_full_model(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_load(DIR "full_model.pth", NULL, &e);
    CHECK_MSG(m != NULL, "full model: %s", e.msg);
    if (!m) return;
    CHECK(!strcmp(m->arch, "XLSR-AASIST-tiny"));
    CHECK(same_as_fixture(m, 1) == m->params.np);
    /* round trip through sdd's own file */
    char path[] = "/tmp/sdd_xlsr_rtXXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    CHECK(sdd_model_save(m, path, &e) == 0);
    sdd_model *r = sdd_model_load(path, NULL, &e);
    CHECK_MSG(r != NULL, "reload: %s", e.msg);
    if (r) {
        CHECK(!strcmp(r->arch, "XLSR-AASIST-tiny") && r->params.total == m->params.total);
        CHECK(!memcmp(r->params.data, m->params.data, m->params.total * sizeof(float)));
        sdd_model_free(r);
    }
    unlink(path);
    /* the full model as --ssl-weights source: encoder taken, back-end ignored */
    sdd_model *s = sdd_model_new("XLSR-AASIST-tiny", &e);
    sdd_xlsr_import_info info;
    CHECK_MSG(s && sdd_model_load_ssl(s, DIR "full_model.pth", &info, &e) == 0, "%s", e.msg);
    if (s) CHECK(same_as_fixture(s, 0) == n_encoder(s) && info.dropped == 8 && info.other > 0);
    sdd_model_free(s);
    sdd_model_free(m);
}

static void test_bad(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST-tiny", &e);
    if (!m) return;
    CHECK(sdd_model_load_ssl(m, DIR "bad_shape.safetensors", NULL, &e) != 0);
    CHECK_STR_CONTAINS(e.msg, DIR "bad_shape.safetensors: tensor ssl_model.model.post_extract_proj.weight has shape (32,64)");
    CHECK(sdd_model_load_ssl(m, DIR "bad_names.safetensors", NULL, &e) != 0);
    CHECK_STR_CONTAINS(e.msg, "1 unknown tensor: ssl_model.model.encoder.layers.0.adapter.weight");
    CHECK_STR_CONTAINS(e.msg, "1 XLS-R tensor missing: encoder.layers.1.fc1.weight");
    CHECK(sdd_model_load_ssl(m, DIR "does_not_exist.bin", NULL, &e) != 0);
    CHECK_STR_CONTAINS(e.msg, "does_not_exist.bin");
    sdd_model *a = sdd_model_new("AASIST", &e);
    CHECK(a && sdd_model_load_ssl(a, DIR "hf_model.safetensors", NULL, &e) != 0);
    CHECK_STR_CONTAINS(e.msg, "has no XLS-R encoder");
    sdd_model_free(a);
    sdd_model_free(m);
}

int main(void)
{
    sdd_err e;
    if (sdd_safetensors_load(FIX, &fx, &e)) { CHECK_MSG(0, "%s", e.msg); return CHECK_DONE("test_xlsr_import"); }
    test_names();
    test_layout(DIR "hf_model.safetensors", 1);
    test_layout(DIR "hf_pretrain.bin", 8);
    test_layout(DIR "fairseq.pt", 8);
    test_layout(DIR "fairseq_full.pt", 8);
    test_fairseq_vs_hf();
    test_full_model();
    test_bad();
    sdd_tensorset_free(&fx);
    return CHECK_DONE("test_xlsr_import");
}
