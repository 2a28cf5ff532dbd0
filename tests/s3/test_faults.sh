#!/usr/bin/env bash
# Retries: a connection dropped mid-body resumes from the last byte received, 503 SlowDown is
# retried with backoff, and a server that never recovers fails within the retry budget with a
# one-line message naming the URI, the last status and the attempts.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

head -c 2500000 /dev/urandom >obj.bin
awscp obj.bin s3://bkt/f/obj.bin

# Drop the connection half-way through the first 3 ranged GETs.
PX="$("$SERVER" proxy "$WORK" drop drop 3)"
HF_S3_DOWNLOAD_CHUNK=1000000 hfs3 cp s3://bkt/f/obj.bin got_drop.bin --endpoint "$PX" \
  --audit drop.jsonl
cmp obj.bin got_drop.bin || fail "download through dropped connections differs"
[ "$(grep -c '"fault":"drop"' drop.log)" -eq 3 ] || fail "the proxy did not drop 3 transfers"
grep -q '"attempt":2' drop.jsonl || fail "no retry in the audit log"
# The retry after a drop asks only for the bytes not yet received.
"$PYTHON" - drop.jsonl <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
gets = [l for l in lines if l["method"] == "GET"]
for prev, cur in zip(gets, gets[1:]):
    if prev.get("error") and cur["attempt"] > 1:
        start_prev = int(prev["range"].split("=")[1].split("-")[0])
        start_cur = int(cur["range"].split("=")[1].split("-")[0])
        assert start_cur == start_prev + prev["bytes"], (prev, cur)
        assert prev["bytes"] > 0, prev
print("resume offsets ok")
PY

# 503 SlowDown for the first 4 requests.
PX="$("$SERVER" proxy "$WORK" slow slowdown 4)"
hfs3 cp s3://bkt/f/obj.bin got_slow.bin --endpoint "$PX" --audit slow.jsonl
cmp obj.bin got_slow.bin || fail "download through SlowDown differs"
[ "$(grep -c '"status":503' slow.jsonl)" -eq 4 ] || fail "expected 4 audited 503 answers"
grep -q '"attempt":5' slow.jsonl || fail "the 5th attempt should have succeeded"

# A server that always answers 503: fail within the time budget, clearly, and leave no file.
PX="$("$SERVER" proxy "$WORK" down always503 0)"
start=$(date +%s.%N)
if HF_S3_RETRY_BUDGET_S=3 HF_S3_MAX_RETRIES=100 hfs3 cp s3://bkt/f/obj.bin got_down.bin \
  --endpoint "$PX" --audit down.jsonl 2>down.err; then
  fail "a never-recovering server did not fail"
fi
elapsed=$("$PYTHON" -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
"$PYTHON" -c "import sys; assert float(sys.argv[1]) < 6, sys.argv[1]" "$elapsed" ||
  fail "took $elapsed s with a 3 s budget"
[ "$(wc -l <down.err)" -eq 1 ] || fail "error is not one line: $(cat down.err)"
grep -q "s3://bkt/f/obj.bin" down.err || fail "error does not name the URI: $(cat down.err)"
grep -q "HTTP 503" down.err || fail "error does not name the status: $(cat down.err)"
attempts=$(grep -c . down.jsonl)
grep -q "after $attempts attempts" down.err || fail "error does not count $attempts attempts: $(cat down.err)"
[ ! -e got_down.bin ] || fail "a failed download left a file"

# The attempt cap applies too.
if HF_S3_MAX_RETRIES=2 hfs3 head s3://bkt/f/obj.bin --endpoint "$PX" 2>cap.err; then
  fail "head through an always-503 server succeeded"
fi
grep -q "after 3 attempts" cap.err || fail "max retries 2 should give 3 attempts: $(cat cap.err)"
echo "s3 fault tests passed"
