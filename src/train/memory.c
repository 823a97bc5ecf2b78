/* Owns the memory reading behind --ssl-recompute auto (see memory.h). */
#include "train/memory.h"
#include "io/readall.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sdd_meminfo_available(const char *text, size_t n, const char *what, size_t *bytes, sdd_err *e)
{
    static const char key[] = "MemAvailable:";
    const size_t kl = sizeof key - 1;
    int line = 1;
    for (size_t i = 0; i < n; line++) {
        size_t j = i;
        while (j < n && text[j] != '\n') j++;
        if (j - i > kl && !memcmp(text + i, key, kl)) {
            /* "MemAvailable:   12345678 kB" */
            size_t k = i + kl;
            while (k < j && text[k] == ' ') k++;
            uint64_t v = 0;
            size_t d0 = k;
            while (k < j && text[k] >= '0' && text[k] <= '9') {
                if (v > (UINT64_MAX - 9) / 10) return sdd_err_set(e, "%s:%d: MemAvailable is out of range", what, line);
                v = v * 10 + (uint64_t)(text[k++] - '0');
            }
            if (k == d0) return sdd_err_set(e, "%s:%d: MemAvailable has no number", what, line);
            while (k < j && text[k] == ' ') k++;
            if (j - k != 2 || memcmp(text + k, "kB", 2)) return sdd_err_set(e, "%s:%d: MemAvailable is not in kB", what, line);
            if (v > SIZE_MAX / 1024) return sdd_err_set(e, "%s:%d: MemAvailable is out of range", what, line);
            *bytes = (size_t)v * 1024;
            return 0;
        }
        i = j + 1;
    }
    return sdd_err_set(e, "%s: no MemAvailable line", what);
}

int sdd_host_mem_available(size_t *bytes, sdd_err *e)
{
    static const char path[] = "/proc/meminfo";
    size_t n = 0;
    char *buf = sdd_read_all(path, (size_t)1 << 20, "meminfo file", &n, e);
    if (!buf) return -1;
    const int rc = sdd_meminfo_available(buf, n, path, bytes, e);
    free(buf);
    return rc;
}

int sdd_recompute_keep_fits(size_t est, size_t held, size_t avail, size_t reserve)
{
    if (avail <= reserve) return 0;
    const size_t grow = est > held ? est - held : 0;
    return grow <= (avail - reserve) / 5 * 4;
}
