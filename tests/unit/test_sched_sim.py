#!/usr/bin/python3
"""bench/sched_sim.py on cases with known answers: equal tasks with no overheads end at
ceil(T/N) x length; a saturated coordinator delivers 1 / (its cost per result) results per second;
the chunked protocol sends fewer messages, so it is faster when the coordinator's cost is per message;
the back-off poll schedule."""
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

# The back-off: naps of 50 us doubling to 500 us after going idle at 0.
check(abs(sim.next_poll(0.0, 0.0) - 0.0) < 1e-12, "poll at once")
check(abs(sim.next_poll(0.0, 1e-6) - 50e-6) < 1e-12, "first poll after 50 us")
check(abs(sim.next_poll(0.0, 100e-6) - 150e-6) < 1e-12, "second poll at 150 us")
check(abs(sim.next_poll(0.0, 1.0) - sim.next_poll(0.0, 1.0 - 1e-7)) < 1e-12, "")
check(abs(sim.next_poll(0.0, 0.01) - 0.01) <= 500e-6, "at most 500 us late")

if failures:
    sys.exit(1)
print("ok")
