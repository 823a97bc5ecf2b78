/* PyTorch checkpoint import without Python: reads zip-format torch.save files
 * (PyTorch >= 1.6) with libzip and interprets the pickle subset a state_dict
 * uses (protocol 2 opcodes; OrderedDict, _rebuild_tensor_v2,
 * _rebuild_parameter, typed storages as persistent ids). Owns the pickle
 * machine (pickle.c), storage reading (bounds-checked) and strided-to-contiguous
 * copies. Objects of classes outside the allow-list (argparse.Namespace,
 * omegaconf configs, numpy scalars, ... as in fairseq's xlsr2_300m.pt) are
 * never executed: next to the state dict they are skipped as inert
 * placeholders (tensors reachable only through them are not loaded), inside
 * it they are refused. Anything else (legacy non-zip files, bad memo indices,
 * stack underflow, oversized lengths, storages shorter than claimed, ...) is
 * rejected with one line naming the file. */
#ifndef SDD_IO_PTH_H
#define SDD_IO_PTH_H
#include <stddef.h>
#include "core/error.h"
#include "io/tensorset.h"

/* Largest data.pkl accepted, and the most pickle objects one file may make. */
#define SDD_PTH_MAX_PICKLE (64u << 20)
#define SDD_PTH_MAX_OBJECTS (8u << 20)

typedef struct {
    int skipped;          /* entries of the chosen dict that were not tensors
                             (or had non-string keys), not loaded */
    char source_key[16];  /* "" (top-level dict), "state_dict" or "model" */
    char prefix[128];     /* the archive's top folder, e.g. "archive" */
} sdd_pth_info;

/* Loads the state_dict of a torch.save zip file into out (tensors named by
 * their state-dict keys, in pickle order, contiguous). The top-level object
 * must be a dict; when it holds no tensors itself but has a "state_dict" or
 * "model" dict (checked in that order), that dict is used. Non-tensor values
 * are skipped and counted; an object outside the allow-list anywhere in that
 * dict is an error naming its key and class. out is initialised by the call
 * and left empty on failure. info may be NULL. */
int sdd_pth_load_ex(const char *path, sdd_tensorset *out, sdd_pth_info *info, sdd_err *e);
int sdd_pth_load(const char *path, sdd_tensorset *out, sdd_err *e);

/* Whether path starts with a zip local-file header ("PK\3\4"), the container
 * torch.save writes; 0 when it cannot be read. Tells .pth from safetensors. */
int sdd_pth_is_zip(const char *path);

/* Same from memory (libzip buffer source); name_for_errors stands in for the
 * path in messages. buf must stay valid during the call only. */
int sdd_pth_load_mem_ex(const void *buf, size_t n, const char *name_for_errors,
                        sdd_tensorset *out, sdd_pth_info *info, sdd_err *e);
int sdd_pth_load_mem(const void *buf, size_t n, const char *name_for_errors,
                     sdd_tensorset *out, sdd_err *e);

#endif
