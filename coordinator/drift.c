/* drift.c - the training data's profile (profile.json) and the drift of new data from it
 * (drift.h; docs/describe.md, "Drift"). */
#define _GNU_SOURCE
#include "coordinator/drift.h"
#include "coordinator/profile_util.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "common/stats.h"
#include "shards/datetime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_VERSION 1

/* The bin of v: how many edges are below it (numpy.searchsorted(edges, v, side="left")). */
static size_t decile_bin(const double *edges, double v)
{
    size_t b = 0;
    while (b < HF_PROFILE_EDGES && edges[b] < v)
        b++;
    return b;
}

static int is_numeric_col(const hf_schema *sc, size_t j)
{
    return j < sc->n_features ? sc->features[j].type == HF_COL_NUMERIC
                              : sc->task != HF_TASK_CLASSIFICATION;
}

static const char *col_name(const hf_schema *sc, size_t j)
{
    return j < sc->n_features ? sc->features[j].name : sc->target;
}

/* ---- the profile ------------------------------------------------------------------------------
 */

/* The present values of column j of d's rows [first, first + count) into scratch; their number. */
static size_t present_values(const hf_dataset *d, size_t j, size_t first, size_t count,
                             double *scratch)
{
    size_t n = 0;
    for (size_t i = first; i < first + count; i++) {
        double v = hf_profile_value(d, i, j);
        if (!isnan(v))
            scratch[n++] = v;
    }
    return n;
}

/* The numeric column's profile from its n present values (sorted in place) of n_rows rows. */
static json_t *numeric_sorted(double *scratch, size_t n, size_t n_rows, json_t *o)
{
    qsort(scratch, n, sizeof *scratch, hf_cmp_double);
    double edges[HF_PROFILE_EDGES] = {0}, bins[HF_PROFILE_BINS] = {0};
    for (int q = 0; n && q < HF_PROFILE_EDGES; q++) {
        edges[q] = hf_quantile_sorted(scratch, n, (q + 1) / 10.0);
    }
    for (size_t i = 0; i < n; i++)
        bins[decile_bin(edges, scratch[i])]++;
    json_t *e = json_array(), *c = json_array();
    for (int q = 0; q < HF_PROFILE_EDGES; q++)
        json_array_append_new(e, json_real(edges[q]));
    for (int b = 0; b < HF_PROFILE_BINS; b++)
        json_array_append_new(c, json_integer((json_int_t)bins[b]));
    json_object_set_new(o, "count", json_integer((json_int_t)n));
    json_object_set_new(o, "missing", json_integer((json_int_t)(n_rows - n)));
    json_object_set_new(o, "edges", e);
    json_object_set_new(o, "counts", c);
    /* The exact quartiles (numpy.quantile's linear method), for the report. */
    const char *qn[3] = {"q25", "median", "q75"};
    for (int q = 0; q < 3; q++)
        json_object_set_new(
            o, qn[q], n ? json_real(hf_quantile_sorted(scratch, n, (q + 1) / 4.0)) : json_null());
    return o;
}

static json_t *numeric_profile(const hf_dataset *d, size_t j, double *scratch, json_t *o)
{
    return numeric_sorted(scratch, present_values(d, j, 0, d->n_rows, scratch), d->n_rows, o);
}

/* The levels of column j: counts[0..k) then the missing count at counts[k]. */
static size_t n_levels(const hf_schema *sc, size_t j)
{
    return j < sc->n_features ? sc->features[j].n_categories : sc->n_classes;
}

static void count_levels(const hf_dataset *d, size_t j, size_t first, size_t count, double *counts)
{
    size_t k = n_levels(d->schema, j);
    for (size_t i = first; i < first + count; i++) {
        double v = hf_profile_value(d, i, j);
        if (isnan(v) || v < 0 || (size_t)v >= k)
            counts[k]++;
        else
            counts[(size_t)v]++;
    }
}

/* The level column's profile from counts[0..k] (count_levels). */
static json_t *level_counts(const hf_schema *sc, size_t j, const double *counts, json_t *o)
{
    size_t k = n_levels(sc, j);
    char **names = j < sc->n_features ? sc->features[j].categories : sc->classes;
    double n = 0, missing = counts[k];
    for (size_t l = 0; l < k; l++)
        n += counts[l];
    json_t *levels = json_array();
    for (size_t l = 0; l < k; l++) {
        json_t *e = json_object();
        json_object_set_new(e, "value", json_string(names[l]));
        json_object_set_new(e, "count", json_integer((json_int_t)counts[l]));
        json_array_append_new(levels, e);
    }
    json_object_set_new(o, "count", json_integer((json_int_t)n));
    json_object_set_new(o, "missing", json_integer((json_int_t)missing));
    json_object_set_new(o, "levels", levels);
    return o;
}

