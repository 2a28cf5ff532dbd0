#!/usr/bin/python3
"""Peer test: hyperfold's xgboost and random_forest against python3-xgboost (the same libxgboost
1.7.4) on the same predefined folds.

For each task (regression with squared and pseudo-Huber error, binary, 4 classes; missing values
in the features, which both leave to XGBoost) and a grid that varies n_estimators (the rounds
hyperfold shares in one training run), depth, learning rate and the sampling parameters:
- every per-fold score of every metric equals xgboost.train's booster (float32 data, NaN missing,
  tree_method hist, nthread 1, the same seed) to 1e-6 relative;
- with early_stopping_rounds, the rounds each fold kept equal xgboost.train's best_iteration + 1
  with the same validation rows and metric, and the refit's rounds are the mean of the folds'
  (results.json);
- the exported model.h5 holds the booster as JSON, which xgboost.Booster loads, and its
  predictions equal what `hyperfold predict` writes to 1e-6;
- random_forest equals XGBRFRegressor / XGBRFClassifier with the same parameters;
- class_weight balanced equals training with scikit-learn's compute_sample_weight("balanced")
  as the DMatrix's weights;
- the results are the same at 1 and 3 ranks (4 ranks on the forest)."""
import csv
import json
import os
import sys

import h5py
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.metrics import (accuracy_score, log_loss, mean_absolute_error, mean_squared_error,
                             r2_score, roc_auc_score)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

xgb.set_config(verbosity=0)
ck = hftest.Checker("xgboost_peer")
work = hftest.tempdir("peer-xgb-")
rng = np.random.default_rng(2026)

n, p = 600, 7
X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, size=p)
X[rng.random(size=(n, p)) < 0.05] = np.nan  # missing values: XGBoost's default direction
z = np.nan_to_num(X[:, 0]) * 1.5 - np.nan_to_num(X[:, 1]) ** 2 * 0.3 + np.sin(np.nan_to_num(X[:, 2]))
fold = rng.integers(0, 4, size=n)
y_reg = z + rng.normal(scale=0.5, size=n)
y_bin = np.where(z + rng.logistic(size=n) > 0, "yes", "no")
y_bin_rare = np.where(z + rng.logistic(size=n) > 2.0, "rare", "common")  # about 1 in 6 rare
y_multi = np.digitize(z + rng.normal(scale=0.7, size=n), [-1.5, 0.0, 1.5])  # 0..3, integers


def write_data(name, y):
    df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
    df["fold"] = fold
    df["y"] = y
    df.to_csv(os.path.join(work, name), index=False, float_format="%.17g", na_rep="")


def folds_iter():
    for f in sorted(np.unique(fold)):
        yield np.where(fold != f)[0], np.where(fold == f)[0]


def scores(task, y, pred, classes):
    """Every metric hyperfold reports for the task, from predictions (values or probabilities)."""
    if task == "regression":
        return {"r2": r2_score(y, pred), "rmse": mean_squared_error(y, pred, squared=False),
                "mae": mean_absolute_error(y, pred)}
    yi = np.searchsorted(classes, y)
    out = {"accuracy": accuracy_score(yi, np.argmax(pred, axis=1)),
           "log_loss": log_loss(yi, pred, labels=np.arange(len(classes)))}
    if len(classes) == 2:
        out["roc_auc"] = roc_auc_score(yi, pred[:, 1])
    return out


def booster_params(task, n_classes, trial, forest=False):
    """xgboost.train's parameters for a hyperfold trial (the names hyperfold maps)."""
    t = trial["params"]
    if task == "regression":
        bp = {"objective": t["objective"] if t["objective"] != "auto" else "reg:squarederror"}
        if bp["objective"] == "reg:pseudohubererror":
            bp["huber_slope"] = t["huber_slope"]
    elif n_classes == 2:
        bp = {"objective": "binary:logistic"}
    else:
        bp = {"objective": "multi:softprob", "num_class": n_classes}
    bp.update(tree_method="hist", nthread=1, seed=t["random_state"], max_depth=t["max_depth"],
              min_child_weight=t["min_child_weight"], subsample=t["subsample"],
              max_bin=t["max_bin"], max_leaves=t["max_leaves"], grow_policy=t["grow_policy"],
              reg_lambda=t["reg_lambda"])
    if forest:
        bp.update(eta=1.0, num_parallel_tree=t["n_estimators"], colsample_bynode=t["max_features"])
    else:
        bp.update(eta=t["learning_rate"], colsample_bytree=t["colsample_bytree"],
                  colsample_bynode=t["colsample_bynode"], reg_alpha=t["reg_alpha"], gamma=t["gamma"],
                  scale_pos_weight=t["scale_pos_weight"], max_delta_step=t["max_delta_step"])
    return bp


