/* ingest_records.c - the records of an ingest: pass 1 (numbers and the evidence of each column's
 * type), pass 2 (the strings of text columns), bad rows, and the fast path for common records
 * (see ingest_int.h). */
#include "shards/ingest_int.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/csv.h"
#include "shards/datetime.h"
#include "shards/fieldconv.h"
#include "shards/schema_json.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int arena_push(arena *a, const char *p, size_t len, int missing);

/* Reports a bad record: error (HF_EDATA) or, when skipping, a line of rejects.csv. */
static int hf__ingest_bad_row(ctx *c, const hf_csv_record *rec, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int hf__ingest_bad_row(ctx *c, const hf_csv_record *rec, size_t off, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int64_t line, col;
    hf_csv_locate(rec->text, off, rec->line, &line, &col);
    if (!c->skip_bad)
        return hf_error(HF_EDATA, "%s:%lld:%lld: %s", c->cur_file, (long long)line, (long long)col,
                        what);
    int result = hf__ingest_grow((void **)&c->rejected_ord, &c->cap_rejected, c->n_rejected + 1,
                                 sizeof *c->rejected_ord);
    if (result < 0)
        return result;
    c->rejected_ord[c->n_rejected++] = c->nrec;
    char head[64];
    snprintf(head, sizeof head, ",%lld,", (long long)rec->line);
    result = hf__ingest_append_quoted(&c->rejects, &c->rejects_len, &c->rejects_cap, c->cur_file,
                                      strlen(c->cur_file));
    if (result >= 0)
        result =
            hf__ingest_append(&c->rejects, &c->rejects_len, &c->rejects_cap, head, strlen(head));
    if (result >= 0) {
        char full[1200];
        snprintf(full, sizeof full, "%lld:%lld: %s", (long long)line, (long long)col, what);
        result = hf__ingest_append_quoted(&c->rejects, &c->rejects_len, &c->rejects_cap, full,
                                          strlen(full));
    }
    if (result >= 0)
        result = hf__ingest_append(&c->rejects, &c->rejects_len, &c->rejects_cap, ",", 1);
    if (result >= 0)
        result = hf__ingest_append_quoted(&c->rejects, &c->rejects_len, &c->rejects_cap, rec->text,
                                          rec->len);
    if (result >= 0)
        result = hf__ingest_append(&c->rejects, &c->rejects_len, &c->rejects_cap, "\n", 1);
    return result < 0 ? result : 1;
}

static int is_na(const ctx *c, const hf_csv_field *f)
{
    return f->len <= c->na_max && hf_csv_is_na(f->p, f->len, c->na, c->n_na);
}

static const char *type_word(int t)
{
    return t == HF_COL_BOOLEAN ? "true or false" : "a number";
}

/* Predict: one field of an input column into out[0..span) (the shared conversion,
 * shards/fieldconv.h: a datetime column gives its derived features). Returns 0, or the bad_row
 * status. */
static int predict_field(ctx *c, const hf_csv_record *rec, size_t j, const hf_csv_field *f,
                         double *out)
{
    char what[512];
    size_t at = 0;
    if (hf_fieldconv_input(c->fixed, (size_t)c->feat_of_col[j], c->names[j], f->p, f->len, c->na,
                           c->n_na, out, &at, what, sizeof what) == 0)
        return 0;
    return hf__ingest_bad_row(c, rec, f->off + at, "%s", what);
}

/* Predict with the target read (hf_predict_input_opts.read_target): the target field of a
 * record into *out: the class index (classification) or the number (regression). Returns 0, or
 * the bad_row status. */
static int predict_target(ctx *c, const hf_csv_record *rec, size_t j, const hf_csv_field *f,
                          double *out)
{
    const hf_schema *s = c->fixed;
    char shown[256];
    if (is_na(c, f))
        return hf__ingest_bad_row(c, rec, f->off,
                                  "column \"%s\": got a missing value, expected a target value",
                                  c->names[j]);
    if (s->task != HF_TASK_CLASSIFICATION) {
        int num = hf_csv_parse_double(f->p, f->len, out);
        if (num > 0 && !isnan(*out))
            return 0;
        hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
        return hf__ingest_bad_row(c, rec, f->off, "column \"%s\": got \"%s\", expected a %snumber",
                                  c->names[j], shown, num < 0 ? "finite " : "");
    }
    /* The label as written; a number in another form ("1.0") as the ingest formats it ("1"). */
    for (size_t k = 0; k < s->n_classes; k++)
        if (strlen(s->classes[k]) == f->len && memcmp(s->classes[k], f->p, f->len) == 0) {
            *out = (double)k;
            return 0;
        }
    double v;
    if (hf_csv_parse_double(f->p, f->len, &v) > 0 && !isnan(v)) {
        char *t = hf__ingest_format_number(v);
        if (!t)
            return HF_ENOMEM;
        for (size_t k = 0; k < s->n_classes; k++)
            if (strcmp(s->classes[k], t) == 0) {
                free(t);
                *out = (double)k;
                return 0;
            }
        free(t);
    }
    char known[512] = "";
    for (size_t k = 0; k < s->n_classes; k++) {
        size_t l = strlen(known);
        if (l + strlen(s->classes[k]) + 8 >= sizeof known) {
            snprintf(known + l, sizeof known - l, ", ...");
            break;
        }
        snprintf(known + l, sizeof known - l, "%s\"%s\"", k ? ", " : "", s->classes[k]);
    }
    hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
    return hf__ingest_bad_row(c, rec, f->off,
                              "column \"%s\": got the label \"%s\", expected one of the model's "
                              "%zu classes %s",
                              c->names[j], shown, s->n_classes, known);
}

/* Predict: what a record gives besides the features (c->px): the target into px->y[c->nrows]
 * and the texts of the kept columns. Returns 0, or the bad_row status. */
static int predict_extra(ctx *c, const hf_csv_record *rec)
{
    hf__predict_extra *px = c->px;
    int result = HF_OK;
    if (px->target_col >= 0) {
        result = hf__ingest_grow((void **)&px->y, &px->cap_y, c->nrows + 1, sizeof *px->y);
        if (result >= 0)
            result = predict_target(c, rec, (size_t)px->target_col, &c->fields.f[px->target_col],
                                    &px->y[c->nrows]);
        if (result != 0)
            return result;
    }
    for (size_t k = 0; k < px->n_keep; k++) {
        const hf_csv_field *f = &c->fields.f[px->keep_col[k]];
        size_t bad = hf_csv_utf8_check(f->p, f->len);
        if (bad != f->len)
            return hf__ingest_bad_row(
                c, rec, f->off + bad, "column \"%s\": got the byte 0x%02x, expected UTF-8 text",
                c->names[px->keep_col[k]], (unsigned)(unsigned char)f->p[bad]);
        result = arena_push(&px->kept, f->p, f->len, 0);
        if (result < 0)
            return result;
    }
    return 0;
}

/* Pass 1: field j of a record into *out, and its kind (c->kind[j]: 'n' number, 'b' boolean
 * text, 't' other text). Returns 0, 1 when the record is rejected, < 0 on error. */
static int pass1_field(ctx *c, const hf_csv_record *rec, size_t j, const hf_csv_field *f,
                       double *out)
{
    char shown[256];
    int role = c->role[j];
    if (is_na(c, f)) {
        *out = NAN;
        if (role != ROLE_FEATURE)
            return hf__ingest_bad_row(c, rec, f->off,
                                      "column \"%s\": got a missing value, expected a %s value",
                                      c->names[j], role == ROLE_TARGET ? "target" : "non-missing");
        return 0;
    }
    double v;
    if (c->forced[j] == HF__INGEST_DATETIME) {
        /* A stated format may read what looks like a number ("20240131" with %Y%m%d). */
        if (hf_dt_parse(c->dt_format[j], f->p, f->len, &v)) {
            *out = v;
            c->kind[j] = 'd';
            return 0;
        }
        char what[800];
        hf_fieldconv_dt_message(c->names[j], f->p, f->len, c->dt_format[j], what, sizeof what);
        return hf__ingest_bad_row(c, rec, f->off, "%s", what);
    }
    int num = hf_csv_parse_double(f->p, f->len, &v);
    if (num != 0 && c->forced[j] == HF_COL_BOOLEAN) {
        hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
        return hf__ingest_bad_row(c, rec, f->off,
                                  "column \"%s\": got \"%s\", expected true or false", c->names[j],
                                  shown);
    }
    /* inf, 1e400: a number, so the column is not text because of it, but not a value any model
     * can use; only a column forced categorical takes it, as text. */
    if (num < 0 && c->forced[j] != HF_COL_CATEGORICAL) {
        hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
        return hf__ingest_bad_row(c, rec, f->off,
                                  "column \"%s\": got \"%s\", expected a finite number",
                                  c->names[j], shown);
    }
    if (num > 0) {
        hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
        if (isnan(v) && role != ROLE_FEATURE)
            return hf__ingest_bad_row(c, rec, f->off,
                                      "column \"%s\": got a missing value, expected a %s value",
                                      c->names[j], role == ROLE_TARGET ? "target" : "non-missing");
        if (role == ROLE_FOLD && (v != floor(v) || fabs(v) > 1e15))
            return hf__ingest_bad_row(c, rec, f->off,
                                      "column \"%s\": got \"%s\", expected an integer fold number",
                                      c->names[j], shown);
        *out = v;
        c->kind[j] = 'n';
        return 0;
    }
    size_t bad = hf_csv_utf8_check(f->p, f->len);
    if (bad != f->len)
        return hf__ingest_bad_row(c, rec, f->off + bad,
                                  "column \"%s\": got the byte 0x%02x, expected UTF-8 text",
                                  c->names[j], (unsigned)(unsigned char)f->p[bad]);
    int b = hf_csv_parse_bool(f->p, f->len);
    int forced = c->forced[j];
    /* An ISO 8601 date and time: evidence of a datetime column (an order column's time). */
    if (forced < 0 && b < 0 && (role == ROLE_FEATURE || role == ROLE_ORDER) &&
        hf_dt_parse_iso(f->p, f->len, &v)) {
        *out = v;
        c->kind[j] = 'd';
        return 0;
    }
    if ((forced == HF_COL_NUMERIC || forced == HF_COL_BOOLEAN ||
         (forced < 0 && (role == ROLE_FOLD || role == ROLE_ORDER))) &&
        !(forced == HF_COL_BOOLEAN && b >= 0)) {
        hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
        if (forced < 0 && role == ROLE_ORDER)
            return hf__ingest_bad_row(c, rec, f->off,
                                      "column \"%s\": got \"%s\", expected a number or %s",
                                      c->names[j], shown, HF_DT_ISO_EXPECTED);
        return hf__ingest_bad_row(
            c, rec, f->off, "column \"%s\": got \"%s\", expected %s", c->names[j], shown,
            forced == HF_COL_BOOLEAN ? type_word(HF_COL_BOOLEAN) : type_word(HF_COL_NUMERIC));
    }
    *out = b >= 0 ? b : NAN;
    c->kind[j] = b >= 0 ? 'b' : 't';
    return 0;
}

/* Pass 1, a kept record: only now do its values count for type inference (and the first text
 * of the target is remembered for the message of a text target in a regression; only the
 * target's: locating a value scans its record, which for every column of a wide header was
 * quadratic). */
static int note_kinds(ctx *c, const hf_csv_record *rec)
{
    char shown[256];
    for (size_t j = 0; j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0 || !c->kind[j])
            continue;
        if (c->kind[j] == 'n') {
            c->not_bool[s] = 1;
            c->not_dt[s] = 1;
            continue;
        }
        c->not_numeric[s] = 1;
        if (c->kind[j] != 'b')
            c->not_bool[s] = 1;
        if (c->kind[j] != 'd')
            c->not_dt[s] = 1;
        if (!c->first_text[s] && c->role[j] == ROLE_TARGET) {
            const hf_csv_field *f = &c->fields.f[j];
            int64_t line, col;
            hf_csv_locate(rec->text, f->off, rec->line, &line, &col);
            hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
            c->first_text[s] = hf_asprintf("%s:%lld:%lld: column \"%s\": got \"%s\"", c->cur_file,
                                           (long long)line, (long long)col, c->names[j], shown);
            if (!c->first_text[s])
                return HF_ENOMEM;
        }
    }
    return 0;
}

