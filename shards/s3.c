/* s3.c - the s3:// source (HEAD, ranged GET, ListObjectsV2), uploads (single PUT and multipart
 * with server-side encryption) and downloads. Requests go through hf_http_perform (http.c), which
 * signs them with libcurl's SigV4, retries and writes the audit log.
 *
 * libcurl 7.88 does not canonicalise the query string nor add x-amz-content-sha256: query
 * parameters are passed here already sorted by name and %-encoded, keys are %-encoded in the
 * path, and http.c adds the payload hash header. */
#define _GNU_SOURCE
#include "shards/s3.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/audit.h"
#include "shards/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#define MIB (1024u * 1024u)

/* Everything one S3 conversation needs: where, who, and a handle. */
typedef struct s3_ctx {
    char *endpoint; /* "http://127.0.0.1:4568" without a trailing '/', NULL = AWS */
    char *region;
    int path_style;
    hf_creds *creds;
    char *audit_path;
    int rank;
    CURL *h;
} s3_ctx;

typedef struct s3_source {
    hf_source base;
    s3_ctx ctx;
    char *bucket, *key;
} s3_source;

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void ctx_free(s3_ctx *c)
{
    if (c->h)
        curl_easy_cleanup(c->h);
    hf_creds_free(c->creds);
    c->creds = NULL;
    free(c->endpoint);
    free(c->region);
    free(c->audit_path);
    memset(c, 0, sizeof *c);
}

/* ---- the s3 section ------------------------------------------------------------------------- */

/* An http:// or https:// URL. */
static int is_http_url(const char *t)
{
    return strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0;
}

static const hf_opt_def s3_defs[] = {
    HF_DEF_STRING_IF("endpoint", hf_s3_config, endpoint, 0, is_http_url,
                     "an http:// or https:// URL",
                     "an S3-compatible server (default AWS_ENDPOINT_URL, else AWS)"),
    HF_DEF_STRING("region", hf_s3_config, region, 0, "a region name",
                  "signing region (default AWS_REGION, AWS_DEFAULT_REGION, else us-east-1)"),
    HF_DEF_BOOL("path_style", hf_s3_config, path_style, 0,
                "true: endpoint/bucket/key; false: bucket.endpoint/key (default: true with an "
                "endpoint)"),
    HF_DEF_LIST("kms_key_ids", hf_s3_config, kms_key_ids, n_kms_key_ids, 0,
                "KMS keys (id, ARN or alias/NAME) the S3 sources (data.source, data.etl.source) "
                "are encrypted with: iam-policy grants kms:Decrypt on each"),
};

const hf_opt_section hf_s3_section = HF_OPT_SECTION("s3", s3_defs, hf_s3_config, NULL);

void hf_s3_config_init(hf_s3_config *c)
{
    memset(c, 0, sizeof *c);
    c->path_style = -1;
}

static int ctx_init(s3_ctx *c, const hf_source_opts *opts)
{
    int result = HF_OK;
    memset(c, 0, sizeof *c);
    HF_CALL(hf_http_global_init());
    const hf_s3_config *cfg = opts ? opts->s3 : NULL;
    const char *endpoint = cfg && cfg->endpoint ? cfg->endpoint : nonempty_env("AWS_ENDPOINT_URL");
    const char *region = cfg && cfg->region ? cfg->region : nonempty_env("AWS_REGION");
    if (!region)
        region = nonempty_env("AWS_DEFAULT_REGION");
    if (!region)
        region = "us-east-1";
    int ps = cfg ? cfg->path_style : -1;
    c->path_style = ps >= 0 ? ps : (endpoint != NULL);
    c->rank = opts ? opts->rank : 0;
    if (endpoint) {
        if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) {
            result = hf_error(HF_EINVAL,
                              "s3 endpoint %s: expected a URL starting with http:// or "
                              "https://",
                              endpoint);
            goto out;
        }
        size_t n = strlen(endpoint);
        while (n > 0 && endpoint[n - 1] == '/')
            n--;
        if (!(c->endpoint = hf_strndup(endpoint, n))) {
            result = HF_ENOMEM;
            goto out;
        }
    }
    if (!(c->region = hf_strdup(region))) {
        result = HF_ENOMEM;
        goto out;
    }
    if (opts && opts->audit_path && !(c->audit_path = hf_strdup(opts->audit_path))) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_creds_load(&c->creds);
    if (result < 0)
        goto out;
    if (!(c->h = curl_easy_init())) {
        result = hf_error(HF_ENET, "s3: cannot create a libcurl handle");
        goto out;
    }
out:
    if (result < 0)
        ctx_free(c);
    return result;
}

