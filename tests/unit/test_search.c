/* test_search.c - trial expansion (grid and random), trial JSON, the validate summary, Hyperband's
 * plan and the TPE settings' resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "jobs/spec.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD "name: t\ndata:\n  source: d.csv\n  target: y\n"

static hf_spec *parse_ok(const char *text)
{
    hf_spec *spec = NULL;
    hf_error_clear();
    int rc = hf_spec_parse("job.yaml", text, strlen(text), &spec);
    if (rc != HF_OK)
        print_error("unexpected error: %s\n", hf_error_message());
    assert_int_equal(rc, HF_OK);
    return spec;
}

static long idx(const hf_spec *s, const char *name)
{
    long i = hf_space_index(&s->space, name);
    assert_true(i >= 0);
    return i;
}

static void expand(const hf_spec *s, hf_trial **t, size_t *n)
{
    hf_error_clear();
    int rc = hf_spec_trials(s, t, n);
    if (rc != HF_OK)
        print_error("unexpected error: %s\n", hf_error_message());
    assert_int_equal(rc, HF_OK);
}

static void assert_close(double a, double b)
{
    if (fabs(a - b) > 1e-12 * fmax(1.0, fabs(b)))
        print_error("%.17g != %.17g\n", a, b);
    assert_true(fabs(a - b) <= 1e-12 * fmax(1.0, fabs(b)));
}

static void test_grid_product_order(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(HEAD "model:\n  type: ridge\n  params:\n    alpha: [0.1, 1, 10]\n"
                               "    fit_intercept: [true, false]\n"
                               "preprocess:\n  scale: [standard, minmax, none]\n");
    hf_trial *t = NULL;
    size_t n = 0;
    expand(s, &t, &n);
    assert_int_equal(n, 3 * 2 * 3);
    long ia = idx(s, "alpha"), ifi = idx(s, "fit_intercept"), isc = idx(s, "preprocess.scale");
    long imi = idx(s, "max_iter");
    const double alphas[] = {0.1, 1, 10};
    const char *scales[] = {"standard", "minmax", "none"};
    for (size_t k = 0; k < n; k++) {
        /* Spec order alpha, fit_intercept, (defaults), scale: the last axis turns fastest. */
        assert_int_equal(t[k].id, (int)k);
        assert_int_equal(t[k].values[ia].type, HF_VAL_NUMBER);
        assert_true(t[k].values[ia].u.num == alphas[k / 6]);
        assert_int_equal(t[k].values[ifi].type, HF_VAL_BOOL);
        assert_int_equal(t[k].values[ifi].u.b, (k / 3) % 2 == 0);
        assert_int_equal(t[k].values[isc].type, HF_VAL_STRING);
        assert_string_equal(t[k].values[isc].u.str, scales[k % 3]);
        assert_int_equal(t[k].values[imi].type, HF_VAL_INT);
        assert_true(hf_value_equal(&t[k].values[imi], &s->space.params[imi].fixed));
    }
    /* All distinct. */
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) {
            int same = 1;
            for (size_t i = 0; i < s->space.n_params; i++)
                same &= hf_value_equal(&t[a].values[i], &t[b].values[i]);
            assert_false(same);
        }
    hf_trials_free(t, n, s->space.n_params);
    hf_spec_free(s);

    /* Only fixed values: one trial. */
    s = parse_ok(HEAD "model: {type: ridge, params: {alpha: 2}}\n");
    expand(s, &t, &n);
    assert_int_equal(n, 1);
    assert_true(t[0].values[idx(s, "alpha")].u.num == 2.0);
    hf_trials_free(t, n, s->space.n_params);
    hf_spec_free(s);
}