/* Pass 1 and predict: one record. Returns 0 kept, 1 rejected, < 0 error. */
static int handle_record(ctx *c, const hf_csv_record *rec)
{
    const char *reason = NULL;
    size_t off = 0;
    char shown[256];
    int result = hf_csv_split(rec->text, rec->len, c->delim, &c->fields, &reason, &off);
    if (result == HF_ENOMEM)
        return result;
    if (result == 0 && rec->unterminated) {
        result = HF_EDATA;
        reason = "an unterminated quoted field";
    }
    if (result < 0) {
        size_t k = 0;
        for (size_t i = 0; i < off && i < rec->len; i++)
            k += rec->text[i] == c->delim;
        hf_csv_quote_for_message(rec->text + off, rec->len - off, shown, sizeof shown);
        return hf__ingest_bad_row(c, rec, off,
                                  "column \"%s\": got %s (\"%s\"), expected RFC 4180 quoting",
                                  k < c->ncols ? c->names[k] : "?", reason, shown);
    }
    if (c->fields.n != c->ncols) {
        size_t at = c->fields.n > c->ncols ? c->fields.f[c->ncols].off : rec->len;
        return hf__ingest_bad_row(c, rec, at, "got %zu fields, expected %zu (the header's columns)",
                                  c->fields.n, c->ncols);
    }
    result = hf__ingest_grow((void **)&c->cells, &c->cap_cells,
                             (c->nrows + 1) * (c->nslots ? c->nslots : 1), sizeof *c->cells);
    if (result >= 0)
        result = hf__ingest_grow((void **)&c->ord, &c->cap_ord, c->nrows + 1, sizeof *c->ord);
    if (result < 0)
        return result;
    double *row = c->cells + c->nrows * c->nslots;
    for (size_t j = 0; j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0)
            continue;
        c->kind[j] = 0;
        result = c->mode == MODE_PREDICT ? predict_field(c, rec, j, &c->fields.f[j], &row[s])
                                         : pass1_field(c, rec, j, &c->fields.f[j], &row[s]);
        if (result != 0)
            return result;
    }
    if (c->mode == MODE_PASS1 && (result = note_kinds(c, rec)) < 0)
        return result;
    if (c->mode == MODE_PREDICT && c->px && (result = predict_extra(c, rec)) != 0)
        return result;
    c->ord[c->nrows] = c->nrec;
    c->nrows++;
    return 0;
}

