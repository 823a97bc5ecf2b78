/* Owns the process group of data-parallel training (see dist.h): Open MPI
 * when compiled with SDD_MPI, the one-rank identity otherwise. */
#include "dist/dist.h"
#include <omp.h>
#include <stdlib.h>
#ifdef SDD_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1;
#ifdef SDD_MPI
static int g_started = 0;
#endif
static sdd_dist_stats g_st;

int sdd_dist_built(void)
{
#ifdef SDD_MPI
    return 1;
#else
    return 0;
#endif
}

int sdd_dist_init(sdd_err *e)
{
#ifdef SDD_MPI
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return sdd_err_set(e, "MPI_Init_thread failed");
        g_started = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
#else
    /* started by mpirun but built without MPI: N independent copies would
     * each train alone into the same folder */
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return sdd_err_set(e, "this sdd was built without MPI but runs as one of %d mpirun processes: build it with `make MPI=1` and run build-mpi/sdd", atoi(n));
#endif
    return 0;
}

void sdd_dist_finalize(void)
{
#ifdef SDD_MPI
    if (g_started) MPI_Finalize();
    g_started = 0;
#endif
}

int sdd_dist_rank(void) { return g_rank; }
int sdd_dist_size(void) { return g_size; }

void sdd_dist_abort(int code)
{
#ifdef SDD_MPI
    if (g_started && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
}

#ifdef SDD_MPI
static int sum(void *buf, size_t n, MPI_Datatype t, size_t esz, sdd_err *e)
{
    const double t0 = omp_get_wtime();
    /* MPI counts are int: large buffers go in chunks of at most 2^30 elements */
    for (size_t off = 0; off < n;) {
        const size_t k = n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30);
        if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * esz, (int)k, t, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return sdd_err_set(e, "MPI_Allreduce of %zu values failed", n);
        off += k;
    }
    g_st.calls++;
    g_st.bytes += (double)n * (double)esz;
    g_st.seconds += omp_get_wtime() - t0;
    return 0;
}
#endif

int sdd_dist_sum_f64(double *buf, size_t n, sdd_err *e)
{
#ifdef SDD_MPI
    if (g_size > 1) return sum(buf, n, MPI_DOUBLE, sizeof(double), e);
#else
    (void)buf; (void)n; (void)e;
#endif
    return 0;
}

int sdd_dist_sum_f32(float *buf, size_t n, sdd_err *e)
{
#ifdef SDD_MPI
    if (g_size > 1) return sum(buf, n, MPI_FLOAT, sizeof(float), e);
#else
    (void)buf; (void)n; (void)e;
#endif
    return 0;
}

int sdd_dist_bn_reduce(double *buf, size_t n, void *arg)
{
    sdd_err e;
    (void)arg;
    return sdd_dist_sum_f64(buf, n, &e);
}

void sdd_dist_shard(int B, int rank, int nranks, int *lo, int *hi)
{
    *lo = (int)((long long)B * rank / nranks);
    *hi = (int)((long long)B * (rank + 1) / nranks);
}

void sdd_dist_get_stats(sdd_dist_stats *s) { *s = g_st; }
