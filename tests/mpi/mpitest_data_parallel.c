/* mpitest_data_parallel.c - data-parallel fits (parallel.data_parallel), run at 1, 2 and 4 ranks.
 *
 * For every group size from 1 to the world size (1, 2, 3, 4 at 4 ranks: the first gs ranks form
 * one group, the others a second one, which runs the same checks), each group rank holds only its
 * block of a table's rows (hf_group_row_block) and the split's training rows within it. On a table
 * with missing numeric values, a categorical column with missing codes and a rare level:
 *  - the preprocessing (mean imputation with indicators, standard scaling, one-hot; min-max
 *    scaling with frequency encoding; median imputation with clip; most frequent imputation with
 *    Yeo-Johnson; kbins with median imputation; PCA after clip and scaling) fitted on the shards
 *    (hf_prep_fit_shard) transforms the validation rows as the pipeline fitted on one copy of the
 *    training rows does, to 1e-9; its exported arrays (model.h5's prep.*) equal the single copy's
 *    to 1e-9, and the order statistics (prep.impute, prep.num, prep.kbins_edges) bit for bit;
 *  - ridge (several alphas, with and without intercept) and logistic_regression (binary and
 *    3 classes, two C values in lock-step, class_weight none and balanced) fitted with
 *    hf_fit_data.row_shard give the coefficients and intercepts of the single-copy fit to 1e-9
 *    relative, and every group rank holds the same bits (their minimum equals their maximum);
 *  - the gathering steps and PCA when only group rank 0 holds training rows equal the single
 *    copy of rank 0's rows;
 *  - target encoding (regression and binary targets, the training rows in row order, shuffled
 *    as a split whose order is not the table's, and in group rank 0's block only) gives the single
 * copy's encodings, inner folds and cross-fitted encodings bit for bit and its models to 1e-9;
 *  - a rank that holds no training row still takes part. */
#include "common/hf.h"
#include "common/rng.h"
#include "common/comm.h"
#include "tests/mpi/mpitest.h"
#include "worker/dist.h"
#include "worker/group.h"
#include "worker/model.h"
#include "worker/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_ridge;
extern const hf_model_ops hf_model_logistic_regression;

enum { P_IN = 4, N_CATS = 4, MAX_T = 3 };

static double worst;    /* largest shard-vs-single-copy difference seen, for the log */
static int variant_now; /* the preprocessing variant of the models being checked */

static hf_schema *make_schema(void)
{
    static const char *const names[P_IN] = {"a", "b", "c", "d"};
    static const char *const cats[N_CATS] = {"north", "south", "east", "west"};
    hf_schema *s = calloc(1, sizeof *s);
    s->n_features = P_IN;
    s->features = calloc(P_IN, sizeof *s->features);
    for (size_t j = 0; j < P_IN; j++) {
        s->features[j].name = strdup(names[j]);
        s->features[j].type = j == 3 ? HF_COL_CATEGORICAL : HF_COL_NUMERIC;
    }
    s->features[3].n_categories = N_CATS;
    s->features[3].categories = calloc(N_CATS, sizeof(char *));
    for (size_t c = 0; c < N_CATS; c++)
        s->features[3].categories[c] = strdup(cats[c]);
    s->target = strdup("y");
    s->task = HF_TASK_REGRESSION;
    return s;
}

/* n rows: a, b, c numeric (offsets and scales differ, some missing), d a category code (west
 * rare, some missing); y regression, yb binary and y3 three classes derived from it. */
typedef struct table {
    size_t n;
    double *X, *y, *yb, *y3;
} table;

static void make_table(size_t n, table *t)
{
    hf_rng r;
    hf_rng_init(&r, 17, 1, 2);
    t->n = n;
    t->X = malloc(n * P_IN * sizeof(double));
    t->y = malloc(n * sizeof(double));
    t->yb = malloc(n * sizeof(double));
    t->y3 = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double *x = t->X + i * P_IN;
        x[0] = 100.0 + 3.0 * (hf_rng_uniform(&r) - 0.5);
        x[1] = 1e-3 * (hf_rng_uniform(&r) - 0.3);
        x[2] = 5.0 * hf_rng_uniform(&r) - 1.0;
        double u = hf_rng_uniform(&r);
        x[3] = u < 0.05 ? 3.0 : u < 0.4 ? 0.0 : u < 0.7 ? 1.0 : 2.0;
        double noise = hf_rng_uniform(&r) - 0.5;
        t->y[i] = 0.7 * (x[0] - 100.0) + 900.0 * x[1] - 0.4 * x[2] + (x[3] == 1.0) + noise;
        t->yb[i] = t->y[i] > 0.0;
        t->y3[i] = t->y[i] < -0.6 ? 0.0 : t->y[i] < 0.4 ? 1.0 : 2.0;
        if (i % 7 == 3)
            x[i % 3] = NAN;
        if (i % 11 == 5)
            x[3] = NAN;
    }
}

