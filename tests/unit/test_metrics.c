/* test_metrics.c - every metric on small cases worked out by hand in the comments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/hf.h"
#include "worker/metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double score(const char *name, const double *y, const double *pred, size_t n, size_t k)
{
    const hf_metric *m = hf_metric_find(name);
    assert_non_null(m);
    double v = NAN;
    assert_int_equal(hf_metric_compute(m, y, pred, n, k, &v), HF_OK);
    return v;
}

#define assert_close(a, b) assert_true(fabs((a) - (b)) <= 1e-12 * (1.0 + fabs(b)))

static void test_table(void **state)
{
    (void)state;
    const char *names[] = {"r2",      "rmse",     "mae", "accuracy", "balanced_accuracy",
                           "roc_auc", "log_loss", "f1"};
    const int better[] = {1, 0, 0, 1, 1, 1, 0, 1};
    size_t n = 0;
    for (const hf_metric *const *m = hf_metric_all(); *m; m++)
        n++;
    assert_int_equal(n, 8);
    for (size_t i = 0; i < 8; i++) {
        const hf_metric *m = hf_metric_find(names[i]);
        assert_non_null(m);
        assert_string_equal(m->name, names[i]);
        assert_int_equal(m->greater_is_better, better[i]);
        assert_int_equal(m->task, i < 3 ? HF_TASK_REGRESSION : HF_TASK_CLASSIFICATION);
    }
    assert_null(hf_metric_find("R2"));
    const hf_metric *r2 = hf_metric_find("r2"), *mae = hf_metric_find("mae");
    assert_true(hf_metric_better(r2, 0.9, 0.8));
    assert_false(hf_metric_better(r2, 0.8, 0.8));
    assert_true(hf_metric_better(mae, 0.1, 0.2));
    assert_false(hf_metric_better(mae, NAN, 0.2));
    assert_true(hf_metric_better(mae, 5.0, NAN));
}

static void test_regression(void **state)
{
    (void)state;
    /* y mean 2.5, SS_tot = 2.25+0.25+0.25+2.25 = 5; errors 0.5,-0.5,0,1: SS_res = 1.5 */
    const double y[] = {1, 2, 3, 4};
    const double p[] = {0.5, 2.5, 3, 3};
    assert_close(score("r2", y, p, 4, 0), 1.0 - 1.5 / 5.0);
    assert_close(score("rmse", y, p, 4, 0), sqrt(1.5 / 4.0));
    assert_close(score("mae", y, p, 4, 0), 2.0 / 4.0);
    /* constant target: perfect prediction 1.0, any error 0.0 (sklearn force_finite) */
    const double c[] = {3, 3, 3};
    const double pc[] = {3, 3, 3};
    const double pw[] = {3, 3, 2};
    assert_close(score("r2", c, pc, 3, 0), 1.0);
    assert_close(score("r2", c, pw, 3, 0), 0.0);
    /* predicting the mean gives 0, worse than the mean is negative */
    const double pm[] = {2.5, 2.5, 2.5, 2.5};
    assert_close(score("r2", y, pm, 4, 0), 0.0);
    const double pb[] = {4, 3, 2, 1}; /* SS_res = 9+1+1+9 = 20 */
    assert_close(score("r2", y, pb, 4, 0), 1.0 - 20.0 / 5.0);
}

