/* Owns the named training settings (see options.h): parsing one setting from
 * text, and writing all of them as JSON. */
#include "train/options.h"
#include "core/sbuf.h"
#include "data/dataset.h"
#include "models/model.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < 0) return -1;
    *out = v == 0 ? 0.0 : v;   /* "-0" is 0 */
    return 0;
}

static int choice(const char *v, const char *const *names, int n)
{
    for (int k = 0; k < n; k++)
        if (!strcmp(v, names[k])) return k;
    return -1;
}

static const char *const PATHS[] = { "orig", "aug", "dual" };
static const char *const BN[] = { "per-path", "joint" };
static const char *const SELECT[] = { "loss", "eer" };
static const char *const CROP[] = { "first", "random" };
static const char *const RECOMPUTE[] = { "off", "on", "auto" };   /* SDD_RECOMPUTE_* */
static const char *const CACHE[] = { "all", "none" };

typedef struct { const char *key; long lo, hi; size_t off; int is_long; } int_opt;
#define IOPT(k, lo, hi, field) { k, lo, hi, offsetof(sdd_train_config, field), 0 }
#define LOPT(k, lo, hi, field) { k, lo, hi, offsetof(sdd_train_config, field), 1 }
static const int_opt INTS[] = {
    IOPT("batch", 1, 4096, batch), IOPT("accum", 1, 4096, accum), IOPT("epochs", 1, 100000, epochs),
    IOPT("patience", 1, 100000, patience), IOPT("dev-batch", 1, 4096, dev_batch), IOPT("n-best", 1, 100, n_best), IOPT("algo", 0, 8, rb_algo),
    IOPT("threads", 0, 1024, threads), IOPT("workers", 0, 256, workers), IOPT("bn-recompute", -1, 1000000, bn_recompute),
    LOPT("max-steps", 0, 1L << 40, max_steps),
};
#undef IOPT
#undef LOPT

