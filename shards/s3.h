/* s3.h - the S3 / HTTP(S) data plane: sources for s3:// and http(s):// URIs, uploads to S3, and
 * the retrying request engine they share.
 *
 * Sources: hf_source_s3_vtable and hf_source_http_vtable (declared in shards/source.h). Each
 * opened source owns one CURL handle, so ranks and threads each read through their own handles;
 * the only process-wide state is libcurl's, initialised once by hf_http_global_init() (called
 * lazily by every entry point through pthread_once; main may call it early, before starting
 * threads).
 *
 * Configuration: endpoint, region and path style come from the s3 section (hf_s3_config, in
 * hf_source_opts.s3) when given, else from
 * AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION (default us-east-1). Path-style addressing is
 * used when an endpoint is set unless path_style is 0. Credentials: shards/creds.h.
 *
 * Retries: connection failures, resets, timeouts, HTTP 408/429/500/502/503/504 are retried with
 * exponential backoff and full jitter (base 100 ms, cap 5 s), at most HF_S3_MAX_RETRIES retries
 * (default 8) and HF_S3_RETRY_BUDGET_S seconds in all (default 60). An interrupted ranged GET
 * resumes from the last byte received. Every attempt is one line in the audit log. */
#ifndef HF_S3_H
#define HF_S3_H

#include <stddef.h>
#include <stdint.h>

#include "shards/source.h"

/* The s3 section's table, for the job-spec binder. */
extern const hf_opt_section hf_s3_section;
void hf_s3_config_init(hf_s3_config *c);

/* Initialises libcurl once per process (thread-safe; later calls do nothing). Returns HF_ENET if
 * libcurl cannot start. Not collective. */
int hf_http_global_init(void);

/* Uploads a local file to dest_uri ("s3://bucket/key"; a key ending in '/' gets the file's base
 * name appended). Files up to the threshold (8 MiB, HF_S3_MULTIPART_THRESHOLD bytes overrides)
 * go in one PUT; larger ones as a multipart upload with parts of HF_S3_PART_SIZE bytes (default
 * 8 MiB, minimum 5 MiB unless overridden), aborted on failure. sse: NULL, "AES256" or "aws:kms";
 * kms_key_id only with "aws:kms" (NULL = the bucket's default key). Not collective. */
int hf_s3_upload_file(const char *local_path, const char *dest_uri, const hf_source_opts *opts,
                      const char *sse, const char *kms_key_id);

/* Splits "s3://bucket/key" into new strings (caller frees both; key may be ""). HF_EINVAL with a
 * message if the URI is not an s3:// URI with a bucket. Not collective. */
int hf_s3_parse_uri(const char *uri, char **bucket, char **key);

/* Metadata of one object, from a HEAD request. */
typedef struct hf_s3_head_info {
    uint64_t size;
    char etag[128];            /* without quotes */
    char checksum_sha256[128]; /* x-amz-checksum-sha256, "" if none */
    char sse[32];              /* x-amz-server-side-encryption, "" if none */
    char last_modified[64];
    char content_type[128];
} hf_s3_head_info;

/* HEADs an s3:// object. HF_ENET / HF_EAUTH / HF_EINVAL (not found) with a message on failure.
 * Not collective. */
int hf_s3_head(const char *uri, const hf_source_opts *opts, hf_s3_head_info *info);

/* One entry of a listing, with its size. */
typedef struct hf_s3_object {
    char *uri; /* "s3://bucket/key" */
    uint64_t size;
} hf_s3_object;

/* Lists every object under an s3:// prefix (paginated ListObjectsV2; page size
 * HF_S3_MAX_KEYS, default 1000), sorted by key. Caller frees with hf_s3_objects_free().
 * Not collective. */
int hf_s3_list_objects(const char *prefix_uri, const hf_source_opts *opts, hf_s3_object **objs,
                       size_t *n);
void hf_s3_objects_free(hf_s3_object *objs, size_t n);

/* Downloads a remote URI (s3:// or http(s)://) to a local file through ranged reads, written
 * durably (tmp + fsync + rename). Not collective. */
int hf_s3_download_file(const char *uri, const char *local_path, const hf_source_opts *opts);

/* ---- Internal: the request engine shared by s3.c, http.c and s3_cli.c (hf_http_ prefix). ---- */

struct curl_slist;
struct hf_creds;

/* Retry limits, read from the environment once per request sequence. */
typedef struct hf_http_retry {
    int max_retries; /* HF_S3_MAX_RETRIES, default 8 */
    double budget_s; /* HF_S3_RETRY_BUDGET_S, default 60 */
    double base_s;   /* 0.1 */
    double cap_s;    /* 5 */
} hf_http_retry;

/* One logical request (retried as needed). All pointers are borrowed. */
typedef struct hf_http_req {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;    /* fully encoded */
    struct curl_slist *headers;
    const struct hf_creds *creds; /* non-NULL: sign with SigV4 for `region` */
    const char *region;
    const void *body; /* PUT/POST payload (may be NULL with body_len 0) */
    size_t body_len;
    /* Ranged read into `sink`: bytes [range_off, range_off + range_len) of the object. A 200
     * answer (range ignored) is accepted: the first range_off bytes are skipped. */
    int ranged;
    uint64_t range_off;
    size_t range_len;
    void *sink;
    /* For messages and the audit log. */
    const char *what; /* "s3://b/k" or the cleaned URL */
    const char *scheme, *bucket, *key, *audit_url;
    const char *operation;   /* the S3 API call ("GetObject"), NULL for plain http */
    const char *action;      /* its IAM action, NULL: from the operation (or "http:Get") */
    const char *list_prefix; /* ListObjectsV2: the prefix listed */
    /* SSE-KMS a write implies: "kms:GenerateDataKey" / "kms:Decrypt" and the key named in the
     * request (NULL: the bucket's default; the answer's key id is recorded when it names one).
     * A GetObject whose answer names an aws:kms key is recorded as kms:Decrypt by itself. */
    const char *kms_action, *kms_key_id;
    const char *audit_path;
    int rank;
} hf_http_req;

typedef struct hf_http_resp {
    long status;
    char *body; /* NUL-terminated response body when no sink (and error bodies); caller frees */
    size_t body_len;
    size_t sink_got; /* bytes stored in the sink */
    int64_t content_length;
    uint64_t total_size; /* from Content-Range ".../N" when present, else 0 */
    char etag[128], request_id[128], checksum_sha256[128], accept_ranges[32], sse[32];
    char kms_key_id[256]; /* x-amz-server-side-encryption-aws-kms-key-id */
    char last_modified[64], content_type[128], location[512];
    int attempts;
} hf_http_resp;

/* Performs `req` on handle `h` (reset first), retrying transient failures. Returns HF_OK when a
 * response arrived with any final status (the caller judges 4xx), HF_ENET with a one-line message
 * naming req->what, the last status or error and the attempts when retries ran out. resp->body is
 * owned by the caller (free with hf_http_resp_clear). Not collective. */
int hf_http_perform(void *h, const hf_http_req *req, hf_http_resp *resp);
void hf_http_resp_clear(hf_http_resp *resp);

/* Extracts the text of the first <tag>...</tag> in xml into out (size n); 0 if found, -1 if not. */
int hf_http_xml_tag(const char *xml, const char *tag, char *out, size_t n);

#endif
