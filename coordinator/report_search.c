/* report_search.c - the report's search and folds sections (see report.h). */
#define _GNU_SOURCE
#include "coordinator/report.h"

#include "common/hf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Points drawn per scatter at most (a deterministic subsample beyond: every k-th trial, the best
 * always), and lines of the parallel coordinates. */
#define MAX_POINTS 2000
#define MAX_LINES 1000

enum { ST_OK = 0, ST_FAILED = 1, ST_PRUNED = 2 };

/* One searched parameter: its value per trial (a number, or the index of its category). */
typedef struct rp_param {
    const char *name;
    int log;     /* log_uniform: a log axis */
    int numeric; /* every value is a number */
    double *x;   /* n trials */
    char **cats; /* categorical: the distinct values as text, in order of first appearance */
    size_t n_cats;
} rp_param;

typedef struct rp_trials {
    size_t n;
    json_t **t;  /* borrowed */
    double *y;   /* mean objective (NAN when unknown) */
    int *status; /* ST_* */
    int best;    /* index of the selected trial, -1 */
    rp_param *params;
    size_t n_params;
    double ylo, yhi; /* range of the finite scores */
} rp_trials;

static int is_searched(const hf_report_ctx *c, json_t *trials, const char *name, int *log)
{
    *log = 0;
    if (c->spec) {
        long i = hf_space_index(&c->spec->space, name);
        if (i < 0)
            return 0;
        hf_param_kind k = c->spec->space.params[i].kind;
        *log = k == HF_PARAM_LOG_UNIFORM;
        return k != HF_PARAM_FIXED;
    }
    /* Without the spec: the parameters whose values differ between trials. */
    json_t *first = json_object_get(json_object_get(json_array_get(trials, 0), "params"), name);
    size_t i;
    json_t *t;
    json_array_foreach(trials, i, t)
    {
        if (!json_equal(json_object_get(json_object_get(t, "params"), name), first))
            return 1;
    }
    return 0;
}

static void trials_free(rp_trials *r)
{
    for (size_t i = 0; i < r->n_params; i++) {
        free(r->params[i].x);
        for (size_t k = 0; k < r->params[i].n_cats; k++)
            free(r->params[i].cats[k]);
        free(r->params[i].cats);
    }
    free(r->params);
    free(r->t);
    free(r->y);
    free(r->status);
    memset(r, 0, sizeof *r);
}

static int param_values(rp_param *p, const rp_trials *r)
{
    p->numeric = 1;
    for (size_t i = 0; i < r->n; i++)
        if (!json_is_number(json_object_get(json_object_get(r->t[i], "params"), p->name)))
            p->numeric = 0;
    if (!(p->x = hf_calloc(r->n ? r->n : 1, sizeof *p->x)))
        return HF_ENOMEM;
    for (size_t i = 0; i < r->n; i++) {
        json_t *v = json_object_get(json_object_get(r->t[i], "params"), p->name);
        if (p->numeric) {
            p->x[i] = json_number_value(v);
            continue;
        }
        char buf[64];
        const char *s = hf_report_scalar(v, buf, sizeof buf);
        size_t k = 0;
        while (k < p->n_cats && strcmp(p->cats[k], s) != 0)
            k++;
        if (k == p->n_cats) {
            char **nc = hf_realloc(p->cats, (p->n_cats + 1) * sizeof *nc);
            if (!nc)
                return HF_ENOMEM;
            p->cats = nc;
            if (!(p->cats[p->n_cats] = hf_strdup(s)))
                return HF_ENOMEM;
            p->n_cats++;
        }
        p->x[i] = (double)k;
    }
    if (p->log)
        for (size_t i = 0; i < r->n; i++)
            if (!(p->x[i] > 0))
                p->log = 0;
    return HF_OK;
}

