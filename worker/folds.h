/* folds.h - cross-validation splitters: which rows train and which validate each split.
 *
 * Every rank holds the same full dataset (rows in source order), so the splits are computed
 * identically on every rank from cv.seed: nothing here talks to MPI. Strategies and their exact
 * semantics (sizes, shuffles, tie-breaking) are documented in docs/preprocessing.md. */
#ifndef HF_FOLDS_H
#define HF_FOLDS_H

#include "common/dataset.h"
#include "common/opts.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hf_cv_strategy {
    HF_CV_AUTO = -1, /* not given: stratified for classification, kfold otherwise */
    HF_CV_KFOLD = 0,
    HF_CV_STRATIFIED,
    HF_CV_PREDEFINED,
    HF_CV_GROUP,
    HF_CV_TIMESERIES
} hf_cv_strategy;

/* The most splits (folds x repeats) a search may have: each holds its rows' indices and each
 * trial a score per split. */
#define HF_CV_MAX_SPLITS 10000

/* The job spec's cv section: this module's options (see common/opts.h). */
typedef struct hf_cv_opts {
    int folds;               /* default 5 */
    hf_cv_strategy strategy; /* default HF_CV_AUTO (hf_cv_strategy_for decides) */
    char *fold_column;       /* predefined: the column of fold numbers */
    char *group_column;      /* group: rows of one group stay in one fold */
    char *order_column;      /* timeseries: the column that orders the rows */
    uint64_t seed;           /* default 0 */
    int repeats;             /* default 1 */
    double holdout;          /* fraction held out of the search, default 0 */
    hf_opt_source src;
} hf_cv_opts;

/* The cv section's table, for the job-spec binder. */
extern const hf_opt_section hf_cv_section;
/* Not collective. The defaults. */
void hf_cv_opts_init(hf_cv_opts *o);
/* The strategy of a task: the given one, else stratified for classification, kfold otherwise.
 * The only place that default is decided. Not collective. */
hf_cv_strategy hf_cv_strategy_for(const hf_cv_opts *o, hf_task_kind task);
/* Not collective. HF_EINVAL, naming the key's position and `why` (" with data.task regression",
 * ": data.task is regression, implied by model.type ridge"), if the given strategy cannot serve
 * the task (stratified folds of a regression target). */
int hf_cv_check_task(const hf_cv_opts *o, hf_task_kind task, const char *why);

/* The RNG stream of the holdout draw: hf_rng_init(cv.seed, HF_FOLDS_HOLDOUT_STREAM, 0). */
#define HF_FOLDS_HOLDOUT_STREAM 0x401dU

typedef struct hf_split {
    size_t n_train, n_valid;
    int64_t *train, *valid; /* ascending row indices into the dataset */
    int repeat, fold;       /* which repeat / fold this split is */
} hf_split;

typedef struct hf_folds {
    size_t n_splits; /* folds * repeats (timeseries, group, predefined: folds) */
    hf_split *splits;
    int64_t *search_rows; /* rows used by the search (all rows minus holdout), ascending */
    size_t n_search;
    int64_t *holdout; /* cv.holdout rows, ascending; NULL if none */
    size_t n_holdout;
    hf_cv_strategy strategy; /* the strategy actually used (defaults resolved) */
    /* NULL: the index arrays are the struct's own. Otherwise they lie in memory it does not own
     * (the node's shared window, coordinator/pipeline.c): hf_folds_free calls
     * release(release_ctx) instead of freeing them (collective for a shared window). */
    void (*release)(void *ctx);
    void *release_ctx;
} hf_folds;

/* Not collective. Builds the splits of o on d; *out is owned by the caller (free with
 * hf_folds_free). Impossible requests return HF_EINVAL with a one-line message in the spec's
 * format, e.g. `job.yaml:7:10: cv.folds: got 10, expected at most 4 (the smallest class, "b",
 * has 4 rows)`. */
int hf_folds_make(const hf_cv_opts *o, const hf_dataset *d, hf_folds **out);

/* Short name of a strategy ("kfold", "stratified", "group", "predefined", "timeseries"). */
const char *hf_folds_strategy_name(hf_cv_strategy s);

/* Frees f and everything it owns; NULL is accepted. */
void hf_folds_free(hf_folds *f);

#endif
