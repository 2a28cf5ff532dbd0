/* bind.c - the job-spec binder: YAML nodes into module options through their tables (bind.h).
 *
 * Written by hand on libyaml's document API: every key is checked against its table, every value
 * typed, with the position of the offending node and a did-you-mean for unknown names. */
#include "jobs/bind.h"

#include "common/hf.h"
#include "common/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_LEN HF_BIND_PATH_LEN

typedef enum scalar_kind { SC_STRING, SC_INT, SC_FLOAT, SC_BOOL, SC_NULL } scalar_kind;

typedef struct scalar {
    scalar_kind kind;
    const char *text;
    int64_t i;
    double d; /* numeric value for SC_INT and SC_FLOAT */
    int b;
} scalar;

static const char *const k_dist_keys[] = {"log_uniform", "uniform", "int_uniform", "grid_points",
                                          NULL};

/* ---- nodes and messages ---------------------------------------------------------------------- */

static yaml_node_t *node_at(hf_bind *c, int idx)
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
static void describe(hf_bind *c, const yaml_node_t *n, char *buf, size_t len);

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

static void describe(hf_bind *c, const yaml_node_t *n, char *buf, size_t len)
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
static int fail(hf_bind *c, const yaml_node_t *n, const char *keypath, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(hf_bind *c, const yaml_node_t *n, const char *keypath, const char *fmt, ...)
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
static int fail_got(hf_bind *c, const yaml_node_t *n, const char *keypath, const char *expected)
{
    char got[256];
    if (!n)
        return fail(c, NULL, keypath, "got the default, expected %s", expected);
    describe(c, n, got, sizeof got);
    return fail(c, n, keypath, "got %s, expected %s", got, expected);
}

/* "parent.key" (or "key"), cut at len - 1 bytes. */
static void join_path(char *out, size_t len, const char *parent, const char *key)
{
    int n = parent && *parent ? snprintf(out, len, "%s.%s", parent, key)
                              : snprintf(out, len, "%s", key);
    if (n < 0 && len > 0)
        out[0] = '\0';
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
static int check_mapping(hf_bind *c, const yaml_node_t *n, const char *keypath,
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
        const char *s = hf_suggest(node_text(k), allowed, 0);
        if (s)
            return fail(c, k, sub, "unknown key, did you mean \"%s\"?", s);
        char names[512];
        list_names(allowed, names, sizeof names);
        return fail(c, k, sub, "unknown key, expected one of %s", names);
    }
    return HF_OK;
}

static yaml_node_t *lookup(hf_bind *c, const yaml_node_t *map, const char *key)
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
static yaml_node_t *lookup_value(hf_bind *c, const yaml_node_t *map, const char *key)
{
    yaml_node_t *v = lookup(c, map, key);
    if (v && v->type == YAML_SCALAR_NODE && classify(v).kind == SC_NULL)
        return NULL;
    return v;
}

/* ---- typed getters --------------------------------------------------------------------------- */

static int get_string(hf_bind *c, const yaml_node_t *n, const char *path, const char *what,
                      char **out)
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

/* An integer in [lo, hi]; `expected` (NULL: "an integer >= lo" or "in [lo, hi]") in messages. */
static int get_int_as(hf_bind *c, const yaml_node_t *n, const char *path, int64_t lo, int64_t hi,
                      const char *expected, int64_t *out)
{
    char what[128];
    if (expected)
        snprintf(what, sizeof what, "%s", expected);
    else if (hi >= INT32_MAX)
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
    /* Above the range, the lower bound alone would contradict the value ("got 99999999999,
     * expected an integer >= 1"): say the upper one. Numbers beyond int64 are SC_FLOAT. */
    if ((s.kind == SC_INT && s.i > hi) || (s.kind == SC_FLOAT && s.d == floor(s.d) && s.d > 0))
        snprintf(what, sizeof what, "an integer <= %lld", (long long)hi);
    if (s.kind != SC_INT || s.i < lo || s.i > hi)
        return fail_got(c, n, path, what);
    *out = s.i;
    return HF_OK;
}

static int get_int(hf_bind *c, const yaml_node_t *n, const char *path, int64_t lo, int64_t hi,
                   int64_t *out)
{
    return get_int_as(c, n, path, lo, hi, NULL, out);
}

static int get_int32(hf_bind *c, const yaml_node_t *n, const char *path, int lo, int *out)
{
    int64_t v = 0;
    int result = get_int(c, n, path, lo, INT32_MAX, &v);
    if (result == HF_OK)
        *out = (int)v;
    return result;
}

static int get_seed(hf_bind *c, const yaml_node_t *n, const char *path, uint64_t *out)
{
    int64_t v = 0;
    int result = get_int(c, n, path, 0, INT64_MAX, &v);
    if (result == HF_OK)
        *out = (uint64_t)v;
    return result;
}

static int get_number(hf_bind *c, const yaml_node_t *n, const char *path, const char *what,
                      double *out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail_got(c, n, path, what);
    scalar s = classify(n);
    if ((s.kind != SC_INT && s.kind != SC_FLOAT) || !isfinite(s.d))
        return fail_got(c, n, path, what);
    *out = s.d;
    return HF_OK;
}

static int get_bool(hf_bind *c, const yaml_node_t *n, const char *path, int *out)
{
    if (n->type != YAML_SCALAR_NODE || classify(n).kind != SC_BOOL)
        return fail_got(c, n, path, "true or false");
    *out = classify(n).b;
    return HF_OK;
}

/* Index of the scalar n in `names`; an unknown value gets the list and a suggestion. */
static int get_enum(hf_bind *c, const yaml_node_t *n, const char *path, const char *const *names,
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
        const char *s = hf_suggest(node_text(n), names, 0);
        if (s) {
            size_t used = strlen(expected);
            snprintf(expected + used, sizeof expected - used, " (did you mean \"%s\"?)", s);
        }
    }
    return fail_got(c, n, path, expected);
}

