/* test_xgboost_continue.c - a resumable fit (hf_fit_data.resumable: Hyperband's and ASHA's
 * promotions) continues the booster an earlier fit of the same parameters kept, and its models
 * are bit for bit those of a fresh fit: the same booster JSON, the same kept rounds and the same
 * predictions, for regression, two and three classes, with early stopping off and on (a run
 * that stopped before its promotion included), on native categorical features, with several
 * trials in one call and with fewer rounds than kept (a slice), with row sampling; fits with
 * column sampling are never continued (and still equal the fresh fit); the counts say how many fits
 * continued and how many rounds they spared; HF_XGB_NO_CONTINUE=1 turns continuation off. */
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

extern const hf_model_ops hf_model_xgboost;

enum { N = 400, P = 5, NV = 150 };

typedef struct data {
    double X[N * P], y[N], c2[N], c3[N], Xv[NV * P], yv[NV], c2v[NV], c3v[NV];
} data;

/* A nonlinear noisy target, missing values; the last column holds codes 0..7 of a level. */
static void make_rows(double *X, double *y, double *c2, double *c3, size_t n, uint64_t seed)
{
    static const double effect[8] = {1, -1, 2, 0, -2, 0.5, 1.5, -0.5};
    hf_rng r;
    hf_rng_init(&r, seed, 3, 4);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j + 1 < P; j++)
            X[i * P + j] = hf_rng_uniform(&r) < 0.05 ? NAN : 4.0 * hf_rng_uniform(&r) - 2.0;
        double code = floor(hf_rng_uniform(&r) * 8.0);
        X[i * P + P - 1] = code;
        double a = isnan(X[i * P]) ? 0.0 : X[i * P], b = isnan(X[i * P + 1]) ? 0.0 : X[i * P + 1];
        y[i] = a * a - b + 0.5 * effect[(int)code] + 1.5 * hf_rng_uniform(&r);
        c2[i] = y[i] > 1.0;
        c3[i] = y[i] < 0.5 ? 0 : y[i] < 2.0 ? 1 : 2;
    }
}

static data *make(void)
{
    data *d = calloc(1, sizeof *d);
    assert_non_null(d);
    make_rows(d->X, d->y, d->c2, d->c3, N, 21);
    make_rows(d->Xv, d->yv, d->c2v, d->c3v, NV, 22);
    return d;
}

static void set_num(hf_value *v, const char *name, double x)
{
    long i = hf_model_param_index(&hf_model_xgboost, name);
    assert_true(i >= 0);
    if (v[i].type == HF_VAL_INT)
        v[i].u.i = (int64_t)x;
    else
        v[i].u.num = x;
}

static void defaults(hf_value *v)
{
    for (size_t i = 0; i < hf_model_xgboost.n_params; i++)
        assert_int_equal(hf_model_param_default(&hf_model_xgboost.params[i], &v[i]), HF_OK);
    set_num(v, "n_jobs", 1);
}

static void clear(hf_value *v)
{
    for (size_t i = 0; i < hf_model_xgboost.n_params; i++)
        hf_value_free(&v[i]);
}

static void counts(uint64_t c[2])
{
    c[0] = c[1] = 0;
    hf_model_xgboost.sweep_end(c);
}

/* Fits trials of these rounds (the other parameters v) in one call. */
static void fit(const hf_fit_data *fd, hf_value *v, const int *rounds, size_t k, hf_fitted **out)
{
    hf_value tv[8][32];
    const hf_value *pv[8];
    assert_true(k <= 8);
    for (size_t t = 0; t < k; t++) {
        memcpy(tv[t], v, hf_model_xgboost.n_params * sizeof *v); /* numbers and shared texts */
        set_num(tv[t], "n_estimators", rounds[t]);
        pv[t] = tv[t];
    }
    assert_int_equal(hf_model_xgboost.fit(fd, pv, k, out), HF_OK);
}

/* a and b are the same model: booster JSON, kept rounds, predictions of the validation rows. */
static void assert_same(hf_fitted *a, hf_fitted *b, const double *Xv, size_t n_out)
{
    assert_int_equal((int)a->n_iter, (int)b->n_iter);
    assert_int_equal(hf_model_xgboost.save_state(a), HF_OK);
    assert_int_equal(hf_model_xgboost.save_state(b), HF_OK);
    const hf_blob *ja = hf_fitted_blob(a, "booster"), *jb = hf_fitted_blob(b, "booster");
    assert_non_null(ja);
    assert_non_null(jb);
    assert_int_equal(ja->len, jb->len);
    assert_memory_equal(ja->data, jb->data, ja->len);
    double *pa = malloc(NV * n_out * sizeof *pa), *pb = malloc(NV * n_out * sizeof *pb);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_int_equal(hf_model_xgboost.predict(a, NULL, Xv, NV, P, pa), HF_OK);
    assert_int_equal(hf_model_xgboost.predict(b, NULL, Xv, NV, P, pb), HF_OK);
    assert_memory_equal(pa, pb, NV * n_out * sizeof *pa);
    free(pa);
    free(pb);
}

/* The promotions 2 -> 6 -> 18 rounds (then 4: a slice) of resumable fits, each against a fresh
 * fit of the same rounds; with early stopping `es` (0: off). Returns the continued fits. */
