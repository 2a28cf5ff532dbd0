/* kernel_ridge.c - kernel ridge regression (scikit-learn's KernelRidge), distributed over a worker
 * group with ScaLAPACK.
 *
 * dual_coef = (K + alpha I)^-1 y with K[i][j] = k(x_i, x_j) over the training rows, no intercept;
 * predictions are K(X_test, X_fit) dual_coef. Kernels: linear <x,y>; rbf exp(-gamma ||x-y||^2);
 * polynomial (gamma <x,y> + coef0)^degree; gamma 0 (the default) means 1/n_features, as
 * scikit-learn's gamma=None.
 *
 * With a group of several ranks (hf_fit_data.group), each rank computes only its own blocks of K in
 * the 2-D block-cyclic layout, from the full X it holds, and K + alpha I is factorised with PDPOTRF
 * and solved with PDPOTRS; the dual coefficients are then replicated on every group rank. Trials
 * that differ only in alpha share K: it is kept, copied and shifted per trial. Without a group or
 * on a 1x1 grid the same code runs LAPACK dpotrf/dpotrs. Prediction splits K(X_test, X_fit) over
 * the group passed to predict the same way and sums the partial products over the group.
 *
 * Fitted arrays: "dual_coef" (n_train x 1), "X_fit" (n_train x p), "kernel_params" (1 x 4:
 * kind [0 linear, 1 rbf, 2 polynomial], gamma as used, degree, coef0). */
#include "common/hf.h"
#include "worker/dist.h"
#include "worker/group.h"
#include "worker/model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_kernel_ridge;

enum { P_ALPHA = 0, P_KERNEL, P_GAMMA, P_DEGREE, P_COEF0, N_PARAMS };
enum { K_LINEAR = 0, K_RBF = 1, K_POLY = 2 };

static const char *const kernel_choices[] = {"linear", "rbf", "polynomial", NULL};

static const hf_param_def kr_params[N_PARAMS] = {
    HF_PARAM_NUMBER("alpha", "1.0", 0.0, INFINITY, 1,
                    "regularisation strength (> 0) added to the diagonal of the kernel matrix"),
    HF_PARAM_CHOICE("kernel", "rbf", kernel_choices,
                    "kernel: linear <x,y>, rbf exp(-gamma ||x-y||^2), polynomial (gamma <x,y> + "
                    "coef0)^degree"),
    HF_PARAM_NUMBER("gamma", "0", 0.0, INFINITY, 0,
                    "kernel coefficient of rbf and polynomial; 0 (the default) means 1/n_features, "
                    "like scikit-learn's gamma=None"),
    HF_PARAM_INT("degree", "3", 0.0, 100.0, "degree of the polynomial kernel"),
    HF_PARAM_NUMBER("coef0", "1", -INFINITY, INFINITY, 0,
                    "independent term of the polynomial kernel"),
};

/* Rows of test or training data processed at once by predict. */
#define KR_CHUNK 256

typedef struct kr_kernel {
    int kind;
    double gamma, degree, coef0;
} kr_kernel;

/* Resolves the kernel of one parameter set for p features. */
static int kernel_from_params(const hf_value *params, size_t p, kr_kernel *k)
{
    const hf_value *kv = &params[P_KERNEL];
    if (kv->type != HF_VAL_STRING || kv->u.str == NULL)
        return hf_error(HF_EINVAL, "kernel_ridge: kernel must be one of linear, rbf, polynomial");
    if (strcmp(kv->u.str, "linear") == 0) {
        k->kind = K_LINEAR;
    } else if (strcmp(kv->u.str, "rbf") == 0) {
        k->kind = K_RBF;
    } else if (strcmp(kv->u.str, "polynomial") == 0) {
        k->kind = K_POLY;
    } else {
        return hf_error(HF_EINVAL,
                        "kernel_ridge: kernel '%s' is not supported: expected linear, rbf or "
                        "polynomial",
                        kv->u.str);
    }
    double gamma = params[P_GAMMA].type == HF_VAL_NONE ? 0.0 : hf_value_as_double(&params[P_GAMMA]);
    if (!(gamma >= 0.0))
        return hf_error(HF_EINVAL, "kernel_ridge: gamma %g: expected a number >= 0", gamma);
    k->gamma = gamma > 0.0 ? gamma : 1.0 / (double)p;
    k->degree = hf_value_as_double(&params[P_DEGREE]);
    k->coef0 = hf_value_as_double(&params[P_COEF0]);
    if (k->kind == K_LINEAR) {
        k->gamma = 0.0;
        k->degree = 0.0;
        k->coef0 = 0.0;
    } else if (k->kind == K_RBF) {
        k->degree = 0.0;
        k->coef0 = 0.0;
    }
    return HF_OK;
}

