/* The parameter block's name index (core/params.c): every registered name is
 * found at its index across the index's growth, unknown and near-miss names
 * are not, duplicates are refused and leave the block as it was, and a
 * failed registration leaves no entry behind. Checked against a linear scan
 * of the names. */
#include "check.h"
#include "core/params.h"
#include <stdio.h>
#include <string.h>

static int linear_find(const sdd_params *ps, const char *name)
{
    for (int i = 0; i < ps->np; i++)
        if (!strcmp(ps->p[i].name, name)) return i;
    return -1;
}

int main(void)
{
    sdd_params ps;
    sdd_err e;
    sdd_params_init(&ps);
    CHECK(sdd_params_find(&ps, "x") == -1);   /* empty, no index yet */
    /* 3,000 names: the index grows from 256 slots to 8,192 on the way */
    const int N = 3000;
    char nm[112];
    int ok = 1;
    for (int i = 0; i < N && ok; i++) {
        snprintf(nm, sizeof nm, "encoder.layers.%d.%s", i / 4, (const char *[]){ "weight", "bias", "ln.weight", "ln.bias" }[i % 4]);
        const int64_t shp[1] = { 1 + i % 7 };
        ok = sdd_params_add(&ps, nm, 1, shp, i % 3 != 0, &e) == i;
        /* every name so far still found after each growth */
        if (ok && (i & (i + 1)) == 0)
            for (int k = 0; k <= i && ok; k++) ok = sdd_params_find(&ps, ps.p[k].name) == k;
    }
    CHECK_MSG(ok, "registration or lookup failed: %s", e.msg);
    CHECK(ps.np == N && ps.nslot >= 2 * N && (ps.nslot & (ps.nslot - 1)) == 0);
    for (int i = 0; i < N; i++)
        if (sdd_params_find(&ps, ps.p[i].name) != i || linear_find(&ps, ps.p[i].name) != i) { ok = 0; break; }
    CHECK(ok);
    /* near misses: a prefix, an extra character, another layer number, "" */
    CHECK(sdd_params_find(&ps, "encoder.layers.0.weigh") == -1);
    CHECK(sdd_params_find(&ps, "encoder.layers.0.weightx") == -1);
    CHECK(sdd_params_find(&ps, "encoder.layers.750.weight") == -1);
    CHECK(sdd_params_find(&ps, "") == -1);
    /* a duplicate is refused, naming it; nothing changes */
    const size_t total = ps.total;
    const int64_t one[1] = { 1 };
    CHECK(sdd_params_add(&ps, "encoder.layers.3.bias", 1, one, 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "duplicate name encoder.layers.3.bias");
    CHECK(ps.np == N && ps.total == total && sdd_params_find(&ps, "encoder.layers.3.bias") == 13);
    /* a failed registration (negative dim) is not found afterwards, and the name can be registered */
    const int64_t neg[1] = { -1 };
    CHECK(sdd_params_add(&ps, "late", 1, neg, 1, &e) == -1 && sdd_params_find(&ps, "late") == -1 && ps.np == N);
    CHECK(sdd_params_add(&ps, "late", 1, one, 1, &e) == N && sdd_params_find(&ps, "late") == N);
    /* after allocation the index still answers */
    CHECK(sdd_params_alloc(&ps, &e) == 0);
    CHECK(sdd_params_find(&ps, "encoder.layers.749.ln.bias") == N - 1);
    sdd_params_free(&ps);
    CHECK(ps.nslot == 0 && sdd_params_find(&ps, "late") == -1);
    return CHECK_DONE("test_params");
}
