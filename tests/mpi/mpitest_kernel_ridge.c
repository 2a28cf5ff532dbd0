/* mpitest_kernel_ridge.c - the kernel_ridge model on worker groups, run at 1, 2 and 4 ranks.
 *
 * Self-test (default): for every group size dividing the world (1, 2, 4: grids 1x1, 1x2, 2x2, plus
 * 2x1, 4x1 and 1x4) and block sizes from 1 to more than n = 50 (4 divides neither n = 50 nor
 * m = 17), fits rbf, polynomial
 * and linear kernels (with shared-kernel alpha sweeps and a mixed call) and checks that dual
 * coefficients and predictions equal, to 1e-9 relative, those of the one-rank LAPACK path computed
 * in this program; the LAPACK path itself is checked against a naive kernel matrix solved with
 * LAPACKE_dgesv. Also checks can_share, the memory refusal message and parameter errors.
 *
 * File mode (HF_KRR_INPUT set; used by tests/peer/test_kernel_ridge_peer.py and
 * bench/kernel_ridge.sh): the whole world is one group. Input: raw float64 [n, p, m, X (n x p),
 * y (n), X_test (m x p)]. Environment: HF_KRR_KERNEL (rbf), HF_KRR_ALPHAS (comma list, "1"),
 * HF_KRR_GAMMA (0 = 1/p), HF_KRR_DEGREE (3), HF_KRR_COEF0 (1), HF_KRR_NB (block size, 0 =
 * default), HF_KRR_GRID ("RxC", default auto), HF_KRR_MEMORY (bytes per rank, 0), HF_KRR_DGEMM
 * (N: measure an N x N DGEMM on every rank after the fit). Rank 0 writes the predictions (raw
 * float64, one row of m per alpha) to HF_KRR_OUTPUT and one JSON line of timings to stdout. */
#include "common/hf.h"
#include "common/rng.h"
#include "common/comm.h"
#include "tests/mpi/mpitest.h"
#include "worker/dist.h"
#include "worker/group.h"
#include "worker/model.h"

#include <cblas.h>
#include <errno.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

extern const hf_model_ops hf_model_kernel_ridge;

enum { P_ALPHA = 0, P_KERNEL, P_GAMMA, P_DEGREE, P_COEF0, N_PARAMS };

static char s_linear[] = "linear", s_rbf[] = "rbf", s_poly[] = "polynomial";

/* One parameter set. gamma 0 = default (1/p). */
static void set_params(hf_value *v, double alpha, char *kernel, double gamma, int degree,
                       double coef0)
{
    v[P_ALPHA] = (hf_value){HF_VAL_NUMBER, {.num = alpha}};
    v[P_KERNEL] = (hf_value){HF_VAL_STRING, {.str = kernel}};
    v[P_GAMMA] = (hf_value){HF_VAL_NUMBER, {.num = gamma}};
    v[P_DEGREE] = (hf_value){HF_VAL_INT, {.i = degree}};
    v[P_COEF0] = (hf_value){HF_VAL_NUMBER, {.num = coef0}};
}

/* Relative differences with a floor of 1e-3 on the reference's magnitude. */
static double max_rel_diff(const double *a, const double *b, size_t n)
{
    return mpitest_max_rel_diff(a, b, n, 1e-3);
}

static void random_matrix(uint64_t seed, double *a, size_t n)
{
    hf_rng r;
    hf_rng_init(&r, seed, 0, 0);
    for (size_t i = 0; i < n; i++)
        a[i] = 2.0 * hf_rng_uniform(&r) - 1.0;
}

/* Naive kernel value, straight from the definitions. */
static double naive_kernel(const hf_value *v, const double *a, const double *b, size_t p)
{
    double gamma = v[P_GAMMA].u.num > 0 ? v[P_GAMMA].u.num : 1.0 / (double)p;
    double dot = 0.0, d2 = 0.0;
    for (size_t j = 0; j < p; j++) {
        dot += a[j] * b[j];
        d2 += (a[j] - b[j]) * (a[j] - b[j]);
    }
    if (strcmp(v[P_KERNEL].u.str, "rbf") == 0)
        return exp(-gamma * d2);
    if (strcmp(v[P_KERNEL].u.str, "polynomial") == 0)
        return pow(gamma * dot + v[P_COEF0].u.num, (double)v[P_DEGREE].u.i);
    return dot;
}

