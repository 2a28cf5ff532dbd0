#!/usr/bin/python3
"""same_results.py A B [KEY...]: exit 0 when two results.json agree on every score, parameter and
selection, i.e. on everything but timing and placement (which rank or host ran what, fit times,
paths) and the further KEYs given (spec_sha256 where two specs differ on purpose); else print the
top-level keys that differ and exit 1. Used by the Slurm and hosts test libraries."""
import json
import sys

IGNORE = {"timing", "rank", "worker", "seconds", "fit_seconds", "model_path", "host", "hostname"}
IGNORE |= set(sys.argv[3:])


def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in IGNORE}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o


a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print(f"results.json key {k!r} differs:\n  {str(a.get(k))[:300]}\n  {str(b.get(k))[:300]}",
                  file=sys.stderr)
    sys.exit(1)
