#define _GNU_SOURCE
#include "coordinator/journal.h"
#include "common/fsutil.h"
#include "common/hf.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <time.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYNC_INTERVAL_S 0.1
/* Version 2: every line after the header ends in a tab and the first 16 hex digits of the
 * SHA-256 of the text before it, so that an edited or damaged line is found (a flipped digit in a
 * score changed the selection). Version 1 journals (no checksums) are still replayed. */
#define JOURNAL_VERSION 2
#define LINE_SUM 16

/* SHA-256 fetched once from OpenSSL's provider (EVP_sha256() looks it up again on every digest). */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* The line checksum: the first LINE_SUM hex digits of the SHA-256 of text[0..n) into hex (the
 * digits of hf_sha256_hex, without formatting all 64 of them). */
static int line_sum(const char *text, size_t n, char hex[LINE_SUM])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    pthread_once(&g_sha256_once, fetch_sha256);
    if (!EVP_Digest(text, n, md, &mdlen, g_sha256 ? g_sha256 : EVP_sha256(), NULL) ||
        mdlen < LINE_SUM / 2)
        return hf_error(HF_EINTERNAL, "SHA-256 failed");
    for (unsigned i = 0; i < LINE_SUM / 2; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    return HF_OK;
}

/* Not collective. 1 if `line` (len bytes, without its newline) ends in the checksum of what is
 * before it; the line is cut at the tab. */
static int check_line(char *line, size_t len)
{
    char hex[LINE_SUM];
    if (len < LINE_SUM + 1 || line[len - LINE_SUM - 1] != '\t')
        return 0;
    size_t body = len - LINE_SUM - 1;
    if (line_sum(line, body, hex) < 0 || memcmp(hex, line + body + 1, LINE_SUM) != 0)
        return 0;
    line[body] = '\0';
    return 1;
}

struct hf_journal {
    int fd;
    char *path;
    /* fsync runs in its own thread so that a slow disk never stalls the coordinator (whose
     * latency the remote workers wait on); it syncs at most every SYNC_INTERVAL_S. */
    pthread_t syncer;
    int syncer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int dirty, closing, sync_failed;
    long appended; /* lines written by this process */
    char sync_error[256];
    /* Lines checksummed and not yet written (buf[0..len), `lines` of them): one line outside a
     * hold, every line appended on a holding thread until hf_journal_flush. listed: on g_held. */
    char *buf;
    size_t len, cap;
    long lines;
    int listed;
    hf_journal *next_held;
};

/* The journals with held lines (linked through next_held), and whether this thread holds. */
static pthread_mutex_t g_held_mu = PTHREAD_MUTEX_INITIALIZER;
static hf_journal *g_held;
static _Thread_local int t_hold;

static void *syncer_main(void *arg);

