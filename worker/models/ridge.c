/* ridge.c - ridge regression (scikit-learn's Ridge) with a direct solver shared across alphas.
 *
 * Minimises ||y - Xw - b||^2 + alpha ||w||^2. With fit_intercept, X and y are centred with their
 * training means, w is solved on the centred data and b = ymean - xmean.w.
 *
 * All trials of one fit call with the same fit_intercept share one centred Gram matrix
 * G = Xc^T Xc (BLAS-3 dsyrk), the vector Xc^T yc and one eigendecomposition G = V diag(l) V^T
 * (LAPACKE dsyevd). Each alpha then costs O(p^2): w = V diag(1/(l + alpha)) V^T Xc^T yc.
 *
 * On a worker group of several ranks (hf_fit_data.group, worker/group.h) every group rank holds
 * all rows, computes the same means, and forms the Gram matrix and Xc^T yc of its own slice of
 * rows [r n / G, (r + 1) n / G); the slices are summed over the group (hf_dist_gram) and the
 * eigendecomposition runs on the group's grid (PDSYEVD through hf_dist_eigh_topk). The fit is
 * then collective over the group and gives the single-rank model to rounding.
 *
 * With hf_fit_data.row_shard (parallel.data_parallel) each group rank holds only its share of the
 * training rows: the sums, counts and Gram matrix of the shares are reduced over the group in a
 * fixed order (gram_shard), group rank 0 decomposes the Gram matrix and broadcasts it, and every
 * rank solves the same alphas, so every rank holds the same model. */
#include "worker/model.h"
#include "common/hf.h"
#include "worker/dist.h"
#include "worker/group.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_ridge;

enum { P_ALPHA = 0, P_FIT_INTERCEPT, P_MAX_ITER, P_TOL, N_PARAMS };

static const hf_param_def ridge_params[N_PARAMS] = {
    HF_PARAM_NUMBER("alpha", "1.0", 0.0, INFINITY, 1,
                    "L2 regularisation strength (> 0); larger values shrink the coefficients more"),
    HF_PARAM_BOOL("fit_intercept", "true", "fit an unpenalised intercept by centring X and y"),
    /* Accepted for scikit-learn compatibility (its solvers other than cholesky use them); the
     * eigendecomposition solves exactly. */
    HF_PARAM_INT("max_iter", "0", 0.0, 1e9, "unused by the direct solver"),
    HF_PARAM_NUMBER("tol", "1e-4", 0.0, INFINITY, 0, "unused by the direct solver"),
};

/* Work shared by all trials of one fit_intercept setting. */
typedef struct ridge_shared {
    size_t n, p;
    double *xmean; /* p (zeros without intercept) */
    double ymean;
    double *V;   /* p x p eigenvectors (columns), row-major */
    double *lam; /* p eigenvalues */
    double *z;   /* p: V^T Xc^T yc */
} ridge_shared;

static void shared_free(ridge_shared *s)
{
    free(s->xmean);
    free(s->V);
    free(s->lam);
    free(s->z);
    memset(s, 0, sizeof *s);
}

/* Not collective: the eigendecomposition of the Gram matrix held (upper triangle) in V, which
 * receives its eigenvectors in columns (row-major); lam the eigenvalues (LAPACKE dsyevd). */
static int eigh_local(double *V, size_t p, double *lam)
{
    lapack_int info =
        LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)p, V, (lapack_int)p, lam);
    if (info != 0)
        return hf_error(HF_ENUM,
                        "ridge: eigendecomposition of the %zux%zu Gram matrix failed "
                        "(LAPACKE_dsyevd info %d)",
                        p, p, (int)info);
    return HF_OK;
}

/* Collective over g: the Gram matrix and X^T y summed over the group ranks' row slices, and the
 * full eigendecomposition of the Gram matrix on the group's grid. V (p x p, row-major, eigenvectors
 * in columns), lam (p) and xty (p) come back replicated. */
