#!/usr/bin/python3
"""bench/trees.py - the driver behind bench/trees.sh: hyperfold's tree models beside their peers,
on the same data and the same 5 predefined stratified folds, in one run.

Rows:
  xgb_grid   xgboost grid: max_depth [3,4,5,6] x learning_rate [0.05,0.1,0.2] x n_estimators
             [100,200,300,400] (48 trials), 2 ranks x 1 thread
             vs GridSearchCV(XGBClassifier(tree_method="hist", n_jobs=1), n_jobs=2)
  xgb_es     xgboost grid with early stopping: max_depth [3,4,5,6] x learning_rate [0.05,0.1,0.2]
             x min_child_weight [1,5,10] (36 trials), up to 500 rounds, early_stopping_rounds 20
             on each fold's validation rows, 2 ranks x 1 thread
             vs the same 180 fits of XGBClassifier(early_stopping_rounds=20, eval_set=the fold's
             validation rows) in joblib with 2 workers (what GridSearchCV would run if it could
             pass each fold its own eval_set)
  hgb        HistGradientBoostingClassifier in GridSearchCV(n_jobs=2, OMP_NUM_THREADS=1) over the
             xgb_grid's grid (max_depth, learning_rate, max_iter): a reference of time and score
  threads    the xgb_grid row's sweep in hyperfold two ways on the same 2 cores: 1 rank x 2 threads
             (mpirun --map-by slot:PE=2, n_jobs left to follow the rank's cores) against 2 ranks x
             1 thread (n_jobs 1); the results must be identical
  rf         random_forest, 300 trees, max_depth [8, 12] (2 trials), max_features 0.25, 2 ranks
             x 1 thread vs GridSearchCV(RandomForestClassifier(n_estimators=300,
             max_features=0.25), n_jobs=2) over the same depths (different trees: time and score
             as a reference)

Agreement: the xgboost rows must give the peer's per-fold roc_auc to 1e-6 for every trial and the
same best parameters; hgb and rf report the best score of each side. Timings are medians of
BENCH_REPEATS runs (default 3); peak RSS is per rank (VmHWM).

Usage: bench/trees.sh (env: BENCH_REPEATS, BENCH_TREES_N rows (default 10000), BENCH_TREES_P
features (default 20), BENCH_ONLY=xgb_grid,xgb_es,hgb,threads,rf, BENCH_DIR)."""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (run_hyperfold, write_spec, load_results, med, machine)

N = int(os.environ.get("BENCH_TREES_N", "10000"))
P = int(os.environ.get("BENCH_TREES_P", "20"))
REPEATS = bench.REPEATS
WORK = os.path.join(bench.SCRATCH, "trees")
DEPTHS, RATES, ROUNDS, MCW = [3, 4, 5, 6], [0.05, 0.1, 0.2], [100, 200, 300, 400], [1, 5, 10]
RF_DEPTHS = [8, 12]
RF_FEATURES = 0.25  # the fraction of the columns each split draws from, on both sides
ROWS = []


def make_data():
    """A binary target with interactions and a nonlinearity, 2% missing values, stratified folds."""
    return bench.nonlinear_binary_table(os.path.join(WORK, "trees-%d-%d.csv" % (N, P)), N, P, 0.02)


def hf_sweep(name, csv, params, objective="roc_auc", report=(), ranks=2, mpi_args=()):
    spec = os.path.join(WORK, name + ".yaml")
    bench.write_spec(spec, """name: %s
data: {source: %s, target: y, task: classification}
cv: {strategy: predefined, fold_column: fold}
model:
  type: %s
  params:
%s
search: {strategy: grid}
objective: {metric: %s, report: [%s]}
output: {dir: %s}
""" % (name, csv, params[0], "\n".join("    %s: %s" % kv for kv in params[1].items()), objective,
       ", ".join(report), WORK))
    times, rss = [], []
    for _ in range(REPEATS):
        wall, _, r = bench.run_hyperfold(spec, ranks, WORK, mpi_args=mpi_args)
        times.append(wall)
        rss = max(rss, r) if rss else r
    return bench.med(times), max(rss) if rss else 0, bench.load_results(os.path.join(WORK, name))


