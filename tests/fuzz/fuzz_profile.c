/* fuzz_profile.c - the reader of a run's profile.json (coordinator/drift.c hf_profile_parse),
 * which describe --against and retrain read back to compute drift.
 *
 * Input: JSON text. Checks, besides memory safety and UB:
 *  - the hf.h error convention;
 *  - a profile the reader accepts is one the drift relies on: at least one column, the target
 *    last and numeric exactly for a regression task, every column named, every numeric column's
 *    9 edges finite and ascending and its 10 bin counts finite, non-negative and adding up to its
 *    count (the PSI divides by their sum and bins values by the edges), every level count finite
 *    and non-negative. */
#include "fuzz_util.h"

#include "common/hf.h"
#include "coordinator/drift.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_profile *p = NULL;
    int rc = hf_profile_parse((const char *)data, size, "profile.json", &p);
    hf_fuzz_check_status(rc, "hf_profile_parse");
    if (rc < 0) {
        hf_fuzz_check(p == NULL, "a failed parse left a profile");
        return 0;
    }
    hf_fuzz_check(p && p->n_cols > 0 && p->rows >= 0, "an accepted profile without columns");
    const hf_profile_col *t = &p->cols[p->n_cols - 1];
    hf_fuzz_check(t->numeric == (p->task == HF_TASK_REGRESSION),
                  "the target does not fit the task");
    for (size_t i = 0; i < p->n_cols; i++) {
        const hf_profile_col *c = &p->cols[i];
        hf_fuzz_check(c->name && *c->name, "column %zu without a name", i);
        hf_fuzz_check(c->count >= 0 && c->missing >= 0, "column %zu: negative counts", i);
        if (c->numeric) {
            double sum = 0;
            for (size_t q = 0; q < HF_PROFILE_EDGES; q++)
                hf_fuzz_check(isfinite(c->edges[q]) && (!q || c->edges[q] >= c->edges[q - 1]),
                              "column %zu: edge %zu out of order", i, q);
            for (size_t b = 0; b < HF_PROFILE_BINS; b++) {
                hf_fuzz_check(isfinite(c->bins[b]) && c->bins[b] >= 0, "column %zu: bin %zu", i, b);
                sum += c->bins[b];
            }
            hf_fuzz_check(sum == c->count, "column %zu: bins add up to %g, count %g", i, sum,
                          c->count);
        } else {
            for (size_t l = 0; l < c->n_levels; l++)
                hf_fuzz_check(c->levels[l] && isfinite(c->level_counts[l]) &&
                                  c->level_counts[l] >= 0,
                              "column %zu: level %zu", i, l);
        }
    }
    hf_profile_free(p);
    return 0;
}
