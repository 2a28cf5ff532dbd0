/* test_preprocess.c - the in-fold preprocessing pipeline (worker/preprocess.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "common/stats.h"
#include "worker/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* A schema from a list of column types; categorical columns get the categories given. */
static hf_schema *make_schema(size_t p, const hf_col_type *types, const char *const *names,
                              const char *const *cats, size_t n_cats)
{
    hf_schema *s = calloc(1, sizeof *s);
    s->n_features = p;
    s->features = calloc(p, sizeof *s->features);
    for (size_t j = 0; j < p; j++) {
        s->features[j].name = strdup(names[j]);
        s->features[j].type = types[j];
        if (types[j] == HF_COL_CATEGORICAL) {
            s->features[j].n_categories = n_cats;
            s->features[j].categories = calloc(n_cats, sizeof(char *));
            for (size_t c = 0; c < n_cats; c++)
                s->features[j].categories[c] = strdup(cats[c]);
        } else if (types[j] == HF_COL_BOOLEAN) {
            s->features[j].n_categories = 2;
            s->features[j].categories = calloc(2, sizeof(char *));
            s->features[j].categories[0] = strdup("false");
            s->features[j].categories[1] = strdup("true");
        }
    }
    s->target = strdup("y");
    s->task = HF_TASK_REGRESSION;
    return s;
}

static int find_output(const hf_prep *p, const char *name)
{
    const char *const *names = hf_prep_output_names(p);
    for (size_t i = 0; i < hf_prep_n_outputs(p); i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

static void test_identity_copy(void **state)
{
    (void)state;
    const hf_col_type types[3] = {HF_COL_NUMERIC, HF_COL_NUMERIC, HF_COL_NUMERIC};
    const char *const names[3] = {"a", "b", "c"};
    hf_schema *s = make_schema(3, types, names, NULL, 0);
    size_t n = 50;
    double *X = malloc(n * 3 * sizeof *X);
    hf_rng rng;
    hf_rng_init(&rng, 1, 2, 3);
    for (size_t i = 0; i < n * 3; i++)
        X[i] = (hf_rng_uniform(&rng) - 0.5) * 1e3 / 3.0;
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    hf_prep *p = NULL;
    int64_t rows[25];
    for (int i = 0; i < 25; i++)
        rows[i] = 2 * i;
    assert_int_equal(hf_prep_fit(&cfg, s, X, rows, 25, NULL, &p), 0);
    assert_int_equal(hf_prep_n_outputs(p), 3);
    assert_string_equal(hf_prep_output_names(p)[1], "b");
    double *out = malloc(n * 3 * sizeof *out);
    assert_int_equal(hf_prep_transform(p, X, NULL, n, out), 0);
    assert_memory_equal(out, X, n * 3 * sizeof *X);
    hf_prep_free(p);
    free(out);
    free(X);
    hf_schema_free(s);
}

static void test_numeric_imputation(void **state)
{
    (void)state;
    const hf_col_type types[1] = {HF_COL_NUMERIC};
    const char *const names[1] = {"v"};
    hf_schema *s = make_schema(1, types, names, NULL, 0);
    double X[8] = {1, NAN, 3, 3, 10, NAN, 2, NAN};
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    hf_prep *p = NULL;
    double out[8], imp, cen, sca;

    /* mean of 1, 3, 3, 10, 2 */
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), 0);
    assert_int_equal(hf_prep_feature_stats(p, 0, &imp, &cen, &sca), 0);
    assert_true(fabs(imp - 19.0 / 5.0) < 1e-15);
    assert_int_equal(hf_prep_transform(p, X, NULL, 8, out), 0);
    assert_true(fabs(out[1] - 3.8) < 1e-15 && out[0] == 1.0 && out[4] == 10.0);
    hf_prep_free(p);

    /* median of 1, 2, 3, 3, 10 is 3; of 1, 3, 10, 2 (rows 0, 2, 4, 6 ... minus one 3) is 2.5 */
    cfg.impute_numeric = HF_IMPUTE_MEDIAN;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), 0);
    hf_prep_feature_stats(p, 0, &imp, &cen, &sca);
    assert_true(imp == 3.0);
    hf_prep_free(p);
    int64_t even_rows[5] = {0, 1, 2, 4, 6};
    assert_int_equal(hf_prep_fit(&cfg, s, X, even_rows, 5, NULL, &p), 0);
    hf_prep_feature_stats(p, 0, &imp, &cen, &sca);
    assert_true(imp == 2.5);
    hf_prep_free(p);

    /* most_frequent: 3 appears twice */
    cfg.impute_numeric = HF_IMPUTE_MOST_FREQUENT;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), 0);
    hf_prep_feature_stats(p, 0, &imp, &cen, &sca);
    assert_true(imp == 3.0);
    hf_prep_free(p);
    /* ties -> the smallest value: 1, 10, 2 each once among rows 0, 4, 6 */
    int64_t tie_rows[4] = {4, 6, 0, 5};
    assert_int_equal(hf_prep_fit(&cfg, s, X, tie_rows, 4, NULL, &p), 0);
    hf_prep_feature_stats(p, 0, &imp, &cen, &sca);
    assert_true(imp == 1.0);
    hf_prep_free(p);

    /* constant: fill_value, default 0 */
    cfg.impute_numeric = HF_IMPUTE_CONSTANT;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), 0);
    hf_prep_transform(p, X, NULL, 8, out);
    assert_true(out[1] == 0.0 && out[7] == 0.0);
    hf_prep_free(p);
    cfg.fill_given = 1;
    cfg.fill_number = -4.5;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), 0);
    hf_prep_transform(p, X, NULL, 8, out);
    assert_true(out[1] == -4.5 && out[5] == -4.5 && out[2] == 3.0);
    hf_prep_free(p);
    hf_schema_free(s);
}

