/* Tests of the corpus: the shortcut features against analytic values, the
 * logistic regression, `sdd corpus check` on hand-made corpora (with and
 * without a shortcut), and `sdd corpus build` on a tiny fake package tree
 * (klettres-data layout, clips spoken by espeak-ng) when sox, ffmpeg,
 * espeak-ng and SPTK are installed: protocols readable by the list parser,
 * speaker/language-disjoint splits, eval-only systems, manifest consistency,
 * determinism for a seed, and the failure contract (missing tool named, bad
 * output folder, a failing clip leaves neither DIR nor DIR.tmp); and that
 * festival-batch.scm gives what text2wave gives, bit for bit, when festival
 * and its voices are installed. Run from the
 * repository root after `make`. */
#include "check.h"
#include "cli_run.h"
#include "data/shortcut.h"
#include "data/list.h"
#include "audio/encode.h"
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[65536];
static char tmp[256];

#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

#define exists cli_exists

/* ---- features ---- */

static void test_features(void)
{
    const int sr = 16000;
    const int64_t n = 32000;
    float *x = malloc((size_t)n * sizeof *x);
    double f[SDD_SC_N];
    sdd_err e;
    /* 1 kHz sine of amplitude 0.5: rms 0.5/sqrt 2, peak 0.5, crest 3.01 dB, no
     * silence, roll-off and bandwidth at the tone (+- a couple of 31.25 Hz bins
     * of Hann leakage for the roll-off; the -50 dB bandwidth is wider) */
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.5 * sin(2 * M_PI * 1000.0 * (double)i / sr));
    CHECK(sdd_shortcut_features(x, n, sr, f, &e) == 0);
    CHECK_NEAR(f[SDD_SC_DURATION], 2.0, 1e-12);
    CHECK_NEAR(f[SDD_SC_RMS], 20 * log10(0.5 / sqrt(2.0)), 1e-3);
    CHECK_NEAR(f[SDD_SC_PEAK], 20 * log10(0.5), 1e-3);
    CHECK_NEAR(f[SDD_SC_CREST], 10 * log10(2.0), 2e-3);
    CHECK_NEAR(f[SDD_SC_SILENCE], 0.0, 0);
    CHECK_NEAR(f[SDD_SC_LEAD], 0.0, 0);
    CHECK_NEAR(f[SDD_SC_ROLLOFF], 1000.0, 63.0);
    CHECK(f[SDD_SC_BANDWIDTH] >= 1000.0 && f[SDD_SC_BANDWIDTH] < 2000.0);
    CHECK_NEAR(f[SDD_SC_CLIP], 0.0, 0);
    /* first half digital silence, then the tone clipped at full scale: about
     * half the frames silent, the sound starts at 1 s, a quarter+ of samples clip */
    for (int64_t i = 0; i < n; i++) {
        double v = i < n / 2 ? 0.0 : 2.0 * sin(2 * M_PI * 1000.0 * (double)i / sr);
        x[i] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
    }
    CHECK(sdd_shortcut_features(x, n, sr, f, &e) == 0);
    CHECK_NEAR(f[SDD_SC_SILENCE], 0.5, 0.02);
    CHECK_NEAR(f[SDD_SC_LEAD], 1.0, 512.0 / sr);
    CHECK_NEAR(f[SDD_SC_NOISE], -120.0, 1e-9);
    CHECK(f[SDD_SC_CLIP] > 0.25 && f[SDD_SC_CLIP] < 0.5);
    /* one sample: a single zero-padded frame, no crash */
    CHECK(sdd_shortcut_features(x + n - 1, 1, sr, f, &e) == 0);
    CHECK_NEAR(f[SDD_SC_DURATION], 1.0 / sr, 1e-15);
    CHECK(sdd_shortcut_features(x, 0, sr, f, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "bad arguments");
    free(x);
}

