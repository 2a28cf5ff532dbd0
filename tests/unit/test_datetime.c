/* test_datetime.c - shards/datetime.c: ISO 8601 parsing (every form, offsets, fractions, leap
 * years including 1900 and 2100, dates before 1970, bad values), stated strptime formats, and the
 * derived parts, checked against glibc's timegm/gmtime_r on random times from year 1 to 9999. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/rng.h"
#include "shards/datetime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double iso(const char *s)
{
    double t = NAN;
    int ok = hf_dt_parse_iso(s, strlen(s), &t);
    if (!ok)
        fail_msg("did not parse: \"%s\"", s);
    return t;
}

static void not_iso(const char *s)
{
    double t;
    if (hf_dt_parse_iso(s, strlen(s), &t))
        fail_msg("parsed, expected a refusal: \"%s\" (%.17g)", s, t);
}

static void test_iso_forms(void **state)
{
    (void)state;
    assert_true(iso("1970-01-01") == 0.0);
    assert_true(iso("1970-01-01T00:00") == 0.0);
    assert_true(iso("1970-01-01 00:00:01") == 1.0);
    assert_true(iso("1970-01-02T00:00:00Z") == 86400.0);
    assert_true(iso("2000-03-01T12:34:56") == 951914096.0);
    /* offsets: the time is UTC */
    assert_true(iso("2020-01-01T01:00:00+01:00") == iso("2020-01-01T00:00:00Z"));
    assert_true(iso("2020-01-01T05:30+0530") == iso("2020-01-01"));
    assert_true(iso("2019-12-31T19:00:00-05:00") == iso("2020-01-01T00:00:00"));
    assert_true(iso("2020-01-01T00:30:00+01:00") == iso("2019-12-31T23:30:00Z"));
    /* fractions, 1 to 9 digits */
    assert_true(iso("1970-01-01T00:00:00.5") == 0.5);
    assert_true(iso("1970-01-01T00:00:00.25Z") == 0.25);
    assert_true(fabs(iso("1970-01-01T00:00:01.123456789") - 1.123456789) < 1e-12);
    /* before 1970 */
    assert_true(iso("1969-12-31T23:59:59Z") == -1.0);
    assert_true(iso("1969-12-31T23:59:59.5Z") == -0.5);
    assert_true(iso("1900-01-01") == -2208988800.0);
    assert_true(iso("0001-01-01") == -62135596800.0);
    /* leap years */
    assert_true(iso("2000-02-29") == iso("2000-02-28") + 86400);
    assert_true(iso("2024-02-29") == iso("2024-03-01") - 86400);
    not_iso("1900-02-29");
    not_iso("2100-02-29");
    not_iso("2023-02-29");
    /* bad forms */
    const char *bad[] = {"",
                         "2020",
                         "2020-01",
                         "2020-1-01",
                         "2020-01-1",
                         "20200101",
                         "2020/01/01",
                         "2020-01-01T",
                         "2020-01-01 ",
                         " 2020-01-01",
                         "2020-01-01Z",
                         "2020-01-01T12",
                         "2020-01-01T12:0",
                         "2020-01-01T24:00",
                         "2020-01-01T12:60",
                         "2020-01-01T12:00:60",
                         "2020-01-01T12:00:00.",
                         "2020-01-01T12:00:00.1234567890",
                         "2020-01-01T12:00:00+24:00",
                         "2020-01-01T12:00:00+01:60",
                         "2020-01-01T12:00:00+1",
                         "2020-01-01T12:00:00Zjunk",
                         "2020-01-01t12:00",
                         "0000-01-01",
                         "2020-13-01",
                         "2020-00-10",
                         "2020-04-31",
                         "+2020-01-01",
                         "-2020-01-01",
                         "2020-01-01T12:00:00 +01:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        not_iso(bad[i]);
    /* a length, not a NUL, ends the text */
    double t;
    assert_int_equal(hf_dt_parse_iso("2020-01-01X", 10, &t), 1);
    assert_true(t == iso("2020-01-01"));
}

/* The parts of a time, as gmtime_r gives them (dayofweek: Monday = 0). */
static void expect_parts(double t, long long sec)
{
    time_t tt = (time_t)sec;
    struct tm tm;
    assert_non_null(gmtime_r(&tt, &tm));
    assert_true(hf_dt_part_value(t, HF_DT_YEAR) == tm.tm_year + 1900.0);
    assert_true(hf_dt_part_value(t, HF_DT_MONTH) == tm.tm_mon + 1.0);
    assert_true(hf_dt_part_value(t, HF_DT_DAY) == (double)tm.tm_mday);
    assert_true(hf_dt_part_value(t, HF_DT_DAYOFWEEK) == (double)((tm.tm_wday + 6) % 7));
    assert_true(hf_dt_part_value(t, HF_DT_HOUR) == (double)tm.tm_hour);
    assert_true(hf_dt_part_value(t, HF_DT_ELAPSED_DAYS) == t / 86400.0);
}

