#!/usr/bin/python3
"""Bad input: one clear line naming file/line/column or key, value and expectation; exit code 2;
nothing written. Also --help/--version, predict with mismatched columns, a corrupt model file."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("errors")
work = hftest.tempdir("errors-")
data = os.path.join(hftest.SOURCE_DIR, "examples", "data")
good = """name: e
data: {source: %s/diabetes.csv, target: target}
model:
  type: ridge
  params:
    alpha: [1.0, 2.0]
output: {dir: out}
""" % data

p = hftest.hyperfold(["--version"], check=False)
ck.check(p.returncode == 0 and p.stdout.startswith("hyperfold "), "--version prints the version")
for cmd in (["--help"], ["run", "--help"], ["validate", "--help"], ["predict", "--help"]):
    p = hftest.hyperfold(cmd, check=False)
    ck.check(p.returncode == 0 and "usage" in p.stdout, "%s prints usage" % " ".join(cmd))
p = hftest.hyperfold(["frobnicate"], check=False)
ck.check(p.returncode == 2 and "unknown command" in p.stderr, "unknown command: exit 2")

cases = [
    # (spec text, substrings the one-line error must contain)
    (good.replace("alpha: [1.0, 2.0]", "alpha: abc"), ["job.yaml:", "model.params.alpha", "abc"]),
    (good.replace("source:", "sorce:"), ["job.yaml:", "sorce", "did you mean", "source"]),
    (good.replace("type: ridge", "type: ridgeee"), ["job.yaml:", "model.type", "ridgeee"]),
    (good + "cv: {folds: 1}\n", ["job.yaml:", "cv.folds", "1"]),
    (good.replace("task: ", "") + "cv: {strategy: stratified}\n" if False else
     good.replace("target: target}", "target: target, task: regression}") + "cv: {strategy: stratified}\n",
     ["cv.strategy", "stratified", "regression"]),
    (good.replace("alpha: [1.0, 2.0]", "alpha: {log_uniform: [0.1, 10]}") + "search: {strategy: grid}\n",
     ["job.yaml:", "alpha", "grid_points"]),
    ("name: e\ndata: [1, 2\n", ["job.yaml:"]),
    # A random search's integer distribution is checked over its values, as a grid's list is:
    # int_uniform [0, 2] would draw polynomial 1 (refused by validate, not by the run's trials).
    (good + "preprocess: {polynomial: {int_uniform: [0, 2]}}\nsearch: {strategy: random, trials: 4}\n",
     ["job.yaml:", "preprocess.polynomial", "got 1", "expected 0 (off) or 2"]),
]
for i, (text, needles) in enumerate(cases):
    d = os.path.join(work, "case%d" % i)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), text)
    for cmd, np_ in ((["validate", "job.yaml"], None), (["run", "job.yaml", "--quiet"], 2)):
        p = hftest.hyperfold(cmd, np=np_, cwd=d, check=False)
        lines = [l for l in p.stderr.splitlines() if "error" in l]
        ck.check(p.returncode == 2, "case %d %s: exit code %d, expected 2 (stderr: %s)" % (i, cmd[0], p.returncode, p.stderr.strip()))
        ck.check(len(lines) == 1, "case %d %s: exactly one error line, got %r" % (i, cmd[0], lines))
        for n in needles:
            ck.check(any(n in l for l in lines), "case %d %s: error mentions %r: %r" % (i, cmd[0], n, lines))
        ck.check(not os.path.exists(os.path.join(d, "out")), "case %d %s: nothing written" % (i, cmd[0]))

# A class with fewer rows than folds: refused once the data is known.
d = os.path.join(work, "smallclass")
os.makedirs(d)
with open(os.path.join(d, "tiny.csv"), "w") as f:
    f.write("x,y\n" + "".join("%d,%s\n" % (i, "a" if i < 8 else "b") for i in range(10)))
hftest.write(os.path.join(d, "job.yaml"), """name: t
data: {source: tiny.csv, target: y}
cv: {folds: 5, strategy: stratified}
model: {type: logistic_regression}
output: {dir: out}
""")
p = hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d, check=False)
ck.check(p.returncode == 2, "small class: exit 2 (got %d: %s)" % (p.returncode, p.stderr.strip()))
ck.check("cv.folds" in p.stderr and '"b"' in p.stderr, "small class: names cv.folds and the class: %s" % p.stderr.strip())

# Predict with mismatched columns names them.
d = os.path.join(work, "predict")
os.makedirs(d)
hftest.write(os.path.join(d, "job.yaml"), good)
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
with open(os.path.join(data, "diabetes.csv")) as f:
    lines = f.read().splitlines()
hdr = lines[0].split(",")
bad = [",".join(["extra_col"] + hdr[1:])] + [l for l in lines[1:6]]
hftest.write(os.path.join(d, "bad.csv"), "\n".join(bad) + "\n")
p = hftest.hyperfold(["predict", "--model", "out/e/model.h5", "--input", "bad.csv", "--output",
                      "pred.csv"], np=2, cwd=d, check=False)
ck.check(p.returncode == 2, "predict mismatch: exit 2 (got %d)" % p.returncode)
ck.check("age" in p.stderr and "extra_col" in p.stderr, "predict mismatch names missing and extra columns: %s" % p.stderr.strip())
ck.check(not os.path.exists(os.path.join(d, "pred.csv")), "predict mismatch: no output written")
hftest.write(os.path.join(d, "junk.h5"), "not hdf5")
p = hftest.hyperfold(["predict", "--model", "junk.h5", "--input", os.path.join(data, "diabetes.csv"),
                      "--output", "pred.csv"], np=1, cwd=d, check=False)
ck.check(p.returncode == 2 and "junk.h5" in p.stderr, "corrupt model: clear error: %s" % p.stderr.strip())
ck.done()