static int trials_load(const hf_report_ctx *c, rp_trials *r)
{
    memset(r, 0, sizeof *r);
    json_t *trials = json_object_get(c->results, "trials");
    size_t n = json_array_size(trials);
    r->n = n;
    r->best = -1;
    r->t = hf_calloc(n ? n : 1, sizeof *r->t);
    r->y = hf_calloc(n ? n : 1, sizeof *r->y);
    r->status = hf_calloc(n ? n : 1, sizeof *r->status);
    if (!r->t || !r->y || !r->status)
        return HF_ENOMEM;
    long best = json_integer_value(json_object_get(json_object_get(c->results, "best"), "trial"));
    int has_best = json_is_object(json_object_get(c->results, "best"));
    r->ylo = INFINITY;
    r->yhi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(trials, i);
        const char *st = json_string_value(json_object_get(t, "status"));
        r->t[i] = t;
        r->y[i] = hf_report_num(json_object_get(json_object_get(t, "mean"), c->metric));
        r->status[i] = !st || strcmp(st, "ok") == 0 ? ST_OK
                       : strcmp(st, "pruned") == 0  ? ST_PRUNED
                                                    : ST_FAILED;
        if (r->status[i] == ST_FAILED)
            r->y[i] = NAN;
        if (r->status[i] == ST_PRUNED && !isfinite(r->y[i])) {
            /* A pruned trial has no mean: the mean of the splits it ran, drawn hollow. */
            json_t *fs = json_object_get(json_object_get(t, "fold_scores"), c->metric), *v;
            double sum = 0, k = 0;
            size_t s;
            json_array_foreach(fs, s, v)
            {
                if (isfinite(hf_report_num(v))) {
                    sum += hf_report_num(v);
                    k++;
                }
            }
            r->y[i] = k > 0 ? sum / k : NAN;
        }
        if (isfinite(r->y[i])) {
            r->ylo = fmin(r->ylo, r->y[i]);
            r->yhi = fmax(r->yhi, r->y[i]);
        }
        if (has_best && json_integer_value(json_object_get(t, "trial")) == best)
            r->best = (int)i;
    }
    if (n == 0)
        return HF_OK;
    json_t *params = json_object_get(json_array_get(trials, 0), "params");
    size_t np = json_object_size(params);
    r->params = hf_calloc(np ? np : 1, sizeof *r->params);
    if (!r->params)
        return HF_ENOMEM;
    const char *name;
    json_t *v;
    json_object_foreach(params, name, v)
    {
        int log = 0;
        if (!is_searched(c, trials, name, &log))
            continue;
        rp_param *p = &r->params[r->n_params++];
        p->name = name;
        p->log = log;
        HF_CALL(param_values(p, r));
    }
    return HF_OK;
}

/* Every k-th trial, so that at most MAX_POINTS are drawn (the best always is). */
static size_t stride_of(size_t n, size_t most)
{
    return n > most ? (n + most - 1) / most : 1;
}

static void trial_tip(char *tip, size_t len, const rp_trials *r, size_t i)
{
    static const char *const k_st[] = {"ok", "failed", "pruned"};
    snprintf(tip, len, "trial %lld (%s): %.6g",
             (long long)json_integer_value(json_object_get(r->t[i], "trial")), k_st[r->status[i]],
             r->y[i]);
}

