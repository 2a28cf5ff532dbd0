/* http.c - the retrying HTTP request engine (shared with s3.c) and the http(s):// source.
 *
 * The http(s) source HEADs the URL for its size (falling back to a GET when HEAD is refused) and
 * reads with Range GETs when the server advertises "Accept-Ranges: bytes". Otherwise it streams:
 * one GET is kept open and sequential read_at calls consume it in order (a read that goes
 * backwards, or a retry, restarts the GET and skips to the offset). TLS peer and host verification
 * are always on; AWS_CA_BUNDLE or HF_CA_BUNDLE may name a CA file. */
#define _GNU_SOURCE
#include "shards/s3.h"

#include "common/hf.h"
#include "common/rng.h"
#include "shards/audit.h"
#include "shards/creds.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

/* The SHA-256 of an empty payload, sent as x-amz-content-sha256 on GET/HEAD/DELETE. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MAX_ERROR_BODY (1u << 20)
#define MAX_BODY (256u << 20)

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc = CURLE_OK;

static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int hf_http_global_init(void)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return hf_error(HF_ENET, "libcurl: global initialisation failed: %s",
                        curl_easy_strerror(g_curl_init_rc));
    return HF_OK;
}

static double env_double(const char *name, double dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= 0)) {
        hf_warn("%s=%s is not a non-negative number; using %g", name, v, dflt);
        return dflt;
    }
    return d;
}

static void hf_http_retry_from_env(hf_http_retry *r)
{
    r->max_retries = (int)env_double("HF_S3_MAX_RETRIES", 8);
    r->budget_s = env_double("HF_S3_RETRY_BUDGET_S", 60);
    r->base_s = 0.1;
    r->cap_s = 5.0;
}

void hf_http_resp_clear(hf_http_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

int hf_http_xml_tag(const char *xml, const char *tag, char *out, size_t n)
{
    char open[96], close[96];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = xml ? strstr(xml, open) : NULL;
    if (!a)
        return -1;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b)
        return -1;
    size_t len = (size_t)(b - a);
    if (len >= n)
        len = n - 1;
    memcpy(out, a, len);
    out[len] = '\0';
    return 0;
}

/* State of one attempt, seen by the callbacks. */
typedef struct attempt_state {
    CURL *h;
    const hf_http_req *req;
    hf_http_resp *resp;
    size_t *got;        /* progress into the sink, kept across attempts */
    uint64_t body_pos;  /* body bytes seen in this attempt */
    uint64_t skip;      /* bytes to drop before the sink (a 200 answer to a ranged GET) */
    uint64_t received;  /* body bytes received in this attempt */
    int sink_full;      /* stopped on purpose once the sink was full */
    int status_checked; /* the status of this attempt has been looked at */
    long status;
} attempt_state;

static int body_append(hf_http_resp *resp, const char *data, size_t n, size_t limit)
{
    if (resp->body_len + n > limit)
        n = resp->body_len < limit ? limit - resp->body_len : 0;
    if (n == 0)
        return 0;
    char *b = realloc(resp->body, resp->body_len + n + 1);
    if (!b)
        return -1;
    memcpy(b + resp->body_len, data, n);
    resp->body = b;
    resp->body_len += n;
    resp->body[resp->body_len] = '\0';
    return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    attempt_state *st = ud;
    size_t n = size * nmemb;
    const hf_http_req *req = st->req;
    st->received += n;
    if (!st->status_checked) {
        curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &st->status);
        st->status_checked = 1;
        if (req->sink && st->status == 200)
            st->skip = req->range_off + *st->got;
    }
    if (!req->sink || (st->status != 200 && st->status != 206)) {
        size_t limit = req->sink ? MAX_ERROR_BODY : MAX_BODY;
        return body_append(st->resp, data, n, limit) == 0 ? n : 0;
    }
    size_t off = 0;
    if (st->body_pos < st->skip) {
        uint64_t drop = st->skip - st->body_pos;
        off = drop < n ? (size_t)drop : n;
    }
    st->body_pos += n;
    size_t room = req->range_len - *st->got;
    size_t take = n - off < room ? n - off : room;
    if (take > 0) {
        memcpy((char *)req->sink + *st->got, data + off, take);
        *st->got += take;
        st->resp->sink_got = *st->got;
    }
    if (*st->got == req->range_len && off + take < n) {
        /* More than asked for (a 200 answer): stop the transfer here. */
        st->sink_full = 1;
        return 0;
    }
    return n;
}

