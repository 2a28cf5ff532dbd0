/* describe.c - `hyperfold describe`: a first look at the data, computed in parallel.
 *
 * Every rank loads its own contiguous slice of the rows from the shards and computes per-column
 * partial statistics; MPI reductions combine them. Quartiles are exact, as pandas' (numpy's
 * "linear" method: the order statistics at floor and ceil of q (n - 1), interpolated): each needed
 * order statistic is found by a distributed selection (exact_quantiles below) that narrows an open
 * interval of values with 4096-bin histograms until the values left in it are few enough to
 * gather on rank 0, or all equal. Categorical columns report their distinct values and the most
 * frequent ones. The target's class balance (classification) or distribution (regression) and each
 * numeric feature's Pearson correlation with the target (pairwise complete rows) are reported too.
 */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/describe.h"
#include "coordinator/pipeline.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "jobs/rundir.h"
#include "jobs/spec.h"
#include "shards/ingest.h"
#include "shards/partition.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINS 4096
#define TOP 5

/* Per numeric column partial sums: count, missing, sum, sumsq, sum_xy, sum_y, sum_yy, n_xy. */
enum { S_COUNT, S_MISSING, S_SUM, S_SUMSQ, S_XY, S_Y, S_YY, S_NXY, S_N };

typedef struct col_stats {
    double s[S_N];
    double min, max;
    int numeric;   /* quartiles, moments and min/max are computed */
    double *codes; /* category counts (categorical/boolean) */
} col_stats;

