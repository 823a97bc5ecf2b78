/* `sdd score`: scores audio files, folders (recursively, audio files only) or
 * a list/protocol file with a model. Output lines "ID SCORE [LABEL]"; score =
 * bona fide logit printed with %.9g. Unreadable files get one error line each,
 * the good files are still scored and written (atomically), and the exit
 * status is then 1; when no file could be scored, no output file is written.
 * With -o FILE the lines made so far are also kept in FILE.partial
 * (score_record.h), which --resume continues after an interruption. */
#include "cli/cli.h"
#include "backend/qgemm.h"
#include "models/modelio.h"
#include "models/infer.h"
#include "backend/device.h"
#include "audio/decode.h"
#include "data/list.h"
#include "io/atomic.h"
#include "metrics/calibration.h"
#include "cli/score_record.h"
#include <dirent.h>
#include <omp.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct { char *id, *path; } item;
typedef struct { item *v; int n, cap; } items;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd score -m MODEL [--list FILE [--audio-dir DIR] | AUDIO... | DIR...] [options]\n"
            "Scores audio with a model: one line 'ID SCORE [LABEL]' per file, SCORE = the bona\n"
            "fide logit (higher = more likely genuine), printed with %%.9g. Any format libsndfile\n"
            "reads, any sample rate (resampled to 16 kHz), multi-channel mixed to mono.\n"
            "  -m FILE          model (.safetensors from 'sdd import', or a PyTorch .pth)\n"
            "  --list FILE      list or protocol (plain 'PATH [LABEL]', ASVspoof 2019/2021 protocols\n"
            "                   and keys, ASVspoof 5 protocols, In-the-Wild meta.csv, FoR csv);\n"
            "                   ID = the list's ID column; '-' reads the list from standard input\n"
            "  --audio-dir DIR  folder the list's files are relative to\n"
            "  AUDIO... | DIR   files (ID = the path as given; spaces, control bytes and %% as %%XX)\n"
            "                   or folders (searched recursively); '-' reads standard input\n"
            "                   (ID '-'; e.g. ffmpeg -i clip.mp4 -f wav - | sdd score -m MODEL -)\n"
            "  -o FILE          write scores to FILE (atomically) instead of standard output ('-':\n"
            "                   standard output, the default; ./- for a file named '-'). Until it\n"
            "                   is written, FILE.partial keeps the lines made so far\n"
            "  --resume         continue the interrupted run of the same command (-o FILE): the\n"
            "                   files FILE.partial has scored are not scored again; it must come\n"
            "                   from the same model file, cut, calibration, threshold and device\n"
            "  --cut N          score the first N samples, shorter clips repeated (default: the\n"
            "                   cut the model was trained at, as sdd train stores it, else the\n"
            "                   model's reference length, 64600 for AASIST); only those samples\n"
            "                   are decoded, so a file of any length takes the same memory\n"
            "  --full           score whole files instead; files longer than --window are split\n"
            "                   into equal windows and their scores averaged. The whole file is\n"
            "                   held decoded (4 bytes per 16 kHz sample: 230 MB per hour; a\n"
            "                   file per thread with --parallel utterances)\n"
            "  --window SEC     longest window in --full mode (default 16)\n"
            "  --max-seconds S  --full: files longer than S seconds are refused (default 14400,\n"
            "                   4 hours: at most 0.92 GB of samples)\n"
            "  --threshold T    add a label: bonafide when SCORE >= T, else spoof (default: the\n"
            "                   calibration's Bayes threshold, else the threshold stored in the model)\n"
            "  --calibration F  print calibrated scores: SCORE = a * logit + b, a natural-log likelihood\n"
            "                   ratio (bona fide vs spoof) from 'sdd calibrate', labelled at its Bayes\n"
            "                   threshold (default: the calibration stored in the model, if any)\n"
            "  --no-calibration print raw logits even when the model carries a calibration\n"
            "  --batch N        utterances per forward pass (default 8)\n"
            "  --threads N      threads (default: all cores)\n"
            "  --parallel P     how the CPU threads share the work: utterances (default: each\n"
            "                   thread scores whole files, one at a time, on one core; the\n"
            "                   scores are those of --threads 1, the memory one utterance's\n"
            "                   per thread) or layers (each forward's layers split over the\n"
            "                   threads, as for a single file: more memory, the same scores)\n"
            "  --device D       cpu (default) or cuda (builds made with 'make CUDA=1')\n"
            "  --int8           XLS-R models: the encoder's linear layers in int8 (weights per row,\n"
            "                   activations per frame; CPUs with AMX, or builds with AVX-512 VNNI or\n"
            "                   AVX-VNNI): about 2x faster on the CPU, scores within the quantization of the float32\n"
            "                   ones (a threshold or calibration stored in the model was set on\n"
            "                   float32 scores) (default: float32)\n");
}

