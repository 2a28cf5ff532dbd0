/* ingest_opts.c - the data and shards sections of the job spec: the ingest's options, their
 * table, defaults and identity (see ingest.h and common/opts.h). */
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/ingest.h"
#include "shards/partition.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_task_names[] = {"regression", "classification", NULL};
static const char *const k_col_type_names[] = {"numeric", "categorical", "boolean", NULL};
static const char *const k_bad_rows_names[] = {"error", "skip", NULL};
static const char *const k_default_na[] = {"", "NA", "NaN", "null", "?"};

_Static_assert(HF_COL_NUMERIC == 0 && HF_COL_CATEGORICAL == 1 && HF_COL_BOOLEAN == 2,
               "k_col_type_names follows hf_col_type");
_Static_assert(HF_TASK_REGRESSION == 1 && HF_TASK_CLASSIFICATION == 2,
               "data.task's choices start at HF_TASK_REGRESSION");

/* One character, as a YAML scalar gives it ("\t" in double quotes is a tab). */
static int parse_delimiter(const char *t, void *opts)
{
    if (strlen(t) != 1 || t[0] == '\n' || t[0] == '"')
        return -1;
    ((hf_ingest_opts *)opts)->delimiter = t[0];
    return 0;
}

static const hf_opt_def data_defs[] = {
    {.key = "source",
     .kind = HF_OPT_STRING,
     .offset = offsetof(hf_ingest_opts, source),
     .flags = HF_OPT_HASHED | HF_OPT_REQUIRED,
     .expected = "a path, file://, s3:// or http(s):// URL",
     .help = "the CSV: a local path, file://, s3://bucket/key (or prefix/), http(s)://; .gz, .zip"},
    {.key = "target",
     .kind = HF_OPT_STRING,
     .offset = offsetof(hf_ingest_opts, target),
     .flags = HF_OPT_HASHED | HF_OPT_REQUIRED,
     .expected = "the name of the target column",
     .help = "the column to predict"},
    {.key = "task",
     .kind = HF_OPT_ENUM,
     .offset = offsetof(hf_ingest_opts, task),
     .flags = HF_OPT_HASHED,
     .choices = k_task_names,
     .first_choice = HF_TASK_REGRESSION,
     .help = "regression or classification (default: the task rule, docs/job-spec.md)"},
    {.key = "delimiter",
     .kind = HF_OPT_CUSTOM,
     .offset = offsetof(hf_ingest_opts, delimiter),
     .parse = parse_delimiter,
     .expected = "a single character such as \",\", \";\" or \"\\t\"",
     .help = "the field delimiter (default: detected)"},
    {.key = "na_values",
     .kind = HF_OPT_STRING_LIST,
     .offset = offsetof(hf_ingest_opts, na_values),
     .count_offset = offsetof(hf_ingest_opts, n_na_values),
     .flags = HF_OPT_HASHED | HF_OPT_EMPTY_ITEMS,
     .help = "cell texts read as missing (the list replaces the default)"},
    {.key = "columns",
     .kind = HF_OPT_ENUM_MAP,
     .offset = offsetof(hf_ingest_opts, column_names),
     .count_offset = offsetof(hf_ingest_opts, n_columns),
     .aux_offset = offsetof(hf_ingest_opts, column_types),
     .flags = HF_OPT_HASHED,
     .choices = k_col_type_names,
     .help = "column name -> numeric, categorical or boolean"},
    {.key = "drop",
     .kind = HF_OPT_STRING_LIST,
     .offset = offsetof(hf_ingest_opts, drop),
     .count_offset = offsetof(hf_ingest_opts, n_drop),
     .flags = HF_OPT_HASHED,
     .help = "columns to ignore"},
    {.key = "on_bad_rows",
     .kind = HF_OPT_ENUM,
     .offset = offsetof(hf_ingest_opts, skip_bad_rows),
     .flags = HF_OPT_HASHED,
     .choices = k_bad_rows_names,
     .help = "error stops at the first malformed row; skip drops and counts it"},
};

/* The delimiter is part of the identity too; CUSTOM entries are not hashed from the table, so
 * hf_ingest_opts_hash adds it. */

static int data_check(void *opts)
{
    const hf_ingest_opts *o = opts;
    char at[512];
    for (size_t i = 0; i < o->n_drop; i++)
        if (o->target && !strcmp(o->drop[i], o->target))
            return hf_error(HF_EINVAL,
                            "%s: data.drop: got \"%s\", expected a column other than the target",
                            hf_opt_where(&o->src, "data.drop", at, sizeof at), o->drop[i]);
    return HF_OK;
}

const hf_opt_section hf_data_section = {"data", data_defs, sizeof data_defs / sizeof data_defs[0],
                                        offsetof(hf_ingest_opts, src), data_check};

static const hf_opt_def shards_defs[] = {
    {.key = "count",
     .kind = HF_OPT_INT,
     .offset = offsetof(hf_ingest_opts, shard_count),
     .flags = HF_OPT_HASHED,
     .min = 1,
     .max = INT32_MAX,
     .expected = "an integer >= 1",
     .help = "number of HDF5 shard files (default: the number of ranks)"},
};

const hf_opt_section hf_shards_section = {"shards", shards_defs,
                                          sizeof shards_defs / sizeof shards_defs[0],
                                          offsetof(hf_ingest_opts, src), NULL};

int hf_ingest_opts_init(hf_ingest_opts *o)
{
    memset(o, 0, sizeof *o);
    o->na_values = hf_calloc(sizeof k_default_na / sizeof k_default_na[0], sizeof(char *));
    if (!o->na_values)
        return HF_ENOMEM;
    for (size_t i = 0; i < sizeof k_default_na / sizeof k_default_na[0]; i++) {
        o->na_values[i] = hf_strdup(k_default_na[i]);
        if (!o->na_values[i])
            return HF_ENOMEM;
        o->n_na_values++;
    }
    return HF_OK;
}

void hf_ingest_opts_release(hf_ingest_opts *o)
{
    hf_opts_release(&hf_data_section, o);
    hf_opts_release(&hf_shards_section, o);
}

int hf_ingest_opts_hash(const hf_ingest_opts *o, char out[65])
{
    char *text = NULL, buf[32];
    size_t len = 0;
    snprintf(buf, sizeof buf, "%d", HF_MANIFEST_VERSION);
    int result = hf_opts_identity_add(&text, &len, "manifest_version", buf);
    if (result >= 0)
        result = hf_opts_identity(&hf_data_section, o, &text, &len);
    snprintf(buf, sizeof buf, "%d", (int)(unsigned char)o->delimiter);
    if (result >= 0)
        result = hf_opts_identity_add(&text, &len, "data.delimiter", buf);
    if (result >= 0)
        result = hf_opts_identity(&hf_shards_section, o, &text, &len);
    const char *roles[3] = {o->fold_column, o->group_column, o->order_column};
    const char *names[3] = {"cv.fold_column", "cv.group_column", "cv.order_column"};
    for (int i = 0; i < 3 && result >= 0; i++)
        result = hf_opts_identity_add(&text, &len, names[i], roles[i] ? roles[i] : "");
    if (result >= 0)
        result = hf_sha256_hex(text, len, out);
    free(text);
    return result;
}