def predict(booster, Xv, n_classes):
    pr = booster.predict(xgb.DMatrix(Xv.astype(np.float32), missing=np.nan))
    if n_classes == 2:
        return np.column_stack([1.0 - pr.astype(float), pr.astype(float)])
    return pr.astype(float)


def run(name, data, y, task, model, params, metric, report, ranks=(1, 3), es=None):
    write_data(data, y)
    classes = np.unique(y) if task != "regression" else None
    nc = len(classes) if classes is not None else 0
    spec = """
name: %s
data: {source: %s, target: y, task: %s}
cv: {strategy: predefined, fold_column: fold}
model:
  type: %s
  params:
%s
search: {strategy: grid}
objective: {metric: %s, report: [%s]}
output: {dir: out-%%d}
""" % (name, data, task, model, "\n".join("    %s: %s" % kv for kv in params.items()), metric,
       ", ".join(report))
    res = hftest.results_at_ranks(ck, work, name, spec, ranks)
    Xf = X.astype(np.float32)
    best_mean, best_trial = None, None
    for t in res["trials"]:
        bp = booster_params(task, nc, t, forest=(model == "random_forest"))
        rounds = 1 if model == "random_forest" else t["params"]["n_estimators"]
        per = {}
        kept = []
        for k, (tr, va) in enumerate(folds_iter()):
            yt = y[tr] if task == "regression" else np.searchsorted(classes, y[tr])
            w = None
            if t["params"].get("class_weight") == "balanced":  # scikit-learn's definition
                w = compute_sample_weight("balanced", yt)
            dtr = xgb.DMatrix(Xf[tr], label=yt, weight=w, missing=np.nan)
            if es:
                yv = y[va] if task == "regression" else np.searchsorted(classes, y[va])
                dva = xgb.DMatrix(Xf[va], label=yv, missing=np.nan)
                bst = xgb.train(bp, dtr, rounds, evals=[(dva, "valid")], verbose_eval=False,
                                early_stopping_rounds=es,
                                custom_metric=None)
                keep = bst.best_iteration + 1
                kept.append(keep)
                bst = bst[:keep]
            else:
                bst = xgb.train(bp, dtr, rounds)
            s = scores(task, y[va], predict(bst, X[va], nc), classes)
            for m, v in s.items():
                per.setdefault(m, []).append(v)
        for m in [metric] + list(report):
            ref = per[m]
            got = t["fold_scores"].get(m)
            if not ck.check(got is not None and len(got) == len(ref),
                            "%s trial %d: fold scores of %s missing" % (name, t["trial"], m)):
                continue
            for k, (a, b) in enumerate(zip(got, ref)):
                ck.check(hftest.rel_close(a, b, 1e-6, 1e-12),
                         "%s trial %d %s fold %d %s: hyperfold %r xgboost %r" % (
                             name, t["trial"], json.dumps(t["params"]), k, m, a, b))
        if es:
            ck.check(t["n_iter"] == kept, "%s trial %d: rounds kept %r, xgboost's best %r" % (
                name, t["trial"], t["n_iter"], kept))
        mean = float(np.mean(per[metric]))
        better = (best_mean is None or (mean < best_mean - 1e-12 if metric in ("rmse", "mae", "log_loss")
                                        else mean > best_mean + 1e-12))
        if better:
            best_mean, best_trial = mean, t["trial"]
    ck.check(res["best"]["trial"] == best_trial,
             "%s: best trial hyperfold %r xgboost %r" % (name, res["best"]["trial"], best_trial))
    # The exported booster, loaded by Python's xgboost, predicts what hyperfold predict writes.
    run_dir = os.path.join(work, "out-%d" % ranks[0], name)
    with h5py.File(os.path.join(run_dir, "model.h5"), "r") as f:
        blob = f["model_blobs/booster"]
        ck.check(blob.attrs["format"] in (b"json", "json"), "%s: booster format %r" % (
            name, blob.attrs["format"]))
        raw = bytearray(blob[()].tobytes())
    booster = xgb.Booster()
    booster.load_model(raw)
    if es:
        want = int(np.floor(np.mean(res["trials"][res["best"]["trial"]]["n_iter"]) + 0.5))
        ck.check(booster.num_boosted_rounds() == want and res["refit"].get("n_iter") == want,
                 "%s: refit rounds %d (results %r), expected the folds' mean %d" % (
                     name, booster.num_boosted_rounds(), res["refit"].get("n_iter"), want))
    new = pd.DataFrame(rng.normal(size=(50, p)) * 2, columns=["x%d" % i for i in range(p)])
    new.iloc[::7, 3] = np.nan
    new.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g", na_rep="")
    hftest.hyperfold(["predict", "--model", os.path.join(run_dir, "model.h5"), "--input",
                      "new.csv", "--output", "pred-%s.csv" % name, "--quiet"], np=2, cwd=work)
    with open(os.path.join(work, "pred-%s.csv" % name)) as f:
        rows = list(csv.DictReader(f))
    py = predict(booster, new.to_numpy(), nc)
    if task == "regression":
        got = np.array([float(r["prediction"]) for r in rows])
        ck.check(len(got) == 50 and np.allclose(got, py[:], rtol=1e-6, atol=1e-6),
                 "%s: predict vs Python's booster: %r vs %r" % (name, got[:3], py[:3]))
    else:
        got = np.array([[float(r["proba_%s" % c]) for c in classes] for r in rows])
        ck.check(got.shape == py.shape and np.allclose(got, py, rtol=0, atol=1e-6),
                 "%s: predicted probabilities vs Python's booster: largest difference %g" % (
                     name, np.max(np.abs(got - py)) if got.shape == py.shape else np.inf))
        labels = [r["prediction"] for r in rows]
        ck.check(labels == [str(classes[i]) for i in np.argmax(py, axis=1)],
                 "%s: predicted labels" % name)
    return res


