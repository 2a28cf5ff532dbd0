/* audit.h - append-only JSON-lines log of every remote (S3 / HTTP) request.
 *
 * One line per request attempt: {"time", "user", "host", "rank", "method", "scheme", "bucket",
 * "key" (or "url" without query or credentials), "range", "bytes", "status", "attempt",
 * "duration_ms", "request_id", "error"}. The file is opened with O_APPEND and each line is one
 * write(), so several ranks and processes can share it. No secrets or signatures are ever written:
 * callers pass only the identity of the object. */
#ifndef HF_AUDIT_H
#define HF_AUDIT_H

#include <stdint.h>

typedef struct hf_audit_rec {
    int rank;
    const char *method;  /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *scheme;  /* "s3", "http", "https" */
    const char *bucket;  /* s3 only, else NULL */
    const char *key;     /* s3 only, else NULL */
    const char *url;     /* http(s) only: sanitise with hf_audit_clean_url first */
    int64_t range_start; /* -1 = no range */
    int64_t range_end;   /* inclusive; -1 = open */
    uint64_t bytes;      /* body bytes received (GET) or sent (PUT/POST) */
    long status;         /* HTTP status; 0 = no response */
    int attempt;         /* 1 for the first try */
    double duration_ms;
    const char *request_id; /* x-amz-request-id, NULL if none */
    const char *error;      /* transport error text, NULL if none */
} hf_audit_rec;

/* Appends one JSON line for `r` to `path` (created 0600 if missing). A NULL or empty path does
 * nothing. Returns HF_EIO with a message if the file cannot be written. Not collective. */
int hf_audit_append(const char *path, const hf_audit_rec *r);

/* Returns a copy of `url` without user:password@ and without the query string or fragment
 * (caller frees), or NULL when out of memory. */
char *hf_audit_clean_url(const char *url);

#endif
