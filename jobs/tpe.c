/* tpe.c - the TPE sampler: Optuna's Parzen estimator and proposal rule, in C.
 *
 * Hand-written because no library in Debian has a TPE (or any Bayesian-optimisation) sampler for
 * C; Optuna is Python. The numerics follow optuna/samplers/_tpe (parzen_estimator.py,
 * _truncnorm.py, sampler.py, version 3.1.0) step by step so that the tests can hold the fitted
 * estimators and their densities to python3-optuna's to 1e-9. Departures, each also in
 * docs/search.md:
 *  - the truncated-normal log density subtracts log(sigma) (Optuna 3.1.0 leaves it out, so its
 *    density does not integrate to 1 and narrow components are undervalued; later Optuna
 *    versions subtract it as here);
 *  - the random numbers are hyperfold's (xoshiro256**), not numpy's Mersenne Twister, so the
 *    same seed does not give Optuna's proposals. */
#define _GNU_SOURCE /* qsort_r */
#include "jobs/tpe.h"

#include "common/hf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-12
#define SIGMA0_MAGNITUDE 0.2

void hf_tpe_opts_default(hf_tpe_opts *o)
{
    o->n_startup_trials = 10;
    o->n_ei_candidates = 24;
    o->multivariate = 0;
    o->consider_prior = 1;
    o->prior_weight = 1.0;
    o->consider_magic_clip = 1;
    o->consider_endpoints = 0;
}

size_t hf_tpe_gamma(size_t n)
{
    double g = ceil(0.1 * (double)n); /* in floating point, as Optuna: ceil(0.1 * 30) is 4 */
    return g < 25.0 ? (size_t)g : 25;
}

void hf_tpe_weights(size_t n, double *w)
{
    if (n < 25) {
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0;
        return;
    }
    /* np.linspace(1 / n, 1, n - 25) then 25 ones */
    size_t num = n - 25;
    double start = 1.0 / (double)n, step = num > 1 ? (1.0 - start) / (double)(num - 1) : 0.0;
    for (size_t i = 0; i < num; i++)
        w[i] = (double)i * step + start;
    if (num > 1)
        w[num - 1] = 1.0;
    for (size_t i = num; i < n; i++)
        w[i] = 1.0;
}

/* ---- the truncated normal (optuna/samplers/_tpe/_truncnorm.py) ---------------------------- */

static double ndtr_single(double a)
{
    double x = a / sqrt(2.0);
    if (x < -1.0 / sqrt(2.0))
        return 0.5 * erfc(-x);
    if (x < 1.0 / sqrt(2.0))
        return 0.5 + 0.5 * erf(x);
    return 1.0 - 0.5 * erfc(x);
}

static double ndtr(double a)
{
    return 0.5 + 0.5 * erf(a / sqrt(2.0));
}

static double log_ndtr(double a)
{
    if (a > 6)
        return -ndtr_single(-a);
    if (a > -20)
        return log(ndtr_single(a));
    /* The asymptotic series of the left tail. */
    double log_lhs = -0.5 * a * a - log(-a) - 0.5 * log(2 * M_PI);
    double last = 0.0, rhs = 1.0, numerator = 1.0, denom_factor = 1.0, denom_cons = 1 / (a * a);
    int sign = 1;
    for (int i = 1; fabs(last - rhs) > 2.220446049250313e-16 && i < 1000; i++) {
        last = rhs;
        sign = -sign;
        denom_factor *= denom_cons;
        numerator *= 2 * i - 1;
        rhs += sign * numerator * denom_factor;
    }
    return log_lhs + log(rhs);
}

static double log_diff(double log_p, double log_q)
{
    return log_p + log1p(-exp(log_q - log_p));
}

