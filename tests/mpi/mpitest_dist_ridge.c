/* mpitest_dist_ridge.c - ridge and the PCA step on worker groups, run at 1, 2 and 4 ranks.
 *
 * For every group size dividing the world (1, 2, 4: grids 1x1, 1x2, 2x1, 2x2, 4x1, 1x4) and block
 * sizes from 1 to more than the matrix size, fits ridge on wide (p > n), tall and tiny data (2
 * columns, smaller than one block), with and
 * without an intercept, several alphas per call, and checks that coefficients, intercepts and
 * predictions equal, to 1e-9 relative, those of the one-rank path computed in this program (a
 * group of one rank must give them bit for bit). The one-rank path itself is checked against a
 * direct solve of (Xc^T Xc + alpha I) w = Xc^T yc with LAPACKE_dposv.
 * The PCA step of the preprocessing (hf_prep_fit with the group active) is checked the same way:
 * components, means and projections equal the one-rank fit to 1e-9, and a refused
 * n_components fails on every rank without a hang. */
#include "common/hf.h"
#include "common/rng.h"
#include "common/comm.h"
#include "tests/mpi/mpitest.h"
#include "worker/dist.h"
#include "worker/group.h"
#include "worker/model.h"
#include "worker/preprocess.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_ridge;

enum { P_ALPHA = 0, P_FIT_INTERCEPT, P_MAX_ITER, P_TOL, N_PARAMS };
enum { MAX_T = 4, M = 13 };

static double worst_group_diff; /* largest group-vs-one-rank difference seen, for the log */

/* Relative differences with a floor of 1e-3 on the reference's magnitude. */
static double max_rel_diff(const double *a, const double *b, size_t n)
{
    return mpitest_max_rel_diff(a, b, n, 1e-3);
}

/* One data set: X (n x p) with columns of different offsets and scales, y, and test rows. */
typedef struct data {
    size_t n, p;
    double *X, *y, *Xt;
} data;

static void make_data(uint64_t seed, size_t n, size_t p, data *d)
{
    hf_rng r;
    hf_rng_init(&r, seed, 0, 0);
    d->n = n;
    d->p = p;
    d->X = malloc(n * p * sizeof(double));
    d->y = malloc(n * sizeof(double));
    d->Xt = malloc(M * p * sizeof(double));
    for (size_t i = 0; i < n * p; i++)
        d->X[i] = (2.0 * hf_rng_uniform(&r) - 1.0) * (1.0 + 0.05 * (double)(i % p)) +
                  0.5 * (double)((i % p) % 3);
    for (size_t i = 0; i < M * p; i++)
        d->Xt[i] = (2.0 * hf_rng_uniform(&r) - 1.0) * 2.0;
    for (size_t i = 0; i < n; i++) {
        double s = 3.0;
        for (size_t j = 0; j < p; j++)
            s += d->X[i * p + j] * (double)((j % 5) + 1) / (double)(j + 1);
        d->y[i] = s + 0.1 * (hf_rng_uniform(&r) - 0.5);
    }
}

static void free_data(data *d)
{
    free(d->X);
    free(d->y);
    free(d->Xt);
}

typedef struct call {
    size_t n_trials;
    hf_value params[MAX_T][N_PARAMS];
} call;

static void set_params(hf_value *v, double alpha, int fit_intercept)
{
    v[P_ALPHA] = (hf_value){HF_VAL_NUMBER, {.num = alpha}};
    v[P_FIT_INTERCEPT] = (hf_value){HF_VAL_BOOL, {.b = fit_intercept}};
    v[P_MAX_ITER] = (hf_value){HF_VAL_INT, {.i = 0}};
    v[P_TOL] = (hf_value){HF_VAL_NUMBER, {.num = 1e-4}};
}

static size_t make_calls(call *calls)
{
    size_t k = 0;
    calls[k].n_trials = 3; /* an alpha sweep sharing one decomposition */
    set_params(calls[k].params[0], 0.2, 1);
    set_params(calls[k].params[1], 1.0, 1);
    set_params(calls[k].params[2], 30.0, 1);
    k++;
    calls[k].n_trials = 2;
    set_params(calls[k].params[0], 0.5, 0);
    set_params(calls[k].params[1], 5.0, 0);
    k++;
    calls[k].n_trials = 4; /* mixed fit_intercept: two decompositions in one call */
    set_params(calls[k].params[0], 2.0, 0);
    set_params(calls[k].params[1], 0.4, 1);
    set_params(calls[k].params[2], 7.0, 1);
    set_params(calls[k].params[3], 0.3, 0);
    k++;
    return k;
}

