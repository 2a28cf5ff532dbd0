/* task.h - one unit of sweep work: a batch of trials that share work, on one split.
 *
 * The task list is derived deterministically from the spec (trials, splits, the model's can_share),
 * so every rank builds the same list and a task is named by its index alone. Results do not depend
 * on which rank runs a task or in which order. */
#ifndef HF_TASK_H
#define HF_TASK_H

#include "common/dataset.h"
#include "jobs/spec.h"
#include "shards/folds.h"
#include "worker/model.h"
#include "worker/preprocess.h"

#include <stddef.h>

typedef struct hf_task {
    int id;
    int split;   /* index into hf_folds.splits */
    int *trials; /* trial ids of this batch, ascending */
    size_t n_trials;
} hf_task;

typedef struct hf_task_list {
    hf_task *tasks;
    size_t n_tasks;
} hf_task_list;

/* Everything a worker needs to run tasks; identical on every rank. */
typedef struct hf_task_ctx {
    const hf_spec *spec;
    const hf_dataset *data;
    const hf_folds *folds;
    const hf_trial *trials;
    size_t n_trials;
    const hf_model_ops *model;
    const char **metrics; /* objective first, then report metrics */
    size_t n_metrics;
    void *group; /* distributed context (worker/group.h) or NULL */
    void *cache; /* per-worker preprocessing cache; owned by the worker */
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
 * fit together (can_share, same preprocessing), at most `max_batch` each, times every split. */
int hf_task_list_make(const hf_spec *spec, const hf_model_ops *model, const hf_trial *trials,
                      size_t n_trials, size_t n_splits, size_t max_batch, hf_task_list *out);
void hf_task_list_free(hf_task_list *l);

/* Runs one task (collective over ctx->group when it is set). A trial that fails is recorded as
 * failed with its reason; only infrastructure failures (out of memory) return an error. */
int hf_task_run(hf_task_ctx *ctx, const hf_task *task, hf_task_result *out);
void hf_task_ctx_release(hf_task_ctx *ctx);

/* Serialises a result as one compact JSON line (no newline); caller frees. */
char *hf_task_result_to_json(const hf_task_result *r, const char *const *metrics, size_t n_metrics);
/* Parses what hf_task_result_to_json wrote. */
int hf_task_result_from_json(const char *text, const char *const *metrics, size_t n_metrics,
                             hf_task_result *out);
void hf_task_result_free(hf_task_result *r);

/* Fits the preprocessing and the model for one parameter set on rows[0..n) of the dataset:
 * the refit of the best trial and of retrain. */
int hf_fit_pipeline(const hf_spec *spec, const hf_dataset *d, const hf_model_ops *model,
                    const hf_trial *trial, const int64_t *rows, size_t n, void *group,
                    hf_prep **prep, hf_fitted **fitted);
/* Applies a fitted pipeline to rows[0..n) (rows == NULL: the first n rows); out is n x n_outputs.
 */
int hf_predict_pipeline(const hf_prep *prep, const hf_fitted *fitted, const hf_dataset *d,
                        const int64_t *rows, size_t n, double *out);

#endif
