#!/usr/bin/python3
"""Data-parallel fits (`parallel: {ranks_per_task: G, data_parallel: true}`): each rank of a group
fits on its block of the table's rows and the statistics, Gram matrices and loss gradients are
reduced over the group. On a table with missing numeric values and a categorical column with a rare
level and missing values (mean imputation with indicators, standard scaling, one-hot), ridge and
logistic_regression (binary, and 3 classes with class_weight balanced), and xgboost (regression,
and 3 classes with early stopping; trained over Rabit) on groups of 2, 3 and 4 ranks
(oversubscribed) give the fold scores, the best trial, and the refit's stored model
(coefficients, intercepts, preprocessing) of the single-copy run on one rank, to 1e-9 relative,
and the same profile.json (the drift profile, built from the row blocks; describe --against
reads it). Ridge with the preprocessing steps that need every row of a column (median and most
frequent imputation, clip, Yeo-Johnson, kbins; PCA) as search axes on groups of 2 and 3 gives the
single copy's fold scores and model.h5. Target encoding (logistic regression on a binary target
with KFold, `categorical: target`; ridge with a time-series split, whose training rows are not in
the table's order, `encode_columns: "city:target"`) on groups of 2 and 3 gives the single copy's
fold scores and model.h5 (the encodings, preprocess/freq, bit for bit); the time-series case with
every gather and broadcast in 64-byte pieces (HF_COMM_CHUNK_BYTES=64, a test switch) gives the
bits of the default run. validate refuses, in one line with exit 2: data_parallel with
ranks_per_task 1, with a model that cannot split its rows (kernel_ridge), and a table larger than
parallel.memory_per_rank without data_parallel; `auto` turns it on for that table; a search space
with target encoding is accepted."""
import json
import os
import sys

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("data_parallel")
work = hftest.tempdir("data-parallel-")
rng = np.random.default_rng(11)
n = 170
df = pd.DataFrame({"a": rng.normal(100.0, 3.0, n), "b": rng.normal(0.0, 1e-3, n),
                   "c": rng.uniform(-1.0, 4.0, n)})
df["city"] = rng.choice(["Oslo", "Paris", "Rome", "Lima"], n, p=[0.4, 0.3, 0.26, 0.04])
z = 0.7 * (df.a - 100.0) + 900.0 * df.b - 0.4 * df.c + (df.city == "Rome") + rng.normal(0, 0.5, n)
df.loc[rng.random(n) < 0.1, "a"] = np.nan
df.loc[rng.random(n) < 0.08, "city"] = np.nan
tables = {}
for name, target in (("reg", z), ("bin", (z > 0.2).astype(int)),
                     ("multi", np.digitize(z, [-0.6, 0.6]))):
    d = df.copy()
    d["y"] = target
    tables[name] = os.path.join(work, name + ".csv")
    d.to_csv(tables[name], index=False, float_format="%.17g")

MODELS = {
    "reg": ("regression", "ridge", "{alpha: [0.3, 3.0, 30.0], fit_intercept: [true, false]}"),
    "bin": ("classification", "logistic_regression", "{C: [0.5, 2.0], max_iter: [300]}"),
    "multi": ("classification", "logistic_regression",
              "{C: [0.5, 2.0], max_iter: [300], class_weight: [balanced]}"),
    # xgboost trains over XGBoost's Rabit communicator; with fewer rows than max_bin (256) the
    # merged quantile sketch holds every value, so the cut points, trees and predictions are those
    # of one process (docs/scaling.md). Early stopping scores every validation row.
    "xgb_reg": ("regression", "xgboost",
                "{n_estimators: [15, 30], max_depth: [3], learning_rate: [0.2]}"),
    "xgb_multi": ("classification", "xgboost",
                  "{n_estimators: [40], max_depth: [2, 3], learning_rate: [0.3], "
                  "early_stopping_rounds: [3]}"),
    # the steps that gather a column (order statistics) and PCA, as search axes
    "prep": ("regression", "ridge", "{alpha: [0.3, 3.0]}"),
    # kbins and PCA in the refit's model.h5
    "prep_pca": ("regression", "ridge", "{alpha: [1.0]}"),
}
PREP_AXES = {"prep": ", impute: {numeric: [median, most_frequent]}, clip: {lower: [0.05]}, "
                     "power: [none, yeo-johnson], kbins: [0, 4], pca: {n_components: [0, 3]}",
             "prep_pca": ", impute: {numeric: most_frequent}, kbins: 4, pca: {n_components: 3}"}
