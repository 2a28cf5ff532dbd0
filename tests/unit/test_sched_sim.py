#!/usr/bin/python3
"""bench/sched_sim.py on cases with known answers: equal tasks with no overheads end at
ceil(T/N) x length; a saturated coordinator delivers 1 / (its cost per result) results per second;
the chunked protocol sends fewer messages, so it is faster when the coordinator's cost is per message;
the back-off poll schedule; the second level (simulate_two_level): the same known answers, rank 0
saturating at 1 / (its cost per result), fewer messages at rank 0, and no worse balance than one
coordinator when nothing costs anything."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("HF_SOURCE_DIR", os.path.dirname(__file__) + "/../.."),
                                "bench"))
import sched_sim as sim  # noqa: E402

failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", msg)


free = dict(recv_us=0, send_us=0, result_us=0, latency_us=0, bandwidth=math.inf, poll=False)

# Equal tasks, zero overhead: makespan = ceil(T / N) x length, for both protocols.
for n, t, length in [(1, 5, 0.1), (4, 10, 0.5), (7, 50, 0.01), (16, 16, 1.0), (3, 100, 0.02)]:
    for proto in ("single", "chunked"):
        u, makespan, _, _ = sim.simulate(n, [length] * t, proto, sim.Params(**free))
        want = math.ceil(t / n) * length
        check(abs(makespan - want) < 1e-9,
              f"{proto} N={n} T={t}: makespan {makespan} expected {want}")
        check(abs(u - t * length / (n * want)) < 1e-9, f"{proto} N={n} T={t}: utilisation {u}")

# A saturated coordinator: zero-length tasks, 10 us per result and nothing else: 100,000/s.
for proto in ("single", "chunked"):
    p = sim.Params(**{**free, "result_us": 10.0})
    _, makespan, rate, _ = sim.simulate(8, [0.0] * 20000, proto, p)
    check(abs(rate - 1e5) / 1e5 < 0.01, f"{proto}: saturated rate {rate} expected 100000/s")

# Costs per message only: chunks divide them, so the chunked sweep is several times faster.
p = sim.Params(**{**free, "recv_us": 5.0, "send_us": 5.0})
_, ms_single, _, _ = sim.simulate(8, [1e-7] * 20000, "single", p)
_, ms_chunked, _, _ = sim.simulate(8, [1e-7] * 20000, "chunked", p)
check(abs(ms_single - 20000 * 7 / 8 * 10e-6) / ms_single < 0.05,
      f"single: makespan {ms_single} expected ~{20000 * 7 / 8 * 10e-6} (two messages per remote task)")
check(ms_chunked < ms_single / 5, f"chunked makespan {ms_chunked} not well below {ms_single}")

# Long tasks: the coordinator's costs do not matter, utilisation is the balance of the end.
p = sim.Params()
u, _, _, _ = sim.simulate(100, [1.0] * 1000, "chunked", p)
check(u > 0.999, f"100 workers, 1000 x 1 s: utilisation {u}")

# The second level (per-node sub-coordinators), on the same known answers.
free2 = dict(free, node_latency_us=0, sub_result_us=0)
for n, t, length, per_node in [(1, 5, 0.1, 1), (4, 10, 0.5, 2), (7, 50, 0.01, 3), (16, 16, 1.0, 4),
                               (3, 100, 0.02, 2), (48, 960, 0.01, 8), (10, 95, 0.03, 4)]:
    u, makespan, _, _ = sim.simulate_two_level(n, [length] * t, sim.Params(**free2), per_node)
    want = math.ceil(t / n) * length
    check(abs(makespan - want) < 1e-9,
          f"two-level N={n} T={t} per node {per_node}: makespan {makespan} expected {want}")
# Rank 0 saturated by its cost per result: 10 us -> 100,000/s; results reduced 5 to 1 -> 500,000/s.
for reduce, want in [(1, 1e5), (5, 5e5)]:
    p = sim.Params(**{**free2, "top_result_us": 10.0})
    _, _, rate, _ = sim.simulate_two_level(8, [0.0] * 20000, p, 4, reduce)
    check(abs(rate - want) / want < 0.02, f"two-level reduce {reduce}: rate {rate} expected {want}")
# Per-message costs: rank 0 receives one message per node and serving pass, not one per worker's chunk.
p = sim.Params(result_us=1.2, latency_us=1.5)
ls = sim.task_lengths(480 * 20, 0.01, 0.5)
c1, c2 = {}, {}
u1 = sim.simulate(480, ls, "chunked", p, c1)[0]
u2 = sim.simulate_two_level(480, ls, p, 48, 1, c2)[0]
check(c2["sent"] + c2["received"] < (c1["sent"] + c1["received"]) * 0.8,
      f"two-level rank 0 messages {c2} not below one level's {c1}")
check(abs(u1 - u2) < 0.03, f"480 ranks, 10 ms: one level {u1}, two levels {u2}")
# Varied lengths with no costs: node pools must not unbalance the end of the sweep.
uf1 = sim.simulate(480, ls, "chunked", sim.Params(**free))[0]
uf2 = sim.simulate_two_level(480, ls, sim.Params(**free2), 48)[0]
check(uf2 > uf1 - 0.01, f"no costs: two levels {uf2} against one {uf1}")

# The back-off: naps of 50 us doubling to 500 us after going idle at 0.
check(abs(sim.next_poll(0.0, 0.0) - 0.0) < 1e-12, "poll at once")
check(abs(sim.next_poll(0.0, 1e-6) - 50e-6) < 1e-12, "first poll after 50 us")
check(abs(sim.next_poll(0.0, 100e-6) - 150e-6) < 1e-12, "second poll at 150 us")
check(abs(sim.next_poll(0.0, 1.0) - sim.next_poll(0.0, 1.0 - 1e-7)) < 1e-12, "")
check(abs(sim.next_poll(0.0, 0.01) - 0.01) <= 500e-6, "at most 500 us late")

if failures:
    sys.exit(1)
print("ok")
