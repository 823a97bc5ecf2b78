/* Loss landscape (src/train/landscape.c) on AASIST-L with random weights and
 * the bundled clips: filter-normalised directions (each filter's norm equals
 * the weights', 1-D parameters and buffers fixed), the grid written as TSV
 * whose centre is the model's own loss, one direction, and bad inputs (one
 * line naming the file, no output written). Streams (sdd_landscape_run_to,
 * what `sdd landscape -o -` uses): the bytes the files get, the warning of a
 * non-finite loss naming the stream, progress in a log as plain lines (no
 * '\r'), a failed write stopping the run with its reason; and the same through
 * the binary ($SDD_BIN, default ./sdd; skipped when absent): -o - and --svg -
 * against the files, the warning saying "standard output", no '\r' in a log,
 * --quiet, one line for a full device or a closed pipe. */
#include "check.h"
#include "cli_run.h"
#include "landscape_rows.h"
#include "train/landscape.h"
#include "train/step.h"
#include "models/modelio.h"
#include "data/dataset.h"
#include "backend/device.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];
static char cmdout[65536];

static const char *T(const char *name) { return check_tmp_path(tmp, name); }

/* the whole of a file into buf (NUL-terminated, at most cap - 1 bytes); its
 * length, -1 when it cannot be read */
static long slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) { buf[0] = 0; return -1; }
    const size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return (long)n;
}

/* 1 when files a and b hold the same bytes, and at least one */
static int same_file(const char *a, const char *b)
{
    static char x[1 << 17], y[1 << 17];
    const long na = slurp(a, x, sizeof x), nb = slurp(b, y, sizeof y);
    const int same = na > 0 && na == nb && !memcmp(x, y, (size_t)na);
    if (!same) fprintf(stderr, "  %s (%ld bytes) and %s (%ld bytes) differ\n", a, na, b, nb);
    return same;
}

/* sdd_landscape_run_to with stderr sent to a file; what it printed there in err */
static int run_to_captured(const sdd_landscape_params *p, const char *out, const sdd_landscape_stream *tsv,
                           const sdd_landscape_stream *svg, sdd_err *e, char *err, size_t cap)
{
    const char *path = T("stderr.txt");
    fflush(stderr);
    const int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) { err[0] = 0; return -2; }
    dup2(fd, 2);
    close(fd);
    const int rc = sdd_landscape_run_to(p, out, tsv, svg, e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    slurp(path, err, cap);
    return rc;
}

static int flush_calls;
static int flush_full(void) { flush_calls++; return ENOSPC; }
static int flush_ok(void) { flush_calls++; return 0; }

static void directions(sdd_model *m)
{
    const sdd_params *ps = &m->params;
    float *d = malloc(ps->total * 4), *d2 = malloc(ps->total * 4);
    sdd_landscape_direction(ps, 3, d);
    sdd_landscape_direction(ps, 4, d2);
    int worst_ok = 1, fixed_ok = 1, nfilters = 0;
    for (int i = 0; i < ps->np; i++) {
        const sdd_pinfo *pi = &ps->p[i];
        const float *w = ps->data + pi->off, *x = d + pi->off;
        if (!pi->trainable || pi->nd < 2) {
            for (size_t k = 0; k < pi->numel; k++) fixed_ok &= x[k] == 0.0f;
            continue;
        }
        const size_t nf = (size_t)pi->shape[0], fs = pi->numel / nf;
        for (size_t f = 0; f < nf; f++) {
            double dn = 0, wn = 0;
            for (size_t k = 0; k < fs; k++) { dn += (double)x[f * fs + k] * x[f * fs + k]; wn += (double)w[f * fs + k] * w[f * fs + k]; }
            if (fabs(sqrt(dn) - sqrt(wn)) > 1e-5 * (sqrt(wn) + 1e-12)) worst_ok = 0;
            nfilters++;
        }
    }
    CHECK_MSG(worst_ok, "a filter of the direction does not have its weights' norm");
    CHECK_MSG(fixed_ok, "biases, BatchNorm parameters or buffers got a direction");
    CHECK(nfilters > 100);
    double dot = 0, n1 = 0, n2 = 0;
    for (size_t k = 0; k < ps->total; k++) { dot += (double)d[k] * d2[k]; n1 += (double)d[k] * d[k]; n2 += (double)d2[k] * d2[k]; }
    CHECK_MSG(fabs(dot) / sqrt(n1 * n2) < 0.1, "two seeds give nearly parallel directions (cos %.3g)", dot / sqrt(n1 * n2));
    sdd_landscape_direction(ps, 3, d2);
    CHECK(memcmp(d, d2, ps->total * 4) == 0);
    free(d);
    free(d2);
}

