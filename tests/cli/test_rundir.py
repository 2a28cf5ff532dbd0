#!/usr/bin/python3
"""The run directory stays true (issue 18, items 3, 4, 9, 14, 15): a spec the journal refuses
never replaces RUN/job.yaml, and retrain refits the best parameters results.json records (also of
a TPE study, whose trials are not the spec's expansion), refusing a run directory whose job.yaml,
results.json and model.h5 are of different specs; a second run of the same directory is refused
naming the holder while the first finishes untouched; job names "." and ".." are refused;
temporary files a killed run left are removed by the next run; an output.dir that is a file is a
one-line error."""
import json
import os
import sys

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("rundir")
work = hftest.tempdir("rundir-")
rng = np.random.default_rng(11)
n, p = 400, 6
X = rng.normal(size=(n, p))
y = X @ rng.normal(size=p) + rng.normal(scale=2.0, size=n)
df = pd.DataFrame(X, columns=["x%d" % i for i in range(p)])
df["y"] = y
df.to_csv(os.path.join(work, "data.csv"), index=False)

RIDGE = """name: %s
data: {source: %s/data.csv, target: y}
cv: {folds: 4, seed: 2}
model: {type: ridge, params: {alpha: %s}}
search: {strategy: grid}
objective: {metric: r2}
output: {dir: out}
"""


def one_error_line(p):
    lines = [l for l in p.stderr.splitlines() if l.startswith("hyperfold: error:")]
    return len(lines) == 1


def model_params(path):
    with h5py.File(path, "r") as f:
        v = f.attrs["params_json"]
        return json.loads(v.decode() if isinstance(v, bytes) else v)


def retrain(d, run):
    return hftest.hyperfold(["retrain", os.path.join("out", run), "--data",
                             os.path.join(work, "data2.csv")], np=2, cwd=d, check=False)


# New data for retrain: the same relation, other rows.
X2 = rng.normal(size=(n, p))
df2 = pd.DataFrame(X2, columns=["x%d" % i for i in range(p)])
df2["y"] = X2 @ np.linalg.lstsq(X, y, rcond=None)[0] + rng.normal(scale=2.0, size=n)
df2.to_csv(os.path.join(work, "data2.csv"), index=False)

# --- item 3: an edited spec the journal refuses leaves job.yaml; retrain refits the real best.
d = os.path.join(work, "edit")
os.makedirs(d)
spec_a = RIDGE % ("sweep", work, "[0.251, 3.0, 40.0]")
spec_b = RIDGE % ("sweep", work, "[500.0, 0.001, 7.0]")
hftest.write(os.path.join(d, "job.yaml"), spec_a)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
run = os.path.join(d, "out", "sweep")
best = hftest.load_results(run)["best"]
ck.check(open(os.path.join(run, "job.yaml")).read() == spec_a, "job.yaml is the spec of the run")
ck.check(oct(os.stat(os.path.join(run, "job.yaml")).st_mode & 0o777) == "0o600",
         "job.yaml is readable by its owner only (it may hold a source's credentials)")
hftest.write(os.path.join(d, "job.yaml"), spec_b)
pb = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
ck.check(pb.returncode == 2 and "different job spec" in pb.stderr,
         "the edited spec is refused by the journal (%d: %s)" % (pb.returncode, pb.stderr.strip()))
ck.check(open(os.path.join(run, "job.yaml")).read() == spec_a,
         "the refused spec did not replace RUN/job.yaml")
pr = retrain(d, "sweep")
ck.check(pr.returncode == 0, "retrain of the run succeeds (%d: %s)" % (pr.returncode, pr.stderr.strip()))
newest = os.path.join(run, "model.h5") if os.path.exists(os.path.join(run, "model.previous.h5")) \
    else os.path.join(run, "model.retrain.h5")
if ck.check(os.path.exists(newest), "retrain wrote a model"):
    ck.check(model_params(newest) == best["params"],
             "retrain refit the best parameters of results.json (%s, best %s)" % (
                 model_params(newest), best["params"]))

# A run directory whose job.yaml is of another spec than results.json and model.h5: refused.
os.chmod(os.path.join(run, "job.yaml"), 0o600)
hftest.write(os.path.join(run, "job.yaml"), spec_b)
pm = retrain(d, "sweep")
ck.check(pm.returncode != 0 and one_error_line(pm) and "results.json" in pm.stderr and
         "another job spec" in pm.stderr,
         "retrain refuses job.yaml and results.json of different specs (%d: %s)" % (
             pm.returncode, pm.stderr.strip()))

# --- item 3 for a study: retrain of a TPE run refits its best parameters, not trial k of the
# spec's random expansion.
d = os.path.join(work, "tpe")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), """name: study
data: {source: %s/data.csv, target: y}
cv: {folds: 3, seed: 2}
model: {type: ridge, params: {alpha: {log_uniform: [1.0e-3, 1.0e3]}}}
search: {strategy: tpe, trials: 16, seed: 5, n_startup_trials: 4}
objective: {metric: r2}
output: {dir: out}
""" % work)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
run = os.path.join(d, "out", "study")
best = hftest.load_results(run)["best"]
ck.check(best["trial"] >= 4, "the TPE study's best is a proposed trial (%d)" % best["trial"])
pr = retrain(d, "study")
ck.check(pr.returncode == 0, "retrain of the study succeeds (%s)" % pr.stderr.strip())
newest = os.path.join(run, "model.h5") if os.path.exists(os.path.join(run, "model.previous.h5")) \
    else os.path.join(run, "model.retrain.h5")
