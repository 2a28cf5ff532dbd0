#!/usr/bin/python3
"""sched_sim.py - a discrete-event simulator of hyperfold's scheduling protocol (coordinator/scheduler.c).

One coordinator (rank 0's coordinator thread) serves messages one at a time: receiving a result
message costs recv_us, each result in it result_us (parsing, score table, journal), each hand-out
message send_us. A message takes latency_us plus bytes / bandwidth to arrive. N workers (rank 0's
own worker thread among them, with no message costs) hold up to `depth` tasks and run them one after
another; tasks last `length` seconds times a spread factor. The coordinator and idle workers poll
with the scheduler's back-off (naps of 50 us doubling to 500 us), so a message to an idle side
waits for its next poll. The rules for the held work, the chunk size and the batching of results
are those of scheduler.c (queue_depth, chunk_limit, FLUSH_BYTES):

  single  : one task id per message, one result per message (max_chunk 1, the protocol before chunks)
  chunked : chunks of up to 64 ids, results returned per chunk (at most ~30 per message)

Utilisation = summed task time / (N x makespan), as bench/dispatch.sh measures it.

  bench/sched_sim.py table              # the 1,000-10,000-rank table and the 100-node prediction
  bench/sched_sim.py one --ranks 1920 --length 1 --protocol chunked
  bench/sched_sim.py compare FILE [--timelines DIR]   # measured (bench/dispatch.sh) vs simulated
  bench/sched_sim.py --result-us 1.2 levels   # one coordinator against per-node sub-coordinators

Standard library only. The defaults are this machine's measurements (docs/scaling.md).
"""
import argparse
import heapq
import math
import random
import sys

MIN_NAP, MAX_NAP = 50e-6, 500e-6
QUEUED_SECONDS = 0.02
CHUNK_SECONDS_PER_WORKER = 5e-5
MAX_CHUNK, MAX_DEPTH, MAX_DEPTH_SINGLE = 64, 128, 64
RESULT_BYTES = 100          # one JSON line of a one-trial task
FLUSH_RESULTS = 3000 // RESULT_BYTES


def next_poll(idle_since, t):
    """The first poll at or after t of a side that went idle at idle_since (back-off naps)."""
    p, nap = idle_since, MIN_NAP
    while p < t:
        p += nap
        nap = min(2 * nap, MAX_NAP)
    return p


class Params:
    def __init__(self, **kw):
        self.recv_us = 1.0
        self.send_us = 1.5
        self.result_us = 10.0
        self.latency_us = 3.0
        self.bandwidth = 12.5e9       # bytes/s
        self.poll = True              # model the back-off naps
        self.worker_us = 0.0          # a worker's own cost per task (encode, send), not busy time
        # simulate_two_level only: rank 0's and a sub-coordinator's cost per result, the latency
        # between a worker and its node's sub-coordinator
        self.top_result_us = None     # None: result_us
        self.sub_result_us = 0.3
        self.node_latency_us = 1.0
        self.__dict__.update(kw)
        if self.top_result_us is None:
            self.top_result_us = self.result_us


def queue_depth(left, mean, n_workers, single):
    """Tasks a worker holds (scheduler.c's queue_depth): `left` tasks not handed out yet, `mean` the
    tasks' mean length so far (0: none known)."""
    d = 2
    hold = QUEUED_SECONDS if single else max(QUEUED_SECONDS, CHUNK_SECONDS_PER_WORKER * n_workers)
    cap = MAX_DEPTH_SINGLE if single else MAX_DEPTH
    if mean > 0:
        want = hold / mean
        d = cap if want >= cap else 2 if want <= 2 else int(want)
    while d > 1 and left < 2 * d * n_workers:
        d //= 2
    return d


def task_ended(queue, qhead, unsent, w, send_each):
    """Worker w's running task ended: returns (the task, the ids of the results it sends now or
    None). It sends its unsent results at the end of a chunk, when they fill FLUSH_RESULTS, when it
    holds nothing more, or after every task (send_each)."""
    tid, last = queue[w][qhead[w]]
    qhead[w] += 1
    unsent[w] += 1
    batch = unsent[w]
    if not (send_each or last or batch >= FLUSH_RESULTS or qhead[w] >= len(queue[w])):
        return tid, None
    unsent[w] = 0
    return tid, [queue[w][j][0] for j in range(qhead[w] - batch, qhead[w])]


