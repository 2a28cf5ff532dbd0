/* report.c - `hyperfold report RUN_DIR`: the page's skeleton, the problem, the data profile and
 * the model's provenance (see report.h; the other sections are in report_search.c and
 * report_eval.c). */
#define _GNU_SOURCE
#include "coordinator/report.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "coordinator/commands.h"
#include "coordinator/describe.h"
#include "coordinator/modelfile.h"
#include "shards/partition.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Feature columns listed in the data profile at most. */
#define MAX_COLUMNS 200

static const char *const k_search_names[] = {"grid", "random", "tpe", "hyperband", "asha"};

double hf_report_num(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *hf_report_scalar(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%.6g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(buf, len, "-");
    return buf;
}

void hf_report_row(hf_svg_buf *b, const char *key, const char *value)
{
    hf_svg_puts(b, "<tr><th>");
    hf_svg_esc(b, key);
    hf_svg_puts(b, "</th><td>");
    hf_svg_esc(b, value);
    hf_svg_puts(b, "</td></tr>\n");
}

static void row_num(hf_svg_buf *b, const char *key, double v)
{
    char t[64];
    if (isfinite(v))
        snprintf(t, sizeof t, "%.6g", v);
    else
        snprintf(t, sizeof t, "-");
    hf_report_row(b, key, t);
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static char *path_in(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0) {
        hf_error(HF_ENOMEM, "out of memory");
        return NULL;
    }
    return p;
}

/* ---- the problem ---------------------------------------------------------------------------- */

static void section_problem(hf_svg_buf *b, const hf_report_ctx *c)
{
    json_t *r = c->results, *data = json_object_get(r, "data");
    char t[128];
    hf_svg_puts(b, "<section id=\"problem\"><h2>The problem</h2><table>\n");
    hf_report_row(b, "data source", str_of(r, "source"));
    const char *target = c->manifest ? hf_manifest_schema(c->manifest)->target
                         : c->spec   ? c->spec->data.target
                                     : NULL;
    hf_report_row(b, "target", target ? target : "-");
    hf_task_kind task = c->manifest ? hf_manifest_schema(c->manifest)->task
                        : c->spec   ? c->spec->data.task
                                    : HF_TASK_AUTO;
    hf_report_row(b, "task", task == HF_TASK_AUTO ? "-" : hf_task_name(task));
    snprintf(t, sizeof t, "%s (%s)", str_of(r, "metric"), str_of(r, "direction"));
    hf_report_row(b, "metric", t);
    row_num(b, "rows", hf_report_num(json_object_get(data, "rows")));
    row_num(b, "search rows", hf_report_num(json_object_get(data, "search_rows")));
    row_num(b, "holdout rows", hf_report_num(json_object_get(data, "holdout_rows")));
    row_num(b, "rejected rows", hf_report_num(json_object_get(data, "rejected_rows")));
    if (c->spec) {
        snprintf(t, sizeof t, "%d folds, %s, seed %llu, %d repeat(s)", c->spec->cv.folds,
                 hf_folds_strategy_name(hf_cv_strategy_for(&c->spec->cv, c->spec->data.task)),
                 (unsigned long long)c->spec->cv.seed, c->spec->cv.repeats);
        hf_report_row(b, "cross-validation", t);
    }
    row_num(b, "splits", hf_report_num(json_object_get(r, "n_splits")));
    hf_report_row(b, "model type", str_of(r, "model"));
    if (c->spec) {
        unsigned st = (unsigned)c->spec->search.strategy;
        hf_report_row(b, "search strategy",
                      st < sizeof k_search_names / sizeof *k_search_names ? k_search_names[st]
                                                                          : "?");
    }
    row_num(b, "trials", hf_report_num(json_object_get(r, "n_trials")));
    row_num(b, "failed trials", hf_report_num(json_object_get(r, "n_failed_trials")));
    if (json_object_get(r, "search_stopped"))
        hf_report_row(b, "search stopped by", str_of(r, "search_stopped"));
    hf_report_row(b, "spec SHA-256", str_of(r, "spec_sha256"));
    hf_report_row(b, "source fingerprint", str_of(r, "source_fingerprint"));
    hf_report_row(b, "hyperfold version", str_of(r, "hyperfold_version"));
    hf_svg_puts(b, "</table>\n");
    if (!c->spec)
        hf_svg_puts(b, "<p class=\"note\">job.yaml is missing from the run directory or no "
                       "longer parses: the target, task, folds and search strategy are not "
                       "shown.</p>\n");
    hf_svg_puts(b, "</section>\n");
}

/* ---- the data profile ----------------------------------------------------------------------- */

static void target_plot(hf_svg_buf *b, json_t *col)
{
    json_t *classes = json_object_get(col, "classes");
    if (json_is_array(classes) && json_array_size(classes) > 0) {
        size_t n = json_array_size(classes);
        const char **names = hf_calloc(n, sizeof *names);
        double most = 0;
        if (!names)
            return;
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(classes, i);
            names[i] = str_of(e, "value");
            most = fmax(most, hf_report_num(json_object_get(e, "count")));
        }
        hf_svg_plot p;
        hf_svg_plot_begin_cat(&p, b, 120 + 60 * (double)(n < 12 ? n : 12), 240,
                              "target: rows per class", "class", names, n, "rows", 0, most * 1.1,
                              0);
        for (size_t i = 0; i < n; i++) {
            double v = hf_report_num(json_object_get(json_array_get(classes, i), "count"));
            char tip[160];
            snprintf(tip, sizeof tip, "%.0f rows", v);
            hf_svg_rect(&p, (double)i - 0.35, 0, (double)i + 0.35, v, hf_svg_palette(i), tip);
        }
        hf_svg_plot_end(&p);
        free(names);
        return;
    }
    json_t *h = json_object_get(col, "histogram"), *counts = json_object_get(h, "counts");
    size_t nb = json_array_size(counts);
    double hlo = hf_report_num(json_object_get(h, "min")),
           hhi = hf_report_num(json_object_get(h, "max"));
    if (nb > 0 && isfinite(hlo) && isfinite(hhi)) {
        double most = 0, w = (hhi > hlo ? hhi - hlo : 1) / (double)nb;
        for (size_t i = 0; i < nb; i++)
            most = fmax(most, hf_report_num(json_array_get(counts, i)));
        hf_svg_plot p;
        hf_svg_plot_begin(&p, b, 480, 260, "target: distribution", "target", hlo,
                          hhi > hlo ? hhi : hlo + 1, 0, "rows", 0, most * 1.08, 0);
        for (size_t i = 0; i < nb; i++) {
            double v = hf_report_num(json_array_get(counts, i));
            char tip[96];
            snprintf(tip, sizeof tip, "%.0f rows", v);
            hf_svg_rect(&p, hlo + w * (double)i, 0, hlo + w * (double)(i + 1), v, "#1f77b4", tip);
        }
        hf_svg_plot_end(&p);
        return;
    }
    /* Without a histogram: min, mean ± std and max on one axis. */
    double mn = hf_report_num(json_object_get(col, "min")),
           mx = hf_report_num(json_object_get(col, "max")),
           mean = hf_report_num(json_object_get(col, "mean")),
           sd = hf_report_num(json_object_get(col, "std"));
    if (!isfinite(mn) || !isfinite(mx))
        return;
    hf_svg_plot p;
    hf_svg_plot_begin(&p, b, 480, 150, "target: range, mean and ±1 std", "target", mn, mx, 0, "", 0,
                      1, 0);
    hf_svg_rect(&p, mn, 0.45, mx, 0.55, "#cfd8e3", "min to max");
    if (isfinite(sd))
        hf_svg_rect(&p, mean - sd, 0.3, mean + sd, 0.7, "#7aa6d6", "mean ± 1 std");
    double xs[2] = {mean, mean}, ys[2] = {0.2, 0.8};
    hf_svg_line(&p, xs, ys, 2, "#d62728", 2, NULL);
    hf_svg_plot_end(&p);
}

