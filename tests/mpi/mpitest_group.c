/* mpitest_group.c - worker groups and the distributed kernels of worker/dist.h, run at 1, 2 and 4
 * ranks. For every group size that divides the world (1, 2, 4: grids 1x1, 1x2, 2x2, plus 2x1, 1x4
 * and 4x1), it checks that the
 * distributed results equal direct LAPACK computations made in this program: Gram solve against
 * LAPACKE_dposv on all rows, multi-RHS solve against LAPACKE_dgesv, top-k eigenpairs against
 * LAPACKE_dsyevd. Every kernel runs for block sizes from 1 to more than the largest matrix and on
 * matrices smaller than one block (1x1, 2x2) up to many blocks, and no ScaLAPACK routine may
 * report an illegal argument (PDSYEVD once returned unrotated eigenvectors when its blocks
 * were larger than the matrix divided over the grid). Also checks grid shapes, the grid-size
 * error, the memory refusal message, the not-positive-definite error, and that an illegal
 * argument inside ScaLAPACK fails the call on every group rank. Exits non-zero on failure. */
#include "common/hf.h"
#include "common/rng.h"
#include "common/comm.h"
#include "tests/mpi/mpitest.h"
#include "worker/dist.h"
#include "worker/group.h"
#include "worker/scalapack.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Relative differences with a floor of 1.0 on the reference's magnitude. */
static double max_rel_diff(const double *a, const double *b, size_t n)
{
    return mpitest_max_rel_diff(a, b, n, 1.0);
}

static void random_matrix(uint64_t seed, double *a, size_t n)
{
    hf_rng r;
    hf_rng_init(&r, seed, 0, 0);
    for (size_t i = 0; i < n; i++)
        a[i] = 2.0 * hf_rng_uniform(&r) - 1.0;
}

static void test_shapes(void)
{
    static const int cases[][3] = {{1, 1, 1}, {2, 1, 2}, {3, 1, 3}, {4, 2, 2},
                                   {6, 2, 3}, {7, 1, 7}, {9, 3, 3}, {12, 3, 4}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = 0, c = 0;
        hf_group_auto_shape(cases[i][0], &r, &c);
        CHECK(r == cases[i][1] && c == cases[i][2], "auto shape of %d: %dx%d, expected %dx%d",
              cases[i][0], r, c, cases[i][1], cases[i][2]);
    }
}

/* hf_group_matrix_bytes against ScaLAPACK's own numroc for process (0,0), and the refusal. */
static void test_memory(void)
{
    static const int cfg[][4] = {{10, 3, 2, 2}, {1000, 64, 1, 2}, {1001, 7, 3, 4}, {5, 8, 2, 2}};
    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
        int n = cfg[i][0], nb = cfg[i][1], pr = cfg[i][2], pc = cfg[i][3], zero = 0;
        uint64_t want = (uint64_t)numroc_(&n, &nb, &zero, &zero, &pr) *
                        (uint64_t)numroc_(&n, &nb, &zero, &zero, &pc) * 8u;
        uint64_t got = hf_group_matrix_bytes((size_t)n, nb, pr, pc);
        CHECK(got == want, "matrix bytes n=%d nb=%d %dx%d: %llu, numroc says %llu", n, nb, pr, pc,
              (unsigned long long)got, (unsigned long long)want);
    }
    /* 10 x 10 with blocks of 3 on 2x2: process (0,0) holds rows {0,1,2,6,7,8} and the same
     * columns: 36 doubles. */
    CHECK(hf_group_matrix_bytes(10, 3, 2, 2) == 288, "10x10 nb=3 on 2x2: %llu bytes",
          (unsigned long long)hf_group_matrix_bytes(10, 3, 2, 2));

    const uint64_t limit = 100u << 20;
    hf_error_clear();
    CHECK(hf_group_check_memory(NULL, 10000, 0, 2, "kernel_ridge") == HF_OK, "no limit refused");
    CHECK(hf_group_check_memory(NULL, 1000, limit, 2, "kernel_ridge") == HF_OK,
          "16 MB refused under 100 MiB");
    int rc = hf_group_check_memory(NULL, 10000, limit, 2, "kernel_ridge");
    const char *msg = hf_error_message();
    CHECK(rc == HF_EINVAL, "10000x10000 x2 under 100 MiB: rc %d", rc);
    CHECK(strstr(msg, "kernel_ridge") != NULL && strstr(msg, "memory_per_rank") != NULL,
          "refusal message lacks context: %s", msg);
    const char *p = strstr(msg, "ranks_per_task >= ");
    CHECK(p != NULL, "refusal message does not say how many ranks: %s", msg);
    if (p != NULL) {
        long need = strtol(p + strlen("ranks_per_task >= "), NULL, 10);
        int pr, pc;
        /* The suggested size fits, and every smaller one does not. */
        hf_group_auto_shape((int)need, &pr, &pc);
        CHECK(hf_group_matrix_bytes(10000, HF_GROUP_DEFAULT_BLOCK, pr, pc) * 2 <= limit,
              "suggested %ld ranks do not fit", need);
        for (long r = 1; r < need; r++) {
            hf_group_auto_shape((int)r, &pr, &pc);
            CHECK(hf_group_matrix_bytes(10000, HF_GROUP_DEFAULT_BLOCK, pr, pc) * 2 > limit,
                  "%ld ranks would fit but %ld were suggested", r, need);
        }
        /* 2 x 800 MB over 100 MiB: at least 16 ranks. */
        CHECK(need >= 16, "suggested %ld ranks for 1.6 GB under 100 MiB", need);
    }
    hf_error_clear();
}

