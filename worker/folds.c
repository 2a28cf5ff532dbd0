/* folds.c - cross-validation splitters (see folds.h and docs/preprocessing.md). */
#include "worker/folds.h"

#include "common/hf.h"
#include "common/rng.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records HF_EINVAL with the position of the key the message is about ("job.yaml:7:10: cv.folds:
 * ...", or "job.yaml: ..." for a default). */
static int cv_error(const hf_cv_opts *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cv_error(const hf_cv_opts *o, const char *key, const char *fmt, ...)
{
    char msg[512], at[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hf_error(HF_EINVAL, "%s: %s", hf_opt_where(&o->src, key, at, sizeof at), msg);
}

/* ---- options -------------------------------------------------------------------------------- */

static const char *const k_strategy_names[] = {"kfold", "stratified", "predefined",
                                               "group", "timeseries", NULL};

static const hf_opt_def cv_defs[] = {
    HF_DEF_INT("folds", hf_cv_opts, folds, HF_OPT_HASHED, 2, INT32_MAX,
               "number of folds (predefined: taken from the fold column)"),
    HF_DEF_ENUM("strategy", hf_cv_opts, strategy, HF_OPT_HASHED, k_strategy_names, HF_CV_KFOLD,
                "kfold, stratified (the default for classification), predefined, group, "
                "timeseries"),
    HF_DEF_STRING("fold_column", hf_cv_opts, fold_column, HF_OPT_HASHED, "a column name",
                  "predefined: the column holding each row's fold"),
    HF_DEF_STRING("group_column", hf_cv_opts, group_column, HF_OPT_HASHED, "a column name",
                  "group: rows with the same value stay in one fold"),
    HF_DEF_STRING("order_column", hf_cv_opts, order_column, HF_OPT_HASHED, "a column name",
                  "timeseries: the column that orders the rows"),
    HF_DEF_SEED("seed", hf_cv_opts, seed, HF_OPT_HASHED,
                "seed of the fold shuffles and the holdout draw"),
    HF_DEF_INT("repeats", hf_cv_opts, repeats, HF_OPT_HASHED, 1, HF_CV_MAX_SPLITS,
               "repeated k-fold: the folds drawn again with seeds (seed, repeat)"),
    HF_DEF_NUMBER("holdout", hf_cv_opts, holdout, HF_OPT_HASHED, 0, 0x1.fffffffffffffp-1,
                  "a fraction 0 <= x < 1",
                  "fraction of the rows held out of the search and scored once by the refit"),
};

/* The rules between the keys of the section. */
static int cv_check(void *opts)
{
    const hf_cv_opts *o = opts;
    static const struct {
        hf_cv_strategy strategy;
        const char *key;
        size_t off;
    } needs[] = {{HF_CV_PREDEFINED, "cv.fold_column", offsetof(hf_cv_opts, fold_column)},
                 {HF_CV_GROUP, "cv.group_column", offsetof(hf_cv_opts, group_column)},
                 {HF_CV_TIMESERIES, "cv.order_column", offsetof(hf_cv_opts, order_column)}};
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
        if (o->strategy == needs[i].strategy && !*(char *const *)((const char *)o + needs[i].off))
            return cv_error(o, "cv",
                            "%s: missing required key, expected a column name with "
                            "cv.strategy %s",
                            needs[i].key, k_strategy_names[needs[i].strategy]);
    /* Every split holds its rows' indices and every trial a score per split: a bound before
     * anything is allocated (cv.repeats: 1000000 took 13 GB, then all of memory). */
    if ((int64_t)o->folds * (o->repeats > 0 ? o->repeats : 1) > HF_CV_MAX_SPLITS)
        return cv_error(o, o->repeats > 1 ? "cv.repeats" : "cv.folds",
                        "%s: got %d with cv.%s %d, expected folds x repeats <= %d splits",
                        o->repeats > 1 ? "cv.repeats" : "cv.folds",
                        o->repeats > 1 ? o->repeats : o->folds,
                        o->repeats > 1 ? "folds" : "repeats",
                        o->repeats > 1 ? o->folds : o->repeats, HF_CV_MAX_SPLITS);
    return HF_OK;
}

const hf_opt_section hf_cv_section = HF_OPT_SECTION("cv", cv_defs, hf_cv_opts, cv_check);

void hf_cv_opts_init(hf_cv_opts *o)
{
    memset(o, 0, sizeof *o);
    o->folds = 5;
    o->strategy = HF_CV_AUTO;
    o->repeats = 1;
}

int hf_cv_check_task(const hf_cv_opts *o, hf_task_kind task, const char *why)
{
    if (o->strategy == HF_CV_STRATIFIED && task == HF_TASK_REGRESSION)
        return cv_error(o, "cv.strategy",
                        "cv.strategy: got \"stratified\", expected kfold, group or timeseries%s "
                        "(stratified folds need classes)",
                        why);
    return HF_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* A sort key with the position that breaks ties (stable order). */
typedef struct keyed {
    double key;
    int64_t code;
    size_t pos;
} keyed;

static int cmp_keyed_double(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static int cmp_keyed_code(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

const char *hf_folds_strategy_name(hf_cv_strategy s)
{
    const size_t n = sizeof k_strategy_names / sizeof k_strategy_names[0] - 1;
    return s >= 0 && (size_t)s < n ? k_strategy_names[s] : "auto";
}

hf_cv_strategy hf_cv_strategy_for(const hf_cv_opts *o, hf_task_kind task)
{
    if (o->strategy != HF_CV_AUTO)
        return o->strategy;
    return task == HF_TASK_CLASSIFICATION ? HF_CV_STRATIFIED : HF_CV_KFOLD;
}

void hf_folds_free(hf_folds *f)
{
    if (!f)
        return;
    if (f->release) {
        f->release(f->release_ctx);
        free(f->splits);
        free(f);
        return;
    }
    for (size_t i = 0; i < f->n_splits; i++) {
        free(f->splits[i].train);
        free(f->splits[i].valid);
    }
    free(f->splits);
    free(f->search_rows);
    free(f->holdout);
    free(f);
}

/* Class index of row r, checked against the schema. */
static int class_of(const hf_dataset *d, int64_t r, size_t *out)
{
    double y = d->y[r];
    if (!(y >= 0) || y != floor(y) || y >= (double)d->schema->n_classes)
        return hf_error(HF_EDATA, "row %lld: target class index %g is not in 0..%zu",
                        (long long)d->row[r], y, d->schema->n_classes - 1);
    *out = (size_t)y;
    return 0;
}

/* Fills split s from a fold assignment over rows[0..n): assign[i] == fold -> validation,
 * any other value except HF_NOT_USED -> training. rows ascending keeps both ascending. */
#define HF_NOT_USED (-1000)
static int split_from_assign(hf_split *s, const int64_t *rows, const int *assign, size_t n,
                             int fold, int repeat)
{
    size_t nv = 0, nt = 0;
    for (size_t i = 0; i < n; i++) {
        if (assign[i] == fold)
            nv++;
        else if (assign[i] != HF_NOT_USED)
            nt++;
    }
    s->repeat = repeat;
    s->fold = fold;
    s->train = hf_malloc((nt ? nt : 1) * sizeof *s->train);
    s->valid = hf_malloc((nv ? nv : 1) * sizeof *s->valid);
    if (!s->train || !s->valid)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (assign[i] == fold)
            s->valid[s->n_valid++] = rows[i];
        else if (assign[i] != HF_NOT_USED)
            s->train[s->n_train++] = rows[i];
    }
    return 0;
}

/* The k splits of one repeat from its fold assignment: f->splits[repeat * k + fold]. */
static int splits_from_assign(hf_folds *f, const int64_t *rows, const int *assign, size_t n, int k,
                              int repeat)
{
    for (int fold = 0; fold < k; fold++)
        HF_CALL(split_from_assign(&f->splits[(size_t)repeat * (size_t)k + (size_t)fold], rows,
                                  assign, n, fold, repeat));
    return 0;
}

static int alloc_splits(hf_folds *f, size_t n)
{
    f->splits = hf_calloc(n, sizeof *f->splits);
    if (!f->splits)
        return HF_ENOMEM;
    f->n_splits = n;
    return 0;
}

/* KFold with shuffle: repeat r permutes positions with hf_rng_init(seed, r, 0), then cuts
 * contiguous folds; the first n % k folds are one row larger. */
static int make_kfold(const hf_cv_opts *o, const int64_t *rows, size_t n, hf_folds *f)
{
    int result = 0;
    int k = o->folds, repeats = o->repeats > 0 ? o->repeats : 1;
    int64_t *perm = NULL;
    int *assign = NULL;
    if ((size_t)k > n) {
        result = cv_error(o, "cv.folds",
                          "cv.folds: got %d, expected at most %zu (the number of rows available "
                          "to the search)",
                          k, n);
        goto out;
    }
    perm = hf_malloc(n * sizeof *perm);
    assign = hf_malloc(n * sizeof *assign);
    if (!perm || !assign || alloc_splits(f, (size_t)k * (size_t)repeats) < 0) {
        result = HF_ENOMEM;
        goto out;
    }
    for (int r = 0; r < repeats; r++) {
        hf_rng rng;
        hf_rng_init(&rng, o->seed, (uint64_t)r, 0);
        for (size_t i = 0; i < n; i++)
            perm[i] = (int64_t)i;
        hf_rng_shuffle_i64(&rng, perm, (int64_t)n);
        size_t pos = 0;
        for (int fold = 0; fold < k; fold++) {
            size_t size = n / (size_t)k + ((size_t)fold < n % (size_t)k ? 1 : 0);
            for (size_t j = 0; j < size; j++)
                assign[perm[pos++]] = fold;
        }
        result = splits_from_assign(f, rows, assign, n, k, r);
        if (result < 0)
            goto out;
    }
out:
    free(perm);
    free(assign);
    return result;
}

/* StratifiedKFold-like: per repeat, each class's positions are shuffled, the classes are laid out
 * one after the other (class order) and the list is dealt round-robin to the folds, so every fold
 * holds floor or ceil of (class rows / k) of each class. */
static int make_stratified(const hf_cv_opts *o, const hf_dataset *d, const int64_t *rows, size_t n,
                           hf_folds *f)
{
    int result = 0;
    int k = o->folds, repeats = o->repeats > 0 ? o->repeats : 1;
    const hf_schema *sc = d->schema;
    size_t nc = sc->n_classes;
    size_t *count = NULL, *start = NULL, *fill = NULL;
    int64_t *bycls = NULL;
    int *assign = NULL;
    if (sc->task != HF_TASK_CLASSIFICATION || nc == 0) {
        result = cv_error(o, "cv.strategy",
                          "cv.strategy: got \"stratified\", expected kfold, group, predefined or "
                          "timeseries for the regression target \"%s\"",
                          sc->target ? sc->target : "");
        goto out;
    }
    count = hf_calloc(nc, sizeof *count);
    start = hf_calloc(nc + 1, sizeof *start);
    fill = hf_calloc(nc, sizeof *fill);
    bycls = hf_malloc((n ? n : 1) * sizeof *bycls);
    assign = hf_malloc((n ? n : 1) * sizeof *assign);
    if (!count || !start || !fill || !bycls || !assign) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        result = class_of(d, rows[i], &c);
        if (result < 0)
            goto out;
        count[c]++;
    }
    size_t smallest = 0;
    int have = 0;
    for (size_t c = 0; c < nc; c++) {
        if (count[c] > 0 && (!have || count[c] < count[smallest])) {
            smallest = c;
            have = 1;
        }
    }
    if (!have || count[smallest] < (size_t)k) {
        result = cv_error(o, "cv.folds",
                          "cv.folds: got %d, expected at most %zu (the smallest class, \"%s\", "
                          "has %zu rows)",
                          k, have ? count[smallest] : 0, have ? sc->classes[smallest] : "",
                          have ? count[smallest] : 0);
        goto out;
    }
    if (alloc_splits(f, (size_t)k * (size_t)repeats) < 0) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t c = 0; c < nc; c++)
        start[c + 1] = start[c] + count[c];
    for (int r = 0; r < repeats; r++) {
        hf_rng rng;
        hf_rng_init(&rng, o->seed, (uint64_t)r, 0);
        memset(fill, 0, nc * sizeof *fill);
        for (size_t i = 0; i < n; i++) {
            size_t c = (size_t)d->y[rows[i]];
            bycls[start[c] + fill[c]++] = (int64_t)i;
        }
        for (size_t c = 0; c < nc; c++)
            hf_rng_shuffle_i64(&rng, bycls + start[c], (int64_t)count[c]);
        for (size_t j = 0; j < n; j++)
            assign[bycls[j]] = (int)(j % (size_t)k);
        result = splits_from_assign(f, rows, assign, n, k, r);
        if (result < 0)
            goto out;
    }
out:
    free(count);
    free(start);
    free(fill);
    free(bycls);
    free(assign);
    return result;
}

/* Distinct codes of rows[0..n) (sorted ascending) and each position's index among them. */
static int distinct_codes(const int64_t *codes_by_row, const int64_t *rows, size_t n,
                          int64_t **uniq, size_t *n_uniq, size_t **which, size_t **sizes)
{
    int result = 0;
    keyed *k = hf_malloc((n ? n : 1) * sizeof *k);
    *uniq = hf_malloc((n ? n : 1) * sizeof **uniq);
    *which = hf_malloc((n ? n : 1) * sizeof **which);
    *sizes = hf_calloc(n ? n : 1, sizeof **sizes);
    *n_uniq = 0;
    if (!k || !*uniq || !*which || !*sizes) {
        result = HF_ENOMEM;
        goto out;
    }
    /* Codes in a range no wider than 2n (fold numbers, most group codes): counted in O(n). */
    int64_t lo = n ? codes_by_row[rows[0]] : 0, hi = lo;
    for (size_t i = 1; i < n; i++) {
        int64_t c = codes_by_row[rows[i]];
        lo = c < lo ? c : lo;
        hi = c > hi ? c : hi;
    }
    if (n > 0 && (uint64_t)hi - (uint64_t)lo < 2 * (uint64_t)n) {
        size_t width = (size_t)((uint64_t)hi - (uint64_t)lo) + 1;
        size_t *index = hf_malloc(width * sizeof *index);
        if (!index) {
            result = HF_ENOMEM;
            goto out;
        }
        for (size_t v = 0; v < width; v++)
            index[v] = SIZE_MAX;
        for (size_t i = 0; i < n; i++)
            index[codes_by_row[rows[i]] - lo] = 0;
        for (size_t v = 0; v < width; v++)
            if (index[v] == 0) {
                index[v] = *n_uniq;
                (*uniq)[(*n_uniq)++] = lo + (int64_t)v;
            }
        for (size_t i = 0; i < n; i++) {
            (*which)[i] = index[codes_by_row[rows[i]] - lo];
            (*sizes)[(*which)[i]]++;
        }
        free(index);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        k[i].code = codes_by_row[rows[i]];
        k[i].pos = i;
        k[i].key = 0;
    }
    qsort(k, n, sizeof *k, cmp_keyed_code);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || k[i].code != k[i - 1].code)
            (*uniq)[(*n_uniq)++] = k[i].code;
        (*which)[k[i].pos] = *n_uniq - 1;
        (*sizes)[*n_uniq - 1]++;
    }
out:
    free(k);
    return result;
}

