/* search.h - the search space and its expansion into trials (jobs/search.c).
 *
 * The space is the job spec's searchable parameters: the model's (model.params) and the
 * preprocessing's (preprocess:), each fixed, a list of choices, or a distribution. Grid search
 * takes the product of the axes in space order, the last axis fastest; random search draws trial t
 * from hf_rng_init(search.seed, t, 0), one draw per non-fixed parameter in space order, so a trial
 * depends only on the spec and its index, never on the number of ranks. */
#ifndef HF_SEARCH_H
#define HF_SEARCH_H

#include "common/opts.h"
#include "common/value.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hf_search_strategy {
    HF_SEARCH_GRID = 0,
    HF_SEARCH_RANDOM,
    HF_SEARCH_TPE,
    HF_SEARCH_HYPERBAND,
    HF_SEARCH_ASHA
} hf_search_strategy;

/* The job spec's search section: this module's options (see common/opts.h). */
typedef struct hf_search_opts {
    hf_search_strategy strategy; /* default grid */
    int trials;                  /* random, tpe: number of trials (default 10) */
    uint64_t seed;
    /* tpe (Optuna's names; -1 until given, then search_check resolves the defaults): */
    int n_startup_trials; /* 10 */
    int n_ei_candidates;  /* 24 */
    int multivariate;     /* 1 */
    int batch;            /* 4: proposals per batch, each batch from the results of the earlier */
    int async;            /* tpe: 0 batch-synchronous (default), 1 asynchronous (search.mode) */
    int pruner;           /* grid, random, tpe (batch mode): 1 = wilcoxon (jobs/prune.h); 0 none */
    double pruner_p;      /* its p-value threshold (default 0.1) */
    int pruner_startup;   /* the fewest splits it decides on (default 2) */
    /* budgets of every strategy (0: none; docs/search.md says when each is checked): */
    double max_time;             /* seconds of this invocation's sweep */
    int early_stop;              /* stop after this many trials without an improvement ... */
    double early_stop_threshold; /* ... greater than this (default 0) */
    char *warm_start; /* tpe: an earlier run's directory (or its results.json): its finished
                       * trials seed the sampler; NULL: none */
    /* hyperband, asha (0 until given; the job spec resolves the resource from the model): */
    int eta;              /* 3: the halving rate */
    double min_resource;  /* default max_resource / eta^3 */
    double max_resource;  /* default the model's resource parameter's value in the spec */
    int resource_integer; /* set by the job spec: the resource is an integer parameter */
    const char *resource; /* set by the job spec: the budget's parameter in the space (the
                           * model's, or "preprocess.train_fraction"); static text */
    int sampler_tpe;      /* hyperband, asha: new configurations by TPE (BOHB); 0: random */
    int error_score_given;
    double error_score; /* score of a failed split; default: the trial ranks last */
    hf_opt_source src;
} hf_search_opts;

/* The search section's table, for the job-spec binder. */
extern const hf_opt_section hf_search_section;
void hf_search_opts_init(hf_search_opts *o);

typedef enum hf_param_kind {
    HF_PARAM_FIXED = 0,   /* a scalar: `max_iter: 500` */
    HF_PARAM_CHOICE,      /* a list: `fit_intercept: [true, false]` (a grid axis) */
    HF_PARAM_UNIFORM,     /* {uniform: [lo, hi]} */
    HF_PARAM_LOG_UNIFORM, /* {log_uniform: [lo, hi]} */
    HF_PARAM_INT_UNIFORM  /* {int_uniform: [lo, hi]}, inclusive */
} hf_param_kind;

/* One searchable or fixed parameter. Model parameters are named as in the model ("alpha");
 * preprocessing settings carry the "preprocess." prefix ("preprocess.scale"). */
typedef struct hf_param_space {
    char *name;
    hf_param_kind kind;
    hf_value fixed;    /* FIXED */
    hf_value *choices; /* CHOICE */
    size_t n_choices;
    double low, high;         /* UNIFORM, LOG_UNIFORM, INT_UNIFORM */
    int grid_points;          /* for a distribution in a grid search; 0 = not given */
    hf_value_type value_type; /* type of this parameter's values in trials (the hf_param_def's) */
} hf_param_space;

