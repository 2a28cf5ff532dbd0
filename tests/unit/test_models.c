/* test_models.c - ridge and logistic regression: optimality conditions checked with naive loops
 * independent of the BLAS code under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "worker/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_ridge;
extern const hf_model_ops hf_model_logistic_regression;

/* Random design matrix with features on different scales plus a linear target. */
static double *make_X(size_t n, size_t p, uint64_t seed)
{
    hf_rng r;
    hf_rng_init(&r, seed, 1, 2);
    double *X = malloc(n * p * sizeof *X);
    assert_non_null(X);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            X[i * p + j] = (hf_rng_uniform(&r) - 0.3) * (double)(j + 1) + (double)j;
    return X;
}

static double *make_y_reg(const double *X, size_t n, size_t p, uint64_t seed)
{
    hf_rng r;
    hf_rng_init(&r, seed, 3, 4);
    double *y = malloc(n * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) {
        double s = 5.0;
        for (size_t j = 0; j < p; j++)
            s += X[i * p + j] * ((double)j - 1.5);
        y[i] = s + hf_rng_uniform(&r) - 0.5;
    }
    return y;
}

/* Default parameter values of a model (strings none here). */
static void defaults(const hf_model_ops *ops, hf_value *v)
{
    for (size_t i = 0; i < ops->n_params; i++)
        assert_int_equal(hf_model_param_default(&ops->params[i], &v[i]), HF_OK);
}

static void set_param(const hf_model_ops *ops, hf_value *v, const char *name, double x)
{
    long i = hf_model_param_index(ops, name);
    assert_true(i >= 0);
    switch (v[i].type) {
    case HF_VAL_NUMBER:
        v[i].u.num = x;
        break;
    case HF_VAL_INT:
        v[i].u.i = (int64_t)x;
        break;
    case HF_VAL_BOOL:
        v[i].u.b = x != 0.0;
        break;
    default:
        fail();
    }
}

static void test_registry(void **state)
{
    (void)state;
    assert_ptr_equal(hf_model_find("ridge"), &hf_model_ridge);
    assert_ptr_equal(hf_model_find("logistic_regression"), &hf_model_logistic_regression);
    assert_null(hf_model_find("nope"));
    size_t n = 0;
    for (const hf_model_ops *const *m = hf_model_all(); *m; m++)
        n++;
    assert_true(n >= 2);
    assert_int_equal(hf_model_param_index(&hf_model_ridge, "alpha"), 0);
    assert_int_equal(hf_model_param_index(&hf_model_ridge, "tol"), 3);
    assert_int_equal(hf_model_param_index(&hf_model_ridge, "C"), -1);
    hf_value v[8];
    defaults(&hf_model_ridge, v);
    assert_int_equal(v[0].type, HF_VAL_NUMBER);
    assert_true(v[0].u.num == 1.0);
    assert_int_equal(v[1].type, HF_VAL_BOOL);
    assert_int_equal(v[1].u.b, 1);
    assert_int_equal(v[2].type, HF_VAL_INT);
    assert_true(v[3].u.num == 1e-4);
    defaults(&hf_model_logistic_regression, v);
    assert_int_equal(v[2].u.i, 100);
    hf_param_def bad = {"x", HF_VAL_INT, "1.5", 0, 0, 0, NULL, "", 0};
    hf_error_clear();
    assert_int_equal(hf_model_param_default(&bad, v), HF_EINTERNAL);
    assert_non_null(strstr(hf_error_message(), "1.5"));
    hf_error_clear();
}

static void test_fitted_helpers(void **state)
{
    (void)state;
    hf_fitted *m = hf_fitted_new(&hf_model_ridge, 3, 1, 2);
    assert_non_null(m);
    double *a = hf_fitted_array(m, 0, "coef", 1, 3);
    assert_non_null(a);
    assert_true(a[0] == 0.0 && a[2] == 0.0);
    assert_non_null(hf_fitted_array(m, 1, "intercept", 1, 1));
    assert_null(hf_fitted_array(m, 2, "x", 1, 1));
    hf_error_clear();
    assert_ptr_equal(hf_fitted_get(m, "coef")->data, a);
    assert_int_equal(hf_fitted_get(m, "coef")->cols, 3);
    assert_null(hf_fitted_get(m, "nope"));
    hf_fitted_free(m);
    hf_fitted_free(NULL);
}

