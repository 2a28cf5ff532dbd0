#!/usr/bin/env bash
# Batch transform (`hyperfold predict`) from and to S3 against the test S3 server: a run writes a
# classification model, `hyperfold s3 cp` uploads it; predict reads --model s3://, --input
# s3://bkt/in/ (3 objects), writes --output s3://bkt/out/npN/ with
# --keep-columns id at 1, 2 and 3 ranks: the downloaded outputs equal a local predict's
# byte for byte (and each equals the predict of its object alone); the audit log has rank 0's
# model GET and output PUTs and every object's GETs; --model s3://bkt/prefix/ finds model.h5;
# --join and --format jsonl (parsed by Python's json, equal to the CSV); the bad cases each give
# one clear line and a non-zero exit: an unknown column without the flags, a missing keep column,
# a model URI that does not exist, an object that is not a model, a prefix input with a file
# output and no --join.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
cd "$WORK"

# Training data and 3 input objects: id (a text key, some quoted with commas and quotes), two
# numbers, a category (one header for all: the objects of a prefix share it); the label has a
# comma in one class name.
"$PYTHON" - <<'PY'
import os, random
def gen(path, n, seed, label):
    rnd = random.Random(seed)
    with open(path, "w") as f:
        f.write("id,x0,x1,color" + (",label" if label else "") + "\n")
        for i in range(n):
            x0, x1 = rnd.gauss(0, 1), rnd.gauss(0, 1)
            c = rnd.choice(["red", "green", "blue"])
            s = x0 - x1 + (0.8 if c == "red" else 0)
            lab = "yes" if s + rnd.gauss(0, 0.7) > 0 else ("no" if s > -1.5 else "maybe, not")
            key = '"id %d, q""x"' % (seed * 1000 + i) if i % 7 == 0 else "r%d-%d" % (seed, i)
            f.write("%s,%.6f,%.6f,%s" % (key, x0, x1, c) + (',"%s"' % lab if label else "") + "\n")
gen("train.csv", 400, 1, True)
os.makedirs("in", exist_ok=True)
gen("in/a.csv", 37, 2, False)
gen("in/b.csv", 51, 3, False)
gen("in/c.csv", 23, 4, False)
PY
cat >spec.yaml <<EOF
name: bt
data: {source: "$WORK/train.csv", target: label, task: classification, drop: [id]}
cv: {folds: 3, strategy: stratified, seed: 1}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params: {C: [0.1, 1.0], max_iter: 200}
search: {strategy: grid}
objective: {metric: accuracy}
output: {dir: "$WORK/runs"}
EOF
timeout 120 mpirun --oversubscribe -np 2 "$HYPERFOLD" run --quiet spec.yaml || fail "the run failed"
MODEL="$WORK/runs/bt/model.h5"
[ -s "$MODEL" ] || fail "the run wrote no model.h5"

hfs3 cp "$MODEL" s3://bkt/models/m1/model.h5 --endpoint "$EP" >/dev/null || fail "s3 cp of the model"
for f in a b c; do
  hfs3 cp "in/$f.csv" "s3://bkt/in/$f.csv" --endpoint "$EP" >/dev/null || fail "s3 cp of in/$f.csv"
done
# Not a model: a CSV under the name model.h5.
hfs3 cp in/a.csv s3://bkt/models/bad/model.h5 --endpoint "$EP" >/dev/null || fail "s3 cp"

predict() { # NP ARGS...: mpirun -np NP hyperfold predict --quiet ARGS
  local np="$1"
  shift
  timeout 120 mpirun --oversubscribe -np "$np" "$HYPERFOLD" predict --quiet "$@"
}

# The local reference: a directory in, a directory out (one <name>.out per input file), and
# each object predicted alone gives the same bytes.
predict 2 --model "$MODEL" --input in/ --output ref/ --keep-columns id || fail "local predict"
for f in a b c; do
  [ -s "ref/$f.csv.out" ] || fail "local predict wrote no ref/$f.csv.out"
  predict 1 --model "$MODEL" --input "in/$f.csv" --output "single_$f.csv" --keep-columns id ||
    fail "local predict of in/$f.csv"
  cmp "ref/$f.csv.out" "single_$f.csv" || fail "ref/$f.csv.out differs from in/$f.csv's predict"
done
head -1 ref/a.csv.out | grep -qx 'id,prediction,"proba_maybe, not",proba_no,proba_yes' ||
  fail "unexpected header: $(head -1 ref/a.csv.out)"
# The kept ids are the input's, in input order, quoted as needed.
"$PYTHON" - <<'PY' || fail "kept ids or row order differ from the input"
import csv
for f in "abc":
    ids = [r["id"] for r in csv.DictReader(open("in/%s.csv" % f))]
    out = list(csv.DictReader(open("ref/%s.csv.out" % f)))
    assert [r["id"] for r in out] == ids, f
    for r in out:
        p = [float(r[k]) for k in r if k.startswith("proba_")]
        assert abs(sum(p) - 1) < 1e-12, r
PY

