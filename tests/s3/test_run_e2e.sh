#!/usr/bin/env bash
# `hyperfold run` end to end on S3 with 4 ranks: a dataset uploaded with awscli gives the same
# results.json as the local file, as a plain object (byte ranges read by every rank), a prefix of 3
# objects, a .csv.gz and a .zip; output.upload with SSE puts model.h5 / results.json / trials.csv /
# oof.csv / report.html
# in S3 byte-identical to the run directory (downloaded again with awscli); the audit log has
# every rank's requests; a rerun reuses the shards without reading the object again; an upload
# to a missing bucket fails clearly and the same spec uploads once the bucket exists; a wrong
# secret key fails with one clear line, leaks the secret nowhere and writes no shards, manifest
# or results.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
cd "$WORK"

# About 2.7 MB, so each of the 4 ranks reads a byte range of its own.
gen_csv data.csv 30000 11
size=$(stat -c %s data.csv)
[ "$size" -gt 2000000 ] || fail "dataset too small ($size bytes) for 4 byte ranges"

write_spec local.yaml local "$WORK/data.csv" ""
hfrun local.yaml || fail "the local run failed"
REF="$(run_dir local)/results.json"
[ -s "$REF" ] || fail "the local run wrote no results.json"

# 1. A plain object, read by byte ranges on every rank; outputs uploaded with SSE AES256.
awscp data.csv s3://bkt/e2e/data.csv
write_spec s3plain.yaml s3plain s3://bkt/e2e/data.csv "$EP" \
  "$(printf '  upload: s3://bkt/out/plain/\n  sse: AES256')"
hfrun s3plain.yaml 2>plain.err || fail "the s3 run failed: $(cat plain.err)"
D="$(run_dir s3plain)"
same_results "$REF" "$D/results.json" || fail "s3:// plain object: results differ from the local file"
grep -q '"source": *"s3://bkt/e2e/data.csv"' "$D/results.json" || fail "results.json does not name the s3 source"
PLAIN_UP="$(upload_uri "$D")"
case "$PLAIN_UP" in s3://bkt/out/plain/e2e/2*-*/) ;; *) fail "upload prefix $PLAIN_UP is not <upload>/<name>/<run-id>/" ;; esac
awscp --recursive "$PLAIN_UP" dl_plain/
for f in model.h5 results.json trials.csv oof.csv report.html; do
  cmp "$D/$f" "dl_plain/$f" || fail "uploaded $f differs from the run directory's"
done

# The audit log: one JSON line per request attempt, with rank/method/bucket/key/status; every
# rank issued ranged GETs of the object, and the ranges of the first (counting) pass tile the
# object after the header exactly once.
"$PYTHON" - "$D/audit.jsonl" "$size" "$RANKS" "${PLAIN_UP#s3://bkt/}" <<'PY'
import json, sys
path, size, ranks, up = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lines = [json.loads(l) for l in open(path)]
assert lines, "empty audit log"
for l in lines:
    for k in ("rank", "method", "bucket", "key", "status", "attempt", "time"):
        assert k in l, (k, l)
    assert l["principal"] == "S3RVER", l
    if l["method"] == "PUT":
        assert l["rank"] == 0 and l["key"].startswith(up), l
        assert l["action"] == "s3:PutObject" and l["operation"] == "PutObject", l
        assert l["resource"] == "arn:aws:s3:::bkt/" + l["key"], l
    else:
        assert l["bucket"] == "bkt" and l["key"] == "e2e/data.csv", l
        assert l["action"] == "s3:GetObject", l
        assert l["resource"] == "arn:aws:s3:::bkt/e2e/data.csv", l
        assert l["operation"] == ("HeadObject" if l["method"] == "HEAD" else "GetObject"), l
    assert l["status"] in (200, 206), l
    assert "Authorization" not in json.dumps(l), l
get_ranks = {l["rank"] for l in lines if l["method"] == "GET" and l["range"]}
assert get_ranks == set(range(ranks)), "ranks with ranged GETs: %s" % sorted(get_ranks)
assert {l["method"] for l in lines} >= {"HEAD", "GET", "PUT"}, lines
puts = sorted(l["key"] for l in lines if l["method"] == "PUT")
assert puts == [up + f for f in ["model.h5", "oof.csv", "profile.json", "report.html", "results.json",
                                 "trials.csv"]], puts
# The first ranged GET of each rank r > 0 starts where rank r-1's first GET ended.
first = {}
for l in lines:
    if l["method"] == "GET" and l["range"] and l["rank"] not in first and l["rank"] > 0:
        first[l["rank"]] = l["range"]
