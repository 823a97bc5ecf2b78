/* Tests of the int8 linear layers (src/backend/qgemm.c), run from the
 * repository root:
 *   - against tools/reference/qgemm_ref.py (tests/data/qgemm/cases.txt,
 *     numpy): y bit for bit, with every kernel the build has (AVX-512 VNNI,
 *     AVX-VNNI) and the scalar loop, on shapes that are not multiples of the
 *     tiles, rows of zeros, rows without negatives or positives;
 *   - the fast kernel equals the scalar loop on random XLS-R-like shapes,
 *     on one thread and three;
 *   - the quantization error against float32 is what 8 bits give;
 *   - bad input: a weight or an activation that is not finite. */
#include "check.h"
#include "cli_run.h"
#include "fixture.h"
#include "backend/qgemm.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "sdd.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CASES "tests/data/qgemm/cases.txt"

/* n hex floats after a line's tag into v */
static int read_vals(const char *line, const char *tag, float *v, size_t n)
{
    const size_t tl = strlen(tag);
    if (strncmp(line, tag, tl) || line[tl] != ' ') return -1;
    const char *p = line + tl;
    char *end;
    for (size_t i = 0; i < n; i++) {
        v[i] = strtof(p, &end);
        if (end == p) return -1;
        p = end;
    }
    return 0;
}

static void test_reference(void)
{
    FILE *f = fopen(CASES, "r");
    CHECK_MSG(f != NULL, "cannot read " CASES " (run from the repository root)");
    if (!f) return;
    size_t cap = 1 << 22;
    char *line = malloc(cap);
    int cases = 0, same_auto = 0, same_scalar = 0, kernels_run = 0;
    while (line && fgets(line, (int)cap, f)) {
        int R, din, dout, hb;
        if (sscanf(line, "case %d %d %d %d", &R, &din, &dout, &hb) != 4) continue;
        float *x = malloc((size_t)R * din * 4), *w = malloc((size_t)dout * din * 4), *b = malloc((size_t)dout * 4);
        float *y = malloc((size_t)R * dout * 4), *ya = malloc((size_t)R * dout * 4), *ys = malloc((size_t)R * dout * 4);
        int ok = x && w && b && y && ya && ys && fgets(line, (int)cap, f) && !read_vals(line, "x", x, (size_t)R * din) &&
                 fgets(line, (int)cap, f) && !read_vals(line, "w", w, (size_t)dout * din);
        if (ok && hb) ok = fgets(line, (int)cap, f) && !read_vals(line, "b", b, (size_t)dout);
        ok = ok && fgets(line, (int)cap, f) && !read_vals(line, "y", y, (size_t)R * dout);
        CHECK_MSG(ok, "case %d: cannot parse", cases);
        sdd_q8_linear q;
        sdd_err e;
        if (ok && sdd_q8_linear_init(&q, w, dout, din, &e) == 0) {
            CHECK(sdd_q8_linear_forward(&q, x, R, hb ? b : NULL, ya, SDD_Q8_AUTO, &e) == 0);
            CHECK(sdd_q8_linear_forward(&q, x, R, hb ? b : NULL, ys, SDD_Q8_SCALAR, &e) == 0);
            same_auto += !memcmp(ya, y, (size_t)R * dout * 4);
            same_scalar += !memcmp(ys, y, (size_t)R * dout * 4);
            /* every kernel of the build, forced */
            for (int k = SDD_Q8_AVX512VNNI; k <= SDD_Q8_AMX; k++) {
                if (!sdd_q8_has_kernel(k)) continue;
                CHECK(sdd_q8_linear_forward(&q, x, R, hb ? b : NULL, ys, k, &e) == 0);
                CHECK_MSG(!memcmp(ys, y, (size_t)R * dout * 4), "case %d: kernel %d differs from numpy", cases, k);
                kernels_run++;
            }
            for (int i = 0; i < R * dout; i++)
                if (ya[i] != y[i]) { fprintf(stderr, "case %d [%d]: %a vs numpy %a\n", cases, i, ya[i], y[i]); break; }
            sdd_q8_linear_free(&q);
        } else CHECK(0);
        cases++;
        free(x); free(w); free(b); free(y); free(ya); free(ys);
    }
    free(line);
    fclose(f);
    printf("test_qgemm: %d forced-kernel runs besides AUTO and the scalar loop (AVX-512 VNNI %s, AVX-VNNI %s in this build; "
           "AMX %s on this CPU)\n", kernels_run, sdd_q8_has_kernel(SDD_Q8_AVX512VNNI) ? "yes" : "no",
           sdd_q8_has_kernel(SDD_Q8_AVXVNNI_256) ? "yes" : "no", sdd_q8_has_kernel(SDD_Q8_AMX) ? "yes" : "no");
    CHECK_MSG(cases == 6 && same_auto == cases && same_scalar == cases,
              "%d cases: %d (%s) and %d (scalar) equal numpy bit for bit", cases, same_auto,
              sdd_q8_fast() ? sdd_q8_fast() : "scalar", same_scalar);
}

