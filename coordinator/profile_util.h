/* profile_util.h - the small helpers describe.c and drift.c share (docs/describe.md). Not
 * collective; header-only because each is one line in the inner loops of both. */
#ifndef HF_PROFILE_UTIL_H
#define HF_PROFILE_UTIL_H

#include "common/dataset.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>

/* Row i's value of column j of d: feature j, or the target when j == n_features (NaN: missing;
 * categorical and class values are codes). */
static inline double hf_profile_value(const hf_dataset *d, size_t i, size_t j)
{
    size_t p = d->schema->n_features;
    return j < p ? d->X[i * p + j] : d->y[i];
}

/* A JSON number, or null for NaN and infinities (which JSON cannot hold). New reference. */
static inline json_t *hf_profile_real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

#endif