static int kernel_equal(const kr_kernel *a, const kr_kernel *b)
{
    return a->kind == b->kind && a->gamma == b->gamma && a->degree == b->degree &&
           a->coef0 == b->coef0;
}

/* Copies rows idx[0..cnt) of X (row-major, p columns) into out and their squared norms into sq. */
static void gather_rows(const double *X, size_t p, const size_t *idx, size_t cnt, double *out,
                        double *sq)
{
    for (size_t i = 0; i < cnt; i++) {
        const double *src = X + idx[i] * p;
        memcpy(out + i * p, src, p * sizeof(double));
        double s = 0.0;
        for (size_t j = 0; j < p; j++)
            s += src[j] * src[j];
        sq[i] = s;
    }
}

/* Turns the inner products out[i + j*ld] = <A_i, B_j> into kernel values, given the rows' squared
 * norms; `same` as in kernel_block. */
static void kernel_apply(const kr_kernel *k, const double *sqa, const size_t *ga, size_t na,
                         const double *sqb, const size_t *gb, size_t nb, int same, double *out,
                         size_t ld)
{
    if (k->kind == K_LINEAR)
        return;
    for (size_t j = 0; j < nb; j++) {
        double *col = out + j * ld;
        if (k->kind == K_RBF) {
            for (size_t i = 0; i < na; i++) {
                double d = (-2.0 * col[i] + sqa[i]) + sqb[j];
                if (d < 0.0 || (same && ga[i] == gb[j]))
                    d = 0.0;
                col[i] = exp(d * -k->gamma);
            }
        } else {
            for (size_t i = 0; i < na; i++)
                col[i] = pow(col[i] * k->gamma + k->coef0, k->degree);
        }
    }
}

/* out[i + j*ld] = k(A_i, B_j) (column-major) for the na rows of A and nb rows of B (p columns).
 * `same`: A and B come from one matrix with global row indices ga and gb; the squared distance of
 * a row to itself is then exactly 0, as scikit-learn's euclidean_distances(X, X). */
static void kernel_block(const kr_kernel *k, const double *A, const double *sqa, const size_t *ga,
                         size_t na, const double *B, const double *sqb, const size_t *gb, size_t nb,
                         size_t p, int same, double *out, size_t ld)
{
    if (na == 0 || nb == 0)
        return;
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)na, (int)nb, (int)p, 1.0, A, (int)p,
                B, (int)p, 0.0, out, (int)ld);
    kernel_apply(k, sqa, ga, na, sqb, gb, nb, same, out, ld);
}

/* One row a (p values, squared norm sqa) against the nb rows of B: out[j] = k(a, B_j). The inner
 * products come from one dgemv whose shape depends only on B, so a row's kernel values, and its
 * prediction, are the same bits whichever rows share its rank or chunk (dgemm's result for an
 * entry depends on where the entry falls in the blocking: predict at 1 and 2 ranks differed). */
static void kernel_row(const kr_kernel *k, const double *a, double sqa, const double *B,
                       const double *sqb, size_t nb, size_t p, double *out)
{
    if (nb == 0)
        return;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nb, (int)p, 1.0, B, (int)p, a, 1, 0.0, out, 1);
    kernel_apply(k, &sqa, NULL, 1, sqb, NULL, nb, 0, out, 1);
}

/* Indices 0..n-1 owned by process `me` of `nprocs` in a 1-D block-cyclic split with blocks of nb.
 * *idx is a new array (caller frees) of *cnt entries. */
