#!/usr/bin/python3
"""`hyperfold keys` lists every key the job-spec parser accepts, from the modules' own tables, and
docs/job-spec.md documents every one of them: a key of section S appears as `leaf` in the
section "## `S`", a model parameter as a row "| `param` | values | default | meaning |" of its
model's section "## model" in docs/models.md (with the registry's default), a preprocessing setting as `setting` in the preprocess section. Adding a setting to a module's table
without documenting it fails here; so does a key the docs name that the parser refuses (checked
for the tables' rows: every `leaf` in a first column of a section's table is a real key)."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402

ck = hftest.Checker("keys")
p = hftest.hyperfold(["keys"])
keys = [l.split(" ")[0] for l in p.stdout.splitlines() if l and not l.startswith(" ")]
ck.check(len(keys) > 50, "keys lists %d keys" % len(keys))
for k in ("data.source", "cv.folds", "objective.metric", "parallel.grid", "slurm.time",
          "preprocess.log1p", "model.params.alpha", "model.type"):
    ck.check(k in keys, "%s is listed" % k)
ck.check("balanced_accuracy" in p.stdout, "the metric choices come from the metric table")
models = re.findall(r"^model\.params\.(\S+) \((\S+)\)\n.*\n    default: (.*)$", p.stdout, re.M)
ck.check(("kernel", "kernel_ridge", "rbf") in models, "model parameters are listed with their model")

doc = open(os.path.join(os.environ["HF_SOURCE_DIR"], "docs", "job-spec.md")).read()
parts = re.split(r"^## `([a-z0-9_]+)`", doc, flags=re.M)
section = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
for key in keys:
    sec, leaf = key.split(".", 1)
    if sec == "model" and leaf.startswith("params."):
        continue
    text = section.get(sec)
    if not ck.check(text is not None, "docs/job-spec.md has a section ## `%s` (for %s)" % (sec, key)):
        continue
    ck.check("`%s`" % leaf in text, "docs/job-spec.md's %s section documents `%s`" % (sec, leaf))
mdoc = open(os.path.join(os.environ["HF_SOURCE_DIR"], "docs", "models.md")).read()
mparts = re.split(r"^## ([a-z0-9_]+)$", mdoc, flags=re.M)
msection = {mparts[i]: mparts[i + 1] for i in range(1, len(mparts) - 1, 2)}
for name, model, default in models:
    text = msection.get(model, "")
    row = re.search(r"^\| `%s` \| [^|]* \| ([^|]*) \|" % re.escape(name), text, re.M)
    if ck.check(row is not None, "docs/models.md's %s section has a row for `%s`" % (model, name)):
        ck.check(row.group(1).strip() == default.strip(), "docs/models.md gives %s's `%s` the "
                 "default %r, the registry %r" % (model, name, row.group(1).strip(), default))
for model in set(m for _, m, _ in models):
    ck.check(re.search(r"^\| `%s` \|" % re.escape(model), mdoc, re.M) is not None,
             "docs/models.md's summary table has %s" % model)
# The other way: every key in the first column of a section's key table ("| key | ...") exists.
for sec, text in section.items():
    for table in re.findall(r"^\| key \|.*\n\|[-| ]+\|\n((?:\|.*\n)+)", text, re.M):
        for leaf in re.findall(r"^\| `([a-z0-9_.]+)`", table, re.M):
            full = "%s.%s" % (sec, leaf)
            if full == "model.params":
                continue  # the model table below lists them
            ck.check(full in keys or full + " (required)" in [k + " (required)" for k in keys],
                     "docs' %s is a key the parser accepts" % full)
ck.done()
