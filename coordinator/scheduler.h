/* scheduler.h - dynamic scheduling of tasks over the ranks.
 *
 * Rank 0's main thread is the coordinator: it hands task ids to workers as they become free (a slow
 * task holds back nobody else), collects their results and passes each one to `on_result` (journal,
 * score table, progress) in the order they arrive. Rank 0 also works, in a second thread that
 * talks to the coordinator through shared memory, so one rank still runs a sweep and two ranks
 * both compute. Only the coordinator thread calls MPI during the sweep. */
#ifndef HF_SCHEDULER_H
#define HF_SCHEDULER_H

#include "worker/task.h"
#include "common/comm.h"

#include <signal.h>

/* What rank 0's coordinator thread spent its time on (hf_sched_opts.stats; bench/dispatch.sh
 * calibrates bench/sched_sim.py with it). */
typedef struct hf_sched_stats {
    size_t sent, received; /* hand-out messages sent, result messages received */
    size_t results;        /* results delivered (from every rank, rank 0's thread included) */
    double send_s, recv_s; /* seconds in those sends and receives */
    double deliver_s;      /* seconds parsing results and in on_result */
} hf_sched_stats;

typedef struct hf_sched_opts {
    /* Rank 0 only: called for each finished task with its JSON line; a negative return aborts. */
    int (*on_result)(void *arg, const hf_task_result *r, const char *json);
    void *arg;
    /* Rank 0 only: called about every 200 ms while the sweep runs. */
    void (*on_tick)(void *arg);
    /* Set asynchronously (signal handler): stop handing out tasks, finish the running ones. */
    volatile sig_atomic_t *stop;
    /* Worker groups (parallel.ranks_per_task > 1): this rank's group communicator, whose rank 0 is
     * the group's leader; the coordinator hands tasks to leaders, which broadcast them to their
     * group, and every group rank runs the task together. NULL = every rank works alone. */
    hf_comm *group;
    /* Optional, rank 0, without worker groups: once every task has been handed out and rank 0's
     * worker thread has none left while other ranks still compute, the coordinator asks
     * pick(arg) for a job and, if it is >= 0, the worker thread runs speculate(arg, job), once,
     * in the time it would otherwise idle. hf_sched_run returns after it has finished, also on a
     * stop request or another rank's failure: the speculation cannot be interrupted, so it adds
     * up to one refit's duration to those exits (running tasks are waited for likewise). run.c
     * refits the leading trial this way and keeps the model if that trial wins; if another trial
     * wins, its refit follows as usual. */
    int (*pick)(void *arg);
    void (*speculate)(void *arg, int job);
    /* Optional, without worker groups: an asynchronous study, whose tasks are made while it
     * runs. On rank 0, when every listed task has been handed out and a worker could take
     * another, the coordinator calls refill(arg, tasks, &msg, &len): it may append tasks to
     * `tasks` (under the scheduler's lock: rank 0's worker thread reads the list meanwhile) and
     * then returns in *msg (malloc'd, *len bytes) what the other ranks need to append the same
     * tasks; it returns 0 when it has nothing to add now (while tasks run, a later result may
     * change that; when none runs, the sweep ends), 1 when it added some. Every other rank gets
     * *msg, before any of the new tasks' ids, in absorb(arg, tasks, msg, len), which appends the
     * same tasks. A negative return of either aborts. With materialise the other ranks hold no
     * list: *msg is not sent and absorb is not called (give it anyway: its presence keeps one
     * result per message), each hand-out defines its task. */
    int (*refill)(void *arg, hf_task_list *tasks, char **msg, size_t *len);
    int (*absorb)(void *arg, hf_task_list *tasks, const char *msg, size_t len);
    /* Optional, every rank (the same on all): the task list is held by rank 0 alone (a grid or
     * random sweep, a study; every other rank's `tasks` is empty, and `done` is rank 0's).
     * A hand-out message then carries each task's definition (id, split, trial ids) instead of
     * its id alone, a group leader broadcasts the definition to its group, and a rank other than
     * 0 calls materialise(arg, task, values) to set task->configs (the batch's trials decoded, from
     * their ids or their values) before it runs the task, and release(arg, task) after. */
    int (*materialise)(void *arg, hf_task *task, const unsigned char *values);
    void (*release)(void *arg, hf_task *task);
    /* Optional with materialise, the same on every rank: a study's trials, which no rank but 0
     * can make from their ids, travel with the task: pack(arg, task, out) (rank 0) writes the
     * values of the task's n_trials trials into out (n_trials x trial_bytes bytes), and
     * materialise receives them as `values` (NULL when trial_bytes is 0). */
    size_t trial_bytes;
    int (*pack)(void *arg, const hf_task *task, unsigned char *out);
    /* Optional, rank 0, called in the coordinator thread: 1 when the listed task `id`, not yet
     * handed out, is to be dropped (never run; search.pruner in an asynchronous study). */
    int (*skip)(void *arg, int id);
    /* Optional, rank 0: called as task `id` is handed out (the benchmarks' timeline). */
    void (*on_hand)(void *arg, int id);
    /* The most task ids one hand-out message carries (0: the default, 1: one id per message and
     * one result per message, the protocol before chunks; bench/dispatch.sh compares both).
     * Identical on every rank. */
    int max_chunk;
    /* Optional, rank 0: filled with the coordinator's counts and times. */
    hf_sched_stats *stats;
    /* Optional, rank 0: affinity of tasks for the rank that ran related work (a promotion's
     * parent on the same split, whose kept booster the rank still holds: xgboost under hyperband
     * and asha). affinity_key(arg, task) names the work a task continues (0: none); affinity
     * remembers, across hf_sched_run calls, which rank was last handed each key. A rank that
     * asks for work is then handed, among the next AFFINITY_WINDOW pending tasks, the first whose
     * key it was handed before (the others keep their order), or else the first whose key no rank
     * was handed, or else the next one. This changes
     * only where and when a task runs, never which tasks run nor their results. */
    struct hf_sched_affinity *affinity;
    uint64_t (*affinity_key)(void *arg, const hf_task *task);
} hf_sched_opts;

/* The memory of which rank was handed each affinity key (rank 0); NULL when out of memory. */
struct hf_sched_affinity *hf_sched_affinity_new(void);
void hf_sched_affinity_free(struct hf_sched_affinity *a);
/* Tasks handed to a rank of its choice, and hand-outs in all, since hf_sched_affinity_new. */
void hf_sched_affinity_counts(const struct hf_sched_affinity *a, size_t *hits, size_t *handed);

/* Collective over `world`. Runs every task whose done[id] is 0 (done is significant on rank 0
 * only), and with `refill` the tasks it adds (`tasks` is only modified through refill and
 * absorb). Returns HF_EINTR if *stop was raised before every task ran, HF_OK when all ran. With
 * groups of more than one rank, rank 0's worker thread calls MPI on its group communicator: the
 * MPI library must provide MPI_THREAD_MULTIPLE (hf_comm_thread_multiple). */
int hf_sched_run(hf_comm *world, hf_task_ctx *ctx, hf_task_list *tasks, const unsigned char *done,
                 const hf_sched_opts *opts);

#endif
