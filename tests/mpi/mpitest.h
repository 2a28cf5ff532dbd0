/* mpitest.h - what the MPI test programs of this folder share: CHECK, which records a failure on
 * this rank and goes on, a relative difference, and the worker group of a grid shape. Each program
 * is one translation unit that includes this once; it sets world_rank and sums `failures` over the
 * ranks at the end.
 */
#ifndef HF_MPITEST_H
#define HF_MPITEST_H

#include "common/hf.h"
#include "common/comm.h"
#include "worker/group.h"

#include <math.h>
#include <stdio.h>

static int failures;
static int world_rank;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "[rank %d] FAIL %s:%d: ", world_rank, __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

/* Largest |a - b| / max(floor, |b|) over n entries; infinite if any is NaN. */
static inline double mpitest_max_rel_diff(const double *a, const double *b, size_t n, double floor)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(floor, fabs(b[i]));
        if (!(d <= worst))
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

/* Collective over world. This rank's group of gs consecutive ranks on an nprow x npcol grid (0 x 0:
 * automatic) with block size nb, into *sub and *g; on failure the check is recorded, both are
 * NULL and the code is returned. */
static inline int mpitest_group(hf_comm *world, int gs, int nprow, int npcol, int nb, hf_comm **sub,
                                hf_group **g)
{
    int wr = hf_comm_rank(world);
    *sub = NULL;
    *g = NULL;
    int rc = hf_comm_split(world, wr / gs, wr, sub);
    CHECK(rc == HF_OK, "group of %d: split: %s", gs, hf_error_message());
    if (rc != HF_OK)
        return rc;
    rc = hf_group_create(*sub, nprow, npcol, nb, g);
    CHECK(rc == HF_OK, "group of %d as %dx%d (0x0 = auto): create: %s", gs, nprow, npcol,
          hf_error_message());
    if (rc != HF_OK) {
        hf_comm_free(*sub);
        *sub = NULL;
    }
    return rc;
}

#endif
