/* libFuzzer target for the audio decoder: any bytes go through
 * sdd_audio_load_mem (libsndfile virtual I/O, mixing, NaN checks, soxr
 * resampling to 16 kHz), half of them with a head (the cut-scoring decode:
 * only the first samples kept). Checks the contract: success gives n > 0
 * finite samples, at most the head; failure gives one line naming the input
 * and no buffer. The same bytes go through sdd_audio_probe_mem, which must
 * pass whatever decodes and fail only with the decode's own message. */
#include "audio/decode.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Leaks inside third-party decoders on malformed input (libvorbis headers
 * left allocated when libsndfile's Ogg/Vorbis open fails; libsndfile issue
 * #922) are not ours to fix; keep LeakSanitizer quiet about those only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:vorbis_info_init\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdd_audio_params p;
    sdd_audio_default_params(&p);
    p.max_seconds = 10; /* keeps each input fast */
    /* odd sizes: a head of 1..4096 samples, from the size (the data stay the file) */
    if (size & 1) p.head = 1 + (int64_t)((size >> 1) % 4096);
    float *x = NULL;
    int64_t n = -1;
    sdd_audio_info info;
    sdd_err e = { "" };
    int rc = sdd_audio_load_mem(data, size, "fuzz", 16000, &p, &x, &n, &info, &e);
    /* the header-only probe: never stricter than the decode, and where it
     * fails, the decode failed with the same message */
    sdd_audio_info pinfo;
    sdd_err pe = { "" };
    const int prc = sdd_audio_probe_mem(data, size, "fuzz", 16000, &p, &pinfo, &pe);
    if (prc != 0 && (prc != -1 || rc == 0 || strcmp(pe.msg, e.msg))) __builtin_trap();
    if (rc == 0 && (prc != 0 || pinfo.channels != info.channels || pinfo.sample_rate != info.sample_rate)) __builtin_trap();
    if (rc == 0) {
        if (!x || n <= 0 || n > (int64_t)(10 * 16000) + 8192) __builtin_trap();
        if (p.head > 0 && n > p.head) __builtin_trap();
        if (info.channels < 1 || info.frames <= 0) __builtin_trap();
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i])) __builtin_trap();
        free(x);
    } else {
        if (rc != -1 || x || n != 0) __builtin_trap();
        if (strncmp(e.msg, "fuzz", 4) || strchr(e.msg, '\n')) __builtin_trap();
    }
    return 0;
}
