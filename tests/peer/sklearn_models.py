"""Reference fits for tests/peer/test_models_peer.c (run by it, not by ctest directly).

Usage: sklearn_models.py OUT.json

Generates regression, binary and 3-class data sets (numpy seeded), splits each into stratified /
plain K folds, fits scikit-learn's Ridge and LogisticRegression(tol=1e-10, max_iter=10000) on every
training fold for a small parameter grid, and writes, per (fold, params): the training and test
rows, sklearn's coefficients, intercepts, test predictions and test scores for every metric
hyperfold implements. The C side refits with hyperfold's models and compares.
"""
import json
import os
import sys
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (accuracy_score, f1_score, log_loss, mean_absolute_error,
                             mean_squared_error, r2_score, roc_auc_score)
from sklearn.model_selection import KFold, StratifiedKFold

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

warnings.simplefilter("ignore")


def regression_data(rng, n, p):
    X = rng.normal(size=(n, p)) * (1.0 + np.arange(p)) + 3.0 * np.arange(p)
    w = rng.normal(size=p)
    y = X @ w + 4.0 + rng.normal(scale=2.0, size=n)
    return X, y


def regression_scores(y, pred):
    return {
        "r2": r2_score(y, pred),
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "mae": mean_absolute_error(y, pred),
    }


def classification_scores(y, proba, k):
    labels = list(range(k))
    pred = np.argmax(proba, axis=1)
    if k == 2:
        auc = roc_auc_score(y, proba[:, 1])
        f1 = f1_score(y, pred, pos_label=1)
    else:
        auc = roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
        f1 = f1_score(y, pred, average="macro", labels=labels)
    return {
        "accuracy": accuracy_score(y, pred),
        "log_loss": log_loss(y, proba, labels=labels),
        "roc_auc": auc,
        "f1": f1,
    }


def tight_logistic(X, y, k, C, fit_intercept):
    """The same objective as sklearn's lbfgs, solved far tighter than LogisticRegression can be
    asked to (hftest.LogisticOptimum: max|gradient| 1e-12, no relative-decrease test)."""
    o = hftest.LogisticOptimum(X, y, C=C, fit_intercept=fit_intercept, gtol=1e-12, check=False)
    return o.W, np.asarray(o.b).reshape(1, -1), o.gradient


def main():
    out = sys.argv[1]
    rng = np.random.RandomState(12345)
    cases = []

    for name, n, p in (("reg_tall", 150, 6), ("reg_wide", 24, 30)):
        X, y = regression_data(rng, n, p)
        for fold, (tr, te) in enumerate(KFold(3, shuffle=True, random_state=0).split(X)):
            for fit_intercept in (True, False):
                for alpha in (0.01, 1.0, 100.0):
                    m = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X[tr], y[tr])
                    pred = m.predict(X[te])
                    cases.append({
                        "name": f"{name}/fold{fold}/alpha={alpha}/fi={fit_intercept}",
                        "model": "ridge", "n_classes": 0,
                        "params": {"alpha": alpha, "fit_intercept": fit_intercept},
                        "X_train": X[tr].tolist(), "y_train": y[tr].tolist(),
                        "X_test": X[te].tolist(), "y_test": y[te].tolist(),
                        "coef": [np.ravel(m.coef_).tolist()],
                        "intercept": [[float(m.intercept_)]],
                        "pred": pred.reshape(-1, 1).tolist(),
                        "scores": regression_scores(y[te], pred),
                    })

    for name, n, p, k in (("bin", 200, 5, 2), ("multi3", 240, 5, 3)):
        X, y = make_classification(n_samples=n, n_features=p, n_informative=3, n_redundant=0,
                                   n_classes=k, n_clusters_per_class=1, class_sep=0.8,
                                   flip_y=0.05, random_state=7)
        X = X * (1.0 + np.arange(p)) + np.arange(p)
        y = y.astype(float)
        folds = StratifiedKFold(3, shuffle=True, random_state=1).split(X, y)
        for fold, (tr, te) in enumerate(folds):
            for fit_intercept in (True, False):
                for C in (0.01, 1.0, 100.0):
                    m = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-10,
                                           max_iter=10000).fit(X[tr], y[tr])
                    proba = m.predict_proba(X[te])
                    intercept = np.atleast_1d(m.intercept_).reshape(1, -1)
                    tW, tb, tg = tight_logistic(X[tr], y[tr], k, C, fit_intercept)
                    cases.append({
                        "name": f"{name}/fold{fold}/C={C}/fi={fit_intercept}",
                        "model": "logistic_regression", "n_classes": k,
                        "params": {"C": C, "fit_intercept": fit_intercept,
                                   "tol": 1e-10, "max_iter": 10000},
                        "X_train": X[tr].tolist(), "y_train": y[tr].tolist(),
                        "X_test": X[te].tolist(), "y_test": y[te].tolist(),
                        "coef": m.coef_.tolist(), "intercept": intercept.tolist(),
                        "coef_tight": tW.tolist(), "intercept_tight": tb.tolist(),
                        "grad_tight": tg,
                        "pred": proba.tolist(),
                        "scores": classification_scores(y[te], proba, k),
                    })

    with open(out, "w") as f:
        json.dump({"cases": cases}, f)


if __name__ == "__main__":
    main()
