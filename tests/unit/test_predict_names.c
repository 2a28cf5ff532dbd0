/* test_predict_names.c - the name of each per-object output of `hyperfold predict` (predict.c's
 * object_output, static: this file includes predict.c): an input object's path under the input
 * prefix plus ".out", and a name that would leave the output directory refused (an S3 key is any
 * text: "in/sub/../../../home/u/.bashrc" must not be written outside the output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "coordinator/predict.c"

static void expect_name(const char *input, const char *obj, const char *out, const char *want)
{
    char *got = object_output(input, obj, out);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    assert_string_equal(hf_error_message(), "");
}

static void test_names(void **state)
{
    (void)state;
    expect_name("s3://b/in/", "s3://b/in/a.csv", "out/", "out/a.csv.out");
    expect_name("s3://b/in/", "s3://b/in/d/a.csv", "out", "out/d/a.csv.out");
    expect_name("s3://b/in", "s3://b/in/a.csv", "s3://b/out/", "s3://b/out/a.csv.out");
    expect_name("dir/", "dir/x..y.csv", "o/", "o/x..y.csv.out");
    expect_name("dir/", "dir/..a/b.csv", "o/", "o/..a/b.csv.out");
    /* An object not under the input prefix: its base name. */
    expect_name("s3://b/in/", "s3://b/elsewhere/z.csv", "o/", "o/z.csv.out");
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {"s3://b/in/../x.csv", "s3://b/in/sub/../../../home/u/.bashrc",
                         "s3://b/in/a/..", "s3://b/in/../../etc/passwd"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *got = object_output("s3://b/in/", bad[i], "out/");
        assert_null(got);
        assert_int_equal(hf_error_code(), HF_EDATA);
        assert_non_null(strstr(hf_error_message(), "\"..\" segment"));
        assert_non_null(strstr(hf_error_message(), bad[i]));
        hf_error_clear();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names),
                                       cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
