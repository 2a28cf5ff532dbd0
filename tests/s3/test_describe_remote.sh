#!/usr/bin/env bash
# describe DATA on remote data: an s3:// object of the test S3 server and an http:// URL of the
# test HTTP server (no job spec), under mpirun at 2 ranks: the same profile as of the local file,
# and every remote read in the audit log given with --audit (the bucket and key, or the URL).
source "$(dirname "$0")/lib.sh"
cd "$WORK"
mkdir -p files
/usr/bin/python3 - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(4)
n = 2000
df = pd.DataFrame({"x": rng.normal(0, 1, n), "code": rng.integers(0, 5, n),
                   "city": rng.choice(["a", "b", "c"], n)})
df["y"] = np.where(df["x"] + rng.normal(0, 1, n) > 0, "yes", "no")
df.to_csv("files/d.csv", index=False)
PY
awscp files/d.csv s3://bkt/in/d.csv
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
run() { mpirun --oversubscribe -np 2 "$HYPERFOLD" describe "$@"; }
run files/d.csv --target y --json >local.json
run s3://bkt/in/d.csv --target y --json --endpoint "$EP" --path-style --audit s3.jsonl >s3.json
URL="$("$SERVER" http "$WORK" ranged yes yes "$WORK/files")"
run "$URL/d.csv" --target y --json --audit http.jsonl >http.json
/usr/bin/python3 - <<'PY' || fail "remote profiles differ from the local one"
import json
a, b, c = (json.load(open(f)) for f in ("local.json", "s3.json", "http.json"))
assert a["columns"] == b["columns"] == c["columns"], "columns differ"
assert a["association"] == b["association"] == c["association"]
cols = {x["name"]: x for x in a["columns"]}
assert cols["code"]["flags"][0]["flag"] == "looks_categorical"
PY
grep -q '"bkt"' s3.jsonl || fail "no S3 read audited: $(head -2 s3.jsonl)"
grep -q 'in/d.csv' s3.jsonl || fail "the key is not in the audit: $(head -2 s3.jsonl)"
grep -q "$URL/d.csv" http.jsonl || fail "the URL is not in the audit: $(head -2 http.jsonl)"
# No target: the header's last column is read through the remote source too.
run s3://bkt/in/d.csv --endpoint "$EP" --path-style --audit s3b.jsonl >t.txt
grep -q "no target" t.txt || fail "no target over S3: $(head -3 t.txt)"
# Without --audit: $HYPERFOLD_AUDIT, else the per-user log under $XDG_STATE_HOME.
HYPERFOLD_AUDIT="$WORK/env.jsonl" run s3://bkt/in/d.csv --target y --json --endpoint "$EP" --path-style >/dev/null
grep -q 'in/d.csv' env.jsonl || fail "describe did not audit to \$HYPERFOLD_AUDIT"
XDG_STATE_HOME="$WORK/state" run "$URL/d.csv" --target y --json >/dev/null
grep -q "$URL/d.csv" state/hyperfold/audit.jsonl || fail "describe did not audit to the per-user log"
echo "describe remote tests passed"
