/* libFuzzer target for model loading from a checkpoint's tensors
 * (sdd_model_from_tensorset: architecture from the metadata or guessed from
 * the shapes, names, shapes, dtype conversion, finiteness, the loaded count,
 * the threshold metadata). The first input byte picks the container: even =
 * safetensors, odd = PyTorch zip; bit 1 forces the architecture AASIST-L
 * (as `sdd import --arch`). Checks the contract: success gives a model whose
 * parameters are all finite; failure gives one line naming the input. A
 * safetensors input is also written to /dev/shm. sdd_model_load, which reads
 * its weights from the file a tensor at a time, must give the same verdict
 * and the same parameters to the bit as the in-memory load. The file is also
 * checked against an AASIST-L model (sdd_model_open_weights, what sdd average
 * and the n-best average read): success means every weight is there as F32
 * of its shape; the average of that one file (kept open, or reopened per
 * tensor: bit 2 of the first byte) is then the file's weights, or, when one
 * is not finite, refused with a line naming the file. */
#include "models/modelio.h"
#include "io/pth.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* data as a file at path; 0 when written */
static int as_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const int whole = fwrite(data, 1, size, f) == size;
    return fclose(f) != 0 || !whole ? -1 : 0;
}

static void opened(const char *path, int reopen)
{
    static sdd_model *ref;
    static float *buf;
    sdd_err e = { "" };
    if (!ref && !(ref = sdd_model_new("AASIST-L", &e))) __builtin_trap();
    if (!buf && !(buf = malloc(ref->params.total * sizeof *buf))) __builtin_trap();
    sdd_tensorset ts;
    if (sdd_model_open_weights(ref, path, &ts, &e) == 0) {
        const sdd_params *ps = &ref->params;
        for (int i = 0; i < ps->np; i++) {
            const sdd_ntensor *t = sdd_tensorset_find(&ts, ps->p[i].name);
            if (!t || t->dtype != SDD_F32 || t->nbytes != ps->p[i].numel * sizeof(float)) __builtin_trap();
        }
        const char *one[1] = { path };
        /* reopen (bit 2 of the first byte) picks the path: the file kept
         * open, or reopened for groups of one tensor (as with more files than
         * sdd_model_average keeps open); the same verdict and bits either way */
        if (sdd_model_average_grouped(ref, one, 1, reopen ? 1 : 0, &e)) {
            if (strncmp(e.msg, path, strlen(path)) || !strstr(e.msg, "non-finite value") || strchr(e.msg, '\n')) __builtin_trap();
        } else {
            for (int i = 0; i < ps->np; i++) {
                const float *y = sdd_params_ptr(ps, i);
                if (sdd_tensor_read(sdd_tensorset_find(&ts, ps->p[i].name), buf, &e)) __builtin_trap();
                for (size_t k = 0; k < ps->p[i].numel; k++)
                    if (buf[k] != y[k] || !isfinite(y[k])) __builtin_trap();
            }
        }
        sdd_tensorset_free(&ts);
    } else if (ts.n || ts.file_ || strncmp(e.msg, path, strlen(path)) || strchr(e.msg, '\n')) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/sdd_fuzz_model.%d", (int)getpid());
    const int pth = data[0] & 1;
    const int file = !pth && access("/dev/shm", W_OK) == 0 && as_file(path, data + 1, size - 1) == 0;
    if (file) opened(path, (data[0] & 4) != 0);
    const char *arch = (data[0] & 2) ? "AASIST-L" : NULL;
    sdd_tensorset ts;
    sdd_err e = { "" }, fe = { "" };
    int rc = pth ? sdd_pth_load_mem(data + 1, size - 1, "fuzz.model", &ts, &e)
                 : sdd_safetensors_load_mem(data + 1, size - 1, "fuzz.model", &ts, &e);
    sdd_model *m = rc ? NULL : sdd_model_from_tensorset(&ts, arch, pth, "fuzz.model", &e);
    if (m) {
        const sdd_params *ps = &m->params;
        for (size_t k = 0; k < ps->total; k++)
            if (!isfinite(ps->data[k])) __builtin_trap();
        if (m->has_threshold && !isfinite(m->threshold)) __builtin_trap();
    } else if (strncmp(e.msg, "fuzz.model: ", 12) || strchr(e.msg, '\n')) {
        __builtin_trap();
    }
    if (file) {
        /* the same file loaded from disk, its weights read into place */
        sdd_model *fm = sdd_model_load(path, arch, &fe);
        if (!fm != !m) __builtin_trap();
        if (fm && (fm->params.total != m->params.total || fm->has_threshold != m->has_threshold ||
                   memcmp(fm->params.data, m->params.data, m->params.total * sizeof(float)) ||
                   (m->has_threshold && fm->threshold != m->threshold)))
            __builtin_trap();
        if (!fm && (strncmp(fe.msg, path, strlen(path)) || strchr(fe.msg, '\n'))) __builtin_trap();
        sdd_model_free(fm);
        unlink(path);
    }
    sdd_model_free(m);
    sdd_tensorset_free(&ts);
    return 0;
}
