/* libFuzzer target for the evaluation behind `sdd eval` (sdd_eval_run): the
 * score file, key, ASV scores and ASVspoof 2021 ASV key it reads and joins
 * (scores.c, list.c, match.c, the 2021 ASV key pairing and the attack x
 * condition tables of evaluate.c), then the text summary, the JSON report
 * and both DET outputs. Input: one option byte, then up to four files
 * separated by NUL bytes (scores, key, ASV scores, ASV key), written to
 * /dev/shm for the file-based API. Option bits: 0 key, 1 ASV scores, 2 ASV
 * key, 3 allow missing, 4-5 t-DCF form (none, 2019, 2021), 6 subset "all",
 * 7 breakdown "attack". Checks the contract: failure is -1 with one line
 * naming a file; success gives an EER in [0, 1] and writers that succeed.
 * Then the bootstrap of `sdd eval --ci` (bootstrap.c: 7 replicates, seeded
 * by the input's size) on the report, and `--compare` against the same
 * evaluation of the third file as CM scores (trials paired by ID, with the
 * allow-missing bit): one line on failure, ordered intervals that hold the
 * replicates' range on success; and sdd compare's bootstrap over runs with
 * the two evaluations as crossed run pairs (mean difference exactly 0). */
#include "metrics/evaluate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char paths[4][64];

