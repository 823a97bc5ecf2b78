/* Tests for sdd eval's input handling (src/metrics/evaluate.c, match.c,
 * det_svg.c): bad evaluations and their exact error texts, score/key ID
 * matching (exact, base name, stem; ambiguity errors), --breakdown tables,
 * the DET curve as SVG, NaN scores and single-class keys through a whole
 * evaluation. The metric values themselves are tested in test_metrics.c. */
#include "check.h"
#include "metrics/metrics.h"
#include "metrics/scores.h"
#include "metrics/evaluate.h"
#include "metrics/match.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DATA "tests/data/metrics/"

static char tmpdir[64];
static char tmpnames[64][32];
static int ntmp;

/* a fresh temporary folder for one test function; tmp_end removes it */
static int tmp_begin(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sdd_test_metrics_XXXXXX");
    ntmp = 0;
    if (!mkdtemp(tmpdir)) { CHECK(0); return 0; }
    return 1;
}

/* writes text to tmpdir/name; the path stays valid for the next 15 calls */
static const char *tmpfile_with(const char *name, const char *text)
{
    static char path[16][128];
    static int k;
    char *p = path[k++ % 16];
    snprintf(p, 128, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    if (f) { fputs(text, f); fclose(f); }
    int known = 0;
    for (int i = 0; i < ntmp; i++) known |= !strcmp(tmpnames[i], name);
    if (!known && ntmp < 64) snprintf(tmpnames[ntmp++], sizeof tmpnames[0], "%s", name);
    return p;
}

static void tmp_end(void)
{
    for (int i = 0; i < ntmp; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/%s", tmpdir, tmpnames[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

static void test_eval_errors(void)
{
    if (!tmp_begin()) return;
    const char *key = tmpfile_with("key.txt", "S1 u1 - - bonafide\nS1 u2 - A07 spoof\nS1 u3 - A08 spoof\n"
                                              "S1 u4 - - bonafide\nS1 u5 - A07 spoof\nS1 u6 - A07 spoof\n");
    const char *sc = tmpfile_with("s.txt", "u1 1\nu2 0.5\nu3 -1\nu4 2\nzz 3\n");
    sdd_eval_report r;
    sdd_err e;
    char want[512];
    sdd_eval_opts o = { .scores = sc, .key = key };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: no score for 2 of the 6 trials in %s (first: u5, u6)", sc, key);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    o.allow_missing = 1;
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_bona == 2 && r.n_spoof == 2 && r.n_missing == 2 && r.n_unused == 1 && r.nwarn == 2);
    snprintf(want, sizeof want, "%s: no score for 2 of the 6 trials in %s (first: u5, u6); skipped", sc, key);
    CHECK(r.nwarn == 2 && !strcmp(r.warnings[0], want));
    snprintf(want, sizeof want, "%s: 1 scores have no trial in %s; ignored (first: zz, line 5)", sc, key);
    CHECK(r.nwarn == 2 && !strcmp(r.warnings[1], want));
    CHECK(r.eer.eer == 0.0);
    sdd_eval_report_free(&r);

    /* four missing: the first three and "..." */
    const char *sc4 = tmpfile_with("s4.txt", "u1 1\nu2 0.5\n");
    o = (sdd_eval_opts){ .scores = sc4, .key = key };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: no score for 4 of the 6 trials in %s (first: u3, u4, u5, ...)", sc4, key);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);

    /* ID SCORE without a key */
    o = (sdd_eval_opts){ .scores = sc };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: 'ID SCORE' files carry no labels: a key file is needed", sc);
    CHECK(!strcmp(e.msg, want));

    /* a 2019 CM file whose labels disagree with the key */
    const char *cm = tmpfile_with("cm.txt", "u1 - bonafide 1\nu2 A07 bonafide 2\n");
    o = (sdd_eval_opts){ .scores = cm, .key = key, .allow_missing = 1 };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s:2: u2 is labelled bonafide here but spoof in %s", cm, key);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);

    /* only one class */
    const char *sb = tmpfile_with("sb.txt", "u1 1\nu4 2\n");
    o = (sdd_eval_opts){ .scores = sb, .key = key, .allow_missing = 1 };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: no spoof trials among the 2 scored: the EER is undefined without both "
             "bona fide and spoof trials", key);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);

    /* a trial list is not a key; a key without subsets has none to select */
    const char *trials = tmpfile_with("trials.txt", "u1\nu2\n");
    o = (sdd_eval_opts){ .scores = sc, .key = trials };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: is a trial list without labels, not a key", trials);
    CHECK(!strcmp(e.msg, want));
    o = (sdd_eval_opts){ .scores = sc, .key = key, .subset = "eval" };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: has no subset column to select 'eval' from", key);
    CHECK(!strcmp(e.msg, want));

    /* binary CM scores: EER fine, min t-DCF refused with a warning */
    const char *bin = tmpfile_with("bin.txt", "u1 1\nu2 0\nu3 0\nu4 1\nu5 0\nu6 0\n");
    const char *asv = tmpfile_with("asv.txt", "a target 2\nb target 3\nc nontarget -1\nd spoof 1\n");
    o = (sdd_eval_opts){ .scores = bin, .key = key, .asv_scores = asv };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.eer.eer == 0.0 && isnan(r.tdcf.min_tdcf) && r.nwarn == 1);
    CHECK(r.nwarn == 1 && strstr(r.warnings[0], "no min t-DCF: min t-DCF needs soft scores: only 2 distinct"));
    sdd_eval_report_free(&r);

    /* ASV scores without spoof trials */
    const char *asv2 = tmpfile_with("asv2.txt", "a target 2\nb target 3\nc nontarget -1\n");
    o.asv_scores = asv2;
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: the ASV scores have no spoof trials (needed for the t-DCF)", asv2);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);

    /* 2021 ASV scores paired with a key: trial mismatch and count mismatch */
    const char *ak = tmpfile_with("ak.txt", "S t1 none - bonafide target notrim eval\nS t2 none - A07 spoof notrim eval\n");
    const char *as1 = tmpfile_with("as1.txt", "S t1 1\nS t3 2\n");
    const char *as2 = tmpfile_with("as2.txt", "S t1 1\n");
    sdd_asv_scores a;
    CHECK(sdd_asv_load(as1, ak, NULL, &a, &e) == -1);
    snprintf(want, sizeof want, "%s:2: trial t3, but line 2 of the ASV key %s has t2", as1, ak);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    CHECK(sdd_asv_load(as2, ak, NULL, &a, &e) == -1);
    snprintf(want, sizeof want, "%s: fewer entries than the ASV key %s (the 2021 ASV scores pair with the key "
             "line by line)", as2, ak);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    const char *as3 = tmpfile_with("as3.txt", "S t1 1\nS t2 -0.5\n");
    CHECK(sdd_asv_load(as3, ak, "eval", &a, &e) == 0);
    CHECK(a.n == 2 && a.cls[0] == SDD_ASV_TARGET && a.cls[1] == SDD_ASV_SPOOF && !strcmp(a.attack[1], "A07") &&
          a.attack[0] == NULL && !strcmp(a.codec[0], "none"));
    sdd_asv_free(&a);
    CHECK(sdd_asv_load(as3, ak, "progress", &a, &e) == -1);
    snprintf(want, sizeof want, "%s: no ASV trials in subset 'progress'", ak);
    CHECK(!strcmp(e.msg, want));

    tmp_end();
}


