/* spec_print.c - the readable summary printed by `hyperfold validate`. */
#include "jobs/spec.h"
#include "shards/source.h"

#include "common/hf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 50

/* Numbers for people: integral values without an exponent ("100", not "1e+02"); in the trial
 * table (`brief`) other numbers with 6 significant digits. */
static const char *fmt(const hf_value *v, int brief, char *buf, size_t len)
{
    if (v->type == HF_VAL_NUMBER && v->u.num == floor(v->u.num) && fabs(v->u.num) < 1e15)
        snprintf(buf, len, "%.0f", v->u.num);
    else if (v->type == HF_VAL_NUMBER && brief)
        snprintf(buf, len, "%.6g", v->u.num);
    else
        hf_value_format(v, buf, len);
    return buf;
}

static const char *task_text(hf_task_kind t)
{
    return t == HF_TASK_AUTO ? "inferred from the target" : hf_task_name(t);
}

/* One line describing a parameter's space: "log_uniform [0.001, 1000] (5 grid points)". */
static void space_text(const hf_param_space *p, char *buf, size_t len)
{
    char a[64], b[64];
    size_t used = 0;
    switch (p->kind) {
    case HF_PARAM_FIXED:
        snprintf(buf, len, "%s", fmt(&p->fixed, 0, a, sizeof a));
        return;
    case HF_PARAM_CHOICE:
        used = (size_t)snprintf(buf, len, "one of [");
        for (size_t i = 0; i < p->n_choices && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                     fmt(&p->choices[i], 0, a, sizeof a));
        if (used < len)
            snprintf(buf + used, len - used, "]");
        return;
    default: {
        hf_value lo = {HF_VAL_NUMBER, {.num = p->low}}, hi = {HF_VAL_NUMBER, {.num = p->high}};
        const char *kind = p->kind == HF_PARAM_LOG_UNIFORM ? "log_uniform"
                           : p->kind == HF_PARAM_UNIFORM   ? "uniform"
                                                           : "int_uniform";
        used = (size_t)snprintf(buf, len, "%s [%s, %s]", kind, fmt(&lo, 0, a, sizeof a),
                                fmt(&hi, 0, b, sizeof b));
        if (p->grid_points && used < len)
            snprintf(buf + used, len - used, " (%d grid points)", p->grid_points);
        return;
    }
    }
}

static int count_varying(const hf_spec *spec)
{
    int n = 0;
    for (size_t i = 0; i < spec->space.n_params; i++)
        n += spec->space.params[i].kind != HF_PARAM_FIXED;
    return n;
}

