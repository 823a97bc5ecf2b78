/* libFuzzer target for the reader of an interrupted `sdd score` run's
 * record, FILE.partial (src/metrics/partial.c). Checks the contract: success
 * gives the header's settings (one line, no NUL) and n lines, each
 * "ID SCORE[ LABEL]" with a non-empty ID that is the line's first token, a
 * finite SCORE and no newline; dropped only when the input does not end
 * with a newline; failure gives -1, an empty result and one line naming the
 * input. When a line was dropped, the same input with a newline appended
 * parses with that line kept (one more) or is refused. */
#include "metrics/partial.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const sdd_partial *p, const char *buf, size_t len)
{
    if (!p->settings || strchr(p->settings, '\n')) __builtin_trap();
    if (p->dropped != (len > 0 && buf[len - 1] != '\n')) __builtin_trap();
    for (int i = 0; i < p->n; i++) {
        const size_t l = strlen(p->id[i]);
        if (!l || strncmp(p->line[i], p->id[i], l) || p->line[i][l] != ' ' || strchr(p->line[i], '\n')) __builtin_trap();
        char *end;
        const double v = strtod(p->line[i] + l + 1, &end);
        if (!isfinite(v) || (*end && *end != ' ')) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_partial p;
    sdd_err e;
    const char *buf = (const char *)data;
    if (sdd_partial_parse(buf, size, "fuzz", &p, &e) == 0) {
        check(&p, buf, size);
        const int n = p.n, dropped = p.dropped;
        sdd_partial_free(&p);
        if (!dropped) return 0;
        /* the cut-short last line, once terminated, is kept or refused */
        char *b2 = malloc(size + 1);
        if (!b2) return 0;
        memcpy(b2, data, size);
        b2[size] = '\n';
        if (sdd_partial_parse(b2, size + 1, "fuzz", &p, &e) == 0) {
            check(&p, b2, size + 1);
            if (p.dropped || p.n != n + 1) __builtin_trap();
            sdd_partial_free(&p);
        } else if (strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) __builtin_trap();
        free(b2);
        return 0;
    }
    if (p.n || p.settings || p.id || p.line || strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) __builtin_trap();
    return 0;
}
