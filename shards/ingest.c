/* ingest.c - parallel CSV ingest into HDF5 shards, and CSV reading with a fixed schema.
 *
 * Phases (docs/shards.md): rank 0 lists the parts and reads the header; the work is split (one
 * plain part: byte ranges with exscanned quote parity and line counts; otherwise whole parts per
 * rank); pass 1 parses numbers and infers types; pass 2 (only when a column is text) collects the
 * strings of text columns; global dictionaries are built by allgather; the shards are written
 * collectively; rank 0 writes manifest.json last. */
#include "shards/ingest_int.h"
#include "shards/csv.h"
#include "shards/datetime.h"
#include "shards/schema_json.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "common/suggest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------------------------- */

/* All ranks agree on failure; the failing rank with the lowest number supplies the message
 * verbatim (it is the earliest in source order). Collective. */
int hf__ingest_agree(ctx *c, int status)
{
    int64_t mine = status < 0 ? c->rank : c->size;
    int result = hf_comm_allreduce_min_i64(c->comm, &mine, 1);
    if (result < 0)
        return result;
    if (mine == c->size)
        return HF_OK;
    int root = (int)mine;
    int64_t code = status;
    char *msg = NULL;
    size_t len = 0;
    if (c->rank == root) {
        msg = hf_strdup(hf_error_message());
        len = msg ? strlen(msg) : 0;
    }
    result = hf_comm_bcast(c->comm, &code, sizeof code, root);
    if (result >= 0)
        result = hf_comm_bcast_blob(c->comm, &msg, &len, root);
    if (result < 0) {
        free(msg);
        return result;
    }
    if (c->rank != root) {
        hf_error_clear();
        hf_error((int)code, "%s", msg);
    }
    free(msg);
    return (int)code;
}

int hf__ingest_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return HF_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = hf_realloc(*p, nc * elem);
    if (!np)
        return HF_ENOMEM;
    *p = np;
    *cap = nc;
    return HF_OK;
}

int hf__ingest_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    int result = hf__ingest_grow((void **)buf, cap, *len + n + 1, 1);
    if (result < 0)
        return result;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return HF_OK;
}

/* Appends a CSV-quoted field. */
int hf__ingest_append_quoted(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    int result = hf__ingest_append(buf, len, cap, "\"", 1);
    size_t i = 0;
    while (result >= 0 && i < n) {
        const char *q = memchr(s + i, '"', n - i);
        size_t e = q ? (size_t)(q - s) + 1 : n;
        result = hf__ingest_append(buf, len, cap, s + i, e - i);
        if (result >= 0 && q)
            result = hf__ingest_append(buf, len, cap, "\"", 1);
        i = e;
    }
    if (result >= 0)
        result = hf__ingest_append(buf, len, cap, "\"", 1);
    return result;
}

/* ---- source enumeration (rank 0) and broadcast ------------------------------------------- */

/* ---- work split ------------------------------------------------------------------------------ */

/* ---- record handling --------------------------------------------------------------------------
 */

/* ---- dictionaries ------------------------------------------------------------------------------
 */

/* ---- context setup --------------------------------------------------------------------------- */

void hf__ingest_ctx_free(ctx *c)
{
    for (size_t i = 0; i < c->n_objects; i++) {
        free(c->objects[i].uri);
        free(c->objects[i].open);
        free(c->objects[i].fingerprint);
    }
    free(c->objects);
    for (size_t i = 0; i < c->n_parts; i++) {
        free(c->parts[i].uri);
        free(c->parts[i].open);
        free(c->parts[i].entry);
    }
    free(c->parts);
    hf_strv_free(c->names, c->ncols);
    free(c->role);
    free(c->slot);
    free(c->forced);
    free(c->slot_col);
    free(c->by_name);
    free(c->feat_of_col);
    free(c->cells);
    free(c->ord);
    free(c->rejected_ord);
    free(c->not_numeric);
    free(c->not_bool);
    free(c->not_dt);
    free(c->dt_pending);
    free(c->dt_format);
    hf_strv_free(c->first_text, c->ncols);
    free(c->rejects);
    free(c->text_slot);
    free(c->kind);
    free(c->check_slot);
    free(c->check_role);
    free(c->spans);
    free(c->is_bool);
    free(c->text_col_slot);
    if (c->arenas) {
        for (size_t i = 0; i < c->ncols; i++) {
            free(c->arenas[i].buf);
            free(c->arenas[i].off);
        }
        free(c->arenas);
    }
    hf_csv_fields_free(&c->fields);
}

