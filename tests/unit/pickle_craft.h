/* Crafted pickles for the .pth reader's tests (test_io.c, test_pth_opaque.c):
 * opcode helpers that append to a buffer, a torch tensor record as
 * _rebuild_tensor_v2 of a persistent-id FloatStorage, and a zip writer that
 * stores the pickle as arch/data.pkl next to arch/data/0 = four floats 1..4. */
#ifndef SDD_TEST_PICKLE_CRAFT_H
#define SDD_TEST_PICKLE_CRAFT_H
#include <stdint.h>
#include <string.h>
#include <zip.h>

typedef struct { unsigned char b[16384]; size_t n; } pk;
static void pk_raw(pk *p, const void *s, size_t n)
{
    if (p->n + n <= sizeof p->b) { memcpy(p->b + p->n, s, n); p->n += n; }
}
#define PK(p, lit) pk_raw((p), (lit), sizeof(lit) - 1)
static void pk_str(pk *p, const char *s)   /* BINUNICODE */
{
    uint32_t n = (uint32_t)strlen(s);
    unsigned char h[5] = {'X', (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 24)};
    pk_raw(p, h, 5);
    pk_raw(p, s, n);
}
static void pk_int(pk *p, int32_t v)     /* BININT */
{
    uint32_t u = (uint32_t)v;
    unsigned char h[5] = {'J', (unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                          (unsigned char)(u >> 24)};
    pk_raw(p, h, 5);
}
static void pk_long(pk *p, int64_t v)    /* BININT, or LONG1 with 8 bytes */
{
    if (v >= INT32_MIN && v <= INT32_MAX) { pk_int(p, (int32_t)v); return; }
    unsigned char h[10] = {0x8a, 8};
    for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)v >> (8 * i));
    pk_raw(p, h, 10);
}
/* _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), off, size, stride, False, OrderedDict()) */
static void pk_tensor_nd(pk *p, const char *key, int numel, int off, int nd, const int64_t *size,
                         const int64_t *stride)
{
    PK(p, "ctorch._utils\n_rebuild_tensor_v2\n((");
    pk_str(p, "storage");
    PK(p, "ctorch\nFloatStorage\n");
    pk_str(p, key);
    pk_str(p, "cpu");
    pk_int(p, numel);
    PK(p, "tQ");
    pk_int(p, off);
    PK(p, "(");
    for (int i = 0; i < nd; i++) pk_long(p, size[i]);
    PK(p, "t(");
    for (int i = 0; i < nd; i++) pk_long(p, stride[i]);
    PK(p, "t\x89" "ccollections\nOrderedDict\n)R" "tR");
}
static void pk_tensor(pk *p, const char *key, int numel, int off, int size)
{
    int64_t sz = size, st = 1;
    pk_tensor_nd(p, key, numel, off, 1, &sz, &st);
}

/* Writes a zip with arch/data.pkl = pickle, arch/data/0 = 4 floats 1..4 and,
 * unless NULL, arch/byteorder. */
static int make_pth(const char *path, const pk *p, const char *byteorder)
{
    static const float st[4] = {1, 2, 3, 4};
    int err;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) return -1;
    zip_source_t *s1 = zip_source_buffer(za, p->b, p->n, 0);
    zip_source_t *s2 = zip_source_buffer(za, st, sizeof st, 0);
    int ok = s1 && s2 && zip_file_add(za, "arch/data.pkl", s1, 0) >= 0 &&
             zip_file_add(za, "arch/data/0", s2, 0) >= 0;
    if (ok && byteorder) {
        zip_source_t *s3 = zip_source_buffer(za, byteorder, strlen(byteorder), 0);
        ok = s3 && zip_file_add(za, "arch/byteorder", s3, 0) >= 0;
    }
    if (!ok) { zip_discard(za); return -1; }
    return zip_close(za);
}

#endif
