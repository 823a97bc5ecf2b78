/* The record an interrupted `sdd score -o FILE` leaves in FILE.partial, read
 * back by `sdd score --resume`: a header line
 *     "# sdd score partial: SETTINGS\n"
 * (SETTINGS: one line saying how the scores were made: model, cut, ...; the
 * resuming run compares it with its own), then the output lines written so
 * far, "ID SCORE[ LABEL]\n" (SCORE a finite number as %.9g prints it, LABEL
 * bonafide or spoof). A last line without its newline (the process was
 * killed while writing it) is dropped, not an error. Owns sdd_partial. */
#ifndef SDD_METRICS_PARTIAL_H
#define SDD_METRICS_PARTIAL_H
#include <stddef.h>
#include "core/error.h"

#define SDD_PARTIAL_HEADER "# sdd score partial: "

typedef struct {
    char *settings;   /* the header's SETTINGS */
    int n;            /* complete output lines */
    char **id;        /* [n] their IDs */
    char **line;      /* [n] the lines themselves, without the newline */
    int dropped;      /* 1 when an unterminated last line was dropped */
} sdd_partial;

/* Parses buf[0, len) (name: for messages, "NAME:LINE: reason"). Lines are at
 * most 1 MiB. 0, or -1 with e set and p empty. */
int sdd_partial_parse(const char *buf, size_t len, const char *name, sdd_partial *p, sdd_err *e);
void sdd_partial_free(sdd_partial *p);

#endif
