/* Tests for src/data/list.c: every list/protocol format parses (inline text
 * written to temp files), paths are joined with the audio dir as documented,
 * CRLF/BOM/comments/blank lines are accepted, and each error gives its exact
 * "FILE:LINE: reason" message. */
#include "check.h"
#include "data/list.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static void put(const char *name, const char *text)
{
    FILE *f = fopen(name, "wb");
    if (!f) { perror(name); return; }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static int streq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

#define CHECK_STREQ(a, b) CHECK_MSG(streq((a), (b)), "%s = '%s', expected '%s'", #a, \
                                    (a) ? (a) : "(null)", (b) ? (b) : "(null)")

/* Loads NAME with TEXT; returns rc. */
static int load(const char *name, const char *text, const char *dir, sdd_list *l, sdd_err *e)
{
    put(name, text);
    e->msg[0] = 0;
    return sdd_list_load(name, dir, l, e);
}

/* Expects the exact error message. */
static void expect_err(const char *name, const char *text, const char *msg)
{
    sdd_list l;
    sdd_err e;
    int rc = load(name, text, NULL, &l, &e);
    CHECK(rc == -1);
    CHECK(l.n == 0 && l.items == NULL);
    CHECK_MSG(strcmp(e.msg, msg) == 0, "got '%s', expected '%s'", e.msg, msg);
    if (rc == 0) sdd_list_free(&l);
    /* the in-memory parser says the same */
    rc = sdd_list_load_mem(text, strlen(text), name, NULL, SDD_LIST_AUTO, &l, &e);
    CHECK(rc == -1);
    CHECK_MSG(strcmp(e.msg, msg) == 0, "mem: got '%s', expected '%s'", e.msg, msg);
    if (rc == 0) sdd_list_free(&l);
}