static int arena_push(arena *a, const char *p, size_t len, int missing)
{
    int result = hf__ingest_grow((void **)&a->off, &a->cap_off, a->n + 1, sizeof *a->off);
    if (result < 0)
        return result;
    if (missing) {
        a->off[a->n++] = -1;
        return HF_OK;
    }
    result = hf__ingest_grow((void **)&a->buf, &a->cap, a->len + len + 1, 1);
    if (result < 0)
        return result;
    a->off[a->n++] = (int64_t)a->len;
    memcpy(a->buf + a->len, p, len);
    a->buf[a->len + len] = '\0';
    a->len += len + 1;
    return HF_OK;
}

/* Pass 2: collects the strings of text slots of the kept records. */
static int handle_record_pass2(ctx *c, const hf_csv_record *rec)
{
    if (c->pass2_rej < c->n_rejected && c->rejected_ord[c->pass2_rej] == c->nrec) {
        c->pass2_rej++;
        return 1;
    }
    const char *reason;
    size_t off;
    int result = hf_csv_split(rec->text, rec->len, c->delim, &c->fields, &reason, &off);
    if (result < 0 || c->fields.n != c->ncols)
        return hf_error(HF_EIO, "%s:%lld: the record changed between the two passes of the ingest",
                        c->cur_file, (long long)rec->line);
    for (size_t j = 0; j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0 || !c->text_slot[s])
            continue;
        const hf_csv_field *f = &c->fields.f[j];
        result = arena_push(&c->arenas[s], f->p, f->len, is_na(c, f));
        if (result < 0)
            return result;
    }
    c->pass2_row++;
    return 0;
}

