/* metrics.c - regression and classification scores matching scikit-learn 1.2.1.
 *
 * Deviations from scikit-learn's defaults, chosen so that a metric is defined for every fold:
 *  - f1 (multiclass) averages over all n_classes classes, a class with no true and no predicted
 *    samples scoring 0 (f1_score(..., labels=range(n_classes), average='macro')).
 *  - log_loss clips with eps = DBL_EPSILON, scikit-learn 1.2's eps="auto" for float64. */
#include "worker/metrics.h"
#include "common/hf.h"

#include <float.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- regression ----
 * The metrics that are sums over rows are written as accumulators (add: one block of rows; finish:
 * the score), so that the worker scores the validation rows block by block (hf_metric_acc_*);
 * hf_metric_compute runs them on all the rows as one block. The sums run in row order either way.
 */

static void r2_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    const double mean = a->ysum / (double)a->n; /* the targets' sum in row order, over n */
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - pred[i];
        double t = y[i] - mean;
        a->s1 += r * r; /* ss_res */
        a->s2 += t * t; /* ss_tot */
    }
}

static void r2_finish(const hf_metric_acc *a, double *out)
{
    if (a->s2 == 0.0)
        *out = a->s1 == 0.0 ? 1.0 : 0.0;
    else
        *out = 1.0 - a->s1 / a->s2;
}

static void rmse_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - pred[i];
        a->s1 += r * r;
    }
}

static void rmse_finish(const hf_metric_acc *a, double *out)
{
    *out = sqrt(a->s1 / (double)a->n);
}

static void mae_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a->s1 += fabs(y[i] - pred[i]);
}

static void mae_finish(const hf_metric_acc *a, double *out)
{
    *out = a->s1 / (double)a->n;
}

/* ---- classification ---- */

static size_t argmax_row(const double *row, size_t k)
{
    size_t best = 0;
    for (size_t c = 1; c < k; c++)
        if (row[c] > row[best])
            best = c;
    return best;
}

static void accuracy_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    const size_t k = a->n_classes;
    for (size_t i = 0; i < n; i++)
        a->hits += argmax_row(pred + i * k, k) == (size_t)y[i];
}

static void accuracy_finish(const hf_metric_acc *a, double *out)
{
    *out = (double)a->hits / (double)a->n;
}

/* scikit-learn's balanced_accuracy_score: the mean over the classes present in y of the recall of
 * each (hits of the class over its rows); classes absent from y are left out, as scikit-learn
 * does (it warns when a class is only predicted). cnt: rows, hits per class. */
static void balanced_accuracy_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    const size_t k = a->n_classes;
    for (size_t i = 0; i < n; i++) {
        size_t t = (size_t)y[i];
        a->cnt[2 * t]++;
        a->cnt[2 * t + 1] += argmax_row(pred + i * k, k) == t;
    }
}

static void balanced_accuracy_finish(const hf_metric_acc *a, double *out)
{
    double sum = 0.0;
    size_t present = 0;
    for (size_t c = 0; c < a->n_classes; c++)
        if (a->cnt[2 * c] > 0) {
            sum += (double)a->cnt[2 * c + 1] / (double)a->cnt[2 * c];
            present++;
        }
    *out = sum / (double)present; /* present >= 1: n > 0 */
}

static void log_loss_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    const double eps = DBL_EPSILON;
    const size_t k = a->n_classes;
    for (size_t i = 0; i < n; i++) {
        const double *row = pred + i * k;
        double sum = 0.0;
        for (size_t c = 0; c < k; c++)
            sum += fmin(fmax(row[c], eps), 1.0 - eps);
        double py = fmin(fmax(row[(size_t)y[i]], eps), 1.0 - eps) / sum;
        a->s1 -= log(py); /* the total */
    }
}

static void log_loss_finish(const hf_metric_acc *a, double *out)
{
    *out = a->s1 / (double)a->n;
}

typedef struct scored {
    double s;
    size_t i;
} scored;

/* The bits of s as an unsigned key in the order of the values (negative values reversed). */
static uint64_t order_key(double s)
{
    uint64_t u;
    memcpy(&u, &s, sizeof u);
    return u >> 63 ? ~u : u | (UINT64_C(1) << 63);
}

/* Sorts buf[0..n) by score, ties in index order (LSD radix sort on 11-bit digits of order_key,
 * stable; digits that all keys share are skipped). A sort per trial and fold is what ranks the
 * validation rows for roc_auc, and qsort's comparison calls made it a fifth of a logistic
 * task. tmp holds n entries. */
