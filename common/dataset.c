#include "common/dataset.h"
#include "common/hf.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

const char *hf_task_name(hf_task_kind t)
{
    return t == HF_TASK_REGRESSION       ? "regression"
           : t == HF_TASK_CLASSIFICATION ? "classification"
                                         : "auto";
}

const char *hf_col_type_name(hf_col_type t)
{
    return t == HF_COL_CATEGORICAL ? "categorical" : t == HF_COL_BOOLEAN ? "boolean" : "numeric";
}

void hf_schema_free(hf_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_features; i++) {
        free(s->features[i].name);
        hf_strv_free(s->features[i].categories, s->features[i].n_categories);
        free(s->features[i].source);
        free(s->features[i].format);
    }
    free(s->features);
    free(s->target);
    hf_strv_free(s->classes, s->n_classes);
    free(s->fold_column);
    free(s->group_column);
    free(s->order_column);
    free(s);
}

static char *dup_or_null(const char *s, int *fail)
{
    if (!s)
        return NULL;
    char *d = hf_strdup(s);
    if (!d)
        *fail = 1;
    return d;
}

static char **dup_strv(char **v, size_t n, int *fail)
{
    if (!v)
        return NULL;
    char **d = hf_calloc(n ? n : 1, sizeof *d);
    if (!d) {
        *fail = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = dup_or_null(v[i], fail);
    return d;
}

hf_schema *hf_schema_clone(const hf_schema *s)
{
    hf_schema *d = hf_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    int fail = 0;
    d->n_features = s->n_features;
    d->features = hf_calloc(s->n_features ? s->n_features : 1, sizeof *d->features);
    if (!d->features) {
        free(d);
        return NULL;
    }
    for (size_t i = 0; i < s->n_features; i++) {
        d->features[i].name = dup_or_null(s->features[i].name, &fail);
        d->features[i].type = s->features[i].type;
        d->features[i].n_categories = s->features[i].n_categories;
        d->features[i].categories =
            dup_strv(s->features[i].categories, s->features[i].n_categories, &fail);
        d->features[i].source = dup_or_null(s->features[i].source, &fail);
        d->features[i].part = s->features[i].part;
        d->features[i].format = dup_or_null(s->features[i].format, &fail);
    }
    d->target = dup_or_null(s->target, &fail);
    d->task = s->task;
    d->n_classes = s->n_classes;
    d->classes = dup_strv(s->classes, s->n_classes, &fail);
    d->fold_column = dup_or_null(s->fold_column, &fail);
    d->group_column = dup_or_null(s->group_column, &fail);
    d->order_column = dup_or_null(s->order_column, &fail);
    if (fail) {
        hf_schema_free(d);
        return NULL;
    }
    return d;
}

long hf_schema_find(const hf_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_features; i++)
        if (strcmp(s->features[i].name, name) == 0)
            return (long)i;
    return -1;
}

const char *hf_schema_input_name(const hf_schema *s, size_t k)
{
    const hf_column *c = &s->features[k];
    return c->source ? c->source : c->name;
}

size_t hf_schema_input_span(const hf_schema *s, size_t k)
{
    const char *src = s->features[k].source;
    size_t n = 1;
    while (src && k + n < s->n_features && s->features[k + n].source &&
           strcmp(s->features[k + n].source, src) == 0)
        n++;
    return n;
}

long hf_schema_find_input(const hf_schema *s, const char *name)
{
    for (size_t k = 0; k < s->n_features; k += hf_schema_input_span(s, k))
        if (strcmp(hf_schema_input_name(s, k), name) == 0)
            return (long)k;
    return -1;
}

size_t hf_schema_n_inputs(const hf_schema *s)
{
    size_t n = 0;
    for (size_t k = 0; k < s->n_features; k += hf_schema_input_span(s, k))
        n++;
    return n;
}

void hf_dataset_free(hf_dataset *d)
{
    if (!d)
        return;
    hf_schema_free(d->schema);
    if (d->release) {
        d->release(d->release_ctx);
    } else {
        free(d->X);
        free(d->y);
        free(d->row);
        free(d->fold);
        free(d->group);
        free(d->order);
    }
    free(d);
}

uint64_t hf_dataset_new_id(void)
{
    static atomic_uint_fast64_t next = 1;
    return (uint64_t)atomic_fetch_add(&next, 1);
}