/* ---- score/key ID matching ---- */

static int view_is(const char *id, int rule, const char *want)
{
    size_t n;
    const char *p = sdd_match_view(id, rule, &n);
    return n == strlen(want) && !memcmp(p, want, n);
}

static void test_match_ids(void)
{
    CHECK(view_is("wav/LA_E_1234567.flac", SDD_MATCH_EXACT, "wav/LA_E_1234567.flac"));
    CHECK(view_is("wav/LA_E_1234567.flac", SDD_MATCH_BASENAME, "LA_E_1234567.flac"));
    CHECK(view_is("wav/LA_E_1234567.flac", SDD_MATCH_STEM, "LA_E_1234567"));
    CHECK(view_is("/data/itw/0.wav", SDD_MATCH_BASENAME, "0.wav"));
    CHECK(view_is("/data/itw/0.wav", SDD_MATCH_STEM, "0"));
    CHECK(view_is("C:\\data\\x.tar.gz", SDD_MATCH_STEM, "x.tar"));
    CHECK(view_is("a.b/c", SDD_MATCH_STEM, "c"));         /* a dot in a folder is no extension */
    CHECK(view_is("dir/.hidden", SDD_MATCH_STEM, ".hidden"));
    CHECK(view_is("dir/", SDD_MATCH_BASENAME, ""));
    CHECK(!strcmp(sdd_match_rule_name(SDD_MATCH_STEM), "base name without extension") &&
          sdd_match_rule_name(7) == NULL);

    sdd_err e;
    int64_t sk[8];
    signed char rule[8];
    /* each rule, and the earlier rule winning */
    {
        const char *kid[] = { "LA_E_1", "LA_E_2", "0.wav", "1.wav", "u9" };
        const int kl[] = { 1, 2, 3, 4, 5 };
        const char *sid[] = { "/x/0.wav", "wav/LA_E_2.flac", "LA_E_1", "1.flac", "other/LA_E_1.wav", "zz" };
        const int sl[] = { 1, 2, 3, 4, 5, 6 };
        CHECK(sdd_match_ids(kid, kl, 5, "k", sid, sl, 6, "s", sk, rule, &e) == 0);
        CHECK(sk[0] == 2 && rule[0] == SDD_MATCH_EXACT);       /* other/LA_E_1.wav stays unused */
        CHECK(sk[1] == 1 && rule[1] == SDD_MATCH_STEM);
        CHECK(sk[2] == 0 && rule[2] == SDD_MATCH_BASENAME);
        CHECK(sk[3] == 3 && rule[3] == SDD_MATCH_STEM);        /* 1.flac and 1.wav share the stem 1 */
        CHECK(sk[4] == -1 && rule[4] == SDD_MATCH_NONE);
    }
    /* two score lines, one key ID */
    {
        const char *kid[] = { "LA_E_1", "LA_E_2" };
        const int kl[] = { 1, 2 };
        const char *sid[] = { "LA_E_2", "a/LA_E_1.wav", "b/LA_E_1.flac" };
        const int sl[] = { 1, 3, 4 };
        CHECK(sdd_match_ids(kid, kl, 2, "k.txt", sid, sl, 3, "s.txt", sk, rule, &e) == -1);
        CHECK_MSG(!strcmp(e.msg, "s.txt:4: ambiguous: score IDs a/LA_E_1.wav (line 3) and b/LA_E_1.flac (line 4) "
                                 "both match key ID LA_E_1 by base name without extension"), "got '%s'", e.msg);
        CHECK(sk[0] == -1 && sk[1] == -1);
        const char *sid2[] = { "x/0.wav", "y/0.wav" };
        const char *kid2[] = { "0.wav" };
        CHECK(sdd_match_ids(kid2, kl, 1, "k.txt", sid2, sl, 2, "s.txt", sk, rule, &e) == -1);
        CHECK_MSG(!strcmp(e.msg, "s.txt:3: ambiguous: score IDs x/0.wav (line 1) and y/0.wav (line 3) both match "
                                 "key ID 0.wav by base name"), "got '%s'", e.msg);
    }
    /* one score ID, several key IDs: also when one of them is already matched */
    {
        const char *kid[] = { "a/x.wav", "b/x.wav", "c" };
        const int kl[] = { 2, 7, 9 };
        const char *sid[] = { "c", "x.wav" };
        const int sl[] = { 1, 2 };
        CHECK(sdd_match_ids(kid, kl, 3, "k.txt", sid, sl, 2, "s.txt", sk, rule, &e) == -1);
        CHECK_MSG(!strcmp(e.msg, "s.txt:2: ambiguous: score ID x.wav matches key IDs a/x.wav (k.txt:2) and b/x.wav "
                                 "(k.txt:7) by base name"), "got '%s'", e.msg);
        const char *sid2[] = { "a/x.wav", "x.wav" };
        CHECK(sdd_match_ids(kid, kl, 3, "k.txt", sid2, sl, 2, "s.txt", sk, rule, &e) == -1);
        CHECK_MSG(!strcmp(e.msg, "s.txt:2: ambiguous: score ID x.wav matches key IDs a/x.wav (k.txt:2) and b/x.wav "
                                 "(k.txt:7) by base name"), "got '%s'", e.msg);
        /* both already matched exactly: the extra line is just unused */
        const char *sid3[] = { "a/x.wav", "b/x.wav", "x.wav" };
        const int sl3[] = { 1, 2, 3 };
        CHECK(sdd_match_ids(kid, kl, 3, "k.txt", sid3, sl3, 3, "s.txt", sk, rule, &e) == 0);
        CHECK(sk[0] == 0 && sk[1] == 1 && sk[2] == -1 && rule[0] == SDD_MATCH_EXACT);
    }
    /* key IDs with folders, score IDs without: the base name rule pairs them */
    {
        const char *kid[] = { "set/a.wav", "set/b.wav" };
        const int kl[] = { 1, 2 };
        const char *sid[] = { "b.wav", "a" };
        CHECK(sdd_match_ids(kid, kl, 2, "k", sid, kl, 2, "s", sk, rule, &e) == 0);
        CHECK(sk[0] == 1 && rule[0] == SDD_MATCH_STEM && sk[1] == 0 && rule[1] == SDD_MATCH_BASENAME);
    }
}

