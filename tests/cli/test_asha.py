#!/usr/bin/python3
"""Asynchronous studies end to end. search.strategy asha: the journal is replayed event by event
(trial definitions and task results in the order rank 0 saw them) and every definition is checked
against ASHA's rule at that moment: a promotion takes, from the highest rung that has one, a
configuration among the best floor(finished / eta) of its rung not promoted before (and nothing
was promotable in a higher rung); a new configuration is started only when nothing is promotable,
and it is random search's next draw. At the end the best floor(finished / eta) of every rung
below were promoted, the best is the best of the top rung, and the resources are the rungs'. At 1 and 2 ranks,
for xgboost (n_estimators) and logistic regression (max_iter). A study stopped by SIGTERM and run
again (SIGTERM to mpirun, kill -9 of rank 1) is a valid continuation that keeps every trial
defined before. tpe with mode async: 30
trials, the first 10 random search's, the others in their distributions, valid after a resume.
Refusals: too few configurations for asha's rungs, a searched budget, mode async with
another strategy, worker groups with an asynchronous study."""
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("asha")
work = hftest.tempdir("asha-")
hftest.interaction_table(os.path.join(work, "data.csv"), 8)

HEAD = """name: study
data: {source: %s/data.csv, target: y}
cv: {strategy: stratified, folds: 3, seed: 1}
objective: {metric: log_loss, report: [accuracy]}
output: {dir: out}
""" % work
MODELS = {
    "xgboost": ("""model:
  type: xgboost
  params:
    n_estimators: 27
    learning_rate: {log_uniform: [0.02, 0.5]}
    max_depth: {int_uniform: [2, 6]}
    subsample: {uniform: [0.6, 1]}
    n_jobs: 1
""", "n_estimators", [1, 3, 9, 27], 3),
    "logistic": ("""model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-3, 10]}
    max_iter: 64
    tol: 1.0e-10
preprocess: {scale: [standard, none]}
""", "max_iter", [4, 16, 64], 4),
}


def setup(name, body, search):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), HEAD + body + "search: %s\n" % search)
    return d


def run_dir(d):
    return os.path.join(d, "out", "study")


def journal(d):
    return hftest.journal_lines(run_dir(d))


