/* search.c - expansion of the search space into trials, and trial parameters as JSON.
 *
 * Grid search takes the product of the axes in spec order, the last axis fastest. Random search
 * draws trial t from hf_rng_init(search.seed, t, 0), one draw per non-fixed parameter in spec
 * order, so a trial depends only on the spec and its index, never on the number of ranks. */
#include "jobs/search.h"

#include "common/hf.h"
#include "common/rng.h"
#include "jobs/tpe.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TRIALS 10000000u

typedef struct axis {
    hf_value *values; /* owned copies */
    size_t n;
} axis;

static void axis_free(axis *a)
{
    for (size_t i = 0; i < a->n; i++)
        hf_value_free(&a->values[i]);
    free(a->values);
    a->values = NULL;
    a->n = 0;
}

/* A number drawn or placed on a grid, typed as the parameter's values are. */
static hf_value typed_number(const hf_param_space *p, double x)
{
    hf_value v;
    memset(&v, 0, sizeof v);
    if (p->value_type == HF_VAL_INT || p->kind == HF_PARAM_INT_UNIFORM) {
        double r = round(x);
        if (r < p->low)
            r = ceil(p->low);
        if (r > p->high)
            r = floor(p->high);
        if (p->value_type == HF_VAL_INT) {
            /* The bounds of a uniform distribution of an integer parameter may lie outside the
             * int64 range (min_frequency: {uniform: [0, 1e300]}): converting such a double is
             * undefined, so the value is clamped to the range. */
            if (r >= 9223372036854775807.0)
                r = 9223372036854774784.0; /* the largest double below 2^63 */
            if (r < -9223372036854775807.0)
                r = -9223372036854775807.0 - 1.0;
            v.type = HF_VAL_INT;
            v.u.i = (int64_t)r;
        } else {
            v.type = HF_VAL_NUMBER;
            v.u.num = r;
        }
        return v;
    }
    v.type = HF_VAL_NUMBER;
    v.u.num = x;
    return v;
}

/* lo + (hi - lo) * t for t in [0, 1]: hi - lo overflows to infinity for bounds wider than the
 * largest double ({uniform: [-1e308, 1e308]}), which made every value inf or NaN; the other
 * form is used only then, so every other spec keeps its values bit for bit. */
static double lerp(double lo, double hi, double t)
{
    double w = hi - lo;
    if (isfinite(w))
        return lo + w * t;
    return lo * (1 - t) + hi * t;
}

/* The values a parameter takes in a grid search. */
static int axis_values(const hf_param_space *p, axis *a)
{
    int result = HF_OK;
    size_t cap = 0;
    a->values = NULL;
    a->n = 0;
    switch (p->kind) {
    case HF_PARAM_FIXED:
        cap = 1;
        break;
    case HF_PARAM_CHOICE:
        cap = p->n_choices;
        break;
    default:
        if (p->grid_points > 0)
            cap = (size_t)p->grid_points;
        else if (p->kind == HF_PARAM_INT_UNIFORM)
            cap = (size_t)(p->high - p->low) + 1;
        else
            return hf_error(HF_EINVAL,
                            "%s: a continuous distribution needs grid_points with "
                            "search.strategy grid",
                            p->name);
        break;
    }
    a->values = hf_calloc(cap, sizeof *a->values);
    if (!a->values)
        return HF_ENOMEM;
    if (p->kind == HF_PARAM_FIXED) {
        result = hf_value_copy(&a->values[0], &p->fixed);
        a->n = result == HF_OK ? 1 : 0;
        return result;
    }
    if (p->kind == HF_PARAM_CHOICE) {
        for (size_t i = 0; i < p->n_choices; i++) {
            result = hf_value_copy(&a->values[i], &p->choices[i]);
            if (result != HF_OK)
                return result;
            a->n++;
        }
        return HF_OK;
    }
    for (size_t k = 0; k < cap; k++) {
        double x;
        if (p->grid_points == 0)
            x = p->low + (double)k;
        else if (k + 1 == cap)
            x = p->high;
        else if (k == 0)
            x = p->low;
        else if (p->kind == HF_PARAM_LOG_UNIFORM)
            x = exp(log(p->low) + (log(p->high) - log(p->low)) * (double)k / (double)(cap - 1));
        else
            x = lerp(p->low, p->high, (double)k / (double)(cap - 1));
        hf_value v = typed_number(p, x);
        /* Rounding to integers may merge neighbouring points: keep each value once. */
        if (a->n > 0 && hf_value_equal(&a->values[a->n - 1], &v))
            continue;
        a->values[a->n++] = v;
    }
    return HF_OK;
}

/* total trials with ids 0.. and np zeroed values each (free with hf_trials_free), or NULL. */
static hf_trial *new_trials(size_t total, size_t np)
{
    hf_trial *trials = hf_calloc(total, sizeof *trials);
    for (size_t t = 0; trials && t < total; t++) {
        trials[t].id = (int)t;
        trials[t].values = hf_calloc(np ? np : 1, sizeof(hf_value));
        if (!trials[t].values) {
            hf_trials_free(trials, t, np);
            return NULL;
        }
    }
    return trials;
}

static int grid_trials(const hf_space *space, const char *where, hf_trial **out, size_t *n_out)
{
    int result = HF_OK;
    size_t np = space->n_params, total = 1;
    hf_trial *trials = NULL;
    axis *axes = hf_calloc(np, sizeof *axes);
    size_t *idx = hf_calloc(np, sizeof *idx);
    if (!axes || !idx) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        /* grid_points past the limit is refused before the axis's values are made: they took
         * grid_points x 16 bytes (32 GB for grid_points: 2000000000) before the check below. */
        const hf_param_space *p = &space->params[i];
        if (p->kind != HF_PARAM_FIXED && p->kind != HF_PARAM_CHOICE &&
            (size_t)p->grid_points > MAX_TRIALS) {
            result = hf_error(HF_EINVAL,
                              "%s: search: got a grid of more than %u trials, expected at most "
                              "%u (use fewer grid_points or search.strategy random)",
                              where, MAX_TRIALS, MAX_TRIALS);
            goto out;
        }
        result = axis_values(p, &axes[i]);
        if (result != HF_OK)
            goto out;
        if (axes[i].n == 0 || total > MAX_TRIALS / axes[i].n) {
            result = hf_error(HF_EINVAL,
                              "%s: search: got a grid of more than %u trials, expected at most "
                              "%u (use fewer grid_points or search.strategy random)",
                              where, MAX_TRIALS, MAX_TRIALS);
            goto out;
        }
        total *= axes[i].n;
    }
    if (!(trials = new_trials(total, np))) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t t = 0; t < total; t++) {
        for (size_t i = 0; i < np; i++) {
            result = hf_value_copy(&trials[t].values[i], &axes[i].values[idx[i]]);
            if (result != HF_OK)
                goto out;
        }
        /* Odometer: the last axis turns fastest. */
        for (size_t i = np; i-- > 0;) {
            if (++idx[i] < axes[i].n)
                break;
            idx[i] = 0;
        }
    }