static int get_string_list(hf_bind *c, const yaml_node_t *n, const char *path,
                           int allow_empty_items, char ***out, size_t *count)
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
        char sub[PATH_LEN + 32];
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

void hf_bind_describe_param(const hf_param_def *def, char *buf, size_t len)
{
    if (def->flags & HF_PARAM_NUMBER_OR_TEXT)
        snprintf(buf, len, "a number or a text");
    else
        describe_def(def, buf, len);
}

void hf_bind_describe_opt(const hf_opt_def *d, char *buf, size_t len)
{
    const char *const *names = d->choices ? d->choices : d->choices_fn ? d->choices_fn() : NULL;
    char list[400] = "";
    if (names)
        list_names(names, list, sizeof list);
    switch (d->kind) {
    case HF_OPT_INT:
        if (d->expected)
            snprintf(buf, len, "%s", d->expected);
        else if (d->max >= INT32_MAX)
            snprintf(buf, len, "an integer >= %lld", (long long)d->min);
        else
            snprintf(buf, len, "an integer in [%lld, %lld]", (long long)d->min, (long long)d->max);
        break;
    case HF_OPT_SEED:
        snprintf(buf, len, "an integer >= 0");
        break;
    case HF_OPT_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case HF_OPT_STRING_LIST:
        snprintf(buf, len, "a list of %s", names ? list : "strings");
        break;
    case HF_OPT_ENUM_MAP:
        snprintf(buf, len, "a mapping NAME: %s", list);
        break;
    case HF_OPT_STRING_MAP:
        snprintf(buf, len, "a mapping NAME: %s", d->expected ? d->expected : "a string");
        break;
    case HF_OPT_ENUM:
        snprintf(buf, len, "%s", list);
        break;
    default:
        snprintf(buf, len, "%s", d->expected ? d->expected : names ? list : "a string");
        break;
    }
}

/* Converts a scalar into a value of the definition's type, checking bounds and choices. */
static int scalar_value(hf_bind *c, const yaml_node_t *n, const char *path, const hf_param_def *def,
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
                const char *sug = hf_suggest(s.text, def->choices, 0);
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
static int parse_distribution(hf_bind *c, const yaml_node_t *n, const char *path,
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
static int parse_param(hf_bind *c, const yaml_node_t *n, const char *path, const hf_param_def *def,
                       const char *name, hf_param_space *ps)
{
    int result = hf_bind_record(c, path, n);
    if (result != HF_OK)
        return result;
    ps->name = hf_strdup(name);
    if (!ps->name)
        return HF_ENOMEM;
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

int hf_bind_parse_size(const char *t, uint64_t *out)
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
            /* A size is whole bytes, at least one: 0.5 was 0 bytes, which reads as unlimited. */
            if (bytes >= 1.8e19 || bytes < 1 || bytes != floor(bytes))
                return -1;
            *out = (uint64_t)bytes;
            return 0;
        }
    return -1;
}

/* ---- the public binder ------------------------------------------------------------------------
 */

yaml_node_t *hf_bind_node(hf_bind *b, int idx)
{
    return node_at(b, idx);
}

const char *hf_bind_text(const yaml_node_t *n)
{
    return node_text(n);
}

static int hf_bind_is_null(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && classify(n).kind == SC_NULL;
}

static int hf_bind_is_number(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE)
        return 0;
    scalar_kind k = classify(n).kind;
    return k == SC_INT || k == SC_FLOAT;
}