static int bin_of(double v, double lo, double hi)
{
    if (hi <= lo)
        return 0;
    int b = (int)((v - lo) / (hi - lo) * BINS);
    return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

/* ---- exact quantiles ---------------------------------------------------------------------------
 * One order statistic (the k-th smallest non-missing value of a column, 0-based) is found by
 * narrowing an open interval (lo, hi) of values that holds it, with `below` values <= lo. Each
 * round counts the values in the interval and their min and max (one allreduce); if at most
 * GATHER of them are left, rank 0 gathers and sorts them; if they are all equal, that is the
 * answer; otherwise a 4096-bin histogram of them between their min and max (bin_of is monotone in
 * the value, so every bin is an interval of values) finds the bin holding the k-th value, and a
 * second pass finds the largest value left of that bin and the smallest right of it: the new open
 * interval holds exactly the bin's values. Each round shrinks the candidates about 4096-fold
 * unless they are concentrated on few distinct values, whose min == max test then ends it. */
#define GATHER 65536

typedef struct qtarget {
    size_t col; /* column (p = the target) */
    double k;   /* rank of the order statistic among the sorted non-missing values */
    double lo, hi, below;
    double value; /* rank 0: the answer once done */
    int done;
} qtarget;

static double col_value(const hf_dataset *d, size_t p, size_t i, size_t j)
{
    return j < p ? d->X[i * p + j] : d->y[i];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy's _lerp (numpy.percentile's "linear" method, which pandas' quantile uses). */
static double lerp(double a, double b, double t)
{
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/* Collective. Count, min and max of the values in each open interval (st: 3 per target). One
 * reduction per statistic for all the targets (done targets give 0, inf, -inf, which change
 * nothing): per-target reductions made a wide table (100,000 columns) cost a million of them. */
static int interval_stats(hf_comm *world, const hf_dataset *d, size_t p, const qtarget *t,
                          size_t nt, double *st)
{
    double *cnt = st, *mn = st + nt, *mx = st + 2 * nt;
    for (size_t q = 0; q < nt; q++) {
        cnt[q] = 0;
        mn[q] = INFINITY;
        mx[q] = -INFINITY;
        if (t[q].done)
            continue;
        for (size_t i = 0; i < d->n_rows; i++) {
            double v = col_value(d, p, i, t[q].col);
            if (v > t[q].lo && v < t[q].hi) {
                cnt[q]++;
                mn[q] = fmin(mn[q], v);
                mx[q] = fmax(mx[q], v);
            }
        }
    }
    HF_CALL(hf_comm_allreduce_sum_f64(world, cnt, nt));
    HF_CALL(hf_comm_allreduce_min_f64(world, mn, nt));
    return hf_comm_allreduce_max_f64(world, mx, nt);
}

/* Collective. The candidates of the targets t[idx[0..m)] (global counts cnt[idx[i]]) gathered on
 * rank 0 in one message, each rank's part being per target its local count and values; rank 0
 * sorts each target's candidates and takes the k-th. */
static int gather_select(hf_comm *world, const hf_dataset *d, size_t p, qtarget *t,
                         const size_t *idx, size_t m, const double *cnt)
{
    size_t local = 0, most = 1, *lens = NULL;
    for (size_t i = 0; i < m; i++)
        most = (size_t)cnt[idx[i]] > most ? (size_t)cnt[idx[i]] : most;
    for (size_t i = 0; i < m; i++)
        local += (size_t)cnt[idx[i]]; /* a bound on the local values */
    char *all = NULL;
    double *mine = hf_malloc((local + m + 1) * sizeof *mine);
    double *vals = hf_comm_rank(world) == 0 ? hf_malloc(most * sizeof *vals) : NULL;
    int result = mine && (vals || hf_comm_rank(world) != 0) ? HF_OK : HF_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; result >= 0 && i < m; i++) {
        const qtarget *x = &t[idx[i]];
        size_t at = k++;
        for (size_t r = 0; r < d->n_rows; r++) {
            double v = col_value(d, p, r, x->col);
            if (v > x->lo && v < x->hi)
                mine[k++] = v;
        }
        mine[at] = (double)(k - at - 1);
    }
    result = hf_comm_check(world, result);
    if (result >= 0)
        result = hf_comm_gather_blob(world, mine, k * sizeof *mine, 0, &all, &lens);
    if (result >= 0 && hf_comm_rank(world) == 0) {
        int size = hf_comm_size(world);
        size_t *cur = hf_calloc((size_t)size, sizeof *cur); /* each rank's next double */
        const double *g = (const double *)(void *)all;
        result = cur ? HF_OK : HF_ENOMEM;
        for (int r = 1; cur && r < size; r++)
            cur[r] = cur[r - 1] + lens[r - 1] / sizeof(double);
        for (size_t i = 0; result >= 0 && i < m; i++) {
            qtarget *x = &t[idx[i]];
            size_t got = 0;
            for (int r = 0; r < size; r++) {
                size_t c = (size_t)g[cur[r]];
                memcpy(vals + got, g + cur[r] + 1, c * sizeof *vals);
                got += c;
                cur[r] += c + 1;
            }
            qsort(vals, got, sizeof *vals, cmp_double);
            x->value = vals[(size_t)(x->k - x->below)];
        }
        free(cur);
    }
    for (size_t i = 0; i < m; i++)
        t[idx[i]].done = 1;
    free(mine);
    free(vals);
    free(all);
    free(lens);
    return result;
}

/* Collective. Narrows each target t[idx[i]]'s interval to the histogram bin (of BINS between
 * mn[i] and mx[i]) holding its k-th value: the new open interval holds exactly that bin's values.
 * hist: m x BINS, edge: 2 x m scratch. */
static int narrow(hf_comm *world, const hf_dataset *d, size_t p, qtarget *t, const size_t *idx,
                  size_t m, const double *mn, const double *mx, double *hist, double *edge)
{
    memset(hist, 0, m * BINS * sizeof *hist);
    for (size_t i = 0; i < m; i++) {
        const qtarget *x = &t[idx[i]];
        for (size_t r = 0; r < d->n_rows; r++) {
            double v = col_value(d, p, r, x->col);
            if (v > x->lo && v < x->hi)
                hist[i * BINS + (size_t)bin_of(v, mn[i], mx[i])]++;
        }
    }
    HF_CALL(hf_comm_allreduce_sum_f64(world, hist, m * BINS));
    int *bin = hf_malloc(m * sizeof *bin);
    double *cum = hf_malloc(m * sizeof *cum);
    int result = bin && cum ? HF_OK : HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < m; i++) {
        const qtarget *x = &t[idx[i]];
        const double *h = hist + i * BINS;
        int b = 0;
        double c = x->below;
        while (b < BINS - 1 && c + h[b] <= x->k)
            c += h[b++];
        bin[i] = b;
        cum[i] = c;
        edge[i] = -INFINITY;    /* max left of bin b */
        edge[m + i] = INFINITY; /* min right of it */
        for (size_t r = 0; r < d->n_rows; r++) {
            double v = col_value(d, p, r, x->col);
            if (!(v > x->lo && v < x->hi))
                continue;
            int vb = bin_of(v, mn[i], mx[i]);
            if (vb < b)
                edge[i] = fmax(edge[i], v);
            else if (vb > b)
                edge[m + i] = fmin(edge[m + i], v);
        }
    }
    result = hf_comm_check(world, result);
    if (result >= 0)
        result = hf_comm_allreduce_max_f64(world, edge, m);
    if (result >= 0)
        result = hf_comm_allreduce_min_f64(world, edge + m, m);
    for (size_t i = 0; result >= 0 && i < m; i++) {
        qtarget *x = &t[idx[i]];
        if (edge[i] > x->lo)
            x->lo = edge[i];
        if (edge[m + i] < x->hi)
            x->hi = edge[m + i];
        x->below = cum[i];
    }
    free(bin);
    free(cum);
    return result;
}

/* Targets per batch of narrow (each holds a BINS histogram) and candidate values per batch of
 * gather_select: a round's collectives are batched, and the batches bound the memory. */
#define NARROW_BATCH 64
#define GATHER_BATCH (4 * GATHER)

/* Collective. Finds every target's order statistic; t[i].value is valid on rank 0. Every rank
 * makes the same batches from the reduced counts, so the collectives line up. */
static int exact_quantiles(hf_comm *world, const hf_dataset *d, size_t p, qtarget *t, size_t nt)
{
    int result = HF_OK;
    size_t cap = nt ? nt : 1;
    double *st = hf_malloc(cap * 3 * sizeof *st),
           *hist = hf_malloc(NARROW_BATCH * BINS * sizeof *hist);
    double *bmn = hf_malloc(NARROW_BATCH * 4 * sizeof *bmn), *bmx = bmn ? bmn + NARROW_BATCH : NULL;
    size_t *gidx = hf_malloc(cap * sizeof *gidx), *nidx = hf_malloc(cap * sizeof *nidx);
    if (!st || !hist || !bmn || !gidx || !nidx)
        result = HF_ENOMEM;
    result = hf_comm_check(world, result);
    for (int round = 0; round < 64 && result >= 0; round++) {
        size_t left = 0, ng = 0, nn = 0;
        for (size_t q = 0; q < nt; q++)
            left += !t[q].done;
        if (!left)
            break;
        if ((result = interval_stats(world, d, p, t, nt, st)) < 0)
            break;
        const double *cnt = st, *mn = st + nt, *mx = st + 2 * nt;
        for (size_t q = 0; q < nt && result >= 0; q++) {
            qtarget *x = &t[q];
            if (x->done)
                continue;
            if (!(cnt[q] > x->k - x->below))
                result = hf_error(HF_EINTERNAL, "describe: quantile selection lost its value");
            else if (mn[q] == mx[q]) {
                x->value = mn[q];
                x->done = 1;
            } else if (cnt[q] <= GATHER)
                gidx[ng++] = q;
            else
                nidx[nn++] = q;
        }
        for (size_t a = 0; a < ng && result >= 0;) {
            size_t b = a;
            double sum = 0;
            while (b < ng && (b == a || sum + cnt[gidx[b]] <= GATHER_BATCH))
                sum += cnt[gidx[b++]];
            result = gather_select(world, d, p, t, gidx + a, b - a, cnt);
            a = b;
        }
        for (size_t a = 0; a < nn && result >= 0; a += NARROW_BATCH) {
            size_t m = nn - a < NARROW_BATCH ? nn - a : NARROW_BATCH;
            for (size_t i = 0; i < m; i++) {
                bmn[i] = mn[nidx[a + i]];
                bmx[i] = mx[nidx[a + i]];
            }
            result = narrow(world, d, p, t, nidx + a, m, bmn, bmx, hist, bmx + NARROW_BATCH);
        }
    }
    for (size_t q = 0; q < nt && result >= 0; q++)
        if (!t[q].done)
            result = hf_error(HF_EINTERNAL, "describe: quantile selection did not finish");
    free(st);
    free(hist);
    free(bmn);
    free(gidx);
    free(nidx);
    return result;
}

typedef struct top_entry {
    size_t code;
    double count;
} top_entry;

static int cmp_top(const void *a, const void *b)
{
    const top_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->code < y->code ? -1 : x->code > y->code;
}

/* The index of column j's first quantile target (6 per column, in column order), or n. A binary
 * search: a linear one per column was quadratic in the number of columns. */
static size_t first_target(const qtarget *t, size_t n, size_t j)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid].col < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && t[lo].col == j ? lo : n;
}

