/* logistic.c - penalised logistic regression (scikit-learn's LogisticRegression with
 * multi_class='auto': penalty 'l2' as its solver 'lbfgs'; 'l1' and 'elasticnet' with the objective
 * of its solver 'saga').
 *
 * Binary (n_classes == 2): one weight vector w and intercept b, P(class 1) = sigmoid(Xw + b).
 * Multiclass (n_classes > 2): multinomial softmax with one weight row and intercept per class.
 *
 * The problem is minimise C * sum_i logloss_i + (1 - r) / 2 ||W||^2 + r ||W||_1 (intercepts not
 * penalised), with r = 0 for penalty l2, r = 1 for l1 and r = l1_ratio for elasticnet:
 * scikit-learn's objective for each penalty. As in scikit-learn 1.2, the optimiser works on the
 * same problem divided by C, f(W, b) = sum_i logloss_i + (1 - r) / (2C) ||W||^2 + r / C ||W||_1, so
 * that `tol` has scikit-learn's lbfgs meaning: the fit stops when max_j |df/dx_j| <= tol (the
 * max-abs projected gradient, scipy's pgtol; there are no bounds, so projected = plain gradient).
 * With an L1 part (r > 0) f is not differentiable where a weight is 0: liblbfgs minimises it by
 * OWL-QN (orthantwise_c = r / C over the weights, not the intercepts; its backtracking line
 * search), and the gradient of the test is the minimum-norm subgradient (the pseudo-gradient: 0
 * for a weight at 0 whose smooth partial derivative is within r / C of 0), which is 0 exactly at
 * the optimum. scikit-learn's saga stops on a different test (the largest change of a weight in
 * an epoch relative to the largest weight); both reach the same optimum, to their tolerances:
 * tests/peer/test_logistic_l1_peer.py compares with it and with the exact optimum.
 * Mapping onto liblbfgs: its own gradient test (||g|| < epsilon max(1,||x||)) and delta test are
 * disabled (epsilon = 0, past = 0); the progress callback applies scipy's two tests after every
 * iteration: max |g| <= tol (scikit-learn's pgtol); at scikit-learn's default tol and looser,
 * also scipy's relative-decrease test (see FTOL); and a step that did not lower f (the rounding
 * floor: stalled). max_iterations = max_iter and m = 10 (scipy's maxcor).
 * Reaching max_iter, or a line search that cannot make progress at machine precision, is not an
 * error: the last accepted point is returned, n_iter records the iterations used and `stop` says
 * that the fit did not converge (HF_FIT_MAX_ITER or HF_FIT_STALLED, where scikit-learn issues a
 * ConvergenceWarning: scipy's status is not 0). A non-finite
 * loss (NaN/Inf in the data, overflow) is HF_ENUM.
 *
 * Trials that differ only in C share one fit call and are optimised in lock-step: every round of
 * loss evaluations is one pass over the training rows with two DGEMMs per block of rows, read in
 * place (see "Lock-step fitting" below). Each trial still starts from zero and runs the
 * optimisation it would run alone (no warm start): only the rounding of the shared products
 * differs, so a lone fit and a lock-step one agree to about 1e-10 while f still falls (to the
 * rounding floor, about 1e-6, when a tiny tol drives both there). The loss uses a numerically
 * stable log-sum-exp.
 *
 * Data-parallel (hf_fit_data.row_shard, parallel.data_parallel): each group rank evaluates the loss
 * and gradient sums of its own rows, and every evaluation adds them over the group with one
 * fixed-order reduction (hf_dist_sum: gathered to group rank 0, added in group-rank order,
 * broadcast), so every rank sees the same bits, liblbfgs takes the same steps on every rank and
 * every rank ends with the same model. Class counts (class_weight balanced, the two-class check)
 * are summed over the group first. */
#include "worker/group.h"
#include "worker/model.h"
#include "common/hf.h"
#include "worker/dist.h"

#include <cblas.h>
#include <float.h>
#include <lbfgs.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_logistic_regression;

enum {
    P_C = 0,
    P_FIT_INTERCEPT,
    P_MAX_ITER,
    P_TOL,
    P_CLASS_WEIGHT,
    P_PENALTY,
    P_L1_RATIO,
    N_PARAMS
};

static const char *const k_class_weights[] = {"none", "balanced", NULL};
static const char *const k_penalties[] = {"l2", "l1", "elasticnet", NULL};

static const hf_param_def logistic_params[N_PARAMS] = {
    HF_PARAM_NUMBER("C", "1.0", 0.0, INFINITY, 1,
                    "inverse of the regularisation strength (> 0); smaller values regularise "
                    "more"),
    HF_PARAM_BOOL("fit_intercept", "true", "fit an unpenalised intercept per output"),
    HF_PARAM_INT("max_iter", "100", 1.0, 1e9,
                 "maximum L-BFGS iterations; reaching it is not an error (scikit-learn warns)"),
    HF_PARAM_NUMBER("tol", "1e-4", 0.0, INFINITY, 0,
                    "stop when the largest absolute gradient component is <= tol"),
    HF_PARAM_CHOICE("class_weight", "none", k_class_weights,
                    "none, or balanced: each training row's loss weighs n / (classes x rows of "
                    "its class), scikit-learn's class_weight=\"balanced\""),
    HF_PARAM_CHOICE("penalty", "l2", k_penalties,
                    "l2: ||W||^2 / 2; l1: ||W||_1 (sparse coefficients); elasticnet: l1_ratio "
                    "||W||_1 + (1 - l1_ratio) ||W||^2 / 2, scikit-learn's penalty"),
    HF_PARAM_NUMBER("l1_ratio", "0.5", 0.0, 1.0, 0,
                    "the L1 share of the elasticnet penalty (0: l2, 1: l1); used only with "
                    "penalty elasticnet"),
};