static void history_plot(hf_svg_buf *b, const hf_report_ctx *c, const rp_trials *r)
{
    hf_svg_plot p;
    double pad = (r->yhi - r->ylo) * 0.05;
    char title[160], tip[160];
    snprintf(title, sizeof title, "optimisation history: %s per trial, best so far (%s)", c->metric,
             c->maximize ? "maximize" : "minimize");
    hf_svg_plot_begin(&p, b, 760, 320, title, "trial (in order)", -0.5, (double)r->n - 0.5, 0,
                      c->metric, r->ylo - pad, r->yhi + pad, 0);
    size_t k = stride_of(r->n, MAX_POINTS);
    for (size_t i = 0; i < r->n; i++) {
        if (i % k && (int)i != r->best)
            continue;
        trial_tip(tip, sizeof tip, r, i);
        if (r->status[i] == ST_FAILED)
            hf_svg_rect(&p, (double)i - 0.3, p.y0, (double)i + 0.3, p.y0 + (p.y1 - p.y0) * 0.04,
                        "#d62728", tip);
        else if (r->status[i] == ST_PRUNED)
            hf_svg_point(&p, (double)i, r->y[i], 3, "none", "#999", tip);
        else
            hf_svg_point(&p, (double)i, r->y[i], 3, "#1f77b4", NULL, tip);
    }
    /* The best-so-far line over the completed trials: a step at each improvement. */
    double *xs = hf_malloc((2 * r->n + 2) * sizeof *xs),
           *ys = hf_malloc((2 * r->n + 2) * sizeof *ys);
    size_t m = 0;
    double cur = NAN;
    for (size_t i = 0; xs && ys && i < r->n; i++) {
        if (r->status[i] != ST_OK || !isfinite(r->y[i]))
            continue;
        int better = !isfinite(cur) || (c->maximize ? r->y[i] > cur : r->y[i] < cur);
        if (!better)
            continue;
        if (isfinite(cur)) {
            xs[m] = (double)i;
            ys[m++] = cur;
        }
        cur = r->y[i];
        xs[m] = (double)i;
        ys[m++] = cur;
    }
    if (xs && ys && m) {
        xs[m] = (double)r->n - 1;
        ys[m++] = cur;
        hf_svg_line(&p, xs, ys, m, "#ff7f0e", 2, NULL);
    }
    free(xs);
    free(ys);
    if (r->best >= 0) {
        trial_tip(tip, sizeof tip, r, (size_t)r->best);
        hf_svg_point(&p, (double)r->best, r->y[r->best], 5, "#d62728", "#000", tip);
    }
    hf_svg_legend(&p, 0, "#1f77b4", "trial (mean over splits)", c->maximize);
    hf_svg_legend(&p, 1, "#ff7f0e", "best so far", c->maximize);
    hf_svg_legend(&p, 2, "#d62728", "selected; failed: red bar", c->maximize);
    hf_svg_legend(&p, 3, "#999", "pruned (hollow)", c->maximize);
    hf_svg_plot_end(&p);
}

static void param_plot(hf_svg_buf *b, const hf_report_ctx *c, const rp_trials *r, const rp_param *q)
{
    hf_svg_plot p;
    double pad = (r->yhi - r->ylo) * 0.05;
    char title[160], tip[160];
    snprintf(title, sizeof title, "%s against %.60s", c->metric, q->name);
    if (q->numeric) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < r->n; i++) {
            lo = fmin(lo, q->x[i]);
            hi = fmax(hi, q->x[i]);
        }
        double xp = q->log ? 0 : (hi - lo) * 0.04;
        hf_svg_plot_begin(&p, b, 370, 260, title, q->log ? "(log scale)" : "",
                          q->log ? lo / 1.3 : lo - xp, q->log ? hi * 1.3 : hi + xp, q->log,
                          c->metric, r->ylo - pad, r->yhi + pad, 0);
    } else {
        hf_svg_plot_begin_cat(&p, b, 370, 260, title, "", (const char *const *)q->cats, q->n_cats,
                              c->metric, r->ylo - pad, r->yhi + pad, 0);
    }
    size_t k = stride_of(r->n, MAX_POINTS);
    for (size_t i = 0; i < r->n; i++) {
        if ((i % k && (int)i != r->best) || !isfinite(r->y[i]))
            continue;
        /* Categories: a deterministic spread within the column, so equal values do not hide. */
        double x = q->numeric ? q->x[i] : q->x[i] + 0.3 * ((double)((i * 7919) % 101) / 50 - 1);
        trial_tip(tip, sizeof tip, r, i);
        if ((int)i == r->best)
            continue;
        hf_svg_point(&p, x, r->y[i], 2.5, r->status[i] == ST_PRUNED ? "#bbb" : "#1f77b4", NULL,
                     tip);
    }
    if (r->best >= 0 && isfinite(r->y[r->best])) {
        trial_tip(tip, sizeof tip, r, (size_t)r->best);
        hf_svg_point(&p, q->x[r->best], r->y[r->best], 4.5, "#d62728", "#000", tip);
    }
    hf_svg_plot_end(&p);
}

