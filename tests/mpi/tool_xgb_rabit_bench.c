/* tool_xgb_rabit_bench.c - times xgboost on row shards over the whole world as one group (driven
 * by bench/xgb_rabit.sh): every rank makes only its block of an n x p table (a row's values depend
 * on the row alone), then fits `rounds` rounds three times (the first start includes the tracker's
 * start; the others reuse it), and rank 0 prints the fit times, the booster's size and a checksum
 * of the predictions of the first 1000 rows (equal at every rank count when the cuts are exact).
 * Usage: tool_xgb_rabit_bench N P ROUNDS MAX_BIN. Not a test: no assertion on times. */
#include "common/comm.h"
#include "common/hf.h"
#include "common/rng.h"
#include "worker/group.h"
#include "worker/model.h"
#include "worker/rabit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

extern const hf_model_ops hf_model_xgboost;

#define P_MAX 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Row i of the table: integer features (exact cuts: 16 distinct values each) and its target. */
static void make_row(size_t i, size_t p, double *x, double *y)
{
    hf_rng r;
    hf_rng_init(&r, 5, (uint64_t)i, 0);
    for (size_t j = 0; j < p; j++)
        x[j] = floor(16.0 * hf_rng_uniform(&r));
    *y = x[0] * x[0] / 16.0 - x[1] + 0.5 * x[2 % p] + hf_rng_uniform(&r);
}

int main(int argc, char **argv)
{
    hf_comm *world = NULL;
    if (hf_comm_init(&argc, &argv, &world) != HF_OK || argc != 5) {
        fprintf(stderr, "usage: tool_xgb_rabit_bench N P ROUNDS MAX_BIN (under mpirun)\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[1], NULL, 10), p = (size_t)strtoull(argv[2], NULL, 10);
    int rounds = atoi(argv[3]), max_bin = atoi(argv[4]);
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    if (p == 0 || p > P_MAX || n == 0 || rounds < 1) {
        if (rank == 0)
            fprintf(stderr, "tool_xgb_rabit_bench: expected N >= 1, 1 <= P <= %d, ROUNDS >= 1\n",
                    P_MAX);
        hf_comm_finalize(world);
        return 2;
    }
    hf_group *g = NULL;
    if (hf_group_create(world, 0, 0, 0, &g) != HF_OK) {
        fprintf(stderr, "group: %s\n", hf_error_message());
        return 1;
    }
    size_t lo = n * (size_t)rank / (size_t)size, hi = n * (size_t)(rank + 1) / (size_t)size;
    double *X = malloc((hi - lo) * p * sizeof *X), *y = malloc((hi - lo) * sizeof *y);
    for (size_t i = lo; i < hi; i++)
        make_row(i, p, X + (i - lo) * p, y + (i - lo));
    hf_value v[32];
    for (size_t i = 0; i < hf_model_xgboost.n_params; i++)
        hf_model_param_default(&hf_model_xgboost.params[i], &v[i]);
    v[hf_model_param_index(&hf_model_xgboost, "n_estimators")].u.i = rounds;
    v[hf_model_param_index(&hf_model_xgboost, "max_bin")].u.i = max_bin;
    v[hf_model_param_index(&hf_model_xgboost, "n_jobs")].u.i = 1;
    const hf_value *pv[1] = {v};
    hf_fit_data d = {
        .X = X, .n = hi - lo, .p = p, .y = y, .group = g, .row_shard = size > 1 ? 1 : 0};
    double t[3] = {0};
    hf_fitted *m = NULL;
    int rc = HF_OK;
    for (int k = 0; k < 3 && rc == HF_OK; k++) {
        hf_fitted_free(m);
        m = NULL;
        hf_comm_barrier(world);
        double t0 = now_s();
        rc = hf_model_xgboost.fit(&d, pv, 1, &m);
        t[k] = now_s() - t0;
    }
    /* The communicator alone: join and leave, without training. */
    double tj = 0, tl = 0;
    for (int k = 0; k < 3 && rc == HF_OK && size > 1; k++) {
        hf_comm_barrier(world);
        double t0 = now_s();
        rc = hf_rabit_begin(world);
        double t1 = now_s();
        if (rc == HF_OK)
            rc = hf_rabit_end(world);
        tj += (t1 - t0) / 3;
        tl += (now_s() - t1) / 3;
    }
    if (rank == 0 && size > 1)
        printf("  joining the Rabit communicator %.3f s, leaving it %.3f s (mean of 3)\n", tj, tl);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss[2] = {(double)ru.ru_maxrss / 1024.0, (double)ru.ru_maxrss / 1024.0};
    hf_comm_allreduce_max_f64(world, &rss[0], 1);
    hf_comm_allreduce_sum_f64(world, &rss[1], 1);
    if (rank == 0)
        printf("  peak RSS: largest rank %.0f MiB, all ranks %.0f MiB\n", rss[0], rss[1]);
    if (rc != HF_OK) {
        fprintf(stderr, "[rank %d] fit: %s\n", rank, hf_error_message());
    } else if (rank == 0) {
        size_t k = n < 1000 ? n : 1000;
        double *Xk = malloc(k * p * sizeof *Xk), *yk = malloc(k * sizeof *yk),
               *pk = malloc(k * sizeof *pk), sum = 0;
        for (size_t i = 0; i < k; i++)
            make_row(i, p, Xk + i * p, yk + i);
        if (hf_model_xgboost.predict(m, NULL, Xk, k, p, pk) == HF_OK)
            for (size_t i = 0; i < k; i++)
                sum += pk[i];
        hf_model_xgboost.save_state(m);
        const hf_blob *b = hf_fitted_blob(m, "booster");
        printf("xgboost %zu x %zu, %d rounds, max_bin %d, %d rank(s)%s: fit %.3f s (first%s), "
               "%.3f s, %.3f s; booster %zu bytes; sum of 1000 predictions %.17g\n",
               n, p, rounds, max_bin, size, size > 1 ? " on row shards" : "", t[0],
               size > 1 ? ", with the tracker's start"
                        : "; the next fits reuse its data matrix from the cache",
               t[1], t[2], b ? b->len : 0, sum);
        free(Xk);
        free(yk);
        free(pk);
    }
    hf_fitted_free(m);
    for (size_t i = 0; i < hf_model_xgboost.n_params; i++)
        hf_value_free(&v[i]);
    free(X);
    free(y);
    hf_rabit_release(world);
    hf_group_free(g);
    hf_group_finalize();
    hf_comm_finalize(world);
    return rc == HF_OK ? 0 : 1;
}
