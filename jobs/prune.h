/* prune.h - fold-level pruning of a trial (search.pruner: wilcoxon).
 *
 * After the first folds of a trial, its fold scores are compared with the best finished trial's
 * on the same folds by a one-sided Wilcoxon signed-rank test (Optuna's WilcoxonPruner is the
 * model): the trial stops when the test says it is worse (p < search.pruner_p) and its mean on
 * those folds is worse too. The p-value is scipy.stats.wilcoxon's (zero_method "zsplit", no
 * continuity correction; exact up to 50 differences without a zero, else the normal
 * approximation with the tie correction), which the tests hold it to. No MPI, no I/O. */
#ifndef HF_PRUNE_H
#define HF_PRUNE_H

#include <stddef.h>

/* scipy.stats.wilcoxon(d, alternative="less" if less else "greater", zero_method="zsplit").pvalue
 * for n >= 1 differences. */
double hf_wilcoxon_p(const double *d, size_t n, int less);

/* Whether a trial with fold scores `trial` is to stop, against the best trial's `best` on the
 * same n folds (scores, larger better when greater_is_better): n >= startup, p < p_threshold and
 * the trial's mean below (above) the best's. */
int hf_prune_decide(const double *trial, const double *best, size_t n, int greater_is_better,
                    size_t startup, double p_threshold);

/* The fewest folds at which the exact test can reach p < p_threshold (every difference against
 * the trial): floor(log2(1 / p_threshold)) + 1, at least `startup`. */
size_t hf_prune_min_folds(double p_threshold, size_t startup);

#endif
