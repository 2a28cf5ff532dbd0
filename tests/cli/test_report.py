#!/usr/bin/python3
"""hyperfold report: `hyperfold run` writes RUN/report.html at the end of every sweep (a
classification grid, a ridge random search, a pruned TPE study with failing trials, a 3-class
problem with a holdout and a loss to minimize, and a table with hostile names, at 2 ranks);
`hyperfold report RUN` writes the same bytes again; every inline SVG parses as XML; the page
references nothing outside itself and has no script; headless chromium renders it with every
section's id and no console message (a page with a deliberate script error IS detected, so the
check can fail), and a screenshot is kept; hostile class labels and column names come out escaped;
numbers in the page agree with pandas, numpy and scikit-learn (the data profile's means, class
counts and target histogram; the evaluation plots' counts, AUC and AP from a results.json whose
"evaluation" object this test builds with scikit-learn from real out-of-fold predictions); the
importance is recomputed from its definition; pruned and failed trials are marked; the page is
the same at 1 and 2 ranks but for the timeline; the journal's task lines carry a start, the
timeline shows the utilisation, and a journal without starts still resumes and gives a page that
says the timeline is not available; bad invocations fail with one line."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (average_precision_score, confusion_matrix, precision_recall_curve,
                             precision_recall_fscore_support, roc_auc_score, roc_curve)
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("report")
work = hftest.tempdir("report-")
src = os.path.join(hftest.SOURCE_DIR, "examples", "data")
art_dir = os.path.join(os.path.abspath(os.environ.get("HF_BUILD_DIR", "build")), "Testing",
                       "report")
os.makedirs(art_dir, exist_ok=True)
SECTIONS = ("problem", "data", "search", "folds", "timeline", "evaluation", "provenance")
HOSTILE_CLASS = "<script>alert(1)</script>"
HOSTILE_COL = 'a&b"c'

# ---- the runs -------------------------------------------------------------------------------
shutil.copy(os.path.join(src, "sonar.csv"), work)
shutil.copy(os.path.join(src, "diabetes.csv"), work)
hftest.write(os.path.join(work, "sonar.yaml"), """name: sonar
data: {source: sonar.csv, target: Class}
cv: {folds: 5, strategy: stratified, seed: 7}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-3, 1.0e2], grid_points: 9}
    max_iter: 5000
search: {strategy: grid}
objective: {metric: roc_auc, report: [accuracy]}
output: {dir: out}
""")
hftest.write(os.path.join(work, "ridge.yaml"), """name: ridge
data: {source: diabetes.csv, target: target, task: regression}
cv: {folds: 5, strategy: kfold, seed: 42}
model:
  type: ridge
  params:
    alpha: {log_uniform: [1.0e-3, 1.0e3]}
    fit_intercept: [true, false]
search: {strategy: random, trials: 40, seed: 7}
objective: {metric: r2, report: [rmse]}
output: {dir: out}
""")
rng = np.random.default_rng(3)
n = 300
h = pd.DataFrame({HOSTILE_COL: rng.normal(0, 1, n), "z": rng.normal(0, 1, n),
                  "city": rng.choice(["P<aris", "Ly&on"], n)})
h["label"] = np.where(h[HOSTILE_COL] + 0.5 * rng.normal(0, 1, n) > 0, HOSTILE_CLASS, "x&y")
h.to_csv(os.path.join(work, "hostile.csv"), index=False)
hftest.write(os.path.join(work, "hostile.yaml"), """name: hostile
data: {source: hostile.csv, target: label}
cv: {folds: 4, seed: 1}
model:
  type: logistic_regression
  params:
    C: [0.01, 0.1, 1.0, 10.0]
search: {strategy: grid}
objective: {metric: accuracy}
output: {dir: out}
""")
# A TPE study with the Wilcoxon pruner, two of whose trials fail (the test hook): pruned and
# failed trials in the search plots.
hftest.write(os.path.join(work, "prune.yaml"), """name: prune
data: {source: sonar.csv, target: Class}
cv: {strategy: stratified, folds: 5, repeats: 3, seed: 4}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-4, 100]}
    fit_intercept: [true, false]