static void copy_value(char *dst, size_t n, const char *v, size_t len)
{
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    if (len > 0 && v[0] == '"' && v[len - 1] == '"' && len >= 2) {
        v++;
        len -= 2;
    }
    if (len >= n)
        len = n - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

/* The response headers kept as text: name and field of hf_http_resp. */
#define TEXT_HEADER(name, field)                                                                   \
    {                                                                                              \
        name, offsetof(hf_http_resp, field), sizeof(((hf_http_resp *)0)->field)                    \
    }
static const struct {
    const char *name;
    size_t off, size;
} k_text_headers[] = {
    TEXT_HEADER("etag", etag),
    TEXT_HEADER("x-amz-request-id", request_id),
    TEXT_HEADER("x-amz-checksum-sha256", checksum_sha256),
    TEXT_HEADER("accept-ranges", accept_ranges),
    TEXT_HEADER("x-amz-server-side-encryption", sse),
    TEXT_HEADER("x-amz-server-side-encryption-aws-kms-key-id", kms_key_id),
    TEXT_HEADER("last-modified", last_modified),
    TEXT_HEADER("content-type", content_type),
    TEXT_HEADER("location", location),
};
#undef TEXT_HEADER
#define N_TEXT_HEADERS (sizeof k_text_headers / sizeof k_text_headers[0])

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    attempt_state *st = ud;
    hf_http_resp *r = st->resp;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue or a redirect): forget earlier headers. */
        r->content_length = -1;
        r->total_size = 0;
        for (size_t i = 0; i < N_TEXT_HEADERS; i++)
            ((char *)r + k_text_headers[i].off)[0] = '\0';
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    size_t klen = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vlen = n - klen - 1;
    char tmp[128];
#define IS(name) (klen == strlen(name) && strncasecmp(data, name, klen) == 0)
    for (size_t i = 0; i < N_TEXT_HEADERS; i++)
        if (IS(k_text_headers[i].name)) {
            copy_value((char *)r + k_text_headers[i].off, k_text_headers[i].size, v, vlen);
            return n;
        }
    if (IS("content-length")) {
        copy_value(tmp, sizeof tmp, v, vlen);
        r->content_length = strtoll(tmp, NULL, 10);
    } else if (IS("content-range")) {
        copy_value(tmp, sizeof tmp, v, vlen);
        const char *slash = strrchr(tmp, '/');
        if (slash && slash[1] != '*')
            r->total_size = strtoull(slash + 1, NULL, 10);
    }
#undef IS
    return n;
}

