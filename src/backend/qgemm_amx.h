/* The AMX kernel of the int8 linear layers (qgemm_amx.c), for qgemm.c. */
#ifndef SDD_BACKEND_QGEMM_AMX_H
#define SDD_BACKEND_QGEMM_AMX_H

#include <stdint.h>
#include "backend/qgemm.h"

enum { SDD_Q8_AMX_MR = 32, SDD_Q8_AMX_NR = 32 };   /* a block: activation rows x outputs */

/* 1 when this CPU and OS run AMX int8 tiles (asked once per process) */
int sdd_q8_amx_ready(void);
/* per thread, around its blocks: configure the tiles, release them */
void sdd_q8_amx_begin(void);
void sdd_q8_amx_end(void);
/* acc (32, 32) = the exact integer sums of activation rows A (32 rows of
 * q->kp bytes, all readable) against outputs o0 .. o0 + 31 (outputs past
 * the last block of 16 reread it; the caller discards them) */
void sdd_q8_amx_block(const sdd_q8_linear *q, const uint8_t *A, int o0, int32_t *acc);

#endif