static void test_accuracy_f1(void **state)
{
    (void)state;
    /* binary probabilities; argmax: 1,0,1,1,0 (row 4 tie 0.5/0.5 -> class 0) */
    const double y[] = {1, 0, 0, 1, 1};
    const double p[] = {0.2, 0.8, 0.9, 0.1, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5};
    assert_close(score("accuracy", y, p, 5, 2), 3.0 / 5.0);
    /* class 1: tp=2 (rows 0,3), fp=1 (row 2), fn=1 (row 4): f1 = 4/(4+1+1) */
    assert_close(score("f1", y, p, 5, 2), 4.0 / 6.0);
    /* no positives anywhere: 0 (zero_division) */
    const double y0[] = {0, 0};
    const double p0[] = {0.9, 0.1, 0.8, 0.2};
    assert_close(score("f1", y0, p0, 2, 2), 0.0);

    /* 3 classes, predictions 0,1,1,2,0,1; truth 0,1,2,2,1,0
     * class 0: tp1 fp1 fn1 -> 2/4; class 1: tp1 fp2 fn1 -> 2/5; class 2: tp1 fp0 fn1 -> 2/3 */
    const double y3[] = {0, 1, 2, 2, 1, 0};
    const double p3[] = {.6, .3, .1, .1, .8, .1, .2, .5, .3, .1, .1, .8, .5, .4, .1, .3, .4, .3};
    assert_close(score("accuracy", y3, p3, 6, 3), 3.0 / 6.0);
    assert_close(score("f1", y3, p3, 6, 3), (0.5 + 0.4 + 2.0 / 3.0) / 3.0);
    /* 4 classes, class 3 never true nor predicted: contributes 0 to the macro average */
    const double p4[] = {.6, .3, .1, 0, .1, .8, .1, 0, .2, .5, .3, 0,
                         .1, .1, .8, 0, .5, .4, .1, 0, .3, .4, .3, 0};
    assert_close(score("f1", y3, p4, 6, 4), (0.5 + 0.4 + 2.0 / 3.0) / 4.0);

    /* balanced accuracy: recall per class present. Binary: class 0 rows 1,2 -> predicted 0,1:
     * 1/2; class 1 rows 0,3,4 -> 1,1,0: 2/3. */
    assert_close(score("balanced_accuracy", y, p, 5, 2), (0.5 + 2.0 / 3.0) / 2.0);
    /* 3 classes: class 0 rows 0,5 -> 0,1: 1/2; class 1 rows 1,4 -> 1,0: 1/2; class 2 rows 2,3 ->
     * 1,2: 1/2. */
    assert_close(score("balanced_accuracy", y3, p3, 6, 3), 0.5);
    /* Class 3 is absent from y: it is not averaged (scikit-learn's rule), unlike f1. */
    assert_close(score("balanced_accuracy", y3, p4, 6, 4), 0.5);
}

static void test_log_loss(void **state)
{
    (void)state;
    const double y[] = {0, 1, 1};
    const double p[] = {0.8, 0.2, 0.4, 0.6, 0.1, 0.9};
    assert_close(score("log_loss", y, p, 3, 2), -(log(0.8) + log(0.6) + log(0.9)) / 3.0);
    /* rows are renormalised: (0.2, 0.6) -> (0.25, 0.75) */
    const double q[] = {0.2, 0.6};
    const double y1[] = {1};
    assert_close(score("log_loss", y1, q, 1, 2), -log(0.75));
    /* a zero probability of the true class is clipped to DBL_EPSILON, not infinite */
    const double z[] = {1.0, 0.0};
    double v = score("log_loss", y1, z, 1, 2);
    assert_true(isfinite(v));
    assert_true(fabs(v - (-log(2.220446049250313e-16 / (1.0 + 2.220446049250313e-16)))) < 1e-9);
}

