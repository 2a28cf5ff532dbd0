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

void hf_predict_rows_free(hf_predict_rows *r)
{
    if (!r)
        return;
    if (r->kept)
        for (size_t i = 0; i < r->n_rows * r->n_keep; i++)
            free(r->kept[i]);
    free(r->kept);
    free(r->object);
    hf_strv_free(r->objects, r->n_objects);
    free(r->object_rows);
    free(r);
}

static void free_extra(hf__predict_extra *px)
{
    free(px->y);
    free(px->keep_col);
    free(px->kept.buf);
    free(px->kept.off);
    free(px->item_rec0);
}

static void add_name(char *list, size_t cap, const char *name)
{
    size_t l = strlen(list);
    snprintf(list + l, cap - l, "%s\"%s\"", l ? ", " : "", name);
}

/* This rank's hf_predict_rows from the parsed context (collective: the object row counts). */
static int make_rows(ctx *c, const item *items, size_t n_items, hf_predict_rows **out)
{
    hf__predict_extra *px = c->px;
    /* The object row counts first, agreed: every rank then takes part in their sum whatever
     * else fails (an allocation failure on one rank must not leave the others in the sum). */
    int64_t *cnt = hf_calloc(c->n_objects + 1, sizeof *cnt);
    int result = hf_comm_check(c->comm, cnt ? HF_OK : HF_ENOMEM);
    if (result < 0) {
        free(cnt);
        return result;
    }
    hf_predict_rows *r = hf_calloc(1, sizeof *r);
    result = r ? HF_OK : HF_ENOMEM;
    if (r) {
        r->n_rows = c->nrows;
        r->n_keep = px->n_keep;
        r->n_objects = c->n_objects;
        r->kept = hf_calloc(c->nrows * px->n_keep + 1, sizeof *r->kept);
        r->object = hf_calloc(c->nrows + 1, sizeof *r->object);
        r->objects = hf_calloc(c->n_objects + 1, sizeof *r->objects);
        r->object_rows = cnt;
        cnt = NULL;
        if (!r->kept || !r->object || !r->objects)
            result = HF_ENOMEM;
    }
    for (size_t i = 0; result >= 0 && i < c->n_objects; i++)
        if (!(r->objects[i] = hf_strdup(c->objects[i].uri)))
            result = HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < c->nrows * px->n_keep; i++)
        if (!(r->kept[i] = hf_strdup(px->kept.buf + px->kept.off[i])))
            result = HF_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; result >= 0 && i < c->nrows; i++) {
        /* The item of the row: the last one starting at or before its record. */
        while (k + 1 < n_items && px->item_rec0[k + 1] <= c->ord[i])
            k++;
        r->object[i] = c->parts[items[k].part].object;
        r->object_rows[r->object[i]]++;
    }
    /* Every rank takes part in the sum with the same count, whatever its status (the caller
     * agrees on the status after). */
    int sum = hf_comm_allreduce_sum_i64(c->comm, r ? r->object_rows : cnt, c->n_objects);
    free(cnt);
    if (result >= 0)
        result = sum;
    if (result >= 0)
        *out = r;
    else
        hf_predict_rows_free(r);
    return result;
}

int hf_ingest_predict_input(hf_comm *comm, const char *uri, const hf_schema *schema,
                            const hf_source_opts *opts, hf_dataset **local)
{
    return hf_ingest_predict_input_ex(comm, uri, schema, opts, NULL, local, NULL);
}