typedef struct group_size {
    size_t size;
    size_t index;
} group_size;

/* Largest first; ties: the larger group index first (numpy's argsort reversed, as GroupKFold). */
static int cmp_group_size(const void *a, const void *b)
{
    const group_size *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return (x->index < y->index) - (x->index > y->index);
}

/* GroupKFold: groups sorted by size (largest first), each put into the fold with the fewest rows
 * so far (the lowest fold index on ties). No group is in two folds. */
static int make_group(const hf_cv_opts *o, const hf_dataset *d, const int64_t *rows, size_t n,
                      hf_folds *f)
{
    int result = 0;
    int k = o->folds;
    int64_t *uniq = NULL;
    size_t n_uniq = 0, *which = NULL, *sizes = NULL, *fold_rows = NULL;
    group_size *order = NULL;
    int *group_fold = NULL, *assign = NULL;
    const char *col = d->schema->group_column ? d->schema->group_column : "";
    if (!d->group) {
        result = cv_error(o, "cv.strategy",
                          "cv.group_column: no group column was loaded, expected one for "
                          "cv.strategy group");
        goto out;
    }
    result = distinct_codes(d->group, rows, n, &uniq, &n_uniq, &which, &sizes);
    if (result < 0)
        goto out;
    if (n_uniq < (size_t)k) {
        result = cv_error(o, "cv.folds",
                          "cv.folds: got %d, expected at most %zu (the number of distinct groups "
                          "in \"%s\")",
                          k, n_uniq, col);
        goto out;
    }
    order = hf_malloc(n_uniq * sizeof *order);
    group_fold = hf_malloc(n_uniq * sizeof *group_fold);
    fold_rows = hf_calloc((size_t)k, sizeof *fold_rows);
    assign = hf_malloc((n ? n : 1) * sizeof *assign);
    if (!order || !group_fold || !fold_rows || !assign || alloc_splits(f, (size_t)k) < 0) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t g = 0; g < n_uniq; g++) {
        order[g].size = sizes[g];
        order[g].index = g;
    }
    qsort(order, n_uniq, sizeof *order, cmp_group_size);
    for (size_t g = 0; g < n_uniq; g++) {
        int light = 0;
        for (int j = 1; j < k; j++)
            if (fold_rows[j] < fold_rows[light])
                light = j;
        fold_rows[light] += order[g].size;
        group_fold[order[g].index] = light;
    }
    for (size_t i = 0; i < n; i++)
        assign[i] = group_fold[which[i]];
    result = splits_from_assign(f, rows, assign, n, k, 0);
