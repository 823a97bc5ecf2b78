/* The small training setup the trainer tests share (test_trainer,
 * test_crash, test_nbest): the bundled clips as a labelled list, AASIST-L at
 * a 4,000-sample cut, batch 2, n-best 2; and a whole-file reader and
 * byte comparison for checking outputs. Header-only, for tests. */
#ifndef SDD_TESTS_TRAIN_SETUP_H
#define SDD_TESTS_TRAIN_SETUP_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/trainer.h"

/* writes the list of the five bundled clips (3 bona fide, 2 spoof); 0 or -1 */
static inline int ts_write_list(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "real_01.flac bonafide\nreal_02.flac bonafide\ntts_01.flac spoof\nreal_03.flac bonafide\ntts_02.flac spoof\n");
    return fclose(f) ? -1 : 0;
}

/* train and dev on that list, quiet; 5 items at batch 2 give 2 steps an epoch */
static inline sdd_train_config ts_config(const char *list, const char *out, int epochs)
{
    sdd_train_config c = sdd_train_default_config();
    c.train_list = list;
    c.train_audio = "tests/data/audio";
    c.dev_list = list;
    c.dev_audio = "tests/data/audio";
    c.out_dir = out;
    c.arch = "AASIST-L";
    c.batch = 2;
    c.cut = 4000;
    c.epochs = epochs;
    c.patience = 100;
    c.n_best = 2;
    c.adam.lr = 1e-3;
    c.workers = 2;
    c.quiet = 1;
    return c;
}

/* the whole file, NUL-terminated (length in *n when n is given); NULL when unreadable */
static inline char *ts_slurp(const char *path, size_t *n)
{
    if (n) *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)len + 1)) &&
        fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (!b) return NULL;
    b[len] = 0;
    if (n) *n = (size_t)len;
    return b;
}

/* whether files a and b both read and hold the same bytes */
static inline int ts_same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *x = ts_slurp(a, &na), *y = ts_slurp(b, &nb);
    const int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

#endif
