/* scheduler.c - the coordinator loop, the remote worker loop and rank 0's local worker thread.
 *
 * Written by hand: the task graph is a flat bag of independent tasks, and what matters is latency
 * and never busy-waiting on rank 0, whose core is shared with its own worker thread. The
 * coordinator polls MPI without blocking and, when idle, waits on a condition variable (woken by
 * the local worker's results) with a growing timeout (50 us up to 500 us) before polling MPI again.
 * Workers hold about QUEUED_SECONDS of queued tasks while many remain (more with many workers:
 * CHUNK_SECONDS_PER_WORKER) and send their results without blocking, so neither side waits on the
 * other's latency.
 *
 * Chunks (docs/scaling.md): once the tasks' mean duration is known, a hand-out message carries up
 * to half of what a worker should hold (at most MAX_CHUNK ids), and the worker returns the results
 * of a chunk together (result records, below, one after another) when the chunk's last task has
 * run, or earlier when they fill FLUSH_BYTES or the first unsent one is FLUSH_SECONDS old. A worker
 * holds two chunks, the one it runs and the next. Rank 0's per-message cost is then paid once per
 * chunk instead of twice per task. As tasks run out, the held work shrinks (halved while fewer than
 * two full holdings per worker remain) and so do the chunks, down to one task: the end of the sweep
 * is balanced as before (guided self-scheduling). An asynchronous study (refill) hands out one id
 * per message and gets each result at once: its next tasks depend on them.
 *
 * A grid or random sweep's task list is rank 0's alone (hf_sched_opts.materialise): a hand-out
 * message then carries each task's definition (id, split, trial ids: 16 bytes for a task of one
 * trial), a chunk cut before it passes FLUSH_BYTES so that it still goes eagerly (a single
 * definition larger than that, a study task of many trials and parameters, goes alone and may
 * wait for the worker to receive it: Open MPI's shared-memory eager limit is 4 KiB), and the worker
 * makes the task's trials from their ids. A batch-synchronous study's is too, and its tasks'
 * definitions also carry their trials' values (hf_sched_opts.trial_bytes, pack: 9 bytes a
 * parameter), since no other rank can make a proposed trial from its id. */
#define _GNU_SOURCE
#include "coordinator/scheduler.h"
#include "coordinator/journal.h"
#include "common/hf.h"
#include "worker/group.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_TASK = 1, TAG_STOP = 2, TAG_RESULT = 3, TAG_FAIL = 4, TAG_TASKS = 5 };

/* Task ids in one hand-out message, and tasks a worker may hold (running + queued). 64 ids: with
 * more (512 bytes and up) Open MPI's shared-memory MPI_Send took 250-800 us instead of 1-3 us on
 * this machine (bench/dispatch.sh), and 64 already divides the message count by 64. */
#define MAX_CHUNK 64
#define MAX_DEPTH (2 * MAX_CHUNK)
/* Tasks a worker may hold with one id per message (hf_sched_opts.max_chunk 1, the old protocol). */
#define MAX_DEPTH_SINGLE 64
/* The work a worker holds also grows with the number of workers W, to CHUNK_SECONDS_PER_WORKER x W
 * seconds (chunks of half of it), so that short tasks cost rank 0 at most W / (W x 2.5e-5 s) =
 * 40,000 hand-out messages a second (and about as many result messages), whatever W is: at the
 * measured 1-2 us per message (docs/scaling.md) under 15% of its time. */
#define CHUNK_SECONDS_PER_WORKER 5e-5
/* A worker sends the results it holds once the oldest is this old, even inside a chunk. */
#define FLUSH_SECONDS 0.5
/* ... and once they fill this many bytes: a message above MPI's eager limit (4 KiB for Open MPI's
 * shared-memory transport, more on InfiniBand) goes by rendezvous, completed only while the worker
 * calls MPI, so rank 0's blocking receive could wait until the worker's running task ends. */
#define FLUSH_BYTES 3000
/* Work a worker should hold in its queue (seconds): enough to cover the coordinator's wake-up
 * latency when every core is busy computing (the kernel may delay a waking thread by milliseconds).
 */
#define QUEUED_SECONDS 0.02
/* Idle back-off of the coordinator and of remote workers: from MIN_NAP to MAX_NAP nanoseconds. */
#define MIN_NAP 50000L
#define MAX_NAP 500000L

/* Shared-memory mailbox between the coordinator and rank 0's worker thread. */
typedef struct local_box {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the worker waits here for tasks */
    pthread_cond_t done_cv; /* the coordinator waits here for results (with a timeout) */
    int queue[MAX_DEPTH + 1];
    int n_queued;
    int stop;
    char **results; /* result records waiting for the coordinator */
    size_t *result_lens;
    size_t n_results, cap_results;
    int busy;
    int failed; /* infrastructure failure in the thread */
    char error[1024];
    hf_task_ctx *ctx;
    hf_task_list *tasks; /* grows under mu in an asynchronous study (refill) */
    const char *const *metrics;
    hf_comm *group; /* rank 0's group when it has other members, else NULL */
    const hf_sched_opts *opts;
    int spec_job; /* a speculative job for the idle thread (>= 0), or -1 */
} local_box;

/* Tasks defined in their hand-out messages (hf_sched_opts.materialise): each is three ints (id,
 * split, n), its n trial ids and, with hf_sched_opts.trial_bytes, the n trials' values
 * (n x trial_bytes bytes, padded to whole ints). A task holds at most this many trials (run.c's
 * batches: 64). A defined task's trial array is followed by its values in the same allocation. */
#define MAX_TASK_TRIALS 4096

/* The ints the values of a task of n trials take in a message. */
static size_t values_ints(const hf_sched_opts *opts, size_t n)
{
    return (n * opts->trial_bytes + sizeof(int) - 1) / sizeof(int);
}

/* A defined task's values (after its trial ids), or NULL without trial_bytes. */
static const unsigned char *task_values(const hf_sched_opts *opts, const hf_task *t)
{
    return opts->trial_bytes ? (const unsigned char *)(t->trials + t->n_trials) : NULL;
}

/* A task of rank 0's list as a definition: its trial ids then its trials' values (hf_sched_opts
 * .pack), malloc'd; the caller frees it. */
static int *define_task(const hf_sched_opts *opts, const hf_task *t)
{
    int *a = hf_calloc(t->n_trials + values_ints(opts, t->n_trials) + 1, sizeof *a);
    if (!a)
        return NULL;
    memcpy(a, t->trials, t->n_trials * sizeof *a);
    if (opts->trial_bytes && opts->pack(opts->arg, t, (unsigned char *)(a + t->n_trials)) < 0) {
        free(a);
        return NULL;
    }
    return a;
}

/* A group leader tells its members which task to run next (NULL: stop): its id, and with `defs`
 * its definition. Collective over group. */
