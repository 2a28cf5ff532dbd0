#!/usr/bin/env bash
# `hyperfold etl`, the review's cases: many members in time n log n (20,000 tiny members into a
# directory, then a rerun that skips them all); an earlier manifest with upper-case or malformed
# SHA-256s read alike at 1 and 2 ranks; a member that is also another member's directory refused
# before anything is written; --sse with a local DEST refused; --max-bytes sizes read as the job
# spec reads them (1GB = 10^9, 1.5G, 64gib).
source "$(dirname "$0")/lib.sh"
cd "$WORK"
source "$S3DIR/etl_lib.sh"

"$PY" - <<'EOF'
import io, tarfile, zipfile
with zipfile.ZipFile("files/many.zip", "w", zipfile.ZIP_STORED) as z:
    for i in range(20000):
        z.writestr("d%02d/m%05d.txt" % (i % 50, i), "%d\n" % i)
with zipfile.ZipFile("files/two.zip", "w") as z:
    z.writestr("a.csv", "x\n1\n")
    z.writestr("b/c.csv", "x\n2\n")
with tarfile.open("files/filedir.tar", "w") as t:
    for name, data in [("ok.txt", b"fine"), ("a", b"file a"), ("a-b", b"x"), ("a/b", b"inside a")]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
EOF

# 1. 20,000 members into a directory, then a rerun: every member skipped, none rewritten. With a
# linear search per member (quadratic in the count) this took minutes.
etl files/many.zip many --quiet || fail "20000 members failed"
"$PY" - <<'EOF' || fail "20000 members: the manifest disagrees with Python's zipfile"
import hashlib, json, zipfile
z = zipfile.ZipFile("files/many.zip")
want = sorted((n, hashlib.sha256(z.read(n)).hexdigest()) for n in z.namelist())
got = [(m["path"], m["sha256"]) for m in json.load(open("many/_manifest.json"))["members"]]
assert got == want, (len(got), len(want))
assert open("many/d07/m12357.txt").read() == "12357\n"
EOF
before="$(stat -c %Y.%i many/d00/m00000.txt)"
etl files/many.zip many >many2.txt 2>&1 || fail "20000 members rerun failed: $(tail -3 many2.txt)"
[ "$(grep -c 'unchanged, skipped' many2.txt)" -eq 20000 ] || fail "rerun: $(tail -3 many2.txt)"
grep -q '20000 members of .*: 0 written (0 bytes), 20000 unchanged' many2.txt || fail "rerun summary: $(tail -1 many2.txt)"
[ "$(stat -c %Y.%i many/d00/m00000.txt)" = "$before" ] || fail "an unchanged member was rewritten"

# 2. An earlier manifest whose SHA-256s are upper case: the same at 1 and 2 ranks (both skip the
# unchanged members); one whose SHA-256 is malformed counts as unknown (uploaded again) at both.
etl files/two.zip s3://bkt/up/ --quiet --audit up0.jsonl || fail "two.zip upload failed"
hfs3 cp s3://bkt/up/_manifest.json m.json --endpoint "$EP" >/dev/null
"$PY" - <<'EOF'
import json
m = json.load(open("m.json"))
for e in m["members"]:
    e["sha256"] = e["sha256"].upper()
json.dump(m, open("upper.json", "w"))
m["members"][0]["sha256"] = "z" * 64  # a.csv: malformed
json.dump(m, open("bad.json", "w"))
EOF
for np in 1 2; do
  hfs3 cp upper.json s3://bkt/up/_manifest.json --endpoint "$EP" >/dev/null
  mpirun -np "$np" "$HYPERFOLD" etl files/two.zip s3://bkt/up/ --audit "up$np.jsonl" >"up$np.txt" 2>&1 ||
    fail "upper-case earlier manifest at $np ranks: $(cat "up$np.txt")"
  [ "$(grep -c 'unchanged, skipped' "up$np.txt")" -eq 2 ] || fail "upper case at $np ranks: $(cat "up$np.txt")"
  grep -q '"method":"PUT"' "up$np.jsonl" && fail "upper case at $np ranks: something was uploaded"
  hfs3 cp bad.json s3://bkt/up/_manifest.json --endpoint "$EP" >/dev/null
  mpirun -np "$np" "$HYPERFOLD" etl files/two.zip s3://bkt/up/ --audit "bad$np.jsonl" >"bad$np.txt" 2>&1 ||
    fail "malformed earlier manifest at $np ranks: $(cat "bad$np.txt")"
  grep -q '^a.csv: 4 bytes -> s3://bkt/up/a.csv' "bad$np.txt" || fail "malformed at $np ranks: $(cat "bad$np.txt")"
  grep -q '^b/c.csv: unchanged, skipped' "bad$np.txt" || fail "malformed at $np ranks: $(cat "bad$np.txt")"
  [ "$(grep -c '"method":"PUT".*"key":"up/a.csv"' "bad$np.jsonl")" -eq 1 ] || fail "a.csv not PUT once at $np ranks"
