# Shared setup for the `hyperfold run` S3 tests (sourced after lib.sh): a generated dataset, job
# specs that differ only in data.source, a 4-rank `hyperfold run`, a results.json comparison, and
# the fault proxy with the modes the run tests use.
# Provides: $RANKS, gen_csv OUT ROWS SEED, write_spec FILE LABEL SOURCE ENDPOINT [EXTRA_YAML],
# hfrun SPEC (mpirun ... hyperfold run), same_results A B, run_dir LABEL, no_final_shards DIR,
# start_run_proxy NAME MODE N (prints its URL), upload_uri RUN_DIR (where output.upload put the
# run's latest session: results.json's upload.uri, s3://.../<name>/<run-id>/).
[ -n "${HYPERFOLD:-}" ] && [ -x "$HYPERFOLD" ] || fail "HYPERFOLD must name the hyperfold binary"
PYTHON="${PYTHON:-/usr/bin/python3}"
RANKS="${HF_TEST_RANKS:-4}"
export OMPI_ALLOW_RUN_AS_ROOT="${OMPI_ALLOW_RUN_AS_ROOT:-1}"
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}"
export OMPI_MCA_mpi_yield_when_idle="${OMPI_MCA_mpi_yield_when_idle:-1}"
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
RUNS="$WORK/runs"

# gen_csv OUT ROWS SEED: a regression table with 8 numeric features (about 1% missing in x3), a
# text column and the target; about 90 bytes a row.
gen_csv() {
  "$PYTHON" - "$@" <<'PY'
import random, sys
out, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
shift = {"red": 1.5, "green": 0.0, "blue": -0.5}
with open(out, "w") as f:
    f.write("x0,x1,x2,x3,x4,x5,x6,x7,color,target\n")
    for _ in range(n):
        xs = [rnd.gauss(0, 1) for _ in range(8)]
        c = rnd.choice(sorted(shift))
        y = 3 * xs[0] - 2 * xs[1] + 0.5 * xs[2] + shift[c] + rnd.gauss(0, 0.5)
        cells = ["%.6f" % x for x in xs]
        if rnd.random() < 0.01:
            cells[3] = ""
        f.write(",".join(cells) + ",%s,%.6f\n" % (c, y))
PY
}

# write_spec FILE LABEL SOURCE ENDPOINT [EXTRA_YAML]: a ridge grid (6 trials x 4 folds) with
# standard scaling, job name "e2e" for every spec; the run directory is $RUNS/LABEL/e2e. ENDPOINT
# may be empty (local source).
write_spec() {
  local file="$1" label="$2" source="$3" ep="$4" extra="${5:-}"
  {
    printf 'name: e2e\n'
    printf 'data: {source: "%s", target: target, task: regression}\n' "$source"
    printf 'cv: {folds: 4, strategy: kfold, seed: 3}\n'
    printf 'preprocess: {scale: standard}\n'
    printf 'model:\n  type: ridge\n  params:\n    alpha: [0.01, 1.0, 100.0]\n'
    printf '    fit_intercept: [true, false]\n'
    printf 'search: {strategy: grid}\n'
    printf 'objective: {metric: r2, report: [rmse, mae]}\n'
    if [ -n "$extra" ]; then
      printf 'output:\n  dir: "%s"\n%s\n' "$RUNS/$label" "$extra"
    else
      printf 'output: {dir: "%s"}\n' "$RUNS/$label"
    fi
    [ -z "$ep" ] || printf 's3: {endpoint: "%s"}\n' "$ep"
  } >"$file"
}

run_dir() { echo "$RUNS/$1/e2e"; }

upload_uri() {
  "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["upload"]["uri"])' "$1/results.json"
}

# hfrun SPEC [ARGS...]: the 4-rank run, bounded so that a hang fails the test instead of ctest.
hfrun() {
  timeout 150 mpirun --oversubscribe -np "$RANKS" "$HYPERFOLD" run --quiet "$@"
}

# same_results A B: the two results.json files agree on everything except what names the source
# (source, source_fingerprint, spec_sha256, model_path), the upload's run id, the wall-clock
# "timing" block and each
# trial's "rank" (which rank happened to run it). Scores must be equal to the last bit.
same_results() {
  "$PYTHON" - "$1" "$2" <<'PY'
import json, sys
IGNORED = {"timing", "model_path", "source", "source_fingerprint", "spec_sha256", "upload"}
def load(path):
    d = json.load(open(path))
    assert d["trials"], path + ": no trials"
    for k in IGNORED:
        d.pop(k, None)
    for t in d["trials"]:
        t.pop("rank", None)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print("results differ at %r:\n  %s\n  %s" % (k, json.dumps(a.get(k))[:400],
                                                      json.dumps(b.get(k))[:400]), file=sys.stderr)
    sys.exit(1)
PY
}

# no_final_shards RUN_DIR: fails when a manifest, a shard under its final name, results or a model
# exist (temporary .tmp-* files may remain).
no_final_shards() {
  local d="$1" f
  [ ! -e "$d/shards/manifest.json" ] || fail "$d/shards/manifest.json exists after a failed run"
  for f in "$d"/shards/part-*; do
    [ ! -e "$f" ] || fail "$f exists after a failed run"
  done
  [ ! -e "$d/results.json" ] || fail "$d/results.json exists after a failed run"
  [ ! -e "$d/model.h5" ] || fail "$d/model.h5 exists after a failed run"
}

# start_run_proxy NAME MODE N: the fault proxy (tests/s3/faultproxy.js) in front of the S3 server,
# N faults or requests; prints its URL; request log in $WORK/NAME.log.
start_run_proxy() {
  "$SERVER" proxy "$WORK" "$1" "$2" "$3"
}

