/* fuzz_spec.c - the job-spec parser (jobs/spec.c hf_spec_parse) and what `validate` and `run` do
 * with a spec that parses: the trial expansion (jobs/search.c hf_spec_trials), the summary
 * (hf_spec_print), every trial's parameters as JSON, the decoded trials (hf_spec_decode_trials)
 * and the task list (worker/task.c hf_task_list_make) and the checks against a small table
 * (hf_spec_check_data, hf_spec_resolve_task).
 *
 * Input: the bytes of a job.yaml. Invariants checked besides memory safety and UB:
 *  - the hf.h error convention (a failure has a one-line message, a success leaves none);
 *  - a grid or random search larger than the product's limit is refused with an error, never
 *    expanded (no huge allocation: libFuzzer's malloc limit turns one into a finding);
 *  - every trial has one value per parameter, of the parameter's type; a random draw from a
 *    distribution is finite and inside [lo, hi];
 *  - the parameters of each trial are a JSON object with one key per parameter;
 *  - the task list holds every trial exactly once per split, in batches of at most max_batch. */
#include "fuzz_util.h"

#include "common/hf.h"
#include "jobs/spec.h"
#include "worker/model.h"
#include "worker/task.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jobs/search.c MAX_TRIALS: the largest search it expands. */
#define SEARCH_LIMIT 10000000.0
/* Searches the harness expands: small ones (fast), and the ones above the limit (which must be
 * refused). Those in between are valid and only slow. */
#define EXPAND_LIMIT 20000.0

/* The largest trial count whose task list is built and checked (see check_tasks' caller). */
#define TASK_LIST_LIMIT 2000

static FILE *g_null;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    g_null = fopen("/dev/null", "w");
    if (!g_null)
        abort();
    return 0;
}

/* An upper bound of the number of trials hf_spec_trials makes. */
static double predicted_trials(const hf_spec *s)
{
    if (s->search.strategy == HF_SEARCH_RANDOM || s->search.strategy == HF_SEARCH_TPE ||
        s->search.strategy == HF_SEARCH_ASHA) /* (TPE and ASHA start from random draws) */
        return (double)s->search.trials;
    if (s->search.strategy == HF_SEARCH_HYPERBAND) { /* its plan's trials */
        hf_rung *r = NULL;
        size_t nr = 0, total = 0;
        if (hf_hyperband_plan(s->search.min_resource, s->search.max_resource, s->search.eta,
                              s->search.resource_integer, &r, &nr, &total) < 0) {
            hf_error_clear();
            return 0;
        }
        free(r);
        return (double)total;
    }
    double total = 1;
    for (size_t i = 0; i < s->space.n_params; i++) {
        const hf_param_space *p = &s->space.params[i];
        double n = 1;
        if (p->kind == HF_PARAM_CHOICE)
            n = (double)p->n_choices;
        else if (p->kind != HF_PARAM_FIXED)
            n = p->grid_points > 0 ? (double)p->grid_points
                                   : (p->kind == HF_PARAM_INT_UNIFORM ? p->high - p->low + 1 : 1);
        total *= n;
    }
    return total;
}

static int within(double v, double lo, double hi)
{
    double tol = 4 * 2.220446049250313e-16 * fmax(fabs(lo), fabs(hi));
    return isfinite(v) && v >= lo - tol && v <= hi + tol;
}

static void check_trials(const hf_spec *s, const hf_trial *trials, size_t n)
{
    for (size_t t = 0; t < n; t++) {
        hf_fuzz_check(trials[t].id == (int)t, "trial %zu has id %d", t, trials[t].id);
        for (size_t i = 0; i < s->space.n_params; i++) {
            const hf_param_space *p = &s->space.params[i];
            const hf_value *v = &trials[t].values[i];
            hf_fuzz_check(v->type == p->value_type, "trial %zu: %s has type %d, expected %d", t,
                          p->name, (int)v->type, (int)p->value_type);
            if (p->kind == HF_PARAM_UNIFORM || p->kind == HF_PARAM_LOG_UNIFORM ||
                p->kind == HF_PARAM_INT_UNIFORM) {
                double x = hf_value_as_double(v);
                hf_fuzz_check(within(x, p->low, p->high),
                              "trial %zu: %s = %.17g outside [%.17g, %.17g]", t, p->name, x, p->low,
                              p->high);
            }
        }
    }
    /* Parameters as JSON: a failure (a string that is not UTF-8) is a reported error. */
    for (size_t t = 0; t < n && t < 64; t++) {
        char *text = hf_trial_params_json(&s->space, &trials[t]);
        hf_fuzz_check_status(text ? HF_OK : HF_EINVAL, "hf_trial_params_json");
        if (!text)
            continue;
        json_error_t err;
        json_t *o = json_loads(text, 0, &err);
        hf_fuzz_check(json_is_object(o) && json_object_size(o) == s->space.n_params,
                      "trial %zu parameters %s: not an object of %zu keys", t, text,
                      s->space.n_params);
        json_decref(o);
        free(text);
    }
}

