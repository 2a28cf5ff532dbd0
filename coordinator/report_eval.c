/* report_eval.c - the report's evaluation section: results.json's "evaluation" (out-of-fold
 * predictions of the best trial) and "holdout_evaluation" (the refit model on the holdout rows),
 * in the shape docs/report.md describes (see report.h). */
#include "coordinator/report.h"

#include "common/hf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* The numbers of a JSON array into a new array (non-numbers as NAN); *n its length. */
static double *nums(const json_t *a, size_t *n)
{
    *n = json_array_size(a);
    double *v = hf_malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; v && i < *n; i++)
        v[i] = hf_report_num(json_array_get(a, i));
    return v;
}

static void metrics_table(hf_svg_buf *b, const json_t *e)
{
    json_t *m = json_object_get(e, "metrics");
    const char *k;
    json_t *v;
    char t[64];
    hf_svg_puts(b, "<table class=\"grid\">");
    hf_report_row(b, "rows", hf_report_scalar(json_object_get(e, "n_rows"), t, sizeof t));
    json_object_foreach(m, k, v)
    {
        hf_report_row(b, k, hf_report_scalar(v, t, sizeof t));
    }
    hf_svg_puts(b, "</table>\n");
}

static void confusion(hf_svg_buf *b, const json_t *e, const char *const *classes, size_t k)
{
    json_t *cm = json_object_get(e, "confusion_matrix");
    if (!json_is_array(cm) || json_array_size(cm) != k || k == 0)
        return;
    double most = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            most = fmax(most, hf_report_num(json_array_get(json_array_get(cm, i), j)));
    double side = 80 + 48 * (double)(k < 14 ? k : 14);
    hf_svg_plot p;
    hf_svg_plot_begin_grid(&p, b, side + 60, side, "confusion matrix (count)", "predicted class",
                           classes, k, "true class", classes, k);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double v = hf_report_num(json_array_get(json_array_get(cm, i), j));
            char col[8], tip[64], lab[32];
            hf_svg_color(most > 0 ? v / most : 0, col);
            snprintf(tip, sizeof tip, "%.0f", v);
            hf_svg_rect(&p, (double)j - 0.5, (double)i - 0.5, (double)j + 0.5, (double)i + 0.5, col,
                        tip);
            snprintf(lab, sizeof lab, "%.0f", v);
            hf_svg_text(&p, (double)j, (double)i + 0.1, "middle",
                        most > 0 && v / most > 0.6 ? "#000" : "#fff", lab);
        }
    hf_svg_plot_end(&p);
}

static void per_class(hf_svg_buf *b, const json_t *e)
{
    json_t *pc = json_object_get(e, "per_class"), *row;
    size_t i;
    const char *keys[] = {"precision", "recall", "f1", "support"};
    hf_svg_puts(b, "<table class=\"grid\"><tr><th>class</th><th>precision</th><th>recall</th>"
                   "<th>f1</th><th>support</th></tr>\n");
    json_array_foreach(pc, i, row)
    {
        hf_svg_puts(b, "<tr><td>");
        hf_svg_esc(b, str_of(row, "class"));
        hf_svg_puts(b, "</td>");
        for (int k = 0; k < 4; k++) {
            hf_svg_puts(b, "<td class=\"n\">");
            hf_svg_num(b, hf_report_num(json_object_get(row, keys[k])));
            hf_svg_puts(b, "</td>");
        }
        hf_svg_puts(b, "</tr>\n");
    }
    const char *avg[] = {"macro_avg", "weighted_avg"};
    for (int a = 0; a < 2; a++) {
        json_t *r = json_object_get(e, avg[a]);
        if (!r)
            continue;
        hf_svg_printf(b, "<tr><th>%s</th>", a ? "weighted avg" : "macro avg");
        for (int k = 0; k < 4; k++) {
            hf_svg_puts(b, "<td class=\"n\">");
            hf_svg_num(b, hf_report_num(json_object_get(r, keys[k])));
            hf_svg_puts(b, "</td>");
        }
        hf_svg_puts(b, "</tr>\n");
    }
    hf_svg_puts(b, "<tr><th>accuracy</th><td class=\"n\" colspan=\"4\">");
    hf_svg_num(b, hf_report_num(json_object_get(e, "accuracy")));
    hf_svg_puts(b, "</td></tr></table>\n");
}

