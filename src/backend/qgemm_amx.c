/* Owns the AMX tile kernel of the int8 linear layers (qgemm.h): a block of
 * 32 activation rows x 32 outputs as four 16 x 16 int32 accumulator tiles,
 * fed per 64 k-values by two 16-row activation tiles and two weight tiles.
 * The weights' VNNI packing (qgemm.h: per 16 outputs, 64 bytes per group of
 * 4 k-values) is already AMX's B-tile layout, so a weight tile is 16
 * consecutive groups, read with a 64-byte stride. TDPBUSD multiplies uint8
 * by int8 and adds in int32 like vpdpbusd, so the sums are the exact
 * integers of the other kernels and y has the same bits.
 *
 * AMX is decided at run time, not by the build: the CPU must report
 * AMX-TILE and AMX-INT8, the OS must enable the tile state in XCR0, and
 * Linux must grant this process the tile data (arch_prctl
 * ARCH_REQ_XCOMP_PERM), asked once. Tiles are configured per thread
 * (sdd_q8_amx_begin) and released after (sdd_q8_amx_end). */
#include "backend/qgemm_amx.h"

#include <string.h>

#if defined(__x86_64__) && defined(__linux__) && \
    ((defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define SDD_Q8_HAVE_AMX 1
#endif

#ifdef SDD_Q8_HAVE_AMX
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int probe(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 24)) || !(d & (1u << 25))) return 0;       /* AMX-TILE, AMX-INT8 */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;   /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17)) return 0;               /* XTILECFG, XTILEDATA enabled */
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
    unsigned long mask = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &mask) != 0) return 0;
    return (mask >> XFEATURE_XTILEDATA) & 1;
}

int sdd_q8_amx_ready(void)
{
    /* 0: not asked yet, 1: usable, 2: not; two first callers both asking is harmless */
    static atomic_int state;
    int s = atomic_load(&state);
    if (!s) {
        s = probe() ? 1 : 2;
        atomic_store(&state, s);
    }
    return s == 1;
}

/* ldtilecfg's 64-byte operand: palette 1, tiles 0-3 the accumulators,
 * 4-5 the activations, 6-7 the weights, each 16 rows of 64 bytes */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

/* a constant in memory: GCC 12 treated stores into a stack copy as dead
 * before ldtilecfg read it (the config then held garbage and faulted) */
static const tilecfg g_cfg = {
    1, 0, { 0 }, { 64, 64, 64, 64, 64, 64, 64, 64 }, { 16, 16, 16, 16, 16, 16, 16, 16 },
};

__attribute__((target("amx-tile,amx-int8"))) void sdd_q8_amx_begin(void) { _tile_loadconfig(&g_cfg); }

__attribute__((target("amx-tile,amx-int8"))) void sdd_q8_amx_end(void) { _tile_release(); }

__attribute__((target("amx-tile,amx-int8")))
void sdd_q8_amx_block(const sdd_q8_linear *q, const uint8_t *A, int o0, int32_t *acc)
{
    const int G = q->kp / 4, j0 = o0 / 16, j1 = j0 + 1 < q->nb ? j0 + 1 : j0;
    const int8_t *w0 = q->w + (size_t)j0 * G * 64, *w1 = q->w + (size_t)j1 * G * 64;
    const size_t kp = (size_t)q->kp;
    const int g64 = G / 16 * 16;   /* groups in whole tiles of 64 k-values */
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int g = 0; g < g64; g += 16) {
        _tile_loadd(4, A + 4 * (size_t)g, kp);
        _tile_loadd(5, A + 16 * kp + 4 * (size_t)g, kp);
        _tile_loadd(6, w0 + (size_t)g * 64, 64);
        _tile_loadd(7, w1 + (size_t)g * 64, 64);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    _tile_stored(0, acc, SDD_Q8_AMX_NR * 4);
    _tile_stored(1, acc + 16, SDD_Q8_AMX_NR * 4);
    _tile_stored(2, acc + 16 * SDD_Q8_AMX_NR, SDD_Q8_AMX_NR * 4);
    _tile_stored(3, acc + 16 * SDD_Q8_AMX_NR + 16, SDD_Q8_AMX_NR * 4);
    /* the last groups short of a tile (din not a multiple of 64), one product at a time */
    for (int g = g64; g < G; g++)
        for (int i = 0; i < SDD_Q8_AMX_MR; i++)
            for (int j = 0; j < SDD_Q8_AMX_NR; j++) {
                const int8_t *wg = (j < 16 ? w0 : w1) + (size_t)g * 64 + (size_t)(j % 16) * 4;
                const uint8_t *a = A + (size_t)i * kp + 4 * (size_t)g;
                acc[i * SDD_Q8_AMX_NR + j] += a[0] * wg[0] + a[1] * wg[1] + a[2] * wg[2] + a[3] * wg[3];
            }
}
#else
int sdd_q8_amx_ready(void) { return 0; }
void sdd_q8_amx_begin(void) {}
void sdd_q8_amx_end(void) {}
void sdd_q8_amx_block(const sdd_q8_linear *q, const uint8_t *A, int o0, int32_t *acc)
{
    (void)q; (void)A; (void)o0;
    memset(acc, 0, SDD_Q8_AMX_MR * SDD_Q8_AMX_NR * sizeof *acc);
}
#endif