static json_t *level_profile(const hf_dataset *d, size_t j, json_t *o)
{
    double *counts = hf_calloc(n_levels(d->schema, j) + 1, sizeof *counts);
    json_t *r = NULL;
    if (counts) {
        count_levels(d, j, 0, d->n_rows, counts);
        r = level_counts(d->schema, j, counts, o);
    }
    free(counts);
    return r;
}

int hf_profile_build(const hf_dataset *d, json_t **out)
{
    const hf_schema *sc = d->schema;
    size_t p = sc->n_features;
    double *scratch = hf_malloc((d->n_rows + 1) * sizeof *scratch);
    *out = NULL;
    if (!scratch)
        return HF_ENOMEM;
    json_t *root = json_object(), *cols = json_array();
    json_object_set_new(root, "version", json_integer(PROFILE_VERSION));
    json_object_set_new(root, "rows", json_integer((json_int_t)d->n_rows));
    json_object_set_new(root, "task", json_string(hf_task_name(sc->task)));
    json_object_set_new(root, "bins",
                        json_string("deciles: 9 edges, a value in the bin of the "
                                    "number of edges below it"));
    int result = HF_OK;
    for (size_t j = 0; result >= 0 && j <= p; j++) {
        json_t *o = json_object();
        hf_col_type type =
            j < p ? sc->features[j].type
                  : (sc->task == HF_TASK_CLASSIFICATION ? HF_COL_CATEGORICAL : HF_COL_NUMERIC);
        json_object_set_new(o, "name", json_string(col_name(sc, j)));
        json_object_set_new(o, "role", json_string(j < p ? "feature" : "target"));
        json_object_set_new(o, "type", json_string(hf_col_type_name(type)));
        if (!(is_numeric_col(sc, j) ? numeric_profile(d, j, scratch, o) : level_profile(d, j, o)))
            result = HF_ENOMEM;
        json_array_append_new(cols, o);
    }
    json_object_set_new(root, "columns", cols);
    free(scratch);
    if (result < 0)
        json_decref(root);
    else
        *out = root;
    return result;
}

/* Collective over c: column j of the profile of the union of the ranks' rows, on rank 0 (into o);
 * the other ranks send theirs. A numeric column's present values are gathered to rank 0 in rank
 * order (the whole column there: n doubles), a level column's counts are added (integers, exact).
 */
static int shard_column(hf_comm *c, const hf_dataset *d, size_t first, size_t count, size_t j,
                        size_t n_rows, double *scratch, json_t *o)
{
    int root = hf_comm_rank(c) == 0, result = HF_OK;
    if (is_numeric_col(d->schema, j)) {
        size_t n = present_values(d, j, first, count, scratch), *lens = NULL;
        char *all = NULL;
        HF_CALL(hf_comm_gather_blob(c, scratch, n * sizeof *scratch, 0, &all, &lens));
        if (root) {
            size_t bytes = 0;
            for (int r = 0; r < hf_comm_size(c); r++)
                bytes += lens[r];
            double *v = hf_malloc(bytes ? bytes : 1);
            if (v) {
                memcpy(v, all, bytes); /* gathered bytes need not be aligned for doubles */
                if (!numeric_sorted(v, bytes / sizeof *v, n_rows, o))
                    result = HF_ENOMEM;
            } else {
                result = HF_ENOMEM;
            }
            free(v);
        }
        free(all);
        free(lens);
        return result;
    }
    size_t k = n_levels(d->schema, j);
    double *counts = hf_calloc(k + 1, sizeof *counts);
    result = hf_comm_check(c, counts ? HF_OK : HF_ENOMEM);
    if (result >= 0) {
        count_levels(d, j, first, count, counts);
        result = hf_comm_allreduce_sum_f64(c, counts, k + 1);
    }
    if (result >= 0 && root && !level_counts(d->schema, j, counts, o))
        result = HF_ENOMEM;
    free(counts);
    return result;
}

