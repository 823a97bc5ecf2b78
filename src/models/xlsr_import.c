/* Owns the XLS-R encoder-weight loader (see xlsr_import.h); the name mapping
 * is in xlsr_names.c. */
#include "models/xlsr_import.h"
#include "models/modelio.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSL_PREFIX "ssl_model.model."

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* appends name to a "a, b, c (and N more)" list of at most 5 names */
static void list_add(char *buf, size_t n, int *count, const char *name)
{
    if (*count < 5) snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", *count ? ", " : "", name);
    (*count)++;
}

static void list_end(char *buf, size_t n, int count)
{
    if (count > 5) snprintf(buf + strlen(buf), n - strlen(buf), " (and %d more)", count - 5);
}

int sdd_model_load_ssl(sdd_model *m, const char *path, sdd_xlsr_import_info *info, sdd_err *e)
{
    sdd_params *ps = &m->params;
    const size_t plen = strlen(SSL_PREFIX);
    int nenc = 0;
    for (int i = 0; i < ps->np; i++) nenc += starts(ps->p[i].name, SSL_PREFIX);
    if (!nenc) return sdd_err_set(e, "%s: model %s has no XLS-R encoder to load weights into", path, m->arch);
    sdd_tensorset raw, ts;
    /* safetensors: the header only, each weight read into place */
    if (sdd_pth_is_zip(path) ? sdd_pth_load(path, &raw, e) : sdd_safetensors_open(path, &raw, e)) return -1;
    sdd_xlsr_import_info loc;
    if (!info) info = &loc;
    /* ts renames raw's tensors without copying them: raw is freed after ts */
    if (sdd_xlsr_map_tensorset(&raw, SSL_PREFIX, &ts, info, e)) { sdd_tensorset_free(&raw); return -1; }
    char unknown[512] = "", missing[512] = "";
    int nunk = 0, nmis = 0, loaded = 0;
    uint8_t *seen = calloc((size_t)ps->np, 1);
    int rc = seen ? 0 : sdd_err_set(e, "out of memory");
    for (int i = 0; i < ts.n && !rc; i++) {
        const char *nm = ts.t[i].name;
        const int idx = sdd_params_find(ps, nm);
        if (starts(nm, SSL_PREFIX) && idx >= 0) {
            if ((rc = sdd_model_copy_tensor(m, idx, &ts.t[i], path, e))) break;
            seen[idx] = 1;
            loaded++;
        } else if (idx < 0 && !(strlen(nm) > 20 && !strcmp(nm + strlen(nm) - 20, ".num_batches_tracked"))) {
            list_add(unknown, sizeof unknown, &nunk, nm);
        }
    }
    for (int i = 0; i < ps->np && !rc; i++)
        if (starts(ps->p[i].name, SSL_PREFIX) && !seen[i]) list_add(missing, sizeof missing, &nmis, ps->p[i].name + plen);
    free(seen);
    sdd_tensorset_free(&ts);
    sdd_tensorset_free(&raw);
    if (rc) return -1;
    list_end(unknown, sizeof unknown, nunk);
    list_end(missing, sizeof missing, nmis);
    if (nunk || nmis)
        return sdd_err_set(e, "%s: not an XLS-R checkpoint for %s: %d unknown tensor%s%s%s; %d XLS-R tensor%s missing%s%s", path,
                           m->arch, nunk, nunk == 1 ? "" : "s", nunk ? ": " : "", unknown, nmis, nmis == 1 ? "" : "s",
                           nmis ? ": " : "", missing);
    if (loaded != nenc) return sdd_err_set(e, "%s: loaded %d of %d XLS-R tensors", path, loaded, nenc);
    return 0;
}
