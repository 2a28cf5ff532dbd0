#!/usr/bin/python3
"""preprocess.categorical target against the documented formula (scikit-learn 1.2 has no
TargetEncoder; this is 1.3's with smooth="auto"), computed here on the same rows:

- for each predefined split, the inner folds of the training rows are the documented ones
  (KFold(5) for regression, StratifiedKFold(5) for a binary target, shuffled with
  hf_rng_init(cv.seed, 0x7e7e, 0): reproduced here with tests/matrix/hfsplits.py's port of the
  RNG), a partition with sizes within one (and per class within one when binary);
- a training row's design value is the encoding fitted on the other four inner folds
  (lambda = v n_c / (v n_c + s_c / n_c), enc = lambda m_c + (1 - lambda) mean, a level absent from
  them: their mean) - hf_prep_transform_fit_rows; every row's value through the exported and
  re-imported pipeline is the encoding fitted on all training rows, an unseen level the training
  mean; to 1e-12;
- no leak: changing one training row's target changes other rows' training encodings but not its
  own;
- a 3-class target is refused by `hyperfold validate` with one line naming the key;
- per-column encodings (preprocess.encode_columns "city:target, color:ordinal") through
  `hyperfold run` equal a ColumnTransformer with those encoders per column before Ridge (fold r2
  to 1e-6), and `predict` equals it refitted on every row; validate names an unknown column."""
import os
import sys
import tempfile

import numpy as np
from sklearn.impute import SimpleImputer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "matrix"))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import hfsplits  # noqa: E402
import hftest  # noqa: E402
import prep_steps_lib as L  # noqa: E402

ck = L.Checker("encode_target_peer")
tmp = tempfile.mkdtemp(prefix="hf_te_peer_")
rng = np.random.default_rng(1613)
n = 330
fold = rng.integers(0, 3, n)
CITIES = ["Athens", "Berlin", "Lyon", "Oslo", "Paris", "Zagreb"]
city = rng.choice(5, n, p=[0.05, 0.3, 0.3, 0.1, 0.25]).astype(float)
city[np.flatnonzero(fold == 2)[:4]] = 5.0  # Zagreb: unseen when fold 2 validates
city[rng.random(n) < 0.07] = np.nan
color = rng.choice(3, n).astype(float)
x = rng.normal(0, 1, n)
X = np.column_stack([x, city, color])
names = ["x", "city", "color"]
types = ["N", "C", "C"]
cats = {"city": CITIES, "color": ["blue", "green", "red"]}
effect = np.array([3.0, -1.0, 0.5, 2.0, 0.0, 4.0])
y_reg = effect[np.nan_to_num(city, nan=1).astype(int)] + x + rng.normal(0, 1.0, n)
y_bin = (y_reg + rng.normal(0, 1, n) > 1.0).astype(float)


inner_folds = L.inner_folds  # the documented inner folds of m fit positions


def encode(levels, yv):
    """{level: encoding}, mean: the documented formula on these rows."""
    mean, var = float(np.mean(yv)), float(np.var(yv))
    enc = {}
    for lv in np.unique(levels):
        yc = yv[levels == lv]
        nc, mc = len(yc), float(np.mean(yc))
        sc = float(np.sum((yc - mc) ** 2))
        lam = var * nc / (var * nc + sc / nc) if var * nc + sc / nc > 0 else np.nan
        enc[lv] = mean if np.isnan(lam) else lam * mc + (1 - lam) * mean
    return enc, mean


def check_target(label, yv, binary, seed):
    s = L.settings(encode="target", seed=seed, task="binary" if binary else "regression")
    rc, err, splits = L.run_tool(tmp, label, X, fold, names, types, cats, s, y=yv)
    ck.check(rc == 0 and len(splits) == 3, "%s: tool_prep exited %d: %s" % (label, rc, err.strip()))
    D = L.frame(X, types, cats, names)
    worst = 0.0
    for k, (train, valid, our_names, _, M, inner, F) in enumerate(splits):
        ck.check(our_names == names, "%s split %d: names %s" % (label, k, our_names))
        yt = yv[train]
        want_f = inner_folds(len(train), seed, yt if binary else None)
        ck.check(inner is not None and np.array_equal(inner, want_f),
                 "%s split %d: inner folds differ from the documented ones" % (label, k))
        sizes = np.bincount(inner, minlength=5)
        ck.check(sizes.max() - sizes.min() <= 1, "%s split %d: inner sizes %s" % (label, k, sizes))
        if binary:
            for c in (0, 1):
                sc = np.bincount(inner[yt == c], minlength=5)
                ck.check(sc.max() - sc.min() <= 1, "%s split %d: class %d per inner fold %s"
                         % (label, k, c, sc))
        for j, col in ((1, "city"), (2, "color")):
            imp = SimpleImputer(strategy="most_frequent").fit(D[train][:, [j]])
            lev_all = imp.transform(D[:, [j]])[:, 0].astype(str)
            lev_tr = lev_all[train]
            # all rows: encodings fitted on every training row; unseen levels the mean
            enc, mean = encode(lev_tr, yt)
            want = np.array([enc.get(v, mean) for v in lev_all])
            err_a = np.max(np.abs(M[:, j] - want) / np.maximum(1, np.abs(want)))
            # training rows: cross-fitted on the other inner folds
            want_tr = np.empty(len(train))
            for f in range(5):
                enc_f, mean_f = encode(lev_tr[want_f != f], yt[want_f != f])
                for i in np.flatnonzero(want_f == f):
                    want_tr[i] = enc_f.get(lev_tr[i], mean_f)
            err_t = np.max(np.abs(F[:, j] - want_tr) / np.maximum(1, np.abs(want_tr)))
            worst = max(worst, err_a, err_t)
            ck.check(err_a <= 1e-12, "%s split %d %s: all-rows encoding error %g" % (label, k, col, err_a))
            ck.check(err_t <= 1e-12, "%s split %d %s: cross-fitted error %g" % (label, k, col, err_t))
            ck.check(not np.allclose(F[:, j], M[train, j]),
                     "%s split %d %s: training rows are cross-fitted, not the full encoding"
                     % (label, k, col))
        ck.check(np.array_equal(F[:, 0], M[train, 0]), "%s split %d: x passes" % (label, k))
    print("%s: 3 splits, max relative error %.3g" % (label, worst))
    return splits