static int gram_eigh_group(const hf_group *g, const double *X, const double *y, size_t n, size_t p,
                           double *V, double *lam, double *xty)
{
    int result = HF_OK;
    size_t size = (size_t)hf_group_grid(g)->size, r = (size_t)hf_group_grid(g)->rank;
    size_t lo = r * n / size, hi = (r + 1) * n / size;
    double *G = hf_malloc(p * p * sizeof *G), *evecs = hf_malloc(p * p * sizeof *evecs);
    if (!G || !evecs) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_dist_gram(g, X + lo * p, hi - lo, p, y + lo, G, xty);
    if (result < 0)
        goto out;
    result = hf_dist_eigh_topk(g, G, p, p, lam, evecs);
    if (result < 0) {
        hf_error_prefix(result, "ridge: eigendecomposition of the %zux%zu Gram matrix", p, p);
        goto out;
    }
    /* evecs rows are the eigenvectors; V holds them as columns. */
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++)
            V[i * p + j] = evecs[j * p + i];
out:
    free(G);
    free(evecs);
    return result;
}

/* Rows gathered and centred per BLAS call when the Gram matrix is formed in blocks. */
#define GRAM_BLOCK_ROWS 2048

static const double *train_row(const hf_fit_data *d, size_t i)
{
    return d->X + (size_t)(d->rows ? d->rows[i] : (int64_t)i) * d->p;
}

/* Sums over a set of rows shifted by (sx, sy): G = sum (x - sx)(x - sx)^T (upper triangle),
 * xy = sum (x - sx)(y - sy), sum = sum (x - sx), ysum = sum (y - sy). */
typedef struct shifted_sums {
    size_t n, p;
    double *G, *xy, *sum;
    double ysum, yy; /* yy = sum (y - sy)^2 */
} shifted_sums;

static int sums_init(shifted_sums *a, size_t p)
{
    memset(a, 0, sizeof *a);
    a->p = p;
    a->G = hf_calloc(p ? p * p : 1, sizeof *a->G);
    a->xy = hf_calloc(p ? p : 1, sizeof *a->xy);
    a->sum = hf_calloc(p ? p : 1, sizeof *a->sum);
    return a->G && a->xy && a->sum ? HF_OK : HF_ENOMEM;
}

static void sums_zero(shifted_sums *a)
{
    const size_t p = a->p;
    memset(a->G, 0, (p ? p * p : 1) * sizeof *a->G);
    memset(a->xy, 0, (p ? p : 1) * sizeof *a->xy);
    memset(a->sum, 0, (p ? p : 1) * sizeof *a->sum);
    a->n = 0;
    a->ysum = a->yy = 0.0;
}

static void sums_free(shifted_sums *a)
{
    free(a->G);
    free(a->xy);
    free(a->sum);
    memset(a, 0, sizeof *a);
}

/* Adds n rows to a: row i is X + (rows ? rows[i] : i) * p with target y[yrows ? yrows[i] : i],
 * in blocks of rows gathered and shifted into a small buffer, added with dsyrk and dgemv: no copy
 * of the rows is ever made. */
static int sums_add(shifted_sums *a, const double *X, const int64_t *rows, const double *y,
                    const int64_t *yrows, size_t n, const double *sx, double sy)
{
    const size_t p = a->p, nb = n < GRAM_BLOCK_ROWS ? n : GRAM_BLOCK_ROWS;
    double *buf = hf_malloc((nb ? nb * p : 1) * sizeof *buf), *yb = hf_malloc((nb ? nb : 1) * 8);
    if (!buf || !yb) {
        free(buf);
        free(yb);
        return HF_ENOMEM;
    }
    for (size_t lo = 0; lo < n; lo += GRAM_BLOCK_ROWS) {
        const size_t m = n - lo < GRAM_BLOCK_ROWS ? n - lo : GRAM_BLOCK_ROWS;
        for (size_t i = 0; i < m; i++) {
            const size_t r = lo + i;
            const double *restrict row = X + (size_t)(rows ? rows[r] : (int64_t)r) * p;
            double *restrict b = buf + i * p, *restrict sum = a->sum;
            for (size_t j = 0; j < p; j++) {
                b[j] = row[j] - sx[j];
                sum[j] += b[j];
            }
            yb[i] = y[yrows ? (size_t)yrows[r] : r] - sy;
            a->ysum += yb[i];
            a->yy += yb[i] * yb[i];
        }
        if (p == 0)
            continue;
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)m, 1.0, buf, (int)p, 1.0,
                    a->G, (int)p);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)m, (int)p, 1.0, buf, (int)p, yb, 1, 1.0, a->xy,
                    1);
    }
    a->n += n;
    free(buf);
    free(yb);
    return HF_OK;
}

