"""A damaged model.h5: bit flips in every region of two small models (a ridge model's attributes,
coefficients and preprocessing arrays; an xgboost model's booster blob), each either refused with
exactly one line on stderr naming the file and a non-zero exit, or harmless (the same
predictions); none crashes, hangs or silently changes a prediction. Also: format_version values
that are not whole numbers (NaN, 1.0000001) and newer versions are refused with a message that
says so; a format_version 1 file (no checksum) is still read; a format_version 2 file whose
checksum block was removed is refused; a model that cannot be written fails the run with one
line and leaves no temporary file. Format 3 (fixed-length strings): every string is fixed-length;
a file crafted to pass its checksum whose string attribute declares a size that is huge or larger
than the bytes stored, or that holds a variable-length string, is refused in one line with exit 2;
the format 2 fixtures of tests/data/model-v2 (written by the format 2 writer) still predict as
that writer's build did."""
import hashlib
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import hftest  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402

ck = hftest.Checker("model_damage")
work = hftest.tempdir("model-damage-")
data = os.path.join(hftest.SOURCE_DIR, "examples", "data")
PER_REGION = int(os.environ.get("HF_DAMAGE_FLIPS", "6"))  # flipped bytes per region


def make_model(name, csv_lines, target, model):
    """Runs a small sweep in work/name; returns (model path, input csv path)."""
    d = os.path.join(work, name)
    os.makedirs(d)
    src, pick = csv_lines
    with open(os.path.join(data, src)) as f:
        lines = f.read().splitlines()
    rows = [lines[0]] + [l for i, l in enumerate(lines[1:]) if pick(i)]
    hftest.write(os.path.join(d, "in.csv"), "\n".join(rows) + "\n")
    hftest.write(os.path.join(d, "job.yaml"), """name: m
data: {source: in.csv, target: %s}
cv: {folds: 2, seed: 1}
model: %s
output: {dir: out}
""" % (target, model))
    hftest.hyperfold(["run", "job.yaml", "--quiet"], cwd=d)
    return os.path.join(d, "out", "m", "model.h5"), os.path.join(d, "in.csv")


def predict(model, csv):
    """(exit status or "hang", stderr, predictions or None)."""
    out = model + ".pred.csv"
    if os.path.exists(out):
        os.unlink(out)
    try:
        p = hftest.hyperfold(["predict", "--quiet", "--model", model, "--input", csv, "--output",
                              out], check=False, timeout=120)
    except subprocess.TimeoutExpired:
        return "hang", "", None
    text = open(out).read() if p.returncode == 0 and os.path.exists(out) else None
    return p.returncode, p.stderr, text


def regions(path):
    """Byte ranges of the file by what they hold: the checksum block, the superblock, the global
    heap collections (the string attributes' values), every dataset's values, and the rest (object
    headers, B-trees, symbol tables: attribute names, types and shapes, dataset layouts)."""
    with open(path, "rb") as f:
        raw = f.read()
    r = {"checksum block": (0, 512), "superblock": (512, 512 + 96)}
    at = raw.find(b"GCOL")
    while at >= 0:
        size = int.from_bytes(raw[at + 8:at + 16], "little")
        r["global heap @%d (string attributes)" % at] = (at, min(at + size, len(raw)))
        at = raw.find(b"GCOL", at + size)
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.id.get_offset() is not None:
                off = obj.id.get_offset()
                r["dataset /" + name] = (off, off + obj.id.get_storage_size())
        f.visititems(visit)
    taken = sorted(r.values())
    rest, pos = [], 0
    for a, b in taken:
        if a > pos:
            rest.append((pos, a))
        pos = max(pos, b)
    if pos < len(raw):
        rest.append((pos, len(raw)))
    for a, b in rest:
        r["metadata %d-%d" % (a, b)] = (a, b)
    return raw, r


