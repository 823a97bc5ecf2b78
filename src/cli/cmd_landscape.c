/* `sdd landscape`: the loss surface around a trained model along random
 * filter-normalised directions (see src/train/landscape.h). The TSV or the
 * SVG (one of them) may go to standard output ('-'): the library writes it
 * there directly (the TSV row by row as the grid is computed), flushing with
 * cli_stdout_error, so that a failed write stops the run and main says why
 * in one line; nothing else is printed on stdout (progress and warnings are
 * on stderr). */
#include "backend/device.h"
#include "cli/cli.h"
#include "train/landscape.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd landscape -m MODEL --list LIST --audio-dir DIR -o OUT.tsv [options]\n"
            "The loss landscape around a model (Li et al. 2018) as in the DPDA paper's analysis:\n"
            "the weighted-CE loss (eval mode) at theta + a*d1 + b*d2 for random Gaussian\n"
            "directions d1, d2, filter-normalised (biases and BatchNorm parameters fixed), on a\n"
            "grid of a, b in [-R, R], for the list's utterances (first cut) and for their RawBoost\n"
            "copies. OUT.tsv (-o or --out; written atomically): two '# sdd landscape:' comment lines\n"
            "saying how it was made, then a, b, loss_orig, loss_aug; a loss that is not finite\n"
            "(a far --range) is written as nan, left out of the plot, and counted in a warning\n"
            "naming the output. Progress goes to stderr: one line redrawn in place on a terminal\n"
            "(none when -o - shows the rows there), else (a log) a plain line at each tenth of\n"
            "the grid ('sdd landscape: 13/121 points, 54 s').\n"
            "  -m, --model FILE    the model (sdd model file or PyTorch .pth)\n"
            "  --list LIST, --audio-dir DIR   labelled utterances (any list format sdd reads)\n"
            "  --svg FILE          also draw it: heat maps with contours (log loss) for both input\n"
            "                      kinds, or the two curves for one direction\n"
            "  '-' as -o or --svg (one of them) writes that output to standard output (./- for a\n"
            "                      file named '-'): the same bytes, the TSV row by row as the\n"
            "                      grid is computed, not atomically\n"
            "  --dirs 1|2          one direction (a line) or two (a surface; default 2)\n"
            "  --steps N           grid points per direction (default 11)\n"
            "  --range R           coordinates in [-R, R] (default 1)\n"
            "  --max-items N       only the first N utterances (default all)\n"
            "  --cut N             input samples (default: the cut the model was trained at, else\n"
            "                      its reference cut)\n"
            "  --batch N (8) --algo N (RawBoost of the copies, 0 = none; 4) --seed N (1)\n"
            "  --threads N (all cores)  --quiet (no progress lines)\n"
            "  --device D          cpu (default) or cuda (builds made with 'make CUDA=1')\n%s",
            sdd_rawboost_flags_help());
}

int cmd_landscape(int argc, char **argv)
{
    sdd_landscape_params p = sdd_landscape_default_params();
    const char *out = NULL;
    long v, threads = 0;
    sdd_err e;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
        if (a[0] != '-') return cli_usage_error("landscape", "unexpected argument %s", a);
        if (!strcmp(a, "--quiet")) { p.quiet = 1; continue; }
        if (!(val = cli_value(argc, argv, &i))) return cli_usage_error("landscape", "%s needs a value", a);
        int rb = sdd_rawboost_parse_flag(&p.rb, a, val, &e);
        if (rb < 0) return cli_usage_error("landscape", "%s", e.msg);
        if (rb > 0) continue;
#define INT(flag, lo, hi, dst) else if (!strcmp(a, flag)) { if (cli_parse_int(val, lo, hi, &v)) return cli_usage_error("landscape", "%s: '%s' is not in %ld..%ld", flag, val, (long)(lo), (long)(hi)); dst = v; }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) p.model = val;
        else if (!strcmp(a, "--list")) p.list = val;
        else if (!strcmp(a, "--audio-dir")) p.audio_dir = val;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = val;
        else if (!strcmp(a, "--svg")) p.svg = val;
        else if (!strcmp(a, "--device")) { if (sdd_device_parse(val, &p.device, &e)) return cli_usage_error("landscape", "--device: %s", e.msg); }
        else if (!strcmp(a, "--range")) { if (cli_parse_double(val, &p.range) || !(p.range > 0)) return cli_usage_error("landscape", "--range: '%s' is not a positive number", val); }
        INT("--dirs", 1, 2, p.dirs)
        INT("--steps", 2, 1001, p.steps)
        INT("--max-items", 0, 1L << 30, p.max_items)
        INT("--cut", 1, 1L << 26, p.cut)
        INT("--batch", 1, 4096, p.batch)
        INT("--algo", 0, 8, p.rb_algo)
        INT("--seed", 0, 0x7fffffffL, p.seed)
        INT("--threads", 1, 1024, threads)
        else return cli_usage_error("landscape", "unknown option %s", a);
#undef INT
    }
    if (!p.model || !p.list || !out) return cli_usage_error("landscape", "-m, --list and -o are required");
    /* an output never replaces an input, nor the other output */
    const cli_file ins[] = { { "-m", p.model }, { "--list", p.list } };
    if (cli_one_stdout("landscape", "-o", out, "--svg", p.svg)) return SDD_EXIT_USAGE;
    const cli_file outs[] = { { "-o", cli_is_dash(out) ? NULL : out }, { "--svg", cli_is_dash(p.svg) ? NULL : p.svg } };
    if (cli_check_outputs("landscape", outs, 2, ins, 2)) return SDD_EXIT_USAGE;
    if (sdd_rawboost_check_params(&p.rb, &e)) return cli_usage_error("landscape", "%s", e.msg);
    if (sdd_device_check(p.device, NULL, 0, &e)) { cli_error("--device: %s", e.msg); return SDD_EXIT_ERROR; }
    cli_set_threads(threads);
    /* '-': the library writes to stdout itself; cli_stdout_error keeps the
     * reason of the first failed write for main's one line */
    const sdd_landscape_stream so = { stdout, "standard output", cli_stdout_error };
    const int tsv_std = cli_is_dash(out), svg_std = cli_is_dash(p.svg);
    if (svg_std) p.svg = NULL;
    if (!sdd_landscape_run_to(&p, out, tsv_std ? &so : NULL, svg_std ? &so : NULL, &e)) return SDD_EXIT_OK;
    /* a failed write to stdout is said by main, in one line */
    if (!((tsv_std || svg_std) && cli_stdout_error())) cli_error("%s", e.msg);
    return SDD_EXIT_ERROR;
}