static double logaddexp(double a, double b)
{
    if (a == b)
        return a + M_LN2;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

/* Log of the standard normal mass in [a, b]. */
static double log_gauss_mass(double a, double b)
{
    if (b <= 0)
        return log_diff(log_ndtr(b), log_ndtr(a));
    if (a > 0)
        return log_diff(log_ndtr(-a), log_ndtr(-b));
    return log1p(-ndtr(a) - ndtr(-b));
}

static double ndtri_exp(double y)
{
    double a = -100, b = 100, m = 0;
    if (log_ndtr(a) > y) {
        a = 100;
        b = -100;
    }
    for (int i = 0; i < 100; i++) {
        m = (a + b) / 2;
        if (log_ndtr(m) < y)
            a = m;
        else
            b = m;
    }
    return m;
}

/* The q-quantile of the standard normal truncated to [a, b]. */
static double truncnorm_ppf(double q, double a, double b)
{
    if (q == 0)
        return a;
    if (q == 1)
        return b;
    if (a < 0)
        return ndtri_exp(logaddexp(log_ndtr(a), log(q) + log_gauss_mass(a, b)));
    return -ndtri_exp(logaddexp(log_ndtr(-b), log1p(-q) + log_gauss_mass(a, b)));
}

static double norm_logpdf(double x)
{
    return -(x * x) / 2.0 - 0.91893853320467274178; /* log(sqrt(2 pi)) */
}

/* ---- the Parzen estimator (parzen_estimator.py) --------------------------------------------- */

typedef struct pdim {
    hf_tpe_dist dist;
    double low, high, q; /* on the transformed scale; q 0: continuous */
    double *mus, *sigmas;
    double *lnorm; /* per component: log of its truncated mass (+ log sigma when continuous) */
    double *cat;   /* n_components x n_choices, then their logs */
} pdim;

struct hf_parzen {
    size_t d, n, nc; /* dimensions, observations, components (n, or n + 1 with the prior) */
    double *w;       /* nc component weights, summing to 1 */
    pdim *dims;
};

static double to_uniform(const hf_tpe_dist *dist, double v)
{
    return dist->kind != HF_TPE_CATEGORICAL && dist->log ? log(v) : v;
}

static double from_uniform(const hf_tpe_dist *dist, double v)
{
    switch (dist->kind) {
    case HF_TPE_FLOAT:
        if (dist->log)
            return exp(v);
        if (dist->step > 0) {
            v = nearbyint((v - dist->low) / dist->step) * dist->step + dist->low;
            return v < dist->low ? dist->low : v > dist->high ? dist->high : v;
        }
        return v;
    case HF_TPE_INT:
        if (dist->log)
            v = nearbyint(exp(v));
        else
            v = nearbyint((v - dist->low) / dist->step) * dist->step + dist->low;
        return v < dist->low ? dist->low : v > dist->high ? dist->high : v;
    default:
        return v;
    }
}

static int argsort_cmp_ctx(const void *a, const void *b, void *ctx)
{
    const double *v = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (v[i] < v[j])
        return -1;
    if (v[i] > v[j])
        return 1;
    return i < j ? -1 : i > j; /* stable */
}

/* Stable argsort of v[0..n) into idx (the split of the trials, np.argsort(kind="stable")). */
static void argsort_stable(const double *v, size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, argsort_cmp_ctx, (void *)v);
}

/* numpy's default argsort of float64 (numpy 1.24, npysort/quicksort.cpp: median-of-3 introsort,
 * insertion sort below 16 elements, heapsort past the depth limit), which Optuna uses to give the
 * observations their bandwidths. It is not stable, and tied values (common for an integer
 * parameter) get the bandwidths of their neighbours in the order it leaves them: ported so that
 * they get the ones Optuna gives them. NaN sorts last. */
static int np_less(double a, double b)
{
    return a < b || (b != b && a == a);
}

/* Moves tmp down from slot i of the 1-based heap a[1..n]. */
static void np_sift_down(const double *v, size_t *a, size_t tmp, ptrdiff_t i, ptrdiff_t n)
{
    for (ptrdiff_t j = i << 1; j <= n;) {
        if (j < n && np_less(v[a[j]], v[a[j + 1]]))
            j += 1;
        if (!np_less(v[tmp], v[a[j]]))
            break;
        a[i] = a[j];
        i = j;
        j += j;
    }
    a[i] = tmp;
}

static void np_aheapsort(const double *v, size_t *tosort, ptrdiff_t n)
{
    size_t *a = tosort - 1; /* 1-based heap indexing */
    for (ptrdiff_t l = n >> 1; l > 0; --l)
        np_sift_down(v, a, a[l], l, n);
    for (; n > 1;) {
        size_t tmp = a[n];
        a[n] = a[1];
        n -= 1;
        np_sift_down(v, a, tmp, 1, n);
    }
}

#define SWAP_IDX(x, y)                                                                             \
    do {                                                                                           \
        size_t t_ = (x);                                                                           \
        (x) = (y);                                                                                 \
        (y) = t_;                                                                                  \
    } while (0)

