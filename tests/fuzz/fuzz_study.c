/* fuzz_study.c - the two parsers of a study's inputs (jobs/search.c): an earlier run's
 * results.json for search.warm_start (hf_space_warm_trials) and a trial's parameters as an
 * asynchronous study journals and broadcasts them (hf_space_trial_from_json).
 *
 * Input: the JSON text, given to both. The space (from a fixed spec) has a list of strings, a
 * list of numbers, a log-uniform number, an integer range and fixed values. Checks, besides
 * memory safety and UB:
 *  - the hf.h error convention;
 *  - warm start: every trial it returns lies in the space (a list's value, inside a
 *    distribution's bounds, an integer where the parameter is one, the fixed values as given)
 *    with a finite loss;
 *  - a trial decoded from JSON has every value typed as the space says, and lies in the space
 *    where the space has a distribution; written back with hf_trial_params_json and decoded
 *    again it is the same trial (what the ranks exchange is exact). */
#include "fuzz_util.h"

#include "common/hf.h"
#include "jobs/search.h"
#include "jobs/spec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static hf_spec *g_spec;

static const char k_spec[] = "name: fuzz\n"
                             "data: {source: d.csv, target: y, task: regression}\n"
                             "model:\n"
                             "  type: kernel_ridge\n"
                             "  params:\n"
                             "    kernel: [rbf, polynomial]\n"
                             "    alpha: {log_uniform: [1.0e-3, 10]}\n"
                             "    degree: {int_uniform: [2, 5]}\n"
                             "    coef0: [0, 0.5, 1]\n"
                             "search: {strategy: tpe, trials: 20}\n"
                             "objective: {metric: rmse}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    if (hf_spec_parse("fuzz.yaml", k_spec, strlen(k_spec), &g_spec) != HF_OK)
        hf_fuzz_check(0, "the harness's spec: %s", hf_error_message());
    return 0;
}

/* v lies in parameter p's space. */
static int in_space(const hf_param_space *p, const hf_value *v)
{
    switch (p->kind) {
    case HF_PARAM_FIXED:
        return hf_value_equal(&p->fixed, v) || v->type == p->fixed.type;
    case HF_PARAM_CHOICE:
        for (size_t c = 0; c < p->n_choices; c++)
            if (hf_value_equal(&p->choices[c], v))
                return 1;
        return 0;
    default: {
        double x = hf_value_as_double(v);
        int integer = p->value_type == HF_VAL_INT || p->kind == HF_PARAM_INT_UNIFORM;
        return x >= p->low && x <= p->high && (!integer || x == floor(x)) &&
               (p->value_type != HF_VAL_INT || v->type == HF_VAL_INT);
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const hf_space *space = &g_spec->space;
    const size_t np = space->n_params;
    char *text = hf_fuzz_strndup(data, size);
    hf_trial *warm = NULL;
    double *loss = NULL;
    size_t n = 0, skipped = 0;
    int rc = hf_space_warm_trials(space, text, "fuzz.json", "kernel_ridge", "rmse", &warm, &loss,
                                  &n, &skipped);
    hf_fuzz_check_status(rc, "hf_space_warm_trials");
    for (size_t t = 0; rc >= 0 && t < n; t++) {
        hf_fuzz_check(isfinite(loss[t]), "warm trial %zu: loss %g", t, loss[t]);
        for (size_t i = 0; i < np; i++)
            hf_fuzz_check(in_space(&space->params[i], &warm[t].values[i]),
                          "warm trial %zu: %s outside its space", t, space->params[i].name);
    }
    hf_trials_free(warm, n, np);
    free(loss);

    hf_trial *tr = hf_trials_alloc(1, np);
    hf_fuzz_check(tr != NULL, "out of memory");
    rc = hf_space_trial_from_json(space, text, &tr[0]);
    hf_fuzz_check_status(rc, "hf_space_trial_from_json");
    if (rc >= 0) {
        for (size_t i = 0; i < np; i++) {
            const hf_param_space *p = &space->params[i];
            if (p->kind != HF_PARAM_FIXED)
                hf_fuzz_check(in_space(p, &tr[0].values[i]), "decoded %s outside its space",
                              p->name);
            hf_fuzz_check(
                p->kind == HF_PARAM_CHOICE || tr[0].values[i].type == p->value_type ||
                    (p->value_type == HF_VAL_NUMBER && tr[0].values[i].type == HF_VAL_INT) ||
                    p->kind == HF_PARAM_FIXED,
                "decoded %s has type %d, the space's is %d", p->name, (int)tr[0].values[i].type,
                (int)p->value_type);
        }
        char *again = hf_trial_params_json(space, &tr[0]);
        hf_fuzz_check_status(again ? HF_OK : HF_ENOMEM, "hf_trial_params_json");
        hf_trial *tr2 = hf_trials_alloc(1, np);
        rc = hf_space_trial_from_json(space, again, &tr2[0]);
        hf_fuzz_check(rc == HF_OK, "re-decoding %s failed: %s", again, hf_error_message());
        for (size_t i = 0; i < np; i++)
            hf_fuzz_check(hf_value_equal(&tr[0].values[i], &tr2[0].values[i]),
                          "round trip: %s differs (%s)", space->params[i].name, again);
        hf_trials_free(tr2, 1, np);
        free(again);
    }
    hf_trials_free(tr, 1, np);
    free(text);
    return 0;
}
