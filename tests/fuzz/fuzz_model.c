/* libFuzzer target for model loading from a checkpoint's tensors
 * (sdd_model_from_tensorset: architecture from the metadata or guessed from
 * the shapes, names, shapes, dtype conversion, finiteness, the loaded count,
 * the threshold metadata). The first input byte picks the container: even =
 * safetensors, odd = PyTorch zip; bit 1 forces the architecture AASIST-L
 * (as `sdd import --arch`). Checks the contract: success gives a model whose
 * parameters are all finite; failure gives one line naming the input. */
#include "models/modelio.h"
#include "io/pth.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const int pth = data[0] & 1;
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
