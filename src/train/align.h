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
    int ng;               /* groups of a grouped alignment (0: whole vector, rho_t) */
    double *rho_g;        /* (ng, 2, 2) GradVac targets per group, zero at the start; NULL when ng is 0 */
} sdd_align_state;

/* Alignment per parameter group (--align-groups), beyond the reference,
 * which aligns the whole vector: each group [off, off + n) of the flat
 * vector is aligned on its own, from its own dot products and (GradVac) its
 * own running targets, as GradVac's paper does per layer. Groups tile the
 * vector. whole: one group, the reference's computation (sdd_align);
 * block: one group per layer (the parameter names up to their first index,
 * "encoder.2", "ssl_model.model.encoder.layers.17", else their first part,
 * "GAT_layer_S"); tensor: one per trainable tensor. Buffers (BatchNorm
 * running statistics: zero gradients) never start a group. */
enum { SDD_ALIGN_GROUPS_WHOLE = 0, SDD_ALIGN_GROUPS_BLOCK, SDD_ALIGN_GROUPS_TENSOR };
typedef struct {
    size_t off, n;        /* floats [off, off + n) of the flat vector */
    char name[112];       /* the block's name prefix, or the tensor's name */
} sdd_align_group;

typedef struct {
    double norm0, norm1, dot, cos;   /* of the two input gradients */
    int conflict;                    /* dot < 0 */
    double cagrad_w;                 /* CAGrad's weight on path 0 (cagrad only) */
    double norm_out;                 /* norm of the combined gradient */
} sdd_align_stats;

void sdd_align_state_init(sdd_align_state *s);
/* Zeroed per-group GradVac targets for ng groups (0: back to the whole vector); -1 when out of memory. */
int sdd_align_state_set_groups(sdd_align_state *s, int ng);
void sdd_align_state_free(sdd_align_state *s);
/* "whole", "block", "tensor"; -1 when unknown */
int sdd_align_groups_parse(const char *name);
const char *sdd_align_groups_name(int mode);
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
/* sdd_align per group: out (n) = each group's aligned combination of its
 * part of g0 and g1 (the groups tile [0, n)); stats: the whole vectors'
 * statistics, as sdd_align gives them (norm_out of the combined out);
 * *nconflict: the groups whose dot product is negative. state must hold
 * ng groups' targets (sdd_align_state_set_groups). */
void sdd_align_grouped(int method, const float *g0, const float *g1, size_t n, const sdd_align_group *groups, int ng,
                       float *out, sdd_align_state *state, sdd_align_stats *stats, int *nconflict);
/* The coefficients of group gi from its dot products (the device path computes those there); counts a conflict. */
void sdd_align_group_coefs(int method, int gi, double g00, double g11, double g01, sdd_align_state *state, double *a0,
                           double *a1, int *nconflict);

/* CAGrad's inner problem for two tasks: minimise over w = (t, 1-t), t in [0,1],
 * w^T G b + c' sqrt(w^T G w + 1e-8) with b = (1/2, 1/2); G = [[g00, g01], [g01, g11]]. Returns t. */
double sdd_cagrad_weight(double g00, double g01, double g11, double cprime);

#endif