static void check_tasks(const hf_spec *s, const hf_trial *trials, size_t n)
{
    const hf_model_ops *model = hf_model_find(s->model_type);
    hf_fuzz_check(model != NULL, "spec names model %s, which is not registered", s->model_type);
    size_t n_splits = (size_t)(s->cv.folds < 3 ? s->cv.folds : 3), max_batch = 4;
    hf_trial_config *cfgs = NULL;
    int rc = hf_spec_decode_trials(s, model, trials, n, &cfgs);
    hf_fuzz_check_status(rc, "hf_spec_decode_trials");
    if (rc < 0)
        return;
    hf_task_list l;
    rc = hf_task_list_make(model, cfgs, n, n_splits, max_batch, &l);
    hf_fuzz_check_status(rc, "hf_task_list_make");
    if (rc < 0) {
        hf_trial_configs_free(cfgs, n);
        return;
    }
    unsigned char *seen = calloc(n * n_splits + 1, 1);
    if (!seen)
        abort();
    for (size_t k = 0; k < l.n_tasks; k++) {
        const hf_task *task = &l.tasks[k];
        hf_fuzz_check(task->id == (int)k, "task %zu has id %d", k, task->id);
        hf_fuzz_check(task->split >= 0 && (size_t)task->split < n_splits, "task %zu: split %d", k,
                      task->split);
        hf_fuzz_check(task->n_trials >= 1 && task->n_trials <= max_batch,
                      "task %zu: %zu trials in a batch of at most %zu", k, task->n_trials,
                      max_batch);
        for (size_t i = 0; i < task->n_trials; i++) {
            int t = task->trials[i];
            hf_fuzz_check(t >= 0 && (size_t)t < n, "task %zu: trial %d of %zu", k, t, n);
            hf_fuzz_check(i == 0 || task->trials[i - 1] < t, "task %zu: trials not ascending", k);
            size_t cell = (size_t)t * n_splits + (size_t)task->split;
            hf_fuzz_check(!seen[cell], "trial %d on split %d is in two tasks", t, task->split);
            seen[cell] = 1;
        }
    }
    for (size_t c = 0; c < n * n_splits; c++)
        hf_fuzz_check(seen[c], "trial %zu on split %zu is in no task", c / n_splits, c % n_splits);
    free(seen);
    hf_task_list_free(&l);
    hf_trial_configs_free(cfgs, n);
}

/* The checks `validate` runs once the data is known, on a small made-up table. */
static void check_data(hf_spec *s, int classify)
{
    char *classes[] = {"a", "b", "c"};
    hf_schema schema = {.target = s->data.target,
                        .task = classify ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION,
                        .classes = classify ? classes : NULL,
                        .n_classes = classify ? 3 : 0};
    double y[12];
    for (size_t i = 0; i < 12; i++)
        y[i] = classify ? (double)(i % 3) : 0.5 * (double)i;
    hf_fuzz_check_status(hf_spec_check_data(s, &schema, y, 12), "hf_spec_check_data");
    hf_fuzz_check_status(hf_spec_resolve_task(s, schema.task), "hf_spec_resolve_task");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_spec *s = NULL;
    int rc = hf_spec_parse("job.yaml", (const char *)data, size, &s);
    hf_fuzz_check_status(rc, "hf_spec_parse");
    if (rc < 0) {
        hf_fuzz_check(s == NULL, "hf_spec_parse failed but returned a spec");
        return 0;
    }
    hf_fuzz_check(s->name && s->data.source && s->data.target && s->model_type,
                  "a parsed spec lacks name, data.source, data.target or model.type");
    double predicted = predicted_trials(s);
    if (predicted <= EXPAND_LIMIT || predicted > SEARCH_LIMIT) {
        hf_trial *trials = NULL;
        size_t n = 0;
        rc = hf_spec_trials(s, &trials, &n);
        hf_fuzz_check_status(rc, "hf_spec_trials");
        hf_fuzz_check(predicted <= SEARCH_LIMIT || rc < 0,
                      "a search of up to %.0f trials was expanded (limit %.0f)", predicted,
                      SEARCH_LIMIT);
        if (rc >= 0) {
            hf_fuzz_check(n >= 1 && (double)n <= predicted, "%zu trials, predicted at most %.0f", n,
                          predicted);
            check_trials(s, trials, n);
            /* hf_task_list_make compares each trial with every batch so far: quadratic when
             * trials do not share (9603 kernel_ridge trials with a random coef0 took over 10 s;
             * docs/testing.md, open findings). The check keeps to lists it builds quickly. */
            if (n <= TASK_LIST_LIMIT)
                check_tasks(s, trials, n);
            hf_fuzz_check_status(hf_spec_print(s, trials, n, g_null), "hf_spec_print");
            hf_trials_free(trials, n, s->space.n_params);
        }
    }
    check_data(s, (int)(size & 1));
    hf_spec_free(s);
    return 0;
}