/* scipy's relative-decrease test, which scikit-learn 1.2's lbfgs leaves in place: the fit also
 * stops (converged, scipy's status 0) when (f_prev - f) / max(|f_prev|, |f|, 1) <= FTOL, scipy's
 * default ftol (factr 1e7 times the machine epsilon). It applies at tol >= FTOL_TOL,
 * scikit-learn's default tol: there hyperfold stops where scikit-learn does, and the gradient
 * test alone would cost several times the iterations on large folds (max |g| of a sum over
 * 80,000 rows <= 1e-4) for scores that move by about 1e-6. A smaller tol asks for more precision
 * than that test allows (at tol 1e-10 it left gradients of 1e-2 and scores 1e-4 from the
 * optimum, and even 64 machine epsilons stopped ill-conditioned fits 2e-6 from the optimum's
 * validation log loss), so there `tol` alone decides, down to the rounding floor: a step that
 * does not lower f at all stops the fit as stalled, not converged. The correctness matrix runs at
 * tol 1e-10 against the exact optimum (docs/testing.md). */
#define FTOL 2.220446049250313e-09
#define FTOL_TOL 1e-4

/* Most rows per block of the batched loss evaluation. It also bounds the product of a block's
 * factors (1 + e), each in (1, 2], whose log replaces one log1p per row: 2^512 does not
 * overflow. */
#define BLOCK 512

/* Line-search failures after which the last accepted point is kept. */
static int is_line_search_stop(int ret)
{
    return ret == LBFGSERR_ROUNDING_ERROR || ret == LBFGSERR_MINIMUMSTEP ||
           ret == LBFGSERR_MAXIMUMSTEP || ret == LBFGSERR_MAXIMUMLINESEARCH ||
           ret == LBFGSERR_INCORRECT_TMINMAX || ret == LBFGSERR_WIDTHTOOSMALL ||
           ret == LBFGSERR_OUTOFINTERVAL || ret == LBFGSERR_INCREASEGRADIENT;
}