def flip_all(label, model, csv):
    raw, reg = regions(model)
    ck.check(any("/model" in k for k in reg), "%s: the model's arrays or blob found in the file: %s"
             % (label, sorted(reg)))
    rc, err, reference = predict(model, csv)
    if not ck.check(rc == 0 and reference, "%s: the intact model predicts: %s" % (label, err)):
        return
    damaged = os.path.join(work, label + "-damaged.h5")
    for name, (a, b) in sorted(reg.items(), key=lambda kv: kv[1]):
        n = min(PER_REGION, b - a)
        if n <= 0:
            continue
        outcomes = []
        for k in range(n):
            i = a + (b - a) * k // n + (b - a) // (2 * n)  # spread over the region
            bit = (i * 5 + k) % 8
            buf = bytearray(raw)
            buf[i] ^= 1 << bit
            with open(damaged, "wb") as f:
                f.write(buf)
            rc, err, text = predict(damaged, csv)
            lines = err.strip().splitlines()
            where = "%s: %s: byte %d bit %d" % (label, name, i, bit)
            if rc == "hang":
                ck.check(False, "%s: predict hangs" % where)
            elif rc < 0 or rc >= 128 or "Sanitizer" in err or "runtime error" in err:
                ck.check(False, "%s: predict crashes (%d): %s" % (where, rc, err[-500:]))
            elif rc != 0:
                ck.check(len(lines) == 1 and damaged in lines[0],
                         "%s: refused with one line naming the file (exit %d, %d lines): %s"
                         % (where, rc, len(lines), " | ".join(lines[:4])[:400]))
                outcomes.append("refused")
            else:
                ck.check(text == reference, "%s: exit 0 with predictions that differ from the "
                         "intact model's (silent damage)" % where)
                outcomes.append("same" if text == reference else "changed")
        print("%s: %s: %d flips: %s" % (label, name, n, ", ".join(
            "%s %d" % (o, outcomes.count(o)) for o in sorted(set(outcomes)))))


ridge, ridge_csv = make_model("ridge", ("diabetes.csv", lambda i: i < 60), "target", "{type: ridge}")
xgb, xgb_csv = make_model("xgb", ("penguins.csv", lambda i: i % 4 == 0), "species",
                          "{type: xgboost, params: {n_estimators: 3, max_depth: 2, n_jobs: 1}}")
flip_all("ridge", ridge, ridge_csv)
flip_all("xgboost", xgb, xgb_csv)

# format_version: not a whole number, or newer; each file re-stamped so that the checksum holds.
for value, want in ((float("nan"), "nan"), (1.0000001, "1.0000001"), (4.0, "newer")):
    m = os.path.join(work, "version-%r.h5" % value)
    shutil.copy(ridge, m)
    with h5py.File(m, "r+") as f:
        f.attrs["format_version"] = value
    try:
        hftest.stamp_model(m)
    except ValueError as e:
        ck.check(False, "format_version %r: %s" % (value, e))
        continue
    rc, err, text = predict(m, ridge_csv)
    lines = err.strip().splitlines()
    ck.check(rc == 2 and len(lines) == 1 and want in lines[0] and m in lines[0] and
             not (want != "newer" and "newer" in lines[0]),
             "format_version %r: refused in one line saying %r (exit %s): %s" % (
                 value, want, rc, err.strip()))

# format_version 1 (written before the checksum): no user block, still read, same predictions.
rc, err, reference = predict(ridge, ridge_csv)
v1 = os.path.join(work, "v1.h5")
unjam = shutil.which("h5unjam")
if ck.check(unjam is not None, "h5unjam (hdf5-tools) is installed"):
    subprocess.run([unjam, "-i", ridge, "-o", v1], check=True, capture_output=True)
    with h5py.File(v1, "r") as f:
        ck.check(f.userblock_size == 0, "h5unjam removed the user block")
    nock = os.path.join(work, "v3-no-checksum.h5")
    shutil.copy(v1, nock)
    with h5py.File(v1, "r+") as f:
        f.attrs["format_version"] = 1.0
    rc1, err1, text1 = predict(v1, ridge_csv)
    ck.check(rc1 == 0 and text1 == reference,
             "a format_version 1 file without checksum predicts as before (%s): %s" % (rc1, err1))
    rc2, err2, _ = predict(nock, ridge_csv)
    lines = err2.strip().splitlines()
    ck.check(rc2 == 2 and len(lines) == 1 and "checksum" in err2 and nock in err2,
             "a format_version 3 file without its checksum block is refused in one line (%s): %s"
             % (rc2, err2.strip()))

# The checksum is the SHA-256 of every byte after the 512-byte user block, as documented.
with open(ridge, "rb") as f:
    raw = f.read()
