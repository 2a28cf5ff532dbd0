#!/usr/bin/python3
"""PCA + ridge on worker groups: `parallel: {ranks_per_task: 2}` (and 4) on 4 ranks gives the same
results.json scores (1e-9 relative) and the same selection as ranks_per_task 1; the refit's stored
PCA and `hyperfold predict` agree too. Wide-ish data with a categorical column (PCA after one-hot),
a block size that divides nothing, a PCA axis and an alpha axis."""
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
parallel: {ranks_per_task: %d, block_size: 5}
output: {dir: out}
"""
res, comps, preds = {}, {}, {}
for g in (1, 2, 4):
    d = os.path.join(work, "g%d" % g)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), SPEC % (csv, g))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=4, cwd=d)
    res[g] = hftest.load_results(os.path.join(d, "out", "pg"))
    mpath = os.path.join(d, "out", "pg", "model.h5")
    with h5py.File(mpath, "r") as f:
        comps[g] = f["preprocess/prep.pca_components"][...]
    hftest.hyperfold(["predict", "--model", mpath, "--input", csv, "--output", "p.csv", "--quiet"],
                     np=2, cwd=d)
    preds[g] = pd.read_csv(os.path.join(d, "p.csv")).iloc[:, -1].to_numpy(float)

ref = res[1]
ck.check(len(ref["trials"]) == 12, "12 trials (2 PCA sizes x 3 alphas x 2 intercepts)")
ck.check(all(t.get("status", "ok") == "ok" for t in ref["trials"]), "every trial succeeded")
for g in (2, 4):
    r = res[g]
    ck.check(r["best"]["trial"] == ref["best"]["trial"], "ranks_per_task %d: same best trial" % g)
    ck.check(len(r["trials"]) == len(ref["trials"]), "ranks_per_task %d: same trial count" % g)
    worst = 0.0
    for t, tr in zip(r["trials"], ref["trials"]):
        ck.check(t["params"] == tr["params"], "ranks_per_task %d: same trial order" % g)
        for metric in tr["fold_scores"]:
            for a, b in zip(t["fold_scores"][metric], tr["fold_scores"][metric]):
                worst = max(worst, abs(a - b) / max(abs(a), abs(b)))
                ck.check(hftest.rel_close(a, b, 1e-9),
                         "ranks_per_task %d trial %d %s: %r vs %r" % (g, t["trial"], metric, a, b))
    print("ranks_per_task %d: largest relative score difference %.3g" % (g, worst))
    ck.check(comps[g].shape == comps[1].shape and
             np.max(np.abs(comps[g] - comps[1])) < 1e-9,
             "ranks_per_task %d: the refit's PCA components agree (same signs)" % g)
    perr = np.max(np.abs(preds[g] - preds[1]) / np.maximum(np.abs(preds[1]), 1e-3))
    ck.check(perr < 1e-9, "ranks_per_task %d: predictions agree (%.3g)" % (g, perr))
ck.done()
