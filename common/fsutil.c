#define _GNU_SOURCE
#include "common/fsutil.h"
#include "common/hf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int hf_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return hf_error(HF_EIO, "opening directory %s: %s", dir, hf_strerror(errno));
    int result = fsync(fd);
    int e = errno;
    close(fd);
    if (result != 0 && e != EINVAL)
        return hf_error(HF_EIO, "fsync of directory %s: %s", dir, hf_strerror(e));
    return HF_OK;
}

static int fsync_parent(const char *path)
{
    char *copy = hf_strdup(path);
    if (!copy)
        return HF_ENOMEM;
    int result = hf_fsync_dir(dirname(copy));
    free(copy);
    return result;
}

int hf_fs_open_tmp(const char *path, FILE **fp, char **tmp_path)
{
    *fp = NULL;
    *tmp_path = hf_asprintf("%s.tmp.%ld", path, (long)getpid());
    if (!*tmp_path)
        return HF_ENOMEM;
    *fp = fopen(*tmp_path, "wb");
    if (!*fp) {
        int result = hf_error(HF_EIO, "creating %s: %s", *tmp_path, hf_strerror(errno));
        free(*tmp_path);
        *tmp_path = NULL;
        return result;
    }
    return HF_OK;
}

int hf_fs_commit_tmp(FILE *fp, char *tmp_path, const char *path)
{
    int result = HF_OK;
    /* ferror: a write that failed earlier (its buffer may be gone, so fflush alone succeeds). */
    if ((hf_test_write_fails() && (errno = ENOSPC)) || ferror(fp) || fflush(fp) != 0 ||
        fsync(fileno(fp)) != 0) {
        result = hf_error(HF_EIO, "writing %s: %s", tmp_path, hf_strerror(errno));
        fclose(fp);
        unlink(tmp_path);
        goto out;
    }
    if (fclose(fp) != 0) {
        result = hf_error(HF_EIO, "closing %s: %s", tmp_path, hf_strerror(errno));
        unlink(tmp_path);
        goto out;
    }
    if (rename(tmp_path, path) != 0) {
        result = hf_error(HF_EIO, "renaming %s to %s: %s", tmp_path, path, hf_strerror(errno));
        unlink(tmp_path);
        goto out;
    }
    result = fsync_parent(path);
out:
    free(tmp_path);
    return result;
}

void hf_fs_abort_tmp(FILE *fp, char *tmp_path)
{
    if (fp)
        fclose(fp);
    if (tmp_path) {
        unlink(tmp_path);
        free(tmp_path);
    }
}

int hf_fs_rename_durable(const char *tmp_path, const char *path)
{
    int fd = open(tmp_path, O_RDONLY);
    if (fd < 0)
        return hf_error(HF_EIO, "opening %s: %s", tmp_path, hf_strerror(errno));
    int result = fsync(fd);
    close(fd);
    if (result != 0)
        return hf_error(HF_EIO, "fsync of %s: %s", tmp_path, hf_strerror(errno));
    if (rename(tmp_path, path) != 0)
        return hf_error(HF_EIO, "renaming %s to %s: %s", tmp_path, path, hf_strerror(errno));
    return fsync_parent(path);
}

/* Both atomic writers: `private` sets mode 0600 before the first byte is written. */
static int write_atomic(const char *path, const void *data, size_t len, int private)
{
    FILE *fp;
    char *tmp;
    HF_CALL(hf_fs_open_tmp(path, &fp, &tmp));
    if ((private && fchmod(fileno(fp), 0600) != 0) || (len && fwrite(data, 1, len, fp) != len)) {
        int result = hf_error(HF_EIO, "writing %s: %s", tmp, hf_strerror(errno));
        hf_fs_abort_tmp(fp, tmp);
        return result;
    }
    return hf_fs_commit_tmp(fp, tmp, path);
}

int hf_fs_write_atomic(const char *path, const void *data, size_t len)
{
    return write_atomic(path, data, len, 0);
}

int hf_fs_write_private(const char *path, const void *data, size_t len)
{
    return write_atomic(path, data, len, 1);
}

int hf_fs_mkdirs(const char *path)
{
    char *p = hf_strdup(path);
    if (!p)
        return HF_ENOMEM;
    int result = HF_OK;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            struct stat st;
            if (mkdir(p, 0777) != 0 &&
                (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode))) {
                /* EEXIST on a file (or a dangling link) is not a directory that exists. */
                result = hf_error(HF_EIO, "creating directory %s: %s", p,
                                  errno == EEXIST || errno == 0 ? "a file of that name exists"
                                                                : hf_strerror(errno));
                break;
            }
            p[i] = c;
        }
    }
    free(p);
    return result;
}

int hf_fs_read_file(const char *path, char **data, size_t *len)
{
    *data = NULL;
    if (len)
        *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return hf_error(HF_EIO, "opening %s: %s", path, hf_strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = hf_malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return HF_ENOMEM;
    }
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            char *nb = hf_realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                return HF_ENOMEM;
            }
            buf = nb;
        }
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        free(buf);
        return hf_error(HF_EIO, "reading %s: %s", path, hf_strerror(errno));
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return HF_OK;
}

int hf_fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int hf_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return hf_error(HF_EINTERNAL, "SHA-256 failed");
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return HF_OK;
}

int hf_sha256_file_hex(const char *path, char out[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hf_error(HF_EIO, "opening %s: %s", path, hf_strerror(errno));
    int result = hf_sha256_fd_hex(fd, 0, path, out);
    close(fd);
    return result;
}

int hf_sha256_fd_hex(int fd, off_t from, const char *path, char out[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = hf_malloc((size_t)1 << 20);
    int result = HF_OK;
    if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        result = buf ? hf_error(HF_EINTERNAL, "%s: SHA-256 init failed", path) : HF_ENOMEM;
        goto out;
    }
    for (off_t at = from;;) {
        ssize_t n = pread(fd, buf, (size_t)1 << 20, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            result = hf_error(HF_EIO, "reading %s: %s", path, hf_strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            result = hf_error(HF_EINTERNAL, "%s: SHA-256 failed", path);
            goto out;
        }
        at += n;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        result = hf_error(HF_EINTERNAL, "%s: SHA-256 failed", path);
        goto out;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
out:
    EVP_MD_CTX_free(ctx);
    free(buf);
    return result;
}
