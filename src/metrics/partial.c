/* Owns the reader of an interrupted `sdd score` run's FILE.partial (see partial.h). */
#include "metrics/partial.h"
#include "core/lines.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sdd_partial_free(sdd_partial *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) { free(p->id[i]); free(p->line[i]); }
    free(p->id);
    free(p->line);
    free(p->settings);
    memset(p, 0, sizeof *p);
}

/* 1 when s is "ID SCORE" or "ID SCORE LABEL" with single spaces, a finite
 * SCORE and LABEL bonafide or spoof; *idlen = the ID's length */
static int line_ok(const char *s, size_t *idlen)
{
    const char *sp = strchr(s, ' ');
    if (!sp || sp == s) return 0;
    *idlen = (size_t)(sp - s);
    const char *num = sp + 1, *end2 = strchr(num, ' ');
    const size_t nl = end2 ? (size_t)(end2 - num) : strlen(num);
    if (nl == 0 || nl > 40) return 0;
    char buf[48], *end;
    memcpy(buf, num, nl);
    buf[nl] = 0;
    const double v = strtod(buf, &end);
    if (*end || !isfinite(v) || strpbrk(buf, "xX") || buf[0] == ' ') return 0;
    if (!end2) return 1;
    return !strcmp(end2 + 1, "bonafide") || !strcmp(end2 + 1, "spoof");
}

int sdd_partial_parse(const char *buf, size_t len, const char *name, sdd_partial *p, sdd_err *e)
{
    memset(p, 0, sizeof *p);
    if (!buf && len) return sdd_err_set(e, "%s: NULL buffer", name);
    const size_t hl = strlen(SDD_PARTIAL_HEADER);
    const char *nl = buf ? memchr(buf, '\n', len) : NULL;
    if (len < hl || memcmp(buf, SDD_PARTIAL_HEADER, hl) || !nl)
        return sdd_err_set(e, "%s:1: not the record of an interrupted sdd score run (no '%s' line)", name, SDD_PARTIAL_HEADER "...");
    if (memchr(buf, 0, (size_t)(nl - buf))) return sdd_err_set(e, "%s:1: a NUL byte in the header", name);
    p->settings = strndup(buf + hl, (size_t)(nl - buf) - hl);
    if (!p->settings) return sdd_err_set(e, "%s: out of memory", name);
    /* the lines after the header; an unterminated last one is dropped */
    const size_t body = (size_t)(nl - buf) + 1;
    size_t whole = len;
    while (whole > body && buf[whole - 1] != '\n') whole--;
    p->dropped = whole < len;
    sdd_lines r = { .mem = buf + body, .len = whole - body };
    int cap = 0, rc = 0;
    ssize_t got;
    while ((got = sdd_lines_next(&r)) >= 0) {
        const int ln = r.lineno + 1;   /* the header is line 1 */
        size_t idlen;
        if ((size_t)got != strlen(r.line) || !line_ok(r.line, &idlen)) {
            rc = sdd_err_set(e, "%s:%d: not an 'ID SCORE [bonafide|spoof]' line", name, ln);
            break;
        }
        if (p->n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **a = realloc(p->id, (size_t)cap * sizeof *a), **b = a ? realloc(p->line, (size_t)cap * sizeof *b) : NULL;
            if (a) p->id = a;
            if (b) p->line = b;
            if (!a || !b) { rc = sdd_err_set(e, "%s: out of memory", name); break; }
        }
        p->id[p->n] = strndup(r.line, idlen);
        p->line[p->n] = strdup(r.line);
        if (!p->id[p->n] || !p->line[p->n]) {
            free(p->id[p->n]);
            free(p->line[p->n]);
            rc = sdd_err_set(e, "%s: out of memory", name);
            break;
        }
        p->n++;
    }
    if (!rc && got == -3) rc = sdd_err_set(e, "%s:%d: line longer than %d bytes", name, r.lineno + 1, SDD_LINES_MAX);
    else if (!rc && got < -1) rc = sdd_err_set(e, "%s: out of memory", name);
    free(r.line);
    if (rc) sdd_partial_free(p);
    return rc ? -1 : 0;
}
