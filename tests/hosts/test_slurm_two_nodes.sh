#!/usr/bin/env bash
# A two-node Slurm cluster on two test hosts (tests/hosts/slurm2.sh: slurmctld and one slurmd per
# host, NodeAddr the host's veth address): `hyperfold submit --nodes 2` (the flag overriding the
# spec's slurm.nodes 1) runs a sweep with 2 ranks on each node through srun --mpi=pmix, and its
# results.json equals a 1-node run's (mpirun on one host, outside Slurm).
. "$HF_SOURCE_DIR/tests/hosts/lib.sh"
. "$HF_SOURCE_DIR/tests/hosts/slurm2.sh"
[ -n "${HYPERFOLD:-}" ] && [ -x "$HYPERFOLD" ] || hf_fail "HYPERFOLD must name the hyperfold binary"
command -v slurmctld >/dev/null && command -v munged >/dev/null || hf_fail "slurm-wlm and munge are needed"
hf_hosts_setup 2
hf_slurm2_start || hf_fail "could not start the two-node cluster"
# The batch script decides yield_when_idle itself; Open MPI's TCP traffic stays on the veth subnet.
unset OMPI_MCA_mpi_yield_when_idle HYPERFOLD_BIN
export OMPI_MCA_btl_tcp_if_include=$HF_HOSTS_SUBNET.0/24 OMPI_MCA_oob_tcp_if_include=$HF_HOSTS_SUBNET.0/24

field() { # field JOBID FIELD: a field of `scontrol show job`
    hf_hosts_exec hf0 scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

ex=$HF_SOURCE_DIR/examples/data
work=$HF_HOSTS_DIR/work
mkdir -p "$work" "$HF_HOSTS_DIR/ref" || hf_fail "mkdir"
cat >"$work/job.yaml" <<YAML
name: two-nodes
data: {source: $ex/breast_cancer.csv, target: diagnosis}
cv: {folds: 3, seed: 4}
preprocess: {scale: standard}
model:
  type: logistic_regression
  params:
    C: {log_uniform: [1.0e-3, 1.0e2]}
search: {strategy: random, trials: 8, seed: 2}
objective: {metric: log_loss}
output: {dir: out}
slurm: {partition: debug, nodes: 1, ntasks_per_node: 2}
YAML
cp "$work/job.yaml" "$HF_HOSTS_DIR/ref/" || hf_fail "cp"

out=$(cd "$work" && hf_hosts_exec hf0 "$HYPERFOLD" submit job.yaml --nodes 2 --time 00:05:00) ||
    hf_fail "hyperfold submit --nodes 2 failed: $out"
echo "$out" >&2
job=$(sed -n 's/^submitted job \([0-9][0-9]*\)$/\1/p' <<<"$out")
[ -n "$job" ] || hf_fail "no job id in: $out"
for ((i = 0; i < 1200; i++)); do
    case $(field "$job" JobState) in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) break ;;
    esac
    sleep 0.1
done
log=$work/out/two-nodes/slurm-$job.log
state=$(field "$job" JobState)
[ "$state" = COMPLETED ] || { tail -n 40 "$log" >&2; hf_fail "job $job ended '$state' ($(field "$job" ExitCode)), expected COMPLETED"; }
[ "$(field "$job" NumNodes)" = 2 ] || hf_fail "--nodes 2 did not give 2 nodes: NumNodes=$(field "$job" NumNodes)"
[ "$(field "$job" NodeList)" = "hf[0-1]" ] || hf_fail "the job ran on '$(field "$job" NodeList)', expected hf[0-1]"
[ "$(field "$job" NumTasks)" = 4 ] || hf_fail "expected 4 tasks (2 per node): NumTasks=$(field "$job" NumTasks)"
grep -q "srun --mpi=pmix $HYPERFOLD run" "$log" || hf_fail "the job did not launch srun --mpi=pmix hyperfold run"
"$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; assert t["ranks"] == 4, t' \
    "$work/out/two-nodes/results.json" || hf_fail "the sweep did not run on 4 ranks"

# The same spec on one node (one host, 2 ranks, outside Slurm) gives the same results.
(cd "$HF_HOSTS_DIR/ref" && hf_hosts_mpirun hf0:2 -np 2 "$HYPERFOLD" run job.yaml --quiet) ||
    hf_fail "the 1-node reference run failed"
hf_hosts_same_results "$HF_HOSTS_DIR/ref/out/two-nodes/results.json" "$work/out/two-nodes/results.json"
echo "ok: job $job ran on hf0 and hf1 (2 ranks each); results equal the 1-node run" >&2
echo PASS