int hf_s3_parse_uri(const char *uri, char **bucket, char **key)
{
    *bucket = *key = NULL;
    if (strncmp(uri, "s3://", 5) != 0)
        return hf_error(HF_EINVAL, "%s: expected an s3://bucket/key URI", uri);
    const char *b = uri + 5;
    size_t blen = strcspn(b, "/");
    if (blen == 0)
        return hf_error(HF_EINVAL, "%s: the S3 URI has no bucket name", uri);
    const char *k = b[blen] == '/' ? b + blen + 1 : b + blen;
    *bucket = hf_strndup(b, blen);
    *key = hf_strdup(k);
    if (!*bucket || !*key) {
        free(*bucket);
        free(*key);
        *bucket = *key = NULL;
        return HF_ENOMEM;
    }
    return HF_OK;
}

/* RFC 3986 %-encoding; '/' is kept when keep_slash. Returns a new string or NULL. */
static char *uri_encode(const char *s, int keep_slash)
{
    size_t n = strlen(s);
    char *out = hf_malloc(3 * n + 1), *p = out;
    if (!out)
        return NULL;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~' || (keep_slash && *c == '/')) {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return out;
}

/* The request URL for bucket/key with an already sorted, encoded query (may be NULL). */
static char *s3_url(const s3_ctx *c, const char *bucket, const char *key, const char *query)
{
    char *ek = uri_encode(key, 1);
    char *url = NULL;
    if (!ek)
        return NULL;
    const char *q = query ? "?" : "", *qs = query ? query : "";
    if (c->endpoint) {
        if (c->path_style) {
            url = hf_asprintf("%s/%s%s%s%s%s", c->endpoint, bucket, *ek || !query ? "/" : "", ek, q,
                              qs);
        } else {
            const char *sep = strstr(c->endpoint, "://");
            url = hf_asprintf("%.*s%s.%s/%s%s%s", (int)(sep + 3 - c->endpoint), c->endpoint, bucket,
                              sep + 3, ek, q, qs);
        }
    } else if (c->path_style) {
        url = hf_asprintf("https://s3.%s.amazonaws.com/%s/%s%s%s", c->region, bucket, ek, q, qs);
    } else {
        url = hf_asprintf("https://%s.s3.%s.amazonaws.com/%s%s%s", bucket, c->region, ek, q, qs);
    }
    free(ek);
    return url;
}

/* A request of S3 operation `op` ("GetObject": its audit line names the operation and the IAM
 * action it needs, hf_audit_s3_action). */
static void req_init(const s3_ctx *c, hf_http_req *req, const char *op, const char *method,
                     const char *url, const char *what, const char *bucket, const char *key)
{
    memset(req, 0, sizeof *req);
    req->operation = op;
    req->method = method;
    req->url = url;
    req->creds = c->creds;
    req->region = c->region;
    req->what = what;
    req->scheme = "s3";
    req->bucket = bucket;
    req->key = key;
    req->audit_path = c->audit_path;
    req->rank = c->rank;
}

/* Turns a final non-success S3 answer into a one-line error naming the URI (never a secret). */
static int s3_status_error(const s3_ctx *c, const char *what, const char *bucket, const char *key,
                           const hf_http_resp *r)
{
    char code[64] = "", msg[256] = "";
    hf_http_xml_tag(r->body, "Code", code, sizeof code);
    hf_http_xml_tag(r->body, "Message", msg, sizeof msg);
    const char *src = c->creds ? c->creds->source : "nowhere";
    if (r->status == 403 && strcmp(code, "SignatureDoesNotMatch") == 0)
        return hf_error(HF_EAUTH,
                        "%s: signature does not match (check the secret key from %s; region %s)",
                        what, src, c->region);
    if (r->status == 403 && strcmp(code, "InvalidAccessKeyId") == 0)
        return hf_error(HF_EAUTH,
                        "%s: access key id %s is not known to the server (credentials "
                        "from %s)",
                        what, c->creds->access_key, src);
    if (r->status == 403)
        return hf_error(HF_EAUTH, "%s: access denied (credentials from %s were refused)%s%s", what,
                        src, code[0] ? ": " : "", code);
    if (r->status == 404 && strcmp(code, "NoSuchBucket") == 0)
        return hf_error(HF_EINVAL, "%s: bucket %s does not exist (NoSuchBucket)", what, bucket);
    if (r->status == 404 && strcmp(code, "NoSuchUpload") == 0)
        return hf_error(HF_ENET, "%s: the multipart upload vanished (NoSuchUpload)", what);
    if (r->status == 404)
        return hf_error(HF_EINVAL, "%s: no object with key %s in bucket %s (%s)", what,
                        key && *key ? key : "(empty)", bucket, code[0] ? code : "NoSuchKey");
    return hf_error(HF_ENET, "%s: HTTP %ld%s%s%s%s", what, r->status, code[0] ? " " : "", code,
                    msg[0] ? ": " : "", msg);
}