/* The position (0..1) of trial i on parameter q's axis. */
static double axis_pos(const rp_param *q, const double *lo, const double *hi, size_t j, size_t i)
{
    double v = q->numeric && q->log ? log10(q->x[i]) : q->x[i];
    return hi[j] > lo[j] ? (v - lo[j]) / (hi[j] - lo[j]) : 0.5;
}

static const rp_trials *g_sort;
static int g_max;
/* Worse trials first, so that the best lines are drawn on top. */
static int cmp_quality(const void *a, const void *b)
{
    double x = g_sort->y[*(const size_t *)a], y = g_sort->y[*(const size_t *)b];
    if (x == y)
        return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
    return (g_max ? x < y : x > y) ? -1 : 1;
}

static void parallel_plot(hf_svg_buf *b, const hf_report_ctx *c, const rp_trials *r)
{
    size_t na = r->n_params + 1, nt = 0;
    double *lo = hf_malloc(na * sizeof *lo), *hi = hf_malloc(na * sizeof *hi);
    size_t *order = hf_malloc((r->n ? r->n : 1) * sizeof *order);
    double *xs = hf_malloc(na * sizeof *xs), *ys = hf_malloc(na * sizeof *ys);
    if (!lo || !hi || !order || !xs || !ys)
        goto out;
    for (size_t j = 0; j < r->n_params; j++) {
        const rp_param *q = &r->params[j];
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
        for (size_t i = 0; i < r->n; i++) {
            double v = q->numeric && q->log ? log10(q->x[i]) : q->x[i];
            lo[j] = fmin(lo[j], v);
            hi[j] = fmax(hi[j], v);
        }
    }
    lo[na - 1] = r->ylo;
    hi[na - 1] = r->yhi;
    for (size_t i = 0; i < r->n; i++)
        if (r->status[i] == ST_OK && isfinite(r->y[i]))
            order[nt++] = i;
    g_sort = r;
    g_max = c->maximize;
    qsort(order, nt, sizeof *order, cmp_quality);
    const char **names = hf_malloc(na * sizeof *names);
    if (!names)
        goto out;
    for (size_t j = 0; j < na; j++)
        names[j] = j < r->n_params ? r->params[j].name : c->metric;
    hf_svg_plot p;
    hf_svg_plot_begin_cat(
        &p, b, 260 + 120 * (double)na, 300,
        "parallel coordinates of the completed trials (colour: score, yellow = best)", "", names,
        na, "position on each axis (min to max)", -0.02, 1.08, 0);
    free(names);
    size_t k = stride_of(nt, MAX_LINES);
    for (size_t s = 0; s < nt; s++) {
        if (s % k && s + 1 != nt)
            continue;
        size_t i = order[s];
        for (size_t j = 0; j < r->n_params; j++) {
            xs[j] = (double)j;
            ys[j] = axis_pos(&r->params[j], lo, hi, j, i);
        }
        xs[na - 1] = (double)(na - 1);
        ys[na - 1] =
            hi[na - 1] > lo[na - 1] ? (r->y[i] - lo[na - 1]) / (hi[na - 1] - lo[na - 1]) : 0.5;
        char col[8];
        hf_svg_color(c->maximize ? ys[na - 1] : 1 - ys[na - 1], col);
        hf_svg_line(&p, xs, ys, na, col, 1, NULL);
    }
    for (size_t j = 0; j < na; j++) {
        double ax[2] = {(double)j, (double)j}, ay[2] = {0, 1};
        hf_svg_line(&p, ax, ay, 2, "#444", 1, NULL);
        char t[64];
        if (j < r->n_params && !r->params[j].numeric) {
            snprintf(t, sizeof t, "%s … %s", r->params[j].cats[0],
                     r->params[j].cats[r->params[j].n_cats - 1]);
        } else {
            int lg = j < r->n_params && r->params[j].log;
            snprintf(t, sizeof t, "%.3g … %.3g", lg ? pow(10, lo[j]) : lo[j],
                     lg ? pow(10, hi[j]) : hi[j]);
        }
        hf_svg_text(&p, (double)j, 1.04, "middle", "#555", t);
    }
    hf_svg_plot_end(&p);
out:
    free(lo);
    free(hi);
    free(order);
    free(xs);
    free(ys);
}

