/* source.c - the source dispatch table, the local file source and an in-memory source.
 *
 * The s3 and http(s) implementations live in s3.c / http.c (another module). They are referenced
 * through weak declarations so that hfcore links before those files exist; opening such a URI then
 * fails with a clear message instead of a link error. */
/* MAP_ANONYMOUS */
#define _DEFAULT_SOURCE
#include "shards/source.h"
#include "shards/csv.h"
#include "shards/audit.h"
#include "common/hf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern const hf_source_vtable hf_source_s3_vtable __attribute__((weak));
extern const hf_source_vtable hf_source_http_vtable __attribute__((weak));

#define FP_WINDOW (1024 * 1024)

typedef struct file_source {
    hf_source base;
    int fd;
} file_source;

typedef struct mem_source {
    hf_source base;
    const unsigned char *data;
} mem_source;

static const hf_source_vtable file_vtable;
static const hf_source_vtable mem_vtable;

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The local path of a plain path or file:// URI (borrowed pointer into uri). */
static const char *local_path(const char *uri)
{
    if (has_prefix(uri, "file://"))
        return uri + strlen("file://");
    return uri;
}

static int file_read_at(hf_source *s, uint64_t offset, void *buf, size_t len, size_t *got)
{
    file_source *f = (file_source *)s;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *got = done;
            return hf_error(HF_EIO, "reading %s at offset %llu: %s", s->uri,
                            (unsigned long long)(offset + done), hf_strerror(errno));
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return HF_OK;
}

static void file_close(hf_source *s)
{
    file_source *f = (file_source *)s;
    if (f->fd >= 0)
        close(f->fd);
    free(s->uri);
    free(f);
}

/* SHA-256 of the first and last MiB (the whole file once if it is at most 2 MiB). */
static int edge_sha256(hf_source *s, char out[65])
{
    int result = HF_OK;
    unsigned char *buf = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!ctx) {
        result = hf_error(HF_ENOMEM, "creating a SHA-256 context for %s", s->uri);
        goto out;
    }
    buf = hf_malloc(FP_WINDOW);
    if (!buf) {
        result = HF_ENOMEM;
        goto out;
    }
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        result = hf_error(HF_EINTERNAL, "initialising SHA-256 for %s", s->uri);
        goto out;
    }
    uint64_t ranges[2][2] = {{0, s->size < FP_WINDOW ? s->size : FP_WINDOW}, {0, 0}};
    if (s->size > 2 * (uint64_t)FP_WINDOW) {
        ranges[1][0] = s->size - FP_WINDOW;
        ranges[1][1] = FP_WINDOW;
    } else if (s->size > FP_WINDOW) {
        ranges[1][0] = FP_WINDOW;
        ranges[1][1] = s->size - FP_WINDOW;
    }
    for (int i = 0; i < 2; i++) {
        if (ranges[i][1] == 0)
            continue;
        size_t got = 0;
        result = hf_source_read_at(s, ranges[i][0], buf, (size_t)ranges[i][1], &got);
        if (result < 0)
            goto out;
        if (EVP_DigestUpdate(ctx, buf, got) != 1) {
            result = hf_error(HF_EINTERNAL, "hashing %s", s->uri);
            goto out;
        }
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        result = hf_error(HF_EINTERNAL, "hashing %s", s->uri);
        goto out;
    }
    for (unsigned int i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return result;
}

