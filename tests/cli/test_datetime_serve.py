#!/usr/bin/python3
"""A model trained with a datetime column (docs/shards.md) is served on raw rows: `hyperfold serve`
takes the raw "when" field (CSV with and without a header, JSON records, arrays and columns) and
answers exactly predict's predictions (the CSV answer byte for byte), which equal the in-run
refit's (scikit-learn's ridge on pandas' derived values); a request lacking the raw column or with
a date that does not parse is a 400 with one line naming it; with a stated format %Y%m%d a JSON
number is read as that text."""
import csv
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
import servelib  # noqa: E402
from servelib import hftest  # noqa: E402

ck = hftest.Checker("datetime.serve")
work = hftest.tempdir("datetime-serve-")
rng = np.random.default_rng(3)
n = 240
secs = rng.integers(pd.Timestamp("1950-01-01").value // 10**9,
                    pd.Timestamp("2060-01-01").value // 10**9, n)
forms = ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
when = [pd.Timestamp(int(s), unit="s").strftime(forms[i % 3]) for i, s in enumerate(secs)]
when[5] = "2024-02-29T10:00:00+05:30"
when[9] = ""
df = pd.DataFrame({"x": rng.normal(size=n), "when": when})
parsed = pd.Series([pd.to_datetime(t, utc=True) if t else pd.NaT for t in when],
                   dtype="datetime64[ns, UTC]")
parts = np.column_stack([parsed.dt.year, parsed.dt.month, parsed.dt.day, parsed.dt.dayofweek,
                         parsed.dt.hour,
                         (parsed - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(days=1)])
df["y"] = df["x"] + 0.2 * np.nan_to_num(parts[:, 4]) + rng.normal(0, 0.1, n)
src = os.path.join(work, "d.csv")
df.to_csv(src, index=False)
model = servelib.train(work, "m", src, "y", "ridge", "{alpha: [1.0]}")

# predict on the raw rows: the refit's predictions (scikit-learn on pandas' parts)
raw = os.path.join(work, "raw.csv")
df[["x", "when"]].to_csv(raw, index=False)
expected = servelib.predict(model, raw, os.path.join(work, "p.csv"))
Xsk = SimpleImputer(strategy="mean").fit_transform(np.column_stack([df["x"], parts]))
want = Ridge(alpha=1.0).fit(Xsk, df["y"]).predict(Xsk)
got = np.array([float(line) for line in expected.splitlines()[1:]])  # exact, unlike read_csv
ck.check(np.allclose(got, want, rtol=1e-7, atol=1e-7),
         "predict on raw rows equals scikit-learn's ridge on pandas' parts (max diff %g)"
         % np.max(np.abs(got - want)))
want_preds = [float(v) for v in got]

with open(raw) as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
srv = servelib.Server(model)
try:
    st, _, b = srv.invoke(open(raw).read(), "text/csv; header=present")
    ck.check(st == 200 and b.decode() == expected,
             "CSV with a header: predict's output, byte for byte (%d)" % st)
    noh = "".join(",".join(r) + "\n" for r in body)
    st, _, b = srv.invoke(noh)
    ck.check(st == 200 and b.decode() == expected,
             "CSV without a header (x, when in order): predict's output, byte for byte (%d %r)"
             % (st, b[:200]))
    recs = [{"x": float(r[0]), "when": r[1] if r[1] else None} for r in body]
    for name, payload in (
            ("records", recs),
            ("arrays", [[r["x"], r["when"]] for r in recs]),
            ("columns", {"x": [r["x"] for r in recs], "when": [r["when"] for r in recs]})):
        st, _, b = srv.invoke(json.dumps(payload), "application/json", accept="application/json")
        ans = json.loads(b) if st == 200 else None
        preds = [p["prediction"] if isinstance(p, dict) else p for p in
                 (ans["predictions"] if isinstance(ans, dict) else ans or [])]
        bad = [i for i, (g, w) in enumerate(zip(preds, want_preds)) if g != w]
        ck.check(st == 200 and len(preds) == n and not bad,
                 "JSON %s: predict's predictions (%d, rows %s differ: %r)"
                 % (name, st, bad[:3], [(preds[i], want_preds[i]) for i in bad[:3]]))
    st, _, b = srv.invoke("x\n1.0\n", "text/csv; header=present")
    msg = json.loads(b)["error"]
    ck.check(st == 400 and 'missing feature column "when"' in msg and msg.strip().count("\n") == 0,
             "a request without the raw column: 400, one line naming it: %r" % msg)
    st, _, b = srv.invoke(json.dumps([{"x": 1.0, "when.year": 2020}]), "application/json")
    ck.check(st == 400 and 'unknown column "when.year"' in json.loads(b)["error"],
             "a derived feature's name is not an input column: %r" % b)
    st, _, b = srv.invoke("x,when\n1.0,2023-02-29\n", "text/csv; header=present")
    msg = json.loads(b)["error"]
    ck.check(st == 400 and 'row 1: column "when": got "2023-02-29", expected an ISO 8601' in msg,
             "a date that does not exist: 400 naming row, column, value, format: %r" % msg)
finally:
    rc = srv.stop()
ck.check(rc == 0, "serve stopped cleanly (%d)" % rc)

# a stated format: a JSON number is read as its text
fdf = pd.DataFrame({"x": rng.normal(size=60),
                    "when": [pd.Timestamp(int(s), unit="s").strftime("%Y%m%d") for s in secs[:60]]})
fdf["y"] = fdf["x"] + rng.normal(0, 0.1, 60)
fsrc = os.path.join(work, "f.csv")
fdf.to_csv(fsrc, index=False)
fmodel = servelib.train(work, "fm", fsrc, "y", "ridge", "{alpha: [1.0]}",
                        extra=', datetime_formats: {when: "%Y%m%d"}')
fraw = os.path.join(work, "fraw.csv")
fdf[["x", "when"]].to_csv(fraw, index=False)
fexp = servelib.predict(fmodel, fraw, os.path.join(work, "fp.csv"))
fwant = [float(line) for line in fexp.splitlines()[1:]]
srv = servelib.Server(fmodel)
try:
    st, _, b = srv.invoke(json.dumps([{"x": x, "when": int(w)} for x, w in
                                      zip(fdf["x"], fdf["when"])]),
                          "application/json", accept="application/json")
    ans = json.loads(b) if st == 200 else {}
    preds = [p["prediction"] if isinstance(p, dict) else p for p in
             (ans["predictions"] if isinstance(ans, dict) else ans)]
    ck.check(st == 200 and np.array_equal(preds, fwant),
             "stated format %%Y%%m%%d: JSON numbers give predict's predictions (%d %r)"
             % (st, b[:200]))
finally:
    srv.stop()
ck.done()