/* the lines of s that start with "sdd: " */
static int sdd_lines(const char *s)
{
    int n = 0;
    for (const char *q = s; q && *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : NULL) n += !strncmp(q, "sdd: ", 5);
    return n;
}

/* sdd_landscape_run_to: streams instead of files */
static void streams(sdd_landscape_params p)
{
    static char err[16384];
    sdd_err e;
    /* the bytes the files get, the plot included (in 1 KiB pieces, each flushed) */
    p.dirs = 2;
    p.steps = 3;
    p.quiet = 1;
    p.max_items = 1;   /* one utterance, no copies: only the writing is tested here */
    p.rb_algo = 0;
    p.svg = T("f.svg");
    CHECK_MSG(sdd_landscape_run(&p, T("f.tsv"), &e) == 0, "%s", e.msg);
    p.svg = NULL;
    FILE *ft = fopen(T("s.tsv"), "wb"), *fs = fopen(T("s.svg"), "wb");
    CHECK(ft && fs);
    if (!ft || !fs) return;
    sdd_landscape_stream st = { ft, "the TSV stream", NULL }, ss = { fs, "the SVG stream", flush_ok };
    flush_calls = 0;
    CHECK_MSG(sdd_landscape_run_to(&p, NULL, &st, &ss, &e) == 0, "%s", e.msg);
    const long svg_bytes = ftell(fs);
    fclose(ft);
    fclose(fs);
    CHECK(same_file(T("f.tsv"), T("s.tsv")) && same_file(T("f.svg"), T("s.svg")));
    CHECK_MSG(svg_bytes > 2 * SDD_LANDSCAPE_PIECE && flush_calls == (svg_bytes + SDD_LANDSCAPE_PIECE - 1) / SDD_LANDSCAPE_PIECE,
              "%ld bytes of SVG, %d flushes", svg_bytes, flush_calls);
    CHECK(!cli_exists("the TSV stream") && !cli_exists("the SVG stream"));

    /* progress when stderr is a log: plain lines, at most one per tenth of
     * the grid, no '\r' (before: a "\rsdd landscape: k/n points" line per
     * point, whatever stderr was); --quiet: none */
    p.quiet = 0;
    st.fp = ft = fopen(T("s.tsv"), "wb");
    CHECK(ft && run_to_captured(&p, NULL, &st, NULL, &e, err, sizeof err) == 0);
    if (ft) fclose(ft);
    CHECK_MSG(!strchr(err, '\r'), "a '\\r' on a stderr that is a file: %s", err);
    CHECK_STR_CONTAINS(err, "sdd landscape: 1/9 points, ");
    CHECK_STR_CONTAINS(err, "sdd landscape: 9/9 points, ");
    int lines = 0, plain = 1;
    for (const char *q = err; *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : q + strlen(q)) {
        lines++;
        plain &= !strncmp(q, "sdd landscape: ", 15) && strchr(q, '\n');
    }
    CHECK_MSG(plain && lines == 9, "%d progress lines: %s", lines, err);
    CHECK(run_to_captured(&p, T("q.tsv"), NULL, NULL, &e, err, sizeof err) == 0 && !strchr(err, '\r'));
    p.quiet = 1;
    CHECK(run_to_captured(&p, T("q.tsv"), NULL, NULL, &e, err, sizeof err) == 0);
    CHECK_MSG(err[0] == 0, "--quiet printed: %s", err);

    /* a non-finite loss: the warning names the output the caller gave, the
     * stream's name for a stream (before: `sdd landscape -o -` named the
     * temporary file it wrote first) */
    p.dirs = 1;
    p.steps = 2;
    p.range = 100;
    st.fp = ft = fopen(T("s.tsv"), "wb");
    st.name = "standard output";
    CHECK(ft && run_to_captured(&p, NULL, &st, NULL, &e, err, sizeof err) == 0);
    if (ft) fclose(ft);
    CHECK_STR_CONTAINS(err, "sdd: warning: standard output: 2 of 2 grid points gave a non-finite loss (first at a=-100 b=0");
    CHECK(sdd_lines(err) == 1 && !strstr(err, "not plotted"));
    CHECK(run_to_captured(&p, T("w.tsv"), NULL, NULL, &e, err, sizeof err) == 0);
    CHECK_STR_CONTAINS(err, "w.tsv: 2 of 2 grid points gave a non-finite loss");
    p.range = 0.5;

    /* a failed write stops the run with its reason: the header goes first, so
     * nothing is computed */
    st.flush = flush_full;
    flush_calls = 0;
    st.fp = ft = fopen(T("s.tsv"), "wb");
    CHECK(ft && sdd_landscape_run_to(&p, NULL, &st, NULL, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "standard output: write failed: No space left on device");
    CHECK(flush_calls == 1);
    if (ft) fclose(ft);
    FILE *full = fopen("/dev/full", "wb");
    if (full) {
        sdd_landscape_stream sf = { full, "the full stream", NULL };
        CHECK(sdd_landscape_run_to(&p, NULL, &sf, NULL, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "the full stream: write failed: No space left on device");
        /* the plot on it, the TSV to a file: the TSV written, the plot's failure said */
        CHECK(sdd_landscape_run_to(&p, T("t.tsv"), NULL, &sf, &e) == -1 && cli_exists(T("t.tsv")));
        CHECK_STR_CONTAINS(e.msg, "the full stream: write failed: No space left on device");
        fclose(full);
    }
}

/* the same through the binary: `sdd landscape -o -` and `--svg -` */
static void cli(const char *model, const char *list)
{
    static char err[16384];
    const char *bin = cli_bin();
    if (!cli_exists(bin)) { printf("SKIP sdd landscape -o -: needs %s (run make)\n", bin); return; }
    char base[1200];
    snprintf(base, sizeof base, "$SDD landscape -m %s --list %s --audio-dir tests/data/audio --cut 4000 --max-items 1 --algo 0", model,
             list);
#define RUN(...) cli_run(cmdout, sizeof cmdout, __VA_ARGS__)
    CHECK_MSG(RUN("%s --steps 3 --range 0.5 -o %s --svg %s", base, T("c.tsv"), T("c.svg")) == 0, "%s", cmdout);
    CHECK_MSG(RUN("{ %s --steps 3 --range 0.5 -o - --svg %s > %s 2> %s; }", base, T("c2.svg"), T("c2.tsv"), T("c2.err")) == 0, "%s",
              cmdout);
    CHECK(same_file(T("c.tsv"), T("c2.tsv")) && same_file(T("c.svg"), T("c2.svg")));
    slurp(T("c2.err"), err, sizeof err);
    CHECK_MSG(!strchr(err, '\r') && strstr(err, "sdd landscape: 9/9 points, "), "stderr in a file: %s", err);
    CHECK_MSG(RUN("{ %s --steps 3 --range 0.5 -o %s --svg - > %s 2> %s; }", base, T("c3.tsv"), T("c3.svg"), T("c3.err")) == 0, "%s",
              cmdout);
    CHECK(same_file(T("c.tsv"), T("c3.tsv")) && same_file(T("c.svg"), T("c3.svg")));
    slurp(T("c3.err"), err, sizeof err);
    CHECK_MSG(!strchr(err, '\r'), "stderr in a file: %s", err);
    CHECK(RUN("{ %s --steps 3 --range 0.5 --quiet -o - > /dev/null; }", base) == 0 && cmdout[0] == 0);
    /* the warning says standard output (before: a temporary file's path) */
    CHECK(RUN("{ %s --dirs 1 --steps 2 --range 100 -o - > %s; }", base, T("c4.tsv")) == 0);
    CHECK_STR_CONTAINS(cmdout, "\nsdd: warning: standard output: 2 of 2 grid points gave a non-finite loss");
    CHECK_MSG(sdd_lines(cmdout) == 1 && !strchr(cmdout, '\r'), "%s", cmdout);
    CHECK_STR_CONTAINS(slurp(T("c4.tsv"), err, sizeof err) > 0 ? err : NULL, "\n-100\t0\tnan\t");
    CHECK(RUN("{ %s --dirs 1 --steps 2 --range 100 -o %s --svg - > /dev/null; }", base, T("c5.tsv")) == 0);
    CHECK_STR_CONTAINS(cmdout, "sdd: warning: ");
    CHECK_STR_CONTAINS(cmdout, "c5.tsv: 2 of 2 grid points gave a non-finite loss");
    /* a failed write: exit 1, one line with the reason (the SVG: several pieces) */
    CHECK(RUN("{ %s --steps 3 --range 0.5 -o %s --svg - > /dev/full; }", base, T("c6.tsv")) == 1);
    CHECK_MSG(sdd_lines(cmdout) == 1 && strstr(cmdout, "sdd: standard output: write failed: No space left on device"), "%s", cmdout);
    CHECK(RUN("{ %s --steps 3 --range 0.5 -o - > /dev/full; }", base) == 1);
    CHECK_MSG(sdd_lines(cmdout) == 1 && strstr(cmdout, "sdd: standard output: write failed: No space left on device"), "%s", cmdout);
    /* a closed pipe, SIGPIPE ignored: the header's write fails, nothing is computed */
    CHECK(RUN("{ trap '' PIPE; %s --steps 3 --range 0.5 -o - 2> %s | :; }", base, T("c7.err")) == 0);
    slurp(T("c7.err"), err, sizeof err);
    CHECK_MSG(sdd_lines(err) == 1 && strstr(err, "sdd: standard output: write failed: Broken pipe") &&
              !strstr(err, "points"), "%s", err);
    /* a folder that cannot take an output is said before the grid: no
     * progress line, no point computed, nothing left behind; a FIFO or
     * /dev/null output is not opened early (it is written in place) */
    CHECK(RUN("{ %s --steps 3 --range 0.5 -o %s > /dev/null; }", base, T("none/x.tsv")) == 1);
    CHECK_MSG(sdd_lines(cmdout) == 1 && strstr(cmdout, "x.tsv: cannot create temp file in ") &&
              strstr(cmdout, "none/: No such file or directory") && !strstr(cmdout, "points"), "%s", cmdout);
    CHECK(RUN("{ %s --steps 3 --range 0.5 -o %s --svg %s > /dev/null; }", base, T("c8.tsv"), T("c.tsv/x.svg")) == 1);
    CHECK_MSG(sdd_lines(cmdout) == 1 && strstr(cmdout, "x.svg: cannot create temp file in ") && !strstr(cmdout, "points"), "%s",
              cmdout);
    CHECK(access(T("c8.tsv"), F_OK) != 0);
    CHECK(RUN("{ %s --steps 2 --dirs 1 --range 0.5 --quiet -o /dev/null --svg %s; }", base, T("c9.svg")) == 0 && cmdout[0] == 0);
    CHECK(access(T("c9.svg"), F_OK) == 0);
#undef RUN
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/sdd-test-landscape-%d", (int)getpid());
    mkdir(tmp, 0700);
    sdd_err e;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(m != NULL);
    if (!m) return CHECK_DONE("test_landscape");
    sdd_model_init_random(m, 9);
    directions(m);
    char model[400], list[400], out[400];
    snprintf(model, sizeof model, "%s/m.safetensors", tmp);
    snprintf(list, sizeof list, "%s/list.txt", tmp);
    snprintf(out, sizeof out, "%s/land.tsv", tmp);
    CHECK_MSG(sdd_model_save(m, model, &e) == 0, "%s", e.msg);
    FILE *f = fopen(list, "w");
    fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nreal_02.flac bonafide\ntts_02.flac spoof\n");
    fclose(f);
    sdd_landscape_params p = sdd_landscape_default_params();
    p.model = model;
    p.list = list;
    p.audio_dir = "tests/data/audio";
    p.steps = 3;
    p.range = 0.5;
    p.cut = 4000;
    p.batch = 4;
    p.quiet = 1;
    char svg[400];
    snprintf(svg, sizeof svg, "%s/land.svg", tmp);
    p.svg = svg;
    CHECK_MSG(sdd_landscape_run(&p, out, &e) == 0, "%s", e.msg);
    p.svg = NULL;
    FILE *sf = fopen(svg, "r");
    CHECK(sf != NULL);
    if (sf) {
        char buf[65536];
        size_t nr = fread(buf, 1, sizeof buf - 1, sf);
        buf[nr] = 0;
        fclose(sf);
        int cells = 0;
        for (const char *q = buf; (q = strstr(q, "<rect x=")); q++) cells++;
        CHECK(cells == 18);   /* 3 x 3 per panel, two panels */
        CHECK_STR_CONTAINS(buf, "RawBoost copies");
        CHECK(strstr(buf, "</svg>") != NULL && !strstr(buf, "nan"));
    }
    double v[16][4];
    CHECK(landscape_rows(out, v, 16) == 9);
    /* the centre (row 4: a = b = 0) is the model's own loss on the same inputs */
    sdd_dataset *ds;
    sdd_dataset_params dp = sdd_dataset_default_params();
    CHECK(sdd_dataset_open(&ds, list, "tests/data/audio", &dp, &e) == 0);
    float *w = malloc((size_t)4 * 4000 * sizeof(float));
    int lab[4];
    for (int i = 0; i < 4; i++) { sdd_dataset_get(ds, i, 4000, SDD_CUT_FIRST, 0, w + (size_t)i * 4000); lab[i] = sdd_dataset_label(ds, i); }
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    double l0;
    CHECK(sdd_eval_loss(m, &c, w, 4, 4000, lab, p.class_weight, &l0, NULL, &e) == 0);
    CHECK(v[4][0] == 0 && v[4][1] == 0);
    CHECK_NEAR(v[4][2], l0, 1e-6 * l0);
    CHECK(v[0][0] == -0.5 && v[0][1] == -0.5 && v[8][0] == 0.5 && v[8][1] == 0.5);
    int varies = 0, aug_differs = 0;
    for (int k = 0; k < 9; k++) { varies |= fabs(v[k][2] - l0) > 1e-4; aug_differs |= fabs(v[k][3] - v[k][2]) > 1e-6; }
    CHECK_MSG(varies && aug_differs, "the surface is flat or the augmented loss equals the original");
    /* one direction */
    p.dirs = 1;
    p.steps = 2;
    p.rb_algo = 0;
    CHECK(sdd_landscape_run(&p, out, &e) == 0 && landscape_rows(out, v, 16) == 2 && v[1][0] == 0.5 && v[1][1] == 0 && isnan(v[1][3]));
    /* only the first --max-items files are decoded: a missing file after them
     * does not matter; among them it is an error naming its line */
    char list2[400];
    snprintf(list2, sizeof list2, "%s/list2.txt", tmp);
    f = fopen(list2, "w");
    CHECK(f && fprintf(f, "real_01.flac bonafide\ntts_01.flac spoof\nmissing.flac spoof\n") > 0);
    if (f) fclose(f);
    p.list = list2;
    p.max_items = 2;
    CHECK_MSG(sdd_landscape_run(&p, out, &e) == 0 && landscape_rows(out, v, 16) == 2, "%s", e.msg);
    p.max_items = 3;
    CHECK(sdd_landscape_run(&p, out, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "list2.txt:3: ");
    p.max_items = 0;
    p.list = list;
    /* bad inputs: one line naming the file, the previous output untouched */
    struct stat st0, st1;
    stat(out, &st0);
    p.list = "/nonexistent/list.txt";
    CHECK(sdd_landscape_run(&p, out, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent/list.txt");
    p.list = list;
    p.model = "/nonexistent/m.safetensors";
    CHECK(sdd_landscape_run(&p, out, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "/nonexistent/m.safetensors");
    p.model = model;
    p.steps = 1;
    CHECK(sdd_landscape_run(&p, out, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "--steps");
    p.steps = 3;
    p.cut = 100;
    CHECK(sdd_landscape_run(&p, out, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "shorter than");
    p.cut = 4000;
    if (!sdd_device_cuda_built()) {   /* --device cuda in a build without CUDA: refused, with the reason */
        p.device = SDD_DEV_CUDA;
        CHECK(sdd_landscape_run(&p, out, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, "without CUDA");
        p.device = SDD_DEV_CPU;
    }
    stat(out, &st1);
    CHECK(st0.st_size == st1.st_size && st0.st_mtime == st1.st_mtime);
    p.dirs = 2;
    p.rb_algo = 4;
    streams(p);
    cli(model, list);
    free(w);
    sdd_ctx_free(&c);
    sdd_dataset_close(ds);
    sdd_model_free(m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return CHECK_DONE("test_landscape");
}