/* A HEAD error has no body: repeat as a one-byte GET to learn S3's error code. */
static int explain_head_failure(s3_ctx *c, const char *url, const char *what, const char *bucket,
                                const char *key, const hf_http_resp *head)
{
    hf_http_resp r = {0};
    hf_http_req req;
    char one;
    req_init(c, &req, "GetObject", "GET", url, what, bucket, key);
    req.ranged = 1;
    req.range_len = 1;
    req.sink = &one;
    int result = hf_http_perform(c->h, &req, &r);
    if (result == 0)
        result = s3_status_error(c, what, bucket, key, r.status >= 400 ? &r : head);
    hf_http_resp_clear(&r);
    return result;
}

static int do_head(s3_ctx *c, const char *what, const char *bucket, const char *key,
                   hf_http_resp *resp)
{
    int result = HF_OK;
    struct curl_slist *hdrs = NULL;
    char *url = s3_url(c, bucket, key, NULL);
    if (!url)
        return HF_ENOMEM;
    if (!(hdrs = curl_slist_append(NULL, "x-amz-checksum-mode: ENABLED"))) {
        result = hf_error(HF_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    hf_http_req req;
    req_init(c, &req, "HeadObject", "HEAD", url, what, bucket, key);
    req.headers = hdrs;
    result = hf_http_perform(c->h, &req, resp);
    if (result < 0)
        goto out;
    if (resp->status != 200) {
        result = explain_head_failure(c, url, what, bucket, key, resp);
        goto out;
    }
    if (resp->content_length < 0) {
        result = hf_error(HF_ENET, "%s: HEAD gave no Content-Length", what);
        goto out;
    }
out:
    curl_slist_free_all(hdrs);
    free(url);
    return result;
}

static void s3_close(hf_source *s)
{
    s3_source *ss = (s3_source *)s;
    if (!ss)
        return;
    ctx_free(&ss->ctx);
    free(ss->bucket);
    free(ss->key);
    free(ss->base.uri);
    free(ss);
}

static int s3_open(const char *uri, const hf_source_opts *opts, hf_source **out)
{
    int result = HF_OK;
    hf_http_resp resp = {0};
    s3_source *ss = hf_calloc(1, sizeof *ss);
    *out = NULL;
    if (!ss)
        return HF_ENOMEM;
    ss->base.vt = &hf_source_s3_vtable;
    if (!(ss->base.uri = hf_strdup(uri))) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_s3_parse_uri(uri, &ss->bucket, &ss->key);
    if (result < 0)
        goto out;
    if (!*ss->key || ss->key[strlen(ss->key) - 1] == '/') {
        result = hf_error(HF_EINVAL, "%s: names a prefix, not an object", uri);
        goto out;
    }
    result = ctx_init(&ss->ctx, opts);
    if (result < 0) {
        hf_error_prefix(result, "%s", uri);
        goto out;
    }
    result = do_head(&ss->ctx, uri, ss->bucket, ss->key, &resp);
    if (result < 0)
        goto out;
    ss->base.size = (uint64_t)resp.content_length;
    if (resp.checksum_sha256[0])
        snprintf(ss->base.fingerprint, sizeof ss->base.fingerprint, "s3:%.100s:%llu:sha256=%.100s",
                 resp.etag, (unsigned long long)ss->base.size, resp.checksum_sha256);
    else
        snprintf(ss->base.fingerprint, sizeof ss->base.fingerprint, "s3:%s:%llu", resp.etag,
                 (unsigned long long)ss->base.size);
    *out = &ss->base;
    ss = NULL;
out:
    hf_http_resp_clear(&resp);
    s3_close(ss ? &ss->base : NULL);
    return result;
}

static int s3_read_at(hf_source *s, uint64_t offset, void *buf, size_t len, size_t *got)
{
    s3_source *ss = (s3_source *)s;
    hf_http_resp resp = {0};
    int result = HF_OK;
    char *url = NULL;
    *got = 0;
    if (!(url = s3_url(&ss->ctx, ss->bucket, ss->key, NULL)))
        return HF_ENOMEM;
    hf_http_req req;
    req_init(&ss->ctx, &req, "GetObject", "GET", url, s->uri, ss->bucket, ss->key);
    req.ranged = 1;
    req.range_off = offset;
    req.range_len = len;
    req.sink = buf;
    result = hf_http_perform(ss->ctx.h, &req, &resp);
    if (result < 0)
        goto out;
    if (resp.status != 200 && resp.status != 206) {
        result = s3_status_error(&ss->ctx, s->uri, ss->bucket, ss->key, &resp);
        goto out;
    }
    *got = resp.sink_got;
    if (*got < len) {
        result = hf_error(HF_ENET,
                          "%s: object ended at byte %llu, expected %llu (changed while "
                          "reading?)",
                          s->uri, (unsigned long long)(offset + *got), (unsigned long long)s->size);
        goto out;
    }
out:
    hf_http_resp_clear(&resp);
    free(url);
    return result;
}

int hf_s3_head(const char *uri, const hf_source_opts *opts, hf_s3_head_info *info)
{
    int result = HF_OK;
    s3_ctx c = {0};
    char *bucket = NULL, *key = NULL;
    hf_http_resp resp = {0};
    memset(info, 0, sizeof *info);
    result = hf_s3_parse_uri(uri, &bucket, &key);
    if (result < 0)
        goto out;
    result = ctx_init(&c, opts);
    if (result < 0)
        goto out;
    result = do_head(&c, uri, bucket, key, &resp);
    if (result < 0)
        goto out;
    info->size = (uint64_t)resp.content_length;
    snprintf(info->etag, sizeof info->etag, "%s", resp.etag);
    snprintf(info->checksum_sha256, sizeof info->checksum_sha256, "%s", resp.checksum_sha256);
    snprintf(info->sse, sizeof info->sse, "%s", resp.sse);
    snprintf(info->last_modified, sizeof info->last_modified, "%s", resp.last_modified);
    snprintf(info->content_type, sizeof info->content_type, "%s", resp.content_type);
out:
    hf_http_resp_clear(&resp);
    ctx_free(&c);
    free(bucket);
    free(key);
    return result;
}

/* Decodes the XML entities S3 uses in keys, in place. */
static void xml_unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (*r != '&') {
            *w++ = *r++;
            continue;
        }
        static const struct {
            const char *ent;
            char c;
        } ents[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        int done = 0;
        for (size_t i = 0; i < sizeof ents / sizeof ents[0] && !done; i++) {
            size_t n = strlen(ents[i].ent);
            if (strncmp(r, ents[i].ent, n) == 0) {
                *w++ = ents[i].c;
                r += n;
                done = 1;
            }
        }
        if (!done && r[1] == '#') {
            char *end = NULL;
            unsigned long v = r[2] == 'x' ? strtoul(r + 3, &end, 16) : strtoul(r + 2, &end, 10);
            if (end && *end == ';' && v > 0 && v < 128) {
                *w++ = (char)v;
                r = end + 1;
                done = 1;
            }
        }
        if (!done)
            *w++ = *r++;
    }
    *w = '\0';
}

static int cmp_objects(const void *a, const void *b)
{
    return strcmp(((const hf_s3_object *)a)->uri, ((const hf_s3_object *)b)->uri);
}

void hf_s3_objects_free(hf_s3_object *objs, size_t n)
{
    if (!objs)
        return;
    for (size_t i = 0; i < n; i++)
        free(objs[i].uri);
    free(objs);
}

/* Parses one ListObjectsV2 page: appends objects, sets *truncated and the next token. */
static int parse_list_page(const char *xml, const char *bucket, hf_s3_object **objs, size_t *n,
                           size_t *cap, int *truncated, char **token)
{
    char tmp[2048];
    *truncated =
        hf_http_xml_tag(xml, "IsTruncated", tmp, sizeof tmp) == 0 && strcmp(tmp, "true") == 0;
    free(*token);
    *token = NULL;
    if (*truncated) {
        if (hf_http_xml_tag(xml, "NextContinuationToken", tmp, sizeof tmp) != 0)
            return hf_error(HF_ENET, "s3://%s: truncated listing without NextContinuationToken",
                            bucket);
        xml_unescape(tmp);
        if (!(*token = hf_strdup(tmp)))
            return HF_ENOMEM;
    }
    for (const char *p = strstr(xml, "<Contents>"); p; p = strstr(p + 1, "<Contents>")) {
        const char *end = strstr(p, "</Contents>");
        if (!end)
            break;
        size_t len = (size_t)(end - p);
        char *one = hf_strndup(p, len);
        if (!one)
            return HF_ENOMEM;
        char key[2048], size[64] = "0";
        int ok = hf_http_xml_tag(one, "Key", key, sizeof key) == 0;
        hf_http_xml_tag(one, "Size", size, sizeof size);
        free(one);
        if (!ok)
            continue;
        xml_unescape(key);
        if (key[0] && key[strlen(key) - 1] == '/')
            continue; /* a "folder" marker */
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            hf_s3_object *o = hf_realloc(*objs, nc * sizeof *o);
            if (!o)
                return HF_ENOMEM;
            *objs = o;
            *cap = nc;
        }
        (*objs)[*n].uri = hf_asprintf("s3://%s/%s", bucket, key);
        if (!(*objs)[*n].uri)
            return HF_ENOMEM;
        (*objs)[*n].size = strtoull(size, NULL, 10);
        (*n)++;
    }
    return HF_OK;
}

