/* spec.h - the job spec: what a user writes in job.yaml, composed of the options of the modules it
 * configures.
 *
 * hf_spec_parse() reads the YAML with libyaml and binds each section into the options struct of
 * the module that owns it, through that module's table (common/opts.h, jobs/bind.c): data and
 * shards (shards/ingest.h), cv (worker/folds.h), model (worker/model.h: the model's parameter
 * table), preprocess (worker/preprocess.h: the settings table), search (jobs/search.h), objective
 * (worker/metrics.h), output (jobs/rundir.h), s3 (shards/source.h), parallel (worker/group.h),
 * slurm (slurm/slurm.h). Every error is one line of the form
 *   job.yaml:12:5: model.params.alpha: got "abc", expected a number or a distribution
 * recorded with hf_error(HF_EINVAL, ...). Unknown keys get a "did you mean" suggestion. The rules
 * between sections (the task rule, a cv column that is the target) are checked here.
 *
 * Commands pass each module only its section: hf_ingest(..., &spec->data, ...),
 * hf_folds_make(&spec->cv, ...). */
#ifndef HF_SPEC_H
#define HF_SPEC_H

#include "common/dataset.h"
#include "common/opts.h"
#include "common/value.h"
#include "jobs/rundir.h"
#include "jobs/search.h"
#include "shards/ingest.h"
#include "shards/s3.h"
#include "shards/source.h"
#include "slurm/slurm.h"
#include "worker/folds.h"
#include "worker/group.h"
#include "worker/metrics.h"
#include "worker/model.h"
#include "worker/preprocess.h"
#include "worker/task.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where a key stood in the spec file ("cv.folds" at 7:10). */
typedef struct hf_spec_key {
    char *key;
    int line, column; /* 1-based */
} hf_spec_key;

typedef struct hf_spec {
    char *path;      /* the spec file as given */
    char *text;      /* its bytes (copied into the run directory) */
    char sha256[65]; /* hex SHA-256 of text */
    char *name;      /* job name: [A-Za-z0-9._-]+ */

    hf_ingest_opts data; /* data: and shards: */
    hf_cv_opts cv;
    char *model_type; /* "ridge", "logistic_regression", ... */
    /* The search space: every model parameter, then the preprocess settings given, spec order. */
    hf_space space;
    hf_search_opts search;
    hf_objective_opts objective;
    hf_output_opts output;
    hf_s3_config s3;
    hf_parallel_opts parallel;
    hf_slurm_opts slurm;

    /* What decided data.task before ingest: "data.task", "model.type ridge" (a model of one
     * task), "objective.metric roc_auc" (a metric's task); "" while it is AUTO. */
    char task_why[96];
    /* Where every key given was (the binder's record, for hf_opt_where). */
    hf_spec_key *keys;
    size_t n_keys;
} hf_spec;

/* Parses and validates `path`. Not collective (rank 0 parses; the text is broadcast and parsed
 * again with hf_spec_parse on the other ranks). On error returns HF_EINVAL with the message set and
 * *out = NULL. shards.count stays 0 (= number of ranks) unless the spec gives it. */
int hf_spec_load(const char *path, hf_spec **out);
/* Parses a spec from memory; `path` is used in messages and stored. */
int hf_spec_parse(const char *path, const char *text, size_t len, hf_spec **out);
void hf_spec_free(hf_spec *spec);

/* "FILE:LINE:COL" where `key` ("cv.folds", "model.params.alpha", "objective.report[1]") was
 * given, else the file (a default), into buf. Not collective. */
const char *hf_spec_where(const hf_spec *spec, const char *key, char *buf, size_t len);

/* Expands the search space into trials (jobs/search.h). Caller frees with hf_trials_free. */
int hf_spec_trials(const hf_spec *spec, hf_trial **trials, size_t *n_trials);

/* Checks what can only be checked once the data is known (stratified on a regression target,
 * more folds than rows of a class, ...), with the same message format. */
int hf_spec_check_data(const hf_spec *spec, const hf_schema *schema, const double *y,
                       size_t n_rows);

/* Fills in what depends on the task once it is known (after ingest, on every rank): sets
 * data.task if it was AUTO and objective.metric (r2 / accuracy unless given), and refuses a
 * model, metric or cv strategy that does not fit the task. `task` must not be AUTO. Not
 * collective. */
int hf_spec_resolve_task(hf_spec *spec, hf_task_kind task);

/* One line that says what decided data.task and how to change it, for messages about a target
 * that does not fit the task, e.g. "data.task is classification, implied by model.type
 * logistic_regression: for a continuous target use a regression model (ridge, kernel_ridge)".
 * Borrowed from a static buffer of this thread. Not collective. */
const char *hf_spec_task_hint(const hf_spec *spec);

/* The identity of what decides a sweep's tasks and their scores, for its journal: the hashed
 * settings of every section (data, cv, objective, search), the model, every trial's parameters
 * and the metrics, as SHA-256 hex. Output, s3, parallel and slurm settings are not part of it,
 * so changing them resumes. Not collective. */
int hf_spec_sweep_id(const hf_spec *spec, const hf_trial *trials, size_t n_trials,
                     const char *const *metrics, size_t n_metrics, char out[65]);

/* Prints a readable summary of the spec and a table of the trials (at most 50 rows, then
 * "... N more") to `out`; trials may be NULL. Used by `hyperfold validate`. Not collective. */
int hf_spec_print(const hf_spec *spec, const hf_trial *trials, size_t n_trials, FILE *out);

/* Not collective. Decodes trials[0..n) (of spec's space) once into what the worker needs
 * (worker/task.h): the model's parameter values in the model's order (shallow copies: strings
 * borrow the trials') and the preprocessing configuration. *out is the caller's
 * (hf_trial_configs_free); a combination of preprocessing settings that does not go together is
 * refused with the position of the setting. */
int hf_spec_decode_trials(const hf_spec *spec, const hf_model_ops *model, const hf_trial *trials,
                          size_t n, hf_trial_config **out);
void hf_trial_configs_free(hf_trial_config *c, size_t n);

#endif
