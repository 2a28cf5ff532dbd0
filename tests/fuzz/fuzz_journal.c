/* fuzz_journal.c - the journal replay of `hyperfold run` on resume: coordinator/journal.c
 * hf_journal_open reading an existing journal.jsonl, each task line decoded by worker/task.c
 * hf_task_result_from_json and credited to the sweep by coordinator/run.c on_journal_line
 * (results.c hf_sweep_add), then the selection and the outputs that follow a resumed sweep
 * (hf_sweep_finish, hf_sweep_leader, hf_results_write).
 *
 * on_journal_line and the run state are static in run.c: this file includes run.c itself, so the
 * harness replays with the product's own callback (the harness defines every symbol of run.c, so
 * the linker takes none of them from libhfcore.a).
 *
 * The sweep is fixed: the spec k_spec below (6 trials, 3 folds: 2 batches x 3 splits = 6 tasks),
 * the journal identity its sweep hash with the data fingerprint "fuzz-data". Input: the bytes of
 * journal.jsonl (tests/fuzz/make_corpus.sh makes the seeds from a real run of that spec).
 *
 * Checks, besides memory safety and UB: the hf.h error convention; after a replay that succeeds,
 * the scores the sweep holds are exactly those of the tasks marked done (every trial of a done
 * task on its split, and nothing else), and tasks_done counts them; selection ranks every trial
 * once. */
/* First: run.c defines _GNU_SOURCE before its system headers. From HF_ROOT, the copy with the
 * pending fixes (build.sh). */
#include "coordinator/run.c"

#include "fuzz_util.h"

/* A (trial, split) cell's state in the sweep (results.c). */
#define CELL(s, t, f) ((s)->state[(t) * (s)->n_splits + (f)])

static const char k_spec[] = "name: fuzz-journal\n"
                             "data:\n"
                             "  source: diabetes.csv\n"
                             "  target: target\n"
                             "  task: regression\n"
                             "cv:\n"
                             "  folds: 3\n"
                             "  seed: 1\n"
                             "model:\n"
                             "  type: ridge\n"
                             "  params:\n"
                             "    alpha: [0.1, 1.0, 10.0]\n"
                             "    fit_intercept: [true, false]\n"
                             "objective:\n"
                             "  metric: r2\n"
                             "  report: [rmse]\n";

#define N_SPLITS 3

static hf_spec *g_spec;
static hf_trial *g_trials;
static size_t g_n_trials;
static hf_task_list g_tasks;
static const char **g_metrics;
static size_t g_n_metrics;
static char g_sweep_id[65];
static hf_journal_id g_id;

static void setup_failed(const char *what)
{
    fprintf(stderr, "fuzz_journal: %s: %s\n", what, hf_error_message());
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    if (hf_spec_parse("job.yaml", k_spec, sizeof k_spec - 1, &g_spec) < 0)
        setup_failed("parsing the spec");
    if (hf_spec_trials(g_spec, &g_trials, &g_n_trials) < 0)
        setup_failed("expanding the trials");
    /* As coordinator/pipeline.c prepares a job, without the data. */
    if (hf_spec_resolve_task(g_spec, HF_TASK_REGRESSION) < 0 ||
        hf_objective_metrics(&g_spec->objective, &g_metrics, &g_n_metrics) < 0)
        setup_failed("the metrics");
    const hf_model_ops *model = hf_model_find(g_spec->model_type);
    hf_trial_config *cfgs = NULL;
    if (!model || hf_spec_decode_trials(g_spec, model, g_trials, g_n_trials, &cfgs) < 0 ||
        hf_task_list_make(model, cfgs, g_n_trials, N_SPLITS, MAX_BATCH, &g_tasks) < 0)
        setup_failed("the task list");
    hf_trial_configs_free(cfgs, g_n_trials);
    if (hf_spec_sweep_id(g_spec, g_trials, g_n_trials, g_metrics, g_n_metrics, g_sweep_id) < 0)
        setup_failed("the sweep hash");
    g_id = (hf_journal_id){
        .spec_sha256 = g_sweep_id, .data_fingerprint = "fuzz-data", .n_tasks = g_tasks.n_tasks};
    /* make_corpus.sh runs the real sweep of this spec for the seeds. */
    const char *out = getenv("HF_FUZZ_WRITE_SPEC");
    if (out) {
        FILE *fp = fopen(out, "w");
        if (!fp || fwrite(k_spec, 1, sizeof k_spec - 1, fp) != sizeof k_spec - 1 || fclose(fp))
            abort();
        printf("spec_sha256 %s\n", g_sweep_id);
    }
    return 0;
}

