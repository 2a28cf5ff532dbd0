/* logistic.c - L2-penalised logistic regression (scikit-learn's LogisticRegression, penalty='l2',
 * solver='lbfgs', multi_class='auto').
 *
 * Binary (n_classes == 2): one weight vector w and intercept b, P(class 1) = sigmoid(Xw + b).
 * Multiclass (n_classes > 2): multinomial softmax with one weight row and intercept per class.
 *
 * The problem is minimise C * sum_i logloss_i + 0.5 ||W||^2 (intercepts not penalised). As in
 * scikit-learn 1.2, the optimiser works on the same problem divided by C,
 *     f(W, b) = sum_i logloss_i + 0.5 / C ||W||^2,
 * so that `tol` has scikit-learn's meaning: the fit stops when max_j |df/dx_j| <= tol (the
 * max-abs projected gradient, scipy's pgtol; there are no bounds, so projected = plain gradient).
 * Mapping onto liblbfgs: its own gradient test (||g|| < epsilon max(1,||x||)) and delta test are
 * disabled (epsilon = 0, past = 0); the progress callback applies scipy's two tests after every
 * iteration, as scikit-learn's lbfgs solver gets them: max |g| <= tol (pgtol), or a relative
 * decrease of f of at most FTOL (scipy's default ftol). max_iterations = max_iter and m = 10
 * (scipy's maxcor).
 * Reaching max_iter, or a line search that cannot make progress at machine precision, is not an
 * error: the last accepted point is returned and n_iter records the iterations used. A non-finite
 * loss (NaN/Inf in the data, overflow) is HF_ENUM.
 *
 * Loss and gradient use BLAS (dgemm for the multinomial case, dgemv for the binary one) and a
 * numerically stable log-sum-exp. */
#include "../model.h"
#include "../../common/hf.h"

#include <cblas.h>
#include <lbfgs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_logistic_regression;

enum { P_C = 0, P_FIT_INTERCEPT, P_MAX_ITER, P_TOL, N_PARAMS };

static const hf_param_def logistic_params[N_PARAMS] = {
    {"C", HF_VAL_NUMBER, "1.0", 0.0, INFINITY, 1, NULL,
     "inverse of the L2 regularisation strength (> 0); smaller values regularise more"},
    {"fit_intercept", HF_VAL_BOOL, "true", 0.0, 1.0, 0, NULL,
     "fit an unpenalised intercept per output"},
    {"max_iter", HF_VAL_INT, "100", 1.0, 1e9, 0, NULL,
     "maximum L-BFGS iterations; reaching it is not an error (scikit-learn warns)"},
    {"tol", HF_VAL_NUMBER, "1e-4", 0.0, INFINITY, 0, NULL,
     "stop when the largest absolute gradient component is <= tol"},
};

/* State of one optimisation, passed to the liblbfgs callbacks. */
typedef struct logit_problem {
    const double *X; /* n x p */
    const int *y;    /* n class indices */
    size_t n, p;
    size_t k;      /* outputs: 1 (binary) or n_classes */
    int intercept; /* 1: the last k variables are intercepts */
    double inv_c;  /* 1 / C */
    double tol;
    double *Z;     /* n x k work: scores, then residuals */
    int nonfinite; /* set when a loss evaluation was not finite */
    int converged; /* set by the progress callback */
    int n_iter;    /* iterations done (from the progress callback) */
    double f_prev; /* objective at the previous iterate (scipy's relative-decrease test) */
} logit_problem;

/* scipy's L-BFGS-B default ftol (factr 1e7 times the machine epsilon), which scikit-learn keeps:
 * the run also stops when (f_prev - f) / max(|f_prev|, |f|, 1) <= FTOL. */
#define FTOL 2.220446049250313e-09

/* Line-search failures after which the last accepted point is kept. */
static int is_line_search_stop(int ret)
{
    return ret == LBFGSERR_ROUNDING_ERROR || ret == LBFGSERR_MINIMUMSTEP ||
           ret == LBFGSERR_MAXIMUMSTEP || ret == LBFGSERR_MAXIMUMLINESEARCH ||
           ret == LBFGSERR_INCORRECT_TMINMAX || ret == LBFGSERR_WIDTHTOOSMALL ||
           ret == LBFGSERR_OUTOFINTERVAL || ret == LBFGSERR_INCREASEGRADIENT;
}

static double log1pexp(double z)
{
    return (z > 0.0 ? z : 0.0) + log1p(exp(-fabs(z)));
}

