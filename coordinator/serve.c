/* serve.c - `hyperfold serve`: a model.h5 behind HTTP, the SageMaker inference-container contract
 * (GET /ping, POST /invocations), on libmicrohttpd's thread pool (docs/serving.md).
 *
 * Not collective: runs without MPI. The model is refcounted: a request holds the model it started
 * with, /reload or SIGHUP swaps in a new one atomically, the old one is freed by its last user.
 * Signals are taken by the main thread with sigtimedwait (every other thread blocks them), which
 * also flushes the buffered request log. */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/modelfile.h"
#include "coordinator/serve.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "jobs/bind.h"
#include "shards/audit.h"
#include "worker/task.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: hyperfold serve --model MODEL [--port 8080] [--listen 127.0.0.1] [--threads N]\n"
        "                       [--token-file F] [--tls-cert C --tls-key K]\n"
        "                       [--max-body-bytes 6291456] [--audit FILE] [--quiet]\n"
        "\n"
        "Serves the model over HTTP with the SageMaker inference-container contract:\n"
        "GET /ping, POST /invocations (text/csv, application/json, application/jsonlines in;\n"
        "the Accept type out), POST /reload (or SIGHUP) to reload MODEL, GET /metrics\n"
        "(Prometheus). MODEL is a model.h5, a directory holding one (/opt/ml/model), s3:// or "
        "http(s)://.\n"
        "Listens on 127.0.0.1 unless --listen; --port 0 takes a free port. With --token-file,\n"
        "every request but /ping needs `Authorization: Bearer <token>`. SIGTERM or SIGINT\n"
        "finish the requests in flight and exit 0. One log line per request on stderr\n"
        "(--quiet: none). An s3:// or http(s):// model's download is audited: --audit FILE,\n"
        "else $HYPERFOLD_AUDIT, else ~/.local/state/hyperfold/audit.jsonl (docs/security.md).\n"
        "See docs/serving.md.\n");
}

/* ---- the model, refcounted ------------------------------------------------------------------- */

typedef struct served {
    hf_modelfile *m;
    atomic_int refs;
} served;

/* Reads the model at `path` (a model.h5, a directory holding model.h5, s3://, http(s)://). The one
 * place that knows where a served model comes from. */
static char *g_audit_path; /* the audit log of the model's downloads (hf_audit_resolve) */

static int load_model(const char *path, hf_modelfile **out)
{
    /* A file, a directory holding model.h5 (SageMaker's /opt/ml/model), s3:// or http(s)://
     * (S3 endpoint and credentials from the environment, as `hyperfold s3` takes them). */
    hf_source_opts sopts = {.rank = 0, .audit_path = g_audit_path};
    return hf_modelfile_read_uri(NULL, path, &sopts, out);
}

/* The TLS key's text (NUL-terminated) wiped before it is freed. */
static void free_key(char *key)
{
    if (key) {
        OPENSSL_cleanse(key, strlen(key));
        free(key);
    }
}

/* ---- metrics --------------------------------------------------------------------------------- */

static const double k_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                   0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
#define N_BUCKETS (sizeof k_buckets / sizeof k_buckets[0])

static struct server {
    const char *model_path;
    char *model_shown; /* model_path as it may be printed: hf_source_display (no signed query) */
    served *cur;
    pthread_mutex_t mu;        /* guards cur */
    pthread_mutex_t reload_mu; /* one reload at a time */
    size_t max_body;
    int quiet;
    int have_token;
    unsigned char token_sha[SHA256_DIGEST_LENGTH];
    atomic_int stopping;
    atomic_long in_flight;
    /* metrics */
    atomic_ulong by_status[600];
    atomic_ulong rows;
    atomic_ulong bucket[N_BUCKETS];
    atomic_ulong count;
    atomic_ullong sum_ns;
    atomic_ulong reloads, reload_failures;
    double load_seconds; /* guarded by mu */
    double started;
} g;

/* ---- the request log ------------------------------------------------------------------------ */

/* One line per request on stderr, buffered: a request appends its line under a mutex (no system
 * call), the buffer is written when it is full, by the main thread every LOG_FLUSH_MS while lines
 * wait, before any other line the server writes (so the order on stderr is the order of events)
 * and at exit after the drain. A line is whole in one write(), never split between two. Lines
 * are lost only if the process dies without exiting (SIGKILL, a crash): at most LOG_FLUSH_MS of
 * them. */