static void test_roc_auc(void **state)
{
    (void)state;
    /* positives scored .8,.4; negatives .1,.4,.35 -> pairs: (.8>all)=3, (.4: >.1,>.35, tie .4)
     * = 2.5 -> AUC = 5.5 / 6 */
    const double y[] = {1, 0, 1, 0, 0};
    const double p[] = {.2, .8, .9, .1, .6, .4, .6, .4, .65, .35};
    assert_close(score("roc_auc", y, p, 5, 2), 5.5 / 6.0);
    /* perfect ranking = 1, reversed = 0, all tied = 0.5 */
    const double yb[] = {0, 1};
    const double good[] = {.9, .1, .1, .9}, bad[] = {.1, .9, .9, .1}, tie[] = {.5, .5, .5, .5};
    assert_close(score("roc_auc", yb, good, 2, 2), 1.0);
    assert_close(score("roc_auc", yb, bad, 2, 2), 0.0);
    assert_close(score("roc_auc", yb, tie, 2, 2), 0.5);
    /* 3 classes one-vs-rest: class 0 scores (.7,.2,.1) for y = (0,1,2): AUC 1; class 1 scores
     * (.2,.5,.6): positive .5 beats .2 only -> 0.5; class 2 scores (.1,.3,.3): positive .3
     * beats .1, ties .3 -> 0.75 */
    const double y3[] = {0, 1, 2};
    const double p3[] = {.7, .2, .1, .2, .5, .3, .1, .6, .3};
    assert_close(score("roc_auc", y3, p3, 3, 3), (1.0 + 0.5 + 0.75) / 3.0);

    /* Many rows (the radix sort's digits all differ), negative scores, -0 and +0 (equal, so a tie),
     * many exact ties: equal to the pairwise definition P(s+ > s-) + P(s+ == s-) / 2. */
    enum { N = 3000 };
    static double yy[N], pp[2 * N];
    uint64_t st = 12345;
    for (size_t i = 0; i < N; i++) {
        st = st * 6364136223846793005u + 1442695040888963407u;
        yy[i] = (double)((st >> 33) % 3 == 0);
        double v = (double)((st >> 20) % 2001) / 100.0 - 10.0; /* -10.00 .. 10.00: ties */
        if (i % 97 == 0)
            v = i % 2 ? -0.0 : 0.0;
        if (i % 13 == 0)
            v *= 1e-300; /* subnormal and tiny values */
        v += yy[i] * 0.5;
        pp[2 * i] = -v;
        pp[2 * i + 1] = v;
    }
    double wins = 0.0, pairs = 0.0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            if (yy[i] == 1.0 && yy[j] == 0.0) {
                pairs += 1.0;
                wins += pp[2 * i + 1] > pp[2 * j + 1]    ? 1.0
                        : pp[2 * i + 1] == pp[2 * j + 1] ? 0.5
                                                         : 0.0;
            }
    assert_close(score("roc_auc", yy, pp, N, 2), wins / pairs);
}

static void test_errors(void **state)
{
    (void)state;
    const hf_metric *auc = hf_metric_find("roc_auc"), *r2 = hf_metric_find("r2");
    const hf_metric *acc = hf_metric_find("accuracy");
    double v = 0.0;
    const double y[] = {1, 1};
    const double p[] = {.2, .8, .3, .7};
    hf_error_clear();
    assert_int_equal(hf_metric_compute(auc, y, p, 2, 2, &v), HF_ENUM);
    assert_non_null(strstr(hf_error_message(), "one class"));
    hf_error_clear();
    assert_int_equal(hf_metric_compute(r2, y, p, 0, 0, &v), HF_EDATA);
    hf_error_clear();
    const double ybad[] = {0, 2};
    assert_int_equal(hf_metric_compute(acc, ybad, p, 2, 2, &v), HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "y_true[1]"));
    hf_error_clear();
    const double pn[] = {NAN, 1.0};
    assert_int_equal(hf_metric_compute(r2, y, pn, 2, 0, &v), HF_ENUM);
    hf_error_clear();
    assert_int_equal(hf_metric_compute(r2, y, p, 2, 2, &v), HF_EDATA);
    hf_error_clear();
}

/* Scoring in blocks (the worker's validation rows, PREDICT_ROWS at a time) gives the bits of
 * hf_metric_compute on all the rows, for blocks of any sizes, and the same messages with the row
 * numbers of the whole set. */