long hf__ingest_col_index(const ctx *c, const char *name)
{
    if (c->by_name)
        return hf__ingest_find_name(c->by_name, c->ncols, name);
    for (size_t j = 0; j < c->ncols; j++)
        if (strcmp(c->names[j], name) == 0)
            return (long)j;
    return -1;
}

int hf__ingest_alloc_plan(ctx *c)
{
    c->role = hf_calloc(c->ncols + 1, sizeof *c->role);
    c->slot = hf_calloc(c->ncols + 1, sizeof *c->slot);
    c->forced = hf_calloc(c->ncols + 1, sizeof *c->forced);
    c->slot_col = hf_calloc(c->ncols + 1, sizeof *c->slot_col);
    c->feat_of_col = hf_calloc(c->ncols + 1, sizeof *c->feat_of_col);
    c->not_numeric = hf_calloc(c->ncols + 1, sizeof *c->not_numeric);
    c->not_bool = hf_calloc(c->ncols + 1, sizeof *c->not_bool);
    c->not_dt = hf_calloc(c->ncols + 1, sizeof *c->not_dt);
    c->dt_pending = hf_calloc(c->ncols + 1, sizeof *c->dt_pending);
    c->dt_format = hf_calloc(c->ncols + 1, sizeof *c->dt_format);
    c->first_text = hf_calloc(c->ncols + 1, sizeof *c->first_text);
    c->text_slot = hf_calloc(c->ncols + 1, sizeof *c->text_slot);
    c->kind = hf_calloc(c->ncols + 1, 1);
    c->arenas = hf_calloc(c->ncols + 1, sizeof *c->arenas);
    free(c->by_name);
    c->by_name = hf__ingest_sort_names(c->names, c->ncols);
    if (!c->by_name || !c->role || !c->slot || !c->forced || !c->slot_col || !c->feat_of_col ||
        !c->not_numeric || !c->not_bool || !c->first_text || !c->text_slot || !c->arenas ||
        !c->kind || !c->not_dt || !c->dt_pending || !c->dt_format)
        return HF_ENOMEM;
    for (size_t j = 0; j < c->ncols; j++) {
        c->forced[j] = -1;
        c->slot[j] = -1;
        c->feat_of_col[j] = -1;
    }
    c->na_max = 0;
    for (size_t i = 0; i < c->n_na; i++)
        if (strlen(c->na[i]) > c->na_max)
            c->na_max = strlen(c->na[i]);
    return HF_OK;
}

/* What decided the task and how to change it, for messages about a target that does not fit. */
static const char *task_hint(const ctx *c)
{
    return c->o->task_hint ? c->o->task_hint : "set data.task: regression or classification";
}

/* HF_EDATA for a column `name` (of spec key `key`) that the header lacks: the closest header
 * name as a suggestion, then the header's names (at most 20). */
static int no_such_column(const ctx *c, const char *name, const char *key)
{
    char list[1024];
    size_t o = 0, shown = 0;
    list[0] = '\0';
    for (size_t j = 0; j < c->ncols && o < sizeof list - 64; j++, shown++) {
        if (shown == 20)
            break;
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", j ? ", " : "", c->names[j]);
    }
    if (shown < c->ncols)
        snprintf(list + o, sizeof list - o, " and %zu more", c->ncols - shown);
    const char *sug = hf_suggest(name, (const char *const *)c->names, c->ncols);
    if (sug)
        return hf_error(HF_EDATA,
                        "%s: got the column \"%s\", which is not in the header of %s: did you "
                        "mean \"%s\"? (columns: %s)",
                        key, name, c->parts[0].uri, sug, list);
    return hf_error(HF_EDATA,
                    "%s: got the column \"%s\", which is not in the header of %s, expected one of "
                    "%s",
                    key, name, c->parts[0].uri, list);
}

static int set_role(ctx *c, const char *name, int role, const char *key)
{
    long j = hf__ingest_col_index(c, name);
    if (j < 0)
        return no_such_column(c, name, key);
    if (c->role[j] != ROLE_FEATURE && c->role[j] != role)
        return hf_error(HF_EDATA, "%s: got the column \"%s\", which already has another role", key,
                        name);
    c->role[j] = role;
    return HF_OK;
}

