/* `sdd corpus`: the built-in anti-spoofing corpus.
 *   build  checks the arguments and runs scripts/corpus-build (the audio work
 *          is done by sox, ffmpeg, espeak-ng, festival, flite and SPTK), which
 *          calls `sdd corpus check` on the result before renaming it into place
 *   check  the shortcut check: features that are not about synthesis (see
 *          data/shortcut.h), a logistic regression fitted on train, its EER
 *          on eval and each feature's own EER, as a Markdown table
 * Exit status 0, 1 (one line "sdd: ..."), 2 (usage). */
#include "cli/cli.h"
#include "data/list.h"
#include "data/shortcut.h"
#include "audio/decode.h"
#include "io/atomic.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd corpus build --size tiny|demo|full --out DIR [options]\n"
            "       sdd corpus check DIR [-o FILE] [--require EER%%]\n"
            "build: makes the anti-spoofing corpus from Debian packages (real recordings from\n"
            "tuxpaint-stamps-default, fillets-ng-data-cs/-nl, klettres-data, ktuberling-data; spoofs\n"
            "from espeak-ng, festival, flite and SPTK copy-synthesis; install them with\n"
            "scripts/install-deps --corpus). DIR gets train/dev/eval protocols (ASVspoof 2019 LA),\n"
            "eval-wild.txt (2021 LA key, degradation in the codec column), flac/, manifest.tsv,\n"
            "manifest.json and shortcuts.md; it is built in DIR.tmp and renamed when complete.\n"
            "  --size S        tiny (4/2/4 real clips per split), demo (500/150/500), full (all)\n"
            "  --out DIR       the corpus folder (must not exist)\n"
            "  --seed N        seed of every choice (default 1); same seed + package versions = same corpus\n"
            "  --jobs N        parallel clip jobs (default: all cores)\n"
            "  --root DIR      read the packages under DIR instead of / (tests)\n"
            "  --packages LIST comma-separated bona fide packages (default: all five)\n"
            "check: features that are not about synthesis (duration, level, crest, silence, leading\n"
            "silence, roll-off, bandwidth, noise floor, clipping) of DIR's train and eval clips; a\n"
            "logistic regression fitted on train scores eval; near 50%% EER means no shortcut.\n"
            "  -o FILE         also write the report (Markdown) to FILE, atomically\n"
            "  --require P     exit 1 when the classifier's eval EER is below P %% (default: report only)\n"
            "  --threads N     threads (default: all cores)\n");
}

/* ---- build ---- */

/* scripts/corpus-build beside the sdd binary (the source tree), or under
 * $SDD_SCRIPTS. Returns a malloc'd path or NULL. */
static char *find_script(char *self, size_t selfsz)
{
    const char *env = getenv("SDD_SCRIPTS");
    ssize_t k = readlink("/proc/self/exe", self, selfsz - 1);
    if (k <= 0) return NULL;
    self[k] = 0;
    char dir[PATH_MAX];
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else {
        snprintf(dir, sizeof dir, "%s", self);
        char *slash = strrchr(dir, '/');
        if (!slash) return NULL;
        snprintf(slash, sizeof dir - (size_t)(slash - dir), "/scripts");
    }
    size_t n = strlen(dir) + sizeof "/corpus-build";
    char *p = malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s/corpus-build", dir);
    if (access(p, X_OK)) { free(p); return NULL; }
    return p;
}

static int corpus_build(int argc, char **argv)
{
    const char *size = NULL, *out = NULL, *seed = "1", *jobs = NULL, *root = NULL, *pkgs = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
        const char **dst = !strcmp(a, "--size") ? &size : !strcmp(a, "--out") ? &out
                         : !strcmp(a, "--seed") ? &seed : !strcmp(a, "--jobs") ? &jobs
                         : !strcmp(a, "--root") ? &root : !strcmp(a, "--packages") ? &pkgs : NULL;
        if (!dst) return cli_usage_error("corpus", "unknown option %s", a);
        if (!(v = cli_value(argc, argv, &i))) return cli_usage_error("corpus", "%s needs a value", a);
        *dst = v;
    }
    long num;
    if (!size || (strcmp(size, "tiny") && strcmp(size, "demo") && strcmp(size, "full")))
        return cli_usage_error("corpus", "--size must be tiny, demo or full");
    if (!out || !*out) return cli_usage_error("corpus", "--out DIR is required");
    if (cli_parse_int(seed, 0, 2147483646L, &num))
        return cli_usage_error("corpus", "--seed: '%s' is not in 0..2147483646", seed);
    if (jobs && cli_parse_int(jobs, 1, 1024, &num))
        return cli_usage_error("corpus", "--jobs: '%s' is not in 1..1024", jobs);
    struct stat st;
    if (!stat(out, &st)) { cli_error("%s: already exists (remove it to rebuild)", out); return SDD_EXIT_ERROR; }
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", out);
    char *slash = strrchr(parent, '/');
    if (!slash) snprintf(parent, sizeof parent, ".");
    else if (slash == parent) parent[1] = 0;
    else *slash = 0;
    if (stat(parent, &st) || !S_ISDIR(st.st_mode)) { cli_error("%s: no such directory", parent); return SDD_EXIT_ERROR; }
    if (access(parent, W_OK)) { cli_error("%s: not writable", parent); return SDD_EXIT_ERROR; }

    char self[PATH_MAX];
    char *script = find_script(self, sizeof self);
    if (!script) {
        cli_error("cannot find scripts/corpus-build beside %s (set SDD_SCRIPTS to the scripts folder)", self);
        return SDD_EXIT_ERROR;
    }
    const char *args[20];
    int k = 0;
    args[k++] = script;
    args[k++] = "--size"; args[k++] = size;
    args[k++] = "--out"; args[k++] = out;
    args[k++] = "--seed"; args[k++] = seed;
    if (jobs) { args[k++] = "--jobs"; args[k++] = jobs; }
    if (root) { args[k++] = "--root"; args[k++] = root; }
    if (pkgs) { args[k++] = "--packages"; args[k++] = pkgs; }
    args[k++] = "--check"; args[k++] = self;
    args[k] = NULL;
    fflush(NULL);
    execv(script, (char *const *)args);
    cli_error("%s: cannot run: %s", script, strerror(errno));
    free(script);
    return SDD_EXIT_ERROR;
}

