#!/usr/bin/python3
"""Never lose work (outside Slurm): SIGTERM to mpirun mid-sweep then rerun, kill -9 of a worker rank
then rerun — both finish with the results.json of an uninterrupted run and no task twice in the
journal; a journal of another spec is refused; failing tasks are recorded and the sweep completes;
retrain promotes a better model and keeps the current one when the new one is worse."""
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("resume")
work = hftest.tempdir("resume-")
rng = np.random.default_rng(7)
n, p = 1500, 10
X = rng.normal(size=(n, p))
y = (X @ rng.normal(size=p) + rng.normal(scale=1.5, size=n) > 0).astype(int)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["label"] = np.where(y == 1, "yes", "no")
df.to_csv(os.path.join(work, "data.csv"), index=False)
SPEC = """name: sweep
data: {source: %s/data.csv, target: label}
cv: {folds: 4, seed: 1}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-3, 1.0e2]}
    # trials that differ in more than C are separate tasks (C alone would share one fit call)
    tol: {log_uniform: [1.0e-5, 1.0e-3]}
search: {strategy: random, trials: %d, seed: %d}
objective: {metric: log_loss, report: [accuracy]}
output: {dir: out}
"""


def setup(name, trials=40, seed=3):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), SPEC % (work, trials, seed))
    return d


def journal_tasks(d):
    return hftest.journal_tasks(os.path.join(d, "out", "sweep"))


def wait_for_tasks(d, k, proc):
    return hftest.wait_for_tasks(os.path.join(d, "out", "sweep"), k, proc)


def start(d, delay_ms):
    return hftest.start_run(d, delay_ms)


base = setup("baseline")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=base)
expected = hftest.comparable(hftest.load_results(os.path.join(base, "out", "sweep")))
tasks = journal_tasks(base)
n_tasks = len(tasks)
ck.check(n_tasks >= 40 and len(set(tasks)) == n_tasks, "baseline journal has every task once (%d)" % n_tasks)

# SIGTERM to mpirun in the middle, then rerun.
d = setup("sigterm")
proc = start(d, 40)
ck.check(wait_for_tasks(d, 10, proc), "sigterm: some tasks finished before the signal")
proc.send_signal(signal.SIGTERM)
out, err = proc.communicate(timeout=120)
done_before = len(journal_tasks(d))
ck.check(proc.returncode != 0, "sigterm: interrupted run exits non-zero (%d)" % proc.returncode)
ck.check(0 < done_before < n_tasks, "sigterm: partial journal (%d of %d)" % (done_before, n_tasks))
p2 = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
ck.check("resuming" in p2.stderr, "sigterm: rerun says it resumes")
tasks = journal_tasks(d)
ck.check(len(tasks) == n_tasks and len(set(tasks)) == n_tasks, "sigterm: journal holds every task exactly once")
r = hftest.load_results(os.path.join(d, "out", "sweep"))
ck.check(r["timing"]["resumed_tasks"] == done_before, "sigterm: resumed %s tasks, journal had %d" % (r["timing"]["resumed_tasks"], done_before))
ck.check(hftest.comparable(r) == expected, "sigterm: results equal the uninterrupted run")

# SIGUSR1 (the Slurm time-limit warning) goes to every rank: exit code 3.
d = setup("sigusr1")
proc = start(d, 40)
ck.check(wait_for_tasks(d, 10, proc), "sigusr1: some tasks finished before the signal")
subprocess.run(["pkill", "-USR1", "-f", "hyperfold run job.yaml"], check=False)
proc.communicate(timeout=120)
ck.check(proc.returncode == 3, "sigusr1: exit code 3 (got %d)" % proc.returncode)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
tasks = journal_tasks(d)
ck.check(len(tasks) == n_tasks and len(set(tasks)) == n_tasks, "sigusr1: journal holds every task exactly once")
ck.check(hftest.comparable(hftest.load_results(os.path.join(d, "out", "sweep"))) == expected,
         "sigusr1: results equal the uninterrupted run")

# kill -9 of the worker rank, then rerun.
d = setup("kill9")
proc = start(d, 40)
ck.check(wait_for_tasks(d, 10, proc), "kill9: some tasks finished before the kill")
victim = hftest.rank_pid(d, 1)
ck.check(victim is not None, "kill9: found the rank-1 process")
if victim:
    os.kill(victim, signal.SIGKILL)
proc.communicate(timeout=120)
ck.check(proc.returncode != 0, "kill9: the MPI job ended with an error (%d)" % proc.returncode)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
tasks = journal_tasks(d)
ck.check(len(tasks) == n_tasks and len(set(tasks)) == n_tasks, "kill9: journal holds every task exactly once")
ck.check(hftest.comparable(hftest.load_results(os.path.join(d, "out", "sweep"))) == expected,
         "kill9: results equal the uninterrupted run")

