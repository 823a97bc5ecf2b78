/* libFuzzer target for the safetensors loader (sdd_safetensors_load_mem).
 * Checks the contract: success gives tensors whose sizes match their shapes,
 * unique names and readable data, and the tensors tile the data area exactly;
 * failure gives an empty set and one line naming the input. Whatever loads is
 * also saved (to /dev/shm, where fsync is cheap) and loaded again, and must
 * come back identical. The header-only loader (sdd_safetensors_open) gets the
 * input as a file and must agree: the same verdict and, on success, the same
 * tensors, whose bytes sdd_tensor_read reads from the file. */
#include "io/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void roundtrip(const sdd_tensorset *ts)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/sdd_fuzz_st.%d", (int)getpid());
    if (access("/dev/shm", W_OK) != 0) return;
    sdd_err e = { "" };
    sdd_tensorset back;
    if (sdd_safetensors_save(path, ts, &e) != 0) {
        /* only names or metadata that are not valid UTF-8 may be refused */
        if (!strstr(e.msg, "UTF-8")) __builtin_trap();
        return;
    }
    if (sdd_safetensors_load(path, &back, &e) != 0 || back.n != ts->n || back.nmeta != ts->nmeta)
        __builtin_trap();
    for (int i = 0; i < ts->n; i++) {
        const sdd_ntensor *a = &ts->t[i], *b = &back.t[i];
        if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->ndim != b->ndim ||
            a->nbytes != b->nbytes || memcmp(a->shape, b->shape, sizeof a->shape) ||
            (a->nbytes && memcmp(a->data, b->data, a->nbytes)))
            __builtin_trap();
    }
    for (int i = 0; i < ts->nmeta; i++) {
        const char *v = sdd_tensorset_get_meta(&back, ts->meta_key[i]);
        if (!v || strcmp(v, ts->meta_val[i])) __builtin_trap();
    }
    sdd_tensorset_free(&back);
    unlink(path);
}

/* the input as a file, opened: the verdict and the tensors of load_mem (ts, rc) */
static void opened(const uint8_t *data, size_t size, const sdd_tensorset *ts, int rc)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/sdd_fuzz_open.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return;
    const int whole = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !whole) return;
    sdd_err e = { "" };
    sdd_tensorset m;
    const int mrc = sdd_safetensors_open(path, &m, &e);
    if (mrc != rc) __builtin_trap();
    if (mrc) {
        if (m.n || m.file_ || strncmp(e.msg, path, strlen(path)) || strchr(e.msg, '\n')) __builtin_trap();
    } else {
        if (m.n != ts->n || m.nmeta != ts->nmeta || (m.n && !m.file_)) __builtin_trap();
        for (int i = 0; i < m.n; i++) {
            const sdd_ntensor *a = &ts->t[i], *b = &m.t[i];
            if (strcmp(a->name, b->name) || a->nbytes != b->nbytes || b->data) __builtin_trap();
            if (!b->nbytes) continue;
            unsigned char *got = malloc(b->nbytes);
            if (!got) continue;
            if (sdd_tensor_read(b, got, &e) || memcmp(a->data, got, a->nbytes)) __builtin_trap();
            free(got);
        }
        sdd_tensorset_free(&m);
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_tensorset ts;
    sdd_err e = { "" };
    int rc = sdd_safetensors_load_mem(data, size, "fuzz.safetensors", &ts, &e);
    if (access("/dev/shm", W_OK) == 0) opened(data, size, &ts, rc);
    if (rc == 0) {
        uint64_t hl = 0, total = 0;
        for (int i = 7; i >= 0; i--) hl = (hl << 8) | data[i];
        volatile unsigned sum = 0;
        for (int i = 0; i < ts.n; i++) {
            const sdd_ntensor *t = &ts.t[i];
            int64_t numel;
            if (!t->name || sdd_tensorset_find(&ts, t->name) != t) __builtin_trap();
            if (sdd_shape_numel(t->ndim, t->shape, &numel) < 0 ||
                (uint64_t)numel * sdd_dtype_size(t->dtype) != t->nbytes)
                __builtin_trap();
            for (size_t k = 0; k < t->nbytes; k++) sum += ((const unsigned char *)t->data)[k];
            total += t->nbytes;
        }
        if (8 + hl + total != size) __builtin_trap();   /* no unindexed bytes */
        for (int i = 0; i < ts.nmeta; i++)
            if (!ts.meta_key[i] || !ts.meta_val[i]) __builtin_trap();
        roundtrip(&ts);
        sdd_tensorset_free(&ts);
    } else {
        if (rc != -1 || ts.n != 0 || ts.t || ts.nmeta) __builtin_trap();
        if (strncmp(e.msg, "fuzz.safetensors: ", 18) != 0 || strchr(e.msg, '\n')) __builtin_trap();
    }
    return 0;
}
