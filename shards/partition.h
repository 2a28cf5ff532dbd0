/* partition.h - the shard layout: HDF5 part files and manifest.json. The ONE module that knows it.
 *
 * A shard directory holds part-00000.h5 ... part-NNNNN.h5 and manifest.json. Shard i holds the
 * global rows [first_row, first_row + rows) in source order as datasets
 *   X     rows x n_features float64 (chunked)   feature values / category codes, NaN = missing
 *   y     rows float64                          target value or class index
 *   row   rows int64                            record ordinal in the source (0-based)
 *   fold  rows int64    (only with a fold column)
 *   group rows int64    (only with a group column: code into the sorted distinct groups)
 *   order rows float64  (only with an order column)
 * manifest.json is written last (by rank 0, atomically): see docs/shards.md. */
#ifndef HF_PARTITION_H
#define HF_PARTITION_H

#include "common/dataset.h"
#include "common/comm.h"

#include <stddef.h>
#include <stdint.h>

#define HF_MANIFEST_VERSION 1

typedef struct hf_shard_info {
    char *file; /* name inside the shard directory: "part-00000.h5" */
    int64_t rows;
    int64_t first_row;
    char sha256[65];
} hf_shard_info;

typedef struct hf_manifest {
    int version;
    char **sources;      /* URIs of the parts of the source, in order */
    char **fingerprints; /* one per source */
    size_t n_sources;
    char spec_hash[65]; /* SHA-256 of the ingest-relevant spec settings */
    hf_schema *schema;
    int64_t n_rows;
    int64_t n_rejected;
    hf_shard_info *shards;
    size_t n_shards;
    int has_fold, has_group, has_order;
    char *fingerprint_text; /* the fingerprints joined with ";" (derived) */
} hf_manifest;

void hf_manifest_free(hf_manifest *m);
/* Accessors (borrowed pointers valid until hf_manifest_free). */
const hf_schema *hf_manifest_schema(const hf_manifest *m);
int64_t hf_manifest_n_rows(const hf_manifest *m);
const char *hf_manifest_fingerprint(const hf_manifest *m);
int64_t hf_manifest_rejected(const hf_manifest *m);

/* The manifest as JSON text (indented, keys in a fixed order). Caller frees. NULL on ENOMEM. */
char *hf_manifest_to_json(const hf_manifest *m);
/* Parses manifest JSON; `what` names it in messages. *out: new manifest (hf_manifest_free). */
int hf_manifest_from_json(const char *text, const char *what, hf_manifest **out);
/* Reads <dir>/manifest.json. HF_EIO if it does not exist. Not collective. */
int hf_manifest_read(const char *dir, hf_manifest **out);
/* Not collective. The text of manifest.json (a JSON object ending in "\n}") with its checksum
 * member added, as hf_manifest_write writes it and hf_manifest_read checks it (*out: the
 * caller's, *len bytes). */
int hf_manifest_stamp(const char *text, size_t n, char **out, size_t *len);
/* Writes <dir>/manifest.json atomically. Not collective (rank 0 calls it). */
int hf_manifest_write(const char *dir, const hf_manifest *m);
/* "<dir>/manifest.json" and "<dir>/part-%05d.h5" (caller frees). */
char *hf_manifest_path(const char *dir);
char *hf_shard_path(const char *dir, size_t index);
/* The file name of shard `index` ("part-00003.h5"; caller frees). */
char *hf_shard_name(size_t index);
/* The temporary name shard `index` is written under before it is renamed ("<dir>/.tmp-part-...";
 * caller frees). */
char *hf_shard_tmp_path(const char *dir, size_t index);
/* 1 if `name` is a file of a shard directory's layout (a shard or the manifest), 0 otherwise. */
int hf_shard_is_layout_file(const char *name);

/* The rows one rank contributes to one shard. */
typedef struct hf_shard_slab {
    int64_t shard_rows; /* total rows of the shard (same on every rank) */
    int64_t offset;     /* first row of this rank's slab within the shard */
    int64_t count;      /* rows of this rank's slab (0: the rank writes nothing) */
    size_t n_features;
    const double *X; /* count x n_features */
    const double *y;
    const int64_t *row;
    const int64_t *fold;  /* NULL unless has_fold */
    const int64_t *group; /* NULL unless has_group */
    const double *order;  /* NULL unless has_order */
    int has_fold, has_group, has_order;
} hf_shard_slab;

/* Collective. Creates the HDF5 file `path` with parallel HDF5 on the communicator and writes every
 * rank's slab with collective transfers. Object timestamps are off, so the same rows give the same
 * bytes whatever the number of ranks. */
int hf_shard_write(hf_comm *comm, const char *path, const hf_shard_slab *slab);
/* Collective. Creates the n shard files paths[i] together, then every rank writes its slab of
 * each shard independently (ranks write different files at the same time). */
int hf_shard_write_all(hf_comm *comm, char *const *paths, const hf_shard_slab *slabs, size_t n);

/* Not collective. Loads every row of every shard into a new dataset (rows in source order; the
 * schema is cloned from the manifest). Caller frees with hf_dataset_free. */
int hf_shards_load(const char *shard_dir, const hf_manifest *m, hf_dataset **out);
/* Not collective. Loads the global rows [first, first + count) (clipped to n_rows). */
int hf_shards_load_range(const char *shard_dir, const hf_manifest *m, int64_t first, int64_t count,
                         hf_dataset **out);
/* Not collective. The bytes of one buffer that holds the rows [first, first + count) (clipped to
 * n_rows) for hf_shards_load_into, once the shards holding them are checked to be large enough on
 * disk for the rows the manifest gives them (HF_EIO naming the shard otherwise). */
int hf_shards_table_bytes(const char *shard_dir, const hf_manifest *m, int64_t first, int64_t count,
                          size_t *bytes);
/* Not collective. Like hf_shards_load_range, but every array of the dataset lies in the caller's
 * buffer `buf` of `len` >= hf_shards_table_bytes bytes (64-byte aligned; X, y, row, fold, group,
 * order, each on a 64-byte boundary). read 1: the rows are read from the shards into it; read 0:
 * the dataset only points into it (another process filled it: a node's shared table). The dataset
 * never frees buf: hf_dataset_free calls release(ctx) (NULL: nothing). */
int hf_shards_load_into(const char *shard_dir, const hf_manifest *m, int64_t first, int64_t count,
                        void *buf, size_t len, int read, void (*release)(void *), void *ctx,
                        hf_dataset **out);
/* Not collective. Checks that every shard file's SHA-256 matches the manifest; 1 if all match, 0
 * if any differs or is missing (no error recorded for a mismatch). `stride`/`start` select the
 * shards to check (start, start + stride, ...) so ranks can split the work. */
int hf_shards_verify(const char *shard_dir, const hf_manifest *m, size_t start, size_t stride);

#endif