/* Independent population mean/std of a column after mean imputation. */
static void ref_standard(const double *X, size_t n, size_t p, size_t j, double *mean, double *sd)
{
    double sum = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(X[i * p + j])) {
            sum += X[i * p + j];
            m++;
        }
    double fill = sum / (double)m, mu = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        mu += isnan(X[i * p + j]) ? fill : X[i * p + j];
    mu /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = (isnan(X[i * p + j]) ? fill : X[i * p + j]) - mu;
        ss += d * d;
    }
    *mean = mu;
    *sd = sqrt(ss / (double)n);
}

static void test_scaling(void **state)
{
    (void)state;
    const hf_col_type types[3] = {HF_COL_NUMERIC, HF_COL_NUMERIC, HF_COL_BOOLEAN};
    const char *const names[3] = {"a", "const", "flag"};
    hf_schema *s = make_schema(3, types, names, NULL, 0);
    size_t n = 40;
    double *X = malloc(n * 3 * sizeof *X), *out = malloc(n * 3 * sizeof *out);
    hf_rng rng;
    hf_rng_init(&rng, 9, 0, 0);
    for (size_t i = 0; i < n; i++) {
        X[i * 3] = i % 7 == 3 ? NAN : 100.0 + 20.0 * hf_rng_uniform(&rng);
        X[i * 3 + 1] = 5.0;
        X[i * 3 + 2] = (double)(i % 3 == 0);
    }
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    cfg.scale = HF_SCALE_STANDARD;
    hf_prep *p = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, n, NULL, &p), 0);
    assert_int_equal(hf_prep_transform(p, X, NULL, n, out), 0);
    for (size_t j = 0; j < 3; j++) {
        double mu, sd;
        ref_standard(X, n, 3, j, &mu, &sd);
        if (sd == 0)
            sd = 1; /* a zero std scales by 1 */
        for (size_t i = 0; i < n; i++) {
            double x = isnan(X[i * 3 + j]) ? NAN : X[i * 3 + j];
            if (isnan(x))
                continue;
            assert_true(fabs(out[i * 3 + j] - (x - mu) / sd) < 1e-12);
        }
    }
    /* the constant column becomes 0 */
    assert_true(out[1] == 0.0 && out[3 * 17 + 1] == 0.0);
    hf_prep_free(p);

    cfg.scale = HF_SCALE_MINMAX;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, n, NULL, &p), 0);
    assert_int_equal(hf_prep_transform(p, X, NULL, n, out), 0);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (!isnan(X[i * 3])) {
            lo = fmin(lo, X[i * 3]);
            hi = fmax(hi, X[i * 3]);
        }
    for (size_t i = 0; i < n; i++) {
        if (!isnan(X[i * 3]))
            assert_true(fabs(out[i * 3] - (X[i * 3] - lo) / (hi - lo)) < 1e-12);
        assert_true(out[i * 3] >= -1e-15 && out[i * 3] <= 1 + 1e-15);
        assert_true(out[i * 3 + 1] == 0.0);
        assert_true(out[i * 3 + 2] == X[i * 3 + 2]); /* 0/1 with min 0, max 1 */
    }
    hf_prep_free(p);
    free(X);
    free(out);
    hf_schema_free(s);
}

static const char *const cities[5] = {"Berlin", "Lyon", "Oslo", "Paris", "Rome"};

static void test_onehot(void **state)
{
    (void)state;
    const hf_col_type types[2] = {HF_COL_NUMERIC, HF_COL_CATEGORICAL};
    const char *const names[2] = {"age", "city"};
    hf_schema *s = make_schema(2, types, names, cities, 5);
    /* Training rows 0..5 use Lyon(1) x2, Paris(3) x3, Rome(4) x1 and one missing city. */
    double X[] = {30, 1, 31, 3, 32, 3, 33, NAN, 34, 4, 35, 1, 36, 3,
                  /* validation: Berlin (unseen), unknown code -1, missing, Paris */
                  40, 0, 41, -1, 42, NAN, 43, 3};
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    hf_prep *p = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 7, NULL, &p), 0);
    assert_int_equal(hf_prep_n_outputs(p), 4);
    const char *const want[4] = {"age", "city=Lyon", "city=Paris", "city=Rome"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(hf_prep_output_names(p)[i], want[i]);
    double out[11 * 4];
    assert_int_equal(hf_prep_transform(p, X, NULL, 11, out), 0);
    const double expect[11][4] = {
        {30, 1, 0, 0}, {31, 0, 1, 0}, {32, 0, 1, 0}, {33, 0, 1, 0}, /* missing -> Paris */
        {34, 0, 0, 1}, {35, 1, 0, 0}, {36, 0, 1, 0}, {40, 0, 0, 0}, /* unseen -> zeros */
        {41, 0, 0, 0},                                              /* unknown -> zeros */
        {42, 0, 1, 0}, {43, 0, 1, 0}};
    for (int i = 0; i < 11; i++)
        for (int k = 0; k < 4; k++)
            assert_true(out[i * 4 + k] == expect[i][k]);
    hf_prep_free(p);

    /* min_frequency 2: Rome (1 row) is infrequent, and unseen/unknown codes join it. */
    cfg.min_frequency = 2;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 7, NULL, &p), 0);
    assert_int_equal(hf_prep_n_outputs(p), 4);
    const char *const want2[4] = {"age", "city=Lyon", "city=Paris", "city=infrequent"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(hf_prep_output_names(p)[i], want2[i]);
    assert_int_equal(hf_prep_transform(p, X, NULL, 11, out), 0);
    assert_true(out[4 * 4 + 3] == 1.0 && out[4 * 4 + 1] == 0.0); /* Rome */
    assert_true(out[7 * 4 + 3] == 1.0);                          /* Berlin (unseen) */
    assert_true(out[8 * 4 + 3] == 1.0);                          /* code -1 */
    assert_true(out[10 * 4 + 2] == 1.0 && out[10 * 4 + 3] == 0.0);
    hf_prep_free(p);

    /* constant categorical fill: "missing_value" becomes its own column in sorted position. */
    cfg.min_frequency = 0;
    cfg.impute_categorical = HF_IMPUTE_CONSTANT;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 7, NULL, &p), 0);
    const char *const want3[5] = {"age", "city=Lyon", "city=Paris", "city=Rome",
                                  "city=missing_value"};
    assert_int_equal(hf_prep_n_outputs(p), 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(hf_prep_output_names(p)[i], want3[i]);
    double out5[11 * 5];
    hf_prep_transform(p, X, NULL, 11, out5);
    assert_true(out5[3 * 5 + 4] == 1.0 && out5[3 * 5 + 2] == 0.0);
    assert_true(out5[9 * 5 + 4] == 1.0);
    hf_prep_free(p);
    /* a fill text that is a known category maps onto it */
    snprintf(cfg.fill_text, sizeof cfg.fill_text, "%s", "Oslo");
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 7, NULL, &p), 0);
    assert_int_equal(find_output(p, "city=Oslo"), 2);
    hf_prep_transform(p, X, NULL, 11, out5);
    assert_true(out5[3 * 5 + 2] == 1.0);
    hf_prep_free(p);
    hf_schema_free(s);
}

