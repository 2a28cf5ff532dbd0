/* mpitest_shared_table.c - one copy of the table per node (docs/scaling.md).
 *
 * ctest runs it at 1, 2 and 4 ranks (all on this node). It ingests a generated CSV with a fold, a
 * group and an order column, loads the table privately (hf_shards_load) and into the node's shared
 * window (hf_comm_shared_alloc + hf_shards_load_into, read by the node's first rank only), and
 * checks on every rank that every array is byte-identical to the private copy, that every rank's
 * arrays lie at the window's base (64-byte aligned), that the window is one memory (a write by the
 * node's last rank is seen by all), and that hf_dataset_free gives the window back through its
 * release callback. A private buffer (hf_shards_load_into with malloc'd memory) is checked too. */
#include "mpitest.h"

#include "common/fsutil.h"
#include "shards/ingest.h"
#include "shards/partition.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *na_default[] = {"", "NA"};

static int write_fixture(const char *path, int n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs("x1,c,f,g,t,x2,y\n", f);
    for (int i = 0; i < n; i++) {
        if (i % 17 == 3)
            fprintf(f, ",k%d,%d,g%d,%d.5,%g,%d\n", i % 5, i % 4, i % 9, (i * 7) % n, i * 0.25,
                    i % 3);
        else
            fprintf(f, "%.17g,k%d,%d,g%d,%d.5,%g,%d\n", i * 1.5 - 20.0 / (i + 1), i % 5, i % 4,
                    i % 9, (i * 7) % n, i * 0.25, i % 3);
    }
    return fclose(f);
}

static int released;

static void count_release(void *ctx)
{
    released++;
    free(ctx);
}

static void release_window(void *ctx)
{
    released++;
    hf_comm_shared_free(ctx);
}

/* Every array of a and b byte-identical. */
static void same_table(const hf_dataset *a, const hf_dataset *b, const char *what)
{
    size_t n = a->n_rows, p = a->schema->n_features;
    CHECK(a->n_rows == b->n_rows, "%s: rows %zu vs %zu", what, a->n_rows, b->n_rows);
    if (a->n_rows != b->n_rows)
        return;
    CHECK(memcmp(a->X, b->X, n * p * sizeof *a->X) == 0, "%s: X differs", what);
    CHECK(memcmp(a->y, b->y, n * sizeof *a->y) == 0, "%s: y differs", what);
    CHECK(memcmp(a->row, b->row, n * sizeof *a->row) == 0, "%s: row differs", what);
    CHECK(a->fold && b->fold && memcmp(a->fold, b->fold, n * sizeof *a->fold) == 0,
          "%s: fold differs", what);
    CHECK(a->group && b->group && memcmp(a->group, b->group, n * sizeof *a->group) == 0,
          "%s: group differs", what);
    CHECK(a->order && b->order && memcmp(a->order, b->order, n * sizeof *a->order) == 0,
          "%s: order differs", what);
    CHECK(a->schema->n_features == b->schema->n_features &&
              strcmp(a->schema->features[1].categories[4], b->schema->features[1].categories[4]) ==
                  0,
          "%s: schema differs", what);
}

static int aligned(const void *p)
{
    return ((uintptr_t)p & 63) == 0;
}

