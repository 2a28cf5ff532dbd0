/* run.c - `hyperfold run`: ingest, sweep, select, refit, export; and `hyperfold validate`. */
#define _GNU_SOURCE
#include "coordinator/run.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "jobs/spec.h"
#include "shards/folds.h"
#include "shards/ingest.h"
#include "shards/partition.h"
#include "shards/s3.h"
#include "worker/group.h"
#include "worker/metrics.h"
#include "worker/preprocess.h"
#include "worker/task.h"
#include "coordinator/export.h"
#include "coordinator/journal.h"
#include "coordinator/rowset.h"
#include "coordinator/results.h"
#include "coordinator/scheduler.h"

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
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

int hf_spec_load_collective(hf_comm *world, const char *path, hf_spec **out)
{
    char *text = NULL;
    size_t len = 0;
    int rc = HF_OK;
    *out = NULL;
    if (hf_comm_rank(world) == 0)
        rc = hf_read_file(path, &text, &len);
    HF_CALL(hf_comm_check(world, rc));
    rc = hf_comm_bcast_blob(world, &text, &len, 0);
    if (rc >= 0)
        rc = hf_spec_parse(path, text, len, out);
    free(text);
    return hf_comm_check(world, rc);
}

/* ---- progress ----------------------------------------------------------------------------- */

typedef struct run_state {
    const hf_spec *spec;
    hf_sweep sweep;
    hf_journal *journal;
    size_t n_tasks, done_at_start;
    double t_start, last_print;
    int quiet, tty;
    const hf_task_list *tasks;
    unsigned char *done;
    /* The speculative refit (rank 0's worker thread, while the last tasks run elsewhere): of
     * trial spec_trial (-1: none), kept if that trial wins. */
    const hf_task_ctx *ctx;
    int spec_trial;
    hf_prep *spec_prep;
    hf_fitted *spec_fitted;
} run_state;

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
    double eta = new_done ? el / (double)new_done * (double)(st->n_tasks - done) : NAN;
    double best = hf_sweep_best_so_far(&st->sweep);
    char bestbuf[64], etabuf[64];
    if (isnan(best))
        snprintf(bestbuf, sizeof bestbuf, "-");
    else
        snprintf(bestbuf, sizeof bestbuf, "%.6g", best);
    if (isnan(eta))
        snprintf(etabuf, sizeof etabuf, "?");
    else
        snprintf(etabuf, sizeof etabuf, "%.0fs", eta);
    fprintf(stderr, "%stasks %zu/%zu  best %s %s  failed trials %zu  elapsed %.1fs  eta %s%s",
            st->tty ? "\r\033[K" : "hyperfold: ", done, st->n_tasks, st->sweep.metrics[0], bestbuf,
            st->sweep.failed_trials, el, etabuf, st->tty && !final ? "" : "\n");
    fflush(stderr);
}

static void on_tick(void *arg)
{
    print_progress(arg, 0);
}

static int on_result(void *arg, const hf_task_result *r, const char *json)
{
    run_state *st = arg;
    if (r->task < 0 || (size_t)r->task >= st->n_tasks)
        return hf_error(HF_EDATA, "result for unknown task %d", r->task);
    HF_CALL(hf_sweep_add(&st->sweep, r));
    st->done[r->task] = 1;
    HF_CALL(hf_journal_append(st->journal, json));
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
    if (hf_fit_pipeline(c->spec, c->data, c->model, &c->trials[trial], c->folds->search_rows,
                        c->folds->n_search, NULL, &st->spec_prep, &st->spec_fitted) < 0) {
        hf_error_clear(); /* the real refit will meet and report it */
        return;
    }
    st->spec_trial = trial;
}

