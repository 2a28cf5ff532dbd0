/* test_etl_names.c - the etl step's member checks (shards/etl.c hf_etl_check_member): the path a
 * member is written to, and the members refused (zip-slip, links, devices, control characters,
 * the manifest's name), each with one line naming the archive and the member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/hf.h"
#include "shards/etl.h"

#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

static void expect_path(const char *name, const char *want)
{
    char *got = NULL;
    assert_int_equal(hf_etl_check_member("a.zip", name, AE_IFREG, 0, &got), HF_OK);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_string_equal(hf_error_message(), "");
    free(got);
}

static void expect_refused(const char *name, int type, int hardlink, const char *why)
{
    char *got = NULL;
    assert_int_equal(hf_etl_check_member("a.zip", name, type, hardlink, &got), HF_EDATA);
    assert_null(got);
    const char *msg = hf_error_message();
    if (!strstr(msg, why))
        fail_msg("%s: got \"%s\"", name, msg);
    assert_non_null(strstr(msg, "a.zip: "));
    assert_null(strchr(msg, '\n'));
    hf_error_clear();
}

static void test_paths(void **state)
{
    (void)state;
    expect_path("a.csv", "a.csv");
    expect_path("./d/a.csv", "d/a.csv");
    expect_path("d//e/./a.csv", "d/e/a.csv");
    expect_path("x..y/..a/b..", "x..y/..a/b..");
    expect_path("ab:c.csv", "ab:c.csv");
    expect_path("\xc3\xbc/\xc3\xa7.txt", "\xc3\xbc/\xc3\xa7.txt");
    expect_path("d\\e.csv", "d/e.csv"); /* a backslash separates, as some extractors read it */
    char *got = (char *)1;
    assert_int_equal(hf_etl_check_member("a.zip", "d/", AE_IFDIR, 0, &got), HF_OK);
    assert_null(got); /* directories are skipped */
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("../evil", AE_IFREG, 0, "member \"../evil\" has a '..' segment (zip-slip)");
    expect_refused("a/../../evil", AE_IFREG, 0, "'..' segment");
    expect_refused("a/..", AE_IFREG, 0, "'..' segment");
    expect_refused("a\\..\\..\\evil", AE_IFREG, 0, "'..' segment");
    expect_refused("/etc/passwd", AE_IFREG, 0, "member \"/etc/passwd\" has an absolute path");
    expect_refused("\\x", AE_IFREG, 0, "absolute path");
    expect_refused("C:\\x", AE_IFREG, 0, "absolute path");
    expect_refused("a:b.csv", AE_IFREG, 0, "absolute path"); /* drive-relative on Windows */
    expect_refused("link", AE_IFLNK, 0, "member \"link\" is a symlink, refused");
    expect_refused("hard", AE_IFREG, 1, "member \"hard\" is a hard link, refused");
    expect_refused("dev", AE_IFCHR, 0, "is a device, fifo or socket");
    expect_refused("fifo", AE_IFIFO, 0, "is a device, fifo or socket");
    expect_refused("a\nb", AE_IFREG, 0, "control character (byte 0x0a)");
    expect_refused("_manifest.json", AE_IFREG, 0, "the manifest's name");
    expect_refused("./", AE_IFREG, 0, "names no file");
    expect_refused("", AE_IFREG, 0, "without a (readable) name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_paths),
                                       cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