ck.check(raw[:512] == (b"hyperfold-model sha256 " + hashlib.sha256(raw[512:]).hexdigest().encode()
                       + b"\n").ljust(512, b"\0"), "the user block holds the documented checksum")
with h5py.File(ridge, "r") as f:
    ck.check(f.attrs["format_version"] == 3 and f.userblock_size == 512,
             "format_version 3, user block of 512 bytes")
    # Format 3: every string attribute and dataset is a fixed-length UTF-8 string.
    kinds = {}
    f.visititems(lambda n, o: kinds.update({"/%s" % n: o.dtype}) if isinstance(o, h5py.Dataset)
                 and o.dtype.kind in "SOU" else None)
    for n, v in f.attrs.items():
        kinds[n] = f.attrs.get_id(n).dtype
    strings = {n: t for n, t in kinds.items() if t.kind in "SOU"}
    ck.check(len(strings) >= 10 and all(t.kind == "S" for t in strings.values()),
             "every string of a format 3 model is fixed-length: %s" % strings)


# Format 2 (variable-length strings, written by the writer before format 3: tests/data/model-v2)
# is still read, and predicts as that writer's build did.
fixtures = os.path.join(hftest.SOURCE_DIR, "tests", "data", "model-v2")
for label, csv in (("ridge", ridge_csv), ("xgboost", xgb_csv)):
    v2 = os.path.join(work, "v2-" + label + ".h5")  # a copy: predict writes beside the model
    shutil.copyfile(os.path.join(fixtures, label + ".h5"), v2)
    with h5py.File(v2, "r") as f:
        ck.check(f.attrs["format_version"] == 2 and h5py.check_string_dtype(
            f.attrs.get_id("metric").dtype).length is None,
            "%s fixture: format_version 2 with variable-length strings" % label)
    rc, err, text = predict(v2, csv)
    want = open(os.path.join(fixtures, label + ".pred.csv")).read()
    same = rc == 0 and text is not None and len(text.splitlines()) == len(want.splitlines())
    for a, b in zip((text or "").splitlines()[1:] if same else [], want.splitlines()[1:]):
        for x, y in zip(a.split(","), b.split(",")):
            try:
                same = same and hftest.rel_close(float(x), float(y), 1e-9, 1e-12)
            except ValueError:
                same = same and x == y
    ck.check(same and text.splitlines()[0] == want.splitlines()[0],
             "%s: a format_version 2 model predicts as its writer's build did (exit %s): %s"
             % (label, rc, err.strip()))


