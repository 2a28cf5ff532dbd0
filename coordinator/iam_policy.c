/* iam_policy.c - `hyperfold iam-policy JOB.yaml [--role NAME] [--account ID]`: the IAM policy
 * document a job needs, and no more (docs/security.md, "Least privilege").
 *
 * The document is built from small functions, one per kind of access the job makes, each adding
 * one statement: add_read (s3:GetObject on an object, or on every object under a prefix),
 * add_list (s3:ListBucket on the bucket, limited to the listed prefix by a StringLike condition
 * on s3:prefix), add_write (s3:PutObject, and s3:AbortMultipartUpload, which the client calls only
 * when a multipart upload fails, on the job's upload prefix <upload>/<name>/ and below) and add_kms
 * (the KMS actions on a key: a write key's, and kms:Decrypt on each s3.kms_key_ids entry, the
 * keys the S3 sources are encrypted with). build_policy maps the spec onto them; a new data step
 * (data.etl) is a few more calls there. The actions come from the audit log's table
 * (hf_audit_s3_action), so the policy and the log name the same actions. Not MPI. */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/iam_policy.h"

#include "common/hf.h"
#include "jobs/rundir.h"
#include "jobs/spec.h"
#include "shards/audit.h"
#include "shards/s3.h"
#include "shards/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* The document being built: its statements and the principal each carries (--role). */
typedef struct policy {
    json_t *statements;
    const char *principal; /* arn:aws:iam::ACCOUNT:role/NAME, or NULL (an identity policy) */
    const char *account;   /* --account, or the placeholder ACCOUNT_ID */
    const char *region;    /* for KMS key ARNs made from a key id or alias */
    char key_where[600];   /* "job.yaml:7:15: output.kms_key_id": where the key was given */
} policy;

/* `s` with the characters IAM reads as wildcards or variables written as the policy variables
 * that stand for them literally (${*}, ${?}, ${$}), so an object key matches only itself. */