static double sigmoid(double z)
{
    if (z >= 0.0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* ---------------------------------------------------------------------------------------------
 * Lock-step fitting.
 *
 * The trials of one fit call (every C of a fold) are optimised together: each trial's L-BFGS runs
 * in its own thread (liblbfgs drives the optimisation through a callback and cannot be paused), and
 * its evaluation callback posts the point and waits. When every live trial has posted, the calling
 * thread evaluates all of them in one pass over the training rows: two DGEMMs per block of rows
 * (scores of every trial, then every trial's gradient) instead of two DGEMV passes over the whole
 * matrix per trial and evaluation. The rows are read once per round instead of once per trial,
 * and in place (hf_fit_data.rows), without a copy of the training rows.
 *
 * Each trial's sequence of points depends only on its own evaluations, so the set of trials
 * evaluated in each round, and with it every floating-point result, is a deterministic function
 * of the task: it does not depend on thread timing or on the number of ranks. A single trial is
 * evaluated directly in the calling thread (no thread, no hand-offs).
 * ------------------------------------------------------------------------------------------- */

typedef struct lockstep lockstep;

/* One trial's optimisation. */
typedef struct trial_state {
    lockstep *ls;
    double C, tol;
    double l2;        /* (1 - r) / C: the coefficient of ||W||^2 / 2 in f */
    double l1;        /* r / C: the coefficient of ||W||_1 (OWL-QN's orthantwise_c); 0 without */
    size_t n_weights; /* k * p: the penalised variables, before the intercepts */
    int max_iter;
    size_t nvar;
    lbfgsfloatval_t *x;
    /* The pending evaluation: point, gradient out, loss out. */
    const double *req_x;
    double *req_g;
    double req_f;
    int pending;
    /* Outcome. */
    int ret;       /* liblbfgs status (LBFGS_SUCCESS when it was not called) */
    int nonfinite; /* a loss evaluation was not finite */
    int converged; /* set by the progress callback */
    int n_iter;    /* iterations done (from the progress callback) */
    double f_prev; /* objective at the previous iterate (scipy's relative-decrease test) */
} trial_state;

struct lockstep {
    /* The rows evaluated: row i is X + (rows ? rows[i] : i) * p, with class y[i], or y[i] < 0 for
     * a row that is not a training row (skipped: a validation row inside the range read). */
    const double *X;
    const int64_t *rows;
    const int *y;
    size_t n, p;
    size_t k;      /* outputs per trial: 1 (binary) or n_classes */
    int intercept; /* 1: the last k variables of each trial are intercepts */
    /* class_weight balanced: the weight of each class's rows (n_classes of them); NULL: 1. Every
     * row's loss and residual are multiplied by it (scikit-learn's sample weights). */
    const double *cw;
    trial_state *trials;
    size_t n_trials;
    /* Work of one batched evaluation, sized for every trial at once. */
    trial_state **act; /* the trials evaluated in this round */
    size_t *point;     /* act[t] is at distinct point point[t] ... */
    size_t *first;     /* ... whose first trial is act[first[u]] */
    double *W, *bias, *G, *gb, *Zb, *Xb, *loss, *prod;
    double *prod1; /* weighted binary fits: the factors of class 1's rows (prod: class 0's) */
    /* parallel.data_parallel (hf_fit_data.row_shard): the rows are this group rank's share; each
     * evaluation's loss and gradient sums are added over the group (hf_dist_sum: in group-rank
     * order on group rank 0, then broadcast, so every rank holds the same bits and takes the same
     * steps). NULL: the rows are all the training rows. */
    const hf_group *shard;
    double *red;    /* the reduced values of one evaluation: G, gb, loss */
    int red_failed; /* a reduction failed: the losses are NaN, the fit fails on every rank */
    /* Hand-off between trial threads and the calling thread. */
    int threaded;
    pthread_mutex_t mu;
    pthread_cond_t wake_driver, wake_trials;
    size_t n_live, n_waiting;
};

/* Rows per block: about 20 KB of them, which stays in the L1 cache between the two DGEMMs. Measured
 * on a 100,000 x 50 problem with 12 trials: 48-row blocks took 0.24 s, 512-row blocks 0.29 s and
 * 2048-row blocks 0.32 s (OpenBLAS's small-matrix kernels serve the small blocks best). */
static size_t block_rows(size_t p)
{
    size_t b = p ? 2400 / p : BLOCK;
    return b < 16 ? 16 : b > BLOCK ? BLOCK : b;
}

/* glibc's libmvec has vector variants of exp; math.h declares them only under -ffast-math, which
 * this file does not use. Declared here, `#pragma omp simd` (-fopenmp-simd) vectorises the loop
 * below with them (worker/models/logistic.c is compiled with -fno-math-errno for that). The
 * attribute is GCC's: clang builds call the scalar exp (correct, slower). */
#if defined(__GNUC__) && !defined(__clang__)
extern double exp(double) __attribute__((__simd__("notinbranch")));
#endif

/* One row of the binary loss for na trials: zi[t] + bias[t] is the score z of trial t, and zi[t]
 * receives the residual sigmoid(z) - y, which is also added to gb[t] (the intercepts' gradient);
 * loss[t] accumulates max(z, 0) - y z and prod[t] the factor 1 + e, with e = exp(-|z|):
 * log(1 + exp(z)) = max(z, 0) + log(1 + e), and sigmoid(z) is 1 / (1 + e) for z >= 0 and
 * e / (1 + e) below, so one exp serves both, and one log per block of rows (the caller) serves the
 * sum of log(1 + e). Written without branches so that it vectorises. */
static void binary_row(double *restrict zi, const double *restrict bias, double yi, double w,
                       double *restrict loss, double *restrict prod, double *restrict gb, size_t na)
{
#pragma omp simd
    for (size_t t = 0; t < na; t++) {
        const double z = zi[t] + bias[t], az = fabs(z), e = exp(-az), s = 1.0 / (1.0 + e);
        const double h = 0.5 * copysign(1.0, z); /* 0.5 for z >= +0, else -0.5 */
        const double r = w * (((0.5 + h) * s + (0.5 - h) * e * s) - yi);
        loss[t] += w * (0.5 * (z + az) - yi * z); /* w (max(z, 0) - y z) */
        prod[t] *= 1.0 + e;
        zi[t] = r;
        gb[t] += r;
    }
}

/* Loss and exact gradient of the trials act[0..na) at their pending points
 * x = [W (k x p, row-major) | b (k, if intercept)], in one pass over the rows. */
static void batch_eval(lockstep *ls, trial_state **act, size_t na)
{
    const size_t p = ls->p, k = ls->k, nb = block_rows(p);
    double *W = ls->W, *G = ls->G, *gb = ls->gb, *Zb = ls->Zb;
    /* Distinct points only: every trial starts at 0 with the same gradient (the penalty's is 0
     * there), so the first two points of every trial coincide. The loss without the penalty and
     * its gradient are computed once per distinct point; the penalty per trial. */
    size_t nu = 0;
    for (size_t t = 0; t < na; t++) {
        size_t u = 0;
        while (u < nu &&
               memcmp(act[ls->first[u]]->req_x, act[t]->req_x, act[t]->nvar * sizeof(double)))
            u++;
        ls->point[t] = u;
        if (u < nu)
            continue;
        ls->first[nu++] = t;
        memcpy(W + u * k * p, act[t]->req_x, k * p * sizeof *W);
        for (size_t c = 0; c < k; c++)
            ls->bias[u * k + c] = ls->intercept ? act[t]->req_x[k * p + c] : 0.0;
        ls->loss[u] = 0.0;
    }
    const size_t m = nu * k;
    memset(G, 0, m * p * sizeof *G);
    memset(gb, 0, m * sizeof *gb);
    for (size_t i0 = 0; i0 < ls->n; i0 += nb) {
        const size_t b = ls->n - i0 < nb ? ls->n - i0 : nb;
        const double *Xb = ls->X + i0 * p;
        if (ls->rows) {
            for (size_t i = 0; i < b; i++)
                memcpy(ls->Xb + i * p, ls->X + (size_t)ls->rows[i0 + i] * p, p * sizeof *Xb);
            Xb = ls->Xb;
        }
        /* Scores Z = Xb W^T (b x m); the intercepts are added row by row below. */
        if (p > 0)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)m, (int)p, 1.0, Xb,
                        (int)p, W, (int)p, 0.0, Zb, (int)m);
        else
            memset(Zb, 0, b * m * sizeof *Zb);
        /* Loss, then residuals (probability - indicator) in place of the scores. */
        if (k == 1) {
            /* Weighted, the factors of each class's rows are multiplied apart (their logs weigh
             * by the class); unweighted (w = 1 exactly) as one product, as ever. */
            for (size_t u = 0; u < nu; u++)
                ls->prod[u] = ls->prod1[u] = 1.0;
            for (size_t i = 0; i < b; i++) {
                double *zi = Zb + i * m;
                const int yi = ls->y[i0 + i];
                if (yi < 0)
                    memset(zi, 0, m * sizeof *zi);
                else
                    binary_row(zi, ls->bias, (double)yi, ls->cw ? ls->cw[yi] : 1.0, ls->loss,
                               ls->cw && yi == 1 ? ls->prod1 : ls->prod, gb, nu);
            }
            for (size_t u = 0; u < nu; u++)
                ls->loss[u] += ls->cw ? ls->cw[0] * log(ls->prod[u]) + ls->cw[1] * log(ls->prod1[u])
                                      : log(ls->prod[u]);
        } else {
            for (size_t i = 0; i < b; i++) {
                const int yi = ls->y[i0 + i];
                if (yi < 0) {
                    memset(Zb + i * m, 0, m * sizeof *Zb);
                    continue;
                }
                for (size_t u = 0; u < nu; u++) {
                    double *zi = Zb + i * m + u * k;
                    for (size_t c = 0; c < k; c++)
                        zi[c] += ls->bias[u * k + c];
                    double mx = zi[0];
                    for (size_t c = 1; c < k; c++)
                        if (zi[c] > mx)
                            mx = zi[c];
                    double zy = zi[yi] - mx, s = 0.0;
                    for (size_t c = 0; c < k; c++) {
                        zi[c] = exp(zi[c] - mx);
                        s += zi[c];
                    }
                    /* logsumexp(z) - z_y = log(s) - (z_y - mx), s >= 1 */
                    const double w = ls->cw ? ls->cw[yi] : 1.0;
                    ls->loss[u] += w * (log(s) - zy);
                    for (size_t c = 0; c < k; c++)
                        zi[c] /= s;
                    zi[yi] -= 1.0;
                    for (size_t c = 0; c < k && ls->cw; c++)
                        zi[c] *= w;
                    for (size_t c = 0; c < k; c++)
                        gb[u * k + c] += zi[c];
                }
            }
        }
        /* Gradients: G += R^T Xb (m x p) (the intercepts' were summed above). */
        if (p > 0)
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)p, (int)b, 1.0, Zb,
                        (int)m, Xb, (int)p, 1.0, G, (int)p);
    }
    /* Data-parallel: the shares' sums added over the group, in one fixed-order reduction. */
    if (ls->shard) {
        double *r = ls->red;
        memcpy(r, G, m * p * sizeof *r);
        memcpy(r + m * p, gb, m * sizeof *r);
        memcpy(r + m * p + m, ls->loss, nu * sizeof *r);
        if (hf_dist_sum(ls->shard, r, m * p + m + nu) < 0) {
            ls->red_failed = 1;
            for (size_t u = 0; u < nu; u++)
                r[m * p + m + u] = NAN;
        }
        memcpy(G, r, m * p * sizeof *r);
        memcpy(gb, r + m * p, m * sizeof *r);
        memcpy(ls->loss, r + m * p + m, nu * sizeof *r);
    }
    /* Each trial: dW = R^T X + l2 W, db = column sums of R, f = loss + l2 ||W||^2 / 2 (the L1
     * part is OWL-QN's: liblbfgs adds it to f and works with its subgradient). */
    for (size_t t = 0; t < na; t++) {
        trial_state *ts = act[t];
        const size_t u = ls->point[t];
        const double *Wt = W + u * k * p;
        double *g = ts->req_g;
        for (size_t j = 0; j < k * p; j++)
            g[j] = G[u * k * p + j] + ts->l2 * Wt[j];
        if (ls->intercept)
            memcpy(g + k * p, gb + u * k, k * sizeof *g);
        double f = ls->loss[u];
        if (p > 0)
            f += 0.5 * ts->l2 * cblas_ddot((int)(k * p), Wt, 1, Wt, 1);
        ts->req_f = f;
    }
}

