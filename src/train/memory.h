/* Memory a training run may still take, and --ssl-recompute auto's choice
 * (trainer.c): after the first step, which recomputes the XLS-R layers, the
 * run keeps their activations from then on when the estimated arena peak
 * without recomputation (sdd_checkpoint_keep_estimate) fits in the memory
 * that is free. The gradients are the same to the bit either way. */
#ifndef SDD_TRAIN_MEMORY_H
#define SDD_TRAIN_MEMORY_H
#include "core/error.h"
#include <stddef.h>

/* MemAvailable of a /proc/meminfo text (n bytes, no terminator needed), in
 * bytes; -1 with the line at fault (what names the source in messages). */
int sdd_meminfo_available(const char *text, size_t n, const char *what, size_t *bytes, sdd_err *e);
/* The host's available memory (/proc/meminfo's MemAvailable). */
int sdd_host_mem_available(size_t *bytes, sdd_err *e);
/* 1: keeping the activations fits. est: the arena peak estimated without
 * recomputation; held: what the arena holds already (its chunks); avail: the
 * free memory. Fits when the growth est - held is at most 80% of avail. */
int sdd_recompute_keep_fits(size_t est, size_t held, size_t avail);

#endif