def simulate(n_workers, lengths, protocol, p, counts=None):
    """Returns (utilisation, makespan, results per second, mean hand-out-to-result latency).
    counts, a dict, receives the coordinator's messages: "sent" (hand-outs to workers 1..N-1),
    "received" (result messages from them); rank 0's own thread sends none."""
    single = protocol == "single"
    n_tasks = len(lengths)
    lat = p.latency_us * 1e-6
    # per worker: queue of (task, last_of_chunk), outstanding, running-until, unsent results
    queue = [[] for _ in range(n_workers)]
    qhead = [0] * n_workers
    outstanding = [0] * n_workers
    busy_until = [0.0] * n_workers
    idle_since = [0.0] * n_workers
    running = [False] * n_workers
    unsent = [0] * n_workers
    handed = [0.0] * n_tasks
    state = {"next": 0, "mean": 0.0, "timed": 0, "clock": 0.0, "idle_since": 0.0,
             "done": 0, "lat": 0.0, "last": 0.0}
    msgs = {"sent": 0, "received": 0}
    inbox = []   # (arrival time, seq, worker, [task ids])
    events = []  # (time, seq, kind, worker, payload)
    seq = [0]

    def push(t, kind, w, payload):
        seq[0] += 1
        heapq.heappush(events, (t, seq[0], kind, w, payload))

    def depth():
        return queue_depth(n_tasks - state["next"], state["mean"], n_workers, single)

    def feed(w, t):
        """Hand-outs to worker w from time t on; returns when the coordinator is free again."""
        while True:
            d = depth()
            chunk = 1 if single else max(1, min(MAX_CHUNK, d // 2))
            if w == 0:   # rank 0's thread is topped up one task at a time (feed_local)
                chunk = max(1, d - outstanding[w])
            room = d - outstanding[w]
            if room <= 0 or (room < chunk and outstanding[w] > 0) or state["next"] >= n_tasks:
                return t
            k = min(chunk, room, n_tasks - state["next"])
            ids = list(range(state["next"], state["next"] + k))
            state["next"] += k
            outstanding[w] += k
            for i in ids:
                handed[i] = t
            if w == 0:   # rank 0's own thread: shared memory
                push(t, "arrive", w, ids)
            else:
                t += p.send_us * 1e-6
                msgs["sent"] += 1
                push(t + lat + 4 * k / p.bandwidth, "arrive", w, ids)

    def start(w, t):
        if qhead[w] < len(queue[w]) and not running[w]:
            tid, _ = queue[w][qhead[w]]
            running[w] = True
            push(t + lengths[tid] + p.worker_us * 1e-6, "done", w, None)

    def coordinator_serve(t):
        # the coordinator takes messages in arrival order, one at a time
        while inbox and inbox[0][0] <= t:
            _, _, w, ids = heapq.heappop(inbox)
            t += (p.recv_us * 1e-6 if w != 0 else 0) + p.result_us * 1e-6 * len(ids)
            for i in ids:
                outstanding[w] -= 1
                state["timed"] += 1
                state["mean"] += (lengths[i] - state["mean"]) / min(state["timed"], 100)
                state["done"] += 1
                state["lat"] += t - handed[i]
            t = feed(w, t)
        state["clock"] = t
        state["idle_since"] = t
        return t

    # the start: a first hand-out to every worker
    t = 0.0
    for w in range(n_workers):
        t = feed(w, t)
    state["clock"] = t
    state["idle_since"] = t
    busy = 0.0
    while events or inbox:
        if events and (not inbox or events[0][0] <= max(inbox[0][0], state["clock"])):
            t, _, kind, w, payload = heapq.heappop(events)
            if kind == "arrive":
                if p.poll and w != 0 and not running[w] and qhead[w] >= len(queue[w]):
                    t = next_poll(idle_since[w], t)
                queue[w].extend((i, j == len(payload) - 1) for j, i in enumerate(payload))
                start(w, t)
            else:  # a task ended
                # rank 0's thread hands each result over at once (shared memory)
                tid, ids = task_ended(queue, qhead, unsent, w, single or w == 0)
                running[w] = False
                busy += lengths[tid]
                if ids:
                    arr = t if w == 0 else t + lat + RESULT_BYTES * len(ids) / p.bandwidth
                    msgs["received"] += w != 0
                    seq[0] += 1
                    heapq.heappush(inbox, (arr, seq[0], w, ids))
                if qhead[w] >= len(queue[w]):
                    idle_since[w] = t
                start(w, t)
                state["last"] = max(state["last"], t)
        else:
            arr = inbox[0][0]
            t0 = max(arr, state["clock"])
            if p.poll and arr > state["clock"]:
                t0 = next_poll(state["idle_since"], arr)
            coordinator_serve(t0)
    makespan = max(state["last"], state["clock"])
    done = state["done"]
    if counts is not None:
        counts.update(msgs)
    return (busy / (n_workers * makespan), makespan, done / makespan,
            state["lat"] / max(done, 1))


def read_timeline(path):
    """A tool_sched --timeline file: its rows (task, worker, handed, start, seconds, received as
    numbers), ordered by task id."""
    import csv
    rows = [{k: (int(v) if k in ("task", "worker") else float(v)) for k, v in r.items()}
            for r in csv.DictReader(open(path))]
    return sorted(rows, key=lambda r: r["task"])


def worker_us(rows):
    """A worker's own time per task between its tasks (encoding and sending a result, taking the
    next message, waiting for a core), in us, measured from a timeline: per worker, its results in
    the order they were handed out, grouped into the messages they came in (equal arrival times);
    for two consecutive messages whose second one's first task was handed out before the first
    one's last task could have begun (its arrival less its seconds: so the worker did not wait for
    work between them), (arrival of the second - arrival of the first - the second's summed task
    seconds) / its tasks. The mean over all such pairs (a mean, not a median: a rare stall of tens
    of ms costs utilisation in proportion), at least 0; 0 if none; rank 0's thread (no messages)
    counts like the others."""
    gaps = []
    by_worker = {}
    for r in rows:
        by_worker.setdefault(r["worker"], []).append(r)
    for ws in by_worker.values():
        ws.sort(key=lambda r: r["handed"])
        batches = []
        for r in ws:
            if batches and r["received"] == batches[-1][-1]["received"]:
                batches[-1].append(r)
            else:
                batches.append([r])
        for a, b in zip(batches, batches[1:]):
            if b[0]["handed"] < a[-1]["received"] - a[-1]["seconds"] and b[0]["received"] > a[-1]["received"]:
                gaps.append((b[-1]["received"] - a[-1]["received"] - sum(r["seconds"] for r in b))
                            / len(b))
    if not gaps:
        return 0.0
    return max(0.0, 1e6 * sum(gaps) / len(gaps))


def latency_us(rows, worker):
    """The one-way delay of a message between rank 0 and a worker, in us, measured from a timeline:
    the mean, over tasks handed to a worker (not rank 0's thread) that held nothing else (handed
    after the arrival of the worker's previous result) and whose result came alone, of (arrival -
    hand-out - its seconds - worker us) / 2: the hand-out's and the result's way, the waits for the
    two sides' polls and for a core included. 1 us if there is no such task."""
    r_ = []
    by_worker = {}
    for r in rows:
        if r["worker"] != 0:
            by_worker.setdefault(r["worker"], []).append(r)
    for ws in by_worker.values():
        ws.sort(key=lambda r: r["handed"])
        arrivals = {}
        for r in ws:
            arrivals[r["received"]] = arrivals.get(r["received"], 0) + 1
        for a, b in zip(ws, ws[1:]):
            if b["handed"] >= a["received"] and arrivals[b["received"]] == 1:
                r_.append(b["received"] - b["handed"] - b["seconds"])
    if not r_:
        return 1.0
    return max(1.0, (1e6 * sum(r_) / len(r_) - worker) / 2)


def simulate_two_level(n_workers, lengths, p, node_ranks, reduce=1, counts=None):
    """A second level of coordinators (a model only: scheduler.c has one coordinator). The workers
    form nodes of node_ranks; each node has a sub-coordinator (a thread on one of its ranks, as rank
    0's coordinator is) that holds the node's share of the tasks, hands them to its workers with the
    one-level rules (queue_depth, chunks, results per chunk) over shared memory (node_latency_us),
    and forwards its workers' results to rank 0 in one message per serving pass. Rank 0 tops each
    node up to (its ranks x queue_depth) tasks in one message and pays recv_us per message and
    top_result_us per result (its score table and journal: these stay on rank 0); a sub-coordinator
    pays recv_us / send_us per message and sub_result_us per result it forwards. reduce > 1 models
    results reduced at the node (a trial's `reduce` folds run on one node and are sent to rank 0 as
    one record): rank 0's cost per result is divided by it. Every sub-coordinator and rank 0 serve
    their messages one at a time with the back-off naps. Returns what simulate() returns."""
    n_tasks = len(lengths)
    n_nodes = (n_workers + node_ranks - 1) // node_ranks
    lat_up, lat_node = p.latency_us * 1e-6, p.node_latency_us * 1e-6
    top_cost = p.top_result_us * 1e-6 / reduce
    sub_cost = p.sub_result_us * 1e-6
    node_size = [min(node_ranks, n_workers - j * node_ranks) for j in range(n_nodes)]
    # workers: held tasks (task, last_of_chunk), running, results not yet sent
    queue = [[] for _ in range(n_workers)]
    qhead = [0] * n_workers
    held = [0] * n_workers
    idle_w = [0.0] * n_workers
    running = [False] * n_workers
    unsent = [0] * n_workers
    # servers: 0 is rank 0, 1 + j is node j's sub-coordinator
    n_srv = 1 + n_nodes
    inbox = [[] for _ in range(n_srv)]   # (arrival, seq, kind, sender, ids)
    clock = [0.0] * n_srv
    idle_s = [0.0] * n_srv
    wake_pending = [False] * n_srv
    pool = [[] for _ in range(n_nodes)]  # a node's tasks not yet handed to a worker (a stack)
    up = [[] for _ in range(n_nodes)]    # a node's results not yet forwarded
    node_out = [0] * n_nodes             # rank 0's view: tasks handed to node j, results not back
    handed = [0.0] * n_tasks
    state = {"next": 0, "mean": 0.0, "timed": 0, "done": 0, "lat": 0.0, "last": 0.0}
    msgs = {"sent": 0, "received": 0}
    events = []
    seq = [0]

    def push(t, kind, a, b):
        seq[0] += 1
        heapq.heappush(events, (t, seq[0], kind, a, b))

    def post(s, arr, kind, sender, ids):
        seq[0] += 1
        heapq.heappush(inbox[s], (arr, seq[0], kind, sender, ids))
        if not wake_pending[s]:
            t = max(arr, clock[s])
            if p.poll and arr > clock[s]:
                t = next_poll(idle_s[s], arr)
            wake_pending[s] = True
            push(t, "wake", s, None)

    def depth():
        return queue_depth(n_tasks - state["next"], state["mean"], n_workers, False)

    def feed_node(j, t):
        """Rank 0 tops node j up to its ranks x queue_depth tasks, once a worker's chunk is free."""
        d = depth()
        room = node_size[j] * d - node_out[j]
        if state["next"] >= n_tasks or room <= 0 or (room < max(1, d // 2) and node_out[j] > 0):
            return t
        k = min(room, n_tasks - state["next"])
        ids = list(range(state["next"], state["next"] + k))
        state["next"] += k
        node_out[j] += k
        for i in ids:
            handed[i] = t
        t += p.send_us * 1e-6
        msgs["sent"] += 1
        post(1 + j, t + lat_up + 4 * k / p.bandwidth, "tasks", -1, ids)
        return t

    def feed_worker(w, t):
        j = w // node_ranks
        while pool[j]:
            d = depth()
            chunk = max(1, min(MAX_CHUNK, d // 2))
            room = d - held[w]
            if room <= 0 or (room < chunk and held[w] > 0):
                return t
            k = min(chunk, room, len(pool[j]))
            ids = [pool[j].pop() for _ in range(k)]
            held[w] += k
            t += p.send_us * 1e-6
            push(t + lat_node + 4 * k / p.bandwidth, "arrive", w, ids)
        return t

    def serve(s, t):
        box = inbox[s]
        while box and box[0][0] <= t:
            _, _, kind, sender, ids = heapq.heappop(box)
            if s == 0:  # rank 0: results forwarded by node `sender`
                t += p.recv_us * 1e-6 + top_cost * len(ids)
                node_out[sender] -= len(ids)
                for i in ids:
                    state["done"] += 1
                    state["lat"] += t - handed[i]
                t = feed_node(sender, t)
            else:
                j = s - 1
                if kind == "tasks":
                    t += p.recv_us * 1e-6
                    pool[j].extend(reversed(ids))
                    for w in range(j * node_ranks, j * node_ranks + node_size[j]):
                        t = feed_worker(w, t)
                else:  # results of worker `sender`
                    t += p.recv_us * 1e-6 + sub_cost * len(ids)
                    held[sender] -= len(ids)
                    for i in ids:
                        state["timed"] += 1
                        state["mean"] += (lengths[i] - state["mean"]) / min(state["timed"], 100)
                    up[j].extend(ids)
                    t = feed_worker(sender, t)
        if s > 0 and up[s - 1]:
            ids, up[s - 1] = up[s - 1], []
            t += p.send_us * 1e-6
            msgs["received"] += 1
            post(0, t + lat_up + RESULT_BYTES * len(ids) / p.bandwidth, "results", s - 1, ids)
        clock[s] = t
        idle_s[s] = t
        wake_pending[s] = False
        if box:
            arr = box[0][0]
            nt = next_poll(t, arr) if p.poll and arr > t else max(arr, t)
            wake_pending[s] = True
            push(nt, "wake", s, None)

    t = 0.0
    for j in range(n_nodes):
        t = feed_node(j, t)
    clock[0] = idle_s[0] = t
    busy = 0.0
    while events:
        t, _, kind, a, payload = heapq.heappop(events)
        if kind == "wake":
            serve(a, max(t, clock[a]))
        elif kind == "arrive":
            w = a
            if p.poll and not running[w] and qhead[w] >= len(queue[w]):
                t = next_poll(idle_w[w], t)
            queue[w].extend((i, k == len(payload) - 1) for k, i in enumerate(payload))
            if not running[w]:
                running[w] = True
                push(t + lengths[queue[w][qhead[w]][0]] + p.worker_us * 1e-6, "done", w, None)
        else:  # worker a's task ended
            w = a
            tid, ids = task_ended(queue, qhead, unsent, w, False)
            running[w] = False
            busy += lengths[tid]
            if ids:
                post(1 + w // node_ranks, t + lat_node + RESULT_BYTES * len(ids) / p.bandwidth,
                     "results", w, ids)
            if qhead[w] >= len(queue[w]):
                idle_w[w] = t
            else:
                running[w] = True
                push(t + lengths[queue[w][qhead[w]][0]] + p.worker_us * 1e-6, "done", w, None)
            state["last"] = max(state["last"], t)
    makespan = max(state["last"], clock[0])
    done = state["done"]
    if counts is not None:
        counts.update(msgs)
    return (busy / (n_workers * makespan), makespan, done / makespan,
            state["lat"] / max(done, 1))


def task_lengths(n, length, spread, seed=1):
    """Uniform in length x [1 - spread, 1 + spread] (as tests/mpi/tool_sched.c)."""
    rng = random.Random(seed)
    return [length * (1 + spread * (2 * rng.random() - 1)) for _ in range(n)]


def per_worker_tasks(length):
    return 20 if length <= 0.1 else 10


def cmd_table(a, p):
    print(f"# parameters: recv {p.recv_us} us, send {p.send_us} us, result {p.result_us} us per result,"
          f" latency {p.latency_us} us, bandwidth {p.bandwidth / 1e9:g} GB/s, spread {a.spread}")
    print("# util_free: the same sweep with no costs at all (what is left is the end of the sweep)")
    print(f"{'ranks':>6} {'task_s':>7} {'tasks':>7} {'util_free':>9} {'util_single':>11}"
          f" {'util_chunked':>12} {'results/s_single':>16} {'results/s_chunked':>17}")
    for n in a.ranks:
        for length in a.lengths:
            m = per_worker_tasks(length)
            ls = task_lengths(n * m, length, a.spread)
            us, _, rs, _ = simulate(n, ls, "single", p)
            uc, _, rc, _ = simulate(n, ls, "chunked", p)
            free = Params(recv_us=0, send_us=0, result_us=0, latency_us=0, bandwidth=math.inf,
                          poll=False)
            uf = simulate(n, ls, "chunked", free)[0]
            print(f"{n:>6} {length:>7g} {n * m:>7} {uf:>9.4f} {us:>11.4f} {uc:>12.4f} {rs:>16.0f}"
                  f" {rc:>17.0f}", flush=True)


def cmd_one(a, p):
    m = a.tasks_per_worker or per_worker_tasks(a.length)
    ls = task_lengths(a.ranks * m, a.length, a.spread)
    u, mk, r, l = simulate(a.ranks, ls, a.protocol, p)
    print(f"ranks {a.ranks} task_s {a.length:g} tasks {len(ls)} protocol {a.protocol} util {u:.4f}"
          f" makespan {mk:.4f} results_per_s {r:.0f} latency_ms {1e3 * l:.3f}")


def cmd_levels(a, p):
    """One coordinator (chunked) against a second level of per-node sub-coordinators, and against
    the second level with a trial's folds reduced on the node (rank 0 pays per result / reduce)."""
    print(f"# parameters: recv {p.recv_us} us, send {p.send_us} us, rank 0 {p.top_result_us} us per"
          f" result, sub-coordinator {p.sub_result_us} us per result, latency {p.latency_us} us"
          f" (node {p.node_latency_us} us), {a.node_ranks} ranks a node, reduce {a.reduce},"
          f" spread {a.spread}")
    print(f"{'ranks':>6} {'task_s':>7} {'per_rank':>8} {'tasks':>8} {'util_free':>9}"
          f" {'util_1level':>11} {'util_2level':>11} {'util_2l_red':>11} {'results/s_1l':>12}"
          f" {'results/s_2l':>12} {'rank0_msgs_1l':>13} {'rank0_msgs_2l':>13}")
    free = Params(recv_us=0, send_us=0, result_us=0, latency_us=0, bandwidth=math.inf, poll=False)
    for n in a.ranks:
        for length in a.lengths:
            for m in a.tasks_per_worker:
                ls = task_lengths(n * m, length, a.spread)
                uf = simulate(n, ls, "chunked", free)[0]
                c1, c2 = {}, {}
                u1, _, r1, _ = simulate(n, ls, "chunked", p, c1)
                u2, _, r2, _ = simulate_two_level(n, ls, p, a.node_ranks, 1, c2)
                u3 = simulate_two_level(n, ls, p, a.node_ranks, a.reduce)[0]
                print(f"{n:>6} {length:>7g} {m:>8} {n * m:>8} {uf:>9.4f} {u1:>11.4f} {u2:>11.4f}"
                      f" {u3:>11.4f} {r1:>12.0f} {r2:>12.0f}"
                      f" {c1['sent'] + c1['received']:>13} {c2['sent'] + c2['received']:>13}",
                      flush=True)


def cmd_compare(a, p):
    """Reads bench/dispatch.sh's 'ranks ... util U' lines; prints them beside the simulation. With
    --timelines DIR (dispatch.sh's $DISPATCH_OUT) each run is simulated with its own task lengths
    and the workers' time and the messages' delay measured on its timeline (worker_us, latency_us),
    as tests/mpi/test_sched_model.py does."""
    import os
    print(f"{'ranks':>5} {'ms':>5} {'chunk':>5} {'tasks':>6} {'util_meas':>9} {'util_sim':>8}"
          f" {'tasks/s_meas':>12} {'tasks/s_sim':>11} {'worker_us':>9} {'lat_us':>6}")
    lines = open(a.file).read().splitlines()
    for k, line in enumerate(lines):
        f = line.split()
        if len(f) < 18 or f[0] != "ranks":
            continue
        kv = dict(zip(f[0::2], f[1::2]))
        cost = lines[k + 1].split() if k + 1 < len(lines) else []
        if cost and cost[0] == "coordinator":  # this run's own measured costs
            ck = dict(zip(cost[1::2], cost[2::2]))
            p = Params(**{**p.__dict__, "result_us": float(ck["per_result_us"]),
                          "send_us": float(ck["send_us"]), "recv_us": float(ck["recv_us"])})
        n, ms, chunk, tasks = int(kv["ranks"]), float(kv["ms"]), int(kv["chunk"]), int(kv["tasks"])
        ls = task_lengths(tasks, ms * 1e-3, a.spread)
        tl = os.path.join(a.timelines or "", f"timeline_r{n}_ms{kv['ms']}_c{chunk}.csv")
        if a.timelines and os.path.exists(tl):
            rows = read_timeline(tl)
            wk = worker_us(rows)
            p = Params(**{**p.__dict__, "worker_us": wk, "latency_us": latency_us(rows, wk)})
            if len(rows) == tasks:
                ls = [r["seconds"] for r in rows]
        u, _, r, _ = simulate(n, ls, "single" if chunk == 1 else "chunked", p)
        print(f"{n:>5} {ms:>5g} {chunk:>5} {tasks:>6} {float(kv['util']):>9.4f} {u:>8.4f}"
              f" {float(kv['tasks_per_s']):>12.0f} {r:>11.0f} {p.worker_us:>9.0f}"
              f" {p.latency_us:>6.0f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recv-us", type=float, default=1.0)
    ap.add_argument("--send-us", type=float, default=1.5)
    ap.add_argument("--result-us", type=float, default=10.0)
    ap.add_argument("--latency-us", type=float, default=3.0)
    ap.add_argument("--bandwidth", type=float, default=12.5e9)
    ap.add_argument("--spread", type=float, default=0.5)
    ap.add_argument("--worker-us", type=float, default=0.0,
                    help="a worker's own cost per task between tasks (not counted as busy)")
    ap.add_argument("--no-poll", action="store_true", help="no back-off naps (a busy-polling peer)")
    ap.add_argument("--top-result-us", type=float, default=None,
                    help="levels: rank 0's cost per result with sub-coordinators (default"
                    " --result-us)")
    ap.add_argument("--sub-result-us", type=float, default=0.3,
                    help="levels: a sub-coordinator's cost per result it forwards")
    ap.add_argument("--node-latency-us", type=float, default=1.0,
                    help="levels: a worker to its node's sub-coordinator (shared memory)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table")
    t.add_argument("--ranks", type=int, nargs="+", default=[1000, 1920, 4800, 10000])
    t.add_argument("--lengths", type=float, nargs="+", default=[0.01, 0.1, 1.0, 10.0])
    o = sub.add_parser("one")
    o.add_argument("--ranks", type=int, required=True)
    o.add_argument("--length", type=float, required=True)
    o.add_argument("--protocol", choices=["single", "chunked"], default="chunked")
    o.add_argument("--tasks-per-worker", type=int, default=0)
    lv = sub.add_parser("levels", help="one coordinator against per-node sub-coordinators")
    lv.add_argument("--ranks", type=int, nargs="+", default=[1920, 4800, 10000])
    lv.add_argument("--lengths", type=float, nargs="+", default=[0.01, 0.1])
    lv.add_argument("--tasks-per-worker", type=int, nargs="+", default=[20, 100])
    lv.add_argument("--node-ranks", type=int, default=48)
    lv.add_argument("--reduce", type=int, default=5, help="folds reduced per trial on the node")
    c = sub.add_parser("compare")
    c.add_argument("file")
    c.add_argument("--timelines", help="bench/dispatch.sh's $DISPATCH_OUT: measure each run's"
                   " workers' time and messages' delay on its timeline")
    a = ap.parse_args()
    p = Params(recv_us=a.recv_us, send_us=a.send_us, result_us=a.result_us,
               latency_us=a.latency_us, bandwidth=a.bandwidth, poll=not a.no_poll,
               worker_us=a.worker_us, top_result_us=a.top_result_us,
               sub_result_us=a.sub_result_us, node_latency_us=a.node_latency_us)
    {"table": cmd_table, "one": cmd_one, "compare": cmd_compare, "levels": cmd_levels}[a.cmd](a, p)


if __name__ == "__main__":
    main()