/* Naive predictions: (K + alpha I) c = y by LU, then K(Xt, X) c. */
static void naive_predict(const hf_value *v, const double *X, const double *y, size_t n, size_t p,
                          const double *Xt, size_t m, double *pred)
{
    double *A = malloc(n * n * sizeof(double)), *c = malloc(n * sizeof(double));
    lapack_int *piv = malloc(n * sizeof(lapack_int));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            A[i * n + j] = naive_kernel(v, X + i * p, X + j * p, p);
        A[i * n + i] += v[P_ALPHA].u.num;
        c[i] = y[i];
    }
    int info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, (lapack_int)n, 1, A, (lapack_int)n, piv, c, 1);
    CHECK(info == 0, "naive dgesv info %d", info);
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        for (size_t j = 0; j < n; j++)
            s += naive_kernel(v, Xt + i * p, X + j * p, p) * c[j];
        pred[i] = s;
    }
    free(A);
    free(c);
    free(piv);
}

enum { N = 50, P = 5, M = 17, MAX_T = 4 };

typedef struct call {
    size_t n_trials;
    hf_value params[MAX_T][N_PARAMS];
} call;

/* Fits one call on group g (NULL = LAPACK path) and predicts with g active; pred is n_trials x M,
 * dual n_trials x N. */
static int run_call(hf_group *g, const call *c, const double *X, const double *y, const double *Xt,
                    double *pred, double *dual)
{
    hf_fit_data d = {.X = X, .n = N, .p = P, .y = y, .n_classes = 0, .group = g};
    const hf_value *pp[MAX_T];
    hf_fitted *out[MAX_T] = {0};
    int rc;

    for (size_t t = 0; t < c->n_trials; t++)
        pp[t] = c->params[t];
    rc = hf_model_kernel_ridge.fit(&d, pp, c->n_trials, out);
    if (rc != HF_OK)
        return rc;
    for (size_t t = 0; t < c->n_trials && rc == HF_OK; t++) {
        const hf_array *dc = hf_fitted_get(out[t], "dual_coef");
        const hf_array *xf = hf_fitted_get(out[t], "X_fit");
        const hf_array *kp = hf_fitted_get(out[t], "kernel_params");
        CHECK(dc && dc->rows == N && dc->cols == 1 && xf && xf->rows == N && xf->cols == P && kp &&
                  kp->rows * kp->cols == 4,
              "fitted arrays missing or misshapen");
        if (!dc)
            return HF_EINTERNAL;
        memcpy(dual + t * N, dc->data, N * sizeof(double));
        rc = hf_model_kernel_ridge.predict(out[t], g, Xt, M, P, pred + t * M);
    }
    for (size_t t = 0; t < c->n_trials; t++)
        hf_fitted_free(out[t]);
    return rc;
}

static void make_calls(call *calls, size_t *n_calls)
{
    size_t k = 0;
    calls[k].n_trials = 3; /* alpha sweep sharing one rbf kernel (default gamma) */
    set_params(calls[k].params[0], 0.1, s_rbf, 0.0, 3, 1.0);
    set_params(calls[k].params[1], 1.0, s_rbf, 0.0, 3, 1.0);
    set_params(calls[k].params[2], 3.0, s_rbf, 0.0, 3, 1.0);
    k++;
    calls[k].n_trials = 1;
    set_params(calls[k].params[0], 0.5, s_rbf, 0.3, 3, 1.0);
    k++;
    calls[k].n_trials = 2;
    set_params(calls[k].params[0], 1.0, s_poly, 0.2, 3, 1.0);
    set_params(calls[k].params[1], 0.05, s_poly, 0.5, 2, 0.5);
    k++;
    calls[k].n_trials = 1;
    set_params(calls[k].params[0], 2.0, s_linear, 0.0, 3, 1.0);
    k++;
    calls[k].n_trials = 4; /* mixed kernels: K rebuilt and kept correctly */
    set_params(calls[k].params[0], 1.0, s_rbf, 0.0, 3, 1.0);
    set_params(calls[k].params[1], 1.0, s_linear, 0.0, 3, 1.0);
    set_params(calls[k].params[2], 2.0, s_rbf, 0.0, 3, 1.0);
    set_params(calls[k].params[3], 0.7, s_rbf, 0.0, 3, 1.0);
    k++;
    *n_calls = k;
}