static int group_announce(hf_comm *group, const hf_task *t, const hf_sched_opts *opts)
{
    if (!group)
        return HF_OK;
    int defs = opts->materialise != NULL;
    int head[3] = {t ? t->id : -1, t ? t->split : 0, t ? (int)t->n_trials : 0};
    HF_CALL(hf_comm_bcast(group, head, defs ? sizeof head : sizeof head[0], 0));
    if (defs && t && t->n_trials > 0)
        HF_CALL(hf_comm_bcast(group, t->trials,
                              (t->n_trials + values_ints(opts, t->n_trials)) * sizeof *t->trials,
                              0));
    return HF_OK;
}

/* Runs a task defined by its message on a rank that holds no trial list: its trials
 * materialised first and released after. */
static int run_defined(hf_task_ctx *ctx, const hf_sched_opts *opts, hf_task *task,
                       hf_task_result *r)
{
    if (task->split < 0 || (size_t)task->split >= ctx->folds->n_splits) {
        memset(r, 0, sizeof *r);
        return hf_error(HF_EINTERNAL, "worker received task %d on split %d of %zu", task->id,
                        task->split, ctx->folds->n_splits);
    }
    int result = opts->materialise(opts->arg, task, task_values(opts, task));
    if (result < 0) {
        memset(r, 0, sizeof *r);
        return result;
    }
    result = hf_task_run(ctx, task, r);
    opts->release(opts->arg, task);
    return result;
}

/* Non-leader group members: run what the leader announces until it says stop. */
static int member_loop(hf_comm *group, hf_task_ctx *ctx, const hf_task_list *tasks,
                       const hf_sched_opts *opts)
{
    int defs = opts->materialise != NULL;
    for (;;) {
        int head[3] = {-1, 0, 0};
        HF_CALL(hf_comm_bcast(group, head, defs ? sizeof head : sizeof head[0], 0));
        if (head[0] < 0)
            return HF_OK;
        hf_task_result r;
        int result;
        if (defs) {
            if (head[2] < 1 || head[2] > MAX_TASK_TRIALS)
                return hf_error(HF_EINTERNAL, "group member received a task of %d trials", head[2]);
            size_t n = (size_t)head[2] + values_ints(opts, (size_t)head[2]);
            int *trials = hf_malloc(n * sizeof *trials);
            if (!trials)
                return HF_ENOMEM;
            if ((result = hf_comm_bcast(group, trials, n * sizeof *trials, 0)) < 0) {
                free(trials);
                return result;
            }
            hf_task t = {
                .id = head[0], .split = head[1], .trials = trials, .n_trials = (size_t)head[2]};
            result = run_defined(ctx, opts, &t, &r);
            free(trials);
        } else {
            if ((size_t)head[0] >= tasks->n_tasks)
                return hf_error(HF_EINTERNAL, "group member received an invalid task id %d",
                                head[0]);
            result = hf_task_run(ctx, &tasks->tasks[head[0]], &r);
        }
        hf_task_result_free(&r);
        HF_CALL(result);
    }
}

/* ---- result records ------------------------------------------------------------------------
 * A finished task travels to the coordinator as a record: the result in binary (what
 * hf_task_result_from_json would read back from its JSON line: the same values, bit for bit) and
 * the JSON line itself (for the journal), so that rank 0 parses no JSON. Parsing was 3-4 us of the
 * coordinator's ~10 us per result (docs/scaling.md). Layout, native byte order (every rank runs the
 * same binary on the same kind of machine):
 *   u32 bin_len | bin | the JSON line with its NUL
 *   bin: i32 task, split, worker | f64 seconds | u32 n_trials | per trial: i32 trial, ok, stop |
 *        f64 fit_seconds, n_iter | u32 error length (0: none) | error bytes | f64 scores[n_metrics]
 * Written by hand: the layout is private to this file and a serialisation library would cost
 * what it saves. */
typedef struct wbuf {
    char *p;
    size_t n, cap;
    int failed;
} wbuf;

static void put(wbuf *w, const void *x, size_t n)
{
    if (w->failed)
        return;
    if (w->n + n > w->cap) {
        size_t cap = 2 * (w->n + n) + 64;
        char *p = realloc(w->p, cap);
        if (!p) {
            w->failed = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->n, x, n);
    w->n += n;
}

static void put_i32(wbuf *w, int v)
{
    int32_t x = v;
    put(w, &x, sizeof x);
}

static void put_u32(wbuf *w, size_t v)
{
    uint32_t x = (uint32_t)v;
    put(w, &x, sizeof x);
}

/* A number as its JSON round trip gives it back: non-finite values are written as null (scores,
 * read back as NaN) or left out (times, read back as 0). */
static void put_f64(wbuf *w, double v, double if_not_finite)
{
    double x = isfinite(v) ? v : if_not_finite;
    put(w, &x, sizeof x);
}

/* Encodes r and its JSON line into one record (malloc'd, *len bytes), or NULL (error set). */
static char *record_make(const hf_task_result *r, const char *json, size_t n_metrics, size_t *len)
{
    wbuf w = {0};
    put_u32(&w, 0); /* bin_len, below */
    put_i32(&w, r->task);
    put_i32(&w, r->split);
    put_i32(&w, r->worker);
    put_f64(&w, r->seconds, 0);
    put_u32(&w, r->n_trials);
    for (size_t i = 0; i < r->n_trials; i++) {
        const hf_trial_result *t = &r->trials[i];
        /* n_iter and stop are written only for a trial that is ok and did not simply converge. */
        int iters = t->ok && (t->n_iter > 0 || t->stop != HF_FIT_CONVERGED);
        int stop = iters && (t->stop == HF_FIT_MAX_ITER || t->stop == HF_FIT_STALLED)
                       ? t->stop
                       : HF_FIT_CONVERGED;
        const char *err = !t->ok && t->error ? t->error : "";
        put_i32(&w, t->trial);
        put_i32(&w, t->ok ? 1 : 0);
        put_i32(&w, stop);
        put_f64(&w, t->fit_seconds, 0);
        put_f64(&w, iters ? t->n_iter : 0, 0);
        put_u32(&w, strlen(err));
        put(&w, err, strlen(err));
        for (size_t m = 0; m < n_metrics; m++)
            put_f64(&w, t->scores[m], NAN);
    }
    uint32_t bin_len = (uint32_t)(w.n - sizeof(uint32_t));
    put(&w, json, strlen(json) + 1);
    if (w.failed) {
        free(w.p);
        hf_error(HF_ENOMEM, "out of memory encoding a task result");
        return NULL;
    }
    memcpy(w.p, &bin_len, sizeof bin_len);
    *len = w.n;
    return w.p;
}

typedef struct rbuf {
    const char *p;
    size_t n, off;
    int bad;
} rbuf;

static void get(rbuf *r, void *x, size_t n)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = 1;
        memset(x, 0, n);
        return;
    }
    memcpy(x, r->p + r->off, n);
    r->off += n;
}

static int get_i32(rbuf *r)
{
    int32_t x;
    get(r, &x, sizeof x);
    return x;
}

static size_t get_u32(rbuf *r)
{
    uint32_t x;
    get(r, &x, sizeof x);
    return x;
}

static double get_f64(rbuf *r)
{
    double x;
    get(r, &x, sizeof x);
    return x;
}

