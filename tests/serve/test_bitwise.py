#!/usr/bin/python3
"""serve == predict, bit for bit: every model type and task (ridge, kernel_ridge, elastic_net,
logistic_regression, xgboost, random_forest; regression, binary, multiclass), every content type
in (CSV without and with a header, JSON records, columns and instances, JSON lines) and out (CSV,
JSON, JSON lines). The CSV answer is byte-identical to predict's output file; the JSON answers hold
the same labels and the same doubles. Penguins rows carry missing values, NA texts and a category
the model never saw."""
import csv
import io
import json
import os

import h5py

import servelib
from servelib import hftest

ck = hftest.Checker("serve.bitwise")
work = hftest.tempdir("serve-bitwise-")
D = servelib.DATA
PENG_PREP = ("preprocess: {impute: {numeric: mean, categorical: most_frequent}, scale: standard, "
             "categorical: onehot}")
STD = "preprocess: {scale: standard}"
PENG_EXTRA = ", columns: {year: categorical}"
CASES = [
    ("ridge", "diabetes.csv", "target", "{alpha: [1.0]}", "", ""),
    ("kernel_ridge", "diabetes.csv", "target", "{alpha: [1.0], kernel: [rbf]}", STD, ""),
    ("elastic_net", "diabetes.csv", "target", "{alpha: [0.1], l1_ratio: [0.5]}", STD, ""),
    ("logistic_regression", "breast_cancer.csv", "diagnosis", "{C: [1.0], max_iter: 500}", STD, ""),
    ("logistic_regression", "penguins.csv", "species", "{C: [1.0], max_iter: 500}", PENG_PREP,
     PENG_EXTRA),
    ("xgboost", "diabetes.csv", "target", "{n_estimators: 5, max_depth: 3, n_jobs: 1}", "", ""),
    ("xgboost", "breast_cancer.csv", "diagnosis", "{n_estimators: 5, max_depth: 3, n_jobs: 1}", "",
     ""),
    ("xgboost", "penguins.csv", "species", "{n_estimators: 5, max_depth: 3, n_jobs: 1}",
     "preprocess: {categorical: onehot}", PENG_EXTRA),
    ("random_forest", "diabetes.csv", "target", "{n_estimators: 5, max_depth: 4, n_jobs: 1}", "",
     ""),
    ("random_forest", "breast_cancer.csv", "diagnosis",
     "{n_estimators: 5, max_depth: 4, n_jobs: 1}", "", ""),
    ("random_forest", "penguins.csv", "species", "{n_estimators: 5, max_depth: 4, n_jobs: 1}",
     "preprocess: {categorical: onehot}", PENG_EXTRA),
]


def parse_expected(text, classification):
    rows = list(csv.reader(io.StringIO(text)))
    head, body = rows[0], rows[1:]
    out = []
    for r in body:
        rec = {}
        for h, v in zip(head, r):
            rec[h] = v if (classification and h == "prediction") else float(v)
        out.append(rec)
    return out


def same(name, got, want):
    if not ck.check(len(got) == len(want), "%s: %d rows, expected %d" % (name, len(got), len(want))):
        return
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    ck.check(not bad, "%s: rows %s differ from predict's: %r vs %r" % (
        name, bad[:5], got[bad[0]] if bad else None, want[bad[0]] if bad else None))


