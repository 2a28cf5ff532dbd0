/* ingest.h - CSV source -> HDF5 shards (collective), and CSV reading with a fixed schema.
 *
 * See docs/shards.md for the parallel split, type inference, bad rows and the reuse rules. */
#ifndef HF_INGEST_H
#define HF_INGEST_H

#include "common/comm.h"
#include "common/dataset.h"
#include "common/opts.h"
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
    char **column_names; /* data.columns: type overrides, column_types[i] an hf_col_type */
    int *column_types;
    size_t n_columns;
    char **drop; /* columns to ignore */
    size_t n_drop;
    int skip_bad_rows; /* data.on_bad_rows: error (0) | skip (1) */
    int shard_count;   /* shards.count; 0 = the number of ranks */
    /* Set by the caller, not the spec: columns other settings give a role (cross-validation's
     * fold, group and order columns), and what decided the task, for messages ("data.task is
     * regression, implied by model.type ridge: ..."). Borrowed. */
    const char *fold_column, *group_column, *order_column;
    const char *task_hint;
    hf_opt_source src;
} hf_ingest_opts;

/* The data and shards sections' tables (both bind into hf_ingest_opts). */
extern const hf_opt_section hf_data_section;
extern const hf_opt_section hf_shards_section;
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
 * with hf_dataset_free. */
int hf_ingest_predict_input(hf_comm *comm, const char *uri, const hf_schema *schema,
                            const hf_source_opts *opts, hf_dataset **local);

/* Not collective. SHA-256 (hex) of the settings that determine an ingest: the data and shards
 * sections' hashed settings and the role columns. */
int hf_ingest_opts_hash(const hf_ingest_opts *o, char out[65]);

#endif