/* A path as a score-file ID: one whitespace-free token, so bytes up to
 * space, DEL and '%' are written %XX (percent-encoding, reversible); other
 * bytes, UTF-8 included, stay as they are. NULL when out of memory. */
static char *path_id(const char *path)
{
    const size_t n = strlen(path);
    char *id = malloc(3 * n + 1), *q = id;
    if (!id) return NULL;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '%') q += sprintf(q, "%%%02X", *p);
        else *q++ = (char)*p;
    }
    *q = '\0';
    return id;
}

static void items_free(items *it)
{
    for (int k = 0; k < it->n; k++) { free(it->v[k].id); free(it->v[k].path); }
    free(it->v);
    memset(it, 0, sizeof *it);
}

/* id NULL: the ID is the path, percent-encoded (path_id) */
static int items_add(items *it, const char *id, const char *path)
{
    if (it->n == it->cap) {
        int nc = it->cap ? it->cap * 2 : 64;
        item *nv = realloc(it->v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        it->v = nv;
        it->cap = nc;
    }
    char *cid = id ? strdup(id) : path_id(path);
    char *cpath = strdup(path);
    if (!cid || !cpath) { free(cid); free(cpath); return -1; }
    it->v[it->n].id = cid;
    it->v[it->n].path = cpath;
    it->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sdd_score_pool's loader: file b of a batch, decoded as the batch path does
 * (only the cut without --full) */
typedef struct { const items *it; const int *todo; const sdd_audio_params *ap; } load_arg;

static int load_item(void *arg, int b, float **x, int64_t *n, sdd_err *e)
{
    const load_arg *la = arg;
    return sdd_audio_load_ex(la->it->v[la->todo[b]].path, 16000, la->ap, x, n, NULL, e);
}

/* The folders a scan has entered, by device and inode (open addressing, at
 * most half full): a link back up the tree or a second link to the same
 * folder is entered once, so a link cycle cannot make the scan endless. */
typedef struct { dev_t dev; ino_t ino; int used; } dir_key;
typedef struct { dir_key *v; size_t n, cap; } dir_set;

static size_t dir_slot(const dir_set *s, dev_t dev, ino_t ino)
{
    size_t h = ((size_t)ino * 0x9E3779B97F4A7C15ull ^ (size_t)dev) & (s->cap - 1);
    while (s->v[h].used && (s->v[h].dev != dev || s->v[h].ino != ino)) h = (h + 1) & (s->cap - 1);
    return h;
}

/* 1 when (dev, ino) was not in the set (now it is), 0 when it was, -1 out of memory */
static int dir_set_add(dir_set *s, dev_t dev, ino_t ino)
{
    if (2 * (s->n + 1) > s->cap) {
        dir_set g = { calloc(s->cap ? 2 * s->cap : 64, sizeof(dir_key)), 0, s->cap ? 2 * s->cap : 64 };
        if (!g.v) return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].used) g.v[dir_slot(&g, s->v[i].dev, s->v[i].ino)] = s->v[i];
        g.n = s->n;
        free(s->v);
        *s = g;
    }
    const size_t h = dir_slot(s, dev, ino);
    if (s->v[h].used) return 0;
    s->v[h] = (dir_key){ dev, ino, 1 };
    s->n++;
    return 1;
}

/* Adds the audio files under dir, sorted, recursively. Entries that are not
 * regular files (a FIFO would block the scan, a device never ends) are
 * skipped with a warning; a name that cannot be stat'ed (a dangling link) is
 * kept, so that decoding reports it as the file's error. */