static int file_open(const char *uri, const hf_source_opts *opts, hf_source **out)
{
    (void)opts;
    int result = HF_OK;
    const char *path = local_path(uri);
    file_source *f = hf_calloc(1, sizeof *f);
    struct stat st;
    char sha[65];
    *out = NULL;
    if (!f)
        return HF_ENOMEM;
    f->fd = -1;
    f->base.vt = &file_vtable;
    f->base.uri = hf_strdup(uri);
    if (!f->base.uri) {
        result = HF_ENOMEM;
        goto out;
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) {
        /* A path that does not exist or cannot be read is bad input (exit code 2). */
        int bad_input = errno == ENOENT || errno == ENOTDIR || errno == EACCES || errno == ELOOP ||
                        errno == ENAMETOOLONG;
        result =
            hf_error(bad_input ? HF_EINVAL : HF_EIO, "opening %s: %s", path, hf_strerror(errno));
        goto out;
    }
    if (fstat(f->fd, &st) != 0) {
        result = hf_error(HF_EIO, "stat of %s: %s", path, hf_strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        result = hf_error(HF_EINVAL, "%s: got a non-regular file, expected a file", path);
        goto out;
    }
    f->base.size = (uint64_t)st.st_size;
    result = edge_sha256(&f->base, sha);
    if (result < 0)
        goto out;
    snprintf(f->base.fingerprint, sizeof f->base.fingerprint, "file:%llu:%lld:%s",
             (unsigned long long)f->base.size,
             (long long)st.st_mtim.tv_sec * 1000000000LL + (long long)st.st_mtim.tv_nsec, sha);
    *out = &f->base;
out:
    if (result < 0)
        file_close(&f->base);
    return result;
}

int hf_source_map(hf_source *s, uint64_t offset, const char **data, size_t *len, void **map,
                  size_t *map_len)
{
    *data = NULL;
    *len = 0;
    *map = NULL;
    *map_len = 0;
    if (s->vt != &file_vtable || offset >= s->size)
        return 0;
    file_source *f = (file_source *)s;
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return hf_error(HF_EIO, "stat of %s: %s", s->uri, hf_strerror(errno));
    if ((uint64_t)st.st_size != s->size)
        return hf_error(HF_EIO,
                        "%s: got %lld bytes, expected %llu (did the file change during the "
                        "ingest?)",
                        s->uri, (long long)st.st_size, (unsigned long long)s->size);
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    uint64_t base = offset - offset % page;
    size_t n = (size_t)(s->size - base);
    /* Zero pages first, then the file over them: at least one zero page follows its end (the
     * rest of its last page is zero too), so a scan that stops at a NUL stays in the mapping. */
    size_t total = (n + page - 1) / page * page + page;
    void *m = mmap(NULL, total, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return hf_error(HF_EIO, "mapping %s (%zu bytes): %s", s->uri, total, hf_strerror(errno));
    if (mmap(m, n, PROT_READ, MAP_PRIVATE | MAP_FIXED, f->fd, (off_t)base) == MAP_FAILED) {
        int e = errno;
        munmap(m, total);
        return hf_error(HF_EIO, "mapping %s at offset %llu: %s", s->uri, (unsigned long long)base,
                        hf_strerror(e));
    }
    /* Advice only: a failure changes nothing but the read-ahead. */
    (void)posix_madvise(m, n, POSIX_MADV_SEQUENTIAL);
    *map = m;
    *map_len = total;
    *data = (const char *)m + (offset - base);
    *len = (size_t)(s->size - offset);
    return 1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int file_list(const char *prefix_uri, const hf_source_opts *opts, char ***uris, size_t *n)
{
    (void)opts;
    int result = HF_OK;
    const char *dir = local_path(prefix_uri);
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t count = 0, cap = 0;
    *uris = NULL;
    *n = 0;
    if (!d)
        return hf_error(HF_EIO, "listing %s: %s", dir, hf_strerror(errno));
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] == '/';
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        if (!ends_with(e->d_name, ".csv") && !ends_with(e->d_name, ".csv.gz"))
            continue;
        result = hf_strv_push(&v, &count, &cap,
                              hf_asprintf("%s%s%s", prefix_uri, slash ? "" : "/", e->d_name));
        if (result < 0)
            goto out;
    }
    qsort(v, count, sizeof *v, name_cmp);
out:
    closedir(d);
    if (result < 0) {
        hf_strv_free(v, count);
        return result;
    }
    *uris = v;
    *n = count;
    return result;
}

static const hf_source_vtable file_vtable = {
    .scheme = "file",
    .open = file_open,
    .read_at = file_read_at,
    .close = file_close,
    .list = file_list,
};

static int mem_read_at(hf_source *s, uint64_t offset, void *buf, size_t len, size_t *got)
{
    mem_source *m = (mem_source *)s;
    memcpy(buf, m->data + offset, len);
    *got = len;
    return HF_OK;
}

static void mem_close(hf_source *s)
{
    free(s->uri);
    free(s);
}

static const hf_source_vtable mem_vtable = {
    .scheme = "mem",
    .open = NULL,
    .read_at = mem_read_at,
    .close = mem_close,
    .list = NULL,
};

int hf_source_open_memory(const void *data, size_t len, const char *name, hf_source **out)
{
    mem_source *m = hf_calloc(1, sizeof *m);
    char sha[65];
    *out = NULL;
    if (!m)
        return HF_ENOMEM;
    m->base.vt = &mem_vtable;
    m->base.uri = hf_strdup(name);
    m->base.size = len;
    m->data = data;
    if (!m->base.uri) {
        free(m);
        return HF_ENOMEM;
    }
    int result = edge_sha256(&m->base, sha);
    if (result < 0) {
        mem_close(&m->base);
        return result;
    }
    snprintf(m->base.fingerprint, sizeof m->base.fingerprint, "mem:%zu:%s", len, sha);
    *out = &m->base;
    return HF_OK;
}

/* The implementation for a URI, or NULL with the error recorded. */
static const hf_source_vtable *vtable_for(const char *uri)
{
    if (has_prefix(uri, "s3://")) {
        if (&hf_source_s3_vtable == NULL) {
            hf_error(HF_EINVAL, "%s: s3:// sources are not available in this build", uri);
            return NULL;
        }
        return &hf_source_s3_vtable;
    }
    if (has_prefix(uri, "http://") || has_prefix(uri, "https://")) {
        if (&hf_source_http_vtable == NULL) {
            hf_error(HF_EINVAL, "%s: http(s):// sources are not available in this build", uri);
            return NULL;
        }
        return &hf_source_http_vtable;
    }
    const char *colon = strstr(uri, "://");
    if (colon && !has_prefix(uri, "file://")) {
        hf_error(HF_EINVAL,
                 "%s: got an unknown URI scheme, expected a path, file://, s3:// or "
                 "http(s)://",
                 uri);
        return NULL;
    }
    return &file_vtable;
}

int hf_source_open(const char *uri, const hf_source_opts *opts, hf_source **out)
{
    *out = NULL;
    const hf_source_vtable *vt = vtable_for(uri);
    if (!vt)
        return hf_error_code() ? hf_error_code() : HF_EINVAL;
    return vt->open(uri, opts, out);
}

int hf_source_read_at(hf_source *s, uint64_t offset, void *buf, size_t len, size_t *got)
{
    *got = 0;
    if (offset >= s->size || len == 0)
        return HF_OK;
    if (len > s->size - offset)
        len = (size_t)(s->size - offset);
    return s->vt->read_at(s, offset, buf, len, got);
}

void hf_source_close(hf_source *s)
{
    if (!s)
        return;
    s->vt->close(s);
}

char *hf_source_display(const char *uri)
{
    if (strncasecmp(uri, "http://", 7) == 0 || strncasecmp(uri, "https://", 8) == 0)
        return hf_audit_clean_url(uri);
    return hf_strdup(uri);
}

int hf_source_is_prefix(const char *uri)
{
    size_t n = strlen(uri);
    if (n > 0 && uri[n - 1] == '/')
        return 1;
    if (strstr(uri, "://") && !has_prefix(uri, "file://"))
        return 0;
    struct stat st;
    return stat(local_path(uri), &st) == 0 && S_ISDIR(st.st_mode);
}

int hf_source_list(const char *prefix_uri, const hf_source_opts *opts, char ***uris, size_t *n)
{
    *uris = NULL;
    *n = 0;
    const hf_source_vtable *vt = vtable_for(prefix_uri);
    if (!vt)
        return hf_error_code() ? hf_error_code() : HF_EINVAL;
    if (!vt->list)
        return hf_error(HF_EINVAL, "%s: %s:// sources cannot be listed, expected a single object",
                        prefix_uri, vt->scheme);
    return vt->list(prefix_uri, opts, uris, n);
}
