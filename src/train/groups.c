/* Owns the parameter groups of a grouped gradient alignment
 * (--align-groups block|tensor; align.h): which floats of the flat vector
 * each group holds, built from the model's parameter names. */
#include "train/step.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* the group key of a parameter name: block: up to the first component that
 * is all digits ("encoder.2.conv1.weight" -> "encoder.2"), else the first
 * component ("GAT_layer_S.att_weight" -> "GAT_layer_S"); tensor: the name */
static void group_key(const char *name, int mode, char *key, size_t cap)
{
    size_t len = strlen(name);
    if (mode == SDD_ALIGN_GROUPS_BLOCK) {
        size_t first = len, i = 0;
        while (i < len) {
            size_t j = i;
            while (j < len && name[j] != '.') j++;
            if (first == len) first = j;
            int digits = j > i;
            for (size_t k = i; k < j; k++) digits &= isdigit((unsigned char)name[k]) != 0;
            if (digits) { first = j; break; }
            i = j + 1;
        }
        len = first;
    }
    if (len >= cap) len = cap - 1;
    memcpy(key, name, len);
    key[len] = 0;
}

int sdd_align_groups_build(const sdd_params *ps, int mode, sdd_align_group **out, int *ng, sdd_err *e)
{
    *out = NULL;
    *ng = 0;
    if (mode == SDD_ALIGN_GROUPS_WHOLE) return 0;
    sdd_align_group *g = malloc((size_t)(ps->np > 0 ? ps->np : 1) * sizeof *g);
    if (!g) return sdd_err_set(e, "--align-groups: out of memory");
    int n = 0;
    for (int i = 0; i < ps->np; i++) {
        if (!ps->p[i].trainable) continue;
        char key[sizeof g->name];
        group_key(ps->p[i].name, mode, key, sizeof key);
        if (n && !strcmp(g[n - 1].name, key)) continue;   /* the same layer goes on */
        g[n].off = n ? ps->p[i].off : 0;                  /* the first group also holds what comes before it */
        memcpy(g[n].name, key, sizeof key);
        n++;
    }
    if (!n) { free(g); return sdd_err_set(e, "--align-groups %s: the model has no trainable tensor", sdd_align_groups_name(mode)); }
    for (int k = 0; k < n; k++) g[k].n = (k + 1 < n ? g[k + 1].off : ps->total) - g[k].off;
    *out = g;
    *ng = n;
    return 0;
}