out:
    for (size_t i = 0; axes && i < np; i++)
        axis_free(&axes[i]);
    free(axes);
    free(idx);
    if (result != HF_OK) {
        hf_trials_free(trials, total, np);
        return result;
    }
    *out = trials;
    *n_out = total;
    return HF_OK;
}

/* One draw for a non-fixed parameter. */
static int draw(const hf_param_space *p, hf_rng *r, hf_value *v)
{
    switch (p->kind) {
    case HF_PARAM_CHOICE:
        return hf_value_copy(v, &p->choices[hf_rng_below(r, p->n_choices)]);
    case HF_PARAM_UNIFORM:
        *v = typed_number(p, lerp(p->low, p->high, hf_rng_uniform(r)));
        return HF_OK;
    case HF_PARAM_LOG_UNIFORM:
        *v = typed_number(p, exp(log(p->low) + (log(p->high) - log(p->low)) * hf_rng_uniform(r)));
        return HF_OK;
    case HF_PARAM_INT_UNIFORM:
        *v = typed_number(p, p->low + (double)hf_rng_below(r, (uint64_t)(p->high - p->low) + 1));
        return HF_OK;
    default:
        return hf_value_copy(v, &p->fixed);
    }
}

static int random_trials(const hf_space *space, const hf_search_opts *search, const char *where,
                         hf_trial **out, size_t *n_out)
{
    int result = HF_OK;
    size_t np = space->n_params, total = (size_t)search->trials;
    if (search->trials < 1 || total > MAX_TRIALS)
        return hf_error(HF_EINVAL, "%s: search.trials: got %d, expected an integer in [1, %u]",
                        where, search->trials, MAX_TRIALS);
    hf_trial *trials = new_trials(total, np);
    if (!trials)
        return HF_ENOMEM;
    for (size_t t = 0; t < total && result == HF_OK; t++) {
        hf_rng r;
        hf_rng_init(&r, search->seed, (uint64_t)t, 0);
        for (size_t i = 0; i < np && result == HF_OK; i++)
            result = draw(&space->params[i], &r, &trials[t].values[i]);
    }
    if (result != HF_OK) {
        hf_trials_free(trials, total, np);
        return result;
    }
    *out = trials;
    *n_out = total;
    return HF_OK;
}

/* The number of trials of Hyperband's plan, refused above MAX_TRIALS. */
static int hyperband_total(const hf_search_opts *search, const char *where, size_t *total)
{
    hf_rung *rungs = NULL;
    size_t nr = 0;
    *total = 0;
    HF_CALL(hf_hyperband_plan(search->min_resource, search->max_resource, search->eta,
                              search->resource_integer, &rungs, &nr, total));
    free(rungs);
    if (*total > MAX_TRIALS)
        return hf_error(HF_EINVAL,
                        "%s: search: hyperband's plan has %zu trials, expected at most %u "
                        "(raise min_resource or eta)",
                        where, *total, MAX_TRIALS);
    return HF_OK;
}

int hf_space_trials(const hf_space *space, const hf_search_opts *search, const char *where,
                    hf_trial **trials, size_t *n_trials)
{
    *trials = NULL;
    *n_trials = 0;
    /* TPE starts from random search's draws; hf_space_tpe_propose replaces those past the
     * startup trials as results come in. Hyperband's first rungs are random draws too (the
     * study's trials, as many as its plan has; promotions replace the others as they run). */
    if (search->strategy == HF_SEARCH_HYPERBAND) {
        hf_search_opts o = *search;
        size_t total = 0;
        HF_CALL(hyperband_total(search, where, &total));
        o.trials = (int)total;
        return random_trials(space, &o, where, trials, n_trials);
    }
    if (search->strategy == HF_SEARCH_RANDOM || search->strategy == HF_SEARCH_TPE ||
        search->strategy == HF_SEARCH_ASHA) /* ASHA: the configurations' draws */
        return random_trials(space, search, where, trials, n_trials);
    return grid_trials(space, where, trials, n_trials);
}

int hf_space_study_count(const hf_space *space, const hf_search_opts *search, const char *where,
                         size_t *n_trials)
{
    (void)space;
    *n_trials = 0;
    if (search->strategy == HF_SEARCH_HYPERBAND) /* as hf_space_trials */
        return hyperband_total(search, where, n_trials);
    if (search->strategy != HF_SEARCH_TPE && search->strategy != HF_SEARCH_ASHA)
        return hf_error(HF_EINTERNAL, "a study's count: tpe, hyperband or asha only");
    if (search->trials < 1 || (size_t)search->trials > MAX_TRIALS) /* as random_trials */
        return hf_error(HF_EINVAL, "%s: search.trials: got %d, expected an integer in [1, %u]",
                        where, search->trials, MAX_TRIALS);
    *n_trials = (size_t)search->trials;
    return HF_OK;
}

enum { PACK_FIXED = 0, PACK_CHOICE, PACK_NUMBER, PACK_INT, PACK_BOOL };

