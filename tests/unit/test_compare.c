/* The regime comparison (src/train/compare.c, `sdd report --by-regime`,
 * scripts/demo-compare): per-run numbers (epoch of the best dev loss,
 * step-weighted conflict rate) and the grouped table with means and sample
 * standard deviations from hand-written logs, computed here independently;
 * then `make demo-compare`'s script end to end on a tiny hand-made corpus
 * (two regimes x two seeds, 2 steps each): the table, the resume of finished
 * seeds and seeds added later, and its refusals (other settings in the output folder, an unknown
 * regime, a folder that is not a corpus). */
#include "check.h"
#include "cli_run.h"
#include "audio/encode.h"
#include "train/compare.h"
#include "train/runlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];
static char out[65536];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)
#define exists cli_exists

/* a run from a config and three epochs (dev losses l0..l2, conflict rates
 * c0..c2 over s0..s2 steps; a negative rate is written as null) and evals */
static void make_run_bn(sdd_runlog *r, const char *paths, const char *align, const char *bn, const double *loss, const double *conf,
                        const int *steps, double eval_eer, double wild_eer)
{
    char cfg[256], log[4096];
    snprintf(cfg, sizeof cfg, "{\"model\": \"AASIST-L\", \"paths\": \"%s\", \"align\": \"%s\", \"bn-stats\": \"%s\"}",
             paths, align, bn);
    int k = 0;
    for (int ep = 0; ep < 3; ep++) {
        char c[32];
        if (conf[ep] < 0) snprintf(c, sizeof c, "null");
        else snprintf(c, sizeof c, "%.17g", conf[ep]);
        k += snprintf(log + k, sizeof log - (size_t)k,
                      "{\"type\": \"epoch\", \"epoch\": %d, \"steps\": %d, \"dev_loss\": %.17g, \"dev_eer\": 0.3, "
                      "\"conflict_rate\": %s, \"seconds\": 1}\n", ep, steps[ep], loss[ep], c);
    }
    k += snprintf(log + k, sizeof log - (size_t)k, "{\"type\": \"final\", \"averaged\": 2, \"dev_loss\": 0.4, \"dev_eer\": 0.25}\n");
    if (eval_eer >= 0)
        k += snprintf(log + k, sizeof log - (size_t)k, "{\"type\": \"eval\", \"name\": \"eval\", \"trials\": 10, \"eer\": %.17g}\n", eval_eer);
    if (wild_eer >= 0)
        snprintf(log + k, sizeof log - (size_t)k, "{\"type\": \"eval\", \"name\": \"wild\", \"trials\": 10, \"eer\": %.17g}\n", wild_eer);
    sdd_err e;
    sdd_runlog_init(r);
    CHECK_MSG(sdd_runlog_parse_config(r, cfg, strlen(cfg), "config.json", &e) == 0, "%s", e.msg);
    CHECK_MSG(sdd_runlog_parse_log(r, log, strlen(log), "log.jsonl", &e) == 0, "%s", e.msg);
}

static void make_run(sdd_runlog *r, const char *paths, const char *align, const double *loss, const double *conf,
                     const int *steps, double eval_eer, double wild_eer)
{
    make_run_bn(r, paths, align, "per-path", loss, conf, steps, eval_eer, wild_eer);
}

/* the table row starting with `label` */
static const char *row(const char *text, const char *label)
{
    size_t n = strlen(label);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, label, n) && p[n] == ' ') return p;
    return NULL;
}