static double sigmoid(double z)
{
    if (z >= 0.0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* Loss and exact gradient at x = [W (k x p, row-major) | b (k, if intercept)]. */
static double logit_eval(const logit_problem *pr, const double *x, double *g)
{
    const size_t n = pr->n, p = pr->p, k = pr->k;
    const double *W = x;
    const double *b = pr->intercept ? x + k * p : NULL;
    double *Z = pr->Z;
    double loss = 0.0;

    if (k == 1) {
        for (size_t i = 0; i < n; i++)
            Z[i] = b ? b[0] : 0.0;
        if (p > 0)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)p, 1.0, pr->X, (int)p, W, 1, 1.0,
                        Z, 1);
        for (size_t i = 0; i < n; i++) {
            double z = Z[i];
            double yi = (double)pr->y[i];
            loss += log1pexp(z) - yi * z;
            Z[i] = sigmoid(z) - yi;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < k; c++)
                Z[i * k + c] = b ? b[c] : 0.0;
        if (p > 0)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)p, 1.0, pr->X,
                        (int)p, W, (int)p, 1.0, Z, (int)k);
        for (size_t i = 0; i < n; i++) {
            double *zi = Z + i * k;
            double mx = zi[0];
            for (size_t c = 1; c < k; c++)
                if (zi[c] > mx)
                    mx = zi[c];
            int yi = pr->y[i];
            double zy = zi[yi] - mx;
            double s = 0.0;
            for (size_t c = 0; c < k; c++) {
                zi[c] = exp(zi[c] - mx);
                s += zi[c];
            }
            /* logsumexp(z) - z_y = log(s) - (z_y - mx), s >= 1 */
            loss += log(s) - zy;
            for (size_t c = 0; c < k; c++)
                zi[c] /= s;
            zi[yi] -= 1.0;
        }
    }
    /* Gradient: dW = R^T X + W / C, db = column sums of R. */
    if (p > 0) {
        memcpy(g, W, k * p * sizeof *g);
        if (k == 1)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)p, 1.0, pr->X, (int)p, Z, 1,
                        pr->inv_c, g, 1);
        else
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)p, (int)n, 1.0, Z,
                        (int)k, pr->X, (int)p, pr->inv_c, g, (int)p);
        loss += 0.5 * pr->inv_c * cblas_ddot((int)(k * p), W, 1, W, 1);
    }
    if (b) {
        double *gb = g + k * p;
        for (size_t c = 0; c < k; c++)
            gb[c] = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < k; c++)
                gb[c] += Z[i * k + c];
    }
    return loss;
}

static double max_abs(const double *g, size_t m)
{
    double mx = 0.0;
    for (size_t j = 0; j < m; j++)
        if (fabs(g[j]) > mx || isnan(g[j]))
            mx = isnan(g[j]) ? INFINITY : fabs(g[j]);
    return mx;
}

static lbfgsfloatval_t cb_evaluate(void *instance, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                   const int n, const lbfgsfloatval_t step)
{
    logit_problem *pr = instance;
    (void)n;
    (void)step;
    double f = logit_eval(pr, x, g);
    if (!isfinite(f) || !isfinite(max_abs(g, (size_t)n))) {
        pr->nonfinite = 1;
        return INFINITY;
    }
    return f;
}

static int cb_progress(void *instance, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                       const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                       const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k,
                       int ls)
{
    logit_problem *pr = instance;
    (void)x;
    (void)xnorm;
    (void)gnorm;
    (void)step;
    (void)ls;
    pr->n_iter = k;
    if (max_abs(g, (size_t)n) <= pr->tol) {
        pr->converged = 1;
        return 1;
    }
    double scale = fmax(fmax(fabs(pr->f_prev), fabs(fx)), 1.0);
    if ((pr->f_prev - fx) / scale <= FTOL) {
        pr->converged = 1;
        return 1;
    }
    pr->f_prev = fx;
    return 0;
}