/* whole evaluations with path-like score IDs */
static void test_eval_id_match(void)
{
    if (!tmp_begin()) return;
    sdd_eval_report r;
    sdd_err e;
    char want[1024];
    const char *key = tmpfile_with("key.txt", "S1 LA_E_1 - - bonafide\nS1 LA_E_2 - A07 spoof\nS1 LA_E_3 - A08 spoof\n"
                                              "S1 LA_E_4 - - bonafide\nS1 LA_E_5 - A07 spoof\nS1 LA_E_6 - A07 spoof\n");
    const char *sc = tmpfile_with("s.txt", "LA_E_1 1\nLA_E_2 0.5\n/data/LA_E_3 -1\nwav/LA_E_4.flac 2\n"
                                           "wav/LA_E_5.flac 0.1\n./LA_E_6 0\n");
    sdd_eval_opts o = { .scores = sc, .key = key };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_matched[SDD_MATCH_EXACT] == 2 && r.n_matched[SDD_MATCH_BASENAME] == 2 &&
          r.n_matched[SDD_MATCH_STEM] == 2 && r.nwarn == 0 && r.n_unused == 0);
    CHECK(r.eer.eer == 0.0 && r.n_bona == 2 && r.n_spoof == 4);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sdd_eval_print(&r, m);
    CHECK(sdd_eval_write_json(&r, &o, m, &e) == 0);
    fclose(m);
    CHECK_STR_CONTAINS(buf, "IDs        2 matched exactly, 2 by base name, 2 by base name without extension\n");
    CHECK_STR_CONTAINS(buf, "\"id_match\": {\n    \"exact\": 2,\n    \"basename\": 2,\n    \"stem\": 2\n  }");
    free(buf);
    sdd_eval_report_free(&r);

    /* In-the-Wild: meta.csv names files, sdd score DIR wrote paths */
    const char *meta = tmpfile_with("meta.csv", "file,speaker,label\n0.wav,A,spoof\n1.wav,B,bona-fide\n"
                                                "2.wav,C,bona-fide\n3.wav,D,spoof\n");
    const char *isc = tmpfile_with("is.txt", "/data/itw/0.wav 0.2\n/data/itw/1.wav 1.5\n/data/itw/2.wav -0.3\n"
                                             "/data/itw/3.wav 1.6\n");
    o = (sdd_eval_opts){ .scores = isc, .key = meta };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.n_matched[SDD_MATCH_BASENAME] == 4 && r.n_matched[SDD_MATCH_EXACT] == 0 && r.eer.eer == 0.5);
    sdd_eval_report_free(&r);

    /* ambiguous: two score lines for LA_E_2 */
    const char *amb = tmpfile_with("amb.txt", "LA_E_1 1\na/LA_E_2.wav 0.5\nLA_E_3 -1\nb/LA_E_2.flac 2\n");
    o = (sdd_eval_opts){ .scores = amb, .key = key, .allow_missing = 1 };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s:4: ambiguous: score IDs a/LA_E_2.wav (line 2) and b/LA_E_2.flac (line 4) both "
             "match key ID LA_E_2 by base name without extension", amb);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    /* ambiguous: one score line, two key IDs (a plain list key names paths) */
    const char *pk = tmpfile_with("pk.txt", "a/x.wav bonafide\nb/x.wav spoof\nc.wav spoof\n");
    const char *ps = tmpfile_with("ps.txt", "c.wav 1\nx.wav 2\n");
    o = (sdd_eval_opts){ .scores = ps, .key = pk, .allow_missing = 1 };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s:2: ambiguous: score ID x.wav matches key IDs a/x.wav (%s:1) and b/x.wav (%s:2) "
             "by base name", ps, pk, pk);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    /* nothing matches at all: the error shows what the score IDs look like */
    const char *none = tmpfile_with("none.txt", "trial_a 1\ntrial_b 2\n");
    o = (sdd_eval_opts){ .scores = none, .key = key };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: no score for 6 of the 6 trials in %s (first: LA_E_1, LA_E_2, LA_E_3, ...); no "
             "score ID matches a key ID exactly, by base name or by base name without extension (score IDs look "
             "like 'trial_a')", none, key);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    tmp_end();
}

