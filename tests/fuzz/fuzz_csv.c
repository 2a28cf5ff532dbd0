/* fuzz_csv.c - the CSV reader (shards/csv.c) as the ingest drives it, and its byte-range split.
 *
 * Input: an 8-byte control header, then the CSV bytes.
 *   byte 0     number of cut points k (mod 8): the data is read as k + 1 byte ranges
 *   byte 1     read block size of the stream readers (16, 17, 31, 64, 256, 4096, 65536; 255: the
 *              default, 0 = 8 MiB, rare because each reader then allocates 8 MiB)
 *   byte 2     flags: 1 the source is a file in the scratch directory (mapped, as a local file
 *              is ingested) instead of memory; 2 the delimiter is ',' instead of the detected one;
 *              4 empty fields are NA for the fast path; 8 the fast path lists every field
 *              (ingest pass 2) instead of parsing numbers; 16 columns with an odd index are
 *              skipped by the fast path
 *   bytes 3-7  seed of the cut points (offsets in the data, fuzzer-chosen)
 *
 * What is checked, besides memory safety and UB (a mismatch aborts):
 *  1. The header is read as the ingest reads it; then the data records are read serially, by a
 *     stream reader and by a buffer reader: the two agree record by record (text, line, position,
 *     unterminated flag, fields or the split error).
 *  2. Differential split: the data read as k + 1 ranges split at the fuzzer's offsets (quote
 *     parity and line number from hf_csv_count over the bytes before each range, as the ranks'
 *     exscan gives them), with buffer readers (from_begin, as ingest) and with stream readers
 *     (starting at begin - 1, as the unit tests): the concatenated records equal the serial ones.
 *  3. The fast path: a pass that tries hf_csv_fast_record at every record start before the
 *     general reader (as ingest's parse_items does) sees the same records; a record the fast path
 *     takes is one line, has exactly the header's field count, its numbers are what
 *     hf_csv_parse_double gives for the split fields, its listed fields are the split fields.
 *  4. Numbers: for every field that is a plain decimal number, hf_csv_parse_double accepts it
 *     and gives exactly strtod's value, or refuses it (HF_EDATA) exactly when strtod overflows
 *     to infinity; inf/infinity are refused, never stored; hf_csv_utf8_check agrees with a
 *     reference decoder. */
#include "fuzz_util.h"

#include "common/hf.h"
#include "shards/csv.h"
#include "shards/source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTROL 8
#define MAX_CUTS 8

typedef struct rec {
    char *text;
    size_t len;
    int64_t line;
    uint64_t pos;
    int unterminated;
    int split_rc;
    char *fields; /* each field as 8-byte length + bytes; or the split error */
    size_t fields_len;
    size_t n_fields;
} rec;

typedef struct rec_list {
    rec *r;
    size_t n, cap;
} rec_list;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

static void rl_free(rec_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->r[i].text);
        free(l->r[i].fields);
    }
    free(l->r);
    memset(l, 0, sizeof *l);
}

static void push(rec_list *l, const hf_csv_record *r, char delim, hf_csv_fields *f)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->r = xrealloc(l->r, l->cap * sizeof *l->r);
    }
    rec *x = &l->r[l->n++];
    memset(x, 0, sizeof *x);
    x->text = xrealloc(NULL, r->len + 1);
    memcpy(x->text, r->text, r->len);
    x->text[r->len] = '\0';
    x->len = r->len;
    x->line = r->line;
    x->pos = r->pos;
    x->unterminated = r->unterminated;
    const char *reason = NULL;
    size_t off = 0;
    x->split_rc = hf_csv_split(r->text, r->len, delim, f, &reason, &off);
    hf_fuzz_check(x->split_rc == HF_OK || x->split_rc == HF_EDATA, "hf_csv_split returned %d",
                  x->split_rc);
    if (x->split_rc != HF_OK) {
        hf_fuzz_check(reason != NULL && off <= r->len, "split error without reason or offset");
        x->fields = xrealloc(NULL, strlen(reason) + 32);
        x->fields_len = (size_t)sprintf(x->fields, "%s@%zu", reason, off);
        return;
    }
    size_t need = 0;
    for (size_t i = 0; i < f->n; i++)
        need += 8 + f->f[i].len;
    x->fields = xrealloc(NULL, need);
    x->n_fields = f->n;
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        uint64_t len = f->f[i].len;
        hf_fuzz_check(f->f[i].off <= r->len && (f->f[i].quoted || f->f[i].off + len <= r->len),
                      "field %zu at %zu+%zu outside its record of %zu bytes", i, f->f[i].off,
                      f->f[i].len, r->len);
        memcpy(x->fields + k, &len, 8);
        memcpy(x->fields + k + 8, f->f[i].p, f->f[i].len);
        k += 8 + f->f[i].len;
    }
    x->fields_len = k;
}

