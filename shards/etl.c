/* etl.c - archives into S3 or a directory, member by member (see etl.h and docs/etl.md). */
#include "shards/etl.h"
#include "shards/etl_int.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/s3.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- options ---- */

const char *const hf_etl_sse_names[] = {"AES256", "aws:kms", "none", NULL};

/* The x-amz-server-side-encryption value of an upload, NULL for none. */
static const char *sse_header(const hf_etl_opts *o)
{
    return o->sse == HF_ETL_SSE_NONE ? NULL : hf_etl_sse_names[o->sse];
}

static const hf_opt_def etl_defs[] = {
    HF_DEF_STRING("source", hf_etl_opts, source, HF_OPT_REQUIRED,
                  "a path, file://, s3:// or http(s):// URL",
                  "the archive (.zip, .tar, .tar.gz, .gz) or plain file to extract"),
    HF_DEF_STRING("dest", hf_etl_opts, dest, HF_OPT_REQUIRED, "an s3:// prefix or a directory",
                  "where the members go: s3://bucket/prefix/ or a local directory"),
    HF_DEF_LIST("include", hf_etl_opts, include, n_include, 0,
                "globs (fnmatch) on the member path; only matching members are extracted"),
    HF_DEF_ENUM("sse", hf_etl_opts, sse, 0, hf_etl_sse_names, 0,
                "server-side encryption of the uploads: AES256 (SSE-S3), aws:kms (SSE-KMS), none"),
    HF_DEF_STRING("kms_key_id", hf_etl_opts, kms_key_id, 0, "a KMS key id or ARN",
                  "the KMS key of sse aws:kms (default: the bucket's)"),
    HF_DEF_NUMBER("max_ratio", hf_etl_opts, max_ratio, 0, 1, 1e9, "a number >= 1",
                  "refuse a member or archive that extracts to more than this many times its "
                  "compressed size (default 200)"),
    HF_DEF_SIZE("max_bytes", hf_etl_opts, max_bytes, 0, "a size such as 64GiB",
                "refuse a member or archive that extracts to more bytes (default 64GiB)"),
};

static int etl_check(void *opts)
{
    return hf_etl_opts_check(opts);
}

const hf_opt_section hf_etl_section = HF_OPT_SECTION("data.etl", etl_defs, hf_etl_opts, etl_check);

void hf_etl_opts_init(hf_etl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_ratio = 200;
    o->max_bytes = (uint64_t)64 << 30;
}

static int is_s3(const char *uri)
{
    return uri && !strncmp(uri, "s3://", 5);
}

static int is_http(const char *uri)
{
    return uri && (!strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8));
}

int hf_etl_opts_check(const hf_etl_opts *o)
{
    char at[512];
    if (o->kms_key_id && o->sse != HF_ETL_SSE_KMS)
        return hf_error(
            HF_EINVAL, "%s: data.etl.kms_key_id: given with sse %s, expected sse aws:kms",
            hf_opt_where(&o->src, "data.etl.kms_key_id", at, sizeof at), hf_etl_sse_names[o->sse]);
    if (o->dest && is_http(o->dest))
        return hf_error(HF_EINVAL,
                        "%s: data.etl.dest: got \"%s\", expected an s3:// prefix or a "
                        "local directory",
                        hf_opt_where(&o->src, "data.etl.dest", at, sizeof at), o->dest);
    if (o->max_ratio < 1)
        return hf_error(HF_EINVAL, "%s: data.etl.max_ratio: got %g, expected a number >= 1",
                        hf_opt_where(&o->src, "data.etl.max_ratio", at, sizeof at), o->max_ratio);
    /* Server-side encryption is of uploads: SSE-KMS asked of a local destination is refused,
     * not ignored (sse's default, AES256, applies only to an s3:// DEST). */
    if (o->dest && !is_s3(o->dest) && (o->sse == HF_ETL_SSE_KMS || o->kms_key_id))
        return hf_error(HF_EINVAL,
                        "%s: data.etl.sse: got aws:kms with the local dest \"%s\", expected an "
                        "s3:// dest (server-side encryption applies to uploads only)",
                        hf_opt_where(&o->src, "data.etl.sse", at, sizeof at), o->dest);
    /* The sources the step reads: a path, file://, s3:// or http(s):// (as the ingest). */
    const char *scheme = o->source ? strstr(o->source, "://") : NULL;
    if (scheme && !is_s3(o->source) && !is_http(o->source) && strncmp(o->source, "file://", 7))
        return hf_error(HF_EINVAL,
                        "%s: data.etl.source: got \"%.*s://...\", expected a path, file://, "
                        "s3:// or http(s)://",
                        hf_opt_where(&o->src, "data.etl.source", at, sizeof at),
                        (int)(scheme - o->source) > 16 ? 16 : (int)(scheme - o->source), o->source);
    return HF_OK;
}

void hf_etl_members_free(hf_etl_member *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++)
        free(m[i].path);
    free(m);
}

/* ---- the step ---- */

/* An earlier manifest's entry. */
typedef struct prior {
    char *path;
    uint64_t size;
    char sha256[65];
    char etag[128];
} prior;

static void priors_free(prior *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        free(p[i].path);
    free(p);
}

/* What one rank did with one member. */
typedef struct outcome {
    char etag[128];
    char verified[24]; /* checksum-sha256, etag-md5, reread-sha256, local-sha256 */
    int unchanged;
} outcome;

