/* fuzz_schema.c - the schema JSON reader (shards/schema_json.c hf_schema_json_from_text), the
 * schema stored in manifest.json and in model.h5.
 *
 * Input: JSON text. Checks, besides memory safety and UB:
 *  - the hf.h error convention;
 *  - a schema the reader accepts is one hyperfold can have written and relies on: feature names
 *    non-empty and distinct (prediction matches CSV columns to features by name), a categorical
 *    column's dictionary sorted bytewise without duplicates (prediction looks values up by
 *    binary search), a boolean column's categories exactly ["false", "true"] (codes 0 and 1);
 *  - round trip: hf_schema_json_to_text of it reads back to an equal schema and the same text, and
 *    hf_schema_clone copies it exactly. */
#include "fuzz_util.h"

#include "common/dataset.h"
#include "common/hf.h"
#include "shards/schema_json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int same_strv(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (!same_str(a[i], b[i]))
            return 0;
    return 1;
}

static void same_schema(const hf_schema *a, const hf_schema *b, const char *what)
{
    hf_fuzz_check(a->n_features == b->n_features && a->task == b->task &&
                      same_str(a->target, b->target) && same_str(a->fold_column, b->fold_column) &&
                      same_str(a->group_column, b->group_column) &&
                      same_str(a->order_column, b->order_column),
                  "%s: the schemas differ (features %zu/%zu, task %d/%d)", what, a->n_features,
                  b->n_features, (int)a->task, (int)b->task);
    hf_fuzz_check(a->task != HF_TASK_CLASSIFICATION ||
                      same_strv(a->classes, a->n_classes, b->classes, b->n_classes),
                  "%s: the classes differ", what);
    for (size_t i = 0; i < a->n_features; i++) {
        const hf_column *x = &a->features[i], *y = &b->features[i];
        hf_fuzz_check(same_str(x->name, y->name) && x->type == y->type &&
                          same_str(x->source, y->source) && x->part == y->part &&
                          same_str(x->format, y->format) &&
                          (x->type == HF_COL_NUMERIC || same_strv(x->categories, x->n_categories,
                                                                  y->categories, y->n_categories)),
                      "%s: feature %zu differs", what, i);
    }
}

static void check_valid(const hf_schema *s)
{
    hf_fuzz_check(s->task == HF_TASK_REGRESSION || s->task == HF_TASK_CLASSIFICATION,
                  "accepted task %d", (int)s->task);
    for (size_t i = 0; i < s->n_features; i++) {
        const hf_column *c = &s->features[i];
        hf_fuzz_check(c->name && c->name[0], "accepted feature %zu without a name", i);
        for (size_t k = 0; k < i; k++)
            hf_fuzz_check(strcmp(s->features[k].name, c->name) != 0,
                          "accepted features %zu and %zu both named \"%s\"", k, i, c->name);
        if (c->type == HF_COL_BOOLEAN)
            hf_fuzz_check(c->n_categories == 2 && !strcmp(c->categories[0], "false") &&
                              !strcmp(c->categories[1], "true"),
                          "accepted boolean feature \"%s\" with %zu categories other than "
                          "[false, true]",
                          c->name, c->n_categories);
        if (c->type == HF_COL_CATEGORICAL)
            for (size_t k = 1; k < c->n_categories; k++)
                hf_fuzz_check(strcmp(c->categories[k - 1], c->categories[k]) < 0,
                              "accepted feature \"%s\" whose categories %zu \"%s\" and %zu \"%s\" "
                              "are not sorted bytewise without duplicates",
                              c->name, k - 1, c->categories[k - 1], k, c->categories[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = hf_fuzz_strndup(data, size);
    hf_schema *s = NULL;
    int rc = hf_schema_json_from_text(text, &s);
    hf_fuzz_check_status(rc, "hf_schema_json_from_text");
    free(text);
    if (rc < 0) {
        hf_fuzz_check(s == NULL, "hf_schema_json_from_text failed but returned a schema");
        return 0;
    }
    check_valid(s);
    char *json = hf_schema_json_to_text(s);
    hf_fuzz_check_status(json ? HF_OK : HF_ENOMEM, "hf_schema_json_to_text");
    hf_schema *s2 = NULL;
    rc = hf_schema_json_from_text(json, &s2);
    hf_fuzz_check(rc == HF_OK, "reading back %.200s failed: %s", json, hf_error_message());
    same_schema(s, s2, "round trip");
    char *json2 = hf_schema_json_to_text(s2);
    hf_fuzz_check(json2 && strcmp(json, json2) == 0, "round trip: the JSON text changed");
    hf_schema *c = hf_schema_clone(s);
    hf_fuzz_check(c != NULL, "hf_schema_clone failed");
    same_schema(s, c, "clone");
    for (size_t i = 0; i < s->n_features; i++)
        hf_fuzz_check(hf_schema_find(s, s->features[i].name) == (long)i,
                      "hf_schema_find(\"%s\") is not %zu", s->features[i].name, i);
    hf_schema_free(c);
    hf_schema_free(s2);
    hf_schema_free(s);
    free(json);
    free(json2);
    hf_error_clear();
    return 0;
}
