/* ingest_dict.c - the global dictionaries of an ingest: the sorted distinct strings of each text
 * column and the distinct numeric labels, gathered over the ranks (see ingest_int.h). */
#include "shards/ingest_int.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/csv.h"
#include "shards/schema_json.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Global sorted distinct strings of an arena. Collective. *dict: caller frees each and array. */
int hf__ingest_global_dict(ctx *c, const arena *a, char ***dict, size_t *n)
{
    int result = HF_OK;
    char **loc = hf_calloc(a->n + 1, sizeof *loc);
    char *blob = NULL, *all = NULL;
    size_t blen = 0, bcap = 0, *lens = NULL, m = 0;
    char **v = NULL;
    *dict = NULL;
    *n = 0;
    if (!loc)
        result = HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < a->n; i++)
        if (a->off[i] >= 0)
            loc[m++] = a->buf + a->off[i];
    if (result >= 0)
        qsort(loc, m, sizeof *loc, cmp_str);
    for (size_t i = 0; result >= 0 && i < m; i++)
        if (i == 0 || strcmp(loc[i], loc[i - 1]) != 0)
            result = hf__ingest_append(&blob, &blen, &bcap, loc[i], strlen(loc[i]) + 1);
    result = hf__ingest_agree(c, result);
    if (result >= 0)
        result = hf_comm_allgather_blob(c->comm, blob ? blob : "", blen, &all, &lens);
    if (result < 0)
        goto out;
    size_t total = 0, cnt = 0;
    for (int r = 0; r < c->size; r++)
        total += lens[r];
    for (size_t i = 0; i < total; i++)
        cnt += all[i] == '\0';
    v = hf_calloc(cnt + 1, sizeof *v);
    if (!v) {
        result = HF_ENOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < total; i += strlen(all + i) + 1)
        v[k++] = all + i;
    qsort(v, k, sizeof *v, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(v[i], v[u - 1]) != 0)
            v[u++] = v[i];
    for (size_t i = 0; i < u; i++) {
        v[i] = hf_strdup(v[i]);
        if (!v[i]) {
            hf_strv_free(v, i);
            v = NULL;
            result = HF_ENOMEM;
            goto out;
        }
    }
    *dict = v;
    *n = u;
out:
    free(loc);
    free(blob);
    free(all);
    free(lens);
    return result;
}

/* Global sorted distinct non-NaN values of slot s. Collective. */
int hf__ingest_global_values(ctx *c, int s, double **vals, size_t *n)
{
    int result = HF_OK;
    double *loc = hf_malloc((c->nrows + 1) * sizeof *loc);
    char *all = NULL;
    size_t *lens = NULL, m = 0, u = 0;
    *vals = NULL;
    *n = 0;
    if (!loc)
        result = HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < c->nrows; i++) {
        double v = c->cells[i * c->nslots + (size_t)s];
        if (!isnan(v))
            loc[m++] = v == 0 ? 0.0 : v;
    }
    if (result >= 0) {
        qsort(loc, m, sizeof *loc, cmp_dbl);
        for (size_t i = 0; i < m; i++)
            if (u == 0 || loc[i] != loc[u - 1])
                loc[u++] = loc[i];
    }
    result = hf__ingest_agree(c, result);
    if (result >= 0)
        result = hf_comm_allgather_blob(c->comm, loc, u * sizeof *loc, &all, &lens);
    if (result < 0)
        goto out;
    size_t total = 0;
    for (int r = 0; r < c->size; r++)
        total += lens[r] / sizeof(double);
    double *v = hf_malloc((total + 1) * sizeof *v);
    if (!v) {
        result = HF_ENOMEM;
        goto out;
    }
    memcpy(v, all, total * sizeof *v);
    qsort(v, total, sizeof *v, cmp_dbl);
    u = 0;
    for (size_t i = 0; i < total; i++)
        if (u == 0 || v[i] != v[u - 1])
            v[u++] = v[i];
    *vals = v;
    *n = u;
out:
    free(loc);
    free(all);
    free(lens);
    return result;
}

long hf__ingest_find_str(char *const *dict, size_t n, const char *s)
{
    long lo = 0, hi = (long)n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int cmp = strcmp(dict[mid], s);
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

long hf__ingest_find_dbl(const double *v, size_t n, double x)
{
    long lo = 0, hi = (long)n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (v[mid] == x)
            return mid;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Shortest %.17g form of x that reads back to the same double. */
char *hf__ingest_format_number(double x)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return hf_strdup(buf);
}
