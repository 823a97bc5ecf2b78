/* `sdd eval`: scores + key in; EER, min t-DCF (with ASV scores), Cllr and the
 * per-attack / per-condition table out, as the official ASVspoof tools
 * compute them (src/metrics). Optional JSON report and DET curve (SVG image
 * or TSV), both written atomically; either one (not both) may go to standard
 * output ('-': the report's JSON, the DET's TSV), and the table then goes to
 * stderr, so that stdout carries one thing. Exit status 0, 1 (one line
 * "sdd: FILE[:LINE]: reason"), 2 (usage). */
#include "cli/cli.h"
#include "io/readall.h"
#include "metrics/evaluate.h"
#include "metrics/calibration.h"
#include "metrics/scores.h"
#include "core/str.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd eval --scores FILE --key KEYFILE [options]\n"
            "Computes EER, min t-DCF, Cllr, the ASVspoof 5 minDCF / actDCF / a-DCF and per-attack /\n"
            "per-condition tables exactly as the official ASVspoof tools (2021 eval-package,\n"
            "clovaai/aasist, ASVspoof 5 evaluation package): scores joined with the key by trial ID:\n"
            "the exact ID, else its base name (score IDs may be paths: wav/LA_E_1.flac, /data/itw/0.wav),\n"
            "else its base name without extension (LA_E_1); an ambiguous match is an error naming both\n"
            "sides, and the summary says how many trials each rule matched. One of the score, key\n"
            "and SASV files may be '-', standard input (sdd score ... | sdd eval --scores - ...;\n"
            "./- for a file named '-').\n"
            "  --scores FILE      CM scores: 'ID SCORE [EXTRA...]' (sdd score output; ASVspoof 2021\n"
            "                     'trial score') or 'UTT SRC KEY SCORE' (ASVspoof 2019 CM score file);\n"
            "                     higher = more likely bona fide\n"
            "  --key FILE         labels: ASVspoof 2019 protocol, 2021 LA/DF key (trial_metadata.txt),\n"
            "                     ASVspoof 5 protocol, In-the-Wild meta.csv, FoR csv, or 'ID LABEL'\n"
            "                     (default: none, allowed only for 'UTT SRC KEY SCORE' files)\n"
            "  --subset NAME      keep the key's trials of this subset, 'all' for every trial\n"
            "                     (default: eval when the key has a subset column, as 2021 keys do)\n"
            "  --allow-missing    skip key trials that have no score, with a warning (default: such\n"
            "                     trials are an error listing how many and the first few)\n"
            "  --asv-scores FILE  ASV scores for the min t-DCF: '... KEY SCORE' lines with KEY\n"
            "                     target|nontarget|spoof (ASVspoof 2019), or 2021 'SPK TRIAL SCORE'\n"
            "                     lines with --asv-key (default: none, no t-DCF)\n"
            "  --asv-key FILE     ASVspoof 2021 ASV key (spk trial codec trans attack label trim subset),\n"
            "                     paired line by line with --asv-scores; gives the per-attack and\n"
            "                     per-codec min t-DCF of the 2021 tables (default: none)\n"
            "  --asv-c012 FILE    the 2021 eval-package's precomputed t-DCF coefficients instead of ASV\n"
            "                     scores (keys/LA/LA-C012-eval.npy, or a file its --recompute-c012 wrote):\n"
            "                     2021-form min t-DCF with C012['Pooled']['Pooled'], and per attack x codec\n"
            "                     with C012[attack][codec], as the package's main.py (default: none)\n"
            "  --asv-rates asvspoof5  without ASV scores: min t-DCF from the ASVspoof 5 organisers'\n"
            "                     pooled ASV error rates (Pfa 0.0188, Pmiss 0.0188, Pfa_spoof 0.4607),\n"
            "                     as the official evaluation package does (default: no t-DCF)\n"
            "  --tdcf 2019|2021   t-DCF form: 2019 legacy (ASVspoof 2019, clovaai) or 2021\n"
            "                     (eval-package) normalisation (default: 2021 for 2021 and ASVspoof 5 keys, else 2019)\n"
            "  --breakdown WHAT   tables to print: attack (per attack, conditions pooled), condition\n"
            "                     (per condition/codec, attacks pooled) or both (attack x condition)\n"
            "                     (default: both, where the key has them; the JSON report always\n"
            "                     holds every table)\n"
            "  --det FILE         write the DET curve: FILE.svg an SVG image (probit axes 0.1..50 %%,\n"
            "                     the EER point marked); any other name (FILE.tsv) a TSV: threshold,\n"
            "                     far, frr, probit_far, probit_frr; '-' the TSV on standard output\n"
            "                     (default: not written)\n"
            "  --calibration FILE apply a calibration from 'sdd calibrate' to the CM scores first, so\n"
            "                     Cllr and actDCF judge calibrated LLRs (default: scores as given)\n"
            "  --sasv-scores FILE SASV scores for the a-DCF (ASVspoof 5 track 2): 'SPK FILE SCORE',\n"
            "                     the official 'spk filename cm-score asv-score sasv-score' file, or\n"
            "                     labelled 'SPK FILE SCORE target|nontarget|spoof'; without --scores\n"
            "                     only the a-DCF is computed (default: none)\n"
            "  --sasv-sum         SASV score = CM + ASV score of the official file (score-sum fusion,\n"
            "                     the SASV 2022 baseline; best with calibrated LLRs) (default: the\n"
            "                     sasv-score column)\n"
            "  --sasv-key FILE    their key: ASVspoof5.*.track_2.trial.tsv or the official\n"
            "                     'spk filename cm-label asv-label' key (per-attack a-DCF from the former)\n"
            "  --ci N             bootstrap confidence intervals of the EER, minDCF and (with ASV scores,\n"
            "                     C012 or --asv-rates; the ASV side held fixed) min t-DCF from N replicates\n"
            "                     (1000 is usual): bona fide and spoof trials each drawn with replacement,\n"
            "                     as many as there are; percentile intervals (numpy's linear quantiles).\n"
            "                     They show the evaluation set's sampling luck, not a training seed's.\n"
            "                     With attacks or conditions in the key, each one's interval too (its\n"
            "                     trials resampled on their own; --breakdown picks the lists)\n"
            "                     (default: none)\n"
            "  --ci-level P       coverage of the interval, 0 < P < 1 (default 0.95)\n"
            "  --ci-seed S        seed of the replicates' draws, 0..2^63-1; the result does not depend\n"
            "                     on the thread count (default 0)\n"
            "  --compare FILE     a second system's CM scores on the same trials (joined with the same\n"
            "                     key): its values, and the paired bootstrap of each difference (this -\n"
            "                     FILE): interval and two-sided p-value, also per attack and condition\n"
            "                     with p adjusted by Holm's method over them; --ci's replicates, 1000\n"
            "                     without --ci. Trials only one system scored are an error (--allow-missing:\n"
            "                     left out) (default: none)\n"
            "  -o FILE            write a JSON report with every number at full precision; '-' writes\n"
            "                     it to standard output (default: not written)\n"
            "  -h, --help         this text\n"
            "With -o - or --det - (one of them; ./- for a file named '-'), the table goes to stderr\n"
            "and standard output holds only that output: sdd eval ... -o - | jq .eer\n");
}

