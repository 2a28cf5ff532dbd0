/* test_xgboost.c - the models on libxgboost: round-prefix sharing (trials that differ only in
 * n_estimators fitted in one call give the models of separate fits), early stopping's kept
 * rounds, the blob interface (save_state -> blobs -> load_state gives a booster that predicts
 * the same; a damaged blob is refused), the refit's rounds and the parameter checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "worker/metrics.h"
#include "worker/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_xgboost;
extern const hf_model_ops hf_model_random_forest;

enum { N = 300, P = 4, NV = 100 };

/* A nonlinear target with missing values in the features: regression (y) and 3 classes (c). */
static void make_data(double *X, double *y, double *c, size_t n, uint64_t seed)
{
    hf_rng r;
    hf_rng_init(&r, seed, 1, 2);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < P; j++)
            X[i * P + j] = hf_rng_uniform(&r) < 0.05 ? NAN : 4.0 * hf_rng_uniform(&r) - 2.0;
        double a = isnan(X[i * P]) ? 0.0 : X[i * P], b = isnan(X[i * P + 1]) ? 0.0 : X[i * P + 1];
        y[i] = a * a - b + 0.3 * hf_rng_uniform(&r);
        c[i] = y[i] < 0.0 ? 0 : y[i] < 1.5 ? 1 : 2;
    }
}

static void defaults(const hf_model_ops *ops, hf_value *v)
{
    for (size_t i = 0; i < ops->n_params; i++)
        assert_int_equal(hf_model_param_default(&ops->params[i], &v[i]), HF_OK);
}

static void set_num(const hf_model_ops *ops, hf_value *v, const char *name, double x)
{
    long i = hf_model_param_index(ops, name);
    assert_true(i >= 0);
    if (v[i].type == HF_VAL_INT)
        v[i].u.i = (int64_t)x;
    else
        v[i].u.num = x;
}

static void clear(const hf_model_ops *ops, hf_value *v)
{
    for (size_t i = 0; i < ops->n_params; i++)
        hf_value_free(&v[i]);
}

typedef struct data {
    double X[N * P], y[N], c[N], Xv[NV * P], yv[NV], cv[NV];
} data;

static data *make(void)
{
    data *d = calloc(1, sizeof *d);
    assert_non_null(d);
    make_data(d->X, d->y, d->c, N, 7);
    make_data(d->Xv, d->yv, d->cv, NV, 8);
    return d;
}

static void predict(const hf_fitted *m, const double *X, size_t n, double *out)
{
    assert_int_equal(m->ops->predict(m, NULL, X, n, P, out), HF_OK);
}

/* Trials of 3, 7 and 12 rounds in one fit call equal three separate fits, for regression and 3
 * classes. */
static void test_round_prefix(void **state)
{
    (void)state;
    data *d = make();
    for (int cls = 0; cls < 2; cls++) {
        hf_fit_data fd = {
            .X = d->X, .n = N, .p = P, .y = cls ? d->c : d->y, .n_classes = cls ? 3 : 0};
        size_t n_out = cls ? 3 : 1;
        const double rounds[3] = {3, 7, 12};
        hf_value v[3][32];
        const hf_value *pv[3];
        hf_fitted *shared[3] = {0}, *alone = NULL;
        for (int t = 0; t < 3; t++) {
            defaults(&hf_model_xgboost, v[t]);
            set_num(&hf_model_xgboost, v[t], "n_estimators", rounds[t]);
            set_num(&hf_model_xgboost, v[t], "subsample", 0.7);
            set_num(&hf_model_xgboost, v[t], "n_jobs", 1);
            pv[t] = v[t];
        }
        assert_int_equal(hf_model_xgboost.fit(&fd, pv, 3, shared), HF_OK);
        double *a = malloc(NV * n_out * sizeof *a), *b = malloc(NV * n_out * sizeof *b);
        for (int t = 0; t < 3; t++) {
            assert_int_equal(hf_model_xgboost.fit(&fd, &pv[t], 1, &alone), HF_OK);
            assert_int_equal((int)shared[t]->n_iter, (int)rounds[t]);
            predict(shared[t], d->Xv, NV, a);
            predict(alone, d->Xv, NV, b);
            assert_memory_equal(a, b, NV * n_out * sizeof *a);
            if (t > 0) { /* a longer prefix is another model */
                predict(shared[t - 1], d->Xv, NV, b);
                assert_memory_not_equal(a, b, NV * n_out * sizeof *a);
            }
            hf_fitted_free(alone);
        }
        for (int t = 0; t < 3; t++) {
            hf_fitted_free(shared[t]);
            clear(&hf_model_xgboost, v[t]);
        }
        free(a);
        free(b);
    }
    free(d);
}

