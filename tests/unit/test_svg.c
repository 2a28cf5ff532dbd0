/* test_svg.c - common/svg.c: escaping of every character that HTML and XML give a meaning (and
 * the control characters XML forbids), fixed number formats, axes that map data to pixels in the
 * right direction (linear, log, categorical rows), and a broken line at a non-finite point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/svg.h"

#include <math.h>
#include <string.h>

static void test_escape(void **state)
{
    (void)state;
    hf_svg_buf b = {0};
    hf_svg_esc(&b, "<script>alert('x')</script> a&b\"c\x01\t");
    assert_string_equal(b.data,
                        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; a&amp;b&quot;c?\t");
    hf_svg_esc(&b, NULL);
    assert_int_equal(b.failed, 0);
    hf_svg_buf_free(&b);
    assert_null(b.data);
}

static void test_numbers(void **state)
{
    (void)state;
    hf_svg_buf b = {0};
    hf_svg_num(&b, 0.123456789);
    hf_svg_puts(&b, " ");
    hf_svg_num(&b, NAN);
    hf_svg_puts(&b, " ");
    hf_svg_num(&b, INFINITY);
    assert_string_equal(b.data, "0.1235 - -");
    hf_svg_buf_free(&b);
    char c[8];
    hf_svg_color(0, c);
    assert_string_equal(c, "#440154");
    hf_svg_color(1, c);
    assert_string_equal(c, "#fde725");
    hf_svg_color(NAN, c);
    assert_string_equal(c, "#440154");
}

static void test_axes(void **state)
{
    (void)state;
    hf_svg_buf b = {0};
    hf_svg_plot p;
    hf_svg_plot_begin(&p, &b, 400, 300, "t<1>", "x", 1, 1000, 1, "y", 0, 10, 0);
    /* Log x: 10 and 100 split the frame in thirds; y grows upwards. */
    double x1 = hf_svg_px(&p, 1), x10 = hf_svg_px(&p, 10), x100 = hf_svg_px(&p, 100),
           x1000 = hf_svg_px(&p, 1000);
    assert_true(fabs((x10 - x1) - (x100 - x10)) < 1e-9);
    assert_true(fabs((x1000 - x100) - (x10 - x1)) < 1e-9);
    assert_true(hf_svg_py(&p, 10) < hf_svg_py(&p, 0));
    assert_non_null(strstr(b.data, "t&lt;1&gt;"));
    assert_non_null(strstr(b.data, ">100</text>"));
    double xs[3] = {0, NAN, 2}, ys[3] = {1, 2, 3};
    size_t before = b.len;
    hf_svg_line(&p, (double[]){1, 10, 100}, ys, 3, "#000", 1, NULL);
    hf_svg_line(&p, xs, ys, 3, "#000", 1, NULL); /* x = 0 is not on a log axis */
    const char *s = b.data + before;
    int lines = 0;
    for (const char *q = s; (q = strstr(q, "<polyline")); q++)
        lines++;
    assert_int_equal(lines, 2);
    hf_svg_plot_end(&p);
    assert_int_equal(strcmp(b.data + b.len - 6, "</svg>"), 0);
    hf_svg_buf_free(&b);

    /* Rows: row 0 at the top; categories escaped. */
    const char *rows[2] = {"rank 0", "a&b"};
    hf_svg_plot_begin_rows(&p, &b, 400, 120, "g", "s", 0, 1, rows, 2);
    assert_true(hf_svg_py(&p, 0) < hf_svg_py(&p, 1));
    assert_non_null(strstr(b.data, ">a&amp;b</text>"));
    hf_svg_plot_end(&p);
    hf_svg_buf_free(&b);

    /* A long category label is cut at a UTF-8 character boundary; the whole is its tooltip. */
    const char *cats[2] = {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9<&>", "short"};
    hf_svg_plot_begin_cat(&p, &b, 300, 200, "c", "x", cats, 2, "y", 0, 1, 0);
    assert_non_null(strstr(b.data, ">\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6"
                                   "<title>\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                   "&lt;&amp;&gt;</title>"));
    assert_non_null(strstr(b.data, ">short</text>"));
    hf_svg_plot_end(&p);
    hf_svg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_axes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