/* Journal replay: a task line from an earlier, interrupted run. */
static int on_journal_line(void *arg, const char *line)
{
    run_state *st = arg;
    hf_task_result r;
    HF_CALL(hf_task_result_from_json(line, st->sweep.metrics, st->sweep.n_metrics, &r));
    int rc = HF_OK;
    if (r.task < 0 || (size_t)r.task >= st->n_tasks)
        rc = hf_error(HF_EDATA, "journal names task %d of %zu", r.task, st->n_tasks);
    else if (st->done[r.task])
        rc = hf_error(HF_EDATA, "journal holds task %d twice", r.task);
    else if (r.split != st->tasks->tasks[r.task].split)
        rc = hf_error(HF_EDATA, "journal task %d is for split %d, expected %d", r.task, r.split,
                      st->tasks->tasks[r.task].split);
    if (rc >= 0)
        rc = hf_sweep_add(&st->sweep, &r);
    if (rc >= 0)
        st->done[r.task] = 1;
    hf_task_result_free(&r);
    return rc;
}

/* The metrics to compute: the objective first, then report metrics, without duplicates. */
static int metric_list(const hf_spec *spec, const hf_schema *schema, const char ***out, size_t *n)
{
    const char **m = hf_calloc(spec->objective.n_report + 1, sizeof *m);
    if (!m)
        return HF_ENOMEM;
    size_t k = 0;
    m[k++] = spec->objective.metric;
    for (size_t i = 0; i < spec->objective.n_report; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(m[j], spec->objective.report[i]) == 0;
        if (!dup)
            m[k++] = spec->objective.report[i];
    }
    for (size_t i = 0; i < k; i++) {
        const hf_metric *mt = hf_metric_find(m[i]);
        if (!mt || mt->task != schema->task) {
            int rc = hf_error(
                HF_EINVAL, "%s: objective: metric \"%s\" does not fit a %s task", spec->path, m[i],
                schema->task == HF_TASK_CLASSIFICATION ? "classification" : "regression");
            free(m);
            return rc;
        }
    }
    *out = m;
    *n = k;
    return HF_OK;
}

/* Refit of the best trial on every search row, holdout scoring and model.h5. Called by every rank
 * of the refit group (collective over `group` when it is set: distributed models fit and predict
 * together); only the writer (rank 0) scores and writes. */
static int refit_and_export(const hf_spec *spec, const hf_dataset *data, const hf_folds *folds,
                            const hf_model_ops *model, const hf_trial *trials, int b, void *group,
                            const hf_sweep *s, const char *model_path, const char *fingerprint,
                            hf_run_info *info, hf_prep **made_prep, hf_fitted **made_fitted)
{
    hf_prep *prep = NULL;
    hf_fitted *fitted = NULL;
    double *pred = NULL, *yh = NULL, *fold_scores = NULL;
    char *params = NULL;
    int result = HF_OK;
    if (made_prep && made_fitted) { /* already refitted (speculatively): taken over */
        prep = *made_prep;
        fitted = *made_fitted;
        *made_prep = NULL;
        *made_fitted = NULL;
    } else {
        result = hf_fit_pipeline(spec, data, model, &trials[b], folds->search_rows, folds->n_search,
                                 group, &prep, &fitted);
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
        if (!pred || !yh) {
            result = HF_ENOMEM;
            goto out;
        }
        if ((result = hf_predict_pipeline(prep, fitted, data, folds->holdout, folds->n_holdout,
                                          pred)) < 0)
            goto out;
    }
    if (!s)
        goto out; /* a group member: the writer scores and exports */
    if (folds->n_holdout > 0) {
        for (size_t i = 0; i < folds->n_holdout; i++)
            yh[i] = data->y[folds->holdout[i]];
        size_t nc = data->schema->task == HF_TASK_CLASSIFICATION ? data->schema->n_classes : 0;
        for (size_t m = 0; m < s->n_metrics; m++) {
            int rc = hf_metric_compute(hf_metric_find(s->metrics[m]), yh, pred, folds->n_holdout,
                                       nc, &info->holdout_scores[m]);
            if (rc < 0) {
                hf_warn("holdout %s: %s", s->metrics[m], hf_error_message());
                hf_error_clear();
                info->holdout_scores[m] = NAN;
            }
        }
        info->holdout_valid = 1;
    }
    fold_scores = hf_malloc((s->n_splits ? s->n_splits : 1) * sizeof *fold_scores);
    if (!fold_scores) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t f = 0; f < s->n_splits; f++)
        fold_scores[f] = s->scores[((size_t)b * s->n_splits + f) * s->n_metrics];
    params = hf_trial_params_json(spec, &trials[b]);
    hf_model_meta meta = {.spec_sha256 = spec->sha256,
                          .source_fingerprint = fingerprint,
                          .params_json = params ? params : "{}",
                          .metric = s->metrics[0],
                          .cv_score = s->mean[(size_t)b * s->n_metrics],
                          .cv_std = s->std[(size_t)b * s->n_metrics],
                          .fold_scores = fold_scores,
                          .n_folds = s->n_splits,
                          .n_train_rows = folds->n_search};
    result = hf_model_write(model_path, data->schema, prep, fitted, &meta);
    if (result >= 0) {
        /* The rows the model was trained on, for retrain's fair comparison (rowset.h). */
        uint64_t *h = hf_malloc((folds->n_search ? folds->n_search : 1) * sizeof *h);
        char *rows_path = hf_asprintf("%s/" HF_TRAINING_ROWS_FILE, info->run_dir);
        if (!h || !rows_path)
            result = HF_ENOMEM;
        else {
            hf_rowset_hash(data, folds->search_rows, folds->n_search, h);
            result = hf_rowset_write(rows_path, h, folds->n_search);
        }
        free(h);
        free(rows_path);
    }