/* Evaluates trial ts at x: directly, or by posting x and waiting for the calling thread. */
static double request_eval(trial_state *ts, const double *x, double *g)
{
    lockstep *ls = ts->ls;
    ts->req_x = x;
    ts->req_g = g;
    if (!ls->threaded) {
        batch_eval(ls, &ts, 1);
        return ts->req_f;
    }
    pthread_mutex_lock(&ls->mu);
    ts->pending = 1;
    if (++ls->n_waiting == ls->n_live)
        pthread_cond_signal(&ls->wake_driver);
    while (ts->pending)
        pthread_cond_wait(&ls->wake_trials, &ls->mu);
    double f = ts->req_f;
    pthread_mutex_unlock(&ls->mu);
    return f;
}

static double max_abs(const double *g, size_t m)
{
    double mx = 0.0;
    for (size_t j = 0; j < m; j++)
        if (fabs(g[j]) > mx || isnan(g[j]))
            mx = isnan(g[j]) ? INFINITY : fabs(g[j]);
    return mx;
}

/* The largest component of f's minimum-norm subgradient at x, given the smooth part's gradient g:
 * g itself without an L1 part; with one, each weight's g_j + l1 sign(x_j), or for a weight at 0
 * the distance of g_j from [-l1, l1] (0 inside: the weight stays at 0). */
static double max_subgradient(const trial_state *ts, const double *x, const double *g, size_t n)
{
    if (ts->l1 == 0.0)
        return max_abs(g, n);
    double mx = 0.0;
    for (size_t j = 0; j < n; j++) {
        double v = g[j];
        if (j < ts->n_weights) {
            if (x[j] > 0.0)
                v += ts->l1;
            else if (x[j] < 0.0)
                v -= ts->l1;
            else
                v = g[j] > ts->l1 ? g[j] - ts->l1 : g[j] < -ts->l1 ? g[j] + ts->l1 : 0.0;
        }
        if (fabs(v) > mx || isnan(v))
            mx = isnan(v) ? INFINITY : fabs(v);
    }
    return mx;
}

static lbfgsfloatval_t cb_evaluate(void *instance, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                   const int n, const lbfgsfloatval_t step)
{
    trial_state *ts = instance;
    (void)step;
    double f = request_eval(ts, x, g);
    if (!isfinite(f) || !isfinite(max_abs(g, (size_t)n))) {
        ts->nonfinite = 1;
        return INFINITY;
    }
    return f;
}

static int cb_progress(void *instance, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                       const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                       const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k,
                       int ls)
{
    trial_state *ts = instance;
    (void)xnorm;
    (void)gnorm;
    (void)step;
    (void)ls;
    ts->n_iter = k;
    if (max_subgradient(ts, x, g, (size_t)n) <= ts->tol) {
        ts->converged = 1;
        return 1;
    }
    if (!(fx < ts->f_prev))
        return 1; /* stalled: trial_finish reports HF_FIT_STALLED */
    if (ts->tol >= FTOL_TOL &&
        (ts->f_prev - fx) / fmax(fmax(fabs(ts->f_prev), fabs(fx)), 1.0) <= FTOL) {
        ts->converged = 1;
        return 1;
    }
    ts->f_prev = fx;
    return 0;
}

