/* test_pca.c - the PCA step of the preprocessing pipeline (worker/preprocess.c, one rank).
 *
 * Checks the components, means and explained variances against a direct computation in this
 * file (naive covariance + LAPACKE_dsyev, a different LAPACK driver than the one under test), the
 * sign convention (the largest-|value| training projection of each component is positive), that
 * validation rows never change the fit (leakage), the export -> import round trip, the error
 * messages for too many components, and the spec keys preprocess.pca.n_components. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "jobs/spec.h"
#include "worker/preprocess.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 60, P_IN = 5, N_TRAIN = 40 };

static const char *const k_names[P_IN] = {"a", "b", "c", "city", "d"};
static const char *const k_cats[3] = {"Paris", "Rome", "Oslo"};

/* Four numeric columns (correlated, different scales, a few missing) and one categorical. */
static hf_schema *make_schema(void)
{
    hf_schema *s = calloc(1, sizeof *s);
    s->n_features = P_IN;
    s->features = calloc(P_IN, sizeof *s->features);
    for (size_t j = 0; j < P_IN; j++) {
        s->features[j].name = strdup(k_names[j]);
        s->features[j].type = j == 3 ? HF_COL_CATEGORICAL : HF_COL_NUMERIC;
        if (j == 3) {
            s->features[j].n_categories = 3;
            s->features[j].categories = calloc(3, sizeof(char *));
            for (size_t c = 0; c < 3; c++)
                s->features[j].categories[c] = strdup(k_cats[c]);
        }
    }
    s->target = strdup("y");
    s->task = HF_TASK_REGRESSION;
    return s;
}

static double *make_data(uint64_t seed)
{
    double *X = malloc(N * P_IN * sizeof *X);
    hf_rng r;
    hf_rng_init(&r, seed, 0, 0);
    for (size_t i = 0; i < N; i++) {
        double u = hf_rng_uniform(&r) - 0.5, v = hf_rng_uniform(&r) - 0.5;
        double *x = X + i * P_IN;
        x[0] = 3.0 * u + 0.2 * (hf_rng_uniform(&r) - 0.5);
        x[1] = 100.0 * v + 10.0 * u;
        x[2] = u - v + 0.5 * (hf_rng_uniform(&r) - 0.5);
        x[3] = (double)(hf_rng_next(&r) % 3);
        x[4] = 0.01 * (hf_rng_uniform(&r) - 0.5);
        if (i % 11 == 3)
            x[1] = NAN;
    }
    return X;
}

static void train_valid_rows(int64_t *train, int64_t *valid)
{
    size_t t = 0, v = 0;
    for (size_t i = 0; i < N; i++) {
        if (i % 3 == 1)
            valid[v++] = (int64_t)i;
        else
            train[t++] = (int64_t)i;
    }
    assert_int_equal(t, N_TRAIN);
}

static hf_prep_config make_cfg(int64_t k)
{
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    cfg.scale = HF_SCALE_STANDARD;
    cfg.pca_components = k;
    return cfg;
}

/* Reference: the pre-PCA design rows of the training rows, their means, the covariance (divisor
 * n - 1) by naive loops and its eigenpairs from LAPACKE_dsyev (ascending). */
static void reference(const hf_schema *s, const double *X, const int64_t *train, size_t *q_out,
                      double **Z_out, double **mean_out, double **evec_out, double **eval_out)
{
    hf_prep_config cfg = make_cfg(0);
    hf_prep *base = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, train, N_TRAIN, NULL, &base), 0);
    size_t q = hf_prep_n_outputs(base);
    double *Z = malloc(N_TRAIN * q * sizeof *Z), *mean = calloc(q, sizeof *mean);
    double *C = calloc(q * q, sizeof *C), *w = malloc(q * sizeof *w);
    assert_int_equal(hf_prep_transform(base, X, train, N_TRAIN, Z), 0);
    for (size_t i = 0; i < N_TRAIN; i++)
        for (size_t j = 0; j < q; j++)
            mean[j] += Z[i * q + j] / N_TRAIN;
    for (size_t a = 0; a < q; a++)
        for (size_t b = 0; b < q; b++) {
            double sum = 0.0;
            for (size_t i = 0; i < N_TRAIN; i++)
                sum += (Z[i * q + a] - mean[a]) * (Z[i * q + b] - mean[b]);
            C[a * q + b] = sum / (N_TRAIN - 1);
        }
    assert_int_equal(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)q, C, (lapack_int)q, w),
                     0);
    hf_prep_free(base);
    *q_out = q;
    *Z_out = Z;
    *mean_out = mean;
    *evec_out = C; /* columns are eigenvectors, ascending eigenvalues */
    *eval_out = w;
}

