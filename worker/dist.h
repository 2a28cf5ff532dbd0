/* dist.h - distributed dense linear algebra on a worker group (ScaLAPACK), with a LAPACK path.
 *
 * Every function takes the group (worker/group.h). g == NULL or a 1x1 grid runs plain LAPACK on the
 * calling rank; otherwise the work is spread over the group's BLACS grid and every function marked
 * "Collective" must be called by every rank of the group with the same arguments. Inputs and
 * outputs called "replicated" are whole arrays that every group rank holds identically.
 * Row-major arrays unless stated otherwise (hf_dmat local parts are column-major, as ScaLAPACK).
 * See docs/distributed.md. */
#ifndef HF_DIST_H
#define HF_DIST_H

#include "worker/group.h"

#include <stddef.h>

/* A matrix distributed 2-D block-cyclically over a group's grid (blocks nb x nb from process
 * (0,0)); with no group (or a 1x1 grid) the local part is the whole matrix. */
typedef struct hf_dmat {
    const hf_group *g; /* borrowed; NULL = local */
    size_t m, n;       /* global shape */
    int nb;            /* block size */
    int nprow, npcol, myrow, mycol;
    int desc[9];       /* ScaLAPACK descriptor (valid when g != NULL) */
    size_t locr, locc; /* local rows and columns */
    size_t lld;        /* local leading dimension (>= 1) */
    double *a;         /* lld x locc, column-major, owned */
} hf_dmat;

/* 1 if the group takes the ScaLAPACK path (more than one process), 0 for the LAPACK path. */
int hf_dist_is_parallel(const hf_group *g);

/* Not collective: allocates the calling rank's zeroed part of an m x n distributed matrix.
 * Free with hf_dmat_destroy. */
int hf_dmat_create(const hf_group *g, size_t m, size_t n, hf_dmat *out);
/* Frees the local part; accepts a zeroed or destroyed struct. */
void hf_dmat_destroy(hf_dmat *a);
/* Not collective: copies the local part of src into dst (same group and shape). */
int hf_dmat_copy(hf_dmat *dst, const hf_dmat *src);
/* Global row (column) index of local row li (column lj). */
size_t hf_dmat_row(const hf_dmat *a, size_t li);
size_t hf_dmat_col(const hf_dmat *a, size_t lj);
/* Not collective: fills the local part from a replicated row-major m x n array. */
void hf_dmat_set(hf_dmat *a, const double *full);
/* Collective: writes the whole matrix, row-major m x n, into `full` on every group rank. */
int hf_dmat_get(const hf_dmat *a, double *full);
/* Not collective: adds v to every diagonal entry of the local part. */
void hf_dmat_add_diagonal(hf_dmat *a, double v);

/* Collective: Cholesky factorisation A = L L^T in place (lower triangle; PDPOTRF or dpotrf).
 * A matrix that is not positive definite gives HF_ENUM on every rank, the message naming `what`. */
int hf_dist_cholesky(hf_dmat *a, const char *what);
/* Collective: solves L L^T X = B with a factor from hf_dist_cholesky (PDPOTRS or dpotrs). B and X
 * are replicated row-major n x nrhs arrays (X may equal B). */
int hf_dist_cholesky_solve(const hf_dmat *l, const double *B, size_t nrhs, double *X);

/* Collective: solves (A + shift I) X = B for a replicated symmetric positive definite n x n matrix
 * A (PDPOSV or dposv); B and X replicated row-major n x nrhs (X may equal B). */
int hf_dist_posv(const hf_group *g, const double *A, size_t n, double shift, const double *B,
                 size_t nrhs, double *X);

/* Collective: the Gram matrix G = X^T X (p x p) and b = X^T y summed over the group, where each
 * group rank passes its own slice of rows X_local (n_local x p, row-major; n_local may be 0) and
 * y_local (n_local; NULL skips b). Local dsyrk/dgemv, then a sum over the group; G and b come back
 * replicated (caller-allocated, p*p and p). */
int hf_dist_gram(const hf_group *g, const double *X_local, size_t n_local, size_t p,
                 const double *y_local, double *G, double *b);
/* Collective: ridge on row slices: for each alphas[t] solves (X^T X + alpha_t I) w_t = X^T y,
 * X and y being the union of the group ranks' row slices. W (n_alpha x p, row-major, replicated,
 * caller-allocated) receives the solutions. Equals the single-rank solution to rounding. */
int hf_dist_gram_solve(const hf_group *g, const double *X_local, size_t n_local, size_t p,
                       const double *y_local, const double *alphas, size_t n_alpha, double *W);

/* Collective: the k largest eigenpairs of a replicated symmetric n x n matrix C (PDSYEVD or
 * LAPACKE_dsyevd). evals (k, descending) and evecs (k x n row-major: row j is the eigenvector of
 * evals[j]) are replicated, caller-allocated. Each eigenvector's sign is fixed like scikit-learn's
 * svd_flip: its largest-|value| entry (the first one on ties) is positive. */
int hf_dist_eigh_topk(const hf_group *g, const double *C, size_t n, size_t k, double *evals,
                      double *evecs);

/* Data-parallel reductions (parallel.data_parallel). g NULL or of one rank: nothing to do.
 *
 * Collective: v[0..n) summed over the group in a fixed order and replicated bit for bit: every
 * group rank's vector is gathered to group rank 0, added there in group-rank order (rank 0's,
 * then rank 1's, ...), and the sum broadcast. So the result is the same on every rank whatever
 * MPI's reduction algorithm, and a function of the group size alone (an MPI_Allreduce may add in
 * an order that differs between ranks or runs). */
int hf_dist_sum(const hf_group *g, double *v, size_t n);
/* Collective: every group rank's v[0..n) (n may differ between ranks, and be 0) concatenated in
 * group-rank order into *all (hf_malloc'd, *n_all doubles, replicated on every group rank; free
 * it). With the row blocks of parallel.data_parallel (hf_group_row_block) this is one column of
 * the group's training rows in the table's row order, so an order statistic computed on it is the
 * single-copy one bit for bit. Memory: the whole column on every group rank, of any length (the
 * messages go in pieces of at most 1 GiB: hf_comm_allgather_blob). g NULL or of one rank: a copy
 * of v. */
int hf_dist_gather(const hf_group *g, const double *v, size_t n, double **all, size_t *n_all);
/* Collective: hf_dist_gather into group rank `root` only (*all NULL and *n_all 0 elsewhere). */
int hf_dist_gather_to(const hf_group *g, int root, const double *v, size_t n, double **all,
                      size_t *n_all);
/* Collective: v[0..n) of group rank `root` to every group rank. */
int hf_dist_bcast(const hf_group *g, double *v, size_t n, int root);
/* Collective: element-wise minimum / maximum over the group (exact, so any order will do). */
int hf_dist_min(const hf_group *g, double *v, size_t n);
int hf_dist_max(const hf_group *g, double *v, size_t n);
/* Collective: the worst status over the group (the most negative), so that every group rank takes
 * the same branch after a step whose failure depends on its own rows; a rank that did not fail
 * gets HF_EDATA with the message of "another group rank". */
int hf_dist_agree(const hf_group *g, int status);

/* Cumulative wall time spent in Cholesky factorisations by this process and their flop count
 * (n^3/3 each), for benchmarks. Not collective. */
void hf_dist_factor_stats(double *seconds, double *flops);
void hf_dist_factor_stats_reset(void);

#endif
