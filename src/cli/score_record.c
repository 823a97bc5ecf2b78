/* Owns score_record (see score_record.h): FILE.partial of `sdd score -o FILE`. */
#include "cli/score_record.h"
#include "cli/cli.h"
#include "io/atomic.h"
#include "io/readall.h"
#include "metrics/partial.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a record larger than this is not one sdd wrote (600,000 lines take about 30 MB) */
#define RECORD_MAX ((size_t)1 << 30)

typedef struct { const char *id; int k; } id_at;

static int cmp_id_at(const void *a, const void *b)
{
    return strcmp(((const id_at *)a)->id, ((const id_at *)b)->id);
}

/* Reads the earlier run's record into r->line; SDD_EXIT_OK or an exit status (printed) */
static int take_record(score_record *r, const char *settings, char *const *ids)
{
    sdd_err e;
    size_t len;
    char *buf = sdd_read_all(r->path, RECORD_MAX, "record of an interrupted sdd score run", &len, &e);
    if (!buf) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    sdd_partial p;
    const int prc = sdd_partial_parse(buf, len, r->path, &p, &e);
    free(buf);
    if (prc) { cli_error("%s (remove it to start afresh)", e.msg); return SDD_EXIT_ERROR; }
    int status = SDD_EXIT_OK;
    if (strcmp(p.settings, settings)) {
        cli_error("%s: made with other settings (%s), not these (%s): rerun that command, or remove it to start afresh",
                  r->path, p.settings, settings);
        status = SDD_EXIT_ERROR;
    }
    id_at *ix = status ? NULL : malloc((size_t)(r->n ? r->n : 1) * sizeof *ix);
    if (!status && !ix) { cli_error("out of memory"); status = SDD_EXIT_ERROR; }
    for (int k = 0; ix && k < r->n; k++) ix[k] = (id_at){ ids[k], k };
    if (ix) qsort(ix, (size_t)r->n, sizeof *ix, cmp_id_at);
    for (int i = 0; ix && i < p.n && status == SDD_EXIT_OK; i++) {
        const id_at key = { p.id[i], 0 };
        const id_at *hit = bsearch(&key, ix, (size_t)r->n, sizeof *ix, cmp_id_at);
        if (!hit) {
            cli_error("%s:%d: %.200s is not among this run's inputs: give the same inputs, or remove it to start afresh", r->path,
                      i + 2, p.id[i]);
            status = SDD_EXIT_ERROR;
        } else if (r->line[hit->k]) {
            cli_error("%s:%d: %.200s is scored twice", r->path, i + 2, p.id[i]);
            status = SDD_EXIT_ERROR;
        } else {
            r->line[hit->k] = p.line[i];
            p.line[i] = NULL;
            r->resumed++;
        }
    }
    free(ix);
    sdd_partial_free(&p);
    return status;
}

int score_record_open(score_record *r, const char *out, const char *settings, char *const *ids, int n, int resume)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    if (snprintf(r->path, sizeof r->path, "%s.partial", out) >= (int)sizeof r->path) {
        cli_error("%s: path too long", out);
        return SDD_EXIT_ERROR;
    }
    r->line = calloc((size_t)(n ? n : 1), sizeof *r->line);
    if (!r->line) { cli_error("out of memory"); return SDD_EXIT_ERROR; }
    struct stat st;
    const int left = stat(r->path, &st) == 0;
    if (left && !S_ISREG(st.st_mode)) { cli_error("%s: exists and is not a regular file", r->path); return SDD_EXIT_ERROR; }
    if (left && resume) {
        const int rc = take_record(r, settings, ids);
        if (rc) return rc;
        fprintf(stderr, "sdd score: resuming: %d of %d files scored by the interrupted run (%s)\n", r->resumed, n, r->path);
    } else if (left) {
        fprintf(stderr, "sdd score: %s, left by an interrupted run, is replaced (--resume continues such a run)\n", r->path);
    }
    /* the record starts again from what is kept, atomically; then lines are appended */
    size_t len = strlen(SDD_PARTIAL_HEADER) + strlen(settings) + 1;
    for (int k = 0; k < n; k++) if (r->line[k]) len += strlen(r->line[k]) + 1;
    char *buf = malloc(len + 1), *q = buf;
    if (!buf) { cli_error("out of memory"); return SDD_EXIT_ERROR; }
    q += sprintf(q, "%s%s\n", SDD_PARTIAL_HEADER, settings);
    for (int k = 0; k < n; k++) if (r->line[k]) q += sprintf(q, "%s\n", r->line[k]);
    sdd_err e;
    const int wrc = sdd_atomic_write(r->path, buf, (size_t)(q - buf), &e);
    free(buf);
    if (wrc) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    if (!(r->f = fopen(r->path, "ae"))) { cli_error("%s: %s", r->path, strerror(errno)); return SDD_EXIT_ERROR; }
    return SDD_EXIT_OK;
}

void score_record_put(score_record *r, int k, char *line)
{
    r->line[k] = line;
    fprintf(r->f, "%s\n", line);
}

int score_record_flush(score_record *r)
{
    errno = 0;
    if (fflush(r->f) == 0 && !ferror(r->f)) return 0;
    cli_error("%s: write failed: %s", r->path, strerror(errno ? errno : EIO));
    return -1;
}

void score_record_write(const score_record *r, FILE *f)
{
    for (int k = 0; k < r->n; k++) if (r->line[k]) fprintf(f, "%s\n", r->line[k]);
}

void score_record_close(score_record *r, int remove)
{
    if (r->f) fclose(r->f);
    if (remove && r->path[0]) unlink(r->path);
    for (int k = 0; r->line && k < r->n; k++) free(r->line[k]);
    free(r->line);
    memset(r, 0, sizeof *r);
}