/* Ingest column plan from the options. */
static int plan_columns(ctx *c)
{
    const hf_ingest_opts *sp = c->o;
    int result = hf__ingest_alloc_plan(c);
    if (result < 0)
        return result;
    if (!sp->target && !sp->no_target)
        return hf_error(HF_EINVAL, "data.target: got nothing, expected a column name");
    for (size_t i = 0; result >= 0 && i < sp->n_drop; i++)
        result = set_role(c, sp->drop[i], ROLE_DROP, "data.drop");
    if (result >= 0 && !sp->no_target)
        result = set_role(c, sp->target, ROLE_TARGET, "data.target");
    if (result >= 0 && sp->fold_column)
        result = set_role(c, sp->fold_column, ROLE_FOLD, "cv.fold_column");
    if (result >= 0 && sp->group_column)
        result = set_role(c, sp->group_column, ROLE_GROUP, "cv.group_column");
    if (result >= 0 && sp->order_column)
        result = set_role(c, sp->order_column, ROLE_ORDER, "cv.order_column");
    for (size_t i = 0; result >= 0 && i < sp->n_columns; i++) {
        long j = hf__ingest_col_index(c, sp->column_names[i]);
        if (j < 0)
            result = no_such_column(c, sp->column_names[i], "data.columns");
        else
            c->forced[j] = sp->column_types[i];
    }
    /* A stated format makes the column datetime; data.columns may say so too, nothing else. */
    for (size_t i = 0; result >= 0 && i < sp->n_datetime_formats; i++) {
        long j = hf__ingest_col_index(c, sp->datetime_columns[i]);
        if (j < 0) {
            result = no_such_column(c, sp->datetime_columns[i], "data.datetime_formats");
        } else if (c->forced[j] >= 0 && c->forced[j] != HF__INGEST_DATETIME) {
            result = hf_error(HF_EDATA,
                              "data.datetime_formats: got the column \"%s\", which data.columns "
                              "makes %s, expected a datetime column",
                              c->names[j], hf_col_type_name((hf_col_type)c->forced[j]));
        } else {
            c->forced[j] = HF__INGEST_DATETIME;
            c->dt_format[j] = sp->datetime_formats[i];
        }
    }
    for (size_t j = 0; result >= 0 && j < c->ncols; j++)
        if (c->forced[j] == HF__INGEST_DATETIME && c->role[j] != ROLE_FEATURE &&
            c->role[j] != ROLE_ORDER && c->role[j] != ROLE_DROP)
            result = hf_error(HF_EDATA,
                              "data.columns: got datetime for the column \"%s\", which is the "
                              "target, fold or group column, expected a feature or "
                              "cv.order_column",
                              c->names[j]);
    if (result < 0)
        return result;
    for (size_t j = 0; j < c->ncols; j++) {
        if (c->role[j] == ROLE_DROP)
            continue;
        c->slot[j] = (int)c->nslots;
        c->slot_col[c->nslots++] = (int)j;
    }
    for (size_t s = 0; s < c->nslots; s++)
        c->dt_pending[c->n_dt_pending++] = (int)s;
    return HF_OK;
}

/* ---- shards ------------------------------------------------------------------------------------
 */

/* The whole ingest after the source is shared. Collective. */
/* Collective. The types of the columns from every rank's evidence, and each rank's offsets in
 * the global row and record order (exscans). *flags is 3 x nslots: not numeric, not boolean, not
 * an ISO date and time. */
static int count_and_flags(ctx *c, built *b, int64_t **flags)
{
    size_t ns = c->nslots;
    int64_t *f = hf_calloc(3 * ns + 1, sizeof *f);
    int result = hf__ingest_agree(c, f ? HF_OK : HF_ENOMEM);
    if (result < 0) {
        free(f);
        return result;
    }
    for (size_t s = 0; s < ns; s++) {
        f[s] = c->not_numeric[s];
        f[ns + s] = c->not_bool[s];
        f[2 * ns + s] = c->not_dt[s];
    }
    result = hf_comm_allreduce_max_i64(c->comm, f, 3 * ns);
    int64_t counts[3] = {(int64_t)c->nrows, c->nrec, (int64_t)c->n_rejected};
    memcpy(b->offs, counts, sizeof counts);
    if (result >= 0)
        result = hf_comm_exscan_sum_i64(c->comm, b->offs, 3);
    if (result >= 0)
        result = hf_comm_allreduce_sum_i64(c->comm, counts, 3);
    if (result < 0) {
        free(f);
        return result;
    }
    memcpy(b->counts, counts, sizeof counts);
    if (c->rank == 0)
        b->offs[0] = b->offs[1] = b->offs[2] = 0;
    *flags = f;
    return HF_OK;
}

/* Not collective (the same on every rank): the schema from the column plan and the global type
 * flags; which slots hold the target, fold, group and order columns; whether a second pass must
 * collect strings. */
