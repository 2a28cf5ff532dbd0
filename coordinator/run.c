/* run.c - `hyperfold run`: ingest, sweep, select, refit, export. */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/drift.h"
#include "coordinator/modelfile.h"
#include "coordinator/journal.h"
#include "coordinator/oof.h"
#include "coordinator/report.h"
#include "coordinator/pipeline.h"
#include "coordinator/results.h"
#include "coordinator/rowset.h"
#include "coordinator/scheduler.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "jobs/prune.h"
#include "jobs/rundir.h"
#include "jobs/spec.h"
#include "shards/partition.h"
#include "shards/s3.h"
#include "worker/group.h"
#include "worker/metrics.h"
#include "worker/task.h"

#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

/* Trials that share work are fitted together, at most this many per task. Fixed (not derived from
 * the number of ranks) so that results never depend on it. */
#define MAX_BATCH 64

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

/* ---- progress ----------------------------------------------------------------------------- */

typedef struct run_state {
    const hf_spec *spec;
    json_t *profile; /* parallel.data_parallel: profile.json built from group 0's row blocks */
    hf_sweep sweep;
    hf_journal *journal;
    size_t n_tasks, done_at_start;
    double t_start, last_print;
    int quiet, tty;
    hf_task_list *tasks;
    unsigned char *done;
    /* The speculative refit (rank 0's worker thread, while the last tasks run elsewhere): of
     * trial spec_trial (-1: none), kept if that trial wins. */
    const hf_task_ctx *ctx;
    int spec_trial;
    hf_prep *spec_prep;
    hf_fitted *spec_fitted;
    const char *stopped;           /* TPE: the budget that ended the study early, or NULL */
    const unsigned char *eligible; /* Hyperband: hf_sweep.eligible */
    struct async_study *async;     /* an asynchronous study (ASHA, TPE mode async), or NULL */
    unsigned char *pruned;         /* search.pruner: [trial] stopped after its first splits */
    /* A grid or random sweep: the job, whose trials ranks other than 0 make by index
     * (hf_job.maker) for the task they run (materialise), and that task's trials. */
    const hf_job *job;
    hf_trial *task_trials;
    hf_trial_config *task_configs;
    size_t task_n;
    /* Hyperband, ASHA: which rank ran each (configuration, split), so that its promotion goes
     * there (hf_sched_opts.affinity: the kept booster is on that rank); NULL: none. */
    struct hf_sched_affinity *affinity;
    /* The progress line's counts, kept as results arrive and trials are pruned (count_result,
     * set_pruned) instead of walking trials x splits on every tick: splits_in[t] is how many of
     * trial t's splits have a result; over trials [0, counted): the complete (every split in,
     * or pruned), running and pruned trials and the best complete mean (hf_sweep_best_so_far).
     * counts_valid 0: recounted at the next line (first line, sweep.n_trials or eligible
     * changed). */
    uint32_t *splits_in;
    size_t counted, n_complete, n_running, n_pruned;
    double best;
    int counts_valid;
} run_state;

/* The progress line's class of trial t: 1 complete, 2 running, 4 pruned (complete too). */
static int trial_class(const run_state *st, size_t t)
{
    size_t k = st->splits_in[t], ns = st->sweep.n_splits;
    int pruned = st->pruned && st->pruned[t];
    return (k == ns || pruned) | (k > 0 && k < ns && !pruned) << 1 | pruned << 2;
}

static void count_class(run_state *st, int c, int add)
{
    st->n_complete = add ? st->n_complete + (c & 1) : st->n_complete - (c & 1);
    st->n_running = add ? st->n_running + (c >> 1 & 1) : st->n_running - (c >> 1 & 1);
    st->n_pruned = add ? st->n_pruned + (c >> 2 & 1) : st->n_pruned - (c >> 2 & 1);
}

/* Trial t, whose every split is now in: the best complete mean (hf_sweep_best_so_far's rule:
 * a candidate for the best, no failed split, a number). */
static void count_best(run_state *st, size_t t)
{
    const hf_sweep *s = &st->sweep;
    if ((s->eligible && !s->eligible[t]) || (s->pruned && s->pruned[t]))
        return;
    double loss = hf_sweep_trial_loss(s, t);
    if (isnan(loss))
        return;
    double mean = s->greater_is_better[0] ? -loss : loss;
    if (isnan(st->best) || (s->greater_is_better[0] ? mean > st->best : mean < st->best))
        st->best = mean;
}

/* Rank 0. Every count from the score table: at the first line and when what they count changed
 * under them. Without memory for splits_in the counts are made the same way at every line. */
static void count_all(run_state *st)
{
    const hf_sweep *s = &st->sweep;
    size_t n = s->n_trials, ns = s->n_splits;
    uint32_t *in = hf_realloc(st->splits_in, (n ? n : 1) * sizeof *in);
    if (!in)
        hf_error_clear(); /* a progress line fails nothing */
    else
        st->splits_in = in;
    st->counts_valid = 0;
    st->n_complete = st->n_running = st->n_pruned = 0;
    for (size_t t = 0; t < n; t++) {
        size_t k = 0;
        for (size_t f = 0; f < ns; f++)
            k += s->state[t * ns + f] != 0;
        int pruned = st->pruned && st->pruned[t]; /* finished: its last split is in */
        st->n_complete += k == ns || pruned;
        st->n_running += k > 0 && k < ns && !pruned;
        st->n_pruned += pruned != 0;
        if (in)
            in[t] = (uint32_t)k;
    }
    st->best = hf_sweep_best_so_far(s);
    st->counted = n;
    st->counts_valid = in != NULL;
}

/* Rank 0. A result credited to the score table (hf_sweep_add): its trials' counts. */
static void count_result(run_state *st, const hf_task_result *r)
{
    for (size_t i = 0; st->counts_valid && i < r->n_trials; i++) {
        size_t t = (size_t)r->trials[i].trial;
        if (t >= st->counted) {
            st->counts_valid = 0;
            break;
        }
        count_class(st, trial_class(st, t), 0);
        st->splits_in[t]++;
        count_class(st, trial_class(st, t), 1);
        if (st->splits_in[t] == st->sweep.n_splits)
            count_best(st, t);
    }
}

/* Rank 0. Trial t pruned (search.pruner), its counts moved. */
static void set_pruned(run_state *st, size_t t)
{
    int counted = st->counts_valid && t < st->counted;
    if (counted)
        count_class(st, trial_class(st, t), 0);
    st->pruned[t] = 1;
    if (counted)
        count_class(st, trial_class(st, t), 1);
    if (counted && st->splits_in[t] == st->sweep.n_splits)
        st->counts_valid = 0; /* it may have been the best */
}

static void print_progress(run_state *st, int final)
{
    if (st->quiet)
        return;
    double now = hf_now();
    if (!final && !st->tty && now - st->last_print < 5.0)
        return;
    st->last_print = now;
    size_t done = st->sweep.tasks_done;
    size_t new_done = done - st->done_at_start;
    double el = now - st->t_start;
    /* The last line of a study that ended (ran out or stopped by a budget): nothing is left. */
    double eta = final && !g_stop ? 0
                 : new_done       ? el / (double)new_done * (double)(st->n_tasks - done)
                                  : NAN;
    if (st->sweep.state && (!st->counts_valid || st->counted != st->sweep.n_trials))
        count_all(st);
    double best = st->sweep.state ? st->best : NAN;
    char bestbuf[64], etabuf[64];
    if (isnan(best))
        snprintf(bestbuf, sizeof bestbuf, "-");
    else
        snprintf(bestbuf, sizeof bestbuf, "%.6g", best);
    if (isnan(eta))
        snprintf(etabuf, sizeof etabuf, "?");
    else
        snprintf(etabuf, sizeof etabuf, "%.0fs", eta);
    char trials[128] = "";
    if (st->sweep.state) { /* every strategy: its trials done, running and pruned */
        if (st->pruned)
            snprintf(trials, sizeof trials, "trials %zu/%zu (%zu running, %zu pruned)  ",
                     st->n_complete, st->sweep.n_trials, st->n_running, st->n_pruned);
        else
            snprintf(trials, sizeof trials, "trials %zu/%zu (%zu running)  ", st->n_complete,
                     st->sweep.n_trials, st->n_running);
    }
    fprintf(stderr, "%s%stasks %zu/%zu  best %s %s  failed trials %zu  elapsed %.1fs  eta %s%s",
            st->tty ? "\r\033[K" : "hyperfold: ", trials, done, st->n_tasks, st->sweep.metrics[0],
            bestbuf, st->sweep.failed_trials, el, etabuf, st->tty && !final ? "" : "\n");
    fflush(stderr);
}

static void on_tick(void *arg)
{
    print_progress(arg, 0);
}

static int task_pruned(void *arg, int id);
static int prune_async(run_state *st);

static int on_result(void *arg, const hf_task_result *r, const char *json)
{
    run_state *st = arg;
    if (r->task < 0 || (size_t)r->task >= st->tasks->n_tasks)
        return hf_error(HF_EDATA, "result for unknown task %d", r->task);
    if (st->async && st->pruned && task_pruned(st, r->task)) {
        st->done[r->task] = 1; /* running when its trial was pruned: ignored, not journaled */
        return HF_OK;
    }
    HF_CALL(hf_sweep_add(&st->sweep, r));
    count_result(st, r);
    st->done[r->task] = 1;
    HF_CALL(hf_journal_append(st->journal, json));
    if (st->async && st->pruned)
        HF_CALL(prune_async(st));
    if (st->tty)
        print_progress(st, 0);
    return HF_OK;
}

/* Scheduler callbacks of the speculative refit. pick runs in the coordinator thread (which owns
 * the score table), speculate in rank 0's worker thread; the scheduler returns only after it. */
static int pick_leader(void *arg)
{
    run_state *st = arg;
    return hf_sweep_leader(&st->sweep);
}

static void speculate_refit(void *arg, int trial)
{
    run_state *st = arg;
    const hf_task_ctx *c = st->ctx;
    if (hf_fit_pipeline(&c->trials[trial], c->data, c->model, c->folds->search_rows,
                        c->folds->n_search, NULL, &st->spec_prep, &st->spec_fitted) < 0) {
        hf_error_clear(); /* the real refit will meet and report it */
        return;
    }
    st->spec_trial = trial;
}

/* 1 if a result reports exactly the trials of its task, in the task's order (as hf_task_run
 * writes them): a line with fewer would mark the task done and leave the other trials' scores on
 * that split missing for good. */
static int same_trials(const hf_task_result *r, const hf_task *t)
{
    if (r->n_trials != t->n_trials)
        return 0;
    for (size_t i = 0; i < t->n_trials; i++)
        if (r->trials[i].trial != t->trials[i])
            return 0;
    return 1;
}

/* Journal replay: a task line from an earlier, interrupted run. */
/* A journaled task result credited to the sweep, once checked against the task list. */
static int apply_journal_result(run_state *st, const hf_task_result *rp)
{
    const hf_task_result r = *rp;
    int result = HF_OK;
    if (r.task < 0 || (size_t)r.task >= st->tasks->n_tasks)
        result = hf_error(HF_EDATA, "journal names task %d of %zu", r.task, st->tasks->n_tasks);
    else if (st->done[r.task])
        result = hf_error(HF_EDATA, "journal holds task %d twice", r.task);
    else if (r.split != st->tasks->tasks[r.task].split)
        result = hf_error(HF_EDATA, "journal task %d is for split %d, expected %d", r.task, r.split,
                          st->tasks->tasks[r.task].split);
    else if (!same_trials(&r, &st->tasks->tasks[r.task]))
        result = hf_error(HF_EDATA, "journal task %d reports other trials than the %zu of the task",
                          r.task, st->tasks->tasks[r.task].n_trials);
    if (result >= 0)
        result = hf_sweep_add(&st->sweep, &r);
    if (result >= 0) {
        count_result(st, &r);
        st->done[r.task] = 1;
    }
    return result;
}

static int on_journal_line(void *arg, const char *line)
{
    run_state *st = arg;
    hf_task_result r;
    HF_CALL(hf_task_result_from_json(line, st->sweep.metrics, st->sweep.n_metrics, &r));
    int result = apply_journal_result(st, &r);
    hf_task_result_free(&r);
    return result;
}

/* Refit of the best trial on every search row, holdout scoring and model.h5. Called by every rank
 * of the refit group (collective over `group` when it is set: distributed models fit and predict
 * together); only the writer (rank 0) scores and writes, and receives the holdout's predictions
 * in *holdout_pred (n_holdout x n_outputs, the caller's; untouched without a holdout). */
