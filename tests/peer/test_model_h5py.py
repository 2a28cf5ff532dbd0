#!/usr/bin/python3
"""model.h5 is readable with h5py and numpy alone: the documented layout reproduces hyperfold's
predictions (regression and classification, with standard scaling)."""
import json
import os
import sys

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("model_h5py")
work = hftest.tempdir("h5py-")
data = os.path.join(hftest.SOURCE_DIR, "examples", "data")


def design(f, df):
    """Applies the preprocessing stored in model.h5 (numeric columns: impute, scale)."""
    feats = [s.decode() for s in f["features"][...]]
    X = df[feats].to_numpy(dtype=float)
    prep = json.loads(f.attrs["preprocess_json"])
    g = f["preprocess"]
    # Numeric columns without missing values: design = (x - center) / scale (docs/model-format.md).
    X = (X - g["prep.center"][...].reshape(-1)) / g["prep.scale"][...].reshape(-1)
    return X, prep


for key, src, target, model, extra in (
        ("reg", "diabetes.csv", "target", "ridge", "alpha: [0.1, 1.0, 10.0]"),
        ("clf", "breast_cancer.csv", "diagnosis", "logistic_regression", "C: [0.1, 1.0]")):
    d = os.path.join(work, key)
    os.makedirs(d)
    hftest.write(os.path.join(d, "job.yaml"), """
name: h5-%s
data: {source: %s/%s, target: %s}
cv: {folds: 3}
preprocess: {scale: standard}
model:
  type: %s
  params:
    %s
output: {dir: out}
""" % (key, data, src, target, model, extra))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], np=2, cwd=d)
    mpath = os.path.join(d, "out", "h5-" + key, "model.h5")
    hftest.hyperfold(["predict", "--model", mpath, "--input", os.path.join(data, src), "--output",
                      os.path.join(d, "pred.csv"), "--quiet"], np=2, cwd=d)
    ours = pd.read_csv(os.path.join(d, "pred.csv"))
    df = pd.read_csv(os.path.join(data, src))
    with h5py.File(mpath, "r") as f:
        # Format 3: strings are fixed-length, which h5py reads as bytes (docs/model-format.md).
        ck.check(f.attrs["format"].decode() == "hyperfold-model", "%s: format attribute" % key)
        ck.check(f.attrs["model_type"].decode() == model, "%s: model_type" % key)
        ck.check(f.attrs["format_version"] == 3 and all(
            h5py.check_string_dtype(f.attrs.get_id(a).dtype).length for a in f.attrs
            if h5py.check_string_dtype(f.attrs.get_id(a).dtype)),
            "%s: format_version 3, every string attribute fixed-length" % key)
        for a in ("spec_sha256", "source_fingerprint", "hyperfold_version", "params_json", "cv_score"):
            ck.check(a in f.attrs, "%s: provenance attribute %s" % (key, a))
        X, prep = design(f, df)
        coef = f["model/coef"][...]
        b = f["model/intercept"][...].reshape(-1)
        z = X @ coef.T + b
        if key == "reg":
            ck.check(np.allclose(z.reshape(-1), ours["prediction"].to_numpy(), rtol=1e-10, atol=1e-8),
                     "reg: numpy predictions equal hyperfold's")
        else:
            classes = [s.decode() for s in f["classes"][...]]
            p1 = 1 / (1 + np.exp(-z.reshape(-1)))
            proba = np.column_stack([1 - p1, p1])
            ck.check(np.allclose(proba, ours[["proba_" + c for c in classes]].to_numpy(), rtol=1e-9, atol=1e-12),
                     "clf: numpy probabilities equal hyperfold's")
            labels = np.array(classes)[proba.argmax(axis=1)]
            ck.check((labels == ours["prediction"].to_numpy()).all(), "clf: labels equal hyperfold's")
ck.done()
