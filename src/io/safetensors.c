/* Owns the safetensors loader (full validation of header and offsets, from a
 * file or from memory) and the atomic writer. See safetensors.h. */
#include "io/safetensors.h"
#include "io/atomic.h"
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the bytes come from: a memory buffer or an open file. With defer,
 * only the header is read: the tensors stay in fp (sdd_tensor_read). */
typedef struct {
    const char *name;
    const unsigned char *mem;
    FILE *fp;
    uint64_t size;
    int defer;
} st_src;

static int src_read(st_src *s, uint64_t off, void *dst, size_t n, sdd_err *e)
{
    if (n == 0) return 0;
    if (off > s->size || n > s->size - off)
        return sdd_err_set(e, "%s: read past end of file", s->name);
    if (s->mem) { memcpy(dst, s->mem + off, n); return 0; }
    if (off > (uint64_t)INT64_MAX || fseeko(s->fp, (off_t)off, SEEK_SET) != 0)
        return sdd_err_set(e, "%s: seek failed: %s", s->name, strerror(errno));
    if (fread(dst, 1, n, s->fp) != n)
        return sdd_err_set(e, "%s: read failed: %s", s->name,
                           ferror(s->fp) ? strerror(errno) : "file shrank while reading");
    return 0;
}

typedef struct {
    const char *name;   /* points into the JSON tree */
    sdd_dtype dtype;
    int ndim;
    int64_t shape[SDD_TENSOR_MAXDIM];
    uint64_t begin, end;
    int order;          /* position in the header */
} st_entry;

static int cmp_entry(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->order - y->order;
}

/* Reads a non-negative JSON integer. */
static int get_uint(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_entry(const char *fname, const char *key, json_t *v, uint64_t data_size,
                       st_entry *en, sdd_err *e)
{
    if (!json_is_object(v))
        return sdd_err_set(e, "%s: tensor '%s': header entry is not a JSON object", fname, key);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!jd || !js || !jo)
        return sdd_err_set(e, "%s: tensor '%s': missing \"%s\"", fname, key,
                           !jd ? "dtype" : !js ? "shape" : "data_offsets");
    if (!json_is_string(jd))
        return sdd_err_set(e, "%s: tensor '%s': dtype is not a string", fname, key);
    if (sdd_dtype_from_name(json_string_value(jd), &en->dtype) < 0)
        return sdd_err_set(e, "%s: tensor '%s': unknown or unsupported dtype \"%.40s\"", fname,
                           key, json_string_value(jd));
    if (!json_is_array(js))
        return sdd_err_set(e, "%s: tensor '%s': shape is not an array", fname, key);
    size_t nd = json_array_size(js);
    if (nd > SDD_TENSOR_MAXDIM)
        return sdd_err_set(e, "%s: tensor '%s': %zu dimensions (at most %d supported)", fname,
                           key, nd, SDD_TENSOR_MAXDIM);
    en->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        if (get_uint(json_array_get(js, i), &d) < 0)
            return sdd_err_set(e, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                               fname, key, i);
        en->shape[i] = (int64_t)d;
    }
    int64_t numel;
    if (sdd_shape_numel(en->ndim, en->shape, &numel) < 0)
        return sdd_err_set(e, "%s: tensor '%s': shape element count overflows", fname, key);
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        get_uint(json_array_get(jo, 0), &en->begin) < 0 ||
        get_uint(json_array_get(jo, 1), &en->end) < 0)
        return sdd_err_set(e, "%s: tensor '%s': data_offsets is not a pair of non-negative integers",
                           fname, key);
    if (en->begin > en->end)
        return sdd_err_set(e, "%s: tensor '%s': data_offsets [%llu, %llu] begin after end", fname,
                           key, (unsigned long long)en->begin, (unsigned long long)en->end);
    if (en->end > data_size)
        return sdd_err_set(e, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data area "
                           "(%llu bytes)", fname, key, (unsigned long long)en->begin,
                           (unsigned long long)en->end, (unsigned long long)data_size);
    uint64_t need = (uint64_t)numel * sdd_dtype_size(en->dtype);
    if (en->end - en->begin != need)
        return sdd_err_set(e, "%s: tensor '%s': data_offsets span %llu bytes but %s x %lld "
                           "elements need %llu", fname, key,
                           (unsigned long long)(en->end - en->begin), sdd_dtype_name(en->dtype),
                           (long long)numel, (unsigned long long)need);
    if (need > SIZE_MAX)
        return sdd_err_set(e, "%s: tensor '%s': too large for this machine", fname, key);
    return 0;
}

