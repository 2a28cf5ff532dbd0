/* task.c - runs one task: preprocessing fitted on the split's training rows, one model fit call for
 * the whole batch of trials, predictions on the validation rows, and every metric. */
#define _GNU_SOURCE /* qsort_r */
#include "worker/task.h"
#include "common/rng.h"
#include "common/hf.h"
#include "worker/dist.h"
#include "worker/metrics.h"
#include "worker/preprocess.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The failure tests' hooks (hf_task_hooks, docs/architecture.md). */
static int injected_failure(const hf_task_hooks *h, int trial)
{
    for (size_t i = 0; i < h->n_fail_trials; i++)
        if (h->fail_trials[i] == trial)
            return 1;
    return 0;
}

static int injected_failure(const hf_task_hooks *h, int trial);

/* The scheduler benchmarks' synthetic task (hf_task_hooks.task_seconds): sleeps its length (a
 * sleep, not a spin, so that 16 ranks on 2 cores measure the protocol rather than the contention
 * for cores) and scores every trial with its id; a trial of hooks.fail_trials fails. Every field
 * of a result is set (iterations and stop reasons from the trial id), so that the scheduler's
 * tests see each one travel. */
static void synthetic_task(const hf_task_hooks *h, const hf_task *task, hf_task_result *out)
{
    double s = (size_t)task->id < h->n_task_seconds ? h->task_seconds[task->id] : 0;
    if (s > 0) {
        struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < out->n_trials; i++) {
        hf_trial_result *t = &out->trials[i];
        t->fit_seconds = s / 3;
        if (injected_failure(h, t->trial)) {
            t->error = hf_strdup("injected failure (HF_TEST_FAIL_TRIALS)");
            continue;
        }
        t->ok = 1;
        t->n_iter = t->trial % 3 ? (double)(t->trial % 7) + 0.5 : 0;
        t->stop = t->trial % 3; /* HF_FIT_CONVERGED, _MAX_ITER, _STALLED */
        for (size_t m = 0; m < out->n_metrics; m++)
            t->scores[m] = (double)t->trial;
    }
}