static void table(void)
{
    sdd_runlog r[6];
    /* aug: no conflicts; best dev loss at epochs 3, 2 (1-based) */
    const double la[3] = { 0.9, 0.8, 0.7 }, lb[3] = { 0.9, 0.5, 0.6 }, none[3] = { -1, -1, -1 };
    const int st[3] = { 10, 10, 10 };
    make_run(&r[0], "aug", "pcgrad", la, none, st, 0.40, 0.45);
    make_run(&r[1], "aug", "pcgrad", lb, none, st, 0.30, 0.35);
    /* dual pcgrad: conflict rates weighted by steps: (0.5*10 + 0.2*30 + 0*0)/40
     * -> 11/40; the second run (0.1 every epoch of 10 steps) -> 0.1 */
    const double lc[3] = { 0.3, 0.4, 0.5 }, cc[3] = { 0.5, 0.2, -1 }, cd[3] = { 0.1, 0.1, 0.1 };
    const int sc[3] = { 10, 30, 0 };
    make_run(&r[2], "dual", "pcgrad", lc, cc, sc, 0.20, 0.25);
    /* an interleaved aug run joins the aug group; a dual run without a wild set */
    make_run(&r[3], "dual", "pcgrad", lb, cd, st, 0.10, -1);
    /* one-path runs record whatever alignment and BatchNorm defaults were
     * current: they still join the aug group (and no label says joint-bn) */
    make_run_bn(&r[4], "aug", "none", "joint", la, none, st, 0.50, 0.55);
    /* a dual run with joint statistics is a regime of its own */
    make_run_bn(&r[5], "dual", "pcgrad", "joint", lb, cd, st, 0.05, 0.06);
    sdd_compare_run s;
    sdd_compare_run_stats(&r[0], &s);
    CHECK(s.best_loss_epoch == 3 && isnan(s.conflict_rate));
    sdd_compare_run_stats(&r[1], &s);
    CHECK(s.best_loss_epoch == 2);
    sdd_compare_run_stats(&r[2], &s);
    CHECK(s.best_loss_epoch == 1);
    CHECK_NEAR(s.conflict_rate, 11.0 / 40.0, 1e-15);
    sdd_err e;
    char *t = sdd_compare_table(r, 6, &e);
    CHECK(t != NULL);
    if (t) {
        const char *a = row(t, "aug"), *d = row(t, "dual pcgrad");
        CHECK_MSG(a && d && a < d, "%s", t);
        CHECK(strstr(t, "eval EER %") && strstr(t, "wild EER %") && strstr(t, "best-loss epoch"));
        /* aug: 3 runs; eval EER 40, 30, 50 -> 40 +- 10; wild 45 +- 10; final
         * dev 25 +- 0; best-loss epochs 3, 2, 3 -> 2.7 +- 0.6; no conflicts */
        if (a) {
            CHECK(strstr(a, " 40.00 +- 10.00 ") && strstr(a, " 45.00 +- 10.00 ") && strstr(a, " 25.00 +- 0.00 "));
            CHECK(strstr(a, " 2.7 +- 0.6 "));
            CHECK(a[strcspn(a, "\n") - 1] == '-');
            CHECK(!strncmp(a + 30, "    3 ", 6));
        }
        /* dual pcgrad: eval 20, 10 -> 15 +- 7.07; wild only in one run: 25 (1);
         * epochs 1, 2 -> 1.5 +- 0.7; conflicts 27.5, 10 -> 18.75 +- 12.37 */
        if (d) {
            CHECK_MSG(strstr(d, " 15.00 +- 7.07 ") && strstr(d, " 25.00 (1) ") && strstr(d, " 1.5 +- 0.7 ") &&
                      strstr(d, " 18.8 +- 12.4\n"), "%s", d);
        }
        const char *j = row(t, "dual pcgrad joint-bn");
        CHECK_MSG(j && d && j > d && strstr(j, " 5.00 ") && !strncmp(j + 30, "    1 ", 6), "%s", t);
        CHECK_MSG(!strstr(t, "aug joint-bn") && !row(t, "aug none"), "%s", t);
        CHECK(!strstr(t, "nan"));
        free(t);
    }
    /* --align-groups: per-layer alignment is a regime of its own; "whole"
     * and a run from before the option (no key) are the same one */
    snprintf(r[3].align_groups, sizeof r[3].align_groups, "whole");
    snprintf(r[5].align_groups, sizeof r[5].align_groups, "block");
    t = sdd_compare_table(r, 6, &e);
    CHECK(t != NULL);
    if (t) {
        const char *d = row(t, "dual pcgrad"), *g = row(t, "dual pcgrad/block joint-bn");
        CHECK_MSG(d && !strncmp(d + 30, "    2 ", 6) && g && !strncmp(g + 30, "    1 ", 6), "%s", t);
        CHECK_MSG(!row(t, "dual pcgrad joint-bn"), "%s", t);
        free(t);
    }
    for (int i = 0; i < 6; i++) sdd_runlog_free(&r[i]);
    CHECK(sdd_compare_table(r, 0, &e) == NULL);
    CHECK_STR_CONTAINS(e.msg, "no runs");
}

