/* tool_xgb_fail.c - one row_shard xgboost fit with early stopping (3 classes, log_loss: the metric
 * allocates every round) on a group of every world rank, driven by test_xgb_fail_agree.sh with
 * HF_TEST_FAIL_ALLOC=N on one rank only (Open MPI's MPMD syntax). Each rank prints one line,
 * "rank R: rc C iters I msg M", after the fit; the script compares the ranks' lines.
 * `tool_xgb_fail nofit` stops before the fit (its allocation count, HF_TEST_COUNT=1, is where the
 * fit's allocations start). Exits 0 whatever the fit did; a hang is the script's timeout. */
#define _GNU_SOURCE /* setenv */
#include "common/comm.h"
#include "common/hf.h"
#include "common/rng.h"
#include "worker/group.h"
#include "worker/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_xgboost;

#define N 600
#define NV 200
#define P 5

static void make_data(uint64_t seed, size_t n, double *X, double *c)
{
    hf_rng r;
    hf_rng_init(&r, seed, 0, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < P; j++)
            X[i * P + j] = floor(hf_rng_uniform(&r) * (double)(3 + 2 * j));
        double y = X[i * P] * X[i * P] - 0.7 * X[i * P + 1] + 0.5 * hf_rng_uniform(&r);
        double u = hf_rng_uniform(&r);
        c[i] = u < 0.15 ? 2 : (y > 2.0 ? 1 : 0);
    }
}

static void set_num(hf_value *v, const char *name, double x)
{
    long i = hf_model_param_index(&hf_model_xgboost, name);
    if (i < 0)
        return;
    if (v[i].type == HF_VAL_INT)
        v[i].u.i = (int64_t)x;
    else
        v[i].u.num = x;
}

int main(int argc, char **argv)
{
    hf_comm *world = NULL;
    if (hf_comm_init(&argc, &argv, &world) != HF_OK) {
        fprintf(stderr, "MPI init failed: %s\n", hf_error_message());
        return 1;
    }
    setenv("HF_RABIT_TIMEOUT", "30", 0); /* unless the script set one */
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    hf_group *g = NULL;
    if (hf_group_create(world, 0, 0, 0, &g) != HF_OK) {
        fprintf(stderr, "rank %d: group: %s\n", rank, hf_error_message());
        hf_comm_abort(world, 2);
    }
    static double X[N * P], c[N], Xv[NV * P], cv[NV];
    make_data(11, N, X, c);
    make_data(12, NV, Xv, cv);
    size_t lo = (size_t)N * rank / size, hi = (size_t)N * (rank + 1) / size;
    size_t vlo = (size_t)NV * rank / size, vhi = (size_t)NV * (rank + 1) / size;
    hf_value v[64];
    for (size_t i = 0; i < hf_model_xgboost.n_params; i++)
        hf_model_param_default(&hf_model_xgboost.params[i], &v[i]);
    set_num(v, "n_estimators", 30);
    set_num(v, "max_depth", 3);
    set_num(v, "n_jobs", 1);
    set_num(v, "early_stopping_rounds", 3);
    set_num(v, "subsample", 1.0);
    set_num(v, "random_state", 7);
    const hf_value *pv[1] = {v};
    hf_fit_data d = {.X = X + lo * P,
                     .n = hi - lo,
                     .p = P,
                     .y = c + lo,
                     .n_classes = 3,
                     .X_valid = Xv + vlo * P,
                     .y_valid = cv + vlo,
                     .n_valid = vhi - vlo,
                     .metric = "log_loss",
                     .group = g,
                     .row_shard = 1};
    if (argc < 2 || strcmp(argv[1], "nofit") != 0) {
        hf_fitted *m = NULL;
        int rc = hf_model_xgboost.fit(&d, pv, 1, &m);
        printf("rank %d: rc %d iters %g msg %s\n", rank, rc, m ? m->n_iter : -1.0,
               rc < 0 ? hf_error_message() : "");
        fflush(stdout);
        hf_error_clear();
        hf_fitted_free(m);
    }
    for (size_t i = 0; i < hf_model_xgboost.n_params; i++)
        hf_value_free(&v[i]);
    hf_group_free(g);
    hf_group_finalize();
    hf_comm_finalize(world);
    return 0;
}
