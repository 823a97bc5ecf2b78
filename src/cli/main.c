/* The sdd command: dispatches to subcommands; a failed write to standard
 * output (a full disk, a closed pipe) is an error, not a silent exit 0.
 * First, where OpenBLAS fell back to its generic kernels on a CPU it does not
 * know, the command restarts itself with the kernels the CPU supports
 * (src/backend/blas.c): the same process, arguments and open files. */
#include "cli/cli.h"
#include "backend/blas.h"
#include <stdio.h>
#include <string.h>

#define SDD_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "sdd %s: speech deepfake detection (anti-spoofing) in C\n"
            "usage: sdd <command> [options]   (sdd <command> --help lists every option)\n"
            "commands:\n"
            "  train    train a countermeasure: dual-path RawBoost training with gradient alignment\n"
            "  report   table and convergence plot of training runs\n"
            "  landscape  loss surface around a model along filter-normalised random directions\n"
            "  score    score audio files, a folder or a list with a model\n"
            "  import   convert a PyTorch checkpoint (.pth) into an sdd model file\n"
            "  info     describe a model file\n"
            "  average  average model files (n-best snapshots, checkpoints of several runs)\n"
            "  augment  apply RawBoost data augmentation (algorithms 1-8) to an audio file\n"
            "  eval     EER, min t-DCF and per-attack/condition tables from scores and a key\n"
            "  compare  is system A better than B? paired bootstrap over training runs and trials\n"
            "  calibrate  fit a score calibration to log-likelihood ratios on dev scores\n"
            "  fuse     learn or apply a logistic-regression fusion of several systems' scores\n"
            "  corpus   build the anti-spoofing corpus from Debian packages; check it for shortcuts\n"
            "  bench    time a model's forward, scoring or training step on this machine\n",
            SDD_VERSION);
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv)
{
    sdd_blas_restart(argv);
    int rc = dispatch(argc, argv);
    const int err = cli_stdout_error();
    if (err) {
        cli_error("standard output: write failed: %s", strerror(err));
        if (rc == SDD_EXIT_OK) rc = SDD_EXIT_ERROR;
    }
    return rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return SDD_EXIT_USAGE; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) { usage(stdout); return SDD_EXIT_OK; }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) { printf("sdd %s\n", SDD_VERSION); return SDD_EXIT_OK; }
    if (!strcmp(cmd, "score")) return cmd_score(argc - 1, argv + 1);
    if (!strcmp(cmd, "import")) return cmd_import(argc - 1, argv + 1);
    if (!strcmp(cmd, "average")) return cmd_average(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "augment")) return cmd_augment(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare")) return cmd_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "calibrate")) return cmd_calibrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "fuse")) return cmd_fuse(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "landscape")) return cmd_landscape(argc - 1, argv + 1);
    if (!strcmp(cmd, "corpus")) return cmd_corpus(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "sdd: unknown command '%s' (see 'sdd --help')\n", cmd);
    return SDD_EXIT_USAGE;
}
