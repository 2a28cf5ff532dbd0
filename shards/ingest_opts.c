/* ingest_opts.c - the data and shards sections of the job spec: the ingest's options, their
 * table, defaults and identity (see ingest.h and common/opts.h). */
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/ingest.h"
#include "shards/ingest_int.h"
#include "shards/csv.h"
#include "shards/partition.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_task_names[] = {"regression", "classification", NULL};
const char *const hf_ingest_col_type_names[] = {"numeric", "categorical", "boolean", "datetime",
                                                NULL};
static const char *const k_bad_rows_names[] = {"error", "skip", NULL};
char *const hf__ingest_default_na[HF__INGEST_N_DEFAULT_NA] = {"", "NA", "NaN", "null", "?"};

_Static_assert(HF_COL_NUMERIC == 0 && HF_COL_CATEGORICAL == 1 && HF_COL_BOOLEAN == 2 &&
                   HF__INGEST_DATETIME == 3,
               "hf_ingest_col_type_names follows hf_col_type");
_Static_assert(HF_TASK_REGRESSION == 1 && HF_TASK_CLASSIFICATION == 2,
               "data.task's choices start at HF_TASK_REGRESSION");

/* One character, as a YAML scalar gives it ("\t" in double quotes is a tab); data_check refuses
 * the characters that cannot delimit fields, with the value shown escaped. */
static int parse_delimiter(const char *t, void *opts)
{
    if (strlen(t) != 1)
        return -1;
    ((hf_ingest_opts *)opts)->delimiter = t[0];
    return 0;
}

/* Why `d` cannot be the delimiter, or NULL if it can: a line end (records end there), the quote
 * (fields are quoted with it), another control character but TAB or a non-ASCII byte (not one
 * character of text), or a character of a number ("1.5" would be cut in two). */
static const char *bad_delimiter(unsigned char d)
{
    if (d == '\r' || d == '\n')
        return "a line end";
    if (d == '"')
        return "the quote character";
    if ((d < 0x20 && d != '\t') || d >= 0x7F)
        return "a control or non-ASCII byte";
    if ((d >= '0' && d <= '9') || strchr(".+-eE", d))
        return "a character of numbers";
    return NULL;
}

static const hf_opt_def data_defs[] = {
    HF_DEF_STRING("source", hf_ingest_opts, source, HF_OPT_HASHED | HF_OPT_REQUIRED,
                  "a path, file://, s3:// or http(s):// URL",
                  "the CSV: a local path, file://, s3://bucket/key (or prefix/), http(s)://; .gz, "
                  ".zip"),
    HF_DEF_STRING("target", hf_ingest_opts, target, HF_OPT_HASHED | HF_OPT_REQUIRED,
                  "the name of the target column", "the column to predict"),
    HF_DEF_ENUM("task", hf_ingest_opts, task, HF_OPT_HASHED, k_task_names, HF_TASK_REGRESSION,
                "regression or classification (default: the task rule, docs/job-spec.md)"),
    HF_DEF_CUSTOM("delimiter", hf_ingest_opts, delimiter, 0, parse_delimiter,
                  "one character that is not CR, LF, the quote or part of a number, such as "
                  "\",\", \";\", \"|\" or \"\\t\"",
                  "the field delimiter (default: detected)"),
    {HF_OPT_FIELD("na_values", HF_OPT_STRING_LIST, hf_ingest_opts, na_values,
                  HF_OPT_HASHED | HF_OPT_EMPTY_ITEMS),
     .count_offset = offsetof(hf_ingest_opts, n_na_values),
     .help = "cell texts read as missing (the list replaces the default)"},
    HF_DEF_MAP("columns", hf_ingest_opts, column_names, column_types, n_columns, HF_OPT_HASHED,
               hf_ingest_col_type_names,
               "column name -> numeric, categorical, boolean or datetime (docs/shards.md)"),
    HF_DEF_STRING_MAP("datetime_formats", hf_ingest_opts, datetime_columns, datetime_formats,
                      n_datetime_formats, HF_OPT_HASHED, "a strptime format such as \"%d/%m/%Y\"",
                      "column name -> the strptime format of a datetime column (default: ISO "
                      "8601)"),
    HF_DEF_LIST("drop", hf_ingest_opts, drop, n_drop, HF_OPT_HASHED, "columns to ignore"),
    HF_DEF_ENUM("on_bad_rows", hf_ingest_opts, skip_bad_rows, HF_OPT_HASHED, k_bad_rows_names, 0,
                "error stops at the first malformed row; skip drops and counts it"),
    /* Not hashed: the data it puts at data.source is fingerprinted by the ingest itself. */
    HF_DEF_SUBSECTION(
        "etl", hf_ingest_opts, etl, 0, &hf_etl_section,
        "an archive extracted into S3 or a directory before the ingest (docs/etl.md)"),
};