int hf_space_trials_pack(const hf_space *space, const hf_trial *const *trials, size_t n,
                         unsigned char *out)
{
    size_t np = space->n_params;
    for (size_t t = 0; t < n; t++) {
        unsigned char *tags = out + t * HF_SPACE_PACKED(np), *nums = tags + np;
        for (size_t i = 0; i < np; i++) {
            const hf_param_space *p = &space->params[i];
            const hf_value *v = &trials[t]->values[i];
            unsigned char tag = PACK_FIXED;
            double x = 0;
            size_t k = 0;
            if (p->kind == HF_PARAM_CHOICE)
                while (k < p->n_choices && !hf_value_equal(&p->choices[k], v))
                    k++;
            if (p->kind == HF_PARAM_CHOICE && k < p->n_choices) {
                tag = PACK_CHOICE;
                x = (double)k;
            } else if (v->type == HF_VAL_NUMBER) {
                tag = PACK_NUMBER;
                x = v->u.num;
            } else if (v->type == HF_VAL_INT) {
                tag = PACK_INT; /* the int64's own 8 bytes: exact at any magnitude */
            } else if (v->type == HF_VAL_BOOL) {
                tag = PACK_BOOL;
                x = v->u.b;
            } else if (p->kind != HF_PARAM_FIXED || !hf_value_equal(&p->fixed, v)) {
                return hf_error(HF_EINTERNAL, "trial %d: %s: a value that cannot be sent",
                                trials[t]->id, p->name);
            }
            tags[i] = tag;
            if (tag == PACK_INT)
                memcpy(nums + i * sizeof x, &v->u.i, sizeof v->u.i);
            else
                memcpy(nums + i * sizeof x, &x, sizeof x);
        }
    }
    return HF_OK;
}

int hf_space_trials_unpack(const hf_space *space, const unsigned char *in, size_t n,
                           hf_trial *trials)
{
    size_t np = space->n_params;
    for (size_t t = 0; t < n; t++) {
        const unsigned char *tags = in + t * HF_SPACE_PACKED(np), *nums = tags + np;
        for (size_t i = 0; i < np; i++) {
            const hf_param_space *p = &space->params[i];
            hf_value *v = &trials[t].values[i];
            double x;
            memcpy(&x, nums + i * sizeof x, sizeof x);
            hf_value_free(v);
            memset(v, 0, sizeof *v);
            switch (tags[i]) {
            case PACK_FIXED:
                if (p->kind != HF_PARAM_FIXED)
                    return hf_error(HF_EINTERNAL, "%s: not a fixed parameter", p->name);
                HF_CALL(hf_value_copy(v, &p->fixed));
                break;
            case PACK_CHOICE:
                if (p->kind != HF_PARAM_CHOICE || !(x >= 0) || x >= (double)p->n_choices)
                    return hf_error(HF_EINTERNAL, "%s: no choice %g", p->name, x);
                HF_CALL(hf_value_copy(v, &p->choices[(size_t)x]));
                break;
            case PACK_NUMBER:
                v->type = HF_VAL_NUMBER;
                v->u.num = x;
                break;
            case PACK_INT:
                v->type = HF_VAL_INT;
                memcpy(&v->u.i, nums + i * sizeof x, sizeof v->u.i);
                break;
            case PACK_BOOL:
                v->type = HF_VAL_BOOL;
                v->u.b = x != 0;
                break;
            default:
                return hf_error(HF_EINTERNAL, "%s: a value of tag %d", p->name, tags[i]);
            }
        }
    }
    return HF_OK;
}

struct hf_space_maker {
    const hf_space *space;
    hf_search_opts search;
    axis *axes; /* grid: every parameter's values; NULL for random search */
    size_t n_trials;
};

void hf_space_maker_free(hf_space_maker *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->axes && i < m->space->n_params; i++)
        axis_free(&m->axes[i]);
    free(m->axes);
    free(m);
}

int hf_space_maker_new(const hf_space *space, const hf_search_opts *search, const char *where,
                       hf_space_maker **out, size_t *n_trials)
{
    *out = NULL;
    *n_trials = 0;
    if (search->strategy != HF_SEARCH_GRID && search->strategy != HF_SEARCH_RANDOM)
        return hf_error(HF_EINTERNAL, "trials by index: grid or random search only");
    hf_space_maker *m = hf_calloc(1, sizeof *m);
    if (!m)
        return HF_ENOMEM;
    m->space = space;
    m->search = *search;
    int result = HF_OK;
    size_t np = space->n_params;
    if (search->strategy == HF_SEARCH_RANDOM) {
        if (search->trials < 1 || (size_t)search->trials > MAX_TRIALS)
            result =
                hf_error(HF_EINVAL, "%s: search.trials: got %d, expected an integer in [1, %u]",
                         where, search->trials, MAX_TRIALS);
        m->n_trials = (size_t)search->trials;
    } else if (!(m->axes = hf_calloc(np ? np : 1, sizeof *m->axes))) {
        result = HF_ENOMEM;
    } else {
        m->n_trials = 1;
        for (size_t i = 0; i < np && result == HF_OK; i++) { /* as grid_trials checks */
            const hf_param_space *p = &space->params[i];
            if ((p->kind != HF_PARAM_FIXED && p->kind != HF_PARAM_CHOICE &&
                 (size_t)p->grid_points > MAX_TRIALS) ||
                ((result = axis_values(p, &m->axes[i])) == HF_OK &&
                 (m->axes[i].n == 0 || m->n_trials > MAX_TRIALS / m->axes[i].n)))
                result = hf_error(HF_EINVAL,
                                  "%s: search: got a grid of more than %u trials, expected at "
                                  "most %u (use fewer grid_points or search.strategy random)",
                                  where, MAX_TRIALS, MAX_TRIALS);
            else if (result == HF_OK)
                m->n_trials *= m->axes[i].n;
        }
    }
    if (result != HF_OK) {
        hf_space_maker_free(m);
        return result;
    }
    *out = m;
    *n_trials = m->n_trials;
    return HF_OK;
}