tables["xgb_reg"], tables["xgb_multi"] = tables["reg"], tables["multi"]
# target encoding: a time-series split orders the rows by t, a permutation of the table's order
d = df.copy()
d["y"] = z
d["t"] = rng.permutation(n)
tables["te_ts"] = os.path.join(work, "reg_ts.csv")
d.to_csv(tables["te_ts"], index=False, float_format="%.17g")
tables["te_bin"] = tables["bin"]
MODELS["te_bin"] = ("classification", "logistic_regression", "{C: [0.5, 2.0], max_iter: [300]}")
MODELS["te_ts"] = ("regression", "ridge", "{alpha: [0.3, 3.0]}")
PREP_AXES["te_bin"] = ", categorical: target"
PREP_AXES["te_ts"] = ', encode_columns: "city:target"'
CV = {"te_ts": "{strategy: timeseries, order_column: t, folds: 3, holdout: 0.15}"}
tables["prep"] = tables["prep_pca"] = tables["reg"]
SPEC = """name: dp
data: {source: %s, target: y, task: %s}
cv: %s
preprocess: {scale: standard, impute: {indicator: true}%s}
model: {type: %s, params: %s}
parallel: {ranks_per_task: %d, data_parallel: %s%s}
output: {dir: out}
"""


def spec(case, g, dp, prep_extra="", par_extra="", model=None):
    task, mtype, params = MODELS[case]
    prep_extra = PREP_AXES.get(case, "") + prep_extra
    cv = CV.get(case, "{folds: 3, seed: 4, holdout: 0.15}")
    text = SPEC % (tables[case], task, cv, prep_extra, model or mtype, params, g, dp, par_extra)
    return text.replace("impute: {indicator: true}, impute: {", "impute: {indicator: true, ") \
        if case in PREP_AXES else text


def model_arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        for grp in ("model", "preprocess"):
            for k, v in f[grp].items():
                if isinstance(v, h5py.Dataset) and v.dtype.kind == "f":
                    out[grp + "/" + k] = v[...]
    return out