int hf_profile_build_shards(hf_comm *c, const hf_dataset *d, size_t first, size_t count,
                            json_t **out)
{
    const hf_schema *sc = d->schema;
    size_t p = sc->n_features;
    int64_t rows = (int64_t)count;
    int root = hf_comm_rank(c) == 0;
    *out = NULL;
    double *scratch = hf_malloc((count + 1) * sizeof *scratch);
    int result = hf_comm_check(c, scratch ? HF_OK : HF_ENOMEM);
    if (result >= 0)
        result = hf_comm_allreduce_sum_i64(c, &rows, 1);
    json_t *top = NULL, *cols = NULL;
    if (result >= 0 && root) {
        top = json_object();
        cols = json_array();
        json_object_set_new(top, "version", json_integer(PROFILE_VERSION));
        json_object_set_new(top, "rows", json_integer((json_int_t)rows));
        json_object_set_new(top, "task", json_string(hf_task_name(sc->task)));
        json_object_set_new(top, "bins",
                            json_string("deciles: 9 edges, a value in the bin of the "
                                        "number of edges below it"));
    }
    for (size_t j = 0; result >= 0 && j <= p; j++) {
        json_t *o = NULL;
        if (root) {
            hf_col_type type =
                j < p ? sc->features[j].type
                      : (sc->task == HF_TASK_CLASSIFICATION ? HF_COL_CATEGORICAL : HF_COL_NUMERIC);
            o = json_object();
            json_object_set_new(o, "name", json_string(col_name(sc, j)));
            json_object_set_new(o, "role", json_string(j < p ? "feature" : "target"));
            json_object_set_new(o, "type", json_string(hf_col_type_name(type)));
        }
        result = hf_comm_check(c, shard_column(c, d, first, count, j, (size_t)rows, scratch, o));
        if (root)
            json_array_append_new(cols, o);
    }
    free(scratch);
    if (root && result >= 0) {
        json_object_set_new(top, "columns", cols);
        *out = top;
    } else {
        json_decref(cols);
        json_decref(top);
    }
    return result;
}

int hf_profile_write_json(json_t *root, const char *path)
{
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    int result = text ? hf_fs_write_atomic(path, text, strlen(text)) : HF_ENOMEM;
    free(text);
    return result;
}

int hf_profile_write(const hf_dataset *d, const char *path)
{
    json_t *root = NULL;
    int result = hf_profile_build(d, &root);
    char *text = result >= 0 ? json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) : NULL;
    if (result >= 0 && !text)
        result = HF_ENOMEM;
    if (result >= 0)
        result = hf_fs_write_atomic(path, text, strlen(text));
    free(text);
    json_decref(root);
    return result;
}

void hf_profile_free(hf_profile *p)
{
    for (size_t i = 0; p && i < p->n_cols; i++) {
        free(p->cols[i].name);
        hf_strv_free(p->cols[i].levels, p->cols[i].n_levels);
        free(p->cols[i].level_counts);
    }
    if (p)
        free(p->cols);
    free(p);
}

/* A number >= 0 (a count) at key of o, or an error naming it. */
static int get_count(json_t *o, const char *key, const char *what, size_t i, double *out)
{
    json_t *v = json_object_get(o, key);
    double x = json_is_number(v) ? json_number_value(v) : NAN;
    if (!(x >= 0) || !isfinite(x) || x != floor(x))
        return hf_error(HF_EINVAL, "%s: columns[%zu].%s: expected a count (an integer >= 0)", what,
                        i, key);
    *out = x;
    return HF_OK;
}

