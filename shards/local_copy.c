/* local_copy.c - shards.local_dir: each node's copy of the shards (see local_copy.h).
 *
 * Written here rather than taken from a library: the copy is a read/write loop into the project's
 * durable temporary file (common/fsutil.h), and the check is the manifest's own SHA-256. */
#include "shards/local_copy.h"

#include "common/fsutil.h"
#include "common/hf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *hf_shards_local_path(const char *local_dir, const hf_manifest *m)
{
    return hf_asprintf("%s/shards-%.16s", local_dir, m->spec_hash);
}

/* Copies `from` to `to` through a temporary file beside `to`, checks the copy's SHA-256 against
 * `sha256` and only then renames it over `to`. */
static int copy_checked(const char *from, const char *to, const char *sha256)
{
    FILE *in = fopen(from, "rb"), *out = NULL;
    char *tmp = NULL, hex[65];
    int result = HF_OK;
    if (!in)
        return hf_error(HF_EIO, "shards.local_dir: cannot read %s: %s", from, strerror(errno));
    if ((result = hf_fs_open_tmp(to, &out, &tmp)) < 0) {
        fclose(in);
        return hf_error_prefix(result, "shards.local_dir");
    }
    const size_t cap = (size_t)1 << 20;
    char *buf = hf_malloc(cap);
    size_t n;
    if (!buf) {
        result = HF_ENOMEM;
        goto fail;
    }
    while ((n = fread(buf, 1, cap, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            break;
    free(buf);
    if (ferror(in) || ferror(out)) {
        result =
            hf_error(HF_EIO, "shards.local_dir: copying %s to %s: %s", from, tmp, strerror(errno));
        goto fail;
    }
    if (fflush(out) != 0 || (result = hf_sha256_file_hex(tmp, hex)) < 0) {
        result = result < 0 ? result
                            : hf_error(HF_EIO, "shards.local_dir: %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (strcmp(hex, sha256) != 0) {
        result = hf_error(HF_EDATA,
                          "%s: SHA-256 %s, expected %s (the manifest's): the shared shard "
                          "directory does not hold what its manifest lists",
                          from, hex, sha256);
        goto fail;
    }
    fclose(in);
    return hf_fs_commit_tmp(out, tmp, to);
fail:
    fclose(in);
    hf_fs_abort_tmp(out, tmp);
    return result;
}

/* The node's first rank: every shard of `m` in `dir`, checked or copied. */
static int sync_node(const char *shard_dir, const hf_manifest *m, const char *dir)
{
    size_t copied = 0, reused = 0, replaced = 0;
    double t0 = hf_now();
    char host[256] = "?";
    gethostname(host, sizeof host - 1);
    int result = hf_fs_mkdirs(dir);
    if (result < 0)
        return hf_error_prefix(result, "shards.local_dir");
    for (size_t i = 0; i < m->n_shards && result >= 0; i++) {
        char *local = hf_asprintf("%s/%s", dir, m->shards[i].file);
        char *shared = hf_asprintf("%s/%s", shard_dir, m->shards[i].file);
        char hex[65];
        if (!local || !shared) {
            result = HF_ENOMEM;
        } else if (hf_fs_exists(local)) {
            if (hf_sha256_file_hex(local, hex) < 0) {
                hf_error_clear();
                snprintf(hex, sizeof hex, "unreadable");
            }
            if (!strcmp(hex, m->shards[i].sha256)) {
                reused++;
            } else {
                hf_warn("shards.local_dir: %s on %s: SHA-256 %.16s..., expected %.16s... (the "
                        "manifest's): damaged or stale, copying it again from %s",
                        local, host, hex, m->shards[i].sha256, shard_dir);
                result = copy_checked(shared, local, m->shards[i].sha256);
                replaced++;
            }
        } else {
            result = copy_checked(shared, local, m->shards[i].sha256);
            copied++;
        }
        free(local);
        free(shared);
    }
    /* The manifest beside the copies: the local directory describes itself. */
    if (result >= 0)
        result = hf_manifest_write(dir, m);
    if (result >= 0)
        hf_info("shards.local_dir: node %s: %zu shards in %s: %zu copied, %zu reused after "
                "checking their SHA-256, %zu replaced (%.2fs)",
                host, m->n_shards, dir, copied, reused, replaced, hf_now() - t0);
    return result;
}

int hf_shards_local_sync(hf_comm *world, const char *shard_dir, const hf_manifest *m,
                         const char *local_dir)
{
    hf_comm *node = NULL;
    char *dir = hf_shards_local_path(local_dir, m);
    /* Every rank takes part in the split (collective), also one that could not make the path. */
    int result = hf_comm_split_node(world, &node);
    if (result >= 0 && !dir)
        result = HF_ENOMEM;
    if (result >= 0 && hf_comm_rank(node) == 0)
        result = sync_node(shard_dir, m, dir);
    /* The node's other ranks read the copy only once its first rank has finished it. */
    if (node)
        result = hf_comm_check(node, result);
    hf_comm_free(node);
    free(dir);
    return hf_comm_check(world, result);
}