/* Reads every record of a reader into l; the reader is freed. */
static void drain(hf_csv_reader *r, char delim, hf_csv_fields *f, rec_list *l)
{
    hf_csv_record rec;
    int rc;
    while ((rc = hf_csv_reader_next(r, &rec)) == 1) {
        hf_fuzz_check(rec.len == 0 || rec.text != NULL, "record without text");
        push(l, &rec, delim, f);
    }
    hf_fuzz_check_status(rc, "hf_csv_reader_next");
    hf_fuzz_check(rc == 0, "hf_csv_reader_next returned %d on an in-memory source", rc);
    hf_csv_reader_free(r);
}

static void same_record(const rec *a, const rec *b, const char *what, size_t i)
{
    hf_fuzz_check(a->len == b->len && memcmp(a->text, b->text, a->len) == 0,
                  "%s: record %zu text differs (%zu vs %zu bytes)", what, i, a->len, b->len);
    hf_fuzz_check(a->line == b->line, "%s: record %zu line %lld vs %lld", what, i,
                  (long long)a->line, (long long)b->line);
    hf_fuzz_check(a->pos == b->pos, "%s: record %zu position %llu vs %llu", what, i,
                  (unsigned long long)a->pos, (unsigned long long)b->pos);
    hf_fuzz_check(a->unterminated == b->unterminated, "%s: record %zu unterminated %d vs %d", what,
                  i, a->unterminated, b->unterminated);
    hf_fuzz_check(a->split_rc == b->split_rc && a->fields_len == b->fields_len &&
                      memcmp(a->fields, b->fields, a->fields_len) == 0,
                  "%s: record %zu fields differ", what, i);
}

static void same_list(const rec_list *a, const rec_list *b, const char *what)
{
    hf_fuzz_check(a->n == b->n, "%s: %zu records vs %zu serially", what, b->n, a->n);
    for (size_t i = 0; i < a->n; i++)
        same_record(&a->r[i], &b->r[i], what, i);
}