/* Writes the human-readable summary and trial table to `out`. Not collective. */
int hf_spec_print(const hf_spec *spec, const hf_trial *trials, size_t n_trials, FILE *out)
{
    char buf[1024];
    fprintf(out, "job:        %s  (%s, sha256 %.12s)\n", spec->name, spec->path, spec->sha256);
    char *source = hf_source_display(spec->data.source);
    fprintf(out, "data:       %s\n", source ? source : "(out of memory)");
    free(source);
    if (spec->data.task != HF_TASK_AUTO && strcmp(spec->task_why, "data.task") != 0)
        fprintf(out, "target:     %s  (task: %s, implied by %s)\n", spec->data.target,
                task_text(spec->data.task), spec->task_why);
    else
        fprintf(out, "target:     %s  (task: %s)\n", spec->data.target, task_text(spec->data.task));
    if (spec->cv.strategy == HF_CV_PREDEFINED)
        fprintf(out, "cv:         predefined folds from column %s", spec->cv.fold_column);
    else
        fprintf(out, "cv:         %d folds, %s%s", spec->cv.folds,
                hf_folds_strategy_name(hf_cv_strategy_for(&spec->cv, spec->data.task)),
                spec->cv.strategy != HF_CV_AUTO || spec->data.task != HF_TASK_AUTO
                    ? ""
                    : " (stratified if the target is a class)");
    fprintf(out, ", seed %llu", (unsigned long long)spec->cv.seed);
    if (spec->cv.repeats > 1)
        fprintf(out, ", %d repeats", spec->cv.repeats);
    if (spec->cv.holdout > 0)
        fprintf(out, ", holdout %g", spec->cv.holdout);
    fprintf(out, "\n");
    fprintf(out, "model:      %s\n", spec->model_type);
    fprintf(out, "objective:  %s",
            spec->objective.metric ? spec->objective.metric : "r2 or accuracy (by task)");
    for (size_t i = 0; i < spec->objective.n_report; i++)
        fprintf(out, "%s%s", i ? ", " : "  (also report ", spec->objective.report[i]);
    fprintf(out, "%s\n", spec->objective.n_report ? ")" : "");
    if (spec->search.strategy == HF_SEARCH_RANDOM)
        fprintf(out, "search:     random, %d trials, seed %llu\n", spec->search.trials,
                (unsigned long long)spec->search.seed);
    else if (spec->search.strategy == HF_SEARCH_TPE)
        fprintf(out,
                "search:     tpe, %d trials, seed %llu, batches of %d, %d at random first, %s, "
                "%d candidates\n",
                spec->search.trials, (unsigned long long)spec->search.seed, spec->search.batch,
                spec->search.n_startup_trials,
                spec->search.multivariate ? "multivariate" : "independent",
                spec->search.n_ei_candidates);
    else if (spec->search.strategy == HF_SEARCH_HYPERBAND) {
        hf_rung *rungs = NULL;
        size_t nr = 0, total = 0;
        if (hf_hyperband_plan(spec->search.min_resource, spec->search.max_resource,
                              spec->search.eta, spec->search.resource_integer, &rungs, &nr,
                              &total) < 0)
            return HF_EINVAL;
        fprintf(out, "search:     hyperband, eta %d, resource %g to %g, seed %llu: %zu trials\n",
                spec->search.eta, spec->search.min_resource, spec->search.max_resource,
                (unsigned long long)spec->search.seed, total);
        for (size_t r = 0; r < nr; r++)
            fprintf(out, "%s(%zu, %g)%s", rungs[r].rung == 0 ? "  bracket " : " ", rungs[r].n,
                    rungs[r].resource, r + 1 == nr || rungs[r + 1].rung == 0 ? "\n" : "");
        free(rungs);
    } else
        fprintf(out, "search:     grid over %d axes\n", count_varying(spec));
    const hf_search_opts *so = &spec->search; /* budgets and the pruner (docs/search.md) */
    if (so->max_time > 0 || so->early_stop > 0 || so->pruner) {
        fprintf(out, "budgets:   ");
        if (so->max_time > 0)
            fprintf(out, " max_time %gs", so->max_time);
        if (so->early_stop > 0)
            fprintf(out, " early_stop %d (threshold %g)", so->early_stop, so->early_stop_threshold);
        if (so->pruner)
            fprintf(out, " pruner wilcoxon (p %g, pruner_startup %d)", so->pruner_p,
                    so->pruner_startup);
        if (so->strategy == HF_SEARCH_GRID || so->strategy == HF_SEARCH_RANDOM)
            fprintf(out, "; trials in order, batches of %d", so->batch);
        fprintf(out, "\n");
    }
    fprintf(out, "space:\n");
    for (size_t i = 0; i < spec->space.n_params; i++) {
        space_text(&spec->space.params[i], buf, sizeof buf);
        fprintf(out, "  %-30s %s\n", spec->space.params[i].name, buf);
    }
    if (spec->output.upload)
        fprintf(out, "output:     %s -> %s\n", spec->output.dir, spec->output.upload);
    else
        fprintf(out, "output:     %s\n", spec->output.dir);
    if (!trials)
        return ferror(out) ? hf_error(HF_EIO, "writing the spec summary: %s", hf_strerror(errno))
                           : HF_OK;
    if (spec->search.strategy == HF_SEARCH_HYPERBAND) {
        /* Only the first rungs' draws are known before the results promote some of them. */
        fprintf(out,
                "trials:     %zu (the first rung's draws shown; the promotions follow the "
                "results)\n",
                n_trials);
        n_trials = 0;
    } else if (spec->search.strategy == HF_SEARCH_TPE) {
        /* Past the startup trials the proposals depend on the results: only those are known. */
        size_t k = (size_t)spec->search.n_startup_trials;
        fprintf(out,
                "trials:     %zu (the first %zu drawn at random, shown; the others proposed "
                "from the results)\n",
                n_trials, k < n_trials ? k : n_trials);
        n_trials = k < n_trials ? k : n_trials;
    } else {
        fprintf(out, "trials:     %zu\n", n_trials);
    }
    /* Column widths: at least the header, at most 24 characters per value. */
    size_t *w = hf_calloc(spec->space.n_params ? spec->space.n_params : 1, sizeof *w);
    if (!w)
        return HF_ENOMEM;
    size_t shown = n_trials < MAX_ROWS ? n_trials : MAX_ROWS;
    for (size_t i = 0; i < spec->space.n_params; i++) {
        w[i] = strlen(spec->space.params[i].name);
        for (size_t t = 0; t < shown; t++) {
            size_t l = strlen(fmt(&trials[t].values[i], 1, buf, sizeof buf));
            if (l > w[i])
                w[i] = l < 24 ? l : 24;
        }
    }
    fprintf(out, "  %5s", "trial");
    for (size_t i = 0; i < spec->space.n_params; i++)
        fprintf(out, "  %-*s", i + 1 < spec->space.n_params ? (int)w[i] : 0,
                spec->space.params[i].name);
    fprintf(out, "\n");
    for (size_t t = 0; t < shown; t++) {
        fprintf(out, "  %5d", trials[t].id);
        for (size_t i = 0; i < spec->space.n_params; i++)
            fprintf(out, "  %-*.24s", i + 1 < spec->space.n_params ? (int)w[i] : 0,
                    fmt(&trials[t].values[i], 1, buf, sizeof buf));
        fprintf(out, "\n");
    }
    if (n_trials > shown)
        fprintf(out, "  ... %zu more\n", n_trials - shown);
    free(w);
    if (ferror(out))
        return hf_error(HF_EIO, "writing the spec summary: %s", hf_strerror(errno));
    return HF_OK;
}
