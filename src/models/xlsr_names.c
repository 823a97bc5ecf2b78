/* Owns the XLS-R checkpoint name mapping (see xlsr_import.h). Names are
 * rewritten part by part (dot-separated), so a back-end key such as
 * "encoder.0.0.conv1.weight" (AASIST's residual encoder) is never taken for an
 * XLS-R one ("encoder.layers.*", "encoder.pos_conv*", "encoder.layer_norm.*").
 * Depends only on io/tensorset, so the fuzz target builds it alone. */
#include "models/xlsr_import.h"
#include <stdio.h>
#include <string.h>

#define SSL_PREFIX "ssl_model.model."
#define MAXPARTS 16

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* key with "module." (nn.DataParallel) stripped */
static const char *unwrap(const char *key)
{
    while (starts(key, "module.")) key += 7;
    return key;
}

static int pretraining_only(const char *k)
{
    return !strcmp(k, "mask_emb") || !strcmp(k, "masked_spec_embed") || starts(k, "quantizer.") ||
           starts(k, "project_q.") || starts(k, "project_hid.") || starts(k, "final_proj.");
}

int sdd_xlsr_map_name(const char *key, const char *prefix, char *out, size_t n)
{
    const char *k = unwrap(key);
    int prefixed = 0;
    if (starts(k, SSL_PREFIX)) { k += strlen(SSL_PREFIX); prefixed = 1; }
    else if (starts(k, "wav2vec2.")) { k += 9; prefixed = 1; }
    else if (starts(k, "w2v_encoder.w2v_model.")) { k += 22; prefixed = 1; }
    if (pretraining_only(k)) return 0;
    char buf[256];
    if (strlen(k) >= sizeof buf) return -1;
    strcpy(buf, k);
    const char *p[MAXPARTS + 2];
    int np = 0;
    for (char *s = buf; np < MAXPARTS; ) {
        p[np++] = s;
        char *d = strchr(s, '.');
        if (!d) break;
        *d = 0;
        s = d + 1;
    }
    if (np < 2) return -1;
    /* parametrized weight norm: <module>.parametrizations.weight.original0/1 -> <module>.weight_g/_v */
    if (np >= 4 && !strcmp(p[np - 3], "parametrizations") && !strcmp(p[np - 2], "weight")) {
        if (!strcmp(p[np - 1], "original0")) p[np - 3] = "weight_g";
        else if (!strcmp(p[np - 1], "original1")) p[np - 3] = "weight_v";
        else return -1;
        np -= 2;
    }
    int ok = 0;
    if (!strcmp(p[0], "feature_extractor") && np == 5 && !strcmp(p[1], "conv_layers")) {
        if (!strcmp(p[3], "conv")) p[3] = "0";
        else if (!strcmp(p[3], "layer_norm")) p[3] = "2.1";
        ok = 1;
    } else if (!strcmp(p[0], "feature_extractor") && np == 6 && !strcmp(p[1], "conv_layers")) {
        ok = !strcmp(p[3], "2") && !strcmp(p[4], "1");
    } else if (!strcmp(p[0], "feature_projection") && np == 3) {
        if (!strcmp(p[1], "layer_norm")) { p[0] = "layer_norm"; p[1] = p[2]; np = 2; ok = 1; }
        else if (!strcmp(p[1], "projection")) { p[0] = "post_extract_proj"; p[1] = p[2]; np = 2; ok = 1; }
    } else if ((!strcmp(p[0], "layer_norm") || !strcmp(p[0], "post_extract_proj")) && np == 2) {
        ok = 1;
    } else if (!strcmp(p[0], "encoder") && np >= 3) {
        if (!strcmp(p[1], "pos_conv_embed") && np == 4 && !strcmp(p[2], "conv")) { p[1] = "pos_conv"; p[2] = "0"; ok = 1; }
        else if (!strcmp(p[1], "pos_conv") && np == 4) ok = 1;
        else if (!strcmp(p[1], "layer_norm") && np == 3) ok = 1;
        else if (!strcmp(p[1], "layers") && np >= 5) {
            if (!strcmp(p[3], "attention")) p[3] = "self_attn";
            else if (!strcmp(p[3], "layer_norm")) p[3] = "self_attn_layer_norm";
            else if (!strcmp(p[3], "feed_forward") && np == 6) {
                if (!strcmp(p[4], "intermediate_dense")) p[3] = "fc1";
                else if (!strcmp(p[4], "output_dense")) p[3] = "fc2";
                else return -1;
                p[4] = p[5];
                np = 5;
            }
            ok = 1;
        }
    }
    /* an unprefixed key that names no XLS-R module is not ours (back-end tensors) */
    if (!ok && !prefixed) return -1;
    size_t len = (size_t)snprintf(out, n, "%s", prefix);
    for (int i = 0; i < np && len < n; i++) len += (size_t)snprintf(out + len, n - len, "%s%s", i ? "." : "", p[i]);
    return len < n ? 1 : -1;
}

int sdd_xlsr_map_tensorset(const sdd_tensorset *in, const char *prefix, sdd_tensorset *out,
                           sdd_xlsr_import_info *info, sdd_err *e)
{
    sdd_xlsr_import_info loc;
    if (!info) info = &loc;
    memset(info, 0, sizeof *info);
    sdd_tensorset_init(out);
    for (int i = 0; i < in->n; i++) {
        const sdd_ntensor *t = &in->t[i];
        char name[256];
        int r = sdd_xlsr_map_name(t->name, prefix, name, sizeof name);
        if (r == 0) { info->dropped++; continue; }
        if (r == 1) info->mapped++;
        else {
            /* other tensors keep their name (with DataParallel's "module." removed) */
            snprintf(name, sizeof name, "%s", unwrap(t->name));
            info->other++;
        }
        if (sdd_tensorset_add_view(out, name, t, e)) {
            sdd_tensorset_free(out);
            return -1;
        }
    }
    return 0;
}
