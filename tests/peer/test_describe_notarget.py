#!/usr/bin/python3
"""hyperfold describe DATA without a target: every column is a feature, the last one too, and a
missing value anywhere (the last column included) is fine. A CSV whose last column has missing
values, described without --target (and with --no-target) at 1, 2 and 3 ranks, gives the same JSON
at each and equals pandas' describe() and nunique() for every column; there is no association
section and no target."""
import json
import math
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("describe_notarget")
work = hftest.tempdir("describe-notarget-")
rng = np.random.default_rng(5)
n = 1500
df = pd.DataFrame({
    "a": rng.normal(10, 3, n),
    "city": rng.choice(["Paris", "Lyon", "Nice"], n, p=[0.5, 0.3, 0.2]),
    "code": rng.integers(1, 6, n).astype(float),
    "last": rng.exponential(2.0, n),
})
df.loc[rng.choice(n, 100, replace=False), "a"] = np.nan
df.loc[rng.choice(n, 40, replace=False), "city"] = np.nan
df.loc[rng.choice(n, 250, replace=False), "last"] = np.nan  # the last column: missing values
df.loc[0, "last"] = np.nan  # in the first row too
path = os.path.join(work, "d.csv")
df.to_csv(path, index=False, float_format="%.17g")
df = pd.read_csv(path, float_precision="round_trip")


def close(a, b, rtol=1e-10, atol=1e-12):
    return a is not None and abs(a - b) <= atol + rtol * abs(b)


def run(args, np_):
    p = hftest.hyperfold(["describe", "d.csv", "--json"] + args, np=np_, cwd=work, check=False)
    ck.check(p.returncode == 0, "describe %s, np=%d: exit %d (%s)" % (args, np_, p.returncode, p.stderr.strip()))
    return json.loads(p.stdout) if p.returncode == 0 else None


outs = {(np_, flag): run(list(flag), np_) for np_ in (1, 2, 3) for flag in ((), ("--no-target",))}
for (np_, flag), out in outs.items():
    if out is None:
        continue
    what = "np=%d %s" % (np_, " ".join(flag) or "(no flag)")
    ck.check(out["target"] is None and "association" not in out, "%s: no target, no association" % what)
    ck.check(out["rows"] == n and [c["name"] for c in out["columns"]] == list(df.columns),
             "%s: every column, in order: %r" % (what, [c["name"] for c in out["columns"]]))
    cols = {c["name"]: c for c in out["columns"]}
    for name in ("a", "code", "last"):
        c, s = cols[name], df[name]
        d = s.describe()
        ck.check(c["role"] == "feature" and c["type"] == "numeric" and "association" not in c,
                 "%s %s: a numeric feature, nothing associated" % (what, name))
        ck.check(c["count"] == d["count"] and c["missing"] == s.isna().sum(),
                 "%s %s count/missing %r/%r vs pandas %r/%r" % (what, name, c["count"], c["missing"], d["count"], s.isna().sum()))
        for key, pk in (("mean", "mean"), ("std", "std"), ("min", "min"), ("q25", "25%"), ("median", "50%"),
                        ("q75", "75%"), ("max", "max")):
            ck.check(close(c[key], d[pk]), "%s %s %s %r vs pandas %r" % (what, name, key, c[key], d[pk]))
        ck.check(c["distinct"] == s.nunique(), "%s %s distinct %r vs nunique %r" % (what, name, c["distinct"], s.nunique()))
    c, s = cols["city"], df["city"]
    vc = s.value_counts()
    ck.check(c["role"] == "feature" and c["type"] == "categorical" and c["distinct"] == s.nunique() and
             c["count"] == s.count() and c["missing"] == s.isna().sum(),
             "%s city: categorical, distinct %r vs %r, missing %r" % (what, c["distinct"], s.nunique(), c["missing"]))
    ck.check(c["top"][0]["value"] == vc.index[0] and c["top"][0]["count"] == vc.iloc[0],
             "%s city: top %r vs value_counts %r" % (what, c["top"][0], (vc.index[0], vc.iloc[0])))


def same(x, y):
    """Equal JSON, floats up to 1e-11 relative (sums in another order)."""
    if isinstance(y, float) and isinstance(x, (int, float)):
        return close(x, y, 1e-11)
    if isinstance(y, dict):
        return isinstance(x, dict) and list(x) == list(y) and all(same(x[k], y[k]) for k in y)
    if isinstance(y, list):
        return isinstance(x, list) and len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
    return x == y


base = outs[(1, ())]
ck.check(base is not None and all(o is not None and same(o["columns"], base["columns"]) for o in outs.values()),
         "the same columns at 1, 2 and 3 ranks, with and without --no-target")

# The table: no target, no association column.
p = hftest.hyperfold(["describe", "d.csv"], np=2, cwd=work)
head = [line for line in p.stdout.splitlines() if line.startswith("column ")]
ck.check("no target" in p.stdout and head and "association" not in head[0], "the table: no target\n%s" % p.stdout)
ck.done()
