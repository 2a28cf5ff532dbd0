/* spec.c - parsing and validation of job.yaml (the schema is documented in docs/job-spec.md).
 *
 * The YAML is loaded with libyaml's document API; every node keeps its start mark, so each error
 * names the file, line and column of the offending key or value. Scalars are typed the YAML 1.2
 * core way: quoted scalars are strings; plain scalars are null (~, null, empty), booleans
 * (true/false), integers, floats, or strings. */
#include "jobs/spec.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "worker/model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PATH_LEN 512
#define MAX_GRID_INT_VALUES 10000

typedef struct ctx {
    const char *path;
    yaml_document_t *doc;
    hf_spec *spec;
} ctx;

typedef enum scalar_kind { SC_STRING, SC_INT, SC_FLOAT, SC_BOOL, SC_NULL } scalar_kind;

typedef struct scalar {
    scalar_kind kind;
    const char *text;
    int64_t i;
    double d; /* numeric value for SC_INT and SC_FLOAT */
    int b;
} scalar;

/* The metrics a spec may name, with the task they belong to. The worker team owns the metric
 * implementations (worker/metrics.h); this table only validates names. */
typedef struct metric_name {
    const char *name;
    hf_task_kind task;
} metric_name;

static const metric_name k_metrics[] = {
    {"r2", HF_TASK_REGRESSION},          {"rmse", HF_TASK_REGRESSION},
    {"mae", HF_TASK_REGRESSION},         {"accuracy", HF_TASK_CLASSIFICATION},
    {"roc_auc", HF_TASK_CLASSIFICATION}, {"log_loss", HF_TASK_CLASSIFICATION},
    {"f1", HF_TASK_CLASSIFICATION},
};
static const char *const k_metric_names[] = {"r2",      "rmse",     "mae", "accuracy",
                                             "roc_auc", "log_loss", "f1",  NULL};

static const char *const k_top_keys[] = {"name",       "data",   "shards",    "cv",     "model",
                                         "preprocess", "search", "objective", "output", "s3",
                                         "parallel",   "slurm",  NULL};
static const char *const k_data_keys[] = {
    "source", "target", "task", "delimiter", "na_values", "columns", "drop", "on_bad_rows", NULL};
static const char *const k_shards_keys[] = {"count", NULL};
static const char *const k_cv_keys[] = {"folds",        "strategy",     "fold_column",
                                        "group_column", "order_column", "seed",
                                        "repeats",      "holdout",      NULL};
static const char *const k_model_keys[] = {"type", "params", NULL};
static const char *const k_preprocess_keys[] = {"impute",        "scale", "categorical",
                                                "min_frequency", "pca",   NULL};
static const char *const k_pca_keys[] = {"n_components", NULL};
static const char *const k_impute_keys[] = {"numeric", "categorical", "indicator", "fill_value",
                                            NULL};
static const char *const k_search_keys[] = {"strategy", "trials", "seed", "error_score", NULL};
static const char *const k_objective_keys[] = {"metric", "report", NULL};
static const char *const k_output_keys[] = {"dir", "upload", "sse", "kms_key_id", NULL};
static const char *const k_s3_keys[] = {"endpoint", "region", "path_style", NULL};
static const char *const k_parallel_keys[] = {"ranks_per_task", "grid", "block_size",
                                              "memory_per_rank", NULL};
static const char *const k_slurm_keys[] = {"partition", "account",         "time",
                                           "nodes",     "ntasks_per_node", NULL};
static const char *const k_dist_keys[] = {"log_uniform", "uniform", "int_uniform", "grid_points",
                                          NULL};

static const char *const k_task_names[] = {"regression", "classification", NULL};
static const char *const k_col_type_names[] = {"numeric", "categorical", "boolean", NULL};
static const char *const k_bad_rows_names[] = {"error", "skip", NULL};
static const char *const k_cv_names[] = {"kfold", "stratified", "predefined",
                                         "group", "timeseries", NULL};
static const char *const k_search_names[] = {"grid", "random", NULL};
static const char *const k_sse_names[] = {"AES256", "aws:kms", NULL};

/* Preprocessing settings are searchable like model parameters; these definitions type them. */
static const char *const k_impute_numeric[] = {"mean", "median", "most_frequent", "constant", NULL};
static const char *const k_impute_categorical[] = {"most_frequent", "constant", NULL};
static const char *const k_scale[] = {"standard", "minmax", "none", NULL};
static const char *const k_categorical[] = {"onehot", NULL};

static const hf_param_def k_pp_impute_numeric = {
    "preprocess.impute.numeric", HF_VAL_STRING, "mean", 0, 0, 0, k_impute_numeric, NULL};
static const hf_param_def k_pp_impute_categorical = {"preprocess.impute.categorical",
                                                     HF_VAL_STRING,
                                                     "most_frequent",
                                                     0,
                                                     0,
                                                     0,
                                                     k_impute_categorical,
                                                     NULL};
static const hf_param_def k_pp_impute_indicator = {
    "preprocess.impute.indicator", HF_VAL_BOOL, "false", 0, 0, 0, NULL, NULL};
static const hf_param_def k_pp_fill_number = {
    "preprocess.impute.fill_value", HF_VAL_NUMBER, "0", 0, 0, 0, NULL, NULL};
static const hf_param_def k_pp_fill_text = {
    "preprocess.impute.fill_value", HF_VAL_STRING, "missing_value", 0, 0, 0, NULL, NULL};
static const hf_param_def k_pp_scale = {
    "preprocess.scale", HF_VAL_STRING, "none", 0, 0, 0, k_scale, NULL};
static const hf_param_def k_pp_categorical = {
    "preprocess.categorical", HF_VAL_STRING, "onehot", 0, 0, 0, k_categorical, NULL};
static const hf_param_def k_pp_min_frequency = {
    "preprocess.min_frequency", HF_VAL_INT, "0", 0, INFINITY, 0, NULL, NULL};
static const hf_param_def k_pp_pca_n_components = {
    "preprocess.pca.n_components", HF_VAL_INT, "0", 0, INFINITY, 0, NULL, NULL};

static const char *const k_default_na[] = {"", "NA", "NaN", "null", "?"};

/* ---- nodes and messages ---------------------------------------------------------------------- */

static yaml_node_t *node_at(ctx *c, int idx)
{
    return yaml_document_get_node(c->doc, idx);
}

static const char *node_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static scalar classify(const yaml_node_t *n);

/* Writes a short description of a node as it appeared in the file: 5.5, "abc", [1, 2], a mapping.
 */
static void describe(ctx *c, const yaml_node_t *n, char *buf, size_t len);

static void describe_scalar(const yaml_node_t *n, char *buf, size_t len)
{
    const char *t = node_text(n);
    int plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
                n->data.scalar.style == YAML_ANY_SCALAR_STYLE;
    size_t tl = strlen(t);
    int cut = tl > 60;
    if (plain && tl == 0) {
        snprintf(buf, len, "an empty value");
        return;
    }
    /* Plain numbers, booleans and nulls are shown as written, everything else quoted. */
    scalar_kind kind = classify(n).kind;
    int bare = plain && kind != SC_STRING;
    if (bare)
        snprintf(buf, len, "%.60s%s", t, cut ? "..." : "");
    else
        snprintf(buf, len, "\"%.60s%s\"", t, cut ? "..." : "");
}

static void describe(ctx *c, const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_SCALAR_NODE) {
        describe_scalar(n, buf, len);
        return;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        int all_scalar = count <= 6;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             all_scalar && it < n->data.sequence.items.top; it++)
            if (node_at(c, *it)->type != YAML_SCALAR_NODE)
                all_scalar = 0;
        if (!all_scalar) {
            snprintf(buf, len, "a list of %zu items", count);
            return;
        }
        size_t used = (size_t)snprintf(buf, len, "[");
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top && used < len; it++) {
            char item[80];
            describe_scalar(node_at(c, *it), item, sizeof item);
            used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                     it == n->data.sequence.items.start ? "" : ", ", item);
        }
        if (used < len)
            snprintf(buf + used, len - used, "]");
        return;
    }
    snprintf(buf, len, "a mapping");
}

/* Records "FILE:LINE:COL: KEYPATH: <message>" and returns HF_EINVAL. */
static int fail(ctx *c, const yaml_node_t *n, const char *keypath, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(ctx *c, const yaml_node_t *n, const char *keypath, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!keypath || !*keypath)
        keypath = "(top level)";
    if (n)
        return hf_error(HF_EINVAL, "%s:%d:%d: %s: %s", c->path, (int)n->start_mark.line + 1,
                        (int)n->start_mark.column + 1, keypath, msg);
    return hf_error(HF_EINVAL, "%s: %s: %s", c->path, keypath, msg);
}

/* "got VALUE, expected WHAT" about node n. */
static int fail_got(ctx *c, const yaml_node_t *n, const char *keypath, const char *expected)
{
    char got[256];
    if (!n)
        return fail(c, NULL, keypath, "got the default, expected %s", expected);
    describe(c, n, got, sizeof got);
    return fail(c, n, keypath, "got %s, expected %s", got, expected);
}