static void test_grid_points(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(HEAD "model:\n  type: logistic_regression\n  params:\n"
                               "    C: {log_uniform: [1.0e-3, 1.0e3], grid_points: 7}\n"
                               "    tol: {uniform: [0.5, 1.5], grid_points: 5}\n"
                               "    max_iter: {int_uniform: [1, 3], grid_points: 5}\n");
    hf_trial *t = NULL;
    size_t n = 0;
    expand(s, &t, &n);
    /* int_uniform [1, 3] with 5 points rounds to 1, 2, 2, 3, 3 (half away from zero): 3 values. */
    assert_int_equal(n, 7 * 5 * 3);
    long ic = idx(s, "C"), it = idx(s, "tol"), im = idx(s, "max_iter");
    for (size_t k = 0; k < 7; k++) /* geometric spacing */
        assert_close(t[k * 15].values[ic].u.num, pow(10.0, -3.0 + (double)k));
    assert_true(t[0].values[ic].u.num == 1e-3 && t[6 * 15].values[ic].u.num == 1e3);
    for (size_t k = 0; k < 5; k++) /* linear spacing */
        assert_close(t[k * 3].values[it].u.num, 0.5 + 0.25 * (double)k);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(t[k].values[im].type, HF_VAL_INT);
        assert_int_equal(t[k].values[im].u.i, (int64_t)k + 1);
    }
    hf_trials_free(t, n, s->space.n_params);
    hf_spec_free(s);

    /* int_uniform without grid_points enumerates every integer; a log grid on an INT parameter
     * is rounded and deduplicated. */
    s = parse_ok(HEAD "model:\n  type: logistic_regression\n  params:\n"
                      "    max_iter: {int_uniform: [10, 14]}\n");
    expand(s, &t, &n);
    assert_int_equal(n, 5);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(t[k].values[idx(s, "max_iter")].u.i, 10 + (int64_t)k);
    hf_trials_free(t, n, s->space.n_params);
    hf_spec_free(s);
    s = parse_ok(HEAD "model:\n  type: logistic_regression\n  params:\n"
                      "    max_iter: {log_uniform: [1, 4], grid_points: 6}\n");
    expand(s, &t, &n);
    /* 4^(k/5) for k = 0..5: 1, 1.32, 1.74, 2.30, 3.03, 4 -> 1, 2, 3, 4 */
    assert_int_equal(n, 4);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(t[k].values[idx(s, "max_iter")].type, HF_VAL_INT);
        assert_int_equal(t[k].values[idx(s, "max_iter")].u.i, (int64_t)k + 1);
    }
    hf_trials_free(t, n, s->space.n_params);
    hf_spec_free(s);
}

#define RANDOM_SPEC(seed, trials)                                                                  \
    HEAD "model:\n  type: logistic_regression\n  params:\n"                                        \
         "    C: {log_uniform: [0.01, 100]}\n    tol: {uniform: [0.1, 0.2]}\n"                     \
         "    max_iter: {int_uniform: [50, 60]}\n    fit_intercept: [true, false]\n"               \
         "preprocess:\n  scale: [standard, none]\n"                                                \
         "search: {strategy: random, trials: " #trials ", seed: " #seed "}\n"

static int trials_equal(const hf_spec *s, const hf_trial *a, const hf_trial *b)
{
    for (size_t i = 0; i < s->space.n_params; i++)
        if (!hf_value_equal(&a->values[i], &b->values[i]))
            return 0;
    return 1;
}

