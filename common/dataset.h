/* dataset.h - the in-memory table every rank works on, and its schema.
 *
 * After ingest, each rank loads the rows it needs from the HDF5 shards into an hf_dataset. Feature
 * values are doubles in row-major order; categorical and boolean columns hold their category code
 * (0..n_categories-1, categories sorted) as a double; a missing value is NAN. The target is a
 * double: the value for regression, the class index (into schema->classes, sorted) for
 * classification. */
#ifndef HF_DATASET_H
#define HF_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum hf_task_kind {
    HF_TASK_AUTO = 0, /* not decided yet: the target decides at ingest (not numeric: classes) */
    HF_TASK_REGRESSION = 1,
    HF_TASK_CLASSIFICATION = 2
} hf_task_kind;

typedef enum hf_col_type {
    HF_COL_NUMERIC = 0,
    HF_COL_CATEGORICAL = 1, /* codes into `categories` */
    HF_COL_BOOLEAN = 2      /* codes: 0 = false, 1 = true */
} hf_col_type;

/* "regression", "classification", or "auto" (not decided yet): the names the spec, the schema
 * JSON and model.h5 use. */
const char *hf_task_name(hf_task_kind t);
/* "numeric", "categorical", "boolean". */
const char *hf_col_type_name(hf_col_type t);

typedef struct hf_column {
    char *name;
    hf_col_type type;
    char **categories; /* sorted, for CATEGORICAL ("false","true" for BOOLEAN); else NULL */
    size_t n_categories;
    /* A feature derived from a datetime column (docs/shards.md): NUMERIC, named "SOURCE.PART",
     * computed from the raw column `source` of the input, `part` an hf_dt_part
     * (shards/datetime.h), `format` the strptime format the column is read with (NULL: ISO
     * 8601). The derived features of one source are consecutive, in part order. source NULL and
     * part 0 for every other feature. */
    char *source;
    int part;
    char *format;
} hf_column;

typedef struct hf_schema {
    size_t n_features;
    hf_column *features; /* feature columns, in source order (target, fold, group, order and
                            dropped columns excluded) */
    char *target;
    hf_task_kind task; /* never AUTO once ingested */
    char **classes;    /* classification: sorted class labels as text; else NULL */
    size_t n_classes;
    char *fold_column;  /* NULL unless cv.strategy predefined */
    char *group_column; /* NULL unless cv.strategy group */
    char *order_column; /* NULL unless cv.strategy timeseries */
} hf_schema;

typedef struct hf_dataset {
    hf_schema *schema; /* owned */
    size_t n_rows;
    double *X;      /* n_rows x schema->n_features, row-major */
    double *y;      /* n_rows */
    int64_t *row;   /* n_rows: 0-based position of the row in the source (data rows only) */
    int64_t *fold;  /* n_rows predefined fold numbers, or NULL */
    int64_t *group; /* n_rows group codes, or NULL */
    double *order;  /* n_rows ordering key, or NULL */
    uint64_t id;    /* unique in the process (hf_dataset_new_id), 0 = none: keys work that
                       models keep across fit calls on this table */
    /* NULL: the arrays above are the dataset's own (hf_dataset_free frees them). Otherwise they
     * lie in memory the dataset does not own, such as the node's shared window of the table
     * (docs/scaling.md): hf_dataset_free calls release(release_ctx) instead, which may be
     * collective (a shared window's is, over the node's ranks). Nobody writes to such a table. */
    void (*release)(void *ctx);
    void *release_ctx;
} hf_dataset;

/* A new process-unique dataset id (never 0); thread-safe. */
uint64_t hf_dataset_new_id(void);

void hf_schema_free(hf_schema *s);
/* Deep copy. */
hf_schema *hf_schema_clone(const hf_schema *s);
/* Index of a feature by name, or -1. */
long hf_schema_find(const hf_schema *s, const char *name);

/* Input columns: what a prediction input (predict's CSV, serve's request) holds for the features.
 * A plain feature is its own input column; the derived features of a datetime column share one,
 * the raw column (hf_column.source). Not collective. */
/* The name of feature k's input column. */
const char *hf_schema_input_name(const hf_schema *s, size_t k);
/* How many consecutive features from k come from feature k's input column (1 for a plain
 * feature). */
size_t hf_schema_input_span(const hf_schema *s, size_t k);
/* The first feature of the input column `name`, or -1. */
long hf_schema_find_input(const hf_schema *s, const char *name);
/* The number of input columns. */
size_t hf_schema_n_inputs(const hf_schema *s);
/* Frees the schema and the arrays, or calls d->release for arrays it does not own. */
void hf_dataset_free(hf_dataset *d);

#endif