static void fill(float *v, size_t n, uint64_t key, float sd)
{
    for (size_t i = 0; i < n; i++) v[i] = sd * (float)sdd_rng_normal(key, i);
}

static void test_random(void)
{
    /* XLS-R's shapes (201 frames; 1024 -> 1024, 1024 -> 4096, 4096 -> 1024) and ragged ones */
    const int shapes[][3] = { { 201, 1024, 1024 }, { 201, 1024, 4096 }, { 201, 4096, 1024 }, { 5, 3, 17 }, { 37, 259, 45 } };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int R = shapes[s][0], din = shapes[s][1], dout = shapes[s][2];
        /* without the fast kernel the XLS-R shapes would time the scalar loop only */
        if (!sdd_q8_fast() && din >= 1024) continue;
        float *x = malloc((size_t)R * din * 4), *w = malloc((size_t)dout * din * 4), *b = malloc((size_t)dout * 4);
        float *y1 = malloc((size_t)R * dout * 4), *y3 = malloc((size_t)R * dout * 4), *ys = malloc((size_t)R * dout * 4);
        if (!x || !w || !b || !y1 || !y3 || !ys) { CHECK(0); return; }
        fill(x, (size_t)R * din, sdd_rng_key(1, s, 0, 0), 1.0f);
        fill(w, (size_t)dout * din, sdd_rng_key(2, s, 0, 0), 0.03f);
        fill(b, (size_t)dout, sdd_rng_key(3, s, 0, 0), 0.1f);
        sdd_q8_linear q;
        sdd_err e;
        CHECK(sdd_q8_linear_init(&q, w, dout, din, &e) == 0);
        const int nthr = omp_get_max_threads();
        omp_set_num_threads(1);
        CHECK(sdd_q8_linear_forward(&q, x, R, b, y1, SDD_Q8_AUTO, &e) == 0);
        omp_set_num_threads(3);
        CHECK(sdd_q8_linear_forward(&q, x, R, b, y3, SDD_Q8_AUTO, &e) == 0);
        omp_set_num_threads(nthr);
        const int small = (size_t)R * din * dout < 50000000;
        if (small) CHECK(sdd_q8_linear_forward(&q, x, R, b, ys, SDD_Q8_SCALAR, &e) == 0);
        CHECK_MSG(!memcmp(y1, y3, (size_t)R * dout * 4), "%d x %d x %d: the thread count changed y", R, din, dout);
        /* every other fast kernel of the build and the CPU (the 256-bit one of
         * laptops without AVX-512, AVX-512 VNNI, AMX) gives the same bits on every shape */
        for (int k = SDD_Q8_AVX512VNNI; k <= SDD_Q8_AMX; k++) {
            if (!sdd_q8_has_kernel(k)) continue;
            CHECK(sdd_q8_linear_forward(&q, x, R, b, y3, k, &e) == 0);
            CHECK_MSG(!memcmp(y1, y3, (size_t)R * dout * 4), "%d x %d x %d: kernel %d differs from AUTO", R, din, dout, k);
        }
        if (small) CHECK_MSG(!memcmp(y1, ys, (size_t)R * dout * 4), "%d x %d x %d: kernel != scalar", R, din, dout);
        /* against float32 (double sums): the error of 8-bit weights and activations */
        double num = 0, den = 0;
        for (int r = 0; r < R; r += 7)
            for (int o = 0; o < dout; o++) {
                double t = b[o];
                for (int k = 0; k < din; k++) t += (double)x[(size_t)r * din + k] * w[(size_t)o * din + k];
                num += (y1[(size_t)r * dout + o] - t) * (y1[(size_t)r * dout + o] - t);
                den += t * t;
            }
        const double rel = sqrt(num / den);
        CHECK_MSG(rel < 0.03 && rel > 1e-4, "%d x %d x %d: relative RMS error against float32 %.3g", R, din, dout, rel);
        if (s == 1 || (!sdd_q8_fast() && s == 4))
            printf("test_qgemm: %d x %d -> %d, relative RMS error against float32 %.4f (%s)\n", R, din, dout, rel,
                   sdd_q8_fast() ? sdd_q8_fast() : "scalar only");
        /* the dequantized weights within half a step of the originals */
        int close = 1;
        for (int o = 0; o < dout; o += 3)
            for (int k = 0; k < din; k += 5)
                close &= fabsf(sdd_q8_weight(&q, o, k) - w[(size_t)o * din + k]) <= 0.5f * q.scale[o] * 1.0001f;
        CHECK(close);
        sdd_q8_linear_free(&q);
        free(x); free(w); free(b); free(y1); free(y3); free(ys);
    }
}

