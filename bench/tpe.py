#!/usr/bin/python3
"""bench/tpe.py - the driver behind bench/tpe.sh: hyperfold's TPE against its random search and
against Optuna's TPE (python3-optuna 3.1.0) on four tuning problems on data the repo ships, in one
run, each side on the same predefined folds.

Problems (objective, larger is better):
  kernel_ridge  diabetes, r2: kernel_ridge rbf, alpha log-uniform [1e-4, 10] x gamma log-uniform
                [1e-4, 1], standard scaling
  elastic_net   diabetes, r2: alpha log-uniform [1e-4, 10] x l1_ratio uniform [0.01, 1], standard
                scaling
  xgboost       sonar, roc_auc: 100 rounds, learning_rate log-uniform [0.01, 0.5] x max_depth
                [2, 8] x min_child_weight log-uniform [0.5, 20] x subsample [0.5, 1]
  logistic_en   breast_cancer, log_loss (smaller is better): logistic_regression penalty
                elasticnet, C log-uniform [1e-3, 100] x l1_ratio uniform [0, 1], standard scaling,
                tol 1e-6, max_iter 100000. The Optuna side minimises the same objective (C x the
                log losses + l1_ratio ||w||_1 + (1 - l1_ratio) ||w||^2 / 2, intercept free) with
                scipy's L-BFGS-B on w = u - v, u, v >= 0 (gtol 1e-10): scikit-learn's only solver
                for it, saga, stops far from the optimum at large C (a log loss of 0.18 where
                hyperfold and L-BFGS-B give 0.63 and 0.64, at C 100, l1_ratio 1) and takes seconds
                a fit.

For each problem and seed (BENCH_SEEDS, default 1..5): hyperfold random search and hyperfold TPE
(defaults: multivariate, 10 startup trials, batches of 4), 100 trials each at 2 ranks; and Optuna's
TPESampler(seed, multivariate=True) driving scikit-learn's KernelRidge / ElasticNet or
XGBClassifier on the same folds. Printed per problem, medians over the seeds:
  - the best score at 100 trials of each side;
  - "trials to reach": the first trial at which TPE's best so far is at least random search's best
    at 100 trials (101 when it never is); the goal is 50 or fewer;
  - the wall time of each hyperfold study;
  and a second table of the curves: the median best so far at 10, 25, 50 and 100 trials of each
  side (in the metric's own units).
Then the sampler's own cost: hyperfold's proposal time at 100, 300 and 1,000 finished trials (4
dimensions, multivariate and independent), from tests/peer_tool_tpe, against Optuna's
TPESampler.sample_independent/relative on a study of the same size.

Usage: bench/tpe.sh (env: BENCH_SEEDS=1,2,3,4,5, BENCH_ONLY=kernel_ridge,elastic_net,xgboost,
logistic_en,overhead, BENCH_DIR)."""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(bench.SCRATCH, "tpe")
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "1,2,3,4,5").split(",") if s]
TRIALS = 100
TOOL = os.path.join(os.environ.get("HF_BUILD_DIR", os.path.join(SRC, "build")), "tests",
                    "peer_tool_tpe")

PROBLEMS = {
    "kernel_ridge": {
        "data": "diabetes", "target": "target", "task": "regression", "metric": "r2",
        "prep": "preprocess: {scale: standard}\n",
        "params": {"kernel": "rbf", "alpha": "{log_uniform: [1.0e-4, 10]}",
                   "gamma": "{log_uniform: [1.0e-4, 1]}"}},
    "elastic_net": {
        "data": "diabetes", "target": "target", "task": "regression", "metric": "r2",
        "prep": "preprocess: {scale: standard}\n",
        "params": {"alpha": "{log_uniform: [1.0e-4, 10]}", "l1_ratio": "{uniform: [0.01, 1]}"}},
    "xgboost": {
        "data": "sonar", "target": "Class", "task": "classification", "metric": "roc_auc",
        "prep": "",
        "params": {"n_estimators": "100", "learning_rate": "{log_uniform: [0.01, 0.5]}",
                   "max_depth": "{int_uniform: [2, 8]}",
                   "min_child_weight": "{log_uniform: [0.5, 20]}",
                   "subsample": "{uniform: [0.5, 1]}", "n_jobs": "1"}},
    "logistic_en": {
        "data": "breast_cancer", "target": "diagnosis", "task": "classification",
        "metric": "log_loss", "sign": -1, "model": "logistic_regression",
        "prep": "preprocess: {scale: standard}\n",
        "params": {"penalty": "elasticnet", "max_iter": "100000", "tol": "1.0e-6",
                   "C": "{log_uniform: [1.0e-3, 100]}", "l1_ratio": "{uniform: [0, 1]}"}},
}
CURVE_AT = (10, 25, 50, 100)