static int retryable_status(long s)
{
    return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int retryable_curl(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Builds the header list of one attempt (caller frees). NULL when out of memory. */
static struct curl_slist *attempt_headers(const hf_http_req *req, const char *payload_sha)
{
    struct curl_slist *l = NULL, *t;
    char line[512];
    for (struct curl_slist *p = req->headers; p; p = p->next) {
        if (!(t = curl_slist_append(l, p->data)))
            goto fail;
        l = t;
    }
    if (req->creds) {
        snprintf(line, sizeof line, "x-amz-content-sha256: %s", payload_sha);
        if (!(t = curl_slist_append(l, line)))
            goto fail;
        l = t;
        if (req->creds->session_token) {
            char *tok = hf_asprintf("x-amz-security-token: %s", req->creds->session_token);
            if (!tok)
                goto fail;
            t = curl_slist_append(l, tok);
            OPENSSL_cleanse(tok, strlen(tok));
            free(tok);
            if (!t)
                goto fail;
            l = t;
        }
    }
    if (req->body) {
        int has_ct = 0;
        for (struct curl_slist *p = req->headers; p; p = p->next)
            has_ct |= strncasecmp(p->data, "content-type:", 13) == 0;
        if (!has_ct) {
            if (!(t = curl_slist_append(l, "Content-Type: application/octet-stream")))
                goto fail;
            l = t;
        }
    }
    return l;
fail:
    curl_slist_free_all(l);
    return NULL;
}

/* Sets the options of one attempt on a freshly reset handle. */
static int setup_attempt(CURL *h, const hf_http_req *req, attempt_state *st,
                         struct curl_slist *hdrs, char *range, double remaining_s)
{
    CURLcode c = CURLE_OK;
    c |= curl_easy_setopt(h, CURLOPT_URL, req->url);
    c |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    c |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* TLS verification is always on; there is deliberately no option to turn it off. */
    c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    const char *ca = getenv("HF_CA_BUNDLE");
    if (!ca || !*ca)
        ca = getenv("AWS_CA_BUNDLE");
    if (ca && *ca)
        c |= curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    c |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                          (long)(1000 * env_double("HF_S3_CONNECT_TIMEOUT_S", 10)));
    c |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    c |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                          (long)env_double("HF_S3_STALL_TIMEOUT_S", 30) + 1);
    long total_ms = (long)(remaining_s * 1000);
    c |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms < 1000 ? 1000L : total_ms);
    c |= curl_easy_setopt(h, CURLOPT_USERAGENT, "hyperfold/" HF_VERSION);
    c |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    c |= curl_easy_setopt(h, CURLOPT_WRITEDATA, st);
    c |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    c |= curl_easy_setopt(h, CURLOPT_HEADERDATA, st);
    c |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (req->creds) {
        char sig[128];
        snprintf(sig, sizeof sig, "aws:amz:%s:s3", req->region ? req->region : "us-east-1");
        c |= curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sig);
        c |= curl_easy_setopt(h, CURLOPT_USERNAME, req->creds->access_key);
        c |= curl_easy_setopt(h, CURLOPT_PASSWORD, req->creds->secret_key);
    } else {
        /* Unsigned requests (plain HTTP sources) may follow redirects; signed ones may not. */
        c |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        c |= curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
        c |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                              strncmp(req->url, "https:", 6) == 0 ? "https" : "http,https");
    }
    if (strcmp(req->method, "HEAD") == 0) {
        c |= curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req->body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
        /* Bodies go through POSTFIELDS so that libcurl's SigV4 payload hash matches the
         * x-amz-content-sha256 header we send. */
        c |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        c |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        c |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") != 0) {
        c |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    if (range)
        c |= curl_easy_setopt(h, CURLOPT_RANGE, range);
    if (c != CURLE_OK)
        return hf_error(HF_ENET, "%s: cannot configure the HTTP request", req->what);
    return HF_OK;
}

static void describe_failure(char *buf, size_t n, CURLcode cc, long status, const char *body)
{
    if (cc != CURLE_OK && cc != CURLE_WRITE_ERROR) {
        snprintf(buf, n, "%s", curl_easy_strerror(cc));
        return;
    }
    char code[64] = "";
    if (body)
        hf_http_xml_tag(body, "Code", code, sizeof code);
    snprintf(buf, n, "HTTP %ld%s%s", status, code[0] ? " " : "", code);
}

/* One attempt's checks of a ranged answer (a 206 shorter than its Content-Length is a
 * truncated transfer, *truncated; one longer than the range asked for is an error) and its line
 * in the audit log. */