static void join_path(char *out, size_t len, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf(out, len, "%s.%s", parent, key);
    else
        snprintf(out, len, "%s", key);
}

/* "a, b or c" from a NULL-terminated list. */
static void list_names(const char *const *names, char *buf, size_t len)
{
    size_t n = 0, used = 0;
    while (names[n])
        n++;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 i == 0 ? "" : (i + 1 == n ? " or " : ", "), names[i]);
}

static scalar classify(const yaml_node_t *n)
{
    scalar s = {SC_STRING, node_text(n), 0, 0.0, 0};
    const char *t = s.text;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
        n->data.scalar.style != YAML_ANY_SCALAR_STYLE)
        return s;
    if (!*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL")) {
        s.kind = SC_NULL;
        return s;
    }
    if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "TRUE")) {
        s.kind = SC_BOOL;
        s.b = 1;
        return s;
    }
    if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "FALSE")) {
        s.kind = SC_BOOL;
        return s;
    }
    /* [-+]? digits [. digits] [e [-+] digits], or [-+]? . digits ... */
    const char *p = t;
    if (*p == '-' || *p == '+')
        p++;
    size_t int_digits = 0, frac_digits = 0, exp_digits = 0;
    int has_dot = 0, has_exp = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        int_digits++;
    }
    if (*p == '.') {
        has_dot = 1;
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            frac_digits++;
        }
    }
    if ((*p == 'e' || *p == 'E') && int_digits + frac_digits > 0) {
        has_exp = 1;
        p++;
        if (*p == '-' || *p == '+')
            p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            exp_digits++;
        }
    }
    if (*p || int_digits + frac_digits == 0 || (has_exp && exp_digits == 0))
        return s;
    if (!has_dot && !has_exp) {
        errno = 0;
        long long v = strtoll(t, NULL, 10);
        if (errno == 0) {
            s.kind = SC_INT;
            s.i = (int64_t)v;
            s.d = (double)v;
            return s;
        }
    }
    errno = 0;
    s.d = strtod(t, NULL);
    s.kind = SC_FLOAT;
    return s;
}

/* ---- mappings -------------------------------------------------------------------------------- */

/* Checks that n is a mapping whose keys are plain strings from `allowed`, without duplicates. */
static int check_mapping(ctx *c, const yaml_node_t *n, const char *keypath,
                         const char *const *allowed)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail_got(c, n, keypath, "a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key);
        char sub[PATH_LEN];
        if (k->type != YAML_SCALAR_NODE) {
            char got[256];
            describe(c, k, got, sizeof got);
            return fail(c, k, keypath && *keypath ? keypath : "(top level)",
                        "got %s as a key, expected a name", got);
        }
        join_path(sub, sizeof sub, keypath, node_text(k));
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(node_text(node_at(c, q->key)), node_text(k)))
                return fail(c, k, sub, "duplicate key, expected each key once");
        if (!allowed)
            continue;
        int found = 0;
        for (size_t i = 0; allowed[i] && !found; i++)
            found = !strcmp(allowed[i], node_text(k));
        if (found)
            continue;
        const char *s = hf_spec_suggest(node_text(k), allowed, 0);
        if (s)
            return fail(c, k, sub, "unknown key, did you mean \"%s\"?", s);
        char names[512];
        list_names(allowed, names, sizeof names);
        return fail(c, k, sub, "unknown key, expected one of %s", names);
    }
    return HF_OK;
}

static yaml_node_t *lookup(ctx *c, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node_at(c, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(node_text(k), key))
            return node_at(c, p->value);
    }
    return NULL;
}

/* A null value (`key:` or `key: ~`) counts as absent. */
static yaml_node_t *lookup_value(ctx *c, const yaml_node_t *map, const char *key)
{
    yaml_node_t *v = lookup(c, map, key);
    if (v && v->type == YAML_SCALAR_NODE && classify(v).kind == SC_NULL)
        return NULL;
    return v;
}

static int require(ctx *c, const yaml_node_t *map, const char *parent, const char *key,
                   const char *what, yaml_node_t **out)
{
    char path[PATH_LEN];
    join_path(path, sizeof path, parent, key);
    *out = lookup_value(c, map, key);
    if (*out)
        return HF_OK;
    return fail(c, map, path, "missing required key, expected %s", what);
}

/* ---- typed getters --------------------------------------------------------------------------- */

static int get_string(ctx *c, const yaml_node_t *n, const char *path, const char *what, char **out)
{
    if (n->type != YAML_SCALAR_NODE || classify(n).kind == SC_NULL || !*node_text(n))
        return fail_got(c, n, path, what);
    char *s = hf_strdup(node_text(n));
    if (!s)
        return HF_ENOMEM;
    free(*out);
    *out = s;
    return HF_OK;
}

static int get_int(ctx *c, const yaml_node_t *n, const char *path, int64_t lo, int64_t hi,
                   int64_t *out)
{
    char what[128];
    if (hi >= INT32_MAX)
        snprintf(what, sizeof what, "an integer >= %lld", (long long)lo);
    else
        snprintf(what, sizeof what, "an integer in [%lld, %lld]", (long long)lo, (long long)hi);
    if (n->type != YAML_SCALAR_NODE)
        return fail_got(c, n, path, what);
    scalar s = classify(n);
    if (s.kind == SC_FLOAT && s.d == floor(s.d) && fabs(s.d) < 9.0e15) {
        s.kind = SC_INT;
        s.i = (int64_t)s.d;
    }
    if (s.kind != SC_INT || s.i < lo || s.i > hi)
        return fail_got(c, n, path, what);
    *out = s.i;
    return HF_OK;
}

static int get_int32(ctx *c, const yaml_node_t *n, const char *path, int lo, int *out)
{
    int64_t v = 0;
    int result = get_int(c, n, path, lo, INT32_MAX, &v);
    if (result == HF_OK)
        *out = (int)v;
    return result;
}

static int get_seed(ctx *c, const yaml_node_t *n, const char *path, uint64_t *out)
{
    int64_t v = 0;
    int result = get_int(c, n, path, 0, INT64_MAX, &v);
    if (result == HF_OK)
        *out = (uint64_t)v;
    return result;
}

static int get_number(ctx *c, const yaml_node_t *n, const char *path, const char *what, double *out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail_got(c, n, path, what);
    scalar s = classify(n);
    if ((s.kind != SC_INT && s.kind != SC_FLOAT) || !isfinite(s.d))
        return fail_got(c, n, path, what);
    *out = s.d;
    return HF_OK;
}

static int get_bool(ctx *c, const yaml_node_t *n, const char *path, int *out)
{
    if (n->type != YAML_SCALAR_NODE || classify(n).kind != SC_BOOL)
        return fail_got(c, n, path, "true or false");
    *out = classify(n).b;
    return HF_OK;
}

/* Index of the scalar n in `names`; an unknown value gets the list and a suggestion. */
static int get_enum(ctx *c, const yaml_node_t *n, const char *path, const char *const *names,
                    int *out)
{
    if (n->type == YAML_SCALAR_NODE)
        for (int i = 0; names[i]; i++)
            if (!strcmp(names[i], node_text(n))) {
                *out = i;
                return HF_OK;
            }
    char expected[512];
    list_names(names, expected, sizeof expected);
    if (n->type == YAML_SCALAR_NODE) {
        const char *s = hf_spec_suggest(node_text(n), names, 0);
        if (s) {
            size_t used = strlen(expected);
            snprintf(expected + used, sizeof expected - used, " (did you mean \"%s\"?)", s);
        }
    }
    return fail_got(c, n, path, expected);
}

static int get_string_list(ctx *c, const yaml_node_t *n, const char *path, int allow_empty_items,
                           char ***out, size_t *count)
{
    int result = HF_OK;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_got(c, n, path, "a list of strings");
    size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = hf_calloc(len, sizeof *v);
    if (!v)
        return HF_ENOMEM;
    size_t i = 0;
    for (; i < len; i++) {
        yaml_node_t *it = node_at(c, n->data.sequence.items.start[i]);
        char sub[PATH_LEN];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (it->type != YAML_SCALAR_NODE ||
            (!allow_empty_items && (classify(it).kind == SC_NULL || !*node_text(it)))) {
            result = fail_got(c, it, sub, "a string");
            goto out;
        }
        v[i] = hf_strdup(node_text(it));
        if (!v[i]) {
            result = HF_ENOMEM;
            goto out;
        }
    }
out:
    if (result != HF_OK) {
        for (size_t j = 0; j < i; j++)
            free(v[j]);
        free(v);
        return result;
    }
    for (size_t j = 0; j < *count; j++)
        free((*out)[j]);
    free(*out);
    *out = v;
    *count = len;
    return HF_OK;
}

static hf_spec_loc loc_of(const yaml_node_t *n)
{
    hf_spec_loc l = {0, 0};
    if (n) {
        l.line = (int)n->start_mark.line + 1;
        l.column = (int)n->start_mark.column + 1;
    }
    return l;
}

