/* schema_json.c - hf_schema <-> JSON with jansson (format in schema_json.h). */
#include "shards/schema_json.h"
#include "common/hf.h"
#include "shards/datetime.h"

#include <stdlib.h>
#include <string.h>

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *str_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *hf_schema_json_encode(const hf_schema *s)
{
    json_t *root = json_object();
    json_t *feats = json_array();
    int fail = !root || !feats;
    for (size_t i = 0; !fail && i < s->n_features; i++) {
        const hf_column *c = &s->features[i];
        json_t *o = json_object();
        fail |= !o || json_array_append_new(feats, o) != 0;
        if (fail)
            break;
        fail |= json_object_set_new(o, "name", json_string(c->name)) != 0;
        fail |= json_object_set_new(o, "type", json_string(hf_col_type_name(c->type))) != 0;
        if (c->type != HF_COL_NUMERIC)
            fail |= json_object_set_new(o, "categories",
                                        str_array(c->categories, c->n_categories)) != 0;
        if (c->source) {
            fail |= json_object_set_new(o, "source", json_string(c->source)) != 0;
            fail |= json_object_set_new(o, "part", json_string(hf_dt_part_name(c->part))) != 0;
            fail |= json_object_set_new(o, "format", str_or_null(c->format)) != 0;
        }
    }
    if (!fail) {
        fail |= json_object_set_new(root, "features", feats) != 0;
        feats = NULL;
        fail |= json_object_set_new(root, "target", str_or_null(s->target)) != 0;
        fail |= json_object_set_new(root, "task", json_string(hf_task_name(s->task))) != 0;
        if (s->task == HF_TASK_CLASSIFICATION)
            fail |= json_object_set_new(root, "classes", str_array(s->classes, s->n_classes)) != 0;
        fail |= json_object_set_new(root, "fold_column", str_or_null(s->fold_column)) != 0;
        fail |= json_object_set_new(root, "group_column", str_or_null(s->group_column)) != 0;
        fail |= json_object_set_new(root, "order_column", str_or_null(s->order_column)) != 0;
    }
    json_decref(feats);
    if (fail) {
        json_decref(root);
        hf_error(HF_ENOMEM, "out of memory building the schema JSON");
        return NULL;
    }
    return root;
}

char *hf_schema_json_to_text(const hf_schema *s)
{
    json_t *j = hf_schema_json_encode(s);
    if (!j)
        return NULL;
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        hf_error(HF_ENOMEM, "out of memory serialising the schema JSON");
        return NULL;
    }
    /* jansson allocates with malloc by default: the caller frees with free(). */
    return text;
}

static int get_opt_str(const json_t *o, const char *key, char **out)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return HF_OK;
    if (!json_is_string(v))
        return hf_error(HF_EINVAL,
                        "schema: key \"%s\": got a non-string, expected a string or null", key);
    *out = hf_strdup(json_string_value(v));
    return *out ? HF_OK : HF_ENOMEM;
}

static int get_str_array(const json_t *v, const char *what, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(v))
        return hf_error(HF_EINVAL, "schema: %s: got a non-array, expected an array of strings",
                        what);
    size_t m = json_array_size(v);
    char **a = hf_calloc(m ? m : 1, sizeof *a);
    if (!a)
        return HF_ENOMEM;
    for (size_t i = 0; i < m; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            for (size_t k = 0; k < i; k++)
                free(a[k]);
            free(a);
            return hf_error(HF_EINVAL, "schema: %s[%zu]: got a non-string, expected a string", what,
                            i);
        }
        a[i] = hf_strdup(json_string_value(e));
        if (!a[i]) {
            for (size_t k = 0; k < i; k++)
                free(a[k]);
            free(a);
            return HF_ENOMEM;
        }
    }
    *out = a;
    *n = m;
    return HF_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What the rest of hyperfold relies on and ingest always writes: distinct, non-empty feature
 * names (prediction matches CSV columns to features by name: a second feature of the same name
 * never got a column and was read from uninitialised memory); a categorical dictionary sorted
 * bytewise without duplicates (prediction looks values up by binary search: an unsorted one gave
 * wrong codes without an error); boolean categories exactly "false", "true" (codes 0 and 1). */