static void self_test(hf_comm *world)
{
    double X[N * P], y[N], Xt[M * P];
    call calls[8];
    size_t n_calls;
    double ref_pred[8][MAX_T * M], ref_dual[8][MAX_T * N];
    int ws = hf_comm_size(world);

    random_matrix(1, X, N * P);
    random_matrix(2, Xt, M * P);
    for (size_t i = 0; i < N; i++)
        y[i] = sin(3.0 * X[i * P]) + X[i * P + 1] * X[i * P + 2] + 0.1 * X[i * P + 3];
    make_calls(calls, &n_calls);

    /* The one-rank LAPACK path, checked against the naive computation. */
    for (size_t c = 0; c < n_calls; c++) {
        int rc = run_call(NULL, &calls[c], X, y, Xt, ref_pred[c], ref_dual[c]);
        CHECK(rc == HF_OK, "LAPACK path call %zu: %s", c, hf_error_message());
        for (size_t t = 0; t < calls[c].n_trials; t++) {
            double naive[M];
            naive_predict(calls[c].params[t], X, y, N, P, Xt, M, naive);
            double d = max_rel_diff(ref_pred[c] + t * M, naive, M);
            CHECK(d < 1e-8, "call %zu trial %zu (%s): LAPACK path differs from naive by %g", c, t,
                  calls[c].params[t][P_KERNEL].u.str, d);
        }
    }

    /* can_share: equal except alpha. */
    CHECK(hf_model_kernel_ridge.can_share(calls[0].params[0], calls[0].params[2]) == 1,
          "alpha-only difference not shared");
    CHECK(hf_model_kernel_ridge.can_share(calls[0].params[0], calls[1].params[0]) == 0,
          "different gamma shared");
    CHECK(hf_model_kernel_ridge.can_share(calls[2].params[0], calls[2].params[1]) == 0,
          "different degree shared");

    /* Classification targets are refused. */
    {
        hf_fit_data d = {.X = X, .n = N, .p = P, .y = y, .n_classes = 2, .group = NULL};
        const hf_value *pp[1] = {calls[1].params[0]};
        hf_fitted *out[1] = {NULL};
        hf_error_clear();
        int rc = hf_model_kernel_ridge.fit(&d, pp, 1, out);
        CHECK(rc == HF_EINVAL && out[0] == NULL, "classification accepted: rc %d", rc);
        hf_error_clear();
    }

    static const int shapes[][3] = {{1, 0, 0}, {2, 0, 0}, {2, 2, 1}, {2, 1, 2},
                                    {4, 0, 0}, {4, 4, 1}, {4, 1, 4}};
    /* From 1 to more than n = 50 (one block holds the whole kernel matrix). */
    static const int blocks[] = {1, 3, 4, 16, 50, 64, 128};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
        for (size_t bl = 0; bl < sizeof blocks / sizeof blocks[0]; bl++) {
            int gs = shapes[s][0];
            if (ws % gs != 0)
                continue;
            hf_comm *sub = NULL;
            hf_group *g = NULL;
            if (mpitest_group(world, gs, shapes[s][1], shapes[s][2], blocks[bl], &sub, &g) != HF_OK)
                continue;
            for (size_t c = 0; c < n_calls; c++) {
                double pred[MAX_T * M], dual[MAX_T * N];
                int rc = run_call(g, &calls[c], X, y, Xt, pred, dual);
                CHECK(rc == HF_OK, "group of %d (%dx%d, block %d) call %zu: %s", gs,
                      hf_group_nprow(g), hf_group_npcol(g), blocks[bl], c, hf_error_message());
                if (rc != HF_OK)
                    continue;
                size_t T = calls[c].n_trials;
                double dp = max_rel_diff(pred, ref_pred[c], T * M);
                double dd = max_rel_diff(dual, ref_dual[c], T * N);
                CHECK(
                    dp < 1e-9 && dd < 1e-9,
                    "group %dx%d block %d call %zu: predictions differ by %g, dual_coef by %g from "
                    "LAPACK",
                    hf_group_nprow(g), hf_group_npcol(g), blocks[bl], c, dp, dd);
            }

            /* Memory refusal through the model: two 50x50 matrices do not fit in 1 KiB. */
            hf_group_set_memory_limit(g, 1024);
            {
                hf_fit_data d = {.X = X, .n = N, .p = P, .y = y, .n_classes = 0, .group = g};
                const hf_value *pp[3] = {calls[0].params[0], calls[0].params[1],
                                         calls[0].params[2]};
                hf_fitted *out[3] = {NULL, NULL, NULL};
                hf_error_clear();
                int rc = hf_model_kernel_ridge.fit(&d, pp, 3, out);
                const char *msg = hf_error_message();
                CHECK(rc == HF_EINVAL && out[0] == NULL, "memory limit not enforced: rc %d", rc);
                /* 1 KiB holds 128 doubles: two blocks of more than 8 x 8 fit on no grid. */
                const char *hint = blocks[bl] * blocks[bl] * 2 * 8 > 1024
                                       ? "parallel.block_size <= 8"
                                       : "parallel.ranks_per_task >= ";
                CHECK(strstr(msg, "kernel_ridge") && strstr(msg, "memory_per_rank") &&
                          strstr(msg, hint),
                      "memory refusal message (block %d): %s", blocks[bl], msg);
                hf_error_clear();
            }
            hf_group_free(g);
            g = NULL;
            hf_comm_free(sub);
            sub = NULL;
        }
}