/* ---- parameters ------------------------------------------------------------------------------ */

static int bounds_active(const hf_param_def *def)
{
    return def->min < def->max;
}

/* Whether x is within the definition's bounds. */
static int in_bounds(const hf_param_def *def, double x)
{
    if (def->min_exclusive && !(x > def->min))
        return 0;
    if (bounds_active(def) && (x < def->min || x > def->max))
        return 0;
    return 1;
}

/* What a value of `def` must be, for messages: "a number > 0", "one of a, b or c". */
static void describe_def(const hf_param_def *def, char *buf, size_t len)
{
    char lo[32], hi[32];
    hf_value vlo = {HF_VAL_NUMBER, {.num = def->min}}, vhi = {HF_VAL_NUMBER, {.num = def->max}};
    hf_value_format(&vlo, lo, sizeof lo);
    hf_value_format(&vhi, hi, sizeof hi);
    if (def->type == HF_VAL_INT && fabs(def->min) < 9e15 && fabs(def->max) < 9e15) {
        snprintf(lo, sizeof lo, "%lld", (long long)def->min);
        snprintf(hi, sizeof hi, "%lld", (long long)def->max);
    }
    const char *kind = def->type == HF_VAL_INT ? "an integer" : "a number";
    switch (def->type) {
    case HF_VAL_NUMBER:
    case HF_VAL_INT:
        if (bounds_active(def) && isinf(def->max))
            snprintf(buf, len, "%s %s %s", kind, def->min_exclusive ? ">" : ">=", lo);
        else if (bounds_active(def))
            snprintf(buf, len, "%s in %s%s, %s]", kind, def->min_exclusive ? "(" : "[", lo, hi);
        else if (def->min_exclusive)
            snprintf(buf, len, "%s > %s", kind, lo);
        else
            snprintf(buf, len, "%s", kind);
        break;
    case HF_VAL_BOOL:
        snprintf(buf, len, "true or false");
        break;
    default:
        if (def->choices) {
            char names[400];
            list_names(def->choices, names, sizeof names);
            snprintf(buf, len, "%s", names);
        } else {
            snprintf(buf, len, "a string");
        }
        break;
    }
}

/* Converts a scalar into a value of the definition's type, checking bounds and choices. */
static int scalar_value(ctx *c, const yaml_node_t *n, const char *path, const hf_param_def *def,
                        const char *expected_extra, hf_value *out)
{
    char expected[600];
    describe_def(def, expected, sizeof expected);
    if (expected_extra) {
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used, "%s", expected_extra);
    }
    if (n->type != YAML_SCALAR_NODE)
        return fail_got(c, n, path, expected);
    scalar s = classify(n);
    out->type = HF_VAL_NONE;
    switch (def->type) {
    case HF_VAL_NUMBER:
        if ((s.kind != SC_INT && s.kind != SC_FLOAT) || !isfinite(s.d) || !in_bounds(def, s.d))
            return fail_got(c, n, path, expected);
        out->type = HF_VAL_NUMBER;
        out->u.num = s.d;
        return HF_OK;
    case HF_VAL_INT:
        if (s.kind == SC_FLOAT && s.d == floor(s.d) && fabs(s.d) < 9.0e15) {
            s.kind = SC_INT;
            s.i = (int64_t)s.d;
        }
        if (s.kind != SC_INT || !in_bounds(def, (double)s.i))
            return fail_got(c, n, path, expected);
        out->type = HF_VAL_INT;
        out->u.i = s.i;
        return HF_OK;
    case HF_VAL_BOOL:
        if (s.kind != SC_BOOL)
            return fail_got(c, n, path, expected);
        out->type = HF_VAL_BOOL;
        out->u.b = s.b;
        return HF_OK;
    case HF_VAL_STRING: {
        if (s.kind == SC_NULL)
            return fail_got(c, n, path, expected);
        if (def->choices) {
            int found = 0;
            for (size_t i = 0; def->choices[i] && !found; i++)
                found = !strcmp(def->choices[i], s.text);
            if (!found) {
                const char *sug = hf_spec_suggest(s.text, def->choices, 0);
                if (sug) {
                    size_t used = strlen(expected);
                    snprintf(expected + used, sizeof expected - used, " (did you mean \"%s\"?)",
                             sug);
                }
                return fail_got(c, n, path, expected);
            }
        }
        out->u.str = hf_strdup(s.text);
        if (!out->u.str)
            return HF_ENOMEM;
        out->type = HF_VAL_STRING;
        return HF_OK;
    }
    default:
        return hf_error(HF_EINTERNAL, "%s: parameter %s has no usable type", c->path, def->name);
    }
}

/* {log_uniform: [lo, hi], grid_points: N} and friends. */
static int parse_distribution(ctx *c, const yaml_node_t *n, const char *path,
                              const hf_param_def *def, hf_param_space *ps)
{
    int result = check_mapping(c, n, path, k_dist_keys);
    if (result != HF_OK)
        return result;
    const yaml_node_t *dist = NULL;
    const char *dist_name = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = node_text(node_at(c, p->key));
        if (!strcmp(k, "grid_points"))
            continue;
        if (dist) {
            char sub[PATH_LEN];
            join_path(sub, sizeof sub, path, k);
            return fail(c, node_at(c, p->key), sub,
                        "got a second distribution, expected exactly one of log_uniform, "
                        "uniform or int_uniform");
        }
        dist = node_at(c, p->value);
        dist_name = k;
    }
    if (!dist)
        return fail_got(c, n, path,
                        "a distribution {log_uniform: [lo, hi]}, {uniform: [lo, hi]} or "
                        "{int_uniform: [lo, hi]}");
    char sub[PATH_LEN];
    join_path(sub, sizeof sub, path, dist_name);
    if (def->type != HF_VAL_NUMBER && def->type != HF_VAL_INT) {
        char expected[600];
        describe_def(def, expected, sizeof expected);
        return fail(c, n, path, "got a distribution, expected %s, or a list of them", expected);
    }
    ps->kind = !strcmp(dist_name, "log_uniform") ? HF_PARAM_LOG_UNIFORM
               : !strcmp(dist_name, "uniform")   ? HF_PARAM_UNIFORM
                                                 : HF_PARAM_INT_UNIFORM;
    if (dist->type != YAML_SEQUENCE_NODE ||
        dist->data.sequence.items.top - dist->data.sequence.items.start != 2)
        return fail_got(c, dist, sub, "a list of two numbers [lo, hi]");
    double b[2];
    for (int i = 0; i < 2; i++) {
        yaml_node_t *it = node_at(c, dist->data.sequence.items.start[i]);
        char item[PATH_LEN + 32];
        snprintf(item, sizeof item, "%s[%d]", sub, i);
        if (ps->kind == HF_PARAM_INT_UNIFORM) {
            int64_t v = 0;
            result = get_int(c, it, item, INT64_MIN / 2, INT64_MAX / 2, &v);
            b[i] = (double)v;
        } else {
            result = get_number(c, it, item, "a number", &b[i]);
        }
        if (result != HF_OK)
            return result;
    }
    if (!(b[0] < b[1]))
        return fail_got(c, dist, sub, "lo < hi");
    if (ps->kind == HF_PARAM_LOG_UNIFORM && !(b[0] > 0))
        return fail_got(c, dist, sub, "0 < lo < hi for a log-uniform distribution");
    for (int i = 0; i < 2; i++)
        if (!in_bounds(def, b[i])) {
            char expected[600], full[700];
            describe_def(def, expected, sizeof expected);
            snprintf(full, sizeof full, "bounds that are each %s", expected);
            return fail_got(c, dist, sub, full);
        }
    ps->low = b[0];
    ps->high = b[1];
    yaml_node_t *gp = lookup_value(c, n, "grid_points");
    if (gp) {
        char gpath[PATH_LEN];
        join_path(gpath, sizeof gpath, path, "grid_points");
        result = get_int32(c, gp, gpath, 2, &ps->grid_points);
        if (result != HF_OK)
            return result;
    }
    return HF_OK;
}

/* One parameter: a scalar (fixed), a list (choices) or a distribution. */
static int parse_param(ctx *c, const yaml_node_t *n, const char *path, const hf_param_def *def,
                       const char *name, hf_param_space *ps)
{
    int result = HF_OK;
    ps->name = hf_strdup(name);
    if (!ps->name)
        return HF_ENOMEM;
    ps->loc = loc_of(n);
    ps->value_type = def->type;
    if (n->type == YAML_SCALAR_NODE) {
        ps->kind = HF_PARAM_FIXED;
        const char *extra = def->type == HF_VAL_NUMBER || def->type == HF_VAL_INT
                                ? ", a list or a distribution {log_uniform: [lo, hi]}"
                                : ", or a list of them";
        return scalar_value(c, n, path, def, extra, &ps->fixed);
    }
    if (n->type == YAML_MAPPING_NODE)
        return parse_distribution(c, n, path, def, ps);
    ps->kind = HF_PARAM_CHOICE;
    size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (len == 0) {
        char expected[600];
        describe_def(def, expected, sizeof expected);
        return fail(c, n, path, "got an empty list, expected at least one value (%s)", expected);
    }
    ps->choices = hf_calloc(len, sizeof *ps->choices);
    if (!ps->choices)
        return HF_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        yaml_node_t *it = node_at(c, n->data.sequence.items.start[i]);
        char sub[PATH_LEN + 24];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        result = scalar_value(c, it, sub, def, NULL, &ps->choices[i]);
        if (result != HF_OK)
            return result;
        ps->n_choices++;
        for (size_t j = 0; j < i; j++)
            if (hf_value_equal(&ps->choices[j], &ps->choices[i]))
                return fail_got(c, it, sub, "each value once in the list");
    }
    return HF_OK;
}