#define LOG_CAP 16384
#define LOG_FLUSH_MS 100
static struct {
    pthread_mutex_t mu;
    size_t len;
    atomic_int pending; /* len > 0, read without the lock by the flusher */
    char buf[LOG_CAP];
} g_log = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(2, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* stderr closed or full disk: the log is best effort, serving goes on */
        p += w;
        n -= (size_t)w;
    }
}

/* Called with g_log.mu held. */
static void log_flush_locked(void)
{
    if (g_log.len)
        write_all(g_log.buf, g_log.len);
    g_log.len = 0;
    atomic_store(&g_log.pending, 0);
}

static void log_flush(void)
{
    pthread_mutex_lock(&g_log.mu);
    log_flush_locked();
    pthread_mutex_unlock(&g_log.mu);
}

static void log_line(const char *line, size_t n)
{
    pthread_mutex_lock(&g_log.mu);
    if (g_log.len + n > LOG_CAP)
        log_flush_locked();
    if (n > LOG_CAP) {
        write_all(line, n);
    } else {
        memcpy(g_log.buf + g_log.len, line, n);
        g_log.len += n;
        atomic_store(&g_log.pending, 1);
    }
    pthread_mutex_unlock(&g_log.mu);
}

/* A line other than a request's (reload, stop): the buffered request lines go first. */
static void log_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_event(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    pthread_mutex_lock(&g_log.mu);
    log_flush_locked();
    write_all(line, len);
    pthread_mutex_unlock(&g_log.mu);
}

static served *acquire(void)
{
    pthread_mutex_lock(&g.mu);
    served *s = g.cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&g.mu);
    return s;
}

static void release(served *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        hf_modelfile_free(s->m);
        free(s);
    }
}

/* Loads the model file again and swaps it in; the old one stays until its last request ends. On
 * failure the old model stays and *msg holds the reason (caller frees). */
static int reload(char **msg)
{
    pthread_mutex_lock(&g.reload_mu);
    double t0 = hf_now();
    hf_error_clear();
    hf_modelfile *m = NULL;
    int result = load_model(g.model_path, &m);
    served *s = result >= 0 ? calloc(1, sizeof *s) : NULL;
    if (result >= 0 && !s) {
        hf_modelfile_free(m);
        result = hf_error(HF_ENOMEM, "out of memory");
    }
    if (result < 0) {
        *msg = hf_asprintf("reloading %s: %s (the previous model is still served)", g.model_shown,
                           hf_error_message());
        hf_error_clear();
        atomic_fetch_add(&g.reload_failures, 1);
        pthread_mutex_unlock(&g.reload_mu);
        log_event("hyperfold: serve: %s\n", *msg ? *msg : "reload failed");
        return result;
    }
    s->m = m;
    atomic_store(&s->refs, 1);
    pthread_mutex_lock(&g.mu);
    served *old = g.cur;
    g.cur = s;
    g.load_seconds = hf_now() - t0;
    pthread_mutex_unlock(&g.mu);
    release(old);
    atomic_fetch_add(&g.reloads, 1);
    *msg = NULL;
    pthread_mutex_unlock(&g.reload_mu);
    if (!g.quiet)
        log_event("hyperfold: serve: reloaded %s (%.3fs)\n", g.model_shown, hf_now() - t0);
    return HF_OK;
}

/* ---- requests -------------------------------------------------------------------------------- */

enum route { R_NONE, R_PING, R_INVOKE, R_RELOAD, R_METRICS };

typedef struct req {
    double t0;
    enum route route;
    int status;  /* answered with, 0: not yet */
    size_t rows; /* predicted */
    char *body;
    size_t len, cap;
    int too_big;
    hf_serve_fmt in, out;
    int header;
    char method[8], path[64]; /* for the log line */
    int checked;              /* first_call has run */
} req;

