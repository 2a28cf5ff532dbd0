/* stats.c - numpy's order statistics (numpy 1.24 lib/function_base.py: _quantile, _lerp). */
#include "common/stats.h"

#include <math.h>

int hf_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hf_lerp(double a, double b, double t)
{
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

double hf_quantile_sorted(const double *sorted, size_t n, double q)
{
    double virt = (double)(n - 1) * q;
    if (!(virt > 0))
        return sorted[0];
    if (virt >= (double)(n - 1))
        return sorted[n - 1];
    double prev = floor(virt);
    size_t i = (size_t)prev;
    return hf_lerp(sorted[i], sorted[i + 1], virt - prev);
}