static int grow_params(hf_spec *spec, hf_param_space **out)
{
    hf_param_space *p = hf_realloc(spec->params, (spec->n_params + 1) * sizeof *p);
    if (!p)
        return HF_ENOMEM;
    spec->params = p;
    *out = &p[spec->n_params];
    memset(*out, 0, sizeof **out);
    spec->n_params++;
    return HF_OK;
}

/* ---- sections -------------------------------------------------------------------------------- */

static int parse_data(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "data", k_data_keys);
    if (result != HF_OK)
        return result;
    HF_CALL(require(c, n, "data", "source", "a path, file://, s3:// or http(s):// URL", &v));
    HF_CALL(get_string(c, v, "data.source", "a path, file://, s3:// or http(s):// URL",
                       &s->data.source));
    HF_CALL(require(c, n, "data", "target", "the name of the target column", &v));
    HF_CALL(get_string(c, v, "data.target", "the name of the target column", &s->data.target));
    v = lookup_value(c, n, "task");
    if (v) {
        int idx = 0;
        HF_CALL(get_enum(c, v, "data.task", k_task_names, &idx));
        s->data.task = idx == 0 ? HF_TASK_REGRESSION : HF_TASK_CLASSIFICATION;
        snprintf(s->data.task_why, sizeof s->data.task_why, "data.task");
    }
    v = lookup_value(c, n, "delimiter");
    if (v) {
        if (v->type != YAML_SCALAR_NODE || strlen(node_text(v)) != 1 || node_text(v)[0] == '\n' ||
            node_text(v)[0] == '"')
            return fail_got(c, v, "data.delimiter",
                            "a single character such as \",\", \";\" or \"\\t\"");
        s->data.delimiter = node_text(v)[0];
    }
    v = lookup_value(c, n, "na_values");
    if (v)
        HF_CALL(
            get_string_list(c, v, "data.na_values", 1, &s->data.na_values, &s->data.n_na_values));
    v = lookup_value(c, n, "columns");
    if (v) {
        HF_CALL(check_mapping(c, v, "data.columns", NULL));
        size_t len = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
        s->data.columns = hf_calloc(len, sizeof *s->data.columns);
        if (!s->data.columns)
            return HF_ENOMEM;
        for (size_t i = 0; i < len; i++) {
            yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
            const char *col = node_text(node_at(c, p->key));
            char sub[PATH_LEN];
            join_path(sub, sizeof sub, "data.columns", col);
            int idx = 0;
            HF_CALL(get_enum(c, node_at(c, p->value), sub, k_col_type_names, &idx));
            s->data.columns[i].name = hf_strdup(col);
            if (!s->data.columns[i].name)
                return HF_ENOMEM;
            s->data.columns[i].type = (hf_col_type)idx;
            s->data.n_columns++;
        }
    }
    v = lookup_value(c, n, "drop");
    if (v) {
        HF_CALL(get_string_list(c, v, "data.drop", 0, &s->data.drop, &s->data.n_drop));
        for (size_t i = 0; i < s->data.n_drop; i++)
            if (!strcmp(s->data.drop[i], s->data.target))
                return fail(c, node_at(c, v->data.sequence.items.start[i]), "data.drop",
                            "got \"%s\", expected a column other than the target", s->data.drop[i]);
    }
    v = lookup_value(c, n, "on_bad_rows");
    if (v) {
        HF_CALL(get_enum(c, v, "data.on_bad_rows", k_bad_rows_names, &s->data.skip_bad_rows));
    }
    return HF_OK;
}

static int parse_cv(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    if (n) {
        HF_CALL(check_mapping(c, n, "cv", k_cv_keys));
        v = lookup_value(c, n, "folds");
        if (v) {
            HF_CALL(get_int32(c, v, "cv.folds", 2, &s->cv.folds));
            s->cv.folds_loc = loc_of(v);
        }
        v = lookup_value(c, n, "strategy");
        if (v) {
            int idx = 0;
            HF_CALL(get_enum(c, v, "cv.strategy", k_cv_names, &idx));
            s->cv.strategy = (hf_cv_strategy)idx;
            s->cv.strategy_given = 1;
            s->cv.strategy_loc = loc_of(v);
        }
        v = lookup_value(c, n, "fold_column");
        if (v)
            HF_CALL(get_string(c, v, "cv.fold_column", "a column name", &s->cv.fold_column));
        v = lookup_value(c, n, "group_column");
        if (v)
            HF_CALL(get_string(c, v, "cv.group_column", "a column name", &s->cv.group_column));
        v = lookup_value(c, n, "order_column");
        if (v)
            HF_CALL(get_string(c, v, "cv.order_column", "a column name", &s->cv.order_column));
        v = lookup_value(c, n, "seed");
        if (v)
            HF_CALL(get_seed(c, v, "cv.seed", &s->cv.seed));
        v = lookup_value(c, n, "repeats");
        if (v)
            HF_CALL(get_int32(c, v, "cv.repeats", 1, &s->cv.repeats));
        v = lookup_value(c, n, "holdout");
        if (v) {
            HF_CALL(get_number(c, v, "cv.holdout", "a fraction 0 <= x < 1", &s->cv.holdout));
            if (s->cv.holdout < 0 || s->cv.holdout >= 1)
                return fail_got(c, v, "cv.holdout", "a fraction 0 <= x < 1");
        }
    }
    if (!s->cv.strategy_given)
        s->cv.strategy = s->data.task == HF_TASK_CLASSIFICATION ? HF_CV_STRATIFIED : HF_CV_KFOLD;
    const yaml_node_t *sv = n ? lookup_value(c, n, "strategy") : NULL;
    if (s->cv.strategy == HF_CV_STRATIFIED && s->data.task == HF_TASK_REGRESSION)
        return fail_got(c, sv, "cv.strategy",
                        "kfold, group or timeseries with data.task regression (stratified folds "
                        "need classes)");
    struct {
        hf_cv_strategy strategy;
        const char *key;
        char *value;
    } needs[] = {{HF_CV_PREDEFINED, "fold_column", s->cv.fold_column},
                 {HF_CV_GROUP, "group_column", s->cv.group_column},
                 {HF_CV_TIMESERIES, "order_column", s->cv.order_column}};
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
        char path[64];
        join_path(path, sizeof path, "cv", needs[i].key);
        if (s->cv.strategy == needs[i].strategy && !needs[i].value)
            return fail(c, n, path,
                        "missing required key, expected a column name with "
                        "cv.strategy %s",
                        k_cv_names[needs[i].strategy]);
        if (needs[i].value && !strcmp(needs[i].value, s->data.target))
            return fail(c, lookup(c, n, needs[i].key), path,
                        "got \"%s\", expected a column other than the target", needs[i].value);
    }
    return HF_OK;
}

static int parse_model(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "model", k_model_keys);
    if (result != HF_OK)
        return result;
    HF_CALL(require(c, n, "model", "type", "a registered model name", &v));
    const hf_model_ops *const *all = hf_model_all();
    const char *names[64];
    size_t n_names = 0;
    for (size_t i = 0; all && all[i] && n_names + 1 < sizeof names / sizeof names[0]; i++)
        names[n_names++] = all[i]->name;
    names[n_names] = NULL;
    const hf_model_ops *ops = v->type == YAML_SCALAR_NODE ? hf_model_find(node_text(v)) : NULL;
    if (!ops) {
        int idx = 0;
        result = get_enum(c, v, "model.type", names, &idx);
        return result != HF_OK ? result : hf_error(HF_EINTERNAL, "model registry inconsistent");
    }
    HF_CALL(get_string(c, v, "model.type", "a registered model name", &s->model_type));
    s->model_type_loc = loc_of(v);
    yaml_node_t *params = lookup_value(c, n, "params");
    if (params) {
        HF_CALL(check_mapping(c, params, "model.params", NULL));
        for (yaml_node_pair_t *p = params->data.mapping.pairs.start;
             p < params->data.mapping.pairs.top; p++) {
            yaml_node_t *k = node_at(c, p->key);
            char path[PATH_LEN];
            join_path(path, sizeof path, "model.params", node_text(k));
            long idx = hf_model_param_index(ops, node_text(k));
            if (idx < 0) {
                const char *pn[128];
                size_t m = 0;
                for (; m < ops->n_params && m + 1 < sizeof pn / sizeof pn[0]; m++)
                    pn[m] = ops->params[m].name;
                pn[m] = NULL;
                const char *sug = hf_spec_suggest(node_text(k), pn, 0);
                if (sug)
                    return fail(c, k, path, "unknown parameter of model %s, did you mean \"%s\"?",
                                ops->name, sug);
                char list[600];
                list_names(pn, list, sizeof list);
                return fail(c, k, path, "unknown parameter of model %s, expected one of %s",
                            ops->name, list);
            }
            hf_param_space *ps = NULL;
            HF_CALL(grow_params(s, &ps));
            HF_CALL(parse_param(c, node_at(c, p->value), path, &ops->params[idx],
                                ops->params[idx].name, ps));
        }
    }
    /* Every trial carries every model parameter: omitted ones are fixed at their defaults. */
    for (size_t i = 0; i < ops->n_params; i++) {
        if (hf_spec_param_index(s, ops->params[i].name) >= 0)
            continue;
        hf_param_space *ps = NULL;
        HF_CALL(grow_params(s, &ps));
        ps->name = hf_strdup(ops->params[i].name);
        if (!ps->name)
            return HF_ENOMEM;
        ps->kind = HF_PARAM_FIXED;
        ps->value_type = ops->params[i].type;
        result = hf_model_param_default(&ops->params[i], &ps->fixed);
        if (result != HF_OK)
            return hf_error_prefix(result, "%s: default of model.params.%s", c->path,
                                   ops->params[i].name);
    }
    return HF_OK;
}