static int owned_indices(size_t n, int nb, int me, int nprocs, size_t **idx, size_t *cnt)
{
    size_t c = 0;
    *idx = hf_malloc((n > 0 ? n : 1) * sizeof(size_t));
    if (*idx == NULL)
        return HF_ENOMEM;
    for (size_t start = (size_t)me * (size_t)nb; start < n; start += (size_t)nb * (size_t)nprocs) {
        for (size_t i = start; i < n && i < start + (size_t)nb; i++)
            (*idx)[c++] = i;
    }
    *cnt = c;
    return HF_OK;
}

/* Training data gathered for the calling rank's part of the kernel matrix. */
typedef struct kr_local {
    size_t *gr, *gc; /* global indices of local rows and columns */
    double *Xr, *Xc; /* those rows of X */
    double *sqr, *sqc;
} kr_local;

static void local_free(kr_local *l)
{
    free(l->gr);
    free(l->gc);
    free(l->Xr);
    free(l->Xc);
    free(l->sqr);
    free(l->sqc);
    memset(l, 0, sizeof(*l));
}

static int local_gather(const hf_dmat *K, const double *X, size_t p, kr_local *l)
{
    memset(l, 0, sizeof(*l));
    l->gr = hf_malloc((K->locr + 1) * sizeof(size_t));
    l->gc = hf_malloc((K->locc + 1) * sizeof(size_t));
    l->Xr = hf_malloc((K->locr * p + 1) * sizeof(double));
    l->Xc = hf_malloc((K->locc * p + 1) * sizeof(double));
    l->sqr = hf_malloc((K->locr + 1) * sizeof(double));
    l->sqc = hf_malloc((K->locc + 1) * sizeof(double));
    if (!l->gr || !l->gc || !l->Xr || !l->Xc || !l->sqr || !l->sqc) {
        local_free(l);
        return HF_ENOMEM;
    }
    for (size_t i = 0; i < K->locr; i++)
        l->gr[i] = hf_dmat_row(K, i);
    for (size_t j = 0; j < K->locc; j++)
        l->gc[j] = hf_dmat_col(K, j);
    gather_rows(X, p, l->gr, K->locr, l->Xr, l->sqr);
    gather_rows(X, p, l->gc, K->locc, l->Xc, l->sqc);
    return HF_OK;
}