static int load_src(st_src *s, sdd_tensorset *out, sdd_err *e)
{
    const char *fn = s->name;
    sdd_tensorset_init(out);
    if (s->size == 0) return sdd_err_set(e, "%s: empty file (not a safetensors file)", fn);
    if (s->size < 8)
        return sdd_err_set(e, "%s: %llu bytes, too short for a safetensors header", fn,
                           (unsigned long long)s->size);
    unsigned char lenb[9];
    const int nb = s->size > 8 ? 9 : 8;
    if (src_read(s, 0, lenb, (size_t)nb, e) < 0) return -1;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | lenb[i];
    /* an impossible header length, and no JSON object where the header would
     * start: another kind of file (an audio file given as the model) */
    if (nb == 9 && lenb[8] != '{' && (hlen > s->size - 8 || hlen > SDD_SAFETENSORS_MAX_HEADER || hlen < 2)) {
        static const struct { const char *magic; size_t n; const char *what; } kind[] = {
            { "RIFF", 4, "a RIFF (WAV) file" }, { "fLaC", 4, "a FLAC file" }, { "OggS", 4, "an Ogg file" },
            { "ID3", 3, "an MP3 file" }, { "PK\x03\x04", 4, "a zip archive" }, { "\x80\x02", 2, "a pickle" },
        };
        const char *what = NULL;
        for (size_t k = 0; k < sizeof kind / sizeof kind[0] && !what; k++)
            if (!memcmp(lenb, kind[k].magic, kind[k].n)) what = kind[k].what;
        return sdd_err_set(e, "%s: not a safetensors file (%s)", fn, what ? what : "no JSON header after the length");
    }
    if (hlen > s->size - 8)
        return sdd_err_set(e, "%s: header length %llu exceeds the file size (%llu bytes)", fn,
                           (unsigned long long)hlen, (unsigned long long)s->size);
    if (hlen > SDD_SAFETENSORS_MAX_HEADER)
        return sdd_err_set(e, "%s: header length %llu is over the %u-byte limit", fn,
                           (unsigned long long)hlen, SDD_SAFETENSORS_MAX_HEADER);
    if (hlen < 2) return sdd_err_set(e, "%s: header length %llu is too short for a JSON object",
                                     fn, (unsigned long long)hlen);
    uint64_t data_off = 8 + hlen, data_size = s->size - data_off;

    char *hbuf = malloc((size_t)hlen);
    if (!hbuf) return sdd_err_set(e, "%s: out of memory for a %llu-byte header", fn,
                                  (unsigned long long)hlen);
    if (src_read(s, 8, hbuf, (size_t)hlen, e) < 0) { free(hbuf); return -1; }
    json_error_t jerr;
    json_t *root = json_loadb(hbuf, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    free(hbuf);
    if (!root)
        return sdd_err_set(e, "%s: bad JSON header (byte %d): %s", fn, jerr.position, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return sdd_err_set(e, "%s: JSON header is not an object", fn);
    }

    int rc = -1;
    size_t cap = json_object_size(root), n = 0;
    st_entry *ents = calloc(cap ? cap : 1, sizeof *ents);
    int *by_order = NULL;
    if (!ents) { sdd_err_set(e, "%s: out of memory", fn); goto done; }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                sdd_err_set(e, "%s: \"__metadata__\" is not a JSON object", fn);
                goto done;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    sdd_err_set(e, "%s: __metadata__ value for '%s' is not a string", fn, mk);
                    goto done;
                }
                if (sdd_tensorset_set_meta(out, mk, json_string_value(mv), e) < 0) {
                    sdd_err_prefix(e, "%s", fn);
                    goto done;
                }
            }
            continue;
        }
        st_entry *en = &ents[n];
        en->name = key;
        en->order = (int)n;
        if (parse_entry(fn, key, val, data_size, en, e) < 0) goto done;
        n++;
    }

    /* Offsets must tile [0, data_size) exactly: sorted, each begins where the
     * previous ended (zero-size tensors may sit anywhere on a boundary). */
    qsort(ents, n, sizeof *ents, cmp_entry);
    uint64_t cursor = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].begin < cursor) {
            sdd_err_set(e, "%s: tensors '%s' and '%s' overlap in the data area", fn, prev,
                        ents[i].name);
            goto done;
        }
        if (ents[i].begin > cursor) {
            sdd_err_set(e, "%s: bytes [%llu, %llu) of the data area belong to no tensor", fn,
                        (unsigned long long)cursor, (unsigned long long)ents[i].begin);
            goto done;
        }
        if (ents[i].end > ents[i].begin || !prev) prev = ents[i].name;
        cursor = ents[i].end;
    }
    if (cursor != data_size) {
        sdd_err_set(e, "%s: %llu bytes after the last tensor belong to no tensor", fn,
                    (unsigned long long)(data_size - cursor));
        goto done;
    }

    /* Add in header order. */
    by_order = malloc((n ? n : 1) * sizeof *by_order);
    if (!by_order) { sdd_err_set(e, "%s: out of memory", fn); goto done; }
    for (size_t i = 0; i < n; i++) by_order[ents[i].order] = (int)i;
    for (size_t k = 0; k < n; k++) {
        st_entry *en = &ents[by_order[k]];
        size_t nb = (size_t)(en->end - en->begin);
        void *data = NULL;
        if (s->defer) {
            if (sdd_tensorset_add_on_file_(out, en->name, en->dtype, en->ndim, en->shape, nb, s->fp, data_off + en->begin, e) < 0) {
                sdd_err_prefix(e, "%s", fn);
                goto done;
            }
            continue;
        }
        if (nb) {
            data = malloc(nb);
            if (!data) {
                sdd_err_set(e, "%s: tensor '%s': out of memory for %zu bytes", fn, en->name, nb);
                goto done;
            }
            if (src_read(s, data_off + en->begin, data, nb, e) < 0) { free(data); goto done; }
        }
        if (sdd_tensorset_add_owned(out, en->name, en->dtype, en->ndim, en->shape, data, nb, e) < 0) {
            sdd_err_prefix(e, "%s", fn);
            goto done;
        }
    }
    rc = 0;