static void free_table(table *t)
{
    free(t->X);
    free(t->y);
    free(t->yb);
    free(t->y3);
}

/* The split: validation rows are those with i % 5 == 2. */
static int is_valid_row(size_t i)
{
    return i % 5 == 2;
}

/* Fits model ops on d and copies each trial's coef and intercept into w (n_trials x wlen). */
static int fit_copy(const hf_model_ops *ops, const hf_fit_data *d, const hf_value *const *pp,
                    size_t nt, double *w, size_t *wlen)
{
    hf_fitted *out[MAX_T] = {0};
    int rc = ops->fit(d, pp, nt, out);
    size_t len = 0;
    for (size_t t = 0; t < nt && rc == HF_OK; t++) {
        const hf_array *c = hf_fitted_get(out[t], "coef"), *b = hf_fitted_get(out[t], "intercept");
        len = c->rows * c->cols + b->rows * b->cols;
        memcpy(w + t * len, c->data, c->rows * c->cols * sizeof *w);
        memcpy(w + t * len + c->rows * c->cols, b->data, b->rows * b->cols * sizeof *w);
    }
    for (size_t t = 0; t < nt; t++)
        hf_fitted_free(out[t]);
    *wlen = len;
    return rc;
}

/* Every group rank holds the same n values: their minimum equals their maximum. */
static void check_same_bits(const hf_group *g, const double *v, size_t n, const char *what)
{
    double *lo = malloc((n ? n : 1) * sizeof *lo), *hi = malloc((n ? n : 1) * sizeof *hi);
    memcpy(lo, v, n * sizeof *lo);
    memcpy(hi, v, n * sizeof *hi);
    hf_dist_min(g, lo, n);
    hf_dist_max(g, hi, n);
    CHECK(memcmp(lo, hi, n * sizeof *lo) == 0, "%s: the group ranks hold different models", what);
    free(lo);
    free(hi);
}

/* The exported arrays of the shard fit against the single copy's: the same names and shapes,
 * every entry within 1e-9 relative (NaN and infinities equal), and the order statistics'
 * arrays bit for bit. */
static void check_export(const hf_prep *pref, const hf_prep *psh, int order_impute,
                         const char *what)
{
    hf_array *ar = NULL, *as = NULL;
    size_t nr = 0, ns = 0;
    char *jr = NULL, *js = NULL;
    CHECK(hf_prep_export(pref, &ar, &nr, &jr) == HF_OK &&
              hf_prep_export(psh, &as, &ns, &js) == HF_OK,
          "%s: export: %s", what, hf_error_message());
    CHECK(nr == ns && jr && js && strcmp(jr, js) == 0, "%s: exported configurations differ", what);
    for (size_t a = 0; a < nr && a < ns; a++) {
        CHECK(strcmp(ar[a].name, as[a].name) == 0 && ar[a].rows == as[a].rows &&
                  ar[a].cols == as[a].cols,
              "%s: array %s vs %s", what, ar[a].name, as[a].name);
        if (strcmp(ar[a].name, as[a].name) || ar[a].rows != as[a].rows || ar[a].cols != as[a].cols)
            continue;
        int exact = (order_impute && !strcmp(ar[a].name, "prep.impute")) ||
                    !strcmp(ar[a].name, "prep.num") || !strcmp(ar[a].name, "prep.kbins_edges") ||
                    !strcmp(ar[a].name, "prep.freq");
        double d = 0.0;
        size_t bits = 0;
        for (size_t i = 0; i < ar[a].rows * ar[a].cols; i++) {
            double x = as[a].data[i], y = ar[a].data[i];
            if (x == y || (isnan(x) && isnan(y)))
                continue;
            bits++;
            double e = fabs(x - y) / fmax(1e-3, fabs(y));
            d = isnan(e) ? INFINITY : fmax(d, e);
        }
        worst = fmax(worst, d);
        CHECK(d <= 1e-9, "%s: %s differs from the single copy by %.3g", what, ar[a].name, d);
        CHECK(!exact || bits == 0, "%s: %s: %zu entries not bit-identical", what, ar[a].name, bits);
    }
    hf_prep_export_free(ar, nr, jr);
    hf_prep_export_free(as, ns, js);
}