int hf_bind_fail(hf_bind *b, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(b, n, key, "%s", msg);
}

int hf_bind_fail_got(hf_bind *b, const yaml_node_t *n, const char *key, const char *expected)
{
    return fail_got(b, n, key, expected);
}

int hf_bind_check_mapping(hf_bind *b, const yaml_node_t *n, const char *key,
                          const char *const *allowed)
{
    return check_mapping(b, n, key, allowed);
}

yaml_node_t *hf_bind_lookup(hf_bind *b, const yaml_node_t *map, const char *key)
{
    return lookup_value(b, map, key);
}

int hf_bind_string(hf_bind *b, const yaml_node_t *n, const char *key, const char *what, char **out)
{
    return get_string(b, n, key, what, out);
}

int hf_bind_record(hf_bind *b, const char *key, const yaml_node_t *n)
{
    hf_spec *s = b->spec;
    if (!n)
        return HF_OK;
    hf_spec_key *k = hf_realloc(s->keys, (s->n_keys + 1) * sizeof *k);
    if (!k)
        return HF_ENOMEM;
    s->keys = k;
    k[s->n_keys].key = hf_strdup(key);
    if (!k[s->n_keys].key)
        return HF_ENOMEM;
    k[s->n_keys].line = (int)n->start_mark.line + 1;
    k[s->n_keys].column = (int)n->start_mark.column + 1;
    s->n_keys++;
    return HF_OK;
}

/* The accepted values of a STRING or STRING_LIST definition, or NULL for any. */
static const char *const *def_choices(const hf_opt_def *d)
{
    return d->choices_fn ? d->choices_fn() : d->choices;
}

/* A string that must be one of the definition's choices (when it has them). */
static int check_choice(hf_bind *b, const yaml_node_t *n, const char *key, const hf_opt_def *d)
{
    const char *const *names = def_choices(d);
    if (!names)
        return HF_OK;
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(names[i], node_text(n)))
            return HF_OK;
    int idx = 0;
    return get_enum(b, n, key, names, &idx); /* fails with the list and a suggestion */
}

#define FIELD(opts, off) ((void *)((char *)(opts) + (off)))