static enum MHD_Result respond(struct MHD_Connection *c, req *r, unsigned status, const char *ctype,
                               char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->route == R_PING || r->route == R_METRICS ? "GET, HEAD" : "POST");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (atomic_load(&g.stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = (int)status;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A JSON error body {"error": "..."}. */
static enum MHD_Result respond_error(struct MHD_Connection *c, req *r, unsigned status,
                                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result respond_error(struct MHD_Connection *c, req *r, unsigned status,
                                     const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    size_t len = text ? strlen(text) : 0;
    char *body = text ? realloc(text, len + 2) : NULL;
    if (body) {
        body[len++] = '\n';
        body[len] = '\0';
    } else {
        free(text);
    }
    return respond(c, r, status, "application/json", body, len);
}

/* Media type of a header value ("text/csv; header=present" -> "text/csv"), lower case into buf. */
static void media_type(const char *v, char *buf, size_t cap)
{
    size_t i = 0;
    while (*v == ' ' || *v == '\t')
        v++;
    while (*v && *v != ';' && *v != ',' && *v != ' ' && i + 1 < cap)
        buf[i++] = (char)(*v >= 'A' && *v <= 'Z' ? *v + 32 : *v), v++;
    buf[i] = '\0';
}

static int fmt_of(const char *mt)
{
    if (strcmp(mt, "text/csv") == 0)
        return HF_SERVE_CSV;
    if (strcmp(mt, "application/json") == 0)
        return HF_SERVE_JSON;
    if (strcmp(mt, "application/jsonlines") == 0 || strcmp(mt, "application/x-ndjson") == 0 ||
        strcmp(mt, "application/jsonl") == 0)
        return HF_SERVE_JSONL;
    return 0;
}

/* 1 if a parameter list (after ';') or a SageMaker custom attributes value holds header=present. */
static int says_header(const char *v)
{
    return v && strcasestr(v, "header=present") != NULL;
}

/* The Accept header's first type that is served (text/csv when absent or * / *); 0: none. */
static int accept_fmt(const char *v)
{
    if (!v || !*v)
        return HF_SERVE_CSV;
    for (const char *p = v; p && *p;) {
        char mt[64];
        media_type(p, mt, sizeof mt);
        int f = fmt_of(mt);
        if (f)
            return f;
        if (strcmp(mt, "*/*") == 0 || strcmp(mt, "text/*") == 0)
            return HF_SERVE_CSV;
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return 0;
}

static int authorized(struct MHD_Connection *c)
{
    if (!g.have_token)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    /* Constant time in the token: both sides hashed, the digests compared with CRYPTO_memcmp. */
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)h, strlen(h), d);
    return CRYPTO_memcmp(d, g.token_sha, sizeof d) == 0;
}

static enum MHD_Result invoke(struct MHD_Connection *c, req *r)
{
    served *s = acquire();
    const hf_modelfile *m = s->m;
    double *X = NULL, *pred = NULL;
    size_t n = 0, no = m->fitted->n_outputs;
    char err[1024];
    enum MHD_Result ret;
    hf_error_clear();
    int result = hf_serve_parse(m->schema, r->in, r->header, r->body ? r->body : "", r->len, &X, &n,
                                err, sizeof err);
    if (result > 0) {
        ret = respond_error(c, r, MHD_HTTP_BAD_REQUEST, "%s", err);
        goto out;
    }
    if (result < 0) {
        ret = respond_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory reading the body");
        goto out;
    }
    pred = malloc((n ? n : 1) * no * sizeof *pred);
    hf_dataset d = {.schema = m->schema, .n_rows = n, .X = X, .id = 0};
    result = pred ? (n ? hf_predict_pipeline(m->prep, m->fitted, NULL, &d, NULL, n, pred) : HF_OK)
                  : hf_error(HF_ENOMEM, "out of memory for %zu predictions", n);
    if (result < 0) {
        unsigned st = result == HF_EDATA || result == HF_EINVAL ? MHD_HTTP_BAD_REQUEST
                                                                : MHD_HTTP_INTERNAL_SERVER_ERROR;
        ret = respond_error(c, r, st, "%s", hf_error_message());
        hf_error_clear();
        goto out;
    }
    char *text;
    size_t len;
    if (hf_serve_format(m->schema, no, pred, n, r->out, &text, &len) < 0) {
        ret = respond_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory formatting");
        goto out;
    }
    r->rows = n;
    atomic_fetch_add(&g.rows, n);
    ret = respond(c, r, MHD_HTTP_OK,
                  r->out == HF_SERVE_CSV    ? "text/csv"
                  : r->out == HF_SERVE_JSON ? "application/json"
                                            : "application/jsonlines",
                  text, len);
out:
    free(X);
    free(pred);
    release(s);
    return ret;
}

static enum MHD_Result metrics(struct MHD_Connection *c, req *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp)
        return respond_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    fputs("# HELP hyperfold_serve_requests_total Requests answered, by HTTP status code.\n"
          "# TYPE hyperfold_serve_requests_total counter\n",
          fp);
    for (int s = 100; s < 600; s++) {
        unsigned long v = atomic_load(&g.by_status[s]);
        if (v)
            fprintf(fp, "hyperfold_serve_requests_total{code=\"%d\"} %lu\n", s, v);
    }
    fprintf(fp,
            "# HELP hyperfold_serve_rows_predicted_total Rows predicted by /invocations.\n"
            "# TYPE hyperfold_serve_rows_predicted_total counter\n"
            "hyperfold_serve_rows_predicted_total %lu\n",
            atomic_load(&g.rows));
    fputs("# HELP hyperfold_serve_request_duration_seconds Time from a request's headers to its "
          "response sent.\n"
          "# TYPE hyperfold_serve_request_duration_seconds histogram\n",
          fp);
    unsigned long cum = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cum += atomic_load(&g.bucket[b]);
        fprintf(fp, "hyperfold_serve_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
                k_buckets[b], cum);
    }
    unsigned long count = atomic_load(&g.count);
    fprintf(fp,
            "hyperfold_serve_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
            "hyperfold_serve_request_duration_seconds_sum %.9f\n"
            "hyperfold_serve_request_duration_seconds_count %lu\n",
            count, (double)atomic_load(&g.sum_ns) * 1e-9, count);
    pthread_mutex_lock(&g.mu);
    double load = g.load_seconds;
    pthread_mutex_unlock(&g.mu);
    fprintf(fp,
            "# HELP hyperfold_serve_model_load_seconds Time the current model took to load.\n"
            "# TYPE hyperfold_serve_model_load_seconds gauge\n"
            "hyperfold_serve_model_load_seconds %.6f\n"
            "# HELP hyperfold_serve_model_reloads_total Successful reloads (/reload, SIGHUP).\n"
            "# TYPE hyperfold_serve_model_reloads_total counter\n"
            "hyperfold_serve_model_reloads_total %lu\n"
            "# HELP hyperfold_serve_model_reload_failures_total Reloads that kept the old model.\n"
            "# TYPE hyperfold_serve_model_reload_failures_total counter\n"
            "hyperfold_serve_model_reload_failures_total %lu\n"
            "# HELP hyperfold_serve_in_flight_requests Requests being answered.\n"
            "# TYPE hyperfold_serve_in_flight_requests gauge\n"
            "hyperfold_serve_in_flight_requests %ld\n"
            "# HELP hyperfold_serve_uptime_seconds Seconds since the server started.\n"
            "# TYPE hyperfold_serve_uptime_seconds gauge\n"
            "hyperfold_serve_uptime_seconds %.3f\n",
            load, atomic_load(&g.reloads), atomic_load(&g.reload_failures),
            atomic_load(&g.in_flight), hf_now() - g.started);
    if (fclose(fp) != 0) {
        free(text);
        return respond_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    return respond(c, r, MHD_HTTP_OK, "text/plain; version=0.0.4", text, len);
}

/* The first call of a request: route, method, authorization, content type and declared size.
 * Returns 1 when the request was answered already (*ret set). */
static int first_call(struct MHD_Connection *c, req *r, const char *url, const char *method,
                      enum MHD_Result *ret)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    r->route = strcmp(url, "/ping") == 0          ? R_PING
               : strcmp(url, "/invocations") == 0 ? R_INVOKE
               : strcmp(url, "/reload") == 0      ? R_RELOAD
               : strcmp(url, "/metrics") == 0     ? R_METRICS
                                                  : R_NONE;
    if (r->route == R_NONE) {
        *ret = respond_error(c, r, MHD_HTTP_NOT_FOUND,
                             "no such path \"%.200s\", expected /ping, /invocations, /reload or "
                             "/metrics",
                             url);
        return 1;
    }
    int want_get = r->route == R_PING || r->route == R_METRICS;
    if ((want_get && !get) || (!want_get && !post)) {
        *ret = respond_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "%s %s: expected %s", method, url,
                             want_get ? "GET" : "POST");
        return 1;
    }
    if (r->route == R_PING) {
        *ret = respond(c, r, MHD_HTTP_OK, "text/plain", NULL, 0);
        return 1;
    }
    if (!authorized(c)) {
        *ret = respond_error(c, r, MHD_HTTP_UNAUTHORIZED,
                             "%s: missing or wrong token, expected the header Authorization: "
                             "Bearer <token>",
                             url);
        return 1;
    }
    if (r->route == R_METRICS) {
        *ret = metrics(c, r);
        return 1;
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > g.max_body) {
        *ret = respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE,
                             "body of %s bytes, expected at most %zu (--max-body-bytes)", cl,
                             g.max_body);
        return 1;
    }
    if (r->route == R_INVOKE) {
        const char *ct =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        char mt[128];
        media_type(ct ? ct : "", mt, sizeof mt);
        r->in = fmt_of(mt);
        if (!r->in) {
            *ret = respond_error(c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 "Content-Type \"%.100s\", expected text/csv, application/json or "
                                 "application/jsonlines",
                                 ct ? ct : "");
            return 1;
        }
        const char *ca =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amzn-SageMaker-Custom-Attributes");
        r->header = r->in == HF_SERVE_CSV &&
                    ((ct && strchr(ct, ';') && says_header(strchr(ct, ';'))) || says_header(ca));
        const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
        r->out = accept_fmt(acc);
        if (!r->out) {
            *ret = respond_error(c, r, MHD_HTTP_NOT_ACCEPTABLE,
                                 "Accept \"%.100s\", expected text/csv, application/json or "
                                 "application/jsonlines",
                                 acc);
            return 1;
        }
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    req *r = *con_cls;
    enum MHD_Result ret;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->t0 = hf_now();
        snprintf(r->method, sizeof r->method, "%s", method);
        /* The path as the log prints it: libmicrohttpd has decoded it, so a control byte
         * (%0A) is written escaped and the request stays one log line. */
        size_t k = 0;
        for (const unsigned char *u = (const unsigned char *)url; *u && k + 5 < sizeof r->path;
             u++) {
            if (*u < 0x20 || *u == 0x7f)
                k += (size_t)snprintf(r->path + k, sizeof r->path - k, "\\x%02x", *u);
            else
                r->path[k++] = (char)*u;
        }
        r->path[k] = '\0';
        atomic_fetch_add(&g.in_flight, 1);
        *con_cls = r;
        /* A POST is checked before its body is read (a refused body is not read at all); other
         * methods, which have no body, are answered on the next call, after the request is
         * complete, so that their connection stays open for the next request. */
        r->checked = strcmp(method, "POST") == 0;
        if (r->checked && first_call(c, r, url, method, &ret))
            return ret;
        return MHD_YES;
    }
    if (!r->checked) {
        r->checked = 1;
        if (first_call(c, r, url, method, &ret))
            return ret;
    }
    if (r->status) { /* answered already: discard what else comes */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* A body without Content-Length (chunked) is counted as it comes: past the limit it is
         * discarded, not buffered, and answered with 413 at its end. */
        if (!r->too_big && r->len + *upload_size > g.max_body) {
            r->too_big = 1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
        }
        if (!r->too_big) {
            if (r->len + *upload_size + 1 > r->cap) {
                size_t cap = r->cap ? r->cap : 256;
                while (cap < r->len + *upload_size + 1)
                    cap *= 2;
                char *b = realloc(r->body, cap);
                if (!b)
                    return MHD_NO;
                r->body = b;
                r->cap = cap;
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return respond_error(c, r, MHD_HTTP_CONTENT_TOO_LARGE,
                             "body longer than %zu bytes, expected at most %zu (--max-body-bytes)",
                             g.max_body, g.max_body);
    if (r->route == R_RELOAD) {
        char *msg = NULL;
        if (reload(&msg) < 0) {
            ret = respond_error(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s",
                                msg ? msg : "reload failed");
            free(msg);
            return ret;
        }
        char *body = hf_asprintf("{\"reloaded\":true}\n");
        return respond(c, r, MHD_HTTP_OK, "application/json", body, body ? strlen(body) : 0);
    }
    return invoke(c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    req *r = *con_cls;
    if (!r)
        return;
    double dt = hf_now() - r->t0;
    int st = r->status > 0 && r->status < 600 ? r->status : 0;
    if (st)
        atomic_fetch_add(&g.by_status[st], 1);
    size_t b = 0;
    while (b < N_BUCKETS && dt > k_buckets[b])
        b++;
    if (b < N_BUCKETS)
        atomic_fetch_add(&g.bucket[b], 1);
    atomic_fetch_add(&g.count, 1);
    atomic_fetch_add(&g.sum_ns, (unsigned long long)(dt * 1e9));
    if (!g.quiet) {
        char line[256];
        int n = snprintf(line, sizeof line, "hyperfold: serve: %s %s %d rows=%zu us=%.0f%s\n",
                         r->method, r->path, r->status, r->rows, dt * 1e6,
                         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed)");
        if (n > 0)
            log_line(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&g.in_flight, 1);
}

/* ---- the command ----------------------------------------------------------------------------- */

/* --max-body-bytes: a size through the job spec's one parser (6291456, 6MiB, 8MB). */
static int parse_size(const char *name, const char *v, size_t *out)
{
    uint64_t x = 0;
    if (hf_bind_parse_size(v, &x) || x > SIZE_MAX)
        return hf_error(HF_EINVAL,
                        "serve: %s: got \"%s\", expected a positive size in bytes such as "
                        "6291456 or 6MiB",
                        name, v);
    *out = (size_t)x;
    return HF_OK;
}

static int read_text(const char *what, const char *path, char **data, size_t *len)
{
    if (hf_fs_read_file(path, data, len) < 0)
        return hf_error_prefix(HF_EINVAL, "serve: %s %s: ", what, path);
    return HF_OK;
}

int hf_cmd_serve(int argc, char **argv)
{
    const char *model = NULL, *port_s = "8080", *listen_s = "127.0.0.1", *token_file = NULL,
               *tls_cert = NULL, *tls_key = NULL, *max_s = NULL, *audit = NULL;
    int threads = 0, quiet = 0;
    const hf_arg_def defs[] = {HF_VALUE_ARG("--model", &model, NULL),
                               HF_VALUE_ARG("--port", &port_s, NULL),
                               HF_VALUE_ARG("--listen", &listen_s, NULL),
                               HF_INT_ARG("--threads", &threads, 1024),
                               HF_VALUE_ARG("--token-file", &token_file, NULL),
                               HF_VALUE_ARG("--tls-cert", &tls_cert, NULL),
                               HF_VALUE_ARG("--tls-key", &tls_key, NULL),
                               HF_VALUE_ARG("--max-body-bytes", &max_s, NULL),
                               HF_VALUE_ARG("--audit", &audit, NULL),
                               HF_FLAG_ARG("--quiet", "-q", &quiet)};
    const hf_cmdline cl = {"serve", HF_ARGS(defs), NULL, NULL, 0, usage};
    int result = hf_args_parse(&cl, argc, argv, NULL, NULL, 1);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (!model)
        return hf_error(HF_EINVAL,
                        "serve: --model is required (a model.h5, its directory or an s3:// URI)");
    char *end = NULL;
    long port = strtol(port_s, &end, 10);
    if (end == port_s || *end || port < 0 || port > 65535)
        return hf_error(HF_EINVAL,
                        "serve: --port: got \"%s\", expected a port 0-65535 (0: any "
                        "free port)",
                        port_s);
    g.max_body = 6u << 20;
    if (max_s)
        HF_CALL(parse_size("--max-body-bytes", max_s, &g.max_body));
    if (!tls_cert != !tls_key)
        return hf_error(HF_EINVAL, "serve: --tls-cert and --tls-key go together");
    free(g_audit_path);
    HF_CALL(hf_audit_resolve(audit, &g_audit_path));
    if (tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return hf_error(HF_EINVAL, "serve: --tls-cert: this libmicrohttpd was built without TLS "
                                   "support (GnuTLS); serve HTTP behind a TLS proxy instead");
    if (threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 0 ? (int)nc : 1;
    }
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } addr;
    memset(&addr, 0, sizeof addr);
    int v6 = strchr(listen_s, ':') != NULL;
    if (v6) {
        addr.in6.sin6_family = AF_INET6;
        addr.in6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, listen_s, &addr.in6.sin6_addr) != 1)
            return hf_error(HF_EINVAL, "serve: --listen: got \"%s\", expected an IP address",
                            listen_s);
    } else {
        addr.in4.sin_family = AF_INET;
        addr.in4.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, listen_s, &addr.in4.sin_addr) != 1)
            return hf_error(HF_EINVAL, "serve: --listen: got \"%s\", expected an IP address",
                            listen_s);
    }
    char *cert = NULL, *key = NULL;
    size_t cert_len, key_len;
    if (token_file) {
        char *tok = NULL;
        size_t tl = 0;
        HF_CALL(read_text("--token-file", token_file, &tok, &tl));
        while (tl && (tok[tl - 1] == '\n' || tok[tl - 1] == '\r' || tok[tl - 1] == ' '))
            tl--;
        if (tl == 0 || memchr(tok, '\n', tl)) {
            free(tok);
            return hf_error(HF_EINVAL,
                            "serve: --token-file %s: expected one line holding the "
                            "token, got %s",
                            token_file, tl ? "several lines" : "an empty file");
        }
        SHA256((const unsigned char *)tok, tl, g.token_sha);
        OPENSSL_cleanse(tok, tl);
        free(tok);
        g.have_token = 1;
    }
    /* Anyone who can reach a non-loopback address can call /invocations and /reload. */
    int loopback = v6 ? IN6_IS_ADDR_LOOPBACK(&addr.in6.sin6_addr)
                      : (ntohl(addr.in4.sin_addr.s_addr) >> 24) == 127;
    if (!loopback && !g.have_token) {
        fprintf(stderr,
                "hyperfold: warning: serve: --listen %s without --token-file: anyone who "
                "can reach this address can call /invocations and /reload\n",
                listen_s);
    }
    if (tls_cert) {
        if ((result = read_text("--tls-cert", tls_cert, &cert, &cert_len)) < 0 ||
            (result = read_text("--tls-key", tls_key, &key, &key_len)) < 0) {
            free(cert);
            return result;
        }
    }

    /* Signals: every thread blocks them, the main thread takes them with sigtimedwait. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    g.started = hf_now();
    g.model_path = model;
    g.model_shown = hf_source_display(model);
    if (!g.model_shown)
        return hf_error(HF_ENOMEM, "out of memory");
    g.quiet = quiet;
    pthread_mutex_init(&g.mu, NULL);
    pthread_mutex_init(&g.reload_mu, NULL);
    double t0 = hf_now();
    hf_modelfile *m = NULL;
    result = load_model(model, &m);
    if (result < 0) {
        free(cert);
        free_key(key);
        return result;
    }
    g.cur = calloc(1, sizeof *g.cur);
    if (!g.cur) {
        hf_modelfile_free(m);
        free(cert);
        free_key(key);
        return hf_error(HF_ENOMEM, "out of memory");
    }
    g.cur->m = m;
    atomic_store(&g.cur->refs, 1);
    g.load_seconds = hf_now() - t0;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (cert ? MHD_USE_TLS : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &addr.sa},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL},
        /* Each connection may hold a body of up to max_body bytes: bound their number. */
        {MHD_OPTION_CONNECTION_LIMIT, 256, NULL},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    size_t n_opts = threads > 1 ? 5 : 4;
    if (cert) {
        opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
        opts[n_opts++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
    }
    opts[n_opts] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, NULL,
                                            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d) {
        release(g.cur);
        free(cert);
        free_key(key);
        return hf_error(HF_EIO,
                        "serve: cannot listen on %s port %ld (in use, or a bad TLS certificate "
                        "or key)",
                        listen_s, port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : (unsigned)port;
    printf("serving %s on %s://%s%s%s:%u\n", g.model_shown, cert ? "https" : "http", v6 ? "[" : "",
           listen_s, v6 ? "]" : "", bound);
    fflush(stdout);

    for (;;) {
        int sig = 0;
        /* Every LOG_FLUSH_MS the request lines waiting in the buffer are written (--quiet: no
         * lines, no timeout). */
        struct timespec tick = {0, LOG_FLUSH_MS * 1000000L};
        sig = sigtimedwait(&sigs, NULL, g.quiet ? NULL : &tick);
        if (sig < 0) {
            if (atomic_load(&g_log.pending))
                log_flush();
            continue;
        }
        if (sig == SIGHUP) {
            char *msg = NULL;
            (void)reload(&msg);
            free(msg);
            continue;
        }
        break;
    }
    /* Drain: stop accepting, let the requests in flight finish (at most 60 s), then stop. */
    atomic_store(&g.stopping, 1);
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    double deadline = hf_now() + 60;
    while (atomic_load(&g.in_flight) > 0 && hf_now() < deadline) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        if (atomic_load(&g_log.pending))
            log_flush();
    }
    long left = atomic_load(&g.in_flight);
    MHD_stop_daemon(d);
    release(g.cur);
    g.cur = NULL;
    free(g.model_shown);
    g.model_shown = NULL;
    free(cert);
    free_key(key);
    if (!quiet)
        log_event("hyperfold: serve: stopped (%s)\n",
                  left ? "requests still in flight after 60 s were cut" : "drained");
    return HF_OK;
}