static void test_indicator_and_dropped(void **state)
{
    (void)state;
    const hf_col_type types[4] = {HF_COL_NUMERIC, HF_COL_NUMERIC, HF_COL_CATEGORICAL,
                                  HF_COL_NUMERIC};
    const char *const names[4] = {"age", "full", "city", "empty"};
    hf_schema *s = make_schema(4, types, names, cities, 5);
    double X[] = {1, 5, 1, NAN, NAN, 6, NAN, NAN, 3, 7, 3, NAN,
                  /* validation row: missing in "full" (never missing in training) */
                  NAN, NAN, 2, 8};
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    cfg.indicator = 1;
    hf_prep *p = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 3, NULL, &p), 0);
    /* "empty" is entirely missing in training: dropped (as SimpleImputer), but it keeps its
     * indicator. Layout: numeric, one-hot, indicators. */
    const char *const want[7] = {"age",          "full",          "city=Lyon",     "city=Paris",
                                 "missing(age)", "missing(city)", "missing(empty)"};
    assert_int_equal(hf_prep_n_outputs(p), 7);
    for (int i = 0; i < 7; i++)
        assert_string_equal(hf_prep_output_names(p)[i], want[i]);
    double out[4 * 7];
    assert_int_equal(hf_prep_transform(p, X, NULL, 4, out), 0);
    const double expect[4][7] = {{1, 5, 1, 0, 0, 0, 1},
                                 {2, 6, 1, 0, 1, 1, 1}, /* city missing -> Lyon (tie -> smallest) */
                                 {3, 7, 0, 1, 0, 0, 1},
                                 {2, 6, 0, 0, 1, 0, 0}}; /* Oslo unseen; "full" mean 6 */
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 7; k++)
            assert_true(out[i * 7 + k] == expect[i][k]);
    double imp, cen, sca;
    hf_prep_feature_stats(p, 3, &imp, &cen, &sca);
    assert_true(isnan(imp));
    hf_prep_free(p);
    hf_schema_free(s);
}

/* Statistics come from the training rows only: extreme values and new categories in the other
 * rows change nothing. */
static void test_no_leakage(void **state)
{
    (void)state;
    const hf_col_type types[2] = {HF_COL_NUMERIC, HF_COL_CATEGORICAL};
    const char *const names[2] = {"x", "city"};
    hf_schema *s = make_schema(2, types, names, cities, 5);
    size_t n = 30, n_train = 0;
    double *X = malloc(n * 2 * sizeof *X), *Xt = malloc(n * 2 * sizeof *Xt);
    int64_t rows[30];
    hf_rng rng;
    hf_rng_init(&rng, 3, 3, 3);
    for (size_t i = 0; i < n; i++) {
        int train = i % 3 != 0;
        X[i * 2] = train ? (i % 5 == 0 ? NAN : hf_rng_uniform(&rng)) : 1e9 + (double)i;
        X[i * 2 + 1] = train ? (double)(1 + i % 3) : 0.0; /* Berlin only in validation */
        if (train) {
            rows[n_train] = (int64_t)i;
            Xt[n_train * 2] = X[i * 2];
            Xt[n_train * 2 + 1] = X[i * 2 + 1];
            n_train++;
        }
    }
    const hf_scale_kind scales[2] = {HF_SCALE_STANDARD, HF_SCALE_MINMAX};
    for (int sk = 0; sk < 2; sk++) {
        hf_prep_config cfg;
        hf_prep_config_default(&cfg);
        cfg.scale = scales[sk];
        cfg.indicator = 1;
        hf_prep *p = NULL, *q = NULL;
        assert_int_equal(hf_prep_fit(&cfg, s, X, rows, n_train, NULL, &p), 0);
        assert_int_equal(hf_prep_fit(&cfg, s, Xt, NULL, n_train, NULL, &q), 0);
        double a[3], b[3];
        hf_prep_feature_stats(p, 0, &a[0], &a[1], &a[2]);
        hf_prep_feature_stats(q, 0, &b[0], &b[1], &b[2]);
        assert_memory_equal(a, b, sizeof a);
        assert_true(a[0] < 1.0); /* the imputed mean is of the training values in [0, 1) */
        assert_int_equal(hf_prep_n_outputs(p), hf_prep_n_outputs(q));
        assert_int_equal(find_output(p, "city=Berlin"), -1);
        size_t w = hf_prep_n_outputs(p);
        double *o1 = malloc(n * w * sizeof *o1), *o2 = malloc(n * w * sizeof *o2);
        hf_prep_transform(p, X, NULL, n, o1);
        hf_prep_transform(q, X, NULL, n, o2);
        assert_memory_equal(o1, o2, n * w * sizeof *o1);
        /* Validation rows are transformed with training statistics: far outside. */
        assert_true(o1[0] > 1e3);
        free(o1);
        free(o2);
        hf_prep_free(p);
        hf_prep_free(q);
    }
    free(X);
    free(Xt);
    hf_schema_free(s);
}

