#!/usr/bin/python3
"""Every classification metric against scikit-learn's function on the same predictions: a logistic
sweep (binary and 4-class targets, predefined folds, standard scaling) reports accuracy,
balanced_accuracy, roc_auc, log_loss and f1 on every fold; scikit-learn's LogisticRegression on the
same folds, scored with accuracy_score, balanced_accuracy_score, roc_auc_score (binary: the
positive class; multiclass: macro one-vs-rest), log_loss and f1_score (binary; multiclass: macro
over every class) must give the same numbers to 1e-6. The classes are imbalanced so that
balanced_accuracy differs from accuracy."""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, f1_score, log_loss,
                             roc_auc_score)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("metrics_peer")
work = hftest.tempdir("metrics-peer-")
rng = np.random.default_rng(31)
n = 600
X = rng.normal(size=(n, 5))
logits = X @ rng.normal(size=(5, 4)) + np.array([2.0, 0.5, 0.0, -1.0])
y4 = np.argmax(logits + rng.gumbel(size=(n, 4)), axis=1)
y2 = (X[:, 0] + 0.5 * rng.normal(size=n) > 0.8).astype(int)  # about one row in four is positive
FEATS = ["a", "b", "c", "d", "e"]
df = pd.DataFrame(X, columns=FEATS)
df["y2"], df["y4"], df["fold"] = y2, y4, np.arange(n) % 3
csv = os.path.join(work, "d.csv")
df.to_csv(csv, index=False, float_format="%.17g")
METRICS = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "f1"]

for target, other in (("y2", "y4"), ("y4", "y2")):
    d = os.path.join(work, target)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), """name: m
data: {source: %s, target: %s, drop: [%s]}
cv: {strategy: predefined, fold_column: fold}
preprocess: {scale: standard}
model: {type: logistic_regression, params: {C: [0.5]}}
objective: {metric: balanced_accuracy, report: [accuracy, roc_auc, log_loss, f1]}
output: {dir: out}
""" % (csv, target, other))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
    r = hftest.load_results(os.path.join(d, "out", "m"))
    ck.check(r["metric"] == "balanced_accuracy" and r["direction"] == "maximize",
             "%s: balanced_accuracy is the objective, maximised" % target)
    fs = r["trials"][0]["fold_scores"]
    for f in range(3):
        tr, va = df["fold"] != f, df["fold"] == f
        mu, sd = df.loc[tr, FEATS].mean(), df.loc[tr, FEATS].std(ddof=0)
        m = LogisticRegression(C=0.5, max_iter=100, tol=1e-4).fit((df.loc[tr, FEATS] - mu) / sd,
                                                                  df.loc[tr, target])
        Xv, yv = (df.loc[va, FEATS] - mu) / sd, df.loc[va, target]
        P = m.predict_proba(Xv)
        pred = m.classes_[np.argmax(P, axis=1)]
        binary = P.shape[1] == 2
        want = {
            "accuracy": accuracy_score(yv, pred),
            "balanced_accuracy": balanced_accuracy_score(yv, pred),
            "roc_auc": roc_auc_score(yv, P[:, 1]) if binary else
            roc_auc_score(yv, P, multi_class="ovr", average="macro"),
            "log_loss": log_loss(yv, P, labels=m.classes_),
            "f1": f1_score(yv, pred) if binary else
            f1_score(yv, pred, average="macro", labels=m.classes_),
        }
        for name in METRICS:
            ck.check(hftest.rel_close(fs[name][f], want[name], 1e-6),
                     "%s fold %d %s: %r vs scikit-learn %r" % (target, f, name, fs[name][f],
                                                              want[name]))
        ck.check(abs(want["balanced_accuracy"] - want["accuracy"]) > 1e-3,
                 "%s fold %d: the data tell balanced accuracy from accuracy" % (target, f))
ck.done()
