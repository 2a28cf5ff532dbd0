/* Unit tests of the S3 data plane's pure parts: URI parsing, credential lookup order, audit lines
 * and URL cleaning. With arguments, this program is also a stand-in `hyperfold s3` driver for the
 * shell tests (argv[1..] go to hf_cmd_s3) until the main binary has the subcommand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/hf.h"
#include "shards/audit.h"
#include "shards/creds.h"
#include "coordinator/commands.h"
#include "shards/s3.h"

static char g_dir[256];

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void clear_aws_env(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
}

static int setup_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/hf_s3_unit_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    clear_aws_env();
    setenv("HOME", g_dir, 1);
    hf_error_clear();
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_parse_uri(void **state)
{
    (void)state;
    char *b = NULL, *k = NULL;
    assert_int_equal(hf_s3_parse_uri("s3://bkt/a/b c.csv", &b, &k), 0);
    assert_string_equal(b, "bkt");
    assert_string_equal(k, "a/b c.csv");
    free(b);
    free(k);
    assert_int_equal(hf_s3_parse_uri("s3://bkt", &b, &k), 0);
    assert_string_equal(b, "bkt");
    assert_string_equal(k, "");
    free(b);
    free(k);
    hf_error_clear();
    assert_int_equal(hf_s3_parse_uri("s3:///key", &b, &k), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "s3:///key"));
    hf_error_clear();
    assert_int_equal(hf_s3_parse_uri("http://x/y", &b, &k), HF_EINVAL);
    hf_error_clear();
}

static void test_clean_url(void **state)
{
    (void)state;
    char *u =
        hf_audit_clean_url("https://user:pw@example.org:8443/data/x.csv?X-Amz-Signature=ab#f");
    assert_string_equal(u, "https://example.org:8443/data/x.csv");
    free(u);
    u = hf_audit_clean_url("http://h/p?q=1");
    assert_string_equal(u, "http://h/p");
    free(u);
    u = hf_audit_clean_url("http://h/a@b");
    assert_string_equal(u, "http://h/a@b");
    free(u);
}

static void test_creds_env_first(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/.aws", g_dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/.aws/credentials", g_dir);
    write_text(path,
               "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n");
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
    setenv("AWS_SESSION_TOKEN", "ENVTOKEN", 1);
    hf_creds *c = NULL;
    assert_int_equal(hf_creds_load(&c), 0);
    assert_string_equal(c->access_key, "ENVKEY");
    assert_string_equal(c->secret_key, "ENVSECRET");
    assert_string_equal(c->session_token, "ENVTOKEN");
    assert_string_equal(c->source, "environment");
    hf_creds_free(c);
    c = NULL;
    assert_null(c);

    clear_aws_env();
    assert_int_equal(hf_creds_load(&c), 0);
    assert_string_equal(c->access_key, "FILEKEY");
    assert_string_equal(c->secret_key, "FILESECRET");
    assert_null(c->session_token);
    assert_non_null(strstr(c->source, "shared credentials file"));
    assert_non_null(strstr(c->source, path));
    assert_non_null(strstr(c->source, "profile default"));
    hf_creds_free(c);
    c = NULL;

    /* Only half of the environment pair: an error that names the missing variable. */
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    assert_int_equal(hf_creds_load(&c), HF_EAUTH);
    assert_non_null(strstr(hf_error_message(), "AWS_SECRET_ACCESS_KEY"));
    hf_error_clear();
    clear_aws_env();
}