/* ---- --breakdown ---- */

static char *print_of(const sdd_eval_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sdd_eval_print(r, m);
    fclose(m);
    return buf;
}

static void test_breakdown(void)
{
    CHECK(sdd_breakdown_parse("attack") == SDD_BREAKDOWN_ATTACK &&
          sdd_breakdown_parse("condition") == SDD_BREAKDOWN_CONDITION &&
          sdd_breakdown_parse("both") == SDD_BREAKDOWN_BOTH && sdd_breakdown_parse("codec") == -1 &&
          sdd_breakdown_parse(NULL) == -1);
    sdd_eval_report r;
    sdd_err e;
    sdd_eval_opts o = { .scores = DATA "asv21_la_scores.txt", .key = DATA "asv21_la_key.txt" };
    const int modes[] = { 0, SDD_BREAKDOWN_BOTH, SDD_BREAKDOWN_ATTACK, SDD_BREAKDOWN_CONDITION };
    for (int i = 0; i < 4; i++) {
        o.breakdown = modes[i];
        CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
        CHECK(r.nwarn == 0 && r.table.nrow == 5 && r.table.ncol == 5);
        char *txt = print_of(&r);
        const int both = modes[i] == 0 || modes[i] == SDD_BREAKDOWN_BOTH;
        CHECK_MSG(!!strstr(txt, "rows = attack (its spoof trials vs all bona fide), columns = condition") == both,
                  "mode %d:\n%s", modes[i], txt);
        CHECK(!!strstr(txt, "per attack: its spoof trials vs all bona fide, conditions pooled") ==
              (modes[i] == SDD_BREAKDOWN_ATTACK));
        CHECK(!!strstr(txt, "per condition: bona fide and spoof trials of the condition, attacks pooled") ==
              (modes[i] == SDD_BREAKDOWN_CONDITION));
        if (modes[i] == SDD_BREAKDOWN_ATTACK) {
            /* the pooled column: A07 vs all bona fide over every codec */
            char line[128];
            const size_t k = (size_t)0 * r.table.ncol + (r.table.ncol - 1);
            snprintf(line, sizeof line, "\nA07              %lld       %lld %10.4f %10.4f\n", (long long)r.table.n_bona[k],
                     (long long)r.table.n_spoof[k], r.table.eer[k] * 100.0, r.table.min_dcf[k]);
            CHECK_STR_CONTAINS(txt, line);
            CHECK(!strstr(txt, "C1:none"));
        }
        if (modes[i] == SDD_BREAKDOWN_CONDITION) {
            CHECK_STR_CONTAINS(txt, "\nC7:opus ");
            CHECK(!strstr(txt, "\nA07 "));
        }
        free(txt);
        /* the JSON keeps every table whatever is printed */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        CHECK(sdd_eval_write_json(&r, &o, m, &e) == 0);
        fclose(m);
        CHECK_STR_CONTAINS(buf, "\"rows\": [\n      \"A07\",");
        CHECK_STR_CONTAINS(buf, "\"columns\": [\n      \"none\",");
        free(buf);
        sdd_eval_report_free(&r);
    }
    /* DF: the vocoder table follows the attack factor */
    sdd_eval_opts d = { .scores = DATA "asv21_df_scores.txt", .key = DATA "asv21_df_key.txt",
                        .breakdown = SDD_BREAKDOWN_ATTACK };
    CHECK_MSG(sdd_eval_run(&d, &r, &e) == 0, "%s", e.msg);
    char *txt = print_of(&r);
    CHECK_STR_CONTAINS(txt, "per vocoder type: its spoof trials vs all bona fide, conditions pooled");
    CHECK(!strstr(txt, "rows = vocoder type"));
    free(txt);
    sdd_eval_report_free(&r);
    d.breakdown = SDD_BREAKDOWN_CONDITION;
    CHECK_MSG(sdd_eval_run(&d, &r, &e) == 0, "%s", e.msg);
    txt = print_of(&r);
    CHECK(!strstr(txt, "vocoder"));
    CHECK_STR_CONTAINS(txt, "per condition");
    free(txt);
    sdd_eval_report_free(&r);
    /* 2019: attacks only; asking for conditions is a warning, not an error */
    sdd_eval_opts n = { .scores = DATA "asv19_scores.txt", .key = DATA "asv19_protocol.txt",
                        .breakdown = SDD_BREAKDOWN_CONDITION };
    CHECK_MSG(sdd_eval_run(&n, &r, &e) == 0, "%s", e.msg);
    CHECK(r.nwarn == 1 && !strcmp(r.warnings[0], DATA "asv19_protocol.txt: no conditions (codecs): no "
                                                   "per-condition table"));
    txt = print_of(&r);
    CHECK(!strstr(txt, "per attack") && !strstr(txt, "per condition"));
    free(txt);
    sdd_eval_report_free(&r);
    n.breakdown = 0;
    CHECK_MSG(sdd_eval_run(&n, &r, &e) == 0, "%s", e.msg);
    CHECK(r.nwarn == 0);
    txt = print_of(&r);
    CHECK_STR_CONTAINS(txt, "per attack: its spoof trials vs all bona fide\n");
    free(txt);
    sdd_eval_report_free(&r);
    /* In-the-Wild: neither factor */
    sdd_eval_opts w = { .scores = DATA "itw_scores.txt", .key = DATA "itw_meta.csv", .breakdown = SDD_BREAKDOWN_BOTH };
    CHECK_MSG(sdd_eval_run(&w, &r, &e) == 0, "%s", e.msg);
    CHECK(r.nwarn == 2 && strstr(r.warnings[0], "no attacks of spoof trials: no per-attack table"));
    sdd_eval_report_free(&r);
}