/* Pass 1 over this rank's rows: moments, min, max, category counts (the target is column p). */
static void moments_pass(const hf_dataset *d, const hf_schema *sc, col_stats *cs)
{
    size_t p = sc->n_features;
    int with_y = sc->task != HF_TASK_CLASSIFICATION || sc->n_classes == 2;
    for (size_t i = 0; i < d->n_rows; i++) {
        double y = d->y[i];
        for (size_t j = 0; j <= p; j++) {
            double v = j < p ? d->X[i * p + j] : y;
            col_stats *c = &cs[j];
            if (isnan(v)) {
                c->s[S_MISSING]++;
                continue;
            }
            c->s[S_COUNT]++;
            if (c->codes) {
                if (v >= 0)
                    c->codes[(size_t)v]++;
                continue;
            }
            c->s[S_SUM] += v;
            c->s[S_SUMSQ] += v * v;
            if (v < c->min)
                c->min = v;
            if (v > c->max)
                c->max = v;
            if (j < p && with_y && !isnan(y)) {
                c->s[S_XY] += v * y;
                c->s[S_Y] += y;
                c->s[S_YY] += y * y;
                c->s[S_NXY]++;
            }
        }
    }
}

static const double k_quartiles[3] = {0.25, 0.5, 0.75};

/* The order statistics of every numeric column's quartiles, at floor and ceil of q (count - 1):
 * 6 per column, in column order. */