static void test_random_determinism(void **state)
{
    (void)state;
    hf_spec *s1 = parse_ok(RANDOM_SPEC(7, 40));
    hf_spec *s2 = parse_ok(RANDOM_SPEC(7, 40));
    hf_spec *s3 = parse_ok(RANDOM_SPEC(8, 40));
    hf_spec *s4 = parse_ok(RANDOM_SPEC(7, 5));
    hf_trial *t1 = NULL, *t2 = NULL, *t3 = NULL, *t4 = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
    expand(s1, &t1, &n1);
    expand(s2, &t2, &n2);
    expand(s3, &t3, &n3);
    expand(s4, &t4, &n4);
    assert_int_equal(n1, 40);
    assert_int_equal(n4, 5);
    size_t n_diff = 0;
    for (size_t k = 0; k < n1; k++) {
        assert_true(trials_equal(s1, &t1[k], &t2[k]));
        n_diff += !trials_equal(s1, &t1[k], &t3[k]);
    }
    assert_true(n_diff >= 39);
    /* Trial t does not depend on how many trials were asked for. */
    for (size_t k = 0; k < n4; k++)
        assert_true(trials_equal(s1, &t1[k], &t4[k]));

    long ic = idx(s1, "C"), it = idx(s1, "tol"), im = idx(s1, "max_iter");
    long ifi = idx(s1, "fit_intercept"), isc = idx(s1, "preprocess.scale");
    int seen_true = 0, seen_false = 0;
    for (size_t k = 0; k < n1; k++) {
        const hf_value *v = t1[k].values;
        assert_int_equal(v[ic].type, HF_VAL_NUMBER);
        assert_true(v[ic].u.num >= 0.01 && v[ic].u.num <= 100);
        assert_true(v[it].u.num >= 0.1 && v[it].u.num <= 0.2);
        assert_int_equal(v[im].type, HF_VAL_INT);
        assert_true(v[im].u.i >= 50 && v[im].u.i <= 60);
        assert_int_equal(v[ifi].type, HF_VAL_BOOL);
        seen_true |= v[ifi].u.b;
        seen_false |= !v[ifi].u.b;
        /* The documented draw: hf_rng_init(seed, t, 0), one draw per non-fixed parameter in spec
         * order (C, tol, max_iter, fit_intercept, then the fixed defaults, then scale). */
        hf_rng r;
        hf_rng_init(&r, 7, k, 0);
        double c = exp(log(0.01) + (log(100) - log(0.01)) * hf_rng_uniform(&r));
        double tol = 0.1 + 0.1 * hf_rng_uniform(&r);
        int64_t mi = 50 + (int64_t)hf_rng_below(&r, 11);
        int fi = hf_rng_below(&r, 2) == 0;
        const char *sc = hf_rng_below(&r, 2) == 0 ? "standard" : "none";
        assert_close(v[ic].u.num, c);
        assert_close(v[it].u.num, tol);
        assert_int_equal(v[im].u.i, mi);
        assert_int_equal(v[ifi].u.b, fi);
        assert_string_equal(v[isc].u.str, sc);
    }
    assert_true(seen_true && seen_false);
    hf_trials_free(t1, n1, s1->space.n_params);
    hf_trials_free(t2, n2, s2->space.n_params);
    hf_trials_free(t3, n3, s3->space.n_params);
    hf_trials_free(t4, n4, s4->space.n_params);
    hf_spec_free(s1);
    hf_spec_free(s2);
    hf_spec_free(s3);
    hf_spec_free(s4);
}

/* Trial t made alone (hf_space_trial_at, what a rank other than 0 runs) is trials[t] of the
 * whole expansion, for grids (with deduplicated rounded axes, a preprocessing axis, fixed
 * parameters) and random search; the maker counts as hf_space_trials does and refuses what it
 * refuses, with the same message. */
static void check_trial_at(const char *text)
{
    hf_spec *s = parse_ok(text);
    hf_trial *all = NULL;
    size_t n = 0, m = 0;
    expand(s, &all, &n);
    hf_space_maker *mk = NULL;
    assert_int_equal(hf_space_maker_new(&s->space, &s->search, s->path, &mk, &m), HF_OK);
    assert_int_equal(m, n);
    for (size_t t = 0; t < n; t++) {
        hf_trial *one = hf_trials_alloc(1, s->space.n_params);
        assert_non_null(one);
        assert_int_equal(hf_space_trial_at(mk, t, one), HF_OK);
        assert_int_equal(one->id, (int)t);
        assert_true(trials_equal(s, one, &all[t]));
        hf_trials_free(one, 1, s->space.n_params);
    }
    hf_trial *past = hf_trials_alloc(1, s->space.n_params);
    assert_true(hf_space_trial_at(mk, n, past) < 0);
    hf_trials_free(past, 1, s->space.n_params);
    hf_space_maker_free(mk);
    hf_trials_free(all, n, s->space.n_params);
    hf_spec_free(s);
}

