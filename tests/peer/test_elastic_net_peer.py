#!/usr/bin/python3
"""Peer test: elastic_net against scikit-learn's ElasticNet (and Lasso, l1_ratio 1) on the same
predefined folds.

A grid of alpha (shared work: one centred copy per fold) x l1_ratio x fit_intercept, on data
with correlated columns, columns on different scales and a constant column, at scikit-learn's
default tol and at a tight one, and with a max_iter too small to converge:
- every per-fold r2 / rmse / mae equals ElasticNet's to 1e-6 relative, and the coordinate-descent
  sweeps each fold took (results.json n_iter) equal ElasticNet's n_iter_;
- `converged` is false exactly where ElasticNet warns (ConvergenceWarning), and the run prints
  one warning line counting those trials;
- the refit's predictions (hyperfold predict) equal ElasticNet refitted on every row to 1e-6;
- the same results at 1 and 3 ranks."""
import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("elastic_net_peer")
work = hftest.tempdir("peer-enet-")
rng = np.random.default_rng(31)
n, p = 300, 12
L = rng.normal(size=(n, 3))
X = L @ rng.normal(size=(3, p)) + 0.3 * rng.normal(size=(n, p))
X = X * rng.uniform(0.2, 20.0, size=p) + rng.normal(size=p) * 5
X[:, 5] = 2.5  # constant: skipped by the sweeps
w_true = np.zeros(p)
w_true[[0, 3, 7]] = [1.5, -0.4, 0.08]
y = X @ w_true + 4.0 + rng.normal(size=n)
fold = rng.integers(0, 4, size=n)
df = pd.DataFrame(X, columns=["x%d" % j for j in range(p)])
df["fold"], df["y"] = fold, y
df.to_csv(os.path.join(work, "data.csv"), index=False, float_format="%.17g")
new = pd.DataFrame(rng.normal(size=(30, p)) * X.std(axis=0) + X.mean(axis=0), columns=df.columns[:p])
new.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g")


def sk_fit(Xt, yt, t):
    m = ElasticNet(alpha=t["alpha"], l1_ratio=t["l1_ratio"], fit_intercept=t["fit_intercept"],
                   max_iter=t["max_iter"], tol=t["tol"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(Xt, yt)
    return m, any(issubclass(w.category, ConvergenceWarning) for w in caught)


for name, extra in (("enet-default", ""), ("enet-tight", "tol: 1.0e-9, max_iter: 100000"),
                    ("enet-short", "max_iter: 3")):
    spec = os.path.join(work, name + "-%d.yaml")
    results = {}
    for ranks in (1, 3):
        hftest.write(spec % ranks, """name: %s
data: {source: data.csv, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
model:
  type: elastic_net
  params: {alpha: [0.01, 0.3, 5.0], l1_ratio: [0.2, 1.0], fit_intercept: [true, false]%s}
search: {strategy: grid}
objective: {metric: r2, report: [rmse, mae]}
output: {dir: out-%d}
""" % (name, (", " + extra) if extra else "", ranks))
        p_run = hftest.hyperfold(["run", spec % ranks], np=ranks, cwd=work)
        results[ranks] = hftest.load_results(os.path.join(work, "out-%d" % ranks, name))
    res = results[1]
    ck.check(hftest.same_trials(res, results[3]), "%s: the same trials at 1 and 3 ranks" % name)
    unconverged = 0
    for t in res["trials"]:
        tp = t["params"]
        warned_any = False
        iters = []
        for k in range(4):
            tr, va = np.where(fold != k)[0], np.where(fold == k)[0]
            m, warned = sk_fit(X[tr], y[tr], tp)
            warned_any |= warned
            iters.append(m.n_iter_)
            pr = m.predict(X[va])
            for mname, ref in (("r2", r2_score(y[va], pr)),
                               ("rmse", mean_squared_error(y[va], pr, squared=False)),
                               ("mae", mean_absolute_error(y[va], pr))):
                got = t["fold_scores"][mname][k]
                ck.check(hftest.rel_close(got, ref, 1e-6, 1e-12),
                         "%s %s split %d %s: hyperfold %r, ElasticNet %r" % (
                             name, json.dumps(tp), k, mname, got, ref))
        ck.check(t["n_iter"] == iters, "%s %s: sweeps %r, ElasticNet's n_iter_ %r" % (
            name, json.dumps(tp), t["n_iter"], iters))
        ck.check(t["converged"] == (not warned_any), "%s %s: converged %r, ElasticNet warned %r" % (
            name, json.dumps(tp), t["converged"], warned_any))
        unconverged += not t["converged"]
    lines = [ln for ln in p_run.stderr.splitlines() if "trials did not converge" in ln]
    ck.check((len(lines) == 1) == (unconverged > 0), "%s: %d unconverged trials, warning lines %r"
             % (name, unconverged, lines))
    # The refit: every row, the best trial.
    bt = res["trials"][res["best"]["trial"]]["params"]
    m, _ = sk_fit(X, y, bt)
    out = os.path.join(work, name + "-pred.csv")
    hftest.hyperfold(["predict", "--model", os.path.join(work, "out-1", name, "model.h5"),
                      "--input", "new.csv", "--output", out, "--quiet"], np=2, cwd=work)
    got = pd.read_csv(out)["prediction"].to_numpy()
    ck.check(np.allclose(got, m.predict(new.to_numpy()), rtol=1e-6, atol=1e-6),
             "%s: predictions of the refit equal ElasticNet's on every row" % name)
ck.done()
