/* A line reader over a FILE* or a memory buffer, shared by the text parsers
 * (lists and protocols, score files). Lines are not length-limited. */
#ifndef SDD_CORE_LINES_H
#define SDD_CORE_LINES_H
#include <stdio.h>
#include <sys/types.h>

typedef struct {
    FILE *f;            /* read from f when set ... */
    const char *mem;    /* ... else from mem[0, len) */
    size_t len, pos;
    char *line;         /* the current line, NUL-terminated, without its '\n' (owned; free it) */
    size_t cap;
    int lineno;         /* 1-based number of the current line */
} sdd_lines;

/* Reads the next line into r->line: its length, -1 at the end of input,
 * -2 on a read or allocation failure or more than INT_MAX lines (errno set). */
ssize_t sdd_lines_next(sdd_lines *r);

#endif