static qtarget *quartile_targets(const col_stats *cs, size_t p, size_t *n)
{
    qtarget *t = hf_calloc(6 * (p + 1), sizeof *t);
    *n = 0;
    for (size_t j = 0; t && j <= p; j++) {
        if (!cs[j].numeric || cs[j].s[S_COUNT] <= 0)
            continue;
        for (int q = 0; q < 3; q++)
            for (int e = 0; e < 2; e++) {
                double pos = k_quartiles[q] * (cs[j].s[S_COUNT] - 1);
                qtarget *x = &t[(*n)++];
                x->col = j;
                x->k = e ? ceil(pos) : floor(pos);
                x->lo = -INFINITY;
                x->hi = INFINITY;
            }
    }
    return t;
}

static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* A numeric column's moments, quartiles and (features) correlation with the target into o. */
static void numeric_json(json_t *o, const col_stats *c, const qtarget *t, size_t nt, size_t j,
                         int with_corr)
{
    double cnt = c->s[S_COUNT];
    double mean = cnt > 0 ? c->s[S_SUM] / cnt : NAN;
    double var = cnt > 1 ? (c->s[S_SUMSQ] - cnt * mean * mean) / (cnt - 1) : NAN;
    json_object_set_new(o, "mean", real_or_null(mean));
    json_object_set_new(o, "std", isfinite(var) ? json_real(sqrt(var > 0 ? var : 0)) : json_null());
    json_object_set_new(o, "min", cnt > 0 ? json_real(c->min) : json_null());
    const char *qn[3] = {"q25", "median", "q75"};
    size_t x0 = first_target(t, nt, j);
    for (int q = 0; q < 3; q++) {
        double v = NAN, pos = k_quartiles[q] * (cnt - 1);
        size_t x = x0 + 2 * (size_t)q;
        if (x + 1 < nt && t[x].col == j)
            v = lerp(t[x].value, t[x + 1].value, pos - floor(pos));
        json_object_set_new(o, qn[q], real_or_null(v));
    }
    json_object_set_new(o, "max", cnt > 0 ? json_real(c->max) : json_null());
    if (!with_corr)
        return;
    double nn = c->s[S_NXY], div = nn > 0 ? nn : 1;
    double cov = c->s[S_XY] - c->s[S_SUM] * c->s[S_Y] / div;
    double vx = c->s[S_SUMSQ] - c->s[S_SUM] * c->s[S_SUM] / div;
    double vy = c->s[S_YY] - c->s[S_Y] * c->s[S_Y] / div;
    json_object_set_new(o, "corr_target",
                        real_or_null(vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : NAN));
}