/* Decodes the record at buf[0..len): the result into *out (free with hf_task_result_free), its JSON
 * line into *json (pointing into buf), the record's size into *used. */
static int record_read(const char *buf, size_t len, size_t n_metrics, hf_task_result *out,
                       const char **json, size_t *used)
{
    memset(out, 0, sizeof *out);
    rbuf r = {.p = buf, .n = len};
    size_t bin_len = get_u32(&r);
    if (r.bad || bin_len > len - r.off)
        return hf_error(HF_EINTERNAL, "malformed result record (%zu bytes)", len);
    r.n = r.off + bin_len;
    out->task = get_i32(&r);
    out->split = get_i32(&r);
    out->worker = get_i32(&r);
    out->seconds = get_f64(&r);
    out->n_trials = get_u32(&r);
    out->n_metrics = n_metrics;
    if (r.bad || out->n_trials > bin_len)
        return hf_error(HF_EINTERNAL, "malformed result record (%zu trials)", out->n_trials);
    out->trials = hf_calloc(out->n_trials ? out->n_trials : 1, sizeof *out->trials);
    if (!out->trials)
        return HF_ENOMEM;
    int result = HF_OK;
    for (size_t i = 0; i < out->n_trials && result >= 0 && !r.bad; i++) {
        hf_trial_result *t = &out->trials[i];
        t->trial = get_i32(&r);
        t->ok = get_i32(&r);
        t->stop = get_i32(&r);
        t->fit_seconds = get_f64(&r);
        t->n_iter = get_f64(&r);
        size_t elen = get_u32(&r);
        if (r.bad || elen > r.n - r.off)
            break;
        if (elen > 0) {
            if (!(t->error = hf_malloc(elen + 1))) {
                result = HF_ENOMEM;
                break;
            }
            get(&r, t->error, elen);
            t->error[elen] = '\0';
        }
        if (!(t->scores = hf_malloc((n_metrics ? n_metrics : 1) * sizeof *t->scores))) {
            result = HF_ENOMEM;
            break;
        }
        for (size_t m = 0; m < n_metrics; m++)
            t->scores[m] = get_f64(&r);
    }
    const char *line = buf + r.n;
    const char *nul = r.bad || result < 0 ? NULL : memchr(line, '\0', len - r.n);
    if (result >= 0 && (r.bad || r.off != r.n || !nul))
        result = hf_error(HF_EINTERNAL, "malformed result record for task %d", out->task);
    if (result < 0) {
        hf_task_result_free(out);
        return result;
    }
    *json = line;
    *used = (size_t)(nul - buf) + 1;
    return HF_OK;
}

/* Runs one task and returns its record (malloc'd, *len bytes), or NULL (error set). */
static char *run_one(hf_task_ctx *ctx, const hf_sched_opts *opts, hf_task *task, int rank,
                     size_t *len)
{
    hf_task_result r;
    int defined = opts && opts->materialise && rank != 0;
    if ((defined ? run_defined(ctx, opts, task, &r) : hf_task_run(ctx, task, &r)) < 0) {
        hf_task_result_free(&r);
        return NULL;
    }
    r.worker = rank;
    char *json = hf_task_result_to_json(&r, ctx->metrics, ctx->n_metrics);
    char *rec = json ? record_make(&r, json, ctx->n_metrics, len) : NULL;
    free(json);
    hf_task_result_free(&r);
    return rec;
}

static void *local_worker(void *arg)
{
    local_box *b = arg;
    /* This thread shares rank 0's core with the coordinator thread, which mostly sleeps but must
     * run at once when it wakes (remote workers wait for its answers): a lower priority for the
     * computing thread lets the kernel preempt it for the coordinator. Best effort. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
        hf_debug("could not lower the priority of rank 0's worker thread");
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->n_queued == 0 && !b->stop && b->spec_job < 0)
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->n_queued == 0 && b->spec_job >= 0) {
            int job = b->spec_job;
            b->spec_job = -1;
            pthread_mutex_unlock(&b->mu);
            b->opts->speculate(b->opts->arg, job);
            pthread_mutex_lock(&b->mu);
            continue;
        }
        if (b->n_queued == 0 && b->stop)
            break;
        int id = b->queue[0];
        memmove(b->queue, b->queue + 1, (size_t)(b->n_queued - 1) * sizeof *b->queue);
        b->n_queued--;
        b->busy = 1;
        hf_task task = b->tasks->tasks[id]; /* the list may be reallocated once unlocked */
        pthread_mutex_unlock(&b->mu);
        size_t rec_len;
        /* A group's members get the task's definition (its values: hf_sched_opts.pack). */
        int *def = b->group && b->opts->materialise ? define_task(b->opts, &task) : NULL;
        hf_task announced = task;
        if (def)
            announced.trials = def;
        char *json = (b->group && b->opts->materialise && !def) ||
                             group_announce(b->group, &announced, b->opts) < 0
                         ? NULL
                         : run_one(b->ctx, NULL, &task, 0, &rec_len);
        free(def);
        pthread_mutex_lock(&b->mu);
        b->busy = 0;
        if (!json) {
            b->failed = 1;
            snprintf(b->error, sizeof b->error, "%s", hf_error_message());
            pthread_cond_broadcast(&b->done_cv);
            break;
        }
        if (b->n_results == b->cap_results) {
            size_t cap = b->cap_results ? 2 * b->cap_results : 8;
            char **nr = realloc(b->results, cap * sizeof *nr);
            if (nr)
                b->results = nr;
            size_t *nl = nr ? realloc(b->result_lens, cap * sizeof *nl) : NULL;
            if (nl)
                b->result_lens = nl;
            if (!nr || !nl) {
                free(json);
                b->failed = 1;
                snprintf(b->error, sizeof b->error, "out of memory");
                break;
            }
            b->cap_results = cap;
        }
        b->result_lens[b->n_results] = rec_len;
        b->results[b->n_results++] = json;
        pthread_cond_broadcast(&b->done_cv); /* wake the coordinator */
    }
    pthread_mutex_unlock(&b->mu);
    if (!b->failed && group_announce(b->group, NULL, b->opts) < 0)
        b->failed = 1;
    return NULL;
}

static void nap(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* ---- remote worker (ranks > 0) ------------------------------------------------------------ */

/* Waits for the next message from the coordinator without spinning: MPI's own blocking receive
 * busy-polls, which would steal the core that rank 0's threads compute on when ranks share cores.
 * The worker usually holds queued tasks, so a late wake-up costs nothing. */
static int wait_message(hf_comm *world)
{
    long backoff = MIN_NAP;
    for (;;) {
        int ready = 0;
        HF_CALL(hf_comm_iprobe(world, 0, &ready));
        if (ready)
            return HF_OK;
        nap(backoff);
        if (backoff < MAX_NAP)
            backoff *= 2;
    }
}

/* Results in flight from a worker: sent without blocking, so that the worker computes its next task
 * while the coordinator (whose core may be busy) picks the result up. */
#define MAX_SENDS 256

typedef struct send_list {
    hf_comm_req *req[MAX_SENDS];
    size_t n;
} send_list;

/* Completes the sends that are done (in order of completion tests); with `all`, waits for every
 * one. */
static int sends_progress(send_list *l, int all)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        int done = 0;
        int result = all ? hf_comm_wait(&l->req[i]) : hf_comm_test(&l->req[i], &done);
        if (result < 0)
            return result;
        if (!all && !done)
            l->req[k++] = l->req[i];
    }
    l->n = all ? 0 : k;
    return HF_OK;
}

