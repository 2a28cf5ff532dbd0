/* tool_prune.c - hyperfold's Wilcoxon signed-rank p-values and pruning decisions on cases read
 * from stdin, for test_prune_scipy.py. Input: a JSON array of {"d": [...], "less": bool} or
 * {"trial": [...], "best": [...], "greater": bool, "startup": n, "p": x}; output: a JSON array
 * of p-values, or of 0/1 decisions. */
#include "jobs/prune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

static double *vec(json_t *a, size_t *n)
{
    *n = json_array_size(a);
    double *v = calloc(*n ? *n : 1, sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}

int main(void)
{
    json_error_t err;
    json_t *cases = json_loadf(stdin, 0, &err);
    if (!json_is_array(cases)) {
        fprintf(stderr, "tool_prune: stdin: %s\n", err.text);
        return 2;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        size_t n, m;
        if (json_object_get(c, "d")) {
            double *d = vec(json_object_get(c, "d"), &n);
            json_array_append_new(
                out, json_real(hf_wilcoxon_p(d, n, json_is_true(json_object_get(c, "less")))));
            free(d);
        } else {
            double *t = vec(json_object_get(c, "trial"), &n);
            double *b = vec(json_object_get(c, "best"), &m);
            int prune =
                hf_prune_decide(t, b, n < m ? n : m, json_is_true(json_object_get(c, "greater")),
                                (size_t)json_integer_value(json_object_get(c, "startup")),
                                json_number_value(json_object_get(c, "p")));
            json_array_append_new(out, json_integer(prune));
            free(t);
            free(b);
        }
    }
    json_dumpf(out, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
    putchar('\n');
    json_decref(out);
    json_decref(cases);
    return 0;
}
