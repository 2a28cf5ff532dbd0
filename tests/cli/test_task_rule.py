#!/usr/bin/python3
"""The task rule and the refusals that keep a model off a task it cannot do (docs/job-spec.md,
data.task). Integer class labels (0/1, 0..9) are classification with a classifier or a
classification metric, and the scores then equal scikit-learn's on the same folds; a regression
model on a classification target, a classification metric with a regression model, and a
continuous target with a classifier are refused by validate and run with one line naming what
would do; a model file whose model does not support its schema's task is refused by predict
instead of writing uninitialised probabilities. Also: a missing data file exits 2, a wrong column
name gets a did-you-mean and the list of columns, and the progress line counts trials and tasks
apart."""
import os
import sys

import h5py
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("task_rule")
work = hftest.tempdir("task-rule-")
rng = np.random.default_rng(21)
n = 400
X = rng.normal(size=(n, 4))
df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
df["y01"] = (X[:, 0] + 0.7 * rng.normal(size=n) > 0).astype(int)
df["y10"] = np.clip(np.floor((X[:, 1] + 2.5) * 2), 0, 9).astype(int)
df["ystr"] = np.where(df["y01"] == 1, "yes", "no")
df["yfloat"] = X[:, 2] * 1.5 + 0.25
BIG = np.array([1, 2, 3, 10, 100, 1000000])
df["ybig"] = BIG[df["y10"].to_numpy() % 6]
df["Status"] = df["y01"]
df["fold"] = np.arange(n) % 4
csv = os.path.join(work, "t.csv")
df.to_csv(csv, index=False, float_format="%.17g")
FEATS = ["a", "b", "c", "d"]
DROP = "[y01, y10, ystr, yfloat, ybig, Status]"


def spec(target, model, extra="", task=""):
    drop = DROP.replace(target + ", ", "").replace(", " + target + "]", "]")
    return """name: t
data: {source: %s, target: %s%s, drop: %s}
cv: {strategy: predefined, fold_column: fold}
model: {type: %s}
%soutput: {dir: out}
""" % (csv, target, (", task: " + task) if task else "", drop, model, extra)


def refused(name, text, needles, np_=2):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), text)
    for cmd, npx in ((["validate", "job.yaml"], None), (["run", "job.yaml", "--quiet"], np_)):
        p = hftest.hyperfold(cmd, np=npx, cwd=d, check=False)
        lines = [l for l in p.stderr.splitlines() if l.startswith("hyperfold: error")]
        ck.check(p.returncode == 2, "%s %s: exit %d, expected 2 (%s)" % (name, cmd[0], p.returncode, p.stderr.strip()))
        ck.check(len(lines) == 1, "%s %s: one error line, got %r" % (name, cmd[0], lines))
        for s in needles:
            ck.check(any(s in l for l in lines), "%s %s: error mentions %r: %r" % (name, cmd[0], s, lines))
        ck.check(not os.path.exists(os.path.join(d, "out", "t", "model.h5")), "%s %s: no model" % (name, cmd[0]))


# Refused: the model cannot do the task.
refused("ridge_cls", spec("y10", "ridge", task="classification"),
        ["model.type", "ridge", "classification", "logistic_regression"])
refused("kr_cls", spec("y01", "kernel_ridge", task="classification"),
        ["model.type", "kernel_ridge", "logistic_regression"])
refused("ridge_auc", spec("y01", "ridge", "objective: {metric: roc_auc}\n"),
        ["objective.metric", "roc_auc", "logistic_regression"])
refused("logit_r2", spec("y01", "logistic_regression", "objective: {metric: r2}\n"),
        ["objective.metric", "r2", "ridge"])
refused("ridge_text", spec("ystr", "ridge"), ["ystr", "expected a number", "logistic_regression"])
refused("logit_float", spec("yfloat", "logistic_regression"),
        ["yfloat", "whole-number class labels", "ridge"])
# data.columns declaring the target categorical: a classification, never a regression (the
# declaration was once dropped for the target, and a model trained a regression with exit 0).
refused("ridge_cat_target", spec("y01", "ridge").replace("target: y01", "target: y01, columns: {y01: categorical}"),
        ["data.columns", "categorical", "y01", "expected numeric for a regression", "ridge"])
d = os.path.join(work, "xgb_cat_target")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"),
             spec("y01", "xgboost").replace("target: y01", "target: y01, columns: {y01: categorical}"))
p = hftest.hyperfold(["validate", "job.yaml"], cwd=d)
ck.check("target, classification (2 classes: 0 1)" in p.stdout,
         "xgboost, data.columns {y01: categorical}: validate says classification: %s" % p.stdout)
# Bad input of the data: exit 2, one line.
refused("missing_file", spec("y01", "logistic_regression").replace(csv, csv + ".nope"),
        ["t.csv.nope", "No such file"])
refused("typo", spec("y01", "logistic_regression").replace("target: y01", "target: status"),
        ["data.target", "status", 'did you mean "Status"', "columns: a, b, c, d"])

