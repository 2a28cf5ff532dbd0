/* tool_sched.c - drives the real scheduler (hf_sched_run) with synthetic tasks of known lengths
 * (hf_task_hooks.task_seconds: each task sleeps its length in place of a fit), for
 * bench/dispatch.sh and tests/mpi/test_sched_chunks.sh.
 *
 *   mpirun -np R tests/mpi_tool_sched --tasks N --ms L [--spread S] [--chunk K] [--stop-after M]
 *          [--timeline FILE] [--journal FILE] [--fail-every K] [--result-ms C] [--check]
 *
 * Task i lasts L ms x (1 + S x (2u - 1)), u uniform in [0, 1) from a fixed generator, so every run
 * has the same lengths. --chunk is hf_sched_opts.max_chunk (1: one id per message). --stop-after M
 * raises the stop flag after M results. --check: every task reported exactly once (all of them
 * unless stopped), each with its own trial's score (or failed, with --fail-every K, for trials
 * K-1, 2K-1, ...), and each delivered result equal, field by field and bit for bit, to what its
 * JSON line reads back as; exit 1 otherwise. --journal appends every
 * result to a real journal (coordinator/journal.c), as a run does. --result-ms C makes rank 0's
 * handling of each result (on_result) sleep C ms more: a coordinator that costs C ms per result
 * without taking a core (tests/mpi/test_sched_model.py loads the coordinator with it). Rank 0
 * prints one line:
 *   ranks R tasks N ms L chunk K done D wall W tasks_per_s X latency_ms Y util U
 *   coordinator messages M results R per_message_us A per_result_us B
 * where latency is the mean time from hand-out to the result's arrival on rank 0 and util is the
 * summed task time / (R x wall); the second line is rank 0's cost per MPI message (send or
 * receive, rank 0's own thread's results need none) and per result (parse, on_result). --timeline
 * writes one CSV row per task (times in seconds since the sweep began):
 * task,worker,handed,start,seconds,received. */
#include "common/hf.h"
#include "common/comm.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench {
    size_t n;
    double t0;
    double *handed, *received, *start, *seconds;
    int *worker;
    int *count;  /* results per task */
    int bad;     /* a result whose score is not its trial id */
    size_t done; /* results */
    size_t stop_after;
    volatile sig_atomic_t stop;
    hf_journal *journal; /* --journal: every result appended as run.c does */
    size_t fail_every;   /* --fail-every K: trials K-1, 2K-1, ... fail */
    double result_s;     /* --result-ms: an added cost per result (a sleep in on_result) */
} bench;

static int same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* 1 if the result the scheduler delivered is what its JSON line reads back as, field by field. */
static int matches_json(const hf_task_result *r, const char *json, const char *const *metrics)
{
    hf_task_result j;
    if (hf_task_result_from_json(json, metrics, 1, &j) < 0)
        return 0;
    int ok = j.task == r->task && j.split == r->split && j.worker == r->worker &&
             same(j.seconds, r->seconds) && j.n_trials == r->n_trials;
    for (size_t i = 0; ok && i < r->n_trials; i++) {
        const hf_trial_result *a = &r->trials[i], *b = &j.trials[i];
        ok = a->trial == b->trial && a->ok == b->ok && a->stop == b->stop &&
             same(a->fit_seconds, b->fit_seconds) && same(a->n_iter, b->n_iter) &&
             same(a->scores[0], b->scores[0]) && !a->error == !b->error &&
             (!a->error || !strcmp(a->error, b->error));
    }
    hf_task_result_free(&j);
    return ok;
}

static void on_hand(void *arg, int id)
{
    bench *b = arg;
    if (id >= 0 && (size_t)id < b->n)
        b->handed[id] = hf_now() - b->t0;
}