/* Fast path: the value of an unquoted field that is not a plain number (the logic of
 * handle_record without its error reports). Returns 1 with row[slot] and kind set, 0 when the
 * field is bad in any way (the general path then reports it). */
static int fast_other_field(ctx *c, size_t j, const char *p, size_t len, double *row)
{
    int s = c->slot[j], role = c->role[j];
    double v;
    c->kind[j] = 0;
    if (len <= c->na_max && hf_csv_is_na(p, len, c->na, c->n_na)) {
        row[s] = NAN;
        return c->mode == MODE_PREDICT || role == ROLE_FEATURE;
    }
    int num = hf_csv_parse_double(p, len, &v);
    if (num < 0)
        return 0; /* not finite: the general path reports it (or takes it as text) */
    if (num > 0) {
        if (c->mode == MODE_PASS1 && isnan(v) && role != ROLE_FEATURE)
            return 0;
        if (c->mode == MODE_PASS1 && role == ROLE_FOLD && (v != floor(v) || fabs(v) > 1e15))
            return 0;
        row[s] = v;
        c->kind[j] = 'n';
        return 1;
    }
    if (c->mode == MODE_PREDICT || hf_csv_utf8_check(p, len) != len)
        return 0;
    int b = hf_csv_parse_bool(p, len);
    int forced = c->forced[j];
    if (forced < 0 && b < 0 && (role == ROLE_FEATURE || role == ROLE_ORDER) &&
        hf_dt_parse_iso(p, len, &v)) {
        row[s] = v;
        c->kind[j] = 'd';
        return 1;
    }
    if (forced == HF_COL_NUMERIC || forced == HF_COL_BOOLEAN || forced == HF__INGEST_DATETIME ||
        (forced < 0 && (role == ROLE_FOLD || role == ROLE_ORDER)))
        return 0;
    row[s] = b >= 0 ? b : NAN;
    c->kind[j] = b >= 0 ? 'b' : 't';
    return 1;
}

