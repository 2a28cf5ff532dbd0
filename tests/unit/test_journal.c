/* test_journal.c - the journal's lines: each with its own checksum (the first 16 hex digits of the
 * SHA-256 of the text, as hf_sha256_hex gives them), written at once outside a hold, kept on a
 * holding thread until hf_journal_flush (or hf_journal_close) writes them, and replayed on open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/fsutil.h"
#include "common/hf.h"
#include "coordinator/journal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64], g_path[128];

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static const hf_journal_id k_id = {.spec_sha256 = "test", .data_fingerprint = "none", .n_tasks = 9};

typedef struct replayed {
    char lines[8][64];
    int n;
} replayed;

static int collect(void *arg, const char *line)
{
    replayed *r = arg;
    if (r->n < 8)
        snprintf(r->lines[r->n++], sizeof r->lines[0], "%s", line);
    return HF_OK;
}

/* The lines of the journal at g_path, replayed by hf_journal_open (then closed). */
static replayed replay(void)
{
    replayed r = {.n = 0};
    hf_journal *j = NULL;
    assert_int_equal(hf_journal_open(g_path, &k_id, collect, &r, &j), HF_OK);
    assert_int_equal(hf_journal_close(j), HF_OK);
    return r;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/hf_test_journal.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/journal.jsonl", g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_path);
    rmdir(g_dir);
    return 0;
}

/* Every task line is TEXT \t SUM \n with SUM the first 16 digits of hf_sha256_hex(TEXT). */
static void test_line_format(void **state)
{
    (void)state;
    unlink(g_path);
    hf_journal *j = NULL;
    assert_int_equal(hf_journal_open(g_path, &k_id, NULL, NULL, &j), HF_OK);
    const char *texts[] = {"{\"task\":0}", "{\"task\":1,\"x\":\"\\u00e9\"}", ""};
    for (int i = 0; i < 3; i++)
        assert_int_equal(hf_journal_append(j, texts[i]), HF_OK);
    assert_int_equal(hf_journal_close(j), HF_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(hf_fs_read_file(g_path, &text, &len), HF_OK);
    char *p = memchr(text, '\n', len) + 1; /* after the header */
    for (int i = 0; i < 3; i++) {
        char hex[65], want[256];
        assert_int_equal(hf_sha256_hex(texts[i], strlen(texts[i]), hex), HF_OK);
        snprintf(want, sizeof want, "%s\t%.16s\n", texts[i], hex);
        assert_memory_equal(p, want, strlen(want));
        p += strlen(want);
    }
    assert_ptr_equal(p, text + len);
    free(text);
}

typedef struct appender {
    hf_journal *j;
    long size_after;
} appender;

static void *append_other_thread(void *arg)
{
    appender *a = arg;
    assert_int_equal(hf_journal_append(a->j, "other thread"), HF_OK);
    a->size_after = file_size(g_path);
    return NULL;
}

/* Lines appended on a holding thread are not in the file until the flush, which writes them all;
 * a line of a thread that holds nothing is written at once, with the kept lines before it; the
 * close writes what is still held. */
static void test_hold_flush(void **state)
{
    (void)state;
    unlink(g_path);
    hf_journal *j = NULL;
    assert_int_equal(hf_journal_open(g_path, &k_id, NULL, NULL, &j), HF_OK);
    const long header = file_size(g_path);
    assert_int_equal(hf_journal_append(j, "one"), HF_OK);
    const long one = file_size(g_path);
    assert_int_equal(one, header + 3 + 18); /* written at once: no hold */

    hf_journal_hold();
    assert_int_equal(hf_journal_append(j, "two"), HF_OK);
    assert_int_equal(hf_journal_append(j, "three"), HF_OK);
    assert_int_equal(file_size(g_path), one); /* held */
    appender a = {.j = j, .size_after = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, append_other_thread, &a), 0);
    pthread_join(t, NULL);
    /* The other thread holds nothing: its line went out at once, after the lines kept before it
     * (the file keeps the order of the appends). */
    const long all = one + 3 + 18 + 5 + 18 + 12 + 18;
    assert_int_equal(a.size_after, all);
    assert_int_equal(hf_journal_flush(), HF_OK); /* nothing left to write */
    assert_int_equal(file_size(g_path), all);

    /* The hold ended with the flush. */
    assert_int_equal(hf_journal_append(j, "four"), HF_OK);
    const long four = file_size(g_path);
    assert_int_equal(four, all + 4 + 18);

    hf_journal_hold();
    assert_int_equal(hf_journal_append(j, "five"), HF_OK);
    assert_int_equal(file_size(g_path), four);
    assert_int_equal(hf_journal_close(j), HF_OK); /* writes "five" */
    assert_int_equal(hf_journal_flush(), HF_OK);  /* ends the hold; the journal is gone */
    replayed r = replay();
    const char *want[] = {"one", "two", "three", "other thread", "four", "five"};
    assert_int_equal(r.n, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(r.lines[i], want[i]);
}

/* A line damaged on disk cuts the replay there, held and flushed lines alike. */
static void test_damaged_line(void **state)
{
    (void)state;
    unlink(g_path);
    hf_journal *j = NULL;
    assert_int_equal(hf_journal_open(g_path, &k_id, NULL, NULL, &j), HF_OK);
    hf_journal_hold();
    assert_int_equal(hf_journal_append(j, "alpha"), HF_OK);
    assert_int_equal(hf_journal_append(j, "bravo"), HF_OK);
    assert_int_equal(hf_journal_append(j, "charlie"), HF_OK);
    assert_int_equal(hf_journal_flush(), HF_OK);
    assert_int_equal(hf_journal_close(j), HF_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(hf_fs_read_file(g_path, &text, &len), HF_OK);
    char *b = strstr(text, "bravo");
    assert_non_null(b);
    b[1] = 'R';
    FILE *f = fopen(g_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    free(text);
    replayed r = replay();
    assert_int_equal(r.n, 1);
    assert_string_equal(r.lines[0], "alpha");
    hf_error_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_hold_flush),
        cmocka_unit_test(test_damaged_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
