/* evaluation.c - the evaluation object (evaluation.h) of predictions on labelled rows.
 *
 * Each number is computed the way its scikit-learn 1.2.1 / numpy 1.24 counterpart computes it, so
 * that the peer test agrees to 1e-12: sums that numpy forms with add.reduce use numpy's pairwise
 * summation (np_sum), the curves come from the same cumulative counts at the distinct scores
 * (_binary_clf_curve), roc_curve drops the collinear points (drop_intermediate=True) and starts at
 * threshold max + 1, precision_recall_curve is reversed and ends at (recall 0, precision 1),
 * calibration_curve bins by np.searchsorted over linspace(0, 1, 11), quantiles interpolate
 * linearly between order statistics with numpy's _lerp. docs/evaluation.md. */
#include "worker/evaluation.h"
#include "common/hf.h"
#include "common/stats.h"
#include "worker/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* numpy's pairwise summation (umath loops: pairwise_sum), as add.reduce of a contiguous float64
 * array forms it: 8 accumulators in blocks of at most 128, halves (multiples of 8) above. */
static double np_sum(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        size_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + (size_t)j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return np_sum(a, n2) + np_sum(a + n2, n - n2);
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The indices kept of a curve of len points: all, or HF_EVAL_MAX_CURVE evenly spaced ones
 * (j * (len - 1) / (MAX - 1), the first and last included). */
static size_t curve_index(size_t j, size_t len)
{
    if (len <= HF_EVAL_MAX_CURVE)
        return j;
    return (size_t)(((uint64_t)j * (uint64_t)(len - 1)) / (HF_EVAL_MAX_CURVE - 1));
}

static size_t curve_kept(size_t len)
{
    return len <= HF_EVAL_MAX_CURVE ? len : HF_EVAL_MAX_CURVE;
}

/* The JSON array of v[0..len) thinned as a curve of curve_len points (v may be one shorter than
 * the curve: the thresholds of a precision-recall curve). */
static json_t *curve_array(const double *v, size_t len, size_t curve_len)
{
    json_t *a = json_array();
    size_t k = curve_kept(curve_len);
    for (size_t j = 0; a && j < k; j++) {
        size_t i = curve_index(j, curve_len);
        if (i < len)
            json_array_append_new(a, num(v[i]));
    }
    return a;
}

typedef struct scored {
    double s;
    size_t i;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* scikit-learn's _binary_clf_curve: for each distinct score (descending), the positives and
 * negatives scoring at least it. fps, tps, thr hold n entries; *m is how many are used. */
static int clf_curve(const double *score, const unsigned char *pos, size_t n, double *fps,
                     double *tps, double *thr, size_t *m)
{
    scored *buf = hf_malloc(n * sizeof *buf);
    if (!buf)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        buf[i].s = score[i];
        buf[i].i = i;
    }
    qsort(buf, n, sizeof *buf, by_score_desc);
    size_t k = 0;
    double tp = 0.0;
    for (size_t i = 0; i < n; i++) {
        tp += pos[buf[i].i];
        if (i + 1 == n || buf[i + 1].s != buf[i].s) {
            tps[k] = tp;
            fps[k] = (double)(i + 1) - tp;
            thr[k] = buf[i].s;
            k++;
        }
    }
    *m = k;
    free(buf);
    return HF_OK;
}

/* np.trapz(y, x) */
static double trapz(const double *x, const double *y, size_t n, double *tmp)
{
    if (n < 2)
        return 0.0;
    for (size_t i = 0; i + 1 < n; i++)
        tmp[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
    return np_sum(tmp, n - 1);
}

/* The ROC, precision-recall and calibration entries of one class: score column `col`, positives
 * the rows of class `cls`. */
static int class_curves(const hf_eval_input *in, size_t col, size_t cls, json_t *roc, json_t *pr,
                        json_t *cal)
{
    int result = HF_OK;
    size_t n = in->n, k = in->n_classes, m = 0;
    double *score = hf_malloc((n + 2) * 8 * sizeof *score);
    unsigned char *pos = hf_malloc(n);
    if (!score || !pos) {
        result = HF_ENOMEM;
        goto out;
    }
    double *fps = score + (n + 2), *tps = fps + (n + 2), *thr = tps + (n + 2);
    double *cx = thr + (n + 2), *cy = cx + (n + 2), *ct = cy + (n + 2), *tmp = ct + (n + 2);
    for (size_t i = 0; i < n; i++) {
        score[i] = in->pred[i * k + col];
        pos[i] = (size_t)in->y[i] == cls;
    }
    if ((result = clf_curve(score, pos, n, fps, tps, thr, &m)) < 0)
        goto out;

    /* roc_curve(drop_intermediate=True) */
    size_t r = 0;
    cx[r] = 0.0;
    cy[r] = 0.0;
    ct[r] = thr[0] + 1.0;
    r++;
    for (size_t i = 0; i < m; i++) {
        int keep = m <= 2 || i == 0 || i + 1 == m ||
                   fps[i + 1] - 2.0 * fps[i] + fps[i - 1] != 0.0 ||
                   tps[i + 1] - 2.0 * tps[i] + tps[i - 1] != 0.0;
        if (!keep)
            continue;
        cx[r] = fps[i];
        cy[r] = tps[i];
        ct[r] = thr[i];
        r++;
    }
    double fneg = cx[r - 1], tpos = cy[r - 1];
    for (size_t i = 0; i < r; i++) {
        cx[i] = fneg > 0.0 ? cx[i] / fneg : NAN;
        cy[i] = tpos > 0.0 ? cy[i] / tpos : NAN;
    }
    json_t *e = json_object();
    json_object_set_new(e, "class", json_string(in->classes[cls]));
    json_object_set_new(e, "fpr", curve_array(cx, r, r));
    json_object_set_new(e, "tpr", curve_array(cy, r, r));
    json_object_set_new(e, "thresholds", curve_array(ct, r, r));
    json_object_set_new(e, "auc", num(trapz(cx, cy, r, tmp)));
    json_object_set_new(e, "n_points", json_integer((json_int_t)r));
    json_array_append_new(roc, e);

    /* precision_recall_curve, reversed, with (recall 0, precision 1) appended */
    double tlast = tps[m - 1];
    for (size_t i = 0; i < m; i++) {
        size_t j = m - 1 - i;
        cy[i] = tps[j] / (tps[j] + fps[j]);
        cx[i] = tlast == 0.0 ? 1.0 : tps[j] / tlast;
        ct[i] = thr[j];
    }
    cy[m] = 1.0;
    cx[m] = 0.0;
    for (size_t i = 0; i < m; i++) /* average_precision_score: -sum(diff(recall) * precision) */
        tmp[i] = (cx[i + 1] - cx[i]) * cy[i];
    e = json_object();
    json_object_set_new(e, "class", json_string(in->classes[cls]));
    json_object_set_new(e, "precision", curve_array(cy, m + 1, m + 1));
    json_object_set_new(e, "recall", curve_array(cx, m + 1, m + 1));
    json_object_set_new(e, "thresholds", curve_array(ct, m, m + 1));
    json_object_set_new(e, "average_precision", num(-np_sum(tmp, m)));
    json_object_set_new(e, "n_points", json_integer((json_int_t)(m + 1)));
    json_array_append_new(pr, e);

    /* calibration_curve(n_bins=10, strategy="uniform"): bins by searchsorted over the inner edges
     * of linspace(0, 1, 11) (i * 0.1), sums in row order as np.bincount forms them */
    enum { B = HF_EVAL_CALIBRATION_BINS };
    double sum_p[B] = {0}, sum_t[B] = {0};
    size_t cnt[B] = {0};
    const double step = 1.0 / (double)B;
    for (size_t i = 0; i < n; i++) {
        size_t b = 0;
        while (b < B - 1 && (double)(b + 1) * step < score[i])
            b++;
        sum_p[b] += score[i];
        sum_t[b] += pos[i];
        cnt[b]++;
    }
    json_t *pp = json_array(), *pt = json_array(), *pc = json_array();
    for (size_t b = 0; b < B; b++) {
        if (!cnt[b])
            continue;
        json_array_append_new(pp, num(sum_p[b] / (double)cnt[b]));
        json_array_append_new(pt, num(sum_t[b] / (double)cnt[b]));
        json_array_append_new(pc, json_integer((json_int_t)cnt[b]));
    }
    e = json_object();
    json_object_set_new(e, "class", json_string(in->classes[cls]));
    json_object_set_new(e, "prob_pred", pp);
    json_object_set_new(e, "prob_true", pt);
    json_object_set_new(e, "count", pc);
    json_array_append_new(cal, e);
out:
    free(score);
    free(pos);
    return result;
}

static json_t *prf(const char *name, double p, double r, double f, size_t support)
{
    json_t *o = json_object();
    if (name)
        json_object_set_new(o, "class", json_string(name));
    json_object_set_new(o, "precision", num(p));
    json_object_set_new(o, "recall", num(r));
    json_object_set_new(o, "f1", num(f));
    json_object_set_new(o, "support", json_integer((json_int_t)support));
    return o;
}

/* The confusion matrix, scikit-learn's classification_report over every class (labels =
 * range(n_classes), zero_division=0) and the curves. */
static int classification(const hf_eval_input *in, json_t *o)
{
    int result = HF_OK;
    size_t n = in->n, k = in->n_classes;
    size_t *cm = hf_calloc(k * k, sizeof *cm);
    double *v = hf_malloc(6 * k * sizeof *v);
    if (!cm || !v) {
        result = HF_ENOMEM;
        goto out;
    }
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        const double *row = in->pred + i * k;
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            if (row[c] > row[best])
                best = c;
        cm[(size_t)in->y[i] * k + best]++;
        hits += (size_t)in->y[i] == best;
    }
    json_t *classes = json_array(), *jcm = json_array(), *per = json_array();
    double *p = v, *r = v + k, *f = v + 2 * k, *w = v + 3 * k, *tmp = v + 4 * k;
    for (size_t c = 0; c < k; c++) {
        json_array_append_new(classes, json_string(in->classes[c]));
        json_t *row = json_array();
        size_t tp = cm[c * k + c], support = 0, predicted = 0;
        for (size_t j = 0; j < k; j++) {
            json_array_append_new(row, json_integer((json_int_t)cm[c * k + j]));
            support += cm[c * k + j];
            predicted += cm[j * k + c];
        }
        json_array_append_new(jcm, row);
        p[c] = predicted ? (double)tp / (double)predicted : 0.0;
        r[c] = support ? (double)tp / (double)support : 0.0;
        double den = p[c] + r[c];
        f[c] = 2.0 * p[c] * r[c] / (den == 0.0 ? 1.0 : den);
        w[c] = (double)support;
        json_array_append_new(per, prf(in->classes[c], p[c], r[c], f[c], support));
    }
    json_object_set_new(o, "classes", classes);
    json_object_set_new(o, "confusion_matrix", jcm);
    json_object_set_new(o, "per_class", per);
    double kd = (double)k, wsum = np_sum(w, k);
    json_object_set_new(o, "macro_avg",
                        prf(NULL, np_sum(p, k) / kd, np_sum(r, k) / kd, np_sum(f, k) / kd, n));
    double wavg[3];
    for (int s = 0; s < 3; s++) {
        const double *a = s == 0 ? p : s == 1 ? r : f;
        for (size_t c = 0; c < k; c++)
            tmp[c] = a[c] * w[c];
        wavg[s] = np_sum(tmp, k) / wsum;
    }
    json_object_set_new(o, "weighted_avg", prf(NULL, wavg[0], wavg[1], wavg[2], n));
    json_object_set_new(o, "accuracy", num((double)hits / (double)n));

    json_t *roc = json_array(), *pr = json_array(), *cal = json_array();
    json_object_set_new(o, "roc", roc);
    json_object_set_new(o, "pr", pr);
    json_object_set_new(o, "calibration", cal);
    for (size_t c = k == 2 ? 1 : 0; c < k && result >= 0; c++)
        result = class_curves(in, c, c, roc, pr, cal);
out:
    free(cm);
    free(v);
    return result;
}

static const char *const k_res_q[] = {"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"};
static const char *const k_abs_q[] = {"0.5", "0.9", "0.95", "0.99"};

/* Residuals (actual - predicted): mean, std (ddof 0), quantiles; absolute-error quantiles; the
 * scatter subsample (rows j * n / MAX). */
static int regression(const hf_eval_input *in, json_t *o)
{
    size_t n = in->n;
    double *res = hf_malloc(2 * n * sizeof *res);
    if (!res)
        return HF_ENOMEM;
    double *tmp = res + n;
    for (size_t i = 0; i < n; i++)
        res[i] = in->y[i] - in->pred[i];
    double mean = np_sum(res, n) / (double)n;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (res[i] - mean) * (res[i] - mean);
    double sd = sqrt(np_sum(tmp, n) / (double)n);
    qsort(res, n, sizeof *res, hf_cmp_double);
    json_t *r = json_object(), *q = json_object();
    json_object_set_new(r, "mean", num(mean));
    json_object_set_new(r, "std", num(sd));
    for (size_t i = 0; i < sizeof k_res_q / sizeof *k_res_q; i++)
        json_object_set_new(q, k_res_q[i],
                            num(hf_quantile_sorted(res, n, strtod(k_res_q[i], NULL))));
    json_object_set_new(r, "quantiles", q);
    json_object_set_new(o, "residuals", r);
    for (size_t i = 0; i < n; i++)
        tmp[i] = fabs(in->y[i] - in->pred[i]);
    qsort(tmp, n, sizeof *tmp, hf_cmp_double);
    q = json_object();
    for (size_t i = 0; i < sizeof k_abs_q / sizeof *k_abs_q; i++)
        json_object_set_new(q, k_abs_q[i],
                            num(hf_quantile_sorted(tmp, n, strtod(k_abs_q[i], NULL))));
    json_object_set_new(o, "abs_error_quantiles", q);
    json_t *sc = json_object(), *ax = json_array(), *px = json_array();
    size_t kept = n <= HF_EVAL_MAX_SCATTER ? n : HF_EVAL_MAX_SCATTER;
    for (size_t j = 0; j < kept; j++) {
        size_t i = n <= HF_EVAL_MAX_SCATTER ? j : (size_t)((uint64_t)j * n / HF_EVAL_MAX_SCATTER);
        json_array_append_new(ax, num(in->y[i]));
        json_array_append_new(px, num(in->pred[i]));
    }
    json_object_set_new(sc, "actual", ax);
    json_object_set_new(sc, "predicted", px);
    json_object_set_new(o, "scatter", sc);
    free(res);
    return HF_OK;
}

static int check_input(const hf_eval_input *in)
{
    if (in->n == 0)
        return hf_error(HF_EINVAL, "evaluation of %s: no rows to evaluate",
                        in->source ? in->source : "predictions");
    int cls = in->task == HF_TASK_CLASSIFICATION;
    if (cls && in->n_classes < 2)
        return hf_error(HF_EINVAL, "evaluation of %s: %zu classes, expected at least 2", in->source,
                        in->n_classes);
    size_t cols = cls ? in->n_classes : 1;
    for (size_t i = 0; i < in->n; i++) {
        double v = in->y[i];
        if (cls && (!(v >= 0.0) || v >= (double)in->n_classes || v != floor(v)))
            return hf_error(HF_EDATA,
                            "evaluation of %s: row %zu: target %g, expected a class "
                            "index in 0..%zu",
                            in->source, i, v, in->n_classes - 1);
        if (!cls && !isfinite(v))
            return hf_error(HF_EDATA,
                            "evaluation of %s: row %zu: target %g, expected a finite value",
                            in->source, i, v);
        for (size_t c = 0; c < cols; c++)
            if (!isfinite(in->pred[i * cols + c]))
                return hf_error(HF_EDATA,
                                "evaluation of %s: row %zu: prediction %zu is %g, expected a "
                                "finite value",
                                in->source, i, c, in->pred[i * cols + c]);
    }
    return HF_OK;
}

int hf_evaluation_make(const hf_eval_input *in, json_t **out)
{
    *out = NULL;
    int result = check_input(in);
    if (result < 0)
        return result;
    int cls = in->task == HF_TASK_CLASSIFICATION;
    json_t *o = json_object();
    if (!o)
        return hf_error(HF_ENOMEM, "out of memory");
    json_object_set_new(o, "source", json_string(in->source ? in->source : ""));
    json_object_set_new(o, "task", json_string(hf_task_name(in->task)));
    json_object_set_new(o, "n_rows", json_integer((json_int_t)in->n));
    json_t *metrics = json_object();
    json_object_set_new(o, "metrics", metrics);
    for (const hf_metric *const *m = hf_metric_all(); *m; m++) {
        if ((*m)->task != in->task)
            continue;
        double v = NAN;
        if (hf_metric_compute(*m, in->y, in->pred, in->n, cls ? in->n_classes : 0, &v) < 0) {
            if (hf_error_code() == HF_ENOMEM) {
                json_decref(o);
                return HF_ENOMEM;
            }
            hf_error_clear(); /* undefined on these rows: null */
            v = NAN;
        }
        json_object_set_new(metrics, (*m)->name, num(v));
    }
    result = cls ? classification(in, o) : regression(in, o);
    if (result < 0) {
        json_decref(o);
        return result;
    }
    *out = o;
    return HF_OK;
}

static double get_num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

void hf_evaluation_print(const json_t *eval, FILE *fp)
{
    const char *task = json_string_value(json_object_get(eval, "task"));
    const char *source = json_string_value(json_object_get(eval, "source"));
    fprintf(fp, "evaluation of %s: %lld rows, %s\n", source ? source : "?",
            (long long)json_integer_value(json_object_get(eval, "n_rows")), task ? task : "?");
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(eval, "metrics"), key, v)
    {
        if (json_is_number(v))
            fprintf(fp, "  %-18s %.6g\n", key, json_number_value(v));
        else
            fprintf(fp, "  %-18s undefined\n", key);
    }
    const json_t *per = json_object_get(eval, "per_class");
    if (per) {
        int wid = 12;
        size_t c;
        json_array_foreach(per, c, v)
        {
            const char *name = json_string_value(json_object_get(v, "class"));
            if (name && (int)strlen(name) > wid)
                wid = (int)strlen(name) > 40 ? 40 : (int)strlen(name);
        }
        fprintf(fp, "\n  %*s %9s %9s %9s %9s\n", wid, "", "precision", "recall", "f1-score",
                "support");
        json_array_foreach(per, c, v)
            fprintf(fp, "  %*.*s %9.4f %9.4f %9.4f %9lld\n", wid, wid,
                    json_string_value(json_object_get(v, "class")), get_num(v, "precision"),
                    get_num(v, "recall"), get_num(v, "f1"),
                    (long long)json_integer_value(json_object_get(v, "support")));
        long long n = (long long)json_integer_value(json_object_get(eval, "n_rows"));
        fprintf(fp, "\n  %*s %9s %9s %9.4f %9lld\n", wid, "accuracy", "", "",
                get_num(eval, "accuracy"), n);
        const char *avg[2] = {"macro_avg", "weighted_avg"},
                   *label[2] = {"macro avg", "weighted avg"};
        for (int a = 0; a < 2; a++) {
            const json_t *o = json_object_get(eval, avg[a]);
            fprintf(fp, "  %*s %9.4f %9.4f %9.4f %9lld\n", wid, label[a], get_num(o, "precision"),
                    get_num(o, "recall"), get_num(o, "f1"), n);
        }
        fprintf(fp, "\n  confusion matrix (rows: true class, columns: predicted)\n");
        const json_t *cm = json_object_get(eval, "confusion_matrix");
        const json_t *classes = json_object_get(eval, "classes");
        fprintf(fp, "  %*s", wid, "");
        json_array_foreach(classes, c, v) fprintf(fp, " %9.9s", json_string_value(v));
        fputc('\n', fp);
        json_array_foreach(cm, c, v)
        {
            fprintf(fp, "  %*.*s", wid, wid, json_string_value(json_array_get(classes, c)));
            size_t j;
            json_t *x;
            json_array_foreach(v, j, x) fprintf(fp, " %9lld", (long long)json_integer_value(x));
            fputc('\n', fp);
        }
    }
    const json_t *res = json_object_get(eval, "residuals");
    if (res) {
        const json_t *q = json_object_get(res, "quantiles");
        fprintf(fp, "  residuals (actual - predicted): mean %.6g, std %.6g, median %.6g\n",
                get_num(res, "mean"), get_num(res, "std"), get_num(q, "0.5"));
        q = json_object_get(eval, "abs_error_quantiles");
        fprintf(fp, "  absolute error: median %.6g, 90%% %.6g, 99%% %.6g\n", get_num(q, "0.5"),
                get_num(q, "0.9"), get_num(q, "0.99"));
    }
}

int hf_evaluation_of(const hf_schema *s, const char *source, size_t n, const double *y,
                     const double *pred, json_t **out)
{
    hf_eval_input in = {.source = source,
                        .task = s->task,
                        .n = n,
                        .y = y,
                        .pred = pred,
                        .classes = (const char *const *)s->classes,
                        .n_classes = s->task == HF_TASK_CLASSIFICATION ? s->n_classes : 0};
    return hf_evaluation_make(&in, out);
}
