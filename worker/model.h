/* model.h - the one small interface every model implements.
 *
 * A model is one file in worker/models/ that defines a const hf_model_ops and is listed in
 * worker/registry.c. A fit call trains one model per parameter set on the same training rows, so
 * trials that share work (every alpha of a ridge sweep shares the fold's Gram matrix and its
 * eigendecomposition) do it once. Fitted models are a list of named dense arrays (coefficients,
 * intercepts, ...) and of named byte blobs (a library's serialised model: xgboost's booster as
 * JSON), which coordinator/modelfile.c writes to model.h5 without knowing the model. A model whose
 * state is a library object keeps it in hf_fitted.state, serialises it into blobs when the model
 * is exported (save_state) and rebuilds it from them when it is read (load_state). */
#ifndef HF_MODEL_H
#define HF_MODEL_H

#include "common/dataset.h"
#include "common/value.h"
#include "worker/group.h"

#include <stddef.h>
#include <stdint.h>

/* Parameter metadata: drives validation of model.params and the docs. */
typedef struct hf_param_def {
    const char *name;
    hf_value_type type;         /* NUMBER, INT, BOOL or STRING */
    const char *default_text;   /* as written in YAML: "1.0", "true", "rbf" */
    double min, max;            /* inclusive bounds for NUMBER/INT */
    int min_exclusive;          /* 1: value must be > min */
    const char *const *choices; /* STRING: NULL-terminated allowed values */
    const char *help;
    unsigned flags; /* HF_PARAM_* */
} hf_param_def;

/* Table entries: a number in [MIN, MAX] (> MIN when MIN_EXCL), an integer in [MIN, MAX], a
 * boolean, one of the NULL-terminated CHOICES; DEF is the default as YAML writes it. */
#define HF_PARAM_NUMBER(NAME, DEF, MIN, MAX, MIN_EXCL, HELP)                                       \
    {                                                                                              \
        (NAME), HF_VAL_NUMBER, (DEF), (MIN), (MAX), (MIN_EXCL), NULL, (HELP), 0                    \
    }
#define HF_PARAM_INT(NAME, DEF, MIN, MAX, HELP)                                                    \
    {                                                                                              \
        (NAME), HF_VAL_INT, (DEF), (MIN), (MAX), 0, NULL, (HELP), 0                                \
    }
#define HF_PARAM_BOOL(NAME, DEF, HELP)                                                             \
    {                                                                                              \
        (NAME), HF_VAL_BOOL, (DEF), 0, 1, 0, NULL, (HELP), 0                                       \
    }
#define HF_PARAM_CHOICE(NAME, DEF, CHOICES, HELP)                                                  \
    {                                                                                              \
        (NAME), HF_VAL_STRING, (DEF), 0, 0, 0, (CHOICES), (HELP), 0                                \
    }

/* The value may be written as a number or as a text (preprocessing's impute.fill_value: a
 * number for numeric columns, a text for categorical ones); `type` is then NUMBER and a text is
 * kept as a STRING value. */
#define HF_PARAM_NUMBER_OR_TEXT 1u

/* A named dense array of a fitted model (row-major rows x cols). */
typedef struct hf_array {
    char *name;
    size_t rows, cols;
    double *data;
} hf_array;

/* A named byte array of a fitted model: a library's own serialisation, with its format ("json",
 * "ubj") so that the library of another language can load it. */
typedef struct hf_blob {
    char *name;
    char *format;
    unsigned char *data;
    size_t len;
} hf_blob;

struct hf_model_ops;

/* Why a fit stopped. Direct solvers always converge. An iterative solver that stopped before its
 * convergence test held reports it (scikit-learn's ConvergenceWarning cases): its model is still
 * used and scored, and the sweep reports how many trials did not converge. */
typedef enum hf_fit_stop {
    HF_FIT_CONVERGED = 0, /* the solver's convergence test held */
    HF_FIT_MAX_ITER = 1,  /* max_iter iterations done without converging */
    HF_FIT_STALLED = 2    /* the line search could make no progress before the test held */
} hf_fit_stop;

/* "converged", "max_iter" or "stalled". */
const char *hf_fit_stop_name(int stop);

typedef struct hf_fitted {
    const struct hf_model_ops *ops;
    size_t n_features; /* columns of the design matrix it was fitted on */
    size_t n_outputs;  /* predict() columns: 1 for regression, n_classes for classification */
    hf_array *arrays;
    size_t n_arrays;
    hf_blob *blobs; /* see hf_fitted_blob */
    size_t n_blobs;
    void *state;   /* the model's library object, owned (freed by ops->free_state); or NULL */
    double n_iter; /* iterations used (iterative solvers; boosting rounds kept), 0 otherwise */
    int stop;      /* why an iterative solver stopped: hf_fit_stop (HF_FIT_CONVERGED by default) */
} hf_fitted;

