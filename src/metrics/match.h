/* Joins score-file IDs with key IDs. Score files may name a trial by a path
 * (`sdd score DIR` writes the path as given: "wav/LA_E_1234567.flac",
 * "/data/itw/0.wav") while keys name it by an ID ("LA_E_1234567") or a file
 * name ("0.wav"). Each key ID is matched by the first rule that applies:
 *   1. exact        the same string;
 *   2. base name    the same part after the last '/' or '\';
 *   3. stem         the same base name without its extension (the part from
 *                   the last '.' on, when that '.' is not the first character).
 * Rules 2 and 3 only pair key IDs and score lines left over by the earlier
 * rules; a score line whose base name (stem) belongs only to key IDs already
 * matched by an earlier rule stays unused (the earlier rule wins). Ambiguity
 * is an error naming both sides:
 *   "SCORES:LINE: ambiguous: score IDs A (line L) and B (line M) both match
 *    key ID K by base name"
 *   "SCORES:LINE: ambiguous: score ID A matches key IDs K1 (KEY:L1) and K2
 *    (KEY:L2) by base name"
 * (the second also when only one of K1, K2 is still unmatched). */
#ifndef SDD_METRICS_MATCH_H
#define SDD_METRICS_MATCH_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

typedef enum {
    SDD_MATCH_NONE = -1,
    SDD_MATCH_EXACT = 0,
    SDD_MATCH_BASENAME = 1,
    SDD_MATCH_STEM = 2,
} sdd_match_rule;

/* "exact", "base name", "base name without extension" (NULL otherwise). */
const char *sdd_match_rule_name(int rule);

/* The base name and stem of an ID as a (start, length) view into it:
 * rule EXACT gives the whole ID. */
const char *sdd_match_view(const char *id, int rule, size_t *len);

/* Matches nk key IDs (unique; kline: their lines in kname, for messages)
 * with ns score IDs (unique; sline: lines in sname). Fills score_of_key[k]
 * (score index or -1) and rule_of_key[k] (sdd_match_rule). 0, or -1 with e
 * set (ambiguity, out of memory). */
int sdd_match_ids(const char *const *kid, const int *kline, int64_t nk, const char *kname,
                  const char *const *sid, const int *sline, int64_t ns, const char *sname,
                  int64_t *score_of_key, signed char *rule_of_key, sdd_err *e);

#endif