static void test_trial_at(void **state)
{
    (void)state;
    check_trial_at(HEAD "model:\n  type: logistic_regression\n  params:\n"
                        "    C: {log_uniform: [1.0e-3, 1.0e3], grid_points: 7}\n"
                        "    tol: {uniform: [0.5, 1.5], grid_points: 5}\n"
                        "    max_iter: {int_uniform: [1, 3], grid_points: 5}\n"
                        "    fit_intercept: [true, false]\n"
                        "preprocess:\n  scale: [standard, none, minmax]\n");
    check_trial_at(RANDOM_SPEC(7, 40));
    check_trial_at(RANDOM_SPEC(3, 1));
    /* Past the cap: refused by both, with the same message. */
    const char *big = HEAD "model:\n  type: logistic_regression\n  params:\n"
                           "    C: {log_uniform: [1.0e-3, 1.0e3], grid_points: 5000}\n"
                           "    tol: {uniform: [0.5, 1.5], grid_points: 5000}\n";
    hf_spec *s = parse_ok(big);
    hf_trial *t = NULL;
    size_t n = 0;
    hf_error_clear();
    assert_true(hf_space_trials(&s->space, &s->search, s->path, &t, &n) < 0);
    char first[1024];
    snprintf(first, sizeof first, "%s", hf_error_message());
    hf_error_clear();
    hf_space_maker *mk = NULL;
    assert_true(hf_space_maker_new(&s->space, &s->search, s->path, &mk, &n) < 0);
    assert_null(mk);
    assert_string_equal(hf_error_message(), first);
    hf_spec_free(s);
}

/* A study's trials travel packed (hf_space_trials_pack): every value unpacks equal (type and
 * value) to the original, for the grid's and random search's values of every kind (choices of
 * strings and booleans, fixed values, numbers, integers) and for a value set outside a choice
 * list (hf_space_set_number, as Hyperband's resource); a value the packing cannot carry is
 * refused. */
static void check_pack(const char *text)
{
    hf_spec *s = parse_ok(text);
    hf_trial *t = NULL;
    size_t n = 0, np = s->space.n_params;
    expand(s, &t, &n);
    assert_true(n > 1);
    const hf_trial **ptrs = calloc(n, sizeof *ptrs);
    unsigned char *buf = calloc(n, HF_SPACE_PACKED(np) + 1);
    hf_trial *back = hf_trials_alloc(n, np);
    assert_non_null(ptrs);
    assert_non_null(buf);
    assert_non_null(back);
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &t[i];
    assert_int_equal(hf_space_trials_pack(&s->space, ptrs, n, buf), HF_OK);
    assert_int_equal(hf_space_trials_unpack(&s->space, buf, n, back), HF_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < np; k++)
            assert_true(hf_value_equal(&back[i].values[k], &t[i].values[k]));
    hf_trials_free(back, n, np);
    free(buf);
    free(ptrs);
    hf_trials_free(t, n, np);
    hf_spec_free(s);
}

static void test_pack(void **state)
{
    (void)state;
    check_pack(HEAD "model:\n  type: logistic_regression\n  params:\n"
                    "    C: {log_uniform: [1.0e-3, 1.0e3], grid_points: 3}\n"
                    "    max_iter: {int_uniform: [1, 3], grid_points: 2}\n"
                    "    fit_intercept: [true, false]\n"
                    "preprocess:\n  scale: [standard, none, minmax]\n");
    check_pack(RANDOM_SPEC(7, 40));
    /* A value outside the choices: a number is carried as a number, a string is refused. */
    hf_spec *s = parse_ok(HEAD "model:\n  type: logistic_regression\n  params:\n"
                               "    C: [0.5, 2]\n"
                               "preprocess:\n  scale: [standard, none]\n");
    hf_trial *t = NULL;
    size_t n = 0, np = s->space.n_params;
    expand(s, &t, &n);
    long ci = hf_space_index(&s->space, "C"), si = hf_space_index(&s->space, "preprocess.scale");
    assert_true(ci >= 0 && si >= 0);
    assert_int_equal(hf_space_set_number(&s->space, &t[0], (size_t)ci, 7.25), HF_OK);
    const hf_trial *one[1] = {&t[0]};
    unsigned char *buf = calloc(1, HF_SPACE_PACKED(np) + 1);
    hf_trial *back = hf_trials_alloc(1, np);
    assert_int_equal(hf_space_trials_pack(&s->space, one, 1, buf), HF_OK);
    assert_int_equal(hf_space_trials_unpack(&s->space, buf, 1, back), HF_OK);
    for (size_t k = 0; k < np; k++)
        assert_true(hf_value_equal(&back[0].values[k], &t[0].values[k]));
    /* An integer past 2^53 (a seed-like int_uniform) travels exactly. */
    long mi = hf_space_index(&s->space, "max_iter");
    assert_true(mi >= 0);
    hf_value_free(&t[0].values[mi]);
    t[0].values[mi].type = HF_VAL_INT;
    t[0].values[mi].u.i = (INT64_C(1) << 60) + 1;
    assert_int_equal(hf_space_trials_pack(&s->space, one, 1, buf), HF_OK);
    assert_int_equal(hf_space_trials_unpack(&s->space, buf, 1, back), HF_OK);
    assert_int_equal(back[0].values[mi].type, HF_VAL_INT);
    assert_true(back[0].values[mi].u.i == (INT64_C(1) << 60) + 1);
    hf_value_free(&t[0].values[si]);
    t[0].values[si].type = HF_VAL_STRING;
    t[0].values[si].u.str = strdup("robust-ish");
    hf_error_clear();
    assert_int_equal(hf_space_trials_pack(&s->space, one, 1, buf), HF_EINTERNAL);
    assert_non_null(strstr(hf_error_message(), "preprocess.scale"));
    hf_error_clear();
    hf_trials_free(back, 1, np);
    free(buf);
    hf_trials_free(t, n, np);
    hf_spec_free(s);
}

