/* test_csv.c - the CSV reader: quoting, line endings, BOM, delimiter detection, NA tokens, gzip,
 * number parsing against strtod (non-finite numbers refused), and the parallel range split
 * simulated at every byte offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/hf.h"
#include "common/rng.h"
#include "shards/csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A parsed record: its line and its fields joined with '\x1f'. */
typedef struct rec_list {
    char **text;
    int64_t *line;
    size_t n, cap;
} rec_list;

static void rl_push(rec_list *l, const hf_csv_record *r, const hf_csv_fields *f, int split_ok)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->text = realloc(l->text, l->cap * sizeof *l->text);
        l->line = realloc(l->line, l->cap * sizeof *l->line);
        assert_non_null(l->text);
        assert_non_null(l->line);
    }
    size_t need = r->len + 16;
    for (size_t i = 0; split_ok && i < f->n; i++)
        need += f->f[i].len + 1;
    char *s = malloc(need);
    assert_non_null(s);
    size_t k = 0;
    if (split_ok) {
        for (size_t i = 0; i < f->n; i++) {
            if (i)
                s[k++] = '\x1f';
            memcpy(s + k, f->f[i].p, f->f[i].len);
            k += f->f[i].len;
        }
    } else {
        memcpy(s, "BAD:", 4);
        memcpy(s + 4, r->text, r->len);
        k = 4 + r->len;
    }
    s[k] = '\0';
    l->text[l->n] = s;
    l->line[l->n] = r->line;
    l->n++;
}

static void rl_free(rec_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->text[i]);
    free(l->text);
    free(l->line);
    memset(l, 0, sizeof *l);
}

static void read_range(hf_source *src, const hf_csv_range *rg, char delim, rec_list *out)
{
    hf_csv_stream st;
    hf_csv_reader *r = NULL;
    hf_csv_fields f = {0};
    hf_csv_record rec;
    assert_int_equal(
        hf_csv_stream_source(src, rg->at_record_start ? rg->begin : rg->begin - 1, &st), 0);
    assert_int_equal(hf_csv_reader_open(st, rg, &r), 0);
    int rc;
    while ((rc = hf_csv_reader_next(r, &rec)) == 1) {
        const char *reason;
        size_t off;
        int ok =
            !rec.unterminated && hf_csv_split(rec.text, rec.len, delim, &f, &reason, &off) == 0;
        rl_push(out, &rec, &f, ok);
    }
    assert_int_equal(rc, 0);
    hf_csv_fields_free(&f);
    hf_csv_reader_free(r);
}

/* Reads the header; returns the data start and the line at it. */
static void read_header(hf_source *src, uint64_t *data_start, int64_t *line, char *delim)
{
    char head[4];
    size_t got = 0;
    assert_int_equal(hf_source_read_at(src, 0, head, sizeof head, &got), 0);
    uint64_t bom = hf_csv_bom_len(head, got);
    hf_csv_stream st;
    hf_csv_reader *r = NULL;
    hf_csv_record rec;
    hf_csv_range rg = {
        .begin = bom, .end = UINT64_MAX, .at_record_start = 1, .line = 1, .block = 64};
    assert_int_equal(hf_csv_stream_source(src, bom, &st), 0);
    assert_int_equal(hf_csv_reader_open(st, &rg, &r), 0);
    assert_int_equal(hf_csv_reader_next(r, &rec), 1);
    *delim = hf_csv_detect_delimiter(rec.text, rec.len);
    *data_start = hf_csv_reader_pos(r);
    *line = hf_csv_reader_line(r);
    hf_csv_reader_free(r);
}

static void parse_serial(const char *data, size_t n, rec_list *out, char *delim_out)
{
    hf_source *src = NULL;
    uint64_t ds;
    int64_t line;
    char delim;
    assert_int_equal(hf_source_open_memory(data, n, "mem.csv", &src), 0);
    read_header(src, &ds, &line, &delim);
    hf_csv_range rg = {
        .begin = ds, .end = UINT64_MAX, .at_record_start = 1, .line = line, .block = 64};
    read_range(src, &rg, delim, out);
    if (delim_out)
        *delim_out = delim;
    hf_source_close(src);
    src = NULL;
}

