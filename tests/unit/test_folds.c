/* test_folds.c - the guarantees of each cross-validation splitter (worker/folds.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "worker/folds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A dataset of n rows with one numeric feature (the row index) and the given targets. */
static hf_dataset *make_data(size_t n, const double *y, size_t n_classes)
{
    hf_dataset *d = calloc(1, sizeof *d);
    hf_schema *s = calloc(1, sizeof *s);
    assert_non_null(d);
    assert_non_null(s);
    s->n_features = 1;
    s->features = calloc(1, sizeof *s->features);
    s->features[0].name = strdup("x");
    s->target = strdup("y");
    s->task = n_classes ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION;
    if (n_classes) {
        s->n_classes = n_classes;
        s->classes = calloc(n_classes, sizeof *s->classes);
        for (size_t c = 0; c < n_classes; c++) {
            char name[2] = {(char)('a' + c), 0};
            s->classes[c] = strdup(name);
        }
    }
    d->schema = s;
    d->n_rows = n;
    d->X = calloc(n, sizeof *d->X);
    d->y = calloc(n, sizeof *d->y);
    d->row = calloc(n, sizeof *d->row);
    for (size_t i = 0; i < n; i++) {
        d->X[i] = (double)i;
        d->y[i] = y ? y[i] : (double)i * 0.5;
        d->row[i] = (int64_t)i;
    }
    return d;
}

/* Where the test's keys "were": cv.folds at 7:10, everything else a default. */
static const char *test_where(const void *arg, const char *key, char *buf, size_t len)
{
    (void)arg;
    snprintf(buf, len, "%s", key && !strcmp(key, "cv.folds") ? "job.yaml:7:10" : "job.yaml");
    return buf;
}

static void init_spec(hf_cv_opts *spec, int folds)
{
    hf_cv_opts_init(spec);
    spec->folds = folds;
    spec->seed = 42;
    spec->src.where = test_where;
}

static int is_ascending(const int64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] <= v[i - 1])
            return 0;
    return 1;
}

/* Every split covers all search rows exactly once (train or valid), both lists ascending, and over
 * the folds of each repeat every search row is validated exactly once. */
static void check_partition(const hf_folds *f, size_t n_rows, int folds, int repeats)
{
    assert_int_equal(f->n_splits, (size_t)folds * (size_t)repeats);
    int *seen = calloc(n_rows, sizeof *seen);
    int *in_search = calloc(n_rows, sizeof *in_search);
    for (size_t i = 0; i < f->n_search; i++)
        in_search[f->search_rows[i]] = 1;
    for (int r = 0; r < repeats; r++) {
        memset(seen, 0, n_rows * sizeof *seen);
        for (int k = 0; k < folds; k++) {
            const hf_split *s = &f->splits[r * folds + k];
            assert_int_equal(s->repeat, r);
            assert_int_equal(s->fold, k);
            assert_int_equal(s->n_train + s->n_valid, f->n_search);
            assert_true(is_ascending(s->train, s->n_train));
            assert_true(is_ascending(s->valid, s->n_valid));
            int *mark = calloc(n_rows, sizeof *mark);
            for (size_t i = 0; i < s->n_train; i++)
                mark[s->train[i]]++;
            for (size_t i = 0; i < s->n_valid; i++) {
                mark[s->valid[i]]++;
                seen[s->valid[i]]++;
            }
            for (size_t i = 0; i < n_rows; i++)
                assert_int_equal(mark[i], in_search[i]);
            free(mark);
        }
        for (size_t i = 0; i < n_rows; i++)
            assert_int_equal(seen[i], in_search[i]);
    }
    free(seen);
    free(in_search);
}

static void test_kfold_sizes_and_partition(void **state)
{
    (void)state;
    hf_dataset *d = make_data(23, NULL, 0);
    hf_cv_opts spec;
    init_spec(&spec, 5);
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    assert_int_equal(f->strategy, HF_CV_KFOLD);
    assert_int_equal(f->n_search, 23);
    assert_null(f->holdout);
    check_partition(f, 23, 5, 1);
    /* sklearn's KFold sizes: the first n % k folds get one extra row. */
    size_t expect[5] = {5, 5, 5, 4, 4};
    for (int k = 0; k < 5; k++)
        assert_int_equal(f->splits[k].n_valid, expect[k]);
    /* Shuffled: the validation rows of fold 0 are not simply the first rows. */
    int contiguous = 1;
    for (size_t i = 0; i < f->splits[0].n_valid; i++)
        if (f->splits[0].valid[i] != (int64_t)i)
            contiguous = 0;
    assert_false(contiguous);
    hf_folds_free(f);
    hf_dataset_free(d);
}

