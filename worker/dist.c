/* dist.c - distributed dense linear algebra on a worker group (see dist.h). */
#include "worker/dist.h"

#include "common/hf.h"
#include "worker/scalapack.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double factor_seconds, factor_flops;

/* The first ScaLAPACK/PBLAS argument error of this thread since it was last taken. */
static _Thread_local struct {
    int pending;
    int arg;
    char routine[32];
} scalapack_err;

static void record_scalapack_error(const char *routine, size_t len, int arg)
{
    if (scalapack_err.pending)
        return;
    size_t n = 0;
    while (n < len && n + 1 < sizeof scalapack_err.routine && routine[n] && routine[n] != ' ')
        n++;
    memcpy(scalapack_err.routine, routine, n);
    scalapack_err.routine[n] = '\0';
    scalapack_err.arg = arg;
    scalapack_err.pending = 1;
}

/* Replaces ScaLAPACK's PXERBLA (Fortran: SUBROUTINE PXERBLA(ICTXT, SRNAME, INFO)), which prints
 * "On entry to X parameter number N had an illegal value" and returns. */
void pxerbla_(const int *ictxt, const char *srname, const int *info, size_t srname_len);
void pxerbla_(const int *ictxt, const char *srname, const int *info, size_t srname_len)
{
    (void)ictxt;
    record_scalapack_error(srname, srname_len, *info);
}

/* Replaces PBLAS's PB_Cabort, which prints the same line and aborts the MPI job. The PBLAS routine
 * returns without computing; the ScaLAPACK routine above it is then reported as failed. */
void PB_Cabort(int ictxt, char *routine, int info);
void PB_Cabort(int ictxt, char *routine, int info)
{
    (void)ictxt;
    record_scalapack_error(routine, strlen(routine), info);
}

int hf_scalapack_take_error(char *routine, size_t len, int *arg)
{
    if (!scalapack_err.pending)
        return 0;
    snprintf(routine, len, "%s", scalapack_err.routine);
    *arg = scalapack_err.arg;
    scalapack_err.pending = 0;
    return 1;
}

int hf_dist_is_parallel(const hf_group *g)
{
    return g != NULL && hf_group_grid(g)->size > 1;
}

int hf_dmat_create(const hf_group *g, size_t m, size_t n, hf_dmat *out)
{
    int result = HF_OK;

    memset(out, 0, sizeof(*out));
    if (m > INT_MAX || n > INT_MAX) {
        result =
            hf_error(HF_EINVAL, "distributed matrix %zux%zu: dimensions above %d", m, n, INT_MAX);
        goto out;
    }
    out->g = g;
    out->m = m;
    out->n = n;
    if (hf_dist_is_parallel(g)) {
        int im = (int)m, in = (int)n, zero = 0, info = 0;
        out->nb = hf_group_grid(g)->block_size;
        out->nprow = hf_group_grid(g)->nprow;
        out->npcol = hf_group_grid(g)->npcol;
        out->myrow = hf_group_grid(g)->myrow;
        out->mycol = hf_group_grid(g)->mycol;
        out->locr = (size_t)numroc_(&im, &out->nb, &out->myrow, &zero, &out->nprow);
        out->locc = (size_t)numroc_(&in, &out->nb, &out->mycol, &zero, &out->npcol);
        out->lld = out->locr > 0 ? out->locr : 1;
        int ctxt = hf_group_grid(g)->context, lld = (int)out->lld;
        descinit_(out->desc, &im, &in, &out->nb, &out->nb, &zero, &zero, &ctxt, &lld, &info);
        char routine[32];
        int arg = 0;
        if (hf_scalapack_take_error(routine, sizeof routine, &arg) && info == 0)
            info = -arg;
        if (info != 0) {
            result = hf_error(HF_EINTERNAL,
                              "descinit for a %zux%zu matrix (block %d, lld %d) failed: info %d", m,
                              n, out->nb, lld, info);
            goto out;
        }
    } else {
        out->nb = g ? hf_group_grid(g)->block_size : HF_GROUP_DEFAULT_BLOCK;
        out->nprow = out->npcol = 1;
        out->locr = m;
        out->locc = n;
        out->lld = m > 0 ? m : 1;
    }
    out->a = hf_calloc(out->lld * (out->locc > 0 ? out->locc : 1), sizeof(double));
    if (out->a == NULL)
        result = HF_ENOMEM;
out:
    if (result != HF_OK)
        hf_dmat_destroy(out);
    return result;
}

