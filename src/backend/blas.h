/* Which OpenBLAS kernels this process runs, and a better choice when
 * OpenBLAS did not recognise the CPU (see blas.c). */
#ifndef SDD_BACKEND_BLAS_H
#define SDD_BACKEND_BLAS_H

/* The kernel set OpenBLAS runs ("SkylakeX", "Haswell", "Prescott", ...). */
const char *sdd_blas_core(void);

/* The kernel set to ask OpenBLAS for through OPENBLAS_CORETYPE, or NULL to
 * keep its own: non-NULL only when OPENBLAS_CORETYPE is unset, OpenBLAS was
 * built to choose at run time (DYNAMIC_ARCH), it chose an SSE-era generic
 * set, and this CPU (with the OS) supports AVX-512 ("SkylakeX") or AVX2 with
 * FMA ("Haswell"). */
const char *sdd_blas_better_core(void);

/* For a program's main, before it reads or writes anything: where
 * sdd_blas_better_core() names a kernel set, sets OPENBLAS_CORETYPE to it
 * (and SDD_BLAS_CORE_WAS to OpenBLAS's own choice) and execs the program
 * again with the same arguments (the same process and open files). Returns
 * only when there is nothing to do or the exec failed (the environment then
 * as it was). */
void sdd_blas_restart(char **argv);

/* The kernel set OpenBLAS had chosen when this process restarted itself
 * (sdd_blas_restart), else NULL. */
const char *sdd_blas_core_was(void);

#endif
