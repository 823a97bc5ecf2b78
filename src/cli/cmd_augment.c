/* `sdd augment`: applies one RawBoost algorithm to one audio file and writes
 * the result (16-bit WAV or FLAC, atomically; OUT '-' sends a 16-bit WAV to
 * standard output, written to a private temporary file first so that the
 * bytes are those of OUT.wav). The random stream key is
 * sdd_rng_key(seed, 0, 0, 0), so the same seed, algorithm and parameters give
 * the same output on any machine and thread count. Like the reference, the
 * output is not normalised beyond what the algorithm does; samples outside
 * [-1, 1] are clipped by the 16-bit writer and reported as a warning. */
#include "cli/cli.h"
#include "audio/decode.h"
#include "audio/encode.h"
#include "audio/rawboost.h"
#include "core/rng.h"
#include "core/str.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sdd augment --algo N [--seed S] [--rb-<param> V ...] IN OUT\n"
            "Applies RawBoost (Tak et al., ICASSP 2022; the SSL_Anti-spoofing / dpda_ga\n"
            "reference algorithms) to the audio file IN ('-': standard input) and writes OUT.\n"
            "IN may be any format libsndfile reads (mixed to mono, resampled to 16 kHz); OUT\n"
            "is 16-bit PCM, WAV or FLAC by its extension, written atomically; OUT '-' writes\n"
            "the WAV to standard output (sdd augment --algo 4 in.flac - | play -; ./- for a\n"
            "file named '-'). The output is not normalised beyond what the algorithm does;\n"
            "samples outside [-1, 1] are clipped with a warning.\n"
            "  --algo N       0 none (copy), 1 LnL convolutive noise, 2 ISD impulsive noise,\n"
            "                 3 SSI coloured additive noise, 4 = 1+2+3 in series (dpda_ga's\n"
            "                 default), 5 = 1+2, 6 = 1+3, 7 = 2+3, 8 = 1 and 2 in parallel\n"
            "  --seed S       random seed, 0..2^63-1 (default 0); the stream key is\n"
            "                 sdd_rng_key(S, 0, 0, 0), so a seed always gives the same output\n"
            "  --threads N    threads (default: all cores; the output does not depend on it)\n"
            "%s",
            sdd_rawboost_flags_help());
}

int cmd_augment(int argc, char **argv)
{
    sdd_rawboost_params rp;
    sdd_rawboost_default_params(&rp);
    long algo = -1, seed = 0, threads = 0;
    const char *pos[2] = { NULL, NULL };
    int npos = 0;
    sdd_err e;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return SDD_EXIT_OK; }
        int r = sdd_rawboost_parse_flag(&rp, a, i + 1 < argc ? argv[i + 1] : NULL, &e);
        if (r < 0) return cli_usage_error("augment", "%s", e.msg);
        if (r > 0) { i++; continue; }
        if (!strcmp(a, "--algo")) {
            if (!(v = cli_value(argc, argv, &i))) return cli_usage_error("augment", "--algo needs a number");
            if (cli_parse_int(v, 0, SDD_RAWBOOST_NALGO - 1, &algo))
                return cli_usage_error("augment", "--algo: '%s' is not an algorithm (0..%d)", v, SDD_RAWBOOST_NALGO - 1);
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(argc, argv, &i))) return cli_usage_error("augment", "--seed needs a number");
            if (cli_parse_int(v, 0, 0x7fffffffffffffffL, &seed))
                return cli_usage_error("augment", "--seed: '%s' is not a non-negative integer", v);
        } else if (!strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i))) return cli_usage_error("augment", "--threads needs a number");
            if (cli_parse_int(v, 1, 1024, &threads))
                return cli_usage_error("augment", "--threads: '%s' is not in 1..1024", v);
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("augment", "unknown option %s", a);
        } else {
            if (npos == 2) return cli_usage_error("augment", "too many arguments ('%s'): give IN and OUT", a);
            pos[npos++] = a;
        }
    }
    if (algo < 0) return cli_usage_error("augment", "no algorithm given (--algo N, 0..8)");
    if (npos < 2) return cli_usage_error("augment", "give an input and an output file (IN OUT)");
    if (sdd_rawboost_check_params(&rp, &e)) return cli_usage_error("augment", "%s", e.msg);
    const int to_stdout = cli_is_dash(pos[1]);
    if (!to_stdout && !sdd_str_ends_with_nocase(pos[1], ".wav") && !sdd_str_ends_with_nocase(pos[1], ".flac"))
        return cli_usage_error("augment", "%s: OUT must end in .wav or .flac, or be '-' (a WAV on standard output)", pos[1]);
    /* '-' in is standard input and '-' out standard output: no file to compare */
    const cli_file ins[] = { { "IN", cli_is_dash(pos[0]) ? NULL : pos[0] } },
                   outs[] = { { "OUT", to_stdout ? NULL : pos[1] } };
    if (cli_check_outputs("augment", outs, 1, ins, 1)) return SDD_EXIT_USAGE;
    cli_set_threads(threads);

    float *x = NULL;
    int64_t n = 0;
    if (sdd_audio_load(strcmp(pos[0], "-") ? pos[0] : "/dev/stdin", rp.fs, &x, &n, NULL, &e)) { cli_error_input(e.msg); return SDD_EXIT_ERROR; }
    const uint64_t key = sdd_rng_key((uint64_t)seed, 0, 0, 0);
    if (sdd_rawboost_apply((int)algo, x, n, x, &rp, key, &e)) {
        cli_error("%s: %s", pos[0], e.msg);
        free(x);
        return SDD_EXIT_ERROR;
    }
    int64_t clipped = 0;
    /* the encoder writes a path (it seeks back to finish the header): for
     * '-', a temporary WAV that is then copied to standard output */
    cli_tmpout t = { .open = 0 };
    if (to_stdout && cli_tmpout_open(&t, "augment.wav")) { free(x); return SDD_EXIT_ERROR; }
    int rc = sdd_audio_save_ex(to_stdout ? t.path : pos[1], x, n, rp.fs, &clipped, &e);
    free(x);
    if (rc) { cli_error("%s", e.msg); cli_tmpout_close(&t); return SDD_EXIT_ERROR; }
    if (clipped > 0)
        fprintf(stderr, "sdd: warning: %s: %lld of %lld samples were outside [-1, 1] and were clipped\n",
                to_stdout ? "standard output" : pos[1], (long long)clipped, (long long)n);
    if (to_stdout) rc = cli_tmpout_send(&t);
    cli_tmpout_close(&t);
    return rc ? SDD_EXIT_ERROR : SDD_EXIT_OK;
}
