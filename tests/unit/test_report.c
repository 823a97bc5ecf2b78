/* Reading training runs back (src/train/runlog.c) and `sdd report`:
 * per-epoch summaries from a hand-written log (nulls, a resumed epoch,
 * unknown records, a record still being written), bad logs and configs with
 * one-line errors naming file and line, the convergence SVG, and end to end:
 * `sdd train --seeds 1,2` writes two runs and a mean/std summary, and
 * `sdd report` tabulates them and draws the plot. */
#include "check.h"
#include "train/runlog.h"
#include "train/seeds.h"
#include "cli_run.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256];

static const char *LOG =
    "{\"type\": \"step\", \"epoch\": 0, \"step\": 0, \"loss\": 0.7, \"cos\": -0.5, \"conflict\": true, \"seconds\": 1}\n"
    "{\"type\": \"step\", \"epoch\": 0, \"step\": 1, \"loss\": 0.6, \"cos\": 0.25, \"conflict\": false, \"seconds\": 1}\n"
    "{\"type\": \"epoch\", \"epoch\": 0, \"steps\": 2, \"train_loss\": 0.65, \"dev_loss\": 0.5, \"dev_eer\": 0.2, \"conflict_rate\": 0.5, \"seconds\": 10}\n"
    "{\"type\": \"step\", \"epoch\": 1, \"step\": 2, \"loss\": 0.5, \"cos\": 0.5, \"conflict\": false, \"seconds\": 1}\n"
    "{\"type\": \"epoch\", \"epoch\": 1, \"steps\": 1, \"train_loss\": 0.5, \"dev_loss\": 0.45, \"dev_eer\": null, \"conflict_rate\": null, \"seconds\": 5}\n"
    "\n"
    "{\"type\": \"something-new\", \"x\": [1, 2]}\n"
    "{\"type\": \"epoch\", \"epoch\": 1, \"steps\": 1, \"train_loss\": 0.5, \"dev_loss\": 0.4, \"dev_eer\": 0.1, \"conflict_rate\": 0, \"seconds\": 6}\n"
    "{\"type\": \"final\", \"averaged\": 2, \"dev_loss\": 0.41, \"dev_eer\": 0.12, \"threshold\": 0.3}\n"
    "{\"type\": \"eval\", \"name\": \"itw\", \"trials\": 5, \"eer\": 0.25, \"loss\": 0.9}\n"
    "{\"type\": \"step\", \"epoch\": 2, \"st";

static void parse_log(void)
{
    sdd_runlog r;
    sdd_err e;
    sdd_runlog_init(&r);
    CHECK_MSG(sdd_runlog_parse_log(&r, LOG, strlen(LOG), "log.jsonl", &e) == 0, "%s", e.msg);
    CHECK(r.nep == 2 && r.steps == 3 && r.has_final && r.averaged == 2 && r.nev == 1);
    if (r.nep == 2) {
        CHECK(r.ep[0].epoch == 0 && r.ep[0].dev_eer == 0.2 && r.ep[0].conflict_rate == 0.5 && r.ep[0].steps == 2);
        CHECK_NEAR(r.ep[0].mean_cos, -0.125, 1e-12);
        CHECK(r.ep[1].dev_eer == 0.1 && r.ep[1].dev_loss == 0.4 && r.ep[1].seconds == 6);   /* the later record of the epoch */
        CHECK(r.ep[1].conflict_rate == 0);
    }
    int ep;
    CHECK(sdd_runlog_best_eer(&r, &ep) == 0.1 && ep == 1);
    CHECK(r.final_dev_eer == 0.12 && !strcmp(r.ev[0].name, "itw") && r.ev[0].eer == 0.25 && r.ev[0].trials == 5);
    /* the plot: one line per run, labels escaped */
    const char *labels[2] = { "a<b", "run & 2" };
    sdd_runlog two[2] = { r, r };
    char *svg = sdd_runlog_svg(two, labels, 2, &e);
    CHECK(svg != NULL);
    if (svg) {
        int lines = 0;
        for (const char *p = svg; (p = strstr(p, "<polyline")); p++) lines++;
        CHECK(lines == 4);   /* two panels x two runs */
        CHECK_STR_CONTAINS(svg, "a&lt;b");
        CHECK_STR_CONTAINS(svg, "run &amp; 2");
        CHECK(!strstr(svg, "nan"));
        free(svg);
    }
    sdd_runlog_free(&r);
    /* conflict rate from the steps when the epoch record has none */
    const char *L2 = "{\"type\": \"step\", \"epoch\": 3, \"conflict\": true}\n{\"type\": \"step\", \"epoch\": 3, \"conflict\": false}\n"
                     "{\"type\": \"step\", \"epoch\": 3, \"conflict\": true}\n{\"type\": \"step\", \"epoch\": 3, \"conflict\": true}\n";
    sdd_runlog_init(&r);
    CHECK(sdd_runlog_parse_log(&r, L2, strlen(L2), "x", &e) == 0 && r.nep == 1 && r.ep[0].conflict_rate == 0.75 && isnan(r.ep[0].dev_eer));
    sdd_runlog_free(&r);
}