/* The data-matrix cache: a fit on the same rows reuses the quantised matrix and gives what a
 * first fit gives; the same buffer with other values (or other labels) is another matrix. */
static void test_matrix_cache(void **state)
{
    (void)state;
    data *d = make();
    hf_fit_data fd = {.X = d->X, .n = N, .p = P, .y = d->y};
    hf_value v[32];
    defaults(&hf_model_xgboost, v);
    set_num(&hf_model_xgboost, v, "n_estimators", 5);
    set_num(&hf_model_xgboost, v, "max_depth", 4);
    set_num(&hf_model_xgboost, v, "n_jobs", 1);
    const hf_value *pv = v;
    double a[NV], a2[NV], b[NV], c0[NV], c1[NV];
    hf_fitted *m = NULL;
    /* A first fit on other labels (y -> -y): no matrix of them is cached yet. */
    for (size_t i = 0; i < N; i++)
        d->y[i] = -d->y[i];
    assert_int_equal(hf_model_xgboost.fit(&fd, &pv, 1, &m), HF_OK);
    predict(m, d->Xv, NV, c0);
    hf_fitted_free(m);
    for (size_t i = 0; i < N; i++)
        d->y[i] = -d->y[i];
    assert_int_equal(hf_model_xgboost.fit(&fd, &pv, 1, &m), HF_OK);
    predict(m, d->Xv, NV, a);
    hf_fitted_free(m);
    for (int depth = 2; depth <= 3; depth++) { /* trials of other tasks on the same fold */
        set_num(&hf_model_xgboost, v, "max_depth", depth);
        assert_int_equal(hf_model_xgboost.fit(&fd, &pv, 1, &m), HF_OK);
        hf_fitted_free(m);
    }
    set_num(&hf_model_xgboost, v, "max_depth", 4);
    /* Other values in the same buffer: the model follows them. */
    double *saved = malloc(sizeof d->X);
    memcpy(saved, d->X, sizeof d->X);
    for (size_t i = 0; i < N * P; i++)
        d->X[i] = isnan(d->X[i]) ? d->X[i] : -2.0 * d->X[i];
    assert_int_equal(hf_model_xgboost.fit(&fd, &pv, 1, &m), HF_OK);
    predict(m, d->Xv, NV, b);
    hf_fitted_free(m);
    assert_memory_not_equal(a, b, sizeof a);
    /* The first values again: the same model as the first fit (the matrix from the cache). */
    memcpy(d->X, saved, sizeof d->X);
    assert_int_equal(hf_model_xgboost.fit(&fd, &pv, 1, &m), HF_OK);
    predict(m, d->Xv, NV, a2);
    hf_fitted_free(m);
    assert_memory_equal(a, a2, sizeof a);
    /* And the other labels again: what their first, uncached fit gave. */
    for (size_t i = 0; i < N; i++)
        d->y[i] = -d->y[i];
    assert_int_equal(hf_model_xgboost.fit(&fd, &pv, 1, &m), HF_OK);
    predict(m, d->Xv, NV, c1);
    hf_fitted_free(m);
    assert_memory_equal(c0, c1, sizeof c0);
    assert_memory_not_equal(a, c0, sizeof a);
    free(saved);
    clear(&hf_model_xgboost, v);
    free(d);
}

/* With early_stopping_rounds each trial keeps the rounds up to its best validation score: the
 * kept model scores what the best prefix of a full fit scores, and no other prefix scores better.
 */
