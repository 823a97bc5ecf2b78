/* libFuzzer target for model loading from a checkpoint's tensors
 * (sdd_model_from_tensorset: architecture from the metadata or guessed from
 * the shapes, names, shapes, dtype conversion, finiteness, the loaded count,
 * the threshold metadata). The first input byte picks the container: even =
 * safetensors, odd = PyTorch zip; bit 1 forces the architecture AASIST-L
 * (as `sdd import --arch`). Checks the contract: success gives a model whose
 * parameters are all finite; failure gives one line naming the input. A
 * safetensors input is also written to /dev/shm and checked, mapped, against
 * an AASIST-L model (sdd_model_map_weights, what sdd average and the n-best
 * average read): success means every weight is there as F32 of its shape;
 * the average of that one file is then the file's weights, or, when one is
 * not finite, refused with a line naming the file. */
#include "models/modelio.h"
#include "io/pth.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void mapped(const uint8_t *data, size_t size)
{
    static sdd_model *ref;
    static char path[64];
    sdd_err e = { "" };
    if (!ref && !(ref = sdd_model_new("AASIST-L", &e))) __builtin_trap();
    if (!path[0]) snprintf(path, sizeof path, "/dev/shm/sdd_fuzz_model.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return;
    const int whole = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !whole) return;
    sdd_tensorset ts;
    if (sdd_model_map_weights(ref, path, &ts, &e) == 0) {
        const sdd_params *ps = &ref->params;
        for (int i = 0; i < ps->np; i++) {
            const sdd_ntensor *t = sdd_tensorset_find(&ts, ps->p[i].name);
            if (!t || t->dtype != SDD_F32 || t->nbytes != ps->p[i].numel * sizeof(float)) __builtin_trap();
        }
        const char *one[1] = { path };
        if (sdd_model_average(ref, one, 1, &e)) {
            if (strncmp(e.msg, path, strlen(path)) || !strstr(e.msg, "non-finite value") || strchr(e.msg, '\n')) __builtin_trap();
        } else {
            for (int i = 0; i < ps->np; i++) {
                const float *x = sdd_tensorset_find(&ts, ps->p[i].name)->data, *y = sdd_params_ptr(ps, i);
                for (size_t k = 0; k < ps->p[i].numel; k++)
                    if (x[k] != y[k] || !isfinite(y[k])) __builtin_trap();
            }
        }
        sdd_tensorset_free(&ts);
    } else if (ts.n || strncmp(e.msg, path, strlen(path)) || strchr(e.msg, '\n')) {
        __builtin_trap();
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const int pth = data[0] & 1;
    if (!pth && access("/dev/shm", W_OK) == 0) mapped(data + 1, size - 1);
    const char *arch = (data[0] & 2) ? "AASIST-L" : NULL;
    sdd_tensorset ts;
    sdd_err e = { "" };
    int rc = pth ? sdd_pth_load_mem(data + 1, size - 1, "fuzz.model", &ts, &e)
                 : sdd_safetensors_load_mem(data + 1, size - 1, "fuzz.model", &ts, &e);
    if (rc) return 0;
    sdd_model *m = sdd_model_from_tensorset(&ts, arch, pth, "fuzz.model", &e);
    if (m) {
        const sdd_params *ps = &m->params;
        for (size_t k = 0; k < ps->total; k++)
            if (!isfinite(ps->data[k])) __builtin_trap();
        if (m->has_threshold && !isfinite(m->threshold)) __builtin_trap();
        sdd_model_free(m);
    } else if (strncmp(e.msg, "fuzz.model: ", 12) || strchr(e.msg, '\n')) {
        __builtin_trap();
    }
    sdd_tensorset_free(&ts);
    return 0;
}