static void test_export_import_roundtrip(void **state)
{
    (void)state;
    const hf_col_type types[4] = {HF_COL_NUMERIC, HF_COL_CATEGORICAL, HF_COL_BOOLEAN,
                                  HF_COL_CATEGORICAL};
    const char *const names[4] = {"age", "city", "member", "home"};
    hf_schema *s = make_schema(4, types, names, cities, 5);
    size_t n = 60;
    double *X = malloc(n * 4 * sizeof *X);
    hf_rng rng;
    hf_rng_init(&rng, 11, 0, 0);
    for (size_t i = 0; i < n; i++) {
        X[i * 4] = i % 9 == 0 ? NAN : 20 + 50 * hf_rng_uniform(&rng);
        X[i * 4 + 1] = i % 11 == 0 ? NAN : (double)hf_rng_below(&rng, 5);
        X[i * 4 + 2] = (double)hf_rng_below(&rng, 2);
        X[i * 4 + 3] = i % 4 == 0 ? NAN : (double)(hf_rng_below(&rng, 3) * 2);
    }
    for (int variant = 0; variant < 3; variant++) {
        hf_prep_config cfg;
        hf_prep_config_default(&cfg);
        cfg.scale = variant == 0 ? HF_SCALE_STANDARD : HF_SCALE_MINMAX;
        cfg.indicator = variant != 1;
        cfg.min_frequency = variant == 2 ? 8 : 0;
        cfg.impute_categorical = variant == 1 ? HF_IMPUTE_CONSTANT : HF_IMPUTE_MOST_FREQUENT;
        cfg.impute_numeric = variant == 2 ? HF_IMPUTE_MEDIAN : HF_IMPUTE_MEAN;
        hf_prep *p = NULL, *q = NULL;
        assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 40, NULL, &p), 0);
        hf_array *arrays = NULL;
        size_t n_arrays = 0;
        char *json = NULL;
        assert_int_equal(hf_prep_export(p, &arrays, &n_arrays, &json), 0);
        for (size_t i = 0; i < n_arrays; i++)
            assert_null(strchr(arrays[i].name, '/'));
        assert_int_equal(hf_prep_import(s, arrays, n_arrays, json, &q), 0);
        assert_true(hf_prep_config_equal(hf_prep_get_config(p), hf_prep_get_config(q)));
        size_t w = hf_prep_n_outputs(p);
        assert_int_equal(hf_prep_n_outputs(q), w);
        for (size_t i = 0; i < w; i++)
            assert_string_equal(hf_prep_output_names(p)[i], hf_prep_output_names(q)[i]);
        double *o1 = malloc(n * w * sizeof *o1), *o2 = malloc(n * w * sizeof *o2);
        hf_prep_transform(p, X, NULL, n, o1);
        hf_prep_transform(q, X, NULL, n, o2);
        assert_memory_equal(o1, o2, n * w * sizeof *o1);
        free(o1);
        free(o2);
        hf_prep_free(q);
        q = NULL;
        /* A schema with a different column is refused. */
        s->features[1].type = HF_COL_NUMERIC;
        hf_error_clear();
        assert_int_equal(hf_prep_import(s, arrays, n_arrays, json, &q), HF_EDATA);
        assert_null(q);
        assert_non_null(strstr(hf_error_message(), "city"));
        hf_error_clear();
        s->features[1].type = HF_COL_CATEGORICAL;
        hf_prep_export_free(arrays, n_arrays, json);
        hf_prep_free(p);
    }
    free(X);
    hf_schema_free(s);
}

/* Index of the preprocessing setting called `name` in the module's table. */
static size_t setting(const char *name)
{
    for (size_t i = 0; i < hf_prep_n_params(); i++)
        if (!strcmp(hf_prep_param(i)->name, name))
            return i;
    print_error("no preprocessing setting %s\n", name);
    fail();
    return 0;
}

static const char *where_12_5(const void *arg, const char *key, char *buf, size_t len)
{
    (void)arg;
    snprintf(buf, len, "job.yaml:12:5 (%s)", key);
    return buf;
}

/* The settings table: every entry is documented and typed; a configuration is built from values
 * by position (no names parsed), defaults where a value is absent, and a bad combination is
 * refused naming its key through the source. */
static void test_config_from_values(void **state)
{
    (void)state;
    size_t n = hf_prep_n_params();
    assert_true(n >= 8);
    for (size_t i = 0; i < n; i++) {
        const hf_param_def *d = hf_prep_param(i);
        assert_non_null(d->name);
        assert_non_null(d->help);
        /* a text setting has choices, except encode_columns (free text, parsed by preprocess.c) */
        assert_true(d->type == HF_VAL_STRING && strcmp(d->name, "encode_columns") != 0
                        ? d->choices != NULL
                        : 1);
    }
    assert_null(hf_prep_param(n));
    const hf_value *vals[64] = {NULL};
    hf_value scale = {HF_VAL_STRING, {.str = "minmax"}}, ind = {HF_VAL_BOOL, {.b = 1}};
    hf_value minf = {HF_VAL_INT, {.i = 3}};
    vals[setting("scale")] = &scale;
    vals[setting("impute.indicator")] = &ind;
    vals[setting("min_frequency")] = &minf;
    hf_prep_config cfg, def, again;
    hf_prep_config_default(&def);
    assert_int_equal(hf_prep_config_from_values(vals, NULL, &cfg), 0);
    assert_int_equal(cfg.scale, HF_SCALE_MINMAX);
    assert_int_equal(cfg.indicator, 1);
    assert_int_equal(cfg.min_frequency, 3);
    assert_int_equal(cfg.impute_numeric, HF_IMPUTE_MEAN);
    assert_false(hf_prep_config_equal(&cfg, &def));
    assert_int_equal(hf_prep_config_from_values(vals, NULL, &again), 0);
    assert_true(hf_prep_config_equal(&cfg, &again));
    const hf_value *none[64] = {NULL};
    assert_int_equal(hf_prep_config_from_values(none, NULL, &cfg), 0);
    assert_true(hf_prep_config_equal(&cfg, &def));

    /* Constant numeric imputation with a text fill value is refused, naming the key. */
    hf_value constant = {HF_VAL_STRING, {.str = "constant"}}, fill = {HF_VAL_STRING, {.str = "x"}};
    vals[setting("impute.numeric")] = &constant;
    vals[setting("impute.fill_value")] = &fill;
    hf_opt_source src = {where_12_5, NULL};
    hf_error_clear();
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), HF_EINVAL);
    assert_string_equal(hf_error_message(),
                        "job.yaml:12:5 (preprocess.impute.fill_value): "
                        "preprocess.impute.fill_value: got \"x\", expected a number with "
                        "preprocess.impute.numeric constant");
    hf_error_clear();
    hf_value num = {HF_VAL_NUMBER, {.num = -1.5}};
    vals[setting("impute.fill_value")] = &num;
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), 0);
    assert_int_equal(cfg.impute_numeric, HF_IMPUTE_CONSTANT);
    assert_true(cfg.fill_given && cfg.fill_number == -1.5);
}