static void test_bad(void)
{
    float w[6] = { 1, 2, 3, 4, 5, 6 }, x[6] = { 1, 2, 3, 4, 5, 6 }, y[4];
    sdd_q8_linear q;
    sdd_err e;
    w[4] = NAN;
    CHECK(sdd_q8_linear_init(&q, w, 2, 3, &e) == -1 && strstr(e.msg, "weight [1][1] is not finite"));
    w[4] = 5;
    CHECK(sdd_q8_linear_init(&q, w, 0, 3, &e) == -1 && strstr(e.msg, "bad sizes"));
    CHECK(sdd_q8_linear_init(&q, w, 2, 3, &e) == 0);
    x[5] = INFINITY;
    CHECK(sdd_q8_linear_forward(&q, x, 2, NULL, y, SDD_Q8_AUTO, &e) == -1 && strstr(e.msg, "input row 1"));
    x[5] = 6;
    CHECK(sdd_q8_linear_forward(&q, x, 2, NULL, y, SDD_Q8_AUTO, &e) == 0);
    CHECK(sdd_q8_linear_forward(&q, x, 0, NULL, y, SDD_Q8_AUTO, &e) == 0);   /* no rows: nothing */
    CHECK(sdd_q8_linear_forward(&q, x, 2, NULL, y, 99, &e) == -1 && strstr(e.msg, "kernel 99 is not in this build"));
    sdd_q8_linear_free(&q);
    sdd_q8_linear_free(&q);   /* twice: harmless */
    /* a value that is not finite inside the 16-wide quantization loop and in its tail (din 40), with every kernel */
    float wl[3 * 40], xl[2 * 40], yl[2 * 3];
    for (int i = 0; i < 3 * 40; i++) wl[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < 2 * 40; i++) xl[i] = 0.25f * (float)(i % 11) - 1.0f;
    CHECK(sdd_q8_linear_init(&q, wl, 3, 40, &e) == 0);
    for (int k = SDD_Q8_AUTO; k <= SDD_Q8_AMX; k++) {
        if (!sdd_q8_has_kernel(k)) continue;
        static const int at[] = { 40 + 5, 40 + 35, 3, 39 };
        static const float bad[] = { NAN, -INFINITY, INFINITY, NAN };
        for (int t = 0; t < 4; t++) {
            const float keep = xl[at[t]];
            xl[at[t]] = bad[t];
            char want[32];
            snprintf(want, sizeof want, "input row %d", at[t] / 40);
            CHECK_MSG(sdd_q8_linear_forward(&q, xl, 2, NULL, yl, k, &e) == -1 && strstr(e.msg, want), "kernel %d, entry %d", k, at[t]);
            xl[at[t]] = keep;
        }
        CHECK(sdd_q8_linear_forward(&q, xl, 2, NULL, yl, k, &e) == 0);
    }
    sdd_q8_linear_free(&q);
}

#define XFIX "tests/data/fixtures/xlsr_aasist_tiny.safetensors"
#define QFIX "tests/data/fixtures/xlsr_aasist_tiny_int8.safetensors"