static void injected_delay(const hf_task_hooks *h)
{
    if (h->delay_ms > 0) {
        struct timespec ts = {h->delay_ms / 1000, (h->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* A one-entry cache: the preprocessed training and validation matrices of the last (split,
 * preprocessing config) pair, reused by every batch that shares them. */
typedef struct prep_cache {
    int split;
    hf_prep_config cfg;
    int valid;
    hf_prep *prep;
    double *Xtr, *Xva, *ytr, *yva;
    double *yva_t; /* the validation targets transformed as ytr (target_transform), or NULL */
    size_t q;
    /* The rows the pipeline and the model are fitted on: the split's training rows, or with
     * preprocess.train_fraction < 1 a subsample of them (owned, in sub). */
    const int64_t *train;
    size_t n_train;
    int64_t *sub;
    /* parallel.data_parallel: the group ranks' shares. train/n_train (in sub) and the validation
     * rows lvalid[0..n_lvalid) (Xva, yva) are this rank's, within its block of the table; the
     * split's validation predictions are gathered over the group before scoring (yall: the
     * split's validation targets gathered the same way, nv_of[r]: group rank r's count). */
    int shard;
    int64_t *lvalid;
    size_t n_lvalid;
    double *yall;
    size_t *nv_of;
} prep_cache;

static void cache_clear(prep_cache *c)
{
    hf_prep_free(c->prep);
    free(c->Xtr);
    free(c->Xva);
    free(c->ytr);
    free(c->yva);
    free(c->yva_t);
    free(c->sub);
    free(c->lvalid);
    free(c->yall);
    free(c->nv_of);
    memset(c, 0, sizeof *c);
}

/* preprocess.train_fraction f < 1: ceil(f n) of the split's n training rows, the first of one
 * permutation per split (seeded by the split alone), in ascending order. So every trial with the
 * same fraction sees the same rows, and a smaller fraction's rows are a subset of a larger's (a
 * Hyperband promotion trains on the rows it had and more). */
#define TRAIN_FRACTION_SEED 0x7472616e66726163ULL /* "tranfrac" */
static int train_subsample(const hf_split *sp, int split, double f, int64_t **out, size_t *n)
{
    size_t m = (size_t)ceil(f * (double)sp->n_train);
    if (m < 1)
        m = 1;
    if (m > sp->n_train)
        m = sp->n_train;
    /* The permutation of the positions; the first m marked, then emitted in the split's order
     * (ascending): O(n), where sorting the chosen rows would be O(m log m) or worse. */
    int64_t *pos = hf_malloc((sp->n_train ? sp->n_train : 1) * sizeof *pos);
    int64_t *rows = hf_malloc((m ? m : 1) * sizeof *rows);
    unsigned char *keep = hf_calloc(sp->n_train ? sp->n_train : 1, 1);
    if (!pos || !rows || !keep) {
        free(pos);
        free(rows);
        free(keep);
        return HF_ENOMEM;
    }
    for (size_t i = 0; i < sp->n_train; i++)
        pos[i] = (int64_t)i;
    hf_rng r;
    hf_rng_init(&r, TRAIN_FRACTION_SEED, (uint64_t)split, 0);
    hf_rng_shuffle_i64(&r, pos, (int64_t)sp->n_train);
    for (size_t i = 0; i < m; i++)
        keep[pos[i]] = 1;
    for (size_t i = 0, k = 0; i < sp->n_train; i++)
        if (keep[i])
            rows[k++] = sp->train[i];
    free(pos);
    free(keep);
    *out = rows;
    *n = m;
    return HF_OK;
}

void hf_task_sweep_end(hf_task_ctx *ctx)
{
    if (ctx->resumable && ctx->model && ctx->model->sweep_end) {
        /* What the sweep's resumable fits spared (every rank: each keeps its own). */
        uint64_t counts[2] = {0, 0};
        ctx->model->sweep_end(counts);
        hf_info("%s: %llu fits continued earlier work (%llu %s not redone)", ctx->model->name,
                (unsigned long long)counts[0], (unsigned long long)counts[1],
                ctx->model->resource_param ? ctx->model->resource_param : "units");
    }
    ctx->resumable = 0;
}

void hf_task_ctx_release(hf_task_ctx *ctx)
{
    hf_task_sweep_end(ctx);
    if (ctx->cache) {
        cache_clear(ctx->cache);
        free(ctx->cache);
        ctx->cache = NULL;
    }
}

/* Trials in the order that puts those that may share one fit call next to each other: by
 * preprocessing, then by every model parameter but the shared one (when the model has none, each
 * trial is its own key), then by trial id. Sorting replaces comparing each trial with every
 * batch so far, which was quadratic in the trials (a 30,000-trial random search spent 20 s
 * batching). */
typedef struct share_order {
    const hf_model_ops *model;
    const hf_trial_config *trials;
} share_order;

static int share_key_cmp(const share_order *o, int a, int b)
{
    int c = hf_prep_config_cmp(&o->trials[a].prep, &o->trials[b].prep);
    if (c || !o->model->shared_param)
        return c ? c : (a > b) - (a < b);
    return hf_model_share_cmp(o->model, o->trials[a].model, o->trials[b].model);
}

static int order_cmp(const void *x, const void *y, void *arg)
{
    int a = *(const int *)x, b = *(const int *)y;
    int c = share_key_cmp(arg, a, b);
    return c ? c : (a > b) - (a < b);
}

/* Indices in the order of their keys in arg. */
static int key_cmp(const void *x, const void *y, void *arg)
{
    const int64_t *key = arg;
    int64_t a = key[*(const int *)x], b = key[*(const int *)y];
    return (a > b) - (a < b);
}

int hf_task_list_make(const hf_model_ops *model, const hf_trial_config *trials, size_t n_trials,
                      size_t n_splits, size_t max_batch, hf_task_list *out)
{
    int result = HF_OK;
    size_t nt = n_trials ? n_trials : 1, n_batches = 0, n_preps = 0;
    int *order = hf_malloc(nt * sizeof *order);       /* trials, batch by batch */
    size_t *first = hf_calloc(nt + 1, sizeof *first); /* batch (sorted) -> offset into order */
    int *leader = hf_malloc(nt * sizeof *leader);     /* batch (sorted) -> its first trial */
    int *prep_of = hf_malloc(nt * sizeof *prep_of);   /* batch (sorted) -> preprocessing group */
    int64_t *key = hf_malloc(nt * sizeof *key); /* group -> its first trial; batch -> sort key */
    int *emit = hf_malloc(nt * sizeof *emit);   /* batches in task order */
    memset(out, 0, sizeof *out);
    if (!order || !first || !leader || !prep_of || !key || !emit) {
        result = HF_ENOMEM;
        goto out;
    }
    /* Batches: runs of equal keys, cut every max_batch trials. A trial thus joins the first batch
     * of its kind that is not full, as a greedy pass in trial order would put it. */
    share_order so = {model, trials};
    for (size_t t = 0; t < n_trials; t++)
        order[t] = (int)t;
    qsort_r(order, n_trials, sizeof *order, order_cmp, &so);
    for (size_t i = 0; i < n_trials; i++) {
        int same_key = i > 0 && share_key_cmp(&so, order[i - 1], order[i]) == 0;
        if (!same_key || i - first[n_batches - 1] == max_batch) {
            first[n_batches] = i;
            leader[n_batches] = order[i];
            int same_prep = i > 0 && hf_prep_config_cmp(&trials[order[i - 1]].prep,
                                                        &trials[order[i]].prep) == 0;
            if (!same_prep)
                key[n_preps++] = order[i];
            else if (order[i] < key[n_preps - 1])
                key[n_preps - 1] = order[i];
            prep_of[n_batches++] = (int)n_preps - 1;
        }
    }
    first[n_batches] = n_trials;
    /* Task order: split-major; within a split, preprocessing groups in order of their first
     * trial, and in each the batches in order of their first trial; so batch ids follow the
     * trials, and consecutive tasks on a worker reuse its cached preprocessed matrices (worker/
     * task.c fits preprocessing once per split and configuration, not once per trial). */
    for (size_t b = 0; b < n_batches; b++)
        emit[b] = (int)b;
    int *rank_of = hf_malloc((n_preps ? n_preps : 1) * sizeof *rank_of);
    int *group_at = hf_malloc((n_preps ? n_preps : 1) * sizeof *group_at);
    if (!rank_of || !group_at) {
        free(rank_of);
        free(group_at);
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t g = 0; g < n_preps; g++)
        group_at[g] = (int)g;
    qsort_r(group_at, n_preps, sizeof *group_at, key_cmp, key); /* by their first trial */
    for (size_t g = 0; g < n_preps; g++)
        rank_of[group_at[g]] = (int)g;
    for (size_t b = 0; b < n_batches; b++) /* (group rank, first trial) */
        key[b] = (int64_t)rank_of[prep_of[b]] * (int64_t)nt + leader[b];
    qsort_r(emit, n_batches, sizeof *emit, key_cmp, key);
    free(rank_of);
    free(group_at);
    out->n_tasks = n_batches * n_splits;
    out->tasks = hf_calloc(out->n_tasks ? out->n_tasks : 1, sizeof *out->tasks);
    if (!out->tasks) {
        result = HF_ENOMEM;
        goto out;
    }
    size_t id = 0;
    for (size_t s = 0; s < n_splits; s++)
        for (size_t e = 0; e < n_batches; e++, id++) {
            size_t b = (size_t)emit[e], n = first[b + 1] - first[b];
            hf_task *task = &out->tasks[id];
            task->id = (int)id;
            task->split = (int)s;
            task->n_trials = n;
            task->trials = hf_malloc(n * sizeof *task->trials);
            if (!task->trials) {
                result = HF_ENOMEM;
                goto out;
            }
            memcpy(task->trials, order + first[b], n * sizeof *task->trials);
        }
out:
    if (result < 0)
        hf_task_list_free(out);
    free(order);
    free(first);
    free(leader);
    free(prep_of);
    free(key);
    free(emit);
    return result;
}

void hf_task_list_free(hf_task_list *l)
{
    if (!l->tasks)
        return;
    for (size_t i = 0; i < l->n_tasks; i++)
        free(l->tasks[i].trials);
    free(l->tasks);
    l->tasks = NULL;
    l->n_tasks = 0;
}

/* hf_fit_data.table for rows read in place: the table, whose targets a model may then read
 * (ridge's table shortcut), unless the fit's targets are not the table's (target_transform). */
static const hf_dataset *fit_table(const hf_dataset *d, int in_place, const hf_prep_config *cfg)
{
    return in_place && !cfg->target_log1p ? d : NULL;
}

static int gather_y(const hf_dataset *d, const int64_t *rows, size_t n, double **out)
{
    double *y = hf_malloc((n ? n : 1) * sizeof *y);
    if (!y)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        y[i] = d->y[rows[i]];
    *out = y;
    return HF_OK;
}

/* Not collective: the rows of rows[0..n) (ascending or not; their order kept) inside this group
 * rank's block of the table (hf_group_row_block), into a new array. */
static int shard_rows(const hf_group *g, size_t n_rows, const int64_t *rows, size_t n,
                      int64_t **out, size_t *n_out)
{
    uint64_t first, count;
    hf_group_row_block(n_rows, hf_group_grid(g)->size, hf_group_grid(g)->rank, &first, &count);
    int64_t *r = hf_malloc((n ? n : 1) * sizeof *r);
    if (!r)
        return HF_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((uint64_t)rows[i] >= first && (uint64_t)rows[i] < first + count)
            r[k++] = rows[i];
    *out = r;
    *n_out = k;
    return HF_OK;
}

/* Collective over g: the split's values gathered from the group ranks' shares. Each rank holds
 * `width` values for each of nl rows (its validation rows: the ascending split rows within its
 * block), in `k` blocks of nl x width; all receives k blocks of nv x width, the rows in the split's
 * order, which is the order of the blocks (ascending rows, blocks in group-rank order). nv_of[r]
 * is group rank r's count. Every rank gets the same bits. */
static int gather_shares(const hf_group *g, const double *mine, size_t nl, size_t k, size_t width,
                         const size_t *nv_of, size_t nv, double *all)
{
    hf_comm *c = hf_group_comm(g);
    const int size = hf_comm_size(c);
    char *buf = NULL;
    size_t *lens = NULL;
    int result = hf_comm_allgather_blob(c, mine, nl * k * width * sizeof *mine, &buf, &lens);
    if (result < 0)
        return result;
    size_t off = 0, row0 = 0;
    for (int r = 0; r < size && result >= 0; r++) {
        if (lens[r] != nv_of[r] * k * width * sizeof *mine) {
            result = hf_error(HF_EINTERNAL,
                              "data_parallel: group rank %d sent %zu bytes of "
                              "validation values, expected %zu",
                              r, lens[r], nv_of[r] * k * width * sizeof *mine);
            break;
        }
        for (size_t t = 0; t < k; t++) {
            const size_t bytes = nv_of[r] * width * sizeof *mine;
            memcpy(all + (t * nv + row0) * width, buf + off, bytes);
            off += bytes;
        }
        row0 += nv_of[r];
    }
    free(buf);
    free(lens);
    return result;
}

/* Data-parallel part of cache_fill: this rank's training and validation rows of the split, the
 * validation rows' count on every group rank, and the pipeline fitted on the shares (collective).
 */
static int cache_fill_shard(hf_task_ctx *ctx, const hf_split *sp, int split,
                            const hf_prep_config *cfg, prep_cache *c)
{
    const hf_group *g = ctx->group;
    const hf_dataset *d = ctx->data;
    const int size = hf_group_grid(g)->size;
    /* preprocess.train_fraction (Hyperband's budget without a model resource): the subsample is
     * drawn from the split's global training rows, as the single copy draws it, and each rank
     * keeps the part of it in its block. */
    int64_t *frac = NULL;
    size_t n_frac = sp->n_train;
    int result = cfg->train_fraction < 1
                     ? train_subsample(sp, split, cfg->train_fraction, &frac, &n_frac)
                     : HF_OK;
    if (result >= 0)
        result = shard_rows(g, d->n_rows, frac ? frac : sp->train, n_frac, &c->sub, &c->n_train);
    if (result >= 0)
        result = shard_rows(g, d->n_rows, sp->valid, sp->n_valid, &c->lvalid, &c->n_lvalid);
    c->nv_of = hf_calloc((size_t)size, sizeof *c->nv_of);
    if (result >= 0 && !c->nv_of)
        result = HF_ENOMEM;
    for (int r = 0; r < size && result >= 0; r++) {
        uint64_t first, count;
        hf_group_row_block(d->n_rows, size, r, &first, &count);
        for (size_t j = 0; j < sp->n_valid; j++)
            c->nv_of[r] +=
                (uint64_t)sp->valid[j] >= first && (uint64_t)sp->valid[j] < first + count;
    }
    c->train = c->sub;
    c->shard = 1;
    /* the split's training rows in its order: target encoding's inner folds are drawn over them */
    if ((result = hf_dist_agree(g, result)) >= 0)
        result = hf_prep_fit_shard(cfg, d->schema, d->X, d->y, c->train, c->n_train,
                                   frac ? frac : sp->train, n_frac, g, &c->prep);
    free(frac);
    return result;
}

/* 1 if the task's validation rows are scored block by block (score_blocks): they are read in
 * place (no Xva, nor row shards) and every metric is a sum over rows (hf_metric_blocks). Then
 * neither their targets nor their predictions are held whole: the targets are read from the table
 * and the predictions of PREDICT_ROWS rows at a time are scored as they come. */
static int scores_in_blocks(const hf_task_ctx *ctx, const prep_cache *c)
{
    if (c->Xva || c->shard || !ctx->model->predict_many)
        return 0;
    for (size_t m = 0; m < ctx->n_metrics; m++)
        if (!hf_metric_blocks(hf_metric_find(ctx->metrics[m])))
            return 0;
    return 1;
}

/* 1 if the model reads the training targets from the table through the rows
 * (hf_model_ops.table_targets): rows read in place on one rank, the table's own targets. Then
 * c->ytr stays NULL. */
static int table_targets(const hf_task_ctx *ctx, const prep_cache *c, const hf_prep_config *cfg)
{
    return ctx->model->table_targets && !c->Xtr && !c->shard &&
           fit_table(ctx->data, 1, cfg) != NULL && !hf_dist_is_parallel(ctx->group);
}

static int cache_fill(hf_task_ctx *ctx, int split, const hf_prep_config *cfg, prep_cache **out)
{
    if (!ctx->cache) {
        ctx->cache = hf_calloc(1, sizeof(prep_cache));
        if (!ctx->cache)
            return HF_ENOMEM;
    }
    prep_cache *c = ctx->cache;
    *out = c;
    if (c->valid && c->split == split && hf_prep_config_equal(&c->cfg, cfg))
        return HF_OK;
    cache_clear(c);
    const hf_split *sp = &ctx->folds->splits[split];
    const hf_dataset *d = ctx->data;
    int result = HF_OK, agreed = 0;
    c->train = sp->train;
    c->n_train = sp->n_train;
    /* The validation rows this rank predicts: the split's, or its share of them. */
    const int64_t *valid = sp->valid;
    size_t n_valid = sp->n_valid;
    if (hf_group_data_parallel(ctx->group)) {
        if ((result = cache_fill_shard(ctx, sp, split, cfg, c)) < 0)
            goto out;
        valid = c->lvalid;
        n_valid = c->n_lvalid;
    } else {
        if (cfg->train_fraction < 1) {
            if ((result = train_subsample(sp, split, cfg->train_fraction, &c->sub, &c->n_train)) <
                0)
                goto out;
            c->train = c->sub;
        }
        result =
            hf_prep_fit_y(cfg, d->schema, d->X, d->y, c->train, c->n_train, ctx->group, &c->prep);
    }
    if (result < 0)
        goto out;
    c->q = hf_prep_n_outputs(c->prep);
    /* When preprocessing would only copy the training rows and the model reads rows in place,
     * no copy of them is made (Xtr stays NULL): the data is held once per rank. */
    int in_place = ctx->model->accepts_rows && hf_prep_is_copy(c->prep);
    /* Likewise the validation rows, predicted block by block (predict_chunk); a rank's share of
     * them is copied (data-parallel scoring gathers whole predictions). */
    int va_in_place = in_place && ctx->model->predict_many && !c->shard;
    if (!in_place)
        c->Xtr =
            hf_malloc_large((c->n_train ? c->n_train : 1) * (c->q ? c->q : 1) * sizeof(double));
    if (!va_in_place)
        c->Xva = hf_malloc_large((n_valid ? n_valid : 1) * (c->q ? c->q : 1) * sizeof(double));
    if ((!in_place && !c->Xtr) || (!va_in_place && !c->Xva)) {
        result = HF_ENOMEM;
        goto out;
    }
    if ((!in_place &&
         (result = hf_prep_transform_fit_rows(c->prep, d->X, c->train, c->n_train, c->Xtr)) < 0) ||
        (!va_in_place && (result = hf_prep_transform(c->prep, d->X, valid, n_valid, c->Xva)) < 0) ||
        (!table_targets(ctx, c, cfg) &&
         (result = gather_y(d, c->train, c->n_train, &c->ytr)) < 0) ||
        (!scores_in_blocks(ctx, c) && (result = gather_y(d, valid, n_valid, &c->yva)) < 0))
        goto out;
    /* The model learns the transformed target; scores compare predictions mapped back with the
     * target itself (yva), early stopping compares on the model's scale (yva_t). */
    if (cfg->target_log1p && ((result = hf_prep_target_forward(cfg, c->ytr, c->n_train)) < 0 ||
                              (result = gather_y(d, valid, n_valid, &c->yva_t)) < 0 ||
                              (result = hf_prep_target_forward(cfg, c->yva_t, n_valid)) < 0))
        goto out;
    /* Data-parallel: the split's validation targets, from the shares, for the scores. */
    if (c->shard) {
        if (!(c->yall = hf_malloc((sp->n_valid ? sp->n_valid : 1) * sizeof *c->yall)))
            result = HF_ENOMEM;
        result = hf_dist_agree(ctx->group, result);
        agreed = 1;
        if (result < 0 ||
            (result = hf_dist_agree(ctx->group, gather_shares(ctx->group, c->yva, n_valid, 1, 1,
                                                              c->nv_of, sp->n_valid, c->yall))) < 0)
            goto out;
    }
    c->split = split;
    c->cfg = *cfg;
    c->valid = 1;
out:
    /* Data-parallel: every group rank takes the same branch (a failure of one rank's share fails
     * the split on every rank), after exactly one agreement past cache_fill_shard: a rank that
     * failed on its own share agrees here, the others in the block above. */
    if (hf_group_data_parallel(ctx->group) && !agreed)
        result = hf_dist_agree(ctx->group, result);
    if (result < 0)
        cache_clear(c);
    return result;
}

/* Trials predicted together (predict_many) when scoring a task: as many as a batch
 * (coordinator/run.c), so that in-place validation rows are gathered once, while their
 * predictions take at most PREDICT_BYTES (fewer trials at a time for large validation sets). */
#define PREDICT_CHUNK 64
#define PREDICT_BYTES ((size_t)64 << 20)
/* Validation rows gathered per predict_many call when they are read in place. */
#define PREDICT_ROWS 1024

/* predict_many of models m[0..nc) on the split's validation rows into pred (model j's nv x n_out
 * block at pred + j * nv * n_out): on the cached copy Xva, or, when the rows are read in place
 * (no Xva), on blocks of them gathered from the table. */
static int predict_chunk(const hf_task_ctx *ctx, const prep_cache *c, const hf_split *sp,
                         hf_fitted *const *m, size_t nc, size_t n_out, double *pred)
{
    const hf_model_ops *model = ctx->model;
    const size_t nv = sp->n_valid, q = c->q;
    if (c->shard) {
        /* This rank's share of the validation rows, then every share gathered in row order. */
        const size_t nl = c->n_lvalid;
        double *mine = hf_malloc((nl ? nc * nl * n_out : 1) * sizeof *mine);
        int result = mine ? HF_OK : HF_ENOMEM;
        /* A model without predict_many (xgboost, random_forest) predicts one trial at a time;
         * on its own rows, so not collectively. */
        if (result >= 0 && nl && model->predict_many)
            result = model->predict_many(m, nc, c->Xva, nl, q, mine);
        for (size_t j = 0; j < nc && result >= 0 && nl && !model->predict_many; j++)
            result = model->predict(m[j], NULL, c->Xva, nl, q, mine + j * nl * n_out);
        if ((result = hf_dist_agree(ctx->group, result)) >= 0)
            result = gather_shares(ctx->group, mine, nl, nc, n_out, c->nv_of, nv, pred);
        free(mine);
        return result;
    }
    if (c->Xva)
        return model->predict_many(m, nc, c->Xva, nv, q, pred);
    const size_t rb = nv < PREDICT_ROWS ? nv : PREDICT_ROWS;
    double *buf = hf_malloc((rb ? rb * q : 1) * sizeof *buf);
    double *tmp = hf_malloc((rb ? nc * rb * n_out : 1) * sizeof *tmp);
    int result = buf && tmp ? HF_OK : HF_ENOMEM;
    for (size_t r0 = 0; r0 < nv && result >= 0; r0 += rb) {
        const size_t b = nv - r0 < rb ? nv - r0 : rb;
        /* The pipeline is a copy of the training rows (hf_prep_is_copy), but a validation row may
         * still hold a missing value: the transform copies and imputes it with the statistics
         * fitted on the training rows. */
        result = hf_prep_transform(c->prep, ctx->data->X, sp->valid + r0, b, buf);
        if (result >= 0)
            result = model->predict_many(m, nc, buf, b, q, tmp);
        for (size_t j = 0; j < nc && result >= 0; j++)
            memcpy(pred + (j * nv + r0) * n_out, tmp + j * b * n_out, b * n_out * sizeof *pred);
    }
    free(buf);
    free(tmp);
    return result;
}

/* A failure of the machine, not of the trial (out of memory, I/O, MPI): the task fails, and a
 * rerun runs it again. A trial failure (a singular matrix, a bad combination) is journaled as the
 * trial's result and stays. */
static int environmental(int code)
{
    return code == HF_ENOMEM || code == HF_EIO || code == HF_EMPI;
}

/* Trial j's first failure (code, its message) in score_blocks. */
static void block_fail(int *st, char **err, size_t j, int code)
{
    if (st[j] < 0)
        return;
    st[j] = code;
    err[j] = hf_strdup(hf_error_message());
    hf_error_clear();
}

/* Scores trials res[0..k) (models m[0..k)) on the split's validation rows read in place
 * (scores_in_blocks), PREDICT_ROWS at a time: a block's targets read from the table, its rows
 * transformed and predicted by one predict_many call per `chunk` trials, as predict_chunk makes
 * them, and added to one accumulator per trial and metric (hf_metric_acc). So the scores have the
 * bits of whole prediction arrays, and the rank holds O(PREDICT_ROWS) values instead of the split's
 * targets and `chunk` predictions per validation row. A trial keeps the message of its first
 * failure, a prediction's before a metric's, as with whole arrays. Returns an environmental
 * failure; anything else is the trial's. */
static int score_blocks(const hf_task_ctx *ctx, const prep_cache *c, const hf_split *sp,
                        hf_fitted *const *m, hf_trial_result *res, size_t k, size_t chunk,
                        size_t n_classes)
{
    const size_t nv = sp->n_valid, q = c->q, nm = ctx->n_metrics, n_out = n_classes ? n_classes : 1;
    const size_t rb = nv < PREDICT_ROWS ? nv : PREDICT_ROWS, n_chunks = (k + chunk - 1) / chunk;
    double *buf = hf_malloc((rb * q > 0 ? rb * q : 1) * sizeof *buf);
    double *tmp = hf_malloc((rb ? chunk * rb * n_out : 1) * sizeof *tmp);
    double *yb = hf_malloc((rb ? rb : 1) * sizeof *yb);
    hf_metric_acc *acc = hf_calloc(k * nm > 0 ? k * nm : 1, sizeof *acc);
    char **err = hf_calloc(k ? k : 1, sizeof *err);
    int *st = hf_calloc(k ? k : 1, sizeof *st),
        *cst = hf_calloc(n_chunks ? n_chunks : 1, sizeof *cst);
    int result = buf && tmp && yb && acc && err && st && cst ? HF_OK : HF_ENOMEM;
    for (size_t i = 0; i < k * nm && result >= 0; i++) {
        int rc = hf_metric_acc_init(&acc[i], hf_metric_find(ctx->metrics[i % nm]), n_classes);
        if (environmental(rc))
            result = rc;
        else if (rc < 0)
            block_fail(st, err, i / nm, rc);
    }
    /* First pass: the targets (checked; r2's mean). */
    for (size_t r0 = 0; r0 < nv && result >= 0; r0 += rb) {
        const size_t b = nv - r0 < rb ? nv - r0 : rb;
        for (size_t i = 0; i < b; i++)
            yb[i] = ctx->data->y[sp->valid[r0 + i]];
        for (size_t i = 0; i < k * nm; i++) {
            int rc = st[i / nm] < 0 ? HF_OK : hf_metric_acc_targets(&acc[i], yb, b);
            if (rc < 0)
                block_fail(st, err, i / nm, rc);
        }
    }
    /* Second pass: the predictions, block by block. A chunk whose prediction fails fails its
     * trials (cst); the pipeline's transform failing fails them all. */
    for (size_t r0 = 0; r0 < nv && result >= 0; r0 += rb) {
        const size_t b = nv - r0 < rb ? nv - r0 : rb;
        for (size_t i = 0; i < b; i++)
            yb[i] = ctx->data->y[sp->valid[r0 + i]];
        /* The pipeline is a copy of the training rows (hf_prep_is_copy), but a validation row may
         * still hold a missing value: the transform copies and imputes it with the statistics
         * fitted on the training rows. */
        int trc = hf_prep_transform(c->prep, ctx->data->X, sp->valid + r0, b, buf);
        for (size_t ci = 0; ci < n_chunks && result >= 0; ci++) {
            const size_t c0 = ci * chunk, nc = k - c0 < chunk ? k - c0 : chunk;
            if (cst[ci] < 0)
                continue;
            int prc = trc >= 0 ? ctx->model->predict_many(m + c0, nc, buf, b, q, tmp) : trc;
            if (environmental(prc)) {
                result = prc;
                break;
            }
            if (prc < 0) {
                cst[ci] = prc;
                for (size_t j = c0; j < c0 + nc; j++) {
                    free(err[j]);
                    err[j] = hf_strdup(hf_error_message());
                }
                if (trc >= 0) /* a failed transform keeps its message for the other chunks */
                    hf_error_clear();
                continue;
            }
            for (size_t j = 0; j < nc; j++) {
                double *pj = tmp + j * b * n_out;
                if (st[c0 + j] < 0)
                    continue;
                if (n_classes == 0)
                    hf_prep_target_inverse(&c->cfg, pj, b);
                for (size_t mi = 0; mi < nm && st[c0 + j] >= 0; mi++) {
                    int rc = hf_metric_acc_add(&acc[(c0 + j) * nm + mi], yb, pj, b);
                    if (rc < 0)
                        block_fail(st, err, c0 + j, rc);
                }
            }
        }
        if (trc < 0)
            hf_error_clear();
    }
    /* The scores; the trials' status. */
    for (size_t j = 0; j < k && result >= 0; j++) {
        hf_trial_result *r = &res[j];
        int status = cst[j / chunk] < 0 ? cst[j / chunk] : st[j];
        for (size_t mi = 0; mi < nm && status >= 0; mi++) {
            status = hf_metric_acc_finish(&acc[j * nm + mi], &r->scores[mi]);
            if (status >= 0 && !isfinite(r->scores[mi]))
                status = hf_error(HF_ENUM, "%s is %g", ctx->metrics[mi], r->scores[mi]);
            if (status < 0) {
                err[j] = hf_strdup(hf_error_message());
                hf_error_clear();
            }
        }
        if (environmental(status)) {
            result = status;
            break;
        }
        r->ok = status >= 0;
        if (status < 0) {
            r->error = err[j];
            err[j] = NULL;
        }
    }
    for (size_t i = 0; acc && i < k * nm; i++)
        hf_metric_acc_free(&acc[i]);
    for (size_t j = 0; err && j < k; j++)
        free(err[j]);
    free(buf);
    free(tmp);
    free(yb);
    free(acc);
    free(err);
    free(st);
    free(cst);
    return result;
}

/* Fits and scores trials[0..k) of the task together; on failure, fails them all with the
 * message. */
static int fit_and_score(hf_task_ctx *ctx, prep_cache *c, const hf_split *sp,
                         const hf_value *const *mvals, hf_trial_result *res, size_t k)
{
    const hf_model_ops *model = ctx->model;
    size_t n_classes =
        ctx->data->schema->task == HF_TASK_CLASSIFICATION ? ctx->data->schema->n_classes : 0;
    hf_fit_data fd = {.X = c->Xtr ? c->Xtr : ctx->data->X,
                      .rows = c->Xtr ? NULL : c->train,
                      .table = c->shard ? NULL : fit_table(ctx->data, !c->Xtr, &c->cfg),
                      .n = c->n_train,
                      .p = c->q,
                      .y = c->ytr,
                      .n_classes = n_classes,
                      .group = ctx->group,
                      .X_valid = c->Xva,
                      .y_valid = c->yva_t ? c->yva_t : c->yva,
                      .n_valid = c->Xva ? (c->shard ? c->n_lvalid : sp->n_valid) : 0,
                      .metric = ctx->n_metrics ? ctx->metrics[0] : NULL,
                      .row_shard = c->shard,
                      .categorical = hf_prep_output_categorical(c->prep),
                      .resumable = ctx->resumable};
    hf_fitted **fitted = hf_calloc(k, sizeof *fitted);
    size_t n_out = n_classes ? n_classes : 1;
    const size_t nv = sp->n_valid, per_trial = (nv ? nv : 1) * n_out * sizeof(double);
    size_t chunk = k < PREDICT_CHUNK ? k : PREDICT_CHUNK;
    if (chunk * per_trial > PREDICT_BYTES)
        chunk = PREDICT_BYTES / per_trial ? PREDICT_BYTES / per_trial : 1;
    /* The whole predictions of `chunk` trials, unless scored in blocks; allocated after the fit
     * (so that the fit's own buffers and these are not held at once), except with row shards,
     * where the group agrees on an allocation failure before the collective fit. */
    const int blocks = scores_in_blocks(ctx, c);
    const size_t pred_n = (nv ? nv : 1) * n_out * chunk;
    double *pred = NULL;
    int result = !fitted ? HF_ENOMEM : HF_OK;
    if (c->shard) {
        if (result >= 0 && !(pred = hf_malloc(pred_n * sizeof *pred)))
            result = HF_ENOMEM;
        result = hf_dist_agree(ctx->group, result);
    }
    if (result < 0)
        goto out;
    double t0 = hf_now();
    for (size_t i = 0; i < k; i++)
        if (injected_failure(&ctx->hooks, res[i].trial)) {
            result = hf_error(HF_ENUM, "injected failure (HF_TEST_FAIL_TRIALS) in trial %d",
                              res[i].trial);
            goto out;
        }
    result = model->fit(&fd, mvals, k, fitted);
    /* A model predicts n_out columns per row: one value, or one probability per class. */
    for (size_t i = 0; i < k && result >= 0; i++)
        if (!fitted[i] || fitted[i]->n_outputs != n_out)
            result = hf_error(HF_EINTERNAL, "model %s: fitted %zu outputs per row, expected %zu",
                              model->name, fitted[i] ? fitted[i]->n_outputs : 0, n_out);
    double fit_s = (hf_now() - t0) / (double)k;
    if (result >= 0 && blocks) {
        for (size_t i = 0; i < k; i++) {
            res[i].fit_seconds = fit_s;
            res[i].n_iter = fitted[i]->n_iter;
            res[i].stop = fitted[i]->stop;
        }
        result = score_blocks(ctx, c, sp, fitted, res, k, chunk, n_classes);
        if (result >= 0)
            hf_error_clear();
        goto out;
    }
    if (result >= 0 && !pred && !(pred = hf_malloc(pred_n * sizeof *pred)))
        result = HF_ENOMEM;
    /* Predictions chunk by chunk of trials (one predict_many call each when the model has it, and
     * every share gathered with row shards), then every metric of every trial. */
    const int by_chunk = model->predict_many || c->shard;
    for (size_t c0 = 0; c0 < k && result >= 0; c0 += chunk) {
        const size_t nc = k - c0 < chunk ? k - c0 : chunk;
        int prc = HF_OK;
        if (by_chunk)
            prc = predict_chunk(ctx, c, sp, fitted + c0, nc, n_out, pred);
        for (size_t j = 0; j < nc; j++) {
            hf_trial_result *r = &res[c0 + j];
            double *pj = pred + j * nv * n_out;
            r->fit_seconds = fit_s;
            r->n_iter = fitted[c0 + j]->n_iter;
            r->stop = fitted[c0 + j]->stop;
            int trial_status =
                by_chunk ? prc : model->predict(fitted[c0 + j], ctx->group, c->Xva, nv, c->q, pj);
            if (trial_status >= 0 && n_classes == 0)
                hf_prep_target_inverse(&c->cfg, pj, nv);
            for (size_t m = 0; m < ctx->n_metrics && trial_status >= 0; m++) {
                const hf_metric *metric = hf_metric_find(ctx->metrics[m]);
                trial_status = hf_metric_compute(metric, c->shard ? c->yall : c->yva, pj, nv,
                                                 n_classes, &r->scores[m]);
                if (trial_status >= 0 && !isfinite(r->scores[m]))
                    trial_status = hf_error(HF_ENUM, "%s is %g", ctx->metrics[m], r->scores[m]);
            }
            if (environmental(trial_status)) {
                /* Not the trial's fault: the task fails and runs again on a rerun, instead of
                 * a failed trial in the journal that every rerun would keep. */
                result = trial_status;
                break;
            }
            if (trial_status < 0) {
                r->ok = 0;
                r->error = hf_strdup(hf_error_message());
                if (!by_chunk || prc >= 0)
                    hf_error_clear();
            } else {
                r->ok = 1;
            }
        }
        if (result >= 0)
            hf_error_clear();
    }
out:
    if (fitted)
        for (size_t i = 0; i < k; i++)
            hf_fitted_free(fitted[i]);
    free(fitted);
    free(pred);
    return result;
}

int hf_task_run(hf_task_ctx *ctx, const hf_task *task, hf_task_result *out)
{
    int result = HF_OK;
    size_t k = task->n_trials;
    const hf_value **mvals = NULL;
    double t_start = hf_now();
    injected_delay(&ctx->hooks);
    memset(out, 0, sizeof *out);
    out->task = task->id;
    out->split = task->split;
    out->n_trials = k;
    out->n_metrics = ctx->n_metrics;
    out->trials = hf_calloc(k, sizeof *out->trials);
    mvals = hf_calloc(k, sizeof *mvals);
    if (!out->trials || !mvals) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        hf_trial_result *r = &out->trials[i];
        r->trial = task->trials[i];
        r->scores = hf_malloc((ctx->n_metrics ? ctx->n_metrics : 1) * sizeof *r->scores);
        if (!r->scores) {
            result = HF_ENOMEM;
            goto out;
        }
        for (size_t m = 0; m < ctx->n_metrics; m++)
            r->scores[m] = NAN;
        if (!ctx->hooks.task_seconds)
            mvals[i] = task->configs ? task->configs[i].model : ctx->trials[r->trial].model;
    }
    if (ctx->hooks.task_seconds) {
        synthetic_task(&ctx->hooks, task, out);
        goto out;
    }

    prep_cache *c = NULL;
    const hf_split *sp = &ctx->folds->splits[task->split];
    if ((result =
             cache_fill(ctx, task->split,
                        task->configs ? &task->configs[0].prep : &ctx->trials[task->trials[0]].prep,
                        &c)) < 0) {
        if (environmental(result))
            goto out;
        /* Preprocessing itself failed for this split: every trial of the batch fails. */
        for (size_t i = 0; i < k; i++) {
            out->trials[i].ok = 0;
            out->trials[i].error = hf_strdup(hf_error_message());
        }
        hf_error_clear();
        result = HF_OK;
        goto out;
    }
    result = fit_and_score(ctx, c, sp, mvals, out->trials, k);
    if (environmental(result))
        goto out;
    if (result < 0 && k > 1) {
        /* The batch failed as a whole: fit its trials one at a time to isolate the failure. */
        hf_error_clear();
        result = HF_OK;
        for (size_t i = 0; i < k; i++) {
            int trial_status = fit_and_score(ctx, c, sp, &mvals[i], &out->trials[i], 1);
            if (environmental(trial_status)) {
                result = trial_status;
                goto out;
            }
            if (trial_status < 0) {
                out->trials[i].ok = 0;
                free(out->trials[i].error);
                out->trials[i].error = hf_strdup(hf_error_message());
                hf_error_clear();
            }
        }
    } else if (result < 0) {
        out->trials[0].ok = 0;
        out->trials[0].error = hf_strdup(hf_error_message());
        hf_error_clear();
        result = HF_OK;
    }
out:
    out->seconds = hf_now() - t_start;
    free(mvals);
    return result;
}

void hf_task_result_free(hf_task_result *r)
{
    if (!r->trials)
        return;
    for (size_t i = 0; i < r->n_trials; i++) {
        free(r->trials[i].error);
        free(r->trials[i].scores);
    }
    free(r->trials);
    r->trials = NULL;
}

/* A NaN or infinite score is written as null. */
static json_t *score_json(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

char *hf_task_result_to_json(const hf_task_result *r, const char *const *metrics, size_t n_metrics)
{
    json_t *o = json_object();
    json_t *arr = json_array();
    json_object_set_new(o, "task", json_integer(r->task));
    json_object_set_new(o, "split", json_integer(r->split));
    json_object_set_new(o, "worker", json_integer(r->worker));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    for (size_t i = 0; i < r->n_trials; i++) {
        const hf_trial_result *t = &r->trials[i];
        json_t *jt = json_object();
        json_object_set_new(jt, "trial", json_integer(t->trial));
        json_object_set_new(jt, "status", json_string(t->ok ? "ok" : "failed"));
        if (!t->ok && t->error)
            json_object_set_new(jt, "error", json_string(t->error));
        json_t *sc = json_object();
        for (size_t m = 0; m < n_metrics; m++)
            json_object_set_new(sc, metrics[m], score_json(t->scores[m]));
        json_object_set_new(jt, "scores", sc);
        json_object_set_new(jt, "fit_seconds", json_real(t->fit_seconds));
        if (t->ok && (t->n_iter > 0 || t->stop != HF_FIT_CONVERGED)) {
            json_object_set_new(jt, "n_iter", json_real(t->n_iter));
            json_object_set_new(jt, "stop", json_string(hf_fit_stop_name(t->stop)));
        }
        json_array_append_new(arr, jt);
    }
    json_object_set_new(o, "trials", arr);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!s)
        hf_error(HF_ENOMEM, "out of memory encoding a task result");
    return s;
}

/* An integer member that fits an int, as hf_task_result_to_json writes it: a missing or other
 * value must not decode as 0 (the journal replay would credit the line to task 0 or trial 0),
 * nor a larger one wrap around. */
static int int_member(json_t *o, const char *key, int *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < INT_MIN || json_integer_value(v) > INT_MAX)
        return hf_error(HF_EDATA, "malformed task result: \"%s\" is missing or not an int", key);
    *out = (int)json_integer_value(v);
    return HF_OK;
}

int hf_task_result_from_json(const char *text, const char *const *metrics, size_t n_metrics,
                             hf_task_result *out)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    json_t *o = json_loads(text, 0, &jerr);
    int result = HF_OK;
    if (!o || !json_is_object(o)) {
        result = hf_error(HF_EDATA, "malformed task result: %s", o ? "not an object" : jerr.text);
        goto out;
    }
    json_t *arr = json_object_get(o, "trials");
    if (!json_is_array(arr)) {
        result = hf_error(HF_EDATA, "malformed task result: no trials");
        goto out;
    }
    if ((result = int_member(o, "task", &out->task)) < 0 ||
        (result = int_member(o, "split", &out->split)) < 0 ||
        (result = int_member(o, "worker", &out->worker)) < 0)
        goto out;
    out->seconds = json_real_value(json_object_get(o, "seconds"));
    out->n_trials = json_array_size(arr);
    out->n_metrics = n_metrics;
    out->trials = hf_calloc(out->n_trials ? out->n_trials : 1, sizeof *out->trials);
    if (!out->trials) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < out->n_trials; i++) {
        json_t *jt = json_array_get(arr, i);
        hf_trial_result *t = &out->trials[i];
        const char *status = json_string_value(json_object_get(jt, "status"));
        if ((result = int_member(jt, "trial", &t->trial)) < 0)
            goto out;
        if (!status || (strcmp(status, "ok") != 0 && strcmp(status, "failed") != 0)) {
            result = hf_error(HF_EDATA,
                              "malformed task result: trial %d has no status ok or "
                              "failed",
                              t->trial);
            goto out;
        }
        t->ok = strcmp(status, "ok") == 0;
        const char *err = json_string_value(json_object_get(jt, "error"));
        if (err && !(t->error = hf_strdup(err))) {
            result = HF_ENOMEM;
            goto out;
        }
        t->fit_seconds = json_real_value(json_object_get(jt, "fit_seconds"));
        t->n_iter = json_number_value(json_object_get(jt, "n_iter"));
        const char *stop = json_string_value(json_object_get(jt, "stop"));
        t->stop = !stop                       ? HF_FIT_CONVERGED
                  : !strcmp(stop, "max_iter") ? HF_FIT_MAX_ITER
                  : !strcmp(stop, "stalled")  ? HF_FIT_STALLED
                                              : HF_FIT_CONVERGED;
        t->scores = hf_malloc((n_metrics ? n_metrics : 1) * sizeof *t->scores);
        if (!t->scores) {
            result = HF_ENOMEM;
            goto out;
        }
        json_t *sc = json_object_get(jt, "scores");
        for (size_t m = 0; m < n_metrics; m++) {
            json_t *v = json_object_get(sc, metrics[m]);
            t->scores[m] = json_is_number(v) ? json_number_value(v) : NAN;
        }
    }
out:
    if (result < 0)
        hf_task_result_free(out);
    json_decref(o);
    return result;
}

