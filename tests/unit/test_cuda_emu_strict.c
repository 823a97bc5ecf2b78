/* The CUDA emulation refuses what a GPU would refuse or fault on
 * (src/backend/cuda_emu.h): each probe of tests/unit/emu_probe.cu runs in a
 * child process, and a wrong one must end it with the expected line on stderr
 * (or a fault on a guard page), while the right one runs to its end with the
 * right values. Without these, test_cuda_emu's passing would say nothing
 * about host pointers handed to kernels, launch limits or out-of-bounds
 * device accesses. */
#include "check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>

const char *emu_probe_name(int which);
int emu_probe(int which);

typedef struct {
    int which;
    int exit_code;      /* >= 0: the child must exit with it; -1: it must be killed by SIGABRT; -2: by a fault */
    const char *line;   /* what stderr must contain (NULL: nothing checked; "" : stderr empty) */
} expect;

static const expect cases[] = {
    { 0, 0, "" },
    { 1, -1, "cuda emulation: k_probe_scale: argument 1 (" },
    { 2, -1, "k_probe_scale: launch configuration a GPU refuses: grid (1, 65536, 1), block (32, 1, 1)" },
    { 3, -1, "launch configuration a GPU refuses: grid (0, 1, 1)" },
    { 4, -1, "launch configuration a GPU refuses: grid (1, 1, 1), block (1025, 1, 1)" },
    { 5, -1, "block (32, 1, 1), 65536 bytes of shared memory" },
    { 6, -2, NULL },
    { 7, -2, NULL },
    { 8, -1, "cuda emulation: cudaMemcpy: destination " },
    { 9, -1, "cuda emulation: cudaMemcpy: source range [" },
    { 10, -1, "cuda emulation: cudaMemset: destination range [" },
    { 11, -1, "cuda emulation: cublasSgemm: matrix A (10 x 10, ld 10 at " },
    { 12, -1, "cuda emulation: cublasSgemmBatched: a pointer array is not device memory" },
    { 13, -1, "cuda emulation: cublasSgemm: matrix B (10 x 10, ld 10 at " },
    { 14, 1, "" },
};

static void run_case(const expect *x)
{
    char errpath[64];
    snprintf(errpath, sizeof errpath, "/tmp/sdd-emu-probe-%d-%d.err", (int)getpid(), x->which);
    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) { CHECK_MSG(0, "fork failed"); return; }
    if (pid == 0) {
        /* stderr onto the file, unbuffered as it was: abort() flushes nothing */
        const int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0) _exit(99);
        close(fd);
        const int rc = emu_probe(x->which);
        fflush(NULL);
        _exit(rc);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    char err[4096] = "";
    FILE *f = fopen(errpath, "r");
    if (f) {
        const size_t n = fread(err, 1, sizeof err - 1, f);
        err[n] = 0;
        fclose(f);
    }
    unlink(errpath);
    const char *name = emu_probe_name(x->which);
    if (x->exit_code >= 0)
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == x->exit_code, "probe %d (%s): status 0x%x, expected exit %d; stderr: %s",
                  x->which, name, st, x->exit_code, err);
    else if (x->exit_code == -1)
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "probe %d (%s): status 0x%x, expected SIGABRT; stderr: %s",
                  x->which, name, st, err);
    else   /* a fault: SIGSEGV, or under AddressSanitizer its SEGV report and exit 1 */
        CHECK_MSG((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) || (WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(err, "SEGV")),
                  "probe %d (%s): status 0x%x, expected a fault; stderr: %s", x->which, name, st, err);
    if (x->line && !*x->line) CHECK_MSG(!*err, "probe %d (%s): stderr not empty: %s", x->which, name, err);
    else if (x->line) CHECK_MSG(strstr(err, x->line) != NULL, "probe %d (%s): stderr lacks '%s': %s", x->which, name, x->line, err);
    if (x->line && *x->line) {   /* one line: the reason, nothing else */
        const char *nl = strchr(err, '\n');
        CHECK_MSG(nl && nl[1] == 0, "probe %d (%s): not one line: %s", x->which, name, err);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i]);
    CHECK(emu_probe_name(15) == NULL);
    return CHECK_DONE("test_cuda_emu_strict");
}