static int build_schema(ctx *c, built *b, const int64_t *flags)
{
    const size_t ns = c->nslots;
    hf_schema *schema = hf_calloc(1, sizeof *schema);
    b->schema = schema;
    b->nf = 0;
    /* The type of each feature column first: a datetime column becomes HF_DT_N_PARTS features. */
    int *type = hf_calloc(c->ncols + 1, sizeof *type);
    for (size_t j = 0; type && j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0 || c->role[j] != ROLE_FEATURE)
            continue;
        int notnum = (int)flags[s], notbool = (int)flags[ns + s], notdt = (int)flags[2 * ns + s];
        type[j] = c->forced[j] >= 0 ? c->forced[j]
                  : !notnum         ? HF_COL_NUMERIC
                  : !notbool        ? HF_COL_BOOLEAN
                  : !notdt          ? HF__INGEST_DATETIME
                                    : HF_COL_CATEGORICAL;
        b->nf += type[j] == HF__INGEST_DATETIME ? HF_DT_N_PARTS : 1;
    }
    if (schema)
        schema->features = hf_calloc(b->nf + 1, sizeof *schema->features);
    b->feat_slot = hf_calloc(b->nf + 1, sizeof *b->feat_slot);
    b->feat_part = hf_calloc(b->nf + 1, sizeof *b->feat_part);
    int result =
        schema && schema->features && b->feat_slot && b->feat_part && type ? HF_OK : HF_ENOMEM;
    int local_err = HF_OK;
    b->target_slot = b->fold_slot = b->group_slot = b->order_slot = -1;
    for (size_t j = 0; result >= 0 && j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0)
            continue;
        int notnum = (int)flags[s], notdt = (int)flags[2 * ns + s];
        switch (c->role[j]) {
        case ROLE_FEATURE: {
            int t = type[j];
            if (t == HF__INGEST_DATETIME) {
                /* COL.year, ..., COL.elapsed_days: numeric, derived (not fitted) from the time
                 * in the cell; each records its source, part and format for predict and serve. */
                for (int part = 1; result >= 0 && part <= HF_DT_N_PARTS; part++) {
                    hf_column *col = &schema->features[schema->n_features];
                    b->feat_part[schema->n_features] = part;
                    b->feat_slot[schema->n_features++] = s;
                    col->type = HF_COL_NUMERIC;
                    col->part = part;
                    col->name = hf_asprintf("%s.%s", c->names[j], hf_dt_part_name(part));
                    col->source = hf_strdup(c->names[j]);
                    col->format = c->dt_format[j] ? hf_strdup(c->dt_format[j]) : NULL;
                    if (!col->name || !col->source || (c->dt_format[j] && !col->format))
                        result = HF_ENOMEM;
                    else if (hf__ingest_col_index(c, col->name) >= 0)
                        local_err = hf_error(HF_EDATA,
                                             "data: the datetime column \"%s\" gives the feature "
                                             "\"%s\", which is also a column of the header, "
                                             "expected distinct names (drop or rename that "
                                             "column, or set data.columns: {%s: categorical})",
                                             c->names[j], col->name, c->names[j]);
                }
                break;
            }
            hf_column *col = &schema->features[schema->n_features];
            b->feat_slot[schema->n_features++] = s;
            col->name = hf_strdup(c->names[j]);
            if (!col->name)
                result = HF_ENOMEM;
            col->type = (hf_col_type)t;
            if (t == HF_COL_BOOLEAN) {
                col->categories = hf_calloc(2, sizeof *col->categories);
                if (col->categories) {
                    col->n_categories = 2;
                    col->categories[0] = hf_strdup("false");
                    col->categories[1] = hf_strdup("true");
                }
                if (!col->categories || !col->categories[0] || !col->categories[1])
                    result = HF_ENOMEM;
            } else if (t == HF_COL_CATEGORICAL) {
                c->text_slot[s] = 1;
                b->need_pass2 = 1;
            }
            break;
        }
        case ROLE_TARGET:
            b->target_slot = s;
            schema->target = hf_strdup(c->names[j]);
            if (!schema->target)
                result = HF_ENOMEM;
            if (notnum && c->o->task == HF_TASK_REGRESSION && c->first_text[s])
                local_err = hf_error(HF_EDATA, "%s, expected a number (%s)", c->first_text[s],
                                     task_hint(c));
            /* data.columns may declare the target's type: categorical or boolean labels make a
             * classification (numeric labels keep their numeric order), never a regression. */
            int labels = c->forced[j] == HF_COL_CATEGORICAL || c->forced[j] == HF_COL_BOOLEAN;
            if (labels && c->o->task == HF_TASK_REGRESSION)
                local_err = hf_error(HF_EDATA,
                                     "data.columns: got %s for the target \"%s\", expected "
                                     "numeric for a regression (%s)",
                                     hf_col_type_name((hf_col_type)c->forced[j]), c->names[j],
                                     task_hint(c));
            schema->task = notnum || labels || c->o->task == HF_TASK_CLASSIFICATION
                               ? HF_TASK_CLASSIFICATION
                               : HF_TASK_REGRESSION;
            if (notnum) {
                c->text_slot[s] = 1;
                b->need_pass2 = 1;
            }
            break;
        case ROLE_FOLD:
            b->fold_slot = s;
            schema->fold_column = hf_strdup(c->names[j]);
            break;
        case ROLE_GROUP:
            b->group_slot = s;
            schema->group_column = hf_strdup(c->names[j]);
            if (notnum) {
                c->text_slot[s] = 1;
                b->need_pass2 = 1;
            }
            break;
        case ROLE_ORDER:
            b->order_slot = s;
            schema->order_column = hf_strdup(c->names[j]);
            /* Numbers, or dates and times (ordered by their time), not both. */
            if (notnum && notdt && c->forced[j] != HF__INGEST_DATETIME)
                local_err = hf_error(HF_EDATA,
                                     "%s: cv.order_column \"%s\": got both numbers and dates, "
                                     "expected numbers or ISO 8601 dates and times only",
                                     c->parts[0].uri, c->names[j]);
            break;
        default:
            break;
        }
    }
    free(type);
    /* Without a target (o->no_target): the schema's target stays NULL; the task is regression
     * so that the manifest reads back (its "target": null says there is none). */
    if (schema && b->target_slot < 0)
        schema->task = HF_TASK_REGRESSION;
    return result >= 0 ? local_err : result;
}