void hf_dmat_destroy(hf_dmat *a)
{
    if (a == NULL)
        return;
    free(a->a);
    memset(a, 0, sizeof(*a));
}

int hf_dmat_copy(hf_dmat *dst, const hf_dmat *src)
{
    if (dst->m != src->m || dst->n != src->n || dst->lld != src->lld || dst->locc != src->locc)
        return hf_error(HF_EINTERNAL, "hf_dmat_copy: %zux%zu into %zux%zu", src->m, src->n, dst->m,
                        dst->n);
    memcpy(dst->a, src->a, dst->lld * dst->locc * sizeof(double));
    return HF_OK;
}

size_t hf_dmat_row(const hf_dmat *a, size_t li)
{
    size_t nb = (size_t)a->nb;
    return ((li / nb) * (size_t)a->nprow + (size_t)a->myrow) * nb + li % nb;
}

size_t hf_dmat_col(const hf_dmat *a, size_t lj)
{
    size_t nb = (size_t)a->nb;
    return ((lj / nb) * (size_t)a->npcol + (size_t)a->mycol) * nb + lj % nb;
}

void hf_dmat_set(hf_dmat *a, const double *full)
{
    for (size_t lj = 0; lj < a->locc; lj++) {
        size_t gj = hf_dmat_col(a, lj);
        double *col = a->a + lj * a->lld;
        for (size_t li = 0; li < a->locr; li++)
            col[li] = full[hf_dmat_row(a, li) * a->n + gj];
    }
}

int hf_dmat_get(const hf_dmat *a, double *full)
{
    if (hf_dist_is_parallel(a->g))
        memset(full, 0, a->m * a->n * sizeof(double));
    for (size_t lj = 0; lj < a->locc; lj++) {
        size_t gj = hf_dmat_col(a, lj);
        const double *col = a->a + lj * a->lld;
        for (size_t li = 0; li < a->locr; li++)
            full[hf_dmat_row(a, li) * a->n + gj] = col[li];
    }
    if (hf_dist_is_parallel(a->g))
        return hf_comm_allreduce_sum_f64(hf_group_comm(a->g), full, a->m * a->n);
    return HF_OK;
}

void hf_dmat_add_diagonal(hf_dmat *a, double v)
{
    for (size_t lj = 0; lj < a->locc; lj++) {
        size_t gj = hf_dmat_col(a, lj);
        for (size_t li = 0; li < a->locr; li++) {
            if (hf_dmat_row(a, li) == gj)
                a->a[lj * a->lld + li] += v;
        }
    }
}

/* Collective over the group: the same LAPACK-style info on every rank (the largest positive one,
 * or the most negative one), and a failure on every rank when any rank's ScaLAPACK or PBLAS
 * routines reported an illegal argument (hf_scalapack_take_error) during `what`: such a result
 * is never used. */
static int agree_info(const hf_group *g, int info, int *out, const char *what)
{
    char routine[32] = "";
    int arg = 0, bad = hf_scalapack_take_error(routine, sizeof routine, &arg);
    *out = info;
    if (hf_dist_is_parallel(g)) {
        int64_t v[3] = {info, -(int64_t)info, bad};
        HF_CALL(hf_comm_allreduce_max_i64(hf_group_comm(g), v, 3));
        *out = v[1] > 0 ? (int)-v[1] : (int)v[0];
        if (v[2] && !bad)
            return hf_error(HF_EINTERNAL,
                            "%s: ScaLAPACK reported an illegal argument on another rank of the "
                            "group",
                            what);
    }
    if (bad)
        return hf_error(HF_EINTERNAL,
                        "%s: ScaLAPACK routine %s reported argument %d as illegal (a hyperfold "
                        "bug: please report it with the job spec)",
                        what, routine, arg);
    return HF_OK;
}