static void section_data(hf_svg_buf *b, const hf_report_ctx *c)
{
    hf_svg_puts(b, "<section id=\"data\"><h2>The data profile</h2>\n");
    char *shards = path_in(c->run_dir, "shards");
    json_t *prof = NULL;
    int result = !shards        ? HF_ENOMEM
                 : !c->manifest ? hf_error(HF_EIO, "no shards/manifest.json in the run directory")
                                : hf_describe_profile(shards, c->manifest, &prof);
    if (result < 0) {
        hf_svg_puts(b, "<p class=\"note\">No data profile: ");
        hf_svg_esc(b, hf_error_message());
        hf_svg_puts(b, "</p>\n");
        hf_error_clear();
        goto out;
    }
    hf_svg_printf(b, "<p>%lld rows (the shards of the run directory), task ",
                  (long long)json_integer_value(json_object_get(prof, "rows")));
    hf_svg_esc(b, str_of(prof, "task"));
    hf_svg_puts(b, ". The statistics, distinct counts (exact up to 64, else \"&gt; 64\"), "
                   "association with the target and flags as <code>hyperfold describe</code> "
                   "computes them (docs/describe.md); the exact quartiles of the training rows "
                   "from profile.json.</p>\n");
    /* The quartiles: profile.json's (written by run), by column name. */
    char *ppath = path_in(c->run_dir, "profile.json");
    json_t *pj = ppath ? json_load_file(ppath, 0, NULL) : NULL, *pcols = json_object();
    free(ppath);
    /* A profile of other rows (a promoted retrain's data) has no quartiles of these. */
    if (json_integer_value(json_object_get(pj, "rows")) !=
        json_integer_value(json_object_get(prof, "rows"))) {
        json_decref(pj);
        pj = NULL;
    }
    size_t pi;
    json_t *pc;
    json_array_foreach(json_object_get(pj, "columns"), pi, pc)
    {
        if (json_is_string(json_object_get(pc, "name")))
            json_object_set(pcols, json_string_value(json_object_get(pc, "name")), pc);
    }
    json_decref(pj);
    hf_svg_puts(b, "<table class=\"grid\"><tr><th>column</th><th>role</th><th>type</th>"
                   "<th>count</th><th>missing</th><th>distinct</th><th>mean</th><th>std</th>"
                   "<th>min</th><th>q25</th><th>median</th><th>q75</th><th>max</th>"
                   "<th>skew</th><th>association</th><th>most frequent</th><th>flags</th></tr>\n");
    json_t *cols = json_object_get(prof, "columns"), *col, *target = NULL;
    size_t i, ncols = json_array_size(cols);
    json_array_foreach(cols, i, col)
    {
        const char *role = str_of(col, "role");
        if (strcmp(role, "target") == 0)
            target = col;
        else if (i >= MAX_COLUMNS) /* a wide table: the first columns and the target */
            continue;
        json_t *q = json_object_get(pcols, str_of(col, "name"));
        hf_svg_puts(b, "<tr><td>");
        hf_svg_esc(b, str_of(col, "name"));
        hf_svg_puts(b, "</td><td>");
        hf_svg_esc(b, role);
        hf_svg_puts(b, "</td><td>");
        hf_svg_esc(b, str_of(col, "type"));
        hf_svg_puts(b, "</td>");
        const char *keys[] = {"count", "missing"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            hf_svg_puts(b, "<td class=\"n\">");
            hf_svg_num(b, hf_report_num(json_object_get(col, keys[k])));
            hf_svg_puts(b, "</td>");
        }
        hf_svg_puts(b, "<td class=\"n\">");
        if (json_is_integer(json_object_get(col, "distinct")))
            hf_svg_num(b, hf_report_num(json_object_get(col, "distinct")));
        else
            hf_svg_printf(
                b, "&gt; %lld",
                (long long)json_integer_value(json_object_get(col, "distinct_more_than")));
        hf_svg_puts(b, "</td>");
        const char *nkeys[] = {"mean", "std", "min", "q25", "median", "q75", "max", "skew"};
        for (size_t k = 0; k < sizeof nkeys / sizeof *nkeys; k++) {
            json_t *from = k >= 3 && k <= 5 ? q : col;
            hf_svg_puts(b, "<td class=\"n\">");
            hf_svg_num(b, hf_report_num(json_object_get(from, nkeys[k])));
            hf_svg_puts(b, "</td>");
        }
        json_t *a = json_object_get(col, "association");
        hf_svg_puts(b, "<td>");
        if (a) {
            hf_svg_esc(b, str_of(a, "measure"));
            hf_svg_puts(b, " ");
            hf_svg_num(b, hf_report_num(json_object_get(a, "value")));
        }
        hf_svg_puts(b, "</td><td>");
        json_t *top = json_object_get(col, "top");
        if (!top)
            top = json_object_get(col, "classes");
        size_t k;
        json_t *e;
        json_array_foreach(top, k, e)
        {
            if (k == 5) {
                hf_svg_puts(b, " …");
                break;
            }
            hf_svg_puts(b, k ? ", " : "");
            hf_svg_esc(b, str_of(e, "value"));
            hf_svg_printf(b, " (%lld)", (long long)json_integer_value(json_object_get(e, "count")));
        }
        hf_svg_puts(b, "</td><td>");
        json_array_foreach(json_object_get(col, "flags"), k, e)
        {
            hf_svg_puts(b, k ? "<br>" : "");
            hf_svg_puts(b, "<span title=\"");
            hf_svg_esc(b, str_of(e, "reason"));
            hf_svg_puts(b, "\">");
            hf_svg_esc(b, str_of(e, "flag"));
            hf_svg_puts(b, "</span>");
        }
        hf_svg_puts(b, "</td></tr>\n");
    }
    json_decref(pcols);
    hf_svg_puts(b, "</table>\n");
    if (ncols > MAX_COLUMNS + 1)
        hf_svg_printf(b, "<p class=\"note\">The first %d of %zu feature columns are shown.</p>\n",
                      MAX_COLUMNS, ncols - 1);
    if (target) {
        hf_svg_puts(b, "<div class=\"plots\">");
        target_plot(b, target);
        hf_svg_puts(b, "</div>\n");
    }
out:
    json_decref(prof);
    free(shards);
    hf_svg_puts(b, "</section>\n");
}

