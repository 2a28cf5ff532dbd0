/* datetime.c - date and time texts into times and derived features (datetime.h).
 *
 * ISO 8601 is parsed by hand rather than with strptime(3): strptime has no portable way to read a
 * fraction of a second or a "+05:30" offset (glibc's %z takes "+0530" only since 2.26 and never
 * reads fractions), it accepts what ISO does not (leading blanks, one-digit fields, 31 February,
 * which it leaves to mktime to roll over), and its result depends on the locale. The grammar here
 * is small and exact, and a value parses the same on every rank and in every thread. A stated
 * format (data.datetime_formats) is what strptime is for, with timegm(3) for UTC. */
#define _GNU_SOURCE
#include "shards/datetime.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static const char *const k_part_names[] = {NULL,        "year", "month",       "day",
                                           "dayofweek", "hour", "elapsed_days"};

const char *hf_dt_part_name(int part)
{
    return part >= 1 && part <= HF_DT_N_PARTS ? k_part_names[part] : NULL;
}

int hf_dt_part_from_name(const char *name)
{
    for (int k = 1; name && k <= HF_DT_N_PARTS; k++)
        if (strcmp(name, k_part_names[k]) == 0)
            return k;
    return HF_DT_NONE;
}

/* Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms), exact for the
 * proleptic Gregorian calendar over the whole int64 range used here. */
long long hf_dt_days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const long long era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

static int is_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(long long y, unsigned m)
{
    static const unsigned k[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : k[m - 1];
}

/* n digits at p[*i] into *v. */
static int digits(const char *p, size_t len, size_t *i, int n, long *v)
{
    long x = 0;
    for (int k = 0; k < n; k++, (*i)++) {
        if (*i >= len || p[*i] < '0' || p[*i] > '9')
            return 0;
        x = x * 10 + (p[*i] - '0');
    }
    *v = x;
    return 1;
}

/* Whole seconds and a fraction in [0, 1) into the double of datetime.h: sec + frac, never rounded
 * up to the next whole second. */
static double make_time(long long sec, double frac)
{
    double t = (double)sec + frac;
    if (frac > 0 && t >= (double)sec + 1.0)
        t = nextafter((double)sec + 1.0, -INFINITY);
    return t;
}

int hf_dt_parse_iso(const char *p, size_t len, double *t)
{
    size_t i = 0;
    long y, mo, d, h = 0, mi = 0, s = 0, oh = 0, om = 0;
    double frac = 0;
    int sign = 0;
    if (!digits(p, len, &i, 4, &y) || i >= len || p[i++] != '-' || !digits(p, len, &i, 2, &mo) ||
        i >= len || p[i++] != '-' || !digits(p, len, &i, 2, &d))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > (long)days_in_month(y, (unsigned)mo))
        return 0;
    if (i < len) {
        if (p[i] != 'T' && p[i] != ' ')
            return 0;
        i++;
        if (!digits(p, len, &i, 2, &h) || i >= len || p[i++] != ':' || !digits(p, len, &i, 2, &mi))
            return 0;
        if (i < len && p[i] == ':') {
            i++;
            if (!digits(p, len, &i, 2, &s))
                return 0;
            if (i < len && p[i] == '.') {
                i++;
                size_t b = i;
                double scale = 0.1;
                while (i < len && p[i] >= '0' && p[i] <= '9' && i - b < 9) {
                    frac += (p[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == b || (i < len && p[i] >= '0' && p[i] <= '9'))
                    return 0;
            }
        }
        if (h > 23 || mi > 59 || s > 59)
            return 0;
        if (i < len && p[i] == 'Z') {
            i++;
        } else if (i < len && (p[i] == '+' || p[i] == '-')) {
            sign = p[i++] == '-' ? -1 : 1;
            if (!digits(p, len, &i, 2, &oh))
                return 0;
            if (i < len && p[i] == ':')
                i++;
            if (!digits(p, len, &i, 2, &om) || oh > 23 || om > 59)
                return 0;
        }
        if (i != len)
            return 0;
    }
    long long sec = hf_dt_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL + h * 3600LL +
                    mi * 60LL + s - sign * (oh * 3600LL + om * 60LL);
    *t = make_time(sec, frac);
    return 1;
}

int hf_dt_parse_format(const char *fmt, const char *p, size_t len, double *t)
{
    char buf[256];
    if (len >= sizeof buf || memchr(p, '\0', len))
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_mday = 1; /* 1900-01-01 00:00:00 where the format says nothing, as Python */
    const char *end = strptime(buf, fmt, &tm);
    if (!end || *end)
        return 0;
    long gmtoff = tm.tm_gmtoff;
    struct tm want = tm;
    time_t tt = timegm(&tm);
    struct tm back;
    if (tt == (time_t)-1 && !(want.tm_year == 69 && want.tm_mon == 11 && want.tm_mday == 31))
        return 0;
    if (!gmtime_r(&tt, &back) || back.tm_year != want.tm_year || back.tm_mon != want.tm_mon ||
        back.tm_mday != want.tm_mday || back.tm_hour != want.tm_hour ||
        back.tm_min != want.tm_min || back.tm_sec != want.tm_sec)
        return 0; /* a date that does not exist (31/02), rolled over by timegm */
    *t = (double)((long long)tt - gmtoff);
    return 1;
}

int hf_dt_parse(const char *fmt, const char *p, size_t len, double *t)
{
    return fmt ? hf_dt_parse_format(fmt, p, len, t) : hf_dt_parse_iso(p, len, t);
}

double hf_dt_part_value(double t, int part)
{
    if (isnan(t))
        return NAN;
    if (part == HF_DT_ELAPSED_DAYS)
        return t / 86400.0;
    long long sec = (long long)floor(t);
    long long days = sec >= 0 ? sec / 86400 : -((-sec + 86399) / 86400);
    long long sod = sec - days * 86400;
    long long y;
    unsigned m, d;
    switch (part) {
    case HF_DT_YEAR:
    case HF_DT_MONTH:
    case HF_DT_DAY:
        civil_from_days(days, &y, &m, &d);
        return part == HF_DT_YEAR ? (double)y : part == HF_DT_MONTH ? (double)m : (double)d;
    case HF_DT_DAYOFWEEK: /* 1970-01-01 was a Thursday (3 with Monday = 0) */
        return (double)(((days + 3) % 7 + 7) % 7);
    case HF_DT_HOUR:
        return (double)(sod / 3600);
    default:
        return NAN;
    }
}
