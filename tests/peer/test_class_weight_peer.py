#!/usr/bin/python3
"""Peer test: logistic_regression's class_weight balanced against scikit-learn's
LogisticRegression(class_weight="balanced") on the same predefined folds.

Imbalanced binary (about 1 in 8 positive) and 4-class targets, C searched, class_weight searched
as [none, balanced], trials of different C fitted in lock-step:
- every per-fold log_loss / accuracy / balanced_accuracy equals the exact optimum of scikit-learn's
  weighted objective (hftest.LogisticOptimum with the sample weights scikit-learn derives:
  n / (classes x rows of the class) over each fold's training rows) to 1e-6 relative, and
  LogisticRegression(class_weight="balanced") itself lands within 1e-3 of that optimum's
  probabilities (the same objective);
- balanced weighting raises the minority class's recall on every fold (what it is for);
- the same results at 1 and 2 ranks; the refit's probabilities (hyperfold predict) equal the
  weighted optimum on every row to 1e-6."""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss, recall_score
from sklearn.utils.class_weight import compute_sample_weight

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("class_weight_peer")
work = hftest.tempdir("peer-cw-")
rng = np.random.default_rng(8)
n, p = 480, 5
X = rng.normal(size=(n, p)) * [1.0, 2.0, 0.5, 1.5, 1.0]
z = X @ [0.8, -0.4, 1.2, 0.2, 0.0]
fold = rng.integers(0, 3, size=n)
targets = {"bin": np.where(z + rng.logistic(size=n) > 3.0, "yes", "no"),
           "multi": np.array(["a", "b", "c", "d"])[np.digitize(z + 0.7 * rng.normal(size=n),
                                                               [-2.5, 1.0, 2.5])]}
new = pd.DataFrame(rng.normal(size=(20, p)), columns=["x%d" % j for j in range(p)])
new.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g")

for name, y in targets.items():
    df = pd.DataFrame(X, columns=["x%d" % j for j in range(p)])
    df["fold"], df["y"] = fold, y
    df.to_csv(os.path.join(work, name + ".csv"), index=False, float_format="%.17g")
    res = {}
    for ranks in (1, 2):
        spec = os.path.join(work, "%s-%d.yaml" % (name, ranks))
        hftest.write(spec, """name: %s
data: {source: %s.csv, target: y}
cv: {strategy: predefined, fold_column: fold}
model:
  type: logistic_regression
  params: {C: [0.1, 1.0, 10.0], class_weight: [none, balanced], max_iter: 10000, tol: 1.0e-10}
search: {strategy: grid}
objective: {metric: log_loss, report: [accuracy, balanced_accuracy]}
output: {dir: out-%d}
""" % (name, name, ranks))
        hftest.hyperfold(["run", spec, "--quiet"], np=ranks, cwd=work)
        res[ranks] = hftest.load_results(os.path.join(work, "out-%d" % ranks, name))
    ck.check(hftest.same_trials(res[1], res[2]), "%s: the same trials at 1 and 2 ranks" % name)
    r = res[1]
    classes = sorted(set(y))
    minority = min(classes, key=lambda c: (y == c).sum())
    recalls = {}
    for t in r["trials"]:
        tp = t["params"]
        balanced = tp["class_weight"] == "balanced"
        for k in range(3):
            tr, va = np.where(fold != k)[0], np.where(fold == k)[0]
            sw = compute_sample_weight("balanced", y[tr]) if balanced else None
            o = hftest.LogisticOptimum(X[tr], y[tr], C=tp["C"], check=False, sample_weight=sw)
            pr = o.predict_proba(X[va])
            lab = o.classes_[np.argmax(pr, axis=1)]
            ref = {"log_loss": log_loss(y[va], pr, labels=o.classes_),
                   "accuracy": accuracy_score(y[va], lab),
                   "balanced_accuracy": balanced_accuracy_score(y[va], lab)}
            for mname, want in ref.items():
                got = t["fold_scores"][mname][k]
                ck.check(hftest.rel_close(got, want, 1e-6, 1e-12), "%s %s split %d %s: hyperfold "
                         "%r, the weighted optimum %r" % (name, tp, k, mname, got, want))
            sk = LogisticRegression(C=tp["C"], class_weight="balanced" if balanced else None,
                                    max_iter=10000, tol=1e-10).fit(X[tr], y[tr])
            far = np.abs(sk.predict_proba(X[va]) - pr).max()
            ck.check(far < 1e-3, "%s %s split %d: LogisticRegression is %g from the weighted "
                     "optimum" % (name, tp, k, far))
            recalls[(tp["C"], balanced, k)] = recall_score(y[va], lab, labels=[minority],
                                                           average="macro")
    for C in (0.1, 1.0, 10.0):
        for k in range(3):
            ck.check(recalls[(C, True, k)] >= recalls[(C, False, k)], "%s C=%g split %d: balanced "
                     "recall of %s %g < unweighted %g" % (name, C, k, minority,
                                                          recalls[(C, True, k)],
                                                          recalls[(C, False, k)]))
    bt = r["trials"][r["best"]["trial"]]["params"]
    sw = compute_sample_weight("balanced", y) if bt["class_weight"] == "balanced" else None
    o = hftest.LogisticOptimum(X, y, C=bt["C"], check=False, sample_weight=sw)
    out = os.path.join(work, name + "-pred.csv")
    hftest.hyperfold(["predict", "--model", os.path.join(work, "out-1", name, "model.h5"),
                      "--input", "new.csv", "--output", out, "--quiet"], np=1, cwd=work)
    got = pd.read_csv(out)[["proba_%s" % c for c in o.classes_]].to_numpy()
    ck.check(np.allclose(got, o.predict_proba(new.to_numpy()), rtol=0, atol=1e-6),
             "%s: refit probabilities (best %s) equal the weighted optimum's" % (name, bt))
ck.done()
