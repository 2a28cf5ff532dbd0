/* creds.h - AWS credentials for S3 requests, found the way the AWS CLI finds them.
 *
 * Order: the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
 * shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, section [PROFILE]),
 * then the config file (AWS_CONFIG_FILE or ~/.aws/config, section [profile PROFILE], or [default]),
 * with PROFILE = AWS_PROFILE or "default". The secret and the session token live in a buffer that
 * is excluded from core dumps (MADV_DONTDUMP) and zeroed (OPENSSL_cleanse) when freed. They never
 * appear in messages: errors name only `source`. */
#ifndef HF_CREDS_H
#define HF_CREDS_H

typedef struct hf_creds {
    char *access_key;    /* public key id (may appear in messages) */
    char *secret_key;    /* secret: never log */
    char *session_token; /* secret, NULL if none: sent as x-amz-security-token */
    /* Where they came from, for messages: "environment" or "shared credentials file PATH profile
     * NAME" or "config file PATH profile NAME". */
    char *source;
} hf_creds;

/* Finds credentials in the order above. On success *out is a new object the caller frees with
 * hf_creds_free(). HF_EAUTH (message lists the places searched) when none are found or they are
 * incomplete. Not collective. */
int hf_creds_load(hf_creds **out);

/* Zeroes and frees the credentials; accepts NULL and sets *c to NULL. */
void hf_creds_free(hf_creds *c);

#endif
