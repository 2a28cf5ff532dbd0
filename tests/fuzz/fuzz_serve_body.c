/* fuzz_serve_body.c - `hyperfold serve`'s request bodies (coordinator/serve_body.c hf_serve_parse:
 * CSV with or without a header, JSON records / columns / instances, JSON lines) and the answers
 * it formats (hf_serve_format).
 *
 * Input: one byte choosing the format, whether a CSV body has a header, the schema (classification
 * or regression) and the number of predictions to format; the rest is the request body. Checks,
 * besides memory safety and UB:
 *  - the status convention: 0 with rows, 1 with one non-empty line in err (it goes into a 400's
 *    JSON body), or HF_ENOMEM;
 *  - every parsed value is one predict could have made: a numeric feature finite or NaN (missing),
 *    a boolean 0, 1 or NaN, a categorical code in [-1, n_categories) or NaN;
 *  - the answer formatted for the parsed rows is well formed: JSON parses with jansson and has one
 *    object per row, JSON lines one parsable object per line, CSV a header and one line per row. */
#include "fuzz_util.h"

#include "common/dataset.h"
#include "common/hf.h"
#include "coordinator/serve.h"
#include "shards/schema_json.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static hf_schema *g_schema[2];

static const char *const k_schemas[2] = {
    "{\"features\":[{\"name\":\"island\",\"type\":\"categorical\",\"categories\":[\"Biscoe\","
    "\"Dream\",\"Torgersen\"]},{\"name\":\"bill\",\"type\":\"numeric\"},{\"name\":\"ok\","
    "\"type\":\"boolean\",\"categories\":[\"false\",\"true\"]},{\"name\":\"a&b\\\"c\",\"type\":"
    "\"numeric\"}],\"target\":\"species\",\"task\":\"classification\",\"classes\":[\"Adelie\","
    "\"Chin,strap\",\"<Gentoo>\"],\"fold_column\":null,\"group_column\":null,\"order_column\":"
    "null}",
    "{\"features\":[{\"name\":\"x0\",\"type\":\"numeric\"},{\"name\":\"x1\",\"type\":\"numeric\"},"
    "{\"name\":\"c\",\"type\":\"categorical\",\"categories\":[\"a\",\"b\"]}],\"target\":\"y\","
    "\"task\":\"regression\",\"fold_column\":null,\"group_column\":null,\"order_column\":null}",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    for (int k = 0; k < 2; k++)
        hf_fuzz_check(hf_schema_json_from_text(k_schemas[k], &g_schema[k]) == HF_OK,
                      "the harness's schema %d does not read", k);
    return 0;
}

static void check_values(const hf_schema *s, const double *X, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < s->n_features; j++) {
            double v = X[i * s->n_features + j];
            const hf_column *c = &s->features[j];
            if (isnan(v))
                continue;
            if (c->type == HF_COL_NUMERIC)
                hf_fuzz_check(isfinite(v), "row %zu column %zu: a numeric value %g", i, j, v);
            else if (c->type == HF_COL_BOOLEAN)
                hf_fuzz_check(v == 0 || v == 1, "row %zu column %zu: a boolean value %g", i, j, v);
            else
                hf_fuzz_check(v == floor(v) && v >= -1 && v < (double)c->n_categories,
                              "row %zu column %zu: a category code %g", i, j, v);
        }
}

static void check_answer(const hf_schema *s, hf_serve_fmt fmt, size_t n)
{
    size_t no = s->task == HF_TASK_CLASSIFICATION ? s->n_classes : 1;
    double *pred = malloc((n ? n : 1) * no * sizeof *pred);
    hf_fuzz_check(pred != NULL, "out of memory");
    for (size_t i = 0; i < n * no; i++)
        pred[i] = (double)((i * 7) % 10) / 10.0;
    char *out = NULL;
    size_t len = 0;
    int rc = hf_serve_format(s, no, pred, n, fmt, &out, &len);
    hf_fuzz_check_status(rc, "hf_serve_format");
    if (rc < 0) {
        free(pred);
        return;
    }
    hf_fuzz_check(out && strlen(out) == len, "the answer is not one string of its length");
    if (fmt == HF_SERVE_JSON) {
        json_error_t e;
        json_t *j = json_loadb(out, len, 0, &e);
        hf_fuzz_check(j != NULL, "the JSON answer does not parse: %s", e.text);
        json_t *p = json_object_get(j, "predictions");
        hf_fuzz_check(json_is_array(p) && json_array_size(p) == n,
                      "the JSON answer has not %zu rows", n);
        json_decref(j);
    } else {
        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += out[i] == '\n';
        size_t want = fmt == HF_SERVE_CSV ? n + 1 : n;
        hf_fuzz_check(lines == want, "%zu lines in the answer, expected %zu", lines, want);
        if (fmt == HF_SERVE_JSONL) {
            const char *p = out;
            for (size_t i = 0; i < n; i++) {
                const char *nl = strchr(p, '\n');
                json_error_t e;
                json_t *j = json_loadb(p, (size_t)(nl - p), 0, &e);
                hf_fuzz_check(json_is_object(j), "JSON line %zu does not parse: %s", i, e.text);
                json_decref(j);
                p = nl + 1;
            }
        }
    }
    free(out);
    free(pred);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    hf_serve_fmt fmt = (hf_serve_fmt)(1 + sel % 3);
    int header = (sel >> 2) & 1;
    const hf_schema *s = g_schema[(sel >> 3) & 1];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    double *X = NULL;
    size_t n = 0;
    char err[512] = "";
    int rc = hf_serve_parse(s, fmt, header, body, len, &X, &n, err, sizeof err);
    hf_fuzz_check(rc == 0 || rc == 1 || rc == HF_ENOMEM, "hf_serve_parse returned %d", rc);
    if (rc == 1) {
        hf_fuzz_check(err[0] != '\0' && !strchr(err, '\n'),
                      "a refused body's message is not one non-empty line: \"%s\"", err);
        hf_fuzz_check(X == NULL, "a refused body left rows behind");
    } else if (rc == 0) {
        hf_fuzz_check(n == 0 || X != NULL, "%zu rows and no matrix", n);
        check_values(s, X, n);
        check_answer(s, fmt, n);
    }
    hf_error_clear();
    free(X);
    return 0;
}
