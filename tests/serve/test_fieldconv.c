/* test_fieldconv.c - hf_fieldconv, the conversion of a feature field's text that predict and
 * serve share: NA texts, numbers (exact, non-finite refused), booleans, categories (unknown: -1),
 * bad UTF-8 (the offset of the bad byte), and the messages' words; and serve's body parser on the
 * same texts gives the same values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "coordinator/serve.h"
#include "shards/fieldconv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *k_cats[] = {"Biscoe", "Dream", "Torgersen"};
static char *k_bools[] = {"false", "true"};

static hf_column col(hf_col_type t)
{
    hf_column c = {.name = "c", .type = t};
    if (t == HF_COL_CATEGORICAL) {
        c.categories = k_cats;
        c.n_categories = 3;
    } else if (t == HF_COL_BOOLEAN) {
        c.categories = k_bools;
        c.n_categories = 2;
    }
    return c;
}

static int conv(hf_col_type t, const char *text, double *out, size_t *at, char *what)
{
    size_t n_na;
    char *const *na = hf_fieldconv_default_na(&n_na);
    hf_column c = col(t);
    return hf_fieldconv(&c, "c", text, strlen(text), na, n_na, out, at, what, 512);
}

static void test_values(void **state)
{
    (void)state;
    double v;
    size_t at;
    char what[512];
    const char *nas[] = {"", "NA", "NaN", "null", "?"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(conv(HF_COL_NUMERIC, nas[i], &v, &at, what), 0);
        assert_true(isnan(v));
        assert_int_equal(conv(HF_COL_CATEGORICAL, nas[i], &v, &at, what), 0);
        assert_true(isnan(v));
    }
    assert_int_equal(conv(HF_COL_NUMERIC, " 0.1 ", &v, &at, what), 0);
    assert_true(v == strtod("0.1", NULL));
    assert_int_equal(conv(HF_COL_NUMERIC, "-1.7976931348623157e308", &v, &at, what), 0);
    assert_true(v == -1.7976931348623157e308);
    assert_int_equal(conv(HF_COL_BOOLEAN, "TRUE", &v, &at, what), 0);
    assert_true(v == 1.0);
    assert_int_equal(conv(HF_COL_BOOLEAN, "false", &v, &at, what), 0);
    assert_true(v == 0.0);
    assert_int_equal(conv(HF_COL_CATEGORICAL, "Dream", &v, &at, what), 0);
    assert_true(v == 1.0);
    assert_int_equal(conv(HF_COL_CATEGORICAL, "Torgersen", &v, &at, what), 0);
    assert_true(v == 2.0);
    assert_int_equal(conv(HF_COL_CATEGORICAL, "Atlantis", &v, &at, what), 0);
    assert_true(v == -1.0);
    assert_int_equal(conv(HF_COL_CATEGORICAL, "Drea", &v, &at, what), 0);
    assert_true(v == -1.0);
}

static void test_errors(void **state)
{
    (void)state;
    double v;
    size_t at;
    char what[512];
    assert_int_equal(conv(HF_COL_NUMERIC, "abc", &v, &at, what), 1);
    assert_string_equal(what, "column \"c\": got \"abc\", expected a number");
    assert_int_equal(conv(HF_COL_NUMERIC, "-inf", &v, &at, what), 1);
    assert_string_equal(what, "column \"c\": got \"-inf\", expected a finite number");
    assert_int_equal(conv(HF_COL_NUMERIC, "1e400", &v, &at, what), 1);
    assert_string_equal(what, "column \"c\": got \"1e400\", expected a finite number");
    assert_int_equal(conv(HF_COL_BOOLEAN, "yes", &v, &at, what), 1);
    assert_string_equal(what, "column \"c\": got \"yes\", expected true or false");
    assert_int_equal(conv(HF_COL_CATEGORICAL, "ab\xff", &v, &at, what), 1);
    assert_int_equal(at, 2);
    assert_string_equal(what, "column \"c\": got the byte 0xff, expected UTF-8 text");
}

/* serve's parser gives the values hf_fieldconv gives, whatever the body's format. */
static void test_serve_parse(void **state)
{
    (void)state;
    hf_column feats[3] = {col(HF_COL_NUMERIC), col(HF_COL_CATEGORICAL), col(HF_COL_BOOLEAN)};
    feats[0].name = "x";
    feats[1].name = "island";
    feats[2].name = "flag";
    hf_schema s = {.n_features = 3, .features = feats, .target = "y"};
    const char *bodies[][2] = {
        {"0.1,Dream,true\n\"2.5e-3\",Atlantis,NA\r\n\n", NULL},
        {"y;flag;island;x\n1;true;Dream;0.1\n2;;Atlantis;2.5e-3\n", "header"},
        {"[{\"x\":0.1,\"island\":\"Dream\",\"flag\":true},"
         "{\"x\":\"2.5e-3\",\"island\":\"Atlantis\",\"flag\":null,\"y\":3}]",
         "json"},
        {"{\"x\":[0.1,0.0025],\"island\":[\"Dream\",\"Atlantis\"],\"flag\":[\"true\",\"\"]}",
         "json"},
        {"{\"instances\":[[0.1,\"Dream\",true],[0.0025,\"Atlantis\",null]]}", "json"},
        {"[0.1,\"Dream\",true]\n{\"x\":0.0025,\"island\":\"Atlantis\",\"flag\":\"NA\"}\n", "jsonl"},
    };
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        const char *kind = bodies[b][1];
        hf_serve_fmt fmt = !kind || strcmp(kind, "header") == 0 ? HF_SERVE_CSV
                           : strcmp(kind, "json") == 0          ? HF_SERVE_JSON
                                                                : HF_SERVE_JSONL;
        double *X = NULL;
        size_t n = 0;
        char err[512];
        int r = hf_serve_parse(&s, fmt, kind && strcmp(kind, "header") == 0, bodies[b][0],
                               strlen(bodies[b][0]), &X, &n, err, sizeof err);
        if (r != 0)
            fail_msg("body %zu: %s", b, err);
        assert_int_equal(n, 2);
        assert_true(X[0] == 0.1 && X[1] == 1.0 && X[2] == 1.0);
        assert_true(X[3] == 2.5e-3 && X[4] == -1.0 && isnan(X[5]));
        free(X);
    }
    double *X = NULL;
    size_t n = 0;
    char err[512];
    const char *bad = "0.1,Dream,true\n0.2,Dream,maybe\n";
    assert_int_equal(hf_serve_parse(&s, HF_SERVE_CSV, 0, bad, strlen(bad), &X, &n, err, sizeof err),
                     1);
    assert_string_equal(err, "row 2: column \"flag\": got \"maybe\", expected true or false");
    assert_null(X);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_serve_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