int hf_refit_config(const hf_model_ops *model, const hf_trial_config *trial,
                    const double *split_iters, size_t n_splits, hf_trial_config *out,
                    hf_value **vals)
{
    *out = *trial;
    *vals = NULL;
    if (!model->refit_params)
        return HF_OK;
    hf_value *v = hf_malloc((model->n_params ? model->n_params : 1) * sizeof *v);
    if (!v)
        return HF_ENOMEM;
    int result = model->refit_params(trial->model, split_iters, n_splits, v);
    if (result < 0) {
        free(v);
        return result;
    }
    out->model = v;
    *vals = v;
    return HF_OK;
}

int hf_fit_pipeline(const hf_trial_config *trial, const hf_dataset *d, const hf_model_ops *model,
                    const int64_t *rows, size_t n, const hf_group *group, hf_prep **prep,
                    hf_fitted **fitted)
{
    int result = HF_OK;
    double *X = NULL, *y = NULL;
    int64_t *mine = NULL;
    *prep = NULL;
    *fitted = NULL;
    /* parallel.data_parallel: this rank fits its share of the rows (those in its block of the
     * table), the pipeline and the model combining the shares over the group. */
    const int shard = hf_group_data_parallel(group);
    if (shard) {
        const int64_t *all_rows = rows;
        const size_t n_all = n;
        result = hf_dist_agree(group, shard_rows(group, d->n_rows, rows, n, &mine, &n));
        if (result < 0)
            goto out;
        rows = mine;
        result = hf_prep_fit_shard(&trial->prep, d->schema, d->X, d->y, rows, n, all_rows, n_all,
                                   group, prep);
    } else {
        result = hf_prep_fit_y(&trial->prep, d->schema, d->X, d->y, rows, n, group, prep);
    }
    if (result < 0)
        goto out;
    size_t q = hf_prep_n_outputs(*prep);
    int in_place = model->accepts_rows && hf_prep_is_copy(*prep);
    if (!in_place) {
        X = hf_malloc((n ? n : 1) * (q ? q : 1) * sizeof *X);
        result = X ? hf_prep_transform_fit_rows(*prep, d->X, rows, n, X) : HF_ENOMEM;
    }
    if (result >= 0 && (result = gather_y(d, rows, n, &y)) >= 0)
        result = hf_prep_target_forward(&trial->prep, y, n);
    if (shard)
        result = hf_dist_agree(group, result);
    if (result < 0)
        goto out;
    hf_fit_data fd = {.X = in_place ? d->X : X,
                      .rows = in_place ? rows : NULL,
                      .table = shard ? NULL : fit_table(d, in_place, &trial->prep),
                      .row_shard = shard,
                      .n = n,
                      .p = q,
                      .y = y,
                      .n_classes =
                          d->schema->task == HF_TASK_CLASSIFICATION ? d->schema->n_classes : 0,
                      .group = group,
                      .categorical = hf_prep_output_categorical(*prep)};
    const hf_value *pv = trial->model;
    result = model->fit(&fd, &pv, 1, fitted);
out:
    if (result < 0) {
        hf_prep_free(*prep);
        *prep = NULL;
    }
    free(X);
    free(y);
    free(mine);
    return result;
}

