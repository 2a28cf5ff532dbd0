/* test_tasks.c - the task list (worker/task.c hf_task_list_make): trials that may share one fit
 * call are batched, at most max_batch each, and crossed with the splits in a fixed order. The
 * list is compared, task for task, with the greedy definition it implements (a trial joins the
 * first open batch of trials it may share with, in trial order; tasks split by split, grouped by
 * preprocessing in order of first appearance), on random trial sets of every built-in model with
 * repeated values, several preprocessings and batch limits; and it is made for 200,000 trials
 * that share nothing (the sort that replaced the quadratic greedy pass). Task ids are what a
 * journal records, so a change of this order would break the resume of runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "worker/task.h"

#include <stdlib.h>
#include <string.h>

/* The definition: a greedy pass in trial order, then the preprocessing groups of the batches. */
static void reference_list(const hf_model_ops *model, const hf_trial_config *trials, size_t n,
                           size_t n_splits, size_t max_batch, hf_task_list *out)
{
    int *batch_of = calloc(n, sizeof *batch_of), *leader = calloc(n, sizeof *leader);
    size_t *size = calloc(n, sizeof *size), nb = 0, np = 0;
    int *prep_of = calloc(n, sizeof *prep_of), *prep_lead = calloc(n, sizeof *prep_lead);
    for (size_t t = 0; t < n; t++) {
        batch_of[t] = -1;
        for (size_t b = 0; model->shared_param && b < nb && batch_of[t] < 0; b++)
            if (size[b] < max_batch &&
                hf_prep_config_equal(&trials[leader[b]].prep, &trials[t].prep) &&
                hf_model_share_cmp(model, trials[leader[b]].model, trials[t].model) == 0)
                batch_of[t] = (int)b;
        if (batch_of[t] < 0) {
            leader[nb] = (int)t;
            batch_of[t] = (int)nb++;
        }
        size[batch_of[t]]++;
    }
    for (size_t b = 0; b < nb; b++) {
        prep_of[b] = -1;
        for (size_t g = 0; g < np && prep_of[b] < 0; g++)
            if (hf_prep_config_equal(&trials[prep_lead[g]].prep, &trials[leader[b]].prep))
                prep_of[b] = (int)g;
        if (prep_of[b] < 0) {
            prep_lead[np] = leader[b];
            prep_of[b] = (int)np++;
        }
    }
    out->n_tasks = nb * n_splits;
    out->tasks = calloc(out->n_tasks + 1, sizeof *out->tasks);
    size_t id = 0;
    for (size_t s = 0; s < n_splits; s++)
        for (size_t g = 0; g < np; g++)
            for (size_t b = 0; b < nb; b++) {
                if (prep_of[b] != (int)g)
                    continue;
                hf_task *task = &out->tasks[id];
                task->id = (int)id++;
                task->split = (int)s;
                task->trials = calloc(size[b], sizeof *task->trials);
                for (size_t t = 0; t < n; t++)
                    if (batch_of[t] == (int)b)
                        task->trials[task->n_trials++] = (int)t;
            }
    free(batch_of);
    free(leader);
    free(size);
    free(prep_of);
    free(prep_lead);
}

/* A random value of parameter d from a few choices, so that trials repeat each other. */
static hf_value draw(const hf_param_def *d, hf_rng *r)
{
    hf_value v = {d->type, {.num = 0}};
    uint64_t k = hf_rng_below(r, 3);
    if (d->type == HF_VAL_STRING) {
        size_t n = 0;
        while (d->choices && d->choices[n])
            n++;
        v.u.str = (char *)d->choices[k % n];
    } else if (d->type == HF_VAL_BOOL) {
        v.u.i = (int64_t)(k & 1);
    } else if (d->type == HF_VAL_INT) {
        v.u.i = (int64_t)(d->min + (double)k);
    } else {
        v.u.num = 1.0 + (double)k;
    }
    return v;
}