/* ---- the messages between ranks ---- */

/* Every message (the members, the earlier manifest's entries, the outcomes) is one text of
 * lines of tab-separated fields, built by lines_addf and read by lines_next: one packer and one
 * unpacker, so what rank 0 sends is what the others read. A field never holds a tab or a newline:
 * member paths are refused with control characters (hf_etl_check_member), and parse_priors and the
 * outcomes hold only checked hex, ETags without them, and fixed words. */
typedef struct lines {
    char *t;
    size_t len, cap;
} lines;

static int lines_addf(lines *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lines_addf(lines *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0)
        return hf_error(HF_EINTERNAL, "etl: formatting a message line");
    if (b->len + (size_t)k + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + (size_t)k + 1)
            nc *= 2;
        char *nt = hf_realloc(b->t, nc);
        if (!nt)
            return HF_ENOMEM;
        b->t = nt;
        b->cap = nc;
    }
    va_start(ap, fmt);
    vsnprintf(b->t + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)k;
    return HF_OK;
}

/* The next line of [*s, end) split in place at its tabs into exactly nf fields: 1 with f[] set
 * and *s past the line, 0 at the end, or HF_EINTERNAL naming `what` on a malformed line. */
static int lines_next(char **s, char *end, char **f, size_t nf, const char *what)
{
    if (*s >= end)
        return 0;
    char *nl = memchr(*s, '\n', (size_t)(end - *s));
    if (!nl)
        return hf_error(HF_EINTERNAL, "etl: malformed %s message (no end of line)", what);
    *nl = '\0';
    size_t k = 0;
    char *p = *s;
    f[k++] = p;
    for (; *p; p++)
        if (*p == '\t') {
            if (k == nf)
                return hf_error(HF_EINTERNAL, "etl: malformed %s message (too many fields)", what);
            *p = '\0';
            f[k++] = p + 1;
        }
    if (k != nf)
        return hf_error(HF_EINTERNAL, "etl: malformed %s message (%zu fields, expected %zu)", what,
                        k, nf);
    *s = nl + 1;
    return 1;
}

/* A decimal field of a message. */
static int field_u64(const char *t, uint64_t *out, const char *what)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(t, &end, 10);
    if (errno || end == t || *end || t[0] == '-')
        return hf_error(HF_EINTERNAL, "etl: malformed %s message (\"%s\", expected a number)", what,
                        t);
    *out = x;
    return HF_OK;
}

/* A fixed-size text field (sha256, md5, etag, verified) of a message. */
static int field_copy(char *dst, size_t cap, const char *t, const char *what)
{
    if (strlen(t) >= cap)
        return hf_error(HF_EINTERNAL, "etl: malformed %s message (a field of %zu bytes)", what,
                        strlen(t));
    memcpy(dst, t, strlen(t) + 1);
    return HF_OK;
}

/* "s3://b/p/" + path, or "dir/" + path. */
static char *dest_join(const char *dest, const char *path)
{
    size_t n = strlen(dest);
    return hf_asprintf("%s%s%s", dest, n && dest[n - 1] == '/' ? "" : "/", path);
}

static int prior_cmp(const void *a, const void *b)
{
    return strcmp(((const prior *)a)->path, ((const prior *)b)->path);
}

/* Whether t is n hex digits; lowercased in place (the members' hashes are lowercase). */
static int hex_lower(char *t, size_t n)
{
    if (strlen(t) != n)
        return 0;
    for (char *p = t; *p; p++) {
        if (!isxdigit((unsigned char)*p))
            return 0;
        *p = (char)tolower((unsigned char)*p);
    }
    return 1;
}

/* Whether t holds a control character (a tab or newline would break the messages). */
static int has_control(const char *t)
{
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return 1;
    return 0;
}

/* Parses an earlier manifest's text (an entry per member: path, size, sha256, etag). Every check
 * of an entry is here, once, on rank 0: an entry that is malformed (no path, a control character
 * in it or in the ETag, a size that is not a whole number >= 0, a sha256 that is not 64 hex
 * digits; upper case is lowered) is ignored, so that member counts as unknown and is uploaded
 * again; a text that is not a manifest is ignored as a whole. The entries come sorted by path
 * (prior_find bisects them) and go to the other ranks as they are. */
static int parse_priors(const char *text, size_t len, prior **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    json_t *mem = root ? json_object_get(root, "members") : NULL;
    if (!json_is_array(mem)) {
        json_decref(root);
        return HF_OK;
    }
    size_t k = json_array_size(mem);
    prior *p = hf_calloc(k ? k : 1, sizeof *p);
    if (!p) {
        json_decref(root);
        return HF_ENOMEM;
    }
    size_t c = 0;
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(mem, i);
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        const char *etag = json_string_value(json_object_get(e, "etag"));
        json_t *sz = json_object_get(e, "size");
        if (!path || !*path || !sha || !etag || !json_is_integer(sz) ||
            json_integer_value(sz) < 0 || strlen(sha) != 64 || strlen(etag) >= sizeof p[c].etag ||
            has_control(path) || has_control(etag))
            continue;
        snprintf(p[c].sha256, sizeof p[c].sha256, "%s", sha);
        if (!hex_lower(p[c].sha256, 64))
            continue;
        if (!(p[c].path = hf_strdup(path))) {
            priors_free(p, c);
            json_decref(root);
            return HF_ENOMEM;
        }
        p[c].size = (uint64_t)json_integer_value(sz);
        snprintf(p[c].etag, sizeof p[c].etag, "%s", etag);
        c++;
    }
    json_decref(root);
    qsort(p, c, sizeof *p, prior_cmp);
    *out = p;
    *n = c;
    return HF_OK;
}