out:
    hf_prep_free(prep);
    hf_fitted_free(fitted);
    free(pred);
    free(yh);
    free(fold_scores);
    free(params);
    return result;
}

/* The identity of a sweep for its journal: SHA-256 of what decides its tasks and their scores (the
 * data settings, the splits, the model, every trial's parameters, the metrics), and nothing else,
 * so that a changed output.upload, s3 endpoint, slurm or parallel section still resumes. */
static int sweep_hash(const hf_spec *spec, const hf_trial *trials, size_t n_trials,
                      const char *const *metrics, size_t n_metrics, char out[65])
{
    json_t *o = json_object();
    json_t *d = json_object();
    json_object_set_new(d, "source", json_string(spec->data.source));
    json_object_set_new(d, "target", json_string(spec->data.target));
    json_object_set_new(d, "task", json_integer(spec->data.task));
    json_object_set_new(d, "skip_bad_rows", json_integer(spec->data.skip_bad_rows));
    json_object_set_new(o, "data", d);
    json_t *cv = json_object();
    json_object_set_new(cv, "folds", json_integer(spec->cv.folds));
    json_object_set_new(cv, "strategy", json_integer(spec->cv.strategy));
    json_object_set_new(cv, "seed", json_integer((json_int_t)spec->cv.seed));
    json_object_set_new(cv, "repeats", json_integer(spec->cv.repeats));
    json_object_set_new(cv, "holdout", json_real(spec->cv.holdout));
    json_object_set_new(cv, "fold_column",
                        spec->cv.fold_column ? json_string(spec->cv.fold_column) : json_null());
    json_object_set_new(cv, "group_column",
                        spec->cv.group_column ? json_string(spec->cv.group_column) : json_null());
    json_object_set_new(cv, "order_column",
                        spec->cv.order_column ? json_string(spec->cv.order_column) : json_null());
    json_object_set_new(o, "cv", cv);
    json_object_set_new(o, "model", json_string(spec->model_type));
    json_t *m = json_array();
    for (size_t i = 0; i < n_metrics; i++)
        json_array_append_new(m, json_string(metrics[i]));
    json_object_set_new(o, "metrics", m);
    json_t *t = json_array();
    for (size_t i = 0; i < n_trials; i++) {
        char *p = hf_trial_params_json(spec, &trials[i]);
        json_array_append_new(t, json_string(p ? p : ""));
        free(p);
    }
    json_object_set_new(o, "trials", t);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text)
        return hf_error(HF_ENOMEM, "out of memory hashing the sweep");
    int rc = hf_sha256_hex(text, strlen(text), out);
    free(text);
    return rc;
}