for case in MODELS:
    res, arrays, files = {}, {}, {}
    sizes = (2, 3) if case in PREP_AXES else (2, 3, 4)
    # te_ts again on 3 ranks with every gather and broadcast in 64-byte pieces ("3c")
    for g in (1,) + sizes + (("3c",) if case == "te_ts" else ()):
        d = os.path.join(work, "%s-g%s" % (case, g))
        os.makedirs(d)
        np_ = 3 if g == "3c" else g
        hftest.write(os.path.join(d, "job.yaml"), spec(case, np_, "false" if g == 1 else "true"))
        if g == "3c":
            os.environ["HF_COMM_CHUNK_BYTES"] = "64"
        try:
            hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d, timeout=300)
        finally:
            os.environ.pop("HF_COMM_CHUNK_BYTES", None)
        res[g] = hftest.load_results(os.path.join(d, "out", "dp"))
        arrays[g] = model_arrays(os.path.join(d, "out", "dp", "model.h5"))
        run = os.path.join(d, "out", "dp")
        files[g] = {"oof": pd.read_csv(os.path.join(run, "oof.csv")),
                    "holdout": pd.read_csv(os.path.join(run, "holdout.csv")),
                    "rows": open(os.path.join(run, "training_rows.bin"), "rb").read(),
                    "profile": json.load(open(os.path.join(run, "profile.json")))
                    if os.path.exists(os.path.join(run, "profile.json")) else None}
    ref = res[1]
    ck.check(ref["trials"] and all(t.get("status", "ok") == "ok" for t in ref["trials"]),
             "%s: every single-copy trial succeeded" % case)
    for g in sizes + (("3c",) if case == "te_ts" else ()):
        name = "%s on a group of %s" % (case, g)
        r = res[g]
        ck.check(r["best"]["trial"] == ref["best"]["trial"], "%s: same best trial" % name)
        ck.check(len(r["trials"]) == len(ref["trials"]), "%s: same trial count" % name)
        worst = 0.0
        for t, tr in zip(r["trials"], ref["trials"]):
            ck.check(t["params"] == tr["params"], "%s: same trial order" % name)
            ck.check(t.get("status", "ok") == "ok", "%s trial %d succeeded" % (name, t["trial"]))
            for metric in tr["fold_scores"]:
                for x, y in zip(t["fold_scores"][metric], tr["fold_scores"][metric]):
                    worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300))
                    ck.check(hftest.rel_close(x, y, 1e-9),
                             "%s trial %d %s: %r vs %r" % (name, t["trial"], metric, x, y))
        ck.check(sorted(arrays[g]) == sorted(arrays[1]),
                 "%s: the model file holds the same arrays" % name)
        for k, v in arrays[1].items():
            w = arrays[g].get(k)
            ok = w is not None and w.shape == v.shape and np.allclose(w, v, rtol=1e-9, atol=1e-12, equal_nan=True)
            ck.check(ok, "%s: %s equals the single copy's (%s vs %s)" % (name, k, w, v))
            if w is not None and w.shape == v.shape and v.size:
                with np.errstate(invalid="ignore"):  # clip's infinite bounds: inf - inf
                    d = np.abs(w - v) / np.maximum(np.abs(v), 1e-3)
                worst = max(worst, float(np.nanmax(np.where(w == v, 0.0, d))))
        # The out-of-fold and holdout predictions (each rank predicts the rows of its block) and
        # the training rows' hashes (each rank hashes its block) equal the single copy's.
        for what in ("oof", "holdout"):
            a, b = files[g][what], files[1][what]
            ok = list(a.columns) == list(b.columns) and a.shape == b.shape and len(a) > 0
            for col in a.columns if ok else []:
                if a[col].dtype.kind == "f":
                    ok = ok and np.allclose(a[col], b[col], rtol=1e-9, atol=1e-12)
                else:
                    ok = ok and (a[col] == b[col]).all()
            ck.check(ok, "%s: %s.csv equals the single copy's" % (name, what))
        ck.check(files[g]["rows"] == files[1]["rows"],
                 "%s: training_rows.bin equals the single copy's" % name)
        ck.check(files[1]["profile"] is not None and files[g]["profile"] == files[1]["profile"],
                 "%s: profile.json equals the single copy's" % name)
        if case.startswith("te_"):
            f1, fg = arrays[1].get("preprocess/prep.freq"), arrays[g].get("preprocess/prep.freq")
            ck.check(f1 is not None and fg is not None and f1.tobytes() == fg.tobytes(),
                     "%s: the target encodings (preprocess/prep.freq) are the single copy's bits" % name)
        print("%s: largest relative difference from the single copy %.3g" % (name, worst))
    if case == "te_ts":
        # 64-byte pieces against one message: the same bits, scores and model
        same = [t["fold_scores"] == u["fold_scores"] for t, u in zip(res["3c"]["trials"], res[3]["trials"])]
        ck.check(len(same) == len(res[3]["trials"]) > 0 and all(same) and
                 sorted(arrays["3c"]) == sorted(arrays[3]) and
                 all(arrays["3c"][k].tobytes() == v.tobytes() for k, v in arrays[3].items()),
                 "te_ts on a group of 3 with HF_COMM_CHUNK_BYTES=64: the default run's bits")

# Drift after a data-parallel run: describe --against reads its profile.json and prints what it
# prints against the single copy's.
against = {}
for g in (1, 3):
    p = hftest.hyperfold(["describe", tables["reg"], "--against",
                          os.path.join(work, "reg-g%d" % g, "out", "dp")], check=False)
    against[g] = (p.returncode, p.stdout)
ck.check(against[3][0] == 0 and "drift of 170 new rows" in against[3][1] and
         against[3] == against[1],
         "describe --against a data-parallel run equals against the single copy (%d)" %
         against[3][0])