# S3 in, S3 out at 1, 2, 3 ranks: byte-identical to the local reference.
for np in 1 2 3; do
  predict "$np" --model s3://bkt/models/m1/model.h5 --input s3://bkt/in/ \
    --output "s3://bkt/out/np$np/" --keep-columns id --endpoint "$EP" \
    --audit "$WORK/audit$np.jsonl" 2>"err$np" || fail "s3 predict at $np ranks: $(cat "err$np")"
  awscp --recursive "s3://bkt/out/np$np/" "dl$np/"
  [ "$(ls "dl$np" | wc -l)" -eq 3 ] || fail "expected 3 output objects at $np ranks: $(ls "dl$np")"
  for f in a b c; do
    cmp "ref/$f.csv.out" "dl$np/$f.csv.out" || fail "s3://bkt/out/np$np/$f.csv.out differs"
  done
  "$PYTHON" - "$WORK/audit$np.jsonl" "$np" <<'PY' || fail "audit log at $np ranks"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
np = int(sys.argv[2])
for l in lines:
    assert l["bucket"] == "bkt" and l["status"] in (200, 206), l
model = [l for l in lines if l["key"] == "models/m1/model.h5"]
assert model and {l["rank"] for l in model} == {0}, model  # one reader: rank 0
assert any(l["method"] == "GET" for l in model), model
puts = sorted(l["key"] for l in lines if l["method"] == "PUT")
assert puts == ["out/np%d/%s.csv.out" % (np, f) for f in "abc"], puts
assert all(l["rank"] == 0 for l in lines if l["method"] == "PUT")
# The listing (its prefix; its key is null, its resource the bucket) and each object.
name = lambda l: l["key"] if l["key"] is not None else "list:" + l["prefix"]
got = {name(l) for l in lines if l["method"] == "GET" and (l["key"] or l["prefix"]).startswith("in/")}
assert got == {"list:in/", "in/a.csv", "in/b.csv", "in/c.csv"}, got
assert [l["resource"] for l in lines if l["operation"] == "ListObjectsV2"] == ["arn:aws:s3:::bkt"]
# The server's secret equals its access key id: S3RVER only as the principal.
assert all(l["principal"] == "S3RVER" for l in lines), lines
assert "S3RVER" not in open(sys.argv[1]).read().replace('"principal":"S3RVER"', "")
PY
done
echo "s3 in/out at 1, 2, 3 ranks: byte-identical to the local predict"

# --model s3://bkt/models/m1/ (a prefix holding model.h5), one object in, one object out.
predict 2 --model s3://bkt/models/m1/ --input s3://bkt/in/b.csv --output s3://bkt/out/b.csv \
  --keep-columns id --endpoint "$EP" || fail "predict with a model prefix"
awscp s3://bkt/out/b.csv dl_b.csv
cmp ref/b.csv.out dl_b.csv || fail "the single-object output differs"

# --join: one file; --format jsonl: the same rows as JSON objects, numbers as the CSV's text.
predict 3 --model s3://bkt/models/m1/model.h5 --input s3://bkt/in/ --output s3://bkt/out/all.csv \
  --join --keep-columns id --endpoint "$EP" || fail "predict --join"
predict 2 --model s3://bkt/models/m1/model.h5 --input s3://bkt/in/ \
  --output s3://bkt/out/all.jsonl --join --format jsonl --keep-columns id --endpoint "$EP" ||
  fail "predict --format jsonl"
awscp s3://bkt/out/all.csv all.csv
awscp s3://bkt/out/all.jsonl all.jsonl
{ head -1 ref/a.csv.out; for f in a b c; do tail -n +2 "ref/$f.csv.out"; done; } >want_all.csv
cmp want_all.csv all.csv || fail "the joined output is not the outputs concatenated"
"$PYTHON" - <<'PY' || fail "jsonl differs from the csv"
import csv, json
rows = list(csv.reader(open("all.csv")))
head, rows = rows[0], rows[1:]
objs = [json.loads(l, parse_float=str, parse_int=str) for l in open("all.jsonl")]
assert len(objs) == len(rows) == 111, (len(objs), len(rows))
for o, r in zip(objs, rows):
    assert list(o) == head, (list(o), head)
    assert [o[k] for k in head] == r, (o, r)
    assert all(isinstance(json.loads(json.dumps(o))[k], str) for k in head)
# and as plain JSON numbers
for l in open("all.jsonl"):
    o = json.loads(l)
    assert isinstance(o["proba_yes"], float) and isinstance(o["prediction"], str)
PY
echo "--join and --format jsonl agree with the csv"

