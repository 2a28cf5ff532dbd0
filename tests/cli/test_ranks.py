#!/usr/bin/python3
"""The same sweep at 1, 2 and 4 ranks gives identical results.json (timings aside), every output of
the run directory exists, a second run reuses the shards, and predict is rank-independent and in
input order."""
import csv
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("ranks")
work = hftest.tempdir("ranks-")
data = os.path.join(hftest.SOURCE_DIR, "examples", "data")
specs = {
    "ridge": """
name: ranks-ridge
data: {source: %s/diabetes.csv, target: target}
shards: {count: 3}
cv: {folds: 5, seed: 3}
model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-3, 1.0e3]}
    fit_intercept: [true, false]
search: {strategy: random, trials: 24, seed: 11}
objective: {metric: r2, report: [rmse, mae]}
output: {dir: out}
""" % data,
    "logistic": """
name: ranks-logistic
data: {source: %s/wine.csv, target: cultivar}
cv: {folds: 4, seed: 5}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-2, 1.0e2], grid_points: 6}
search: {strategy: grid}
objective: {metric: log_loss, report: [accuracy, roc_auc, f1]}
output: {dir: out}
""" % data,
}
for key, text in specs.items():
    results = {}
    preds = {}
    for n in (1, 2, 4):
        d = os.path.join(work, "%s-np%d" % (key, n))
        os.makedirs(d)
        hftest.write(os.path.join(d, "job.yaml"), text)
        hftest.hyperfold(["run", "job.yaml", "--quiet"], np=n, cwd=d)
        name = "ranks-" + key
        run_dir = os.path.join(d, "out", name)
        for f in ("job.yaml", "results.json", "trials.csv", "model.h5", "journal.jsonl",
                  "shards/manifest.json"):
            ck.check(os.path.exists(os.path.join(run_dir, f)), "%s np=%d: %s exists" % (key, n, f))
        r = hftest.load_results(run_dir)
        results[n] = hftest.comparable(r)
        for k in ("metric", "direction", "best", "trials"):
            ck.check(k in r, "%s: results.json has %s" % (key, k))
        for k in ("trial", "params", "score", "std", "fold_scores"):
            ck.check(k in (r.get("best") or {}), "%s: results.json best has %s" % (key, k))
        src = "diabetes.csv" if key == "ridge" else "wine.csv"
        out = os.path.join(d, "pred.csv")
        hftest.hyperfold(["predict", "--model", os.path.join(run_dir, "model.h5"), "--input",
                          os.path.join(data, src), "--output", out, "--quiet"], np=n, cwd=d)
        with open(out) as f:
            preds[n] = f.read()
    for n in (2, 4):
        ck.check(results[n] == results[1], "%s: results.json at %d ranks equals 1 rank" % (key, n))
        ck.check(preds[n] == preds[1], "%s: predictions at %d ranks equal 1 rank" % (key, n))
    rows = list(csv.reader(preds[1].splitlines()))
    src = os.path.join(data, "diabetes.csv" if key == "ridge" else "wine.csv")
    with open(src) as f:
        n_in = sum(1 for _ in f) - 1
    ck.check(len(rows) == n_in + 1, "%s: one prediction per input row (%d vs %d)" % (key, len(rows) - 1, n_in))
    ck.check(rows[0][0] == "prediction", "%s: header starts with prediction" % key)
    if key == "logistic":
        ck.check(rows[0][1:] == ["proba_class_0", "proba_class_1", "proba_class_2"],
                 "logistic: proba columns %r" % rows[0][1:])
    # Second run in the same place: shards reused, nothing recomputed, same results.
    d = os.path.join(work, "%s-np2" % key)
    p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
    r2 = hftest.load_results(os.path.join(d, "out", "ranks-" + key))
    ck.check(r2["timing"]["reused_shards"] is True, "%s: second run reuses the shards" % key)
    ck.check(hftest.comparable(r2) == results[1], "%s: second run gives the same results" % key)

# Speculative refit: rank 1's tasks are slowed down (MPMD launch, its own environment), so rank 0
# runs out of tasks first and refits the leading trial meanwhile. The leader after one fold is the
# winner here (an unpenalised fit against a crushing penalty), so the speculation is kept: the
# model must be the one a 1-rank run (which never speculates) refits.
spec = """
name: spec-refit
data: {source: %s/diabetes.csv, target: target}
cv: {folds: 2, seed: 3}
model:
  type: ridge
  params:
    alpha: [1.0e-3, 1.0e5]
search: {strategy: grid}
objective: {metric: r2}
output: {dir: out}
""" % data
models = {}
for label, slow in (("np1", None), ("np2", 1500)):
    d = os.path.join(work, "spec-" + label)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), spec)
    if slow is None:
        hftest.hyperfold(["run", "job.yaml", "--quiet"], np=1, cwd=d)
    else:
        cmd = ["mpirun", "--oversubscribe", "-np", "1", hftest.HYPERFOLD, "run", "job.yaml",
               "--quiet", ":", "-np", "1", "env", "HF_TEST_TASK_DELAY_MS=%d" % slow,
               hftest.HYPERFOLD, "run", "job.yaml", "--quiet"]
        p = subprocess.run(cmd, cwd=d, env=hftest.env(), capture_output=True, text=True,
                           timeout=300)
        ck.check(p.returncode == 0, "speculative refit run exits 0 (%d: %s)" % (p.returncode,
                                                                                 p.stderr[-500:]))
    run_dir = os.path.join(d, "out", "spec-refit")
    r = hftest.load_results(run_dir)
    ck.check(r["timing"]["speculative_refit"] is (slow is not None),
             "%s: speculative_refit is %s" % (label, r["timing"]["speculative_refit"]))
    ck.check(r["best"]["params"]["alpha"] == 1.0e-3, "%s: the small alpha wins" % label)
    out = os.path.join(d, "pred.csv")
    hftest.hyperfold(["predict", "--model", os.path.join(run_dir, "model.h5"), "--input",
                      os.path.join(data, "diabetes.csv"), "--output", out, "--quiet"], cwd=d)
    with open(out) as f:
        models[label] = f.read()
ck.check(models["np1"] == models["np2"], "the speculative refit predicts as the 1-rank refit")
ck.done()