/* log1p: the numeric column is log(1 + x) before imputation; a value at or below -1 is missing
 * and gets the mean of the transformed training values; a categorical column is untouched; the
 * pipeline is not a copy. */
static void test_log1p(void **state)
{
    (void)state;
    /* A numeric, a categorical and a boolean column: log1p applies to the numeric one only
     * (scikit-learn's ColumnTransformer sends booleans through as 0/1). */
    const hf_col_type types[3] = {HF_COL_NUMERIC, HF_COL_CATEGORICAL, HF_COL_BOOLEAN};
    const char *const names[3] = {"x", "c", "b"};
    const char *const cats[2] = {"p", "q"};
    hf_schema *s = make_schema(3, types, names, cats, 2);
    const double X[] = {0.0, 0, 1, 1.0, 1, 0, 3.0, 0, 1, -2.0, 1, 1, NAN, 0, 0};
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    cfg.log1p = 1;
    hf_prep *p = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 5, NULL, &p), 0);
    assert_false(hf_prep_is_copy(p));
    double imp, center, scale;
    assert_int_equal(hf_prep_feature_stats(p, 0, &imp, &center, &scale), 0);
    const double mean = (log1p(0.0) + log1p(1.0) + log1p(3.0)) / 3.0;
    assert_true(fabs(imp - mean) < 1e-15);
    assert_int_equal(hf_prep_feature_stats(p, 2, &imp, &center, &scale), 0);
    assert_true(fabs(imp - 3.0 / 5.0) < 1e-15); /* the boolean's mean, untransformed */
    double out[5 * 4];
    assert_int_equal(hf_prep_transform(p, X, NULL, 5, out), 0);
    assert_int_equal(hf_prep_n_outputs(p), 4); /* x, c=p, c=q, b */
    const double want_x[5] = {0.0, log1p(1.0), log1p(3.0), mean, mean};
    int x = find_output(p, "x"), cp = find_output(p, "c=p"), cq = find_output(p, "c=q"),
        b = find_output(p, "b");
    assert_true(x >= 0 && cp >= 0 && cq >= 0 && b >= 0);
    for (int i = 0; i < 5; i++) {
        assert_true(fabs(out[i * 4 + x] - want_x[i]) < 1e-15);
        assert_true(out[i * 4 + cp] + out[i * 4 + cq] == 1.0); /* the one-hot block is unchanged */
        assert_true(out[i * 4 + b] == X[i * 3 + 2]);           /* so is the boolean */
    }
    hf_prep_config off = cfg;
    off.log1p = 0;
    assert_false(hf_prep_config_equal(&cfg, &off));
    /* Exported and imported, the setting survives. */
    hf_array *arrays = NULL;
    size_t n_arrays = 0;
    char *json = NULL;
    assert_int_equal(hf_prep_export(p, &arrays, &n_arrays, &json), 0);
    hf_prep *q = NULL;
    assert_int_equal(hf_prep_import(s, arrays, n_arrays, json, &q), 0);
    assert_int_equal(hf_prep_get_config(q)->log1p, 1);
    double again[5 * 4];
    assert_int_equal(hf_prep_transform(q, X, NULL, 5, again), 0);
    assert_memory_equal(out, again, sizeof out);
    hf_prep_export_free(arrays, n_arrays, json);
    hf_prep_free(q);
    hf_prep_free(p);
    hf_schema_free(s);
}

/* The new steps' refusals: settings combinations (naming the key), a Box-Cox column with a
 * non-positive training value, target encoding without a target, with a 3-class target or with
 * fewer rows than its inner folds, fit rows that are not the fitted ones, damaged model arrays. */
