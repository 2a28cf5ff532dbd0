#!/usr/bin/env bash
# S3 ingest throughput: `hyperfold describe` of an s3:// CSV at 1 and 2 ranks, beside `aws s3 cp`
# and `hyperfold s3 cp` of the same object to local disk, and `hyperfold describe` of the same
# bytes as a local file, all on this machine in the same run against a private local S3 server
# (tests/s3/s3server.sh: @20minutes/s3rver on 127.0.0.1).
#
# What is timed: the wall clock of the whole command, nothing subtracted. For `describe` that is
# mpirun start-up, HEAD, the ingest (header read, counting pass, parse pass(es), HDF5 shard writes,
# manifest) and the column profile (small next to the ingest). Every describe run uses a fresh
# output directory, so shards are never reused. MB/s = object bytes / 1e6 / seconds. The "GET
# bytes / object" column is the bytes that the audit log records as received, over the object
# size (how many times the object crossed the wire).
#
# usage: bench/s3_ingest.sh            (env: SIZE_MB=200 REPS=3 RANKS_LIST="1 2" HYPERFOLD=...)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/.." && pwd)"
SIZE_MB="${SIZE_MB:-200}"
REPS="${REPS:-3}"
RANKS_LIST="${RANKS_LIST:-1 2}"
HYPERFOLD="${HYPERFOLD:-$src/build/hyperfold}"
PY=/usr/bin/python3
AWS_BIN=/usr/bin/aws
SERVER="$src/tests/s3/s3server.sh"
[ -x "$HYPERFOLD" ] || { echo "s3_ingest.sh: no hyperfold binary at $HYPERFOLD (build first)" >&2; exit 1; }
[ -x "$AWS_BIN" ] || { echo "s3_ingest.sh: Debian's awscli (/usr/bin/aws) is needed" >&2; exit 1; }

W="$(mktemp -d /tmp/hf_s3_bench.XXXXXX)"
cleanup() {
  "$SERVER" stop "$W" || true
  rm -rf "$W"
}
trap cleanup EXIT
export HOME="$W/home"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE AWS_ENDPOINT_URL || true
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1

# The data: 8 numeric columns, one text column and a target, about 90 bytes a row; a 20 MB block
# of distinct rows is repeated (header once) up to SIZE_MB.
"$PY" - "$W/data.csv" "$SIZE_MB" <<'PY'
import random, sys
out, size = sys.argv[1], int(sys.argv[2]) * 1000 * 1000
rnd = random.Random(5)
rows = []
for _ in range(220000):
    xs = ["%.6f" % rnd.gauss(0, 1) for _ in range(8)]
    rows.append(",".join(xs) + ",%s,%.6f\n" % (rnd.choice(["red", "green", "blue"]), rnd.gauss(0, 3)))
block = "".join(rows).encode()
with open(out, "wb") as f:
    f.write(b"x0,x1,x2,x3,x4,x5,x6,x7,color,target\n")
    n = 0
    while n < size:
        part = block[: size - n] if size - n < len(block) else block
        if len(part) < len(block):
            part = part[: part.rfind(b"\n") + 1] or block[: block.find(b"\n") + 1]
        f.write(part)
        n += len(part)
PY
BYTES=$(stat -c %s "$W/data.csv")
EP="$("$SERVER" start "$W" bkt)"
"$AWS_BIN" --endpoint-url "$EP" s3 cp --only-show-errors "$W/data.csv" s3://bkt/bench/data.csv

spec() { # FILE OUTDIR SOURCE [ENDPOINT]
  {
    printf 'name: bench\ndata: {source: "%s", target: target, task: regression}\n' "$3"
    printf 'model: {type: ridge}\noutput: {dir: "%s"}\n' "$2"
    [ -z "${4:-}" ] || printf 's3: {endpoint: "%s"}\n' "$4"
  } >"$1"
}

now() { date +%s.%N; }
RESULTS="$W/results.tsv"
: >"$RESULTS"
record() { # LABEL RANKS SECONDS GET_BYTES
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"
}
get_bytes() { # AUDIT -> bytes of GET bodies received
  "$PY" -c 'import json,sys; print(sum(json.loads(l)["bytes"] for l in open(sys.argv[1]) if json.loads(l)["method"] == "GET"))' "$1"
}

for rep in $(seq 1 "$REPS"); do
  rm -f "$W/copy.csv"
  t0=$(now)
  "$AWS_BIN" --endpoint-url "$EP" s3 cp --only-show-errors s3://bkt/bench/data.csv "$W/copy.csv"
  t1=$(now)
  cmp -s "$W/data.csv" "$W/copy.csv" || { echo "aws s3 cp: the copy differs" >&2; exit 1; }
  record "aws s3 cp s3:// -> local disk" 1 "$($PY -c "print($t1 - $t0)")" "$BYTES"

  rm -f "$W/copy.csv"
  t0=$(now)
  "$HYPERFOLD" s3 cp s3://bkt/bench/data.csv "$W/copy.csv" --endpoint "$EP" --audit "$W/cp$rep.jsonl"
  t1=$(now)
  cmp -s "$W/data.csv" "$W/copy.csv" || { echo "hyperfold s3 cp: the copy differs" >&2; exit 1; }
  record "hyperfold s3 cp s3:// -> local disk" 1 "$($PY -c "print($t1 - $t0)")" "$(get_bytes "$W/cp$rep.jsonl")"
  rm -f "$W/copy.csv"

  for np in $RANKS_LIST; do
    out="$W/runs/s3-$np-$rep"
    spec "$W/s3.yaml" "$out" s3://bkt/bench/data.csv "$EP"
    t0=$(now)
    mpirun --oversubscribe -np "$np" "$HYPERFOLD" describe "$W/s3.yaml" >/dev/null
    t1=$(now)
    record "hyperfold describe s3://" "$np" "$($PY -c "print($t1 - $t0)")" "$(get_bytes "$out/bench/audit.jsonl")"
    rm -rf "$out"

    out="$W/runs/file-$np-$rep"
    spec "$W/file.yaml" "$out" "$W/data.csv"
    t0=$(now)
    mpirun --oversubscribe -np "$np" "$HYPERFOLD" describe "$W/file.yaml" >/dev/null
    t1=$(now)
    record "hyperfold describe local file" "$np" "$($PY -c "print($t1 - $t0)")" "-"
    rm -rf "$out"
  done
done

"$PY" - "$RESULTS" "$BYTES" "$REPS" <<'PY'
import statistics, sys
path, size, reps = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for line in open(path):
    label, ranks, secs, got = line.rstrip("\n").split("\t")
    rows.setdefault((label, int(ranks)), []).append((float(secs), got))
print("object: %.1f MB (%d bytes); median of %s runs; wall clock of the whole command" % (size / 1e6, size, reps))
print("%-38s %5s %10s %10s %12s" % ("command", "ranks", "seconds", "MB/s", "GET/object"))
for (label, ranks), v in rows.items():
    secs = statistics.median(s for s, _ in v)
    gets = [int(g) for _, g in v if g != "-"]
    amp = "%.2f" % (statistics.median(gets) / size) if gets else "-"
    print("%-38s %5d %10.2f %10.1f %12s" % (label, ranks, secs, size / 1e6 / secs, amp))
PY