/* A plain decimal number: [+-]digits[.digits][(e|E)[+-]digits] with at least one digit. */
static int plain_decimal(const char *p, size_t len)
{
    size_t i = 0, digits = 0;
    if (i < len && (p[i] == '+' || p[i] == '-'))
        i++;
    while (i < len && p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && p[i] >= '0' && p[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return 0;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9')
            i++, ed++;
        if (ed == 0)
            return 0;
    }
    return i == len;
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void check_number(const char *p, size_t len)
{
    double v = 0;
    int ok = hf_csv_parse_double(p, len, &v);
    if (!plain_decimal(p, len)) {
        if (!ok || len > 200)
            return;
        /* Accepted though not plain: blanks around a number or nan; refused as not finite
         * (HF_EDATA): inf, infinity. */
        size_t b = 0, e = len;
        while (b < e && (p[b] == ' ' || p[b] == '\t'))
            b++;
        while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
            e--;
        char word[256];
        memcpy(word, p + b, e - b);
        word[e - b] = '\0';
        char *end = NULL;
        double ref = strtod(word, &end);
        hf_fuzz_check(e > b && *end == '\0' && strpbrk(word, "xX(") == NULL &&
                          (ok == HF_EDATA ? isinf(ref)
                                          : ok == 1 && isfinite(ref) == isfinite(v) &&
                                                same_double(ref, v) && !isinf(v)),
                      "hf_csv_parse_double gives %d for \"%s\", %.17g (strtod: %.17g)", ok, word, v,
                      ref);
        return;
    }
    char *s = hf_fuzz_strndup((const uint8_t *)p, len);
    char *end = NULL;
    double ref = strtod(s, &end);
    /* A plain decimal is a finite number exactly as strtod reads it, or HF_EDATA when strtod
     * overflows to infinity. */
    hf_fuzz_check(isinf(ref) ? ok == HF_EDATA : ok == 1 && same_double(ref, v),
                  "hf_csv_parse_double(\"%s\"): %d %.17g, strtod %.17g", s, ok, v, ref);
    free(s);
}

/* Reference UTF-8 validation (RFC 3629), NUL refused as hf_csv_utf8_check does. */
static size_t utf8_ref(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i < n)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

static void check_values(const rec_list *l, hf_csv_fields *f, char delim)
{
    for (size_t i = 0; i < l->n; i++) {
        const rec *x = &l->r[i];
        const char *reason;
        size_t off;
        if (hf_csv_split(x->text, x->len, delim, f, &reason, &off) != HF_OK)
            continue;
        for (size_t j = 0; j < f->n; j++) {
            check_number(f->f[j].p, f->f[j].len);
            size_t got = hf_csv_utf8_check(f->f[j].p, f->f[j].len);
            size_t want = utf8_ref((const unsigned char *)f->f[j].p, f->f[j].len);
            hf_fuzz_check(got == want, "hf_csv_utf8_check: %zu, reference %zu", got, want);
        }
    }
}

/* Pass 3: the fast path tried at every record start, the general reader otherwise. */
static void fast_pass(hf_csv_reader *r, char delim, size_t ncols, unsigned flags,
                      const rec_list *serial, hf_csv_fields *f)
{
    int empty_na = (flags & 4) != 0, list_all = (flags & 8) != 0;
    int *slot = xrealloc(NULL, (ncols + 1) * sizeof *slot);
    double *row = xrealloc(NULL, (ncols + 1) * sizeof *row);
    hf_csv_span *spans = xrealloc(NULL, (ncols + 1) * sizeof *spans);
    for (size_t j = 0; j < ncols; j++)
        slot[j] = (flags & 16) && (j & 1) ? -1 : (int)j;
    size_t i = 0;
    for (;;) {
        const char *p;
        size_t avail, n_other = 0;
        if (hf_csv_reader_peek(r, &p, &avail)) {
            hf_fuzz_check(p[avail] == '\0', "hf_csv_reader_peek: no NUL after the bytes");
            uint64_t pos = hf_csv_reader_pos(r);
            int64_t line = hf_csv_reader_line(r);
            size_t used = hf_csv_fast_record(p, avail, delim, ncols, slot, empty_na,
                                             list_all ? NULL : row, spans, &n_other);
            if (used > 0) {
                hf_fuzz_check(used <= avail, "fast path used %zu of %zu bytes", used, avail);
                hf_fuzz_check(i < serial->n, "fast path took a record after the last one");
                const rec *x = &serial->r[i];
                size_t body = used - (used >= 2 && p[used - 2] == '\r' ? 2 : 1);
                hf_fuzz_check(x->pos == pos && x->line == line && p[used - 1] == '\n' &&
                                  body == x->len && memcmp(p, x->text, body) == 0,
                              "fast path took %zu bytes at %llu, the record there is %zu bytes at "
                              "%llu",
                              used, (unsigned long long)pos, x->len, (unsigned long long)x->pos);
                const char *reason;
                size_t off;
                int rc = hf_csv_split(x->text, x->len, delim, f, &reason, &off);
                hf_fuzz_check(rc == HF_OK && f->n == ncols && !x->unterminated,
                              "fast path took record %zu, which does not split into %zu fields", i,
                              ncols);
                size_t k = 0;
                for (size_t j = 0; j < ncols; j++) {
                    if (slot[j] < 0)
                        continue;
                    const hf_csv_field *fj = &f->f[j];
                    if (k < n_other && spans[k].col == j) {
                        hf_fuzz_check(spans[k].off == fj->off && spans[k].len == fj->len &&
                                          !fj->quoted,
                                      "fast path span of column %zu: %zu+%zu, split %zu+%zu", j,
                                      spans[k].off, spans[k].len, fj->off, fj->len);
                        k++;
                        continue;
                    }
                    hf_fuzz_check(!list_all, "fast path did not list column %zu", j);
                    double v = NAN;
                    if (fj->len == 0)
                        hf_fuzz_check(empty_na && isnan(row[slot[j]]),
                                      "fast path: empty column %zu not NaN", j);
                    else
                        hf_fuzz_check(hf_csv_parse_double(fj->p, fj->len, &v) > 0 &&
                                          same_double(v, row[slot[j]]) &&
                                          plain_decimal(fj->p, fj->len),
                                      "fast path: column %zu is %.17g, the field parses as %.17g",
                                      j, row[slot[j]], v);
                }
                hf_fuzz_check(k == n_other, "fast path listed %zu fields, %zu matched", n_other, k);
                hf_csv_reader_skip_line(r, used);
                i++;
                continue;
            }
        }
        hf_csv_record rec;
        int rc = hf_csv_reader_next(r, &rec);
        hf_fuzz_check_status(rc, "hf_csv_reader_next");
        if (rc <= 0)
            break;
        hf_fuzz_check(i < serial->n, "mixed pass: more records than serially");
        rec_list one = {0};
        push(&one, &rec, delim, f);
        same_record(&serial->r[i], &one.r[0], "fast-path pass", i);
        rl_free(&one);
        i++;
    }
    hf_fuzz_check(i == serial->n, "fast-path pass: %zu records, %zu serially", i, serial->n);
    hf_csv_reader_free(r);
    free(slot);
    free(row);
    free(spans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t blocks[8] = {16, 17, 31, 64, 256, 4096, 65536, 16};
    if (size < CONTROL)
        return 0;
    size_t k = data[0] % MAX_CUTS, block = data[1] == 255 ? 0 : blocks[data[1] % 8];
    unsigned flags = data[2];
    uint64_t seed = 0;
    memcpy(&seed, data + 3, 5);
    const char *doc = (const char *)data + CONTROL;
    size_t n = size - CONTROL;

    hf_source *src = NULL;
    int rc = flags & 1
                 ? hf_source_open(hf_fuzz_write_file("data.csv", data + CONTROL, n), NULL, &src)
                 : hf_source_open_memory(doc, n, "mem.csv", &src);
    hf_fuzz_check_status(rc, "opening the source");
    if (rc < 0)
        return 0;
    hf_fuzz_check(src->size == n, "source size %llu, expected %zu", (unsigned long long)src->size,
                  n);

    /* The header, as ingest.c read_header does. */
    hf_csv_stream st;
    hf_csv_reader *r = NULL;
    hf_csv_record head;
    hf_csv_fields fields = {0};
    hf_csv_range rg = {
        .begin = 0, .end = UINT64_MAX, .at_record_start = 1, .line = 1, .block = block};
    rc = hf_csv_stream_source(src, 0, &st);
    if (rc >= 0)
        rc = hf_csv_reader_open(st, &rg, &r);
    hf_fuzz_check_status(rc, "opening the header reader");
    if (rc < 0) {
        hf_source_close(src);
        return 0;
    }
    rc = hf_csv_reader_next(r, &head);
    hf_fuzz_check_status(rc, "reading the header");
    if (rc <= 0) {
        hf_csv_reader_free(r);
        hf_source_close(src);
        return 0;
    }
    size_t bom = hf_csv_bom_len(head.text, head.len);
    char delim = flags & 2 ? ',' : hf_csv_detect_delimiter(head.text + bom, head.len - bom);
    const char *reason;
    size_t off;
    size_t ncols =
        hf_csv_split(head.text + bom, head.len - bom, delim, &fields, &reason, &off) == HF_OK
            ? fields.n
            : 1;
    uint64_t ds = hf_csv_reader_pos(r);
    int64_t line0 = hf_csv_reader_line(r);
    hf_csv_reader_free(r);
    hf_fuzz_check(ds >= head.len && ds <= n, "data start %llu after a header of %zu bytes in %zu",
                  (unsigned long long)ds, head.len, n);

    /* 1. Serial: a stream reader and a buffer reader from the data start. */
    rec_list serial = {0}, bufl = {0};
    rg = (hf_csv_range){
        .begin = ds, .end = UINT64_MAX, .at_record_start = 1, .line = line0, .block = block};
    rc = hf_csv_stream_source(src, ds, &st);
    if (rc >= 0)
        rc = hf_csv_reader_open(st, &rg, &r);
    hf_fuzz_check(rc == HF_OK, "opening the serial reader: %s", hf_error_message());
    drain(r, delim, &fields, &serial);
    hf_csv_buffer *buf = NULL;
    rc = hf_csv_buffer_open(src, ds, n, &buf);
    if (rc >= 0)
        rc = hf_csv_reader_open_buffer(buf, &rg, &r);
    hf_fuzz_check(rc == HF_OK, "opening the buffer reader: %s", hf_error_message());
    drain(r, delim, &fields, &bufl);
    hf_csv_buffer_free(buf);
    same_list(&serial, &bufl, "buffer reader");
    rl_free(&bufl);
    check_values(&serial, &fields, delim);

    /* 2. The split at fuzzer-chosen offsets. */
    uint64_t cuts[MAX_CUTS + 2];
    size_t nc = 0;
    cuts[nc++] = ds;
    uint64_t x = seed;
    for (size_t c = 0; c < k && n > ds; c++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        cuts[nc++] = ds + (x >> 17) % (n - ds + 1);
    }
    /* Sorted (insertion sort: at most 9 entries). */
    for (size_t a = 1; a < nc; a++)
        for (size_t b = a; b > 1 && cuts[b - 1] > cuts[b]; b--) {
            uint64_t t = cuts[b];
            cuts[b] = cuts[b - 1];
            cuts[b - 1] = t;
        }
    cuts[nc++] = n;
    rec_list by_buffer = {0}, by_stream = {0};
    int64_t q_before = 0, nl_before = 0;
    for (size_t c = 0; c + 1 < nc; c++) {
        uint64_t b = cuts[c], e = cuts[c + 1];
        if (e > b) {
            int in_quote = (int)(q_before & 1);
            int at_start = b == ds || (doc[b - 1] == '\n' && !in_quote);
            hf_csv_range br = {.begin = b,
                               .end = e,
                               .at_record_start = at_start,
                               .in_quote = in_quote,
                               .line = line0 + nl_before,
                               .from_begin = !at_start};
            rc = hf_csv_buffer_open(src, b, e, &buf);
            if (rc >= 0)
                rc = hf_csv_reader_open_buffer(buf, &br, &r);
            hf_fuzz_check(rc == HF_OK, "opening range buffer reader: %s", hf_error_message());
            drain(r, delim, &fields, &by_buffer);
            hf_csv_buffer_free(buf);
            hf_csv_range sr = br;
            sr.from_begin = 0;
            sr.block = block;
            rc = hf_csv_stream_source(src, at_start ? b : b - 1, &st);
            if (rc >= 0)
                rc = hf_csv_reader_open(st, &sr, &r);
            hf_fuzz_check(rc == HF_OK, "opening range stream reader: %s", hf_error_message());
            drain(r, delim, &fields, &by_stream);
        }
        int64_t q = 0, nl = 0;
        hf_csv_count(doc + b, (size_t)(e - b), &q, &nl);
        q_before += q;
        nl_before += nl;
    }
    same_list(&serial, &by_buffer, "split, buffer readers");
    same_list(&serial, &by_stream, "split, stream readers");
    rl_free(&by_buffer);
    rl_free(&by_stream);

    /* 3. The fast path beside the general reader, over a buffer of the whole data. */
    rg.block = 0;
    rc = hf_csv_buffer_open(src, ds, n, &buf);
    if (rc >= 0)
        rc = hf_csv_reader_open_buffer(buf, &rg, &r);
    hf_fuzz_check(rc == HF_OK, "opening the fast-path reader: %s", hf_error_message());
    fast_pass(r, delim, ncols, flags, &serial, &fields);
    hf_csv_buffer_free(buf);

    rl_free(&serial);
    hf_csv_fields_free(&fields);
    hf_source_close(src);
    hf_error_clear();
    return 0;
}