/* Collective. Text columns (and text targets and groups) become codes into their global sorted
 * dictionaries; numeric class labels and numeric group codes become indices into their sorted
 * distinct values. */
static int encode_codes(ctx *c, built *b)
{
    const size_t ns = c->nslots;
    hf_schema *schema = b->schema;
    char **dict = NULL;
    size_t n_dict = 0, n_vals = 0;
    double *vals = NULL;
    int result = HF_OK;
    size_t f = 0; /* feature f has slot b->feat_slot[f]; both increase with the column */
    for (size_t s = 0; s < ns && result >= 0; s++) {
        if (!c->text_slot[s])
            continue;
        result = hf__ingest_global_dict(c, &c->arenas[s], &dict, &n_dict);
        if (result < 0)
            break;
        for (size_t i = 0; i < c->nrows; i++) {
            int64_t o = c->arenas[s].off[i];
            c->cells[i * ns + s] =
                o < 0 ? NAN : (double)hf__ingest_find_str(dict, n_dict, c->arenas[s].buf + o);
        }
        int j = c->slot_col[s];
        if ((int)s == b->target_slot) {
            schema->classes = dict;
            schema->n_classes = n_dict;
        } else if (c->role[j] == ROLE_FEATURE) {
            while (f < b->nf && b->feat_slot[f] < (int)s)
                f++;
            schema->features[f].categories = dict;
            schema->features[f].n_categories = n_dict;
        } else {
            hf_strv_free(dict, n_dict);
        }
        dict = NULL;
        n_dict = 0;
    }
    const int ts = b->target_slot, gs = b->group_slot;
    if (result >= 0 && ts >= 0 && schema->task == HF_TASK_CLASSIFICATION && !c->text_slot[ts]) {
        result = hf__ingest_global_values(c, ts, &vals, &n_vals);
        /* Numeric class labels must be whole numbers (scikit-learn's classifiers refuse a
         * "continuous" target likewise): 0.5 is a measurement, not a class. */
        for (size_t i = 0; result >= 0 && i < n_vals; i++)
            if (vals[i] != floor(vals[i]))
                result = hf_error(HF_EDATA,
                                  "%s: data.target \"%s\": got %g, expected whole-number class "
                                  "labels (%s)",
                                  c->parts[0].uri, schema->target, vals[i], task_hint(c));
        if (result >= 0) {
            schema->classes = hf_calloc(n_vals + 1, sizeof *schema->classes);
            result = schema->classes ? HF_OK : HF_ENOMEM;
            for (size_t i = 0; result >= 0 && i < n_vals; i++) {
                schema->classes[i] = hf__ingest_format_number(vals[i]);
                schema->n_classes = i + 1;
                if (!schema->classes[i])
                    result = HF_ENOMEM;
            }
            for (size_t i = 0; result >= 0 && i < c->nrows; i++) {
                double v = c->cells[i * ns + (size_t)ts];
                c->cells[i * ns + (size_t)ts] = (double)hf__ingest_find_dbl(vals, n_vals, v);
            }
        }
        free(vals);
        vals = NULL;
    }
    if (result >= 0 && gs >= 0 && !c->text_slot[gs]) {
        result = hf__ingest_global_values(c, gs, &vals, &n_vals);
        for (size_t i = 0; result >= 0 && i < c->nrows; i++) {
            double v = c->cells[i * ns + (size_t)gs];
            c->cells[i * ns + (size_t)gs] = (double)hf__ingest_find_dbl(vals, n_vals, v);
        }
        free(vals);
    }
    hf_strv_free(dict, n_dict);
    return result;
}

