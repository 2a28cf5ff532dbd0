/* audit.c - the remote-access audit log (JSON lines, one write() per line). */
#define _GNU_SOURCE
#include "shards/audit.h"

#include "common/hf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

char *hf_audit_clean_url(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_len);
    const char *after = at ? at + 1 : host;
    size_t rest = strcspn(after, "?#");
    size_t prefix = (size_t)(host - url);
    char *out = hf_malloc(prefix + rest + 1);
    if (!out)
        return NULL;
    memcpy(out, url, prefix);
    memcpy(out + prefix, after, rest);
    out[prefix + rest] = '\0';
    return out;
}

static void iso_time_ms(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int hf_audit_append(const char *path, const hf_audit_rec *r)
{
    int result = HF_OK;
    int fd = -1;
    char *line = NULL;
    json_t *o = NULL;
    if (!path || !*path)
        return HF_OK;

    char when[48], host[256] = "";
    iso_time_ms(when, sizeof when);
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    const char *user = NULL;
    struct passwd *pw = getpwuid(geteuid());
    if (pw)
        user = pw->pw_name;
    else
        user = getenv("USER");

    char range[64] = "";
    if (r->range_start >= 0) {
        if (r->range_end >= 0)
            snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)r->range_start,
                     (long long)r->range_end);
        else
            snprintf(range, sizeof range, "bytes=%lld-", (long long)r->range_start);
    }

    o = json_object();
    if (!o) {
        result = hf_error(HF_ENOMEM, "audit: cannot build a JSON object");
        goto out;
    }
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "user", str_or_null(user));
    json_object_set_new(o, "host", json_string(host));
    json_object_set_new(o, "rank", json_integer(r->rank));
    json_object_set_new(o, "method", str_or_null(r->method));
    json_object_set_new(o, "scheme", str_or_null(r->scheme));
    if (r->bucket || r->key) {
        json_object_set_new(o, "bucket", str_or_null(r->bucket));
        json_object_set_new(o, "key", str_or_null(r->key));
    } else {
        json_object_set_new(o, "url", str_or_null(r->url));
    }
    json_object_set_new(o, "range", range[0] ? json_string(range) : json_null());
    json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
    json_object_set_new(o, "status", json_integer(r->status));
    json_object_set_new(o, "attempt", json_integer(r->attempt));
    json_object_set_new(o, "duration_ms", json_real(r->duration_ms));
    json_object_set_new(o, "request_id",
                        r->request_id && *r->request_id ? json_string(r->request_id) : json_null());
    if (r->error)
        json_object_set_new(o, "error", json_string(r->error));

    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        result = hf_error(HF_ENOMEM, "audit: cannot encode a JSON line");
        goto out;
    }
    size_t len = strlen(text);
    line = hf_malloc(len + 2);
    if (!line) {
        free(text);
        result = HF_ENOMEM;
        goto out;
    }
    memcpy(line, text, len);
    line[len] = '\n';
    line[len + 1] = '\0';
    free(text);

    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        result = hf_error(HF_EIO, "audit log %s: cannot open for appending: %s", path,
                          hf_strerror(errno));
        goto out;
    }
    /* One write() per line: O_APPEND makes it atomic with respect to other writers. */
    ssize_t w = write(fd, line, len + 1);
    if (w < 0 || (size_t)w != len + 1) {
        result = hf_error(HF_EIO, "audit log %s: short write: %s", path,
                          w < 0 ? hf_strerror(errno) : "partial line");
        goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    free(line);
    json_decref(o);
    return result;
}
