#!/usr/bin/python3
"""Worker groups (parallel.ranks_per_task): kernel ridge on groups of 1, 2 and 4 ranks (grids 1x1,
1x2, 2x2, a block size that does not divide the matrix) gives the same scores to 1e-9 relative and
the same selection; the same group size at 2 and 4 ranks gives identical results; the refit model's
predictions agree, and are the same bytes at 1 to 4 predict ranks; a bad ranks_per_task is refused clearly."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("groups")
work = hftest.tempdir("groups-")
data = os.path.join(hftest.SOURCE_DIR, "examples", "data", "diabetes.csv")
SPEC = """name: kr
data: {source: %s, target: target}
cv: {folds: 3, seed: 1}
preprocess: {scale: standard}
model:
  type: kernel_ridge
  params:
    alpha: [0.1, 1.0]
    kernel: [rbf, polynomial, linear]
    gamma: 0.05
parallel: {ranks_per_task: %d, block_size: 37}
output: {dir: out}
"""
res, preds = {}, {}
for np_, g in ((4, 1), (2, 2), (4, 2), (4, 4)):
    d = os.path.join(work, "np%d-g%d" % (np_, g))
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), SPEC % (data, g))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=np_, cwd=d)
    res[(np_, g)] = hftest.load_results(os.path.join(d, "out", "kr"))
    hftest.hyperfold(["predict", "--model", "out/kr/model.h5", "--input", data, "--output", "p.csv",
                      "--quiet"], np=2, cwd=d)
    with open(os.path.join(d, "p.csv")) as f:
        preds[(np_, g)] = [float(x) for x in f.read().split()[1:]]

ref = res[(4, 1)]
for key, r in res.items():
    ck.check(r["best"]["trial"] == ref["best"]["trial"], "%s: same best trial" % (key,))
    for t, tr in zip(r["trials"], ref["trials"]):
        for a, b in zip(t["fold_scores"]["r2"], tr["fold_scores"]["r2"]):
            ck.check(hftest.rel_close(a, b, 1e-9), "%s trial %d: r2 %r vs %r" % (key, t["trial"], a, b))
    for a, b in zip(preds[key], preds[(4, 1)]):
        if not hftest.rel_close(a, b, 1e-9, 1e-9):
            ck.check(False, "%s: refit predictions %r vs %r" % (key, a, b))
            break
    else:
        ck.check(True, "%s: refit predictions agree" % (key,))
ck.check(hftest.comparable(res[(2, 2)]) == hftest.comparable(res[(4, 2)]),
         "groups of 2: results at 2 and 4 ranks are identical")

# Batch prediction with one model is the same bits at any number of predict ranks: each rank gets a
# different block of rows, and a row's kernel values must not depend on its neighbours (dgemm's
# blocking made 10 of 442 rows differ in the last bits between 1 and 2 ranks).
d = os.path.join(work, "np4-g1")
outs = {}
for npx in (1, 2, 3, 4):
    hftest.hyperfold(["predict", "--model", "out/kr/model.h5", "--input", data, "--output",
                      "q%d.csv" % npx, "--quiet"], np=npx, cwd=d)
    with open(os.path.join(d, "q%d.csv" % npx), "rb") as f:
        outs[npx] = f.read()
for npx in (2, 3, 4):
    ck.check(outs[npx] == outs[1] and len(outs[1]) > 1000,
             "predict at %d ranks writes the same bytes as at 1 rank" % npx)

d = os.path.join(work, "bad")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), SPEC % (data, 3))
p = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=4, cwd=d, check=False)
ck.check(p.returncode == 2 and "parallel.ranks_per_task" in p.stderr and "divisor" in p.stderr,
         "ranks_per_task 3 on 4 ranks is refused: %s" % p.stderr.strip())
# validate under the same mpirun refuses it too; at one rank (a login node) it cannot know.
p = hftest.hyperfold(["validate", "job.yaml"], np=4, cwd=d, check=False)
ck.check(p.returncode == 2 and "parallel.ranks_per_task" in p.stderr and "divisor" in p.stderr
         and p.stdout == "", "validate at 4 ranks refuses ranks_per_task 3: %s" % p.stderr.strip())
p = hftest.hyperfold(["validate", "job.yaml", "--no-data"], cwd=d, check=False)
ck.check(p.returncode == 0, "validate at 1 rank accepts ranks_per_task 3: %s" % p.stderr.strip())
# A grid that is not the group's shape is refused by the spec, before anything runs.
hftest.write(os.path.join(d, "grid.yaml"), (SPEC % (data, 2)).replace(
    "ranks_per_task: 2,", "ranks_per_task: 2, grid: 2x2,"))
for cmd, npx in ((["validate", "grid.yaml"], None), (["run", "grid.yaml", "--quiet"], 2)):
    p = hftest.hyperfold(cmd, np=npx, cwd=d, check=False)
    lines = [l for l in p.stderr.splitlines() if l.startswith("hyperfold: error")]
    ck.check(p.returncode == 2 and len(lines) == 1 and "parallel.grid: got 2x2" in lines[0]
             and "ranks_per_task (2)" in lines[0], "%s: grid 2x2 for groups of 2 refused: %s"
             % (cmd[0], p.stderr.strip()))
# parallel.memory_per_rank: the kernel matrices (442 x 442, two per batch of alphas: 3 MiB) do not
# fit 1 MiB on one rank: refused before anything runs, naming the group size that would fit; on a
# group of 4 (a 2x2 grid: 0.75 MiB per rank) the same sweep runs.
for g, ok in ((1, False), (4, True)):
    d = os.path.join(work, "mem%d" % g)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"),
                 (SPEC % (data, g)).replace("block_size: 37}", "block_size: 37, memory_per_rank: 1MiB}"))
    p = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=4, cwd=d, check=False)
    if ok:
        ck.check(p.returncode == 0, "memory: a group of 4 fits (%d: %s)" % (p.returncode, p.stderr.strip()))
    else:
        ck.check(p.returncode == 2, "memory: refused with exit 2 (got %d)" % p.returncode)
        ck.check("parallel.memory_per_rank" in p.stderr and "ranks_per_task >= 4" in p.stderr,
                 "memory: message names the limit and the group size that fits: %s" % p.stderr.strip())
        ck.check(not os.path.exists(os.path.join(d, "out", "kr", "journal.jsonl")),
                 "memory: refused before the sweep started (no journal)")
ck.done()