static int same_folds(const hf_folds *a, const hf_folds *b)
{
    if (a->n_splits != b->n_splits)
        return 0;
    for (size_t k = 0; k < a->n_splits; k++) {
        if (a->splits[k].n_valid != b->splits[k].n_valid)
            return 0;
        if (memcmp(a->splits[k].valid, b->splits[k].valid,
                   a->splits[k].n_valid * sizeof(int64_t)) != 0)
            return 0;
    }
    return 1;
}

static void test_kfold_determinism_and_seed(void **state)
{
    (void)state;
    hf_dataset *d = make_data(50, NULL, 0);
    hf_cv_opts spec;
    init_spec(&spec, 4);
    hf_folds *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &a), 0);
    assert_int_equal(hf_folds_make(&spec, d, &b), 0);
    spec.seed = 43;
    assert_int_equal(hf_folds_make(&spec, d, &c), 0);
    assert_true(same_folds(a, b));
    assert_false(same_folds(a, c));
    hf_folds_free(a);
    hf_folds_free(b);
    hf_folds_free(c);
    hf_dataset_free(d);
}

static void test_kfold_repeats(void **state)
{
    (void)state;
    hf_dataset *d = make_data(30, NULL, 0);
    hf_cv_opts spec;
    init_spec(&spec, 3);
    spec.repeats = 3;
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    check_partition(f, 30, 3, 3);
    /* Repeats use different shuffles. */
    int differ = 0;
    for (int r = 1; r < 3; r++)
        if (memcmp(f->splits[0].valid, f->splits[r * 3].valid, 10 * sizeof(int64_t)) != 0)
            differ++;
    assert_int_equal(differ, 2);
    hf_folds_free(f);
    hf_dataset_free(d);
}

/* Classes a: 20 rows, b: 7, c: 13, in a shuffled order. */
static double *three_classes(size_t *n)
{
    *n = 40;
    int64_t idx[40];
    for (int i = 0; i < 40; i++)
        idx[i] = i < 20 ? 0 : i < 27 ? 1 : 2;
    hf_rng rng;
    hf_rng_init(&rng, 99, 1, 2);
    hf_rng_shuffle_i64(&rng, idx, 40);
    double *y = malloc(40 * sizeof *y);
    for (int i = 0; i < 40; i++)
        y[i] = (double)idx[i];
    return y;
}

static void test_stratified_proportions(void **state)
{
    (void)state;
    size_t n;
    double *y = three_classes(&n);
    size_t total[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        total[(int)y[i]]++;
    hf_dataset *d = make_data(n, y, 3);
    hf_cv_opts spec;
    init_spec(&spec, 4);
    spec.repeats = 2;
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    /* Classification and no strategy named: stratified is the default. */
    assert_int_equal(f->strategy, HF_CV_STRATIFIED);
    check_partition(f, n, 4, 2);
    for (size_t k = 0; k < f->n_splits; k++) {
        size_t cnt[3] = {0, 0, 0};
        for (size_t i = 0; i < f->splits[k].n_valid; i++)
            cnt[(int)y[f->splits[k].valid[i]]]++;
        for (int c = 0; c < 3; c++) {
            /* Within one row of the class's exact share. */
            double share = (double)total[c] / 4.0;
            assert_true(fabs((double)cnt[c] - share) < 1.0);
        }
    }
    hf_folds_free(f);
    /* A named kfold strategy is honoured for classification. */
    spec.strategy = HF_CV_KFOLD;
    spec.repeats = 1;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    assert_int_equal(f->strategy, HF_CV_KFOLD);
    hf_folds_free(f);
    hf_dataset_free(d);
    free(y);
}

static void test_stratified_errors(void **state)
{
    (void)state;
    double y[12] = {0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0};
    hf_dataset *d = make_data(12, y, 2);
    hf_cv_opts spec;
    init_spec(&spec, 4);
    hf_folds *f = NULL;
    hf_error_clear();
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_null(f);
    const char *msg = hf_error_message();
    assert_non_null(strstr(msg, "job.yaml:7:10: cv.folds: got 4, expected at most 3"));
    assert_non_null(strstr(msg, "the smallest class, \"b\", has 3 rows"));
    hf_error_clear();
    /* Stratified on a regression target is refused. */
    hf_dataset *r = make_data(12, NULL, 0);
    spec.strategy = HF_CV_STRATIFIED;
    spec.folds = 3;
    assert_int_equal(hf_folds_make(&spec, r, &f), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.strategy: got \"stratified\""));
    hf_error_clear();
    hf_dataset_free(d);
    hf_dataset_free(r);
}