static int parse_col(json_t *o, const char *what, size_t i, hf_profile_col *c)
{
    json_t *name = json_object_get(o, "name"), *type = json_object_get(o, "type");
    if (!json_is_object(o))
        return hf_error(HF_EINVAL, "%s: columns[%zu]: expected an object", what, i);
    if (!json_is_string(name) || !json_string_length(name))
        return hf_error(HF_EINVAL, "%s: columns[%zu].name: expected a column name", what, i);
    if (!(c->name = hf_strndup(json_string_value(name), json_string_length(name))))
        return HF_ENOMEM;
    const char *t = json_string_value(type);
    if (!t || (strcmp(t, "numeric") && strcmp(t, "categorical") && strcmp(t, "boolean")))
        return hf_error(HF_EINVAL,
                        "%s: columns[%zu].type: expected numeric, categorical or boolean", what, i);
    c->numeric = !strcmp(t, "numeric");
    HF_CALL(get_count(o, "count", what, i, &c->count));
    HF_CALL(get_count(o, "missing", what, i, &c->missing));
    if (c->numeric) {
        json_t *e = json_object_get(o, "edges"), *n = json_object_get(o, "counts");
        if (json_array_size(e) != HF_PROFILE_EDGES || json_array_size(n) != HF_PROFILE_BINS)
            return hf_error(HF_EINVAL,
                            "%s: columns[%zu]: expected \"edges\" of %d numbers and \"counts\" "
                            "of %d",
                            what, i, HF_PROFILE_EDGES, HF_PROFILE_BINS);
        for (size_t q = 0; q < HF_PROFILE_EDGES; q++) {
            json_t *v = json_array_get(e, q);
            c->edges[q] = json_is_number(v) ? json_number_value(v) : NAN;
            if (!isfinite(c->edges[q]) || (q && c->edges[q] < c->edges[q - 1]))
                return hf_error(HF_EINVAL,
                                "%s: columns[%zu].edges[%zu]: expected finite numbers in "
                                "ascending order",
                                what, i, q);
        }
        double sum = 0;
        for (size_t b = 0; b < HF_PROFILE_BINS; b++) {
            json_t *v = json_array_get(n, b);
            c->bins[b] = json_is_number(v) ? json_number_value(v) : NAN;
            if (!(c->bins[b] >= 0) || !isfinite(c->bins[b]))
                return hf_error(HF_EINVAL, "%s: columns[%zu].counts[%zu]: expected a count", what,
                                i, b);
            sum += c->bins[b];
        }
        if (sum != c->count)
            return hf_error(HF_EINVAL,
                            "%s: columns[%zu].counts: they add up to %.0f, expected count %.0f",
                            what, i, sum, c->count);
        return HF_OK;
    }
    json_t *lv = json_object_get(o, "levels");
    if (!json_is_array(lv))
        return hf_error(HF_EINVAL, "%s: columns[%zu].levels: expected an array", what, i);
    size_t k = json_array_size(lv);
    c->levels = hf_calloc(k ? k : 1, sizeof *c->levels);
    c->level_counts = hf_calloc(k ? k : 1, sizeof *c->level_counts);
    if (!c->levels || !c->level_counts)
        return HF_ENOMEM;
    for (size_t l = 0; l < k; l++) {
        json_t *e = json_array_get(lv, l), *v = json_object_get(e, "value");
        if (!json_is_string(v))
            return hf_error(HF_EINVAL, "%s: columns[%zu].levels[%zu].value: expected a string",
                            what, i, l);
        if (!(c->levels[l] = hf_strndup(json_string_value(v), json_string_length(v))))
            return HF_ENOMEM;
        c->n_levels = l + 1;
        json_t *cnt = json_object_get(e, "count");
        double x = json_is_number(cnt) ? json_number_value(cnt) : NAN;
        if (!(x >= 0) || !isfinite(x))
            return hf_error(HF_EINVAL, "%s: columns[%zu].levels[%zu].count: expected a count", what,
                            i, l);
        c->level_counts[l] = x;
    }
    return HF_OK;
}

int hf_profile_parse(const char *text, size_t len, const char *what, hf_profile **out)
{
    json_error_t err;
    *out = NULL;
    json_t *root = json_loadb(text, len, 0, &err);
    if (!root)
        return hf_error(HF_EINVAL, "%s:%d:%d: not JSON (%s)", what, err.line, err.column, err.text);
    hf_profile *p = hf_calloc(1, sizeof *p);
    int result = p ? HF_OK : HF_ENOMEM;
    json_t *ver = json_object_get(root, "version"), *cols = json_object_get(root, "columns");
    const char *task = json_string_value(json_object_get(root, "task"));
    if (result >= 0 && (!json_is_integer(ver) || json_integer_value(ver) != PROFILE_VERSION))
        result = hf_error(HF_EINVAL, "%s: version: expected %d", what, PROFILE_VERSION);
    if (result >= 0 && (!task || (strcmp(task, "classification") && strcmp(task, "regression"))))
        result = hf_error(HF_EINVAL, "%s: task: expected classification or regression", what);
    if (result >= 0) {
        p->task = !strcmp(task, "classification") ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION;
        json_t *rows = json_object_get(root, "rows");
        p->rows = json_is_integer(rows) ? (double)json_integer_value(rows) : -1;
        if (p->rows < 0)
            result = hf_error(HF_EINVAL, "%s: rows: expected a count", what);
    }
    if (result >= 0 && (!json_is_array(cols) || json_array_size(cols) == 0))
        result = hf_error(HF_EINVAL, "%s: columns: expected a non-empty array", what);
    if (result >= 0) {
        p->cols = hf_calloc(json_array_size(cols), sizeof *p->cols);
        result = p->cols ? HF_OK : HF_ENOMEM;
    }
    for (size_t i = 0; result >= 0 && i < json_array_size(cols); i++) {
        p->n_cols = i + 1;
        result = parse_col(json_array_get(cols, i), what, i, &p->cols[i]);
    }
    if (result >= 0) {
        const char *role =
            json_string_value(json_object_get(json_array_get(cols, p->n_cols - 1), "role"));
        if (!role || strcmp(role, "target"))
            result = hf_error(HF_EINVAL, "%s: columns[%zu].role: expected \"target\" (the last)",
                              what, p->n_cols - 1);
        else if (p->cols[p->n_cols - 1].numeric != (p->task == HF_TASK_REGRESSION))
            result = hf_error(HF_EINVAL, "%s: columns[%zu].type: does not fit task %s", what,
                              p->n_cols - 1, task);
    }
    json_decref(root);
    if (result < 0)
        hf_profile_free(p);
    else
        *out = p;
    return result;
}

