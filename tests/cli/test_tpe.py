#!/usr/bin/python3
"""search.strategy tpe end to end: the batch-synchronous study is identical at 1, 2 and 4 ranks
(both modes, a batch size that does not divide the trials); its first n_startup_trials trials are
random search's draws; past them the proposals concentrate where the losses are low; every
proposal stays in its distribution (bounds, integers, choices); a study killed mid-way (SIGTERM to
mpirun, kill -9 of a rank) and run again equals the uninterrupted one; search.early_stop and
search.max_time end the study at a batch boundary with a prefix of the full study; a warm start
from an earlier study proposes with TPE from its first trial, at any number of ranks, and refuses a
run of another model, a missing run and a run none of whose trials fit; a journal of other TPE
settings is refused; validate refuses TPE settings with another strategy and out-of-range values."""
import hashlib
import json
import os
import re
import shutil
import signal
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("tpe")
work = hftest.tempdir("tpe-")
rng = np.random.default_rng(11)
n, p = 300, 4
X = rng.normal(size=(n, p))
y = np.sin(1.5 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["y"] = y
df.to_csv(os.path.join(work, "data.csv"), index=False, float_format="%.17g")

SPEC = """name: study
data: {source: %(work)s/data.csv, target: y, task: regression}
cv: {strategy: kfold, folds: 4, seed: 2}
preprocess: {scale: standard}
model:
  type: kernel_ridge
  params:
    kernel: [rbf, polynomial, linear]
    alpha: {log_uniform: [1.0e-4, 10]}
    gamma: {log_uniform: [1.0e-3, 2]}
    degree: {int_uniform: [2, 4]}
    coef0: {uniform: [0, 2]}
search: {strategy: %(strategy)s, trials: %(trials)d, seed: 9%(extra)s}
objective: {metric: rmse}
output: {dir: out}
"""


def setup(name, strategy="tpe", trials=36, extra=", batch: 5"):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"),
                 SPEC % {"work": work, "strategy": strategy, "trials": trials, "extra": extra})
    return d


def results(d):
    return hftest.load_results(os.path.join(d, "out", "study"))


def run(d, np_):
    return hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)


# Rank independence, both modes.
for mode, extra in [("multivariate", ", batch: 5"), ("independent", ", batch: 5, multivariate: false")]:
    got = []
    for np_ in (1, 2, 4):
        d = setup("%s-np%d" % (mode, np_), extra=extra)
        run(d, np_)
        got.append(results(d))
    ck.check(hftest.same_trials(got[0], got[1]) and hftest.same_trials(got[0], got[2]),
             "%s: the same study at 1, 2 and 4 ranks" % mode)
    ck.check(got[0]["best"]["params"] == got[2]["best"]["params"], "%s: the same best" % mode)
    if mode == "multivariate":
        mv = got[0]
    else:
        ind = got[0]
ck.check([t["params"] for t in mv["trials"][10:]] != [t["params"] for t in ind["trials"][10:]],
         "multivariate and independent proposals differ")

# Every proposal lies in its distribution.
for r in (mv, ind):
    for t in r["trials"]:
        q = t["params"]
        ok = (q["kernel"] in ("rbf", "polynomial", "linear") and 1e-4 <= q["alpha"] <= 10 and
              1e-3 <= q["gamma"] <= 2 and q["degree"] in (2, 3, 4) and
              isinstance(q["degree"], int) and 0 <= q["coef0"] <= 2)
        if not ck.check(ok, "trial %d within its distributions: %s" % (t["trial"], q)):
            break

# The startup trials are random search's draws (same seed); the later ones concentrate.
d = setup("random", strategy="random", trials=10, extra="")
run(d, 2)
rnd = results(d)
ck.check([t["params"] for t in rnd["trials"]] == [t["params"] for t in mv["trials"][:10]],
         "the 10 startup trials are random search's first 10")
for name, r in (("multivariate", mv), ("independent", ind)):
    score = [t["mean"]["rmse"] for t in r["trials"]]
    ck.check(np.median(score[10:]) < np.median(score[:10]),
             "%s: proposals beat the random startup (median rmse %.4f vs %.4f)" % (
                 name, np.median(score[10:]), np.median(score[:10])))