static int add_preprocess(ctx *c, const yaml_node_t *map, const char *key, const char *path,
                          const hf_param_def *def)
{
    yaml_node_t *v = lookup_value(c, map, key);
    hf_param_space *ps = NULL;
    if (!v)
        return HF_OK;
    int result = grow_params(c->spec, &ps);
    if (result != HF_OK)
        return result;
    return parse_param(c, v, path, def, def->name, ps);
}

/* impute.fill_value is a number (for numeric columns) or a text (for categorical ones), typed by
 * how it is written (the first item of a list). */
static const hf_param_def *fill_def(ctx *c, const yaml_node_t *v)
{
    if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.top > v->data.sequence.items.start)
        v = node_at(c, v->data.sequence.items.start[0]);
    if (v->type == YAML_SCALAR_NODE && (classify(v).kind == SC_INT || classify(v).kind == SC_FLOAT))
        return &k_pp_fill_number;
    return &k_pp_fill_text;
}

static int parse_preprocess(ctx *c, const yaml_node_t *n)
{
    int result = check_mapping(c, n, "preprocess", k_preprocess_keys);
    if (result != HF_OK)
        return result;
    /* Spec order: walk the keys as written. */
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = node_text(node_at(c, p->key));
        yaml_node_t *v = node_at(c, p->value);
        if (!strcmp(k, "impute")) {
            if (v->type == YAML_SCALAR_NODE && classify(v).kind == SC_NULL)
                continue;
            HF_CALL(check_mapping(c, v, "preprocess.impute", k_impute_keys));
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top;
                 q++) {
                const char *ik = node_text(node_at(c, q->key));
                const hf_param_def *def = !strcmp(ik, "numeric")       ? &k_pp_impute_numeric
                                          : !strcmp(ik, "categorical") ? &k_pp_impute_categorical
                                          : !strcmp(ik, "indicator")
                                              ? &k_pp_impute_indicator
                                              : fill_def(c, node_at(c, q->value));
                HF_CALL(add_preprocess(c, v, ik, def->name, def));
            }
        } else if (!strcmp(k, "pca")) {
            /* pca: {n_components: k}; null or an empty mapping means no PCA. */
            if (v->type == YAML_SCALAR_NODE && classify(v).kind == SC_NULL)
                continue;
            HF_CALL(check_mapping(c, v, "preprocess.pca", k_pca_keys));
            HF_CALL(add_preprocess(c, v, "n_components", k_pp_pca_n_components.name,
                                   &k_pp_pca_n_components));
        } else {
            const hf_param_def *def = !strcmp(k, "scale")         ? &k_pp_scale
                                      : !strcmp(k, "categorical") ? &k_pp_categorical
                                                                  : &k_pp_min_frequency;
            HF_CALL(add_preprocess(c, n, k, def->name, def));
        }
    }
    return HF_OK;
}

static int parse_search(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "search", k_search_keys);
    if (result != HF_OK)
        return result;
    v = lookup_value(c, n, "strategy");
    if (v) {
        int idx = 0;
        HF_CALL(get_enum(c, v, "search.strategy", k_search_names, &idx));
        s->search.strategy = (hf_search_strategy)idx;
    }
    v = lookup_value(c, n, "trials");
    if (v) {
        HF_CALL(get_int32(c, v, "search.trials", INT32_MIN, &s->search.trials));
        if (s->search.trials < 1 && s->search.strategy != HF_SEARCH_RANDOM)
            return fail_got(c, v, "search.trials", "an integer >= 1");
        if (s->search.trials < 1)
            return fail_got(c, v, "search.trials", "an integer >= 1 with search.strategy random");
    }
    v = lookup_value(c, n, "seed");
    if (v)
        HF_CALL(get_seed(c, v, "search.seed", &s->search.seed));
    v = lookup_value(c, n, "error_score");
    if (v) {
        if (v->type == YAML_SCALAR_NODE && !strcmp(node_text(v), "worst"))
            return HF_OK;
        HF_CALL(
            get_number(c, v, "search.error_score", "worst or a number", &s->search.error_score));
        s->search.error_score_given = 1;
    }
    return HF_OK;
}

static const metric_name *find_metric(const char *name)
{
    for (size_t i = 0; i < sizeof k_metrics / sizeof k_metrics[0]; i++)
        if (!strcmp(k_metrics[i].name, name))
            return &k_metrics[i];
    return NULL;
}

static const char *task_name(hf_task_kind t)
{
    return t == HF_TASK_REGRESSION       ? "regression"
           : t == HF_TASK_CLASSIFICATION ? "classification"
                                         : "auto";
}

/* Validates one metric name node against the table and the task (when known). */
static int check_metric(ctx *c, const yaml_node_t *v, const char *path, hf_task_kind task)
{
    int idx = 0;
    int result = get_enum(c, v, path, k_metric_names, &idx);
    if (result != HF_OK)
        return result;
    if (task != HF_TASK_AUTO && k_metrics[idx].task != task)
        return fail_got(c, v, path,
                        task == HF_TASK_REGRESSION
                            ? "a regression metric (r2, rmse or mae) with data.task regression"
                            : "a classification metric (accuracy, roc_auc, log_loss or f1) with "
                              "data.task classification");
    return HF_OK;
}

static int parse_objective(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "objective", k_objective_keys);
    if (result != HF_OK)
        return result;
    hf_task_kind task = s->data.task;
    v = lookup_value(c, n, "metric");
    if (v) {
        HF_CALL(check_metric(c, v, "objective.metric", task));
        HF_CALL(get_string(c, v, "objective.metric", "a metric", &s->objective.metric));
        s->objective.metric_loc = loc_of(v);
        task = find_metric(s->objective.metric)->task;
    }
    v = lookup_value(c, n, "report");
    if (v) {
        HF_CALL(get_string_list(c, v, "objective.report", 0, &s->objective.report,
                                &s->objective.n_report));
        for (size_t i = 0; i < s->objective.n_report; i++) {
            char sub[64];
            snprintf(sub, sizeof sub, "objective.report[%zu]", i);
            yaml_node_t *it = node_at(c, v->data.sequence.items.start[i]);
            HF_CALL(check_metric(c, it, sub, task));
            task = find_metric(s->objective.report[i])->task;
        }
    }
    return HF_OK;
}

static int parse_output(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "output", k_output_keys);
    if (result != HF_OK)
        return result;
    v = lookup_value(c, n, "dir");
    if (v)
        HF_CALL(get_string(c, v, "output.dir", "a directory", &s->output.dir));
    v = lookup_value(c, n, "upload");
    if (v) {
        if (v->type != YAML_SCALAR_NODE || strncmp(node_text(v), "s3://", 5) != 0 ||
            strlen(node_text(v)) <= 5)
            return fail_got(c, v, "output.upload", "an s3://bucket/prefix/ URL");
        HF_CALL(get_string(c, v, "output.upload", "an s3:// URL", &s->output.upload));
    }
    v = lookup_value(c, n, "sse");
    if (v) {
        int idx = 0;
        HF_CALL(get_enum(c, v, "output.sse", k_sse_names, &idx));
        HF_CALL(get_string(c, v, "output.sse", "AES256 or aws:kms", &s->output.sse));
    }
    v = lookup_value(c, n, "kms_key_id");
    if (v) {
        if (!s->output.sse || strcmp(s->output.sse, "aws:kms") != 0)
            return fail(c, v, "output.kms_key_id",
                        "got a key id, expected it only with output.sse aws:kms");
        HF_CALL(
            get_string(c, v, "output.kms_key_id", "a KMS key id or ARN", &s->output.kms_key_id));
    }
    if ((s->output.sse || s->output.kms_key_id) && !s->output.upload)
        return fail(c, n, "output.sse",
                    "got server-side encryption without output.upload, "
                    "expected output.upload: s3://bucket/prefix/");
    return HF_OK;
}