static void set_default(const hf_model_ops *ops, hf_value *v)
{
    for (size_t i = 0; i < ops->n_params; i++)
        hf_model_param_default(&ops->params[i], &v[i]);
}

static void set_num(const hf_model_ops *ops, hf_value *v, const char *name, double x)
{
    long i = hf_model_param_index(ops, name);
    if (v[i].type == HF_VAL_INT)
        v[i].u.i = (int64_t)x;
    else if (v[i].type == HF_VAL_BOOL)
        v[i].u.b = x != 0.0;
    else
        v[i].u.num = x;
}

/* One model check: the single-copy fit (all training rows Xtr, targets ytr) against the shard fit
 * (this rank's Xloc, yloc) on group g. */
static void check_model(const char *what, const hf_model_ops *ops, hf_value (*vals)[16], size_t nt,
                        const hf_group *g, const double *Xtr, const double *ytr, size_t ntr,
                        const double *Xloc, const double *yloc, size_t nloc, size_t q,
                        size_t n_classes)
{
    const hf_value *pp[MAX_T];
    for (size_t t = 0; t < nt; t++)
        pp[t] = vals[t];
    size_t cap = MAX_T * (q + 1) * 4, lr = 0, ls = 0;
    double *wr = calloc(cap, sizeof *wr), *ws = calloc(cap, sizeof *ws);
    hf_fit_data ref = {.X = Xtr, .n = ntr, .p = q, .y = ytr, .n_classes = n_classes};
    hf_fit_data sh = {.X = Xloc,
                      .n = nloc,
                      .p = q,
                      .y = yloc,
                      .n_classes = n_classes,
                      .group = g,
                      .row_shard = 1};
    int rc = fit_copy(ops, &ref, pp, nt, wr, &lr);
    CHECK(rc == HF_OK, "%s: single-copy fit: %s", what, hf_error_message());
    rc = fit_copy(ops, &sh, pp, nt, ws, &ls);
    CHECK(rc == HF_OK, "%s: shard fit: %s", what, hf_error_message());
    if (rc == HF_OK && lr == ls) {
        double d = mpitest_max_rel_diff(ws, wr, nt * lr, 1e-3);
        worst = fmax(worst, d);
        CHECK(d <= 1e-9,
              "%s on a group of %d (preprocessing %d): coefficients differ from the single copy "
              "by %.3g",
              what, hf_group_grid(g)->size, variant_now, d);
        check_same_bits(g, ws, nt * ls, what);
    }
    free(wr);
    free(ws);
}

/* Target encoding on the shards (te: bit 0 a binary target, bit 1 the training rows in a
 * shuffled order, as a split whose order is not the table's; bit 2 only group rank 0's block
 * holding training rows): each rank holds its block in a table with room for
 * every row and its training rows in the split's order; the encodings (prep.freq, the mean), the
 * inner folds and the cross-fitted encodings of its rows equal the single copy's bit for bit, the
 * other design columns to 1e-9, and ridge (or logistic regression) fitted on the cross-fitted
 * design rows gives the single copy's coefficients to 1e-9. */
