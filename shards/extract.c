/* extract.c - the etl step's archive reading: member names judged, entries read through
 * libarchive over an hf_source with the bomb limits, the first read (hf_etl_scan). See etl.h. */
#include "shards/etl.h"
#include "shards/etl_int.h"

#include "common/hf.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fnmatch.h>
#include <locale.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- member names ---- */

int hf_etl_check_member(const char *archive, const char *name, int filetype, int hardlink,
                        char **norm)
{
    *norm = NULL;
    if (!name || !*name)
        return hf_error(HF_EDATA, "%s: a member without a (readable) name, refused", archive);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return hf_error(HF_EDATA,
                            "%s: member with a control character (byte 0x%02x) in its name, "
                            "refused; expected a printable path",
                            archive, *p);
    if (hardlink)
        return hf_error(HF_EDATA,
                        "%s: member \"%s\" is a hard link, refused; expected a regular "
                        "file",
                        archive, name);
    if (filetype == AE_IFLNK)
        return hf_error(HF_EDATA,
                        "%s: member \"%s\" is a symlink, refused; expected a regular file", archive,
                        name);
    if (filetype != AE_IFREG && filetype != AE_IFDIR)
        return hf_error(HF_EDATA,
                        "%s: member \"%s\" is a device, fifo or socket, refused; expected "
                        "a regular file",
                        archive, name);
    /* Absolute: "/x", "\x", "C:..." (a drive, as Windows extractors read it). */
    if (name[0] == '/' || name[0] == '\\' ||
        (((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z') && name[1] == ':'))
        return hf_error(HF_EDATA,
                        "%s: member \"%s\" has an absolute path (zip-slip), refused; "
                        "expected a relative path",
                        archive, name);
    /* Segments split at '/' and '\' (both separate paths for some extractor): ".." refused, ""
     * and "." dropped. */
    size_t len = strlen(name);
    char *out = hf_malloc(len + 1);
    if (!out)
        return HF_ENOMEM;
    size_t o = 0;
    const char *p = name;
    while (*p) {
        size_t seg = strcspn(p, "/\\");
        if (seg == 2 && p[0] == '.' && p[1] == '.') {
            free(out);
            return hf_error(HF_EDATA,
                            "%s: member \"%s\" has a '..' segment (zip-slip), refused; "
                            "expected a path inside the destination",
                            archive, name);
        }
        if (!(seg == 0 || (seg == 1 && p[0] == '.'))) {
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, seg);
            o += seg;
        }
        p += seg;
        if (*p)
            p++;
    }
    out[o] = '\0';
    if (filetype == AE_IFDIR || o == 0) {
        free(out);
        if (filetype != AE_IFDIR)
            return hf_error(HF_EDATA, "%s: member \"%s\" names no file, refused", archive, name);
        return HF_OK;
    }
    if (!strcmp(out, HF__ETL_MANIFEST)) {
        free(out);
        return hf_error(HF_EDATA,
                        "%s: member \"%s\" has the manifest's name, refused; expected "
                        "another name",
                        archive, name);
    }
    *norm = out;
    return HF_OK;
}

/* ---- reading an archive over a source ---- */

static la_ssize_t rd_read(struct archive *a, void *ctx, const void **out)
{
    hf__etl_reader *r = ctx;
    size_t got = 0;
    uint64_t left = r->src->size - r->off;
    size_t want = left < HF__ETL_BLOCK ? (size_t)left : HF__ETL_BLOCK;
    *out = r->buf;
    if (want == 0)
        return 0;
    if (hf_source_read_at(r->src, r->off, r->buf, want, &got) < 0) {
        archive_set_error(a, EIO, "%s", hf_error_message());
        return -1;
    }
    r->off += got;
    return (la_ssize_t)got;
}

void hf__etl_close(hf__etl_reader *r)
{
    if (r->a)
        archive_read_free(r->a);
    if (r->utf8) {
        uselocale(r->saved);
        freelocale(r->utf8);
    }
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* zip, tar (every variant libarchive reads), a single compressed or plain file ("raw", which
 * bids last), an empty file; any compression filter libarchive detects. */
int hf__etl_open(hf__etl_reader *r, hf_source *src, const char *display)
{
    memset(r, 0, sizeof *r);
    r->src = src;
    r->display = display;
    /* libarchive converts member names into the current locale's charset: in the "C" locale a
     * UTF-8 name (a zip's UTF-8 flag) cannot be converted and has no name. C.UTF-8 for this
     * thread while reading (uselocale: the process's locale is not changed). */
    r->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (r->utf8)
        r->saved = uselocale(r->utf8);
    r->buf = hf_malloc(HF__ETL_BLOCK);
    r->a = archive_read_new();
    if (!r->buf || !r->a) {
        hf__etl_close(r);
        return hf_error(HF_ENOMEM, "%s: creating an archive reader", display);
    }
    archive_read_support_filter_all(r->a);
    archive_read_support_format_zip(r->a);
    archive_read_support_format_tar(r->a);
    archive_read_support_format_gnutar(r->a);
    archive_read_support_format_empty(r->a);
    archive_read_support_format_raw(r->a);
    archive_read_set_read_callback(r->a, rd_read);
    archive_read_set_callback_data(r->a, r);
    if (archive_read_open1(r->a) != ARCHIVE_OK) {
        int result = hf_error(HF_EDATA,
                              "%s: got an unreadable archive (%s), expected a zip, tar, "
                              ".gz or plain file",
                              display, archive_error_string(r->a));
        hf__etl_close(r);
        return result;
    }
    return HF_OK;
}

/* The next entry: 1 with *e set, 0 at the end, or an error. */
int hf__etl_next(hf__etl_reader *r, struct archive_entry **e)
{
    int ar = archive_read_next_header(r->a, e);
    if (ar == ARCHIVE_EOF)
        return 0;
    if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
        return hf_error(HF_EDATA,
                        "%s: got a corrupt archive (%s), expected a zip, tar, .gz or "
                        "plain file",
                        r->display, archive_error_string(r->a));
    return 1;
}

static int is_raw(hf__etl_reader *r)
{
    return archive_format(r->a) == ARCHIVE_FORMAT_RAW;
}

static int over_limit(const hf__etl_reader *r, const hf__etl_limits *l, const char *member,
                      uint64_t produced, uint64_t start_off)
{
    uint64_t comp = r->off - start_off;
    double floor_m = comp < HF__ETL_BLOCK ? HF__ETL_BLOCK : (double)comp;
    double floor_a = l->archive_sz < HF__ETL_BLOCK ? HF__ETL_BLOCK : (double)l->archive_sz;
    if (produced > l->o->max_bytes)
        return hf_error(HF_EDATA,
                        "%s: member \"%s\" extracts to more than %llu bytes (max_bytes), "
                        "refused as a possible zip bomb",
                        r->display, member, (unsigned long long)l->o->max_bytes);
    if (l->total + produced > l->o->max_bytes)
        return hf_error(HF_EDATA,
                        "%s: members up to \"%s\" extract to more than %llu bytes "
                        "(max_bytes), refused as a possible zip bomb",
                        r->display, member, (unsigned long long)l->o->max_bytes);
    if ((double)produced > l->o->max_ratio * floor_m)
        return hf_error(HF_EDATA,
                        "%s: member \"%s\" extracts to more than %g times the %llu compressed "
                        "bytes read for it so far (max_ratio; at least 65536 counted), refused as "
                        "a possible zip bomb",
                        r->display, member, l->o->max_ratio, (unsigned long long)floor_m);
    if ((double)(l->total + produced) > l->o->max_ratio * floor_a)
        return hf_error(HF_EDATA,
                        "%s: members up to \"%s\" extract to more than %g times the "
                        "archive's %llu bytes (max_ratio), refused as a possible zip bomb",
                        r->display, member, l->o->max_ratio, (unsigned long long)l->archive_sz);
    return HF_OK;
}

/* Streams the current entry's data through SHA-256 and MD5 into fp (NULL: nowhere), under the
 * limits. */
int hf__etl_data(hf__etl_reader *r, hf__etl_limits *l, const char *member, FILE *fp,
                 const char *fp_path, uint64_t *size, char sha[65], char md5[33])
{
    int result = HF_OK;
    uint64_t start = r->off, produced = 0;
    EVP_MD_CTX *cs = EVP_MD_CTX_new(), *cm = EVP_MD_CTX_new();
    char *buf = hf_malloc(HF__ETL_BLOCK);
    if (!cs || !cm || !buf || !EVP_DigestInit_ex(cs, EVP_sha256(), NULL) ||
        !EVP_DigestInit_ex(cm, EVP_md5(), NULL)) {
        result = hf_error(HF_ENOMEM, "%s: starting a digest", r->display);
        goto out;
    }
    for (;;) {
        la_ssize_t n = archive_read_data(r->a, buf, HF__ETL_BLOCK);
        if (n < 0) {
            result = hf_error(HF_EDATA, "%s: member \"%s\": corrupt data (%s)", r->display, member,
                              archive_error_string(r->a));
            goto out;
        }
        if (n == 0)
            break;
        produced += (uint64_t)n;
        if ((result = over_limit(r, l, member, produced, start)) < 0)
            goto out;
        EVP_DigestUpdate(cs, buf, (size_t)n);
        EVP_DigestUpdate(cm, buf, (size_t)n);
        if (fp && fwrite(buf, 1, (size_t)n, fp) != (size_t)n) {
            result = hf_error(HF_EIO, "%s: writing: %s", fp_path, hf_strerror(errno));
            goto out;
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(cs, md, &mdlen);
    for (unsigned i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", md[i]);
    EVP_DigestFinal_ex(cm, md, &mdlen);
    for (unsigned i = 0; i < 16; i++)
        snprintf(md5 + 2 * i, 3, "%02x", md[i]);
    *size = produced;
    l->total += produced;
out:
    EVP_MD_CTX_free(cs);
    EVP_MD_CTX_free(cm);
    free(buf);
    return result;
}

static int matches(const hf_etl_opts *o, const char *path)
{
    if (!o->n_include)
        return 1;
    for (size_t i = 0; i < o->n_include; i++)
        if (fnmatch(o->include[i], path, 0) == 0)
            return 1;
    return 0;
}

/* The member's path: the raw format's single entry gets plain_name; others are checked. */
static int entry_path(hf__etl_reader *r, struct archive_entry *e, const char *plain_name,
                      char **path)
{
    if (is_raw(r)) {
        /* A name that promises an archive or compression over bytes that are neither (an
         * error page saved as data.zip) is refused, not passed on as one plain member. */
        static const char *const k_promise[] = {".zip",  ".tar",     ".tgz", ".tar.gz", ".gz",
                                                ".tbz2", ".tar.bz2", ".txz", ".tar.xz"};
        size_t dl = strlen(r->display);
        for (size_t i = 0; archive_filter_code(r->a, 0) == ARCHIVE_FILTER_NONE &&
                           i < sizeof k_promise / sizeof k_promise[0];
             i++) {
            size_t kl = strlen(k_promise[i]);
            if (dl > kl && !strcasecmp(r->display + dl - kl, k_promise[i]))
                return hf_error(HF_EDATA,
                                "%s: got a file that is not a %s archive (neither zip, tar nor a "
                                "compressed file: perhaps an error page saved under that name), "
                                "expected what the name says",
                                r->display, k_promise[i] + 1);
        }
        *path = hf_strdup(plain_name);
        return *path ? HF_OK : HF_ENOMEM;
    }
    /* The UTF-8 name (a zip's names are converted from its code page or UTF-8 flag), else the
     * bytes as stored (a tar's). */
    const char *name = archive_entry_pathname_utf8(e);
    if (!name)
        name = archive_entry_pathname(e);
    return hf_etl_check_member(r->display, name, (int)archive_entry_filetype(e),
                               archive_entry_hardlink(e) != NULL, path);
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(((const hf_etl_member *)a)->path, ((const hf_etl_member *)b)->path);
}

int hf_etl_scan(hf_source *src, const char *display, const char *plain_name, const hf_etl_opts *o,
                hf_etl_member **members, size_t *n)
{
    hf__etl_reader r;
    hf_etl_member *m = NULL;
    size_t count = 0, cap = 0;
    hf__etl_limits lim = {o, 0, src->size};
    struct archive_entry *e;
    *members = NULL;
    *n = 0;
    int result = hf__etl_open(&r, src, display);
    if (result < 0)
        return result;
    for (size_t index = 0;; index++) {
        int got = hf__etl_next(&r, &e);
        if (got <= 0) {
            result = got;
            break;
        }
        char *path = NULL;
        if ((result = entry_path(&r, e, plain_name, &path)) < 0)
            break;
        if (!path || !matches(o, path)) {
            free(path);
            continue;
        }
        if (count == cap) {
            size_t nc = cap ? 2 * cap : 16;
            hf_etl_member *nm = hf_realloc(m, nc * sizeof *nm);
            if (!nm) {
                free(path);
                result = HF_ENOMEM;
                break;
            }
            m = nm;
            cap = nc;
        }
        hf_etl_member *x = &m[count++];
        memset(x, 0, sizeof *x);
        x->path = path;
        x->index = index;
        if ((result = hf__etl_data(&r, &lim, path, NULL, NULL, &x->size, x->sha256, x->md5)) < 0)
            break;
    }
    hf__etl_close(&r);
    if (result >= 0 && count > 1) {
        /* Two entries that extract to the same path (a tar may repeat one): which wins would be
         * the archive's order, so refuse. */
        hf_etl_member *sorted = hf_malloc(count * sizeof *sorted);
        if (!sorted) {
            result = HF_ENOMEM;
        } else {
            memcpy(sorted, m, count * sizeof *sorted);
            qsort(sorted, count, sizeof *sorted, path_cmp);
            for (size_t i = 1; i < count && result >= 0; i++)
                if (!strcmp(sorted[i].path, sorted[i - 1].path))
                    result = hf_error(HF_EDATA,
                                      "%s: member \"%s\" appears twice, refused; "
                                      "expected each path once",
                                      display, sorted[i].path);
            /* A member that is also a directory of another ("a" and "a/b", possible in a tar):
             * no directory can hold both, so a local DEST would fail half-way after writing
             * some members. Refused for an s3:// DEST too, where both keys are legal: such a
             * prefix cannot be copied back to a file system (aws s3 sync, a local data.source)
             * and the same archive would then be refused or accepted by where it goes. */
            for (size_t i = 0; i < count && result >= 0; i++) {
                const char *path = sorted[i].path;
                for (const char *sl = strchr(path, '/'); sl && result >= 0;
                     sl = strchr(sl + 1, '/')) {
                    hf_etl_member key = {.path = hf_strndup(path, (size_t)(sl - path))};
                    if (!key.path)
                        result = HF_ENOMEM;
                    else if (bsearch(&key, sorted, count, sizeof *sorted, path_cmp))
                        result = hf_error(HF_EDATA,
                                          "%s: member \"%s\" is a file and also the directory "
                                          "of member \"%s\", refused; expected a path that is "
                                          "not both",
                                          display, key.path, path);
                    free(key.path);
                }
            }
            free(sorted);
        }
    }
    if (result >= 0 && count == 0 && o->n_include)
        result = hf_error(HF_EINVAL, "%s: no member matches --include (data.etl.include) %s%s",
                          display, o->include[0], o->n_include > 1 ? " or the others given" : "");
    if (result < 0) {
        hf_etl_members_free(m, count);
        return result;
    }
    *members = m;
    *n = count;
    return HF_OK;
}