static void argsort_numpy(const double *v, size_t num, size_t *tosort)
{
    for (size_t i = 0; i < num; i++)
        tosort[i] = i;
    if (num < 2)
        return;
    size_t *pl = tosort, *pr = tosort + num - 1, *stack[128], **sptr = stack, *pm, *pi, *pj, *pk;
    int depth[128], *psdepth = depth, cdepth = 0;
    for (size_t u = num; u >>= 1;)
        cdepth++;
    cdepth *= 2;
    for (;;) {
        if (cdepth < 0) {
            np_aheapsort(v, pl, pr - pl + 1);
            goto stack_pop;
        }
        while (pr - pl > 15) {
            pm = pl + ((pr - pl) >> 1);
            if (np_less(v[*pm], v[*pl]))
                SWAP_IDX(*pm, *pl);
            if (np_less(v[*pr], v[*pm]))
                SWAP_IDX(*pr, *pm);
            if (np_less(v[*pm], v[*pl]))
                SWAP_IDX(*pm, *pl);
            double vp = v[*pm];
            pi = pl;
            pj = pr - 1;
            SWAP_IDX(*pm, *pj);
            for (;;) {
                do
                    ++pi;
                while (np_less(v[*pi], vp));
                do
                    --pj;
                while (np_less(vp, v[*pj]));
                if (pi >= pj)
                    break;
                SWAP_IDX(*pi, *pj);
            }
            pk = pr - 1;
            SWAP_IDX(*pi, *pk);
            if (pi - pl < pr - pi) { /* push the larger partition */
                *sptr++ = pi + 1;
                *sptr++ = pr;
                pr = pi - 1;
            } else {
                *sptr++ = pl;
                *sptr++ = pi - 1;
                pl = pi + 1;
            }
            *psdepth++ = --cdepth;
        }
        for (pi = pl + 1; pi <= pr; ++pi) { /* insertion sort */
            size_t vi = *pi;
            double vp = v[vi];
            pj = pi;
            pk = pi - 1;
            while (pj > pl && np_less(vp, v[*pk]))
                *pj-- = *pk--;
            *pj = vi;
        }
    stack_pop:
        if (sptr == stack)
            break;
        pr = *(--sptr);
        pl = *(--sptr);
        cdepth = *(--psdepth);
    }
}

static int numerical_params(const hf_parzen *p, const hf_tpe_opts *o, pdim *pd,
                            const double *obs_col, int consider_prior, double sigma0)
{
    const size_t n = p->n, nc = p->nc;
    double low = pd->low, high = pd->high;
    pd->mus = hf_malloc(nc * sizeof *pd->mus);
    pd->sigmas = hf_malloc(nc * sizeof *pd->sigmas);
    size_t *idx = hf_malloc(nc * sizeof *idx);
    double *s = hf_malloc((nc + 2) * sizeof *s);
    double *ss = hf_malloc(nc * sizeof *ss);
    int result = pd->mus && pd->sigmas && idx && s && ss ? HF_OK : HF_ENOMEM;
    if (result < 0)
        goto out;
    for (size_t k = 0; k < n; k++)
        pd->mus[k] = obs_col[k];
    if (consider_prior)
        pd->mus[n] = 0.5 * (low + high);
    if (sigma0 > 0) { /* multivariate */
        for (size_t k = 0; k < nc; k++)
            pd->sigmas[k] = sigma0 * (high - low);
    } else {
        argsort_numpy(pd->mus, nc, idx);
        s[0] = low;
        for (size_t k = 0; k < nc; k++)
            s[k + 1] = pd->mus[idx[k]];
        s[nc + 1] = high;
        for (size_t k = 0; k < nc; k++) {
            double left = s[k + 1] - s[k], right = s[k + 2] - s[k + 1];
            ss[k] = left > right ? left : right;
        }
        if (!o->consider_endpoints && nc + 2 >= 4) {
            ss[0] = s[2] - s[1];
            ss[nc - 1] = s[nc] - s[nc - 1];
        }
        for (size_t k = 0; k < nc; k++)
            pd->sigmas[idx[k]] = ss[k];
    }
    double maxsigma = 1.0 * (high - low);
    double minsigma =
        o->consider_magic_clip ? 1.0 * (high - low) / fmin(100.0, 1.0 + (double)nc) : EPS;
    for (size_t k = 0; k < nc; k++) {
        double v = pd->sigmas[k];
        pd->sigmas[k] = v < minsigma ? minsigma : v > maxsigma ? maxsigma : v;
    }
    if (consider_prior)
        pd->sigmas[n] = 1.0 * (high - low);
    if (!(pd->lnorm = hf_malloc(nc * sizeof *pd->lnorm))) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < nc; k++) {
        double mu = pd->mus[k], sg = pd->sigmas[k];
        pd->lnorm[k] =
            log_gauss_mass((low - mu) / sg, (high - mu) / sg) + (pd->q == 0 ? log(sg) : 0);
    }
