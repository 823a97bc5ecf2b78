/* Owns model-file loading and saving (see modelio.h). */
#include "models/modelio.h"
#include "metrics/calibration.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "models/xlsr_import.h"
#include "core/str.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SDD_FORMAT_NAME "sdd-model"
#define SDD_FORMAT_VERSION "1"

static float half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, man = h & 0x3ff;
    float f;
    if (ex == 0) f = ldexpf((float)man, -24);
    else if (ex == 31) f = man ? NAN : INFINITY;
    else f = ldexpf((float)(man | 0x400), (int)ex - 25);
    return sign ? -f : f;
}

/* n elements of src (dtype dt, maybe unaligned) as floats */
static int convert(sdd_dtype dt, const void *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case SDD_F64: { double v; memcpy(&v, (const char *)src + 8 * i, 8); dst[i] = (float)v; break; }
        case SDD_F16: { uint16_t v; memcpy(&v, (const char *)src + 2 * i, 2); dst[i] = half_to_float(v); break; }
        case SDD_BF16: { uint16_t v; memcpy(&v, (const char *)src + 2 * i, 2); uint32_t u = (uint32_t)v << 16; memcpy(&dst[i], &u, 4); break; }
        default: return -1;
        }
    }
    return 0;
}

/* t's n elements into dst as floats, from memory or from its file: F32
 * straight into dst, other float types through one tensor-sized buffer */
static int tensor_to_float(const sdd_ntensor *t, float *dst, size_t n, const char *path, sdd_err *e)
{
    if (t->dtype == SDD_F32) return sdd_tensor_read(t, dst, e) ? sdd_err_prefix(e, "%s", path) : 0;
    if (t->dtype != SDD_F64 && t->dtype != SDD_F16 && t->dtype != SDD_BF16)
        return sdd_err_set(e, "%s: tensor %s has dtype %s (expected a float type)", path, t->name, sdd_dtype_name(t->dtype));
    const void *src = t->data;
    void *tmp = NULL;
    if (!src && t->nbytes) {
        if (!(tmp = malloc(t->nbytes))) return sdd_err_set(e, "%s: tensor %s: out of memory", path, t->name);
        if (sdd_tensor_read(t, tmp, e)) { free(tmp); return sdd_err_prefix(e, "%s", path); }
        src = tmp;
    }
    convert(t->dtype, src, dst, n);
    free(tmp);
    return 0;
}

/* -1 (e set) when x[0..n) holds a NaN or infinity, naming tensor `name` of file `path` */
static int finite_or_say(const float *x, size_t n, const char *name, const char *path, sdd_err *e)
{
    long bad = (long)n;
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (long k = 0; k < (long)n; k++)
        if (!isfinite(x[k]) && k < bad) bad = k;
    return bad < (long)n ? sdd_err_set(e, "%s: tensor %s holds a non-finite value at element %ld", path, name, bad) : 0;
}

/* whether tensor t has parameter pi's shape */
static int same_shape(const sdd_pinfo *pi, const sdd_ntensor *t)
{
    int same = t->ndim == pi->nd;
    for (int d = 0; same && d < pi->nd; d++) same = t->shape[d] == pi->shape[d];
    return same;
}

int sdd_model_copy_tensor(sdd_model *m, int idx, const sdd_ntensor *t, const char *path, sdd_err *e)
{
    const sdd_pinfo *pi = &m->params.p[idx];
    if (!same_shape(pi, t)) {
        char want[64] = "", got[64] = "";
        for (int d = 0; d < pi->nd; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "," : "", (long long)pi->shape[d]);
        for (int d = 0; d < t->ndim && d < 8; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "", (long long)t->shape[d]);
        return sdd_err_set(e, "%s: tensor %s has shape (%s), %s expects (%s)", path, pi->name, got, m->arch, want);
    }
    float *dst = sdd_params_ptr(&m->params, idx);
    if (tensor_to_float(t, dst, pi->numel, path, e)) return -1;
    return finite_or_say(dst, pi->numel, pi->name, path, e);
}

int sdd_model_set_weights(sdd_model *m, const sdd_tensorset *ts, const char *path, sdd_err *e)
{
    sdd_params *ps = &m->params;
    int loaded = 0;
    for (int i = 0; i < ps->np; i++) {
        const sdd_pinfo *pi = &ps->p[i];
        const sdd_ntensor *t = sdd_tensorset_find(ts, pi->name);
        if (!t) return sdd_err_set(e, "%s: missing tensor %s (needed by %s)", path, pi->name, m->arch);
        if (sdd_model_copy_tensor(m, i, t, path, e)) return -1;
        loaded++;
    }
    for (int i = 0; i < ts->n; i++) {
        const char *nm = ts->t[i].name;
        if (sdd_params_find(ps, nm) >= 0 || sdd_str_ends_with(nm, ".num_batches_tracked")) continue;
        return sdd_err_set(e, "%s: unexpected tensor %s (not part of %s)", path, nm, m->arch);
    }
    if (loaded != ps->np) return sdd_err_set(e, "%s: loaded %d of %d tensors", path, loaded, ps->np);
    return 0;
}

