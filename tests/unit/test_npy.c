/* NumPy reader (io/npy.c) and C012 files (metrics/c012.c): the .npy files
 * numpy writes (tools/reference/c012_ref.py: float64/float32, versions 1-3,
 * a 0-d array, np.save of an object array) and the eval-package's pickled
 * C012 dictionary, read value for value; then bad input: every truncation and
 * single-byte corruptions of the fixtures (a clean error or a result, never a
 * crash), unsupported globals and opcodes, broken headers, and dictionaries
 * that are not C012 tables, each with a message naming the file. */
#include "check.h"
#include "io/npy.h"
#include "metrics/c012.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IO "tests/data/io/"
#define C012_FILE "tests/data/metrics/asv21_la_c012.npy"

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = malloc(1 << 16);
    *n = b ? fread(b, 1, 1 << 16, f) : 0;
    fclose(f);
    return b;
}

static void test_numeric(void)
{
    sdd_npy f;
    sdd_err e;
    const char *files[2] = { IO "npy_f8_2x3.npy", IO "npy_f4_2x3.npy" };
    for (int q = 0; q < 2; q++) {
        CHECK_MSG(sdd_npy_load(files[q], &f, &e) == 0, "%s", e.msg);
        if (!f.root) continue;
        CHECK(f.root->kind == SDD_PY_ARRAY && !f.root->is_object && !f.pickled);
        CHECK(f.root->ndim == 2 && f.root->shape[0] == 2 && f.root->shape[1] == 3 && f.root->n == 6);
        for (int k = 0; k < 6 && f.root->n == 6; k++) {
            const double want = ((double)k - 2.5) / 3.0;
            CHECK_MSG(f.root->data[k] == (q ? (double)(float)want : want), "%s[%d] = %.17g", files[q], k, f.root->data[k]);
        }
        sdd_npy_free(&f);
    }
    for (int v = 2; v <= 3; v++) {   /* header lengths of 4 bytes */
        char path[64];
        snprintf(path, sizeof path, IO "npy_f8_v%d.npy", v);
        CHECK_MSG(sdd_npy_load(path, &f, &e) == 0, "%s", e.msg);
        CHECK(f.root && f.root->ndim == 1 && f.root->n == 3 && f.root->data[0] == (3.0 - 2.5) / 3.0);
        sdd_npy_free(&f);
    }
    CHECK_MSG(sdd_npy_load(IO "npy_f8_scalar.npy", &f, &e) == 0, "%s", e.msg);
    CHECK(f.root && f.root->ndim == 0 && f.root->n == 1 && f.root->data[0] == 0.1);
    sdd_npy_free(&f);
}

static void test_c012_pickle(void)
{
    sdd_npy f;
    sdd_err e;
    CHECK_MSG(sdd_npy_load(C012_FILE, &f, &e) == 0, "%s", e.msg);
    if (!f.root) return;
    /* np.array(dict).dump: a pickled 0-d object array holding the dict */
    CHECK(f.pickled && f.root->kind == SDD_PY_ARRAY && f.root->is_object && f.root->ndim == 0 && f.root->n == 1);
    const sdd_py *d = f.root->n == 1 ? f.root->v[0] : NULL;
    CHECK(d && d->kind == SDD_PY_DICT && d->n == 5);
    const sdd_py *pp = sdd_py_dict_get(sdd_py_dict_get(d, "Pooled"), "Pooled");
    const sdd_py *c0 = sdd_py_dict_get(pp, "C0"), *nan0 = sdd_py_dict_get(sdd_py_dict_get(sdd_py_dict_get(d, "A13"), "gsm"), "C0");
    CHECK(c0 && c0->kind == SDD_PY_FLOAT && c0->f > 0 && c0->f < 1);
    CHECK(nan0 && nan0->kind == SDD_PY_FLOAT && isnan(nan0->f));
    CHECK(sdd_py_dict_get(sdd_py_dict_get(d, "A19"), "opus") == NULL);
    CHECK(sdd_py_dict_get(d, "nope") == NULL && sdd_py_dict_get(c0, "C0") == NULL);
    sdd_c012 c;
    CHECK_MSG(sdd_c012_from_npy(&f, C012_FILE, &c, &e) == 0, "%s", e.msg);
    CHECK(c.n == 24);   /* 5 x 5 cells, one left out */
    sdd_tdcf_coef k;
    CHECK(sdd_c012_get(&c, NULL, NULL, &k) == 0 && k.form == 2021 && k.c0 == c0->f);
    CHECK(sdd_c012_get(&c, "A13", "gsm", &k) == -1);
    CHECK(sdd_c012_get(&c, "A19", "opus", &k) == -1);
    CHECK(sdd_c012_get(&c, "A07", NULL, &k) == 0 && k.c1 > 0);
    sdd_c012_free(&c);
    sdd_npy_free(&f);
    /* np.save of the object array: .npy header '|O', then the pickle */
    CHECK_MSG(sdd_c012_load(IO "npy_c012_save.npy", &c, &e) == 0, "%s", e.msg);
    CHECK(c.n == 24);
    sdd_c012_free(&c);
}