/* A categorical column's distinct count and most frequent values (the target: every class). */
static void categorical_json(json_t *o, const col_stats *c, char *const *names, size_t k,
                             int is_target)
{
    top_entry *t = hf_malloc((k ? k : 1) * sizeof *t);
    size_t distinct = 0;
    for (size_t i = 0; t && i < k; i++) {
        t[i].code = i;
        t[i].count = c->codes[i];
        distinct += c->codes[i] > 0;
    }
    json_object_set_new(o, "distinct", json_integer((json_int_t)distinct));
    json_t *top = json_array();
    if (t) {
        qsort(t, k, sizeof *t, cmp_top);
        size_t limit = is_target ? k : (k < TOP ? k : TOP);
        for (size_t i = 0; i < limit && t[i].count > 0; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "value", json_string(names[t[i].code]));
            json_object_set_new(e, "count", json_integer((json_int_t)t[i].count));
            json_object_set_new(e, "fraction", json_real(t[i].count / c->s[S_COUNT]));
            json_array_append_new(top, e);
        }
    }
    free(t);
    json_object_set_new(o, is_target ? "classes" : "top", top);
}

/* Rank 0. describe.json's object of every column and the target. */
static json_t *describe_json(const hf_schema *sc, int64_t n, const col_stats *cs, const qtarget *t,
                             size_t nt)
{
    size_t p = sc->n_features;
    int classification = sc->task == HF_TASK_CLASSIFICATION;
    json_t *cols = json_array();
    for (size_t j = 0; j <= p; j++) {
        json_t *o = json_object();
        hf_col_type type = j < p            ? sc->features[j].type
                           : classification ? HF_COL_CATEGORICAL
                                            : HF_COL_NUMERIC;
        json_object_set_new(o, "name", json_string(j < p ? sc->features[j].name : sc->target));
        json_object_set_new(o, "role", json_string(j < p ? "feature" : "target"));
        json_object_set_new(o, "type", json_string(hf_col_type_name(type)));
        json_object_set_new(o, "count", json_integer((json_int_t)cs[j].s[S_COUNT]));
        json_object_set_new(o, "missing", json_integer((json_int_t)cs[j].s[S_MISSING]));
        if (cs[j].numeric)
            numeric_json(o, &cs[j], t, nt, j, j < p && (!classification || sc->n_classes == 2));
        else
            categorical_json(o, &cs[j], j < p ? sc->features[j].categories : sc->classes,
                             j < p ? sc->features[j].n_categories : sc->n_classes, j == p);
        json_array_append_new(cols, o);
    }
    json_t *root = json_object();
    json_object_set_new(root, "rows", json_integer((json_int_t)n));
    json_object_set_new(root, "task", json_string(hf_task_name(sc->task)));
    json_object_set_new(root, "quantiles",
                        json_string("exact (linear interpolation between order statistics, as "
                                    "pandas' describe)"));
    json_object_set_new(root, "columns", cols);
    return root;
}

/* Collective. Sums the partial statistics of every column (cs[0..p]) over the ranks: one
 * reduction each for the sums, the minima, the maxima and the category counts of all columns. */
