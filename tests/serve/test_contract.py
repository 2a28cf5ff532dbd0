#!/usr/bin/python3
"""The HTTP contract of hyperfold serve: each bad input is a 400 whose JSON body names the row, the
column and what was expected (in predict's words), over-long bodies 413 (declared or chunked),
unknown content types 415, unknown paths 404, wrong methods 405, an Accept nobody serves 406, and
the server keeps answering /ping after each; a token file makes every request but /ping need
`Authorization: Bearer`; TLS with a self-signed certificate; /metrics parses and its counters
match the requests sent; --model may be the model's directory."""
import json
import os
import shutil
import socket
import subprocess
import time

import servelib
from servelib import hftest

ck = hftest.Checker("serve.contract")
work = hftest.tempdir("serve-contract-")
D = servelib.DATA
model = servelib.train(work, "peng", os.path.join(D, "penguins.csv"), "species",
                       "logistic_regression", "{C: [1.0], max_iter: 500}",
                       ", columns: {year: categorical}",
                       "preprocess: {impute: {numeric: mean, categorical: most_frequent}, "
                       "scale: standard, categorical: onehot}")
GOOD = "Torgersen,39.1,18.7,181,3750,male,2007\n"  # features in the model's order
HDR = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year\n"


def predict_error(text):
    """predict's message for a CSV with header: its part after file:line:col."""
    p = os.path.join(work, "bad.csv")
    hftest.write(p, text)
    r = hftest.hyperfold(["predict", "--model", model, "--input", p, "--output",
                          os.path.join(work, "bad-out.csv")], check=False)
    ck.check(r.returncode == 2, "predict refuses the bad input: %d %s" % (r.returncode, r.stderr))
    line = r.stderr.strip().splitlines()[-1]
    return line.split(": ", 3)[-1]


# --model as a directory (as SageMaker mounts /opt/ml/model).
srv = servelib.Server(os.path.dirname(model), "--threads", "2")
sent = {}  # status -> count
rows_ok = 0


def count(st):
    sent[st] = sent.get(st, 0) + 1