/* One key of a section. */
static int bind_value(hf_bind *b, const yaml_node_t *v, const char *key, const hf_opt_def *d,
                      void *opts)
{
    void *f = FIELD(opts, d->offset);
    int result = HF_OK;
    switch (d->kind) {
    case HF_OPT_STRING:
        if (d->accept && v->type == YAML_SCALAR_NODE && !d->accept(node_text(v)))
            return fail_got(b, v, key, d->expected ? d->expected : "a string");
        HF_CALL(get_string(b, v, key, d->expected ? d->expected : "a string", (char **)f));
        return check_choice(b, v, key, d);
    case HF_OPT_STRING_LIST: {
        char ***list = f;
        size_t *n = FIELD(opts, d->count_offset);
        HF_CALL(get_string_list(b, v, key, (d->flags & HF_OPT_EMPTY_ITEMS) != 0, list, n));
        for (size_t i = 0; i < *n; i++) {
            char sub[PATH_LEN + 32];
            yaml_node_t *it = node_at(b, v->data.sequence.items.start[i]);
            snprintf(sub, sizeof sub, "%s[%zu]", key, i);
            HF_CALL(hf_bind_record(b, sub, it));
            HF_CALL(check_choice(b, it, sub, d));
        }
        return HF_OK;
    }
    case HF_OPT_INT: {
        int64_t x = 0;
        HF_CALL(get_int_as(b, v, key, (int64_t)d->min, (int64_t)d->max, d->expected, &x));
        *(int *)f = (int)x;
        return HF_OK;
    }
    case HF_OPT_SEED:
        return get_seed(b, v, key, (uint64_t *)f);
    case HF_OPT_NUMBER: {
        double x = 0;
        const char *what = d->expected ? d->expected : "a number";
        HF_CALL(get_number(b, v, key, what, &x));
        if (x < d->min || x > d->max)
            return fail_got(b, v, key, what);
        *(double *)f = x;
        return HF_OK;
    }
    case HF_OPT_BOOL:
        return get_bool(b, v, key, (int *)f);
    case HF_OPT_ENUM: {
        int idx = 0;
        HF_CALL(get_enum(b, v, key, d->choices, &idx));
        *(int *)f = idx + d->first_choice;
        return HF_OK;
    }
    case HF_OPT_SIZE:
        if (v->type != YAML_SCALAR_NODE || hf_bind_parse_size(node_text(v), (uint64_t *)f))
            return fail_got(b, v, key, d->expected ? d->expected : "a size");
        return HF_OK;
    case HF_OPT_ENUM_MAP:
    case HF_OPT_STRING_MAP: {
        /* A mapping NAME -> value: the names in f, the values (an enum's index, or a string) at
         * aux_offset, their count at count_offset. */
        HF_CALL(check_mapping(b, v, key, NULL));
        int strings = d->kind == HF_OPT_STRING_MAP;
        size_t len = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
        char ***names = f;
        void **vals = FIELD(opts, d->aux_offset);
        size_t *n = FIELD(opts, d->count_offset);
        hf_strv_free(*names, *n);
        if (strings)
            hf_strv_free(*vals, *n);
        else
            free(*vals);
        *n = 0;
        *names = hf_calloc(len ? len : 1, sizeof **names);
        *vals = hf_calloc(len ? len : 1, strings ? sizeof(char *) : sizeof(int));
        if (!*names || !*vals)
            return HF_ENOMEM;
        for (size_t i = 0; i < len; i++) {
            yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
            const char *name = node_text(node_at(b, p->key));
            char sub[PATH_LEN];
            join_path(sub, sizeof sub, key, name);
            if (strings)
                HF_CALL(get_string(b, node_at(b, p->value), sub,
                                   d->expected ? d->expected : "a string", &((char **)*vals)[i]));
            else
                HF_CALL(get_enum(b, node_at(b, p->value), sub, d->choices, &((int *)*vals)[i]));
            HF_CALL(hf_bind_record(b, sub, node_at(b, p->value)));
            if (!((*names)[i] = hf_strdup(name)))
                return HF_ENOMEM;
            (*n)++;
        }
        return HF_OK;
    }
    case HF_OPT_CUSTOM:
        if (v->type != YAML_SCALAR_NODE)
            return fail_got(b, v, key, d->expected ? d->expected : "a value");
        result = d->parse(node_text(v), opts);
        if (result == -1) {
            hf_error_clear();
            return fail_got(b, v, key, d->expected ? d->expected : "a value");
        }
        return result;
    case HF_OPT_SUBSECTION:
        break; /* bound by hf_bind_section */
    }
    return hf_error(HF_EINTERNAL, "%s: %s: unknown option kind %d", b->path, key, (int)d->kind);
}

int hf_bind_section(hf_bind *b, const yaml_node_t *map, const hf_opt_section *sec, void *opts,
                    hf_opt_source src)
{
    const char *keys[64];
    size_t nk = 0;
    for (size_t i = 0; i < sec->n_defs && nk + 1 < sizeof keys / sizeof keys[0]; i++)
        keys[nk++] = sec->defs[i].key;
    keys[nk] = NULL;
    *(hf_opt_source *)FIELD(opts, sec->src_offset) = src;
    if (map) {
        HF_CALL(check_mapping(b, map, sec->name, keys));
        HF_CALL(hf_bind_record(b, sec->name, map));
    }
    for (size_t i = 0; i < sec->n_defs; i++) {
        const hf_opt_def *d = &sec->defs[i];
        char key[PATH_LEN];
        join_path(key, sizeof key, sec->name, d->key);
        yaml_node_t *v = map ? lookup_value(b, map, d->key) : NULL;
        if (d->kind == HF_OPT_SUBSECTION) {
            /* Absent: the nested struct keeps its defaults and its check does not run. */
            *(hf_opt_source *)FIELD(FIELD(opts, d->offset), d->sub->src_offset) = src;
            if (v)
                HF_CALL(hf_bind_section(b, v, d->sub, FIELD(opts, d->offset), src));
            continue;
        }
        if (!v) {
            if (d->flags & HF_OPT_REQUIRED)
                return fail(b, map, key, "missing required key, expected %s",
                            d->expected ? d->expected : "a value");
            continue;
        }
        HF_CALL(hf_bind_record(b, key, v));
        HF_CALL(bind_value(b, v, key, d, opts));
    }
    return sec->check ? sec->check(opts) : HF_OK;
}