static int put(int k, const uint8_t *p, size_t n)
{
    if (!paths[k][0]) snprintf(paths[k], sizeof paths[k], "/dev/shm/sdd_fuzz_eval.%d.%d", (int)getpid(), k);
    FILE *f = fopen(paths[k], "wb");
    if (!f) return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void run_pairs(const sdd_eval_report *r, const sdd_eval_report *rb, const sdd_boot_params *bp)
{
    const int64_t n = r->cm.n;
    int64_t *id = malloc((size_t)(n ? n : 1) * sizeof *id), *map = malloc((size_t)(n ? n : 1) * sizeof *map), ua, ub;
    sdd_err e;
    if (id && map && !sdd_boot_pair(&r->cm, (const char *const *)r->trial_id, &rb->cm, (const char *const *)rb->trial_id,
                                    map, &ua, &ub, &e) && !ua && !ub) {
        for (int64_t i = 0; i < n; i++) id[i] = i;
        const sdd_sorted *a[2] = { &r->cm, &rb->cm }, *b[2] = { &rb->cm, &r->cm };
        const int64_t *ma[2] = { id, map }, *mb[2] = { map, id };
        sdd_boot_runs_result rr;
        /* with the report's t-DCF coefficients, as sdd compare */
        sdd_boot_params q = *bp;
        q.tdcf = r->has_tdcf && !isnan(r->tdcf.min_tdcf) ? &r->coef : NULL;
        bp = &q;
        const int rc = sdd_boot_runs(a, b, 2, ma, mb, bp, &rr, &e);
        if (rc == 0 && (rr.diff[SDD_BOOT_EER] != 0 || !rr.has[SDD_BOOT_EER] ||
                        !(rr.lo[SDD_BOOT_EER] <= rr.hi[SDD_BOOT_EER]) || !(rr.lo_t[SDD_BOOT_EER] <= rr.hi_t[SDD_BOOT_EER])))
            __builtin_trap();
        if (rc != 0 && (rc != -1 || strchr(e.msg, '\n'))) __builtin_trap();
        /* sdd compare's per-attack and per-condition lists of the same runs:
         * every entry's mean difference 0 too, Holm's p in [p, 1] */
        for (int kind = 0; rc == 0 && kind < SDD_FACTOR_N; kind++) {
            sdd_boot_runs_list l;
            const int lc = sdd_compare_list(r, kind, a, b, 2, ma, mb, bp, &l, &e);
            if (lc != 0 && (lc != -1 || strchr(e.msg, '\n'))) __builtin_trap();
            for (int i = 0; lc == 0 && i < l.n; i++) {
                const sdd_boot_runs_result *x = &l.r[i];
                const double h = l.holm[(size_t)i * SDD_BOOT_NMETRIC + SDD_BOOT_EER];
                if (x->has[SDD_BOOT_EER] && (x->diff[SDD_BOOT_EER] != 0 || !(x->lo[SDD_BOOT_EER] <= x->hi[SDD_BOOT_EER]) ||
                                             !(h >= x->p[SDD_BOOT_EER] && h <= 1)))
                    __builtin_trap();
            }
            if (lc == 0) sdd_boot_runs_list_free(&l);
        }
    }
    free(id);
    free(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || access("/dev/shm", W_OK) != 0) return 0;
    const unsigned opt = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    int nf = 0;
    while (nf < 4) {
        const uint8_t *z = memchr(p, 0, (size_t)(end - p));
        const uint8_t *stop = z ? z : end;
        if (put(nf, p, (size_t)(stop - p))) return 0;
        nf++;
        if (!z) break;
        p = z + 1;
    }
    sdd_eval_opts o = { 0 };
    o.scores = paths[0];
    o.keep_trial_ids = nf > 2;   /* the IDs are for pairing with the third file */
    o.keep_breakdown = 1;        /* the bootstrap's per-attack and per-condition lists */
    if ((opt & 1) && nf > 1) o.key = paths[1];
    if ((opt & 2) && nf > 2) o.asv_scores = paths[2];
    if ((opt & 4) && nf > 3 && o.asv_scores) o.asv_key = paths[3];
    o.allow_missing = (opt >> 3) & 1;
    const unsigned t = (opt >> 4) & 3;
    if (o.asv_scores && t == 1) o.tdcf = SDD_TDCF_2019;
    if (o.asv_scores && t == 2) o.tdcf = SDD_TDCF_2021;
    if (opt & 64) o.subset = "all";
    if (opt & 128) o.breakdown = SDD_BREAKDOWN_ATTACK;

    sdd_eval_report r;
    sdd_err e = { "" };
    int rc = sdd_eval_run(&o, &r, &e);
    if (rc != 0) {
        if (rc != -1 || strchr(e.msg, '\n') || strncmp(e.msg, "/dev/shm/sdd_fuzz_eval.", 23)) __builtin_trap();
        return 0;
    }
    if (!(r.eer.eer >= 0 && r.eer.eer <= 1)) __builtin_trap();
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) {
        sdd_eval_print(&r, devnull);
        if (sdd_eval_write_json(&r, &o, devnull, &e) || sdd_eval_write_det(&r, devnull, &e) ||
            sdd_eval_write_det_svg(&r, o.scores, devnull, &e))
            __builtin_trap();
        fclose(devnull);
    }
    /* the bootstrap alone, then paired with the third file's scores */
    sdd_boot_params bp = { .reps = 7, .level = 0.9, .seed = size };
    for (int paired = 0; paired < 2; paired++) {
        sdd_eval_report rb;
        int have_b = 0;
        if (paired) {
            if (nf < 3) break;
            sdd_eval_opts ob = { 0 };
            ob.scores = paths[2];
            ob.keep_trial_ids = 1;
            ob.key = o.key;
            ob.subset = o.subset;
            ob.allow_missing = o.allow_missing;
            if (sdd_eval_run(&ob, &rb, &e)) break;
            have_b = 1;
        }
        rc = sdd_eval_bootstrap(&r, have_b ? &rb : NULL, paths[2], &bp, o.allow_missing, &e);
        if (rc == 0) {
            const sdd_boot_result *b = &r.boot;
            if (!r.has_boot || !b->has[SDD_BOOT_EER] || !(b->lo[SDD_BOOT_EER] <= b->hi[SDD_BOOT_EER]) ||
                b->lo[SDD_BOOT_EER] < 0 || b->hi[SDD_BOOT_EER] > 1 || (b->paired && !(b->diff_lo[SDD_BOOT_EER] <= b->diff_hi[SDD_BOOT_EER])) ||
                (b->paired && !(b->p[SDD_BOOT_EER] >= 0 && b->p[SDD_BOOT_EER] <= 1)))
                __builtin_trap();
            /* the lists: an entry's interval inside [0, 1], Holm's p in [p, 1] */
            for (int li = 0; li < 3; li++) {
                const sdd_boot_list *l = li == 2 ? &r.boot_vocoder : li ? &r.boot_cond : &r.boot_attack;
                const int want_n = li == 2 ? r.vocoder_table.nrow : li ? r.table.ncol : r.table.nrow;
                if (l->n && (!r.has_table || l->n != want_n)) __builtin_trap();
                for (int i = 0; i < l->n; i++) {
                    const sdd_boot_result *x = &l->r[i];
                    if (!x->has[SDD_BOOT_EER]) continue;
                    const double h = l->holm[(size_t)i * SDD_BOOT_NMETRIC + SDD_BOOT_EER];
                    if (!(x->lo[SDD_BOOT_EER] <= x->hi[SDD_BOOT_EER]) || x->lo[SDD_BOOT_EER] < 0 || x->hi[SDD_BOOT_EER] > 1 ||
                        (x->paired && !(h >= x->p[SDD_BOOT_EER] && h <= 1)) || (!x->paired && !isnan(h)))
                        __builtin_trap();
                }
            }
            devnull = fopen("/dev/null", "w");
            if (devnull) {
                sdd_eval_print(&r, devnull);
                if (sdd_eval_write_json(&r, &o, devnull, &e)) __builtin_trap();
                fclose(devnull);
            }
            /* sdd compare's bootstrap over runs: the two systems as two runs
             * each, crossed (a = {this, that}, b = {that, this}), so the mean
             * difference is 0 exactly; only when both score the same trials */
            if (have_b && !b->unpaired_a && !b->unpaired_b) run_pairs(&r, &rb, &bp);
        } else if (rc != -1 || strchr(e.msg, '\n')) __builtin_trap();
        if (have_b) sdd_eval_report_free(&rb);
    }
    sdd_eval_report_free(&r);
    return 0;
}