/* every prefix fails cleanly; single-byte changes give a result or an error */
static void test_damage(void)
{
    const char *files[] = { C012_FILE, IO "npy_c012_save.npy", IO "npy_f8_2x3.npy" };
    for (size_t q = 0; q < sizeof files / sizeof files[0]; q++) {
        size_t n = 0;
        unsigned char *b = slurp(files[q], &n);
        CHECK(b && n > 100);
        if (!b) continue;
        int bad_prefix = 0, named = 1;
        for (size_t len = 0; len < n; len++) {
            sdd_npy f;
            sdd_err e = { { 0 } };
            if (sdd_npy_parse(b, len, "F.npy", &f, &e) == 0) { bad_prefix++; sdd_npy_free(&f); }
            else named &= !strncmp(e.msg, "F.npy: ", 7) && f.root == NULL && f.all == NULL;
        }
        CHECK_MSG(bad_prefix == 0, "%s: %d truncations were accepted", files[q], bad_prefix);
        CHECK(named);
        static const unsigned char vals[] = { 0x00, 0xff, 0x80, '(', 'X', 'h' };
        for (size_t i = 0; i < n; i++)
            for (size_t v = 0; v < sizeof vals; v++) {
                const unsigned char keep = b[i];
                b[i] = vals[v];
                sdd_npy f;
                sdd_err e;
                if (sdd_npy_parse(b, n, "F.npy", &f, &e) == 0) {
                    sdd_c012 c;
                    if (sdd_c012_from_npy(&f, "F.npy", &c, &e) == 0) sdd_c012_free(&c);
                    sdd_npy_free(&f);
                }
                b[i] = keep;
            }
        free(b);
    }
}

static int parse_err(const void *buf, size_t n, sdd_err *e)
{
    sdd_npy f;
    const int rc = sdd_npy_parse(buf, n, "bad.npy", &f, e);
    if (!rc) sdd_npy_free(&f);
    return rc;
}

static int c012_err(const void *buf, size_t n, sdd_err *e)
{
    sdd_npy f;
    if (sdd_npy_parse(buf, n, "t.npy", &f, e)) return -2;
    sdd_c012 c;
    const int rc = sdd_c012_from_npy(&f, "t.npy", &c, e);
    if (!rc) sdd_c012_free(&c);
    sdd_npy_free(&f);
    return rc;
}