int hf_s3_list_objects(const char *prefix_uri, const hf_source_opts *opts, hf_s3_object **objs,
                       size_t *n)
{
    int result = HF_OK;
    s3_ctx c = {0};
    char *bucket = NULL, *prefix = NULL, *token = NULL, *eprefix = NULL;
    hf_s3_object *list = NULL;
    size_t count = 0, cap = 0;
    hf_http_resp resp = {0};
    *objs = NULL;
    *n = 0;
    long max_keys = 1000;
    const char *mk = nonempty_env("HF_S3_MAX_KEYS");
    if (mk) {
        char *end = NULL;
        long v = strtol(mk, &end, 10);
        if (!end || *end || v < 1 || v > 1000)
            return hf_error(HF_EINVAL, "HF_S3_MAX_KEYS=%s: expected an integer from 1 to 1000", mk);
        max_keys = v;
    }
    result = hf_s3_parse_uri(prefix_uri, &bucket, &prefix);
    if (result < 0)
        goto out;
    result = ctx_init(&c, opts);
    if (result < 0) {
        hf_error_prefix(result, "%s", prefix_uri);
        goto out;
    }
    if (!(eprefix = uri_encode(prefix, 0))) {
        result = HF_ENOMEM;
        goto out;
    }
    int truncated = 1;
    while (truncated) {
        char *etok = token ? uri_encode(token, 0) : NULL;
        /* Parameters sorted by name, values %-encoded (libcurl 7.88 does not canonicalise). */
        char *query = token
                          ? hf_asprintf("continuation-token=%s&list-type=2&max-keys=%ld&prefix=%s",
                                        etok ? etok : "", max_keys, eprefix)
                          : hf_asprintf("list-type=2&max-keys=%ld&prefix=%s", max_keys, eprefix);
        free(etok);
        char *url = query ? s3_url(&c, bucket, "", query) : NULL;
        free(query);
        if (!url) {
            result = HF_ENOMEM;
            goto out;
        }
        hf_http_req req;
        req_init(&c, &req, "ListObjectsV2", "GET", url, prefix_uri, bucket, NULL);
        req.list_prefix = prefix;
        hf_http_resp_clear(&resp);
        result = hf_http_perform(c.h, &req, &resp);
        free(url);
        if (result < 0)
            goto out;
        if (resp.status != 200) {
            result = s3_status_error(&c, prefix_uri, bucket, prefix, &resp);
            goto out;
        }
        result = parse_list_page(resp.body ? resp.body : "", bucket, &list, &count, &cap,
                                 &truncated, &token);
        if (result < 0)
            goto out;
    }
    if (count > 1)
        qsort(list, count, sizeof *list, cmp_objects);
    *objs = list;
    *n = count;
    list = NULL;
out:
    hf_s3_objects_free(list, count);
    hf_http_resp_clear(&resp);
    ctx_free(&c);
    free(bucket);
    free(prefix);
    free(token);
    free(eprefix);
    return result;
}

