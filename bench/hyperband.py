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
3x less wall time at a best score within 0.002."""
import os
import statistics
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

N = int(os.environ.get("BENCH_HB_N", "8000"))
P = 20
WORK = os.path.join(bench.SCRATCH, "hyperband")
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "1,2,3").split(",") if s]
R = 81
ETA = 3
# The smallest budget (rounds): BENCH_HB_MIN, default 1. Hyperband's number of configurations for
# min..R rounds (Li et al.: s_max = log_eta(R / min), n_s = ceil((s_max + 1) / (s + 1) eta^s)) is
# also ASHA's and random search's, so that the three see as many configurations.
MIN = int(os.environ.get("BENCH_HB_MIN", "1"))


def hb_configs(r_max, r_min, eta):
    s_max = 0
    while r_min * eta ** (s_max + 1) <= r_max:
        s_max += 1
    return sum(-(-(s_max + 1) * eta ** s // (s + 1)) for s in range(s_max + 1))


CONFIGS = hb_configs(R, MIN, ETA)


def make_data():
    return bench.nonlinear_binary_table(os.path.join(WORK, "hb-%d.csv" % N), N, P)


def study(csv, strategy, seed):
    name = "%s-%d" % (strategy, seed) if MIN == 1 else "%s-min%d-%d" % (strategy, MIN, seed)
    spec = os.path.join(WORK, name + ".yaml")
    search = {"hyperband": "{strategy: hyperband, seed: %d, min_resource: %d, eta: 3}",
              "bohb": "{strategy: hyperband, seed: %d, min_resource: %d, eta: 3, sampler: tpe}",
              "asha": "{strategy: asha, seed: %d, trials: %d, min_resource: %d, eta: 3}",
              "asha_tpe": "{strategy: asha, seed: %d, trials: %d, min_resource: %d, eta: 3, "
                          "sampler: tpe}",
              "random": "{strategy: random, trials: %d, seed: %d}"}[strategy]
    search = search % {"hyperband": (seed, MIN), "bohb": (seed, MIN),
                       "asha": (seed, CONFIGS, MIN), "asha_tpe": (seed, CONFIGS, MIN),
                       "random": (CONFIGS, seed)}[strategy]
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


def main():
    os.makedirs(WORK, exist_ok=True)
    csv = make_data()
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
