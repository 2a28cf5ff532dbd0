#!/usr/bin/env bash
# shards.local_dir on 2 hosts, each with its own node-local directory at the same path (lib.sh):
# the first run copies the shards from the shared run directory to each host once (the host's
# first rank copies, the others read the copy); a second run on the same hosts reuses the copies
# after checking their SHA-256 (a log line per host says so); a damaged local shard on one host is
# found and replaced (a warning naming the file and the host) and a stale one (another ingest's
# bytes) too; every run's results equal a run without local_dir on 1 host.
. "$HF_SOURCE_DIR/tests/hosts/lib.sh"
[ -n "${HYPERFOLD:-}" ] && [ -x "$HYPERFOLD" ] || hf_fail "HYPERFOLD must name the hyperfold binary"
hf_hosts_setup 2
ex=$HF_SOURCE_DIR/examples/data
node=$HF_HOSTS_DIR/node # node/hf0, node/hf1: what each host sees at $HF_HOSTS_NODE_LOCAL

spec() { # spec NAME LOCAL_DIR_LINE
    cat <<YAML
name: $1
data: {source: $ex/breast_cancer.csv, target: diagnosis}
$2
cv: {folds: 3, seed: 2}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: [0.1, 1.0, 10.0]
search: {strategy: grid}
objective: {metric: log_loss}
output: {dir: out}
YAML
}

# The reference: no local_dir, 1 host, 2 ranks, the same 3 shards.
mkdir -p "$HF_HOSTS_DIR/ref" && spec lc "shards: {count: 3}" >"$HF_HOSTS_DIR/ref/job.yaml" || hf_fail "spec"
(cd "$HF_HOSTS_DIR/ref" && hf_hosts_mpirun hf0:2 -np 2 "$HYPERFOLD" run job.yaml --quiet) ||
    hf_fail "the reference run failed"

work=$HF_HOSTS_DIR/work
mkdir -p "$work" && spec lc "shards: {count: 3, local_dir: $HF_HOSTS_NODE_LOCAL}" >"$work/job.yaml" ||
    hf_fail "spec"
# run LOG: the job on 2 hosts (4 ranks, 2 a host) in a fresh output directory; its log in LOG.
run() {
    rm -rf "$work/out"
    (cd "$work" && hf_hosts_mpirun hf0:2,hf1:2 -np 4 "$HYPERFOLD" run job.yaml) >"$1" 2>&1 ||
        { cat "$1" >&2; hf_fail "the run of $1 failed"; }
    # The specs differ in shards.local_dir only, so their digests differ.
    hf_hosts_same_results "$HF_HOSTS_DIR/ref/out/lc/results.json" "$work/out/lc/results.json" spec_sha256
}
# line LOG HOST WHAT: the log's shards.local_dir line for HOST, which must say WHAT.
line() {
    local l
    l=$(grep "shards.local_dir: node $2: 3 shards in " "$1")
    [ "$(wc -l <<<"$l")" = 1 ] && [ -n "$l" ] || { cat "$1" >&2; hf_fail "$1: not one shards.local_dir line for $2"; }
    grep -q "$3" <<<"$l" || hf_fail "$1: $2: '$l', expected '$3'"
}
# same_copies: each host's copy holds the shared shards and manifest byte for byte.
same_copies() {
    local h f n copy
    for h in hf0 hf1; do
        copy=("$node/$h"/shards-*)
        [ "${#copy[@]}" = 1 ] && [ -d "${copy[0]}" ] || hf_fail "$h: not one copy directory: ${copy[*]}"
        n=0
        for f in "$work"/out/lc/shards/part-*.h5; do
            cmp -s "$f" "${copy[0]}/${f##*/}" || hf_fail "$h: ${f##*/} is not the shared shard"
            n=$((n + 1))
        done
        [ "$n" = 3 ] || hf_fail "$n shards in the shared directory, expected 3"
        [ -s "${copy[0]}/manifest.json" ] || hf_fail "$h: no manifest.json beside the copies"
        for f in "${copy[0]}"/*; do
            case ${f##*/} in
            part-0000[0-2].h5 | manifest.json) ;;
            *) hf_fail "$h: ${f##*/} was left in the copy" ;;
            esac
        done
    done
    return 0
}

run "$HF_HOSTS_DIR/run1.log"
line "$HF_HOSTS_DIR/run1.log" hf0 "3 copied, 0 reused after checking their SHA-256, 0 replaced"
line "$HF_HOSTS_DIR/run1.log" hf1 "3 copied, 0 reused after checking their SHA-256, 0 replaced"
same_copies
[ -z "$(ls -A "$HF_HOSTS_NODE_LOCAL")" ] || hf_fail "a host's copy landed in the shared directory"
echo "ok: the first run copied the shards once to each host" >&2

run "$HF_HOSTS_DIR/run2.log"
line "$HF_HOSTS_DIR/run2.log" hf0 "0 copied, 3 reused after checking their SHA-256, 0 replaced"
line "$HF_HOSTS_DIR/run2.log" hf1 "0 copied, 3 reused after checking their SHA-256, 0 replaced"
echo "ok: the second run reused both hosts' copies" >&2

# A damaged shard on hf1 (one byte changed in place) and a stale one on hf0 (another shard's bytes).
f1=$(ls "$node"/hf1/shards-*/part-00001.h5)
printf '\x5a' | dd of="$f1" bs=1 seek=3000 conv=notrunc status=none || hf_fail "dd"
cp "$(ls "$node"/hf0/shards-*/part-00002.h5)" "$(ls "$node"/hf0/shards-*/part-00000.h5)" || hf_fail "cp"
run "$HF_HOSTS_DIR/run3.log"
grep -q "shards.local_dir: .*/part-00001.h5 on hf1: SHA-256 .* damaged or stale, copying it again" \
    "$HF_HOSTS_DIR/run3.log" || { cat "$HF_HOSTS_DIR/run3.log" >&2; hf_fail "the damaged shard on hf1 was not reported"; }
grep -q "shards.local_dir: .*/part-00000.h5 on hf0: SHA-256 .* damaged or stale" "$HF_HOSTS_DIR/run3.log" ||
    hf_fail "the stale shard on hf0 was not reported"
line "$HF_HOSTS_DIR/run3.log" hf0 "0 copied, 2 reused after checking their SHA-256, 1 replaced"
line "$HF_HOSTS_DIR/run3.log" hf1 "0 copied, 2 reused after checking their SHA-256, 1 replaced"
same_copies
echo "ok: a damaged and a stale local shard were replaced; results equal throughout" >&2
echo PASS