/* agree_info for a Cholesky factorisation or solve (`step`) of an n x n matrix: info > 0 is a
 * matrix that is not positive definite, info < 0 an argument error. */
static int agree_posdef(const hf_group *g, int info, const char *what, size_t n, const char *step)
{
    HF_CALL(agree_info(g, info, &info, what));
    if (info > 0)
        return hf_error(HF_ENUM,
                        "%s: the %zux%zu matrix is not positive definite (leading minor %d)", what,
                        n, n, info);
    if (info < 0)
        return hf_error(HF_EINTERNAL, "%s: %s argument %d is invalid", what, step, -info);
    return HF_OK;
}

int hf_dist_cholesky(hf_dmat *a, const char *what)
{
    int result = HF_OK, info = 0;
    double t0 = hf_now();

    if (a->m != a->n) {
        result =
            hf_error(HF_EINTERNAL, "%s: Cholesky of a non-square %zux%zu matrix", what, a->m, a->n);
        goto out;
    }
    if (a->n == 0)
        goto out;
    if (hf_dist_is_parallel(a->g)) {
        int n = (int)a->n, one = 1;
        pdpotrf_("L", &n, a->a, &one, &one, a->desc, &info, 1);
    } else {
        info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)a->n, a->a, (lapack_int)a->lld);
    }
    result = agree_posdef(a->g, info, what, a->n, "Cholesky");
    if (result != HF_OK)
        goto out;
    factor_seconds += hf_now() - t0;
    factor_flops += (double)a->n * (double)a->n * (double)a->n / 3.0;
out:
    return result;
}

/* Row-major n x nrhs into column-major (or back: the same transposition with swapped shape). */
static void transpose(const double *in, size_t rows, size_t cols, double *out)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            out[j * rows + i] = in[i * cols + j];
}

/* Solves with the factor in `a`, or, when `unfactored` is not NULL (it is a's local part, then
 * overwritten by the factor), factorises and solves in one call (PDPOSV / dposv). */
static int solve_common(const hf_dmat *a, double *unfactored, const double *B, size_t nrhs,
                        double *X, const char *what)
{
    int result = HF_OK, info = 0;
    hf_dmat b = {0};
    double *cm = NULL;
    const size_t n = a->n;

    if (n == 0 || nrhs == 0)
        goto out;
    if (nrhs > INT_MAX) {
        result = hf_error(HF_EINVAL, "%s: %zu right-hand sides", what, nrhs);
        goto out;
    }
    if (hf_dist_is_parallel(a->g)) {
        int in = (int)n, inrhs = (int)nrhs, one = 1;
        result = hf_dmat_create(a->g, n, nrhs, &b);
        if (result != HF_OK)
            goto out;
        hf_dmat_set(&b, B);
        if (unfactored != NULL)
            pdposv_("L", &in, &inrhs, unfactored, &one, &one, a->desc, b.a, &one, &one, b.desc,
                    &info, 1);
        else
            pdpotrs_("L", &in, &inrhs, a->a, &one, &one, a->desc, b.a, &one, &one, b.desc, &info,
                     1);
    } else {
        cm = hf_malloc(n * nrhs * sizeof(double));
        if (cm == NULL) {
            result = HF_ENOMEM;
            goto out;
        }
        transpose(B, n, nrhs, cm);
        if (unfactored != NULL)
            info = LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', (lapack_int)n, (lapack_int)nrhs, unfactored,
                                 (lapack_int)a->lld, cm, (lapack_int)n);
        else
            info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', (lapack_int)n, (lapack_int)nrhs, a->a,
                                  (lapack_int)a->lld, cm, (lapack_int)n);
    }
    result = agree_posdef(a->g, info, what, n, "solver");
    if (result != HF_OK)
        goto out;
    if (cm != NULL)
        transpose(cm, nrhs, n, X);
    else
        result = hf_dmat_get(&b, X);
