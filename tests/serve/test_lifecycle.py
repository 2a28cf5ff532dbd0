#!/usr/bin/python3
"""hyperfold serve's lifecycle: the model file replaced (rename) and reloaded by POST /reload and by
SIGHUP while clients send requests continuously: no request fails, each answer is wholly the old
or the new model's, and afterwards the new model answers; a reload of a damaged file answers 500,
logs one line and keeps the old model; SIGTERM while a large request is still arriving: it is
answered in full, new connections are refused, and the server exits 0."""
import os
import shutil
import signal
import socket
import threading
import time

import servelib
from servelib import hftest

ck = hftest.Checker("serve.lifecycle")
work = hftest.tempdir("serve-life-")
src = os.path.join(servelib.DATA, "diabetes.csv")
A = servelib.train(work, "a", src, "target", "ridge", "{alpha: [1.0]}")
B = servelib.train(work, "b", src, "target", "xgboost", "{n_estimators: 5, max_depth: 3, n_jobs: 1}")
with open(src) as f:
    lines = f.read().splitlines()
rows_csv = "\n".join(lines[:21]) + "\n"  # header + 20 rows
inp = os.path.join(work, "in.csv")
hftest.write(inp, rows_csv)
want = {"A": servelib.predict(A, inp, os.path.join(work, "pa.csv")),
        "B": servelib.predict(B, inp, os.path.join(work, "pb.csv"))}
ck.check(want["A"] != want["B"], "the two models differ")
live_dir = os.path.join(work, "live")
os.makedirs(live_dir)
live = os.path.join(live_dir, "model.h5")


def install(path):
    """Replaces the live model file atomically, as retrain's promotion does (temp name, rename)."""
    tmp = live + ".tmp"
    shutil.copyfile(path, tmp)
    os.rename(tmp, live)


install(A)
srv = servelib.Server(live, "--threads", "4", "--quiet")
stop = threading.Event()
results = []  # (status, which model)
lock = threading.Lock()


def client(keepalive):
    conn = srv.conn() if keepalive else None
    while not stop.is_set():
        try:
            st, _, body = srv.invoke(rows_csv, "text/csv;header=present", conn=conn)
            text = body.decode()
            which = "A" if text == want["A"] else "B" if text == want["B"] else "?"
        except Exception as e:  # a failed request is a failure of the test
            st, which = str(e), "!"
        with lock:
            results.append((st, which))


threads = [threading.Thread(target=client, args=(k,)) for k in (True, True, False)]
for t in threads:
    t.start()


def wait_for(which, limit=30):
    """Polls until the server answers with model `which` (bounded; not a timing assertion)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        st, _, body = srv.invoke(rows_csv, "text/csv;header=present")
        if st == 200 and body.decode() == want[which]:
            return True
        time.sleep(0.02)
    return False


try:
    time.sleep(0.3)
    install(B)
    st, _, body = srv.request("POST", "/reload")
    ck.check(st == 200, "POST /reload: %d %r" % (st, body))
    ck.check(wait_for("B"), "after /reload the new model answers")
    time.sleep(0.2)
    install(A)
    srv.proc.send_signal(signal.SIGHUP)
    ck.check(wait_for("A"), "after SIGHUP the new model answers")
    time.sleep(0.2)
    damaged = os.path.join(work, "damaged.h5")
    with open(A, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0x40
    with open(damaged, "wb") as f:
        f.write(data)
    install(damaged)
    st, _, body = srv.request("POST", "/reload")
    ck.check(st == 500 and b"damaged model" in body and b"previous model is still served" in body,
             "a damaged model: %d %r" % (st, body))
    time.sleep(0.2)
    ck.check(wait_for("A", 1), "the old model still answers after a failed reload")
    stop.set()
    for t in threads:
        t.join()
    m = servelib.metrics(srv.request("GET", "/metrics")[2].decode())
    ck.check(m.get("hyperfold_serve_model_reloads_total") == 2
             and m.get("hyperfold_serve_model_reload_failures_total") == 1, "reload counters: %r" % {
                 k: v for k, v in m.items() if "reload" in k})
finally:
    stop.set()
    for t in threads:
        t.join()
    rc = srv.stop()
ck.check(rc == 0, "exit 0: %d" % rc)
bad = [r for r in results if r[0] != 200 or r[1] not in ("A", "B")]
print("requests during reloads:", len(results), {r[1] for r in results})
ck.check(len(results) > 50 and not bad, "%d requests during the reloads, failed or mixed: %r" % (
    len(results), bad[:5]))
ck.check({r[1] for r in results} == {"A", "B"}, "answers from both models: %r" % (
    {r[1] for r in results}))
log = srv.log()
ck.check(log.count("damaged model") == 1 and "reloading" in log, "one log line: %r" % log)

# SIGTERM while a large request is still arriving: it is answered, then the server exits 0.
install(A)
srv = servelib.Server(live, "--threads", "2", "--quiet")
body = ("\n".join(lines[1:]) + "\n") * 40  # 17,680 rows, about 1 MB
raw = body.encode()
s = socket.create_connection(("127.0.0.1", srv.port))
s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv;header=present\r\n"
          b"Content-Length: %d\r\n\r\n" % (len(lines[0]) + 1 + len(raw)))
s.sendall(lines[0].encode() + b"\n" + raw[:len(raw) // 2])
time.sleep(0.2)
srv.proc.send_signal(signal.SIGTERM)
time.sleep(0.5)
ck.check(srv.proc.poll() is None, "the server waits for the request in flight")
try:
    socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
    refused = False
except OSError:
    refused = True
ck.check(refused, "no new connection is accepted while draining")
s.sendall(raw[len(raw) // 2:])
resp = b""
while True:
    chunk = s.recv(1 << 16)
    if not chunk:
        break
    resp += chunk
s.close()
head, _, payload = resp.partition(b"\r\n\r\n")
ck.check(head.startswith(b"HTTP/1.1 200"), "the request in flight is answered: %r" % head[:100])
n_pred = len(payload.decode().splitlines()) - 1
ck.check(n_pred == 40 * (len(lines) - 1), "all %d rows predicted: %d" % (
    40 * (len(lines) - 1), n_pred))
try:
    rc = srv.proc.wait(30)
except Exception:
    rc = None
ck.check(rc == 0, "exit 0 after draining: %r" % rc)
srv.err.close()
ck.done()