/* The new data's drift from the training data, from the last retrain (results.json's
 * retrain.drift): the target and the columns that moved most. */
static void section_drift(hf_svg_buf *b, const hf_report_ctx *c)
{
    json_t *d = json_object_get(json_object_get(c->results, "retrain"), "drift");
    if (!json_is_object(d))
        return;
    hf_svg_puts(b, "<section id=\"drift\"><h2>Drift of the retrain data</h2>\n");
    hf_svg_printf(b,
                  "<p>%lld new rows against the profile of the %lld training rows: the "
                  "population stability index over the training deciles (or levels), PSI &gt; "
                  "0.1 moderate, &gt; 0.25 major (docs/describe.md).</p>\n",
                  (long long)json_integer_value(json_object_get(d, "rows_new")),
                  (long long)json_integer_value(json_object_get(d, "rows_old")));
    hf_svg_puts(b, "<table class=\"grid\"><tr><th>column</th><th>type</th><th>PSI</th>"
                   "<th>drift</th><th>missing (training)</th><th>missing (new)</th>"
                   "<th>categories never seen</th></tr>\n");
    json_t *rows[MAX_COLUMNS + 1], *col;
    size_t n = 0, i;
    if (json_object_get(d, "target"))
        rows[n++] = json_object_get(d, "target");
    json_array_foreach(json_object_get(d, "columns"), i, col)
    {
        if (n < MAX_COLUMNS + 1)
            rows[n++] = col;
    }
    for (i = 0; i < n; i++) {
        col = rows[i];
        hf_svg_puts(b, "<tr><td>");
        hf_svg_esc(b, str_of(col, "name"));
        if (i == 0 && json_object_get(d, "target"))
            hf_svg_puts(b, " (target)");
        hf_svg_puts(b, "</td><td>");
        hf_svg_esc(b, str_of(col, "type"));
        hf_svg_puts(b, "</td><td class=\"n\">");
        hf_svg_num(b, hf_report_num(json_object_get(col, "psi")));
        hf_svg_puts(b, "</td><td>");
        hf_svg_esc(b, str_of(col, "drift"));
        hf_svg_puts(b, "</td><td class=\"n\">");
        hf_svg_num(b, hf_report_num(json_object_get(col, "missing_share_old")));
        hf_svg_puts(b, "</td><td class=\"n\">");
        hf_svg_num(b, hf_report_num(json_object_get(col, "missing_share_new")));
        hf_svg_puts(b, "</td><td>");
        json_t *u = json_object_get(col, "new_categories"), *e;
        size_t k;
        if (json_integer_value(json_object_get(u, "count")) > 0) {
            hf_svg_printf(b, "%lld (", (long long)json_integer_value(json_object_get(u, "count")));
            json_array_foreach(json_object_get(u, "examples"), k, e)
            {
                hf_svg_puts(b, k ? ", " : "");
                hf_svg_esc(b, json_string_value(e) ? json_string_value(e) : "");
            }
            hf_svg_puts(b, ")");
        }
        hf_svg_puts(b, "</td></tr>\n");
    }
    hf_svg_puts(b, "</table>\n</section>\n");
}