/* A remote worker's held tasks, in hand-out order; `last` marks the end of a chunk. A task is a
 * shallow copy of the list's, or one defined by its message (hf_sched_opts.materialise), whose
 * trial ids the held queue owns. */
typedef struct held {
    hf_task *task;
    unsigned char *last;
    size_t head, n, cap;
    int owns; /* the tasks' trial arrays are the queue's */
} held;

static int held_push(held *h, const hf_task *tasks, size_t k)
{
    if (h->head > 0) { /* drop what has run */
        for (size_t i = 0; h->owns && i < h->head; i++)
            free(h->task[i].trials);
        memmove(h->task, h->task + h->head, (h->n - h->head) * sizeof *h->task);
        memmove(h->last, h->last + h->head, h->n - h->head);
        h->n -= h->head;
        h->head = 0;
    }
    if (h->n + k > h->cap) {
        size_t cap = 2 * (h->n + k);
        hf_task *task = hf_realloc(h->task, cap * sizeof *task);
        if (!task)
            return HF_ENOMEM;
        h->task = task;
        unsigned char *last = hf_realloc(h->last, cap);
        if (!last)
            return HF_ENOMEM;
        h->last = last;
        h->cap = cap;
    }
    for (size_t i = 0; i < k; i++) {
        h->task[h->n] = tasks[i];
        h->last[h->n++] = i + 1 == k;
    }
    return HF_OK;
}

static void held_free(held *h)
{
    for (size_t i = 0; h->owns && i < h->n; i++)
        free(h->task[i].trials);
    free(h->task);
    free(h->last);
}

/* The tasks a hand-out message defines (hf_sched_opts.materialise): into out[0..*k), their trial
 * arrays allocated. */
static int parse_defined(const hf_sched_opts *opts, const char *buf, size_t len, hf_task *out,
                         size_t *k)
{
    size_t n = len / sizeof(int), at = 0;
    *k = 0;
    if (len % sizeof(int) != 0)
        return hf_error(HF_EINTERNAL, "worker received a malformed message (%zu bytes)", len);
    while (at < n) {
        int head[3];
        if (n - at < 3 || *k == MAX_CHUNK)
            return hf_error(HF_EINTERNAL, "worker received a malformed chunk (%zu bytes)", len);
        memcpy(head, buf + at * sizeof(int), sizeof head);
        at += 3;
        size_t m = head[2] < 1 || head[2] > MAX_TASK_TRIALS
                       ? 0
                       : (size_t)head[2] + values_ints(opts, (size_t)head[2]);
        if (head[0] < 0 || head[1] < 0 || m == 0 || m > n - at)
            return hf_error(HF_EINTERNAL, "worker received an invalid task (id %d, %d trials)",
                            head[0], head[2]);
        hf_task *t = &out[(*k)++];
        memset(t, 0, sizeof *t);
        t->id = head[0];
        t->split = head[1];
        t->n_trials = (size_t)head[2];
        if (!(t->trials = hf_malloc(m * sizeof *t->trials)))
            return HF_ENOMEM;
        memcpy(t->trials, buf + at * sizeof(int), m * sizeof *t->trials);
        at += m;
    }
    return *k > 0 ? HF_OK : hf_error(HF_EINTERNAL, "worker received an empty chunk");
}

/* Result records not yet sent, one after another. */
typedef struct batch {
    char *text;
    size_t len, cap, n;
    double first; /* when the oldest was added */
} batch;

static int batch_add(batch *b, const char *rec, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = 2 * (b->len + n);
        char *t = hf_realloc(b->text, cap);
        if (!t)
            return HF_ENOMEM;
        b->text = t;
        b->cap = cap;
    }
    if (b->n++ == 0)
        b->first = hf_now();
    memcpy(b->text + b->len, rec, n);
    b->len += n;
    return HF_OK;
}

static int batch_flush(hf_comm *world, batch *b, send_list *sends)
{
    if (b->n == 0)
        return HF_OK;
    if (sends->n == MAX_SENDS)
        HF_CALL(sends_progress(sends, 1));
    HF_CALL(hf_comm_isend(world, 0, TAG_RESULT, b->text, b->len, &sends->req[sends->n]));
    sends->n++;
    b->n = b->len = 0;
    return HF_OK;
}

/* Handles one message from the coordinator: task ids are queued, an asynchronous study's new
 * tasks absorbed; *stopped is set on TAG_STOP. */
static int worker_receive(hf_comm *world, hf_task_list *tasks, const hf_sched_opts *opts, held *h,
                          int *stopped)
{
    int from, tag;
    char *buf;
    size_t len;
    HF_CALL(hf_comm_recv(world, 0, &from, &tag, &buf, &len));
    int result = HF_OK;
    if (tag == TAG_STOP) {
        *stopped = 1;
    } else if (tag == TAG_TASKS) { /* an asynchronous study's new tasks, before their ids */
        /* A failure reaches the coordinator as the worker loop ends (TAG_FAIL). */
        result = opts->absorb ? opts->absorb(opts->arg, tasks, buf, len)
                              : hf_error(HF_EINTERNAL, "tasks announced to a fixed sweep");
    } else if (tag == TAG_TASK && opts->materialise) {
        hf_task defs[MAX_CHUNK];
        size_t k = 0;
        result = parse_defined(opts, buf, len, defs, &k);
        if (result >= 0)
            result = held_push(h, defs, k);
        if (result < 0)
            for (size_t i = 0; i < k; i++)
                free(defs[i].trials);
    } else {
        size_t k = len / sizeof(int);
        int ids[MAX_CHUNK];
        hf_task copies[MAX_CHUNK];
        if (tag != TAG_TASK || k == 0 || k > MAX_CHUNK || len != k * sizeof(int)) {
            result = hf_error(HF_EINTERNAL,
                              "worker received a malformed message (tag %d, %zu "
                              "bytes)",
                              tag, len);
        } else {
            memcpy(ids, buf, len);
            for (size_t i = 0; i < k && result >= 0; i++)
                if (ids[i] < 0 || (size_t)ids[i] >= tasks->n_tasks)
                    result =
                        hf_error(HF_EINTERNAL, "worker received an invalid task id %d", ids[i]);
            for (size_t i = 0; i < k && result >= 0; i++)
                copies[i] = tasks->tasks[ids[i]];
            if (result >= 0)
                result = held_push(h, copies, k);
        }
    }
    free(buf);
    return result;
}

