/* sdd: speech deepfake detection (anti-spoofing) in C. The public API.
 *
 * Load a model file (an sdd .safetensors, or a PyTorch .pth of a known
 * architecture), then score audio: a file in any format libsndfile reads, or
 * a buffer of float samples at any rate. A score is the bona fide logit:
 * higher means more likely genuine speech. Handles are opaque; every function
 * that can fail returns a negative value (or NULL) and leaves a one-line
 * reason readable with sdd_detector_error() or in the caller's buffer.
 * Thread safety: one detector per thread. */
#ifndef SDD_H
#define SDD_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SDD_VERSION_STRING "0.1.0"

typedef struct sdd_detector sdd_detector;

typedef struct sdd_detector_params {
    int threads;        /* 0 = all cores */
    int64_t cut;        /* samples scored per file: 0 = the cut the model was trained at (stored by
                           sdd train), else its reference length (64600 for AASIST);
                           clips shorter than this are repeated; -1 = the whole file (see window) */
    double window_s;    /* whole-file mode: files longer than this are split into equal windows
                           whose scores are averaged (default 16 s) */
    int device;         /* 0 = CPU (default); 1 = one CUDA GPU (libsdd built with make CUDA=1):
                           loading fails with the reason when that is not available */
    int int8;           /* 1: XLS-R models' encoder linear layers in int8 (sdd score --int8; CPU,
                           with AMX, or builds with AVX-512 VNNI or AVX-VNNI): loading fails with the
                           reason where that is not available; 0 = float32 (default) */
} sdd_detector_params;

sdd_detector_params sdd_detector_default_params(void);

/* Returns NULL on failure with the reason in err (when err_len > 0). */
sdd_detector *sdd_detector_load(const char *model_path, const sdd_detector_params *params, char *err, size_t err_len);
void sdd_detector_free(sdd_detector *d);

/* Scores n float samples at sample_rate Hz (resampled to 16 kHz when needed; mono). 0 or -1. */
int sdd_detector_score_samples(sdd_detector *d, const float *samples, int64_t n, int sample_rate, double *score);
/* Scores an audio file (any libsndfile format and rate, mixed to mono). 0 or -1. */
int sdd_detector_score_file(sdd_detector *d, const char *path, double *score);
/* Scores n audio files: on a CPU with 2+ threads several at a time, one per
 * thread, as `sdd score` scores a list; else one after the other. A file
 * gets the same bits either way, and as from sdd_detector_score_file, for
 * any thread count. For each file scored, scores[k] is set and ok[k] = 1;
 * ok[k] = 0 for one that could not be (unreadable, not finite), and
 * sdd_detector_error names the first such file. Returns how many were
 * scored, or -1 on a NULL argument or n < 0. The threads' working memory
 * (one utterance's activations each) is kept until sdd_detector_free. */
int sdd_detector_score_files(sdd_detector *d, const char *const *paths, int n, double *scores, int *ok);
/* The reason for the last failure on d ("" when none). */
const char *sdd_detector_error(const sdd_detector *d);
/* The model's architecture name, e.g. "AASIST". */
const char *sdd_detector_arch(const sdd_detector *d);
/* 1 and *threshold set when the model file stores a decision threshold, else 0. */
int sdd_detector_threshold(const sdd_detector *d, double *threshold);
/* For a model that stores a calibration (sdd calibrate --model-out): 1, with
 * *llr = the natural-log likelihood ratio (bona fide vs spoof) of a score from
 * sdd_detector_score_*, and *threshold = the calibration's Bayes threshold on
 * the LLR (decide bona fide when *llr >= *threshold); either pointer may be
 * NULL. 0 when the model stores no calibration; -1 (reason in
 * sdd_detector_error) when the LLR is not finite. What `sdd score` prints for
 * a calibrated model. */
int sdd_detector_calibrate(sdd_detector *d, double score, double *llr, double *threshold);

const char *sdd_version(void);

#ifdef __cplusplus
}
#endif
#endif