static int s3_list(const char *prefix_uri, const hf_source_opts *opts, char ***uris, size_t *n)
{
    hf_s3_object *objs = NULL;
    size_t count = 0;
    *uris = NULL;
    *n = 0;
    HF_CALL(hf_s3_list_objects(prefix_uri, opts, &objs, &count));
    char **out = hf_calloc(count ? count : 1, sizeof *out);
    if (!out) {
        hf_s3_objects_free(objs, count);
        return HF_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        out[i] = objs[i].uri;
        objs[i].uri = NULL;
    }
    hf_s3_objects_free(objs, count);
    *uris = out;
    *n = count;
    return HF_OK;
}

const hf_source_vtable hf_source_s3_vtable = {
    .scheme = "s3",
    .open = s3_open,
    .read_at = s3_read_at,
    .close = s3_close,
    .list = s3_list,
};

/* ---- uploads ---- */

static uint64_t env_bytes(const char *name, uint64_t dflt)
{
    const char *v = nonempty_env(name);
    if (!v)
        return dflt;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    if (!end || *end || x == 0) {
        hf_warn("%s=%s is not a positive byte count; using %llu", name, v,
                (unsigned long long)dflt);
        return dflt;
    }
    return x;
}

/* Adds the server-side encryption headers to *l. */
static int sse_headers(struct curl_slist **l, const char *sse, const char *kms_key_id,
                       const char *dest)
{
    if (!sse || !*sse) {
        if (kms_key_id && *kms_key_id)
            return hf_error(HF_EINVAL, "%s: a KMS key id needs sse aws:kms", dest);
        return HF_OK;
    }
    if (strcmp(sse, "AES256") != 0 && strcmp(sse, "aws:kms") != 0)
        return hf_error(HF_EINVAL, "%s: sse %s: expected AES256 or aws:kms", dest, sse);
    if (kms_key_id && *kms_key_id && strcmp(sse, "aws:kms") != 0)
        return hf_error(HF_EINVAL, "%s: a KMS key id needs sse aws:kms, not %s", dest, sse);
    char line[512];
    snprintf(line, sizeof line, "x-amz-server-side-encryption: %s", sse);
    struct curl_slist *t = curl_slist_append(*l, line);
    if (!t)
        return HF_ENOMEM;
    *l = t;
    if (kms_key_id && *kms_key_id) {
        char *kl = hf_asprintf("x-amz-server-side-encryption-aws-kms-key-id: %s", kms_key_id);
        if (!kl)
            return HF_ENOMEM;
        t = curl_slist_append(*l, kl);
        free(kl);
        if (!t)
            return HF_ENOMEM;
        *l = t;
    }
    return HF_OK;
}

