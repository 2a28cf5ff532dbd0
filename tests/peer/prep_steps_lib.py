"""Shared by the peer tests of the numeric and categorical steps (test_power_peer.py,
test_kbins_peer.py, test_poly_peer.py, test_encode_peer.py): runs tests/peer/tool_prep.c (the
pipeline fitted on each split's training rows, exported and re-imported, applied to every row)
and builds the scikit-learn pipeline of docs/preprocessing.md for the same settings:

  ColumnTransformer([("num", Pipeline([SimpleImputer(mean), Clipper, PowerTransformer,
                                       KBinsDiscretizer(ordinal), scaler, PolynomialFeatures]),
                      numeric columns),
                     ("cat", Pipeline([SimpleImputer(most_frequent), encoder]), categorical)])

Clipper is the documented rule (numpy.quantile of the imputed training values, then clip).

A column of type "D" is the numeric part of a datetime column ("when.dayofweek"): log1p, clip,
power and kbins pass it through (docs/preprocessing.md), so with D columns the numeric block is
  Pipeline([ColumnTransformer([("num", the steps above up to the scaler, N columns),
                               ("date", Pipeline([SimpleImputer(mean), scaler]), D columns)]),
            PolynomialFeatures])
which gives hyperfold's layout when the N columns come first, then the D columns, then the
categorical ones (the tests write them in that order)."""
import os
import subprocess
import warnings

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (FunctionTransformer, KBinsDiscretizer, MinMaxScaler,
                                   OneHotEncoder, OrdinalEncoder, PolynomialFeatures,
                                   PowerTransformer, StandardScaler)

# KBinsDiscretizer warns about constant columns and removed bins, which the tests make on purpose.
warnings.filterwarnings("ignore", category=UserWarning)