/* DIR/flac/ID.flac and train/dev/eval/eval-wild protocols: n bona fide (a
 * noisy 200 Hz tone) and n spoof (noise) clips per split, 0.3 s each */
static int make_corpus(const char *dir, int n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/flac", dir);
    if (mkdir(dir, 0755) || mkdir(p, 0755)) return -1;
    const char *split[4] = { "train", "dev", "eval", "eval-wild" };
    unsigned s = 7;
    float x[4800];
    sdd_err e;
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s.txt", dir, split[k]);
        FILE *f = fopen(p, "w");
        if (!f) return -1;
        for (int i = 0; i < 2 * n; i++) {
            const int bona = i % 2 == 0;
            for (int j = 0; j < 4800; j++) {
                s = s * 1103515245u + 12345u;
                const double u = ((s >> 8) & 0xffff) / 32768.0 - 1.0;
                x[j] = (float)(bona ? 0.4 * sin(2 * M_PI * 200.0 * j / 16000) + 0.05 * u : 0.3 * u);
            }
            char id[64], fp[600];
            snprintf(id, sizeof id, "C_%c%c_%04d", split[k][0], k == 3 ? 'w' : 'c', i);   /* k == 3: eval-wild */
            snprintf(fp, sizeof fp, "%s/flac/%s.flac", dir, id);
            if (sdd_audio_save(fp, x, 4800, 16000, &e)) { fclose(f); return -1; }
            if (k == 3) fprintf(f, "spk%d %s mp3_32k - %s %s notrim eval\n", i % 3, id, bona ? "bonafide" : "A01", bona ? "bonafide" : "spoof");
            else fprintf(f, "spk%d_%d %s - %s %s\n", k, i % 3, id, bona ? "-" : "A01", bona ? "bonafide" : "spoof");
        }
        fclose(f);
    }
    return 0;
}

