/* serve_body.c - request bodies into rows and predictions into response bodies for
 * `hyperfold serve` (serve.h). Every field goes through hf_fieldconv, the conversion predict uses,
 * so that a row gets the same feature values, hence the same predictions, bit for bit. */
#define _GNU_SOURCE
#include "coordinator/serve.h"

#include "common/csvw.h"
#include "common/hf.h"
#include "shards/csv.h"
#include "shards/fieldconv.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The rows being built: n x p doubles, grown by doubling. */
typedef struct rows {
    const hf_schema *s;
    double *X;
    size_t n, cap;
    char *err;
    size_t err_cap;
} rows;

static int bad(rows *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(rows *r, const char *fmt, ...)
{
    char raw[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* Column names and values come from the request: a control byte among them is written
     * escaped, so that the message stays one line (the 400's body, the request log). */
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)raw; *p && k + 5 < r->err_cap; p++) {
        if (*p == '\n') {
            r->err[k++] = '\\';
            r->err[k++] = 'n';
        } else if (*p == '\r') {
            r->err[k++] = '\\';
            r->err[k++] = 'r';
        } else if (*p < 0x20 || *p == 0x7f) {
            k += (size_t)snprintf(r->err + k, r->err_cap - k, "\\x%02x", *p);
        } else {
            r->err[k++] = (char)*p;
        }
    }
    if (r->err_cap)
        r->err[k] = '\0';
    return 1;
}

/* A new row (NaN-filled), or NULL when out of memory. */
static double *add_row(rows *r)
{
    size_t p = r->s->n_features ? r->s->n_features : 1;
    if (r->n == r->cap) {
        /* 4 rows to start: a single-row request's matrix stays a small allocation */
        size_t cap = r->cap ? r->cap * 2 : 4;
        double *X = realloc(r->X, cap * p * sizeof *X);
        if (!X)
            return NULL;
        r->X = X;
        r->cap = cap;
    }
    double *row = r->X + r->n++ * p;
    for (size_t k = 0; k < p; k++)
        row[k] = NAN;
    return row;
}

/* Field text of the input column whose first feature is k, of data row `row` (1-based), into
 * out[0..span) (a datetime column: its derived features). */
static int convert(rows *r, size_t row, size_t k, const char *p, size_t len, double *out)
{
    size_t n_na, at;
    char *const *na = hf_fieldconv_default_na(&n_na);
    char what[512];
    if (hf_fieldconv_input(r->s, k, hf_schema_input_name(r->s, k), p, len, na, n_na, out, &at, what,
                           sizeof what) == 0)
        return 0;
    return bad(r, "row %zu: %s", row, what);
}

/* 1 if `name` is a column the model knows but does not use as a feature (the target, the fold,
 * group or order column): predict accepts and ignores those. */
static int known_other(const hf_schema *s, const char *name)
{
    return (s->target && strcmp(name, s->target) == 0) ||
           (s->fold_column && strcmp(name, s->fold_column) == 0) ||
           (s->group_column && strcmp(name, s->group_column) == 0) ||
           (s->order_column && strcmp(name, s->order_column) == 0);
}

/* ---- CSV ------------------------------------------------------------------------------------- */

/* The next record of body[*pos..len) (the CSV record rules of csv.h: a '\n' outside quotes ends
 * it, a '\r' before it is dropped, blank lines are skipped). Returns 1 with rec/rlen, 0 at the
 * end. */
static int next_record(const char *body, size_t len, size_t *pos, const char **rec, size_t *rlen)
{
    while (*pos < len) {
        size_t b = *pos, i = b;
        int q = 0;
        while (i < len && (body[i] != '\n' || q)) {
            if (body[i] == '"')
                q = !q;
            i++;
        }
        size_t e = i;
        *pos = i < len ? i + 1 : len;
        if (e > b && body[e - 1] == '\r')
            e--;
        if (e > b) {
            *rec = body + b;
            *rlen = e - b;
            return 1;
        }
    }
    return 0;
}

static int parse_csv(rows *r, int header, const char *body, size_t len)
{
    const hf_schema *s = r->s;
    size_t p = s->n_features, pos = hf_csv_bom_len(body, len), ncols = hf_schema_n_inputs(s),
           row_no = 0;
    hf_csv_fields f = {0};
    long *feat = NULL; /* column -> first feature of its input column, -1: ignored */
    char delim = ',';
    const char *rec, *reason;
    size_t rlen, off;
    int result = 0;
    if (header) {
        if (!next_record(body, len, &pos, &rec, &rlen)) {
            result = bad(r, "body: no header line, expected the column names (the request said "
                            "header=present)");
            goto out;
        }
        delim = hf_csv_detect_delimiter(rec, rlen);
        if (hf_csv_split(rec, rlen, delim, &f, &reason, &off) < 0) {
            result = bad(r, "header: %s at byte %zu", reason, off + 1);
            goto out;
        }
        ncols = f.n;
        feat = malloc((ncols + 1) * sizeof *feat);
        char *seen = calloc(p + 1, 1);
        if (!feat || !seen) {
            free(seen);
            result = HF_ENOMEM;
            goto out;
        }
        for (size_t j = 0; j < ncols && result == 0; j++) {
            char *nm = hf_strndup(f.f[j].p, f.f[j].len);
            if (!nm) {
                result = HF_ENOMEM;
                break;
            }
            long k = hf_schema_find_input(s, nm);
            feat[j] = k;
            if (k >= 0 && seen[k])
                result = bad(r, "header: column \"%s\" appears twice", nm);
            else if (k >= 0)
                seen[k] = 1;
            else if (!known_other(s, nm))
                result = bad(r,
                             "header: unknown column \"%s\", expected only the model's features "
                             "(and optionally its target)",
                             nm);
            free(nm);
        }
        for (size_t k = 0; k < p && result == 0; k += hf_schema_input_span(s, k))
            if (!seen[k])
                result = bad(r,
                             "header: missing feature column \"%s\", expected every feature of "
                             "the model's schema",
                             hf_schema_input_name(s, k));
        free(seen);
        if (result)
            goto out;
    }
    while (result == 0 && next_record(body, len, &pos, &rec, &rlen)) {
        row_no++;
        if (hf_csv_split(rec, rlen, delim, &f, &reason, &off) < 0) {
            result = bad(r, "row %zu: %s at byte %zu", row_no, reason, off + 1);
            break;
        }
        if (f.n != ncols) {
            result = bad(r, "row %zu: got %zu fields, expected %zu (%s)", row_no, f.n, ncols,
                         header ? "the header's columns" : "the model's features, in order");
            break;
        }
        double *x = add_row(r);
        if (!x) {
            result = HF_ENOMEM;
            break;
        }
        /* Without a header the fields are the input columns in order: column j's first feature
         * is the one after column j-1's span (hf_schema_input_span). */
        size_t next = 0;
        for (size_t j = 0; j < ncols && result == 0; j++) {
            long k = feat ? feat[j] : (long)next;
            if (!feat)
                next += hf_schema_input_span(s, next);
            if (k >= 0)
                result = convert(r, row_no, (size_t)k, f.f[j].p, f.f[j].len, &x[k]);
        }
    }
out:
    hf_csv_fields_free(&f);
    free(feat);
    return result;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

/* A JSON value of feature k of row `row` into *out: null is missing; a string, true/false and a
 * number that is not for a numeric column go through the text conversion (a number as the
 * shortest text that reads back to it); a number for a numeric column is its value (jansson reads
 * it correctly rounded, as hf_csv_parse_double does). */
static int json_value(rows *r, size_t row, size_t k, json_t *v, double *out)
{
    char buf[64];
    const hf_column *col = &r->s->features[k];
    switch (json_typeof(v)) {
    case JSON_NULL:
        *out = NAN;
        return 0;
    case JSON_STRING:
        return convert(r, row, k, json_string_value(v), json_string_length(v), out);
    case JSON_TRUE:
    case JSON_FALSE:
        return convert(r, row, k, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5, out);
    case JSON_INTEGER:
        if (col->type == HF_COL_NUMERIC && !col->source) {
            *out = (double)json_integer_value(v);
            return 0;
        }
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return convert(r, row, k, buf, strlen(buf), out);
    case JSON_REAL: {
        double d = json_real_value(v);
        if (col->type == HF_COL_NUMERIC && !col->source) {
            *out = d;
            return 0;
        }
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        return convert(r, row, k, buf, strlen(buf), out);
    }
    default:
        return bad(r, "row %zu: column \"%s\": got a JSON %s, expected %s", row,
                   hf_schema_input_name(r->s, k), json_is_array(v) ? "array" : "object",
                   col->source                   ? "a date and time (a string)"
                   : col->type == HF_COL_NUMERIC ? "a number"
                   : col->type == HF_COL_BOOLEAN ? "true or false"
                                                 : "a category (a string)");
    }
}

/* One record: an object {"col": v, ...} (every feature, optionally the target) or an array of the
 * features' values in the model's order. */
static int json_record(rows *r, size_t row, json_t *rec)
{
    const hf_schema *s = r->s;
    double *x = add_row(r);
    if (!x)
        return HF_ENOMEM;
    if (json_is_array(rec)) {
        size_t n_in = hf_schema_n_inputs(s), i = 0;
        if (json_array_size(rec) != n_in)
            return bad(r, "row %zu: got %zu values, expected %zu (the model's features, in order)",
                       row, json_array_size(rec), n_in);
        for (size_t k = 0; k < s->n_features; k += hf_schema_input_span(s, k)) {
            int result = json_value(r, row, k, json_array_get(rec, i++), &x[k]);
            if (result)
                return result;
        }
        return 0;
    }
    if (!json_is_object(rec))
        return bad(r,
                   "row %zu: got a JSON %s, expected a record (an object of column: value) or "
                   "an array of the features' values",
                   row,
                   json_is_string(rec)   ? "string"
                   : json_is_number(rec) ? "number"
                                         : "scalar");
    const char *key;
    json_t *v;
    size_t found = 0;
    json_object_foreach(rec, key, v)
    {
        long k = hf_schema_find_input(s, key);
        if (k < 0) {
            if (known_other(s, key))
                continue;
            return bad(r,
                       "row %zu: unknown column \"%s\", expected only the model's features (and "
                       "optionally its target)",
                       row, key);
        }
        found++;
        int result = json_value(r, row, (size_t)k, v, &x[k]);
        if (result)
            return result;
    }
    if (found != hf_schema_n_inputs(s))
        for (size_t k = 0; k < s->n_features; k += hf_schema_input_span(s, k))
            if (!json_object_get(rec, hf_schema_input_name(s, k)))
                return bad(r,
                           "row %zu: missing column \"%s\", expected every feature of the model's "
                           "schema (null for a missing value)",
                           row, hf_schema_input_name(s, k));
    return 0;
}

static int json_error(rows *r, const char *what, const json_error_t *je)
{
    return bad(r, "%s: not valid JSON at line %d column %d: %s", what, je->line, je->column,
               je->text);
}

static int parse_json(rows *r, const char *body, size_t len)
{
    const hf_schema *s = r->s;
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_DECODE_ANY, &je);
    if (!doc)
        return json_error(r, "body", &je);
    int result = 0;
    json_t *list = json_is_object(doc) ? json_object_get(doc, "instances") : doc;
    if (json_is_array(list)) {
        for (size_t i = 0; i < json_array_size(list) && result == 0; i++) {
            json_t *rec = json_array_get(list, i);
            /* SageMaker's {"instances": [{"features": [...]}]} */
            json_t *feats = json_is_object(rec) && json_object_size(rec) == 1
                                ? json_object_get(rec, "features")
                                : NULL;
            result = json_record(r, i + 1,
                                 feats && hf_schema_find_input(s, "features") < 0 ? feats : rec);
        }
    } else if (json_is_object(doc) && !list) {
        /* A columns object {"col": [v, ...], ...}: every feature, arrays of one length. */
        size_t n = 0;
        int have_n = 0;
        const char *key;
        json_t *col;
        json_object_foreach(doc, key, col)
        {
            long k = hf_schema_find_input(s, key);
            if (k < 0 && !known_other(s, key)) {
                result = bad(r,
                             "body: unknown column \"%s\", expected only the model's features "
                             "(and optionally its target)",
                             key);
                break;
            }
            if (!json_is_array(col)) {
                result = bad(r, "body: column \"%s\": got a JSON %s, expected an array of values",
                             key, json_is_object(col) ? "object" : "scalar");
                break;
            }
            if (have_n && json_array_size(col) != n) {
                result = bad(r,
                             "body: column \"%s\": got %zu values, expected %zu as the other "
                             "columns",
                             key, json_array_size(col), n);
                break;
            }
            n = json_array_size(col);
            have_n = 1;
        }
        for (size_t k = 0; k < s->n_features && result == 0; k += hf_schema_input_span(s, k))
            if (!json_object_get(doc, hf_schema_input_name(s, k)))
                result = bad(r,
                             "body: missing column \"%s\", expected every feature of the model's "
                             "schema",
                             hf_schema_input_name(s, k));
        for (size_t i = 0; i < n && result == 0; i++) {
            double *x = add_row(r);
            if (!x) {
                result = HF_ENOMEM;
                break;
            }
            for (size_t k = 0; k < s->n_features && result == 0; k += hf_schema_input_span(s, k))
                result = json_value(
                    r, i + 1, k,
                    json_array_get(json_object_get(doc, hf_schema_input_name(s, k)), i), &x[k]);
        }
    } else {
        result = bad(r,
                     "body: got a JSON %s, expected a list of records, an object of columns "
                     "or {\"instances\": [...]}",
                     json_is_object(list) ? "object under \"instances\"" : "scalar");
    }
    json_decref(doc);
    return result;
}

static int parse_jsonl(rows *r, const char *body, size_t len)
{
    size_t pos = 0, row = 0;
    int result = 0;
    while (pos < len && result == 0) {
        const char *nl = memchr(body + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - body) : len, b = pos;
        pos = nl ? e + 1 : len;
        while (b < e && (body[b] == ' ' || body[b] == '\t' || body[b] == '\r'))
            b++;
        if (b == e)
            continue;
        row++;
        json_error_t je;
        json_t *rec = json_loadb(body + b, e - b, JSON_DECODE_ANY, &je);
        if (!rec) {
            char what[32];
            snprintf(what, sizeof what, "row %zu", row);
            return json_error(r, what, &je);
        }
        result = json_record(r, row, rec);
        json_decref(rec);
    }
    return result;
}

int hf_serve_parse(const hf_schema *s, hf_serve_fmt fmt, int header, const char *body, size_t len,
                   double **X, size_t *n, char *err, size_t err_cap)
{
    rows r = {.s = s, .err = err, .err_cap = err_cap};
    err[0] = '\0';
    int result = fmt == HF_SERVE_CSV    ? parse_csv(&r, header, body, len)
                 : fmt == HF_SERVE_JSON ? parse_json(&r, body, len)
                                        : parse_jsonl(&r, body, len);
    if (result != 0) {
        free(r.X);
        *X = NULL;
        *n = 0;
        return result;
    }
    *X = r.X;
    *n = r.n;
    return 0;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* The response body, built in one malloc'ed buffer grown by doubling (no stdio stream: a
 * single-row answer is a few dozen bytes). `failed` is set when out of memory. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
} sbuf;