static int priors_pack(const prior *p, size_t n, char **blob, size_t *len)
{
    lines b = {0};
    int result = HF_OK;
    for (size_t i = 0; i < n && result >= 0; i++)
        result = lines_addf(&b, "%s\t%llu\t%s\t%s\n", p[i].path, (unsigned long long)p[i].size,
                            p[i].sha256, p[i].etag);
    if (result < 0) {
        free(b.t);
        return result;
    }
    *blob = b.t;
    *len = b.len;
    return HF_OK;
}

/* blob is split in place. */
static int priors_unpack(char *blob, size_t len, prior **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (size_t i = 0; i < len; i++)
        cap += blob[i] == '\n';
    prior *p = hf_calloc(cap ? cap : 1, sizeof *p);
    if (!p)
        return HF_ENOMEM;
    size_t c = 0;
    char *s = blob, *f[4];
    int got;
    while ((got = lines_next(&s, blob + len, f, 4, "earlier-manifest")) > 0) {
        if ((got = field_u64(f[1], &p[c].size, "earlier-manifest")) < 0 ||
            (got = field_copy(p[c].sha256, sizeof p[c].sha256, f[2], "earlier-manifest")) < 0 ||
            (got = field_copy(p[c].etag, sizeof p[c].etag, f[3], "earlier-manifest")) < 0)
            break;
        if (!(p[c].path = hf_strdup(f[0]))) {
            got = HF_ENOMEM;
            break;
        }
        c++;
    }
    if (got < 0) {
        priors_free(p, c);
        return got;
    }
    *out = p;
    *n = c;
    return HF_OK;
}

/* The earlier entry of `path` (p sorted by path: parse_priors), or NULL. */
static const prior *prior_find(const prior *p, size_t n, const char *path)
{
    if (!n)
        return NULL;
    prior key = {.path = (char *)path};
    return bsearch(&key, p, n, sizeof *p, prior_cmp);
}

static void b64(const unsigned char *d, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
}

