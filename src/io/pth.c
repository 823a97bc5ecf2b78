/* Owns PyTorch .pth import (see pth.h): the zip side (finding <prefix>/data.pkl,
 * reading <prefix>/data/<key> storages with size checks), choosing the state
 * dict in the object the pickle machine (pickle.c) made, refusing objects
 * outside the allow-list inside it, and turning it into a flat sdd_tensorset
 * (strided views copied out contiguously). Only the storages of the chosen
 * dict's tensors are read. */
#include "io/pth.h"
#include "io/pickle.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define EXPAND_SLACK (64u << 20)   /* bytes views may add beyond 4x their storages */

/* ---- zip side ---- */

typedef struct { zip_t *za; const char *fname; char prefix[128], pkl[160]; sdd_err *e; } pzip;

static const char *zip_errstr(int code, char *buf, size_t cap)
{
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    snprintf(buf, cap, "%s", zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return buf;
}

/* Reads exactly want bytes of member idx into dst; when want is the whole
 * member, also reads on to its end so libzip checks the CRC. */
static int read_member(pzip *z, zip_uint64_t idx, const char *name, void *dst, uint64_t want,
                       int whole, sdd_err *e)
{
    zip_file_t *zf = zip_fopen_index(z->za, idx, 0);
    if (!zf) return sdd_err_set(e, "%s: cannot open member '%s': %s", z->fname, name,
                                zip_strerror(z->za));
    uint64_t got = 0;
    while (got < want) {
        zip_uint64_t chunk = want - got > (1u << 30) ? (1u << 30) : want - got;
        zip_int64_t r = zip_fread(zf, (unsigned char *)dst + got, chunk);
        if (r < 0) {
            sdd_err_set(e, "%s: member '%s': read failed: %s", z->fname, name, zip_file_strerror(zf));
            zip_fclose(zf);
            return -1;
        }
        if (r == 0) break;
        got += (uint64_t)r;
    }
    if (got < want) {
        zip_fclose(zf);
        return sdd_err_set(e, "%s: member '%s' holds %llu bytes, %llu expected", z->fname, name,
                           (unsigned long long)got, (unsigned long long)want);
    }
    if (whole) {
        unsigned char extra;
        zip_int64_t r = zip_fread(zf, &extra, 1);
        if (r != 0) {
            sdd_err_set(e, "%s: member '%s': %s", z->fname, name,
                        r < 0 ? zip_file_strerror(zf) : "longer than its directory entry says");
            zip_fclose(zf);
            return -1;
        }
    }
    zip_fclose(zf);
    return 0;
}

/* Finds <prefix>/data.pkl (one top folder, any name) and checks byteorder. */
static int find_pickle(pzip *z, sdd_err *e)
{
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *nm = zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!nm) continue;
        const char *slash = strchr(nm, '/');
        if (!slash || slash == nm || strcmp(slash, "/data.pkl") != 0) continue;
        size_t plen = (size_t)(slash - nm);
        if (plen >= sizeof z->prefix) continue;
        if (found) return sdd_err_set(e, "%s: several */data.pkl members", z->fname);
        memcpy(z->prefix, nm, plen);
        z->prefix[plen] = 0;
        found = 1;
    }
    if (!found)
        return sdd_err_set(e, "%s: zip archive has no <folder>/data.pkl member (not a torch.save "
                           "checkpoint)", z->fname);
    snprintf(z->pkl, sizeof z->pkl, "%s/data.pkl", z->prefix);
    char bo[200];
    snprintf(bo, sizeof bo, "%s/byteorder", z->prefix);
    zip_int64_t bi = zip_name_locate(z->za, bo, ZIP_FL_ENC_RAW);
    if (bi >= 0) {
        zip_stat_t st;
        char val[16] = {0};
        if (zip_stat_index(z->za, (zip_uint64_t)bi, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) ||
            st.size >= sizeof val || read_member(z, (zip_uint64_t)bi, bo, val, st.size, 1, e) < 0 ||
            strcmp(val, "little") != 0)
            return sdd_err_set(e, "%s: byte order is not 'little' (big-endian checkpoints are "
                               "not supported)", z->fname);
    }
    return 0;
}