static int worker_loop(hf_comm *world, hf_comm *group, hf_task_ctx *ctx, hf_task_list *tasks,
                       const hf_sched_opts *opts)
{
    int rank = hf_comm_rank(world);
    send_list sends = {.n = 0};
    held h = {.owns = opts->materialise != NULL};
    batch out = {0};
    int result = HF_OK, stopped = 0;
    /* One result per message: the old protocol, and an asynchronous study's (see the top). */
    int at_once = opts->max_chunk == 1 || opts->absorb;
    while (!stopped) {
        if ((result = sends_progress(&sends, 0)) < 0)
            break;
        if (h.head == h.n) { /* nothing held: report, then wait for the coordinator */
            if ((result = batch_flush(world, &out, &sends)) < 0 ||
                (result = wait_message(world)) < 0)
                break;
        }
        /* Take every message that has arrived (new chunks, new tasks, the stop). */
        int ready = 1;
        while (ready && !stopped && result >= 0) {
            if ((result = hf_comm_iprobe(world, 0, &ready)) >= 0 && ready)
                result = worker_receive(world, tasks, opts, &h, &stopped);
        }
        if (result < 0)
            break; /* the coordinator is told below: it counts this rank's tasks as running */
        if (stopped || h.head == h.n)
            continue;
        hf_task *task = &h.task[h.head];
        int last = h.last[h.head++];
        if ((result = group_announce(group, task, opts)) < 0)
            break;
        size_t rec_len;
        char *json = run_one(ctx, opts, task, rank, &rec_len);
        if (!json) {
            result = hf_error_code() ? hf_error_code() : HF_EINTERNAL;
            break;
        }
        result = batch_add(&out, json, rec_len);
        free(json);
        if (result >= 0 &&
            (at_once || last || out.len >= FLUSH_BYTES || hf_now() - out.first >= FLUSH_SECONDS))
            result = batch_flush(world, &out, &sends);
        if (result < 0)
            break;
    }
    if (result < 0) {
        /* Tell the coordinator why, then leave: it would otherwise wait for the results of the
         * tasks this rank holds. */
        const char *msg = hf_error_message();
        hf_comm_send(world, 0, TAG_FAIL, msg, strlen(msg) + 1);
    }
    if (result >= 0 && stopped) {
        result = batch_flush(world, &out, &sends);
        if (result >= 0)
            result = group_announce(group, NULL, opts);
    }
    int sent = sends_progress(&sends, 1);
    held_free(&h);
    free(out.text);
    return result < 0 ? result : sent;
}

/* ---- coordinator (rank 0) ----------------------------------------------------------------- */

typedef struct coord {
    hf_comm *world;
    hf_task_list *tasks;
    const hf_sched_opts *opts;
    hf_task_ctx *ctx;
    int *pending; /* task ids still to hand out, in order */
    size_t n_pending, next, cap_pending;
    int refill_ready; /* an asynchronous study may have tasks to add: at the start, after a result
                       */
    int *outstanding; /* per rank: tasks handed out and not yet reported */
    size_t in_flight;
    int stopping;
    int stride;          /* ranks per group: the leaders are the multiples of it */
    double task_seconds; /* running mean of the tasks' durations (0 until one is known) */
    size_t n_timed;
    /* The timeline (journal "start"): seconds since the sweep started (t0) at which each task was
     * handed out (handed, per task id; grown with the task list) and at which each rank's last
     * reported task ended (free_at, per rank). */
    double t0;
    double *handed;
    size_t cap_handed;
    double *free_at;
    hf_sched_stats stats;
} coord;

/* Records when task `id` is handed out. A failed allocation only loses the timeline. */
static void note_handed(coord *c, int id)
{
    if ((size_t)id >= c->cap_handed) {
        size_t cap = 2 * (size_t)id + 16;
        double *h = realloc(c->handed, cap * sizeof *h);
        if (!h)
            return;
        for (size_t i = c->cap_handed; i < cap; i++)
            h[i] = 0;
        c->handed = h;
        c->cap_handed = cap;
    }
    c->handed[id] = hf_now() - c->t0;
    if (c->opts->on_hand)
        c->opts->on_hand(c->opts->arg, id);
}

/* ---- affinity (hf_sched_opts.affinity) ---- an open-addressing table key -> rank, and each
 * task's key, computed once (0: not yet; a task whose key is 0 is stored as 1). */
#define AFFINITY_WINDOW 64

struct hf_sched_affinity {
    uint64_t *keys;
    int *ranks;
    size_t cap, n; /* cap: a power of two, or 0 */
    uint64_t *task_key;
    size_t cap_tasks;
    size_t hits, handed;
};

struct hf_sched_affinity *hf_sched_affinity_new(void)
{
    return hf_calloc(1, sizeof(struct hf_sched_affinity));
}

void hf_sched_affinity_free(struct hf_sched_affinity *a)
{
    if (!a)
        return;
    free(a->keys);
    free(a->ranks);
    free(a->task_key);
    free(a);
}

void hf_sched_affinity_counts(const struct hf_sched_affinity *a, size_t *hits, size_t *handed)
{
    *hits = a ? a->hits : 0;
    *handed = a ? a->handed : 0;
}

static size_t affinity_slot(const struct hf_sched_affinity *a, uint64_t key)
{
    size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL) & (a->cap - 1);
    while (a->keys[i] != 0 && a->keys[i] != key)
        i = (i + 1) & (a->cap - 1);
    return i;
}

/* The rank last handed `key`, or -1. */
static int affinity_rank(const struct hf_sched_affinity *a, uint64_t key)
{
    if (a->cap == 0 || key == 0)
        return -1;
    size_t i = affinity_slot(a, key);
    return a->keys[i] == key ? a->ranks[i] : -1;
}

/* Remembers that `rank` was handed `key` (a failed allocation only forgets). */
static void affinity_note(struct hf_sched_affinity *a, uint64_t key, int rank)
{
    if (key == 0)
        return;
    if (2 * (a->n + 1) > a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        struct hf_sched_affinity g = {.keys = hf_calloc(cap, sizeof *g.keys),
                                      .ranks = hf_calloc(cap, sizeof *g.ranks),
                                      .cap = cap};
        if (!g.keys || !g.ranks) {
            free(g.keys);
            free(g.ranks);
            return;
        }
        for (size_t i = 0; i < a->cap; i++)
            if (a->keys[i]) {
                size_t j = affinity_slot(&g, a->keys[i]);
                g.keys[j] = a->keys[i];
                g.ranks[j] = a->ranks[i];
            }
        free(a->keys);
        free(a->ranks);
        a->keys = g.keys;
        a->ranks = g.ranks;
        a->cap = cap;
    }
    size_t i = affinity_slot(a, key);
    a->n += a->keys[i] == 0;
    a->keys[i] = key;
    a->ranks[i] = rank;
}

/* Task id's key (computed once; 0: none). */
static uint64_t task_key(coord *c, int id)
{
    struct hf_sched_affinity *a = c->opts->affinity;
    if ((size_t)id >= a->cap_tasks) {
        size_t cap = 2 * (size_t)id + 64;
        uint64_t *k = realloc(a->task_key, cap * sizeof *k);
        if (!k)
            return 0;
        memset(k + a->cap_tasks, 0, (cap - a->cap_tasks) * sizeof *k);
        a->task_key = k;
        a->cap_tasks = cap;
    }
    if (a->task_key[id] == 0) {
        uint64_t k = c->opts->affinity_key(c->opts->arg, &c->tasks->tasks[id]);
        a->task_key[id] = k ? k : 1;
    }
    return a->task_key[id] == 1 ? 0 : a->task_key[id];
}

