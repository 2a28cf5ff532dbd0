#!/usr/bin/python3
"""preprocess.polynomial 2 (and interaction_only) against scikit-learn's
PolynomialFeatures(degree=2, include_bias=False) on the numeric block, fitted inside each
predefined fold after mean imputation and a scaler (or after power and kbins): the column order
("a", "b", "a^2", "a*b", "b^2"), the names and every row to 1e-9; the one-hot block follows the
products. The C side is tests/peer/tool_prep.c."""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prep_steps_lib as L  # noqa: E402

ck = L.Checker("poly_peer")
tmp = tempfile.mkdtemp(prefix="hf_poly_peer_")
rng = np.random.default_rng(7)
n = 260
fold = rng.integers(0, 4, n)
X = np.column_stack([rng.normal(3, 2, n), rng.lognormal(0, 1, n), rng.normal(-1, 5, n),
                     rng.choice(4, n).astype(float)])
X[rng.random(n) < 0.05, 0] = np.nan
X[rng.random(n) < 0.05, 3] = np.nan
names = ["a", "b", "c", "k"]
types = ["N", "N", "N", "C"]
cats = {"k": ["k0", "k1", "k2", "k3"]}

L.compare(ck, "poly", X, fold, names, types, cats, L.settings(polynomial=2), tmp=tmp)
L.compare(ck, "poly+standard", X, fold, names, types, cats,
          L.settings(polynomial=2, scale="standard"), tmp=tmp)
sp = L.compare(ck, "interaction+minmax", X, fold, names, types, cats,
               L.settings(polynomial=2, interaction_only=True, scale="minmax"), tmp=tmp)
ck.check(sp and sp[0][2] == ["a", "b", "c", "a*b", "a*c", "b*c", "k=k0", "k=k1", "k=k2", "k=k3"],
         "interaction_only names: %s" % (sp[0][2] if sp else None))
sp = L.compare(ck, "poly+power+kbins", X, fold, names, types, cats,
               L.settings(polynomial=2, power="yeo-johnson", kbins=3), rtol=1e-9, tmp=tmp)
ck.check(sp and sp[0][2][:9] == ["a", "b", "c", "a^2", "a*b", "a*c", "b^2", "b*c", "c^2"],
         "polynomial names: %s" % (sp[0][2] if sp else None))
ck.done()
