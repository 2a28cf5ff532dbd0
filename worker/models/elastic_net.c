/* elastic_net.c - linear regression with L1 and L2 penalties (scikit-learn's ElasticNet; with
 * l1_ratio 1 it is scikit-learn's Lasso), by cyclic coordinate descent.
 *
 * Minimises, as scikit-learn does,
 *     1 / (2 n) ||y - X w - b||^2 + alpha l1_ratio ||w||_1 + alpha (1 - l1_ratio) / 2 ||w||^2,
 * the intercept unpenalised: with fit_intercept, X and y are centred with their training means,
 * w is solved on the centred data and b = ymean - xmean . w.
 *
 * The solver is scikit-learn's (enet_coordinate_descent, selection "cyclic", precompute False),
 * the same updates in the same order from w = 0, so that hyperfold stops where scikit-learn stops
 * and not only near the same optimum: on the problem multiplied by n, each sweep over the
 * coordinates sets w_j = S(x_j . r_j, n alpha l1_ratio) / (||x_j||^2 + n alpha (1 - l1_ratio))
 * (S the soft threshold, r_j the residual without coordinate j); after a sweep whose largest
 * change of a coefficient is below tol times the largest coefficient (or every coefficient is 0,
 * or the last iteration), the duality gap is computed, and the fit stops when it is below tol
 * ||y||^2. A fit that reaches max_iter is not an error: n_iter and `stop` record it (scikit-learn
 * issues a ConvergenceWarning). Hand-written: no Debian library solves this problem with this
 * stopping rule (liblinear has no elastic net for regression), and the rule is what makes the
 * answers scikit-learn's.
 *
 * Work shared across trials: every alpha of a fold (with the same l1_ratio and fit_intercept)
 * uses one centred copy of the training rows, stored by column for the coordinate sweeps, and
 * its column norms; each trial starts from w = 0, as scikit-learn's ElasticNet does.
 *
 * Fitted arrays: "coef" (1 x p), "intercept" (1 x 1), as ridge's. */
#include "common/hf.h"
#include "worker/group.h"
#include "worker/model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_elastic_net;

enum { P_ALPHA = 0, P_L1_RATIO, P_FIT_INTERCEPT, P_MAX_ITER, P_TOL, N_PARAMS };

static const hf_param_def en_params[N_PARAMS] = {
    HF_PARAM_NUMBER("alpha", "1.0", 0.0, INFINITY, 1,
                    "strength of both penalties (> 0): alpha l1_ratio times the L1 norm of w and "
                    "alpha (1 - l1_ratio) / 2 times its squared L2 norm, beside half the mean "
                    "squared error"),
    HF_PARAM_NUMBER("l1_ratio", "0.5", 0.0, 1.0, 0,
                    "share of the L1 penalty: 1 is the lasso, 0 a ridge penalty (use ridge)"),
    HF_PARAM_BOOL("fit_intercept", "true", "fit an unpenalised intercept by centring X and y"),
    HF_PARAM_INT(
        "max_iter", "1000", 1.0, 1e9,
        "most coordinate-descent sweeps; reaching it is not an error (scikit-learn warns)"),
    HF_PARAM_NUMBER("tol", "1e-4", 0.0, INFINITY, 0,
                    "stop when the duality gap is below tol times the sum of squares of the "
                    "centred y (checked after a sweep whose largest coefficient change is below "
                    "tol times the largest coefficient)"),
};

/* The centred training rows by column, shared by the trials of one fit call. */
typedef struct en_data {
    size_t n, p;
    double *Xc;    /* p columns of n: Xc[j * n + i]; then yc, norms and xmean in the same block */
    double *yc;    /* n */
    double *norms; /* p: ||x_j||^2 */
    double *xmean; /* p (zeros without intercept) */
    double ymean;
    double yy; /* ||yc||^2 */
} en_data;