static void test_creds_profiles(void **state)
{
    (void)state;
    char cred[512], conf[512];
    snprintf(cred, sizeof cred, "%s/creds.ini", g_dir);
    snprintf(conf, sizeof conf, "%s/config.ini", g_dir);
    write_text(cred, "# comment\n[default]\naws_access_key_id=D1\naws_secret_access_key=DS\n"
                     "[prod]\n aws_access_key_id = P1 \n aws_secret_access_key = PS \n"
                     "aws_session_token = PT\n");
    write_text(conf, "[default]\nregion = eu-west-1\n[profile cfgonly]\n"
                     "aws_access_key_id = C1\naws_secret_access_key = CS\n[cfgonly]\n"
                     "aws_access_key_id = WRONG\naws_secret_access_key = WRONG\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_CONFIG_FILE", conf, 1);
    hf_creds *c = NULL;

    setenv("AWS_PROFILE", "prod", 1);
    assert_int_equal(hf_creds_load(&c), 0);
    assert_string_equal(c->access_key, "P1");
    assert_string_equal(c->secret_key, "PS");
    assert_string_equal(c->session_token, "PT");
    assert_non_null(strstr(c->source, "profile prod"));
    hf_creds_free(c);
    c = NULL;

    /* In the config file a named profile is the section "[profile NAME]". */
    setenv("AWS_PROFILE", "cfgonly", 1);
    assert_int_equal(hf_creds_load(&c), 0);
    assert_string_equal(c->access_key, "C1");
    assert_non_null(strstr(c->source, "config file"));
    assert_non_null(strstr(c->source, conf));
    hf_creds_free(c);
    c = NULL;

    setenv("AWS_PROFILE", "missing", 1);
    assert_int_equal(hf_creds_load(&c), HF_EAUTH);
    assert_null(c);
    assert_non_null(strstr(hf_error_message(), "profile missing"));
    assert_non_null(strstr(hf_error_message(), cred));
    hf_error_clear();

    /* An incomplete entry is an error, and the message never holds the half that is there. */
    write_text(cred, "[half]\naws_secret_access_key = HALFSECRET\n");
    setenv("AWS_PROFILE", "half", 1);
    assert_int_equal(hf_creds_load(&c), HF_EAUTH);
    assert_null(strstr(hf_error_message(), "HALFSECRET"));
    hf_error_clear();
    clear_aws_env();
}

static void test_audit_line(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/audit.jsonl", g_dir);
    hf_audit_rec r = {.rank = 3,
                      .principal = "AKIDEXAMPLE",
                      .operation = "GetObject",
                      .kms_key_id = "alias/k",
                      .kms_action = "kms:Decrypt",
                      .method = "GET",
                      .scheme = "s3",
                      .bucket = "bkt",
                      .key = "dir/\"q\".csv",
                      .range_start = 10,
                      .range_end = 19,
                      .bytes = 10,
                      .status = 206,
                      .attempt = 2,
                      .duration_ms = 1.5,
                      .request_id = "REQ1"};
    assert_int_equal(hf_audit_append(path, &r), 0);
    hf_audit_rec h = {.method = "HEAD",
                      .scheme = "https",
                      .url = "https://h/x",
                      .range_start = -1,
                      .range_end = -1,
                      .attempt = 1};
    assert_int_equal(hf_audit_append(path, &h), 0);
    /* A listing: the resource is the bucket, the prefix is recorded; into a directory that does
     * not exist yet (created). */
    char deep[600];
    snprintf(deep, sizeof deep, "%s/new/dir/audit.jsonl", g_dir);
    hf_audit_rec l = {.principal = "AKIDEXAMPLE",
                      .operation = "ListObjectsV2",
                      .list_prefix = "parts/",
                      .method = "GET",
                      .scheme = "s3",
                      .bucket = "bkt",
                      .range_start = -1,
                      .range_end = -1,
                      .status = 200,
                      .attempt = 1};
    assert_int_equal(hf_audit_append(deep, &l), 0);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, fp));
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "key")), "dir/\"q\".csv");
    assert_string_equal(json_string_value(json_object_get(o, "range")), "bytes=10-19");
    assert_int_equal(json_integer_value(json_object_get(o, "rank")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 206);
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "request_id")), "REQ1");
    const char *t = json_string_value(json_object_get(o, "time"));
    assert_non_null(t);
    /* ISO-8601 UTC with milliseconds: 2024-01-02T03:04:05.678Z */
    assert_int_equal(strlen(t), 24);
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[19], '.');
    assert_int_equal(t[23], 'Z');
    assert_non_null(json_object_get(o, "user"));
    assert_non_null(json_object_get(o, "host"));
    assert_string_equal(json_string_value(json_object_get(o, "principal")), "AKIDEXAMPLE");
    assert_string_equal(json_string_value(json_object_get(o, "operation")), "GetObject");
    assert_string_equal(json_string_value(json_object_get(o, "action")), "s3:GetObject");
    assert_string_equal(json_string_value(json_object_get(o, "resource")),
                        "arn:aws:s3:::bkt/dir/\"q\".csv");
    assert_string_equal(json_string_value(json_object_get(o, "kms_key_id")), "alias/k");
    assert_string_equal(json_string_value(json_object_get(o, "kms_action")), "kms:Decrypt");
    assert_null(json_object_get(o, "prefix"));
    json_decref(o);
    assert_non_null(fgets(line, sizeof line, fp));
    o = json_loads(line, 0, &err);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "url")), "https://h/x");
    assert_true(json_is_null(json_object_get(o, "range")));
    assert_null(json_object_get(o, "key"));
    /* Unsigned http: no principal, the action http:Get (set by http.c), the URL as resource. */
    assert_true(json_is_null(json_object_get(o, "principal")));
    assert_string_equal(json_string_value(json_object_get(o, "resource")), "https://h/x");
    assert_null(json_object_get(o, "kms_action"));
    json_decref(o);
    assert_null(fgets(line, sizeof line, fp));
    fclose(fp);
    fp = fopen(deep, "r");
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    fclose(fp);
    o = json_loads(line, 0, &err);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "action")), "s3:ListBucket");
    assert_string_equal(json_string_value(json_object_get(o, "resource")), "arn:aws:s3:::bkt");
    assert_string_equal(json_string_value(json_object_get(o, "prefix")), "parts/");
    json_decref(o);
}

