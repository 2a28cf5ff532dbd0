#!/usr/bin/python3
"""A sweep over the new transforms against scikit-learn's GridSearchCV on the same folds:
`hyperfold run` with predefined folds, ridge, and a grid over preprocess.power [none,
yeo-johnson], preprocess.polynomial [0, 2], preprocess.kbins [0, 4] and preprocess.categorical
[onehot, ordinal, frequency] (24 trials) gives every trial's fold r2 equal to GridSearchCV's
split scores for Pipeline(ColumnTransformer(...), Ridge) (1e-6) and picks the same settings; the
refit's model.h5 holds the lambdas of the best pipeline's PowerTransformer (1e-6), and
`hyperfold predict` with it equals best_estimator_.predict (1e-6, rows with missing values and
unseen levels included). A clip + box-cox + kbins onehot + max_categories trial runs through `run` and `predict` too.
A sweep over preprocess.categorical [onehot, target] x power [none, yeo-johnson] for a regression
target (ridge) and for a binary one (logistic regression) equals GridSearchCV with the documented
target encoder (cross-fitted on the inner folds of each fit's rows: prep_steps_lib
TargetEncoderRef), and predict with the target-encoded refit equals its best_estimator_."""
import os
import sys

import h5py
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, PredefinedSplit
from sklearn.pipeline import Pipeline
from sklearn.linear_model import Ridge

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "matrix"))  # hfsplits: the RNG of the inner folds
import hftest  # noqa: E402
import prep_steps_lib as L  # noqa: E402

ck = hftest.Checker("encode_sweep_peer")
work = hftest.tempdir("prep-sweep-")
rng = np.random.default_rng(1606)
n = 360
CITIES = ["Lyon", "Oslo", "Paris", "Rome", "Wien"]
df = pd.DataFrame({
    "a": rng.lognormal(1.0, 0.7, n),
    "b": rng.normal(0, 2, n),
    "c": rng.gamma(2.0, 1.5, n),
    "city": rng.choice(CITIES, n, p=[0.35, 0.05, 0.3, 0.2, 0.1]),
})
df["y"] = (3 * np.log1p(df["a"]) + 0.5 * df["b"] * np.log(df["c"]) +
           df["city"].map({"Lyon": 1.0, "Oslo": -2.0, "Paris": 0.5, "Rome": 2.0, "Wien": 0.0}) +
           rng.normal(0, 0.3, n))
df.loc[rng.choice(n, 15, replace=False), "a"] = np.nan
df.loc[rng.choice(n, 10, replace=False), "city"] = np.nan
df["fold"] = np.arange(n) % 4
csv = os.path.join(work, "d.csv")
df.to_csv(csv, index=False, float_format="%.17g")
FEATS = ["a", "b", "c", "city"]
types = ["N", "N", "N", "C"]

hftest.write(os.path.join(work, "job.yaml"), """name: s
data: {source: d.csv, target: y}
cv: {strategy: predefined, fold_column: fold}
preprocess:
  scale: standard
  power: [none, yeo-johnson]
  polynomial: [0, 2]
  kbins: [0, 4]
  categorical: [onehot, ordinal, frequency]
model: {type: ridge, params: {alpha: [1.0]}}
search: {strategy: grid}
objective: {metric: r2}
output: {dir: out}
""")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=work)
res = hftest.load_results(os.path.join(work, "out", "s"))
ck.check(len(res["trials"]) == 24, "24 trials: %d" % len(res["trials"]))


def sk_settings(params):
    return L.settings(scale="standard", power=params["preprocess.power"],
                      polynomial=params["preprocess.polynomial"], kbins=params["preprocess.kbins"],
                      encode=params["preprocess.categorical"])


def pipeline(s):
    return Pipeline([("prep", L.sklearn_pipeline(types, s)), ("ridge", Ridge(alpha=1.0))])


D = df[FEATS].to_numpy(dtype=object)
y = df["y"].to_numpy()
grid = [{"prep": [L.sklearn_pipeline(types, sk_settings(t["params"]))]} for t in res["trials"]]
gs = GridSearchCV(pipeline(L.settings()), grid, cv=PredefinedSplit(df["fold"]), scoring="r2",
                  refit=True).fit(D, y)
