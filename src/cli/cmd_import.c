/* `sdd import IN.pth -o OUT.safetensors [--arch NAME]`: converts a PyTorch
 * checkpoint (state dict) into an sdd model file, checking every tensor. */
#include "cli/cli.h"
#include "models/modelio.h"
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd import IN.pth -o OUT.safetensors [--arch NAME]\n"
            "Reads a PyTorch checkpoint (zip format, a state dict; no Python needed), checks\n"
            "every tensor's name, shape and values against the architecture, and writes an\n"
            "sdd model file (safetensors with the architecture and hyperparameters in\n"
            "__metadata__), atomically.\n"
            "  -o FILE       output model file (required; a file: a model cannot go to standard\n"
            "                output, so '-' is refused; ./- for a file named '-')\n"
            "  --arch NAME   architecture (default: guessed from the tensor shapes; known: %s)\n"
            "  --threshold T store a decision threshold on the score in the model file\n",
            sdd_model_archs());
}

int cmd_import(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *arch = NULL, *thr = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
        else if (!strcmp(a, "-o")) { if (!(out = cli_value(argc, argv, &i))) return cli_usage_error("import", "-o needs a file"); }
        else if (!strcmp(a, "--arch")) { if (!(arch = cli_value(argc, argv, &i))) return cli_usage_error("import", "--arch needs a name"); }
        else if (!strcmp(a, "--threshold")) { if (!(thr = cli_value(argc, argv, &i))) return cli_usage_error("import", "--threshold needs a number"); }
        else if (a[0] == '-' && a[1]) return cli_usage_error("import", "unknown option %s", a);
        else if (!in) in = a;
        else return cli_usage_error("import", "unexpected argument %s", a);
    }
    if (!in) return cli_usage_error("import", "no input checkpoint given");
    if (!out) return cli_usage_error("import", "no output given (-o OUT.safetensors)");
    if (cli_refuse_stdout("import", "-o", out, "a model file")) return SDD_EXIT_USAGE;
    const cli_file ins[] = { { "the checkpoint", in } }, outs[] = { { "-o", out } };
    if (cli_check_outputs("import", outs, 1, ins, 1)) return SDD_EXIT_USAGE;
    double t = 0;
    if (thr && cli_parse_double(thr, &t)) return cli_usage_error("import", "--threshold: '%s' is not a number", thr);
    sdd_err e;
    sdd_model *m = sdd_model_load(in, arch, &e);
    if (!m) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    if (thr) { m->threshold = t; m->has_threshold = 1; }
    int rc = sdd_model_save(m, out, &e);
    if (rc) cli_error("%s", e.msg);
    else fprintf(stderr, "sdd import: %s -> %s (%s, %d tensors, %zu trainable parameters)\n", in, out, m->arch, m->params.np, m->params.ntrainable);
    sdd_model_free(m);
    return rc ? SDD_EXIT_ERROR : SDD_EXIT_OK;
}
