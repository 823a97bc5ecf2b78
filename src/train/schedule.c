/* Owns the learning-rate schedules (see schedule.h). */
#include "train/schedule.h"
#include <math.h>
#include <string.h>

int sdd_lr_schedule_parse(const char *s)
{
    if (!strcmp(s, "const")) return SDD_LR_CONST;
    if (!strcmp(s, "cosine")) return SDD_LR_COSINE;
    return -1;
}

const char *sdd_lr_schedule_name(int schedule)
{
    return schedule == SDD_LR_COSINE ? "cosine" : "const";
}

double sdd_lr_at(int schedule, double lr, double lr_min, long step, long total)
{
    if (schedule != SDD_LR_COSINE || total <= 0) return lr;
    /* the factor in float64 as numpy computes it, then times the base rate as LambdaLR does */
    const double m = lr_min / lr;
    const double f = m + (1.0 - m) * 0.5 * (1.0 + cos((double)step / (double)total * M_PI));
    return lr * f;
}
