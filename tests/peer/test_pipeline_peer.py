"""Peer test: hyperfold's in-fold preprocessing against scikit-learn's pipeline.

Builds a dataset with numeric, boolean and categorical columns and missing values, splits it with
predefined folds, and for each fold compares the design matrix of every row produced by
hyperfold (fitted on the fold's training rows, exported and re-imported) with

  ColumnTransformer([("num", Pipeline([SimpleImputer, scaler]), numeric + boolean columns),
                     ("cat", Pipeline([SimpleImputer, OneHotEncoder]), categorical columns),
                     ("ind", MissingIndicator(features="missing-only"), all columns)])

fitted on the same rows, to 1e-10; the splits themselves are checked against PredefinedSplit,
GroupKFold and TimeSeriesSplit. The C side is tests/peer/tool_prep.c, built by CMake
with the rest of the tests. Run by ctest with PYTHON=/usr/bin/python3 (Debian's scikit-learn 1.2).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.model_selection import GroupKFold, PredefinedSplit, TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

SRC = os.environ.get("HF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("HF_BUILD_DIR", os.path.join(SRC, "build"))

CITIES = ["Athens", "Berlin", "Lyon", "Oslo", "Paris", "Rome", "Wien", "Zagreb"]
COLORS = ["blue", "green", "red", "white"]


def build_driver(tmp):
    """The C side: tests/peer/tool_prep.c, built by CMake as tests/peer_tool_prep."""
    exe = os.path.join(BUILD, "tests", "peer_tool_prep")
    if not os.path.exists(exe):
        sys.exit("FAIL: %s not found (build hyperfold first)" % exe)
    return exe


def make_data(seed=7, n=240):
    rng = np.random.default_rng(seed)
    fold = rng.integers(0, 5, size=n)
    age = rng.normal(40, 12, size=n)
    age[rng.random(n) < 0.12] = np.nan
    income = rng.lognormal(10, 0.5, size=n) / 100.0
    income[rng.random(n) < 0.05] = np.nan
    score = np.round(rng.normal(0, 3, size=n), 1)  # many ties: exercises median/most_frequent
    score[rng.random(n) < 0.04] = np.nan
    member = (rng.random(n) < 0.4).astype(float)
    member[rng.random(n) < 0.08] = np.nan
    # Cities with skewed frequencies; "Zagreb" only in fold 3 (unseen when fold 3 validates).
    p = np.array([0.02, 0.2, 0.25, 0.03, 0.3, 0.12, 0.08, 0.0])
    city = rng.choice(len(CITIES), size=n, p=p / p.sum()).astype(float)
    z = np.flatnonzero(fold == 3)[:4]
    city[z] = CITIES.index("Zagreb")
    city[rng.random(n) < 0.1] = np.nan
    color = rng.choice(len(COLORS), size=n).astype(float)
    color[rng.random(n) < 0.06] = np.nan
    X = np.column_stack([age, city, income, member, score, color])
    names = ["age", "city", "income", "member", "score", "color"]
    types = ["N", "C", "N", "B", "N", "C"]
    cats = {"city": CITIES, "color": COLORS, "member": ["false", "true"]}
    return X, fold, names, types, cats


def write_input(path, X, key, names, types, cats, cfg, cv):
    with open(path, "w") as f:
        f.write("features %d\n" % len(names))
        for name, t in zip(names, types):
            c = cats.get(name, []) if t != "N" else []
            f.write("%s %s %d %s\n" % (t, name, len(c), " ".join(c)))
        f.write("config %s %s %d %s %d %s %d\n" % (
            cfg["num"], cfg["cat"], 1 if cfg.get("fill") is not None else 0,
            cfg.get("fill") if cfg.get("fill") is not None else "-",
            1 if cfg["indicator"] else 0, cfg["scale"], cfg["min_frequency"]))
        f.write("cv %s %d\n" % cv)
        f.write("rows %d\n" % len(X))
        for i in range(len(X)):
            f.write("%d %s\n" % (key[i], " ".join("nan" if np.isnan(v) else repr(float(v))
                                                     for v in X[i])))


def parse_output(text):
    splits = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("split "), lines[i]
        train = np.array(lines[i + 1].split()[1:], dtype=np.int64)
        valid = np.array(lines[i + 2].split()[1:], dtype=np.int64)
        names = lines[i + 3].split()[1:]
        _, r, c = lines[i + 4].split()
        r, c = int(r), int(c)
        M = np.array([[float(v) for v in lines[i + 5 + k].split()] for k in range(r)]).reshape(r, c)
        splits.append((train, valid, names, M))
        i += 5 + r
    return splits


def sklearn_pipeline(names, types, cfg):
    num_cols = [j for j, t in enumerate(types) if t != "C"]
    cat_cols = [j for j, t in enumerate(types) if t == "C"]
    num_steps = [("impute", SimpleImputer(strategy=cfg["num"],
                                          fill_value=float(cfg["fill"]) if cfg["num"] == "constant" else None))]
    if cfg["scale"] == "standard":
        num_steps.append(("scale", StandardScaler()))
    elif cfg["scale"] == "minmax":
        num_steps.append(("scale", MinMaxScaler()))
    if cfg["min_frequency"] > 0:
        enc = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=cfg["min_frequency"],
                            sparse_output=False)
    else:
        enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    cat_imp = SimpleImputer(strategy=cfg["cat"], fill_value="missing_value")
    parts = [("num", Pipeline(num_steps), num_cols),
             ("cat", Pipeline([("impute", cat_imp), ("onehot", enc)]), cat_cols)]
    if cfg["indicator"]:
        parts.append(("ind", MissingIndicator(features="missing-only"), list(range(len(types)))))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def frame(X, types, cats, names):
    """The same data as sklearn sees it: numbers, and category strings (NaN when missing)."""
    cols = []
    for j, t in enumerate(types):
        if t == "C":
            cols.append(np.array([np.nan if np.isnan(v) else cats[names[j]][int(v)] for v in X[:, j]],
                                 dtype=object))
        else:
            cols.append(X[:, j].astype(object))
    return np.column_stack(cols)


def sk_name_to_ours(sk, names):
    """sklearn's output name ("cat__x1_Paris": sklearn saw an array, columns x0..) -> ours."""
    block, rest = sk.split("__", 1)
    if block == "num":
        return names[int(rest[1:])]
    if block == "cat":
        col, cat = rest.split("_", 1)
        return "%s=%s" % (names[int(col[1:])], "infrequent" if cat == "infrequent_sklearn" else cat)
    return "missing(%s)" % names[int(rest.replace("missingindicator_x", "", 1))]