/* Stores one fitted model. */
static int make_fitted(const hf_fit_data *d, const kr_kernel *k, const double *dual,
                       hf_fitted **out)
{
    int result = HF_OK;
    hf_fitted *m = hf_fitted_new(&hf_model_kernel_ridge, d->p, 1, 3);
    if (m == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    double *dc = hf_fitted_array(m, 0, "dual_coef", d->n, 1);
    double *xf = hf_fitted_array(m, 1, "X_fit", d->n, d->p);
    double *kp = hf_fitted_array(m, 2, "kernel_params", 1, 4);
    if (dc == NULL || xf == NULL || kp == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    memcpy(dc, dual, d->n * sizeof(double));
    memcpy(xf, d->X, d->n * d->p * sizeof(double));
    kp[0] = k->kind;
    kp[1] = k->gamma;
    kp[2] = k->degree;
    kp[3] = k->coef0;
    *out = m;
    m = NULL;
out:
    hf_fitted_free(m);
    return result;
}

/* Collective over d->group. */
static int kr_fit(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
                  hf_fitted **out)
{
    int result = HF_OK;
    const hf_group *g = d->group;
    hf_dmat K = {0}, A = {0};
    kr_local loc = {0};
    kr_kernel cur = {0}, k = {0};
    int have_k = 0;
    double *dual = NULL;

    for (size_t t = 0; t < n_trials; t++)
        out[t] = NULL;
    if (d->n_classes != 0) {
        result = hf_error(HF_EINVAL,
                          "kernel_ridge is a regression model: the target has %zu "
                          "classes",
                          d->n_classes);
        goto out;
    }
    if (d->n == 0 || d->p == 0) {
        result = hf_error(HF_EDATA,
                          "kernel_ridge: %zu training rows with %zu features: expected "
                          "at least one of each",
                          d->n, d->p);
        goto out;
    }
    if (g != NULL) {
        result = hf_group_check_memory(g, d->n, hf_group_memory_limit(g), n_trials > 1 ? 2 : 1,
                                       "kernel_ridge");
        if (result != HF_OK)
            goto out;
    }
    dual = hf_malloc(d->n * sizeof(double));
    if (dual == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_dmat_create(g, d->n, d->n, &K);
    if (result != HF_OK)
        goto out;
    result = local_gather(&K, d->X, d->p, &loc);
    if (result != HF_OK)
        goto out;
    for (size_t t = 0; t < n_trials; t++) {
        double alpha = hf_value_as_double(&params[t][P_ALPHA]);
        if (!(alpha > 0.0) || !isfinite(alpha)) {
            result = hf_error(HF_EINVAL, "kernel_ridge: alpha %g: expected a number > 0", alpha);
            goto out;
        }
        result = kernel_from_params(params[t], d->p, &k);
        if (result != HF_OK)
            goto out;
        if (!have_k || !kernel_equal(&k, &cur)) {
            kernel_block(&k, loc.Xr, loc.sqr, loc.gr, K.locr, loc.Xc, loc.sqc, loc.gc, K.locc, d->p,
                         1, K.a, K.lld);
            cur = k;
            have_k = 1;
        }
        /* Keep K for a later trial with the same kernel; the last user factorises it in place. */
        int keep = 0;
        for (size_t u = t + 1; u < n_trials && !keep; u++) {
            kr_kernel ku;
            keep = kernel_from_params(params[u], d->p, &ku) == HF_OK && kernel_equal(&ku, &cur);
        }
        hf_dmat *work = &K;
        if (keep) {
            if (A.a == NULL) {
                result = hf_dmat_create(g, d->n, d->n, &A);
                if (result != HF_OK)
                    goto out;
            }
            result = hf_dmat_copy(&A, &K);
            if (result != HF_OK)
                goto out;
            work = &A;
        } else {
            have_k = 0;
        }
        hf_dmat_add_diagonal(work, alpha);
        result = hf_dist_cholesky(work, "kernel_ridge: K + alpha I");
        if (result == HF_OK)
            result = hf_dist_cholesky_solve(work, d->y, 1, dual);
        if (result == HF_OK)
            result = make_fitted(d, &k, dual, &out[t]);
        if (result != HF_OK) {
            hf_error_prefix(result, "kernel_ridge trial %zu (alpha=%g)", t, alpha);
            goto out;
        }
    }
out:
    if (result != HF_OK) {
        for (size_t t = 0; t < n_trials; t++) {
            hf_fitted_free(out[t]);
            out[t] = NULL;
        }
    }
    hf_dmat_destroy(&K);
    hf_dmat_destroy(&A);
    local_free(&loc);
    free(dual);
    return result;
}

/* Collective over g when it has several ranks (every group rank calls with the same arguments);
 * otherwise local. */
static int kr_predict(const hf_fitted *m, const hf_group *g, const double *X, size_t n, size_t p,
                      double *out)
{
    int result = HF_OK;
    const hf_array *dc = hf_fitted_get(m, "dual_coef");
    const hf_array *xf = hf_fitted_get(m, "X_fit");
    const hf_array *kp = hf_fitted_get(m, "kernel_params");
    size_t *rows = NULL, *cols = NULL, nrow = 0, ncol = 0;
    double *Xc = NULL, *sqc = NULL, *dcl = NULL, *Xr = NULL, *sqr = NULL, *buf = NULL, *part = NULL;
    int parallel = hf_dist_is_parallel(g);

    if (dc == NULL || xf == NULL || kp == NULL || kp->rows * kp->cols != 4 ||
        xf->rows != dc->rows || xf->cols != p || m->n_features != p) {
        result = hf_error(HF_EDATA,
                          "kernel_ridge: the fitted model lacks dual_coef, X_fit or "
                          "kernel_params, or was fitted on %zu features instead of %zu",
                          m->n_features, p);
        goto out;
    }
    /* What make_fitted writes: one dual coefficient per training row (an n x 0 dual_coef read
     * from a file was read past its one allocated value) and one of the kernel kinds (-inf
     * converted to int is undefined). */
    if (dc->cols != 1 ||
        !(kp->data[0] == K_LINEAR || kp->data[0] == K_RBF || kp->data[0] == K_POLY)) {
        result = hf_error(HF_EDATA,
                          "kernel_ridge: got dual_coef of %zu x %zu and kernel kind %g, expected "
                          "%zu x 1 and a kernel of the model",
                          dc->rows, dc->cols, kp->data[0], xf->rows);
        goto out;
    }
    kr_kernel k = {(int)kp->data[0], kp->data[1], kp->data[2], kp->data[3]};
    size_t ntr = dc->rows;
    int nb = g ? hf_group_grid(g)->block_size : HF_GROUP_DEFAULT_BLOCK;
    result = owned_indices(n, nb, parallel ? hf_group_grid(g)->myrow : 0,
                           parallel ? hf_group_grid(g)->nprow : 1, &rows, &nrow);
    if (result == HF_OK)
        result = owned_indices(ntr, nb, parallel ? hf_group_grid(g)->mycol : 0,
                               parallel ? hf_group_grid(g)->npcol : 1, &cols, &ncol);
    if (result != HF_OK)
        goto out;
    Xc = hf_malloc((ncol * p + 1) * sizeof(double));
    sqc = hf_malloc((ncol + 1) * sizeof(double));
    dcl = hf_malloc((ncol + 1) * sizeof(double));
    Xr = hf_malloc((KR_CHUNK * p + 1) * sizeof(double));
    sqr = hf_malloc(KR_CHUNK * sizeof(double));
    buf = hf_malloc((KR_CHUNK * ncol + 1) * sizeof(double));
    part = hf_malloc(KR_CHUNK * sizeof(double));
    if (!Xc || !sqc || !dcl || !Xr || !sqr || !buf || !part) {
        result = HF_ENOMEM;
        goto out;
    }
    gather_rows(xf->data, p, cols, ncol, Xc, sqc);
    for (size_t j = 0; j < ncol; j++)
        dcl[j] = dc->data[cols[j]];
    memset(out, 0, n * sizeof(double));
    for (size_t c0 = 0; c0 < nrow; c0 += KR_CHUNK) {
        size_t cn = nrow - c0 < KR_CHUNK ? nrow - c0 : KR_CHUNK;
        gather_rows(X, p, rows + c0, cn, Xr, sqr);
        if (ncol == 0)
            continue;
        for (size_t i = 0; i < cn; i++) {
            /* One row at a time, its sum in one fixed order: the same bits at any number of
             * ranks and any chunking (kernel_row). */
            kernel_row(&k, Xr + i * p, sqr[i], Xc, sqc, ncol, p, buf);
            double s = 0.0;
            for (size_t j = 0; j < ncol; j++)
                s += buf[j] * dcl[j];
            part[i] = s;
        }
        for (size_t i = 0; i < cn; i++)
            out[rows[c0 + i]] = part[i];
    }
    if (parallel)
        result = hf_comm_allreduce_sum_f64(hf_group_comm(g), out, n);
out:
    free(rows);
    free(cols);
    free(Xc);
    free(sqc);
    free(dcl);
    free(Xr);
    free(sqr);
    free(buf);
    free(part);
    return result;
}

/* The kernel matrix (and its copy when several alphas share it) must fit on every group rank. */
static int kr_preflight(const hf_group *group, size_t n, size_t p, size_t n_trials,
                        uint64_t memory_per_rank)
{
    (void)p;
    return hf_group_check_memory(group, n, memory_per_rank, n_trials > 1 ? 2 : 1, "kernel_ridge");
}

const hf_model_ops hf_model_kernel_ridge = {
    .name = "kernel_ridge",
    .tasks = 1u << HF_TASK_REGRESSION,
    .params = kr_params,
    .n_params = N_PARAMS,
    .fit = kr_fit,
    .predict = kr_predict,
    .shared_param = "alpha",
    .preflight = kr_preflight,
};