int hf_space_trial_at(const hf_space_maker *m, size_t t, hf_trial *out)
{
    size_t np = m->space->n_params;
    if (t >= m->n_trials)
        return hf_error(HF_EINTERNAL, "trial %zu of %zu", t, m->n_trials);
    out->id = (int)t;
    int result = HF_OK;
    if (!m->axes) { /* random_trials' draws for trial t */
        hf_rng r;
        hf_rng_init(&r, m->search.seed, (uint64_t)t, 0);
        for (size_t i = 0; i < np && result == HF_OK; i++)
            result = draw(&m->space->params[i], &r, &out->values[i]);
        return result;
    }
    /* grid_trials' odometer at step t: t's digits in the axes' mixed radix, last axis lowest. */
    size_t rest = t;
    for (size_t i = np; i-- > 0 && result == HF_OK;) {
        const axis *a = &m->axes[i];
        result = hf_value_copy(&out->values[i], &a->values[rest % a->n]);
        rest /= a->n;
    }
    return result;
}

long hf_space_index(const hf_space *space, const char *name)
{
    for (size_t i = 0; i < space->n_params; i++)
        if (space->params[i].name && !strcmp(space->params[i].name, name))
            return (long)i;
    return -1;
}

void hf_space_release(hf_space *space)
{
    for (size_t i = 0; i < space->n_params; i++) {
        hf_param_space *p = &space->params[i];
        free(p->name);
        hf_value_free(&p->fixed);
        for (size_t j = 0; j < p->n_choices; j++)
            hf_value_free(&p->choices[j]);
        free(p->choices);
    }
    free(space->params);
    space->params = NULL;
    space->n_params = 0;
}

/* ---- the search section -----------------------------------------------------------------------
 */

static const char *const k_strategy_names[] = {"grid", "random", "tpe", "hyperband", "asha", NULL};
static const char *const k_mode_names[] = {"batch", "async", NULL};
static const char *const k_sampler_names[] = {"random", "tpe", NULL};
static const char *const k_pruner_names[] = {"none", "wilcoxon", NULL};

/* "worst" (the default: a failed split ranks its trial last) or a number. */
static int parse_error_score(const char *t, void *opts)
{
    hf_search_opts *o = opts;
    if (!strcmp(t, "worst")) {
        o->error_score_given = 0;
        o->error_score = NAN;
        return 0;
    }
    char *end = NULL;
    double v = strtod(t, &end);
    if (!*t || *end || !isfinite(v))
        return -1;
    o->error_score = v;
    o->error_score_given = 1;
    return 0;
}

/* "90", "90s", "15m", "2h", "1.5h": seconds > 0. */
static int parse_duration(const char *t, void *opts)
{
    hf_search_opts *o = opts;
    char *end = NULL;
    double v = strtod(t, &end);
    double unit = !*end               ? 1
                  : !strcmp(end, "s") ? 1
                  : !strcmp(end, "m") ? 60
                  : !strcmp(end, "h") ? 3600
                                      : 0;
    if (end == t || unit == 0 || !isfinite(v) || v <= 0)
        return -1;
    o->max_time = v * unit;
    return 0;
}

static const hf_opt_def search_defs[] = {
    HF_DEF_ENUM("strategy", hf_search_opts, strategy, HF_OPT_HASHED, k_strategy_names, 0,
                "grid, random, tpe, hyperband or asha"),
    /* Any integer: search_check says what random search needs. */
    {HF_OPT_FIELD("trials", HF_OPT_INT, hf_search_opts, trials, HF_OPT_HASHED), .min = INT32_MIN,
     .max = INT32_MAX, .expected = "an integer >= 1",
     .help = "random search: the number of trials"},
    HF_DEF_SEED("seed", hf_search_opts, seed, HF_OPT_HASHED,
                "random search: the seed of the draws"),
    HF_DEF_INT("n_startup_trials", hf_search_opts, n_startup_trials, HF_OPT_HASHED, 0, INT32_MAX,
               "tpe: trials drawn at random before the estimator takes over (default 10)"),
    HF_DEF_INT("n_ei_candidates", hf_search_opts, n_ei_candidates, HF_OPT_HASHED, 1, 100000,
               "tpe: candidates drawn from l(x) per proposal (default 24)"),
    HF_DEF_BOOL("multivariate", hf_search_opts, multivariate, HF_OPT_HASHED,
                "tpe: one joint estimator over the parameters (default true) or one each"),
    HF_DEF_INT("batch", hf_search_opts, batch, HF_OPT_HASHED, 1, 100000,
               "tpe (and grid, random with a budget or the pruner): trials run together, each "
               "batch after the results of the earlier ones (default 4); results do not depend "
               "on the number of ranks"),
    HF_DEF_CUSTOM("max_time", hf_search_opts, max_time, 0, parse_duration,
                  "a duration: seconds, or a number with s, m or h",
                  "stop starting trials after this much wall-clock time of the sweep (checked "
                  "after each batch, rung or async refill; default none)"),
    HF_DEF_INT("early_stop", hf_search_opts, early_stop, HF_OPT_HASHED, 1, INT32_MAX,
               "stop after this many trials without an improvement of the best score greater "
               "than early_stop_threshold (docs/search.md has each strategy's order; default "
               "none)"),
    HF_DEF_NUMBER("early_stop_threshold", hf_search_opts, early_stop_threshold, HF_OPT_HASHED, 0,
                  INFINITY, "a number >= 0",
                  "the improvement early_stop asks for (default 0: any)"),
    HF_DEF_STRING("warm_start", hf_search_opts, warm_start, HF_OPT_HASHED,
                  "an earlier run's directory or results.json",
                  "tpe: seed the sampler with the finished trials of an earlier run of the same "
                  "model and metric (default none)"),
    HF_DEF_ENUM("mode", hf_search_opts, async, HF_OPT_HASHED, k_mode_names, 0,
                "tpe: batch (batch-synchronous, the same at any number of ranks; default) or "
                "async (a free rank gets a proposal at once; order-dependent)"),
    HF_DEF_ENUM("pruner", hf_search_opts, pruner, HF_OPT_HASHED, k_pruner_names, 0,
                "grid, random, tpe (either mode; async: as results arrive, order-dependent): "
                "stop a trial after its first splits when a Wilcoxon signed-rank test against "
                "the best trial says it is worse (wilcoxon; default none)"),
    HF_DEF_NUMBER("pruner_p", hf_search_opts, pruner_p, HF_OPT_HASHED, 0x1p-1074, 1,
                  "a number in (0, 1]", "the pruner's p-value threshold (default 0.1)"),
    HF_DEF_INT("pruner_startup", hf_search_opts, pruner_startup, HF_OPT_HASHED, 1, 1000,
               "the fewest splits the pruner decides on (default 2)"),
    HF_DEF_ENUM("sampler", hf_search_opts, sampler_tpe, HF_OPT_HASHED, k_sampler_names, 0,
                "hyperband, asha: how new configurations are drawn: random (default) or tpe "
                "(BOHB: TPE on the finished trials of the largest budget with at least 10)"),
    HF_DEF_INT("eta", hf_search_opts, eta, HF_OPT_HASHED, 2, 100,
               "hyperband, asha: the halving rate: each rung keeps 1/eta of the configurations "
               "at eta times the resource (default 3)"),
    HF_DEF_NUMBER("min_resource", hf_search_opts, min_resource, HF_OPT_HASHED, 0x1p-1074, INFINITY,
                  "a number > 0",
                  "hyperband, asha: the smallest resource (default max_resource / eta^3)"),
    HF_DEF_NUMBER("max_resource", hf_search_opts, max_resource, HF_OPT_HASHED, 0x1p-1074, INFINITY,
                  "a number > 0",
                  "hyperband, asha: the full resource (default the model's resource parameter as "
                  "the spec sets it, or its default)"),
    HF_DEF_CUSTOM("error_score", hf_search_opts, error_score, 0, parse_error_score,
                  "worst or a number",
                  "the score of a failed split (default worst: its trial ranks last)"),
};