out:
    hf_dmat_destroy(&b);
    free(cm);
    return result;
}

int hf_dist_cholesky_solve(const hf_dmat *l, const double *B, size_t nrhs, double *X)
{
    return solve_common(l, NULL, B, nrhs, X, "Cholesky solve");
}

int hf_dist_posv(const hf_group *g, const double *A, size_t n, double shift, const double *B,
                 size_t nrhs, double *X)
{
    int result = HF_OK;
    hf_dmat a = {0};
    double t0 = hf_now();

    result = hf_dmat_create(g, n, n, &a);
    if (result != HF_OK)
        goto out;
    hf_dmat_set(&a, A);
    hf_dmat_add_diagonal(&a, shift);
    result = solve_common(&a, a.a, B, nrhs, X, "distributed solve");
    if (result != HF_OK)
        goto out;
    factor_seconds += hf_now() - t0;
    factor_flops += (double)n * (double)n * (double)n / 3.0;
out:
    hf_dmat_destroy(&a);
    return result;
}

int hf_dist_gram(const hf_group *g, const double *X_local, size_t n_local, size_t p,
                 const double *y_local, double *G, double *b)
{
    if (p == 0)
        return HF_OK;
    memset(G, 0, p * p * sizeof(double));
    if (n_local > 0) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)n_local, 1.0, X_local,
                    (int)p, 0.0, G, (int)p);
        for (size_t i = 0; i < p; i++)
            for (size_t j = 0; j < i; j++)
                G[i * p + j] = G[j * p + i];
    }
    if (b != NULL) {
        memset(b, 0, p * sizeof(double));
        if (n_local > 0)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)n_local, (int)p, 1.0, X_local, (int)p,
                        y_local, 1, 0.0, b, 1);
    }
    if (hf_dist_is_parallel(g)) {
        HF_CALL(hf_comm_allreduce_sum_f64(hf_group_comm(g), G, p * p));
        if (b != NULL)
            HF_CALL(hf_comm_allreduce_sum_f64(hf_group_comm(g), b, p));
    }
    return HF_OK;
}