for i, t in enumerate(res["trials"]):
    want = [gs.cv_results_["split%d_test_score" % f][i] for f in range(4)]
    got = t["fold_scores"]["r2"]
    ok = all(hftest.rel_close(a, b, 1e-6, 1e-9) for a, b in zip(got, want))
    ck.check(ok, "trial %s: r2 %s vs GridSearchCV %s" % (t["params"], got, want))
best = res["best"]["params"]
sk_best = res["trials"][int(gs.best_index_)]["params"]
ck.check(all(best[k] == sk_best[k] for k in best if k.startswith("preprocess.")),
         "same settings selected: %s vs %s" % (best, sk_best))

# The refit: model.h5's lambdas and predict equal GridSearchCV's best_estimator_.
with h5py.File(os.path.join(work, "out", "s", "model.h5"), "r") as h:
    names = list(h["preprocess"].keys())
    if best["preprocess.power"] != "none":
        lam = h["preprocess"]["prep.num"][:, 2][:3]
        sk_lam = gs.best_estimator_["prep"].named_transformers_["num"].named_steps["power"].lambdas_
        ck.check(np.allclose(lam, sk_lam, rtol=1e-6), "refit lambdas %s vs %s" % (lam, sk_lam))
pred_in = df[FEATS].copy()
pred_in.loc[:9, "city"] = "Zagreb"  # unseen level
pred_in.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g")
hftest.hyperfold(["predict", "--model", "out/s/model.h5", "--input", "new.csv", "--output",
                  "pred.csv", "--quiet"], np=2, cwd=work)
got = pd.read_csv(os.path.join(work, "pred.csv"))["prediction"].to_numpy()
want = gs.best_estimator_.predict(pred_in.to_numpy(dtype=object))
worst = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0)))
ck.check(worst < 1e-6, "predict equals best_estimator_ (%.3g; arrays %s)" % (worst, names))

# clip, max_categories and box-cox (positive columns only) through run and predict.
hftest.write(os.path.join(work, "job2.yaml"), """name: t
data: {source: d.csv, target: y, drop: [b]}
cv: {strategy: predefined, fold_column: fold}
preprocess: {clip: {lower: 0.05, upper: 0.95}, power: box-cox, max_categories: 3, scale: minmax,
             kbins: 3, kbins_encode: onehot}
model: {type: ridge, params: {alpha: [0.5]}}
output: {dir: out}
""")
hftest.hyperfold(["run", "job2.yaml", "--quiet"], np=2, cwd=work)
r2 = hftest.load_results(os.path.join(work, "out", "t"))
s2 = L.settings(clip=(0.05, 0.95), power="box-cox", max_categories=3, scale="minmax", kbins=3,
                kbins_encode="onehot")
F2 = ["a", "c", "city"]
p2 = Pipeline([("prep", L.sklearn_pipeline(["N", "N", "C"], s2)), ("ridge", Ridge(alpha=0.5))])
gs2 = GridSearchCV(p2, {"ridge__alpha": [0.5]}, cv=PredefinedSplit(df["fold"]),
                   scoring="r2").fit(df[F2].to_numpy(dtype=object), y)
got = r2["trials"][0]["fold_scores"]["r2"]
want = [gs2.cv_results_["split%d_test_score" % f][0] for f in range(4)]
ck.check(all(hftest.rel_close(a, b, 1e-6, 1e-9) for a, b in zip(got, want)),
         "clip+box-cox+max_categories r2 %s vs %s" % (got, want))
hftest.hyperfold(["predict", "--model", "out/t/model.h5", "--input", "new.csv", "--output",
                  "pred2.csv", "--ignore-extra-columns", "--quiet"], np=2, cwd=work)
got = pd.read_csv(os.path.join(work, "pred2.csv"))["prediction"].to_numpy()
want = gs2.best_estimator_.predict(pred_in[F2].to_numpy(dtype=object))
worst = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0)))
ck.check(worst < 1e-6, "predict with clip+box-cox+max_categories+kbins onehot (%.3g)" % worst)