spans = [tuple(int(x) for x in first[r].split("=")[1].split("-")) for r in sorted(first)]
for (b0, e0), (b1, e1) in zip(spans, spans[1:]):
    assert b1 == e0 + 1, spans
assert spans[-1][1] == size - 1, (spans, size)
print("audit: %d lines from ranks %s" % (len(lines), sorted({l["rank"] for l in lines})))
PY
[ $? -eq 0 ] || fail "audit log check failed"
# The test server's secret equals its access key id (S3RVER): the string may appear only as the
# principal (the key id), nowhere else.
sed 's/"principal":"S3RVER"//' "$D/audit.jsonl" | grep -q "S3RVER" && fail "a credential appears in the audit log"

# 1b. The same spec again: the object is unchanged (HEAD), so the shards and the journal are
#     reused: no rank but 0 reads the object (rank 0 reads the header), same results.
lines_before=$(grep -c . "$D/audit.jsonl")
hfrun s3plain.yaml 2>plain2.err || fail "the s3 rerun failed: $(cat plain2.err)"
same_results "$REF" "$D/results.json" || fail "s3:// rerun on reused shards: results differ"
tail -n +"$((lines_before + 1))" "$D/audit.jsonl" >rerun_audit.jsonl
"$PYTHON" - rerun_audit.jsonl <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert any(l["method"] == "HEAD" for l in lines), "the rerun did not check the object"
gets = [l for l in lines if l["method"] == "GET"]
assert all(l["rank"] == 0 for l in gets) and len(gets) <= 1, "the rerun read the object again: %s" % gets
PY
[ $? -eq 0 ] || fail "the rerun did not reuse the shards"

# 1c. One rank and two ranks read the same object (one range / two ranges): same results.
for np in 1 2; do
  write_spec "s3np$np.yaml" "s3np$np" s3://bkt/e2e/data.csv "$EP"
  RANKS=$np hfrun "s3np$np.yaml" 2>np.err || fail "the $np-rank s3 run failed: $(cat np.err)"
  same_results "$REF" "$(run_dir "s3np$np")/results.json" || fail "s3:// at $np rank(s): results differ"
done

