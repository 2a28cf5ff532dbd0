#!/usr/bin/python3
"""preprocess.kbins and preprocess.clip.lower/upper against scikit-learn, fitted inside each
predefined fold after mean imputation: KBinsDiscretizer(n_bins, encode="ordinal",
strategy="quantile") including its removal of bins narrower than 1e-8 (a column with many ties),
alone, after clip and power, and before a scaler, and with encode="onehot-dense" (one column per
bin, not scaled, then PolynomialFeatures); clip as numpy.quantile (linear) of the
imputed training values, then numpy.clip (unseen rows clipped the same). Design matrices of
every row to 1e-9. The C side is tests/peer/tool_prep.c."""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prep_steps_lib as L  # noqa: E402

ck = L.Checker("kbins_peer")
tmp = tempfile.mkdtemp(prefix="hf_kbins_peer_")
rng = np.random.default_rng(61)
n = 320
fold = rng.integers(0, 4, n)
X = np.column_stack([
    rng.lognormal(1.0, 1.0, n),
    rng.normal(0, 1, n),
    rng.choice([0.0, 0.0, 0.0, 1.0, 2.0, 5.0], n),   # ties: duplicate quantile edges removed
    np.full(n, 3.0),                                  # constant: one bin
    rng.choice(2, n).astype(float),
])
X[rng.random(n) < 0.06, 0] = np.nan
X[rng.random(n) < 0.04, 2] = np.nan
X[::37, 1] = 40.0                                     # outliers for the clip
names = ["a", "b", "ties", "const", "k"]
types = ["N", "N", "N", "N", "C"]
cats = {"k": ["x", "y"]}

for nb in (2, 5, 10):
    L.compare(ck, "kbins%d" % nb, X, fold, names, types, cats, L.settings(kbins=nb), tmp=tmp)
L.compare(ck, "kbins4+standard", X, fold, names, types, cats, L.settings(kbins=4, scale="standard"),
          tmp=tmp)
# kbins_encode onehot: one 0/1 column per bin ("a=bin0", ...), not scaled, then polynomial
for nb in (3, 6):
    L.compare(ck, "kbins%d-onehot" % nb, X, fold, names, types, cats,
              L.settings(kbins=nb, kbins_encode="onehot"), tmp=tmp)
L.compare(ck, "kbins4-onehot+scale+poly", X[:, [0, 1, 4]], fold, ["a", "b", "k"], ["N", "N", "C"],
          cats, L.settings(kbins=4, kbins_encode="onehot", scale="standard", polynomial=2,
                           interaction_only=True), tmp=tmp)
L.compare(ck, "clip", X, fold, names, types, cats, L.settings(clip=(0.05, 0.9)), tmp=tmp)
L.compare(ck, "clip-upper", X, fold, names, types, cats, L.settings(clip=(0.0, 0.75)), tmp=tmp)
L.compare(ck, "clip+kbins+standard", X, fold, names, types, cats,
          L.settings(clip=(0.1, 0.95), kbins=6, scale="standard"), tmp=tmp)
L.compare(ck, "yeo-johnson+kbins", X[:, [0, 1, 4]], fold, ["a", "b", "k"], ["N", "N", "C"], cats,
          L.settings(power="yeo-johnson", kbins=5), rtol=1e-9, tmp=tmp)

# Unseen rows are clipped with the training quantiles: a validation outlier does not move them.
splits = L.compare(ck, "clip-outliers", X, fold, names, types, cats, L.settings(clip=(0.0, 0.9)),
                   tmp=tmp)
for k, (train, valid, _, _, M, _, _) in enumerate(splits):
    hi = np.quantile(X[train, 1], 0.9)
    ck.check(np.max(M[valid, 1]) <= hi, "split %d: validation values clipped at %g" % (k, hi))
ck.done()
