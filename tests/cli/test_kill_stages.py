#!/usr/bin/python3
"""kill -9 at every stage of a run (issue 18, "keep it closed"): a rank killed while the shards
are written, before the manifest, after three journal lines, before the refit, after the export
and between trials.csv and results.json (HF_TEST_KILL_AT, common/hf.h), at 2 ranks, on rank 0
and, where it works there too, on rank 1. The job ends (no hang) with a non-zero exit; nothing
half-written is left under a final name (a manifest, results.json and model.h5 that exist are
whole, and results.json only where rank 0 finished the run before the job was torn down); the
same command then finishes with the results of a run that was never killed, with
every task once in its journal and no temporary file left."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("kill_stages")
work = hftest.tempdir("killstages-")
rng = np.random.default_rng(3)
n, p = 600, 5
X = rng.normal(size=(n, p))
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["y"] = np.where(X @ rng.normal(size=p) + rng.normal(size=n) > 0, "a", "b")
df.to_csv(os.path.join(work, "data.csv"), index=False)
SPEC = """name: k
data: {source: %s/data.csv, target: y}
cv: {folds: 3, seed: 1}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params: {C: {log_uniform: [1.0e-2, 1.0e2]}, tol: {log_uniform: [1.0e-6, 1.0e-4]}}
search: {strategy: random, trials: 8, seed: 2}
objective: {metric: log_loss}
output: {dir: out}
""" % work


def setup(name):
    d = os.path.join(work, name)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), SPEC)
    return d


base = setup("reference")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=base)
expected = hftest.load_results(os.path.join(base, "out", "k"))

for stage, rank in (("shards", 0), ("shards", 1), ("manifest", 0), ("journal", 0), ("refit", 0),
                    ("refit", 1), ("export", 0), ("export", 1), ("results", 0)):
    what = "%s:%d" % (stage, rank)
    d = setup(stage + str(rank))
    run = os.path.join(d, "out", "k")
    e = hftest.env()
    e["HF_TEST_KILL_AT"] = what
    try:
        pk = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", hftest.HYPERFOLD, "run",
                             "job.yaml", "--quiet"], cwd=d, env=e, capture_output=True, text=True,
                            timeout=120)
    except subprocess.TimeoutExpired:
        ck.check(False, "%s: the job hung after the kill" % what)
        subprocess.run(["pkill", "-9", "-f", "hyperfold run job.yaml"])
        continue
    ck.check(pk.returncode != 0 and "HF_TEST_KILL_AT %s: killed" % stage in pk.stderr,
             "%s: the rank was killed and the job failed (%d: %s)" % (what, pk.returncode,
                                                                     pk.stderr[-300:]))
    # What exists under a final name is whole.
    man = os.path.join(run, "shards", "manifest.json")
    if os.path.exists(man):
        ck.check(json.load(open(man)).get("checksum"), "%s: manifest.json is whole" % what)
    if os.path.exists(os.path.join(run, "results.json")):
        # Rank 0 may have finished the refit and the outputs before the job was torn down (rank
        # 1 killed after the sweep): then they must be the true, whole results.
        got = hftest.load_results(run)
        ck.check(rank == 1 and stage in ("refit", "export") and
                 hftest.same_trials(got, expected) and got["best"] == expected["best"],
                 "%s: results.json exists only as the finished run's true results" % what)
    if os.path.exists(os.path.join(run, "model.h5")):
        new = os.path.join(d, "new.csv")
        df.drop(columns=["y"]).head(5).to_csv(new, index=False)
        pp = hftest.hyperfold(["predict", "--model", os.path.join(run, "model.h5"), "--input", new,
                               "--output", os.path.join(d, "pred.csv")], check=False)
        ck.check(pp.returncode == 0, "%s: model.h5 left by the killed run is whole (%s)" % (
            what, pp.stderr.strip()))
    # The same command then finishes with the reference's results.
    pr = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False, timeout=300)
    ck.check(pr.returncode == 0, "%s: the rerun finished (%d: %s)" % (what, pr.returncode,
                                                                       pr.stderr[-300:]))
    if pr.returncode != 0:
        continue
    got = hftest.load_results(run)
    ck.check(hftest.same_trials(got, expected) and got["best"] == expected["best"],
             "%s: the rerun's results equal the reference's" % what)
    tasks = hftest.journal_tasks(run)
    ck.check(len(tasks) == len(set(tasks)), "%s: every task once in the journal" % what)
    temps = [f for f in os.listdir(run) + os.listdir(os.path.join(run, "shards")) if ".tmp" in f]
    ck.check(not temps, "%s: no temporary file left (%s)" % (what, temps))
ck.done()
