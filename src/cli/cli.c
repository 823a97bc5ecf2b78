/* Owns the CLI helpers (see cli.h). */
#include "cli/cli.h"
#include "core/threads.h"
#include "io/atomic.h"
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sdd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sdd %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'sdd %s --help')\n", cmd);
    va_end(ap);
    return SDD_EXIT_USAGE;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* stat of the folder PATH's last component is in, and that component */
static int parent_of(const char *path, struct stat *st, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (!slash) return stat(".", st);
    char dir[4096];
    const size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) return -1;
    memcpy(dir, path, n);
    dir[n] = 0;
    return stat(dir, st);
}

int cli_same_file(const char *out, const char *in)
{
    if (!out || !in) return 0;
    struct stat a, b;
    const int ea = stat(out, &a) == 0, eb = stat(in, &b) == 0;
    if (ea && eb) return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
    if (ea || eb) return 0;
    /* neither exists yet (two outputs): the same name in the same folder, however spelled */
    const char *ba, *bb;
    if (parent_of(out, &a, &ba) || parent_of(in, &b, &bb) || !*ba) return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino && !strcmp(ba, bb);
}

int cli_check_outputs(const char *cmd, const cli_file *outs, int nout, const cli_file *ins, int nin)
{
    for (int o = 0; o < nout; o++) {
        if (!outs[o].path) continue;
        if (cli_refuse_stdout(cmd, outs[o].opt, outs[o].path, "this output")) return SDD_EXIT_USAGE;
        for (int i = 0; i < nin; i++)
            if (!cli_is_dash(ins[i].path) && cli_same_file(outs[o].path, ins[i].path))
                return cli_usage_error(cmd, "%s %s is the same file as %s %s: it would be overwritten", outs[o].opt,
                                       outs[o].path, ins[i].opt, ins[i].path);
        for (int p = 0; p < o; p++)
            if (outs[p].path && (!strcmp(outs[p].path, outs[o].path) || cli_same_file(outs[p].path, outs[o].path)))
                return cli_usage_error(cmd, "%s and %s name the same file %s", outs[p].opt, outs[o].opt, outs[o].path);
    }
    return 0;
}

/* errno of the first failed write or flush of stdout; later flushes may no longer know it */
static int stdout_errno;

int cli_is_dash(const char *path)
{
    return path && !strcmp(path, "-");
}

int cli_refuse_stdout(const char *cmd, const char *opt, const char *path, const char *what)
{
    if (!cli_is_dash(path)) return 0;
    return cli_usage_error(cmd, "%s -: %s cannot go to standard output; give a file name (./- for a file named '-')", opt, what);
}

int cli_one_stdin(const char *cmd, const cli_file *ins, int nin)
{
    int first = -1;
    for (int i = 0; i < nin; i++) {
        if (!cli_is_dash(ins[i].path)) continue;
        if (first < 0) { first = i; continue; }
        return cli_usage_error(cmd, "%s - and %s -: standard input can be only one of them; give the other a file name",
                               ins[first].opt, ins[i].opt);
    }
    return 0;
}

int cli_refuse_stdin(const char *cmd, const char *opt, const char *path, const char *what)
{
    if (!cli_is_dash(path)) return 0;
    return cli_usage_error(cmd, "%s -: standard input cannot give %s; give a file name (./- for a file named '-')", opt,
                           what);
}

int cli_one_stdout(const char *cmd, const char *opt1, const char *path1, const char *opt2, const char *path2)
{
    if (!cli_is_dash(path1) || !cli_is_dash(path2)) return 0;
    return cli_usage_error(cmd, "%s - and %s -: only one output can go to standard output; give the other a file name", opt1, opt2);
}

