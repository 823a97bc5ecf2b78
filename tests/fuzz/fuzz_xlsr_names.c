/* libFuzzer target for the XLS-R checkpoint name mapping (models/xlsr_names.c).
 * The input is split into lines, each a state-dict key. Checks the contract
 * of sdd_xlsr_map_name (result -1, 0 or 1; a mapped name is NUL-terminated
 * within the buffer and starts with the prefix, for any buffer size) and of
 * sdd_xlsr_map_tensorset on a set holding those keys (counts add up, names
 * stay unique or the call fails cleanly with an empty set). */
#include "models/xlsr_import.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    sdd_tensorset ts;
    sdd_tensorset_init(&ts);
    sdd_err e;
    const int64_t shp[1] = { 1 };
    const float one = 1.0f;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        static const char *pfx[2] = { "", "ssl_model.model." };
        static const size_t sizes[3] = { 1, 12, 256 };
        for (int p = 0; p < 2; p++)
            for (int s = 0; s < 3; s++) {
                char out[256];
                memset(out, 'x', sizeof out);
                const int r = sdd_xlsr_map_name(line, pfx[p], out, sizes[s]);
                if (r < -1 || r > 1) abort();
                if (r == 1 && (memchr(out, 0, sizes[s]) == NULL || strncmp(out, pfx[p], strlen(pfx[p])))) abort();
            }
        sdd_tensorset_add(&ts, line, SDD_F32, 1, shp, &one, sizeof one, &e);
    }
    sdd_tensorset out;
    sdd_xlsr_import_info info;
    if (sdd_xlsr_map_tensorset(&ts, "ssl_model.model.", &out, &info, &e) == 0) {
        if (out.n != info.mapped + info.other || info.mapped + info.other + info.dropped != ts.n) abort();
        for (int i = 0; i < out.n; i++)
            if (sdd_tensorset_find(&out, out.t[i].name) != &out.t[i]) abort();
        sdd_tensorset_free(&out);
    } else if (out.n != 0 || !e.msg[0]) {
        abort();
    }
    sdd_tensorset_free(&ts);
    free(buf);
    return 0;
}