static void test_logreg(void)
{
    /* 1-D, symmetric classes: the fitted boundary is at the mean (b = 0 by
     * symmetry), the weight positive, scores ordered like x */
    double X[8] = { -3, -2, -1.5, 0.5, -0.5, 1.5, 2, 3 };
    unsigned char y[8] = { 0, 0, 0, 0, 1, 1, 1, 1 };
    sdd_logreg m;
    sdd_err e;
    CHECK(sdd_logreg_fit(X, y, 8, 1, 1e-3, &m, &e) == 0);
    CHECK_NEAR(m.b, 0.0, 1e-9);
    CHECK(m.w[0] > 0.5);
    double a = -1.0, b = 1.0;
    CHECK(sdd_logreg_score(&m, &a) < 0 && sdd_logreg_score(&m, &b) > 0);
    /* at the optimum: the gradient of mean log-loss + l2/2 w^2 vanishes (in
     * the standardised feature and the bias) */
    double gw = 0, gb = 0;
    for (int i = 0; i < 8; i++) {
        const double p = 1.0 / (1.0 + exp(-sdd_logreg_score(&m, &X[i]))), z = (X[i] - m.mean[0]) / m.sd[0];
        gw += (p - y[i]) * z / 8.0;
        gb += (p - y[i]) / 8.0;
    }
    CHECK_NEAR(gw + 1e-3 * m.w[0], 0.0, 1e-12);
    CHECK_NEAR(gb, 0.0, 1e-12);
    /* a constant second feature gets no weight */
    double X2[16];
    for (int i = 0; i < 8; i++) { X2[2 * i] = X[i]; X2[2 * i + 1] = 7.0; }
    CHECK(sdd_logreg_fit(X2, y, 8, 2, 1e-3, &m, &e) == 0);
    CHECK_NEAR(m.w[1], 0.0, 0);
    unsigned char one[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    CHECK(sdd_logreg_fit(X, one, 8, 1, 1e-3, &m, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "both classes");
}

static void test_eer(void)
{
    double s[6] = { 1, 2, 3, 4, 5, 6 }, eer = -1;
    unsigned char y[6] = { 0, 0, 0, 1, 1, 1 };
    sdd_err e;
    CHECK(sdd_shortcut_eer(s, y, 6, &eer, &e) == 0);
    CHECK_NEAR(eer, 0.0, 1e-12);
    unsigned char r[6] = { 1, 1, 1, 0, 0, 0 };
    CHECK(sdd_shortcut_eer(s, r, 6, &eer, &e) == 0);
    CHECK_NEAR(eer, 1.0, 1e-12);
    /* all tied: 0.5 whichever order the classes come in */
    double c[6] = { 0, 0, 0, 0, 0, 0 };
    CHECK(sdd_shortcut_eer(c, y, 6, &eer, &e) == 0);
    CHECK_NEAR(eer, 0.5, 1e-12);
    CHECK(sdd_shortcut_eer(c, r, 6, &eer, &e) == 0);
    CHECK_NEAR(eer, 0.5, 1e-12);
    /* one positive below one negative out of 2+2: miss 1/2 where fa 1/2 */
    double m[4] = { 1, 2, 3, 4 };
    unsigned char ym[4] = { 0, 1, 0, 1 };
    CHECK(sdd_shortcut_eer(m, ym, 4, &eer, &e) == 0);
    CHECK_NEAR(eer, 0.5, 1e-12);
    /* 3 negatives, the positive second lowest: miss jumps 0 -> 1 while the
     * false-alarm rate stays 2/3, so they cross at 2/3 */
    double q[4] = { 1, 2, 3, 4 };
    unsigned char yq[4] = { 0, 1, 0, 0 };
    CHECK(sdd_shortcut_eer(q, yq, 4, &eer, &e) == 0);
    CHECK_NEAR(eer, 2.0 / 3.0, 1e-12);
    unsigned char none[4] = { 0, 0, 0, 0 };
    CHECK(sdd_shortcut_eer(q, none, 4, &eer, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "both classes");
}

/* ---- sdd corpus check on hand-made corpora ---- */

/* Writes DIR/flac/ID.flac (white-ish noise of amplitude amp, 0.5 s) and the
 * train and eval protocols: n bona fide and n spoof each. */
static int make_fake_corpus(const char *dir, double amp_bona, double amp_spoof, int n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/flac", dir);
    mkdir(dir, 0755);
    mkdir(p, 0755);
    const char *split[2] = { "train", "eval" };
    unsigned s = 12345;
    float x[8000];
    sdd_err e;
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s.txt", dir, split[k]);
        FILE *f = fopen(p, "w");
        if (!f) return -1;
        for (int i = 0; i < 2 * n; i++) {
            int bona = i % 2 == 0;
            for (int j = 0; j < 8000; j++) {
                s = s * 1103515245u + 12345u;
                x[j] = (float)((bona ? amp_bona : amp_spoof) * (((s >> 8) & 0xffff) / 32768.0 - 1.0));
            }
            char id[64], fp[600];
            snprintf(id, sizeof id, "X_%c_%04d", split[k][0], i);
            snprintf(fp, sizeof fp, "%s/flac/%s.flac", dir, id);
            if (sdd_audio_save(fp, x, 8000, 16000, &e)) { fclose(f); return -1; }
            fprintf(f, "spk%d %s - %s %s\n", i % 3, id, bona ? "-" : "A01", bona ? "bonafide" : "spoof");
        }
        fclose(f);
    }
    return 0;
}

static void test_check(void)
{
    char d[300];
    /* spoofs 26 dB quieter: every level feature separates the classes */
    snprintf(d, sizeof d, "%s/shortcut", tmp);
    CHECK(make_fake_corpus(d, 0.5, 0.025, 12) == 0);
    int rc = run("$SDD corpus check %s -o %s/report.md --require 35", d, tmp);
    CHECK_MSG(rc == 1, "exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "SHORTCUT");
    CHECK_STR_CONTAINS(out, "below the required 35.0%");
    CHECK(exists("report.md") == 0);
    char rp[400];
    snprintf(rp, sizeof rp, "%s/report.md", tmp);
    CHECK(exists(rp));
    CHECK(run("grep -c '^| rms_dbfs | .* | 0.0%% |' %s", rp) == 0);
    /* same level: the check passes and the report says so */
    snprintf(d, sizeof d, "%s/clean", tmp);
    CHECK(make_fake_corpus(d, 0.5, 0.5, 12) == 0);
    rc = run("$SDD corpus check %s --require 35", d);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_STR_CONTAINS(out, "no strong shortcut");
    /* bad input: no such corpus, a protocol naming a missing clip, usage */
    rc = run("$SDD corpus check %s/nothing", tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "nothing/train.txt");
    CHECK(run("echo 'spk9 X_e_9999 - A01 spoof' >> %s/clean/eval.txt", tmp) == 0);
    rc = run("$SDD corpus check %s", d);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "X_e_9999.flac");
    /* one class in eval: named, not "EER: bad arguments" */
    CHECK(run("grep -v bonafide %s/shortcut/eval.txt > %s/one.txt && mv %s/one.txt %s/shortcut/eval.txt", tmp, tmp, tmp, tmp) == 0);
    rc = run("$SDD corpus check %s/shortcut", tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "shortcut/eval.txt: the shortcut check needs both classes (0 bona fide, 12 spoof)");
    CHECK(run("$SDD corpus check") == 2);
    CHECK(run("$SDD corpus frobnicate") == 2);
    CHECK(run("$SDD corpus check %s --require 200", d) == 2);
}

/* ---- festival-batch.scm: many texts in one festival = text2wave per text ---- */

static void test_festival_batch(void)
{
    /* voices: en diphone; Czech (its prosody draws random numbers: the batch
     * must give each text a fresh process's random state) */
    const char *voices[2] = { "kal_diphone", "czech_dita" };
    const char *texts[2][3] = { { "Hello there. How are you today?", "The quick brown fox.", "moon satellite" },
                                { "Co takhle se na to vykaslat?", "Nejde to, ten zatracenej vypinac spadnul.", "Opatrne s tim klicem." } };
    if (run("command -v festival && command -v text2wave")) {
        printf("SKIP test_corpus festival batch: festival is not installed (Debian: scripts/install-deps --corpus)\n");
        return;
    }
    for (int v = 0; v < 2; v++) {
        if (run("echo '(print (member_string \"%s\" (voice.list)))' | festival --pipe | grep -q '^nil'", voices[v]) == 0) {
            printf("SKIP test_corpus festival batch %s: voice not installed\n", voices[v]);
            continue;
        }
        char scm[8192];
        int k = snprintf(scm, sizeof scm, "(load (path-append datadir \"init.scm\"))\n(gc-status nil)\n"
                                          "(load \"scripts/corpus/festival-batch.scm\")\n(voice_%s)\n", voices[v]);
        const char *stretch[3] = { "1", "1.4", "0.7" };
        for (int t = 0; t < 3; t++) {
            CHECK(run("printf '%%s\\n' '%s' > %s/t%d.txt && text2wave -eval '(voice_%s)' "
                      "-eval \"(Parameter.set 'Duration_Stretch %s)\" %s/t%d.txt -o %s/ref%d.wav",
                      texts[v][t], tmp, t, voices[v], stretch[t], tmp, t, tmp, t) == 0);
            k += snprintf(scm + k, sizeof scm - (size_t)k, "(sdd_say \"%s/t%d.txt\" \"%s/b%d.wav\" %s \"%s/f%d\")\n",
                          tmp, t, tmp, t, stretch[t], tmp, t);
        }
        /* a text file that cannot be read: marked failed, the next text still made */
        k += snprintf(scm + k, sizeof scm - (size_t)k, "(sdd_say \"%s/none.txt\" \"%s/bn.wav\" 1 \"%s/fn\")\n", tmp, tmp, tmp);
        snprintf(scm + k, sizeof scm - (size_t)k, "(sdd_say \"%s/t0.txt\" \"%s/b3.wav\" 1 \"%s/f3\")\n", tmp, tmp, tmp);
        char p[400];
        snprintf(p, sizeof p, "%s/batch.scm", tmp);
        FILE *f = fopen(p, "w");
        CHECK(f != NULL);
        if (!f) return;
        fputs(scm, f);
        fclose(f);
        int rc = run("festival --script %s", p);
        CHECK_MSG(rc == 0, "festival exit %d: %s", rc, out);
        for (int t = 0; t < 3; t++)
            CHECK_MSG(run("cmp %s/ref%d.wav %s/b%d.wav", tmp, t, tmp, t) == 0, "%s text %d: %s", voices[v], t, out);
        CHECK(run("cmp %s/ref0.wav %s/b3.wav && test -e %s/fn && test ! -e %s/f0", tmp, tmp, tmp, tmp) == 0);
        run("rm -f %s/f? %s/fn %s/*.wav", tmp, tmp, tmp);
    }
}

/* ---- sdd corpus build on a fake package tree ---- */

static const char *langs[] = { "de", "fr", "es", "nl", "pl" };
#define NLANG 5
#define NWORD 6
static const char *words[NWORD] = { "haus", "baum", "wasser", "sonne", "mond", "stern" };

/* ROOT/usr/share/klettres/LL/{sounds.xml,alpha/W.ogg} spoken by espeak-ng. */
static int make_fake_root(const char *root)
{
    for (int l = 0; l < NLANG; l++) {
        char xml[4096];
        int k = snprintf(xml, sizeof xml, "<klettres>\n  <language code=\"%s\">\n    <syllables>\n", langs[l]);
        for (int w = 0; w < NWORD; w++) {
            if (run("mkdir -p %s/usr/share/klettres/%s/syllab && espeak-ng -v %s -w %s/w.wav '%s' && "
                    "ffmpeg -nostdin -v error -y -i %s/w.wav -ar 22050 -c:a libvorbis -q:a 3 "
                    "%s/usr/share/klettres/%s/syllab/%s.ogg",
                    root, langs[l], langs[l], root, words[w], root, root, langs[l], words[w]))
                return -1;
            k += snprintf(xml + k, sizeof xml - (size_t)k,
                          "\t<sound name=\"%s\" file=\"%s/syllab/%s.ogg\" />\n", words[w], langs[l], words[w]);
        }
        snprintf(xml + k, sizeof xml - (size_t)k, "    </syllables>\n  </language>\n</klettres>\n");
        char p[512];
        snprintf(p, sizeof p, "%s/usr/share/klettres/%s/sounds.xml", root, langs[l]);
        FILE *f = fopen(p, "w");
        if (!f) return -1;
        fputs(xml, f);
        fclose(f);
    }
    return run("mkdir -p %s/usr/share/doc/klettres-data && printf 'License: CC0-1.0\\n' > "
               "%s/usr/share/doc/klettres-data/copyright", root, root);
}

/* speaker column of every line of a 2019 protocol, as one string */
static void load_proto(const char *dir, const char *name, sdd_list *l)
{
    char p[512], a[512];
    snprintf(p, sizeof p, "%s/%s.txt", dir, name);
    snprintf(a, sizeof a, "%s/flac", dir);
    sdd_err e;
    int rc = sdd_list_load(p, a, l, &e);
    CHECK_MSG(rc == 0, "%s", rc ? e.msg : "");
    if (rc) memset(l, 0, sizeof *l);
}

static void test_build(void)
{
    /* the tools corpus-build needs for this tree (klettres clips, espeak-ng
     * and SPTK spoofs); any missing: skipped, naming them */
    if (run("m=''; for t in sox soxi ffmpeg espeak-ng iconv; do command -v $t > /dev/null || m=\"$m $t\"; done; "
            "for t in pitch frame window mcep mlsadf excite lpc poledf nrand sopr vopr x2x; do "
            "command -v $t > /dev/null || test -x /usr/libexec/sptk/bin/$t || m=\"$m $t\"; done; "
            "[ -z \"$m\" ] || { echo \"missing:$m\"; exit 1; }")) {
        printf("SKIP test_corpus build: %.*s (Debian: scripts/install-deps --corpus)\n", (int)strcspn(out, "\n"), out);
        return;
    }
    char root[300], c1[300], c2[300], c3[300];
    snprintf(root, sizeof root, "%s/root", tmp);
    snprintf(c1, sizeof c1, "%s/c1", tmp);
    snprintf(c2, sizeof c2, "%s/c2", tmp);
    snprintf(c3, sizeof c3, "%s/c3", tmp);
    CHECK_MSG(make_fake_root(root) == 0, "fake root: %s", out);
    const char *args = "--size tiny --packages klettres-data --jobs 2";
    int rc = run("$SDD corpus build %s --root %s --out %s", args, root, c1);
    CHECK_MSG(rc == 0, "build exit %d: %s", rc, out);
    if (rc) return;
    CHECK(!exists("c1.tmp"));
    char p[512];
    snprintf(p, sizeof p, "%s.tmp", c1);
    CHECK(!exists(p));

    /* protocols: the list parser reads them; counts; splits disjoint in speakers */
    sdd_list tr, dv, ev, wi;
    load_proto(c1, "train", &tr);
    load_proto(c1, "dev", &dv);
    load_proto(c1, "eval", &ev);
    load_proto(c1, "eval-wild", &wi);
    CHECK(tr.format == SDD_LIST_ASV19 && ev.format == SDD_LIST_ASV19);
    CHECK(wi.format == SDD_LIST_ASV21_LA_KEY);
    CHECK_MSG(tr.n == 8 && dv.n == 4 && ev.n == 8 && wi.n == 8, "%d %d %d %d", tr.n, dv.n, ev.n, wi.n);
    sdd_list *sp[3] = { &tr, &dv, &ev };
    int bona[3] = { 0 }, clash = 0, eval_only_seen = 0, missing = 0;
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < sp[a]->n; i++) {
            sdd_list_item *it = &sp[a]->items[i];
            bona[a] += it->label == SDD_LABEL_BONAFIDE;
            missing += !exists(it->path);
            if (a < 2 && it->attack && strcmp(it->attack, "A01") && strcmp(it->attack, "A02") &&
                strcmp(it->attack, "A03"))
                eval_only_seen++;
            for (int b = a + 1; b < 3; b++)
                for (int j = 0; j < sp[b]->n; j++)
                    clash += it->speaker && sp[b]->items[j].speaker &&
                             !strcmp(it->speaker, sp[b]->items[j].speaker);
        }
    CHECK(bona[0] == 4 && bona[1] == 2 && bona[2] == 4);
    CHECK_MSG(clash == 0, "%d speaker(s) in two splits", clash);
    CHECK(eval_only_seen == 0);
    CHECK(missing == 0);
    for (int i = 0; i < wi.n; i++) {
        CHECK(wi.items[i].codec && strcmp(wi.items[i].codec, "-"));
        CHECK(!strncmp(wi.items[i].id, "SDD_W_", 6));
    }
    /* manifest: one line per clip plus the header; checksums match the files */
    CHECK(run("test $(($(wc -l < %s/manifest.tsv) - 1)) -eq 28", c1) == 0);
    CHECK_MSG(run("cd %s && tail -n +2 manifest.tsv | awk -F '\\t' '{ print $16 \"  flac/\" $1 \".flac\" }' | "
                  "sha256sum -c --quiet", c1) == 0, "%s", out);
    CHECK(run("grep -q '\"seed\": 1' %s/manifest.json && grep -q 'CC0-1.0' %s/manifest.json", c1, c1) == 0);
    CHECK(run("test -s %s/shortcuts.md && test -s %s/licenses/klettres-data.copyright && test ! -e %s/work",
              c1, c1, c1) == 0);
    /* a spoof is paired with a bona fide clip of the same speaker and text */
    CHECK(run("awk -F '\\t' 'NR > 1 { sp[$1] = $7; tx[$1] = $10 } NR > 1 && $3 == \"spoof\" && $2 != \"eval-wild\" "
              "{ p[$1] = $12 } END { for (k in p) if (sp[p[k]] != sp[k] || tx[p[k]] != tx[k]) bad++; exit bad > 0 }' "
              "%s/manifest.tsv", c1) == 0);
    sdd_list_free(&tr); sdd_list_free(&dv); sdd_list_free(&ev); sdd_list_free(&wi);

    /* the same seed gives the same corpus, bit for bit; another seed another
     * one. The rebuild names its output relative to the working directory
     * (as `make demo` does: build/corpus-demo) */
    char cwd[300];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    /* ... and in chunks of 3 clips instead of 24: the chunking changes how the
     * work is shared out, never a clip; with 4 chunks of real clips the build
     * reports its progress after each of the first three */
    rc = run("cd %s && SDD_CORPUS_CHUNK=3 %s/sdd corpus build %s --root %s --out c2", tmp, cwd, args, root);
    CHECK_MSG(rc == 0, "second build: %s", out);
    CHECK_STR_CONTAINS(out, "corpus-build: real clips: 10 clips in 4 chunks on 2 jobs");
    CHECK_STR_CONTAINS(out, "corpus-build: real clips: 3 of 4 chunks in ");
    CHECK_STR_CONTAINS(out, " s left");
    CHECK(!strstr(out, "4 of 4 chunks"));
    CHECK(run("cmp %s/manifest.tsv %s/manifest.tsv && cmp %s/manifest.json %s/manifest.json && "
              "cmp %s/eval-wild.txt %s/eval-wild.txt && cmp %s/train.txt %s/train.txt",
              c1, c2, c1, c2, c1, c2, c1, c2) == 0);
    rc = run("$SDD corpus build %s --root %s --out %s --seed 2", args, root, c3);
    CHECK_MSG(rc == 0, "seed 2: %s", out);
    CHECK(run("cmp -s %s/manifest.tsv %s/manifest.tsv", c1, c3) != 0);

    /* failures */
    rc = run("$SDD corpus build %s --root %s --out %s", args, root, c1);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "already exists");
    rc = run("$SDD corpus build %s --root %s --out %s/no/such/dir", args, root, tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "no such directory");
    rc = run("SDD_CORPUS_CHUNK=0 $SDD corpus build %s --root %s --out %s/c0", args, root, tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "SDD_CORPUS_CHUNK: '0' is not a positive whole number");
    snprintf(p, sizeof p, "%s/c0", tmp);
    CHECK(!exists(p));
    rc = run("$SDD corpus build --size huge --out %s/x", tmp);
    CHECK(rc == 2);
    /* unwritable output folder (root may write anywhere: skipped then) */
    if (geteuid() != 0) {
        CHECK(run("mkdir -p %s/ro && chmod 0500 %s/ro", tmp, tmp) == 0);
        rc = run("$SDD corpus build %s --root %s --out %s/ro/c", args, root, tmp);
        CHECK(rc == 1);
        CHECK_STR_CONTAINS(out, "not writable");
    }
    /* a tool missing from PATH is named */
    CHECK(run("mkdir -p %s/bin && for f in /usr/bin/* /bin/*; do b=$(basename $f); "
              "[ $b = sox ] || [ -e %s/bin/$b ] || ln -s $f %s/bin/$b; done", tmp, tmp, tmp) == 0);
    rc = run("PATH=%s/bin $SDD corpus build %s --root %s --out %s/nosox", tmp, args, root, tmp);
    CHECK(rc == 1);
    CHECK_STR_CONTAINS(out, "missing tool 'sox'");
    snprintf(p, sizeof p, "%s/nosox.tmp", tmp);
    CHECK(!exists(p));
    /* real clips that decode to no samples (a valid Ogg Vorbis stream with
     * no length in its header, as one of fillets-ng-data-nl's): dropped and
     * listed in dropped.tsv, the build goes on */
    CHECK(run("sox -n -r 22050 -c 2 %s/empty.ogg trim 0 0 && for f in %s/usr/share/klettres/fr/syllab/*.ogg; do "
              "cp %s/empty.ogg $f; done", tmp, root, tmp) == 0);
    rc = run("$SDD corpus build %s --root %s --out %s/empty", args, root, tmp);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, out);
    CHECK_MSG(run("grep -q 'real clip without audio samples' %s/empty/dropped.tsv", tmp) == 0, "%s", out);
    /* a clip that fails mid-build: neither DIR nor DIR.tmp is left */
    CHECK(run("for f in %s/usr/share/klettres/fr/syllab/*.ogg; do echo not audio > $f; done", root) == 0);
    rc = run("$SDD corpus build %s --root %s --out %s/broken", args, root, tmp);
    CHECK_MSG(rc == 1, "exit %d: %s", rc, out);
    snprintf(p, sizeof p, "%s/broken", tmp);
    CHECK(!exists(p));
    snprintf(p, sizeof p, "%s/broken.tmp", tmp);
    CHECK(!exists(p));
}

int main(void)
{
    test_features();
    test_logreg();
    test_eer();
    /* the commands say $SDD: the binary under test (make test sets SDD_BIN;
     * make test-asan its ASan build), whose corpus-build script is found in
     * this source tree's scripts/ (SDD_SCRIPTS), wherever the binary is */
    const char *bin = cli_bin();
    if (!exists(bin)) {
        printf("SKIP test_corpus CLI: needs %s (run make)\n", bin);
        return CHECK_DONE("test_corpus");
    }
    char scripts[PATH_MAX];
    if (!getenv("SDD_SCRIPTS") && realpath("scripts", scripts)) setenv("SDD_SCRIPTS", scripts, 1);
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-corpus-%d", (int)getpid());
    mkdir(tmp, 0700);
    test_check();
    test_festival_batch();
    test_build();
    run("rm -rf %s", tmp);
    return CHECK_DONE("test_corpus");
}
