/* The device layer without a GPU: device names, the clear refusal of CUDA in
 * a build without it (or on a machine without a GPU), the CLI's message, and
 * the arena over caller-supplied chunk allocators (what the device arena
 * uses). GPU execution is tested by tests/gpu/run.sh. */
#include "check.h"
#include "backend/device.h"
#include "core/tensor.h"
#include "models/model.h"
#include "models/infer.h"
#include <stdlib.h>
#include <unistd.h>

static int nalloc, nfree;
static void *count_alloc(size_t n) { nalloc++; return malloc(n); }
static void count_free(void *p) { nfree++; free(p); }

static void test_parse(void)
{
    sdd_err e;
    int d = -1;
    CHECK(sdd_device_parse("cpu", &d, &e) == 0 && d == SDD_DEV_CPU);
    CHECK(sdd_device_parse("cuda", &d, &e) == 0 && d == SDD_DEV_CUDA);
    CHECK(sdd_device_parse("gpu", &d, &e) != 0);
    CHECK_STR_CONTAINS(e.msg, "unknown device 'gpu'");
    CHECK(sdd_device_check(SDD_DEV_CPU, NULL, 0, &e) == 0);
}

/* CUDA unavailable here: every entry point says why, nothing switches silently */
static void test_refusal(void)
{
    sdd_err e;
    char name[128];
    if (sdd_device_check(SDD_DEV_CUDA, name, sizeof name, &e) == 0) {
        printf("CUDA device present (%s): refusal checks skipped\n", name);
        return;
    }
    if (sdd_device_cuda_built()) CHECK_STR_CONTAINS(e.msg, "no CUDA device");
    else CHECK_STR_CONTAINS(e.msg, "built without CUDA (make CUDA=1)");
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(m != NULL);
    if (!m) return;
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    CHECK(sdd_ctx_set_device(&c, SDD_DEV_CUDA, &e) != 0);
    CHECK(c.dev == 0);
    CHECK(m->params.ddata == NULL);
    CHECK(sdd_params_upload(&m->params, &e) != 0);
    sdd_ctx_free(&c);
    sdd_model_free(m);
    /* the CLI built with this library (SDD_BIN, default ./sdd) */
    const char *bin = getenv("SDD_BIN") ? getenv("SDD_BIN") : "./sdd";
    if (access(bin, X_OK) == 0) {
        const char *cmds[2] = { "%s score --device cuda -m none.pth none.wav 2>&1",
                                "%s train --device cuda --train a --dev b --out c 2>&1" };
        for (int i = 0; i < 2; i++) {
            char cmd[600];
            snprintf(cmd, sizeof cmd, cmds[i], bin);
            FILE *p = popen(cmd, "r");
            char buf[512] = { 0 };
            size_t n = p ? fread(buf, 1, sizeof buf - 1, p) : 0;
            int rc = p ? pclose(p) : -1;
            buf[n] = 0;
            CHECK(rc != 0);
            CHECK_STR_CONTAINS(buf, sdd_device_cuda_built() ? "sdd: --device cuda: no CUDA device" : "sdd: --device cuda: built without CUDA (make CUDA=1)");
        }
    }
}

static void test_arena_allocators(void)
{
    sdd_arena a;
    sdd_arena_init_with(&a, 1024, count_alloc, count_free);
    char *p = sdd_arena_alloc(&a, 100);
    CHECK(p != NULL && nalloc == 1);
    sdd_arena_mark mk = sdd_arena_get_mark(&a);
    char *q = sdd_arena_alloc(&a, 4000);   /* larger than a chunk: its own chunk */
    CHECK(q != NULL && nalloc == 2);
    sdd_arena_release(&a, mk);
    char *r = sdd_arena_alloc(&a, 64);
    CHECK(r == p + 128);                   /* 100 rounded up to 64-byte alignment */
    sdd_arena_reset(&a);
    CHECK(sdd_arena_alloc(&a, 100) == p);  /* chunks kept across resets */
    CHECK(nalloc == 2);
    /* trim: every chunk back through the arena's own free, settings and peak kept */
    const size_t peak = a.peak;
    sdd_arena_reset(&a);
    sdd_arena_trim(&a);
    CHECK(nfree == 2 && a.first == NULL && a.reserved == 0 && a.used == 0);
    CHECK(a.peak == peak && a.chunk_size == 1024 && a.mem_alloc == count_alloc && a.mem_free == count_free);
    CHECK(sdd_arena_alloc(&a, 100) != NULL && nalloc == 3);   /* and it allocates again, the same way */
    sdd_arena_free(&a);
    CHECK(nfree == 3);
}

/* a model whose ops lack CUDA kernels is refused before any op runs, never run on host code with device pointers */
static void test_model_without_cuda(void)
{
    sdd_err e;
    sdd_model *m = sdd_model_new("AASIST-L", &e);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->cuda_ok == 1);
    m->cuda_ok = 0;
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    c.dev = 1;   /* as sdd_ctx_set_device leaves it; nothing below reaches device memory */
    float x[8000] = { 0 }, s;
    CHECK(sdd_score_batch(m, &c, x, 1, 8000, &s, NULL, &e) != 0);
    CHECK_STR_CONTAINS(e.msg, "AASIST-L has no CUDA implementation yet");
    c.dev = 0;
    sdd_ctx_free(&c);
    sdd_model_free(m);
}

int main(void)
{
    test_model_without_cuda();
    test_parse();
    test_refusal();
    test_arena_allocators();
    return CHECK_DONE("test_device");
}
