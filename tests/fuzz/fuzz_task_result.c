/* fuzz_task_result.c - the task-result decoder (worker/task.c hf_task_result_from_json): one
 * journal line, or the message a worker sends the coordinator.
 *
 * Input: the JSON text. Checks, besides memory safety and UB:
 *  - the hf.h error convention;
 *  - strictness: a line the decoder accepts has what hf_task_result_to_json writes: integer
 *    task, split and worker, and per trial an integer trial and status "ok" or "failed", each
 *    integer within the range of int (else the replay would credit a result to another task or
 *    trial: "task": 4294967296 read as task 0);
 *  - round trip: what the decoder accepted, encoded again and decoded, is the same result. */
#include "fuzz_util.h"

#include "common/hf.h"
#include "worker/task.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_metrics[] = {"r2", "rmse", "mae"};
#define N_METRICS 3

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

static int int_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= INT_MIN &&
           json_integer_value(v) <= INT_MAX;
}

/* What hf_task_result_to_json writes, as far as the decoder's output depends on it. */
static int well_formed(const char *text)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    int ok = json_is_object(o) && int_field(o, "task") && int_field(o, "split") &&
             int_field(o, "worker") && json_is_array(json_object_get(o, "trials"));
    json_t *arr = json_object_get(o, "trials");
    for (size_t i = 0; ok && i < json_array_size(arr); i++) {
        json_t *t = json_array_get(arr, i);
        const char *st = json_string_value(json_object_get(t, "status"));
        ok = json_is_object(t) && int_field(t, "trial") && st &&
             (!strcmp(st, "ok") || !strcmp(st, "failed"));
    }
    json_decref(o);
    return ok;
}

static int same_score(double a, double b)
{
    if (!isfinite(a) || !isfinite(b))
        return !isfinite(a) && !isfinite(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static void same_result(const hf_task_result *a, const hf_task_result *b)
{
    hf_fuzz_check(a->task == b->task && a->split == b->split && a->worker == b->worker &&
                      a->n_trials == b->n_trials && a->n_metrics == b->n_metrics,
                  "round trip: task %d/%d split %d/%d worker %d/%d trials %zu/%zu", a->task,
                  b->task, a->split, b->split, a->worker, b->worker, a->n_trials, b->n_trials);
    hf_fuzz_check(memcmp(&a->seconds, &b->seconds, sizeof a->seconds) == 0,
                  "round trip: seconds %.17g vs %.17g", a->seconds, b->seconds);
    for (size_t i = 0; i < a->n_trials; i++) {
        const hf_trial_result *x = &a->trials[i], *y = &b->trials[i];
        hf_fuzz_check(x->trial == y->trial && x->ok == y->ok, "round trip: trial %zu differs", i);
        hf_fuzz_check(x->ok || (x->error == NULL) == (y->error == NULL),
                      "round trip: trial %zu error kept on one side only", i);
        hf_fuzz_check(x->ok || !x->error || strcmp(x->error, y->error) == 0,
                      "round trip: trial %zu error \"%s\" vs \"%s\"", i, x->error, y->error);
        hf_fuzz_check(memcmp(&x->fit_seconds, &y->fit_seconds, sizeof x->fit_seconds) == 0,
                      "round trip: trial %zu fit_seconds", i);
        /* Iterations and the stop reason are written for a trial that succeeded. */
        hf_fuzz_check(!x->ok || x->n_iter < 0 || (x->n_iter == y->n_iter && x->stop == y->stop),
                      "round trip: trial %zu n_iter %g/%g stop %d/%d", i, x->n_iter, y->n_iter,
                      (int)x->stop, (int)y->stop);
        for (size_t m = 0; m < a->n_metrics; m++)
            hf_fuzz_check(same_score(x->scores[m], y->scores[m]),
                          "round trip: trial %zu %s %.17g vs %.17g", i, k_metrics[m], x->scores[m],
                          y->scores[m]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = hf_fuzz_strndup(data, size);
    /* The number of metrics the sweep has: 1 to 3, from the input's length. */
    size_t nm = 1 + size % N_METRICS;
    hf_task_result r;
    int rc = hf_task_result_from_json(text, k_metrics, nm, &r);
    hf_fuzz_check_status(rc, "hf_task_result_from_json");
    if (rc < 0) {
        hf_fuzz_check(r.trials == NULL, "failed decode left trials allocated");
        free(text);
        return 0;
    }
    hf_fuzz_check(well_formed(text),
                  "hf_task_result_from_json accepted a line "
                  "hf_task_result_to_json cannot have written: %.200s",
                  text);
    char *again = hf_task_result_to_json(&r, k_metrics, nm);
    hf_fuzz_check_status(again ? HF_OK : HF_ENOMEM, "hf_task_result_to_json");
    hf_task_result r2;
    rc = hf_task_result_from_json(again, k_metrics, nm, &r2);
    hf_fuzz_check(rc == HF_OK, "re-decoding %s failed: %s", again, hf_error_message());
    same_result(&r, &r2);
    hf_task_result_free(&r2);
    hf_task_result_free(&r);
    free(again);
    free(text);
    return 0;
}
