/* `sdd calibrate`: dev scores + key in; a calibration file out (logistic
 * regression to natural-log likelihood ratios, metrics/calibration.h), and
 * optionally a copy of the model carrying it. Everything written atomically;
 * '-o -' writes the calibration to standard output and the summary to stderr
 * (a model file never goes to standard output). Exit status 0, 1 (one line
 * "sdd: FILE[:LINE]: reason"), 2 (usage). */
#include "cli/cli.h"
#include "io/readall.h"
#include "metrics/calibration.h"
#include "metrics/join.h"
#include "models/modelio.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd calibrate --scores DEV --key DEVKEY [-o CAL.json] [-m MODEL --model-out OUT] [options]\n"
            "Fits LLR = a * score + b by prior-weighted logistic regression (the FoCal / BOSARIS\n"
            "calibration) on development scores, so that calibrated scores are natural-log likelihood\n"
            "ratios (bona fide vs spoof) and the Bayes threshold for stated costs is meaningful.\n"
            "Apply it with 'sdd score --calibration CAL.json' or 'sdd eval --calibration CAL.json'.\n"
            "A fit of no use (all scores equal, LLRs the same for every trial) is an error.\n"
            "--scores or --key may be '-', standard input (./- for a file named '-').\n"
            "  --scores FILE     development scores ('ID SCORE' lines, as sdd score writes)\n"
            "  --key FILE        their labels (any key format sdd eval reads)\n"
            "  -o FILE           the calibration (JSON), written atomically; '-': standard output\n"
            "                    (the summary then goes to stderr; ./- for a file named '-')\n"
            "  --prior P         bona fide prior weighting the training objective (default 0.5)\n"
            "  --pspoof P        decision: prior of a spoof (default 0.05, ASVspoof 5)\n"
            "  --cmiss C         decision: cost of rejecting bona fide speech (default 1)\n"
            "  --cfa C           decision: cost of accepting a spoof (default 10)\n"
            "                    (threshold = log(Cfa Pspoof / (Cmiss (1 - Pspoof))) on the LLR)\n"
            "  --l2 L            weight regularisation (default 1e-6; keeps separable data finite)\n"
            "  -m MODEL          with --model-out: store the calibration in a copy of MODEL, so that\n"
            "  --model-out FILE  'sdd score -m FILE' prints LLRs and labels at the Bayes threshold\n"
            "                    (a file name: a model cannot go to standard output)\n"
            "  --allow-missing   skip key trials without a score (default: an error)\n"
            "  -h, --help        this text\n");
}

