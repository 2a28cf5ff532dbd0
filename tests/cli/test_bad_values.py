#!/usr/bin/python3
"""Hostile data values (issue 18, items 7, 17 and 18). A number that is not finite (inf,
-Infinity, 1e400, a 400-digit integer) in a feature or in the target is refused by validate, run
and predict with exit 2 and one line FILE:LINE:COL: column "NAME": got "VALUE", expected a finite
number, instead of every trial failing after the sweep (or predict writing NaN probabilities);
nan stays a missing value and 1e-400 a finite 0; inf listed in data.na_values is missing; a column
forced categorical keeps "inf" as text;
with data.on_bad_rows: skip the row goes to rejects.csv. A delimiter that cannot delimit fields
(CR, LF, the quote, a character of numbers) is refused naming data.delimiter and the value. An
ID-like categorical column gets one warning line naming it and its number of values."""
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("bad_values")
work = hftest.tempdir("bad-values-")
rng = np.random.default_rng(18)
n = 60
HEADER = ["a", "b", "c", "y"]
rows = [["%.4f" % rng.normal(), "%.4f" % rng.normal(), ["red", "green", "blue"][i % 3],
         "%.4f" % rng.normal()] for i in range(n)]


def write_csv(path, rows_, header=HEADER):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows_:
            f.write(",".join(r) + "\n")


def with_value(col, row, value):
    """The rows with `value` in column `col` of data row `row` (0-based), and its line:col."""
    rr = [list(r) for r in rows]
    rr[row][HEADER.index(col)] = value
    line = row + 2  # the header is line 1
    column = 1 + sum(len(v) + 1 for v in rr[row][:HEADER.index(col)])
    return rr, "%d:%d" % (line, column)


def spec(source, extra=""):
    return """name: t
data: {source: %s, target: y%s}
cv: {folds: 3}
model: {type: ridge, params: {alpha: [1.0]}}
output: {dir: out}
""" % (source, extra)


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("hyperfold:")]


def check_refused(name, cmd, np_, cwd, needles, single_line=True):
    p = hftest.hyperfold(cmd, np=np_, cwd=cwd, check=False)
    lines = error_lines(p.stderr)
    ck.check(p.returncode == 2, "%s %s: exit %d, expected 2 (%s)" % (name, cmd[0], p.returncode,
                                                                   p.stderr.strip()[-400:]))
    ck.check(len(lines) == 1 and lines[0].startswith("hyperfold: error: "),
             "%s %s: one error line, got %r" % (name, cmd[0], lines))
    if single_line:  # without mpirun, nothing else is on stderr
        ck.check(len(p.stderr.splitlines()) == 1, "%s %s: stderr is one line: %r" % (name, cmd[0], p.stderr))
    for s in needles:
        ck.check(any(s in l for l in lines), "%s %s: error mentions %r: %r" % (name, cmd[0], s, lines))
    return p


# A clean model for predict.
clean = os.path.join(work, "clean")
os.makedirs(clean)
write_csv(os.path.join(clean, "d.csv"), rows)
hftest.write(os.path.join(clean, "job.yaml"), spec("d.csv"))
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=clean)
model = os.path.join(clean, "out", "t", "model.h5")
ck.check(os.path.exists(model), "the clean run wrote its model")

DIGITS = "9" * 400
BAD = [("inf", "inf"), ("ninf", "-inf"), ("infinity", "-Infinity"), ("big", "1e400"),
       ("digits", DIGITS)]
for tag, value in BAD:
    for col, row in (("b", 7), ("y", 41)):
        name = "%s_%s" % (tag, col)
        d = os.path.join(work, name)
        os.makedirs(d)
        rr, where = with_value(col, row, value)
        write_csv(os.path.join(d, "d.csv"), rr)
        hftest.write(os.path.join(d, "job.yaml"), spec("d.csv"))
        shown = value if len(value) <= 60 else value[:60] + "..."
        needles = ["d.csv:%s: " % where, 'column "%s"' % col, '"%s"' % shown,
                   "expected a finite number"]
        check_refused(name, ["validate", "job.yaml"], None, d, needles)
        check_refused(name, ["run", "job.yaml", "--quiet"], 2, d, needles, single_line=False)
        ck.check(not os.path.exists(os.path.join(d, "out", "t", "model.h5")), "%s: no model" % name)
        ck.check(not os.path.exists(os.path.join(d, "out", "t", "trials.csv")),
                 "%s: no trial ran" % name)
        if col == "b":
            p = check_refused(name, ["predict", "--model", model, "--input", "d.csv", "--output",
                                     "p.csv"], None, d, needles)
            ck.check(not os.path.exists(os.path.join(d, "p.csv")), "%s predict: no output" % name)

# Still accepted: nan is a missing value (imputed), 1e-400 is 0, 1e308 and 308 digits are finite.
for tag, value in (("nan", "nan"), ("NaN", "NaN"), ("tiny", "1e-400"), ("max", "1.7976931348623157e308"),
                   ("digits308", "9" * 308)):
    d = os.path.join(work, "ok_" + tag)
    os.makedirs(d)
    rr, _ = with_value("b", 7, value)
    write_csv(os.path.join(d, "d.csv"), rr)
    hftest.write(os.path.join(d, "job.yaml"), spec("d.csv"))
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 0, "%s: validate exit %d (%s)" % (tag, p.returncode, p.stderr.strip()))
    p = hftest.hyperfold(["predict", "--model", model, "--input", "d.csv", "--output", "p.csv"],
                         cwd=d, check=False)
    ck.check(p.returncode == 0, "%s: predict exit %d (%s)" % (tag, p.returncode, p.stderr.strip()))
    if p.returncode == 0:
        with open(os.path.join(d, "p.csv")) as f:
            out = list(csv.reader(f))
        vals = [float(v) for r in out[1:] for v in r[1:]]
        ck.check(len(out) == n + 1 and all(np.isfinite(vals)), "%s: %d finite predictions" % (tag, len(out) - 1))