/* Collective over g (parallel.data_parallel): the predictions of rows[0..n) (NULL: the first n
 * rows), each group rank predicting those in its block of the table (the only rows it holds) and
 * every rank receiving all of them, in the order of rows. */
static int predict_shard(const hf_prep *prep, const hf_fitted *fitted, const hf_group *g,
                         const hf_dataset *d, const int64_t *rows, size_t n, double *out)
{
    hf_comm *c = hf_group_comm(g);
    const int size = hf_comm_size(c), rank = hf_comm_rank(c);
    const size_t q = hf_prep_n_outputs(prep), no = fitted->n_outputs;
    int64_t *mine = hf_malloc((n ? n : 1) * sizeof *mine);
    int *owner = hf_malloc((n ? n : 1) * sizeof *owner);
    uint64_t *firsts = hf_malloc((size_t)size * sizeof *firsts);
    double *X = NULL, *pred = NULL;
    char *all = NULL;
    size_t *lens = NULL, nl = 0;
    int result = mine && owner && firsts ? HF_OK : HF_ENOMEM;
    for (int r = 0; r < size && result >= 0; r++) {
        uint64_t cnt;
        hf_group_row_block(d->n_rows, size, r, &firsts[r], &cnt);
    }
    /* The owner of each row: the last block that starts at or before it. */
    for (size_t i = 0; i < n && result >= 0; i++) {
        const uint64_t row = rows ? (uint64_t)rows[i] : i;
        int r = size - 1;
        while (r > 0 && firsts[r] > row)
            r--;
        owner[i] = r;
        if (r == rank)
            mine[nl++] = (int64_t)row;
    }
    if (result >= 0) {
        X = hf_malloc((nl ? nl : 1) * (q ? q : 1) * sizeof *X);
        pred = hf_malloc((nl ? nl : 1) * (no ? no : 1) * sizeof *pred);
        result = X && pred ? hf_prep_transform(prep, d->X, mine, nl, X) : HF_ENOMEM;
    }
    if (result >= 0 && nl)
        result = fitted->ops->predict(fitted, NULL, X, nl, q, pred);
    if ((result = hf_comm_check(c, result)) >= 0)
        result = hf_comm_allgather_blob(c, pred, nl * no * sizeof *pred, &all, &lens);
    if (result >= 0) {
        /* Rank r's predictions are those of its rows, in the order of rows. */
        size_t *at = hf_calloc((size_t)size, sizeof *at), off = 0;
        for (int r = 0; at && r < size; r++) {
            at[r] = off;
            off += lens[r];
        }
        for (size_t i = 0; at && i < n; i++) {
            memcpy(out + i * no, all + at[owner[i]], no * sizeof *out);
            at[owner[i]] += no * sizeof *out;
        }
        result = at ? HF_OK : HF_ENOMEM;
        free(at);
    }
    free(all);
    free(lens);
    free(mine);
    free(owner);
    free(firsts);
    free(X);
    free(pred);
    return result;
}

int hf_predict_pipeline(const hf_prep *prep, const hf_fitted *fitted, const hf_group *group,
                        const hf_dataset *d, const int64_t *rows, size_t n, double *out)
{
    if (hf_group_data_parallel(group)) {
        int result = predict_shard(prep, fitted, group, d, rows, n, out);
        if (result >= 0 && fitted->n_outputs == 1 && d->schema->task != HF_TASK_CLASSIFICATION)
            hf_prep_target_inverse(hf_prep_get_config(prep), out, n);
        return result;
    }
    size_t q = hf_prep_n_outputs(prep);
    double *X = hf_malloc((n ? n : 1) * (q ? q : 1) * sizeof *X);
    if (!X)
        return HF_ENOMEM;
    int result = hf_prep_transform(prep, d->X, rows, n, X);
    if (result >= 0)
        result = fitted->ops->predict(fitted, group, X, n, q, out);
    if (result >= 0 && fitted->n_outputs == 1 && d->schema->task != HF_TASK_CLASSIFICATION)
        hf_prep_target_inverse(hf_prep_get_config(prep), out, n);
    free(X);
    return result;
}