static void test_audit_actions(void **state)
{
    (void)state;
    assert_string_equal(hf_audit_s3_action("HeadObject"), "s3:GetObject");
    assert_string_equal(hf_audit_s3_action("ListObjectsV2"), "s3:ListBucket");
    assert_string_equal(hf_audit_s3_action("UploadPart"), "s3:PutObject");
    assert_string_equal(hf_audit_s3_action("CompleteMultipartUpload"), "s3:PutObject");
    assert_string_equal(hf_audit_s3_action("AbortMultipartUpload"), "s3:AbortMultipartUpload");
    assert_null(hf_audit_s3_action("DeleteObject"));
    assert_null(hf_audit_s3_action(NULL));
}

static void test_audit_resolve(void **state)
{
    (void)state;
    char *p = NULL;
    setenv("HYPERFOLD_AUDIT", "/x/env.jsonl", 1);
    assert_int_equal(hf_audit_resolve("/x/flag.jsonl", &p), 0);
    assert_string_equal(p, "/x/flag.jsonl");
    free(p);
    assert_int_equal(hf_audit_resolve(NULL, &p), 0);
    assert_string_equal(p, "/x/env.jsonl");
    free(p);
    setenv("HYPERFOLD_AUDIT", "off", 1);
    assert_int_equal(hf_audit_resolve(NULL, &p), 0);
    assert_null(p);
    unsetenv("HYPERFOLD_AUDIT");
    setenv("XDG_STATE_HOME", "/st", 1);
    assert_int_equal(hf_audit_resolve("", &p), 0);
    assert_string_equal(p, "/st/hyperfold/audit.jsonl");
    free(p);
    unsetenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *saved = home ? strdup(home) : NULL;
    setenv("HOME", "/home/u", 1);
    assert_int_equal(hf_audit_resolve(NULL, &p), 0);
    assert_string_equal(p, "/home/u/.local/state/hyperfold/audit.jsonl");
    free(p);
    unsetenv("HOME");
    assert_int_equal(hf_audit_resolve(NULL, &p), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "HYPERFOLD_AUDIT"));
    hf_error_clear();
    if (saved)
        setenv("HOME", saved, 1);
    free(saved);
}

static void test_xml_tag(void **state)
{
    (void)state;
    char out[32];
    const char *xml = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
    assert_int_equal(hf_http_xml_tag(xml, "Code", out, sizeof out), 0);
    assert_string_equal(out, "NoSuchKey");
    assert_int_equal(hf_http_xml_tag(xml, "RequestId", out, sizeof out), -1);
    assert_int_equal(hf_http_xml_tag(NULL, "Code", out, sizeof out), -1);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        int result = hf_cmd_s3(argc - 1, argv + 1);
        if (result < 0)
            fprintf(stderr, "hyperfold: error: %s\n", hf_error_message());
        return hf_exit_code(result);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uri),
        cmocka_unit_test(test_clean_url),
        cmocka_unit_test_setup_teardown(test_creds_env_first, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_creds_profiles, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_audit_line, setup_dir, teardown_dir),
        cmocka_unit_test(test_audit_actions),
        cmocka_unit_test(test_audit_resolve),
        cmocka_unit_test(test_xml_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