out:
    free(uniq);
    free(which);
    free(sizes);
    free(order);
    free(group_fold);
    free(fold_rows);
    free(assign);
    return result;
}

/* PredefinedSplit: each distinct non-negative fold value, in ascending order, is one split's
 * validation set; rows with a negative value are always in training. */
static int make_predefined(const hf_cv_opts *o, const hf_dataset *d, const int64_t *rows, size_t n,
                           hf_folds *f)
{
    int result = 0;
    int64_t *uniq = NULL;
    size_t n_uniq = 0, *which = NULL, *sizes = NULL;
    int *assign = NULL;
    const char *col = d->schema->fold_column ? d->schema->fold_column : "";
    if (!d->fold) {
        result = cv_error(o, "cv.strategy",
                          "cv.fold_column: no fold column was loaded, expected one for "
                          "cv.strategy predefined");
        goto out;
    }
    result = distinct_codes(d->fold, rows, n, &uniq, &n_uniq, &which, &sizes);
    if (result < 0)
        goto out;
    size_t first = 0; /* index of the first non-negative fold value */
    while (first < n_uniq && uniq[first] < 0)
        first++;
    size_t n_folds = n_uniq - first;
    if (n_folds < 2) {
        result = cv_error(o, "cv.fold_column",
                          "cv.fold_column: \"%s\" has %zu distinct non-negative fold values, "
                          "expected at least 2",
                          col, n_folds);
        goto out;
    }
    assign = hf_malloc((n ? n : 1) * sizeof *assign);
    if (!assign || alloc_splits(f, n_folds) < 0) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        assign[i] = which[i] < first ? -1 : (int)(which[i] - first);
    result = splits_from_assign(f, rows, assign, n, (int)n_folds, 0);
out:
    free(uniq);
    free(which);
    free(sizes);
    free(assign);
    return result;
}