static const char *const QUOTED_CSV = "id,name,note\r\n"
                                      "1,\"Smith, John\",\"said \"\"hi\"\"\"\r\n"
                                      "2,plain,\"multi\nline\r\nnote\"\r\n"
                                      "\r\n"
                                      "3,\"\",x\n"
                                      "4,\"a\"\"\",\"\n\"\n"
                                      "5,last,\"no newline at end\"";

static void test_quotes_and_crlf(void **state)
{
    (void)state;
    rec_list l = {0};
    char delim;
    parse_serial(QUOTED_CSV, strlen(QUOTED_CSV), &l, &delim);
    assert_int_equal(delim, ',');
    assert_int_equal(l.n, 5);
    assert_string_equal(l.text[0], "1\x1fSmith, John\x1fsaid \"hi\"");
    assert_int_equal(l.line[0], 2);
    assert_string_equal(l.text[1], "2\x1fplain\x1fmulti\nline\r\nnote");
    assert_int_equal(l.line[1], 3);
    assert_string_equal(l.text[2], "3\x1f\x1fx");
    assert_int_equal(l.line[2], 7); /* the blank line 6 is skipped, not counted as a record */
    assert_string_equal(l.text[3], "4\x1f"
                                   "a\"\x1f\n");
    assert_int_equal(l.line[3], 8);
    assert_string_equal(l.text[4], "5\x1flast\x1fno newline at end");
    assert_int_equal(l.line[4], 10);
    rl_free(&l);
}

static void test_bom_and_delimiters(void **state)
{
    (void)state;
    const char *cases[][2] = {{"\xEF\xBB\xBF"
                               "a;b;c\n1;2;3\n",
                               ";"},
                              {"a\tb\tc\n1\t2\t3\n", "\t"},
                              {"a|b|\"c,d,e\"\n1|2|3\n", "|"},
                              {"\"x;y\",b\n1,2\n", ","},
                              {"single\n1\n", ","}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rec_list l = {0};
        char delim;
        parse_serial(cases[i][0], strlen(cases[i][0]), &l, &delim);
        assert_int_equal(delim, cases[i][1][0]);
        assert_int_equal(l.n, 1);
        if (i < 3)
            assert_string_equal(l.text[0], "1\x1f"
                                           "2\x1f"
                                           "3");
        else if (i == 3)
            assert_string_equal(l.text[0], "1\x1f"
                                           "2");
        else
            assert_string_equal(l.text[0], "1");
        rl_free(&l);
    }
    /* The BOM is not part of the first column name. */
    const char *b = "\xEF\xBB\xBF"
                    "name,v\n";
    assert_int_equal(hf_csv_bom_len(b, strlen(b)), 3);
    assert_int_equal(hf_csv_bom_len("name", 4), 0);
}

static void test_split_errors(void **state)
{
    (void)state;
    hf_csv_fields f = {0};
    const char *reason;
    size_t off;
    const char *r1 = "1,\"abc\"x,3";
    assert_int_equal(hf_csv_split(r1, strlen(r1), ',', &f, &reason, &off), HF_EDATA);
    assert_string_equal(reason, "text after a closing quote");
    assert_int_equal(off, 7);
    const char *r2 = "1,ab\"c,3";
    assert_int_equal(hf_csv_split(r2, strlen(r2), ',', &f, &reason, &off), HF_EDATA);
    assert_string_equal(reason, "a quote inside an unquoted field");
    assert_int_equal(off, 4);
    const char *r3 = "1,\"open";
    assert_int_equal(hf_csv_split(r3, strlen(r3), ',', &f, &reason, &off), HF_EDATA);
    assert_string_equal(reason, "an unterminated quoted field");
    assert_int_equal(off, 2);
    const char *r4 = "a,,\"\",";
    assert_int_equal(hf_csv_split(r4, strlen(r4), ',', &f, &reason, &off), 0);
    assert_int_equal(f.n, 4);
    assert_int_equal(f.f[1].len, 0);
    assert_int_equal(f.f[2].len, 0);
    assert_int_equal(f.f[2].quoted, 1);
    assert_int_equal(f.f[3].len, 0);
    assert_int_equal(f.f[3].off, 6);
    hf_csv_fields_free(&f);
    int64_t line, col;
    hf_csv_locate("ab\ncd,ef", 6, 10, &line, &col);
    assert_int_equal(line, 11);
    assert_int_equal(col, 4);
}

