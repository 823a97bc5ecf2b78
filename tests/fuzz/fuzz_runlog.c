/* libFuzzer target for the training-log reader (src/train/runlog.c): the
 * input as log.jsonl and as config.json. Contract: failure gives -1 and one
 * line starting with the origin; success gives epochs in ascending order
 * within 0..1e6 with rates in [0, 1] or NaN where the log gave them, and a
 * plot that can be drawn. */
#include "train/runlog.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_err(const sdd_err *e, const char *origin)
{
    if (strncmp(e->msg, origin, strlen(origin)) || strchr(e->msg, '\n')) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_runlog r;
    sdd_err e = { "" };
    sdd_runlog_init(&r);
    if (sdd_runlog_parse_log(&r, (const char *)data, size, "fuzz", &e) == 0) {
        for (int k = 0; k < r.nep; k++) {
            if (r.ep[k].epoch < 0 || r.ep[k].epoch > 1000000) __builtin_trap();
            if (k && r.ep[k].epoch <= r.ep[k - 1].epoch) __builtin_trap();
        }
        int ep;
        double b = sdd_runlog_best_eer(&r, &ep);
        if (isfinite(b) && ep < 0) __builtin_trap();
        const char *label = "run";
        char *svg = sdd_runlog_svg(&r, &label, 1, &e);
        if (!svg) __builtin_trap();
        free(svg);
    } else {
        check_err(&e, "fuzz");
    }
    sdd_runlog_free(&r);
    sdd_runlog_init(&r);
    e.msg[0] = 0;
    if (sdd_runlog_parse_config(&r, (const char *)data, size, "cfg", &e)) check_err(&e, "cfg");
    sdd_runlog_free(&r);
    return 0;
}
