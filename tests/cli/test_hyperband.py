#!/usr/bin/python3
"""search.strategy hyperband end to end: the plan in results.json is Li et al.'s; every trial has
its rung's resource; every later rung holds exactly the best 1/eta of the rung before (by mean
score, ties to the lower trial), with the same parameters apart from the resource; the best trial
is the best of those at the full resource; the study is identical at 1, 2 and 4 ranks, for
xgboost (n_estimators) and logistic regression (max_iter); a study stopped by SIGTERM and run again
equals the uninterrupted one; a rung's configurations score alone at that resource as in the study
(a promotion is a fresh fit at the new budget)."""
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("hyperband")
work = hftest.tempdir("hyperband-")
hftest.interaction_table(os.path.join(work, "data.csv"), 5)

SPECS = {
    "xgboost": """model:
  type: xgboost
  params:
    n_estimators: 27
    learning_rate: {log_uniform: [0.02, 0.5]}
    max_depth: {int_uniform: [2, 6]}
    subsample: {uniform: [0.6, 1]}
    n_jobs: 1
search: {strategy: hyperband, seed: 4, min_resource: 1}
""",
    "logistic": """model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-3, 10]}
    max_iter: 64
    tol: 1.0e-10
preprocess: {scale: [standard, none]}
search: {strategy: hyperband, seed: 2, eta: 4, min_resource: 1}
"""}
HEAD = """name: study
data: {source: %s/data.csv, target: y}
cv: {strategy: stratified, folds: 3, seed: 1}
objective: {metric: log_loss, report: [accuracy]}
output: {dir: out}
"""


def setup(name, model, extra=""):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), HEAD % work + SPECS[model] + extra)
    return d


def results(d):
    return hftest.load_results(os.path.join(d, "out", "study"))


def plan(R, rmin, eta):
    s_max, v = 0, R / rmin
    while v >= eta * (1 - 1e-12):
        v /= eta
        s_max += 1
    out = []
    for s in range(s_max, -1, -1):
        n0 = int(np.ceil((s_max + 1) * eta ** s / (s + 1)))
        for i in range(s + 1):
            out.append((s, i, n0 // eta ** i, max(1, round(R / eta ** (s - i)))))
    return out


RES = {"xgboost": "n_estimators", "logistic": "max_iter"}
for model, (R, rmin, eta) in (("xgboost", (27, 1, 3)), ("logistic", (64, 1, 4))):
    got = []
    for np_ in (1, 2, 4):
        d = setup("%s-np%d" % (model, np_), model)
        hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)
        got.append(results(d))
    r = got[0]
    ck.check(hftest.same_trials(r, got[1]) and hftest.same_trials(r, got[2]),
             "%s: the same study at 1, 2 and 4 ranks" % model)
    want = plan(R, rmin, eta)
    hb = r["hyperband"]
    ck.check([(g["bracket"], g["rung"], g["configs"], g["resource"]) for g in hb] == want,
             "%s: the plan is Li et al.'s: %s" % (model, [(g["configs"], g["resource"]) for g in hb]))
    ck.check(r["n_trials"] == sum(w[2] for w in want), "%s: %d trials" % (model, r["n_trials"]))
    trials = r["trials"]
    res = RES[model]
    ok_res = ok_promo = True
    for gi, g in enumerate(hb):
        rows = trials[g["first_trial"]:g["first_trial"] + g["configs"]]
        ok_res &= all(t["params"][res] == g["resource"] for t in rows)
        if g["rung"] == 0:
            continue
        prev = hb[gi - 1]
        prows = trials[prev["first_trial"]:prev["first_trial"] + prev["configs"]]
        order = sorted(prows, key=lambda t: (t["mean"]["log_loss"], t["trial"]))
        top = order[:g["configs"]]

        def strip(t):
            return {k: v for k, v in t["params"].items() if k != res}
        ok_promo &= [strip(t) for t in rows] == [strip(t) for t in top]
    ck.check(ok_res, "%s: every trial has its rung's resource" % model)
    ck.check(ok_promo, "%s: every later rung holds the best 1/eta of the rung before" % model)
    full = [t for t in trials if t["params"][res] == R and
            any(g["rung"] == g["bracket"] and g["first_trial"] <= t["trial"] <
                g["first_trial"] + g["configs"] for g in hb)]
    best = min(full, key=lambda t: (t["mean"]["log_loss"], t["trial"]))
    ck.check(r["best"]["trial"] == best["trial"],
             "%s: the best is the best at the full resource (%d, expected %d)" % (
                 model, r["best"]["trial"], best["trial"]))
    lower = min(trials, key=lambda t: (t["mean"]["log_loss"], t["trial"]))
    if lower["params"][res] != R:
        ck.check(r["best"]["trial"] != lower["trial"],
                 "%s: a lower-budget trial is never selected" % model)
    ck.check(os.path.exists(os.path.join(work, "%s-np1" % model, "out", "study", "model.h5")),
             "%s: the best is refitted and exported" % model)
    if model == "xgboost":
        xgb_full = r

# A rung's scores equal a run of each of its configurations alone at its resource.
g = [g for g in xgb_full["hyperband"] if g["bracket"] == 3 and g["rung"] == 2][0]
rows = xgb_full["trials"][g["first_trial"]:g["first_trial"] + g["configs"]]
same = True
for k, t in enumerate(rows):
    d = os.path.join(work, "alone-%d" % k)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), HEAD % work + """model:
  type: xgboost
  params:
    n_estimators: %d
    learning_rate: %r
    max_depth: %d
    subsample: %r
    n_jobs: 1
search: {strategy: grid}
""" % (g["resource"], t["params"]["learning_rate"], t["params"]["max_depth"],
       t["params"]["subsample"]))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
    same &= results(d)["trials"][0]["fold_scores"] == t["fold_scores"]
