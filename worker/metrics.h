/* metrics.h - scoring functions that agree with scikit-learn 1.2.
 *
 * A metric scores a model's predict() output against the true targets:
 *  - regression: pred is n x 1 (the predicted value);
 *  - classification: pred is n x n_classes class probabilities (row-major), y holds class indices
 *    0..n_classes-1; the predicted class is the argmax of the row, the lowest index winning ties
 *    (numpy's argmax).
 * Metrics: r2, rmse, mae (regression); accuracy, log_loss, roc_auc, f1 (classification). */
#ifndef HF_METRICS_H
#define HF_METRICS_H

#include "common/dataset.h"

#include <stddef.h>

typedef struct hf_metric {
    const char *name;      /* "r2" */
    hf_task_kind task;     /* HF_TASK_REGRESSION or HF_TASK_CLASSIFICATION */
    int greater_is_better; /* 1 for r2/accuracy/roc_auc/f1, 0 for rmse/mae/log_loss */
    /* Raw scorer; use hf_metric_compute, which validates the input first. */
    int (*compute)(const double *y, const double *pred, size_t n, size_t n_classes, double *out);
    const char *help;
} hf_metric;

/* The metric called `name` (static, never freed), or NULL. Not collective. */
const hf_metric *hf_metric_find(const char *name);

/* NULL-terminated list of every metric (static). Not collective. */
const hf_metric *const *hf_metric_all(void);

/* Scores pred against y (n rows; n_classes 0 for regression, >= 2 for classification) into *out.
 * Returns HF_EDATA on empty input, a class index out of range or a task mismatch, HF_ENUM when the
 * score is undefined (roc_auc with a class absent from y, NaN predictions), with a message.
 * Not collective. */
int hf_metric_compute(const hf_metric *m, const double *y, const double *pred, size_t n,
                      size_t n_classes, double *out);

/* 1 if score a is strictly better than score b under m (NaN is never better, and anything
 * finite is better than NaN), else 0. Not collective. */
int hf_metric_better(const hf_metric *m, double a, double b);

#endif
