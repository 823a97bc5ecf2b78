/* libFuzzer target for the /proc/meminfo reader (src/train/memory.c,
 * sdd_meminfo_available). Contract: the input is read within its n bytes
 * (no terminator); success gives the number of the first MemAvailable line
 * times 1024, and failure one line starting with the origin. The budget
 * check stays inside its arithmetic for any sizes. */
#include "train/memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);   /* exactly size bytes: ASan sees a read past them */
    if (!copy) return 0;
    memcpy(copy, data, size);
    sdd_err e = { "" };
    size_t bytes = 1;
    if (sdd_meminfo_available(copy, size, "fuzz", &bytes, &e) == 0) {
        if (bytes % 1024) __builtin_trap();
    } else if (strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) {
        __builtin_trap();
    }
    free(copy);
    if (size >= 24) {
        size_t v[3];
        memcpy(v, data, sizeof v);
        const int fits = sdd_recompute_keep_fits(v[0], v[1], v[2]);
        if (fits && (v[2] == 0 || (v[0] > v[1] && v[0] - v[1] > v[2]))) __builtin_trap();   /* never more than is free */
    }
    return 0;
}
