/* `sdd train`: DPDA training with gradient alignment (see src/train/trainer.h). */
#include "cli/cli.h"
#include "backend/device.h"
#include "train/trainer.h"
#include "train/options.h"
#include "train/recipe.h"
#include "train/seeds.h"
#include "data/dataset.h"
#include "models/model.h"
#include "dist/dist.h"
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
            "                            writes OUT/scores_NAME.txt, prints the EER when labelled; every\n"
            "                            file's header is checked at the start, the audio read 1,024\n"
            "                            files at a time, only their first --cut samples kept\n"
            "  --model NAME              architecture of a new model (default AASIST; %s)\n"
            "  --init FILE               start from this model file instead\n"
            "  --ssl-weights FILE        new XLSR-* model: load its XLS-R front end from FILE (Hugging\n"
            "                            Face model.safetensors / pytorch_model.bin, fairseq xlsr2_300m.pt,\n"
            "                            or a full SSL_Anti-spoofing / dpda checkpoint); the rest is random\n"
            "  --cache all|none          all (default): the train and dev sets are decoded once and held\n"
            "                            (int16); none: each file is checked at the start, then decoded\n"
            "                            whenever it is read (sets larger than memory; the same values)\n"
            "  --ssl-recompute on|off|auto  XLSR-* models: recompute the front end's layers in the\n"
            "                            backward (on: least memory), keep their activations (off: no\n"
            "                            second forward; about 1.3 GB per 64,600-sample utterance on the\n"
            "                            CPU), or auto (default): recompute in the first step, then keep\n"
            "                            them when the estimate of that fits in free memory (host, or\n"
            "                            the GPU's); logged in log.jsonl. The same gradients either way\n"
            "  --paths orig|aug|dual     training regime (default dual)\n"
            "  --align none|pcgrad|gradvac|cagrad   gradient alignment for dual (default pcgrad)\n"
            "  --align-groups whole|block|tensor    align the whole gradient (default, the reference), or each\n"
            "                            layer (block: names up to their index, encoder.2) or tensor on its own\n"
            "  --bn-stats joint|per-path BatchNorm statistics over the whole batch as the reference,\n"
            "                            two backward passes (default: the lower EER measured), or per\n"
            "                            path, both gradients from one backward pass (~0.6x the step)\n"
            "  --batch N                 utterances per batch, each with its copy in dual (default 5)\n"
            "  --cut N                   samples per utterance (default 64600)\n"
            "  --crop first|random       training window: first N samples (default) or a random one\n"
            "  --epochs N (100) --patience N (7) --n-best N (5) --max-steps N (0 = no limit)\n"
            "  --select loss|eer         dev metric for the n best and early stopping (default loss)\n"
            "                            (the n best epochs' weights: OUT/best-epochNNN.safetensors,\n"
            "                            model files; OUT/model.safetensors is their mean)\n"
            "  --lr X (1e-4) --weight-decay X (1e-4) --ce-weight SPOOF,BONAFIDE (0.1,0.9)\n"
            "                            or balanced: inverse class frequency of --train (0.1,0.9 on\n"
            "                            ASVspoof 2019 LA; 0.5,0.5 on a balanced corpus)\n"
            "  --lr-schedule const|cosine  cosine: the AASIST recipe's per-step decay from --lr to\n"
            "                            --lr-min X (5e-6) over epochs x steps per epoch (default const)\n"
            "  --accum K                 K batches per optimiser step: per-path gradients are\n"
            "                            accumulated, then aligned (default 1)\n"
            "  --algo N                  RawBoost algorithm of the copies (default 4)\n"
            "  --seed N (1234) --threads N (all cores) --workers N (loader threads, 1)\n"
            "  --dev-batch N             utterances per forward when scoring the dev and --eval sets\n"
            "                            (default 8; less memory with fewer); with mpirun the dev set's\n"
            "                            batches are shared out over the ranks\n"
            "  --max-samples N           cache at most N samples per utterance (0 = whole)\n"
            "  --resume                  continue from DIR/state.safetensors (the last finished epoch;\n"
            "                            the log is cut back to it); a finished or early-stopped run\n"
            "                            says so and does nothing (more --epochs or --patience go on)\n"
            "  --device cpu|cuda         compute device (default cpu); cuda: every model, one GPU, every\n"
            "                            regime (steps, alignment, Adam on the device); with mpirun,\n"
            "                            one GPU per rank (a `make MPI=1 CUDA=1` build)\n"
            "  --quiet                   no progress lines on stderr\n"
            "  --seeds S1,S2,...         train once per seed into DIR/seed-S, then DIR/summary.txt:\n"
            "                            final dev EER and eval EERs, mean and sample std (also printed)\n"
            "  --recipe NAME|FILE        settings from a recipe: built-in %s, or a JSON file whose\n"
            "                            keys are these options' names (a run's config.json is one);\n"
            "                            options given explicitly override it\n"
            "  --bn-recompute N          after averaging, recompute BatchNorm statistics on N training\n"
            "                            batches with the weights fixed (-1: one epoch; default 0: off)\n"
            "Data-parallel: `mpirun -np N sdd train ...` with a `make MPI=1` build (%s): each\n"
            "rank takes 1/N of every --batch (the global batch) and the ranks sum BatchNorm\n"
            "statistics, losses and both paths' gradients, so the run is that of one process\n"
            "(--accum, --bn-recompute and --seeds included: each seed's run in turn).\n"
            "The RawBoost flags below are sdd augment's.\n%s",
            SDD_TRAIN_MAX_EVAL, sdd_model_archs(), sdd_recipe_builtin_names(),
            sdd_dist_built() ? "this binary" : "not this binary", sdd_rawboost_flags_help());
}