/* Reads a storage's bytes from <prefix>/data/<key>, checking the member size. */
static int load_storage(pzip *z, sdd_pobj *s, uint64_t *loaded, sdd_err *e)
{
    char name[SDD_PK_MAX_NAME + 200];
    char k[100];
    snprintf(name, sizeof name, "%s/data/%s", z->prefix, s->u.stor.key);
    sdd_pickle_san(name, strlen(name), k, sizeof k);
    zip_int64_t idx = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);
    if (idx < 0) return sdd_err_set(e, "%s: storage member '%s' is missing", z->fname, k);
    zip_stat_t st;
    if (zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
        return sdd_err_set(e, "%s: cannot stat member '%s'", z->fname, k);
    uint64_t want = (uint64_t)s->u.stor.numel * sdd_dtype_size(s->u.stor.dtype);
    if (st.size < want)
        return sdd_err_set(e, "%s: member '%s' has %llu bytes but its storage claims %llu "
                           "(%lld x %s)", z->fname, k, (unsigned long long)st.size,
                           (unsigned long long)want, (long long)s->u.stor.numel,
                           sdd_dtype_name(s->u.stor.dtype));
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
        (st.valid & ZIP_STAT_COMP_SIZE) && want / 1100 > st.comp_size)
        return sdd_err_set(e, "%s: member '%s': implausible compression ratio", z->fname, k);
    if (want > SIZE_MAX - 1) return sdd_err_set(e, "%s: member '%s' too large", z->fname, k);
    s->u.stor.data = malloc(want ? (size_t)want : 1);
    if (!s->u.stor.data)
        return sdd_err_set(e, "%s: out of memory for storage '%s' (%llu bytes)", z->fname, k,
                           (unsigned long long)want);
    if (read_member(z, (zip_uint64_t)idx, k, s->u.stor.data, want, want == st.size, e) < 0)
        return -1;
    *loaded += want;
    return 0;
}

/* Row-major strides (size-1 dimensions ignored)? */
static int is_contiguous(const sdd_ptensor *t)
{
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->size[d] > 1 && t->stride[d] != expect) return 0;
        expect *= t->size[d];
    }
    return 1;
}

/* Copies tensor t out of its storage into a new contiguous buffer. */
static void *materialise(const sdd_ptensor *t, size_t esize, size_t nbytes, int64_t numel)
{
    void *out = malloc(nbytes ? nbytes : 1);
    if (!out || numel == 0) return out;
    const unsigned char *base = t->stor->u.stor.data + (size_t)t->off * esize;
    if (is_contiguous(t)) { memcpy(out, base, nbytes); return out; }
    int64_t idx[SDD_TENSOR_MAXDIM] = {0}, off = 0;
    unsigned char *dst = out;
    for (int64_t k = 0; k < numel; k++) {
        memcpy(dst, base + (size_t)off * esize, esize);
        dst += esize;
        for (int d = t->ndim - 1; d >= 0; d--) {   /* odometer */
            off += t->stride[d];
            if (++idx[d] < t->size[d]) break;
            off -= t->stride[d] * t->size[d];
            idx[d] = 0;
        }
    }
    return out;
}

static sdd_pobj *dict_get(sdd_pobj *d, const char *key)
{
    sdd_pobj *r = NULL;
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2)
        if (d->u.seq.v[i]->kind == SDD_PO_STR && strcmp(d->u.seq.v[i]->u.str.s, key) == 0)
            r = d->u.seq.v[i + 1];
    return r;
}

static int dict_has_tensor(sdd_pobj *d)
{
    for (size_t i = 1; i < d->u.seq.n; i += 2)
        if (d->u.seq.v[i]->kind == SDD_PO_TENSOR) return 1;
    return 0;
}

/* "a dict", or for what is outside the allow-list "unknown GLOBAL 'm.C'" / "an instance of unknown GLOBAL 'm.C'" */
static const char *describe(const sdd_pobj *o, char *buf, size_t n)
{
    if (!sdd_pickle_is_unknown(o)) snprintf(buf, n, "a %s", sdd_pickle_kind_name(o));
    else snprintf(buf, n, "%sunknown GLOBAL '%s'", o->kind == SDD_PO_OPAQUE ? "an instance of " : "", sdd_pickle_kind_name(o));
    return buf;
}

