#!/usr/bin/python3
"""A header of 100,000 columns (issue 18, item 12): validate and describe ingest it and reuse it
(the header's duplicate check, column lookups by name and describe's per-column work were
quadratic: 90 s for describe), every column is in the schema and in describe.json with the
values of the rows, and a duplicate name far into the header is reported at its own column. A
correctness test: each command gets a generous 120 s (it takes a few seconds)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("wide_header")
work = hftest.tempdir("wide-header-")
P = 100000  # columns, the target included
ROWS = 3
names = ["c%d" % i for i in range(P - 1)] + ["y"]


def value(r, i):
    return (i * 7 + r) % 13


def write(path, header):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in range(ROWS):
            f.write(",".join(str(value(r, i)) for i in range(P - 1)) + ",%d\n" % r)


write(os.path.join(work, "wide.csv"), names)
hftest.write(os.path.join(work, "job.yaml"), """name: w
data: {source: wide.csv, target: y}
cv: {folds: 2}
model: {type: ridge, params: {alpha: [1.0]}}
output: {dir: out}
""")
p = hftest.hyperfold(["validate", "job.yaml"], cwd=work, check=False, timeout=120)
ck.check(p.returncode == 0, "validate: exit %d (%s)" % (p.returncode, p.stderr.strip()[-300:]))
ck.check("%d rows, %d features" % (ROWS, P - 1) in p.stdout, "validate: %d features" % (P - 1))
for np_ in (1, 2):
    p = hftest.hyperfold(["describe", "job.yaml"], np=np_, cwd=work, check=False, timeout=120)
    ck.check(p.returncode == 0, "describe np=%d: exit %d (%s)" % (np_, p.returncode, p.stderr.strip()[-300:]))
    if np_ == 2:
        ck.check("reusing the ingest" in p.stderr, "describe np=2 reuses the shards: %r" % p.stderr[-300:])
    with open(os.path.join(work, "out", "w", "describe.json")) as f:
        d = json.load(f)
    cols = d["columns"]
    ck.check(len(cols) == P and [c["name"] for c in cols] == names,
             "describe np=%d: %d columns in header order" % (np_, len(cols)))
    bad = [c["name"] for i, c in enumerate(cols[:-1])
           if c["min"] != min(value(r, i) for r in range(ROWS))
           or c["max"] != max(value(r, i) for r in range(ROWS))
           or c["median"] != sorted(value(r, i) for r in range(ROWS))[ROWS // 2]]
    ck.check(not bad, "describe np=%d: min/median/max of every column (%d wrong: %r)" % (np_, len(bad), bad[:5]))

# A duplicate name at column 99,990 (of the name of column 5): reported at its own column.
dup = list(names)
dup[99989] = "c5"
write(os.path.join(work, "dup.csv"), dup)
hftest.write(os.path.join(work, "dup.yaml"), open(os.path.join(work, "job.yaml")).read()
             .replace("wide.csv", "dup.csv").replace("dir: out", "dir: out_dup"))
col = 1 + sum(len(x) + 1 for x in dup[:99989])
p = hftest.hyperfold(["validate", "dup.yaml"], cwd=work, check=False, timeout=120)
ck.check(p.returncode == 2, "duplicate: exit %d" % p.returncode)
ck.check(p.stderr.strip() == 'hyperfold: error: dup.csv:1:%d: header: got the column name "c5" twice, '
         "expected unique names" % col, "duplicate: one line at its column: %r" % p.stderr)
ck.done()