/* eval logits of the fixture's XLSR-AASIST-tiny, int8 or float32 */
static int xlsr_logits(const sdd_tensorset *fx, int int8, float *logits)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("XLSR-AASIST-tiny", &e);
    if (!m || fx_set_weights(m, fx, XFIX, &e)) { fprintf(stderr, "%s\n", e.msg); sdd_model_free(m); return -1; }
    int nlin = 0;
    if (int8 && (sdd_model_quantize_int8(m, &nlin, &e) || nlin != 12)) { sdd_model_free(m); return -1; }
    const sdd_ntensor *in = sdd_tensorset_find(fx, "input");
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    int64_t shp[2] = { in->shape[0], in->shape[1] };
    sdd_ctx_begin(&c, (int)shp[0], 0, 0);
    sdd_tensor *z = m->forward(&c, m, sdd_tensor_wrap(&c, in->data, 2, shp));
    if (z) memcpy(logits, z->x, 4 * sizeof *logits);
    else fprintf(stderr, "forward: %s\n", c.err.msg);
    sdd_ctx_free(&c);
    sdd_model_free(m);
    return z ? 0 : -1;
}

static double dist(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s);
}

/* the int8 XLSR-AASIST-tiny against tools/reference/xlsr_int8_ref.py's PyTorch forward */
static void test_xlsr(void)
{
    sdd_tensorset fx, qx;
    sdd_err e;
    CHECK_MSG(sdd_safetensors_load(XFIX, &fx, &e) == 0, "%s", e.msg);
    CHECK_MSG(sdd_safetensors_load(QFIX, &qx, &e) == 0, "%s", e.msg);
    const sdd_ntensor *ri = sdd_tensorset_find(&qx, "logits_int8"), *rf = sdd_tensorset_find(&qx, "logits_fp32");
    CHECK(ri && rf && ri->nbytes == 16 && rf->nbytes == 16);
    float l8[4], l32[4];
    CHECK(xlsr_logits(&fx, 1, l8) == 0 && xlsr_logits(&fx, 0, l32) == 0);
    if (ri && rf) {
        const double d_ref = dist(l8, ri->data, 4), d_fp = dist(l8, l32, 4), q_ref = dist(ri->data, rf->data, 4);
        printf("test_qgemm: XLSR-AASIST-tiny logits: sdd int8 - torch int8 %.3g, sdd int8 - sdd float32 %.3g, "
               "torch int8 - torch float32 %.3g\n", d_ref, d_fp, q_ref);
        CHECK_MSG(d_ref < 0.1 * q_ref, "sdd's int8 logits are %.3g from the reference's, its quantization moves them %.3g", d_ref, q_ref);
        CHECK(d_fp > 0.5 * q_ref && d_fp < 2.0 * q_ref);
    }
    /* a model without XLS-R: refused with the reason */
    sdd_model *a = sdd_model_new("AASIST-L", &e);
    CHECK(a && sdd_model_quantize_int8(a, NULL, &e) == -1 && strstr(e.msg, "has none"));
    sdd_model_free(a);
    sdd_tensorset_free(&fx);
    sdd_tensorset_free(&qx);
}

static char out[65536];
static char tmp[256];
#define run(...) cli_run(out, sizeof out, __VA_ARGS__)

/* sdd score --int8 on a one-step XLSR-AASIST-tiny: the same bits for any
 * batch, thread count and way of splitting the work, near the float32 scores */
