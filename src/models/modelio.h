/* Model files: loading weights from a named tensor set (safetensors or an
 * imported PyTorch state dict) with name, shape, dtype, finiteness and
 * loaded-count checks; saving a model as safetensors with the architecture and
 * hyperparameters in __metadata__. */
#ifndef SDD_MODELS_MODELIO_H
#define SDD_MODELS_MODELIO_H
#include "models/model.h"
#include "io/tensorset.h"

/* Copies every registered parameter/buffer from ts (F32, F64, F16 or BF16;
 * exact shape). Every registered entry must be present and every tensor in ts
 * must be known (PyTorch's num_batches_tracked counters are accepted and
 * ignored). `path` names the source in errors. */
int sdd_model_set_weights(sdd_model *m, const sdd_tensorset *ts, const char *path, sdd_err *e);
/* Copies tensor t into parameter idx with the shape, dtype and finiteness checks above. */
int sdd_model_copy_tensor(sdd_model *m, int idx, const sdd_ntensor *t, const char *path, sdd_err *e);
/* Guesses the architecture of a PyTorch state dict from its tensor shapes;
 * NULL when it is none that sdd knows. */
const char *sdd_model_guess_arch(const sdd_tensorset *ts);
/* The model a loaded tensor set describes: architecture `arch`, else (not
 * pth) the sdd metadata's, else guessed from the shapes; weights checked as
 * sdd_model_set_weights does; the metadata threshold, when present, must be
 * a finite number. `path` names the source in errors. NULL (e set) on error. */
sdd_model *sdd_model_from_tensorset(const sdd_tensorset *ts, const char *arch, int pth, const char *path, sdd_err *e);
/* Loads a model file: safetensors written by sdd (architecture from metadata),
 * or a PyTorch .pth (architecture from `arch` or guessed). A safetensors
 * file's weights are read into the model's parameter block one tensor at a
 * time (no copy of the whole file in memory). */
sdd_model *sdd_model_load(const char *path, const char *arch, sdd_err *e);
/* Opens model file `path` (safetensors, its header only: sdd_safetensors_open)
 * and checks that it holds every weight of m as F32 with m's shape, and no
 * tensor m lacks; the file must name m's architecture and configuration. The
 * weights stay in the file (sdd_tensor_read; free ts with
 * sdd_tensorset_free); on failure ts is empty and e names the file. */
int sdd_model_open_weights(const sdd_model *m, const char *path, sdd_tensorset *ts, sdd_err *e);
/* m's weights (BatchNorm buffers included) become the element-wise mean of
 * those of n model files (each checked as above), summed in double in the
 * order given: the trainer's n-best average, `sdd average`. Only the
 * weights change. Each file is read a tensor at a time: first every value is
 * checked finite, so that on failure the weights are as before; then the
 * sums, checked again (a value no longer finite: e names the file, and the
 * weights are then partly averaged). Up to 32 files stay open throughout;
 * more are opened one at a time, again for each group of parameters (32 MB
 * of double sums) and required to be the same file (inode, size,
 * modification time), so any number of files can be averaged whatever the
 * open-file limit. */
int sdd_model_average(sdd_model *m, const char *const *paths, int n, sdd_err *e);
/* The same with groups of `group` parameters (at least the largest tensor),
 * one file open at a time; group 0: every file open throughout, a tensor at
 * a time. The result does not depend on it (test_nbest compares). */
int sdd_model_average_grouped(sdd_model *m, const char *const *paths, int n, size_t group, sdd_err *e);
/* Writes the model as safetensors, atomically. */
int sdd_model_save(const sdd_model *m, const char *path, sdd_err *e);
/* Fills ts with the model's tensors and metadata (what sdd_model_save
 * writes). The tensors borrow the model's parameter buffers (no copy): use
 * ts while m lives and its parameters stay unchanged. */
int sdd_model_to_tensorset(const sdd_model *m, sdd_tensorset *ts, sdd_err *e);

#endif