/* Pass 2 fast path: collects the text slots of an unquoted kept record. Returns 1 if consumed, 0
 * if the general path must handle it (a rejected record, quotes), < 0 on ENOMEM. */
static int fast_record_pass2(ctx *c, hf_csv_reader *r)
{
    const char *p;
    size_t avail, n_spans = 0;
    if (c->pass2_rej < c->n_rejected && c->rejected_ord[c->pass2_rej] == c->nrec)
        return 0;
    if (!hf_csv_reader_peek(r, &p, &avail))
        return 0;
    size_t used = hf_csv_fast_record(p, avail, c->delim, c->ncols, c->text_col_slot, 1, NULL,
                                     c->spans, &n_spans);
    if (used == 0)
        return 0;
    for (size_t k = 0; k < n_spans; k++) {
        const hf_csv_span *sp = &c->spans[k];
        const char *f = p + sp->off;
        int na = sp->len <= c->na_max && hf_csv_is_na(f, sp->len, c->na, c->n_na);
        int result = arena_push(&c->arenas[c->slot[sp->col]], f, sp->len, na);
        if (result < 0)
            return result;
    }
    hf_csv_reader_skip_line(r, used);
    c->pass2_row++;
    return 1;
}

/* Pass 1 / predict fast path: the record at the reader's position if hf_csv_fast_record takes it
 * and every field passes the checks of handle_record. Returns 1 if consumed, 0 if the general
 * path must handle the record, < 0 on ENOMEM. */
