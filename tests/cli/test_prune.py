#!/usr/bin/python3
"""search.pruner: wilcoxon in a TPE study with repeated cross-validation (3 x 5 folds): every
decision is re-derived with scipy from results.json (at each stage boundary, 4, 7, 10 and 13
splits, a trial stops when scipy's one-sided Wilcoxon test against the best earlier finished
trial on the same splits gives p < 0.1 and its mean is worse), a pruned trial ran exactly the
splits up to its boundary, is never selected and ranks after the finished ones; the study is the
same at 1, 2 and 4 ranks and fewer tasks run than without pruning; a study stopped by SIGTERM and
run again equals the uninterrupted one; the pruner is refused with another strategy and with
mode async."""
import os
import signal
import sys
import warnings

import numpy as np
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("prune")
work = hftest.tempdir("prune-")
hftest.interaction_table(os.path.join(work, "data.csv"), 21, n=300)
SPEC = """name: study
data: {source: %s/data.csv, target: y}
cv: {strategy: stratified, folds: 5, repeats: 3, seed: 4}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-4, 100]}
    fit_intercept: [true, false]
search: {strategy: %s, trials: 24, seed: 3%s}
objective: {metric: roc_auc}
output: {dir: out}
""" % (work, "%s", "%s")


def setup(name, strategy="tpe", extra=", batch: 4, pruner: wilcoxon"):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), SPEC % (strategy, extra))
    return d


def results(d):
    return hftest.load_results(os.path.join(d, "out", "study"))


got = []
for np_ in (1, 2, 4):
    d = setup("np%d" % np_)
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)
    got.append(results(d))
r = got[0]
ck.check(hftest.same_trials(r, got[1]) and hftest.same_trials(r, got[2]),
         "the same pruned study at 1, 2 and 4 ranks")
trials = r["trials"]
scores = [t["fold_scores"]["roc_auc"] for t in trials]
ran = [sum(s is not None for s in f) for f in scores]
status = [t["status"] for t in trials]
ck.check(status.count("pruned") > 0 and status.count("ok") + status.count("pruned") == 24,
         "%d of 24 trials pruned, the others finished" % status.count("pruned"))

# Re-derive every decision.
warnings.simplefilter("ignore")
bounds, batch = [4, 7, 10, 13], 4
pruned = [False] * 24
ran_want = [15] * 24
for lo in range(0, 24, batch):
    done = [t for t in range(lo) if not pruned[t]]
    best = max(done, key=lambda t: (np.mean(scores[t]), -t)) if done else None
    for s in bounds:
        for t in range(lo, lo + batch):
            if pruned[t] or best is None:
                continue
            a, b = np.array(scores[t][:s]), np.array(scores[best][:s])
            p = stats.wilcoxon(a - b, alternative="less", zero_method="zsplit").pvalue
            if p < 0.1 and a.mean() < b.mean():
                pruned[t] = True
                ran_want[t] = s
ck.check(pruned == [s == "pruned" for s in status],
         "every pruning decision is scipy's rule (%s)" % "".join(
             "P" if x else "." for x in pruned))
ck.check(ran == ran_want, "each pruned trial ran exactly the splits up to its boundary")
ok = [t for t in range(24) if status[t] == "ok"]
ck.check(r["best"]["trial"] == max(ok, key=lambda t: (np.mean(scores[t]), -t)),
         "the best is the best finished trial")
ck.check(all(trials[t]["rank"] > max(trials[u]["rank"] for u in ok) for t in range(24)
             if status[t] == "pruned"), "pruned trials rank after the finished ones")
fits = sum(len(e["trials"]) for e in hftest.journal_lines(os.path.join(work, "np1", "out", "study")))
ck.check(fits == sum(ran) < 24 * 15, "%d (trial, split) fits ran, against %d without pruning" % (
    fits, 24 * 15))

# SIGTERM then resume.
d = setup("sigterm")
proc = hftest.start_run(d, 25)
ck.check(hftest.wait_for_tasks(os.path.join(d, "out", "study"), 120, proc),
         "sigterm: tasks finished before the signal")
proc.send_signal(signal.SIGTERM)
proc.communicate(timeout=120)
ck.check(proc.returncode != 0, "sigterm: interrupted (rc %d)" % proc.returncode)
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
ck.check("resuming" in p.stderr, "sigterm: the rerun resumes")
ck.check(hftest.comparable(results(d)) == hftest.comparable(r),
         "sigterm: the resumed study equals the uninterrupted one")

# Refusals.
for strategy, extra, want in [
        ("hyperband", ", pruner: wilcoxon",
         "search.pruner: given with search.strategy hyperband, expected grid, random or tpe"),
        ("tpe", ", mode: async, pruner: wilcoxon",
         "search.pruner: got wilcoxon with search.mode async, expected mode batch")]:
    d = setup("refuse-%d" % len(os.listdir(work)), strategy, extra)
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 2 and want in p.stderr, "refused (rc %d): %s" % (
        p.returncode, p.stderr.strip()))
ck.done()