int cli_tmpout_open(cli_tmpout *t, const char *name)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    t->open = 0;
    if (snprintf(t->dir, sizeof t->dir, "%s/sdd-stdout.XXXXXX", base) >= (int)sizeof t->dir) {
        cli_error("TMPDIR %s: path too long for a temporary folder", base);
        return SDD_EXIT_ERROR;
    }
    if (!mkdtemp(t->dir)) {
        cli_error("%s: cannot create a temporary folder for standard output: %s", base, strerror(errno));
        return SDD_EXIT_ERROR;
    }
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    t->open = 1;
    return 0;
}

void cli_tmpout_close(cli_tmpout *t)
{
    if (!t->open) return;
    unlink(t->path);
    rmdir(t->dir);
    t->open = 0;
}

int cli_tmpout_send(cli_tmpout *t)
{
    FILE *f = fopen(t->path, "rb");
    const int open_errno = errno;
    cli_tmpout_close(t);   /* the open stream keeps the data; nothing is left behind */
    if (!f) { cli_error("%s: cannot read it back for standard output: %s", t->path, strerror(open_errno)); return SDD_EXIT_ERROR; }
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        errno = 0;
        if (fwrite(buf, 1, n, stdout) != n) {
            if (!stdout_errno) stdout_errno = errno ? errno : EIO;   /* the reason, before a flush forgets it */
            break;
        }
    }
    if (ferror(f)) { cli_error("%s: read failed: %s", t->path, strerror(errno)); rc = SDD_EXIT_ERROR; }
    fclose(f);
    if (cli_stdout_error()) rc = SDD_EXIT_ERROR;
    return rc;
}

int cli_save_calibration(const char *out, const sdd_calibration *c, const char *const *inputs, const void *trained_on)
{
    sdd_err e;
    if (!cli_is_dash(out)) {
        if (!sdd_calibration_save(out, c, inputs, trained_on, &e)) return SDD_EXIT_OK;
        cli_error("%s", e.msg);
        return SDD_EXIT_ERROR;
    }
    char *js = sdd_calibration_to_json(c, 0, inputs, trained_on, &e);
    if (!js) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    fputs(js, stdout);
    fputc('\n', stdout);   /* the file's bytes: sdd_calibration_save ends it with a newline */
    free(js);
    return cli_stdout_error() ? SDD_EXIT_ERROR : SDD_EXIT_OK;
}

void cli_error_input(const char *msg)
{
    static const char dev[] = "/dev/stdin";
    if (!strncmp(msg, dev, sizeof dev - 1) && (msg[sizeof dev - 1] == ':' || !msg[sizeof dev - 1]))
        cli_error("- (standard input)%s", msg + sizeof dev - 1);
    else cli_error("%s", msg);
}

