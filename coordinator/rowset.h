/* rowset.h - the set of rows a model was trained on, kept beside it as RUN/training_rows.bin.
 *
 * `retrain` must compare the current model and the new one on rows neither was trained on. The
 * new data may repeat rows of the old data, and nothing else names a row across two ingests, so
 * each row is identified by a 64-bit hash of its content: its feature values and its target as
 * coded in the model's schema (category and class codes of that schema, the double's bits for
 * numbers; -0 as 0 and every NaN as one NaN). Two rows with the same values are the same row for
 * this purpose, which is what a fair comparison needs: a duplicate of a training row is not new.
 * A false match of two different rows has odds of about n^2 / 2^65 (1e-4 at 10^8 rows).
 *
 * The file is this module's alone: the bytes "HFROWS1\n", the number of hashes (uint64, little
 * endian), then the hashes sorted ascending (uint64, little endian). Written atomically. */
#ifndef HF_ROWSET_H
#define HF_ROWSET_H

#include "common/dataset.h"

#include <stddef.h>
#include <stdint.h>

/* Not collective. The content hashes of rows[0..n) of d (rows == NULL: the first n rows) into
 * out[0..n). d must be coded in the schema whose rows are compared (retrain recodes the new data
 * into the current model's schema first). */
void hf_rowset_hash(const hf_dataset *d, const int64_t *rows, size_t n, uint64_t *out);

/* Not collective. Sorts hashes[0..n) in place and writes them to `path` atomically. */
int hf_rowset_write(const char *path, uint64_t *hashes, size_t n);

/* Not collective. Reads a file written by hf_rowset_write: *hashes (sorted, caller frees) and *n.
 * HF_EINVAL with the path when the file is not one (bad magic, size or order); HF_EIO when it
 * cannot be read. */
int hf_rowset_read(const char *path, uint64_t **hashes, size_t *n);

/* 1 if h is among the sorted hashes[0..n). */
int hf_rowset_contains(const uint64_t *hashes, size_t n, uint64_t h);

#endif