static void test_group(void **state)
{
    (void)state;
    /* Groups A..E of sizes 5, 4, 3, 2, 1 (codes 10..14), rows interleaved. */
    int64_t sizes[5] = {5, 4, 3, 2, 1};
    size_t n = 15;
    hf_dataset *d = make_data(n, NULL, 0);
    d->group = malloc(n * sizeof *d->group);
    int64_t left[5];
    memcpy(left, sizes, sizeof left);
    for (size_t i = 0; i < n;)
        for (int g = 0; g < 5; g++)
            if (left[g] > 0) {
                d->group[i++] = 10 + g;
                left[g]--;
            }
    hf_cv_opts spec;
    init_spec(&spec, 2);
    spec.strategy = HF_CV_GROUP;
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    check_partition(f, n, 2, 1);
    /* GroupKFold: largest group first into the lightest fold (lowest index on ties):
     * A(5)->0, B(4)->1, C(3)->1, D(2)->0, E(1)->0 (tie 7/7) => fold 0 = {A, D, E}. */
    int want_fold[5] = {0, 1, 1, 0, 0};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < f->splits[k].n_valid; i++) {
            int g = (int)(d->group[f->splits[k].valid[i]] - 10);
            assert_int_equal(want_fold[g], k);
        }
    assert_int_equal(f->splits[0].n_valid, 8);
    assert_int_equal(f->splits[1].n_valid, 7);
    hf_folds_free(f);

    /* More folds than groups. */
    spec.folds = 6;
    hf_error_clear();
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.folds: got 6, expected at most 5"));
    hf_error_clear();
    /* Repeats do not apply to group splits. */
    spec.folds = 2;
    spec.repeats = 2;
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.repeats: got 2, expected 1"));
    hf_error_clear();
    hf_dataset_free(d);
}

static void test_group_no_group_in_two_folds(void **state)
{
    (void)state;
    size_t n = 200;
    hf_dataset *d = make_data(n, NULL, 0);
    d->group = malloc(n * sizeof *d->group);
    hf_rng rng;
    hf_rng_init(&rng, 5, 0, 0);
    for (size_t i = 0; i < n; i++)
        d->group[i] = (int64_t)hf_rng_below(&rng, 23) * 3 - 20;
    hf_cv_opts spec;
    init_spec(&spec, 5);
    spec.strategy = HF_CV_GROUP;
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    check_partition(f, n, 5, 1);
    for (int k = 0; k < 5; k++)
        for (size_t i = 0; i < f->splits[k].n_valid; i++)
            for (size_t t = 0; t < f->splits[k].n_train; t++)
                assert_true(d->group[f->splits[k].valid[i]] != d->group[f->splits[k].train[t]]);
    hf_folds_free(f);
    hf_dataset_free(d);
}

