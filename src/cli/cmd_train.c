/* `sdd train`: DPDA training with gradient alignment (see src/train/trainer.h). */
#include "cli/cli.h"
#include "train/trainer.h"
#include "data/dataset.h"
#include "models/model.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd train --train LIST --train-audio DIR --dev LIST --dev-audio DIR --out DIR [options]\n"
            "Trains a countermeasure with the dual-path data-augmented framework (each utterance\n"
            "as the original and its RawBoost copy) and gradient alignment of the two paths'\n"
            "gradients. Writes DIR/log.jsonl (every step: both losses, gradient norms, dot,\n"
            "cosine, conflict; every epoch: dev loss and EER, conflict rate), DIR/last.safetensors\n"
            "and DIR/state.safetensors every epoch (atomically; --resume continues exactly), and\n"
            "DIR/model.safetensors: the mean of the n best epochs by dev loss, with the dev EER\n"
            "threshold stored.\n"
            "  --train LIST, --dev LIST  any list/protocol sdd reads (labels required)\n"
            "  --train-audio DIR, --dev-audio DIR  their audio folders\n"
            "  --eval NAME=LIST:DIR      score a set with the final model (repeatable, up to %d);\n"
            "                            writes DIR/scores_NAME.txt, prints the EER when labelled\n"
            "  --model NAME              architecture of a new model (default AASIST; %s)\n"
            "  --init FILE               start from this model file instead\n"
            "  --paths orig|aug|dual     training regime (default dual)\n"
            "  --align none|pcgrad|gradvac|cagrad   gradient alignment for dual (default pcgrad)\n"
            "  --bn-stats per-path|joint BatchNorm statistics per path, one backward pass (default),\n"
            "                            or over the whole batch as the reference (two passes)\n"
            "  --batch N                 utterances per batch, each with its copy in dual (default 5)\n"
            "  --cut N                   samples per utterance (default 64600)\n"
            "  --crop first|random       training window: first N samples (default) or a random one\n"
            "  --epochs N (100) --patience N (7) --n-best N (5) --max-steps N (0 = no limit)\n"
            "  --select loss|eer         dev metric for the n best and early stopping (default loss)\n"
            "  --lr X (1e-4) --weight-decay X (1e-4) --ce-weight SPOOF,BONAFIDE (0.1,0.9)\n"
            "  --algo N                  RawBoost algorithm of the copies (default 4)\n"
            "  --seed N (1234) --threads N (all cores) --workers N (loader threads, 1)\n"
            "  --max-samples N           cache at most N samples per utterance (0 = whole)\n"
            "  --resume                  continue from DIR/state.safetensors\n"
            "RawBoost parameters (same flags as sdd augment):\n%s",
            SDD_TRAIN_MAX_EVAL, sdd_model_archs(), sdd_rawboost_flags_help());
}

