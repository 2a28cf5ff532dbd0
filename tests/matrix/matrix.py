#!/usr/bin/python3
"""The correctness matrix: hyperfold over the cross product of the options that change the
computation, each combination checked against scikit-learn and against the 1-rank run.

Usage (from the build directory, or with HYPERFOLD / HF_SOURCE_DIR set; ctest does both):

    /usr/bin/python3 tests/matrix/matrix.py pairwise          # the default subset (ctest matrix.pairwise)
    /usr/bin/python3 tests/matrix/matrix.py full [--shard I/N] # the full product (ctest -C matrix_full)
    /usr/bin/python3 tests/matrix/matrix.py list pairwise|full|refusals
    /usr/bin/python3 tests/matrix/matrix.py one 'model=ridge,target=regression,...'

Each combination is a dict {dimension: value} (DIMS below). A valid combination runs
`hyperfold validate`, `mpirun -np WORLD hyperfold run`, `hyperfold predict` on new rows, and the
same spec without `parallel` at 1 rank, and must equal

  - scikit-learn on the same splits: every trial's every per-split score to 1e-6 relative, the
    selected trial, the holdout scores, and the refit's predictions (values and class
    probabilities) to 1e-6 (logistic regression: at the exact optimum of LogisticRegression's
    objective, which LogisticRegression itself must come near);
  - the 1-rank run: the same trials and statuses, scores to 1e-9 relative (or 10 epsilons times
    the condition number of the system the trial solves, where that is larger), the same best
    trial, predictions likewise.

An invalid combination (a model on a task it does not support, ranks_per_task not dividing the
world size, a grid whose shape is not ranks_per_task) must be refused by `validate` and by `run`
with a one-line message and a non-zero exit code, before anything is written.

docs/testing.md ("The correctness matrix") lists the dimensions, the constraints and the costs.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: this machine has 2 cores

import argparse  # noqa: E402
import itertools
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zlib

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import hfsplits  # noqa: E402
import hftest  # noqa: E402

warnings.simplefilter("ignore")

# ----------------------------------------------------------------------------------- dimensions
# Order matters: the pairwise generator fills dimensions in this order, and combination names
# list them in this order.
DIMS = [
    ("model", ["ridge", "logistic_regression", "kernel_ridge", "xgboost", "random_forest",
               "elastic_net"]),
    ("target", ["regression", "binary", "multiclass"]),
    # class labels as written in the CSV: float (a regression target), int (0/1, or 1,2,3,10:
    # numeric order differs from text order), str
    ("labels", ["float", "int", "str"]),
    # data.task given in the spec, or left to be inferred (from the target, the model, the metric)
    ("task", ["given", "inferred"]),
    # numeric columns only, or also a boolean and two categorical columns (one-hot encoded)
    ("features", ["numeric", "mixed"]),
    ("preprocess", ["none", "impute", "standard", "minmax", "pca", "log1p"]),
    # none; train: NaNs only in rows that are never validated (predefined fold -1); valid: NaNs
    # only in the rows of split 0's validation fold (training rows of the other splits)
    ("missing", ["none", "train", "valid"]),
    # rows x numeric columns: small (120 x 4: every matrix smaller than a block of 8 or more),
    # mid (200 x 22), wide (180 x 66: more columns than a block of 32)
    ("shape", ["small", "mid", "wide"]),
    ("cv", ["predefined", "kfold", "stratified"]),
    ("holdout", ["off", "on"]),
    ("world", [1, 2, 3, 4]),
    # ranks_per_task:grid ("1" = ranks_per_task 1)
    ("group", ["1", "2:auto", "2:1x2", "2:2x1", "4:2x2", "4:1x4", "4:4x1"]),
    ("block", ["default", 1, 2, 3, 8, 32]),
    # objective: the defaults (no objective key), or an explicit metric (rmse / roc_auc, both
    # directions exercised) with every other metric of the task reported
    ("metric", ["default", "explicit"]),
    # a model option that changes the objective: plain; weighted (class_weight: balanced, for the
    # classifiers that take it); log1p_target (preprocess.target_transform: log1p, a positive
    # skewed regression target); elasticnet (logistic_regression's penalty elasticnet, l1_ratio 0.5);
    # native (the trees on preprocess.categorical native: XGBoost's categorical splits)
    ("option", ["plain", "weighted", "log1p_target", "elasticnet", "native"]),
]
DIM_NAMES = [d for d, _ in DIMS]
DIM_VALUES = dict(DIMS)

MODEL_TASKS = {"ridge": {"regression"}, "kernel_ridge": {"regression"},
               "elastic_net": {"regression"},
               "logistic_regression": {"classification"},
               "xgboost": {"regression", "classification"},
               "random_forest": {"regression", "classification"}}
TREES = ("xgboost", "random_forest")  # python3-xgboost is their peer
SHAPES = {"small": (120, 4), "mid": (200, 22), "wide": (180, 66)}
FOLDS = 3
N_NEW = 40  # rows given to `hyperfold predict`
CITIES = ["Lima", "Oslo", "Paris", "Rome", "Wien"]
COLORS = ["blue", "green", "red"]
INT_LABELS = {"binary": [0, 1], "multiclass": [1, 2, 3, 10]}
STR_LABELS = {"binary": ["no", "yes"], "multiclass": ["ant", "bee", "cat", "dog"]}

# Not "job.yaml": tests/cli/test_resume.py signals `pkill -USR1 -f "hyperfold run job.yaml"`,
# which would reach the matrix's runs when the suites run at the same time (ctest -j).
SPEC_FILE = "spec.yaml"

SCORE_RTOL = 1e-6       # hyperfold vs scikit-learn, per-split scores and holdout scores
PRED_TOL = 1e-6         # hyperfold predict vs scikit-learn's refit (relative, floor 1; probabilities absolute)
RANK1_RTOL = 1e-9       # the same spec at 1 rank, ranks_per_task 1
COND_EPS = 10 * 2.220446049250313e-16  # ... or this times the condition number of the system solved
ITERATIVE_FLOOR = 10 * 2.220446049250313e-16 ** 0.5  # ... or this, for logistic on PCA on a group


def task_of(target):
    return "regression" if target == "regression" else "classification"


def rpt_of(group):
    return int(group.split(":")[0])


def grid_of(group):
    return group.split(":")[1] if ":" in group else None


# ----------------------------------------------------------------------------------- constraints
def resolved_task(c):
    """The task hyperfold must decide (docs/job-spec.md, "The task rule"): data.task when the
    spec gives it, else the model's task when it has one, else the objective metric's (an
    explicit metric is the target's task's, objective_of), else the target's type at ingest
    (text: classification, numbers: regression). The target must then fit it (target_fits)."""
    if c["task"] == "given":
        return task_of(c["target"])
    tasks = MODEL_TASKS[c["model"]]
    if len(tasks) == 1:
        return next(iter(tasks))
    if c["metric"] == "explicit":
        return task_of(c["target"])
    return "classification" if c["labels"] == "str" else "regression"


def target_fits(c):
    """Text labels are no regression target; numeric labels that are not whole numbers (our
    float regression target) are no class labels."""
    t = resolved_task(c)
    if t == "regression":
        return c["labels"] != "str"
    return c["labels"] != "float"


# (name, dimensions, predicate, refused): a combination violating a constraint with refused=False
# is meaningless and never generated; one violating a refused=True constraint (and no other) must
# be refused by validate and run (refusal_cases). Each is checked as soon as its dimensions are
# assigned, so partial assignments prune early.
CONSTRAINTS = [
    ("labels", ("target", "labels"),
     lambda c: (c["target"] == "regression") == (c["labels"] == "float"), False),
    ("model-task", ("model", "target", "labels", "task", "metric"),
     lambda c: resolved_task(c) in MODEL_TASKS[c["model"]], True),
    ("target-fit", ("model", "target", "labels", "task", "metric"), target_fits, True),
    ("stratified", ("cv", "model", "target", "labels", "task", "metric"),
     lambda c: c["cv"] != "stratified" or resolved_task(c) == "classification", True),
    # NaNs only in training rows need rows that never validate: predefined fold -1
    ("missing-train", ("missing", "cv"),
     lambda c: c["missing"] != "train" or c["cv"] == "predefined", False),
    # ranks_per_task 1 never forms a grid: the block size is not used (a don't-care, kept at its
    # default so that the full product does not repeat identical runs)
    ("block", ("group", "block"),
     lambda c: rpt_of(c["group"]) != 1 or c["block"] == "default", False),
    ("ranks-per-task", ("world", "group"),
     lambda c: c["world"] % rpt_of(c["group"]) == 0, True),
    # class_weight belongs to the classifiers' parameters, the penalty to logistic_regression's
    # (another model's unknown key is refused by validate, as tests/cli covers)
    ("option-model", ("option", "model"),
     lambda c: (c["option"] != "weighted" or c["model"] in ("logistic_regression",) + TREES)
     and (c["option"] != "elasticnet" or c["model"] == "logistic_regression")
     and (c["option"] != "native" or c["model"] in TREES), False),
    # native encodes the categorical columns: only the mixed tables have them
    ("native-features", ("option", "features"),
     lambda c: c["option"] != "native" or c["features"] == "mixed", False),
    # validate refuses native with PCA (a level's code is no coordinate to project)
    ("native-pca", ("option", "preprocess"),
     lambda c: c["option"] != "native" or c["preprocess"] != "pca", True),
    # OWL-QN (liblbfgs) stops short of tol 1e-10 on unscaled, collinear designs (10,000
    # iterations, flagged as not converged, scores 1e-5 off): the L1 option runs on scaled ones
    ("elasticnet-scaled", ("option", "preprocess"),
     lambda c: c["option"] != "elasticnet" or c["preprocess"] in ("standard", "minmax", "pca"),
     False),
    ("weighted-task", ("option", "model", "target", "labels", "task", "metric"),
     lambda c: c["option"] != "weighted" or resolved_task(c) == "classification", True),
    ("log1p-task", ("option", "model", "target", "labels", "task", "metric"),
     lambda c: c["option"] != "log1p_target" or resolved_task(c) == "regression", True),
]


def violated(c, refused=None):
    """Names of the constraints a (partial) assignment violates (refused: only those of that
    kind)."""
    return [name for name, dims, pred, ref in CONSTRAINTS
            if (refused is None or ref == refused) and all(d in c for d in dims) and not pred(c)]


def shape_ok(c):
    return not violated(c, refused=False)


def refusal_reason(c):
    """Why a complete combination must be refused (the constraint's name), or None."""
    v = violated(c, refused=True)
    return v[0] if v else None


def valid(c):
    return not violated(c)


_FEASIBLE = {}


def feasible_partial(c):
    """Whether the partial assignment c extends to a complete valid combination (depth-first,
    pruned by the constraints as their dimensions get assigned; memoised)."""
    key = tuple((d, c[d]) for d in DIM_NAMES if d in c)
    hit = _FEASIBLE.get(key)
    if hit is None:
        hit = _FEASIBLE[key] = _feasible(dict(c))
    return hit


def _feasible(c):
    if violated(c):
        return False
    free = [d for d in DIM_NAMES if d not in c]
    if not free:
        return True
    # The most constrained dimension next: the one that completes the most constraints (then the
    # one in the most constraints with an assigned dimension, then the first). Whether a valid
    # completion exists does not depend on the order; in DIM_NAMES order an infeasible partial
    # whose constraint includes a late dimension (model-task's metric) walked the product of every
    # dimension before it.
    def rank(d):
        done = near = 0
        for _, dims, _, _ in CONSTRAINTS:
            if d in dims:
                others = [e for e in dims if e != d]
                done += all(e in c for e in others)
                near += any(e in c for e in others)
        return (done, near)
    d = max(free, key=rank)  # max keeps the first of equals
    for v in DIM_VALUES[d]:
        c[d] = v
        ok = _feasible(c)
        del c[d]
        if ok:
            return True
    return False


def all_valid():
    """Every valid combination, in product order (depth-first, pruned)."""
    out = []

    def walk(c, i):
        if violated(c):
            return
        if i == len(DIM_NAMES):
            out.append(dict(c))
            return
        d = DIM_NAMES[i]
        for v in DIM_VALUES[d]:
            c[d] = v
            walk(c, i + 1)
            del c[d]

    walk({}, 0)
    return out


# Dimension sets covered in full (every feasible combination of their values), on top of every
# pair: the worker-group results depend on the grid, the block size and the matrix size together
# (issue 11's first defect: right at some block sizes, wrong at others, for one matrix size); the
# model, the target, its labels and how the task is given decide the task and the class coding
# together (class 10 printed as "1e+01" needs a classifier, 4 classes and integer labels at
# once); imputation depends on the pipeline, the missing values and the column types together;
# each model meets each preprocessing at each matrix size and on each group, and each placement
# of the missing values with each splitter. (Pairs alone: 59 combinations; with these: 126.)
TRIPLES = [("group", "block", "shape"), ("model", "target", "labels", "task"),
           ("features", "preprocess", "missing"), ("model", "preprocess", "shape"),
           ("model", "preprocess", "group"), ("model", "missing", "cv")]
# ...except group 2:auto, which is the 1x2 grid (docs/distributed.md): its pairs are covered, its
# triples would repeat 2:1x2's computations.
TRIPLE_SKIP = {("group", "2:auto")}


# Values covered in a second pass (pairwise() below), after the cover of every other value, so that
# adding them kept the combinations the matrix had before them: option native (issue 13's native
# categorical splits) came last.
LATE_VALUES = {("option", "native")}


def interactions(triples=TRIPLES):
    """The value combinations a cover must contain: every feasible pair of values of two
    dimensions, and every feasible combination of the values of each dimension set in triples.
    Each is a tuple ((dim, value), ...) in DIM_NAMES order."""
    sets = [(DIM_NAMES[i], DIM_NAMES[j]) for i in range(len(DIM_NAMES))
            for j in range(i + 1, len(DIM_NAMES))]
    n_pairs = len(sets)
    sets += [tuple(d for d in DIM_NAMES if d in t) for t in triples]
    out = []
    for k, dims in enumerate(sets):
        for vals in itertools.product(*[DIM_VALUES[d] for d in dims]):
            item = tuple(zip(dims, vals))
            if k >= n_pairs and any(dv in TRIPLE_SKIP for dv in item):
                continue
            if feasible_partial(dict(item)):
                out.append(item)
    return out


def pairwise(triples=TRIPLES):
    """A deterministic greedy cover (AETG-like) of interactions(): every pair of values of two
    dimensions that occurs in some valid combination, and every feasible (group, block, shape),
    occurs in at least one chosen combination. Each new combination starts from the first
    uncovered interaction (in dimension and value order) and fills the other dimensions in order,
    each with the value that completes the most uncovered interactions with the values already
    chosen, among those that still extend to a valid combination (ties: the value chosen least
    often so far, then the first)."""
    every = interactions(triples)
    chosen = []
    used = {d: {} for d in DIM_NAMES}
    # First every interaction without a LATE_VALUES value, choosing among the other values only;
    # then the rest, with every value.
    early = [it for it in every if not any(dv in LATE_VALUES for dv in it)]
    late = [it for it in every if any(dv in LATE_VALUES for dv in it)]
    early_values = {d: [v for v in DIM_VALUES[d] if (d, v) not in LATE_VALUES]
                    for d in DIM_NAMES}
    _greedy_cover(early, early_values, chosen, used)
    _greedy_cover(late, DIM_VALUES, chosen, used)
    return chosen


def _greedy_cover(required, values, chosen, used):
    """pairwise()'s greedy step: appends to chosen combinations (their values from values[d])
    until every interaction of required is in one of chosen."""
    left = {it for it in required if not any(all(c[e] == w for e, w in it) for c in chosen)}
    by_dim = {d: [it for it in required if any(e == d for e, _ in it)] for d in DIM_NAMES}
    while left:
        c = dict(next(it for it in required if it in left))
        for d in DIM_NAMES:
            if d in c:
                continue
            best, best_key = None, None
            open_d = [it for it in by_dim[d] if it in left]  # (the same gains, far fewer tests)
            for v in values[d]:
                c[d] = v
                ok = feasible_partial(c)
                if ok:
                    gain = sum(1 for it in open_d if all(c.get(e, None) == w for e, w in it))
                    key = (gain, -used[d].get(v, 0))
                    if best_key is None or key > best_key:
                        best, best_key = v, key
                del c[d]
            c[d] = best
        c = {d: c[d] for d in DIM_NAMES}
        assert valid(c), c
        left -= {it for it in left if all(c[e] == w for e, w in it)}
        chosen.append(c)
        for d in DIM_NAMES:
            used[d][c[d]] = used[d].get(c[d], 0) + 1


def uncovered(combos, triples=TRIPLES):
    """The interactions no combination of combos contains (for the check of the generator)."""
    return [it for it in interactions(triples)
            if not any(all(c[e] == w for e, w in it) for c in combos)]


def refusal_cases(full=True):
    """The combinations that must be refused: every (model, target, labels, task) that the task
    rule refuses; stratified folds on a regression task; every (world, ranks_per_task:grid) whose
    ranks_per_task does not divide the world size (full=False: one grid per (world,
    ranks_per_task), the grid does not decide the refusal); grids whose shape is not
    ranks_per_task."""
    base = {"features": "numeric", "preprocess": "none", "missing": "none", "shape": "small",
            "cv": "kfold", "holdout": "off", "block": "default", "metric": "default",
            "option": "plain"}
    out = []
    for model in DIM_VALUES["model"]:
        for target in DIM_VALUES["target"]:
            for labels in DIM_VALUES["labels"]:
                for task in DIM_VALUES["task"]:
                    c = dict(base, model=model, target=target, labels=labels, task=task,
                             world=1, group="1")
                    if shape_ok(c) and refusal_reason(c) in ("model-task", "target-fit"):
                        out.append(c)
    # stratified folds on a regression task (given, or implied by the model)
    out.append(dict(base, model="ridge", target="regression", labels="float", task="given",
                    cv="stratified", world=1, group="1"))
    out.append(dict(base, model="kernel_ridge", target="binary", labels="int", task="inferred",
                    cv="stratified", world=1, group="1"))
    seen = set()
    for world in DIM_VALUES["world"]:
        for group in DIM_VALUES["group"]:
            c = dict(base, model="ridge", target="regression", labels="float", task="given",
                     world=world, group=group)
            if world % rpt_of(group) != 0 and (full or (world, rpt_of(group)) not in seen):
                out.append(c)
                seen.add((world, rpt_of(group)))
    # A grid of the wrong size: refused whatever the world size (2x2 on groups of 2, 1x2 on 4).
    for world, group in ((2, "2:2x2"), (4, "4:1x2"), (4, "2:1x4")):
        out.append(dict(base, model="ridge", target="regression", labels="float", task="given",
                        world=world, group=group))
    # native categorical splits with PCA
    out.append(dict(base, model="xgboost", target="binary", labels="str", task="given",
                    features="mixed", preprocess="pca", world=1, group="1", option="native"))
    # class_weight on a regression task; a target transform on a classification task
    for model in TREES:
        out.append(dict(base, model=model, target="regression", labels="float", task="given",
                        world=1, group="1", option="weighted"))
        out.append(dict(base, model=model, target="binary", labels="str", task="given",
                        world=1, group="1", option="log1p_target"))
    return out


def combo_name(c):
    return " ".join("%s=%s" % (d, c[d]) for d in DIM_NAMES)


def combo_key(c, dims=None):
    return ",".join("%s=%s" % (d, c[d]) for d in (dims or DIM_NAMES))


def parse_combo(text):
    c = {}
    for part in text.split(","):
        k, v = part.split("=", 1)
        vals = DIM_VALUES[k]
        c[k] = next(x for x in vals if str(x) == v)
    c.setdefault("option", "plain")  # combinations written before the option dimension
    return c


def seed_of(c):
    # option plain keeps the seeds (and so the data) the matrix had before the option dimension
    dims = [d for d in SEMANTIC if d != "option" or c[d] != "plain"]
    return zlib.crc32(combo_key(c, dims).encode()) & 0x7FFFFFFF


# The dimensions that decide the data, the spec (parallel section aside) and so scikit-learn's
# answer; the others (world, group, block) may only change how hyperfold computes it.
SEMANTIC = [d for d in DIM_NAMES if d not in ("world", "group", "block")]


# ----------------------------------------------------------------------------------- data
class Data:
    pass


def make_data(c):
    """The training table, the rows given to predict, and everything scikit-learn needs; the
    missing values are placed in the rows the combination asks for."""
    seed = seed_of(c)
    rng = np.random.default_rng(seed)
    n, p = SHAPES[c["shape"]]
    m = N_NEW
    N = n + m
    # numeric columns from 3 latent factors of distinct sizes, different scales and offsets
    L = rng.normal(size=(N, 3)) * np.array([3.0, 1.8, 1.0])
    Xn = L @ rng.normal(size=(3, p)) + 0.6 * rng.normal(size=(N, p))
    Xn = Xn * rng.uniform(0.5, 3.0, size=p) + rng.normal(size=p) * 2.0
    cols = {}
    num_names = ["x%d" % j for j in range(p)]
    for j, name in enumerate(num_names):
        cols[name] = Xn[:, j]
    mixed = c["features"] == "mixed"
    if mixed:
        member = rng.random(N) < 0.4
        city = rng.choice(len(CITIES), size=N, p=[0.1, 0.3, 0.25, 0.2, 0.15])
        color = rng.choice(len(COLORS), size=N)
    Z = (Xn - Xn.mean(axis=0)) / Xn.std(axis=0)
    signal = Z[:, :min(p, 6)] @ rng.normal(size=min(p, 6))
    if mixed:
        signal = signal + 0.8 * member + np.array([0.0, 1.0, -0.7, 0.4, -1.2])[city] \
            + np.array([0.5, 0.0, -0.5])[color]
    task = resolved_task(c)
    if c["target"] == "regression" and c["option"] == "log1p_target":
        # a price-like target: positive, skewed (log-normal around 20)
        y = 20.0 * np.exp(0.5 * signal / (np.abs(signal).mean() + 1e-9)
                          + rng.normal(scale=0.3, size=N))
        classes = None
    elif c["target"] == "regression":
        y = 3.0 * signal + 10.0 + rng.normal(scale=1.5, size=N)
        classes = None
    else:
        k = 2 if c["target"] == "binary" else 4
        W = rng.normal(size=(Z.shape[1], k))
        logits = 1.2 * (Z @ W) / math.sqrt(Z.shape[1]) + rng.normal(scale=0.8, size=(N, k))
        logits[:, 0] += 0.8 * signal / (1 + np.abs(signal).mean())
        yi = logits.argmax(axis=1)
        names = INT_LABELS[c["target"]] if c["labels"] == "int" else STR_LABELS[c["target"]]
        y = np.array([names[i] for i in yi], dtype=object)
        classes = np.array(sorted(names))  # numeric order for ints, bytewise for text
        if task == "regression":
            # integer labels the model makes a regression target (resolved_task)
            classes = None
            if c["labels"] == "int":
                y = y.astype(float)
    d = Data()
    d.n, d.m, d.p = n, m, p
    d.num_names = num_names
    d.task = task
    d.classes = classes
    d.mixed = mixed
    frame = pd.DataFrame(cols)
    if mixed:
        frame["member"] = np.where(member, "true", "false").astype(object)
        frame["city"] = np.array(CITIES, dtype=object)[city]
        frame["color"] = np.array(COLORS, dtype=object)[color]
    frame["y"] = y
    train = frame.iloc[:n].reset_index(drop=True)
    new = frame.iloc[n:].drop(columns=["y"]).reset_index(drop=True)
    if mixed:
        new.loc[3, "city"] = "Zagreb"  # a category the model never saw: encoded as zeros
    ytr = train["y"].to_numpy()
    if task == "classification" and classes is not None:
        ycls = np.searchsorted(classes, np.array([x for x in ytr], dtype=classes.dtype))
        d.y_class = ycls
    else:
        ycls = None
        d.y_class = None
    # holdout first (it depends on the target only), then the splits of the search rows
    hold = hfsplits.holdout_rows(n, 0.2 if c["holdout"] == "on" else 0.0, c["_cv_seed"], ycls,
                                 len(classes) if classes is not None else 0)
    search = np.setdiff1d(np.arange(n), hold)
    fold = None
    if c["cv"] == "predefined":
        fold = np.empty(n, dtype=np.int64)
        fold[:] = rng.permutation(np.arange(n) % FOLDS)
    miss_rows = np.zeros(0, dtype=np.int64)
    if c["missing"] != "none":
        k_miss = 7
        if c["missing"] == "train":
            pool = search
        elif c["cv"] == "predefined":
            pool = search[fold[search] == 0]
        else:
            pool = splits_of(c, search, fold, ycls, classes)[0][1]  # split 0's validation rows
        miss_rows = np.sort(rng.choice(pool, size=k_miss, replace=False))
        if c["missing"] == "train":
            fold[miss_rows] = -1
    if fold is not None:
        train["fold"] = fold
    miss_cols = ["x0", "x1"] + (["member", "city"] if mixed else [])
    for i, r in enumerate(miss_rows):
        train.loc[r, miss_cols[i % len(miss_cols)]] = np.nan
        if i == 0:
            train.loc[r, miss_cols[-1]] = np.nan  # one row missing in two columns
    if c["missing"] == "valid":
        for i, col in enumerate(miss_cols):
            new.loc[5 + i, col] = np.nan
    d.train, d.new = train, new
    d.hold, d.search = hold, search
    # (a combination that must be refused has no splits to reproduce)
    d.splits = splits_of(c, search, fold, ycls, classes) if valid(c) else []
    d.miss_rows = miss_rows
    d.y = ytr
    # check the placement the combination asks for
    nan_rows = np.flatnonzero(train[miss_cols].isna().any(axis=1).to_numpy()) \
        if c["missing"] != "none" else np.zeros(0, dtype=np.int64)
    for k, (tr, va) in enumerate(d.splits):
        in_va = np.isin(nan_rows, va).sum()
        if c["missing"] == "train":
            assert in_va == 0, "missing=train: a NaN row validates split %d" % k
        if c["missing"] == "valid" and k == 0:
            assert in_va == len(nan_rows) and not np.isin(nan_rows, tr).any(), \
                "missing=valid: split 0 must validate every NaN row and train on none"
    assert not np.isin(nan_rows, hold).any()
    return d


def splits_of(c, search, fold, ycls, classes):
    if c["cv"] == "predefined":
        return hfsplits.predefined_splits(search, fold)
    if c["cv"] == "kfold":
        return hfsplits.kfold_splits(search, FOLDS, c["_cv_seed"])
    return hfsplits.stratified_splits(search, ycls, len(classes), FOLDS, c["_cv_seed"])


def write_csv(frame, path):
    frame.to_csv(path, index=False, float_format="%.17g", na_rep="")


# ----------------------------------------------------------------------------------- spec
def model_params(c):
    params = base_model_params(c)
    if c.get("option") == "weighted":
        params["class_weight"] = "balanced"
    elif c.get("option") == "elasticnet":
        # C 0.01 sets every weight of some small multiclass folds to 0: the prediction is then
        # the intercepts' class for every row, and two classes of equal counts tie to rounding
        params["penalty"], params["l1_ratio"], params["C"] = "elasticnet", 0.5, [0.1, 1.0]
    return params


def base_model_params(c):
    if c["model"] == "ridge":
        return {"alpha": [0.01, 1.0, 100.0], "fit_intercept": [True, False]}
    if c["model"] == "kernel_ridge":
        return {"alpha": [0.1, 1.0], "kernel": ["rbf", "polynomial", "linear"]}
    if c["model"] == "xgboost":
        # n_estimators shares one training run; early stopping on every split's validation rows
        return {"n_estimators": [4, 9], "max_depth": [2, 3], "learning_rate": 0.3,
                "early_stopping_rounds": [0, 2], "n_jobs": 1}
    if c["model"] == "random_forest":
        return {"n_estimators": 6, "max_depth": [3, 5], "subsample": 0.7, "n_jobs": 1}
    if c["model"] == "elastic_net":
        # scikit-learn's solver and stopping rule: the same sweeps, so a tight tol is not needed
        # for agreement; this one keeps the 1-rank comparison at the rounding level
        return {"alpha": [0.01, 1.0], "l1_ratio": [0.3, 1.0], "max_iter": 100000, "tol": 1.0e-8}
    return {"C": [0.01, 0.1, 1.0], "fit_intercept": [True, False], "max_iter": 10000,
            "tol": 1.0e-10}


def pca_ks(c):
    p = SHAPES[c["shape"]][1]
    return [2, max(3, p // 2)]


def preprocess_settings(c):
    """The preprocess settings of the combination, in spec order: [(trial name without
    "preprocess.", value or list of values)]. Between them the values exercise every setting of
    docs/job-spec.md's preprocess table."""
    return {
        "none": [],
        "impute": [("impute.numeric", ["median", "constant"]), ("impute.categorical", "constant"),
                   ("impute.indicator", True)],
        "standard": [("scale", "standard"), ("min_frequency", 15)],
        "minmax": [("impute.numeric", "most_frequent"), ("scale", "minmax")],
        "pca": [("scale", "standard"), ("pca.n_components", pca_ks(c))],
        "log1p": [("log1p", True)],
    }[c["preprocess"]] + ([("target_transform", "log1p")] if c.get("option") == "log1p_target"
                          else []) + ([("categorical", "native")] if c.get("option") == "native"
                                      else [])


def preprocess_spec(c):
    """The `preprocess:` section's lines (None for none)."""
    sets = preprocess_settings(c)
    if not sets:
        return None
    lines, groups = [], {}
    for name, v in sets:
        if "." in name:
            head, key = name.split(".", 1)
            if head not in groups:
                groups[head] = []
                lines.append(("group", head))
            groups[head].append("%s: %s" % (key, yaml_value(v)))
        else:
            lines.append(("plain", "%s: %s" % (name, yaml_value(v))))
    out = []
    for kind, text in lines:
        out.append("  %s: {%s}" % (text, ", ".join(groups[text])) if kind == "group" else "  " + text)
    return "\n".join(out) + "\n"


METRICS = {"regression": ["r2", "rmse", "mae"],
           "classification": ["accuracy", "roc_auc", "log_loss", "f1", "balanced_accuracy"]}


def objective_of(c):
    """(metric, reported metrics) as the run must resolve them."""
    task = resolved_task(c)
    if c["metric"] == "default":
        return ("r2" if task == "regression" else "accuracy"), []
    metric = "rmse" if task == "regression" else "roc_auc"
    return metric, [m for m in METRICS[task] if m != metric]


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def spec_text(c, name, with_parallel=True):
    task = task_of(c["target"])
    lines = ["name: %s" % name]
    data = "data: {source: data.csv, target: y"
    if c["task"] == "given":
        data += ", task: %s" % task
    lines.append(data + "}")
    cv = ["seed: %d" % c["_cv_seed"]]
    if c["cv"] == "predefined":
        cv = ["strategy: predefined", "fold_column: fold"] + cv
    else:
        cv = ["strategy: %s" % c["cv"], "folds: %d" % FOLDS] + cv
    if c["holdout"] == "on":
        cv.append("holdout: 0.2")
    lines.append("cv: {%s}" % ", ".join(cv))
    lines.append("model:\n  type: %s\n  params:" % c["model"])
    for k, v in model_params(c).items():
        lines.append("    %s: %s" % (k, yaml_value(v)))
    pre = preprocess_spec(c)
    if pre:
        lines.append("preprocess:\n" + pre.rstrip("\n"))
    lines.append("search: {strategy: grid}")
    if c["metric"] == "explicit":
        metric, report = objective_of(c)
        lines.append("objective: {metric: %s, report: [%s]}" % (metric, ", ".join(report)))
    if with_parallel:
        par = ["ranks_per_task: %d" % rpt_of(c["group"])]
        if grid_of(c["group"]):
            par.append("grid: %s" % ('"%s"' % grid_of(c["group"]) if "x" in grid_of(c["group"])
                                     else grid_of(c["group"])))
        if c["block"] != "default":
            par.append("block_size: %d" % c["block"])
        lines.append("parallel: {%s}" % ", ".join(par))
    lines.append("output: {dir: out}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- scikit-learn
def trial_config(c, params):
    """The preprocessing and model settings of one trial (results.json params)."""
    get = params.get
    cfg = {
        "impute_num": get("preprocess.impute.numeric", "mean"),
        "impute_cat": get("preprocess.impute.categorical", "most_frequent"),
        "indicator": bool(get("preprocess.impute.indicator", False)),
        "scale": get("preprocess.scale", "none"),
        "min_frequency": int(get("preprocess.min_frequency", 0)),
        "log1p": bool(get("preprocess.log1p", False)),
        "pca": int(get("preprocess.pca.n_components", 0)),
        "native": get("preprocess.categorical", "onehot") == "native",
    }
    # The trees take missing values: numeric columns stay unimputed unless the spec sets the
    # imputation (or asks for PCA, which needs it); categorical columns are imputed as ever.
    if c["model"] in TREES and "preprocess.impute.numeric" not in params and cfg["pca"] == 0:
        cfg["impute_num"] = None
    return cfg


def sk_frame(d, frame):
    """The table as scikit-learn is given it: numeric and boolean (0/1) columns as floats, the
    categorical ones as strings (NaN when missing), in source order."""
    out = pd.DataFrame({name: frame[name].astype(float) for name in d.num_names})
    if d.mixed:
        out["member"] = frame["member"].map({"true": 1.0, "false": 0.0})
        out["city"] = frame["city"]
        out["color"] = frame["color"]
    return out


class Design:
    """ColumnTransformer(num: SimpleImputer + scaler, cat: SimpleImputer + OneHotEncoder) with
    missing indicators for the columns missing in the training rows (MissingIndicator
    features="missing-only"), then PCA(k, svd_solver="full") — docs/preprocessing.md."""

    def __init__(self, d, cfg):
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
        from sklearn.preprocessing import FunctionTransformer
        self.cat = ["city", "color"] if d.mixed else []
        self.all = d.num_names + (["member", "city", "color"] if d.mixed else [])

        def steps(log1p):
            st = [("log1p", FunctionTransformer(np.log1p))] if log1p else []
            if cfg["impute_num"] is not None:
                st.append(("imp", SimpleImputer(strategy=cfg["impute_num"], fill_value=0.0)))
            else:  # nothing to do but keep NaN (a Pipeline needs a step)
                st.append(("keep", FunctionTransformer(None)))
            if cfg["scale"] == "standard":
                st.append(("sc", StandardScaler()))
            elif cfg["scale"] == "minmax":
                st.append(("sc", MinMaxScaler()))
            return Pipeline(st)
        # log1p applies to the numeric columns, not to the boolean one (docs/preprocessing.md)
        parts = [("num", steps(cfg["log1p"]), d.num_names)]
        if d.mixed:
            parts.append(("bool", steps(False), ["member"]))
        if self.cat and cfg["native"]:
            # native: each categorical column one feature, its level's rank among the training
            # rows' levels in sorted order; missing and unseen levels NaN, no imputation, no
            # min_frequency (docs/preprocessing.md)
            from sklearn.preprocessing import OrdinalEncoder
            parts.append(("cat", OrdinalEncoder(handle_unknown="use_encoded_value",
                                                unknown_value=np.nan,
                                                encoded_missing_value=np.nan), self.cat))
        elif self.cat:
            enc = OneHotEncoder(handle_unknown="infrequent_if_exist",
                                min_frequency=cfg["min_frequency"], sparse_output=False) \
                if cfg["min_frequency"] > 1 else \
                OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            parts.append(("cat", Pipeline([
                ("imp", SimpleImputer(strategy=cfg["impute_cat"], fill_value="missing_value")),
                ("oh", enc)]), self.cat))
        self.ct = ColumnTransformer(parts, sparse_threshold=0.0)
        self.cfg = cfg
        self.pca = None

    def fit(self, F):
        self.ct.fit(F)
        self.ind_cols = [col for col in self.all if F[col].isna().any()] \
            if self.cfg["indicator"] else []
        if self.cfg["pca"] > 0:
            from sklearn.decomposition import PCA
            self.pca = PCA(n_components=self.cfg["pca"], svd_solver="full")
            self.pca.fit(self._pre(F))
        return self

    def feature_types(self):
        """XGBoost's feature types of the design: "c" for the native-encoded columns, "q" for
        the others (numeric, boolean, indicators); None without native encoding."""
        if not (self.cfg["native"] and self.cat):
            return None
        n_num = len(self.all) - len(self.cat)
        return ["q"] * n_num + ["c"] * len(self.cat) + ["q"] * len(self.ind_cols)

    def dmatrix(self, X, label=None, weight=None):
        import xgboost as xgb
        types = self.feature_types()
        if types is None:
            return xgb.DMatrix(X.astype(np.float32), label=label, weight=weight, missing=np.nan)
        return xgb.DMatrix(X.astype(np.float32), label=label, weight=weight, missing=np.nan,
                           feature_types=types, enable_categorical=True)

    def _pre(self, F):
        Z = self.ct.transform(F).astype(float)
        if self.ind_cols:
            Z = np.hstack([Z, F[self.ind_cols].isna().to_numpy().astype(float)])
        return Z

    def transform(self, F):
        Z = self._pre(F)
        return self.pca.transform(Z) if self.pca is not None else Z


def logistic_objective(X, yi, k, C, fit_intercept, W, b, sw=None):
    """scikit-learn 1.2's lbfgs objective at (W, b): the summed (weighted) log losses +
    ||W||^2 / 2C."""
    ko = 1 if k == 2 else k
    Z = X @ np.asarray(W, float).reshape(ko, -1).T + (np.asarray(b, float).reshape(1, ko)
                                                      if fit_intercept else 0.0)
    w = np.ones(len(yi)) if sw is None else sw
    if ko == 1:
        loss = (w * (np.logaddexp(0.0, Z[:, 0]) - yi * Z[:, 0])).sum()
    else:
        m = Z.max(axis=1, keepdims=True)
        lse = (m[:, 0] + np.log(np.exp(Z - m).sum(axis=1)))
        loss = (w * (lse - Z[np.arange(len(yi)), yi])).sum()
    return float(loss + 0.5 / C * (np.asarray(W, float) ** 2).sum())


def tight_logistic(X, yi, k, C, fit_intercept, W0, b0, sw=None):
    """The reference of logistic combinations: hftest.newton_logistic from (W0, b0) to
    max|gradient| <= 1e-10, the optimum LogisticRegression approaches (its L-BFGS-B also stops on
    scipy's relative-decrease test, ftol 2.2e-9, which can leave the scores ~1e-4 away)."""
    return hftest.newton_logistic(X, yi, k, C, fit_intercept, W0, b0, gtol=1e-10,
                                  sample_weight=sw)


class Model:
    """One fitted scikit-learn model of a trial; predict() gives values (regression) or class
    probabilities in the order of d.classes."""

    def __init__(self, c, d, params, cfg, rows, valid=None, rounds=None):
        F = sk_frame(d, d.train.iloc[rows])
        self.design = Design(d, cfg).fit(F)
        X = self.design.transform(F)
        y = d.y[rows]
        self.kind = c["model"]
        self.d = d
        self.kept = None
        # preprocess.target_transform log1p: fit on log1p(y), predictions mapped back by expm1
        # (scikit-learn's TransformedTargetRegressor(func=np.log1p, inverse_func=np.expm1))
        self.log1p_y = c["option"] == "log1p_target" and d.task == "regression"
        if self.log1p_y:
            y = np.log1p(y.astype(float))
        # class_weight balanced: n / (k n_c) over the fit's own training rows
        self.sw = None
        if params.get("class_weight") == "balanced":
            from sklearn.utils.class_weight import compute_sample_weight
            self.sw = compute_sample_weight("balanced", d.y_class[rows])
        if self.kind in TREES:
            self._fit_trees(c, params, X, rows, valid, rounds)
        elif self.kind == "ridge":
            from sklearn.linear_model import Ridge
            self.m = Ridge(alpha=float(params["alpha"]),
                           fit_intercept=bool(params["fit_intercept"])).fit(X, y.astype(float))
        elif self.kind == "elastic_net":
            from sklearn.linear_model import ElasticNet
            self.m = ElasticNet(alpha=float(params["alpha"]), l1_ratio=float(params["l1_ratio"]),
                                fit_intercept=bool(params.get("fit_intercept", True)),
                                max_iter=int(params["max_iter"]),
                                tol=float(params["tol"])).fit(X, y.astype(float))
        elif self.kind == "kernel_ridge":
            from sklearn.kernel_ridge import KernelRidge
            gamma = float(params.get("gamma", 0.0)) or None
            self.m = KernelRidge(alpha=float(params["alpha"]), kernel=params["kernel"],
                                 gamma=gamma, degree=int(params.get("degree", 3)),
                                 coef0=float(params.get("coef0", 1.0))).fit(X, y.astype(float))
        else:
            yi = d.y_class[rows]
            C, fi = float(params["C"]), bool(params["fit_intercept"])
            k = len(d.classes)
            if len(np.unique(yi)) != k:
                raise RuntimeError("a class is absent from the training rows")
            from sklearn.linear_model import LogisticRegression
            cw = "balanced" if self.sw is not None else None
            if params.get("penalty", "l2") == "elasticnet":
                # the exact optimum of saga's objective (hftest.LogisticOptimum: L-BFGS-B on the
                # split W = U - V, then Newton on the weights away from 0); saga itself is slow
                # to converge tightly, peer.logistic_l1_peer compares with it
                r1 = float(params["l1_ratio"])
                self.m = LogisticRegression(C=C, fit_intercept=fi, penalty="elasticnet",
                                            l1_ratio=r1, solver="saga", class_weight=cw,
                                            max_iter=200, random_state=0).fit(X, yi)
                o = hftest.LogisticOptimum(X, yi, C=C, fit_intercept=fi, check=False,
                                           sample_weight=self.sw, l1_ratio=r1)
                self.W, self.b = o.W, o.b
                self.cond = self._condition(X, y, params)
                return
            self.m = LogisticRegression(C=C, fit_intercept=fi, tol=float(params["tol"]),
                                        class_weight=cw,
                                        max_iter=int(params["max_iter"])).fit(X, yi)
            # The reference is the exact optimum of LogisticRegression's objective, from where
            # LogisticRegression stopped: scikit-learn 1.2 keeps scipy's ftol (2.2e-9), which
            # ends fits short of tol (max|gradient| 1e-2 at tol 1e-10, scores 1e-4 off), while
            # hyperfold stops on tol. LogisticRegression must land near it (the same objective).
            self.W, self.b = tight_logistic(X, yi, k, C, fi, self.m.coef_, self.m.intercept_,
                                            self.sw)
            # LogisticRegression's point is near-optimal for this objective: its probabilities
            # near the optimum's, or its objective value within 1e-4 above it (scikit-learn 1.2
            # stops on ftol, 4e-6 above the optimum on a 3-class fold here).
            far = np.abs(self.m.predict_proba(X) - self._optimum_proba(X)).max()
            f_lr = logistic_objective(X, yi, k, C, fi, self.m.coef_, self.m.intercept_, self.sw)
            f_opt = logistic_objective(X, yi, k, C, fi, self.W, self.b, self.sw)
            gap = (f_lr - f_opt) / max(1.0, abs(f_opt))
            if far > 1e-3 and not -1e-12 <= gap <= 1e-4:
                raise RuntimeError("LogisticRegression is %.3g from the optimum of its objective "
                                   "(objective %.10g vs %.10g)" % (far, f_lr, f_opt))
        self.cond = self._condition(X, y, params)

    def _fit_trees(self, c, params, X, rows, valid, rounds):
        """xgboost.train with the trial's parameters as hyperfold maps them (docs/models.md):
        the design as float32 with NaN missing, tree_method hist, one thread. xgboost with
        early_stopping_rounds on `valid` replays hyperfold's rule: after each round the
        objective metric on the validation rows (scores() below); a trial keeps the rounds up
        to its best score (strictly better than every earlier one) and stops after
        early_stopping_rounds rounds without one. rounds: the refit's, given."""
        import xgboost as xgb
        xgb.set_config(verbosity=0)
        d, get = self.d, params.get
        forest = self.kind == "random_forest"
        if d.task == "regression":
            bp, label = {"objective": "reg:squarederror"}, d.y[rows].astype(float)
            if self.log1p_y:
                label = np.log1p(label)
        else:
            k = len(d.classes)
            label = d.y_class[rows]
            bp = {"objective": "binary:logistic"} if k == 2 else \
                {"objective": "multi:softprob", "num_class": k}
        bp.update(tree_method="hist", nthread=1, seed=int(get("random_state", 0)),
                  max_depth=int(get("max_depth", 6)))
        if forest:
            bp.update(eta=1.0, num_parallel_tree=int(get("n_estimators", 100)),
                      subsample=float(get("subsample", 0.8)),
                      colsample_bynode=float(get("max_features", 0.8)), reg_lambda=1e-5)
            n_rounds = 1
        else:
            bp.update(eta=float(get("learning_rate", 0.3)))
            n_rounds = int(get("n_estimators", 100)) if rounds is None else int(rounds)
        self.booster = xgb.train(bp, self.design.dmatrix(X, label=label, weight=self.sw),
                                 n_rounds)
        self.kept = n_rounds
        es = 0 if forest else int(get("early_stopping_rounds", 0))
        if es <= 0 or valid is None or rounds is not None:
            return
        metric = objective_of(c)[0]
        minimize = metric in ("rmse", "mae", "log_loss")
        Xv = self.design.transform(sk_frame(d, d.train.iloc[valid]))
        yv = (d.y_class if d.task == "classification" else d.y)[valid]
        if self.log1p_y:  # early stopping on the transformed scale, as hyperfold
            yv = np.log1p(yv.astype(float))
        dv = self.design.dmatrix(Xv)
        best, best_s = -1, None
        for r in range(n_rounds):
            out = self._booster_out(self.booster, dv, (0, r + 1))
            s = exact_auc(yv, out) if metric == "roc_auc" else scores(d, yv, out, [metric])[metric]
            if best < 0 or (s < best_s if minimize else s > best_s):
                best, best_s = r, s
            elif r - best >= es:
                break
        self.kept = best + 1
        if self.kept < n_rounds:
            self.booster = self.booster[:self.kept]

    def _booster_out(self, booster, dm, iteration_range=(0, 0)):
        """Values, or class probabilities in class order (binary: [1 - p, p])."""
        out = booster.predict(dm, iteration_range=iteration_range).astype(float)
        if self.d.task == "classification" and out.ndim == 1:
            return np.column_stack([1.0 - out, out])
        return out

    def _optimum_proba(self, X):
        Zs = X @ self.W.T + self.b
        if Zs.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-Zs[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        Zs = Zs - Zs.max(axis=1, keepdims=True)
        E = np.exp(Zs)
        return E / E.sum(axis=1, keepdims=True)

    def _condition(self, X, y, params):
        """The condition number of the linear system the model solves (ridge: the centred
        normal equations; kernel ridge: K + alpha I); 1 for logistic regression, which runs on
        one rank. It bounds how far two correct solvers' roundings may drift apart."""
        if self.kind == "ridge":
            A = X - X.mean(axis=0) if params["fit_intercept"] else X
            s2 = np.linalg.svd(A, compute_uv=False) ** 2
            if len(s2) < A.shape[1]:
                s2 = np.concatenate([s2, np.zeros(A.shape[1] - len(s2))])
            a = float(params["alpha"])
            return float((s2.max() + a) / (s2.min() + a))
        if self.kind == "kernel_ridge":
            from sklearn.metrics.pairwise import pairwise_kernels
            kp = self.m.get_params()
            K = pairwise_kernels(X, metric=kp["kernel"], filter_params=True,
                                 gamma=kp["gamma"], degree=kp["degree"], coef0=kp["coef0"])
            ev = np.linalg.eigvalsh(K)
            a = float(params["alpha"])
            return float((ev.max() + a) / max(ev.min() + a, 1e-300))
        return 1.0

    def predict(self, F):
        """Regression: the values; logistic: the class probabilities at the optimum."""
        X = self.design.transform(F)
        if self.kind in TREES:
            out = self._booster_out(self.booster, self.design.dmatrix(X))
        elif self.kind != "logistic_regression":
            out = self.m.predict(X)
        else:
            return self._optimum_proba(X)
        return np.expm1(out) if self.log1p_y else out

    def predict_lr(self, F):
        """Logistic only, for the failure messages: LogisticRegression's own probabilities."""
        return self.m.predict_proba(self.design.transform(F))


def exact_auc(yi, out):
    """roc_auc as a rank statistic (Mann-Whitney U over n1 n0, one-vs-rest macro for more
    classes), as hyperfold computes it: two rounds whose AUCs are equal give equal numbers. The
    early-stopping replay needs that: scikit-learn's trapezoid sum can differ by an ulp between
    equal AUCs, which made a later round "strictly better" and kept 5 rounds where hyperfold
    (right) kept 3."""
    from scipy.stats import rankdata
    k = out.shape[1]
    cols = [1] if k == 2 else range(k)
    aucs = []
    for j in cols:
        pos = yi == j
        n1, n0 = int(pos.sum()), int((~pos).sum())
        rk = rankdata(out[:, j])
        aucs.append((rk[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))
    return float(np.mean(aucs))


def scores(d, y_rows, out, metrics):
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, f1_score, log_loss,
                                 mean_absolute_error, mean_squared_error, r2_score, roc_auc_score)
    res = {}
    if d.task == "regression":
        y = y_rows.astype(float)
        for mname in metrics:
            if mname == "r2":
                res[mname] = r2_score(y, out)
            elif mname == "rmse":
                res[mname] = float(np.sqrt(mean_squared_error(y, out)))
            elif mname == "mae":
                res[mname] = mean_absolute_error(y, out)
        return res
    k = len(d.classes)
    labels = list(range(k))
    yi = np.asarray(y_rows, dtype=np.int64)
    pred = out.argmax(axis=1)
    for mname in metrics:
        if mname == "accuracy":
            res[mname] = accuracy_score(yi, pred)
        elif mname == "log_loss":
            res[mname] = log_loss(yi, out, labels=labels)
        elif mname == "roc_auc":
            res[mname] = roc_auc_score(yi, out[:, 1]) if k == 2 else roc_auc_score(
                yi, out, multi_class="ovr", average="macro", labels=labels)
        elif mname == "f1":
            res[mname] = f1_score(yi, pred, pos_label=1) if k == 2 else f1_score(
                yi, pred, average="macro", labels=labels)
        elif mname == "balanced_accuracy":
            res[mname] = balanced_accuracy_score(yi, pred)
    return res


# ----------------------------------------------------------------------------------- running
def run_hf(args, np_ranks, cwd, timeout=300):
    cmd = [hftest.HYPERFOLD] + list(args)
    if np_ranks is not None:
        cmd = ["mpirun", "--oversubscribe", "-np", str(np_ranks)] + cmd
    try:
        return subprocess.run(cmd, cwd=cwd, env=hftest.env(), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(cmd, 124, e.stdout or "", "timed out after %ds" % timeout)


def error_lines(stderr):
    """hyperfold's own lines on stderr: mpirun's boxed notices (between dashed lines) and its
    'mpirun detected ...' trailer are not hyperfold's."""
    out, in_box = [], False
    for line in stderr.splitlines():
        if line.startswith("-----"):
            in_box = not in_box
            continue
        if in_box or not line.strip():
            continue
        out.append(line)
    return out


def last_error(p):
    lines = error_lines(p.stderr)
    return lines[-1] if lines else "(no message; exit %d)" % p.returncode


def read_predictions(path, d):
    f = pd.read_csv(path, keep_default_na=False, dtype=str)
    if d.task == "regression":
        return f["prediction"].astype(float).to_numpy(), None, list(f.columns)
    proba = f[[col for col in f.columns if col.startswith("proba_")]].astype(float).to_numpy()
    return f["prediction"].to_numpy(), proba, list(f.columns)


class Combo:
    """Runs one valid combination and collects what differed."""

    def __init__(self, c, work, cache):
        self.c = c
        self.work = work
        self.cache = cache
        self.fail = []
        self.checks = 0
        self.n_values = 0  # scores and predictions compared

    def check(self, cond, msg):
        self.checks += 1
        if not cond:
            self.fail.append(msg)
        return cond

    def run(self):
        c = self.c
        d = make_data(c)
        self.d = d
        os.makedirs(self.work, exist_ok=True)
        write_csv(d.train, os.path.join(self.work, "data.csv"))
        write_csv(d.new, os.path.join(self.work, "new.csv"))
        hftest.write(os.path.join(self.work, SPEC_FILE), spec_text(c, "m"))
        p = run_hf(["validate", SPEC_FILE], None, self.work)
        self.check(p.returncode == 0, "validate exited %d: %s" % (p.returncode, last_error(p)))
        res, pred = self.run_one(self.work, c["world"])
        if res is None:
            return
        ref = self.reference()
        sk = self.sklearn()
        self.compare_sklearn(res, pred, sk)
        self.sk_now = sk
        if ref is not None:
            self.compare_rank1(res, pred, ref)

    def run_one(self, work, world):
        p = run_hf(["run", SPEC_FILE, "--quiet"], world, work)
        run_dir = os.path.join(work, "out", "m")
        res = None
        if os.path.exists(os.path.join(run_dir, "results.json")):
            res = hftest.load_results(run_dir)
        if not self.check(p.returncode == 0, "run at %d rank(s) exited %d: %s%s" % (
                world, p.returncode, last_error(p), trial_errors(res))):
            return res, None
        res = hftest.load_results(run_dir)
        stray = [ln for ln in error_lines(p.stderr) if not ln.startswith("hyperfold: warning")]
        stray += [ln for ln in p.stdout.splitlines() if ln.strip()]
        self.check(not stray, "run --quiet at %d rank(s) printed %d line(s) (%s)" % (
            world, len(stray), " | ".join(sorted(set(ln.strip() for ln in stray))[:3])))
        q = run_hf(["predict", "--model", os.path.join(run_dir, "model.h5"), "--input", "new.csv",
                    "--output", "pred.csv", "--quiet"], world, work)
        if not self.check(q.returncode == 0, "predict at %d rank(s) exited %d: %s" % (
                world, q.returncode, last_error(q))):
            return res, None
        return res, read_predictions(os.path.join(work, "pred.csv"), self.d)

    def reference(self):
        """The same spec without `parallel`, at 1 rank (None when the combination is that)."""
        c = self.c
        if c["world"] == 1 and rpt_of(c["group"]) == 1:
            return None
        key = "rank1:" + combo_key(c, SEMANTIC)
        if key in self.cache:
            return self.cache[key]
        work = os.path.join(self.work, "rank1")
        os.makedirs(work, exist_ok=True)
        for f in ("data.csv", "new.csv"):
            shutil.copy(os.path.join(self.work, f), work)
        hftest.write(os.path.join(work, SPEC_FILE), spec_text(c, "m", with_parallel=False))
        n_fail = len(self.fail)
        res, pred = self.run_one(work, 1)
        for i in range(n_fail, len(self.fail)):
            self.fail[i] = "the 1-rank reference: " + self.fail[i]
        out = (res, pred) if res is not None and pred is not None else None
        self.cache[key] = out
        return out

    def sklearn(self):
        """scikit-learn's scores for every trial and split, its selection, its refit's
        predictions and holdout scores. Keyed by the trial's parameters."""
        c, d = self.c, self.d
        key = "sk:" + combo_key(c, SEMANTIC)
        if key in self.cache:
            return self.cache[key]
        metric, report = objective_of(c)
        metrics = [metric] + report
        # the trials: the grid of the spec, in hyperfold's order (last axis fastest)
        axes = [(k, v if isinstance(v, list) else [v]) for k, v in model_params(c).items()]
        axes += [("preprocess." + k, v if isinstance(v, list) else [v])
                 for k, v in preprocess_settings(c)]
        trials = [dict(zip([a for a, _ in axes], vals))
                  for vals in itertools.product(*[v for _, v in axes])]
        yv = d.y_class if d.task == "classification" else d.y
        out = {"metric": metric, "metrics": metrics, "trials": []}
        for params in trials:
            cfg = trial_config(c, params)
            per = {mname: [] for mname in metrics}
            err = None
            conds, kept = [], []
            for tr, va in d.splits:
                try:
                    mdl = Model(c, d, params, cfg, tr, valid=va)
                    conds.append(mdl.cond)
                    kept.append(mdl.kept)
                    o = mdl.predict(sk_frame(d, d.train.iloc[va]))
                    s = scores(d, yv[va], o, metrics)
                except Exception as e:  # noqa: BLE001 (a trial sklearn cannot fit: say so)
                    err = "%s: %s" % (type(e).__name__, e)
                    s = {mname: None for mname in metrics}
                for mname in metrics:
                    per[mname].append(s[mname])
            out["trials"].append({"params": params, "cfg": cfg, "fold_scores": per, "error": err,
                                  "cond": max(conds) if conds else 1.0, "kept": kept})
        # selection: mean of the objective over the splits; ties: the lowest trial
        minimize = metric in ("rmse", "mae", "log_loss")
        means = []
        for t in out["trials"]:
            v = t["fold_scores"][metric]
            means.append(None if t["error"] or any(x is None for x in v) else float(np.mean(v)))
        ok = [i for i, mv in enumerate(means) if mv is not None]
        best = min(ok, key=lambda i: (means[i] if minimize else -means[i], i)) if ok else None
        out["means"], out["best"] = means, best
        if best is not None:
            bt = out["trials"][best]
            # xgboost with early stopping refits the mean of the splits' kept rounds, rounded
            rounds = None
            if c["model"] == "xgboost" and int(bt["params"].get("early_stopping_rounds", 0)) > 0:
                rounds = max(1, int(math.floor(float(np.mean(bt["kept"])) + 0.5)))
            out["refit_rounds"] = rounds
            mdl = Model(c, d, bt["params"], bt["cfg"], d.search, rounds=rounds)
            out["pred"] = mdl.predict(sk_frame(d, d.new))
            out["refit"] = mdl
            out["refit_cond"] = mdl.cond
            if len(d.hold):
                o = mdl.predict(sk_frame(d, d.train.iloc[d.hold]))
                out["holdout"] = scores(d, yv[d.hold], o, metrics)
        self.cache[key] = out
        return out

    # -------------------------------------------------------------------------- comparisons
    def compare_sklearn(self, res, pred, sk):
        c, d = self.c, self.d
        self.check(res.get("metric") == sk["metric"], "objective metric: hyperfold %r, expected %r"
                   % (res.get("metric"), sk["metric"]))
        ht = res.get("trials", [])
        if not self.check(len(ht) == len(sk["trials"]), "trials: hyperfold %d, scikit-learn %d"
                          % (len(ht), len(sk["trials"]))):
            return
        self.check(res.get("n_splits") == len(d.splits), "splits: hyperfold %r, expected %d"
                   % (res.get("n_splits"), len(d.splits)))
        diffs, failed = [], {}
        for t, s in zip(ht, sk["trials"]):
            label = "trial %d (%s)" % (t["trial"], params_text(s["params"]))
            for k, v in s["params"].items():
                hv = t["params"].get(k)
                if not same_param(hv, v):
                    diffs.append("%s: parameter %s is %r in results.json" % (label, k, hv))
            if s["error"]:
                diffs.append("%s: scikit-learn cannot fit it (%s)" % (label, s["error"]))
                continue
            if t.get("status", "ok") != "ok":
                failed.setdefault("%s (%s)" % (t.get("status"), t.get("error", "")), []).append(
                    t["trial"])
            elif c["model"] == "xgboost" and t.get("n_iter") != s["kept"]:
                diffs.append("%s: rounds kept per split: hyperfold %r, the replayed early "
                             "stopping %r" % (label, t.get("n_iter"), s["kept"]))
            for mname, ref in s["fold_scores"].items():
                got = t.get("fold_scores", {}).get(mname)
                if got is None or len(got) != len(ref):
                    diffs.append("%s: %s fold scores missing (%r)" % (label, mname, got))
                    continue
                for k, (a, b) in enumerate(zip(got, ref)):
                    self.n_values += 1
                    if a is None and t.get("status", "ok") != "ok":
                        continue  # counted once per trial below
                    if a is None or not hftest.rel_close(a, b, SCORE_RTOL, 1e-12):
                        extra = ""
                        if c["model"] == "logistic_regression" and not diffs:
                            extra = " (LogisticRegression itself scores %r)" % self.lr_score(s, k, mname)
                        diffs.append("%s split %d %s: hyperfold %r, scikit-learn %r%s%s" % (
                            label, k, mname, a, b, rel_text(a, b), extra))
        for why, ts in failed.items():
            self.fail.append("trial(s) %s failed in hyperfold, scikit-learn fits them: %s" % (
                ",".join(str(x) for x in ts), why))
        self.report_diffs("vs scikit-learn", diffs)
        # selection
        best = res.get("best") or {}
        if sk["best"] is None:
            self.check(not best, "best trial: hyperfold %r, scikit-learn has none" % best.get("trial"))
            return
        bmean = sk["means"][sk["best"]]
        tied = [i for i, mv in enumerate(sk["means"]) if mv is not None
                and abs(mv - bmean) <= 1e-12 * max(1.0, abs(bmean))]
        self.check(best.get("trial") in tied,
                   "best trial: hyperfold %r (%s), scikit-learn %d (%s, mean %s %.10g)" % (
                       best.get("trial"), params_text(best.get("params", {})), sk["best"],
                       params_text(sk["trials"][sk["best"]]["params"]), sk["metric"], bmean))
        if best.get("score") is not None:
            # the mean of split scores each right to SCORE_RTOL: right to SCORE_RTOL times the
            # largest of them (an r2 mean of 0.004 from splits of +-0.3 cancels digits)
            folds = sk["trials"][sk["best"]]["fold_scores"].get(sk["metric"]) or [bmean]
            spread = max([abs(x) for x in folds if x is not None] + [abs(bmean)])
            self.check(hftest.rel_close(best["score"], bmean, SCORE_RTOL,
                                        max(1e-12, SCORE_RTOL * spread)),
                       "best score: hyperfold %r, scikit-learn %r" % (best["score"], bmean))
        if best.get("trial") != sk["best"] and best.get("trial") not in tied:
            return  # the predictions of another trial say nothing more
        if sk.get("refit_rounds") is not None:
            self.check(res.get("refit", {}).get("n_iter") == sk["refit_rounds"],
                       "refit rounds: hyperfold %r, expected the mean of the kept rounds %r" % (
                           res.get("refit", {}).get("n_iter"), sk["refit_rounds"]))
        # holdout
        if len(d.hold):
            h = res.get("holdout")
            if self.check(h is not None and h.get("rows") == len(d.hold),
                          "holdout: results.json has %r, expected %d rows" % (h, len(d.hold))):
                for mname, b in sk["holdout"].items():
                    a = h["scores"].get(mname)
                    self.check(a is not None and hftest.rel_close(a, b, SCORE_RTOL, 1e-12),
                               "holdout %s: hyperfold %r, scikit-learn %r%s" % (
                                   mname, a, b, rel_text(a, b)))
        else:
            self.check("holdout" not in res, "holdout scores without cv.holdout")
        # predictions of the refit
        if pred is None:
            return
        self.compare_predictions(pred, sk)

    def lr_score(self, s, k, mname):
        d = self.d
        tr, va = d.splits[k]
        o = Model(self.c, d, s["params"], s["cfg"], tr).predict_lr(sk_frame(d, d.train.iloc[va]))
        return scores(d, d.y_class[va], o, METRICS["classification"])[mname]

    def compare_predictions(self, pred, sk):
        d = self.d
        labels, proba, header = pred
        want = sk["pred"]
        self.n_values += int(np.size(want))
        if d.task == "regression":
            vals = labels
            if not self.check(len(vals) == len(want), "predict: %d rows, expected %d" % (len(vals), len(want))):
                return
            err = np.abs(vals - want) / np.maximum(1.0, np.maximum(np.abs(vals), np.abs(want)))
            i = int(np.nanargmax(np.where(np.isnan(err), np.inf, err)))
            self.check(np.all(err <= PRED_TOL), "predict vs scikit-learn's refit: row %d %r vs %r "
                       "(largest relative difference %.3g)" % (i, vals[i], want[i], err[i]))
            return
        want_header = ["prediction"] + ["proba_%s" % k for k in d.classes]
        if not self.check(header == want_header, "predict header %r, expected %r" % (header, want_header)):
            return
        err = np.abs(proba - want)
        i, j = np.unravel_index(int(np.argmax(err)), err.shape)
        extra = ""
        if err.max() > PRED_TOL and self.c["model"] == "logistic_regression":
            lr = sk["refit"].predict_lr(sk_frame(d, d.new))
            extra = " (LogisticRegression itself: %r)" % lr[i, j]
        self.check(err.max() <= PRED_TOL, "predict vs scikit-learn's refit: row %d proba_%s %r vs "
                   "%r%s (largest absolute difference %.3g)" % (i, d.classes[j], proba[i, j],
                                                              want[i, j], extra, err.max()))
        wl = np.array([str(d.classes[k]) for k in want.argmax(axis=1)])
        margin = np.sort(want, axis=1)
        clear = (margin[:, -1] - margin[:, -2]) > 1e-6
        bad = np.flatnonzero((labels != wl) & clear)
        self.check(len(bad) == 0, "predict labels differ from scikit-learn's on rows %s (%r vs %r)"
                   % (bad[:5].tolist(), labels[bad[:5]].tolist(), wl[bad[:5]].tolist()))

    def compare_rank1(self, res, pred, ref):
        """Against the same spec at 1 rank: to RANK1_RTOL, or COND_EPS times the condition number
        of the system a trial solves where that is larger (a distributed factorisation rounds
        differently; a backward-stable solve may move by about cond * eps)."""
        rres, rpred = ref
        diffs = []
        sk = getattr(self, "sk_now", None) or {}

        # Logistic regression on inputs that differ by rounding (PCA computed on the group) runs
        # its iterations to tol 1e-10, down to the rounding floor of the loss, where the end
        # point moves by about sqrt(eps) with the inputs: measured 2e-9 to 1.4e-8 in the
        # probabilities. Its exactness is checked against the optimum above.
        # elastic_net's coordinate descent stops on a duality gap (1e-8 here): on inputs that
        # differ by rounding its last sweep may come one earlier or later.
        floor = (ITERATIVE_FLOOR if self.c["model"] in ("logistic_regression", "elastic_net")
                 and self.c["preprocess"] == "pca" and rpt_of(self.c["group"]) > 1 else 0.0)

        def rtol_of(i):
            ts = sk.get("trials") or []
            cond = ts[i].get("cond", 1.0) if i is not None and i < len(ts) else 1.0
            return max(RANK1_RTOL, COND_EPS * cond, floor)
        self.check((res.get("best") or {}).get("trial") == (rres.get("best") or {}).get("trial"),
                   "best trial: %r here, %r at 1 rank" % ((res.get("best") or {}).get("trial"),
                                                         (rres.get("best") or {}).get("trial")))
        for t, r in zip(res.get("trials", []), rres.get("trials", [])):
            label = "trial %d" % t["trial"]
            tol = rtol_of(t["trial"])
            if t.get("params") != r.get("params") or t.get("status") != r.get("status"):
                diffs.append("%s: params/status %r %r here, %r %r at 1 rank" % (
                    label, t.get("params"), t.get("status"), r.get("params"), r.get("status")))
                continue
            for mname, ref_v in (r.get("fold_scores") or {}).items():
                got = (t.get("fold_scores") or {}).get(mname) or []
                for k, (a, b) in enumerate(zip(got, ref_v)):
                    self.n_values += 1
                    if (a is None) != (b is None) or (a is not None and not hftest.rel_close(
                            a, b, tol, 1e-14)):
                        diffs.append("%s split %d %s: %r here, %r at 1 rank%s" % (
                            label, k, mname, a, b, rel_text(a, b)))
        self.report_diffs("vs the 1-rank run", diffs)
        rh, hh = rres.get("holdout"), res.get("holdout")
        tol = max(RANK1_RTOL, COND_EPS * sk.get("refit_cond", 1.0), floor)
        if rh and hh:
            for mname, b in rh["scores"].items():
                a = hh["scores"].get(mname)
                self.check(a is not None and b is not None and hftest.rel_close(a, b, tol, 1e-14),
                           "holdout %s: %r here, %r at 1 rank" % (mname, a, b))
        if pred is None or rpred is None:
            return
        labels, proba, _ = pred
        rl, rp, _ = rpred
        self.n_values += int(np.size(rp if rp is not None else rl))
        if self.d.task == "regression":
            err = np.abs(labels - rl) / np.maximum(1.0, np.abs(rl))
            self.check(err.max() <= tol, "predictions vs the 1-rank model: largest "
                       "relative difference %.3g (row %d: %r vs %r)" % (
                           err.max(), int(err.argmax()), labels[err.argmax()], rl[err.argmax()]))
        else:
            err = np.abs(proba - rp)
            self.check(err.max() <= tol and (labels == rl).all(),
                       "predictions vs the 1-rank model: largest probability difference %.3g, "
                       "%d labels differ" % (err.max(), int((labels != rl).sum())))

    def report_diffs(self, what, diffs):
        self.checks += 1
        tail = []
        if diffs and diffs[-1].startswith("of the "):
            diffs, tail = diffs[:-1], diffs[-1:]
        if diffs:
            head = diffs[:6]
            more = " (and %d more)" % (len(diffs) - len(head)) if len(diffs) > len(head) else ""
            self.fail.append("%s: %d value(s) differ: %s%s%s" % (
                what, len(diffs), "; ".join(head), more, "".join("; " + x for x in tail)))


def trial_errors(res):
    """The distinct reasons of the failed trials of a results.json, for a failure message."""
    if not res:
        return ""
    errs = {}
    for t in res.get("trials", []):
        if t.get("status", "ok") != "ok":
            errs.setdefault(t.get("error", "?"), []).append(t["trial"])
    if not errs:
        return ""
    return " [failed trials: %s]" % "; ".join("%s: %s" % (",".join(str(x) for x in ts), e)
                                             for e, ts in list(errs.items())[:3])


def params_text(p):
    return ", ".join("%s=%s" % (k.replace("preprocess.", ""), v) for k, v in p.items()
                     if k not in ("max_iter", "tol"))


def same_param(a, b):
    if isinstance(b, bool) or isinstance(a, bool):
        return a == b
    if isinstance(b, (int, float)) and isinstance(a, (int, float)):
        return abs(a - b) <= 1e-12 * max(1.0, abs(b))
    return a == b


def rel_text(a, b):
    if a is None or b is None:
        return ""
    den = max(abs(a), abs(b))
    return " (relative difference %.3g)" % (abs(a - b) / den if den else 0.0)


# ----------------------------------------------------------------------------------- refusals
def run_refusal(c, work):
    """An invalid combination: validate and run must both refuse it, with one line, a non-zero
    exit, and nothing written (no journal, no model). Returns (checks, failures)."""
    fails = []
    d = make_data(c)
    os.makedirs(work, exist_ok=True)
    write_csv(d.train, os.path.join(work, "data.csv"))
    hftest.write(os.path.join(work, SPEC_FILE), spec_text(c, "m"))
    why = refusal_reason(c)
    rpt = rpt_of(c["group"])
    grid = grid_of(c["group"])
    grid_bad = grid and "x" in grid and int(grid.split("x")[0]) * int(grid.split("x")[1]) != rpt
    if why is None and grid_bad:
        why = "grid"
    # what the one line must name: the setting at fault and, for a model that cannot do the
    # task, the models that can
    other = [m for m, ts in MODEL_TASKS.items() if task_of(c["target"]) in ts]
    expect = {"model-task": [c["model"]] + other[:1],
              "target-fit": [c["model"], "data.task"],
              "stratified": ["cv.strategy"],
              "ranks-per-task": ["parallel.ranks_per_task"],
              "grid": ["parallel.grid"],
              "weighted-task": ["class_weight"],
              "log1p-task": ["preprocess.target_transform"],
              "native-pca": ["preprocess.categorical", "native", "pca"]}[why]
    # validate: at the combination's world size (the only place it can know it); at one rank it
    # cannot (a login node validates a spec meant for mpirun -np 8) and must accept it
    for what, args, np_ranks in (("validate", ["validate", SPEC_FILE], c["world"] if why == "ranks-per-task" else None),
                                 ("run", ["run", SPEC_FILE, "--quiet"],
                                  c["world"] if c["world"] > 1 else None)):
        p = run_hf(args, np_ranks, work)
        if what == "validate" and why == "ranks-per-task" and c["world"] == 1:
            if p.returncode != 0:
                fails.append("validate at 1 rank refused a ranks_per_task it cannot judge: %s"
                             % " | ".join(error_lines(p.stderr)[:2]))
            continue
        lines = error_lines(p.stderr)
        where = "%s%s" % (what, " at %d rank(s)" % np_ranks if np_ranks else "")
        if p.returncode == 0:
            fails.append("%s accepted it (exit 0), expected a refusal (%s)" % (where, why))
            continue
        if len(lines) != 1:
            fails.append("%s exited %d with %d lines on stderr, expected one: %s" % (
                where, p.returncode, len(lines), " | ".join(lines[:4])))
        elif not all(e in lines[0] for e in expect):
            fails.append("%s: the message does not name %s: %s" % (where, " and ".join(expect), lines[0]))
        if p.returncode not in (2,):
            fails.append("%s exited %d, expected 2 (bad input): %s" % (where, p.returncode,
                                                                     lines[-1] if lines else ""))
        if what == "run":
            for f in ("journal.jsonl", "model.h5"):
                if os.path.exists(os.path.join(work, "out", "m", f)):
                    fails.append("run wrote %s before refusing" % f)
    return 8, fails


# ----------------------------------------------------------------------------------- driver
def with_seed(c):
    c = dict(c)
    c["_cv_seed"] = seed_of(c) % 1000
    return c


def execute(combos, refusals, label, report_path=None, keep=False, verbose=True):
    """Runs the combinations; prints one line each; returns the number of failed combinations."""
    root = tempfile.mkdtemp(prefix="hf-matrix-")
    cache = {}
    failed, n_checks, n_values, results = 0, 0, 0, []
    t_all = time.time()
    total = len(combos) + len(refusals)
    last_key = None
    for i, c0 in enumerate(combos + refusals):
        c = with_seed(c0)
        if combo_key(c, SEMANTIC) != last_key:
            cache.clear()  # combinations sharing a reference are next to each other
            last_key = combo_key(c, SEMANTIC)
        refused = i >= len(combos)
        work = os.path.join(root, "c%04d" % i)
        t0 = time.time()
        try:
            if refused:
                checks, fails = run_refusal(c, work)
            else:
                cb = Combo(c, work, cache)
                cb.run()
                checks, fails = cb.checks, cb.fail
                n_values += cb.n_values
        except Exception as e:  # noqa: BLE001 (a harness error is reported as such)
            import traceback
            checks, fails = 1, ["matrix harness error: %s\n%s" % (e, traceback.format_exc())]
        dt = time.time() - t0
        n_checks += checks
        tag = "refuse" if refused else "run"
        name = combo_name(c0)
        results.append({"combo": {k: c0[k] for k in DIM_NAMES}, "kind": tag, "seconds": round(dt, 2),
                        "failures": fails})
        if fails:
            failed += 1
            print("FAIL [%s %d/%d] %s (%.1fs)" % (tag, i + 1, total, name, dt))
            for f in fails:
                print("    - " + f)
        elif verbose:
            print("ok   [%s %d/%d] %s (%.1fs)" % (tag, i + 1, total, name, dt))
        sys.stdout.flush()
        if not keep and not fails:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.time() - t_all
    print("%s: %d combinations (%d run, %d refused), %d checks (%d scores and predictions "
          "compared), %d combination(s) failed, %.0f s"
          % (label, total, len(combos), len(refusals), n_checks, n_values, failed, elapsed))
    if report_path:
        with open(report_path, "w") as f:
            json.dump({"label": label, "seconds": elapsed, "results": results}, f, indent=1)
    if failed == 0 and not keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print("work directories of the failed combinations: %s" % root)
    return failed


def execute_parallel(combos, refusals, label, report_path, keep, verbose, jobs):
    """execute() in `jobs` forked processes, each on a shard of whole SEMANTIC groups (so each
    group's scikit-learn reference and 1-rank run are still made once) and every jobs-th refusal.
    The combinations and their checks are the same as one process's; only the order of the
    printed lines differs. Returns the number of failed combinations."""
    t_all = time.time()
    tmp = tempfile.mkdtemp(prefix="hf-matrix-jobs-")
    pids = []
    for i in range(jobs):
        part = os.path.join(tmp, "part-%d.json" % i)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                execute(shard(combos, i, jobs), refusals[i::jobs], "%s (shard %d/%d)" %
                        (label, i, jobs), part, keep, verbose)
                code = 0
            finally:
                sys.stdout.flush()
                os._exit(code)
        pids.append((pid, part))
    failed, results, broken = 0, [], 0
    for pid, part in pids:
        _, status = os.waitpid(pid, 0)
        try:
            with open(part) as f:
                res = json.load(f)["results"]
        except (OSError, ValueError):
            res = None
        if status != 0 or res is None:
            broken += 1
            print("FAIL: a matrix process (pid %d) ended with status %d and no report" % (pid, status))
            continue
        results += res
        failed += sum(1 for r in res if r["failures"])
    elapsed = time.time() - t_all
    print("%s: %d combinations (%d run, %d refused) in %d processes, %d combination(s) failed, "
          "%.0f s" % (label, len(combos) + len(refusals), len(combos), len(refusals), jobs, failed,
                      elapsed))
    if report_path:
        with open(report_path, "w") as f:
            json.dump({"label": label, "seconds": elapsed, "results": results}, f, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)
    return failed + broken


def full_product():
    """Every valid combination, those that share their data and spec (SEMANTIC) next to each
    other, so each shares one scikit-learn reference and one 1-rank run."""
    pos = {d: {v: k for k, v in enumerate(DIM_VALUES[d])} for d in DIM_NAMES}
    return sorted(all_valid(), key=lambda c: [pos[d][c[d]] for d in SEMANTIC] +
                  [pos[d][c[d]] for d in DIM_NAMES if d not in SEMANTIC])


def shard(combos, i, n):
    """Shard i of n, whole SEMANTIC groups at a time (round-robin over the groups)."""
    out, group, last = [], -1, None
    for c in combos:
        key = combo_key(c, SEMANTIC)
        if key != last:
            group, last = group + 1, key
        if group % n == i:
            out.append(c)
    return out


def where(combos, text):
    """Only the combinations matching every dim=value (a value may be a|b|c)."""
    conds = []
    for part in text.split(","):
        k, v = part.split("=", 1)
        if k not in DIM_VALUES:
            raise SystemExit("--where: unknown dimension %r (one of %s)" % (k, ", ".join(DIM_NAMES)))
        conds.append((k, set(v.split("|"))))
    return [c for c in combos if all(str(c[k]) in vs for k, vs in conds)]


def summary(path):
    """The failures of a --report file grouped by the shape of their message (numbers, trial and
    row indices blanked), largest group first, each with the combinations it hit."""
    import re
    with open(path) as f:
        rep = json.load(f)
    groups = {}
    for r in rep["results"]:
        for msg in r["failures"]:
            shape = re.sub(r"\b\d+(\.\d+)?(e[-+]?\d+)?\b", "#", msg.split(":", 2)[0] + ":" +
                           (msg.split(":", 2)[1] if ":" in msg else ""))[:90]
            groups.setdefault(shape, []).append((r["combo"], msg))
    print("%s: %d combinations, %d failed, %.0f s" % (
        rep["label"], len(rep["results"]), sum(1 for r in rep["results"] if r["failures"]),
        rep["seconds"]))
    for shape, hits in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print("\n%d x %s" % (len(hits), shape))
        for combo, msg in hits:
            print("  - %s\n      %s" % (combo_name(combo), msg[:300]))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["pairwise", "full", "list", "one", "summary"])
    ap.add_argument("what", nargs="?", help="list: pairwise|full|refusals; one: a combination; "
                    "summary: a --report file")
    ap.add_argument("--shard", help="I/N: shard I of N (0-based), whole groups of combinations "
                    "sharing their data and spec; the refusals are spread the same way")
    ap.add_argument("--where", help="only the combinations with these values, e.g. "
                    "'model=ridge,block=1|32' (pairwise, full, list)")
    ap.add_argument("--limit", type=int, help="at most this many run combinations")
    ap.add_argument("--sample", type=int, help="full: a fixed random sample of this many run "
                    "combinations (--seed), for a look beyond the default subset")
    ap.add_argument("--seed", type=int, default=1, help="seed of --sample")
    ap.add_argument("--report", help="write every combination's result as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep every work directory")
    ap.add_argument("--quiet", action="store_true", help="print failed combinations only")
    ap.add_argument("--jobs", type=int, default=1, help="run the combinations in this many "
                    "processes, each a shard of whole SEMANTIC groups (pairwise, full)")
    a = ap.parse_args(argv)
    if a.mode == "list":
        sets = {"pairwise": pairwise, "full": full_product, "refusals": refusal_cases}
        combos = sets[a.what or "pairwise"]()
        if a.where:
            combos = where(combos, a.where)
        for c in combos:
            print(combo_key(c))
        print("# %d combinations" % len(combos), file=sys.stderr)
        return 0
    if a.mode == "one":
        c = parse_combo(a.what)
        combos, refusals = ([], [c]) if refusal_reason(c) or not shape_ok(c) else ([c], [])
        return 1 if execute(combos, refusals, "one", a.report, keep=True) else 0
    if a.mode == "summary":
        return summary(a.what)
    if a.mode == "pairwise":
        combos, refusals = pairwise(), refusal_cases(full=False)
        missing = uncovered(combos)
        if missing:  # the generator's own check
            print("FAIL: the cover misses %d interactions, e.g. %r" % (len(missing), missing[:3]))
            return 1
    else:
        combos, refusals = full_product(), refusal_cases()
    if a.where:
        combos, refusals = where(combos, a.where), where(refusals, a.where)
    if a.shard:
        i, n = (int(x) for x in a.shard.split("/"))
        combos = shard(combos, i, n)
        refusals = refusals[i::n]
    if a.sample:
        pick = np.random.default_rng(a.seed).choice(len(combos), size=min(a.sample, len(combos)),
                                                    replace=False)
        combos = [combos[k] for k in sorted(pick)]
        refusals = []
    if a.limit is not None:
        combos = combos[:a.limit]
    if a.jobs > 1:
        return 1 if execute_parallel(combos, refusals, "matrix " + a.mode, a.report, a.keep,
                                     not a.quiet, a.jobs) else 0
    return 1 if execute(combos, refusals, "matrix " + a.mode, a.report, a.keep,
                        verbose=not a.quiet) else 0


if __name__ == "__main__":
    sys.exit(main())