static int en_data_make(const hf_fit_data *d, int intercept, en_data *e)
{
    const size_t n = d->n, p = d->p;
    memset(e, 0, sizeof *e);
    e->n = n;
    e->p = p;
    e->Xc = hf_calloc(n * p + n + 2 * p + 1, sizeof *e->Xc);
    if (!e->Xc)
        return HF_ENOMEM;
    e->yc = e->Xc + n * p;
    e->norms = e->yc + n;
    e->xmean = e->norms + p;
    if (intercept && n > 0) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < p; j++)
                e->xmean[j] += d->X[i * p + j];
            e->ymean += d->y[i];
        }
        for (size_t j = 0; j < p; j++)
            e->xmean[j] /= (double)n;
        e->ymean /= (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < p; j++)
            e->Xc[j * n + i] = d->X[i * p + j] - e->xmean[j];
        e->yc[i] = d->y[i] - e->ymean;
    }
    for (size_t j = 0; j < p; j++)
        e->norms[j] = cblas_ddot((int)n, e->Xc + j * n, 1, e->Xc + j * n, 1);
    e->yy = cblas_ddot((int)n, e->yc, 1, e->yc, 1);
    return HF_OK;
}

static double soft_threshold(double t, double l1)
{
    double a = fabs(t) - l1;
    return a > 0.0 ? copysign(a, t) : 0.0;
}

/* The duality gap of w with the residual r (scikit-learn's, on the problem multiplied by n);
 * xta is scratch of p values. */
static double duality_gap(const en_data *e, const double *w, const double *r, double l1, double l2,
                          double *xta)
{
    const size_t n = e->n, p = e->p;
    double dual_norm = 0.0, asum = 0.0;
    for (size_t j = 0; j < p; j++) {
        xta[j] = cblas_ddot((int)n, e->Xc + j * n, 1, r, 1) - l2 * w[j];
        if (fabs(xta[j]) > dual_norm)
            dual_norm = fabs(xta[j]);
        asum += fabs(w[j]);
    }
    double rr = cblas_ddot((int)n, r, 1, r, 1), ww = p ? cblas_ddot((int)p, w, 1, w, 1) : 0.0;
    double c = 1.0, gap = rr;
    if (dual_norm > l1) {
        c = l1 / dual_norm;
        gap = 0.5 * (rr + rr * c * c);
    }
    return gap + l1 * asum - c * cblas_ddot((int)n, r, 1, e->yc, 1) + 0.5 * l2 * (1.0 + c * c) * ww;
}

/* One trial: w (p values, from 0) and its residual r (n values); *iters the sweeps done, *conv
 * whether the gap fell below the tolerance. */
static void en_solve(const en_data *e, double alpha, double l1_ratio, long max_iter, double tol,
                     double *w, double *r, double *xta, long *iters, int *conv)
{
    const size_t n = e->n, p = e->p;
    const double l1 = alpha * l1_ratio * (double)n, l2 = alpha * (1.0 - l1_ratio) * (double)n;
    const double gap_tol = tol * e->yy;
    memset(w, 0, (p ? p : 1) * sizeof *w);
    memcpy(r, e->yc, (n ? n : 1) * sizeof *r);
    *conv = 0;
    *iters = 0;
    for (long it = 0; it < max_iter; it++) {
        double w_max = 0.0, dw_max = 0.0;
        for (size_t j = 0; j < p; j++) {
            if (e->norms[j] == 0.0)
                continue;
            const double *xj = e->Xc + j * n, wj = w[j];
            if (wj != 0.0)
                cblas_daxpy((int)n, wj, xj, 1, r, 1);
            const double t = cblas_ddot((int)n, xj, 1, r, 1);
            w[j] = soft_threshold(t, l1) / (e->norms[j] + l2);
            if (w[j] != 0.0)
                cblas_daxpy((int)n, -w[j], xj, 1, r, 1);
            if (fabs(w[j] - wj) > dw_max)
                dw_max = fabs(w[j] - wj);
            if (fabs(w[j]) > w_max)
                w_max = fabs(w[j]);
        }
        *iters = it + 1;
        if (w_max == 0.0 || dw_max / w_max < tol || it == max_iter - 1) {
            if (duality_gap(e, w, r, l1, l2, xta) < gap_tol) {
                *conv = 1;
                return;
            }
        }
    }
}

