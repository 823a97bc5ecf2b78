/* `sdd fuse`: linear logistic-regression fusion of several systems' scores.
 * Training: dev score files + key -> fusion file (metrics/calibration.h, k
 * inputs). Applying: fusion file + eval score files (same order) -> one
 * 'ID LLR' file. Outputs written atomically, or to standard output for
 * '-o -' (learning: the formula printed then goes to stderr). Exit status 0,
 * 1 (one line "sdd: FILE[:LINE]: reason"), 2 (usage). */
#include "cli/cli.h"
#include "io/readall.h"
#include "metrics/calibration.h"
#include "metrics/join.h"
#include "io/atomic.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd fuse --scores A B ... --key DEVKEY -o FUSION.json [options]   (learn)\n"
            "       sdd fuse --apply FUSION.json --scores A B ... -o FUSED.txt        (apply)\n"
            "Learns LLR = w1 * A + w2 * B + ... + b by prior-weighted logistic regression on\n"
            "development scores (the FoCal / BOSARIS linear fusion), then applies it to other score\n"
            "files of the same systems, in the same order. Trials are joined by ID as in sdd eval.\n"
            "One score file or the key may be '-', standard input (./- for a file named '-').\n"
            "  --scores FILE...  score files ('ID SCORE' lines), one per system (at most 64)\n"
            "  --key FILE        labels of the development trials (learning)\n"
            "  --apply FILE      a fusion file from an earlier 'sdd fuse' (applying)\n"
            "  -o FILE           the fusion (JSON) or the fused scores ('ID LLR' lines, in the order of\n"
            "                    the first score file), written atomically; '-': standard output\n"
            "                    (learning: the fusion formula then goes to stderr; ./- for a file\n"
            "                    named '-')\n"
            "  --prior P         bona fide prior weighting the training objective (default 0.5)\n"
            "  --pspoof P --cmiss C --cfa C\n"
            "                    decision costs for the stored Bayes threshold (default 0.05, 1, 10)\n"
            "  --l2 L            weight regularisation (default 1e-6)\n"
            "  --threshold       (applying) add a bonafide/spoof label at the fusion's Bayes threshold\n"
            "  --allow-missing   (learning) skip key trials without a score in every file\n"
            "  -h, --help        this text\n");
}

static int apply(const char *fusion, const char *const *scores, int k, const char *out, int label)
{
    sdd_err e;
    sdd_calibration c;
    if (sdd_calibration_load(fusion, &c, &e)) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    if (c.k != k) {
        cli_error("%s: fuses %d score files, %d given", fusion, c.k, k);
        return SDD_EXIT_ERROR;
    }
    sdd_joined j;
    if (sdd_join_plain(scores, k, &j, &e)) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    /* an LLR that overflows (a hand-edited weight of 1e308) is an error, not an 'inf' line */
    for (int64_t i = 0; i < j.n; i++) {
        const double s = sdd_calibration_apply(&c, j.x + (size_t)i * k);
        if (!isfinite(s)) {
            cli_error("%s: trial %s of %s: the fused LLR (weights . scores + bias) is not finite", fusion, j.id[i],
                      sdd_input_name(scores[0]));
            sdd_joined_free(&j);
            return SDD_EXIT_ERROR;
        }
    }
    /* '-': the fused scores go to standard output (nothing else is printed there) */
    const int to_stdout = !strcmp(out, "-");
    sdd_afile *af = to_stdout ? NULL : sdd_afile_open(out, &e);
    int status = SDD_EXIT_OK;
    if (!af && !to_stdout) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; }
    else {
        FILE *f = to_stdout ? stdout : sdd_afile_fp(af);
        for (int64_t i = 0; i < j.n; i++) {
            const double s = sdd_calibration_apply(&c, j.x + (size_t)i * k);
            if (label) fprintf(f, "%s %.9g %s\n", j.id[i], s, s >= c.threshold ? "bonafide" : "spoof");
            else fprintf(f, "%s %.9g\n", j.id[i], s);
        }
        if (to_stdout) { if (cli_stdout_error()) status = SDD_EXIT_ERROR; }   /* main says why */
        else if (sdd_afile_commit(af, &e)) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; }
    }
    sdd_joined_free(&j);
    return status;
}

