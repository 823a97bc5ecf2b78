/* Owns reading training logs and configs back and the convergence SVG (see runlog.h). */
#include "train/runlog.h"
#include "core/sbuf.h"
#include "io/atomic.h"
#include "io/readall.h"
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_EPOCH 1000000

void sdd_runlog_init(sdd_runlog *r)
{
    memset(r, 0, sizeof *r);
    r->final_dev_loss = r->final_dev_eer = NAN;
    snprintf(r->align_groups, sizeof r->align_groups, "whole");   /* what runs from before --align-groups did */
}

void sdd_runlog_free(sdd_runlog *r)
{
    free(r->ep);
    free(r->ev);
    sdd_runlog_init(r);
}

/* the entry of epoch k (created in order, NaN fields), NULL on OOM */
static sdd_runlog_epoch *epoch_at(sdd_runlog *r, int k, int *cap)
{
    int lo = 0, hi = r->nep;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (r->ep[mid].epoch < k) lo = mid + 1; else hi = mid;
    }
    if (lo < r->nep && r->ep[lo].epoch == k) return &r->ep[lo];
    if (r->nep == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        sdd_runlog_epoch *t = realloc(r->ep, (size_t)nc * sizeof *t);
        if (!t) return NULL;
        r->ep = t;
        *cap = nc;
    }
    memmove(r->ep + lo + 1, r->ep + lo, (size_t)(r->nep - lo) * sizeof *r->ep);
    r->nep++;
    sdd_runlog_epoch *x = &r->ep[lo];
    memset(x, 0, sizeof *x);
    x->epoch = k;
    x->train_loss = x->dev_loss = x->dev_eer = x->conflict_rate = x->mean_cos = x->seconds = NAN;
    return x;
}

/* a number field: absent or null -> NaN (0); a number -> its value; anything else -> -1 */
static int num(const json_t *o, const char *k, double *out)
{
    const json_t *v = json_object_get(o, k);
    *out = NAN;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return -1;
    *out = json_number_value(v);
    return 0;
}

static int epoch_of(const json_t *o, int *k)
{
    const json_t *v = json_object_get(o, "epoch");
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_EPOCH) return -1;
    *k = (int)json_integer_value(v);
    return 0;
}

typedef struct { double cos; long ncos, nconf, nal; } step_acc;

