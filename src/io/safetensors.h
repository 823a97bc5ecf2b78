/* safetensors read/write (the Hugging Face format: u64 little-endian header
 * length N, N bytes of JSON header mapping tensor names to
 * {"dtype","shape","data_offsets"} plus an optional "__metadata__"
 * string->string map, then the byte buffer the offsets index). Owns the
 * loader's validation and the (atomic) writer. */
#ifndef SDD_IO_SAFETENSORS_H
#define SDD_IO_SAFETENSORS_H
#include <stddef.h>
#include "core/error.h"
#include "io/tensorset.h"

/* Largest JSON header accepted (same limit as the reference implementation). */
#define SDD_SAFETENSORS_MAX_HEADER (100u * 1000u * 1000u)

/* Loads every tensor and the metadata of path into out. out is initialised
 * by the call (any previous content is NOT freed: pass an empty or fresh
 * set); on failure it is left empty and e holds one line naming the file.
 * Tensors come out in header order (sdd_safetensors_save keeps ts order).
 * The file is validated completely: header length vs file size, JSON syntax,
 * field types, known dtype, shape (0..8 non-negative dims, no overflow),
 * offsets in range, begin <= end, end - begin == numel * dtype size, no
 * duplicate names, no overlap, and no unindexed bytes (the tensors must cover
 * the data area exactly). */
int sdd_safetensors_load(const char *path, sdd_tensorset *out, sdd_err *e);
/* Same from memory; name_for_errors stands in for the path in messages. */
int sdd_safetensors_load_mem(const void *buf, size_t n, const char *name_for_errors,
                             sdd_tensorset *out, sdd_err *e);

/* Same validation as sdd_safetensors_load, but only the header is read:
 * every tensor's name, dtype and shape and the metadata, with each tensor's
 * data NULL and its bytes left in the file, which the set keeps open until
 * sdd_tensorset_free; sdd_tensor_read copies a tensor's bytes where the
 * caller wants them. For GB-sized model files: the weights go straight into
 * their destination without a heap copy of the file, and a file truncated
 * while in use gives a read error, not the SIGBUS of a mapping. */
int sdd_safetensors_open(const char *path, sdd_tensorset *out, sdd_err *e);

/* Writes ts to path atomically (temp file + rename): header entries in ts
 * order; the data area starts 8-byte aligned (the header is padded with
 * spaces) and holds the tensors by element size, largest first (stable), so
 * every tensor is aligned to its element size; ts metadata goes to
 * "__metadata__". Names and metadata must be valid UTF-8; a tensor may not be
 * called "__metadata__". */
int sdd_safetensors_save(const char *path, const sdd_tensorset *ts, sdd_err *e);

#endif