const char *sdd_model_guess_arch(const sdd_tensorset *ts)
{
    /* XLSR-AASIST: LL (128, E) and pos_S (1, 42, 64), possibly under nn.DataParallel's "module." */
    const sdd_ntensor *ll = sdd_tensorset_find(ts, "LL.weight"), *ps42 = sdd_tensorset_find(ts, "pos_S");
    if (!ll) { ll = sdd_tensorset_find(ts, "module.LL.weight"); ps42 = sdd_tensorset_find(ts, "module.pos_S"); }
    if (ll && ps42 && ll->ndim == 2 && ll->shape[0] == 128 && ps42->ndim == 3 && ps42->shape[1] == 42) {
        if (ll->shape[1] == 1024) return "XLSR-AASIST";
        if (ll->shape[1] == 64) return "XLSR-AASIST-tiny";
        return NULL;
    }
    /* XLSR-Mamba / XLSR-Conformer-TCM: their back-end tensors, LL (emb, E) */
    const char *seq[2][3] = { { "conformer.forward_layers.0.mixer.A_log", "XLSR-Mamba", "XLSR-Mamba-tiny" },
                              { "conformer.encoder_blocks.0.attn.fn.ht_proj.weight", "XLSR-Conformer-TCM", "XLSR-Conformer-TCM-tiny" } };
    for (int k = 0; k < 2; k++) {
        char mod[128];
        snprintf(mod, sizeof mod, "module.%s", seq[k][0]);
        if (!sdd_tensorset_find(ts, seq[k][0]) && !sdd_tensorset_find(ts, mod)) continue;
        if (ll && ll->ndim == 2 && ll->shape[1] == 1024) return seq[k][1];
        if (ll && ll->ndim == 2 && ll->shape[1] == 64) return seq[k][2];
        return NULL;
    }
    const sdd_ntensor *pos = sdd_tensorset_find(ts, "pos_S");
    const sdd_ntensor *enc = sdd_tensorset_find(ts, "encoder.0.0.conv1.weight");
    if (!pos || !enc || pos->ndim != 3) return NULL;
    if (pos->shape[2] == 64) return "AASIST";
    if (pos->shape[2] == 24) return "AASIST-L";
    return NULL;
}