/* The delimiter is part of the identity too; CUSTOM entries are not hashed from the table, so
 * hf_ingest_opts_hash adds it. */

static int data_check(void *opts)
{
    const hf_ingest_opts *o = opts;
    char at[512];
    const char *why = o->delimiter ? bad_delimiter((unsigned char)o->delimiter) : NULL;
    if (why) {
        char shown[16];
        hf_csv_quote_for_message(&o->delimiter, 1, shown, sizeof shown);
        return hf_error(HF_EINVAL,
                        "%s: data.delimiter: got \"%s\" (%s), expected one character that is "
                        "not CR, LF, the quote or part of a number, such as \",\", \";\", \"|\" "
                        "or \"\\t\"",
                        hf_opt_where(&o->src, "data.delimiter", at, sizeof at), shown, why);
    }
    for (size_t i = 0; i < o->n_drop; i++)
        if (o->target && !strcmp(o->drop[i], o->target))
            return hf_error(HF_EINVAL,
                            "%s: data.drop: got \"%s\", expected a column other than the target",
                            hf_opt_where(&o->src, "data.drop", at, sizeof at), o->drop[i]);
    return HF_OK;
}

const hf_opt_section hf_data_section =
    HF_OPT_SECTION("data", data_defs, hf_ingest_opts, data_check);

static const hf_opt_def shards_defs[] = {
    HF_DEF_INT("count", hf_ingest_opts, shard_count, HF_OPT_HASHED, 1, 100000,
               "number of HDF5 shard files (default: the number of ranks)"),
    /* Not hashed: where a node keeps its copy does not change the shards (local_copy.h). */
    HF_DEF_STRING("local_dir", hf_ingest_opts, local_dir, 0, "a directory path on each node",
                  "a node-local directory (a node's /tmp or NVMe): each node copies the shards "
                  "there once, checked by SHA-256, and its ranks read them there"),
};

const hf_opt_section hf_shards_section =
    HF_OPT_SECTION("shards", shards_defs, hf_ingest_opts, NULL);

int hf_ingest_opts_init(hf_ingest_opts *o)
{
    memset(o, 0, sizeof *o);
    hf_etl_opts_init(&o->etl);
    o->na_values = hf_calloc(HF__INGEST_N_DEFAULT_NA, sizeof(char *));
    if (!o->na_values)
        return HF_ENOMEM;
    for (size_t i = 0; i < HF__INGEST_N_DEFAULT_NA; i++) {
        o->na_values[i] = hf_strdup(hf__ingest_default_na[i]);
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
    /* The rules that decide which values are data: shards made before non-finite numbers were
     * refused may hold inf, so they are not reused (an ingest under these rules replaces them). */
    if (result >= 0)
        result = hf_opts_identity_add(&text, &len, "values", HF__INGEST_VALUE_RULES);
    if (result >= 0)
        result = hf_opts_identity(&hf_data_section, o, &text, &len);
    snprintf(buf, sizeof buf, "%d", (int)(unsigned char)o->delimiter);
    if (result >= 0)
        result = hf_opts_identity_add(&text, &len, "data.delimiter", buf);
    if (result >= 0)
        result = hf_opts_identity(&hf_shards_section, o, &text, &len);
    /* Added only when set: the identity of every ingest with a target stays as it was. */
    if (result >= 0 && o->no_target)
        result = hf_opts_identity_add(&text, &len, "no_target", "1");
    const char *roles[3] = {o->fold_column, o->group_column, o->order_column};
    const char *names[3] = {"cv.fold_column", "cv.group_column", "cv.order_column"};
    for (int i = 0; i < 3 && result >= 0; i++)
        result = hf_opts_identity_add(&text, &len, names[i], roles[i] ? roles[i] : "");
    if (result >= 0)
        result = hf_sha256_hex(text, len, out);
    free(text);
    return result;
}