int sdd_runlog_parse_log(sdd_runlog *r, const char *text, size_t n, const char *origin, sdd_err *e)
{
    int cap = r->nep, evcap = r->nev, rc = 0, lineno = 0;
    step_acc *acc = NULL;   /* parallel to r->ep while parsing */
    int acccap = 0;
    size_t pos = 0;
    while (pos < n && !rc) {
        const char *nl = memchr(text + pos, '\n', n - pos);
        lineno++;
        if (!nl) break;                      /* a record still being written */
        const size_t len = (size_t)(nl - (text + pos));
        const char *line = text + pos;
        pos += len + 1;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) k++;
        if (k == len) continue;
        json_error_t je;
        json_t *o = json_loadb(line, len, 0, &je);
        if (!o) { rc = sdd_err_set(e, "%s:%d: not JSON (%s)", origin, lineno, je.text); break; }
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!json_is_object(o) || !type) { json_decref(o); rc = sdd_err_set(e, "%s:%d: not a log record (an object with a \"type\")", origin, lineno); break; }
        int ep;
        double x;
        if (!strcmp(type, "step") || !strcmp(type, "epoch")) {
            if (epoch_of(o, &ep)) { json_decref(o); rc = sdd_err_set(e, "%s:%d: \"epoch\" is not an integer in 0..%d", origin, lineno, MAX_EPOCH); break; }
            const int before = r->nep;
            sdd_runlog_epoch *x0 = epoch_at(r, ep, &cap);
            if (!x0) { json_decref(o); rc = sdd_err_set(e, "%s: out of memory", origin); break; }
            const int at = (int)(x0 - r->ep);
            if (acccap < cap) {
                step_acc *t = realloc(acc, (size_t)cap * sizeof *t);
                if (!t) { json_decref(o); rc = sdd_err_set(e, "%s: out of memory", origin); break; }
                /* zeroed: the insertion below zeroes only new epochs' slots, not those of epochs r held before this parse */
                memset(t + acccap, 0, (size_t)(cap - acccap) * sizeof *t);
                acc = t;
                acccap = cap;
            }
            if (r->nep != before) {
                memmove(acc + at + 1, acc + at, (size_t)(r->nep - 1 - at) * sizeof *acc);
                memset(&acc[at], 0, sizeof acc[at]);
            }
            if (!strcmp(type, "step")) {
                r->steps++;
                const json_t *cf = json_object_get(o, "conflict");
                if (cf) {
                    if (!json_is_boolean(cf)) { json_decref(o); rc = sdd_err_set(e, "%s:%d: \"conflict\" is not true or false", origin, lineno); break; }
                    acc[at].nal++;
                    acc[at].nconf += json_is_true(cf);
                }
                if (num(o, "cos", &x)) { json_decref(o); rc = sdd_err_set(e, "%s:%d: \"cos\" is not a number", origin, lineno); break; }
                if (isfinite(x)) { acc[at].cos += x; acc[at].ncos++; }
            } else {
                sdd_runlog_epoch *E = &r->ep[at];
                const char *bad = NULL;
                double steps;
                if (num(o, "steps", &steps)) bad = "steps";
                else if (num(o, "train_loss", &E->train_loss)) bad = "train_loss";
                else if (num(o, "dev_loss", &E->dev_loss)) bad = "dev_loss";
                else if (num(o, "dev_eer", &E->dev_eer)) bad = "dev_eer";
                else if (num(o, "conflict_rate", &E->conflict_rate)) bad = "conflict_rate";
                else if (num(o, "seconds", &E->seconds)) bad = "seconds";
                if (bad) { json_decref(o); rc = sdd_err_set(e, "%s:%d: \"%s\" is not a number", origin, lineno, bad); break; }
                E->steps = isfinite(steps) && steps >= 0 && steps < 1e15 ? (long)steps : 0;
            }
        } else if (!strcmp(type, "final")) {
            double av;
            if (num(o, "dev_loss", &r->final_dev_loss) || num(o, "dev_eer", &r->final_dev_eer) || num(o, "averaged", &av)) {
                json_decref(o);
                rc = sdd_err_set(e, "%s:%d: a final record field is not a number", origin, lineno);
                break;
            }
            r->has_final = 1;
            r->averaged = isfinite(av) && av >= 0 && av < 1e6 ? (int)av : 0;
        } else if (!strcmp(type, "eval")) {
            const char *name = json_string_value(json_object_get(o, "name"));
            double tr, eer, loss;
            if (!name || num(o, "trials", &tr) || num(o, "eer", &eer) || num(o, "loss", &loss)) {
                json_decref(o);
                rc = sdd_err_set(e, "%s:%d: an eval record needs a \"name\" and numbers", origin, lineno);
                break;
            }
            int at = 0;
            while (at < r->nev && strncmp(r->ev[at].name, name, sizeof r->ev[at].name - 1)) at++;
            if (at == r->nev) {
                if (r->nev == evcap) {
                    int nc = evcap ? 2 * evcap : 4;
                    sdd_runlog_eval *t = realloc(r->ev, (size_t)nc * sizeof *t);
                    if (!t) { json_decref(o); rc = sdd_err_set(e, "%s: out of memory", origin); break; }
                    r->ev = t;
                    evcap = nc;
                }
                r->nev++;
            }
            sdd_runlog_eval *v = &r->ev[at];
            snprintf(v->name, sizeof v->name, "%s", name);
            v->trials = isfinite(tr) && tr >= 0 && tr < 2e9 ? (int)tr : 0;
            v->eer = eer;
            v->loss = loss;
        }
        json_decref(o);
    }
    for (int k = 0; k < r->nep && acc && !rc; k++) {
        if (acc[k].ncos) r->ep[k].mean_cos = acc[k].cos / acc[k].ncos;
        if (isnan(r->ep[k].conflict_rate) && acc[k].nal) r->ep[k].conflict_rate = (double)acc[k].nconf / acc[k].nal;
    }
    free(acc);
    if (rc) {
        for (char *p = e->msg; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
    }
    return rc;
}

