#!/usr/bin/env python3
"""A small IAM policy evaluator for tests/s3/test_iam_policy.sh.

usage: iam_eval.py POLICY.json POLICY_WITH_ROLE.json AUDIT.jsonl OTHER_JOB_AUDIT.jsonl KMS_KEY_ARN
       iam_eval.py --source-key POLICY.json AUDIT.jsonl SOURCE_KEY_ARN
The second form checks a job that reads an SSE-KMS source: every audited request (the
GetObject's kms:Decrypt on the key the answer named included) is allowed, every statement is used,
and the only KMS grant is kms:Decrypt on exactly that key (s3.kms_key_ids).

What it models of AWS's evaluation (enough for the statements `hyperfold iam-policy` writes, and
strict about the rest): only Allow statements (a request no statement allows is denied);
Action and Resource patterns with the wildcards * and ? (actions case-insensitive), and the
policy variables ${*}, ${?} and ${$} that stand for those characters literally; the condition
operator StringLike on s3:prefix (a request without the key fails it). Any other operator, key,
Effect or NotAction/NotResource makes the statement fail to match, so the test cannot pass on
something the evaluator does not understand.
"""
import json
import re
import sys


def glob_re(pattern, ignore_case=False):
    out, i = [], 0
    while i < len(pattern):
        if pattern[i:i + 2] == "${" and pattern[i + 3:i + 4] == "}":
            out.append(re.escape(pattern[i + 2]))
            i += 4
            continue
        c = pattern[i]
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$", re.I if ignore_case else 0)


def as_list(v):
    return v if isinstance(v, list) else [v]


def statement_allows(st, action, resource, context):
    if st.get("Effect") != "Allow" or "NotAction" in st or "NotResource" in st:
        return False
    if not any(glob_re(a, True).match(action) for a in as_list(st["Action"])):
        return False
    if not any(glob_re(r).match(resource) for r in as_list(st["Resource"])):
        return False
    for op, keys in st.get("Condition", {}).items():
        if op != "StringLike":
            return False
        for key, values in keys.items():
            if key != "s3:prefix" or key not in context:
                return False
            if not any(glob_re(v).match(context[key]) for v in as_list(values)):
                return False
    return True


def allowed_by(policy, action, resource, context):
    """The Sids of the statements that allow the request (empty: denied)."""
    return [st["Sid"] for st in policy["Statement"]
            if statement_allows(st, action, resource, context)]


def requests(audit_path):
    """Each audited request as (action, resource, context), the KMS use as a request of its own."""
    for line in open(audit_path):
        rec = json.loads(line)
        ctx = {"s3:prefix": rec["prefix"]} if "prefix" in rec else {}
        yield rec["action"], rec["resource"], ctx, rec
        if rec.get("kms_action"):
            yield rec["kms_action"], rec["kms_key_id"], {}, rec


def main_source_key(policy_path, audit, key):
    policy = json.load(open(policy_path))
    sids = [st["Sid"] for st in policy["Statement"]]
    used, n, decrypts = set(), 0, 0
    for action, resource, ctx, rec in requests(audit):
        by = allowed_by(policy, action, resource, ctx)
        assert by, ("denied: an audited request of the job", action, resource, ctx, rec)
        used.update(by)
        n += 1
        decrypts += action == "kms:Decrypt"
    assert decrypts > 0, "the audit log has no kms:Decrypt: the source was not read as SSE-KMS"
    assert used == set(sids), ("statements no audited request used", set(sids) - used)
    kms = [st for st in policy["Statement"] if any(a.startswith("kms:") for a in as_list(st["Action"]))]
    assert len(kms) == 1 and as_list(kms[0]["Resource"]) == [key], kms
    assert as_list(kms[0]["Action"]) == ["kms:Decrypt"], kms
    for action, resource in [("kms:Decrypt", key.rsplit("/", 1)[0] + "/another-key"),
                             ("kms:GenerateDataKey", key), ("kms:Encrypt", key)]:
        by = allowed_by(policy, action, resource, {})
        assert not by, ("allowed, but the job never did it", action, resource, by)
    print("iam_eval: %d audited requests of the SSE-KMS source read allowed by %s"
          % (n, sorted(used)))