int main(int argc, char **argv)
{
    hf_comm *w = NULL;
    if (hf_comm_init(&argc, &argv, &w) != 0) {
        fprintf(stderr, "MPI init failed: %s\n", hf_error_message());
        return 1;
    }
    world_rank = hf_comm_rank(w);
    hf_log_set_rank(world_rank);
    char dir[256], csv[300], shards[300];
    snprintf(dir, sizeof dir, "mpitest_shared_table_np%d", hf_comm_size(w));
    snprintf(csv, sizeof csv, "%s/data.csv", dir);
    snprintf(shards, sizeof shards, "%s/shards", dir);
    const int n = 1009;
    int rc = 0;
    if (world_rank == 0)
        rc = hf_fs_mkdirs(dir) < 0 || write_fixture(csv, n) != 0 ? -1 : 0;
    hf_comm_barrier(w);
    rc = hf_comm_check(w, rc);
    CHECK(rc == 0, "writing the fixture");

    hf_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.source = csv;
    o.target = "y";
    o.na_values = na_default;
    o.n_na_values = 2;
    o.shard_count = 3;
    o.fold_column = "f";
    o.group_column = "g";
    o.order_column = "t";
    o.task_hint = "regression";
    hf_source_opts so = {.rank = world_rank};
    hf_manifest *m = NULL;
    int reused = 0;
    if (rc == 0) {
        rc = hf_ingest(w, &o, shards, &so, NULL, &m, &reused);
        CHECK(rc == 0, "ingest: %s", hf_error_message());
    }
    hf_dataset *priv = NULL, *shared = NULL, *buffered = NULL;
    hf_comm *node = NULL;
    if (rc == 0) {
        CHECK(m->has_fold && m->has_group && m->has_order, "fold, group and order columns");
        rc = hf_shards_load(shards, m, &priv);
        CHECK(rc == 0 && priv->n_rows == (size_t)n, "private load: %s", hf_error_message());
    }
    if (rc == 0) {
        rc = hf_comm_split_node(w, &node);
        CHECK(rc == 0, "node communicator: %s", hf_error_message());
    }
    if (rc == 0) {
        /* ctest runs every rank on this node. */
        CHECK(hf_comm_size(node) == hf_comm_size(w), "node of %d ranks, world %d",
              hf_comm_size(node), hf_comm_size(w));
        CHECK(hf_comm_size(hf_comm_node()) == hf_comm_size(w), "hf_comm_node of the world");
        CHECK(hf_comm_rank(node) == world_rank, "node ranks in world order");

        /* A private buffer in the same layout. */
        size_t bytes = 0;
        rc = hf_shards_table_bytes(shards, m, 0, m->n_rows, &bytes);
        CHECK(rc == 0 && bytes >= (size_t)n * 7 * 8, "table bytes %zu: %s", bytes,
              hf_error_message());
        void *buf = NULL;
        CHECK(posix_memalign(&buf, 64, bytes) == 0, "buffer");
        released = 0;
        rc = hf_shards_load_into(shards, m, 0, m->n_rows, buf, bytes, 1, count_release, buf,
                                 &buffered);
        CHECK(rc == 0, "load into a buffer: %s", hf_error_message());
        if (rc == 0) {
            same_table(buffered, priv, "buffer");
            CHECK((void *)buffered->X == buf, "X first in the buffer");
            hf_dataset_free(buffered);
            CHECK(released == 1, "the buffer's release called once (%d)", released);
        }
        /* A buffer one byte short is refused. */
        hf_dataset *none = NULL;
        void *small = malloc(bytes);
        CHECK(hf_shards_load_into(shards, m, 0, m->n_rows, small, bytes - 1, 1, NULL, NULL,
                                  &none) == HF_EINTERNAL &&
                  none == NULL,
              "a short buffer refused");
        hf_error_clear();
        free(small);

        /* The shared window: bytes from the node's first rank only; the others pass 0. */
        int leader = hf_comm_rank(node) == 0;
        hf_comm_shared *win = NULL;
        void *base = NULL;
        rc = hf_comm_shared_alloc(node, leader ? bytes : 0, &win, &base);
        CHECK(rc == 0 && base && hf_comm_shared_size(win) == bytes, "shared window: %s",
              hf_error_message());
        if (rc == 0) {
            CHECK(hf_comm_shared_comm(win) == node, "the window's communicator");
            released = 0;
            rc = hf_shards_load_into(shards, m, 0, m->n_rows, base, hf_comm_shared_size(win),
                                     leader, release_window, win, &shared);
            CHECK(rc == 0, "load into the window: %s", hf_error_message());
            int srs = hf_comm_shared_sync(win);
            CHECK(srs == 0, "sync: %s", hf_error_message());
            if (rc != 0)
                hf_comm_shared_free(win);
        }
    }
    if (rc == 0 && shared) {
        same_table(shared, priv, "shared window");
        CHECK(shared->release == release_window, "the window's release callback");
        CHECK(aligned(shared->X) && aligned(shared->y) && aligned(shared->row) &&
                  aligned(shared->fold) && aligned(shared->group) && aligned(shared->order),
              "arrays 64-byte aligned");
        CHECK(shared->X != priv->X, "the shared table is not the private one");
        /* One memory: the node's last rank writes, every rank reads it after a sync. The table
         * is read-only in hyperfold; the test may write it. */
        int last = hf_comm_size(node) - 1;
        double keep = shared->X[0];
        hf_comm_barrier(node); /* every rank has compared the table before it changes */
        if (hf_comm_rank(node) == last)
            shared->X[0] = 1234.5 + last;
        hf_comm_shared_sync(shared->release_ctx);
        CHECK(shared->X[0] == 1234.5 + last, "rank %d sees rank %d's write: %g", world_rank, last,
              shared->X[0]);
        hf_comm_barrier(node);
        if (hf_comm_rank(node) == 0)
            shared->X[0] = keep;
        hf_comm_shared_sync(shared->release_ctx);
        CHECK(memcmp(&shared->X[0], &priv->X[0], sizeof keep) == 0, "restored");
        /* The same address range of the same pages on every rank: the ranks' views of the
         * window hold the same offsets of the base (the dataset's arrays). */
        int64_t off[3] = {(int64_t)((char *)shared->y - (char *)shared->X),
                          (int64_t)((char *)shared->order - (char *)shared->X), 0};
        int64_t mx[3] = {off[0], off[1], 0}, mn[3] = {off[0], off[1], 0};
        hf_comm_allreduce_max_i64(w, mx, 3);
        hf_comm_allreduce_min_i64(w, mn, 3);
        CHECK(mx[0] == mn[0] && mx[1] == mn[1], "the same layout on every rank");
        hf_dataset_free(shared); /* collective: MPI_Win_free */
        CHECK(released == 1, "the window's release called once (%d)", released);
    }
    hf_dataset_free(priv);
    hf_comm_free(node);
    hf_manifest_free(m);
    int64_t bad = failures;
    hf_comm_allreduce_sum_i64(w, &bad, 1);
    if (world_rank == 0)
        printf("%s: %lld failures over %d ranks\n", bad ? "FAIL" : "ok", (long long)bad,
               hf_comm_size(w));
    hf_comm_finalize(w);
    return bad ? 1 : 0;
}