search: {strategy: tpe, trials: 24, seed: 3, batch: 4, pruner: wilcoxon}
objective: {metric: roc_auc}
output: {dir: out}
""")
# Three classes, a holdout and a metric to minimize.
shutil.copy(os.path.join(src, "penguins.csv"), work)
hftest.write(os.path.join(work, "penguins.yaml"), """name: penguins
data: {source: penguins.csv, target: species, columns: {year: categorical}}
cv: {folds: 5, strategy: stratified, seed: 3, holdout: 0.2}
preprocess: {impute: {numeric: mean, categorical: most_frequent}, scale: standard,
             categorical: onehot}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-2, 1.0e2], grid_points: 5}
    max_iter: 1000
search: {strategy: grid}
objective: {metric: log_loss, report: [accuracy]}
output: {dir: out}
""")
runs = {}
for name in ("sonar", "ridge", "hostile", "prune", "penguins"):
    if name == "prune":
        os.environ["HF_TEST_FAIL_TRIALS"] = "1,6"
    hftest.hyperfold(["run", name + ".yaml", "--quiet"], np=2, cwd=work)
    os.environ.pop("HF_TEST_FAIL_TRIALS", None)
    runs[name] = os.path.join(work, "out", name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def svgs(text):
    return re.findall(r"<svg\b.*?</svg>", text, re.S)


def chromium(path, screenshot=None):
    """Headless chromium on a file: (DOM text, the CONSOLE lines of its log)."""
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
           "--v=0", "--user-data-dir=" + os.path.join(work, "chromium-profile")]
    if screenshot:
        cmd += ["--screenshot=" + screenshot, "--window-size=1280,4000"]
    else:
        cmd += ["--dump-dom"]
    p = subprocess.run(cmd + ["file://" + os.path.abspath(path)], capture_output=True, text=True,
                       timeout=120)
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]
    return p.stdout, console


def check_page(name, path, sections=SECTIONS):
    text = read(path).decode("utf-8")
    pics = svgs(text)
    ck.check(len(pics) >= 4, "%s: %d inline SVG plots" % (name, len(pics)))
    bad = 0
    for s in pics:
        try:
            ET.fromstring(s)
        except ET.ParseError as e:
            bad += 1
            sys.stderr.write("%s: SVG does not parse: %s\n%s\n" % (name, e, s[:300]))
    ck.check(bad == 0, "%s: every SVG parses as XML (%d of %d failed)" % (name, bad, len(pics)))
    # Nothing outside the page: no script, no external reference of any kind.
    ck.check(not re.search(r"<\s*(script|link|img|iframe|object|embed)\b", text, re.I),
             "%s: no script, link, img, iframe, object or embed element" % name)
    ck.check(not re.search(r"\bsrc\s*=", text, re.I), "%s: no src attribute" % name)
    hrefs = re.findall(r"href\s*=\s*\"([^\"]*)\"", text, re.I)
    ck.check(all(h.startswith("#") for h in hrefs), "%s: every href is in-page: %r" % (name, hrefs))
    ck.check(not re.search(r"url\s*\(|@import", text, re.I), "%s: no CSS url() or @import" % name)
    ck.check(not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text, re.I),
             "%s: no network resource" % name)
    dom, console = chromium(path)
    for sid in sections:
        ck.check(('id="%s"' % sid) in dom, "%s: the rendered DOM has section #%s" % (name, sid))
    ck.check(console == [], "%s: no console message in chromium: %r" % (name, console))
    shot = os.path.join(art_dir, "report-%s.png" % name)
    chromium(path, screenshot=shot)
    ck.check(os.path.exists(shot) and os.path.getsize(shot) > 10000,
             "%s: screenshot written" % name)
    print("screenshot of %s: %s" % (name, shot))
    return text


# The console check can fail: a page with a script error is seen.
badpage = os.path.join(work, "bad.html")
hftest.write(badpage, "<!DOCTYPE html><html><body><section id='x'></section>"
             "<script>no_such_function();</script></body></html>")
_, console = chromium(badpage)
ck.check(any("no_such_function" in l for l in console),
         "a deliberate script error shows in chromium's CONSOLE log: %r" % console)

pages = {}
for name, run in runs.items():
    path = os.path.join(run, "report.html")
    if not ck.check(os.path.exists(path), "%s: run wrote report.html" % name):
        continue
    first = read(path)
    p = hftest.hyperfold(["report", run], cwd=work)
    ck.check(p.stdout.strip() == "wrote %s/report.html" % run, "%s: report says %r" % (name, p.stdout))
    ck.check(read(path) == first, "%s: hyperfold report regenerates identical bytes" % name)
    other = os.path.join(work, name + "-copy.html")
    hftest.hyperfold(["report", run, "--output", other], cwd=work)
    ck.check(read(other) == first, "%s: --output writes the same page" % name)
    pages[name] = check_page(name, path)

# ---- the problem, the profile, provenance ------------------------------------------------------
sonar = pages.get("sonar", "")
res = hftest.load_results(runs["sonar"])
for k in ("spec_sha256", "source_fingerprint"):
    ck.check(res[k] in sonar, "sonar: the problem shows %s" % k)
ck.check("stratified" in sonar and ">grid<" in sonar and ">Class<" in sonar,
         "sonar: folds strategy, search strategy and target shown")
df = pd.read_csv(os.path.join(work, "sonar.csv"))
for col in ("V1", "V30", "V60"):
    row = re.search(r"<tr><td>%s</td>.*?</tr>" % col, sonar)
    ck.check(row and (">%.4g<" % df[col].mean()) in row.group(0),
             "sonar: profile mean of %s is pandas' %.4g" % (col, df[col].mean()))
vc = df["Class"].value_counts()
trow = re.search(r"<tr><td>Class</td>.*?</tr>", sonar)
ck.check(trow and all(("%s (%d)" % (c, k)) in trow.group(0) for c, k in vc.items()),
         "sonar: the target's class counts are pandas'")
model = os.path.join(runs["sonar"], "model.h5")
digest = hashlib.sha256(read(model)).hexdigest()
prov = sonar[sonar.find('id="provenance"'):]
ck.check(digest in prov, "sonar: provenance has model.h5's SHA-256")
ck.check(("%d bytes" % os.path.getsize(model)) in prov, "sonar: provenance has model.h5's size")
ck.check(("%.6g" % res["best"]["score"]) in prov, "sonar: provenance has the cv score")

# ---- the search: importance against an independent computation of its definition --------------
ridge = pages.get("ridge", "")
rres = hftest.load_results(runs["ridge"])


def eps2(values, y, numeric):
    """epsilon-squared of y grouped by value (categories, or ceil(sqrt(n)) <= 10 equal-count bins
    with equal values kept together), as docs/report.md defines it."""
    order = sorted(range(len(y)), key=lambda i: (values[i], i))
    nb = min(10, int(np.ceil(np.sqrt(len(y))))) if numeric else None
    g, grp = 0, []
    for s, i in enumerate(order):
        if s and values[i] != values[order[s - 1]] and (not numeric or g < s * nb // len(y)):
            g += 1
        grp.append(g)
    yy = np.array([y[i] for i in order])
    grp = np.array(grp)
    k = grp.max() + 1
    sst = ((yy - yy.mean()) ** 2).sum()
    ssb = sum((grp == j).sum() * (yy[grp == j].mean() - yy.mean()) ** 2 for j in range(k))
    msw = (sst - ssb) / (len(yy) - k)
    return max(0.0, (ssb - (k - 1) * msw) / sst)


ok = [t for t in rres["trials"] if t["status"] == "ok"]
ys = [t["mean"]["r2"] for t in ok]
for pname, numeric in (("alpha", True), ("fit_intercept", False)):
    vals = [t["params"][pname] for t in ok]
    if not numeric:
        vals = ["true" if v else "false" for v in vals]
        firsts = []
        for v in [("true" if t["params"][pname] else "false") for t in rres["trials"]]:
            if v not in firsts:
                firsts.append(v)
        vals = [firsts.index(v) for v in vals]
    want = eps2(vals, ys, numeric)
    row = re.search(r"<tr><td>%s</td><td class=\"n\">([^<]*)</td></tr>" % pname, ridge)
    ck.check(row and row.group(1) == "%.4g" % want,
             "ridge: importance of %s %s, recomputed %.4g" % (pname, row and row.group(1), want))
dd0 = pd.read_csv(os.path.join(work, "diabetes.csv"))["target"].values
got = [int(x) for x in re.findall(r"<title>(\d+) rows</title>",
                                  ridge[ridge.find('id="data"'):ridge.find('id="search"')])]
want = np.histogram(dd0, bins=30, range=(dd0.min(), dd0.max()))[0].tolist()
ck.check(got == want, "ridge: the target's histogram is numpy's: %s vs %s" % (got, want))
ck.check(len(re.findall(r"<svg\b", ridge[ridge.find('id="search"'):ridge.find('id="folds"')])) >= 5,
         "ridge: history, 2 parameter plots, parallel coordinates and importance drawn")
ck.check('r2 against alpha' in ridge and "(log scale)" in ridge, "ridge: alpha on a log axis")

# Pruned and failed trials are marked: hollow points and red bars in the history.
pp = pages.get("prune", "")
pres = hftest.load_results(runs["prune"])
count = {st: sum(t["status"] == st for t in pres["trials"]) for st in ("ok", "pruned", "failed")}
ck.check(count["pruned"] > 0 and count["failed"] == 2, "prune: the study pruned and failed trials %r"
         % count)
ck.check("<p>%d trials: %d completed, %d pruned, %d failed." % (
    len(pres["trials"]), count["ok"], count["pruned"], count["failed"]) in pp,
    "prune: the page counts the trials by status")
hist = svgs(pp[pp.find('id="search"'):])[0]
ck.check(len(re.findall(r'fill="none" stroke="#999"><title>trial \d+ \(pruned\)', hist)) ==
         count["pruned"], "prune: one hollow point per pruned trial")
ck.check(len(re.findall(r"<rect [^>]*><title>trial \d+ \(failed\)", hist)) == count["failed"],
         "prune: one red bar per failed trial")

# The page does not depend on the number of ranks (apart from the timeline and model.h5's time).
np1 = os.path.join(work, "np1")
os.makedirs(np1)
for f in ("sonar.yaml", "sonar.csv"):
    shutil.copy2(os.path.join(work, f), np1)  # the mtime is in the source fingerprint
hftest.hyperfold(["run", "sonar.yaml", "--quiet"], np=1, cwd=np1)
one = read(os.path.join(np1, "out", "sonar", "report.html")).decode()


def stable(page):
    """The page without the timeline and model.h5's time and checksum (the file records when it
    was created)."""
    page = re.sub(r'<section id="timeline">.*?</section>', "", page, flags=re.S)
    page = re.sub(r"<tr><th>SHA-256</th><td>[0-9a-f]{64}</td></tr>", "", page)
    return re.sub(r"<tr><th>written</th><td>[^<]*</td></tr>", "", page)


ck.check(stable(one) == stable(sonar),
         "the same page at 1 and 2 ranks but for the timeline and model.h5's time")

# ---- the timeline ----------------------------------------------------------------------------
lines = hftest.journal_lines(runs["ridge"])
tasks = [l for l in lines if "task" in l]
ck.check(tasks and all(isinstance(l.get("start"), float) and l["start"] >= 0 for l in tasks),
         "journal: every task line has a start")
for w in set(l["worker"] for l in tasks):
    mine = sorted((l["start"], l["start"] + l["seconds"]) for l in tasks if l["worker"] == w)
    ck.check(all(a[1] <= b[0] + 1e-6 for a, b in zip(mine, mine[1:])),
             "journal: rank %d's tasks do not overlap in time" % w)
m = re.search(r"utilisation \(busy time / \(ranks × wall time\)\) <b>([0-9.]+)%</b>", ridge)
ck.check(m and 0 < float(m.group(1)) <= 100.5, "ridge: utilisation shown: %s" % (m and m.group(1)))
tl = ridge[ridge.find('id="timeline"'):ridge.find('id="evaluation"')]
ck.check(len(re.findall(r"<rect [^>]*><title>task ", tl)) == len(tasks),
         "ridge: one timeline bar per task (%d)" % len(tasks))

# A journal without starts (as hyperfold wrote before it recorded them): the page says the
# timeline is not available, and the run still resumes from it.
old = os.path.join(work, "out", "ridge", "journal.jsonl")
with open(old) as f:
    raw = f.read().splitlines()
out = [raw[0]]
for l in raw[1:]:
    body = json.loads(l.rpartition("\t")[0])
    body.pop("start", None)
    b = json.dumps(body, separators=(",", ":"))
    out.append(b + "\t" + hashlib.sha256(b.encode()).hexdigest()[:16])
hftest.write(old, "\n".join(out) + "\n")
hftest.hyperfold(["report", runs["ridge"]], cwd=work)
again = read(os.path.join(runs["ridge"], "report.html")).decode()
ck.check("the journal&#39;s task lines have no start time" in again or
         "journal's task lines have no start time" in again,
         "timeline of a journal without starts: says it is not available")
p = hftest.hyperfold(["run", "ridge.yaml"], np=2, cwd=work)
ck.check("resuming: %d of %d tasks already done" % (len(tasks), len(tasks)) in p.stderr,
         "a journal without starts resumes: %s" % p.stderr.strip()[:200])
ck.check(hftest.same_trials(rres, hftest.load_results(runs["ridge"])),
         "the resumed run has the same trials")
again = read(os.path.join(runs["ridge"], "report.html")).decode()
ck.check("every task ran in an earlier session of this resumed run" in again,
         "timeline of a run resumed with every task done: says so")

# A run killed after 3 journaled tasks, then resumed: the timeline draws this session's tasks.
kd = os.path.join(work, "killed")
os.makedirs(kd)
for f in ("ridge.yaml", "diabetes.csv"):
    shutil.copy2(os.path.join(work, f), kd)
os.environ["HF_TEST_KILL_AT"] = "journal:0"
p = hftest.hyperfold(["run", "ridge.yaml", "--quiet"], np=2, cwd=kd, check=False)
os.environ.pop("HF_TEST_KILL_AT")
ck.check(p.returncode != 0 and not os.path.exists(os.path.join(kd, "out", "ridge", "report.html")),
         "killed run: no report")
p = hftest.hyperfold(["run", "ridge.yaml"], np=2, cwd=kd)
ktasks = [l for l in hftest.journal_lines(os.path.join(kd, "out", "ridge")) if "task" in l]
kpage = read(os.path.join(kd, "out", "ridge", "report.html")).decode()
ktl = kpage[kpage.find('id="timeline"'):kpage.find('id="evaluation"')]
ck.check(("<p>%d tasks in this session (3 more ran before the run was resumed)" %
          (len(ktasks) - 3)) in ktl and
         len(re.findall(r"<rect [^>]*><title>task ", ktl)) == len(ktasks) - 3,
         "resumed run: the timeline draws the %d tasks of its last session" % (len(ktasks) - 3))

# ---- hostile strings ---------------------------------------------------------------------------
hp = pages.get("hostile", "")
ck.check(HOSTILE_CLASS not in hp and "&lt;script&gt;alert(1)&lt;/script&gt;" in hp,
         "hostile: the class label is escaped")
ck.check(HOSTILE_COL not in hp and "a&amp;b&quot;c" in hp, "hostile: the column name is escaped")
ck.check("P&lt;aris" in hp and "Ly&amp;on" in hp, "hostile: category values are escaped")


# ---- evaluation plots from a results.json whose evaluation scikit-learn built -----------------
def thin(*arrs):
    return [list(map(float, a)) for a in arrs]


def classification_eval(y, proba, classes, source):
    pred = np.array(classes)[proba.argmax(axis=1)]
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
    pa = precision_recall_fscore_support(y, pred, labels=classes, average="macro", zero_division=0)
    pw = precision_recall_fscore_support(y, pred, labels=classes, average="weighted",
                                         zero_division=0)
    pos = classes[1]
    yb = (np.asarray(y) == pos).astype(int)
    fpr, tpr, th = roc_curve(yb, proba[:, 1])
    pr, rc, th2 = precision_recall_curve(yb, proba[:, 1])
    pt, pp = calibration_curve(yb, proba[:, 1], n_bins=10, strategy="uniform")
    acc = float((pred == np.asarray(y)).mean())
    return {"source": source, "task": "classification", "n_rows": len(y),
            "metrics": {"accuracy": acc, "roc_auc": float(roc_auc_score(yb, proba[:, 1]))},
            "classes": list(classes),
            "confusion_matrix": confusion_matrix(y, pred, labels=classes).tolist(),
            "per_class": [{"class": c, "precision": float(p[i]), "recall": float(r[i]),
                           "f1": float(f[i]), "support": int(s[i])} for i, c in enumerate(classes)],
            "macro_avg": {"precision": pa[0], "recall": pa[1], "f1": pa[2], "support": len(y)},
            "weighted_avg": {"precision": pw[0], "recall": pw[1], "f1": pw[2], "support": len(y)},
            "accuracy": acc,
            "roc": [{"class": pos, "fpr": thin(fpr)[0], "tpr": thin(tpr)[0],
                     "thresholds": [float(t) if np.isfinite(t) else None for t in th],
                     "auc": float(roc_auc_score(yb, proba[:, 1]))}],
            "pr": [{"class": pos, "precision": thin(pr)[0], "recall": thin(rc)[0],
                    "thresholds": thin(th2)[0],
                    "average_precision": float(average_precision_score(yb, proba[:, 1]))}],
            "calibration": [{"class": pos, "prob_pred": thin(pp)[0], "prob_true": thin(pt)[0],
                             "count": [int(c) for c in np.histogram(proba[:, 1], bins=10,
                                                                     range=(0, 1))[0] if c]}]}


def with_evaluation(run, name, ev, hold=None):
    dst = os.path.join(work, name)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(run, dst)
    r = hftest.load_results(dst)
    r["evaluation"] = ev
    if hold:
        r["holdout_evaluation"] = hold
    hftest.write(os.path.join(dst, "results.json"), json.dumps(r, indent=1))
    hftest.hyperfold(["report", dst], cwd=work)
    return dst, read(os.path.join(dst, "report.html")).decode()


X = df.drop(columns="Class").values
y = df["Class"].values
classes = sorted(set(y))
C = res["best"]["params"]["C"]
proba = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000)),
                          X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                          method="predict_proba")
ev = classification_eval(y, proba, classes, "oof")
d, page = with_evaluation(runs["sonar"], "sonar-eval", ev)
sec = page[page.find('id="evaluation"'):page.find('id="provenance"')]
cm = np.array(ev["confusion_matrix"])
cells = re.findall(r"<title>(\d+)</title></rect>", sec)
ck.check(sorted(map(int, cells)) == sorted(cm.ravel().tolist()),
         "evaluation: the confusion matrix cells are scikit-learn's counts %s" % cm.tolist())
ck.check(("AUC %.4f" % ev["roc"][0]["auc"]) in sec, "evaluation: ROC legend has sklearn's AUC")
ck.check(("AP %.4f" % ev["pr"][0]["average_precision"]) in sec,
         "evaluation: PR legend has sklearn's average precision")
ck.check(all(("%.4g" % pc["f1"]) in sec for pc in ev["per_class"]),
         "evaluation: the per-class table has sklearn's f1")
ck.check("calibration" in sec and len(svgs(sec)) == 4,
         "evaluation: confusion matrix, ROC, PR and calibration plots (%d SVGs)" % len(svgs(sec)))
check_page("sonar-eval", os.path.join(d, "report.html"))

# Regression: out-of-fold ridge predictions.
dd = pd.read_csv(os.path.join(work, "diabetes.csv"))
Xr, yr = dd.drop(columns="target").values, dd["target"].values
bp = rres["best"]["params"]
pr_ = cross_val_predict(Ridge(alpha=bp["alpha"], fit_intercept=bp["fit_intercept"]), Xr, yr,
                        cv=KFold(5, shuffle=True, random_state=0))
res_ = yr - pr_
qs = ["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"]
aq = ["0.5", "0.9", "0.95", "0.99"]
rev = {"source": "oof", "task": "regression", "n_rows": len(yr),
       "metrics": {"r2": float(1 - (res_ ** 2).sum() / ((yr - yr.mean()) ** 2).sum()),
                   "rmse": float(np.sqrt((res_ ** 2).mean()))},
       "residuals": {"mean": float(res_.mean()), "std": float(res_.std()),
                     "quantiles": {q: float(np.quantile(res_, float(q))) for q in qs}},
       "abs_error_quantiles": {q: float(np.quantile(np.abs(res_), float(q))) for q in aq},
       "scatter": {"actual": yr.tolist(), "predicted": pr_.tolist()}}
d, page = with_evaluation(runs["ridge"], "ridge-eval", rev, hold=dict(rev, source="holdout"))
sec = page[page.find('id="evaluation"'):page.find('id="provenance"')]
ck.check(all(("%.4g" % v) in sec for v in rev["residuals"]["quantiles"].values()),
         "evaluation: the residual quantiles table")
ck.check(all(("%.4g" % v) in sec for v in rev["abs_error_quantiles"].values()),
         "evaluation: the absolute error quantiles table")
ck.check(sec.count("predicted against actual") == 2 and sec.count("residuals (actual") == 2,
         "evaluation: scatter and residual histogram for oof and holdout")
hist_rows = [int(x) for x in re.findall(r"<title>(\d+) rows</title>", sec)]
ck.check(sum(hist_rows) == 2 * len(yr), "evaluation: the histograms count every row (%d)" % sum(hist_rows))
check_page("ridge-eval", os.path.join(d, "report.html"))

# Hostile class labels in the evaluation's confusion matrix and tables.
hres = hftest.load_results(runs["hostile"])
hy = h["label"].values
hcls = sorted(set(hy))
hproba = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression()),
                           h[[HOSTILE_COL, "z"]].values, hy, cv=4, method="predict_proba")
d, page = with_evaluation(runs["hostile"], "hostile-eval", classification_eval(hy, hproba, hcls,
                                                                                "oof"))
ck.check(HOSTILE_CLASS not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4,
         "hostile: class labels escaped in the evaluation")
check_page("hostile-eval", os.path.join(d, "report.html"))

# Three classes: one ROC, PR and calibration curve per class (one-vs-rest); a holdout; minimize.
pres = hftest.load_results(runs["penguins"])
pg = pages.get("penguins", "")
ck.check("log_loss (minimize)" in pg, "penguins: the metric's direction")
hold = pres["holdout"]["scores"]["log_loss"]
ck.check(("<tr><th>holdout log_loss</th><td>%.6g</td></tr>" % hold) in pg,
         "penguins: provenance has the holdout score %.6g" % hold)
steps = re.search(r'<polyline points="([^"]*)" fill="none" stroke="#ff7f0e"',
                  svgs(pg[pg.find('id="search"'):])[0])
ys = [float(p.split(",")[1]) for p in steps.group(1).split()] if steps else []
ck.check(ys and all(b >= a for a, b in zip(ys, ys[1:])),
         "penguins: the best-so-far line of a loss only goes down (its pixel y only grows)")
pdf = pd.read_csv(os.path.join(work, "penguins.csv"))
num = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
Xp = pdf[num].fillna(pdf[num].mean()).values
yp = pdf["species"].values
pcls = sorted(set(yp))
pprob = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), Xp,
                          yp, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                          method="predict_proba")
mev = classification_eval(yp, pprob, pcls, "oof")
mev["roc"], mev["pr"], mev["calibration"] = [], [], []
for i, c in enumerate(pcls):
    yb = (yp == c).astype(int)
    fpr, tpr, _ = roc_curve(yb, pprob[:, i])
    pr_, rc_, _ = precision_recall_curve(yb, pprob[:, i])
    pt, pp_ = calibration_curve(yb, pprob[:, i], n_bins=10, strategy="uniform")
    mev["roc"].append({"class": c, "fpr": thin(fpr)[0], "tpr": thin(tpr)[0], "thresholds": [],
                       "auc": float(roc_auc_score(yb, pprob[:, i]))})
    mev["pr"].append({"class": c, "precision": thin(pr_)[0], "recall": thin(rc_)[0],
                      "thresholds": [],
                      "average_precision": float(average_precision_score(yb, pprob[:, i]))})
    mev["calibration"].append({"class": c, "prob_pred": thin(pp_)[0], "prob_true": thin(pt)[0],
                               "count": []})
d, page = with_evaluation(runs["penguins"], "penguins-eval", mev, hold=dict(mev, source="holdout"))
sec = page[page.find('id="evaluation"'):page.find('id="provenance"')]
cells = re.findall(r"<title>(\d+)</title></rect>", sec)
cm = np.array(mev["confusion_matrix"])
ck.check(cm.shape == (3, 3) and sorted(map(int, cells)) == sorted(cm.ravel().tolist() * 2),
         "penguins: 3 x 3 confusion matrices with scikit-learn's counts")
for e in mev["roc"]:
    ck.check(sec.count("%s: AUC %.4f" % (e["class"], e["auc"])) == 2,
             "penguins: ROC of %s with sklearn's AUC %.4f" % (e["class"], e["auc"]))
check_page("penguins-eval", os.path.join(d, "report.html"))

# ---- bad invocations ---------------------------------------------------------------------------
p = hftest.hyperfold(["report", os.path.join(work, "nope")], cwd=work, check=False)
ck.check(p.returncode == 2 and "nope/results.json: not found" in p.stderr and
         len(p.stderr.strip().splitlines()) == 1, "missing run: one line, exit 2: %r" % p.stderr)
p = hftest.hyperfold(["report", runs["sonar"], "--bogus"], cwd=work, check=False)
ck.check(p.returncode == 2 and "--bogus" in p.stderr, "unknown option refused: %r" % p.stderr)
p = hftest.hyperfold(["report", runs["sonar"], "--output", work], cwd=work, check=False)
ck.check(p.returncode == 2 and "is not a regular file" in p.stderr,
         "--output onto a directory refused: %r" % p.stderr)
bad = os.path.join(work, "badrun")
os.makedirs(bad, exist_ok=True)
hftest.write(os.path.join(bad, "results.json"), "{\"trials\": [1, 2,")
p = hftest.hyperfold(["report", bad], cwd=work, check=False)
ck.check(p.returncode == 2 and "badrun/results.json:1:" in p.stderr,
         "damaged results.json: names the file and position: %r" % p.stderr)

ck.done()
