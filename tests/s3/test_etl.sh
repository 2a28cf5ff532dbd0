#!/usr/bin/env bash
# `hyperfold etl`: archives from a local http server, from the test S3 server and from files,
# into the test S3 server and into a directory. The manifest's SHA-256 is checked against
# Python's hashlib of the member as Python's zipfile/tarfile/gzip extract it; refused archives
# (zip-slip, symlink, zip bomb) upload nothing; a rerun PUTs nothing; 1 and 2 ranks agree.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
source "$S3DIR/etl_lib.sh"

# The archives, built with Python's own modules (which are also the peers below).
"$PY" - <<'EOF'
import gzip, io, os, random, tarfile, zipfile
random.seed(7)
rows = "".join("%d,%d,%s\n" % (i, random.randint(0, 9), random.choice("abc")) for i in range(20000))
big = os.urandom(9 * 1024 * 1024)  # above the 8 MiB multipart threshold: a multipart upload
with zipfile.ZipFile("files/data.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("train/part-1.csv", "id,x,c\n" + rows)
    z.writestr("train/part-2.csv", "id,x,c\n" + rows[::-1].strip() + "\n")
    z.writestr("train/", "")
    z.writestr("README.txt", "a dataset\n")
    z.writestr("blob.bin", big)
with tarfile.open("files/data.tar.gz", "w:gz") as t:
    for name, data in [("./d/a.csv", b"a,b\n1,2\n"), ("./d/b.csv", b"a,b\n3,4\n" * 1000)]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
with gzip.open("files/table.csv.gz", "wb") as g:
    g.write(("id,x,c\n" + rows).encode())
open("files/plain.csv", "w").write("id,x\n1,2\n3,4\n")
with zipfile.ZipFile("files/slip_dotdot.zip", "w") as z:
    z.writestr("ok.txt", "fine")
    z.writestr("sub/../../evil.txt", "escape")
with zipfile.ZipFile("files/slip_abs.zip", "w") as z:
    z.writestr("ok.txt", "fine")
    z.writestr("/etc/evil.txt", "escape")
with tarfile.open("files/symlink.tar", "w") as t:
    data = b"fine"
    info = tarfile.TarInfo("ok.txt"); info.size = len(data); t.addfile(info, io.BytesIO(data))
    link = tarfile.TarInfo("passwd"); link.type = tarfile.SYMTYPE; link.linkname = "/etc/passwd"
    t.addfile(link)
# 200 MB of zeros in one member: about 200 KB compressed.
with zipfile.ZipFile("files/bomb.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.writestr("ok.txt", "fine")
    with z.open("zeros.bin", "w") as w:
        chunk = b"\0" * (1 << 20)
        for _ in range(200):
            w.write(chunk)
EOF
[ "$(stat -c %s files/bomb.zip)" -lt 400000 ] || fail "the bomb is not small: $(stat -c %s files/bomb.zip)"

# The peer: every member's SHA-256 as Python extracts it (path -> sha256), as JSON.
peer() {
  "$PY" - "$1" <<'EOF'
import gzip, hashlib, json, sys, tarfile, zipfile
p = sys.argv[1]
out = {}
if p.endswith(".zip"):
    with zipfile.ZipFile(p) as z:
        for i in z.infolist():
            if not i.is_dir():
                out[i.filename] = hashlib.sha256(z.read(i)).hexdigest()
elif ".tar" in p:
    with tarfile.open(p) as t:
        for m in t.getmembers():
            if m.isfile():
                out[m.name.lstrip("./")] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
elif p.endswith(".gz"):
    out[p.rsplit("/", 1)[-1][:-3]] = hashlib.sha256(gzip.open(p).read()).hexdigest()
else:
    out[p.rsplit("/", 1)[-1]] = hashlib.sha256(open(p, "rb").read()).hexdigest()
print(json.dumps(out, sort_keys=True))
EOF
}
# The manifest's members as path -> sha256.
from_manifest() {
  "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1]))
print(json.dumps({e["path"]: e["sha256"] for e in m["members"]}, sort_keys=True))' "$1"
}
# Each manifest member's object, downloaded, hashes to the manifest's SHA-256 and has its size.
check_objects() {
  "$PY" - "$1" <<'EOF' | while IFS=$'\t' read -r uri sha size; do
import json, sys
for e in json.load(open(sys.argv[1]))["members"]:
    print("%s\t%s\t%s" % (e["uri"], e["sha256"], e["size"]))
EOF
    rm -f obj.bin
    hfs3 cp "$uri" obj.bin --endpoint "$EP" >/dev/null
    [ "$(sha256sum obj.bin | cut -d' ' -f1)" = "$sha" ] || fail "$uri: SHA-256 differs from the manifest"
    [ "$(stat -c %s obj.bin)" = "$size" ] || fail "$uri: size differs from the manifest"
  done
}

URL="$("$SERVER" http "$WORK" files yes yes "$WORK/files")"

# 1. A zip from the http server into S3 (one member multipart), verified, with a manifest.
etl "$URL/data.zip" s3://bkt/zip/ --manifest m1.json --audit a1.jsonl >out1.txt 2>err1.txt ||
  fail "etl of the zip failed: $(cat err1.txt)"
[ "$(from_manifest m1.json)" = "$(peer files/data.zip)" ] || fail "zip manifest: $(from_manifest m1.json)"
printf '%s\n' s3://bkt/zip/README.txt s3://bkt/zip/_manifest.json s3://bkt/zip/blob.bin \
  s3://bkt/zip/train/part-1.csv s3://bkt/zip/train/part-2.csv | sort >want.txt
keys s3://bkt/zip/ >got.txt
diff want.txt got.txt || fail "zip: objects in the bucket differ"
check_objects m1.json
hfs3 cp s3://bkt/zip/_manifest.json remote_m1.json --endpoint "$EP" >/dev/null
cmp m1.json remote_m1.json || fail "the uploaded manifest differs from --manifest"
grep -q '"url":"'"$URL"'/data.zip"' a1.jsonl || fail "the download is not audited"
[ "$(grep -c '"method":"PUT"' a1.jsonl)" -ge 4 ] || fail "the uploads are not audited"
grep -q '"method":"POST"' a1.jsonl || fail "blob.bin (9 MiB) did not go as a multipart upload"
grep -q '"verified": "etag-md5"' m1.json || fail "no member verified by its ETag: $(cat m1.json)"
grep -q "blob.bin: 9437184 bytes -> s3://bkt/zip/blob.bin" out1.txt || fail "output: $(cat out1.txt)"

# 2. A rerun: every member unchanged and skipped, no PUT at all.
etl "$URL/data.zip" s3://bkt/zip/ --manifest m2.json --audit a2.jsonl >out2.txt 2>err2.txt ||
  fail "rerun failed: $(cat err2.txt)"
[ "$(grep -c 'unchanged, skipped' out2.txt)" -eq 4 ] || fail "rerun did not skip: $(cat out2.txt)"
grep -q '"method":"PUT"\|"method":"POST"' a2.jsonl && fail "the rerun uploaded: $(grep PUT a2.jsonl)"
grep -q '"method":"HEAD"' a2.jsonl || fail "the rerun did not HEAD the objects"

# 3. A changed member is uploaded again, the others skipped.
"$PY" - <<'EOF'
import zipfile
src = zipfile.ZipFile("files/data.zip")
with zipfile.ZipFile("files/data2.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for i in src.infolist():
        data = src.read(i)
        if i.filename == "README.txt":
            data = b"a dataset, version 2\n"
        z.writestr(i, data)
EOF
etl "$URL/data2.zip" s3://bkt/zip/ --audit a3.jsonl >out3.txt 2>err3.txt || fail "etl of the change failed"
grep -q "README.txt: 21 bytes" out3.txt || fail "the changed member was not uploaded: $(cat out3.txt)"
[ "$(grep -c 'unchanged, skipped' out3.txt)" -eq 3 ] || fail "unchanged members not skipped: $(cat out3.txt)"
[ "$(grep -c '"method":"PUT".*"key":"zip/README.txt"' a3.jsonl)" -eq 1 ] || fail "README.txt not PUT once"
[ "$(grep '"method":"PUT"' a3.jsonl | grep -vc 'README.txt\|_manifest.json')" -eq 0 ] ||
  fail "members other than README.txt were uploaded"

# 4. A tar.gz from S3 into S3, with SSE-KMS (verified by reading back: no MD5 ETag with KMS).
awscp files/data.tar.gz s3://bkt/in/data.tar.gz
etl s3://bkt/in/data.tar.gz s3://bkt/tgz --sse aws:kms --kms-key-id alias/test --manifest m4.json \
  --audit a4.jsonl >out4.txt 2>err4.txt || fail "tar.gz from S3 failed: $(cat err4.txt)"
[ "$(from_manifest m4.json)" = "$(peer files/data.tar.gz)" ] || fail "tgz manifest: $(from_manifest m4.json)"
check_objects m4.json
grep -q '"verified": "reread-sha256"' m4.json || fail "SSE-KMS uploads not read back"
grep -q '"method":"GET".*"key":"in/data.tar.gz"' a4.jsonl || fail "the S3 source read is not audited"
"$PY" -c 'import json,sys; s=json.load(open("m4.json"))["source"]
assert s["uri"]=="s3://bkt/in/data.tar.gz" and s["etag"] and s["last_modified"] and s["size"]>0, s'

# 5. A .gz and a plain file (one member each), and --include.
etl files/table.csv.gz s3://bkt/gz/ --manifest m5.json --audit a5.jsonl >/dev/null 2>err5.txt ||
  fail ".gz failed: $(cat err5.txt)"
[ "$(from_manifest m5.json)" = "$(peer files/table.csv.gz)" ] || fail ".gz manifest: $(from_manifest m5.json)"
check_objects m5.json
etl "$URL/plain.csv" s3://bkt/plain/ --manifest m6.json --audit a6.jsonl >/dev/null 2>err6.txt ||
  fail "plain failed: $(cat err6.txt)"
[ "$(from_manifest m6.json)" = "$(peer files/plain.csv)" ] || fail "plain manifest: $(from_manifest m6.json)"
check_objects m6.json
etl "$URL/data.zip" s3://bkt/inc/ --include 'train/*.csv' --include README.txt --audit a7.jsonl \
  >/dev/null 2>err7.txt || fail "--include failed: $(cat err7.txt)"
printf '%s\n' s3://bkt/inc/README.txt s3://bkt/inc/_manifest.json s3://bkt/inc/train/part-1.csv \
  s3://bkt/inc/train/part-2.csv | sort >want.txt
keys s3://bkt/inc/ >got.txt
diff want.txt got.txt || fail "--include: objects differ"
if etl "$URL/data.zip" s3://bkt/none/ --include '*.parquet' 2>err.txt; then fail "no match succeeded"; fi
grep -q "no member matches --include" err.txt || fail "no-match message: $(cat err.txt)"

# Formats are detected by content: a tar.gz without its extension, a plain tar.
cp files/data.tar.gz files/archive-download
etl files/archive-download s3://bkt/noext/ --manifest mx.json --quiet --audit ax.jsonl ||
  fail "a tar.gz named without its extension"
[ "$(from_manifest mx.json)" = "$(peer files/data.tar.gz)" ] || fail "noext manifest: $(from_manifest mx.json)"
"$PY" -c 'import tarfile, gzip, shutil; shutil.copyfileobj(gzip.open("files/data.tar.gz"), open("files/data.tar", "wb"))'
etl "$URL/data.tar" s3://bkt/tar/ --manifest mt.json --quiet --audit at.jsonl || fail "a plain tar"
[ "$(from_manifest mt.json)" = "$(peer files/data.tar)" ] || fail "tar manifest: $(from_manifest mt.json)"

# 6. Into a local directory; a rerun there rewrites nothing.
etl files/data.zip outdir --audit a8.jsonl >/dev/null 2>err8.txt || fail "into a directory failed"
for f in README.txt blob.bin train/part-1.csv train/part-2.csv; do
  "$PY" -c 'import zipfile,sys; sys.stdout.buffer.write(zipfile.ZipFile("files/data.zip").read(sys.argv[1]))' \
    "$f" | cmp - "outdir/$f" || fail "outdir/$f differs from Python's extraction"
done
[ "$(from_manifest outdir/_manifest.json)" = "$(peer files/data.zip)" ] || fail "outdir manifest"
before="$(stat -c %Y.%i outdir/blob.bin)"
etl files/data.zip outdir >out9.txt 2>/dev/null || fail "directory rerun failed"
[ "$(grep -c 'unchanged, skipped' out9.txt)" -eq 4 ] || fail "directory rerun: $(cat out9.txt)"
[ "$(stat -c %Y.%i outdir/blob.bin)" = "$before" ] || fail "an unchanged file was rewritten"

# UTF-8 names (a zip's UTF-8 flag), odd characters and "./" / "//" / "." segments normalised.
"$PY" -c '
import zipfile
with zipfile.ZipFile("files/names.zip", "w") as z:
    z.writestr("\u00fcn\u00ef/\u00e7\u00f6d\u00e9.txt", "u\n")
    z.writestr("./x//y/./a b+c&d=%20.csv", "v\n")'
etl "$URL/names.zip" s3://bkt/names/ --manifest mn.json --audit an.jsonl >/dev/null 2>errn.txt ||
  fail "odd names: $(cat errn.txt)"
"$PY" -c 'import json; p=[m["path"] for m in json.load(open("mn.json"))["members"]]
assert p == ["x/y/a b+c&d=%20.csv", "\u00fcn\u00ef/\u00e7\u00f6d\u00e9.txt"], p'
check_objects mn.json

# 7. Refused archives: exit 2, one line naming the archive and the member, nothing uploaded.
refused() { # ARCHIVE PREFIX EXPECTED_MESSAGE
  set +e
  etl "$1" "s3://bkt/$2/" --audit "r_$2.jsonl" >/dev/null 2>"err_$2.txt"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$1: exit $rc, expected 2 ($(cat "err_$2.txt"))"
  [ "$(wc -l <"err_$2.txt")" -eq 1 ] || fail "$1: more than one line: $(cat "err_$2.txt")"
  grep -q "$3" "err_$2.txt" || fail "$1: message: $(cat "err_$2.txt")"
  grep -q '"method":"PUT"\|"method":"POST"' "r_$2.jsonl" 2>/dev/null && fail "$1: something was uploaded"
  [ -z "$(keys "s3://bkt/$2/")" ] || fail "$1: objects under s3://bkt/$2/"
  [ -z "$(ls -A staging)" ] || fail "$1: the staging directory was left behind: $(ls -A staging)"
}
refused "$URL/slip_dotdot.zip" slip1 'slip_dotdot.zip: member "sub/../../evil.txt" has a .\.\.. segment (zip-slip), refused'
refused "$URL/slip_abs.zip" slip2 'slip_abs.zip: member "/etc/evil.txt" has an absolute path (zip-slip), refused'
refused files/symlink.tar link 'symlink.tar: member "passwd" is a symlink, refused'
# The bomb, with the process unable to write a file over 16 MiB: nothing larger is ever written
# (the first read counts and refuses it before any member is extracted to disk).
(
  ulimit -f 16384
  refused "$URL/bomb.zip" bomb 'bomb.zip: member "zeros.bin" extracts to more than 200 times'
) || exit 1
# A lower --max-bytes refuses too; a higher --max-ratio lets a genuinely compressible file pass.
set +e
etl files/table.csv.gz s3://bkt/mb/ --max-bytes 100KiB >/dev/null 2>err.txt
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q 'more than 102400 bytes (max_bytes)' err.txt || fail "max-bytes: $rc $(cat err.txt)"

# 8. 1 and 2 ranks: the same members, sizes, checksums and ETags.
mpirun -np 1 "$HYPERFOLD" etl "$URL/data.zip" s3://bkt/r1/ --manifest r1.json --quiet --audit r1.jsonl ||
  fail "1 rank failed"
mpirun -np 2 "$HYPERFOLD" etl "$URL/data.zip" s3://bkt/r2/ --manifest r2.json --quiet --audit r2.jsonl ||
  fail "2 ranks failed"
"$PY" - <<'EOF' || fail "1 and 2 ranks disagree"
import json
a, b = (json.load(open(f))["members"] for f in ("r1.json", "r2.json"))
strip = lambda ms: [{k: v for k, v in m.items() if k != "uri"} for m in ms]
assert strip(a) == strip(b), (a, b)
assert [m["uri"].replace("/r1/", "/") for m in a] == [m["uri"].replace("/r2/", "/") for m in b]
EOF
grep -q '"rank":1' r2.jsonl || fail "rank 1 did no upload under 2 ranks"

# 9. The default audit log: $HYPERFOLD_AUDIT, else $XDG_STATE_HOME/hyperfold/audit.jsonl.
XDG_STATE_HOME="$WORK/state" etl "$URL/plain.csv" s3://bkt/aud/ --quiet
grep -q '"method":"PUT"' "$WORK/state/hyperfold/audit.jsonl" ||
  fail "no default audit log \$XDG_STATE_HOME/hyperfold/audit.jsonl"
HYPERFOLD_AUDIT="$WORK/env-audit.jsonl" etl "$URL/plain.csv" s3://bkt/aud2/ --quiet
grep -q '"method":"PUT"' env-audit.jsonl || fail "HYPERFOLD_AUDIT not used"
echo "etl tests passed"