sdd_model *sdd_model_from_tensorset(const sdd_tensorset *ts, const char *arch, int pth, const char *path, sdd_err *e)
{
    const char *a = arch;
    if (!a && !pth) {
        const char *fmt = sdd_tensorset_get_meta(ts, "format");
        if (!fmt || strcmp(fmt, SDD_FORMAT_NAME) != 0) {
            a = sdd_model_guess_arch(ts);
        } else a = sdd_tensorset_get_meta(ts, "arch");
    }
    if (!a) a = sdd_model_guess_arch(ts);
    if (!a) {
        sdd_err_set(e, "%s: cannot tell the model architecture (no sdd metadata, and the tensors match none of: %s)", path, sdd_model_archs());
        return NULL;
    }
    sdd_model *m = sdd_model_new(a, e);
    if (!m) { sdd_err_prefix(e, "%s", path); return NULL; }
    const char *fmt = sdd_tensorset_get_meta(ts, "format");
    const int sdd_file = fmt && !strcmp(fmt, SDD_FORMAT_NAME);
    const sdd_tensorset *use = ts;
    sdd_tensorset mapped;
    if (!strncmp(m->arch, "XLSR-", 5) && !sdd_file) {
        /* reference checkpoints: "module." prefixes, HF/fairseq names, pretraining-only tensors */
        if (sdd_xlsr_map_tensorset(ts, "ssl_model.model.", &mapped, NULL, e)) { sdd_model_free(m); return NULL; }
        use = &mapped;
    }
    int rc = m->meta_load ? m->meta_load(m, use, sdd_file, path, e) : 0;
    if (!rc) rc = sdd_model_set_weights(m, use, path, e);
    if (use == &mapped) sdd_tensorset_free(&mapped);
    if (rc) { sdd_model_free(m); return NULL; }
    const char *thr = sdd_tensorset_get_meta(ts, "threshold");
    if (thr) {
        /* as sdd writes it (%.9g): no blanks, no hexadecimal */
        char *end;
        double v = strtod(thr, &end);
        if (!*thr || isspace((unsigned char)thr[0]) || strpbrk(thr, "xX") || *end || !isfinite(v)) {
            sdd_err_set(e, "%s: metadata threshold '%.40s' is not a number", path, thr);
            sdd_model_free(m);
            return NULL;
        }
        m->threshold = v;
        m->has_threshold = 1;
    }
    const char *cut = sdd_tensorset_get_meta(ts, "cut");
    if (cut) {
        char *end;
        errno = 0;
        const long long v = strtoll(cut, &end, 10);
        /* digits only, as sdd writes it: strtoll would also take blanks and a sign */
        if (errno || end == cut || *end || cut[0] < '0' || cut[0] > '9' || v < m->min_samples || v > (1LL << 30)) {
            sdd_err_set(e, "%s: metadata cut '%.40s' is not a number of samples in %d..1073741824", path, cut, m->min_samples);
            sdd_model_free(m);
            return NULL;
        }
        m->cut = v;
    }
    const char *cal = sdd_tensorset_get_meta(ts, "calibration");
    if (cal) {
        sdd_calibration c;
        char name[1100];
        snprintf(name, sizeof name, "%s: metadata calibration", path);
        int bad = 1;
        if (strlen(cal) >= sizeof m->calibration) sdd_err_set(e, "%s: metadata calibration is too long", path);
        else if (sdd_calibration_parse(cal, strlen(cal), name, &c, e)) { /* e names the problem */ }
        else if (c.k != 1) sdd_err_set(e, "%s: metadata calibration has %d inputs, not 1", path, c.k);
        else bad = 0;
        if (bad) { sdd_model_free(m); return NULL; }
        snprintf(m->calibration, sizeof m->calibration, "%s", cal);
    }
    return m;
}

sdd_model *sdd_model_load(const char *path, const char *arch, sdd_err *e)
{
    sdd_tensorset ts;
    sdd_tensorset_init(&ts);
    const int pth = sdd_pth_is_zip(path);
    /* safetensors: the header only; each weight is read into place */
    if (pth ? sdd_pth_load(path, &ts, e) : sdd_safetensors_open(path, &ts, e)) { sdd_tensorset_free(&ts); return NULL; }
    sdd_model *m = sdd_model_from_tensorset(&ts, arch, pth, path, e);
    sdd_tensorset_free(&ts);
    return m;
}

/* The metadata that makes two files of one architecture the same model:
 * nb_samp, config, and what the model's meta_save writes (XLSR-Mamba's final
 * norm, ...). Descriptive keys (format_version, score, ...) are not compared. */
static int same_config(const sdd_model *m, const sdd_tensorset *ts, const char *path, sdd_err *e)
{
    sdd_tensorset own = { 0 };
    int rc = m->meta_save ? m->meta_save(m, &own, e) : 0;
    char nb[32];
    snprintf(nb, sizeof nb, "%d", m->nb_samp);
    const char *keys[2] = { "nb_samp", "config" }, *vals[2] = { nb, m->config };
    for (int i = 0; i < 2 + own.nmeta && !rc; i++) {
        const char *k = i < 2 ? keys[i] : own.meta_key[i - 2], *want = i < 2 ? vals[i] : own.meta_val[i - 2];
        const char *v = sdd_tensorset_get_meta(ts, k);
        if (i == 1 && !want[0]) continue;   /* no config of its own */
        if (!v || strcmp(v, want))
            rc = sdd_err_set(e, "%s: metadata %s is %s%.60s%s, %s's is \"%.60s\"", path, k, v ? "\"" : "", v ? v : "missing", v ? "\"" : "", m->arch, want);
    }
    sdd_tensorset_free(&own);
    return rc;
}