int hf_dist_gram_solve(const hf_group *g, const double *X_local, size_t n_local, size_t p,
                       const double *y_local, const double *alphas, size_t n_alpha, double *W)
{
    int result = HF_OK;
    double *G = NULL, *b = NULL;

    if (p == 0)
        goto out;
    G = hf_malloc(p * p * sizeof(double));
    b = hf_malloc(p * sizeof(double));
    if (G == NULL || b == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_dist_gram(g, X_local, n_local, p, y_local, G, b);
    if (result != HF_OK)
        goto out;
    for (size_t t = 0; t < n_alpha; t++) {
        result = hf_dist_posv(g, G, p, alphas[t], b, 1, W + t * p);
        if (result != HF_OK) {
            hf_error_prefix(result, "Gram solve with alpha=%g", alphas[t]);
            goto out;
        }
    }
out:
    free(G);
    free(b);
    return result;
}

/* Flips each row of v (k x n) so that its largest-|value| entry is positive. */
static void flip_signs(double *v, size_t k, size_t n)
{
    for (size_t j = 0; j < k; j++) {
        double *row = v + j * n;
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (fabs(row[i]) > fabs(row[best]))
                best = i;
        if (row[best] < 0)
            for (size_t i = 0; i < n; i++)
                row[i] = -row[i];
    }
}

/* PDSYEVD on the group's grid; w (n, ascending) replicated; top-k vectors into evecs. */
static int eigh_parallel(const hf_group *g, const double *C, size_t n, size_t k, double *w,
                         double *evecs)
{
    int result = HF_OK, info = 0;
    hf_dmat a = {0}, z = {0};
    double *work = NULL, wq = 0;
    int *iwork = NULL, iwq = 0;
    int in = (int)n, one = 1, minus1 = -1;

    result = hf_dmat_create(g, n, n, &a);
    if (result == HF_OK)
        result = hf_dmat_create(g, n, n, &z);
    if (result != HF_OK)
        goto out;
    hf_dmat_set(&a, C);
    pdsyevd_("V", "U", &in, a.a, &one, &one, a.desc, w, z.a, &one, &one, z.desc, &wq, &minus1, &iwq,
             &minus1, &info, 1, 1);
    result = agree_info(g, info, &info, "PDSYEVD workspace query");
    if (result == HF_OK && info != 0)
        result = hf_error(HF_EINTERNAL, "PDSYEVD workspace query failed: info %d", info);
    if (result != HF_OK)
        goto out;
    /* PDSYEVD's own minimum does not cover the PDORMTR it calls last, which gets the workspace
     * less 2n and needs max(nb (nb - 1) / 2, (MpC0 + NqC0) nb) + nb^2 (pdormtr.f, SIDE = 'L',
     * UPLO = 'U': C = Z(1:n-1, 1:n) from process (0, 0)). With blocks as large as the matrix,
     * e.g. n = 24 and nb = 128, the query asks for ~3,300 words where PDORMTR needs ~24,500;
     * PDORMTR then refuses (PXERBLA, argument 16) and PDSYEVD returns unrotated eigenvectors with
     * info 0. So the workspace is the larger of the two, plus a margin. */
    int nb = a.nb, zero = 0, nm1 = in - 1;
    long mpc0 = numroc_(&nm1, &nb, &a.myrow, &zero, &a.nprow);
    long nqc0 = numroc_(&in, &nb, &a.mycol, &zero, &a.npcol);
    long tri = (long)nb * (nb - 1) / 2, band = (mpc0 + nqc0) * nb;
    long ormtr = (tri > band ? tri : band) + (long)nb * nb;
    long want = (long)wq > ormtr + 2L * in ? (long)wq : ormtr + 2L * in;
    if (want + 1024 > INT_MAX) {
        result = hf_error(HF_EINVAL, "PDSYEVD on a %zux%zu matrix: workspace above %d words", n, n,
                          INT_MAX);
        goto out;
    }
    int lwork = (int)want + 1024, liwork = iwq + 1024;
    work = hf_malloc((size_t)lwork * sizeof(double));
    iwork = hf_malloc((size_t)liwork * sizeof(int));
    if (work == NULL || iwork == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    pdsyevd_("V", "U", &in, a.a, &one, &one, a.desc, w, z.a, &one, &one, z.desc, work, &lwork,
             iwork, &liwork, &info, 1, 1);
    result = agree_info(g, info, &info, "PDSYEVD");
    if (result != HF_OK)
        goto out;
    if (info != 0) {
        result = hf_error(HF_ENUM, "PDSYEVD on a %zux%zu matrix failed: info %d", n, n, info);
        goto out;
    }
    memset(evecs, 0, k * n * sizeof(double));
    for (size_t lj = 0; lj < z.locc; lj++) {
        size_t gj = hf_dmat_col(&z, lj);
        if (gj + k < n)
            continue;
        size_t j = n - 1 - gj;
        for (size_t li = 0; li < z.locr; li++)
            evecs[j * n + hf_dmat_row(&z, li)] = z.a[lj * z.lld + li];
    }
    result = hf_comm_allreduce_sum_f64(hf_group_comm(g), evecs, k * n);
out:
    hf_dmat_destroy(&a);
    hf_dmat_destroy(&z);
    free(work);
    free(iwork);
    return result;
}

/* LAPACKE_dsyevd on the calling rank. */
static int eigh_local(const double *C, size_t n, size_t k, double *w, double *evecs)
{
    int result = HF_OK;
    double *A = hf_malloc(n * n * sizeof(double));

    if (A == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    memcpy(A, C, n * n * sizeof(double));
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, A, (lapack_int)n, w);
    if (info != 0) {
        result = hf_error(HF_ENUM, "dsyevd on a %zux%zu matrix failed: info %d", n, n, info);
        goto out;
    }
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < n; i++)
            evecs[j * n + i] = A[i * n + (n - 1 - j)];
out:
    free(A);
    return result;
}

int hf_dist_eigh_topk(const hf_group *g, const double *C, size_t n, size_t k, double *evals,
                      double *evecs)
{
    int result = HF_OK;
    double *w = NULL;

    if (k > n || n > INT_MAX) {
        result = hf_error(HF_EINVAL, "eigensolver: %zu eigenpairs requested of a %zux%zu matrix", k,
                          n, n);
        goto out;
    }
    if (k == 0)
        goto out;
    w = hf_malloc(n * sizeof(double));
    if (w == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    /* PDSYEVD (ScaLAPACK 2.2.1) returns wrong eigenvalues and vectors, with info 0, whenever the
     * matrix fits in one block (n <= nb) on a grid of more than one process: every block size
     * and grid of tests/mpi/mpitest_group.c showed it, from 2x2 matrices with nb = 2 to 70x70
     * with nb = 128. Such a matrix lives on process (0, 0) alone, so the distributed solver
     * would not spread it anyway: every group rank runs LAPACK on its replicated copy instead,
     * which is the one-rank computation, bit for bit. */
    if (hf_dist_is_parallel(g) && n > (size_t)hf_group_grid(g)->block_size)
        result = eigh_parallel(g, C, n, k, w, evecs);
    else
        result = eigh_local(C, n, k, w, evecs);
    if (result != HF_OK)
        goto out;
    for (size_t j = 0; j < k; j++)
        evals[j] = w[n - 1 - j];
    flip_signs(evecs, k, n);
out:
    free(w);
    return result;
}

void hf_dist_factor_stats(double *seconds, double *flops)
{
    *seconds = factor_seconds;
    *flops = factor_flops;
}

void hf_dist_factor_stats_reset(void)
{
    factor_seconds = 0;
    factor_flops = 0;
}

/* ---- data-parallel reductions ---------------------------------------------------------------- */

/* One chunk of hf_dist_sum. */
static int dist_sum_chunk(hf_comm *c, double *v, size_t n)
{
    const int size = hf_comm_size(c), rank = hf_comm_rank(c);
    char *all = NULL;
    size_t *lens = NULL;
    int result = hf_comm_gather_blob(c, v, n * sizeof *v, 0, &all, &lens);
    if (result >= 0 && rank == 0) {
        /* Group-rank order: rank 0's vector, then rank 1's added, ... (memcpy: the gathered
         * bytes need not be aligned for doubles). */
        for (int r = 1; r < size && result >= 0; r++) {
            if (lens[r] != n * sizeof *v) {
                result = hf_error(HF_EINTERNAL,
                                  "hf_dist_sum: group rank %d sent %zu bytes, "
                                  "expected %zu",
                                  r, lens[r], n * sizeof *v);
                break;
            }
            const char *src = all + (size_t)r * n * sizeof *v;
            for (size_t i = 0; i < n; i++) {
                double x;
                memcpy(&x, src + i * sizeof x, sizeof x);
                v[i] += x;
            }
        }
    }
    free(all);
    free(lens);
    result = hf_comm_check(c, result);
    if (result >= 0)
        result = hf_comm_bcast(c, v, n * sizeof *v, 0);
    return result;
}

int hf_dist_sum(const hf_group *g, double *v, size_t n)
{
    if (!hf_dist_is_parallel(g) || n == 0)
        return HF_OK;
    hf_comm *c = hf_group_comm(g);
    /* In chunks: the leader holds every rank's chunk at once (64 Mi doubles in all, 512 MiB),
     * and one gathered message stays under MPI's int count (a Gram matrix of p = 10,000 columns
     * on 4 ranks is 3.2 GB). Each element's sum is the same whatever the chunking. */
    const size_t chunk = ((size_t)1 << 26) / (size_t)hf_comm_size(c);
    int result = HF_OK;
    for (size_t at = 0; at < n && result >= 0; at += chunk)
        result = dist_sum_chunk(c, v + at, n - at < chunk ? n - at : chunk);
    return result;
}

int hf_dist_min(const hf_group *g, double *v, size_t n)
{
    return hf_dist_is_parallel(g) && n ? hf_comm_allreduce_min_f64(hf_group_comm(g), v, n) : HF_OK;
}

int hf_dist_max(const hf_group *g, double *v, size_t n)
{
    return hf_dist_is_parallel(g) && n ? hf_comm_allreduce_max_f64(hf_group_comm(g), v, n) : HF_OK;
}

int hf_dist_agree(const hf_group *g, int status)
{
    return hf_dist_is_parallel(g) ? hf_comm_check(hf_group_comm(g), status) : status;
}

/* The doubles of a gathered blob (lens[r] bytes from each of size ranks, in rank order) in a new
 * array: the gathered bytes need not be aligned for doubles. */
static int gathered_doubles(const char *bytes, const size_t *lens, int size, double **out,
                            size_t *total)
{
    *total = 0;
    for (int r = 0; r < size; r++)
        *total += lens[r];
    if (!(*out = hf_malloc(*total ? *total : 1)))
        return HF_ENOMEM;
    if (*total)
        memcpy(*out, bytes, *total);
    return HF_OK;
}

int hf_dist_gather(const hf_group *g, const double *v, size_t n, double **all, size_t *n_all)
{
    *all = NULL;
    *n_all = 0;
    if (!hf_dist_is_parallel(g)) {
        double *copy = hf_malloc((n ? n : 1) * sizeof *copy);
        if (!copy)
            return HF_ENOMEM;
        if (n)
            memcpy(copy, v, n * sizeof *copy);
        *all = copy;
        *n_all = n;
        return HF_OK;
    }
    hf_comm *c = hf_group_comm(g);
    char *bytes = NULL;
    size_t *lens = NULL, total = 0;
    int result = hf_comm_allgather_blob(c, v, n * sizeof *v, &bytes, &lens);
    double *out = NULL;
    if (result >= 0)
        result = gathered_doubles(bytes, lens, hf_comm_size(c), &out, &total);
    free(bytes);
    free(lens);
    result = hf_comm_check(c, result);
    if (result < 0) {
        free(out);
        return result;
    }
    *all = out;
    *n_all = total / sizeof *out;
    return HF_OK;
}

int hf_dist_gather_to(const hf_group *g, int root, const double *v, size_t n, double **all,
                      size_t *n_all)
{
    *all = NULL;
    *n_all = 0;
    if (!hf_dist_is_parallel(g))
        return hf_dist_gather(g, v, n, all, n_all);
    hf_comm *c = hf_group_comm(g);
    char *bytes = NULL;
    size_t *lens = NULL, total = 0;
    int result = hf_comm_gather_blob(c, v, n * sizeof *v, root, &bytes, &lens);
    double *out = NULL;
    if (result >= 0 && hf_comm_rank(c) == root)
        result = gathered_doubles(bytes, lens, hf_comm_size(c), &out, &total);
    free(bytes);
    free(lens);
    result = hf_comm_check(c, result);
    if (result < 0) {
        free(out);
        return result;
    }
    *all = out;
    *n_all = total / sizeof(double);
    return HF_OK;
}

int hf_dist_bcast(const hf_group *g, double *v, size_t n, int root)
{
    return hf_dist_is_parallel(g) && n ? hf_comm_bcast(hf_group_comm(g), v, n * sizeof *v, root)
                                       : HF_OK;
}