/* ---- DET SVG ---- */

/* Well-formedness of the subset of XML the SVG writer uses: every element
 * closed in order, quoted attributes, entities among the five predefined,
 * nothing after the root. */
static int xml_ok(const char *s, char *why, size_t wn)
{
    char stack[32][32];
    int depth = 0, roots = 0;
    const char *p = s;
    while (*p) {
        if (*p == '&') {
            if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) && strncmp(p, "&quot;", 6) &&
                strncmp(p, "&apos;", 6)) { snprintf(why, wn, "bad entity at %d", (int)(p - s)); return 0; }
            p++;
            continue;
        }
        if (*p == '>') { snprintf(why, wn, "stray > at %d", (int)(p - s)); return 0; }
        if (*p != '<') {
            if (depth == 0 && !strchr(" \n\t", *p)) { snprintf(why, wn, "text outside the root"); return 0; }
            p++;
            continue;
        }
        const int closing = p[1] == '/';
        const char *n = p + 1 + closing;
        size_t k = strcspn(n, " \n\t/>");
        if (k == 0 || k >= 32) { snprintf(why, wn, "bad tag name at %d", (int)(p - s)); return 0; }
        /* attributes: name="value" with no '<' inside */
        const char *q = n + k;
        char quote = 0;
        for (; *q && (quote || (*q != '>')); q++) {
            if (quote && *q == '<') { snprintf(why, wn, "< in an attribute at %d", (int)(q - s)); return 0; }
            if (*q == '"' || *q == '\'') quote = quote == *q ? 0 : quote ? quote : *q;
        }
        if (!*q) { snprintf(why, wn, "unterminated tag"); return 0; }
        const int empty = q[-1] == '/';
        if (closing) {
            if (depth == 0 || strlen(stack[depth - 1]) != k || strncmp(stack[depth - 1], n, k)) {
                snprintf(why, wn, "</%.*s> does not close <%s>", (int)k, n, depth ? stack[depth - 1] : "");
                return 0;
            }
            depth--;
        } else {
            if (depth == 0 && roots++) { snprintf(why, wn, "two roots"); return 0; }
            if (!empty) {
                if (depth == 32) { snprintf(why, wn, "too deep"); return 0; }
                snprintf(stack[depth++], 32, "%.*s", (int)k, n);
            }
        }
        p = q + 1;
    }
    if (depth) { snprintf(why, wn, "<%s> not closed", stack[depth - 1]); return 0; }
    return roots == 1;
}