/* ---- importance ----------------------------------------------------------------------------- */

static const double *g_vals;
static int cmp_by_val(const void *a, const void *b)
{
    double x = g_vals[*(const size_t *)a], y = g_vals[*(const size_t *)b];
    if (x != y)
        return x < y ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Epsilon-squared of the score grouped by the parameter's value (categories, or ceil(sqrt(n)), at
 * most 10, bins of about equal counts of trials, equal values in one bin): the share of the score's
 * variance between the groups, less what that many groups would explain by chance, clipped at 0.
 * NAN if fewer than 3 usable trials. */
static double importance(const rp_trials *r, const rp_param *q)
{
    size_t n = 0;
    size_t *idx = hf_malloc((r->n ? r->n : 1) * sizeof *idx);
    int *grp = hf_malloc((r->n ? r->n : 1) * sizeof *grp);
    double eps = NAN;
    if (!idx || !grp)
        goto out;
    for (size_t i = 0; i < r->n; i++)
        if (r->status[i] == ST_OK && isfinite(r->y[i]))
            idx[n++] = i;
    if (n < 3)
        goto out;
    g_vals = q->x;
    qsort(idx, n, sizeof *idx, cmp_by_val);
    size_t bins = q->numeric ? (size_t)ceil(sqrt((double)n)) : q->n_cats;
    bins = q->numeric && bins > 10 ? 10 : bins;
    int g = 0;
    for (size_t s = 0; s < n; s++) {
        if (s > 0 && q->x[idx[s]] != q->x[idx[s - 1]]) {
            if (!q->numeric || (size_t)g < s * bins / n)
                g++;
        }
        grp[s] = g;
    }
    size_t k = (size_t)g + 1;
    if (k < 2) {
        eps = 0;
        goto out;
    }
    double mean = 0, sst = 0, ssb = 0;
    for (size_t s = 0; s < n; s++)
        mean += r->y[idx[s]];
    mean /= (double)n;
    for (size_t s = 0; s < n; s++)
        sst += (r->y[idx[s]] - mean) * (r->y[idx[s]] - mean);
    for (size_t s = 0; s < n;) {
        size_t e = s;
        double gm = 0;
        while (e < n && grp[e] == grp[s])
            gm += r->y[idx[e++]];
        gm /= (double)(e - s);
        ssb += (double)(e - s) * (gm - mean) * (gm - mean);
        s = e;
    }
    if (!(sst > 0)) {
        eps = 0;
        goto out;
    }
    double msw = n > k ? (sst - ssb) / (double)(n - k) : 0;
    eps = (ssb - (double)(k - 1) * msw) / sst;
    eps = eps < 0 ? 0 : eps;
out:
    free(idx);
    free(grp);
    return eps;
}

static void importance_plot(hf_svg_buf *b, const rp_trials *r)
{
    size_t n = r->n_params;
    double *imp = hf_malloc(n * sizeof *imp);
    const char **names = hf_malloc(n * sizeof *names);
    if (!imp || !names)
        goto out;
    hf_svg_puts(b, "<table class=\"grid\"><tr><th>parameter</th><th>importance "
                   "(ε²)</th></tr>\n");
    for (size_t j = 0; j < n; j++) {
        imp[j] = importance(r, &r->params[j]);
        names[j] = r->params[j].name;
        hf_svg_puts(b, "<tr><td>");
        hf_svg_esc(b, names[j]);
        hf_svg_puts(b, "</td><td class=\"n\">");
        hf_svg_num(b, imp[j]);
        hf_svg_puts(b, "</td></tr>\n");
    }
    hf_svg_puts(b, "</table>\n");
    hf_svg_plot p;
    hf_svg_plot_begin_cat(&p, b, 160 + 90 * (double)n, 240, "parameter importance", "", names, n,
                          "ε² of the score", 0, 1, 0);
    for (size_t j = 0; j < n; j++)
        if (isfinite(imp[j]))
            hf_svg_rect(&p, (double)j - 0.3, 0, (double)j + 0.3, imp[j], "#2ca02c", names[j]);
    hf_svg_plot_end(&p);
out:
    free(imp);
    free(names);
}

