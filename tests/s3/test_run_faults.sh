#!/usr/bin/env bash
# `hyperfold run` on S3 through faulty servers, 4 ranks: connections dropped mid-object and 503
# SlowDown answers are retried and the run ends with the same results.json as from the local file;
# a server that never recovers (from the first request, or after part of the ingest) makes the run
# fail within the retry budget with one line naming the object and the status, and leaves no
# manifest.json and no part-*.h5 under their final names.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
cd "$WORK"

gen_csv data.csv 30000 23
awscp data.csv s3://bkt/f/data.csv
write_spec local.yaml local "$WORK/data.csv" ""
hfrun local.yaml || fail "the local run failed"
REF="$(run_dir local)/results.json"

# audit_summary AUDIT: prints "<503 answers> <attempts after a failure> <ranks with a retry>".
audit_summary() {
  "$PYTHON" - "$1" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
n503 = sum(1 for l in lines if l["status"] == 503)
retries = [l for l in lines if l["attempt"] > 1]
print(n503, len(retries), len({l["rank"] for l in retries}))
PY
}

# 1. The first 8 ranged GETs are cut half-way through the body and reset.
PX="$("$SERVER" proxy "$WORK" drop drop 8)"
write_spec drop.yaml drop s3://bkt/f/data.csv "$PX"
hfrun drop.yaml 2>drop.err || fail "the run through dropped connections failed: $(cat drop.err)"
same_results "$REF" "$(run_dir drop)/results.json" || fail "dropped connections: results differ"
[ "$(grep -c '"fault":"drop"' drop.log)" -eq 8 ] || fail "the proxy did not drop 8 transfers"
read -r _ retries retry_ranks < <(audit_summary "$(run_dir drop)/audit.jsonl")
[ "$retries" -ge 8 ] || fail "expected >= 8 retried GETs in the audit log, got $retries"
grep -q '"error":' "$(run_dir drop)/audit.jsonl" || fail "the broken transfers were not audited"
echo "drop: $retries retries on $retry_ranks rank(s)"

# 1b. Every second ranged GET (10 at most) is cut half-way, so the breaks hit the byte-range reads
#     of several ranks in every pass; each resumes from the byte where its transfer broke.
PX="$(start_run_proxy dropev dropevery 10)"
write_spec dropev.yaml dropev s3://bkt/f/data.csv "$PX"
hfrun dropev.yaml 2>dropev.err || fail "the run through repeated drops failed: $(cat dropev.err)"
same_results "$REF" "$(run_dir dropev)/results.json" || fail "repeated drops: results differ"
# Each rank reads its range once (docs/shards.md), so how many ranged GETs there are, and so how
# many of the 10 allowed breaks happen, depends on the object and the block size: at least 3.
drops="$(grep -c '"fault":"drop"' dropev.log)"
[ "$drops" -ge 3 ] || fail "the proxy dropped only $drops transfers"
"$PYTHON" - "$(run_dir dropev)/audit.jsonl" "$drops" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
broken = [l for l in lines if l["method"] == "GET" and l.get("error")]
assert len(broken) == int(sys.argv[2]), (len(broken), sys.argv[2])
ranks = {l["rank"] for l in broken}
assert len(ranks) >= 2, "drops only on ranks %s" % sorted(ranks)
# The attempt after a break (same rank) asks for the rest, starting at the first missing byte.
for i, b in enumerate(lines):
    if b not in broken:
        continue
    nxt = [l for l in lines[i + 1:] if l["rank"] == b["rank"] and l["method"] == "GET"]
    assert nxt and nxt[0]["attempt"] == b["attempt"] + 1, ("no retry after", b, nxt[:1])
    start = int(b["range"].split("=")[1].split("-")[0])
    assert b["bytes"] > 0, b
    assert nxt[0]["range"].startswith("bytes=%d-" % (start + b["bytes"])), (b, nxt[0])
print("dropevery: %d breaks on ranks %s, each resumed at the right byte" % (len(broken), sorted(ranks)))
PY

# 2. The first 6 requests (whichever ranks send them) get 503 SlowDown.
PX="$("$SERVER" proxy "$WORK" slow slowdown 6)"
write_spec slow.yaml slow s3://bkt/f/data.csv "$PX"
hfrun slow.yaml 2>slow.err || fail "the run through SlowDown failed: $(cat slow.err)"
same_results "$REF" "$(run_dir slow)/results.json" || fail "SlowDown: results differ"
read -r n503 retries _ < <(audit_summary "$(run_dir slow)/audit.jsonl")
[ "$n503" -eq 6 ] || fail "expected 6 audited 503 answers, got $n503"
[ "$retries" -ge 6 ] || fail "expected >= 6 retried requests, got $retries"

