/* libFuzzer target for the list/protocol parser: the input is parsed once
 * with format detection and once with the format named by its first byte.
 * Checks the contract: success gives n > 0 items with an ID, a path, a valid
 * label and increasing line numbers; failure gives one line naming the input
 * and an empty list. */
#include "data/list.h"

#include <stdint.h>
#include <string.h>

static void run(const char *buf, size_t len, sdd_list_format fmt)
{
    sdd_list l;
    sdd_err e = { "" };
    int rc = sdd_list_load_mem(buf, len, "fuzz", "dir", fmt, &l, &e);
    if (rc == 0) {
        if (l.n <= 0 || !l.items || l.format <= SDD_LIST_AUTO || l.format > SDD_LIST_FOR)
            __builtin_trap();
        int prev = 0;
        for (int i = 0; i < l.n; i++) {
            const sdd_list_item *it = &l.items[i];
            if (!it->id || !it->path || !*it->id || it->line <= prev) __builtin_trap();
            if (it->label != SDD_LABEL_NONE && it->label != SDD_LABEL_SPOOF &&
                it->label != SDD_LABEL_BONAFIDE)
                __builtin_trap();
            prev = it->line;
        }
        sdd_list_free(&l);
    } else {
        if (rc != -1 || l.n != 0 || l.items) __builtin_trap();
        if (strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run((const char *)data, size, SDD_LIST_AUTO);
    if (size > 0) run((const char *)data + 1, size - 1, (sdd_list_format)(data[0] % 9));
    return 0;
}