for i, (model, src, target, params, prep, extra) in enumerate(CASES):
    name = "%s-%s" % (model, src.split(".")[0])
    path = servelib.train(work, "m%d" % i, os.path.join(D, src), target, model, params, extra, prep)
    with h5py.File(path, "r") as f:
        schema = json.loads(f.attrs["schema_json"])
        feats = [s.decode() if isinstance(s, bytes) else s for s in f["features"][...]]
    types = {c["name"]: c["type"] for c in schema["features"]}
    classification = model != "ridge" and target != "target"
    with open(os.path.join(D, src)) as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:61]
    if src == "penguins.csv":  # missing values, NA texts, an unseen category, spacing
        ix = {h: k for k, h in enumerate(header)}
        extra_rows = []
        for edit in ({"island": "Atlantis"}, {"sex": "NA", "bill_length_mm": ""},
                     {"bill_depth_mm": "?", "year": "1999"}, {"flipper_length_mm": " 190 "},
                     {"body_mass_g": "4.2e3", "sex": "null"}):
            r = list(data[0])
            for k, v in edit.items():
                r[ix[k]] = v
            extra_rows.append(r)
        data = data + extra_rows
    full = os.path.join(work, "in-%d.csv" % i)
    with open(full, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header] + data)
    want_text = servelib.predict(path, full, os.path.join(work, "pred-%d.csv" % i))
    want = parse_expected(want_text, classification)
    fi = [header.index(h) for h in feats]
    feat_rows = [[r[k] for k in fi] for r in data]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(feat_rows)
    headerless = buf.getvalue()
    with open(full) as f:
        with_header = f.read()

    srv = servelib.Server(path, "--threads", "2", "--quiet")
    try:
        conn = srv.conn()
        st, h, body = srv.invoke(headerless, conn=conn)
        ck.check(st == 200 and body.decode() == want_text,
                 "%s: text/csv without header: %d, byte-identical to predict: %s" % (
                     name, st, body.decode() == want_text))
        ck.check(h.get("content-type") == "text/csv", "%s: content type %r" % (name, h))
        st, _, body = srv.invoke(with_header, "text/csv; header=present", conn=conn)
        ck.check(st == 200 and body.decode() == want_text,
                 "%s: text/csv;header=present (target column present): %d %s" % (
                     name, st, body[:200]))
        st, _, body = srv.invoke(with_header.replace("\n", "\r\n"), "text/csv", conn=conn,
                                 headers={"X-Amzn-SageMaker-Custom-Attributes": "header=present"})
        ck.check(st == 200 and body.decode() == want_text,
                 "%s: CRLF CSV, header from the custom attributes header: %d %s" % (
                     name, st, body[:200]))
        recs = servelib.json_rows(header, data, [types.get(h, "categorical") for h in header])
        recs = [{k: v for k, v in r.items() if k in types} for r in recs]
        st, h, body = srv.invoke(json.dumps(recs), "application/json", "application/json",
                                 conn=conn)
        ok = ck.check(st == 200 and h.get("content-type") == "application/json",
                      "%s: JSON records: %d %s" % (name, st, body[:200]))
        if ok:
            same(name + " JSON records", json.loads(body)["predictions"], want)
        cols = {k: [r[k] for r in recs] for k in feats}
        st, _, body = srv.invoke(json.dumps(cols), "application/json", "application/json",
                                 conn=conn)
        if ck.check(st == 200, "%s: JSON columns: %d %s" % (name, st, body[:200])):
            same(name + " JSON columns", json.loads(body)["predictions"], want)
        inst = {"instances": [[r[k] for k in feats] for r in recs]}
        st, _, body = srv.invoke(json.dumps(inst), "application/json", "application/json",
                                 conn=conn)
        if ck.check(st == 200, "%s: JSON instances: %d %s" % (name, st, body[:200])):
            same(name + " JSON instances", json.loads(body)["predictions"], want)
        lines = "\n".join(json.dumps(r) for r in recs) + "\n"
        st, h, body = srv.invoke(lines, "application/jsonlines", "application/jsonlines",
                                 conn=conn)
        if ck.check(st == 200 and h.get("content-type") == "application/jsonlines",
                    "%s: JSON lines: %d %s" % (name, st, body[:200])):
            same(name + " JSON lines", [json.loads(l) for l in body.decode().splitlines()], want)
        # Every value as a JSON string: the same text conversion as predict's CSV reader.
        srecs = [{h: (r[ix2] if r[ix2] != "" else None) for ix2, h in enumerate(header)
                  if h in types} for r in data]
        st, _, body = srv.invoke(json.dumps(srecs), "application/json", "text/csv", conn=conn)
        ck.check(st == 200 and body.decode() == want_text,
                 "%s: JSON with strings, CSV out: %d %s" % (name, st, body[:200]))
        conn.close()
    finally:
        ck.check(srv.stop() == 0, "%s: SIGTERM exits 0" % name)

ck.done()
