#!/usr/bin/python3
"""preprocess.train_fraction (the row budget Hyperband and ASHA give ridge, kernel_ridge and PCA)
against scikit-learn: with fraction f each split's pipeline and model are fitted on ceil(f n) of
its n training rows, the first of the permutation hf_rng_init("tranfrac", split, 0) shuffles
them into (reproduced with tests/matrix/hfsplits.py), and scored on every validation row: the fold
scores of ridge and of standard scaling + PCA + kernel ridge equal scikit-learn's fitted on those
rows, for fractions 1/27 to 1, to 1e-8. Smaller fractions' rows are subsets of larger ones'. A
kernel ridge Hyperband study over the fraction is the same at 1 and 2 ranks, its full-budget
trials use every row, and its refit on every search row predicts as KernelRidge does."""
import math
import os
import sys

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "matrix"))
import hftest  # noqa: E402
import hfsplits  # noqa: E402

ck = hftest.Checker("train_fraction_peer")
work = hftest.tempdir("train-fraction-")
rng = np.random.default_rng(3)
n, p = 400, 6
X = rng.normal(size=(n, p))
y = X @ rng.normal(size=p) + np.sin(2 * X[:, 0]) + 0.3 * rng.normal(size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["y"] = y
df["fold"] = np.arange(n) % 4
df.to_csv(os.path.join(work, "d.csv"), index=False, float_format="%.17g")
SEED = int.from_bytes(b"tranfrac", "big")


def subsample(train, split, f):
    rows = list(train)
    hfsplits.Rng(SEED, split, 0).shuffle(rows)
    m = min(len(rows), max(1, math.ceil(f * len(rows))))
    return sorted(rows[:m])


FRACTIONS = [1 / 27, 1 / 9, 1 / 3, 0.5, 1.0]
CASES = {
    "ridge": ("model:\n  type: ridge\n  params:\n    alpha: 0.7\n",
              lambda: Ridge(alpha=0.7)),
    "pca_kernel_ridge": ("model:\n  type: kernel_ridge\n  params:\n    kernel: rbf\n"
                         "    alpha: 0.3\n    gamma: 0.2\n",
                         lambda: make_pipeline(StandardScaler(), PCA(n_components=4),
                                               KernelRidge(kernel="rbf", alpha=0.3, gamma=0.2))),
}
for name, (model, ref) in CASES.items():
    prep = "preprocess: {train_fraction: %s%s}\n" % (
        [float(f) for f in FRACTIONS],
        ", scale: standard, pca: {n_components: 4}" if "pca" in name else "")
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), """name: frac
data: {source: %s/d.csv, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
%s%sobjective: {metric: r2}
output: {dir: out}
""" % (work, model, prep))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
    r = hftest.load_results(os.path.join(d, "out", "frac"))
    worst, sizes_ok = 0.0, True
    for t in r["trials"]:
        f = t["params"]["preprocess.train_fraction"]
        for split in range(4):
            train = [i for i in range(n) if df["fold"][i] != split]
            valid = [i for i in range(n) if df["fold"][i] == split]
            rows = subsample(train, split, f)
            if f < 1:
                bigger = subsample(train, split, min(1.0, 3 * f))
                sizes_ok &= set(rows) <= set(bigger)
            m = ref().fit(X[rows], y[rows])
            want = r2_score(y[valid], m.predict(X[valid]))
            got = t["fold_scores"]["r2"][split]
            worst = max(worst, abs(got - want) / max(1.0, abs(want)))
    ck.check(worst <= 1e-8, "%s: every fraction's fold scores equal scikit-learn's on the same "
             "rows (worst %.2g)" % (name, worst))
    ck.check(sizes_ok, "%s: a smaller fraction's rows are a subset of a larger one's" % name)
    f1 = [t for t in r["trials"] if t["params"]["preprocess.train_fraction"] == 1.0][0]
    ck.check(f1["mean"]["r2"] > min(t["mean"]["r2"] for t in r["trials"]),
             "%s: every row scores better than 1/27 of them" % name)

# A Hyperband study over the fraction (kernel ridge: no budget of its own).
got = []
for np_ in (1, 2):
    d = os.path.join(work, "hb-np%d" % np_)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), """name: hb
data: {source: %s/d.csv, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
preprocess: {scale: standard}
model:
  type: kernel_ridge
  params:
    kernel: rbf
    alpha: {log_uniform: [1.0e-3, 10]}
    gamma: {log_uniform: [1.0e-3, 1]}
search: {strategy: hyperband, seed: 2}
objective: {metric: r2}
output: {dir: out}
""" % work)
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)
    got.append(hftest.load_results(os.path.join(d, "out", "hb")))
r = got[0]
ck.check(hftest.same_trials(r, got[1]), "hyperband over the fraction: the same at 1 and 2 ranks")
ck.check([g["resource"] for g in r["hyperband"] if g["bracket"] == 3] ==
         [1 / 27, 1 / 9, 1 / 3, 1.0], "hyperband: rungs at 1/27, 1/9, 1/3 and 1 of the rows")
b = r["best"]
ck.check(b["params"]["preprocess.train_fraction"] == 1.0, "the best is a full-budget trial")
sc = StandardScaler().fit(X)
kr = KernelRidge(kernel="rbf", alpha=b["params"]["alpha"], gamma=b["params"]["gamma"]).fit(
    sc.transform(X), y)
pred_csv = os.path.join(work, "pred.csv")
hftest.hyperfold(["predict", "--model", os.path.join(work, "hb-np1", "out", "hb", "model.h5"),
                  "--input", os.path.join(work, "d.csv"), "--output", pred_csv, "--quiet"], np=1)
pred = pd.read_csv(pred_csv)
col = [c for c in pred.columns if c.startswith("pred")][0]
ck.check(np.allclose(pred[col], kr.predict(sc.transform(X)), rtol=1e-7, atol=1e-9),
         "the refit uses every search row: predictions equal KernelRidge's on all rows")
ck.done()
