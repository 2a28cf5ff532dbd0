#!/usr/bin/python3
"""Peer test: preprocess.categorical native (XGBoost's categorical splits) against
python3-xgboost (the same libxgboost 1.7.4) on the same predefined folds.

The data have a 12-level categorical column (partition splits), a 3-level one (one-hot splits
under max_cat_to_onehot 4), missing levels in both, a level that only fold 0's rows have (so it
is unseen when fold 0 is the validation fold) and numeric columns with missing values. In Python
each fold's codes are the ordinal encoding fitted on the fold's training rows (the rank of the
level among the training levels in sorted order), a missing or unseen level NaN, and the DMatrix
is built with feature_types [..., 'c', ...] and enable_categorical=True. Checked:
- every per-fold score equals xgboost.train's booster on those codes with the same parameters
  (max_cat_to_onehot and max_cat_threshold searched) to 1e-6 relative, for regression, binary
  and multiclass, for xgboost and random_forest; encode_columns native on one column with
  one-hot on the other too;
- the exported model.h5 booster, loaded by xgboost.Booster, predicts on the refit's codes what
  `hyperfold predict` writes (1e-6), with unseen and missing levels in the new rows;
- the results are the same at 1 and 2 ranks;
- a model without categorical features (ridge) is refused by validate, also when native is one
  choice of a searched list."""
import csv
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import xgboost as xgb

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
import hftest  # noqa: E402
import servelib  # noqa: E402

xgb.set_config(verbosity=0)
ck = hftest.Checker("xgboost_native_peer")
work = hftest.tempdir("peer-xgbcat-")
rng = np.random.default_rng(1313)

n = 480
fold = rng.integers(0, 4, size=n)
levels_a = ["a%02d" % i for i in range(12)]
ca = rng.choice(levels_a[:11], size=n).astype(object)
ca[(fold == 0) & (rng.random(n) < 0.15)] = "a11"  # only fold 0 has a11: unseen in its validation
ca[rng.random(n) < 0.06] = None
cb = rng.choice(["p", "q", "r"], size=n).astype(object)
cb[rng.random(n) < 0.05] = None
x0 = rng.normal(size=n)
x1 = rng.normal(size=n) * 2
x1[rng.random(n) < 0.05] = np.nan
effect_a = {lv: rng.normal() * 1.5 for lv in levels_a}
effect_b = {"p": -1.0, "q": 0.5, "r": 1.0}
z = (np.array([effect_a.get(v, 0.0) for v in ca]) + np.array([effect_b.get(v, 0.0) for v in cb]) +
     x0 + 0.3 * np.nan_to_num(x1))
y_reg = z + rng.normal(scale=0.4, size=n)
y_bin = np.where(z + rng.logistic(size=n) > 0, "yes", "no")
y_multi = np.digitize(z + rng.normal(scale=0.6, size=n), [-1.0, 0.5, 2.0])
COLS = ["x0", "ca", "x1", "cb"]


def write_data(name, y, ca_=ca, cb_=cb, x0_=x0, x1_=x1, fold_=fold, with_y=True):
    with open(os.path.join(work, name), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLS + (["fold", "y"] if with_y else []))
        for i in range(len(x0_)):
            row = ["%.17g" % x0_[i], ca_[i] or "", "" if np.isnan(x1_[i]) else "%.17g" % x1_[i],
                   cb_[i] or ""]
            if with_y:
                row += [str(fold_[i]), str(y[i])]
            w.writerow(row)


def codes(train_levels, values):
    """The ordinal codes of values over the sorted training levels; missing or unseen: NaN."""
    order = {lv: k for k, lv in enumerate(sorted(set(v for v in train_levels if v is not None)))}
    return np.array([order.get(v, np.nan) if v is not None else np.nan for v in values])


def design(tr_idx, rows, native_b=True):
    """hyperfold's design matrix: numeric columns first, then the categorical ones in source
    order (native: one code column; cb one-hot when native_b is false)."""
    cols = [x0[rows], x1[rows], codes(ca[tr_idx], ca[rows])]
    types = ["q", "q", "c"]
    if native_b:
        cols.append(codes(cb[tr_idx], cb[rows]))
        types.append("c")
    else:  # most_frequent imputation, then one-hot over the sorted training levels
        present = [v for v in cb[tr_idx] if v is not None]
        levs = sorted(set(present))
        mode = max(levs, key=lambda lv: (present.count(lv), -levs.index(lv)))
        filled = [v if v is not None else mode for v in cb[rows]]
        for lv in levs:
            cols.append(np.array([1.0 if v == lv else 0.0 for v in filled]))
            types.append("q")
    return np.column_stack(cols).astype(np.float32), types


def dmatrix(Xd, types, label=None):
    return xgb.DMatrix(Xd, label=label, missing=np.nan, feature_types=types,
                       enable_categorical=True)


