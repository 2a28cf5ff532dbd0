/* local_copy.h - shards.local_dir: node-local copies of a shard directory.
 *
 * The shard directory of a run sits on the file system every node shares (a cluster's parallel
 * file system). With shards.local_dir set, each node's first rank pulls the shards once into that
 * directory on the node (a node's /tmp or NVMe), and the node's ranks load them from there. A later
 * run on the same node finds the copy and reuses it once every file's SHA-256 matches the
 * manifest; a damaged or stale file is copied again, with a log line. */
#ifndef HF_LOCAL_COPY_H
#define HF_LOCAL_COPY_H

#include "common/comm.h"
#include "shards/partition.h"

/* Not collective. The directory under local_dir that holds a node's copy of the shards of `m`:
 * "<local_dir>/shards-<the first 16 hex digits of the manifest's spec hash>" (caller frees; NULL on
 * ENOMEM). */
char *hf_shards_local_path(const char *local_dir, const hf_manifest *m);

/* Collective over `world`. Makes hf_shards_local_path(local_dir, m) on every node hold the shards
 * of `shard_dir` that `m` lists, each checked against the manifest's SHA-256: the node's first rank
 * (MPI_COMM_TYPE_SHARED) keeps each local file whose checksum matches, copies the others (to a
 * temporary name, checked, then renamed), writes the manifest beside them and logs what it did;
 * the node's other ranks wait for it. The same status on every rank. */
int hf_shards_local_sync(hf_comm *world, const char *shard_dir, const hf_manifest *m,
                         const char *local_dir);

#endif
