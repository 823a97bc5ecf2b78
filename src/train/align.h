/* Gradient alignment of the two paths' gradients (DPDA, Truong et al.):
 * conflict statistics and the combination used for the optimiser step, as
 * the reference implementation computes them (reference-spec section 7):
 *   none    (g0 + g1) / 2 (used only for the statistics; the plain dual-path
 *           regime takes one loss over both halves instead)
 *   pcgrad  each gradient projected off the other's original direction when
 *           they conflict (dot < 0), then the mean
 *   gradvac gradient vaccine with a running cosine target per ordered pair
 *           (beta 0.5), then the mean
 *   cagrad  conflict-averse gradient with c = 0.5 and rescale 1; its inner
 *           problem over the 2-simplex is one-dimensional and solved exactly
 *           (the reference calls scipy's SLSQP).
 * Gradients are flat float vectors of n entries; every dot product and norm
 * is accumulated in double. */
#ifndef SDD_TRAIN_ALIGN_H
#define SDD_TRAIN_ALIGN_H
#include <stddef.h>

typedef enum { SDD_ALIGN_NONE = 0, SDD_ALIGN_PCGRAD, SDD_ALIGN_GRADVAC, SDD_ALIGN_CAGRAD } sdd_align_method;

typedef struct {
    double rho_t[2][2];   /* GradVac's running cosine targets, zero at the start */
    double beta;          /* GradVac EMA factor (0.5) */
    double cagrad_c;      /* CAGrad c (0.5) */
} sdd_align_state;

typedef struct {
    double norm0, norm1, dot, cos;   /* of the two input gradients */
    int conflict;                    /* dot < 0 */
    double cagrad_w;                 /* CAGrad's weight on path 0 (cagrad only) */
    double norm_out;                 /* norm of the combined gradient */
} sdd_align_stats;

void sdd_align_state_init(sdd_align_state *s);
/* Parses "none", "pcgrad", "gradvac", "cagrad"; -1 when unknown. */
int sdd_align_parse(const char *name);
const char *sdd_align_name(int method);
/* The two gradients' norms, dot product, cosine and conflict flag (norm_out and cagrad_w left 0). */
void sdd_align_measure(const float *g0, const float *g1, size_t n, sdd_align_stats *stats);
/* The statistics from the dot products g0.g0, g1.g1, g0.g1 (what sdd_align_measure computes from the vectors). */
void sdd_align_stats_from_dots(double g00, double g11, double g01, sdd_align_stats *stats);
/* The aligned combination as coefficients: out = a0 g0 + a1 g1 for gradients
 * with these statistics (from sdd_align_measure or _from_dots); updates the
 * state (GradVac) and stats->cagrad_w. sdd_align = measure, coefs, combine:
 * the device path computes the dots on the device and only these scalars here. */
void sdd_align_coefs(int method, sdd_align_stats *stats, sdd_align_state *state, double *a0, double *a1);
/* out (n) = the aligned combination of g0 and g1 (out may alias neither input). */
void sdd_align(int method, const float *g0, const float *g1, size_t n, float *out,
               sdd_align_state *state, sdd_align_stats *stats);
/* CAGrad's inner problem for two tasks: minimise over w = (t, 1-t), t in [0,1],
 * w^T G b + c' sqrt(w^T G w + 1e-8) with b = (1/2, 1/2); G = [[g00, g01], [g01, g11]]. Returns t. */
double sdd_cagrad_weight(double g00, double g01, double g11, double cprime);

#endif
