/* audit.c - the remote-access audit log (JSON lines, one write() per line). */
#define _GNU_SOURCE
#include "shards/audit.h"

#include "common/hf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Each S3 operation hyperfold calls and the IAM action AWS checks for it (the multipart calls
 * are authorised as s3:PutObject, except the abort). */
static const struct {
    const char *operation, *action;
} k_s3_actions[] = {
    {"HeadObject", "s3:GetObject"},
    {"GetObject", "s3:GetObject"},
    {"ListObjectsV2", "s3:ListBucket"},
    {"PutObject", "s3:PutObject"},
    {"CreateMultipartUpload", "s3:PutObject"},
    {"UploadPart", "s3:PutObject"},
    {"CompleteMultipartUpload", "s3:PutObject"},
    {"AbortMultipartUpload", "s3:AbortMultipartUpload"},
};

const char *hf_audit_s3_action(const char *operation)
{
    for (size_t i = 0; operation && i < sizeof k_s3_actions / sizeof k_s3_actions[0]; i++)
        if (strcmp(k_s3_actions[i].operation, operation) == 0)
            return k_s3_actions[i].action;
    return NULL;
}

int hf_audit_resolve(const char *flag, char **out)
{
    *out = NULL;
    const char *v = flag && *flag ? flag : getenv("HYPERFOLD_AUDIT");
    if (v && *v) {
        if (strcmp(v, "off") == 0)
            return HF_OK;
        *out = hf_strdup(v);
        return *out ? HF_OK : HF_ENOMEM;
    }
    const char *state = getenv("XDG_STATE_HOME");
    if (state && state[0] == '/')
        *out = hf_asprintf("%s/hyperfold/audit.jsonl", state);
    else if ((v = getenv("HOME")) && v[0] == '/')
        *out = hf_asprintf("%s/.local/state/hyperfold/audit.jsonl", v);
    else
        return hf_error(HF_EINVAL, "audit log: HOME is not set, so there is no default "
                                   "~/.local/state/hyperfold/audit.jsonl; expected --audit FILE or "
                                   "HYPERFOLD_AUDIT=FILE (or off)");
    return *out ? HF_OK : HF_ENOMEM;
}

/* Creates the directories above `path` (mode 0700) that do not exist. */
static int make_parents(const char *path)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return -1;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
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
    json_object_set_new(o, "principal", str_or_null(r->principal));
    const char *op = r->operation ? r->operation : r->method;
    const char *action = r->action ? r->action : hf_audit_s3_action(op);
    json_object_set_new(o, "operation", str_or_null(op));
    json_object_set_new(o, "action", str_or_null(action));
    char *resource = NULL;
    if (r->bucket)
        resource = r->list_prefix || !r->key ? hf_asprintf("arn:aws:s3:::%s", r->bucket)
                                             : hf_asprintf("arn:aws:s3:::%s/%s", r->bucket, r->key);
    json_object_set_new(o, "resource",
                        resource ? json_string(resource) : str_or_null(r->bucket ? NULL : r->url));
    free(resource);
    if (r->list_prefix)
        json_object_set_new(o, "prefix", json_string(r->list_prefix));
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
    if (r->kms_action) {
        json_object_set_new(o, "kms_key_id", str_or_null(r->kms_key_id));
        json_object_set_new(o, "kms_action", json_string(r->kms_action));
    }
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
    if (fd < 0 && errno == ENOENT && make_parents(path) == 0)
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
