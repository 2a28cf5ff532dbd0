/* ingest.h - CSV source -> HDF5 shards (collective), and CSV reading with a fixed schema.
 *
 * See docs/shards.md for the parallel split, type inference, bad rows and the reuse rules. */
#ifndef HF_INGEST_H
#define HF_INGEST_H

#include "common/dataset.h"
#include "common/comm.h"
#include "jobs/spec.h"
#include "shards/partition.h"
#include "shards/source.h"

/* Collective. Ingests spec->data.source into shard_dir (creating it), or reuses a matching ingest
 * (*reused = 1). rejects_path: where skipped rows go when data.on_bad_rows is skip (NULL = error
 * on bad rows regardless). On success *out is the manifest (every rank gets the same content;
 * caller frees with hf_manifest_free). On failure no manifest.json and no part file is left under
 * its final name, and every rank returns the same status with the first error's message. */
int hf_ingest(hf_comm *comm, const hf_spec *spec, const char *shard_dir, const hf_source_opts *opts,
              const char *rejects_path, hf_manifest **out, int *reused);

/* Collective. Reads a CSV for prediction with a FIXED schema: columns matched by name; missing
 * feature columns or unknown extra columns -> HF_EDATA naming them (the target, fold, group and
 * order columns, if present, are allowed and ignored); categories not in the dictionary get code
 * -1; NA tokens are the defaults ("", NA, NaN, null, ?). Each rank gets its own rows (a byte-range
 * split) in *local with row[] holding global 0-based record positions and y all NaN. Caller frees
 * with hf_dataset_free. */
int hf_csv_read_for_schema(hf_comm *comm, const char *uri, const hf_schema *schema,
                           const hf_source_opts *opts, hf_dataset **local);

/* Not collective. SHA-256 (hex) of the spec settings that determine an ingest: data.*,
 * shards.count and the cv fold/group/order columns. */
int hf_ingest_spec_hash(const hf_spec *spec, char out[65]);

#endif
