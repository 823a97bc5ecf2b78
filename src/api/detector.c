/* Implements the public API in include/sdd.h on top of the model, inference
 * and audio modules. */
#include "sdd.h"
#include "models/modelio.h"
#include "models/infer.h"
#include "audio/decode.h"
#include "core/threads.h"
#include "backend/device.h"
#include "backend/qgemm.h"
#include "metrics/calibration.h"
#include <omp.h>
#include <soxr.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sdd_detector {
    sdd_model *m;
    sdd_ctx c;
    sdd_score_pool *pool; /* sdd_detector_score_files' threads, made on first use */
    sdd_detector_params p;
    sdd_err err;
    int has_cal;          /* the model stores a calibration, parsed into cal */
    sdd_calibration cal;
};

sdd_detector_params sdd_detector_default_params(void)
{
    sdd_detector_params p;
    memset(&p, 0, sizeof p);
    p.threads = 0;
    p.cut = 0;
    p.window_s = 16.0;
    return p;
}

const char *sdd_version(void) { return SDD_VERSION_STRING; }

sdd_detector *sdd_detector_load(const char *model_path, const sdd_detector_params *params, char *err, size_t err_len)
{
    sdd_err e;
    sdd_detector *d = calloc(1, sizeof *d);
    if (!d) { if (err && err_len) snprintf(err, err_len, "out of memory"); return NULL; }
    d->p = params ? *params : sdd_detector_default_params();
    if (!(d->p.window_s > 0)) d->p.window_s = 16.0;   /* NaN too */
    d->m = sdd_model_load(model_path, NULL, &e);
    if (!d->m) {
        if (err && err_len) snprintf(err, err_len, "%s", e.msg);
        free(d);
        return NULL;
    }
    /* the model loader checked the calibration already: this parse repeats it */
    if (d->m->calibration[0] && sdd_calibration_parse(d->m->calibration, strlen(d->m->calibration), model_path, &d->cal, &e)) {
        if (err && err_len) snprintf(err, err_len, "%s", e.msg);
        sdd_model_free(d->m);
        free(d);
        return NULL;
    }
    d->has_cal = d->m->calibration[0] != 0;
    if (d->p.int8) {
        int rc = 0;
        if (d->p.device != 0) rc = sdd_err_set(&e, "int8 inference runs on the CPU (device 0)");
        else if (!(rc = sdd_q8_fast_check(&e))) rc = sdd_model_quantize_int8(d->m, NULL, &e);
        if (rc) {
            if (err && err_len) snprintf(err, err_len, "int8: %s", e.msg);
            sdd_model_free(d->m);
            free(d);
            return NULL;
        }
    }
    if (d->p.threads > 0) sdd_threads_set(d->p.threads);
    sdd_ctx_init(&d->c, &d->m->params);
    if (d->p.device != 0 && d->p.device != 1) sdd_err_set(&e, "unknown device %d (0 = CPU, 1 = CUDA)", d->p.device);
    if (d->p.device != 0 && (d->p.device != 1 || sdd_ctx_set_device(&d->c, SDD_DEV_CUDA, &e))) {
        if (err && err_len) snprintf(err, err_len, "device: %s", e.msg);
        sdd_ctx_free(&d->c);
        sdd_model_free(d->m);
        free(d);
        return NULL;
    }
    return d;
}

void sdd_detector_free(sdd_detector *d)
{
    if (!d) return;
    sdd_score_pool_free(d->pool);
    sdd_ctx_free(&d->c);
    sdd_model_free(d->m);
    free(d);
}

const char *sdd_detector_error(const sdd_detector *d) { return d ? d->err.msg : "no detector"; }
const char *sdd_detector_arch(const sdd_detector *d) { return d ? d->m->arch : ""; }

int sdd_detector_threshold(const sdd_detector *d, double *threshold)
{
    if (!d || !d->m->has_threshold) return 0;
    if (threshold) *threshold = d->m->threshold;
    return 1;
}

int sdd_detector_calibrate(sdd_detector *d, double score, double *llr, double *threshold)
{
    if (!d || !d->has_cal) return 0;
    const double v = sdd_calibration_apply(&d->cal, &score);
    if (!isfinite(v)) {
        sdd_err_set(&d->err, "calibrated score of %.9g is not finite", score);
        return -1;
    }
    if (llr) *llr = v;
    if (threshold) *threshold = d->cal.threshold;
    return 1;
}

/* The samples a file is scored on in cut mode (p.cut >= 0): the cut given,
 * else the model's */
static int64_t detector_cut(const sdd_detector *d)
{
    return d->p.cut > 0 ? d->p.cut : sdd_model_cut(d->m);
}

/* cut scoring decodes only the samples it scores (memory independent of the file's length) */
static void decode_params(const sdd_detector *d, sdd_audio_params *ap)
{
    sdd_audio_default_params(ap);
    if (d->p.cut >= 0) ap->head = detector_cut(d);
}

/* Scores finite 16 kHz samples (the callers check them) into *score, which
 * is left as it was on failure. */