def check_asha(tag, d, res, rungs, eta, n_configs, draws):
    """Replays the journal and checks every definition against ASHA's rule."""
    r = hftest.load_results(run_dir(d))
    n_splits = r["n_splits"]
    rung_of, parent_of, params_of, promoted = {}, {}, {}, set()
    fold_loss, finished, loss = {}, {}, {}
    started = 0
    ok = True
    why = ""
    for ev in journal(d):
        if "trial_def" in ev:
            t, k, par = ev["trial_def"], ev["rung"], ev["parent"]
            if ok and t != len(rung_of):
                ok, why = False, "trial %d defined out of order" % t
            # what was promotable at this moment, from the highest rung down
            promotable = None
            for kk in range(len(rungs) - 2, -1, -1):
                done = sorted([u for u in finished if rung_of[u] == kk],
                              key=lambda u: (np.nan_to_num(loss[u], nan=np.inf), u))
                top = [u for u in done[:len(done) // eta] if u not in promoted and
                       not np.isnan(loss[u])]
                if top:
                    promotable = (kk, top)
                    break
            if par >= 0:
                if ok and (promotable is None or k != promotable[0] + 1 or
                           par not in promotable[1]):
                    ok, why = False, "trial %d promotes %d to rung %d; promotable: %s" % (
                        t, par, k, promotable)
                strip = {a: b for a, b in ev["params"].items() if a != res}
                if ok and strip != {a: b for a, b in params_of[par].items() if a != res}:
                    ok, why = False, "trial %d is not a copy of %d" % (t, par)
                promoted.add(par)
            else:
                if ok and promotable is not None:
                    ok, why = False, "trial %d starts a configuration while %s is promotable" % (
                        t, promotable)
                strip = {a: b for a, b in ev["params"].items() if a != res}
                if ok and draws and strip != {a: b for a, b in draws[started].items() if a != res}:
                    ok, why = False, "trial %d is not random search's draw %d" % (t, started)
                started += 1
            if ok and ev["params"][res] != rungs[k]:
                ok, why = False, "trial %d at rung %d has %s %s" % (t, k, res, ev["params"][res])
            rung_of[t], parent_of[t], params_of[t] = k, par, ev["params"]
        else:
            for tr in ev["trials"]:
                t = tr["trial"]
                fold_loss.setdefault(t, []).append(
                    tr["scores"]["log_loss"] if tr["status"] == "ok" else np.nan)
                if len(fold_loss[t]) == n_splits:
                    finished[t] = True
                    loss[t] = float(np.mean(fold_loss[t]))
    ck.check(ok, "%s: every definition follows ASHA's rule%s" % (tag, (": " + why) if why else ""))
    ck.check(started == n_configs, "%s: %d configurations started (expected %d)" % (
        tag, started, n_configs))
    # At the end nothing is promotable: the best floor(n / eta) of every rung were promoted
    # (ASHA may promote more: a configuration promoted early can drop out of the top later).
    counts = [sum(1 for t in rung_of if rung_of[t] == k) for k in range(len(rungs))]
    left = []
    for k in range(len(rungs) - 1):
        done = sorted([u for u in finished if rung_of[u] == k], key=lambda u: (loss[u], u))
        left += [u for u in done[:len(done) // eta] if u not in promoted]
    ck.check(not left and all(counts[k + 1] >= counts[k] // eta for k in range(len(rungs) - 1)),
             "%s: at the end the best 1/eta of every rung were promoted (rungs %s; left %s)" % (
                 tag, counts, left))
    ck.check(len(finished) == len(rung_of) == r["n_trials"],
             "%s: every defined trial finished (%d of %d)" % (tag, len(finished), len(rung_of)))
    ck.check(r["asha"]["rung_resources"] == rungs, "%s: rung resources %s" % (
        tag, r["asha"]["rung_resources"]))
    top = [t for t in rung_of if rung_of[t] == len(rungs) - 1]
    best = min(top, key=lambda t: (loss[t], t))
    ck.check(r["best"]["trial"] == best, "%s: the best is the top rung's best (%d, expected %d)" % (
        tag, r["best"]["trial"], best))
    return r


def random_draws(body, n_configs, seed):
    d = setup("draws-%d" % len(os.listdir(work)), body,
              "{strategy: random, trials: %d, seed: %d}" % (n_configs, seed))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=1, cwd=d)
    return [t["params"] for t in hftest.load_results(run_dir(d))["trials"]]


for model, (body, res, rungs, eta) in MODELS.items():
    n_configs = eta ** (len(rungs) - 1) + 4
    draws = random_draws(body, n_configs, 6)
    for np_ in (1, 2):
        d = setup("%s-np%d" % (model, np_), body,
                  "{strategy: asha, seed: 6, trials: %d, eta: %d, min_resource: %d}" % (
                      n_configs, eta, rungs[0]))
        hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)
        check_asha("%s at %d rank(s)" % (model, np_), d, res, rungs, eta, n_configs, draws)

# sampler: tpe (BOHB's proposals for new configurations): the same rule, new configurations
# not random search's once a rung has 10 finished trials, inside their distributions.
body, res, rungs, eta = MODELS["xgboost"]
d = setup("asha-tpe", body, "{strategy: asha, seed: 6, trials: 40, min_resource: 1, sampler: tpe}")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
r = check_asha("asha sampler tpe", d, res, rungs, eta, 40, None)
def strip(q):
    return {a: b for a, b in q.items() if a != res}


starts = [strip(ev["params"]) for ev in journal(d) if "trial_def" in ev and ev["parent"] < 0]
draws40 = [strip(q) for q in random_draws(body, 40, 6)]
n_tpe = sum(a != b for a, b in zip(starts, draws40))
ck.check(len(starts) == 40 and starts[:10] == draws40[:10] and n_tpe > 0 and
         all(0.02 <= q["learning_rate"] <= 0.5 and 2 <= q["max_depth"] <= 6 for q in starts),
         "asha sampler tpe: the first 10 configurations random, %d of 40 TPE proposals, all in "
         "their space" % n_tpe)

# SIGTERM in the middle of an ASHA study, then resume: a valid continuation.
body, res, rungs, eta = MODELS["xgboost"]
n_configs = 40
draws = random_draws(body, n_configs, 6)
for how in ("sigterm", "kill9"):
    d = setup(how, body, "{strategy: asha, seed: 6, trials: %d, min_resource: 1}" % n_configs)
    proc = hftest.start_run(d, 40)
    ck.check(hftest.wait_for_tasks(run_dir(d), 40, proc),
             "%s: tasks finished before the signal" % how)
    ck.check(hftest.interrupt(proc, d, how), "%s: the run was interrupted" % how)
    defs_before = [ev for ev in journal(d) if "trial_def" in ev]
    ck.check(proc.returncode != 0 and defs_before, "%s: interrupted (rc %d, %d trials defined)" % (
        how, proc.returncode, len(defs_before)))
    p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
    ck.check("resuming" in p.stderr, "%s: the rerun resumes" % how)
    r = check_asha("%s, resumed" % how, d, res, rungs, eta, n_configs, draws)
    ck.check([t["params"] for t in r["trials"][:len(defs_before)]] ==
             [ev["params"] for ev in defs_before],
             "%s, resumed: the trials defined before are kept" % how)
    tasks = [ev["task"] for ev in journal(d) if "task" in ev]
    ck.check(len(tasks) == len(set(tasks)), "%s, resumed: no task twice in the journal" % how)

# tpe, mode async.
TPE_BODY = MODELS["logistic"][0].replace("max_iter: 64", "max_iter: 200")
tpe_draws = random_draws(TPE_BODY, 30, 9)
d = setup("tpe-async", TPE_BODY, "{strategy: tpe, mode: async, trials: 30, seed: 9}")
proc = hftest.start_run(d, 100)
ck.check(hftest.wait_for_tasks(run_dir(d), 36, proc), "tpe async: tasks finished before the signal")
proc.send_signal(signal.SIGTERM)
proc.communicate(timeout=120)
ck.check(proc.returncode != 0, "tpe async: interrupted (rc %d)" % proc.returncode)
before = [ev["params"] for ev in journal(d) if "trial_def" in ev]
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
r = hftest.load_results(run_dir(d))
ck.check(r["n_trials"] == 30 and [t["params"] for t in r["trials"][:10]] == tpe_draws[:10],
         "tpe async: 30 trials, the first 10 random search's")
ck.check([t["params"] for t in r["trials"][:len(before)]] == before and 10 < len(before) < 30,
         "tpe async: the %d trials defined before the signal are kept" % len(before))
ck.check(all(1e-3 <= t["params"]["C"] <= 10 and t["params"]["preprocess.scale"] in
             ("standard", "none") for t in r["trials"]), "tpe async: proposals in their space")
ck.check(r["best"]["trial"] == min(r["trials"], key=lambda t: (t["mean"]["log_loss"],
                                                               t["trial"]))["trial"],
         "tpe async: the best trial is selected")

# Refusals.
for body, search, want in [
        (MODELS["xgboost"][0], "{strategy: asha, trials: 20, min_resource: 1}",
         "search.trials: got 20 with asha's 4 rungs, expected at least eta^3 = 27"),
        ("model:\n  type: kernel_ridge\npreprocess: {train_fraction: [0.5, 1]}\n",
         "{strategy: asha, trials: 30}", "preprocess.train_fraction: is asha's resource"),
        (MODELS["logistic"][0], "{strategy: random, mode: async}",
         "search.mode is a setting of search.strategy tpe, not of random"),
        (MODELS["logistic"][0], "{strategy: asha, trials: 30, pruner: wilcoxon}",
         "search.pruner: given with search.strategy asha, expected grid, random or tpe"),
        (MODELS["logistic"][0] + "parallel: {ranks_per_task: 2}\n",
         "{strategy: tpe, mode: async, trials: 12}",
         "parallel.ranks_per_task: got 2 with an asynchronous search (tpe, mode async)")]:
    d = setup("refuse-%d" % len(os.listdir(work)), body, search)
    if "kernel_ridge" in body:  # a regression model: a numeric target and a regression metric
        spec = open(os.path.join(d, "job.yaml")).read().replace("target: y}", "target: x0, task: "
                                                                "regression}")
        spec = spec.replace("cv: {strategy: stratified", "cv: {strategy: kfold").replace(
            "{metric: log_loss, report: [accuracy]}", "{metric: rmse}")
        hftest.write(os.path.join(d, "job.yaml"), spec)
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 2 and want in p.stderr and "job.yaml:" in p.stderr,
             "refused (rc %d): %s" % (p.returncode, p.stderr.strip()))
ck.done()