static void test_blocks(void **state)
{
    (void)state;
    enum { N = 3001, K = 3 };
    static double y[N], yc[N], pr[N], pc[N * K];
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < N; i++) {
        double u[K + 2];
        for (size_t j = 0; j < K + 2; j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            u[j] = (double)(x >> 11) / 9007199254740992.0;
        }
        y[i] = 1000.0 * u[0] + 1e-3 * (double)i;
        pr[i] = y[i] + 50.0 * (u[1] - 0.5);
        yc[i] = (double)(i % K);
        for (size_t j = 0; j < K; j++)
            pc[i * K + j] = u[2 + j] + (j == i % K ? 0.3 * u[1] : 0.0);
    }
    const size_t blocks[] = {1, 7, 1024, 3000, N};
    const hf_metric *const *all = hf_metric_all();
    size_t blocked = 0;
    for (size_t mi = 0; all[mi]; mi++) {
        const hf_metric *m = all[mi];
        if (!hf_metric_blocks(m)) {
            assert_string_equal(m->name, "roc_auc"); /* needs every row at once */
            continue;
        }
        blocked++;
        const int cls = m->task == HF_TASK_CLASSIFICATION;
        const size_t k = cls ? K : 0, cols = cls ? K : 1;
        const double *yy = cls ? yc : y, *pp = cls ? pc : pr;
        double whole = NAN;
        assert_int_equal(hf_metric_compute(m, yy, pp, N, k, &whole), HF_OK);
        for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
            const size_t b = blocks[bi];
            hf_metric_acc a;
            assert_int_equal(hf_metric_acc_init(&a, m, k), HF_OK);
            for (size_t r0 = 0; r0 < N; r0 += b)
                assert_int_equal(hf_metric_acc_targets(&a, yy + r0, N - r0 < b ? N - r0 : b),
                                 HF_OK);
            for (size_t r0 = 0; r0 < N; r0 += b)
                assert_int_equal(
                    hf_metric_acc_add(&a, yy + r0, pp + r0 * cols, N - r0 < b ? N - r0 : b), HF_OK);
            double v = NAN;
            assert_int_equal(hf_metric_acc_finish(&a, &v), HF_OK);
            hf_metric_acc_free(&a);
            assert_memory_equal(&v, &whole, sizeof v); /* the same bits */
        }
    }
    assert_int_equal(blocked, 7);
    /* A non-finite prediction of row 2050, met in the third block of 1024: the message names
     * the row of the whole set, as hf_metric_compute's does. */
    const hf_metric *r2 = hf_metric_find("r2");
    const double keep = pr[2050];
    pr[2050] = NAN;
    char whole_msg[256];
    double v = 0.0;
    hf_error_clear();
    assert_int_equal(hf_metric_compute(r2, y, pr, N, 0, &v), HF_ENUM);
    snprintf(whole_msg, sizeof whole_msg, "%s", hf_error_message());
    assert_non_null(strstr(whole_msg, "row 2050"));
    hf_error_clear();
    hf_metric_acc a;
    assert_int_equal(hf_metric_acc_init(&a, r2, 0), HF_OK);
    int rc = HF_OK;
    for (size_t r0 = 0; r0 < N; r0 += 1024)
        assert_int_equal(hf_metric_acc_targets(&a, y + r0, N - r0 < 1024 ? N - r0 : 1024), HF_OK);
    for (size_t r0 = 0; r0 < N && rc >= 0; r0 += 1024)
        rc = hf_metric_acc_add(&a, y + r0, pr + r0, N - r0 < 1024 ? N - r0 : 1024);
    assert_int_equal(rc, HF_ENUM);
    assert_string_equal(hf_error_message(), whole_msg);
    hf_error_clear();
    hf_metric_acc_free(&a);
    pr[2050] = keep;
    /* A class index out of range in the targets' pass, and no rows at all. */
    const hf_metric *accm = hf_metric_find("accuracy");
    assert_int_equal(hf_metric_acc_init(&a, accm, K), HF_OK);
    const double ybad[] = {0, 1, 5};
    assert_int_equal(hf_metric_acc_targets(&a, yc, 4), HF_OK);
    assert_int_equal(hf_metric_acc_targets(&a, ybad, 3), HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "y_true[6]"));
    hf_error_clear();
    hf_metric_acc_free(&a);
    assert_int_equal(hf_metric_acc_init(&a, r2, 0), HF_OK);
    assert_int_equal(hf_metric_acc_finish(&a, &v), HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "no rows to score"));
    hf_error_clear();
    hf_metric_acc_free(&a);
    assert_int_equal(hf_metric_acc_init(&a, hf_metric_find("roc_auc"), 2), HF_EINTERNAL);
    hf_error_clear();
    hf_metric_acc_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_regression),
        cmocka_unit_test(test_accuracy_f1), cmocka_unit_test(test_log_loss),
        cmocka_unit_test(test_roc_auc),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
