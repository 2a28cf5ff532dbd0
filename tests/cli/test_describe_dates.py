#!/usr/bin/python3
"""describe on a table with a date column: --columns takes every type data.columns takes (datetime
too) and a bad one is one line listing them; --datetime-format COL=FMT reads a stated format; the
features derived from the date (when.month, when.elapsed_days, ...) get neither looks_categorical
(data.columns cannot name them) nor identifier (a daily series has distinct elapsed days); their
values are checked against pandas' dt accessors. Drift against a run trained on earlier dates:
when.year and when.elapsed_days are marked "trend": true and listed apart in "trend", not among the
ranked "columns", while the cyclic parts (month, dayofweek) stay there with PSI near 0. The scratch
directory (--scratch) is removed afterwards; a missing one is one line, exit 2."""
import json
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("describe_dates")
work = hftest.tempdir("describe-dates-")
rng = np.random.default_rng(5)
n = 730


def table(start, seed):
    r = np.random.default_rng(seed)
    when = pd.date_range(start, periods=n, freq="D")
    return when, pd.DataFrame({"when": when.strftime("%d/%m/%Y"), "x": r.normal(0, 1, n),
                               "y": r.choice(["a", "b"], n)})


when, df = table("2020-01-01", 1)
df.to_csv(os.path.join(work, "old.csv"), index=False, float_format="%.17g")
p = hftest.hyperfold(["describe", "old.csv", "--target", "y", "--datetime-format", "when=%d/%m/%Y",
                      "--json"], np=2, cwd=work)
out = json.loads(p.stdout)
cols = {c["name"]: c for c in out["columns"]}
want = {"when.year": when.year, "when.month": when.month, "when.day": when.day,
        "when.dayofweek": when.dayofweek}
for name, v in want.items():
    c = cols.get(name)
    ck.check(c is not None and c["distinct"] == pd.Series(v).nunique() and
             abs(c["mean"] - float(np.mean(v))) <= 1e-9 * abs(float(np.mean(v))),
             "%s: distinct and mean as pandas' dt (%r)" % (name, c and (c["distinct"], c["mean"])))
flagged = {name: [f["flag"] for f in c["flags"]] for name, c in cols.items() if name.startswith("when.")}
ck.check(all("looks_categorical" not in f and "identifier" not in f for f in flagged.values()),
         "derived date features: no looks_categorical, no identifier: %r" % flagged)
ck.check(cols["when.elapsed_days"]["distinct"] == n, "when.elapsed_days: one value a day")

# --columns when=datetime: the same features as --datetime-format's ISO reading of an ISO copy.
iso = df.copy()
iso["when"] = when.strftime("%Y-%m-%d")
iso.to_csv(os.path.join(work, "iso.csv"), index=False, float_format="%.17g")
p = hftest.hyperfold(["describe", "iso.csv", "--target", "y", "--columns", "when=datetime", "--json"],
                     np=1, cwd=work)
ic = {c["name"]: c for c in json.loads(p.stdout)["columns"]}
ck.check(all(ic[k]["mean"] == cols[k]["mean"] for k in want), "--columns when=datetime: the same features")
p = hftest.hyperfold(["describe", "iso.csv", "--columns", "when=date"], cwd=work, check=False)
err = p.stderr.strip().splitlines()
ck.check(p.returncode == 2 and len(err) == 1 and "when=date" in err[0] and "datetime" in err[0],
         "--columns with a bad type: one line listing the types: %r" % err)
p = hftest.hyperfold(["describe", "old.csv", "--datetime-format", "when"], cwd=work, check=False)
err = p.stderr.strip().splitlines()
ck.check(p.returncode == 2 and len(err) == 1 and "--datetime-format" in err[0], "bad --datetime-format: %r" % err)

# The scratch directory: --scratch DIR, removed afterwards at 3 ranks; a missing one is one line.
os.makedirs(os.path.join(work, "sc"))
hftest.hyperfold(["describe", "old.csv", "--scratch", "sc", "--json"], np=3, cwd=work)
ck.check(os.listdir(os.path.join(work, "sc")) == [], "--scratch: removed afterwards")
ck.check(not [f for f in os.listdir(work) if f.startswith("hyperfold-")], "nothing left in the current directory")
p = hftest.hyperfold(["describe", "old.csv", "--scratch", "nowhere/x"], np=2, cwd=work, check=False)
err = [l for l in p.stderr.strip().splitlines() if l.startswith("hyperfold")]
ck.check(p.returncode == 2 and len(err) == 1 and "nowhere/x" in err[0] and "--scratch" in err[0],
         "a missing --scratch: exit %d %r" % (p.returncode, err))

# Drift: a run on 2020-2021, new data of 2023-2024.
hftest.write(os.path.join(work, "job.yaml"), """name: dt
data: {source: old.csv, target: y, datetime_formats: {when: "%d/%m/%Y"}}
cv: {folds: 3}
model: {type: logistic_regression, params: {C: [1.0]}}
output: {dir: out}
""")
hftest.hyperfold(["run", "job.yaml", "-q"], np=2, cwd=work)
_, new = table("2023-01-01", 2)
new.to_csv(os.path.join(work, "new.csv"), index=False, float_format="%.17g")
run_dir = os.path.join(work, "out", "dt")
p = hftest.hyperfold(["describe", "new.csv", "--against", run_dir, "--datetime-format", "when=%d/%m/%Y",
                      "--json"], np=2, cwd=work)
d = json.loads(p.stdout)["drift"]
trend = {c["name"]: c for c in d["trend"]}
ranked = [c["name"] for c in d["columns"]]
ck.check(sorted(trend) == ["when.elapsed_days", "when.year"] and
         all(c["trend"] is True and c["drift"] == "major" for c in trend.values()),
         "year and elapsed_days: trend, major: %r" % {k: c["drift"] for k, c in trend.items()})
ck.check("when.year" not in ranked and "when.month" in ranked and "x" in ranked,
         "trend parts not ranked among the columns: %r" % ranked)
dm = {c["name"]: c for c in d["columns"]}
ck.check(dm["when.month"]["psi"] < 0.1 and dm["when.dayofweek"]["psi"] < 0.1,
         "cyclic parts do not move: %r" % [(k, dm[k]["psi"]) for k in ("when.month", "when.dayofweek")])
p = hftest.hyperfold(["describe", "new.csv", "--against", run_dir, "--datetime-format", "when=%d/%m/%Y"],
                     np=2, cwd=work)
tail = p.stdout[p.stdout.find("expected to move with time"):]
ck.check("when.year" in tail and "when.elapsed_days" in tail, "the table lists the trend parts apart")
ck.done()