int hf_profile_read(const char *path, hf_profile **out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int result = hf_fs_read_file(path, &text, &len);
    if (result >= 0)
        result = hf_profile_parse(text, len, path, out);
    free(text);
    return result;
}

int hf_profile_load(hf_comm *world, const char *path, int optional, hf_profile **out)
{
    char *text = NULL;
    size_t len = 0;
    int64_t exists = 1;
    int result = HF_OK;
    *out = NULL;
    if (hf_comm_rank(world) == 0) {
        exists = hf_fs_exists(path);
        if (exists)
            result = hf_fs_read_file(path, &text, &len);
        else if (!optional)
            result = hf_error(HF_EINVAL,
                              "%s: no such file (a run writes its training data's profile "
                              "there; run the job again)",
                              path);
    }
    if ((result = hf_comm_check(world, result)) >= 0)
        result = hf_comm_bcast(world, &exists, sizeof exists, 0);
    if (result >= 0 && exists)
        result = hf_comm_bcast_blob(world, &text, &len, 0);
    if (result >= 0 && exists)
        result = hf_comm_check(world, hf_profile_parse(text, len, path, out));
    free(text);
    return result;
}

void hf_drift_summary(json_t *drift, char *buf, size_t len)
{
    size_t i, o = 0, shown = 0;
    json_t *c;
    buf[0] = '\0';
    json_array_foreach(json_object_get(drift, "columns"), i, c)
    {
        json_t *v = json_object_get(c, "psi");
        if (!json_is_number(v) || json_number_value(v) <= HF_PSI_MODERATE || shown == 5 ||
            o + 80 > len)
            continue;
        o += (size_t)snprintf(buf + o, len - o, "%s%s PSI %.3f (%s)", shown++ ? ", " : "",
                              json_string_value(json_object_get(c, "name")), json_number_value(v),
                              json_string_value(json_object_get(c, "drift")));
    }
}

/* ---- drift ----------------------------------------------------------------------------------- */

/* The PSI of two count vectors over the same bins: sum (p_new - p_old) ln(p_new / p_old), each
 * share floored at HF_PSI_EPS; NaN when either side has no values. */
static double psi(const double *old, const double *new, size_t n)
{
    double so = 0, sn = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        so += old[i];
        sn += new[i];
    }
    if (!(so > 0) || !(sn > 0))
        return NAN;
    for (size_t i = 0; i < n; i++) {
        double po = fmax(old[i] / so, HF_PSI_EPS), pn = fmax(new[i] / sn, HF_PSI_EPS);
        s += (pn - po) * log(pn / po);
    }
    return s;
}

static const char *psi_level(double v)
{
    return isnan(v)              ? "unknown"
           : v > HF_PSI_MAJOR    ? "major"
           : v > HF_PSI_MODERATE ? "moderate"
                                 : "none";
}

/* The column of the new data named like the profile's column i (the target: the last), or -1. */
static size_t n_levels_of(const hf_schema *sc, size_t j)
{
    return j < sc->n_features ? sc->features[j].n_categories : sc->n_classes;
}

static char **level_names(const hf_schema *sc, size_t j)
{
    return j < sc->n_features ? sc->features[j].categories : sc->classes;
}

/* Rank 0. One column's drift from its reduced counts a (missing, count, then the bins or the
 * new data's levels). */
/* A name and its index (an old level, a feature), sorted by name to look names up. */
typedef struct {
    const char *name;
    size_t at;
} named_level;