/* One trial from x = 0 to the end of its optimisation; the outcome is left in ts. */
static void run_trial(trial_state *ts)
{
    double *g = hf_malloc(ts->nvar * sizeof *g);
    if (!g) {
        ts->ret = LBFGSERR_OUTOFMEMORY;
        return;
    }
    memset(ts->x, 0, ts->nvar * sizeof *ts->x);
    /* scipy's L-BFGS-B also tests the starting point before the first iteration. */
    double f0 = request_eval(ts, ts->x, g);
    ts->f_prev = f0;
    if (!isfinite(f0) || !isfinite(max_abs(g, ts->nvar))) {
        ts->nonfinite = 1;
    } else if (max_subgradient(ts, ts->x, g, ts->nvar) <= ts->tol) {
        /* Optimal at the start: with an L1 part every weight stays at 0 whenever the gradient
         * is inside [-l1, l1] (the intercepts' is 0 with balanced weights): converged, 0
         * iterations (it was reported as stalled). */
        ts->converged = 1;
    } else {
        /* A line search that can no longer resolve the decrease of f (rounding error near the
         * optimum: the achievable max |g| is about sqrt(DBL_EPSILON * |f| * curvature)) ends the
         * run at the last accepted point, as scipy's L-BFGS-B does; it is not an error.
         * Restarting liblbfgs from there was tried and made no further progress. */
        lbfgs_parameter_t lp;
        lbfgs_parameter_init(&lp);
        lp.m = 10;
        lp.epsilon = 0.0;
        lp.past = 0;
        lp.max_iterations = ts->max_iter;
        if (ts->l1 > 0.0 && ts->n_weights > 0) {
            /* OWL-QN: only liblbfgs's backtracking line search supports it. */
            lp.orthantwise_c = ts->l1;
            lp.orthantwise_start = 0;
            lp.orthantwise_end = (int)ts->n_weights;
            lp.linesearch = LBFGS_LINESEARCH_BACKTRACKING;
        }
        lbfgsfloatval_t fx = 0.0;
        ts->ret = lbfgs((int)ts->nvar, ts->x, &fx, cb_evaluate, cb_progress, ts, &lp);
        /* OWL-QN's backtracking search can stall above the rounding floor; a fresh start from
         * the stall point (a new curvature memory) goes on. On ill-conditioned problems
         * (unscaled, collinear columns, as the correctness matrix has them) both end near the
         * floor of a line search on f (max |subgradient| about 1e-6 where |f| is 100): a sign-
         * held L-BFGS polish of the weights away from 0 was tried and stopped there too, with
         * scores 1e-7 to 1e-5 from the exact optimum, which Newton's method (the reference's)
         * reaches. Such fits are reported as not converged. */
        for (int again = 0;
             lp.orthantwise_c > 0.0 && again < 50 && !ts->converged && !ts->nonfinite &&
             ts->n_iter < ts->max_iter && (is_line_search_stop(ts->ret) || ts->ret == 1);
             again++) {
            int done = ts->n_iter;
            double before = ts->f_prev;
            lp.max_iterations = ts->max_iter - done;
            ts->n_iter = 0; /* the progress callback counts this run's iterations */
            ts->ret = lbfgs((int)ts->nvar, ts->x, &fx, cb_evaluate, cb_progress, ts, &lp);
            ts->n_iter += done;
            if (!(ts->f_prev < before))
                break;
        }
    }
    free(g);
}

static void *trial_thread(void *arg)
{
    trial_state *ts = arg;
    run_trial(ts);
    lockstep *ls = ts->ls;
    pthread_mutex_lock(&ls->mu);
    if (ls->n_waiting == --ls->n_live)
        pthread_cond_signal(&ls->wake_driver);
    pthread_mutex_unlock(&ls->mu);
    return NULL;
}

/* Runs every trial to its end, evaluating the live ones together in rounds. */
static int run_lockstep(lockstep *ls)
{
    if (ls->n_trials == 1) {
        run_trial(&ls->trials[0]);
        return HF_OK;
    }
    int result = HF_OK;
    pthread_t *tid = hf_calloc(ls->n_trials, sizeof *tid);
    if (!tid)
        return HF_ENOMEM;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)1 << 20);
    pthread_mutex_init(&ls->mu, NULL);
    pthread_cond_init(&ls->wake_driver, NULL);
    pthread_cond_init(&ls->wake_trials, NULL);
    ls->threaded = 1;
    size_t started = 0;
    pthread_mutex_lock(&ls->mu);
    ls->n_live = ls->n_trials;
    for (; started < ls->n_trials; started++)
        if (pthread_create(&tid[started], &attr, trial_thread, &ls->trials[started]) != 0)
            break;
    if (started < ls->n_trials) {
        /* Out of threads (a process or container limit): the threads that did start run in
         * lock-step to their end, the others alone afterwards (below). */
        hf_debug("logistic_regression: started %zu of %zu threads; the others run one by one",
                 started, ls->n_trials);
        ls->n_live -= ls->n_trials - started;
    }
    while (ls->n_live > 0) {
        while (ls->n_waiting < ls->n_live)
            pthread_cond_wait(&ls->wake_driver, &ls->mu);
        if (ls->n_live == 0)
            break;
        /* The waiting trials, in trial order (deterministic). */
        size_t na = 0;
        for (size_t t = 0; t < started; t++)
            if (ls->trials[t].pending)
                ls->act[na++] = &ls->trials[t];
        pthread_mutex_unlock(&ls->mu);
        batch_eval(ls, ls->act, na);
        pthread_mutex_lock(&ls->mu);
        for (size_t t = 0; t < na; t++)
            ls->act[t]->pending = 0;
        ls->n_waiting = 0;
        pthread_cond_broadcast(&ls->wake_trials);
    }
    pthread_mutex_unlock(&ls->mu);
    for (size_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_attr_destroy(&attr);
    pthread_cond_destroy(&ls->wake_trials);
    pthread_cond_destroy(&ls->wake_driver);
    pthread_mutex_destroy(&ls->mu);
    free(tid);
    ls->threaded = 0;
    for (size_t t = started; t < ls->n_trials; t++)
        run_trial(&ls->trials[t]);
    return result;
}

/* Reads and checks one trial's parameters. */
static int trial_init(const hf_value *params, size_t k, size_t p, trial_state *ts)
{
    double C = hf_value_as_double(&params[P_C]);
    double max_iter = hf_value_as_double(&params[P_MAX_ITER]);
    double tol = hf_value_as_double(&params[P_TOL]);
    if (!(C > 0.0) || !isfinite(C))
        return hf_error(HF_EINVAL, "logistic_regression: C=%g, expected a finite number > 0", C);
    if (!(max_iter >= 1.0) || max_iter > 1e9)
        return hf_error(HF_EINVAL, "logistic_regression: max_iter=%g, expected an integer >= 1",
                        max_iter);
    if (!(tol >= 0.0))
        return hf_error(HF_EINVAL, "logistic_regression: tol=%g, expected a number >= 0", tol);
    const char *penalty = params[P_PENALTY].u.str;
    double r = strcmp(penalty, "l1") == 0           ? 1.0
               : strcmp(penalty, "elasticnet") == 0 ? hf_value_as_double(&params[P_L1_RATIO])
                                                    : 0.0;
    if (!(r >= 0.0 && r <= 1.0))
        return hf_error(HF_EINVAL, "logistic_regression: l1_ratio=%g, expected a number in [0, 1]",
                        r);
    ts->C = C;
    ts->l2 = (1.0 - r) / C;
    ts->l1 = r / C;
    ts->n_weights = k * p;
    ts->tol = tol;
    ts->max_iter = (int)max_iter;
    ts->ret = LBFGS_SUCCESS;
    ts->nvar = k * p + (hf_value_as_double(&params[P_FIT_INTERCEPT]) != 0.0 ? k : 0);
    ts->x = lbfgs_malloc((int)(ts->nvar ? ts->nvar : 1));
    if (!ts->x)
        return hf_error(HF_ENOMEM, "logistic_regression: lbfgs_malloc(%zu)", ts->nvar);
    return HF_OK;
}

