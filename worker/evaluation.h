/* evaluation.h - the evaluation of a model's predictions on labelled rows, as one JSON object:
 * every metric of the task (worker/metrics.h), and for classifiers the confusion matrix,
 * scikit-learn's classification_report, ROC, precision-recall and calibration curves; for
 * regressors the residuals' summary, absolute-error quantiles and a scatter subsample.
 *
 * The numbers follow scikit-learn 1.2.1 and numpy 1.24 (docs/evaluation.md says exactly how);
 * the object's shape is the contract of results.json's "evaluation" / "holdout_evaluation" and of
 * `hyperfold evaluate --output`. No MPI: every function here is not collective. */
#ifndef HF_EVALUATION_H
#define HF_EVALUATION_H

#include "common/dataset.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Longest curve written (ROC, precision-recall): longer ones are thinned to this many points,
 * evenly spaced by index, the first and last kept; areas are computed on the full curve. */
#define HF_EVAL_MAX_CURVE 1000
/* Most points of the regression scatter (evenly spaced by index over the rows). */
#define HF_EVAL_MAX_SCATTER 2000
/* Bins of the calibration curve (uniform on [0, 1]). */
#define HF_EVAL_CALIBRATION_BINS 10

/* The rows to evaluate. */
typedef struct hf_eval_input {
    const char *source;         /* "oof", "holdout" or the input file: the object's "source" */
    hf_task_kind task;          /* HF_TASK_REGRESSION or HF_TASK_CLASSIFICATION */
    size_t n;                   /* rows, at least 1 */
    const double *y;            /* n: the value, or the class index 0..n_classes-1 */
    const double *pred;         /* n x 1 values, or n x n_classes class probabilities (row-major) */
    const char *const *classes; /* n_classes labels (classification) */
    size_t n_classes;
} hf_eval_input;

/* Not collective. The evaluation object of `in` into *out (a new reference, the caller's:
 * json_decref). A metric that is undefined on these rows (roc_auc with a class absent) is null.
 * HF_EDATA, naming the row, on a target that is not a class index or not finite, or a prediction
 * that is not finite; HF_EINVAL on an empty input. */
int hf_evaluation_make(const hf_eval_input *in, json_t **out);

/* Not collective. hf_evaluation_make of n rows of a model with schema s (its task and classes):
 * targets y, predictions pred (n x 1, or n x n_classes probabilities). */
int hf_evaluation_of(const hf_schema *s, const char *source, size_t n, const double *y,
                     const double *pred, json_t **out);

/* Not collective. A few lines of text for a terminal: the metrics and, for classifiers, the
 * classification report's table and the confusion matrix (rows true, columns predicted); for
 * regressors the residuals. Written to fp. */
void hf_evaluation_print(const json_t *eval, FILE *fp);

#endif