/* ---- file mode ---- */

static double env_num(const char *name, double dflt)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return dflt;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0') {
        fprintf(stderr, "%s=%s: expected a number\n", name, s);
        exit(2);
    }
    return v;
}

static double *read_input(const char *path, size_t *n, size_t *p, size_t *m)
{
    FILE *f = fopen(path, "rb");
    double hdr[3], *buf = NULL;
    if (f == NULL || fread(hdr, sizeof(double), 3, f) != 3) {
        fprintf(stderr, "%s: cannot read the header\n", path);
        exit(2);
    }
    *n = (size_t)hdr[0];
    *p = (size_t)hdr[1];
    *m = (size_t)hdr[2];
    size_t total = *n * *p + *n + *m * *p;
    buf = malloc(total * sizeof(double));
    if (buf == NULL || fread(buf, sizeof(double), total, f) != total) {
        fprintf(stderr, "%s: expected %zu values after the header\n", path, total);
        exit(2);
    }
    fclose(f);
    return buf;
}

static double dgemm_gflops(size_t n)
{
    double *a = malloc(n * n * sizeof(double)), *b = malloc(n * n * sizeof(double)),
           *c = malloc(n * n * sizeof(double));
    random_matrix(7, a, n * n);
    random_matrix(8, b, n * n);
    double best = INFINITY;
    for (int r = 0; r < 3; r++) {
        double t0 = hf_now();
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, a,
                    (int)n, b, (int)n, 0.0, c, (int)n);
        best = fmin(best, hf_now() - t0);
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)n * (double)n * (double)n / best / 1e9;
}

