/* Adam with PyTorch's semantics (torch.optim.Adam, L2 weight decay added to
 * the gradient, amsgrad off) over the flat parameter block: one loop over the
 * trainable entries. Moments live in the same layout as the parameters. */
#ifndef SDD_TRAIN_ADAM_H
#define SDD_TRAIN_ADAM_H
#include "core/params.h"

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
} sdd_adam_params;

typedef struct {
    sdd_adam_params p;
    float *m, *v;     /* (total,) first and second moments */
    long step;
    /* CUDA (sdd_adam_step_device): the moments in device memory, uploaded
     * from m, v on the first device step; the trainable ranges of the block */
    float *dm, *dv;
    size_t *roff, *rlen;
    int nr;
} sdd_adam;

sdd_adam_params sdd_adam_default_params(void);   /* lr 1e-4, betas (0.9, 0.999), eps 1e-8, wd 1e-4 */
int sdd_adam_init(sdd_adam *a, const sdd_params *ps, const sdd_adam_params *p, sdd_err *e);
void sdd_adam_free(sdd_adam *a);
/* One step: params -= update(grad); grad has the params' layout; buffers are skipped. */
void sdd_adam_step(sdd_adam *a, sdd_params *ps, const float *grad);
/* The same step on the device: ps->ddata updated from dgrad (device, the
 * params' layout), moments kept on the device. -1 with a reason. */
int sdd_adam_step_device(sdd_adam *a, sdd_params *ps, const float *dgrad, sdd_err *e);
/* Copies the device moments back to m, v (before checkpoints); a no-op
 * when the device was never used. */
int sdd_adam_sync_host(sdd_adam *a, const sdd_params *ps, sdd_err *e);

#endif
