/* model.c - helpers shared by model files: parameter lookup and defaults, fitted-model arrays. */
#include "worker/model.h"
#include "common/hf.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Index of parameter `name` in ops->params, or -1 if the model has no such parameter. */
long hf_model_param_index(const hf_model_ops *ops, const char *name)
{
    if (!ops || !name)
        return -1;
    for (size_t i = 0; i < ops->n_params; i++)
        if (strcmp(ops->params[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int value_cmp(const hf_value *a, const hf_value *b)
{
    if (a->type == HF_VAL_STRING || b->type == HF_VAL_STRING) {
        if (a->type != b->type)
            return a->type < b->type ? -1 : 1;
        return strcmp(a->u.str ? a->u.str : "", b->u.str ? b->u.str : "");
    }
    double x = hf_value_as_double(a), y = hf_value_as_double(b);
    return x < y ? -1 : x > y ? 1 : 0;
}

int hf_model_share_cmp(const hf_model_ops *ops, const hf_value *a, const hf_value *b)
{
    long shared = ops->shared_param ? hf_model_param_index(ops, ops->shared_param) : -1;
    for (size_t i = 0; i < ops->n_params; i++) {
        if ((long)i == shared)
            continue;
        int c = value_cmp(&a[i], &b[i]);
        if (c)
            return c;
    }
    return 0;
}

static int parse_number(const hf_param_def *def, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(def->default_text, &end);
    if (errno != 0 || end == def->default_text || *end != '\0' || !isfinite(v))
        return hf_error(HF_EINTERNAL, "parameter %s: default '%s' is not a finite number",
                        def->name, def->default_text);
    *out = v;
    return HF_OK;
}

/* Parses def->default_text into a value of def->type. A STRING default is duplicated into
 * out->u.str (caller frees with hf_value_free). Not collective. */
int hf_model_param_default(const hf_param_def *def, hf_value *out)
{
    int result = HF_OK;
    double v = 0.0;
    memset(out, 0, sizeof *out);
    if (!def || !def->default_text) {
        result = hf_error(HF_EINTERNAL, "parameter %s has no default",
                          def && def->name ? def->name : "(null)");
        goto out;
    }
    switch (def->type) {
    case HF_VAL_NUMBER:
        result = parse_number(def, &v);
        if (result < 0)
            goto out;
        out->type = HF_VAL_NUMBER;
        out->u.num = v;
        break;
    case HF_VAL_INT: {
        char *end = NULL;
        errno = 0;
        long long i = strtoll(def->default_text, &end, 10);
        if (errno != 0 || end == def->default_text || *end != '\0') {
            result = hf_error(HF_EINTERNAL, "parameter %s: default '%s' is not an integer",
                              def->name, def->default_text);
            goto out;
        }
        out->type = HF_VAL_INT;
        out->u.i = (int64_t)i;
        break;
    }
    case HF_VAL_BOOL:
        if (strcmp(def->default_text, "true") == 0) {
            out->u.b = 1;
        } else if (strcmp(def->default_text, "false") == 0) {
            out->u.b = 0;
        } else {
            result = hf_error(HF_EINTERNAL, "parameter %s: default '%s' is not true or false",
                              def->name, def->default_text);
            goto out;
        }
        out->type = HF_VAL_BOOL;
        break;
    case HF_VAL_STRING:
        out->u.str = hf_strdup(def->default_text);
        if (!out->u.str) {
            result = HF_ENOMEM;
            goto out;
        }
        out->type = HF_VAL_STRING;
        break;
    default:
        result =
            hf_error(HF_EINTERNAL, "parameter %s: unsupported type %d", def->name, (int)def->type);
        break;
    }
out:
    return result;
}

/* A new fitted model with room for n_arrays (empty) arrays; caller frees with hf_fitted_free.
 * Returns NULL (HF_ENOMEM recorded) on allocation failure. */
const char *hf_fit_stop_name(int stop)
{
    return stop == HF_FIT_MAX_ITER ? "max_iter" : stop == HF_FIT_STALLED ? "stalled" : "converged";
}

hf_fitted *hf_fitted_new(const hf_model_ops *ops, size_t n_features, size_t n_outputs,
                         size_t n_arrays)
{
    hf_fitted *m = hf_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ops = ops;
    m->n_features = n_features;
    m->n_outputs = n_outputs;
    if (n_arrays > 0) {
        m->arrays = hf_calloc(n_arrays, sizeof *m->arrays);
        if (!m->arrays) {
            free(m);
            return NULL;
        }
    }
    m->n_arrays = n_arrays;
    return m;
}

/* Allocates arrays[i] (zeroed, rows x cols) named `name`; returns its data, owned by m, or NULL
 * on a bad index or allocation failure (error recorded). */
double *hf_fitted_array(hf_fitted *m, size_t i, const char *name, size_t rows, size_t cols)
{
    if (!m || i >= m->n_arrays) {
        hf_error(HF_EINTERNAL, "hf_fitted_array: index %zu out of range", i);
        return NULL;
    }
    hf_array *a = &m->arrays[i];
    free(a->name);
    free(a->data);
    a->name = NULL;
    a->data = NULL;
    a->rows = a->cols = 0;
    a->name = hf_strdup(name);
    if (!a->name)
        return NULL;
    a->data = hf_calloc(rows * cols > 0 ? rows * cols : 1, sizeof *a->data);
    if (!a->data) {
        free(a->name);
        a->name = NULL;
        return NULL;
    }
    a->rows = rows;
    a->cols = cols;
    return a->data;
}

/* The array named `name` (borrowed, valid while m lives), or NULL. */
const hf_array *hf_fitted_get(const hf_fitted *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (size_t i = 0; i < m->n_arrays; i++)
        if (m->arrays[i].name && strcmp(m->arrays[i].name, name) == 0)
            return &m->arrays[i];
    return NULL;
}

int hf_fitted_add_blob(hf_fitted *m, const char *name, const char *format, const void *data,
                       size_t len)
{
    hf_blob *b = hf_realloc(m->blobs, (m->n_blobs + 1) * sizeof *b);
    if (!b)
        return HF_ENOMEM;
    m->blobs = b;
    b = &m->blobs[m->n_blobs];
    b->name = hf_strdup(name);
    b->format = hf_strdup(format);
    b->data = hf_malloc(len ? len : 1);
    b->len = len;
    if (!b->name || !b->format || !b->data) {
        free(b->name);
        free(b->format);
        free(b->data);
        return HF_ENOMEM;
    }
    memcpy(b->data, data, len);
    m->n_blobs++;
    return HF_OK;
}

const hf_blob *hf_fitted_blob(const hf_fitted *m, const char *name)
{
    for (size_t i = 0; m && name && i < m->n_blobs; i++)
        if (strcmp(m->blobs[i].name, name) == 0)
            return &m->blobs[i];
    return NULL;
}

/* Frees m, its arrays, blobs and state; NULL is accepted. */
void hf_fitted_free(hf_fitted *m)
{
    if (!m)
        return;
    if (m->state && m->ops && m->ops->free_state)
        m->ops->free_state(m);
    for (size_t i = 0; i < m->n_arrays; i++) {
        free(m->arrays[i].name);
        free(m->arrays[i].data);
    }
    for (size_t i = 0; i < m->n_blobs; i++) {
        free(m->blobs[i].name);
        free(m->blobs[i].format);
        free(m->blobs[i].data);
    }
    free(m->arrays);
    free(m->blobs);
    free(m);
}

int hf_linear_predict(const hf_fitted *m, const hf_group *g, const double *X, size_t n, size_t p,
                      double *out)
{
    (void)g;
    const hf_array *w = hf_fitted_get(m, "coef");
    const hf_array *b = hf_fitted_get(m, "intercept");
    /* The shapes the fits write (coef 1 x p, intercept 1 x 1): a model read from a file may
     * hold others, and a 0 x p coef was read p values past its end. */
    if (!w || !b || w->rows != 1 || w->cols != p || b->rows * b->cols != 1 || p != m->n_features)
        return hf_error(HF_EDATA, "%s: model has %zu features, data has %zu", m->ops->name,
                        m->n_features, p);
    for (size_t i = 0; i < n; i++)
        out[i] = b->data[0] + (p > 0 ? cblas_ddot((int)p, X + i * p, 1, w->data, 1) : 0.0);
    return HF_OK;
}

int hf_linear_scores(hf_fitted *const *m, size_t k, const double *X, size_t n, size_t p, double *Z)
{
    size_t R = 0;
    for (size_t t = 0; t < k; t++) {
        const hf_array *w = hf_fitted_get(m[t], "coef"), *b = hf_fitted_get(m[t], "intercept");
        if (!w || !b || w->cols != p || b->rows * b->cols != w->rows)
            return hf_error(HF_EDATA, "%s: model has %zu features, data has %zu", m[t]->ops->name,
                            m[t]->n_features, p);
        R += w->rows;
    }
    if (R == 0 || n == 0)
        return HF_OK;
    double *W = hf_malloc((p ? R * p : 1) * sizeof *W);
    if (!W)
        return HF_ENOMEM;
    size_t r = 0;
    for (size_t t = 0; t < k; t++) {
        const hf_array *w = hf_fitted_get(m[t], "coef"), *b = hf_fitted_get(m[t], "intercept");
        memcpy(W + r * p, w->data, w->rows * p * sizeof *W);
        for (size_t c = 0; c < w->rows; c++)
            for (size_t i = 0; i < n; i++)
                Z[(r + c) * n + i] = b->data[c];
        r += w->rows;
    }
    if (p > 0)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)n, (int)p, 1.0, W, (int)p,
                    X, (int)p, 1.0, Z, (int)n);
    free(W);
    return HF_OK;
}