/* Checks (Xc^T Xc + alpha I) w = Xc^T yc and b = ymean - xmean.w with plain loops. */
static void assert_same_model(const hf_fitted *a, const hf_fitted *b, double rel);

static void check_ridge_normal_equations(const double *X, const double *y, size_t n, size_t p,
                                         double alpha, int fit_intercept, const hf_fitted *m)
{
    const hf_array *w = hf_fitted_get(m, "coef");
    const hf_array *b = hf_fitted_get(m, "intercept");
    assert_non_null(w);
    assert_non_null(b);
    assert_int_equal(w->rows, 1);
    assert_int_equal(w->cols, p);
    double *xm = calloc(p, sizeof *xm);
    double ym = 0.0;
    if (fit_intercept) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < p; j++)
                xm[j] += X[i * p + j] / (double)n;
            ym += y[i] / (double)n;
        }
    }
    double max_res = 0.0, scale = 0.0;
    for (size_t j = 0; j < p; j++) {
        double lhs = alpha * w->data[j], rhs = 0.0, mag = fabs(alpha * w->data[j]);
        for (size_t i = 0; i < n; i++) {
            double xij = X[i * p + j] - xm[j];
            double xw = 0.0;
            for (size_t l = 0; l < p; l++)
                xw += (X[i * p + l] - xm[l]) * w->data[l];
            lhs += xij * xw;
            mag += fabs(xij * xw);
            rhs += xij * (y[i] - ym);
        }
        if (fabs(lhs - rhs) > max_res)
            max_res = fabs(lhs - rhs);
        if (mag > scale)
            scale = mag;
    }
    assert_true(max_res <= 1e-10 * scale);
    double expect_b = ym;
    for (size_t j = 0; j < p; j++)
        expect_b -= xm[j] * w->data[j];
    assert_true(fabs(b->data[0] - expect_b) <= 1e-10 * (1.0 + fabs(expect_b)));
    free(xm);
}

static void test_ridge_normal_equations(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{60, 5}, {7, 12}, {30, 1}};
    for (size_t s = 0; s < 3; s++) {
        size_t n = shapes[s][0], p = shapes[s][1];
        double *X = make_X(n, p, 10 + s);
        double *y = make_y_reg(X, n, p, 20 + s);
        hf_fit_data d = {.X = X, .n = n, .p = p, .y = y, .n_classes = 0};
        for (int fi = 0; fi <= 1; fi++) {
            hf_value v[8];
            defaults(&hf_model_ridge, v);
            set_param(&hf_model_ridge, v, "alpha", 0.37);
            set_param(&hf_model_ridge, v, "fit_intercept", fi);
            const hf_value *pv[1] = {v};
            hf_fitted *m = NULL;
            assert_int_equal(hf_model_ridge.fit(&d, pv, 1, &m), HF_OK);
            assert_non_null(m);
            check_ridge_normal_equations(X, y, n, p, 0.37, fi, m);
            if (!fi)
                assert_true(hf_fitted_get(m, "intercept")->data[0] == 0.0);
            /* predict is X w + b */
            double *pred = malloc(n * sizeof *pred);
            assert_int_equal(hf_model_ridge.predict(m, NULL, X, n, p, pred), HF_OK);
            const hf_array *w = hf_fitted_get(m, "coef");
            for (size_t i = 0; i < n; i++) {
                double e = hf_fitted_get(m, "intercept")->data[0];
                for (size_t j = 0; j < p; j++)
                    e += X[i * p + j] * w->data[j];
                assert_true(fabs(pred[i] - e) <= 1e-12 * (1.0 + fabs(e)));
            }
            free(pred);
            hf_fitted_free(m);
        }
        free(X);
        free(y);
    }
}