static int search_check(void *opts)
{
    hf_search_opts *o = opts;
    char at[512];
    static const char *const tpe_keys[] = {
        "n_startup_trials", "n_ei_candidates", "multivariate", "batch", "warm_start", "mode"};
    const int given[] = {o->n_startup_trials >= 0, o->n_ei_candidates >= 0,
                         o->multivariate >= 0,     o->batch >= 0,
                         o->warm_start != NULL,    o->async > 0};
    /* grid and random take search.batch too: with a budget or the pruner they run as a batch
     * study of their own trials in order (coordinator/run.c). */
    const int seq = o->strategy == HF_SEARCH_GRID || o->strategy == HF_SEARCH_RANDOM;
    for (size_t i = 0; i < sizeof tpe_keys / sizeof *tpe_keys; i++) {
        char key[64];
        snprintf(key, sizeof key, "search.%s", tpe_keys[i]);
        if (given[i] && o->strategy != HF_SEARCH_TPE && !(seq && !strcmp(tpe_keys[i], "batch")))
            return hf_error(HF_EINVAL, "%s: %s is a setting of search.strategy tpe, not of %s",
                            hf_opt_where(&o->src, key, at, sizeof at), key,
                            k_strategy_names[o->strategy]);
    }
    if (seq && o->batch >= 0 && !(o->max_time > 0 || o->early_stop > 0 || o->pruner))
        return hf_error(HF_EINVAL,
                        "%s: search.batch: given with search.strategy %s without search.max_time, "
                        "early_stop or pruner, expected one of them (only a budgeted or pruned "
                        "sweep runs in batches)",
                        hf_opt_where(&o->src, "search.batch", at, sizeof at),
                        k_strategy_names[o->strategy]);
    static const char *const prune_keys[] = {"pruner", "pruner_p", "pruner_startup"};
    const int prune_given[] = {o->pruner > 0, o->pruner_p > 0, o->pruner_startup > 0};
    const int rungs = o->strategy == HF_SEARCH_HYPERBAND || o->strategy == HF_SEARCH_ASHA;
    for (size_t i = 0; i < sizeof prune_keys / sizeof *prune_keys; i++) {
        char key[64];
        snprintf(key, sizeof key, "search.%s", prune_keys[i]);
        if (prune_given[i] && rungs)
            return hf_error(HF_EINVAL,
                            "%s: %s: given with search.strategy %s, expected grid, random or tpe "
                            "(%s already stops trials early, by its rungs)",
                            hf_opt_where(&o->src, key, at, sizeof at), key,
                            k_strategy_names[o->strategy], k_strategy_names[o->strategy]);
    }
    /* The defaults where they apply (a grid or random sweep without these keys keeps its
     * identity). */
    if ((o->strategy == HF_SEARCH_TPE || o->pruner) && o->pruner_p <= 0)
        o->pruner_p = 0.1;
    if ((o->strategy == HF_SEARCH_TPE || o->pruner) && o->pruner_startup <= 0)
        o->pruner_startup = 2;
    if (seq && o->batch < 0 && (o->max_time > 0 || o->early_stop > 0 || o->pruner))
        o->batch = 4;
    if (o->strategy == HF_SEARCH_TPE) { /* the defaults, once the strategy is known */
        if (o->n_startup_trials < 0)
            o->n_startup_trials = 10;
        if (o->n_ei_candidates < 0)
            o->n_ei_candidates = 24;
        if (o->multivariate < 0)
            o->multivariate = 1;
        if (o->batch < 0)
            o->batch = 4;
    }
    static const char *const hb_keys[] = {"eta", "min_resource", "max_resource", "sampler"};
    const int hb_given[] = {o->eta > 0, o->min_resource > 0, o->max_resource > 0,
                            o->sampler_tpe > 0};
    for (size_t i = 0; i < sizeof hb_keys / sizeof *hb_keys; i++) {
        char key[64];
        snprintf(key, sizeof key, "search.%s", hb_keys[i]);
        if (hb_given[i] && o->strategy != HF_SEARCH_HYPERBAND && o->strategy != HF_SEARCH_ASHA)
            return hf_error(
                HF_EINVAL, "%s: %s is a setting of search.strategy hyperband and asha, not of %s",
                hf_opt_where(&o->src, key, at, sizeof at), key, k_strategy_names[o->strategy]);
    }
    if ((o->strategy == HF_SEARCH_HYPERBAND || o->strategy == HF_SEARCH_ASHA) && o->eta <= 0)
        o->eta = 3;
    if (o->trials < 1)
        return hf_error(HF_EINVAL, "%s: search.trials: got %d, expected an integer >= 1%s",
                        hf_opt_where(&o->src, "search.trials", at, sizeof at), o->trials,
                        o->strategy == HF_SEARCH_GRID     ? ""
                        : o->strategy == HF_SEARCH_RANDOM ? " with search.strategy random"
                                                          : " with search.strategy tpe");
    return HF_OK;
}