static void test_random_against_timegm(void **state)
{
    (void)state;
    hf_rng r;
    hf_rng_init(&r, 17, 0, 0);
    for (int i = 0; i < 200000; i++) {
        struct tm tm = {0};
        tm.tm_year = (int)(hf_rng_next(&r) % 9999) + 1 - 1900;
        tm.tm_mon = (int)(hf_rng_next(&r) % 12);
        tm.tm_mday = (int)(hf_rng_next(&r) % 28) + 1;
        tm.tm_hour = (int)(hf_rng_next(&r) % 24);
        tm.tm_min = (int)(hf_rng_next(&r) % 60);
        tm.tm_sec = (int)(hf_rng_next(&r) % 60);
        int off = (int)(hf_rng_next(&r) % (2 * 24 * 60 - 1)) - (24 * 60 - 1); /* minutes */
        int form = (int)(hf_rng_next(&r) % 4);
        long long sec = (long long)timegm(&tm);
        char text[64];
        int n = snprintf(text, sizeof text, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, form & 1 ? ' ' : 'T', tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
        if (form == 2)
            snprintf(text + n, sizeof text - (size_t)n, "Z");
        if (form == 3) {
            snprintf(text + n, sizeof text - (size_t)n, "%c%02d:%02d", off < 0 ? '-' : '+',
                     abs(off) / 60, abs(off) % 60);
            sec -= off * 60LL;
        }
        double t = iso(text);
        if (t != (double)sec)
            fail_msg("\"%s\": got %.17g, expected %lld", text, t, sec);
        expect_parts(t, sec);
        assert_int_equal(
            hf_dt_days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday),
            (long long)floor((double)timegm(&tm) / 86400.0));
    }
}

static void test_parts_at_boundaries(void **state)
{
    (void)state;
    /* One nanosecond before midnight is still that day, that hour. */
    double t = iso("2020-12-31T23:59:59.999999999Z");
    assert_true(hf_dt_part_value(t, HF_DT_YEAR) == 2020);
    assert_true(hf_dt_part_value(t, HF_DT_DAY) == 31);
    assert_true(hf_dt_part_value(t, HF_DT_HOUR) == 23);
    t = iso("9999-12-31T23:59:59.999999999");
    assert_true(hf_dt_part_value(t, HF_DT_YEAR) == 9999);
    assert_true(hf_dt_part_value(t, HF_DT_MONTH) == 12);
    t = iso("1969-12-31T23:59:59.9Z");
    assert_true(hf_dt_part_value(t, HF_DT_YEAR) == 1969);
    assert_true(hf_dt_part_value(t, HF_DT_DAYOFWEEK) == 2);                 /* a Wednesday */
    assert_true(hf_dt_part_value(iso("1970-01-01"), HF_DT_DAYOFWEEK) == 3); /* Thursday */
    assert_true(hf_dt_part_value(iso("2024-01-01"), HF_DT_DAYOFWEEK) == 0); /* Monday */
    assert_true(hf_dt_part_value(iso("1900-01-01"), HF_DT_DAYOFWEEK) == 0); /* Monday */
    assert_true(hf_dt_part_value(iso("2100-03-01"), HF_DT_DAYOFWEEK) == 0); /* Monday */
    assert_true(hf_dt_part_value(iso("1970-01-02T06:00"), HF_DT_ELAPSED_DAYS) == 1.25);
    assert_true(hf_dt_part_value(iso("1969-12-31T12:00"), HF_DT_ELAPSED_DAYS) == -0.5);
    assert_true(isnan(hf_dt_part_value(NAN, HF_DT_YEAR)));
    assert_true(isnan(hf_dt_part_value(NAN, HF_DT_ELAPSED_DAYS)));
    for (int k = 1; k <= HF_DT_N_PARTS; k++)
        assert_int_equal(hf_dt_part_from_name(hf_dt_part_name(k)), k);
    assert_null(hf_dt_part_name(0));
    assert_null(hf_dt_part_name(HF_DT_N_PARTS + 1));
    assert_int_equal(hf_dt_part_from_name("week"), HF_DT_NONE);
}

static void test_stated_formats(void **state)
{
    (void)state;
    double t;
    const char *s = "31/01/2024 13:45";
    assert_int_equal(hf_dt_parse_format("%d/%m/%Y %H:%M", s, strlen(s), &t), 1);
    assert_true(t == iso("2024-01-31T13:45"));
    s = "20240131";
    assert_int_equal(hf_dt_parse_format("%Y%m%d", s, strlen(s), &t), 1);
    assert_true(t == iso("2024-01-31"));
    s = "29/02/1900"; /* 1900 is not a leap year */
    assert_int_equal(hf_dt_parse_format("%d/%m/%Y", s, strlen(s), &t), 0);
    s = "31/04/2024";
    assert_int_equal(hf_dt_parse_format("%d/%m/%Y", s, strlen(s), &t), 0);
    s = "31/01/2024 junk";
    assert_int_equal(hf_dt_parse_format("%d/%m/%Y", s, strlen(s), &t), 0);
    s = "hello";
    assert_int_equal(hf_dt_parse_format("%d/%m/%Y", s, strlen(s), &t), 0);
    s = "2024-01-31 10:00 +0530";
    assert_int_equal(hf_dt_parse_format("%Y-%m-%d %H:%M %z", s, strlen(s), &t), 1);
    assert_true(t == iso("2024-01-31T04:30Z"));
    s = "12:30"; /* what the format lacks is 1900-01-01, as Python */
    assert_int_equal(hf_dt_parse_format("%H:%M", s, strlen(s), &t), 1);
    assert_true(t == iso("1900-01-01T12:30"));
    s = "31/12/1969 23:59:59";
    assert_int_equal(hf_dt_parse_format("%d/%m/%Y %H:%M:%S", s, strlen(s), &t), 1);
    assert_true(t == -1.0);
    assert_int_equal(hf_dt_parse(NULL, "2024-01-31", 10, &t), 1);
    assert_int_equal(hf_dt_parse("%Y", "2024-01-31", 10, &t), 0);
    /* a NUL inside the text is not a value */
    assert_int_equal(hf_dt_parse_format("%Y",
                                        "20\0"
                                        "24",
                                        5, &t),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_forms),
        cmocka_unit_test(test_random_against_timegm),
        cmocka_unit_test(test_parts_at_boundaries),
        cmocka_unit_test(test_stated_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
