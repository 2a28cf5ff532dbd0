/* fsutil.h - durable file writes and small file-system helpers.
 *
 * Every file hyperfold produces (shards, manifests, results, models, journal records) is written to
 * a temporary name in the same directory, flushed, fsync'ed and renamed over the final name, so a
 * crash never leaves a half-written file under the real name (the Redis sequence). */
#ifndef HF_FSUTIL_H
#define HF_FSUTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Writes `len` bytes to `path` durably (tmp, fsync, rename, fsync dir). */
int hf_fs_write_atomic(const char *path, const void *data, size_t len);
/* The same, readable by the owner only (mode 0600, set before the first byte is written): for files
 * that may hold secrets, such as the run's copy of a job spec. */
int hf_fs_write_private(const char *path, const void *data, size_t len);
/* Opens "<path>.tmp.<pid>" for writing; finish with hf_fs_commit_tmp or hf_fs_abort_tmp. */
int hf_fs_open_tmp(const char *path, FILE **fp, char **tmp_path);
/* Flushes, fsyncs and closes `fp`, then renames tmp_path over path and fsyncs the directory; a
 * write to fp that failed earlier (ferror) fails it too, the temporary file removed. Frees
 * tmp_path. */
int hf_fs_commit_tmp(FILE *fp, char *tmp_path, const char *path);
/* Closes and removes the temporary file; frees tmp_path. */
void hf_fs_abort_tmp(FILE *fp, char *tmp_path);
/* Renames a finished temporary file (e.g. one HDF5 wrote) over path and fsyncs both. */
int hf_fs_rename_durable(const char *tmp_path, const char *path);
/* mkdir -p. */
int hf_fs_mkdirs(const char *path);
/* Reads a whole file into a NUL-terminated buffer (caller frees). */
int hf_fs_read_file(const char *path, char **data, size_t *len);
int hf_fs_exists(const char *path);
/* Lowercase hex SHA-256 of a buffer / of a file (65 bytes incl. NUL). */
int hf_sha256_hex(const void *data, size_t len, char out[65]);
int hf_sha256_file_hex(const char *path, char out[65]);
/* Of the bytes of an open file from offset `from` to its end (path names it in messages). */
int hf_sha256_fd_hex(int fd, off_t from, const char *path, char out[65]);

#endif
