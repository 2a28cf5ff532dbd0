/* predict_input.c - a CSV read with the fixed schema of a model, for hyperfold predict: each rank
 * gets its byte range of the rows (see ingest.h and ingest_int.h). */
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

int hf_ingest_predict_input(hf_comm *comm, const char *uri, const hf_schema *schema,
                            const hf_source_opts *opts, hf_dataset **local)
{
    ctx c;
    int result;
    item *items = NULL;
    size_t n_items = 0;
    hf_dataset *d = NULL;
    hf__name_ix *feat_by_name = NULL;
    hf__ingest_ctx_init(&c, comm, opts, NULL, 0);
    c.fixed = schema;
    c.mode = MODE_PREDICT;
    *local = NULL;
    result = HF_OK;
    if (c.rank == 0) {
        result = hf__ingest_enumerate(&c, uri);
        if (result >= 0)
            result = hf__ingest_read_global_header(&c);
    }
    result = hf__ingest_share_source(&c, result);
    if (result < 0)
        goto out;
    result = hf__ingest_alloc_plan(&c);
    /* Match columns by name (both sides sorted: a wide header is not quadratic). */
    char missing[1024] = "", extra[1024] = "";
    char **feat_names = hf_calloc(schema->n_features + 1, sizeof *feat_names);
    for (size_t k = 0; feat_names && k < schema->n_features; k++)
        feat_names[k] = schema->features[k].name;
    feat_by_name = feat_names ? hf__ingest_sort_names(feat_names, schema->n_features) : NULL;
    free(feat_names);
    if (result >= 0 && !feat_by_name)
        result = HF_ENOMEM;
    for (size_t j = 0; result >= 0 && j < c.ncols; j++) {
        long f = hf__ingest_find_name(feat_by_name, schema->n_features, c.names[j]);
        const char *nm = c.names[j];
        int known = (schema->target && strcmp(nm, schema->target) == 0) ||
                    (schema->fold_column && strcmp(nm, schema->fold_column) == 0) ||
                    (schema->group_column && strcmp(nm, schema->group_column) == 0) ||
                    (schema->order_column && strcmp(nm, schema->order_column) == 0);
        if (f >= 0) {
            c.slot[j] = (int)f;
            c.feat_of_col[j] = f;
        } else if (!known) {
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "%s\"%s\"", l ? ", " : "", nm);
        }
    }
    for (size_t k = 0; result >= 0 && k < schema->n_features; k++) {
        if (hf__ingest_col_index(&c, schema->features[k].name) < 0) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s\"%s\"", l ? ", " : "",
                     schema->features[k].name);
        }
    }
    if (result >= 0 && missing[0] && extra[0])
        result = hf_error(HF_EDATA,
                          "%s: missing feature columns %s and unknown columns %s, expected the "
                          "model's features (and optionally its target)",
                          uri, missing, extra);
    if (result >= 0 && missing[0])
        result = hf_error(HF_EDATA,
                          "%s: missing feature columns %s, expected every feature of the "
                          "model's schema",
                          uri, missing);
    if (result >= 0 && extra[0])
        result = hf_error(HF_EDATA,
                          "%s: unknown columns %s, expected only the model's features "
                          "(and optionally its target)",
                          uri, extra);
    c.nslots = schema->n_features;
    result = hf__ingest_agree(&c, result);
    if (result >= 0)
        result = hf__ingest_plan_items(&c, &items, &n_items);
    if (result < 0)
        goto out;
    c.ord = NULL;
    result = hf__ingest_agree(&c, hf__ingest_parse_items(&c, items, n_items));
    int64_t off = c.nrec;
    if (result >= 0)
        result = hf_comm_exscan_sum_i64(comm, &off, 1);
    if (result < 0)
        goto out;
    if (c.rank == 0)
        off = 0;
    d = hf_calloc(1, sizeof *d);
    result = d ? HF_OK : HF_ENOMEM;
    if (d) {
        d->id = hf_dataset_new_id();
        d->schema = hf_schema_clone(schema);
        d->n_rows = c.nrows;
        d->y = hf_malloc((c.nrows + 1) * sizeof *d->y);
        d->row = hf_malloc((c.nrows + 1) * sizeof *d->row);
        if (!d->schema || !d->y || !d->row)
            result = HF_ENOMEM;
    }
    for (size_t i = 0; result >= 0 && i < c.nrows; i++) {
        d->y[i] = NAN;
        d->row[i] = c.ord[i] + off;
    }
    if (result >= 0) {
        d->X = c.cells ? c.cells : hf_malloc(sizeof(double));
        c.cells = NULL;
        if (!d->X)
            result = HF_ENOMEM;
    }
    result = hf__ingest_agree(&c, result);
    if (result >= 0) {
        *local = d;
        d = NULL;
    }
out:
    free(feat_by_name);
    hf_dataset_free(d);
    hf__ingest_free_items(items, n_items);
    hf__ingest_ctx_free(&c);
    return result;
}
