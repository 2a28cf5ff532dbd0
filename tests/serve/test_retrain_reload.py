#!/usr/bin/python3
"""retrain --reload-url: a promoted model is loaded by the running server (POST /reload with the
token of --reload-token-file), which then answers with the new model.h5's predictions, bit for bit
as predict gives them."""
import json
import os

import servelib
from servelib import hftest

ck = hftest.Checker("serve.retrain_reload")
work = hftest.tempdir("serve-retrain-")
with open(os.path.join(servelib.DATA, "diabetes.csv")) as f:
    lines = f.read().splitlines()
# The current model learns from 150 rows whose targets are reversed (a poor model), so that the
# retrained one on the whole data is better on the holdout and is promoted.
rows = [l.split(",") for l in lines[1:151]]
targets = [r[-1] for r in rows][::-1]
small = os.path.join(work, "small.csv")
hftest.write(small, lines[0] + "\n" + "".join(",".join(r[:-1] + [t]) + "\n"
                                              for r, t in zip(rows, targets)))
full = os.path.join(work, "full.csv")
hftest.write(full, "\n".join(lines) + "\n")
model = servelib.train(work, "r", small, "target", "ridge", "{alpha: [1.0]}")
run_dir = os.path.dirname(model)
tok = os.path.join(work, "token")
hftest.write(tok, "retrain-token\n")
inp = os.path.join(work, "in.csv")
hftest.write(inp, "\n".join(lines[:31]) + "\n")
before = servelib.predict(model, inp, os.path.join(work, "p0.csv"))
srv = servelib.Server(model, "--token-file", tok, "--quiet")
auth = {"Authorization": "Bearer retrain-token"}
try:
    st, _, body = srv.invoke(open(inp).read(), "text/csv;header=present", headers=auth)
    ck.check(st == 200 and body.decode() == before, "the current model answers: %d" % st)
    r = hftest.hyperfold(["retrain", run_dir, "--data", full, "--reload-url",
                          "http://127.0.0.1:%d/reload" % srv.port, "--reload-token-file", tok],
                         np=1, cwd=work)
    res = json.load(open(os.path.join(run_dir, "results.json")))
    ck.check(res["retrain"]["promoted"] is True, "the new model is promoted: %r" % res["retrain"])
    ck.check("reloaded the new model" in r.stderr, "retrain says it reloaded: %r" % r.stderr)
    after = servelib.predict(model, inp, os.path.join(work, "p1.csv"))
    ck.check(after != before, "the promoted model predicts otherwise")
    st, _, body = srv.invoke(open(inp).read(), "text/csv;header=present", headers=auth)
    ck.check(st == 200 and body.decode() == after,
             "the server answers with the promoted model: %d" % st)
    m = servelib.metrics(srv.request("GET", "/metrics", headers=auth)[2].decode())
    ck.check(m.get("hyperfold_serve_model_reloads_total") == 1, "one reload: %r" % m)
finally:
    ck.check(srv.stop() == 0, "exit 0")

# A server that is not there: the promotion stands, retrain warns in one line and exits 0.
model2 = servelib.train(work, "r2", small, "target", "ridge", "{alpha: [1.0]}")
r = hftest.hyperfold(["retrain", os.path.dirname(model2), "--data", full, "--reload-url",
                      "http://127.0.0.1:1/reload"], np=1, cwd=work, check=False)
ck.check(r.returncode == 0 and "but POST http://127.0.0.1:1/reload failed" in r.stderr,
         "unreachable server: exit %d, %r" % (r.returncode, r.stderr))
ck.done()