/* The shift of a set of rows: the mean of its first nb rows (sy for the targets likewise). */
static void first_rows_mean(const double *X, const int64_t *rows, const double *y,
                            const int64_t *yrows, size_t nb, size_t p, double *sx, double *sy)
{
    memset(sx, 0, p * sizeof *sx);
    *sy = 0.0;
    for (size_t i = 0; i < nb; i++) {
        const double *restrict row = X + (size_t)(rows ? rows[i] : (int64_t)i) * p;
        for (size_t j = 0; j < p; j++)
            sx[j] += row[j];
        *sy += y[yrows ? (size_t)yrows[i] : i];
    }
    for (size_t j = 0; j < p; j++)
        sx[j] /= (double)(nb ? nb : 1);
    *sy /= (double)(nb ? nb : 1);
}

/* Rows whose mean is the shift of a set of n rows. */
static size_t shift_rows(size_t n)
{
    return n < GRAM_BLOCK_ROWS ? n : GRAM_BLOCK_ROWS;
}

/* Largest loss of precision accepted in the shortcuts below: a difference at least 1/16 of the
 * terms it is taken from (4 bits). Beyond it the computation is redone the plain way. */
#define MAX_CANCEL 16.0

/* 1 if centring the shifted sums (sums_centre) keeps precision: for every column, and for y,
 * the centred sum of squares n var is at least 1/MAX_CANCEL of the shifted one, n (var + d^2).
 * The shift, the mean of the first rows, is normally within a few standard deviations of the
 * mean; rows sorted by a column, or a first block unlike the rest, can put it further. */
static int centring_keeps_precision(const shifted_sums *a)
{
    const double nd = (double)a->n;
    for (size_t j = 0; j < a->p; j++) {
        const double g = a->G[j * a->p + j], d = a->sum[j] / nd;
        if (g > 0.0 && MAX_CANCEL * (g - nd * d * d) < g)
            return 0;
    }
    const double dy = a->ysum / nd;
    return !(a->yy > 0.0 && MAX_CANCEL * (a->yy - nd * dy * dy) < a->yy);
}

/* The centred Gram matrix (upper triangle into V), Xc^T yc (xty) and the means (into s) of the
 * training rows from their sums shifted by (sx, sy). With d = sum / n and dy = ysum / n,
 *     Xc^T Xc = G - n d d^T,   Xc^T yc = xy - n d dy,   means: sx + d and sy + dy.
 * Exact in exact arithmetic for any shift; centring_keeps_precision says when the subtraction
 * loses more than 4 bits. */
static void sums_centre(const shifted_sums *a, const double *sx, double sy, ridge_shared *s,
                        double *V, double *xty)
{
    const size_t p = a->p;
    const double nd = (double)a->n, dy = a->ysum / nd;
    for (size_t i = 0; i < p; i++) {
        const double di = a->sum[i] / nd;
        for (size_t j = i; j < p; j++)
            V[i * p + j] = a->G[i * p + j] - nd * di * (a->sum[j] / nd);
        xty[i] = a->xy[i] - nd * di * dy;
        s->xmean[i] = sx[i] + di;
    }
    s->ymean = sy + dy;
}

/* The fit's Gram matrix and X^T y from the sums: centred (sums_centre) with an intercept, as they
 * are without. */
static void sums_result(const shifted_sums *a, int fit_intercept, const double *sx, double sy,
                        ridge_shared *s, double *V, double *xty)
{
    if (fit_intercept) {
        sums_centre(a, sx, sy, s, V, xty);
    } else {
        memcpy(V, a->G, a->p * a->p * sizeof *V);
        memcpy(xty, a->xy, a->p * sizeof *xty);
    }
}