static void test_step_refusals(void **state)
{
    (void)state;
    const hf_value *vals[64] = {NULL};
    hf_prep_config cfg;
    hf_opt_source src = {where_12_5, NULL};
    hf_value lo = {HF_VAL_NUMBER, {.num = 0.9}}, hi = {HF_VAL_NUMBER, {.num = 0.2}};
    vals[setting("clip.lower")] = &lo;
    vals[setting("clip.upper")] = &hi;
    hf_error_clear();
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), HF_EINVAL);
    assert_string_equal(hf_error_message(),
                        "job.yaml:12:5 (preprocess.clip.lower): preprocess.clip.lower: got 0.9 "
                        "with clip.upper 0.2, expected a lower quantile below the upper one");
    vals[setting("clip.upper")] = NULL;
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), 0);
    assert_true(cfg.clip_lower == 0.9 && cfg.clip_upper == 1.0);
    vals[setting("clip.lower")] = NULL;
    hf_value one = {HF_VAL_INT, {.i = 1}};
    vals[setting("kbins")] = &one;
    hf_error_clear();
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "preprocess.kbins: got 1, expected 0 (off) or at "
                                               "least 2 bins"));
    vals[setting("kbins")] = NULL;
    vals[setting("polynomial")] = &one;
    hf_error_clear();
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), HF_EINVAL);
    assert_non_null(
        strstr(hf_error_message(), "preprocess.polynomial: got 1, expected 0 (off) or 2"));

    const hf_col_type types[2] = {HF_COL_NUMERIC, HF_COL_CATEGORICAL};
    const char *const names[2] = {"size", "city"};
    const char *const cats[3] = {"a", "b", "c"};
    hf_schema *s = make_schema(2, types, names, cats, 3);
    const double X[] = {1.0, 0, 2.0, 1, 0.0, 2, 4.0, 0, 5.0, 1, 6.0, 2, 7.0, 0, 8.0, 1};
    const double y[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    hf_prep *p = NULL;
    hf_prep_config_default(&cfg);
    cfg.power = HF_POWER_BOX_COX;
    hf_error_clear();
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), HF_EINVAL);
    assert_string_equal(hf_error_message(),
                        "preprocess.power: box-cox of column \"size\": got the training value 0, "
                        "expected values > 0 (use yeo-johnson for zero or negative values)");
    assert_null(p);
    const int64_t positive[4] = {0, 1, 3, 4};
    assert_int_equal(hf_prep_fit(&cfg, s, X, positive, 4, NULL, &p), 0);
    double out[8 * 4];
    assert_int_equal(hf_prep_transform(p, X, NULL, 8, out), 0);
    assert_true(isfinite(out[2 * hf_prep_n_outputs(p)])); /* 0 at transform time: the floor */
    hf_prep_free(p);
    p = NULL;

    hf_prep_config_default(&cfg);
    cfg.encode = HF_ENCODE_TARGET;
    hf_error_clear();
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "without the target"));
    hf_error_clear();
    assert_int_equal(hf_prep_fit_y(&cfg, s, X, y, NULL, 4, NULL, &p), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "got target with 4 training rows, expected at "
                                               "least 5 (its inner folds)"));
    assert_int_equal(hf_prep_fit_y(&cfg, s, X, y, NULL, 8, NULL, &p), 0);
    size_t n_fit = 0;
    const int *inner = hf_prep_inner_folds(p, &n_fit);
    assert_non_null(inner);
    assert_int_equal(n_fit, 8);
    int sizes[5] = {0};
    for (size_t i = 0; i < 8; i++)
        sizes[inner[i]]++;
    for (int k = 0; k < 5; k++)
        assert_int_equal(sizes[k], k < 3 ? 2 : 1); /* KFold: the first 8 % 5 folds larger */
    const int64_t other[8] = {0, 1, 2, 3, 4, 5, 7, 6};
    hf_error_clear();
    assert_int_equal(hf_prep_transform_fit_rows(p, X, other, 8, out), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "not the 8 rows"));
    assert_int_equal(hf_prep_transform_fit_rows(p, X, NULL, 8, out), 0);
    /* The exported pipeline transforms with the full encodings; a damaged prep.freq is refused */
    hf_array *arrays = NULL;
    size_t n_arrays = 0;
    char *json = NULL;
    assert_int_equal(hf_prep_export(p, &arrays, &n_arrays, &json), 0);
    hf_prep *q = NULL;
    assert_int_equal(hf_prep_import(s, arrays, n_arrays, json, &q), 0);
    double full[8 * 2], again[8 * 2];
    assert_int_equal(hf_prep_transform(p, X, NULL, 8, full), 0);
    assert_int_equal(hf_prep_transform(q, X, NULL, 8, again), 0);
    assert_memory_equal(full, again, sizeof full);
    assert_null(hf_prep_inner_folds(q, NULL));
    hf_prep_free(q);
    q = NULL;
    for (size_t i = 0; i < n_arrays; i++)
        if (strcmp(arrays[i].name, "prep.freq") == 0)
            arrays[i].rows = 2;
    hf_error_clear();
    assert_int_equal(hf_prep_import(s, arrays, n_arrays, json, &q), HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "prep.freq"));
    hf_prep_export_free(arrays, n_arrays, json);
    hf_prep_free(p);
    p = NULL;

    /* A 3-class target is refused. */
    s->task = HF_TASK_CLASSIFICATION;
    s->n_classes = 3;
    const double yc[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    hf_error_clear();
    assert_int_equal(hf_prep_fit_y(&cfg, s, X, yc, NULL, 8, NULL, &p), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "a target with 3 classes, expected a regression "
                                               "or binary target"));
    s->task = HF_TASK_REGRESSION;
    s->n_classes = 0;

    /* kbins: a damaged n_edges is refused on import. */
    hf_prep_config_default(&cfg);
    cfg.kbins = 3;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 8, NULL, &p), 0);
    assert_int_equal(hf_prep_export(p, &arrays, &n_arrays, &json), 0);
    char *bad = hf_asprintf("%s", json);
    char *at = strstr(bad, "\"n_edges\":4");
    assert_non_null(at);
    at[10] = '9'; /* "n_edges":4 -> 9 */
    hf_error_clear();
    assert_int_equal(hf_prep_import(s, arrays, n_arrays, bad, &q), HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "n_edges 9 of feature \"size\""));
    free(bad);
    hf_prep_export_free(arrays, n_arrays, json);
    hf_prep_free(p);
    hf_schema_free(s);
}

/* preprocess.encode_columns: the pair syntax, its refusals naming the key, unknown columns at
 * fit time, and a per-column override of categorical (ordinal for one column, one-hot for the
 * other), which survives export and import. */