def folded_csv(name, target):
    """The shipped table with a fold column (5 folds; stratified for a class target)."""
    import pandas as pd
    from sklearn.model_selection import KFold, StratifiedKFold
    path = os.path.join(WORK, "%s-folds.csv" % name)
    if os.path.exists(path):
        return path
    df = pd.read_csv(os.path.join(SRC, "examples", "data", "%s.csv" % name))
    fold = np.empty(len(df), dtype=int)
    y = df[target].to_numpy()
    split = (StratifiedKFold(5, shuffle=True, random_state=0).split(y, y)
             if df[target].dtype == object else KFold(5, shuffle=True, random_state=0).split(y))
    for f, (_, va) in enumerate(split):
        fold[va] = f
    df["fold"] = fold
    df.to_csv(path, index=False, float_format="%.17g")
    return path


def hf_study(problem, strategy, seed):
    pr = PROBLEMS[problem]
    csv = folded_csv(pr["data"], pr["target"])
    name = "%s-%s-%d" % (problem, strategy, seed)
    spec = os.path.join(WORK, name + ".yaml")
    bench.write_spec(spec, """name: %s
data: {source: %s, target: %s, task: %s}
cv: {strategy: predefined, fold_column: fold}
%smodel:
  type: %s
  params:
%s
search: {strategy: %s, trials: %d, seed: %d}
objective: {metric: %s}
output: {dir: %s}
""" % (name, csv, pr["target"], pr["task"], pr["prep"], pr.get("model", problem),
       "\n".join("    %s: %s" % kv for kv in pr["params"].items()), strategy, TRIALS, seed,
       pr["metric"], WORK))
    wall, _, _ = bench.run_hyperfold(spec, 2, WORK)
    res = bench.load_results(os.path.join(WORK, name))
    # Larger is better from here on: a smaller-is-better metric is negated (sign -1).
    sign = pr.get("sign", 1)
    scores = [sign * t["mean"][pr["metric"]] if t.get("mean") else float("-inf")
              for t in res["trials"]]
    best = res["trials"][int(np.argmax(scores))]["params"]
    searched = [k for k, v in pr["params"].items() if "{" in v and k in best]
    return scores, wall, {k: best[k] for k in searched}