static void test_early_stopping(void **state)
{
    (void)state;
    data *d = make();
    const hf_metric *rmse = hf_metric_find("rmse");
    assert_non_null(rmse);
    hf_fit_data fd = {.X = d->X,
                      .n = N,
                      .p = P,
                      .y = d->y,
                      .X_valid = d->Xv,
                      .y_valid = d->yv,
                      .n_valid = NV,
                      .metric = "rmse"};
    hf_value v[32], w[32];
    defaults(&hf_model_xgboost, v);
    set_num(&hf_model_xgboost, v, "n_estimators", 200);
    set_num(&hf_model_xgboost, v, "learning_rate", 0.5);
    set_num(&hf_model_xgboost, v, "early_stopping_rounds", 5);
    set_num(&hf_model_xgboost, v, "n_jobs", 1);
    const hf_value *pv = v;
    hf_fitted *kept = NULL;
    assert_int_equal(hf_model_xgboost.fit(&fd, &pv, 1, &kept), HF_OK);
    int best = (int)kept->n_iter;
    assert_true(best >= 1 && best < 200);
    double pred[NV], s_kept, s;
    predict(kept, d->Xv, NV, pred);
    assert_int_equal(hf_metric_compute(rmse, d->yv, pred, NV, 0, &s_kept), HF_OK);
    /* Every prefix up to best + 5 rounds, fitted without early stopping. */
    defaults(&hf_model_xgboost, w);
    set_num(&hf_model_xgboost, w, "learning_rate", 0.5);
    set_num(&hf_model_xgboost, w, "n_jobs", 1);
    for (int r = 1; r <= best + 5; r++) {
        set_num(&hf_model_xgboost, w, "n_estimators", r);
        const hf_value *pw = w;
        hf_fitted *m = NULL;
        assert_int_equal(hf_model_xgboost.fit(&fd, &pw, 1, &m), HF_OK);
        predict(m, d->Xv, NV, pred);
        assert_int_equal(hf_metric_compute(rmse, d->yv, pred, NV, 0, &s), HF_OK);
        if (r == best)
            assert_true(s == s_kept);
        else if (r < best)
            assert_true(s >= s_kept); /* nothing before it was better */
        else
            assert_true(s >= s_kept); /* nor in the 5 rounds after it */
        hf_fitted_free(m);
    }
    /* The refit trains the mean of the splits' kept rounds, rounded; failed splits (NaN) aside. */
    const double iters[4] = {10, 13, NAN, 12};
    hf_value out[32];
    assert_int_equal(hf_model_xgboost.refit_params(v, iters, 4, out), HF_OK);
    assert_int_equal(out[hf_model_param_index(&hf_model_xgboost, "n_estimators")].u.i, 12);
    const double none[2] = {NAN, NAN};
    assert_true(hf_model_xgboost.refit_params(v, none, 2, out) < 0);
    hf_error_clear();
    hf_fitted_free(kept);
    clear(&hf_model_xgboost, v);
    clear(&hf_model_xgboost, w);
    free(d);
}

/* save_state writes the booster as a JSON blob; a model rebuilt from the blob alone predicts
 * bitwise the same; the blob accessors; a damaged or missing blob is an error, not a crash. */
static void test_blob_roundtrip(void **state)
{
    (void)state;
    data *d = make();
    const hf_model_ops *models[2] = {&hf_model_xgboost, &hf_model_random_forest};
    for (int k = 0; k < 2; k++) {
        const hf_model_ops *ops = models[k];
        hf_fit_data fd = {.X = d->X, .n = N, .p = P, .y = d->c, .n_classes = 3};
        hf_value v[32];
        defaults(ops, v);
        set_num(ops, v, "n_estimators", 8);
        set_num(ops, v, "n_jobs", 1);
        const hf_value *pv = v;
        hf_fitted *m = NULL;
        assert_int_equal(ops->fit(&fd, &pv, 1, &m), HF_OK);
        assert_int_equal(m->n_blobs, 0);
        assert_int_equal(ops->save_state(m), HF_OK);
        const hf_blob *b = hf_fitted_blob(m, "booster");
        assert_non_null(b);
        assert_string_equal(b->format, "json");
        assert_true(b->len > 100 && b->data[0] == '{');
        assert_null(hf_fitted_blob(m, "other"));

        hf_fitted *r = hf_fitted_new(ops, P, 3, 0);
        assert_non_null(r);
        assert_int_equal(hf_fitted_add_blob(r, b->name, b->format, b->data, b->len), HF_OK);
        assert_int_equal(ops->load_state(r), HF_OK);
        double a[NV * 3], c[NV * 3];
        predict(m, d->Xv, NV, a);
        predict(r, d->Xv, NV, c);
        assert_memory_equal(a, c, sizeof a);
        for (size_t i = 0; i < NV; i++) /* probabilities */
            assert_true(fabs(a[3 * i] + a[3 * i + 1] + a[3 * i + 2] - 1.0) < 1e-6);
        hf_fitted_free(r);

        /* Damaged: cut in half. Missing: no blob. Wrong width: 3 features, not 4. */
        r = hf_fitted_new(ops, P, 3, 0);
        assert_int_equal(hf_fitted_add_blob(r, "booster", "json", b->data, b->len / 2), HF_OK);
        assert_int_equal(ops->load_state(r), HF_EDATA);
        hf_error_clear();
        hf_fitted_free(r);
        r = hf_fitted_new(ops, P, 3, 0);
        assert_int_equal(ops->load_state(r), HF_EDATA);
        hf_error_clear();
        hf_fitted_free(r);
        r = hf_fitted_new(ops, P - 1, 3, 0);
        assert_int_equal(hf_fitted_add_blob(r, "booster", "json", b->data, b->len), HF_OK);
        assert_int_equal(ops->load_state(r), HF_EDATA);
        hf_error_clear();
        hf_fitted_free(r);
        /* Zeroed (a never-written dataset read as its fill value): libxgboost would take it for
         * UBJSON and allocate by its garbage lengths; and a tree that counts more nodes than it
         * holds. Both refused before libxgboost reads them. */
        unsigned char *bad = calloc(b->len, 1);
        r = hf_fitted_new(ops, P, 3, 0);
        assert_int_equal(hf_fitted_add_blob(r, "booster", "json", bad, b->len), HF_OK);
        assert_int_equal(ops->load_state(r), HF_EDATA);
        hf_error_clear();
        hf_fitted_free(r);
        memcpy(bad, b->data, b->len);
        char *nn = strstr((char *)bad, "\"num_nodes\":\"");
        assert_non_null(nn);
        nn[13] = '9'; /* the first tree's count, now not its arrays' length */
        r = hf_fitted_new(ops, P, 3, 0);
        assert_int_equal(hf_fitted_add_blob(r, "booster", "json", bad, b->len), HF_OK);
        assert_int_equal(ops->load_state(r), HF_EDATA);
        hf_error_clear();
        hf_fitted_free(r);
        /* A tree whose root is its own left child (prediction looped forever: fuzz_model_h5),
         * and a root that splits on feature 9 of 4: refused. */
        static const char *const edits[][2] = {{"\"left_children\":[", "0"},
                                               {"\"split_indices\":[", "9"}};
        for (size_t e = 0; e < 2; e++) {
            memcpy(bad, b->data, b->len);
            char *at = strstr((char *)bad, edits[e][0]);
            assert_non_null(at);
            at += strlen(edits[e][0]);
            assert_true(at[0] >= '0' && at[0] <= '9' && (at[1] == ',' || at[1] == ']'));
            at[0] = edits[e][1][0];
            r = hf_fitted_new(ops, P, 3, 0);
            assert_int_equal(hf_fitted_add_blob(r, "booster", "json", bad, b->len), HF_OK);
            assert_int_equal(ops->load_state(r), HF_EDATA);
            assert_non_null(strstr(hf_error_message(), "are trees"));
            hf_error_clear();
            hf_fitted_free(r);
        }
        free(bad);

        hf_fitted_free(m);
        clear(ops, v);
    }
    free(d);
}