try:
    ck.check(srv.line.startswith("serving %s on http://127.0.0.1:" % os.path.dirname(model)),
             "start line: %r" % srv.line)
    st, _, body = srv.request("GET", "/ping")
    count(st)
    ck.check(st == 200, "/ping: %d" % st)
    st, _, body = srv.invoke(GOOD * 3)
    count(st)
    rows_ok += 3
    ck.check(st == 200 and len(body.decode().splitlines()) == 4, "3 rows: %d %r" % (st, body))

    bad_cases = [
        # (body, content type, what the message must hold)
        (GOOD + "Dream,abc,18,181,3750,male,2007\n", "text/csv",
         ['row 2', 'column "bill_length_mm"', 'got "abc"', "expected a number"]),
        (GOOD + "Dream,inf,18,181,3750,male,2007\n", "text/csv",
         ['row 2', 'column "bill_length_mm"', "expected a finite number"]),
        ("Dream,39,18,181\n", "text/csv", ["row 1", "got 4 fields, expected 7"]),
        ('Dream,"39,18,181,3750,male,2007\n', "text/csv", ["row 1", "unterminated"]),
        (HDR.replace("island", "islnd") + GOOD, "text/csv;header=present",
         ['unknown column "islnd"']),
        (HDR.replace(",year", "") + GOOD, "text/csv;header=present",
         ['missing feature column "year"']),
        (json.dumps([{"island": "Dream", "bill_length_mm": 39, "bill_depth_mm": 18,
                      "flipper_length_mm": 181, "body_mass_g": "heavy", "sex": "male",
                      "year": "2007"}]), "application/json",
         ['row 1', 'column "body_mass_g"', 'got "heavy"', "expected a number"]),
        (json.dumps([{"island": "Dream"}]), "application/json",
         ['row 1', 'missing column "bill_length_mm"']),
        (json.dumps([{"island": [1], "bill_length_mm": 39, "bill_depth_mm": 18,
                      "flipper_length_mm": 181, "body_mass_g": 1, "sex": "male",
                      "year": "2007"}]), "application/json",
         ['row 1', 'column "island"', "got a JSON array"]),
        ('[{"island": ', "application/json", ["not valid JSON"]),
        ('{"island": ["Dream"], "bill_length_mm": [1, 2]}', "application/json",
         ['column "bill_length_mm"', "got 2 values, expected 1"]),
        (json.dumps({"island": "Dream", "bill_length_mm": 39, "bill_depth_mm": 18,
                     "flipper_length_mm": 181, "body_mass_g": 3750, "sex": None,
                     "year": 2007}) + '\n{"b":', "application/jsonlines",
         ["row 2", "not valid JSON"]),
        ('"x"', "application/json", ["expected a list of records"]),
    ]
    for body, ctype, words in bad_cases:
        st, h, resp = srv.invoke(body, ctype)
        count(st)
        try:
            msg = json.loads(resp)["error"]
        except (ValueError, KeyError):
            msg = None
        ck.check(st == 400 and h.get("content-type") == "application/json" and msg is not None,
                 "%r: %d %r" % (body[:60], st, resp))
        ck.check(msg is not None and all(w in msg for w in words),
                 "%r: message %r should hold %r" % (body[:60], msg, words))
        st, _, _ = srv.request("GET", "/ping")
        count(st)
        ck.check(st == 200, "/ping after a bad request: %d" % st)

    # The same words as predict's errors (after predict's file:line:col).
    for cell, shown in (("abc", "abc"), ("inf", "inf")):
        words = predict_error(HDR + "Dream,%s,18,181,3750,male,2007\n" % cell)
        st, _, resp = srv.invoke(HDR + "Dream,%s,18,181,3750,male,2007\n" % cell,
                                 "text/csv;header=present")
        count(st)
        msg = json.loads(resp)["error"]
        ck.check(msg == "row 1: " + words, "serve %r, predict %r" % (msg, words))

    # 413: declared too long (the body is not read), and chunked past the limit (discarded).
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
              b"Content-Length: 7000000\r\n\r\n" + b"1" * 1000)
    resp = s.recv(65536).decode(errors="replace")
    s.close()
    count(413)
    ck.check(resp.startswith("HTTP/1.1 413") and '"error"' in resp and "--max-body-bytes" in resp,
             "declared 7 MB: %r" % resp[:300])
    c = srv.conn()
    c.putrequest("POST", "/invocations")
    c.putheader("Content-Type", "text/csv")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = (GOOD * 20000).encode()  # 0.78 MB a chunk, 9 of them
    for _ in range(9):
        c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    c.send(b"0\r\n\r\n")
    r = c.getresponse()
    body = r.read()
    c.close()
    count(r.status)
    ck.check(r.status == 413 and b"at most 6291456" in body, "chunked 7 MB: %d %r" % (
        r.status, body[:200]))

    for method, path, ctype, want in (("POST", "/invocations", "text/plain", 415),
                                      ("POST", "/invocations", None, 415),
                                      ("GET", "/nowhere", None, 404),
                                      ("GET", "/invocations", None, 405),
                                      ("POST", "/ping", "text/csv", 405),
                                      ("DELETE", "/metrics", None, 405)):
        h = {"Content-Type": ctype} if ctype else {}
        st, hh, resp = srv.request(method, path, GOOD if method == "POST" else None, h)
        count(st)
        ck.check(st == want and "error" in json.loads(resp), "%s %s %s: %d (expected %d) %r" % (
            method, path, ctype, st, want, resp))
        st, _, _ = srv.request("GET", "/ping")
        count(st)
        ck.check(st == 200, "/ping after %d" % want)
    st, _, resp = srv.invoke(GOOD, accept="image/png")
    count(st)
    ck.check(st == 406 and "Accept" in json.loads(resp)["error"], "Accept image/png: %d" % st)
    st, _, resp = srv.invoke(GOOD, headers={"X-Unknown-Header": "1", "Accept": "*/*"})
    count(st)
    rows_ok += 1
    ck.check(st == 200, "unknown headers ignored, */* is CSV: %d" % st)

    # /metrics: parses, and counts what was sent (it counts a request when its answer is sent).
    st, h, resp = srv.request("GET", "/metrics")
    m = servelib.metrics(resp.decode())
    ck.check(st == 200 and h.get("content-type", "").startswith("text/plain"), "/metrics %d" % st)
    for code, n in sorted(sent.items()):
        got = m.get('hyperfold_serve_requests_total{code="%d"}' % code)
        ck.check(got == n, "metrics: %d answers %d, expected %d" % (code, got or 0, n))
    ck.check(m.get("hyperfold_serve_rows_predicted_total") == rows_ok,
             "rows predicted %r, expected %d" % (m.get("hyperfold_serve_rows_predicted_total"),
                                                 rows_ok))
    total = sum(sent.values())
    cnt = m.get("hyperfold_serve_request_duration_seconds_count")
    ck.check(cnt == total, "histogram count %r, expected %d" % (cnt, total))
    buckets = [(k, v) for k, v in m.items() if k.startswith(
        "hyperfold_serve_request_duration_seconds_bucket")]
    vals = [v for _, v in buckets]
    ck.check(len(buckets) >= 10 and vals == sorted(vals) and vals[-1] == total
             and buckets[-1][0].endswith('{le="+Inf"}'), "buckets cumulative: %r" % buckets)
    ck.check(m.get("hyperfold_serve_request_duration_seconds_sum", 0) > 0, "sum > 0")
    ck.check("hyperfold_serve_model_load_seconds" in m and
             m.get("hyperfold_serve_model_reloads_total") == 0, "load time and reloads: %r" % m)
    # The request log is buffered, but written within 100 ms while the server runs, not only at
    # exit: the line of the /metrics request above appears with the server still serving.
    deadline = time.time() + 10
    while "GET /metrics 200" not in srv.log() and time.time() < deadline:
        time.sleep(0.05)
    ck.check("GET /metrics 200" in srv.log() and srv.proc.poll() is None,
             "the log is written while serving: %r" % srv.log()[-300:])