/* The whole table's sums, kept across fit calls: the training rows of a fold are the table minus
 * the fold's own rows, so each fold's sums are the table's minus those of its (few) other rows,
 * and the table's Gram matrix is formed once per process instead of once per fold. Keyed by the
 * table's identity (hf_dataset.id); one table at a time; guarded by a mutex (rank 0 fits in its
 * worker thread and refits in its main thread). */
static struct {
    pthread_mutex_t mu;
    uint64_t id;
    double *sx, sy;
    shifted_sums a;
} g_table = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Largest p whose table Gram matrix is kept (32 MiB). */
#define TABLE_GRAM_MAX_P 2048

/* 1 if the training rows of d are best formed from the table's sums: rows of a known table, more
 * training rows than other rows, each row once. The other rows are then enumerated by sums_other:
 * with training rows in ascending order (the splits' are: worker/folds.h) from the rows alone, else
 * from *in_out, a byte a table row marking the training rows. No index array of the other rows is
 * made (it was 8 bytes an other row per fit call). */
static int use_table(const hf_fit_data *d, int fit_intercept, unsigned char **in_out)
{
    *in_out = NULL;
    if (!fit_intercept || !d->rows || !d->table || d->table->id == 0 || d->p == 0 ||
        d->p > TABLE_GRAM_MAX_P || hf_dist_is_parallel(d->group) || d->table->n_rows < d->n ||
        d->table->n_rows - d->n >= d->n || d->table->n_rows < 2 * GRAM_BLOCK_ROWS)
        return 0;
    int ascending = 1;
    for (size_t i = 0; i < d->n && ascending; i++)
        ascending = d->rows[i] >= 0 && (size_t)d->rows[i] < d->table->n_rows &&
                    (i == 0 || d->rows[i] > d->rows[i - 1]);
    if (ascending)
        return 1;
    unsigned char *in = hf_calloc(d->table->n_rows, 1);
    if (!in)
        return 0;
    for (size_t i = 0; i < d->n; i++) {
        int64_t r = d->rows[i];
        if (r < 0 || (size_t)r >= d->table->n_rows || in[r]) {
            free(in);
            return 0;
        }
        in[r] = 1;
    }
    *in_out = in;
    return 1;
}

/* Adds the table's rows that are not training rows of d (use_table: in marks the training rows, or
 * NULL when d->rows ascend) to b, in ascending order, GRAM_BLOCK_ROWS at a time: sums_add's blocks
 * are of that many rows, so the additions are those of one sums_add over an array of them. */
static int sums_other(shifted_sums *b, const hf_fit_data *d, const unsigned char *in,
                      const double *sx, double sy)
{
    int64_t idx[GRAM_BLOCK_ROWS];
    size_t m = 0, t = 0;
    int result = HF_OK;
    for (size_t r = 0; r < d->table->n_rows && result >= 0; r++) {
        int train;
        if (in) {
            train = in[r];
        } else {
            train = t < d->n && (size_t)d->rows[t] == r;
            t += (size_t)train;
        }
        if (train)
            continue;
        idx[m++] = (int64_t)r;
        if (m == GRAM_BLOCK_ROWS) {
            result = sums_add(b, d->X, idx, d->table->y, idx, m, sx, sy);
            m = 0;
        }
    }
    if (result >= 0 && m)
        result = sums_add(b, d->X, idx, d->table->y, idx, m, sx, sy);
    return result;
}

/* Not collective. The centred Gram matrix of the training rows (upper triangle into V), Xc^T yc
 * and the means into s: from the table's sums minus the other rows' (use_table), or in one pass
 * over the training rows. Without fit_intercept the shift is 0 and nothing is centred. */