SRC = os.environ.get("HF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("HF_BUILD_DIR", os.path.join(SRC, "build"))
EXE = os.path.join(BUILD, "tests", "peer_tool_prep")

DEFAULT = {"scale": "none", "min_frequency": 0, "clip": (0.0, 1.0), "power": "none", "kbins": 0,
           "polynomial": 0, "interaction_only": False, "encode": "onehot", "max_categories": 0,
           "log1p": False, "seed": 0, "task": "none", "kbins_encode": "ordinal"}


def settings(**kw):
    s = dict(DEFAULT)
    s.update(kw)
    return s


def write_input(path, X, fold, names, types, cats, s, y=None):
    with open(path, "w") as f:
        f.write("features %d\n" % len(names))
        for name, t in zip(names, types):
            c = cats.get(name, []) if t != "N" else []
            f.write("%s %s %d %s\n" % (t, name, len(c), " ".join(c)))
        f.write("config mean most_frequent 0 - 0 %s %d\n" % (s["scale"], s["min_frequency"]))
        f.write("steps %r %r %s %d %d %d %s %d %d %d %s %s\n" % (
            s["clip"][0], s["clip"][1], s["power"], s["kbins"], s["polynomial"],
            1 if s["interaction_only"] else 0, s["encode"], s["max_categories"],
            1 if s["log1p"] else 0, s["seed"], s["task"], s["kbins_encode"]))
        f.write("cv predefined %d\n" % len(np.unique(fold)))
        f.write("rows %d\n" % len(X))
        for i in range(len(X)):
            f.write("%d %s%s\n" % (fold[i], "" if y is None else "%r " % float(y[i]),
                                   " ".join("nan" if np.isnan(v) else repr(float(v))
                                            for v in X[i])))


def parse_output(text):
    """[(train, valid, names, lambdas or None, matrix, inner or None, fitrows or None)] per
    split."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        assert lines[i].startswith("split "), lines[i]
        train = np.array(lines[i + 1].split()[1:], dtype=np.int64)
        valid = np.array(lines[i + 2].split()[1:], dtype=np.int64)
        names = lines[i + 3].split()[1:]
        i += 4
        lambdas = None
        if lines[i].startswith("lambdas"):
            lambdas = np.array([float(v) for v in lines[i].split()[1:]])
            i += 1
        _, r, c = lines[i].split()
        r, c = int(r), int(c)
        M = np.array([[float(v) for v in lines[i + 1 + k].split()] for k in range(r)]).reshape(r, c)
        i += 1 + r
        inner = F = None
        if i < len(lines) and lines[i].startswith("inner"):
            inner = np.array(lines[i].split()[1:], dtype=np.int64)
            _, r, c = lines[i + 1].split()
            r, c = int(r), int(c)
            F = np.array([[float(v) for v in lines[i + 2 + k].split()]
                          for k in range(r)]).reshape(r, c)
            i += 2 + r
        out.append((train, valid, names, lambdas, M, inner, F))
    return out


def run_tool(tmp, label, X, fold, names, types, cats, s, y=None):
    """(returncode, stderr, splits)"""
    inp = os.path.join(tmp, "in_%s.txt" % label)
    write_input(inp, X, fold, names, types, cats, s, y)
    r = subprocess.run([EXE, inp], capture_output=True, text=True)
    return r.returncode, r.stderr, parse_output(r.stdout) if r.returncode == 0 else []


class Clipper(OneToOneFeatureMixin, BaseEstimator, TransformerMixin):
    """preprocess.clip.lower/upper as documented: numpy.quantile (linear) of the training values."""

    def __init__(self, lower=0.0, upper=1.0):
        self.lower, self.upper = lower, upper

    def fit(self, X, y=None):
        self._check_n_features(X, reset=True)
        X = np.asarray(X, dtype=float)
        self.lo_ = np.quantile(X, self.lower, axis=0) if self.lower > 0 else np.full(X.shape[1], -np.inf)
        self.hi_ = np.quantile(X, self.upper, axis=0) if self.upper < 1 else np.full(X.shape[1], np.inf)
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=float), self.lo_, self.hi_)


def log1p_float(X):
    """np.log1p of the columns as numbers (a ColumnTransformer hands over the object array)."""
    return np.log1p(np.asarray(X, dtype=float))


def scaler_step(s):
    if s["scale"] == "standard":
        return [("scale", StandardScaler())]
    if s["scale"] == "minmax":
        return [("scale", MinMaxScaler())]
    return []


def power_step(pipe, types):
    """The fitted PowerTransformer of a pipeline from sklearn_pipeline."""
    num = pipe.named_transformers_["num"]
    if "D" in types:
        num = num.named_steps["ct"].named_transformers_["num"]
    return num.named_steps["power"]


def sklearn_pipeline(types, s):
    num_cols = [j for j, t in enumerate(types) if t == "N"]
    date_cols = [j for j, t in enumerate(types) if t == "D"]
    cat_cols = [j for j, t in enumerate(types) if t == "C"]
    order = [t for t in types if t != "C"]
    assert not date_cols or order == sorted(order, key=lambda t: t != "N"), \
        "N columns first, then D columns"
    assert not cat_cols or max(num_cols + date_cols, default=-1) < min(cat_cols), \
        "categorical columns last"
    steps = []
    if s["log1p"]:
        steps.append(("log1p", FunctionTransformer(log1p_float, feature_names_out="one-to-one")))
    steps.append(("impute", SimpleImputer(strategy="mean")))
    if s["clip"] != (0.0, 1.0):
        steps.append(("clip", Clipper(*s["clip"])))
    if s["power"] != "none":
        steps.append(("power", PowerTransformer(method=s["power"], standardize=True)))
    onehot_bins = s["kbins"] and s["kbins_encode"] == "onehot"
    if s["kbins"]:
        steps.append(("kbins", KBinsDiscretizer(
            n_bins=s["kbins"], encode="onehot-dense" if onehot_bins else "ordinal",
            strategy="quantile")))
    if not onehot_bins:  # documented: bin columns are not scaled
        steps += scaler_step(s)
    poly = [("poly", PolynomialFeatures(degree=2, include_bias=False,
                                        interaction_only=s["interaction_only"]))] \
        if s["polynomial"] else []
    if date_cols:
        # The date parts: imputed and scaled only; then the products of the whole numeric block.
        k = len(num_cols)
        inner = ColumnTransformer(
            [("num", Pipeline(steps), list(range(k))),
             ("date", Pipeline([("impute", SimpleImputer(strategy="mean"))] + scaler_step(s)),
              list(range(k, k + len(date_cols))))],
            sparse_threshold=0.0, verbose_feature_names_out=False)
        steps = [("ct", inner)] + poly
        num_cols = num_cols + date_cols
    else:
        steps += poly
    if s["encode"] == "ordinal":
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    elif s["encode"] == "frequency":
        enc = FrequencyEncoder()
    elif s["encode"] == "target":
        enc = TargetEncoderRef(seed=s["seed"], binary=s["task"] == "binary")
    elif s["min_frequency"] > 0 or s["max_categories"] > 0:
        enc = OneHotEncoder(handle_unknown="infrequent_if_exist", sparse_output=False,
                            min_frequency=s["min_frequency"] or None,
                            max_categories=s["max_categories"] or None)
    else:
        enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    parts = [("num", Pipeline(steps), num_cols)]
    if cat_cols:
        parts.append(("cat", Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                                       ("enc", enc)]), cat_cols))
    return ColumnTransformer(parts, sparse_threshold=0.0)


class FrequencyEncoder(OneToOneFeatureMixin, BaseEstimator, TransformerMixin):
    """The documented frequency encoding: the level's share of the training rows; unseen 0."""

    def fit(self, X, y=None):
        self._check_n_features(X, reset=True)
        X = np.asarray(X, dtype=object)
        self.share_ = []
        for j in range(X.shape[1]):
            vals, counts = np.unique(X[:, j].astype(str), return_counts=True)
            self.share_.append(dict(zip(vals, counts / len(X))))
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=object)
        return np.column_stack([[self.share_[j].get(str(v), 0.0) for v in X[:, j]]
                                for j in range(X.shape[1])]).astype(float)