finally:
    rc = srv.stop()
ck.check(rc == 0, "SIGTERM: exit %d" % rc)
log = srv.log()
ck.check("POST /invocations 200 rows=3 us=" in log and "GET /nowhere 404 rows=0" in log,
         "one log line per request: %r" % log[:500])

# Token: 401 without it and with a wrong one (/ping needs none), 200 with it; --quiet: no log.
tok = os.path.join(work, "token")
hftest.write(tok, "s3cret-token-value\n")
srv = servelib.Server(model, "--token-file", tok, "--quiet", "--threads", "1")
try:
    ck.check(srv.request("GET", "/ping")[0] == 200, "/ping without token: 200")
    for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret-token-valu"},
              {"Authorization": "Basic s3cret-token-value"}):
        st, hh, resp = srv.invoke(GOOD, headers=h)
        ck.check(st == 401 and "error" in json.loads(resp) and "www-authenticate" in hh,
                 "token %r: %d" % (h, st))
        ck.check(srv.request("GET", "/metrics", headers=h)[0] == 401, "/metrics %r: 401" % h)
    st, _, resp = srv.invoke(GOOD, headers={"Authorization": "Bearer s3cret-token-value"})
    ck.check(st == 200 and resp.decode().startswith("prediction,"), "right token: %d" % st)
finally:
    ck.check(srv.stop() == 0, "token server exits 0")
ck.check(srv.log() == "", "--quiet: no request log: %r" % srv.log()[:200])

# The request log stays one line a request: a decoded %0A in the path is written escaped.
srv = servelib.Server(model, "--threads", "1")
try:
    st = srv.request("GET", "/x%0Ahyperfold:%20serve:%20forged")[0]
    ck.check(st == 404, "a path with %%0A: %d" % st)
finally:
    ck.check(srv.stop() == 0, "log server exits 0")
lines = srv.log().splitlines()
ck.check(not any(l.startswith("hyperfold: serve: forged") for l in lines)
         and any("/x\\x0ahyperfold: serve: forged 404" in l for l in lines),
         "no forged log line: %r" % lines)

# A non-loopback address without a token: a warning names the exposure.
srv = servelib.Server(model, "--listen", "0.0.0.0", "--quiet")
try:
    ck.check(srv.request("GET", "/ping")[0] == 200, "/ping on 0.0.0.0")
finally:
    ck.check(srv.stop() == 0, "0.0.0.0 server exits 0")
ck.check("--listen 0.0.0.0 without --token-file" in srv.log(), "no warning: %r" % srv.log())

# A model URL's credentials and signature appear in no message.
r = hftest.hyperfold(["serve", "--model",
                      "http://user:PW-CANARY@127.0.0.1:9/m.h5?X-Amz-Signature=SIG-CANARY"],
                     check=False, timeout=60)
ck.check(r.returncode != 0 and "CANARY" not in r.stderr + r.stdout
         and "127.0.0.1:9/m.h5" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
         "a model URL's secrets: exit %d %r" % (r.returncode, r.stderr))

# Bad flags: one line, exit 2.
for flags, words in ((["--model", model, "--token-file", os.path.join(work, "none")],
                      "--token-file"),
                     (["--model", model, "--port", "99999"], "--port"),
                     (["--model", model, "--listen", "localhost:1"], "--listen"),
                     (["--model", model, "--tls-cert", tok], "--tls-key"),
                     (["--model", os.path.join(work, "nothing.h5")], "nothing.h5")):
    r = hftest.hyperfold(["serve"] + flags, check=False, timeout=30)
    ck.check(r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1,
             "%s: exit %d %r" % (flags, r.returncode, r.stderr))

# TLS with a self-signed certificate (scripts/install-deps.sh installs openssl).
ck.check(shutil.which("openssl") is not None, "the openssl command is needed for the TLS check")
if shutil.which("openssl"):
    cert, key = os.path.join(work, "c.pem"), os.path.join(work, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                   capture_output=True)
    srv = servelib.Server(model, "--tls-cert", cert, "--tls-key", key, "--quiet", tls=True)
    try:
        ck.check(srv.line.startswith("serving %s on https://127.0.0.1:" % model), srv.line)
        st, _, resp = srv.invoke(GOOD)
        ck.check(st == 200 and resp.decode().startswith("prediction,"), "TLS: %d" % st)
        plain = servelib.Server.__new__(servelib.Server)
        plain.port, plain.tls = srv.port, False
        try:
            plain.request("GET", "/ping")
            ck.check(False, "plain HTTP to the TLS port should fail")
        except Exception:
            ck.check(True, "plain HTTP to the TLS port fails")
    finally:
        ck.check(srv.stop() == 0, "TLS server exits 0")
ck.done()