int sdd_train_check_eval(const sdd_train_config *cfg, int before, const char *spec, sdd_err *e)
{
    const char *eq = strchr(spec, '='), *colon = eq ? strchr(eq + 1, ':') : NULL;
    if (!eq || !colon || eq == spec || eq - spec >= 128 || colon == eq + 1 || !colon[1])
        return sdd_err_set(e, "--eval %s: expected NAME=LIST:DIR", spec);
    for (const char *p = spec; p < eq; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.'))
            return sdd_err_set(e, "--eval %s: the name may hold letters, digits, '_', '-' and '.'", spec);
    if (colon == eq + 2 && eq[1] == '-')
        return sdd_err_set(e, "--eval %s: a list is read from a file, not standard input (the run records its "
                              "path for --resume); ./- for a file named '-'", spec);
    const size_t n = (size_t)(eq - spec);
    for (int k = 0; k < before; k++)
        if (!strncmp(cfg->eval_spec[k], spec, n) && cfg->eval_spec[k][n] == '=')
            return sdd_err_set(e, "--eval %s: the name '%.*s' is given twice (each set writes scores_NAME.txt)", spec, (int)n, spec);
    return 0;
}

int sdd_train_option_is_list(const char *key)
{
    return !strcmp(key, "eval");
}

int sdd_train_option_is_info(const char *key)
{
    return !strcmp(key, "description") || !strcmp(key, "recipe");
}

int sdd_train_option(sdd_train_config *c, const char *key, const char *v, const char *shown, sdd_err *e)
{
    const char **str = !strcmp(key, "train") ? &c->train_list : !strcmp(key, "train-audio") ? &c->train_audio
                     : !strcmp(key, "dev") ? &c->dev_list : !strcmp(key, "dev-audio") ? &c->dev_audio
                     : !strcmp(key, "out") ? &c->out_dir : !strcmp(key, "model") ? &c->arch
                     : !strcmp(key, "init") ? &c->init_model : !strcmp(key, "ssl-weights") ? &c->ssl_weights : NULL;
    if (str) {
        if (!*v) return sdd_err_set(e, "%s: empty value", shown);
        /* sdd_lines_open would read '-' from standard input; a run records its lists for --resume */
        if ((str == &c->train_list || str == &c->dev_list) && !strcmp(v, "-"))
            return sdd_err_set(e, "%s -: a list is read from a file, not standard input (the run records its path "
                                  "for --resume); ./- for a file named '-'", shown);
        if (str == &c->arch) {
            if (!sdd_model_arch_name(v)) return sdd_err_set(e, "%s: unknown model architecture '%s' (known: %s)", shown, v, sdd_model_archs());
            c->arch_given = 1;
        }
        *str = v;
        return 0;
    }
    if (!strcmp(key, "eval")) {
        if (c->neval == SDD_TRAIN_MAX_EVAL) return sdd_err_set(e, "%s: at most %d evaluation sets", shown, SDD_TRAIN_MAX_EVAL);
        if (sdd_train_check_eval(c, c->neval, v, e)) return -1;
        c->eval_spec[c->neval++] = v;
        return 0;
    }
    int k;
    if (!strcmp(key, "paths")) {
        if ((k = choice(v, PATHS, 3)) < 0) return sdd_err_set(e, "%s: '%s' is not orig, aug or dual", shown, v);
        c->step.paths = k;   /* SDD_PATHS_* in this order */
        return 0;
    }
    if (!strcmp(key, "align")) {
        if ((k = sdd_align_parse(v)) < 0) return sdd_err_set(e, "%s: '%s' is not none, pcgrad, gradvac or cagrad", shown, v);
        c->step.align = k;
        return 0;
    }
    if (!strcmp(key, "align-groups")) {
        if ((k = sdd_align_groups_parse(v)) < 0) return sdd_err_set(e, "%s: '%s' is not whole, block or tensor", shown, v);
        c->align_groups = k;
        return 0;
    }
    if (!strcmp(key, "bn-stats")) {
        if ((k = choice(v, BN, 2)) < 0) return sdd_err_set(e, "%s: '%s' is not per-path or joint", shown, v);
        c->step.bn_stats = k ? SDD_BN_JOINT : SDD_BN_PER_PATH;
        return 0;
    }
    if (!strcmp(key, "select")) {
        if ((k = choice(v, SELECT, 2)) < 0) return sdd_err_set(e, "%s: '%s' is not loss or eer", shown, v);
        c->select_eer = k;
        return 0;
    }
    if (!strcmp(key, "crop")) {
        if ((k = choice(v, CROP, 2)) < 0) return sdd_err_set(e, "%s: '%s' is not first or random", shown, v);
        c->crop = k ? SDD_CUT_RANDOM : SDD_CUT_FIRST;
        return 0;
    }
    if (!strcmp(key, "ssl-recompute")) {
        if ((k = choice(v, RECOMPUTE, 3)) < 0) return sdd_err_set(e, "%s: '%s' is not on, off or auto", shown, v);
        c->ssl_recompute = k;
        return 0;
    }
    if (!strcmp(key, "cache")) {
        if ((k = choice(v, CACHE, 2)) < 0) return sdd_err_set(e, "%s: '%s' is not all or none", shown, v);
        c->cache_none = k;
        return 0;
    }
    if (!strcmp(key, "lr-schedule")) {
        if ((k = sdd_lr_schedule_parse(v)) < 0) return sdd_err_set(e, "%s: '%s' is not const or cosine", shown, v);
        c->lr_schedule = k;
        return 0;
    }
    if (!strcmp(key, "ce-weight")) {
        if (!strcmp(v, "balanced")) {
            c->ce_balanced = 1;
            return 0;
        }
        char *end;
        errno = 0;
        double w0 = strtod(v, &end), w1 = *end == ',' ? strtod(end + 1, &end) : -1;
        /* checked as the floats they become */
        const float f0 = (float)w0, f1 = (float)w1;
        if (errno || *end || !(f0 > 0) || !(f1 > 0) || !isfinite(f0) || !isfinite(f1))
            return sdd_err_set(e, "%s: '%s' is not SPOOF,BONAFIDE (two positive numbers)", shown, v);
        c->step.class_weight[0] = (float)w0;
        c->step.class_weight[1] = (float)w1;
        c->ce_balanced = 0;
        return 0;
    }
    for (size_t i = 0; i < sizeof INTS / sizeof INTS[0]; i++) {
        if (strcmp(key, INTS[i].key)) continue;
        long x;
        if (parse_long(v, INTS[i].lo, INTS[i].hi, &x)) return sdd_err_set(e, "%s: '%s' is not an integer in %ld..%ld", shown, v, INTS[i].lo, INTS[i].hi);
        if (INTS[i].is_long) *(long *)((char *)c + INTS[i].off) = x;
        else *(int *)((char *)c + INTS[i].off) = (int)x;
        return 0;
    }
    long x;
    if (!strcmp(key, "cut") || !strcmp(key, "max-samples")) {
        if (parse_long(v, !strcmp(key, "cut"), 1L << 40, &x)) return sdd_err_set(e, "%s: '%s' is not an integer in %d..%ld", shown, v, !strcmp(key, "cut"), 1L << 40);
        *(!strcmp(key, "cut") ? &c->cut : &c->max_samples) = x;
        return 0;
    }
    if (!strcmp(key, "seed")) {
        if (parse_long(v, 0, 0x7fffffffL, &x)) return sdd_err_set(e, "%s: '%s' is not a non-negative integer", shown, v);
        c->seed = (uint64_t)x;
        return 0;
    }
    double *dbl = !strcmp(key, "lr") ? &c->adam.lr : !strcmp(key, "weight-decay") ? &c->adam.weight_decay
                : !strcmp(key, "lr-min") ? &c->lr_min : NULL;
    if (dbl) {
        if (parse_double(v, dbl)) return sdd_err_set(e, "%s: '%s' is not a non-negative number", shown, v);
        return 0;
    }
    if (!strncmp(key, "rb-", 3)) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", key);
        int rb = sdd_rawboost_parse_flag(&c->rb, flag, v, e);
        if (rb < 0) return -1;
        if (rb > 0) return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ JSON output */

static void put_str(sdd_sbuf *b, const char *s)
{
    sdd_sbuf_put(b, "\"");
    for (; s && *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') sdd_sbuf_put(b, "\\%c", ch);
        else if (ch < 0x20) sdd_sbuf_put(b, "\\u%04x", ch);
        else sdd_sbuf_put(b, "%c", ch);
    }
    sdd_sbuf_put(b, "\"");
}

static void key(sdd_sbuf *b, const char *k)
{
    sdd_sbuf_put(b, b->n > 2 ? ",\n  " : "  ");
    put_str(b, k);
    sdd_sbuf_put(b, ": ");
}

/* the shortest %g form that reads back as the same double (or float); -0 as 0 */
static void put_num(sdd_sbuf *b, double v, int is_float)
{
    char t[40];
    if (v == 0) v = 0.0;   /* a -0 (e.g. a RawBoost gain "-0") as 0: JSON readers lose the sign of an integer -0 */
    for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (is_float ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v) break;
    }
    sdd_sbuf_put(b, "%s", t);
}

char *sdd_train_config_json(const sdd_train_config *c, const char *arch, sdd_err *e)
{
    sdd_sbuf b = { malloc(4096), 0, 4096, 0 };
    if (!b.s) { sdd_err_set(e, "config: out of memory"); return NULL; }
    sdd_sbuf_put(&b, "{\n");
    struct { const char *k, *v; } strs[] = {
        { "recipe", c->recipe }, { "train", c->train_list }, { "train-audio", c->train_audio }, { "dev", c->dev_list },
        { "dev-audio", c->dev_audio }, { "model", arch }, { "init", c->init_model }, { "ssl-weights", c->ssl_weights },
        { "paths", PATHS[c->step.paths] }, { "align", sdd_align_name(c->step.align) },
        { "align-groups", sdd_align_groups_name(c->align_groups) },
        { "bn-stats", BN[c->step.bn_stats == SDD_BN_JOINT] }, { "select", SELECT[c->select_eer != 0] },
        { "crop", CROP[c->crop == SDD_CUT_RANDOM] }, { "lr-schedule", sdd_lr_schedule_name(c->lr_schedule) },
        { "ssl-recompute", RECOMPUTE[c->ssl_recompute] }, { "cache", CACHE[c->cache_none != 0] },
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (!strs[i].v) continue;   /* unset paths and no recipe: left out */
        key(&b, strs[i].k);
        put_str(&b, strs[i].v);
    }
    if (c->neval) {
        key(&b, "eval");
        sdd_sbuf_put(&b, "[");
        for (int k = 0; k < c->neval; k++) {
            if (k) sdd_sbuf_put(&b, ", ");
            put_str(&b, c->eval_spec[k]);
        }
        sdd_sbuf_put(&b, "]");
    }
    for (size_t i = 0; i < sizeof INTS / sizeof INTS[0]; i++) {
        key(&b, INTS[i].key);
        sdd_sbuf_put(&b, "%ld", INTS[i].is_long ? *(const long *)((const char *)c + INTS[i].off) : (long)*(const int *)((const char *)c + INTS[i].off));
    }
    key(&b, "cut"); sdd_sbuf_put(&b, "%lld", (long long)c->cut);
    key(&b, "max-samples"); sdd_sbuf_put(&b, "%lld", (long long)c->max_samples);
    key(&b, "seed"); sdd_sbuf_put(&b, "%llu", (unsigned long long)c->seed);
    key(&b, "lr"); put_num(&b, c->adam.lr, 0);
    key(&b, "lr-min"); put_num(&b, c->lr_min, 0);
    key(&b, "weight-decay"); put_num(&b, c->adam.weight_decay, 0);
    key(&b, "ce-weight");
    if (c->ce_balanced) {
        sdd_sbuf_put(&b, "\"balanced\"");
    } else {
        sdd_sbuf_put(&b, "[");
        put_num(&b, c->step.class_weight[0], 1);
        sdd_sbuf_put(&b, ", ");
        put_num(&b, c->step.class_weight[1], 1);
        sdd_sbuf_put(&b, "]");
    }
    const sdd_rawboost_params *r = &c->rb;
    const struct { const char *k; double v; int is_int; } rb[] = {
        { "rb-nbands", r->nBands, 1 }, { "rb-minf", r->minF, 0 }, { "rb-maxf", r->maxF, 0 }, { "rb-minbw", r->minBW, 0 },
        { "rb-maxbw", r->maxBW, 0 }, { "rb-mincoeff", r->minCoeff, 1 }, { "rb-maxcoeff", r->maxCoeff, 1 },
        { "rb-ming", r->minG, 0 }, { "rb-maxg", r->maxG, 0 }, { "rb-minbias", r->minBiasLinNonLin, 0 },
        { "rb-maxbias", r->maxBiasLinNonLin, 0 }, { "rb-nf", r->N_f, 1 }, { "rb-p", r->P, 0 }, { "rb-gsd", r->g_sd, 0 },
        { "rb-snr-min", r->SNRmin, 0 }, { "rb-snr-max", r->SNRmax, 0 },
    };
    for (size_t i = 0; i < sizeof rb / sizeof rb[0]; i++) {
        key(&b, rb[i].k);
        if (rb[i].is_int) sdd_sbuf_put(&b, "%d", (int)rb[i].v);
        else put_num(&b, rb[i].v, 0);
    }
    sdd_sbuf_put(&b, "\n}\n");
    if (b.fail) { free(b.s); sdd_err_set(e, "config: out of memory"); return NULL; }
    return b.s;
}