# Integer labels with a classifier: classification, equal to scikit-learn on the same folds.
for target, metric, ref_metric in (("y01", "roc_auc", "auc"), ("y10", None, "accuracy")):
    d = os.path.join(work, "ok_" + target)
    os.makedirs(d)
    extra = "objective: {metric: %s}\n" % metric if metric else ""
    hftest.write(os.path.join(d, "job.yaml"),
                 spec(target, "logistic_regression", extra + "preprocess: {scale: standard}\n"))
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d)
    ck.check("task: classification, implied by model.type logistic_regression" in p.stdout,
             "%s: validate says the task and why" % target)
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
    r = hftest.load_results(os.path.join(d, "out", "t"))
    ck.check(r["metric"] == (metric or "accuracy"), "%s: metric %s" % (target, r["metric"]))
    ck.check(r["n_failed_trials"] == 0, "%s: no trial failed" % target)
    got = r["trials"][0]["fold_scores"][r["metric"]]
    for f in range(4):
        tr, va = df["fold"] != f, df["fold"] == f
        mu, sd = df.loc[tr, FEATS].mean(), df.loc[tr, FEATS].std(ddof=0)
        m = LogisticRegression(C=1.0, max_iter=100, tol=1e-4).fit(
            (df.loc[tr, FEATS] - mu) / sd, df.loc[tr, target])
        Xv = (df.loc[va, FEATS] - mu) / sd
        want = (roc_auc_score(df.loc[va, target], m.predict_proba(Xv)[:, 1]) if ref_metric == "auc"
                else accuracy_score(df.loc[va, target], m.predict(Xv)))
        ck.check(hftest.rel_close(got[f], want, 1e-6),
                 "%s fold %d: %s %r vs scikit-learn %r" % (target, f, r["metric"], got[f], want))

# Whole-number labels keep their spelling: 10 and 1000000 (not 1e+01, 1e+06) in the predictions
# and the probability columns, which equal scikit-learn's.
d = os.path.join(work, "big_labels")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"),
             spec("ybig", "logistic_regression", "preprocess: {scale: standard}\n"))
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
feats_csv = os.path.join(d, "features.csv")
df[FEATS].to_csv(feats_csv, index=False, float_format="%.17g")
hftest.hyperfold(["predict", "--model", "out/t/model.h5", "--input", feats_csv, "--output", "p.csv",
                  "--quiet"], np=2, cwd=d)
pred = pd.read_csv(os.path.join(d, "p.csv"), dtype=str)
want_cols = ["proba_%d" % b for b in BIG]
ck.check(all(c in pred.columns for c in want_cols), "probability columns %s: %s" % (want_cols, list(pred.columns)))
mu, sd = df[FEATS].mean(), df[FEATS].std(ddof=0)
m = LogisticRegression(C=1.0, max_iter=100, tol=1e-4).fit((df[FEATS] - mu) / sd, df["ybig"])
want = [str(v) for v in m.predict((df[FEATS] - mu) / sd)]
agree = sum(a == b for a, b in zip(pred["prediction"], want))
ck.check(agree == n, "predicted labels as written (10, 1000000), equal to scikit-learn's: %d of %d (%s)"
         % (agree, n, sorted(set(pred["prediction"]))))
if all(c in pred.columns for c in want_cols):
    got_p = pred[want_cols].to_numpy(dtype=float)
    want_p = m.predict_proba((df[FEATS] - mu) / sd)
    ck.check(np.max(np.abs(got_p - want_p)) < 1e-4,
             "probabilities equal scikit-learn's (%.3g)" % np.max(np.abs(got_p - want_p)))

# A regression model file whose schema claims classification: predict refuses it.
d = os.path.join(work, "forged")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), spec("yfloat", "ridge"))
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=1, cwd=d)
mpath = os.path.join(d, "out", "t", "model.h5")
with h5py.File(mpath, "r+") as f:
    sj = f.attrs["schema_json"].decode().replace('"task":"regression"', '"task":"classification"')
    sj = sj.replace('"target":"yfloat"', '"target":"yfloat","classes":["0","1","2"]').encode()
    # A fixed-length UTF-8 string, as hyperfold writes them (format_version 3 refuses a
    # variable-length one, which h5py would write for a str).
    del f.attrs["schema_json"]
    f.attrs.create("schema_json", sj, dtype=h5py.string_dtype("utf-8", len(sj)))
hftest.stamp_model(mpath)  # a forged file with a valid checksum: the reader's own checks refuse it
p = hftest.hyperfold(["predict", "--model", mpath, "--input", csv, "--output", "p.csv"], np=1, cwd=d,
                     check=False)
ck.check(p.returncode == 2 and "does not support the task" in p.stderr,
         "forged classification ridge model refused (%d): %s" % (p.returncode, p.stderr.strip()))
ck.check(not os.path.exists(os.path.join(d, "p.csv")), "forged model: no predictions written")

# The progress line: trials, splits and tasks apart; failed trials counted as trials.
d = os.path.join(work, "progress")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), spec("yfloat", "ridge").replace(
    "model: {type: ridge}", "model: {type: ridge, params: {alpha: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}}"))
os.environ["HF_TEST_FAIL_TRIALS"] = "1,4"
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
del os.environ["HF_TEST_FAIL_TRIALS"]
ck.check("6 trials x 4 splits in 4 tasks" in p.stderr, "progress names trials, splits and tasks: %s" % p.stderr)
ck.check("failed trials 2" in p.stderr, "progress counts 2 failed trials: %s" % p.stderr)
ck.done()