static void check_predefined(const int64_t *fold, const int64_t *values)
{
    hf_dataset *d = make_data(9, NULL, 0);
    d->fold = malloc(9 * sizeof *d->fold);
    memcpy(d->fold, fold, 9 * sizeof *d->fold);
    hf_cv_opts spec;
    init_spec(&spec, 5); /* cv.folds is not used: the fold column decides */
    spec.strategy = HF_CV_PREDEFINED;
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    assert_int_equal(f->n_splits, 3);
    for (int k = 0; k < 3; k++) {
        const hf_split *s = &f->splits[k];
        assert_int_equal(s->n_train + s->n_valid, 9);
        for (size_t i = 0; i < s->n_valid; i++)
            assert_int_equal(fold[s->valid[i]], values[k]);
        for (size_t i = 0; i < s->n_train; i++)
            assert_true(fold[s->train[i]] != values[k]);
        /* The negative row (index 5) always trains. */
        int has5 = 0;
        for (size_t i = 0; i < s->n_train; i++)
            has5 |= s->train[i] == 5;
        assert_true(has5);
    }
    assert_int_equal(f->splits[0].n_valid, 3);
    assert_int_equal(f->splits[2].n_valid, 2);
    hf_folds_free(f);
    /* A single fold value cannot make a split. */
    for (int i = 0; i < 9; i++)
        d->fold[i] = 4;
    hf_error_clear();
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.fold_column"));
    hf_error_clear();
    hf_dataset_free(d);
}

static void test_predefined(void **state)
{
    (void)state;
    /* Fold values in a narrow range (counted) and in a wide one (sorted): splits in the order of
     * the sorted fold values either way. */
    const int64_t narrow[9] = {3, 1, 1, 7, 3, -1, 7, 1, 3}, narrow_values[3] = {1, 3, 7};
    const int64_t wide[9] = {3, 1, 1, 7000000000, 3, -9000000000, 7000000000, 1, 3},
                  wide_values[3] = {1, 3, 7000000000};
    check_predefined(narrow, narrow_values);
    check_predefined(wide, wide_values);
}

static void test_timeseries(void **state)
{
    (void)state;
    size_t n = 22;
    hf_dataset *d = make_data(n, NULL, 0);
    d->order = malloc(n * sizeof *d->order);
    /* Keys in scrambled row order, with ties (i / 2) around the fold boundaries. */
    for (size_t i = 0; i < n; i++)
        d->order[i] = (double)(((i * 7) % n) / 2);
    hf_cv_opts spec;
    init_spec(&spec, 3);
    spec.strategy = HF_CV_TIMESERIES;
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    assert_int_equal(f->n_splits, 3);
    size_t ts = n / 4; /* TimeSeriesSplit test_size = n // (n_splits + 1) */
    for (int k = 0; k < 3; k++) {
        const hf_split *s = &f->splits[k];
        assert_int_equal(s->n_valid, ts);
        assert_true(is_ascending(s->train, s->n_train));
        assert_true(is_ascending(s->valid, s->n_valid));
        double max_train = -INFINITY, min_valid = INFINITY;
        for (size_t i = 0; i < s->n_train; i++)
            max_train = fmax(max_train, d->order[s->train[i]]);
        for (size_t i = 0; i < s->n_valid; i++)
            min_valid = fmin(min_valid, d->order[s->valid[i]]);
        assert_true(max_train < min_valid);
        /* Expanding window: every row with an earlier key than the validation trains. */
        size_t earlier = 0;
        for (size_t i = 0; i < n; i++)
            earlier += d->order[i] < min_valid;
        assert_int_equal(s->n_train, earlier);
        if (k > 0)
            assert_true(s->n_train > f->splits[k - 1].n_train);
    }
    /* The last fold validates the ts rows with the latest keys. */
    double min_last = INFINITY;
    for (size_t i = 0; i < ts; i++)
        min_last = fmin(min_last, d->order[f->splits[2].valid[i]]);
    size_t later = 0;
    for (size_t i = 0; i < n; i++)
        later += d->order[i] > min_last;
    assert_true(later < ts);
    hf_folds_free(f);
    /* Too many folds for the rows. */
    spec.folds = 22;
    hf_error_clear();
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.folds: got 22, expected at most 21"));
    hf_error_clear();
    hf_dataset_free(d);
}