int cmd_train(int argc, char **argv)
{
    sdd_train_config cfg = sdd_train_default_config();
    long threads = 0, v;
    sdd_err e;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
        if (!strcmp(a, "--resume")) { cfg.resume = 1; continue; }
        if (!strcmp(a, "--quiet")) { cfg.quiet = 1; continue; }
        if (a[0] != '-' || a[1] != '-') return cli_usage_error("train", "unexpected argument %s", a);
        if (!(val = cli_value(argc, argv, &i))) return cli_usage_error("train", "%s needs a value", a);
        int rb = sdd_rawboost_parse_flag(&cfg.rb, a, val, &e);
        if (rb < 0) return cli_usage_error("train", "%s", e.msg);
        if (rb > 0) continue;
#define INT(flag, lo, hi, dst) else if (!strcmp(a, flag)) { if (cli_parse_int(val, lo, hi, &v)) return cli_usage_error("train", "%s: '%s' is not in %ld..%ld", flag, val, (long)(lo), (long)(hi)); dst = v; }
#define DBL(flag, dst) else if (!strcmp(a, flag)) { if (cli_parse_double(val, &dst) || dst < 0) return cli_usage_error("train", "%s: '%s' is not a non-negative number", flag, val); }
        if (!strcmp(a, "--train")) cfg.train_list = val;
        else if (!strcmp(a, "--train-audio")) cfg.train_audio = val;
        else if (!strcmp(a, "--dev")) cfg.dev_list = val;
        else if (!strcmp(a, "--dev-audio")) cfg.dev_audio = val;
        else if (!strcmp(a, "--out")) cfg.out_dir = val;
        else if (!strcmp(a, "--model")) cfg.arch = val;
        else if (!strcmp(a, "--init")) cfg.init_model = val;
        else if (!strcmp(a, "--eval")) {
            if (cfg.neval == SDD_TRAIN_MAX_EVAL) return cli_usage_error("train", "at most %d --eval sets", SDD_TRAIN_MAX_EVAL);
            cfg.eval_spec[cfg.neval++] = val;
        } else if (!strcmp(a, "--paths")) {
            if (!strcmp(val, "orig")) cfg.step.paths = SDD_PATHS_ORIG;
            else if (!strcmp(val, "aug")) cfg.step.paths = SDD_PATHS_AUG;
            else if (!strcmp(val, "dual")) cfg.step.paths = SDD_PATHS_DUAL;
            else return cli_usage_error("train", "--paths: '%s' is not orig, aug or dual", val);
        } else if (!strcmp(a, "--align")) {
            if ((cfg.step.align = sdd_align_parse(val)) < 0) return cli_usage_error("train", "--align: '%s' is not none, pcgrad, gradvac or cagrad", val);
        } else if (!strcmp(a, "--bn-stats")) {
            if (!strcmp(val, "per-path")) cfg.step.bn_stats = SDD_BN_PER_PATH;
            else if (!strcmp(val, "joint")) cfg.step.bn_stats = SDD_BN_JOINT;
            else return cli_usage_error("train", "--bn-stats: '%s' is not per-path or joint", val);
        } else if (!strcmp(a, "--select")) {
            if (!strcmp(val, "loss")) cfg.select_eer = 0;
            else if (!strcmp(val, "eer")) cfg.select_eer = 1;
            else return cli_usage_error("train", "--select: '%s' is not loss or eer", val);
        } else if (!strcmp(a, "--crop")) {
            if (!strcmp(val, "first")) cfg.crop = SDD_CUT_FIRST;
            else if (!strcmp(val, "random")) cfg.crop = SDD_CUT_RANDOM;
            else return cli_usage_error("train", "--crop: '%s' is not first or random", val);
        } else if (!strcmp(a, "--ce-weight")) {
            char *end;
            double w0 = strtod(val, &end), w1 = *end == ',' ? strtod(end + 1, &end) : -1;
            if (*end || !(w0 > 0) || !(w1 > 0)) return cli_usage_error("train", "--ce-weight: '%s' is not SPOOF,BONAFIDE (two positive numbers)", val);
            cfg.step.class_weight[0] = (float)w0;
            cfg.step.class_weight[1] = (float)w1;
        }
        INT("--batch", 1, 4096, cfg.batch)
        INT("--cut", 1, 1L << 26, cfg.cut)
        INT("--epochs", 1, 100000, cfg.epochs)
        INT("--patience", 1, 100000, cfg.patience)
        INT("--n-best", 1, 100, cfg.n_best)
        INT("--max-steps", 0, 1L << 40, cfg.max_steps)
        INT("--algo", 0, 8, cfg.rb_algo)
        INT("--threads", 1, 1024, threads)
        INT("--workers", 0, 256, cfg.workers)
        INT("--max-samples", 0, 1L << 40, cfg.max_samples)
        DBL("--lr", cfg.adam.lr)
        DBL("--weight-decay", cfg.adam.weight_decay)
        else if (!strcmp(a, "--seed")) { if (cli_parse_int(val, 0, 0x7fffffffL, &v)) return cli_usage_error("train", "--seed: '%s' is not a non-negative integer", val); cfg.seed = (uint64_t)v; }
        else return cli_usage_error("train", "unknown option %s", a);
#undef INT
#undef DBL
    }
    if (!cfg.train_list || !cfg.dev_list || !cfg.out_dir)
        return cli_usage_error("train", "--train, --dev and --out are required");
    if (sdd_rawboost_check_params(&cfg.rb, &e)) return cli_usage_error("train", "%s", e.msg);
    cli_set_threads(threads);
    if (sdd_train_run(&cfg, &e)) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    return SDD_EXIT_OK;
}