/* The space: the model's parameters (every one, omitted ones fixed at their defaults), then the
 * preprocessing settings the spec gives, in spec order. */
typedef struct hf_space {
    hf_param_space *params;
    size_t n_params;
} hf_space;

/* One trial: a value for every parameter of the space, in the order of hf_space.params. */
typedef struct hf_trial {
    int id; /* 0-based, dense */
    hf_value *values;
} hf_trial;

/* Index of a parameter of the space by name, or -1. Not collective. */
long hf_space_index(const hf_space *space, const char *name);

/* Not collective. Expands the space into trials (grid product, last axis fastest; or random draws
 * seeded by (search.seed, t, 0)). *trials is owned by the caller: hf_trials_free(). HF_EINVAL,
 * naming `where` (the spec file), for more than 10 million trials. */
int hf_space_trials(const hf_space *space, const hf_search_opts *search, const char *where,
                    hf_trial **trials, size_t *n_trials);
void hf_trials_free(hf_trial *trials, size_t n_trials, size_t n_params);

/* Trials by index, without the whole list (grid and random search only): what a rank that runs a
 * few of the trials needs. hf_space_maker_new checks the space as hf_space_trials does (the same
 * messages) and gives the number of trials; hf_space_trial_at makes trial t exactly as
 * hf_space_trials makes trials[t] (the grid's mixed-radix digits of t, the last axis fastest;
 * random search's draws from (search.seed, t, 0)) into *out (out->values: n_params values,
 * allocated; free with hf_trials_free(out, 1, n_params) when out came from hf_trials_alloc). Not
 * collective. */
typedef struct hf_space_maker hf_space_maker;
int hf_space_maker_new(const hf_space *space, const hf_search_opts *search, const char *where,
                       hf_space_maker **out, size_t *n_trials);
int hf_space_trial_at(const hf_space_maker *m, size_t t, hf_trial *out);
void hf_space_maker_free(hf_space_maker *m);
/* n trials with ids 0..n-1 and n_params empty values each; NULL when out of memory. */
hf_trial *hf_trials_alloc(size_t n, size_t n_params);
void hf_space_release(hf_space *space);

/* A study's trials (TPE, Hyperband, BOHB, ASHA) on the ranks that do not propose
 * them: hf_space_study_count gives the number of trials the study makes, with the checks and
 * messages of hf_space_trials, without making them. Not collective. */
int hf_space_study_count(const hf_space *space, const hf_search_opts *search, const char *where,
                         size_t *n_trials);

/* The values of n trials in HF_SPACE_PACKED(n_params) bytes each, as they travel with a task to
 * the rank that runs it: per value a tag byte (the parameter's fixed value, an index into its
 * choices, a number, an integer, a boolean), then per value 8 bytes (the number or the index as
 * a double, the integer as its int64). hf_space_trials_pack refuses (HF_EINTERNAL) a value it
 * cannot carry exactly (a string outside the parameter's choices); hf_space_trials_unpack makes
 * values equal (hf_value_equal) to the packed ones into trials[0..n) (values allocated:
 * hf_trials_alloc) and refuses bytes that name no such value. Not collective. */
#define HF_SPACE_PACKED(n_params) ((n_params) * (1 + sizeof(double)))
int hf_space_trials_pack(const hf_space *space, const hf_trial *const *trials, size_t n,
                         unsigned char *out);
int hf_space_trials_unpack(const hf_space *space, const unsigned char *in, size_t n,
                           hf_trial *trials);

/* TPE (jobs/tpe.h), batch-synchronous. Trial t's proposal, written into trials[t] (whose values
 * are replaced), from trials[0..n) and their losses (lower is better; NAN: failed, left out;
 * INFINITY: proposed in the same batch and not yet run, the constant liar's "running"). While
 * fewer than search->n_startup_trials have finished, trials[t] keeps its random draw (the one
 * random search would give trial t). The proposal's random numbers come from
 * hf_rng_init(search.seed, t, 1): a proposal depends on the spec, t and the losses only. Not
 * collective. */
int hf_space_tpe_propose(const hf_space *space, const hf_search_opts *search, hf_trial *trials,
                         const double *loss, size_t n, size_t t);
