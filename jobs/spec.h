/* spec.h - the job spec: what a user writes in job.yaml, parsed and validated.
 *
 * hf_spec_load() parses the YAML with libyaml, checks every key against the schema documented in
 * docs/job-spec.md, fills in defaults and returns an hf_spec. Every error is one line of the form
 *   job.yaml:12:5: model.params.alpha: got "abc", expected a number or a distribution
 * recorded with hf_error(HF_EINVAL, ...). Unknown keys get a "did you mean" suggestion. */
#ifndef HF_SPEC_H
#define HF_SPEC_H

#include "common/dataset.h"
#include "common/value.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum hf_cv_strategy {
    HF_CV_KFOLD = 0,
    HF_CV_STRATIFIED,
    HF_CV_PREDEFINED,
    HF_CV_GROUP,
    HF_CV_TIMESERIES
} hf_cv_strategy;

typedef enum hf_search_strategy { HF_SEARCH_GRID = 0, HF_SEARCH_RANDOM } hf_search_strategy;

typedef enum hf_param_kind {
    HF_PARAM_FIXED = 0,   /* a scalar: `max_iter: 500` */
    HF_PARAM_CHOICE,      /* a list: `fit_intercept: [true, false]` (a grid axis) */
    HF_PARAM_UNIFORM,     /* {uniform: [lo, hi]} */
    HF_PARAM_LOG_UNIFORM, /* {log_uniform: [lo, hi]} */
    HF_PARAM_INT_UNIFORM  /* {int_uniform: [lo, hi]}, inclusive */
} hf_param_kind;

/* Where a value stood in the spec file, for error messages. */
typedef struct hf_spec_loc {
    int line, column; /* 1-based; 0 if unknown (a default) */
} hf_spec_loc;

/* One searchable or fixed parameter. Model parameters are named as in the model ("alpha");
 * preprocessing parameters carry the "preprocess." prefix ("preprocess.scale"). */
typedef struct hf_param_space {
    char *name;
    hf_param_kind kind;
    hf_value fixed;    /* FIXED */
    hf_value *choices; /* CHOICE */
    size_t n_choices;
    double low, high; /* UNIFORM, LOG_UNIFORM, INT_UNIFORM */
    int grid_points;  /* for a distribution in a grid search; 0 = not given */
    hf_spec_loc loc;
    hf_value_type value_type; /* type of this parameter's values in trials (the hf_param_def's) */
} hf_param_space;

/* One trial: a value for every parameter of the space, in the order of hf_spec.params. */
typedef struct hf_trial {
    int id; /* 0-based, dense */
    hf_value *values;
} hf_trial;

typedef struct hf_column_override {
    char *name;
    hf_col_type type;
} hf_column_override;

typedef struct hf_spec {
    char *path;      /* the spec file as given */
    char *text;      /* its bytes (copied into the run directory) */
    char sha256[65]; /* hex SHA-256 of text */
    char *name;      /* job name: [A-Za-z0-9._-]+ */

    struct {
        char *source; /* path, file://, s3://, http(s):// */
        char *target;
        hf_task_kind task; /* the task: given, implied (task_why), or AUTO until ingest */
        /* What decided data.task before ingest: "data.task", "model.type ridge" (a model of one
         * task), "objective.metric roc_auc" (a metric's task); "" while it is AUTO. */
        char task_why[96];
        char delimiter;   /* 0 = detect */
        char **na_values; /* default "", "NA", "NaN", "null", "?" */
        size_t n_na_values;
        hf_column_override *columns;
        size_t n_columns;
        char **drop;
        size_t n_drop;
        int skip_bad_rows; /* data.on_bad_rows: error (0) | skip (1) */
    } data;

    struct {
        int count; /* 0 = number of ranks */
    } shards;

    struct {
        int folds;               /* default 5 */
        hf_cv_strategy strategy; /* default kfold, stratified for classification */
        int strategy_given;      /* 1 if the spec named a strategy */
        char *fold_column;
        char *group_column;
        char *order_column;
        uint64_t seed;  /* default 0 */
        int repeats;    /* default 1 */
        double holdout; /* 0 = none */
        hf_spec_loc folds_loc, strategy_loc;
    } cv;

    char *model_type; /* "ridge", "logistic_regression", ... */
    hf_spec_loc model_type_loc;
    /* The search space: model.params, then the preprocess.* settings, in spec order. */
    hf_param_space *params;
    size_t n_params;

    struct {
        hf_search_strategy strategy; /* default grid */
        int trials;                  /* random: number of trials (default 10) */
        uint64_t seed;
        int error_score_given;
        double error_score; /* score of a failed task; default: worst value (NAN -> worst) */
    } search;

    struct {
        char *metric; /* default r2 (regression) / accuracy (classification) */
        char **report;
        size_t n_report;
        hf_spec_loc metric_loc;
    } objective;

    struct {
        char *dir;    /* default "runs" */
        char *upload; /* s3://bucket/prefix/ or NULL */
        char *sse;    /* NULL, "AES256", "aws:kms" */
        char *kms_key_id;
    } output;

    struct {
        char *endpoint; /* NULL = AWS_ENDPOINT_URL or AWS */
        char *region;   /* NULL = AWS_REGION / AWS_DEFAULT_REGION / us-east-1 */
        int path_style; /* -1 = auto (path style when an endpoint is set) */
    } s3;

    struct {
        int ranks_per_task;       /* default 1 */
        int grid_rows, grid_cols; /* 0 = auto */
        int block_size;           /* 0 = default */
        uint64_t memory_per_rank; /* bytes, 0 = unlimited */
    } parallel;

    struct {
        char *partition, *account, *time;
        int nodes, ntasks_per_node;
    } slurm;
} hf_spec;