static void test_pca_matches_lapack(void **state)
{
    (void)state;
    hf_schema *s = make_schema();
    double *X = make_data(7);
    int64_t train[N_TRAIN], valid[N - N_TRAIN];
    train_valid_rows(train, valid);
    size_t q;
    double *Z, *mean, *V, *w;
    reference(s, X, train, &q, &Z, &mean, &V, &w);
    assert_int_equal(q, 7); /* a b c d + 3 one-hot columns */

    const size_t k = 4;
    hf_prep_config cfg = make_cfg((int64_t)k);
    hf_prep *p = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, train, N_TRAIN, NULL, &p), 0);
    assert_int_equal(hf_prep_n_outputs(p), k);
    assert_string_equal(hf_prep_output_names(p)[0], "pca0");
    assert_string_equal(hf_prep_output_names(p)[3], "pca3");
    size_t q2;
    const double *pm, *pc, *pv;
    assert_int_equal(hf_prep_pca(p, &q2, &pm, &pc, &pv), k);
    assert_int_equal(q2, q);
    for (size_t j = 0; j < q; j++)
        assert_true(fabs(pm[j] - mean[j]) <= 1e-12 * (1.0 + fabs(mean[j])));
    for (size_t c = 0; c < k; c++) {
        size_t col = q - 1 - c; /* dsyev is ascending */
        double lam = w[col];
        assert_true(fabs(pv[c] - lam) <= 1e-10 * fabs(lam));
        if (c > 0)
            assert_true(pv[c] <= pv[c - 1]);
        /* Same axis up to sign. */
        double dot = 0.0;
        for (size_t j = 0; j < q; j++)
            dot += pc[c * q + j] * V[j * q + col];
        double sign = dot < 0 ? -1.0 : 1.0;
        for (size_t j = 0; j < q; j++)
            assert_true(fabs(pc[c * q + j] - sign * V[j * q + col]) <= 1e-9);
    }

    /* Training projections: the reference formula, and the sign rule. */
    double *T = malloc(N * k * sizeof *T);
    assert_int_equal(hf_prep_transform(p, X, train, N_TRAIN, T), 0);
    for (size_t c = 0; c < k; c++) {
        double best = 0.0, best_abs = -1.0;
        for (size_t i = 0; i < N_TRAIN; i++) {
            double t = 0.0;
            for (size_t j = 0; j < q; j++)
                t += (Z[i * q + j] - mean[j]) * pc[c * q + j];
            assert_true(fabs(T[i * k + c] - t) <= 1e-10 * (1.0 + fabs(t)));
            if (fabs(t) > best_abs) {
                best_abs = fabs(t);
                best = t;
            }
        }
        assert_true(best > 0);
    }

    /* Validation rows: projection of their pre-PCA rows with the training mean and axes; a
     * one-row call gives bit-identical values (no dependence on how many rows share a call). */
    hf_prep_config c0 = make_cfg(0);
    hf_prep *base = NULL;
    assert_int_equal(hf_prep_fit(&c0, s, X, train, N_TRAIN, NULL, &base), 0);
    double *Zv = malloc((N - N_TRAIN) * q * sizeof *Zv);
    assert_int_equal(hf_prep_transform(base, X, valid, N - N_TRAIN, Zv), 0);
    assert_int_equal(hf_prep_transform(p, X, valid, N - N_TRAIN, T), 0);
    for (size_t i = 0; i < N - N_TRAIN; i++) {
        double one[4];
        assert_int_equal(hf_prep_transform(p, X, &valid[i], 1, one), 0);
        assert_memory_equal(one, T + i * k, k * sizeof(double));
        for (size_t c = 0; c < k; c++) {
            double t = 0.0;
            for (size_t j = 0; j < q; j++)
                t += (Zv[i * q + j] - mean[j]) * pc[c * q + j];
            assert_true(fabs(T[i * k + c] - t) <= 1e-10 * (1.0 + fabs(t)));
        }
    }
    /* rows == NULL and more rows than one internal block. */
    double *Xbig = malloc(600 * P_IN * sizeof *Xbig), *Tbig = malloc(600 * k * sizeof *Tbig);
    for (size_t i = 0; i < 600; i++)
        memcpy(Xbig + i * P_IN, X + (i % N) * P_IN, P_IN * sizeof(double));
    assert_int_equal(hf_prep_transform(p, Xbig, NULL, 600, Tbig), 0);
    double *Tall = malloc(N * k * sizeof *Tall);
    assert_int_equal(hf_prep_transform(p, X, NULL, N, Tall), 0);
    for (size_t i = 0; i < 600; i++)
        assert_memory_equal(Tbig + i * k, Tall + (i % N) * k, k * sizeof(double));

    free(Xbig);
    free(Tbig);
    free(Tall);
    free(Zv);
    hf_prep_free(base);
    free(T);
    hf_prep_free(p);
    free(Z);
    free(mean);
    free(V);
    free(w);
    free(X);
    hf_schema_free(s);
}