static int score16k(sdd_detector *d, const float *x, int64_t n, double *score)
{
    if (n <= 0) return sdd_err_set(&d->err, "no samples");
    int rc;
    double s = 0;
    if (d->p.cut < 0) rc = sdd_score_full(d->m, &d->c, x, n, sdd_window_samples(d->p.window_s), &s, &d->err);
    else {
        const int64_t L = detector_cut(d);
        float *buf = malloc((size_t)L * sizeof(float));
        if (!buf) return sdd_err_set(&d->err, "out of memory");
        sdd_cut_repeat(x, n, L, buf);
        float sf;
        rc = sdd_score_batch(d->m, &d->c, buf, 1, L, &sf, NULL, &d->err);
        free(buf);
        if (!rc) s = sf;
    }
    if (rc) return rc;
    /* finite samples far outside [-1, 1] overflow the model */
    if (!isfinite(s)) return sdd_err_set(&d->err, "the model's score is not finite: the samples are far outside [-1, 1]");
    *score = s;
    return 0;
}

int sdd_detector_score_samples(sdd_detector *d, const float *samples, int64_t n, int sample_rate, double *score)
{
    if (!d) return -1;
    d->err.msg[0] = 0;
    if (!samples || !score) return sdd_err_set(&d->err, "sdd_detector_score_samples: NULL argument");
    if (n <= 0) return sdd_err_set(&d->err, "no samples");
    if (sample_rate <= 0) return sdd_err_set(&d->err, "sample rate %d is not positive", sample_rate);
    for (int64_t i = 0; i < n; i++)   /* before resampling, so that i is the caller's index */
        if (!isfinite(samples[i])) return sdd_err_set(&d->err, "sample %lld is not finite", (long long)i);
    if (sample_rate == 16000) return score16k(d, samples, n, score);
    const double ratio = 16000.0 / sample_rate;
    size_t olen = (size_t)((double)n * ratio + 16), odone = 0;
    float *y = malloc(olen * sizeof(float));
    if (!y) return sdd_err_set(&d->err, "out of memory");
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_error_t se = soxr_oneshot(sample_rate, 16000, 1, samples, (size_t)n, NULL, y, olen, &odone, &io, &q, NULL);
    if (se) { free(y); return sdd_err_set(&d->err, "resampling failed: %s", se); }
    int rc = score16k(d, y, (int64_t)odone, score);
    free(y);
    return rc;
}

int sdd_detector_score_file(sdd_detector *d, const char *path, double *score)
{
    if (!d) return -1;
    d->err.msg[0] = 0;
    if (!path || !score) return sdd_err_set(&d->err, "sdd_detector_score_file: NULL argument");
    float *x = NULL;
    int64_t n = 0;
    sdd_audio_params ap;
    decode_params(d, &ap);
    if (sdd_audio_load_ex(path, 16000, &ap, &x, &n, NULL, &d->err)) return -1;
    int rc = score16k(d, x, n, score);
    if (rc) sdd_err_prefix(&d->err, "%s", path);
    free(x);
    return rc;
}

/* the pool's loader: file b, decoded as sdd_detector_score_file does */
typedef struct { const char *const *paths; const sdd_audio_params *ap; } files_arg;

static int load_file(void *arg, int b, float **x, int64_t *n, sdd_err *e)
{
    const files_arg *fa = arg;
    if (!fa->paths[b]) return sdd_err_set(e, "file %d: NULL path", b);
    return sdd_audio_load_ex(fa->paths[b], 16000, fa->ap, x, n, NULL, e);
}

int sdd_detector_score_files(sdd_detector *d, const char *const *paths, int n, double *scores, int *ok)
{
    if (!d) return -1;
    d->err.msg[0] = 0;
    if (!paths || !scores || !ok || n < 0) return sdd_err_set(&d->err, "sdd_detector_score_files: NULL argument or negative count");
    const int T = omp_get_max_threads();
    int good = 0;
    if (d->c.dev || T < 2 || n < 2) {
        sdd_err first = { { 0 } };
        for (int k = 0; k < n; k++) {
            ok[k] = paths[k] && sdd_detector_score_file(d, paths[k], &scores[k]) == 0;
            if (!paths[k]) sdd_err_set(&d->err, "file %d: NULL path", k);
            if (ok[k]) good++;
            else if (!first.msg[0]) first = d->err;
        }
        d->err = first;
        return good;
    }
    if (!d->pool && !(d->pool = sdd_score_pool_new(d->m, T, &d->err))) return -1;
    double *sc = malloc((size_t)n * sizeof *sc);
    int *st = malloc((size_t)n * sizeof *st);
    sdd_err *er = malloc((size_t)n * sizeof *er);
    if (!sc || !st || !er) {
        free(sc); free(st); free(er);
        return sdd_err_set(&d->err, "out of memory");
    }
    sdd_audio_params ap;
    decode_params(d, &ap);
    const files_arg fa = { paths, &ap };
    const int64_t cut = d->p.cut < 0 ? 0 : detector_cut(d);
    sdd_score_pool_run(d->pool, n, load_file, (void *)&fa, cut, sdd_window_samples(d->p.window_s), sc, st, er);
    for (int k = 0; k < n; k++) {
        /* finite samples far outside [-1, 1] overflow the model */
        if (st[k] == SDD_ITEM_SCORED && !isfinite(sc[k])) {
            st[k] = SDD_ITEM_SCORE_FAILED;
            snprintf(er[k].msg, sizeof er[k].msg, "the model's score is not finite: the samples are far outside [-1, 1]");
        }
        ok[k] = st[k] == SDD_ITEM_SCORED;
        if (ok[k]) { scores[k] = sc[k]; good++; }
        else if (!d->err.msg[0]) {
            d->err = er[k];
            if (st[k] == SDD_ITEM_SCORE_FAILED && paths[k]) sdd_err_prefix(&d->err, "%s", paths[k]);
        }
    }
    free(sc); free(st); free(er);
    return good;
}