static void check_target_encoding(const hf_group *g, const table *t, hf_schema *schema,
                                  const int64_t *train0, size_t ntr, int te)
{
    const int size = hf_group_grid(g)->size, rank = hf_group_grid(g)->rank;
    const int binary = te & 1;
    uint64_t first, count;
    hf_group_row_block(t->n, size, rank, &first, &count);
    int64_t *train = malloc(ntr * sizeof *train), *mine = malloc(ntr * sizeof *mine);
    memcpy(train, train0, ntr * sizeof *train);
    if (te & 4) { /* only group rank 0's block holds training rows */
        uint64_t f0, c0;
        hf_group_row_block(t->n, size, 0, &f0, &c0);
        size_t m = 0;
        for (size_t i = 0; i < ntr; i++)
            if ((uint64_t)train[i] < c0)
                train[m++] = train[i];
        ntr = m;
    }
    if (te & 2) {
        hf_rng r;
        hf_rng_init(&r, 99, 3, 4);
        hf_rng_shuffle_i64(&r, train, (int64_t)ntr);
    }
    size_t nloc = 0;
    for (size_t i = 0; i < ntr; i++)
        if ((uint64_t)train[i] >= first && (uint64_t)train[i] < first + count)
            mine[nloc++] = train[i];
    /* the rank's table: its block's rows written, the others NaN (never read) */
    double *X = malloc(t->n * P_IN * sizeof *X);
    for (size_t i = 0; i < t->n * P_IN; i++)
        X[i] = NAN;
    memcpy(X + first * P_IN, t->X + first * P_IN, count * P_IN * sizeof *X);
    schema->task = binary ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION;
    schema->n_classes = binary ? 2 : 0;
    const double *y = binary ? t->yb : t->y;
    hf_prep_config cfg;
    hf_prep_config_default(&cfg);
    cfg.encode = HF_ENCODE_TARGET;
    cfg.scale = HF_SCALE_STANDARD;
    char what[96];
    snprintf(what, sizeof what, "target encoding (%s, %s order%s) on a group of %d",
             binary ? "binary" : "regression", te & 2 ? "shuffled" : "row",
             te & 4 ? ", rank 0's rows alone" : "", size);
    hf_prep *pref = NULL, *psh = NULL;
    int rc = hf_prep_fit_y(&cfg, schema, t->X, y, train, ntr, NULL, &pref);
    CHECK(rc == HF_OK, "%s: single copy: %s", what, hf_error_message());
    rc = hf_prep_fit_shard(&cfg, schema, X, y, mine, nloc, train, ntr, g, &psh);
    CHECK(rc == HF_OK, "%s: shards: %s", what, hf_error_message());
    if (pref && psh) {
        check_export(pref, psh, 0, what);
        size_t q = hf_prep_n_outputs(pref), nf_ref = 0, nf_sh = 0;
        const int *ir = hf_prep_inner_folds(pref, &nf_ref), *is = hf_prep_inner_folds(psh, &nf_sh);
        CHECK(ir && is && nf_ref == ntr && nf_sh == nloc, "%s: inner folds of %zu and %zu rows",
              what, nf_ref, nf_sh);
        double *Xtr = malloc(ntr * q * sizeof *Xtr), *Xloc = malloc((nloc ? nloc : 1) * q * 8);
        double *Xref = malloc((nloc ? nloc : 1) * q * 8), *ytr = malloc(ntr * sizeof *ytr);
        double *yloc = malloc((nloc ? nloc : 1) * sizeof *yloc);
        CHECK(hf_prep_transform_fit_rows(pref, t->X, train, ntr, Xtr) == HF_OK &&
                  hf_prep_transform_fit_rows(psh, X, mine, nloc, Xloc) == HF_OK,
              "%s: fit rows: %s", what, hf_error_message());
        /* the single copy's rows at this rank's positions */
        size_t k = 0, te_bits = 0, folds_bad = 0;
        for (size_t i = 0; i < ntr && k < nloc; i++) {
            if (train[i] != mine[k])
                continue;
            memcpy(Xref + k * q, Xtr + i * q, q * sizeof *Xref);
            folds_bad += ir && is && ir[i] != is[k];
            te_bits += memcmp(&Xref[k * q + q - 1], &Xloc[k * q + q - 1], sizeof(double)) != 0;
            yloc[k] = y[mine[k]];
            k++;
        }
        for (size_t i = 0; i < ntr; i++)
            ytr[i] = y[train[i]];
        CHECK(folds_bad == 0, "%s: %zu inner folds differ from the single copy's", what, folds_bad);
        CHECK(te_bits == 0, "%s: %zu cross-fitted encodings not bit-identical", what, te_bits);
        double d = mpitest_max_rel_diff(Xloc, Xref, nloc * q, 1e-3);
        worst = fmax(worst, d);
        CHECK(d <= 1e-9, "%s: design rows differ by %.3g", what, d);
        hf_value v[MAX_T][16];
        const hf_model_ops *ops = binary ? &hf_model_logistic_regression : &hf_model_ridge;
        for (size_t m = 0; m < 2; m++) {
            set_default(ops, v[m]);
            set_num(ops, v[m], binary ? "C" : "alpha", m ? 2.0 : 0.5);
        }
        check_model(what, ops, v, 2, g, Xtr, ytr, ntr, Xloc, yloc, nloc, q, binary ? 2 : 0);
        free(Xtr);
        free(Xloc);
        free(Xref);
        free(ytr);
        free(yloc);
    }
    hf_prep_free(pref);
    hf_prep_free(psh);
    schema->task = HF_TASK_REGRESSION;
    schema->n_classes = 0;
    free(X);
    free(train);
    free(mine);
}

