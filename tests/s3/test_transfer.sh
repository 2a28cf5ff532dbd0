#!/usr/bin/env bash
# Downloads, listing with pagination, and uploads (single PUT and multipart, with SSE) against a
# SigV4-verifying S3 server; awscli is the independent peer on the other side of every transfer.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

head -c 3000001 /dev/urandom >big.bin
printf 'a,b\n1,2\n' >small.csv
: >empty.bin
awscp big.bin "s3://bkt/data/big.bin"
awscp small.csv "s3://bkt/data/odd key+(1)&x=y.csv"
awscp empty.bin "s3://bkt/data/empty.bin"

# Downloads through ranged GETs are byte-identical (odd characters in the key are %-encoded).
HF_S3_DOWNLOAD_CHUNK=1000000 hfs3 cp s3://bkt/data/big.bin got_big.bin --endpoint "$EP" \
  --audit audit.jsonl
cmp big.bin got_big.bin || fail "big.bin differs after download"
hfs3 cp "s3://bkt/data/odd key+(1)&x=y.csv" got_small.csv --endpoint "$EP"
cmp small.csv got_small.csv || fail "odd-key object differs after download"
hfs3 cp s3://bkt/data/empty.bin got_empty.bin --endpoint "$EP"
cmp empty.bin got_empty.bin || fail "empty object differs after download"
# Three 1 MB ranges plus one byte, each one GET with its range in the audit log.
[ "$(grep -c '"method":"GET"' audit.jsonl)" -eq 4 ] || fail "expected 4 ranged GETs in the audit"
grep -q '"range":"bytes=3000000-3000000"' audit.jsonl || fail "last range missing from the audit"

# HEAD: size and ETag agree with awscli's view of the object.
hfs3 head s3://bkt/data/big.bin --endpoint "$EP" >head.txt
want_etag="$(awsx s3api head-object --bucket bkt --key data/big.bin --query ETag --output text | tr -d '"')"
grep -qx "size: 3000001" head.txt || fail "head size: $(cat head.txt)"
grep -qx "etag: $want_etag" head.txt || fail "head etag: $(cat head.txt) vs $want_etag"

# Listing with more objects than max-keys: every page is fetched.
for i in 1 2 3 4 5 6 7; do awscp small.csv "s3://bkt/many/part-$i.csv"; done
HF_S3_MAX_KEYS=2 hfs3 ls s3://bkt/many/ --endpoint "$EP" --audit list.jsonl >ls.txt
awsx s3api list-objects-v2 --bucket bkt --prefix many/ --query 'Contents[].Key' --output text |
  tr '\t' '\n' | sed 's|^|s3://bkt/|' | sort >want_ls.txt
awk '{print $2}' ls.txt >got_ls.txt
diff want_ls.txt got_ls.txt || fail "listing differs from awscli's"
[ "$(wc -l <got_ls.txt)" -eq 7 ] || fail "expected 7 listed objects"
[ "$(grep -c '"method":"GET"' list.jsonl)" -eq 4 ] || fail "7 keys at max-keys 2 need 4 pages"

# Uploads go through a pass-through proxy that records the SSE headers it sees.
PX="$("$SERVER" proxy "$WORK" pass pass 0)"
hfs3 cp small.csv s3://bkt/up/single.csv --sse AES256 --endpoint "$PX"
awscp s3://bkt/up/single.csv back_single.csv
cmp small.csv back_single.csv || fail "single-PUT upload differs"
grep '"method":"PUT"' pass.log | grep -q '"sse":"AES256"' || fail "PUT without SSE header"

HF_S3_MULTIPART_THRESHOLD=1000000 HF_S3_PART_SIZE=1000000 \
  hfs3 cp big.bin s3://bkt/up/ --sse aws:kms --kms-key-id alias/hf-test --endpoint "$PX" \
  --audit up.jsonl
awscp s3://bkt/up/big.bin back_big.bin
cmp big.bin back_big.bin || fail "multipart upload differs"
[ "$(grep -c '"method":"PUT"' up.jsonl)" -eq 4 ] || fail "expected 4 parts of 1 MB"
grep '"method":"POST"' pass.log | grep 'uploads' | grep '"sse":"aws:kms"' |
  grep -q '"sse_kms_key_id":"alias/hf-test"' || fail "CreateMultipartUpload without SSE-KMS headers"

# Bad usage is rejected with a message.
if hfs3 cp small.csv s3://bkt/x.csv --sse DES --endpoint "$EP" 2>err.txt; then
  fail "--sse DES was accepted"
fi
grep -q "expected AES256 or aws:kms" err.txt || fail "unclear SSE error: $(cat err.txt)"
echo "s3 transfer tests passed"
