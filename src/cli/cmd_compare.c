/* `sdd compare`: is system A better than system B on an evaluation set, given
 * several training runs of each (seeds)? Every run's CM score file is joined
 * with the key (sdd_eval_run), the runs are paired in the order given (A's
 * first run with B's first, ...), every run must score the same trials, and
 * src/metrics/bootstrap.c's sdd_boot_runs gives the mean difference of the
 * EER and the minDCF (and, with the ASV side, the min t-DCF) with intervals
 * and p-values, once with the run pairs
 * and the trials resampled and once with the trials only. Text on stdout,
 * optional JSON report written atomically ('-': stdout, the text then goes
 * to stderr). Exit status 0, 1 (one line "sdd: FILE[:LINE]: reason"), 2. */
#include "cli/cli.h"
#include "metrics/evaluate.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd compare --key KEY --a A1.txt [A2.txt ...] --b B1.txt [B2.txt ...] [options]\n"
            "Is system A better than system B on this evaluation set? Each file is one training run's CM\n"
            "scores ('ID SCORE' as sdd score and sdd train --eval write them, or any score file sdd eval\n"
            "reads), joined with KEY like sdd eval does. Runs are paired in the order given (the same\n"
            "training seed, say: A1 with B1, ...); every run must score the same trials. The statistic\n"
            "is the mean over the pairs of EER(A) - EER(B) (and of the minDCF difference), with two\n"
            "intervals and two-sided p-values from one bootstrap: runs and trials resampled (each\n"
            "replicate draws the pairs with replacement and, as sdd eval --ci does, the bona fide and\n"
            "spoof trials: the seed-to-seed variation of training and the evaluation set's luck\n"
            "together), and trials only (these runs as they are). With one pair, both are the\n"
            "trials-only bootstrap.\n"
            "  --key FILE      labels: any key sdd eval reads (ASVspoof 2019/2021/5, In-the-Wild, FoR,\n"
            "                  'ID LABEL'); not needed for ASVspoof 2019 'UTT SRC KEY SCORE' files\n"
            "  --subset NAME   the key's subset, 'all' for every trial (default: eval where the key\n"
            "                  has a subset column)\n"
            "  --a FILE...     system A's runs, one score file each (up to %d)\n"
            "  --b FILE...     system B's runs, as many as A's\n"
            "  --asv-scores FILE, --asv-key FILE, --asv-c012 FILE, --asv-rates asvspoof5, --tdcf 2019|2021\n"
            "                  the min t-DCF too, with the ASV side as sdd eval takes it (the same for\n"
            "                  every run: only the CM trials are resampled) (default: no t-DCF)\n"
            "  --breakdown W   where the key names attacks or conditions: each one's mean difference,\n"
            "                  interval and p (also adjusted by Holm's method over the attacks or the\n"
            "                  conditions): attack, condition, both or none (default: both)\n"
            "  --ci N          bootstrap replicates (default 1000)\n"
            "  --ci-level P    coverage of the intervals, 0 < P < 1 (default 0.95)\n"
            "  --ci-seed S     seed of the draws, 0..2^63-1; the result does not depend on the\n"
            "                  thread count (default 0)\n"
            "  -o FILE         write a JSON report (every number at full precision), atomically;\n"
            "                  '-' writes it to standard output and the text to stderr\n"
            "                  (default: not written)\n"
            "  -h, --help      this text\n"
            "--a and --b take every following argument up to the next option (./-x for a file\n"
            "named -x).\n",
            SDD_BOOT_MAX_RUNS);
}

typedef struct {
    const char *file[SDD_BOOT_MAX_RUNS];
    int n;
} runlist;

/* the arguments after --a / --b up to the next option */
static int take_files(int argc, char **argv, int *i, runlist *l, const char *opt)
{
    const int before = l->n;
    while (*i + 1 < argc && !(argv[*i + 1][0] == '-' && argv[*i + 1][1])) {
        if (l->n == SDD_BOOT_MAX_RUNS) return cli_usage_error("compare", "%s: more than %d runs", opt, SDD_BOOT_MAX_RUNS);
        l->file[l->n++] = argv[++*i];
    }
    if (l->n == before) return cli_usage_error("compare", "%s needs one or more score files", opt);
    return 0;
}

