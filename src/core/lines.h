/* A line reader over a FILE* or a memory buffer, shared by the text parsers
 * (lists and protocols, score files). A line may hold at most SDD_LINES_MAX
 * bytes, so that a hostile file (one endless line) cannot make the reader
 * allocate without bound; real lists' lines are under 1 KB. */
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

#define SDD_LINES_MAX (1 << 20)

/* Reads the next line into r->line: its length, -1 at the end of input,
 * -2 on a read or allocation failure or more than INT_MAX lines (errno set),
 * -3 when the line (r->lineno) is longer than SDD_LINES_MAX bytes. */
ssize_t sdd_lines_next(sdd_lines *r);

#endif