static void test_ridge_sharing(void **state)
{
    (void)state;
    const size_t n = 80, p = 6;
    double *X = make_X(n, p, 5);
    double *y = make_y_reg(X, n, p, 6);
    hf_fit_data d = {.X = X, .n = n, .p = p, .y = y};
    const double alphas[] = {1e-3, 0.5, 1.0, 40.0, 1e4};
    const int fis[] = {1, 0, 1, 1, 0};
    enum { T = 5 };
    hf_value v[T][8];
    const hf_value *pv[T];
    for (size_t t = 0; t < T; t++) {
        defaults(&hf_model_ridge, v[t]);
        set_param(&hf_model_ridge, v[t], "alpha", alphas[t]);
        set_param(&hf_model_ridge, v[t], "fit_intercept", fis[t]);
        pv[t] = v[t];
    }
    assert_true(hf_model_share_cmp(&hf_model_ridge, v[0], v[2]) == 0);
    assert_true(hf_model_share_cmp(&hf_model_ridge, v[0], v[1]) != 0);
    hf_fitted *all[T] = {0};
    assert_int_equal(hf_model_ridge.fit(&d, pv, T, all), HF_OK);
    for (size_t t = 0; t < T; t++) {
        hf_fitted *one = NULL;
        assert_int_equal(hf_model_ridge.fit(&d, &pv[t], 1, &one), HF_OK);
        const hf_array *a = hf_fitted_get(all[t], "coef"), *b = hf_fitted_get(one, "coef");
        for (size_t j = 0; j < p; j++)
            assert_true(fabs(a->data[j] - b->data[j]) <= 1e-12 * (1.0 + fabs(b->data[j])));
        double ia = hf_fitted_get(all[t], "intercept")->data[0];
        double ib = hf_fitted_get(one, "intercept")->data[0];
        assert_true(fabs(ia - ib) <= 1e-12 * (1.0 + fabs(ib)));
        check_ridge_normal_equations(X, y, n, p, alphas[t], fis[t], all[t]);
        hf_fitted_free(one);
        hf_fitted_free(all[t]);
    }
    free(X);
    free(y);
}

/* Rows i of the N x p table X (targets y) with (i % mod == rem) == equal: their indices into rows,
 * copies of them into Xc and yc; returns how many. */
static size_t pick_rows(const double *X, const double *y, size_t N, size_t p, size_t mod,
                        size_t rem, int equal, int64_t *rows, double *Xc, double *yc)
{
    size_t m = 0;
    for (size_t i = 0; i < N; i++)
        if ((i % mod == rem) == equal) {
            rows[m] = (int64_t)i;
            memcpy(Xc + m * p, X + i * p, p * sizeof *Xc);
            yc[m++] = y[i];
        }
    return m;
}

/* Ridge (alpha 0.7) on the rows of a known table (id: the table path) equals ridge on a copy of
 * them, and, with normal_eq, satisfies the normal equations. */
static void check_table_fit(const double *X, const double *y, size_t N, size_t p,
                            const int64_t *rows, const double *Xc, const double *yc, size_t m,
                            uint64_t id, int normal_eq)
{
    /* The table the rows index: its targets, size and identity (ridge caches its Gram sums). */
    hf_dataset table = {.X = (double *)X, .y = (double *)y, .n_rows = N, .id = id};
    hf_fit_data dt = {.X = X, .rows = rows, .n = m, .p = p, .y = yc, .table = &table};
    hf_fit_data dc = {.X = Xc, .n = m, .p = p, .y = yc};
    hf_value v[8];
    defaults(&hf_model_ridge, v);
    set_param(&hf_model_ridge, v, "alpha", 0.7);
    const hf_value *pv[1] = {v};
    hf_fitted *a = NULL, *b = NULL;
    assert_int_equal(hf_model_ridge.fit(&dt, pv, 1, &a), HF_OK);
    assert_int_equal(hf_model_ridge.fit(&dc, pv, 1, &b), HF_OK);
    if (normal_eq)
        check_ridge_normal_equations(Xc, yc, m, p, 0.7, 1, a);
    assert_same_model(a, b, 1e-9);
    hf_fitted_free(a);
    hf_fitted_free(b);
}

/* More rows than one Gram block (2,048), read in place, with large column offsets and a drift
 * along the rows, so that the first block's mean (the shift of the one-pass centred Gram matrix)
 * is far from the training mean: the normal equations of the centred problem still hold to
 * 1e-10, and a copy of the rows gives the same model. An intercept-only model (no features) is
 * the mean of y. */