static void assert_same_list(const hf_task_list *a, const hf_task_list *b)
{
    assert_int_equal(a->n_tasks, b->n_tasks);
    for (size_t i = 0; i < a->n_tasks; i++) {
        assert_int_equal(a->tasks[i].id, b->tasks[i].id);
        assert_int_equal(a->tasks[i].split, b->tasks[i].split);
        assert_int_equal(a->tasks[i].n_trials, b->tasks[i].n_trials);
        assert_memory_equal(a->tasks[i].trials, b->tasks[i].trials,
                            a->tasks[i].n_trials * sizeof *a->tasks[i].trials);
    }
}

static void test_same_as_greedy(void **state)
{
    (void)state;
    const hf_model_ops *const *models = hf_model_all();
    hf_rng r;
    hf_rng_init(&r, 2026, 12, 3);
    for (size_t m = 0; models[m]; m++) {
        const hf_model_ops *model = models[m];
        for (int round = 0; round < 40; round++) {
            size_t n = 1 + hf_rng_below(&r, 300), np = model->n_params;
            size_t max_batch = (size_t[]){1, 2, 3, 64}[round % 4], n_splits = 1 + round % 3;
            hf_value *vals = calloc(n * np, sizeof *vals);
            hf_trial_config *trials = calloc(n, sizeof *trials);
            for (size_t t = 0; t < n; t++) {
                for (size_t i = 0; i < np; i++)
                    vals[t * np + i] = draw(&model->params[i], &r);
                trials[t].model = vals + t * np;
                hf_prep_config_default(&trials[t].prep);
                uint64_t k = hf_rng_below(&r, 4);
                trials[t].prep.scale = k & 1 ? HF_SCALE_STANDARD : HF_SCALE_NONE;
                trials[t].prep.log1p = (int)(k >> 1) & (round & 1);
            }
            hf_task_list got = {0}, want = {0};
            assert_int_equal(hf_task_list_make(model, trials, n, n_splits, max_batch, &got), HF_OK);
            reference_list(model, trials, n, n_splits, max_batch, &want);
            assert_same_list(&got, &want);
            hf_task_list_free(&got);
            hf_task_list_free(&want);
            free(trials);
            free(vals);
        }
    }
}

static void test_many_trials(void **state)
{
    (void)state;
    /* 200,000 kernel-ridge trials that differ in coef0: each is its own batch. */
    const hf_model_ops *model = hf_model_find("kernel_ridge");
    assert_non_null(model);
    const size_t n = 200000, np = model->n_params;
    long coef0 = hf_model_param_index(model, "coef0");
    assert_true(coef0 >= 0);
    hf_value *vals = calloc(n * np, sizeof *vals);
    hf_trial_config *trials = calloc(n, sizeof *trials);
    for (size_t t = 0; t < n; t++) {
        for (size_t i = 0; i < np; i++)
            vals[t * np + i] = (hf_value){model->params[i].type, {.num = 1.0}};
        vals[t * np + (size_t)coef0].u.num = (double)t;
        vals[t * np + hf_model_param_index(model, "kernel")] =
            (hf_value){HF_VAL_STRING, {.str = "rbf"}};
        trials[t].model = vals + t * np;
        hf_prep_config_default(&trials[t].prep);
    }
    hf_task_list got = {0};
    assert_int_equal(hf_task_list_make(model, trials, n, 2, 64, &got), HF_OK);
    assert_int_equal(got.n_tasks, 2 * n);
    for (size_t i = 0; i < got.n_tasks; i++) {
        assert_int_equal(got.tasks[i].n_trials, 1);
        assert_int_equal(got.tasks[i].trials[0], (int)(i % n));
        assert_int_equal(got.tasks[i].split, (int)(i / n));
    }
    hf_task_list_free(&got);
    free(trials);
    free(vals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_greedy),
        cmocka_unit_test(test_many_trials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