static void demo_compare(void)
{
    char corpus[300], p[600];
    snprintf(corpus, sizeof corpus, "%s/corpus", tmp);
    CHECK(make_corpus(corpus, 3) == 0);
    /* the script's settings: the demo's, made tiny through its own knobs */
    char env[1500];
    snprintf(env, sizeof env,
             "SDD_CORPUS=%s SDD_COMPARE_OUT=%s/cmp SDD_COMPARE_SEEDS=1,2 SDD_COMPARE_REGIMES='aug pcgrad pcgrad-joint pcgrad-block' "
             "SDD_DEMO_EPOCHS=1 SDD_DEMO_BATCH=2 SDD_DEMO_CUT=4000 SDD_COMPARE_TRAIN_ARGS='--max-steps 2 --threads 2'",
             corpus, tmp);
    /* one seed first, then the second added to the same folder (seeds are
     * not part of the settings key): seed 1 is kept, seed 2 trained */
    int rc = run("%s SDD_COMPARE_SEEDS=1 scripts/demo-compare", env);
    CHECK_MSG(rc == 0, "demo-compare seeds 1 exit %d: %s", rc, out);
    snprintf(p, sizeof p, "%s/cmp/dual-pcgrad/seed-2", tmp);
    CHECK(!exists(p));
    rc = run("%s scripts/demo-compare", env);
    CHECK_MSG(rc == 0, "demo-compare exit %d: %s", rc, out);
    CHECK_MSG(strstr(out, "finished already") != NULL, "seed 1 retrained: %s", out);
    const char *t = strstr(out, "== the comparison");
    CHECK_MSG(t != NULL, "%s", out);
    if (t) {
        const char *a = row(t, "aug"), *d = row(t, "dual pcgrad"), *j = row(t, "dual pcgrad joint-bn");
        CHECK_MSG(a && d && j && d != j, "%s", t);
        /* two seeds each; eval and wild EERs as numbers; aug has no conflicts */
        CHECK(a && !strncmp(a + 30, "    2 ", 6));
        CHECK(d && !strncmp(d + 30, "    2 ", 6));
        CHECK(j && !strncmp(j + 30, "    2 ", 6));
        const char *g = row(t, "dual pcgrad/block");   /* --align-groups block: a regime of its own */
        CHECK_MSG(g && !strncmp(g + 30, "    2 ", 6), "%s", t);
        if (j) CHECK(j[strcspn(j, "\n") - 1] != '-');
        CHECK(strstr(t, "eval EER %") && strstr(t, "wild EER %"));
        if (a) CHECK(a[strcspn(a, "\n") - 1] == '-');
        if (d) CHECK(d[strcspn(d, "\n") - 1] != '-');
        CHECK(!strstr(t, "nan"));
    }
    snprintf(p, sizeof p, "%s/cmp/table.txt", tmp);
    CHECK(exists(p));
    /* then each regime against the first (no 'none' here): sdd compare's blocks */
    CHECK_STR_CONTAINS(out, "== eval: pcgrad against aug (sdd compare, seeds 1,2 paired) ==\nA - B      mean over the pairs");
    CHECK_STR_CONTAINS(out, "== wild: pcgrad-block against aug");
    CHECK_STR_CONTAINS(out, "    runs and trials resampled:  CI ");
    CHECK(!strstr(out, "sdd compare failed"));
    /* the joint regime trained with the reference's joint statistics */
    CHECK(run("grep -q '\"bn-stats\": \"joint\"' %s/cmp/dual-pcgrad-joint/seed-1/config.json", tmp) == 0);
    CHECK(run("grep -q '\"bn-stats\": \"per-path\"' %s/cmp/dual-pcgrad/seed-1/config.json", tmp) == 0);
    snprintf(p, sizeof p, "%s/cmp/dual-pcgrad/seed-2/model.safetensors", tmp);
    CHECK(exists(p));
    /* again: every seed is finished, only the table is made */
    rc = run("%s scripts/demo-compare", env);
    CHECK_MSG(rc == 0 && strstr(out, "finished already") && strstr(out, "dual pcgrad"), "rerun exit %d: %s", rc, out);
    /* other settings into the same folder: refused, the runs kept */
    rc = run("%s SDD_DEMO_LR=0.1 scripts/demo-compare", env);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "holds runs with other settings");
    CHECK(exists(p));
    rc = run("%s SDD_COMPARE_REGIMES='aug sgd' scripts/demo-compare", env);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "unknown regime 'sgd'");
    rc = run("SDD_CORPUS=%s SDD_COMPARE_OUT=%s/cmp2 scripts/demo-compare", tmp, tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "train.txt: missing");
    CHECK(run("$SDD report --by-regime %s/nothing", tmp) == 1);
    CHECK_STR_CONTAINS(out, "nothing/log.jsonl: cannot open");
}

int main(void)
{
    table();
    const char *bin = cli_bin();
    if (!exists(bin)) {
        printf("SKIP test_compare demo-compare: needs %s (run make)\n", bin);
        return CHECK_DONE("test_compare");
    }
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-compare-%d", (int)getpid());
    mkdir(tmp, 0700);
    demo_compare();
    run("rm -rf %s", tmp);
    return CHECK_DONE("test_compare");
}