/* With affinity: the first of the next AFFINITY_WINDOW pending tasks whose key worker w was
 * handed before moves to the front (the others keep their order); without one, the first whose
 * key no rank was handed (another rank's promotion is left to it while there is other work). */
static void prefer(coord *c, int w)
{
    struct hf_sched_affinity *a = c->opts->affinity_key ? c->opts->affinity : NULL;
    if (!a || c->stopping || c->next >= c->n_pending)
        return;
    size_t end =
        c->n_pending - c->next > AFFINITY_WINDOW ? c->next + AFFINITY_WINDOW : c->n_pending;
    size_t pick = end, free_task = end; /* w's own; the first that is no other rank's */
    for (size_t j = c->next; j < end && pick == end; j++) {
        int r = affinity_rank(a, task_key(c, c->pending[j]));
        if (r == w)
            pick = j;
        else if (r < 0 && free_task == end)
            free_task = j;
    }
    if (pick == end)
        pick = free_task;
    if (pick == end || pick == c->next)
        return;
    int id = c->pending[pick];
    memmove(&c->pending[c->next + 1], &c->pending[c->next], (pick - c->next) * sizeof *c->pending);
    c->pending[c->next] = id;
}

/* Passes over the pending tasks that opts->skip drops. */
static void drop_skipped(coord *c)
{
    while (c->opts->skip && c->next < c->n_pending &&
           c->opts->skip(c->opts->arg, c->pending[c->next]))
        c->next++;
}

/* The next task for worker w (-1: none now). */
static int next_task(coord *c, int w)
{
    drop_skipped(c);
    if (c->stopping || c->next >= c->n_pending)
        return -1;
    prefer(c, w);
    drop_skipped(c);
    if (c->next >= c->n_pending)
        return -1;
    struct hf_sched_affinity *a = c->opts->affinity_key ? c->opts->affinity : NULL;
    if (a) {
        uint64_t key = task_key(c, c->pending[c->next]);
        a->hits += key != 0 && affinity_rank(a, key) == w;
        a->handed++;
        affinity_note(a, key, w);
    }
    return c->pending[c->next++];
}

/* Task ids per hand-out message (see the top). */
static int chunk_limit(const coord *c)
{
    if (c->opts->max_chunk == 1 || c->opts->refill)
        return 1;
    return c->opts->max_chunk > 1 && c->opts->max_chunk < MAX_CHUNK ? c->opts->max_chunk
                                                                    : MAX_CHUNK;
}

static int queue_depth(const coord *c)
{
    /* While plenty remain, a worker holds about QUEUED_SECONDS of tasks (at least two), so it never
     * waits for the coordinator between short tasks (more with many workers, so that rank 0's
     * messages stay few: CHUNK_SECONDS_PER_WORKER); near the end one, so that no fast worker
     * idles while a slow one holds queued tasks. */
    size_t workers = (size_t)hf_comm_size(c->world) / (size_t)c->stride;
    size_t left = c->n_pending - c->next;
    size_t depth = 2;
    int single = chunk_limit(c) == 1;
    double hold = single ? QUEUED_SECONDS : CHUNK_SECONDS_PER_WORKER * (double)workers;
    size_t max_depth = single ? MAX_DEPTH_SINGLE : MAX_DEPTH;
    if (hold < QUEUED_SECONDS)
        hold = QUEUED_SECONDS;
    if (c->task_seconds > 0) {
        double want = hold / c->task_seconds;
        depth = want >= (double)max_depth ? max_depth : want <= 2 ? 2 : (size_t)want;
    }
    while (depth > 1 && left < 2 * depth * workers)
        depth /= 2;
    /* An asynchronous study has more to come: a worker keeps one task queued behind its running
     * one, so that it never waits for rank 0 to make the next (tasks of the first rungs of ASHA
     * take milliseconds). */
    if (c->opts->refill && depth < 2)
        depth = 2;
    return (int)depth;
}

/* Sends worker w the definitions of tasks ids[0..k) (hf_sched_opts.materialise): per task its id,
 * split, number of trials and trial ids. */
static int send_defined(coord *c, int w, const int *ids, int k)
{
    const hf_sched_opts *o = c->opts;
    size_t n = 0;
    for (int i = 0; i < k; i++)
        n +=
            3 + c->tasks->tasks[ids[i]].n_trials + values_ints(o, c->tasks->tasks[ids[i]].n_trials);
    int *msg = hf_malloc(n * sizeof *msg);
    if (!msg)
        return HF_ENOMEM;
    size_t at = 0;
    int result = HF_OK;
    for (int i = 0; i < k && result >= 0; i++) {
        const hf_task *t = &c->tasks->tasks[ids[i]];
        msg[at++] = t->id;
        msg[at++] = t->split;
        msg[at++] = (int)t->n_trials;
        memcpy(msg + at, t->trials, t->n_trials * sizeof *msg);
        at += t->n_trials;
        size_t v = values_ints(o, t->n_trials);
        if (v) {
            msg[at + v - 1] = 0; /* the padding */
            result = o->pack(o->arg, t, (unsigned char *)(msg + at));
        }
        at += v;
    }
    if (result >= 0)
        result = hf_comm_send(c->world, w, TAG_TASK, msg, n * sizeof *msg);
    free(msg);
    return result;
}

/* Tops worker w up to queue_depth tasks, in chunks of half of it (chunk_limit at most): a chunk
 * goes out when it fits whole, or when the worker holds nothing. */
static int feed_remote(coord *c, int w)
{
    int ids[MAX_CHUNK];
    for (;;) {
        int depth = queue_depth(c);
        int chunk = depth / 2 < chunk_limit(c) ? depth / 2 : chunk_limit(c);
        if (chunk < 1)
            chunk = 1;
        int room = depth - c->outstanding[w];
        if (room <= 0 || (room < chunk && c->outstanding[w] > 0))
            break;
        int k = 0;
        size_t bytes = 0; /* a chunk of definitions (materialise) stays under MPI's eager limit */
        while (k < chunk && k < room) {
            drop_skipped(c);
            prefer(c, w); /* (the task next_task hands out, measured first) */
            drop_skipped(c);
            if (c->opts->materialise && !c->stopping && c->next < c->n_pending) {
                size_t nt = c->tasks->tasks[c->pending[c->next]].n_trials;
                bytes += (3 + nt + values_ints(c->opts, nt)) * sizeof(int);
                if (k > 0 && bytes > FLUSH_BYTES)
                    break;
            }
            int id = next_task(c, w);
            if (id < 0)
                break;
            note_handed(c, id);
            ids[k++] = id;
        }
        if (k == 0)
            break;
        double t = hf_now();
        if (c->opts->materialise) /* the tasks' definitions: the worker holds no list */
            HF_CALL(send_defined(c, w, ids, k));
        else
            HF_CALL(hf_comm_send(c->world, w, TAG_TASK, ids, (size_t)k * sizeof *ids));
        c->stats.send_s += hf_now() - t;
        c->stats.sent++;
        c->outstanding[w] += k;
        c->in_flight += (size_t)k;
    }
    return HF_OK;
}