def optuna_study(problem, seed):
    out = subprocess.run([bench.PY, os.path.abspath(__file__), "optuna", problem, str(seed)],
                         env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(1)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["scores"] = [PROBLEMS[problem].get("sign", 1) * v for v in res["scores"]]
    return res


def logistic_en_fit(X, y, C, l1_ratio):
    """The exact optimum of scikit-learn's elastic-net LogisticRegression objective (C x the log
    losses + l1_ratio ||w||_1 + (1 - l1_ratio) ||w||^2 / 2, the intercept unpenalised) for a 0/1
    target: L-BFGS-B on w = u - v with u, v >= 0, the objective divided by C."""
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit
    p = X.shape[1]
    sgn = np.where(y == 1, 1.0, -1.0)

    def f(z):
        u, v, b = z[:p], z[p:2 * p], z[2 * p]
        w = u - v
        m = sgn * (X @ w + b)
        g = -expit(-m) * sgn
        gw = C * (X.T @ g) + (1 - l1_ratio) * w
        obj = -C * log_expit(m).sum() + l1_ratio * (u.sum() + v.sum()) + 0.5 * (1 - l1_ratio) * (
            w @ w)
        return obj / C, np.concatenate([gw + l1_ratio, -gw + l1_ratio, [C * g.sum()]]) / C

    res = minimize(f, np.zeros(2 * p + 1), jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * (2 * p) + [(None, None)],
                   options={"maxiter": 100000, "maxfun": 200000, "gtol": 1e-10, "ftol": 1e-15})
    return res.x[:p] - res.x[p:2 * p], res.x[2 * p]


def optuna_main(problem, seed):
    import optuna
    import pandas as pd
    from sklearn.model_selection import PredefinedSplit, cross_val_score
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings
    warnings.filterwarnings("ignore")
    pr = PROBLEMS[problem]
    df = pd.read_csv(folded_csv(pr["data"], pr["target"]), float_precision="round_trip")
    cv = PredefinedSplit(df["fold"].to_numpy())
    X = df.drop(columns=[pr["target"], "fold"]).to_numpy(dtype=float)
    y = df[pr["target"]].to_numpy()

    def objective(trial):
        if problem == "logistic_en":
            from scipy.special import expit
            from sklearn.metrics import log_loss
            from sklearn.preprocessing import StandardScaler as Scaler
            C = trial.suggest_float("C", 1e-3, 100, log=True)
            r = trial.suggest_float("l1_ratio", 0, 1)
            y01 = (y == np.unique(y)[1]).astype(int)
            losses = []
            for tr, va in cv.split():
                sc = Scaler().fit(X[tr])
                w, b = logistic_en_fit(sc.transform(X[tr]), y01[tr], C, r)
                losses.append(log_loss(y01[va], expit(sc.transform(X[va]) @ w + b)))
            return float(np.mean(losses))
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        if problem == "kernel_ridge":
            from sklearn.kernel_ridge import KernelRidge
            m = make_pipeline(StandardScaler(), KernelRidge(
                kernel="rbf", alpha=trial.suggest_float("alpha", 1e-4, 10, log=True),
                gamma=trial.suggest_float("gamma", 1e-4, 1, log=True)))
            return cross_val_score(m, X, y, cv=cv, scoring="r2").mean()
        if problem == "elastic_net":
            from sklearn.linear_model import ElasticNet
            m = make_pipeline(StandardScaler(), ElasticNet(
                alpha=trial.suggest_float("alpha", 1e-4, 10, log=True),
                l1_ratio=trial.suggest_float("l1_ratio", 0.01, 1), max_iter=10000))
            return cross_val_score(m, X, y, cv=cv, scoring="r2").mean()
        import xgboost as xgb
        m = xgb.XGBClassifier(
            n_estimators=100, tree_method="hist", n_jobs=1, random_state=0,
            learning_rate=trial.suggest_float("learning_rate", 0.01, 0.5, log=True),
            max_depth=trial.suggest_int("max_depth", 2, 8),
            min_child_weight=trial.suggest_float("min_child_weight", 0.5, 20, log=True),
            subsample=trial.suggest_float("subsample", 0.5, 1))
        return cross_val_score(m, X, (y == y[0]).astype(int), cv=cv, scoring="roc_auc").mean()

    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=10)
    study = optuna.create_study(
        direction="maximize" if pr.get("sign", 1) > 0 else "minimize", sampler=sampler)
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=TRIALS)
    print(json.dumps({"scores": [t.value for t in study.trials],
                      "seconds": time.perf_counter() - t0, "best_params": study.best_params}))


def fmt_params(p):
    return "{%s}" % ", ".join("%s: %.4g" % (k, v) for k, v in sorted(p.items()))


def best_so_far(scores):
    out, b = [], float("-inf")
    for s in scores:
        b = max(b, s)
        out.append(b)
    return out


def trials_to_reach(curve, target):
    for i, v in enumerate(curve):
        if v >= target - 1e-12:
            return i + 1
    return TRIALS + 1


def overhead():
    """Proposal time of hyperfold's sampler (C) and Optuna's at n finished trials."""
    rows = []
    for n in (100, 300, 1000):
        for mv in (True, False):
            case = {"bench_propose": n, "multivariate": mv, "repeat": 20,
                    "dists": [{"kind": "float", "low": 1e-4, "high": 10, "log": True},
                              {"kind": "float", "low": 0, "high": 1},
                              {"kind": "int", "low": 2, "high": 8, "step": 1},
                              {"kind": "categorical", "n_choices": 3}]}
            out = subprocess.run([TOOL], input=json.dumps([case]), capture_output=True,
                                 text=True, check=True)
            hf_ms = json.loads(out.stdout)[0]["propose_ms"]
            op = subprocess.run([bench.PY, os.path.abspath(__file__), "optuna_overhead", str(n),
                                 "1" if mv else "0"], capture_output=True, text=True, check=True)
            op_ms = json.loads(op.stdout.strip().splitlines()[-1])["propose_ms"]
            rows.append((n, mv, hf_ms, op_ms))
    return rows