/* Validation rows (extreme values, missing values, other categories) change nothing. */
static void test_pca_no_leakage(void **state)
{
    (void)state;
    hf_schema *s = make_schema();
    double *X = make_data(11), *X2 = make_data(11);
    int64_t train[N_TRAIN], valid[N - N_TRAIN];
    train_valid_rows(train, valid);
    for (size_t i = 0; i < N - N_TRAIN; i++) {
        double *x = X2 + (size_t)valid[i] * P_IN;
        x[0] = 1e6 * (double)(i + 1);
        x[1] = i % 2 ? NAN : -1e5;
        x[2] = -3e4;
        x[3] = 2;
        x[4] = 1e3;
    }
    hf_prep_config cfg = make_cfg(3);
    hf_prep *p1 = NULL, *p2 = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, train, N_TRAIN, NULL, &p1), 0);
    assert_int_equal(hf_prep_fit(&cfg, s, X2, train, N_TRAIN, NULL, &p2), 0);
    size_t q1, q2;
    const double *m1, *m2, *c1, *c2, *v1, *v2;
    assert_int_equal(hf_prep_pca(p1, &q1, &m1, &c1, &v1), 3);
    assert_int_equal(hf_prep_pca(p2, &q2, &m2, &c2, &v2), 3);
    assert_int_equal(q1, q2);
    assert_memory_equal(m1, m2, q1 * sizeof(double));
    assert_memory_equal(c1, c2, 3 * q1 * sizeof(double));
    assert_memory_equal(v1, v2, 3 * sizeof(double));
    /* But a change in a training row does change the fit (the check above can fail). */
    X2[(size_t)train[5] * P_IN] += 50.0;
    hf_prep *p3 = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X2, train, N_TRAIN, NULL, &p3), 0);
    const double *c3;
    hf_prep_pca(p3, NULL, NULL, &c3, NULL);
    assert_true(memcmp(c1, c3, 3 * q1 * sizeof(double)) != 0);
    hf_prep_free(p1);
    hf_prep_free(p2);
    hf_prep_free(p3);
    free(X);
    free(X2);
    hf_schema_free(s);
}

static void test_pca_round_trip(void **state)
{
    (void)state;
    hf_schema *s = make_schema();
    double *X = make_data(3);
    int64_t train[N_TRAIN], valid[N - N_TRAIN];
    train_valid_rows(train, valid);
    hf_prep_config cfg = make_cfg(2);
    hf_prep *p = NULL, *back = NULL;
    assert_int_equal(hf_prep_fit(&cfg, s, X, train, N_TRAIN, NULL, &p), 0);
    hf_array *arrays = NULL;
    size_t na = 0;
    char *json = NULL;
    assert_int_equal(hf_prep_export(p, &arrays, &na, &json), 0);
    int found = 0;
    for (size_t i = 0; i < na; i++) {
        if (strcmp(arrays[i].name, "prep.pca_components") == 0) {
            assert_int_equal(arrays[i].rows, 2);
            assert_int_equal(arrays[i].cols, 7);
            found++;
        }
        if (strcmp(arrays[i].name, "prep.pca_mean") == 0) {
            assert_int_equal(arrays[i].rows * arrays[i].cols, 7);
            found++;
        }
        assert_null(strchr(arrays[i].name, '/'));
    }
    assert_int_equal(found, 2);
    assert_int_equal(hf_prep_import(s, arrays, na, json, &back), 0);
    assert_int_equal(hf_prep_n_outputs(back), 2);
    assert_int_equal(hf_prep_get_config(back)->pca_components, 2);
    assert_string_equal(hf_prep_output_names(back)[1], "pca1");
    double a[N * 2], b[N * 2];
    assert_int_equal(hf_prep_transform(p, X, NULL, N, a), 0);
    assert_int_equal(hf_prep_transform(back, X, NULL, N, b), 0);
    assert_memory_equal(a, b, sizeof a);
    hf_prep_free(back);
    back = NULL;

    /* A model.h5 whose PCA arrays are missing is refused. */
    for (size_t i = 0; i < na; i++)
        if (strcmp(arrays[i].name, "prep.pca_components") == 0)
            arrays[i].name[0] = 'X';
    hf_error_clear();
    assert_int_equal(hf_prep_import(s, arrays, na, json, &back), HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "prep.pca_components"));
    assert_null(back);
    hf_error_clear();
    hf_prep_export_free(arrays, na, json);

    /* Without PCA nothing PCA-related is exported. */
    hf_prep_config c0 = make_cfg(0);
    hf_prep *p0 = NULL;
    assert_int_equal(hf_prep_fit(&c0, s, X, train, N_TRAIN, NULL, &p0), 0);
    assert_int_equal(hf_prep_pca(p0, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(hf_prep_export(p0, &arrays, &na, &json), 0);
    for (size_t i = 0; i < na; i++)
        assert_null(strstr(arrays[i].name, "pca"));
    hf_prep_export_free(arrays, na, json);
    hf_prep_free(p0);
    hf_prep_free(p);
    free(X);
    hf_schema_free(s);
}

static void test_pca_errors(void **state)
{
    (void)state;
    hf_schema *s = make_schema();
    double *X = make_data(5);
    int64_t train[N_TRAIN], valid[N - N_TRAIN];
    train_valid_rows(train, valid);
    hf_prep *p = NULL;
    hf_prep_config cfg = make_cfg(8); /* 7 design columns */
    hf_error_clear();
    assert_int_equal(hf_prep_fit(&cfg, s, X, train, N_TRAIN, NULL, &p), HF_EINVAL);
    assert_null(p);
    assert_non_null(strstr(hf_error_message(), "preprocess.pca.n_components: got 8"));
    assert_non_null(strstr(hf_error_message(), "at most 7"));
    hf_error_clear();
    cfg = make_cfg(6);
    assert_int_equal(hf_prep_fit(&cfg, s, X, train, 5, NULL, &p), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "at most 5"));
    assert_non_null(strstr(hf_error_message(), "training rows"));
    hf_error_clear();
    cfg = make_cfg(7); /* every column is fine */
    assert_int_equal(hf_prep_fit(&cfg, s, X, train, N_TRAIN, NULL, &p), 0);
    assert_int_equal(hf_prep_n_outputs(p), 7);
    hf_prep_free(p);
    free(X);
    hf_schema_free(s);
}