/* Whether an object outside the allow-list is reachable from o through tuples, lists and
 * dicts (keys too); *found is the first one. Each object is visited once (cycles are possible). */
static int find_unknown(sdd_pobj *o, sdd_pobj **found, pzip *z, sdd_err *e)
{
    size_t n = 0, cap = 64;
    sdd_pobj **st = malloc(cap * sizeof *st);
    if (!st) return sdd_err_set(e, "%s: out of memory", z->fname);
    *found = NULL;
    o->seen = 1;
    st[n++] = o;
    while (n && !*found) {
        sdd_pobj *x = st[--n];
        if (sdd_pickle_is_unknown(x)) { *found = x; break; }
        if (x->kind != SDD_PO_TUPLE && x->kind != SDD_PO_LIST && x->kind != SDD_PO_DICT) continue;
        for (size_t i = 0; i < x->u.seq.n; i++) {
            sdd_pobj *c = x->u.seq.v[i];
            if (c->seen) continue;
            if (n == cap) {
                sdd_pobj **t = realloc(st, 2 * cap * sizeof *t);
                if (!t) { free(st); return sdd_err_set(e, "%s: out of memory", z->fname); }
                st = t;
                cap *= 2;
            }
            c->seen = 1;
            st[n++] = c;
        }
    }
    free(st);
    return 0;
}

/* Picks the state dict out of the unpickled object and fills out. Objects outside
 * the allow-list are refused inside it and ignored elsewhere (a fairseq checkpoint's
 * "args" and "cfg" next to its "model"). */
static int build_set(pzip *z, sdd_pobj *root, sdd_tensorset *out, sdd_pth_info *info, sdd_err *e)
{
    char what[200];
    if (root->kind != SDD_PO_DICT)
        return sdd_err_set(e, "%s: top-level object is %s, not a dict", z->fname, describe(root, what, sizeof what));
    sdd_pobj *d = root;
    if (!dict_has_tensor(root)) {
        static const char *keys[] = { "state_dict", "model" };
        d = NULL;
        for (int i = 0; i < 2 && !d; i++) {
            sdd_pobj *c = dict_get(root, keys[i]);
            if (c && sdd_pickle_is_unknown(c))
                return sdd_err_set(e, "%s: '%s' is %s, not a dict", z->fname, keys[i], describe(c, what, sizeof what));
            if (c && c->kind == SDD_PO_DICT) {
                d = c;
                snprintf(info->source_key, sizeof info->source_key, "%s", keys[i]);
            }
        }
        if (!d && root->u.seq.n == 0) return 0;   /* an empty state_dict */
        if (!d) return sdd_err_set(e, "%s: no tensors: the top-level dict holds none and has no "
                                   "'state_dict' or 'model' dict", z->fname);
    }
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
        sdd_pobj *bad = NULL;
        for (int kv = 0; kv < 2 && !bad; kv++)
            if (find_unknown(d->u.seq.v[i + kv], &bad, z, e)) return -1;
        if (!bad) continue;
        char kb[100];
        const sdd_pobj *k = d->u.seq.v[i];
        if (k->kind == SDD_PO_STR) sdd_pickle_san(k->u.str.s, k->u.str.n, kb, sizeof kb);
        else snprintf(kb, sizeof kb, "(a %s key)", sdd_pickle_kind_name(k));
        return sdd_err_set(e, "%s: the state dict%s%s%s holds %s under key '%s': classes outside the "
                           "allow-list are refused there (only tensors and plain values)", z->fname,
                           info->source_key[0] ? " ('" : "", info->source_key, info->source_key[0] ? "')" : "",
                           describe(bad, what, sizeof what), kb);
    }
    /* count uses so a storage can be handed over or freed after its last tensor */
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2)
        if (d->u.seq.v[i]->kind == SDD_PO_STR && d->u.seq.v[i + 1]->kind == SDD_PO_TENSOR)
            d->u.seq.v[i + 1]->u.ten->stor->u.stor.uses++;
    uint64_t loaded = 0, made = 0;
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
        sdd_pobj *k = d->u.seq.v[i], *v = d->u.seq.v[i + 1];
        if (k->kind != SDD_PO_STR || v->kind != SDD_PO_TENSOR) { info->skipped++; continue; }
        char kb[100];
        sdd_pickle_san(k->u.str.s, k->u.str.n, kb, sizeof kb);
        if (strlen(k->u.str.s) != k->u.str.n)
            return sdd_err_set(e, "%s: key '%s' contains a NUL byte", z->fname, kb);
        sdd_ptensor *t = v->u.ten;
        sdd_pobj *s = t->stor;
        if (!s->u.stor.data && load_storage(z, s, &loaded, e) < 0) return -1;
        size_t esize = sdd_dtype_size(s->u.stor.dtype);
        int64_t numel;
        sdd_shape_numel(t->ndim, t->size, &numel);   /* checked in make_tensor */
        size_t nbytes = (size_t)numel * esize;
        uint64_t sbytes = (uint64_t)s->u.stor.numel * esize;
        void *data;
        s->u.stor.uses--;
        if (s->u.stor.uses == 0 && t->off == 0 && nbytes == sbytes && nbytes > 0 &&
            is_contiguous(t)) {
            data = s->u.stor.data;   /* the whole storage, last use: hand it over */
            s->u.stor.data = NULL;
            goto add;
        }
        made += nbytes;
        if (made > 4 * loaded + EXPAND_SLACK)
            return sdd_err_set(e, "%s: tensor '%s': views of shared storages would need over "
                               "%llu bytes", z->fname, kb, (unsigned long long)made);
        data = materialise(t, esize, nbytes, numel);
        if (!data) return sdd_err_set(e, "%s: out of memory for tensor '%s' (%zu bytes)",
                                      z->fname, kb, nbytes);
        if (s->u.stor.uses == 0) { free(s->u.stor.data); s->u.stor.data = NULL; }
    add:
        if (sdd_tensorset_add_owned(out, k->u.str.s, s->u.stor.dtype, t->ndim, t->size, data,
                                    nbytes, e) < 0)
            return sdd_err_prefix(e, "%s", z->fname);
    }
    return 0;
}