static void feed_local(coord *c, local_box *b)
{
    pthread_mutex_lock(&b->mu);
    while (c->outstanding[0] < queue_depth(c) && b->n_queued < MAX_DEPTH) {
        int id = next_task(c, 0);
        if (id < 0)
            break;
        note_handed(c, id);
        b->queue[b->n_queued++] = id;
        c->outstanding[0]++;
        c->in_flight++;
    }
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* An asynchronous study: while nothing is left to hand out and a worker idles, ask the study for
 * more tasks (under the worker thread's lock) and announce them to the other ranks (not with
 * materialise: rank 0 alone holds them, and each hand-out defines its task). */
static int refill(coord *c, local_box *b)
{
    int size = hf_comm_size(c->world);
    drop_skipped(c); /* pending tasks that are all dropped leave nothing to hand out */
    while (c->opts->refill && c->refill_ready && !c->stopping && c->next >= c->n_pending) {
        int idle = 0; /* a worker with room for another task (queue_depth) */
        for (int w = 0; w < size && !idle; w += c->stride)
            idle = c->outstanding[w] < queue_depth(c);
        if (!idle)
            return HF_OK;
        char *msg = NULL;
        size_t len = 0, before = c->tasks->n_tasks;
        pthread_mutex_lock(&b->mu);
        int added = c->opts->refill(c->opts->arg, c->tasks, &msg, &len);
        pthread_mutex_unlock(&b->mu);
        if (added < 0) {
            free(msg);
            return added;
        }
        if (added == 0 || c->tasks->n_tasks == before) {
            free(msg);
            c->refill_ready = 0; /* until the next result */
            return HF_OK;
        }
        int result = HF_OK; /* (with materialise the hand-outs carry the tasks' trials) */
        for (int w = c->stride; w < size && result >= 0 && !c->opts->materialise; w += c->stride)
            result = hf_comm_send(c->world, w, TAG_TASKS, msg, len);
        free(msg);
        if (result < 0)
            return result;
        size_t want = c->n_pending + (c->tasks->n_tasks - before);
        if (want > c->cap_pending) {
            size_t cap = 2 * want;
            int *np = hf_realloc(c->pending, cap * sizeof *np);
            if (!np)
                return HF_ENOMEM;
            c->pending = np;
            c->cap_pending = cap;
        }
        for (size_t i = before; i < c->tasks->n_tasks; i++)
            c->pending[c->n_pending++] = (int)i;
        for (int w = c->stride; w < size; w += c->stride)
            HF_CALL(feed_remote(c, w));
        feed_local(c, b);
    }
    return HF_OK;
}

/* The task's start on the sweep's timeline, measured by the coordinator: a worker runs its
 * queued tasks one after another in the order they were handed out, so a task starts when it has
 * been handed out and the worker's previous task has ended, whichever is later (the worker's own
 * `seconds` give the end). The start is added to the result's JSON line as "start" (seconds since
 * hf_sched_run began on rank 0); readers that do not know it ignore it. */
static char *with_start(coord *c, const hf_task_result *r, const char *json)
{
    double start = 0;
    if (r->task >= 0 && (size_t)r->task < c->cap_handed)
        start = c->handed[r->task];
    if (r->worker >= 0 && r->worker < hf_comm_size(c->world) && c->free_at) {
        if (c->free_at[r->worker] > start)
            start = c->free_at[r->worker];
        c->free_at[r->worker] = start + r->seconds;
    }
    size_t n = strlen(json);
    if (n < 2 || json[n - 1] != '}')
        return NULL;
    char *out = hf_malloc(n + 40);
    if (out)
        snprintf(out, n + 40, "%.*s,\"start\":%.6f}", (int)(n - 1), json, start);
    return out;
}

static int deliver_timed(coord *c, const char *rec, size_t len, size_t *used);

/* Delivers the result record at rec[0..len) and sets *used to its size. */
static int deliver(coord *c, const char *rec, size_t len, size_t *used)
{
    double t = hf_now();
    int result = deliver_timed(c, rec, len, used);
    c->stats.deliver_s += hf_now() - t;
    c->stats.results++;
    return result;
}

static int deliver_timed(coord *c, const char *rec, size_t len, size_t *used)
{
    hf_task_result r;
    const char *json = NULL;
    HF_CALL(record_read(rec, len, c->ctx->n_metrics, &r, &json, used));
    c->refill_ready = 1;
    c->n_timed++;
    c->task_seconds +=
        (r.seconds - c->task_seconds) / (double)(c->n_timed < 100 ? c->n_timed : 100);
    char *line = with_start(c, &r, json);
    int result =
        c->opts->on_result ? c->opts->on_result(c->opts->arg, &r, line ? line : json) : HF_OK;
    free(line);
    hf_task_result_free(&r);
    return result;
}

/* The journal lines of the results just delivered (held since hf_journal_hold), in one write()
 * before anything is handed out (coordinator/journal.h); its time counts as delivery. */
static int flush_journal(coord *c, int result)
{
    double t = hf_now();
    int flushed = hf_journal_flush();
    c->stats.deliver_s += hf_now() - t;
    return result < 0 ? result : flushed;
}

static int coordinate(coord *c, local_box *b)
{
    int size = hf_comm_size(c->world);
    int result = HF_OK;
    for (int w = c->stride; w < size; w += c->stride)
        if ((result = feed_remote(c, w)) < 0)
            return result;
    feed_local(c, b);
    long backoff = MIN_NAP;
    double last_tick = hf_now();
    int speculated = !(c->opts->pick && c->opts->speculate) || c->stride > 1;
    if ((result = refill(c, b)) < 0)
        return result;
    while (c->in_flight > 0 || (!c->stopping && c->next < c->n_pending)) {
        int progress = 0;
        if (c->opts->stop && *c->opts->stop && !c->stopping) {
            c->stopping = 1;
            hf_info("stop requested: finishing %zu running task(s), handing out no more",
                    c->in_flight);
        }
        int ready = 0;
        if ((result = hf_comm_iprobe(c->world, -1, &ready)) < 0)
            return result;
        if (ready) {
            int from, tag;
            char *buf;
            size_t len;
            double t = hf_now();
            if ((result = hf_comm_recv(c->world, -1, &from, &tag, &buf, &len)) < 0)
                return result;
            c->stats.recv_s += hf_now() - t;
            c->stats.received++;
            if (tag == TAG_FAIL) {
                result = hf_error(HF_EINTERNAL, "rank %d failed: %s", from, buf);
                free(buf);
                return result;
            }
            /* One result record or several (a chunk's); their journal lines in one write(),
             * before any hand-out. */
            hf_journal_hold();
            for (size_t off = 0, used = 0; result >= 0 && off < len; off += used) {
                if (tag != TAG_RESULT || c->outstanding[from] <= 0)
                    result = hf_error(HF_EINTERNAL, "unexpected message from rank %d (tag %d)",
                                      from, tag);
                else {
                    c->outstanding[from]--;
                    c->in_flight--;
                    result = deliver(c, buf + off, len - off, &used);
                }
            }
            free(buf);
            result = flush_journal(c, result);
            if (result < 0)
                return result;
            if ((result = feed_remote(c, from)) < 0)
                return result;
            progress = 1;
        }
        /* Results of the local worker thread. */
        pthread_mutex_lock(&b->mu);
        char **res = b->results;
        size_t *res_lens = b->result_lens;
        size_t n_res = b->n_results;
        int failed = b->failed;
        b->results = NULL;
        b->result_lens = NULL;
        b->n_results = b->cap_results = 0;
        pthread_mutex_unlock(&b->mu);
        if (failed) {
            for (size_t i = 0; i < n_res; i++)
                free(res[i]);
            free(res);
            free(res_lens);
            return hf_error(HF_EINTERNAL, "rank 0 worker failed: %s", b->error);
        }
        if (n_res > 0)
            hf_journal_hold();
        for (size_t i = 0; i < n_res; i++) {
            c->outstanding[0]--;
            c->in_flight--;
            size_t used;
            if (result >= 0)
                result = deliver(c, res[i], res_lens[i], &used);
            free(res[i]);
        }
        free(res);
        free(res_lens);
        if (n_res > 0)
            result = flush_journal(c, result);
        if (result < 0)
            return result;
        if (n_res > 0)
            progress = 1;
        feed_local(c, b);
        if ((result = refill(c, b)) < 0)
            return result;
        /* Nothing left to hand out, rank 0's worker idle, others still computing: speculate. */
        if (!speculated && !c->stopping && c->next >= c->n_pending && c->outstanding[0] == 0 &&
            c->in_flight > 0) {
            speculated = 1;
            int job = c->opts->pick(c->opts->arg);
            if (job >= 0) {
                pthread_mutex_lock(&b->mu);
                b->spec_job = job;
                pthread_cond_signal(&b->cv);
                pthread_mutex_unlock(&b->mu);
            }
        }
        double now = hf_now();
        if (c->opts->on_tick && now - last_tick >= 0.2) {
            c->opts->on_tick(c->opts->arg);
            last_tick = now;
        }
        if (progress) {
            backoff = MIN_NAP;
        } else {
            /* Idle: sleep until the local worker reports or the back-off expires (then poll MPI).
             */
            struct timespec until;
            hf_deadline_in(&until, (double)backoff * 1e-9);
            pthread_mutex_lock(&b->mu);
            if (b->n_results == 0 && !b->failed)
                pthread_cond_timedwait(&b->done_cv, &b->mu, &until);
            pthread_mutex_unlock(&b->mu);
            if (backoff < MAX_NAP)
                backoff *= 2;
        }
    }
    return result;
}

int hf_sched_run(hf_comm *world, hf_task_ctx *ctx, hf_task_list *tasks, const unsigned char *done,
                 const hf_sched_opts *opts)
{
    int rank = hf_comm_rank(world);
    int size = hf_comm_size(world);
    hf_comm *group = opts->group && hf_comm_size(opts->group) > 1 ? opts->group : NULL;
    int stride = group ? hf_comm_size(group) : 1;
    if (group && !hf_comm_thread_multiple())
        return hf_comm_check(world, hf_error(HF_EMPI, "worker groups need an MPI library with "
                                                      "MPI_THREAD_MULTIPLE"));
    if (group && opts->refill)
        return hf_comm_check(world, hf_error(HF_EINVAL, "an asynchronous study runs without "
                                                        "worker groups"));
    if (rank != 0) {
        int loop_status;
        if (group && hf_comm_rank(group) != 0)
            loop_status = member_loop(group, ctx, tasks, opts);
        else
            loop_status = worker_loop(world, group, ctx, tasks, opts);
        return hf_comm_check(world, loop_status);
    }

    int result = HF_OK;
    coord c = {.world = world,
               .tasks = tasks,
               .opts = opts,
               .ctx = ctx,
               .stride = stride,
               .refill_ready = 1,
               .cap_pending = tasks->n_tasks ? tasks->n_tasks : 1,
               .t0 = hf_now()};
    local_box box = {.ctx = ctx, .tasks = tasks, .group = group, .opts = opts, .spec_job = -1};
    pthread_t thread;
    int thread_started = 0;
    c.pending = hf_malloc(c.cap_pending * sizeof *c.pending);
    c.outstanding = hf_calloc((size_t)size, sizeof *c.outstanding);
    c.free_at = hf_calloc((size_t)size, sizeof *c.free_at);
    if (!c.pending || !c.outstanding || !c.free_at) {
        result = HF_ENOMEM;
        goto stop_workers;
    }
    for (size_t i = 0; i < tasks->n_tasks; i++)
        if (!done || !done[i])
            c.pending[c.n_pending++] = (int)i;
    pthread_mutex_init(&box.mu, NULL);
    pthread_cond_init(&box.cv, NULL);
    pthread_cond_init(&box.done_cv, NULL);
    if (pthread_create(&thread, NULL, local_worker, &box) != 0) {
        result = hf_error(HF_EINTERNAL, "cannot start rank 0's worker thread");
        goto stop_workers;
    }
    thread_started = 1;
    result = coordinate(&c, &box);
    if (opts->stats)
        *opts->stats = c.stats;

stop_workers:
    if (thread_started) {
        pthread_mutex_lock(&box.mu);
        box.stop = 1;
        box.n_queued = 0;
        box.spec_job = -1;
        pthread_cond_signal(&box.cv);
        pthread_mutex_unlock(&box.mu);
        pthread_join(thread, NULL);
        for (size_t i = 0; i < box.n_results; i++)
            free(box.results[i]);
        free(box.results);
        free(box.result_lens);
        pthread_mutex_destroy(&box.mu);
        pthread_cond_destroy(&box.cv);
        pthread_cond_destroy(&box.done_cv);
    }
    /* Drain what remote workers still report, then release them. On an error we cannot wait for
     * them: the caller aborts the job. */
    if (result >= 0) {
        for (int w = stride; w < size; w += stride)
            hf_comm_send(world, w, TAG_STOP, NULL, 0);
    }
    if (result >= 0 && c.opts->stop && *c.opts->stop && c.next < c.n_pending)
        result = HF_EINTR;
    else if (result >= 0 && c.stopping && (c.next < c.n_pending || opts->refill))
        result = HF_EINTR; /* (an asynchronous study stopped is unfinished) */
    free(c.pending);
    free(c.outstanding);
    free(c.handed);
    free(c.free_at);
    if (result < 0 && result != HF_EINTR)
        return result; /* caller aborts: the workers are still waiting for tasks */
    /* Every rank learns whether the sweep was interrupted. */
    return hf_comm_check(world, result);
}