static int parse_s3(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "s3", k_s3_keys);
    if (result != HF_OK)
        return result;
    v = lookup_value(c, n, "endpoint");
    if (v) {
        if (v->type != YAML_SCALAR_NODE ||
            (strncmp(node_text(v), "http://", 7) != 0 && strncmp(node_text(v), "https://", 8) != 0))
            return fail_got(c, v, "s3.endpoint", "an http:// or https:// URL");
        HF_CALL(get_string(c, v, "s3.endpoint", "a URL", &s->s3.endpoint));
    }
    v = lookup_value(c, n, "region");
    if (v)
        HF_CALL(get_string(c, v, "s3.region", "a region name", &s->s3.region));
    v = lookup_value(c, n, "path_style");
    if (v)
        HF_CALL(get_bool(c, v, "s3.path_style", &s->s3.path_style));
    return HF_OK;
}

/* "2GiB", "512MiB", "1G", "1000000": bytes. */
static int parse_size(const char *t, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"k", 1ull << 10},
                 {"kib", 1ull << 10},
                 {"kb", 1000ull},
                 {"m", 1ull << 20},
                 {"mib", 1ull << 20},
                 {"mb", 1000000ull},
                 {"g", 1ull << 30},
                 {"gib", 1ull << 30},
                 {"gb", 1000000000ull},
                 {"t", 1ull << 40},
                 {"tib", 1ull << 40},
                 {"tb", 1000000000000ull}};
    char *end = NULL;
    if (!isdigit((unsigned char)t[0]))
        return -1;
    errno = 0;
    double v = strtod(t, &end);
    if (errno || !(v > 0))
        return -1;
    while (*end == ' ')
        end++;
    char suf[8];
    size_t i = 0;
    for (; end[i] && i + 1 < sizeof suf; i++)
        suf[i] = (char)tolower((unsigned char)end[i]);
    suf[i] = '\0';
    if (end[i])
        return -1;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (!strcmp(units[u].suffix, suf)) {
            double bytes = v * (double)units[u].mult;
            if (bytes >= 1.8e19)
                return -1;
            *out = (uint64_t)bytes;
            return 0;
        }
    return -1;
}

static int parse_parallel(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "parallel", k_parallel_keys);
    if (result != HF_OK)
        return result;
    v = lookup_value(c, n, "ranks_per_task");
    if (v)
        HF_CALL(get_int32(c, v, "parallel.ranks_per_task", 1, &s->parallel.ranks_per_task));
    v = lookup_value(c, n, "grid");
    if (v && !(v->type == YAML_SCALAR_NODE && !strcmp(node_text(v), "auto"))) {
        const char *t = v->type == YAML_SCALAR_NODE ? node_text(v) : "";
        char *end = NULL;
        long r = isdigit((unsigned char)t[0]) ? strtol(t, &end, 10) : 0;
        long cc = 0;
        if (r > 0 && end && (*end == 'x' || *end == 'X') && isdigit((unsigned char)end[1]))
            cc = strtol(end + 1, &end, 10);
        if (r < 1 || cc < 1 || *end || r > 65536 || cc > 65536)
            return fail_got(c, v, "parallel.grid", "auto or \"RxC\" such as \"2x2\"");
        s->parallel.grid_rows = (int)r;
        s->parallel.grid_cols = (int)cc;
    }
    v = lookup_value(c, n, "block_size");
    if (v)
        HF_CALL(get_int32(c, v, "parallel.block_size", 1, &s->parallel.block_size));
    v = lookup_value(c, n, "memory_per_rank");
    if (v) {
        if (v->type != YAML_SCALAR_NODE || parse_size(node_text(v), &s->parallel.memory_per_rank))
            return fail_got(c, v, "parallel.memory_per_rank",
                            "a size such as 2GiB, 512MiB or a number of bytes");
    }
    return HF_OK;
}

static int parse_slurm(ctx *c, const yaml_node_t *n)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, n, "slurm", k_slurm_keys);
    if (result != HF_OK)
        return result;
    v = lookup_value(c, n, "partition");
    if (v)
        HF_CALL(get_string(c, v, "slurm.partition", "a partition name", &s->slurm.partition));
    v = lookup_value(c, n, "account");
    if (v)
        HF_CALL(get_string(c, v, "slurm.account", "an account name", &s->slurm.account));
    v = lookup_value(c, n, "time");
    if (v) {
        const char *t = v->type == YAML_SCALAR_NODE ? node_text(v) : "";
        int ok = *t != '\0';
        for (const char *p = t; *p && ok; p++)
            ok = isdigit((unsigned char)*p) || *p == ':' || *p == '-';
        if (!ok)
            return fail_got(c, v, "slurm.time", "a Slurm time limit such as \"01:00:00\"");
        HF_CALL(get_string(c, v, "slurm.time", "a time limit", &s->slurm.time));
    }
    v = lookup_value(c, n, "nodes");
    if (v)
        HF_CALL(get_int32(c, v, "slurm.nodes", 1, &s->slurm.nodes));
    v = lookup_value(c, n, "ntasks_per_node");
    if (v)
        HF_CALL(get_int32(c, v, "slurm.ntasks_per_node", 1, &s->slurm.ntasks_per_node));
    return HF_OK;
}

/* Checks that need the whole spec: grid search needs a finite set of values per axis. */
static int check_search_space(ctx *c)
{
    hf_spec *s = c->spec;
    if (s->search.strategy != HF_SEARCH_GRID)
        return HF_OK;
    for (size_t i = 0; i < s->n_params; i++) {
        hf_param_space *p = &s->params[i];
        char path[PATH_LEN];
        if (p->name && strncmp(p->name, "preprocess.", 11) == 0)
            snprintf(path, sizeof path, "%s", p->name);
        else
            snprintf(path, sizeof path, "model.params.%s", p->name);
        yaml_node_t fake;
        memset(&fake, 0, sizeof fake);
        fake.start_mark.line = (size_t)(p->loc.line > 0 ? p->loc.line - 1 : 0);
        fake.start_mark.column = (size_t)(p->loc.column > 0 ? p->loc.column - 1 : 0);
        const char *dist = p->kind == HF_PARAM_LOG_UNIFORM ? "log_uniform"
                           : p->kind == HF_PARAM_UNIFORM   ? "uniform"
                                                           : "int_uniform";
        if ((p->kind == HF_PARAM_UNIFORM || p->kind == HF_PARAM_LOG_UNIFORM) && !p->grid_points)
            return fail(c, &fake, path,
                        "got {%s: [%g, %g]} with search.strategy grid, expected grid_points: N "
                        "in the mapping (or search.strategy random)",
                        dist, p->low, p->high);
        if (p->kind == HF_PARAM_INT_UNIFORM && !p->grid_points &&
            p->high - p->low + 1 > MAX_GRID_INT_VALUES)
            return fail(c, &fake, path,
                        "got {int_uniform: [%.0f, %.0f]} with search.strategy grid, expected at "
                        "most %d values or grid_points: N",
                        p->low, p->high, MAX_GRID_INT_VALUES);
    }
    return HF_OK;
}

static int check_name(ctx *c, const yaml_node_t *v)
{
    int result =
        get_string(c, v, "name", "a job name of letters, digits, '.', '_' or '-'", &c->spec->name);
    if (result != HF_OK)
        return result;
    for (const char *p = c->spec->name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return fail_got(c, v, "name", "a job name of letters, digits, '.', '_' or '-'");
    return HF_OK;
}

static int set_defaults(hf_spec *s)
{
    s->cv.folds = 5;
    s->cv.repeats = 1;
    s->search.trials = 10;
    s->search.error_score = NAN;
    s->s3.path_style = -1;
    s->parallel.ranks_per_task = 1;
    s->output.dir = hf_strdup("runs");
    if (!s->output.dir)
        return HF_ENOMEM;
    s->data.na_values = hf_calloc(sizeof k_default_na / sizeof k_default_na[0], sizeof(char *));
    if (!s->data.na_values)
        return HF_ENOMEM;
    for (size_t i = 0; i < sizeof k_default_na / sizeof k_default_na[0]; i++) {
        s->data.na_values[i] = hf_strdup(k_default_na[i]);
        if (!s->data.na_values[i])
            return HF_ENOMEM;
        s->data.n_na_values++;
    }
    return HF_OK;
}

/* "ridge, kernel_ridge": the registered models that support `task`, into buf. */
static const char *models_for(hf_task_kind task, char *buf, size_t len)
{
    const hf_model_ops *const *all = hf_model_all();
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; all && all[i]; i++)
        if (all[i]->tasks & (1u << task))
            o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? ", " : "",
                                  all[i]->name);
    return buf;
}

