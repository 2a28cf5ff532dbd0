#!/usr/bin/python3
"""search.pruner: wilcoxon in a TPE study with repeated cross-validation (3 x 5 folds): every
decision is re-derived with scipy from results.json (at each stage boundary, 4, 7, 10 and 13
splits, a trial stops when scipy's one-sided Wilcoxon test against the best earlier finished
trial on the same splits gives p < 0.1 and its mean is worse), a pruned trial ran exactly the
splits up to its boundary, is never selected and ranks after the finished ones; the study is the
same at 1, 2 and 4 ranks and fewer tasks run than without pruning; a study stopped by SIGTERM and
run again equals the uninterrupted one; with mode async (1 and 2 ranks, and a study stopped by
SIGTERM and resumed) every pruning is re-derived from the journal in its order; the pruner is
refused with another strategy."""
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
fits = sum(len(e["trials"]) for e in hftest.journal_lines(os.path.join(work, "np1", "out", "study"))
           if "trials" in e)
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


# Mode async: rank 0 prunes as results arrive, so the decisions depend on their order. Each one
# is re-derived from the journal, in its order: at each {"trial_pruned": t} line, the best trial
# finished by then (all its splits in, not pruned; highest mean, the first of equals) must be the
# line's, and t's splits in so far (exactly its splits in results.json: results of its tasks that
# were running when it was pruned are ignored) must be worse than the best's same splits by
# scipy's test (p < 0.1) and mean.
ASYNC = ", mode: async, pruner: wilcoxon"


def check_async(d, label):
    run = os.path.join(d, "out", "study")
    ra = results(d)
    tr = ra["trials"]
    sc = [t["fold_scores"]["roc_auc"] for t in tr]
    st = [t["status"] for t in tr]
    n = len(tr)
    seen = [dict() for _ in range(n)]  # trial -> {split: score} as the journal reached them
    gone, bad, lines = set(), [], 0
    for e in hftest.journal_lines(run):
        if "trial_pruned" in e:
            lines += 1
            t = e["trial_pruned"]
            fin = [u for u in range(n) if u not in gone and len(seen[u]) == NS]
            mean = {u: np.mean([seen[u][f] for f in range(NS)]) for u in fin}
            # one of the highest means (equal within rounding: hyperfold takes the first of
            # equals, but two trials of the same values may differ in the last bit)
            top = max(mean.values()) if fin else None
            near = [u for u in fin if mean[u] >= top - 1e-12]
            best = e["best"] if e["best"] in near else None
            splits = sorted(seen[t])
            a = np.array([seen[t][f] for f in splits])
            b = np.array([seen[best][f] for f in splits]) if best is not None else a
            p = stats.wilcoxon(a - b, alternative="less", zero_method="zsplit").pvalue \
                if best is not None else 1.0
            ran_t = [f for f in range(NS) if sc[t][f] is not None]
            if not (best is not None and len(splits) == e["splits"] >= 2 and p < 0.1
                    and a.mean() < b.mean() and ran_t == splits and st[t] == "pruned"):
                bad.append((t, best, e, p))
            gone.add(t)
        elif "task" in e and "trials" in e:
            for x in e["trials"]:
                seen[x["trial"]][e["split"]] = x["scores"]["roc_auc"]
    ck.check(not bad and lines == st.count("pruned") > 0,
             "%s: %d of %d trials pruned, each provably worse than the best finished before it "
             "by scipy (%s)" % (label, st.count("pruned"), n, bad[:2]))
    ok = [t for t in range(n) if st[t] == "ok"]
    bt = ra["best"]["trial"]
    ck.check(bt == max(ok, key=lambda t: (np.mean(sc[t]), -t)) and st.count("ok") + st.count(
        "pruned") == n, "%s: the best is the best finished trial, never a pruned one" % label)
    beat = [t for t in range(n) if st[t] == "pruned" and np.mean(
        [sc[t][f] for f in range(NS) if sc[t][f] is not None]) > np.mean(
        [sc[bt][f] for f in range(NS) if sc[t][f] is not None])]
    ck.check(not beat, "%s: no pruned trial beat the eventual best on its splits (%s)" % (
        label, beat))
    fits = sum(len(e["trials"]) for e in hftest.journal_lines(run) if "trials" in e)
    ck.check(fits == sum(x is not None for f in sc for x in f) < n * NS,
             "%s: %d (trial, split) fits journaled, against %d without pruning" % (
                 label, fits, n * NS))
    return ra


NS = 15
for np_ in (1, 2):
    d = setup("async%d" % np_, extra=ASYNC)
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)
    check_async(d, "async, %d rank(s)" % np_)

# Async: SIGTERM then resume; the resumed study goes on from the journal's decisions.
d = setup("async-sigterm", extra=ASYNC)
proc = hftest.start_run(d, 25)
ck.check(hftest.wait_for_tasks(os.path.join(d, "out", "study"), 120, proc),
         "async sigterm: tasks finished before the signal")
proc.send_signal(signal.SIGTERM)
proc.communicate(timeout=120)
ck.check(proc.returncode != 0, "async sigterm: interrupted (rc %d)" % proc.returncode)
pruned_before = sum("trial_pruned" in e for e in hftest.journal_lines(
    os.path.join(d, "out", "study")))
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
ck.check("resuming" in p.stderr and pruned_before > 0,
         "async sigterm: the rerun resumes with %d trials pruned before the signal" % pruned_before)
check_async(d, "async resumed")

# Refusals.
for strategy, extra, want in [
        ("hyperband", ", pruner: wilcoxon",
         "search.pruner: given with search.strategy hyperband, expected grid, random or tpe")]:
    d = setup("refuse-%d" % len(os.listdir(work)), strategy, extra)
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 2 and want in p.stderr, "refused (rc %d): %s" % (
        p.returncode, p.stderr.strip()))
ck.done()
