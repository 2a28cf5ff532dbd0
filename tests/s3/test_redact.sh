#!/usr/bin/env bash
# Credentials in an http(s) source never leave the spec (issue 18, item 2): with user-info, a
# pre-signed query string and a fragment in data.source, `validate`, `run` (4 ranks, outputs
# uploaded to S3), a rerun that reuses the shards, `describe`, `predict` and the error paths (a
# malformed table, a 404) write the password and the signature nowhere: not in results.json,
# trials.csv, model.h5, shards/manifest.json, the audit log, stdout or stderr, nor in the
# uploaded objects. RUN/job.yaml is the user's spec itself (retrain re-reads the source from it):
# it is written with mode 0600 and is never uploaded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
cd "$WORK"
PW=CanaryPassw0rd93 SIG=CanarySig5e1d
mkdir -p files
gen_csv files/data.csv 3000 5
printf 'x0,x1,x2,x3,x4,x5,x6,x7,color,target\n1,2,3\n' >files/ragged.csv
URL="$("$SERVER" http "$WORK" web yes yes "$WORK/files")"
hfrun_loud() { timeout 150 mpirun --oversubscribe -np "$RANKS" "$HYPERFOLD" run "$@"; }
secret_url() { echo "${URL/http:\/\//http://user:$PW@}/$1?X-Amz-Credential=AK%2F1&X-Amz-Signature=$SIG#frag"; }

write_spec job.yaml leak "$(secret_url data.csv)" "$EP" \
  "  upload: s3://bkt/out/leak/"
grep -q "$PW" job.yaml || fail "the test spec does not carry the canary"
"$HYPERFOLD" validate job.yaml >validate.out 2>validate.err || fail "validate: $(cat validate.err)"
grep -q "^data: *${URL}/data.csv$" validate.out || fail "validate does not show the cleaned source: $(grep data: validate.out)"
hfrun_loud job.yaml >run1.out 2>run1.err || fail "the run failed: $(cat run1.err)"
hfrun_loud job.yaml >run2.out 2>run2.err || fail "the rerun failed: $(cat run2.err)"
grep -q "reused shards of .*${URL}/data.csv" run2.out run2.err || fail "the rerun did not reuse the shards (manifest compares cleaned sources): $(cat run2.out run2.err)"
D="$(run_dir leak)"
[ -s "$D/results.json" ] && [ -s "$D/model.h5" ] && [ -s "$D/shards/manifest.json" ] || fail "the run wrote no results"
grep -q "\"source\": *\"${URL}/data.csv\"" "$D/results.json" || fail "results.json does not name the cleaned source"
[ "$(stat -c %a "$D/job.yaml")" = 600 ] || fail "RUN/job.yaml is mode $(stat -c %a "$D/job.yaml"), expected 600"
printf 'x0,x1,x2,x3,x4,x5,x6,x7,color\n0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,red\n' >new.csv
"$HYPERFOLD" predict --model "$D/model.h5" --input new.csv --output pred.csv >pred.out 2>pred.err ||
  fail "predict: $(cat pred.err)"
"$HYPERFOLD" describe job.yaml >describe.out 2>describe.err || fail "describe: $(cat describe.err)"

# Error paths: a malformed table and a missing object name the cleaned URL only.
write_spec bad.yaml bad "$(secret_url ragged.csv)" ""
if hfrun bad.yaml >bad.out 2>bad.err; then fail "a ragged table was accepted"; fi
grep -q "${URL}/ragged.csv" bad.err || fail "the ragged-row error does not name the source: $(cat bad.err)"
write_spec missing.yaml missing "$(secret_url none.csv)" ""
if hfrun missing.yaml >missing.out 2>missing.err; then fail "a missing URL was accepted"; fi
grep -q "${URL}/none.csv: HTTP 404" missing.err || fail "unclear 404: $(cat missing.err)"
if "$HYPERFOLD" validate missing.yaml >vmissing.out 2>vmissing.err; then :; fi

awsx s3 ls "$(upload_uri "$D")" >up.txt || fail "nothing was uploaded"
grep -q results.json up.txt || fail "results.json was not uploaded: $(cat up.txt)"
grep -q job.yaml up.txt && fail "RUN/job.yaml was uploaded"
awscp --recursive "$(upload_uri "$D")" uploaded/

# Everything hyperfold wrote or printed, and everything it uploaded (downloaded into uploaded/;
# s3rver's store is under $WORK/data too), except the spec files the user wrote and RUN/job.yaml
# (the spec's copy). The canary must be found where it is expected, or the grep proves nothing.
grep -rqa "$PW" "$(run_dir leak)/job.yaml" || fail "the canary is not in RUN/job.yaml"
leaks="$(grep -rlaE "$PW|$SIG" "$WORK" --exclude='*.yaml' --exclude='web.log' || true)"
[ -z "$leaks" ] || fail "the credentials leaked into: $leaks"
echo "source redaction tests passed"
