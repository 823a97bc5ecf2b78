/* Thread count for the whole library: OpenMP regions and OpenBLAS calls. */
#ifndef SDD_CORE_THREADS_H
#define SDD_CORE_THREADS_H

/* Uses n threads (n <= 0: all cores) for OpenMP and OpenBLAS. */
void sdd_threads_set(int n);

#endif