/* Parses and validates `path`. Not collective (rank 0 parses; the text is broadcast and parsed
 * again with hf_spec_parse on the other ranks). On error returns HF_EINVAL with the message set and
 * *out = NULL. shards.count stays 0 (= number of ranks) unless the spec gives it. */
int hf_spec_load(const char *path, hf_spec **out);
/* Parses a spec from memory; `path` is used in messages and stored. */
int hf_spec_parse(const char *path, const char *text, size_t len, hf_spec **out);
void hf_spec_free(hf_spec *spec);

/* Index of a parameter in spec->params by name, or -1. */
long hf_spec_param_index(const hf_spec *spec, const char *name);

/* Expands the search space into trials: grid = the product of the axes in spec order (last axis
 * fastest); random = search.trials draws, trial t drawn from hf_rng_init(search.seed, t, 0).
 * Caller frees with hf_trials_free. */
int hf_spec_trials(const hf_spec *spec, hf_trial **trials, size_t *n_trials);
void hf_trials_free(hf_trial *trials, size_t n_trials, size_t n_params);

/* Checks what can only be checked once the data is known (stratified on a regression target,
 * more folds than rows of a class, ...), with the same message format. */
int hf_spec_check_data(const hf_spec *spec, const hf_schema *schema, const double *y,
                       size_t n_rows);

/* One line that says what decided data.task and how to change it, for messages about a target
 * that does not fit the task, e.g. "data.task is classification, implied by model.type
 * logistic_regression: for a continuous target use a regression model (ridge, kernel_ridge)".
 * Borrowed from a static buffer of this thread. Not collective. */
const char *hf_spec_task_hint(const hf_spec *spec);

/* Fills in what depends on the task once it is known (after ingest, on every rank): sets
 * data.task if it was AUTO, cv.strategy (stratified for classification unless the spec named one)
 * and objective.metric (r2 / accuracy unless given), and refuses a metric or cv strategy that does
 * not fit the task. `task` must not be AUTO. Not collective. Until it is called on a spec whose
 * task is AUTO, objective.metric may be NULL. */
int hf_spec_resolve_task(hf_spec *spec, hf_task_kind task);

/* Prints a readable summary of the spec and a table of the trials (at most 50 rows, then
 * "... N more") to `out`; trials may be NULL. Used by `hyperfold validate`. Not collective. */
int hf_spec_print(const hf_spec *spec, const hf_trial *trials, size_t n_trials, FILE *out);

/* The parameter values of a trial as a compact JSON object, e.g.
 * {"alpha":0.01,"fit_intercept":true} (numbers as JSON reals in their shortest round-trip form,
 * ints as integers, bools, strings), in the order of spec->params. Caller frees with free(); NULL
 * on error (message set). */
char *hf_trial_params_json(const hf_spec *spec, const hf_trial *t);

/* Damerau-Levenshtein (optimal string alignment) distance between two strings. */
size_t hf_spec_edit_distance(const char *a, const char *b);
/* The candidate closest to `word` if it is close enough to be a likely typo, else NULL.
 * Borrowed from `candidates` (n entries, or NULL-terminated when n == 0). */
const char *hf_spec_suggest(const char *word, const char *const *candidates, size_t n);

#endif