/* After sdd_eval_run failed with a calibration: when it is because the
 * calibration makes a score a non-finite LLR (a weight of 1e308), prints that
 * error naming the file, line and trial, and returns 1; else 0 (the run's own
 * error stands). The score file is read again only on this failure path, so a
 * successful evaluation reads it once. */
static int calibration_overflows(const char *scores, const char *calfile, const sdd_calibration *cal)
{
    sdd_scores sc;
    sdd_err e;
    int found = 0;
    if (cal->k != 1 || sdd_scores_load(scores, &sc, &e)) return 0;
    for (int64_t j = 0; j < sc.n && !found; j++)
        if (!isfinite(sdd_calibration_apply(cal, &sc.score[j]))) {
            cli_error("%s:%d: calibration %s makes the score of trial %s (%.9g) a non-finite LLR", sdd_input_name(scores), sc.line[j],
                      calfile, sc.id[j], sc.score[j]);
            found = 1;
        }
    sdd_scores_free(&sc);
    return found;
}

/* --ci / --compare: the second system evaluated with the same key and
 * subset (no ASV, SASV or calibration: the EER is all it needs), then the
 * bootstrap into r. 0, or 1 after printing the error. */
static int eval_bootstrap(const sdd_eval_opts *o, sdd_eval_report *r, const char *compare, const sdd_boot_params *bp)
{
    sdd_err e;
    sdd_eval_report rb;
    int have_b = 0;
    if (compare) {
        sdd_eval_opts ob = { 0 };
        ob.scores = compare;
        ob.keep_trial_ids = 1;
        ob.key = o->key;
        ob.subset = o->subset;
        ob.allow_missing = o->allow_missing;
        if (sdd_eval_run(&ob, &rb, &e)) { cli_error("--compare: %s", e.msg); return 1; }
        have_b = 1;
        for (int i = 0; i < rb.nwarn; i++) fprintf(stderr, "sdd: warning: --compare: %s\n", rb.warnings[i]);
    }
    int rc = 0;
    if (sdd_eval_bootstrap(r, have_b ? &rb : NULL, compare ? sdd_input_name(compare) : NULL, bp, o->allow_missing, &e)) {
        cli_error("%s", e.msg);
        rc = 1;
    } else if (r->boot.unpaired_a || r->boot.unpaired_b) {
        fprintf(stderr, "sdd: warning: --compare: %lld trials scored only by %s and %lld only by %s left out of the "
                "comparison\n", (long long)r->boot.unpaired_a, sdd_input_name(o->scores), (long long)r->boot.unpaired_b,
                sdd_input_name(compare));
    }
    if (have_b) sdd_eval_report_free(&rb);
    return rc;
}

