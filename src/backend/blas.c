/* Owns the choice of OpenBLAS kernels (see blas.h). OpenBLAS built with
 * DYNAMIC_ARCH (Debian's) picks its kernels by CPU model when it is loaded; a
 * model newer than the library knows gets the generic SSE3 "Prescott" set:
 * Debian 12's 0.3.21 does so on the Xeons with AMX of this project's hosts,
 * where its AVX-512 "SkylakeX" kernels run the XLS-R GEMMs 3-7x faster
 * (bench/RESULTS.md). The choice can only be changed before the library loads
 * (OPENBLAS_CORETYPE), so the sdd command and the benchmark driver restart
 * themselves with it set (sdd_blas_restart, called first in their main). */
#include "backend/blas.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

char *openblas_get_corename(void);
char *openblas_get_config(void);

const char *sdd_blas_core(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

/* OpenBLAS's names for kernel sets without AVX2 and FMA */
static int generic_core(const char *name, int avx2)
{
    static const char *const old[] = { "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                       "Katmai", "Coppermine", "Northwood", "Banias", "Bulldozer" };
    for (size_t k = 0; k < sizeof old / sizeof old[0]; k++)
        if (!strcasecmp(name, old[k])) return 1;
    /* AVX without FMA: behind an AVX2 CPU as well */
    return avx2 && !strcasecmp(name, "Sandybridge");
}

const char *sdd_blas_better_core(void)
{
    const char *env = getenv("OPENBLAS_CORETYPE");
    if (env && *env) return NULL;
    const char *cfg = openblas_get_config(), *core = openblas_get_corename();
    if (!cfg || !strstr(cfg, "DYNAMIC_ARCH") || !core) return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    /* libgcc sets these only when the OS saves the vector registers too */
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                       __builtin_cpu_supports("avx512cd");
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!generic_core(core, avx2)) return NULL;
    return avx512 ? "SkylakeX" : avx2 ? "Haswell" : NULL;
#else
    return NULL;
#endif
}

/* SDD_BLAS_CORE_WAS is "NAME PID": the process's children inherit it, and
 * only the process itself (exec keeps the PID) reads it as its own */
const char *sdd_blas_core_was(void)
{
    static char name[64];
    const char *v = getenv("SDD_BLAS_CORE_WAS");
    long pid = 0;
    if (!v || sscanf(v, "%63s %ld", name, &pid) != 2 || pid != (long)getpid()) return NULL;
    return name;
}

void sdd_blas_restart(char **argv)
{
    const char *core = sdd_blas_better_core();
    if (!core) return;
    char was[96];
    snprintf(was, sizeof was, "%.63s %ld", sdd_blas_core(), (long)getpid());
    /* OPENBLAS_CORETYPE, once set, keeps the new process from restarting again */
    if (!setenv("SDD_BLAS_CORE_WAS", was, 1) && !setenv("OPENBLAS_CORETYPE", core, 1)) execv("/proc/self/exe", argv);
    /* not restarted: no variable left claiming the kernels were chosen by sdd */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("SDD_BLAS_CORE_WAS");
}
