/* datetime.h - date and time values of a datetime column: the text into a time, the time into the
 * derived numeric features (year, month, day, day of week, hour, elapsed days). docs/shards.md.
 *
 * A time is a double: seconds since 1970-01-01T00:00:00Z (UTC, proleptic Gregorian calendar, no
 * leap seconds), with the guarantee that floor(t) is the exact whole second of the text, so that
 * the calendar parts of a time one nanosecond before midnight are those of that day.
 *
 * Not collective; no allocation; thread-safe (serve converts in many threads). */
#ifndef HF_DATETIME_H
#define HF_DATETIME_H

#include <stddef.h>

/* The derived features of a datetime column, in the order ingest emits them (the feature
 * "COL.<name>" for each). Values stored in hf_column.part; 0 is "not derived". */
enum hf_dt_part {
    HF_DT_NONE = 0,
    HF_DT_YEAR,
    HF_DT_MONTH,        /* 1..12 */
    HF_DT_DAY,          /* 1..31 */
    HF_DT_DAYOFWEEK,    /* Monday = 0 .. Sunday = 6, as pandas' dt.dayofweek */
    HF_DT_HOUR,         /* 0..23 */
    HF_DT_ELAPSED_DAYS, /* (t - 1970-01-01T00:00:00Z) in days, fractional */
    HF_DT_N_PARTS = HF_DT_ELAPSED_DAYS
};

/* "year", "month", "day", "dayofweek", "hour", "elapsed_days"; NULL for another value. */
const char *hf_dt_part_name(int part);
/* The part of a name above, or HF_DT_NONE. */
int hf_dt_part_from_name(const char *name);

/* What an ISO 8601 value must look like, for messages. */
#define HF_DT_ISO_EXPECTED                                                                         \
    "an ISO 8601 date and time (YYYY-MM-DD, optionally [T or space]HH:MM[:SS[.fraction]] and Z "   \
    "or +HH:MM)"

/* Parses p[0..len) as ISO 8601 into *t (see above): YYYY-MM-DD (year 0001..9999), optionally
 * followed by 'T' or one space and HH:MM, HH:MM:SS or HH:MM:SS.f (1 to 9 fraction digits), then
 * optionally 'Z', +HH:MM, -HH:MM, +HHMM or -HHMM (the offset is subtracted: the time is UTC).
 * Days are checked against the month (leap years: divisible by 4, not by 100 unless by 400),
 * hours 0..23, minutes 0..59, seconds 0..59, offsets up to 23:59. Nothing else (no leading or
 * trailing blanks, no week or ordinal dates). Returns 1 parsed, 0 not a value of this form. */
int hf_dt_parse_iso(const char *p, size_t len, double *t);

/* Parses p[0..len) with the strptime(3) format `fmt` (C locale) into *t, read as UTC unless the
 * format has %z (then the offset is subtracted); fields the format lacks default as Python's
 * strptime: 1900-01-01 00:00:00. The whole text must be consumed and the date must exist
 * (31/02 is refused). Returns 1 parsed, 0 not. */
int hf_dt_parse_format(const char *fmt, const char *p, size_t len, double *t);

/* Parses with `fmt` (NULL: ISO 8601). */
int hf_dt_parse(const char *fmt, const char *p, size_t len, double *t);

/* The derived value `part` of the time t (NAN for NAN). */
double hf_dt_part_value(double t, int part);

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12, d 1..31). */
long long hf_dt_days_from_civil(long long y, unsigned m, unsigned d);

#endif