static int read_fully(int fd, void *buf, size_t len, uint64_t off, const char *path)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return hf_error(HF_EIO, "%s: read failed at byte %llu: %s", path,
                            (unsigned long long)(off + done),
                            r < 0 ? hf_strerror(errno) : "file shrank while uploading");
        done += (size_t)r;
    }
    return HF_OK;
}

/* One multipart upload in progress: where to and its (encoded) UploadId. */
typedef struct multipart {
    s3_ctx *c;
    const char *dest, *bucket, *key;
    char *eupload;
    int kms;                /* SSE-KMS: the parts need kms:Decrypt of the upload's data key */
    const char *kms_key_id; /* NULL: the bucket's default key */
} multipart;

/* Sends a request to the upload's URL with query "partNumber=N&uploadId=..." (part > 0) or
 * "uploadId=..." (part 0), and answers HF_OK with *resp filled whatever the status. */
static int multipart_send(const multipart *u, const char *op, const char *method, uint64_t part,
                          struct curl_slist *headers, const void *body, size_t len,
                          hf_http_resp *resp)
{
    char *q = part
                  ? hf_asprintf("partNumber=%llu&uploadId=%s", (unsigned long long)part, u->eupload)
                  : hf_asprintf("uploadId=%s", u->eupload);
    char *url = q ? s3_url(u->c, u->bucket, u->key, q) : NULL;
    free(q);
    if (!url)
        return HF_ENOMEM;
    hf_http_req req;
    req_init(u->c, &req, op, method, url, u->dest, u->bucket, u->key);
    if (u->kms && strcmp(op, "AbortMultipartUpload") != 0) {
        req.kms_action = "kms:Decrypt";
        req.kms_key_id = u->kms_key_id;
    }
    req.headers = headers;
    req.body = body;
    req.body_len = len;
    hf_http_resp_clear(resp);
    int result = hf_http_perform(u->c->h, &req, resp);
    free(url);
    return result;
}

static void abort_multipart(const multipart *u)
{
    hf_http_resp r = {0};
    int result = multipart_send(u, "AbortMultipartUpload", "DELETE", 0, NULL, NULL, 0, &r);
    if (result == 0 && r.status != 204 && r.status != 200)
        hf_warn("%s: aborting the multipart upload answered HTTP %ld", u->dest, r.status);
    hf_http_resp_clear(&r);
}

/* Part `part` (from 1): len bytes of the file at off, through buf; its ETag into etag. */
static int upload_part(const multipart *u, int fd, const char *local_path, uint64_t part,
                       uint64_t off, size_t len, char *buf, char etag[128])
{
    hf_http_resp resp = {0};
    int result = read_fully(fd, buf, len, off, local_path);
    if (result >= 0)
        result = multipart_send(u, "UploadPart", "PUT", part, NULL, buf, len, &resp);
    if (result >= 0 && resp.status != 200)
        result = s3_status_error(u->c, u->dest, u->bucket, u->key, &resp);
    else if (result >= 0 && !resp.etag[0])
        result = hf_error(HF_ENET, "%s: part %llu was stored without an ETag", u->dest,
                          (unsigned long long)part);
    if (result >= 0)
        snprintf(etag, 128, "%s", resp.etag);
    hf_http_resp_clear(&resp);
    return result;
}