static void bad_log(const char *text, const char *want)
{
    sdd_runlog r;
    sdd_err e;
    sdd_runlog_init(&r);
    int rc = sdd_runlog_parse_log(&r, text, strlen(text), "run/log.jsonl", &e);
    CHECK_MSG(rc == -1, "accepted: %s", text);
    if (rc == -1) {
        CHECK_MSG(!strncmp(e.msg, "run/log.jsonl:", 14) && !strchr(e.msg, '\n'), "message: %s", e.msg);
        CHECK_STR_CONTAINS(e.msg, want);
    }
    sdd_runlog_free(&r);
}

static void bad_inputs(void)
{
    bad_log("{\"type\": \"step\", \"epoch\": 0}\nnot json\n", "log.jsonl:2: not JSON");
    bad_log("[1, 2]\n", ":1: not a log record");
    bad_log("{\"epoch\": 1}\n", ":1: not a log record");
    bad_log("{\"type\": \"epoch\", \"epoch\": -1}\n", "\"epoch\" is not an integer");
    bad_log("{\"type\": \"epoch\", \"epoch\": 1.5}\n", "\"epoch\" is not an integer");
    bad_log("{\"type\": \"step\", \"epoch\": 99999999}\n", "\"epoch\" is not an integer");
    bad_log("{\"type\": \"step\", \"epoch\": 0, \"conflict\": 1}\n", "\"conflict\" is not true or false");
    bad_log("{\"type\": \"step\", \"epoch\": 0, \"cos\": \"x\"}\n", "\"cos\" is not a number");
    bad_log("{\"type\": \"epoch\", \"epoch\": 0, \"dev_eer\": \"low\"}\n", "\"dev_eer\" is not a number");
    bad_log("{\"type\": \"final\", \"dev_eer\": [1]}\n", ":1: a final record");
    bad_log("{\"type\": \"eval\", \"eer\": 0.1}\n", ":1: an eval record needs a \"name\"");
    bad_log("{\"type\": \"step\", \"epoch\": 0, \"cos\": nan}\n", ":1: not JSON");
    bad_log("{\"type\": \"step\", \"epoch\": 0}\x01\n", ":1: not JSON");
    sdd_runlog r;
    sdd_err e;
    sdd_runlog_init(&r);
    CHECK(sdd_runlog_parse_config(&r, "[]", 2, "run/config.json", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "run/config.json: not a JSON object");
    CHECK(sdd_runlog_parse_config(&r, "{\"model\": 5}", 12, "run/config.json", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "\"model\" is not a string");
    CHECK(sdd_runlog_parse_config(&r, "{\"model\":\n", 10, "run/config.json", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "run/config.json:");
    sdd_runlog_init(&r);   /* a run from before --align-groups aligned the whole vector */
    CHECK(sdd_runlog_parse_config(&r, "{\"align\": \"pcgrad\"}", 19, "run/config.json", &e) == 0 && !strcmp(r.align_groups, "whole"));
    const char *grp = "{\"align\": \"gradvac\", \"align-groups\": \"tensor\"}";
    CHECK(sdd_runlog_parse_config(&r, grp, strlen(grp), "run/config.json", &e) == 0 && !strcmp(r.align_groups, "tensor"));
    CHECK(sdd_runlog_parse_config(&r, "{\"align-groups\": 2}", 19, "run/config.json", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "\"align-groups\" is not a string");
    CHECK(sdd_runlog_load(&r, "/nonexistent/run", &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent/run/log.jsonl: cannot open");
    uint64_t s[SDD_TRAIN_MAX_SEEDS];
    CHECK(sdd_seeds_parse("1,2,3", s, &e) == 3 && s[2] == 3);
    CHECK(sdd_seeds_parse("1,,2", s, &e) == -1);
    CHECK(sdd_seeds_parse("1,1", s, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "given twice");
    CHECK(sdd_seeds_parse("-1", s, &e) == -1);
    CHECK(sdd_seeds_parse("99999999999", s, &e) == -1);
    /* the names of a --seeds run's folders, as the trainer and sdd report read them */
    long long seed = -1;
    CHECK(sdd_seed_dir_name("seed-7", &seed) == 1 && seed == 7);
    CHECK(sdd_seed_dir_name("seed-2147483647", &seed) == 1 && seed == 2147483647LL);
    static const char *const not_seed[] = { "seed-", "seed-x", "seed-1x", "seed-1/", "Seed-1", "seed--1", "seed-+1",
                                            "seed-1234567890123", "xseed-1", "seed-1 " };
    for (size_t k = 0; k < sizeof not_seed / sizeof not_seed[0]; k++)
        CHECK_MSG(sdd_seed_dir_name(not_seed[k], NULL) == 0, "'%s' taken for a seed folder", not_seed[k]);
}

static char out[65536];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

static void end_to_end(void)
{
    char list[400];
    snprintf(list, sizeof list, "%s/list.txt", tmp);
    FILE *f = fopen(list, "w");
    fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\ntts_02.flac spoof\n");
    fclose(f);
    int rc = run("$SDD train --model AASIST-L --batch 2 --cut 4000 --epochs 2 --max-steps 2 --n-best 1 --threads 2 --quiet "
                 "--train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --eval bundled=%s:tests/data/audio "
                 "--seeds 1,2 --out %s/seeds", list, list, list, tmp);
    CHECK_MSG(rc == 0, "train --seeds exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "mean +- sample std over 2 seeds");
    CHECK_STR_CONTAINS(out, "bundled EER");
    char p[600];
    snprintf(p, sizeof p, "%s/seeds/summary.txt", tmp);
    CHECK(cli_exists(p));
    snprintf(p, sizeof p, "%s/seeds/seed-2/model.safetensors", tmp);
    CHECK(cli_exists(p));
    rc = run("$SDD report --svg %s/conv.svg %s/seeds/seed-1 %s/seeds/seed-2/", tmp, tmp, tmp);
    CHECK_MSG(rc == 0, "report exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "seed-1");
    CHECK_STR_CONTAINS(out, "seed-2");
    CHECK_STR_CONTAINS(out, "AASIST-L");
    CHECK_STR_CONTAINS(out, "pcgrad");
    CHECK_STR_CONTAINS(out, "bundled=");
    snprintf(p, sizeof p, "%s/conv.svg", tmp);
    CHECK(cli_exists(p));
    /* the folder of a --seeds run stands for its runs, named with it */
    rc = run("$SDD report %s/seeds", tmp);
    CHECK_MSG(rc == 0 && strstr(out, "seeds/seed-1 ") && strstr(out, "seeds/seed-2 ") && strstr(out, "seeds/seed-1 ") < strstr(out, "seeds/seed-2 "),
              "report of a --seeds folder: exit %d: %s", rc, out);
    /* resume skips finished seeds */
    rc = run("$SDD train --model AASIST-L --batch 2 --cut 4000 --epochs 2 --max-steps 2 --n-best 1 --threads 2 --resume "
             "--train %s --train-audio tests/data/audio --dev %s --dev-audio tests/data/audio --seeds 1,2 --out %s/seeds", list, list, tmp);
    CHECK_MSG(rc == 0 && strstr(out, "finished already"), "resume exit %d: %s", rc, out);
    /* a time no run takes (a hand-edited log): not shown, rather than a negative number of hours */
    rc = run("cp -a %s/seeds/seed-1 %s/huge && sed -i -E '/\"type\": \"epoch\"/ s/\"seconds\": [0-9.e+-]+/\"seconds\": 1e308/' %s/huge/log.jsonl "
             "&& $SDD report %s/huge", tmp, tmp, tmp, tmp);
    CHECK_MSG(rc == 0 && strstr(out, "huge ") && !strstr(out, "h00m") && !strstr(out, "-2147483648"), "exit %d: %s", rc, out);
    /* bad runs: one line naming the file, no plot written */
    snprintf(p, sizeof p, "%s/seeds/seed-2/log.jsonl", tmp);
    f = fopen(p, "a");
    fprintf(f, "{broken\n");
    fclose(f);
    rc = run("$SDD report --svg %s/bad.svg %s/seeds/seed-1 %s/seeds/seed-2", tmp, tmp, tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "seed-2/log.jsonl:");
    CHECK_STR_CONTAINS(out, "not JSON");
    snprintf(p, sizeof p, "%s/bad.svg", tmp);
    CHECK(!cli_exists(p));
    rc = run("$SDD report %s/none", tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "none/log.jsonl: cannot open");
    CHECK(run("$SDD report") == 2);
    CHECK(run("$SDD train --seeds 1,x --train a --dev b --out c") == 2);
}

int main(void)
{
    cli_bin();
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-report-%d", (int)getpid());
    mkdir(tmp, 0700);
    parse_log();
    bad_inputs();
    end_to_end();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return CHECK_DONE("test_report");
}
