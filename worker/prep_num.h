/* prep_num.h - the per-column numeric steps of the preprocessing pipeline (worker/preprocess.c):
 * the Yeo-Johnson and Box-Cox power transforms
 * with their maximum-likelihood lambda (scipy.optimize.brent from the bracket (-2, 2), as
 * scikit-learn 1.2's PowerTransformer), and quantile bin edges (KBinsDiscretizer(strategy=
 * "quantile")). Pure functions, not collective; see docs/preprocessing.md. */
#ifndef HF_PREP_NUM_H
#define HF_PREP_NUM_H

#include <stddef.h>

typedef enum hf_power_kind {
    HF_POWER_NONE = 0,
    HF_POWER_YEO_JOHNSON,
    HF_POWER_BOX_COX
} hf_power_kind;

/* The power transform of x with lambda (Box-Cox: x > 0). */
double hf_prepnum_power(hf_power_kind kind, double x, double lambda);

/* The maximum-likelihood lambda of x[0..n) (n > 0, no NaN; Box-Cox: every value > 0), found
 * as scikit-learn 1.2 does: scipy.optimize.brent (bracket from (-2, 2), tol 1.48e-8) on the
 * negative log-likelihood. scratch holds n doubles. Returns 0, or -1 when no finite bracket was
 * found (a constant column: every lambda gives zero variance); *lambda is then 1. */
int hf_prepnum_power_lambda(hf_power_kind kind, const double *x, size_t n, double *scratch,
                            double *lambda);

/* Quantile bin edges of the ascending sorted[0..n) (n > 0) for n_bins bins, as
 * KBinsDiscretizer(strategy="quantile"): numpy.percentile at linspace(0, 100, n_bins + 1), edges
 * closer than 1e-8 to the previous one removed; a constant column gets the two edges -inf, inf.
 * edges holds n_bins + 1 doubles; returns the number of edges kept (bins + 1). */
size_t hf_prepnum_kbins_edges(const double *sorted, size_t n, size_t n_bins, double *edges);

/* The bin of x: the number of inner edges (edges[1..n_edges-1)) at or below x
 * (numpy.searchsorted(edges[1:-1], x, side="right")). */
double hf_prepnum_kbins_bin(const double *edges, size_t n_edges, double x);

#endif