/* Native categorical features (hf_fit_data.categorical): the last column holds codes 0..9 of a
 * level whose effect is not monotone in the code (NaN: missing). Both models make categorical
 * splits on it (their JSON has split_type 1), carry the flags as the array "categorical", and
 * predict other than on the same column taken as numeric; the saved booster, loaded with the
 * flags, predicts the same; loaded without them (a categorical split on a numeric feature) or
 * with a category out of range, it is refused before libxgboost reads it. */
static void test_categorical(void **state)
{
    (void)state;
    static const double effect[10] = {2, -1, 3, 0, -2, 1, 2.5, -1.5, 0.5, -3};
    double *X = calloc(N * P, sizeof *X), *y = calloc(N, sizeof *y);
    assert_non_null(X);
    assert_non_null(y);
    hf_rng r;
    hf_rng_init(&r, 11, 1, 2);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = 0; j + 1 < P; j++)
            X[i * P + j] = hf_rng_uniform(&r) * 2.0 - 1.0;
        double code = floor(hf_rng_uniform(&r) * 10.0);
        X[i * P + P - 1] = hf_rng_uniform(&r) < 0.05 ? NAN : code;
        y[i] = (isnan(X[i * P + P - 1]) ? 0.0 : effect[(int)code]) + X[i * P];
    }
    const unsigned char flags[P] = {0, 0, 0, 1};
    const hf_model_ops *models[2] = {&hf_model_xgboost, &hf_model_random_forest};
    for (int k = 0; k < 2; k++) {
        const hf_model_ops *ops = models[k];
        assert_int_equal(ops->native_categorical, 1);
        hf_fit_data fd = {.X = X, .n = N, .p = P, .y = y, .categorical = flags};
        hf_value v[32];
        defaults(ops, v);
        set_num(ops, v, "n_estimators", 5);
        set_num(ops, v, "n_jobs", 1);
        set_num(ops, v, "max_depth", 2);
        set_num(ops, v, "max_cat_to_onehot", 1); /* partition splits */
        const hf_value *pv = v;
        hf_fitted *m = NULL, *plain = NULL;
        assert_int_equal(ops->fit(&fd, &pv, 1, &m), HF_OK);
        const hf_array *a = hf_fitted_get(m, "categorical");
        assert_non_null(a);
        assert_int_equal(a->rows * a->cols, P);
        assert_true(a->data[3] == 1.0 && a->data[0] == 0.0);
        fd.categorical = NULL;
        assert_int_equal(ops->fit(&fd, &pv, 1, &plain), HF_OK);
        assert_null(hf_fitted_get(plain, "categorical"));
        double pa[N], pb[N], pc[N];
        predict(m, X, N, pa);
        predict(plain, X, N, pb);
        assert_true(memcmp(pa, pb, sizeof pa) != 0);
        assert_int_equal(ops->save_state(m), HF_OK);
        const hf_blob *b = hf_fitted_blob(m, "booster");
        assert_non_null(strstr((const char *)b->data, "\"split_type\":[1"));

        hf_fitted *re = hf_fitted_new(ops, P, 1, 1);
        memcpy(hf_fitted_array(re, 0, "categorical", 1, P), a->data, P * sizeof(double));
        assert_int_equal(hf_fitted_add_blob(re, b->name, b->format, b->data, b->len), HF_OK);
        assert_int_equal(ops->load_state(re), HF_OK);
        predict(re, X, N, pc);
        assert_memory_equal(pa, pc, sizeof pa);
        hf_fitted_free(re);

        re = hf_fitted_new(ops, P, 1, 0); /* no flags: the categorical splits are refused */
        assert_int_equal(hf_fitted_add_blob(re, b->name, b->format, b->data, b->len), HF_OK);
        assert_int_equal(ops->load_state(re), HF_EDATA);
        assert_non_null(strstr(hf_error_message(), "are trees"));
        hf_error_clear();
        hf_fitted_free(re);

        char *bad = malloc(b->len + 16);
        const char *at = strstr((const char *)b->data, "\"categories\":[");
        assert_non_null(at);
        size_t head = (size_t)(at - (const char *)b->data) + strlen("\"categories\":[");
        memcpy(bad, b->data, head);
        memcpy(bad + head, "99999999,", 9); /* a category past 2^24 */
        memcpy(bad + head + 9, b->data + head, b->len - head);
        re = hf_fitted_new(ops, P, 1, 1);
        memcpy(hf_fitted_array(re, 0, "categorical", 1, P), a->data, P * sizeof(double));
        assert_int_equal(hf_fitted_add_blob(re, "booster", "json", bad, b->len + 9), HF_OK);
        assert_int_equal(ops->load_state(re), HF_EDATA);
        hf_error_clear();
        hf_fitted_free(re);
        free(bad);
        hf_fitted_free(m);
        hf_fitted_free(plain);
        clear(ops, v);
    }
    free(X);
    free(y);
}