static void test_ridge_blocks(void **state)
{
    (void)state;
    const size_t N = 6000, p = 6;
    double *X = make_X(N, p, 90);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < p; j++)
            X[i * p + j] += 1e4 * (double)(j + 1) + 5.0 * (double)i / (double)N;
    double *y = make_y_reg(X, N, p, 91);
    int64_t *rows = malloc(N * sizeof *rows);
    double *Xc = malloc(N * p * sizeof *Xc), *yc = malloc(N * sizeof *yc);
    size_t n = pick_rows(X, y, N, p, 5, 2, 0, rows, Xc, yc);
    hf_fit_data din = {.X = X, .rows = rows, .n = n, .p = p, .y = yc};
    hf_fit_data dcp = {.X = Xc, .n = n, .p = p, .y = yc};
    for (int fi = 0; fi <= 1; fi++) {
        hf_value v[8];
        defaults(&hf_model_ridge, v);
        set_param(&hf_model_ridge, v, "alpha", 2.5);
        set_param(&hf_model_ridge, v, "fit_intercept", fi);
        const hf_value *pv[1] = {v};
        hf_fitted *a = NULL, *b = NULL;
        assert_int_equal(hf_model_ridge.fit(&din, pv, 1, &a), HF_OK);
        assert_int_equal(hf_model_ridge.fit(&dcp, pv, 1, &b), HF_OK);
        check_ridge_normal_equations(Xc, yc, n, p, 2.5, fi, a);
        assert_same_model(a, b, 1e-12);
        hf_fitted_free(a);
        hf_fitted_free(b);
    }
    /* Training rows of a known table: each fold's sums are the table's (formed once, kept across
     * calls) minus its other rows'. Every fold must equal a fit on a copy of its rows; after the
     * table changes (a new id), the kept sums must not be used. */
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            for (size_t i = 0; i < N * p; i++)
                X[i] = X[i] * 0.5 + (double)(i % 7);
        for (size_t fold = 0; fold < 3; fold++) {
            size_t m = pick_rows(X, y, N, p, 3, fold, 0, rows, Xc, yc);
            check_table_fit(X, y, N, p, rows, Xc, yc, m, 4242 + (uint64_t)round, 1);
        }
    }
    /* A NaN in a table row that this fit does not train on: the table's sums are unusable, the
     * training rows are summed directly, and the model is still the copy's. */
    X[1 * p + 2] = NAN;
    n = pick_rows(X, y, N, p, 3, 1, 0, rows, Xc, yc);
    check_table_fit(X, y, N, p, rows, Xc, yc, n, 4244, 0);
    /* A huge (finite) value in such a row would cancel the training rows out of the difference:
     * the training rows are summed directly instead, and the model is still the copy's. */
    X[1 * p + 2] = 1.0;
    X[1 * p + 0] = 1e10;
    check_table_fit(X, y, N, p, rows, Xc, yc, n, 4245, 1);
    X[1 * p + 0] = 1.0;
    /* Training rows whose first block (the shift of the one-pass sums) sits far from the rest:
     * the normal equations of the centred problem still hold. */
    {
        const size_t M = 60000, q = 3;
        double *Xm = make_X(M, q, 92);
        for (size_t i = 0; i < 2048; i++)
            for (size_t j = 0; j < q; j++)
                Xm[i * q + j] += 1e3;
        double *ym = make_y_reg(Xm, M, q, 93);
        for (size_t i = 0; i < 2048; i++)
            ym[i] += 1e4;
        hf_fit_data dm = {.X = Xm, .n = M, .p = q, .y = ym};
        hf_value v[8];
        defaults(&hf_model_ridge, v);
        set_param(&hf_model_ridge, v, "alpha", 0.7);
        const hf_value *pv[1] = {v};
        hf_fitted *a = NULL;
        assert_int_equal(hf_model_ridge.fit(&dm, pv, 1, &a), HF_OK);
        check_ridge_normal_equations(Xm, ym, M, q, 0.7, 1, a);
        hf_fitted_free(a);
        free(Xm);
        free(ym);
    }
    hf_value v[8];
    defaults(&hf_model_ridge, v);
    const hf_value *pv[1] = {v};
    hf_fit_data d0 = {.X = Xc, .n = n, .p = 0, .y = yc};
    hf_fitted *m = NULL;
    assert_int_equal(hf_model_ridge.fit(&d0, pv, 1, &m), HF_OK);
    double ym = 0.0;
    for (size_t i = 0; i < n; i++)
        ym += yc[i] / (double)n;
    assert_true(fabs(hf_fitted_get(m, "intercept")->data[0] - ym) <= 1e-12 * fabs(ym));
    hf_fitted_free(m);
    free(rows);
    free(Xc);
    free(yc);
    free(X);
    free(y);
}