class TargetEncoderRef(OneToOneFeatureMixin, BaseEstimator, TransformerMixin):
    """The documented target encoding (scikit-learn 1.3's TargetEncoder, smooth="auto"):
    fit_transform cross-fits on the documented inner folds of its rows (KFold(5) / stratified
    for binary, shuffled by hyperfold's RNG with (seed, 0x7e7e, 0): tests/matrix/hfsplits.py's
    port); transform uses the encodings of all fit rows, an unseen level their mean."""

    def __init__(self, seed=0, binary=False):
        self.seed, self.binary = seed, binary

    @staticmethod
    def _encode(levels, yv):
        mean, var = float(np.mean(yv)), float(np.var(yv))
        enc = {}
        for lv in np.unique(levels):
            yc = yv[levels == lv]
            nc, mc = len(yc), float(np.mean(yc))
            sc = float(np.sum((yc - mc) ** 2))
            den = var * nc + sc / nc
            enc[lv] = mean if den == 0 else (var * nc / den) * mc + (1 - var * nc / den) * mean
        return enc, mean

    def inner_folds(self, yv):
        return inner_folds(len(yv), self.seed, yv if self.binary else None)

    def fit(self, X, y):
        self._check_n_features(X, reset=True)
        X = np.asarray(X, dtype=object).astype(str)
        yv = np.asarray(y, dtype=float)
        self.enc_ = [self._encode(X[:, j], yv) for j in range(X.shape[1])]
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=object).astype(str)
        return np.column_stack([[e.get(v, m) for v in X[:, j]]
                                for j, (e, m) in enumerate(self.enc_)]).astype(float)

    def fit_transform(self, X, y):
        self.fit(X, y)
        X = np.asarray(X, dtype=object).astype(str)
        yv = np.asarray(y, dtype=float)
        f = self.inner_folds(yv)
        out = np.empty(X.shape, dtype=float)
        for j in range(X.shape[1]):
            for k in range(5):
                enc, mean = self._encode(X[f != k, j], yv[f != k])
                for i in np.flatnonzero(f == k):
                    out[i, j] = enc.get(X[i, j], mean)
        return out


def frame(X, types, cats, names):
    """The same data as scikit-learn sees it: numbers, and category strings (NaN when missing)."""
    cols = []
    for j, t in enumerate(types):
        if t == "C":
            cols.append(np.array([np.nan if np.isnan(v) else cats[names[j]][int(v)]
                                  for v in X[:, j]], dtype=object))
        else:
            cols.append(X[:, j].astype(object))
    return np.column_stack(cols)


