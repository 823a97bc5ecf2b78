/* Loss landscape (src/train/landscape.c) on AASIST-L with random weights and
 * the bundled clips: filter-normalised directions (each filter's norm equals
 * the weights', 1-D parameters and buffers fixed), the grid written as TSV
 * whose centre is the model's own loss, one direction, and bad inputs (one
 * line naming the file, no output written). */
#include "check.h"
#include "landscape_rows.h"
#include "train/landscape.h"
#include "train/step.h"
#include "models/modelio.h"
#include "data/dataset.h"
#include "backend/device.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

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
    free(w);
    sdd_ctx_free(&c);
    sdd_dataset_close(ds);
    sdd_model_free(m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return CHECK_DONE("test_landscape");
}