int cmd_fuse(int argc, char **argv)
{
    const char *key = NULL, *out = NULL, *fusion = NULL, *v;
    const char **scores = calloc((size_t)argc, sizeof *scores);
    double prior = 0.5, pspoof = 0.05, cmiss = 1, cfa = 10, l2 = 1e-6;
    int k = 0, allow_missing = 0, label = 0;
    if (!scores) { cli_error("out of memory"); return SDD_EXIT_ERROR; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(scores); return SDD_EXIT_OK; }
#define FAIL(...) do { free(scores); return cli_usage_error("fuse", __VA_ARGS__); } while (0)
#define NEED(var, what) do { if (!((var) = cli_value(argc, argv, &i))) FAIL("%s needs %s", a, what); } while (0)
#define NUM(var) do { NEED(v, "a number"); if (cli_parse_double(v, &(var))) FAIL("%s: '%s' is not a number", a, v); } while (0)
        if (!strcmp(a, "--scores")) {
            while (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1])) scores[k++] = argv[++i];
        } else if (!strcmp(a, "--key")) NEED(key, "a file");
        else if (!strcmp(a, "--apply")) NEED(fusion, "a fusion file");
        else if (!strcmp(a, "-o")) NEED(out, "a file");
        else if (!strcmp(a, "--prior")) NUM(prior);
        else if (!strcmp(a, "--pspoof")) NUM(pspoof);
        else if (!strcmp(a, "--cmiss")) NUM(cmiss);
        else if (!strcmp(a, "--cfa")) NUM(cfa);
        else if (!strcmp(a, "--l2")) NUM(l2);
        else if (!strcmp(a, "--threshold")) label = 1;
        else if (!strcmp(a, "--allow-missing")) allow_missing = 1;
        else if (a[0] == '-' && a[1]) FAIL("unknown option %s", a);
        else FAIL("unexpected argument '%s' (score files follow --scores)", a);
    }
    if (k == 0) FAIL("no score files given (--scores A B ...)");
    if (k > SDD_CAL_MAX_INPUTS) FAIL("%d score files: at most %d", k, SDD_CAL_MAX_INPUTS);
    if (!out) FAIL("no output given (-o FILE)");
    if (fusion && key) FAIL("--apply and --key exclude each other (learn with --key, apply with --apply)");
    if (!fusion && !key) FAIL("give --key DEVKEY to learn a fusion, or --apply FUSION.json to apply one");
    if (label && !fusion) FAIL("--threshold applies to --apply");
    if (!(prior > 0 && prior < 1)) FAIL("--prior must be in (0, 1)");
    if (!(l2 >= 0)) FAIL("--l2 must be >= 0");
    if (!(pspoof > 0 && pspoof < 1)) FAIL("--pspoof must be in (0, 1)");
    if (!(cmiss > 0)) FAIL("--cmiss must be > 0");
    if (!(cfa > 0)) FAIL("--cfa must be > 0");
    sdd_err e;
    sdd_calibration c;
    if (sdd_calibration_set_decision(&c, pspoof, cmiss, cfa, &e)) FAIL("--pspoof, --cmiss, --cfa: %s", e.msg);
    /* the output never replaces an input */
    cli_file ins[SDD_CAL_MAX_INPUTS + 2];
    int nin = 0;
    for (int i = 0; i < k && nin < SDD_CAL_MAX_INPUTS; i++) ins[nin++] = (cli_file){ "the score file", scores[i] };
    ins[nin++] = (cli_file){ "--key", key };
    ins[nin++] = (cli_file){ "--apply", fusion };
    const int to_stdout = cli_is_dash(out);
    const cli_file outs[] = { { "-o", to_stdout ? NULL : out } };
    if (cli_check_outputs("fuse", outs, 1, ins, nin) || cli_one_stdin("fuse", ins, nin - 1) ||
        cli_refuse_stdin("fuse", "--apply", fusion, "a fusion")) {
        free(scores);
        return SDD_EXIT_USAGE;
    }
#undef NUM
#undef NEED
#undef FAIL
    int status;
    if (fusion) {
        status = apply(fusion, scores, k, out, label);
        free(scores);
        return status;
    }
    sdd_joined j;
    if (sdd_join_keyed(key, scores, k, allow_missing, &j, &e)) { cli_error("%s", e.msg); free(scores); return SDD_EXIT_ERROR; }
    if (j.n_missing)
        fprintf(stderr, "sdd: warning: %lld trials of %s lack a score in some file; skipped\n", (long long)j.n_missing,
                sdd_input_name(key));
    sdd_calibration_info info;
    status = SDD_EXIT_OK;
    int bad = -1;
    /* a degenerate fit (a constant system, zero weights) is refused, not written */
    if (sdd_calibration_train(j.x, j.pos, j.n, k, prior, l2, &c, &info, &e) ||
        sdd_calibration_set_decision(&c, pspoof, cmiss, cfa, &e) || sdd_calibration_check(&c, j.x, j.n, &bad, &e)) {
        cli_error("%s: %s", sdd_input_name(bad >= 0 ? scores[bad] : key), e.msg);
        status = SDD_EXIT_ERROR;
    } else {
        int64_t nb = 0;
        for (int64_t i = 0; i < j.n; i++) nb += j.pos[i];
        json_t *tr = json_pack("{s:s, s:I, s:I, s:f, s:i}", "key", key, "bonafide", (json_int_t)nb, "spoof",
                               (json_int_t)(j.n - nb), "cllr_after", info.cllr_after, "iterations", info.iterations);
        status = cli_save_calibration(out, &c, scores, tr);
        json_decref(tr);
        /* the formula is for people: on stderr when the fusion itself goes to stdout */
        FILE *f = to_stdout ? stderr : stdout;
        if (status == SDD_EXIT_OK) {
            fprintf(f, "LLR =");
            for (int i = 0; i < k; i++)
                fprintf(f, " %s%.9g * %s", i ? (c.w[i] < 0 ? "- " : "+ ") : "", i ? fabs(c.w[i]) : c.w[i], scores[i]);
            fprintf(f, " %c %.9g\n(%lld bona fide, %lld spoof; prior %g); Cllr %.6f bits (prior-weighted, normalised)\n",
                    c.b < 0 ? '-' : '+', fabs(c.b), (long long)nb, (long long)(j.n - nb), prior, info.cllr_after);
        }
    }
    sdd_joined_free(&j);
    free(scores);
    return status;
}