/* CompleteMultipartUpload with the parts' ETags. */
static int complete_multipart(const multipart *u, char (*etags)[128], uint64_t nparts)
{
    size_t cap = 128 + nparts * 200, len = 0;
    char *body = hf_malloc(cap);
    struct curl_slist *ct = curl_slist_append(NULL, "Content-Type: application/xml");
    hf_http_resp resp = {0};
    int result = body && ct ? HF_OK : HF_ENOMEM;
    if (result == HF_OK) {
        len += (size_t)snprintf(body + len, cap - len, "<CompleteMultipartUpload>");
        for (uint64_t p = 0; p < nparts; p++)
            len += (size_t)snprintf(body + len, cap - len,
                                    "<Part><PartNumber>%llu</PartNumber><ETag>\"%s\"</ETag></Part>",
                                    (unsigned long long)(p + 1), etags[p]);
        len += (size_t)snprintf(body + len, cap - len, "</CompleteMultipartUpload>");
        result = multipart_send(u, "CompleteMultipartUpload", "POST", 0, ct, body, len, &resp);
    }
    /* S3 may answer 200 with an <Error> body when completion fails late. */
    if (result >= 0 && (resp.status != 200 || (resp.body && strstr(resp.body, "<Error>")))) {
        if (resp.status == 200)
            resp.status = 500;
        result = s3_status_error(u->c, u->dest, u->bucket, u->key, &resp);
    }
    hf_http_resp_clear(&resp);
    curl_slist_free_all(ct);
    free(body);
    return result;
}

static int upload_multipart(s3_ctx *c, int fd, uint64_t size, const char *local_path,
                            const char *dest, const char *bucket, const char *key,
                            struct curl_slist *sse, int kms, const char *kms_key_id)
{
    int result = HF_OK;
    hf_http_resp resp = {0};
    multipart u = {c, dest, bucket, key, NULL, kms, kms_key_id};
    char *url = NULL, *buf = NULL;
    char upload_id[1024] = "";
    char(*etags)[128] = NULL;
    uint64_t part_size = env_bytes("HF_S3_PART_SIZE", 8 * MIB);
    if (!nonempty_env("HF_S3_PART_SIZE") && part_size < 5 * MIB)
        part_size = 5 * MIB;
    uint64_t nparts = (size + part_size - 1) / part_size;
    if (nparts > 10000) {
        part_size = (size + 9999) / 10000;
        nparts = (size + part_size - 1) / part_size;
    }
    hf_http_req req;

    if (!(url = s3_url(c, bucket, key, "uploads="))) {
        result = HF_ENOMEM;
        goto out;
    }
    req_init(c, &req, "CreateMultipartUpload", "POST", url, dest, bucket, key);
    if (kms) {
        req.kms_action = "kms:GenerateDataKey";
        req.kms_key_id = kms_key_id;
    }
    req.headers = sse;
    result = hf_http_perform(c->h, &req, &resp);
    if (result < 0)
        goto out;
    if (resp.status != 200) {
        result = s3_status_error(c, dest, bucket, key, &resp);
        goto out;
    }
    if (hf_http_xml_tag(resp.body, "UploadId", upload_id, sizeof upload_id) != 0) {
        result = hf_error(HF_ENET, "%s: CreateMultipartUpload answered without an UploadId", dest);
        goto out;
    }
    if (!(u.eupload = uri_encode(upload_id, 0))) {
        result = HF_ENOMEM;
        goto out;
    }
    if (!(buf = hf_malloc(part_size)) || !(etags = hf_calloc(nparts, sizeof *etags)))
        result = HF_ENOMEM;
    for (uint64_t p = 0; p < nparts && result >= 0; p++) {
        uint64_t off = p * part_size;
        size_t len = (size_t)(size - off < part_size ? size - off : part_size);
        result = upload_part(&u, fd, local_path, p + 1, off, len, buf, etags[p]);
    }
    if (result >= 0)
        result = complete_multipart(&u, etags, nparts);
    if (result < 0)
        abort_multipart(&u);
out:
    hf_http_resp_clear(&resp);
    free(url);
    free(u.eupload);
    free(buf);
    free(etags);
    return result;
}

