/* source.h - where a dataset's bytes come from: a local file, an S3 object, an HTTP(S) URL.
 *
 * A source is opened by URI and read with positioned reads, so every rank can read its own byte
 * range of the same object (local pread or S3 range GET). Decompression (.gz) and archive
 * extraction (.zip) sit on top of this interface in shards/ingest.c. Implementations register in
 * the table in source.c: file (source.c), s3 and http(s) (s3.c, http.c). */
#ifndef HF_SOURCE_H
#define HF_SOURCE_H

#include "common/opts.h"

#include <stddef.h>
#include <stdint.h>

/* The job spec's s3 section: the S3 client's options (see common/opts.h and shards/s3.h). */
typedef struct hf_s3_config {
    char *endpoint; /* NULL = AWS_ENDPOINT_URL, else AWS */
    char *region;   /* NULL = AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 */
    int path_style; /* -1 = auto (path style when an endpoint is set), 0, 1 */
    /* The KMS keys (ids, ARNs, alias/NAME) the job's S3 sources are encrypted with: nothing
     * reads them but `hyperfold iam-policy`, which grants kms:Decrypt on each. */
    char **kms_key_ids;
    size_t n_kms_key_ids;
    hf_opt_source src;
} hf_s3_config;

typedef struct hf_source_opts {
    const hf_s3_config *s3; /* S3 endpoint, region, path style; NULL = the environment's */
    const char *audit_path; /* append-only audit.jsonl of remote accesses; NULL = none */
    int rank;               /* for the audit log */
} hf_source_opts;

typedef struct hf_source hf_source;

typedef struct hf_source_vtable {
    const char *scheme; /* "file", "s3", "http", "https" */
    int (*open)(const char *uri, const hf_source_opts *opts, hf_source **out);
    /* Reads len bytes at offset (hf_source_read_at calls it with 0 < len <= size - offset);
     * *got < len only when the object changed while read. */
    int (*read_at)(hf_source *s, uint64_t offset, void *buf, size_t len, size_t *got);
    void (*close)(hf_source *s);
    /* Lists the objects under a prefix URI ending in '/' (or a directory); returns URIs sorted by
     * name (caller frees each and the array). NULL if the scheme cannot list. */
    int (*list)(const char *prefix_uri, const hf_source_opts *opts, char ***uris, size_t *n);
} hf_source_vtable;

/* Common header of every source; implementations embed it first. */
struct hf_source {
    const hf_source_vtable *vt;
    char *uri;
    uint64_t size;
    /* Identifies the exact bytes: "file:<size>:<mtime_ns>:<sha256 of first and last MiB>" or
     * "s3:<etag>:<size>" (with ":sha256=<x-amz-checksum-sha256>" when the server gives it). */
    char fingerprint[256];
};

/* Opens by URI: "s3://bucket/key", "http(s)://...", "file:///abs/path" or a plain path.
 * Not collective. */
int hf_source_open(const char *uri, const hf_source_opts *opts, hf_source **out);
int hf_source_read_at(hf_source *s, uint64_t offset, void *buf, size_t len, size_t *got);
void hf_source_close(hf_source *s);
/* 1 if the URI names a prefix/directory (ends in '/', or a local directory). */
int hf_source_is_prefix(const char *uri);
/* The URI as it may be printed or written anywhere (messages, manifest.json, results.json, the
 * audit log): for http(s) URIs without user-info, query string and fragment (a pre-signed URL
 * carries its signature in the query), other URIs unchanged. The one place a source is
 * redacted; NULL when out of memory. Caller frees. */
char *hf_source_display(const char *uri);
int hf_source_list(const char *prefix_uri, const hf_source_opts *opts, char ***uris, size_t *n);
/* Wraps `len` bytes at `data` (borrowed: must outlive the source) as a source named `name`; used by
 * tests and to parse buffers with the same code as files. Not collective. */
int hf_source_open_memory(const void *data, size_t len, const char *name, hf_source **out);

/* The registered remote implementations (defined in s3.c / http.c). */
extern const hf_source_vtable hf_source_s3_vtable;
extern const hf_source_vtable hf_source_http_vtable;

#endif
