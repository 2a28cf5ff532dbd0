/* ingest_write.c - the shard files of an ingest: slabs of rows per shard, the collective write,
 * hashes, fsync, renames, and the rejected rows (see ingest_int.h). */
#include "shards/ingest_int.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/csv.h"
#include "shards/partition.h"
#include "shards/schema_json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

/* A thread that fsyncs the temporary shard files while the ranks hash them: the write-back costs
 * CPU (about 0.35 s per GB here) that then runs beside the hashing instead of after it. */
typedef struct syncer {
    char *const *paths;
    size_t n;
    size_t failed; /* index of the first file that failed, n if none */
    int err;       /* its errno */
    pthread_t thread;
    int started;
} syncer;

static void *syncer_main(void *arg)
{
    syncer *s = arg;
    for (size_t i = 0; i < s->n && s->failed == s->n; i++) {
        int fd = open(s->paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0) {
            s->failed = i;
            s->err = errno;
        }
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

/* Starts the syncer; without a thread the fsync of hf_fs_rename_durable does the work later. */
static void syncer_start(syncer *s, char *const *paths, size_t n)
{
    memset(s, 0, sizeof *s);
    s->paths = paths;
    s->n = n;
    s->failed = n;
    s->started = pthread_create(&s->thread, NULL, syncer_main, s) == 0;
}

/* Waits for the syncer; returns its first failure as an error. */
static int syncer_finish(syncer *s)
{
    if (!s->started)
        return HF_OK;
    pthread_join(s->thread, NULL);
    s->started = 0;
    if (s->failed < s->n)
        return hf_error(HF_EIO, "fsync of %s: %s", s->paths[s->failed], hf_strerror(s->err));
    return HF_OK;
}

int hf__ingest_remove_old(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return HF_OK;
    int result = HF_OK;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (!hf_shard_is_layout_file(e->d_name))
            continue;
        char *p = hf_asprintf("%s/%s", dir, e->d_name);
        if (!p) {
            result = HF_ENOMEM;
            break;
        }
        unlink(p);
        free(p);
    }
    closedir(d);
    return result;
}

int hf__ingest_write_shards(ctx *c, const char *dir, const built *b, hf_manifest *m)
{
    const size_t n = c->nrows, nf = b->nf;
    const int64_t total = b->counts[0];
    size_t n_shards = c->o->shard_count > 0 ? (size_t)c->o->shard_count : (size_t)c->size;
    /* More shards than rows would be empty files: one row each at most (said once). */
    if (total > 0 && n_shards > (size_t)total) {
        if (c->rank == 0 && c->o->shard_count > 0)
            hf_warn("shards.count: got %d, more than the %lld rows: writing %lld shards",
                    c->o->shard_count, (long long)total, (long long)total);
        n_shards = (size_t)total;
    }
    char **tmp_paths = hf_calloc(n_shards, sizeof *tmp_paths);
    hf_shard_slab *slabs = NULL;
    char *hashes = NULL, *all = NULL;
    size_t *lens = NULL;
    int result = tmp_paths ? HF_OK : HF_ENOMEM;
    m->shards = hf_calloc(n_shards, sizeof *m->shards);
    if (!m->shards)
        result = HF_ENOMEM;
    else
        m->n_shards = n_shards;
    for (size_t i = 0; result >= 0 && i < n_shards; i++) {
        m->shards[i].first_row = (int64_t)((uint64_t)total * i / n_shards);
        m->shards[i].rows =
            (int64_t)((uint64_t)total * (i + 1) / n_shards) - m->shards[i].first_row;
        m->shards[i].file = hf_shard_name(i);
        tmp_paths[i] = hf_shard_tmp_path(dir, i);
        if (!m->shards[i].file || !tmp_paths[i])
            result = HF_ENOMEM;
    }
    result = hf__ingest_agree(c, result);
    const int64_t g0 = b->offs[0];
    slabs = result >= 0 ? hf_calloc(n_shards + 1, sizeof *slabs) : NULL;
    result = hf__ingest_agree(c, result >= 0 && !slabs ? HF_ENOMEM : result);
    for (size_t i = 0; result >= 0 && i < n_shards; i++) {
        int64_t lo = m->shards[i].first_row, hi = lo + m->shards[i].rows;
        int64_t a = g0 > lo ? g0 : lo, e = g0 + (int64_t)n < hi ? g0 + (int64_t)n : hi;
        if (e < a)
            e = a;
        size_t at = (size_t)(a - g0 < 0 ? 0 : a - g0);
        hf_shard_slab slab = {.shard_rows = m->shards[i].rows,
                              .offset = e == a ? 0 : a - lo,
                              .count = e - a,
                              .n_features = nf,
                              .X = b->X ? b->X + at * nf : NULL,
                              .y = b->y + at,
                              .row = b->rowpos + at,
                              .fold = b->fold ? b->fold + at : NULL,
                              .group = b->group ? b->group + at : NULL,
                              .order = b->order ? b->order + at : NULL,
                              .has_fold = b->fold_slot >= 0,
                              .has_group = b->group_slot >= 0,
                              .has_order = b->order_slot >= 0};
        slabs[i] = slab;
    }
    double t_write = hf_now();
    if (result >= 0)
        result = hf__ingest_agree(c, hf_shard_write_all(c->comm, tmp_paths, slabs, n_shards));
    hf_test_kill_point("shards");
    /* Hashes are computed in parallel from the temporary files while a thread of rank 0 fsyncs
     * them, then rank 0 moves them to their names durably (the fsync there finds nothing left to
     * write), so a failure leaves no part file under its final name. */
    double t_hash = hf_now();
    syncer sync = {0};
    if (result >= 0 && c->rank == 0)
        syncer_start(&sync, tmp_paths, n_shards);
    if (result >= 0) {
        size_t mine = 0;
        for (size_t i = (size_t)c->rank; i < n_shards; i += (size_t)c->size)
            mine++;
        hashes = hf_calloc(mine * 64 + 1, 1);
        result = hashes ? HF_OK : HF_ENOMEM;
        size_t k = 0;
        for (size_t i = (size_t)c->rank; result >= 0 && i < n_shards; i += (size_t)c->size) {
            char hex[65];
            result = hf_sha256_file_hex(tmp_paths[i], hex);
            if (result >= 0)
                memcpy(hashes + 64 * k++, hex, 64);
        }
        result = hf__ingest_agree(c, result);
        if (result >= 0)
            result = hf_comm_allgather_blob(c->comm, hashes, mine * 64, &all, &lens);
        if (result >= 0) {
            size_t base = 0;
            for (int r = 0; r < c->size; r++) {
                size_t k2 = 0;
                for (size_t i = (size_t)r; i < n_shards; i += (size_t)c->size) {
                    memcpy(m->shards[i].sha256, all + base + 64 * k2++, 64);
                    m->shards[i].sha256[64] = '\0';
                }
                base += lens[r];
            }
        }
    }
    double t_rename = hf_now();
    int sync_rc = syncer_finish(&sync);
    if (result >= 0)
        result = sync_rc;
    if (result >= 0 && c->rank == 0) {
        for (size_t i = 0; result >= 0 && i < n_shards; i++) {
            char *final = hf_shard_path(dir, i);
            result = final ? hf_fs_rename_durable(tmp_paths[i], final) : HF_ENOMEM;
            free(final);
        }
    }
    result = hf__ingest_agree(c, result);
    hf_debug("ingest: shards written %.3fs, hashed %.3fs, synced and renamed %.3fs",
             t_hash - t_write, t_rename - t_hash, hf_now() - t_rename);
    if (result < 0 && c->rank == 0 && tmp_paths)
        for (size_t i = 0; i < n_shards; i++)
            if (tmp_paths[i])
                unlink(tmp_paths[i]);
    hf_strv_free(tmp_paths, n_shards);
    free(slabs);
    free(hashes);
    free(all);
    free(lens);
    return result;
}

int hf__ingest_write_rejects(ctx *c, const char *rejects_path, int64_t n_rejected)
{
    char *all = NULL;
    size_t *lens = NULL;
    int result =
        hf_comm_gather_blob(c->comm, c->rejects ? c->rejects : "", c->rejects_len, 0, &all, &lens);
    if (result >= 0 && c->rank == 0) {
        size_t tot = 0;
        for (int r = 0; r < c->size; r++)
            tot += lens[r];
        static const char head[] = "file,line,reason,record\n";
        char *text = hf_malloc(sizeof head + tot);
        result = text ? HF_OK : HF_ENOMEM;
        if (text) {
            memcpy(text, head, sizeof head - 1);
            memcpy(text + sizeof head - 1, all, tot);
            result = hf_fs_write_atomic(rejects_path, text, sizeof head - 1 + tot);
        }
        free(text);
    }
    result = hf__ingest_agree(c, result);
    if (result >= 0 && n_rejected > 0 && c->rank == 0)
        hf_warn("%lld bad rows skipped; see %s", (long long)n_rejected, rejects_path);
    free(all);
    free(lens);
    return result;
}