out:
    free(idx);
    free(s);
    free(ss);
    return result;
}

int hf_parzen_new(const hf_tpe_dist *dists, size_t d, const double *obs, size_t n,
                  const double *weights, const hf_tpe_opts *o, hf_parzen **out)
{
    *out = NULL;
    hf_parzen *p = hf_calloc(1, sizeof *p);
    if (!p)
        return HF_ENOMEM;
    int consider_prior = o->consider_prior || n == 0;
    p->d = d;
    p->n = n;
    p->nc = n + (consider_prior ? 1 : 0);
    p->w = hf_calloc(p->nc ? p->nc : 1, sizeof *p->w);
    p->dims = hf_calloc(d ? d : 1, sizeof *p->dims);
    double *col = hf_malloc((n ? n : 1) * sizeof *col);
    int result = p->w && p->dims && col ? HF_OK : HF_ENOMEM;
    if (result < 0)
        goto out;
    /* The component weights: the age weights (or the given ones), then the prior's. */
    if (weights)
        memcpy(p->w, weights, n * sizeof *p->w);
    else
        hf_tpe_weights(n, p->w);
    if (consider_prior)
        p->w[n] = o->prior_weight;
    double sum = 0;
    for (size_t k = 0; k < p->nc; k++)
        sum += p->w[k];
    for (size_t k = 0; k < p->nc; k++)
        p->w[k] /= sum;
    /* Scott's rule for the multivariate bandwidths. */
    double sigma0 = o->multivariate
                        ? SIGMA0_MAGNITUDE * pow((double)(n > 1 ? n : 1), -1.0 / ((double)d + 4))
                        : 0.0;
    for (size_t j = 0; j < d && result >= 0; j++) {
        pdim *pd = &p->dims[j];
        const hf_tpe_dist *dist = &dists[j];
        pd->dist = *dist;
        for (size_t k = 0; k < n; k++)
            col[k] = to_uniform(dist, obs[k * d + j]);
        if (dist->kind == HF_TPE_CATEGORICAL) {
            size_t nch = dist->n_choices;
            pd->cat = hf_malloc(2 * p->nc * nch * sizeof *pd->cat);
            if (!pd->cat) {
                result = HF_ENOMEM;
                break;
            }
            double value = o->prior_weight / (double)(consider_prior ? n + 1 : n);
            for (size_t k = 0; k < p->nc * nch; k++)
                pd->cat[k] = value;
            for (size_t k = 0; k < n; k++) {
                double c = col[k];
                size_t ci = c >= 0 && c < (double)nch ? (size_t)c : 0;
                pd->cat[k * nch + ci] += 1;
            }
            for (size_t k = 0; k < p->nc; k++) {
                double rs = 0;
                for (size_t c = 0; c < nch; c++)
                    rs += pd->cat[k * nch + c];
                for (size_t c = 0; c < nch; c++)
                    pd->cat[k * nch + c] /= rs;
            }
            for (size_t k = 0; k < p->nc * nch; k++)
                pd->cat[p->nc * nch + k] = log(pd->cat[k]);
            continue;
        }
        if (dist->kind == HF_TPE_FLOAT) {
            if (dist->log) {
                pd->low = log(dist->low);
                pd->high = log(dist->high);
            } else if (dist->step > 0) {
                pd->q = dist->step;
                pd->low = dist->low - 0.5 * pd->q;
                pd->high = dist->high + 0.5 * pd->q;
            } else {
                pd->low = dist->low;
                pd->high = dist->high;
            }
        } else if (dist->log) {
            pd->low = log(dist->low - 0.5);
            pd->high = log(dist->high + 0.5);
        } else {
            pd->q = dist->step;
            pd->low = dist->low - 0.5 * pd->q;
            pd->high = dist->high + 0.5 * pd->q;
        }
        result = numerical_params(p, o, pd, col, consider_prior, sigma0);
    }
out:
    free(col);
    if (result < 0)
        hf_parzen_free(p);
    else
        *out = p;
    return result;
}