base = check_target("regression", y_reg, False, 42)
check_target("binary", y_bin, True, 7)

# No leak: one training row's own target does not enter its encoding.
train0 = base[0][0]
r = int(train0[10])
y2 = y_reg.copy()
y2[r] += 100.0
rc, err, again = L.run_tool(tmp, "leak", X, fold, names, types, cats,
                            L.settings(encode="target", seed=42, task="regression"), y=y2)
F0, F1 = base[0][6], again[0][6]
ck.check(np.array_equal(F0[10], F1[10]), "row %d's own encoding moved with its target: %s -> %s"
         % (r, F0[10], F1[10]))
ck.check(np.any(F0[:, 1] != F1[:, 1]), "other rows' encodings move with row %d's target" % r)

# validate refuses target encoding of a 3-class target with one line.
work = hftest.tempdir("te-validate-")
with open(os.path.join(work, "d.csv"), "w") as f:
    f.write("x,city,y\n")
    for i in range(30):
        f.write("%g,%s,%s\n" % (i, CITIES[i % 3], "abc"[i % 3]))
hftest.write(os.path.join(work, "job.yaml"), """name: v
data: {source: d.csv, target: y}
preprocess: {categorical: [onehot, target]}
model: {type: logistic_regression}
output: {dir: out}
""")
p = hftest.hyperfold(["validate", "job.yaml"], cwd=work, check=False)
lines = p.stderr.strip().splitlines()
ck.check(p.returncode == 2 and len(lines) == 1 and "preprocess.categorical" in lines[0]
         and "3-class" in lines[0] and "job.yaml:3" in lines[0],
         "validate refuses: rc %d %r" % (p.returncode, p.stderr))

# Per-column encodings through run and predict.
import pandas as pd  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OrdinalEncoder  # noqa: E402
work = hftest.tempdir("te-columns-")
D = L.frame(X, types, cats, names)
df = pd.DataFrame({"x": x, "city": D[:, 1], "color": D[:, 2], "y": y_reg, "fold": fold})
df.to_csv(os.path.join(work, "d.csv"), index=False, float_format="%.17g")
hftest.write(os.path.join(work, "job.yaml"), """name: c
data: {source: d.csv, target: y}
cv: {strategy: predefined, fold_column: fold, seed: 3}
preprocess: {encode_columns: "city:target, color:ordinal", scale: standard}
model: {type: ridge, params: {alpha: [1.0]}}
output: {dir: out}
""")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=work)
res = hftest.load_results(os.path.join(work, "out", "c"))


def per_column():
    from sklearn.preprocessing import StandardScaler
    ct = ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer()), ("sc", StandardScaler())]), [0]),
        ("city", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                           ("enc", L.TargetEncoderRef(seed=3))]), [1]),
        ("color", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                            ("enc", OrdinalEncoder(handle_unknown="use_encoded_value",
                                                   unknown_value=-1))]), [2])])
    return Pipeline([("ct", ct), ("ridge", Ridge(alpha=1.0))])


Dx = df[["x", "city", "color"]].to_numpy(dtype=object)
got = res["trials"][0]["fold_scores"]["r2"]
for f in range(3):
    tr, va = fold != f, fold == f
    want = r2_score(y_reg[va], per_column().fit(Dx[tr], y_reg[tr]).predict(Dx[va]))
    ck.check(hftest.rel_close(got[f], want, 1e-6, 1e-9), "encode_columns fold %d: r2 %r vs %r"
             % (f, got[f], want))
df[["x", "city", "color"]].to_csv(os.path.join(work, "new.csv"), index=False,
                                  float_format="%.17g")
hftest.hyperfold(["predict", "--model", "out/c/model.h5", "--input", "new.csv", "--output",
                  "p.csv", "--quiet"], np=2, cwd=work)
got_p = pd.read_csv(os.path.join(work, "p.csv"))["prediction"].to_numpy()
want_p = per_column().fit(Dx, y_reg).predict(Dx)
worst = float(np.max(np.abs(got_p - want_p) / np.maximum(np.abs(want_p), 1.0)))
ck.check(worst < 1e-6, "encode_columns: predict equals the per-column pipeline (%.3g)" % worst)
hftest.write(os.path.join(work, "bad.yaml"), """name: b
data: {source: d.csv, target: y}
cv: {strategy: predefined, fold_column: fold}
preprocess: {encode_columns: ["city:target", "zip:frequency"]}
model: {type: ridge}
output: {dir: out}
""")
p = hftest.hyperfold(["validate", "bad.yaml"], cwd=work, check=False)
lines = p.stderr.strip().splitlines()
ck.check(p.returncode == 2 and len(lines) == 1 and "preprocess.encode_columns" in lines[0]
         and '"zip"' in lines[0], "validate names the unknown column: rc %d %r"
         % (p.returncode, p.stderr))
ck.done()
