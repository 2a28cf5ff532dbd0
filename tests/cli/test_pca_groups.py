#!/usr/bin/python3
"""PCA + ridge on worker groups: `parallel: {ranks_per_task: 2}` (and 4) on 4 ranks gives the same
results.json scores (1e-9 relative) and the same selection as ranks_per_task 1; the refit's stored
PCA and `hyperfold predict` agree too. Wide-ish data with a categorical column (PCA after one-hot:
40 design columns), a PCA axis and an alpha axis, at block sizes that divide nothing (5), hold the
design matrix in one block (64) and the default (128): the PCA's 40 x 40 covariance and ridge's
Gram matrices of 4 to 40 columns then fit in one block, where ScaLAPACK's PDSYEVD once returned
wrong eigenvectors with exit code 0."""
import os
import sys

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("pca_groups")
work = hftest.tempdir("pca-groups-")
rng = np.random.default_rng(7)
n, p = 180, 36
L = rng.normal(size=(n, 6))
X = L @ rng.normal(size=(6, p)) + 0.5 * rng.normal(size=(n, p))
X = X * rng.uniform(0.2, 8.0, size=p) + rng.normal(size=p)
city = rng.choice(["Oslo", "Paris", "Rome", "Lima"], size=n)
y = L @ rng.normal(size=6) + (city == "Rome") * 2.0 + rng.normal(scale=0.3, size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["city"] = city
df["y"] = y
csv = os.path.join(work, "wide.csv")
df.to_csv(csv, index=False, float_format="%.17g")

SPEC = """name: pg
data: {source: %s, target: y, task: regression}
cv: {folds: 3, seed: 4}
preprocess:
  scale: standard
  pca: {n_components: [4, 25]}
model:
  type: ridge
  params:
    alpha: [0.3, 3.0, 30.0]
    fit_intercept: [true, false]
parallel: {ranks_per_task: %d%s}
output: {dir: out}
"""
res, comps, preds = {}, {}, {}
CASES = [(1, None)] + [(g, b) for g in (2, 4) for b in (5, 64, None)]
for g, b in CASES:
    d = os.path.join(work, "g%d-b%s" % (g, b))
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"),
                 SPEC % (csv, g, ", block_size: %d" % b if b else ""))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=4, cwd=d)
    res[g, b] = hftest.load_results(os.path.join(d, "out", "pg"))
    mpath = os.path.join(d, "out", "pg", "model.h5")
    with h5py.File(mpath, "r") as f:
        comps[g, b] = f["preprocess/prep.pca_components"][...]
    hftest.hyperfold(["predict", "--model", mpath, "--input", csv, "--output", "p.csv", "--quiet"],
                     np=2, cwd=d)
    preds[g, b] = pd.read_csv(os.path.join(d, "p.csv")).iloc[:, -1].to_numpy(float)

ref = res[1, None]
ck.check(len(ref["trials"]) == 12, "12 trials (2 PCA sizes x 3 alphas x 2 intercepts)")
ck.check(all(t.get("status", "ok") == "ok" for t in ref["trials"]), "every trial succeeded")
for g, b in CASES[1:]:
    r = res[g, b]
    name = "ranks_per_task %d, block %s" % (g, b or "default")
    ck.check(r["best"]["trial"] == ref["best"]["trial"], "%s: same best trial" % name)
    ck.check(len(r["trials"]) == len(ref["trials"]), "%s: same trial count" % name)
    worst = 0.0
    for t, tr in zip(r["trials"], ref["trials"]):
        ck.check(t["params"] == tr["params"], "%s: same trial order" % name)
        for metric in tr["fold_scores"]:
            for x, y in zip(t["fold_scores"][metric], tr["fold_scores"][metric]):
                worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
                ck.check(hftest.rel_close(x, y, 1e-9),
                         "%s trial %d %s: %r vs %r" % (name, t["trial"], metric, x, y))
    print("%s: largest relative score difference %.3g" % (name, worst))
    c0 = comps[1, None]
    ck.check(comps[g, b].shape == c0.shape and np.max(np.abs(comps[g, b] - c0)) < 1e-9,
             "%s: the refit's PCA components agree (same signs)" % name)
    p0 = preds[1, None]
    perr = np.max(np.abs(preds[g, b] - p0) / np.maximum(np.abs(p0), 1e-3))
    ck.check(perr < 1e-9, "%s: predictions agree (%.3g)" % (name, perr))
ck.done()