/* Fits one parameter set into a new fitted model. */
static int fit_one(const hf_fit_data *d, const int *y, const hf_value *params, double *Z,
                   hf_fitted **out)
{
    int result = HF_OK;
    hf_fitted *m = NULL;
    lbfgsfloatval_t *x = NULL;
    double *g = NULL;
    const size_t p = d->p;
    const size_t k = d->n_classes == 2 ? 1 : d->n_classes;
    double C = hf_value_as_double(&params[P_C]);
    int intercept = hf_value_as_double(&params[P_FIT_INTERCEPT]) != 0.0;
    double max_iter = hf_value_as_double(&params[P_MAX_ITER]);
    double tol = hf_value_as_double(&params[P_TOL]);

    if (!(C > 0.0) || !isfinite(C)) {
        result = hf_error(HF_EINVAL, "logistic_regression: C=%g, expected a finite number > 0", C);
        goto out;
    }
    if (!(max_iter >= 1.0) || max_iter > 1e9) {
        result = hf_error(HF_EINVAL, "logistic_regression: max_iter=%g, expected an integer >= 1",
                          max_iter);
        goto out;
    }
    if (!(tol >= 0.0)) {
        result = hf_error(HF_EINVAL, "logistic_regression: tol=%g, expected a number >= 0", tol);
        goto out;
    }
    size_t nvar = k * p + (intercept ? k : 0);
    if (nvar == 0) {
        result =
            hf_error(HF_EDATA, "logistic_regression: no features and no intercept: nothing to fit");
        goto out;
    }
    logit_problem pr = {.X = d->X,
                        .y = y,
                        .n = d->n,
                        .p = p,
                        .k = k,
                        .intercept = intercept,
                        .inv_c = 1.0 / C,
                        .tol = tol,
                        .Z = Z};
    x = lbfgs_malloc((int)nvar);
    g = hf_malloc(nvar * sizeof *g);
    if (!x || !g) {
        result =
            x ? HF_ENOMEM : hf_error(HF_ENOMEM, "logistic_regression: lbfgs_malloc(%zu)", nvar);
        goto out;
    }
    memset(x, 0, nvar * sizeof *x);
    /* scipy's L-BFGS-B also tests the starting point before the first iteration. */
    double f0 = logit_eval(&pr, x, g);
    pr.f_prev = f0;
    if (!isfinite(f0) || !isfinite(max_abs(g, nvar))) {
        result = hf_error(HF_ENUM,
                          "logistic_regression: the loss is not finite at the start (NaN or Inf "
                          "in the training data?)");
        goto out;
    }
    /* A line search that can no longer resolve the decrease of f (rounding error near the
     * optimum: the achievable max |g| is about sqrt(DBL_EPSILON * |f| * curvature)) ends the run
     * at the last accepted point, as scipy's L-BFGS-B does; it is not an error. Restarting
     * liblbfgs from there was tried and made no further progress. */
    int ret = LBFGS_SUCCESS;
    if (max_abs(g, nvar) > tol) {
        lbfgs_parameter_t lp;
        lbfgs_parameter_init(&lp);
        lp.m = 10;
        lp.epsilon = 0.0;
        lp.past = 0;
        lp.max_iterations = (int)max_iter;
        lbfgsfloatval_t fx = 0.0;
        ret = lbfgs((int)nvar, x, &fx, cb_evaluate, cb_progress, &pr, &lp);
        if (pr.nonfinite) {
            result = hf_error(HF_ENUM,
                              "logistic_regression: the loss became NaN or Inf during the fit "
                              "(C=%g, iteration %d)",
                              C, pr.n_iter);
            goto out;
        }
        if (ret == LBFGSERR_OUTOFMEMORY) {
            result = hf_error(HF_ENOMEM, "logistic_regression: liblbfgs ran out of memory");
            goto out;
        }
        if (ret < 0 && !is_line_search_stop(ret) && ret != LBFGSERR_MAXIMUMITERATION) {
            result =
                hf_error(HF_EINTERNAL, "logistic_regression: liblbfgs failed with code %d", ret);
            goto out;
        }
        if (!pr.converged)
            hf_debug("logistic_regression: C=%g stopped after %d iterations without reaching "
                     "tol=%g (liblbfgs status %d)",
                     C, pr.n_iter, tol, ret);
    }
    m = hf_fitted_new(&hf_model_logistic_regression, p, d->n_classes, 2);
    if (!m) {
        result = HF_ENOMEM;
        goto out;
    }
    double *coef = hf_fitted_array(m, 0, "coef", k, p);
    double *icpt = hf_fitted_array(m, 1, "intercept", 1, k);
    if (!coef || !icpt) {
        result = HF_ENOMEM;
        goto out;
    }
    memcpy(coef, x, k * p * sizeof *coef);
    if (intercept)
        memcpy(icpt, x + k * p, k * sizeof *icpt);
    m->n_iter = pr.n_iter;
    *out = m;
    m = NULL;
out:
    hf_fitted_free(m);
    lbfgs_free(x);
    free(g);
    return result;
}

