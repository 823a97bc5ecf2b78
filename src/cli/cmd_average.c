/* `sdd average -o OUT MODEL...`: the element-wise mean of model files of one
 * architecture and configuration (sdd_model_average), written as a model file. */
#include "cli/cli.h"
#include "models/modelio.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd average -o OUT.safetensors MODEL...\n"
            "Averages sdd model files element by element (every weight and BatchNorm buffer,\n"
            "summed in double in the order given), as sdd train averages its n best epochs:\n"
            "another choice of a run's snapshots (RUN/best-epochNNN.safetensors), or the\n"
            "checkpoints of several runs. The files must hold the same architecture and\n"
            "configuration. The output, written atomically, stores no threshold or\n"
            "calibration: those of the inputs do not hold for their mean.\n"
            "  -o FILE   output model file (required; a file: a model cannot go to standard\n"
            "            output, so '-' is refused; ./- for a file named '-')\n");
}

int cmd_average(int argc, char **argv)
{
    const char *out = NULL;
    const char **in = calloc((size_t)(argc > 0 ? argc : 1), sizeof *in);
    if (!in) { cli_error("out of memory"); return SDD_EXIT_ERROR; }
    int n = 0, rc = SDD_EXIT_OK;
    for (int i = 1; i < argc && rc == SDD_EXIT_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(in); return SDD_EXIT_OK; }
        else if (!strcmp(a, "-o")) {
            if (out) rc = cli_usage_error("average", "-o is given twice");
            else if (!(out = cli_value(argc, argv, &i))) rc = cli_usage_error("average", "-o needs a file");
        }
        else if (a[0] == '-' && a[1]) rc = cli_usage_error("average", "unknown option %s", a);
        else in[n++] = a;
    }
    if (rc == SDD_EXIT_OK && !n) rc = cli_usage_error("average", "no model files given");
    if (rc == SDD_EXIT_OK && !out) rc = cli_usage_error("average", "no output given (-o OUT.safetensors)");
    if (rc == SDD_EXIT_OK) rc = cli_refuse_stdout("average", "-o", out, "a model file");
    for (int i = 0; i < n && rc == SDD_EXIT_OK; i++) {
        const cli_file ins[] = { { "the input", in[i] } }, outs[] = { { "-o", out } };
        rc = cli_check_outputs("average", outs, 1, ins, 1);
    }
    if (rc != SDD_EXIT_OK) { free(in); return rc; }
    for (int i = 0; i < n; i++) {   /* a file given twice weighs twice: allowed, but said */
        int times = 0, first = 1;
        for (int j = 0; j < n; j++) {
            times += !strcmp(in[i], in[j]);
            if (j < i && !strcmp(in[i], in[j])) first = 0;
        }
        if (times > 1 && first) fprintf(stderr, "sdd average: warning: %s is given %d times (it weighs %d/%d)\n", in[i], times, times, n);
    }
    sdd_err e;
    /* the first file gives the architecture and configuration; every file,
     * the first included, is then checked against it and averaged */
    sdd_model *m = sdd_model_load(in[0], NULL, &e);
    if (!m || sdd_model_average(m, in, n, &e)) rc = SDD_EXIT_ERROR;
    if (m && rc == SDD_EXIT_OK) {
        m->has_threshold = 0;
        m->calibration[0] = 0;
        if (sdd_model_save(m, out, &e)) rc = SDD_EXIT_ERROR;
    }
    if (rc == SDD_EXIT_OK) fprintf(stderr, "sdd average: %d model%s (%s) -> %s\n", n, n > 1 ? "s" : "", m->arch, out);
    else cli_error("%s", e.msg);
    sdd_model_free(m);
    free(in);
    return rc;
}