static char *iam_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += (*p == '*' || *p == '?' || *p == '$') ? 4 : 1;
    char *out = hf_malloc(n + 1), *w = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        if (*p == '*' || *p == '?' || *p == '$') {
            *w++ = '$';
            *w++ = '{';
            *w++ = *p;
            *w++ = '}';
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

/* Appends one statement (Allow); takes ownership of actions, resource and condition (may be
 * NULL). */
static int add_statement(policy *p, const char *sid, json_t *actions, json_t *resource,
                         json_t *condition)
{
    json_t *st = json_object();
    if (!st || !actions || !resource) {
        json_decref(st);
        json_decref(actions);
        json_decref(resource);
        json_decref(condition);
        return hf_error(HF_ENOMEM, "iam-policy: out of memory");
    }
    json_object_set_new(st, "Sid", json_string(sid));
    json_object_set_new(st, "Effect", json_string("Allow"));
    if (p->principal)
        json_object_set_new(st, "Principal", json_pack("{s:s}", "AWS", p->principal));
    json_object_set_new(st, "Action", actions);
    json_object_set_new(st, "Resource", resource);
    if (condition)
        json_object_set_new(st, "Condition", condition);
    json_array_append_new(p->statements, st);
    return HF_OK;
}

/* Splits an s3:// URI into its bucket and its key, both escaped for IAM (new strings). */
static int split_escaped(const char *uri, char **ebucket, char **ekey)
{
    char *bucket = NULL, *key = NULL;
    *ebucket = *ekey = NULL;
    HF_CALL(hf_s3_parse_uri(uri, &bucket, &key));
    *ebucket = iam_escape(bucket);
    *ekey = iam_escape(key);
    free(bucket);
    free(key);
    if (!*ebucket || !*ekey) {
        free(*ebucket);
        free(*ekey);
        *ebucket = *ekey = NULL;
        return hf_error(HF_ENOMEM, "iam-policy: out of memory");
    }
    return HF_OK;
}

/* Reading `uri`: s3:GetObject (HeadObject and GetObject both need it) on exactly the object, or
 * on every object under a prefix ("s3://b/dir/": arn:aws:s3:::b/dir/ and a star). http(s) and local
 * sources need no AWS permission. */
static int add_read(policy *p, const char *sid, const char *uri)
{
    if (strncmp(uri, "s3://", 5) != 0)
        return HF_OK;
    char *bucket = NULL, *ekey = NULL;
    HF_CALL(split_escaped(uri, &bucket, &ekey));
    int prefix = hf_source_is_prefix(uri);
    char *arn = hf_asprintf("arn:aws:s3:::%s/%s%s", bucket, ekey, prefix ? "*" : "");
    int result = arn ? add_statement(p, sid, json_pack("[s]", hf_audit_s3_action("GetObject")),
                                     json_string(arn), NULL)
                     : HF_ENOMEM;
    free(arn);
    free(bucket);
    free(ekey);
    return result;
}

/* Listing the prefix `prefix_uri` (ListObjectsV2, every page with the same prefix): s3:ListBucket
 * on the bucket, only for that prefix (StringLike on s3:prefix). */
static int add_list(policy *p, const char *sid, const char *prefix_uri)
{
    if (strncmp(prefix_uri, "s3://", 5) != 0)
        return HF_OK;
    char *bucket = NULL, *ekey = NULL;
    HF_CALL(split_escaped(prefix_uri, &bucket, &ekey));
    char *arn = hf_asprintf("arn:aws:s3:::%s", bucket);
    int result = arn ? add_statement(p, sid, json_pack("[s]", hf_audit_s3_action("ListObjectsV2")),
                                     json_string(arn),
                                     json_pack("{s:{s:[s]}}", "StringLike", "s3:prefix", ekey))
                     : HF_ENOMEM;
    free(arn);
    free(ekey);
    free(bucket);
    return result;
}

/* Writing under `prefix_uri` ("s3://b/out/job/"): s3:PutObject (PutObject and the multipart
 * Create/UploadPart/Complete calls) on every object under it, and, in a statement of its own,
 * s3:AbortMultipartUpload, which the client calls only to clean up a multipart upload that
 * failed (so a successful run's audit log never shows it). */
static int add_write(policy *p, const char *sid, const char *abort_sid, const char *prefix_uri)
{
    char *bucket = NULL, *ekey = NULL;
    HF_CALL(split_escaped(prefix_uri, &bucket, &ekey));
    char *arn = hf_asprintf("arn:aws:s3:::%s/%s*", bucket, ekey);
    int result = arn ? add_statement(p, sid, json_pack("[s]", hf_audit_s3_action("PutObject")),
                                     json_string(arn), NULL)
                     : HF_ENOMEM;
    if (result >= 0)
        result = add_statement(p, abort_sid,
                               json_pack("[s]", hf_audit_s3_action("AbortMultipartUpload")),
                               json_string(arn), NULL);
    free(arn);
    free(bucket);
    free(ekey);
    return result;
}

/* Using KMS key `key` (a key ARN, a key id, "alias/NAME" or an alias ARN): kms:GenerateDataKey
 * and kms:Decrypt to write SSE-KMS objects (AWS needs Decrypt as well for a multipart upload's
 * parts), kms:Decrypt alone to read them (write = 0). A key id becomes its key ARN in the
 * region and account; an alias cannot name a key in IAM, so it grants the account's keys in the
 * region on the condition that the key has that alias (kms:ResourceAliases). */
static int add_kms(policy *p, const char *sid, const char *key, int write)
{
    /* Only what KMS accepts, so that no character of the key or the region becomes an IAM
     * wildcard: key ids, aliases and ARNs are letters, digits and - _ / :, regions a-z 0-9 -, and
     * an ARN is a KMS one (arn:aws:kms:..., or another partition's). */
    size_t kl = strlen(key), rl = strlen(p->region);
    const char *kms_part = strncmp(key, "arn:", 4) == 0 ? strchr(key + 4, ':') : NULL;
    if (kl == 0 ||
        strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/:") != kl ||
        (strncmp(key, "arn:", 4) == 0 &&
         (strncmp(key, "arn:aws", 7) != 0 || !kms_part || strncmp(kms_part, ":kms:", 5) != 0)) ||
        (strncmp(key, "arn:", 4) != 0 && strchr(key, ':')))
        return hf_error(HF_EINVAL,
                        "%s: got \"%s\", expected a KMS key id, alias/NAME, or a key or alias ARN "
                        "(arn:aws:kms:REGION:ACCOUNT:key/ID)",
                        p->key_where, key);
    if (rl == 0 || strspn(p->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != rl)
        return hf_error(HF_EINVAL,
                        "s3.region: got \"%s\", expected a region name such as us-east-1",
                        p->region);
    json_t *actions = write ? json_pack("[s, s]", "kms:GenerateDataKey", "kms:Decrypt")
                            : json_pack("[s]", "kms:Decrypt");
    const char *alias = NULL;
    char *arn = NULL;
    if (strncmp(key, "arn:", 4) == 0) {
        const char *a = strstr(key, ":alias/");
        if (a)
            alias = a + 1;
        else
            arn = hf_strdup(key);
    } else if (strncmp(key, "alias/", 6) == 0) {
        alias = key;
    } else {
        arn = hf_asprintf("arn:aws:kms:%s:%s:key/%s", p->region, p->account, key);
    }
    if (alias)
        arn = hf_asprintf("arn:aws:kms:%s:%s:key/*", p->region, p->account);
    json_t *cond =
        alias ? json_pack("{s:{s:[s]}}", "ForAnyValue:StringEquals", "kms:ResourceAliases", alias)
              : NULL;
    int result = arn ? add_statement(p, sid, actions, json_string(arn), cond)
                     : (json_decref(actions), json_decref(cond), HF_ENOMEM);
    free(arn);
    return result;
}

/* The job's accesses, spec section by section. */
static int build_policy(policy *p, const hf_spec *spec)
{
    const char *src = spec->data.source;
    char at[512];
    if (src && strncmp(src, "s3://", 5) == 0) {
        int result = add_read(p, "ReadSource", src);
        if (result >= 0 && hf_source_is_prefix(src))
            result = add_list(p, "ListSourcePrefix", src);
        if (result < 0) /* ("s3://" without a bucket, which the ingest refuses too) */
            return hf_error_prefix(result, "%s: data.source",
                                   hf_opt_where(&spec->data.src, "data.source", at, sizeof at));
    }
    /* data.etl: its source read (HeadObject, GetObject), and its destination read (the rerun's
     * HEADs, the earlier _manifest.json, the read-back of an upload without a checksum to
     * compare) and written (each member and the manifest). The etl step lists nothing. */
    const hf_etl_opts *etl = &spec->data.etl;
    if (etl->source && etl->dest) {
        int result = add_read(p, "ReadEtlSource", etl->source);
        if (result >= 0 && strncmp(etl->dest, "s3://", 5) == 0) {
            size_t dl = strlen(etl->dest);
            char *dest = hf_asprintf("%s%s", etl->dest, dl && etl->dest[dl - 1] == '/' ? "" : "/");
            result = dest ? add_read(p, "ReadEtlDest", dest) : HF_ENOMEM;
            if (result >= 0)
                result = add_write(p, "WriteEtlDest", "AbortFailedEtlUploads", dest);
            free(dest);
        }
        if (result < 0)
            return hf_error_prefix(result, "%s: data.etl",
                                   hf_opt_where(&spec->data.src, "data.etl", at, sizeof at));
        if (strncmp(etl->dest, "s3://", 5) == 0 && etl->sse == HF_ETL_SSE_KMS && etl->kms_key_id) {
            snprintf(p->key_where, sizeof p->key_where, "%s: data.etl.kms_key_id",
                     hf_opt_where(&etl->src, "data.etl.kms_key_id", at, sizeof at));
            HF_CALL(add_kms(p, "UseEtlKey", etl->kms_key_id, 1));
        }
    }
    /* The keys the S3 sources are encrypted with (s3.kms_key_ids): reading an SSE-KMS object is
     * a kms:Decrypt on its key (the audit log names it from the answer's headers). An SSE-S3 or
     * unencrypted source needs none; the spec cannot tell which, so it names them. */
    int reads_s3 = (src && strncmp(src, "s3://", 5) == 0) ||
                   (etl->source && etl->dest && strncmp(etl->source, "s3://", 5) == 0);
    for (size_t i = 0; reads_s3 && i < spec->s3.n_kms_key_ids; i++) {
        char sid[64];
        snprintf(sid, sizeof sid, "DecryptSourceKey%zu", i + 1);
        snprintf(p->key_where, sizeof p->key_where, "%s: s3.kms_key_ids[%zu]",
                 hf_opt_where(&spec->s3.src, "s3.kms_key_ids", at, sizeof at), i);
        HF_CALL(add_kms(p, sid, spec->s3.kms_key_ids[i], 0));
    }
    if (etl->source && etl->dest && strncmp(etl->dest, "s3://", 5) == 0 &&
        etl->sse == HF_ETL_SSE_KMS && !etl->kms_key_id)
        hf_warn("iam-policy: %s: data.etl.sse is aws:kms without data.etl.kms_key_id: the uploads "
                "use the bucket's default KMS key, which this policy cannot name; set "
                "data.etl.kms_key_id, or grant kms:GenerateDataKey and kms:Decrypt on that key "
                "yourself (AWS's aws/s3 key needs no grant)",
                hf_opt_where(&etl->src, "data.etl.sse", at, sizeof at));
    if (spec->output.upload) {
        char *prefix = hf_output_upload_prefix(&spec->output, spec->name, NULL);
        int result =
            prefix ? add_write(p, "WriteRunOutputs", "AbortFailedUploads", prefix) : HF_ENOMEM;
        free(prefix);
        if (result < 0)
            return hf_error_prefix(result, "%s: output.upload",
                                   hf_opt_where(&spec->output.src, "output.upload", at, sizeof at));
        if (spec->output.sse && strcmp(spec->output.sse, "aws:kms") == 0 &&
            spec->output.kms_key_id) {
            snprintf(p->key_where, sizeof p->key_where, "%s: output.kms_key_id",
                     hf_opt_where(&spec->output.src, "output.kms_key_id", at, sizeof at));
            HF_CALL(add_kms(p, "UseOutputKey", spec->output.kms_key_id, 1));
        } else if (spec->output.sse && strcmp(spec->output.sse, "aws:kms") == 0)
            hf_warn("iam-policy: %s: output.sse is aws:kms without output.kms_key_id: the uploads "
                    "use the bucket's default KMS key, which this policy cannot name; set "
                    "output.kms_key_id, or grant kms:GenerateDataKey and kms:Decrypt on that key "
                    "yourself (AWS's aws/s3 key needs no grant)",
                    hf_opt_where(&spec->output.src, "output.sse", at, sizeof at));
    }
    return HF_OK;
}

static void usage_iam_policy(FILE *fp)
{
    fprintf(fp, "usage: hyperfold iam-policy JOB.yaml [--role NAME] [--account ID]\n"
                "\n"
                "Prints the IAM policy document (JSON) the job needs and nothing more:\n"
                "s3:GetObject on the source object (or every object under a source prefix),\n"
                "s3:ListBucket on its bucket for that prefix only, s3:PutObject and\n"
                "s3:AbortMultipartUpload (used only to clean up a failed multipart upload) on\n"
                "<output.upload>/<name>/*, and kms:GenerateDataKey + kms:Decrypt on\n"
                "output.kms_key_id (data.etl.kms_key_id for data.etl's uploads), and\n"
                "kms:Decrypt on each s3.kms_key_ids entry, the keys the S3 sources are\n"
                "encrypted with. SSE-KMS without a named key (the bucket's default) is\n"
                "warned about on stderr. http(s) and local sources need nothing.\n"
                "\n"
                "  --role NAME   add the principal arn:aws:iam::ACCOUNT:role/NAME to every\n"
                "                statement (a resource policy: a bucket policy, a key policy)\n"
                "  --account ID  the 12-digit account of --role and of KMS key ARNs made from a\n"
                "                key id or alias (default: the placeholder ACCOUNT_ID)\n"
                "\n"
                "Exit codes: 0 printed, 2 bad input (spec, flags). docs/security.md.\n");
}

static int check_role(const char *name, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64 ||
        strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789+=,.@_-") != n)
        return hf_error(HF_EINVAL,
                        "iam-policy: %s: got \"%s\", expected a role name of 1 to 64 letters, "
                        "digits and +=,.@_-",
                        name, v);
    return HF_OK;
}

static int check_account(const char *name, const char *v)
{
    if (strlen(v) != 12 || strspn(v, "0123456789") != 12)
        return hf_error(HF_EINVAL, "iam-policy: %s: got \"%s\", expected a 12-digit account id",
                        name, v);
    return HF_OK;
}

int hf_iam_policy_build(const hf_spec *spec, const char *role, const char *account,
                        const char *region, json_t **out)
{
    int result = HF_OK;
    char *principal = NULL;
    policy p = {0};
    *out = NULL;
    p.account = account ? account : "ACCOUNT_ID";
    p.region = region && *region ? region : spec->s3.region;
    if (!p.region || !*p.region)
        p.region = getenv("AWS_REGION");
    if (!p.region || !*p.region)
        p.region = getenv("AWS_DEFAULT_REGION");
    if (!p.region || !*p.region)
        p.region = "us-east-1";
    if (role && !(principal = hf_asprintf("arn:aws:iam::%s:role/%s", p.account, role))) {
        result = hf_error(HF_ENOMEM, "iam-policy: out of memory");
        goto out;
    }
    p.principal = principal;
    if (!(p.statements = json_array())) {
        result = hf_error(HF_ENOMEM, "iam-policy: out of memory");
        goto out;
    }
    if ((result = build_policy(&p, spec)) < 0)
        goto out;
    if (!(*out = json_pack("{s:s, s:O}", "Version", "2012-10-17", "Statement", p.statements)))
        result = hf_error(HF_ENOMEM, "iam-policy: out of memory");
out:
    json_decref(p.statements);
    free(principal);
    return result;
}

int hf_cmd_iam_policy(int argc, char **argv)
{
    const char *role = NULL, *account = NULL, *spec_arg = NULL;
    const hf_arg_def defs[] = {
        HF_VALUE_ARG("--role", &role, check_role),
        HF_VALUE_ARG("--account", &account, check_account),
    };
    const hf_cmdline cl = {"iam-policy",    HF_ARGS(defs), "job spec", "JOB.yaml", 0,
                           usage_iam_policy};
    int result = hf_args_parse(&cl, argc, argv, &spec_arg, NULL, 1);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;

    hf_spec *spec = NULL;
    char *text = NULL;
    json_t *doc = NULL;
    if ((result = hf_spec_load(spec_arg, &spec)) < 0)
        goto out;
    if ((result = hf_iam_policy_build(spec, role, account, NULL, &doc)) < 0)
        goto out;
    if (!(text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
        result = hf_error(HF_ENOMEM, "iam-policy: out of memory");
        goto out;
    }
    if (json_array_size(json_object_get(doc, "Statement")) == 0)
        hf_info("iam-policy: %s makes no AWS request (local or http(s) data, no output.upload); "
                "the policy grants nothing",
                spec_arg);
    if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
        result = hf_error(HF_EIO, "iam-policy: writing to standard output failed");
out:
    free(text);
    json_decref(doc);
    hf_spec_free(spec);
    return result;
}