static int fast_record(ctx *c, hf_csv_reader *r)
{
    const char *p;
    size_t avail, n_other = 0;
    char shown[256];
    if (c->mode == MODE_PASS2)
        return fast_record_pass2(c, r);
    if (!hf_csv_reader_peek(r, &p, &avail))
        return 0;
    size_t ns = c->nslots ? c->nslots : 1;
    int result =
        hf__ingest_grow((void **)&c->cells, &c->cap_cells, (c->nrows + 1) * ns, sizeof *c->cells);
    if (result >= 0)
        result = hf__ingest_grow((void **)&c->ord, &c->cap_ord, c->nrows + 1, sizeof *c->ord);
    if (result < 0)
        return result;
    double *row = c->cells + c->nrows * c->nslots;
    size_t used = hf_csv_fast_record(p, avail, c->delim, c->ncols, c->slot, c->fast_empty_na, row,
                                     c->spans, &n_other);
    if (used == 0)
        return 0;
    for (size_t k = 0; k < n_other; k++) {
        const hf_csv_span *sp = &c->spans[k];
        if (!fast_other_field(c, sp->col, p + sp->off, sp->len, row))
            return 0;
    }
    /* Plain numbers are never NaN: a NaN from hf_csv_fast_record is an empty (missing) field. */
    for (size_t k = 0; k < c->n_check; k++) {
        double v = row[c->check_slot[k]];
        if (isnan(v))
            return 0;
        if (c->check_role[k] == ROLE_FOLD && (v != floor(v) || fabs(v) > 1e15))
            return 0;
    }
    if (c->mode == MODE_PASS1) {
        /* The record is kept: only now do its values count for type inference. Text fields
         * were listed in others; every other non-NaN value is a number. */
        if (!c->all_not_bool) {
            /* A boolean's 0/1 is not a number: its slot is skipped. */
            for (size_t k = 0; k < n_other; k++)
                if (c->kind[c->spans[k].col] == 'b')
                    c->is_bool[c->slot[c->spans[k].col]] = 1;
            int all = 1;
            for (size_t s = 0; s < c->nslots; s++) {
                if (!isnan(row[s]) && !c->is_bool[s])
                    c->not_bool[s] = 1;
                all &= c->not_bool[s] != 0;
            }
            c->all_not_bool = all;
            for (size_t k = 0; k < n_other; k++)
                c->is_bool[c->slot[c->spans[k].col]] = 0;
        }
        for (size_t k = 0; k < n_other; k++) {
            const hf_csv_span *sp = &c->spans[k];
            size_t j = sp->col;
            int s = c->slot[j];
            if (c->kind[j] == 'n')
                c->not_dt[s] = 1;
            if (c->kind[j] == 'n' || !c->kind[j])
                continue;
            c->not_numeric[s] = 1;
            if (c->kind[j] == 't') {
                c->not_bool[s] = 1;
                c->not_dt[s] = 1;
            }
            if (!c->first_text[s] && c->role[j] == ROLE_TARGET) {
                int64_t line, col;
                hf_csv_locate(p, sp->off, hf_csv_reader_line(r), &line, &col);
                hf_csv_quote_for_message(p + sp->off, sp->len, shown, sizeof shown);
                c->first_text[s] =
                    hf_asprintf("%s:%lld:%lld: column \"%s\": got \"%s\"", c->cur_file,
                                (long long)line, (long long)col, c->names[j], shown);
                if (!c->first_text[s])
                    return HF_ENOMEM;
            }
        }
        /* The slots that may still be datetime columns: a value that is not a date and time
         * (a number, a boolean) ends that (text did above). The list shrinks to the datetime
         * columns and the columns without a value yet. */
        if (c->n_dt_pending) {
            for (size_t k = 0; k < n_other; k++)
                if (c->kind[c->spans[k].col] == 'd')
                    c->is_bool[c->slot[c->spans[k].col]] = 2;
            size_t w = 0;
            for (size_t q = 0; q < c->n_dt_pending; q++) {
                int s = c->dt_pending[q];
                if (!c->not_dt[s] && (isnan(row[s]) || c->is_bool[s] == 2))
                    c->dt_pending[w++] = s;
                else
                    c->not_dt[s] = 1;
            }
            c->n_dt_pending = w;
            for (size_t k = 0; k < n_other; k++)
                c->is_bool[c->slot[c->spans[k].col]] = 0;
        }
    }
    hf_csv_reader_skip_line(r, used);
    c->ord[c->nrows] = c->nrec;
    c->nrows++;
    return 1;
}