done:
    free(by_order);
    free(ents);
    json_decref(root);
    if (rc < 0) sdd_tensorset_free(out);
    return rc;
}

/* Error messages quote names from the file: keep them on one line. */
static int oneline(int rc, sdd_err *e)
{
    if (rc < 0 && e)
        for (char *p = e->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return rc;
}

int sdd_safetensors_load_mem(const void *buf, size_t n, const char *name_for_errors,
                             sdd_tensorset *out, sdd_err *e)
{
    st_src s = { name_for_errors ? name_for_errors : "(memory)", buf, NULL, n, 0 };
    if (!buf && n) { sdd_tensorset_init(out); return sdd_err_set(e, "%s: NULL buffer", s.name); }
    return oneline(load_src(&s, out, e), e);
}

/* path opened for reading when it is a regular file; NULL (e set) otherwise */
static FILE *open_regular(const char *path, uint64_t *size, sdd_err *e)
{
    if (!path) { sdd_err_set(e, "safetensors: NULL path"); return NULL; }
    FILE *fp = fopen(path, "rbe");
    if (!fp) { sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) sdd_err_set(e, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) sdd_err_set(e, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    else {
        *size = (uint64_t)st.st_size;
        return fp;
    }
    fclose(fp);
    return NULL;
}

/* the file at path, whole (defer 0) or its header only (defer 1: the set keeps the file open) */
static int load_path(const char *path, sdd_tensorset *out, int defer, sdd_err *e)
{
    sdd_tensorset_init(out);
    uint64_t size;
    FILE *fp = open_regular(path, &size, e);
    if (!fp) return -1;
    st_src s = { path, NULL, fp, size, defer };
    const int rc = oneline(load_src(&s, out, e), e);
    if (rc || !defer) fclose(fp);
    else out->file_ = fp;   /* closed by sdd_tensorset_free */
    return rc;
}

int sdd_safetensors_load(const char *path, sdd_tensorset *out, sdd_err *e) { return load_path(path, out, 0, e); }

int sdd_safetensors_open(const char *path, sdd_tensorset *out, sdd_err *e) { return load_path(path, out, 1, e); }

/* ---- writer ---- */

typedef struct { int idx; size_t esize; } wr_item;

static int cmp_wr(const void *a, const void *b)
{
    const wr_item *x = a, *y = b;
    if (x->esize != y->esize) return x->esize > y->esize ? -1 : 1;
    return x->idx - y->idx;
}

int sdd_safetensors_save(const char *path, const sdd_tensorset *ts, sdd_err *e)
{
    if (!path || !ts) return sdd_err_set(e, "safetensors: NULL path or tensor set");
    int rc = -1;
    char *hdr = NULL;
    json_t *root = json_object();
    wr_item *items = malloc((size_t)(ts->n ? ts->n : 1) * sizeof *items);
    uint64_t *offs = malloc((size_t)(ts->n ? ts->n : 1) * sizeof *offs);
    if (!root || !items || !offs) { sdd_err_set(e, "%s: out of memory", path); goto done; }

    /* Data layout: by element size, largest first, stable. */
    for (int i = 0; i < ts->n; i++) {
        const sdd_ntensor *t = &ts->t[i];
        int64_t numel;
        if (sdd_dtype_size(t->dtype) == 0 || sdd_shape_numel(t->ndim, t->shape, &numel) < 0 ||
            (uint64_t)numel * sdd_dtype_size(t->dtype) != (uint64_t)t->nbytes ||
            (t->nbytes && !t->data)) {
            sdd_err_set(e, "%s: tensor '%s': %s", path, t->name, t->nbytes && !t->data && t->file_ ?
                        "its bytes are still in the file it was opened from (sdd_tensor_read them first)" : "inconsistent dtype/shape/size");
            goto done;
        }
        items[i].idx = i;
        items[i].esize = sdd_dtype_size(t->dtype);
    }
    qsort(items, (size_t)ts->n, sizeof *items, cmp_wr);
    uint64_t pos = 0;
    for (int k = 0; k < ts->n; k++) {
        offs[items[k].idx] = pos;
        pos += ts->t[items[k].idx].nbytes;
    }

    if (ts->nmeta > 0) {
        json_t *m = json_object();
        if (!m || json_object_set_new(root, "__metadata__", m) < 0) {
            sdd_err_set(e, "%s: out of memory", path);
            goto done;
        }
        for (int i = 0; i < ts->nmeta; i++) {
            json_t *v = json_string(ts->meta_val[i]);
            if (!v || json_object_set_new(m, ts->meta_key[i], v) < 0) {
                sdd_err_set(e, "%s: metadata '%s' is not valid UTF-8", path, ts->meta_key[i]);
                goto done;
            }
        }
    }
    for (int i = 0; i < ts->n; i++) {
        const sdd_ntensor *t = &ts->t[i];
        if (strcmp(t->name, "__metadata__") == 0) {
            sdd_err_set(e, "%s: a tensor may not be called \"__metadata__\"", path);
            goto done;
        }
        json_t *o = json_object(), *shape = json_array(), *dof = json_array();
        int bad = !o || !shape || !dof;
        for (int d = 0; !bad && d < t->ndim; d++)
            bad = json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) < 0;
        if (!bad)
            bad = json_array_append_new(dof, json_integer((json_int_t)offs[i])) < 0 ||
                  json_array_append_new(dof, json_integer((json_int_t)(offs[i] + t->nbytes))) < 0;
        if (!bad)
            bad = json_object_set_new(o, "dtype", json_string(sdd_dtype_name(t->dtype))) < 0;
        if (!bad) { bad = json_object_set_new(o, "shape", shape) < 0; shape = NULL; }
        if (!bad) { bad = json_object_set_new(o, "data_offsets", dof) < 0; dof = NULL; }
        json_decref(shape);
        json_decref(dof);
        if (bad) {
            json_decref(o);
            sdd_err_set(e, "%s: out of memory", path);
            goto done;
        }
        if (json_object_set_new(root, t->name, o) < 0) {
            sdd_err_set(e, "%s: tensor name '%s' is not valid UTF-8 or is a duplicate", path,
                        t->name);
            goto done;
        }
    }
    hdr = json_dumps(root, JSON_COMPACT);
    if (!hdr) { sdd_err_set(e, "%s: cannot encode the JSON header", path); goto done; }
    size_t hlen = strlen(hdr);
    size_t pad = (8 - (8 + hlen) % 8) % 8;

    sdd_afile *af = sdd_afile_open(path, e);
    if (!af) goto done;
    FILE *fp = sdd_afile_fp(af);
    unsigned char lenb[8];
    uint64_t hl = hlen + pad;
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(hl >> (8 * i));
    int ok = fwrite(lenb, 1, 8, fp) == 8 && fwrite(hdr, 1, hlen, fp) == hlen;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', fp) != EOF;
    for (int k = 0; ok && k < ts->n; k++) {
        const sdd_ntensor *t = &ts->t[items[k].idx];
        if (t->nbytes) ok = fwrite(t->data, 1, t->nbytes, fp) == t->nbytes;
    }
    if (!ok) {
        sdd_err_set(e, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
        sdd_afile_abort(af);
        goto done;
    }
    rc = sdd_afile_commit(af, e);
done:
    free(hdr);
    free(items);
    free(offs);
    json_decref(root);
    return oneline(rc, e);
}
