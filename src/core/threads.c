/* Owns the library-wide thread setting (see threads.h). */
#include "core/threads.h"
#include <omp.h>

void openblas_set_num_threads(int);

void sdd_threads_set(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}