def our_name(sk, names):
    """scikit-learn's output name (it saw an array: x0, x1, ...) -> hyperfold's."""
    block, rest = sk.split("__", 1)

    def col(tok):
        return names[int(tok[1:])]
    def num(tok):  # "x0" or a bin of KBinsDiscretizer(onehot): "x0_2.0" -> "a=bin2"
        if "_" in tok:
            c, b = tok.split("_", 1)
            return "%s=bin%d" % (col(c), int(float(b)))
        return col(tok)
    if block == "num":
        if " " in rest:
            a, b = rest.split(" ")
            return "%s*%s" % (num(a), num(b))
        if rest.endswith("^2"):
            return "%s^2" % num(rest[:-2])
        return num(rest)
    if "_" not in rest:
        return col(rest)
    c, cat = rest.split("_", 1)
    return "%s=%s" % (col(c), "infrequent" if cat == "infrequent_sklearn" else cat)


class Checker:
    def __init__(self, name):
        self.name, self.failures, self.checks = name, 0, 0

    def check(self, ok, what):
        self.checks += 1
        if not ok:
            self.failures += 1
            print("FAIL %s: %s" % (self.name, what))

    def done(self):
        if self.failures:
            raise SystemExit("FAIL: %d of %d checks failed" % (self.failures, self.checks))
        print("PASS %s (%d checks)" % (self.name, self.checks))


def compare(ck, label, X, fold, names, types, cats, s, rtol=1e-9, lambda_rtol=1e-6, tmp="/tmp"):
    """Runs hyperfold's pipeline for settings s on every predefined split and checks names and
    the design matrix of every row (and the lambdas) against scikit-learn's fitted on the same
    training rows. Returns the splits."""
    rc, err, splits = run_tool(tmp, label, X, fold, names, types, cats, s)
    ck.check(rc == 0, "%s: tool_prep exited %d: %s" % (label, rc, err.strip()))
    D = frame(X, types, cats, names)
    worst = 0.0
    for k, (train, valid, our_names, lambdas, M, _, _) in enumerate(splits):
        ck.check(np.array_equal(valid, np.flatnonzero(fold == k)), "%s split %d: rows" % (label, k))
        pipe = sklearn_pipeline(types, s).fit(D[train])
        ref = pipe.transform(D).astype(float)
        sk_names = [our_name(n, names) for n in pipe.get_feature_names_out()]
        ck.check(our_names == sk_names, "%s split %d: columns\n ours    %s\n sklearn %s"
                 % (label, k, our_names, sk_names))
        if M.shape != ref.shape:
            ck.check(False, "%s split %d: shape %s vs %s" % (label, k, M.shape, ref.shape))
            continue
        err = np.abs(M - ref) / np.maximum(1.0, np.abs(ref))
        worst = max(worst, float(err.max()))
        ck.check(np.all(err <= rtol), "%s split %d: max relative error %g (row %s)"
                 % (label, k, err.max(), np.unravel_index(err.argmax(), err.shape)))
        if s["power"] != "none":
            sk_l = power_step(pipe, types).lambdas_
            ours = lambdas[[j for j, t in enumerate(types) if t == "N"]]
            lerr = np.max(np.abs(ours - sk_l) / np.maximum(1.0, np.abs(sk_l)))
            ck.check(lerr <= lambda_rtol, "%s split %d: lambdas %s vs scikit-learn %s"
                     % (label, k, ours, sk_l))
    print("%s: %d splits, %d columns, max relative error %.3g"
          % (label, len(splits), splits[0][4].shape[1] if splits else 0, worst))
    return splits


def inner_folds(m, seed, yv=None):
    """Target encoding's documented inner folds of m fit positions (docs/preprocessing.md): KFold
    (yv None) or, for a binary target yv, stratified, shuffled by the RNG stream 0x7E7E of seed."""
    import hfsplits
    f = np.empty(m, dtype=np.int64)
    r = hfsplits.Rng(seed, 0x7E7E, 0)
    if yv is None:
        perm = list(range(m))
        r.shuffle(perm)
        pos = 0
        for k in range(5):
            size = m // 5 + (1 if k < m % 5 else 0)
            f[perm[pos:pos + size]] = k
            pos += size
    else:
        order = []
        for c in (0, 1):
            pc = [i for i in range(m) if int(yv[i]) == c]
            r.shuffle(pc)
            order += pc
        for j, p in enumerate(order):
            f[p] = j % 5
    return f
