#!/usr/bin/env bash
# Least privilege, checked against what a real run did (issue 16): a job with a prefix source
# (ListObjectsV2, HEAD, ranged GETs) and output.upload with SSE-KMS (single PUTs and multipart
# uploads) runs twice against the test S3 server, and a second job shares its upload prefix.
# - Every run session uploads under <upload>/<name>/<run-id>/: the three sessions' objects are all
#   there, each byte-identical to what its session wrote (listed and compared).
# - `hyperfold iam-policy` prints the policy; every audited request of the job (action, resource,
#   s3:prefix; the KMS action on the key) is allowed by it under a small IAM evaluator
#   (iam_eval.py); it grants no "*" action or resource; every statement is used by an audited
#   request except AbortFailedUploads (failure-only); requests the job did not make (another job's
#   upload prefix, another bucket, another listing prefix, another key, DeleteObject) are denied.
# - The audit log loads into a table with the jq commands docs/security.md shows.
# - Reading an SSE-KMS object is audited with kms:Decrypt on the key its answer names.
# - A job whose S3 source is SSE-KMS encrypted with another key (s3.kms_key_ids): the policy
#   grants kms:Decrypt on exactly that key, and every request of a real read of the source
#   (`describe JOB.yaml` against the stand-in endpoint, audited) is allowed by it; SSE-KMS
#   without a named key (output.sse: aws:kms alone) prints one warning line on stderr.
# - An invalid spec: exit 2 and one error line.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
cd "$WORK"
RANKS=2
KEY="arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SRCKEY="arn:aws:kms:us-east-1:111122223333:key/5678efab-56ef-78ab-90cd-5678901234cd"
# Small multipart thresholds so that model.h5 and report.html go up as multipart uploads.
export HF_S3_MULTIPART_THRESHOLD=20000 HF_S3_PART_SIZE=20000

gen_csv data.csv 1200 5
head -1 data.csv >hdr.csv
for i in 0 1 2; do
  { cat hdr.csv; sed -n "$((2 + i * 400)),$((1 + (i + 1) * 400))p" data.csv; } >"p-$i.csv"
  awscp "p-$i.csv" "s3://bkt/in/parts/p-$i.csv"
done
UP="$(printf '  upload: s3://bkt/out/shared/\n  sse: aws:kms\n  kms_key_id: %s' "$KEY")"
write_spec job.yaml iam s3://bkt/in/parts/ "$EP" "$UP"
D="$(run_dir iam)"

# Session 1, then session 2 of the same job (resumes; uploads again under a new run id).
hfrun job.yaml 2>run1.err || fail "the first run failed: $(cat run1.err)"
U1="$(upload_uri "$D")"
cp "$D/results.json" results1.json
cp "$D/model.h5" model1.h5
hfrun job.yaml 2>run2.err || fail "the rerun failed: $(cat run2.err)"
U2="$(upload_uri "$D")"
[ "$U1" != "$U2" ] || fail "two sessions got the same upload prefix $U1"
case "$U1" in s3://bkt/out/shared/e2e/2*Z-*/) ;; *) fail "upload prefix $U1 is not <upload>/<name>/<run-id>/" ;; esac
"$PYTHON" -c 'import json,sys; u=json.load(open(sys.argv[1]))["upload"]; assert sys.argv[2].endswith("/" + u["run_id"] + "/"), u' \
  "$D/results.json" "$U2" || fail "results.json's upload.run_id does not name the prefix"

# A second job sharing the upload prefix.
sed 's/^name: e2e$/name: other/' job.yaml | sed "s|$RUNS/iam|$RUNS/other|" >other.yaml
hfrun other.yaml 2>other.err || fail "the second job failed: $(cat other.err)"
D2="$RUNS/other/other"
U3="$(upload_uri "$D2")"
case "$U3" in s3://bkt/out/shared/other/*/) ;; *) fail "the second job's prefix $U3" ;; esac

# Both sessions' objects and the other job's are intact.
awsx s3 ls --recursive s3://bkt/out/shared/ >listing.txt
for u in "$U1" "$U2" "$U3"; do
  for f in model.h5 results.json trials.csv oof.csv report.html profile.json; do
    grep -q " ${u#s3://bkt/}$f\$" listing.txt || fail "$u$f is missing: $(cat listing.txt)"
  done
done
[ "$(grep -c . listing.txt)" -eq 18 ] || fail "expected 18 objects under the shared prefix: $(cat listing.txt)"
awscp "${U1}results.json" up1_results.json
cmp up1_results.json results1.json || fail "session 1's results.json was overwritten"
awscp "${U1}model.h5" up1_model.h5
cmp up1_model.h5 model1.h5 || fail "session 1's model.h5 was overwritten"
awscp "${U2}results.json" up2_results.json
cmp up2_results.json "$D/results.json" || fail "session 2's results.json differs from the run's"