int cli_parse_double(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

void cli_flush_stdout(void)
{
    if (fflush(stdout) != 0 && !stdout_errno) stdout_errno = errno ? errno : EIO;
}

int cli_stdout_error(void)
{
    errno = 0;
    cli_flush_stdout();
    if (!stdout_errno && ferror(stdout)) stdout_errno = EIO;
    return stdout_errno;
}

void cli_set_threads(long n)
{
    sdd_threads_set((int)n);
}

void cli_progress_start(cli_progress *p, int64_t total)
{
    p->total = total;
    p->tty = isatty(2);
    p->t0 = omp_get_wtime();
}

void cli_progress_update(cli_progress *p, int64_t done)
{
    if (!p->tty || p->total <= 0) return;
    const int width = 30;
    int fill = (int)(width * done / p->total);
    double el = omp_get_wtime() - p->t0;
    double eta = done > 0 ? el * (double)(p->total - done) / (double)done : 0.0;
    fprintf(stderr, "\r[");
    for (int k = 0; k < width; k++) fputc(k < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld  %.0fs elapsed, %.0fs left ", (long long)done, (long long)p->total, el, eta);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty && p->total > 0) fputc('\n', stderr);
}

int cli_parse_boot(const char *cmd, const char *a, const char *v, sdd_boot_params *bp)
{
    if (!strcmp(a, "--ci")) {
        long n;
        if (cli_parse_int(v, 1, SDD_BOOT_MAX_REPS, &n))
            return cli_usage_error(cmd, "--ci: '%s' is not a replicate count from 1 to %d", v, SDD_BOOT_MAX_REPS);
        bp->reps = (int)n;
    } else if (!strcmp(a, "--ci-level")) {
        double x;
        if (cli_parse_double(v, &x) || !(x > 0.0 && x < 1.0))
            return cli_usage_error(cmd, "--ci-level: '%s' is not a coverage between 0 and 1 (0.95)", v);
        bp->level = x;
    } else {
        long s;
        if (cli_parse_int(v, 0, 0x7fffffffffffffffL, &s))
            return cli_usage_error(cmd, "--ci-seed: '%s' is not a seed from 0 to 2^63-1", v);
        bp->seed = (uint64_t)s;
    }
    return 0;
}

const char *cli_asv_option(const char *a)
{
    if (!strcmp(a, "--asv-scores") || !strcmp(a, "--asv-key") || !strcmp(a, "--asv-c012")) return "a file";
    if (!strcmp(a, "--asv-rates")) return "asvspoof5";
    if (!strcmp(a, "--tdcf")) return "2019 or 2021";
    return NULL;
}

int cli_parse_asv(const char *cmd, const char *a, const char *v, sdd_eval_opts *o)
{
    if (!strcmp(a, "--asv-scores")) o->asv_scores = v;
    else if (!strcmp(a, "--asv-key")) o->asv_key = v;
    else if (!strcmp(a, "--asv-c012")) o->asv_c012 = v;
    else if (!strcmp(a, "--asv-rates")) {
        if (strcmp(v, "asvspoof5")) return cli_usage_error(cmd, "--asv-rates: '%s' is not asvspoof5", v);
        o->asv5_rates = 1;
    } else if (!strcmp(v, "2019")) o->tdcf = SDD_TDCF_2019;
    else if (!strcmp(v, "2021")) o->tdcf = SDD_TDCF_2021;
    else return cli_usage_error(cmd, "--tdcf: '%s' is not 2019 or 2021", v);
    return 0;
}

int cli_check_asv(const char *cmd, const sdd_eval_opts *o)
{
    if (o->asv_key && !o->asv_scores) return cli_usage_error(cmd, "--asv-key needs --asv-scores");
    if (o->asv_c012 && o->asv_scores) return cli_usage_error(cmd, "--asv-c012 and --asv-scores exclude each other");
    if (o->asv5_rates && (o->asv_scores || o->asv_c012))
        return cli_usage_error(cmd, "--asv-rates excludes --asv-scores and --asv-c012");
    if (o->tdcf && !o->asv_scores && !o->asv_c012 && !o->asv5_rates)
        return cli_usage_error(cmd, "--tdcf needs --asv-scores, --asv-c012 or --asv-rates");
    if (o->tdcf == SDD_TDCF_2019 && o->asv_c012)
        return cli_usage_error(cmd, "--tdcf 2019 needs ASV scores: C012 coefficients are the 2021 form");
    return 0;
}

int cli_write_output(const char *path, int (*write)(FILE *f, void *ctx, sdd_err *e), void *ctx)
{
    sdd_err e;
    const int std = cli_is_dash(path);
    sdd_afile *af = std ? NULL : sdd_afile_open(path, &e);
    if (!std && !af) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    const int rc = write(std ? stdout : sdd_afile_fp(af), ctx, &e);
    if (std) {
        /* a failed write is said by main, in one line */
        if (rc && !cli_stdout_error()) cli_error("standard output: %s", e.msg);
        return rc || cli_stdout_error() ? SDD_EXIT_ERROR : SDD_EXIT_OK;
    }
    if (rc) {
        sdd_afile_abort(af);
        cli_error("%s: %s", path, e.msg);
        return SDD_EXIT_ERROR;
    }
    if (sdd_afile_commit(af, &e)) { cli_error("%s", e.msg); return SDD_EXIT_ERROR; }
    return SDD_EXIT_OK;
}