/* Shared by the file and memory loaders once the archive is open. */
static int load_zip(pzip *z, sdd_tensorset *out, sdd_pth_info *info, sdd_err *e)
{
    if (find_pickle(z, e) < 0) return -1;
    snprintf(info->prefix, sizeof info->prefix, "%s", z->prefix);
    zip_int64_t idx = zip_name_locate(z->za, z->pkl, ZIP_FL_ENC_RAW);
    zip_stat_t st;
    if (idx < 0 || zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) < 0 || !(st.valid & ZIP_STAT_SIZE))
        return sdd_err_set(e, "%s: cannot stat member '%s'", z->fname, z->pkl);
    if (st.size > SDD_PTH_MAX_PICKLE)
        return sdd_err_set(e, "%s: '%s' is %llu bytes, over the %u-byte limit", z->fname, z->pkl,
                           (unsigned long long)st.size, SDD_PTH_MAX_PICKLE);
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
        (st.valid & ZIP_STAT_COMP_SIZE) && st.size / 1100 > st.comp_size)
        return sdd_err_set(e, "%s: member '%s': implausible compression ratio", z->fname, z->pkl);
    unsigned char *pk = malloc(st.size ? (size_t)st.size : 1);
    if (!pk) return sdd_err_set(e, "%s: out of memory", z->fname);
    if (read_member(z, (zip_uint64_t)idx, z->pkl, pk, st.size, 1, e) < 0) { free(pk); return -1; }
    sdd_pvm vm;
    memset(&vm, 0, sizeof vm);
    vm.fname = z->fname;
    vm.member = z->pkl;
    vm.e = e;
    vm.p = pk;
    vm.n = (size_t)st.size;
    sdd_pobj *root = NULL;
    int rc = sdd_pickle_run(&vm, &root);
    if (rc == 0) rc = build_set(z, root, out, info, e);
    sdd_pickle_free(&vm);
    free(pk);
    return rc;
}

static int looks_legacy(const unsigned char *b, size_t n)
{
    return n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5;   /* a bare pickle */
}