/* Reference ridge solution on all rows with LAPACKE_dposv. */
static void ref_ridge(const double *X, const double *y, size_t n, size_t p, double alpha, double *w)
{
    double *A = calloc(p * p, sizeof(double));
    for (size_t i = 0; i < p; i++) {
        for (size_t j = 0; j < p; j++) {
            double s = 0.0;
            for (size_t r = 0; r < n; r++)
                s += X[r * p + i] * X[r * p + j];
            A[i * p + j] = s + (i == j ? alpha : 0.0);
        }
        double s = 0.0;
        for (size_t r = 0; r < n; r++)
            s += X[r * p + i] * y[r];
        w[i] = s;
    }
    int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)p, 1, A, (lapack_int)p, w, 1);
    CHECK(info == 0, "reference dposv info %d", info);
    free(A);
}

/* Scatter / gather round trip of an m x n matrix. */
static void check_roundtrip(hf_group *g, const char *label, size_t m, size_t n)
{
    double *full = malloc(m * n * sizeof(double)), *back = malloc(m * n * sizeof(double));
    hf_dmat a = {0};
    random_matrix(11 + m, full, m * n);
    int rc = hf_dmat_create(g, m, n, &a);
    CHECK(rc == HF_OK, "%s: dmat create %zux%zu", label, m, n);
    hf_dmat_set(&a, full);
    rc = hf_dmat_get(&a, back);
    CHECK(rc == HF_OK && memcmp(full, back, m * n * sizeof(double)) == 0,
          "%s: set/get round trip of %zux%zu", label, m, n);
    hf_dmat_destroy(&a);
    free(full);
    free(back);
}

/* Gram solve of an N x P problem, each group rank holding an uneven slice of the rows. */
static void check_gram_solve(hf_group *g, const char *label, size_t N, size_t P)
{
    int gs = hf_group_size(g), gr = hf_group_rank(g);
    double *X = malloc(N * P * sizeof(double)), *y = malloc(N * sizeof(double));
    double *W = malloc(3 * P * sizeof(double)), *ref = malloc(P * sizeof(double));
    const double alphas[3] = {1e-3, 0.5, 10.0};
    random_matrix(21 + N, X, N * P);
    random_matrix(22 + N, y, N);
    size_t lo = N * (size_t)gr * (size_t)gr / ((size_t)gs * (size_t)gs);
    size_t hi = N * (size_t)(gr + 1) * (size_t)(gr + 1) / ((size_t)gs * (size_t)gs);
    int rc = hf_dist_gram_solve(g, X + lo * P, hi - lo, P, y + lo, alphas, 3, W);
    CHECK(rc == HF_OK, "%s: gram solve %zux%zu: %s", label, N, P, hf_error_message());
    for (int t = 0; t < 3 && rc == HF_OK; t++) {
        ref_ridge(X, y, N, P, alphas[t], ref);
        double d = max_rel_diff(W + t * P, ref, P);
        CHECK(d < 1e-10, "%s: gram solve %zux%zu alpha=%g differs from dposv by %g", label, N, P,
              alphas[t], d);
    }
    hf_error_clear();
    free(X);
    free(y);
    free(W);
    free(ref);
}

