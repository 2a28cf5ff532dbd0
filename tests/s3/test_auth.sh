#!/usr/bin/env bash
# Authentication and not-found errors: a wrong secret gives the clear 403 message naming where the
# credentials came from, and the secret appears in no output or audit file; credentials are found
# in the shared credentials file with a profile; 404s name the bucket and key.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

printf 'x,y\n1,2\n' >obj.csv
awscp obj.csv s3://bkt/a/obj.csv

SECRET="WrongSecret-7f3c9a1e5b"
if AWS_SECRET_ACCESS_KEY="$SECRET" hfs3 cp s3://bkt/a/obj.csv out.csv --endpoint "$EP" \
  --audit audit.jsonl >out.txt 2>err.txt; then
  fail "a wrong secret was accepted"
fi
grep -q "s3://bkt/a/obj.csv: signature does not match (check the secret key from environment" \
  err.txt || fail "unclear signature error: $(cat err.txt)"
[ -s audit.jsonl ] || fail "the refused request was not audited"
grep -q '"status":403' audit.jsonl || fail "no 403 in the audit log"
if grep -rq "$SECRET" out.txt err.txt audit.jsonl "$WORK"/*.log 2>/dev/null; then
  fail "the secret leaked into output or audit files"
fi
if grep -rqi "signature=" err.txt audit.jsonl; then fail "a signature leaked"; fi

# Listing and uploading with the wrong secret fail the same way.
if AWS_SECRET_ACCESS_KEY="$SECRET" hfs3 ls s3://bkt/a/ --endpoint "$EP" 2>err2.txt; then
  fail "listing with a wrong secret succeeded"
fi
grep -q "signature does not match" err2.txt || fail "unclear list error: $(cat err2.txt)"
if AWS_SECRET_ACCESS_KEY="$SECRET" hfs3 cp obj.csv s3://bkt/a/new.csv --endpoint "$EP" 2>err3.txt; then
  fail "uploading with a wrong secret succeeded"
fi
grep -q "signature does not match" err3.txt || fail "unclear upload error: $(cat err3.txt)"
grep -q "$SECRET" err2.txt err3.txt && fail "the secret leaked into an error"

# An unknown access key id.
if AWS_ACCESS_KEY_ID=NOBODY AWS_SECRET_ACCESS_KEY="$SECRET" hfs3 head s3://bkt/a/obj.csv \
  --endpoint "$EP" 2>err4.txt; then
  fail "an unknown access key was accepted"
fi
grep -q "s3://bkt/a/obj.csv: " err4.txt && grep -qi "credentials from environment" err4.txt ||
  fail "unclear unknown-key error: $(cat err4.txt)"
grep -q "$SECRET" err4.txt && fail "the secret leaked into an error"

# Credentials from a shared credentials file and a named profile; the message names the file.
mkdir -p "$HOME/.aws"
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = %s\n[good]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' \
  "$SECRET" >"$HOME/.aws/credentials"
(
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
  AWS_PROFILE=good hfs3 cp s3://bkt/a/obj.csv via_profile.csv --endpoint "$EP"
  cmp obj.csv via_profile.csv || fail "download with profile credentials differs"
  if hfs3 cp s3://bkt/a/obj.csv bad.csv --endpoint "$EP" 2>err5.txt; then
    fail "the default profile's wrong secret was accepted"
  fi
  grep -q "shared credentials file $HOME/.aws/credentials profile default" err5.txt ||
    fail "the error does not name the credentials file: $(cat err5.txt)"
  grep -q "$SECRET" err5.txt && fail "the secret leaked into an error"
  if AWS_PROFILE=absent hfs3 head s3://bkt/a/obj.csv --endpoint "$EP" 2>err6.txt; then
    fail "a missing profile was accepted"
  fi
  grep -q "no AWS credentials found" err6.txt || fail "unclear missing-profile error: $(cat err6.txt)"
)

# Not found: the key and the bucket are named.
if hfs3 cp s3://bkt/a/missing.csv m.csv --endpoint "$EP" 2>err7.txt; then fail "missing key"; fi
grep -q "s3://bkt/a/missing.csv: no object with key a/missing.csv in bucket bkt (NoSuchKey)" err7.txt ||
  fail "unclear NoSuchKey error: $(cat err7.txt)"
if hfs3 ls s3://nobucket/x/ --endpoint "$EP" 2>err8.txt; then fail "missing bucket"; fi
grep -q "bucket nobucket does not exist (NoSuchBucket)" err8.txt ||
  fail "unclear NoSuchBucket error: $(cat err8.txt)"
echo "s3 auth tests passed"