/* Fits one call on group g (NULL = one rank); coef is n_trials x p, icpt n_trials, pred
 * n_trials x M. */
static int run_call(hf_group *g, const call *c, const data *d, double *coef, double *icpt,
                    double *pred)
{
    hf_fit_data fd = {.X = d->X, .n = d->n, .p = d->p, .y = d->y, .n_classes = 0, .group = g};
    const hf_value *pp[MAX_T];
    hf_fitted *out[MAX_T] = {0};
    for (size_t t = 0; t < c->n_trials; t++)
        pp[t] = c->params[t];
    int rc = hf_model_ridge.fit(&fd, pp, c->n_trials, out);
    for (size_t t = 0; t < c->n_trials && rc == HF_OK; t++) {
        const hf_array *w = hf_fitted_get(out[t], "coef");
        const hf_array *b = hf_fitted_get(out[t], "intercept");
        CHECK(w && b && w->cols == d->p, "fitted arrays missing or misshapen");
        if (!w || !b) {
            rc = HF_EINTERNAL;
            break;
        }
        memcpy(coef + t * d->p, w->data, d->p * sizeof(double));
        icpt[t] = b->data[0];
        rc = hf_model_ridge.predict(out[t], g, d->Xt, M, d->p, pred + t * M);
    }
    for (size_t t = 0; t < c->n_trials; t++)
        hf_fitted_free(out[t]);
    return rc;
}

/* Direct solve: (Xc^T Xc + alpha I) w = Xc^T yc, b = ymean - xmean.w. */
static void naive_ridge(const data *d, double alpha, int fit_intercept, double *w, double *b)
{
    size_t n = d->n, p = d->p;
    double *A = calloc(p * p, sizeof(double)), *xm = calloc(p, sizeof(double)), ym = 0.0;
    if (fit_intercept) {
        for (size_t i = 0; i < n; i++) {
            ym += d->y[i] / (double)n;
            for (size_t j = 0; j < p; j++)
                xm[j] += d->X[i * p + j] / (double)n;
        }
    }
    for (size_t j = 0; j < p; j++)
        w[j] = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < p; a++) {
            double xa = d->X[i * p + a] - xm[a];
            w[a] += xa * (d->y[i] - ym);
            for (size_t c = 0; c < p; c++)
                A[a * p + c] += xa * (d->X[i * p + c] - xm[c]);
        }
    for (size_t j = 0; j < p; j++)
        A[j * p + j] += alpha;
    int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)p, 1, A, (lapack_int)p, w, 1);
    CHECK(info == 0, "naive dposv info %d", info);
    *b = ym;
    for (size_t j = 0; j < p; j++)
        *b -= xm[j] * w[j];
    free(A);
    free(xm);
}

/* A schema of p numeric columns x0, x1, ... */
static hf_schema *numeric_schema(size_t p)
{
    hf_schema *s = calloc(1, sizeof *s);
    s->n_features = p;
    s->features = calloc(p, sizeof *s->features);
    for (size_t j = 0; j < p; j++) {
        char name[32];
        snprintf(name, sizeof name, "x%zu", j);
        s->features[j].name = strdup(name);
        s->features[j].type = HF_COL_NUMERIC;
    }
    s->target = strdup("y");
    s->task = HF_TASK_REGRESSION;
    return s;
}