static void test_encode_columns(void **state)
{
    (void)state;
    const char *pos = " city : target,zip:frequency ,, my col:a:ordinal";
    char name[8];
    int truncated = 0;
    hf_encode_kind kind;
    assert_int_equal(hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind), 1);
    assert_string_equal(name, "city");
    assert_int_equal(kind, HF_ENCODE_TARGET);
    assert_int_equal(hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind), 1);
    assert_string_equal(name, "zip");
    assert_int_equal(kind, HF_ENCODE_FREQUENCY);
    assert_int_equal(hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind), 1);
    assert_string_equal(name, "my col:");
    assert_true(truncated); /* "my col:a" does not fit 8 bytes */
    assert_int_equal(kind, HF_ENCODE_ORDINAL);
    assert_int_equal(hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind), 0);

    const hf_value *vals[64] = {NULL};
    hf_prep_config cfg;
    hf_opt_source src = {where_12_5, NULL};
    const char *bad[3] = {"city", "city:binary", ":target"};
    for (int i = 0; i < 3; i++) {
        hf_value v = {HF_VAL_STRING, {.str = (char *)bad[i]}};
        vals[setting("encode_columns")] = &v;
        hf_error_clear();
        assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), HF_EINVAL);
        assert_non_null(strstr(hf_error_message(), "job.yaml:12:5 (preprocess.encode_columns): "
                                                   "preprocess.encode_columns: got \""));
        assert_non_null(strstr(hf_error_message(), "expected COLUMN:ENCODING"));
    }
    hf_value good = {HF_VAL_STRING, {.str = "c:ordinal"}};
    vals[setting("encode_columns")] = &good;
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), 0);
    assert_string_equal(cfg.encode_columns, "c:ordinal");

    const hf_col_type types[3] = {HF_COL_NUMERIC, HF_COL_CATEGORICAL, HF_COL_CATEGORICAL};
    const char *const names[3] = {"x", "c", "d"};
    const char *const cats[3] = {"p", "q", "r"};
    hf_schema *s = make_schema(3, types, names, cats, 3);
    const double X[] = {1, 2, 0, 2, 0, 1, 3, 1, 2, 4, 2, 0};
    hf_prep *p = NULL;
    snprintf(cfg.encode_columns, sizeof cfg.encode_columns, "%s", "x:ordinal");
    hf_error_clear();
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 4, NULL, &p), HF_EINVAL);
    assert_string_equal(hf_error_message(), "preprocess.encode_columns: got the column \"x\", "
                                            "expected a categorical feature of the data");
    snprintf(cfg.encode_columns, sizeof cfg.encode_columns, "%s", "c:target, d:onehot, c:ordinal");
    hf_error_clear();
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 4, NULL, &p), HF_EINVAL);
    assert_string_equal(hf_error_message(), "preprocess.encode_columns: got the column \"c\" "
                                            "twice, expected each column once");
    hf_error_clear();
    snprintf(cfg.encode_columns, sizeof cfg.encode_columns, "%s", "c:ordinal");
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 4, NULL, &p), 0);
    assert_int_equal(hf_prep_n_outputs(p), 5); /* x, c, d=p, d=q, d=r */
    assert_string_equal(hf_prep_output_names(p)[1], "c");
    assert_string_equal(hf_prep_output_names(p)[2], "d=p");
    double out[4 * 5];
    assert_int_equal(hf_prep_transform(p, X, NULL, 4, out), 0);
    const double want_c[4] = {2, 0, 1, 2}; /* the ranks of r, p, q, r */
    for (int i = 0; i < 4; i++)
        assert_true(out[i * 5 + 1] == want_c[i]);
    hf_array *arrays = NULL;
    size_t n_arrays = 0;
    char *json = NULL;
    assert_int_equal(hf_prep_export(p, &arrays, &n_arrays, &json), 0);
    hf_prep *q = NULL;
    assert_int_equal(hf_prep_import(s, arrays, n_arrays, json, &q), 0);
    double again[4 * 5];
    assert_int_equal(hf_prep_transform(q, X, NULL, 4, again), 0);
    assert_memory_equal(out, again, sizeof out);
    assert_string_equal(hf_prep_get_config(q)->encode_columns, "c:ordinal");
    hf_prep_export_free(arrays, n_arrays, json);
    hf_prep_free(q);
    hf_prep_free(p);
    hf_schema_free(s);
}

/* preprocess.categorical native: one column per categorical feature holding the level's ordinal
 * code fitted on the fit rows, a missing or unseen level NaN (no categorical imputation), flagged
 * categorical; the flags and codes survive export and import; encode_columns native on one column
 * flags only that one; native with PCA is refused; a model without native_categorical is refused
 * naming the key and the models that take it. */
