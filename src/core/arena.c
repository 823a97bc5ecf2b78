/* Owns the arena allocator (see arena.h). */
#include "core/arena.h"
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

struct sdd_arena_chunk {
    sdd_arena_chunk *next;
    size_t cap, off;
    size_t hw;          /* highest off since the last reset: memory below it was poisoned this pass */
    char *mem;
};

void sdd_arena_init(sdd_arena *a, size_t chunk_size)
{
    memset(a, 0, sizeof *a);
    a->chunk_size = chunk_size ? chunk_size : ((size_t)64 << 20);
}

void sdd_arena_init_with(sdd_arena *a, size_t chunk_size, void *(*alloc)(size_t), void (*release)(void *))
{
    sdd_arena_init(a, chunk_size);
    a->mem_alloc = alloc;
    a->mem_free = release;
}

static sdd_arena_chunk *chunk_new(const sdd_arena *a, size_t cap)
{
    sdd_arena_chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->mem = NULL;
    if (a->mem_alloc) {
        if (!(c->mem = a->mem_alloc(cap))) { free(c); return NULL; }
    } else if (posix_memalign((void **)&c->mem, 64, cap) != 0) { free(c); return NULL; }
    c->cap = cap;
    c->off = 0;
    c->hw = 0;
    c->next = NULL;
    return c;
}

void *sdd_arena_alloc(sdd_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX - 64) return NULL;
    size_t need = (bytes + 63) & ~(size_t)63;
    if (need == 0) need = 64;
    /* walk forward through kept chunks looking for room */
    while (a->head && a->head->off + need > a->head->cap) {
        if (!a->head->next) break;
        a->head = a->head->next;
        a->head->off = 0;
    }
    if (!a->head || a->head->off + need > a->head->cap) {
        size_t cap = need > a->chunk_size ? need : a->chunk_size;
        sdd_arena_chunk *c = chunk_new(a, cap);
        if (!c) return NULL;
        a->reserved += cap;
        if (!a->first) a->first = c;
        else {
            /* append after head (head is the last chunk here) */
            sdd_arena_chunk *t = a->head ? a->head : a->first;
            while (t->next) t = t->next;
            t->next = c;
        }
        a->head = c;
    }
    void *p = a->head->mem + a->head->off;
    a->head->off += need;
    if (a->head->off > a->head->hw) {
        /* memory this pass has not reached before: poisoned first (mem_poison) */
        if (a->mem_poison) a->mem_poison(a->head->mem + a->head->hw, a->head->off - a->head->hw);
        a->head->hw = a->head->off;
    }
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void *sdd_arena_calloc(sdd_arena *a, size_t bytes)
{
    void *p = sdd_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void sdd_arena_reset(sdd_arena *a)
{
    /* the next pass reaches every chunk afresh: sdd_arena_alloc poisons it again on first touch */
    for (sdd_arena_chunk *c = a->first; c; c = c->next) c->hw = 0;
    a->head = a->first;
    if (a->head) a->head->off = 0;
    a->used = 0;
}

void sdd_arena_free(sdd_arena *a)
{
    sdd_arena_chunk *c = a->first;
    while (c) {
        sdd_arena_chunk *n = c->next;
        if (a->mem_free) a->mem_free(c->mem); else free(c->mem);
        free(c);
        c = n;
    }
    memset(a, 0, sizeof *a);
}

void sdd_arena_trim(sdd_arena *a)
{
    const sdd_arena keep = *a;
    sdd_arena_free(a);
    a->chunk_size = keep.chunk_size;
    a->peak = keep.peak;
    a->mem_alloc = keep.mem_alloc;
    a->mem_free = keep.mem_free;
    a->mem_poison = keep.mem_poison;
}

sdd_arena_mark sdd_arena_get_mark(const sdd_arena *a)
{
    sdd_arena_mark m = { a->head, a->head ? a->head->off : 0, a->used };
    return m;
}

void sdd_arena_release(sdd_arena *a, sdd_arena_mark m)
{
    if (!m.chunk) { sdd_arena_reset(a); return; }
    a->head = m.chunk;
    a->head->off = m.off;
    a->used = m.used;
}
