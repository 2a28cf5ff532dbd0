#!/usr/bin/python3
"""Regenerates the example CSV files from the datasets Debian's python3-sklearn ships."""
import os

import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

here = os.path.dirname(os.path.abspath(__file__))

d = load_diabetes(scaled=False)
df = pd.DataFrame(d.data, columns=d.feature_names)
df["target"] = d.target
df.to_csv(os.path.join(here, "diabetes.csv"), index=False)

b = load_breast_cancer()
df = pd.DataFrame(b.data, columns=[c.replace(" ", "_") for c in b.feature_names])
df["diagnosis"] = [b.target_names[t] for t in b.target]
df.to_csv(os.path.join(here, "breast_cancer.csv"), index=False)

w = load_wine()
df = pd.DataFrame(w.data, columns=w.feature_names)
df["cultivar"] = ["class_%d" % t for t in w.target]
df.to_csv(os.path.join(here, "wine.csv"), index=False)