/* The sweep's cells hold exactly the done tasks' trials. */
static void check_replayed(const run_state *st)
{
    const hf_sweep *s = &st->sweep;
    unsigned char *want = calloc(s->n_trials * s->n_splits + 1, 1);
    size_t done = 0;
    if (!want)
        abort();
    for (size_t k = 0; k < g_tasks.n_tasks; k++) {
        if (!st->done[k])
            continue;
        done++;
        const hf_task *t = &g_tasks.tasks[k];
        for (size_t i = 0; i < t->n_trials; i++)
            want[(size_t)t->trials[i] * s->n_splits + (size_t)t->split] = 1;
    }
    hf_fuzz_check(s->tasks_done == done, "replay: tasks_done %zu, %zu tasks marked done",
                  s->tasks_done, done);
    for (size_t t = 0; t < s->n_trials; t++)
        for (size_t f = 0; f < s->n_splits; f++)
            hf_fuzz_check((CELL(s, t, f) != 0) == want[t * s->n_splits + f],
                          "replay: trial %zu on split %zu is %s, but its task is %s", t, f,
                          CELL(s, t, f) ? "scored" : "not scored",
                          want[t * s->n_splits + f] ? "done" : "not done");
    free(want);
}

static void check_selection(hf_sweep *s)
{
    int leader = hf_sweep_leader(s);
    hf_fuzz_check(leader >= -1 && leader < (int)s->n_trials, "leader %d", leader);
    (void)hf_sweep_best_so_far(s);
    int rc = hf_sweep_finish(s, &g_spec->search);
    hf_fuzz_check_status(rc, "hf_sweep_finish");
    if (rc < 0)
        return;
    unsigned char seen[64] = {0};
    for (size_t t = 0; t < s->n_trials && t < 64; t++) {
        int r = s->rank[t];
        hf_fuzz_check(r >= 1 && r <= (int)s->n_trials && !seen[r - 1], "trial %zu has rank %d", t,
                      r);
        seen[r - 1] = 1;
    }
    hf_fuzz_check(s->best >= -1 && s->best < (int)s->n_trials, "best trial %d", s->best);
    char results[512], trials_csv[512];
    snprintf(results, sizeof results, "%s/results.json", hf_fuzz_scratch_dir());
    snprintf(trials_csv, sizeof trials_csv, "%s/trials.csv", hf_fuzz_scratch_dir());
    hf_run_info info = {.name = g_spec->name,
                        .spec_sha256 = g_sweep_id,
                        .source = g_spec->data.source,
                        .model = g_spec->model_type,
                        .space = &g_spec->space,
                        .results_path = results,
                        .trials_csv_path = trials_csv,
                        .source_fingerprint = "fuzz-data",
                        .n_rows = 10,
                        .n_search_rows = 10,
                        .ranks = 1,
                        .resumed_tasks = (int)s->tasks_done};
    hf_fuzz_check_status(hf_results_write(s, g_trials, &info), "hf_results_write");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = hf_fuzz_write_file("journal.jsonl", data, size);
    run_state st;
    memset(&st, 0, sizeof st);
    st.spec = g_spec;
    st.n_tasks = g_tasks.n_tasks;
    st.tasks = &g_tasks;
    st.quiet = 1;
    st.done = calloc(g_tasks.n_tasks, 1);
    if (!st.done || hf_sweep_init(&st.sweep, g_n_trials, N_SPLITS, g_metrics, g_n_metrics) < 0)
        abort();
    hf_journal *j = NULL;
    int rc = hf_journal_open(path, &g_id, on_journal_line, &st, &j);
    if (getenv("HF_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_journal: open %d (%s), %zu of %zu tasks replayed\n", rc,
                hf_error_message(), st.sweep.tasks_done, g_tasks.n_tasks);
    hf_fuzz_check_status(rc, "hf_journal_open");
    if (rc >= 0) {
        hf_fuzz_check_status(hf_journal_close(j), "hf_journal_close");
        j = NULL;
        check_replayed(&st);
        check_selection(&st.sweep);
    }
    hf_sweep_free(&st.sweep);
    free(st.done);
    return 0;
}