/* PCA on the group g (active) against the one-rank fit ref; k components of d. */
static void check_pca(hf_group *g, const data *d, size_t k, const hf_prep *ref,
                      const double *ref_proj)
{
    hf_schema *s = numeric_schema(d->p);
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    cfg.scale = HF_SCALE_STANDARD;
    cfg.pca_components = (int64_t)k;
    hf_prep *p = NULL;
    int rc = hf_prep_fit(&cfg, s, d->X, NULL, d->n, g, &p);
    CHECK(rc == HF_OK, "PCA on a group of %d: %s", hf_group_size(g), hf_error_message());
    if (rc == HF_OK) {
        size_t q1, q2;
        const double *m1, *m2, *c1, *c2, *v1, *v2;
        hf_prep_pca(p, &q1, &m1, &c1, &v1);
        hf_prep_pca(ref, &q2, &m2, &c2, &v2);
        double *proj = malloc(M * k * sizeof(double));
        hf_prep_transform(p, d->Xt, NULL, M, proj);
        double dc = max_rel_diff(c1, c2, k * q1), dv = max_rel_diff(v1, v2, k);
        double dp = max_rel_diff(proj, ref_proj, M * k);
        worst_group_diff = fmax(worst_group_diff, fmax(dc, fmax(dv, dp)));
        CHECK(q1 == q2 && dc < 1e-9 && dv < 1e-9 && dp < 1e-9,
              "PCA of %zu columns on grid %dx%d, block %d: components differ by %g, variances by "
              "%g, projections by %g",
              d->p, hf_group_nprow(g), hf_group_npcol(g), hf_group_block_size(g), dc, dv, dp);
        CHECK(memcmp(m1, m2, q1 * sizeof(double)) == 0, "PCA means differ on a group");
        free(proj);
    }
    hf_prep_free(p);
    p = NULL;
    /* More components than columns: refused on every rank before any collective call. */
    cfg.pca_components = (int64_t)d->p + 1;
    hf_error_clear();
    rc = hf_prep_fit(&cfg, s, d->X, NULL, d->n, g, &p);
    CHECK(rc == HF_EINVAL && p == NULL && strstr(hf_error_message(), "n_components"),
          "too many components on a group: rc %d (%s)", rc, hf_error_message());
    hf_error_clear();
    hf_schema_free(s);
}