/* One curve per entry of curves (a JSON array of objects with xkey and ykey arrays), named by
 * "class" and the number under `stat`. diag: the chance diagonal (ROC, calibration). */
static void curves(hf_svg_buf *b, const json_t *list, const char *title, const char *xkey,
                   const char *xlabel, const char *ykey, const char *ylabel, const char *stat,
                   const char *stat_name, int diag)
{
    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    hf_svg_plot p;
    hf_svg_plot_begin(&p, b, 380, 340, title, xlabel, 0, 1, 0, ylabel, 0, 1.02, 0);
    if (diag) {
        double d[2] = {0, 1};
        hf_svg_line(&p, d, d, 2, "#aaa", 1, "4 3");
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        size_t nx, ny;
        double *x = nums(json_object_get(c, xkey), &nx), *y = nums(json_object_get(c, ykey), &ny);
        if (x && y) {
            hf_svg_line(&p, x, y, nx < ny ? nx : ny, hf_svg_palette(i), 2, NULL);
            if (diag && !stat) /* calibration: the bins as points */
                for (size_t k = 0; k < (nx < ny ? nx : ny); k++)
                    hf_svg_point(&p, x[k], y[k], 3, hf_svg_palette(i), NULL, NULL);
        }
        free(x);
        free(y);
        char lab[160];
        if (stat)
            snprintf(lab, sizeof lab, "%.40s: %s %.4f", str_of(c, "class"), stat_name,
                     hf_report_num(json_object_get(c, stat)));
        else
            snprintf(lab, sizeof lab, "%.60s", str_of(c, "class"));
        if (i < 12)
            hf_svg_legend(&p, i, hf_svg_palette(i), lab, 1);
    }
    /* The legend sits in the bottom right, which ROC and calibration curves rarely reach. */
    hf_svg_plot_end(&p);
}

static void regression(hf_svg_buf *b, const json_t *e)
{
    json_t *sc = json_object_get(e, "scatter");
    size_t na, np;
    double *a = nums(json_object_get(sc, "actual"), &na),
           *pr = nums(json_object_get(sc, "predicted"), &np);
    size_t n = na < np ? na : np;
    hf_svg_puts(b, "<div class=\"plots\">");
    if (a && pr && n > 0) {
        double lo = INFINITY, hi = -INFINITY, rlo = INFINITY, rhi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            lo = fmin(lo, fmin(a[i], pr[i]));
            hi = fmax(hi, fmax(a[i], pr[i]));
            rlo = fmin(rlo, a[i] - pr[i]);
            rhi = fmax(rhi, a[i] - pr[i]);
        }
        hf_svg_plot p;
        hf_svg_plot_begin(&p, b, 380, 340, "predicted against actual", "actual", lo, hi, 0,
                          "predicted", lo, hi, 0);
        double d[2] = {lo, hi};
        hf_svg_line(&p, d, d, 2, "#d62728", 1.5, "4 3");
        for (size_t i = 0; i < n; i++)
            hf_svg_point(&p, a[i], pr[i], 2, "#1f77b4", NULL, NULL);
        hf_svg_plot_end(&p);
        /* Residual histogram: 30 bins between the extremes. */
        enum { BINS = 30 };
        double cnt[BINS] = {0}, most = 0, w = (rhi - rlo) / BINS;
        for (size_t i = 0; i < n; i++) {
            int k = w > 0 ? (int)((a[i] - pr[i] - rlo) / w) : 0;
            k = k < 0 ? 0 : k >= BINS ? BINS - 1 : k;
            cnt[k]++;
        }
        for (int k = 0; k < BINS; k++)
            most = fmax(most, cnt[k]);
        hf_svg_plot_begin(&p, b, 380, 340, "residuals (actual - predicted)", "residual", rlo,
                          w > 0 ? rhi : rlo + 1, 0, "rows", 0, most * 1.08, 0);
        for (int k = 0; k < BINS; k++) {
            char tip[64];
            snprintf(tip, sizeof tip, "%.0f rows", cnt[k]);
            hf_svg_rect(&p, rlo + k * w, 0, rlo + (k + 1) * w, cnt[k], "#9467bd", tip);
        }
        hf_svg_plot_end(&p);
    }
    hf_svg_puts(b, "</div>\n");
    if (n < (size_t)hf_report_num(json_object_get(e, "n_rows")))
        hf_svg_printf(b,
                      "<p class=\"note\">The plots show a deterministic subsample of %zu "
                      "rows.</p>\n",
                      n);
    free(a);
    free(pr);
    const char *tabs[] = {"residuals", "abs_error_quantiles"};
    for (int t = 0; t < 2; t++) {
        json_t *o = json_object_get(e, tabs[t]);
        if (!json_is_object(o))
            continue;
        json_t *q = t == 0 ? json_object_get(o, "quantiles") : o;
        hf_svg_printf(b, "<table class=\"grid\"><tr><th>%s</th>",
                      t == 0 ? "residual quantile" : "|error| quantile");
        const char *k;
        json_t *v;
        json_object_foreach(q, k, v)
        {
            hf_svg_puts(b, "<th>");
            hf_svg_esc(b, k);
            hf_svg_puts(b, "</th>");
        }
        hf_svg_puts(b, "</tr><tr><td></td>");
        json_object_foreach(q, k, v)
        {
            hf_svg_puts(b, "<td class=\"n\">");
            hf_svg_num(b, hf_report_num(v));
            hf_svg_puts(b, "</td>");
        }
        hf_svg_puts(b, "</tr></table>\n");
        if (t == 0) {
            hf_svg_puts(b, "<p>residual mean ");
            hf_svg_num(b, hf_report_num(json_object_get(o, "mean")));
            hf_svg_puts(b, ", std ");
            hf_svg_num(b, hf_report_num(json_object_get(o, "std")));
            hf_svg_puts(b, "</p>\n");
        }
    }
}

