#!/usr/bin/python3
"""Only rank 0 holds a grid sweep's trials, and a TPE study's (docs/reliability.md, item 10): with
a grid of 600,000 ridge trials at 2 ranks, and again with a TPE study of 600,000 trials (batches
of 64: rank 0 proposes them and sends each task's trial values with the task), and with the
asynchronous studies (TPE with mode async, ASHA: 600,000 configurations, each trial's values sent
with its tasks), rank 1's peak memory (VmHWM, read from outside once the sweep has
started) stays below rank 0's by at least what the expanded and decoded trials cost (at least
200 bytes a trial: the trial's values and its decoded configuration are several hundred), and the
sweep goes on: rank 1 runs tasks, the interrupted run (SIGUSR1) journals them and exits 3.
Before the change every rank expanded the whole list and the two peaks were within a few MB (the
grid: 612 MB on both; the study: every rank drew and decoded all its trials)."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("trial_memory")
data = os.path.join(hftest.SOURCE_DIR, "examples", "data")
N = 600000
binary = os.path.realpath(hftest.HYPERFOLD)
SEARCH = {
    "grid": """model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-6, 1.0e6], grid_points: %d}
search: {strategy: grid}
""" % N,
    "tpe": """model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-6, 1.0e6]}
search: {strategy: tpe, trials: %d, batch: 64, seed: 5}
""" % N,
    # Asynchronous studies: rank 0 proposes each trial as a rank frees up and holds the study.
    "tpe_async": """model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-6, 1.0e6]}
search: {strategy: tpe, mode: async, trials: %d, seed: 5}
""" % N,
    "asha": """model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-3, 10]}
    max_iter: 64
search: {strategy: asha, trials: %d, eta: 4, min_resource: 4, seed: 5}
""" % N,
}
DATA = {"asha": "breast_cancer.csv, target: diagnosis"}


def ranks(work):
    """{rank: pid} of this run's hyperfold processes (their working directory is `work`)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.path.realpath("/proc/%s/exe" % pid) != binary or \
                    os.path.realpath("/proc/%s/cwd" % pid) != os.path.realpath(work):
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            out[int(env[b"OMPI_COMM_WORLD_RANK"])] = pid
        except (OSError, KeyError, ValueError):
            continue
    return out


def hwm_kb(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def case(name):
    work = hftest.tempdir("trialmem-%s-" % name)
    hftest.write(os.path.join(work, "job.yaml"), """
name: trialmem
data: {source: %s/%s}
cv: {folds: 2, seed: 3}
%sobjective: {metric: %s}
output: {dir: out}
""" % (data, DATA.get(name, "diabetes.csv, target: target"), SEARCH[name],
       "log_loss" if name == "asha" else "r2"))
    journal = os.path.join(work, "out", "trialmem", "journal.jsonl")
    cmd = ["mpirun", "--oversubscribe", "-np", "2", hftest.HYPERFOLD, "run", "job.yaml",
           "--quiet"]
    p = subprocess.Popen(cmd, cwd=work, env=hftest.env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    peaks = None
    pids = {}
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        # The sweep has started once the journal holds a task line: both ranks are past their
        # preparation (the expansion of the trials, where there is one).
        if os.path.exists(journal) and any("task" in e for e in hftest.journal_lines(
                os.path.dirname(journal))):
            pids = ranks(work)
            if len(pids) == 2:
                peaks = {r: hwm_kb(pid) for r, pid in pids.items()}
            break
        time.sleep(0.2)
    if p.poll() is None and len(pids) == 2:
        for pid in pids.values():  # as Slurm's warning: every rank stops, journaled, exit 3
            os.kill(int(pid), signal.SIGUSR1)
    elif p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    ck.check(peaks is not None,
             "%s: both ranks seen while the sweep ran (stderr: %s)" % (name, err[-2000:]))
    if peaks:
        r0, r1 = peaks[0], peaks[1]
        print("%s: VmHWM: rank 0 %d kB, rank 1 %d kB, difference %d kB for %d trials "
              "(%.0f bytes a trial)" % (name, r0, r1, r0 - r1, N, (r0 - r1) * 1024.0 / N))
        ck.check(r0 - r1 >= N * 200 // 1024,
                 "%s: rank 1's peak (%d kB) is below rank 0's (%d kB) by at least the trials' "
                 "%d kB" % (name, r1, r0, N * 200 // 1024))
    ck.check(p.returncode == 3, "%s: the interrupted run exits 3 (got %s)" % (name, p.returncode))
    lines = hftest.journal_lines(os.path.dirname(journal)) if os.path.exists(journal) else []
    ck.check(any(r.get("worker") == 1 for r in lines), "%s: rank 1 ran journaled tasks" % name)


for name in sys.argv[1:] or ("grid", "tpe", "tpe_async", "asha"):
    case(name)
ck.done()