static void self_test(hf_comm *world)
{
    int ws = hf_comm_size(world);
    enum { NSETS = 3 };
    data sets[NSETS];
    make_data(1, 30, 45, &sets[0]); /* wide: more columns than rows */
    make_data(2, 110, 9, &sets[1]); /* tall */
    make_data(3, 6, 2, &sets[2]);   /* smaller than one block of every size but 1 */
    call calls[4];
    size_t n_calls = make_calls(calls);
    enum { MAXP = 45 };
    static double ref_coef[NSETS][4][MAX_T * MAXP], ref_icpt[NSETS][4][MAX_T],
        ref_pred[NSETS][4][MAX_T * M];
    hf_prep *ref_pca[NSETS] = {NULL, NULL, NULL};
    double *ref_proj[NSETS];
    const size_t pca_k[NSETS] = {6, 4, 1};

    for (size_t s = 0; s < NSETS; s++) {
        const data *d = &sets[s];
        for (size_t c = 0; c < n_calls; c++) {
            int rc = run_call(NULL, &calls[c], d, ref_coef[s][c], ref_icpt[s][c], ref_pred[s][c]);
            CHECK(rc == HF_OK, "one-rank ridge, data %zu call %zu: %s", s, c, hf_error_message());
            for (size_t t = 0; t < calls[c].n_trials; t++) {
                double w[MAXP], b;
                naive_ridge(d, calls[c].params[t][P_ALPHA].u.num,
                            calls[c].params[t][P_FIT_INTERCEPT].u.b, w, &b);
                double dw = max_rel_diff(ref_coef[s][c] + t * d->p, w, d->p);
                double db = max_rel_diff(&ref_icpt[s][c][t], &b, 1);
                CHECK(dw < 1e-8 && db < 1e-8,
                      "data %zu call %zu trial %zu: one-rank ridge differs from dposv by %g "
                      "(coef) %g (intercept)",
                      s, c, t, dw, db);
            }
        }
        hf_schema *sch = numeric_schema(d->p);
        hf_prep_config cfg;
        hf_prep_config_default(&cfg);
        cfg.scale = HF_SCALE_STANDARD;
        cfg.pca_components = (int64_t)pca_k[s];
        CHECK(hf_prep_fit(&cfg, sch, d->X, NULL, d->n, NULL, &ref_pca[s]) == HF_OK,
              "one-rank PCA: %s", hf_error_message());
        ref_proj[s] = malloc(M * pca_k[s] * sizeof(double));
        if (ref_pca[s])
            hf_prep_transform(ref_pca[s], d->Xt, NULL, M, ref_proj[s]);
        hf_schema_free(sch);
    }

    static const int shapes[][3] = {{1, 0, 0}, {2, 0, 0}, {2, 2, 1},
                                    {4, 0, 0}, {4, 4, 1}, {4, 1, 4}};
    /* Block sizes from 1 to more than every matrix (45 columns: blocks of 45 and 64 hold it
     * whole); 4 divides neither dimension of the first two sets. */
    static const int blocks[] = {1, 2, 4, 9, 16, 45, 64, 128};
    for (size_t sh = 0; sh < sizeof(shapes) / sizeof(shapes[0]); sh++)
        for (size_t bl = 0; bl < sizeof blocks / sizeof blocks[0]; bl++) {
            int gs = shapes[sh][0];
            if (ws % gs != 0)
                continue;
            hf_comm *sub = NULL;
            hf_group *g = NULL;
            if (mpitest_group(world, gs, shapes[sh][1], shapes[sh][2], blocks[bl], &sub, &g) !=
                HF_OK)
                continue;
            for (size_t s = 0; s < NSETS; s++) {
                const data *d = &sets[s];
                for (size_t c = 0; c < n_calls; c++) {
                    double coef[MAX_T * MAXP], icpt[MAX_T], pred[MAX_T * M];
                    size_t T = calls[c].n_trials;
                    int rc = run_call(g, &calls[c], d, coef, icpt, pred);
                    CHECK(rc == HF_OK, "group %dx%d block %d data %zu call %zu: %s",
                          hf_group_nprow(g), hf_group_npcol(g), blocks[bl], s, c,
                          hf_error_message());
                    if (rc != HF_OK)
                        continue;
                    double dw = max_rel_diff(coef, ref_coef[s][c], T * d->p);
                    double db = max_rel_diff(icpt, ref_icpt[s][c], T);
                    double dp = max_rel_diff(pred, ref_pred[s][c], T * M);
                    worst_group_diff = fmax(worst_group_diff, fmax(dw, fmax(db, dp)));
                    CHECK(
                        dw < 1e-9 && db < 1e-9 && dp < 1e-9,
                        "group %dx%d block %d data %zu (n %zu, p %zu) call %zu: coef differ by %g, "
                        "intercept by %g, predictions by %g",
                        hf_group_nprow(g), hf_group_npcol(g), blocks[bl], s, d->n, d->p, c, dw, db,
                        dp);
                    if (gs == 1)
                        CHECK(memcmp(coef, ref_coef[s][c], T * d->p * sizeof(double)) == 0,
                              "a group of one rank must take the one-rank path bit for bit");
                }
                if (ref_pca[s])
                    check_pca(g, d, pca_k[s], ref_pca[s], ref_proj[s]);
            }
            /* A non-positive alpha is refused identically on every group rank. */
            {
                call bad = {.n_trials = 1};
                set_params(bad.params[0], -1.0, 1);
                double coef[MAXP], icpt[1], pred[M];
                hf_error_clear();
                int rc = run_call(g, &bad, &sets[0], coef, icpt, pred);
                CHECK(rc == HF_EINVAL, "alpha -1 on a group: rc %d", rc);
                hf_error_clear();
            }
            hf_group_free(g);
            g = NULL;
            hf_comm_free(sub);
            sub = NULL;
        }
    for (size_t s = 0; s < NSETS; s++) {
        hf_prep_free(ref_pca[s]);
        free(ref_proj[s]);
        free_data(&sets[s]);
    }
}

int main(int argc, char **argv)
{
    hf_comm *world = NULL;
    if (hf_comm_init(&argc, &argv, &world) != HF_OK) {
        fprintf(stderr, "MPI init failed: %s\n", hf_error_message());
        return 1;
    }
    world_rank = hf_comm_rank(world);
    self_test(world);
    int64_t total = failures;
    hf_comm_allreduce_sum_i64(world, &total, 1);
    if (world_rank == 0)
        printf("mpitest_dist_ridge on %d ranks: %s (%lld failed checks; largest relative "
               "difference from one rank %.3g)\n",
               hf_comm_size(world), total ? "FAILED" : "ok", (long long)total, worst_group_diff);
    hf_group_finalize();
    hf_comm_finalize(world);
    return total ? 1 : 0;
}