# Settings that do not change the sweep (slurm, parallel, comments) keep the journal: nothing reruns.
hftest.write(os.path.join(d, "job.yaml"), SPEC % (work, 40, 3) + "# a comment\nslurm: {time: '01:00:00'}\n")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
r = hftest.load_results(os.path.join(d, "out", "sweep"))
ck.check(r["timing"]["resumed_tasks"] == n_tasks, "a slurm section does not invalidate the journal (%s resumed)" % r["timing"]["resumed_tasks"])
tasks = journal_tasks(d)
ck.check(len(tasks) == n_tasks and len(set(tasks)) == n_tasks, "still every task exactly once")

# A journal of another spec is refused, clearly, and left untouched.
hftest.write(os.path.join(d, "job.yaml"), SPEC % (work, 40, 4))
before = open(os.path.join(d, "out", "sweep", "journal.jsonl")).read()
p3 = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
ck.check(p3.returncode == 2, "other spec: exit 2 (got %d)" % p3.returncode)
ck.check("different job spec" in p3.stderr, "other spec: message says so: %s" % p3.stderr.strip())
ck.check(open(os.path.join(d, "out", "sweep", "journal.jsonl")).read() == before, "other spec: journal untouched")

# Failing trials are recorded with their reason; the sweep completes.
d = setup("failures", trials=12)
e = hftest.env()
e["HF_TEST_FAIL_TRIALS"] = "2,5"
pf = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", hftest.HYPERFOLD, "run", "job.yaml"],
                    cwd=d, env=e, capture_output=True, text=True, timeout=300)
ck.check(pf.returncode == 0, "failures: sweep completes (%d: %s)" % (pf.returncode, pf.stderr[-500:]))
r = hftest.load_results(os.path.join(d, "out", "sweep"))
ck.check(r["n_failed_trials"] == 2, "failures: 2 failed trials counted (%s)" % r.get("n_failed_trials"))
st = {t["trial"]: t for t in r["trials"]}
for t in (2, 5):
    ck.check(st[t]["status"] == "failed" and "injected failure" in st[t].get("error", ""),
             "failures: trial %d recorded as failed with its reason" % t)
ck.check(r["best"]["trial"] not in (2, 5), "failures: best trial is not a failed one")
trials_csv = pd.read_csv(os.path.join(d, "out", "sweep", "trials.csv"))
ck.check((trials_csv["status"] == "failed").sum() == 2, "failures: trials.csv marks them")

# Retrain: promote a better model, keep the current one when the new one is worse.
rd = os.path.join(work, "retrain")
os.makedirs(rd)
pr = 8
w_old, w_new = rng.normal(size=pr), rng.normal(size=pr)
def reg_csv(path, w, rows, noise, seed):
    g = np.random.default_rng(seed)
    Xr = g.normal(size=(rows, pr))
    frame = pd.DataFrame(Xr, columns=["f%d" % i for i in range(pr)])
    frame["y"] = Xr @ w + g.normal(scale=noise, size=rows)
    frame.to_csv(path, index=False)
reg_csv(os.path.join(rd, "v1.csv"), w_old, 1000, 0.5, 1)
reg_csv(os.path.join(rd, "v2.csv"), w_new, 1000, 0.5, 2)   # drift: the old model is now wrong
reg_csv(os.path.join(rd, "v3.csv"), w_new, 25, 3.0, 3)     # too few, noisy rows: a worse refit
hftest.write(os.path.join(rd, "job.yaml"), """name: rt
data: {source: v1.csv, target: y}
cv: {folds: 3}
model:
  type: ridge
  params:
    alpha: [0.0001, 0.01]
objective: {metric: r2}
output: {dir: out}
""")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=rd)
run_dir = os.path.join(rd, "out", "rt")
m1 = open(os.path.join(run_dir, "model.h5"), "rb").read()
hftest.hyperfold(["retrain", run_dir, "--data", "v2.csv", "--quiet"], np=2, cwd=rd)
r = hftest.load_results(run_dir)
ck.check(r.get("retrain", {}).get("promoted") is True, "retrain on drifted data promotes: %s" % r.get("retrain"))
ck.check(r["retrain"]["new_score"] > r["retrain"]["previous_score"], "retrain: new score is better")
m2 = open(os.path.join(run_dir, "model.h5"), "rb").read()
ck.check(m2 != m1 and open(os.path.join(run_dir, "model.previous.h5"), "rb").read() == m1,
         "retrain: model.h5 replaced, previous kept")
hftest.hyperfold(["retrain", run_dir, "--data", "v3.csv", "--quiet"], np=2, cwd=rd)
r = hftest.load_results(run_dir)
ck.check(r["retrain"]["promoted"] is False, "retrain on worse data keeps the model: %s" % r["retrain"])
ck.check(open(os.path.join(run_dir, "model.h5"), "rb").read() == m2, "retrain: model.h5 unchanged")
with open(os.path.join(run_dir, "retrain.jsonl")) as f:
    ck.check(len(f.read().splitlines()) == 2, "retrain.jsonl records both decisions")
ck.done()
