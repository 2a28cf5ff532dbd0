#!/usr/bin/python3
"""A tree model through run, predict and retrain. An xgboost sweep with early stopping on 500
rows (3 classes, missing values), then `retrain` on those rows plus 400 new ones:
- the run's refit trains the mean of the best trial's kept rounds (results.json `refit.n_iter`),
  and its model.h5, loaded by Python's xgboost, predicts what `hyperfold predict` writes;
- retrain refits the same configuration on every row outside its holdout with the rounds the
  run derived, and its new model equals xgboost.train on exactly those rows (predictions to 1e-6);
- its two scores are the log losses of both models on exactly the listed holdout rows;
- a random forest's run and retrain work the same way (no early stopping)."""
import json
import os
import sys

import h5py
import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import log_loss

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

xgb.set_config(verbosity=0)
ck = hftest.Checker("tree_retrain")
work = hftest.tempdir("tree-retrain-")
rng = np.random.default_rng(99)
n_old, n_new, p = 500, 400, 5
X = rng.normal(size=(n_old + n_new, p))
X[rng.random(size=X.shape) < 0.04] = np.nan
z = np.nan_to_num(X[:, 0]) - np.abs(np.nan_to_num(X[:, 1])) + 0.5 * rng.normal(size=len(X))
y = np.array(["low", "mid", "high"])[np.digitize(z, [-1.0, 0.0])]
cols = ["f%d" % j for j in range(p)]
df = pd.DataFrame(X, columns=cols)
df["y"] = y
df.iloc[:n_old].to_csv(os.path.join(work, "old.csv"), index=False, float_format="%.17g", na_rep="")
order = rng.permutation(n_old + n_new)
new_df = df.iloc[order].reset_index(drop=True)
new_df.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g", na_rep="")
classes = np.array(sorted(set(y)))  # hyperfold's class order: sorted labels


def booster_of(run_dir):
    with h5py.File(os.path.join(run_dir, "model.h5"), "r") as f:
        raw = bytearray(f["model_blobs/booster"][()].tobytes())
    b = xgb.Booster()
    b.load_model(raw)
    return b


def hf_predict(model, frame, name):
    path = os.path.join(work, name + ".csv")
    frame.to_csv(path, index=False, float_format="%.17g", na_rep="")
    out = os.path.join(work, name + "-pred.csv")
    hftest.hyperfold(["predict", "--model", model, "--input", path, "--output", out, "--quiet"],
                     np=2, cwd=work)
    return pd.read_csv(out)[["proba_%s" % c for c in classes]].to_numpy()


def params_of(t, forest):
    bp = {"objective": "multi:softprob", "num_class": 3, "tree_method": "hist", "nthread": 1,
          "seed": t["random_state"], "max_depth": t["max_depth"], "subsample": t["subsample"],
          "max_bin": t["max_bin"], "min_child_weight": t["min_child_weight"],
          "reg_lambda": t["reg_lambda"]}
    if forest:
        bp.update(eta=1.0, num_parallel_tree=t["n_estimators"], colsample_bynode=t["max_features"])
    else:
        bp.update(eta=t["learning_rate"])
    return bp


for model, params, forest in (
        ("xgboost", "{n_estimators: 300, learning_rate: [0.1, 0.3], max_depth: 3, "
                    "early_stopping_rounds: 8, subsample: 0.9, n_jobs: 1, random_state: 5}", False),
        ("random_forest", "{n_estimators: [20, 40], max_depth: 5, n_jobs: 1}", True)):
    name = "rt-" + model
    hftest.write(os.path.join(work, name + ".yaml"), """name: %s
data: {source: old.csv, target: y}
cv: {folds: 4, holdout: 0.2, seed: 3}
model: {type: %s, params: %s}
objective: {metric: log_loss, report: [accuracy]}
output: {dir: out}
""" % (name, model, params))
    hftest.hyperfold(["run", name + ".yaml", "--quiet"], np=2, cwd=work)
    run = os.path.join(work, "out", name)
    res = hftest.load_results(run)
    best = res["trials"][res["best"]["trial"]]
    t = best["params"]
    if forest:
        rounds = 1
    else:
        rounds = int(np.floor(np.mean(best["n_iter"]) + 0.5))
        ck.check(all(1 <= k <= 300 for k in best["n_iter"]) and len(set(best["n_iter"])) >= 1,
                 "%s: the best trial's kept rounds per split %r" % (name, best["n_iter"]))
    ck.check(res["refit"].get("n_iter") == rounds and booster_of(run).num_boosted_rounds() == rounds,
             "%s: refit rounds %r, booster %d, expected %d" % (
                 name, res["refit"].get("n_iter"), booster_of(run).num_boosted_rounds(), rounds))
    check = new_df.iloc[:60][cols]
    got = hf_predict(os.path.join(run, "model.h5"), check, name + "-check")
    want = booster_of(run).predict(xgb.DMatrix(check.to_numpy(np.float32), missing=np.nan))
    ck.check(np.allclose(got, want, rtol=0, atol=1e-6),
             "%s: hyperfold predict equals the exported booster in Python" % name)

    old_model = os.path.join(work, name + "-old.h5")
    with open(os.path.join(run, "model.h5"), "rb") as f, open(old_model, "wb") as g:
        g.write(f.read())
    hftest.hyperfold(["retrain", run, "--data", "new.csv"], np=2, cwd=work)
    rt = hftest.load_results(run)["retrain"]
    hold = pd.read_csv(os.path.join(run, "retrain_holdout.csv"))["row"].to_numpy()
    train = np.setdiff1d(np.arange(n_old + n_new), hold)
    ck.check(rt["train_rows"] == len(train) and rt["holdout"]["rows"] == len(hold),
             "%s: retrain trained on every row outside its holdout: %s" % (name, rt))
    Xt = new_df.iloc[train][cols].to_numpy(np.float32)
    yt = np.searchsorted(classes, new_df.iloc[train]["y"].to_numpy())
    ref = xgb.train(params_of(t, forest), xgb.DMatrix(Xt, label=yt, missing=np.nan), rounds)
    hx = new_df.iloc[hold][cols]
    hy = np.searchsorted(classes, new_df.iloc[hold]["y"].to_numpy())
    new_model = os.path.join(run, "model.h5" if rt["promoted"] else "model.retrain.h5")
    got_new = hf_predict(new_model, hx, name + "-hold-new")
    want_new = ref.predict(xgb.DMatrix(hx.to_numpy(np.float32), missing=np.nan))
    ck.check(np.allclose(got_new, want_new, rtol=0, atol=1e-6),
             "%s: the retrained model equals xgboost.train on the same rows (largest difference %g)"
             % (name, np.max(np.abs(got_new - want_new))))
    ck.check(hftest.rel_close(rt["new_score"], log_loss(hy, got_new, labels=[0, 1, 2]), 1e-6),
             "%s: new model's log_loss %r on the listed rows" % (name, rt["new_score"]))
    got_old = hf_predict(old_model, hx, name + "-hold-old")
    ck.check(hftest.rel_close(rt["previous_score"], log_loss(hy, got_old, labels=[0, 1, 2]), 1e-6),
             "%s: current model's log_loss %r on the listed rows" % (name, rt["previous_score"]))
    ck.check(rt["promoted"] == (rt["new_score"] <= rt["previous_score"]),
             "%s: promoted exactly when not worse: %s" % (name, json.dumps(rt)))
ck.done()
