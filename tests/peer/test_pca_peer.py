#!/usr/bin/python3
"""Peer test: preprocess.pca against scikit-learn's PCA(svd_solver="full").

Drives `hyperfold run` with predefined folds, standard scaling, a PCA axis (n_components 2, 5, 9)
and ridge, and checks:
- every trial's per-fold r2 and rmse equal Pipeline(StandardScaler, PCA(k), Ridge(alpha)) fitted on
  the same training rows, to 1e-6 relative;
- model.h5 holds the refit's PCA (prep.pca_mean, prep.pca_components, explained variances) and the
  documented recipe reproduces sklearn's PCA.fit(X).transform(X) to 1e-8, signs included, and
  sklearn's explained_variance_; design_features are pca0, pca1, ...;
- `hyperfold predict` equals the sklearn pipeline's predictions to 1e-6;
- n_components larger than the design width fails those trials with a message naming the key.
"""
import json
import os
import sys

import h5py
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("pca_peer")
work = hftest.tempdir("pca-peer-")
rng = np.random.default_rng(20251126)

# Ten columns driven by four latent factors (distinct eigenvalues), different offsets and scales.
n, p, n_lat = 320, 10, 4
L = rng.normal(size=(n, n_lat)) * np.array([3.0, 2.0, 1.2, 0.7])
A = rng.normal(size=(n_lat, p))
X = (L @ A + 0.3 * rng.normal(size=(n, p))) * rng.uniform(0.5, 20, size=p) + rng.normal(size=p) * 5
y = L @ np.array([1.5, -2.0, 0.7, 0.3]) + 4.0 + rng.normal(scale=0.5, size=n)
fold = rng.integers(0, 4, size=n)
cols = ["x%d" % i for i in range(p)]
df = pd.DataFrame(X, columns=cols)
df["fold"] = fold
df["y"] = y
csv = os.path.join(work, "pca.csv")
df.to_csv(csv, index=False, float_format="%.17g")

KS = [2, 5, 9]
ALPHAS = [0.1, 10.0]
hftest.write(os.path.join(work, "job.yaml"), """
name: pca-peer
data: {source: pca.csv, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
preprocess:
  scale: standard
  pca: {n_components: [%s]}
model:
  type: ridge
  params:
    alpha: [%s]
search: {strategy: grid}
objective: {metric: r2, report: [rmse]}
output: {dir: out}
""" % (", ".join(str(k) for k in KS), ", ".join(repr(a) for a in ALPHAS)))
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=work)
res = hftest.load_results(os.path.join(work, "out", "pca-peer"))


def param(t, name):
    return t["params"][name]


def pipeline(k, alpha):
    return Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=k, svd_solver="full")),
                     ("ridge", Ridge(alpha=alpha))])


seen = set()
best_sk, best_score = None, -np.inf
for t in res["trials"]:
    k = param(t, "preprocess.pca.n_components")
    alpha = t["params"]["alpha"]
    seen.add((k, alpha))
    r2s, rmses = [], []
    for f in sorted(np.unique(fold)):
        tr, va = np.where(fold != f)[0], np.where(fold == f)[0]
        pr = pipeline(k, alpha).fit(X[tr], y[tr]).predict(X[va])
        r2s.append(r2_score(y[va], pr))
        rmses.append(mean_squared_error(y[va], pr, squared=False))
    for name, ref in (("r2", r2s), ("rmse", rmses)):
        got = t["fold_scores"][name]
        ck.check(len(got) == len(ref), "k=%d alpha=%g: %d fold scores" % (k, alpha, len(got)))
        for i, (a, b) in enumerate(zip(got, ref)):
            ck.check(hftest.rel_close(a, b, 1e-6),
                     "k=%d alpha=%g fold %d %s: hyperfold %r sklearn %r" % (k, alpha, i, name, a, b))
    if np.mean(r2s) > best_score:
        best_sk, best_score = (k, alpha), float(np.mean(r2s))
ck.check(seen == {(k, a) for k in KS for a in ALPHAS}, "every (k, alpha) was a trial: %r" % seen)
best = res["best"]["params"]
ck.check((param(res["best"], "preprocess.pca.n_components"), best["alpha"]) == best_sk,
         "best: hyperfold %r sklearn %r" % (best, best_sk))

# The refit's PCA in model.h5, applied with numpy alone, against sklearn's transform.
mpath = os.path.join(work, "out", "pca-peer", "model.h5")
k_best = best_sk[0]
with h5py.File(mpath, "r") as f:
    g = f["preprocess"]
    ck.check("prep.pca_components" in g and "prep.pca_mean" in g
             and "prep.pca_explained_variance" in g, "model.h5 holds the PCA arrays")
    comps = g["prep.pca_components"][...]
    pmean = g["prep.pca_mean"][...].ravel()
    pvar = g["prep.pca_explained_variance"][...].ravel()
    Xs = (X - g["prep.center"][...].ravel()) / g["prep.scale"][...].ravel()
    prep = json.loads(f.attrs["preprocess_json"])
    dfeat = [s.decode() if isinstance(s, bytes) else s for s in f["design_features"][...]]
ck.check(comps.shape == (k_best, p), "components shape %r" % (comps.shape,))
ck.check(prep["config"].get("pca_components") == k_best, "preprocess_json records pca_components")
ck.check(dfeat == ["pca%d" % i for i in range(k_best)], "design_features %r" % dfeat)
ours = (Xs - pmean) @ comps.T
sk = Pipeline([("scale", StandardScaler()), ("pca", PCA(n_components=k_best, svd_solver="full"))])
theirs = sk.fit(X).transform(X)
err = np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))
ck.check(err < 1e-8, "PCA transform of the refit vs sklearn: max relative difference %.3g" % err)
verr = np.max(np.abs(pvar - sk.named_steps["pca"].explained_variance_) /
              sk.named_steps["pca"].explained_variance_)
ck.check(verr < 1e-8, "explained variance vs sklearn: %.3g" % verr)
print("PCA transform max relative difference %.3g, explained variance %.3g" % (err, verr))

# hyperfold predict with the stored PCA.
hftest.hyperfold(["predict", "--model", mpath, "--input", csv, "--output", "pred.csv", "--quiet"],
                 np=2, cwd=work)
pred = pd.read_csv(os.path.join(work, "pred.csv")).iloc[:, -1].to_numpy(float)
want = pipeline(k_best, best_sk[1]).fit(X, y).predict(X)
perr = np.max(np.abs(pred - want) / np.maximum(np.abs(want), 1e-3))
ck.check(perr < 1e-6, "hyperfold predict vs sklearn pipeline: %.3g" % perr)

# Too many components: the trials fail, naming the key; the others still run.
d = os.path.join(work, "big")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), """
name: pca-big
data: {source: %s, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
preprocess: {scale: standard, pca: {n_components: [3, 11]}}
model: {type: ridge}
output: {dir: out}
""" % csv)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
big = hftest.load_results(os.path.join(d, "out", "pca-big"))
text = json.dumps(big)
ck.check(param(big["best"], "preprocess.pca.n_components") == 3, "pca-big: best is k=3")
ck.check("n_components" in text and "at most 10" in text,
         "pca-big: the k=11 trial's error names the key and the limit")
ck.done()