static void test_na_bool_utf8(void **state)
{
    (void)state;
    char *na[] = {"", "NA", "NaN", "null", "?"};
    assert_true(hf_csv_is_na("", 0, na, 5));
    assert_true(hf_csv_is_na("NA", 2, na, 5));
    assert_true(hf_csv_is_na("?", 1, na, 5));
    assert_false(hf_csv_is_na("N", 1, na, 5));
    assert_false(hf_csv_is_na("na", 2, na, 5));
    assert_int_equal(hf_csv_parse_bool("True", 4), 1);
    assert_int_equal(hf_csv_parse_bool("FALSE", 5), 0);
    assert_int_equal(hf_csv_parse_bool("yes", 3), -1);
    assert_int_equal(hf_csv_parse_bool("tRue", 4), -1);
    const char *ok = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
    assert_int_equal(hf_csv_utf8_check(ok, strlen(ok)), strlen(ok));
    assert_int_equal(hf_csv_utf8_check("ab\xFF", 3), 2);
    assert_int_equal(hf_csv_utf8_check("ab\0c", 4), 2);         /* NUL */
    assert_int_equal(hf_csv_utf8_check("a\xC3", 2), 1);         /* truncated */
    assert_int_equal(hf_csv_utf8_check("\xC0\xAF", 2), 0);      /* overlong */
    assert_int_equal(hf_csv_utf8_check("x\xED\xA0\x80", 4), 1); /* surrogate */
}