static int gram_local(const hf_fit_data *d, int fit_intercept, ridge_shared *s, double *V,
                      double *xty)
{
    const size_t n = d->n, p = d->p;
    unsigned char *in = NULL;
    shifted_sums a = {0}, b = {0};
    double *sx = hf_calloc(p ? p : 1, sizeof *sx), sy = 0.0;
    int result = sx ? sums_init(&a, p) : HF_ENOMEM;
    if (result < 0)
        goto out;
    int table = use_table(d, fit_intercept, &in);
    if (table) {
        pthread_mutex_lock(&g_table.mu);
        if (g_table.id != d->table->id || g_table.a.p != p || g_table.a.n != d->table->n_rows) {
            free(g_table.sx);
            sums_free(&g_table.a);
            g_table.id = 0;
            g_table.sx = hf_malloc(p * sizeof *g_table.sx);
            result = g_table.sx ? sums_init(&g_table.a, p) : HF_ENOMEM;
            if (result >= 0) {
                first_rows_mean(d->X, NULL, d->table->y, NULL, shift_rows(d->table->n_rows), p,
                                g_table.sx, &g_table.sy);
                result = sums_add(&g_table.a, d->X, NULL, d->table->y, NULL, d->table->n_rows,
                                  g_table.sx, g_table.sy);
            }
            if (result >= 0)
                g_table.id = d->table->id;
        }
        /* A non-finite value anywhere in the table (maybe in rows this fit does not train on)
         * makes its sums useless. */
        for (size_t j = 0; result >= 0 && j < p; j++)
            table &= isfinite(g_table.a.sum[j]) && isfinite(g_table.a.G[j * p + j]) &&
                     isfinite(g_table.a.xy[j]);
        table &= isfinite(g_table.a.yy);
        if (result >= 0 && table) {
            memcpy(sx, g_table.sx, p * sizeof *sx);
            sy = g_table.sy;
            a.n = g_table.a.n;
            a.ysum = g_table.a.ysum;
            a.yy = g_table.a.yy;
            memcpy(a.G, g_table.a.G, p * p * sizeof *a.G);
            memcpy(a.xy, g_table.a.xy, p * sizeof *a.xy);
            memcpy(a.sum, g_table.a.sum, p * sizeof *a.sum);
        }
        pthread_mutex_unlock(&g_table.mu);
        if (result < 0)
            goto out;
    }
    if (table) {
        if ((result = sums_init(&b, p)) < 0 || (result = sums_other(&b, d, in, sx, sy)) < 0)
            goto out;
        /* The training part is the difference: it keeps its precision only if the other rows'
         * sums of squares are not much larger than the training rows' (an outlier among the
         * other rows would cancel the training rows out). */
        for (size_t j = 0; j < p; j++) {
            const double bj = b.G[j * p + j];
            table &= !(MAX_CANCEL * (a.G[j * p + j] - bj) < bj);
        }
        table &= !(MAX_CANCEL * (a.yy - b.yy) < b.yy);
        if (table) {
            a.n -= b.n;
            a.ysum -= b.ysum;
            a.yy -= b.yy;
            for (size_t i = 0; i < p; i++) {
                for (size_t j = i; j < p; j++)
                    a.G[i * p + j] -= b.G[i * p + j];
                a.xy[i] -= b.xy[i];
                a.sum[i] -= b.sum[i];
            }
            table = centring_keeps_precision(&a);
        }
    }
    if (!table) {
        /* One pass over the training rows, shifted by the mean of their first block; if that
         * shift is too far from their mean, a second pass shifted by the mean itself. The
         * targets: d->y, or without it the table's through the rows (table_targets). */
        const double *y = d->y ? d->y : d->table->y;
        const int64_t *yrows = d->y ? NULL : d->rows;
        sums_zero(&a);
        if (fit_intercept)
            first_rows_mean(d->X, d->rows, y, yrows, shift_rows(n), p, sx, &sy);
        if ((result = sums_add(&a, d->X, d->rows, y, yrows, n, sx, sy)) < 0)
            goto out;
        if (fit_intercept && !centring_keeps_precision(&a)) {
            first_rows_mean(d->X, d->rows, y, yrows, n, p, sx, &sy);
            sums_zero(&a);
            if ((result = sums_add(&a, d->X, d->rows, y, yrows, n, sx, sy)) < 0)
                goto out;
        }
    }
    sums_result(&a, fit_intercept, sx, sy, s, V, xty);
out:
    sums_free(&a);
    sums_free(&b);
    free(in);
    free(sx);
    return result;
}