#define MINIMAL "name: t\ndata:\n  source: d.csv\n  target: y\nmodel: {type: ridge}\n"

static void test_pca_spec(void **state)
{
    (void)state;
    const char *text = MINIMAL "preprocess:\n  scale: standard\n  pca: {n_components: [0, 3]}\n";
    hf_spec *spec = NULL;
    hf_error_clear();
    assert_int_equal(hf_spec_parse("job.yaml", text, strlen(text), &spec), 0);
    assert_true(hf_space_index(&spec->space, "preprocess.pca.n_components") >= 0);
    hf_trial *trials = NULL;
    size_t nt = 0;
    assert_int_equal(hf_spec_trials(spec, &trials, &nt), 0);
    assert_int_equal(nt, 2);
    hf_prep_config a, b;
    hf_trial_config *cfgs = NULL;
    assert_int_equal(hf_spec_decode_trials(spec, hf_model_find("ridge"), trials, nt, &cfgs), 0);
    a = cfgs[0].prep;
    b = cfgs[1].prep;
    hf_trial_configs_free(cfgs, nt);
    assert_true(a.pca_components + b.pca_components == 3);
    assert_true(a.pca_components == 0 || a.pca_components == 3);
    assert_int_equal(a.scale, HF_SCALE_STANDARD);
    assert_false(hf_prep_config_equal(&a, &b));
    b.pca_components = a.pca_components;
    assert_true(hf_prep_config_equal(&a, &b));
    hf_trials_free(trials, nt, spec->space.n_params);
    hf_spec_free(spec);

    /* Absent or null: no PCA. */
    const char *none = MINIMAL "preprocess:\n  pca:\n";
    spec = NULL;
    assert_int_equal(hf_spec_parse("job.yaml", none, strlen(none), &spec), 0);
    assert_int_equal(hf_spec_trials(spec, &trials, &nt), 0);
    assert_int_equal(hf_spec_decode_trials(spec, hf_model_find("ridge"), trials, nt, &cfgs), 0);
    assert_int_equal(cfgs[0].prep.pca_components, 0);
    hf_trial_configs_free(cfgs, nt);
    hf_trials_free(trials, nt, spec->space.n_params);
    hf_spec_free(spec);

    /* Unknown key and a negative count are refused with the key named. */
    const char *bad[] = {MINIMAL "preprocess:\n  pca: {components: 3}\n",
                         MINIMAL "preprocess:\n  pca: {n_components: -1}\n",
                         MINIMAL "preprocess:\n  pca: {n_components: 2.5}\n"};
    const char *want[] = {"preprocess.pca.components", "preprocess.pca.n_components",
                          "preprocess.pca.n_components"};
    for (size_t i = 0; i < 3; i++) {
        spec = NULL;
        hf_error_clear();
        assert_int_equal(hf_spec_parse("job.yaml", bad[i], strlen(bad[i]), &spec), HF_EINVAL);
        assert_non_null(strstr(hf_error_message(), want[i]));
        hf_spec_free(spec);
    }
    hf_error_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pca_matches_lapack), cmocka_unit_test(test_pca_no_leakage),
        cmocka_unit_test(test_pca_round_trip),     cmocka_unit_test(test_pca_errors),
        cmocka_unit_test(test_pca_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