static int file_mode(hf_comm *world, const char *input)
{
    int result = HF_OK;
    size_t n, p, m, T = 0;
    double *data = read_input(input, &n, &p, &m);
    double alphas[64];
    hf_value params[64][N_PARAMS];
    const hf_value *pp[64];
    hf_fitted *out[64] = {0};
    hf_group *g = NULL;
    double *pred = NULL;
    const char *kernel = getenv("HF_KRR_KERNEL") ? getenv("HF_KRR_KERNEL") : "rbf";
    char *kcopy = hf_strdup(kernel);
    const char *alist = getenv("HF_KRR_ALPHAS") ? getenv("HF_KRR_ALPHAS") : "1";
    int nprow = 0, npcol = 0;
    const char *grid = getenv("HF_KRR_GRID");

    while (*alist && T < 64) {
        char *end = NULL;
        alphas[T++] = strtod(alist, &end);
        if (end == alist) {
            fprintf(stderr, "HF_KRR_ALPHAS: expected comma-separated numbers\n");
            exit(2);
        }
        alist = *end == ',' ? end + 1 : end;
    }
    for (size_t t = 0; t < T; t++) {
        set_params(params[t], alphas[t], kcopy, env_num("HF_KRR_GAMMA", 0.0),
                   (int)env_num("HF_KRR_DEGREE", 3), env_num("HF_KRR_COEF0", 1.0));
        pp[t] = params[t];
    }
    if (grid != NULL && sscanf(grid, "%dx%d", &nprow, &npcol) != 2) {
        fprintf(stderr, "HF_KRR_GRID=%s: expected RxC\n", grid);
        exit(2);
    }
    result = hf_group_create(world, nprow, npcol, (int)env_num("HF_KRR_NB", 0), &g);
    if (result != HF_OK)
        goto out;
    hf_group_set_memory_limit(g, (uint64_t)env_num("HF_KRR_MEMORY", 0));
    pred = hf_malloc((T * m + 1) * sizeof(double));
    if (pred == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    hf_fit_data d = {.X = data, .n = n, .p = p, .y = data + n * p, .n_classes = 0, .group = g};
    hf_dist_factor_stats_reset();
    result = hf_comm_barrier(world);
    if (result != HF_OK)
        goto out;
    double t0 = hf_now();
    result = hf_comm_check(world, hf_model_kernel_ridge.fit(&d, pp, T, out));
    if (result != HF_OK)
        goto out;
    double t_fit = hf_now() - t0;
    t0 = hf_now();
    for (size_t t = 0; t < T && result == HF_OK; t++)
        result = hf_model_kernel_ridge.predict(out[t], g, data + n * p + n, m, p, pred + t * m);
    result = hf_comm_check(world, result);
    if (result != HF_OK)
        goto out;
    double t_pred = hf_now() - t0;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double stats[3];
    hf_dist_factor_stats(&stats[0], &stats[1]);
    stats[2] = (double)ru.ru_maxrss / 1024.0; /* MiB */
    double mx[3] = {stats[0], stats[1], stats[2]};
    double gf = 0.0;
    size_t dg = (size_t)env_num("HF_KRR_DGEMM", 0);
    result = hf_comm_allreduce_max_f64(world, mx, 3);
    if (result == HF_OK && dg > 0) {
        result = hf_comm_barrier(world);
        gf = dgemm_gflops(dg);
        if (result == HF_OK)
            result = hf_comm_allreduce_sum_f64(world, &gf, 1);
        gf /= hf_comm_size(world);
    }
    if (result != HF_OK)
        goto out;
    if (world_rank == 0) {
        const char *op = getenv("HF_KRR_OUTPUT");
        if (op != NULL) {
            FILE *f = fopen(op, "wb");
            if (f == NULL || fwrite(pred, sizeof(double), T * m, f) != T * m || fclose(f) != 0) {
                result = hf_error(HF_EIO, "%s: cannot write the predictions", op);
                goto out;
            }
        }
        int ranks = hf_comm_size(world);
        double factor_gflops = mx[0] > 0 ? mx[1] / mx[0] / 1e9 / ranks : 0.0;
        printf("{\"ranks\": %d, \"grid\": \"%dx%d\", \"nb\": %d, \"n\": %zu, \"p\": %zu, "
               "\"trials\": %zu, \"fit_seconds\": %.6f, \"predict_seconds\": %.6f, "
               "\"factor_seconds\": %.6f, \"factor_gflops_per_rank\": %.4f, "
               "\"dgemm_gflops_per_rank\": %.4f, \"peak_rss_mib_max_rank\": %.1f}\n",
               ranks, hf_group_nprow(g), hf_group_npcol(g), hf_group_block_size(g), n, p, T, t_fit,
               t_pred, mx[0], factor_gflops, gf, mx[2]);
    }
out:
    for (size_t t = 0; t < T; t++)
        hf_fitted_free(out[t]);
    hf_group_free(g);
    g = NULL;
    free(pred);
    free(data);
    free(kcopy);
    if (result != HF_OK && world_rank == 0)
        fprintf(stderr, "kernel_ridge: %s\n", hf_error_message());
    return result;
}

int main(int argc, char **argv)
{
    hf_comm *world = NULL;
    if (hf_comm_init(&argc, &argv, &world) != HF_OK) {
        fprintf(stderr, "MPI init failed: %s\n", hf_error_message());
        return 1;
    }
    world_rank = hf_comm_rank(world);
    const char *input = getenv("HF_KRR_INPUT");
    int64_t total = 0;
    if (input != NULL) {
        total = file_mode(world, input) != HF_OK;
    } else {
        self_test(world);
        total = failures;
    }
    hf_comm_allreduce_sum_i64(world, &total, 1);
    if (world_rank == 0 && input == NULL)
        printf("mpitest_kernel_ridge on %d ranks: %s (%lld failed checks)\n", hf_comm_size(world),
               total ? "FAILED" : "ok", (long long)total);
    hf_group_finalize();
    hf_comm_finalize(world);
    return total ? 1 : 0;
}