/* Collective. With parallel.ranks_per_task > 1, splits the world into groups of that many
 * consecutive ranks and forms each group's BLACS grid once, for every task it will run. */
static int make_groups(hf_comm *world, const hf_spec *spec, hf_comm **group_comm, hf_group **group)
{
    int g = spec->parallel.ranks_per_task;
    int size = hf_comm_size(world), rank = hf_comm_rank(world);
    *group_comm = NULL;
    *group = NULL;
    if (g <= 1)
        return HF_OK;
    if (size % g != 0)
        return hf_comm_check(world, hf_error(HF_EINVAL,
                                             "%s: parallel.ranks_per_task: got %d, expected a "
                                             "divisor of the number of ranks (%d)",
                                             spec->path, g, size));
    int rc = hf_comm_split(world, rank / g, rank, group_comm);
    if (rc >= 0)
        rc = hf_group_create(*group_comm, spec->parallel.grid_rows, spec->parallel.grid_cols,
                             spec->parallel.block_size, group);
    if (rc >= 0) {
        hf_group_set_memory_limit(*group, spec->parallel.memory_per_rank);
        hf_group_set_active(*group);
    }
    return hf_comm_check(world, rc);
}

/* Uploads model.h5, results.json and trials.csv to output.upload (an s3://bucket/prefix/), with
 * server-side encryption when asked. Rank 0 only. */
