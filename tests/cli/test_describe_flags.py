#!/usr/bin/python3
"""hyperfold describe DATA: the flags on a constructed table (an identifier, a constant, an integer
code column that looks categorical, a leak of a classification and of a regression target, a
mostly missing column, and none on ordinary columns); --columns COL=categorical takes the hint;
without --target the last column is described as a feature and nothing is associated (a .gz file,
whose header is read through the decompressor); a bad --target, --task, --columns or
--max-distinct is one line naming it, exit 2; the table fits 100 characters."""
import gzip
import json
import os
import shutil
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("describe_flags")
work = hftest.tempdir("describe-flags-")
rng = np.random.default_rng(3)
n = 1200
y = rng.choice(["no", "yes"], n)
df = pd.DataFrame({
    "id": np.arange(n) + 10000,
    "const": 7,
    "code": rng.integers(1, 6, n),
    "x": rng.normal(0, 1, n),
    "leaky": np.where(y == "yes", 3, 8),
    "sparse": np.where(rng.random(n) < 0.8, np.nan, rng.normal(0, 1, n)),
    "name": ["user%d" % i for i in range(n)],
    "noise": ["n%d" % v for v in rng.integers(0, 300, n)],  # 300 levels, 4 rows a level, no signal
    "y": y,
})
df["reg"] = 3 * df["x"] + rng.normal(0, 1, n)
df["reg_copy"] = df["reg"] * 2 + 1  # a leak of a regression target
df.to_csv(os.path.join(work, "t.csv"), index=False)


def describe(args, np_=2, check=True):
    return hftest.hyperfold(["describe"] + args, np=np_, cwd=work, check=check)


def flags(out):
    return {c["name"]: sorted(f["flag"] for f in c["flags"]) for c in out["columns"]}


out = json.loads(describe(["t.csv", "--target", "y", "--json"]).stdout)
f = flags(out)
ck.check(f["id"] == ["identifier"], "id: identifier (%r)" % f["id"])
ck.check(f["name"] == ["identifier"], "text id: identifier (%r)" % f["name"])
ck.check(f["const"] == ["constant"], "const: constant (%r)" % f["const"])
ck.check(f["code"] == ["looks_categorical"], "code: looks_categorical (%r)" % f["code"])
ck.check(f["leaky"] == ["leak", "looks_categorical"], "leaky: leak (%r)" % f["leaky"])
ck.check(f["sparse"] == ["mostly_missing"], "sparse: mostly_missing (%r)" % f["sparse"])
ck.check(f["noise"] == ["high_cardinality"], "noise (300 levels): high_cardinality (%r)" % f["noise"])
ck.check(f["x"] == [] and f["reg"] == [] and f["reg_copy"] == [], "no flags on x, reg (%r %r)" % (f["x"], f["reg"]))
cols = {c["name"]: c for c in out["columns"]}
hint = [g["reason"] for g in cols["code"]["flags"]][0]
ck.check("data.columns: {code: categorical}" in hint, "the hint names data.columns: %r" % hint)
ck.check(out["association"][0]["column"] == "leaky", "the leak ranks first: %r" % out["association"][:2])

out = json.loads(describe(["t.csv", "--target", "reg", "--json", "--columns", "code=categorical"]).stdout)
f = flags(out)
ck.check("leak" in f["reg_copy"], "reg_copy: leak of a regression target (%r)" % f["reg_copy"])
ck.check(f["code"] == [] and {c["name"]: c for c in out["columns"]}["code"]["type"] == "categorical",
         "code=categorical: a categorical column, no hint (%r)" % f["code"])

# No target: a .gz file; every column (the last too) is a feature, no association section.
with open(os.path.join(work, "t.csv"), "rb") as src, gzip.open(os.path.join(work, "t.csv.gz"), "wb") as dst:
    shutil.copyfileobj(src, dst)
p = describe(["t.csv.gz"], np_=3)
head = [line for line in p.stdout.splitlines() if line.startswith("column ")]
ck.check("no target" in p.stdout and head and "association" not in head[0],
         "no target: the table says so, no association column")
ck.check(max(len(line) for line in p.stdout.splitlines()) <= 100,
         "the table fits 100 characters: %d" % max(len(line) for line in p.stdout.splitlines()))
out = json.loads(describe(["t.csv.gz", "--json"], np_=3).stdout)
ck.check(out["target"] is None and "association" not in out, "no target: no association")
ck.check(all(c["role"] == "feature" and "association" not in c for c in out["columns"]),
         "no target: every column a feature")
ck.check(len(out["columns"]) == df.shape[1], "every column described")

# Bad input: one line naming what is wrong, exit 2.
for args, want in ((["t.csv", "--target", "nope"], ['"nope"', "id, const, code"]),
                   (["t.csv", "--target", "y", "--task", "cluster"], ["--task", "cluster"]),
                   (["t.csv", "--target", "y", "--columns", "code=text"], ["--columns", "code=text"]),
                   (["t.csv", "--target", "y", "--max-distinct", "0"], ["--max-distinct", '"0"']),
                   (["t.csv", "--task", "regression"], ["--task regression", "--target COL"])):
    p = describe(args, np_=None, check=False)
    err = p.stderr.strip().splitlines()
    ck.check(p.returncode == 2 and len(err) == 1 and all(w in err[0] for w in want),
             "%s: exit %d, %r" % (" ".join(args), p.returncode, err))
ck.done()
