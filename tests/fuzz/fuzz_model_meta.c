/* libFuzzer target for a model file's metadata (structure-aware): the
 * `__metadata__` of a complete, valid model file is what the input drives,
 * so that the loader gets past the weights to the metadata parsers
 * (sdd_model_from_tensorset: format, arch, the architecture's meta_load,
 * threshold, cut, calibration; sdd_model_open_weights: nb_samp, config and
 * the architecture's meta_save keys, against a model). fuzz_model fuzzes the
 * raw file; its inputs rarely hold a whole set of weights.
 *
 * At start-up one model of each of four small architectures (AASIST-L,
 * XLSR-AASIST-tiny, XLSR-Mamba-tiny, XLSR-Conformer-TCM-tiny) is made with
 * random weights and written with sdd_model_save; its header is split into
 * the metadata object and the tensor entries, and its data area kept.
 *
 * Input: byte 0 = flags, the rest = the metadata.
 *   bits 0-1  the architecture whose weights the file holds
 *   bit 2     0: the rest is the JSON text of "__metadata__", spliced into
 *             the header as is (anything may follow it: more entries);
 *             1: the rest is key NUL value NUL ... pairs set on (bit 3 = 0)
 *             the model's own metadata or (bit 3 = 1) an empty object; the
 *             value "\x7f" deletes the key
 *   bit 4     the architecture given (as `sdd import --arch`), not read
 *             from the metadata
 *   bit 5     the average (below) reopens the file per tensor
 * Metadata naming a full-size XLS-R architecture is skipped: its 316M
 * parameters are made before its tensors are found missing (under ASan
 * about 6 s and 1.4 GB per input), which is not what is fuzzed here.
 *
 * The file is loaded from memory (sdd_safetensors_load_mem +
 * sdd_model_from_tensorset) and from /dev/shm (sdd_model_load, weights read
 * into place): the same verdict, the message the same past the name, the
 * same parameters, cut, threshold and calibration. Success requires: the
 * weights written, to the bit; cut, threshold and calibration as stored (or
 * none when absent), each valid by its own rule; the model saved back to a
 * tensor set loads again with them. Failure requires one line naming the
 * input; a cut, threshold or calibration its rule refuses must fail the
 * load. sdd_model_open_weights against a model of the file's architecture
 * must pass exactly when format, arch, nb_samp, config and the
 * architecture's own keys match, and the average of that one file must then
 * be its weights. With SDD_FUZZ_VERBOSE set, each input's verdict (the
 * in-memory load's message, or "loaded") goes to stderr; the seeds are
 * written by tools/fuzz_model_meta_seeds.sh. */
#include "models/modelio.h"
#include "metrics/calibration.h"
#include "io/safetensors.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <omp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NARCH 4
static const char *const archs[NARCH] = { "AASIST-L", "XLSR-AASIST-tiny", "XLSR-Mamba-tiny", "XLSR-Conformer-TCM-tiny" };

typedef struct {
    sdd_model *ref;      /* the model written; sdd_model_open_weights / average run against it */
    float *weights;      /* its weights, as written */
    json_t *meta;        /* its own __metadata__ */
    char *entries;       /* the header's tensor entries, without the outer braces */
    uint8_t *data;       /* the data area */
    size_t ndata;
} proto;

static proto P[NARCH];
static char path[64];
static int verbose;   /* SDD_FUZZ_VERBOSE set: the models made, and each input's verdict, on stderr */

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_model_meta: check failed at line %d: %s\n", __LINE__, #c); __builtin_trap(); } } while (0)

static void die(const char *what, const sdd_err *e)
{
    fprintf(stderr, "fuzz_model_meta: setup: %s: %s\n", what, e ? e->msg : "");
    abort();
}