static int reduce_stats(hf_comm *world, const hf_schema *sc, col_stats *cs)
{
    size_t p = sc->n_features, n_codes = 0;
    for (size_t j = 0; j <= p; j++)
        n_codes += cs[j].codes ? (j < p ? sc->features[j].n_categories : sc->n_classes) : 0;
    double *sums = hf_malloc(((p + 1) * (S_N + 2) + n_codes) * sizeof *sums);
    int result = hf_comm_check(world, sums ? HF_OK : HF_ENOMEM);
    if (result < 0) {
        free(sums);
        return result;
    }
    double *mins = sums + (p + 1) * S_N, *maxs = mins + (p + 1), *codes = maxs + (p + 1);
    size_t at = 0;
    for (size_t j = 0; j <= p; j++) {
        size_t k = cs[j].codes ? (j < p ? sc->features[j].n_categories : sc->n_classes) : 0;
        memcpy(sums + j * S_N, cs[j].s, sizeof cs[j].s);
        mins[j] = cs[j].min;
        maxs[j] = cs[j].max;
        if (k)
            memcpy(codes + at, cs[j].codes, k * sizeof *codes);
        at += k;
    }
    result = hf_comm_allreduce_sum_f64(world, sums, (p + 1) * S_N);
    if (result >= 0)
        result = hf_comm_allreduce_min_f64(world, mins, p + 1);
    if (result >= 0)
        result = hf_comm_allreduce_max_f64(world, maxs, p + 1);
    if (result >= 0 && n_codes)
        result = hf_comm_allreduce_sum_f64(world, codes, n_codes);
    at = 0;
    for (size_t j = 0; result >= 0 && j <= p; j++) {
        size_t k = cs[j].codes ? (j < p ? sc->features[j].n_categories : sc->n_classes) : 0;
        memcpy(cs[j].s, sums + j * S_N, sizeof cs[j].s);
        cs[j].min = mins[j];
        cs[j].max = maxs[j];
        if (k)
            memcpy(cs[j].codes, codes + at, k * sizeof *codes);
        at += k;
    }
    free(sums);
    return result;
}

/* Not collective. Per-column accumulators for p features and the target (cs[p]), or NULL. */
static col_stats *stats_alloc(const hf_schema *sc)
{
    size_t p = sc->n_features;
    col_stats *cs = hf_calloc(p + 1, sizeof *cs); /* [p] = the target */
    for (size_t j = 0; cs && j <= p; j++) {
        int cat =
            j < p ? sc->features[j].type != HF_COL_NUMERIC : sc->task == HF_TASK_CLASSIFICATION;
        size_t k = j < p ? sc->features[j].n_categories : sc->n_classes;
        cs[j].min = INFINITY;
        cs[j].max = -INFINITY;
        cs[j].numeric = !cat;
        if (cat && !(cs[j].codes = hf_calloc(k ? k : 1, sizeof(double)))) {
            for (size_t i = 0; i <= j; i++)
                free(cs[i].codes);
            free(cs);
            return NULL;
        }
    }
    return cs;
}

static void stats_free(col_stats *cs, size_t p)
{
    for (size_t j = 0; cs && j <= p; j++)
        free(cs[j].codes);
    free(cs);
}

/* Collective. Computes the statistics of every feature column and of the target. */
static int compute(hf_comm *world, const hf_manifest *m, const char *shard_dir, json_t **out)
{
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    const hf_schema *sc = hf_manifest_schema(m);
    int64_t n = hf_manifest_n_rows(m);
    int64_t first = n * rank / size, last = n * (rank + 1) / size;
    hf_dataset *d = NULL;
    size_t p = sc->n_features, n_targets = 0;
    col_stats *cs = stats_alloc(sc);
    qtarget *targets = NULL;
    int result = cs ? hf_shards_load_range(shard_dir, m, first, last - first, &d) : HF_ENOMEM;
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    moments_pass(d, sc, cs);
    result = reduce_stats(world, sc, cs);
    if (result >= 0)
        result = (targets = quartile_targets(cs, p, &n_targets)) ? HF_OK : HF_ENOMEM;
    if (result >= 0)
        result = exact_quantiles(world, d, p, targets, n_targets);
    if (result >= 0 && rank == 0)
        *out = describe_json(sc, n, cs, targets, n_targets);
out:
    stats_free(cs, p);
    free(targets);
    hf_dataset_free(d);
    return result;
}