static int walk(items *it, dir_set *seen, const char *dir, int depth)
{
    if (depth > 64) { cli_error("%s: directory nesting too deep", dir); return -1; }
    struct stat ds;
    if (stat(dir, &ds) == 0) {
        const int r = dir_set_add(seen, ds.st_dev, ds.st_ino);
        if (r < 0) { cli_error("out of memory"); return -1; }
        if (r == 0) {
            fprintf(stderr, "sdd: warning: %s: skipped, a folder already scanned (a link to it or a link cycle)\n", dir);
            return 0;
        }
    }
    DIR *d = opendir(dir);
    if (!d) { cli_error("%s: cannot open directory", dir); return -1; }
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, (size_t)cap * sizeof *nn);
            if (!nn) { rc = -1; break; }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            size_t L = strlen(dir) + strlen(names[i]) + 2;
            char *p = malloc(L);
            if (!p) rc = -1;
            else {
                snprintf(p, L, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
                struct stat st;
                const int ok = stat(p, &st) == 0;
                if (ok && S_ISDIR(st.st_mode)) rc = walk(it, seen, p, depth + 1);
                else if (sdd_audio_is_audio_path(p)) {
                    if (!ok || S_ISREG(st.st_mode)) rc = items_add(it, NULL, p);
                    else fprintf(stderr, "sdd: warning: %s: skipped, not a regular file\n", p);
                }
                free(p);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The first ID given twice (files named twice, or a folder and a file in it), or NULL */
static const char *dup_id(const items *it)
{
    if (it->n < 2) return NULL;
    const char **ids = malloc((size_t)it->n * sizeof *ids);
    if (!ids) return NULL;
    for (int k = 0; k < it->n; k++) ids[k] = it->v[k].id;
    qsort(ids, (size_t)it->n, sizeof *ids, cmp_str);
    const char *d = NULL;
    for (int k = 1; k < it->n && !d; k++)
        if (!strcmp(ids[k - 1], ids[k])) d = ids[k];
    free(ids);
    return d;
}

/* A record's settings (see score_record.h): the model (its full path, size
 * and modification time, so that a model retrained in place is not taken for
 * the same), the calibration, the device, the cut (or --full's window) and
 * the threshold; control bytes as '?' so that the settings stay one line. */
static void record_settings(char *s, size_t n, const char *model, const char *calfile, int have_cal, const char *device,
                            int full, double window_s, int64_t L, int have_thr, double thr)
{
    char mp[PATH_MAX], cp[PATH_MAX];
    struct stat st;
    if (!realpath(model, mp)) snprintf(mp, sizeof mp, "%s", model);
    long long size = -1, sec = 0, nsec = 0;
    if (stat(model, &st) == 0) { size = (long long)st.st_size; sec = (long long)st.st_mtim.tv_sec; nsec = st.st_mtim.tv_nsec; }
    if (calfile && !realpath(calfile, cp)) snprintf(cp, sizeof cp, "%s", calfile);
    char how[64], thrs[40];
    if (full) snprintf(how, sizeof how, "whole files in windows of %g s", window_s);
    else snprintf(how, sizeof how, "cut %lld", (long long)L);
    if (have_thr) snprintf(thrs, sizeof thrs, "%.9g", thr);
    else snprintf(thrs, sizeof thrs, "none");
    snprintf(s, n, "model %s (%lld bytes, modified %lld.%09lld); calibration %s; device %s; %s; threshold %s", mp, size, sec,
             nsec, calfile ? cp : have_cal ? "the model's" : "none", device, how, thrs);
    for (char *q = s; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
}

int cmd_score(int argc, char **argv)
{
    const char *model = NULL, *list = NULL, *adir = NULL, *out = NULL, *device = "cpu";
    long cut = 0, batch = 8, threads = 0;
    double window_s = 16.0, thr = 0.0, max_seconds = 0.0;
    int full = 0, have_thr = 0, no_cal = 0, have_window = 0, resume = 0, int8 = 0;
    const char *calfile = NULL, *parallel = "utterances";
    items it = { 0 };
    char **pos = calloc((size_t)argc, sizeof *pos);
    int npos = 0, stdin_seen = 0;
    if (!pos) { cli_error("out of memory"); return SDD_EXIT_ERROR; }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(pos); return SDD_EXIT_OK; }
#define NEED(var, what) do { if (!((var) = cli_value(argc, argv, &i))) { free(pos); return cli_usage_error("score", "%s needs %s", a, what); } } while (0)
        if (!strcmp(a, "-m")) NEED(model, "a model file");
        else if (!strcmp(a, "--list")) NEED(list, "a file");
        else if (!strcmp(a, "--audio-dir")) NEED(adir, "a folder");
        else if (!strcmp(a, "-o")) NEED(out, "a file");
        else if (!strcmp(a, "--device")) NEED(device, "cpu or cuda");
        else if (!strcmp(a, "--parallel")) NEED(parallel, "utterances or layers");
        else if (!strcmp(a, "--full")) full = 1;
        else if (!strcmp(a, "--int8")) int8 = 1;
        else if (!strcmp(a, "--calibration")) NEED(calfile, "a calibration file");
        else if (!strcmp(a, "--no-calibration")) no_cal = 1;
        else if (!strcmp(a, "--resume")) resume = 1;
        else if (!strcmp(a, "--cut")) { NEED(v, "a number"); if (cli_parse_int(v, 1, 1L << 30, &cut)) { free(pos); return cli_usage_error("score", "--cut: '%s' is not a number of samples in 1..1073741824", v); } }
        else if (!strcmp(a, "--batch")) { NEED(v, "a number"); if (cli_parse_int(v, 1, 4096, &batch)) { free(pos); return cli_usage_error("score", "--batch: '%s' is not in 1..4096", v); } }
        else if (!strcmp(a, "--threads")) { NEED(v, "a number"); if (cli_parse_int(v, 1, 1024, &threads)) { free(pos); return cli_usage_error("score", "--threads: '%s' is not in 1..1024", v); } }
        else if (!strcmp(a, "--window")) { NEED(v, "seconds"); have_window = 1; if (cli_parse_double(v, &window_s) || window_s <= 0) { free(pos); return cli_usage_error("score", "--window: '%s' is not a positive number", v); } }
        else if (!strcmp(a, "--max-seconds")) { NEED(v, "seconds"); if (cli_parse_double(v, &max_seconds) || !(max_seconds > 0) || max_seconds > 1e7) { free(pos); return cli_usage_error("score", "--max-seconds: '%s' is not a number of seconds in (0, 1e7]", v); } }
        else if (!strcmp(a, "--threshold")) { NEED(v, "a number"); if (cli_parse_double(v, &thr)) { free(pos); return cli_usage_error("score", "--threshold: '%s' is not a number", v); } have_thr = 1; }
        else if (a[0] == '-' && a[1]) { free(pos); return cli_usage_error("score", "unknown option %s", a); }
        else {
            if (!strcmp(a, "-") && stdin_seen++) { free(pos); return cli_usage_error("score", "'-' (standard input) given twice"); }
            pos[npos++] = argv[i];
        }
#undef NEED
    }
    if (!model) { free(pos); return cli_usage_error("score", "no model given (-m MODEL)"); }
    if (!list && npos == 0) { free(pos); return cli_usage_error("score", "nothing to score: give --list FILE, audio files or folders"); }
    if (list && npos) { free(pos); return cli_usage_error("score", "give either --list or audio files/folders, not both"); }
    /* -o must not replace an input: the model, the list, the calibration, a named audio file */
    cli_file *ins = malloc((size_t)(npos + 3) * sizeof *ins);
    if (!ins) { free(pos); cli_error("out of memory"); return SDD_EXIT_ERROR; }
    ins[0] = (cli_file){ "-m", model };
    ins[1] = (cli_file){ "--list", list };
    ins[2] = (cli_file){ "--calibration", calfile };
    /* '-' is standard input, no file: it is no output's input */
    for (int k = 0; k < npos; k++) ins[3 + k] = (cli_file){ "the input", cli_is_dash(pos[k]) ? NULL : pos[k] };
    if (cli_is_dash(out)) out = NULL;   /* standard output, the default */
    const cli_file outs[] = { { "-o", out } };
    const int clash = cli_check_outputs("score", outs, 1, ins, npos + 3);
    free(ins);
    if (clash || cli_refuse_stdin("score", "-m", model, "a model") ||
        cli_refuse_stdin("score", "--calibration", calfile, "a calibration")) {
        free(pos);
        return SDD_EXIT_USAGE;
    }
    if (resume && !out) { free(pos); return cli_usage_error("score", "--resume needs -o FILE (standard output keeps no record to resume)"); }
    if (full && cut) { free(pos); return cli_usage_error("score", "--cut and --full exclude each other"); }
    if (have_window && !full) { free(pos); return cli_usage_error("score", "--window applies to --full only"); }
    if (max_seconds > 0 && !full) { free(pos); return cli_usage_error("score", "--max-seconds applies to --full only (without it, only the cut is decoded)"); }
    if (adir && !list) { free(pos); return cli_usage_error("score", "--audio-dir applies to --list only"); }
    if (calfile && no_cal) { free(pos); return cli_usage_error("score", "--calibration and --no-calibration exclude each other"); }
    if (strcmp(parallel, "utterances") && strcmp(parallel, "layers")) { free(pos); return cli_usage_error("score", "--parallel: '%s' is not utterances or layers", parallel); }
    cli_set_threads(threads);

    sdd_err e;
    int dev;
    if (sdd_device_parse(device, &dev, &e)) { free(pos); return cli_usage_error("score", "--device: %s", e.msg); }
    if (int8 && dev != SDD_DEV_CPU) { free(pos); return cli_usage_error("score", "--int8 applies to --device cpu"); }
    if (int8 && sdd_q8_fast_check(&e)) {
        cli_error("--int8: %s", e.msg);
        free(pos);
        return SDD_EXIT_ERROR;
    }
    /* before any file is read: a missing device is the whole command's error */
    if (sdd_device_check(dev, NULL, 0, &e)) { cli_error("--device %s: %s", device, e.msg); free(pos); return SDD_EXIT_ERROR; }
    int status = SDD_EXIT_OK, have_cal = 0;
    sdd_calibration cal;
    if (calfile) {
        if (sdd_calibration_load(calfile, &cal, &e)) { cli_error("%s", e.msg); free(pos); return SDD_EXIT_ERROR; }
        if (cal.k != 1) { cli_error("%s: a fusion of %d systems, not a calibration (apply it with sdd fuse --apply)", calfile, cal.k); free(pos); return SDD_EXIT_ERROR; }
        have_cal = 1;
    }
    if (list) {
        sdd_list l;
        if (sdd_list_load(list, adir, &l, &e)) { cli_error("%s", e.msg); free(pos); return SDD_EXIT_ERROR; }
        for (int k = 0; k < l.n; k++)
            if (items_add(&it, l.items[k].id, l.items[k].path)) { cli_error("out of memory"); status = SDD_EXIT_ERROR; break; }
        sdd_list_free(&l);
    } else {
        for (int k = 0; k < npos && status == SDD_EXIT_OK; k++) {
            struct stat st;
            if (!strcmp(pos[k], "-")) {
                if (items_add(&it, "-", "/dev/stdin")) { cli_error("out of memory"); status = SDD_EXIT_ERROR; }
            } else if (stat(pos[k], &st) == 0 && S_ISDIR(st.st_mode)) {
                int before = it.n;
                dir_set seen = { 0 };
                if (walk(&it, &seen, pos[k], 0)) status = SDD_EXIT_ERROR;
                else if (it.n == before) { cli_error("%s: no audio files found", pos[k]); status = SDD_EXIT_ERROR; }
                free(seen.v);
            } else if (items_add(&it, NULL, pos[k])) { cli_error("out of memory"); status = SDD_EXIT_ERROR; }
        }
        const char *d = status == SDD_EXIT_OK ? dup_id(&it) : NULL;
        if (d) {
            cli_usage_error("score", "%s is given twice (IDs must be unique)", d);
            status = SDD_EXIT_USAGE;
        }
    }
    free(pos);
    sdd_model *m = status == SDD_EXIT_OK ? sdd_model_load(model, NULL, &e) : NULL;
    if (status == SDD_EXIT_OK && !m) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; }
    if (m && int8) {
        int nlin = 0;
        if (sdd_model_quantize_int8(m, &nlin, &e)) { cli_error("--int8: %s: %s", model, e.msg); status = SDD_EXIT_ERROR; }
        else fprintf(stderr, "sdd score: int8 inference: %d linear layers of the XLS-R encoder quantized (%s)\n", nlin,
                     sdd_q8_fast());
    }
    sdd_afile *af = NULL;
    FILE *fo = stdout;
    score_record rec;
    memset(&rec, 0, sizeof rec);   /* closed on every path below, opened or not */
    /* -o FILE (a file, not a device): FILE.partial records the lines made so
     * far, and FILE is opened only to be written at the end (so a killed run
     * leaves no temporary file); the record's creation checks the folder first */
    struct stat ost;
    const int use_rec = out && (stat(out, &ost) != 0 || S_ISREG(ost.st_mode));
    if (m && out && !use_rec) {
        if (!(af = sdd_afile_open(out, &e))) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; }
        else fo = sdd_afile_fp(af);
    }
    /* every refusal from here to the scoring loop ends at `refused` */
    if (status != SDD_EXIT_OK) goto refused;
    if (!have_cal && !no_cal && m->calibration[0]) {
        if (sdd_calibration_parse(m->calibration, strlen(m->calibration), model, &cal, &e)) {
            cli_error("%s", e.msg);
            status = SDD_EXIT_ERROR;
            goto refused;
        }
        have_cal = 1;
    }
    /* a label from the model's own threshold or calibration: found on scores at the model's cut */
    const int model_thr = !have_thr && ((have_cal && !calfile) || (!have_cal && m->has_threshold));
    if (!have_thr && have_cal) { thr = cal.threshold; have_thr = 1; }
    if (!have_thr && !have_cal && m->has_threshold) { thr = m->threshold; have_thr = 1; }
    const int64_t L = cut ? cut : sdd_model_cut(m);
    if (model_thr && (full || L != sdd_model_cut(m))) {
        char how[64];
        if (full) snprintf(how, sizeof how, "whole files (--full)");
        else snprintf(how, sizeof how, "--cut %lld", (long long)L);
        fprintf(stderr, "sdd: warning: %s: its %s was set on scores at a cut of %lld samples; scoring %s, a label may "
                "fall on the wrong side of it (give --threshold T, or score at the model's cut)\n", model,
                have_cal ? "calibration" : "threshold", (long long)sdd_model_cut(m), how);
    }
    if (!full && L < m->min_samples) {
        cli_error("--cut %lld is shorter than %s's minimum input of %d samples", (long long)L, m->arch, m->min_samples);
        status = SDD_EXIT_ERROR;
        goto refused;
    }
    if (resume && !use_rec) {
        cli_error("--resume: %s is not a regular file, so no record of an interrupted run is kept for it", out);
        status = SDD_EXIT_ERROR;
    }
    if (status == SDD_EXIT_OK && use_rec) {
        char settings[3 * PATH_MAX];
        record_settings(settings, sizeof settings, model, calfile, have_cal, device, full, window_s, L, have_thr, thr);
        char **ids = malloc((size_t)(it.n ? it.n : 1) * sizeof *ids);
        if (!ids) { cli_error("out of memory"); status = SDD_EXIT_ERROR; }
        for (int k = 0; ids && k < it.n; k++) ids[k] = it.v[k].id;
        if (ids) status = score_record_open(&rec, out, settings, ids, it.n, resume);
        free(ids);
    }