int sdd_runlog_parse_config(sdd_runlog *r, const char *text, size_t n, const char *origin, sdd_err *e)
{
    json_error_t je;
    json_t *o = json_loadb(text, n, 0, &je);
    if (!o) {
        sdd_err_set(e, "%s:%d:%d: %s", origin, je.line, je.column, je.text);
        for (char *p = e->msg; *p; p++)
            if ((unsigned char)*p < 0x20) *p = ' ';
        return -1;
    }
    if (!json_is_object(o)) { json_decref(o); return sdd_err_set(e, "%s: not a JSON object", origin); }
    struct { const char *k; char *dst; size_t cap; } f[] = {
        { "model", r->model, sizeof r->model }, { "paths", r->paths, sizeof r->paths }, { "align", r->align, sizeof r->align },
        { "bn-stats", r->bn_stats, sizeof r->bn_stats }, { "recipe", r->recipe, sizeof r->recipe },
        { "align-groups", r->align_groups, sizeof r->align_groups },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const json_t *v = json_object_get(o, f[i].k);
        if (!v) continue;
        if (!json_is_string(v)) { json_decref(o); return sdd_err_set(e, "%s: \"%s\" is not a string", origin, f[i].k); }
        snprintf(f[i].dst, f[i].cap, "%s", json_string_value(v));
        for (char *p = f[i].dst; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == '<' || *p == '>' || *p == '&') *p = '?';
    }
    json_decref(o);
    return 0;
}

/* a log of a long run is megabytes; a gigabyte is not a training log */
#define RUNLOG_MAX ((size_t)1 << 30)

int sdd_runlog_load(sdd_runlog *r, const char *dir, sdd_err *e)
{
    char path[4096];
    size_t n;
    sdd_runlog_init(r);
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct stat st;
    if (stat(path, &st) == 0) {   /* a run without config.json (older sdd) is read from its log alone */
        char *t = sdd_read_all(path, SDD_CONFIG_MAX, "run config", &n, e);
        if (!t) return -1;
        int rc = sdd_runlog_parse_config(r, t, n, path, e);
        free(t);
        if (rc) return -1;
    }
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    char *t = sdd_read_all(path, RUNLOG_MAX, "training log", &n, e);
    if (!t) return -1;
    int rc = sdd_runlog_parse_log(r, t, n, path, e);
    free(t);
    if (rc) sdd_runlog_free(r);
    return rc;
}

double sdd_runlog_best_eer(const sdd_runlog *r, int *epoch)
{
    double best = NAN;
    *epoch = -1;
    for (int k = 0; k < r->nep; k++)
        if (isfinite(r->ep[k].dev_eer) && !(r->ep[k].dev_eer >= best)) { best = r->ep[k].dev_eer; *epoch = r->ep[k].epoch; }
    return best;
}

/* ------------------------------------------------------------ SVG */

static void put_text(sdd_sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') sdd_sbuf_put(b, "&lt;");
        else if (*s == '>') sdd_sbuf_put(b, "&gt;");
        else if (*s == '&') sdd_sbuf_put(b, "&amp;");
        else if (*s == '"') sdd_sbuf_put(b, "&quot;");
        else if ((unsigned char)*s >= 0x20) sdd_sbuf_put(b, "%c", *s);
    }
}