if ck.check(os.path.exists(newest), "retrain of the study wrote a model"):
    ck.check(model_params(newest) == best["params"],
             "retrain refit the study's best parameters (%s, best %s)" % (model_params(newest),
                                                                          best["params"]))

# --- item 4: a second run of the same directory is refused, naming the holder; the first ends
# well and its journal holds every task once.
d = os.path.join(work, "lock")
os.makedirs(d)
df3 = df.copy()
df3["y"] = np.where(df3["y"] > 0, "yes", "no")
df3.to_csv(os.path.join(work, "labels.csv"), index=False)
hftest.write(os.path.join(d, "job.yaml"), """name: locked
data: {source: %s/labels.csv, target: y}
cv: {folds: 4, seed: 1}
model:
  type: logistic_regression
  params: {C: {log_uniform: [1.0e-3, 1.0e2]}, tol: {log_uniform: [1.0e-5, 1.0e-3]}}
search: {strategy: random, trials: 24, seed: 1}
objective: {metric: log_loss}
output: {dir: out}
""" % work)
first = hftest.start_run(d, 100)
run = os.path.join(d, "out", "locked")
ck.check(hftest.wait_for_tasks(run, 3, first), "the first run is under way")
second = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
ck.check(second.returncode != 0 and one_error_line(second), "the second run is refused in one line "
         "(%d: %s)" % (second.returncode, second.stderr.strip()))
ck.check("another command is writing this run directory" in second.stderr and
         "pid " in second.stderr and
         os.uname().nodename in second.stderr,
         "the refusal names the holder's host and pid: %s" % second.stderr.strip())
holder = open(os.path.join(run, ".lock")).read()
ck.check("hyperfold run on host %s" % os.uname().nodename in holder, "the lock names its holder (%s)" % holder)
rt = hftest.hyperfold(["retrain", os.path.join("out", "locked")], np=1, cwd=d, check=False)
ck.check(rt.returncode != 0 and "another command is writing this run directory" in rt.stderr,
         "retrain during the run is refused (%s)" % rt.stderr.strip())
out, err = first.communicate(timeout=300)
ck.check(first.returncode == 0, "the first run finished (%d: %s)" % (first.returncode, err[-400:]))
tasks = hftest.journal_tasks(run)
ck.check(len(tasks) == len(set(tasks)) and len(tasks) > 0, "its journal holds every task once")
again = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
ck.check(again.returncode == 0, "a run after the first ended takes the lock (%s)" % again.stderr.strip())

# --- item 14: temporaries a killed run left are removed by the next run of the directory.
stale = [os.path.join(run, "results.json.tmp.99999"), os.path.join(run, "shards", ".tmp-part-00003.h5")]
for s in stale:
    hftest.write(s, "left by a killed run")
keep = os.path.join(run, "notes.tmp.txt")
hftest.write(keep, "the user's")
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
ck.check(not any(os.path.exists(s) for s in stale), "stale temporaries removed")
ck.check(os.path.exists(keep), "a file that is not hyperfold's temporary is kept")
left = [f for f in os.listdir(run) if ".tmp." in f and f != "notes.tmp.txt"]
ck.check(not left, "a successful run leaves no temporary file (%s)" % left)

# --- item 9: "." and ".." are not job names.
for name in (".", ".."):
    dn = os.path.join(work, "name" + str(len(name)))
    os.makedirs(os.path.join(dn, "out", "shards"))
    hftest.write(os.path.join(dn, "out", "shards", "manifest.json"), "{}")
    hftest.write(os.path.join(dn, "job.yaml"), RIDGE % ('"%s"' % name, work, "[1.0]"))
    for cmd, np_ in (("validate", None), ("run", 1)):
        pn = hftest.hyperfold([cmd, "job.yaml"], np=np_, cwd=dn, check=False)
        ck.check(pn.returncode == 2 and one_error_line(pn) and "name" in pn.stderr,
                 "%s refuses name %r (%d: %s)" % (cmd, name, pn.returncode, pn.stderr.strip()))
    ck.check(os.path.exists(os.path.join(dn, "out", "shards", "manifest.json")),
             "name %r: the parent's shards are untouched" % name)

# --- item 15: an output.dir that is a file.
d = os.path.join(work, "file")
os.makedirs(d)
hftest.write(os.path.join(d, "out"), "a file")
hftest.write(os.path.join(d, "job.yaml"), RIDGE % ("f", work, "[1.0]"))
pf = hftest.hyperfold(["run", "job.yaml"], np=1, cwd=d, check=False)
ck.check(pf.returncode != 0 and one_error_line(pf) and "a file of that name exists" in pf.stderr,
         "output.dir naming a file: one line (%d: %s)" % (pf.returncode, pf.stderr.strip()))
ck.done()