# Budgets: early_stop ends the study at the first batch boundary where that many trials passed
# without an improvement (a prefix of the full study); max_time likewise, on the clock.
loss = [t["mean"]["rmse"] for t in mv["trials"]]  # rmse: lower is better, the loss itself
for patience in (3, 6):
    expect = None
    for lo in range(0, 36, 5):
        best, last = float("inf"), 0
        for i in range(lo):
            if loss[i] < best:
                best, last = loss[i], i + 1
        if lo - last >= patience:
            expect = lo
            break
    d = setup("early-stop-%d" % patience, extra=", batch: 5, early_stop: %d" % patience)
    run(d, 2)
    r = results(d)
    n_run = expect if expect is not None else 36
    ck.check(r["n_trials"] == n_run and r.get("search_stopped") == ("early_stop" if expect else None),
             "early_stop %d: %s trials, stopped %s (expected %d)" % (
                 patience, r["n_trials"], r.get("search_stopped"), n_run))
    ck.check([t["params"] for t in r["trials"]] == [t["params"] for t in mv["trials"][:n_run]],
             "early_stop %d: the trials are the full study's first %d" % (patience, n_run))
d = setup("max-time", extra=", batch: 5, max_time: 0.01s")
run(d, 2)
r = results(d)
ck.check(r.get("search_stopped") == "max_time" and 5 <= r["n_trials"] < 36 and
         r["n_trials"] % 5 == 0 and [t["params"] for t in r["trials"]] ==
         [t["params"] for t in mv["trials"][:r["n_trials"]]],
         "max_time: a prefix of whole batches (%s trials, %s)" % (r["n_trials"],
                                                                 r.get("search_stopped")))
ck.check(r["best"]["trial"] < r["n_trials"] and os.path.exists(os.path.join(d, "out", "study",
                                                                             "model.h5")),
         "max_time: the best of the trials run is refitted and exported")

# Warm start: a study seeded with the multivariate study's 36 trials proposes with TPE from its
# first trial (36 >= 10 finished), the same at 1 and 2 ranks, and better than a cold start.
mv_dir = os.path.join(work, "multivariate-np1", "out", "study")
warm = []
for np_ in (1, 2):
    d = setup("warm-np%d" % np_, trials=8, extra=", batch: 4, warm_start: %s" % mv_dir)
    p = hftest.hyperfold(["run", "job.yaml"], np=np_, cwd=d)
    warm.append(results(d))
ck.check("warm start from %s: 36 finished trial(s)" % mv_dir in p.stderr,
         "warm start says what it took: %s" % p.stderr.strip()[:300])
ck.check(hftest.same_trials(warm[0], warm[1]), "warm start: the same study at 1 and 2 ranks")
cold = setup("cold", trials=8, extra=", batch: 4")
run(cold, 2)
cold = results(cold)
ck.check(warm[0]["trials"][0]["params"] != cold["trials"][0]["params"],
         "warm start: trial 0 is a TPE proposal, not the random draw")
ck.check(np.median([t["mean"]["rmse"] for t in warm[0]["trials"]]) <
         np.median([t["mean"]["rmse"] for t in cold["trials"]]),
         "warm start: its trials score better than a cold start's")
# The earlier run's content is part of the study's identity: rewritten, its journal is refused.
wd = os.path.join(work, "warm-np1")
r0 = hftest.load_results(mv_dir)
hftest.write(os.path.join(work, "rewritten.json"), json.dumps(r0))
spec = open(os.path.join(wd, "job.yaml")).read().replace(mv_dir, os.path.join(work, "rewritten.json"))
hftest.write(os.path.join(wd, "job.yaml"), spec)
hftest.hyperfold(["run", "job.yaml", "--quiet", "--fresh"], np=1, cwd=wd)
r0["trials"][0]["mean"]["rmse"] += 1.0
hftest.write(os.path.join(work, "rewritten.json"), json.dumps(r0))
p = hftest.hyperfold(["run", "job.yaml"], np=1, cwd=wd, check=False)
ck.check(p.returncode == 2 and "different job spec" in p.stderr,
         "warm start: a journal made from another content of the earlier run is refused (rc %d)"
         % p.returncode)