/* Collective over d->group: the centred Gram matrix (upper triangle into V), Xc^T yc and the means
 * (into s) of the training rows when each group rank holds only its share of them
 * (hf_fit_data.row_shard, parallel.data_parallel). Two fixed-order sums over the group
 * (hf_dist_sum, bit-identical on every rank): first the counts and sums of the columns and of y,
 * which give the exact training means; then every rank's Gram matrix, X^T y, column and target sums
 * of its rows shifted by those means, summed with one reduction, and centred as on one rank
 * (sums_centre: the shift is the mean itself, so the correction is at the rounding level). Without
 * fit_intercept the shift is 0 and only the second reduction is made. */
static int gram_shard(const hf_fit_data *d, int fit_intercept, ridge_shared *s, double *V,
                      double *xty)
{
    const size_t n = d->n, p = d->p;
    shifted_sums a = {0};
    double *sx = hf_calloc(p + 2, sizeof *sx), sy = 0.0;
    double *buf = hf_malloc((p * p + 2 * p + 3) * sizeof *buf);
    int result = sx && buf ? sums_init(&a, p) : HF_ENOMEM;
    if (result >= 0 && fit_intercept) {
        /* sx = [sum x (p), sum y, n] */
        for (size_t i = 0; i < n; i++) {
            const double *row = train_row(d, i);
            for (size_t j = 0; j < p; j++)
                sx[j] += row[j];
            sx[p] += d->y[i];
        }
        sx[p + 1] = (double)n;
    }
    result = hf_dist_agree(d->group, result);
    if (result >= 0 && fit_intercept && (result = hf_dist_sum(d->group, sx, p + 2)) >= 0) {
        const double nd = sx[p + 1];
        for (size_t j = 0; j < p; j++)
            sx[j] /= nd;
        sy = sx[p] / nd;
    }
    if (result >= 0)
        result = hf_dist_agree(d->group, sums_add(&a, d->X, d->rows, d->y, NULL, n, sx, sy));
    if (result < 0)
        goto out;
    /* buf = [G (p x p), xy (p), sum (p), ysum, yy, n] */
    memcpy(buf, a.G, p * p * sizeof *buf);
    memcpy(buf + p * p, a.xy, p * sizeof *buf);
    memcpy(buf + p * p + p, a.sum, p * sizeof *buf);
    buf[p * p + 2 * p] = a.ysum;
    buf[p * p + 2 * p + 1] = a.yy;
    buf[p * p + 2 * p + 2] = (double)a.n;
    if ((result = hf_dist_sum(d->group, buf, p * p + 2 * p + 3)) < 0)
        goto out;
    memcpy(a.G, buf, p * p * sizeof *buf);
    memcpy(a.xy, buf + p * p, p * sizeof *buf);
    memcpy(a.sum, buf + p * p + p, p * sizeof *buf);
    a.ysum = buf[p * p + 2 * p];
    a.yy = buf[p * p + 2 * p + 1];
    a.n = (size_t)buf[p * p + 2 * p + 2];
    if (a.n == 0) {
        result = hf_error(HF_EDATA, "ridge: no training rows");
        goto out;
    }
    s->n = a.n;
    sums_result(&a, fit_intercept, sx, sy, s, V, xty);
out:
    sums_free(&a);
    free(sx);
    free(buf);
    return result;
}

/* Collective over g: the eigendecomposition of the replicated Gram matrix in V (eigh_local) on
 * group rank 0, broadcast with its eigenvalues, so that every group rank holds the same bits
 * whatever its CPU's BLAS kernels. */
static int eigh_shard(const hf_group *g, double *V, size_t p, double *lam)
{
    if (!hf_dist_is_parallel(g))
        return eigh_local(V, p, lam);
    hf_comm *c = hf_group_comm(g);
    int result = hf_comm_rank(c) == 0 ? eigh_local(V, p, lam) : HF_OK;
    if ((result = hf_comm_check(c, result)) < 0)
        return result;
    if ((result = hf_comm_bcast(c, V, p * p * sizeof *V, 0)) >= 0)
        result = hf_comm_bcast(c, lam, p * sizeof *lam, 0);
    return result;
}

