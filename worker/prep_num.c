/* prep_num.c - quantiles, power transforms and quantile bins of one numeric column (see
 * prep_num.h). Written here rather than taken from a library: no Debian C library implements
 * scikit-learn's PowerTransformer or KBinsDiscretizer, and matching them to 1e-9 needs numpy's
 * interpolation and scipy's Brent iteration step for step (transcribed from numpy 1.24
 * lib/function_base.py _quantile/_lerp and scipy 1.10 optimize/_optimize.py bracket/Brent). */
#include "worker/prep_num.h"
#include "common/stats.h"

#include <math.h>
#include <stddef.h>

double hf_prepnum_power(hf_power_kind kind, double x, double lambda)
{
    if (kind == HF_POWER_BOX_COX) {
        /* scipy.special.boxcox: log(x) at lambda 0, else expm1(lambda log x) / lambda */
        if (fabs(lambda) < 1e-19)
            return log(x);
        return expm1(lambda * log(x)) / lambda;
    }
    if (kind != HF_POWER_YEO_JOHNSON)
        return x;
    /* scikit-learn 1.2 PowerTransformer._yeo_johnson_transform */
    const double eps = 2.220446049250313e-16; /* np.spacing(1.0) */
    if (x >= 0) {
        if (fabs(lambda) < eps)
            return log1p(x);
        return (pow(x + 1.0, lambda) - 1.0) / lambda;
    }
    if (fabs(lambda - 2.0) > eps)
        return -(pow(-x + 1.0, 2.0 - lambda) - 1.0) / (2.0 - lambda);
    return -log1p(-x);
}

typedef struct power_problem {
    hf_power_kind kind;
    const double *x;
    size_t n;
    double *t;       /* scratch: the transformed values */
    double log_term; /* YJ: sum sign(x) log1p|x|; Box-Cox: sum log x */
} power_problem;

static double variance(const double *t, size_t n)
{
    double m = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++)
        m += t[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (t[i] - m) * (t[i] - m);
    return s / (double)n;
}

/* The negative log-likelihood of lambda (scikit-learn's _neg_log_likelihood for Yeo-Johnson,
 * -scipy.stats.boxcox_llf for Box-Cox). */
static double neg_llf(const power_problem *pp, double lmb)
{
    double var;
    if (pp->kind == HF_POWER_BOX_COX) {
        /* boxcox_llf: var(log x) at 0, else var(x**lmb / lmb) (the offset dropped) */
        for (size_t i = 0; i < pp->n; i++)
            pp->t[i] = lmb == 0 ? log(pp->x[i]) : pow(pp->x[i], lmb) / lmb;
        var = variance(pp->t, pp->n);
        return -((lmb - 1.0) * pp->log_term - (double)pp->n / 2.0 * log(var));
    }
    for (size_t i = 0; i < pp->n; i++)
        pp->t[i] = hf_prepnum_power(HF_POWER_YEO_JOHNSON, pp->x[i], lmb);
    var = variance(pp->t, pp->n);
    if (var < 2.2250738585072014e-308) /* np.finfo(np.float64).tiny */
        return INFINITY;
    return -(-(double)pp->n / 2.0 * log(var) + (lmb - 1.0) * pp->log_term);
}

/* scipy.optimize.bracket(func, xa, xb): a triple xa, xb, xc with f(xb) below both ends. */
static int bracket(const power_problem *pp, double xa, double xb, double br[3], double fbr[3])
{
    const double gold = 1.618034, very_small = 1e-21, grow_limit = 110.0;
    double fa = neg_llf(pp, xa), fb = neg_llf(pp, xb);
    if (fa < fb) {
        double t = xa;
        xa = xb;
        xb = t;
        t = fa;
        fa = fb;
        fb = t;
    }
    double xc = xb + gold * (xb - xa), fc = neg_llf(pp, xc);
    for (int iter = 0; fc < fb; iter++) {
        if (iter > 1000)
            return -1;
        double tmp1 = (xb - xa) * (fb - fc), tmp2 = (xb - xc) * (fb - fa), val = tmp2 - tmp1;
        double denom = fabs(val) < very_small ? 2.0 * very_small : 2.0 * val;
        double w = xb - ((xb - xc) * tmp2 - (xb - xa) * tmp1) / denom, fw;
        double wlim = xb + grow_limit * (xc - xb);
        if ((w - xc) * (xb - w) > 0.0) {
            fw = neg_llf(pp, w);
            if (fw < fc) {
                xa = xb;
                xb = w;
                fa = fb;
                fb = fw;
                break;
            } else if (fw > fb) {
                xc = w;
                fc = fw;
                break;
            }
            w = xc + gold * (xc - xb);
            fw = neg_llf(pp, w);
        } else if ((w - wlim) * (wlim - xc) >= 0.0) {
            w = wlim;
            fw = neg_llf(pp, w);
        } else if ((w - wlim) * (xc - w) > 0.0) {
            fw = neg_llf(pp, w);
            if (fw < fc) {
                xb = xc;
                xc = w;
                w = xc + gold * (xc - xb);
                fb = fc;
                fc = fw;
                fw = neg_llf(pp, w);
            }
        } else {
            w = xc + gold * (xc - xb);
            fw = neg_llf(pp, w);
        }
        xa = xb;
        xb = xc;
        xc = w;
        fa = fb;
        fb = fc;
        fc = fw;
    }
    if (!isfinite(xa) || !isfinite(xb) || !isfinite(xc) || !isfinite(fb))
        return -1;
    br[0] = xa;
    br[1] = xb;
    br[2] = xc;
    fbr[0] = fa;
    fbr[1] = fb;
    fbr[2] = fc;
    return 0;
}