void hf_parzen_log_pdf(const hf_parzen *p, const double *x, size_t m, double *out)
{
    const size_t d = p->d, nc = p->nc;
    double *lp = malloc((nc ? nc : 1) * sizeof *lp); /* no message: the caller sees NaN */
    if (!lp) { /* (out of memory: no density; the proposal then takes the first candidate) */
        for (size_t i = 0; i < m; i++)
            out[i] = NAN;
        return;
    }
    for (size_t i = 0; i < m; i++) {
        /* component_log_pdf + log weight, then log-sum-exp over the components */
        for (size_t k = 0; k < nc; k++)
            lp[k] = log(p->w[k]);
        for (size_t j = 0; j < d; j++) {
            const pdim *pd = &p->dims[j];
            double v = to_uniform(&pd->dist, x[i * d + j]);
            if (pd->dist.kind == HF_TPE_CATEGORICAL) {
                size_t nch = pd->dist.n_choices;
                size_t ci = v >= 0 && v < (double)nch ? (size_t)v : 0;
                const double *lc = pd->cat + nc * nch;
                for (size_t k = 0; k < nc; k++)
                    lp[k] += lc[k * nch + ci];
                continue;
            }
            if (pd->q == 0) {
                for (size_t k = 0; k < nc; k++) {
                    double mu = pd->mus[k], sg = pd->sigmas[k];
                    double z = (v - mu) / sg;
                    lp[k] +=
                        v < pd->low || v > pd->high ? -INFINITY : norm_logpdf(z) - pd->lnorm[k];
                }
            } else {
                double ub = fmin(v + pd->q / 2.0, pd->high);
                double lb = fmax(v - pd->q / 2.0, pd->low);
                for (size_t k = 0; k < nc; k++) {
                    double mu = pd->mus[k], sg = pd->sigmas[k];
                    lp[k] += log_gauss_mass((lb - mu) / sg, (ub - mu) / sg) - pd->lnorm[k];
                }
            }
        }
        double mx = -INFINITY, acc = 0;
        for (size_t k = 0; k < nc; k++)
            if (lp[k] > mx)
                mx = lp[k];
        for (size_t k = 0; k < nc && !isinf(mx); k++)
            acc += exp(lp[k] - mx);
        out[i] = isinf(mx) ? mx : log(acc) + mx;
    }
    free(lp);
}

/* The first index whose cumulative weight exceeds u (numpy's choice with p: searchsorted on the
 * normalised cumulative sum, side right). */
static size_t pick(const double *w, size_t n, double u)
{
    double c = 0, total = 0;
    for (size_t k = 0; k < n; k++)
        total += w[k];
    for (size_t k = 0; k < n; k++) {
        c += w[k];
        if (u < c / total)
            return k;
    }
    return n - 1;
}

int hf_parzen_sample(const hf_parzen *p, hf_rng *r, size_t m, double *x)
{
    const size_t d = p->d;
    size_t *active = hf_malloc((m ? m : 1) * sizeof *active);
    if (!active)
        return HF_ENOMEM;
    for (size_t i = 0; i < m; i++)
        active[i] = pick(p->w, p->nc, hf_rng_uniform(r));
    for (size_t j = 0; j < d; j++) {
        const pdim *pd = &p->dims[j];
        for (size_t i = 0; i < m; i++) {
            size_t k = active[i];
            double v;
            if (pd->dist.kind == HF_TPE_CATEGORICAL) {
                size_t nch = pd->dist.n_choices;
                v = (double)pick(pd->cat + k * nch, nch, hf_rng_uniform(r));
            } else {
                double mu = pd->mus[k], sg = pd->sigmas[k];
                double u = hf_rng_uniform(r);
                v = truncnorm_ppf(u, (pd->low - mu) / sg, (pd->high - mu) / sg) * sg + mu;
                v = from_uniform(&pd->dist, v);
            }
            x[i * d + j] = v;
        }
    }
    free(active);
    return HF_OK;
}

size_t hf_parzen_components(const hf_parzen *p, const double **w)
{
    *w = p->w;
    return p->nc;
}

void hf_parzen_dim(const hf_parzen *p, size_t j, const double **mus, const double **sigmas,
                   const double **cat_weights)
{
    *mus = p->dims[j].mus;
    *sigmas = p->dims[j].sigmas;
    *cat_weights = p->dims[j].cat;
}

void hf_parzen_free(hf_parzen *p)
{
    if (!p)
        return;
    for (size_t j = 0; j < p->d; j++) {
        free(p->dims[j].mus);
        free(p->dims[j].sigmas);
        free(p->dims[j].lnorm);
        free(p->dims[j].cat);
    }
    free(p->dims);
    free(p->w);
    free(p);
}