static void test_cli(void)
{
    char one[8192], fp[8192];
    CHECK(run("printf 'real_01.flac bonafide\\ntts_01.flac spoof\\n' > %s/l.lst && $SDD train --model XLSR-AASIST-tiny "
              "--train %s/l.lst --train-audio tests/data/audio --dev %s/l.lst --dev-audio tests/data/audio --cut 16000 "
              "--batch 2 --max-steps 1 --threads 2 --quiet --out %s/run", tmp, tmp, tmp, tmp) == 0);
    const char *mp = "run/model.safetensors";
    if (!sdd_q8_fast()) {
        CHECK(run("$SDD score -m %s/%s --int8 tests/data/audio", tmp, mp) == 1);
        CHECK(cli_one_line(out) && strstr(out, "no fast int8 kernel"));
        printf("test_qgemm: this build has no fast int8 kernel: sdd score --int8 refuses (checked)\n");
        return;
    }
    CHECK(run("{ $SDD score -m %s/%s --cut 16000 --batch 1 --threads 1 tests/data/audio 2>/dev/null; }", tmp, mp) == 0);
    snprintf(fp, sizeof fp, "%s", out);
    CHECK(run("$SDD score -m %s/%s --int8 --cut 16000 --batch 1 --threads 1 tests/data/audio", tmp, mp) == 0);
    char note[160];
    snprintf(note, sizeof note, "sdd score: int8 inference: 12 linear layers of the XLS-R encoder quantized (%s)\n", sdd_q8_fast());
    CHECK_STR_CONTAINS(out, note);
    CHECK(run("{ $SDD score -m %s/%s --int8 --cut 16000 --batch 1 --threads 1 tests/data/audio 2>/dev/null; }", tmp, mp) == 0);
    snprintf(one, sizeof one, "%s", out);
    CHECK_MSG(strcmp(one, fp) != 0, "--int8 gave the float32 scores");
    static const char *const how[] = { "--batch 4 --threads 1", "--batch 1 --threads 2", "--batch 6 --threads 2 --parallel layers",
                                       "--batch 3 --threads 3 --parallel layers" };
    for (size_t k = 0; k < sizeof how / sizeof how[0]; k++) {
        CHECK(run("{ $SDD score -m %s/%s --int8 --cut 16000 %s tests/data/audio 2>/dev/null; }", tmp, mp, how[k]) == 0);
        CHECK_MSG(!strcmp(one, out), "--int8 %s: scores differ from --batch 1 --threads 1", how[k]);
    }
    /* each int8 score within 1e-2 of the float32 one (a logit) */
    int near = 0, lines = 0;
    const char *p = one, *q = fp;
    char ida[512], idb[512];
    double a, b;
    int na, nb;
    while (sscanf(p, "%511s %lf%n", ida, &a, &na) == 2 && sscanf(q, "%511s %lf%n", idb, &b, &nb) == 2) {
        lines++;
        near += !strcmp(ida, idb) && fabs(a - b) < 1e-2;
        p = strchr(p + na, '\n');
        q = strchr(q + nb, '\n');
        if (!p || !q) break;
        p++;
        q++;
    }
    CHECK_MSG(lines == 6 && near == lines, "%d of %d int8 scores within 1e-2 of float32", near, lines);
    /* the library's detector with int8: the score sdd score --int8 printed for the file */
    sdd_detector_params dp = sdd_detector_default_params();
    dp.int8 = 1;
    dp.cut = 16000;
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/%s", tmp, mp);
    sdd_detector *d = sdd_detector_load(path, &dp, err, sizeof err);
    CHECK_MSG(d != NULL, "%s", err);
    double sc = 0, want = NAN;
    if (d) CHECK(sdd_detector_score_file(d, "tests/data/audio/tts_01.flac", &sc) == 0);
    const char *line = strstr(one, "tests/data/audio/tts_01.flac ");
    if (line) want = strtod(line + strlen("tests/data/audio/tts_01.flac "), NULL);
    CHECK_MSG(fabs(sc - want) < 5e-9 * (1 + fabs(want)), "API int8 score %.9g, sdd score --int8 printed %.9g", sc, want);
    sdd_detector_free(d);
    dp.device = 1;
    CHECK(sdd_detector_load(path, &dp, err, sizeof err) == NULL && strstr(err, "int8"));
    /* refusals: a model without XLS-R (exit 1, naming it), the device (usage) */
    CHECK(run("$SDD train --model AASIST-L --train %s/l.lst --train-audio tests/data/audio --dev %s/l.lst --dev-audio "
              "tests/data/audio --cut 16000 --batch 2 --max-steps 1 --threads 2 --quiet --out %s/al", tmp, tmp, tmp) == 0);
    CHECK(run("$SDD score -m %s/al/model.safetensors --int8 tests/data/audio", tmp) == 1);
    CHECK(cli_one_line(out) && strstr(out, "--int8: ") && strstr(out, "al/model.safetensors: AASIST-L: int8 inference covers"));
    CHECK(run("$SDD score -m %s/%s --int8 --device cuda tests/data/audio", tmp, mp) == 2);
    CHECK(cli_one_line(out) && strstr(out, "--int8 applies to --device cpu"));
}

int main(void)
{
    test_reference();
    test_random();
    test_bad();
    test_xlsr();
    const char *bin = cli_bin();
    if (!cli_exists(bin)) printf("SKIP test_qgemm's command-line checks: needs %s (run make)\n", bin);
    else {
        snprintf(tmp, sizeof tmp, "/tmp/sdd-test-qgemm-%d", (int)getpid());
        mkdir(tmp, 0700);
        test_cli();
        run("rm -rf %s", tmp);
    }
    return CHECK_DONE("test_qgemm");
}
