/* Learning-rate schedules of the training loop. `cosine` is the AASIST
 * recipe's (clovaai/aasist utils.py): a LambdaLR stepped after every
 * optimiser step with the factor
 *   f(s) = m + (1 - m) * 0.5 * (1 + cos(pi * s / T)),  m = lr_min / lr,
 * T = epochs * optimiser steps per epoch, s = optimiser steps taken so far
 * (0 for the first update). No warm-up. f(T) = m; past T the cosine rises
 * again exactly as the reference's formula would (a run stops at T anyway). */
#ifndef SDD_TRAIN_SCHEDULE_H
#define SDD_TRAIN_SCHEDULE_H

enum { SDD_LR_CONST = 0, SDD_LR_COSINE = 1 };

/* "const" or "cosine" -> SDD_LR_*, else -1 */
int sdd_lr_schedule_parse(const char *s);
const char *sdd_lr_schedule_name(int schedule);
/* Learning rate of the update after `step` optimiser steps (step >= 0) of
 * `total` (> 0) with base rate lr and final rate lr_min. */
double sdd_lr_at(int schedule, double lr, double lr_min, long step, long total);

#endif
