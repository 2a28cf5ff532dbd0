#!/usr/bin/env bash
# The job spec's data.etl step: `hyperfold run` extracts a zip from a local http server into the
# test S3 server, then ingests the member data.source names and runs a small sweep; its accesses
# are in the run's audit log. A resumed run finds the members unchanged (no PUT) and keeps the
# sweep; validate checks the step's keys with file:line:col messages.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
cd "$WORK"
RANKS=2
mkdir -p files
gen_csv files/data.csv 1500 5
"$PYTHON" - <<'EOF'
import zipfile
with zipfile.ZipFile("files/data.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.write("files/data.csv", "data.csv")
    z.writestr("notes.txt", "not extracted: --include is *.csv\n")
EOF
URL="$("$SERVER" http "$WORK" files yes yes "$WORK/files")"

# The same spec as the other run tests, with data.etl in front of the ingest.
etl_spec() { # FILE LABEL EXTRA_ETL_YAML
  write_spec "$1" "$2" s3://bkt/etl/data.csv "$EP"
  "$PYTHON" - "$1" "$URL/data.zip" "${3:-}" <<'EOF'
import sys
path, url, extra = sys.argv[1:4]
text = open(path).read().splitlines()
out = []
for line in text:
    if line.startswith("data:"):
        out += ["data:",
                "  etl:",
                "    source: \"%s\"" % url,
                "    dest: s3://bkt/etl/",
                "    include: [\"*.csv\"]"] + (["    " + extra] if extra else []) + [
                "  source: s3://bkt/etl/data.csv",
                "  target: target",
                "  task: regression"]
    else:
        out.append(line)
open(path, "w").write("\n".join(out) + "\n")
EOF
}

etl_spec job.yaml etl
"$HYPERFOLD" validate --no-data job.yaml >val.txt 2>&1 || fail "validate refused data.etl: $(cat val.txt)"
# validate reads the data but does not run the step: before the first run, one line saying that
# data.source comes from data.etl and how to extract it (exit 2), not the ingest's not-found.
set +e
"$HYPERFOLD" validate job.yaml >val2.txt 2>val2.err
rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <val2.err)" -eq 1 ] &&
  grep -q 'job.yaml: data.source s3://bkt/etl/data.csv is produced by data.etl and has not been extracted yet (no s3://bkt/etl/_manifest.json): run `hyperfold etl .*/data.zip s3://bkt/etl/ --include '"'"'\*.csv'"'"'` or `hyperfold run job.yaml`' val2.err ||
  fail "validate before the etl step: exit $rc: $(cat val2.err)"
# describe of the spec says the same.
set +e
"$HYPERFOLD" describe job.yaml >desc.txt 2>desc.err
rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <desc.err)" -eq 1 ] && grep -q 'is produced by data.etl and has not been extracted yet' desc.err ||
  fail "describe before the etl step: exit $rc: $(cat desc.err)"
hfrun job.yaml 2>run1.err || fail "the run with data.etl failed: $(cat run1.err)"
D="$(run_dir etl)"
[ -s "$D/results.json" ] || fail "no results.json"
# The member in S3 equals the file, notes.txt was not extracted, the manifest is there.
hfs3 cp s3://bkt/etl/data.csv got.csv --endpoint "$EP" >/dev/null
cmp files/data.csv got.csv || fail "s3://bkt/etl/data.csv differs from the zip's member"
hfs3 ls s3://bkt/etl/ --endpoint "$EP" | awk '{print $2}' | sort >keys.txt
printf 's3://bkt/etl/_manifest.json\ns3://bkt/etl/data.csv\n' | diff - keys.txt || fail "objects: $(cat keys.txt)"
# The run's audit log has the etl's download and uploads next to the ingest's reads.
grep -q '"url":"'"$URL"'/data.zip"' "$D/audit.jsonl" || fail "the etl download is not in the run's audit log"
[ "$(grep -c '"method":"PUT".*"key":"etl/data.csv"' "$D/audit.jsonl")" -eq 1 ] || fail "data.csv not PUT once"
grep -q '"method":"GET".*"key":"etl/data.csv"' "$D/audit.jsonl" || fail "the ingest did not read the member"
cp "$D/results.json" results1.json

# iam-policy grants what the run with data.etl did and nothing more: every audited S3 request is
# allowed (the http download needs no AWS permission), only the failure-only abort statements are
# unused, and requests the job never made are denied.
"$HYPERFOLD" iam-policy job.yaml >policy.json 2>iam.err || fail "iam-policy: $(cat iam.err)"
PYTHONPATH="$S3DIR" "$PYTHON" - policy.json "$D/audit.jsonl" <<'EOF' || fail "the etl run's audit log against its policy"
import json, sys
from iam_eval import allowed_by, requests
policy = json.load(open(sys.argv[1]))
sids = {st["Sid"] for st in policy["Statement"]}
assert {"ReadEtlDest", "WriteEtlDest", "AbortFailedEtlUploads", "ReadSource"} <= sids, sids
used, n = set(), 0
for action, resource, ctx, rec in requests(sys.argv[2]):
    if action.startswith("http:"):
        continue
    by = allowed_by(policy, action, resource, ctx)
    assert by, ("denied", action, resource, rec)
    used.update(by)
    n += 1
assert n > 0
assert sids - used <= {"AbortFailedEtlUploads"}, sids - used
for action, resource in [("s3:PutObject", "arn:aws:s3:::bkt/other/data.csv"),
                         ("s3:PutObject", "arn:aws:s3:::bkt/etl"),
                         ("s3:GetObject", "arn:aws:s3:::bkt/secret.csv"),
                         ("s3:ListBucket", "arn:aws:s3:::bkt"),
                         ("s3:DeleteObject", "arn:aws:s3:::bkt/etl/data.csv")]:
    assert not allowed_by(policy, action, resource, {}), (action, resource)
