/* The memory reading behind --ssl-recompute auto (train/memory.h): the
 * /proc/meminfo parser on good and bad text (errors name the origin and the
 * line, the input is read within its length), the host's own reading, and
 * the budget check. */
#include "check.h"
#include "train/memory.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *text, size_t *bytes, sdd_err *e)
{
    /* exactly strlen bytes, no terminator: a read past them is a bug ASan sees */
    const size_t n = strlen(text);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, text, n);
    const int rc = sdd_meminfo_available(copy, n, "mi", bytes, e);
    free(copy);
    return rc;
}

int main(void)
{
    sdd_err e;
    size_t b = 0;
    CHECK(parse("MemTotal:       16000000 kB\nMemFree:         1000 kB\nMemAvailable:    8000000 kB\nBuffers: 1 kB\n", &b, &e) == 0);
    CHECK(b == (size_t)8000000 * 1024);
    CHECK(parse("MemAvailable: 5 kB", &b, &e) == 0 && b == 5 * 1024);   /* last line, no newline */
    CHECK(parse("MemAvailable:0 kB\n", &b, &e) == 0 && b == 0);
    /* bad text: one line naming the origin and, where there is one, the line */
    CHECK(parse("MemTotal: 1 kB\nMemFree: 1 kB\n", &b, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "mi: no MemAvailable line");
    CHECK(parse("", &b, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "mi: no MemAvailable line");
    CHECK(parse("MemTotal: 1 kB\nMemAvailable: 12 MB\n", &b, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "mi:2: MemAvailable is not in kB");
    CHECK(parse("MemAvailable:    kB\n", &b, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "mi:1: MemAvailable has no number");
    CHECK(parse("MemAvailable: 12", &b, &e) == -1);                      /* cut off before the unit */
    CHECK_STR_CONTAINS(e.msg, "mi:1: MemAvailable is not in kB");
    CHECK(parse("MemAvailable: 99999999999999999999999 kB\n", &b, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "mi:1: MemAvailable is out of range");
    CHECK(parse("MemAvailable: 18014398509481984 kB\n", &b, &e) == -1);  /* 2^54 kB: over SIZE_MAX bytes */
    CHECK_STR_CONTAINS(e.msg, "mi:1: MemAvailable is out of range");
    CHECK(parse("MemAvailable: -5 kB\n", &b, &e) == -1);
    CHECK(parse("XMemAvailable: 5 kB\nMemAvailable:\n", &b, &e) == -1); /* a key that only contains it; an empty value */
    CHECK(strchr(e.msg, '\n') == NULL);
    /* this host's own reading */
    size_t avail = 0;
    CHECK_MSG(sdd_host_mem_available(&avail, &e) == 0 && avail > ((size_t)16 << 20), "host MemAvailable: %s", e.msg);
    /* the budget: growth est - held within 80% of avail */
    const size_t G = (size_t)1 << 30;
    CHECK(sdd_recompute_keep_fits(9 * G, 1 * G, 10 * G) == 1);    /* grows 8 of 8 allowed */
    CHECK(sdd_recompute_keep_fits(9 * G + 1, 1 * G, 10 * G) == 0);
    CHECK(sdd_recompute_keep_fits(2 * G, 3 * G, 1 * G) == 1);     /* no growth: the arena holds it */
    CHECK(sdd_recompute_keep_fits(2 * G, 0, 0) == 0);             /* nothing free */
    CHECK(sdd_recompute_keep_fits(0, 0, 0) == 0);
    CHECK(sdd_recompute_keep_fits(SIZE_MAX, 0, SIZE_MAX) == 0);
    return CHECK_DONE("test_memory");
}