static int refit_and_export(const hf_spec *spec, const hf_job *job, int b,
                            const hf_trial_config *cfg, const hf_group *group, const hf_sweep *s,
                            const hf_rundir *dir, const char *fingerprint, hf_run_info *info,
                            hf_prep **made_prep, hf_fitted **made_fitted, double **holdout_pred)
{
    const hf_dataset *data = job->data;
    const hf_folds *folds = job->folds;
    hf_prep *prep = NULL;
    hf_fitted *fitted = NULL;
    double *pred = NULL, *yh = NULL, *fold_scores = NULL;
    char *params = NULL;
    uint64_t *dp_hash = NULL;
    int result = HF_OK;
    if (made_prep && made_fitted) { /* already refitted (speculatively): taken over */
        prep = *made_prep;
        fitted = *made_fitted;
        *made_prep = NULL;
        *made_fitted = NULL;
    } else {
        result = hf_fit_pipeline(cfg, data, job->model, folds->search_rows, folds->n_search, group,
                                 &prep, &fitted);
    }
    if (result < 0) {
        hf_error_prefix(result, "refit of the best trial (%d) on all %zu rows", b, folds->n_search);
        goto out;
    }
    info->refit_valid = 1;
    info->refit_n_iter = fitted->n_iter;
    info->refit_stop = fitted->stop;
    if (s && fitted->stop != HF_FIT_CONVERGED)
        hf_warn("the refit of trial %d on all %zu search rows did not converge (%s after %.0f "
                "iterations): raise model.params.max_iter or scale the features "
                "(preprocess.scale: standard)",
                b, folds->n_search, hf_fit_stop_name(fitted->stop), fitted->n_iter);
    if (folds->n_holdout > 0) {
        size_t no = fitted->n_outputs;
        pred = hf_malloc(folds->n_holdout * no * sizeof *pred);
        yh = hf_malloc(folds->n_holdout * sizeof *yh);
        result = !pred || !yh ? HF_ENOMEM : HF_OK;
        /* With data_parallel the prediction is collective over the group: agree first. */
        if (hf_group_data_parallel(group))
            result = hf_comm_check(hf_group_comm(group), result);
        if (result < 0)
            goto out;
        if ((result = hf_predict_pipeline(prep, fitted, group, data, folds->holdout,
                                          folds->n_holdout, pred)) < 0)
            goto out;
    }
    /* parallel.data_parallel: each group rank holds only its block of the rows, so the training
     * rows' hashes (below) are taken together. */
    if (hf_group_data_parallel(group)) {
        dp_hash = hf_malloc((folds->n_search ? folds->n_search : 1) * sizeof *dp_hash);
        result = hf_pipeline_rowset_hash(group, data, folds->search_rows, folds->n_search, dp_hash);
        if (result < 0)
            goto out;
    }
    if (!s)
        goto out; /* a group member: the writer scores and exports */
    if (folds->n_holdout > 0) {
        for (size_t i = 0; i < folds->n_holdout; i++)
            yh[i] = data->y[folds->holdout[i]];
        size_t nc = data->schema->task == HF_TASK_CLASSIFICATION ? data->schema->n_classes : 0;
        for (size_t m = 0; m < s->n_metrics; m++) {
            int metric_status = hf_metric_compute(hf_metric_find(s->metrics[m]), yh, pred,
                                                  folds->n_holdout, nc, &info->holdout_scores[m]);
            if (metric_status < 0) {
                hf_warn("holdout %s: %s", s->metrics[m], hf_error_message());
                hf_error_clear();
                info->holdout_scores[m] = NAN;
            }
        }
        info->holdout_valid = 1;
        *holdout_pred = pred; /* the caller's: holdout.csv and its evaluation */
        pred = NULL;
    }
    fold_scores = hf_malloc((s->n_splits ? s->n_splits : 1) * sizeof *fold_scores);
    if (!fold_scores) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t f = 0; f < s->n_splits; f++)
        fold_scores[f] = s->scores[((size_t)b * s->n_splits + f) * s->n_metrics];
    params = hf_trial_params_json(&spec->space, &job->trials[b]);
    hf_modelfile_meta meta = {.spec_sha256 = spec->sha256,
                              .source_fingerprint = fingerprint,
                              .params_json = params ? params : "{}",
                              .metric = s->metrics[0],
                              .cv_score = s->mean[(size_t)b * s->n_metrics],
                              .cv_std = s->std[(size_t)b * s->n_metrics],
                              .fold_scores = fold_scores,
                              .n_folds = s->n_splits,
                              .n_train_rows = folds->n_search};
    result = hf_modelfile_write(dir->model, data->schema, prep, fitted, &meta);
    if (result >= 0) {
        /* The rows the model was trained on, for retrain's fair comparison (rowset.h). */
        uint64_t *h =
            dp_hash ? dp_hash : hf_malloc((folds->n_search ? folds->n_search : 1) * sizeof *h);
        if (!h)
            result = HF_ENOMEM;
        else {
            if (!dp_hash)
                hf_rowset_hash(data, folds->search_rows, folds->n_search, h);
            result = hf_rowset_write(dir->training_rows, h, folds->n_search);
        }
        if (!dp_hash)
            free(h);
    }
out:
    free(dp_hash);
    hf_prep_free(prep);
    hf_fitted_free(fitted);
    free(pred);
    free(yh);
    free(fold_scores);
    free(params);
    return result;
}

/* Rank 0. Uploads model.h5, results.json, trials.csv and, when the run wrote them, oof.csv,
 * holdout.csv, report.html and profile.json, with server-side encryption when asked, under `dest`:
 * <output.upload>/<name>/<run-id>/, a prefix of this session's own (jobs/rundir.h, made in
 * finish_run and recorded in results.json as "upload"), so that two jobs sharing output.upload,
 * or a rerun, never overwrite objects an earlier session uploaded. */
static int upload_outputs(const hf_output_opts *out, const char *dest, const hf_rundir *dir,
                          const hf_source_opts *opts, int quiet)
{
    const char *const files[] = {dir->model,   dir->results, dir->trials_csv, dir->oof,
                                 dir->holdout, dir->report,  dir->profile};
    const size_t n_required = 3;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (i >= n_required && access(files[i], F_OK) != 0)
            continue;
        const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
        char *uri = hf_asprintf("%s%s", dest, base);
        int result =
            uri ? hf_s3_upload_file(files[i], uri, opts, out->sse, out->kms_key_id) : HF_ENOMEM;
        if (result >= 0 && !quiet)
            hf_info("uploaded %s", uri);
        free(uri);
        if (result < 0)
            return hf_error_prefix(result, "output.upload");
    }
    return HF_OK;
}

static void usage_run(FILE *fp)
{
    fprintf(fp,
            "usage: mpirun -np N hyperfold run JOB.yaml [--fresh] [--quiet]\n"
            "\n"
            "Ingests the data into HDF5 shards, runs every (trial, split) task over the MPI\n"
            "ranks, selects the best trial, refits it and writes <output.dir>/<name>/:\n"
            "job.yaml, shards/, journal.jsonl, results.json, trials.csv, model.h5.\n"
            "A run directory with a journal of the same spec and data resumes where it stopped.\n"
            "\n"
            "  --fresh   discard an existing journal and start the sweep again\n"
            "  --quiet   no progress output\n"
            "\n"
            "Exit codes: 0 done, 1 failure, 2 bad input (spec, data), 3 interrupted by a signal\n"
            "(work so far is journaled: run the same command again to resume).\n");
}

/* Collective. The run directory: created and locked by rank 0 for the whole run (*lock_fd), the
 * journal removed with --fresh. The spec is copied in (job.yaml) only with the results it
 * produced (finish_run): a spec the journal refuses never replaces the run's job.yaml. */
static int prepare_run_dir(hf_comm *world, const hf_spec *spec, int fresh, hf_rundir *dir,
                           int *lock_fd)
{
    int result = hf_rundir_of(&spec->output, spec->name, dir);
    if (result >= 0 && hf_comm_rank(world) == 0) {
        result = hf_rundir_lock(dir, "hyperfold run", lock_fd);
        if (result >= 0 && fresh && hf_fs_exists(dir->journal) && unlink(dir->journal) != 0)
            result = hf_error(HF_EIO, "removing %s: %s", dir->journal, hf_strerror(errno));
    }
    return hf_comm_check(world, result);
}

/* Every rank. The task list, and the refusal, before anything runs, of a task that would not
 * fit in parallel.memory_per_rank. */
/* The refusal, before anything runs, of tasks of up to `batch` trials in one fit call that would
 * not fit in parallel.memory_per_rank. */
static int preflight(const hf_spec *spec, const hf_job *job, const hf_group *group, size_t batch)
{
    const hf_model_ops *model = job->model;
    if (!model->preflight)
        return HF_OK;
    /* Without parallel.memory_per_rank, the node's memory shared by its ranks is the limit: a
     * task that cannot fit is refused before the sweep instead of failing in it. */
    uint64_t limit = spec->parallel.memory_per_rank;
    int defaulted = limit == 0;
    if (defaulted)
        limit = hf_group_default_memory();
    /* With parallel.data_parallel a rank holds only its share of the rows. */
    size_t rows = job->folds->n_search;
    if (hf_group_data_parallel(group)) {
        size_t size = (size_t)hf_comm_size(hf_group_comm(group));
        rows = (rows + size - 1) / size;
    }
    int result = model->preflight(group, rows, job->data->schema->n_features, batch, limit);
    return result < 0 ? hf_error_prefix(result, "%s: parallel.memory_per_rank%s", spec->path,
                                        defaulted ? " (not set: this node's memory per rank)" : "")
                      : HF_OK;
}

/* Collective. The task list, made by the rank that holds the decoded trials (rank 0 of a grid
 * or random sweep, hf_job.maker elsewhere: their tasks are empty; every rank of a study), and
 * the preflight of its largest task on every rank. */
static int make_tasks(hf_comm *world, const hf_spec *spec, const hf_job *job, const hf_group *group,
                      hf_task_list *tasks)
{
    int result = HF_OK;
    uint64_t batch = 1;
    if (!job->maker)
        result = hf_task_list_make(job->model, job->configs, job->n_trials, job->folds->n_splits,
                                   MAX_BATCH, tasks);
    for (size_t t = 0; result >= 0 && t < tasks->n_tasks; t++)
        if (tasks->tasks[t].n_trials > batch)
            batch = tasks->tasks[t].n_trials;
    if ((result = hf_comm_check(world, result)) < 0 ||
        (result = hf_comm_bcast(world, &batch, sizeof batch, 0)) < 0)
        return result;
    /* Collective: the limit is per node (memory / ranks on it), so ranks can disagree. */
    return hf_comm_check(world, preflight(spec, job, group, (size_t)batch));
}

/* Collective. The sweep's table, and on rank 0 the journal, opened (or replayed: its tasks are
 * marked done). */
static int open_sweep(hf_comm *world, run_state *st, const hf_job *job, const hf_manifest *manifest,
                      const hf_rundir *dir)
{
    const hf_task_list *tasks = st->tasks;
    st->done = hf_calloc(tasks->n_tasks ? tasks->n_tasks : 1, 1);
    /* The score table is rank 0's; a rank of a grid or random sweep other than 0 holds none. */
    int result = !st->done    ? HF_ENOMEM
                 : job->maker ? HF_OK
                              : hf_sweep_init(&st->sweep, job->n_trials, job->folds->n_splits,
                                              job->metrics, job->n_metrics);
    if (result >= 0 && hf_comm_rank(world) == 0) {
        char sweep_id[65];
        result = hf_spec_sweep_id(st->spec, job->trials, job->n_trials, job->metrics,
                                  job->n_metrics, sweep_id);
        hf_journal_id jid = {.spec_sha256 = sweep_id,
                             .data_fingerprint = hf_manifest_fingerprint(manifest),
                             .n_tasks = tasks->n_tasks};
        if (result >= 0)
            result = hf_journal_open(dir->journal, &jid, on_journal_line, st, &st->journal);
        st->done_at_start = st->sweep.tasks_done;
        if (result >= 0 && !st->quiet) {
            if (st->done_at_start)
                hf_info("resuming: %zu of %zu tasks already done (journal %s)", st->done_at_start,
                        tasks->n_tasks, dir->journal);
            hf_info("%zu trials x %zu splits in %zu tasks (trials that share work are fitted "
                    "together) on %d rank(s)",
                    job->n_trials, job->folds->n_splits, tasks->n_tasks, hf_comm_size(world));
        }
    }
    return hf_comm_check(world, result);
}

/* A rank other than 0 of a grid or random sweep (hf_sched_opts.materialise): the trials of the
 * task it is given, made from their ids, until release_task. */
static int materialise_task(void *arg, hf_task *task, const unsigned char *values)
{
    (void)values;
    run_state *st = arg;
    HF_CALL(hf_job_trials_at(st->job, task->trials, task->n_trials, NULL, &st->task_trials,
                             &st->task_configs));
    st->task_n = task->n_trials;
    task->configs = st->task_configs;
    return HF_OK;
}

/* A rank other than 0 of a batch-synchronous study (hf_sched_opts.materialise): the task's
 * trials made from the values that came with it, until release_task. */
static int materialise_study_task(void *arg, hf_task *task, const unsigned char *values)
{
    run_state *st = arg;
    if (!values)
        return hf_error(HF_EINTERNAL, "task %d came without its trials' values", task->id);
    HF_CALL(hf_job_trials_at(st->job, task->trials, task->n_trials, values, &st->task_trials,
                             &st->task_configs));
    st->task_n = task->n_trials;
    task->configs = st->task_configs;
    return HF_OK;
}

/* Rank 0 of a batch-synchronous study (hf_sched_opts.pack): the values of a task's trials. */
static int pack_study_task(void *arg, const hf_task *task, unsigned char *out)
{
    const run_state *st = arg;
    const hf_trial *one[1];
    size_t np = st->spec->space.n_params;
    for (size_t i = 0; i < task->n_trials; i++) {
        one[0] = &st->job->trials[task->trials[i]];
        HF_CALL(hf_space_trials_pack(&st->spec->space, one, 1, out + i * HF_SPACE_PACKED(np)));
    }
    return HF_OK;
}

/* Rank 0 of a Hyperband or ASHA study (hf_sched_opts.affinity_key): the task's split and its
 * first trial's values but the budget, hashed (the key a promotion shares with its parent). */
static uint64_t affinity_key(void *arg, const hf_task *task)
{
    const run_state *st = arg;
    size_t np = st->spec->space.n_params;
    long r = hf_space_index(&st->spec->space, st->spec->search.resource);
    unsigned char *v = task->n_trials ? hf_malloc(HF_SPACE_PACKED(np)) : NULL;
    const hf_trial *one[1] = {task->n_trials ? &st->job->trials[task->trials[0]] : NULL};
    if (!v || hf_space_trials_pack(&st->spec->space, one, 1, v) < 0) {
        free(v);
        hf_error_clear();
        return 0;
    }
    if (r >= 0) { /* the budget's tag and value */
        v[r] = 0;
        memset(v + np + (size_t)r * sizeof(double), 0, sizeof(double));
    }
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)task->split;
    for (size_t i = 0; i < HF_SPACE_PACKED(np); i++)
        h = (h ^ v[i]) * 0x100000001b3ULL;
    free(v);
    return h;
}

