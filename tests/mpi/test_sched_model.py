#!/usr/bin/python3
"""The scheduling simulator (bench/sched_sim.py) against the measured dispatch (issue 17).

A model-validation test, not a performance assertion: it checks that the simulator, given the
costs measured in a run, predicts that run's utilisation, makespan and message count; nothing here
asserts how fast the scheduler is.

At 2, 4, 8 and 16 ranks (oversubscribed) the real scheduler (hf_sched_run) is driven by
tests/mpi_tool_sched with tasks that sleep (so the 2 shared cores are not what limits them):
  plain   30 ms tasks (+-50%), 8 per rank, chunks on (at this length a chunk is one task);
  loaded  the same, with rank 0 spending 45 / R ms per result (tool_sched --result-ms: a sleep in
          on_result), 1.5x what the workers' results need: the coordinator is the limit, so a
          model that left out its cost per result predicts ~0.9 where ~0.6 is measured;
  chunked 1.5 ms tasks (+-50%), 100 per rank: a worker holds ~20 ms, chunks of up to 6 ids,
          results returned per chunk; only the coordinator's message count is compared, from 4
          ranks on (at 2 ranks a run has too few messages for a band: see one_set) (a model
          that ignored the chunking counts 2.3-3.5x the messages). At 8-16 ranks on 2 loaded cores
          the workers' own time, not the protocol, limits such short tasks, so their utilisation
          is printed, not checked.
Each run is simulated with its own task lengths (the timeline's seconds, in task order), rank 0's
measured costs per message (send, receive) and per result (tool_sched's second line), and the
workers' own time and the messages' delay measured on the timeline of the plain run at the same
rank count (sched_sim.worker_us, sched_sim.latency_us: waits for a core included; under the added
cost the coordinator's queueing, which the model must predict, would hide them).

The bands (chosen from 5 sets of runs on this 2-core machine while other builds ran, load 11-16;
docs/testing.md): utilisation within UTIL_BAND (absolute), makespan within MAKESPAN_BAND
(relative), messages within MSG_BAND (relative). HF_SCHED_MODEL_REPEAT=K runs the whole set K times
and only prints (how the bands were chosen; HF_SCHED_MODEL_KEEP=DIR keeps each set's runs); a case
fails only if it is out of its band in each of TRIES tries (the machine's load can stall a rank for
tens of ms at any moment, which no model of the protocol predicts; a wrong model is out every time).
With the cost per result left out of the simulator the loaded cases fail, with the chunks left out
the chunked ones (docs/testing.md)."""
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("HF_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
BUILD = os.environ.get("HF_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "bench"))
import sched_sim as sim  # noqa: E402

TOOL = os.path.join(BUILD, "tests", "mpi_tool_sched")
RANKS = [2, 4, 8, 16]
UTIL_BAND = 0.15
MAKESPAN_BAND = 0.25
MSG_BAND = 0.30
TRIES = 3
LENGTH_MS, SPREAD, PER_RANK = 30, 0.5, 8
SHORT_MS, SHORT_PER_RANK = 1.5, 100


def run(work, np_, ms, per_rank, result_ms=0.0):
    """One tool_sched run: (its first line, its cost line, its timeline rows)."""
    tl = os.path.join(work, f"t_{np_}_{ms}_{result_ms:g}.csv")
    cmd = ["mpirun", "--oversubscribe", "-np", str(np_), TOOL, "--tasks", str(np_ * per_rank), "--ms",
           str(ms), "--spread", str(SPREAD), "--chunk", "0", "--result-ms", f"{result_ms:g}", "--check",
           "--timeline", tl]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    with open(tl[:-4] + ".txt", "w") as f:
        f.write(p.stdout)
    lines = p.stdout.splitlines()
    f1, f2 = lines[0].split(), lines[1].split()
    kv = dict(zip(f1[0::2], f1[1::2]))
    ck = dict(zip(f2[1::2], f2[2::2]))
    return kv, ck, sim.read_timeline(tl)


def simulate(np_, kv, ck, rows, worker, latency):
    p = sim.Params(recv_us=float(ck["recv_us"]), send_us=float(ck["send_us"]),
                   result_us=float(ck["per_result_us"]), latency_us=latency, worker_us=worker)
    counts = {}
    if len(rows) != int(kv["tasks"]):
        sys.exit(f"FAIL: the timeline has {len(rows)} tasks, expected {kv['tasks']}")
    u, makespan, _, _ = sim.simulate(np_, [r["seconds"] for r in rows], "chunked", p, counts)
    return u, makespan, counts["sent"] + counts["received"]


def one_set(work):
    """Runs every case once; returns the list of (case, problem) that are out of their band."""
    bad = []
    print(f"{'ranks':>5} {'case':>7} {'res_ms':>6} {'util_meas':>9} {'util_sim':>8} {'wall_s':>7}"
          f" {'sim_s':>6} {'msgs':>5} {'sim':>5} {'worker_us':>9} {'lat_us':>6} {'us/result':>9}")
    for np_ in RANKS:
        cases = [("plain", LENGTH_MS, PER_RANK, 0.0), ("loaded", LENGTH_MS, PER_RANK, 45.0 / np_),
                 ("chunked", SHORT_MS, SHORT_PER_RANK, 0.0)]
        worker = latency = None
        for name, ms, per_rank, result_ms in cases:
            kv, ck, rows = run(work, np_, ms, per_rank, result_ms)
            if name != "loaded":  # the plain and chunked runs measure their own
                worker = sim.worker_us(rows)
                latency = sim.latency_us(rows, worker)
            u, makespan, msgs = simulate(np_, kv, ck, rows, worker, latency)
            um, wall, mm = float(kv["util"]), float(kv["wall"]), int(ck["messages"])
            print(f"{np_:>5} {name:>7} {result_ms:>6.2f} {um:>9.3f} {u:>8.3f} {wall:>7.3f}"
                  f" {makespan:>6.3f} {mm:>5} {msgs:>5} {worker:>9.0f} {latency:>6.0f}"
                  f" {float(ck['per_result_us']):>9.0f}", flush=True)
            key = f"{np_} ranks {name}"
            if name == "chunked":
                # At 2 ranks a run has 15-60 messages, and a core stalled for a few ms changes
                # the measured task lengths that size the chunks (16 measured against 44
                # simulated on a loaded machine, in all 3 tries): compared from 4 ranks on.
                if np_ >= 4 and abs(msgs - mm) > MSG_BAND * mm:
                    bad.append((key, f"messages measured {mm}, simulated {msgs} (band +-{MSG_BAND:.0%})"))
                continue
            if abs(u - um) > UTIL_BAND:
                bad.append((key, f"utilisation measured {um:.3f}, simulated {u:.3f} (band +-{UTIL_BAND})"))
            if abs(makespan - wall) > MAKESPAN_BAND * wall:
                bad.append((key, f"makespan measured {wall:.3f} s, simulated {makespan:.3f} s "
                                 f"(band +-{MAKESPAN_BAND:.0%})"))
    return bad


def main():
    if not os.path.exists(TOOL):
        sys.exit(f"FAIL: {TOOL} is not built")
    repeat = int(os.environ.get("HF_SCHED_MODEL_REPEAT", "0"))
    with tempfile.TemporaryDirectory(prefix="hf_sched_model.") as work:
        if repeat:
            for i in range(repeat):
                print(f"# set {i + 1} of {repeat}")
                keep = os.environ.get("HF_SCHED_MODEL_KEEP")  # a folder for each set's runs
                if keep:
                    work = os.path.join(keep, str(i))
                    os.makedirs(work, exist_ok=True)
                for key, why in one_set(work):
                    print(f"out of band: {key}: {why}")
            return 0
        failing = None
        for attempt in range(TRIES):
            bad = one_set(work)
            keys = {k for k, _ in bad}
            failing = keys if failing is None else failing & keys
            for key, why in bad:
                print(f"out of band (try {attempt + 1}): {key}: {why}")
            if not failing:
                print("ok")
                return 0
        for key in sorted(failing):
            print(f"FAIL: {key}: out of band in all {TRIES} tries")
        return 1


if __name__ == "__main__":
    sys.exit(main())