/* The training rows of one task, already preprocessed into a dense design matrix. */
typedef struct hf_fit_data {
    const double *X; /* n x p row-major; or, with rows, the table's rows (any number of them) */
    size_t n, p;
    const double *y;  /* regression target, or class index 0..n_classes-1 */
    size_t n_classes; /* 0 for regression */
    /* The worker group that fits together (distributed models: the fit is collective over it);
     * NULL = this rank alone. */
    const hf_group *group;
    /* NULL, or training row i is X + rows[i] * p (models that set accepts_rows only: it spares a
     * copy of the training rows). */
    const int64_t *rows;
    /* With rows: the table X points into (its targets, number of rows and identity, hf_dataset.id;
     * NULL = unknown). A model may keep work on the whole table across fit calls: ridge keeps the
     * table's Gram matrix, from which a fold's is one subtraction away. */
    const hf_dataset *table;
    /* The split's validation rows (n_valid x p, preprocessed like X) and their targets, and the
     * objective's metric (worker/metrics.h): for a model that stops early on them (xgboost's
     * early_stopping_rounds). NULL / 0 for a refit, which has no validation rows. */
    const double *X_valid, *y_valid;
    size_t n_valid;
    const char *metric;
    /* 1: X (or rows) holds only this group rank's share of the training rows
     * (parallel.data_parallel); the fit is collective over `group`, combines the shares and gives
     * every group rank the same model. 0: every group rank holds all the training rows. */
    int row_shard;
    /* NULL, or p flags: 1 where design column j is a categorical feature holding a level's code
     * 0, 1, ... (NaN: missing or unknown), preprocess.categorical native; only for models that
     * set native_categorical. */
    const unsigned char *categorical;
    /* Not 0: a later fit call of this sweep may ask for the same parameters on the same rows with
     * a larger budget (resource_param; search.strategy hyperband and asha promote trials), so the
     * model may keep what continuing this fit needs (xgboost: the booster, docs/models.md), up to
     * this many bytes in the process. 0: keep nothing. */
    size_t resumable;
} hf_fit_data;

typedef struct hf_model_ops {
    const char *name; /* "ridge" */
    unsigned tasks;   /* bit mask of (1u << HF_TASK_REGRESSION) | (1u << HF_TASK_CLASSIFICATION) */
    const hf_param_def *params;
    size_t n_params;
    /* Fits one model per parameter set. params[t] is an array of n_params values in the order of
     * `params` above (defaults filled in). out[t] receives a new hf_fitted (caller frees with
     * hf_fitted_free). Trials the model cannot fit (no convergence, singular system) return an
     * error for the whole call; the worker then retries them one at a time to isolate the failure.
     */
    int (*fit)(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
               hf_fitted **out);
    /* n x n_outputs: predicted value (regression) or class probabilities (classification).
     * Collective over g when g has several ranks and the model is distributed (kernel_ridge:
     * every group rank calls with the same rows); NULL = on this rank alone, which every model
     * can do (batch prediction). */
    int (*predict)(const hf_fitted *m, const hf_group *g, const double *X, size_t n, size_t p,
                   double *out);
    /* Optional: the predictions of k models fitted by one fit call, on the same n rows, faster
     * than k predict calls (linear models: one DGEMM). out holds k blocks of n x n_outputs, model
     * t's at out + t * n * n_outputs. Used for cross-validation scores, where the rows and k are
     * fixed by the task, so the results stay independent of the number of ranks; batch
     * prediction, whose rows are split by rank, uses predict. NULL = k predict calls. */
    int (*predict_many)(hf_fitted *const *m, size_t k, const double *X, size_t n, size_t p,
                        double *out);
    /* Optional: the name of the one parameter in which trials may differ and still be fitted in
     * one call that shares their work (ridge: "alpha", one eigendecomposition for every alpha);
     * every other parameter must be equal. NULL = each trial is fitted alone. */
    const char *shared_param;
    /* Optional: the integer parameter that is this model's training budget, which
     * search.strategy hyperband gives each rung (xgboost, random_forest: "n_estimators";
     * logistic_regression, elastic_net: "max_iter"). NULL = none. */
    const char *resource_param;
    /* 1 if fit reads the training rows through hf_fit_data.rows (no copy of them is made). */
    int accepts_rows;
    /* 1 if, given rows and table and y NULL, fit reads training row i's target as
     * table->y[rows[i]] (on one rank: worker/task.c then copies no targets). Needs accepts_rows. */
    int table_targets;
    /* Optional: refuses, before the sweep starts, a task that would not fit in memory_per_rank
     * bytes per rank (0 = no limit) on `group` (worker/group.h; NULL = one rank): n training rows,
     * p features, up to n_trials trials in one fit call. NULL = no check. */
    int (*preflight)(const hf_group *group, size_t n, size_t p, size_t n_trials,
                     uint64_t memory_per_rank);
    /* Optional, for models whose state is a library object: save_state serialises m->state into
     * m->blobs (before export), load_state rebuilds m->state from m->blobs (after a model file is
     * read), free_state frees m->state. */
    int (*save_state)(hf_fitted *m);
    int (*load_state)(hf_fitted *m);
    void (*free_state)(hf_fitted *m);
    /* Optional: the parameters of the refit on every search row, from the trial's parameters and
     * the iterations its model used on each split (n_splits of them, NaN where a split failed):
     * xgboost with early stopping refits the mean of the folds' best rounds. out has n_params
     * values (shallow copies of params'); NULL = the trial's own parameters. */
    int (*refit_params)(const hf_value *params, const double *split_iters, size_t n_splits,
                        hf_value *out);
    /* Optional: refuses a combination of parameter values the model cannot fit for `task`
     * (HF_TASK_AUTO while the task is not known yet): an hf_error whose message starts with the
     * parameter at fault ("objective: got ..., expected ..."), whose name goes to *key so that
     * the spec can say where it is set. The bounds of each parameter are checked before, from
     * its hf_param_def; this is for what one value means with another. NULL = no check. */
    int (*check_params)(const hf_value *params, hf_task_kind task, const char **key);
    /* 1 if missing values (NaN) may reach fit and predict (xgboost learns where they go): the
     * preprocessing then leaves numeric columns unimputed unless the spec asks otherwise. */
    int handles_missing;
    int data_parallel; /* 1: fit accepts row_shard data */
    /* 1 if fit takes categorical features (hf_fit_data.categorical) and the fitted model
     * predicts from the same codes (preprocess.categorical native); 0: the spec refuses them. */
    int native_categorical;
    /* Optional: frees what the model kept across fit calls for resumable fits (at the end of a
     * sweep) and adds to counts[0] the fits that continued earlier work and to counts[1] the
     * budget (rounds) they did not redo, since the last call. NULL = it keeps nothing. */
    void (*sweep_end)(uint64_t counts[2]);
} hf_model_ops;