/* posv of an N x N system with R right-hand sides against a general LU solve. */
static void check_posv(hf_group *g, const char *label, int N, int R)
{
    double *M = malloc((size_t)N * N * sizeof(double)), *A = malloc((size_t)N * N * sizeof(double));
    double *B = malloc((size_t)N * R * sizeof(double)), *X = malloc((size_t)N * R * sizeof(double));
    double *ref = malloc((size_t)N * R * sizeof(double));
    lapack_int *piv = malloc((size_t)N * sizeof(lapack_int));
    random_matrix(31 + (uint64_t)N, M, (size_t)N * N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < N; k++)
                s += M[i * N + k] * M[j * N + k];
            A[i * N + j] = s;
        }
    random_matrix(32 + (uint64_t)N, B, (size_t)N * R);
    int rc = hf_dist_posv(g, A, (size_t)N, 0.25, B, (size_t)R, X);
    CHECK(rc == HF_OK, "%s: posv %dx%d: %s", label, N, N, hf_error_message());
    for (int i = 0; i < N; i++)
        A[i * N + i] += 0.25;
    memcpy(ref, B, (size_t)N * R * sizeof(double));
    int info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, N, R, A, N, piv, ref, R);
    CHECK(info == 0, "dgesv info %d", info);
    double d = max_rel_diff(X, ref, (size_t)N * R);
    CHECK(rc != HF_OK || d < 1e-9, "%s: posv %dx%d differs from dgesv by %g", label, N, N, d);
    hf_error_clear();
    free(M);
    free(A);
    free(B);
    free(X);
    free(ref);
    free(piv);
}

/* Top-k eigenpairs of an N x N covariance matrix against LAPACKE_dsyevd, for k = min(5, N), N. */
static void check_eigh(hf_group *g, const char *label, size_t N)
{
    const size_t S = 3 * N + 7;
    double *D = malloc(S * N * sizeof(double)), *C = malloc(N * N * sizeof(double));
    double *w = malloc(N * sizeof(double)), *V = malloc(N * N * sizeof(double));
    double *evals = malloc(N * sizeof(double)), *evecs = malloc(N * N * sizeof(double));
    double *ref_vec = malloc(N * sizeof(double));
    random_matrix(41 + N, D, S * N);
    for (size_t i = 0; i < S; i++)
        for (size_t j = 0; j < N; j++)
            D[i * N + j] *= 1.0 + (double)j; /* distinct scales: well separated eigenvalues */
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0.0;
            for (size_t r = 0; r < S; r++)
                s += D[r * N + i] * D[r * N + j];
            C[i * N + j] = s / (double)(S - 1);
        }
    memcpy(V, C, N * N * sizeof(double));
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)N, V, (lapack_int)N, w);
    CHECK(info == 0, "dsyevd info %d", info);
    const size_t ks[2] = {N < 5 ? N : 5, N};
    for (int c = 0; c < 2; c++) {
        size_t k = ks[c];
        int rc = hf_dist_eigh_topk(g, C, N, k, evals, evecs);
        CHECK(rc == HF_OK, "%s: eigh %zux%zu k=%zu: %s", label, N, N, k, hf_error_message());
        hf_error_clear();
        if (rc != HF_OK)
            continue;
        for (size_t j = 0; j < k; j++) {
            double ref_val = w[N - 1 - j];
            CHECK(fabs(evals[j] - ref_val) <= 1e-10 * fabs(w[N - 1]),
                  "%s: %zux%zu eigenvalue %zu: %.17g vs dsyevd %.17g", label, N, N, j, evals[j],
                  ref_val);
            /* The reference vector, with the largest-|value| entry made positive. */
            size_t big = 0;
            for (size_t i = 0; i < N; i++) {
                ref_vec[i] = V[i * N + (N - 1 - j)];
                if (fabs(ref_vec[i]) > fabs(ref_vec[big]))
                    big = i;
            }
            double sg = ref_vec[big] < 0 ? -1.0 : 1.0;
            double worst = 0.0;
            for (size_t i = 0; i < N; i++)
                worst = fmax(worst, fabs(evecs[j * N + i] - sg * ref_vec[i]));
            CHECK(worst < 1e-9, "%s: %zux%zu eigenvector %zu (k=%zu) differs by %g", label, N, N, j,
                  k, worst);
        }
    }
    free(D);
    free(C);
    free(w);
    free(V);
    free(evals);
    free(evecs);
    free(ref_vec);
}

