/* Arena allocator: a list of large chunks handed out linearly and reset once
 * per step, so a training step does no malloc/free in its hot path. Chunks are
 * kept across resets; the peak is tracked for memory reports. */
#ifndef SDD_CORE_ARENA_H
#define SDD_CORE_ARENA_H
#include <stddef.h>

typedef struct sdd_arena_chunk sdd_arena_chunk;
typedef struct sdd_arena {
    sdd_arena_chunk *head;   /* chunk being filled */
    sdd_arena_chunk *first;  /* chunk list, kept across resets */
    size_t chunk_size;       /* default size of a new chunk */
    size_t used;             /* bytes handed out since the last reset */
    size_t peak;             /* max of used over the arena's life */
    size_t reserved;         /* bytes held in chunks */
    /* chunk memory: NULL for host memory; the CUDA backend sets device
     * allocators (then sdd_arena_calloc must not be used: it writes the memory) */
    void *(*mem_alloc)(size_t bytes);
    void (*mem_free)(void *p);
    /* when set, it gets the memory an allocation reaches for the first time
     * since the last reset (the CUDA emulation fills it with NaN, so a kernel
     * that leaves part of its output unwritten shows instead of passing on
     * zeros or the previous pass's values) */
    void (*mem_poison)(void *p, size_t bytes);
} sdd_arena;

void sdd_arena_init(sdd_arena *a, size_t chunk_size);
/* An arena whose chunks come from alloc/free (device memory). */
void sdd_arena_init_with(sdd_arena *a, size_t chunk_size, void *(*alloc)(size_t), void (*release)(void *));
/* 64-byte aligned, uninitialised; NULL when memory is exhausted. */
void *sdd_arena_alloc(sdd_arena *a, size_t bytes);
/* Same, zero-filled. */
void *sdd_arena_calloc(sdd_arena *a, size_t bytes);
void sdd_arena_reset(sdd_arena *a);
/* A position to come back to: everything allocated after it is released. */
typedef struct { sdd_arena_chunk *chunk; size_t off, used; } sdd_arena_mark;
sdd_arena_mark sdd_arena_get_mark(const sdd_arena *a);
void sdd_arena_release(sdd_arena *a, sdd_arena_mark m);
void sdd_arena_free(sdd_arena *a);
/* Gives every chunk back, keeping the settings and the peak: between passes
 * (nothing allocated is live), when the passes to come are smaller than
 * those before (the end of training, before the final phase's evaluation). */
void sdd_arena_trim(sdd_arena *a);

#endif