/* ---- the proposal (sampler.py) ------------------------------------------------------------- */

/* Draws n_ei_candidates points from the "below" estimator of the dimensions dims[0..dn) and
 * writes the one with the largest log l - log g into x (at the dims' positions). */
static int propose_dims(const hf_tpe_opts *o, const hf_tpe_dist *dists, size_t d,
                        const size_t *dims, size_t dn, const double *obs, const size_t *below,
                        size_t nb, const size_t *above, size_t na, hf_rng *r, double *x)
{
    size_t m = (size_t)o->n_ei_candidates;
    hf_tpe_dist *sd = hf_malloc(dn * sizeof *sd);
    double *ob = hf_malloc((nb ? nb : 1) * dn * sizeof *ob);
    double *oa = hf_malloc((na ? na : 1) * dn * sizeof *oa);
    double *cand = hf_malloc(m * dn * sizeof *cand);
    double *ll = hf_malloc(m * sizeof *ll), *lg = hf_malloc(m * sizeof *lg);
    hf_parzen *pb = NULL, *pa = NULL;
    int result = sd && ob && oa && cand && ll && lg ? HF_OK : HF_ENOMEM;
    if (result < 0)
        goto out;
    for (size_t j = 0; j < dn; j++) {
        sd[j] = dists[dims[j]];
        for (size_t i = 0; i < nb; i++)
            ob[i * dn + j] = obs[below[i] * d + dims[j]];
        for (size_t i = 0; i < na; i++)
            oa[i * dn + j] = obs[above[i] * d + dims[j]];
    }
    if ((result = hf_parzen_new(sd, dn, ob, nb, NULL, o, &pb)) < 0 ||
        (result = hf_parzen_new(sd, dn, oa, na, NULL, o, &pa)) < 0 ||
        (result = hf_parzen_sample(pb, r, m, cand)) < 0)
        goto out;
    hf_parzen_log_pdf(pb, cand, m, ll);
    hf_parzen_log_pdf(pa, cand, m, lg);
    size_t best = 0;
    for (size_t i = 1; i < m; i++)
        if (ll[i] - lg[i] > ll[best] - lg[best])
            best = i;
    for (size_t j = 0; j < dn; j++)
        x[dims[j]] = cand[best * dn + j];
out:
    hf_parzen_free(pb);
    hf_parzen_free(pa);
    free(sd);
    free(ob);
    free(oa);
    free(cand);
    free(ll);
    free(lg);
    return result;
}

int hf_tpe_propose(const hf_tpe_opts *o, const hf_tpe_dist *dists, size_t d, const double *obs,
                   const double *loss, size_t n, hf_rng *r, double *x)
{
    size_t finished = 0;
    for (size_t i = 0; i < n; i++)
        finished += loss[i] < INFINITY;
    if (finished < (size_t)(o->n_startup_trials > 0 ? o->n_startup_trials : 0) || d == 0)
        return 1;
    /* The split: a stable sort on the loss, running trials (INFINITY) last; each side in
     * chronological order. */
    size_t n_below = hf_tpe_gamma(finished);
    size_t *idx = hf_malloc((n ? n : 1) * sizeof *idx);
    unsigned char *is_below = hf_calloc(n ? n : 1, 1);
    size_t *below = hf_malloc((n ? n : 1) * sizeof *below);
    size_t *above = hf_malloc((n ? n : 1) * sizeof *above);
    size_t *dims = hf_malloc(d * sizeof *dims);
    int result = idx && is_below && below && above && dims ? HF_OK : HF_ENOMEM;
    if (result < 0)
        goto out;
    argsort_stable(loss, n, idx);
    for (size_t i = 0; i < n_below && i < n; i++)
        is_below[idx[i]] = 1;
    size_t nb = 0, na = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_below[i])
            below[nb++] = i;
        else
            above[na++] = i;
    }
    if (o->multivariate) {
        for (size_t j = 0; j < d; j++)
            dims[j] = j;
        result = propose_dims(o, dists, d, dims, d, obs, below, nb, above, na, r, x);
    } else {
        for (size_t j = 0; j < d && result >= 0; j++) {
            dims[0] = j;
            result = propose_dims(o, dists, d, dims, 1, obs, below, nb, above, na, r, x);
        }
    }
out:
    free(idx);
    free(is_below);
    free(below);
    free(above);
    free(dims);
    return result;
}
