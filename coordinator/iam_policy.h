/* iam_policy.h - the IAM policy document a job needs (`hyperfold iam-policy`, iam_policy.c). */
#ifndef HF_IAM_POLICY_H
#define HF_IAM_POLICY_H

#include "jobs/spec.h"

#include <jansson.h>

/* Not collective. The policy document of `spec` ({"Version": "2012-10-17", "Statement": [...]})
 * into *out (a new reference, the caller's). role: NULL, or a role name: every statement gets
 * "Principal": {"AWS": "arn:aws:iam::ACCOUNT:role/ROLE"}; account: 12 digits or NULL (the
 * placeholder ACCOUNT_ID); region: for KMS key ARNs made from a key id or alias (NULL: the spec's
 * s3.region, AWS_REGION, AWS_DEFAULT_REGION, us-east-1). HF_EINVAL naming the spec's position
 * when output.kms_key_id (or the region) is not one KMS accepts; HF_ENOMEM. */
int hf_iam_policy_build(const hf_spec *spec, const char *role, const char *account,
                        const char *region, json_t **out);

#endif
