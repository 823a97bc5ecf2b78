/* `sdd score -o FILE`'s record of the lines written so far, FILE.partial,
 * so that an interrupted run can be continued (`--resume`): the header line
 * with the run's settings, then each scored file's line as it is made,
 * flushed after every batch. The output file itself is still written
 * atomically at the end, in input order; the record is then removed. */
#ifndef SDD_CLI_SCORE_RECORD_H
#define SDD_CLI_SCORE_RECORD_H
#include <stdio.h>

typedef struct {
    char path[4200];   /* FILE.partial */
    FILE *f;
    char **line;       /* [n] the line of each input (without newline), NULL until scored */
    int n, resumed;    /* inputs; lines taken from an earlier run's record */
} score_record;

/* Starts the record for the n inputs (ids) of `sdd score -o out`. With
 * resume and a record left by an earlier run: its settings must equal
 * settings and its IDs be among ids; its lines are kept (r->resumed) and
 * the record rewritten with them. Without resume, a record left behind is
 * replaced (said on stderr). SDD_EXIT_OK, or an exit status with the reason
 * printed. */
int score_record_open(score_record *r, const char *out, const char *settings, char *const *ids, int n, int resume);
/* Input k's line (malloc'ed; r takes it): kept, and appended to the record. */
void score_record_put(score_record *r, int k, char *line);
/* Flushes the record to the file (after each batch). 0, or -1 with the reason printed. */
int score_record_flush(score_record *r);
/* The lines, in input order, to f. */
void score_record_write(const score_record *r, FILE *f);
/* Frees r; with remove, the record file goes too (the output was written). */
void score_record_close(score_record *r, int remove);

#endif
