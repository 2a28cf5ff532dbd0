#!/usr/bin/python3
"""preprocess.log1p against scikit-learn: log(1 + x) of every numeric column before imputation,
fitted inside each fold, equals a Pipeline of FunctionTransformer(np.log1p), SimpleImputer(mean)
and StandardScaler before Ridge on the same folds (fold scores to 1e-6), with the
documented rule that values at or below -1 become missing (the reference sets them to NaN before
np.log1p). The model exported with log1p predicts what the scikit-learn pipeline predicts (1e-6,
rows with missing and out-of-domain values included), and a search over log1p [false, true] picks
log1p for a target that is linear in log(1 + x)."""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("log1p_peer")
work = hftest.tempdir("log1p-peer-")
rng = np.random.default_rng(41)
n = 400
X = np.column_stack([rng.lognormal(1.0, 1.0, n), rng.exponential(3.0, n), rng.gamma(2.0, 2.0, n)])
y = 2.0 * np.log1p(X[:, 0]) - 1.5 * np.log1p(X[:, 1]) + np.log1p(X[:, 2]) + rng.normal(0, 0.2, n)
df = pd.DataFrame(X, columns=["a", "b", "c"])
df.loc[rng.choice(n, 20, replace=False), "b"] = np.nan  # missing values
df.loc[rng.choice(n, 6, replace=False), "c"] = -3.0     # out of log1p's domain: missing
df["y"] = y
df["fold"] = np.arange(n) % 4
csv = os.path.join(work, "d.csv")
df.to_csv(csv, index=False, float_format="%.17g")
FEATS = ["a", "b", "c"]


def reference(tr):
    """The scikit-learn pipeline of the documented rule, fitted on the rows tr."""
    p = make_pipeline(FunctionTransformer(np.log1p), SimpleImputer(strategy="mean"),
                      StandardScaler(), Ridge(alpha=1.0))
    return p.fit(domain(df.loc[tr, FEATS]), df.loc[tr, "y"])


def domain(frame):
    f = frame.to_numpy(dtype=float).copy()
    f[f <= -1.0] = np.nan
    return f


d = os.path.join(work, "fixed")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), """name: l
data: {source: %s, target: y}
cv: {strategy: predefined, fold_column: fold}
preprocess: {log1p: true, scale: standard}
model: {type: ridge, params: {alpha: [1.0]}}
output: {dir: out}
""" % csv)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
r = hftest.load_results(os.path.join(d, "out", "l"))
got = r["trials"][0]["fold_scores"]["r2"]
for f in range(4):
    tr, va = df["fold"] != f, df["fold"] == f
    want = r2_score(df.loc[va, "y"], reference(tr).predict(domain(df.loc[va, FEATS])))
    ck.check(hftest.rel_close(got[f], want, 1e-6), "fold %d: r2 %r vs scikit-learn %r" % (f, got[f], want))
# The refit on every row, exported and applied by predict.
pred_csv = os.path.join(d, "pred.csv")
hftest.hyperfold(["predict", "--model", "out/l/model.h5", "--input", csv, "--output", pred_csv,
                  "--quiet"], np=2, cwd=d)
got_p = pd.read_csv(pred_csv)["prediction"].to_numpy()
want_p = reference(np.ones(n, dtype=bool)).predict(domain(df[FEATS]))
worst = np.max(np.abs(got_p - want_p) / np.maximum(np.abs(want_p), 1.0))
ck.check(worst < 1e-6, "predict with the log1p model equals scikit-learn's pipeline (%.3g)" % worst)

# Searched: log1p wins on a target linear in log(1 + x).
d = os.path.join(work, "search")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), """name: s
data: {source: %s, target: y}
cv: {strategy: predefined, fold_column: fold}
preprocess: {log1p: [false, true], scale: standard}
model: {type: ridge, params: {alpha: [1.0]}}
output: {dir: out}
""" % csv)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
r = hftest.load_results(os.path.join(d, "out", "s"))
ck.check(len(r["trials"]) == 2, "two trials (log1p false, true)")
ck.check(r["best"]["params"]["preprocess.log1p"] is True,
         "log1p is selected: %s" % [(t["params"], t["mean"]) for t in r["trials"]])
ck.done()