static int upload_outputs(const hf_spec *spec, const char *run_dir, const hf_source_opts *opts,
                          int quiet)
{
    static const char *const files[] = {"model.h5", "results.json", "trials.csv"};
    const char *dest = spec->output.upload;
    size_t dl = strlen(dest);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *local = hf_asprintf("%s/%s", run_dir, files[i]);
        char *uri = hf_asprintf("%s%s%s", dest, dl && dest[dl - 1] == '/' ? "" : "/", files[i]);
        int rc = local && uri ? hf_s3_upload_file(local, uri, opts, spec->output.sse,
                                                  spec->output.kms_key_id)
                              : HF_ENOMEM;
        if (rc >= 0 && !quiet)
            hf_info("uploaded %s", uri);
        free(local);
        free(uri);
        if (rc < 0)
            return hf_error_prefix(rc, "output.upload");
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

int hf_cmd_run(hf_comm *world, int argc, char **argv)
{
    int rank = hf_comm_rank(world);
    const char *spec_path = NULL;
    int fresh = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (rank == 0)
                usage_run(stdout);
            return HF_OK;
        } else if (strcmp(argv[i], "--fresh") == 0) {
            fresh = 1;
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            quiet = 1;
        } else if (argv[i][0] == '-') {
            return hf_error(HF_EINVAL, "run: unknown option %s (see hyperfold run --help)",
                            argv[i]);
        } else if (!spec_path) {
            spec_path = argv[i];
        } else {
            return hf_error(HF_EINVAL, "run: more than one job spec given (%s, %s)", spec_path,
                            argv[i]);
        }
    }
    if (!spec_path)
        return hf_error(HF_EINVAL, "run: no job spec given (usage: hyperfold run JOB.yaml)");
    if (quiet)
        hf_log_set_level(HF_LOG_QUIET);

    double t0 = hf_now();
    int result = HF_OK;
    hf_spec *spec = NULL;
    hf_manifest *manifest = NULL;
    hf_dataset *data = NULL;
    hf_folds *folds = NULL;
    hf_trial *trials = NULL;
    size_t n_trials = 0;
    const char **metrics = NULL;
    size_t n_metrics = 0;
    hf_task_list tasks = {0};
    hf_task_ctx ctx = {0};
    run_state st = {.spec_trial = -1};
    char *run_dir = NULL, *shard_dir = NULL, *journal_path = NULL, *model_path = NULL;
    char *audit_path = NULL, *rejects_path = NULL, *spec_copy = NULL;
    double *holdout_scores = NULL;
    int reused = 0;
    hf_comm *group_comm = NULL;
    hf_group *group = NULL;

    install_signals();
    if ((result = hf_spec_load_collective(world, spec_path, &spec)) < 0)
        goto out;
    run_dir = hf_asprintf("%s/%s", spec->output.dir, spec->name);
    shard_dir = hf_asprintf("%s/shards", run_dir ? run_dir : "");
    journal_path = hf_asprintf("%s/journal.jsonl", run_dir ? run_dir : "");
    model_path = hf_asprintf("%s/model.h5", run_dir ? run_dir : "");
    audit_path = hf_asprintf("%s/audit.jsonl", run_dir ? run_dir : "");
    rejects_path = hf_asprintf("%s/rejects.csv", run_dir ? run_dir : "");
    spec_copy = hf_asprintf("%s/job.yaml", run_dir ? run_dir : "");
    if (!run_dir || !shard_dir || !journal_path || !model_path || !audit_path || !rejects_path ||
        !spec_copy) {
        result = hf_comm_check(world, HF_ENOMEM);
        goto out;
    }
    result = HF_OK;
    if (rank == 0) {
        result = hf_mkdirs(run_dir);
        if (result >= 0)
            result = hf_write_file_atomic(spec_copy, spec->text, strlen(spec->text));
        if (result >= 0 && fresh && hf_file_exists(journal_path) && unlink(journal_path) != 0)
            result = hf_error(HF_EIO, "removing %s", journal_path);
    }
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;

    if ((result = make_groups(world, spec, &group_comm, &group)) < 0)
        goto out;

    /* Ingest (or reuse) the shards, then every rank loads the whole table. */
    hf_source_opts sopts = {.spec = spec, .audit_path = audit_path, .rank = rank};
    double t_ingest = hf_now();
    result = hf_ingest(world, spec, shard_dir, &sopts,
                       spec->data.skip_bad_rows ? rejects_path : NULL, &manifest, &reused);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    if (rank == 0 && !quiet)
        hf_info("%s %lld rows from %s (%.2fs)", reused ? "reused shards of" : "ingested",
                (long long)hf_manifest_n_rows(manifest), spec->data.source, hf_now() - t_ingest);
    result = hf_shards_load(shard_dir, manifest, &data);
    if (result >= 0)
        result = hf_spec_resolve_task(spec, data->schema->task);
    if (result >= 0)
        result = hf_spec_check_data(spec, data->schema, data->y, data->n_rows);
    if (result >= 0)
        result = hf_folds_make(spec, data, &folds);
    if (result >= 0)
        result = hf_spec_trials(spec, &trials, &n_trials);
    if (result >= 0)
        result = metric_list(spec, data->schema, &metrics, &n_metrics);
    const hf_model_ops *model = hf_model_find(spec->model_type);
    if (result >= 0 && !model)
        result = hf_error(HF_EINVAL, "%s: model.type: unknown model \"%s\"", spec->path,
                          spec->model_type);
    if (result >= 0)
        result =
            hf_task_list_make(spec, model, trials, n_trials, folds->n_splits, MAX_BATCH, &tasks);
    if (result >= 0 && model->preflight) {
        /* Refuse, before anything runs, a task that would not fit in parallel.memory_per_rank. */
        size_t n_max = folds->n_search, batch = 1;
        for (size_t t = 0; t < tasks.n_tasks; t++)
            if (tasks.tasks[t].n_trials > batch)
                batch = tasks.tasks[t].n_trials;
        result = model->preflight(group, n_max, data->schema->n_features, batch,
                                  spec->parallel.memory_per_rank);
        if (result < 0)
            hf_error_prefix(result, "%s: parallel.memory_per_rank", spec->path);
    }
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;

    st.spec = spec;
    st.n_tasks = tasks.n_tasks;
    st.tasks = &tasks;
    st.quiet = quiet;
    st.tty = isatty(STDERR_FILENO);
    st.done = hf_calloc(tasks.n_tasks ? tasks.n_tasks : 1, 1);
    result = st.done ? hf_sweep_init(&st.sweep, n_trials, folds->n_splits, metrics, n_metrics)
                     : HF_ENOMEM;
    if (result >= 0 && rank == 0) {
        char sweep_id[65];
        result = sweep_hash(spec, trials, n_trials, metrics, n_metrics, sweep_id);
        hf_journal_id jid = {.spec_sha256 = sweep_id,
                             .data_fingerprint = hf_manifest_fingerprint(manifest),
                             .n_tasks = tasks.n_tasks};
        if (result >= 0)
            result = hf_journal_open(journal_path, &jid, on_journal_line, &st, &st.journal);
        st.done_at_start = st.sweep.tasks_done;
        if (result >= 0 && !quiet) {
            if (st.done_at_start)
                hf_info("resuming: %zu of %zu tasks already done (journal %s)", st.done_at_start,
                        tasks.n_tasks, journal_path);
            hf_info("%zu trials x %zu splits in %zu tasks (trials that share work are fitted "
                    "together) on %d rank(s)",
                    n_trials, folds->n_splits, tasks.n_tasks, hf_comm_size(world));
        }
    }
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;

    ctx.spec = spec;
    ctx.data = data;
    ctx.folds = folds;
    ctx.trials = trials;
    ctx.n_trials = n_trials;
    ctx.model = model;
    ctx.metrics = metrics;
    ctx.n_metrics = n_metrics;
    ctx.group = group;
    st.t_start = hf_now();
    st.last_print = st.t_start;
    st.ctx = &ctx;
    st.spec_trial = -1;
    hf_sched_opts so = {.on_result = on_result,
                        .arg = &st,
                        .on_tick = on_tick,
                        .stop = &g_stop,
                        .group = group_comm,
                        .pick = group ? NULL : pick_leader,
                        .speculate = speculate_refit};
    result = hf_sched_run(world, &ctx, &tasks, st.done, &so);
    if (rank == 0) {
        int rc = hf_journal_close(&st.journal);
        if (result >= 0)
            result = rc;
        print_progress(&st, 1);
    }
    if (result == HF_EINTR) {
        if (rank == 0)
            hf_error(HF_EINTR,
                     "interrupted: %zu of %zu tasks done and journaled in %s; run the "
                     "same command again to resume",
                     st.sweep.tasks_done, tasks.n_tasks, journal_path);
        goto out;
    }
    if (result < 0) {
        if (rank == 0)
            hf_comm_abort(world, hf_exit_code(result)); /* workers are waiting for tasks */
        goto out;
    }

    /* Selection on rank 0; the refit group (rank 0, or rank 0's whole worker group) refits. */
    int64_t best = -1;
    hf_run_info info = {.run_dir = run_dir,
                        .source_fingerprint = hf_manifest_fingerprint(manifest),
                        .n_rows = data->n_rows,
                        .n_search_rows = folds->n_search,
                        .n_holdout_rows = folds->n_holdout,
                        .rejected_rows = (size_t)hf_manifest_rejected(manifest),
                        .ranks = hf_comm_size(world),
                        .reused_shards = reused,
                        .resumed_tasks = (int)st.done_at_start,
                        .model_path = model_path};
    if (rank == 0) {
        holdout_scores = hf_calloc(n_metrics, sizeof *holdout_scores);
        info.holdout_scores = holdout_scores;
        result = holdout_scores ? hf_sweep_finish(&st.sweep, spec) : HF_ENOMEM;
        size_t hit = 0, stalled = 0;
        if (result >= 0 && hf_sweep_unconverged(&st.sweep, &hit, &stalled) > 0)
            /* scikit-learn's ConvergenceWarning, once per sweep. */
            hf_warn("%zu of %zu trials did not converge on at least one split (%zu stopped at "
                    "max_iter, %zu in the line search before tol): their scores are of "
                    "unconverged models; raise model.params.max_iter or scale the features "
                    "(preprocess.scale: standard); trials.csv has n_iter and converged",
                    hit + stalled, n_trials, hit, stalled);
        if (result >= 0 && st.sweep.best < 0) {
            info.seconds = hf_now() - t0;
            hf_results_write(&st.sweep, spec, trials, &info);
            result =
                hf_error(HF_ENUM, "every trial failed; see %s/trials.csv for the reasons", run_dir);
        }
        best = st.sweep.best;
    }
    if ((result = hf_comm_check(world, result)) < 0 ||
        (result = hf_comm_bcast(world, &best, sizeof best, 0)) < 0)
        goto out;
    int refit_rank = group ? rank < hf_comm_size(group_comm) : rank == 0;
    if (refit_rank) {
        /* The speculative refit, if it guessed the winner, is the refit. */
        int hit = rank == 0 && st.spec_trial == best;
        info.speculative_refit = hit;
        result = refit_and_export(spec, data, folds, model, trials, (int)best, group,
                                  rank == 0 ? &st.sweep : NULL, model_path,
                                  hf_manifest_fingerprint(manifest), &info,
                                  hit ? &st.spec_prep : NULL, hit ? &st.spec_fitted : NULL);
    }
    if (rank == 0) {
        info.seconds = hf_now() - t0;
        int rc = hf_results_write(&st.sweep, spec, trials, &info);
        if (result >= 0)
            result = rc;
        if (result >= 0 && spec->output.upload)
            result = upload_outputs(spec, run_dir, &sopts, quiet);
        if (result >= 0 && !quiet) {
            size_t b = (size_t)best;
            char *p = hf_trial_params_json(spec, &trials[b]);
            hf_info("best trial %zu: %s = %.6g (std %.3g) %s", b, metrics[0],
                    st.sweep.mean[b * n_metrics], st.sweep.std[b * n_metrics], p ? p : "");
            if (info.holdout_valid)
                hf_info("holdout %s = %.6g on %zu rows", metrics[0], holdout_scores[0],
                        folds->n_holdout);
            hf_info("wrote %s/results.json, trials.csv, model.h5 (%.2fs)", run_dir, hf_now() - t0);
            free(p);
        }
    }
    result = hf_comm_check(world, result);