static void test_ridge_errors(void **state)
{
    (void)state;
    double X[4] = {1, 2, 3, 4}, y[2] = {1, 2};
    hf_fit_data d = {.X = X, .n = 2, .p = 2, .y = y};
    hf_value v[8];
    defaults(&hf_model_ridge, v);
    set_param(&hf_model_ridge, v, "alpha", 0.0);
    const hf_value *pv[1] = {v};
    hf_fitted *m = (hf_fitted *)&d; /* must be reset to NULL on failure */
    hf_error_clear();
    assert_int_equal(hf_model_ridge.fit(&d, pv, 1, &m), HF_EINVAL);
    assert_null(m);
    assert_non_null(strstr(hf_error_message(), "alpha"));
    hf_error_clear();
    d.n = 0;
    set_param(&hf_model_ridge, v, "alpha", 1.0);
    assert_int_equal(hf_model_ridge.fit(&d, pv, 1, &m), HF_EDATA);
    hf_error_clear();
}

/* Gradient of sum_i logloss_i + 0.5/C ||W||^2 with plain loops; returns max |g|. */
static double logistic_grad_max(const double *X, const double *y, size_t n, size_t p, size_t K,
                                double C, const hf_fitted *m, int fit_intercept)
{
    const hf_array *W = hf_fitted_get(m, "coef");
    const hf_array *b = hf_fitted_get(m, "intercept");
    size_t k = K == 2 ? 1 : K;
    assert_int_equal(W->rows, k);
    assert_int_equal(W->cols, p);
    assert_int_equal(b->cols, k);
    double *gW = calloc(k * p, sizeof *gW), *gb = calloc(k, sizeof *gb), *z = calloc(k, sizeof *z);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < k; c++) {
            z[c] = b->data[c];
            for (size_t j = 0; j < p; j++)
                z[c] += X[i * p + j] * W->data[c * p + j];
        }
        if (k == 1) {
            z[0] = 1.0 / (1.0 + exp(-z[0])) - y[i];
        } else {
            double mx = z[0], s = 0.0;
            for (size_t c = 1; c < k; c++)
                mx = fmax(mx, z[c]);
            for (size_t c = 0; c < k; c++)
                s += exp(z[c] - mx);
            for (size_t c = 0; c < k; c++)
                z[c] = exp(z[c] - mx) / s - (c == (size_t)y[i] ? 1.0 : 0.0);
        }
        for (size_t c = 0; c < k; c++) {
            gb[c] += z[c];
            for (size_t j = 0; j < p; j++)
                gW[c * p + j] += z[c] * X[i * p + j];
        }
    }
    double mx = 0.0;
    for (size_t c = 0; c < k; c++) {
        for (size_t j = 0; j < p; j++)
            mx = fmax(mx, fabs(gW[c * p + j] + W->data[c * p + j] / C));
        if (fit_intercept)
            mx = fmax(mx, fabs(gb[c]));
        else
            assert_true(b->data[c] == 0.0);
    }
    free(gW);
    free(gb);
    free(z);
    return mx;
}

static double *make_y_class(const double *X, size_t n, size_t p, size_t K, uint64_t seed)
{
    hf_rng r;
    hf_rng_init(&r, seed, 7, 8);
    double *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < p; j++)
            s += X[i * p + j] * (j % 2 ? 0.8 : -0.5);
        s += 2.0 * (hf_rng_uniform(&r) - 0.5);
        /* bucket a noisy score into K classes so every class is present */
        double t = s - floor(s / (double)K) * (double)K;
        y[i] = floor(t);
        if (i < K)
            y[i] = (double)i;
    }
    return y;
}