static int check_attempt(const hf_http_req *req, const attempt_state *st, uint64_t start,
                         uint64_t end, CURLcode cc, int attempt, double ms, int *truncated)
{
    const hf_http_resp *resp = st->resp;
    long status = resp->status;
    int result = HF_OK;
    *truncated = cc == CURLE_OK && req->sink && status == 206 && resp->content_length >= 0 &&
                 st->received < (uint64_t)resp->content_length;
    if (cc == CURLE_OK && req->sink && status == 206 && resp->content_length >= 0 &&
        (uint64_t)resp->content_length > end - start + 1)
        result = hf_error(HF_ENET, "%s: server sent Content-Length %lld for a range of %llu bytes",
                          req->what, (long long)resp->content_length,
                          (unsigned long long)(end - start + 1));
    /* SSE-KMS: what the request implies (a write), or what the answer says (reading an aws:kms
     * object makes S3 call kms:Decrypt; a HEAD decrypts nothing). */
    const char *kms_action = req->kms_action, *kms_key = req->kms_key_id;
    int ok = status >= 200 && status < 300;
    if (!kms_action && ok && req->operation && strcmp(req->operation, "GetObject") == 0 &&
        (resp->kms_key_id[0] || strcmp(resp->sse, "aws:kms") == 0))
        kms_action = "kms:Decrypt";
    if (kms_action && !kms_key && resp->kms_key_id[0])
        kms_key = resp->kms_key_id;
    hf_audit_rec ar = {
        .rank = req->rank,
        .principal = req->creds ? req->creds->access_key : NULL,
        .operation = req->operation,
        .action = req->action      ? req->action
                  : req->operation ? NULL
                                   : "http:Get",
        .list_prefix = req->list_prefix,
        .kms_key_id = kms_key,
        .kms_action = kms_action,
        .method = req->method,
        .scheme = req->scheme,
        .bucket = req->bucket,
        .key = req->key,
        .url = req->audit_url,
        .range_start = req->ranged ? (int64_t)start : -1,
        .range_end = req->ranged ? (int64_t)end : -1,
        .bytes = req->body_len > 0 ? req->body_len : st->received,
        .status = status,
        .attempt = attempt,
        .duration_ms = ms,
        .request_id = resp->request_id,
        .error = cc != CURLE_OK ? curl_easy_strerror(cc) : (*truncated ? "truncated body" : NULL),
    };
    int audit_status = hf_audit_append(req->audit_path, &ar);
    return result < 0 ? result : audit_status;
}

/* The wait before the next attempt (jittered exponential backoff), or the error when the retry
 * limits are spent. */
static int backoff(const hf_http_req *req, const hf_http_retry *lim, hf_rng *rng, int retries,
                   int attempt, double t0, const char *last, double *wait)
{
    double b = lim->base_s * pow(2.0, retries);
    if (b > lim->cap_s)
        b = lim->cap_s;
    *wait = hf_rng_uniform(rng) * b;
    double elapsed = hf_now() - t0;
    if (retries >= lim->max_retries || elapsed + *wait > lim->budget_s)
        return hf_error(HF_ENET,
                        "%s: %s failed after %d attempts in %.1f s (last: %s); retry limits "
                        "HF_S3_MAX_RETRIES=%d HF_S3_RETRY_BUDGET_S=%g",
                        req->what, req->method, attempt, elapsed, last, lim->max_retries,
                        lim->budget_s);
    return HF_OK;
}

