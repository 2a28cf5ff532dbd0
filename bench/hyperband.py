#!/usr/bin/python3
"""bench/hyperband.py - the driver behind bench/hyperband.sh: hyperfold's Hyperband and ASHA
against random search with the full budget for every configuration, same number of
configurations, one run.

Problem: xgboost on a generated binary table (BENCH_HB_N rows, default 8000, x 20 features: the
bench/trees.py target), 5 stratified predefined folds, learning_rate log-uniform [0.01, 0.5] x
max_depth [2, 8] x min_child_weight log-uniform [0.5, 20] x subsample [0.5, 1], objective log_loss
(roc_auc reported). Hyperband: n_estimators 81, min_resource 1, eta 3 (206 trials, 143
configurations); ASHA: 143 configurations, rungs 1, 3, 9, 27, 81; random search: the same 143
configurations count at 81 rounds. Both at 2 ranks x
1 thread, for each seed (BENCH_SEEDS, default 1,2,3; BENCH_ONLY=hyperband,bohb,asha,asha_tpe,random
picks the searches). Printed: the medians of the wall time, of the
best roc_auc and log_loss (the best trial's cross-validated means), the rounds trained in all, and
the rank utilisation (the tasks' compute seconds from the journal over 2 x the wall of the run,
and over 2 x the sweep phase: the last progress line's elapsed time, without launch, ingest,
refit and export). Hyperband and ASHA also run with `sampler: tpe` (BOHB). The goal: at least
3x less wall time at a best score within 0.002.

Second problem (BENCH_PROBLEM=kernel_ridge, or `--problem kernel_ridge`): kernel ridge (rbf) on a
generated regression table, scikit-learn's make_friedman1 (BENCH_HB_N rows, default 5000, x 10
features, 5 of them noise; noise 1; random_state 2026), standard scaling, 5 shuffled predefined
folds (KFold, seed 7), alpha log-uniform [1e-4, 10] x gamma log-uniform [1e-3, 1], objective r2
(rmse reported). The resource is the model-less one, preprocess.train_fraction: budgets
BENCH_HB_MIN (a fraction, default 1/27, hyperfold's default min_resource) .. 1 of each split's
training rows, eta 3 (Hyperband: 49 configurations over 1/27..1; ASHA and random search the same
count; random search fits every configuration on all training rows). Printed as for xgboost, the
rows fitted in all (the sum over trials and splits of ceil(f n_train)) and the cubic cost of
those fits in full fits (the sum of f^3 over trials, a kernel ridge fit being O(n^3)). Before
measuring, every study is checked to have used the fractions: results.json's hyperband rungs
(asha's rung resources) are the planned fractions and every trial's train_fraction is one of
them."""
import fractions
import math
import os
import statistics
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

PROBLEM = os.environ.get("BENCH_PROBLEM", "xgboost")
if "--problem" in sys.argv[1:-1]:
    PROBLEM = sys.argv[sys.argv.index("--problem") + 1]
if PROBLEM not in ("xgboost", "kernel_ridge"):
    sys.exit("hyperband.py: problem %r: expected xgboost or kernel_ridge" % PROBLEM)
KR = PROBLEM == "kernel_ridge"
N = int(os.environ.get("BENCH_HB_N", "5000" if KR else "8000"))
P = 10 if KR else 20
WORK = os.path.join(bench.SCRATCH, "hyperband-kr" if KR else "hyperband")
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "1,2,3").split(",") if s]
R = 1 if KR else 81
ETA = 3
# The smallest budget (rounds): BENCH_HB_MIN, default 1. Hyperband's number of configurations for
# min..R rounds (Li et al.: s_max = log_eta(R / min), n_s = ceil((s_max + 1) / (s + 1) eta^s)) is
# also ASHA's and random search's, so that the three see as many configurations. kernel_ridge: a
# fraction of the training rows, default 1/27 (exact, as a fraction, so that the count is exact).
if KR:
    MIN = fractions.Fraction(os.environ.get("BENCH_HB_MIN", "1/27"))
else:
    MIN = int(os.environ.get("BENCH_HB_MIN", "1"))


