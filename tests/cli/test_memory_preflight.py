#!/usr/bin/python3
"""A task that cannot fit is refused before the sweep (issue 18, item 5): ridge on 10 rows of
p features needs its p x p Gram matrix and eigenvectors (16 p^2 bytes) in one task. With
parallel.memory_per_rank below that, and without it on this machine (p chosen from
/proc/meminfo so that the task needs more than the node's memory), `run` refuses in one line
that names the model, the matrix and the bytes, with exit 2 and no trial run; a p that fits runs.
elastic_net, xgboost and random_forest are refused the same way for the copies of the training
rows they make."""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402
import h5py  # noqa: E402

ck = hftest.Checker("memory_preflight")
work = hftest.tempdir("memory-")
mem = int([l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal:")][0]) * 1024
rng = np.random.default_rng(1)


def table(p, path):
    X = rng.random((10, p))
    with open(path, "w") as f:
        f.write(",".join("c%d" % i for i in range(p)) + ",y\n")
        for r in X:
            f.write(",".join("%.3f" % v for v in r) + ",%.3f\n" % rng.random())


def spec(name, source, extra=""):
    hftest.write(os.path.join(work, name + ".yaml"), """name: %s
data: {source: %s, target: y}
cv: {folds: 2}
model: {type: ridge, params: {alpha: [1.0]}}
output: {dir: out}
%s""" % (name, source, extra))


p_big = int(math.sqrt(mem / 16.0)) + 2000  # 16 p^2 bytes > the node's memory
table(p_big, os.path.join(work, "wide.csv"))
table(3000, os.path.join(work, "narrow.csv"))
cases = [("default", "wide.csv", "", p_big),
         ("limit", "narrow.csv", "parallel: {memory_per_rank: 64MiB}\n", 3000)]
for name, src, extra, p in cases:
    spec(name, src, extra)
    r = hftest.hyperfold(["run", name + ".yaml"], np=2, cwd=work, check=False, timeout=600)
    errors = [l for l in r.stderr.splitlines() if l.startswith("hyperfold: error:")]
    ck.check(r.returncode == 2 and len(errors) == 1,
             "%s: refused in one line with exit 2 (%d: %s)" % (name, r.returncode, r.stderr[-500:]))
    ck.check(errors and "ridge: the %dx%d Gram matrix and its eigenvectors: one task needs" % (p, p)
             in errors[0] and "parallel.memory_per_rank" in errors[0],
             "%s: the message names the model, the matrix and the limit: %s" % (name, errors))
    ck.check(not os.path.exists(os.path.join(work, "out", name, "journal.jsonl")),
             "%s: no task ran" % name)
# Every model has a preflight: the copies of the training rows elastic_net makes (10 x 3000 cells,
# 8 bytes a cell: 240,000 bytes, more than 100 KiB). The tree models can split the rows over a group
# (parallel.data_parallel), so for them the table itself (234 KiB) is refused first, naming the
# data-parallel option; their copies of the training rows (float32 and a DMatrix of half the rows)
# are always smaller than the table.
TABLE = "one copy of the table (10 rows x 3000 features: 234.45 KiB) does not fit in 100.00 KiB"
for model, params, words in (
        ("elastic_net", "{alpha: [1.0]}", "elastic_net: a centred copy of the 10x3000 training rows"),
        ("xgboost", "{n_estimators: [5]}", TABLE),
        ("random_forest", "{n_estimators: [5]}", TABLE)):
    hftest.write(os.path.join(work, model + ".yaml"), """name: %s
data: {source: narrow.csv, target: y}
cv: {folds: 2}
model: {type: %s, params: %s}
parallel: {memory_per_rank: 100KiB}
output: {dir: out}
""" % (model, model, params))
    r = hftest.hyperfold(["run", model + ".yaml"], np=2, cwd=work, check=False, timeout=600)
    errors = [l for l in r.stderr.splitlines() if l.startswith("hyperfold: error:")]
    ck.check(r.returncode == 2 and len(errors) == 1 and words in errors[0] and
             ("one task needs" in errors[0] or "data_parallel: true" in errors[0]),
             "%s: refused before the sweep in one line (%d: %s)" % (model, r.returncode, errors))
spec("fits", "narrow.csv", "parallel: {memory_per_rank: 1GiB}\n")
r = hftest.hyperfold(["run", "fits.yaml", "--quiet"], np=2, cwd=work, check=False, timeout=600)
ck.check(r.returncode == 0, "3000 features in 1 GiB per rank run (%s)" % r.stderr[-300:])
# Its schema (about 100 KB) is longer than a fixed-length attribute may be: model.h5 holds it as the
# dataset strings/schema_json, and predict reads it back.
model = os.path.join(work, "out", "fits", "model.h5")
r = hftest.hyperfold(["predict", "--quiet", "--model", model, "--input", "narrow.csv", "--output",
                      "fits.pred.csv"], cwd=work, check=False, timeout=600)
ck.check(r.returncode == 0 and len(open(os.path.join(work, "fits.pred.csv")).read().splitlines())
         == 11, "the 3000-feature model predicts its 10 rows (%s)" % r.stderr[-300:])
with h5py.File(model, "r") as f:
    ck.check("schema_json" not in f.attrs and len(f["strings/schema_json"][()]) > 65536,
             "the long schema is the dataset strings/schema_json")
ck.done()
