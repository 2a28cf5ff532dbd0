/* pipeline.c - the steps every command shares (see pipeline.h). */
#define _GNU_SOURCE
#include "coordinator/pipeline.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "coordinator/rowset.h"
#include "shards/etl.h"
#include "shards/ingest.h"
#include "shards/local_copy.h"
#include "worker/metrics.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hf_pipeline_scratch(hf_comm *world, const char *base, const char *what, char **out)
{
    int rank = hf_comm_rank(world);
    char *dir = NULL;
    size_t len = 0;
    int result = HF_OK;
    *out = NULL;
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = ".";
    if (rank == 0) {
        char abs[PATH_MAX];
        if (!realpath(base, abs))
            result = hf_error(HF_EINVAL,
                              "scratch directory %s: %s (give --scratch DIR or set TMPDIR to a "
                              "directory every rank can write)",
                              base, strerror(errno));
        else if (asprintf(&dir, "%s/hyperfold-%s.XXXXXX", abs, what) < 0)
            result = HF_ENOMEM;
        else if (!mkdtemp(dir))
            result = hf_error(HF_EIO,
                              "creating a scratch directory in %s: %s (give --scratch DIR or set "
                              "TMPDIR to a directory every rank can write)",
                              abs, strerror(errno));
        else
            len = strlen(dir) + 1;
        if (result < 0) {
            free(dir);
            dir = NULL;
        }
    }
    HF_CALL(hf_comm_check(world, result));
    if ((result = hf_comm_bcast_blob(world, &dir, &len, 0)) < 0) {
        if (rank == 0)
            rmdir(dir);
        free(dir);
        return result;
    }
    /* Every rank must see what rank 0 made: on several hosts a node-local $TMPDIR does not. */
    struct stat st;
    if (rank != 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        result = hf_error(HF_EIO,
                          "scratch directory %s: rank %d does not see it (on several hosts, give "
                          "--scratch DIR or set TMPDIR to a directory every rank shares)",
                          dir, rank);
    if ((result = hf_comm_check(world, result)) < 0) {
        if (rank == 0)
            rmdir(dir);
        free(dir);
        return result;
    }
    *out = dir;
    return HF_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void hf_pipeline_scratch_remove(hf_comm *world, const char *dir)
{
    if (!dir)
        return;
    hf_comm_barrier(world);
    if (hf_comm_rank(world) == 0)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int hf_pipeline_spec(hf_comm *world, const char *path, hf_spec **out)
{
    char *text = NULL;
    size_t len = 0;
    int result = HF_OK;
    *out = NULL;
    if (hf_comm_rank(world) == 0)
        result = hf_fs_read_file(path, &text, &len);
    HF_CALL(hf_comm_check(world, result));
    result = hf_comm_bcast_blob(world, &text, &len, 0);
    if (result >= 0)
        result = hf_spec_parse(path, text, len, out);
    free(text);
    return hf_comm_check(world, result);
}

int hf_pipeline_ingest(hf_comm *world, const hf_spec *spec, const char *source,
                       const char *shard_dir, const char *audit_path, const char *rejects_path,
                       hf_manifest **manifest, int *reused)
{
    /* The data section's options, and what the other sections tell the ingest: the columns with
     * a role (cv's) and how to change a task the target does not fit. A copy: the spec is not
     * changed. */
    hf_ingest_opts o = spec->data;
    if (source)
        o.source = (char *)source;
    o.fold_column = spec->cv.fold_column;
    o.group_column = spec->cv.group_column;
    o.order_column = spec->cv.order_column;
    o.task_hint = hf_spec_task_hint(spec);
    hf_source_opts so = {.s3 = &spec->s3, .audit_path = audit_path, .rank = hf_comm_rank(world)};
    int result = hf_ingest(world, &o, shard_dir, &so,
                           spec->data.skip_bad_rows ? rejects_path : NULL, manifest, reused);
    /* Shards without a target (describe's, hf_ingest_opts.no_target) are never a run's: their
     * identity differs, and this refuses them should one be read anyway. */
    if (result >= 0 && !(*manifest)->schema->target) {
        result = hf_error(HF_EDATA, "%s: the shards have no target, expected data.target \"%s\"",
                          shard_dir, spec->data.target ? spec->data.target : "");
        hf_manifest_free(*manifest);
        *manifest = NULL;
    }
    result = hf_comm_check(world, result);
    /* shards.local_dir: each node's copy, which hf_pipeline_prepare then loads. */
    if (result >= 0 && spec->data.local_dir &&
        (result = hf_shards_local_sync(world, shard_dir, *manifest, spec->data.local_dir)) < 0) {
        hf_manifest_free(*manifest);
        *manifest = NULL;
    }
    return result;
}

int hf_pipeline_etl(hf_comm *world, const hf_spec *spec, const char *audit_path, int quiet)
{
    const hf_etl_opts *o = &spec->data.etl;
    if (!o->source)
        return HF_OK;
    hf_source_opts so = {.s3 = &spec->s3, .audit_path = audit_path, .rank = hf_comm_rank(world)};
    hf_etl_summary sum;
    double t0 = hf_now();
    int result = hf_etl_run(world, o, &so, NULL, 0, &sum);
    if (result < 0)
        return hf_error_prefix(result, "data.etl");
    if (hf_comm_rank(world) == 0 && !quiet) {
        char *shown = hf_source_display(o->source);
        hf_info("data.etl: %zu members of %s into %s: %zu written, %zu unchanged (%.2fs)",
                sum.members, shown ? shown : "data.etl.source", o->dest, sum.uploaded,
                sum.unchanged, hf_now() - t0);
        free(shown);
    }
    return HF_OK;
}

/* parallel.data_parallel: this group rank's block of the table's rows (hf_group_row_block) read
 * from the shards (hf_shards_load_range), in a dataset of all n_rows rows whose X holds only the
 * block: the other rows' part of X is reserved address space that is never written, so it takes no
 * memory (the allocation is page-backed: hf_malloc_large), and every row keeps its global index,
 * which is all the folds and the worker need (worker/task.c reads only the rows of its block). The
 * per-row columns the folds and the scores need (target, row ids, fold, group and order columns;
 * 8 bytes each per row, against 8 per cell for X) are gathered whole from the group's blocks.
 * Collective over the group. */
static int load_block(const char *shard_dir, const hf_manifest *m, const hf_group *g,
                      hf_dataset **out)
{
    hf_comm *c = hf_group_comm(g);
    const uint64_t n = (uint64_t)hf_manifest_n_rows(m);
    uint64_t first, count;
    hf_group_row_block(n, hf_comm_size(c), hf_comm_rank(c), &first, &count);
    hf_dataset *b = NULL, *d = hf_calloc(1, sizeof *d);
    int result =
        d ? hf_shards_load_range(shard_dir, m, (int64_t)first, (int64_t)count, &b) : HF_ENOMEM;
    if (result >= 0 && b->n_rows != count)
        result = hf_error(HF_EDATA, "%s: rows %llu..%llu: read %zu rows, expected %llu", shard_dir,
                          (unsigned long long)first, (unsigned long long)(first + count), b->n_rows,
                          (unsigned long long)count);
    const size_t p = result >= 0 ? b->schema->n_features : 0;
    if (result >= 0) {
        d->schema = b->schema;
        b->schema = NULL;
        d->n_rows = (size_t)n;
        d->id = hf_dataset_new_id();
        d->X = hf_malloc_large((n ? n : 1) * (p ? p : 1) * sizeof *d->X);
        if (!d->X)
            result = HF_ENOMEM;
        else
            memcpy(d->X + first * p, b->X, count * p * sizeof *d->X);
    }
    /* The per-row columns: every rank's block, concatenated in group-rank order (the order of the
     * blocks), each block broadcast by its rank (hf_comm_bcast sends in chunks: a column of more
     * than 2^28 rows is past what one gather can count). */
    struct {
        void *mine, **all;
        int present;
    } col[5] = {{b ? b->y : NULL, (void **)&d->y, 1},
                {b ? b->row : NULL, (void **)&d->row, 1},
                {b ? b->fold : NULL, (void **)&d->fold, b && b->fold},
                {b ? b->group : NULL, (void **)&d->group, b && b->group},
                {b ? b->order : NULL, (void **)&d->order, b && b->order}};
    result = hf_comm_check(c, result);
    const int size = hf_comm_size(c), me = hf_comm_rank(c);
    for (size_t k = 0; k < 5 && result >= 0; k++) {
        if (!col[k].present) /* the same on every rank: the columns of the schema */
            continue;
        char *all = hf_malloc((n ? n : 1) * 8);
        if ((result = hf_comm_check(c, all ? HF_OK : HF_ENOMEM)) < 0) {
            free(all);
            break;
        }
        *col[k].all = all;
        for (int r = 0; r < size && result >= 0; r++) {
            uint64_t f, cnt;
            hf_group_row_block(n, size, r, &f, &cnt);
            if (r == me)
                memcpy(all + f * 8, col[k].mine, cnt * 8);
            result = hf_comm_bcast(c, all + f * 8, cnt * 8, r);
        }
        result = hf_comm_check(c, result);
    }
    hf_dataset_free(b);
    if (result < 0) {
        hf_dataset_free(d);
        return result;
    }
    *out = d;
    return HF_OK;
}

int hf_pipeline_rowset_hash(const hf_group *g, const hf_dataset *d, const int64_t *rows, size_t n,
                            uint64_t *out)
{
    if (!out)
        return hf_comm_check(hf_group_comm(g), HF_ENOMEM);
    if (!hf_group_data_parallel(g)) {
        hf_rowset_hash(d, rows, n, out);
        return HF_OK;
    }
    hf_comm *c = hf_group_comm(g);
    uint64_t first, count;
    hf_group_row_block(d->n_rows, hf_comm_size(c), hf_comm_rank(c), &first, &count);
    for (size_t i = 0; i < n; i++) {
        const uint64_t r = (uint64_t)rows[i];
        out[i] = 0;
        if (r >= first && r < first + count)
            hf_rowset_hash(d, rows + i, 1, out + i);
    }
    int result = hf_comm_check(c, HF_OK);
    /* Wrapping unsigned addition through the int64 sum: one non-zero term per row. */
    return result < 0 ? result : hf_comm_allreduce_sum_i64(c, (int64_t *)out, n);
}

int hf_pipeline_plan_data_parallel(const hf_spec *spec, const hf_manifest *m, hf_group *group)
{
    const hf_schema *s = hf_manifest_schema(m);
    const uint64_t table = (uint64_t)hf_manifest_n_rows(m) * (s->n_features + 1) * sizeof(double);
    hf_group_set_data_parallel(group, hf_parallel_data_parallel(&spec->parallel, table));
    return hf_group_data_parallel(group);
}

static void release_window(void *ctx)
{
    hf_comm_shared_free(ctx);
}

/* The table of every row, one copy per node (parallel.shared_table, docs/scaling.md): the node's
 * first rank reads the shards into a window of shared memory and every rank of the node points
 * its dataset into it; hf_dataset_free gives the window back (collective over the node). Without
 * a node communicator, with parallel.shared_table false or when the window cannot be had, each
 * rank loads its own copy (one line says so). Collective over the node's ranks. */
static int load_table(const hf_spec *spec, const char *dir, const hf_manifest *m, hf_dataset **out)
{
    hf_comm *node = hf_comm_node();
    *out = NULL;
    if (!node || !spec->parallel.shared_table) {
        if (node && hf_comm_rank(node) == 0 && hf_comm_size(node) > 1)
            hf_info("parallel.shared_table is false: each of this node's %d ranks loads its own "
                    "copy of the table",
                    hf_comm_size(node));
        return hf_shards_load(dir, m, out);
    }
    int leader = hf_comm_rank(node) == 0;
    size_t bytes = 0;
    int result = leader ? hf_shards_table_bytes(dir, m, 0, m->n_rows, &bytes) : HF_OK;
    HF_CALL(hf_comm_check(node, result));
    hf_comm_shared *win = NULL;
    void *base = NULL;
    if ((result = hf_comm_shared_alloc(node, bytes, &win, &base)) < 0) {
        if (leader)
            hf_info("no shared window for the table (%s): each of this node's %d ranks loads its "
                    "own copy",
                    hf_error_message(), hf_comm_size(node));
        hf_error_clear();
        return hf_shards_load(dir, m, out);
    }
    bytes = hf_comm_shared_size(win);
    result =
        hf_shards_load_into(dir, m, 0, m->n_rows, base, bytes, leader, release_window, win, out);
    /* The others read the window only after the leader's writes are visible to them. Every rank
     * of the node takes part in the sync (a barrier), also one whose load failed: the failure is
     * agreed just after. */
    int synced = hf_comm_shared_sync(win);
    if (result >= 0)
        result = synced;
    if ((result = hf_comm_check(node, result)) >= 0 && leader && hf_comm_size(node) > 1)
        hf_info("the table: %.1f %s, one copy shared by this node's %d ranks",
                bytes < (1 << 20) ? (double)bytes / 1024 : (double)bytes / (1 << 20),
                bytes < (1 << 20) ? "KiB" : "MiB", hf_comm_size(node));
    if (result < 0) {
        if (*out)
            hf_dataset_free(*out); /* frees the window */
        else
            hf_comm_shared_free(win);
        *out = NULL;
    }
    return result;
}

/* The splits, one copy per node beside a shared table: the node's first rank makes them (the
 * same on every rank: they depend on the table and the spec only) and copies their index arrays
 * into a shared window, the others point into it. They hold 4 int64 a row for k-fold (every row
 * is in one validation and k-1 training sets, and in the search rows). Collective over the node's
 * ranks when `table` lies in a shared window; otherwise every rank makes its own. */
static int make_folds(const hf_spec *spec, const hf_dataset *table, hf_folds **out)
{
    hf_comm *node = hf_comm_node();
    *out = NULL;
    if (!node || table->release != release_window)
        return hf_folds_make(&spec->cv, table, out);
    int leader = hf_comm_rank(node) == 0;
    hf_folds *f = NULL;
    int result = leader ? hf_folds_make(&spec->cv, table, &f) : HF_OK;
    HF_CALL(hf_comm_check(node, result));
    /* The shape: splits, strategy, rows of the search and the holdout, then each split's. */
    int64_t head[4] = {0};
    if (leader) {
        head[0] = (int64_t)f->n_splits;
        head[1] = (int64_t)f->strategy;
        head[2] = (int64_t)f->n_search;
        head[3] = f->holdout ? (int64_t)f->n_holdout : -1;
    }
    int64_t *shape = NULL;
    if ((result = hf_comm_bcast(node, head, sizeof head, 0)) >= 0 &&
        !(shape = hf_calloc((size_t)head[0] * 4 + 1, sizeof *shape)))
        result = HF_ENOMEM;
    for (size_t i = 0; leader && shape && i < f->n_splits; i++) {
        shape[4 * i] = (int64_t)f->splits[i].n_train;
        shape[4 * i + 1] = (int64_t)f->splits[i].n_valid;
        shape[4 * i + 2] = f->splits[i].repeat;
        shape[4 * i + 3] = f->splits[i].fold;
    }
    if ((result = hf_comm_check(node, result)) < 0 ||
        (result = hf_comm_bcast(node, shape, (size_t)head[0] * 4 * sizeof *shape, 0)) < 0) {
        free(shape);
        hf_folds_free(f);
        return result;
    }
    /* Every array at least one element, like hf_folds_make's. */
    size_t n_splits = (size_t)head[0], total = 0;
    for (size_t i = 0; i < n_splits; i++)
        total += (size_t)(shape[4 * i] ? shape[4 * i] : 1) +
                 (size_t)(shape[4 * i + 1] ? shape[4 * i + 1] : 1);
    total += (size_t)(head[2] ? head[2] : 1) + (size_t)(head[3] > 0 ? head[3] : 1);
    hf_comm_shared *win = NULL;
    int64_t *base = NULL;
    hf_folds *g = hf_calloc(1, sizeof *g);
    if (g && !(g->splits = hf_calloc(n_splits ? n_splits : 1, sizeof *g->splits)))
        result = HF_ENOMEM;
    result = hf_comm_check(node, g ? result : HF_ENOMEM);
    void *mem = NULL;
    if (result >= 0 && hf_comm_shared_alloc(node, total * sizeof *base, &win, &mem) < 0) {
        /* No window for them (the table had one): every rank keeps its own splits. */
        hf_error_clear();
        free(shape);
        free(g->splits);
        free(g);
        if (leader) {
            *out = f;
            return HF_OK;
        }
        return hf_folds_make(&spec->cv, table, out);
    }
    base = mem;
    if (result < 0) {
        free(shape);
        hf_folds_free(f);
        if (g)
            free(g->splits);
        free(g);
        return result;
    }
    /* The layout, the same on every rank; the leader copies its arrays in. */
    int64_t *at = base;
    g->n_splits = n_splits;
    g->strategy = (hf_cv_strategy)head[1];
    for (size_t i = 0; i < n_splits; i++) {
        hf_split *sp = &g->splits[i];
        sp->n_train = (size_t)shape[4 * i];
        sp->n_valid = (size_t)shape[4 * i + 1];
        sp->repeat = (int)shape[4 * i + 2];
        sp->fold = (int)shape[4 * i + 3];
        sp->train = at;
        at += sp->n_train ? sp->n_train : 1;
        sp->valid = at;
        at += sp->n_valid ? sp->n_valid : 1;
        if (leader) {
            memcpy(sp->train, f->splits[i].train, sp->n_train * sizeof *at);
            memcpy(sp->valid, f->splits[i].valid, sp->n_valid * sizeof *at);
        }
    }
    g->n_search = (size_t)head[2];
    g->search_rows = at;
    at += g->n_search ? g->n_search : 1;
    if (head[3] >= 0) {
        g->n_holdout = (size_t)head[3];
        g->holdout = at;
    }
    if (leader) {
        memcpy(g->search_rows, f->search_rows, g->n_search * sizeof *at);
        if (g->holdout)
            memcpy(g->holdout, f->holdout, g->n_holdout * sizeof *at);
    }
    free(shape);
    hf_folds_free(f);
    g->release = release_window;
    g->release_ctx = win;
    if ((result = hf_comm_check(node, hf_comm_shared_sync(win))) < 0) {
        hf_folds_free(g);
        return result;
    }
    *out = g;
    return HF_OK;
}

int hf_pipeline_prepare(hf_spec *spec, const char *shard_dir, const hf_manifest *manifest,
                        int no_folds, hf_job *job)
{
    return hf_pipeline_prepare_group(spec, shard_dir, manifest, no_folds, NULL, 0, job);
}

/* The trials of the job: expanded and decoded, or (by_index) only counted: grid and random
 * search for hf_job_trials_at, a study (TPE, Hyperband, BOHB, ASHA; batch-synchronous or
 * asynchronous) whose trials rank 0 proposes and sends with each task (coordinator/run.c). */
static int prepare_trials(hf_spec *spec, int by_index, hf_job *job)
{
    if (by_index &&
        (spec->search.strategy == HF_SEARCH_GRID || spec->search.strategy == HF_SEARCH_RANDOM))
        return hf_space_maker_new(&spec->space, &spec->search, spec->path, &job->maker,
                                  &job->n_trials);
    if (by_index &&
        (spec->search.strategy == HF_SEARCH_HYPERBAND || spec->search.strategy == HF_SEARCH_TPE ||
         spec->search.strategy == HF_SEARCH_ASHA))
        return hf_space_study_count(&spec->space, &spec->search, spec->path, &job->n_trials);
    HF_CALL(hf_spec_trials(spec, &job->trials, &job->n_trials));
    return hf_spec_decode_trials(spec, job->model, job->trials, job->n_trials, &job->configs);
}

int hf_job_trials_at(const hf_job *job, const int *ids, size_t n, const unsigned char *values,
                     hf_trial **trials, hf_trial_config **configs)
{
    size_t np = job->spec->space.n_params;
    int result = HF_OK;
    hf_trial *t = hf_trials_alloc(n, np);
    *trials = NULL;
    *configs = NULL;
    if (!t)
        return HF_ENOMEM;
    if (values) {
        for (size_t i = 0; i < n; i++)
            t[i].id = ids[i];
        result = hf_space_trials_unpack(&job->spec->space, values, n, t);
    }
    for (size_t i = 0; !values && i < n && result >= 0; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= job->n_trials)
            result = hf_error(HF_EINTERNAL, "trial %d of %zu", ids[i], job->n_trials);
        else if (job->maker)
            result = hf_space_trial_at(job->maker, (size_t)ids[i], &t[i]);
        else
            for (size_t k = 0; k < np && result >= 0; k++)
                result = hf_value_copy(&t[i].values[k], &job->trials[ids[i]].values[k]);
        t[i].id = ids[i];
    }
    if (result >= 0)
        result = hf_spec_decode_trials(job->spec, job->model, t, n, configs);
    if (result < 0) {
        hf_trials_free(t, n, np);
        return result;
    }
    *trials = t;
    return HF_OK;
}

int hf_pipeline_prepare_group(hf_spec *spec, const char *shard_dir, const hf_manifest *manifest,
                              int no_folds, const hf_group *group, int by_index, hf_job *job)
{
    int result = HF_OK;
    memset(job, 0, sizeof *job);
    job->spec = spec;
    job->model = hf_model_find(spec->model_type);
    if (!job->model)
        return hf_error(HF_EINVAL, "%s: model.type: unknown model \"%s\"", spec->path,
                        spec->model_type);
    char *local =
        spec->data.local_dir ? hf_shards_local_path(spec->data.local_dir, manifest) : NULL;
    if (spec->data.local_dir && !local)
        return HF_ENOMEM;
    /* parallel.data_parallel: this group rank's block of the rows (collective over the group);
     * otherwise the whole table, one copy per node (collective over the node's ranks). */
    const char *from = local ? local : shard_dir;
    result = hf_group_data_parallel(group) ? load_block(from, manifest, group, &job->data)
                                           : load_table(spec, from, manifest, &job->data);
    free(local);
    if (result < 0 || (result = hf_spec_resolve_task(spec, job->data->schema->task)) < 0 ||
        (result = hf_spec_check_data(spec, job->data->schema, job->data->y, job->data->n_rows)) <
            0 ||
        (!no_folds && (result = make_folds(spec, job->data, &job->folds)) < 0) ||
        (result = prepare_trials(spec, by_index, job)) < 0 ||
        (result = hf_objective_metrics(&spec->objective, &job->metrics, &job->n_metrics)) < 0)
        hf_job_free(job);
    return result;
}

void hf_job_free(hf_job *job)
{
    hf_trial_configs_free(job->configs, job->n_trials);
    if (job->trials)
        hf_trials_free(job->trials, job->n_trials, job->spec->space.n_params);
    hf_space_maker_free(job->maker);
    free(job->metrics);
    hf_folds_free(job->folds);
    hf_dataset_free(job->data);
    hf_spec *spec = job->spec;
    memset(job, 0, sizeof *job);
    job->spec = spec;
}

int hf_pipeline_check_world(hf_comm *world, const hf_parallel_opts *par)
{
    int g = par->ranks_per_task, size = hf_comm_size(world);
    char at[512];
    if (g > 1 && size % g != 0)
        return hf_error(HF_EINVAL,
                        "%s: parallel.ranks_per_task: got %d, expected a divisor of the number of "
                        "ranks (%d)",
                        hf_opt_where(&par->src, "parallel.ranks_per_task", at, sizeof at), g, size);
    return HF_OK;
}

int hf_pipeline_data_parallel(const hf_job *job, hf_group *group, int *on)
{
    const hf_parallel_opts *par = &job->spec->parallel;
    const hf_dataset *d = job->data;
    const uint64_t table = (uint64_t)d->n_rows * (d->schema->n_features + 1) * sizeof(double);
    char at[512], need[32], limit[32];
    hf_opt_where(&par->src, "parallel.data_parallel", at, sizeof at);
    *on = hf_parallel_data_parallel(par, table);
    hf_group_format_bytes(table, need, sizeof need);
    hf_group_format_bytes(par->memory_per_rank, limit, sizeof limit);
    if (!*on && job->model->data_parallel && par->memory_per_rank > 0 &&
        table > par->memory_per_rank)
        return hf_error(
            HF_EINVAL,
            "%s: parallel.memory_per_rank: one copy of the table (%zu rows x %zu "
            "features: %s) does not fit in %s per rank, expected "
            "parallel.data_parallel: true (or auto) with ranks_per_task >= %llu",
            at, d->n_rows, d->schema->n_features, need, limit,
            (unsigned long long)((table + par->memory_per_rank - 1) / par->memory_per_rank));
    if (*on && !job->model->data_parallel) {
        char names[256] = "";
        for (const hf_model_ops *const *m = hf_model_all(); *m; m++)
            if ((*m)->data_parallel)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         names[0] ? ", " : "", (*m)->name);
        return hf_error(HF_EINVAL,
                        "%s: parallel.data_parallel: not available with model.type %s, expected a "
                        "model that fits on row shards (%s)",
                        at, job->model->name, names);
    }
    hf_group_set_data_parallel(group, *on);
    return HF_OK;
}

/* Collective. With parallel.ranks_per_task > 1, splits the world into groups of that many
 * consecutive ranks and forms each group's BLACS grid once, for every task it will run. */
int hf_pipeline_groups(hf_comm *world, const hf_parallel_opts *par, hf_comm **group_comm,
                       hf_group **group)
{
    int g = par->ranks_per_task, rank = hf_comm_rank(world);
    *group_comm = NULL;
    *group = NULL;
    if (g <= 1)
        return HF_OK;
    HF_CALL(hf_pipeline_check_world(world, par)); /* the same answer on every rank */
    int result = hf_comm_split(world, rank / g, rank, group_comm);
    if (result >= 0)
        result =
            hf_group_create(*group_comm, par->grid_rows, par->grid_cols, par->block_size, group);
    if (result >= 0)
        hf_group_set_memory_limit(*group, par->memory_per_rank);
    return hf_comm_check(world, result);
}

int hf_pipeline_test_hooks(hf_task_hooks *hooks, int **fail_trials)
{
    memset(hooks, 0, sizeof *hooks);
    *fail_trials = NULL;
    const char *v = getenv("HF_TEST_FAIL_TRIALS");
    if (v && *v) {
        size_t n = 1;
        for (const char *p = v; *p; p++)
            n += *p == ',';
        int *t = hf_calloc(n, sizeof *t);
        if (!t)
            return HF_ENOMEM;
        size_t k = 0;
        while (*v && k < n) {
            char *end;
            long x = strtol(v, &end, 10);
            if (end == v)
                break;
            t[k++] = (int)x;
            v = *end == ',' ? end + 1 : end;
        }
        hooks->fail_trials = t;
        hooks->n_fail_trials = k;
        *fail_trials = t;
    }
    const char *d = getenv("HF_TEST_TASK_DELAY_MS");
    hooks->delay_ms = d ? strtol(d, NULL, 10) : 0;
    return HF_OK;
}