/* Registry (worker/registry.c). */
const hf_model_ops *hf_model_find(const char *name);
/* NULL-terminated list of all models. */
const hf_model_ops *const *hf_model_all(void);
/* Index of a parameter by name, or -1. */
long hf_model_param_index(const hf_model_ops *ops, const char *name);
/* Orders two parameter sets of `ops` by every parameter but its shared_param (numbers by value,
 * texts by strcmp): 0 when they may be fitted in one call. Not collective. */
int hf_model_share_cmp(const hf_model_ops *ops, const hf_value *a, const hf_value *b);
/* Parses a default_text into a value of the parameter's type. */
int hf_model_param_default(const hf_param_def *def, hf_value *out);

/* Helpers for model files. */
hf_fitted *hf_fitted_new(const hf_model_ops *ops, size_t n_features, size_t n_outputs,
                         size_t n_arrays);
/* Allocates arrays[i] with the given name and shape (zeroed); returns its data or NULL. */
double *hf_fitted_array(hf_fitted *m, size_t i, const char *name, size_t rows, size_t cols);
/* The array named `name`, or NULL. */
const hf_array *hf_fitted_get(const hf_fitted *m, const char *name);
/* Appends a blob (copies name, format and the len bytes of data). Not collective. */
int hf_fitted_add_blob(hf_fitted *m, const char *name, const char *format, const void *data,
                       size_t len);
/* The blob named `name`, or NULL. */
const hf_blob *hf_fitted_blob(const hf_fitted *m, const char *name);
void hf_fitted_free(hf_fitted *m);
/* Scores of k linear models (arrays "coef", rows x p, and "intercept", 1 x rows) on n rows:
 * Z (R x n, R = the models' coef rows together, model by model) = coef X^T + intercept, with one
 * DGEMM. For predict_many. */
int hf_linear_scores(hf_fitted *const *m, size_t k, const double *X, size_t n, size_t p, double *Z);
/* predict of a linear regression model (arrays "coef" 1 x p and "intercept" 1 x 1): one dot
 * product per row, so that a row's prediction does not depend on how many rows share the call
 * (batch prediction splits the rows by rank). The group is not used. */
int hf_linear_predict(const hf_fitted *m, const hf_group *g, const double *X, size_t n, size_t p,
                      double *out);

#endif