int sdd_model_open_weights(const sdd_model *m, const char *path, sdd_tensorset *ts, sdd_err *e)
{
    sdd_tensorset_init(ts);
    if (sdd_pth_is_zip(path)) return sdd_err_set(e, "%s: a PyTorch checkpoint, not an sdd model file (convert it with sdd import first)", path);
    if (sdd_safetensors_open(path, ts, e)) return -1;
    const char *arch = sdd_tensorset_get_meta(ts, "arch"), *fmt = sdd_tensorset_get_meta(ts, "format");
    int rc = 0;
    if (!fmt || strcmp(fmt, SDD_FORMAT_NAME) || !arch)
        rc = sdd_err_set(e, "%s: not an sdd model file (no sdd metadata; convert a checkpoint with sdd import first)", path);
    else if (strcmp(arch, m->arch)) rc = sdd_err_set(e, "%s: a model of %s, not %s", path, arch, m->arch);
    const sdd_params *ps = &m->params;
    for (int i = 0; i < ps->np && !rc; i++) {
        const sdd_ntensor *x = sdd_tensorset_find(ts, ps->p[i].name);
        const int same = x && x->dtype == SDD_F32 && same_shape(&ps->p[i], x);
        if (!x) rc = sdd_err_set(e, "%s: tensor %s missing (needed by %s)", path, ps->p[i].name, m->arch);
        else if (!same) rc = sdd_err_set(e, "%s: tensor %s is not F32 with %s's shape", path, ps->p[i].name, m->arch);
    }
    for (int i = 0; i < ts->n && !rc; i++)
        if (sdd_params_find(ps, ts->t[i].name) < 0) rc = sdd_err_set(e, "%s: unexpected tensor %s (not part of %s)", path, ts->t[i].name, m->arch);
    if (!rc) rc = same_config(m, ts, path, e);
    if (rc) sdd_tensorset_free(ts);
    return rc;
}

/* parameter i of model file `path` (set ts, checked by sdd_model_open_weights) into buf, every value finite */
static int read_finite(const sdd_params *ps, int i, const sdd_tensorset *ts, const char *path, float *buf, sdd_err *e)
{
    if (tensor_to_float(sdd_tensorset_find(ts, ps->p[i].name), buf, ps->p[i].numel, path, e)) return -1;
    return finite_or_say(buf, ps->p[i].numel, ps->p[i].name, path, e);
}

/* sdd_model_open_weights for sdd_model_average: the first time (again 0)
 * records which file PATH is; again, it must be that file, unchanged (the
 * same device, inode, size and modification time) */
static int open_same(const sdd_model *m, const char *path, struct stat *id, int again, sdd_tensorset *ts, sdd_err *e)
{
    if (sdd_model_open_weights(m, path, ts, e)) return -1;
    struct stat st;
    int rc = 0;
    if (stat(path, &st)) rc = sdd_err_set(e, "%s: %s", path, strerror(errno));
    else if (again && (st.st_dev != id->st_dev || st.st_ino != id->st_ino || st.st_size != id->st_size ||
                       st.st_mtim.tv_sec != id->st_mtim.tv_sec || st.st_mtim.tv_nsec != id->st_mtim.tv_nsec))
        rc = sdd_err_set(e, "%s: the file changed while the models were averaged", path);
    if (rc) sdd_tensorset_free(ts);
    else *id = st;
    return rc;
}

/* sdd_model_average keeps up to this many files open from the first pass to
 * the end and sums a tensor at a time (its sums stay in cache across the
 * files); more files are opened again for each group of parameters, one at a
 * time, a group being at least the largest tensor, else this many (32 MB of
 * double sums). */
#define AVERAGE_KEEP_OPEN 32
#define AVERAGE_GROUP ((size_t)1 << 22)

int sdd_model_average(sdd_model *m, const char *const *paths, int n, sdd_err *e)
{
    return sdd_model_average_grouped(m, paths, n, n <= AVERAGE_KEEP_OPEN ? 0 : AVERAGE_GROUP, e);
}

