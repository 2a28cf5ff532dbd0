#!/usr/bin/python3
"""Budgets and pruning with every strategy (issue 14; docs/search.md, "Budgets and pruning").
Random search with search.pruner: every decision re-derived with scipy as cli.prune does (the
trials are random search's own draws, in order, in batches of search.batch), the same at 1, 2
and 4 ranks, fewer fits than without it; stopped by SIGTERM and run again it equals the
uninterrupted run (and so does grid search with early_stop). search.early_stop with grid and random: the study is the full sweep's first k
trials, k the first prefix whose last early_stop trials gave no improvement (re-derived here from
the full sweep), the same at 1, 2 and 4 ranks and with another search.batch. search.max_time with
grid, random, tpe (async), hyperband and asha: the study stops early with search_stopped
"max_time" and a valid result (grid, random, hyperband: a prefix of the full study); early_stop
with tpe async, hyperband and asha stops them with search_stopped "early_stop". Refusals: the
pruner with hyperband and asha, search.batch with random search and no budget."""
import os
import pty
import re
import signal
import subprocess
import sys
import warnings

import numpy as np
from scipy import stats

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("budgets")
work = hftest.tempdir("budgets-")
hftest.interaction_table(os.path.join(work, "data.csv"), 21, n=300)
HEAD = """name: study
data: {source: %s/data.csv, target: y}
output: {dir: out}
""" % work
LOGISTIC = """cv: {strategy: stratified, folds: 5, repeats: 3, seed: 4}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: %s
    fit_intercept: [true, false]
objective: {metric: roc_auc}
"""
RANDOM_C = "{log_uniform: [1.0e-4, 100]}"
GRID_C = "[1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 100]"
XGB = """cv: {strategy: stratified, folds: 3, seed: 1}
objective: {metric: log_loss}
model:
  type: xgboost
  params:
    n_estimators: 27
    learning_rate: {log_uniform: [0.02, 0.5]}
    max_depth: {int_uniform: [2, 6]}
    n_jobs: 1
"""


def setup(name, body, search):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), HEAD + body + "search: %s\n" % search)
    return d


def run(d, np_=1, check=True):
    return hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d, check=check)


def results(d):
    return hftest.load_results(os.path.join(d, "out", "study"))


def params(r):
    return [t["params"] for t in r["trials"]]


def valid(r, d):
    """A valid result: the best is a finished trial of the study, refitted and exported."""
    ok = [t["trial"] for t in r["trials"] if t["status"] == "ok"]
    return r["best"]["trial"] in ok and os.path.exists(os.path.join(d, "out", "study", "model.h5"))


warnings.simplefilter("ignore")

# Random search with the pruner: the plain sweep's draws, pruned by scipy's rule.
plain = setup("random-plain", LOGISTIC % RANDOM_C, "{strategy: random, trials: 24, seed: 3}")
run(plain)
rp = results(plain)
got = []
for np_ in (1, 2, 4):
    d = setup("prune-np%d" % np_, LOGISTIC % RANDOM_C,
              "{strategy: random, trials: 24, seed: 3, pruner: wilcoxon}")
    run(d, np_)
    got.append(results(d))
r = got[0]
ck.check(hftest.same_trials(r, got[1]) and hftest.same_trials(r, got[2]),
         "random + pruner: the same study at 1, 2 and 4 ranks")
ck.check(params(r) == params(rp), "random + pruner: the trials are random search's draws, in order")
scores = [t["fold_scores"]["roc_auc"] for t in r["trials"]]
ran = [sum(s is not None for s in f) for f in scores]
status = [t["status"] for t in r["trials"]]
bounds, batch = [4, 7, 10, 13], 4
pruned, ran_want = [False] * 24, [15] * 24
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
                pruned[t], ran_want[t] = True, s
ck.check(any(pruned) and pruned == [s == "pruned" for s in status],
         "random + pruner: every decision is scipy's rule (%s)" % "".join(
             "P" if x else "." for x in pruned))
ck.check(ran == ran_want, "random + pruner: each pruned trial ran exactly its splits")
full = [scores_t for scores_t, st in zip(scores, status) if st == "ok"]
ck.check(all(f == g for f, g, st in zip(scores, [t["fold_scores"]["roc_auc"] for t in rp["trials"]],
                                          status) if st == "ok") and full,
         "random + pruner: a finished trial scores as in the plain sweep")
ok = [t for t in range(24) if status[t] == "ok"]
ck.check(r["best"]["trial"] == max(ok, key=lambda t: (np.mean(scores[t]), -t)),
         "random + pruner: the best is the best finished trial")
fits = sum(len(e["trials"]) for e in hftest.journal_lines(
    os.path.join(work, "prune-np1", "out", "study")) if "trials" in e)
ck.check(fits == sum(ran) < 24 * 15, "random + pruner: %d fits, against %d without" % (
    fits, 24 * 15))

# SIGTERM then resume: equal to the uninterrupted run.
d = setup("prune-sigterm", LOGISTIC % RANDOM_C,
          "{strategy: random, trials: 24, seed: 3, pruner: wilcoxon}")