# Refusals: one line, exit 2, naming the key.
REFUSED = [
    ("rpt1", spec("reg", 1, "true"), "parallel.data_parallel", "ranks_per_task >= 2"),
    ("kernel", spec("reg", 2, "true", model="kernel_ridge").replace(
        "{alpha: [0.3, 3.0, 30.0], fit_intercept: [true, false]}", "{alpha: [1.0]}"),
     "parallel.data_parallel", "kernel_ridge"),
    ("toolarge", spec("reg", 2, "false", par_extra=", memory_per_rank: 4KiB"),
     "parallel.memory_per_rank", "data_parallel: true"),
]
for name, text, key, words in REFUSED:
    d = os.path.join(work, "refuse-" + name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), text)
    p = hftest.hyperfold(["validate", "job.yaml"], np=2, cwd=d, check=False)
    errors = [l for l in p.stderr.splitlines() if l.startswith("hyperfold: error:")]
    ck.check(p.returncode == 2 and len(errors) == 1 and key in errors[0] and words in errors[0],
             "%s: refused in one line with exit 2 naming %s (%d: %s)" %
             (name, key, p.returncode, errors or p.stderr[-400:]))
    if name == "toolarge":
        p = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
        ck.check(p.returncode == 2 and "parallel.memory_per_rank" in p.stderr and
                 not os.path.exists(os.path.join(d, "out", "dp", "journal.jsonl")),
                 "toolarge: run refuses before the sweep (%d: %s)" % (p.returncode, p.stderr[-300:]))
d = os.path.join(work, "auto")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), spec("reg", 2, "auto", par_extra=", memory_per_rank: 4KiB"))
p = hftest.hyperfold(["validate", "job.yaml"], np=2, cwd=d, check=False)
ck.check(p.returncode == 0 and "data_parallel: each of the 2 ranks" in p.stdout,
         "auto: on for a table larger than memory_per_rank (%d: %s)" % (p.returncode, p.stderr[-300:]))
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, timeout=300)
r = hftest.load_results(os.path.join(d, "out", "dp"))
ref = hftest.load_results(os.path.join(work, "reg-g1", "out", "dp"))
ck.check(r["best"]["trial"] == ref["best"]["trial"], "auto: the run gives the single copy's best")

# Hyperband on ridge, whose budget is preprocess.train_fraction: each rung's subsample is drawn
# from the split's global training rows, so a group of 2 sees the single copy's rows and gives its
# scores (before, every lower-rung trial failed with data_parallel).
HB = """name: hb
data: {source: %s, target: y, task: regression}
cv: {folds: 3, seed: 2}
preprocess: {scale: standard}
model: {type: ridge, params: {alpha: {log_uniform: [0.01, 100]}}}
search: {strategy: hyperband, seed: 3, eta: 3}
parallel: %s
output: {dir: out}
"""
hb = {}
for g, par in ((1, "{ranks_per_task: 1}"), (2, "{ranks_per_task: 2, data_parallel: true}")):
    d = os.path.join(work, "hb-g%d" % g)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), HB % (tables["reg"], par))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=g, cwd=d, timeout=300)
    hb[g] = hftest.load_results(os.path.join(d, "out", "hb"))
ok = len(hb[2]["trials"]) == len(hb[1]["trials"]) > 10 and hb[2]["best"]["trial"] == hb[1]["best"]["trial"]
for t, u in zip(hb[2]["trials"], hb[1]["trials"]):
    ok = ok and t["params"] == u["params"] and t.get("status", "ok") == u.get("status", "ok") == "ok"
    for metric in u["fold_scores"]:
        ok = ok and all(hftest.rel_close(x, y, 1e-9)
                        for x, y in zip(t["fold_scores"][metric], u["fold_scores"][metric]))
ck.check(ok, "hyperband on ridge (train_fraction rungs): a group of 2 equals the single copy")
# A search space with target encoding (which now runs on row shards) and a continuous range of clip
# (which gathers its column) are accepted for a study whose trials are proposed while it runs.
for name, prep in (("tpe-target", "{categorical: [onehot, target]}"),
                   ("clip-range", "{clip: {lower: {uniform: [0.0, 0.05]}}}")):
    d = os.path.join(work, "space-" + name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), """name: sp
data: {source: %s, target: y, task: regression}
preprocess: %s
model: {type: ridge, params: {alpha: {log_uniform: [0.1, 10]}}}
search: {strategy: tpe, trials: 6}
parallel: {ranks_per_task: 2, data_parallel: true}
output: {dir: out}
""" % (tables["reg"], prep))
    p = hftest.hyperfold(["validate", "job.yaml", "--no-data"], cwd=d, check=False)
    errors = [l for l in p.stderr.splitlines() if l.startswith("hyperfold: error:")]
    ck.check(p.returncode == 0 and not errors,
             "%s: accepted (%d: %s)" % (name, p.returncode, errors))
ck.done()