static void run_group(hf_comm *world, int gs)
{
    int wr = hf_comm_rank(world);
    hf_comm *sub = NULL;
    hf_group *g = NULL;
    if (hf_comm_split(world, wr < gs ? 0 : 1, wr, &sub) != HF_OK ||
        hf_group_create(sub, 0, 0, 0, &g) != HF_OK) {
        CHECK(0, "group of %d: %s", gs, hf_error_message());
        return;
    }
    const int size = hf_group_grid(g)->size, rank = hf_group_grid(g)->rank;
    table t;
    make_table(157, &t);
    hf_schema *schema = make_schema();
    uint64_t first, count;
    hf_group_row_block(t.n, size, rank, &first, &count);
    /* Global training and validation rows; this rank's training rows, local to its block. */
    int64_t *train = malloc(t.n * sizeof *train), *valid = malloc(t.n * sizeof *valid);
    int64_t *ltrain = malloc(t.n * sizeof *ltrain);
    size_t ntr = 0, nva = 0, nloc = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (is_valid_row(i)) {
            valid[nva++] = (int64_t)i;
            continue;
        }
        train[ntr++] = (int64_t)i;
        if (i >= first && i < first + count)
            ltrain[nloc++] = (int64_t)(i - first);
    }
    /* The block as a rank of a data-parallel job holds it: a copy of its rows alone. */
    double *block = malloc((count ? count : 1) * P_IN * sizeof *block);
    memcpy(block, t.X + first * P_IN, count * P_IN * sizeof *block);

    for (int variant = 0; variant < 6; variant++) {
        hf_prep_config cfg;
        hf_prep_config_default(&cfg);
        if (variant == 0) {
            cfg.indicator = 1;
            cfg.scale = HF_SCALE_STANDARD;
        } else if (variant == 1) {
            cfg.scale = HF_SCALE_MINMAX;
            cfg.encode = HF_ENCODE_FREQUENCY;
        } else if (variant == 2) {
            cfg.impute_numeric = HF_IMPUTE_MEDIAN;
            cfg.clip_lower = 0.05;
            cfg.clip_upper = 0.9;
            cfg.scale = HF_SCALE_STANDARD;
        } else if (variant == 3) {
            cfg.impute_numeric = HF_IMPUTE_MOST_FREQUENT;
            cfg.power = HF_POWER_YEO_JOHNSON;
            cfg.indicator = 1;
        } else if (variant == 4) {
            /* scaled: on the unscaled bin indices, 3-class balanced logistic regression's
             * L-BFGS stops ~9e-9 apart from the single copy (its own summation order) */
            cfg.impute_numeric = HF_IMPUTE_MEDIAN;
            cfg.kbins = 4;
            cfg.scale = HF_SCALE_STANDARD;
        } else {
            cfg.clip_lower = 0.1;
            cfg.scale = HF_SCALE_STANDARD;
            cfg.pca_components = 3;
        }
        variant_now = variant;
        hf_prep *pref = NULL, *psh = NULL;
        int rc = hf_prep_fit_y(&cfg, schema, t.X, t.y, train, ntr, NULL, &pref);
        CHECK(rc == HF_OK, "single-copy preprocessing: %s", hf_error_message());
        rc = hf_prep_fit_shard(&cfg, schema, block, NULL, ltrain, nloc, NULL, ntr, g, &psh);
        CHECK(rc == HF_OK, "shard preprocessing on a group of %d: %s", size, hf_error_message());
        if (!pref || !psh) {
            hf_prep_free(pref);
            hf_prep_free(psh);
            continue;
        }
        size_t q = hf_prep_n_outputs(pref);
        CHECK(hf_prep_n_outputs(psh) == q, "design columns: %zu, single copy %zu",
              hf_prep_n_outputs(psh), q);
        double *Vr = malloc(nva * q * sizeof *Vr), *Vs = malloc(nva * q * sizeof *Vs);
        hf_prep_transform(pref, t.X, valid, nva, Vr);
        hf_prep_transform(psh, t.X, valid, nva, Vs);
        double d = mpitest_max_rel_diff(Vs, Vr, nva * q, 1e-3);
        worst = fmax(worst, d);
        CHECK(d <= 1e-9, "preprocessing %d on a group of %d: validation rows differ by %.3g",
              variant, size, d);
        check_same_bits(g, Vs, nva * q, "preprocessing");
        char what[64];
        snprintf(what, sizeof what, "preprocessing %d on a group of %d", variant, size);
        check_export(pref, psh,
                     cfg.impute_numeric == HF_IMPUTE_MEDIAN ||
                         cfg.impute_numeric == HF_IMPUTE_MOST_FREQUENT,
                     what);
        /* The design rows: every training row (single copy), this rank's (shards). */
        double *Xtr = malloc(ntr * q * sizeof *Xtr), *Xloc = malloc((nloc ? nloc : 1) * q * 8);
        double *ytr[3], *yloc[3];
        const double *ysrc[3] = {t.y, t.yb, t.y3};
        hf_prep_transform(pref, t.X, train, ntr, Xtr);
        hf_prep_transform(psh, block, ltrain, nloc, Xloc);
        for (int k = 0; k < 3; k++) {
            ytr[k] = malloc(ntr * sizeof(double));
            yloc[k] = malloc((nloc ? nloc : 1) * sizeof(double));
            for (size_t i = 0; i < ntr; i++)
                ytr[k][i] = ysrc[k][train[i]];
            for (size_t i = 0; i < nloc; i++)
                yloc[k][i] = ysrc[k][(size_t)ltrain[i] + first];
        }
        hf_value rv[MAX_T][16], lv[MAX_T][16];
        const double alphas[MAX_T] = {0.3, 3.0, 40.0};
        for (int fi = 1; fi >= 0; fi--) {
            for (size_t k = 0; k < MAX_T; k++) {
                set_default(&hf_model_ridge, rv[k]);
                set_num(&hf_model_ridge, rv[k], "alpha", alphas[k]);
                set_num(&hf_model_ridge, rv[k], "fit_intercept", fi);
            }
            check_model(fi ? "ridge" : "ridge without intercept", &hf_model_ridge, rv, MAX_T, g,
                        Xtr, ytr[0], ntr, Xloc, yloc[0], nloc, q, 0);
        }
        for (int balanced = 0; balanced < 2; balanced++) {
            for (size_t k = 0; k < 2; k++) {
                set_default(&hf_model_logistic_regression, lv[k]);
                set_num(&hf_model_logistic_regression, lv[k], "C", k ? 2.0 : 0.5);
                set_num(&hf_model_logistic_regression, lv[k], "max_iter", 300);
                if (balanced)
                    lv[k][hf_model_param_index(&hf_model_logistic_regression, "class_weight")]
                        .u.str = (char *)"balanced";
            }
            check_model(balanced ? "logistic binary balanced" : "logistic binary",
                        &hf_model_logistic_regression, lv, 2, g, Xtr, ytr[1], ntr, Xloc, yloc[1],
                        nloc, q, 2);
            check_model(balanced ? "logistic 3 classes balanced" : "logistic 3 classes",
                        &hf_model_logistic_regression, lv, 2, g, Xtr, ytr[2], ntr, Xloc, yloc[2],
                        nloc, q, 3);
            /* One trial alone (no lock-step threads). */
            check_model("logistic 3 classes, one trial", &hf_model_logistic_regression, lv, 1, g,
                        Xtr, ytr[2], ntr, Xloc, yloc[2], nloc, q, 3);
        }
        for (int k = 0; k < 3; k++) {
            free(ytr[k]);
            free(yloc[k]);
        }
        free(Xtr);
        free(Xloc);
        free(Vr);
        free(Vs);
        hf_prep_free(pref);
        hf_prep_free(psh);
    }
    for (int te = 0; te < 6; te++)
        check_target_encoding(g, &t, schema, train, ntr, te);
    /* The gathering steps and PCA when only group rank 0 holds training rows: the others gather
     * nothing and fit the single copy's pipeline of rank 0's rows. */
    {
        hf_prep_config all;
        hf_prep_config_default(&all);
        all.impute_numeric = HF_IMPUTE_MEDIAN;
        all.clip_lower = 0.05;
        all.power = HF_POWER_YEO_JOHNSON;
        all.kbins = 3;
        all.scale = HF_SCALE_STANDARD;
        all.pca_components = 2;
        size_t n0 = 0;
        int64_t *rows0 = malloc(t.n * sizeof *rows0);
        uint64_t f0, c0;
        hf_group_row_block(t.n, size, 0, &f0, &c0);
        for (size_t i = 0; i < ntr; i++)
            if ((uint64_t)train[i] < c0)
                rows0[n0++] = train[i];
        hf_prep *pr = NULL, *ps = NULL;
        int r1 = hf_prep_fit_y(&all, schema, t.X, t.y, rows0, n0, NULL, &pr);
        int r2 = hf_prep_fit_shard(&all, schema, block, NULL, ltrain, rank == 0 ? nloc : 0, NULL,
                                   n0, g, &ps);
        CHECK(r1 == HF_OK && r2 == HF_OK, "rank 0's rows alone on a group of %d: %d %d %s", size,
              r1, r2, hf_error_message());
        if (pr && ps) {
            size_t q = hf_prep_n_outputs(pr);
            double *Vr = malloc(nva * q * sizeof *Vr), *Vs = malloc(nva * q * sizeof *Vs);
            hf_prep_transform(pr, t.X, valid, nva, Vr);
            hf_prep_transform(ps, t.X, valid, nva, Vs);
            double d = mpitest_max_rel_diff(Vs, Vr, nva * q, 1e-3);
            worst = fmax(worst, d);
            CHECK(d <= 1e-9, "rank 0's rows alone on a group of %d: validation rows differ by %.3g",
                  size, d);
            check_same_bits(g, Vs, nva * q, "rank 0's rows alone");
            check_export(pr, ps, 1, "rank 0's rows alone");
            free(Vr);
            free(Vs);
        }
        hf_prep_free(pr);
        hf_prep_free(ps);
        free(rows0);
    }
    /* A rank that holds no training row (its whole block is validation rows) still takes part. */
    {
        hf_value rv[1][16];
        set_default(&hf_model_ridge, rv[0]);
        double xr[2 * 2] = {1, 2, 3, 5}, yr[2] = {1, 4};
        const double *Xs = rank == 0 ? xr : NULL, *ys = rank == 0 ? yr : NULL;
        check_model("ridge with empty shards", &hf_model_ridge, rv, 1, g, xr, yr, 2, Xs, ys,
                    rank == 0 ? 2 : 0, 2, 0);
    }
    free(block);
    free(train);
    free(valid);
    free(ltrain);
    hf_schema_free(schema);
    free_table(&t);
    hf_group_free(g);
    hf_comm_free(sub);
}