# Where the spec says so (data.na_values), inf is a missing value instead.
d = os.path.join(work, "na_inf")
os.makedirs(d)
rr, _ = with_value("b", 7, "inf")
write_csv(os.path.join(d, "d.csv"), rr)
hftest.write(os.path.join(d, "job.yaml"), spec("d.csv", ', na_values: ["", NA, inf]'))
p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
ck.check(p.returncode == 0 and "60 rows" in p.stdout, "na_values [inf]: accepted as missing (%d, %s)"
         % (p.returncode, p.stderr.strip()))

# A column forced categorical keeps "inf" as a category; a numeric one skips the row with
# data.on_bad_rows: skip and says why in rejects.csv.
d = os.path.join(work, "forced")
os.makedirs(d)
rr, _ = with_value("c", 3, "inf")
write_csv(os.path.join(d, "d.csv"), rr)
hftest.write(os.path.join(d, "job.yaml"), spec("d.csv", ", columns: {c: categorical}"))
p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
ck.check(p.returncode == 0 and "inf" in p.stdout, "forced categorical: inf is a category (%d, %s)"
         % (p.returncode, p.stderr.strip()))
d = os.path.join(work, "skip")
os.makedirs(d)
rr, where = with_value("b", 9, "1e400")
write_csv(os.path.join(d, "d.csv"), rr)
hftest.write(os.path.join(d, "job.yaml"), spec("d.csv", ", on_bad_rows: skip"))
hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
rej = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(d, "out")) for f in fs if f == "rejects.csv"]
ck.check(len(rej) == 1, "skip: one rejects.csv, got %r" % rej)
if rej:
    with open(rej[0]) as f:
        rj = list(csv.reader(f))
    ck.check(len(rj) == 2 and where in rj[1][2] and "expected a finite number" in rj[1][2],
             "skip: the row rejected with its reason: %r" % rj)
with open(os.path.join(d, "out", "t", "results.json")) as f:
    ck.check('"status"' in f.read(), "skip: the run finished")

# Delimiters that cannot delimit fields.
for tag, yaml_value, shown in (("cr", '"\\r"', '"\\r"'), ("lf", '"\\n"', '"\\n"'), ("quote", "'\"'", '"""'),
                                ("dot", '"."', '"."'), ("minus", '"-"', '"-"')):
    d = os.path.join(work, "delim_" + tag)
    os.makedirs(d)
    write_csv(os.path.join(d, "d.csv"), rows)
    hftest.write(os.path.join(d, "job.yaml"), spec("d.csv", ", delimiter: " + yaml_value))
    check_refused("delimiter " + tag, ["validate", "--no-data", "job.yaml"], None, d,
                  ["job.yaml:2:", "data.delimiter", "got %s" % shown, "expected one character"])
for tag, yaml_value in (("semicolon", '";"'), ("tab", '"\\t"')):
    d = os.path.join(work, "delim_" + tag)
    os.makedirs(d)
    sep = ";" if tag == "semicolon" else "\t"
    with open(os.path.join(d, "d.csv"), "w") as f:
        f.write(sep.join(HEADER) + "\n" + "".join(sep.join(r) + "\n" for r in rows))
    hftest.write(os.path.join(d, "job.yaml"), spec("d.csv", ", delimiter: " + yaml_value))
    p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
    ck.check(p.returncode == 0 and "60 rows, 3 features" in p.stdout,
             "delimiter %s accepted (%d, %s)" % (tag, p.returncode, p.stderr.strip()))

# An ID-like categorical column: one warning line naming it and its number of values; the
# 3-value column gets none.
d = os.path.join(work, "idlike")
os.makedirs(d)
m = 400
with open(os.path.join(d, "d.csv"), "w") as f:
    f.write("user,c,x,y\n")
    for i in range(m):
        f.write("u%04d,%s,%.4f,%.4f\n" % (i, ["red", "green", "blue"][i % 3], rng.normal(), rng.normal()))
hftest.write(os.path.join(d, "job.yaml"), spec("d.csv"))
for cmd, np_ in ((["validate", "job.yaml"], None), (["describe", "job.yaml"], 2)):
    p = hftest.hyperfold(cmd, np=np_, cwd=d, check=False)
    warns = [l for l in p.stderr.splitlines() if l.startswith("hyperfold: warning:")]
    ck.check(p.returncode == 0, "idlike %s: exit %d" % (cmd[0], p.returncode))
    ck.check(len(warns) == 1 and 'column "user"' in warns[0] and "%d distinct values" % m in warns[0]
             and "data.drop" in warns[0], "idlike %s: one warning naming user: %r" % (cmd[0], warns))
# The same column dropped: no warning.
hftest.write(os.path.join(d, "job.yaml"), spec("d.csv", ", drop: [user]"))
p = hftest.hyperfold(["validate", "job.yaml"], cwd=d, check=False)
ck.check(p.returncode == 0 and "warning" not in p.stderr, "idlike dropped: no warning: %r" % p.stderr)

ck.done()