static void print_text(const sdd_boot_runs_result *r, const runlist *A, const runlist *B, int tdcf, FILE *f)
{
    fprintf(f, "trials     %lld (%lld bona fide, %lld spoof), %d run pair%s (paired in the order given)\n",
            (long long)(r->n_bona + r->n_spoof), (long long)r->n_bona, (long long)r->n_spoof, r->runs,
            r->runs == 1 ? "" : "s");
    for (int side = 0; side < 2; side++) {
        const runlist *L = side ? B : A;
        const double *mean = side ? r->mean_b : r->mean_a;
        fprintf(f, "%s          mean EER %.4f %%, minDCF %.4f", side ? "B" : "A", 100.0 * mean[SDD_BOOT_EER],
                mean[SDD_BOOT_MINDCF]);
        if (tdcf) fprintf(f, ", min t-DCF %.4f", mean[SDD_BOOT_TDCF]);
        fputc('\n', f);
        for (int s = 0; s < r->runs; s++) {
            const double *v = side ? r->b[s] : r->a[s];
            fprintf(f, "  run %-3d  EER %8.4f %%  minDCF %.4f  ", s + 1, 100.0 * v[SDD_BOOT_EER], v[SDD_BOOT_MINDCF]);
            if (tdcf) fprintf(f, "min t-DCF %.4f  ", v[SDD_BOOT_TDCF]);
            fprintf(f, "%s\n", L->file[s]);
        }
    }
    fprintf(f, "A - B      mean over the pairs; %d bootstrap replicates (seed %llu), %g%% percentile intervals, "
               "two-sided p\n",
            r->reps, (unsigned long long)r->seed, 100.0 * r->level);
    static const char *const label[SDD_BOOT_NMETRIC] = { "EER", "minDCF", "min t-DCF" };
    for (int m = 0; m < (tdcf ? SDD_BOOT_NMETRIC : 2); m++) {
        if (!r->has[m]) {
            fprintf(f, "  %-7s  -  (undefined in a replicate)\n", label[m]);
            continue;
        }
        const double k = m == SDD_BOOT_EER ? 100.0 : 1.0;
        char p1[32], p2[32];
        sdd_boot_p_text(r->p[m], r->reps, p1, sizeof p1);
        sdd_boot_p_text(r->p_t[m], r->reps, p2, sizeof p2);
        fprintf(f, "  %-7s  %+.4f%s\n", label[m], k * r->diff[m], m == SDD_BOOT_EER ? " points" : "");
        fprintf(f, "    runs and trials resampled:  CI %+.4f .. %+.4f, %s\n", k * r->lo[m], k * r->hi[m], p1);
        fprintf(f, "    trials only:                CI %+.4f .. %+.4f, %s\n", k * r->lo_t[m], k * r->hi_t[m], p2);
    }
}

static void print_list(const sdd_eval_report *rep, const sdd_boot_runs_list *l, int kind, int tdcf, FILE *f)
{
    const char *what = sdd_eval_factor_what(kind);
    char b[128], line[512];
    int w0 = kind == SDD_FACTOR_CONDITION ? 18 : 10, reps = 0, tested = 0;   /* tested: Holm's count, the named entries with an EER p */
    for (int i = 0; i < l->n; i++) {
        tested += i < l->n - 1 && l->r[i].has[SDD_BOOT_EER];
        const int w = (int)strlen(sdd_eval_factor_entry(rep, kind, i, 1, b, sizeof b));
        if (w > w0) w0 = w;
        if (l->r[i].reps) reps = l->r[i].reps;
    }
    fprintf(f, "\nper %s: A - B, mean over the pairs, runs and trials resampled; p per %s, Holm-adjusted over the "
               "%d %ss, and with the trials only\n", what, what, tested, what);
    int at = snprintf(line, sizeof line, "%-*s", w0, what);
    static const char *const head[SDD_BOOT_NMETRIC] = { "EER (points)", "minDCF", "min t-DCF" };
    const int M = tdcf ? SDD_BOOT_NMETRIC : 2;
    for (int m = 0; m < M; m++)
        at += snprintf(line + at, sizeof line - (size_t)at, "  %-30s %7s %7s %7s", head[m], "p", "Holm p", "trials");
    fprintf(f, "%s\n", line);
    for (int i = 0; i < l->n; i++) {
        const sdd_boot_runs_result *x = &l->r[i];
        at = snprintf(line, sizeof line, "%-*s", w0, sdd_eval_factor_entry(rep, kind, i, 1, b, sizeof b));
        for (int m = 0; m < M; m++) {
            if (!x->has[m]) {
                at += snprintf(line + at, sizeof line - (size_t)at, "  %-30s %7s %7s %7s", "-", "-", "-", "-");
                continue;
            }
            const double k = m == SDD_BOOT_EER ? 100.0 : 1.0, h = l->holm[(size_t)i * SDD_BOOT_NMETRIC + m];
            char s[96], p1[32], p2[32], ph[32];
            snprintf(s, sizeof s, "%+.4f (%+.4f .. %+.4f)", k * x->diff[m], k * x->lo[m], k * x->hi[m]);
            sdd_boot_p_cell(x->p[m], reps, p1, sizeof p1);
            sdd_boot_p_cell(x->p_t[m], reps, p2, sizeof p2);
            sdd_boot_p_cell(h, i == l->n - 1 ? reps : 0, ph, sizeof ph);   /* pooled: its own p */
            at += snprintf(line + at, sizeof line - (size_t)at, "  %-30s %7s %7s %7s", s, p1, ph, p2);
        }
        while (at > 0 && line[at - 1] == ' ') line[--at] = '\0';
        fprintf(f, "%s\n", line);
    }
}

