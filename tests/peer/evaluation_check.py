"""Recomputes hyperfold's evaluation object (docs/evaluation.md) with scikit-learn 1.2.1 and
numpy from the same predictions, and compares every number (1e-12 relative, curves point by
point). Shared by test_evaluation_peer.py and the evaluate test."""
import warnings

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             classification_report, confusion_matrix, f1_score, log_loss,
                             mean_absolute_error, mean_squared_error, precision_recall_curve,
                             r2_score, roc_auc_score, roc_curve, auc)

RTOL = 1e-12
MAX_CURVE = 1000
MAX_SCATTER = 2000


def close(a, b, rtol=RTOL, atol=1e-15):
    if a is None or b is None:
        return a is None and (b is None or not np.isfinite(b))
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def thin(v):
    v = list(v)
    n = len(v)
    if n <= MAX_CURVE:
        return v
    return [v[j * (n - 1) // (MAX_CURVE - 1)] for j in range(MAX_CURVE)]


def same_curve(ck, got, want, what):
    want = thin(want)
    if not ck.check(len(got) == len(want), "%s: %d points, sklearn %d" % (what, len(got), len(want))):
        return
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if not close(a, float(b))]
    ck.check(not bad, "%s: %d points differ, first at %s: %r vs sklearn %r" % (
        what, len(bad), bad[:1], got[bad[0]] if bad else None, want[bad[0]] if bad else None))


def check(ck, ev, y, P, classes, label):
    """ev: the evaluation object; y: targets (class indices for classifiers); P: n x k
    probabilities (classifier) or n predictions (regressor); classes: labels or None."""
    warnings.simplefilter("ignore")
    y = np.asarray(y)
    n = len(y)
    ck.check(ev["n_rows"] == n, "%s: n_rows %r, expected %d" % (label, ev["n_rows"], n))
    m = ev["metrics"]
    if classes is None:
        pred = np.asarray(P, dtype=float)
        ck.check(ev["task"] == "regression", "%s: task" % label)
        want = {"r2": r2_score(y, pred), "rmse": np.sqrt(mean_squared_error(y, pred)),
                "mae": mean_absolute_error(y, pred)}
        for k, v in want.items():
            ck.check(close(m[k], v), "%s: metric %s %r vs sklearn %r" % (label, k, m[k], v))
        res = y - pred
        r = ev["residuals"]
        ck.check(close(r["mean"], np.mean(res)), "%s: residual mean" % label)
        ck.check(close(r["std"], np.std(res)), "%s: residual std %r vs %r" % (label, r["std"], np.std(res)))
        for q, v in r["quantiles"].items():
            ck.check(close(v, np.quantile(res, float(q))), "%s: residual quantile %s" % (label, q))
        ck.check(sorted(r["quantiles"]) == sorted(["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"]),
                 "%s: residual quantiles' keys" % label)
        for q, v in ev["abs_error_quantiles"].items():
            ck.check(close(v, np.quantile(np.abs(res), float(q))), "%s: abs error quantile %s" % (label, q))
        idx = list(range(n)) if n <= MAX_SCATTER else [j * n // MAX_SCATTER for j in range(MAX_SCATTER)]
        ck.check(ev["scatter"]["actual"] == [float(y[i]) for i in idx] and
                 ev["scatter"]["predicted"] == [float(pred[i]) for i in idx], "%s: scatter" % label)
        return
    P = np.asarray(P, dtype=float)
    k = len(classes)
    labels = list(range(k))
    yp = np.argmax(P, axis=1)
    ck.check(ev["task"] == "classification" and ev["classes"] == list(classes), "%s: classes" % label)
    want = {"accuracy": accuracy_score(y, yp), "balanced_accuracy": balanced_accuracy_score(y, yp),
            "log_loss": log_loss(y, P, labels=labels)}
    if k == 2:
        want["roc_auc"] = roc_auc_score(y, P[:, 1])
        want["f1"] = f1_score(y, yp, pos_label=1)
    else:
        want["f1"] = f1_score(y, yp, average="macro", labels=labels)
        present = len(np.unique(y)) == k
        want["roc_auc"] = roc_auc_score(y, P, multi_class="ovr", labels=labels) if present else None
    for name, v in want.items():
        ck.check(close(m[name], v) if v is not None else m[name] is None,
                 "%s: metric %s %r vs sklearn %r" % (label, name, m[name], v))
    cm = confusion_matrix(y, yp, labels=labels)
    ck.check(ev["confusion_matrix"] == cm.tolist(), "%s: confusion matrix %r vs %r" % (
        label, ev["confusion_matrix"], cm.tolist()))
    rep = classification_report(y, yp, labels=labels, output_dict=True, zero_division=0)
    for c in range(k):
        got, w = ev["per_class"][c], rep[str(c)]
        ck.check(got["class"] == classes[c] and got["support"] == w["support"],
                 "%s: class %s support" % (label, classes[c]))
        for key, wk in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            ck.check(close(got[key], w[wk]), "%s: class %s %s %r vs sklearn %r" % (
                label, classes[c], key, got[key], w[wk]))
    for ours, theirs in (("macro_avg", "macro avg"), ("weighted_avg", "weighted avg")):
        for key, wk in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"),
                        ("support", "support")):
            ck.check(close(ev[ours][key], rep[theirs][wk]), "%s: %s %s %r vs sklearn %r" % (
                label, ours, key, ev[ours][key], rep[theirs][wk]))
    ck.check(close(ev["accuracy"], accuracy_score(y, yp)), "%s: accuracy" % label)
    cols = [1] if k == 2 else list(range(k))
    ck.check(len(ev["roc"]) == len(cols) and len(ev["pr"]) == len(cols) and
             len(ev["calibration"]) == len(cols), "%s: one curve per class" % label)
    for e_roc, e_pr, e_cal, c in zip(ev["roc"], ev["pr"], ev["calibration"], cols):
        what = "%s class %s" % (label, classes[c])
        t = (y == c).astype(int)
        s = P[:, c]
        fpr, tpr, thr = roc_curve(t, s, drop_intermediate=True)
        ck.check(e_roc["class"] == classes[c] and e_roc["n_points"] == len(fpr), "%s: roc size" % what)
        same_curve(ck, e_roc["fpr"], fpr, what + " fpr")
        same_curve(ck, e_roc["tpr"], tpr, what + " tpr")
        same_curve(ck, e_roc["thresholds"], thr, what + " roc thresholds")
        if t.sum() > 0 and t.sum() < n:
            a = roc_auc_score(t, s)
            ck.check(close(e_roc["auc"], a) and close(e_roc["auc"], auc(fpr, tpr)),
                     "%s: auc %r vs sklearn %r" % (what, e_roc["auc"], a))
        else:
            ck.check(e_roc["auc"] is None, "%s: auc of an absent class is null" % what)
        prec, rec, pthr = precision_recall_curve(t, s)
        ck.check(e_pr["n_points"] == len(prec), "%s: pr size" % what)
        same_curve(ck, e_pr["precision"], prec, what + " precision")
        same_curve(ck, e_pr["recall"], rec, what + " recall")
        want_thr = thin(list(pthr) + [None])[:-1] if len(prec) > MAX_CURVE else list(pthr)
        ck.check(len(e_pr["thresholds"]) == len(want_thr) and
                 all(close(a, float(b)) for a, b in zip(e_pr["thresholds"], want_thr)),
                 "%s: pr thresholds" % what)
        ap = average_precision_score(t, s)
        ck.check(close(e_pr["average_precision"], ap), "%s: average precision %r vs sklearn %r" % (
            what, e_pr["average_precision"], ap))
        pt, pp = calibration_curve(t, s, n_bins=10, strategy="uniform")
        binids = np.searchsorted(np.linspace(0.0, 1.0, 11)[1:-1], s)
        counts = np.bincount(binids, minlength=10)
        same_curve(ck, e_cal["prob_true"], pt, what + " calibration prob_true")
        same_curve(ck, e_cal["prob_pred"], pp, what + " calibration prob_pred")
        ck.check(e_cal["count"] == [int(c) for c in counts if c > 0], "%s: calibration counts" % what)
