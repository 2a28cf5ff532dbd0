#!/usr/bin/python3
"""preprocess.power against scikit-learn 1.2's PowerTransformer(method=..., standardize=True),
fitted inside each predefined fold after mean imputation (and after clip, and before a scaler):
the fitted lambdas to 1e-6 and the design matrix of every row to 1e-6 relative (the lambdas are
found by the same Brent iteration; the rest is exact). Box-Cox refuses a non-positive training
value with one line naming the column. The C side is tests/peer/tool_prep.c."""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prep_steps_lib as L  # noqa: E402

ck = L.Checker("power_peer")
tmp = tempfile.mkdtemp(prefix="hf_power_peer_")
rng = np.random.default_rng(16)
n = 300
fold = rng.integers(0, 4, n)
X = np.column_stack([
    rng.lognormal(1.0, 0.8, n),          # positive, right-skewed
    rng.gamma(1.5, 3.0, n) + 0.1,        # positive
    -rng.lognormal(0.5, 0.6, n) + 3.0,   # left-skewed, both signs
    rng.normal(0, 2, n),                 # symmetric, both signs
    rng.choice(3, n).astype(float),      # categorical
])
X[rng.random(n) < 0.05, 0] = np.nan
X[rng.random(n) < 0.05, 2] = np.nan
names = ["a", "b", "c", "d", "k"]
types = ["N", "N", "N", "N", "C"]
cats = {"k": ["p", "q", "r"]}

L.compare(ck, "yeo-johnson", X, fold, names, types, cats, L.settings(power="yeo-johnson"),
          rtol=1e-6, tmp=tmp)
L.compare(ck, "yeo-johnson+clip+minmax", X, fold, names, types, cats,
          L.settings(power="yeo-johnson", clip=(0.02, 0.97), scale="minmax"), rtol=1e-6, tmp=tmp)
pos = X[:, :2]
L.compare(ck, "box-cox", pos, fold, ["a", "b"], ["N", "N"], {}, L.settings(power="box-cox"),
          rtol=1e-6, tmp=tmp)
L.compare(ck, "box-cox+standard", pos, fold, ["a", "b"], ["N", "N"], {},
          L.settings(power="box-cox", scale="standard"), rtol=1e-6, tmp=tmp)

# Box-Cox of a column with a non-positive training value: one line naming the column.
rc, err, _ = L.run_tool(tmp, "bc-neg", X[:, :4], fold, names[:4], types[:4], {},
                        L.settings(power="box-cox"))
ck.check(rc != 0 and 'column "c"' in err and "expected values > 0" in err
         and len(err.strip().splitlines()) == 1, "box-cox refuses column c: rc %d, %r" % (rc, err))
ck.done()