def main():
    if sys.argv[1] == "--source-key":
        return main_source_key(*sys.argv[2:5])
    policy = json.load(open(sys.argv[1]))
    with_role = json.load(open(sys.argv[2]))
    audit, other_audit, key = sys.argv[3], sys.argv[4], sys.argv[5]
    assert policy["Version"] == "2012-10-17", policy
    sids = [st["Sid"] for st in policy["Statement"]]
    assert len(set(sids)) == len(sids), sids

    # Nothing granted wholesale.
    for st in policy["Statement"]:
        assert "Principal" not in st, st
        for a in as_list(st["Action"]):
            assert "*" not in a, ("wildcard action", st)
        for r in as_list(st["Resource"]):
            assert r != "*" and not r.endswith(":::*") and r.count("*") <= 1, ("broad resource", st)

    # Every audited request of the job is allowed; record which statements served.
    used, n = set(), 0
    for action, resource, ctx, rec in requests(audit):
        by = allowed_by(policy, action, resource, ctx)
        assert by, ("denied: an audited request of the job", action, resource, ctx, rec)
        used.update(by)
        n += 1
    assert n > 0
    unused = set(sids) - used
    assert unused == {"AbortFailedUploads"}, ("statements no audited request used", unused)
    abort = [st for st in policy["Statement"] if st["Sid"] == "AbortFailedUploads"][0]
    assert as_list(abort["Action"]) == ["s3:AbortMultipartUpload"], abort

    # The KMS key: exactly the job's key ARN.
    kms = [st for st in policy["Statement"] if any(a.startswith("kms:") for a in as_list(st["Action"]))]
    assert len(kms) == 1 and as_list(kms[0]["Resource"]) == [key], kms
    assert sorted(as_list(kms[0]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"], kms

    # Requests the job did not make are denied.
    puts = [rec for _, _, _, rec in requests(audit) if rec["action"] == "s3:PutObject"]
    own = puts[0]["key"]
    other_job_puts = [(a, r, c) for a, r, c, rec in requests(other_audit) if a == "s3:PutObject"]
    assert other_job_puts, "the other job uploaded nothing"
    denied = [
        ("s3:PutObject", "arn:aws:s3:::bkt/out/other-prefix/e2e/x/model.h5", {}),
        ("s3:PutObject", "arn:aws:s3:::bkt/in/parts/p-0.csv", {}),
        ("s3:PutObject", "arn:aws:s3:::other/" + own, {}),
        ("s3:GetObject", "arn:aws:s3:::other/in/parts/p-0.csv", {}),
        ("s3:GetObject", "arn:aws:s3:::bkt/in/partsecret.csv", {}),
        ("s3:GetObject", "arn:aws:s3:::bkt/" + own, {}),
        ("s3:ListBucket", "arn:aws:s3:::bkt", {"s3:prefix": ""}),
        ("s3:ListBucket", "arn:aws:s3:::bkt", {"s3:prefix": "in/"}),
        ("s3:ListBucket", "arn:aws:s3:::bkt", {}),
        ("s3:ListBucket", "arn:aws:s3:::other", {"s3:prefix": "in/parts/"}),
        ("s3:DeleteObject", "arn:aws:s3:::bkt/" + own, {}),
        ("s3:GetObjectAcl", "arn:aws:s3:::bkt/in/parts/p-0.csv", {}),
        ("kms:Decrypt", key.rsplit("/", 1)[0] + "/another-key", {}),
        ("kms:Encrypt", key, {}),
    ] + other_job_puts
    for action, resource, ctx in denied:
        by = allowed_by(policy, action, resource, ctx)
        assert not by, ("allowed, but the job never did it", action, resource, ctx, by)

    # --role: the same statements, each with the role as principal.
    assert len(with_role["Statement"]) == len(policy["Statement"]), with_role
    for a, b in zip(policy["Statement"], with_role["Statement"]):
        p = b.pop("Principal")
        assert p == {"AWS": "arn:aws:iam::111122223333:role/Trainer"}, p
        assert a == b, (a, b)
    print("iam_eval: %d audited requests allowed by %s; %d requests not made denied"
          % (n, sorted(used), len(denied)))


if __name__ == "__main__":
    main()