/* the attribute NAME="..." of the first element starting with tag */
static double svg_attr(const char *svg, const char *tag, const char *name)
{
    const char *t = strstr(svg, tag);
    char pat[32];
    snprintf(pat, sizeof pat, " %s=\"", name);
    const char *a = t ? strstr(t, pat) : NULL;
    return a ? strtod(a + strlen(pat), NULL) : NAN;
}

static char *svg_of(const sdd_eval_report *r, const char *label)
{
    char *buf = NULL;
    size_t len = 0;
    sdd_err e;
    FILE *m = open_memstream(&buf, &len);
    int rc = sdd_eval_write_det_svg(r, label, m, &e);
    fclose(m);
    CHECK_MSG(rc == 0, "%s", e.msg);
    return buf;
}

static void check_svg_shape(const char *svg)
{
    char why[128] = "";
    CHECK(!strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39));
    size_t len = strlen(svg);
    CHECK(len > 7 && !strcmp(svg + len - 7, "</svg>\n"));
    CHECK_STR_CONTAINS(svg, "<polyline id=\"det\"");
    CHECK_MSG(xml_ok(svg, why, sizeof why), "SVG not well-formed: %s", why);
    CHECK(!strstr(svg, "nan") && !strstr(svg, "inf"));
}

static void test_det_svg(void)
{
    char why[128];
    CHECK(xml_ok("<svg a=\"1\"><g><line/></g></svg>\n", why, sizeof why));
    CHECK(!xml_ok("<svg><g></svg>", why, sizeof why) && !xml_ok("<svg a=\"<\"></svg>", why, sizeof why) &&
          !xml_ok("<svg>a & b</svg>", why, sizeof why) && !xml_ok("<svg/><svg/>", why, sizeof why) &&
          !xml_ok("<svg>", why, sizeof why));
    sdd_eval_report r;
    sdd_err e;
    sdd_eval_opts o = { .scores = DATA "asv19_scores.txt", .key = DATA "asv19_protocol.txt" };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    char *svg = svg_of(&r, "scores <a&b>.txt");
    check_svg_shape(svg);
    char title[64];
    snprintf(title, sizeof title, "DET curve, EER %.4g %%</text>", r.eer.eer * 100.0);
    CHECK_STR_CONTAINS(svg, title);
    CHECK_STR_CONTAINS(svg, "scores &lt;a&amp;b&gt;.txt: ");
    /* a label's UTF-8 is kept; bytes that are not UTF-8 become '?', one per
     * byte: a lone continuation byte, overlong forms (C0 AF, E0 80 80,
     * F0 80 80 80), a UTF-16 surrogate (ED A0 80), a code point above
     * U+10FFFF (F4 90 80 80), a sequence cut short (E2 82 then ASCII) */
    {
        char *u = svg_of(&r, "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80|\x80|\xc0\xaf|\xe0\x80\x80|"
                             "\xf0\x80\x80\x80|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82z");
        CHECK_STR_CONTAINS(u, "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80|?|??|???|????|???|????|??z: ");
        char why[128];
        CHECK_MSG(xml_ok(u, why, sizeof why), "%s", why);
        free(u);
    }
    CHECK_STR_CONTAINS(svg, "False acceptance rate: spoof accepted (%)");
    CHECK_STR_CONTAINS(svg, "False rejection rate: bona fide rejected (%)");
    /* the usual ticks, 0.1 % .. 50 % */
    const char *ticks[] = { ">0.1</text>", ">0.2</text>", ">0.5</text>", ">1</text>", ">2</text>", ">5</text>",
                            ">10</text>", ">20</text>", ">40</text>", ">50</text>" };
    for (size_t i = 0; i < sizeof ticks / sizeof *ticks; i++) CHECK_STR_CONTAINS(svg, ticks[i]);
    CHECK(!strstr(svg, ">0.05</text>") && !strstr(svg, ">60</text>"));
    /* the EER marker: at the DET point of the EER index, and a vertex of the curve */
    double cx = svg_attr(svg, "<circle id=\"eer\"", "cx"), cy = svg_attr(svg, "<circle id=\"eer\"", "cy");
    sdd_det d;
    CHECK(sdd_det_curve(&r.cm, NULL, &d, &e) == 0);
    const double plo = sdd_probit(0.001), phi = sdd_probit(0.5);
    const double wx = 100 + (sdd_probit(d.far[r.eer.index]) - plo) / (phi - plo) * 440;
    const double wy = 70 + 440 - (sdd_probit(d.frr[r.eer.index]) - plo) / (phi - plo) * 440;
    CHECK_MSG(fabs(cx - wx) <= 0.006 && fabs(cy - wy) <= 0.006, "marker (%g, %g), DET point (%g, %g)", cx, cy, wx, wy);
    CHECK(cx > 100 && cx < 540 && cy > 70 && cy < 510);
    /* EER point near the diagonal: |far - frr| small */
    CHECK(fabs(d.far[r.eer.index] - d.frr[r.eer.index]) < 0.1);
    sdd_det_free(&d);
    char vertex[64];
    snprintf(vertex, sizeof vertex, "%.2f,%.2f", cx, cy);
    const char *pts = strstr(svg, "points=\"");
    const char *pend = pts ? strchr(pts + 8, '"') : NULL;
    const char *at = pts ? strstr(pts, vertex) : NULL;
    CHECK_MSG(at && at < pend && (at[-1] == ' ' || at[-1] == '"') && (at[strlen(vertex)] == ' ' || at[strlen(vertex)] == '"'),
              "marker %s is not a vertex of the curve", vertex);
    /* along the curve far falls and frr rises: x and y (SVG y grows downwards) never increase */
    int mono = 1, npts = 0;
    double px = INFINITY, py = INFINITY;
    for (const char *q = pts + 8; q && q < pend;) {
        char *end;
        double x = strtod(q, &end);
        if (*end != ',') break;
        double y = strtod(end + 1, &end);
        mono &= x <= px && y <= py;
        px = x;
        py = y;
        npts++;
        q = end;
    }
    CHECK(mono && npts >= 3);
    free(svg);
    sdd_eval_report_free(&r);

    /* EER 0 (separated) and 100 % (inverted): wider ranges, still well-formed */
    if (!tmp_begin()) return;
    const char *key = tmpfile_with("key.txt", "S u1 - - bonafide\nS u2 - A07 spoof\nS u3 - A07 spoof\n");
    const char *good = tmpfile_with("good.txt", "u1 5\nu2 1\nu3 2\n");
    const char *bad = tmpfile_with("bad.txt", "u1 -5\nu2 1\nu3 2\n");
    o = (sdd_eval_opts){ .scores = good, .key = key };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.eer.eer == 0.0);
    svg = svg_of(&r, NULL);
    check_svg_shape(svg);
    CHECK_STR_CONTAINS(svg, ">0.001</text>");
    CHECK_STR_CONTAINS(svg, "DET curve, EER 0 %</text>");
    free(svg);
    sdd_eval_report_free(&r);
    o.scores = bad;
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.eer.eer == 1.0);
    svg = svg_of(&r, "");
    check_svg_shape(svg);
    CHECK_STR_CONTAINS(svg, ">99</text>");
    CHECK_STR_CONTAINS(svg, ">1 bona fide, 2 spoof trials</text>");
    free(svg);
    sdd_eval_report_free(&r);
    tmp_end();
}