static void setup(void)
{
    /* one thread: the parallel loops over these small tensors only spin (OMP_NUM_THREADS overrides) */
    if (!getenv("OMP_NUM_THREADS")) omp_set_num_threads(1);
    verbose = getenv("SDD_FUZZ_VERBOSE") != NULL;
    snprintf(path, sizeof path, "/dev/shm/sdd_fuzz_model_meta.%d", (int)getpid());
    for (int a = 0; a < NARCH; a++) {
        sdd_err e = { "" };
        proto *p = &P[a];
        if (!(p->ref = sdd_model_new(archs[a], &e))) die(archs[a], &e);
        sdd_model_init_random(p->ref, 1234 + (uint64_t)a);
        if (verbose)
            fprintf(stderr, "fuzz_model_meta: %s: %zu parameters in %d tensors, min_samples %d\n", archs[a], p->ref->params.total,
                    p->ref->params.np, p->ref->min_samples);
        const size_t total = p->ref->params.total;
        if (!(p->weights = malloc(total * sizeof(float)))) die("out of memory", NULL);
        memcpy(p->weights, p->ref->params.data, total * sizeof(float));
        if (sdd_model_save(p->ref, path, &e)) die("save", &e);
        FILE *f = fopen(path, "rb");
        if (!f || fseek(f, 0, SEEK_END)) die("reopen", NULL);
        const long n = ftell(f);
        uint8_t *buf = malloc((size_t)n);
        rewind(f);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) die("read back", NULL);
        fclose(f);
        unlink(path);
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
        json_error_t je;
        json_t *h = json_loadb((const char *)buf + 8, (size_t)hl, 0, &je);
        if (!h) die(je.text, NULL);
        p->meta = json_incref(json_object_get(h, "__metadata__"));
        if (!p->meta || json_object_del(h, "__metadata__")) die("no __metadata__", NULL);
        char *rest = json_dumps(h, JSON_COMPACT);
        const size_t L = rest ? strlen(rest) : 0;
        if (L < 3 || rest[0] != '{' || rest[L - 1] != '}') die("header dump", NULL);
        rest[L - 1] = '\0';
        p->entries = strdup(rest + 1);
        free(rest);
        json_decref(h);
        p->ndata = (size_t)n - 8 - (size_t)hl;
        if (!(p->data = malloc(p->ndata ? p->ndata : 1))) die("out of memory", NULL);
        memcpy(p->data, buf + 8 + hl, p->ndata);
        free(buf);
    }
}

/* the metadata JSON text the input describes, malloc'd (*n bytes); NULL: skip the input */
static char *meta_text(const proto *p, const uint8_t *d, size_t n, int pairs, int empty, size_t *len)
{
    if (!pairs) {
        char *t = malloc(n ? n : 1);
        if (t) memcpy(t, d, n);
        *len = n;
        return t;
    }
    json_t *o = empty ? json_object() : json_deep_copy(p->meta);
    if (!o) return NULL;
    /* key NUL value NUL ...: strings end at a NUL or at the end of the input */
    size_t i = 0;
    while (i < n) {
        const char *k = (const char *)d + i;
        const size_t kl = strnlen(k, n - i);
        i += kl + 1;
        if (i > n) break;   /* a key with no value */
        const char *v = (const char *)d + i;
        const size_t vl = strnlen(v, n - i);
        i += vl + 1;
        char *key = strndup(k, kl), *val = strndup(v, vl);
        int bad = !key || !val;
        if (!bad && vl == 1 && val[0] == 0x7f) json_object_del(o, key);
        else if (!bad) bad = json_object_set_new(o, key, json_string(val)) != 0;   /* NULL: not UTF-8 */
        free(key);
        free(val);
        if (bad) { json_decref(o); return NULL; }
    }
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (t) *len = strlen(t);
    return t;
}