/* the two outputs, for cli_write_output */
typedef struct {
    const sdd_eval_report *r;
    const sdd_eval_opts *o;
    const char *det;
} eval_output;

static int write_report(FILE *f, void *ctx, sdd_err *e)
{
    const eval_output *x = ctx;
    return sdd_eval_write_json(x->r, x->o, f, e);
}

static int write_det(FILE *f, void *ctx, sdd_err *e)
{
    const eval_output *x = ctx;
    return sdd_str_ends_with_nocase(x->det, ".svg") ? sdd_eval_write_det_svg(x->r, x->o->scores, f, e)
                                                    : sdd_eval_write_det(x->r, f, e);
}

int cmd_eval(int argc, char **argv)
{
    sdd_eval_opts o = { 0 };
    const char *det = NULL, *out = NULL, *calfile = NULL, *compare = NULL, *v;
    sdd_boot_params bp = { .reps = 0, .level = 0.95, .seed = 0 };
    int level_set = 0, seed_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
#define NEED(var, what) do { if (!((var) = cli_value(argc, argv, &i))) return cli_usage_error("eval", "%s needs %s", a, what); } while (0)
        if (!strcmp(a, "--scores")) NEED(o.scores, "a file");
        else if (!strcmp(a, "--key")) NEED(o.key, "a file");
        else if (cli_asv_option(a)) {
            NEED(v, cli_asv_option(a));
            if (cli_parse_asv("eval", a, v, &o)) return SDD_EXIT_USAGE;
        }
        else if (!strcmp(a, "--subset")) NEED(o.subset, "a subset name");
        else if (!strcmp(a, "--det")) NEED(det, "a file");
        else if (!strcmp(a, "--calibration")) NEED(calfile, "a calibration file");
        else if (!strcmp(a, "--sasv-scores")) NEED(o.sasv_scores, "a file");
        else if (!strcmp(a, "--sasv-key")) NEED(o.sasv_key, "a file");
        else if (!strcmp(a, "--sasv-sum")) o.sasv_sum = 1;
        else if (!strcmp(a, "-o")) NEED(out, "a file");
        else if (!strcmp(a, "--allow-missing")) o.allow_missing = 1;
        else if (!strcmp(a, "--compare")) NEED(compare, "a score file");
        else if (!strcmp(a, "--ci") || !strcmp(a, "--ci-level") || !strcmp(a, "--ci-seed")) {
            NEED(v, !strcmp(a, "--ci") ? "a replicate count" : !strcmp(a, "--ci-level") ? "a coverage" : "a seed");
            if (cli_parse_boot("eval", a, v, &bp)) return SDD_EXIT_USAGE;
            level_set |= !strcmp(a, "--ci-level");
            seed_set |= !strcmp(a, "--ci-seed");
        }
        else if (!strcmp(a, "--breakdown")) {
            NEED(v, "attack, condition or both");
            if ((o.breakdown = sdd_breakdown_parse(v)) < 0)
                return cli_usage_error("eval", "--breakdown: '%s' is not attack, condition or both", v);
        }
        else if (a[0] == '-' && a[1]) return cli_usage_error("eval", "unknown option %s", a);
        else return cli_usage_error("eval", "unexpected argument '%s'", a);
#undef NEED
    }
    if (!o.scores && !o.sasv_scores) return cli_usage_error("eval", "no score file given (--scores FILE)");
    if ((o.sasv_key || o.sasv_sum) && !o.sasv_scores)
        return cli_usage_error("eval", "--sasv-key and --sasv-sum need --sasv-scores");
    if (!o.scores && (o.key || o.asv_scores || o.asv_c012 || o.asv5_rates || det || calfile))
        return cli_usage_error("eval", "--key, --asv-scores, --asv-c012, --asv-rates, --det and --calibration need CM "
                                       "scores (--scores FILE)");
    if (!o.scores && (bp.reps || compare)) return cli_usage_error("eval", "--ci and --compare need CM scores (--scores FILE)");
    if ((level_set || seed_set) && !bp.reps && !compare)
        return cli_usage_error("eval", "--ci-level and --ci-seed need --ci N or --compare");
    if (compare && !bp.reps) bp.reps = 1000;
    o.keep_trial_ids = compare != NULL;   /* --compare pairs the trials by ID */
    o.keep_breakdown = bp.reps > 0;       /* the per-attack and per-condition intervals */
    if (cli_check_asv("eval", &o)) return SDD_EXIT_USAGE;

    /* an output never replaces an input, nor the other output */
    const cli_file ins[] = { { "--scores", o.scores },       { "--key", o.key },
                             { "--asv-scores", o.asv_scores }, { "--asv-key", o.asv_key },
                             { "--asv-c012", o.asv_c012 },   { "--sasv-scores", o.sasv_scores },
                             { "--sasv-key", o.sasv_key },   { "--calibration", calfile },
                             { "--compare", compare } };
    /* '-': standard output, for one of the two; no file to compare */
    if (cli_one_stdout("eval", "-o", out, "--det", det)) return SDD_EXIT_USAGE;
    const int to_stdout = cli_is_dash(out) || cli_is_dash(det);
    const cli_file outs[] = { { "-o", cli_is_dash(out) ? NULL : out }, { "--det", cli_is_dash(det) ? NULL : det } };
    if (cli_check_outputs("eval", outs, 2, ins, 9)) return SDD_EXIT_USAGE;
    /* '-' for the text inputs is standard input (read once, kept: sdd_lines_open) */
    const cli_file text_ins[] = { ins[0], ins[1], ins[2], ins[3], ins[5], ins[6], ins[8] };
    if (cli_one_stdin("eval", text_ins, 7) || cli_refuse_stdin("eval", "--asv-c012", o.asv_c012, "NumPy C012 coefficients") ||
        cli_refuse_stdin("eval", "--calibration", calfile, "a calibration"))
        return SDD_EXIT_USAGE;

    sdd_err e;
    sdd_eval_report r;
    sdd_calibration cal;
    if (calfile) {
        if (sdd_calibration_load(calfile, &cal, &e)) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
        o.calibration = &cal;
    }
    if (sdd_eval_run(&o, &r, &e)) {
        if (!calfile || !calibration_overflows(o.scores, calfile, &cal)) cli_error("%s", e.msg);
        return SDD_EXIT_ERROR;
    }
    for (int i = 0; i < r.nwarn; i++) fprintf(stderr, "sdd: warning: %s\n", r.warnings[i]);
    if (bp.reps && eval_bootstrap(&o, &r, compare, &bp)) {
        sdd_eval_report_free(&r);
        return SDD_EXIT_ERROR;
    }
    sdd_eval_print(&r, to_stdout ? stderr : stdout);
    cli_flush_stdout();

    int status = SDD_EXIT_OK;
    eval_output eo = { &r, &o, det };
    if (out && cli_write_output(out, write_report, &eo)) status = SDD_EXIT_ERROR;
    if (det && cli_write_output(det, write_det, &eo)) status = SDD_EXIT_ERROR;
    sdd_eval_report_free(&r);
    return status;
}