static void run_logistic(size_t K, int fit_intercept, double C)
{
    const size_t n = 120, p = 4;
    double *X = make_X(n, p, 40 + K);
    double *y = make_y_class(X, n, p, K, 50 + K);
    hf_fit_data d = {.X = X, .n = n, .p = p, .y = y, .n_classes = K};
    hf_value v[8];
    defaults(&hf_model_logistic_regression, v);
    set_param(&hf_model_logistic_regression, v, "C", C);
    set_param(&hf_model_logistic_regression, v, "fit_intercept", fit_intercept);
    set_param(&hf_model_logistic_regression, v, "tol", 1e-8);
    set_param(&hf_model_logistic_regression, v, "max_iter", 10000);
    const hf_value *pv[1] = {v};
    hf_fitted *m = NULL;
    assert_int_equal(hf_model_logistic_regression.fit(&d, pv, 1, &m), HF_OK);
    assert_int_equal(m->n_outputs, K);
    assert_true(m->n_iter >= 1);
    /* The gradient at the solution is small relative to the gradient at the start (W = 0). The
     * fit stops as scikit-learn's does, also on scipy's relative-decrease test (ftol 2.2e-9), so
     * the remaining gradient is 1e-5..2e-3 of the initial one here; a wrong gradient or a
     * failed line search leaves it of the order of the initial one. */
    hf_fitted *zero = hf_fitted_new(&hf_model_logistic_regression, p, K, 2);
    assert_non_null(hf_fitted_array(zero, 0, "coef", K == 2 ? 1 : K, p));
    assert_non_null(hf_fitted_array(zero, 1, "intercept", 1, K == 2 ? 1 : K));
    double g0 = logistic_grad_max(X, y, n, p, K, C, zero, 1);
    hf_fitted_free(zero);
    double gmax = logistic_grad_max(X, y, n, p, K, C, m, fit_intercept);
    assert_true(g0 > 1.0);
    assert_true(gmax <= 1e-2 * g0);
    double *P = malloc(n * K * sizeof *P);
    assert_int_equal(hf_model_logistic_regression.predict(m, NULL, X, n, p, P), HF_OK);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t c = 0; c < K; c++) {
            assert_true(P[i * K + c] >= 0.0 && P[i * K + c] <= 1.0);
            s += P[i * K + c];
        }
        assert_true(fabs(s - 1.0) <= 1e-12);
    }
    /* one iteration: no error, n_iter recorded, gradient not yet small */
    set_param(&hf_model_logistic_regression, v, "max_iter", 1);
    hf_fitted *m1 = NULL;
    assert_int_equal(hf_model_logistic_regression.fit(&d, pv, 1, &m1), HF_OK);
    assert_true(m1->n_iter <= 1.0);
    assert_true(logistic_grad_max(X, y, n, p, K, C, m1, fit_intercept) > 1e-3 * g0);
    hf_fitted_free(m1);
    hf_fitted_free(m);
    free(P);
    free(X);
    free(y);
}

static void test_logistic_binary(void **state)
{
    (void)state;
    run_logistic(2, 1, 1.0);
    run_logistic(2, 0, 0.05);
}

static void test_logistic_multiclass(void **state)
{
    (void)state;
    run_logistic(3, 1, 1.0);
    run_logistic(4, 1, 10.0);
    run_logistic(3, 0, 0.3);
}

/* Coefficients and intercepts of two fits agree to rel (relative, plus rel absolute). */
static void assert_same_model(const hf_fitted *a, const hf_fitted *b, double rel)
{
    for (size_t i = 0; i < 2; i++) {
        const hf_array *x = &a->arrays[i], *y = &b->arrays[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->rows * x->cols, y->rows * y->cols);
        for (size_t j = 0; j < x->rows * x->cols; j++)
            assert_true(fabs(x->data[j] - y->data[j]) <= rel * (1.0 + fabs(y->data[j])));
    }
}