static uint64_t ladder(data *d, int task, int es, int categorical, double subsample,
                       double colsample)
{
    static const unsigned char flags[P] = {0, 0, 0, 0, 1};
    const double *y = task == 0 ? d->y : task == 2 ? d->c2 : d->c3;
    const double *yv = task == 0 ? d->yv : task == 2 ? d->c2v : d->c3v;
    size_t n_classes = (size_t)task, n_out = task ? (size_t)task : 1;
    hf_fit_data fd = {.X = d->X,
                      .n = N,
                      .p = P,
                      .y = y,
                      .n_classes = n_classes,
                      .X_valid = es ? d->Xv : NULL,
                      .y_valid = es ? yv : NULL,
                      .n_valid = es ? NV : 0,
                      .metric = !es    ? NULL
                                : task ? "log_loss"
                                       : "rmse",
                      .categorical = categorical ? flags : NULL,
                      .resumable = (size_t)64 << 20};
    hf_fit_data fresh = fd;
    fresh.resumable = 0;
    hf_value v[32];
    defaults(v);
    set_num(v, "early_stopping_rounds", es);
    set_num(v, "subsample", subsample);
    set_num(v, "colsample_bynode", colsample);
    set_num(v, "max_depth", 4);
    uint64_t c[2];
    counts(c); /* a clean slate */
    static const int steps[][2] = {{2, 2}, {6, 6}, {18, 18}, {4, 12}};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        hf_fitted *m[2] = {0}, *f[2] = {0};
        fit(&fd, v, steps[s], 2, m);
        fit(&fresh, v, steps[s], 2, f);
        for (int t = 0; t < 2; t++) {
            assert_same(m[t], f[t], d->Xv, n_out);
            hf_fitted_free(m[t]);
            hf_fitted_free(f[t]);
        }
    }
    counts(c);
    if (c[0] > 0) /* each continued fit spared at least the 2 rounds of the first */
        assert_true(c[1] >= 2 * c[0]);
    clear(v);
    return c[0];
}

/* Every kind of target, early stopping off and on, numeric and native categorical features. */
static void test_continued_equals_fresh(void **state)
{
    (void)state;
    data *d = make();
    for (int task = 0; task <= 3; task++) {
        if (task == 1)
            continue; /* 0: regression, 2: binary, 3: three classes */
        for (int es = 0; es <= 1; es++)
            for (int cat = 0; cat <= 1; cat++) {
                print_message("task %d early stopping %d categorical %d\n", task, es, cat);
                /* Three promotions continue (6, 18 and the slice of 4 / 12). */
                assert_int_equal((int)ladder(d, task, es ? 3 : 0, cat, 1.0, 1.0), 3);
            }
    }
    free(d);
}

/* Row sampling (subsample < 1) continues too: the kept booster carries the generator's state. */
static void test_row_sampling(void **state)
{
    (void)state;
    data *d = make();
    for (int task = 0; task <= 3; task++)
        if (task != 1) {
            assert_int_equal((int)ladder(d, task, 0, 0, 0.7, 1.0), 3);
            assert_int_equal((int)ladder(d, task, 3, 1, 0.8, 1.0), 3);
        }
    free(d);
}

/* Column sampling: never continued, and still the fresh fit. */
static void test_column_sampling_not_continued(void **state)
{
    (void)state;
    data *d = make();
    assert_int_equal((int)ladder(d, 0, 0, 0, 1.0, 0.6), 0);
    assert_int_equal((int)ladder(d, 3, 3, 0, 0.8, 0.7), 0);
    free(d);
}

/* A run that stopped early (best round well before its budget): the promoted fit restores it,
 * trains nothing and is the fresh fit; its rounds are those of the early stop. */
static void test_stopped_before_promotion(void **state)
{
    (void)state;
    data *d = make();
    hf_fit_data fd = {.X = d->X,
                      .n = N,
                      .p = P,
                      .y = d->y,
                      .X_valid = d->Xv,
                      .y_valid = d->yv,
                      .n_valid = NV,
                      .metric = "rmse",
                      .resumable = (size_t)64 << 20};
    hf_fit_data fresh = fd;
    fresh.resumable = 0;
    hf_value v[32];
    defaults(v);
    set_num(v, "early_stopping_rounds", 2);
    set_num(v, "learning_rate", 0.5);
    uint64_t c[2];
    counts(c);
    const int first = 300, promoted = 900;
    hf_fitted *m = NULL, *p = NULL, *f = NULL;
    fit(&fd, v, &first, 1, &m);
    assert_true(m->n_iter < 100); /* it stopped early, long before its budget */
    fit(&fd, v, &promoted, 1, &p);
    fit(&fresh, v, &promoted, 1, &f);
    assert_same(p, f, d->Xv, 1);
    assert_same(m, p, d->Xv, 1);
    counts(c);
    assert_int_equal((int)c[0], 1);
    assert_true(c[1] > (uint64_t)m->n_iter); /* the rounds up to the stop, not only the kept */
    hf_fitted_free(m);
    hf_fitted_free(p);
    hf_fitted_free(f);
    clear(v);
    free(d);
}

/* HF_XGB_NO_CONTINUE=1: nothing is kept, nothing continued, the same models. */
static void test_switch_off(void **state)
{
    (void)state;
    data *d = make();
    setenv("HF_XGB_NO_CONTINUE", "1", 1);
    assert_int_equal((int)ladder(d, 2, 3, 0, 1.0, 1.0), 0);
    unsetenv("HF_XGB_NO_CONTINUE");
    assert_int_equal((int)ladder(d, 2, 3, 0, 1.0, 1.0), 3);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continued_equals_fresh),
        cmocka_unit_test(test_row_sampling),
        cmocka_unit_test(test_column_sampling_not_continued),
        cmocka_unit_test(test_stopped_before_promotion),
        cmocka_unit_test(test_switch_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