int hf_http_perform(void *handle, const hf_http_req *req, hf_http_resp *resp)
{
    int result = HF_OK;
    CURL *h = handle;
    struct curl_slist *hdrs = NULL;
    hf_http_retry lim;
    char payload_sha[65] = EMPTY_SHA256;
    char last[256] = "";
    size_t got = 0;
    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
    HF_CALL(hf_http_global_init());
    hf_http_retry_from_env(&lim);
    if (req->ranged && req->range_len == 0)
        return HF_OK;
    if (req->creds && req->body_len > 0) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256(req->body, req->body_len, md);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
            snprintf(payload_sha + 2 * i, 3, "%02x", md[i]);
    }
    hdrs = attempt_headers(req, payload_sha);
    if (!hdrs && (req->headers || req->creds || req->body))
        return hf_error(HF_ENOMEM, "%s: out of memory building request headers", req->what);
    hf_rng rng;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    hf_rng_init(&rng, (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20), (uint64_t)getpid(),
                (uint64_t)req->rank);
    double t0 = hf_now();
    int retries = 0;
    for (int attempt = 1;; attempt++) {
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
        resp->status = 0;
        resp->content_length = -1;
        attempt_state st = {.h = h, .req = req, .resp = resp, .got = &got};
        char range[64], *rangep = NULL;
        uint64_t start = req->range_off + got;
        uint64_t end = req->range_off + req->range_len - 1;
        if (req->ranged) {
            snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)start,
                     (unsigned long long)end);
            rangep = range;
        }
        curl_easy_reset(h);
        double remaining = lim.budget_s - (hf_now() - t0);
        if ((result = setup_attempt(h, req, &st, hdrs, rangep, remaining > 0 ? remaining : 0)) < 0)
            break;
        double ta = hf_now();
        CURLcode cc = curl_easy_perform(h);
        double ms = (hf_now() - ta) * 1000.0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->attempts = attempt;
        if (cc == CURLE_WRITE_ERROR && st.sink_full)
            cc = CURLE_OK; /* the sink is full: the rest was not asked for */
        int truncated = 0;
        if ((result = check_attempt(req, &st, start, end, cc, attempt, ms, &truncated)) < 0)
            break;
        if (cc != CURLE_OK && !retryable_curl(cc)) {
            describe_failure(last, sizeof last, cc, resp->status, NULL);
            result =
                hf_error(HF_ENET, "%s: %s %s failed: %s", req->what, req->method, req->what, last);
            break;
        }
        if (cc == CURLE_OK && !retryable_status(resp->status) && !truncated)
            break;
        describe_failure(last, sizeof last, truncated ? CURLE_PARTIAL_FILE : cc, resp->status,
                         resp->body);
        if (st.received > 0 && req->sink && (resp->status == 206 || resp->status == 200))
            retries = 0; /* progress was made: the count applies to attempts in a row */
        double wait = 0;
        if ((result = backoff(req, &lim, &rng, retries, attempt, t0, last, &wait)) < 0)
            break;
        hf_debug("%s: attempt %d failed (%s); retrying in %.0f ms", req->what, attempt, last,
                 wait * 1000);
        retries++;
        sleep_s(wait);
    }
    if (result >= 0)
        resp->sink_got = got;
    curl_slist_free_all(hdrs);
    return result;
}

/* ---- the http(s):// source ---- */

typedef struct http_source {
    hf_source base;
    CURL *h;
    char *clean_url; /* without credentials or query: for messages and the audit log */
    char scheme[8];
    char *audit_path;
    int rank;
    int ranges; /* the server said Accept-Ranges: bytes */
} http_source;

static void http_close(hf_source *s)
{
    http_source *hs = (http_source *)s;
    if (!hs)
        return;
    if (hs->h)
        curl_easy_cleanup(hs->h);
    free(hs->clean_url);
    free(hs->audit_path);
    free(hs->base.uri);
    free(hs);
}

static void http_req_init(http_source *hs, hf_http_req *req, const char *method)
{
    memset(req, 0, sizeof *req);
    req->method = method;
    req->url = hs->base.uri;
    req->what = hs->clean_url;
    req->scheme = hs->scheme;
    req->audit_url = hs->clean_url;
    req->audit_path = hs->audit_path;
    req->rank = hs->rank;
}

static int http_status_error(const char *what, long status)
{
    const char *why = status == 404   ? "not found"
                      : status == 403 ? "access denied"
                      : status == 401 ? "authentication required"
                                      : "request failed";
    return hf_error(status == 401 || status == 403 ? HF_EAUTH : HF_ENET, "%s: HTTP %ld (%s)", what,
                    status, why);
}