/* The fitted model of a finished trial, or an error for a failed one. */
static int trial_finish(const trial_state *ts, size_t k, size_t p, size_t n_classes, int intercept,
                        hf_fitted **out)
{
    if (ts->nonfinite)
        return hf_error(HF_ENUM,
                        ts->n_iter ? "logistic_regression: the loss became NaN or Inf during the "
                                     "fit (C=%g, iteration %d)"
                                   : "logistic_regression: the loss is not finite at the start "
                                     "(NaN or Inf in the training data?) (C=%g, iteration %d)",
                        ts->C, ts->n_iter);
    if (ts->ret == LBFGSERR_OUTOFMEMORY)
        return hf_error(HF_ENOMEM, "logistic_regression: liblbfgs ran out of memory");
    if (ts->ret < 0 && !is_line_search_stop(ts->ret) && ts->ret != LBFGSERR_MAXIMUMITERATION)
        return hf_error(HF_EINTERNAL, "logistic_regression: liblbfgs failed with code %d", ts->ret);
    if (!ts->converged && ts->ret != LBFGS_SUCCESS)
        hf_debug("logistic_regression: C=%g stopped after %d iterations without reaching "
                 "tol=%g (liblbfgs status %d)",
                 ts->C, ts->n_iter, ts->tol, ts->ret);
    hf_fitted *m = hf_fitted_new(&hf_model_logistic_regression, p, n_classes, 2);
    double *coef = m ? hf_fitted_array(m, 0, "coef", k, p) : NULL;
    double *icpt = m ? hf_fitted_array(m, 1, "intercept", 1, k) : NULL;
    if (!coef || !icpt) {
        hf_fitted_free(m);
        return HF_ENOMEM;
    }
    memcpy(coef, ts->x, k * p * sizeof *coef);
    if (intercept)
        memcpy(icpt, ts->x + k * p, k * sizeof *icpt);
    m->n_iter = ts->n_iter;
    m->stop = ts->converged                          ? HF_FIT_CONVERGED
              : ts->ret == LBFGSERR_MAXIMUMITERATION ? HF_FIT_MAX_ITER
              : ts->n_iter >= ts->max_iter           ? HF_FIT_MAX_ITER
                                                     : HF_FIT_STALLED;
    *out = m;
    return HF_OK;
}

/* Training row i's target: d->y[i], or without d->y the table's (hf_model_ops.table_targets:
 * rows of a known table on one rank, whose targets are read in place, not copied per fit). */
static double target(const hf_fit_data *d, size_t i)
{
    return d->y ? d->y[i] : d->table->y[d->rows[i]];
}

/* Training rows given by index (hf_fit_data.rows) are either gathered block by block, or, when
 * they are at least half of the table rows they span (k-fold training rows are 80% of the table),
 * read in place as one contiguous range in which the rows of other splits are skipped (y < 0):
 * that reads a few more rows but spares the gather, which costs as much as the arithmetic. The
 * classes (checked by read_classes) are read from the targets. On return *yr is NULL (gather) or
 * the classes of the range, which ls now reads. */
static int read_range(const hf_fit_data *d, lockstep *ls, int **yr)
{
    int64_t lo = d->rows[0], hi = d->rows[0];
    for (size_t i = 1; i < d->n; i++) {
        lo = d->rows[i] < lo ? d->rows[i] : lo;
        hi = d->rows[i] > hi ? d->rows[i] : hi;
    }
    *yr = NULL;
    if (lo < 0)
        return HF_OK;
    const size_t span = (size_t)(hi - lo) + 1;
    if (span > 2 * d->n)
        return HF_OK;
    int *c = hf_malloc(span * sizeof *c);
    if (!c)
        return HF_ENOMEM;
    for (size_t j = 0; j < span; j++)
        c[j] = -1;
    for (size_t i = 0; i < d->n; i++) {
        int *slot = &c[d->rows[i] - lo];
        if (*slot >= 0) { /* a row listed twice: counted twice, so gather */
            free(c);
            return HF_OK;
        }
        *slot = (int)target(d, i);
    }
    /* The skipped rows enter the products with weight 0, and 0 * NaN is NaN: a non-finite value
     * in one of them (the training rows are checked by the loss itself) means gather instead. */
    for (size_t j = 0; j < span; j++)
        for (size_t l = 0; c[j] < 0 && l < d->p; l++)
            if (!isfinite(d->X[((size_t)lo + j) * d->p + l])) {
                free(c);
                return HF_OK;
            }
    ls->X = d->X + (size_t)lo * d->p;
    ls->rows = NULL;
    ls->y = c;
    ls->n = span;
    *yr = c;
    return HF_OK;
}

/* The training classes checked: class indices of the target, at least 2 of them present (as
 * scikit-learn's "needs samples of at least 2 classes in the data": with one class the
 * unpenalised intercept has no finite optimum). count (n_classes) receives the rows of each class:
 * of all the training rows, summed over the group when the rows are shards (collective then, and
 * every group rank gets the same answer). */
