#!/usr/bin/env python3
"""Flips bits of a model.h5 one at a time and runs `hyperfold predict` on each damaged copy.

Every outcome is put in one of these classes:
  harmless     exit 0 and the same predictions as the intact model
  detected     a non-zero exit (not a signal) with exactly one line on stderr
  multiline    a non-zero exit with more than one line on stderr (or none)
  changed      exit 0 with predictions that differ from the intact model's (silent damage)
  crash        killed by a signal, or a sanitizer report on stderr
  hang         still running after --timeout seconds

Usage: bitflip_model.py HYPERFOLD MODEL INPUT_CSV [--stride N] [--bits B] [--jobs J]
                        [--timeout S] [--show K]
  --stride N   flip in every N-th byte (default 1); --bits B: in each byte, B of its bits, chosen
               by the byte's offset so that a stride still covers every bit position (default 1);
  --show K     prints the first K cases of each class other than harmless and detected.
Prints a count per class; exit status 0 (it measures, it does not judge)."""
import argparse
import collections
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile


def env():
    e = dict(os.environ)
    for k, v in (("OMPI_ALLOW_RUN_AS_ROOT", "1"), ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"),
                 ("OMPI_MCA_rmaps_base_oversubscribe", "1"), ("OMPI_MCA_pml", "ob1"),
                 ("OPENBLAS_NUM_THREADS", "1"), ("ASAN_OPTIONS", "detect_leaks=0")):
        e.setdefault(k, v)
    return e


def predict(hyperfold, model, csv, out, timeout):
    """(returncode or 'hang', stderr, predictions text or None)."""
    if os.path.exists(out):
        os.unlink(out)
    try:
        p = subprocess.run([hyperfold, "predict", "--quiet", "--model", model, "--input", csv,
                            "--output", out], env=env(), capture_output=True, text=True,
                           errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang", "", None
    text = None
    if p.returncode == 0 and os.path.exists(out):
        with open(out) as f:
            text = f.read()
    return p.returncode, p.stderr, text


def classify(rc, err, text, reference):
    if rc == "hang":
        return "hang"
    if rc < 0 or rc >= 128 or "Sanitizer" in err or "runtime error" in err:
        return "crash"
    if rc != 0:
        return "detected" if len(err.strip().splitlines()) == 1 else "multiline"
    return "harmless" if text == reference else "changed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hyperfold")
    ap.add_argument("model")
    ap.add_argument("csv")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--bits", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--show", type=int, default=3)
    a = ap.parse_args()
    with open(a.model, "rb") as f:
        data = f.read()
    work = tempfile.mkdtemp(prefix="bitflip-")
    try:
        rc, err, reference = predict(a.hyperfold, a.model, a.csv, os.path.join(work, "ref.csv"),
                                     a.timeout)
        if rc != 0:
            sys.exit("the intact model does not predict: " + err)
        cases = [(i, (i // a.stride + k * 8 // a.bits) % 8)
                 for i in range(0, len(data), a.stride) for k in range(a.bits)]

        def run(case):
            i, bit = case
            name = os.path.join(work, "m%d_%d.h5" % (i, bit))
            b = bytearray(data)
            b[i] ^= 1 << bit
            with open(name, "wb") as f:
                f.write(b)
            rc, err, text = predict(a.hyperfold, name, a.csv, name + ".csv", a.timeout)
            os.unlink(name)
            return case, classify(rc, err, text, reference), rc, err

        counts = collections.Counter()
        shown = collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            for (i, bit), cls, rc, err in ex.map(run, cases):
                counts[cls] += 1
                if cls not in ("harmless", "detected") and shown[cls] < a.show:
                    shown[cls] += 1
                    lines = err.strip().splitlines()
                    keep = 40 if cls == "crash" else 3  # a crash's report in full
                    print("%s: byte %d bit %d: exit %s, %d stderr lines: %s" % (
                        cls, i, bit, rc, len(lines), " | ".join(lines[:keep])[:300 * keep]))
        print("%s: %d flips of %d bytes: %s" % (a.model, len(cases), len(data), ", ".join(
            "%s %d" % (k, counts[k]) for k in
            ("harmless", "detected", "multiline", "changed", "crash", "hang"))))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
