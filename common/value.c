#include "common/value.h"
#include "common/hf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double hf_value_as_double(const hf_value *v)
{
    switch (v->type) {
    case HF_VAL_NUMBER:
        return v->u.num;
    case HF_VAL_INT:
        return (double)v->u.i;
    case HF_VAL_BOOL:
        return v->u.b ? 1.0 : 0.0;
    default:
        return NAN;
    }
}

char *hf_value_format(const hf_value *v, char *buf, size_t len)
{
    switch (v->type) {
    case HF_VAL_NUMBER:
        /* Shortest %g precision that round-trips. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, v->u.num);
            if (strtod(buf, NULL) == v->u.num)
                break;
        }
        break;
    case HF_VAL_INT:
        snprintf(buf, len, "%lld", (long long)v->u.i);
        break;
    case HF_VAL_BOOL:
        snprintf(buf, len, "%s", v->u.b ? "true" : "false");
        break;
    case HF_VAL_STRING:
        snprintf(buf, len, "%s", v->u.str ? v->u.str : "");
        break;
    default:
        snprintf(buf, len, "null");
        break;
    }
    return buf;
}

int hf_value_equal(const hf_value *a, const hf_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case HF_VAL_NUMBER:
        return a->u.num == b->u.num;
    case HF_VAL_INT:
        return a->u.i == b->u.i;
    case HF_VAL_BOOL:
        return a->u.b == b->u.b;
    case HF_VAL_STRING:
        return strcmp(a->u.str ? a->u.str : "", b->u.str ? b->u.str : "") == 0;
    default:
        return 1;
    }
}

int hf_value_copy(hf_value *dst, const hf_value *src)
{
    *dst = *src;
    if (src->type == HF_VAL_STRING && src->u.str) {
        dst->u.str = hf_strdup(src->u.str);
        if (!dst->u.str)
            return HF_ENOMEM;
    }
    return HF_OK;
}

void hf_value_free(hf_value *v)
{
    if (v->type == HF_VAL_STRING)
        free(v->u.str);
    v->type = HF_VAL_NONE;
}
