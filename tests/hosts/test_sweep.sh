#!/usr/bin/env bash
# A whole job with ranks on 2 and on 3 hosts (network namespaces with their own hostnames, joined
# by veth: tests/hosts/lib.sh): ingest, sweep, selection, refit, export, then `hyperfold predict`
# across the hosts too, for a linear model with preprocessing, xgboost, and kernel ridge on worker
# groups of 2 ranks whose two ranks sit on different hosts (--map-by node places consecutive ranks
# on different hosts; groups are consecutive ranks), and a data-parallel logistic regression
# (parallel.data_parallel: each rank of a group of 2 holds half the rows, its two ranks on two
# hosts). Every results.json score, parameter and
# selection and the exported model (bit for bit, apart from its creation time) must equal the
# same job's on 1 host at 2 ranks, and the predictions (written by 4 and 6 ranks on several hosts)
# must be the same bytes as the 1-host, 2-rank predictions.
. "$HF_SOURCE_DIR/tests/hosts/lib.sh"
[ -n "${HYPERFOLD:-}" ] && [ -x "$HYPERFOLD" ] || hf_fail "HYPERFOLD must name the hyperfold binary"
hf_hosts_setup 3
ex=$HF_SOURCE_DIR/examples/data

# Open MPI reaches every host: one rank per host reports its hostname.
got=$(hf_hosts_mpirun hf0:1,hf1:1,hf2:1 hostname | sort | tr '\n' ' ')
[ "$got" = "hf0 hf1 hf2 " ] || hf_fail "mpirun on 3 hosts printed '$got', expected 'hf0 hf1 hf2 '"

# --map-by node puts consecutive ranks on different hosts: each worker group of 2 spans 2 hosts.
for hl in hf0:2,hf1:2 hf0:2,hf1:2,hf2:2; do
    n=$(($(tr -cd , <<<"$hl" | wc -c) * 2 + 2))
    got=$(hf_hosts_mpirun "$hl" -np "$n" --map-by node sh -c 'echo $OMPI_COMM_WORLD_RANK $(hostname)' |
        sort -n | awk '{printf "%s ", $2}')
    want=$(for ((r = 0; r < n; r++)); do printf 'hf%d ' $((r % (n / 2))); done)
    [ "$got" = "$want" ] || hf_fail "ranks 0..$((n - 1)) on $hl ran on '$got', expected '$want'"
done

spec_linear() {
    cat <<YAML
name: linear
data: {source: $ex/penguins.csv, target: species, columns: {year: categorical}}
cv: {folds: 3, strategy: stratified, seed: 3}
preprocess:
  impute: {numeric: [mean, median], categorical: most_frequent}
  scale: standard
  categorical: onehot
model:
  type: logistic_regression
  params:
    C: [0.1, 10.0]
    max_iter: 500
search: {strategy: grid}
objective: {metric: log_loss, report: [accuracy]}
output: {dir: out}
YAML
}
spec_xgb() {
    cat <<YAML
name: xgb
data: {source: $ex/sonar.csv, target: Class}
cv: {folds: 3, strategy: stratified, seed: 7}
model:
  type: xgboost
  params:
    n_estimators: [20, 40]
    max_depth: [2, 3]
    learning_rate: 0.1
    subsample: 0.8
    colsample_bynode: 0.5
search: {strategy: grid}
objective: {metric: roc_auc, report: [log_loss]}
output: {dir: out}
YAML
}
spec_dp() {
    cat <<YAML
name: dp
data: {source: $ex/breast_cancer.csv, target: diagnosis}
cv: {folds: 3, strategy: stratified, seed: 5}
preprocess: {impute: {numeric: mean}, scale: standard}
model:
  type: logistic_regression
  params:
    C: [0.05, 1.0]
    max_iter: 500
search: {strategy: grid}
objective: {metric: roc_auc, report: [log_loss]}
parallel: {ranks_per_task: 2, data_parallel: true}
output: {dir: out}
YAML
}
spec_kr() {
    cat <<YAML
name: kr
data: {source: $ex/diabetes.csv, target: target}
cv: {folds: 3, seed: 1}
preprocess: {scale: standard}
model:
  type: kernel_ridge
  params:
    alpha: [0.1, 1.0]
    kernel: [rbf, linear]
    gamma: 0.05
parallel: {ranks_per_task: 2, block_size: 37}
output: {dir: out}
YAML
}

# run_case WHERE JOB INPUT LAUNCH...: the job's spec in $HF_HOSTS_DIR/WHERE/JOB, run and predicted
# with the command LAUNCH (an mpirun) in front of hyperfold.
run_case() {
    local where=$1 job=$2 input=$3 d
    shift 3
    d=$HF_HOSTS_DIR/$where/$job
    mkdir -p "$d" && "spec_$job" >"$d/job.yaml" || hf_fail "writing $d/job.yaml"
    (cd "$d" && "$@" "$HYPERFOLD" run job.yaml --quiet) >"$d/run.log" 2>&1 ||
        { cat "$d/run.log" >&2; hf_fail "$where: $job: hyperfold run failed"; }
    [ -s "$d/out/$job/model.h5" ] || hf_fail "$where: $job: no model.h5"
    (cd "$d" && "$@" "$HYPERFOLD" predict --model "out/$job/model.h5" --input "$input" \
        --output pred.csv --quiet) >"$d/predict.log" 2>&1 ||
        { cat "$d/predict.log" >&2; hf_fail "$where: $job: hyperfold predict failed"; }
}

for job in linear xgb kr dp; do
    case $job in
    linear) input=$ex/penguins.csv ;;
    xgb) input=$ex/sonar.csv ;;
    kr) input=$ex/diabetes.csv ;;
    dp) input=$ex/breast_cancer.csv ;;
    esac
    # The reference: one host, 2 ranks (kernel ridge: one group of 2).
    run_case one "$job" "$input" hf_hosts_mpirun hf0:2 -np 2
    # 2 hosts, 4 ranks, consecutive ranks on different hosts; 3 hosts, 6 ranks, the same.
    run_case two "$job" "$input" hf_hosts_mpirun hf0:2,hf1:2 -np 4 --map-by node
    run_case three "$job" "$input" hf_hosts_mpirun hf0:2,hf1:2,hf2:2 -np 6 --map-by node
    for where in two three; do
        hf_hosts_same_results "$HF_HOSTS_DIR/one/$job/out/$job/results.json" \
            "$HF_HOSTS_DIR/$where/$job/out/$job/results.json"
        hf_hosts_same_model "$HF_HOSTS_DIR/one/$job/out/$job/model.h5" \
            "$HF_HOSTS_DIR/$where/$job/out/$job/model.h5"
        np_=$([ $where = two ] && echo 4 || echo 6)
        hf_hosts_same_file "$HF_HOSTS_DIR/one/$job/pred.csv" "$HF_HOSTS_DIR/$where/$job/pred.csv" \
            "$job: predictions of 2 ranks on 1 host and of $np_ ranks on $where hosts"
        "$PYTHON" -c 'import json,sys; t=json.load(open(sys.argv[1]))["timing"]; assert t["ranks"] == int(sys.argv[2]), t' \
            "$HF_HOSTS_DIR/$where/$job/out/$job/results.json" "$np_" ||
            hf_fail "$where: $job: results.json does not say the run had its ranks"
    done
    echo "ok: $job: the same results.json and predictions on 1, 2 and 3 hosts" >&2
done
echo PASS
