/* libFuzzer target for the .pth importer (sdd_pth_load_mem). The first input
 * byte picks the mode:
 *   even: the rest is the archive itself (zip parsing, member lookup, CRCs);
 *   odd:  the rest is data.pkl, wrapped here into a valid stored zip with
 *         fz/data/0 .. fz/data/15 (256 bytes each) so mutations reach the
 *         pickle machine instead of failing the CRC check.
 * Checks the contract: success gives consistent, unique, readable tensors;
 * failure gives an empty set and one line naming the input. */
#include "io/pth.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc_tab[256];

static uint32_t crc32_buf(const unsigned char *p, size_t n)
{
    if (!crc_tab[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            crc_tab[i] = c;
        }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) c = crc_tab[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

typedef struct { unsigned char *b; size_t n, cap; } buf;

static void put(buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) return;   /* sized up front; never happens */
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void u16(buf *o, unsigned v) { unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)}; put(o, b, 2); }
static void u32(buf *o, uint32_t v) { u16(o, v & 0xffff); u16(o, v >> 16); }

#define NMEM 17

/* A stored (uncompressed) zip holding fz/data.pkl = pkl and the storages. */
static unsigned char *wrap(const unsigned char *pkl, size_t n, size_t *outn)
{
    static unsigned char storage[256];
    for (int i = 0; i < 256; i++) storage[i] = (unsigned char)(i * 7 + 3);
    char names[NMEM][32];
    const unsigned char *data[NMEM];
    size_t len[NMEM];
    uint32_t off[NMEM], crc[NMEM];
    snprintf(names[0], sizeof names[0], "fz/data.pkl");
    data[0] = pkl;
    len[0] = n;
    for (int i = 1; i < NMEM; i++) {
        snprintf(names[i], sizeof names[i], "fz/data/%d", i - 1);
        data[i] = storage;
        len[i] = sizeof storage;
    }
    buf o = { NULL, 0, n + NMEM * (256 + 200) + 100 };
    o.b = malloc(o.cap);
    if (!o.b) return NULL;
    for (int i = 0; i < NMEM; i++) {
        size_t nl = strlen(names[i]);
        off[i] = (uint32_t)o.n;
        crc[i] = crc32_buf(data[i], len[i]);
        u32(&o, 0x04034b50); u16(&o, 20); u16(&o, 0); u16(&o, 0); u16(&o, 0); u16(&o, 0x21);
        u32(&o, crc[i]); u32(&o, (uint32_t)len[i]); u32(&o, (uint32_t)len[i]);
        u16(&o, (unsigned)nl); u16(&o, 0);
        put(&o, names[i], nl);
        put(&o, data[i], len[i]);
    }
    uint32_t cd = (uint32_t)o.n;
    for (int i = 0; i < NMEM; i++) {
        size_t nl = strlen(names[i]);
        u32(&o, 0x02014b50); u16(&o, 20); u16(&o, 20); u16(&o, 0); u16(&o, 0); u16(&o, 0);
        u16(&o, 0x21); u32(&o, crc[i]); u32(&o, (uint32_t)len[i]); u32(&o, (uint32_t)len[i]);
        u16(&o, (unsigned)nl); u16(&o, 0); u16(&o, 0); u16(&o, 0); u16(&o, 0); u32(&o, 0);
        u32(&o, off[i]);
        put(&o, names[i], nl);
    }
    uint32_t cdsize = (uint32_t)o.n - cd;
    u32(&o, 0x06054b50); u16(&o, 0); u16(&o, 0); u16(&o, NMEM); u16(&o, NMEM);
    u32(&o, cdsize); u32(&o, cd); u16(&o, 0);
    *outn = o.n;
    return o.b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned char *zipb = NULL;
    const unsigned char *in = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        zipb = wrap(in, n, &n);
        if (!zipb) return 0;
        in = zipb;
    }
    sdd_tensorset ts;
    sdd_pth_info info;
    sdd_err e = { "" };
    int rc = sdd_pth_load_mem_ex(in, n, "fuzz.pth", &ts, &info, &e);
    if (rc == 0) {
        volatile unsigned sum = 0;
        for (int i = 0; i < ts.n; i++) {
            const sdd_ntensor *t = &ts.t[i];
            int64_t numel;
            if (!t->name || sdd_tensorset_find(&ts, t->name) != t) __builtin_trap();
            if (sdd_shape_numel(t->ndim, t->shape, &numel) < 0 ||
                (uint64_t)numel * sdd_dtype_size(t->dtype) != t->nbytes)
                __builtin_trap();
            for (size_t k = 0; k < t->nbytes; k++) sum += ((const unsigned char *)t->data)[k];
        }
        if (info.skipped < 0) __builtin_trap();
        sdd_tensorset_free(&ts);
    } else {
        if (rc != -1 || ts.n != 0 || ts.t) __builtin_trap();
        if (strncmp(e.msg, "fuzz.pth: ", 10) != 0 || strchr(e.msg, '\n')) __builtin_trap();
    }
    free(zipb);
    return 0;
}
