"""hyperfold's row splits reproduced in Python, so the matrix can place missing values in chosen
folds and give scikit-learn the very rows hyperfold trains and validates on.

A port of common/rng.c (xoshiro256** seeded through splitmix64) and of the parts of
worker/folds.c the matrix uses: the cv.holdout draw (uniform, or stratified by class for a
classification target) and the kfold / stratified / predefined splits of the remaining search
rows (docs/preprocessing.md describes them). Row lists are ascending indices into the data set,
as in hf_folds.
"""
import math

import numpy as np

MASK = (1 << 64) - 1
HOLDOUT_STREAM = 0x401D  # HF_FOLDS_HOLDOUT_STREAM


def _splitmix64(state):
    """One splitmix64 step; returns (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Rng:
    """hf_rng: hf_rng_init(seed, a, b), hf_rng_next, hf_rng_below, hf_rng_shuffle_i64."""

    def __init__(self, seed, a, b):
        x, h = _splitmix64(seed & MASK)
        h ^= (a * 0xD1B54A32D192ED03) & MASK
        h, out = _splitmix64(h)
        h = out ^ ((b * 0x8CB92BA72F3D8DD7) & MASK)
        s = []
        for _ in range(4):
            h, out = _splitmix64(h)
            s.append(out)
        self.s = s

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n):
        limit = MASK - MASK % n
        while True:
            x = self.next()
            if x < limit:
                return x % n

    def shuffle(self, v):
        """Fisher-Yates in place on a Python list, as hf_rng_shuffle_i64."""
        for i in range(len(v) - 1, 0, -1):
            j = self.below(i + 1)
            v[i], v[j] = v[j], v[i]


def holdout_rows(n, holdout, seed, y_class=None, n_classes=0):
    """cv.holdout: the held-out rows (ascending numpy array). y_class: class index per row for a
    classification target (the draw is then stratified), None for regression."""
    if holdout <= 0:
        return np.zeros(0, dtype=np.int64)
    n_hold = int(math.ceil(holdout * n))
    rng = Rng(seed, HOLDOUT_STREAM, 0)
    in_hold = np.zeros(n, dtype=bool)
    allr = list(range(n))
    if y_class is not None and n_classes > 0:
        count = [0] * n_classes
        for c in y_class:
            count[int(c)] += 1
        taken, share, given = [0] * n_classes, [], 0
        for c in range(n_classes):
            q = float(n_hold) * float(count[c]) / float(n)
            taken[c] = int(math.floor(q))
            given += taken[c]
            share.append((q - math.floor(q), count[c], c))
        # largest fraction first; ties: the larger class, then the lower class index
        share.sort(key=lambda s: (-s[0], -s[1], s[2]))
        for frac, cnt, c in share:
            if given >= n_hold:
                break
            if taken[c] < count[c]:
                taken[c] += 1
                given += 1
        rng.shuffle(allr)
        for i in allr:
            c = int(y_class[i])
            if taken[c] > 0:
                in_hold[i] = True
                taken[c] -= 1
    else:
        rng.shuffle(allr)
        for i in allr[:n_hold]:
            in_hold[i] = True
    return np.flatnonzero(in_hold)


def _splits_from_assign(search, assign, k):
    out = []
    for fold in range(k):
        va = search[assign == fold]
        tr = search[assign != fold]
        out.append((tr, va))
    return out


def kfold_splits(search, k, seed):
    """cv.strategy kfold (one repeat) over the search rows: list of (train, valid) row arrays."""
    n = len(search)
    rng = Rng(seed, 0, 0)
    perm = list(range(n))
    rng.shuffle(perm)
    assign = np.empty(n, dtype=np.int64)
    pos = 0
    for fold in range(k):
        size = n // k + (1 if fold < n % k else 0)
        for _ in range(size):
            assign[perm[pos]] = fold
            pos += 1
    return _splits_from_assign(np.asarray(search), assign, k)


def stratified_splits(search, y_class, n_classes, k, seed):
    """cv.strategy stratified (one repeat): each class's positions shuffled, classes laid out in
    class order, dealt round-robin to the folds."""
    search = np.asarray(search)
    n = len(search)
    rng = Rng(seed, 0, 0)
    bycls = [[] for _ in range(n_classes)]
    for i in range(n):
        bycls[int(y_class[search[i]])].append(i)
    for c in range(n_classes):
        rng.shuffle(bycls[c])
    order = [i for c in range(n_classes) for i in bycls[c]]
    assign = np.empty(n, dtype=np.int64)
    for j, i in enumerate(order):
        assign[i] = j % k
    return _splits_from_assign(search, assign, k)


def predefined_splits(search, fold_values):
    """cv.strategy predefined: split i validates the search rows whose fold value is the i-th
    distinct non-negative value; rows with a negative value always train."""
    search = np.asarray(search)
    fv = np.asarray(fold_values)[search]
    out = []
    for v in sorted(set(int(x) for x in fv if x >= 0)):
        out.append((search[fv != v], search[fv == v]))
    return out
