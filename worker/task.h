/* task.h - one unit of sweep work: a batch of trials that share work, on one split.
 *
 * The task list is derived deterministically from the decoded trials (their model values and
 * preprocessing, the model's can_share) and the splits, so the same spec always gives the same
 * list and a task is named by its index alone (a grid or random sweep's list is rank 0's: other
 * ranks get each task's definition with it, hf_task.configs). Results do not depend on which rank
 * runs a task or in which order. The worker never sees the job spec: jobs/ decodes each trial once
 * (hf_trial_config). */
#ifndef HF_TASK_H
#define HF_TASK_H

#include "common/dataset.h"
#include "worker/folds.h"
#include "worker/group.h"
#include "worker/model.h"
#include "worker/preprocess.h"

#include <stddef.h>

typedef struct hf_task {
    int id;
    int split;   /* index into hf_folds.splits */
    int *trials; /* trial ids of this batch, ascending */
    size_t n_trials;
    /* The batch's trials decoded (n_trials), on a rank that holds no decoded trial list (a worker
     * of a grid or random sweep: coordinator/scheduler.c materialises them from the trial ids);
     * NULL: ctx->trials[trial]. Not owned by the list. */
    const struct hf_trial_config *configs;
} hf_task;

typedef struct hf_task_list {
    hf_task *tasks;
    size_t n_tasks;
} hf_task_list;

/* One trial as the worker needs it: the model's parameter values (in the model's parameter order,
 * every parameter present) and the preprocessing configuration. Built by jobs/
 * (hf_spec_decode_trials). */
typedef struct hf_trial_config {
    const hf_value *model; /* model->n_params values */
    hf_prep_config prep;
} hf_trial_config;

/* Failure tests' hooks (docs/architecture.md, "Test hooks"); the commands fill them from the
 * environment, the worker only reads them. Zeroed: none. */
typedef struct hf_task_hooks {
    const int *fail_trials; /* these trials fail on every split with "injected failure" */
    size_t n_fail_trials;
    long delay_ms; /* every task sleeps this long first */
    /* Scheduler benchmarks and tests (bench/dispatch.sh, tests/mpi/tool_sched.c): task i sleeps
     * task_seconds[i] in place of preprocessing and fit, and each of its trials scores its trial
     * id on every metric, so the whole protocol runs with tasks of a known length and no data.
     * NULL: off. */
    const double *task_seconds;
    size_t n_task_seconds;
} hf_task_hooks;

/* Everything a worker needs to run tasks; identical on every rank. */
typedef struct hf_task_ctx {
    const hf_dataset *data;
    const hf_folds *folds;
    const hf_trial_config *trials; /* n_trials decoded trials */
    size_t n_trials;
    const hf_model_ops *model;
    const char **metrics; /* objective first, then report metrics */
    size_t n_metrics;
    hf_group *group; /* the worker group that runs each task together; NULL = this rank alone */
    hf_task_hooks hooks;
    void *cache; /* per-worker preprocessing cache; owned by the worker */
    /* Not 0 under search.strategy hyperband or asha with the model's own budget: fits are
     * resumable, keeping at most this many bytes per process (hf_fit_data.resumable). */
    size_t resumable;
} hf_task_ctx;

/* The result of one trial of a task. */
typedef struct hf_trial_result {
    int trial;
    int ok;         /* 0 = failed */
    char *error;    /* reason when failed (owned) */
    double *scores; /* n_metrics */
    double fit_seconds;
    double n_iter; /* the solver's iterations (0 for direct solvers) */
    int stop;      /* hf_fit_stop: HF_FIT_CONVERGED unless an iterative solver stopped early */
} hf_trial_result;

typedef struct hf_task_result {
    int task;
    int split;
    int worker; /* rank that ran it */
    double seconds;
    hf_trial_result *trials;
    size_t n_trials;
    size_t n_metrics;
} hf_task_result;

/* Not collective. Builds the task list: trials grouped into batches of trials that the model can
 * fit together (equal but in the model's shared_param, same preprocessing), at most `max_batch`
 * each, times every split. */
int hf_task_list_make(const hf_model_ops *model, const hf_trial_config *trials, size_t n_trials,
                      size_t n_splits, size_t max_batch, hf_task_list *out);
void hf_task_list_free(hf_task_list *l);

/* Runs one task (collective over ctx->group when it is set). A trial that fails is recorded as
 * failed with its reason; only infrastructure failures (out of memory) return an error. */
int hf_task_run(hf_task_ctx *ctx, const hf_task *task, hf_task_result *out);
/* The end of the sweep's fits (not collective; once all of this process's tasks are done): with
 * ctx->resumable, frees what the model kept for resumable fits and logs what they spared. Also
 * done by hf_task_ctx_release. */
void hf_task_sweep_end(hf_task_ctx *ctx);
void hf_task_ctx_release(hf_task_ctx *ctx);

/* Serialises a result as one compact JSON line (no newline); caller frees. */
char *hf_task_result_to_json(const hf_task_result *r, const char *const *metrics, size_t n_metrics);
/* Parses what hf_task_result_to_json wrote. */
int hf_task_result_from_json(const char *text, const char *const *metrics, size_t n_metrics,
                             hf_task_result *out);
void hf_task_result_free(hf_task_result *r);

/* The configuration of a trial's refit on every search row: the trial's own, or what the model's
 * refit_params derives from the iterations it used on each split (split_iters: n_splits values,
 * NaN where a split failed). *vals is allocated for the derived values (NULL when none are:
 * free it with free(); its values are shallow copies). Not collective. */
int hf_refit_config(const hf_model_ops *model, const hf_trial_config *trial,
                    const double *split_iters, size_t n_splits, hf_trial_config *out,
                    hf_value **vals);

/* Fits the preprocessing and the model of one trial on rows[0..n) of the dataset: the refit of
 * the best trial and of retrain. Collective over `group` when it has several ranks (distributed
 * models and the PCA fit together); NULL = this rank alone. */
int hf_fit_pipeline(const hf_trial_config *trial, const hf_dataset *d, const hf_model_ops *model,
                    const int64_t *rows, size_t n, const hf_group *group, hf_prep **prep,
                    hf_fitted **fitted);
/* Applies a fitted pipeline to rows[0..n) (rows == NULL: the first n rows); out is n x n_outputs.
 * Collective over `group` when it has several ranks and the model is distributed; NULL = this
 * rank alone. */
int hf_predict_pipeline(const hf_prep *prep, const hf_fitted *fitted, const hf_group *group,
                        const hf_dataset *d, const int64_t *rows, size_t n, double *out);

#endif