/* ---- check ---- */

typedef struct {
    int n;
    double *X;            /* (n, SDD_SC_N) */
    unsigned char *y;     /* (n) 1 = bona fide */
} feats;

static void feats_free(feats *f) { free(f->X); free(f->y); memset(f, 0, sizeof *f); }

/* Features of every clip of DIR/NAME.txt (audio DIR/flac/ID.flac). */
static int load_split(const char *dir, const char *name, feats *out, sdd_err *e)
{
    char list[PATH_MAX], audio[PATH_MAX];
    snprintf(list, sizeof list, "%s/%s.txt", dir, name);
    snprintf(audio, sizeof audio, "%s/flac", dir);
    sdd_list l;
    if (sdd_list_load(list, audio, &l, e)) return -1;
    out->n = l.n;
    out->X = malloc((size_t)l.n * SDD_SC_N * sizeof *out->X);
    out->y = malloc((size_t)l.n);
    if (!out->X || !out->y) { sdd_list_free(&l); feats_free(out); return sdd_err_set(e, "%s: out of memory", list); }
    int bad = -1;
    sdd_err first = { { 0 } };
    #pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < l.n; i++) {
        sdd_err ei;
        float *x = NULL;
        int64_t n = 0;
        int rc = sdd_audio_load(l.items[i].path, 16000, &x, &n, NULL, &ei);
        if (!rc) rc = sdd_shortcut_features(x, n, 16000, out->X + (size_t)i * SDD_SC_N, &ei);
        free(x);
        out->y[i] = l.items[i].label == SDD_LABEL_BONAFIDE;
        if (rc) {
            #pragma omp critical(corpus_check_err)
            if (bad < 0 || i < bad) { bad = i; first = ei; }
        }
    }
    sdd_list_free(&l);
    if (bad >= 0) { *e = first; feats_free(out); return -1; }
    /* the classifier is fitted on train and both EERs need the two classes */
    int nb = 0;
    for (int i = 0; i < out->n; i++) nb += out->y[i];
    if (!nb || nb == out->n) {
        sdd_err_set(e, "%s: the shortcut check needs both classes (%d bona fide, %d spoof)", list, nb, out->n - nb);
        feats_free(out);
        return -1;
    }
    return 0;
}

/* EER (%) of scores s (higher = bona fide) against y, neutral to ties. */
static int eer_of(const double *s, const unsigned char *y, int n, double *eer, sdd_err *e)
{
    int rc = sdd_shortcut_eer(s, y, n, eer, e);
    if (!rc) *eer *= 100.0;
    return rc;
}

