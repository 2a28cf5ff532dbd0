#!/usr/bin/env bash
# The http(s):// source: Range GETs when the server accepts ranges, a whole-body read skipped to
# the offset when it does not, a GET fallback when HEAD is refused, and clear 404 errors. The
# audit log holds the URL without its query string.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
mkdir -p files
head -c 2300000 /dev/urandom >files/data.bin

URL="$("$SERVER" http "$WORK" ranged yes yes "$WORK/files")"
HF_S3_DOWNLOAD_CHUNK=1000000 hfs3 cp "$URL/data.bin?token=SECRETQUERY" got1.bin --audit a1.jsonl
cmp files/data.bin got1.bin || fail "ranged HTTP download differs"
[ "$(grep -c '"range":"bytes=' ranged.log)" -eq 3 ] || fail "expected 3 Range GETs"
grep -q '"status":206' a1.jsonl || fail "no 206 in the audit"
grep -q "SECRETQUERY" a1.jsonl && fail "the query string reached the audit log"
grep -q "\"url\":\"$URL/data.bin\"" a1.jsonl || fail "audit url: $(head -1 a1.jsonl)"

URL="$("$SERVER" http "$WORK" plain no no "$WORK/files")"
HF_S3_DOWNLOAD_CHUNK=1000000 hfs3 cp "$URL/data.bin" got2.bin --audit a2.jsonl
cmp files/data.bin got2.bin || fail "download from a server without ranges differs"
grep -q '"method":"HEAD".*"status":405' a2.jsonl || fail "HEAD refusal not audited"
[ "$(grep -c '"status":200' a2.jsonl)" -ge 3 ] || fail "expected whole-body GETs"

if hfs3 cp "$URL/none.bin" x.bin 2>err.txt; then fail "a missing URL succeeded"; fi
grep -q "$URL/none.bin: HTTP 404 (not found)" err.txt || fail "unclear 404: $(cat err.txt)"
echo "http source tests passed"
