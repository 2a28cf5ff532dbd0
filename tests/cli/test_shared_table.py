#!/usr/bin/python3
"""One copy of the table per node (parallel.shared_table, docs/scaling.md): the same sweeps (ridge
reading the table's rows in place, logistic regression after clipping and scaling) at 1, 2 and 3
ranks and on worker groups of 2 give identical results.json scores and model.h5 predictions with the shared table and
with it turned off, and the run says which it used; without a shared window (Open MPI's osc/sm
component excluded) the run falls back to private copies with one line and the same results."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("shared_table")
work = hftest.tempdir("shared-table-")
data = os.path.join(hftest.SOURCE_DIR, "examples", "data")
SPECS = {
    "ridge": ("diabetes.csv", """
name: st-ridge
data: {source: %s/diabetes.csv, target: target}
shards: {count: 3}
cv: {folds: 4, seed: 3}
model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-3, 1.0e3]}
    fit_intercept: [true, false]
search: {strategy: random, trials: 8, seed: 11}
objective: {metric: r2, report: [rmse]}
parallel: {shared_table: %s, ranks_per_task: %d}
output: {dir: out}
"""),
    "logistic": ("wine.csv", """
name: st-logistic
data: {source: %s/wine.csv, target: cultivar}
cv: {folds: 3, seed: 5, holdout: 0.2}
preprocess: {scale: standard, clip: {lower: 0.01, upper: 0.99}}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-2, 1.0e2], grid_points: 4}
search: {strategy: grid}
objective: {metric: log_loss, report: [accuracy]}
parallel: {shared_table: %s, ranks_per_task: %d}
output: {dir: out}
"""),
}
# (ranks, ranks_per_task)
LAYOUTS = ((1, 1), (2, 1), (3, 1), (2, 2))

for key, (src, text) in SPECS.items():
    scores, preds = {}, {}
    for shared in ("true", "false"):
        for np_, g in LAYOUTS:
            label = "%s shared_table=%s np=%d ranks_per_task=%d" % (key, shared, np_, g)
            d = os.path.join(work, "%s-%s-np%d-g%d" % (key, shared, np_, g))
            os.makedirs(d)
            hftest.write(os.path.join(d, "job.yaml"), text % (data, shared, g))
            p = hftest.hyperfold(["run", "job.yaml"], np=np_, cwd=d)
            said_off = "parallel.shared_table is false" in p.stderr
            said_on = "one copy shared by this node's" in p.stderr
            ck.check(said_off == (shared == "false" and np_ > 1),
                     "%s: the private copies said (%r) only when turned off" % (label, said_off))
            ck.check(said_on == (shared == "true" and np_ > 1),
                     "%s: the shared copy said (%r) only when on" % (label, said_on))
            ck.check("no shared window" not in p.stderr, "%s: the window was available" % label)
            run_dir = os.path.join(d, "out", "st-" + key)
            r = hftest.load_results(run_dir)
            scores[(shared, np_, g)] = [(t["trial"], t.get("params"), t.get("fold_scores"))
                                        for t in r["trials"]] + [r["best"], r.get("holdout")]
            if key == "logistic":
                ck.check(r.get("holdout") is not None, "%s: a holdout score" % label)
            out = os.path.join(d, "pred.csv")
            hftest.hyperfold(["predict", "--model", os.path.join(run_dir, "model.h5"), "--input",
                              os.path.join(data, src), "--output", out, "--quiet"], cwd=d)
            with open(out) as f:
                preds[(shared, np_, g)] = f.read()
    for np_, g in LAYOUTS:
        a, b = ("true", np_, g), ("false", np_, g)
        ck.check(scores[a] == scores[b],
                 "%s np=%d ranks_per_task=%d: results.json scores shared == private" % (key, np_, g))
        ck.check(preds[a] == preds[b] and len(preds[a]) > 100,
                 "%s np=%d ranks_per_task=%d: model.h5 predictions shared == private" % (key, np_, g))
    # And the shared table at any number of ranks gives the 1-rank result (a distributed fit on a
    # group sums in another order: tests/cli/test_groups.py compares those to 1e-9).
    for np_, g in LAYOUTS[1:3]:
        ck.check(scores[("true", np_, g)] == scores[("true", 1, 1)],
                 "%s np=%d ranks_per_task=%d: shared scores equal 1 rank's" % (key, np_, g))
    if key == "ridge":
        ridge_scores = scores

# Without Open MPI's shared-memory window component the window cannot be had: one line, private
# copies, the same results.
d = os.path.join(work, "no-window")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), SPECS["ridge"][1] % (data, "true", 1))
os.environ["OMPI_MCA_osc"] = "^sm"
p = hftest.hyperfold(["run", "job.yaml"], np=2, cwd=d)
del os.environ["OMPI_MCA_osc"]
lines = [x for x in p.stderr.splitlines() if "no shared window for the table" in x]
ck.check(len(lines) == 1 and "each of this node's 2 ranks loads its own copy" in lines[0],
         "no window: one line says so: %r" % p.stderr[-600:])
r = hftest.load_results(os.path.join(d, "out", "st-ridge"))
ck.check([(t["trial"], t.get("params"), t.get("fold_scores")) for t in r["trials"]] +
         [r["best"], r.get("holdout")] == ridge_scores[("true", 2, 1)],
         "no window: the shared run's scores")

# A bad value is refused in one line naming the key.
d = os.path.join(work, "bad")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), SPECS["ridge"][1] % (data, "maybe", 1))
p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
ck.check(p.returncode == 2, "shared_table: maybe exits 2 (%d)" % p.returncode)
ck.check("parallel.shared_table" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
         "one line naming parallel.shared_table: %r" % p.stderr)
ck.done()
