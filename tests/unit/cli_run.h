/* Running the sdd binary from a test: the command line is printf-formatted,
 * run through the shell with stderr joined to stdout, and its output kept in
 * the caller's buffer. Tests say $SDD for the binary under test (set from
 * SDD_BIN by make test; see each test's main). Header-only, for tests. */
#ifndef SDD_TESTS_CLI_RUN_H
#define SDD_TESTS_CLI_RUN_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* The binary under test: $SDD_BIN (make test sets it; unset or empty:
 * ./sdd), also exported as $SDD, the name the test commands use. */
static inline const char *cli_bin(void)
{
    const char *b = getenv("SDD_BIN");
    if (!b || !*b) b = "./sdd";
    setenv("SDD", b, 1);
    return b;
}

/* The exit status of the command, -1 if it could not run or was killed.
 * out gets the first cap-1 bytes of its output, NUL-terminated. */
__attribute__((format(printf, 3, 4)))
static int cli_run(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[8192], full[8300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ROOT/REL (a test data file made absolute, for commands run in another
 * folder) in one of 16 buffers of its own: valid for the next 15 calls */
static inline const char *cli_root_path(const char *root, const char *rel)
{
    static char buf[16][4200];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

/* the output is exactly one line (a one-line error message) */
static inline int cli_one_line(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl && !nl[1];
}

static inline int cli_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

#endif