/* ---- the model's provenance ----------------------------------------------------------------- */

static void section_provenance(hf_svg_buf *b, const hf_report_ctx *c)
{
    json_t *r = c->results, *best = json_object_get(r, "best");
    hf_svg_puts(b, "<section id=\"provenance\"><h2>The model's provenance</h2>\n");
    char *model = path_in(c->run_dir, "model.h5");
    struct stat st;
    char hex[65], t[160];
    if (!model || stat(model, &st) != 0) {
        hf_svg_puts(b, "<p class=\"note\">No model.h5 in the run directory.</p>\n");
    } else if (hf_sha256_file_hex(model, hex) < 0) {
        hf_svg_puts(b, "<p class=\"note\">model.h5 cannot be read: ");
        hf_svg_esc(b, hf_error_message());
        hf_svg_puts(b, "</p>\n");
        hf_error_clear();
    } else {
        hf_modelfile *mf = NULL;
        int readable = hf_modelfile_read(model, &mf) >= 0;
        hf_svg_puts(b, "<table>\n");
        hf_report_row(b, "file", "model.h5");
        hf_report_row(b, "SHA-256", hex);
        snprintf(t, sizeof t, "%lld bytes", (long long)st.st_size);
        hf_report_row(b, "size", t);
        struct tm tm;
        time_t mt = st.st_mtime;
        gmtime_r(&mt, &tm);
        strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S UTC (the file's modification time)", &tm);
        hf_report_row(b, "written", t);
        hf_report_row(b, "model type", readable ? mf->model_type : str_of(r, "model"));
        if (!readable) {
            hf_report_row(b, "check", hf_error_message());
            hf_error_clear();
        }
        if (readable && mf->n_train_rows > 0)
            row_num(b, "training rows", mf->n_train_rows);
        else
            row_num(b, "training rows",
                    hf_report_num(json_object_get(json_object_get(r, "data"), "search_rows")));
        snprintf(t, sizeof t, "%.6g ± %.3g (%s, mean ± std over the splits)",
                 hf_report_num(json_object_get(best, "score")),
                 hf_report_num(json_object_get(best, "std")), str_of(r, "metric"));
        hf_report_row(b, "cv score", t);
        json_t *hold = json_object_get(json_object_get(r, "holdout"), "scores");
        if (json_is_object(hold)) {
            const char *k;
            json_t *v;
            json_object_foreach(hold, k, v)
            {
                if (!json_is_number(v))
                    continue;
                char key[96];
                snprintf(key, sizeof key, "holdout %s", k);
                row_num(b, key, json_number_value(v));
            }
        }
        hf_report_row(b, "spec SHA-256",
                      readable && mf->spec_sha256 ? mf->spec_sha256 : str_of(r, "spec_sha256"));
        hf_report_row(b, "source fingerprint",
                      readable && mf->source_fingerprint ? mf->source_fingerprint
                                                         : str_of(r, "source_fingerprint"));
        hf_modelfile_free(mf);
        snprintf(t, sizeof t, "%lld",
                 (long long)json_integer_value(json_object_get(best, "trial")));
        hf_report_row(b, "selected trial", t);
        hf_svg_puts(b, "</table>\n");
    }
    json_t *params = json_object_get(best, "params");
    if (json_is_object(params)) {
        hf_svg_puts(b, "<h3>Selected parameters</h3><table>\n");
        const char *k;
        json_t *v;
        json_object_foreach(params, k, v)
        {
            hf_report_row(b, k, hf_report_scalar(v, t, sizeof t));
        }
        hf_svg_puts(b, "</table>\n");
    }
    free(model);
    hf_svg_puts(b, "</section>\n");
}

/* ---- the page ------------------------------------------------------------------------------- */

static const char k_style[] =
    "body{font-family:sans-serif;margin:1.5em auto;max-width:1200px;color:#222}"
    "h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{padding:2px 8px;text-align:left;"
    "vertical-align:top}table.grid td,table.grid th{border:1px solid #ddd}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums}.note{color:#666;font-style:italic}"
    ".plots{display:flex;flex-wrap:wrap;gap:10px}nav a{margin-right:1em}"
    "code{background:#f3f3f3;padding:0 3px}";

static void page(hf_svg_buf *b, const hf_report_ctx *c)
{
    const char *name = str_of(c->results, "name");
    hf_svg_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"generator\" content=\"hyperfold\"><title>hyperfold report: ");
    hf_svg_esc(b, name);
    hf_svg_printf(b, "</title><style>%s</style></head>\n<body>\n<h1>hyperfold run ", k_style);
    hf_svg_esc(b, name);
    hf_svg_puts(b, "</h1>\n<nav><a href=\"#problem\">problem</a><a href=\"#data\">data</a>"
                   "<a href=\"#search\">search</a><a href=\"#folds\">folds</a>"
                   "<a href=\"#timeline\">timeline</a><a href=\"#evaluation\">evaluation</a>"
                   "<a href=\"#provenance\">provenance</a></nav>\n");
    section_problem(b, c);
    section_data(b, c);
    section_drift(b, c);
    hf_report_search(b, c);
    hf_report_folds(b, c);
    hf_report_timeline(b, c);
    hf_report_evaluation(b, c);
    section_provenance(b, c);
    hf_svg_puts(b, "<footer><p class=\"note\">Written by hyperfold ");
    hf_svg_esc(b, HF_VERSION);
    hf_svg_puts(b, " from the run directory's files; no script, no external resource.</p>"
                   "</footer>\n</body></html>\n");
}