def string_size_at(raw, name, value):
    """The offset of the 4-byte size of attribute `name`'s fixed-length string type (an attribute
    message of version 1: the name NUL-padded to 8 bytes, then the datatype, whose first byte is
    its class 3, string), found by its name and its current size (len(value))."""
    at = raw.find(name.encode() + b"\0")
    while at >= 0:
        for dt in (at + (len(name) + 8) // 8 * 8, at + len(name) + 1):
            if (raw[dt] & 0x0f == 3 and
                    int.from_bytes(raw[dt + 4:dt + 8], "little") == len(value.encode())):
                return dt + 4
        at = raw.find(name.encode() + b"\0", at + 1)
    return -1


def crafted(label, model, csv, name, value, size, reference=None):
    """A copy of model whose string attribute `name` declares `size` bytes, stamped with a valid
    checksum: one line naming the file and exit 2, never a crash (or, given the intact model's
    predictions as reference, those same predictions: a size that reaches only into padding)."""
    with open(model, "rb") as f:
        raw = bytearray(f.read())
    at = string_size_at(raw, name, value)
    if not ck.check(at > 0, "%s: the string type of attribute %s found" % (label, name)):
        return
    raw[at:at + 4] = size.to_bytes(4, "little")
    path = os.path.join(work, "%s-%s-%d.h5" % (label, name, size))
    with open(path, "wb") as f:
        f.write(raw)
    hftest.stamp_model(path)
    rc, err, text = predict(path, csv)
    lines = err.strip().splitlines()
    print("%s: %s declaring %d bytes: exit %s: %s" % (label, name, size, rc, err.strip()[-300:]))
    if reference is not None and rc == 0:
        # Within the NUL bytes that pad the attribute message to 8 bytes: the same string.
        ck.check(text == reference, "%s: attribute %s declaring %d bytes (%d stored): exit 0 "
                 "with other predictions" % (label, name, size, len(value.encode())))
        return
    ck.check(rc == 2 and len(lines) == 1 and path in lines[0] and "Sanitizer" not in err,
             "%s: attribute %s declaring %d bytes (%d stored), checksum valid: one line, exit 2 "
             "(exit %s, %d lines): %s" % (label, name, size, len(value.encode()), rc, len(lines),
                                          err.strip()[-600:]))


with h5py.File(ridge, "r") as f:
    ridge_attrs = {n: f.attrs[n].decode() for n in ("format", "metric", "schema_json")}
with h5py.File(xgb, "r") as f:
    booster_format = f["model_blobs/booster"].attrs["format"].decode()
ridge_reference = predict(ridge, ridge_csv)[2]
for name, value in sorted(ridge_attrs.items()):
    n = len(value.encode())
    for size in (0xFFFFFFFF, 0x7FFFFFF8, 1 << 20, n + 4096, n + 64):
        crafted("ridge", ridge, ridge_csv, name, value, size)
    crafted("ridge", ridge, ridge_csv, name, value, n + 1, ridge_reference)
for size in (0xFFFFFFFF, 1 << 20, len(booster_format) + 64):
    crafted("xgboost", xgb, xgb_csv, "format", booster_format, size)
# (string_size_at tells the booster's "format" from the root's by its size: 4 bytes, not 15)

# A variable-length string in a format 3 file is refused (h5py writes a str as one).
vlen = os.path.join(work, "v3-vlen.h5")
shutil.copy(ridge, vlen)
with h5py.File(vlen, "r+") as f:
    f.attrs["metric"] = ridge_attrs["metric"]
    ck.check(h5py.check_string_dtype(f.attrs.get_id("metric").dtype).length is None,
             "h5py wrote a variable-length string")
hftest.stamp_model(vlen)
rc, err, _ = predict(vlen, ridge_csv)
lines = err.strip().splitlines()
ck.check(rc == 2 and len(lines) == 1 and "variable-length" in lines[0] and "metric" in lines[0],
         "a variable-length string in a format 3 file: one line, exit 2 (%s): %s"
         % (rc, err.strip()))

# Format 3 string attributes that libhdf5 reads without complaint but are not one string: a NUL
# inside the value, two values, a number. Each written by h5py into a copy, the checksum restamped.
for label, name, value, want in (
        ("nul", "metric", np.bytes_(b"r\x00x"), "NUL byte"),
        ("array", "metric", np.array([b"r2", b"r2"]), "not one string"),
        ("number", "model_type", np.float64(1.0), "not one string")):
    m = os.path.join(work, "v3-%s.h5" % label)
    shutil.copy(ridge, m)
    with h5py.File(m, "r+") as f:
        del f.attrs[name]
        f.attrs[name] = value
    hftest.stamp_model(m)
    rc, err, _ = predict(m, ridge_csv)
    lines = err.strip().splitlines()
    ck.check(rc == 2 and len(lines) == 1 and want in lines[0] and name in lines[0] and
             m in lines[0], "format 3, attribute %s holding %r: one line saying %r, exit 2 (%s): %s"
             % (name, value, want, rc, err.strip()))

# A model that cannot be written: one line, a non-zero exit, no temporary file left.
d = os.path.dirname(os.path.dirname(os.path.dirname(ridge)))
os.makedirs(os.path.join(d, "out", "w", "model.h5", "x"))
hftest.write(os.path.join(d, "job-w.yaml"), open(os.path.join(d, "job.yaml")).read().replace(
    "name: m", "name: w"))
p = hftest.hyperfold(["run", "job-w.yaml", "--quiet"], cwd=d, check=False)
lines = p.stderr.strip().splitlines()
ck.check(p.returncode != 0 and len(lines) == 1 and "model.h5" in lines[0],
         "model.h5 not writable: one line, exit %d: %s" % (p.returncode, p.stderr.strip()))
left = [n for n in os.listdir(os.path.join(d, "out", "w")) if ".tmp" in n]
ck.check(not left, "no temporary model file left: %s" % left)
ck.done()