/* check_params: a regression objective on a classification task, scale_pos_weight on a
 * regression task; the same values pass while the task is unknown. */
static void test_check_params(void **state)
{
    (void)state;
    hf_value v[32];
    const char *key = NULL;
    defaults(&hf_model_xgboost, v);
    assert_int_equal(hf_model_xgboost.check_params(v, HF_TASK_CLASSIFICATION, &key), HF_OK);
    long o = hf_model_param_index(&hf_model_xgboost, "objective");
    hf_value_free(&v[o]);
    v[o].type = HF_VAL_STRING;
    v[o].u.str = hf_strdup("reg:absoluteerror");
    assert_int_equal(hf_model_xgboost.check_params(v, HF_TASK_AUTO, &key), HF_OK);
    assert_int_equal(hf_model_xgboost.check_params(v, HF_TASK_REGRESSION, &key), HF_OK);
    assert_int_equal(hf_model_xgboost.check_params(v, HF_TASK_CLASSIFICATION, &key), HF_EINVAL);
    assert_string_equal(key, "objective");
    assert_non_null(strstr(hf_error_message(), "reg:absoluteerror"));
    hf_error_clear();
    clear(&hf_model_xgboost, v);
    defaults(&hf_model_xgboost, v);
    set_num(&hf_model_xgboost, v, "scale_pos_weight", 3);
    assert_int_equal(hf_model_xgboost.check_params(v, HF_TASK_CLASSIFICATION, &key), HF_OK);
    assert_int_equal(hf_model_xgboost.check_params(v, HF_TASK_REGRESSION, &key), HF_EINVAL);
    assert_string_equal(key, "scale_pos_weight");
    hf_error_clear();
    clear(&hf_model_xgboost, v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_prefix),   cmocka_unit_test(test_matrix_cache),
        cmocka_unit_test(test_early_stopping), cmocka_unit_test(test_blob_roundtrip),
        cmocka_unit_test(test_check_params),   cmocka_unit_test(test_categorical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