/* Not collective. Splits the cells into X, y, row, fold, group and order (X compacted in place in
 * the cells). */
static int split_cells(ctx *c, built *b)
{
    const size_t ns = c->nslots, n = c->nrows, nf = b->nf;
    b->y = hf_malloc((n + 1) * sizeof *b->y);
    b->rowpos = hf_malloc((n + 1) * sizeof *b->rowpos);
    b->fold = b->fold_slot >= 0 ? hf_malloc((n + 1) * sizeof *b->fold) : NULL;
    b->group = b->group_slot >= 0 ? hf_malloc((n + 1) * sizeof *b->group) : NULL;
    b->order = b->order_slot >= 0 ? hf_malloc((n + 1) * sizeof *b->order) : NULL;
    if (!b->y || !b->rowpos || (b->fold_slot >= 0 && !b->fold) ||
        (b->group_slot >= 0 && !b->group) || (b->order_slot >= 0 && !b->order))
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const double *r = c->cells + i * ns;
        b->y[i] = b->target_slot >= 0 ? r[b->target_slot] : NAN;
        b->rowpos[i] = c->ord[i] + b->offs[1];
        if (b->fold)
            b->fold[i] = (int64_t)r[b->fold_slot];
        if (b->group)
            b->group[i] = (int64_t)r[b->group_slot];
        if (b->order)
            b->order[i] = r[b->order_slot];
    }
    int derived = 0;
    for (size_t k = 0; k < nf; k++)
        derived |= b->feat_part[k] != 0;
    if (derived) {
        /* A datetime column's time becomes several features: the rows grow, into new memory. */
        double *X = hf_malloc((n ? n : 1) * (nf ? nf : 1) * sizeof *X);
        if (!X)
            return HF_ENOMEM;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < nf; k++) {
                double v = c->cells[i * ns + (size_t)b->feat_slot[k]];
                X[i * nf + k] = b->feat_part[k] ? hf_dt_part_value(v, b->feat_part[k]) : v;
            }
        free(c->cells);
        c->cells = X;
        c->cap_cells = (n ? n : 1) * (nf ? nf : 1);
        b->X = X;
        return HF_OK;
    }
    /* Slots of features increase with the feature index, so row i moves down (never over bytes
     * not yet moved), one memmove per run of consecutive slots. */
    double *X = c->cells;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nf;) {
            size_t run = 1;
            while (k + run < nf && b->feat_slot[k + run] == b->feat_slot[k] + (int)run)
                run++;
            memmove(X + i * nf + k, X + i * ns + (size_t)b->feat_slot[k], run * sizeof *X);
            k += run;
        }
    }
    b->X = X;
    return HF_OK;
}

static void built_free(built *b)
{
    hf_schema_free(b->schema);
    free(b->feat_slot);
    free(b->feat_part);
    free(b->y);
    free(b->order);
    free(b->fold);
    free(b->group);
    free(b->rowpos);
    memset(b, 0, sizeof *b);
}

/* Collective. The whole ingest after the header: plan, pass 1, types, pass 2, codes, arrays,
 * shards, rejected rows; on success the manifest's schema, rows and shards are filled. */
void hf__ingest_ctx_init(ctx *c, hf_comm *comm, const hf_source_opts *opts, char *const *na,
                         size_t n_na)
{
    memset(c, 0, sizeof *c);
    c->comm = comm;
    c->rank = hf_comm_rank(comm);
    c->size = hf_comm_size(comm);
    c->opts = opts;
    c->na = na ? na : hf__ingest_default_na;
    c->n_na = na ? n_na : HF__INGEST_N_DEFAULT_NA;
}

