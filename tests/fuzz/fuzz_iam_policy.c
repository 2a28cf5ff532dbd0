/* fuzz_iam_policy.c - `hyperfold iam-policy` on any spec that parses: hf_spec_parse, then
 * hf_iam_policy_build (coordinator/iam_policy.c) without and with a role, and the document's
 * text.
 *
 * Input: the bytes of a job.yaml (the spec harness's corpus and dictionary fit). Invariants
 * checked besides memory safety and UB:
 *  - the hf.h error convention;
 *  - Version 2012-10-17; every statement an Allow with a unique Sid, a non-empty list of known
 *    actions (s3:GetObject, s3:ListBucket, s3:PutObject, s3:AbortMultipartUpload,
 *    kms:GenerateDataKey, kms:Decrypt) and one resource that is an ARN;
 *  - nothing wholesale: an S3 resource names a bucket, and a '*' that IAM reads as a wildcard
 *    (not the ${*} literal a key's own '*' becomes) is only its last character;
 * *  - the role form (same account) is the same statements, each with the principal. */
#include "fuzz_util.h"

#include "common/hf.h"
#include "coordinator/iam_policy.h"
#include "jobs/spec.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

static int known_action(const char *a)
{
    static const char *const k[] = {"s3:GetObject",        "s3:ListBucket",
                                    "s3:PutObject",        "s3:AbortMultipartUpload",
                                    "kms:GenerateDataKey", "kms:Decrypt"};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strcmp(a, k[i]) == 0)
            return 1;
    return 0;
}

/* The resource without its ${*}, ${?} and ${$} literals: where IAM's wildcards may remain. */
static void check_resource(const char *r)
{
    hf_fuzz_check(strncmp(r, "arn:aws:s3:::", 13) == 0 ||
                      (strncmp(r, "arn:aws", 7) == 0 && strstr(r, ":kms:") != NULL),
                  "resource %s is not an S3 or KMS ARN", r);
    char *w = strdup(r), *o = w;
    hf_fuzz_check(w != NULL, "out of memory");
    for (const char *p = r; *p;) {
        if (p[0] == '$' && p[1] == '{' && p[2] && p[3] == '}') {
            *o++ = 'L';
            p += 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    const char *star = strchr(w, '*');
    hf_fuzz_check(!star || star[1] == '\0', "resource %s has a wildcard before its end", r);
    hf_fuzz_check(!strchr(w, '?'), "resource %s has a ? wildcard", r);
    if (strncmp(w, "arn:aws:s3:::", 13) == 0)
        hf_fuzz_check(w[13] != '\0' && w[13] != '*' && w[13] != '/', "resource %s names no bucket",
                      r);
    free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_spec *s = NULL;
    int rc = hf_spec_parse("job.yaml", (const char *)data, size, &s);
    hf_fuzz_check_status(rc, "hf_spec_parse");
    if (rc < 0)
        return 0;
    json_t *doc = NULL, *with_role = NULL;
    rc = hf_iam_policy_build(s, NULL, "111122223333", "us-east-1", &doc);
    /* Only what the run would refuse too is refused: a key or region KMS would not accept
     * (output.kms_key_id, data.etl.kms_key_id, an entry of s3.kms_key_ids), an s3:// source,
     * data.etl source or destination, or upload without a bucket; the message names the key. */
    const char *msg = hf_error_message();
    hf_fuzz_check(rc >= 0 ||
                      (rc == HF_EINVAL && (strstr(msg, "kms_key_id") || strstr(msg, "s3.region") ||
                                           strstr(msg, "data.source") || strstr(msg, "data.etl") ||
                                           strstr(msg, "output.upload"))),
                  "iam-policy failed on a valid spec: %s", msg);
    hf_fuzz_check_status(rc, "hf_iam_policy_build");
    if (rc < 0) {
        hf_spec_free(s);
        return 0;
    }
    rc = hf_iam_policy_build(s, "Role_1", "111122223333", "us-east-1", &with_role);
    hf_fuzz_check(rc >= 0, "iam-policy --role failed where the plain form did not");
    hf_fuzz_check(strcmp(json_string_value(json_object_get(doc, "Version")), "2012-10-17") == 0,
                  "wrong Version");
    json_t *sts = json_object_get(doc, "Statement"),
           *rsts = json_object_get(with_role, "Statement");
    hf_fuzz_check(json_is_array(sts) && json_array_size(sts) == json_array_size(rsts),
                  "the role form has other statements");
    for (size_t i = 0; i < json_array_size(sts); i++) {
        json_t *st = json_array_get(sts, i);
        const char *sid = json_string_value(json_object_get(st, "Sid"));
        hf_fuzz_check(sid && strcmp(json_string_value(json_object_get(st, "Effect")), "Allow") == 0,
                      "statement %zu: no Sid or not Allow", i);
        for (size_t j = 0; j < i; j++)
            hf_fuzz_check(
                strcmp(sid, json_string_value(json_object_get(json_array_get(sts, j), "Sid"))) != 0,
                "Sid %s twice", sid);
        json_t *acts = json_object_get(st, "Action");
        hf_fuzz_check(json_is_array(acts) && json_array_size(acts) > 0, "statement %s: no actions",
                      sid);
        for (size_t j = 0; j < json_array_size(acts); j++)
            hf_fuzz_check(known_action(json_string_value(json_array_get(acts, j))),
                          "statement %s: unknown action", sid);
        const char *res = json_string_value(json_object_get(st, "Resource"));
        hf_fuzz_check(res != NULL, "statement %s: no resource", sid);
        check_resource(res);
        json_t *rst = json_deep_copy(json_array_get(rsts, i));
        json_t *pr = json_object_get(rst, "Principal");
        hf_fuzz_check(pr && strcmp(json_string_value(json_object_get(pr, "AWS")),
                                   "arn:aws:iam::111122223333:role/Role_1") == 0,
                      "statement %s: no principal in the role form", sid);
        json_object_del(rst, "Principal");
        hf_fuzz_check(json_equal(rst, st), "statement %s differs in the role form", sid);
        json_decref(rst);
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    hf_fuzz_check(text != NULL, "the policy cannot be written");
    free(text);
    json_decref(doc);
    json_decref(with_role);
    hf_spec_free(s);
    return 0;
}
