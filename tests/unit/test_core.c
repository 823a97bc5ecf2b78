/* Unit tests of the small core helpers: the growable text buffer
 * (core/sbuf.h) and the string predicates (core/str.h). */
#include "check.h"
#include "core/sbuf.h"
#include "core/str.h"
#include <stdlib.h>

static void sbuf_from_empty(void)
{
    sdd_sbuf b = { 0 };
    sdd_sbuf_put(&b, "%s=%d", "x", 42);
    CHECK(!b.fail);
    CHECK(b.s && strcmp(b.s, "x=42") == 0);
    CHECK(b.n == 4 && b.cap > b.n);
    sdd_sbuf_put(&b, "%s", "");
    CHECK(b.n == 4 && strcmp(b.s, "x=42") == 0);
    free(b.s);
}

/* appends that cross the capacity many times keep every byte, in order */
static void sbuf_growth(void)
{
    sdd_sbuf b = { malloc(8), 0, 8, 0 };
    CHECK(b.s != NULL);
    char big[3001];
    memset(big, 'a', 3000);
    big[3000] = 0;
    size_t want = 0;
    for (int i = 0; i < 500; i++) {
        sdd_sbuf_put(&b, "%d,", i);
        want += (size_t)snprintf(NULL, 0, "%d,", i);
    }
    sdd_sbuf_put(&b, "%s", big);
    want += 3000;
    CHECK(!b.fail);
    CHECK(b.n == want && strlen(b.s) == want);
    CHECK(strncmp(b.s, "0,1,2,3,", 8) == 0);
    CHECK(strstr(b.s, ",498,499,aaaa") != NULL);
    CHECK(b.s[b.n - 1] == 'a');
    free(b.s);
}

/* once failed, appends are ignored (the caller checks fail once at the end) */
static void sbuf_sticky_fail(void)
{
    sdd_sbuf b = { 0 };
    sdd_sbuf_put(&b, "ok");
    b.fail = 1;
    sdd_sbuf_put(&b, "more");
    CHECK(b.n == 2 && strcmp(b.s, "ok") == 0);
    free(b.s);
}

static void str_predicates(void)
{
    CHECK(sdd_str_ends_with("conv.weight", ".weight"));
    CHECK(!sdd_str_ends_with("conv.weight", ".WEIGHT"));
    CHECK(!sdd_str_ends_with("t", "weight"));
    CHECK(sdd_str_ends_with_nocase("A.WAV", ".wav"));
    CHECK(sdd_str_ends_with_nocase("", ""));
    CHECK(!sdd_str_ends_with_nocase("a.flac", ".wav"));
}

int main(void)
{
    sbuf_from_empty();
    sbuf_growth();
    sbuf_sticky_fail();
    str_predicates();
    return CHECK_DONE("test_core");
}