static void release_task(void *arg, hf_task *task)
{
    run_state *st = arg;
    hf_trial_configs_free(st->task_configs, st->task_n);
    hf_trials_free(st->task_trials, st->task_n, st->spec->space.n_params);
    st->task_configs = NULL;
    st->task_trials = NULL;
    st->task_n = 0;
    task->configs = NULL;
}

/* Collective. A batch-synchronous study: rank 0 sends the values of trial `best` (the refit's and
 * the out-of-fold pass's); the other ranks, which hold none of the study's trials, make and
 * decode it into *trial, *config. Rank 0 keeps its own (*trial, *config NULL). */
static int best_from_rank0(hf_comm *world, const hf_job *job, int best, hf_trial **trial,
                           hf_trial_config **config)
{
    size_t np = job->spec->space.n_params, len = HF_SPACE_PACKED(np);
    unsigned char *values = hf_calloc(len + 1, 1);
    int result = values ? HF_OK : HF_ENOMEM;
    int rank = hf_comm_rank(world);
    if (result >= 0 && rank == 0) {
        const hf_trial *one[1] = {&job->trials[best]};
        result = hf_space_trials_pack(&job->spec->space, one, 1, values);
    }
    if ((result = hf_comm_check(world, result)) >= 0 &&
        (result = hf_comm_bcast(world, values, len, 0)) >= 0 && rank != 0)
        result = hf_job_trials_at(job, &best, 1, values, trial, config);
    free(values);
    return hf_comm_check(world, result);
}

/* Collective. Every task run over the ranks (rank 0 coordinates); the journal closed. */
static int run_sweep(hf_comm *world, run_state *st, hf_task_ctx *ctx, hf_comm *group_comm,
                     const hf_rundir *dir)
{
    int rank = hf_comm_rank(world);
    st->t_start = hf_now();
    st->last_print = st->t_start;
    st->ctx = ctx;
    st->spec_trial = -1;
    hf_sched_opts so = {.on_result = on_result,
                        .arg = st,
                        .on_tick = on_tick,
                        .stop = &g_stop,
                        .group = group_comm,
                        /* A model whose refit depends on every split's iterations (xgboost
                         * with early stopping) cannot be refitted before they are in. */
                        .pick = ctx->group || ctx->model->refit_params ? NULL : pick_leader,
                        .speculate = speculate_refit};
    if (st->job->maker || rank == 0) { /* grid, random: the list is rank 0's alone */
        const hf_search_strategy k = st->spec->search.strategy;
        if (k == HF_SEARCH_GRID || k == HF_SEARCH_RANDOM) {
            so.materialise = materialise_task;
            so.release = release_task;
        }
    }
    int result = hf_sched_run(world, ctx, st->tasks, st->done, &so);
    if (rank == 0) {
        int close_status = hf_journal_close(st->journal);
        st->journal = NULL;
        if (result >= 0)
            result = close_status;
        print_progress(st, 1);
    }
    if (result == HF_EINTR && rank == 0)
        hf_error(HF_EINTR,
                 "interrupted: %zu of %zu tasks done and journaled in %s; run the same command "
                 "again to resume",
                 st->sweep.tasks_done, st->tasks->n_tasks, dir->journal);
    else if (result < 0 && result != HF_EINTR && rank == 0) {          /* workers wait for tasks */
        fprintf(stderr, "hyperfold: error: %s\n", hf_error_message()); /* MPI_Abort exits */
        hf_comm_abort(world, hf_exit_code(result));
    }
    return result;
}

/* ---- TPE: batch-synchronous proposals ------------------------------------------------------
 *
 * search.strategy tpe runs the trials in batches of search.batch: rank 0 proposes the batch's
 * trials (jobs/search.c, deterministic) from the losses of the earlier batches; inside a batch,
 * the trials proposed before count as running (the constant liar). The batch's tasks are
 * appended to the task list and run like any sweep's; the next batch waits for them. So a study
 * depends on the spec only, never on the number of ranks, and its journal replays batch by
 * batch: each batch's proposals are journaled (journal_batch) and a resumed study reads them
 * back, then proposes the batches the journal lacks as the uninterrupted study did. */

/* The journal's lines, parsed once: task results, and the trial definitions of asynchronous
 * studies as their text (absorb_def parses them on rank 0). */
typedef struct journal_stash {
    const hf_sweep *sweep;   /* its metrics, to parse the lines */
    hf_task_result *results; /* line i's result (task lines) */
    char **defs;             /* line i's text (definition lines), else NULL */
    int *task;               /* each line's task id; -1 for a trial definition */
    size_t n, cap;
    unsigned char *used;
} journal_stash;

static int stash_line(void *arg, const char *line)
{
    journal_stash *js = arg;
    if (js->n == js->cap) {
        size_t cap = js->cap ? 2 * js->cap : 64;
        char **d = hf_realloc(js->defs, cap * sizeof *d);
        if (d)
            js->defs = d;
        hf_task_result *r = d ? hf_realloc(js->results, cap * sizeof *r) : NULL;
        if (r)
            js->results = r;
        int *t = r ? hf_realloc(js->task, cap * sizeof *t) : NULL;
        if (!t)
            return HF_ENOMEM;
        js->task = t;
        js->cap = cap;
    }
    size_t i = js->n;
    memset(&js->results[i], 0, sizeof js->results[i]);
    js->defs[i] = NULL;
    if (!strncmp(line, "{\"trial_def\":", 13) ||    /* an asynchronous study's trial, */
        !strncmp(line, "{\"trial_pruned\":", 16) || /* its pruning, */
        !strncmp(line, "{\"batch_def\":", 13)) {    /* a batch study's proposals */
        js->task[i] = -1;
        if (!(js->defs[i] = hf_strdup(line)))
            return HF_ENOMEM;
    } else {
        HF_CALL(hf_task_result_from_json(line, js->sweep->metrics, js->sweep->n_metrics,
                                         &js->results[i]));
        js->task[i] = js->results[i].task;
    }
    js->n++;
    return HF_OK;
}

static void stash_free(journal_stash *js)
{
    for (size_t i = 0; i < js->n; i++) {
        free(js->defs[i]);
        hf_task_result_free(&js->results[i]);
    }
    free(js->defs);
    free(js->results);
    free(js->task);
    free(js->used);
    memset(js, 0, sizeof *js);
}

/* Rank 0. Replays the stashed journal lines of tasks [from, to) (the batch just listed). */
static int replay_batch(run_state *st, journal_stash *js, size_t from, size_t to)
{
    if (!js->used && js->n && !(js->used = hf_calloc(js->n, 1)))
        return HF_ENOMEM;
    for (size_t i = 0; i < js->n; i++) {
        if (js->used[i] || js->task[i] < 0 || (size_t)js->task[i] < from ||
            (size_t)js->task[i] >= to)
            continue;
        HF_CALL(apply_journal_result(st, &js->results[i]));
        js->used[i] = 1;
    }
    return HF_OK;
}

/* Every rank. Appends `add` to `all`: its trial ids shifted by trial0, its task ids by the tasks
 * already there. */
static int append_tasks(hf_task_list *all, hf_task_list *add, int trial0)
{
    hf_task *t = hf_realloc(all->tasks, (all->n_tasks + add->n_tasks + 1) * sizeof *t);
    if (!t)
        return HF_ENOMEM;
    all->tasks = t;
    for (size_t i = 0; i < add->n_tasks; i++) {
        hf_task *a = &add->tasks[i];
        a->id += (int)all->n_tasks;
        for (size_t k = 0; k < a->n_trials; k++)
            a->trials[k] += trial0;
        all->tasks[all->n_tasks + i] = *a;
    }
    all->n_tasks += add->n_tasks;
    free(add->tasks); /* the trial arrays now belong to `all` */
    memset(add, 0, sizeof *add);
    return HF_OK;
}

/* Every rank. Decodes trials [lo, hi) of job->trials into job->configs (the decoded block kept
 * in *block until the run ends) and appends their tasks. */
/* Every rank. Appends the tasks of trials [lo, hi) (decoded) on splits [s0, s1): a trial with
 * pruned[t] set is left out of them (a task whose trials are all pruned is dropped). */
static int list_splits(hf_job *job, size_t lo, size_t hi, size_t s0, size_t s1,
                       const unsigned char *pruned, hf_task_list *tasks)
{
    hf_task_list batch = {0};
    HF_CALL(hf_task_list_make(job->model, job->configs + lo, hi - lo, job->folds->n_splits,
                              MAX_BATCH, &batch));
    size_t k = 0; /* keep the tasks of the range, in order, without the pruned trials */
    for (size_t i = 0; i < batch.n_tasks; i++) {
        hf_task *t = &batch.tasks[i];
        size_t m = 0;
        for (size_t j = 0; j < t->n_trials; j++)
            if (!pruned || !pruned[lo + (size_t)t->trials[j]])
                t->trials[m++] = t->trials[j];
        t->n_trials = m;
        if ((size_t)t->split < s0 || (size_t)t->split >= s1 || m == 0) {
            free(t->trials);
            continue;
        }
        t->id = (int)k;
        batch.tasks[k++] = *t;
    }
    batch.n_tasks = k;
    int result = append_tasks(tasks, &batch, (int)lo);
    hf_task_list_free(&batch);
    return result;
}

/* Every rank. Decodes trials [lo, hi) of job->trials into job->configs (the decoded block kept
 * in *block until the run ends). */
static int decode_batch(const hf_spec *spec, hf_job *job, size_t lo, size_t hi,
                        hf_trial_config **block)
{
    HF_CALL(hf_spec_decode_trials(spec, job->model, job->trials + lo, hi - lo, block));
    memcpy(job->configs + lo, *block, (hi - lo) * sizeof **block);
    return HF_OK;
}

static int list_batch(const hf_spec *spec, hf_job *job, size_t lo, size_t hi, hf_task_list *tasks,
                      hf_trial_config **block)
{
    HF_CALL(decode_batch(spec, job, lo, hi, block));
    return list_splits(job, lo, hi, 0, job->folds->n_splits, NULL, tasks);
}

/* Every rank. dst's values replaced by copies of src's. */
static int copy_values(const hf_space *space, hf_trial *dst, const hf_trial *src)
{
    for (size_t q = 0; q < space->n_params; q++) {
        hf_value_free(&dst->values[q]);
        HF_CALL(hf_value_copy(&dst->values[q], &src->values[q]));
    }
    return HF_OK;
}

/* Every rank. TPE: proposes trials [lo, hi) into job->trials (through `all`: the W warm-start
 * trials, then shallow copies of job->trials; loss likewise, [0, W + lo) known). */
static int tpe_batch(const hf_spec *spec, hf_trial *all, double *loss, size_t W, size_t lo,
                     size_t hi)
{
    for (size_t t = lo; t < hi; t++) {
        for (size_t k = lo; k < t; k++)
            loss[W + k] = INFINITY; /* proposed in this batch, not yet run */
        HF_CALL(hf_space_tpe_propose(&spec->space, &spec->search, all, loss, W + t, W + t));
    }
    return HF_OK;
}