/* HF_EINVAL with "FILE:LINE:COL: key: message" (FILE: key: message for a default). */
static int fail_loc(ctx *c, hf_spec_loc loc, const char *keypath, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_loc(ctx *c, hf_spec_loc loc, const char *keypath, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (loc.line > 0)
        return hf_error(HF_EINVAL, "%s:%d:%d: %s: %s", c->path, loc.line, loc.column, keypath, msg);
    return hf_error(HF_EINVAL, "%s: %s: %s", c->path, keypath, msg);
}

/* The task rule (docs/job-spec.md, "data.task"): data.task when given; otherwise the model's task
 * when the model supports one task only (ridge: regression, logistic_regression:
 * classification); otherwise the objective's metric's task; otherwise the target decides at
 * ingest (not a number: classification). So a 0/1 or 0..9 target is classification with a
 * classifier or a classification metric, and regression with a regressor. A model that does
 * not support the task, or a metric of the other task, is refused here, naming the models that
 * would do. */
static int infer_task(ctx *c)
{
    hf_spec *s = c->spec;
    const hf_model_ops *ops = hf_model_find(s->model_type);
    char list[256];
    if (!ops)
        return hf_error(HF_EINTERNAL, "infer_task: unknown model %s", s->model_type);
    const unsigned reg = 1u << HF_TASK_REGRESSION, cls = 1u << HF_TASK_CLASSIFICATION;
    const metric_name *m = s->objective.metric ? find_metric(s->objective.metric) : NULL;
    if (s->data.task != HF_TASK_AUTO) {
        if (!(ops->tasks & (1u << s->data.task)))
            return fail_loc(c, s->model_type_loc, "model.type",
                            "got \"%s\", which does not support %s (data.task %s), expected "
                            "one of %s",
                            ops->name, task_name(s->data.task), task_name(s->data.task),
                            models_for(s->data.task, list, sizeof list));
        return HF_OK;
    }
    if (m && !(ops->tasks & (1u << m->task)))
        return fail_loc(
            c, s->objective.metric_loc, "objective.metric",
            "got \"%s\", a %s metric, but model %s supports only %s: use a %s "
            "metric, or a %s model (%s)",
            m->name, task_name(m->task), ops->name,
            task_name(m->task == HF_TASK_REGRESSION ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION),
            task_name(m->task == HF_TASK_REGRESSION ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION),
            task_name(m->task), models_for(m->task, list, sizeof list));
    if ((ops->tasks & (reg | cls)) == reg || (ops->tasks & (reg | cls)) == cls) {
        s->data.task = (ops->tasks & reg) ? HF_TASK_REGRESSION : HF_TASK_CLASSIFICATION;
        snprintf(s->data.task_why, sizeof s->data.task_why, "model.type %s", ops->name);
    } else if (m) {
        s->data.task = m->task;
        snprintf(s->data.task_why, sizeof s->data.task_why, "objective.metric %s", m->name);
    }
    if (!s->cv.strategy_given)
        s->cv.strategy = s->data.task == HF_TASK_CLASSIFICATION ? HF_CV_STRATIFIED : HF_CV_KFOLD;
    if (s->cv.strategy == HF_CV_STRATIFIED && s->data.task == HF_TASK_REGRESSION)
        return fail_loc(c, s->cv.strategy_loc, "cv.strategy",
                        "got \"stratified\", expected kfold, group or timeseries: data.task is "
                        "regression, implied by %s (stratified folds need classes)",
                        s->data.task_why);
    return HF_OK;
}

const char *hf_spec_task_hint(const hf_spec *spec)
{
    static _Thread_local char buf[512];
    char list[256];
    hf_task_kind t = spec->data.task, other;
    if (t == HF_TASK_AUTO) {
        snprintf(buf, sizeof buf, "set data.task: regression or classification");
        return buf;
    }
    other = t == HF_TASK_REGRESSION ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION;
    const char *why = spec->data.task_why[0] ? spec->data.task_why : "data.task";
    if (!strcmp(why, "data.task"))
        snprintf(buf, sizeof buf,
                 "data.task is %s: for a %s target set data.task: %s and a %s model (%s)",
                 task_name(t), other == HF_TASK_REGRESSION ? "continuous" : "class",
                 task_name(other), task_name(other), models_for(other, list, sizeof list));
    else
        snprintf(buf, sizeof buf,
                 "data.task is %s, implied by %s: for a %s target use a %s model (%s)%s",
                 task_name(t), why, other == HF_TASK_REGRESSION ? "continuous" : "class",
                 task_name(other), models_for(other, list, sizeof list),
                 strncmp(why, "objective", 9) == 0 ? " or metric" : "");
    return buf;
}

static int parse_root(ctx *c, yaml_node_t *root)
{
    hf_spec *s = c->spec;
    yaml_node_t *v = NULL;
    int result = check_mapping(c, root, "", k_top_keys);
    if (result != HF_OK)
        return result;
    HF_CALL(require(c, root, "", "name", "a job name", &v));
    HF_CALL(check_name(c, v));
    HF_CALL(require(c, root, "", "data", "a mapping with source and target", &v));
    HF_CALL(parse_data(c, v));
    v = lookup_value(c, root, "shards");
    if (v) {
        HF_CALL(check_mapping(c, v, "shards", k_shards_keys));
        yaml_node_t *cnt = lookup_value(c, v, "count");
        if (cnt)
            HF_CALL(get_int32(c, cnt, "shards.count", 1, &s->shards.count));
    }
    HF_CALL(parse_cv(c, lookup_value(c, root, "cv")));
    HF_CALL(require(c, root, "", "model", "a mapping with type and params", &v));
    HF_CALL(parse_model(c, v));
    v = lookup_value(c, root, "preprocess");
    if (v)
        HF_CALL(parse_preprocess(c, v));
    v = lookup_value(c, root, "search");
    if (v)
        HF_CALL(parse_search(c, v));
    v = lookup_value(c, root, "objective");
    if (v)
        HF_CALL(parse_objective(c, v));
    HF_CALL(infer_task(c));
    if (!s->objective.metric && s->data.task != HF_TASK_AUTO) {
        s->objective.metric = hf_strdup(s->data.task == HF_TASK_REGRESSION ? "r2" : "accuracy");
        if (!s->objective.metric)
            return HF_ENOMEM;
    }
    v = lookup_value(c, root, "output");
    if (v)
        HF_CALL(parse_output(c, v));
    v = lookup_value(c, root, "s3");
    if (v)
        HF_CALL(parse_s3(c, v));
    v = lookup_value(c, root, "parallel");
    if (v)
        HF_CALL(parse_parallel(c, v));
    v = lookup_value(c, root, "slurm");
    if (v)
        HF_CALL(parse_slurm(c, v));
    return check_search_space(c);
}

/* ---- public API ------------------------------------------------------------------------------ */

/* Parses and validates a spec held in memory; `path` names it in messages. *out is owned by the
 * caller (hf_spec_free); NULL on error with a one-line FILE:LINE:COL message. Not collective. */
int hf_spec_parse(const char *path, const char *text, size_t len, hf_spec **out)
{
    int result = HF_OK;
    yaml_parser_t parser;
    yaml_document_t doc;
    int parser_ok = 0, doc_ok = 0;
    hf_spec *spec = NULL;
    ctx c = {path, &doc, NULL};

    *out = NULL;
    spec = hf_calloc(1, sizeof *spec);
    if (!spec) {
        result = HF_ENOMEM;
        goto out;
    }
    c.spec = spec;
    spec->path = hf_strdup(path);
    spec->text = hf_strndup(text, len);
    if (!spec->path || !spec->text) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_sha256_hex(text, len, spec->sha256);
    if (result == HF_OK)
        result = set_defaults(spec);
    if (result != HF_OK)
        goto out;
    if (!yaml_parser_initialize(&parser)) {
        result = hf_error(HF_ENOMEM, "%s: cannot initialise the YAML parser", path);
        goto out;
    }
    parser_ok = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        const char *ctxt = parser.context ? parser.context : NULL;
        if (ctxt)
            result = hf_error(
                HF_EINVAL, "%s:%d:%d: YAML syntax error: %s %s started at line %d, column %d", path,
                (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "invalid YAML", ctxt,
                (int)parser.context_mark.line + 1, (int)parser.context_mark.column + 1);
        else
            result =
                hf_error(HF_EINVAL, "%s:%d:%d: YAML syntax error: %s", path,
                         (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                         parser.problem ? parser.problem : "invalid YAML");
        goto out;
    }
    doc_ok = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        result = hf_error(HF_EINVAL,
                          "%s:1:1: (top level): got an empty document, expected a "
                          "mapping with name, data and model",
                          path);
        goto out;
    }
    result = parse_root(&c, root);
out:
    if (doc_ok)
        yaml_document_delete(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (result != HF_OK) {
        hf_spec_free(spec);
        return result;
    }
    *out = spec;
    return HF_OK;
}

/* Reads `path` and parses it with hf_spec_parse. *out is owned by the caller. Not collective. */
int hf_spec_load(const char *path, hf_spec **out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int result = hf_read_file(path, &text, &len);
    if (result != HF_OK)
        return hf_error_prefix(result, "reading job spec %s", path);
    result = hf_spec_parse(path, text, len, out);
    free(text);
    return result;
}

/* Frees a spec and everything it owns (NULL is fine). Not collective. */
void hf_spec_free(hf_spec *spec)
{
    if (!spec)
        return;
    free(spec->path);
    free(spec->text);
    free(spec->name);
    free(spec->data.source);
    free(spec->data.target);
    hf_strv_free(spec->data.na_values, spec->data.n_na_values);
    for (size_t i = 0; i < spec->data.n_columns; i++)
        free(spec->data.columns[i].name);
    free(spec->data.columns);
    hf_strv_free(spec->data.drop, spec->data.n_drop);
    free(spec->cv.fold_column);
    free(spec->cv.group_column);
    free(spec->cv.order_column);
    free(spec->model_type);
    for (size_t i = 0; i < spec->n_params; i++) {
        hf_param_space *p = &spec->params[i];
        free(p->name);
        hf_value_free(&p->fixed);
        for (size_t j = 0; j < p->n_choices; j++)
            hf_value_free(&p->choices[j]);
        free(p->choices);
    }
    free(spec->params);
    free(spec->objective.metric);
    hf_strv_free(spec->objective.report, spec->objective.n_report);
    free(spec->output.dir);
    free(spec->output.upload);
    free(spec->output.sse);
    free(spec->output.kms_key_id);
    free(spec->s3.endpoint);
    free(spec->s3.region);
    free(spec->slurm.partition);
    free(spec->slurm.account);
    free(spec->slurm.time);
    free(spec);
}

/* Position of parameter `name` in spec->params, or -1. Not collective. */
long hf_spec_param_index(const hf_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_params; i++)
        if (spec->params[i].name && !strcmp(spec->params[i].name, name))
            return (long)i;
    return -1;
}

/* "FILE:LINE:COL: " or "FILE: " when the setting was a default. */
static void where(const hf_spec *spec, hf_spec_loc loc, char *buf, size_t len)
{
    if (loc.line > 0)
        snprintf(buf, len, "%s:%d:%d", spec->path, loc.line, loc.column);
    else
        snprintf(buf, len, "%s", spec->path);
}

/* Fills the task-dependent defaults once the task is known (data.task, cv.strategy,
 * objective.metric) and refuses settings that do not fit it. Not collective. */
int hf_spec_resolve_task(hf_spec *spec, hf_task_kind task)
{
    char at[PATH_LEN];
    if (task != HF_TASK_REGRESSION && task != HF_TASK_CLASSIFICATION)
        return hf_error(HF_EINTERNAL, "hf_spec_resolve_task: task must be regression or "
                                      "classification");
    if (spec->data.task != HF_TASK_AUTO && spec->data.task != task)
        return hf_error(HF_EINVAL, "%s: data.task: got %s, but the data was ingested as %s",
                        spec->path, task_name(spec->data.task), task_name(task));
    const hf_model_ops *ops = spec->model_type ? hf_model_find(spec->model_type) : NULL;
    if (ops && !(ops->tasks & (1u << task))) {
        char list[256];
        where(spec, spec->model_type_loc, at, sizeof at);
        return hf_error(HF_EINVAL,
                        "%s: model.type: got \"%s\", which does not support %s (the target \"%s\" "
                        "is not numeric), expected one of %s",
                        at, ops->name, task_name(task), spec->data.target,
                        models_for(task, list, sizeof list));
    }
    if (spec->cv.strategy_given && spec->cv.strategy == HF_CV_STRATIFIED &&
        task == HF_TASK_REGRESSION) {
        where(spec, spec->cv.strategy_loc, at, sizeof at);
        return hf_error(
            HF_EINVAL,
            "%s: cv.strategy: got \"stratified\", expected kfold, group or timeseries for "
            "the regression target \"%s\" (stratified folds need classes)",
            at, spec->data.target);
    }
    if (spec->objective.metric) {
        const metric_name *m = find_metric(spec->objective.metric);
        if (m && m->task != task) {
            where(spec, spec->objective.metric_loc, at, sizeof at);
            return hf_error(
                HF_EINVAL,
                "%s: objective.metric: got \"%s\", expected a %s metric for the %s target "
                "\"%s\"",
                at, spec->objective.metric, task_name(task), task_name(task), spec->data.target);
        }
    }
    for (size_t i = 0; i < spec->objective.n_report; i++) {
        const metric_name *m = find_metric(spec->objective.report[i]);
        if (m && m->task != task)
            return hf_error(HF_EINVAL,
                            "%s: objective.report: got \"%s\", expected a %s metric for the %s "
                            "target \"%s\"",
                            spec->path, spec->objective.report[i], task_name(task), task_name(task),
                            spec->data.target);
    }
    spec->data.task = task;
    if (!spec->cv.strategy_given)
        spec->cv.strategy = task == HF_TASK_CLASSIFICATION ? HF_CV_STRATIFIED : HF_CV_KFOLD;
    if (!spec->objective.metric) {
        spec->objective.metric = hf_strdup(task == HF_TASK_REGRESSION ? "r2" : "accuracy");
        if (!spec->objective.metric)
            return HF_ENOMEM;
    }
    return HF_OK;
}

/* Checks the spec against the ingested schema and targets (class counts per fold, metric and cv
 * strategy against the task). Borrows everything; HF_EINVAL with a message. Not collective. */
int hf_spec_check_data(const hf_spec *spec, const hf_schema *schema, const double *y, size_t n_rows)
{
    int result = HF_OK;
    size_t *counts = NULL;
    char at[PATH_LEN];
    hf_task_kind task = schema->task;
    hf_cv_strategy strategy = spec->cv.strategy;
    if (!spec->cv.strategy_given)
        strategy = task == HF_TASK_CLASSIFICATION ? HF_CV_STRATIFIED : HF_CV_KFOLD;
    if (task == HF_TASK_REGRESSION && strategy == HF_CV_STRATIFIED) {
        where(spec, spec->cv.strategy_loc, at, sizeof at);
        result =
            hf_error(HF_EINVAL,
                     "%s: cv.strategy: got \"stratified\", expected kfold, group or timeseries "
                     "for the regression target \"%s\" (stratified folds need classes)",
                     at, spec->data.target);
        goto out;
    }
    const char *metrics[64];
    size_t n_metrics = 0;
    if (spec->objective.metric)
        metrics[n_metrics++] = spec->objective.metric;
    for (size_t i = 0; i < spec->objective.n_report && n_metrics < 64; i++)
        metrics[n_metrics++] = spec->objective.report[i];
    for (size_t i = 0; i < n_metrics; i++) {
        const metric_name *m = find_metric(metrics[i]);
        if (m && m->task != task) {
            where(spec,
                  i == 0 && spec->objective.metric ? spec->objective.metric_loc
                                                   : (hf_spec_loc){0, 0},
                  at, sizeof at);
            result = hf_error(
                HF_EINVAL, "%s: %s: got \"%s\", expected a %s metric for the %s target \"%s\"", at,
                i == 0 && spec->objective.metric ? "objective.metric" : "objective.report",
                metrics[i], task_name(task), task_name(task), spec->data.target);
            goto out;
        }
    }
    if (strategy == HF_CV_KFOLD && n_rows < (size_t)spec->cv.folds) {
        where(spec, spec->cv.folds_loc, at, sizeof at);
        result = hf_error(HF_EINVAL,
                          "%s: cv.folds: got %d, expected at most %zu, the number of "
                          "rows",
                          at, spec->cv.folds, n_rows);
        goto out;
    }
    if (task == HF_TASK_CLASSIFICATION && strategy == HF_CV_STRATIFIED) {
        if (schema->n_classes < 2) {
            result = hf_error(HF_EINVAL,
                              "%s: data.target: got %zu class in \"%s\", expected at least 2 for "
                              "classification",
                              spec->path, schema->n_classes, spec->data.target);
            goto out;
        }
        counts = hf_calloc(schema->n_classes, sizeof *counts);
        if (!counts) {
            result = HF_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n_rows; i++) {
            double v = y[i];
            if (!(v >= 0) || v >= (double)schema->n_classes || v != floor(v)) {
                result = hf_error(HF_EDATA,
                                  "%s: data.target: row %zu has class index %g, "
                                  "expected 0..%zu",
                                  spec->path, i, v, schema->n_classes - 1);
                goto out;
            }
            counts[(size_t)v]++;
        }
        for (size_t k = 0; k < schema->n_classes; k++) {
            if (counts[k] < (size_t)spec->cv.folds) {
                where(spec, spec->cv.folds_loc, at, sizeof at);
                result = hf_error(HF_EINVAL,
                                  "%s: cv.folds: got %d, expected at most %zu: class \"%s\" of "
                                  "target \"%s\" has only %zu rows (stratified folds need at "
                                  "least one row of each class per fold)",
                                  at, spec->cv.folds, counts[k],
                                  schema->classes ? schema->classes[k] : "?", spec->data.target,
                                  counts[k]);
                goto out;
            }
        }
    }
out:
    free(counts);
    return result;
}