static int read_classes(const hf_fit_data *d, double *count)
{
    int result = HF_OK;
    memset(count, 0, d->n_classes * sizeof *count);
    for (size_t i = 0; i < d->n; i++) {
        double v = target(d, i);
        if (!(v >= 0.0) || v >= (double)d->n_classes || v != floor(v)) {
            result = hf_error(HF_EDATA,
                              "logistic_regression: target of row %zu is %g, expected a class "
                              "index in 0..%zu",
                              i, v, d->n_classes - 1);
            break;
        }
        count[(int)v]++;
    }
    if (d->row_shard) {
        /* Counts are integers below 2^53: their sum is exact in any order. */
        if ((result = hf_dist_agree(d->group, result)) >= 0)
            result = hf_dist_sum(d->group, count, d->n_classes);
    }
    if (result < 0)
        return result;
    size_t present = 0, first = 0, total = 0;
    for (size_t c = d->n_classes; c-- > 0;)
        if (count[c] > 0) {
            present++;
            first = c;
            total += (size_t)count[c];
        }
    if (total == 0)
        return hf_error(HF_EDATA, "logistic_regression: no training rows");
    if (present < 2)
        return hf_error(HF_EDATA,
                        "logistic_regression: all %zu training rows are class %zu; expected at "
                        "least 2 classes",
                        total, first);
    return HF_OK;
}

/* class_weight balanced: n / (present x count_c) for each class c of the n training rows, count_c
 * of them in class c (read_classes), `present` the classes that occur (scikit-learn's
 * compute_class_weight over the classes of the training rows); NULL when out of memory. */
static double *balanced_weights(const double *count, size_t n_classes)
{
    double *w = hf_calloc(n_classes, sizeof *w), n = 0.0;
    size_t present = 0;
    if (!w)
        return NULL;
    for (size_t c = 0; c < n_classes; c++) {
        present += count[c] > 0;
        n += count[c];
    }
    for (size_t c = 0; c < n_classes; c++)
        w[c] = count[c] > 0 ? n / ((double)present * count[c]) : 0.0;
    return w;
}

/* The lock-step buffers of n_trials trials of k classes and p features. */
static int lockstep_alloc(lockstep *ls, size_t n_trials, size_t k, size_t p)
{
    const size_t m = n_trials * k, nb = block_rows(p), mp = m * p > 0 ? m * p : 1,
                 nbp = nb * p > 0 ? nb * p : 1;
    ls->act = hf_malloc(n_trials * sizeof *ls->act);
    ls->point = hf_malloc(n_trials * sizeof *ls->point);
    ls->first = hf_malloc(n_trials * sizeof *ls->first);
    ls->W = hf_malloc(mp * sizeof *ls->W);
    ls->G = hf_malloc(mp * sizeof *ls->G);
    ls->bias = hf_malloc(m * sizeof *ls->bias);
    ls->gb = hf_malloc(m * sizeof *ls->gb);
    ls->Zb = hf_malloc(nb * m * sizeof *ls->Zb);
    ls->Xb = hf_malloc(nbp * sizeof *ls->Xb);
    ls->loss = hf_malloc(n_trials * sizeof *ls->loss);
    ls->prod = hf_malloc(n_trials * sizeof *ls->prod);
    ls->prod1 = hf_malloc(n_trials * sizeof *ls->prod1);
    ls->red = hf_malloc((mp + m + n_trials) * sizeof *ls->red);
    return ls->act && ls->point && ls->first && ls->W && ls->G && ls->bias && ls->gb && ls->Zb &&
                   ls->Xb && ls->loss && ls->prod && ls->prod1 && ls->red
               ? HF_OK
               : HF_ENOMEM;
}

static void lockstep_free(lockstep *ls)
{
    for (size_t t = 0; ls->trials && t < ls->n_trials; t++)
        lbfgs_free(ls->trials[t].x);
    free(ls->trials);
    free(ls->act);
    free(ls->point);
    free(ls->first);
    free(ls->W);
    free(ls->G);
    free(ls->bias);
    free(ls->gb);
    free(ls->Zb);
    free(ls->Xb);
    free(ls->loss);
    free(ls->prod);
    free(ls->prod1);
    free(ls->red);
}

static int logistic_fit(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
                        hf_fitted **out)
{
    int result = HF_OK;
    int *y = NULL, *yrange = NULL;
    double *cw = NULL, *count = NULL;
    lockstep ls = {.X = d->X, .rows = d->rows, .n = d->n, .p = d->p};

    for (size_t t = 0; t < n_trials; t++)
        out[t] = NULL;
    if (n_trials == 0)
        return HF_OK;
    /* With row_shard a group rank may hold none of the training rows: read_classes counts them
     * over the group. */
    if (d->n == 0 && !d->row_shard) {
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
    const size_t p = d->p, k = d->n_classes == 2 ? 1 : d->n_classes;
    ls.k = k;
    ls.intercept = hf_value_as_double(&params[0][P_FIT_INTERCEPT]) != 0.0;
    if (d->row_shard && hf_dist_is_parallel(d->group))
        ls.shard = d->group;
    /* The targets without d->y (table_targets) are the table's, read through the rows on one
     * rank (worker/task.c gives them only so). */
    if (!d->y && d->n > 0 && (d->row_shard || !d->table || !d->rows)) {
        result = hf_error(HF_EINTERNAL, "logistic_regression: no training targets");
        goto out;
    }
    count = hf_malloc(d->n_classes * sizeof *count);
    if ((result = hf_dist_agree(ls.shard, count ? HF_OK : HF_ENOMEM)) < 0)
        goto out;
    if ((result = read_classes(d, count)) < 0)
        goto out;
    /* The trials of one call share class_weight (only C differs: shared_param). */
    if (strcmp(params[0][P_CLASS_WEIGHT].u.str, "balanced") == 0) {
        if (!(cw = balanced_weights(count, d->n_classes))) {
            result = HF_ENOMEM;
            goto out;
        }
        ls.cw = cw;
    }
    /* The classes as ints: those of the range read in place (read_range), or of each training
     * row. Every group rank agrees (with row_shard the lock-step rounds are collective). */
    if (d->rows && d->n > 0)
        result = read_range(d, &ls, &yrange);
    if (result >= 0 && !yrange) {
        if ((y = hf_malloc((d->n ? d->n : 1) * sizeof *y)) != NULL) {
            for (size_t i = 0; i < d->n; i++)
                y[i] = (int)target(d, i);
            ls.y = y;
        } else {
            result = HF_ENOMEM;
        }
    }
    if ((result = hf_dist_agree(ls.shard, result)) < 0)
        goto out;
    ls.n_trials = n_trials;
    ls.trials = hf_calloc(n_trials, sizeof *ls.trials);
    if (!ls.trials) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t t = 0; t < n_trials; t++) {
        ls.trials[t].ls = &ls;
        if ((hf_value_as_double(&params[t][P_FIT_INTERCEPT]) != 0.0) != ls.intercept) {
            result = hf_error(HF_EINTERNAL, "logistic_regression: trials of one fit call differ "
                                            "in fit_intercept");
            goto out;
        }
        if ((result = trial_init(params[t], k, p, &ls.trials[t])) < 0)
            goto out;
        if (ls.trials[t].nvar == 0) {
            result = hf_error(HF_EDATA,
                              "logistic_regression: no features and no intercept: nothing to fit");
            goto out;
        }
    }
    /* Every group rank must enter the lock-step rounds (collective with row_shard). */
    result = lockstep_alloc(&ls, n_trials, k, p);
    if ((result = hf_dist_agree(ls.shard, result)) < 0 || (result = run_lockstep(&ls)) < 0)
        goto out;
    if (ls.red_failed) {
        result = hf_error(HF_EMPI, "logistic_regression: summing the loss over the group failed");
        goto out;
    }
    for (size_t t = 0; t < n_trials; t++)
        if ((result = trial_finish(&ls.trials[t], k, p, d->n_classes, ls.intercept, &out[t])) < 0)
            goto out;
out:
    lockstep_free(&ls);
    free(y);
    free(yrange);
    free(cw);
    free(count);
    if (result < 0) {
        for (size_t t = 0; t < n_trials; t++) {
            hf_fitted_free(out[t]);
            out[t] = NULL;
        }
    }
    return result;
}

