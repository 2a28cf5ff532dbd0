/* opts.c - what every module's option table shares (see opts.h): where a key was given, release
 * and identity, all derived from the table. */
#include "common/opts.h"

#include "common/hf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *hf_opt_where(const hf_opt_source *src, const char *key, char *buf, size_t len)
{
    if (src && src->where)
        return src->where(src->arg, key, buf, len);
    snprintf(buf, len, "job spec");
    return buf;
}

#define FIELD(opts, off) ((char *)(opts) + (off))

void hf_opts_release(const hf_opt_section *sec, void *opts)
{
    for (size_t i = 0; i < sec->n_defs; i++) {
        const hf_opt_def *d = &sec->defs[i];
        void *f = FIELD(opts, d->offset);
        switch (d->kind) {
        case HF_OPT_STRING:
            free(*(char **)f);
            *(char **)f = NULL;
            break;
        case HF_OPT_STRING_LIST:
        case HF_OPT_ENUM_MAP:
        case HF_OPT_STRING_MAP: {
            size_t *n = (size_t *)FIELD(opts, d->count_offset);
            hf_strv_free(*(char ***)f, *n);
            *(char ***)f = NULL;
            if (d->kind == HF_OPT_ENUM_MAP) {
                free(*(int **)FIELD(opts, d->aux_offset));
                *(int **)FIELD(opts, d->aux_offset) = NULL;
            } else if (d->kind == HF_OPT_STRING_MAP) {
                hf_strv_free(*(char ***)FIELD(opts, d->aux_offset), *n);
                *(char ***)FIELD(opts, d->aux_offset) = NULL;
            }
            *n = 0;
            break;
        }
        case HF_OPT_SUBSECTION:
            hf_opts_release(d->sub, f);
            break;
        default:
            break;
        }
    }
}

int hf_opts_identity_add(char **text, size_t *len, const char *name, const char *value)
{
    size_t add = strlen(name) + strlen(value) + 2;
    char *t = hf_realloc(*text, *len + add + 1);
    if (!t)
        return HF_ENOMEM;
    snprintf(t + *len, add + 1, "%s=%s\n", name, value);
    *text = t;
    *len += add;
    return HF_OK;
}

/* A value's canonical text: numbers in their shortest round-trip form, strings with their length
 * first (so that no value can imitate another entry). */
static int add_value(char **text, size_t *len, const char *name, const hf_opt_def *d,
                     const void *opts)
{
    char buf[64];
    const void *f = FIELD(opts, d->offset);
    switch (d->kind) {
    case HF_OPT_STRING: {
        const char *s = *(char *const *)f;
        char *v = s ? hf_asprintf("%zu:%s", strlen(s), s) : hf_strdup("null");
        int result = v ? hf_opts_identity_add(text, len, name, v) : HF_ENOMEM;
        free(v);
        return result;
    }
    case HF_OPT_STRING_MAP: {
        char *const *v = *(char **const *)f;
        char *const *w = *(char **const *)FIELD(opts, d->aux_offset);
        size_t n = *(const size_t *)FIELD(opts, d->count_offset);
        snprintf(buf, sizeof buf, "%zu", n);
        int result = hf_opts_identity_add(text, len, name, buf);
        for (size_t i = 0; i < n && result >= 0; i++) {
            char *e = hf_asprintf("%zu:%s=%zu:%s", strlen(v[i]), v[i], strlen(w[i]), w[i]);
            result = e ? hf_opts_identity_add(text, len, name, e) : HF_ENOMEM;
            free(e);
        }
        return result;
    }
    case HF_OPT_STRING_LIST:
    case HF_OPT_ENUM_MAP: {
        char *const *v = *(char **const *)f;
        size_t n = *(const size_t *)FIELD(opts, d->count_offset);
        const int *vals =
            d->kind == HF_OPT_ENUM_MAP ? *(int *const *)FIELD(opts, d->aux_offset) : NULL;
        snprintf(buf, sizeof buf, "%zu", n);
        int result = hf_opts_identity_add(text, len, name, buf);
        for (size_t i = 0; i < n && result >= 0; i++) {
            char *e = vals ? hf_asprintf("%zu:%s=%d", strlen(v[i]), v[i], vals[i])
                           : hf_asprintf("%zu:%s", strlen(v[i]), v[i]);
            result = e ? hf_opts_identity_add(text, len, name, e) : HF_ENOMEM;
            free(e);
        }
        return result;
    }
    case HF_OPT_INT:
    case HF_OPT_BOOL:
    case HF_OPT_ENUM:
        snprintf(buf, sizeof buf, "%d", *(const int *)f);
        break;
    case HF_OPT_SEED:
    case HF_OPT_SIZE:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)f);
        break;
    case HF_OPT_NUMBER:
        snprintf(buf, sizeof buf, "%.17g", *(const double *)f);
        break;
    case HF_OPT_CUSTOM:
        return hf_error(HF_EINTERNAL, "%s: a custom setting cannot be part of an identity", name);
    case HF_OPT_SUBSECTION:
        return hf_opts_identity(d->sub, f, text, len); /* its own HASHED keys */
    }
    return hf_opts_identity_add(text, len, name, buf);
}

int hf_opts_identity(const hf_opt_section *sec, const void *opts, char **text, size_t *len)
{
    for (size_t i = 0; i < sec->n_defs; i++) {
        const hf_opt_def *d = &sec->defs[i];
        if (!(d->flags & HF_OPT_HASHED))
            continue;
        char name[128];
        snprintf(name, sizeof name, "%s.%s", sec->name, d->key);
        HF_CALL(add_value(text, len, name, d, opts));
    }
    return HF_OK;
}