proc = hftest.start_run(d, 25)
ck.check(hftest.wait_for_tasks(os.path.join(d, "out", "study"), 60, proc),
         "sigterm: tasks finished before the signal")
proc.send_signal(signal.SIGTERM)
proc.communicate(timeout=120)
ck.check(proc.returncode != 0, "sigterm: interrupted (rc %d)" % proc.returncode)
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
ck.check("resuming" in p.stderr, "sigterm: the rerun resumes")
ck.check(hftest.same_trials(results(d), r), "sigterm: the resumed study equals the uninterrupted one")
# The progress line's last state: every trial done, none running, the pruned ones counted, the
# best mean so far.
last = [ln for ln in p.stderr.splitlines() if " tasks " in ln][-1:]
best_mean = max(np.mean(scores[t]) for t in ok)
ck.check(last and "trials 24/24 (0 running, %d pruned)" % sum(pruned) in last[0] and
         "best roc_auc %.6g" % best_mean in last[0] and "eta 0s" in last[0],
         "progress: done, running, pruned, best, eta (%s)" % last)


def run_tty(args, cwd):
    """hyperfold (one process, no mpirun) with its stderr on a terminal: (rc, the lines it drew,
    each "\\r\\033[K" redraw a line of its own)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([hftest.HYPERFOLD] + args, cwd=cwd, env=hftest.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(), [ln for ln in re.split(r"\r\033\[K|\r?\n", out.decode()) if ln]


def progress_mismatches(lines, run_dir, n_trials, n_splits):
    """(how many lines, the lines whose trial counts or best roc_auc differ from those of the
    journal's first `tasks` results: the line's own count)."""
    results = [e for e in hftest.journal_lines(run_dir) if "task" in e]
    bad, n = [], 0
    for ln in lines:
        m = re.search(r"trials (\d+)/(\d+) \((\d+) running\)  tasks (\d+)/\d+  best roc_auc (\S+)",
                      ln)
        if not m:
            continue
        n += 1
        got = (int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(5))
        scores = [[None] * n_splits for _ in range(n_trials)]
        for e in results[:int(m.group(4))]:
            for t in e["trials"]:
                scores[t["trial"]][e["split"]] = t["scores"]["roc_auc"] if t["status"] == "ok" \
                    else float("nan")
        k = [sum(v is not None for v in sc) for sc in scores]
        means = [sum(sc) / n_splits for sc, kk in zip(scores, k) if kk == n_splits]
        means = [x for x in means if x == x]  # a failed split: no mean
        want = (sum(kk == n_splits for kk in k), n_trials, sum(0 < kk < n_splits for kk in k),
                "%.6g" % max(means) if means else "-")
        if got != want:
            bad.append("%s: want %s" % (ln.strip(), want))
    return n, bad


# early_stop with grid and random: the first prefix that meets it, at any ranks and batch.
def early_stop_at(scores, patience):
    best, last = -np.inf, 0  # roc_auc: higher is better; threshold 0: any improvement
    for t, s in enumerate(scores):
        if s > best:
            best, last = s, t + 1
        if t + 1 - last >= patience:
            return t + 1
    return None


refs = {}
for strategy, c in (("grid", GRID_C), ("random", RANDOM_C)):
    extra = ", seed: 3, trials: 24" if strategy == "random" else ""
    full = plain if strategy == "random" else setup("grid-plain", LOGISTIC % c,
                                                     "{strategy: grid}")
    if strategy == "grid":  # a plain sweep's progress line counts its trials too
        rc, lines = run_tty(["run", "job.yaml"], full)
        last = [ln for ln in lines if " tasks " in ln][-1:]
        ck.check(rc == 0 and last and "trials 24/24 (0 running)" in last[0] and "eta 0s" in last[0],
                 "grid progress: trials done and running (rc %d, %s)" % (rc, last))
        # On a terminal a line follows every result: each one's counts and best are those of
        # the results the journal holds up to it (the counts are kept as results arrive).
        n, bad = progress_mismatches(lines, os.path.join(full, "out", "study"), 24, 15)
        ck.check(n > 30 and not bad, "grid progress at every result (%d lines): %s" % (n, bad[:3]))
    rf = refs[strategy] = results(full)
    mean = [t["mean"]["roc_auc"] for t in rf["trials"]]
    patience = 3
    k = early_stop_at(mean, patience)
    ck.check(k is not None and k < len(mean), "%s: early_stop %d stops the full sweep's %d trials "
             "at %s" % (strategy, patience, len(mean), k))
    got = []
    for np_, b in ((1, ""), (2, ""), (4, ""), (2, ", batch: 7")):
        d = setup("%s-es-np%d%s" % (strategy, np_, "b" if b else ""), LOGISTIC % c,
                  "{strategy: %s%s, early_stop: %d%s}" % (strategy, extra, patience, b))
        run(d, np_)
        got.append(results(d))
    e = got[0]
    ck.check(e["n_trials"] == k and e.get("search_stopped") == "early_stop" and
             params(e) == params(rf)[:k] and valid(e, d),
             "%s early_stop: the full sweep's first %s trials (got %d, %s)" % (
                 strategy, k, e["n_trials"], e.get("search_stopped")))
    ck.check(all(hftest.same_trials(e, g) for g in got[1:]),
             "%s early_stop: the same study at 1, 2, 4 ranks and batch 7" % strategy)
    if strategy == "grid":  # interrupted in its first batch and run again: the same study
        d = setup("grid-es-sigterm", LOGISTIC % c, "{strategy: grid, early_stop: %d}" % patience)
        proc = hftest.start_run(d, 25)
        ck.check(hftest.wait_for_tasks(os.path.join(d, "out", "study"), 20, proc),
                 "grid early_stop sigterm: tasks finished before the signal")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
        p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
        ck.check(proc.returncode != 0 and "resuming" in p.stderr and
                 hftest.same_trials(results(d), e) and results(d).get("search_stopped") ==
                 "early_stop", "grid early_stop: interrupted (rc %d) and resumed, the same study" %
                 proc.returncode)

# max_time with every strategy: stopped early, a valid result.
cases = [("grid", LOGISTIC % GRID_C, "{strategy: grid, max_time: 0.01s}", refs["grid"]),
         ("random", LOGISTIC % RANDOM_C, "{strategy: random, trials: 24, seed: 3, max_time: 0.01s}",
          refs["random"]),
         ("tpe-async", LOGISTIC % RANDOM_C,
          "{strategy: tpe, mode: async, trials: 24, seed: 3, max_time: 0.01s}", None),
         ("hyperband", XGB, "{strategy: hyperband, seed: 6, max_time: 0.01s}", None),
         ("asha", XGB, "{strategy: asha, seed: 6, trials: 30, min_resource: 1, max_time: 0.01s}",
          None)]
for name, body, search, ref in cases:
    d = setup("max-time-" + name, body, search)
    run(d, 2)
    r = results(d)
    n_full = {"grid": 24, "random": 24, "tpe-async": 24, "asha": None}.get(name)
    ck.check(r.get("search_stopped") == "max_time" and valid(r, d) and
             (n_full is None or r["n_trials"] < n_full),
             "%s max_time: stopped (%s) after %d trials with a valid result" % (
                 name, r.get("search_stopped"), r["n_trials"]))
    if ref is not None:
        ck.check(params(r) == params(ref)[:r["n_trials"]],
                 "%s max_time: a prefix of the full sweep" % name)
    if name == "hyperband":
        hb_full = setup("hyperband-full", body, "{strategy: hyperband, seed: 6}")
        run(hb_full, 2)
        rh = results(hb_full)
        ck.check(r["n_trials"] < rh["n_trials"] and params(r) == params(rh)[:r["n_trials"]],
                 "hyperband max_time: a prefix of the full plan (%d of %d trials)" % (
                     r["n_trials"], rh["n_trials"]))

# early_stop with tpe async, hyperband, asha: a threshold no trial can pass stops them.
for name, body, search in [
        ("tpe-async", LOGISTIC % RANDOM_C,
         "{strategy: tpe, mode: async, trials: 24, seed: 3, early_stop: 2, "
         "early_stop_threshold: 1000}"),
        ("hyperband", XGB, "{strategy: hyperband, seed: 6, early_stop: 1, "
         "early_stop_threshold: 1000}"),
        ("asha", XGB, "{strategy: asha, seed: 6, trials: 30, min_resource: 9, early_stop: 1, "
         "early_stop_threshold: 1000}")]:
    d = setup("early-stop-" + name, body, search)
    run(d, 2)
    r = results(d)
    ck.check(r.get("search_stopped") == "early_stop" and valid(r, d),
             "%s early_stop: stopped (%s) after %d trials with a valid result" % (
                 name, r.get("search_stopped"), r["n_trials"]))

# validate shows the budgets.
p = hftest.hyperfold(["validate", "job.yaml"], cwd=os.path.join(work, "grid-es-np2b"))
ck.check("budgets:    early_stop 3 (threshold 0); trials in order, batches of 7" in p.stdout,
         "validate shows the budgets: %s" % [ln for ln in p.stdout.splitlines()
                                              if "budgets" in ln])

# Refusals.
for body, search, want in [
        (XGB, "{strategy: hyperband, pruner: wilcoxon}",
         "search.pruner: given with search.strategy hyperband, expected grid, random or tpe"),
        (XGB, "{strategy: asha, trials: 30, pruner_p: 0.2}",
         "search.pruner_p: given with search.strategy asha, expected grid, random or tpe"),
        (LOGISTIC % RANDOM_C, "{strategy: random, batch: 4}",
         "search.batch: given with search.strategy random without search.max_time")]:
    d = setup("refuse-%d" % len(os.listdir(work)), body, search)
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 2 and want in p.stderr and "job.yaml:" in p.stderr,
             "refused (rc %d): %s" % (p.returncode, p.stderr.strip()))
ck.done()