print("etl iam-policy: %d audited requests allowed by %s" % (n, sorted(used)))
EOF

# Resumed: the etl step skips the unchanged member (no PUT), the sweep is not redone.
lines_before=$(wc -l <"$D/audit.jsonl")
hfrun job.yaml 2>run2.err || fail "the resumed run failed: $(cat run2.err)"
tail -n +"$((lines_before + 1))" "$D/audit.jsonl" >audit2.jsonl
grep -q '"method":"PUT".*"key":"etl/' audit2.jsonl && fail "the resumed run uploaded again"
grep -q '"method":"HEAD".*"key":"etl/data.csv"' audit2.jsonl || fail "the resumed run did not check the member"
same_results results1.json "$D/results.json" || fail "the resumed run changed the results"

# retrain runs the step too (unchanged: HEADs, no PUT) before reading the data again.
lines_before=$(wc -l <"$D/audit.jsonl")
timeout 150 mpirun --oversubscribe -np "$RANKS" "$HYPERFOLD" retrain "$D" --quiet 2>rt.err ||
  fail "retrain failed: $(cat rt.err)"
tail -n +"$((lines_before + 1))" "$D/audit.jsonl" >audit3.jsonl
grep -q '"url":"'"$URL"'/data.zip"' audit3.jsonl || fail "retrain did not run data.etl"
grep -q '"method":"HEAD".*"key":"etl/data.csv"' audit3.jsonl || fail "retrain did not check the member"
grep -q '"method":"PUT".*"key":"etl/' audit3.jsonl && fail "retrain uploaded the unchanged member"
# ... but not with --data NEW, which replaces data.source: no download of the archive, no HEAD of
# its members.
lines_before=$(wc -l <"$D/audit.jsonl")
timeout 150 mpirun --oversubscribe -np "$RANKS" "$HYPERFOLD" retrain "$D" --data files/data.csv --quiet 2>rt2.err ||
  fail "retrain --data failed: $(cat rt2.err)"
tail -n +"$((lines_before + 1))" "$D/audit.jsonl" >audit4.jsonl
grep -q '/data.zip"\|"key":"etl/' audit4.jsonl && fail "retrain --data ran data.etl: $(cat audit4.jsonl)"
# validate, now that the step has run, reads the data.
"$HYPERFOLD" validate job.yaml >val3.txt 2>&1 || fail "validate after the etl step: $(cat val3.txt)"
grep -q '^schema: *1500 rows' val3.txt || fail "validate after the etl step: $(cat val3.txt)"

# validate checks the step's keys where they are written.
etl_spec bad1.yaml bad1 "kms_key_id: k1"
if "$HYPERFOLD" validate --no-data bad1.yaml 2>bad1.err; then fail "kms_key_id without aws:kms accepted"; fi
grep -q "bad1.yaml:[0-9]*:[0-9]*: data.etl.kms_key_id: given with sse AES256" bad1.err || fail "bad1: $(cat bad1.err)"
etl_spec bad2.yaml bad2 "sse: AES128"
set +e
"$HYPERFOLD" validate --no-data bad2.yaml 2>bad2.err
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "bad sse: exit $rc"
grep -q "bad2.yaml:[0-9]*:[0-9]*: data.etl.sse: got \"AES128\", expected" bad2.err || fail "bad2: $(cat bad2.err)"
etl_spec bad3.yaml bad3 "includes: [x]"
if "$HYPERFOLD" validate --no-data bad3.yaml 2>bad3.err; then fail "an unknown data.etl key accepted"; fi
grep -q "bad3.yaml:[0-9]*:[0-9]*: data.etl.*includes" bad3.err || fail "bad3: $(cat bad3.err)"
# SSE-KMS asked of a local destination, and a source scheme the step cannot read: refused where
# they are written, not ignored or left to the run.
etl_spec bad4.yaml bad4 "sse: aws:kms"
sed -i 's#dest: s3://bkt/etl/#dest: local_etl/#' bad4.yaml
if "$HYPERFOLD" validate --no-data bad4.yaml 2>bad4.err; then fail "sse aws:kms with a local dest accepted"; fi
grep -q 'bad4.yaml:[0-9]*:[0-9]*: data.etl.sse: got aws:kms with the local dest "local_etl/", expected an s3:// dest' bad4.err ||
  fail "bad4: $(cat bad4.err)"
etl_spec bad5.yaml bad5
sed -i 's#source: "http://[^"]*"#source: "ftp://example.org/data.zip"#' bad5.yaml
if "$HYPERFOLD" validate --no-data bad5.yaml 2>bad5.err; then fail "an ftp:// etl source accepted"; fi
grep -q 'bad5.yaml:[0-9]*:[0-9]*: data.etl.source: got "ftp://...", expected a path, file://, s3:// or http(s)://' bad5.err ||
  fail "bad5: $(cat bad5.err)"
# A refused archive stops the run before the ingest, with the etl's one line.
"$PYTHON" -c '
import zipfile
with zipfile.ZipFile("files/data.zip", "w") as z:
    z.writestr("../data.csv", "x\n")'
set +e
hfrun job.yaml --fresh 2>run3.err
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "a zip-slip archive in data.etl: exit $rc ($(cat run3.err))"
grep -q 'data.etl: .*data.zip: member "../data.csv" has a .\.\.. segment (zip-slip)' run3.err ||
  fail "run3: $(cat run3.err)"
echo "etl spec tests passed"