/* Positions 0..n-1 of rows sorted by order key, ties by position. NaN keys are an error. */
static int sort_by_order(const hf_dataset *d, const int64_t *rows, size_t n, keyed **out)
{
    keyed *k = hf_malloc((n ? n : 1) * sizeof *k);
    if (!k)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        k[i].key = d->order[rows[i]];
        k[i].pos = i;
        k[i].code = 0;
        if (isnan(k[i].key)) {
            free(k);
            return hf_error(HF_EDATA, "row %lld: order column \"%s\" is missing, expected a value",
                            (long long)d->row[rows[i]],
                            d->schema->order_column ? d->schema->order_column : "");
        }
    }
    qsort(k, n, sizeof *k, cmp_keyed_double);
    *out = k;
    return 0;
}

/* TimeSeriesSplit(n_splits=k): test_size = n / (k + 1); fold i validates the sorted rows
 * [n - (k - i) * test_size, + test_size) and trains on the earlier rows whose key is strictly
 * smaller than the first validation key. */
static int make_timeseries(const hf_cv_opts *o, const hf_dataset *d, const int64_t *rows, size_t n,
                           hf_folds *f)
{
    int result = 0;
    int k = o->folds;
    keyed *sorted = NULL;
    const char *col = d->schema->order_column ? d->schema->order_column : "";
    if (!d->order) {
        result = cv_error(o, "cv.strategy",
                          "cv.order_column: no order column was loaded, expected one for "
                          "cv.strategy timeseries");
        goto out;
    }
    size_t ts = n / ((size_t)k + 1);
    if (ts == 0) {
        result = cv_error(o, "cv.folds",
                          "cv.folds: got %d, expected at most %zu for timeseries with %zu rows", k,
                          n > 0 ? n - 1 : 0, n);
        goto out;
    }
    result = sort_by_order(d, rows, n, &sorted);
    if (result < 0)
        goto out;
    if (alloc_splits(f, (size_t)k) < 0) {
        result = HF_ENOMEM;
        goto out;
    }
    for (int fold = 0; fold < k; fold++) {
        hf_split *s = &f->splits[fold];
        size_t begin = n - ((size_t)k - (size_t)fold) * ts;
        double first_key = sorted[begin].key;
        size_t nt = begin;
        while (nt > 0 && !(sorted[nt - 1].key < first_key))
            nt--;
        if (nt == 0) {
            result = cv_error(o, "cv.order_column",
                              "cv.order_column: fold %d has no training rows: every row before "
                              "its validation rows has the same \"%s\" value %g, expected earlier "
                              "values",
                              fold, col, first_key);
            goto out;
        }
        s->fold = fold;
        s->repeat = 0;
        s->train = hf_malloc(nt * sizeof *s->train);
        s->valid = hf_malloc(ts * sizeof *s->valid);
        if (!s->train || !s->valid) {
            result = HF_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < nt; i++)
            s->train[i] = rows[sorted[i].pos];
        for (size_t i = 0; i < ts; i++)
            s->valid[i] = rows[sorted[begin + i].pos];
        s->n_train = nt;
        s->n_valid = ts;
        qsort(s->train, nt, sizeof *s->train, cmp_i64);
        qsort(s->valid, ts, sizeof *s->valid, cmp_i64);
    }
out:
    free(sorted);
    return result;
}