void hf_report_search(hf_svg_buf *b, const hf_report_ctx *c)
{
    rp_trials r;
    hf_svg_puts(b, "<section id=\"search\"><h2>The search</h2>\n");
    if (trials_load(c, &r) < 0) {
        hf_svg_puts(b, "<p class=\"note\">out of memory</p>");
        goto out;
    }
    size_t nf = 0, npr = 0;
    for (size_t i = 0; i < r.n; i++) {
        nf += r.status[i] == ST_FAILED;
        npr += r.status[i] == ST_PRUNED;
    }
    hf_svg_printf(b, "<p>%zu trials: %zu completed, %zu pruned, %zu failed. ", r.n, r.n - nf - npr,
                  npr, nf);
    if (nf || npr)
        hf_svg_puts(b, "A pruned trial is drawn hollow at the mean of the splits it ran, a failed "
                       "one as a red bar at the bottom; importance and parallel coordinates use "
                       "the completed trials only. ");
    if (r.n > MAX_POINTS)
        hf_svg_printf(b, "Scatter plots show every %zu-th trial (and the selected one). ",
                      stride_of(r.n, MAX_POINTS));
    hf_svg_puts(b, "</p>\n<div class=\"plots\">");
    if (r.n > 0 && isfinite(r.ylo))
        history_plot(b, c, &r);
    hf_svg_puts(b, "</div>\n");
    if (r.n_params == 0 || !isfinite(r.ylo)) {
        hf_svg_puts(b, "<p class=\"note\">No searched parameter (every parameter is fixed) or "
                       "no completed trial: no per-parameter plots.</p>\n");
        goto out;
    }
    hf_svg_puts(b, "<h3>Score against each searched parameter</h3><div class=\"plots\">");
    for (size_t j = 0; j < r.n_params; j++)
        param_plot(b, c, &r, &r.params[j]);
    hf_svg_puts(b, "</div>\n<h3>Parallel coordinates</h3><div class=\"plots\">");
    parallel_plot(b, c, &r);
    hf_svg_puts(
        b, "</div>\n<h3>Parameter importance</h3>\n"
           "<p>Per parameter, the completed trials are grouped by its value (each "
           "category, or ⌈√n⌉ (at most 10) bins of about equal numbers of trials); the importance "
           "is ε², the share of the score's variance between the groups less what as "
           "many groups explain by chance (clipped at 0). It is a one-parameter-at-a-time "
           "measure: interactions are not separated. See docs/report.md.</p>\n");
    importance_plot(b, &r);
out:
    trials_free(&r);
    hf_svg_puts(b, "</section>\n");
}

/* ---- folds ---------------------------------------------------------------------------------- */

/* qsort's comparators take no context: the trials being sorted (one sort at a time; the report
 * runs on one thread). */
static const rp_trials *g_rank_r;
static int cmp_rank(const void *a, const void *b)
{
    const rp_trials *r = g_rank_r;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = hf_report_num(json_object_get(r->t[i], "rank")),
           y = hf_report_num(json_object_get(r->t[j], "rank"));
    x = isnan(x) ? INFINITY : x; /* (an unranked trial last) */
    y = isnan(y) ? INFINITY : y;
    if (x != y)
        return x < y ? -1 : 1;
    return i < j ? -1 : 1;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const double *s, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos), hi = (size_t)ceil(pos);
    return s[lo] + (s[hi] - s[lo]) * (pos - floor(pos));
}