/* Values (rows x columns) loaded at a time by hf_describe_profile: 64 MB of doubles. */
#define PROFILE_CHUNK (1 << 23)

/* The histogram of a numeric target in hf_describe_profile: bins between its min and max. */
#define TARGET_BINS 30

/* Not collective. One pass over the rows in chunks: each chunk's dataset is given to `pass`. */
static int each_chunk(const char *shard_dir, const hf_manifest *m,
                      void (*pass)(const hf_dataset *d, void *arg), void *arg)
{
    int64_t n = hf_manifest_n_rows(m);
    int64_t cols = (int64_t)hf_manifest_schema(m)->n_features + 1;
    int64_t chunk = PROFILE_CHUNK / cols > 0 ? PROFILE_CHUNK / cols : 1;
    int result = HF_OK;
    for (int64_t first = 0; result >= 0 && first < n; first += chunk) {
        hf_dataset *d = NULL;
        result = hf_shards_load_range(shard_dir, m, first, chunk, &d);
        if (result >= 0)
            pass(d, arg);
        hf_dataset_free(d);
    }
    return result;
}

typedef struct profile_pass {
    const hf_schema *sc;
    col_stats *cs;
    double lo, hi, counts[TARGET_BINS];
} profile_pass;

static void profile_moments(const hf_dataset *d, void *arg)
{
    profile_pass *pp = arg;
    moments_pass(d, pp->sc, pp->cs);
}

static void profile_histogram(const hf_dataset *d, void *arg)
{
    profile_pass *pp = arg;
    double span = pp->hi - pp->lo;
    for (size_t i = 0; i < d->n_rows; i++) {
        if (isnan(d->y[i]))
            continue;
        /* numpy.histogram's bins (the last one closed); exact on a bin edge for integer data. */
        int b = span > 0 ? (int)((d->y[i] - pp->lo) * TARGET_BINS / span) : 0;
        pp->counts[b < 0 ? 0 : b >= TARGET_BINS ? TARGET_BINS - 1 : b]++;
    }
}

int hf_describe_profile(const char *shard_dir, const hf_manifest *m, json_t **out)
{
    const hf_schema *sc = hf_manifest_schema(m);
    size_t p = sc->n_features;
    profile_pass pp = {.sc = sc, .cs = stats_alloc(sc)};
    int result = pp.cs ? HF_OK : HF_ENOMEM;
    *out = NULL;
    if (result >= 0)
        result = each_chunk(shard_dir, m, profile_moments, &pp);
    /* A numeric target's distribution: a second pass for its histogram. */
    int hist = result >= 0 && pp.cs[p].numeric && pp.cs[p].s[S_COUNT] > 0;
    if (hist) {
        pp.lo = pp.cs[p].min;
        pp.hi = pp.cs[p].max;
        result = each_chunk(shard_dir, m, profile_histogram, &pp);
    }
    if (result >= 0 && !(*out = describe_json(sc, hf_manifest_n_rows(m), pp.cs, NULL, 0)))
        result = HF_ENOMEM;
    if (*out) {
        json_object_set_new(*out, "quantiles",
                            json_string("not computed (hyperfold describe "
                                        "computes exact quartiles)"));
        json_t *target = json_array_get(json_object_get(*out, "columns"), p);
        if (hist && target) {
            json_t *h = json_object(), *c = json_array();
            for (int b = 0; b < TARGET_BINS; b++)
                json_array_append_new(c, json_integer((json_int_t)pp.counts[b]));
            json_object_set_new(h, "min", json_real(pp.lo));
            json_object_set_new(h, "max", json_real(pp.hi));
            json_object_set_new(h, "counts", c);
            json_object_set_new(target, "histogram", h);
        }
    }
    stats_free(pp.cs, p);
    return result;
}

static void fmt_num(char *buf, size_t len, json_t *v)
{
    if (json_is_number(v))
        snprintf(buf, len, "%.6g", json_number_value(v));
    else
        snprintf(buf, len, "-");
}