static void sort_scored(scored *buf, scored *tmp, size_t n)
{
    enum { BITS = 11, BUCKETS = 1 << BITS };
    size_t count[BUCKETS];
    for (unsigned shift = 0; shift < 64; shift += BITS) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(order_key(buf[i].s) >> shift) & (BUCKETS - 1)]++;
        if (n == 0 || count[(order_key(buf[0].s) >> shift) & (BUCKETS - 1)] == n)
            continue;
        size_t at = 0;
        for (size_t b = 0; b < BUCKETS; b++) {
            size_t c = count[b];
            count[b] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(order_key(buf[i].s) >> shift) & (BUCKETS - 1)]++] = buf[i];
        memcpy(buf, tmp, n * sizeof *buf);
    }
}

/* AUC of score column `col` for "y == cls" (Mann-Whitney U with average ranks for ties, which
 * equals the trapezoidal ROC area). `buf` holds 2n entries. */
static int auc_one(const double *y, const double *pred, size_t n, size_t k, size_t col, size_t cls,
                   scored *buf, double *out)
{
    size_t npos = 0;
    for (size_t i = 0; i < n; i++) {
        buf[i].s = pred[i * k + col];
        buf[i].i = i;
        npos += (size_t)y[i] == cls;
    }
    size_t nneg = n - npos;
    if (npos == 0 || nneg == 0)
        return hf_error(HF_ENUM,
                        "roc_auc: only one class present in y_true for class %zu (%zu positive, "
                        "%zu negative rows); ROC AUC is not defined",
                        cls, npos, nneg);
    sort_scored(buf, buf + n, n);
    double rank_sum = 0.0; /* sum of 1-based average ranks of the positives */
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        size_t pos_in_tie = 0;
        while (j < n && buf[j].s == buf[i].s) {
            pos_in_tie += (size_t)y[buf[j].i] == cls;
            j++;
        }
        double avg_rank = 0.5 * ((double)(i + 1) + (double)j);
        rank_sum += avg_rank * (double)pos_in_tie;
        i = j;
    }
    double u = rank_sum - 0.5 * (double)npos * ((double)npos + 1.0);
    *out = u / ((double)npos * (double)nneg);
    return HF_OK;
}

static int m_roc_auc(const double *y, const double *pred, size_t n, size_t k, double *out)
{
    int result = HF_OK;
    scored *buf = hf_malloc(2 * n * sizeof *buf);
    if (!buf)
        return HF_ENOMEM;
    if (k == 2) {
        result = auc_one(y, pred, n, k, 1, 1, buf, out);
        goto out;
    }
    double sum = 0.0;
    for (size_t c = 0; c < k; c++) {
        double a = 0.0;
        result = auc_one(y, pred, n, k, c, c, buf, &a);
        if (result < 0)
            goto out;
        sum += a;
    }
    *out = sum / (double)k;
out:
    free(buf);
    return result;
}

/* cnt: tp, fp, fn per class. */
static void f1_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    const size_t k = a->n_classes;
    for (size_t i = 0; i < n; i++) {
        size_t t = (size_t)y[i];
        size_t p = argmax_row(pred + i * k, k);
        if (t == p) {
            a->cnt[3 * t]++;
        } else {
            a->cnt[3 * p + 1]++;
            a->cnt[3 * t + 2]++;
        }
    }
}

static void f1_finish(const hf_metric_acc *a, double *out)
{
    const size_t k = a->n_classes, *cnt = a->cnt;
    double sum = 0.0;
    size_t first = k == 2 ? 1 : 0;
    for (size_t c = first; c < k; c++) {
        double den = 2.0 * (double)cnt[3 * c] + (double)cnt[3 * c + 1] + (double)cnt[3 * c + 2];
        sum += den > 0.0 ? 2.0 * (double)cnt[3 * c] / den : 0.0;
    }
    *out = sum / (double)(k - first);
}

static const hf_metric metric_table[] = {
    {"r2", HF_TASK_REGRESSION, 1, NULL, "coefficient of determination (sklearn r2_score)", r2_add,
     r2_finish},
    {"rmse", HF_TASK_REGRESSION, 0, NULL, "root mean squared error", rmse_add, rmse_finish},
    {"mae", HF_TASK_REGRESSION, 0, NULL, "mean absolute error", mae_add, mae_finish},
    {"accuracy", HF_TASK_CLASSIFICATION, 1, NULL, "fraction of rows whose argmax is right",
     accuracy_add, accuracy_finish},
    {"balanced_accuracy", HF_TASK_CLASSIFICATION, 1, NULL,
     "mean recall over the classes present (sklearn balanced_accuracy_score)",
     balanced_accuracy_add, balanced_accuracy_finish},
    {"roc_auc", HF_TASK_CLASSIFICATION, 1, m_roc_auc,
     "area under the ROC curve; multiclass: macro average of one-vs-rest AUCs", NULL, NULL},
    {"log_loss", HF_TASK_CLASSIFICATION, 0, NULL,
     "mean negative log-likelihood of the true class (probabilities clipped, rows renormalised)",
     log_loss_add, log_loss_finish},
    {"f1", HF_TASK_CLASSIFICATION, 1, NULL,
     "F1 of class 1 (binary) or macro-averaged F1 over all classes (multiclass)", f1_add,
     f1_finish},
};