def scores(task, yv, pred, classes):
    if task == "regression":
        err = yv - pred
        return {"rmse": float(np.sqrt(np.mean(err ** 2))),
                "r2": float(1 - np.sum(err ** 2) / np.sum((yv - yv.mean()) ** 2))}
    yi = np.searchsorted(classes, yv)
    p = np.clip(pred, 1e-15, 1 - 1e-15)
    p = p / p.sum(axis=1, keepdims=True)
    return {"accuracy": float(np.mean(np.argmax(pred, axis=1) == yi)),
            "log_loss": float(-np.mean(np.log(p[np.arange(len(yi)), yi])))}


def booster_params(task, nc, t, forest):
    if task == "regression":
        bp = {"objective": "reg:squarederror"}
    elif nc == 2:
        bp = {"objective": "binary:logistic"}
    else:
        bp = {"objective": "multi:softprob", "num_class": nc}
    bp.update(tree_method="hist", nthread=1, seed=t["random_state"], max_depth=t["max_depth"],
              min_child_weight=t["min_child_weight"], subsample=t["subsample"],
              max_bin=t["max_bin"], reg_lambda=t["reg_lambda"],
              max_cat_to_onehot=t["max_cat_to_onehot"], max_cat_threshold=t["max_cat_threshold"])
    if forest:
        bp.update(eta=1.0, num_parallel_tree=t["n_estimators"], colsample_bynode=t["max_features"])
    else:
        bp.update(eta=t["learning_rate"], colsample_bytree=t["colsample_bytree"])
    return bp


def probs(pr, nc):
    pr = pr.astype(float)
    return np.column_stack([1.0 - pr, pr]) if nc == 2 else pr


def retrain_check(name, run_dir, t, m_new=160):
    """hyperfold retrain on m_new new rows (regression, every column native): the retrained model
    (fitted on the new rows outside retrain's holdout) predicts on the holdout rows what
    xgboost.train on the other new rows' codes predicts."""
    ca2 = rng.choice(levels_a, size=m_new).astype(object)
    cb2 = rng.choice(["p", "q", "r"], size=m_new).astype(object)
    ca2[::8] = None
    x02, x12 = rng.normal(size=m_new), rng.normal(size=m_new) * 2
    y2 = (np.array([effect_a.get(v, 0.0) for v in ca2]) + np.array([effect_b.get(v, 0.0) for v in cb2])
          + x02 + 0.3 * x12 + rng.normal(scale=0.4, size=m_new))
    f2 = rng.integers(0, 4, size=m_new)
    write_data("retrain-%s.csv" % name, y2, ca2, cb2, x02, x12, f2)
    hftest.hyperfold(["retrain", run_dir, "--data", "retrain-%s.csv" % name], np=2, cwd=work)
    rt = hftest.load_results(run_dir)["retrain"]
    with open(os.path.join(run_dir, "retrain_holdout.csv")) as f:
        hold = np.array([int(r["row"]) for r in csv.DictReader(f)])
    A = {"x0": x02, "x1": x12, "ca": ca2, "cb": cb2, "y": y2}
    train = np.setdiff1d(np.arange(len(A["y"])), hold)
    ck.check(rt["train_rows"] == len(train) and len(hold) > 0,
             "%s: retrain trained on every row outside its holdout: %s" % (name, rt))

    def des(rows):
        return np.column_stack([A["x0"][rows], A["x1"][rows], codes(A["ca"][train], A["ca"][rows]),
                                codes(A["cb"][train], A["cb"][rows])]).astype(np.float32)
    types = ["q", "q", "c", "c"]
    ref = xgb.train(booster_params("regression", 0, t, False),
                    dmatrix(des(train), types, A["y"][train]), t["n_estimators"])
    want = ref.predict(dmatrix(des(hold), types)).astype(float)
    write_data("hold-%s.csv" % name, None, A["ca"][hold], A["cb"][hold], A["x0"][hold],
               A["x1"][hold], with_y=False)
    model = os.path.join(run_dir, "model.h5" if rt["promoted"] else "model.retrain.h5")
    hftest.hyperfold(["predict", "--model", model, "--input", "hold-%s.csv" % name, "--output",
                      "hold-pred-%s.csv" % name, "--quiet"], cwd=work)
    with open(os.path.join(work, "hold-pred-%s.csv" % name)) as f:
        got = np.array([float(r["prediction"]) for r in csv.DictReader(f)])
    ck.check(got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-6),
             "%s: the retrained model equals xgboost.train on the same rows' codes (%r vs %r)" % (
                 name, got[:3], want[:3]))


