/* tool_tpe.c - hyperfold's Parzen estimator on cases read from stdin, for test_tpe_optuna.py.
 *
 * Input: one JSON array of cases; each case is
 *   {"dists": [{"kind": "float"|"int"|"categorical", "log": bool, "low": x, "high": x,
 *               "step": x, "n_choices": n}, ...],
 *    "multivariate": bool, "consider_endpoints": bool, "consider_magic_clip": bool,
 *    "prior_weight": x, "obs": [[...], ...], "x": [[...], ...], "draws": n}
 * Output: one JSON array, per case {"w": [...], "dims": [{"mus", "sigmas", "cat"}...],
 * "log_pdf": [...], "draws": [[...], ...]} (draws: points sampled from the estimator, seed 1). */
#include "common/hf.h"
#include "jobs/tpe.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *array_of(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static double *matrix(json_t *rows, size_t d, size_t *n)
{
    *n = json_array_size(rows);
    double *m = calloc((*n ? *n : 1) * (d ? d : 1), sizeof *m);
    for (size_t i = 0; i < *n; i++)
        for (size_t j = 0; j < d; j++)
            m[i * d + j] = json_number_value(json_array_get(json_array_get(rows, i), j));
    return m;
}

/* {"bench_propose": n, "repeat": r, "dists": [...], "multivariate": b}: the median time of r
 * proposals from n random finished trials, in ms (bench/tpe.py). */
static json_t *bench_case(json_t *c, const hf_tpe_dist *dists, size_t d, const hf_tpe_opts *o)
{
    size_t n = (size_t)json_integer_value(json_object_get(c, "bench_propose"));
    size_t rep = (size_t)json_integer_value(json_object_get(c, "repeat"));
    double *obs = calloc(n * d + 1, sizeof *obs), *loss = calloc(n + 1, sizeof *loss);
    double *x = calloc(d + 1, sizeof *x), *ms = calloc(rep + 1, sizeof *ms);
    hf_rng r;
    hf_rng_init(&r, 3, 0, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) {
            const hf_tpe_dist *t = &dists[j];
            double u = hf_rng_uniform(&r);
            obs[i * d + j] = t->kind == HF_TPE_CATEGORICAL ? (double)hf_rng_below(&r, t->n_choices)
                             : t->log ? exp(log(t->low) + u * (log(t->high) - log(t->low)))
                             : t->kind == HF_TPE_INT ? floor(t->low + u * (t->high - t->low + 1))
                                                     : t->low + u * (t->high - t->low);
        }
        loss[i] = hf_rng_uniform(&r);
    }
    for (size_t k = 0; k < rep; k++) {
        double t0 = hf_now();
        hf_tpe_propose(o, dists, d, obs, loss, n, &r, x);
        ms[k] = (hf_now() - t0) * 1000;
    }
    for (size_t a = 1; a < rep; a++) /* insertion sort for the median */
        for (size_t b = a; b > 0 && ms[b] < ms[b - 1]; b--) {
            double t = ms[b];
            ms[b] = ms[b - 1];
            ms[b - 1] = t;
        }
    json_t *out = json_object();
    json_object_set_new(out, "propose_ms", json_real(rep ? ms[rep / 2] : 0));
    free(obs);
    free(loss);
    free(x);
    free(ms);
    return out;
}

static json_t *one_case(json_t *c)
{
    json_t *jd = json_object_get(c, "dists");
    size_t d = json_array_size(jd);
    hf_tpe_dist *dists = calloc(d ? d : 1, sizeof *dists);
    for (size_t j = 0; j < d; j++) {
        json_t *o = json_array_get(jd, j);
        const char *kind = json_string_value(json_object_get(o, "kind"));
        dists[j].kind = !strcmp(kind, "float") ? HF_TPE_FLOAT
                        : !strcmp(kind, "int") ? HF_TPE_INT
                                               : HF_TPE_CATEGORICAL;
        dists[j].log = json_is_true(json_object_get(o, "log"));
        dists[j].low = json_number_value(json_object_get(o, "low"));
        dists[j].high = json_number_value(json_object_get(o, "high"));
        dists[j].step = json_number_value(json_object_get(o, "step"));
        dists[j].n_choices = (size_t)json_integer_value(json_object_get(o, "n_choices"));
    }
    hf_tpe_opts opts;
    hf_tpe_opts_default(&opts);
    opts.multivariate = json_is_true(json_object_get(c, "multivariate"));
    if (json_object_get(c, "consider_endpoints"))
        opts.consider_endpoints = json_is_true(json_object_get(c, "consider_endpoints"));
    if (json_object_get(c, "consider_magic_clip"))
        opts.consider_magic_clip = json_is_true(json_object_get(c, "consider_magic_clip"));
    if (json_object_get(c, "prior_weight"))
        opts.prior_weight = json_number_value(json_object_get(c, "prior_weight"));
    if (json_object_get(c, "bench_propose")) {
        json_t *b = bench_case(c, dists, d, &opts);
        free(dists);
        return b;
    }
    size_t n, m;
    double *obs = matrix(json_object_get(c, "obs"), d, &n);
    double *x = matrix(json_object_get(c, "x"), d, &m);
    hf_parzen *p = NULL;
    json_t *out = json_object();
    if (hf_parzen_new(dists, d, obs, n, NULL, &opts, &p) < 0) {
        json_object_set_new(out, "error", json_string(hf_error_message()));
        goto done;
    }
    const double *w;
    size_t nc = hf_parzen_components(p, &w);
    json_object_set_new(out, "w", array_of(w, nc));
    json_t *dims = json_array();
    for (size_t j = 0; j < d; j++) {
        const double *mus, *sigmas, *cat;
        hf_parzen_dim(p, j, &mus, &sigmas, &cat);
        json_t *o = json_object();
        if (mus) {
            json_object_set_new(o, "mus", array_of(mus, nc));
            json_object_set_new(o, "sigmas", array_of(sigmas, nc));
        } else {
            json_object_set_new(o, "cat", array_of(cat, nc * dists[j].n_choices));
        }
        json_array_append_new(dims, o);
    }
    json_object_set_new(out, "dims", dims);
    double *lp = calloc(m ? m : 1, sizeof *lp);
    hf_parzen_log_pdf(p, x, m, lp);
    json_object_set_new(out, "log_pdf", array_of(lp, m));
    free(lp);
    size_t nd = (size_t)json_integer_value(json_object_get(c, "draws"));
    double *dr = calloc((nd ? nd : 1) * (d ? d : 1), sizeof *dr);
    hf_rng r;
    hf_rng_init(&r, 1, 0, 0);
    hf_parzen_sample(p, &r, nd, dr);
    json_t *draws = json_array();
    for (size_t i = 0; i < nd; i++)
        json_array_append_new(draws, array_of(dr + i * d, d));
    json_object_set_new(out, "draws", draws);
    free(dr);
done:
    hf_parzen_free(p);
    free(obs);
    free(x);
    free(dists);
    return out;
}

int main(void)
{
    json_error_t err;
    json_t *cases = json_loadf(stdin, 0, &err);
    if (!json_is_array(cases)) {
        fprintf(stderr, "tool_tpe: stdin: %s (line %d)\n", err.text, err.line);
        return 2;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(cases); i++)
        json_array_append_new(out, one_case(json_array_get(cases, i)));
    json_dumpf(out, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17));
    putchar('\n');
    json_decref(out);
    json_decref(cases);
    return 0;
}