static int sb_reserve(sbuf *b, size_t n)
{
    if (b->failed)
        return 0;
    if (b->len + n + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_putc(sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

/* A number as predict writes it: %.17g (hf_csvw_put_pred). */
static void sb_g17(sbuf *b, double v)
{
    char t[40];
    int n = snprintf(t, sizeof t, "%.17g", v);
    sb_put(b, t, n > 0 ? (size_t)n : 0);
}

/* A CSV field as hf_csvw_put_field writes it: quoted, with doubled quotes, when it holds a comma,
 * quote, CR or LF. */
static void sb_csv_field(sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        sb_puts(b, s);
        return;
    }
    sb_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            sb_putc(b, '"');
        sb_putc(b, *s);
    }
    sb_putc(b, '"');
}

static void put_json_string(sbuf *b, const char *prefix, const char *s)
{
    sb_putc(b, '"');
    for (const char *part = prefix; part; part = part == prefix ? s : NULL) {
        for (const unsigned char *c = (const unsigned char *)part; *c; c++) {
            char t[8];
            if (*c == '"' || *c == '\\') {
                t[0] = '\\';
                t[1] = (char)*c;
                sb_put(b, t, 2);
            } else if (*c < 0x20) {
                snprintf(t, sizeof t, "\\u%04x", *c);
                sb_put(b, t, 6);
            } else {
                sb_putc(b, (char)*c);
            }
        }
    }
    sb_putc(b, '"');
}

static void put_json_number(sbuf *b, double v)
{
    if (isfinite(v))
        sb_g17(b, v);
    else
        sb_puts(b, "null");
}

static void put_json_row(sbuf *b, const hf_schema *s, size_t no, const double *p)
{
    sb_puts(b, "{\"prediction\":");
    if (s->task == HF_TASK_CLASSIFICATION) {
        put_json_string(b, "", s->classes[hf_pred_class(p, no)]);
        for (size_t k = 0; k < no; k++) {
            sb_putc(b, ',');
            put_json_string(b, "proba_", s->classes[k]);
            sb_putc(b, ':');
            put_json_number(b, p[k]);
        }
    } else {
        put_json_number(b, p[0]);
    }
    sb_putc(b, '}');
}

int hf_serve_format(const hf_schema *s, size_t no, const double *pred, size_t n, hf_serve_fmt fmt,
                    char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    sbuf b = {0};
    int cls = s->task == HF_TASK_CLASSIFICATION;
    if (fmt == HF_SERVE_CSV) {
        /* As predict.c writes its output file (hf_csvw_put_pred_header, hf_csvw_put_pred): the
         * header, then one line per row. */
        sb_puts(&b, "prediction");
        for (size_t k = 0; cls && k < s->n_classes; k++) {
            char *h = hf_asprintf("proba_%s", s->classes[k]);
            if (!h)
                b.failed = 1;
            sb_putc(&b, ',');
            sb_csv_field(&b, h ? h : "");
            free(h);
        }
        sb_putc(&b, '\n');
        for (size_t i = 0; i < n; i++) {
            const double *p = pred + i * no;
            if (cls) {
                sb_csv_field(&b, s->classes[hf_pred_class(p, no)]);
                for (size_t k = 0; k < no; k++) {
                    sb_putc(&b, ',');
                    sb_g17(&b, p[k]);
                }
            } else {
                sb_g17(&b, p[0]);
            }
            sb_putc(&b, '\n');
        }
    } else if (fmt == HF_SERVE_JSON) {
        sb_puts(&b, "{\"predictions\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_putc(&b, ',');
            put_json_row(&b, s, no, pred + i * no);
        }
        sb_puts(&b, "]}\n");
    } else {
        for (size_t i = 0; i < n; i++) {
            put_json_row(&b, s, no, pred + i * no);
            sb_putc(&b, '\n');
        }
    }
    if (b.failed || !sb_reserve(&b, 0)) { /* no rows in JSON lines: an empty body, not NULL */
        free(b.p);
        return HF_ENOMEM;
    }
    b.p[b.len] = '\0';
    *out = b.p;
    *len = b.len;
    return 0;
}
