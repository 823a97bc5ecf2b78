/* `sdd info MODEL`: prints a model file's architecture, metadata and tensors. */
#include "cli/cli.h"
#include "models/modelio.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_info(int argc, char **argv)
{
    const char *in = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: sdd info MODEL [-v]\nPrints the architecture, parameter count and threshold of a model file\n(.safetensors or .pth); -v lists every tensor.\n");
            return SDD_EXIT_OK;
        } else if (!strcmp(argv[i], "-v")) verbose = 1;
        else if (argv[i][0] == '-') return cli_usage_error("info", "unknown option %s", argv[i]);
        else if (!in) in = argv[i];
        else return cli_usage_error("info", "unexpected argument %s", argv[i]);
    }
    if (!in) return cli_usage_error("info", "no model given");
    sdd_err e;
    sdd_model *m = sdd_model_load(in, NULL, &e);
    if (!m) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    printf("file: %s\narch: %s\ntensors: %d\ntrainable parameters: %zu\ninput: %d samples at 16 kHz (reference cut)\n",
           in, m->arch, m->params.np, m->params.ntrainable, m->nb_samp);
    if (m->cut > 0) printf("trained at: %lld samples (sdd score's default cut)\n", (long long)m->cut);
    if (m->has_threshold) printf("threshold: %.9g\n", m->threshold);
    else printf("threshold: none stored\n");
    printf("config: %s\n", m->config);
    printf("calibration: %s\n", m->calibration[0] ? m->calibration : "none stored");
    /* a run's best-epochNNN.safetensors: which epoch, at what dev loss */
    sdd_tensorset ts;
    if (!sdd_pth_is_zip(in) && sdd_safetensors_open(in, &ts, &e) == 0) {
        const char *ep = sdd_tensorset_get_meta(&ts, "epoch"), *dl = sdd_tensorset_get_meta(&ts, "dev_loss");
        char *end;
        /* printed as the numbers they are (a hostile file's text never reaches the terminal) */
        const long long epn = ep ? strtoll(ep, &end, 10) : -1;
        if (ep && *ep && !*end && epn >= 0) printf("epoch: %lld\n", epn);
        const double dlv = dl ? strtod(dl, &end) : 0;
        if (dl && *dl && !*end) printf("dev loss: %.9g\n", dlv);
        sdd_tensorset_free(&ts);
    }
    if (verbose)
        for (int i = 0; i < m->params.np; i++) {
            const sdd_pinfo *p = &m->params.p[i];
            printf("  %-50s (", p->name);
            for (int d = 0; d < p->nd; d++) printf("%s%lld", d ? ", " : "", (long long)p->shape[d]);
            printf(")%s\n", p->trainable ? "" : " buffer");
        }
    sdd_model_free(m);
    return SDD_EXIT_OK;
}