# 2. A prefix of 3 objects holding the same rows in the same order (each with the header).
mkdir parts
"$PYTHON" - data.csv <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines(True)
header, rows = lines[0], lines[1:]
cuts = [0, len(rows) // 3, 2 * len(rows) // 3 + 17, len(rows)]
for i in range(3):
    with open("parts/p-%d.csv" % i, "w") as f:
        f.write(header)
        f.writelines(rows[cuts[i]:cuts[i + 1]])
PY
awscp --recursive parts/ s3://bkt/parts/
write_spec s3prefix.yaml s3prefix s3://bkt/parts/ "$EP"
hfrun s3prefix.yaml 2>prefix.err || fail "the s3 prefix run failed: $(cat prefix.err)"
same_results "$REF" "$(run_dir s3prefix)/results.json" || fail "s3:// prefix: results differ"
for i in 0 1 2; do
  grep -q "\"key\":\"parts/p-$i.csv\"" "$(run_dir s3prefix)/audit.jsonl" || fail "p-$i.csv was not read"
done

# 3. A gzip object, through a pass-through proxy that records the SSE headers of the uploads
#    (aws:kms with a key id).
gzip -n -c data.csv >data.csv.gz
awscp data.csv.gz s3://bkt/e2e/data.csv.gz
PX="$("$SERVER" proxy "$WORK" pass pass 0)"
write_spec s3gz.yaml s3gz s3://bkt/e2e/data.csv.gz "$PX" \
  "$(printf '  upload: s3://bkt/out/gz/\n  sse: aws:kms\n  kms_key_id: alias/hf-test')"
hfrun s3gz.yaml 2>gz.err || fail "the s3 gzip run failed: $(cat gz.err)"
same_results "$REF" "$(run_dir s3gz)/results.json" || fail "s3:// .csv.gz: results differ"
GZ_UP="$(upload_uri "$(run_dir s3gz)")"
"$PYTHON" - pass.log "${GZ_UP#s3:/}" "$(run_dir s3gz)/audit.jsonl" <<'PY'
import json, sys
puts = [json.loads(l) for l in open(sys.argv[1]) if '"PUT"' in l]
keys = sorted(p["path"].split("?")[0] for p in puts)
assert keys == [sys.argv[2] + f for f in ["model.h5", "oof.csv", "profile.json", "report.html", "results.json",
                                          "trials.csv"]], keys
for p in puts:
    assert p["sse"] == "aws:kms" and p["sse_kms_key_id"] == "alias/hf-test", p
# The audit log names the key and the KMS action an SSE-KMS PUT implies.
audited = [json.loads(l) for l in open(sys.argv[3])]
kms = [l for l in audited if l["method"] == "PUT"]
assert len(kms) == 6 and all(l.get("kms_action") == "kms:GenerateDataKey" and
                             l.get("kms_key_id") == "alias/hf-test" for l in kms), kms
assert not any("kms_action" in l for l in audited if l["method"] != "PUT"), audited
PY
[ $? -eq 0 ] || fail "uploads did not carry aws:kms SSE headers"
awscp --recursive "$GZ_UP" dl_gz/
for f in model.h5 results.json trials.csv oof.csv report.html; do
  cmp "$(run_dir s3gz)/$f" "dl_gz/$f" || fail "uploaded $f (kms) differs from the run directory's"
done

# 4. A zip object with the CSV as its only entry, under a key that needs %-encoding (space, +,
#    =, non-ASCII) in the signed path.
ODD="s3://bkt/e2e/odd dir/data+ü=1.zip"
"$PYTHON" -c "import zipfile; zipfile.ZipFile('data.zip', 'w', zipfile.ZIP_DEFLATED).write('data.csv', 'data.csv')"
awscp data.zip "$ODD"
write_spec s3zip.yaml s3zip "$ODD" "$EP"
hfrun s3zip.yaml 2>zip.err || fail "the s3 zip run failed: $(cat zip.err)"
same_results "$REF" "$(run_dir s3zip)/results.json" || fail "s3:// .zip: results differ"
grep -q '"key":"e2e/odd dir/data+ü=1.zip"' "$(run_dir s3zip)/audit.jsonl" || fail "the zip key is not audited as is"

# 4b. output.upload to a bucket that does not exist: the run fails after writing its results
#     locally, with one line naming output.upload and the bucket; once the bucket exists the same
#     spec resumes from its journal and uploads.
write_spec s3late.yaml s3late s3://bkt/e2e/data.csv "$EP" "$(printf '  upload: s3://later/out/')"
rc=0
hfrun s3late.yaml >late.out 2>late.err || rc=$?
[ "$rc" -ne 0 ] || fail "an upload to a missing bucket succeeded"
[ "$(grep -c '^hyperfold: error:' late.err)" -eq 1 ] || fail "expected one error line: $(cat late.err)"
grep '^hyperfold: error:' late.err | grep "output.upload" | grep -q "bucket later does not exist" ||
  fail "unclear upload error: $(cat late.err)"
same_results "$REF" "$(run_dir s3late)/results.json" || fail "results before the failed upload differ"
awsx s3 mb s3://later >/dev/null
hfrun s3late.yaml 2>late2.err || fail "the rerun with the bucket present failed: $(cat late2.err)"
awscp --recursive "$(upload_uri "$(run_dir s3late)")" dl_late/
for f in model.h5 results.json trials.csv oof.csv report.html; do
  cmp "$(run_dir s3late)/$f" "dl_late/$f" || fail "uploaded $f (after rerun) differs"
done
same_results "$REF" "dl_late/results.json" || fail "uploaded results after the rerun differ"
"$PYTHON" -c "import json,sys; t=json.load(open(sys.argv[1]))['timing']; assert t['reused_shards'] and t['resumed_tasks'] > 0, t" \
  "$(run_dir s3late)/results.json" || fail "the rerun did not resume from the shards and journal"

# 5. A wrong secret key: non-zero exit, one line naming the object and the signature, the secret
#    nowhere, and nothing ingested.
SECRET="WrongSecret-e2e-4b1d9c07"
write_spec s3bad.yaml s3bad s3://bkt/e2e/data.csv "$EP"
rc=0
AWS_SECRET_ACCESS_KEY="$SECRET" hfrun s3bad.yaml >bad.out 2>bad.err || rc=$?
[ "$rc" -ne 0 ] || fail "a wrong secret key was accepted"
grep "s3://bkt/e2e/data.csv" bad.err | grep -q "signature" ||
  fail "no line names the object and the signature: $(cat bad.err)"
[ "$(grep -c "signature" bad.err)" -eq 1 ] || fail "the signature error is not reported once: $(cat bad.err)"
if grep -rq -- "$SECRET" bad.out bad.err "$(run_dir s3bad)"; then
  fail "the secret leaked into output or the run directory"
fi
no_final_shards "$(run_dir s3bad)"
grep -q '"status":403' "$(run_dir s3bad)/audit.jsonl" || fail "the refused request was not audited"
echo "s3 run end-to-end tests passed"
