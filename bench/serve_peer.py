"""The peer of bench/serve.sh: the same model trained in scikit-learn (Ridge(alpha=1.0) on
examples/data/diabetes.csv, as hyperfold's one-trial ridge sweep refits it), served by Flask under
gunicorn with SageMaker's paths: GET /ping, POST /invocations (text/csv rows without a header, in
the features' order) answered as CSV with a `prediction` header and %.17g numbers, as hyperfold
serve answers.

    gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench serve_peer:app
"""
import io
import os

import numpy as np
import pandas as pd
from flask import Flask, Response, request
from sklearn.linear_model import Ridge

DATA = os.environ.get("HF_PEER_DATA") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "examples", "data", "diabetes.csv")
df = pd.read_csv(DATA)
FEATURES = [c for c in df.columns if c != "target"]
model = Ridge(alpha=1.0).fit(df[FEATURES].to_numpy(float), df["target"].to_numpy(float))
app = Flask(__name__)


@app.get("/ping")
def ping():
    return Response("", 200)


@app.post("/invocations")
def invocations():
    if request.mimetype != "text/csv":
        return Response('{"error": "expected text/csv"}', 415, mimetype="application/json")
    try:
        X = np.loadtxt(io.StringIO(request.get_data(as_text=True)), delimiter=",", ndmin=2)
    except ValueError as e:
        return Response('{"error": %r}' % str(e), 400, mimetype="application/json")
    if X.shape[1] != len(FEATURES):
        return Response('{"error": "wrong number of columns"}', 400, mimetype="application/json")
    pred = model.predict(X)
    return Response("prediction\n" + "".join("%.17g\n" % v for v in pred), 200,
                    mimetype="text/csv")