static void test_trial_json(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(HEAD "model:\n  type: ridge\n  params:\n    alpha: [0.01, 2]\n"
                               "    fit_intercept: false\n    max_iter: 7\n"
                               "preprocess:\n  scale: minmax\n");
    hf_trial *t = NULL;
    size_t n = 0;
    expand(s, &t, &n);
    assert_int_equal(n, 2);
    char *text = hf_trial_params_json(&s->space, &t[0]);
    assert_non_null(text);
    assert_null(strchr(text, ' ')); /* compact */
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), s->space.n_params);
    assert_true(json_is_real(json_object_get(o, "alpha")));
    assert_true(json_real_value(json_object_get(o, "alpha")) == 0.01);
    assert_true(json_is_false(json_object_get(o, "fit_intercept")));
    assert_true(json_is_integer(json_object_get(o, "max_iter")));
    assert_int_equal(json_integer_value(json_object_get(o, "max_iter")), 7);
    assert_true(json_is_real(json_object_get(o, "tol")));
    assert_string_equal(json_string_value(json_object_get(o, "preprocess.scale")), "minmax");
    /* Keys in the order of spec->params. */
    assert_int_equal(strncmp(text, "{\"alpha\":0.01,\"fit_intercept\":false,\"max_iter\":7,", 49),
                     0);
    json_decref(o);
    free(text);
    hf_trials_free(t, n, s->space.n_params);
    hf_spec_free(s);
}

static void test_print(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(RANDOM_SPEC(1, 60));
    hf_trial *t = NULL;
    size_t n = 0;
    expand(s, &t, &n);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(hf_spec_print(s, t, n, f), HF_OK);
    fclose(f);
    assert_non_null(strstr(buf, "d.csv"));
    assert_non_null(strstr(buf, "logistic_regression"));
    assert_non_null(strstr(buf, "log_uniform [0.01, 100]"));
    assert_non_null(strstr(buf, "random, 60 trials, seed 1"));
    assert_non_null(strstr(buf, "... 10 more"));
    /* 50 trial rows: ids 0..49 shown, 50 not. */
    char row[32];
    snprintf(row, sizeof row, "\n     49  ");
    assert_non_null(strstr(buf, row));
    snprintf(row, sizeof row, "\n     50  ");
    assert_null(strstr(buf, row));
    free(buf);
    hf_trials_free(t, n, s->space.n_params);
    hf_spec_free(s);
}