out:
    hf_group_set_active(NULL);
    hf_group_free(&group);
    hf_comm_free(&group_comm);
    hf_prep_free(st.spec_prep);
    hf_fitted_free(st.spec_fitted);
    hf_task_ctx_release(&ctx);
    hf_task_list_free(&tasks);
    hf_sweep_free(&st.sweep);
    free(st.done);
    if (trials)
        hf_trials_free(trials, n_trials, spec->n_params);
    free(metrics);
    hf_folds_free(folds);
    hf_dataset_free(data);
    hf_manifest_free(manifest);
    hf_spec_free(spec);
    free(run_dir);
    free(shard_dir);
    free(journal_path);
    free(model_path);
    free(audit_path);
    free(rejects_path);
    free(spec_copy);
    free(holdout_scores);
    return result;
}

/* ---- validate ----------------------------------------------------------------------------- */

/* Removes a directory tree we created (the scratch shards of validate). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void print_schema(FILE *fp, const hf_manifest *m)
{
    const hf_schema *s = hf_manifest_schema(m);
    fprintf(fp, "schema:     %lld rows", (long long)hf_manifest_n_rows(m));
    if (hf_manifest_rejected(m))
        fprintf(fp, " (%lld bad rows would be skipped)", (long long)hf_manifest_rejected(m));
    fprintf(fp, ", %zu features\n", s->n_features);
    for (size_t j = 0; j < s->n_features; j++) {
        const hf_column *c = &s->features[j];
        fprintf(fp, "  %-30s %s", c->name,
                c->type == HF_COL_NUMERIC   ? "numeric"
                : c->type == HF_COL_BOOLEAN ? "boolean"
                                            : "categorical");
        if (c->type == HF_COL_CATEGORICAL) {
            fprintf(fp, " (%zu values:", c->n_categories);
            for (size_t k = 0; k < c->n_categories && k < 5; k++)
                fprintf(fp, " %s", c->categories[k]);
            fprintf(fp, "%s)", c->n_categories > 5 ? " ..." : "");
        }
        fputc('\n', fp);
    }
    fprintf(fp, "  %-30s target, %s", s->target,
            s->task == HF_TASK_CLASSIFICATION ? "classification" : "regression");
    if (s->task == HF_TASK_CLASSIFICATION) {
        fprintf(fp, " (%zu classes:", s->n_classes);
        for (size_t k = 0; k < s->n_classes && k < 10; k++)
            fprintf(fp, " %s", s->classes[k]);
        fprintf(fp, "%s)", s->n_classes > 10 ? " ..." : "");
    }
    fputc('\n', fp);
}

int hf_cmd_validate(hf_comm *world, int argc, char **argv)
{
    const char *path = NULL;
    int with_data = 1, rank = hf_comm_rank(world);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (rank == 0)
                printf(
                    "usage: hyperfold validate JOB.yaml [--no-data]\n\n"
                    "Checks the job spec, reads the data once to infer and print its schema\n"
                    "(column types, categories, classes) and to check what depends on it\n"
                    "(a class smaller than the number of folds, a metric that does not fit the\n"
                    "task), and prints the trials it would run. Writes nothing: the data is\n"
                    "parsed into a scratch directory that is removed.\n"
                    "  --no-data   check the spec alone, without reading the data\n"
                    "Exit codes: 0 valid, 2 invalid (one line naming file:line:column, the key,\n"
                    "the value and what was expected).\n");
            return HF_OK;
        } else if (strcmp(argv[i], "--no-data") == 0) {
            with_data = 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return hf_error(HF_EINVAL, "validate: unknown option %s", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return hf_error(HF_EINVAL, "validate: more than one job spec given");
        }
    }
    if (!path)
        return hf_error(HF_EINVAL, "validate: no job spec given (usage: hyperfold validate "
                                   "JOB.yaml)");
    hf_spec *spec = NULL;
    hf_trial *trials = NULL;
    hf_manifest *m = NULL;
    hf_dataset *d = NULL;
    char scratch[] = "/tmp/hyperfold-validate.XXXXXX";
    size_t n = 0;
    int made = 0;
    int rc = hf_spec_load_collective(world, path, &spec);
    if (rc >= 0)
        rc = hf_comm_check(world, hf_spec_trials(spec, &trials, &n));
    if (rc >= 0 && rank == 0)
        rc = hf_spec_print(spec, trials, n, stdout);
    if (rc < 0 || !with_data)
        goto out;
    if (rank == 0 && !mkdtemp(scratch))
        rc = hf_error(HF_EIO, "creating a scratch directory in /tmp");
    made = rc >= 0;
    if ((rc = hf_comm_check(world, rc)) >= 0)
        rc = hf_comm_bcast(world, scratch, sizeof scratch, 0);
    if (rc < 0)
        goto out;
    char *shards = hf_asprintf("%s/shards", scratch);
    char *rejects = hf_asprintf("%s/rejects.csv", scratch);
    hf_source_opts so = {.spec = spec, .rank = rank};
    int reused = 0;
    rc = shards && rejects ? hf_ingest(world, spec, shards, &so,
                                       spec->data.skip_bad_rows ? rejects : NULL, &m, &reused)
                           : HF_ENOMEM;
    rc = hf_comm_check(world, rc);
    if (rc >= 0)
        rc = hf_shards_load(shards, m, &d);
    if (rc >= 0)
        rc = hf_spec_resolve_task(spec, d->schema->task);
    if (rc >= 0)
        rc = hf_spec_check_data(spec, d->schema, d->y, d->n_rows);
    hf_folds *folds = NULL;
    if (rc >= 0)
        rc = hf_folds_make(spec, d, &folds);
    rc = hf_comm_check(world, rc);
    if (rc >= 0 && rank == 0) {
        print_schema(stdout, m);
        printf("splits:     %zu (%zu search rows, %zu holdout rows)\n", folds->n_splits,
               folds->n_search, folds->n_holdout);
    }
    hf_folds_free(folds);
    free(shards);
    free(rejects);
out:
    if (made && rank == 0)
        nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    hf_dataset_free(d);
    hf_manifest_free(m);
    if (trials)
        hf_trials_free(trials, n, spec->n_params);
    hf_spec_free(spec);
    return rc;
}