/* scipy.optimize.Brent.optimize (tol 1.48e-8, maxiter 500) from a bracket. */
static double brent(const power_problem *pp, const double br[3], const double fbr[3])
{
    const double tol = 1.48e-8, mintol = 1.0e-11, cg = 0.3819660;
    double x = br[1], w = x, v = x, fx = fbr[1], fw = fx, fv = fx;
    double a = br[0] < br[2] ? br[0] : br[2], b = br[0] < br[2] ? br[2] : br[0];
    double deltax = 0.0, rat = 0.0;
    for (int iter = 0; iter < 500; iter++) {
        double tol1 = tol * fabs(x) + mintol, tol2 = 2.0 * tol1, xmid = 0.5 * (a + b);
        if (fabs(x - xmid) < (tol2 - 0.5 * (b - a)))
            break;
        if (fabs(deltax) <= tol1) {
            deltax = x >= xmid ? a - x : b - x;
            rat = cg * deltax;
        } else {
            double tmp1 = (x - w) * (fx - fv), tmp2 = (x - v) * (fx - fw);
            double p = (x - v) * tmp2 - (x - w) * tmp1;
            tmp2 = 2.0 * (tmp2 - tmp1);
            if (tmp2 > 0.0)
                p = -p;
            tmp2 = fabs(tmp2);
            double dx_temp = deltax;
            deltax = rat;
            if (p > tmp2 * (a - x) && p < tmp2 * (b - x) && fabs(p) < fabs(0.5 * tmp2 * dx_temp)) {
                rat = p * 1.0 / tmp2;
                double u = x + rat;
                if ((u - a) < tol2 || (b - u) < tol2)
                    rat = xmid - x >= 0 ? tol1 : -tol1;
            } else {
                deltax = x >= xmid ? a - x : b - x;
                rat = cg * deltax;
            }
        }
        double u = fabs(rat) < tol1 ? (rat >= 0 ? x + tol1 : x - tol1) : x + rat;
        double fu = neg_llf(pp, u);
        if (fu > fx) {
            if (u < x)
                a = u;
            else
                b = u;
            if (fu <= fw || w == x) {
                v = w;
                w = u;
                fv = fw;
                fw = fu;
            } else if (fu <= fv || v == x || v == w) {
                v = u;
                fv = fu;
            }
        } else {
            if (u >= x)
                a = x;
            else
                b = x;
            v = w;
            w = x;
            x = u;
            fv = fw;
            fw = fx;
            fx = fu;
        }
    }
    return x;
}

int hf_prepnum_power_lambda(hf_power_kind kind, const double *x, size_t n, double *scratch,
                            double *lambda)
{
    power_problem pp = {kind, x, n, scratch, 0.0};
    for (size_t i = 0; i < n; i++)
        pp.log_term += kind == HF_POWER_BOX_COX ? log(x[i])
                       : x[i] > 0               ? log1p(x[i])
                       : x[i] < 0               ? -log1p(-x[i])
                                                : 0.0;
    double br[3], fbr[3];
    *lambda = 1.0;
    if (bracket(&pp, -2.0, 2.0, br, fbr) < 0)
        return -1;
    double l = brent(&pp, br, fbr);
    if (!isfinite(l))
        return -1;
    *lambda = l;
    return 0;
}

size_t hf_prepnum_kbins_edges(const double *sorted, size_t n, size_t n_bins, double *edges)
{
    if (sorted[0] == sorted[n - 1]) {
        edges[0] = -INFINITY;
        edges[1] = INFINITY;
        return 2;
    }
    /* numpy.linspace(0, 100, n_bins + 1): i * (100 / n_bins), the last exactly 100; then
     * percentile divides by 100 */
    double step = 100.0 / (double)n_bins;
    size_t kept = 0;
    double last = -INFINITY;
    for (size_t i = 0; i <= n_bins; i++) {
        double q = i == n_bins ? 100.0 : (double)i * step;
        double e = hf_quantile_sorted(sorted, n, q / 100.0);
        /* np.ediff1d(edges, to_begin=inf) > 1e-8 */
        if (i == 0 || e - last > 1e-8)
            edges[kept++] = e;
        last = e;
    }
    return kept;
}

double hf_prepnum_kbins_bin(const double *edges, size_t n_edges, double x)
{
    size_t bin = 0;
    for (size_t i = 1; i + 1 < n_edges; i++)
        if (edges[i] <= x)
            bin++;
    return (double)bin;
}
