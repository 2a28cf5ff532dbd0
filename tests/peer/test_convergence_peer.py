#!/usr/bin/python3
"""Non-convergence is reported as scikit-learn reports it. A logistic sweep on the breast cancer
data, unscaled and scaled, with max_iter 3 and 1000, on the same predefined folds: for every trial
and fold, hyperfold's results.json says the fit did not converge (stop "max_iter", n_iter equal to
max_iter) exactly where scikit-learn's LogisticRegression issues a ConvergenceWarning with n_iter_
equal to max_iter, and converged where scikit-learn converges; trials.csv carries n_iter and
converged; the run prints one warning line naming how many trials hit max_iter."""
import csv
import os
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("convergence_peer")
work = hftest.tempdir("convergence-")
df = pd.read_csv(os.path.join(hftest.SOURCE_DIR, "examples", "data", "breast_cancer.csv"),
                 float_precision="round_trip")
df["fold"] = np.arange(len(df)) % 3
csv_path = os.path.join(work, "bc.csv")
df.to_csv(csv_path, index=False, float_format="%.17g")
feats = [c for c in df.columns if c not in ("diagnosis", "fold")]

for scale in ("none", "standard"):
    d = os.path.join(work, scale)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), """name: c
data: {source: %s, target: diagnosis}
cv: {strategy: predefined, fold_column: fold}
preprocess: {scale: %s}
model: {type: logistic_regression, params: {C: [1.0], max_iter: [3, 1000]}}
output: {dir: out}
""" % (csv_path, scale))
    p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
    r = hftest.load_results(os.path.join(d, "out", "c"))
    warned = [l for l in p.stderr.splitlines() if "did not converge on at least one split" in l]
    n_unconv = 0
    for t in r["trials"]:
        max_iter = t["params"]["max_iter"]
        trial_conv = True
        for f in range(3):
            tr, va = df["fold"] != f, df["fold"] == f
            Xtr = df.loc[tr, feats]
            if scale == "standard":
                Xtr = (Xtr - Xtr.mean()) / Xtr.std(ddof=0)
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                m = LogisticRegression(C=1.0, max_iter=max_iter, tol=1e-4).fit(Xtr, df.loc[tr, "diagnosis"])
            sk_conv = not any(issubclass(x.category, ConvergenceWarning) for x in w)
            hf_conv = t["stop"][f] == "converged"
            trial_conv &= hf_conv
            ck.check(hf_conv == sk_conv, "scale %s max_iter %d fold %d: hyperfold %s, scikit-learn %s" % (
                scale, max_iter, f, t["stop"][f], "converged" if sk_conv else "ConvergenceWarning"))
            if not sk_conv:
                ck.check(t["n_iter"][f] == max_iter == m.n_iter_[0],
                         "scale %s max_iter %d fold %d: n_iter %r, scikit-learn %r" % (
                             scale, max_iter, f, t["n_iter"][f], m.n_iter_[0]))
        ck.check(t["converged"] == trial_conv, "trial %d converged flag" % t["trial"])
        n_unconv += not trial_conv
    ck.check(r["convergence"]["unconverged_trials"] == n_unconv, "%s: unconverged count" % scale)
    if n_unconv:
        ck.check(len(warned) == 1 and ("%d of 2 trials" % n_unconv) in warned[0]
                 and "max_iter" in warned[0], "%s: one warning line: %r" % (scale, warned))
    else:
        ck.check(not warned, "%s: no warning when every trial converged" % scale)
    with open(os.path.join(d, "out", "c", "trials.csv")) as f:
        rows = list(csv.DictReader(f))
    for row, t in zip(rows, r["trials"]):
        ck.check(row["converged"] == ("true" if t["converged"] else "false"), "trials.csv converged")
        ck.check(float(row["n_iter"]) == max(t["n_iter"]), "trials.csv n_iter is the most iterations")
ck.done()