static int not_zip_error(const char *fname, const unsigned char *head, size_t n, int code, sdd_err *e)
{
    char buf[128];
    if (looks_legacy(head, n))
        return sdd_err_set(e, "%s: legacy (non-zip, pre-1.6) torch.save format is not supported; "
                           "re-save it with torch.save in PyTorch >= 1.6", fname);
    if (n >= 4 && memcmp(head, "PK\003\004", 4) == 0)
        return sdd_err_set(e, "%s: damaged or truncated zip archive: %s", fname,
                           zip_errstr(code, buf, sizeof buf));
    return sdd_err_set(e, "%s: not a PyTorch zip checkpoint: %s", fname,
                       zip_errstr(code, buf, sizeof buf));
}

static int finish(pzip *z, int rc, sdd_tensorset *out, sdd_pth_info *info, sdd_pth_info *user)
{
    if (z->za) zip_discard(z->za);
    if (rc < 0) {
        sdd_tensorset_free(out);
        memset(info, 0, sizeof *info);
        for (char *p = z->e ? z->e->msg : NULL; p && *p; p++)   /* names from the file: one line */
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    if (user) *user = *info;
    return rc;
}

int sdd_pth_load_mem_ex(const void *buf, size_t n, const char *name_for_errors,
                        sdd_tensorset *out, sdd_pth_info *uinfo, sdd_err *e)
{
    sdd_pth_info info = {0};
    pzip z = { NULL, name_for_errors ? name_for_errors : "(memory)", "", "", e };
    sdd_tensorset_init(out);
    if (n == 0) return finish(&z, sdd_err_set(e, "%s: empty file", z.fname), out, &info, uinfo);
    if (!buf) return finish(&z, sdd_err_set(e, "%s: NULL buffer", z.fname), out, &info, uinfo);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(buf, n, 0, &ze);
    if (!src) {
        sdd_err_set(e, "%s: %s", z.fname, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return finish(&z, -1, out, &info, uinfo);
    }
    z.za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!z.za) {
        int code = zip_error_code_zip(&ze);
        zip_source_free(src);
        zip_error_fini(&ze);
        return finish(&z, not_zip_error(z.fname, buf, n, code, e), out, &info, uinfo);
    }
    zip_error_fini(&ze);
    return finish(&z, load_zip(&z, out, &info, e), out, &info, uinfo);
}

int sdd_pth_load_ex(const char *path, sdd_tensorset *out, sdd_pth_info *uinfo, sdd_err *e)
{
    sdd_pth_info info = {0};
    pzip z = { NULL, path ? path : "(null)", "", "", e };
    sdd_tensorset_init(out);
    if (!path) return finish(&z, sdd_err_set(e, "pth: NULL path"), out, &info, uinfo);
    FILE *fp = fopen(path, "rb");
    if (!fp) return finish(&z, sdd_err_set(e, "%s: cannot open: %s", path, strerror(errno)),
                           out, &info, uinfo);
    struct stat st;
    unsigned char head[8];
    size_t hn = 0;
    int bad = 0;
    if (fstat(fileno(fp), &st) != 0) bad = sdd_err_set(e, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) bad = sdd_err_set(e, "%s: is a directory", path);
    else if (!S_ISREG(st.st_mode)) bad = sdd_err_set(e, "%s: not a regular file", path);
    else if (st.st_size == 0) bad = sdd_err_set(e, "%s: empty file", path);
    else hn = fread(head, 1, sizeof head, fp);
    fclose(fp);
    if (bad) return finish(&z, -1, out, &info, uinfo);
    int code = 0;
    z.za = zip_open(path, ZIP_RDONLY, &code);
    if (!z.za) return finish(&z, not_zip_error(path, head, hn, code, e), out, &info, uinfo);
    return finish(&z, load_zip(&z, out, &info, e), out, &info, uinfo);
}

int sdd_pth_is_zip(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char mg[4] = { 0 };
    const size_t n = fread(mg, 1, 4, f);
    fclose(f);
    return n == 4 && mg[0] == 'P' && mg[1] == 'K' && mg[2] == 3 && mg[3] == 4;
}

int sdd_pth_load(const char *path, sdd_tensorset *out, sdd_err *e)
{
    return sdd_pth_load_ex(path, out, NULL, e);
}

int sdd_pth_load_mem(const void *buf, size_t n, const char *name_for_errors,
                     sdd_tensorset *out, sdd_err *e)
{
    return sdd_pth_load_mem_ex(buf, n, name_for_errors, out, NULL, e);
}