/* The training means of the columns and of y (fit_intercept) and y centred (or copied) into yc:
 * the group path's first pass. */
static void means(const hf_fit_data *d, int fit_intercept, ridge_shared *s, double *yc)
{
    memcpy(yc, d->y, d->n * sizeof *yc);
    if (!fit_intercept)
        return;
    first_rows_mean(d->X, d->rows, d->y, NULL, d->n, d->p, s->xmean, &s->ymean);
    for (size_t i = 0; i < d->n; i++)
        yc[i] = d->y[i] - s->ymean;
}

/* Builds the Gram matrix of the (centred) training data and its eigendecomposition (collective
 * over d->group when it has several ranks). */
static int shared_build(const hf_fit_data *d, int fit_intercept, ridge_shared *s)
{
    int result = HF_OK;
    const size_t n = d->n, p = d->p;
    double *Xc = NULL, *yc = NULL, *xty = NULL;

    memset(s, 0, sizeof *s);
    s->n = n;
    s->p = p;
    s->xmean = hf_calloc(p ? p : 1, sizeof *s->xmean);
    s->V = hf_calloc(p > 0 ? p * p : 1, sizeof *s->V);
    s->lam = hf_calloc(p ? p : 1, sizeof *s->lam);
    s->z = hf_calloc(p ? p : 1, sizeof *s->z);
    xty = hf_calloc(p ? p : 1, sizeof *xty);
    if (!s->xmean || !s->V || !s->lam || !s->z || !xty)
        result = HF_ENOMEM;
    const hf_group *g = d->group;
    /* The table's targets without d->y (table_targets) are read by the one-rank path only. */
    if (result >= 0 && !d->y && d->n > 0 &&
        (d->row_shard || hf_dist_is_parallel(g) || !d->table || !d->rows))
        result = hf_error(HF_EINTERNAL, "ridge: no training targets");
    /* Row shards: the group agrees on an allocation failure before gram_shard's reductions. */
    if (d->row_shard && (result = hf_dist_agree(g, result)) < 0)
        goto out;
    if (result < 0)
        goto out;
    if (d->row_shard) {
        result = gram_shard(d, fit_intercept, s, s->V, xty);
        if (result >= 0 && p > 0)
            result = eigh_shard(g, s->V, p, s->lam);
    } else if (hf_dist_is_parallel(g)) {
        /* The group kernels take contiguous row slices: centre a copy. */
        yc = hf_malloc(n * sizeof *yc);
        Xc = hf_malloc(n * p * sizeof *Xc + 1);
        if (!yc || !Xc) {
            result = HF_ENOMEM;
            goto out;
        }
        means(d, fit_intercept, s, yc);
        if (p == 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            const double *row = train_row(d, i);
            for (size_t j = 0; j < p; j++)
                Xc[i * p + j] = row[j] - s->xmean[j];
        }
        result = gram_eigh_group(g, Xc, yc, n, p, s->V, s->lam, xty);
    } else {
        result = gram_local(d, fit_intercept, s, s->V, xty);
        if (result >= 0 && p > 0)
            result = eigh_local(s->V, p, s->lam);
    }
    if (result < 0 || p == 0)
        goto out;
    /* z = V^T Xc^T yc */
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)p, (int)p, 1.0, s->V, (int)p, xty, 1, 0.0, s->z, 1);
out:
    free(Xc);
    free(yc);
    free(xty);
    if (result < 0)
        shared_free(s);
    return result;
}