/* Li et al.'s table for R = 81, eta = 3 (their Table 1), rung by rung. */
static void test_hyperband_table(void **state)
{
    (void)state;
    hf_rung *r = NULL;
    size_t nr = 0, total = 0;
    assert_int_equal(hf_hyperband_plan(1, 81, 3, 1, &r, &nr, &total), HF_OK);
    static const struct {
        int s;
        size_t n;
        double res;
    } want[] = {{4, 81, 1}, {4, 27, 3}, {4, 9, 9},  {4, 3, 27}, {4, 1, 81},
                {3, 34, 3}, {3, 11, 9}, {3, 3, 27}, {3, 1, 81}, {2, 15, 9},
                {2, 5, 27}, {2, 1, 81}, {1, 8, 27}, {1, 2, 81}, {0, 5, 81}};
    assert_int_equal(nr, sizeof want / sizeof *want);
    size_t first = 0;
    for (size_t i = 0; i < nr; i++) {
        assert_int_equal(r[i].bracket, want[i].s);
        assert_int_equal(r[i].n, want[i].n);
        assert_true(r[i].resource == want[i].res);
        assert_int_equal(r[i].first, first);
        assert_int_equal(r[i].rung,
                         i == 0 || r[i - 1].bracket != r[i].bracket ? 0 : r[i - 1].rung + 1);
        first += r[i].n;
    }
    assert_int_equal(total, 206);
    free(r);
    /* A ratio that is not a power of eta: s_max = floor(log_3(100 / 2)) = 3, resources rounded. */
    assert_int_equal(hf_hyperband_plan(2, 100, 3, 1, &r, &nr, &total), HF_OK);
    assert_int_equal(r[0].bracket, 3);
    assert_int_equal(r[0].n, 27);
    assert_true(r[0].resource == 4); /* 100 / 27 = 3.7 */
    assert_true(r[nr - 1].resource == 100);
    free(r);
    /* A real-valued resource is not rounded; eta 2. */
    assert_int_equal(hf_hyperband_plan(0.125, 1, 2, 0, &r, &nr, &total), HF_OK);
    assert_int_equal(r[0].bracket, 3);
    assert_int_equal(r[0].n, 8);
    assert_true(r[0].resource == 0.125);
    free(r);
    /* min == max: one bracket of one rung. */
    assert_int_equal(hf_hyperband_plan(81, 81, 3, 1, &r, &nr, &total), HF_OK);
    assert_int_equal(nr, 1);
    assert_int_equal(r[0].n, 1);
    free(r);
    assert_int_equal(hf_hyperband_plan(10, 1, 3, 1, &r, &nr, &total), HF_EINVAL);
    hf_error_clear();
}

