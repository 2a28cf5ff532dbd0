#!/usr/bin/python3
"""Peer test: hyperfold's per-fold CV scores equal scikit-learn's on the same (predefined) folds.

Ridge: every metric equal to 1e-6 relative; LogisticRegression (binary and multinomial, lbfgs): equal
to 1e-4; the selected parameters are the same."""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (accuracy_score, f1_score, log_loss, mean_absolute_error,
                             mean_squared_error, r2_score, roc_auc_score)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("sweep_peer")
work = hftest.tempdir("peer-")
rng = np.random.default_rng(12345)


def folds_iter(fold):
    for f in sorted(np.unique(fold)):
        yield np.where(fold != f)[0], np.where(fold == f)[0]


def run_spec(spec_text, np_ranks=2):
    path = os.path.join(work, "job.yaml")
    hftest.write(path, spec_text)
    hftest.hyperfold(["run", path, "--quiet"], np=np_ranks, cwd=work)


# ---------------------------------------------------------------- ridge
n, p = 400, 8
X = rng.normal(size=(n, p)) * rng.uniform(0.5, 5, size=p) + rng.normal(size=p)
w = rng.normal(size=p)
y = X @ w + 3.0 + rng.normal(scale=2.0, size=n)
fold = rng.integers(0, 5, size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["fold"] = fold
df["y"] = y
df.to_csv(os.path.join(work, "reg.csv"), index=False, float_format="%.17g")
alphas = [0.001, 0.1, 1.0, 10.0, 1000.0]
run_spec("""
name: ridge-peer
data: {source: reg.csv, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
model:
  type: ridge
  params:
    alpha: [%s]
    fit_intercept: [true, false]
search: {strategy: grid}
objective: {metric: r2, report: [rmse, mae]}
output: {dir: out}
""" % ", ".join(repr(a) for a in alphas))
res = hftest.load_results(os.path.join(work, "out", "ridge-peer"))
best_sk, best_score = None, -np.inf
for t in res["trials"]:
    alpha = t["params"]["alpha"]
    fi = t["params"]["fit_intercept"]
    r2s, rmses, maes = [], [], []
    for tr, va in folds_iter(fold):
        m = Ridge(alpha=alpha, fit_intercept=fi).fit(X[tr], y[tr])
        pr = m.predict(X[va])
        r2s.append(r2_score(y[va], pr))
        rmses.append(mean_squared_error(y[va], pr, squared=False))
        maes.append(mean_absolute_error(y[va], pr))
    for name, ref in (("r2", r2s), ("rmse", rmses), ("mae", maes)):
        got = t["fold_scores"][name]
        for k, (a, b) in enumerate(zip(got, ref)):
            ck.check(hftest.rel_close(a, b, 1e-6),
                     "ridge alpha=%g fi=%s fold %d %s: hyperfold %r sklearn %r" % (alpha, fi, k, name, a, b))
    mean = float(np.mean(r2s))
    if mean > best_score:
        best_sk, best_score = (alpha, fi), mean
ck.check((res["best"]["params"]["alpha"], res["best"]["params"]["fit_intercept"]) == best_sk,
         "ridge best params: hyperfold %r sklearn %r" % (res["best"]["params"], best_sk))
ck.check(hftest.rel_close(res["best"]["score"], best_score, 1e-6), "ridge best score")


# ---------------------------------------------------------------- logistic
def logistic_case(n_classes, name):
    n, p = 500, 6
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, size=p)
    W = rng.normal(size=(p, n_classes))
    logits = X @ W + rng.normal(scale=1.5, size=(n, n_classes))
    y = np.array(["c%d" % k for k in logits.argmax(axis=1)])
    fold = rng.integers(0, 4, size=n)
    df = pd.DataFrame(X, columns=["f%d" % i for i in range(p)])
    df["label"] = y
    df["fold"] = fold
    csv = "%s.csv" % name
    df.to_csv(os.path.join(work, csv), index=False, float_format="%.17g")
    Cs = [0.001, 0.01, 0.1, 1.0, 10.0]
    report = "[accuracy, log_loss, f1]"
    metric = "roc_auc"
    run_spec("""
name: %s
data: {source: %s, target: label, task: classification}
cv: {strategy: predefined, fold_column: fold}
model:
  type: logistic_regression
  params:
    C: [%s]
    max_iter: 10000
    tol: 1.0e-10
search: {strategy: grid}
objective: {metric: %s, report: %s}
output: {dir: out}
""" % (name, csv, ", ".join(repr(c) for c in Cs), metric, report))
    res = hftest.load_results(os.path.join(work, "out", name))
    classes = np.unique(y)
    best_sk, best_score = None, -np.inf
    for t in res["trials"]:
        C = t["params"]["C"]
        sc = {"roc_auc": [], "accuracy": [], "log_loss": [], "f1": []}
        for tr, va in folds_iter(fold):
            m = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X[tr], y[tr])
            pr = m.predict_proba(X[va])
            pred = m.classes_[pr.argmax(axis=1)]
            if n_classes == 2:
                sc["roc_auc"].append(roc_auc_score(y[va], pr[:, 1]))
                sc["f1"].append(f1_score(y[va], pred, pos_label=classes[1]))
            else:
                sc["roc_auc"].append(roc_auc_score(y[va], pr, multi_class="ovr", average="macro", labels=classes))
                sc["f1"].append(f1_score(y[va], pred, average="macro"))
            sc["accuracy"].append(accuracy_score(y[va], pred))
            sc["log_loss"].append(log_loss(y[va], pr, labels=classes))
        for metric_name, ref in sc.items():
            got = t["fold_scores"][metric_name]
            for k, (a, b) in enumerate(zip(got, ref)):
                ck.check(hftest.rel_close(a, b, 1e-4, 1e-6),
                         "%s C=%g fold %d %s: hyperfold %r sklearn %r" % (name, C, k, metric_name, a, b))
        mean = float(np.mean(sc["roc_auc"]))
        if mean > best_score + 1e-12:
            best_sk, best_score = C, mean
    ck.check(res["best"]["params"]["C"] == best_sk,
             "%s best C: hyperfold %r sklearn %r" % (name, res["best"]["params"]["C"], best_sk))


logistic_case(2, "logit-binary")
logistic_case(3, "logit-multi")
ck.done()
