/* Owns the loss-landscape computation (see landscape.h). */
#include "train/landscape.h"
#include "backend/device.h"
#include "core/sbuf.h"
#include "train/step.h"
#include "data/dataset.h"
#include "models/modelio.h"
#include "io/atomic.h"
#include "core/rng.h"
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SDD_PURPOSE_LANDSCAPE 0x6c616e64u /* 'land' */
#define SDD_PURPOSE_LS_RB 0x6c73726bu     /* 'lsrk' */

sdd_landscape_params sdd_landscape_default_params(void)
{
    sdd_landscape_params p;
    memset(&p, 0, sizeof p);
    p.dirs = 2;
    p.steps = 11;
    p.range = 1.0;
    p.batch = 8;
    p.rb_algo = 4;
    sdd_rawboost_default_params(&p.rb);
    p.seed = 1;
    p.class_weight[0] = 0.1f;
    p.class_weight[1] = 0.9f;
    return p;
}

void sdd_landscape_direction(const sdd_params *ps, uint64_t seed, float *d)
{
    memset(d, 0, ps->total * sizeof(float));
    for (int i = 0; i < ps->np; i++) {
        const sdd_pinfo *pi = &ps->p[i];
        if (!pi->trainable || pi->nd < 2) continue;
        const size_t nf = (size_t)pi->shape[0], fs = pi->numel / nf;
        const float *w = ps->data + pi->off;
        float *x = d + pi->off;
        for (size_t f = 0; f < nf; f++) {
            double dn = 0, wn = 0;
            for (size_t k = 0; k < fs; k++) {
                const size_t at = f * fs + k;
                x[at] = (float)sdd_rng_normal(sdd_rng_key(seed, SDD_PURPOSE_LANDSCAPE, (uint64_t)i, 0), at);
                dn += (double)x[at] * x[at];
                wn += (double)w[at] * w[at];
            }
            /* filter normalisation: |d_f| = |theta_f| (a zero filter gets a zero direction) */
            const double s = dn > 0 ? sqrt(wn) / sqrt(dn) : 0.0;
            for (size_t k = 0; k < fs; k++) x[f * fs + k] = (float)(x[f * fs + k] * s);
        }
    }
}

/* weighted-CE mean over the set held in wave (n, L), eval mode */
static int set_loss(sdd_model *m, sdd_ctx *c, const float *wave, const int *lab, int n, int64_t L, int B,
                    const float *cw, double *out, sdd_err *e)
{
    double num = 0, den = 0;
    for (int i0 = 0; i0 < n; i0 += B) {
        const int nb = n - i0 < B ? n - i0 : B;
        double l, w = 0;
        if (sdd_eval_loss(m, c, wave + (size_t)i0 * L, nb, L, lab + i0, cw, &l, NULL, e)) return -1;
        for (int b = 0; b < nb; b++) w += cw[lab[i0 + b]];
        num += l * w;
        den += w;
    }
    *out = num / den;
    return 0;
}

/* a loss as the table writes it: %.9g, and a NaN as "nan" whatever its sign
 * bit (printf writes "-nan" for some NaNs, depending on how they arose) */
static const char *loss_str(char buf[32], double v)
{
    if (isnan(v)) return "nan";
    snprintf(buf, 32, "%.9g", v);
    return buf;
}

/* len bytes of s to the stream, in pieces of at most SDD_LANDSCAPE_PIECE
 * bytes, each followed by its flush */
static int stream_put(const sdd_landscape_stream *st, const char *s, size_t len, sdd_err *e)
{
    for (size_t at = 0; at < len; at += SDD_LANDSCAPE_PIECE) {
        const size_t k = len - at < SDD_LANDSCAPE_PIECE ? len - at : SDD_LANDSCAPE_PIECE;
        errno = 0;
        const size_t put = fwrite(s + at, 1, k, st->fp);
        int err = put != k ? (errno ? errno : EIO) : 0;
        if (st->flush) {
            const int ferr = st->flush();
            if (!err) err = ferr;
        } else if (!err && (fflush(st->fp) != 0 || ferror(st->fp))) err = errno ? errno : EIO;
        if (err) return sdd_err_set(e, "%s: write failed: %s", st->name, strerror(err));
    }
    return 0;
}

/* The text of b to the stream, if any, and b emptied for the next (without a
 * stream, b keeps growing: the file gets all of it at the end) */
static int drain(sdd_sbuf *b, const sdd_landscape_stream *st, sdd_err *e)
{
    if (!st) return 0;
    if (b->fail) return sdd_err_set(e, "landscape: out of memory");
    if (stream_put(st, b->s, b->n, e)) return -1;
    b->n = 0;
    return 0;
}

/* Progress on stderr: on a terminal one line redrawn with '\r' (none when the
 * TSV rows go to a terminal too: they show it, and a redrawn line would land
 * among them); else, for a log, a plain line at each tenth of the grid. */
typedef struct { int on, tty, drawn, total, tenth; double t0; } progress;

