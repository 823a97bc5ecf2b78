/* libFuzzer target for the score-file readers (src/metrics/scores.c), and
 * the metrics run on whatever they accept. The input is read as a CM score
 * file and as a labelled ASV score file. Checks the contract: success gives
 * n > 0 entries with unique non-empty IDs that sdd_scores_find finds, finite
 * scores and increasing line numbers; failure gives -1, an empty result and
 * one line naming the input. Accepted CM scores then go through the sort,
 * EER, DET curve, min t-DCF, Cllr, probit and the attack table, labelled by
 * their own key column or by a bit of their ID, which must not crash and must
 * give rates in [0, 1]. */
#include "metrics/metrics.h"
#include "metrics/scores.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_err(int rc, const sdd_err *e)
{
    if (rc != -1) __builtin_trap();
    if (strncmp(e->msg, "fuzz", 4) || strchr(e->msg, '\n')) __builtin_trap();
}

static void metrics_on(const sdd_scores *s)
{
    const int64_t n = s->n;
    unsigned char *pos = malloc((size_t)n);
    int *row = malloc((size_t)n * sizeof *row), *col = malloc((size_t)n * sizeof *col);
    if (!pos || !row || !col) { free(pos); free(row); free(col); return; }
    int64_t np = 0;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s->id[i][0];
        pos[i] = s->label ? (unsigned char)(s->label[i] == 1) : (unsigned char)(c & 1);
        np += pos[i];
        row[i] = (c >> 1) % 3 == 2 ? -1 : (c >> 1) % 3;
        col[i] = (c >> 3) % 3 == 2 ? -1 : (c >> 3) % 3;
    }
    sdd_sorted so;
    sdd_err e;
    if (sdd_sorted_init(&so, s->score, pos, n, &e)) __builtin_trap();  /* scores are finite */
    sdd_eer_result r;
    int rc = sdd_eer_sorted(&so, NULL, &r, &e);
    if ((rc == 0) != (np > 0 && np < n)) __builtin_trap();
    if (rc == 0) {
        if (!(r.eer >= 0 && r.eer <= 1) || r.index < 0 || r.index > n) __builtin_trap();
        sdd_det d;
        if (sdd_det_curve(&so, NULL, &d, &e) || d.n != n + 1) __builtin_trap();
        for (int64_t k = 0; k < d.n; k++) {
            if (!(d.frr[k] >= 0 && d.frr[k] <= 1 && d.far[k] >= 0 && d.far[k] <= 1)) __builtin_trap();
            double p = sdd_probit(d.far[k]);
            if (isnan(p)) __builtin_trap();
        }
        sdd_det_free(&d);
        double cl, mcl;
        if (sdd_cllr_sorted(&so, NULL, &cl, &mcl, &e)) __builtin_trap();
        if (!(mcl >= 0) || isnan(cl)) __builtin_trap();
        sdd_tdcf_coef k = { SDD_TDCF_2021, 0.05, 0.9, 0.5 };
        sdd_tdcf_result t;
        sdd_min_tdcf_sorted(&so, NULL, &k, &t, &e);
        k.form = SDD_TDCF_2019;
        sdd_min_tdcf_sorted(&so, NULL, &k, &t, &e);
        const char *names[] = { "a", "b" };
        sdd_tdcf_coef cells[9];
        for (int i = 0; i < 9; i++) cells[i] = k;
        sdd_table tb;
        if (sdd_table_compute(&so, row, names, 2, col, names, 2, cells, &tb, &e)) __builtin_trap();
        for (int i = 0; i < tb.nrow * tb.ncol; i++)
            if (!isnan(tb.eer[i]) && !(tb.eer[i] >= 0 && tb.eer[i] <= 1)) __builtin_trap();
        sdd_table_free(&tb);
    }
    sdd_sorted_free(&so);
    free(pos);
    free(row);
    free(col);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_scores s;
    sdd_err e = { "" };
    int rc = sdd_scores_load_mem((const char *)data, size, "fuzz", &s, &e);
    if (rc == 0) {
        if (s.n <= 0 || !s.id || !s.score || !s.line) __builtin_trap();
        if (s.format != SDD_SCORES_ID_SCORE && s.format != SDD_SCORES_CM2019) __builtin_trap();
        if ((s.format == SDD_SCORES_CM2019) != (s.label != NULL)) __builtin_trap();
        for (int64_t i = 0; i < s.n; i++) {
            if (!*s.id[i] || !isfinite(s.score[i])) __builtin_trap();
            if (i && s.line[i] <= s.line[i - 1]) __builtin_trap();
            if (sdd_scores_find(&s, s.id[i]) != i) __builtin_trap();
        }
        if (s.n <= 5000) metrics_on(&s);
        sdd_scores_free(&s);
    } else {
        if (s.n != 0 || s.id) __builtin_trap();
        check_err(rc, &e);
    }

    sdd_asv_scores a;
    e.msg[0] = 0;
    rc = sdd_asv_load_mem((const char *)data, size, "fuzz", &a, &e);
    if (rc == 0) {
        if (a.n <= 0 || !a.score || !a.cls) __builtin_trap();
        int64_t c[3] = { 0, 0, 0 };
        for (int64_t i = 0; i < a.n; i++) {
            if (a.cls[i] > SDD_ASV_SPOOF || !isfinite(a.score[i])) __builtin_trap();
            c[a.cls[i]]++;
        }
        double *v[3];
        for (int k = 0; k < 3; k++) v[k] = malloc((size_t)(c[k] ? c[k] : 1) * sizeof(double));
        if (v[0] && v[1] && v[2] && a.n <= 5000) {
            int64_t m[3] = { 0, 0, 0 };
            for (int64_t i = 0; i < a.n; i++) v[a.cls[i]][m[a.cls[i]]++] = a.score[i];
            sdd_asv_rates r;
            sdd_err e2;
            int rr = sdd_asv_rates_compute(v[0], c[0], v[1], c[1], v[2], c[2], &r, &e2);
            if ((rr == 0) != (c[0] > 0 && c[1] > 0)) __builtin_trap();
            if (rr == 0 && !(r.pfa >= 0 && r.pfa <= 1 && r.pmiss >= 0 && r.pmiss <= 1)) __builtin_trap();
        }
        for (int k = 0; k < 3; k++) free(v[k]);
        sdd_asv_free(&a);
    } else {
        if (a.n != 0) __builtin_trap();
        check_err(rc, &e);
    }
    return 0;
}