/* The trials of one call are optimised in lock-step, with the training rows read in place (as one
 * range with the other rows skipped, or gathered when they are sparse): every trial must come out
 * as it does fitted alone on a copy of its training rows. */
static void run_logistic_lockstep(size_t K)
{
    const size_t N = 700, p = 5;
    double *X = make_X(N, p, 60 + K);
    double *y = make_y_class(X, N, p, K, 70 + K);
    /* A NaN in row 2, which never trains (4 in 5 rows from 0 and 1 in 3 from 1 do not include
     * it), but lies inside the dense range: it must not reach any product. */
    X[2 * p + 1] = NAN;
    const double Cs[] = {1e-3, 0.1, 1.0, 10.0, 1e3};
    enum { T = 5 };
    hf_value v[T][8];
    const hf_value *pv[T];
    for (size_t t = 0; t < T; t++) {
        defaults(&hf_model_logistic_regression, v[t]);
        set_param(&hf_model_logistic_regression, v[t], "C", Cs[t]);
        set_param(&hf_model_logistic_regression, v[t], "tol", 1e-10);
        set_param(&hf_model_logistic_regression, v[t], "max_iter", 10000);
        pv[t] = v[t];
    }
    assert_true(hf_model_share_cmp(&hf_model_logistic_regression, v[0], v[4]) == 0);
    /* dense: 4 rows in 5 (read as one range); sparse: 1 row in 3 (gathered) */
    for (int sparse = 0; sparse <= 1; sparse++) {
        int64_t *rows = malloc(N * sizeof *rows);
        double *Xc = malloc(N * p * sizeof *Xc), *yc = malloc(N * sizeof *yc);
        size_t n = sparse ? pick_rows(X, y, N, p, 3, 1, 1, rows, Xc, yc)
                          : pick_rows(X, y, N, p, 5, 2, 0, rows, Xc, yc);
        hf_fit_data din = {.X = X, .rows = rows, .n = n, .p = p, .y = yc, .n_classes = K};
        hf_fit_data dcp = {.X = Xc, .n = n, .p = p, .y = yc, .n_classes = K};
        hf_fitted *together[T] = {0}, *copied[T] = {0};
        assert_int_equal(hf_model_logistic_regression.fit(&din, pv, T, together), HF_OK);
        assert_int_equal(hf_model_logistic_regression.fit(&dcp, pv, T, copied), HF_OK);
        for (size_t t = 0; t < T; t++) {
            hf_fitted *alone = NULL;
            assert_int_equal(hf_model_logistic_regression.fit(&dcp, &pv[t], 1, &alone), HF_OK);
            /* Each runs to tol 1e-10, past where f can still decrease in doubles: at that
             * rounding floor the roundings of the shared products leave the coefficients about
             * sqrt(eps |f| / lambda_min) apart (|f| ~ 500 here; measured up to 1.5e-6, on the
             * multinomial intercepts, whose sum the loss does not fix). */
            assert_same_model(together[t], alone, 5e-6);
            assert_same_model(copied[t], alone, 5e-6);
            /* and it is the optimum */
            hf_fitted *zero = hf_fitted_new(&hf_model_logistic_regression, p, K, 2);
            assert_non_null(hf_fitted_array(zero, 0, "coef", K == 2 ? 1 : K, p));
            assert_non_null(hf_fitted_array(zero, 1, "intercept", 1, K == 2 ? 1 : K));
            double g0 = logistic_grad_max(Xc, yc, n, p, K, Cs[t], zero, 1);
            assert_true(logistic_grad_max(Xc, yc, n, p, K, Cs[t], together[t], 1) <= 1e-2 * g0);
            hf_fitted_free(zero);
            hf_fitted_free(alone);
            hf_fitted_free(together[t]);
            hf_fitted_free(copied[t]);
        }
        free(rows);
        free(Xc);
        free(yc);
    }
    /* trials that differ in more than C are never given to one call */
    set_param(&hf_model_logistic_regression, v[1], "tol", 1e-4);
    assert_true(hf_model_share_cmp(&hf_model_logistic_regression, v[0], v[1]) != 0);
    free(X);
    free(y);
}

static void test_logistic_lockstep(void **state)
{
    (void)state;
    run_logistic_lockstep(2);
    run_logistic_lockstep(3);
}