int hf_report_write(const char *run_dir, const char *output)
{
    char *rpath = path_in(run_dir, "results.json"), *spath = path_in(run_dir, "job.yaml");
    char *out = output ? hf_strdup(output) : path_in(run_dir, "report.html");
    char *text = NULL;
    size_t len = 0;
    json_t *results = NULL;
    hf_spec *spec = NULL;
    hf_manifest *manifest = NULL;
    hf_svg_buf b = {0};
    int result = rpath && spath && out ? HF_OK : HF_ENOMEM;
    if (result >= 0 && !hf_fs_exists(rpath))
        result = hf_error(HF_EINVAL,
                          "%s: not found: %s is not the directory of a finished run "
                          "(hyperfold run writes results.json at its end)",
                          rpath, run_dir);
    /* The report replaces `output` by a rename: never a device, a link or a directory. */
    struct stat ost;
    if (result >= 0 && lstat(out, &ost) == 0 && !S_ISREG(ost.st_mode))
        result = hf_error(HF_EINVAL,
                          "report: %s exists and is not a regular file: give a new "
                          "file name (the report is written to a temporary file, then "
                          "renamed over it)",
                          out);
    if (result >= 0)
        result = hf_fs_read_file(rpath, &text, &len);
    if (result >= 0) {
        json_error_t jerr;
        results = json_loadb(text, len, 0, &jerr);
        if (!json_is_object(results) || !json_is_array(json_object_get(results, "trials")))
            result =
                hf_error(HF_EINVAL,
                         "%s:%d:%d: not a hyperfold results.json (%s): expected an object "
                         "with \"trials\"",
                         rpath, jerr.line, jerr.column, results ? "no trials array" : jerr.text);
    }
    free(text);
    text = NULL;
    if (result >= 0) {
        /* The optional inputs: an unreadable job.yaml or manifest only leaves its facts out. */
        if (hf_fs_exists(spath) && hf_fs_read_file(spath, &text, &len) >= 0 &&
            hf_spec_parse(spath, text, len, &spec) < 0)
            spec = NULL;
        char *shards = path_in(run_dir, "shards");
        if (shards && hf_manifest_read(shards, &manifest) < 0)
            manifest = NULL;
        free(shards);
        hf_error_clear();
    }
    if (result >= 0) {
        const char *dir = json_string_value(json_object_get(results, "direction"));
        hf_report_ctx c = {.run_dir = run_dir,
                           .results = results,
                           .spec = spec,
                           .manifest = manifest,
                           .metric = str_of(results, "metric"),
                           .maximize = !dir || strcmp(dir, "minimize") != 0};
        page(&b, &c);
        /* A section that ran out of memory leaves its part of the page out: no page then. */
        if (b.failed || hf_error_code() == HF_ENOMEM)
            result = HF_ENOMEM;
    }
    if (result >= 0)
        result = hf_fs_write_atomic(out, b.data, b.len);
    hf_svg_buf_free(&b);
    free(text);
    json_decref(results);
    hf_spec_free(spec);
    hf_manifest_free(manifest);
    free(rpath);
    free(spath);
    free(out);
    return result;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hyperfold report RUN_DIR [--output FILE]\n\n"
                "Writes RUN_DIR/report.html (or FILE): one self-contained page with the problem,\n"
                "the data profile, the search history and parameter importance, the folds of the\n"
                "best trials, the per-rank timeline, the evaluation plots and the model's\n"
                "provenance. No MPI: runs on one process. `hyperfold run` writes it at the end of\n"
                "every sweep.\n");
}

int hf_cmd_report(int argc, char **argv)
{
    const char *dir = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return HF_OK;
        }
        if (strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc)
                return hf_error(HF_EINVAL, "report: --output needs a file name");
            output = argv[++i];
        } else if (argv[i][0] == '-') {
            return hf_error(HF_EINVAL,
                            "report: unknown option \"%s\" (usage: hyperfold report RUN_DIR "
                            "[--output FILE])",
                            argv[i]);
        } else if (dir) {
            return hf_error(HF_EINVAL, "report: one run directory expected, got \"%s\" and \"%s\"",
                            dir, argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (!dir)
        return hf_error(HF_EINVAL, "report: missing RUN_DIR (usage: hyperfold report RUN_DIR "
                                   "[--output FILE])");
    HF_CALL(hf_report_write(dir, output));
    printf("wrote %s%s\n", output ? output : dir, output ? "" : "/report.html");
    return HF_OK;
}