static void test_native(void **state)
{
    (void)state;
    const hf_col_type types[3] = {HF_COL_NUMERIC, HF_COL_CATEGORICAL, HF_COL_CATEGORICAL};
    const char *const names[3] = {"x", "c", "d"};
    const char *const cats[4] = {"s", "p", "r", "q"}; /* codes 0..3; sorted: p q r s */
    hf_schema *s = make_schema(3, types, names, cats, 4);
    /* fit rows 0..3: c takes s, r, NaN, p (q never: unseen); d takes q, q, p, NaN */
    const double X[] = {1, 0, 3, 2, 2, 3, 3, NAN, 1, 4, 1, NAN, 5, 3, 1, 6, 0, 0};
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    cfg.encode = HF_ENCODE_NATIVE;
    hf_prep *p = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 4, NULL, &p), 0);
    assert_int_equal(hf_prep_n_outputs(p), 3);
    const unsigned char *flags = hf_prep_output_categorical(p);
    assert_non_null(flags);
    assert_true(flags[0] == 0 && flags[1] == 1 && flags[2] == 1);
    assert_string_equal(hf_prep_output_names(p)[1], "c");
    double out[6 * 3];
    assert_int_equal(hf_prep_transform(p, X, NULL, 6, out), 0);
    /* c's training levels p r s -> 0 1 2; d's p q -> 0 1 */
    const double want_c[6] = {2, 1, NAN, 0, NAN, 2}; /* row 4: q unseen */
    const double want_d[6] = {1, 1, 0, NAN, 0, NAN}; /* row 5: s unseen */
    for (int i = 0; i < 6; i++) {
        assert_true(isnan(want_c[i]) ? isnan(out[i * 3 + 1]) : out[i * 3 + 1] == want_c[i]);
        assert_true(isnan(want_d[i]) ? isnan(out[i * 3 + 2]) : out[i * 3 + 2] == want_d[i]);
    }
    hf_array *arrays = NULL;
    size_t n_arrays = 0;
    char *json = NULL;
    assert_int_equal(hf_prep_export(p, &arrays, &n_arrays, &json), 0);
    hf_prep *q = NULL;
    assert_int_equal(hf_prep_import(s, arrays, n_arrays, json, &q), 0);
    double again[6 * 3];
    assert_int_equal(hf_prep_transform(q, X, NULL, 6, again), 0);
    for (int i = 0; i < 18; i++)
        assert_true(isnan(out[i]) ? isnan(again[i]) : again[i] == out[i]);
    assert_non_null(hf_prep_output_categorical(q));
    assert_true(hf_prep_output_categorical(q)[1] == 1 && hf_prep_output_categorical(q)[0] == 0);
    hf_prep_export_free(arrays, n_arrays, json);
    hf_prep_free(q);
    hf_prep_free(p);

    /* encode_columns: only d native; c one-hot (imputed: most frequent) */
    cfg.encode = HF_ENCODE_ONEHOT;
    snprintf(cfg.encode_columns, sizeof cfg.encode_columns, "%s", "d:native");
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 4, NULL, &p), 0);
    size_t w = hf_prep_n_outputs(p);
    assert_int_equal(w, 1 + 3 + 1); /* x, c=p c=r c=s, d */
    flags = hf_prep_output_categorical(p);
    assert_non_null(flags);
    for (size_t j = 0; j < w; j++)
        assert_int_equal(flags[j], j == w - 1);
    hf_prep_free(p);

    /* no native column: no flags */
    cfg.encode_columns[0] = '\0';
    assert_int_equal(hf_prep_fit(&cfg, s, X, NULL, 4, NULL, &p), 0);
    assert_null(hf_prep_output_categorical(p));
    hf_prep_free(p);

    /* native with PCA, and with a model that takes no categorical features */
    const hf_value *vals[64] = {NULL};
    hf_opt_source src = {where_12_5, NULL};
    hf_value nat = {HF_VAL_STRING, {.str = "native"}};
    hf_value two = {HF_VAL_INT, {.i = 2}};
    vals[setting("categorical")] = &nat;
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), 0);
    assert_int_equal(cfg.encode, HF_ENCODE_NATIVE);
    const char *key = NULL;
    hf_error_clear();
    assert_int_equal(hf_prep_model_check(&cfg, hf_model_find("ridge"), &key), HF_EINVAL);
    assert_string_equal(key, "categorical");
    assert_string_equal(hf_error_message(),
                        "preprocess.categorical: got native with model.type ridge, which takes no "
                        "categorical features; expected onehot, ordinal, frequency or target "
                        "(native: xgboost, random_forest)");
    assert_int_equal(hf_prep_model_check(&cfg, hf_model_find("xgboost"), &key), 0);
    assert_int_equal(hf_prep_model_check(&cfg, hf_model_find("random_forest"), &key), 0);
    vals[setting("pca.n_components")] = &two;
    hf_error_clear();
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "preprocess.categorical: got native with "
                                               "preprocess.pca.n_components 2"));
    vals[setting("pca.n_components")] = NULL;
    vals[setting("categorical")] = NULL;
    hf_value cols = {HF_VAL_STRING, {.str = "c:onehot, d:native"}};
    vals[setting("encode_columns")] = &cols;
    assert_int_equal(hf_prep_config_from_values(vals, &src, &cfg), 0);
    hf_error_clear();
    assert_int_equal(hf_prep_model_check(&cfg, hf_model_find("logistic_regression"), &key),
                     HF_EINVAL);
    assert_string_equal(key, "encode_columns");
    assert_non_null(strstr(hf_error_message(), "preprocess.encode_columns: got native"));
    hf_schema_free(s);
}

/* Quantiles as numpy.quantile (linear) and the kbins edges of a column with ties. */
static void test_quantiles_and_bins(void **state)
{
    (void)state;
    const double v[5] = {1, 2, 2, 2, 10};
    assert_true(hf_quantile_sorted(v, 5, 0.0) == 1.0);
    assert_true(hf_quantile_sorted(v, 5, 1.0) == 10.0);
    assert_true(fabs(hf_quantile_sorted(v, 5, 0.9) - 6.8) < 1e-15); /* 2 + 8 * 0.6 */
    assert_true(fabs(hf_quantile_sorted(v, 5, 0.1) - 1.4) < 1e-15);
    double edges[5];
    /* percentiles 0, 25, 50, 75, 100: 1, 2, 2, 2, 10 -> the repeated 2s removed */
    size_t ne = hf_prepnum_kbins_edges(v, 5, 4, edges);
    assert_int_equal(ne, 3);
    assert_true(edges[0] == 1 && edges[1] == 2 && edges[2] == 10);
    assert_true(hf_prepnum_kbins_bin(edges, ne, 1.5) == 0.0);
    assert_true(hf_prepnum_kbins_bin(edges, ne, 2.0) == 1.0);
    assert_true(hf_prepnum_kbins_bin(edges, ne, 99.0) == 1.0);
    /* Yeo-Johnson at lambda 1 is the identity; Box-Cox at 0 is log */
    assert_true(fabs(hf_prepnum_power(HF_POWER_YEO_JOHNSON, -3.5, 1.0) + 3.5) < 1e-15);
    assert_true(fabs(hf_prepnum_power(HF_POWER_BOX_COX, 5.0, 0.0) - log(5.0)) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_copy),
        cmocka_unit_test(test_numeric_imputation),
        cmocka_unit_test(test_scaling),
        cmocka_unit_test(test_onehot),
        cmocka_unit_test(test_indicator_and_dropped),
        cmocka_unit_test(test_no_leakage),
        cmocka_unit_test(test_export_import_roundtrip),
        cmocka_unit_test(test_config_from_values),
        cmocka_unit_test(test_log1p),
        cmocka_unit_test(test_step_refusals),
        cmocka_unit_test(test_quantiles_and_bins),
        cmocka_unit_test(test_encode_columns),
        cmocka_unit_test(test_native),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
