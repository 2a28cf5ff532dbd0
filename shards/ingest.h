/* ingest.h - CSV source -> HDF5 shards (collective), and CSV reading with a fixed schema.
 *
 * See docs/shards.md for the parallel split, type inference, bad rows and the reuse rules. */
#ifndef HF_INGEST_H
#define HF_INGEST_H

#include "common/comm.h"
#include "common/dataset.h"
#include "common/opts.h"
#include "shards/etl.h"
#include "shards/partition.h"
#include "shards/source.h"

/* The job spec's data and shards sections: this module's options (see common/opts.h). */
typedef struct hf_ingest_opts {
    char *source;      /* path, file://, s3://, http(s)://; .gz, .zip; a prefix ending in / */
    char *target;      /* the target column */
    hf_task_kind task; /* AUTO: the target decides (not numeric: classification) */
    char delimiter;    /* 0 = detect */
    char **na_values;  /* cell texts read as missing; default "", "NA", "NaN", "null", "?" */
    size_t n_na_values;
    char **column_names; /* data.columns: type overrides, column_types[i] an hf_col_type, or 3:
                            datetime */
    int *column_types;
    size_t n_columns;
    char **datetime_columns; /* data.datetime_formats: columns read with a stated strptime */
    char **datetime_formats; /* format each (docs/shards.md) */
    size_t n_datetime_formats;
    char **drop; /* columns to ignore */
    size_t n_drop;
    int skip_bad_rows; /* data.on_bad_rows: error (0) | skip (1) */
    int shard_count;   /* shards.count; 0 = the number of ranks */
    char *local_dir;   /* shards.local_dir: each node's copy of the shards (local_copy.h) */
    hf_etl_opts etl;   /* data.etl: the archive extracted before the ingest (etl.h); not hashed */
    /* Set by the caller, not the spec: columns other settings give a role (cross-validation's
     * fold, group and order columns), and what decided the task, for messages ("data.task is
     * regression, implied by model.type ridge: ..."). Borrowed. */
    const char *fold_column, *group_column, *order_column;
    const char *task_hint;
    /* Set by the caller, not the spec (no key of the data section): 1 reads every column as a
     * feature and writes shards without a target (y all NaN; the schema's target null, its task
     * regression) for describe. Part of the ingest identity, so a run never reuses such shards;
     * hf_pipeline_ingest refuses a manifest without a target. */
    int no_target;
    hf_opt_source src;
} hf_ingest_opts;

/* The data and shards sections' tables (both bind into hf_ingest_opts). */
extern const hf_opt_section hf_data_section;
extern const hf_opt_section hf_shards_section;
/* data.columns' type names, indexed by the value stored in column_types (hf_col_type, then 3:
 * datetime), NULL-terminated: for commands that take the same types (describe --columns). */
extern const char *const hf_ingest_col_type_names[];
/* Not collective. The defaults (na_values allocated: release with hf_ingest_opts_release). */
int hf_ingest_opts_init(hf_ingest_opts *o);
void hf_ingest_opts_release(hf_ingest_opts *o);

/* A categorical feature with more distinct values than HF_INGEST_WIDE_LEVELS, or more than
 * HF_INGEST_ID_LEVELS and at least half as many as rows (an identifier), gets one warning line
 * from hf_ingest: one-hot encoding makes a dense design column per value. */
#define HF_INGEST_WIDE_LEVELS 1000
#define HF_INGEST_ID_LEVELS 100

/* Collective. Ingests o->source into shard_dir (creating it), or reuses a matching ingest
 * (*reused = 1); rank 0 warns about ID-like categorical features (above). rejects_path: where
 * skipped rows go when data.on_bad_rows is skip (NULL = error on bad rows regardless). On success
 * *out is the manifest (every rank gets the same content; caller frees with hf_manifest_free). On
 * failure no manifest.json and no part file is left under its final name, and every rank returns
 * the same status with the first error's message. */
int hf_ingest(hf_comm *comm, const hf_ingest_opts *o, const char *shard_dir,
              const hf_source_opts *opts, const char *rejects_path, hf_manifest **out, int *reused);

/* Collective. Reads a CSV for prediction with a FIXED schema: columns matched by name; missing
 * feature columns or unknown extra columns -> HF_EDATA naming them (the target, fold, group and
 * order columns, if present, are allowed and ignored); categories not in the dictionary get code
 * -1; NA tokens are the defaults ("", NA, NaN, null, ?). Each rank gets its own rows (a byte-range
 * split) in *local with row[] holding global 0-based record positions and y all NaN. Caller frees
 * with hf_dataset_free. hf_ingest_predict_input_ex (below) also reads the target, passes
 * columns through and tells each row's input object. */
int hf_ingest_predict_input(hf_comm *comm, const char *uri, const hf_schema *schema,
                            const hf_source_opts *opts, hf_dataset **local);

/* What hf_ingest_predict_input_ex reads besides the features (all zero: the same as
 * hf_ingest_predict_input). */
typedef struct hf_predict_input_opts {
    /* 1: the schema's target column must be present and is read into (*local)->y: for
     * classification the index of the label in schema->classes (a numeric label may be written
     * in any form of the same number: "1.0" is the class "1"), for regression the number. A
     * missing column, a missing value, an unknown label or a non-number is HF_EDATA naming the
     * file, line, column, the value and what was expected (the known classes). 0: the target is
     * ignored if present and y is all NaN. */
    int read_target;
    /* 1: input columns unknown to the model are skipped instead of being an error. */
    int ignore_extra_columns;
    /* Columns passed through: their field texts (unquoted, as in the input) are returned in
     * hf_predict_rows.kept; each must be in the input's header (else HF_EDATA naming it). A kept
     * column is never an unknown column. Borrowed. */
    char *const *keep;
    size_t n_keep;
} hf_predict_input_opts;

/* Per-row information of a prediction input besides the dataset. */
typedef struct hf_predict_rows {
    size_t n_rows;  /* the rank's rows, as (*local)->n_rows */
    size_t n_keep;  /* as hf_predict_input_opts.n_keep */
    char **kept;    /* n_rows x n_keep field texts, row-major ("" for an empty field) */
    size_t *object; /* n_rows: the index into objects of the input object each row comes from */
    char **objects; /* every input object's URI as it may be printed, in the sorted order of the
                       listing (a single file: one); the same on every rank */
    size_t n_objects;
    int64_t *object_rows; /* n_objects: each object's number of data rows, in all ranks */
} hf_predict_rows;

/* Not collective. Frees r (NULL is fine). */
void hf_predict_rows_free(hf_predict_rows *r);

/* Collective. hf_ingest_predict_input with the options above (pio NULL: all zero), and, when
 * rows is not NULL, *rows: the kept texts and the input object of each of this rank's rows
 * (caller frees with hf_predict_rows_free). Rows are split over the ranks as in
 * hf_ingest_predict_input: rank r holds rows that come before rank r+1's. */
int hf_ingest_predict_input_ex(hf_comm *comm, const char *uri, const hf_schema *schema,
                               const hf_source_opts *opts, const hf_predict_input_opts *pio,
                               hf_dataset **local, hf_predict_rows **rows);

/* Not collective. SHA-256 (hex) of the settings that determine an ingest: the data and shards
 * sections' hashed settings and the role columns. */
int hf_ingest_opts_hash(const hf_ingest_opts *o, char out[65]);

#endif
