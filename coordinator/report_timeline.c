/* report_timeline.c - the report's timeline section: the journal's tasks per rank and the
 * utilisation (see report.h and docs/report.md). */
#define _GNU_SOURCE
#include "coordinator/report.h"

#include "common/fsutil.h"
#include "common/hf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rp_task {
    int task, split, worker;
    double start, seconds;
} rp_task;

/* The journal's task lines (after the header; a line's checksum tab cut off; trial definitions
 * and unreadable lines skipped); start is NAN where a line has none. */
static int read_tasks(const char *run_dir, rp_task **out, size_t *n)
{
    char *path = NULL, *text = NULL;
    size_t len = 0;
    *out = NULL;
    *n = 0;
    if (asprintf(&path, "%s/journal.jsonl", run_dir) < 0)
        return HF_ENOMEM;
    int result = hf_fs_exists(path) ? hf_fs_read_file(path, &text, &len)
                                    : hf_error(HF_EIO, "no journal.jsonl in the run directory");
    free(path);
    if (result < 0)
        return result;
    size_t cap = 0;
    char *p = memchr(text, '\n', len);
    p = p ? p + 1 : text + len;
    while (p < text + len) {
        char *e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e)
            break;
        *e = '\0';
        char *tab = strrchr(p, '\t');
        if (tab)
            *tab = '\0';
        json_t *o = json_loads(p, 0, NULL);
        p = e + 1;
        if (!o || !json_is_integer(json_object_get(o, "task"))) {
            json_decref(o);
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            rp_task *nt = hf_realloc(*out, cap * sizeof *nt);
            if (!nt) {
                json_decref(o);
                result = HF_ENOMEM;
                break;
            }
            *out = nt;
        }
        rp_task *t = &(*out)[(*n)++];
        t->task = (int)json_integer_value(json_object_get(o, "task"));
        t->split = (int)json_integer_value(json_object_get(o, "split"));
        t->worker = (int)json_integer_value(json_object_get(o, "worker"));
        t->seconds = hf_report_num(json_object_get(o, "seconds"));
        t->start = hf_report_num(json_object_get(o, "start"));
        json_decref(o);
    }
    free(text);
    return result;
}

void hf_report_timeline(hf_svg_buf *b, const hf_report_ctx *c)
{
    rp_task *t = NULL;
    size_t n = 0;
    int has_start = 1; /* every task line of the last session has a start */
    hf_svg_puts(b, "<section id=\"timeline\"><h2>The timeline</h2>\n");
    json_t *timing = json_object_get(c->results, "timing");
    int ranks = (int)json_integer_value(json_object_get(timing, "ranks"));
    size_t resumed = (size_t)json_integer_value(json_object_get(timing, "resumed_tasks"));
    int per_task =
        c->spec && c->spec->parallel.ranks_per_task > 1 ? c->spec->parallel.ranks_per_task : 1;
    if (read_tasks(c->run_dir, &t, &n) < 0) {
        hf_svg_puts(b, "<p class=\"note\">Not available: ");
        hf_svg_esc(b, hf_error_message());
        hf_svg_puts(b, "</p>\n");
        hf_error_clear();
        goto out;
    }
    /* The tasks of the last session: a resumed run journaled the first ones earlier, on another
     * clock. */
    size_t from = resumed < n ? resumed : n;
    int lanes = ranks > 0 ? ranks : 1;
    double busy = 0, wall = 0;
    for (size_t i = from; i < n; i++) {
        /* A worker outside the run's ranks (a damaged journal line) gets no lane of its own:
         * its task is left out of the drawing below. */
        busy += t[i].seconds * per_task;
        if (isfinite(t[i].start))
            wall = fmax(wall, t[i].start + t[i].seconds);
    }
    hf_svg_printf(b, "<p>%zu tasks", n - from);
    if (from)
        hf_svg_printf(b, " in this session (%zu more ran before the run was resumed)", from);
    hf_svg_printf(b, " on %d rank(s); busy time %.3f s.", ranks, busy);
    for (size_t i = from; i < n; i++)
        if (!isfinite(t[i].start))
            has_start = 0;
    if (n == from) {
        hf_svg_puts(b, " No timeline: every task ran in an earlier session of this resumed "
                       "run.</p>\n");
        goto out;
    }
    if (!has_start) {
        hf_svg_puts(b, " Not available: the journal's task lines have no start time (a journal "
                       "written before hyperfold recorded them).</p>\n");
        goto out;
    }
    hf_svg_printf(b,
                  " Sweep wall time %.3f s; utilisation (busy time / (ranks × wall time)) "
                  "<b>%.1f%%</b>. A task's start is measured by the coordinator (rank 0): the "
                  "later of when it handed the task out and when that worker's previous task "
                  "ended; its length is the worker's own measure.</p>\n<div class=\"plots\">",
                  wall, wall > 0 && ranks > 0 ? 100 * busy / (ranks * wall) : 0);
    char **rows = hf_calloc((size_t)lanes, sizeof *rows);
    for (int w = 0; rows && w < lanes; w++)
        if (asprintf(&rows[w], "rank %d", w) < 0)
            rows[w] = NULL;
    if (rows) {
        hf_svg_plot p;
        hf_svg_plot_begin_rows(&p, b, 1000, 60 + 28 * (double)lanes,
                               "tasks per rank (colour: split)", "seconds since the sweep started",
                               0, wall > 0 ? wall : 1, (const char *const *)rows, (size_t)lanes);
        for (size_t i = from; i < n; i++) {
            if (t[i].worker < 0 || t[i].worker >= lanes)
                continue;
            char tip[128];
            snprintf(tip, sizeof tip, "task %d (split %d) on rank %d: %.3f s from %.3f s",
                     t[i].task, t[i].split, t[i].worker, t[i].seconds, t[i].start);
            hf_svg_rect(&p, t[i].start, t[i].worker - 0.35, t[i].start + t[i].seconds,
                        t[i].worker + 0.35,
                        hf_svg_palette((size_t)(t[i].split < 0 ? 0 : t[i].split)), tip);
        }
        hf_svg_plot_end(&p);
        for (int w = 0; w < lanes; w++)
            free(rows[w]);
        free(rows);
    }
    hf_svg_puts(b, "</div>\n");
out:
    free(t);
    hf_svg_puts(b, "</section>\n");
}