static int en_fit(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
                  hf_fitted **out)
{
    if (d->n_classes != 0)
        return hf_error(HF_EINVAL, "elastic_net: a regression model, given %zu classes",
                        d->n_classes);
    if (d->rows)
        return hf_error(HF_EINTERNAL, "elastic_net: training rows given by index");
    const size_t n = d->n, p = d->p;
    for (size_t t = 0; t < n_trials; t++)
        out[t] = NULL;
    if (n == 0)
        return hf_error(HF_EDATA, "elastic_net: no training rows");
    /* The trials of one call differ only in alpha (shared_param): one centred copy. */
    en_data e;
    HF_CALL(en_data_make(d, params[0][P_FIT_INTERCEPT].u.b, &e));
    double *r = hf_malloc(n * sizeof *r), *xta = hf_malloc((p ? p : 1) * sizeof *xta);
    int result = r && xta ? HF_OK : HF_ENOMEM;
    for (size_t t = 0; t < n_trials && result >= 0; t++) {
        const hf_value *v = params[t];
        hf_fitted *m = hf_fitted_new(&hf_model_elastic_net, p, 1, 2);
        double *w = m ? hf_fitted_array(m, 0, "coef", 1, p) : NULL;
        double *b = m ? hf_fitted_array(m, 1, "intercept", 1, 1) : NULL;
        if (!w || !b) {
            hf_fitted_free(m);
            result = HF_ENOMEM;
            break;
        }
        long iters = 0;
        int conv = 0;
        en_solve(&e, hf_value_as_double(&v[P_ALPHA]), hf_value_as_double(&v[P_L1_RATIO]),
                 (long)v[P_MAX_ITER].u.i, hf_value_as_double(&v[P_TOL]), w, r, xta, &iters, &conv);
        b[0] = e.ymean - (p ? cblas_ddot((int)p, e.xmean, 1, w, 1) : 0.0);
        for (size_t j = 0; j < p && result >= 0; j++)
            if (!isfinite(w[j]))
                result = hf_error(HF_ENUM, "elastic_net: coefficient %zu is not finite (alpha=%g)",
                                  j, hf_value_as_double(&v[P_ALPHA]));
        m->n_iter = (double)iters;
        m->stop = conv ? HF_FIT_CONVERGED : HF_FIT_MAX_ITER;
        out[t] = m;
    }
    if (result < 0)
        for (size_t t = 0; t < n_trials; t++) {
            hf_fitted_free(out[t]);
            out[t] = NULL;
        }
    free(r);
    free(xta);
    free(e.Xc);
    return result;
}

/* A fit call holds a centred copy of the training rows (en_fit's Xc). */
static int en_preflight(const hf_group *group, size_t n, size_t p, size_t n_trials,
                        uint64_t memory_per_rank)
{
    (void)group;
    (void)n_trials;
    char what[96];
    snprintf(what, sizeof what, "elastic_net: a centred copy of the %zux%zu training rows", n, p);
    return hf_group_check_bytes(8 * ((uint64_t)n * p + n + 2 * (uint64_t)p), memory_per_rank, what);
}

const hf_model_ops hf_model_elastic_net = {
    .name = "elastic_net",
    .resource_param = "max_iter",
    .tasks = 1u << HF_TASK_REGRESSION,
    .params = en_params,
    .n_params = N_PARAMS,
    .fit = en_fit,
    .predict = hf_linear_predict,
    .predict_many = hf_linear_scores, /* the scores are the predictions */
    .shared_param = "alpha",
    .preflight = en_preflight,
};
