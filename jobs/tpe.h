/* tpe.h - the Tree-structured Parzen Estimator sampler (search.strategy: tpe).
 *
 * A port of Optuna's TPESampler (single objective; python3-optuna 3.1.0 is the oracle the tests
 * hold it to, docs/search.md lists where it departs): finished trials are split into the best
 * gamma(n) = min(ceil(0.1 n), 25) ("below") and the rest ("above"); a Parzen estimator (a mixture
 * of truncated Gaussians, or of smoothed categorical distributions, plus a prior component) is
 * fitted to each; n_ei_candidates points are drawn from the "below" estimator and the one with
 * the largest log l(x) - log g(x) is proposed. Independent mode fits one estimator per parameter,
 * multivariate mode one joint estimator (Scott's-rule bandwidths). Trials that are still running
 * count as "above" with an infinite loss (Optuna's constant liar).
 *
 * No MPI, no I/O: the coordinator feeds it observations and it proposes one point. */
#ifndef HF_TPE_H
#define HF_TPE_H

#include "common/rng.h"

#include <stddef.h>

typedef enum hf_tpe_kind { HF_TPE_FLOAT = 0, HF_TPE_INT, HF_TPE_CATEGORICAL } hf_tpe_kind;

/* One dimension of the space, as Optuna's FloatDistribution, IntDistribution and
 * CategoricalDistribution. Values (observations and proposals) are in the external
 * representation: the number itself, or for a categorical the index of the choice. */
typedef struct hf_tpe_dist {
    hf_tpe_kind kind;
    int log;          /* FLOAT, INT: sampled on a log scale (low > 0) */
    double low, high; /* FLOAT, INT: inclusive bounds, low < high */
    double step;      /* INT: the step (>= 1); FLOAT: 0 (continuous) or the step; not with log */
    size_t n_choices; /* CATEGORICAL: >= 1 */
} hf_tpe_dist;

/* The sampler's settings, with Optuna's names and defaults (hf_tpe_opts_default). */
typedef struct hf_tpe_opts {
    int n_startup_trials;    /* 10: random proposals until this many trials have finished */
    int n_ei_candidates;     /* 24 */
    int multivariate;        /* 0: one estimator per parameter; 1: a joint one */
    int consider_prior;      /* 1 */
    double prior_weight;     /* 1.0 */
    int consider_magic_clip; /* 1 */
    int consider_endpoints;  /* 0 */
} hf_tpe_opts;

void hf_tpe_opts_default(hf_tpe_opts *o);

/* A fitted Parzen estimator over d dimensions. */
typedef struct hf_parzen hf_parzen;

/* Fits an estimator to n observations (obs: n x d, row-major, external representation) with
 * Optuna's age weights (weights NULL) or the given n weights. Not collective. */
int hf_parzen_new(const hf_tpe_dist *dists, size_t d, const double *obs, size_t n,
                  const double *weights, const hf_tpe_opts *o, hf_parzen **out);
/* Log density (or, for discrete dimensions, log probability mass) of m points x (m x d,
 * external representation) into out[m]. */
void hf_parzen_log_pdf(const hf_parzen *p, const double *x, size_t m, double *out);
/* m draws (m x d, external representation: rounded to the step, clipped to the bounds). */
int hf_parzen_sample(const hf_parzen *p, hf_rng *r, size_t m, double *x);
/* The fitted components, for tests: n_components (n + the prior), and for dimension j its
 * component weights (w), means and bandwidths (on the transformed scale; NULL for a
 * categorical dimension) or its categorical weights (n_components x n_choices). */
size_t hf_parzen_components(const hf_parzen *p, const double **w);
void hf_parzen_dim(const hf_parzen *p, size_t j, const double **mus, const double **sigmas,
                   const double **cat_weights);
void hf_parzen_free(hf_parzen *p);

/* Optuna's gamma and age weights. */
size_t hf_tpe_gamma(size_t n_finished);
void hf_tpe_weights(size_t n, double *w);

/* Proposes one point x (d values) from n earlier trials: obs (n x d) and loss[n] (lower is better;
 * INFINITY for a trial still running, which the constant liar places "above"). Failed trials are
 * not passed. Returns HF_OK, or 1 (nothing written) when fewer than n_startup_trials trials have
 * finished: the caller draws at random then. Not collective. */
int hf_tpe_propose(const hf_tpe_opts *o, const hf_tpe_dist *dists, size_t d, const double *obs,
                   const double *loss, size_t n, hf_rng *r, double *x);

#endif