# The policy against the audit log.
"$HYPERFOLD" iam-policy job.yaml >policy.json 2>policy.err || fail "iam-policy failed: $(cat policy.err)"
"$HYPERFOLD" iam-policy job.yaml --role Trainer --account 111122223333 >policy_role.json ||
  fail "iam-policy --role failed"
grep -q '"UploadPart"' "$D/audit.jsonl" || fail "no multipart upload in the run (thresholds not applied?)"
"$PYTHON" "$S3DIR/iam_eval.py" policy.json policy_role.json "$D/audit.jsonl" "$D2/audit.jsonl" \
  "$KEY" || fail "the policy does not match the audit log"

# The audit log as a table with jq (docs/security.md).
jq -r '[.time, .principal, .action, .resource, .status, .bytes] | @tsv' "$D/audit.jsonl" >table.tsv ||
  fail "jq could not read the audit log"
[ "$(grep -c . table.tsv)" -eq "$(grep -c . "$D/audit.jsonl")" ] || fail "jq table: wrong row count"
awk -F'\t' 'NF != 6 || $2 != "S3RVER" || $3 !~ /^s3:/ || $4 !~ /^arn:aws:s3:::bkt/ { bad = 1 } END { exit bad }' \
  table.tsv || fail "jq table rows: $(head -3 table.tsv)"
jq -s -r 'group_by(.action) | map([.[0].action, length] | @tsv) | .[]' "$D/audit.jsonl" >counts.tsv ||
  fail "jq per-action count failed"
echo "requests per action (jq):" && cat counts.tsv
"$PYTHON" - "$D/audit.jsonl" counts.tsv <<'PY' || fail "jq's per-action counts differ from the log"
import collections, json, sys
want = collections.Counter(json.loads(l)["action"] for l in open(sys.argv[1]))
got = {a: int(n) for a, n in (l.rstrip("\n").split("\t") for l in open(sys.argv[2]))}
assert got == dict(want), (got, want)
assert set(got) == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}, got
PY

# Every command audits by default: predict, evaluate, serve and s3 (no spec) to $HYPERFOLD_AUDIT,
# else ~/.local/state/hyperfold/audit.jsonl; validate to the run directory's audit.jsonl.
DEF="$HOME/.local/state/hyperfold/audit.jsonl"
[ ! -e "$DEF" ] || fail "$DEF exists before any command without a spec ran"
mpirun --oversubscribe -np 2 "$HYPERFOLD" predict --quiet --model "${U1}model.h5" \
  --input s3://bkt/in/parts/p-1.csv --output preds.csv --endpoint "$EP" 2>pred.err ||
  fail "predict from S3 failed: $(cat pred.err)"
grep -q '"action":"s3:GetObject","resource":"arn:aws:s3:::bkt/'"${U1#s3://bkt/}"'model.h5"' "$DEF" ||
  fail "predict's model download is not in the default audit log"
grep -q '"resource":"arn:aws:s3:::bkt/in/parts/p-1.csv"' "$DEF" || fail "predict's input reads are not audited"
mpirun --oversubscribe -np 2 "$HYPERFOLD" evaluate --quiet --model "${U1}model.h5" \
  --input s3://bkt/in/parts/p-2.csv --endpoint "$EP" >/dev/null 2>eval.err ||
  fail "evaluate from S3 failed: $(cat eval.err)"
grep -q '"resource":"arn:aws:s3:::bkt/in/parts/p-2.csv"' "$DEF" || fail "evaluate's reads are not audited"
HYPERFOLD_AUDIT="$WORK/serve.jsonl" "$HYPERFOLD" serve --model s3://bkt/no/model.h5 --port 0 \
  >/dev/null 2>serve.err && fail "serve of a missing model started"
grep -q '"operation":"HeadObject","action":"s3:GetObject","resource":"arn:aws:s3:::bkt/no/model.h5"' \
  "$WORK/serve.jsonl" || fail "serve's model download is not audited to HYPERFOLD_AUDIT"
hfs3 head s3://bkt/in/parts/p-0.csv --endpoint "$EP" >/dev/null || fail "s3 head failed"
[ "$(grep -c '"resource":"arn:aws:s3:::bkt/in/parts/p-0.csv"' "$DEF")" -eq 1 ] ||
  fail "hyperfold s3 head is not audited by default"
before=$(grep -c . "$D/audit.jsonl")
"$HYPERFOLD" validate job.yaml >validate.out 2>validate.err || fail "validate failed: $(cat validate.err)"
tail -n +"$((before + 1))" "$D/audit.jsonl" | grep -q '"action":"s3:ListBucket"' ||
  fail "validate's reads are not in the run directory's audit log"
HYPERFOLD_AUDIT=off hfs3 head s3://bkt/in/parts/p-0.csv --endpoint "$EP" >/dev/null
[ "$(grep -c '"resource":"arn:aws:s3:::bkt/in/parts/p-0.csv"' "$DEF")" -eq 1 ] ||
  fail "HYPERFOLD_AUDIT=off still audited"