static int cmp_named_level(const void *a, const void *b)
{
    return strcmp(((const named_level *)a)->name, ((const named_level *)b)->name);
}

/* The index of the entry named name (binary search over sorted, n entries), or n when there is
 * none. */
static size_t find_level(const named_level *sorted, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid].name, name);
        if (!c)
            return sorted[mid].at;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return n;
}

/* The new data's column of profile column i: the feature of that name (feat: the features
 * sorted by name, nf of them), or n_features for the target; -1 when absent. By name, whatever
 * the role: data described without its target (describe --no-target, or unlabeled data whose
 * last column was read in the target's place) still matches. */
static long match(const hf_profile *old, size_t i, const hf_schema *sc, const named_level *feat)
{
    const char *name = old->cols[i].name;
    if (sc->target && !strcmp(sc->target, name))
        return (long)sc->n_features;
    size_t j = find_level(feat, sc->n_features, name);
    return j < sc->n_features ? (long)j : -1;
}

/* A part of a date column that moves with time by construction (when.year, when.elapsed_days):
 * new data is later than the training data, so its PSI is expected to be large. */
static int is_trend(const hf_schema *sc, long j)
{
    if (j < 0 || (size_t)j >= sc->n_features || !sc->features[j].source)
        return 0;
    return sc->features[j].part == HF_DT_YEAR || sc->features[j].part == HF_DT_ELAPSED_DAYS;
}

static json_t *col_drift(const hf_profile_col *c, const hf_schema *sc, long j, const double *a,
                         int target)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(c->name));
    json_object_set_new(o, "type", json_string(c->numeric ? "numeric" : "categorical"));
    if (is_trend(sc, j))
        json_object_set_new(o, "trend", json_true());
    double old_rows = c->missing + c->count;
    double mo = old_rows > 0 ? c->missing / old_rows : 0;
    if (j < 0 || is_numeric_col(sc, (size_t)j) != c->numeric) {
        json_object_set_new(o, "psi", json_null());
        json_object_set_new(o, "drift", json_string(j < 0 ? "column missing" : "type changed"));
        return o;
    }
    double new_rows = a[0] + a[1], mn = new_rows > 0 ? a[0] / new_rows : 0, v = NAN;
    json_t *unseen = NULL, *balance = NULL;
    if (c->numeric)
        v = psi(c->bins, a + 2, HF_PROFILE_BINS);
    else {
        /* Bins: the old levels, then the new data's levels the profile does not know. */
        size_t k = n_levels_of(sc, (size_t)j);
        char **names = level_names(sc, (size_t)j);
        double *po = hf_calloc(c->n_levels + k + 1, sizeof *po),
               *pn = hf_calloc(c->n_levels + k + 1, sizeof *pn);
        size_t nb = c->n_levels;
        double unseen_rows = 0, unseen_n = 0;
        json_t *examples = json_array();
        /* Each new level is looked up among the old ones sorted by name: O((k + n) log n) rather
         * than k x n comparisons, for columns of 100,000 levels. */
        named_level *order = hf_malloc((c->n_levels + 1) * sizeof *order);
        if (!order) {
            free(po);
            po = NULL;
        }
        for (size_t l = 0; order && l < c->n_levels; l++)
            order[l] = (named_level){c->levels[l], l};
        if (order)
            qsort(order, c->n_levels, sizeof *order, cmp_named_level);
        for (size_t l = 0; po && pn && l < c->n_levels; l++)
            po[l] = c->level_counts[l];
        for (size_t l = 0; po && pn && l < k; l++) {
            size_t at = find_level(order, c->n_levels, names[l]);
            if (at < c->n_levels)
                pn[at] += a[2 + l];
            else if (a[2 + l] > 0) {
                pn[nb++] = a[2 + l];
                unseen_rows += a[2 + l];
                if (unseen_n++ < 5)
                    json_array_append_new(examples, json_string(names[l]));
            }
        }
        if (po && pn) {
            v = psi(po, pn, nb);
            unseen = json_object();
            json_object_set_new(unseen, "count", json_integer((json_int_t)unseen_n));
            json_object_set_new(unseen, "rows", json_integer((json_int_t)unseen_rows));
            json_object_set_new(unseen, "examples", examples);
            examples = NULL;
            if (target) {
                double so = 0, sn = 0;
                for (size_t l = 0; l < nb; l++) {
                    so += po[l];
                    sn += pn[l];
                }
                balance = json_array();
                for (size_t l = 0; l < nb; l++) {
                    json_t *e = json_object();
                    double a0 = so > 0 ? po[l] / so : 0, a1 = sn > 0 ? pn[l] / sn : 0;
                    json_object_set_new(e, "value",
                                        json_string(l < c->n_levels ? c->levels[l] : "(new)"));
                    json_object_set_new(e, "share_old", json_real(a0));
                    json_object_set_new(e, "share_new", json_real(a1));
                    json_object_set_new(e, "change", json_real(a1 - a0));
                    json_array_append_new(balance, e);
                }
            }
        }
        json_decref(examples);
        free(order);
        free(po);
        free(pn);
    }
    json_object_set_new(o, "psi", hf_profile_real_or_null(v));
    json_object_set_new(o, "drift", json_string(psi_level(v)));
    json_object_set_new(o, "missing_share_old", json_real(mo));
    json_object_set_new(o, "missing_share_new", json_real(mn));
    json_object_set_new(o, "missing_share_change", json_real(mn - mo));
    if (unseen)
        json_object_set_new(o, "new_categories", unseen);
    if (balance)
        json_object_set_new(o, "balance", balance);
    return o;
}

