/* audit.h - append-only JSON-lines log of every remote (S3 / HTTP) request, CloudTrail-like.
 *
 * One line per request attempt: {"time", "user", "host", "rank", "principal" (the access key id
 * that signed it, null when unsigned), "operation" (the S3 API call: HeadObject, GetObject,
 * ListObjectsV2, PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload; GET or HEAD for http), "action" (the IAM action it needs: s3:GetObject,
 * s3:ListBucket, s3:PutObject, s3:AbortMultipartUpload; http:Get), "resource"
 * (arn:aws:s3:::bucket/key, arn:aws:s3:::bucket for a listing, the cleaned URL for http),
 * "prefix" (listings only), "method", "scheme", "bucket", "key" (or "url" without query or
 * credentials), "range", "bytes", "status", "attempt", "duration_ms", "request_id", and, where
 * SSE-KMS is involved, "kms_key_id" and "kms_action" (kms:GenerateDataKey, kms:Decrypt), "error"
 * on a transport failure}. The file is opened with O_APPEND and each line is one write(), so
 * several ranks and processes can share it. No secrets or signatures are ever written: callers
 * pass only the identity of the object and the public access key id. docs/security.md. */
#ifndef HF_AUDIT_H
#define HF_AUDIT_H

#include <stdint.h>

typedef struct hf_audit_rec {
    int rank;
    const char *principal;   /* access key id, NULL = anonymous (never the secret) */
    const char *operation;   /* "GetObject", ... (NULL: the method) */
    const char *action;      /* "s3:GetObject", ... (NULL: from operation, hf_audit_s3_action) */
    const char *list_prefix; /* a listing: the prefix listed (the resource is the bucket) */
    const char *kms_key_id;  /* SSE-KMS key involved, NULL if none / unknown */
    const char *kms_action;  /* "kms:GenerateDataKey" or "kms:Decrypt", NULL if none */
    const char *method;      /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *scheme;      /* "s3", "http", "https" */
    const char *bucket;      /* s3 only, else NULL */
    const char *key;         /* s3 only, else NULL */
    const char *url;         /* http(s) only: sanitise with hf_audit_clean_url first */
    int64_t range_start;     /* -1 = no range */
    int64_t range_end;       /* inclusive; -1 = open */
    uint64_t bytes;          /* body bytes received (GET) or sent (PUT/POST) */
    long status;             /* HTTP status; 0 = no response */
    int attempt;             /* 1 for the first try */
    double duration_ms;
    const char *request_id; /* x-amz-request-id, NULL if none */
    const char *error;      /* transport error text, NULL if none */
} hf_audit_rec;

/* Appends one JSON line for `r` to `path` (created 0600 if missing). A NULL or empty path does
 * nothing. Returns HF_EIO with a message if the file cannot be written. Not collective. */
int hf_audit_append(const char *path, const hf_audit_rec *r);

/* The IAM action an S3 operation needs ("GetObject" -> "s3:GetObject", "UploadPart" ->
 * "s3:PutObject", "ListObjectsV2" -> "s3:ListBucket", ...), or NULL for an unknown name. One
 * table for the audit log and `hyperfold iam-policy`. Not collective. */
const char *hf_audit_s3_action(const char *operation);

/* The audit log of a command that has no run directory (predict, evaluate, serve, s3, describe
 * of a bare file): `flag` (--audit FILE) when given, else $HYPERFOLD_AUDIT, else
 * $XDG_STATE_HOME/hyperfold/audit.jsonl (default ~/.local/state/hyperfold/audit.jsonl). "off"
 * (from either) turns the log off (*out = NULL). *out is a new string (caller frees). HF_EINVAL
 * with a message when no default can be formed (no HOME). Not collective. */
int hf_audit_resolve(const char *flag, char **out);

/* Returns a copy of `url` without user:password@ and without the query string or fragment
 * (caller frees), or NULL when out of memory. */
char *hf_audit_clean_url(const char *url);

#endif