done

# 3. "a" and "a/b" in one tar: refused (exit 2, one line) before anything is written, into a
# directory and into S3 alike.
for dest in fd s3://bkt/fd/; do
  set +e
  mpirun -np 2 "$HYPERFOLD" etl files/filedir.tar "$dest" --audit fd.jsonl >/dev/null 2>fd.err
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$dest: a file that is also a directory: exit $rc ($(cat fd.err))"
  # (mpirun adds its own lines: the ranks' messages are those of hyperfold)
  [ "$(grep -c '^hyperfold' fd.err)" -eq 1 ] || fail "$dest: more than one line: $(cat fd.err)"
  grep -q 'filedir.tar: member "a" is a file and also the directory of member "a/b", refused' fd.err ||
    fail "$dest: message: $(cat fd.err)"
done
[ ! -e fd ] || fail "the refused archive wrote into fd/: $(find fd)"
[ -z "$(keys s3://bkt/fd/)" ] || fail "the refused archive uploaded: $(keys s3://bkt/fd/)"

# 4. --sse / --kms-key-id with a local DEST: refused, exit 2, nothing written.
for flags in "--sse none" "--sse aws:kms --kms-key-id k1"; do
  set +e
  # shellcheck disable=SC2086
  etl files/two.zip sse_local $flags >/dev/null 2>sse.err
  rc=$?
  set -e
  [ "$rc" -eq 2 ] && [ "$(grep -c . sse.err)" -eq 1 ] &&
    grep -q 'etl: --sse: given with the local DEST "sse_local", expected an s3:// DEST' sse.err ||
    fail "$flags with a local DEST: exit $rc: $(cat sse.err)"
done
[ ! -e sse_local ] || fail "--sse with a local DEST wrote sse_local/"

# 5. --max-bytes reads sizes as data.etl.max_bytes does: 1GB is 10^9, 1.5G and 64gib are sizes;
# 9B (fewer than the 2.4 KB of many members) refuses with the limit in bytes.
for size in 1GB 1.5G 64gib 4096; do
  etl files/two.zip "mb_$size" --max-bytes "$size" --quiet || fail "--max-bytes $size refused"
done
set +e
etl files/many.zip mb_small --max-bytes 5B >/dev/null 2>mb.err
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q 'more than 5 bytes (max_bytes)' mb.err || fail "--max-bytes 5B: exit $rc $(cat mb.err)"
set +e
etl files/two.zip mb_bad --max-bytes 1.5X >/dev/null 2>mb.err
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q 'etl: --max-bytes: got "1.5X", expected a size' mb.err || fail "--max-bytes 1.5X: exit $rc $(cat mb.err)"
# A name that promises an archive over bytes that are none (an error page saved as data.zip) is
# refused, exit 2, nothing written; a real .gz and a plain .csv are still one member each.
printf '<html>Access Denied</html>' >files/page.zip
set +e
etl files/page.zip page_out >/dev/null 2>page.err
rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <page.err)" -eq 1 ] && grep -q 'page.zip: got a file that is not a zip archive' page.err ||
  fail "a non-zip named .zip: exit $rc $(cat page.err)"
[ ! -e page_out ] || [ -z "$(ls -A page_out)" ] || fail "a refused non-zip wrote $(ls page_out)"
printf 'a,b\n1,2\n' >files/p.csv && gzip -kf files/p.csv
etl files/p.csv.gz gz_out --quiet && cmp files/p.csv gz_out/p.csv || fail "a real .gz"
etl files/p.csv csv_out --quiet && cmp files/p.csv csv_out/p.csv || fail "a plain .csv"
echo "etl review tests passed"
