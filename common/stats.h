/* stats.h - the order statistics every module computes the same way: numpy's.
 *
 * describe's quartiles, the training profile's decile edges (drift), the preprocessing's clip
 * quantiles and quantile bins, and the evaluation's residual quantiles must each equal numpy's
 * (numpy.quantile, method "linear", which pandas' quantile uses), so they share one
 * implementation of its interpolation. Not collective; no allocation. */
#ifndef HF_STATS_H
#define HF_STATS_H

#include <stddef.h>

/* qsort's comparison of doubles, ascending (no NaN expected). */
int hf_cmp_double(const void *a, const void *b);

/* numpy's _lerp: a + (b - a) t, computed from b when t >= 0.5 (so t = 1 gives b exactly). */
double hf_lerp(double a, double b, double t);

/* numpy.quantile(sorted[0..n), q), method "linear": the order statistics at floor and ceil of
 * (n - 1) q, interpolated with hf_lerp. n > 0; q in [0, 1] (outside: the minimum or maximum). */
double hf_quantile_sorted(const double *sorted, size_t n, double q);

#endif