static void check_number(const char *s)
{
    double got = 0, want;
    char *end;
    if (strstr(s, "0x")) {
        /* Hexadecimal floats are C syntax, not CSV numbers (pandas reads them as text). */
        assert_false(hf_csv_parse_double(s, strlen(s), &got));
        return;
    }
    want = strtod(s, &end);
    int ok = hf_csv_parse_double(s, strlen(s), &got);
    if (*end != '\0') {
        if (ok)
            fail_msg("%s: accepted, strtod rejects it", s);
        return;
    }
    if (isinf(want)) {
        /* A number, but not a finite one (inf, or an overflow): refused with HF_EDATA. */
        if (ok != HF_EDATA)
            fail_msg("%s: returned %d, expected HF_EDATA (strtod gives %g)", s, ok, want);
        return;
    }
    if (ok != 1)
        fail_msg("%s: rejected (%d), strtod accepts it", s, ok);
    if (isnan(want)) {
        assert_true(isnan(got));
        return;
    }
    if (memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%s: got %.17g, strtod gives %.17g", s, got, want);
}

/* Non-finite numbers are refused, NaN stays a (missing) number, underflow is a finite 0. */
static void test_numbers_not_finite(void **state)
{
    (void)state;
    const char *refused[] = {"inf",
                             "-inf",
                             "+inf",
                             "INF",
                             "Infinity",
                             "-Infinity",
                             " inf ",
                             "1e400",
                             "-1e400",
                             "1E+309",
                             "1.7976931348623159e308",
                             "0.000001e315",
                             "1e99999999999"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        double v = 42.0;
        if (hf_csv_parse_double(refused[i], strlen(refused[i]), &v) != HF_EDATA)
            fail_msg("\"%s\": accepted, expected HF_EDATA (not finite)", refused[i]);
        assert_true(v == 42.0); /* *out untouched */
    }
    /* 400 digits: about 1e399, beyond DBL_MAX; 308 digits (about 1e307) is finite. */
    char digits[402];
    memset(digits, '9', 400);
    digits[400] = '\0';
    double v = 0;
    assert_int_equal(hf_csv_parse_double(digits, 400, &v), HF_EDATA);
    digits[0] = '-';
    assert_int_equal(hf_csv_parse_double(digits, 400, &v), HF_EDATA);
    memset(digits, '9', 308);
    digits[308] = '\0';
    assert_int_equal(hf_csv_parse_double(digits, 308, &v), 1);
    assert_true(isfinite(v) && v > 9.9e306);
    /* Finite at the edges: DBL_MAX, underflow to 0, the smallest subnormal. */
    assert_int_equal(hf_csv_parse_double("1.7976931348623157e308", 22, &v), 1);
    assert_true(v == 1.7976931348623157e308);
    assert_int_equal(hf_csv_parse_double("1e-400", 6, &v), 1);
    assert_true(v == 0.0);
    assert_int_equal(hf_csv_parse_double("-1e-400", 7, &v), 1);
    assert_true(v == 0.0 && signbit(v));
    assert_int_equal(hf_csv_parse_double("4.9e-324", 8, &v), 1);
    assert_true(v > 0.0);
    /* nan (any case, signed) is still a number whose value is NaN: a missing value. */
    const char *nans[] = {"nan", "NaN", "NAN", "-nan", "+nan"};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        v = 0;
        assert_int_equal(hf_csv_parse_double(nans[i], strlen(nans[i]), &v), 1);
        assert_true(isnan(v));
    }
    /* Words that merely start like one stay text. */
    assert_int_equal(hf_csv_parse_double("infinite", 8, &v), 0);
    assert_int_equal(hf_csv_parse_double(".inf", 4, &v), 0);
    /* The fast path never stores a non-finite value: 1e400 and inf are listed for the general
     * path, which reports them; the plain numbers around them are parsed. */
    const char *rec = "1.5,1e400,inf,-2\n";
    int slot[4] = {0, 1, 2, 3};
    double row[4] = {0, 7, 7, 0};
    hf_csv_span others[4];
    size_t n_others = 0;
    size_t len = strlen(rec);
    char *buf = calloc(len + HF_CSV_PAD, 1);
    assert_non_null(buf);
    memcpy(buf, rec, len);
    assert_int_equal(hf_csv_fast_record(buf, len, ',', 4, slot, 1, row, others, &n_others), len);
    assert_int_equal(n_others, 2);
    assert_int_equal(others[0].col, 1);
    assert_int_equal(others[1].col, 2);
    assert_true(row[0] == 1.5 && row[3] == -2.0);
    assert_true(!isinf(row[1]) && !isinf(row[2]));
    free(buf);
}

static void test_numbers_match_strtod(void **state)
{
    (void)state;
    const char *fixed[] = {"0",
                           "-0",
                           "1",
                           "+1.5",
                           ".5",
                           "5.",
                           "1e10",
                           "1E-5",
                           "-2.5e+3",
                           "123456789012345678",
                           "9007199254740993",
                           "1.7976931348623157e308",
                           "4.9e-324",
                           "0.1",
                           "0.30000000000000004",
                           "123456789012345678901234567890",
                           "1e400",
                           "1e-400",
                           "inf",
                           "-Infinity",
                           "nan",
                           "1e",
                           "e5",
                           ".",
                           "1.2.3",
                           "12a",
                           "0x10",
                           "--1",
                           "1e+",
                           "000000000000000000000000001.5",
                           "3.14159265358979323846264338327950288"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_number(fixed[i]);
    double v;
    assert_true(hf_csv_parse_double(" 2.5 ", 5, &v));
    assert_true(v == 2.5);
    assert_false(hf_csv_parse_double("", 0, &v));
    assert_false(hf_csv_parse_double("1e", 2, &v));
    /* Random decimal strings of every length and exponent, compared bit for bit with strtod. */
    hf_rng rng;
    hf_rng_init(&rng, 42, 0, 0);
    char buf[64];
    for (int t = 0; t < 200000; t++) {
        int nd = 1 + (int)(hf_rng_uniform(&rng) * 24);
        int dot = (int)(hf_rng_uniform(&rng) * (nd + 1));
        size_t k = 0;
        if (hf_rng_uniform(&rng) < 0.3)
            buf[k++] = '-';
        for (int d = 0; d < nd; d++) {
            if (d == dot)
                buf[k++] = '.';
            buf[k++] = (char)('0' + (int)(hf_rng_uniform(&rng) * 10));
        }
        if (hf_rng_uniform(&rng) < 0.5)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "e%d",
                                  (int)(hf_rng_uniform(&rng) * 80) - 40);
        buf[k] = '\0';
        check_number(buf);
    }
}

