/* fuzz_encode_columns.c - preprocess.encode_columns' text (worker/preprocess.c
 * hf_prep_encode_columns_next, hf_prep_encode_columns_check and the setting's validation in
 * hf_prep_config_from_values), which a job spec's author writes.
 *
 * Input: the text. Checks, besides memory safety and UB:
 *  - the hf.h error convention (a refusal records one message; a success none);
 *  - the reader always advances and ends: at most one pair per byte, then 0 or -1;
 *  - a pair's name is non-empty, has no comma and no blank at either end (its end: unless cut),
 *    and is the same (up to the buffer) whether read into 8 bytes or 512 (truncated flagged
 *    exactly when it was cut);
 *  - hf_prep_config_from_values accepts the text exactly when the reader reads it to its end (and
 *    it fits the setting), and hf_prep_encode_columns_check against a schema then accepts it
 *    exactly when every name is one of the schema's categorical columns, each named once. */
#include "fuzz_util.h"

#include "common/dataset.h"
#include "common/hf.h"
#include "worker/preprocess.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

static size_t setting_index(const char *name)
{
    for (size_t i = 0; i < hf_prep_n_params(); i++)
        if (strcmp(hf_prep_param(i)->name, name) == 0)
            return i;
    hf_fuzz_check(0, "no setting %s", name);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = hf_fuzz_strndup(data, size);
    const char *a = text, *b = text;
    char small[8], big[512];
    int ta = 0, tb = 0, ra, rb, pairs = 0, all_known = 1, n_city = 0, n_zip = 0;
    hf_encode_kind ka, kb;
    for (;;) {
        const char *before = a;
        ra = hf_prep_encode_columns_next(&a, small, sizeof small, &ta, &ka);
        rb = hf_prep_encode_columns_next(&b, big, sizeof big, &tb, &kb);
        hf_fuzz_check(ra == rb && ra >= -1 && ra <= 1, "the readers disagree: %d / %d", ra, rb);
        if (ra <= 0)
            break;
        hf_error_clear();
        hf_fuzz_check(a == b && a > before && a <= text + size, "the reader did not advance");
        hf_fuzz_check(ka == kb && (int)ka >= 0 && (int)ka <= (int)HF_ENCODE_NATIVE,
                      "the kinds differ");
        size_t n = strlen(big);
        hf_fuzz_check(n > 0 && !strchr(big, ',') && big[0] != ' ' && big[0] != '\t' &&
                          (tb || (big[n - 1] != ' ' && big[n - 1] != '\t')),
                      "a bad name \"%s\"", big);
        hf_fuzz_check(ta == (n >= sizeof small) && strncmp(small, big, sizeof small - 1) == 0,
                      "the small buffer's name \"%s\" is not \"%s\" cut", small, big);
        all_known &= !tb && (strcmp(big, "city") == 0 || strcmp(big, "zip") == 0);
        n_city += !tb && strcmp(big, "city") == 0;
        n_zip += !tb && strcmp(big, "zip") == 0;
        hf_fuzz_check(++pairs <= (int)size, "more pairs than bytes");
    }
    hf_fuzz_check_status(ra < 0 ? HF_EINVAL : HF_OK, "hf_prep_encode_columns_next");

    /* The setting's validation agrees with the reader. */
    const hf_value *vals[64] = {NULL};
    hf_value v = {HF_VAL_STRING, {.str = text}};
    vals[setting_index("encode_columns")] = &v;
    hf_prep_config cfg;
    int rc = hf_prep_config_from_values(vals, NULL, &cfg);
    hf_fuzz_check_status(rc, "hf_prep_config_from_values");
    int fits = strlen(text) < HF_PREP_COLUMNS_MAX - 1;
    hf_fuzz_check((rc == HF_OK) == (ra == 0 && fits), "config %d, reader %d, fits %d", rc, ra,
                  fits);

    /* Against a schema: city and zip categorical, x numeric. */
    if (ra == 0) {
        hf_column cols[3] = {{.name = "x", .type = HF_COL_NUMERIC},
                             {.name = "city", .type = HF_COL_CATEGORICAL},
                             {.name = "zip", .type = HF_COL_CATEGORICAL}};
        hf_schema s = {.features = cols, .n_features = 3};
        int target = 0;
        rc = hf_prep_encode_columns_check(text, &s, &target);
        hf_fuzz_check_status(rc, "hf_prep_encode_columns_check");
        int once = n_city <= 1 && n_zip <= 1;
        hf_fuzz_check((rc == HF_OK) == (all_known && once),
                      "check %d, every name known %d, each once %d", rc, all_known, once);
    }
    free(text);
    return 0;
}