# Target encoding searched against onehot: regression (ridge) and binary (logistic).
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
df["yes"] = np.where(df["y"] > df["y"].median(), "yes", "no")
df.to_csv(csv, index=False, float_format="%.17g")
for kind, target, model, metric in (
        ("regression", "y", "{type: ridge, params: {alpha: [1.0]}}", "r2"),
        ("binary", "yes", "{type: logistic_regression, params: {C: [1.0], tol: 1.0e-10, "
         "max_iter: 10000}}", "log_loss")):
    name = "te_" + kind
    hftest.write(os.path.join(work, name + ".yaml"), """name: %s
data: {source: d.csv, target: %s, drop: [%s]}
cv: {strategy: predefined, fold_column: fold, seed: 99}
preprocess: {scale: standard, categorical: [onehot, target], power: [none, yeo-johnson]}
model: %s
search: {strategy: grid}
objective: {metric: %s}
output: {dir: out}
""" % (name, target, "yes" if kind == "regression" else "y", model, metric))
    hftest.hyperfold(["run", name + ".yaml", "--quiet"], np=2, cwd=work)
    rt = hftest.load_results(os.path.join(work, "out", name))
    yv = df[target].to_numpy() if kind == "regression" else (df[target] == "yes").to_numpy(float)
    est = Ridge(alpha=1.0) if kind == "regression" else LogisticRegression(C=1.0, tol=1e-10,
                                                                            max_iter=10000)
    grid = []
    for t in rt["trials"]:
        st = L.settings(scale="standard", power=t["params"]["preprocess.power"],
                        encode=t["params"]["preprocess.categorical"], seed=99,
                        task="binary" if kind == "binary" else "none")
        grid.append({"prep": [L.sklearn_pipeline(types, st)]})
    scoring = "r2" if kind == "regression" else "neg_log_loss"
    gst = GridSearchCV(Pipeline([("prep", L.sklearn_pipeline(types, L.settings())), ("m", est)]),
                       grid, cv=PredefinedSplit(df["fold"]), scoring=scoring).fit(D, yv)
    for i, t in enumerate(rt["trials"]):
        want = [gst.cv_results_["split%d_test_score" % f][i] for f in range(4)]
        if kind == "binary":
            want = [-w for w in want]
        got = t["fold_scores"][metric]
        # logistic regression: the two solvers' tolerance (as test_pipeline_sweep_peer.py)
        tol = 1e-6 if kind == "regression" else 1e-4
        ck.check(all(hftest.rel_close(a, b, tol, 1e-9) for a, b in zip(got, want)),
                 "%s trial %s: %s %s vs GridSearchCV %s" % (kind, t["params"], metric, got, want))
    ck.check(rt["best"]["params"]["preprocess.categorical"] ==
             rt["trials"][int(gst.best_index_)]["params"]["preprocess.categorical"],
             "%s: the same encoding selected" % kind)
    # predict with a target-encoded refit (the model is fitted on the cross-fitted encodings of
    # every row; predict applies the encodings fitted on all rows)
    with open(os.path.join(work, name + ".yaml")) as f:
        spec = f.read().replace("categorical: [onehot, target], power: [none, yeo-johnson]",
                                "categorical: target, power: yeo-johnson")
    hftest.write(os.path.join(work, name + "_fixed.yaml"), spec.replace("name: " + name,
                                                                       "name: " + name + "_f"))
    hftest.hyperfold(["run", name + "_fixed.yaml", "--quiet"], np=2, cwd=work)
    hftest.hyperfold(["predict", "--model", "out/%s_f/model.h5" % name, "--input", "new.csv",
                      "--output", name + ".csv", "--quiet"], np=2, cwd=work)
    out = pd.read_csv(os.path.join(work, name + ".csv"))
    st = L.settings(scale="standard", power="yeo-johnson", encode="target", seed=99,
                    task="binary" if kind == "binary" else "none")
    ref = Pipeline([("prep", L.sklearn_pipeline(types, st)), ("m", est)]).fit(D, yv)
    if kind == "regression":
        got, want = out["prediction"].to_numpy(), ref.predict(pred_in.to_numpy(dtype=object))
    else:
        got = out["proba_yes"].to_numpy()
        want = ref.predict_proba(pred_in.to_numpy(dtype=object))[:, 1]
    worst = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0)))
    ck.check(worst < (1e-6 if kind == "regression" else 1e-4),
             "%s: predict with target encoding (%.3g)" % (kind, worst))
    print("%s: %d trials agree with GridSearchCV; best %s" % (kind, len(rt["trials"]),
                                                              rt["best"]["params"]))
ck.done()