def peer(kind, csv):
    """The peer in its own process (OMP_NUM_THREADS=1, as one thread per worker)."""
    import subprocess
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([bench.PY, os.path.abspath(__file__), "peer", kind, csv, str(REPEATS)],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write("peer %s failed:\n%s\n%s\n" % (kind, out.stdout, out.stderr))
        raise SystemExit(1)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peer_main(kind, csv, repeats):
    import pandas as pd
    import xgboost as xgb
    from joblib import Parallel, delayed
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import GridSearchCV, PredefinedSplit
    xgb.set_config(verbosity=0)
    df = pd.read_csv(csv, float_precision="round_trip")
    X = df[[c for c in df.columns if c.startswith("x")]].to_numpy()
    y = (df["y"] == "yes").to_numpy().astype(int)
    fold = df["fold"].to_numpy()
    cv = PredefinedSplit(fold)
    splits = list(cv.split())
    times, result = [], {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        if kind == "xgb_grid":
            gs = GridSearchCV(xgb.XGBClassifier(tree_method="hist", n_jobs=1, random_state=0),
                              {"max_depth": DEPTHS, "learning_rate": RATES, "n_estimators": ROUNDS},
                              scoring="roc_auc", cv=cv, n_jobs=2, refit=False).fit(X, y)
            res = gs.cv_results_
            result = {"params": [dict(p) for p in res["params"]],
                      "folds": [[float(res["split%d_test_score" % k][i]) for k in range(5)]
                                for i in range(len(res["params"]))]}
        elif kind == "xgb_es":
            def one(d, r, m, tr, va):
                c = xgb.XGBClassifier(tree_method="hist", n_jobs=1, random_state=0, max_depth=d,
                                      learning_rate=r, min_child_weight=m, n_estimators=500,
                                      early_stopping_rounds=20, eval_metric="logloss")
                c.fit(X[tr], y[tr], eval_set=[(X[va], y[va])], verbose=False)
                pr = c.predict_proba(X[va])
                return roc_auc_score(y[va], pr[:, 1]), c.best_iteration + 1, log_loss(y[va], pr)
            grid = [(d, r, m) for d in DEPTHS for r in RATES for m in MCW]
            out = Parallel(n_jobs=2)(delayed(one)(d, r, m, tr, va) for d, r, m in grid
                                     for tr, va in splits)
            result = {"params": [{"max_depth": d, "learning_rate": r, "min_child_weight": m}
                                 for d, r, m in grid],
                      "folds": [[out[i * 5 + k][0] for k in range(5)] for i in range(len(grid))],
                      "rounds": [[out[i * 5 + k][1] for k in range(5)] for i in range(len(grid))],
                      "folds_log_loss": [[out[i * 5 + k][2] for k in range(5)]
                                         for i in range(len(grid))]}
        elif kind == "hgb":
            gs = GridSearchCV(HistGradientBoostingClassifier(early_stopping=False, random_state=0),
                              {"max_depth": DEPTHS, "learning_rate": RATES, "max_iter": ROUNDS},
                              scoring="roc_auc", cv=cv, n_jobs=2, refit=False).fit(X, y)
            result = {"best": float(gs.best_score_), "best_params": gs.best_params_}
        elif kind == "rf":
            Xi = np.where(np.isnan(X), np.nanmean(X, axis=0), X)  # RandomForest 1.2 takes no NaN
            gs = GridSearchCV(RandomForestClassifier(n_estimators=300, max_features=RF_FEATURES,
                                                     random_state=0),
                              {"max_depth": RF_DEPTHS}, scoring="roc_auc", cv=cv, n_jobs=2,
                              refit=False).fit(Xi, y)
            result = {"best": float(gs.best_score_), "best_params": gs.best_params_}
        times.append(time.perf_counter() - t0)
    import resource
    result["seconds"] = bench.med(times)
    result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(result))


def key_of(p, names):
    return tuple(round(float(p[k]), 9) for k in names)


def compare(res, pr, names, select="folds", sign=1.0):
    """Largest relative difference of the per-fold roc_auc over every trial, and whether the
    best trials agree (the peer's mean of its `select` fold scores, larger is better after
    `sign`; ties within 1e-12 count)."""
    ref = {key_of(p, names): f for p, f in zip(pr["params"], pr["folds"])}
    sel = {key_of(p, names): sign * float(np.mean(f)) for p, f in zip(pr["params"], pr[select])}
    worst, missing = 0.0, 0
    for t in res["trials"]:
        f = ref.get(key_of(t["params"], names))
        if f is None:
            missing += 1
            continue
        for a, b in zip(t["fold_scores"]["roc_auc"], f):
            worst = max(worst, abs(a - b) / max(abs(a), abs(b)))
    top = max(sel.values())
    same = abs(sel.get(key_of(res["best"]["params"], names), -np.inf) - top) <= 1e-12
    return worst, missing, same, sign * top


def row(title, hf_t, peer_t, rss, agree):
    ROWS.append((title, hf_t, peer_t, rss, agree))


def main():
    os.makedirs(WORK, exist_ok=True)
    csv = make_data()
    only = set(bench.ONLY)
    want = (lambda k: not only or k in only)
    names = ["max_depth", "learning_rate", "n_estimators"]
    if want("xgb_grid"):
        bench.log("xgboost grid (48 trials)")
        t, rss, res = hf_sweep("xgb-grid", csv, ("xgboost", {
            "max_depth": DEPTHS, "learning_rate": RATES, "n_estimators": ROUNDS, "n_jobs": 1}))
        pr = peer("xgb_grid", csv)
        worst, missing, same, top = compare(res, pr, names)
        row("xgboost grid, 48 trials x 5 folds", t, pr["seconds"], rss,
            "fold roc_auc max rel diff %.1e%s; same best: %s (%.6f)" % (
                worst, " (%d trials unmatched)" % missing if missing else "", same, top))
    if want("xgb_es"):
        bench.log("xgboost grid with early stopping (36 trials)")
        t, rss, res = hf_sweep("xgb-es", csv, ("xgboost", {
            "max_depth": DEPTHS, "learning_rate": RATES, "min_child_weight": MCW,
            "n_estimators": 500, "early_stopping_rounds": 20, "n_jobs": 1}),
            objective="log_loss", report=["roc_auc"])
        pr = peer("xgb_es", csv)
        worst, missing, same, top = compare(res, pr, ["max_depth", "learning_rate",
                                                      "min_child_weight"], "folds_log_loss", -1.0)
        ref_rounds = {key_of(p, ["max_depth", "learning_rate", "min_child_weight"]): r
                      for p, r in zip(pr["params"], pr["rounds"])}
        rounds_equal = all(t_["n_iter"] == ref_rounds.get(key_of(
            t_["params"], ["max_depth", "learning_rate", "min_child_weight"])) for t_ in res["trials"])
        row("xgboost early stopping, 36 trials x 5 folds", t, pr["seconds"], rss,
            "fold roc_auc max rel diff %.1e; kept rounds equal: %s; same best: %s (log_loss %.6f)" % (
                worst, rounds_equal, same, top))
    if want("hgb"):
        bench.log("HistGradientBoosting grid (reference)")
        pr = peer("hgb", csv)
        row("HistGradientBoostingClassifier grid (reference)", None, pr["seconds"], None,
            "its best roc_auc %.6f %s" % (pr["best"], json.dumps(pr["best_params"])))
    if want("threads"):
        bench.log("xgboost grid: 1 rank x 2 threads, 2 ranks x 1 thread")
        grid = {"max_depth": DEPTHS, "learning_rate": RATES, "n_estimators": ROUNDS}
        t1, rss1, r1 = hf_sweep("xgb-threads", csv, ("xgboost", grid), ranks=1,
                                mpi_args=("--map-by", "slot:PE=2"))
        t2, rss2, r2 = hf_sweep("xgb-ranks", csv, ("xgboost", dict(grid, n_jobs=1)))
        same = [t["fold_scores"] for t in r1["trials"]] == [t["fold_scores"] for t in r2["trials"]]
        row("xgboost grid (48 trials): 1 rank x 2 threads against 2 ranks x 1 thread", t1, t2,
            rss1, "peer column: 2 ranks x 1 thread (peak RSS %d MiB per rank); identical fold "
            "scores: %s" % (rss2 // 1024, same))
    if want("rf"):
        bench.log("random forest, 300 trees")
        t, rss, res = hf_sweep("rf", csv, ("random_forest", {
            "n_estimators": 300, "max_depth": RF_DEPTHS, "max_features": RF_FEATURES,
            "n_jobs": 1}))
        pr = peer("rf", csv)
        row("random forest 300 trees, 2 depths x 5 folds", t, pr["seconds"], rss,
            "best roc_auc: hyperfold %.6f (XGBoost forest), scikit-learn %.6f (its own trees)" % (
                res["best"]["score"], pr["best"]))
    print("\nhyperfold tree models beside their peers: %d rows x %d features, 5 folds, medians of %d"
          % (N, P, REPEATS))
    print("machine: %s" % bench.machine())
    print("| row | hyperfold (2 ranks) | peer (2 workers) | speed-up | peak RSS per rank | agreement |")
    print("|---|---:|---:|---:|---:|---|")
    for title, hf_t, peer_t, rss, agree in ROWS:
        print("| %s | %s | %.2f s | %s | %s | %s |" % (
            title, "%.2f s" % hf_t if hf_t else "-", peer_t,
            "%.1fx" % (peer_t / hf_t) if hf_t else "-", "%d MiB" % (rss // 1024) if rss else "-",
            agree))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "peer":
        peer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