static int check_schema(const hf_schema *s)
{
    for (size_t i = 0; i < s->n_features; i++) {
        const hf_column *c = &s->features[i];
        if (!c->name[0])
            return hf_error(HF_EINVAL,
                            "schema: features[%zu]: got an empty name, expected a "
                            "column name",
                            i);
        if (c->type == HF_COL_BOOLEAN &&
            (c->n_categories != 2 || strcmp(c->categories[0], "false") != 0 ||
             strcmp(c->categories[1], "true") != 0))
            return hf_error(HF_EINVAL,
                            "schema: feature \"%s\": got %zu boolean categories, expected "
                            "[\"false\", \"true\"]",
                            c->name, c->n_categories);
        for (size_t k = 1; c->type == HF_COL_CATEGORICAL && k < c->n_categories; k++)
            if (strcmp(c->categories[k - 1], c->categories[k]) >= 0)
                return hf_error(HF_EINVAL,
                                "schema: feature \"%s\": categories[%zu] \"%s\" is not after "
                                "\"%s\", expected categories sorted bytewise, each once",
                                c->name, k, c->categories[k], c->categories[k - 1]);
    }
    /* Derived features: numeric, a known part, those of one source consecutive (predict and serve
     * read the source once for the run), and no plain feature of the source's name. */
    for (size_t i = 0; i < s->n_features; i++) {
        const hf_column *c = &s->features[i];
        if (!c->source)
            continue;
        if (c->type != HF_COL_NUMERIC || !hf_dt_part_name(c->part) || !c->source[0])
            return hf_error(HF_EINVAL,
                            "schema: feature \"%s\": got a derived feature of type %s, expected "
                            "a numeric part of a datetime column",
                            c->name, hf_col_type_name(c->type));
        int run_start = i == 0 || !s->features[i - 1].source ||
                        strcmp(s->features[i - 1].source, c->source) != 0;
        for (size_t k = 0; k < s->n_features; k++) {
            const hf_column *o = &s->features[k];
            if (!o->source && strcmp(o->name, c->source) == 0)
                return hf_error(HF_EINVAL,
                                "schema: feature \"%s\": its source \"%s\" is also a feature, "
                                "expected distinct input columns",
                                c->name, c->source);
            if (run_start && k < i && o->source && strcmp(o->source, c->source) == 0)
                return hf_error(HF_EINVAL,
                                "schema: feature \"%s\": the features of the source \"%s\" are "
                                "not consecutive, expected them together",
                                c->name, c->source);
        }
    }
    if (s->n_features < 2)
        return HF_OK;
    char **names = hf_malloc(s->n_features * sizeof *names);
    if (!names)
        return HF_ENOMEM;
    for (size_t i = 0; i < s->n_features; i++)
        names[i] = s->features[i].name;
    qsort(names, s->n_features, sizeof *names, cmp_names);
    int result = HF_OK;
    for (size_t i = 1; i < s->n_features && result == HF_OK; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            result = hf_error(HF_EINVAL,
                              "schema: features: got the name \"%s\" twice, expected each "
                              "feature once",
                              names[i]);
    free(names);
    return result;
}

int hf_schema_json_decode(const json_t *j, hf_schema **out)
{
    int result = HF_OK;
    hf_schema *s = hf_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return HF_ENOMEM;
    if (!json_is_object(j)) {
        result = hf_error(HF_EINVAL, "schema: got a non-object, expected a JSON object");
        goto out;
    }
    const json_t *feats = json_object_get(j, "features");
    if (!json_is_array(feats)) {
        result = hf_error(HF_EINVAL, "schema: key \"features\": got %s, expected an array",
                          feats ? "a non-array" : "nothing");
        goto out;
    }
    s->n_features = json_array_size(feats);
    s->features = hf_calloc(s->n_features ? s->n_features : 1, sizeof *s->features);
    if (!s->features) {
        s->n_features = 0;
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s->n_features; i++) {
        const json_t *o = json_array_get(feats, i);
        const json_t *name = json_object_get(o, "name");
        const json_t *type = json_object_get(o, "type");
        hf_column *c = &s->features[i];
        if (!json_is_string(name) || !json_is_string(type)) {
            result = hf_error(HF_EINVAL,
                              "schema: features[%zu]: got no \"name\"/\"type\" strings, expected "
                              "both",
                              i);
            goto out;
        }
        c->name = hf_strdup(json_string_value(name));
        if (!c->name) {
            result = HF_ENOMEM;
            goto out;
        }
        const char *t = json_string_value(type);
        const json_t *src = json_object_get(o, "source");
        if (src && !json_is_null(src)) {
            const json_t *part = json_object_get(o, "part");
            if (!json_is_string(src) || !json_is_string(part) ||
                !hf_dt_part_from_name(json_string_value(part))) {
                result = hf_error(HF_EINVAL,
                                  "schema: features[%zu]: got a \"source\" without a known "
                                  "\"part\", expected a part of a datetime column (year, month, "
                                  "day, dayofweek, hour, elapsed_days)",
                                  i);
                goto out;
            }
            c->part = hf_dt_part_from_name(json_string_value(part));
            result = get_opt_str(o, "source", &c->source);
            if (result >= 0)
                result = get_opt_str(o, "format", &c->format);
            if (result < 0)
                goto out;
        }
        if (strcmp(t, "numeric") == 0) {
            c->type = HF_COL_NUMERIC;
        } else if (strcmp(t, "categorical") == 0 || strcmp(t, "boolean") == 0) {
            c->type = t[0] == 'c' ? HF_COL_CATEGORICAL : HF_COL_BOOLEAN;
            result = get_str_array(json_object_get(o, "categories"), c->name, &c->categories,
                                   &c->n_categories);
            if (result < 0)
                goto out;
        } else {
            result = hf_error(HF_EINVAL,
                              "schema: features[%zu].type: got \"%s\", expected numeric, "
                              "categorical or boolean",
                              i, t);
            goto out;
        }
    }
    const json_t *task = json_object_get(j, "task");
    if (!json_is_string(task) || (strcmp(json_string_value(task), "regression") != 0 &&
                                  strcmp(json_string_value(task), "classification") != 0)) {
        result = hf_error(HF_EINVAL,
                          "schema: key \"task\": got %s, expected \"regression\" or "
                          "\"classification\"",
                          json_is_string(task) ? json_string_value(task) : "a non-string");
        goto out;
    }
    s->task = json_string_value(task)[0] == 'c' ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION;
    if (s->task == HF_TASK_CLASSIFICATION) {
        result =
            get_str_array(json_object_get(j, "classes"), "classes", &s->classes, &s->n_classes);
        if (result < 0)
            goto out;
    }
    result = get_opt_str(j, "target", &s->target);
    if (result >= 0)
        result = get_opt_str(j, "fold_column", &s->fold_column);
    if (result >= 0)
        result = get_opt_str(j, "group_column", &s->group_column);
    if (result >= 0)
        result = get_opt_str(j, "order_column", &s->order_column);
    if (result < 0 || (result = check_schema(s)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    hf_schema_free(s);
    return result;
}

int hf_schema_json_from_text(const char *text, hf_schema **out)
{
    json_error_t err;
    *out = NULL;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        return hf_error(HF_EINVAL, "schema JSON:%d:%d: %s", err.line, err.column, err.text);
    int result = hf_schema_json_decode(j, out);
    json_decref(j);
    return result;
}
