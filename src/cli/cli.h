/* Shared helpers of the sdd subcommands: option parsing with usage errors
 * (exit status 2), user-facing errors (one line "sdd: ...", exit status 1),
 * thread setup and a TTY-only progress bar. */
#ifndef SDD_CLI_CLI_H
#define SDD_CLI_CLI_H
#include "metrics/calibration.h"
#include "metrics/bootstrap.h"
#include "metrics/evaluate.h"
#include <stdint.h>

#define SDD_EXIT_OK 0
#define SDD_EXIT_ERROR 1
#define SDD_EXIT_USAGE 2

int cmd_import(int argc, char **argv);
int cmd_average(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_augment(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_fuse(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_landscape(int argc, char **argv);
int cmd_corpus(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Prints "sdd: <msg>" to stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Prints "sdd CMD: <msg>" and a hint to run --help; returns SDD_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Strict number parsing: the whole string must be a number in [lo, hi]. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
/* 1 when OUT, an output about to be replaced, is the same existing file
 * (device and inode, so also through a link or another spelling) as IN, an
 * input of the same command; when neither exists yet (two outputs), when
 * both name the same entry of the same folder (./r.svg and r.svg); else 0.
 * Commands refuse such an -o as a usage error instead of overwriting their
 * input. NULLs give 0. */
int cli_same_file(const char *out, const char *in);
/* A file a command names: the option or role that names it ("--key", "the
 * input") and its path (NULL: not given). */
typedef struct { const char *opt, *path; } cli_file;
/* 0 when no output is the same file as an input or as another output (see
 * cli_same_file); else prints the usage error "sdd CMD: OPT PATH is the same
 * file as OPT PATH: it would be overwritten" (or "OPT and OPT name the same
 * file PATH") and returns SDD_EXIT_USAGE. '-' is never taken for a file here:
 * an input '-' is standard input and is skipped; an output '-' is a usage
 * error (cli_refuse_stdout, "this output"), so the commands that write that
 * output to standard output give it as NULL. */
int cli_check_outputs(const char *cmd, const cli_file *outs, int nout, const cli_file *ins, int nin);
/* Standard input is one stream: 0 when at most one of INS is '-'; else the
 * usage error "sdd CMD: OPT1 - and OPT2 -: standard input can be only one of
 * them; give the other a file name", SDD_EXIT_USAGE. For the text inputs
 * that read '-' as standard input (lists, keys, score files: see
 * sdd_lines_open) and audio. */
int cli_one_stdin(const char *cmd, const cli_file *ins, int nin);
/* 0 unless PATH is '-'; then the usage error "sdd CMD: OPT -: standard input
 * cannot give WHAT; give a file name (./- for a file named '-')",
 * SDD_EXIT_USAGE. For inputs that only a file can give (a model, a
 * calibration, NumPy coefficients), so that '-' is not taken for a file
 * named '-' by one option and for standard input by its neighbour. */
int cli_refuse_stdin(const char *cmd, const char *opt, const char *path, const char *what);

/* 1 when PATH is '-' (standard output as an output, standard input as an
 * audio or text input), else 0. */
int cli_is_dash(const char *path);
/* 0 unless PATH is '-'; then prints the usage error "sdd CMD: OPT -: WHAT
 * cannot go to standard output; give a file name (./- for a file named '-')"
 * and returns SDD_EXIT_USAGE. WHAT says why, e.g. "a model file". */
int cli_refuse_stdout(const char *cmd, const char *opt, const char *path, const char *what);
/* 0 unless both outputs are '-'; then the usage error "sdd CMD: OPT1 - and
 * OPT2 -: only one output can go to standard output; give the other a file
 * name", SDD_EXIT_USAGE. */
int cli_one_stdout(const char *cmd, const char *opt1, const char *path1, const char *opt2, const char *path2);

/* An output that a library writer takes as a path (the audio encoder) sent
 * to standard output: cli_tmpout_open makes a
 * private folder (in $TMPDIR, else /tmp) and gives in path the file NAME in
 * it for the writer; cli_tmpout_send then copies that file to stdout, after
 * removing it and the folder (so a copy killed by SIGPIPE leaves nothing);
 * cli_tmpout_close removes whatever is left (after a failure, or always:
 * it is idempotent). */
typedef struct { char dir[1024], path[1100]; int open; } cli_tmpout;
/* 0, or SDD_EXIT_ERROR with the reason printed. */
int cli_tmpout_open(cli_tmpout *t, const char *name);
/* 0; SDD_EXIT_ERROR when the file cannot be read (printed) or stdout took
 * it only in part (left for the caller of cli_stdout_error to print, as
 * every failed write to stdout). */
int cli_tmpout_send(cli_tmpout *t);
void cli_tmpout_close(cli_tmpout *t);

/* A calibration or fusion (metrics/calibration.h; trained_on a json_t * or
 * NULL) to OUT, atomically, or for '-' its same bytes to standard output.
 * SDD_EXIT_OK, or SDD_EXIT_ERROR with the reason printed (a failed write to
 * stdout: left for main to print, as every failed write there). */
int cli_save_calibration(const char *out, const sdd_calibration *c, const char *const *inputs, const void *trained_on);

/* A file error for audio read from standard input ('-', opened as
 * /dev/stdin): msg with its leading "/dev/stdin" named "- (standard input)";
 * any other msg as it is. */
void cli_error_input(const char *msg);
/* Option value: argv[*i + 1] if present (advances *i), else NULL. */
const char *cli_value(int argc, char **argv, int *i);
/* The bootstrap options of sdd eval and sdd compare: V of OPT (--ci N,
 * --ci-level P, --ci-seed S) into bp; 0, or the usage error's status (2)
 * after printing it for CMD. */
int cli_parse_boot(const char *cmd, const char *opt, const char *v, sdd_boot_params *bp);
/* The ASV side of the min t-DCF, shared by sdd eval and sdd compare:
 * --asv-scores FILE, --asv-key FILE, --asv-c012 FILE, --asv-rates asvspoof5,
 * --tdcf 2019|2021. cli_asv_option: what OPT's value must be ("a file",
 * ...), or NULL when OPT is none of them; cli_parse_asv: V of OPT into o;
 * cli_check_asv: the combinations (--asv-key needs --asv-scores, ...).
 * 0, or the usage error's status (2) after printing it for CMD. */
const char *cli_asv_option(const char *opt);
int cli_parse_asv(const char *cmd, const char *opt, const char *v, sdd_eval_opts *o);
int cli_check_asv(const char *cmd, const sdd_eval_opts *o);
/* One output of a command: write(f, ctx, e) into PATH written atomically
 * (a temp file renamed on success, removed on failure), or into standard
 * output for '-'. SDD_EXIT_OK, or SDD_EXIT_ERROR after printing one line:
 * the write's reason after PATH (or "standard output"), or the file's. */
int cli_write_output(const char *path, int (*write)(FILE *f, void *ctx, sdd_err *e), void *ctx);
/* fflush(stdout), remembering why the first failed flush failed. Standard
 * output is not written atomically: a command that writes its data there
 * stops at the first failed write (cli_stdout_error) and exits 1, and main
 * prints the one line "sdd: standard output: write failed: REASON". A closed
 * pipe (sdd score ... | head -1) ends the process by SIGPIPE, silently, as
 * other Unix tools; where SIGPIPE is ignored, the write fails with EPIPE and
 * is reported as above. */
void cli_flush_stdout(void);
/* Flushes stdout; 0 when everything written to it arrived, else the errno of
 * the first failure (EIO when unknown). */
int cli_stdout_error(void);
/* Sets OpenMP/OpenBLAS threads (n <= 0: all cores). */
void cli_set_threads(long n);

/* Progress on stderr, drawn only when stderr is a terminal. */
typedef struct { int64_t total; int tty; double t0; } cli_progress;
void cli_progress_start(cli_progress *p, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_end(cli_progress *p);

#endif