# check_dead_run LABEL ELAPSED: the run failed clearly and wrote no shards under final names.
check_dead_run() {
  local d err
  d="$(run_dir "$1")"
  err="$1.err"
  "$PYTHON" -c "import sys; assert float(sys.argv[1]) < 20, sys.argv[1]" "$2" ||
    fail "$1: the failing run took $2 s with a 2 s budget per request"
  [ "$(grep -c '^hyperfold: error:' "$err")" -eq 1 ] || fail "$1: expected one error line: $(cat "$err")"
  grep '^hyperfold: error:' "$err" | grep "s3://bkt/f/data.csv" | grep -q "HTTP 503" ||
    fail "$1: the error does not name the object and the status: $(cat "$err")"
  grep '^hyperfold: error:' "$err" | grep -q "after [0-9]* attempts" ||
    fail "$1: the error does not count the attempts: $(cat "$err")"
  no_final_shards "$d"
}

# timed_fail LABEL: runs the spec LABEL.yaml with a small retry budget; it must fail.
timed_fail() {
  local start end rc=0
  start=$(date +%s.%N)
  HF_S3_MAX_RETRIES=3 HF_S3_RETRY_BUDGET_S=2 hfrun "$1.yaml" >"$1.out" 2>"$1.err" || rc=$?
  end=$(date +%s.%N)
  [ "$rc" -ne 0 ] || fail "$1: the run through a dead server succeeded"
  [ "$rc" -ne 124 ] || fail "$1: the run hung until the test's timeout"
  "$PYTHON" -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$end"
}

# 3. A server that answers 503 to everything.
PX="$("$SERVER" proxy "$WORK" down always503 0)"
write_spec down.yaml down s3://bkt/f/data.csv "$PX"
elapsed=$(timed_fail down)
check_dead_run down "$elapsed"
echo "always503: failed in $elapsed s: $(grep '^hyperfold: error:' down.err)"

# 4. A server that dies part-way: count the requests of a good run, then let a run through only
#    all but the last 4 of them, so it fails in the last reading pass over the object.
#    The counting run takes its endpoint from AWS_ENDPOINT_URL so that its spec can be run again
#    unchanged through other endpoints in part 5.
write_spec count.yaml count s3://bkt/f/data.csv ""
AWS_ENDPOINT_URL="$(start_run_proxy count failafter 1000000)" hfrun count.yaml 2>count.err ||
  fail "the run through the counting proxy failed: $(cat count.err)"
total=$(grep -c . count.log)
[ "$total" -gt 8 ] || fail "a good run made only $total requests"
PX="$(start_run_proxy late failafter $((total - 4)))"
write_spec late.yaml late s3://bkt/f/data.csv "$PX"
elapsed=$(timed_fail late)
check_dead_run late "$elapsed"
[ "$(grep -c '"fault":null' late.log)" -eq $((total - 4)) ] || fail "the proxy passed the wrong count"
echo "dies after $((total - 4)) of $total requests: failed in $elapsed s: $(grep '^hyperfold: error:' late.err)"

# 5. The same over a run directory that holds good shards of older data: the object is replaced,
#    so the shards are stale and re-ingested, and the re-ingest dies part-way. The old manifest and
#    shards must be gone (not left looking valid next to the new object).
[ -s "$(run_dir count)/shards/manifest.json" ] || fail "the counting run wrote no manifest"
gen_csv data2.csv 30000 29
awscp data2.csv s3://bkt/f/data.csv
AWS_ENDPOINT_URL="$(start_run_proxy stale failafter $((total - 4)))"
export AWS_ENDPOINT_URL
elapsed=$(timed_fail count)
grep '^hyperfold: error:' count.err | grep -q "s3://bkt/f/data.csv" ||
  fail "stale: unclear error: $(cat count.err)"
[ ! -e "$(run_dir count)/shards/manifest.json" ] || fail "stale: the old manifest.json was left"
for f in "$(run_dir count)"/shards/part-*; do
  [ ! -e "$f" ] || fail "stale: $f was left after a failed re-ingest"
done
echo "stale shards, re-ingest dies: failed in $elapsed s: $(grep '^hyperfold: error:' count.err)"
# The same spec again against the healthy server: the journal of the old object's sweep is
# refused (exit 2, naming the data change); with --fresh the run gives the new object's results,
# equal to a local run of the new file.
unset AWS_ENDPOINT_URL
rc=0
AWS_ENDPOINT_URL="$EP" hfrun count.yaml 2>rerun.err || rc=$?
[ "$rc" -eq 2 ] || fail "a journal of other data was not refused with exit 2 (got $rc)"
grep -q "journal made from different data" rerun.err || fail "unclear journal refusal: $(cat rerun.err)"
write_spec local2.yaml local2 "$WORK/data2.csv" ""
hfrun local2.yaml || fail "the local run of the new data failed"
AWS_ENDPOINT_URL="$EP" hfrun count.yaml --fresh 2>rerun.err ||
  fail "the rerun after a failed re-ingest failed: $(cat rerun.err)"
same_results "$(run_dir local2)/results.json" "$(run_dir count)/results.json" ||
  fail "the rerun after a failed re-ingest differs from the local run of the new data"
echo "s3 run fault tests passed"