static int logistic_fit(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
                        hf_fitted **out)
{
    int result = HF_OK;
    int *y = NULL;
    double *Z = NULL;

    for (size_t t = 0; t < n_trials; t++)
        out[t] = NULL;
    if (d->n == 0) {
        result = hf_error(HF_EDATA, "logistic_regression: no training rows");
        goto out;
    }
    if (d->n_classes < 2) {
        result = hf_error(HF_EDATA,
                          "logistic_regression: n_classes=%zu, expected a classification target "
                          "with at least 2 classes",
                          d->n_classes);
        goto out;
    }
    y = hf_malloc(d->n * sizeof *y);
    const size_t k = d->n_classes == 2 ? 1 : d->n_classes;
    Z = hf_malloc(d->n * k * sizeof *Z);
    if (!y || !Z) {
        result = HF_ENOMEM;
        goto out;
    }
    size_t distinct = 0; /* rows whose class differs from row 0's */
    for (size_t i = 0; i < d->n; i++) {
        double v = d->y[i];
        if (!(v >= 0.0) || v >= (double)d->n_classes || v != floor(v)) {
            result = hf_error(HF_EDATA,
                              "logistic_regression: target of row %zu is %g, expected a class "
                              "index in 0..%zu",
                              i, v, d->n_classes - 1);
            goto out;
        }
        y[i] = (int)v;
        distinct += y[i] != y[0];
    }
    /* As sklearn ("needs samples of at least 2 classes in the data"): with one class the
     * unpenalised intercept has no finite optimum. */
    if (distinct == 0) {
        result = hf_error(HF_EDATA,
                          "logistic_regression: all %zu training rows are class %d; expected at "
                          "least 2 classes",
                          d->n, y[0]);
        goto out;
    }
    for (size_t t = 0; t < n_trials; t++) {
        result = fit_one(d, y, params[t], Z, &out[t]);
        if (result < 0)
            goto out;
    }
out:
    free(y);
    free(Z);
    if (result < 0) {
        for (size_t t = 0; t < n_trials; t++) {
            hf_fitted_free(out[t]);
            out[t] = NULL;
        }
    }
    return result;
}

static int logistic_predict(const hf_fitted *m, const double *X, size_t n, size_t p, double *out)
{
    const hf_array *w = hf_fitted_get(m, "coef");
    const hf_array *b = hf_fitted_get(m, "intercept");
    const size_t nc = m->n_outputs;
    const size_t k = nc == 2 ? 1 : nc;
    if (!w || !b || nc < 2 || w->rows != k || w->cols != p || b->cols != k || p != m->n_features)
        return hf_error(HF_EDATA,
                        "logistic_regression: model has %zu features and %zu classes, data has "
                        "%zu features",
                        m->n_features, nc, p);
    if (n == 0)
        return HF_OK;
    if (k == 1) {
        /* decision values into column 1, then [1 - p, p] */
        /* One dot product per row (not dgemv/dgemm): a row's prediction must not depend on how
         * many rows share the call, or batch prediction would depend on the number of ranks. */
        for (size_t i = 0; i < n; i++)
            out[2 * i + 1] =
                b->data[0] + (p > 0 ? cblas_ddot((int)p, X + i * p, 1, w->data, 1) : 0.0);
        for (size_t i = 0; i < n; i++) {
            double pr = sigmoid(out[2 * i + 1]);
            out[2 * i] = 1.0 - pr;
            out[2 * i + 1] = pr;
        }
        return HF_OK;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < k; c++)
            out[i * k + c] =
                b->data[c] + (p > 0 ? cblas_ddot((int)p, X + i * p, 1, w->data + c * p, 1) : 0.0);
    for (size_t i = 0; i < n; i++) {
        double *zi = out + i * k;
        double mx = zi[0];
        for (size_t c = 1; c < k; c++)
            if (zi[c] > mx)
                mx = zi[c];
        double s = 0.0;
        for (size_t c = 0; c < k; c++) {
            zi[c] = exp(zi[c] - mx);
            s += zi[c];
        }
        for (size_t c = 0; c < k; c++)
            zi[c] /= s;
    }
    return HF_OK;
}

const hf_model_ops hf_model_logistic_regression = {
    .name = "logistic_regression",
    .tasks = 1u << HF_TASK_CLASSIFICATION,
    .params = logistic_params,
    .n_params = N_PARAMS,
    .fit = logistic_fit,
    .predict = logistic_predict,
    .can_share = NULL,
};