static void progress_start(progress *pr, const sdd_landscape_params *p, const sdd_landscape_stream *tsv, int total)
{
    pr->tty = isatty(2);
    pr->on = !p->quiet && !(pr->tty && tsv && isatty(fileno(tsv->fp)));
    pr->total = total;
    pr->drawn = pr->tenth = 0;
    pr->t0 = omp_get_wtime();
}

static void progress_update(progress *pr, int done)
{
    if (!pr->on) return;
    const double s = omp_get_wtime() - pr->t0;
    if (pr->tty) {
        fprintf(stderr, "\rsdd landscape: %d/%d points, %.0f s ", done, pr->total, s);
        fflush(stderr);
        pr->drawn = 1;   /* a line to end */
    } else if ((int)(10LL * done / pr->total) > pr->tenth) {
        pr->tenth = (int)(10LL * done / pr->total);
        fprintf(stderr, "sdd landscape: %d/%d points, %.0f s\n", done, pr->total, s);
    }
}

static void progress_end(progress *pr)
{
    if (pr->drawn) fputc('\n', stderr);
}

int sdd_landscape_run(const sdd_landscape_params *p, const char *out, sdd_err *e)
{
    return sdd_landscape_run_to(p, out, NULL, NULL, e);
}

int sdd_landscape_run_to(const sdd_landscape_params *p, const char *out, const sdd_landscape_stream *tsv,
                         const sdd_landscape_stream *svgst, sdd_err *e)
{
    if (p->dirs != 1 && p->dirs != 2) return sdd_err_set(e, "landscape: --dirs must be 1 or 2");
    if (p->steps < 2 || p->steps > 1001) return sdd_err_set(e, "landscape: --steps must be in 2..1001");
    if (!(p->range > 0) || !isfinite(p->range)) return sdd_err_set(e, "landscape: --range must be a positive number");
    if (!tsv && !out) return sdd_err_set(e, "landscape: no output");
    const char *out_name = tsv ? tsv->name : out;
    const int plot = svgst || p->svg;
    /* the files are written when the grid is complete: a folder that cannot
     * take them is said now, not after the grid */
    if ((!tsv && sdd_atomic_probe(out, e)) || (p->svg && !svgst && sdd_atomic_probe(p->svg, e))) return -1;
    sdd_model *m = sdd_model_load(p->model, NULL, e);
    if (!m) return -1;
    sdd_dataset *ds = NULL;
    sdd_dataset_params dp = sdd_dataset_default_params();
    dp.require_labels = 1;
    dp.lazy = 1;   /* only the first --max-items files are decoded */
    int rc = sdd_dataset_open(&ds, p->list, p->audio_dir, &dp, e);
    const int64_t L = p->cut > 0 ? p->cut : sdd_model_cut(m);
    int n = rc ? 0 : sdd_dataset_count(ds);
    if (p->max_items > 0 && n > p->max_items) n = p->max_items;
    if (!rc && sdd_dataset_load(ds, 0, n, e)) rc = -1;
    const int naug = p->rb_algo > 0 ? n : 0;
    float *wave = NULL, *aug = NULL, *d1 = NULL, *d2 = NULL, *theta = NULL;
    const int npts = p->dirs == 2 ? p->steps * p->steps : p->steps;
    double *ga = malloc((size_t)npts * sizeof(double)), *glo = malloc((size_t)npts * sizeof(double)), *gla = malloc((size_t)npts * sizeof(double));
    int *lab = NULL;
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    /* the TSV: all of it for the file (written once the grid is complete),
     * or the text not yet sent for a stream */
    sdd_sbuf b = { NULL, 0, 0, 0 };
    /* on CUDA the weights of each grid point are uploaded before its forward passes */
    if (!rc && p->device && sdd_ctx_set_device(&c, p->device, e)) rc = sdd_err_prefix(e, "landscape: --device");
    if (!rc && L < m->min_samples) rc = sdd_err_set(e, "landscape: --cut %lld is shorter than %s accepts (%d)", (long long)L, m->arch, m->min_samples);
    if (!rc) {
        wave = malloc((size_t)n * L * sizeof(float));
        aug = malloc(((size_t)naug * L + 1) * sizeof(float));
        lab = malloc((size_t)n * sizeof(int));
        d1 = malloc(m->params.total * sizeof(float));
        d2 = malloc(m->params.total * sizeof(float));
        theta = malloc(m->params.total * sizeof(float));
        b.s = malloc(4096);
        b.cap = 4096;
        if (!wave || !aug || !lab || !d1 || !d2 || !theta || !b.s || !ga || !glo || !gla) rc = sdd_err_set(e, "landscape: out of memory");
    }
    /* the inputs once: first cut of each utterance and of its RawBoost copy */
    for (int i = 0; i < n && !rc; i++) {
        lab[i] = sdd_dataset_label(ds, i);
        if (sdd_dataset_get_rawboost(ds, i, L, SDD_CUT_FIRST, 0, 0, NULL, 0, wave + (size_t)i * L, e))
            rc = -1;
        else if (naug && sdd_dataset_get_rawboost(ds, i, L, SDD_CUT_FIRST, 0, p->rb_algo, &p->rb,
                                                  sdd_rng_key(p->seed, SDD_PURPOSE_LS_RB, (uint64_t)i, 0), aug + (size_t)i * L, e))
            rc = sdd_err_prefix(e, "%s: item %d", p->list, i);
    }
    if (!rc) {
        memcpy(theta, m->params.data, m->params.total * sizeof(float));
        sdd_landscape_direction(&m->params, p->seed, d1);
        sdd_landscape_direction(&m->params, p->seed + 0x9e3779b97f4a7c15ull, d2);
        sdd_sbuf_put(&b, "# sdd landscape: model %s (%s), %d utterances of %s, cut %lld, RawBoost algo %d for loss_aug, seed %llu\n"
                "# directions: Gaussian, filter-normalised (Li et al. 2018; biases, BatchNorm and 1-D parameters fixed)\n"
                "a\tb\tloss_orig\tloss_aug\n", p->model, m->arch, n, p->list, (long long)L, p->rb_algo, (unsigned long long)p->seed);
    }
    const int nb_steps = p->dirs == 2 ? p->steps : 1;
    progress pr;
    progress_start(&pr, p, tsv, p->steps * nb_steps);
    /* a stream gets the header before the first point, then each row once computed */
    if (!rc && drain(&b, tsv, e)) rc = -1;
    for (int ia = 0; ia < p->steps && !rc; ia++)
        for (int ib = 0; ib < nb_steps && !rc; ib++) {
            const double a = -p->range + 2.0 * p->range * ia / (p->steps - 1);
            const double bb = p->dirs == 2 ? -p->range + 2.0 * p->range * ib / (p->steps - 1) : 0.0;
            for (size_t k = 0; k < m->params.total; k++) m->params.data[k] = (float)(theta[k] + a * d1[k] + bb * d2[k]);
            double lo, la = NAN;
            if (p->device && sdd_params_upload(&m->params, e)) { rc = -1; break; }
            if (set_loss(m, &c, wave, lab, n, L, p->batch, p->class_weight, &lo, e) ||
                (naug && set_loss(m, &c, aug, lab, n, L, p->batch, p->class_weight, &la, e))) { rc = -1; break; }
            char so[32], sa[32];
            sdd_sbuf_put(&b, "%.6g\t%.6g\t%s\t%s\n", a, bb, loss_str(so, lo), loss_str(sa, la));
            ga[ia * nb_steps + ib] = a;
            glo[ia * nb_steps + ib] = lo;
            gla[ia * nb_steps + ib] = la;
            if (drain(&b, tsv, e)) { rc = -1; break; }
            progress_update(&pr, ia * nb_steps + ib + 1);
        }
    progress_end(&pr);
    if (!rc && b.fail) rc = sdd_err_set(e, "landscape: out of memory");
    char *svg = NULL;
    if (!rc && plot && !(svg = sdd_landscape_svg(ga, glo, gla, p->steps, p->dirs, p->range, e))) rc = -1;
    if (!rc && !tsv) rc = sdd_atomic_write(out, b.s, b.n, e);
    if (!rc && svg) rc = svgst ? stream_put(svgst, svg, strlen(svg), e) : sdd_atomic_write(p->svg, svg, strlen(svg), e);
    /* a loss that overflowed (a far --range) is written as nan, and the plot
     * leaves it out: say so rather than let a gap or a nan row pass unseen */
    int nbad = 0, first = -1;
    for (int k = 0; k < p->steps * nb_steps && !rc; k++)
        if (!isfinite(glo[k]) || (naug && !isfinite(gla[k]))) {
            nbad++;
            if (first < 0) first = k;
        }
    if (nbad) {
        const int fa = first / nb_steps, fb = first % nb_steps;
        const double a = -p->range + 2.0 * p->range * fa / (p->steps - 1);
        const double bb = p->dirs == 2 ? -p->range + 2.0 * p->range * fb / (p->steps - 1) : 0.0;
        char aug[64] = "", so[32], sa[32];
        if (naug) snprintf(aug, sizeof aug, ", loss_aug %s", loss_str(sa, gla[first]));
        fprintf(stderr, "sdd: warning: %s: %d of %d grid points gave a non-finite loss (first at a=%.6g b=%.6g: loss_orig %s%s); "
                        "written as nan%s\n", out_name, nbad, p->steps * nb_steps, a, bb, loss_str(so, glo[first]), aug,
                plot ? ", not plotted in the SVG" : "");
    }
    free(svg);
    free(ga); free(glo); free(gla);
    free(b.s);
    free(wave); free(aug); free(lab); free(d1); free(d2); free(theta);
    sdd_ctx_free(&c);
    sdd_dataset_close(ds);
    sdd_model_free(m);
    return rc;
}