def optuna_overhead_main(n, mv):
    import optuna
    import warnings
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(0)
    D = optuna.distributions
    dists = {"a": D.FloatDistribution(1e-4, 10, log=True), "b": D.FloatDistribution(0, 1),
             "c": D.IntDistribution(2, 8), "d": D.CategoricalDistribution([0, 1, 2])}
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, multivariate=mv))
    for _ in range(n):
        params = {"a": float(np.exp(rng.uniform(np.log(1e-4), np.log(10)))),
                  "b": float(rng.uniform()), "c": int(rng.integers(2, 9)),
                  "d": int(rng.integers(0, 3))}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                  value=float(rng.normal())))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        tr = study.ask()
        for k, d in dists.items():
            tr._suggest(k, d)
        times.append((time.perf_counter() - t0) * 1000)
        study.tell(tr, float(rng.normal()))
    print(json.dumps({"propose_ms": statistics.median(times)}))


def main():
    os.makedirs(WORK, exist_ok=True)
    only = set(bench.ONLY)
    print("machine: %s" % bench.machine())
    print("seeds: %s; %d trials per study; hyperfold at 2 ranks, TPE defaults (multivariate, "
          "10 startup, batches of 4)" % (SEEDS, TRIALS))
    print()
    print("| problem | random best@100 | hyperfold TPE best@100 | Optuna TPE best@100 | TPE trials to "
          "reach random's best@100 (hyperfold / Optuna) | wall: random / TPE / Optuna |")
    print("|---|---:|---:|---:|---:|---:|")
    curves = []
    for problem in PROBLEMS:
        if only and problem not in only:
            continue
        rb, tb, ob, reach_hf, reach_op, walls = [], [], [], [], [], ([], [], [])
        sign = PROBLEMS[problem].get("sign", 1)
        at = ([], [], [])   # per seed: best so far at CURVE_AT of random, hyperfold TPE, Optuna
        for seed in SEEDS:
            bench.log("%s seed %d" % (problem, seed))
            rs, rw, rp = hf_study(problem, "random", seed)
            ts, tw, tp = hf_study(problem, "tpe", seed)
            op = optuna_study(problem, seed)
            target = max(rs)
            rb.append(target)
            tb.append(max(ts))
            ob.append(max(op["scores"]))
            reach_hf.append(trials_to_reach(best_so_far(ts), target))
            reach_op.append(trials_to_reach(best_so_far(op["scores"]), target))
            walls[0].append(rw)
            walls[1].append(tw)
            walls[2].append(op["seconds"])
            for side, sc in zip(at, (rs, ts, op["scores"])):
                side.append([best_so_far(sc)[k - 1] for k in CURVE_AT])
            bench.log("  random %.6f tpe %.6f optuna %.6f; reach %d / %d" % (
                sign * target, sign * max(ts), sign * max(op["scores"]), reach_hf[-1],
                reach_op[-1]))
            bench.log("  best trial's searched parameters: random %s, tpe %s, optuna %s" % (
                fmt_params(rp), fmt_params(tp), fmt_params(op["best_params"])))
        med = statistics.median
        print("| %s | %.6f | %.6f | %.6f | %g / %g (per seed: %s / %s) | %.1f / %.1f / %.1f s |" % (
            problem + (" (%s, smaller is better)" % PROBLEMS[problem]["metric"] if sign < 0
                       else ""),
            sign * med(rb), sign * med(tb), sign * med(ob), med(reach_hf), med(reach_op),
            reach_hf, reach_op, med(walls[0]), med(walls[1]), med(walls[2])))
        curves.append((problem, [[sign * med(s[k] for s in side) for k in range(len(CURVE_AT))]
                                 for side in at]))
    if curves:
        print()
        print("Median best so far at %s trials (random / hyperfold TPE / Optuna TPE):" % (
            ", ".join(str(k) for k in CURVE_AT)))
        print()
        print("| problem | %s |" % " | ".join("@%d" % k for k in CURVE_AT))
        print("|---|%s" % ("---:|" * len(CURVE_AT)))
        for problem, (r, t, o) in curves:
            print("| %s | %s |" % (problem, " | ".join(
                "%.6f / %.6f / %.6f" % (r[k], t[k], o[k]) for k in range(len(CURVE_AT)))))
    if not only or "overhead" in only:
        print()
        print("| finished trials | mode | hyperfold propose (ms) | Optuna propose (ms) |")
        print("|---:|---|---:|---:|")
        for n, mv, hf_ms, op_ms in overhead():
            print("| %d | %s | %.2f | %.1f |" % (n, "multivariate" if mv else "independent",
                                                hf_ms, op_ms))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "optuna":
        optuna_main(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "optuna_overhead":
        optuna_overhead_main(int(sys.argv[2]), sys.argv[3] == "1")
    else:
        main()
