#!/usr/bin/python3
"""Issue 11, defect 4: a missing value that falls only in a validation fold is imputed with the
statistics of the training rows, with the default preprocessing (no scaling) as with every other.

Missing values are put only into the rows of predefined fold 0, so split 0 trains on no missing
value and validates all of them, while the other splits train on them. Ridge and logistic
regression (default preprocessing: mean imputation, no scaling; then median imputation with
standard scaling) must give scikit-learn's per-fold scores (SimpleImputer fitted on the training
rows, then the model) to 1e-6 relative, and no trial may fail. Before the fix every trial of split
0 failed with "prediction ... is nan" when scaling was off."""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import log_loss, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("valid_nan_peer")
work = hftest.tempdir("peer-valid-nan-")
rng = np.random.default_rng(404)
n, p = 240, 5
X = rng.normal(size=(n, p)) * [1, 3, 0.5, 2, 1] + [0, 5, -1, 2, 0]
fold = np.arange(n) % 3
y_reg = X @ [1.0, -0.5, 2.0, 0.3, 0.0] + rng.normal(scale=0.3, size=n)
y_cls = np.where(X @ [1.0, -0.2, 1.0, 0.5, 0.0] + rng.logistic(size=n) > 0.5, "a", "b")
Xm = X.copy()
in_fold0 = np.where(fold == 0)[0]
for j in range(p):  # about a quarter of fold 0's rows lose each column's value
    Xm[rng.choice(in_fold0, size=20, replace=False), j] = np.nan
ck.check(not np.isnan(Xm[fold != 0]).any(), "missing values only in fold 0")


def folds():
    for f in range(3):
        yield f, np.where(fold != f)[0], np.where(fold == f)[0]


def run(name, y, model, params, metric, prep):
    df = pd.DataFrame(Xm, columns=["x%d" % j for j in range(p)])
    df["fold"], df["y"] = fold, y
    df.to_csv(os.path.join(work, name + ".csv"), index=False, float_format="%.17g", na_rep="")
    spec = os.path.join(work, name + ".yaml")
    hftest.write(spec, """name: %s
data: {source: %s.csv, target: y}
cv: {strategy: predefined, fold_column: fold}
%s
model: {type: %s, params: {%s}}
search: {strategy: grid}
objective: {metric: %s}
output: {dir: out}
""" % (name, name, prep, model, params, metric))
    hftest.hyperfold(["run", spec, "--quiet"], np=2, cwd=work)
    res = hftest.load_results(os.path.join(work, "out", name))
    ck.check(res["n_failed_trials"] == 0, "%s: %d trials failed" % (name, res["n_failed_trials"]))
    return res


for prep, strategy, scale in (("", "mean", False),
                              ("preprocess: {impute: {numeric: median}, scale: standard}", "median",
                               True)):
    res = run("ridge-" + strategy, y_reg, "ridge", "alpha: [0.1, 10]", "r2", prep)
    for t in res["trials"]:
        for f, tr, va in folds():
            steps = [SimpleImputer(strategy=strategy)] + ([StandardScaler()] if scale else [])
            m = make_pipeline(*steps, Ridge(alpha=t["params"]["alpha"])).fit(Xm[tr], y_reg[tr])
            ref = r2_score(y_reg[va], m.predict(Xm[va]))
            got = t["fold_scores"]["r2"][f]
            ck.check(hftest.rel_close(got, ref, 1e-6), "ridge %s alpha %g split %d: r2 %r, "
                     "scikit-learn %r" % (strategy, t["params"]["alpha"], f, got, ref))
    res = run("logistic-" + strategy, y_cls, "logistic_regression",
              "C: [0.1, 1], max_iter: 10000, tol: 1.0e-10", "log_loss", prep)
    for t in res["trials"]:
        for f, tr, va in folds():
            steps = [SimpleImputer(strategy=strategy)] + ([StandardScaler()] if scale else [])
            pre = make_pipeline(*steps).fit(Xm[tr])
            o = hftest.LogisticOptimum(pre.transform(Xm[tr]), y_cls[tr], C=t["params"]["C"])
            ref = log_loss(y_cls[va], o.predict_proba(pre.transform(Xm[va])), labels=o.classes_)
            got = t["fold_scores"]["log_loss"][f]
            ck.check(hftest.rel_close(got, ref, 1e-6), "logistic %s C %g split %d: log_loss %r, "
                     "the optimum's %r" % (strategy, t["params"]["C"], f, got, ref))
ck.done()