/* the whole file: length, {"__metadata__":META,ENTRIES} padded to 8, data */
static uint8_t *build(const proto *p, const char *meta, size_t mlen, size_t *size)
{
    static const char head[] = "{\"__metadata__\":";
    const size_t el = strlen(p->entries);
    size_t hl = sizeof head - 1 + mlen + 1 + el + 1;
    hl = (hl + 7) & ~(size_t)7;
    uint8_t *f = malloc(8 + hl + p->ndata);
    if (!f) return NULL;
    for (int i = 0; i < 8; i++) f[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    char *h = (char *)f + 8, *q = h;
    memcpy(q, head, sizeof head - 1); q += sizeof head - 1;
    memcpy(q, meta, mlen); q += mlen;
    *q++ = ',';
    memcpy(q, p->entries, el); q += el;
    *q++ = '}';
    while (q < h + hl) *q++ = ' ';
    memcpy(f + 8 + hl, p->data, p->ndata);
    *size = 8 + hl + p->ndata;
    return f;
}

static int as_file(const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const int whole = fwrite(d, 1, n, f) == n;
    return fclose(f) != 0 || !whole ? -1 : 0;
}

/* the loader's rules, stated independently */
static int cut_ok(const char *s, int min_samples, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    /* digits only: no blanks, no sign */
    return !errno && end != s && !*end && s[0] >= '0' && s[0] <= '9' && *v >= min_samples && *v <= (1LL << 30);
}

static int threshold_ok(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    /* a plain decimal number: no leading blank, no hexadecimal */
    return *s && !isspace((unsigned char)s[0]) && !strpbrk(s, "xX") && !*end && isfinite(*v);
}

static int calibration_ok(const char *s)
{
    sdd_calibration c;
    sdd_err e = { "" };
    return strlen(s) < sizeof ((sdd_model *)0)->calibration && !sdd_calibration_parse(s, strlen(s), "c", &c, &e) && c.k == 1;
}

/* m as loaded from a file of architecture a with metadata ts */
static void check_loaded(const sdd_model *m, int a, const sdd_tensorset *ts)
{
    CHECK(!strcmp(m->arch, archs[a]));
    CHECK(m->params.total == P[a].ref->params.total);
    CHECK(!memcmp(m->params.data, P[a].weights, m->params.total * sizeof(float)));
    const char *cut = sdd_tensorset_get_meta(ts, "cut"), *thr = sdd_tensorset_get_meta(ts, "threshold");
    const char *cal = sdd_tensorset_get_meta(ts, "calibration");
    long long c;
    double t;
    if (cut) CHECK(cut_ok(cut, m->min_samples, &c) && m->cut == c);
    else CHECK(m->cut == 0);
    if (thr) CHECK(threshold_ok(thr, &t) && m->has_threshold && m->threshold == t);
    else CHECK(!m->has_threshold);
    if (cal) CHECK(calibration_ok(cal) && !strcmp(m->calibration, cal));
    else CHECK(!m->calibration[0]);
}

/* whether sdd_model_open_weights should accept a file of architecture a with metadata ts, checked against P[a].ref */
static int opens(int a, const sdd_tensorset *ts)
{
    const sdd_model *r = P[a].ref;
    const char *fmt = sdd_tensorset_get_meta(ts, "format"), *arch = sdd_tensorset_get_meta(ts, "arch");
    const char *nb = sdd_tensorset_get_meta(ts, "nb_samp"), *cfg = sdd_tensorset_get_meta(ts, "config");
    char want[32];
    snprintf(want, sizeof want, "%d", r->nb_samp);
    if (!fmt || strcmp(fmt, "sdd-model") || !arch || strcmp(arch, r->arch) || !nb || strcmp(nb, want)) return 0;
    if (r->config[0] && (!cfg || strcmp(cfg, r->config))) return 0;
    /* the architecture's own keys: what its meta_save writes, compared as strings */
    const char *fn = sdd_tensorset_get_meta(ts, "mamba_final_norm");
    if (a == 2 && (!fn || strcmp(fn, json_string_value(json_object_get(P[a].meta, "mamba_final_norm"))))) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) setup();
    if (size < 1) return 0;
    const int a = data[0] & 3, pairs = (data[0] & 4) != 0, empty = (data[0] & 8) != 0;
    const int forced = (data[0] & 16) != 0, reopen = (data[0] & 32) != 0;
    const char *arch = forced ? archs[a] : NULL;
    size_t mlen = 0, fsize = 0;
    char *meta = meta_text(&P[a], data + 1, size - 1, pairs, empty, &mlen);
    if (!meta) return 0;
    uint8_t *file = build(&P[a], meta, mlen, &fsize);
    free(meta);
    if (!file) return 0;

    sdd_tensorset ts;
    sdd_err e = { "" }, fe = { "" };
    const int parsed = sdd_safetensors_load_mem(file, fsize, "fuzz.model", &ts, &e) == 0;
    if (parsed && !forced) {
        /* a full-size XLS-R model named by sdd metadata: skipped (see the top) */
        const char *fmt = sdd_tensorset_get_meta(&ts, "format"), *ma = sdd_tensorset_get_meta(&ts, "arch");
        const char *canon = ma ? sdd_model_arch_name(ma) : NULL;
        if (fmt && !strcmp(fmt, "sdd-model") && canon && !strncmp(canon, "XLSR-", 5) && !strstr(canon, "-tiny")) {
            sdd_tensorset_free(&ts);
            free(file);
            return 0;
        }
    }
    sdd_model *m = parsed ? sdd_model_from_tensorset(&ts, arch, 0, "fuzz.model", &e) : NULL;
    if (verbose) fprintf(stderr, "fuzz_model_meta: %s\n", m ? "loaded" : e.msg);
    if (m) {
        check_loaded(m, a, &ts);
        /* saved back (sdd_model_save's tensor set) it loads again with the same metadata */
        sdd_tensorset back;
        sdd_err be = { "" };
        CHECK(!sdd_model_to_tensorset(m, &back, &be));
        sdd_model *m2 = sdd_model_from_tensorset(&back, NULL, 0, "back", &be);
        if (!m2) fprintf(stderr, "fuzz_model_meta: saved back: %s\n", be.msg);
        CHECK(m2);
        CHECK(!strcmp(m2->arch, m->arch) && m2->cut == m->cut && m2->has_threshold == m->has_threshold);
        CHECK(!strcmp(m2->calibration, m->calibration) && !strcmp(m2->config, m->config));
        CHECK(!memcmp(m2->params.data, m->params.data, m->params.total * sizeof(float)));
        /* the threshold is stored with 9 significant digits */
        if (m->has_threshold) CHECK(fabs(m2->threshold - m->threshold) <= 1e-8 * fabs(m->threshold));
        sdd_model_free(m2);
        sdd_tensorset_free(&back);
    } else {
        if (strncmp(e.msg, "fuzz.model: ", 12) || strchr(e.msg, '\n')) fprintf(stderr, "fuzz_model_meta: message: %s\n", e.msg);
        CHECK(!strncmp(e.msg, "fuzz.model: ", 12) && !strchr(e.msg, '\n'));
    }
    if (parsed) {
        /* each value the loader reads must be refused when its rule refuses it */
        const char *cut = sdd_tensorset_get_meta(&ts, "cut"), *thr = sdd_tensorset_get_meta(&ts, "threshold");
        const char *cal = sdd_tensorset_get_meta(&ts, "calibration");
        long long c;
        double t;
        if (cut && !cut_ok(cut, P[a].ref->min_samples, &c)) CHECK(!m);
        if (thr && !threshold_ok(thr, &t)) CHECK(!m);
        if (cal && !calibration_ok(cal)) CHECK(!m);
        if (!m && !strncmp(e.msg, "fuzz.model: metadata cut '", 26)) CHECK(cut && !cut_ok(cut, P[a].ref->min_samples, &c));
    }

    if (access("/dev/shm", W_OK) == 0 && as_file(file, fsize) == 0) {
        /* the same file from disk, its weights read into place */
        sdd_model *fm = sdd_model_load(path, arch, &fe);
        CHECK(!fm == !m);
        if (fm) {
            check_loaded(fm, a, &ts);
            CHECK(fm->cut == m->cut && fm->has_threshold == m->has_threshold && !strcmp(fm->calibration, m->calibration));
            CHECK(!m->has_threshold || fm->threshold == m->threshold);
        } else {
            const size_t pl = strlen(path);
            CHECK(!strncmp(fe.msg, path, pl) && !strchr(fe.msg, '\n'));
            /* past the name, the in-memory load's very message once the header parsed */
            if (parsed && strcmp(fe.msg + pl, e.msg + 10))
                fprintf(stderr, "fuzz_model_meta: messages differ:\n  %s\n  %s\n", e.msg, fe.msg);
            if (parsed) CHECK(!strcmp(fe.msg + pl, e.msg + 10));
        }
        sdd_model_free(fm);

        /* against a model of the file's architecture: what sdd average and the n-best average do */
        sdd_model *r = P[a].ref;
        sdd_tensorset ws;
        sdd_err we = { "" };
        const int ok = sdd_model_open_weights(r, path, &ws, &we) == 0;
        if (parsed) {
            if (ok != opens(a, &ts)) fprintf(stderr, "fuzz_model_meta: open_weights %d: %s\n", ok, we.msg);
            CHECK(ok == opens(a, &ts));
        }
        if (ok) {
            sdd_tensorset_free(&ws);
            const char *one[1] = { path };
            const int64_t cut0 = r->cut;
            CHECK(!sdd_model_average_grouped(r, one, 1, reopen ? 1 : 0, &we));
            CHECK(!memcmp(r->params.data, P[a].weights, r->params.total * sizeof(float)) && r->cut == cut0);
        } else {
            CHECK(!ws.n && !ws.file_ && !strncmp(we.msg, path, strlen(path)) && !strchr(we.msg, '\n'));
        }
        unlink(path);
    }
    sdd_model_free(m);
    if (parsed) sdd_tensorset_free(&ts);
    free(file);
    return 0;
}