static int hex_to_bytes(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int is_md5_etag(const char *etag)
{
    if (strlen(etag) != 32)
        return 0;
    for (const char *p = etag; *p; p++)
        if (!strchr("0123456789abcdefABCDEF", *p))
            return 0;
    return 1;
}

/* After an upload: the object's size from a HEAD, then its checksum: x-amz-checksum-sha256 when
 * the server gives one, else the ETag when it is a plain MD5 (single PUT, not SSE-KMS), else the
 * object read back and hashed. */
static int verify_s3(const char *uri, const hf_etl_member *m, const hf_etl_opts *o,
                     const hf_source_opts *so, const char *staging, outcome *oc)
{
    hf_s3_head_info h;
    HF_CALL(hf_s3_head(uri, so, &h));
    if (h.size != m->size)
        return hf_error(HF_ENET, "%s: uploaded %llu bytes of member \"%s\", the object has %llu",
                        uri, (unsigned long long)m->size, m->path, (unsigned long long)h.size);
    snprintf(oc->etag, sizeof oc->etag, "%s", h.etag);
    if (h.checksum_sha256[0]) {
        unsigned char raw[32];
        char want[64];
        hex_to_bytes(m->sha256, raw, 32);
        b64(raw, 32, want);
        if (strcmp(want, h.checksum_sha256))
            return hf_error(HF_ENET, "%s: x-amz-checksum-sha256 %s, expected %s (member \"%s\")",
                            uri, h.checksum_sha256, want, m->path);
        snprintf(oc->verified, sizeof oc->verified, "checksum-sha256");
        return HF_OK;
    }
    int kms = o->sse == HF_ETL_SSE_KMS;
    if (!kms && is_md5_etag(h.etag)) {
        if (strcasecmp(h.etag, m->md5))
            return hf_error(HF_ENET, "%s: ETag %s, expected the MD5 %s of member \"%s\"", uri,
                            h.etag, m->md5, m->path);
        snprintf(oc->verified, sizeof oc->verified, "etag-md5");
        return HF_OK;
    }
    char *tmp = hf_asprintf("%s/reread.%d", staging, so->rank);
    if (!tmp)
        return HF_ENOMEM;
    char sha[65];
    int result = hf_s3_download_file(uri, tmp, so);
    if (result >= 0)
        result = hf_sha256_file_hex(tmp, sha);
    unlink(tmp);
    if (result >= 0 && strcmp(sha, m->sha256))
        result = hf_error(HF_ENET, "%s: read back with SHA-256 %s, expected %s (member \"%s\")",
                          uri, sha, m->sha256, m->path);
    free(tmp);
    if (result >= 0)
        snprintf(oc->verified, sizeof oc->verified, "reread-sha256");
    return result;
}

/* Whether the member is already at the destination: for S3, the earlier manifest's size and
 * SHA-256 equal, and a HEAD finds that size and ETag; for a directory, the file's size and
 * SHA-256 equal. */
static int unchanged(const char *uri, int local, const hf_etl_member *m, const prior *p, size_t n_p,
                     const hf_source_opts *so, outcome *oc)
{
    if (local) {
        struct stat st;
        char sha[65];
        if (stat(uri, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != m->size)
            return 0;
        if (hf_sha256_file_hex(uri, sha) < 0) {
            hf_error_clear();
            return 0;
        }
        if (strcmp(sha, m->sha256))
            return 0;
        snprintf(oc->verified, sizeof oc->verified, "local-sha256");
        return 1;
    }
    const prior *q = prior_find(p, n_p, m->path);
    if (!q || q->size != m->size || strcmp(q->sha256, m->sha256))
        return 0;
    hf_s3_head_info h;
    if (hf_s3_head(uri, so, &h) < 0) {
        hf_error_clear();
        return 0;
    }
    if (h.size != m->size || strcmp(h.etag, q->etag))
        return 0;
    snprintf(oc->etag, sizeof oc->etag, "%s", h.etag);
    snprintf(oc->verified, sizeof oc->verified, "unchanged-etag");
    return 1;
}

/* Extracts member m (the reader is at its entry) into `tmp_for` (local: the final path through a
 * temporary name; S3: a staging file), then uploads and verifies. */
static int put_member(hf__etl_reader *r, hf__etl_limits *lim, const hf_etl_member *m,
                      const char *uri, int local, const hf_etl_opts *o, const hf_source_opts *so,
                      const char *staging, outcome *oc)
{
    int result = HF_OK;
    FILE *fp = NULL;
    char *tmp = NULL, *stage = NULL;
    uint64_t size = 0;
    char sha[65], md5[33];
    if (local) {
        char *dir = hf_strdup(uri);
        if (!dir)
            return HF_ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            result = hf_fs_mkdirs(dir);
        }
        free(dir);
        if (result < 0 || (result = hf_fs_open_tmp(uri, &fp, &tmp)) < 0)
            return result;
        result = hf__etl_data(r, lim, m->path, fp, tmp, &size, sha, md5);
    } else {
        stage = hf_asprintf("%s/member.%d", staging, so->rank);
        if (!stage)
            return HF_ENOMEM;
        fp = fopen(stage, "wb");
        if (!fp) {
            result = hf_error(HF_EIO, "%s: opening for writing: %s", stage, hf_strerror(errno));
            goto out;
        }
        result = hf__etl_data(r, lim, m->path, fp, stage, &size, sha, md5);
        if (fclose(fp) != 0 && result >= 0)
            result = hf_error(HF_EIO, "%s: writing: %s", stage, hf_strerror(errno));
        fp = NULL;
    }
    if (result >= 0 && (size != m->size || strcmp(sha, m->sha256)))
        result = hf_error(HF_EDATA,
                          "%s: member \"%s\" changed while extracted (%llu bytes, "
                          "SHA-256 %s; the first read found %llu bytes, %s)",
                          r->display, m->path, (unsigned long long)size, sha,
                          (unsigned long long)m->size, m->sha256);
    if (local) {
        if (result < 0) {
            hf_fs_abort_tmp(fp, tmp);
            return result;
        }
        HF_CALL(hf_fs_commit_tmp(fp, tmp, uri));
        char again[65];
        HF_CALL(hf_sha256_file_hex(uri, again));
        if (strcmp(again, m->sha256))
            return hf_error(HF_EIO, "%s: reads back with SHA-256 %s, expected %s", uri, again,
                            m->sha256);
        snprintf(oc->verified, sizeof oc->verified, "local-sha256");
        return HF_OK;
    }
    if (result >= 0) {
        const char *sse = sse_header(o);
        result = hf_s3_upload_file(stage, uri, so, sse, sse ? o->kms_key_id : NULL);
    }
    if (result >= 0)
        result = verify_s3(uri, m, o, so, staging, oc);
out:
    if (fp)
        fclose(fp);
    if (stage)
        unlink(stage);
    free(stage);
    return result;
}

/* This rank's share: members i with i % size == rank, extracted in archive order. */
static int do_share(hf_comm *comm, hf_source *src, const char *display, hf_etl_member *m, size_t n,
                    const prior *p, size_t n_p, const hf_etl_opts *o, const hf_source_opts *so,
                    const char *staging, outcome *oc)
{
    int rank = hf_comm_rank(comm), size = hf_comm_size(comm);
    int local = !is_s3(o->dest), result = HF_OK;
    /* First what is already there unchanged (HEADs only): an unchanged rerun reads no archive. */
    size_t todo = 0;
    for (size_t i = (size_t)rank; i < n; i += (size_t)size) {
        char *uri = dest_join(o->dest, m[i].path);
        if (!uri)
            return HF_ENOMEM;
        oc[i].unchanged = unchanged(uri, local, &m[i], p, n_p, so, &oc[i]);
        todo += !oc[i].unchanged;
        free(uri);
    }
    if (!todo)
        return HF_OK;
    hf__etl_reader r;
    hf__etl_limits lim = {o, 0, src->size};
    struct archive_entry *e;
    HF_CALL(hf__etl_open(&r, src, display));
    size_t next = (size_t)rank; /* the next member of mine to write, in archive order */
    while (next < n && oc[next].unchanged)
        next += (size_t)size;
    for (size_t index = 0; next < n && result >= 0; index++) {
        int got = hf__etl_next(&r, &e);
        if (got <= 0) {
            result = got < 0 ? got
                             : hf_error(HF_EDATA, "%s: member \"%s\" is gone (the archive changed)",
                                        display, m[next].path);
            break;
        }
        if (index != m[next].index)
            continue;
        char *uri = dest_join(o->dest, m[next].path);
        if (!uri) {
            result = HF_ENOMEM;
            break;
        }
        result = put_member(&r, &lim, &m[next], uri, local, o, so, staging, &oc[next]);
        free(uri);
        do
            next += (size_t)size;
        while (next < n && oc[next].unchanged);
    }
    hf__etl_close(&r);
    return result;
}

/* The member name of a plain or single compressed file: the source's base name, without a
 * compression suffix when libarchive found a filter. */
static char *plain_name_of(const char *uri)
{
    char *shown = hf_source_display(uri);
    if (!shown)
        return NULL;
    const char *base = strrchr(shown, '/');
    base = base ? base + 1 : shown;
    char *name = hf_strdup(*base ? base : "data");
    free(shown);
    if (!name)
        return NULL;
    static const char *const sfx[] = {".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", NULL};
    size_t len = strlen(name);
    for (size_t i = 0; sfx[i]; i++) {
        size_t k = strlen(sfx[i]);
        if (len > k && !strcmp(name + len - k, sfx[i])) {
            name[len - k] = '\0';
            break;
        }
    }
    return name;
}

static int members_pack(const hf_etl_member *m, size_t n, char **blob, size_t *len)
{
    lines b = {0};
    int result = HF_OK;
    for (size_t i = 0; i < n && result >= 0; i++)
        result = lines_addf(&b, "%zu\t%llu\t%s\t%s\t%s\n", m[i].index,
                            (unsigned long long)m[i].size, m[i].sha256, m[i].md5, m[i].path);
    if (result < 0) {
        free(b.t);
        return result;
    }
    *blob = b.t;
    *len = b.len;
    return HF_OK;
}

/* blob is split in place. */
static int members_unpack(char *blob, size_t len, hf_etl_member **out, size_t *n)
{
    size_t cap = 0;
    for (size_t i = 0; i < len; i++)
        cap += blob[i] == '\n';
    hf_etl_member *m = hf_calloc(cap ? cap : 1, sizeof *m);
    if (!m)
        return HF_ENOMEM;
    size_t c = 0;
    char *s = blob, *f[5];
    int got;
    while ((got = lines_next(&s, blob + len, f, 5, "member")) > 0) {
        uint64_t index = 0;
        if ((got = field_u64(f[0], &index, "member")) < 0 ||
            (got = field_u64(f[1], &m[c].size, "member")) < 0 ||
            (got = field_copy(m[c].sha256, sizeof m[c].sha256, f[2], "member")) < 0 ||
            (got = field_copy(m[c].md5, sizeof m[c].md5, f[3], "member")) < 0)
            break;
        m[c].index = (size_t)index;
        if (!(m[c].path = hf_strdup(f[4]))) {
            got = HF_ENOMEM;
            break;
        }
        c++;
    }
    if (got < 0) {
        hf_etl_members_free(m, c);
        return got;
    }
    *out = m;
    *n = c;
    return HF_OK;
}

/* The source's identity for the manifest (rank 0). */
typedef struct source_meta {
    uint64_t size;
    char etag[128], last_modified[64], fingerprint[256];
} source_meta;

static int fetch_source(const hf_etl_opts *o, const hf_source_opts *so, const char *staging,
                        char **local, source_meta *sm)
{
    memset(sm, 0, sizeof *sm);
    if (is_s3(o->source)) {
        hf_s3_head_info h;
        HF_CALL(hf_s3_head(o->source, so, &h));
        snprintf(sm->etag, sizeof sm->etag, "%s", h.etag);
        snprintf(sm->last_modified, sizeof sm->last_modified, "%s", h.last_modified);
    }
    if (is_s3(o->source) || is_http(o->source)) {
        *local = hf_asprintf("%s/source", staging);
        if (!*local)
            return HF_ENOMEM;
        HF_CALL(hf_s3_download_file(o->source, *local, so));
    } else {
        *local = hf_strdup(!strncmp(o->source, "file://", 7) ? o->source + 7 : o->source);
        if (!*local)
            return HF_ENOMEM;
    }
    hf_source *s = NULL;
    HF_CALL(hf_source_open(*local, so, &s));
    sm->size = s->size;
    snprintf(sm->fingerprint, sizeof sm->fingerprint, "%s", s->fingerprint);
    hf_source_close(s);
    return HF_OK;
}

/* The earlier manifest at DEST (rank 0): none when there is none. */
static int read_priors(const hf_etl_opts *o, const hf_source_opts *so, const char *staging,
                       prior **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    char *uri = dest_join(o->dest, HF__ETL_MANIFEST), *text = NULL, *tmp = NULL;
    size_t len = 0;
    int result = HF_OK;
    if (!uri)
        return HF_ENOMEM;
    if (!is_s3(o->dest)) {
        if (hf_fs_exists(uri))
            result = hf_fs_read_file(uri, &text, &len);
    } else {
        hf_s3_head_info h;
        if (hf_s3_head(uri, so, &h) < 0) {
            hf_error_clear(); /* none yet (or unreadable): everything is uploaded */
        } else if (h.size <= (64u << 20)) {
            tmp = hf_asprintf("%s/prior.json", staging);
            result = tmp ? hf_s3_download_file(uri, tmp, so) : HF_ENOMEM;
            if (result >= 0)
                result = hf_fs_read_file(tmp, &text, &len);
            if (tmp)
                unlink(tmp);
        }
    }
    if (result >= 0 && text)
        result = parse_priors(text, len, p, n);
    free(uri);
    free(text);
    free(tmp);
    return result;
}

/* By path, then by position in the archive (the same order at any number of ranks). */
static int member_cmp(const void *a, const void *b)
{
    const hf_etl_member *x = *(const hf_etl_member *const *)a,
                        *y = *(const hf_etl_member *const *)b;
    int c = strcmp(x->path, y->path);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int manifest_text(const hf_etl_opts *o, const source_meta *sm, const hf_etl_member *m,
                         const outcome *oc, size_t n, char **text)
{
    json_t *root = json_object(), *src = json_object(), *arr = json_array();
    const hf_etl_member **order = hf_malloc((n ? n : 1) * sizeof *order);
    int result = HF_OK;
    if (!root || !src || !arr || !order) {
        result = hf_error(HF_ENOMEM, "etl: building the manifest");
        goto out;
    }
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *shown = hf_source_display(o->source);
    json_object_set_new(src, "uri", json_string(shown ? shown : ""));
    free(shown);
    json_object_set_new(src, "size", json_integer((json_int_t)sm->size));
    json_object_set_new(src, "etag", json_string(sm->etag));
    json_object_set_new(src, "last_modified", json_string(sm->last_modified));
    json_object_set_new(src, "fingerprint", json_string(sm->fingerprint));
    json_object_set_new(root, "format", json_string("hyperfold-etl-manifest"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "hyperfold_version", json_string(HF_VERSION));
    json_object_set_new(root, "created", json_string(now));
    json_object_set_new(root, "source", src);
    src = NULL;
    json_object_set_new(root, "dest", json_string(o->dest));
    /* Sorted by path: the same manifest at any number of ranks. */
    for (size_t i = 0; i < n; i++)
        order[i] = &m[i];
    qsort(order, n, sizeof *order, member_cmp);
    for (size_t k = 0; k < n; k++) {
        size_t i = (size_t)(order[k] - m);
        json_t *e = json_object();
        char *uri = dest_join(o->dest, m[i].path);
        if (!e || !uri) {
            json_decref(e);
            free(uri);
            result = HF_ENOMEM;
            goto out;
        }
        json_object_set_new(e, "path", json_string(m[i].path));
        json_object_set_new(e, "size", json_integer((json_int_t)m[i].size));
        json_object_set_new(e, "sha256", json_string(m[i].sha256));
        json_object_set_new(e, "etag", json_string(oc[i].etag));
        json_object_set_new(e, "uri", json_string(uri));
        json_object_set_new(e, "verified", json_string(oc[i].verified));
        json_object_set_new(e, "status", json_string(oc[i].unchanged ? "unchanged" : "uploaded"));
        json_array_append_new(arr, e);
        free(uri);
    }
    json_object_set_new(root, "members", arr);
    arr = NULL;
    *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!*text)
        result = hf_error(HF_ENOMEM, "etl: writing the manifest");
out:
    json_decref(root);
    json_decref(src);
    json_decref(arr);
    free(order);
    return result;
}

/* Whether every member was unchanged and the earlier manifest lists exactly these members. */
static int all_same(const hf_etl_member *m, const outcome *oc, size_t n, const prior *p, size_t n_p)
{
    if (n != n_p)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!oc[i].unchanged || !prior_find(p, n_p, m[i].path))
            return 0;
    return 1;
}

static int write_manifest(const hf_etl_opts *o, const hf_source_opts *so, const source_meta *sm,
                          const hf_etl_member *m, const outcome *oc, size_t n, const prior *p,
                          size_t n_p, const char *manifest_path, const char *staging)
{
    char *text = NULL, *uri = NULL, *tmp = NULL;
    int result = manifest_text(o, sm, m, oc, n, &text);
    if (result < 0)
        return result;
    size_t len = strlen(text);
    if (manifest_path && (result = hf_fs_write_atomic(manifest_path, text, len)) < 0)
        goto out;
    if (!(uri = dest_join(o->dest, HF__ETL_MANIFEST))) {
        result = HF_ENOMEM;
        goto out;
    }
    if (!is_s3(o->dest)) {
        result = hf_fs_mkdirs(o->dest);
        if (result >= 0)
            result = hf_fs_write_atomic(uri, text, len);
    } else if (!all_same(m, oc, n, p, n_p)) {
        /* Nothing changed: the manifest there still describes the objects; no PUT. */
        if (!(tmp = hf_asprintf("%s/manifest.json", staging))) {
            result = HF_ENOMEM;
            goto out;
        }
        result = hf_fs_write_atomic(tmp, text, len);
        const char *sse = sse_header(o);
        if (result >= 0)
            result = hf_s3_upload_file(tmp, uri, so, sse, sse ? o->kms_key_id : NULL);
        unlink(tmp);
    }
out:
    free(text);
    free(uri);
    free(tmp);
    return result;
}

static int rm_rf_staging(const char *dir)
{
    /* Only the names this module creates there. */
    static const char *const fixed[] = {"source", "prior.json", "manifest.json", NULL};
    for (size_t i = 0; fixed[i]; i++) {
        char *p = hf_asprintf("%s/%s", dir, fixed[i]);
        if (p)
            unlink(p);
        free(p);
    }
    rmdir(dir);
    return HF_OK;
}

/* Whether `uri` lies under the destination `dest` (a trailing '/' or not; file:// stripped). */
static int under_dest(const char *dest, const char *uri)
{
    if (!strncmp(dest, "file://", 7))
        dest += 7;
    if (!strncmp(uri, "file://", 7))
        uri += 7;
    size_t n = strlen(dest);
    while (n > 1 && dest[n - 1] == '/')
        n--;
    return !strncmp(dest, uri, n) && (uri[n] == '/' || uri[n] == '\0');
}

int hf_etl_check_extracted(const hf_etl_opts *o, const hf_source_opts *so, const char *spec_path,
                           const char *data_source)
{
    if (!o->source || !o->dest || !data_source || !under_dest(o->dest, data_source))
        return HF_OK;
    char *uri = dest_join(o->dest, HF__ETL_MANIFEST);
    if (!uri)
        return HF_ENOMEM;
    int there;
    if (is_s3(o->dest)) {
        hf_s3_head_info h;
        there = hf_s3_head(uri, so, &h) >= 0;
        hf_error_clear();
    } else {
        there = hf_fs_exists(uri);
    }
    int result = HF_OK;
    if (!there) {
        /* The command that extracts what the step would: its --include globs and upload
         * settings too (single-quoted for the shell). */
        char *shown = hf_source_display(o->source), *flags = hf_strdup("");
        for (size_t i = 0; flags && i < o->n_include; i++) {
            char *f = hf_asprintf("%s --include '%s'", flags, o->include[i]);
            free(flags);
            flags = f;
        }
        if (flags && is_s3(o->dest) && o->sse != HF_ETL_SSE_S3) {
            char *f = hf_asprintf("%s --sse %s", flags, hf_etl_sse_names[o->sse]);
            free(flags);
            flags = f;
        }
        if (flags && o->kms_key_id) {
            char *f = hf_asprintf("%s --kms-key-id %s", flags, o->kms_key_id);
            free(flags);
            flags = f;
        }
        result = flags ? hf_error(HF_EINVAL,
                                  "%s: data.source %s is produced by data.etl and has not been "
                                  "extracted yet (no %s): run `hyperfold etl %s %s%s` or "
                                  "`hyperfold run %s`",
                                  spec_path, data_source, uri, shown ? shown : o->source, o->dest,
                                  flags, spec_path)
                       : HF_ENOMEM;
        free(flags);
        free(shown);
    }
    free(uri);
    return result;
}

int hf_etl_run(hf_comm *comm, const hf_etl_opts *o, const hf_source_opts *so,
               const char *manifest_path, int verbose, hf_etl_summary *sum)
{
    int rank = hf_comm_rank(comm), result = HF_OK;
    char *staging = NULL, *local = NULL, *plain = NULL, *blob = NULL, *pblob = NULL;
    char *all = NULL, *display = NULL;
    size_t blob_len = 0, pblob_len = 0, n = 0, n_p = 0, *lens = NULL;
    size_t staging_len = 0, local_len = 0;
    hf_etl_member *m = NULL;
    prior *p = NULL;
    outcome *oc = NULL;
    hf_source *src = NULL;
    source_meta sm;
    memset(sum, 0, sizeof *sum);
    memset(&sm, 0, sizeof sm);
    if (!o->source || !o->dest)
        return hf_error(HF_EINVAL, "etl: a source and a destination are required");
    display = hf_source_display(o->source);
    if (!display)
        return HF_ENOMEM;

    /* Rank 0: a staging directory, the source fetched once, checked and scanned. */
    if (rank == 0) {
        const char *base = getenv("HF_ETL_STAGING");
        if (!base || !*base)
            base = getenv("TMPDIR");
        if (!base || !*base)
            base = "/tmp";
        staging = hf_asprintf("%s/hf-etl.XXXXXX", base);
        if (!staging)
            result = HF_ENOMEM;
        else if (!mkdtemp(staging))
            result = hf_error(HF_EIO, "%s: creating the staging directory: %s", staging,
                              hf_strerror(errno));
        if (result >= 0)
            result = fetch_source(o, so, staging, &local, &sm);
        if (result >= 0)
            result = (plain = plain_name_of(o->source)) ? HF_OK : HF_ENOMEM;
        if (result >= 0)
            result = hf_source_open(local, so, &src);
        if (result >= 0)
            result = hf_etl_scan(src, display, plain, o, &m, &n);
        if (result >= 0)
            result = members_pack(m, n, &blob, &blob_len);
        if (result >= 0)
            result = read_priors(o, so, staging, &p, &n_p);
        if (result >= 0)
            result = priors_pack(p, n_p, &pblob, &pblob_len);
        if (result >= 0 && staging)
            staging_len = strlen(staging), local_len = strlen(local);
    }
    if ((result = hf_comm_check(comm, result)) < 0)
        goto out;
    if ((result = hf_comm_bcast_blob(comm, &staging, &staging_len, 0)) < 0 ||
        (result = hf_comm_bcast_blob(comm, &local, &local_len, 0)) < 0 ||
        (result = hf_comm_bcast_blob(comm, &blob, &blob_len, 0)) < 0 ||
        (result = hf_comm_bcast_blob(comm, &pblob, &pblob_len, 0)) < 0)
        goto out;
    if (rank != 0) {
        result = members_unpack(blob, blob_len, &m, &n);
        if (result >= 0)
            result = priors_unpack(pblob, pblob_len, &p, &n_p);
        /* The staged copy, or (on another node, where the staging directory is not shared) a
         * copy of this rank's own. */
        if (result >= 0 && (size_t)rank < n) {
            if (!hf_fs_exists(local)) {
                char *own = hf_asprintf("%s.%d", local, rank);
                result = hf_fs_mkdirs(staging);
                if (result >= 0)
                    result = own ? hf_s3_download_file(o->source, own, so) : HF_ENOMEM;
                free(local);
                local = own;
            }
            if (result >= 0)
                result = hf_source_open(local, so, &src);
        }
    }
    if ((result = hf_comm_check(comm, result)) < 0)
        goto out;
    oc = hf_calloc(n ? n : 1, sizeof *oc);
    result = oc ? HF_OK : HF_ENOMEM;
    if (result >= 0 && n)
        result = do_share(comm, src, display, m, n, p, n_p, o, so, staging, oc);
    if ((result = hf_comm_check(comm, result)) < 0)
        goto out;

    /* Every rank's outcomes to rank 0: index, unchanged, verified, ETag (one a server gave with
     * a control character in it is left out: it could not be told from the message's fields). */
    free(blob);
    blob = NULL;
    blob_len = 0;
    lines ob = {0};
    for (size_t i = (size_t)rank; i < n && result >= 0; i += (size_t)hf_comm_size(comm))
        result = lines_addf(&ob, "%zu\t%d\t%s\t%s\n", i, oc[i].unchanged, oc[i].verified,
                            has_control(oc[i].etag) ? "" : oc[i].etag);
    blob = ob.t;
    blob_len = ob.len;
    if ((result = hf_comm_check(comm, result)) < 0)
        goto out;
    if ((result = hf_comm_gather_blob(comm, blob ? blob : "", blob_len, 0, &all, &lens)) < 0)
        goto out;
    if (rank == 0) {
        size_t total = 0;
        for (int r = 0; r < hf_comm_size(comm); r++)
            total += lens[r];
        char *s = all, *f[4];
        int got;
        while ((got = lines_next(&s, all + total, f, 4, "outcome")) > 0) {
            uint64_t i = 0, un = 0;
            if ((got = field_u64(f[0], &i, "outcome")) < 0 ||
                (got = field_u64(f[1], &un, "outcome")) < 0)
                break;
            if (i >= n || un > 1) {
                got = hf_error(HF_EINTERNAL, "etl: malformed outcome message (member %llu of %zu)",
                               (unsigned long long)i, n);
                break;
            }
            oc[i].unchanged = (int)un;
            if ((got = field_copy(oc[i].verified, sizeof oc[i].verified, f[2], "outcome")) < 0 ||
                (got = field_copy(oc[i].etag, sizeof oc[i].etag, f[3], "outcome")) < 0)
                break;
        }
        result = got < 0 ? got : HF_OK;
        if (result >= 0)
            result = write_manifest(o, so, &sm, m, oc, n, p, n_p, manifest_path, staging);
        if (result >= 0 && verbose)
            for (size_t i = 0; i < n; i++) {
                char *uri = dest_join(o->dest, m[i].path);
                if (oc[i].unchanged)
                    printf("%s: unchanged, skipped\n", m[i].path);
                else
                    printf("%s: %llu bytes -> %s (verified: %s)\n", m[i].path,
                           (unsigned long long)m[i].size, uri ? uri : "", oc[i].verified);
                free(uri);
            }
        if (verbose)
            fflush(stdout);
    }
    for (size_t i = 0; i < n; i++) {
        sum->members++;
        if (oc[i].unchanged) {
            sum->unchanged++;
        } else {
            sum->uploaded++;
            sum->bytes += m[i].size;
        }
    }
    /* Only rank 0 knows every outcome; sum->unchanged on others counts their own. */
    int64_t counts[3] = {0, 0, 0};
    if (rank == 0)
        counts[0] = (int64_t)sum->uploaded, counts[1] = (int64_t)sum->unchanged,
        counts[2] = (int64_t)sum->bytes;
    result = hf_comm_check(comm, result);
    if (result >= 0 && (result = hf_comm_bcast(comm, counts, sizeof counts, 0)) >= 0) {
        sum->uploaded = (size_t)counts[0];
        sum->unchanged = (size_t)counts[1];
        sum->bytes = (uint64_t)counts[2];
    }
out:
    if (src)
        hf_source_close(src);
    if (rank != 0 && local && staging && strncmp(local, staging, strlen(staging)) == 0 &&
        strcmp(local + strlen(staging), "/source"))
        unlink(local); /* this rank's own copy */
    hf_comm_barrier(comm);
    if (rank == 0 && staging)
        rm_rf_staging(staging);
    else if (staging)
        rmdir(staging); /* one this rank made on another node; else not empty or gone: ignored */
    free(staging);
    free(local);
    free(plain);
    free(blob);
    free(pblob);
    free(all);
    free(lens);
    free(display);
    hf_etl_members_free(m, n);
    priors_free(p, n_p);
    free(oc);
    return result;
}