/* Decides whether the fast path applies: pass 1 without boolean-forced columns, or prediction
 * with numeric features only; and no NA token that reads as a plain number. */
static int hf__ingest_setup_fast(ctx *c)
{
    c->fast = 0;
    c->n_check = 0;
    c->fast_empty_na = 0;
    if (c->mode == MODE_PASS2) {
        /* Pass 2 splits records only to collect the fields of text slots. */
        free(c->spans);
        free(c->text_col_slot);
        c->spans = hf_calloc(c->ncols + 1, sizeof *c->spans);
        c->text_col_slot = hf_calloc(c->ncols + 1, sizeof *c->text_col_slot);
        if (!c->spans || !c->text_col_slot)
            return HF_ENOMEM;
        for (size_t j = 0; j < c->ncols; j++)
            c->text_col_slot[j] = c->slot[j] >= 0 && c->text_slot[c->slot[j]] ? c->slot[j] : -1;
        c->fast = 1;
        return HF_OK;
    }
    /* The target and kept columns of a prediction go through handle_record. */
    if (c->mode == MODE_PREDICT && c->px && (c->px->target_col >= 0 || c->px->n_keep > 0))
        return HF_OK;
    for (size_t j = 0; j < c->ncols; j++) {
        if (c->slot[j] < 0)
            continue;
        /* A forced boolean or datetime column must not take a plain number as one. */
        if (c->mode == MODE_PASS1 &&
            (c->forced[j] == HF_COL_BOOLEAN || c->forced[j] == HF__INGEST_DATETIME))
            return HF_OK;
        if (c->mode == MODE_PREDICT &&
            (c->fixed->features[c->feat_of_col[j]].type != HF_COL_NUMERIC ||
             c->fixed->features[c->feat_of_col[j]].source))
            return HF_OK;
    }
    for (size_t i = 0; i < c->n_na; i++) {
        size_t n = strlen(c->na[i]);
        char *t = hf_malloc(n + 2);
        int zero = 0;
        double v;
        if (!t)
            return HF_ENOMEM;
        memcpy(t, c->na[i], n);
        t[n] = '\n';
        t[n + 1] = '\0';
        hf_csv_span sp;
        size_t n_sp = 0;
        size_t used =
            n > 0 ? hf_csv_fast_record(t, n + 1, c->delim, 1, &zero, 0, &v, &sp, &n_sp) : 0;
        free(t);
        if (used > 0 && n_sp == 0)
            return HF_OK; /* an NA token that looks like a number: every value needs is_na */
        if (n == 0)
            c->fast_empty_na = 1;
    }
    free(c->check_slot);
    free(c->check_role);
    free(c->spans);
    free(c->is_bool);
    c->check_slot = hf_calloc(c->ncols + 1, sizeof *c->check_slot);
    c->check_role = hf_calloc(c->ncols + 1, sizeof *c->check_role);
    c->spans = hf_calloc(c->ncols + 1, sizeof *c->spans);
    c->is_bool = hf_calloc(c->ncols + 1, 1);
    if (!c->check_slot || !c->check_role || !c->spans || !c->is_bool)
        return HF_ENOMEM;
    for (size_t j = 0; c->mode == MODE_PASS1 && j < c->ncols; j++) {
        if (c->slot[j] < 0 || c->role[j] == ROLE_FEATURE)
            continue;
        c->check_slot[c->n_check] = c->slot[j];
        c->check_role[c->n_check++] = c->role[j];
    }
    c->fast = 1;
    c->all_not_bool = 0;
    return HF_OK;
}

/* Opens a reader over an item: plain parts through their in-memory buffer (opened on the first
 * pass, kept in the item for the next), compressed parts through a stream. */