int cmd_train(int argc, char **argv)
{
    sdd_train_config cfg = sdd_train_default_config();
    sdd_recipe_store store;
    sdd_recipe_store_init(&store);
    sdd_err e;
    int rc = SDD_EXIT_OK;
    const char *device = "cpu";
    /* the recipe first, whatever its position: explicit options override it */
    const char *recipe = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return SDD_EXIT_OK; }
        if (!strcmp(argv[i], "--recipe")) {
            if (i + 1 >= argc) return cli_usage_error("train", "--recipe needs a value");
            if (recipe) return cli_usage_error("train", "--recipe given twice");
            recipe = argv[++i];
        }
    }
    if (recipe && sdd_recipe_apply(&cfg, recipe, &store, &e)) {
        cli_error("%s", e.msg);
        sdd_recipe_store_free(&store);
        return SDD_EXIT_USAGE;
    }
    int cli_evals = 0, nseeds = 0, seed_given = 0, align_given = 0, bn_given = 0;
    uint64_t seeds[SDD_TRAIN_MAX_SEEDS];
    for (int i = 1; i < argc && rc == SDD_EXIT_OK; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--resume")) { cfg.resume = 1; continue; }
        if (!strcmp(a, "--quiet")) { cfg.quiet = 1; continue; }
        if (a[0] != '-' || a[1] != '-') { rc = cli_usage_error("train", "unexpected argument %s", a); break; }
        if (strchr(a, '=')) { rc = cli_usage_error("train", "%s: give the value as the next argument (--opt VALUE), not --opt=VALUE", a); break; }
        seed_given |= !strcmp(a, "--seed");
        align_given |= !strcmp(a, "--align");
        bn_given |= !strcmp(a, "--bn-stats");
        if (!(val = cli_value(argc, argv, &i))) { rc = cli_usage_error("train", "%s needs a value", a); break; }
        if (!strcmp(a, "--recipe")) continue;
        if (!strcmp(a, "--device")) { device = val; continue; }
        if (!strcmp(a, "--seeds")) {
            if ((nseeds = sdd_seeds_parse(val, seeds, &e)) < 0) rc = cli_usage_error("train", "%s", e.msg);
            continue;
        }
        /* evaluation sets on the command line replace the recipe's */
        if (!strcmp(a, "--eval") && !cli_evals++) cfg.neval = 0;
        int r = sdd_train_option(&cfg, a + 2, val, a, &e);
        if (r < 0) rc = cli_usage_error("train", "%s", e.msg);
        else if (r > 0) rc = cli_usage_error("train", "unknown option %s", a);
    }
    if (rc == SDD_EXIT_OK && nseeds && seed_given) rc = cli_usage_error("train", "--seed and --seeds exclude each other");
    /* alignment and per-path statistics are of the two paths: with one they would be ignored */
    if (rc == SDD_EXIT_OK && cfg.step.paths != SDD_PATHS_DUAL && ((align_given && cfg.step.align != SDD_ALIGN_NONE) || bn_given))
        rc = cli_usage_error("train", "%s applies to two paths: it needs --paths dual (this run's paths are %s%s%s)",
                             align_given && cfg.step.align != SDD_ALIGN_NONE ? "--align" : "--bn-stats",
                             cfg.step.paths == SDD_PATHS_ORIG ? "orig" : "aug", recipe ? ", from recipe " : "", recipe ? recipe : "");
    /* groups divide an alignment: without one there is nothing to divide */
    if (rc == SDD_EXIT_OK && cfg.align_groups != SDD_ALIGN_GROUPS_WHOLE && (cfg.step.paths != SDD_PATHS_DUAL || cfg.step.align == SDD_ALIGN_NONE))
        rc = cli_usage_error("train", "--align-groups %s divides the alignment of the two paths' gradients: it needs --paths dual "
                             "and --align pcgrad, gradvac or cagrad (this run's: paths %s, align %s%s%s)",
                             sdd_align_groups_name(cfg.align_groups), cfg.step.paths == SDD_PATHS_DUAL ? "dual" : cfg.step.paths == SDD_PATHS_ORIG ? "orig" : "aug",
                             sdd_align_name(cfg.step.align), recipe ? ", recipe " : "", recipe ? recipe : "");
    if (rc == SDD_EXIT_OK && (!cfg.train_list || !cfg.dev_list || !cfg.out_dir))
        rc = cli_usage_error("train", "--train, --dev and --out are required");
    if (rc == SDD_EXIT_OK && sdd_rawboost_check_params(&cfg.rb, &e)) rc = cli_usage_error("train", "%s", e.msg);
    int dev = SDD_DEV_CPU;
    if (rc == SDD_EXIT_OK && sdd_device_parse(device, &dev, &e)) rc = cli_usage_error("train", "--device: %s", e.msg);
    if (rc == SDD_EXIT_OK && sdd_device_check(dev, NULL, 0, &e)) { cli_error("--device %s: %s", device, e.msg); rc = SDD_EXIT_ERROR; }
    cfg.device = dev;
    if (rc == SDD_EXIT_OK) {
        cli_set_threads(cfg.threads);
        char *summary = NULL;
        /* under mpirun (a `make MPI=1` build) every rank runs this; a failing rank
         * ends the whole job so none waits forever in a collective */
        if (sdd_dist_init(&e)) { cli_error("%s", e.msg); rc = SDD_EXIT_ERROR; }
        else if (nseeds ? sdd_train_seeds(&cfg, seeds, nseeds, &summary, &e) : sdd_train_run(&cfg, &e)) {
            if (sdd_dist_size() > 1) cli_error("rank %d of %d: %s", sdd_dist_rank(), sdd_dist_size(), e.msg);
            else cli_error("%s", e.msg);
            rc = SDD_EXIT_ERROR;
            sdd_dist_abort(SDD_EXIT_ERROR);
        }
        sdd_dist_finalize();
        if (summary) fputs(summary, stdout);
        free(summary);
    }
    sdd_recipe_store_free(&store);
    return rc;
}
