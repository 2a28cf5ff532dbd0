/* fieldconv.c - the conversion of one feature field's text into a model's value (fieldconv.h). */
#include "shards/fieldconv.h"

#include "shards/csv.h"
#include "shards/datetime.h"
#include "shards/ingest_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

char *const *hf_fieldconv_default_na(size_t *n_na)
{
    *n_na = HF__INGEST_N_DEFAULT_NA;
    return hf__ingest_default_na;
}

int hf_fieldconv(const hf_column *col, const char *name, const char *p, size_t len, char *const *na,
                 size_t n_na, double *out, size_t *bad_off, char *what, size_t what_cap)
{
    char shown[256];
    *bad_off = 0;
    if (hf_csv_is_na(p, len, na, n_na)) {
        *out = NAN;
        return 0;
    }
    if (col->type == HF_COL_NUMERIC) {
        int num = hf_csv_parse_double(p, len, out);
        if (num > 0)
            return 0;
        hf_csv_quote_for_message(p, len, shown, sizeof shown);
        snprintf(what, what_cap, "column \"%s\": got \"%s\", expected a %snumber", name, shown,
                 num < 0 ? "finite " : "");
        return 1;
    }
    if (col->type == HF_COL_BOOLEAN) {
        int b = hf_csv_parse_bool(p, len);
        if (b >= 0) {
            *out = b;
            return 0;
        }
        hf_csv_quote_for_message(p, len, shown, sizeof shown);
        snprintf(what, what_cap, "column \"%s\": got \"%s\", expected true or false", name, shown);
        return 1;
    }
    size_t bad = hf_csv_utf8_check(p, len);
    if (bad != len) {
        *bad_off = bad;
        snprintf(what, what_cap, "column \"%s\": got the byte 0x%02x, expected UTF-8 text", name,
                 (unsigned)(unsigned char)p[bad]);
        return 1;
    }
    /* Categorical: binary search in the sorted dictionary (bytewise); unknown -> -1. */
    long lo = 0, hi = (long)col->n_categories - 1;
    *out = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        const char *cat = col->categories[mid];
        size_t cl = strlen(cat);
        int cmp = memcmp(cat, p, cl < len ? cl : len);
        if (cmp == 0)
            cmp = cl < len ? -1 : cl > len ? 1 : 0;
        if (cmp == 0) {
            *out = (double)mid;
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

void hf_fieldconv_dt_message(const char *name, const char *p, size_t len, const char *fmt,
                             char *what, size_t what_cap)
{
    char shown[256], fmt_shown[256];
    hf_csv_quote_for_message(p, len, shown, sizeof shown);
    if (fmt) {
        /* the format is the spec's text: a control byte in it is shown escaped too */
        hf_csv_quote_for_message(fmt, strlen(fmt), fmt_shown, sizeof fmt_shown);
        snprintf(what, what_cap,
                 "column \"%s\": got \"%s\", expected a date and time in the format \"%s\" "
                 "(data.datetime_formats)",
                 name, shown, fmt_shown);
    } else
        snprintf(what, what_cap, "column \"%s\": got \"%s\", expected %s", name, shown,
                 HF_DT_ISO_EXPECTED);
}

int hf_fieldconv_input(const hf_schema *s, size_t k, const char *name, const char *p, size_t len,
                       char *const *na, size_t n_na, double *out, size_t *bad_off, char *what,
                       size_t what_cap)
{
    const hf_column *col = &s->features[k];
    if (!col->source)
        return hf_fieldconv(col, name, p, len, na, n_na, out, bad_off, what, what_cap);
    size_t span = hf_schema_input_span(s, k);
    double t = NAN;
    *bad_off = 0;
    if (!hf_csv_is_na(p, len, na, n_na) && !hf_dt_parse(col->format, p, len, &t)) {
        hf_fieldconv_dt_message(name, p, len, col->format, what, what_cap);
        return 1;
    }
    for (size_t q = 0; q < span; q++)
        out[q] = hf_dt_part_value(t, s->features[k + q].part);
    return 0;
}
