#!/usr/bin/python3
"""Peer test: preprocess.target_transform log1p against scikit-learn's
TransformedTargetRegressor(func=np.log1p, inverse_func=np.expm1) on the same predefined folds.

A skewed positive target (a price-like lognormal, 5,000 rows) with ridge (rows read in place on
a table large enough for its table-Gram shortcut, which must not see the untransformed target:
it did, and every log1p trial failed with inf predictions), elastic_net and xgboost (early stopping on the
transformed scale), the transform searched as [none, log1p]:
- every per-fold r2 / rmse / mae equals scikit-learn's (the scores on the target's own scale) to
  1e-6 relative (xgboost: against xgboost.train on log1p(y), mapped back with expm1);
- the refit's predictions (hyperfold predict) and the holdout scores are on the target's scale;
- validate refuses log1p for a classification target and for a target with a value <= -1, with
  one line naming preprocess.target_transform."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("target_transform_peer")
work = hftest.tempdir("peer-target-")
rng = np.random.default_rng(77)
n, p = 5000, 6
X = rng.normal(size=(n, p)) * [1.0, 2.0, 0.5, 1.0, 3.0, 1.0]
y = np.exp(1.0 + X @ [0.4, -0.2, 0.8, 0.0, 0.1, 0.3] + 0.3 * rng.normal(size=n)) * 1000.0
fold = rng.integers(0, 4, size=n)
df = pd.DataFrame(X, columns=["x%d" % j for j in range(p)])
df["fold"], df["price"] = fold, y
df.to_csv(os.path.join(work, "data.csv"), index=False, float_format="%.17g")
new = pd.DataFrame(rng.normal(size=(25, p)), columns=df.columns[:p])
new.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g")


def scores(yt, pr):
    return {"r2": r2_score(yt, pr), "rmse": mean_squared_error(yt, pr, squared=False),
            "mae": mean_absolute_error(yt, pr)}


def xgb_model(Xt, yt, t):
    import xgboost as xgb
    xgb.set_config(verbosity=0)
    bst = xgb.train({"tree_method": "hist", "nthread": 1, "max_depth": t["max_depth"], "eta": 0.3,
                     "seed": 0}, xgb.DMatrix(Xt.astype(np.float32), label=yt), t["n_estimators"])
    return lambda Z: bst.predict(xgb.DMatrix(Z.astype(np.float32))).astype(float)


def reference(model, t, Xt, yt):
    """A predict function on the target's scale, as scikit-learn (or xgboost) fits the trial."""
    log = t["preprocess.target_transform"] == "log1p"
    if model == "xgboost":
        f = xgb_model(Xt, np.log1p(yt) if log else yt, t)
        return (lambda Z: np.expm1(f(Z))) if log else f
    est = Ridge(alpha=t["alpha"]) if model == "ridge" else \
        ElasticNet(alpha=t["alpha"], l1_ratio=0.5, max_iter=100000, tol=1e-10)
    if log:
        est = TransformedTargetRegressor(regressor=est, func=np.log1p, inverse_func=np.expm1,
                                         check_inverse=False)
    return est.fit(Xt, yt).predict


for model, params in (("ridge", "alpha: [0.1, 10.0]"),
                      ("elastic_net", "alpha: [0.001, 0.1], l1_ratio: 0.5, max_iter: 100000, "
                                      "tol: 1.0e-10"),
                      ("xgboost", "n_estimators: [5, 20], max_depth: 3, n_jobs: 1")):
    name = "tt-" + model
    hftest.write(os.path.join(work, name + ".yaml"), """name: %s
data: {source: data.csv, target: price, task: regression}
cv: {strategy: predefined, fold_column: fold}
preprocess: {target_transform: [none, log1p]}
model: {type: %s, params: {%s}}
search: {strategy: grid}
objective: {metric: rmse, report: [r2, mae]}
output: {dir: out}
""" % (name, model, params))
    hftest.hyperfold(["run", name + ".yaml", "--quiet"], np=2, cwd=work)
    res = hftest.load_results(os.path.join(work, "out", name))
    ck.check(res["n_failed_trials"] == 0, "%s: %d trials failed" % (name, res["n_failed_trials"]))
    logs = 0
    for t in res["trials"]:
        tp = t["params"]
        logs += tp["preprocess.target_transform"] == "log1p"
        for k in range(4):
            tr, va = np.where(fold != k)[0], np.where(fold == k)[0]
            ref = scores(y[va], reference(model, tp, X[tr], y[tr])(X[va]))
            for mname, b in ref.items():
                a = t["fold_scores"][mname][k]
                ck.check(a is not None and hftest.rel_close(a, b, 1e-6, 1e-12), "%s %s split %d %s: hyperfold %r, "
                         "reference %r" % (name, tp, k, mname, a, b))
    ck.check(logs == len(res["trials"]) // 2, "%s: half the trials transform the target" % name)
    bt = res["trials"][res["best"]["trial"]]["params"]
    out = os.path.join(work, name + "-pred.csv")
    hftest.hyperfold(["predict", "--model", os.path.join(work, "out", name, "model.h5"), "--input",
                      "new.csv", "--output", out, "--quiet"], np=2, cwd=work)
    got = pd.read_csv(out)["prediction"].to_numpy()
    want = reference(model, bt, X, y)(new.to_numpy())
    ck.check(np.allclose(got, want, rtol=1e-6, atol=1e-6), "%s: predictions on the target's scale "
             "(best %s): %r vs %r" % (name, bt, got[:3], want[:3]))

# Refusals: a classification target; a target value <= -1.
df2 = df.copy()
df2["label"] = np.where(y > np.median(y), "high", "low")
df2.to_csv(os.path.join(work, "cls.csv"), index=False, float_format="%.17g")
df3 = df.copy()
df3.loc[17, "price"] = -1.0
df3.to_csv(os.path.join(work, "neg.csv"), index=False, float_format="%.17g")
for src, target, what in (("cls.csv", "label", "classification"), ("neg.csv", "price", "-1")):
    spec = os.path.join(work, "bad-%s.yaml" % target)
    hftest.write(spec, """name: bad
data: {source: %s, target: %s, drop: [%s]}
preprocess: {target_transform: log1p}
model: {type: xgboost}
output: {dir: out}
""" % (src, target, "price" if target == "label" else "fold"))
    for cmd in (["validate", spec], ["run", spec, "--quiet"]):
        pr = subprocess.run([hftest.HYPERFOLD] + cmd, cwd=work, env=hftest.env(),
                            capture_output=True, text=True)
        lines = [ln for ln in pr.stderr.splitlines() if ln.strip()]
        ck.check(pr.returncode == 2 and len(lines) == 1 and "preprocess.target_transform" in lines[0]
                 and what in lines[0], "%s on %s: exit %d, %r" % (cmd[0], what, pr.returncode, lines))
ck.done()