/* Class probabilities, in place, from decision values: binary, column 1 holds z and becomes
 * [1 - sigmoid(z), sigmoid(z)]; multiclass, each row of k scores becomes its softmax. */
static void proba_in_place(double *out, size_t n, size_t k)
{
    if (k == 1) {
        for (size_t i = 0; i < n; i++) {
            double pr = sigmoid(out[2 * i + 1]);
            out[2 * i] = 1.0 - pr;
            out[2 * i + 1] = pr;
        }
        return;
    }
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
}

static int check_model(const hf_fitted *m, size_t p)
{
    const hf_array *w = hf_fitted_get(m, "coef");
    const hf_array *b = hf_fitted_get(m, "intercept");
    const size_t nc = m->n_outputs;
    const size_t k = nc == 2 ? 1 : nc;
    /* intercept 1 x k as fit writes it: an empty one (0 x k) was read past its end. */
    if (!w || !b || nc < 2 || w->rows != k || w->cols != p || b->rows != 1 || b->cols != k ||
        p != m->n_features)
        return hf_error(HF_EDATA,
                        "logistic_regression: model has %zu features and %zu classes, data has "
                        "%zu features",
                        m->n_features, nc, p);
    return HF_OK;
}

/* Local (the group, if any, is not needed). */
static int logistic_predict(const hf_fitted *m, const hf_group *g, const double *X, size_t n,
                            size_t p, double *out)
{
    (void)g;
    int result = check_model(m, p);
    if (result < 0)
        return result;
    const hf_array *w = hf_fitted_get(m, "coef");
    const hf_array *b = hf_fitted_get(m, "intercept");
    const size_t k = w->rows, off = k == 1; /* binary: z into column 1 */
    /* One dot product per row (not dgemv/dgemm): a row's prediction must not depend on how many
     * rows share the call, or batch prediction would depend on the number of ranks. */
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < k; c++)
            out[i * (k + off) + c + off] =
                b->data[c] + (p > 0 ? cblas_ddot((int)p, X + i * p, 1, w->data + c * p, 1) : 0.0);
    proba_in_place(out, n, k);
    return HF_OK;
}

static int logistic_predict_many(hf_fitted *const *m, size_t nm, const double *X, size_t n,
                                 size_t p, double *out)
{
    int result = HF_OK;
    for (size_t t = 0; t < nm && result >= 0; t++)
        result = check_model(m[t], p);
    if (result < 0 || nm == 0 || n == 0)
        return result;
    const size_t nc = m[0]->n_outputs, k = nc == 2 ? 1 : nc, off = k == 1;
    for (size_t t = 1; t < nm; t++)
        if (m[t]->n_outputs != nc)
            return hf_error(HF_EINTERNAL, "logistic_regression: models of one call differ in "
                                          "their number of classes");
    double *Z = hf_malloc(nm * k * n * sizeof *Z);
    if (!Z)
        return HF_ENOMEM;
    if ((result = hf_linear_scores(m, nm, X, n, p, Z)) >= 0)
        for (size_t t = 0; t < nm; t++) {
            double *o = out + t * n * nc;
            for (size_t c = 0; c < k; c++)
                for (size_t i = 0; i < n; i++)
                    o[i * nc + c + off] = Z[(t * k + c) * n + i];
            proba_in_place(o, n, k);
        }
    free(Z);
    return result;
}

/* A fit call of n_trials trials holds each trial's weights, gradient and L-BFGS history (10
 * pairs) of p + 1 values per class (counted for two classes: one column), and the row blocks it
 * streams; the rows themselves are read in place. */
static int logistic_preflight(const hf_group *group, size_t n, size_t p, size_t n_trials,
                              uint64_t memory_per_rank)
{
    (void)group;
    (void)n;
    char what[96];
    snprintf(what, sizeof what,
             "logistic_regression: the solver state of %zu trial(s) of %zu "
             "features",
             n_trials, p);
    return hf_group_check_bytes(8 * (uint64_t)n_trials * (p + 1) * (2 * 10 + 4), memory_per_rank,
                                what);
}

const hf_model_ops hf_model_logistic_regression = {
    .name = "logistic_regression",
    .resource_param = "max_iter",
    .tasks = 1u << HF_TASK_CLASSIFICATION,
    .params = logistic_params,
    .n_params = N_PARAMS,
    .fit = logistic_fit,
    .predict = logistic_predict,
    .predict_many = logistic_predict_many,
    .shared_param = "C",
    .accepts_rows = 1,
    .table_targets = 1,
    .preflight = logistic_preflight,
    .data_parallel = 1,
};