static int ingest_data(ctx *c, const char *dir, const char *rejects_path, hf_manifest *m)
{
    item *items = NULL;
    size_t n_items = 0;
    int64_t *flags = NULL;
    built b = {0};
    int result = hf__ingest_agree(c, plan_columns(c));
    double t0 = hf_now();
    if (result >= 0)
        result = hf__ingest_plan_items(c, &items, &n_items);
    double t_plan = hf_now();
    c->mode = MODE_PASS1;
    if (result >= 0)
        result = hf__ingest_agree(c, hf__ingest_parse_items(c, items, n_items));
    double t_pass1 = hf_now();
    hf_debug("ingest: split %.3fs, pass 1 %.3fs (%zu rows)", t_plan - t0, t_pass1 - t_plan,
             c->nrows);
    if (result >= 0)
        result = count_and_flags(c, &b, &flags);
    if (result >= 0)
        result = hf__ingest_agree(c, build_schema(c, &b, flags));
    if (result >= 0 && b.need_pass2) {
        c->mode = MODE_PASS2;
        c->pass2_row = 0;
        c->pass2_rej = 0;
        result = hf__ingest_agree(c, hf__ingest_parse_items(c, items, n_items));
        if (result >= 0 && c->pass2_row != c->nrows)
            result = hf_error(HF_EIO, "%s: the source changed during the ingest", c->parts[0].uri);
        result = hf__ingest_agree(c, result);
    }
    /* The source bytes are not read again: unmap / free them before the shards are built. */
    hf__ingest_release_items(items, n_items);
    if (result >= 0)
        result = hf__ingest_agree(c, encode_codes(c, &b));
    if (result >= 0)
        result = hf__ingest_agree(c, split_cells(c, &b));
    double t_write = hf_now();
    hf_debug("ingest: types, codes and arrays %.3fs", t_write - t_pass1);
    if (result >= 0)
        result = hf__ingest_write_shards(c, dir, &b, m);
    if (result >= 0 && c->skip_bad)
        result = hf__ingest_write_rejects(c, rejects_path, b.counts[2]);
    if (result >= 0) {
        m->schema = b.schema;
        b.schema = NULL;
        m->n_rows = b.counts[0];
        m->n_rejected = b.counts[2];
        m->has_fold = b.fold_slot >= 0;
        m->has_group = b.group_slot >= 0;
        m->has_order = b.order_slot >= 0;
    }
    free(flags);
    hf__ingest_free_items(items, n_items);
    built_free(&b);
    return result;
}

/* Fills the manifest's sources from the context. */
static int manifest_sources(ctx *c, hf_manifest *m)
{
    m->version = HF_MANIFEST_VERSION;
    m->sources = hf_calloc(c->n_objects + 1, sizeof *m->sources);
    m->fingerprints = hf_calloc(c->n_objects + 1, sizeof *m->fingerprints);
    if (!m->sources || !m->fingerprints)
        return HF_ENOMEM;
    m->n_sources = c->n_objects;
    for (size_t i = 0; i < c->n_objects; i++) {
        m->sources[i] = hf_strdup(c->objects[i].uri);
        m->fingerprints[i] = hf_strdup(c->objects[i].fingerprint);
        if (!m->sources[i] || !m->fingerprints[i])
            return HF_ENOMEM;
    }
    return HF_OK;
}

/* 1 if the existing manifest matches the current spec hash and fingerprints. Rank 0 only. */
static int manifest_matches(ctx *c, const hf_manifest *old, const char *hash)
{
    if (strcmp(old->spec_hash, hash) != 0 || old->n_sources != c->n_objects)
        return 0;
    for (size_t i = 0; i < c->n_objects; i++)
        if (strcmp(old->sources[i], c->objects[i].uri) != 0 ||
            strcmp(old->fingerprints[i], c->objects[i].fingerprint) != 0)
            return 0;
    return 1;
}

/* Rank 0, after an ingest or its reuse: one warning line per categorical feature whose one-hot
 * block would be ID-like or very wide (docs/preprocessing.md, "One-hot"): more than
 * HF_INGEST_WIDE_LEVELS distinct values, or more than HF_INGEST_ID_LEVELS and at least half as
 * many as there are rows. Each value becomes a dense column of the design matrix. */
static void warn_wide_categoricals(const hf_manifest *m)
{
    const hf_schema *s = hf_manifest_schema(m);
    int64_t rows = hf_manifest_n_rows(m);
    for (size_t j = 0; j < s->n_features; j++) {
        const hf_column *col = &s->features[j];
        size_t k = col->n_categories;
        if (col->type != HF_COL_CATEGORICAL)
            continue;
        int id_like = k > HF_INGEST_ID_LEVELS && (int64_t)k * 2 >= rows;
        if (!id_like && k <= HF_INGEST_WIDE_LEVELS)
            continue;
        double gib = (double)k * (double)rows * sizeof(double) / (1024.0 * 1024.0 * 1024.0);
        hf_warn("data: column \"%s\" is categorical with %zu distinct values in %lld rows%s: "
                "one-hot encoding makes %zu dense columns (%.2f GiB for the rows); if it is an "
                "identifier, drop it (data.drop) or use it as cv.group_column",
                col->name, k, (long long)rows, id_like ? " (ID-like)" : "", k, gib);
    }
}