# Bad cases: one clear line each, a non-zero exit, no output written.
bad() { # NAME EXPECTED-TEXT ARGS...
  local name="$1" want="$2"
  shift 2
  if predict 1 "$@" --endpoint "$EP" 2>"$name.err" >/dev/null; then
    fail "$name: predict succeeded"
  fi
  [ "$(grep -c '^hyperfold: error:' "$name.err")" -eq 1 ] || fail "$name: $(cat "$name.err")"
  grep '^hyperfold: error:' "$name.err" | grep -qF -- "$want" || fail "$name: unclear: $(cat "$name.err")"
  grep '^hyperfold: error:' "$name.err"
}
printf 'id,x0,x1,color,extra\nk1,0.5,0.25,red,9\n' >extra.csv
hfs3 cp extra.csv s3://bkt/extra/extra.csv --endpoint "$EP" >/dev/null
bad unknown 'unknown columns "id", "extra"' --model s3://bkt/models/m1/model.h5 \
  --input s3://bkt/extra/extra.csv --output s3://bkt/out/bad1.csv
grep -q -- "--keep-columns" unknown.err && grep -q -- "--ignore-extra-columns" unknown.err ||
  fail "the unknown-columns message names neither flag: $(cat unknown.err)"
bad unknown2 'unknown columns "extra"' --model s3://bkt/models/m1/model.h5 \
  --input s3://bkt/extra/extra.csv --output s3://bkt/out/bad1.csv --keep-columns id
predict 1 --model s3://bkt/models/m1/model.h5 --input s3://bkt/extra/extra.csv \
  --output ok_extra.csv --keep-columns id --ignore-extra-columns --endpoint "$EP" ||
  fail "--ignore-extra-columns did not skip the extra column"
bad keep 'columns to keep "nope" are not in the header' --model s3://bkt/models/m1/model.h5 \
  --input s3://bkt/in/ --output s3://bkt/out/bad2/ --keep-columns id,nope
bad nomodel 's3://bkt/models/none/model.h5' --model s3://bkt/models/none/model.h5 \
  --input s3://bkt/in/ --output s3://bkt/out/bad3/
bad notmodel 's3://bkt/models/bad/model.h5: not an HDF5 file' --model s3://bkt/models/bad/ \
  --input s3://bkt/in/ --output s3://bkt/out/bad4/
bad ambiguous 'expected a directory or prefix ending in / (one <name>.out per input object), or --join' \
  --model s3://bkt/models/m1/model.h5 --input s3://bkt/in/ --output s3://bkt/out/bad5
awsx s3 ls s3://bkt/out/ >listing.txt
grep -q "bad" listing.txt && fail "a failed predict wrote an output: $(cat listing.txt)"
# hyperfold evaluate with the model and the labelled rows on S3: the same evaluation as a local one.
hfs3 cp train.csv s3://bkt/labelled/train.csv --endpoint "$EP" >/dev/null || fail "s3 cp train.csv"
timeout 120 mpirun --oversubscribe -np 2 "$HYPERFOLD" evaluate --quiet --model "$MODEL" \
  --input train.csv --ignore-extra-columns --output eval_local.json || fail "local evaluate"
timeout 120 mpirun --oversubscribe -np 2 "$HYPERFOLD" evaluate --quiet \
  --model s3://bkt/models/m1/model.h5 --input s3://bkt/labelled/train.csv --ignore-extra-columns \
  --output eval_s3.json --endpoint "$EP" --audit "$WORK/audit_eval.jsonl" || fail "s3 evaluate"
"$PYTHON" - <<'PY' || fail "the S3 evaluation differs from the local one"
import json
a, b = json.load(open("eval_local.json")), json.load(open("eval_s3.json"))
a.pop("source"), b.pop("source")
assert a == b and a["n_rows"] == 400, (a.get("n_rows"), b.get("n_rows"))
keys = {l["key"] for l in map(json.loads, open("audit_eval.jsonl"))}
assert {"models/m1/model.h5", "labelled/train.csv"} <= keys, keys
PY

# hyperfold serve --model s3://... (endpoint and credentials from the environment, no MPI): its
# answers equal the local predict's columns for the same rows.
AWS_ENDPOINT_URL="$EP" "$HYPERFOLD" serve --model s3://bkt/models/m1/model.h5 --port 0 --quiet \
  >serve.out 2>serve.err &
SERVE_PID=$!
for _ in $(seq 100); do grep -q "serving" serve.out && break; sleep 0.1; done
"$PYTHON" - serve.out <<'PY' || { kill "$SERVE_PID"; fail "serve --model s3://: $(cat serve.err)"; }
import csv, io, re, sys, urllib.request
m = re.search(r"on http://([0-9.]+):([0-9]+)", open(sys.argv[1]).read())
assert m, "no serving line"
rows = list(csv.reader(open("in/a.csv")))
body = "".join(",".join(csv_row) + "\n" for csv_row in
               (r[1:] for r in rows[1:]))
req = urllib.request.Request("http://%s:%s/invocations" % m.groups(), data=body.encode(),
                             headers={"Content-Type": "text/csv"})
got = urllib.request.urlopen(req).read().decode()
ref = list(csv.reader(open("ref/a.csv.out")))
want = io.StringIO()
w = csv.writer(want, lineterminator="\n")
for r in ref:
    w.writerow(r[1:])
assert got == want.getvalue(), (got[:300], want.getvalue()[:300])
PY
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0 on SIGTERM"

echo "OK"