def run_case(exe, tmp, label, data, cfg, cv, key, sk_splits):
    """Runs the driver on one configuration and compares every split with sklearn; returns the
    number of failed comparisons."""
    X, names, types, cats, D = data
    inp = os.path.join(tmp, "in_%s.txt" % label)
    write_input(inp, X, key, names, types, cats, cfg, cv)
    r = subprocess.run([exe, inp], capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL %s: tool_prep exited %d: %s" % (label, r.returncode, r.stderr))
        return 1
    ours = parse_output(r.stdout)
    if len(ours) != len(sk_splits):
        print("FAIL %s: %d splits, sklearn has %d" % (label, len(ours), len(sk_splits)))
        return 1
    failures = 0
    for k, ((train, valid, our_names, M), (sk_tr, sk_va)) in enumerate(zip(ours, sk_splits)):
        if not (np.array_equal(train, np.sort(sk_tr)) and np.array_equal(valid, np.sort(sk_va))):
            print("FAIL %s split %d: rows differ from sklearn's splitter" % (label, k))
            failures += 1
            continue
        pipe = sklearn_pipeline(names, types, cfg).fit(D[sk_tr])
        ref = pipe.transform(D).astype(float)
        sk_names = [sk_name_to_ours(s, names) for s in pipe.get_feature_names_out()]
        if our_names != sk_names:
            print("FAIL %s split %d: columns\n ours    %s\n sklearn %s"
                  % (label, k, our_names, sk_names))
            failures += 1
            continue
        err = np.abs(M - ref) / np.maximum(1.0, np.abs(ref))
        if M.shape != ref.shape or not np.all(err <= 1e-10):
            print("FAIL %s split %d: max relative error %g" % (label, k, err.max()))
            failures += 1
    if failures == 0:
        print("%s (%s, cv %s): %d splits agree with sklearn, %d columns"
              % (label, cfg, cv, len(ours), ours[0][3].shape[1]))
    return failures


def main():
    configs = [
        {"num": "mean", "cat": "most_frequent", "scale": "standard", "indicator": False,
         "min_frequency": 0},
        {"num": "median", "cat": "constant", "scale": "minmax", "indicator": True,
         "min_frequency": 0},
        {"num": "most_frequent", "cat": "most_frequent", "scale": "none", "indicator": True,
         "min_frequency": 12},
        {"num": "constant", "fill": "-1.5", "cat": "most_frequent", "scale": "standard",
         "indicator": False, "min_frequency": 3},
    ]
    X, fold, names, types, cats = make_data()
    # Every column has missing values somewhere, so imputation is exercised for every kind.
    assert np.isnan(X).any(axis=0).all()
    data = (X, names, types, cats, frame(X, types, cats, names))
    n = len(X)
    rng = np.random.default_rng(11)
    # GroupKFold peer: 12 groups of distinct sizes (no ties, so the greedy order is unambiguous)
    # under arbitrary codes, rows shuffled.
    sizes = [40, 35, 30, 26, 22, 19, 16, 14, 12, 10, 9, 7]
    assert sum(sizes) == n
    codes = rng.permutation(12) * 7 + 100
    groups = rng.permutation(np.repeat(codes, sizes))
    # TimeSeriesSplit peer: distinct integer order keys in scrambled row order.
    order = rng.permutation(n) * 3 + 5
    by_time = np.argsort(order, kind="stable")
    ts_splits = [(by_time[tr], by_time[te]) for tr, te in TimeSeriesSplit(n_splits=4).split(by_time)]
    tmp = tempfile.mkdtemp(prefix="hf_peer_prep_")
    failures = 0
    try:
        exe = build_driver(tmp)
        predefined = list(PredefinedSplit(fold).split())
        for ci, cfg in enumerate(configs):
            failures += run_case(exe, tmp, "predefined-%d" % ci, data, cfg, ("predefined", 5), fold,
                                 predefined)
        failures += run_case(exe, tmp, "group", data, configs[1], ("group", 4), groups,
                             list(GroupKFold(n_splits=4).split(X, groups=groups)))
        failures += run_case(exe, tmp, "timeseries", data, configs[0], ("timeseries", 4), order,
                             ts_splits)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        sys.exit("FAIL: %d comparisons failed" % failures)
    print("PASS")


if __name__ == "__main__":
    main()
