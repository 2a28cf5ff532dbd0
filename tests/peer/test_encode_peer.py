#!/usr/bin/python3
"""preprocess.categorical ordinal / frequency and preprocess.max_categories against
scikit-learn 1.2, fitted inside each predefined fold after most_frequent imputation:
OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1); the documented frequency
encoding (the level's share of the training rows, unseen 0); OneHotEncoder(max_categories=...,
min_frequency=..., handle_unknown="infrequent_if_exist") including its tie rule (a stable sort
by count: of equally rare levels the later one in sorted order stays frequent). A level seen
only in one fold is unknown when that fold validates. Every row to 1e-12. The C side is
tests/peer/tool_prep.c."""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prep_steps_lib as L  # noqa: E402

ck = L.Checker("encode_peer")
tmp = tempfile.mkdtemp(prefix="hf_encode_peer_")
rng = np.random.default_rng(5)
n = 400
fold = rng.integers(0, 4, n)
CITIES = ["Athens", "Berlin", "Lyon", "Oslo", "Paris", "Rome", "Wien", "Zagreb"]
p = np.array([0.03, 0.2, 0.25, 0.03, 0.3, 0.1, 0.09, 0.0])
city = rng.choice(len(CITIES), n, p=p / p.sum()).astype(float)
city[np.flatnonzero(fold == 3)[:5]] = CITIES.index("Zagreb")   # unseen when fold 3 validates
city[rng.random(n) < 0.08] = np.nan
color = rng.choice(4, n).astype(float)
color[rng.random(n) < 0.05] = np.nan
# two levels with exactly equal counts in every training set: the tie rule of max_categories
tie = np.tile([0.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0], n // 8)
fold_t = (np.arange(n) // 8) % 4   # whole blocks of 8 per fold: t0 and t1 tie in every training set
X = np.column_stack([rng.normal(0, 1, n), city, color, tie])
names = ["x", "city", "color", "tie"]
types = ["N", "C", "C", "C"]
cats = {"city": CITIES, "color": ["blue", "green", "red", "white"], "tie": ["t0", "t1", "t2", "t3"]}

L.compare(ck, "ordinal", X, fold, names, types, cats, L.settings(encode="ordinal"), rtol=1e-12,
          tmp=tmp)
L.compare(ck, "frequency", X, fold, names, types, cats,
          L.settings(encode="frequency", scale="standard"), rtol=1e-12, tmp=tmp)
for mc in (2, 3, 5):
    L.compare(ck, "max_categories%d" % mc, X, fold, names, types, cats,
              L.settings(max_categories=mc), rtol=1e-12, tmp=tmp)
L.compare(ck, "max_categories4+min_frequency20", X, fold, names, types, cats,
          L.settings(max_categories=4, min_frequency=20), rtol=1e-12, tmp=tmp)
sp = L.compare(ck, "tie", X, fold_t, names, types, cats, L.settings(max_categories=4),
               rtol=1e-12, tmp=tmp)
ck.check(sp and [c for c in sp[0][2] if c.startswith("tie=")] == ["tie=t1", "tie=t2", "tie=t3",
                                                                   "tie=infrequent"],
         "the tie keeps t1, not t0: %s" % (sp[0][2] if sp else None))
ck.done()
