#!/usr/bin/python3
"""Peer test (issue 3): on data with categorical columns and missing values, with predefined folds,
hyperfold's per-fold scores equal scikit-learn's
Pipeline(ColumnTransformer(SimpleImputer+StandardScaler, SimpleImputer+OneHotEncoder), LogisticRegression)
to 1e-4 for several values of C, and the same C is selected. Preprocessing is fitted on each fold's
training rows only on both sides."""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("pipeline_sweep_peer")
work = hftest.tempdir("pipe-")
rng = np.random.default_rng(2024)
n = 900
df = pd.DataFrame({
    "tenure": rng.gamma(2.0, 12.0, n),
    "charges": rng.normal(70, 25, n),
    "age": rng.integers(18, 90, n).astype(float),
    "plan": rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2]),
    "region": rng.choice(["north", "south", "east", "west", "islands"], n, p=[0.3, 0.3, 0.2, 0.15, 0.05]),
})
logit = (-0.04 * df["tenure"] + 0.02 * (df["charges"] - 70) + 0.8 * (df["plan"] == "basic")
         - 0.5 * (df["region"] == "south") + rng.normal(0, 1, n))
df["churn"] = np.where(logit > -0.3, "yes", "no")
for col, k in (("tenure", 60), ("charges", 45), ("plan", 50), ("region", 30)):
    df.loc[rng.choice(n, k, replace=False), col] = np.nan
df["fold"] = rng.integers(0, 4, n)
df.to_csv(os.path.join(work, "churn.csv"), index=False, float_format="%.17g")
Cs = [0.01, 0.1, 1.0, 10.0]
hftest.write(os.path.join(work, "job.yaml"), """name: churn
data: {source: churn.csv, target: churn}
cv: {strategy: predefined, fold_column: fold}
preprocess:
  impute: {numeric: mean, categorical: most_frequent}
  scale: standard
  categorical: onehot
model:
  type: logistic_regression
  params:
    C: [%s]
    max_iter: 10000
    tol: 1.0e-10
search: {strategy: grid}
objective: {metric: log_loss, report: [accuracy, roc_auc]}
output: {dir: out}
""" % ", ".join(repr(c) for c in Cs))
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=work)
res = hftest.load_results(os.path.join(work, "out", "churn"))

num, cat = ["tenure", "charges", "age"], ["plan", "region"]
X = df[num + cat]
y = df["churn"].to_numpy()
fold = df["fold"].to_numpy()
best, best_score = None, np.inf
for t in res["trials"]:
    C = t["params"]["C"]
    sc = {"log_loss": [], "accuracy": [], "roc_auc": []}
    for f in sorted(np.unique(fold)):
        tr, va = fold != f, fold == f
        pipe = Pipeline([
            ("prep", ColumnTransformer([
                ("num", Pipeline([("imp", SimpleImputer(strategy="mean")), ("sc", StandardScaler())]), num),
                ("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                                  ("oh", OneHotEncoder(handle_unknown="ignore"))]), cat)])),
            ("lr", LogisticRegression(C=C, tol=1e-10, max_iter=10000))])
        pipe.fit(X[tr], y[tr])
        pr = pipe.predict_proba(X[va])
        sc["log_loss"].append(log_loss(y[va], pr, labels=pipe.classes_))
        sc["accuracy"].append(accuracy_score(y[va], pipe.classes_[pr.argmax(axis=1)]))
        sc["roc_auc"].append(roc_auc_score(y[va], pr[:, 1]))
    for m, ref in sc.items():
        for k, (a, b) in enumerate(zip(t["fold_scores"][m], ref)):
            ck.check(hftest.rel_close(a, b, 1e-4, 1e-6), "C=%g fold %d %s: hyperfold %r sklearn %r" % (C, k, m, a, b))
    mean = float(np.mean(sc["log_loss"]))
    if mean < best_score:
        best, best_score = C, mean
ck.check(res["best"]["params"]["C"] == best, "same C selected: hyperfold %r sklearn %r" % (res["best"]["params"]["C"], best))
ck.done()