static void one(hf_svg_buf *b, const json_t *e, const char *title)
{
    hf_svg_puts(b, "<h3>");
    hf_svg_esc(b, title);
    hf_svg_puts(b, " (source: ");
    hf_svg_esc(b, str_of(e, "source"));
    hf_svg_puts(b, ")</h3>\n");
    metrics_table(b, e);
    if (strcmp(str_of(e, "task"), "classification") != 0) {
        regression(b, e);
        return;
    }
    json_t *cl = json_object_get(e, "classes");
    size_t k = json_array_size(cl);
    const char **classes = hf_calloc(k ? k : 1, sizeof *classes);
    if (!classes)
        return;
    for (size_t i = 0; i < k; i++) {
        const char *s = json_string_value(json_array_get(cl, i));
        classes[i] = s ? s : "?";
    }
    hf_svg_puts(b, "<div class=\"plots\">");
    confusion(b, e, classes, k);
    hf_svg_puts(b, "</div>\n");
    per_class(b, e);
    hf_svg_puts(b, "<div class=\"plots\">");
    curves(b, json_object_get(e, "roc"), "ROC curve", "fpr", "false positive rate", "tpr",
           "true positive rate", "auc", "AUC", 1);
    curves(b, json_object_get(e, "pr"), "precision-recall curve", "recall", "recall", "precision",
           "precision", "average_precision", "AP", 0);
    curves(b, json_object_get(e, "calibration"), "calibration (10 uniform bins)", "prob_pred",
           "mean predicted probability", "prob_true", "fraction of positives", NULL, NULL, 1);
    hf_svg_puts(b, "</div>\n");
    free(classes);
}

void hf_report_evaluation(hf_svg_buf *b, const hf_report_ctx *c)
{
    json_t *oof = json_object_get(c->results, "evaluation"),
           *hold = json_object_get(c->results, "holdout_evaluation");
    hf_svg_puts(b, "<section id=\"evaluation\"><h2>The evaluation</h2>\n");
    if (json_is_object(oof))
        one(b, oof, "out-of-fold predictions of the selected trial");
    if (json_is_object(hold))
        one(b, hold, "the refit model on the holdout rows");
    if (!json_is_object(oof) && !json_is_object(hold))
        hf_svg_puts(b, "<p class=\"note\">Not available: results.json has no \"evaluation\" "
                       "(out-of-fold) or \"holdout_evaluation\" object.</p>\n");
    hf_svg_puts(b, "</section>\n");
}