int sdd_model_average_grouped(sdd_model *m, const char *const *paths, int n, size_t group, sdd_err *e)
{
    if (n < 1) return sdd_err_set(e, "average: no model files");
    const sdd_params *ps = &m->params;
    size_t most = 1;
    for (int i = 0; i < ps->np; i++) most = ps->p[i].numel > most ? ps->p[i].numel : most;
    const int keep = group == 0;
    const size_t cap = keep ? 1 : most > group ? most : group;   /* keep: one tensor per group */
    float *buf = malloc(most * sizeof *buf);
    double *sum = malloc((keep ? most : cap) * sizeof *sum);
    sdd_tensorset *sets = calloc(keep ? (size_t)n : 1, sizeof *sets);
    struct stat *id = calloc((size_t)n, sizeof *id);
    int rc = buf && sum && sets && id ? 0 : sdd_err_set(e, "out of memory");
    /* First every value of every file is checked finite, before any weight
     * changes (a NaN would make the mean unloadable). Then the parameters a
     * group at a time: each file in turn (still open, or opened again and
     * required to be the same file) adds the group's tensors into double
     * sums, in file order. */
    char cut0[32] = "";
    int cuts_differ = 0;
    for (int j = 0; j < n && !rc; j++) {
        sdd_tensorset *ts = &sets[keep ? j : 0];
        if ((rc = open_same(m, paths[j], &id[j], 0, ts, e))) break;
        const char *cut = sdd_tensorset_get_meta(ts, "cut");
        if (!j) snprintf(cut0, sizeof cut0, "%s", cut ? cut : "");
        else cuts_differ |= strcmp(cut0, cut ? cut : "") != 0;
        for (int i = 0; i < ps->np && !rc; i++) rc = read_finite(ps, i, ts, paths[j], buf, e);
        if (!keep) sdd_tensorset_free(ts);
    }
    for (int i0 = 0, i1; i0 < ps->np && !rc; i0 = i1) {
        size_t used = ps->p[i0].numel;
        for (i1 = i0 + 1; i1 < ps->np && used + ps->p[i1].numel <= cap; i1++) used += ps->p[i1].numel;
        for (int j = 0; j < n && !rc; j++) {
            sdd_tensorset *ts = &sets[keep ? j : 0];
            if (!keep && (rc = open_same(m, paths[j], &id[j], 1, ts, e))) break;
            double *acc = sum;
            for (int i = i0; i < i1 && !rc; acc += ps->p[i].numel, i++) {
                if ((rc = read_finite(ps, i, ts, paths[j], buf, e))) break;   /* a file changed since the first pass */
                const long len = (long)ps->p[i].numel;
#pragma omp parallel for schedule(static)
                for (long k = 0; k < len; k++) acc[k] = (j ? acc[k] : 0.0) + buf[k];
            }
            if (!keep) sdd_tensorset_free(ts);
        }
        const double *acc = sum;
        for (int i = i0; i < i1 && !rc; acc += ps->p[i].numel, i++) {
            float *dst = sdd_params_ptr(ps, i);
            const long len = (long)ps->p[i].numel;
#pragma omp parallel for schedule(static)
            for (long k = 0; k < len; k++) dst[k] = (float)(acc[k] / n);
        }
    }
    /* the mean of models trained at one cut keeps it; of several, none is the default */
    if (!rc && cuts_differ) m->cut = 0;
    for (int j = 0; keep && sets && j < n; j++) sdd_tensorset_free(&sets[j]);
    free(sets);
    free(id);
    free(buf);
    free(sum);
    return rc;
}

int sdd_model_to_tensorset(const sdd_model *m, sdd_tensorset *ts, sdd_err *e)
{
    sdd_tensorset_init(ts);
    const sdd_params *ps = &m->params;
    for (int i = 0; i < ps->np; i++) {
        const sdd_pinfo *pi = &ps->p[i];
        if (sdd_tensorset_add_ref(ts, pi->name, SDD_F32, pi->nd, pi->shape, sdd_params_ptr(ps, i), pi->numel * sizeof(float), e))
            return -1;
    }
    char buf[64];
    if (sdd_tensorset_set_meta(ts, "format", SDD_FORMAT_NAME, e) || sdd_tensorset_set_meta(ts, "format_version", SDD_FORMAT_VERSION, e) ||
        sdd_tensorset_set_meta(ts, "arch", m->arch, e))
        return -1;
    snprintf(buf, sizeof buf, "%d", m->nb_samp);
    if (sdd_tensorset_set_meta(ts, "nb_samp", buf, e)) return -1;
    if (sdd_tensorset_set_meta(ts, "sample_rate", "16000", e)) return -1;
    if (m->cut > 0) {
        snprintf(buf, sizeof buf, "%lld", (long long)m->cut);
        if (sdd_tensorset_set_meta(ts, "cut", buf, e)) return -1;
    }
    if (m->config[0] && sdd_tensorset_set_meta(ts, "config", m->config, e)) return -1;
    if (m->meta_save && m->meta_save(m, ts, e)) return -1;
    if (sdd_tensorset_set_meta(ts, "score", "logit of the bona fide class (output column 1)", e)) return -1;
    if (m->has_threshold) {
        snprintf(buf, sizeof buf, "%.9g", m->threshold);
        if (sdd_tensorset_set_meta(ts, "threshold", buf, e)) return -1;
    }
    if (m->calibration[0] && sdd_tensorset_set_meta(ts, "calibration", m->calibration, e)) return -1;
    return 0;
}

int sdd_model_save(const sdd_model *m, const char *path, sdd_err *e)
{
    sdd_tensorset ts;
    int rc = sdd_model_to_tensorset(m, &ts, e);
    if (!rc) rc = sdd_safetensors_save(path, &ts, e);
    sdd_tensorset_free(&ts);
    return rc;
}