static int open_item_reader(ctx *c, item *it, hf_source **src, hf_csv_reader **r)
{
    const part *p = &c->parts[it->part];
    hf_csv_range rg = {.begin = it->whole ? 0 : it->begin,
                       .end = it->end,
                       .at_record_start = it->whole || it->at_record_start,
                       .in_quote = it->in_quote,
                       .line = it->line,
                       .from_begin = !it->whole && !it->at_record_start};
    int result = HF_OK;
    *src = NULL;
    *r = NULL;
    if (p->kind == PART_PLAIN) {
        if (!it->buf) {
            result = hf_source_open(p->open, c->opts, &it->src);
            if (result >= 0)
                result = hf_csv_buffer_open(it->src, 0, it->src->size, &it->buf);
            if (result < 0)
                return result;
        }
        return hf_csv_reader_open_buffer(it->buf, &rg, r);
    }
    hf_csv_stream st;
    rg.from_begin = 0;
    result = hf__ingest_open_part_stream(c, p, 0, src, &st);
    if (result >= 0)
        result = hf_csv_reader_open(st, &rg, r);
    if (result < 0) { /* (the caller closes *src after the reader otherwise) */
        hf_source_close(*src);
        *src = NULL;
    }
    return result;
}

/* Releases the in-memory bytes of the items (after their last pass). */
void hf__ingest_release_items(item *items, size_t n_items)
{
    for (size_t k = 0; items && k < n_items; k++) {
        hf_csv_buffer_free(items[k].buf);
        items[k].buf = NULL;
        hf_source_close(items[k].src);
        items[k].src = NULL;
    }
}

void hf__ingest_free_items(item *items, size_t n_items)
{
    hf__ingest_release_items(items, n_items);
    free(items);
}

/* Parses this rank's items, calling the handler of the current mode for every record. */
int hf__ingest_parse_items(ctx *c, item *items, size_t n_items)
{
    int result = hf__ingest_setup_fast(c);
    c->nrec = 0;
    for (size_t k = 0; result >= 0 && k < n_items; k++) {
        item *it = &items[k];
        const part *p = &c->parts[it->part];
        char nb[1024];
        hf_source *src = NULL;
        hf_csv_reader *r = NULL;
        hf_csv_record rec;
        c->cur_file = hf__ingest_part_name(p, nb, sizeof nb);
        if (c->mode == MODE_PREDICT && c->px) {
            result = hf__ingest_grow((void **)&c->px->item_rec0, &c->px->cap_item_rec0, k + 1,
                                     sizeof *c->px->item_rec0);
            if (result < 0)
                break;
            c->px->item_rec0[k] = c->nrec;
        }
        result = open_item_reader(c, it, &src, &r);
        if (result < 0)
            break;
        if (it->whole) {
            /* Each part starts with the same header as part 0. */
            result = hf_csv_reader_next(r, &rec);
            if (result == 0)
                result = hf_error(HF_EDATA, "%s:1:1: got an empty file, expected a header row",
                                  c->cur_file);
            char **names = NULL;
            size_t n = 0;
            if (result > 0)
                result = hf__ingest_parse_header(c, c->cur_file, &rec, c->delim, &names, &n);
            if (result >= 0) {
                int same = n == c->ncols;
                for (size_t i = 0; same && i < n; i++)
                    same = strcmp(names[i], c->names[i]) == 0;
                if (!same)
                    result = hf_error(HF_EDATA,
                                      "%s:1:1: header: got %zu columns starting \"%s\", "
                                      "expected the %zu columns of %s",
                                      c->cur_file, n, n ? names[0] : "", c->ncols, c->parts[0].uri);
            }
            hf_strv_free(names, n);
        }
        while (result >= 0) {
            if (c->fast) {
                result = fast_record(c, r);
                if (result < 0)
                    break;
                if (result > 0) {
                    c->nrec++;
                    continue;
                }
            }
            result = hf_csv_reader_next(r, &rec);
            if (result <= 0)
                break;
            result = c->mode == MODE_PASS2 ? handle_record_pass2(c, &rec) : handle_record(c, &rec);
            c->nrec++;
        }
        hf_csv_reader_free(r);
        hf_source_close(src);
        src = NULL;
    }
    return result < 0 ? result : HF_OK;
}