static unsigned char *gzip_bytes(const char *data, size_t n, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void read_all_stream(hf_csv_stream st, rec_list *out)
{
    hf_csv_reader *r = NULL;
    hf_csv_fields f = {0};
    hf_csv_record rec;
    hf_csv_range rg = {.begin = 0, .end = UINT64_MAX, .at_record_start = 1, .line = 1, .block = 64};
    assert_int_equal(hf_csv_reader_open(st, &rg, &r), 0);
    int rc;
    while ((rc = hf_csv_reader_next(r, &rec)) == 1) {
        const char *reason;
        size_t off;
        int ok = !rec.unterminated && hf_csv_split(rec.text, rec.len, ',', &f, &reason, &off) == 0;
        rl_push(out, &rec, &f, ok);
    }
    assert_int_equal(rc, 0);
    hf_csv_fields_free(&f);
    hf_csv_reader_free(r);
}

static void test_gzip(void **state)
{
    (void)state;
    /* Two gzip members back to back: a valid .gz holding the concatenation. */
    const char *a = "id,name,note\n1,\"x,y\",\"line\nbreak\"\n";
    const char *b = "2,z,w\n";
    size_t la, lb;
    unsigned char *ga = gzip_bytes(a, strlen(a), &la);
    unsigned char *gb = gzip_bytes(b, strlen(b), &lb);
    unsigned char *both = malloc(la + lb);
    assert_non_null(both);
    memcpy(both, ga, la);
    memcpy(both + la, gb, lb);
    hf_source *src = NULL;
    hf_csv_stream st;
    assert_int_equal(hf_source_open_memory(both, la + lb, "mem.csv.gz", &src), 0);
    assert_int_equal(hf_csv_stream_gzip(src, &st), 0);
    rec_list l = {0};
    read_all_stream(st, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.text[1], "1\x1fx,y\x1fline\nbreak");
    assert_string_equal(l.text[2], "2\x1fz\x1fw");
    assert_int_equal(l.line[2], 4);
    rl_free(&l);
    hf_source_close(src);
    src = NULL;
    /* Truncated data is an error naming the file. */
    assert_int_equal(hf_source_open_memory(ga, la - 6, "cut.csv.gz", &src), 0);
    assert_int_equal(hf_csv_stream_gzip(src, &st), 0);
    hf_csv_reader *r = NULL;
    hf_csv_range rg = {.begin = 0, .end = UINT64_MAX, .at_record_start = 1, .line = 1, .block = 64};
    hf_csv_record rec;
    assert_int_equal(hf_csv_reader_open(st, &rg, &r), 0);
    hf_error_clear();
    int rc;
    while ((rc = hf_csv_reader_next(r, &rec)) == 1)
        ;
    assert_int_equal(rc, HF_EDATA);
    assert_non_null(strstr(hf_error_message(), "cut.csv.gz"));
    hf_error_clear();
    hf_csv_reader_free(r);
    hf_source_close(src);
    src = NULL;
    free(ga);
    free(gb);
    free(both);
}

/* Simulates P ranks: each counts quotes/newlines in its byte range, the exclusive prefix sums give
 * the quote parity and line at its start, and it reads the records that start in its range. */
static void parse_split(const char *data, size_t n, int P, rec_list *out)
{
    hf_source *src = NULL;
    uint64_t ds;
    int64_t line0;
    char delim;
    assert_int_equal(hf_source_open_memory(data, n, "mem.csv", &src), 0);
    read_header(src, &ds, &line0, &delim);
    int64_t q_before = 0, nl_before = 0;
    for (int r = 0; r < P; r++) {
        uint64_t b = ds + (uint64_t)r * (n - ds) / (uint64_t)P;
        uint64_t e = ds + (uint64_t)(r + 1) * (n - ds) / (uint64_t)P;
        hf_csv_range rg = {.begin = b,
                           .end = e,
                           .at_record_start = b == ds,
                           .in_quote = (int)(q_before & 1),
                           .line = line0 + nl_before,
                           .block = 32};
        read_range(src, &rg, delim, out);
        int64_t q, nl;
        hf_csv_count(data + b, e - b, &q, &nl);
        q_before += q;
        nl_before += nl;
    }
    hf_source_close(src);
    src = NULL;
}

static void test_range_split_every_offset(void **state)
{
    (void)state;
    const char *docs[] = {QUOTED_CSV,
                          "a,b\n\"x\ny\",\"\"\"\"\n\"\n\",2\n3,\"4\"\n\n\n5,\"6\n\n7\"\n",
                          "h\n\"\"\n\"\"\"\"\n\"\n\"\nq\n\"unterminated\nrest"};
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        size_t n = strlen(docs[d]);
        rec_list serial = {0};
        parse_serial(docs[d], n, &serial, NULL);
        assert_true(serial.n >= 3);
        for (int P = 2; P <= 4; P++) {
            /* Shift the split points over every byte: ranges are derived from prefix lengths. */
            for (size_t cut = strchr(docs[d], '\n') - docs[d] + 1; cut < n; cut++) {
                rec_list par = {0};
                parse_split(docs[d], cut, P, &par);
                rec_list ser = {0};
                parse_serial(docs[d], cut, &ser, NULL);
                assert_int_equal(par.n, ser.n);
                for (size_t i = 0; i < par.n; i++) {
                    assert_string_equal(par.text[i], ser.text[i]);
                    assert_int_equal(par.line[i], ser.line[i]);
                }
                rl_free(&par);
                rl_free(&ser);
            }
            rec_list par = {0};
            parse_split(docs[d], n, P, &par);
            assert_int_equal(par.n, serial.n);
            for (size_t i = 0; i < par.n; i++) {
                assert_string_equal(par.text[i], serial.text[i]);
                assert_int_equal(par.line[i], serial.line[i]);
            }
            rl_free(&par);
        }
        rl_free(&serial);
    }
}