static int cmp_psi(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_t *px = json_object_get(x, "psi"), *py = json_object_get(y, "psi");
    int nx = !json_is_number(px), ny = !json_is_number(py);
    if (nx != ny)
        return nx - ny;
    if (!nx && json_number_value(px) != json_number_value(py))
        return json_number_value(px) < json_number_value(py) ? 1 : -1;
    return strcmp(json_string_value(json_object_get(x, "name")),
                  json_string_value(json_object_get(y, "name")));
}

int hf_drift_compute(hf_comm *world, const hf_profile *old, const hf_dataset *d, size_t first,
                     size_t count, json_t **out)
{
    const hf_schema *sc = d->schema;
    size_t nc = old->n_cols, total = 0;
    long *col = hf_malloc(nc * sizeof *col);
    size_t *off = hf_malloc((nc + 1) * sizeof *off);
    *out = NULL;
    /* The features sorted by name: matching 100,000 columns is not 100,000 squared strcmp. */
    named_level *feat = hf_malloc((sc->n_features + 1) * sizeof *feat);
    int result = col && off && feat ? HF_OK : HF_ENOMEM;
    for (size_t j = 0; result >= 0 && j < sc->n_features; j++)
        feat[j] = (named_level){sc->features[j].name, j};
    if (result >= 0)
        qsort(feat, sc->n_features, sizeof *feat, cmp_named_level);
    for (size_t i = 0; result >= 0 && i < nc; i++) {
        col[i] = match(old, i, sc, feat);
        off[i] = total;
        size_t len = 2;
        if (col[i] >= 0 && is_numeric_col(sc, (size_t)col[i]) == old->cols[i].numeric)
            len += old->cols[i].numeric ? HF_PROFILE_BINS : n_levels_of(sc, (size_t)col[i]);
        total += len;
    }
    /* a[total]: the rows (the target may be absent, so they are counted apart). */
    double *a = result >= 0 ? hf_calloc(total + 1, sizeof *a) : NULL;
    result = hf_comm_check(world, result >= 0 && !a ? HF_ENOMEM : result);
    if (result >= 0 && first < d->n_rows)
        a[total] = (double)((first + count < d->n_rows ? first + count : d->n_rows) - first);
    for (size_t i = 0; result >= 0 && i < nc; i++) {
        if (col[i] < 0)
            continue;
        size_t j = (size_t)col[i];
        int same = is_numeric_col(sc, j) == old->cols[i].numeric;
        size_t k = same && !old->cols[i].numeric ? n_levels_of(sc, j) : 0;
        double *c = a + off[i];
        for (size_t r = first; r < first + count && r < d->n_rows; r++) {
            double v = hf_profile_value(d, r, j);
            if (isnan(v)) {
                c[0]++;
                continue;
            }
            c[1]++;
            if (!same)
                continue;
            if (old->cols[i].numeric)
                c[2 + decile_bin(old->cols[i].edges, v)]++;
            else if (v >= 0 && (size_t)v < k)
                c[2 + (size_t)v]++;
        }
    }
    if (result >= 0)
        result = hf_comm_allreduce_sum_f64(world, a, total + 1);
    if (result >= 0 && hf_comm_rank(world) == 0) {
        json_t *root = json_object(), *cols = json_array(), *trend = json_array();
        json_t **list = hf_malloc(nc * sizeof *list);
        size_t nl = 0;
        double rows = a[total];
        for (size_t i = 0; list && i < nc; i++) {
            /* The target absent from the new data (unlabeled rows): skipped, no "target". */
            if (i == nc - 1 && col[i] < 0)
                continue;
            json_t *o = col_drift(&old->cols[i], sc, col[i], a + off[i], i == nc - 1);
            if (i == nc - 1)
                json_object_set_new(root, "target", o);
            else
                list[nl++] = o;
        }
        /* The time-trend parts are expected to move: listed apart ("trend"), not ranked among
         * the columns that moved (the summary line and the report read "columns"). */
        if (list) {
            qsort(list, nl, sizeof *list, cmp_psi);
            for (size_t i = 0; i < nl; i++)
                json_array_append_new(
                    json_is_true(json_object_get(list[i], "trend")) ? trend : cols, list[i]);
        }
        free(list);
        json_object_set_new(root, "rows_old", json_integer((json_int_t)old->rows));
        json_object_set_new(root, "rows_new", json_integer((json_int_t)rows));
        json_object_set_new(root, "psi_epsilon", json_real(HF_PSI_EPS));
        json_object_set_new(
            root, "thresholds",
            json_pack("{s:f,s:f}", "moderate", HF_PSI_MODERATE, "major", HF_PSI_MAJOR));
        json_object_set_new(root, "columns", cols);
        json_object_set_new(root, "trend", trend);
        *out = root;
        result = list ? HF_OK : HF_ENOMEM;
    }
    free(a);
    free(col);
    free(off);
    free(feat);
    return hf_comm_check(world, result);
}