/* Solves one alpha from the shared decomposition into a new fitted model. */
static int solve_alpha(const ridge_shared *s, double alpha, double *scratch, hf_fitted **out)
{
    int result = HF_OK;
    const size_t p = s->p;
    hf_fitted *m = hf_fitted_new(&hf_model_ridge, p, 1, 2);
    if (!m) {
        result = HF_ENOMEM;
        goto out;
    }
    double *w = hf_fitted_array(m, 0, "coef", 1, p);
    double *b = hf_fitted_array(m, 1, "intercept", 1, 1);
    if (!w || !b) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < p; j++) {
        double den = s->lam[j] + alpha;
        if (!(den > 0.0) || !isfinite(den)) {
            result = hf_error(HF_ENUM,
                              "ridge: alpha=%g gives a singular system (eigenvalue %g); expected "
                              "alpha > 0",
                              alpha, s->lam[j]);
            goto out;
        }
        scratch[j] = s->z[j] / den;
    }
    if (p > 0) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)p, (int)p, 1.0, s->V, (int)p, scratch, 1, 0.0,
                    w, 1);
        *b = s->ymean - cblas_ddot((int)p, s->xmean, 1, w, 1);
    } else {
        *b = s->ymean;
    }
    for (size_t j = 0; j < p; j++) {
        if (!isfinite(w[j])) {
            result =
                hf_error(HF_ENUM, "ridge: alpha=%g gives a non-finite coefficient %zu", alpha, j);
            goto out;
        }
    }
    *out = m;
    m = NULL;
out:
    hf_fitted_free(m);
    return result;
}

static int ridge_fit(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
                     hf_fitted **out)
{
    int result = HF_OK;
    ridge_shared s = {0};
    double *scratch = NULL;

    for (size_t t = 0; t < n_trials; t++)
        out[t] = NULL;
    /* With row_shard a group rank may hold none of the training rows: gram_shard counts them
     * over the group. */
    if (d->n == 0 && !d->row_shard) {
        result = hf_error(HF_EDATA, "ridge: no training rows");
        goto out;
    }
    for (size_t t = 0; t < n_trials; t++) {
        double alpha = hf_value_as_double(&params[t][P_ALPHA]);
        if (!(alpha > 0.0) || !isfinite(alpha)) {
            result = hf_error(HF_EINVAL, "ridge: alpha=%g, expected a finite number > 0", alpha);
            goto out;
        }
    }
    scratch = hf_malloc((d->p ? d->p : 1) * sizeof *scratch);
    if (!scratch) {
        result = HF_ENOMEM;
        goto out;
    }
    /* One shared decomposition per fit_intercept value present among the trials. */
    for (int fi = 1; fi >= 0; fi--) {
        int present = 0;
        for (size_t t = 0; t < n_trials && !present; t++)
            present = (hf_value_as_double(&params[t][P_FIT_INTERCEPT]) != 0.0) == fi;
        if (!present)
            continue;
        result = shared_build(d, fi, &s);
        if (result < 0)
            goto out;
        for (size_t t = 0; t < n_trials; t++) {
            if ((hf_value_as_double(&params[t][P_FIT_INTERCEPT]) != 0.0) != fi)
                continue;
            result = solve_alpha(&s, hf_value_as_double(&params[t][P_ALPHA]), scratch, &out[t]);
            if (result < 0)
                goto out;
        }
        shared_free(&s);
    }
out:
    shared_free(&s);
    free(scratch);
    if (result < 0) {
        for (size_t t = 0; t < n_trials; t++) {
            hf_fitted_free(out[t]);
            out[t] = NULL;
        }
    }
    return result;
}

/* Local: one dot product per row (the group, if any, is not needed). */
/* A fit call holds the p x p Gram matrix and its eigenvectors (on every rank of a group too). */
static int ridge_preflight(const hf_group *group, size_t n, size_t p, size_t n_trials,
                           uint64_t memory_per_rank)
{
    (void)group;
    (void)n;
    (void)n_trials;
    char what[96];
    snprintf(what, sizeof what, "ridge: the %zux%zu Gram matrix and its eigenvectors", p, p);
    return hf_group_check_bytes(2 * (uint64_t)p * p * sizeof(double), memory_per_rank, what);
}

const hf_model_ops hf_model_ridge = {
    .name = "ridge",
    .tasks = 1u << HF_TASK_REGRESSION,
    .params = ridge_params,
    .n_params = N_PARAMS,
    .fit = ridge_fit,
    .predict = hf_linear_predict,
    .predict_many = hf_linear_scores, /* the scores are the predictions */
    .shared_param = "alpha",
    .accepts_rows = 1,
    .table_targets = 1,
    .preflight = ridge_preflight,
    .data_parallel = 1,
};