refused:
    if (status != SDD_EXIT_OK) {
        score_record_close(&rec, 0);
        items_free(&it);
        sdd_model_free(m);
        if (af) sdd_afile_abort(af);
        return status;
    }
    /* Per-utterance threads (sdd_score_pool) on a CPU with 2+ threads, for
     * every batch of a run of 2+ files (by the run's inputs, not what is left
     * to score: a resumed run scores as the first did), in rounds of at least
     * one file per thread. Its scores are those of a forward whose layers
     * are split over the threads (one file, --parallel layers), bit for bit:
     * every op's result is independent of the thread count (sdd_sgemm). */
    const int nthr = omp_get_max_threads();
    sdd_score_pool *pool = NULL;
    if (status == SDD_EXIT_OK && dev == SDD_DEV_CPU && nthr >= 2 && it.n >= 2 && !strcmp(parallel, "utterances") &&
        !(pool = sdd_score_pool_new(m, nthr, &e))) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; }
    const int B = pool ? (batch > nthr ? (int)batch : nthr) : full ? 1 : (int)batch;
    /* the memory bound: without --full only the L samples scored are decoded */
    sdd_audio_params ap;
    sdd_audio_default_params(&ap);
    if (full && max_seconds > 0) ap.max_seconds = max_seconds;
    if (!full) ap.head = L;
    float *wave = pool ? NULL : malloc((size_t)B * L * sizeof(float));
    float *scores = malloc((size_t)B * sizeof(float));
    int *ok = malloc((size_t)B * sizeof(int));
    char (*errs)[sizeof e.msg] = malloc((size_t)B * sizeof *errs);
    double *pscore = pool ? malloc((size_t)B * sizeof *pscore) : NULL;
    int *pstat = pool ? malloc((size_t)B * sizeof *pstat) : NULL;
    sdd_err *perr = pool ? malloc((size_t)B * sizeof *perr) : NULL;
    sdd_ctx c;
    sdd_ctx_init(&c, &m->params);
    if (status == SDD_EXIT_OK && sdd_ctx_set_device(&c, dev, &e)) { cli_error("--device %s: %s", device, e.msg); status = SDD_EXIT_ERROR; }
    /* the inputs still to score (with --resume, those the record lacks), in input order */
    int *todo = malloc((size_t)(it.n ? it.n : 1) * sizeof *todo), ntodo = 0;
    for (int k = 0; todo && k < it.n; k++)
        if (!use_rec || !rec.line[k]) todo[ntodo++] = k;
    cli_progress pr;
    cli_progress_start(&pr, ntodo);
    int nbad = 0, stdout_failed = 0, nlines = rec.resumed;
    if ((!pool && !wave) || !scores || !ok || !errs || !todo || (pool && (!pscore || !pstat || !perr))) { cli_error("out of memory for batch %d", B); status = SDD_EXIT_ERROR; }
    for (int k0 = 0; k0 < ntodo && status == SDD_EXIT_OK; k0 += B) {
        const int nb = ntodo - k0 < B ? ntodo - k0 : B;
        float *full_x[1] = { NULL };
        int64_t full_n = 0;
        int ng = 0, idx[4096], rc = 0;
        if (pool) {
            /* each thread decodes and scores whole files, one at a time */
            const load_arg la = { &it, todo + k0, &ap };
            sdd_score_pool_run(pool, nb, load_item, (void *)&la, full ? 0 : L, sdd_window_samples(window_s), pscore, pstat, perr);
            for (int b = 0; b < nb; b++) {
                if (pstat[b] == SDD_ITEM_LOAD_FAILED) { cli_error_input(perr[b].msg); nbad++; }
                else if (pstat[b] == SDD_ITEM_SCORE_FAILED && !rc) {
                    /* as a batch forward's failure: the run's error, no line of this batch */
                    cli_error("%s: %s", it.v[todo[k0 + b]].path, perr[b].msg);
                    status = SDD_EXIT_ERROR;
                    rc = -1;
                } else if (pstat[b] == SDD_ITEM_SCORED) { scores[ng] = (float)pscore[b]; idx[ng++] = b; }
            }
        } else {
            /* decode the batch's files in parallel */
            #pragma omp parallel for schedule(dynamic, 1)
            for (int b = 0; b < nb; b++) {
                float *x = NULL;
                int64_t n = 0;
                sdd_err de;
                ok[b] = sdd_audio_load_ex(it.v[todo[k0 + b]].path, 16000, &ap, &x, &n, NULL, &de) == 0;
                if (!ok[b]) { memcpy(errs[b], de.msg, sizeof de.msg); continue; }
                if (full) { full_x[0] = x; full_n = n; continue; }
                sdd_cut_repeat(x, n, L, wave + (size_t)b * L);
                free(x);
            }
            /* failed files are scored as zeros and dropped; compact the good ones */
            for (int b = 0; b < nb; b++) {
                if (!ok[b]) { cli_error_input(errs[b]); nbad++; continue; }
                if (!full && ng != b) memcpy(wave + (size_t)ng * L, wave + (size_t)b * L, (size_t)L * sizeof(float));
                idx[ng++] = b;
            }
            if (ng > 0) {
                if (full) {
                    double s = 0.0;
                    rc = sdd_score_full(m, &c, full_x[0], full_n, sdd_window_samples(window_s), &s, &e);
                    scores[0] = (float)s;
                } else rc = sdd_score_batch(m, &c, wave, ng, L, scores, NULL, &e);
                if (rc) { cli_error("%s: %s", it.v[todo[k0 + idx[0]]].path, e.msg); status = SDD_EXIT_ERROR; }
            }
        }
        if (ng > 0) {
            for (int g = 0; g < ng && rc == 0; g++) {
                const int k = todo[k0 + idx[g]];
                const item *itm = &it.v[k];
                /* finite samples far outside [-1, 1] (a float WAV of 1e20s) overflow the model */
                if (!isfinite(scores[g])) {
                    cli_error("%s: the model's score is not finite: the samples are far outside [-1, 1]", itm->path);
                    nbad++;
                    continue;
                }
                if (have_cal) {
                    const double x = scores[g];
                    scores[g] = (float)sdd_calibration_apply(&cal, &x);
                    if (!isfinite(scores[g])) {
                        cli_error("%s: calibrated score of %.9g is not finite (calibration %s)", itm->path, x,
                                  calfile ? calfile : model);
                        nbad++;
                        continue;
                    }
                }
                char lab[16] = "";
                if (have_thr) snprintf(lab, sizeof lab, " %s", scores[g] >= thr ? "bonafide" : "spoof");
                nlines++;
                if (!use_rec) { fprintf(fo, "%s %.9g%s\n", itm->id, scores[g], lab); continue; }
                /* the line is kept (written in input order at the end) and recorded now */
                char *line = NULL;
                if (asprintf(&line, "%s %.9g%s", itm->id, scores[g], lab) < 0) {
                    cli_error("out of memory");
                    status = SDD_EXIT_ERROR;
                } else score_record_put(&rec, k, line);
            }
            /* a failed write to standard output (a full disk) ends the run: main says why */
            if (fo == stdout && cli_stdout_error()) { status = SDD_EXIT_ERROR; stdout_failed = 1; }
        }
        if (use_rec && status == SDD_EXIT_OK && score_record_flush(&rec)) status = SDD_EXIT_ERROR;
        free(full_x[0]);
        cli_progress_update(&pr, k0 + nb);
    }
    cli_progress_end(&pr);
    int committed = 0;
    if (use_rec && status == SDD_EXIT_OK && nlines > 0) {
        if (!(af = sdd_afile_open(out, &e))) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; }
        else score_record_write(&rec, sdd_afile_fp(af));
    }
    if (af) {
        /* nothing scored: no output file rather than an empty one */
        if (status == SDD_EXIT_OK && nlines > 0) {
            if (sdd_afile_commit(af, &e)) { cli_error("%s", e.msg); status = SDD_EXIT_ERROR; }
            else committed = 1;
        } else sdd_afile_abort(af);
    }
    /* the record goes once the output is written (or when it holds nothing); else it is kept for --resume */
    if (use_rec && !committed && nlines > 0)
        fprintf(stderr, "sdd score: %s keeps the %d scores made so far: the same command with --resume continues\n", rec.path, nlines);
    score_record_close(&rec, committed || nlines == 0);
    free(todo);
    if (nbad && !stdout_failed) {
        fprintf(stderr, "sdd: %d of %d files could not be scored\n", nbad, it.n);
        status = SDD_EXIT_ERROR;
    }
    sdd_ctx_free(&c);
    sdd_score_pool_free(pool);
    free(pscore); free(pstat); free(perr);
    free(wave); free(scores); free(ok); free(errs);
    items_free(&it);
    sdd_model_free(m);
    return status;
}
