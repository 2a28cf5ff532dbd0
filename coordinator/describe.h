/* describe.h - the data profile of `hyperfold describe` (describe.c), shared with the report. */
#ifndef HF_DESCRIBE_H
#define HF_DESCRIBE_H

#include "shards/partition.h"

#include <jansson.h>

/* Not collective (one process, no MPI). The profile of every row of a shard directory, read in
 * chunks of rows (about 8 million values each): describe.json's object (rows, task, columns: per
 * column name, role, type, count, missing, missing_share; numeric: mean, std, skew, zeros, min,
 * max, correlation with the target; categorical: distinct and the most frequent values; the
 * target's classes; a numeric target's "histogram": min, max and the counts of 30 equal bins;
 * every feature's association with the target and every column's flags, from a second pass;
 * docs/describe.md) without the quartiles and outliers, which need `hyperfold describe` (they are
 * null), and with distinct counts exact up to 64 (above: null and "distinct_more_than": 64).
 * *out: the caller's (json_decref); NULL on failure. */
int hf_describe_profile(const char *shard_dir, const hf_manifest *m, json_t **out);

#endif