int main(int argc, char **argv)
{
    hf_comm *world = NULL;
    if (hf_comm_init(&argc, &argv, &world) != HF_OK) {
        fprintf(stderr, "MPI init failed: %s\n", hf_error_message());
        return 1;
    }
    world_rank = hf_comm_rank(world);
    /* The block of a row is a pure function of (n, size, rank): blocks tile the table. */
    for (int size = 1; size <= 5; size++) {
        uint64_t next = 0;
        for (int r = 0; r < size; r++) {
            uint64_t f, c;
            hf_group_row_block(13, size, r, &f, &c);
            CHECK(f == next, "row block %d of %d starts at %llu, expected %llu", r, size,
                  (unsigned long long)f, (unsigned long long)next);
            next = f + c;
        }
        CHECK(next == 13, "row blocks of %d ranks cover %llu of 13 rows", size,
              (unsigned long long)next);
    }
    for (int gs = 1; gs <= hf_comm_size(world); gs++)
        run_group(world, gs);
    int64_t total = failures;
    hf_comm_allreduce_sum_i64(world, &total, 1);
    hf_comm_allreduce_max_f64(world, &worst, 1);
    if (world_rank == 0)
        printf("mpitest_data_parallel on %d ranks: %s (%lld failed checks; largest relative "
               "difference from the single copy %.3g)\n",
               hf_comm_size(world), total ? "FAILED" : "ok", (long long)total, worst);
    hf_group_finalize();
    hf_comm_finalize(world);
    return total ? 1 : 0;
}