/* ---- NaN scores and single-class keys through a whole evaluation ---- */

static void test_eval_nan_and_one_class(void)
{
    if (!tmp_begin()) return;
    sdd_eval_report r;
    sdd_err e;
    char want[512];
    const char *key = tmpfile_with("key.txt", "S u1 - - bonafide\nS u2 - A07 spoof\nS u3 - A07 spoof\n");
    const char *bad[][2] = { { "NaN", "not finite" }, { "nan", "not finite" }, { "-nan", "not finite" },
                             { "inf", "not finite" }, { "-Infinity", "not finite" }, { "nan(0x1)", "not a number" } };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[128];
        snprintf(text, sizeof text, "# scores\nu1 1\n\nu2 %s\nu3 0\n", bad[i][0]);
        const char *sc = tmpfile_with("nan.txt", text);
        sdd_eval_opts o = { .scores = sc, .key = key };
        CHECK(sdd_eval_run(&o, &r, &e) == -1);
        snprintf(want, sizeof want, "%s:4: score '%s' is %s", sc, bad[i][0], bad[i][1]);
        CHECK_MSG(!strcmp(e.msg, want), "got '%s', expected '%s'", e.msg, want);
    }
    /* a 2019 CM file with a NaN: the line too */
    const char *cm = tmpfile_with("cm.txt", "u1 - bonafide 1\nu2 A07 spoof nan\n");
    sdd_eval_opts o = { .scores = cm };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s:2: score 'nan' is not finite", cm);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);

    /* keys with one class: the EER is undefined, an error naming the file */
    const char *kb = tmpfile_with("kb.txt", "S u1 - - bonafide\nS u2 - - bonafide\n");
    const char *ks = tmpfile_with("ks.txt", "S u1 - A07 spoof\nS u2 - A08 spoof\n");
    const char *sc = tmpfile_with("s.txt", "u1 1\nu2 0\n");
    o = (sdd_eval_opts){ .scores = sc, .key = kb };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: no spoof trials among the 2 scored: the EER is undefined without both bona fide "
             "and spoof trials", kb);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    CHECK(r.n_bona == 0 && r.warnings == NULL);  /* the report is left empty */
    o.key = ks;
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: no bona fide trials among the 2 scored: the EER is undefined without both "
             "bona fide and spoof trials", ks);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    /* the same for a 2019 CM file without a key */
    const char *cm1 = tmpfile_with("cm1.txt", "u1 A07 spoof 1\nu2 A08 spoof 2\n");
    o = (sdd_eval_opts){ .scores = cm1 };
    CHECK(sdd_eval_run(&o, &r, &e) == -1);
    snprintf(want, sizeof want, "%s: no bona fide trials among the 2 scored: the EER is undefined without both "
             "bona fide and spoof trials", cm1);
    CHECK_MSG(!strcmp(e.msg, want), "got '%s'", e.msg);
    /* a table cell with one class is N/A: NaN in the report, "-" printed, null in the JSON */
    const char *k3 = tmpfile_with("k3.txt", "S u1 - - bonafide\nS u2 - A07 spoof\nS u3 - A08 spoof\n");
    const char *s3 = tmpfile_with("s3.txt", "u1 1\nu2 0\nu3 2\n");
    o = (sdd_eval_opts){ .scores = s3, .key = k3 };
    CHECK_MSG(sdd_eval_run(&o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.table.nrow == 3 && r.table.ncol == 1 && r.table.eer[0] == 0.0 && r.table.eer[1] == 1.0);
    sdd_eval_report_free(&r);
    tmp_end();
}

int main(void)
{
    test_eval_errors();
    test_match_ids();
    test_eval_id_match();
    test_breakdown();
    test_det_svg();
    test_eval_nan_and_one_class();
    return CHECK_DONE("test_eval");
}