#define N_METRICS (sizeof metric_table / sizeof metric_table[0])

/* The table as a NULL-terminated list of entries and of names, built once from it: a metric is
 * one entry of metric_table and nothing else. */
static const hf_metric *metric_list[N_METRICS + 1];
static const char *metric_names[N_METRICS + 1];
static pthread_once_t lists_once = PTHREAD_ONCE_INIT;

static void make_lists(void)
{
    for (size_t i = 0; i < N_METRICS; i++) {
        metric_list[i] = &metric_table[i];
        metric_names[i] = metric_table[i].name;
    }
}

const hf_metric *hf_metric_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_METRICS; i++)
        if (strcmp(metric_table[i].name, name) == 0)
            return &metric_table[i];
    return NULL;
}

const hf_metric *const *hf_metric_all(void)
{
    pthread_once(&lists_once, make_lists);
    return metric_list;
}

static const char *const *hf_metric_names(void)
{
    pthread_once(&lists_once, make_lists);
    return metric_names;
}

const char *hf_metric_names_for(hf_task_kind task, char *buf, size_t len)
{
    size_t o = 0, k = 0, n = 0;
    for (size_t i = 0; i < N_METRICS; i++)
        n += metric_table[i].task == task;
    buf[0] = '\0';
    for (size_t i = 0; i < N_METRICS; i++) {
        if (metric_table[i].task != task)
            continue;
        k++;
        o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
                              k == 1   ? ""
                              : k == n ? " or "
                                       : ", ",
                              metric_table[i].name);
    }
    return buf;
}

/* ---- the objective section ---------------------------------------------------------------- */

static const hf_opt_def objective_defs[] = {
    {HF_OPT_FIELD("metric", HF_OPT_STRING, hf_objective_opts, metric, HF_OPT_HASHED),
     .choices_fn = hf_metric_names,
     .help = "the score that selects the best trial (default r2 or accuracy by task)"},
    {HF_OPT_FIELD("report", HF_OPT_STRING_LIST, hf_objective_opts, report, HF_OPT_HASHED),
     .count_offset = offsetof(hf_objective_opts, n_report), .choices_fn = hf_metric_names,
     .help = "further metrics computed for every trial"},
};

const hf_opt_section hf_objective_section =
    HF_OPT_SECTION("objective", objective_defs, hf_objective_opts, NULL);

void hf_objective_opts_init(hf_objective_opts *o)
{
    memset(o, 0, sizeof *o);
}

int hf_objective_resolve(hf_objective_opts *o, hf_task_kind task)
{
    char at[512], names[256];
    const char *keys[2] = {"objective.metric", "objective.report"};
    for (size_t i = 0; i <= o->n_report; i++) {
        const char *name = i == 0 ? o->metric : o->report[i - 1];
        const hf_metric *m = name ? hf_metric_find(name) : NULL;
        if (name && (!m || m->task != task))
            return hf_error(HF_EINVAL, "%s: %s: got \"%s\", expected a %s metric (%s)",
                            hf_opt_where(&o->src, keys[i > 0], at, sizeof at), keys[i > 0], name,
                            hf_task_name(task), hf_metric_names_for(task, names, sizeof names));
    }
    if (!o->metric) {
        o->metric = hf_strdup(task == HF_TASK_REGRESSION ? "r2" : "accuracy");
        if (!o->metric)
            return HF_ENOMEM;
    }
    return HF_OK;
}

int hf_objective_metrics(const hf_objective_opts *o, const char ***out, size_t *n)
{
    const char **m = hf_calloc(o->n_report + 1, sizeof *m);
    if (!m)
        return HF_ENOMEM;
    size_t k = 0;
    m[k++] = o->metric;
    for (size_t i = 0; i < o->n_report; i++) {
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= strcmp(m[j], o->report[i]) == 0;
        if (!dup)
            m[k++] = o->report[i];
    }
    *out = m;
    *n = k;
    return HF_OK;
}

/* The metric and the task's number of classes, as hf_metric_compute checks them first. */
static int check_metric(const hf_metric *m, size_t n_classes)
{
    if (!m)
        return hf_error(HF_EINTERNAL, "hf_metric_compute: no metric");
    if (m->task == HF_TASK_CLASSIFICATION && n_classes < 2)
        return hf_error(HF_EDATA,
                        "metric %s: n_classes=%zu, expected a classification task with at "
                        "least 2 classes",
                        m->name, n_classes);
    if (m->task != HF_TASK_CLASSIFICATION && n_classes != 0)
        return hf_error(HF_EDATA, "metric %s is a regression metric, but n_classes=%zu", m->name,
                        n_classes);
    return HF_OK;
}