base = {"n_jobs": 1, "random_state": 3}
run("reg", "reg.csv", y_reg, "regression", "xgboost",
    dict(base, n_estimators="[5, 20, 40]", max_depth="[2, 5]", learning_rate="[0.3, 0.05]",
         subsample=0.8, colsample_bytree=0.7, reg_alpha=0.5),
    "rmse", ["r2", "mae"])
run("huber", "reg.csv", y_reg, "regression", "xgboost",
    dict(base, n_estimators="[10, 30]", objective="reg:pseudohubererror", huber_slope=2.0,
         max_depth=3, grow_policy="[depthwise, lossguide]", max_leaves=6),
    "mae", ["rmse"], ranks=(1,))
run("bin", "bin.csv", y_bin, "classification", "xgboost",
    dict(base, n_estimators="[10, 60]", max_depth="[3, 6]", learning_rate=0.2, min_child_weight="[1, 5]",
         colsample_bynode=0.6, gamma=0.1, scale_pos_weight=1.5, max_delta_step=1),
    "roc_auc", ["accuracy", "log_loss"])
run("multi", "multi.csv", y_multi, "classification", "xgboost",
    dict(base, n_estimators="[15, 30]", max_depth=4, learning_rate="[0.1, 0.4]", max_bin=32),
    "log_loss", ["accuracy"])
run("es-bin", "bin.csv", y_bin, "classification", "xgboost",
    dict(base, n_estimators=300, max_depth=3, learning_rate="[0.3, 0.1]", early_stopping_rounds=10),
    "log_loss", ["accuracy", "roc_auc"], es=10)
run("es-reg", "reg.csv", y_reg, "regression", "xgboost",
    dict(base, n_estimators=200, max_depth=3, learning_rate=0.3, early_stopping_rounds=5),
    "rmse", ["r2"], es=5)
run("bin-balanced", "bin.csv", y_bin_rare, "classification", "xgboost",
    dict(base, n_estimators="[10, 30]", max_depth=3, class_weight="[none, balanced]"),
    "roc_auc", ["accuracy", "log_loss"], ranks=(1, 2))
run("multi-balanced", "multi.csv", y_multi, "classification", "random_forest",
    dict(base, n_estimators=20, max_depth=4, class_weight="balanced"),
    "accuracy", ["log_loss"], ranks=(1,))
run("rf-reg", "reg.csv", y_reg, "regression", "random_forest",
    dict(base, n_estimators="[20, 50]", max_depth="[4, 8]", max_features=0.5),
    "r2", ["rmse"], ranks=(1, 4))
run("rf-multi", "multi.csv", y_multi, "classification", "random_forest",
    dict(base, n_estimators=30, max_depth=5, subsample="[0.5, 0.8]"),
    "accuracy", ["log_loss"])
ck.done()
