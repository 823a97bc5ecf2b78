/* The ASVspoof 2021 eval-package's precomputed t-DCF coefficients
 * (LA/LA-C012-eval.npy and the files its --recompute-c012 writes): a NumPy
 * 0-d object array, pickled by ndarray.dump, holding the dictionary
 * C012[attack][codec] = {'C0': ., 'C1': ., 'C2': .} with 'Pooled' for the
 * pooled row and column (attacks A07..A19, codecs none, alaw, pstn, g722,
 * ulaw, gsm, opus). main.py reads it with np.load(allow_pickle=True) and
 * takes C012[attack][codec] per table cell and C012['Pooled']['Pooled'] for
 * the pooled min t-DCF; a missing or NaN entry gives no t-DCF for that cell.
 * Also accepted: the same dictionary pickled directly, and a float .npy of
 * three values [C0, C1, C2] (pooled only). Read with io/npy.h. */
#ifndef SDD_METRICS_C012_H
#define SDD_METRICS_C012_H

#include "core/error.h"
#include "metrics/metrics.h"
#include "io/npy.h"

typedef struct {
    int n;
    char **row, **col;      /* attack, codec ("Pooled" for pooled) */
    double (*c)[3];         /* C0, C1, C2 (NaN kept as NaN) */
} sdd_c012;

/* Reads PATH. Errors name the file and what was found instead of the
 * dictionary, a cell without C0/C1/C2 or with a non-numeric value, and a file
 * without the pooled entry C012['Pooled']['Pooled']. Returns 0 or -1. */
int sdd_c012_load(const char *path, sdd_c012 *c, sdd_err *e);
/* The same on a file already read (name for messages). */
int sdd_c012_from_npy(const sdd_npy *f, const char *name, sdd_c012 *c, sdd_err *e);
void sdd_c012_free(sdd_c012 *c);

/* The 2021-form coefficients of cell (row, col); NULL means "Pooled".
 * Returns 0 with k set, -1 when the cell is absent or holds a NaN (as the
 * eval-package: no min t-DCF there). */
int sdd_c012_get(const sdd_c012 *c, const char *row, const char *col, sdd_tdcf_coef *k);

#endif