/* Targets y[0..n), rows first..first + n: class indices, or finite values. */
static int check_targets(const hf_metric *m, const double *y, size_t n, size_t n_classes,
                         size_t first)
{
    for (size_t i = 0; i < n; i++) {
        double v = y[i];
        if (m->task == HF_TASK_CLASSIFICATION &&
            (!(v >= 0.0) || v >= (double)n_classes || v != floor(v)))
            return hf_error(HF_EDATA,
                            "metric %s: y_true[%zu] = %g, expected a class index in 0..%zu",
                            m->name, first + i, v, n_classes - 1);
        if (m->task != HF_TASK_CLASSIFICATION && !isfinite(v))
            return hf_error(HF_EDATA, "metric %s: y_true[%zu] = %g, expected a finite value",
                            m->name, first + i, v);
    }
    return HF_OK;
}

/* Predictions pred[0..n x cols), rows first..first + n: finite. */
static int check_preds(const hf_metric *m, const double *pred, size_t n, size_t cols, size_t first)
{
    for (size_t i = 0; i < n * cols; i++)
        if (!isfinite(pred[i]))
            return hf_error(HF_ENUM, "metric %s: prediction %zu of row %zu is %g (not finite)",
                            m->name, i % cols, first + i / cols, pred[i]);
    return HF_OK;
}

int hf_metric_compute(const hf_metric *m, const double *y, const double *pred, size_t n,
                      size_t n_classes, double *out)
{
    int result = HF_OK;
    if (m && n == 0)
        return hf_error(HF_EDATA, "metric %s: no rows to score", m->name);
    if ((result = check_metric(m, n_classes)) < 0)
        return result;
    if (!m->compute) {
        /* One block: the accumulator's checks are the ones below. */
        hf_metric_acc a;
        if ((result = hf_metric_acc_init(&a, m, n_classes)) >= 0 &&
            (result = hf_metric_acc_targets(&a, y, n)) >= 0 &&
            (result = hf_metric_acc_add(&a, y, pred, n)) >= 0)
            result = hf_metric_acc_finish(&a, out);
        hf_metric_acc_free(&a);
        return result;
    }
    const size_t cols = m->task == HF_TASK_CLASSIFICATION ? n_classes : 1;
    if ((result = check_targets(m, y, n, n_classes, 0)) < 0 ||
        (result = check_preds(m, pred, n, cols, 0)) < 0)
        return result;
    return m->compute(y, pred, n, n_classes, out);
}

int hf_metric_blocks(const hf_metric *m)
{
    return m && m->add && m->finish;
}

int hf_metric_acc_init(hf_metric_acc *a, const hf_metric *m, size_t n_classes)
{
    memset(a, 0, sizeof *a);
    int result = check_metric(m, n_classes);
    if (result < 0)
        return result;
    if (!hf_metric_blocks(m))
        return hf_error(HF_EINTERNAL, "metric %s is not scored in blocks", m->name);
    a->m = m;
    a->n_classes = n_classes;
    if (m->task == HF_TASK_CLASSIFICATION && !(a->cnt = hf_calloc(3 * n_classes, sizeof *a->cnt)))
        return HF_ENOMEM;
    return HF_OK;
}

int hf_metric_acc_targets(hf_metric_acc *a, const double *y, size_t n)
{
    int result = check_targets(a->m, y, n, a->n_classes, a->n);
    for (size_t i = 0; i < n && result >= 0; i++)
        a->ysum += y[i];
    a->n += n;
    return result;
}

int hf_metric_acc_add(hf_metric_acc *a, const double *y, const double *pred, size_t n)
{
    const size_t cols = a->m->task == HF_TASK_CLASSIFICATION ? a->n_classes : 1;
    int result = a->n == 0 ? hf_error(HF_EDATA, "metric %s: no rows to score", a->m->name)
                           : check_preds(a->m, pred, n, cols, a->seen);
    if (result >= 0)
        a->m->add(a, y, pred, n);
    a->seen += n;
    return result;
}

int hf_metric_acc_finish(hf_metric_acc *a, double *out)
{
    if (a->n == 0)
        return hf_error(HF_EDATA, "metric %s: no rows to score", a->m->name);
    if (a->seen != a->n)
        return hf_error(HF_EINTERNAL, "metric %s: %zu rows of predictions for %zu targets",
                        a->m->name, a->seen, a->n);
    a->m->finish(a, out);
    return HF_OK;
}

void hf_metric_acc_free(hf_metric_acc *a)
{
    free(a->cnt);
    a->cnt = NULL;
}

int hf_metric_better(const hf_metric *m, double a, double b)
{
    if (isnan(a))
        return 0;
    if (isnan(b))
        return 1;
    return m->greater_is_better ? a > b : a < b;
}