ck.check(len(rows) == 3 and same,
         "the %d configurations of bracket 3's third rung score alone as in the study" % len(rows))

# BOHB (sampler: tpe): the same study at 1 and 2 ranks; the first bracket's configurations are
# random search's (no budget has 10 finished trials yet), later brackets' first rungs are TPE's
# proposals from the largest budget with 10, inside their distributions.
bohb = []
for np_ in (1, 2):
    d = os.path.join(work, "bohb-np%d" % np_)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), HEAD % work + SPECS["xgboost"].replace(
        "min_resource: 1}", "min_resource: 1, sampler: tpe}"))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)
    bohb.append(results(d))
ck.check(hftest.same_trials(bohb[0], bohb[1]), "bohb: the same study at 1 and 2 ranks")
hb0 = xgb_full["hyperband"][0]
first = slice(0, hb0["configs"])
ck.check([t["params"] for t in bohb[0]["trials"][first]] ==
         [t["params"] for t in xgb_full["trials"][first]],
         "bohb: the first bracket's configurations are the random draws")
later = [g for g in bohb[0]["hyperband"] if g["rung"] == 0 and g["bracket"] < hb0["bracket"]]
diff = sum(bohb[0]["trials"][i]["params"] != xgb_full["trials"][i]["params"]
           for g in later for i in range(g["first_trial"], g["first_trial"] + g["configs"]))
ck.check(diff > 0, "bohb: %d of the later brackets' configurations are TPE proposals" % diff)
ck.check(all(0.02 <= t["params"]["learning_rate"] <= 0.5 and 2 <= t["params"]["max_depth"] <= 6 and
             0.6 <= t["params"]["subsample"] <= 1 for t in bohb[0]["trials"]),
         "bohb: every configuration inside its distributions")

# BOHB resumed from a journal cut just after the proposals of a later bracket's first rung (TPE's
# proposals; where a crash before its first result leaves it): that batch is read from the journal,
# the later ones are proposed again; the same study.
b = bohb[0]["hyperband"].index(later[0])
path = os.path.join(work, "bohb-np2", "out", "study", "journal.jsonl")
keep = []
for ln in open(path).read().splitlines(keepends=True):
    keep.append(ln)
    if ln.startswith('{"batch_def":%d,' % b):
        break
hftest.write(path, "".join(keep))
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=os.path.join(work, "bohb-np2"))
msg = "the proposals of %d of %d batch(es) read from the journal" % (b + 1, len(bohb[0]["hyperband"]))
ck.check(msg in p.stderr and hftest.same_trials(results(os.path.join(work, "bohb-np2")), bohb[1]),
         "bohb: resumed after batch %d's proposals (%s), the same study: %s" % (
             b, msg, p.stderr.strip()[-300:]))

# SIGTERM in the middle, then resume: the same study.
d = setup("sigterm", "xgboost")
proc = hftest.start_run(d, 60)
ck.check(hftest.wait_for_tasks(os.path.join(d, "out", "study"), 100, proc),
         "sigterm: the first rungs finished before the signal")
proc.send_signal(signal.SIGTERM)
proc.communicate(timeout=120)
before = len(hftest.journal_tasks(os.path.join(d, "out", "study")))
ck.check(proc.returncode != 0 and before < 3 * xgb_full["n_trials"],
         "sigterm: interrupted (rc %d, %d tasks journaled)" % (proc.returncode, before))
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
ck.check("resuming" in p.stderr, "sigterm: the rerun resumes")
ck.check(hftest.comparable(results(d)) == hftest.comparable(xgb_full),
         "sigterm: the resumed study equals the uninterrupted one")
ck.done()