static int http_open(const char *uri, const hf_source_opts *opts, hf_source **out)
{
    int result = HF_OK;
    hf_http_resp resp = {0};
    http_source *hs = NULL;
    *out = NULL;
    HF_CALL(hf_http_global_init());
    hs = hf_calloc(1, sizeof *hs);
    if (!hs)
        return HF_ENOMEM;
    hs->base.vt = &hf_source_http_vtable;
    hs->base.uri = hf_strdup(uri);
    hs->clean_url = hf_audit_clean_url(uri);
    if (!hs->base.uri || !hs->clean_url) {
        result = HF_ENOMEM;
        goto out;
    }
    snprintf(hs->scheme, sizeof hs->scheme, "%s",
             strncmp(uri, "https:", 6) == 0 ? "https" : "http");
    hs->rank = opts ? opts->rank : 0;
    if (opts && opts->audit_path && !(hs->audit_path = hf_strdup(opts->audit_path))) {
        result = HF_ENOMEM;
        goto out;
    }
    hs->h = curl_easy_init();
    if (!hs->h) {
        result = hf_error(HF_ENET, "%s: cannot create a libcurl handle", hs->clean_url);
        goto out;
    }
    hf_http_req req;
    http_req_init(hs, &req, "HEAD");
    result = hf_http_perform(hs->h, &req, &resp);
    if (result < 0)
        goto out;
    int have_size = resp.status == 200 && resp.content_length >= 0;
    if (have_size) {
        hs->base.size = (uint64_t)resp.content_length;
        hs->ranges = strcasecmp(resp.accept_ranges, "bytes") == 0;
    } else {
        /* HEAD refused or without a length: ask for the first byte instead. */
        char one;
        hf_http_resp_clear(&resp);
        http_req_init(hs, &req, "GET");
        req.ranged = 1;
        req.range_off = 0;
        req.range_len = 1;
        req.sink = &one;
        result = hf_http_perform(hs->h, &req, &resp);
        if (result < 0)
            goto out;
        if (resp.status == 206 && resp.total_size > 0) {
            hs->base.size = resp.total_size;
            hs->ranges = 1;
        } else if (resp.status == 200 && resp.content_length >= 0) {
            hs->base.size = (uint64_t)resp.content_length;
        } else if (resp.status == 200 || resp.status == 206) {
            result = hf_error(HF_ENET, "%s: the server gives no object size", hs->clean_url);
            goto out;
        } else {
            result = http_status_error(hs->clean_url, resp.status);
            goto out;
        }
    }
    snprintf(hs->base.fingerprint, sizeof hs->base.fingerprint, "%s:%s:%llu", hs->scheme,
             resp.etag[0] ? resp.etag : resp.last_modified, (unsigned long long)hs->base.size);
    *out = &hs->base;
    hs = NULL;
out:
    hf_http_resp_clear(&resp);
    http_close(hs ? &hs->base : NULL);
    return result;
}

static int http_read_at(hf_source *s, uint64_t offset, void *buf, size_t len, size_t *got)
{
    http_source *hs = (http_source *)s;
    hf_http_resp resp = {0};
    int result = HF_OK;
    *got = 0;
    hf_http_req req;
    http_req_init(hs, &req, "GET");
    /* Without range support the server answers 200 with the whole body and the engine skips to
     * the offset: correct, but each read re-reads the prefix. */
    req.ranged = 1;
    req.range_off = offset;
    req.range_len = len;
    req.sink = buf;
    result = hf_http_perform(hs->h, &req, &resp);
    if (result < 0)
        goto out;
    if (resp.status != 200 && resp.status != 206) {
        result = http_status_error(hs->clean_url, resp.status);
        goto out;
    }
    *got = resp.sink_got;
    if (*got < len) {
        result = hf_error(HF_ENET,
                          "%s: object ended at %llu bytes, expected %llu (changed while "
                          "reading?)",
                          hs->clean_url, (unsigned long long)(offset + *got),
                          (unsigned long long)s->size);
        goto out;
    }
out:
    hf_http_resp_clear(&resp);
    return result;
}

const hf_source_vtable hf_source_http_vtable = {
    .scheme = "http",
    .open = http_open,
    .read_at = http_read_at,
    .close = http_close,
    .list = NULL,
};