static void print_table(FILE *fp, json_t *root)
{
    json_t *cols = json_object_get(root, "columns");
    fprintf(fp, "%lld rows, task %s\n\n",
            (long long)json_integer_value(json_object_get(root, "rows")),
            json_string_value(json_object_get(root, "task")));
    fprintf(fp, "%-24s %-11s %8s %7s %11s %11s %11s %11s %11s %11s %11s %8s\n", "column", "type",
            "count", "missing", "mean", "std", "min", "q25", "median", "q75", "max", "corr_y");
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        char name[64];
        snprintf(name, sizeof name, "%s%s", json_string_value(json_object_get(c, "name")),
                 strcmp(json_string_value(json_object_get(c, "role")), "target") == 0 ? " (target)"
                                                                                      : "");
        fprintf(fp, "%-24.24s %-11s %8lld %7lld", name, type,
                (long long)json_integer_value(json_object_get(c, "count")),
                (long long)json_integer_value(json_object_get(c, "missing")));
        if (strcmp(type, "numeric") == 0) {
            const char *keys[] = {"mean", "std", "min", "q25", "median", "q75", "max"};
            for (int k = 0; k < 7; k++) {
                char b[32];
                fmt_num(b, sizeof b, json_object_get(c, keys[k]));
                fprintf(fp, " %11s", b);
            }
            char b[32];
            fmt_num(b, sizeof b, json_object_get(c, "corr_target"));
            fprintf(fp, " %8s", b);
        } else {
            json_t *top = json_object_get(c, "top");
            if (!top)
                top = json_object_get(c, "classes");
            fprintf(fp, "  distinct %lld:",
                    (long long)json_integer_value(json_object_get(c, "distinct")));
            size_t k;
            json_t *e;
            json_array_foreach(top, k, e)
            {
                fprintf(fp, " %s=%lld (%.1f%%)", json_string_value(json_object_get(e, "value")),
                        (long long)json_integer_value(json_object_get(e, "count")),
                        100 * json_real_value(json_object_get(e, "fraction")));
            }
        }
        fputc('\n', fp);
    }
    fprintf(fp, "\nquartiles are %s\n", json_string_value(json_object_get(root, "quantiles")));
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: mpirun -np N hyperfold describe JOB.yaml\n\n"
                "Ingests the job's data (or reuses its shards) and profiles every column in\n"
                "parallel: type, count, missing, mean, std, min, exact quartiles, max;\n"
                "categorical columns: distinct values and the most frequent; the target's\n"
                "class balance or distribution; each numeric feature's correlation with the\n"
                "target. Prints a table and writes <output.dir>/<name>/describe.json.\n");
}

int hf_cmd_describe(hf_comm *world, int argc, char **argv)
{
    const char *path = NULL;
    int rank = hf_comm_rank(world);
    const hf_cmdline cl = {"describe", NULL, 0, "job spec", "JOB.yaml", 0, usage};
    int result = hf_args_parse(&cl, argc, argv, &path, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    hf_spec *spec = NULL;
    hf_manifest *m = NULL;
    json_t *root = NULL;
    hf_rundir dir = {0};
    int reused = 0;
    if ((result = hf_pipeline_spec(world, path, &spec)) < 0)
        goto out;
    result = hf_rundir_of(&spec->output, spec->name, &dir);
    if (result >= 0 && rank == 0)
        result = hf_fs_mkdirs(dir.dir);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    if ((result = hf_pipeline_ingest(world, spec, NULL, dir.shards, dir.audit, dir.rejects, &m,
                                     &reused)) < 0)
        goto out;
    result = compute(world, m, dir.shards, &root);
    if (result >= 0 && rank == 0) {
        print_table(stdout, root);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        result = text ? hf_fs_write_atomic(dir.describe, text, strlen(text)) : HF_ENOMEM;
        free(text);
        if (result >= 0)
            fprintf(stdout, "wrote %s\n", dir.describe);
    }
    result = hf_comm_check(world, result);
out:
    json_decref(root);
    hf_manifest_free(m);
    hf_spec_free(spec);
    hf_rundir_free(&dir);
    return result;
}