void hf_report_folds(hf_svg_buf *b, const hf_report_ctx *c)
{
    rp_trials r;
    hf_svg_puts(b, "<section id=\"folds\"><h2>The folds</h2>\n");
    size_t *idx = NULL, n = 0;
    if (trials_load(c, &r) < 0 || !(idx = hf_malloc((r.n ? r.n : 1) * sizeof *idx)))
        goto out;
    for (size_t i = 0; i < r.n; i++)
        if (r.status[i] == ST_OK && isfinite(r.y[i]))
            idx[n++] = i;
    g_rank_r = &r;
    qsort(idx, n, sizeof *idx, cmp_rank);
    if (n > 10)
        n = 10;
    if (n == 0) {
        hf_svg_puts(b, "<p class=\"note\">No completed trial.</p>\n");
        goto out;
    }
    hf_svg_printf(b,
                  "<p>The score of each split of the %zu best trials (rank order): a box from "
                  "the first to the third quartile with the median, whiskers to the extremes, "
                  "and every split as a point.</p>\n<div class=\"plots\">",
                  n);
    char **labels = hf_calloc(n, sizeof *labels);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t s = 0; labels && s < n; s++) {
        json_t *fs = json_object_get(json_object_get(r.t[idx[s]], "fold_scores"), c->metric);
        size_t k;
        json_t *v;
        json_array_foreach(fs, k, v)
        {
            lo = fmin(lo, hf_report_num(v));
            hi = fmax(hi, hf_report_num(v));
        }
        if (asprintf(&labels[s], "#%lld",
                     (long long)json_integer_value(json_object_get(r.t[idx[s]], "trial"))) < 0)
            labels[s] = NULL;
    }
    if (labels && isfinite(lo)) {
        hf_svg_plot p;
        double pad = (hi - lo) * 0.05;
        hf_svg_plot_begin_cat(&p, b, 120 + 64 * (double)n, 300,
                              "per-split scores of the top trials", "trial",
                              (const char *const *)labels, n, c->metric, lo - pad, hi + pad, 0);
        for (size_t s = 0; s < n; s++) {
            json_t *fs = json_object_get(json_object_get(r.t[idx[s]], "fold_scores"), c->metric);
            size_t m = json_array_size(fs), got = 0;
            double *v = hf_malloc((m ? m : 1) * sizeof *v);
            for (size_t k = 0; v && k < m; k++)
                if (isfinite(hf_report_num(json_array_get(fs, k))))
                    v[got++] = hf_report_num(json_array_get(fs, k));
            if (v && got) {
                qsort(v, got, sizeof *v, cmp_dbl);
                double x = (double)s, wy[2] = {v[0], v[got - 1]}, wx[2] = {x, x};
                hf_svg_line(&p, wx, wy, 2, "#555", 1, NULL);
                hf_svg_rect(&p, x - 0.25, quantile(v, got, 0.25), x + 0.25, quantile(v, got, 0.75),
                            "#aec7e8", NULL);
                double mx[2] = {x - 0.25, x + 0.25}, md = quantile(v, got, 0.5), my[2] = {md, md};
                hf_svg_line(&p, mx, my, 2, "#1f77b4", 2, NULL);
            }
            for (size_t k = 0; k < m; k++) {
                char tip[96];
                double y = hf_report_num(json_array_get(fs, k));
                snprintf(tip, sizeof tip, "split %zu: %.6g", k, y);
                hf_svg_point(&p, (double)s + 0.3 * ((double)k / (double)(m > 1 ? m - 1 : 1) - 0.5),
                             y, 2.5, "#d62728", NULL, tip);
            }
            free(v);
        }
        hf_svg_plot_end(&p);
    }
    for (size_t s = 0; labels && s < n; s++)
        free(labels[s]);
    free(labels);
    hf_svg_puts(b, "</div>\n");
out:
    free(idx);
    trials_free(&r);
    hf_svg_puts(b, "</section>\n");
}