const hf_opt_section hf_search_section =
    HF_OPT_SECTION("search", search_defs, hf_search_opts, search_check);

void hf_search_opts_init(hf_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->trials = 10;
    o->error_score = NAN;
    o->n_startup_trials = o->n_ei_candidates = o->multivariate = o->batch = -1;
}

hf_trial *hf_trials_alloc(size_t n, size_t n_params)
{
    return new_trials(n ? n : 1, n_params);
}

/* Frees trials from hf_space_trials (NULL is fine). Not collective. */
void hf_trials_free(hf_trial *trials, size_t n_trials, size_t n_params)
{
    if (!trials)
        return;
    for (size_t t = 0; t < n_trials; t++) {
        if (!trials[t].values)
            continue;
        for (size_t i = 0; i < n_params; i++)
            hf_value_free(&trials[t].values[i]);
        free(trials[t].values);
    }
    free(trials);
}

/* A trial's values as compact JSON text built with jansson; caller frees with free(). NULL on error
 * with the message set. Not collective. */
char *hf_trial_params_json(const hf_space *space, const hf_trial *t)
{
    char *text = NULL;
    json_t *obj = json_object();
    if (!obj) {
        hf_error(HF_ENOMEM, "out of memory building trial %d parameters", t->id);
        goto out;
    }
    for (size_t i = 0; i < space->n_params; i++) {
        const hf_value *v = &t->values[i];
        json_t *j = NULL;
        switch (v->type) {
        case HF_VAL_NUMBER:
            j = isfinite(v->u.num) ? json_real(v->u.num) : json_null();
            break;
        case HF_VAL_INT:
            j = json_integer((json_int_t)v->u.i);
            break;
        case HF_VAL_BOOL:
            j = json_boolean(v->u.b);
            break;
        case HF_VAL_STRING:
            j = json_string(v->u.str ? v->u.str : "");
            break;
        default:
            j = json_null();
            break;
        }
        if (!j || json_object_set_new(obj, space->params[i].name, j) != 0) {
            hf_error(HF_EINVAL, "trial %d: parameter %s cannot be written as JSON (not UTF-8?)",
                     t->id, space->params[i].name);
            goto out;
        }
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        hf_error(HF_ENOMEM, "out of memory writing trial %d parameters as JSON", t->id);
out:
    json_decref(obj);
    return text;
}

/* ---- TPE ----------------------------------------------------------------------------------- */

/* The dimension of a searched parameter, or 0 for one that is fixed (or a distribution with a
 * single value, which Optuna leaves out of its search space too). */
static int tpe_dim(const hf_param_space *p, hf_tpe_dist *d)
{
    memset(d, 0, sizeof *d);
    int integer = p->value_type == HF_VAL_INT || p->kind == HF_PARAM_INT_UNIFORM;
    switch (p->kind) {
    case HF_PARAM_CHOICE:
        d->kind = HF_TPE_CATEGORICAL;
        d->n_choices = p->n_choices;
        return p->n_choices > 1;
    case HF_PARAM_UNIFORM:
    case HF_PARAM_LOG_UNIFORM:
    case HF_PARAM_INT_UNIFORM:
        d->log = p->kind == HF_PARAM_LOG_UNIFORM;
        d->kind = integer ? HF_TPE_INT : HF_TPE_FLOAT;
        d->low = integer ? ceil(p->low) : p->low;
        d->high = integer ? floor(p->high) : p->high;
        d->step = integer && !d->log ? 1 : 0;
        return d->low < d->high;
    default:
        return 0;
    }
}

/* A trial's value of parameter p in the estimator's representation (a choice's index). */
static double tpe_value(const hf_param_space *p, const hf_value *v)
{
    if (p->kind != HF_PARAM_CHOICE)
        return hf_value_as_double(v);
    for (size_t c = 0; c < p->n_choices; c++)
        if (hf_value_equal(&p->choices[c], v))
            return (double)c;
    return 0;
}

int hf_space_tpe_propose(const hf_space *space, const hf_search_opts *search, hf_trial *trials,
                         const double *loss, size_t n, size_t t)
{
    return hf_space_tpe_propose_keyed(space, search, trials, loss, n, t, t);
}

int hf_space_tpe_propose_keyed(const hf_space *space, const hf_search_opts *search,
                               hf_trial *trials, const double *loss, size_t n, size_t t,
                               uint64_t key)
{
    const size_t np = space->n_params;
    hf_tpe_dist *dims = hf_malloc((np ? np : 1) * sizeof *dims);
    size_t *which = hf_malloc((np ? np : 1) * sizeof *which);
    double *obs = hf_malloc((n ? n : 1) * (np ? np : 1) * sizeof *obs);
    double *ls = hf_malloc((n ? n : 1) * sizeof *ls);
    double *x = hf_malloc((np ? np : 1) * sizeof *x);
    int result = dims && which && obs && ls && x ? HF_OK : HF_ENOMEM;
    if (result < 0)
        goto out;
    size_t d = 0, m = 0;
    for (size_t i = 0; i < np; i++)
        if (tpe_dim(&space->params[i], &dims[d]))
            which[d++] = i;
    for (size_t k = 0; k < n; k++) {
        if (isnan(loss[k]))
            continue; /* failed: not an observation (Optuna skips failed trials) */
        for (size_t j = 0; j < d; j++)
            obs[m * d + j] = tpe_value(&space->params[which[j]], &trials[k].values[which[j]]);
        ls[m++] = loss[k];
    }
    hf_tpe_opts o;
    hf_tpe_opts_default(&o);
    o.n_startup_trials = search->n_startup_trials;
    o.n_ei_candidates = search->n_ei_candidates;
    o.multivariate = search->multivariate;
    hf_rng r;
    hf_rng_init(&r, search->seed, key, 1);
    result = hf_tpe_propose(&o, dims, d, obs, ls, m, &r, x);
    if (result != HF_OK) {
        result = result > 0 ? HF_OK : result; /* startup: the random draw stays */
        goto out;
    }
    for (size_t j = 0; j < d; j++) {
        const hf_param_space *p = &space->params[which[j]];
        hf_value v;
        if (p->kind == HF_PARAM_CHOICE) {
            if ((result = hf_value_copy(&v, &p->choices[(size_t)x[j]])) < 0)
                goto out;
        } else {
            v = typed_number(p, x[j]);
        }
        hf_value_free(&trials[t].values[which[j]]);
        trials[t].values[which[j]] = v;
    }
out:
    free(dims);
    free(which);
    free(obs);
    free(ls);
    free(x);
    return result;
}

const char *hf_search_budget_stop(const hf_search_opts *search, const double *loss, size_t n,
                                  double elapsed)
{
    if (search->max_time > 0 && elapsed >= search->max_time)
        return "max_time";
    if (search->early_stop <= 0)
        return NULL;
    double best = INFINITY;
    size_t last = 0; /* trials [0, last) hold the last improvement */
    for (size_t t = 0; t < n; t++) {
        if (isnan(loss[t]))
            continue;
        if (loss[t] < best - search->early_stop_threshold || isinf(best))
            last = t + 1;
        if (loss[t] < best)
            best = loss[t];
    }
    return n - last >= (size_t)search->early_stop ? "early_stop" : NULL;
}

size_t hf_search_early_stop_at(const hf_search_opts *search, const double *loss, size_t n)
{
    if (search->early_stop <= 0)
        return 0;
    double best = INFINITY;
    size_t last = 0; /* as hf_search_budget_stop, prefix by prefix */
    for (size_t t = 0; t < n; t++) {
        if (!isnan(loss[t])) {
            if (loss[t] < best - search->early_stop_threshold || isinf(best))
                last = t + 1;
            if (loss[t] < best)
                best = loss[t];
        }
        if (t + 1 - last >= (size_t)search->early_stop)
            return t + 1;
    }
    return 0;
}

/* The value of parameter p given as JSON, if it lies in p's distribution: 1 and *v set, else 0. */
static int warm_value(const hf_param_space *p, json_t *j, hf_value *v)
{
    if (p->kind == HF_PARAM_CHOICE) {
        for (size_t c = 0; c < p->n_choices; c++) {
            const hf_value *ch = &p->choices[c];
            int same = 0;
            switch (ch->type) {
            case HF_VAL_NUMBER:
            case HF_VAL_INT:
                same = json_is_number(j) && json_number_value(j) == hf_value_as_double(ch);
                break;
            case HF_VAL_BOOL:
                same = json_is_boolean(j) && json_is_true(j) == !!ch->u.b;
                break;
            case HF_VAL_STRING:
                same = json_is_string(j) && ch->u.str && !strcmp(json_string_value(j), ch->u.str);
                break;
            default:
                break;
            }
            if (same)
                return hf_value_copy(v, ch) == HF_OK;
        }
        return 0;
    }
    if (!json_is_number(j))
        return 0;
    double x = json_number_value(j);
    int integer = p->value_type == HF_VAL_INT || p->kind == HF_PARAM_INT_UNIFORM;
    if (!(x >= p->low && x <= p->high) || (integer && x != floor(x)))
        return 0;
    *v = typed_number(p, x);
    return 1;
}

int hf_space_warm_trials(const hf_space *space, const char *text, const char *where,
                         const char *model, const char *metric, hf_trial **trials, double **loss,
                         size_t *n, size_t *n_skipped)
{
    *trials = NULL;
    *loss = NULL;
    *n = *n_skipped = 0;
    json_error_t err;
    json_t *r = json_loads(text, 0, &err);
    json_t *list = json_object_get(r, "trials");
    if (!r || !json_is_array(list)) {
        json_decref(r); /* (fuzz_study found it leaked) */
        return hf_error(HF_EINVAL, "search.warm_start: %s: not a hyperfold results.json (%s)",
                        where, r ? "no trials" : err.text);
    }
    const char *m = json_string_value(json_object_get(r, "model"));
    const char *met = json_string_value(json_object_get(r, "metric"));
    const char *dir = json_string_value(json_object_get(r, "direction"));
    int result = HF_OK;
    if (!m || strcmp(m, model) || !met || strcmp(met, metric) || !dir)
        result = hf_error(HF_EINVAL,
                          "search.warm_start: %s is a run of %s scored by %s, expected a run of "
                          "%s scored by %s",
                          where, m ? m : "?", met ? met : "?", model, metric);
    size_t total = json_array_size(list), np = space->n_params, k = 0;
    hf_trial *tr = result >= 0 ? new_trials(total ? total : 1, np) : NULL;
    double *ls = result >= 0 ? hf_malloc((total ? total : 1) * sizeof *ls) : NULL;
    if (result >= 0 && (!tr || !ls))
        result = HF_ENOMEM;
    int maximize = dir && !strcmp(dir, "maximize");
    for (size_t i = 0; i < total && result >= 0; i++) {
        json_t *t = json_array_get(list, i);
        json_t *params = json_object_get(t, "params");
        json_t *mean = json_object_get(json_object_get(t, "mean"), metric);
        const char *status = json_string_value(json_object_get(t, "status"));
        int fits = status && !strcmp(status, "ok") && json_is_object(params) &&
                   json_is_number(mean) && isfinite(json_number_value(mean));
        for (size_t q = 0; q < np && fits; q++) {
            const hf_param_space *p = &space->params[q];
            if (p->kind == HF_PARAM_FIXED)
                fits = hf_value_copy(&tr[k].values[q], &p->fixed) == HF_OK;
            else
                fits = warm_value(p, json_object_get(params, p->name), &tr[k].values[q]);
        }
        if (!fits) {
            for (size_t q = 0; q < np; q++)
                hf_value_free(&tr[k].values[q]);
            if (status && !strcmp(status, "ok"))
                (*n_skipped)++;
            continue;
        }
        ls[k] = maximize ? -json_number_value(mean) : json_number_value(mean);
        tr[k].id = (int)k;
        k++;
    }
    json_decref(r);
    if (result >= 0 && k == 0)
        result = hf_error(HF_EINVAL,
                          "search.warm_start: no finished trial of %s fits this search space "
                          "(%zu lie outside it)",
                          where, *n_skipped);
    if (result < 0) {
        hf_trials_free(tr, total ? total : 1, np);
        free(ls);
        return result;
    }
    *trials = tr;
    *loss = ls;
    *n = k;
    /* trials [k, total) hold no values: freed with the others by hf_trials_free(*trials, *n) */
    for (size_t i = k; i < total; i++) {
        free(tr[i].values);
        tr[i].values = NULL;
    }
    return HF_OK;
}

int hf_space_set_number(const hf_space *space, hf_trial *t, size_t i, double x)
{
    if (i >= space->n_params)
        return hf_error(HF_EINTERNAL, "parameter %zu of %zu", i, space->n_params);
    const hf_param_space *p = &space->params[i];
    hf_value_free(&t->values[i]);
    if (p->kind != HF_PARAM_FIXED) { /* a distribution's value: its type and bounds */
        t->values[i] = typed_number(p, x);
        return HF_OK;
    }
    memset(&t->values[i], 0, sizeof t->values[i]); /* a fixed one: its type (no bounds) */
    if (p->value_type == HF_VAL_INT) {
        t->values[i].type = HF_VAL_INT;
        t->values[i].u.i = (int64_t)llround(x);
    } else {
        t->values[i].type = HF_VAL_NUMBER;
        t->values[i].u.num = x;
    }
    return HF_OK;
}

/* floor(log_eta(max_r / min_r)) into *s (counted by division, so that a ratio that is a power
 * of eta gives its exponent), after the bounds' check. */
static int halvings(double min_r, double max_r, int eta, const char *who, int *s)
{
    if (!(min_r > 0) || !(max_r >= min_r) || eta < 2)
        return hf_error(HF_EINVAL,
                        "search: %s needs 0 < min_resource <= max_resource and eta >= 2 (got %g, "
                        "%g, %d)",
                        who, min_r, max_r, eta);
    *s = 0;
    for (double v = max_r / min_r; v >= (double)eta * (1 - 1e-12) && *s < 60; v /= eta)
        (*s)++;
    return HF_OK;
}

/* ---- Hyperband ------------------------------------------------------------------------------ */

int hf_hyperband_plan(double min_r, double max_r, int eta, int integer, hf_rung **rungs,
                      size_t *n_rungs, size_t *n_trials)
{
    *rungs = NULL;
    *n_rungs = *n_trials = 0;
    int s_max = 0;
    HF_CALL(halvings(min_r, max_r, eta, "hyperband", &s_max));
    size_t cap = (size_t)(s_max + 1) * (size_t)(s_max + 2) / 2, k = 0, first = 0;
    hf_rung *r = hf_calloc(cap, sizeof *r);
    if (!r)
        return HF_ENOMEM;
    for (int s = s_max; s >= 0; s--) {
        double pw = pow(eta, s);
        double n0 = ceil((double)(s_max + 1) * pw / (double)(s + 1));
        if (n0 > 1e9) {
            free(r);
            return hf_error(HF_EINVAL, "search: hyperband's brackets are too large (eta^%d)", s);
        }
        size_t n = (size_t)n0;
        for (int i = 0; i <= s; i++) {
            size_t ni = (size_t)((double)n / pow(eta, i)); /* floor(n / eta^i) */
            double ri = max_r / pow(eta, s - i);
            if (integer)
                ri = ri < 1 ? 1 : round(ri);
            if (ni == 0)
                break;
            r[k] = (hf_rung){.bracket = s, .rung = i, .n = ni, .first = first, .resource = ri};
            first += ni;
            k++;
        }
    }
    *rungs = r;
    *n_rungs = k;
    *n_trials = first;
    return HF_OK;
}

int hf_asha_rungs(double min_r, double max_r, int eta, int integer, double **res, size_t *n)
{
    *res = NULL;
    *n = 0;
    int K = 0;
    HF_CALL(halvings(min_r, max_r, eta, "asha", &K));
    double *r = hf_malloc((size_t)(K + 1) * sizeof *r);
    if (!r)
        return HF_ENOMEM;
    for (int k = 0; k <= K; k++) {
        r[k] = max_r / pow(eta, K - k);
        if (integer)
            r[k] = r[k] < 1 ? 1 : round(r[k]);
    }
    *res = r;
    *n = (size_t)K + 1;
    return HF_OK;
}

int hf_space_trial_from_json(const hf_space *space, const char *params_json, hf_trial *t)
{
    json_error_t err;
    json_t *o = json_loads(params_json, 0, &err);
    if (!json_is_object(o)) {
        json_decref(o);
        return hf_error(HF_EDATA, "trial %d: parameters are not a JSON object (%s)", t->id,
                        err.text);
    }
    int result = HF_OK;
    for (size_t i = 0; i < space->n_params && result >= 0; i++) {
        const hf_param_space *p = &space->params[i];
        json_t *j = json_object_get(o, p->name);
        hf_value v;
        if (p->kind != HF_PARAM_FIXED) { /* a list's value, inside a distribution */
            if (warm_value(p, j, &v)) {
                hf_value_free(&t->values[i]);
                t->values[i] = v;
            } else {
                result = hf_error(HF_EDATA, "trial %d: %s is missing or outside its space", t->id,
                                  p->name);
            }
        } else if (json_is_number(j)) { /* a fixed one: the value, or a study's budget */
            result = hf_space_set_number(space, t, i, json_number_value(j));
        } else if (p->kind == HF_PARAM_FIXED && j) {
            hf_value_free(&t->values[i]);
            result = hf_value_copy(&t->values[i], &p->fixed);
        } else {
            result = hf_error(HF_EDATA, "trial %d: %s is missing", t->id, p->name);
        }
    }
    json_decref(o);
    return result;
}