int hf_ingest_predict_input_ex(hf_comm *comm, const char *uri, const hf_schema *schema,
                               const hf_source_opts *opts, const hf_predict_input_opts *pio,
                               hf_dataset **local, hf_predict_rows **rows)
{
    static const hf_predict_input_opts no_opts;
    ctx c;
    int result;
    item *items = NULL;
    size_t n_items = 0;
    hf_dataset *d = NULL;
    hf__name_ix *feat_by_name = NULL;
    size_t *first_feat = NULL, n_inputs = 0;
    hf__predict_extra px = {.target_col = -1};
    if (!pio)
        pio = &no_opts;
    if (rows)
        *rows = NULL;
    hf__ingest_ctx_init(&c, comm, opts, NULL, 0);
    c.px = &px;
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
    /* Match columns by name (both sides sorted: a wide header is not quadratic). The input
     * columns are the features, but a datetime column is one input for its derived features. */
    char missing[1024] = "", extra[1024] = "";
    char **feat_names = hf_calloc(schema->n_features + 1, sizeof *feat_names);
    first_feat = hf_calloc(schema->n_features + 1, sizeof *first_feat);
    for (size_t k = 0; feat_names && first_feat && k < schema->n_features;
         k += hf_schema_input_span(schema, k)) {
        first_feat[n_inputs] = k;
        feat_names[n_inputs++] = (char *)hf_schema_input_name(schema, k);
    }
    feat_by_name = feat_names && first_feat ? hf__ingest_sort_names(feat_names, n_inputs) : NULL;
    free(feat_names);
    if (result >= 0 && !feat_by_name)
        result = HF_ENOMEM;
    /* The kept columns: each must be in the header. */
    char absent[1024] = "";
    px.keep_col = hf_calloc(pio->n_keep + 1, sizeof *px.keep_col);
    if (result >= 0 && !px.keep_col)
        result = HF_ENOMEM;
    for (size_t k = 0; result >= 0 && k < pio->n_keep; k++) {
        px.keep_col[k] = hf__ingest_col_index(&c, pio->keep[k]);
        if (px.keep_col[k] < 0)
            add_name(absent, sizeof absent, pio->keep[k]);
    }
    px.n_keep = pio->n_keep;
    if (result >= 0 && absent[0])
        result = hf_error(HF_EDATA,
                          "%s: columns to keep %s are not in the header, expected columns of "
                          "the input",
                          uri, absent);
    if (result >= 0 && pio->read_target) {
        px.target_col = schema->target ? hf__ingest_col_index(&c, schema->target) : -1;
        if (px.target_col < 0)
            result = hf_error(HF_EDATA,
                              "%s: the target column \"%s\" is missing, expected it to evaluate "
                              "the model's predictions",
                              uri, schema->target ? schema->target : "");
    }
    for (size_t j = 0; result >= 0 && j < c.ncols; j++) {
        long f = hf__ingest_find_name(feat_by_name, n_inputs, c.names[j]);
        if (f >= 0)
            f = (long)first_feat[f];
        const char *nm = c.names[j];
        int known = (schema->target && strcmp(nm, schema->target) == 0) ||
                    (schema->fold_column && strcmp(nm, schema->fold_column) == 0) ||
                    (schema->group_column && strcmp(nm, schema->group_column) == 0) ||
                    (schema->order_column && strcmp(nm, schema->order_column) == 0);
        if (f >= 0) {
            c.slot[j] = (int)f;
            c.feat_of_col[j] = f;
        } else if (!known && !pio->ignore_extra_columns) {
            for (size_t k = 0; !known && k < px.n_keep; k++)
                known = px.keep_col[k] == (long)j;
            if (known)
                continue;
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "%s\"%s\"", l ? ", " : "", nm);
        }
    }
    for (size_t i = 0; result >= 0 && i < n_inputs; i++) {
        const char *nm = hf_schema_input_name(schema, first_feat[i]);
        if (hf__ingest_col_index(&c, nm) < 0) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s\"%s\"", l ? ", " : "", nm);
        }
    }
    if (result >= 0 && missing[0] && extra[0])
        result = hf_error(HF_EDATA,
                          "%s: missing feature columns %s and unknown columns %s, expected the "
                          "model's features (and optionally its target; pass other columns "
                          "through with --keep-columns or skip them with --ignore-extra-columns)",
                          uri, missing, extra);
    if (result >= 0 && missing[0])
        result = hf_error(HF_EDATA,
                          "%s: missing feature columns %s, expected every feature of the "
                          "model's schema",
                          uri, missing);
    if (result >= 0 && extra[0])
        result = hf_error(HF_EDATA,
                          "%s: unknown columns %s, expected only the model's features "
                          "(and optionally its target; pass other columns through with "
                          "--keep-columns or skip them with --ignore-extra-columns)",
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
        d->y[i] = px.target_col >= 0 ? px.y[i] : NAN;
        d->row[i] = c.ord[i] + off;
    }
    if (result >= 0) {
        d->X = c.cells ? c.cells : hf_malloc(sizeof(double));
        c.cells = NULL;
        if (!d->X)
            result = HF_ENOMEM;
    }
    if (rows) {
        int r2 = make_rows(&c, items, n_items, rows);
        if (result >= 0)
            result = r2;
    }
    result = hf__ingest_agree(&c, result);
    if (result < 0 && rows) {
        hf_predict_rows_free(*rows);
        *rows = NULL;
    }
    if (result >= 0) {
        *local = d;
        d = NULL;
    }
out:
    free(feat_by_name);
    free(first_feat);
    hf_dataset_free(d);
    hf__ingest_free_items(items, n_items);
    free_extra(&px);
    c.px = NULL;
    hf__ingest_ctx_free(&c);
    return result;
}
