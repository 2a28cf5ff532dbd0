#!/usr/bin/env bash
# The ingest at 1, 2 and 4 ranks: identical manifests and shard contents, values equal to what
# pandas reads from the same file, reuse on a second run, re-ingest when the file changes, and the
# same rows from .gz, .zip and directory sources.
set -euo pipefail
: "${HF_BUILD_DIR:?}" "${PYTHON:?}"
DRIVER="$HF_BUILD_DIR/tests/mpi_mpitest_ingest"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf_ingest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
run() { # np csv dir target shards skip [rejects] [task] [col=type...]
    local np=$1
    shift
    mpirun --oversubscribe -np "$np" "$DRIVER" ingest "$@"
}

# A CSV with quoted delimiters, quotes and newlines, CRLF line ends, a BOM, NA tokens, text,
# boolean and numeric columns; values drawn by numpy.
"$PYTHON" - "$WORK" <<'EOF'
import sys, numpy as np, gzip, zipfile, os
w = sys.argv[1]
rng = np.random.default_rng(7)
n = 3001
cats = ["red", "green", "blue, dark", 'say "hi"', "multi\nline", "Zeta", "émile"]
lines = ["num,cat,flag,count,y"]
def q(s):
    return '"' + s.replace('"', '""') + '"' if any(ch in s for ch in ',"\n') else s
for i in range(n):
    num = "NA" if i % 13 == 0 else repr(float(rng.normal() * 10 ** int(rng.integers(-5, 6))))
    cat = "" if i % 17 == 0 else cats[int(rng.integers(0, len(cats)))]
    flag = ["True", "False", "true", "FALSE"][int(rng.integers(0, 4))]
    count = str(int(rng.integers(-1000, 1000)))
    y = repr(float(rng.normal()))
    lines.append(",".join([num, q(cat), flag, count, y]))
text = "\ufeff" + "\r\n".join(lines) + "\r\n"
open(os.path.join(w, "data.csv"), "w", encoding="utf-8", newline="").write(text)
with gzip.open(os.path.join(w, "data.csv.gz"), "wb") as f:
    f.write(text.encode())
# The same rows split into three parts, each with the header.
body = lines[1:]
parts = [body[:1000], body[1000:2200], body[2200:]]
os.mkdir(os.path.join(w, "dir"))
with zipfile.ZipFile(os.path.join(w, "data.zip"), "w") as z:
    for k, p in enumerate(parts):
        t = "\r\n".join([lines[0]] + p) + "\r\n"
        open(os.path.join(w, "dir", "part%d.csv" % k), "w", encoding="utf-8", newline="").write(t)
        z.writestr("p%d.csv" % k, t)
    z.writestr("readme.txt", "not a csv")
EOF

for np in 1 2 4; do
    out=$(run $np "$WORK/data.csv" "$WORK/s$np" y 3 0)
    echo "np=$np: $out"
    case "$out" in *"reused=0 rows=3001 rejected=0"*) ;; *) echo "FAIL: np=$np: $out"; exit 1 ;; esac
done

"$PYTHON" - "$WORK" <<'EOF'
import sys, json, h5py, numpy as np, pandas as pd
w = sys.argv[1]
man = [json.load(open(f"{w}/s{np_}/manifest.json")) for np_ in (1, 2, 4)]
for m in man[1:]:
    for key in ("schema", "n_rows", "shards", "sources", "spec_hash", "rejected_rows"):
        assert m[key] == man[0][key], f"manifest {key} differs between rank counts"
def load(d, m):
    parts = [h5py.File(f"{d}/{s['file']}", "r") for s in m["shards"]]
    X = np.concatenate([p["X"][...] for p in parts])
    y = np.concatenate([p["y"][...] for p in parts])
    row = np.concatenate([p["row"][...] for p in parts])
    return X, y, row
X1, y1, r1 = load(f"{w}/s1", man[0])
for np_, m in ((2, man[1]), (4, man[2])):
    X, y, r = load(f"{w}/s{np_}", m)
    assert np.array_equal(X, X1, equal_nan=True) and np.array_equal(y, y1) and np.array_equal(r, r1)
# Against pandas.
# float_precision="round_trip": pandas' default float parser is not correctly rounded.
df = pd.read_csv(f"{w}/data.csv", keep_default_na=False, na_values=["", "NA", "NaN", "null", "?"],
                 encoding="utf-8-sig", float_precision="round_trip")
