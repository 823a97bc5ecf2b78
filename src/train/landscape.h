/* Loss landscape around a trained model (Li et al. 2018, "Visualizing the
 * Loss Landscape of Neural Nets"), as the DPDA paper's analysis: random
 * Gaussian directions, filter-normalised (each output filter of a weight
 * tensor, its slice along dimension 0, scaled to the norm of the same
 * filter of the weights; biases, BatchNorm parameters, other 1-D
 * parameters, buffers and fixed tensors get no direction, Li et al.'s
 * "ignore biasbn"), and the weighted-CE loss in eval mode at
 * theta + a d1 (+ b d2) on a grid a, b in [-range, range], for the original
 * inputs and for their RawBoost copies. */
#ifndef SDD_TRAIN_LANDSCAPE_H
#define SDD_TRAIN_LANDSCAPE_H
#include "models/model.h"
#include "audio/rawboost.h"
#include <stdio.h>

/* A filter-normalised random direction (params->total floats) drawn from seed. */
void sdd_landscape_direction(const sdd_params *ps, uint64_t seed, float *d);

typedef struct {
    const char *model, *list, *audio_dir;
    int dirs;             /* 1 or 2 */
    int steps;            /* grid points per direction (>= 2; odd includes 0) */
    double range;         /* coordinates in [-range, range] */
    int64_t cut;          /* input samples (0: sdd_model_cut, the trained or reference cut) */
    int max_items;        /* first N utterances of the list (0: all) */
    int batch;
    int rb_algo;          /* RawBoost algorithm of the copies (0: no augmented loss) */
    sdd_rawboost_params rb;
    uint64_t seed;
    float class_weight[2];
    const char *svg;      /* also draw the plot into this file (NULL: no plot) */
    int quiet;            /* no progress lines on stderr (warnings still) */
    int device;           /* SDD_DEV_CPU (default) or SDD_DEV_CUDA (backend/device.h) */
} sdd_landscape_params;

sdd_landscape_params sdd_landscape_default_params(void);
/* Computes the grid and writes it to the file `out` (TSV, atomically, once
 * the grid is complete): a comment header, then "a\tb\tloss_orig\tloss_aug"
 * rows, a varying slowest; the plot to the file p->svg (atomically) if set.
 * Progress goes to stderr unless p->quiet: a line redrawn with '\r' on a
 * terminal (none when the TSV goes to a terminal stream, sdd_landscape_run_to),
 * else (a log) a plain line at each tenth of the grid. A loss that is not
 * finite is written as nan and counted in one warning line on stderr naming
 * the output. 0, or -1 with e set. */
int sdd_landscape_run(const sdd_landscape_params *p, const char *out, sdd_err *e);

/* An output that the caller owns instead of a file (standard output): the
 * text goes to fp as it is made (the TSV header first, then each row once
 * computed; the plot at the end), in pieces of at most SDD_LANDSCAPE_PIECE
 * bytes, each followed by flush(), which returns 0 or the errno of a failed
 * write; a failure stops the run. NULL flush: fflush(fp) and ferror(fp).
 * A caller that keeps the first failure's reason itself (the CLI's
 * cli_stdout_error) passes its flush here: a piece smaller than the stream's
 * buffer reaches the file only in flush(), whose errno says why it failed
 * (that of a write failing inside fwrite is gone by a later fflush). name is
 * how messages call it ("standard output"). Not atomic: what was written
 * before a failure stays. */
#define SDD_LANDSCAPE_PIECE 1024
typedef struct {
    FILE *fp;
    const char *name;
    int (*flush)(void);
} sdd_landscape_stream;
/* As sdd_landscape_run, with the TSV on tsv instead of the file `out` when
 * tsv is not NULL (out is then not used), and the plot on svg instead of a
 * file when svg is not NULL (drawn then whatever p->svg says). The bytes are
 * those the files get. A failed write to a stream: -1 with e "NAME: write
 * failed: REASON". */
int sdd_landscape_run_to(const sdd_landscape_params *p, const char *out, const sdd_landscape_stream *tsv,
                         const sdd_landscape_stream *svg, sdd_err *e);
/* The plot of a grid (a per point, losses lo and la, NaN where absent; steps
 * points per direction, dirs 1 or 2): two heat maps with contours on a shared
 * log scale, or two curves. Malloc'ed SVG text or NULL with e set. */
char *sdd_landscape_svg(const double *a, const double *lo, const double *la, int steps, int dirs, double range, sdd_err *e);

#endif