int hf_bind_param(hf_bind *b, const yaml_node_t *n, const char *key, const hf_param_def *def,
                  const char *name, hf_space *space)
{
    hf_param_space *p = hf_realloc(space->params, (space->n_params + 1) * sizeof *p);
    if (!p)
        return HF_ENOMEM;
    space->params = p;
    hf_param_space *ps = &p[space->n_params++];
    memset(ps, 0, sizeof *ps);
    /* A value that may be a number or a text is typed by how it is written (the first item of a
     * list). */
    hf_param_def typed = *def;
    if (def->flags & HF_PARAM_NUMBER_OR_TEXT) {
        const yaml_node_t *first = n;
        if (n->type == YAML_SEQUENCE_NODE &&
            n->data.sequence.items.top > n->data.sequence.items.start)
            first = node_at(b, n->data.sequence.items.start[0]);
        if (!hf_bind_is_number(first)) {
            typed.type = HF_VAL_STRING;
            typed.min = typed.max = 0;
        }
    }
    return parse_param(b, n, key, &typed, name, ps);
}

/* Whether some definition's name starts with prefix "<prefix>." (a nested mapping). */
static int has_children(const hf_param_def *(*def_at)(size_t), size_t n, const char *prefix)
{
    size_t len = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        const char *name = def_at(i)->name;
        if (!strncmp(name, prefix, len) && name[len] == '.')
            return 1;
    }
    return 0;
}

/* The names of one level of the table under prefix ("" = the top): "impute", "scale", "pca".. */
static size_t level_names(const hf_param_def *(*def_at)(size_t), size_t n, const char *prefix,
                          char names[][64], size_t max)
{
    size_t len = strlen(prefix), k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        const char *name = def_at(i)->name;
        if (len && (strncmp(name, prefix, len) || name[len] != '.'))
            continue;
        const char *rest = len ? name + len + 1 : name;
        size_t part = strcspn(rest, ".");
        int seen = 0;
        for (size_t j = 0; j < k && !seen; j++)
            seen = strlen(names[j]) == part && !strncmp(names[j], rest, part);
        if (!seen && part < 64) {
            memcpy(names[k], rest, part);
            names[k][part] = '\0';
            k++;
        }
    }
    return k;
}

static int bind_table_level(hf_bind *b, const yaml_node_t *map, const char *key, const char *prefix,
                            const hf_param_def *(*def_at)(size_t), size_t n_defs, hf_space *space)
{
    char names[64][64];
    const char *allowed[65];
    size_t k = level_names(def_at, n_defs, prefix, names, 64);
    for (size_t i = 0; i < k; i++)
        allowed[i] = names[i];
    allowed[k] = NULL;
    HF_CALL(check_mapping(b, map, key, allowed));
    HF_CALL(hf_bind_record(b, key, map));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k2 = node_text(node_at(b, p->key));
        yaml_node_t *v = node_at(b, p->value);
        char sub_key[PATH_LEN], sub_prefix[PATH_LEN];
        join_path(sub_key, sizeof sub_key, key, k2);
        join_path(sub_prefix, sizeof sub_prefix, prefix, k2);
        const hf_param_def *def = NULL;
        for (size_t i = 0; i < n_defs && !def; i++)
            if (!strcmp(def_at(i)->name, sub_prefix))
                def = def_at(i);
        if (def) {
            if (hf_bind_is_null(v))
                continue;
            HF_CALL(hf_bind_param(b, v, sub_key, def, sub_key, space));
        } else if (has_children(def_at, n_defs, sub_prefix)) {
            /* A nested group: null or an empty mapping sets nothing. */
            if (hf_bind_is_null(v))
                continue;
            HF_CALL(bind_table_level(b, v, sub_key, sub_prefix, def_at, n_defs, space));
        }
    }
    return HF_OK;
}

int hf_bind_param_table(hf_bind *b, const yaml_node_t *map, const char *key,
                        const hf_param_def *(*def_at)(size_t i), size_t n_defs, hf_space *space)
{
    return bind_table_level(b, map, key, "", def_at, n_defs, space);
}