def run(name, y, task, model, params, metric, report, ranks=(1, 2), native_b=True, dp=False,
        retrain=False):
    data = name + ".csv"
    write_data(data, y)
    classes = np.unique(y) if task != "regression" else None
    nc = len(classes) if classes is not None else 0
    prep = ("categorical: native" if native_b else
            "encode_columns: \"ca:native\"")
    spec = """
name: %s
data: {source: %s, target: y, task: %s}
cv: {strategy: predefined, fold_column: fold}
preprocess: {%s}
model:
  type: %s
  params:
%s
search: {strategy: grid}
objective: {metric: %s, report: [%s]}
output: {dir: out-%%s}
""" % (name, data, task, prep, model,
       "\n".join("    %s: %s" % kv for kv in params.items()), metric, ", ".join(report))
    res = hftest.results_at_ranks(ck, work, name, spec, ranks)
    if dp:
        # The data-parallel path (each rank of a group of 2 holds half the rows; the booster is
        # trained over Rabit with the categorical feature types on every rank's matrix) gives
        # the single copy's fold scores: max_bin above the rows makes every cut point exact
        # (docs/models.md, data-parallel training), and a categorical feature's cuts are its codes.
        path = os.path.join(work, "%s-dp.yaml" % name)
        hftest.write(path, (spec % "dp") + "parallel: {ranks_per_task: 2, data_parallel: true}\n")
        hftest.hyperfold(["run", path, "--quiet"], np=2, cwd=work)
        rdp = hftest.load_results(os.path.join(work, "out-dp", name))
        ck.check(rdp["n_failed_trials"] == 0 and len(rdp["trials"]) == len(res["trials"]),
                 "%s data-parallel: %d failed trials of %d" % (name, rdp["n_failed_trials"],
                                                             len(rdp["trials"])))
        for a, b in zip(rdp["trials"], res["trials"]):
            for m in b["fold_scores"]:
                ok = all(hftest.rel_close(u, v, 1e-9) for u, v in
                         zip(a["fold_scores"].get(m, []), b["fold_scores"][m]))
                ck.check(ok and len(a["fold_scores"].get(m, [])) == len(b["fold_scores"][m]),
                         "%s data-parallel trial %d %s: %r vs %r" % (
                             name, a["trial"], m, a["fold_scores"].get(m), b["fold_scores"][m]))
    forest = model == "random_forest"
    for t in res["trials"]:
        bp = booster_params(task, nc, t["params"], forest)
        rounds = 1 if forest else t["params"]["n_estimators"]
        per = {}
        for f in sorted(np.unique(fold)):
            tr, va = np.where(fold != f)[0], np.where(fold == f)[0]
            yt = y[tr] if task == "regression" else np.searchsorted(classes, y[tr])
            Xt, types = design(tr, tr, native_b)
            Xv, _ = design(tr, va, native_b)
            bst = xgb.train(bp, dmatrix(Xt, types, yt), rounds)
            pred = bst.predict(dmatrix(Xv, types))
            s = scores(task, y[va], pred.astype(float) if task == "regression" else probs(pred, nc),
                       classes)
            for m, v in s.items():
                per.setdefault(m, []).append(v)
        for m in [metric] + list(report):
            got = t["fold_scores"].get(m)
            if not ck.check(got is not None and len(got) == len(per[m]),
                            "%s trial %d: fold scores of %s missing" % (name, t["trial"], m)):
                continue
            for k, (a, b) in enumerate(zip(got, per[m])):
                ck.check(hftest.rel_close(a, b, 1e-6, 1e-12),
                         "%s trial %d %s fold %d %s: hyperfold %r xgboost %r" % (
                             name, t["trial"], json.dumps(t["params"]), k, m, a, b))
    # The exported booster predicts, on the refit's codes (fitted on every row), what
    # hyperfold predict writes; the new rows have missing and unseen levels.
    run_dir = os.path.join(work, "out-%d" % ranks[0], name)
    with h5py.File(os.path.join(run_dir, "model.h5"), "r") as f:
        raw = bytearray(f["model_blobs/booster"][()].tobytes())
    booster = xgb.Booster()
    booster.load_model(raw)
    m = 40
    nca = rng.choice(levels_a + ["zz"], size=m).astype(object)  # "zz": never seen
    ncb = rng.choice(["p", "q", "r"], size=m).astype(object)
    nca[::6] = None
    ncb[::9] = None
    nx0, nx1 = rng.normal(size=m), rng.normal(size=m)
    write_data("new-%s.csv" % name, None, nca, ncb, nx0, nx1, with_y=False)
    hftest.hyperfold(["predict", "--model", os.path.join(run_dir, "model.h5"), "--input",
                      "new-%s.csv" % name, "--output", "pred-%s.csv" % name, "--quiet"], np=2,
                     cwd=work)
    with open(os.path.join(work, "pred-%s.csv" % name)) as f:
        rows = list(csv.DictReader(f))
    allr = np.arange(n)
    cols = [nx0, nx1, codes(ca[allr], nca)]
    types = ["q", "q", "c"]
    if native_b:
        cols.append(codes(cb[allr], ncb))
        types.append("c")
    else:
        present = [v for v in cb if v is not None]
        levs = sorted(set(present))
        mode = max(levs, key=lambda lv: (present.count(lv), -levs.index(lv)))
        for lv in levs:
            cols.append(np.array([1.0 if (v if v is not None else mode) == lv else 0.0
                                  for v in ncb]))
            types.append("q")
    py = booster.predict(dmatrix(np.column_stack(cols).astype(np.float32), types))
    if task == "regression":
        got = np.array([float(r["prediction"]) for r in rows])
        ck.check(len(got) == m and np.allclose(got, py.astype(float), rtol=1e-6, atol=1e-6),
                 "%s: predict vs Python's booster: %r vs %r" % (name, got[:3], py[:3]))
    else:
        py = probs(py, nc)
        got = np.array([[float(r["proba_%s" % c]) for c in classes] for r in rows])
        ck.check(got.shape == py.shape and np.allclose(got, py, rtol=0, atol=1e-6),
                 "%s: predicted probabilities vs Python's booster: largest difference %g" % (
                     name, np.max(np.abs(got - py)) if got.shape == py.shape else np.inf))
    # hyperfold serve answers what predict wrote.
    with open(os.path.join(work, "new-%s.csv" % name)) as f:
        body = f.read()
    srv = servelib.Server(os.path.join(run_dir, "model.h5"))
    try:
        st, _, resp = srv.invoke(body, "text/csv;header=present")
    finally:
        srv.stop()
    served = list(csv.DictReader(resp.decode().splitlines())) if st == 200 else []
    def same(a, b):
        try:
            return hftest.rel_close(float(a), float(b), 1e-12, 1e-12)
        except ValueError:
            return a == b
    ck.check(len(served) == m and all(set(a) == set(b) and all(same(a[k], b[k]) for k in a)
                                      for a, b in zip(served, rows)),
             "%s: serve (status %d) answers what predict wrote: %r vs %r" % (
                 name, st, served[:2], rows[:2]))
    if retrain:
        best = res["trials"][res["best"]["trial"]]["params"]
        retrain_check(name, run_dir, best)
    # The trees split on categories (otherwise the test would not test categorical splits).
    dump = json.loads(raw.decode())
    trees = dump["learner"]["gradient_booster"]["model"]["trees"]
    ck.check(any(1 in tr.get("split_type", []) for tr in trees),
             "%s: the model has no categorical split" % name)
    return res