static void test_holdout(void **state)
{
    (void)state;
    size_t n;
    double *y = three_classes(&n);
    hf_dataset *d = make_data(n, y, 3);
    hf_cv_opts spec;
    init_spec(&spec, 3);
    spec.holdout = 0.25;
    hf_folds *f = NULL, *g = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    assert_int_equal(f->n_holdout, 10);
    assert_int_equal(f->n_search, 30);
    assert_true(is_ascending(f->holdout, f->n_holdout));
    assert_true(is_ascending(f->search_rows, f->n_search));
    check_partition(f, n, 3, 1);
    int *mark = calloc(n, sizeof *mark);
    for (size_t i = 0; i < f->n_holdout; i++)
        mark[f->holdout[i]]++;
    for (size_t i = 0; i < f->n_search; i++)
        mark[f->search_rows[i]]++;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mark[i], 1);
    /* No holdout row in any split. */
    for (size_t k = 0; k < f->n_splits; k++) {
        for (size_t i = 0; i < f->splits[k].n_train; i++)
            assert_true(mark[f->splits[k].train[i]] == 1);
        for (size_t h = 0; h < f->n_holdout; h++) {
            for (size_t i = 0; i < f->splits[k].n_train; i++)
                assert_true(f->splits[k].train[i] != f->holdout[h]);
            for (size_t i = 0; i < f->splits[k].n_valid; i++)
                assert_true(f->splits[k].valid[i] != f->holdout[h]);
        }
    }
    /* Stratified holdout: classes 20/7/13 of 40, 10 held out -> 5, 1.75 -> 2, 3.25 -> 3. */
    size_t cnt[3] = {0, 0, 0};
    for (size_t i = 0; i < f->n_holdout; i++)
        cnt[(int)y[f->holdout[i]]]++;
    assert_int_equal(cnt[0], 5);
    assert_int_equal(cnt[1], 2);
    assert_int_equal(cnt[2], 3);
    /* A different seed draws a different holdout. */
    spec.seed = 7;
    assert_int_equal(hf_folds_make(&spec, d, &g), 0);
    assert_int_equal(g->n_holdout, 10);
    assert_true(memcmp(f->holdout, g->holdout, 10 * sizeof(int64_t)) != 0);
    hf_folds_free(f);
    hf_folds_free(g);
    free(mark);
    /* A holdout that leaves nothing. */
    spec.holdout = 0.999;
    hf_error_clear();
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.holdout: got 0.999"));
    hf_error_clear();
    hf_dataset_free(d);
    free(y);
}

static void test_timeseries_holdout_is_latest(void **state)
{
    (void)state;
    size_t n = 30;
    hf_dataset *d = make_data(n, NULL, 0);
    d->order = malloc(n * sizeof *d->order);
    for (size_t i = 0; i < n; i++)
        d->order[i] = (double)((i * 11) % n);
    hf_cv_opts spec;
    init_spec(&spec, 3);
    spec.strategy = HF_CV_TIMESERIES;
    spec.holdout = 0.2;
    hf_folds *f = NULL;
    assert_int_equal(hf_folds_make(&spec, d, &f), 0);
    assert_int_equal(f->n_holdout, 6);
    for (size_t h = 0; h < f->n_holdout; h++)
        assert_true(d->order[f->holdout[h]] >= 24.0);
    hf_folds_free(f);
    hf_dataset_free(d);
}

static void test_kfold_errors(void **state)
{
    (void)state;
    hf_dataset *d = make_data(4, NULL, 0);
    hf_cv_opts spec;
    init_spec(&spec, 5);
    hf_folds *f = NULL;
    hf_error_clear();
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_non_null(
        strstr(hf_error_message(), "job.yaml:7:10: cv.folds: got 5, expected at most 4"));
    hf_error_clear();
    spec.folds = 1;
    assert_int_equal(hf_folds_make(&spec, d, &f), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.folds: got 1, expected at least 2"));
    hf_error_clear();
    hf_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kfold_sizes_and_partition),
        cmocka_unit_test(test_kfold_determinism_and_seed),
        cmocka_unit_test(test_kfold_repeats),
        cmocka_unit_test(test_stratified_proportions),
        cmocka_unit_test(test_stratified_errors),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_group_no_group_in_two_folds),
        cmocka_unit_test(test_predefined),
        cmocka_unit_test(test_timeseries),
        cmocka_unit_test(test_holdout),
        cmocka_unit_test(test_timeseries_holdout_is_latest),
        cmocka_unit_test(test_kfold_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