static void drift_row(FILE *fp, json_t *c)
{
    char v[16] = "-", mo[16], mn[16], unseen[48] = "";
    json_t *psiv = json_object_get(c, "psi");
    if (json_is_number(psiv))
        snprintf(v, sizeof v, "%.4f", json_number_value(psiv));
    snprintf(mo, sizeof mo, "%.1f%%",
             100 * json_number_value(json_object_get(c, "missing_share_old")));
    snprintf(mn, sizeof mn, "%.1f%%",
             100 * json_number_value(json_object_get(c, "missing_share_new")));
    json_t *u = json_object_get(c, "new_categories");
    if (u && json_integer_value(json_object_get(u, "count")) > 0)
        snprintf(unseen, sizeof unseen, "%lld new (%.20s%s)",
                 (long long)json_integer_value(json_object_get(u, "count")),
                 json_string_value(json_array_get(json_object_get(u, "examples"), 0)),
                 json_array_size(json_object_get(u, "examples")) > 1 ? ", ..." : "");
    fprintf(fp, "%-22.22s %-4.4s %9s %-14s %8s %8s %s\n",
            json_string_value(json_object_get(c, "name")),
            strcmp(json_string_value(json_object_get(c, "type")), "numeric") ? "cat" : "num", v,
            json_string_value(json_object_get(c, "drift")), mo, mn, unseen);
}

void hf_drift_print(FILE *fp, json_t *drift)
{
    fprintf(fp,
            "drift of %lld new rows from the %lld training rows (PSI > 0.1 moderate, > 0.25 "
            "major)\n\n",
            (long long)json_integer_value(json_object_get(drift, "rows_new")),
            (long long)json_integer_value(json_object_get(drift, "rows_old")));
    fprintf(fp, "%-22s %-4s %9s %-14s %8s %8s %s\n", "column", "type", "psi", "drift", "miss.old",
            "miss.new", "categories never seen");
    json_t *t = json_object_get(drift, "target"), *c;
    size_t i;
    if (t) {
        fprintf(fp, "target:\n");
        drift_row(fp, t);
        json_t *e;
        json_array_foreach(json_object_get(t, "balance"), i, e)
            fprintf(fp, "  class %-20.20s share %.3f -> %.3f (%+.3f)\n",
                    json_string_value(json_object_get(e, "value")),
                    json_number_value(json_object_get(e, "share_old")),
                    json_number_value(json_object_get(e, "share_new")),
                    json_number_value(json_object_get(e, "change")));
        fprintf(fp, "features, the most moved first:\n");
    }
    json_array_foreach(json_object_get(drift, "columns"), i, c) drift_row(fp, c);
    if (json_array_size(json_object_get(drift, "trend")))
        fprintf(fp, "expected to move with time (parts of a date column):\n");
    json_array_foreach(json_object_get(drift, "trend"), i, c) drift_row(fp, c);
}
