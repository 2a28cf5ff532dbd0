#!/usr/bin/env bash
# The README's first command: install what is needed, build, and run a real example job end to end
# (validate, a 4-rank sweep, batch prediction) on the diabetes data shipped in examples/data, then
# gradient-boosted trees against a logistic-regression baseline on the sonar data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1
# Open MPI would probe Omni-Path (PSM/PSM2) at every start, 0.2 s here, then pick ob1 anyway.
export OMPI_MCA_pml=ob1
hf=build/hyperfold
mkdir -p runs
# (to a file first: a pipe into head would end the writer with SIGPIPE, which pipefail reports)
$hf validate examples/diabetes-ridge.yaml >runs/diabetes-validate.txt
head -20 runs/diabetes-validate.txt
mpirun -np 4 $hf run examples/diabetes-ridge.yaml
mpirun -np 4 $hf predict --model runs/diabetes-ridge/model.h5 \
  --input examples/data/diabetes.csv --output runs/diabetes-ridge/predictions.csv
echo "--- runs/diabetes-ridge/results.json (best)"
python3 -c 'import json;r=json.load(open("runs/diabetes-ridge/results.json"));print(json.dumps(r["best"],indent=2))' 2>/dev/null \
  || grep -A12 '"best"' runs/diabetes-ridge/results.json
echo "--- first predictions"
head -5 runs/diabetes-ridge/predictions.csv
echo "--- sonar: gradient-boosted trees (xgboost) against the logistic-regression baseline"
for r in sonar-logistic sonar-xgboost; do
  mpirun -np 2 $hf run examples/$r.yaml 2>&1 | grep ": best trial" | cut -c1-80 | sed "s/^hyperfold/$r/"
done
echo "--- the first hour on sonar: extract the zip (hyperfold etl), look at the table (describe), then"
echo "    two transforms inside the folds (Yeo-Johnson + pairwise products) against the baseline above"
$hf etl examples/data/sonar.zip runs/data/sonar/ --include '*.csv' --audit off
$hf describe runs/data/sonar/sonar/sonar.csv --target Class >runs/sonar-describe.txt
head -8 runs/sonar-describe.txt
mpirun -np 2 $hf run examples/sonar-features.yaml 2>&1 | grep ": best trial" | cut -c1-80 |
  sed "s/^hyperfold/sonar-features/"
echo "--- the same job reading from and writing to S3: the IAM policy it needs and nothing more"
sed -e 's#source: examples/data/sonar.zip#source: s3://my-raw-bucket/downloads/sonar.zip#' \
  -e 's#dest: runs/data/sonar/#dest: s3://my-data-bucket/sonar/#' \
  -e 's#source: runs/data/sonar/sonar/sonar.csv#source: s3://my-data-bucket/sonar/sonar/sonar.csv#' \
  -e 's#^  dir: runs#  dir: runs\n  upload: s3://my-results-bucket/hyperfold/#' \
  examples/sonar-features.yaml >runs/sonar-features-s3.yaml
$hf iam-policy runs/sonar-features-s3.yaml | python3 -c 'import json,sys
for st in json.load(sys.stdin)["Statement"]: print("%-22s %-24s %s" % (st["Sid"], ",".join(st["Action"]), st["Resource"]))' 2>/dev/null ||
  $hf iam-policy runs/sonar-features-s3.yaml
echo "--- the run's report (one self-contained page, open it in a browser): runs/sonar-xgboost/report.html"
ls -l runs/sonar-xgboost/report.html
echo "--- host the xgboost model (SageMaker's contract) and call it with curl"
$hf serve --model runs/sonar-xgboost/model.h5 --port 8080 --quiet >runs/serve.log 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:8080/ping >/dev/null && break; sleep 0.1; done
# Two rows of the sonar table without the label: the 60 readings, in the model's column order.
sed -n '2,3p' examples/data/sonar.csv | cut -d, -f1-60 >runs/two-rows.csv
curl -s -H 'Content-Type: text/csv' --data-binary @runs/two-rows.csv http://127.0.0.1:8080/invocations
curl -s -H 'Content-Type: text/csv' -H 'Accept: application/json' \
  --data-binary @runs/two-rows.csv http://127.0.0.1:8080/invocations
echo
kill -TERM $serve_pid && wait $serve_pid && trap - EXIT
