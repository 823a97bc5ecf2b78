/* Minimal test harness shared by every tests/unit/test_*.c binary.
 * CHECK records a failure with file:line and goes on; each binary's main ends
 * with CHECK_DONE(), which prints "NAME: N passed, M failed" and returns the
 * exit status. tests/run.sh sums the lines of all binaries. */
#ifndef SDD_TEST_CHECK_H
#define SDD_TEST_CHECK_H
#include <stdio.h>
#include <string.h>
#include <math.h>

static int check_pass_, check_fail_;

#define CHECK(cond) do { if (cond) check_pass_++; else { check_fail_++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { if (cond) check_pass_++; else { check_fail_++; \
    fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); \
    fputc('\n', stderr); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); \
    CHECK_MSG(fabs(a_ - b_) <= (tol), "%s = %.9g, %s = %.9g, tol %.3g", #a, a_, #b, b_, (double)(tol)); } while (0)
#define CHECK_STR_CONTAINS(hay, needle) do { const char *h_ = (hay); \
    CHECK_MSG(h_ && strstr(h_, (needle)), "'%s' does not contain '%s'", h_ ? h_ : "(null)", (needle)); } while (0)
/* DIR/NAME in one of 8 rotating buffers: the path of a test's temp file, valid
 * for the next 7 calls (enough for the arguments of one call). Each test
 * defines tpath(name) over its own temp folder with it. */
static inline const char *check_tmp_path(const char *dir, const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

#define CHECK_DONE(name) (printf("%s: %d passed, %d failed\n", (name), check_pass_, check_fail_), \
    check_fail_ ? 1 : 0)

/* Every test binary runs the OpenBLAS kernels the sdd command runs: where
 * OpenBLAS chose generic ones, sdd restarts itself with better ones
 * (src/backend/blas.c), and a test comparing its own results with sdd's
 * output bit for bit must do the same. Before main, after OpenBLAS has
 * loaded: the arguments are read back from /proc/self/cmdline. */
#ifdef __cplusplus
extern "C" {
#endif
/* declared here, not by including src/backend/blas.h: the C++ API test
 * (test_api_cxx) is built with the public include/ path only */
const char *sdd_blas_better_core(void);   /* src/backend/blas.h */
void sdd_blas_restart(char **argv);
#ifdef __cplusplus
}
#endif
__attribute__((constructor)) static void check_blas_restart_(void)
{
    if (!sdd_blas_better_core()) return;
    static char buf[16384];
    static char *argv[64];
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int argc = 0;
    size_t i = 0;
    for (; i < n && argc < 63; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    argv[argc] = NULL;
    /* only with every argument read back: a cut-off command line is not run */
    if (argc > 0 && i >= n && n < sizeof buf - 1) sdd_blas_restart(argv);
}

#endif