/* a "nice" step for about 5 ticks over [0, hi] */
static double tick_step(double hi)
{
    const double raw = hi / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static const char *const COLORS[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf" };

static void panel(sdd_sbuf *b, const sdd_runlog *runs, int n, int which, double x0, const char *title)
{
    const double W = 420, H = 300, L = 56, R = 12, T = 30, B = 40;
    int e0 = MAX_EPOCH, e1 = 0;
    double hi = 0;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < runs[r].nep; k++) {
            const double v = which ? runs[r].ep[k].dev_loss : 100.0 * runs[r].ep[k].dev_eer;
            if (!isfinite(v)) continue;
            if (runs[r].ep[k].epoch < e0) e0 = runs[r].ep[k].epoch;
            if (runs[r].ep[k].epoch > e1) e1 = runs[r].ep[k].epoch;
            if (v > hi) hi = v;
        }
    sdd_sbuf_put(b, "<g transform=\"translate(%.0f,0)\">\n<text x=\"%.0f\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">%s</text>\n", x0, W / 2, title);
    sdd_sbuf_put(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#444\"/>\n", L, T, W - L - R, H - T - B);
    if (e0 > e1) { sdd_sbuf_put(b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"12\">no epochs with this value</text>\n</g>\n", W / 2, H / 2); return; }
    if (!(hi > 0)) hi = 1;
    const double ts = tick_step(hi);
    hi = ceil(hi / ts) * ts;
    const double span = e1 > e0 ? (double)(e1 - e0) : 1.0;
#define PX(ep) (L + ((ep) - e0) / span * (W - L - R))
#define PY(v) (H - B - (v) / hi * (H - T - B))
    for (double y = 0; y <= hi * (1 + 1e-9); y += ts)
        sdd_sbuf_put(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%g</text>\n",
            L, W - R, PY(y), PY(y), L - 4, PY(y) + 4, y);
    const int es = e1 - e0 <= 10 ? 1 : (int)ceil((e1 - e0) / 10.0);
    for (int ep = e0; ep <= e1; ep += es)
        sdd_sbuf_put(b, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"11\">%d</text>\n", PX((double)ep), H - B + 14, ep);
    sdd_sbuf_put(b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"12\">epoch</text>\n", (L + W - R) / 2, H - 8);
    for (int r = 0; r < n; r++) {
        sdd_sbuf_put(b, "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"%s\" points=\"", COLORS[r % 8]);
        for (int k = 0; k < runs[r].nep; k++) {
            const double v = which ? runs[r].ep[k].dev_loss : 100.0 * runs[r].ep[k].dev_eer;
            if (isfinite(v)) sdd_sbuf_put(b, "%.1f,%.1f ", PX((double)runs[r].ep[k].epoch), PY(v));
        }
        sdd_sbuf_put(b, "\"/>\n");
    }
#undef PX
#undef PY
    sdd_sbuf_put(b, "</g>\n");
}

char *sdd_runlog_svg(const sdd_runlog *runs, const char *const *labels, int n, sdd_err *e)
{
    sdd_sbuf b = { malloc(1 << 14), 0, 1 << 14, 0 };
    if (!b.s) { sdd_err_set(e, "report: out of memory"); return NULL; }
    const int legend_h = 18 * n + 10;
    sdd_sbuf_put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"860\" height=\"%d\" "
            "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", 300 + legend_h);
    panel(&b, runs, n, 0, 0, "dev EER (%) per epoch");
    panel(&b, runs, n, 1, 430, "dev loss (weighted CE) per epoch");
    for (int r = 0; r < n; r++) {
        sdd_sbuf_put(&b, "<line x1=\"60\" x2=\"84\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/><text x=\"90\" y=\"%d\" font-size=\"12\">",
            310 + 18 * r, 310 + 18 * r, COLORS[r % 8], 314 + 18 * r);
        put_text(&b, labels[r]);
        sdd_sbuf_put(&b, "</text>\n");
    }
    sdd_sbuf_put(&b, "</svg>\n");
    if (b.fail) { free(b.s); sdd_err_set(e, "report: out of memory"); return NULL; }
    return b.s;
}