static int write_all(int fd, const char *buf, size_t len, const char *path)
{
    if (hf_test_write_fails()) {
        errno = ENOSPC;
        return hf_error(HF_EIO, "writing %s: %s", path, hf_strerror(errno));
    }
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return hf_error(HF_EIO, "writing %s: %s", path, hf_strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
    return HF_OK;
}

static char *header_line(const hf_journal_id *id)
{
    json_t *o = json_object();
    json_object_set_new(o, "journal", json_string("hyperfold"));
    json_object_set_new(o, "version", json_integer(JOURNAL_VERSION));
    json_object_set_new(o, "spec_sha256", json_string(id->spec_sha256));
    json_object_set_new(o, "data", json_string(id->data_fingerprint));
    json_object_set_new(o, "n_tasks", json_integer((json_int_t)id->n_tasks));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int check_header(const char *path, const char *line, const hf_journal_id *id, int *version)
{
    json_error_t jerr;
    json_t *o = json_loads(line, 0, &jerr);
    int result = HF_OK;
    const char *tool = json_string_value(json_object_get(o, "journal"));
    if (!o || !tool || strcmp(tool, "hyperfold") != 0) {
        result = hf_error(HF_EINVAL,
                          "%s:1: not a hyperfold journal (remove it or choose another "
                          "output.dir)",
                          path);
        goto out;
    }
    const char *spec = json_string_value(json_object_get(o, "spec_sha256"));
    const char *data = json_string_value(json_object_get(o, "data"));
    json_int_t n = json_integer_value(json_object_get(o, "n_tasks"));
    if (!spec || strcmp(spec, id->spec_sha256) != 0) {
        result = hf_error(HF_EINVAL,
                          "%s: this run directory holds a journal of a different job spec "
                          "(sha256 %.12s..., this spec %.12s...): refusing to mix results; use "
                          "another output.dir or name, or pass --fresh to discard it",
                          path, spec ? spec : "?", id->spec_sha256);
        goto out;
    }
    if (!data || strcmp(data, id->data_fingerprint) != 0) {
        result = hf_error(HF_EINVAL,
                          "%s: this run directory holds a journal made from different data "
                          "(%s, now %s): refusing to mix results; pass --fresh to discard it",
                          path, data ? data : "?", id->data_fingerprint);
        goto out;
    }
    *version = (int)json_integer_value(json_object_get(o, "version"));
    if ((size_t)n != id->n_tasks) {
        result = hf_error(HF_EINVAL, "%s: journal has %lld tasks, this sweep %zu", path,
                          (long long)n, id->n_tasks);
        goto out;
    }
out:
    json_decref(o);
    return result;
}

int hf_journal_open(const char *path, const hf_journal_id *id,
                    int (*on_line)(void *arg, const char *line), void *arg, hf_journal **out)
{
    int result = HF_OK;
    char *text = NULL;
    size_t len = 0;
    hf_journal *j = hf_calloc(1, sizeof *j);
    *out = NULL;
    if (!j)
        return HF_ENOMEM;
    j->fd = -1;
    if (!(j->path = hf_strdup(path))) {
        result = HF_ENOMEM;
        goto out;
    }
    off_t keep = -1; /* bytes of complete lines in an existing journal */
    if (hf_fs_exists(path)) {
        if ((result = hf_fs_read_file(path, &text, &len)) < 0)
            goto out;
        char *nl = memchr(text, '\n', len);
        if (!nl) {
            /* A crash before the header was complete: start afresh. */
            keep = 0;
        } else {
            *nl = '\0';
            int version = 0;
            if ((result = check_header(path, text, id, &version)) < 0)
                goto out;
            int summed = version >= 2;
            char *p = nl + 1;
            long long lineno = 1;
            keep = (off_t)(p - text);
            while (p < text + len) {
                char *e = memchr(p, '\n', (size_t)(text + len - p));
                if (!e)
                    break; /* torn last line: dropped */
                *e = '\0';
                lineno++;
                if (summed && !check_line(p, (size_t)(e - p))) {
                    /* Damaged or edited: the journal ends before this line, and the work it
                     * and the lines after it recorded runs again. */
                    hf_warn("%s:%lld: damaged line (its checksum does not match): the journal "
                            "is cut there and the %s after it run again",
                            path, lineno, "tasks recorded on and");
                    break;
                }
                if (e > p && on_line && (result = on_line(arg, p)) < 0) {
                    hf_error_prefix(result, "%s:%lld", path, lineno);
                    goto out;
                }
                p = e + 1;
                keep = (off_t)(p - text);
            }
        }
    }
    /* Appending: every line goes to the end even if another writer slipped past the run
     * directory's lock (coordinator/run.c holds it); a torn last line is cut off first. */
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        result = hf_error(HF_EIO, "opening %s: %s", path, hf_strerror(errno));
        goto out;
    }
    if (keep >= 0 && ftruncate(j->fd, keep) != 0) {
        result = hf_error(HF_EIO, "truncating %s: %s", path, hf_strerror(errno));
        goto out;
    }
    if (keep <= 0) {
        char *h = header_line(id);
        if (!h) {
            result = hf_error(HF_ENOMEM, "out of memory");
            goto out;
        }
        result = write_all(j->fd, h, strlen(h), path);
        if (result >= 0)
            result = write_all(j->fd, "\n", 1, path);
        free(h);
        if (result < 0)
            goto out;
        if (fsync(j->fd) != 0) {
            result = hf_error(HF_EIO, "fsync of %s: %s", path, hf_strerror(errno));
            goto out;
        }
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (pthread_create(&j->syncer, NULL, syncer_main, j) != 0) {
        result = hf_error(HF_EINTERNAL, "cannot start the journal's fsync thread");
        pthread_mutex_destroy(&j->mu);
        pthread_cond_destroy(&j->cv);
        goto out;
    }
    j->syncer_started = 1;
    *out = j;
    j = NULL;
out:
    free(text);
    if (j) {
        if (j->fd >= 0)
            close(j->fd);
        free(j->path);
        free(j);
    }
    return result;
}

static void *syncer_main(void *arg)
{
    hf_journal *j = arg;
    pthread_mutex_lock(&j->mu);
    while (!j->closing) {
        struct timespec until;
        hf_deadline_in(&until, SYNC_INTERVAL_S);
        pthread_cond_timedwait(&j->cv, &j->mu, &until);
        if (!j->dirty)
            continue;
        j->dirty = 0;
        pthread_mutex_unlock(&j->mu);
        int result = fdatasync(j->fd);
        int e = errno;
        pthread_mutex_lock(&j->mu);
        if (result != 0 && !j->sync_failed) {
            j->sync_failed = 1;
            snprintf(j->sync_error, sizeof j->sync_error, "%s", hf_strerror(e));
        }
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static int hf_journal_sync(hf_journal *j)
{
    if (fdatasync(j->fd) != 0)
        return hf_error(HF_EIO, "fsync of %s: %s", j->path, hf_strerror(errno));
    pthread_mutex_lock(&j->mu);
    int failed = j->sync_failed;
    pthread_mutex_unlock(&j->mu);
    if (failed)
        return hf_error(HF_EIO, "fsync of %s: %s", j->path, j->sync_error);
    return HF_OK;
}

/* Writes j's pending lines with one write(): a crash leaves at most one torn line, which resume
 * drops (a write that stops inside a line leaves the lines before it whole). */
static int write_pending(hf_journal *j)
{
    if (j->len == 0)
        return HF_OK;
    int result = write_all(j->fd, j->buf, j->len, j->path);
    long before = j->appended;
    j->appended += j->lines;
    j->len = 0;
    j->lines = 0;
    if (result >= 0 && before < 3 && j->appended >= 3)
        hf_test_kill_point("journal");
    if (result < 0)
        return result;
    pthread_mutex_lock(&j->mu);
    j->dirty = 1;
    int failed = j->sync_failed;
    pthread_mutex_unlock(&j->mu);
    if (failed)
        return hf_error(HF_EIO, "fsync of %s: %s", j->path, j->sync_error);
    return HF_OK;
}

/* Takes j off g_held. */
static void unlist(hf_journal *j)
{
    pthread_mutex_lock(&g_held_mu);
    for (hf_journal **at = &g_held; *at; at = &(*at)->next_held)
        if (*at == j) {
            *at = j->next_held;
            break;
        }
    j->listed = 0;
    j->next_held = NULL;
    pthread_mutex_unlock(&g_held_mu);
}

int hf_journal_append(hf_journal *j, const char *line)
{
    size_t n = strlen(line), need = j->len + n + LINE_SUM + 2;
    if (need > j->cap) {
        size_t cap = need > 2 * j->cap ? need : 2 * j->cap;
        char *nb = hf_realloc(j->buf, cap);
        if (!nb)
            return HF_ENOMEM;
        j->buf = nb;
        j->cap = cap;
    }
    char *at = j->buf + j->len;
    memcpy(at, line, n);
    at[n] = '\t';
    HF_CALL(line_sum(line, n, at + n + 1));
    at[n + LINE_SUM + 1] = '\n';
    j->len = need;
    j->lines++;
    if (!t_hold)
        return write_pending(j);
    if (!j->listed) {
        pthread_mutex_lock(&g_held_mu);
        j->next_held = g_held;
        g_held = j;
        j->listed = 1;
        pthread_mutex_unlock(&g_held_mu);
    }
    return HF_OK;
}

void hf_journal_hold(void)
{
    t_hold = 1;
}

int hf_journal_flush(void)
{
    int result = HF_OK;
    t_hold = 0;
    for (;;) {
        pthread_mutex_lock(&g_held_mu);
        hf_journal *j = g_held;
        if (j) {
            g_held = j->next_held;
            j->listed = 0;
            j->next_held = NULL;
        }
        pthread_mutex_unlock(&g_held_mu);
        if (!j)
            return result;
        int status = write_pending(j);
        if (result >= 0)
            result = status;
    }
}

int hf_journal_close(hf_journal *j)
{
    if (!j)
        return HF_OK;
    /* Lines still held are written first (a failed run's results up to its failure). */
    if (j->listed)
        unlist(j);
    int written = write_pending(j);
    if (j->syncer_started) {
        pthread_mutex_lock(&j->mu);
        j->closing = 1;
        pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
        pthread_join(j->syncer, NULL);
    }
    int result = hf_journal_sync(j);
    if (written < 0)
        result = written;
    if (close(j->fd) != 0 && result >= 0)
        result = hf_error(HF_EIO, "closing %s: %s", j->path, hf_strerror(errno));
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->path);
    free(j->buf);
    free(j);
    return result;
}
