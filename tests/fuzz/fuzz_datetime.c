/* fuzz_datetime.c - the date and time parsers of datetime columns (shards/datetime.c): ISO 8601
 * by hand (hf_dt_parse_iso), a stated strptime format (hf_dt_parse_format, the format being a
 * job spec's text), and predict's and serve's conversion of a raw field into the derived features
 * (hf_fieldconv_input).
 *
 * Input: a mode byte, then for mode 1 a format (up to 64 bytes, from the input) and the text; the
 * text is an exactly sized copy, so that a read past its length is a finding. Checks, besides
 * memory safety and UB:
 *  - a parse is deterministic (the same text parses to the same time twice);
 *  - an accepted time gives parts in range (month 1..12, day 1..31 and within its month, day of
 *    week 0..6, hour 0..23) and floor(t) is a whole second: re-formatting those parts as
 *    YYYY-MM-DDTHH:MM:SS (year 1..9999) parses back to exactly floor(t);
 *  - hf_fieldconv_input writes the same parts for the same text, or the same refusal with a
 *    one-line message. */
#include "fuzz_util.h"

#include "common/dataset.h"
#include "common/hf.h"
#include "shards/datetime.h"
#include "shards/fieldconv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

static void check_parts(double t, const char *text)
{
    hf_fuzz_check(isfinite(t), "\"%s\": accepted a time that is not finite", text);
    double y = hf_dt_part_value(t, HF_DT_YEAR), mo = hf_dt_part_value(t, HF_DT_MONTH);
    double d = hf_dt_part_value(t, HF_DT_DAY), w = hf_dt_part_value(t, HF_DT_DAYOFWEEK);
    double h = hf_dt_part_value(t, HF_DT_HOUR);
    hf_fuzz_check(mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && w >= 0 && w <= 6 && h >= 0 &&
                      h <= 23 && y == floor(y),
                  "\"%s\": parts out of range: %g-%g-%g dow %g hour %g", text, y, mo, d, w, h);
    if (y < 1 || y > 9999)
        return;
    long long sec = (long long)floor(t);
    long long sod = ((sec % 86400) + 86400) % 86400;
    char canon[64];
    snprintf(canon, sizeof canon, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, (int)mo, (int)d, (int)h,
             (int)(sod % 3600 / 60), (int)(sod % 60));
    double back = NAN;
    hf_fuzz_check(hf_dt_parse_iso(canon, strlen(canon), &back) == 1 && back == (double)sec,
                  "\"%s\": its parts \"%s\" parse to %.17g, expected %lld (floor of %.17g)", text,
                  canon, back, sec, t);
    hf_fuzz_check(hf_dt_part_value(t, HF_DT_ELAPSED_DAYS) == t / 86400.0,
                  "\"%s\": elapsed days is not t / 86400", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_fuzz_input in = {data, size};
    int mode = hf_fuzz_u8(&in) & 1;
    char *fmt = mode ? hf_fuzz_str(&in, 64) : NULL;
    if (fmt && !fmt[0]) {
        free(fmt);
        fmt = NULL;
    }
    char *text = malloc(in.left ? in.left : 1);
    if (!text)
        return 0;
    memcpy(text, in.p, in.left);
    size_t len = in.left;
    char shown[80];
    snprintf(shown, sizeof shown, "%.*s", (int)(len < 60 ? len : 60), text);

    double t1 = NAN, t2 = NAN;
    int ok1 = hf_dt_parse(fmt, text, len, &t1), ok2 = hf_dt_parse(fmt, text, len, &t2);
    hf_fuzz_check(ok1 == ok2 && (!ok1 || t1 == t2), "\"%s\": two parses differ", shown);
    if (ok1)
        check_parts(t1, shown);

    /* predict's and serve's conversion over a schema of one datetime column with this format */
    hf_column cols[HF_DT_N_PARTS];
    memset(cols, 0, sizeof cols);
    char names[HF_DT_N_PARTS][32];
    for (int k = 0; k < HF_DT_N_PARTS; k++) {
        snprintf(names[k], sizeof names[k], "when.%s", hf_dt_part_name(k + 1));
        cols[k].name = names[k];
        cols[k].type = HF_COL_NUMERIC;
        cols[k].source = "when";
        cols[k].part = k + 1;
        cols[k].format = fmt;
    }
    hf_schema s = {.n_features = HF_DT_N_PARTS, .features = cols};
    double out[HF_DT_N_PARTS];
    size_t n_na, at = 99;
    char *const *na = hf_fieldconv_default_na(&n_na);
    char what[512] = "";
    int bad = hf_fieldconv_input(&s, 0, "when", text, len, na, n_na, out, &at, what, sizeof what);
    int is_na = 0;
    for (size_t i = 0; i < n_na; i++)
        is_na |= strlen(na[i]) == len && memcmp(na[i], text, len) == 0;
    if (is_na) {
        hf_fuzz_check(bad == 0, "\"%s\": an NA text refused", shown);
        for (int k = 0; k < HF_DT_N_PARTS; k++)
            hf_fuzz_check(isnan(out[k]), "\"%s\": an NA text gave a value", shown);
    } else if (ok1) {
        hf_fuzz_check(bad == 0, "\"%s\": parsed, but the conversion refused it: %s", shown, what);
        for (int k = 0; k < HF_DT_N_PARTS; k++)
            hf_fuzz_check(out[k] == hf_dt_part_value(t1, k + 1),
                          "\"%s\": the conversion's part %d differs", shown, k + 1);
    } else {
        hf_fuzz_check(bad == 1 && at == 0 && what[0] && !strchr(what, '\n'),
                      "\"%s\": refused without a one-line message (%d, %zu)", shown, bad, at);
    }
    free(text);
    free(fmt);
    return 0;
}