# Refusals: another model's run, a missing run, a run none of whose trials fit.
other = os.path.join(work, "other-model.json")
r = hftest.load_results(mv_dir)
r["model"] = "ridge"
hftest.write(other, json.dumps(r))
for src, want in [(other, "is a run of ridge scored by rmse, expected a run of kernel_ridge"),
                  (os.path.join(work, "nowhere"), "nowhere"),
                  (mv_dir, "no finished trial")]:
    d = setup("warm-bad-%d" % len(os.listdir(work)), trials=8,
              extra=", batch: 4, warm_start: %s" % src)
    if src == mv_dir and want == "no finished trial":  # a space none of the trials lie in
        spec = open(os.path.join(d, "job.yaml")).read().replace(
            "alpha: {log_uniform: [1.0e-4, 10]}", "alpha: {log_uniform: [20, 30]}")
        hftest.write(os.path.join(d, "job.yaml"), spec)
    p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d, check=False)
    ck.check(p.returncode != 0 and want in p.stderr and "search.warm_start" in p.stderr,
             "warm start from %s refused (rc %d): %s" % (src, p.returncode, p.stderr.strip()[-300:]))

# Kill mid-study, then resume: the same study.
expected = hftest.comparable(mv)


def journal_tasks(d):
    return hftest.journal_tasks(os.path.join(d, "out", "study"))


def wait_for_tasks(d, k, proc):
    return hftest.wait_for_tasks(os.path.join(d, "out", "study"), k, proc)


start = hftest.start_run


def journaled_batches(d):
    """How many batches' proposals the journal of run d holds."""
    return sum("batch_def" in e for e in hftest.journal_lines(os.path.join(d, "out", "study")))


def edit_journal(d, f):
    """Rewrites run d's journal: each record through f (None drops it), checksums recomputed."""
    path = os.path.join(d, "out", "study", "journal.jsonl")
    head = open(path).read().split("\n", 1)[0]
    out = [head]
    for e in hftest.journal_lines(os.path.dirname(path)):
        e = f(e)
        if e is not None:
            body = json.dumps(e, separators=(",", ":"))
            out.append(body + "\t" + hashlib.sha256(body.encode()).hexdigest()[:16])
    hftest.write(path, "\n".join(out) + "\n")


for how in ("sigterm", "kill9"):
    d = setup(how)
    proc = start(d, 30)
    # past the startup batches (10 trials x 4 folds = 40 tasks): the journal holds TPE batches
    ck.check(wait_for_tasks(d, 70, proc), "%s: tasks of TPE batches finished first" % how)
    ck.check(hftest.interrupt(proc, d, how), "%s: the run was interrupted" % how)
    before = len(journal_tasks(d))
    ck.check(proc.returncode != 0 and 40 < before < 144,
             "%s: interrupted (rc %d) with a partial journal (%d of 144)" % (how, proc.returncode,
                                                                             before))
    if how == "sigterm":  # two copies of the interrupted run for the checks below
        for tail in ("old", "edit"):
            shutil.copytree(d, d + "-" + tail, ignore=shutil.ignore_patterns(".lock"))
    nb = journaled_batches(d)
    p2 = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
    ck.check("resuming" in p2.stderr, "%s: the rerun resumes" % how)
    ck.check(nb >= 3 and "the proposals of %d of 8 batch(es) read from the journal" % nb in p2.stderr, "%s: the journaled batches are read, not proposed again: %s" % (
                 how, p2.stderr.strip()[-300:]))
    tasks = journal_tasks(d)
    ck.check(len(tasks) == 144 and len(set(tasks)) == 144,
             "%s: the journal holds every task once (%d)" % (how, len(tasks)))
    ck.check(hftest.comparable(results(d)) == expected,
             "%s: the resumed study equals the uninterrupted one" % how)

# A journal of the previous format (no proposal lines) still resumes, proposing its batches again
# as the uninterrupted study did, and journals them now.
d = os.path.join(work, "sigterm-old")
edit_journal(d, lambda e: None if "batch_def" in e else e)
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
ck.check("resuming" in p.stderr and "read from the journal" not in p.stderr and
         hftest.comparable(results(d)) == expected,
         "a journal without proposals resumes and equals the uninterrupted study")
ck.check([e["batch_def"] for e in hftest.journal_lines(os.path.join(d, "out", "study"))
          if "batch_def" in e] == list(range(8)), "the re-proposed batches are journaled")

# The proof that a resumed study reads its proposals: one TPE proposal of the last journaled
# batch is changed (inside its distribution; the line's checksum recomputed as the reader checks
# it) and its tasks' lines dropped. The resumed study runs the edited value: trials.csv and
# results.json show it, its scores are those of that value, and the study goes on from there.
d = os.path.join(work, "sigterm-edit")
lines = hftest.journal_lines(os.path.join(d, "out", "study"))
last = [e for e in lines if "batch_def" in e][-1]
edited = last["first"]
ck.check(edited >= 10, "the last journaled batch is TPE's (trial %d)" % edited)
ALPHA = 0.3125