/* The spec resolves hyperband's resource from the model, and refuses what cannot run. */
static void test_hyperband_spec(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(HEAD "model:\n  type: xgboost\n  params:\n    n_estimators: 243\n"
                               "    max_depth: [2, 4]\nsearch: {strategy: hyperband}\n");
    assert_true(s->search.max_resource == 243);
    assert_true(s->search.min_resource == 9); /* 243 / 3^3 */
    assert_int_equal(s->search.eta, 3);
    assert_true(s->search.resource_integer);
    hf_spec_free(s);
    /* kernel_ridge has no budget of its own: the fraction of the training rows, added at 1. */
    s = parse_ok(HEAD "model:\n  type: kernel_ridge\nsearch: {strategy: hyperband}\n");
    assert_string_equal(s->search.resource, "preprocess.train_fraction");
    assert_true(s->search.max_resource == 1);
    assert_true(fabs(s->search.min_resource - 1.0 / 27) < 1e-15);
    assert_false(s->search.resource_integer);
    assert_int_equal(s->space.params[idx(s, "preprocess.train_fraction")].kind, HF_PARAM_FIXED);
    hf_spec_free(s);
    s = parse_ok(HEAD "model:\n  type: logistic_regression\nsearch: {strategy: hyperband, eta: 2, "
                      "min_resource: 10, max_resource: 160}\n");
    assert_true(s->search.max_resource == 160);
    assert_int_equal(s->search.eta, 2);
    hf_spec_free(s);
    struct {
        const char *text, *msg;
    } bad[] = {
        {HEAD "model:\n  type: kernel_ridge\npreprocess:\n  train_fraction: [0.5, 1]\nsearch: "
              "{strategy: hyperband}\n",
         "job.yaml:8:19: preprocess.train_fraction: is hyperband's resource: give it one value "
         "(the full budget, max_resource's default) or set search.max_resource, not a search"},
        {HEAD "model:\n  type: xgboost\n  params:\n    n_estimators: [10, 20]\nsearch: {strategy: "
              "hyperband}\n",
         "job.yaml:8:19: model.params.n_estimators: is hyperband's resource: give it one value "
         "(the full budget, max_resource's default) or set search.max_resource, not a search"},
        {HEAD "model:\n  type: xgboost\nsearch: {strategy: hyperband, min_resource: 200}\n",
         "job.yaml:7:45: search.min_resource: got 200, expected at most max_resource (100)"},
        {HEAD "model:\n  type: xgboost\nsearch: {strategy: tpe, eta: 3}\n",
         "job.yaml:7:30: search.eta is a setting of search.strategy hyperband and asha, not of "
         "tpe"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hf_spec *b = NULL;
        hf_error_clear();
        assert_int_equal(hf_spec_parse("job.yaml", bad[i].text, strlen(bad[i].text), &b),
                         HF_EINVAL);
        if (strcmp(hf_error_message(), bad[i].msg))
            print_error("got      %s\nexpected %s\n", hf_error_message(), bad[i].msg);
        assert_string_equal(hf_error_message(), bad[i].msg);
    }
    hf_error_clear();
}

/* TPE's defaults are resolved once the strategy is known; its budget rule. */
static void test_tpe_settings(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(HEAD "model:\n  type: ridge\n  params:\n    alpha: {log_uniform: [0.1, "
                               "10]}\nsearch: {strategy: tpe, trials: 30}\n");
    assert_int_equal(s->search.n_startup_trials, 10);
    assert_int_equal(s->search.n_ei_candidates, 24);
    assert_int_equal(s->search.multivariate, 1);
    assert_int_equal(s->search.batch, 4);
    hf_search_opts o = s->search;
    const double loss[] = {5, 4, NAN, 4, 3.999, 4.5, 6, 7};
    o.early_stop = 3;
    o.early_stop_threshold = 0;
    assert_null(hf_search_budget_stop(&o, loss, 6, 0)); /* 3.999 at trial 4: 1 since */
    assert_string_equal(hf_search_budget_stop(&o, loss, 8, 0), "early_stop");
    o.early_stop_threshold = 0.01; /* 3.999 is not enough: the last improvement is trial 1 */
    assert_string_equal(hf_search_budget_stop(&o, loss, 5, 0), "early_stop");
    o.early_stop = 0;
    o.max_time = 2;
    assert_null(hf_search_budget_stop(&o, loss, 8, 1.9));
    assert_string_equal(hf_search_budget_stop(&o, loss, 8, 2), "max_time");
    /* grid, random: the first prefix that meets early_stop (3 trials after 3.999 at trial 4:
     * the prefix of 8); none in a shorter prefix */
    o.max_time = 0;
    o.early_stop = 3;
    o.early_stop_threshold = 0;
    assert_int_equal(hf_search_early_stop_at(&o, loss, 8), 8);
    assert_int_equal(hf_search_early_stop_at(&o, loss, 7), 0);
    o.early_stop_threshold = 0.01; /* the last improvement is trial 1: 3 after it, prefix 5 */
    assert_int_equal(hf_search_early_stop_at(&o, loss, 8), 5);
    assert_int_equal(hf_search_early_stop_at(&o, loss, 4), 0);
    o.early_stop = 0;
    assert_int_equal(hf_search_early_stop_at(&o, loss, 8), 0);
    hf_spec_free(s);
}

/* Budgets and the pruner with grid and random search: accepted, with the batch and pruner
 * defaults; a grid or random sweep without them keeps its settings (and identity). */
static void test_seq_budgets(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(HEAD "model:\n  type: ridge\n  params:\n    alpha: [0.1, 1, 10]\n"
                               "search: {strategy: grid, early_stop: 2, pruner: wilcoxon}\n");
    assert_int_equal(s->search.batch, 4);
    assert_int_equal(s->search.pruner, 1);
    assert_true(s->search.pruner_p == 0.1);
    assert_int_equal(s->search.pruner_startup, 2);
    hf_spec_free(s);
    s = parse_ok(HEAD "model:\n  type: ridge\n  params:\n    alpha: [0.1, 1, 10]\n"
                      "search: {strategy: grid}\n");
    assert_int_equal(s->search.batch, -1);
    assert_true(s->search.pruner_p == 0);
    hf_spec_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_product_order),
        cmocka_unit_test(test_grid_points),
        cmocka_unit_test(test_random_determinism),
        cmocka_unit_test(test_trial_at),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_trial_json),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_hyperband_table),
        cmocka_unit_test(test_hyperband_spec),
        cmocka_unit_test(test_tpe_settings),
        cmocka_unit_test(test_seq_budgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