static void test_plain(void)
{
    sdd_list l;
    sdd_err e;
    const char *t = "# my list\n"
                    "a.wav bonafide\n"
                    "\n"
                    "  sub/b.flac   spoof   \n"
                    "c.wav\n"
                    "/abs/d.wav\tSPOOF\n"
                    "e.ogg bona-fide\n";
    CHECK_MSG(load("plain.txt", t, "/data/audio", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_PLAIN);
    CHECK(l.n == 5);
    if (l.n == 5) {
        CHECK_STREQ(l.items[0].id, "a.wav");
        CHECK_STREQ(l.items[0].path, "/data/audio/a.wav");
        CHECK(l.items[0].label == SDD_LABEL_BONAFIDE);
        CHECK(l.items[0].line == 2);
        CHECK_STREQ(l.items[1].id, "sub/b.flac");
        CHECK_STREQ(l.items[1].path, "/data/audio/sub/b.flac");
        CHECK(l.items[1].label == SDD_LABEL_SPOOF);
        CHECK(l.items[1].line == 4);
        CHECK(l.items[2].label == SDD_LABEL_NONE);
        CHECK_STREQ(l.items[3].path, "/abs/d.wav");
        CHECK(l.items[3].label == SDD_LABEL_SPOOF);
        CHECK(l.items[4].label == SDD_LABEL_BONAFIDE);
        CHECK(l.items[0].attack == NULL && l.items[0].speaker == NULL);
    }
    sdd_list_free(&l);
    CHECK(l.n == 0 && l.items == NULL);

    /* no audio dir: paths as written; trailing slash on the dir is not doubled */
    CHECK(load("plain2.txt", "x/a.wav\n", NULL, &l, &e) == 0);
    CHECK(l.n == 1 && streq(l.items[0].path, "x/a.wav"));
    sdd_list_free(&l);
    CHECK(load("plain3.txt", "a.wav spoof\n", "dir/", &l, &e) == 0);
    CHECK(l.n == 1 && streq(l.items[0].path, "dir/a.wav"));
    sdd_list_free(&l);
    /* a single path with a directory but no extension is still a path */
    CHECK(load("plain4.txt", "some/file\n", "d", &l, &e) == 0);
    CHECK(l.format == SDD_LIST_PLAIN && l.n == 1 && streq(l.items[0].path, "d/some/file"));
    sdd_list_free(&l);
    /* ITW-style eval list of file names */
    CHECK(load("plain5.txt", "0.wav\n1.wav\n", "itw", &l, &e) == 0);
    CHECK(l.format == SDD_LIST_PLAIN && l.n == 2 && streq(l.items[1].path, "itw/1.wav"));
    sdd_list_free(&l);
}

static void test_asv19(void)
{
    sdd_list l;
    sdd_err e;
    const char *t = "LA_0079 LA_T_1138215 - - bonafide\n"
                    "LA_0079 LA_T_1271820 - A01 spoof\n"
                    "LA_0080 LA_T_1000137 - A06 spoof\n";
    CHECK_MSG(load("proto19.txt", t, "/db/flac", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_ASV19);
    CHECK(l.n == 3);
    if (l.n == 3) {
        CHECK_STREQ(l.items[0].id, "LA_T_1138215");
        CHECK_STREQ(l.items[0].path, "/db/flac/LA_T_1138215.flac");
        CHECK_STREQ(l.items[0].speaker, "LA_0079");
        CHECK(l.items[0].attack == NULL);
        CHECK(l.items[0].label == SDD_LABEL_BONAFIDE);
        CHECK_STREQ(l.items[1].attack, "A01");
        CHECK(l.items[1].label == SDD_LABEL_SPOOF);
        CHECK(l.items[2].line == 3);
        CHECK(l.items[2].subset == NULL && l.items[2].codec == NULL);
    }
    sdd_list_free(&l);
    /* without an audio dir: ID.flac */
    CHECK(load("proto19b.txt", t, NULL, &l, &e) == 0);
    CHECK(l.n == 3 && streq(l.items[2].path, "LA_T_1000137.flac"));
    sdd_list_free(&l);
    /* CRLF + BOM */
    const char *crlf = "\xEF\xBB\xBFLA_0079 LA_T_1138215 - - bonafide\r\n"
                       "LA_0079 LA_T_1271820 - A01 spoof \r\n\r\n";
    CHECK_MSG(load("crlf.txt", crlf, "d", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_ASV19 && l.n == 2);
    if (l.n == 2) {
        CHECK_STREQ(l.items[0].speaker, "LA_0079");
        CHECK(l.items[1].label == SDD_LABEL_SPOOF);
        CHECK_STREQ(l.items[1].path, "d/LA_T_1271820.flac");
    }
    sdd_list_free(&l);
}

static void test_asv21(void)
{
    sdd_list l;
    sdd_err e;
    CHECK(load("trials.txt", "LA_E_9332881\nLA_E_5932896\r\nLA_E_1234567", "/e", &l, &e) == 0);
    CHECK(l.format == SDD_LIST_ASV21_TRIALS);
    CHECK(l.n == 3);
    if (l.n == 3) {
        CHECK_STREQ(l.items[0].id, "LA_E_9332881");
        CHECK_STREQ(l.items[0].path, "/e/LA_E_9332881.flac");
        CHECK(l.items[0].label == SDD_LABEL_NONE);
        CHECK_STREQ(l.items[2].id, "LA_E_1234567");
    }
    sdd_list_free(&l);

    const char *la = "LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\n"
                     "LA_0031 LA_E_5932896 alaw ita_tx bonafide bonafide notrim progress\n";
    CHECK_MSG(load("la_key.txt", la, "/la", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_ASV21_LA_KEY);
    CHECK(l.n == 2);
    if (l.n == 2) {
        CHECK_STREQ(l.items[0].id, "LA_E_9332881");
        CHECK_STREQ(l.items[0].speaker, "LA_0009");
        CHECK_STREQ(l.items[0].attack, "A07");
        CHECK_STREQ(l.items[0].codec, "alaw");
        CHECK_STREQ(l.items[0].subset, "eval");
        CHECK(l.items[0].label == SDD_LABEL_SPOOF);
        CHECK(l.items[1].label == SDD_LABEL_BONAFIDE);
        CHECK(l.items[1].attack == NULL);
        CHECK_STREQ(l.items[1].subset, "progress");
        CHECK_STREQ(l.items[1].path, "/la/LA_E_5932896.flac");
    }
    sdd_list_free(&l);

    const char *df = "LA_0043 DF_E_2000026 mp3m4a asvspoof A09 spoof notrim eval traditional_vocoder "
                     "- - - -\n"
                     "VCC2018 DF_E_2000027 nocodec vcc2018 bonafide bonafide notrim progress - - "
                     "- - -\n";
    CHECK_MSG(load("df_key.txt", df, NULL, &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_ASV21_DF_KEY);
    CHECK(l.n == 2);
    if (l.n == 2) {
        CHECK_STREQ(l.items[0].id, "DF_E_2000026");
        CHECK_STREQ(l.items[0].codec, "mp3m4a");
        CHECK_STREQ(l.items[0].attack, "A09");
        CHECK(l.items[0].label == SDD_LABEL_SPOOF);
        CHECK(l.items[1].label == SDD_LABEL_BONAFIDE);
        CHECK_STREQ(l.items[1].path, "DF_E_2000027.flac");
    }
    sdd_list_free(&l);

    const char *a5 = "T_4850 T_0000000000 F - - - AC3 A05 spoof -\n"
                     "T_4851 T_0000000001 M - - - - bonafide bonafide -\n";
    CHECK_MSG(load("asv5.tsv", a5, "flac_T", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_ASV5);
    CHECK(l.n == 2);
    if (l.n == 2) {
        CHECK_STREQ(l.items[0].id, "T_0000000000");
        CHECK_STREQ(l.items[0].path, "flac_T/T_0000000000.flac");
        CHECK_STREQ(l.items[0].attack, "A05");
        CHECK(l.items[0].label == SDD_LABEL_SPOOF);
        CHECK(l.items[1].attack == NULL);
        CHECK(l.items[1].label == SDD_LABEL_BONAFIDE);
    }
    sdd_list_free(&l);
}

static void test_csv(void)
{
    sdd_list l;
    sdd_err e;
    const char *itw = "\xEF\xBB\xBF" "file,speaker,label\r\n"
                      "0.wav,Alec Guinness,spoof\r\n"
                      "1.wav,Alec Guinness,bona-fide\r\n"
                      "\r\n"
                      "\"2,x.wav\",\"Barack \"\"B\"\" Obama\",bona-fide\r\n";
    CHECK_MSG(load("meta.csv", itw, "/itw/", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_ITW);
    CHECK(l.n == 3);
    if (l.n == 3) {
        CHECK_STREQ(l.items[0].id, "0.wav");
        CHECK_STREQ(l.items[0].path, "/itw/0.wav");
        CHECK_STREQ(l.items[0].speaker, "Alec Guinness");
        CHECK(l.items[0].label == SDD_LABEL_SPOOF);
        CHECK(l.items[1].label == SDD_LABEL_BONAFIDE);
        CHECK(l.items[1].line == 3);
        CHECK_STREQ(l.items[2].id, "2,x.wav");
        CHECK_STREQ(l.items[2].speaker, "Barack \"B\" Obama");
        CHECK(l.items[2].line == 5);
    }
    sdd_list_free(&l);

    const char *fr = "file,label\n"
                     "fake/file1848.wav_16k.wav_norm.wav_mono.wav_silence,spoof\n"
                     "real/file2.wav,bona-fide\n";
    CHECK_MSG(load("for.csv", fr, "for", &l, &e) == 0, "%s", e.msg);
    CHECK(l.format == SDD_LIST_FOR);
    CHECK(l.n == 2);
    if (l.n == 2) {
        CHECK_STREQ(l.items[0].id, "fake/file1848.wav_16k.wav_norm.wav_mono.wav_silence");
        CHECK_STREQ(l.items[0].path, "for/fake/file1848.wav_16k.wav_norm.wav_mono.wav_silence.wav");
        CHECK(l.items[0].speaker == NULL);
        CHECK_STREQ(l.items[1].path, "for/real/file2.wav");
        CHECK(l.items[1].label == SDD_LABEL_BONAFIDE);
    }
    sdd_list_free(&l);

    /* header columns found by name, in any order */
    CHECK(load("ord.csv", "label,file\nspoof,a.wav\n", NULL, &l, &e) == 0);
    CHECK(l.n == 1 && streq(l.items[0].id, "a.wav") && l.items[0].label == SDD_LABEL_SPOOF);
    sdd_list_free(&l);
}

static void test_explicit_format(void)
{
    sdd_list l;
    sdd_err e = { "" };
    /* a one-column list forced to plain keeps the names as paths */
    put("forced.txt", "LA_E_1\nLA_E_2\n");
    CHECK(sdd_list_load_fmt("forced.txt", "d", SDD_LIST_PLAIN, &l, &e) == 0);
    CHECK(l.format == SDD_LIST_PLAIN && l.n == 2 && streq(l.items[0].path, "d/LA_E_1"));
    sdd_list_free(&l);
    CHECK(sdd_list_load_fmt("forced.txt", "d", SDD_LIST_ASV19, &l, &e) == -1);
    CHECK_STREQ(e.msg, "forced.txt:1: expected 5 columns, got 1");
    CHECK(sdd_list_load_fmt("forced.txt", "d", SDD_LIST_FOR, &l, &e) == -1);
    CHECK_STREQ(e.msg, "forced.txt:1: expected a CSV header naming file and label columns");
    CHECK(sdd_list_load_fmt("forced.txt", "d", (sdd_list_format)99, &l, &e) == -1);
    CHECK_STREQ(e.msg, "forced.txt: unknown list format 99");

    CHECK(sdd_list_format_parse("asv19") == SDD_LIST_ASV19);
    CHECK(sdd_list_format_parse("ITW") == SDD_LIST_ITW);
    CHECK(sdd_list_format_parse("nope") == -1);
    for (int f = SDD_LIST_AUTO; f <= SDD_LIST_FOR; f++)
        CHECK(sdd_list_format_parse(sdd_list_format_name(f)) == f);
    CHECK_STREQ(sdd_list_format_name(42), "unknown");
}

static void test_errors(void)
{
    expect_err("proto.txt",
               "LA_0079 LA_T_1138215 - - bonafide\n"
               "LA_0079 LA_T_1000137 - A01 spoof\n"
               "# comment\n"
               "\n"
               "LA_0079 LA_T_1271820 - A01 spoof\n"
               "LA_0079 LA_T_1271821 - A01 spoof\n"
               "LA_0079 LA_T_1271822 - A01 spoof\n"
               "LA_0079 LA_T_1271823 - A01 spoof\n"
               "LA_0080 LA_T_1000137 - A02 spoof\n",
               "proto.txt:9: duplicate ID LA_T_1000137 (first on line 2)");
    expect_err("proto.txt",
               "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoof\nLA_0079 LA_T_3 - A01 fake\n",
               "proto.txt:3: unknown label 'fake' (expected bonafide or spoof)");
    expect_err("proto.txt",
               "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoof\nLA_0079 LA_T_3 spoof\n",
               "proto.txt:3: expected 5 columns, got 3");
    expect_err("proto.txt", "", "proto.txt: no entries");
    expect_err("proto.txt", "\n# only a comment\n\r\n   \n", "proto.txt: no entries");
    expect_err("proto.txt", "\xEF\xBB\xBF", "proto.txt: no entries");
    expect_err("list.txt", "a.wav bonafide\nb.wav fake\n",
               "list.txt:2: unknown label 'fake' (expected bonafide or spoof)");
    expect_err("list.txt", "a.wav bonafide\nb.wav spoof extra\n",
               "list.txt:2: expected 1 or 2 columns (PATH [LABEL]), got 3");
    expect_err("list.txt", "a.wav\nb.wav\na.wav\n", "list.txt:3: duplicate ID a.wav (first on line 1)");
    expect_err("list.txt", "a b c d\n",
               "list.txt:1: cannot tell the list format from 4 columns (expected PATH [LABEL], a "
               "trial list, an ASVspoof 2019 (5), 2021 key (8 or 13) or ASVspoof 5 (10 column) "
               "protocol, or a CSV with file and label columns)");
    expect_err("trials.txt", "LA_E_1\nLA_E_2 x\n", "trials.txt:2: expected 1 column, got 2");
    expect_err("key.txt",
               "LA_0009 LA_E_1 alaw ita_tx A07 spoof notrim eval\n"
               "LA_0009 LA_E_2 alaw ita_tx A07 spoof notrim\n",
               "key.txt:2: expected 8 columns, got 7");
    expect_err("meta.csv", "file,speaker,label\n0.wav,A,spoof\n1.wav,bona-fide\n",
               "meta.csv:3: expected 3 columns, got 2");
    expect_err("meta.csv", "file,speaker,label\n0.wav,A,fake\n",
               "meta.csv:2: unknown label 'fake' (expected bonafide or spoof)");
    expect_err("meta.csv", "file,speaker,label\n0.wav,A,spoof\n0.wav,B,spoof\n",
               "meta.csv:3: duplicate ID 0.wav (first on line 2)");
    expect_err("meta.csv", "file,speaker,label\n\"0.wav,A,spoof\n",
               "meta.csv:2: unterminated quoted field");
    expect_err("meta.csv", "file,speaker,label\n,A,spoof\n", "meta.csv:2: empty file name");
    expect_err("meta.csv", "file,speaker,label\n", "meta.csv: no entries");

    /* NUL bytes: the file is not a text list */
    sdd_list l;
    sdd_err e;
    put("bin.txt", "a.wav\n");
    FILE *f = fopen("bin.txt", "ab");
    fwrite("b\0c\n", 1, 4, f);
    fclose(f);
    CHECK(sdd_list_load("bin.txt", NULL, &l, &e) == -1);
    CHECK_STREQ(e.msg, "bin.txt:2: contains a NUL byte (not a text list?)");
    CHECK(sdd_list_load_mem("a\0b", 3, "m", NULL, SDD_LIST_AUTO, &l, &e) == -1);
    CHECK_STREQ(e.msg, "m:1: contains a NUL byte (not a text list?)");

    CHECK(sdd_list_load("missing.txt", NULL, &l, &e) == -1);
    CHECK_STREQ(e.msg, "missing.txt: No such file or directory");
    CHECK(mkdir("adir", 0755) == 0);
    CHECK(sdd_list_load("adir", NULL, &l, &e) == -1);
    CHECK_STREQ(e.msg, "adir: is a directory");
    rmdir("adir");
}

static void test_long_lines_and_mem(void)
{
    /* a 200 kB path: no fixed line buffer */
    size_t L = 200000;
    char *text = malloc(L + 64);
    memset(text, 'p', L);
    memcpy(text + L, ".wav spoof\nb.wav\n", 18);
    sdd_list l;
    sdd_err e;
    CHECK_MSG(load("long.txt", text, NULL, &l, &e) == 0, "%s", e.msg);
    CHECK(l.n == 2 && strlen(l.items[0].id) == L + 4);
    sdd_list_free(&l);

    /* memory parser: no trailing newline, not NUL-terminated */
    const char *t = "LA_0079 LA_T_1 - - bonafide\nLA_0079 LA_T_2 - A01 spoofXXXX";
    CHECK(sdd_list_load_mem(t, strlen(t) - 4, "mem", "d", SDD_LIST_AUTO, &l, &e) == 0);
    CHECK(l.n == 2 && l.items[1].label == SDD_LABEL_SPOOF);
    sdd_list_free(&l);
    CHECK(sdd_list_load_mem(NULL, 0, "nothing", NULL, SDD_LIST_AUTO, &l, &e) == -1);
    CHECK_STREQ(e.msg, "nothing: no entries");
    sdd_list_free(NULL);
    free(text);

    /* many entries (hash table growth) */
    size_t cap = 60000 * 40, k = 0;
    char *big = malloc(cap);
    for (int i = 0; i < 60000; i++)
        k += (size_t)snprintf(big + k, cap - k, "LA_0001 LA_T_%07d - A01 spoof\n", i);
    CHECK(sdd_list_load_mem(big, k, "big", NULL, SDD_LIST_AUTO, &l, &e) == 0);
    CHECK(l.n == 60000 && l.items[59999].line == 60000);
    sdd_list_free(&l);
    k += (size_t)snprintf(big + k, cap - k, "LA_0001 LA_T_%07d - A01 spoof\n", 31337);
    CHECK(sdd_list_load_mem(big, k, "big", NULL, SDD_LIST_AUTO, &l, &e) == -1);
    CHECK_STREQ(e.msg, "big:60001: duplicate ID LA_T_0031337 (first on line 31338)");
    free(big);
}

static void cleanup(void)
{
    DIR *d = opendir(".");
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) unlink(de->d_name);
    if (d) closedir(d);
}

int main(void)
{
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return 1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sdd_test_list_XXXXXX");
    if (!mkdtemp(tmpdir) || chdir(tmpdir) != 0) {
        perror("tmpdir");
        return 1;
    }
    test_plain();
    test_asv19();
    test_asv21();
    test_csv();
    test_explicit_format();
    test_errors();
    test_long_lines_and_mem();
    cleanup();
    if (chdir(cwd) == 0) rmdir(tmpdir);
    return CHECK_DONE("test_list");
}