/* predict_many (one DGEMM for the cross-validation scores) equals predict (a dot product per row).
 */
static void check_predict_many(const hf_model_ops *ops, hf_fitted *const *m, size_t k,
                               const double *X, size_t n, size_t p)
{
    const size_t no = m[0]->n_outputs;
    double *many = malloc(k * n * no * sizeof *many), *one = malloc(n * no * sizeof *one);
    assert_non_null(ops->predict_many);
    assert_int_equal(ops->predict_many(m, k, X, n, p, many), HF_OK);
    for (size_t t = 0; t < k; t++) {
        assert_int_equal(ops->predict(m[t], NULL, X, n, p, one), HF_OK);
        for (size_t i = 0; i < n * no; i++)
            assert_true(fabs(many[t * n * no + i] - one[i]) <= 1e-12 * (1.0 + fabs(one[i])));
    }
    /* a model fitted on other features is refused */
    hf_error_clear();
    assert_true(ops->predict_many(m, k, X, n, p - 1, many) < 0);
    hf_error_clear();
    free(many);
    free(one);
}

static void test_predict_many(void **state)
{
    (void)state;
    const size_t n = 90, p = 4;
    double *X = make_X(n, p, 80);
    for (size_t K = 0; K <= 3; K++) {
        if (K == 1)
            continue;
        const hf_model_ops *ops = K ? &hf_model_logistic_regression : &hf_model_ridge;
        double *y = K ? make_y_class(X, n, p, K, 81) : make_y_reg(X, n, p, 81);
        hf_fit_data d = {.X = X, .n = n, .p = p, .y = y, .n_classes = K};
        hf_value v[3][8];
        const hf_value *pv[3];
        for (size_t t = 0; t < 3; t++) {
            defaults(ops, v[t]);
            set_param(ops, v[t], K ? "C" : "alpha", t == 0 ? 0.01 : t == 1 ? 1.0 : 100.0);
            pv[t] = v[t];
        }
        hf_fitted *m[3] = {0};
        assert_int_equal(ops->fit(&d, pv, 3, m), HF_OK);
        check_predict_many(ops, m, 3, X, n, p);
        for (size_t t = 0; t < 3; t++)
            hf_fitted_free(m[t]);
        free(y);
    }
    free(X);
}

static void test_logistic_errors(void **state)
{
    (void)state;
    double X[6] = {1, 2, NAN, 4, 5, 6}, y[3] = {0, 1, 0};
    hf_fit_data d = {.X = X, .n = 3, .p = 2, .y = y, .n_classes = 2};
    hf_value v[8];
    defaults(&hf_model_logistic_regression, v);
    const hf_value *pv[1] = {v};
    hf_fitted *m = NULL;
    hf_error_clear();
    assert_int_equal(hf_model_logistic_regression.fit(&d, pv, 1, &m), HF_ENUM);
    assert_null(m);
    assert_true(strlen(hf_error_message()) > 0);
    hf_error_clear();
    X[2] = 3.0;
    y[1] = 2.0; /* out of range for 2 classes */
    assert_int_equal(hf_model_logistic_regression.fit(&d, pv, 1, &m), HF_EDATA);
    hf_error_clear();
    y[1] = 0.0; /* a single class, as sklearn refuses too */
    assert_int_equal(hf_model_logistic_regression.fit(&d, pv, 1, &m), HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "at least 2 classes"));
    assert_null(m);
    hf_error_clear();
    y[1] = 1.0;
    assert_int_equal(hf_model_logistic_regression.fit(&d, pv, 1, &m), HF_OK);
    assert_non_null(m);
    hf_fitted_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_fitted_helpers),
        cmocka_unit_test(test_ridge_normal_equations),
        cmocka_unit_test(test_ridge_sharing),
        cmocka_unit_test(test_ridge_blocks),
        cmocka_unit_test(test_ridge_errors),
        cmocka_unit_test(test_logistic_binary),
        cmocka_unit_test(test_logistic_multiclass),
        cmocka_unit_test(test_logistic_lockstep),
        cmocka_unit_test(test_predict_many),
        cmocka_unit_test(test_logistic_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