static void test_bad_input(void)
{
    sdd_err e;
    /* nothing is imported: os.system('ls') */
    static const char evil[] = "\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00ls" "\x85R.";
    CHECK(parse_err(evil, sizeof evil - 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "bad.npy: pickle at byte 2: unsupported global os.system");
    static const char evil4[] = "\x80\x04\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93X\x01\x00\x00\x00" "1\x85R.";
    CHECK(parse_err(evil4, sizeof evil4 - 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "unsupported global builtins.eval");
    CHECK(parse_err("", 0, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "bad.npy: not a NumPy file");
    CHECK(parse_err("C0 C1 C2\n", 9, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "not a NumPy file");
    CHECK(parse_err("\x80\x02h\x05.", 5, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "memo entry not set");
    CHECK(parse_err("\x80\x02]]", 4, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no STOP");
    CHECK(parse_err("\x80\x02]].", 5, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "more than one object");
    CHECK(parse_err("\x80\x02\xff.", 4, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "unsupported opcode 0xff");
    CHECK(parse_err("\x80\x02X\xff\xff\x00\x00ab.", 10, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "runs past the end");
    CHECK(parse_err("\x80\x02\x8a\x09", 4, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "wider than 64 bits");
    /* .npy headers */
    static const char v4[] = "\x93NUMPY\x04\x00\x10\x00{'descr': '<f8'}";
    CHECK(parse_err(v4, sizeof v4 - 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "version 4.0");
    char h[256];
    const char *hdrs[] = {
        "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
        "{'descr': '<f8', 'fortran_order': False, }",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
        "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
    };
    const char *want[] = { "dtype '>f8' is not supported", "data is 8 bytes, the header's shape needs 32",
                           "lacks descr, fortran_order or shape", "dtype '<i8' is not supported",
                           "Fortran-ordered", "bad .npy shape" };
    for (int i = 0; i < 6; i++) {
        const size_t hl = strlen(hdrs[i]);
        memcpy(h, "\x93NUMPY\x01\x00", 8);
        h[8] = (char)hl;
        h[9] = 0;
        memcpy(h + 10, hdrs[i], hl);
        memset(h + 10 + hl, 0, 8);   /* one float64 of data */
        CHECK(parse_err(h, 10 + hl + 8, &e) == -1);
        CHECK_STR_CONTAINS(e.msg, want[i]);
    }
    /* not C012 tables */
    CHECK(c012_err("\x80\x02]q\x00.", 6, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "t.npy: expected the ASVspoof 2021 C012 dictionary");
    CHECK_STR_CONTAINS(e.msg, "found a list");
    /* {'A07': {'none': {'C0': 1.0}}} */
    static const char nc1[] = "\x80\x02}(X\x03\x00\x00\x00" "A07}(X\x04\x00\x00\x00" "none}(X\x02\x00\x00\x00" "C0"
                              "G\x3f\xf0\x00\x00\x00\x00\x00\x00uuu.";
    CHECK(c012_err(nc1, sizeof nc1 - 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "t.npy: C012['A07']['none'] has no numeric 'C1'");
    /* {'A07': {'none': {'C0': 1.0, 'C1': 2, 'C2': 0.5}}}: no pooled entry */
    static const char np1[] = "\x80\x02}(X\x03\x00\x00\x00" "A07}(X\x04\x00\x00\x00" "none}(X\x02\x00\x00\x00" "C0"
                              "G\x3f\xf0\x00\x00\x00\x00\x00\x00X\x02\x00\x00\x00" "C1K\x02X\x02\x00\x00\x00" "C2"
                              "G\x3f\xe0\x00\x00\x00\x00\x00\x00uuu.";
    CHECK(c012_err(np1, sizeof np1 - 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "no C012['Pooled']['Pooled']");
    /* {'A07': 3} */
    static const char wr[] = "\x80\x02}X\x03\x00\x00\x00" "A07K\x03s.";
    CHECK(c012_err(wr, sizeof wr - 1, &e) == -1);
    CHECK_STR_CONTAINS(e.msg, "expected an attack name -> dict of codecs");
}

int main(void)
{
    test_numeric();
    test_c012_pickle();
    test_damage();
    test_bad_input();
    return CHECK_DONE("test_npy");
}
