/* metrics.h - scoring functions that agree with scikit-learn 1.2.
 *
 * A metric scores a model's predict() output against the true targets:
 *  - regression: pred is n x 1 (the predicted value);
 *  - classification: pred is n x n_classes class probabilities (row-major), y holds class indices
 *    0..n_classes-1; the predicted class is the argmax of the row, the lowest index winning ties
 *    (numpy's argmax).
 * Metrics: r2, rmse, mae (regression); accuracy, balanced_accuracy, roc_auc, log_loss, f1
 * (classification). A metric is one entry of the table in metrics.c: the job spec, the task rule
 * and the selection read its name, task and direction from there. */
#ifndef HF_METRICS_H
#define HF_METRICS_H

#include "common/dataset.h"
#include "common/opts.h"

#include <stddef.h>

struct hf_metric_acc;

typedef struct hf_metric {
    const char *name;      /* "r2" */
    hf_task_kind task;     /* HF_TASK_REGRESSION or HF_TASK_CLASSIFICATION */
    int greater_is_better; /* 1 for r2/accuracy/roc_auc/f1, 0 for rmse/mae/log_loss */
    /* Raw scorer of the whole rows; use hf_metric_compute, which validates the input first. NULL
     * for a metric scored in blocks (add, finish below). */
    int (*compute)(const double *y, const double *pred, size_t n, size_t n_classes, double *out);
    const char *help;
    /* A metric that is a sum over rows (and r2 the targets' mean): one block of rows added to an
     * accumulator, and the score from it; NULL for one that needs every row at once (roc_auc). */
    void (*add)(struct hf_metric_acc *a, const double *y, const double *pred, size_t n);
    void (*finish)(const struct hf_metric_acc *a, double *out);
} hf_metric;

/* Scoring in blocks of rows (a metric with add): the validation rows' predictions need not be
 * held all at once. hf_metric_acc_targets over every block of targets first (checks them as
 * hf_metric_compute does; r2 needs their mean), then hf_metric_acc_add over the same blocks in the
 * same order with the predictions, then hf_metric_acc_finish: the same bits as hf_metric_compute
 * on all the rows, and the same messages (row numbers counted over the blocks). Not collective. */
typedef struct hf_metric_acc {
    const hf_metric *m;
    size_t n_classes;
    size_t n, seen; /* rows given to hf_metric_acc_targets, to hf_metric_acc_add */
    double ysum, s1, s2;
    size_t hits;
    size_t *cnt; /* per class: balanced_accuracy's rows and hits, f1's tp, fp, fn */
} hf_metric_acc;

/* 1 if m can be scored in blocks, else 0. */
int hf_metric_blocks(const hf_metric *m);
/* Refuses a metric without blocks or a wrong n_classes as hf_metric_compute does. */
int hf_metric_acc_init(hf_metric_acc *a, const hf_metric *m, size_t n_classes);
int hf_metric_acc_targets(hf_metric_acc *a, const double *y, size_t n);
int hf_metric_acc_add(hf_metric_acc *a, const double *y, const double *pred, size_t n);
int hf_metric_acc_finish(hf_metric_acc *a, double *out);
void hf_metric_acc_free(hf_metric_acc *a);

/* The metric called `name` (static, never freed), or NULL. Not collective. */
const hf_metric *hf_metric_find(const char *name);

/* NULL-terminated list of every metric (static). Not collective. */
const hf_metric *const *hf_metric_all(void);
/* "r2, rmse or mae": the names of the task's metrics into buf, which is returned. */
const char *hf_metric_names_for(hf_task_kind task, char *buf, size_t len);

/* The job spec's objective section: this module's options (see common/opts.h). */
typedef struct hf_objective_opts {
    char *metric; /* NULL until given or resolved (r2 for regression, accuracy for classes) */
    char **report;
    size_t n_report;
    hf_opt_source src;
} hf_objective_opts;

/* The objective section's table, for the job-spec binder. */
extern const hf_opt_section hf_objective_section;
void hf_objective_opts_init(hf_objective_opts *o);
/* Not collective. Refuses a metric of another task than `task` (naming the task's metrics) and
 * fills in the default objective. */
int hf_objective_resolve(hf_objective_opts *o, hf_task_kind task);
/* Not collective. The metrics a sweep computes: the objective first, then the report metrics
 * without duplicates; *out (borrowed names, caller frees the array) and *n. */
int hf_objective_metrics(const hf_objective_opts *o, const char ***out, size_t *n);

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