/* Two-way split of the full document at every single byte offset (not only P equal ranges). */
static void test_split_at_every_byte(void **state)
{
    (void)state;
    const char *doc = QUOTED_CSV;
    size_t n = strlen(doc);
    rec_list serial = {0};
    parse_serial(doc, n, &serial, NULL);
    hf_source *src = NULL;
    uint64_t ds;
    int64_t line0;
    char delim;
    assert_int_equal(hf_source_open_memory(doc, n, "mem.csv", &src), 0);
    read_header(src, &ds, &line0, &delim);
    for (uint64_t s1 = ds; s1 <= n; s1++) {
        for (uint64_t s2 = s1; s2 <= n; s2++) {
            uint64_t cuts[4] = {ds, s1, s2, n};
            rec_list par = {0};
            int64_t qb = 0, nb = 0;
            for (int r = 0; r < 3; r++) {
                hf_csv_range rg = {.begin = cuts[r],
                                   .end = cuts[r + 1],
                                   .at_record_start = cuts[r] == ds,
                                   .in_quote = (int)(qb & 1),
                                   .line = line0 + nb,
                                   .block = 16};
                read_range(src, &rg, delim, &par);
                int64_t q, nl;
                hf_csv_count(doc + cuts[r], cuts[r + 1] - cuts[r], &q, &nl);
                qb += q;
                nb += nl;
            }
            assert_int_equal(par.n, serial.n);
            for (size_t i = 0; i < par.n; i++) {
                assert_string_equal(par.text[i], serial.text[i]);
                assert_int_equal(par.line[i], serial.line[i]);
            }
            rl_free(&par);
        }
    }
    hf_source_close(src);
    src = NULL;
    rl_free(&serial);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quotes_and_crlf),
        cmocka_unit_test(test_bom_and_delimiters),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_na_bool_utf8),
        cmocka_unit_test(test_numbers_match_strtod),
        cmocka_unit_test(test_numbers_not_finite),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_range_split_every_offset),
        cmocka_unit_test(test_split_at_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