static int corpus_check(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    double require = -1;
    long threads = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
        if (!strcmp(a, "-o")) {
            if (!(out = cli_value(argc, argv, &i))) return cli_usage_error("corpus", "-o needs a file");
        } else if (!strcmp(a, "--require")) {
            if (!(v = cli_value(argc, argv, &i)) || cli_parse_double(v, &require) || require < 0 || require > 100)
                return cli_usage_error("corpus", "--require needs a percentage (0..100)");
        } else if (!strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || cli_parse_int(v, 1, 1024, &threads))
                return cli_usage_error("corpus", "--threads needs a number in 1..1024");
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("corpus", "unknown option %s", a);
        } else if (dir) {
            return cli_usage_error("corpus", "one corpus folder only ('%s')", a);
        } else dir = a;
    }
    if (!dir) return cli_usage_error("corpus", "give the corpus folder (sdd corpus check DIR)");
    char lists[3][4096];
    cli_file ins[3];
    const char *const split[3] = { "train", "dev", "eval" };
    for (int k = 0; k < 3; k++) {
        snprintf(lists[k], sizeof lists[k], "%s/%s.txt", dir, split[k]);
        ins[k] = (cli_file){ "the protocol", lists[k] };
    }
    const cli_file outs[] = { { "-o", out } };
    if (cli_check_outputs("corpus", outs, 1, ins, 3)) return SDD_EXIT_USAGE;
    cli_set_threads(threads);
    sdd_err e;
    feats tr = { 0 }, ev = { 0 };
    if (load_split(dir, "train", &tr, &e) || load_split(dir, "eval", &ev, &e)) {
        feats_free(&tr);
        cli_error("%s", e.msg);
        return SDD_EXIT_ERROR;
    }
    sdd_logreg m;
    double *s = malloc((size_t)(ev.n > tr.n ? ev.n : tr.n) * sizeof *s);
    double eer_all = 0, eer_in = 0, eer_f[SDD_SC_N];
    int rc = s ? 0 : sdd_err_set(&e, "out of memory");
    if (!rc) rc = sdd_logreg_fit(tr.X, tr.y, tr.n, SDD_SC_N, 1e-3, &m, &e);
    if (!rc) {
        for (int i = 0; i < tr.n; i++) s[i] = sdd_logreg_score(&m, tr.X + (size_t)i * SDD_SC_N);
        rc = eer_of(s, tr.y, tr.n, &eer_in, &e);
    }
    if (!rc) {
        for (int i = 0; i < ev.n; i++) s[i] = sdd_logreg_score(&m, ev.X + (size_t)i * SDD_SC_N);
        rc = eer_of(s, ev.y, ev.n, &eer_all, &e);
    }
    /* each feature alone, either direction: the EER of the better one */
    for (int j = 0; !rc && j < SDD_SC_N; j++) {
        double a = 50.0, b = 50.0;
        for (int i = 0; i < ev.n; i++) s[i] = ev.X[(size_t)i * SDD_SC_N + j];
        rc = eer_of(s, ev.y, ev.n, &a, &e);
        for (int i = 0; !rc && i < ev.n; i++) s[i] = -s[i];
        if (!rc) rc = eer_of(s, ev.y, ev.n, &b, &e);
        eer_f[j] = a < b ? a : b;
    }
    free(s);
    if (rc) { feats_free(&tr); feats_free(&ev); cli_error("%s: %s", dir, e.msg); return SDD_EXIT_ERROR; }

    char *rep = NULL;
    size_t replen = 0;
    FILE *f = open_memstream(&rep, &replen);
    if (!f) { feats_free(&tr); feats_free(&ev); cli_error("out of memory"); return SDD_EXIT_ERROR; }
    fprintf(f, "# Shortcut check\n\nFeatures that say nothing about speech synthesis, on %d train and %d eval clips.\n"
               "A logistic regression on all of them, fitted on train, scores eval; each feature is\n"
               "also used alone (either direction). 50%% = no shortcut; the corpus target is >= 35%%.\n\n",
            tr.n, ev.n);
    fprintf(f, "| feature | eval bona fide mean | eval spoof mean | EER alone (eval) | logistic weight |\n|---|---|---|---|---|\n");
    for (int j = 0; j < SDD_SC_N; j++) {
        double mb = 0, ms = 0;
        int nb = 0, ns = 0;
        for (int i = 0; i < ev.n; i++) {
            double v = ev.X[(size_t)i * SDD_SC_N + j];
            if (ev.y[i]) { mb += v; nb++; } else { ms += v; ns++; }
        }
        fprintf(f, "| %s | %.4g | %.4g | %.1f%% | %+.3f |\n", sdd_shortcut_names[j], nb ? mb / nb : NAN,
                ns ? ms / ns : NAN, eer_f[j], m.w[j]);
    }
    fprintf(f, "\nLogistic regression on all features: EER %.1f%% on eval (%.1f%% on train, where it was fitted).\n",
            eer_all, eer_in);
    fprintf(f, "Verdict: %s\n", eer_all >= 35.0 ? "no strong shortcut (eval EER >= 35%)"
                                                : "SHORTCUT: eval EER below 35%, the classes differ in non-speech features");
    fclose(f);
    fputs(rep, stdout);
    rc = 0;
    if (out && sdd_atomic_write(out, rep, replen, &e)) { cli_error("%s", e.msg); rc = SDD_EXIT_ERROR; }
    free(rep);
    feats_free(&tr);
    feats_free(&ev);
    if (!rc && require >= 0 && eer_all < require) {
        cli_error("%s: shortcut classifier EER %.1f%% is below the required %.1f%%", dir, eer_all, require);
        rc = SDD_EXIT_ERROR;
    }
    return rc;
}

int cmd_corpus(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return SDD_EXIT_USAGE; }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { usage(stdout); return SDD_EXIT_OK; }
    if (!strcmp(argv[1], "build")) return corpus_build(argc, argv);
    if (!strcmp(argv[1], "check")) return corpus_check(argc, argv);
    return cli_usage_error("corpus", "unknown subcommand '%s' (build or check)", argv[1]);
}
