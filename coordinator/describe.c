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
#include "coordinator/profile_util.h"
#include "coordinator/drift.h"
#include "coordinator/pipeline.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "common/stats.h"
#include "jobs/rundir.h"
#include "jobs/spec.h"
#include "shards/audit.h"
#include "shards/etl.h"
#include "shards/ingest.h"
#include "shards/csv.h"
#include "shards/partition.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINS 4096
#define TOP 5

/* Per numeric column partial sums: count, missing, sum, sumsq, sum_xy, sum_y, sum_yy, n_xy. */
enum { S_COUNT, S_MISSING, S_SUM, S_SUMSQ, S_XY, S_Y, S_YY, S_NXY, S_NONINT, S_N };

typedef struct col_stats {
    double s[S_N];
    double min, max;
    int numeric;   /* quartiles, moments and min/max are computed */
    double *codes; /* category counts (categorical/boolean) */
} col_stats;

static int hist_bin(double v, double lo, double hi)
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

/* Collective. Count, min and max of the values in each open interval (st: 3 per target). One
 * reduction per statistic for all the targets (done targets give 0, inf, -inf, which change
 * nothing): per-target reductions made a wide table (100,000 columns) cost a million of them. */
static int interval_stats(hf_comm *world, const hf_dataset *d, const qtarget *t, size_t nt,
                          double *st)
{
    double *cnt = st, *mn = st + nt, *mx = st + 2 * nt;
    for (size_t q = 0; q < nt; q++) {
        cnt[q] = 0;
        mn[q] = INFINITY;
        mx[q] = -INFINITY;
        if (t[q].done)
            continue;
        for (size_t i = 0; i < d->n_rows; i++) {
            double v = hf_profile_value(d, i, t[q].col);
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
static int gather_select(hf_comm *world, const hf_dataset *d, qtarget *t, const size_t *idx,
                         size_t m, const double *cnt)
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
            double v = hf_profile_value(d, r, x->col);
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
            qsort(vals, got, sizeof *vals, hf_cmp_double);
            x->value = vals[(size_t)(x->k - x->below)];
        }
        free(cur);
    }
    /* Rank 0's failure (allocating cur) reaches every rank, which would otherwise go on to the
     * next round's collectives alone. */
    result = hf_comm_check(world, result);
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
static int narrow(hf_comm *world, const hf_dataset *d, qtarget *t, const size_t *idx, size_t m,
                  const double *mn, const double *mx, double *hist, double *edge)
{
    memset(hist, 0, m * BINS * sizeof *hist);
    for (size_t i = 0; i < m; i++) {
        const qtarget *x = &t[idx[i]];
        for (size_t r = 0; r < d->n_rows; r++) {
            double v = hf_profile_value(d, r, x->col);
            if (v > x->lo && v < x->hi)
                hist[i * BINS + (size_t)hist_bin(v, mn[i], mx[i])]++;
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
            double v = hf_profile_value(d, r, x->col);
            if (!(v > x->lo && v < x->hi))
                continue;
            int vb = hist_bin(v, mn[i], mx[i]);
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
static int exact_quantiles(hf_comm *world, const hf_dataset *d, qtarget *t, size_t nt)
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
        if ((result = interval_stats(world, d, t, nt, st)) < 0)
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
            result = gather_select(world, d, t, gidx + a, b - a, cnt);
            a = b;
        }
        for (size_t a = 0; a < nn && result >= 0; a += NARROW_BATCH) {
            size_t m = nn - a < NARROW_BATCH ? nn - a : NARROW_BATCH;
            for (size_t i = 0; i < m; i++) {
                bmn[i] = mn[nidx[a + i]];
                bmx[i] = mx[nidx[a + i]];
            }
            result = narrow(world, d, t, nidx + a, m, bmn, bmx, hist, bmx + NARROW_BATCH);
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
            c->s[S_NONINT] += v != floor(v);
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

/* A numeric column's moments, quartiles and (features) correlation with the target into o. */
static void numeric_json(json_t *o, const col_stats *c, const qtarget *t, size_t nt, size_t j,
                         int with_corr)
{
    double cnt = c->s[S_COUNT];
    double mean = cnt > 0 ? c->s[S_SUM] / cnt : NAN;
    double var = cnt > 1 ? (c->s[S_SUMSQ] - cnt * mean * mean) / (cnt - 1) : NAN;
    json_object_set_new(o, "mean", hf_profile_real_or_null(mean));
    json_object_set_new(o, "std", isfinite(var) ? json_real(sqrt(var > 0 ? var : 0)) : json_null());
    json_object_set_new(o, "min", cnt > 0 ? json_real(c->min) : json_null());
    const char *qn[3] = {"q25", "median", "q75"};
    size_t x0 = first_target(t, nt, j);
    for (int q = 0; q < 3; q++) {
        double v = NAN, pos = k_quartiles[q] * (cnt - 1);
        size_t x = x0 + 2 * (size_t)q;
        if (x + 1 < nt && t[x].col == j)
            v = hf_lerp(t[x].value, t[x + 1].value, pos - floor(pos));
        json_object_set_new(o, qn[q], hf_profile_real_or_null(v));
    }
    json_object_set_new(o, "max", cnt > 0 ? json_real(c->max) : json_null());
    if (!with_corr)
        return;
    double nn = c->s[S_NXY], div = nn > 0 ? nn : 1;
    double cov = c->s[S_XY] - c->s[S_SUM] * c->s[S_Y] / div;
    double vx = c->s[S_SUMSQ] - c->s[S_SUM] * c->s[S_SUM] / div;
    double vy = c->s[S_YY] - c->s[S_Y] * c->s[S_Y] / div;
    json_object_set_new(o, "corr_target",
                        hf_profile_real_or_null(vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : NAN));
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

/* ---- beyond the moments: distinct counts, shape, association with the target ------------------
 * Pass 2 (after the moments are reduced) accumulates around each column's mean: the second and
 * third central sums (std, skew), zeros, and the per-class or per-level tables the association
 * measures need. Pass 3 (after the quartiles) counts the outliers of the 1.5 IQR rule. Distinct
 * counts of numeric columns are exact up to --max-distinct: every rank sorts its own values, the
 * unique ones are gathered on rank 0 (in batches) and merged; a column with more distinct values
 * than that (on some rank, or after the merge) gets a HyperLogLog estimate instead, whose
 * registers merge over the ranks by max, so the estimate does not depend on the number of ranks. */

/* Pass-2 sums of a column: central moments around the mean, zeros, outliers. */
enum { C_M2, C_M3, C_ZERO, C_OUT, C_N };
/* The association table of a numeric feature and a numeric target: pairwise complete rows,
 * shifted by the columns' means. */
enum { P_N, P_X, P_Y, P_XX, P_YY, P_XY, P_N_ };

/* HyperLogLog with 2^14 registers: standard error 1.04 / sqrt(16384) = 0.81%. */
#define HLL_BITS 14
#define HLL_M (1u << HLL_BITS)

/* Distinct numeric values gathered per batch on rank 0 (as (value, class) pairs). */
#define DISTINCT_BATCH (1u << 22)

typedef struct extra {
    int has_target, classification;
    size_t k;          /* classes (classification) */
    double *c;         /* (p + 1) x C_N */
    double *assoc;     /* every column's association table, one after the other */
    size_t *assoc_off; /* p + 2 offsets into assoc */
    double *quart;     /* (p + 1) x 3: q25, median, q75 on every rank (NaN: not numeric) */
    /* rank 0: per column */
    double *distinct;
    int *approx, *one_class; /* one_class: every distinct value is seen with one class only */
    size_t max_distinct;
    int one_process; /* hf_describe_profile: no quartiles, no outliers, distinct up to SMALL */
} extra;

static size_t assoc_len(const hf_schema *sc, const col_stats *cs, size_t j, const extra *ex)
{
    size_t p = sc->n_features;
    if (!ex->has_target || j >= p)
        return 0;
    if (cs[j].numeric)
        return ex->classification ? 3 * ex->k : P_N_;
    size_t levels = sc->features[j].n_categories;
    return ex->classification ? levels * ex->k : 3 * levels;
}

static double col_mean(const col_stats *c)
{
    return c->s[S_COUNT] > 0 ? c->s[S_SUM] / c->s[S_COUNT] : 0;
}

/* Pass 2 over this rank's rows. */
static void central_pass(const hf_dataset *d, const hf_schema *sc, const col_stats *cs, extra *ex)
{
    size_t p = sc->n_features, k = ex->k;
    double ymean = col_mean(&cs[p]);
    for (size_t i = 0; i < d->n_rows; i++) {
        double y = d->y[i];
        int with_y = ex->has_target && !isnan(y);
        for (size_t j = 0; j <= p; j++) {
            double v = j < p ? d->X[i * p + j] : y;
            if (isnan(v))
                continue;
            double *a = ex->assoc + ex->assoc_off[j];
            if (cs[j].numeric) {
                double dv = v - col_mean(&cs[j]), *c = ex->c + j * C_N;
                c[C_M2] += dv * dv;
                c[C_M3] += dv * dv * dv;
                c[C_ZERO] += v == 0;
                if (j == p || !with_y)
                    continue;
                if (ex->classification) {
                    size_t y_k = (size_t)y;
                    a[3 * y_k]++;
                    a[3 * y_k + 1] += dv;
                    a[3 * y_k + 2] += dv * dv;
                } else {
                    double dy = y - ymean;
                    a[P_N]++;
                    a[P_X] += dv;
                    a[P_Y] += dy;
                    a[P_XX] += dv * dv;
                    a[P_YY] += dy * dy;
                    a[P_XY] += dv * dy;
                }
            } else if (j < p && with_y && v >= 0) {
                size_t code = (size_t)v;
                if (ex->classification)
                    a[code * k + (size_t)y]++;
                else {
                    double dy = y - ymean;
                    a[3 * code]++;
                    a[3 * code + 1] += dy;
                    a[3 * code + 2] += dy * dy;
                }
            }
        }
    }
}

/* Pass 3: the values outside [q25 - 1.5 IQR, q75 + 1.5 IQR]. */
static void outlier_pass(const hf_dataset *d, size_t p, const col_stats *cs, extra *ex)
{
    for (size_t j = 0; j <= p; j++) {
        const double *q = ex->quart + 3 * j;
        if (!cs[j].numeric || isnan(q[0]))
            continue;
        double iqr = q[2] - q[0], lo = q[0] - 1.5 * iqr, hi = q[2] + 1.5 * iqr, n = 0;
        for (size_t i = 0; i < d->n_rows; i++) {
            double v = hf_profile_value(d, i, j);
            n += !isnan(v) && (v < lo || v > hi);
        }
        ex->c[j * C_N + C_OUT] = n;
    }
}

static int cmp_pair(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* This rank's distinct (value, class) pairs of numeric column j, sorted (class -1: no class or no
 * target), into pairs (2 doubles each; room for n_rows); returns their number, *values the number
 * of distinct values among them. -0.0 is 0.0. */
static size_t local_pairs(const hf_dataset *d, size_t p, size_t j, const extra *ex, double *pairs,
                          size_t *values)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_rows; i++) {
        double v = hf_profile_value(d, i, j);
        if (isnan(v))
            continue;
        pairs[2 * n] = v == 0 ? 0.0 : v;
        pairs[2 * n + 1] =
            ex->classification && j < p && !isnan(d->y[i]) ? d->y[i] : -1; /* class code */
        n++;
    }
    qsort(pairs, n, 2 * sizeof *pairs, cmp_pair);
    size_t u = 0, vals = 0;
    for (size_t i = 0; i < n; i++) {
        if (u && pairs[2 * (u - 1)] == pairs[2 * i] && pairs[2 * (u - 1) + 1] == pairs[2 * i + 1])
            continue;
        vals += !u || pairs[2 * (u - 1)] != pairs[2 * i];
        pairs[2 * u] = pairs[2 * i];
        pairs[2 * u + 1] = pairs[2 * i + 1];
        u++;
    }
    *values = vals;
    return u;
}

/* Rank 0: merges the gathered sorted pairs of one column: the distinct values and whether each
 * is seen with one class only (pairs of class -1 do not count). */
static void merge_pairs(double *pairs, size_t n, double *distinct, int *one_class)
{
    qsort(pairs, n, 2 * sizeof *pairs, cmp_pair);
    size_t vals = 0;
    int one = 1;
    for (size_t i = 0; i < n;) {
        size_t e = i, classes = 0;
        while (e < n && pairs[2 * e] == pairs[2 * i]) {
            if (pairs[2 * e + 1] >= 0 && (e == i || pairs[2 * e + 1] != pairs[2 * (e - 1) + 1]))
                classes++;
            e++;
        }
        vals++;
        one &= classes <= 1;
        i = e;
    }
    *distinct = (double)vals;
    *one_class = one;
}

/* SplitMix64's finaliser: the hash of a value's bits for HyperLogLog. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void hll_add(double *reg, double v)
{
    uint64_t bits;
    v = v == 0 ? 0.0 : v;
    memcpy(&bits, &v, sizeof bits);
    uint64_t h = mix64(bits + 0x9e3779b97f4a7c15ULL);
    size_t idx = (size_t)(h >> (64 - HLL_BITS));
    uint64_t rest = h << HLL_BITS;
    double rho = rest ? (double)(__builtin_clzll(rest) + 1) : (double)(64 - HLL_BITS + 1);
    if (rho > reg[idx])
        reg[idx] = rho;
}

/* The HyperLogLog estimate (Flajolet et al. 2007, with the small-range correction by linear
 * counting; 64-bit hashes need no large-range one). */
static double hll_estimate(const double *reg)
{
    double m = HLL_M, sum = 0, zeros = 0;
    for (size_t i = 0; i < HLL_M; i++) {
        sum += ldexp(1.0, -(int)reg[i]);
        zeros += reg[i] == 0;
    }
    double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros > 0)
        e = m * log(m / zeros);
    return e;
}

/* Collective. The distinct count of every numeric column (rank 0's ex->distinct, approx,
 * one_class). */
static int distinct_counts(hf_comm *world, const hf_dataset *d, const hf_schema *sc,
                           const col_stats *cs, extra *ex)
{
    size_t p = sc->n_features, nr = d->n_rows;
    int rank = hf_comm_rank(world);
    double *pairs = hf_malloc((2 * nr + 2) * sizeof *pairs);
    /* sum: pairs over the ranks; most: the most values on a rank; mine_n: this rank's pairs. */
    double *sum = hf_calloc(3 * (p + 1), sizeof *sum), *most = sum ? sum + p + 1 : NULL;
    double *mine_n = sum ? sum + 2 * (p + 1) : NULL;
    size_t *cols = hf_malloc((p + 1) * sizeof *cols);
    double *reg = hf_malloc(64 * (size_t)HLL_M * sizeof *reg);
    int result = hf_comm_check(world, pairs && sum && cols && reg ? HF_OK : HF_ENOMEM);
    for (size_t j = 0; result >= 0 && j <= p; j++) {
        if (!cs[j].numeric)
            continue;
        size_t vals = 0, u = local_pairs(d, p, j, ex, pairs, &vals);
        sum[j] = mine_n[j] = (double)u;
        most[j] = (double)vals;
    }
    if (result >= 0)
        result = hf_comm_allreduce_sum_f64(world, sum, p + 1);
    if (result >= 0)
        result = hf_comm_allreduce_max_f64(world, most, p + 1);
    /* Exact: columns no rank has more than max_distinct values of, gathered in batches. */
    for (size_t j = 0; result >= 0 && j <= p;) {
        size_t nc = 0;
        double batch = 0;
        for (; j <= p && (nc == 0 || batch + sum[j] <= DISTINCT_BATCH); j++)
            if (cs[j].numeric && most[j] <= (double)ex->max_distinct) {
                cols[nc++] = j;
                batch += sum[j];
            }
        if (!nc)
            break;
        size_t len = 0;
        size_t room = nc + 1;
        for (size_t c = 0; c < nc; c++)
            room += 2 * (size_t)mine_n[cols[c]];
        double *mine = hf_malloc(room * sizeof *mine);
        /* Every rank makes exactly one check here, so a failed allocation on one rank ends the
         * loop on all of them at the same collective. */
        if ((result = hf_comm_check(world, mine ? HF_OK : HF_ENOMEM)) < 0) {
            free(mine);
            break;
        }
        for (size_t c = 0; c < nc; c++) {
            size_t vals = 0, u = local_pairs(d, p, cols[c], ex, pairs, &vals);
            mine[len++] = (double)u;
            memcpy(mine + len, pairs, 2 * u * sizeof *mine);
            len += 2 * u;
        }
        char *all = NULL;
        size_t *lens = NULL;
        result = hf_comm_gather_blob(world, mine, len * sizeof *mine, 0, &all, &lens);
        free(mine);
        if (result >= 0 && rank == 0) {
            int size = hf_comm_size(world);
            size_t *at = hf_calloc((size_t)size, sizeof *at), total = 0;
            const double *g = (const double *)(void *)all;
            double *merged = NULL;
            for (int r = 0; at && r < size; r++) {
                at[r] = total;
                total += lens[r] / sizeof(double);
            }
            merged = at ? hf_malloc((total + 2) * sizeof *merged) : NULL;
            result = merged ? HF_OK : HF_ENOMEM;
            for (size_t c = 0; result >= 0 && c < nc; c++) {
                size_t got = 0;
                for (int r = 0; r < size; r++) {
                    size_t u = (size_t)g[at[r]];
                    memcpy(merged + 2 * got, g + at[r] + 1, 2 * u * sizeof *merged);
                    got += u;
                    at[r] += 2 * u + 1;
                }
                size_t jj = cols[c];
                merge_pairs(merged, got, &ex->distinct[jj], &ex->one_class[jj]);
                ex->approx[jj] = ex->distinct[jj] > (double)ex->max_distinct;
            }
            free(at);
            free(merged);
        }
        free(all);
        free(lens);
        result = hf_comm_check(world, result);
    }
    /* HyperLogLog: every column that may have more than max_distinct values, 64 at a time. */
    for (size_t j = 0; result >= 0 && j <= p;) {
        size_t nc = 0;
        for (; j <= p && nc < 64; j++)
            if (cs[j].numeric && sum[j] > (double)ex->max_distinct)
                cols[nc++] = j;
        if (!nc)
            break;
        memset(reg, 0, nc * HLL_M * sizeof *reg);
        for (size_t c = 0; c < nc; c++)
            for (size_t i = 0; i < nr; i++) {
                double v = hf_profile_value(d, i, cols[c]);
                if (!isnan(v))
                    hll_add(reg + c * HLL_M, v);
            }
        result = hf_comm_allreduce_max_f64(world, reg, nc * HLL_M);
        for (size_t c = 0; result >= 0 && rank == 0 && c < nc; c++)
            if (most[cols[c]] > (double)ex->max_distinct || ex->approx[cols[c]]) {
                ex->approx[cols[c]] = 1;
                ex->one_class[cols[c]] = 0;
                ex->distinct[cols[c]] = round(hll_estimate(reg + c * HLL_M));
            }
    }
    free(pairs);
    free(sum);
    free(cols);
    free(reg);
    return result;
}

static void extra_free(extra *ex)
{
    free(ex->c);
    free(ex->assoc);
    free(ex->assoc_off);
    free(ex->quart);
    free(ex->distinct);
    free(ex->approx);
    free(ex->one_class);
}

static int extra_alloc(const hf_schema *sc, const col_stats *cs, int has_target,
                       size_t max_distinct, extra *ex)
{
    size_t p = sc->n_features;
    memset(ex, 0, sizeof *ex);
    ex->has_target = has_target;
    ex->classification = sc->task == HF_TASK_CLASSIFICATION;
    ex->k = ex->classification ? sc->n_classes : 0;
    ex->max_distinct = max_distinct;
    ex->assoc_off = hf_calloc(p + 2, sizeof *ex->assoc_off);
    for (size_t j = 0; ex->assoc_off && j <= p; j++)
        ex->assoc_off[j + 1] = ex->assoc_off[j] + assoc_len(sc, cs, j, ex);
    ex->c = hf_calloc((p + 1) * C_N, sizeof *ex->c);
    ex->assoc = ex->assoc_off ? hf_calloc(ex->assoc_off[p + 1] + 1, sizeof *ex->assoc) : NULL;
    ex->quart = hf_malloc((p + 1) * 3 * sizeof *ex->quart);
    ex->distinct = hf_calloc(p + 1, sizeof *ex->distinct);
    ex->approx = hf_calloc(p + 1, sizeof *ex->approx);
    ex->one_class = hf_calloc(p + 1, sizeof *ex->one_class);
    if (!ex->c || !ex->assoc || !ex->quart || !ex->distinct || !ex->approx || !ex->one_class) {
        extra_free(ex);
        return HF_ENOMEM;
    }
    for (size_t i = 0; i < (p + 1) * 3; i++)
        ex->quart[i] = NAN;
    return HF_OK;
}

/* Collective. Every rank gets the quartiles (rank 0 has the order statistics). */
static int share_quartiles(hf_comm *world, const col_stats *cs, const qtarget *t, size_t nt,
                           size_t p, extra *ex)
{
    for (size_t j = 0; hf_comm_rank(world) == 0 && j <= p; j++) {
        size_t x0 = first_target(t, nt, j);
        for (int q = 0; q < 3 && x0 < nt; q++) {
            double pos = k_quartiles[q] * (cs[j].s[S_COUNT] - 1);
            size_t x = x0 + 2 * (size_t)q;
            ex->quart[3 * j + (size_t)q] = hf_lerp(t[x].value, t[x + 1].value, pos - floor(pos));
        }
    }
    return hf_comm_bcast(world, ex->quart, (p + 1) * 3 * sizeof *ex->quart, 0);
}

/* ---- the rich profile's fields (rank 0) ------------------------------------------------------ */

static void add_flag(json_t *flags, const char *flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_flag(json_t *flags, const char *flag, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    json_t *f = json_object();
    json_object_set_new(f, "flag", json_string(flag));
    json_object_set_new(f, "reason", json_string(why));
    json_array_append_new(flags, f);
}

/* Cramér's V (bias uncorrected, as scipy.stats.contingency.association(method="cramer"), which
 * takes the chi-squared statistic without Yates' correction) and the mutual information in nats
 * (as sklearn.metrics.mutual_info_score) of a levels x classes table, over the levels and classes
 * that occur. *one_class: every level that occurs is seen with one class only. */
static void contingency_measures(const double *t, size_t levels, size_t k, double *v, double *mi,
                                 int *one_class)
{
    double n = 0, *col = hf_calloc(k ? k : 1, sizeof *col);
    size_t r = 0, c = 0;
    *one_class = 1;
    *v = *mi = NAN;
    if (!col)
        return;
    for (size_t l = 0; l < levels; l++) {
        double row = 0;
        size_t seen = 0;
        for (size_t y = 0; y < k; y++) {
            row += t[l * k + y];
            col[y] += t[l * k + y];
            seen += t[l * k + y] > 0;
        }
        n += row;
        r += row > 0;
        *one_class &= seen <= 1;
    }
    for (size_t y = 0; y < k; y++)
        c += col[y] > 0;
    if (n > 0) {
        double chi2 = 0, m = 0;
        for (size_t l = 0; l < levels; l++) {
            double row = 0;
            for (size_t y = 0; y < k; y++)
                row += t[l * k + y];
            for (size_t y = 0; y < k && row > 0; y++) {
                if (col[y] <= 0)
                    continue;
                double o = t[l * k + y], e = row * col[y] / n;
                chi2 += (o - e) * (o - e) / e;
                if (o > 0)
                    m += o / n * log(o * n / (row * col[y]));
            }
        }
        size_t dmin = (r < c ? r : c);
        *v = dmin > 1 ? sqrt(chi2 / n / (double)(dmin - 1)) : NAN;
        *mi = m;
    }
    free(col);
}

/* The correlation ratio eta of groups given as (n, sum of shifted values, sum of their squares):
 * sqrt(between-group sum of squares / total sum of squares). */
static double correlation_ratio(const double *g, size_t groups)
{
    double n = 0, s = 0, ss = 0, between = 0;
    for (size_t i = 0; i < groups; i++) {
        n += g[3 * i];
        s += g[3 * i + 1];
        ss += g[3 * i + 2];
        if (g[3 * i] > 0)
            between += g[3 * i + 1] * g[3 * i + 1] / g[3 * i];
    }
    if (n <= 0)
        return NAN;
    double total = ss - s * s / n;
    between -= s * s / n;
    if (!(total > 0))
        return NAN;
    double r = between / total;
    return sqrt(r < 0 ? 0 : r > 1 ? 1 : r);
}

static void set_assoc(json_t *o, const char *measure, double v)
{
    json_t *a = json_object();
    json_object_set_new(a, "measure", json_string(measure));
    json_object_set_new(a, "value", hf_profile_real_or_null(v));
    json_object_set_new(o, "association", a);
}

typedef struct ranked {
    size_t col;
    double score;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    int nx = isnan(x->score), ny = isnan(y->score);
    if (nx != ny)
        return nx - ny;
    if (!nx && x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->col < y->col ? -1 : x->col > y->col;
}

/* Rank 0. Adds to describe_json's object: per column missing share, distinct count, skew, zeros,
 * outliers, association with the target, flags; the columns ranked by association. */
static int describe_more(json_t *root, const hf_schema *sc, const col_stats *cs, const extra *ex)
{
    size_t p = sc->n_features, k = ex->k;
    json_t *cols = json_object_get(root, "columns");
    ranked *rk = hf_malloc((p + 1) * sizeof *rk);
    if (!rk)
        return HF_ENOMEM;
    size_t nr = 0;
    json_object_set_new(root, "target", ex->has_target ? json_string(sc->target) : json_null());
    /* Without a target (shards ingested with no_target: y all missing) column p is no column. */
    if (!ex->has_target)
        json_array_remove(cols, p);
    for (size_t j = 0; j < p + (ex->has_target != 0); j++) {
        json_t *o = json_array_get(cols, j), *flags = json_array();
        const col_stats *c = &cs[j];
        const char *name = j < p ? sc->features[j].name : sc->target;
        int feature = j < p;
        double cnt = c->s[S_COUNT], miss = c->s[S_MISSING], rows = cnt + miss;
        double share = rows > 0 ? miss / rows : 0;
        json_object_set_new(o, "missing_share", json_real(share));
        double distinct = 0;
        int approx = 0, integer = c->numeric && c->s[S_NONINT] == 0;
        if (c->numeric) {
            distinct = ex->distinct[j];
            approx = ex->approx[j];
            json_object_set_new(o, "distinct",
                                isnan(distinct) ? json_null() : json_integer((json_int_t)distinct));
        } else {
            distinct = (double)json_integer_value(json_object_get(o, "distinct"));
            size_t levels = j < p ? sc->features[j].n_categories : sc->n_classes;
            json_object_set_new(o, "levels", json_integer((json_int_t)levels));
        }
        json_object_set_new(o, "distinct_approximate", json_boolean(approx));
        if (approx && isnan(distinct))
            json_object_set_new(o, "distinct_more_than",
                                json_integer((json_int_t)ex->max_distinct));
        else if (approx)
            json_object_set_new(o, "distinct_stderr", json_real(1.04 / sqrt((double)HLL_M)));
        if (c->numeric) {
            const double *m = ex->c + j * C_N;
            /* pandas' nanskew: the adjusted Fisher-Pearson coefficient, 0 for a constant. */
            double m2 = m[C_M2] / cnt, m3 = m[C_M3] / cnt;
            double skew = cnt < 3 ? NAN
                          : m2 <= 0.0 || c->min == c->max
                              ? 0.0
                              : sqrt(cnt * (cnt - 1)) / (cnt - 2) * m3 / pow(m2, 1.5);
            double var = cnt > 1 ? m[C_M2] / (cnt - 1) : NAN;
            json_object_set_new(o, "std", isfinite(var) ? json_real(sqrt(var)) : json_null());
            json_object_set_new(o, "skew", hf_profile_real_or_null(skew));
            json_object_set_new(o, "zeros", json_integer((json_int_t)m[C_ZERO]));
            json_object_set_new(o, "outliers",
                                ex->one_process ? json_null() : json_integer((json_int_t)m[C_OUT]));
            json_object_set_new(o, "integer", json_boolean(integer && cnt > 0));
        }
        /* Association with the target. */
        double score = NAN;
        int leak = 0;
        const double *a = ex->assoc + ex->assoc_off[j];
        if (ex->has_target && j < p) {
            if (c->numeric && ex->classification) {
                json_t *means = json_object();
                for (size_t y = 0; y < k; y++)
                    json_object_set_new(means, sc->classes[y],
                                        a[3 * y] > 0
                                            ? json_real(col_mean(c) + a[3 * y + 1] / a[3 * y])
                                            : json_null());
                json_object_set_new(o, "class_means", means);
                score = correlation_ratio(a, k);
                set_assoc(o, "correlation_ratio", score);
                /* Values that repeat (at least twice each on average), each with one class. */
                leak = ex->one_class[j] && !approx && distinct <= cnt / 2;
            } else if (c->numeric) {
                double n = a[P_N];
                double sxy = a[P_XY] - a[P_X] * a[P_Y] / n, sxx = a[P_XX] - a[P_X] * a[P_X] / n,
                       syy = a[P_YY] - a[P_Y] * a[P_Y] / n;
                double r = n > 1 && sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
                json_object_set_new(o, "corr_target", hf_profile_real_or_null(r));
                set_assoc(o, "pearson", r);
                score = fabs(r);
                leak = score > 0.999;
            } else if (ex->classification) {
                double v, mi;
                int one;
                contingency_measures(a, sc->features[j].n_categories, k, &v, &mi, &one);
                set_assoc(o, "cramers_v", v);
                json_object_set_new(o, "mutual_info", hf_profile_real_or_null(mi));
                score = v;
                leak = one && distinct <= cnt / 2;
            } else {
                score = correlation_ratio(a, sc->features[j].n_categories);
                set_assoc(o, "correlation_ratio", score);
                leak = score > 0.999;
            }
        }
        /* Flags. */
        int constant = distinct <= 1 && !approx;
        /* A feature derived from a date column (when.month, when.elapsed_days) is not named in
         * the input, so data.columns cannot re-type it, and a date's elapsed days are distinct
         * per row without being an identifier: neither flag is given to it. */
        int derived = j < p && sc->features[j].source;
        int identifier =
            feature && !derived && cnt > 1 && (integer || !c->numeric) &&
            (approx ? distinct >= cnt * (1 - 3 * 1.04 / sqrt((double)HLL_M)) : distinct == cnt);
        if (ex->has_target && j < p) {
            /* An identifier is trivially associated with anything: it ranks after the rest. */
            rk[nr].col = j;
            rk[nr++].score = identifier ? -1 - (isnan(score) ? 0 : score) : score;
        }
        if (constant)
            add_flag(flags, "constant",
                     cnt > 0 ? "one value in every non-missing row" : "no values at all");
        if (identifier)
            add_flag(flags, "identifier",
                     "%s%.0f distinct values in %.0f non-missing rows: every row has its own",
                     approx ? "about " : "", distinct, cnt);
        if (feature && !derived && c->numeric && integer && !identifier && !constant && !approx &&
            (distinct <= 20 || distinct <= 0.05 * cnt))
            add_flag(flags, "looks_categorical",
                     "%.0f distinct integer values: try data.columns: {%s: categorical}", distinct,
                     name);
        if (leak && !identifier && !constant && k != 1)
            add_flag(flags, "leak",
                     ex->classification
                         ? "each value occurs with one class only: perfect association with the "
                           "target"
                         : "association with the target above 0.999");
        if (share > 0.5)
            add_flag(flags, "mostly_missing", "%.1f%% of the rows are missing", 100 * share);
        /* Many small levels: chance alone gives them an association (Cramér's V and mutual
         * information are not corrected for it), so a high value means little. */
        if (feature && !c->numeric && !identifier && !constant && distinct > 50 &&
            distinct > cnt / 10)
            add_flag(flags, "high_cardinality",
                     ex->has_target ? "%s%.0f levels in %.0f rows: association inflated by chance"
                                    : "%s%.0f levels in %.0f rows",
                     approx ? "about " : "", distinct, cnt);
        json_object_set_new(o, "flags", flags);
    }
    qsort(rk, nr, sizeof *rk, cmp_ranked);
    json_t *order = json_array();
    for (size_t i = 0; i < nr; i++) {
        json_t *e = json_object(), *o = json_array_get(cols, rk[i].col);
        json_t *a = json_object_get(o, "association");
        json_object_set_new(a, "rank", json_integer((json_int_t)i + 1));
        json_object_set_new(e, "column", json_string(sc->features[rk[i].col].name));
        json_object_set(e, "measure", json_object_get(a, "measure"));
        json_object_set(e, "value", json_object_get(a, "value"));
        json_array_append_new(order, e);
    }
    /* No target, no association section. */
    if (ex->has_target)
        json_object_set_new(root, "association", order);
    else
        json_decref(order);
    json_object_set_new(root, "max_distinct", json_integer((json_int_t)ex->max_distinct));
    free(rk);
    return HF_OK;
}

/* Collective. Computes the statistics of every feature column and of the target. */
static int compute(hf_comm *world, const hf_manifest *m, const char *shard_dir, int has_target,
                   size_t max_distinct, json_t **out)
{
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    const hf_schema *sc = hf_manifest_schema(m);
    int64_t n = hf_manifest_n_rows(m);
    int64_t first = n * rank / size, last = n * (rank + 1) / size;
    hf_dataset *d = NULL;
    size_t p = sc->n_features, n_targets = 0;
    col_stats *cs = stats_alloc(sc);
    qtarget *targets = NULL;
    extra ex = {0};
    int have_ex = 0;
    int result = cs ? hf_shards_load_range(shard_dir, m, first, last - first, &d) : HF_ENOMEM;
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    moments_pass(d, sc, cs);
    result = reduce_stats(world, sc, cs);
    if (result >= 0)
        result = hf_comm_check(world, extra_alloc(sc, cs, has_target, max_distinct, &ex));
    have_ex = result >= 0;
    if (result >= 0) {
        central_pass(d, sc, cs, &ex);
        result = hf_comm_allreduce_sum_f64(world, ex.c, (p + 1) * C_N);
    }
    if (result >= 0 && ex.assoc_off[p + 1])
        result = hf_comm_allreduce_sum_f64(world, ex.assoc, ex.assoc_off[p + 1]);
    if (result >= 0)
        result = (targets = quartile_targets(cs, p, &n_targets)) ? HF_OK : HF_ENOMEM;
    if (result >= 0)
        result = exact_quantiles(world, d, targets, n_targets);
    if (result >= 0)
        result = share_quartiles(world, cs, targets, n_targets, p, &ex);
    if (result >= 0) {
        outlier_pass(d, p, cs, &ex);
        result = hf_comm_check(world, HF_OK);
    }
    if (result >= 0) {
        double *o = hf_malloc((p + 1) * sizeof *o);
        result = hf_comm_check(world, o ? HF_OK : HF_ENOMEM);
        for (size_t j = 0; result >= 0 && j <= p; j++)
            o[j] = ex.c[j * C_N + C_OUT];
        if (result >= 0)
            result = hf_comm_allreduce_sum_f64(world, o, p + 1);
        for (size_t j = 0; result >= 0 && j <= p; j++)
            ex.c[j * C_N + C_OUT] = o[j];
        free(o);
    }
    if (result >= 0)
        result = distinct_counts(world, d, sc, cs, &ex);
    if (result >= 0 && rank == 0) {
        *out = describe_json(sc, n, cs, targets, n_targets);
        result = *out ? describe_more(*out, sc, cs, &ex) : HF_ENOMEM;
    }
    result = hf_comm_check(world, result);
out:
    if (have_ex)
        extra_free(&ex);
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

/* hf_describe_profile's distinct counts: exact up to SMALL values per numeric column (with the
 * class each value was seen with), unknown above. */
#define SMALL 64

typedef struct small_set {
    double v[SMALL];
    int cls[SMALL]; /* the class seen with v; -1 none, -2 several */
    int n, over;
} small_set;

typedef struct profile_more {
    const hf_schema *sc;
    const col_stats *cs;
    extra *ex;
    small_set *sets; /* p + 1 */
} profile_more;

static void small_add(small_set *s, double v, int cls)
{
    int lo = 0, hi = s->n;
    v = v == 0 ? 0.0 : v;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->v[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->n && s->v[lo] == v) {
        if (cls >= 0 && s->cls[lo] != cls)
            s->cls[lo] = s->cls[lo] == -1 ? cls : -2;
        return;
    }
    if (s->n == SMALL) {
        s->over = 1;
        return;
    }
    memmove(s->v + lo + 1, s->v + lo, (size_t)(s->n - lo) * sizeof *s->v);
    memmove(s->cls + lo + 1, s->cls + lo, (size_t)(s->n - lo) * sizeof *s->cls);
    s->v[lo] = v;
    s->cls[lo] = cls;
    s->n++;
}

static void profile_central(const hf_dataset *d, void *arg)
{
    profile_more *pm = arg;
    size_t p = pm->sc->n_features;
    central_pass(d, pm->sc, pm->cs, pm->ex);
    for (size_t j = 0; j <= p; j++) {
        small_set *s = &pm->sets[j];
        if (!pm->cs[j].numeric)
            continue;
        for (size_t i = 0; i < d->n_rows && !s->over; i++) {
            double v = hf_profile_value(d, i, j), y = d->y[i];
            if (!isnan(v))
                small_add(s, v, pm->ex->classification && j < p && !isnan(y) ? (int)y : -1);
        }
    }
}

/* Not collective. The columns' distinct counts, shape, association and flags (describe_more) on
 * one process: a second pass over the chunks. */
static int profile_extra(const char *shard_dir, const hf_manifest *m, const col_stats *cs,
                         json_t *root)
{
    const hf_schema *sc = hf_manifest_schema(m);
    size_t p = sc->n_features;
    extra ex;
    int result = extra_alloc(sc, cs, 1, SMALL, &ex);
    if (result < 0)
        return result;
    ex.one_process = 1;
    profile_more pm = {.sc = sc, .cs = cs, .ex = &ex, .sets = hf_calloc(p + 1, sizeof(small_set))};
    result = pm.sets ? each_chunk(shard_dir, m, profile_central, &pm) : HF_ENOMEM;
    for (size_t j = 0; result >= 0 && j <= p; j++) {
        const small_set *s = &pm.sets[j];
        int one = 1;
        for (int i = 0; i < s->n; i++)
            one &= s->cls[i] != -2;
        ex.distinct[j] = s->over ? NAN : s->n;
        ex.approx[j] = s->over;
        ex.one_class[j] = !s->over && one;
    }
    if (result >= 0)
        result = describe_more(root, sc, cs, &ex);
    free(pm.sets);
    extra_free(&ex);
    return result;
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
    if (result >= 0)
        result = profile_extra(shard_dir, m, pp.cs, *out);
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

/* ---- the terminal table ---------------------------------------------------------------------- */

static void fmt_num(char *buf, size_t len, json_t *v)
{
    if (json_is_number(v))
        snprintf(buf, len, "%.4g", json_number_value(v));
    else
        snprintf(buf, len, "-");
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const char *short_measure(const char *m)
{
    return !strcmp(m, "pearson")             ? "r"
           : !strcmp(m, "cramers_v")         ? "V"
           : !strcmp(m, "correlation_ratio") ? "eta"
                                             : m;
}

/* One row of the overview (at most 100 characters). */
static void print_row(FILE *fp, json_t *c)
{
    const char *type = jstr(c, "type");
    char name[40], dist[24], miss[16], assoc[24] = "";
    snprintf(name, sizeof name, "%s%s", jstr(c, "name"),
             !strcmp(jstr(c, "role"), "target") ? " (target)" : "");
    snprintf(dist, sizeof dist, "%s%lld",
             json_is_true(json_object_get(c, "distinct_approximate")) ? "~" : "",
             (long long)json_integer_value(json_object_get(c, "distinct")));
    snprintf(miss, sizeof miss, "%.1f%%",
             100 * json_number_value(json_object_get(c, "missing_share")));
    json_t *a = json_object_get(c, "association");
    if (a) {
        char v[16];
        fmt_num(v, sizeof v, json_object_get(a, "value"));
        snprintf(assoc, sizeof assoc, "%s %s", short_measure(jstr(a, "measure")), v);
    }
    const char *ty = !strcmp(type, "numeric") ? "num" : !strcmp(type, "boolean") ? "bool" : "cat";
    fprintf(fp, "%-20.20s %-4s %9lld %6s %8s ", name, ty,
            (long long)json_integer_value(json_object_get(c, "count")), miss, dist);
    if (!strcmp(type, "numeric")) {
        const char *keys[] = {"mean", "std", "median"};
        for (int k = 0; k < 3; k++) {
            char b[16];
            fmt_num(b, sizeof b, json_object_get(c, keys[k]));
            fprintf(fp, "%10s ", b);
        }
    } else {
        json_t *top = json_object_get(c, "top");
        if (!top)
            top = json_object_get(c, "classes");
        char b[40] = "-";
        json_t *e = json_array_get(top, 0);
        if (e)
            snprintf(b, sizeof b, "top %.16s %.0f%%", jstr(e, "value"),
                     100 * json_number_value(json_object_get(e, "fraction")));
        fprintf(fp, "%-32.32s ", b);
    }
    fprintf(fp, "%s\n", assoc);
}

static void print_table(FILE *fp, json_t *root)
{
    json_t *cols = json_object_get(root, "columns"), *c;
    size_t i, n = json_array_size(cols);
    json_t *target = json_object_get(root, "target");
    if (json_is_string(target))
        fprintf(fp, "%lld rows, %zu columns, target %s (%s)\n\n",
                (long long)json_integer_value(json_object_get(root, "rows")), n,
                json_string_value(target), jstr(root, "task"));
    else
        fprintf(fp, "%lld rows, %zu columns, no target\n\n",
                (long long)json_integer_value(json_object_get(root, "rows")), n);
    fprintf(fp, "%-20s %-4s %9s %6s %8s %10s %10s %10s %s\n", "column", "type", "count", "miss",
            "distinct", "mean", "std", "median", json_is_string(target) ? "association" : "");
    /* The target first, then the columns by association (strongest first), then the rest. */
    json_array_foreach(cols, i, c) if (!strcmp(jstr(c, "role"), "target")) print_row(fp, c);
    /* The order of the root's "association" list (each association's rank). */
    json_t **byrank = hf_calloc(n ? n : 1, sizeof *byrank);
    json_array_foreach(cols, i, c)
    {
        json_int_t r =
            json_integer_value(json_object_get(json_object_get(c, "association"), "rank"));
        if (byrank && r >= 1 && (size_t)r <= n)
            byrank[r - 1] = c;
    }
    for (size_t r = 0; byrank && r < n; r++)
        if (byrank[r])
            print_row(fp, byrank[r]);
    free(byrank);
    json_t *e;
    json_array_foreach(cols, i, c) if (!json_object_get(c, "association") &&
                                       strcmp(jstr(c, "role"), "target")) print_row(fp, c);

    fprintf(fp, "\n%-20s %10s %10s %10s %10s %10s %8s %7s %7s\n", "numeric column", "min", "q25",
            "median", "q75", "max", "skew", "zeros", "outl.");
    json_array_foreach(cols, i, c)
    {
        if (strcmp(jstr(c, "type"), "numeric"))
            continue;
        fprintf(fp, "%-20.20s", jstr(c, "name"));
        const char *keys[] = {"min", "q25", "median", "q75", "max"};
        for (int k = 0; k < 5; k++) {
            char b[16];
            fmt_num(b, sizeof b, json_object_get(c, keys[k]));
            fprintf(fp, " %10s", b);
        }
        char b[16];
        fmt_num(b, sizeof b, json_object_get(c, "skew"));
        fprintf(fp, " %8s %7lld %7lld\n", b,
                (long long)json_integer_value(json_object_get(c, "zeros")),
                (long long)json_integer_value(json_object_get(c, "outliers")));
    }
    json_array_foreach(cols, i, c)
    {
        if (strcmp(jstr(c, "role"), "target") || !json_object_get(c, "classes"))
            continue;
        fprintf(fp, "\nclass balance of %s:", jstr(c, "name"));
        size_t k;
        json_array_foreach(json_object_get(c, "classes"), k, e)
            fprintf(fp, " %s=%lld (%.1f%%)", jstr(e, "value"),
                    (long long)json_integer_value(json_object_get(e, "count")),
                    100 * json_number_value(json_object_get(e, "fraction")));
        fputc('\n', fp);
    }
    int any = 0;
    json_array_foreach(cols, i, c)
    {
        size_t k;
        json_array_foreach(json_object_get(c, "flags"), k, e)
        {
            if (!any++)
                fprintf(fp, "\nflags:\n");
            fprintf(fp, "  %s: %s: %s\n", jstr(c, "name"), jstr(e, "flag"), jstr(e, "reason"));
        }
    }
    fprintf(fp,
            "\nquartiles exact (as pandas' describe); distinct exact up to %lld, ~: HyperLogLog\n",
            (long long)json_integer_value(json_object_get(root, "max_distinct")));
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mpirun -np N hyperfold describe DATA|JOB.yaml [--target COL | --no-target]\n"
            "           [--task classification|regression] [--columns COL=TYPE,...]\n"
            "           [--datetime-format COL=FMT,...] [--json]\n"
            "           [--max-distinct N] [--audit FILE|off] [--endpoint URL] [--region R]\n"
            "           [--path-style] [--against RUN_DIR] [--scratch DIR]\n\n"
            "Profiles every column of DATA (a file, a .gz or .zip, a directory or prefix ending\n"
            "in /, file://, http(s):// or s3://) or of a job spec's data, in parallel over the\n"
            "ranks: type, count, missing, distinct (exact up to --max-distinct, default\n"
            "100000, then a HyperLogLog estimate), mean, std, skew, exact quartiles, zeros,\n"
            "outliers (1.5 IQR), the most frequent categories, flags (looks_categorical,\n"
            "identifier, constant, leak, mostly_missing, high_cardinality) and each column's\n"
            "association with the target (--target; a job spec's data.target; without one\n"
            "every column is a feature and nothing is associated). --json prints\n"
            "one JSON object instead of the tables. With a job spec it also writes\n"
            "<output.dir>/<name>/describe.json. --against RUN_DIR compares the data with the\n"
            "profile of the data RUN_DIR's model was trained on (RUN_DIR/profile.json): per\n"
            "column the population stability index, the change in missing share, categories\n"
            "never seen before, and the target's balance (the run's target when DATA has that\n"
            "column; --no-target: none). Remote reads of a bare DATA are audited to\n"
            "--audit, else $HYPERFOLD_AUDIT, else ~/.local/state/hyperfold/audit.jsonl.\n"
            "See docs/describe.md.\n");
}

/* One data.columns entry (name, type) appended to o. */
static int add_column_type(hf_ingest_opts *o, const char *name, int type)
{
    char **names = realloc(o->column_names, (o->n_columns + 1) * sizeof *names);
    int *types = names ? realloc(o->column_types, (o->n_columns + 1) * sizeof *types) : NULL;
    if (names)
        o->column_names = names;
    if (types)
        o->column_types = types;
    if (!names || !types || !(names[o->n_columns] = hf_strdup(name)))
        return HF_ENOMEM;
    types[o->n_columns++] = type;
    return HF_OK;
}

/* One data.datetime_formats entry (column, strptime format) appended to o. */
static int add_datetime_format(hf_ingest_opts *o, const char *col, const char *fmt)
{
    size_t n = o->n_datetime_formats;
    char **cols = realloc(o->datetime_columns, (n + 1) * sizeof *cols);
    if (cols)
        o->datetime_columns = cols;
    char **fmts = cols ? realloc(o->datetime_formats, (n + 1) * sizeof *fmts) : NULL;
    if (fmts)
        o->datetime_formats = fmts;
    if (!cols || !fmts || !(cols[n] = hf_strdup(col)))
        return HF_ENOMEM;
    if (!(fmts[n] = hf_strdup(fmt))) {
        free(cols[n]);
        return HF_ENOMEM;
    }
    o->n_datetime_formats = n + 1;
    return HF_OK;
}

/* 1 if name is a line of header (the header's column names, one per line). */
static int in_header(const char *header, const char *name)
{
    size_t l = strlen(name);
    for (const char *p = header; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n == l && !memcmp(p, name, l))
            return 1;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

/* describe NEW --against RUN: the run's own reading of its data (its job.yaml's data section),
 * so that the new data is typed as the training data was: data.columns and
 * data.datetime_formats (unless --columns / --datetime-format are given), data.drop, na_values
 * and the delimiter; entries naming a column NEW's header lacks (the target of unlabeled data)
 * are left out. */
static int inherit_run_data(hf_ingest_opts *o, const hf_ingest_opts *run, const char *header,
                            int columns_given, int dt_given)
{
    int result = HF_OK;
    for (size_t i = 0; result >= 0 && !columns_given && i < run->n_columns; i++)
        if (in_header(header, run->column_names[i]))
            result = add_column_type(o, run->column_names[i], run->column_types[i]);
    for (size_t i = 0; result >= 0 && !dt_given && i < run->n_datetime_formats; i++)
        if (in_header(header, run->datetime_columns[i]))
            result = add_datetime_format(o, run->datetime_columns[i], run->datetime_formats[i]);
    size_t cap = 0;
    for (size_t i = 0; result >= 0 && i < run->n_drop; i++)
        if (in_header(header, run->drop[i]))
            result = hf_strv_push(&o->drop, &o->n_drop, &cap, hf_strdup(run->drop[i]));
    if (result >= 0) {
        char **na = hf_calloc(run->n_na_values + 1, sizeof *na);
        for (size_t i = 0; na && i < run->n_na_values; i++)
            if (!(na[i] = hf_strdup(run->na_values[i]))) {
                hf_strv_free(na, i);
                na = NULL;
            }
        if (!na)
            return HF_ENOMEM;
        hf_strv_free(o->na_values, o->n_na_values);
        o->na_values = na;
        o->n_na_values = run->n_na_values;
        o->delimiter = run->delimiter;
    }
    return result;
}

/* The ingest options of a bare DATA operand. "COL=TYPE,..." into o->column_names/types. */
static int parse_columns(const char *text, hf_ingest_opts *o)
{
    char *copy = hf_strdup(text), *save = NULL;
    int result = copy ? HF_OK : HF_ENOMEM;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; result >= 0 && tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        int type = -1;
        /* The types data.columns takes, from the data section's own table. */
        char expected[128] = "";
        for (int t = 0; hf_ingest_col_type_names[t]; t++) {
            if (eq && !strcmp(eq + 1, hf_ingest_col_type_names[t]))
                type = t;
            size_t at = strlen(expected);
            snprintf(expected + at, sizeof expected - at, "%s%s", t ? ", " : "",
                     hf_ingest_col_type_names[t]);
        }
        if (eq)
            *eq = '\0';
        if (!eq || !*tok || type < 0) {
            result = hf_error(HF_EINVAL,
                              "describe: --columns: got \"%s%s%s\", expected COL=TYPE with TYPE "
                              "one of %s",
                              tok, eq ? "=" : "", eq ? eq + 1 : "", expected);
            break;
        }
        if ((result = add_column_type(o, tok, type)) < 0)
            break;
    }
    free(copy);
    return result;
}

/* --datetime-format COL=FMT[,COL=FMT...] into data.datetime_formats (docs/shards.md): COL read
 * with the strptime format FMT (a format holding a comma needs a job spec). */
static int parse_datetime_formats(const char *text, hf_ingest_opts *o)
{
    char *copy = hf_strdup(text), *save = NULL;
    int result = copy ? HF_OK : HF_ENOMEM;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; result >= 0 && tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            result = hf_error(HF_EINVAL,
                              "describe: --datetime-format: got \"%s\", expected COL=FORMAT "
                              "(a strptime format such as %%d/%%m/%%Y)",
                              tok);
            break;
        }
        *eq = '\0';
        if ((result = add_datetime_format(o, tok, eq + 1)) < 0)
            break;
    }
    free(copy);
    return result;
}

/* Rank 0. The names of DATA's header (the first file of a prefix; the first .csv member of a
 * zip), one per line, into *header; *has_want = 1 when want (may be NULL) is one of them. */
static int header_columns(const char *uri, const hf_source_opts *so, char delimiter,
                          const char *want, int *has_want, char **header)
{
    char **uris = NULL;
    size_t nu = 0;
    int result = HF_OK;
    const char *first = uri;
    if (hf_source_is_prefix(uri)) {
        if ((result = hf_source_list(uri, so, &uris, &nu)) < 0)
            return result;
        if (!nu)
            result = hf_error(HF_EDATA, "describe: %s: no files under this prefix", uri);
        else
            first = uris[0];
    }
    hf_source *src = NULL;
    hf_csv_stream st = {0};
    hf_csv_reader *rd = NULL;
    char **members = NULL;
    size_t nm = 0, len = strlen(first);
    if (result >= 0)
        result = hf_source_open(first, so, &src);
    if (result >= 0) {
        if (len > 3 && !strcmp(first + len - 3, ".gz"))
            result = hf_csv_stream_gzip(src, &st);
        else if (len > 4 && !strcmp(first + len - 4, ".zip")) {
            result = hf_csv_zip_entries(src, &members, &nm);
            if (result >= 0 && !nm)
                result = hf_error(HF_EDATA, "describe: %s: no .csv member in this zip", first);
            if (result >= 0)
                result = hf_csv_stream_zip_entry(src, members[0], &st);
        } else
            result = hf_csv_stream_source(src, 0, &st);
    }
    hf_csv_range range = {.begin = 0, .end = UINT64_MAX, .at_record_start = 1, .line = 1};
    if (result >= 0)
        result = hf_csv_reader_open(st, &range, &rd);
    hf_csv_record rec;
    if (result >= 0 && (result = hf_csv_reader_next(rd, &rec)) == 0)
        result = hf_error(HF_EDATA, "describe: %s: no header line", first);
    if (result > 0) {
        size_t bom = hf_csv_bom_len(rec.text, rec.len);
        hf_csv_fields f = {0};
        const char *why = NULL;
        size_t off = 0;
        char delim = delimiter ? delimiter : hf_csv_detect_delimiter(rec.text + bom, rec.len - bom);
        result = hf_csv_split(rec.text + bom, rec.len - bom, delim, &f, &why, &off);
        if (result < 0)
            result = hf_error(HF_EDATA, "describe: %s:1: the header has %s", first, why);
        else if (!f.n)
            result = hf_error(HF_EDATA, "describe: %s: empty header", first);
        for (size_t i = 0; result >= 0 && want && i < f.n; i++)
            if (f.f[i].len == strlen(want) && !memcmp(f.f[i].p, want, f.f[i].len))
                *has_want = 1;
        /* The names, one per line (a name with a newline matches nothing: harmless). */
        size_t hl = 0;
        for (size_t i = 0; i < f.n; i++)
            hl += f.f[i].len + 1;
        if (result >= 0 && !(*header = hf_calloc(hl + 1, 1)))
            result = HF_ENOMEM;
        for (size_t i = 0, at = 0; result >= 0 && i < f.n; at += f.f[i].len + 1, i++) {
            memcpy(*header + at, f.f[i].p, f.f[i].len);
            (*header)[at + f.f[i].len] = '\n';
        }
        hf_csv_fields_free(&f);
    }
    if (rd)
        hf_csv_reader_free(rd);
    if (src)
        hf_source_close(src);
    for (size_t i = 0; i < nm; i++)
        free(members[i]);
    free(members);
    for (size_t i = 0; i < nu; i++)
        free(uris[i]);
    free(uris);
    return result < 0 ? result : HF_OK;
}

/* Collective. The profile of RUN_DIR. */
static int load_profile(hf_comm *world, const char *run_dir, hf_profile **out)
{
    hf_rundir dir = {0};
    int result = hf_comm_check(world, hf_rundir_at(run_dir, &dir));
    if (result >= 0)
        result = hf_profile_load(world, dir.profile, 0, out);
    if (result < 0)
        hf_error_prefix(result, "describe: --against %s", run_dir);
    hf_rundir_free(&dir);
    return result;
}

/* Collective. The drift of the ingested data from the profile into root's "drift". */
static int add_drift(hf_comm *world, const hf_profile *prof, const hf_manifest *m,
                     const char *shards, json_t *root)
{
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    int64_t n = hf_manifest_n_rows(m), first = n * rank / size, last = n * (rank + 1) / size;
    hf_dataset *d = NULL;
    json_t *drift = NULL;
    int result = hf_comm_check(world, hf_shards_load_range(shards, m, first, last - first, &d));
    if (result >= 0)
        result = hf_drift_compute(world, prof, d, 0, d->n_rows, &drift);
    if (result >= 0 && rank == 0)
        json_object_set_new(root, "drift", drift);
    hf_dataset_free(d);
    return result;
}

/* Collective. describe DATA: ingests into a scratch directory (removed afterwards) and profiles.
 * target: --target, or NULL; run_target: the --against run's target, used when DATA's header has
 * it (NULL: none, or --no-target). */
static int describe_data(hf_comm *world, const char *data, const char *target,
                         const char *run_target, const hf_ingest_opts *run_data, const char *task,
                         const char *columns, const char *dt_formats, const char *scratch_base,
                         const hf_s3_flags *s3f, size_t max_distinct, const hf_profile *prof,
                         json_t **root)
{
    int rank = hf_comm_rank(world);
    hf_ingest_opts o;
    hf_s3_config s3;
    hf_source_opts so;
    hf_s3_flags_apply(s3f, rank, &s3, &so);
    char *header = NULL, *shards = NULL, *scratch = NULL;
    hf_manifest *m = NULL;
    int reused = 0;
    int result = hf_ingest_opts_init(&o);
    if (result >= 0 && task) {
        if (!strcmp(task, "classification"))
            o.task = HF_TASK_CLASSIFICATION;
        else if (!strcmp(task, "regression"))
            o.task = HF_TASK_REGRESSION;
        else
            result = hf_error(HF_EINVAL,
                              "describe: --task: got \"%s\", expected classification or "
                              "regression",
                              task);
    }
    if (result >= 0 && columns)
        result = parse_columns(columns, &o);
    if (result >= 0 && dt_formats)
        result = parse_datetime_formats(dt_formats, &o);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    /* Against a run: DATA's header, for the run's data settings and to find the run's target
     * (unlabeled data lacks it). */
    int has_run_target = 0;
    if (run_data) {
        size_t len = 0;
        if (rank == 0)
            result = header_columns(data, &so, run_data->delimiter, run_target, &has_run_target,
                                    &header);
        if ((result = hf_comm_check(world, result)) >= 0) {
            len = rank == 0 ? strlen(header) + 1 : 0;
            result = hf_comm_bcast_blob(world, &header, &len, 0);
        }
        if (result >= 0)
            result = hf_comm_bcast(world, &has_run_target, sizeof has_run_target, 0);
        if (result < 0)
            goto out;
        if (!target && has_run_target)
            target = run_target;
    }
    /* --task is the target's: without one it would be silently ignored. */
    if (task && !target) {
        result = hf_error(
            HF_EINVAL, "describe: --task %s: got no target, expected --target COL with it", task);
        goto out;
    }
    /* Against a run: the run's data settings, and its task for its own target. */
    if (run_data) {
        if (result >= 0)
            result = inherit_run_data(&o, run_data, header, columns != NULL, dt_formats != NULL);
        if (result >= 0 && !task && prof && target && run_target && !strcmp(target, run_target))
            o.task = prof->task;
        if ((result = hf_comm_check(world, result)) < 0)
            goto out;
    }
    o.source = hf_strdup(data);
    /* No target: every column is read as a feature (missing values anywhere are fine). */
    o.target = target ? hf_strdup(target) : NULL;
    o.no_target = !target;
    o.task_hint = "give --task regression or --task classification";
    /* The scratch directory (--scratch, else $TMPDIR, else here), which every rank must see. */
    if ((result = hf_comm_check(world, result)) >= 0 &&
        (result = hf_pipeline_scratch(world, scratch_base, "describe", &scratch)) < 0)
        result = hf_error_prefix(result, "describe");
    if (result >= 0 &&
        (!o.source || (target && !o.target) || asprintf(&shards, "%s/shards", scratch) < 0))
        result = HF_ENOMEM;
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    result = hf_comm_check(world, hf_ingest(world, &o, shards, &so, NULL, &m, &reused));
    if (result >= 0)
        result = compute(world, m, shards, target != NULL, max_distinct, root);
    if (result >= 0 && prof)
        result = add_drift(world, prof, m, shards, *root);
out:
    hf_pipeline_scratch_remove(world, scratch);
    free(scratch);
    hf_manifest_free(m);
    free(shards);
    free(header);
    free(o.source);
    free(o.target);
    o.source = o.target = NULL;
    hf_ingest_opts_release(&o);
    return result;
}

static int spec_path(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && !strcmp(path + n - 5, ".yaml")) || (n > 4 && !strcmp(path + n - 4, ".yml"));
}

int hf_cmd_describe(hf_comm *world, int argc, char **argv)
{
    const char *path = NULL, *target = NULL, *task = NULL, *columns = NULL, *maxd = NULL,
               *against = NULL, *dt_formats = NULL, *scratch_base = NULL;
    int rank = hf_comm_rank(world), as_json = 0, no_target = 0;
    hf_s3_flags s3f = {0};
    const hf_arg_def defs[] = {HF_VALUE_ARG("--target", &target, NULL),
                               HF_VALUE_ARG("--task", &task, NULL),
                               HF_VALUE_ARG("--columns", &columns, NULL),
                               HF_VALUE_ARG("--datetime-format", &dt_formats, NULL),
                               HF_VALUE_ARG("--scratch", &scratch_base, NULL),
                               HF_VALUE_ARG("--max-distinct", &maxd, NULL),
                               HF_VALUE_ARG("--against", &against, NULL),
                               HF_FLAG_ARG("--json", NULL, &as_json),
                               HF_FLAG_ARG("--no-target", NULL, &no_target),
                               HF_S3_FLAG_ARGS(&s3f)};
    const hf_cmdline cl = {"describe", HF_ARGS(defs), "data file or job spec", "DATA|JOB.yaml",
                           0,          usage};
    int result = hf_args_parse(&cl, argc, argv, &path, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    size_t max_distinct = 100000;
    if (maxd) {
        char *end = NULL;
        long long v = strtoll(maxd, &end, 10);
        if (!*maxd || *end || v < 1 || v > 100000000)
            return hf_error(HF_EINVAL,
                            "describe: --max-distinct: got \"%s\", expected an integer in [1, "
                            "100000000]",
                            maxd);
        max_distinct = (size_t)v;
    }
    hf_spec *spec = NULL;
    hf_manifest *m = NULL;
    json_t *root = NULL;
    hf_rundir dir = {0};
    hf_profile *prof = NULL;
    int reused = 0, is_spec = spec_path(path);
    if (against && (result = load_profile(world, against, &prof)) < 0)
        goto out;
    if (target && no_target) {
        result = hf_error(HF_EINVAL, "describe: --target %s and --no-target: expected one of them",
                          target);
        goto out;
    }
    if (!is_spec) {
        /* Against a run: its target unless another is given, --no-target, or DATA lacks it. */
        const char *run_target = prof && !no_target ? prof->cols[prof->n_cols - 1].name : NULL;
        /* A bare DATA has no run directory: its remote reads go to --audit, else
         * $HYPERFOLD_AUDIT, else the per-user log (hf_audit_resolve, as predict and etl). */
        char *audit = NULL;
        if ((result = hf_audit_resolve(s3f.audit, &audit)) < 0)
            goto out;
        hf_s3_flags bare = s3f;
        bare.audit = audit;
        /* Against a run: the data read as the run read its own (its job.yaml's data section). */
        hf_spec *run_spec = NULL;
        if (against) {
            hf_rundir rd = {0};
            int r = hf_comm_check(world, hf_rundir_at(against, &rd));
            if (r >= 0)
                r = hf_pipeline_spec(world, rd.spec, &run_spec);
            if (r < 0) {
                hf_spec_free(run_spec);
                if (rank == 0)
                    hf_warn("describe: --against %s: the run's job.yaml not read (%s): the new "
                            "data's column types are inferred",
                            against, hf_error_message());
                hf_error_clear();
                run_spec = NULL;
            }
            hf_rundir_free(&rd);
        }
        result =
            describe_data(world, path, target, run_target, run_spec ? &run_spec->data : NULL, task,
                          columns, dt_formats, scratch_base, &bare, max_distinct, prof, &root);
        hf_spec_free(run_spec);
        free(audit);
        goto print;
    }
    if (target || task || columns || no_target || dt_formats || scratch_base) {
        result = hf_error(HF_EINVAL,
                          "describe: --target, --no-target, --task, --columns, --datetime-format "
                          "and --scratch are for a data file; a job spec gives data.target, "
                          "data.task, data.columns and data.datetime_formats, and its shards go "
                          "under output.dir");
        goto out;
    }
    if ((result = hf_pipeline_spec(world, path, &spec)) < 0)
        goto out;
    result = hf_rundir_of(&spec->output, spec->name, &dir);
    if (result >= 0 && rank == 0)
        result = hf_fs_mkdirs(dir.dir);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    /* A source data.etl produces but has not extracted yet: one line saying so (as validate). */
    hf_source_opts eso = {
        .s3 = &spec->s3, .audit_path = s3f.audit ? s3f.audit : dir.audit, .rank = rank};
    if ((result =
             hf_comm_check(world, rank == 0 ? hf_etl_check_extracted(&spec->data.etl, &eso,
                                                                     spec->path, spec->data.source)
                                            : HF_OK)) < 0)
        goto out;
    if ((result = hf_pipeline_ingest(world, spec, NULL, dir.shards,
                                     s3f.audit ? s3f.audit : dir.audit, dir.rejects, &m, &reused)) <
        0)
        goto out;
    result = compute(world, m, dir.shards, 1, max_distinct, &root);
    if (result >= 0 && prof)
        result = add_drift(world, prof, m, dir.shards, root);
print:
    if (result >= 0 && rank == 0) {
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        if (!text)
            result = HF_ENOMEM;
        else if (as_json)
            printf("%s\n", text);
        else
            print_table(stdout, root);
        if (!as_json && json_object_get(root, "drift")) {
            fputc('\n', stdout);
            hf_drift_print(stdout, json_object_get(root, "drift"));
        }
        if (result >= 0 && is_spec)
            result = hf_fs_write_atomic(dir.describe, text, strlen(text));
        free(text);
        if (result >= 0 && is_spec && !as_json)
            fprintf(stdout, "wrote %s\n", dir.describe);
        fflush(stdout);
    }
    result = hf_comm_check(world, result);
out:
    json_decref(root);
    hf_profile_free(prof);
    hf_manifest_free(m);
    hf_spec_free(spec);
    hf_rundir_free(&dir);
    return result;
}