base = {"n_jobs": 1, "random_state": 5}
run("reg", y_reg, "regression", "xgboost",
    dict(base, n_estimators="[10, 30]", max_depth="[3, 5]", learning_rate=0.3,
         max_cat_to_onehot="[1, 4, 16]", max_cat_threshold="[2, 64]"),
    "rmse", ["r2"], retrain=True)
run("bin", y_bin, "classification", "xgboost",
    dict(base, n_estimators=20, max_depth=4, learning_rate=0.2, subsample=0.8,
         max_cat_to_onehot="[4, 16]"),
    "log_loss", ["accuracy"])
run("multi", y_multi, "classification", "xgboost",
    dict(base, n_estimators=15, max_depth=3, max_bin=512, max_cat_threshold="[4, 64]"),
    "log_loss", ["accuracy"], dp=True)
run("cols", y_reg, "regression", "xgboost",
    dict(base, n_estimators=20, max_depth=4), "rmse", ["r2"], ranks=(1,), native_b=False)
run("rf-reg", y_reg, "regression", "random_forest",
    dict(base, n_estimators=20, max_depth=5, max_cat_to_onehot="[1, 4]"), "r2", ["rmse"])
run("rf-multi", y_multi, "classification", "random_forest",
    dict(base, n_estimators=15, max_depth=4), "accuracy", ["log_loss"])

# Every other model refuses native, also as one choice of a searched list.
for prep, key in (("categorical: native", "preprocess.categorical"),
                  ("categorical: [onehot, native]", "preprocess.categorical"),
                  ("encode_columns: \"ca:native\"", "preprocess.encode_columns")):
    path = os.path.join(work, "ridge.yaml")
    hftest.write(path, """
name: ridge
data: {source: reg.csv, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
preprocess: {%s}
model: {type: ridge}
objective: {metric: rmse}
""" % prep)
    p = subprocess.run([hftest.HYPERFOLD, "validate", path], cwd=work, env=hftest.env(),
                       capture_output=True, text=True)
    err = p.stderr.strip()
    ck.check(p.returncode != 0 and key in err and "native" in err and "ridge" in err and
             "xgboost, random_forest" in err and len(err.splitlines()) == 1,
             "ridge with %s: rc %d, stderr %r" % (prep, p.returncode, err))
ck.done()