def edit(e):
    if e.get("batch_def") == last["batch_def"]:
        e["params"][0]["alpha"] = ALPHA
    if "task" in e and any(t["trial"] >= edited for t in e["trials"]):
        return None  # run again, with the edited value
    return e


edit_journal(d, edit)
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
r = results(d)
csv = pd.read_csv(os.path.join(d, "out", "study", "trials.csv"), float_precision="round_trip")
row = csv[csv["trial"] == edited]
ck.check(r["trials"][edited]["params"]["alpha"] == ALPHA and len(row) == 1 and
         float(row["alpha"].iloc[0]) == ALPHA and
         mv["trials"][edited]["params"]["alpha"] != ALPHA,
         "the edited proposal is run (trial %d alpha %r, trials.csv %r)" % (
             edited, r["trials"][edited]["params"]["alpha"], list(row["alpha"])))
# The same values in a grid of one trial score the same on every fold: the tasks ran the edit.
one = setup("edited-alone", strategy="grid", extra="")
pv = r["trials"][edited]["params"]
grid = SPEC.replace("    kernel: [rbf, polynomial, linear]\n", "    kernel: %s\n" % pv["kernel"])
for k in ("alpha", "gamma", "degree", "coef0"):
    grid = re.sub(r"(    %s: ).*" % k, lambda m: m.group(1) + repr(pv[k]), grid)
hftest.write(os.path.join(one, "job.yaml"), grid % {"work": work, "strategy": "grid", "trials": 1,
                                                    "extra": ""})
run(one, 1)
ck.check(results(one)["trials"][0]["fold_scores"] == r["trials"][edited]["fold_scores"],
         "the edited trial's scores are those of its edited values")

# A journal of other TPE settings is not resumed.
d = setup("other", extra=", batch: 5")
proc = start(d, 30)
wait_for_tasks(d, 20, proc)
proc.send_signal(signal.SIGTERM)
proc.communicate(timeout=120)
hftest.write(os.path.join(d, "job.yaml"),
             SPEC % {"work": work, "strategy": "tpe", "trials": 36, "extra": ", batch: 6"})
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d, check=False)
ck.check(p.returncode != 0 and "journal" in p.stderr,
         "a journal of batch 5 is refused for batch 6 (rc %d): %s" % (p.returncode,
                                                                     p.stderr.strip()[-200:]))

# parallel.memory_per_rank: a study whose kernel matrices (225 x 225 training rows) do not fit
# 100 KiB is refused before anything runs, as a grid would be.
d = setup("memory", extra=", batch: 5")
hftest.write(os.path.join(d, "job.yaml"), open(os.path.join(d, "job.yaml")).read() +
             "parallel: {memory_per_rank: 100KiB}\n")
p = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
ck.check(p.returncode == 2 and "parallel.memory_per_rank" in p.stderr and
         not os.path.exists(os.path.join(d, "out", "study", "journal.jsonl")),
         "a study that does not fit memory_per_rank is refused before it starts (rc %d): %s" % (
             p.returncode, p.stderr.strip()[-300:]))

# validate's refusals.
# (max_time, early_stop and batch with a budget are random search's too: cli.budgets.)
for extra, key in [(", multivariate: true", "search.multivariate"),
                   (", n_startup_trials: 3", "search.n_startup_trials"),
                   (", warm_start: out", "search.warm_start")]:
    d = setup("refuse-%d" % len(os.listdir(work)), strategy="random", extra=extra)
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 2 and key in p.stderr and "tpe" in p.stderr and "job.yaml:" in p.stderr,
             "%s with random search refused (rc %d): %s" % (key, p.returncode, p.stderr.strip()))
for extra, key in [(", batch: 0", "search.batch"), (", n_ei_candidates: 0", "search.n_ei_candidates"),
                   (", n_startup_trials: -1", "search.n_startup_trials"),
                   (", max_time: 0", "search.max_time"), (", max_time: 5d", "search.max_time"),
                   (", early_stop: 0", "search.early_stop"),
                   (", early_stop_threshold: -1", "search.early_stop_threshold")]:
    d = setup("refuse-%d" % len(os.listdir(work)), extra=extra)
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 2 and key in p.stderr, "%s out of range refused (rc %d): %s" % (
        extra, p.returncode, p.stderr.strip()))
ck.done()