def hb_configs(r_max, r_min, eta):
    s_max = 0
    while r_min * eta ** (s_max + 1) <= r_max:
        s_max += 1
    return sum(-(-(s_max + 1) * eta ** s // (s + 1)) for s in range(s_max + 1))


CONFIGS = hb_configs(R, MIN, ETA)


def make_data():
    if KR:
        return friedman_table(os.path.join(WORK, "kr-%d.csv" % N), N, P)
    return bench.nonlinear_binary_table(os.path.join(WORK, "hb-%d.csv" % N), N, P)


def friedman_table(path, n, p):
    """The kernel ridge problem's table (unless it exists): make_friedman1 (x0..x4 carry the
    target, the rest are noise), 5 shuffled folds (KFold, seed 7) in a fold column."""
    if os.path.exists(path):
        return path
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import KFold
    X, y = make_friedman1(n_samples=n, n_features=p, noise=1.0, random_state=2026)
    fold = bench.np.empty(n, dtype=bench.np.int64)
    for f, (_, va) in enumerate(KFold(5, shuffle=True, random_state=7).split(X)):
        fold[va] = f
    bench.save_table(path, X, fold, y, "%.17g")
    return path


def fraction_text(f):
    return "1" if f == 1 else "%d/%d" % (f.numerator, f.denominator)


def kr_planned_fractions():
    """The budgets of ASHA's rungs (and of Hyperband's largest bracket): R / eta^k, k = K..0."""
    k = 0
    while MIN * ETA ** (k + 1) <= R:
        k += 1
    return [fractions.Fraction(R) / ETA ** (k - i) for i in range(k + 1)]


def kr_check_fractions(strategy, res):
    """Raises unless the study used the row fractions planned (the bench's own check that
    train_fraction is the resource on this problem)."""
    want = [float(f) for f in kr_planned_fractions()]
    close = lambda a, b: abs(a - b) <= 1e-12 * max(1.0, abs(b))  # noqa: E731
    if strategy in ("hyperband", "bohb"):
        got = sorted(set(g["resource"] for g in res["hyperband"]))
        ok = len(got) == len(want) and all(close(a, b) for a, b in zip(got, want))
    elif strategy in ("asha", "asha_tpe"):
        got = res["asha"]["rung_resources"]
        ok = len(got) == len(want) and all(close(a, b) for a, b in zip(got, want))
    else:
        got, ok = [1.0], True
    used = [t["params"].get("preprocess.train_fraction", 1.0) for t in res["trials"]]
    ok = ok and all(any(close(u, g) for g in got) for u in used)
    if strategy != "random":
        ok = ok and min(used) < 1
    if not ok:
        raise SystemExit("hyperband.py: %s did not use the planned row fractions %s: resources %s"
                         ", trials' train_fraction %s" % (strategy, want, got,
                                                          sorted(set(used))))
    return sorted(set(used))


def search_block(strategy, seed, min_resource):
    """The spec's search: block of one strategy (min_resource as the spec's text)."""
    return {"hyperband": "{strategy: hyperband, seed: %d, min_resource: %s, eta: 3}",
            "bohb": "{strategy: hyperband, seed: %d, min_resource: %s, eta: 3, sampler: tpe}",
            "asha": "{strategy: asha, seed: %d, trials: %d, min_resource: %s, eta: 3}",
            "asha_tpe": "{strategy: asha, seed: %d, trials: %d, min_resource: %s, eta: 3, "
                        "sampler: tpe}",
            "random": "{strategy: random, trials: %d, seed: %d}"}[strategy] % {
                "hyperband": (seed, min_resource), "bohb": (seed, min_resource),
                "asha": (seed, CONFIGS, min_resource), "asha_tpe": (seed, CONFIGS, min_resource),
                "random": (CONFIGS, seed)}[strategy]


def study(csv, strategy, seed):
    if KR:
        return kr_study(csv, strategy, seed)
    name = "%s-%d" % (strategy, seed) if MIN == 1 else "%s-min%d-%d" % (strategy, MIN, seed)
    spec = os.path.join(WORK, name + ".yaml")
    search = search_block(strategy, seed, str(MIN))
    bench.write_spec(spec, """name: %s
data: {source: %s, target: y, task: classification}
cv: {strategy: predefined, fold_column: fold}
model:
  type: xgboost
  params:
    n_estimators: 81
    learning_rate: {log_uniform: [0.01, 0.5]}
    max_depth: {int_uniform: [2, 8]}
    min_child_weight: {log_uniform: [0.5, 20]}
    subsample: {uniform: [0.5, 1]}
    n_jobs: 1
search: %s
objective: {metric: log_loss, report: [roc_auc]}
output: {dir: %s}
""" % (name, csv, search, WORK))
    wall, err, _ = bench.run_hyperfold(spec, 2, WORK, args=("--fresh",))
    sweep = bench.sweep_elapsed(err)
    run_dir = os.path.join(WORK, name)
    res = bench.load_results(run_dir)
    busy = sum(bench.journal_task_seconds(run_dir))
    rounds = sum(t["params"]["n_estimators"] for t in res["trials"]) * res["n_splits"]
    b = res["best"]
    return {"wall": wall, "auc": b["scores"]["roc_auc"], "log_loss": b["scores"]["log_loss"],
            "rounds": rounds, "util": busy / (2 * wall), "sweep_util": busy / (2 * sweep)}


def kr_study(csv, strategy, seed):
    default = MIN == fractions.Fraction(1, 27)
    name = "kr-%s-%d" % (strategy, seed) if default else "kr-%s-min%d-%d" % (
        strategy, MIN.denominator, seed)
    spec = os.path.join(WORK, name + ".yaml")
    mr = repr(float(MIN))
    search = search_block(strategy, seed, mr)
    bench.write_spec(spec, """name: %s
data: {source: %s, target: y, task: regression}
cv: {strategy: predefined, fold_column: fold}
preprocess: {scale: standard}
model:
  type: kernel_ridge
  params:
    kernel: rbf
    alpha: {log_uniform: [1.0e-4, 10]}
    gamma: {log_uniform: [1.0e-3, 1]}
search: %s
objective: {metric: r2, report: [rmse]}
output: {dir: %s}
""" % (name, csv, search, WORK))
    wall, err, _ = bench.run_hyperfold(spec, RANKS, WORK, args=("--fresh",))
    sweep = bench.sweep_elapsed(err)
    run_dir = os.path.join(WORK, name)
    res = bench.load_results(run_dir)
    fracs = kr_check_fractions(strategy, res)
    busy = sum(bench.journal_task_seconds(run_dir))
    n_train = KR_TRAIN_ROWS
    rows, cubic = 0, 0.0
    for t in res["trials"]:
        f = t["params"].get("preprocess.train_fraction", 1.0)
        rows += sum(min(m, max(1, math.ceil(f * m))) for m in n_train)
        cubic += f ** 3
    b = res["best"]
    if b["params"].get("preprocess.train_fraction", 1.0) != 1.0:
        raise SystemExit("hyperband.py: %s's best trial is not a full-budget one" % name)
    return {"wall": wall, "score": b["scores"]["r2"], "other": b["scores"]["rmse"],
            "rows": rows, "cubic": cubic, "fractions": fracs, "trials": len(res["trials"]),
            "sweep": sweep,
            "util": busy / (RANKS * wall), "sweep_util": busy / (RANKS * sweep)}


def kr_small_budget_ranking(seed):
    """What the smallest fraction ranks by: Hyperband's first rung of its largest bracket and
    random search draw the same configuration for the same trial number, so the rung's scores
    (at MIN of the rows) and random search's (all rows) of those configurations can be compared.
    Returns (Spearman's rho, n, the rank at MIN of random search's best among them or None,
    median gamma and alpha of the rung's best 1/eta against the full fits' best 1/eta)."""
    from scipy.stats import spearmanr
    default = MIN == fractions.Fraction(1, 27)
    tag = lambda s: ("kr-%s-%d" % (s, seed) if default else  # noqa: E731
                     "kr-%s-min%d-%d" % (s, MIN.denominator, seed))
    hb = bench.load_results(os.path.join(WORK, tag("hyperband")))
    rnd = bench.load_results(os.path.join(WORK, tag("random")))
    g = [x for x in hb["hyperband"] if x["rung"] == 0 and x["resource"] < 1.5 * float(MIN)][0]
    by_hb = {t["trial"]: t for t in hb["trials"]}
    by_rnd = {t["trial"]: t for t in rnd["trials"]}
    pairs = []
    for k in range(g["first_trial"], g["first_trial"] + g["configs"]):
        a, b = by_hb.get(k), by_rnd.get(k)
        if a and b and all(a["params"][q] == b["params"][q] for q in ("alpha", "gamma")):
            pairs.append((a["mean"]["r2"], b["mean"]["r2"], a["params"]))
    if len(pairs) < 3:
        return None
    rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).correlation
    top = max(1, len(pairs) // ETA)
    small = sorted(pairs, key=lambda p: -p[0])[:top]
    full = sorted(pairs, key=lambda p: -p[1])[:top]
    best_full = full[0]
    rank = sorted(pairs, key=lambda p: -p[0]).index(best_full) + 1
    med = statistics.median
    return (rho, len(pairs), rank, top, med([p[2]["gamma"] for p in small]),
            med([p[2]["gamma"] for p in full]), med([p[2]["alpha"] for p in small]),
            med([p[2]["alpha"] for p in full]))


RANKS = int(os.environ.get("BENCH_HB_RANKS", "2"))  # kernel_ridge only (a check at 1 rank)
KR_TRAIN_ROWS = []  # each split's number of training rows (kernel_ridge), from the fold column


def kr_main(csv):
    import pandas as pd
    fold = pd.read_csv(csv, usecols=["fold"])["fold"]
    KR_TRAIN_ROWS.extend(int((fold != k).sum()) for k in sorted(fold.unique()))
    names = tuple(k for k in ("hyperband", "bohb", "asha", "asha_tpe", "random")
                  if not bench.ONLY or k in bench.ONLY)
    out = {k: [] for k in names}
    for seed in SEEDS:
        for strategy in names:
            r = study(csv, strategy, seed)
            out[strategy].append(r)
            bench.log("%s seed %d: %.1f s (sweep phase %.1f s), best r2 %.6f rmse %.6f, %d trials "
                      "at fractions %s, %d rows fitted, %.2f full fits (cubic), utilisation "
                      "%.0f%% (sweep phase %.0f%%)" % (strategy, seed, r["wall"], r["sweep"],
                                                       r["score"], r["other"], r["trials"],
                                   ["%.4g" % f for f in r["fractions"]], r["rows"], r["cubic"],
                                   100 * r["util"], 100 * r["sweep_util"]))
    med = statistics.median
    print("machine: %s" % bench.machine())
    print("kernel_ridge (rbf), make_friedman1 %d x %d, standard scaling, 5 folds, seeds %s, "
          "%d ranks x 1 thread; resource preprocess.train_fraction %s..1, eta %d, "
          "%d configurations; medians over the seeds" % (N, P, SEEDS, RANKS, fraction_text(MIN),
                                                        ETA, CONFIGS))
    print()
    print("| search | wall | best r2 | best rmse | rows fitted | full fits (cubic cost) | "
          "utilisation: run / sweep phase |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in names:
        rs = out[s]
        print("| %s | %.1f s | %.6f | %.6f | %d | %.2f | %.0f%% / %.0f%% |" % (
            {"random": "random (%d at all rows)" % CONFIGS,
             "hyperband": "hyperband (eta 3, %s..1 of the rows)" % fraction_text(MIN),
             "bohb": "hyperband, sampler tpe (BOHB)",
             "asha": "asha (%d configurations, eta 3, %s..1)" % (CONFIGS, fraction_text(MIN)),
             "asha_tpe": "asha, sampler tpe"}[s],
            med([r["wall"] for r in rs]), med([r["score"] for r in rs]),
            med([r["other"] for r in rs]), med([r["rows"] for r in rs]),
            med([r["cubic"] for r in rs]),
            100 * med([r["util"] for r in rs]), 100 * med([r["sweep_util"] for r in rs])))
    r = out.get("random", [])
    print()
    for name in [k for k in names if k != "random" and r]:
        h = out[name]
        d = [b["score"] - a["score"] for a, b in zip(h, r)]
        ratio = [b["wall"] / a["wall"] for a, b in zip(h, r)]
        print("wall ratio random / %s: %.2fx (per seed %s); best r2, random - %s: %s; goal (>= 3x "
              "and within 0.002) met on %d of %d seeds, by the medians: %s" % (
                  name, med(ratio), ["%.2f" % x for x in ratio], name,
                  ["%+.4f" % x for x in d],
                  sum(1 for x, y in zip(ratio, d) if x >= 3 and y <= 0.002), len(d),
                  "yes" if med(ratio) >= 3 and med(d) <= 0.002 else "no"))
        sw = [b["sweep"] / a["sweep"] for a, b in zip(h, r)]
        print("  sweep phase only (launch, ingest, oof.csv, refit and export left out): random / "
              "%s %.2fx (per seed %s)" % (name, med(sw), ["%.2f" % x for x in sw]))
    if "hyperband" in names and r:
        print()
        kr_print_ranking()


def kr_print_ranking():
    for seed in SEEDS:
        x = kr_small_budget_ranking(seed)
        if x:
            print("seed %d: the %d configurations of Hyperband's first rung at %s of the rows "
                  "(random search's same draws): Spearman rho %.2f between their r2 at %s and "
                  "with all rows; the best with all rows ranks %d at %s (the rung keeps %d); "
                  "median gamma of the best %d: %.3g at %s, %.3g with all rows; median alpha: "
                  "%.3g, %.3g" % (seed, x[1], fraction_text(MIN), x[0], fraction_text(MIN), x[2],
                                  fraction_text(MIN), x[3], x[3], x[4], fraction_text(MIN), x[5],
                                  x[6], x[7]))
        default = MIN == fractions.Fraction(1, 27)
        rnd = bench.load_results(os.path.join(WORK, "kr-random-%d" % seed if default else
                                              "kr-random-min%d-%d" % (MIN.denominator, seed)))
        sc = [t["mean"]["r2"] for t in rnd["trials"]]
        print("seed %d: %d of random search's %d configurations are within 0.002 of its best r2 "
              "(%.6f), %d within 0.01; the median r2 is %.6f" % (
                  seed, sum(1 for v in sc if v >= max(sc) - 0.002), len(sc), max(sc),
                  sum(1 for v in sc if v >= max(sc) - 0.01), statistics.median(sc)))


def main():
    os.makedirs(WORK, exist_ok=True)
    csv = make_data()
    if KR:
        return kr_main(csv)
    names = tuple(k for k in ("hyperband", "bohb", "asha", "asha_tpe", "random")
                  if not bench.ONLY or k in bench.ONLY)
    out = {k: [] for k in names}
    for seed in SEEDS:
        for strategy in names:
            r = study(csv, strategy, seed)
            out[strategy].append(r)
            bench.log("%s seed %d: %.1f s, best roc_auc %.6f log_loss %.6f, %d rounds, "
                      "utilisation %.0f%% (sweep phase %.0f%%)" % (
                          strategy, seed, r["wall"], r["auc"], r["log_loss"], r["rounds"],
                          100 * r["util"], 100 * r["sweep_util"]))
    med = statistics.median
    print("machine: %s" % bench.machine())
    print("xgboost, %d x %d, 5 folds, seeds %s, 2 ranks x 1 thread; budgets %d..%d rounds, eta %d, "
          "%d configurations; medians over the seeds" % (N, P, SEEDS, MIN, R, ETA, CONFIGS))
    print()
    print("| search | wall | best roc_auc | best log_loss | rounds trained | utilisation: run / "
          "sweep phase |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in names:
        rs = out[s]
        print("| %s | %.1f s | %.6f | %.6f | %d | %.0f%% / %.0f%% |" % (
            {"random": "random (%d at %d)" % (CONFIGS, R),
             "hyperband": "hyperband (eta 3, %d..%d)" % (MIN, R),
             "bohb": "hyperband, sampler tpe (BOHB)",
             "asha": "asha (%d configurations, eta 3, %d..%d)" % (CONFIGS, MIN, R),
             "asha_tpe": "asha, sampler tpe"}[s],
            med([r["wall"] for r in rs]), med([r["auc"] for r in rs]),
            med([r["log_loss"] for r in rs]), med([r["rounds"] for r in rs]),
            100 * med([r["util"] for r in rs]), 100 * med([r["sweep_util"] for r in rs])))
    r = out.get("random", [])
    print()
    for name in [k for k in names if k != "random" and r]:
        h = out[name]
        print("wall ratio random / %s: %.2fx (per seed %s); best roc_auc, random - %s: %s" % (
            name, med([b["wall"] / a["wall"] for a, b in zip(h, r)]),
            ["%.2f" % (b["wall"] / a["wall"]) for a, b in zip(h, r)], name,
            ["%+.4f" % (b["auc"] - a["auc"]) for a, b in zip(h, r)]))


if __name__ == "__main__":
    main()