/* Every kernel on a group of gs ranks as an nprow x npcol grid with blocks of nb, on matrices
 * smaller than one block, about one block, and many blocks: each must equal LAPACK on one rank,
 * and no ScaLAPACK routine may have reported an illegal argument. */
static void test_group(hf_comm *world, int gs, int nprow, int npcol, int nb)
{
    hf_comm *sub = NULL;
    hf_group *g = NULL;
    char label[96];
    snprintf(label, sizeof(label), "group of %d as %dx%d (0x0 = auto), block %d", gs, nprow, npcol,
             nb);

    int rc = mpitest_group(world, gs, nprow, npcol, nb, &sub, &g);
    if (rc != HF_OK)
        return;
    int gr = hf_group_rank(g);
    int er = nprow, ec = npcol;
    if (er == 0)
        hf_group_auto_shape(gs, &er, &ec);
    CHECK(hf_group_size(g) == gs && hf_group_nprow(g) == er && hf_group_npcol(g) == ec,
          "%s: grid %dx%d of %d", label, hf_group_nprow(g), hf_group_npcol(g), hf_group_size(g));
    CHECK(hf_group_myrow(g) == gr / ec && hf_group_mycol(g) == gr % ec, "%s: rank %d at (%d,%d)",
          label, gr, hf_group_myrow(g), hf_group_mycol(g));
    CHECK(hf_group_block_size(g) == nb, "%s: block %d", label, hf_group_block_size(g));
    CHECK(hf_dist_is_parallel(g) == (gs > 1), "%s: parallel flag", label);

    static const size_t rt[][2] = {{11, 7}, {1, 1}, {3, 70}};
    for (size_t i = 0; i < sizeof rt / sizeof rt[0]; i++)
        check_roundtrip(g, label, rt[i][0], rt[i][1]);
    static const size_t gsz[][2] = {{41, 7}, {3, 1}, {90, 40}};
    for (size_t i = 0; i < sizeof gsz / sizeof gsz[0]; i++)
        check_gram_solve(g, label, gsz[i][0], gsz[i][1]);
    static const int psz[][2] = {{13, 3}, {1, 1}, {2, 2}, {70, 2}};
    for (size_t i = 0; i < sizeof psz / sizeof psz[0]; i++)
        check_posv(g, label, psz[i][0], psz[i][1]);
    static const size_t esz[] = {1, 2, 5, 23, 24, 64, 70};
    for (size_t i = 0; i < sizeof esz / sizeof esz[0]; i++)
        check_eigh(g, label, esz[i]);

    /* A matrix that is not positive definite: HF_ENUM on every rank. */
    {
        double A[16] = {1, 2, 0, 0, 2, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
        double b[4] = {1, 1, 1, 1}, x[4];
        hf_error_clear();
        rc = hf_dist_posv(g, A, 4, 0.0, b, 1, x);
        CHECK(rc == HF_ENUM, "%s: indefinite matrix gave %d", label, rc);
        CHECK(strstr(hf_error_message(), "not positive definite") != NULL,
              "%s: indefinite message: %s", label, hf_error_message());
        hf_error_clear();
    }
    char routine[32];
    int arg = 0;
    CHECK(!hf_scalapack_take_error(routine, sizeof routine, &arg),
          "%s: ScaLAPACK reported an illegal argument %d to %s", label, arg, routine);
    hf_group_free(g);
    g = NULL;
    hf_comm_free(sub);
    sub = NULL;
}

/* A ScaLAPACK argument error (PXERBLA) becomes a failed call on every group rank, never a line on
 * stderr and a wrong result: an Cholesky with a descriptor whose context is wrong. */
static void test_argument_error(hf_comm *world)
{
    int ws = hf_comm_size(world);
    if (ws < 2)
        return;
    hf_comm *sub = NULL;
    hf_group *g = NULL;
    if (mpitest_group(world, 2, 0, 0, 4, &sub, &g) != HF_OK)
        return;
    hf_dmat a = {0};
    int rc = hf_dmat_create(g, 8, 8, &a);
    CHECK(rc == HF_OK, "dmat create: %s", hf_error_message());
    if (rc == HF_OK) {
        for (size_t lj = 0; lj < a.locc; lj++)
            for (size_t li = 0; li < a.locr; li++)
                a.a[lj * a.lld + li] = hf_dmat_row(&a, li) == hf_dmat_col(&a, lj) ? 2.0 : 0.0;
        a.desc[HF_DESC_MB] = a.nb + 1; /* MB != NB: PDPOTRF refuses argument 4 (DESCA) */
        hf_error_clear();
        rc = hf_dist_cholesky(&a, "argument-error test");
        CHECK(rc == HF_EINTERNAL, "illegal descriptor: rc %d, expected HF_EINTERNAL", rc);
        CHECK(strstr(hf_error_message(), "PDPOTRF") != NULL ||
                  strstr(hf_error_message(), "another rank") != NULL,
              "illegal descriptor message: %s", hf_error_message());
        hf_error_clear();
    }
    hf_dmat_destroy(&a);
    hf_group_free(g);
    g = NULL;
    hf_comm_free(sub);
    sub = NULL;
}

int main(int argc, char **argv)
{
    hf_comm *world = NULL;
    if (hf_comm_init(&argc, &argv, &world) != HF_OK) {
        fprintf(stderr, "MPI init failed: %s\n", hf_error_message());
        return 1;
    }
    world_rank = hf_comm_rank(world);
    int ws = hf_comm_size(world);

    test_shapes();
    test_memory();

    /* A grid that does not match the group size is refused with a message. */
    {
        hf_group *g = NULL;
        hf_error_clear();
        int rc = hf_group_create(world, 3, 3, 0, &g);
        CHECK(rc == HF_EINVAL && g == NULL, "3x3 grid on %d ranks: rc %d", ws, rc);
        CHECK(strstr(hf_error_message(), "9 processes") != NULL &&
                  strstr(hf_error_message(), "ranks_per_task") != NULL,
              "grid message: %s", hf_error_message());
        hf_error_clear();
    }

    static const int shapes[][3] = {{1, 0, 0}, {2, 0, 0}, {2, 2, 1}, {2, 1, 2},
                                    {4, 0, 0}, {4, 1, 4}, {4, 4, 1}};
    static const int blocks[] = {1, 2, 3, 5, 8, 16, 23, 32, 64, 128, 200};
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        if (ws % shapes[i][0] != 0)
            continue;
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
            test_group(world, shapes[i][0], shapes[i][1], shapes[i][2], blocks[b]);
    }
    test_argument_error(world);

    int64_t total = failures;
    hf_comm_allreduce_sum_i64(world, &total, 1);
    if (world_rank == 0)
        printf("mpitest_group on %d ranks: %s (%lld failed checks)\n", ws, total ? "FAILED" : "ok",
               (long long)total);
    hf_group_finalize();
    hf_comm_finalize(world);
    return total ? 1 : 0;
}