static json_t *diff_json(const sdd_boot_runs_result *r, int m)
{
    json_t *x = json_object();
    json_object_set_new(x, "mean_a", json_real(r->mean_a[m]));
    json_object_set_new(x, "mean_b", json_real(r->mean_b[m]));
    json_object_set_new(x, "diff", json_real(r->diff[m]));
    json_object_set_new(x, "lo", json_real(r->lo[m]));
    json_object_set_new(x, "hi", json_real(r->hi[m]));
    json_object_set_new(x, "p", json_real(r->p[m]));
    json_object_set_new(x, "trials_only_lo", json_real(r->lo_t[m]));
    json_object_set_new(x, "trials_only_hi", json_real(r->hi_t[m]));
    json_object_set_new(x, "trials_only_p", json_real(r->p_t[m]));
    return x;
}

static const char *const key_of[SDD_BOOT_NMETRIC] = { "eer", "min_dcf", "min_tdcf" };

static json_t *list_json(const sdd_eval_report *rep, const sdd_boot_runs_list *l, int kind, int M)
{
    json_t *a = json_array();
    for (int i = 0; i < l->n; i++) {
        const sdd_boot_runs_result *x = &l->r[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(sdd_eval_factor_entry(rep, kind, i, 0, NULL, 0)));
        json_object_set_new(o, "bonafide", json_integer(x->n_bona));
        json_object_set_new(o, "spoof", json_integer(x->n_spoof));
        for (int m = 0; m < M; m++) {
            if (!x->has[m]) { json_object_set_new(o, key_of[m], json_null()); continue; }
            json_t *d = diff_json(x, m);
            json_object_set_new(d, "holm_p", json_real(l->holm[(size_t)i * SDD_BOOT_NMETRIC + m]));
            json_object_set_new(o, key_of[m], d);
        }
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *report_json(const sdd_boot_runs_result *r, const runlist *A, const runlist *B, const char *key, int M)
{
    json_t *j = json_object();
    if (!j) return NULL;
    json_object_set_new(j, "key", key ? json_string(key) : json_null());
    json_object_set_new(j, "bonafide", json_integer(r->n_bona));
    json_object_set_new(j, "spoof", json_integer(r->n_spoof));
    json_object_set_new(j, "replicates", json_integer(r->reps));
    json_object_set_new(j, "level", json_real(r->level));
    json_object_set_new(j, "seed", json_integer((json_int_t)(r->seed & 0x7fffffffffffffffULL)));
    for (int side = 0; side < 2; side++) {
        const runlist *L = side ? B : A;
        json_t *runs = json_array();
        for (int s = 0; s < r->runs; s++) {
            json_t *x = json_object();
            json_object_set_new(x, "scores", json_string(L->file[s]));
            for (int m = 0; m < M; m++) {
                const double v = (side ? r->b[s] : r->a[s])[m];
                json_object_set_new(x, key_of[m], isfinite(v) ? json_real(v) : json_null());
            }
            json_array_append_new(runs, x);
        }
        json_object_set_new(j, side ? "b" : "a", runs);
    }
    json_t *d = json_object();
    for (int m = 0; m < M; m++) {
        json_object_set_new(d, key_of[m], r->has[m] ? diff_json(r, m) : json_null());
    }
    json_object_set_new(j, "difference", d);
    return j;
}

/* the JSON report, for cli_write_output */
typedef struct {
    const sdd_boot_runs_result *r;
    const runlist *A, *B;
    const char *key;
    const sdd_eval_report *rep;
    const sdd_boot_runs_list *lists;   /* SDD_FACTOR_N: attacks, conditions, vocoder types */
    int metrics;   /* 2, or 3 with the min t-DCF */
} compare_output;

static int write_json(FILE *f, void *ctx, sdd_err *e)
{
    const compare_output *x = ctx;
    json_t *j = report_json(x->r, x->A, x->B, x->key, x->metrics);
    if (!j) return sdd_err_set(e, "out of memory");
    static const char *const key[SDD_FACTOR_N] = { "per_attack", "per_condition", "per_vocoder" };
    for (int k = 0; k < SDD_FACTOR_N; k++)
        json_object_set_new(j, key[k], x->lists[k].n ? list_json(x->rep, &x->lists[k], k, x->metrics) : json_null());
    const int bad = json_dumpf(j, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_ENSURE_ASCII) || fputc('\n', f) == EOF;
    json_decref(j);
    return bad ? sdd_err_set(e, "cannot write the JSON report") : 0;
}

int cmd_compare(int argc, char **argv)
{
    runlist A = { { 0 }, 0 }, B = { { 0 }, 0 };
    const char *key = NULL, *subset = NULL, *out = NULL, *v;
    sdd_boot_params bp = { .reps = 1000, .level = 0.95, .seed = 0 };
    int breakdown = SDD_BREAKDOWN_BOTH;
    sdd_eval_opts asv = { 0 };   /* the ASV side of the t-DCF (cli_parse_asv) */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
#define NEED(var, what) do { if (!((var) = cli_value(argc, argv, &i))) return cli_usage_error("compare", "%s needs %s", a, what); } while (0)
        if (!strcmp(a, "--a") || !strcmp(a, "--b")) {
            if (take_files(argc, argv, &i, a[2] == 'a' ? &A : &B, a)) return SDD_EXIT_USAGE;
        } else if (!strcmp(a, "--key")) NEED(key, "a file");
        else if (!strcmp(a, "--subset")) NEED(subset, "a subset name");
        else if (!strcmp(a, "-o")) NEED(out, "a file");
        else if (cli_asv_option(a)) {
            NEED(v, cli_asv_option(a));
            if (cli_parse_asv("compare", a, v, &asv)) return SDD_EXIT_USAGE;
        }
        else if (!strcmp(a, "--breakdown")) {
            NEED(v, "attack, condition, both or none");
            if ((breakdown = strcmp(v, "none") ? sdd_breakdown_parse(v) : 0) < 0)
                return cli_usage_error("compare", "--breakdown: '%s' is not attack, condition, both or none", v);
        }
        else if (!strcmp(a, "--ci") || !strcmp(a, "--ci-level") || !strcmp(a, "--ci-seed")) {
            NEED(v, !strcmp(a, "--ci") ? "a replicate count" : !strcmp(a, "--ci-level") ? "a coverage" : "a seed");
            if (cli_parse_boot("compare", a, v, &bp)) return SDD_EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) return cli_usage_error("compare", "unknown option %s", a);
        else return cli_usage_error("compare", "unexpected argument '%s'", a);
#undef NEED
    }
    if (!A.n || !B.n) return cli_usage_error("compare", "needs the runs of both systems (--a FILE... --b FILE...)");
    if (A.n != B.n)
        return cli_usage_error("compare", "--a has %d runs and --b %d: runs are compared in pairs", A.n, B.n);
    if (cli_check_asv("compare", &asv)) return SDD_EXIT_USAGE;
    /* no input is replaced by the report; standard input is for no input here
     * (each file is read once per run, and a key twice would need it twice) */
    cli_file ins[2 * SDD_BOOT_MAX_RUNS + 4];
    int nin = 0;
    ins[nin++] = (cli_file){ "--key", key };
    ins[nin++] = (cli_file){ "--asv-scores", asv.asv_scores };
    ins[nin++] = (cli_file){ "--asv-key", asv.asv_key };
    ins[nin++] = (cli_file){ "--asv-c012", asv.asv_c012 };
    for (int s = 0; s < A.n; s++) ins[nin++] = (cli_file){ "--a", A.file[s] };
    for (int s = 0; s < B.n; s++) ins[nin++] = (cli_file){ "--b", B.file[s] };
    for (int k = 0; k < nin; k++)
        if (cli_refuse_stdin("compare", ins[k].opt, ins[k].path, "a file read once per run")) return SDD_EXIT_USAGE;
    const cli_file outs[1] = { { "-o", cli_is_dash(out) ? NULL : out } };
    if (cli_check_outputs("compare", outs, 1, ins, nin)) return SDD_EXIT_USAGE;

    sdd_eval_report *rep = malloc(2 * (size_t)A.n * sizeof *rep);
    if (!rep) { cli_error("out of memory"); return SDD_EXIT_ERROR; }
    int nrep = 0, status = SDD_EXIT_OK;
    sdd_err e;
    const sdd_sorted *sa[SDD_BOOT_MAX_RUNS], *sb[SDD_BOOT_MAX_RUNS];
    int64_t *map[2 * SDD_BOOT_MAX_RUNS] = { 0 };
    const int64_t *ma[SDD_BOOT_MAX_RUNS], *mb[SDD_BOOT_MAX_RUNS];
    for (int k = 0; k < 2 * A.n && status == SDD_EXIT_OK; k++) {
        sdd_eval_opts o = asv;
        o.scores = k < A.n ? A.file[k] : B.file[k - A.n];
        o.keep_trial_ids = 1;
        o.keep_breakdown = k == 0 && breakdown;   /* the lists follow the first run's table */
        o.key = key;
        o.subset = subset;
        if (sdd_eval_run(&o, &rep[k], &e)) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; break; }
        nrep++;
        for (int w = 0; w < rep[k].nwarn; w++) fprintf(stderr, "sdd: warning: %s\n", rep[k].warnings[w]);
        /* every run's trials matched to the first run's */
        const sdd_sorted *ref = &rep[0].cm, *x = &rep[k].cm;
        int64_t *b_of_a = malloc((size_t)(ref->n ? ref->n : 1) * sizeof *b_of_a), ua = 0, ub = 0;
        map[k] = b_of_a;
        if (!b_of_a) { cli_error("out of memory"); status = SDD_EXIT_ERROR; break; }
        if (sdd_boot_pair(ref, (const char *const *)rep[0].trial_id, x, (const char *const *)rep[k].trial_id, b_of_a, &ua,
                          &ub, &e)) {
            cli_error("%s: %s", o.scores, e.msg);
            status = SDD_EXIT_ERROR;
        } else if (ua || ub) {
            cli_error("%s: %lld of the %lld trials of %s have no score here and %lld of its trials none there: every run "
                      "must score the same trials", o.scores, (long long)ua, (long long)ref->n, A.file[0], (long long)ub);
            status = SDD_EXIT_ERROR;
        }
        if (k < A.n) { sa[k] = x; ma[k] = b_of_a; }
        else { sb[k - A.n] = x; mb[k - A.n] = b_of_a; }
    }
    sdd_boot_runs_result r;
    sdd_dcf_cost dc;
    sdd_dcf_cost_asvspoof5(&dc);
    bp.dcf = &dc;
    /* the min t-DCF with the first run's coefficients (the ASV system is every run's) */
    const int tdcf = status == SDD_EXIT_OK && rep[0].has_tdcf && !isnan(rep[0].tdcf.min_tdcf);
    bp.tdcf = tdcf ? &rep[0].coef : NULL;
    if (status == SDD_EXIT_OK && (asv.asv_scores || asv.asv_c012 || asv.asv5_rates) && !tdcf)
        fprintf(stderr, "sdd: warning: no min t-DCF for %s (see the warning above): EER and minDCF only\n", A.file[0]);
    if (status == SDD_EXIT_OK && sdd_boot_runs(sa, sb, A.n, ma, mb, &bp, &r, &e)) {
        cli_error("%s", e.msg);
        status = SDD_EXIT_ERROR;
    }
    /* the lists: attacks (with, for 2021 DF keys, the vocoder types) and conditions, as --breakdown asks */
    sdd_boot_runs_list lists[SDD_FACTOR_N] = { { 0 } };
    const int want[SDD_FACTOR_N] = { breakdown & SDD_BREAKDOWN_ATTACK, breakdown & SDD_BREAKDOWN_CONDITION,
                                     breakdown & SDD_BREAKDOWN_ATTACK };
    for (int k = 0; k < SDD_FACTOR_N && status == SDD_EXIT_OK; k++)
        if (want[k] && sdd_compare_list(&rep[0], k, sa, sb, A.n, ma, mb, &bp, &lists[k], &e)) {
            cli_error("%s", e.msg);
            status = SDD_EXIT_ERROR;
        }
    if (status == SDD_EXIT_OK) {
        FILE *tf = cli_is_dash(out) ? stderr : stdout;
        print_text(&r, &A, &B, tdcf, tf);
        for (int k = 0; k < SDD_FACTOR_N; k++)
            if (lists[k].n) print_list(&rep[0], &lists[k], k, tdcf, tf);
        cli_flush_stdout();
        compare_output co = { &r, &A, &B, key, &rep[0], lists, tdcf ? SDD_BOOT_NMETRIC : 2 };
        if (out) status = cli_write_output(out, write_json, &co);
    }
    for (int k = 0; k < SDD_FACTOR_N; k++) sdd_boot_runs_list_free(&lists[k]);
    for (int k = 0; k < 2 * A.n; k++) free(map[k]);
    for (int k = 0; k < nrep; k++) sdd_eval_report_free(&rep[k]);
    free(rep);
    return status;
}
