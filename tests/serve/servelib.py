"""Helpers of the serve tests: train small models, start `hyperfold serve` on a free port, talk to
it over real HTTP on 127.0.0.1 (http.client, keep-alive)."""
import http.client
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402,F401

DATA = os.path.join(hftest.SOURCE_DIR, "examples", "data")


def train(work, name, source, target, model, params, extra="", prep=""):
    """Runs a one-trial sweep (2 folds, 1 rank); returns the path of its model.h5."""
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    hftest.write(os.path.join(d, "job.yaml"), """
name: %s
data: {source: %s, target: %s%s}
cv: {folds: 2, seed: 1}
%s
model: {type: %s, params: %s}
output: {dir: out}
""" % (name, source, target, extra, prep, model, params))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], cwd=d)
    return os.path.join(d, "out", name, "model.h5")


class Server:
    """A running `hyperfold serve`; its first stdout line gives the port (--port 0)."""

    def __init__(self, model, *flags, tls=False):
        self.errpath = os.path.join(os.path.dirname(os.path.abspath(str(model))),
                                    "serve-%d.err" % time.monotonic_ns())
        self.err = open(self.errpath, "w")
        self.proc = subprocess.Popen([hftest.HYPERFOLD, "serve", "--model", str(model), "--port",
                                      "0"] + list(flags), stdout=subprocess.PIPE,
                                     stderr=self.err, env=hftest.env(), text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("serving "):
            self.proc.wait(10)
            raise RuntimeError("serve did not start: %r %s" % (line, open(self.errpath).read()))
        self.line = line.strip()
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.tls = tls

    def conn(self, timeout=30):
        if self.tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict (lower-case names), body bytes)."""
        c = conn or self.conn()
        if isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        if conn is None:
            c.close()
        return r.status, h, data

    def invoke(self, body, ctype="text/csv", accept=None, headers=None, conn=None):
        h = {"Content-Type": ctype}
        if accept:
            h["Accept"] = accept
        h.update(headers or {})
        return self.request("POST", "/invocations", body, h, conn)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.err.close()
        return rc

    def log(self):
        with open(self.errpath) as f:
            return f.read()


def metrics(text):
    """Prometheus text into {name{labels}: value}; raises on a line that does not parse."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, val = line.rsplit(" ", 1)
        out[key] = float(val)
    return out


def predict(model, input_csv, output_csv):
    hftest.hyperfold(["predict", "--model", model, "--input", input_csv, "--output", output_csv,
                      "--quiet"])
    with open(output_csv) as f:
        return f.read()


def json_rows(header, rows, types):
    """CSV rows as JSON records: numeric columns as numbers (null for a missing value), others as
    strings (null for NA)."""
    out = []
    for r in rows:
        rec = {}
        for h, v, t in zip(header, r, types):
            if v in ("", "NA", "NaN", "null", "?"):
                rec[h] = None
            elif t == "numeric":
                rec[h] = float(v)
            else:
                rec[h] = v
        out.append(rec)
    return out