int cmd_calibrate(int argc, char **argv)
{
    const char *scores = NULL, *key = NULL, *out = NULL, *model = NULL, *model_out = NULL, *v;
    double prior = 0.5, pspoof = 0.05, cmiss = 1, cfa = 10, l2 = 1e-6;
    int allow_missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
#define NEED(var, what) do { if (!((var) = cli_value(argc, argv, &i))) return cli_usage_error("calibrate", "%s needs %s", a, what); } while (0)
#define NUM(var) do { NEED(v, "a number"); if (cli_parse_double(v, &(var))) return cli_usage_error("calibrate", "%s: '%s' is not a number", a, v); } while (0)
        if (!strcmp(a, "--scores")) NEED(scores, "a file");
        else if (!strcmp(a, "--key")) NEED(key, "a file");
        else if (!strcmp(a, "-o")) NEED(out, "a file");
        else if (!strcmp(a, "-m")) NEED(model, "a model file");
        else if (!strcmp(a, "--model-out")) NEED(model_out, "a file");
        else if (!strcmp(a, "--prior")) NUM(prior);
        else if (!strcmp(a, "--pspoof")) NUM(pspoof);
        else if (!strcmp(a, "--cmiss")) NUM(cmiss);
        else if (!strcmp(a, "--cfa")) NUM(cfa);
        else if (!strcmp(a, "--l2")) NUM(l2);
        else if (!strcmp(a, "--allow-missing")) allow_missing = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error("calibrate", "unknown option %s", a);
        else return cli_usage_error("calibrate", "unexpected argument '%s'", a);
#undef NUM
#undef NEED
    }
    if (!scores) return cli_usage_error("calibrate", "no score file given (--scores FILE)");
    if (!key) return cli_usage_error("calibrate", "no key given (--key FILE)");
    if (!out && !model_out) return cli_usage_error("calibrate", "no output given (-o FILE and/or -m MODEL --model-out FILE)");
    if (!!model != !!model_out) return cli_usage_error("calibrate", "-m and --model-out go together");
    if (!(prior > 0 && prior < 1)) return cli_usage_error("calibrate", "--prior must be in (0, 1)");
    if (!(l2 >= 0)) return cli_usage_error("calibrate", "--l2 must be >= 0");
    if (!(pspoof > 0 && pspoof < 1)) return cli_usage_error("calibrate", "--pspoof must be in (0, 1)");
    if (!(cmiss > 0)) return cli_usage_error("calibrate", "--cmiss must be > 0");
    if (!(cfa > 0)) return cli_usage_error("calibrate", "--cfa must be > 0");
    sdd_err e;
    sdd_calibration c;
    if (sdd_calibration_set_decision(&c, pspoof, cmiss, cfa, &e))
        return cli_usage_error("calibrate", "--pspoof, --cmiss, --cfa: %s", e.msg);
    /* an output never replaces an input (or the other output) */
    const cli_file ins[] = { { "--scores", scores }, { "--key", key }, { "-m", model } };
    if (cli_refuse_stdout("calibrate", "--model-out", model_out, "a model file")) return SDD_EXIT_USAGE;
    const int to_stdout = cli_is_dash(out);
    const cli_file outs[] = { { "-o", to_stdout ? NULL : out }, { "--model-out", model_out } };
    if (cli_check_outputs("calibrate", outs, 2, ins, 3)) return SDD_EXIT_USAGE;
    if (cli_one_stdin("calibrate", ins, 2) || cli_refuse_stdin("calibrate", "-m", model, "a model")) return SDD_EXIT_USAGE;

    sdd_joined j;
    if (sdd_join_keyed(key, &scores, 1, allow_missing, &j, &e)) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    if (j.n_missing)
        fprintf(stderr, "sdd: warning: %s: no score for %lld trials of %s; skipped\n", sdd_input_name(scores),
                (long long)j.n_missing, sdd_input_name(key));
    sdd_calibration_info info;
    int status = SDD_EXIT_OK, bad;
    /* a degenerate fit (equal scores, zero weight) is refused, not written */
    if (sdd_calibration_train(j.x, j.pos, j.n, 1, prior, l2, &c, &info, &e) ||
        sdd_calibration_set_decision(&c, pspoof, cmiss, cfa, &e) || sdd_calibration_check(&c, j.x, j.n, &bad, &e)) {
        cli_error("%s: %s", sdd_input_name(scores), e.msg);
        sdd_joined_free(&j);
        return SDD_EXIT_ERROR;
    }
    int64_t nb = 0;
    for (int64_t i = 0; i < j.n; i++) nb += j.pos[i];
    json_t *tr = json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:i}", "scores", scores, "key", key, "bonafide", (json_int_t)nb,
                           "spoof", (json_int_t)(j.n - nb), "cllr_before", info.cllr_before, "cllr_after",
                           info.cllr_after, "iterations", info.iterations);
    const char *inputs[1] = { scores };
    if (out) status = cli_save_calibration(out, &c, inputs, tr);
    json_decref(tr);
    if (status == SDD_EXIT_OK && model) {
        sdd_model *m = sdd_model_load(model, NULL, &e);
        char *js = m ? sdd_calibration_to_json(&c, 1, NULL, NULL, &e) : NULL;
        if (!m || !js) status = SDD_EXIT_ERROR;
        else if (strlen(js) >= sizeof m->calibration) { sdd_err_set(&e, "%s: calibration too long for the model metadata", model_out); status = SDD_EXIT_ERROR; }
        else {
            snprintf(m->calibration, sizeof m->calibration, "%s", js);
            if (sdd_model_save(m, model_out, &e)) status = SDD_EXIT_ERROR;
        }
        if (status) cli_error("%s", e.msg);
        free(js);
        sdd_model_free(m);
    }
    if (status == SDD_EXIT_OK)
        fprintf(to_stdout ? stderr : stdout, "LLR = %.9g * score %c %.9g  (%lld bona fide, %lld spoof; prior %g)\n"
               "Cllr %.6f -> %.6f bits (prior-weighted, normalised)\n"
               "Bayes threshold %.6f on the LLR (Pspoof %g, Cmiss %g, Cfa %g) = raw score %.9g\n",
               c.w[0], c.b < 0 ? '-' : '+', fabs(c.b), (long long)nb, (long long)(j.n - nb), prior, info.cllr_before, info.cllr_after, c.threshold,
               pspoof, cmiss, cfa, (c.threshold - c.b) / c.w[0]);
    sdd_joined_free(&j);
    return status;
}
