/* folds.h - cross-validation splitters: which rows train and which validate each split.
 *
 * Every rank holds the same full dataset (rows in source order), so the splits are computed
 * identically on every rank from cv.seed: nothing here talks to MPI. Strategies and their exact
 * semantics (sizes, shuffles, tie-breaking) are documented in docs/preprocessing.md. */
#ifndef HF_FOLDS_H
#define HF_FOLDS_H

#include "common/dataset.h"
#include "jobs/spec.h"

#include <stddef.h>
#include <stdint.h>

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
} hf_folds;

/* Not collective. Builds the splits for spec->cv on d; *out is owned by the caller (free with
 * hf_folds_free). Impossible requests return HF_EINVAL with a one-line message in the spec's
 * format, e.g. `job.yaml:7:10: cv.folds: got 10, expected at most 4 (the smallest class, "b",
 * has 4 rows)`. */
int hf_folds_make(const hf_spec *spec, const hf_dataset *d, hf_folds **out);

/* The strategy hf_folds_make uses for spec and schema: the named one, or the default (stratified
 * for classification, kfold otherwise) when the spec did not name one. Not collective. */
hf_cv_strategy hf_folds_strategy(const hf_spec *spec, const hf_schema *schema);

/* Short name of a strategy ("kfold", "stratified", "group", "predefined", "timeseries"). */
const char *hf_folds_strategy_name(hf_cv_strategy s);

/* Frees f and everything it owns; NULL is accepted. */
void hf_folds_free(hf_folds *f);

#endif
