/* prune.c - the Wilcoxon signed-rank test and the pruning rule (prune.h).
 *
 * Written here because no C library in Debian has the signed-rank test with scipy's conventions,
 * which the pruning decisions must follow to be checked against scipy: the exact null
 * distribution of the positive rank sum by counting (2^n subsets, as a polynomial), average ranks
 * for ties, zero differences split between the two sums. Out of memory, it answers "do not
 * prune" (p = 1) and records no error: the decision is an optimisation. */
#include "jobs/prune.h"

#include "common/hf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Average ranks (1-based) of |d| into r. */
static int ranks(const double *d, size_t n, double *r)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort by |d|: n is a number of folds */
        for (size_t j = i; j > 0 && fabs(d[idx[j]]) < fabs(d[idx[j - 1]]); j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && fabs(d[idx[j + 1]]) == fabs(d[idx[i]]))
            j++;
        double avg = ((double)i + (double)j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            r[idx[k]] = avg;
        i = j + 1;
    }
    free(idx);
    return HF_OK;
}

double hf_wilcoxon_p(const double *d, size_t n, int less)
{
    if (n == 0)
        return 1.0;
    double *r = malloc(n * sizeof *r);
    if (!r || ranks(d, n, r) < 0) {
        free(r);
        return 1.0;
    }
    double r_plus = 0, r_zero = 0;
    size_t n_zero = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] > 0)
            r_plus += r[i];
        else if (d[i] == 0) {
            r_zero += r[i];
            n_zero++;
        }
    }
    r_plus += r_zero / 2.0; /* zsplit */
    double p;
    if (n <= 50 && n_zero == 0) {
        /* Exact: the number of subsets of {1..n} with each rank sum, over 2^n. Ties make r_plus
         * fractional; scipy then truncates it to an integer, as here. */
        size_t top = n * (n + 1) / 2;
        double *cnt = calloc(top + 1, sizeof *cnt);
        if (!cnt) {
            free(r);
            return 1.0;
        }
        cnt[0] = 1;
        for (size_t k = 1; k <= n; k++)
            for (size_t s = top; s >= k; s--)
                cnt[s] += cnt[s - k];
        size_t t = (size_t)r_plus;
        double sum = 0, total = ldexp(1.0, (int)n);
        if (less)
            for (size_t s = 0; s <= t && s <= top; s++)
                sum += cnt[s];
        else
            for (size_t s = t; s <= top; s++)
                sum += cnt[s];
        free(cnt);
        p = sum / total;
    } else {
        double nn = (double)n;
        double mn = nn * (nn + 1) * 0.25, se = nn * (nn + 1) * (2 * nn + 1);
        /* the tie correction: groups of equal ranks */
        double *sorted = malloc(n * sizeof *sorted);
        if (sorted) {
            memcpy(sorted, r, n * sizeof *sorted);
            for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
                    double tmp = sorted[j];
                    sorted[j] = sorted[j - 1];
                    sorted[j - 1] = tmp;
                }
            for (size_t i = 0; i < n;) {
                size_t j = i;
                while (j + 1 < n && sorted[j + 1] == sorted[i])
                    j++;
                double c = (double)(j - i + 1);
                if (c > 1)
                    se -= 0.5 * c * (c * c - 1);
                i = j + 1;
            }
            free(sorted);
        }
        se = sqrt(se / 24);
        double z = (r_plus - mn) / se;
        p = less ? 0.5 * erfc(-z / sqrt(2.0)) : 0.5 * erfc(z / sqrt(2.0));
    }
    free(r);
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

int hf_prune_decide(const double *trial, const double *best, size_t n, int greater_is_better,
                    size_t startup, double p_threshold)
{
    if (n == 0 || n < startup)
        return 0;
    double *d = malloc(n * sizeof *d);
    if (!d)
        return 0;
    double st = 0, sb = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = trial[i] - best[i];
        st += trial[i];
        sb += best[i];
    }
    /* Worse means lower scores when greater is better: the alternative "less". */
    double p = hf_wilcoxon_p(d, n, greater_is_better);
    free(d);
    int worse_mean = greater_is_better ? st < sb : st > sb;
    return p < p_threshold && worse_mean;
}

size_t hf_prune_min_folds(double p_threshold, size_t startup)
{
    size_t n = 1;
    while (n < 64 && ldexp(1.0, -(int)n) >= p_threshold)
        n++;
    return n > startup ? n : startup;
}