sch = man[0]["schema"]
assert [f["name"] for f in sch["features"]] == ["num", "cat", "flag", "count"]
assert [f["type"] for f in sch["features"]] == ["numeric", "categorical", "boolean", "numeric"]
assert sch["task"] == "regression" and sch["target"] == "y"
assert np.array_equal(X1[:, 0], df["num"].to_numpy(float), equal_nan=True), "num"
cats = np.unique(df["cat"].dropna().astype(str).to_numpy())
assert sch["features"][1]["categories"] == list(cats), "categories"
want = np.array([np.nan if isinstance(v, float) else float(np.searchsorted(cats, v)) for v in df["cat"]])
assert np.array_equal(X1[:, 1], want, equal_nan=True), "category codes"
flag = df["flag"].astype(str).str.lower().map({"true": 1.0, "false": 0.0}).to_numpy()
assert np.array_equal(X1[:, 2], flag), "boolean codes"
assert np.array_equal(X1[:, 3], df["count"].to_numpy(float)), "count"
assert np.array_equal(y1, df["y"].to_numpy(float)), "y"
assert np.array_equal(r1, np.arange(len(df))), "row"
print("shards equal at 1, 2, 4 ranks and equal to pandas")
EOF

# Reuse on a second run (another rank count), re-ingest after the file changes.
out=$(run 2 "$WORK/data.csv" "$WORK/s1" y 3 0)
case "$out" in *"reused=1 rows=3001"*) ;; *) echo "FAIL: no reuse: $out"; exit 1 ;; esac
printf '1.5,red,true,3,0.25\r\n' >>"$WORK/data.csv"
out=$(run 2 "$WORK/data.csv" "$WORK/s1" y 3 0)
case "$out" in *"reused=0 rows=3002"*) ;; *) echo "FAIL: no re-ingest: $out"; exit 1 ;; esac
# A damaged shard is detected and the ingest redone.
out=$(run 2 "$WORK/data.csv" "$WORK/s1" y 3 0)
case "$out" in *"reused=1"*) ;; *) echo "FAIL: no reuse: $out"; exit 1 ;; esac
printf 'x' >>"$WORK/s1/part-00001.h5"
out=$(run 2 "$WORK/data.csv" "$WORK/s1" y 3 0)
case "$out" in *"reused=0 rows=3002"*) ;; *) echo "FAIL: damaged shard reused: $out"; exit 1 ;; esac

# .gz (rank 0 parses), .zip (one part per .csv entry) and a directory give the same shards.
for src in data.csv.gz data.zip dir; do
    for np in 1 3; do
        out=$(run $np "$WORK/$src" "$WORK/x_${src}_$np" y 3 0)
        case "$out" in *"reused=0 rows=3001"*) ;; *) echo "FAIL: $src np=$np: $out"; exit 1 ;; esac
    done
done
"$PYTHON" - "$WORK" <<'EOF'
import sys, json, h5py, numpy as np
w = sys.argv[1]
def load(d):
    m = json.load(open(f"{d}/manifest.json"))
    X = np.concatenate([h5py.File(f"{d}/{s['file']}", "r")["X"][...] for s in m["shards"]])
    return m["schema"], X
ref_s, ref_X = load(f"{w}/s2")  # unused: s2 still holds the original 3001 rows
for src in ("data.csv.gz", "data.zip", "dir"):
    for np_ in (1, 3):
        s, X = load(f"{w}/x_{src}_{np_}")
        assert s == ref_s, f"{src} np={np_}: schema differs"
        assert np.array_equal(X, ref_X, equal_nan=True), f"{src} np={np_}: X differs"
print("gz, zip and directory sources give the same rows")
EOF

# Bad rows: an error with FILE:LINE:COL, or skipped into rejects.csv with on_bad_rows: skip.
printf 'a,b,y\n1,2,3\n4,oops\n5,6,7\n' >"$WORK/bad.csv"
if out=$(run 2 "$WORK/bad.csv" "$WORK/bad" y 0 0 2>&1); then
    echo "FAIL: bad row accepted: $out"; exit 1
fi
echo "$out" | grep -q "bad.csv:3:7: got 2 fields, expected 3" || { echo "FAIL: message: $out"; exit 1; }
out=$(run 2 "$WORK/bad.csv" "$WORK/bad" y 0 1 "$WORK/rejects.csv")
case "$out" in *"rows=2 rejected=1"*) ;; *) echo "FAIL: skip: $out"; exit 1 ;; esac
grep -q '^"[^"]*bad.csv",3,"3:7: got 2 fields' "$WORK/rejects.csv" || { cat "$WORK/rejects.csv"; exit 1; }
echo "test_ingest: all checks passed"
