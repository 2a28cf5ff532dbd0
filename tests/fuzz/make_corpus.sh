#!/usr/bin/env bash
# Regenerates the seeds of tests/fuzz/corpus that come from real runs of hyperfold (the others are
# written by hand; every finding's reproducer is kept as it was found):
#   model_h5/       model.h5 of the example sweeps and of three small extra ones (kernel ridge, PCA,
#                   xgboost)
#   manifest/       their shards/manifest.json; data/diabetes-shards/ the diabetes run's shards,
#                   which fuzz_manifest loads with each manifest it parses
#   schema/         the schema objects of those manifests
#   journal/        journal.jsonl of the sweep fuzz_journal replays (its spec comes from the
#                   harness), the data fingerprint in its header replaced by "fuzz-data", and
#                   variants (header only, a torn last line, a failed trial)
#   task_result/    single lines of that journal
#
# The model.h5 seeds are also fuzz_model_h5_struct's templates, and its reproducers are edit
# programs relative to them: they are replaced only with HF_FUZZ_NEW_MODELS=1 (then check that the
# finding-* inputs of corpus/model_h5_struct still reproduce against the unfixed code, or remake
# them).
#
# Usage: tests/fuzz/make_corpus.sh   (needs build/hyperfold: scripts/build.sh build; and the fuzz
# build: tests/fuzz/build.sh). The outputs are small (a few KB each); review and commit them.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
hyperfold=${HYPERFOLD:-$src/build/hyperfold}
fuzzbin=${HF_FUZZ_BIN:-$src/build-fuzz/build}
corpus=$src/tests/fuzz/corpus
py=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir -p "$corpus"/{model_h5,manifest,schema,journal,task_result} "$src/tests/fuzz/data"

run() { # name spec-file
    "$hyperfold" run "$2" --quiet >/dev/null
    [ -n "${HF_FUZZ_NEW_MODELS:-}" ] && cp "runs/$1/model.h5" "$corpus/model_h5/$1.h5"
    cp "runs/$1/shards/manifest.json" "$corpus/manifest/$1.json"
    "$py" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(json.dumps(m["schema"]))' \
        "runs/$1/shards/manifest.json" >"$corpus/schema/$1.json"
}

for ex in diabetes-ridge breast-cancer-logistic penguins-pipeline; do
    sed "s|source: examples/|source: $src/examples/|" "$src/examples/$ex.yaml" >"$ex.yaml"
    run "$ex" "$ex.yaml"
done
rm -rf "$src/tests/fuzz/data/diabetes-shards"
mkdir -p "$src/tests/fuzz/data/diabetes-shards"
cp runs/diabetes-ridge/shards/part-*.h5 "$src/tests/fuzz/data/diabetes-shards/"

head -61 "$src/examples/data/diabetes.csv" >diabetes60.csv
cat >small-kernel-ridge.yaml <<EOF
name: small-kernel-ridge
data: {source: diabetes60.csv, target: target, task: regression}
cv: {folds: 2}
model: {type: kernel_ridge, params: {alpha: 1.0, kernel: [rbf, polynomial], degree: 2}}
EOF
run small-kernel-ridge small-kernel-ridge.yaml
awk 'NR == 1 || NR % 8 == 0' "$src/examples/data/penguins.csv" >penguins40.csv
cat >small-pca-logistic.yaml <<EOF
name: small-pca-logistic
data: {source: penguins40.csv, target: species, columns: {year: categorical}}
cv: {folds: 2, strategy: kfold}
preprocess:
  impute: {numeric: mean, categorical: most_frequent, indicator: true}
  scale: standard
  categorical: onehot
  pca: {n_components: 3}
model: {type: logistic_regression, params: {C: 1.0}}
EOF
run small-pca-logistic small-pca-logistic.yaml
# A booster blob (/model_blobs/booster) and unimputed missing values. Its template index is the
# last (sorted names), so the reproducers' template bytes (0..4) keep their models.
awk 'NR == 1 || (NR - 1) % 4 == 0' "$src/examples/data/penguins.csv" >penguins86.csv
cat >small-xgboost.yaml <<EOF
name: small-xgboost
data: {source: penguins86.csv, target: species}
cv: {folds: 2, seed: 1}
model: {type: xgboost, params: {n_estimators: 3, max_depth: 2, n_jobs: 1}}
EOF
run small-xgboost small-xgboost.yaml

# The journal of fuzz_journal's own sweep.
cp "$src/examples/data/diabetes.csv" diabetes.csv
want=$(HF_FUZZ_WRITE_SPEC=journal.yaml "$fuzzbin/fuzz_journal" -runs=0 2>/dev/null |
    sed -n 's/^spec_sha256 //p')
"$hyperfold" run journal.yaml --quiet >/dev/null
"$py" - runs/fuzz-journal/journal.jsonl "$want" "$corpus" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
head = json.loads(lines[0])
assert head["spec_sha256"] == sys.argv[2], (head["spec_sha256"], sys.argv[2])
head["data"] = "fuzz-data"
out = sys.argv[3]
def write(name, text):
    open(f"{out}/{name}", "w").write(text)
# A version 2 journal as written (each line's checksum after a tab), then the seeds as version 1
# journals without checksums, so that mutations reach the line decoder.
write("journal/full_v2.jsonl", "\n".join([json.dumps(head, separators=(",", ":"))] + lines[1:]) + "\n")
head["version"] = 1
lines = [json.dumps(head, separators=(",", ":"))] + [l.rsplit("\t", 1)[0] for l in lines[1:]]
write("journal/full.jsonl", "\n".join(lines) + "\n")
write("journal/header_only.jsonl", lines[0] + "\n")
write("journal/torn_last_line.jsonl", "\n".join(lines[:3]) + "\n" + lines[3][:40])
failed = json.loads(lines[2])
failed["trials"][0]["status"] = "failed"
failed["trials"][0]["error"] = "ridge: the Gram matrix is singular"
failed["trials"][0]["scores"] = {k: None for k in failed["trials"][0]["scores"]}
write("journal/failed_trial.jsonl",
      "\n".join([lines[0], lines[1], json.dumps(failed, separators=(",", ":"))]) + "\n")
for i in (1, 4):
    write(f"task_result/line{i}.json", lines[i])
write("task_result/failed.json", json.dumps(failed, separators=(",", ":")))
EOF
ls -l "$corpus"/{model_h5,manifest,schema,journal,task_result} "$src/tests/fuzz/data/diabetes-shards"