/* The same with the random numbers of hf_rng_init(search.seed, key, 1): for a trial whose
 * position t in `trials` is not its number (BOHB's observations are a subset). */
int hf_space_tpe_propose_keyed(const hf_space *space, const hf_search_opts *search,
                               hf_trial *trials, const double *loss, size_t n, size_t t,
                               uint64_t key);

/* Warm start. The finished trials of an earlier run (`text`: its results.json, named `where` in
 * messages) that fit this space, as trials and losses (lower is better) for
 * hf_space_tpe_propose: every searched parameter present, inside its distribution (a list's
 * values, a distribution's bounds, an integer where the parameter is one), a finite mean score.
 * *n_skipped counts the finished trials that do not fit. The run must be of `model` scored by
 * `metric` (HF_EINVAL naming search.warm_start otherwise, and when no trial fits). Not
 * collective; *trials (hf_trials_free) and *loss are the caller's. */
int hf_space_warm_trials(const hf_space *space, const char *text, const char *where,
                         const char *model, const char *metric, hf_trial **trials, double **loss,
                         size_t *n, size_t *n_skipped);

/* Sets parameter i of trial t to the number x, typed as the parameter (rounded and clamped for an
 * integer one). Not collective. */
int hf_space_set_number(const hf_space *space, hf_trial *t, size_t i, double x);

/* One rung of a Hyperband bracket: n configurations trained with `resource`, as trials
 * [first, first + n) of the study. */
typedef struct hf_rung {
    int bracket, rung; /* bracket s (s_max first), rung i = 0..s within it */
    size_t n, first;
    double resource;
} hf_rung;

/* Li et al.'s Hyperband brackets for resources in [min_r, max_r] and halving rate eta:
 * s_max = floor(log_eta(max_r / min_r)); bracket s = s_max..0 starts n = ceil((s_max + 1)
 * eta^s / (s + 1)) configurations at max_r / eta^s, and rung i keeps floor(n / eta^i) of them at
 * max_r / eta^(s - i) (rounded, at least 1, when `integer`). For max_r 81, min_r 1, eta 3 the
 * first bracket is (81, 1) (27, 3) (9, 9) (3, 27) (1, 81). *rungs in study order (the caller
 * frees); *n_trials their total. Not collective. */
int hf_hyperband_plan(double min_r, double max_r, int eta, int integer, hf_rung **rungs,
                      size_t *n_rungs, size_t *n_trials);

/* ASHA's rungs: resources max_r / eta^(K - k) for k = 0..K, K = floor(log_eta(max_r / min_r))
 * (rounded, at least 1, when `integer`). *res (K + 1 values) is the caller's. Not collective. */
int hf_asha_rungs(double min_r, double max_r, int eta, int integer, double **res, size_t *n);

/* Sets every parameter of trial t from a JSON object of its values as hf_trial_params_json wrote
 * them (exactly: numbers round-trip); HF_EDATA when one is missing, or outside its list or
 * distribution (a fixed parameter takes any number: a study's budget). Not collective. */
int hf_space_trial_from_json(const hf_space *space, const char *params_json, hf_trial *t);

/* The budget after trials [0, n) ran (losses as above, NAN for failed) and `elapsed` seconds:
 * NULL to go on, or why the study stops ("max_time", "early_stop"). search.early_stop counts
 * trials since the last one that lowered the best loss by more than early_stop_threshold. */
const char *hf_search_budget_stop(const hf_search_opts *search, const double *loss, size_t n,
                                  double elapsed);

/* search.early_stop on trials in index order (grid, random: the same at any number of ranks):
 * the fewest trials k <= n whose prefix [0, k) meets it (its last early_stop trials gave no
 * improvement greater than early_stop_threshold), or 0 when no prefix of [0, n) does (or there
 * is no early_stop). The study is then trials [0, k). */
size_t hf_search_early_stop_at(const hf_search_opts *search, const double *loss, size_t n);

/* The parameter values of a trial as a compact JSON object, e.g.
 * {"alpha":0.01,"fit_intercept":true} (numbers as JSON reals in their shortest round-trip form,
 * ints as integers, bools, strings), in space order. Caller frees with free(); NULL on error
 * (message set). Not collective. */
char *hf_trial_params_json(const hf_space *space, const hf_trial *t);

#endif