int hf_ingest(hf_comm *comm, const hf_ingest_opts *spec, const char *shard_dir,
              const hf_source_opts *opts, const char *rejects_path, hf_manifest **out, int *reused)
{
    ctx c;
    int result;
    char hash[65];
    char *text = NULL;
    size_t len = 0;
    hf_manifest *m = NULL;
    hf__ingest_ctx_init(&c, comm, opts, spec->na_values, spec->n_na_values);
    c.o = spec;
    c.skip_bad = spec->skip_bad_rows && rejects_path;
    *out = NULL;
    *reused = 0;
    result = hf_ingest_opts_hash(spec, hash);
    if (result >= 0 && c.rank == 0) {
        result = hf_fs_mkdirs(shard_dir);
        if (result >= 0 && !spec->source)
            result = hf_error(HF_EINVAL, "data.source: got nothing, expected a path or URI");
        if (result >= 0)
            result = hf__ingest_enumerate(&c, spec->source);
        if (result >= 0)
            result = hf__ingest_read_global_header(&c);
    }
    result = hf__ingest_share_source(&c, result);
    if (result < 0)
        goto out;

    /* Reuse: rank 0 checks hash and fingerprints; every rank verifies its share of the hashes. */
    if (c.rank == 0) {
        hf_manifest *old = NULL;
        char *mp = hf_manifest_path(shard_dir);
        int exists = mp && hf_fs_exists(mp), readable = exists;
        if (exists && hf_manifest_read(shard_dir, &old) < 0) {
            hf_warn("%s; ingesting again", hf_error_message());
            readable = 0;
        }
        if (readable && manifest_matches(&c, old, hash))
            text = hf_manifest_to_json(old);
        hf_error_clear();
        free(mp);
        hf_manifest_free(old);
        len = text ? strlen(text) + 1 : 0;
    }
    result = hf_comm_bcast(comm, &len, sizeof len, 0);
    if (result >= 0 && len > 0) {
        result = hf_comm_bcast_blob(comm, &text, &len, 0);
        if (result >= 0)
            result = hf_manifest_from_json(text, "manifest.json", &m);
        int64_t ok =
            result >= 0 ? hf_shards_verify(shard_dir, m, (size_t)c.rank, (size_t)c.size) : 0;
        result = hf__ingest_agree(&c, result);
        if (result >= 0)
            result = hf_comm_allreduce_min_i64(comm, &ok, 1);
        if (result < 0)
            goto out;
        if (ok == 1) {
            *out = m;
            m = NULL;
            *reused = 1;
            if (c.rank == 0)
                hf_info("reusing the ingest in %s (%lld rows)", shard_dir,
                        (long long)(*out)->n_rows);
            goto out;
        }
        hf_manifest_free(m);
        m = NULL;
    }
    if (result < 0)
        goto out;
    result = c.rank == 0 ? hf__ingest_remove_old(shard_dir) : HF_OK;
    result = hf__ingest_agree(&c, result);
    if (result < 0)
        goto out;
    m = hf_calloc(1, sizeof *m);
    result = m ? manifest_sources(&c, m) : HF_ENOMEM;
    if (result >= 0) {
        memcpy(m->spec_hash, hash, sizeof hash);
        result = hf__ingest_agree(&c, result);
    }
    if (result >= 0)
        result = ingest_data(&c, shard_dir, rejects_path, m);
    if (result >= 0 && c.rank == 0) {
        /* The fingerprint text is derived; compute it by a JSON round trip. */
        hf_test_kill_point("manifest");
        result = hf_manifest_write(shard_dir, m);
    }
    result = hf__ingest_agree(&c, result);
    if (result >= 0) {
        free(text);
        text = hf_manifest_to_json(m);
        hf_manifest_free(m);
        m = NULL;
        result = text ? hf_manifest_from_json(text, "manifest.json", &m) : HF_ENOMEM;
        result = hf__ingest_agree(&c, result);
    }
    if (result >= 0) {
        *out = m;
        m = NULL;
    }
out:
    if (result >= 0 && *out && c.rank == 0)
        warn_wide_categoricals(*out);
    free(text);
    hf_manifest_free(m);
    hf__ingest_ctx_free(&c);
    return result;
}

/* ---- prediction input ---------------------------------------------------------------------------
 */