typedef struct class_share {
    double frac;
    size_t count, index;
} class_share;

/* Largest fractional part first; ties: the larger class, then the lower class index. */
static int cmp_share(const void *a, const void *b)
{
    const class_share *x = a, *y = b;
    if (x->frac != y->frac)
        return x->frac > y->frac ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Marks in_hold[i] for the holdout rows (positions into 0..n-1 = row indices of d). */
static int pick_holdout(const hf_cv_opts *o, const hf_dataset *d, hf_cv_strategy strategy,
                        size_t n_hold, unsigned char *in_hold)
{
    int result = 0;
    size_t n = d->n_rows;
    int64_t *all = NULL, *perm = NULL, *uniq = NULL;
    size_t *which = NULL, *sizes = NULL, *count = NULL, *taken = NULL, n_uniq = 0;
    keyed *sorted = NULL;
    class_share *share = NULL;
    hf_rng rng;
    hf_rng_init(&rng, o->seed, HF_FOLDS_HOLDOUT_STREAM, 0);
    all = hf_malloc(n * sizeof *all);
    perm = hf_malloc(n * sizeof *perm);
    if (!all || !perm) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        all[i] = (int64_t)i;
    if (strategy == HF_CV_TIMESERIES && d->order) {
        /* The most recent rows, so that the holdout lies after everything the search saw. */
        result = sort_by_order(d, all, n, &sorted);
        if (result < 0)
            goto out;
        for (size_t i = n - n_hold; i < n; i++)
            in_hold[sorted[i].pos] = 1;
    } else if (strategy == HF_CV_GROUP && d->group) {
        /* Whole groups, in a shuffled order, until at least n_hold rows are held out. */
        result = distinct_codes(d->group, all, n, &uniq, &n_uniq, &which, &sizes);
        if (result < 0)
            goto out;
        for (size_t g = 0; g < n_uniq; g++)
            perm[g] = (int64_t)g;
        hf_rng_shuffle_i64(&rng, perm, (int64_t)n_uniq);
        taken = hf_calloc(n_uniq, sizeof *taken);
        if (!taken) {
            result = HF_ENOMEM;
            goto out;
        }
        size_t got = 0;
        for (size_t g = 0; g < n_uniq && got < n_hold; g++) {
            taken[perm[g]] = 1;
            got += sizes[perm[g]];
        }
        if (got >= n) {
            result = cv_error(o, "cv.holdout",
                              "cv.holdout: got %g, expected a fraction that leaves at least one "
                              "group of \"%s\" to the search",
                              o->holdout, d->schema->group_column ? d->schema->group_column : "");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            in_hold[i] = (unsigned char)taken[which[i]];
    } else if (d->schema->task == HF_TASK_CLASSIFICATION && d->schema->n_classes > 0) {
        /* Stratified: each class gives its share (largest remainder), drawn at random. */
        size_t nc = d->schema->n_classes;
        count = hf_calloc(nc, sizeof *count);
        taken = hf_calloc(nc, sizeof *taken);
        share = hf_malloc(nc * sizeof *share);
        if (!count || !taken || !share) {
            result = HF_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            size_t c = 0;
            result = class_of(d, (int64_t)i, &c);
            if (result < 0)
                goto out;
            count[c]++;
        }
        size_t given = 0;
        for (size_t c = 0; c < nc; c++) {
            double q = (double)n_hold * (double)count[c] / (double)n;
            taken[c] = (size_t)floor(q);
            given += taken[c];
            share[c].frac = q - floor(q);
            share[c].count = count[c];
            share[c].index = c;
        }
        qsort(share, nc, sizeof *share, cmp_share);
        for (size_t j = 0; given < n_hold && j < nc; j++) {
            if (taken[share[j].index] < count[share[j].index]) {
                taken[share[j].index]++;
                given++;
            }
        }
        hf_rng_shuffle_i64(&rng, all, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            size_t c = (size_t)d->y[all[i]];
            if (taken[c] > 0) {
                in_hold[all[i]] = 1;
                taken[c]--;
            }
        }
    } else {
        hf_rng_shuffle_i64(&rng, all, (int64_t)n);
        for (size_t i = 0; i < n_hold; i++)
            in_hold[all[i]] = 1;
    }
out:
    free(all);
    free(perm);
    free(uniq);
    free(which);
    free(sizes);
    free(count);
    free(taken);
    free(sorted);
    free(share);
    return result;
}

int hf_folds_make(const hf_cv_opts *o, const hf_dataset *d, hf_folds **out)
{
    int result = 0;
    hf_folds *f = NULL;
    unsigned char *in_hold = NULL;
    size_t n = d->n_rows;
    *out = NULL;
    hf_cv_strategy strategy = hf_cv_strategy_for(o, d->schema->task);
    int repeats = o->repeats > 0 ? o->repeats : 1;
    if (strategy != HF_CV_PREDEFINED && o->folds < 2) {
        result = cv_error(o, "cv.folds", "cv.folds: got %d, expected at least 2", o->folds);
        goto out;
    }
    if (repeats > 1 && strategy != HF_CV_KFOLD && strategy != HF_CV_STRATIFIED) {
        result = cv_error(o, "cv.repeats",
                          "cv.repeats: got %d, expected 1 for cv.strategy %s (its splits do not "
                          "depend on the seed)",
                          repeats, hf_folds_strategy_name(strategy));
        goto out;
    }
    if (!(o->holdout >= 0 && o->holdout < 1)) {
        result = cv_error(o, "cv.holdout", "cv.holdout: got %g, expected a fraction in [0, 1)",
                          o->holdout);
        goto out;
    }
    f = hf_calloc(1, sizeof *f);
    in_hold = hf_calloc(n ? n : 1, 1);
    if (!f || !in_hold) {
        result = HF_ENOMEM;
        goto out;
    }
    f->strategy = strategy;
    if (o->holdout > 0) {
        size_t n_hold = (size_t)ceil(o->holdout * (double)n);
        if (n_hold == 0 || n_hold >= n) {
            result = cv_error(o, "cv.holdout",
                              "cv.holdout: got %g, expected a fraction that holds out between 1 "
                              "and %zu of the %zu rows",
                              o->holdout, n > 0 ? n - 1 : 0, n);
            goto out;
        }
        result = pick_holdout(o, d, strategy, n_hold, in_hold);
        if (result < 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            f->n_holdout += in_hold[i];
        f->holdout = hf_malloc(f->n_holdout * sizeof *f->holdout);
        if (!f->holdout) {
            result = HF_ENOMEM;
            goto out;
        }
    }
    f->n_search = n - f->n_holdout;
    f->search_rows = hf_malloc((f->n_search ? f->n_search : 1) * sizeof *f->search_rows);
    if (!f->search_rows) {
        result = HF_ENOMEM;
        goto out;
    }
    size_t ns = 0, nh = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_hold[i])
            f->holdout[nh++] = (int64_t)i;
        else
            f->search_rows[ns++] = (int64_t)i;
    }
    switch (strategy) {
    case HF_CV_KFOLD:
        result = make_kfold(o, f->search_rows, f->n_search, f);
        break;
    case HF_CV_STRATIFIED:
        result = make_stratified(o, d, f->search_rows, f->n_search, f);
        break;
    case HF_CV_GROUP:
        result = make_group(o, d, f->search_rows, f->n_search, f);
        break;
    case HF_CV_PREDEFINED:
        result = make_predefined(o, d, f->search_rows, f->n_search, f);
        break;
    case HF_CV_TIMESERIES:
        result = make_timeseries(o, d, f->search_rows, f->n_search, f);
        break;
    default:
        result =
            cv_error(o, "cv.strategy", "cv.strategy: got %d, expected a strategy", (int)strategy);
        break;
    }
    if (result < 0)
        goto out;
    *out = f;
    f = NULL;
out:
    hf_folds_free(f);
    free(in_hold);
    return result;
}