static int on_result(void *arg, const hf_task_result *r, const char *json)
{
    bench *b = arg;
    if (r->task < 0 || (size_t)r->task >= b->n)
        return hf_error(HF_EDATA, "result for unknown task %d", r->task);
    size_t id = (size_t)r->task;
    b->count[id]++;
    b->received[id] = hf_now() - b->t0;
    b->seconds[id] = r->seconds;
    b->worker[id] = r->worker;
    const char *s = strstr(json, "\"start\":");
    b->start[id] = s ? strtod(s + 8, NULL) : NAN;
    static const char *metric[] = {"score"};
    int fails = b->fail_every && id % b->fail_every == b->fail_every - 1;
    if (r->n_trials != 1 || r->trials[0].trial != (int)id || r->trials[0].ok == fails ||
        (!fails && r->trials[0].scores[0] != (double)id) ||
        (fails && (!isnan(r->trials[0].scores[0]) || !r->trials[0].error)) ||
        !matches_json(r, json, metric))
        b->bad++;
    if (b->journal)
        HF_CALL(hf_journal_append(b->journal, json));
    if (b->result_s > 0) {
        struct timespec ts = {(time_t)b->result_s,
                              (long)((b->result_s - (double)(time_t)b->result_s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    if (++b->done == b->stop_after)
        b->stop = 1;
    return HF_OK;
}

static int usage(void)
{
    fprintf(stderr, "usage: tool_sched --tasks N --ms L [--spread S] [--chunk K] "
                    "[--stop-after M] [--timeline FILE] [--journal FILE] [--fail-every K] "
                    "[--result-ms C] [--check]\n");
    return 2;
}

int main(int argc, char **argv)
{
    hf_comm *world;
    if (hf_comm_init(&argc, &argv, &world) < 0) {
        fprintf(stderr, "tool_sched: %s\n", hf_error_message());
        return 1;
    }
    size_t n = 0, stop_after = 0, b_fail_every = 0;
    double ms = 0, spread = 0, result_ms = 0;
    int chunk = 0, check = 0;
    const char *timeline = NULL, *journal = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--check")) {
            check = 1;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--tasks"))
            n = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--ms"))
            ms = strtod(v, NULL);
        else if (!strcmp(a, "--spread"))
            spread = strtod(v, NULL);
        else if (!strcmp(a, "--chunk"))
            chunk = atoi(v);
        else if (!strcmp(a, "--stop-after"))
            stop_after = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--timeline"))
            timeline = v;
        else if (!strcmp(a, "--fail-every"))
            b_fail_every = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--journal"))
            journal = v;
        else if (!strcmp(a, "--result-ms"))
            result_ms = strtod(v, NULL);
        else
            return usage();
    }
    if (n == 0 || n > 100000000 || ms < 0 || spread < 0 || spread > 1 || !(result_ms >= 0) ||
        result_ms > 1e4)
        return usage();
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    double *len = calloc(n, sizeof *len);
    int *trial_ids = calloc(n, sizeof *trial_ids);
    hf_task_list tasks = {.tasks = calloc(n, sizeof(hf_task)), .n_tasks = n};
    bench b = {
        .n = n, .stop_after = stop_after, .fail_every = b_fail_every, .result_s = result_ms * 1e-3};
    int *fail = NULL;
    size_t n_fail = 0;
    if (b_fail_every) {
        fail = calloc(n / b_fail_every + 1, sizeof *fail);
        for (size_t i = b_fail_every - 1; fail && i < n; i += b_fail_every)
            fail[n_fail++] = (int)i;
    }
    b.handed = calloc(n, sizeof(double));
    b.received = calloc(n, sizeof(double));
    b.start = calloc(n, sizeof(double));
    b.seconds = calloc(n, sizeof(double));
    b.worker = calloc(n, sizeof(int));
    b.count = calloc(n, sizeof(int));
    if (!len || !trial_ids || !tasks.tasks || !b.handed || !b.received || !b.start || !b.seconds ||
        !b.worker || !b.count) {
        fprintf(stderr, "tool_sched: out of memory\n");
        return 1;
    }
    unsigned long long x = 88172645463325252ULL; /* xorshift64: the same lengths on every rank */
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x >> 11) / 9007199254740992.0;
        len[i] = ms * 1e-3 * (1 + spread * (2 * u - 1));
        trial_ids[i] = (int)i;
        tasks.tasks[i] =
            (hf_task){.id = (int)i, .split = 0, .trials = &trial_ids[i], .n_trials = 1};
    }
    const char *metrics[] = {"score"};
    hf_task_ctx ctx = {.n_trials = n, .metrics = metrics, .n_metrics = 1};
    ctx.hooks.task_seconds = len;
    ctx.hooks.n_task_seconds = n;
    ctx.hooks.fail_trials = fail;
    ctx.hooks.n_fail_trials = n_fail;
    hf_sched_stats st = {0};
    hf_sched_opts opts = {.stats = &st,
                          .on_result = on_result,
                          .arg = &b,
                          .on_hand = on_hand,
                          .stop = stop_after ? &b.stop : NULL,
                          .max_chunk = chunk};
    if (rank == 0 && journal) {
        hf_journal_id jid = {.spec_sha256 = "tool_sched", .data_fingerprint = "none", .n_tasks = n};
        remove(journal);
        if (hf_journal_open(journal, &jid, NULL, NULL, &b.journal) < 0) {
            fprintf(stderr, "tool_sched: %s\n", hf_error_message());
            return 1;
        }
    }
    hf_comm_barrier(world);
    b.t0 = hf_now();
    int result = hf_sched_run(world, &ctx, &tasks, NULL, &opts);
    double wall = hf_now() - b.t0;
    if (b.journal && hf_journal_close(b.journal) < 0 && result >= 0)
        result = HF_EIO;
    int failed = 0;
    if (result < 0 && result != HF_EINTR) {
        fprintf(stderr, "tool_sched: rank %d: %s\n", rank, hf_error_message());
        failed = 1;
    }
    if (rank == 0 && !failed) {
        double busy = 0, lat = 0;
        size_t twice = 0, missing = 0;
        for (size_t i = 0; i < n; i++) {
            if (b.count[i] > 1)
                twice++;
            if (b.count[i] == 0)
                missing++;
            if (b.count[i] > 0) {
                busy += b.seconds[i];
                lat += b.received[i] - b.handed[i];
            }
        }
        printf("ranks %d tasks %zu ms %g chunk %d done %zu wall %.4f tasks_per_s %.1f latency_ms "
               "%.3f util %.4f\n",
               size, n, ms, chunk, b.done, wall, (double)b.done / wall,
               b.done ? 1e3 * lat / (double)b.done : 0.0, busy / ((double)size * wall));
        size_t msgs = st.sent + st.received;
        printf("coordinator messages %zu results %zu per_message_us %.3f per_result_us %.3f "
               "send_us %.3f recv_us %.3f\n",
               msgs, st.results, msgs ? 1e6 * (st.send_s + st.recv_s) / (double)msgs : 0.0,
               st.results ? 1e6 * st.deliver_s / (double)st.results : 0.0,
               st.sent ? 1e6 * st.send_s / (double)st.sent : 0.0,
               st.received ? 1e6 * st.recv_s / (double)st.received : 0.0);
        if (check) {
            if (twice || b.bad) {
                fprintf(stderr, "tool_sched: %zu task(s) reported twice, %d wrong score(s)\n",
                        twice, b.bad);
                failed = 1;
            }
            if (!stop_after && (missing || result == HF_EINTR)) {
                fprintf(stderr, "tool_sched: %zu task(s) never reported (status %d)\n", missing,
                        result);
                failed = 1;
            }
            if (stop_after && stop_after < n && result != HF_EINTR) {
                fprintf(stderr,
                        "tool_sched: stopped after %zu results but the sweep says it "
                        "finished (%zu done of %zu)\n",
                        stop_after, b.done, n);
                failed = 1;
            }
        }
        if (timeline) {
            FILE *f = fopen(timeline, "w");
            if (!f) {
                fprintf(stderr, "tool_sched: cannot write %s\n", timeline);
                failed = 1;
            } else {
                fprintf(f, "task,worker,handed,start,seconds,received\n");
                for (size_t i = 0; i < n; i++)
                    if (b.count[i])
                        fprintf(f, "%zu,%d,%.6f,%.6f,%.6f,%.6f\n", i, b.worker[i], b.handed[i],
                                b.start[i], b.seconds[i], b.received[i]);
                fclose(f);
            }
        }
    }
    hf_comm_bcast(world, &failed, sizeof failed, 0);
    free(len);
    free(fail);
    free(trial_ids);
    free(tasks.tasks);
    free(b.handed);
    free(b.received);
    free(b.start);
    free(b.seconds);
    free(b.worker);
    free(b.count);
    hf_comm_finalize(world);
    return failed;
}