int hf_s3_upload_file(const char *local_path, const char *dest_uri, const hf_source_opts *opts,
                      const char *sse, const char *kms_key_id)
{
    int result = HF_OK;
    int fd = -1;
    s3_ctx c = {0};
    char *bucket = NULL, *key = NULL, *dest = NULL, *url = NULL, *buf = NULL;
    struct curl_slist *sseh = NULL;
    hf_http_resp resp = {0};

    result = hf_s3_parse_uri(dest_uri, &bucket, &key);
    if (result < 0)
        goto out;
    if (!*key || key[strlen(key) - 1] == '/') {
        const char *base = strrchr(local_path, '/');
        base = base ? base + 1 : local_path;
        char *k = hf_asprintf("%s%s", key, base);
        if (!k) {
            result = HF_ENOMEM;
            goto out;
        }
        free(key);
        key = k;
    }
    if (!(dest = hf_asprintf("s3://%s/%s", bucket, key))) {
        result = HF_ENOMEM;
        goto out;
    }
    result = sse_headers(&sseh, sse, kms_key_id, dest);
    if (result < 0)
        goto out;
    fd = open(local_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        result = hf_error(HF_EIO, "%s: cannot open for upload: %s", local_path, hf_strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    result = ctx_init(&c, opts);
    if (result < 0) {
        hf_error_prefix(result, "%s", dest);
        goto out;
    }
    uint64_t threshold = env_bytes("HF_S3_MULTIPART_THRESHOLD", 8 * MIB);
    int kms = sse && strcmp(sse, "aws:kms") == 0;
    if (size > threshold) {
        result = upload_multipart(&c, fd, size, local_path, dest, bucket, key, sseh, kms,
                                  kms_key_id && *kms_key_id ? kms_key_id : NULL);
        goto out;
    }
    if (!(buf = hf_malloc((size_t)size)) || !(url = s3_url(&c, bucket, key, NULL))) {
        result = HF_ENOMEM;
        goto out;
    }
    result = read_fully(fd, buf, (size_t)size, 0, local_path);
    if (result < 0)
        goto out;
    hf_http_req req;
    req_init(&c, &req, "PutObject", "PUT", url, dest, bucket, key);
    if (kms) {
        req.kms_action = "kms:GenerateDataKey";
        req.kms_key_id = kms_key_id && *kms_key_id ? kms_key_id : NULL;
    }
    req.headers = sseh;
    req.body = buf;
    req.body_len = (size_t)size;
    result = hf_http_perform(c.h, &req, &resp);
    if (result < 0)
        goto out;
    if (resp.status != 200) {
        result = s3_status_error(&c, dest, bucket, key, &resp);
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    hf_http_resp_clear(&resp);
    curl_slist_free_all(sseh);
    ctx_free(&c);
    free(bucket);
    free(key);
    free(dest);
    free(url);
    free(buf);
    return result;
}

/* ---- downloads ---- */

int hf_s3_download_file(const char *uri, const char *local_path, const hf_source_opts *opts)
{
    int result = HF_OK;
    hf_source *src = NULL;
    FILE *fp = NULL;
    char *tmp = NULL, *buf = NULL;
    const hf_source_vtable *vt =
        strncmp(uri, "s3://", 5) == 0 ? &hf_source_s3_vtable
        : (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0)
            ? &hf_source_http_vtable
            : NULL;
    if (!vt)
        return hf_error(HF_EINVAL, "%s: expected an s3://, http:// or https:// URI", uri);
    result = vt->open(uri, opts, &src);
    if (result < 0)
        goto out;
    size_t chunk = (size_t)env_bytes("HF_S3_DOWNLOAD_CHUNK", 8 * MIB);
    if (!(buf = hf_malloc(chunk))) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_fs_open_tmp(local_path, &fp, &tmp);
    if (result < 0)
        goto out;
    for (uint64_t off = 0; off < src->size;) {
        size_t want = src->size - off < chunk ? (size_t)(src->size - off) : chunk, got = 0;
        result = hf_source_read_at(src, off, buf, want, &got);
        if (result < 0)
            goto out;
        if (got == 0) {
            result = hf_error(HF_ENET, "%s: no data at byte %llu of %llu", uri,
                              (unsigned long long)off, (unsigned long long)src->size);
            goto out;
        }
        if (fwrite(buf, 1, got, fp) != got) {
            result = hf_error(HF_EIO, "%s: write failed: %s", local_path, hf_strerror(errno));
            goto out;
        }
        off += got;
    }
    result = hf_fs_commit_tmp(fp, tmp, local_path);
    fp = NULL;
    tmp = NULL;
out:
    if (fp)
        hf_fs_abort_tmp(fp, tmp);
    if (src)
        vt->close(src);
    free(buf);
    return result;
}