/* Loss order for promotions: lower first, NaN (failed) last, then by trial. */
static const double *g_rung_loss;
static int cmp_rung(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = g_rung_loss[i], y = g_rung_loss[j];
    if (isnan(x) != isnan(y))
        return isnan(x) ? 1 : -1;
    if (!isnan(x) && x != y)
        return x < y ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* BOHB (Falkner et al. 2018): trial t, a new configuration of Hyperband or ASHA, proposed by TPE
 * (multivariate, Optuna's defaults) from the finished trials of the largest budget that has at
 * least BOHB_MIN of them; pending[0..n_pending) (configurations of the same batch proposed
 * before) count as running. Keeps t's random draw while no budget has enough. Every rank
 * computes the same. */
#define BOHB_MIN 10
static int bohb_propose(const hf_spec *spec, hf_trial *trials, const double *budget,
                        const double *loss, size_t n_known, const size_t *pending, size_t n_pending,
                        size_t t)
{
    double best_budget = NAN;
    for (size_t i = 0; i < n_known; i++) {
        if (isnan(loss[i]) || isinf(loss[i]) || (!isnan(best_budget) && budget[i] <= best_budget))
            continue;
        size_t k = 0;
        for (size_t j = 0; j < n_known; j++)
            k += budget[j] == budget[i] && !isnan(loss[j]) && !isinf(loss[j]);
        if (k >= BOHB_MIN)
            best_budget = budget[i];
    }
    if (isnan(best_budget))
        return HF_OK;
    hf_trial *obs = hf_malloc((n_known + n_pending + 1) * sizeof *obs);
    double *ls = hf_malloc((n_known + n_pending + 1) * sizeof *ls);
    if (!obs || !ls) {
        free(obs);
        free(ls);
        return HF_ENOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < n_known; i++)
        if (budget[i] == best_budget && !isinf(loss[i])) {
            obs[m] = trials[i]; /* shallow */
            ls[m++] = loss[i];
        }
    for (size_t i = 0; i < n_pending; i++) {
        obs[m] = trials[pending[i]];
        ls[m++] = INFINITY;
    }
    obs[m] = trials[t]; /* its values are trials[t]'s: the proposal lands there */
    hf_search_opts o = spec->search;
    o.n_startup_trials = 0;
    o.n_ei_candidates = 24;
    o.multivariate = 1;
    int result = hf_space_tpe_propose_keyed(&spec->space, &o, obs, ls, m, m, t);
    free(obs);
    free(ls);
    return result;
}

/* Every rank. Hyperband: rung r's trials. A first rung keeps its random draws; a later one holds
 * the best rungs[r].n trials of the rung before (by loss, ties to the lower trial), copied. Each
 * gets the rung's resource. */
static int hyperband_batch(const hf_spec *spec, hf_job *job, const double *loss,
                           const hf_rung *rungs, size_t r)
{
    const hf_rung *g = &rungs[r];
    long ri = hf_space_index(&spec->space, spec->search.resource);
    if (ri < 0)
        return hf_error(HF_EINTERNAL, "hyperband: no resource parameter");
    size_t *order = NULL;
    if (g->rung > 0) {
        const hf_rung *prev = &rungs[r - 1];
        order = hf_malloc(prev->n * sizeof *order);
        if (!order)
            return HF_ENOMEM;
        for (size_t k = 0; k < prev->n; k++)
            order[k] = prev->first + k;
        g_rung_loss = loss;
        qsort(order, prev->n, sizeof *order, cmp_rung);
    }
    int result = HF_OK;
    double *budget = NULL;
    size_t *pending = NULL;
    if (g->rung == 0 && spec->search.sampler_tpe) { /* BOHB: the budgets of the trials so far */
        budget = hf_malloc((g->first + 1) * sizeof *budget);
        pending = hf_malloc((g->n + 1) * sizeof *pending);
        if (!budget || !pending)
            result = HF_ENOMEM;
        for (size_t i = 0; budget && i < g->first; i++)
            budget[i] = hf_value_as_double(&job->trials[i].values[ri]);
    }
    for (size_t k = 0; k < g->n && result >= 0; k++) {
        hf_trial *t = &job->trials[g->first + k];
        if (order)
            result = copy_values(&spec->space, t, &job->trials[order[k]]);
        if (result >= 0 && budget && pending) {
            result =
                bohb_propose(spec, job->trials, budget, loss, g->first, pending, k, g->first + k);
            pending[k] = g->first + k;
        }
        if (result >= 0)
            result = hf_space_set_number(&spec->space, t, (size_t)ri, g->resource);
    }
    free(order);
    free(budget);
    free(pending);
    return result;
}

/* ---- a batch study's proposals in the journal ----------------------------------------------
 *
 * Rank 0 journals each batch of a TPE or Hyperband (BOHB) study when it has made it, before any
 * of its tasks: {"batch_def": b, "first": lo, "params": [{...}, ...]}, the hi - lo trials' values
 * as hf_trial_params_json writes them (numbers in %.17g, which strtod reads back to the same
 * double; integers, booleans, strings and choices by value). A resumed study takes a journaled
 * batch from that line instead of proposing it again, so it does not depend on the libm or the
 * binary that made the proposals; a batch the journal lacks (an older journal, or a crash
 * between the proposal and its line) is proposed as before. The sampler has no state between
 * proposals (trial t's random numbers come from hf_rng_init(search.seed, t, 1)), so proposing
 * only the later batches is exactly what the uninterrupted study does. */

/* Rank 0. The journal line of batch b's proposals, trials [lo, hi) of job->trials. */
static int journal_batch(run_state *st, const hf_spec *spec, const hf_job *job, size_t b, size_t lo,
                         size_t hi)
{
    size_t len = 0, cap = 256;
    char *line = hf_malloc(cap);
    int result = line ? HF_OK : HF_ENOMEM;
    if (line)
        len = (size_t)snprintf(line, cap, "{\"batch_def\":%zu,\"first\":%zu,\"params\":[", b, lo);
    for (size_t t = lo; t < hi && result >= 0; t++) {
        char *p = hf_trial_params_json(&spec->space, &job->trials[t]);
        size_t n = p ? strlen(p) : 0;
        if (!p) {
            result = HF_ENOMEM;
            break;
        }
        if (len + n + 4 > cap) {
            size_t c = 2 * cap > len + n + 4 ? 2 * cap : len + n + 4;
            char *l = hf_realloc(line, c);
            if (!l) {
                free(p);
                result = HF_ENOMEM;
                break;
            }
            line = l;
            cap = c;
        }
        if (t > lo)
            line[len++] = ',';
        memcpy(line + len, p, n);
        len += n;
        free(p);
    }
    if (result >= 0) {
        memcpy(line + len, "]}", 3);
        result = hf_journal_append(st->journal, line);
    }
    free(line);
    return result;
}

/* Rank 0. The journal lines of the study's proposals, by batch: at[b] is the stash index of batch
 * b's line, or SIZE_MAX where there is none. */
static int index_batches(const journal_stash *js, size_t n_batches, size_t *at)
{
    for (size_t b = 0; b < n_batches; b++)
        at[b] = SIZE_MAX;
    for (size_t i = 0; i < js->n; i++) {
        const char *line = js->defs[i];
        if (js->task[i] >= 0 || !line || strncmp(line, "{\"batch_def\":", 13) != 0)
            continue;
        char *end = NULL;
        errno = 0;
        unsigned long long b = strtoull(line + 13, &end, 10);
        if (errno || end == line + 13 || *end != ',' || line[13] == '-' || b >= n_batches)
            return hf_error(HF_EDATA,
                            "a batch's proposals of no batch of this study (%zu batches): %.120s",
                            n_batches, line);
        if (at[b] != SIZE_MAX)
            return hf_error(HF_EDATA, "the proposals of batch %llu are journaled twice", b);
        at[b] = i;
    }
    return HF_OK;
}

/* Rank 0. Batch b's proposals read from its journal line into trials [lo, hi) of job->trials:
 * every value inside its list or distribution (hf_space_trial_from_json), as the study proposed
 * them. */
static int absorb_batch(const hf_spec *spec, hf_job *job, const char *line, size_t b, size_t lo,
                        size_t hi)
{
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    json_t *first = json_object_get(o, "first"), *params = json_object_get(o, "params");
    int result = HF_OK;
    if (!json_is_integer(first) || json_integer_value(first) != (json_int_t)lo ||
        !json_is_array(params) || json_array_size(params) != hi - lo)
        result = hf_error(HF_EDATA,
                          "the proposals of batch %zu: expected \"first\": %zu and %zu trials' "
                          "\"params\", got %.120s",
                          b, lo, hi - lo, line);
    for (size_t t = lo; t < hi && result >= 0; t++) {
        char *p = json_dumps(json_array_get(params, t - lo), JSON_COMPACT);
        result = p ? hf_space_trial_from_json(&spec->space, p, &job->trials[t]) : HF_ENOMEM;
        free(p);
    }
    json_decref(o);
    return result < 0 ? hf_error_prefix(result, "the proposals of batch %zu", b) : result;
}

/* The study's identity with its warm start's content: sweep_id becomes the SHA-256 of the two. */
static int with_warm_start(char sweep_id[65], const char *warm_sha)
{
    char both[130];
    snprintf(both, sizeof both, "%s%s", sweep_id, warm_sha);
    return hf_sha256_hex(both, strlen(both), sweep_id);
}

/* Collective. search.warm_start: the earlier run's fitting trials and their losses, identical on
 * every rank (rank 0 reads the file). */
static int warm_start(hf_comm *world, const hf_spec *spec, const hf_job *job, int quiet,
                      hf_trial **trials, double **loss, size_t *n, char sha[65])
{
    sha[0] = '\0';
    const char *ws = spec->search.warm_start;
    char *path = NULL, *text = NULL;
    size_t len = 0, skipped = 0;
    int result = HF_OK;
    *trials = NULL;
    *loss = NULL;
    *n = 0;
    if (!ws)
        return HF_OK;
    if (hf_comm_rank(world) == 0) {
        struct stat sb;
        int is_dir = stat(ws, &sb) == 0 && S_ISDIR(sb.st_mode);
        path = hf_malloc(strlen(ws) + 16);
        if (path)
            snprintf(path, strlen(ws) + 16, "%s%s", ws, is_dir ? "/results.json" : "");
        result = path ? hf_fs_read_file(path, &text, &len) : HF_ENOMEM;
        if (result < 0)
            hf_error_prefix(result, "%s: search.warm_start", spec->path);
    }
    if ((result = hf_comm_check(world, result)) >= 0 &&
        (result = hf_comm_bcast_blob(world, &text, &len, 0)) >= 0)
        result =
            hf_comm_check(world, hf_space_warm_trials(&spec->space, text, ws, spec->model_type,
                                                      job->metrics[0], trials, loss, n, &skipped));
    /* The earlier run's content is part of the study's identity: a journal resumed against a
     * rewritten one would attach its scores to other proposals. */
    if (result >= 0)
        result = hf_sha256_hex(text, len, sha);
    if (result >= 0 && hf_comm_rank(world) == 0 && !quiet)
        hf_info("tpe: warm start from %s: %zu finished trial(s)%s", ws, *n,
                skipped ? " (some outside this space, left out)" : "");
    free(path);
    free(text);
    return result;
}

/* Collective unless sched_failed. The end of a study: rank 0 closes the journal and prints the
 * last progress line; every rank learns of rank 0's journal errors; an interruption is reported as
 * such; a failure of the scheduler, on which other ranks may still wait for tasks, aborts the job
 * (its message printed first: MPI_Abort exits). */
static int study_end(hf_comm *world, run_state *st, const hf_rundir *dir, int result,
                     int sched_failed)
{
    int rank = hf_comm_rank(world);
    if (rank == 0 && st->journal) {
        int close_status = hf_journal_close(st->journal);
        st->journal = NULL;
        if (result >= 0)
            result = close_status;
        print_progress(st, 1);
    }
    if (!sched_failed)
        result = hf_comm_check(world, result);
    if (result == HF_EINTR && rank == 0)
        hf_error(HF_EINTR,
                 "interrupted: %zu tasks done and journaled in %s; run the same command again "
                 "to resume",
                 st->sweep.tasks_done, dir->journal);
    else if (sched_failed && rank == 0) {
        fprintf(stderr, "hyperfold: error: %s\n", hf_error_message()); /* MPI_Abort exits */
        hf_comm_abort(world, hf_exit_code(result));
    }
    return result;
}

/* Rank 0. search.pruner: which trials of [lo, hi), finished on splits [0, n), stop there: those
 * that the best earlier trial (finished, not pruned, lowest loss) beats on the same splits
 * (jobs/prune.h). A trial with a failed split goes on (it fails anyway). */
static int prune_batch(run_state *st, const hf_spec *spec, size_t lo, size_t hi, size_t n)
{
    const hf_sweep *s = &st->sweep;
    long best = -1;
    double best_loss = INFINITY;
    for (size_t t = 0; t < lo; t++) {
        double l = st->pruned[t] ? NAN : hf_sweep_trial_loss(s, t);
        if (!isnan(l) && l < best_loss) {
            best_loss = l;
            best = (long)t;
        }
    }
    if (best < 0)
        return HF_OK;
    double *a = hf_malloc((n ? n : 1) * sizeof *a), *b = hf_malloc((n ? n : 1) * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return HF_ENOMEM;
    }
    hf_sweep_fold_scores(s, (size_t)best, n, b);
    for (size_t t = lo; t < hi; t++)
        if (!st->pruned[t] && hf_sweep_fold_scores(s, t, n, a) &&
            hf_prune_decide(a, b, n, s->greater_is_better[0], (size_t)spec->search.pruner_startup,
                            spec->search.pruner_p))
            set_pruned(st, t);
    free(a);
    free(b);
    return HF_OK;
}

static const char *const k_strategy[] = {"grid", "random", "tpe", "hyperband", "asha"};

/* Rank 0. Hyperband stopped by a budget before rung b: when no trial at the full resource ran,
 * the candidates for the best are the trials of the largest resource that ran. */
static int hb_eligible_reached(run_state *st, const hf_rung *rungs, size_t b)
{
    unsigned char *e = (unsigned char *)st->eligible; /* hf_cmd_run's array */
    st->counts_valid = 0;                             /* the best's candidates change */
    size_t lo = st->sweep.n_trials;
    for (size_t t = 0; t < lo; t++)
        if (e[t])
            return HF_OK;
    double most = 0;
    for (size_t r = 0; r < b; r++)
        most = rungs[r].resource > most ? rungs[r].resource : most;
    for (size_t r = 0; r < b; r++)
        if (rungs[r].resource == most)
            memset(e + rungs[r].first, 1, rungs[r].n);
    return HF_OK;
}

/* Collective. A study (TPE, Hyperband): batches of trials, each made from the losses of the
 * earlier ones and run over the ranks; the journal closed. blocks[] (one per batch, n_batches of
 * them) receives the decoded trials. Hyperband's batches are the rungs of `rungs`. */
static int run_study(hf_comm *world, run_state *st, const hf_spec *spec, hf_job *job,
                     hf_task_ctx *ctx, hf_comm *group_comm, const hf_manifest *manifest,
                     const hf_rundir *dir, hf_task_list *tasks, hf_trial_config **blocks,
                     const hf_rung *rungs, size_t n_batches)
{
    int rank = hf_comm_rank(world);
    const int hb = spec->search.strategy == HF_SEARCH_HYPERBAND;
    /* grid, random with a budget or the pruner: their own trials, in order, in batches */
    const int seq =
        spec->search.strategy == HF_SEARCH_GRID || spec->search.strategy == HF_SEARCH_RANDOM;
    const size_t N = job->n_trials, q = hb ? 1 : (size_t)spec->search.batch,
                 ns = job->folds->n_splits;
    journal_stash js = {.sweep = &st->sweep};
    hf_trial *warm = NULL, *all = NULL;
    double *warm_loss = NULL, *all_loss = NULL, *loss = NULL, *hb_loss = NULL;
    size_t W = 0, *batch_at = NULL, n_journaled = 0; /* rank 0: index_batches */
    char warm_sha[65];
    int result = warm_start(world, spec, job, st->quiet, &warm, &warm_loss, &W, warm_sha);
    /* Only rank 0 holds the study: its trials (job->trials), their losses, the score table. The
     * other ranks get each task's trials with the task (pack_study_task). */
    if (result >= 0 && rank == 0) {
        all = hf_calloc(W + N + 1, sizeof *all);
        all_loss = hf_calloc(W + N + 1, sizeof *all_loss);
        hb_loss = hf_calloc(N + 1, sizeof *hb_loss);
        result = all && all_loss && hb_loss ? HF_OK : HF_ENOMEM;
    }
    if (result >= 0 && rank == 0) {
        if (W) /* (memcpy from NULL is undefined even for 0 bytes) */
            memcpy(all, warm, W * sizeof *all);
        memcpy(all + W, job->trials, N * sizeof *all); /* shallow: the values are job's */
        if (W)
            memcpy(all_loss, warm_loss, W * sizeof *all_loss);
        loss = all_loss + W;
        result = hf_sweep_init(&st->sweep, N, ns, job->metrics, job->n_metrics);
        st->sweep.eligible = st->eligible;
    }
    size_t prune_first = ns, prune_step = ns;
    if (result >= 0 && spec->search.pruner) {
        st->pruned = hf_calloc(N ? N : 1, 1);
        st->sweep.pruned = st->pruned;
        prune_first =
            hf_prune_min_folds(spec->search.pruner_p, (size_t)spec->search.pruner_startup);
        prune_step = ns > prune_first + 4 ? (ns - prune_first + 3) / 4 : 1;
        result = st->pruned ? HF_OK : HF_ENOMEM;
    }
    st->n_tasks = N * ns; /* shown in the progress line; batches of trials that share work
                           * (logistic regression's C, xgboost's rounds) may make it fewer */
    if (result >= 0 && rank == 0) {
        char sweep_id[65];
        result = hf_spec_sweep_id(spec, job->trials, N, job->metrics, job->n_metrics, sweep_id);
        if (result >= 0 && warm_sha[0])
            result = with_warm_start(sweep_id, warm_sha);
        hf_journal_id jid = {.spec_sha256 = sweep_id,
                             .data_fingerprint = hf_manifest_fingerprint(manifest),
                             .n_tasks = N * ns};
        if (result >= 0)
            result = hf_journal_open(dir->journal, &jid, stash_line, &js, &st->journal);
        if (result >= 0 && !seq) { /* the batches the journal holds the proposals of */
            batch_at = hf_malloc((n_batches ? n_batches : 1) * sizeof *batch_at);
            result = batch_at ? index_batches(&js, n_batches, batch_at) : HF_ENOMEM;
            if (result < 0)
                hf_error_prefix(result, "%s", dir->journal);
            for (size_t b = 0; result >= 0 && b < n_batches; b++)
                n_journaled += batch_at[b] != SIZE_MAX;
        }
        if (result >= 0 && !st->quiet && seq)
            hf_info("%s: %zu trials x %zu splits in batches of %zu, in order (search.max_time, "
                    "early_stop or pruner) on %d rank(s)%s",
                    k_strategy[spec->search.strategy], N, ns, q, hf_comm_size(world),
                    js.n ? "; resuming from the journal" : "");
        if (result >= 0 && !st->quiet && !hb && !seq)
            hf_info("tpe: %zu trials x %zu splits, proposed in batches of %zu (%zu at random "
                    "first, %s) on %d rank(s)%s",
                    N, ns, q, (size_t)spec->search.n_startup_trials,
                    spec->search.multivariate ? "multivariate" : "independent", hf_comm_size(world),
                    js.n ? "; resuming from the journal" : "");
        if (result >= 0 && !st->quiet && hb)
            hf_info("hyperband: %zu trials x %zu splits in %zu rungs (eta %d, %s %g to %g) on %d "
                    "rank(s)%s",
                    N, ns, n_batches, spec->search.eta, spec->search.resource,
                    spec->search.min_resource, spec->search.max_resource, hf_comm_size(world),
                    js.n ? "; resuming from the journal" : "");
        if (result >= 0 && !st->quiet && n_journaled)
            hf_info("%s: the proposals of %zu of %zu batch(es) read from the journal",
                    k_strategy[spec->search.strategy], n_journaled, n_batches);
    }
    st->t_start = hf_now();
    st->last_print = st->t_start;
    st->ctx = ctx;
    st->spec_trial = -1;
    const double t0 = st->t_start; /* search.max_time counts from here, in this invocation */
    result = hf_comm_check(world, result);
    int sched_failed = 0; /* only then may other ranks still wait for tasks */
    for (size_t b = 0; b < n_batches && result >= 0; b++) {
        size_t lo = hb ? rungs[b].first : b * q;
        size_t hi = hb ? lo + rungs[b].n : (lo + q < N ? lo + q : N), before = tasks->n_tasks;
        int64_t stop = 0;          /* 1 + the index of the budget's reason; 3: a stop request */
        if (rank == 0 && lo > 0) { /* the budgets: after the first batch */
            for (size_t t = 0; t < lo; t++) /* a pruned trial ranks after every finished one */
                loss[t] =
                    st->pruned && st->pruned[t] ? DBL_MAX : hf_sweep_trial_loss(&st->sweep, t);
            const char *why = NULL;
            size_t keep = lo;
            if (seq) { /* early_stop: the first prefix that meets it, whatever the batch */
                keep = hf_search_early_stop_at(&spec->search, loss, lo);
                why = keep ? "early_stop" : NULL;
                keep = keep ? keep : lo;
                if (!why && spec->search.max_time > 0 && hf_now() - t0 >= spec->search.max_time)
                    why = "max_time";
            } else if (hb) { /* early_stop on the trials at the full resource, in plan order */
                size_t m = 0;
                for (size_t t = 0; t < lo; t++)
                    if (st->eligible[t])
                        hb_loss[m++] = loss[t];
                why = hf_search_budget_stop(&spec->search, hb_loss, m, hf_now() - t0);
            } else {
                why = hf_search_budget_stop(&spec->search, loss, lo, hf_now() - t0);
            }
            stop = why ? (!strcmp(why, "max_time") ? 1 : 2) : 0;
            if (stop)
                st->sweep.n_trials = keep;
        }
        /* A stop request (a signal) ends the study here: a batch whose tasks were all handed out
         * before the scheduler saw the request ran whole, and the next batch must not start. */
        if (rank == 0 && g_stop && !stop)
            stop = 3;
        if ((result = hf_comm_bcast(world, &stop, sizeof stop, 0)) < 0)
            break;
        if (stop == 3) {
            result = HF_EINTR;
            break;
        }
        if (stop) { /* the trials run so far (grid, random: up to early_stop's) are the study */
            st->stopped = stop == 1 ? "max_time" : "early_stop";
            if (rank == 0 && hb)
                result = hb_eligible_reached(st, rungs, b);
            if (rank == 0 && !st->quiet)
                hf_info("%s: %s reached after %zu trials: the study ends there",
                        k_strategy[spec->search.strategy], st->stopped, st->sweep.n_trials);
            result = hf_comm_check(world, result);
            break;
        }
        /* The batch's trials: rank 0's alone (grid's, random's made); read from the journal
         * when it holds them, else proposed and journaled before any of their tasks. */
        if (rank == 0 && !seq && batch_at[b] != SIZE_MAX) {
            result = absorb_batch(spec, job, js.defs[batch_at[b]], b, lo, hi);
            if (result < 0)
                hf_error_prefix(result, "%s", dir->journal);
        } else if (rank == 0 && !seq) {
            result = hb ? hyperband_batch(spec, job, loss, rungs, b)
                        : tpe_batch(spec, all, all_loss, W, lo, hi);
            if (result >= 0)
                result = journal_batch(st, spec, job, b, lo, hi);
        }
        if (result >= 0 && rank == 0 && !seq)
            result = decode_batch(spec, job, lo, hi, &blocks[b]);
        if ((result = hf_comm_check(world, result)) < 0)
            break;
        /* The batch's splits in stages: all at once, or with search.pruner the first
         * prune_first, then the others a few at a time, each stage after the pruning decisions
         * on the splits before (the same on every rank: rank 0 decides and broadcasts). */
        for (size_t s0 = 0, stage = 0; s0 < ns && result >= 0; stage++) {
            size_t s1 = !st->pruned ? ns : stage == 0 ? prune_first : s0 + prune_step;
            if (s1 > ns)
                s1 = ns;
            if (stage > 0 && st->pruned) {
                if (rank == 0)
                    result = prune_batch(st, spec, lo, hi, s0);
                if ((result = hf_comm_check(world, result)) < 0)
                    break;
            }
            before = tasks->n_tasks;
            if (rank == 0) /* the task list is rank 0's: the others get each task's trials */
                result = list_splits(job, lo, hi, s0, s1, st->pruned, tasks);
            unsigned char *d = result >= 0 ? hf_realloc(st->done, tasks->n_tasks + 1) : NULL;
            if (result >= 0 && !d)
                result = HF_ENOMEM;
            if (d) {
                st->done = d;
                memset(d + before, 0, tasks->n_tasks - before);
            }
            if (result >= 0 && rank == 0) {
                size_t had = st->sweep.tasks_done;
                result = replay_batch(st, &js, before, tasks->n_tasks);
                st->done_at_start += st->sweep.tasks_done - had;
            }
            if ((result = hf_comm_check(world, result)) < 0)
                break;
            int last = b + 1 == n_batches && s1 == ns;
            hf_sched_opts so = {
                .on_result = on_result,
                .arg = st,
                .on_tick = on_tick,
                .stop = &g_stop,
                .group = group_comm,
                .pick = last && !ctx->group && !ctx->model->refit_params ? pick_leader : NULL,
                .speculate = speculate_refit,
                .materialise = materialise_study_task,
                .release = release_task,
                .trial_bytes = HF_SPACE_PACKED(spec->space.n_params),
                .pack = pack_study_task,
                .affinity = st->affinity,
                .affinity_key = affinity_key};
            result = hf_sched_run(world, ctx, tasks, st->done, &so);
            sched_failed = result < 0 && result != HF_EINTR;
            s0 = s1;
        }
    }
    if (result >= 0 && rank == 0 && seq && !st->stopped) { /* early_stop within the last batch */
        for (size_t t = 0; t < N; t++)
            loss[t] = st->pruned && st->pruned[t] ? DBL_MAX : hf_sweep_trial_loss(&st->sweep, t);
        size_t keep = hf_search_early_stop_at(&spec->search, loss, N);
        if (keep && keep < N) {
            st->stopped = "early_stop";
            st->sweep.n_trials = keep;
            if (!st->quiet)
                hf_info("%s: early_stop reached after %zu trials: the study ends there",
                        k_strategy[spec->search.strategy], keep);
        }
    }
    if (result >= 0 && rank == 0 && js.n) {
        /* A batch's proposals may go unused: this invocation's max_time can end the study
         * before a batch the earlier one proposed and journaled. */
        size_t unused = 0;
        for (size_t i = 0; i < js.n; i++)
            unused += js.task[i] >= 0 ? !js.used || !js.used[i]
                                      : strncmp(js.defs[i], "{\"batch_def\":", 13) != 0;
        if (unused)
            result = hf_error(HF_EDATA,
                              "journal %s holds %zu task line(s) this study never "
                              "proposed",
                              dir->journal, unused);
    }
    stash_free(&js);
    free(batch_at);
    hf_trials_free(warm, W, spec->space.n_params);
    free(warm_loss);
    free(all);
    free(all_loss);
    free(hb_loss);
    return study_end(world, st, dir, result, sched_failed);
}

/* ---- asynchronous studies: ASHA, TPE with mode async --------------------------------------
 *
 * The scheduler asks for a trial whenever a rank would idle (hf_sched_opts.refill): ASHA promotes
 * a configuration that is in the best 1/eta of the finished ones of its rung (the highest rung
 * first) or starts a new one; TPE proposes from every finished trial, the running ones counting
 * as running (the constant liar). Rank 0 journals the trial's definition ({"trial_def": ...})
 * before its tasks and holds the study alone: the other ranks hold none of its trials, and each
 * task's hand-out carries its trial's values (materialise_study_task, as a batch study's). No rung
 * waits for a straggler, so the order of the results decides the study: it depends on the number
 * of ranks and on timing. A resumed study replays the definitions and the finished tasks, runs
 * the unfinished tasks of defined trials, and goes on from that state. */

typedef struct async_study {
    run_state *st;
    const hf_spec *spec;
    hf_job *job;              /* trials and configs: the study's arrays (n_max) */
    size_t n_max, n_def;      /* capacity; trials defined */
    hf_trial_config **blocks; /* [trial] decoded */
    const hf_trial *draws;    /* the configurations' random draws (random search's) */
    size_t n_draws;
    int asha;
    double *res; /* ASHA: the rungs' resources */
    size_t n_rungs;
    int *rung, *parent;      /* [trial] */
    unsigned char *promoted; /* [trial] */
    size_t n_configs;
    long ri;           /* ASHA: the resource parameter's index in the space */
    hf_trial *all;     /* TPE: warm-start trials, then the study's (shallow) */
    hf_trial *warm;    /* TPE: the warm-start trials (owned) */
    char warm_sha[65]; /* TPE: the SHA-256 of the warm start's results.json, or "" */
    double *all_loss;
    size_t W;
} async_study;

/* Rank 0. Trial t (its values set) decoded and its tasks appended. */
static int define_trial(async_study *a, hf_task_list *tasks, size_t t)
{
    HF_CALL(list_batch(a->spec, a->job, t, t + 1, tasks, &a->blocks[t]));
    if (t + 1 > a->n_def)
        a->n_def = t + 1;
    return HF_OK;
}

/* Rank 0. A definition line: {"trial_def": t, "rung": k, "parent": p, "params": {...}}. */
static int absorb_def(async_study *a, hf_task_list *tasks, const char *line)
{
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    json_int_t t = json_integer_value(json_object_get(o, "trial_def"));
    json_int_t rung = json_integer_value(json_object_get(o, "rung"));
    json_int_t parent = json_integer_value(json_object_get(o, "parent"));
    char *params = o ? json_dumps(json_object_get(o, "params"), JSON_COMPACT) : NULL;
    json_decref(o);
    int result = HF_OK;
    /* A definition as refill writes them: the next trial; a new configuration at rung 0, a
     * promotion one rung above a parent not promoted before (TPE: rung 0, no parent). */
    int bad_parent = parent >= 0 && (parent >= t || (size_t)parent >= a->n_def ||
                                     a->promoted[parent] || rung != a->rung[parent] + 1);
    if (!params || t < 0 || (size_t)t != a->n_def || (size_t)t >= a->n_max || rung < 0 ||
        (a->asha && (size_t)rung >= a->n_rungs) || (!a->asha && (rung != 0 || parent >= 0)) ||
        parent < -1 || bad_parent || (parent < 0 && rung != 0))
        result = hf_error(HF_EDATA, "a trial definition out of order or malformed: %.200s", line);
    if (result >= 0)
        result = hf_space_trial_from_json(&a->spec->space, params, &a->job->trials[t]);
    free(params);
    if (result >= 0) {
        a->rung[t] = (int)rung;
        a->parent[t] = (int)parent;
        if (parent >= 0)
            a->promoted[parent] = 1;
        else
            a->n_configs++;
        result = define_trial(a, tasks, (size_t)t);
    }
    return result;
}

/* Rank 0. A pruning line of the journal: {"trial_pruned": t, "best": b, "splits": n}, after the
 * definition of t. */
static int absorb_pruned(async_study *a, const char *line)
{
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    json_int_t t = json_integer_value(json_object_get(o, "trial_pruned"));
    json_decref(o);
    if (!o || !a->st->pruned || t < 0 || (size_t)t >= a->n_def || a->st->pruned[t])
        return hf_error(HF_EDATA,
                        "a pruning line of no defined trial, or with search.pruner none: %.200s",
                        line);
    set_pruned(a->st, (size_t)t);
    return HF_OK;
}

/* Rank 0. A journal line of the study: a definition or a pruning. */
static int absorb_line(async_study *a, hf_task_list *tasks, const char *line)
{
    if (!strncmp(line, "{\"trial_pruned\":", 16))
        return absorb_pruned(a, line);
    return absorb_def(a, tasks, line);
}

/* The scheduler's callbacks get the run's state; the study hangs from it. absorb is never called
 * (the hand-outs carry the trials: materialise), but its presence keeps one result per message. */
static int absorb(void *arg, hf_task_list *tasks, const char *msg, size_t len)
{
    (void)len;
    return absorb_def(((run_state *)arg)->async, tasks, msg);
}

/* Rank 0: trial t finished on every split (ok or failed). */
static int trial_finished(const hf_sweep *s, size_t t)
{
    for (size_t f = 0; f < s->n_splits; f++)
        if (s->state[t * s->n_splits + f] == 0)
            return 0;
    return 1;
}

/* Rank 0, the scheduler's skip: every trial of listed task `id` is pruned (an asynchronous
 * study's tasks have one trial each). */
static int task_pruned(void *arg, int id)
{
    run_state *st = arg;
    const hf_task *k = &st->tasks->tasks[id];
    if (!st->pruned || k->n_trials == 0)
        return 0;
    for (size_t j = 0; j < k->n_trials; j++)
        if (!st->pruned[k->trials[j]])
            return 0;
    return 1;
}

/* Rank 0. search.pruner in an asynchronous study, after each result: a defined trial still
 * running (not finished, not pruned, no failed split) whose finished splits the best finished
 * trial (not pruned, lowest loss, the first of equals) beats on the same splits by the batch
 * pruner's rule (jobs/prune.h: at least pruner_startup of them, p < pruner_p, a worse mean) is
 * pruned and journaled ({"trial_pruned": t, "best": b, "splits": n}): its tasks not handed out
 * are dropped (task_pruned), those running are ignored (on_result). The decisions depend on the
 * order the results arrive in, as the study does. */
static int prune_async(run_state *st)
{
    async_study *a = st->async;
    const hf_sweep *s = &st->sweep;
    const size_t ns = s->n_splits, nm = s->n_metrics;
    long best = -1;
    double best_loss = INFINITY;
    for (size_t t = 0; t < a->n_def; t++) {
        double l = st->pruned[t] || !trial_finished(s, t) ? NAN : hf_sweep_trial_loss(s, t);
        if (!isnan(l) && l < best_loss) {
            best_loss = l;
            best = (long)t;
        }
    }
    if (best < 0)
        return HF_OK;
    double *x = hf_malloc(2 * (ns ? ns : 1) * sizeof *x), *y = x ? x + ns : NULL;
    if (!x)
        return HF_ENOMEM;
    int result = HF_OK;
    for (size_t t = 0; t < a->n_def && result >= 0; t++) {
        if (st->pruned[t] || trial_finished(s, t))
            continue;
        size_t n = 0, failed = 0;
        for (size_t f = 0; f < ns; f++) {
            unsigned char k = s->state[t * ns + f];
            failed += k == 2;
            if (k == 1 && s->state[(size_t)best * ns + f] == 1) {
                x[n] = s->scores[(t * ns + f) * nm];
                y[n++] = s->scores[((size_t)best * ns + f) * nm];
            }
        }
        if (failed ||
            !hf_prune_decide(x, y, n, s->greater_is_better[0],
                             (size_t)a->spec->search.pruner_startup, a->spec->search.pruner_p))
            continue;
        char line[128];
        snprintf(line, sizeof line, "{\"trial_pruned\":%zu,\"best\":%ld,\"splits\":%zu}", t, best,
                 n);
        result = hf_journal_append(st->journal, line);
        if (result >= 0)
            set_pruned(st, t);
    }
    free(x);
    return result;
}

/* ASHA's get_job (Li et al. 2020, Algorithm 2): the highest rung with a configuration in the best
 * floor(finished / eta) not yet promoted gives it; else a new configuration; else none (-2). */
static int asha_next(async_study *a, int *parent, int *rung)
{
    const hf_sweep *s = &a->st->sweep;
    size_t *c = hf_malloc((a->n_def ? a->n_def : 1) * sizeof *c);
    if (!c)
        return HF_ENOMEM;
    *parent = -1;
    *rung = 0;
    for (size_t k = a->n_rungs - 1; k-- > 0 && *parent < 0;) {
        size_t n = 0;
        for (size_t t = 0; t < a->n_def; t++)
            if (a->rung[t] == (int)k && trial_finished(s, t))
                c[n++] = t;
        g_rung_loss = a->all_loss + a->W;
        qsort(c, n, sizeof *c, cmp_rung);
        for (size_t i = 0; i < n / (size_t)a->spec->search.eta && *parent < 0; i++)
            if (!a->promoted[c[i]] && !isnan(a->all_loss[a->W + c[i]])) {
                *parent = (int)c[i];
                *rung = (int)k + 1;
            }
    }
    free(c);
    if (*parent < 0 && a->n_configs >= a->n_draws)
        return -2;
    return HF_OK;
}

static int refill(void *arg, hf_task_list *tasks, char **msg, size_t *len)
{
    async_study *a = ((run_state *)arg)->async;
    const hf_space *space = &a->spec->space;
    if (a->n_def >= a->n_max)
        return 0;
    size_t t = a->n_def;
    if (a->st->stopped) /* a budget ended the study: the running trials finish */
        return 0;
    /* The losses so far: finished trials' (NaN: failed), running ones INFINITY (TPE's liar). */
    for (size_t k = 0; k < t; k++) /* a pruned trial: DBL_MAX, as in batch mode */
        a->all_loss[a->W + k] = a->st->pruned && a->st->pruned[k] ? DBL_MAX
                                : trial_finished(&a->st->sweep, k)
                                    ? hf_sweep_trial_loss(&a->st->sweep, k)
                                    : INFINITY;
    /* The budgets: max_time, and early_stop on the finished trials (ASHA: of the top rung) in
     * the order they were defined; order-dependent, as the study is. */
    if (t > 0 && (a->spec->search.max_time > 0 || a->spec->search.early_stop > 0)) {
        double *fin = hf_malloc((t + 1) * sizeof *fin);
        if (!fin)
            return HF_ENOMEM;
        size_t m = 0;
        for (size_t k = 0; k < t; k++)
            if (!isinf(a->all_loss[a->W + k]) && (!a->asha || a->rung[k] == (int)a->n_rungs - 1))
                fin[m++] = a->all_loss[a->W + k];
        const char *why =
            hf_search_budget_stop(&a->spec->search, fin, m, hf_now() - a->st->t_start);
        free(fin);
        if (why) {
            a->st->stopped = why;
            if (!a->st->quiet)
                hf_info("%s: %s reached after %zu trials (%zu finished): no new trials",
                        a->asha ? "asha" : "tpe", why, t, m);
            return 0;
        }
    }
    hf_trial *tr = &a->job->trials[t];
    int parent = -1, rung = 0, result;
    if (a->asha) {
        if ((result = asha_next(a, &parent, &rung)) == -2)
            return 0;
        if (result < 0)
            return result;
        HF_CALL(copy_values(space, tr,
                            parent >= 0 ? &a->job->trials[parent] : &a->draws[a->n_configs]));
        if (parent < 0 && a->spec->search.sampler_tpe) { /* BOHB */
            double *budget = hf_malloc((t + 1) * sizeof *budget);
            if (!budget)
                return HF_ENOMEM;
            for (size_t k = 0; k < t; k++)
                budget[k] = a->res[a->rung[k]];
            result =
                bohb_propose(a->spec, a->job->trials, budget, a->all_loss + a->W, t, NULL, 0, t);
            free(budget);
            HF_CALL(result);
        }
        HF_CALL(hf_space_set_number(space, tr, (size_t)a->ri, a->res[rung]));
    } else {
        if (t >= a->n_draws)
            return 0;
        HF_CALL(copy_values(space, tr, &a->draws[t]));
        HF_CALL(
            hf_space_tpe_propose(space, &a->spec->search, a->all, a->all_loss, a->W + t, a->W + t));
    }
    char *params = hf_trial_params_json(space, tr);
    if (!params)
        return HF_ENOMEM;
    size_t cap = strlen(params) + 128;
    char *line = hf_malloc(cap);
    if (!line) {
        free(params);
        return HF_ENOMEM;
    }
    snprintf(line, cap, "{\"trial_def\":%zu,\"rung\":%d,\"parent\":%d,\"params\":%s}", t, rung,
             parent, params);
    free(params);
    /* Journaled before any of its tasks can be; then defined here as the others will. */
    size_t before = tasks->n_tasks;
    result = hf_journal_append(a->st->journal, line);
    if (result >= 0)
        result = absorb_def(a, tasks, line);
    unsigned char *d = result >= 0 ? hf_realloc(a->st->done, tasks->n_tasks + 1) : NULL;
    if (result >= 0 && !d)
        result = HF_ENOMEM;
    if (d) { /* the new tasks' done flags (on_result sets them) */
        a->st->done = d;
        memset(d + before, 0, tasks->n_tasks - before);
    }
    if (result < 0) {
        free(line);
        return result;
    }
    *msg = line;
    *len = strlen(line) + 1;
    return 1;
}

/* Collective. The asynchronous study; the journal closed. */
static int run_async_study(hf_comm *world, run_state *st, async_study *a, hf_task_ctx *ctx,
                           const hf_manifest *manifest, const hf_rundir *dir, hf_task_list *tasks)
{
    int rank = hf_comm_rank(world);
    const hf_spec *spec = a->spec;
    hf_job *job = a->job;
    const size_t ns = job->folds->n_splits;
    journal_stash js = {.sweep = &st->sweep};
    char *defs = NULL;
    size_t defs_len = 0;
    int result = hf_sweep_init(&st->sweep, a->n_max, ns, job->metrics, job->n_metrics);
    st->sweep.eligible = st->eligible;
    st->n_tasks = a->n_max * ns;
    if (result >= 0 && rank == 0 && spec->search.pruner) { /* rank 0 decides (prune_async) */
        st->pruned = hf_calloc(a->n_max ? a->n_max : 1, 1);
        st->sweep.pruned = st->pruned;
        result = st->pruned ? HF_OK : HF_ENOMEM;
    }
    if (result >= 0 && rank == 0) {
        char sweep_id[65];
        result =
            hf_spec_sweep_id(spec, a->draws, a->n_draws, job->metrics, job->n_metrics, sweep_id);
        if (result >= 0 && a->warm_sha[0])
            result = with_warm_start(sweep_id, a->warm_sha);
        hf_journal_id jid = {.spec_sha256 = sweep_id,
                             .data_fingerprint = hf_manifest_fingerprint(manifest),
                             .n_tasks = a->n_max * ns};
        if (result >= 0)
            result = hf_journal_open(dir->journal, &jid, stash_line, &js, &st->journal);
        /* The definitions replayed, in journal order, as one text for every rank. */
        for (size_t i = 0; result >= 0 && i < js.n; i++) {
            if (js.task[i] >= 0)
                continue;
            size_t l = strlen(js.defs[i]);
            char *d = hf_realloc(defs, defs_len + l + 2);
            if (!d) {
                result = HF_ENOMEM;
                break;
            }
            defs = d;
            memcpy(defs + defs_len, js.defs[i], l);
            defs_len += l;
            defs[defs_len++] = '\n';
            defs[defs_len] = '\0';
        }
        if (result >= 0 && !st->quiet)
            hf_info("%s: up to %zu trials x %zu splits, asynchronous, on %d rank(s)%s",
                    a->asha ? "asha" : "tpe", a->asha ? a->n_max : a->n_draws, ns,
                    hf_comm_size(world), js.n ? "; resuming from the journal" : "");
    }
    /* The definitions are rank 0's alone: the others hold no trial of the study. */
    if ((result = hf_comm_check(world, result)) >= 0) {
        for (char *line = defs; result >= 0 && rank == 0 && line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            result = absorb_line(a, tasks, line);
            line = nl ? nl + 1 : NULL;
        }
        unsigned char *d = result >= 0 ? hf_calloc(tasks->n_tasks + 1, 1) : NULL;
        if (result >= 0 && !d)
            result = HF_ENOMEM;
        free(st->done);
        st->done = d;
        if (result >= 0 && rank == 0) {
            result = replay_batch(st, &js, 0, tasks->n_tasks);
            st->done_at_start = st->sweep.tasks_done;
            size_t unused = 0;
            for (size_t i = 0; result >= 0 && i < js.n; i++)
                unused += js.task[i] >= 0 && (!js.used || !js.used[i]);
            if (result >= 0 && unused)
                result = hf_error(HF_EDATA,
                                  "journal %s holds %zu task line(s) of no trial it "
                                  "defines",
                                  dir->journal, unused);
        }
        result = hf_comm_check(world, result);
    }
    free(defs);
    st->t_start = hf_now();
    st->last_print = st->t_start;
    st->ctx = ctx;
    st->spec_trial = -1;
    int sched_failed = 0;
    if (result >= 0) {
        hf_sched_opts so = {.on_result = on_result,
                            .arg = st,
                            .on_tick = on_tick,
                            .stop = &g_stop,
                            .refill = refill,
                            .absorb = absorb,
                            .materialise = materialise_study_task,
                            .release = release_task,
                            .trial_bytes = HF_SPACE_PACKED(spec->space.n_params),
                            .pack = pack_study_task,
                            .skip = st->pruned ? task_pruned : NULL,
                            .affinity = st->affinity,
                            .affinity_key = affinity_key};
        st->async = a;
        result = hf_sched_run(world, ctx, tasks, st->done, &so);
        sched_failed = result < 0 && result != HF_EINTR;
    }
    st->sweep.n_trials = a->n_def; /* the study: the trials it defined */
    stash_free(&js);
    return study_end(world, st, dir, result, sched_failed);
}

/* Rank 0. The best trial, with one warning for the trials that did not converge (scikit-learn's
 * ConvergenceWarning, once per sweep). When every trial failed, results.json is written and the
 * run fails. */
static int select_best(run_state *st, const hf_spec *spec, const hf_job *job, hf_run_info *info,
                       double t0)
{
    HF_CALL(hf_sweep_finish(&st->sweep, &spec->search));
    size_t hit = 0, stalled = 0;
    if (hf_sweep_unconverged(&st->sweep, &hit, &stalled) > 0)
        hf_warn("%zu of %zu trials did not converge on at least one split (%zu stopped at "
                "max_iter, %zu in the line search before tol): their scores are of unconverged "
                "models; raise model.params.max_iter or scale the features (preprocess.scale: "
                "standard); trials.csv has n_iter and converged",
                hit + stalled, job->n_trials, hit, stalled);
    if (st->sweep.best >= 0)
        return HF_OK;
    info->seconds = hf_now() - t0;
    hf_results_write(&st->sweep, job->trials, info);
    return hf_error(HF_ENUM, "every trial failed; see %s for the reasons", info->trials_csv_path);
}

/* Rank 0. results.json and trials.csv, the upload, and the summary lines. */
static int finish_run(run_state *st, const hf_spec *spec, const hf_job *job, hf_run_info *info,
                      const hf_rundir *dir, double t0, int result)
{
    info->seconds = hf_now() - t0;
    /* output.upload: this session's prefix, recorded in results.json (upload_outputs). */
    char run_id[HF_RUN_ID_LEN], *upload_dest = NULL;
    if (result >= 0 && spec->output.upload) {
        hf_run_id_new(spec->sha256, run_id);
        if (!(upload_dest = hf_output_upload_prefix(&spec->output, spec->name, run_id)))
            result = HF_ENOMEM;
        info->upload_run_id = run_id;
        info->upload_uri = upload_dest;
    }
    /* Only a run whose model was exported has results: results.json names model.h5 and claims
     * success, and RUN/job.yaml, results.json and model.h5 must carry the same spec (retrain
     * checks it). On a failed refit or export the journal keeps the sweep and the earlier run's
     * three files stay as they were; the same command resumes. */
    if (result >= 0)
        result = hf_fs_write_private(dir->spec, spec->text, strlen(spec->text));
    if (result >= 0)
        result = hf_results_write(&st->sweep, job->trials, info);
    /* The training data's profile, for drift (describe --against, retrain). Like the report, a
     * view for later: failing to write it fails nothing, and an earlier session's profile is
     * removed so that drift says "no profile" rather than compare with other data. */
    /* With parallel.data_parallel this rank holds only its block of the rows: the profile was
     * built from group 0's blocks (hf_profile_build_shards) before. */
    if (result >= 0 && st->ctx && hf_group_data_parallel(st->ctx->group)) {
        if (!st->profile || hf_profile_write_json(st->profile, dir->profile) < 0) {
            hf_warn("profile.json not written (drift will have no profile): %s",
                    st->profile ? hf_error_message() : "its statistics were not gathered");
            hf_error_clear();
            unlink(dir->profile);
        }
    } else if (result >= 0 && hf_profile_write(job->data, dir->profile) < 0) {
        hf_warn("profile.json not written (drift will have no profile): %s", hf_error_message());
        hf_error_clear();
        unlink(dir->profile);
    }
    info->upload_run_id = info->upload_uri = NULL;
    /* The report is a view of the files just written: failing to write it fails nothing. */
    if (result >= 0) {
        if (hf_report_write(dir->dir, NULL) < 0) {
            hf_warn("report.html not written: %s", hf_error_message());
            hf_error_clear();
            unlink(dir->report); /* an earlier session's page must not pass for this one's */
        } else if (!st->quiet) {
            hf_info("wrote %s", dir->report);
        }
    }
    if (result >= 0 && spec->output.upload) {
        hf_source_opts up = {.s3 = &spec->s3, .audit_path = dir->audit, .rank = 0};
        result = upload_outputs(&spec->output, upload_dest, dir, &up, st->quiet);
    }
    free(upload_dest);
    if (result < 0 || st->quiet)
        return result;
    size_t b = (size_t)st->sweep.best, nm = job->n_metrics;
    char *p = hf_trial_params_json(&spec->space, &job->trials[b]);
    hf_info("best trial %zu: %s = %.6g (std %.3g) %s", b, job->metrics[0], st->sweep.mean[b * nm],
            st->sweep.std[b * nm], p ? p : "");
    if (info->holdout_valid)
        hf_info("holdout %s = %.6g on %zu rows", job->metrics[0], info->holdout_scores[0],
                job->folds->n_holdout);
    hf_info("wrote %s/results.json, trials.csv, model.h5 (%.2fs)", dir->dir, hf_now() - t0);
    free(p);
    return result;
}

/* Every rank. An asynchronous study's arrays: the job's trials (random search's draws, the
 * configurations ASHA starts or TPE's startup) move to *saved and the job gets room for every
 * trial the study may define: TPE's trials, ASHA's configurations times at most eta/(eta - 1)
 * plus a rung. Collective (the warm start). The arrays are rank 0's alone, which proposes and
 * holds the study: the other ranks (whose job was prepared by_index: no trials) get only n_max,
 * and each task's trials come with it (materialise_study_task). */
static int async_prepare(hf_comm *world, const hf_spec *spec, hf_job *job, int quiet,
                         async_study *a, hf_job *saved)
{
    const size_t np = spec->space.n_params;
    a->spec = spec;
    a->job = job;
    a->asha = spec->search.strategy == HF_SEARCH_ASHA;
    a->draws = job->trials;
    a->n_draws = job->n_trials;
    int result = HF_OK;
    if (a->asha) {
        result =
            hf_asha_rungs(spec->search.min_resource, spec->search.max_resource, spec->search.eta,
                          spec->search.resource_integer, &a->res, &a->n_rungs);
        a->ri = hf_space_index(&spec->space, spec->search.resource);
        if (result >= 0 && a->ri < 0)
            result = hf_error(HF_EINTERNAL, "asha: no resource parameter");
    }
    hf_trial *warm = NULL;
    double *warm_loss = NULL;
    if (result >= 0 && !a->asha)
        result = warm_start(world, spec, job, quiet, &warm, &warm_loss, &a->W, a->warm_sha);
    if (result < 0)
        return result;
    a->n_max = a->asha ? 2 * a->n_draws + a->n_rungs : a->n_draws;
    if (hf_comm_rank(world) != 0) { /* the study is rank 0's: the tasks bring their trials */
        a->draws = NULL;
        hf_trials_free(warm, a->W, np);
        free(warm_loss);
        a->W = 0;
        return HF_OK;
    }
    saved->trials = job->trials;
    saved->n_trials = job->n_trials;
    saved->configs = job->configs;
    job->trials = hf_trials_alloc(a->n_max, np);
    job->configs = hf_calloc(a->n_max, sizeof *job->configs);
    job->n_trials = job->trials ? a->n_max : 0;
    a->blocks = hf_calloc(a->n_max, sizeof *a->blocks);
    a->rung = hf_calloc(a->n_max, sizeof *a->rung);
    a->parent = hf_calloc(a->n_max, sizeof *a->parent);
    a->promoted = hf_calloc(a->n_max, 1);
    a->all = hf_calloc(a->W + a->n_max, sizeof *a->all);
    a->all_loss = hf_calloc(a->W + a->n_max, sizeof *a->all_loss);
    if (!job->trials || !job->configs || !a->blocks || !a->rung || !a->parent || !a->promoted ||
        !a->all || !a->all_loss)
        result = HF_ENOMEM;
    else {
        if (a->W) /* (memcpy from NULL is undefined even for 0 bytes) */
            memcpy(a->all, warm, a->W * sizeof *a->all);
        memcpy(a->all + a->W, job->trials, a->n_max * sizeof *a->all);
        if (a->W)
            memcpy(a->all_loss, warm_loss, a->W * sizeof *a->all_loss);
        a->warm = warm;
        warm = NULL;
    }
    hf_trials_free(warm, a->W, np);
    free(warm_loss);
    return result;
}

static void async_release(const hf_spec *spec, hf_job *job, async_study *a, hf_job *saved)
{
    if (!spec) /* the spec did not parse: nothing was prepared */
        return;
    if (saved->trials) { /* the job's own arrays back, for hf_job_free */
        hf_trials_free(job->trials, job->trials ? a->n_max : 0, spec->space.n_params);
        free(job->configs);
        job->trials = saved->trials;
        job->n_trials = saved->n_trials;
        job->configs = saved->configs;
    }
    for (size_t t = 0; a->blocks && t < a->n_max; t++)
        if (a->blocks[t])
            hf_trial_configs_free(a->blocks[t], 1);
    hf_trials_free(a->warm, a->W, spec->space.n_params);
    free(a->blocks);
    free(a->rung);
    free(a->parent);
    free(a->promoted);
    free(a->all);
    free(a->all_loss);
    free(a->res);
    memset(a, 0, sizeof *a);
    memset(saved, 0, sizeof *saved);
}

/* What results.json says about the run besides the sweep. */
static hf_run_info run_info(const hf_spec *spec, const hf_job *job, const hf_rundir *dir,
                            const hf_manifest *manifest, int ranks, int reused)
{
    hf_run_info info = {.name = spec->name,
                        .spec_sha256 = spec->sha256,
                        .source = spec->data.source,
                        .model = spec->model_type,
                        .space = &spec->space,
                        .results_path = dir->results,
                        .trials_csv_path = dir->trials_csv,
                        .source_fingerprint = hf_manifest_fingerprint(manifest),
                        .n_rows = job->data->n_rows,
                        .n_search_rows = job->folds->n_search,
                        .n_holdout_rows = job->folds->n_holdout,
                        .rejected_rows = (size_t)hf_manifest_rejected(manifest),
                        .ranks = ranks,
                        .reused_shards = reused,
                        .model_path = dir->model};
    return info;
}

int hf_cmd_run(hf_comm *world, int argc, char **argv)
{
    int rank = hf_comm_rank(world);
    const char *spec_path = NULL;
    int fresh = 0, quiet = 0;
    const hf_arg_def defs[] = {HF_FLAG_ARG("--fresh", NULL, &fresh),
                               HF_FLAG_ARG("--quiet", "-q", &quiet)};
    const hf_cmdline cl = {"run", HF_ARGS(defs), "job spec", "JOB.yaml", 0, usage_run};
    int result = hf_args_parse(&cl, argc, argv, &spec_path, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (quiet)
        hf_log_set_level(HF_LOG_QUIET);

    double t0 = hf_now();
    hf_spec *spec = NULL;
    hf_manifest *manifest = NULL;
    hf_job job = {0};
    hf_rundir dir = {0};
    int lock_fd = -1;
    hf_task_list tasks = {0};
    hf_task_ctx ctx = {0};
    run_state st = {.spec_trial = -1, .quiet = quiet, .tty = isatty(STDERR_FILENO)};
    double *holdout_scores = NULL, *split_iters = NULL, *holdout_pred = NULL;
    json_t *evaluation = NULL, *holdout_evaluation = NULL;
    hf_value *refit_vals = NULL;
    hf_trial_config refit_cfg;
    hf_trial *best_trial = NULL;      /* a rank without the decoded trials: the best one, made */
    hf_trial_config *best_cfg = NULL; /* ... and decoded */
    int *fail_trials = NULL;
    hf_trial_config **study_blocks = NULL; /* TPE, Hyperband: the batches' decoded trials */
    hf_rung *rungs = NULL;                 /* Hyperband: the plan */
    unsigned char *eligible = NULL;        /* Hyperband, ASHA: the candidates for the best */
    async_study as = {0};                  /* ASHA, TPE mode async */
    hf_job saved = {0}; /* an asynchronous study: the job's own trials, configs and count */
    size_t n_batches = 0;
    const hf_value *configs_block = NULL; /* TPE: the block hf_job_free frees, through config 0 */
    int reused = 0;
    hf_comm *group_comm = NULL;
    hf_group *group = NULL;

    install_signals();
    if ((result = hf_pipeline_spec(world, spec_path, &spec)) < 0 ||
        (result = prepare_run_dir(world, spec, fresh, &dir, &lock_fd)) < 0 ||
        (result = hf_pipeline_groups(world, &spec->parallel, &group_comm, &group)) < 0)
        goto out;
    /* Ingest (or reuse) the shards, then every rank loads the whole table. */
    double t_ingest = hf_now();
    if ((result = hf_pipeline_etl(world, spec, dir.audit, quiet)) < 0 ||
        (result = hf_pipeline_ingest(world, spec, NULL, dir.shards, dir.audit, dir.rejects,
                                     &manifest, &reused)) < 0)
        goto out;
    if (rank == 0 && !quiet) {
        char *shown = hf_source_display(spec->data.source);
        hf_info("%s %lld rows from %s (%.2fs)", reused ? "reused shards of" : "ingested",
                (long long)hf_manifest_n_rows(manifest), shown ? shown : "data.source",
                hf_now() - t_ingest);
        free(shown);
    }
    /* parallel.data_parallel: each group rank then reads only its block of the rows. */
    hf_pipeline_plan_data_parallel(spec, manifest, group);
    /* A grid or random sweep: only rank 0 expands and decodes the trials and makes the task list;
     * the other ranks make the trials of the tasks they are given, by index (hf_job.maker). */
    result = hf_pipeline_prepare_group(spec, dir.shards, manifest, 0, group, rank != 0, &job);
    /* parallel.data_parallel: decided, refused or set on the group (the same on every rank). */
    int data_parallel = 0;
    if (result >= 0)
        result = hf_pipeline_data_parallel(&job, group, &data_parallel);
    /* Every rank learns of a failure before a study's collective preparation (warm start). */
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    int async = spec->search.strategy == HF_SEARCH_ASHA ||
                (spec->search.strategy == HF_SEARCH_TPE && spec->search.async);
    /* A grid or random sweep with a budget or the pruner runs as a batch study of its own trials
     * (in order; run_study); without them as before (run_sweep). */
    int seq =
        !async &&
        (spec->search.strategy == HF_SEARCH_GRID || spec->search.strategy == HF_SEARCH_RANDOM) &&
        (spec->search.max_time > 0 || spec->search.early_stop > 0 || spec->search.pruner);
    int study = !async && (spec->search.strategy == HF_SEARCH_TPE ||
                           spec->search.strategy == HF_SEARCH_HYPERBAND || seq);
    if (result >= 0 && async)
        result = async_prepare(world, spec, &job, quiet, &as, &saved);
    if (result >= 0 && spec->search.strategy == HF_SEARCH_HYPERBAND) {
        size_t total = 0;
        result = hf_hyperband_plan(spec->search.min_resource, spec->search.max_resource,
                                   spec->search.eta, spec->search.resource_integer, &rungs,
                                   &n_batches, &total);
    } else if (result >= 0 && study) {
        n_batches = (job.n_trials + (size_t)spec->search.batch - 1) / (size_t)spec->search.batch;
    }
    if (result >= 0 && rungs) { /* Hyperband selects among the trials at the full resource */
        eligible = hf_calloc(job.n_trials ? job.n_trials : 1, 1);
        for (size_t r = 0; eligible && r < n_batches; r++)
            if (rungs[r].rung == rungs[r].bracket)
                memset(eligible + rungs[r].first, 1, rungs[r].n);
        st.eligible = eligible;
        result = eligible ? HF_OK : HF_ENOMEM;
    }
    if (result >= 0 && study && !seq && job.n_trials && job.configs)
        configs_block = job.configs[0].model;
    /* A study's tasks are made as it runs: the preflight takes the most trials a task of it can
     * hold (a batch's, a rung's; one in an asynchronous study, whose trials come one by one). */
    if (result >= 0 && (study || async)) {
        size_t most = async ? 1 : (size_t)spec->search.batch;
        for (size_t r = 0; rungs && r < n_batches; r++)
            most = r == 0 || rungs[r].n > most ? rungs[r].n : most;
        result = preflight(spec, &job, group, most < MAX_BATCH ? most : MAX_BATCH);
    }
    if (result >= 0 && study)
        result =
            (study_blocks = hf_calloc(n_batches + 1, sizeof *study_blocks)) ? HF_OK : HF_ENOMEM;
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    if (!study && !async && (result = make_tasks(world, spec, &job, group, &tasks)) < 0)
        goto out;
    if (result >= 0)
        result = hf_pipeline_test_hooks(&ctx.hooks, &fail_trials);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;

    st.spec = spec;
    st.job = &job;
    st.n_tasks = tasks.n_tasks;
    st.tasks = &tasks;
    as.st = &st;
    if (!study && !async && (result = open_sweep(world, &st, &job, manifest, &dir)) < 0)
        goto out;
    ctx.data = job.data;
    ctx.folds = job.folds;
    ctx.trials = job.configs;
    ctx.n_trials = job.n_trials;
    ctx.model = job.model;
    ctx.metrics = job.metrics;
    ctx.n_metrics = job.n_metrics;
    ctx.group = group;
    /* Hyperband and ASHA on the model's own budget (not preprocess.train_fraction, whose rungs
     * train on other rows): a promotion may continue its parent's fit on the rank that keeps it,
     * in at most 256 MiB per process, or an eighth of parallel.memory_per_rank where that is
     * less (the preflight counts the table and the fit's matrices, not these). */
    if ((spec->search.strategy == HF_SEARCH_HYPERBAND || spec->search.strategy == HF_SEARCH_ASHA) &&
        job.model->resource_param && spec->search.resource &&
        strcmp(spec->search.resource, job.model->resource_param) == 0) {
        ctx.resumable = (size_t)256 << 20;
        if (spec->parallel.memory_per_rank > 0 &&
            spec->parallel.memory_per_rank / 8 < (uint64_t)ctx.resumable)
            ctx.resumable = (size_t)(spec->parallel.memory_per_rank / 8);
    }
    st.affinity = ctx.resumable ? hf_sched_affinity_new() : NULL; /* (NULL: no affinity) */
    if ((result = async   ? run_async_study(world, &st, &as, &ctx, manifest, &dir, &tasks)
                  : study ? run_study(world, &st, spec, &job, &ctx, group_comm, manifest, &dir,
                                      &tasks, study_blocks, rungs, n_batches)
                          : run_sweep(world, &st, &ctx, group_comm, &dir)) < 0)
        goto out;
    hf_task_sweep_end(&ctx); /* the boosters kept for promotions (xgboost) */
    if (st.affinity && rank == 0 && !quiet) {
        size_t hits, handed;
        hf_sched_affinity_counts(st.affinity, &hits, &handed);
        hf_info("affinity: %zu of %zu tasks handed to the rank that ran their parent", hits,
                handed);
    }

    /* Selection on rank 0; the refit group (rank 0, or rank 0's whole worker group) refits. */
    int64_t best = -1;
    hf_run_info info = run_info(spec, &job, &dir, manifest, hf_comm_size(world), reused);
    info.resumed_tasks = (int)st.done_at_start;
    info.search_stopped = st.stopped;
    if (async && as.asha && rank == 0) { /* ASHA selects among the trials of the top rung */
        eligible = hf_calloc(as.n_def ? as.n_def : 1, 1);
        int top = (int)as.n_rungs - 1; /* a budget may stop it below: the highest rung reached */
        if (st.stopped) {
            top = 0;
            for (size_t t = 0; t < as.n_def; t++)
                top = as.rung[t] > top ? as.rung[t] : top;
        }
        for (size_t t = 0; eligible && t < as.n_def; t++)
            eligible[t] = as.rung[t] == top;
        st.sweep.eligible = eligible;
        if (!eligible)
            result = HF_ENOMEM; /* (its message set by hf_calloc) */
        info.rung_resources = as.res;
        info.n_rung_resources = as.n_rungs;
    }
    info.rungs = rungs;
    info.n_rungs = n_batches;
    if (rank == 0) {
        holdout_scores = hf_calloc(job.n_metrics, sizeof *holdout_scores);
        info.holdout_scores = holdout_scores;
        result = holdout_scores ? select_best(&st, spec, &job, &info, t0) : HF_ENOMEM;
        best = st.sweep.best;
    }
    size_t n_splits = job.folds->n_splits;
    if ((result = hf_comm_check(world, result)) < 0 ||
        (result = hf_comm_bcast(world, &best, sizeof best, 0)) < 0 ||
        (result = hf_comm_check(
             world, (split_iters = hf_calloc(n_splits + 1, sizeof(double))) ? HF_OK : HF_ENOMEM)) <
            0)
        goto out;
    /* The refit's configuration: the trial's, or derived from the iterations of its splits. */
    if (rank == 0)
        hf_sweep_trial_iters(&st.sweep, (size_t)best, split_iters);
    /* A rank that holds no decoded trials (hf_job.maker) makes the best one from its index. */
    int best_id = (int)best;
    result = job.maker ? hf_job_trials_at(&job, &best_id, 1, NULL, &best_trial, &best_cfg) : HF_OK;
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    /* A study's trials are rank 0's: it sends the best one's values. */
    if (((study && !seq) || async) &&
        (result = best_from_rank0(world, &job, best_id, &best_trial, &best_cfg)) < 0)
        goto out;
    const hf_trial_config *best_config = best_cfg ? best_cfg : &job.configs[best];
    if ((result = hf_comm_bcast(world, split_iters, n_splits * sizeof(double), 0)) < 0 ||
        (result = hf_comm_check(world, hf_refit_config(job.model, best_config, split_iters,
                                                       n_splits, &refit_cfg, &refit_vals))) < 0)
        goto out;
    /* The best trial's out-of-fold predictions (oof.csv) and their evaluation: its own
     * configuration fitted on every split, as the sweep fitted it (early stopping inside each
     * fold included). Not journaled: a resumed run recomputes them. */
    if ((result = hf_oof_run(world, &job, best_config, group, spec->parallel.ranks_per_task,
                             dir.oof, quiet, &evaluation, &info.oof_seconds)) < 0)
        goto out;
    int refit_rank = group ? rank < hf_comm_size(group_comm) : rank == 0;
    hf_test_kill_point("refit");
    if (refit_rank) {
        /* The speculative refit, if it guessed the winner, is the refit. */
        int hit = rank == 0 && st.spec_trial == best;
        info.speculative_refit = hit;
        result = refit_and_export(
            spec, &job, (int)best, &refit_cfg, group, rank == 0 ? &st.sweep : NULL, &dir,
            hf_manifest_fingerprint(manifest), &info, hit ? &st.spec_prep : NULL,
            hit ? &st.spec_fitted : NULL, &holdout_pred);
    }
    hf_test_kill_point("export");
    /* parallel.data_parallel: group 0's ranks hold the table's row blocks; they build the
     * training data's profile together for rank 0's finish_run (a failure fails nothing). Here,
     * on an outcome every rank agrees on: rank 0's holdout step below can fail alone. */
    if ((result = hf_comm_check(world, result)) >= 0 && refit_rank &&
        hf_group_data_parallel(group)) {
        uint64_t first = 0, count = 0;
        hf_group_row_block(job.data->n_rows, hf_comm_size(group_comm), hf_comm_rank(group_comm),
                           &first, &count);
        if (hf_profile_build_shards(group_comm, job.data, first, count, &st.profile) < 0) {
            if (rank == 0)
                hf_warn("profile.json: %s", hf_error_message());
            hf_error_clear();
        }
    }
    /* The holdout's predictions (holdout.csv) and their evaluation. */
    if (result >= 0 && rank == 0 && holdout_pred)
        result = hf_oof_holdout(&job, holdout_pred, dir.holdout, &holdout_evaluation);
    else if (result >= 0 && rank == 0)
        unlink(dir.holdout); /* no holdout this time: an earlier one's predictions go */
    info.evaluation = evaluation;
    info.holdout_evaluation = holdout_evaluation;
    if (rank == 0)
        result = finish_run(&st, spec, &job, &info, &dir, t0, result);
    json_decref(st.profile);
    st.profile = NULL;
    result = hf_comm_check(world, result);
out:
    hf_group_free(group);
    hf_comm_free(group_comm);
    hf_prep_free(st.spec_prep);
    hf_fitted_free(st.spec_fitted);
    hf_task_ctx_release(&ctx);
    hf_sched_affinity_free(st.affinity);
    hf_task_list_free(&tasks);
    for (size_t b = 0; study_blocks && b < n_batches; b++)
        if (study_blocks[b])
            hf_trial_configs_free(study_blocks[b], 1); /* n > 0: frees the block and the array */
    free(study_blocks);
    free(rungs);
    free(eligible);
    free(st.pruned);
    async_release(spec, &job, &as, &saved);
    if (configs_block)
        job.configs[0].model = configs_block;
    hf_sweep_free(&st.sweep);
    free(st.done);
    free(st.splits_in);
    free(fail_trials);
    hf_trial_configs_free(best_cfg, 1);
    if (best_trial)
        hf_trials_free(best_trial, 1, spec->space.n_params);
    hf_job_free(&job);
    hf_manifest_free(manifest);
    hf_spec_free(spec);
    hf_rundir_free(&dir);
    hf_rundir_unlock(lock_fd);
    free(holdout_scores);
    free(holdout_pred);
    json_decref(evaluation);
    json_decref(holdout_evaluation);
    free(split_iters);
    free(refit_vals);
    return result;
}