# Reading an SSE-KMS object: the answer names the key, and the GetObject line records kms:Decrypt
# on it (the HEAD decrypts nothing). s3rver sends no SSE headers: a stand-in endpoint does.
"$PYTHON" "$S3DIR/kms_echo_server.py" "$SRCKEY" >kms_port.txt &
KMS_PID=$!
for _ in $(seq 50); do [ -s kms_port.txt ] && break; sleep 0.1; done
KP="$(cat kms_port.txt)"
[ -n "$KP" ] || fail "the SSE-KMS stand-in endpoint did not start"
hfs3 cp s3://enc/data/o.csv enc.csv --endpoint "http://127.0.0.1:$KP" --audit kms.jsonl >/dev/null ||
  fail "reading from the SSE-KMS stand-in failed"
# A job reading that source: the key named in s3.kms_key_ids, the read audited by describe.
{
  printf 'name: enc\ndata: {source: "s3://enc/data/o.csv", target: y, task: regression}\n'
  printf 'model: {type: ridge}\noutput: {dir: "%s"}\n' "$RUNS/enc"
  printf 's3: {endpoint: "http://127.0.0.1:%s", kms_key_ids: ["%s"]}\n' "$KP" "$SRCKEY"
} >enc.yaml
"$HYPERFOLD" describe enc.yaml >enc_describe.out 2>enc_describe.err ||
  fail "describe of the SSE-KMS source failed: $(cat enc_describe.err)"
kill "$KMS_PID"
"$HYPERFOLD" iam-policy enc.yaml >enc_policy.json 2>enc_policy.err ||
  fail "iam-policy of the SSE-KMS source job failed: $(cat enc_policy.err)"
[ ! -s enc_policy.err ] || fail "iam-policy warned about a job whose keys are named: $(cat enc_policy.err)"
"$PYTHON" "$S3DIR/iam_eval.py" --source-key enc_policy.json "$RUNS/enc/enc/audit.jsonl" "$SRCKEY" ||
  fail "the policy does not cover the SSE-KMS source read: $(cat enc_policy.json)"
# The same job without s3.kms_key_ids: no KMS grant, so the audited kms:Decrypt is denied.
sed 's/, kms_key_ids: \[[^]]*\]//' enc.yaml >enc_nokey.yaml
"$HYPERFOLD" iam-policy enc_nokey.yaml >enc_nokey.json || fail "iam-policy enc_nokey.yaml failed"
"$PYTHON" "$S3DIR/iam_eval.py" --source-key enc_nokey.json "$RUNS/enc/enc/audit.jsonl" "$SRCKEY" \
  >/dev/null 2>&1 && fail "without s3.kms_key_ids the policy still allowed the source's kms:Decrypt"
# SSE-KMS uploads without a named key: one warning line, and no KMS statement.
sed 's/^  kms_key_id: .*$//' job.yaml >nokey.yaml
"$HYPERFOLD" iam-policy nokey.yaml >nokey.json 2>nokey.err || fail "iam-policy nokey.yaml failed: $(cat nokey.err)"
[ "$(grep -c . nokey.err)" -eq 1 ] && grep -q "warning: iam-policy: nokey.yaml:.*output.sse is aws:kms without output.kms_key_id" nokey.err ||
  fail "expected one warning line about output.sse without a key: $(cat nokey.err)"
! grep -q '"kms:' nokey.json || fail "a KMS grant without a named key: $(cat nokey.json)"
"$PYTHON" - kms.jsonl "$SRCKEY" <<'PY' || fail "the SSE-KMS read is not audited as kms:Decrypt: $(cat kms.jsonl)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
heads = [l for l in lines if l["operation"] == "HeadObject"]
gets = [l for l in lines if l["operation"] == "GetObject"]
assert heads and gets, lines
assert all("kms_action" not in l for l in heads), heads
assert all(l["kms_action"] == "kms:Decrypt" and l["kms_key_id"] == sys.argv[2] for l in gets), gets
assert all(l["resource"] == "arn:aws:s3:::enc/data/o.csv" for l in lines), lines
PY

# An invalid spec: exit 2, one line naming the file and key.
printf 'name: bad\ndata: {source: "s3://bkt/x.csv", target: y}\nmodel: {type: ridge}\noutput: {upload: "bkt/out"}\n' >bad.yaml
rc=0
"$HYPERFOLD" iam-policy bad.yaml >bad.out 2>bad.err || rc=$?
[ "$rc" -eq 2 ] || fail "an invalid spec exited $rc, expected 2"
[ "$(grep -c . bad.err)" -eq 1 ] && grep -q '^hyperfold: error: bad.yaml:4:.*output.upload' bad.err ||
  fail "expected one line naming bad.yaml and output.upload: $(cat bad.err)"
[ ! -s bad.out ] || fail "a refused spec printed a policy"
echo "iam-policy tests passed"
