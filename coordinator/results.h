/* results.h - the sweep's score table on rank 0: reduction of task results, selection of the best
 * trial, results.json and trials.csv. */
#ifndef HF_RESULTS_H
#define HF_RESULTS_H

#include "jobs/search.h"
#include "worker/task.h"

#include <jansson.h>
#include "worker/task.h"

#include <stddef.h>

typedef struct hf_sweep {
    size_t n_trials, n_splits, n_metrics;
    const char **metrics;   /* borrowed; [0] is the objective */
    int *greater_is_better; /* per metric */
    double *scores;         /* [trial][split][metric], NAN until known */
    unsigned char *state;   /* [trial][split]: 0 pending, 1 ok, 2 failed */
    char **errors;          /* [trial]: first failure reason */
    double *fit_seconds;    /* [trial]: summed over splits */
    double *n_iter;         /* [trial][split]: the solver's iterations (0: direct solver) */
    unsigned char *stop;    /* [trial][split]: hf_fit_stop of each fit */
    size_t tasks_done;
    size_t failed_trials; /* trials with at least one failed split */
    /* Optional [trial], the caller's: 0 for a trial that is not a candidate for the best (a
     * Hyperband trial below the full resource): ranked after every candidate, never selected,
     * never the leader. NULL: every trial is one. */
    const unsigned char *eligible;
    /* Optional [trial], the caller's: 1 for a trial pruned after its first splits (status
     * "pruned"; never a candidate for the best). NULL: none. */
    const unsigned char *pruned;
    /* Filled by hf_sweep_finish: */
    double *mean, *std; /* [trial][metric], over splits; error_score applied */
    int *rank;          /* [trial]: 1 = best */
    int best;           /* best trial or -1 */
} hf_sweep;

int hf_sweep_init(hf_sweep *s, size_t n_trials, size_t n_splits, const char **metrics,
                  size_t n_metrics);
/* Adds one task's results. Returns HF_EDATA if a (trial, split) is reported twice. */
int hf_sweep_add(hf_sweep *s, const hf_task_result *r);
/* Trials that did not converge on at least one split: *max_iter of them stopped at max_iter on
 * some split, *stalled (the others) in the line search. Returns their sum. */
size_t hf_sweep_unconverged(const hf_sweep *s, size_t *max_iter, size_t *stalled);
/* Trial t's mean objective over every split as a loss (negated when greater is better), for the
 * sampler; NAN while a split is missing or when one failed. */
double hf_sweep_trial_loss(const hf_sweep *s, size_t t);
/* Trial t's scores of the objective on splits [0, n) into out; 1 if every one is known and ok. */
int hf_sweep_fold_scores(const hf_sweep *s, size_t t, size_t n, double *out);
/* Best mean objective so far among complete trials (NAN if none). */
double hf_sweep_best_so_far(const hf_sweep *s);
/* The trial with the best mean objective over its splits known so far (none failed), lowest id on
 * ties; -1 if none. A guess at the winner while tasks still run. */
int hf_sweep_leader(const hf_sweep *s);
/* Means, stds, ranks and the best trial: highest (or lowest) mean objective, lowest trial id on
 * ties. Failed splits score search->error_score if given, else the trial ranks last. */
int hf_sweep_finish(hf_sweep *s, const hf_search_opts *search);
void hf_sweep_free(hf_sweep *s);

/* Extra facts for results.json. */
typedef struct hf_run_info {
    const char *name, *spec_sha256, *source, *model; /* the job */
    const hf_space *space;                           /* the trials' parameter names */
    const char *results_path, *trials_csv_path;      /* where the two files go */
    const char *source_fingerprint;
    size_t n_rows, n_search_rows, n_holdout_rows, rejected_rows;
    int ranks;
    double seconds;
    int reused_shards;
    int resumed_tasks;
    int speculative_refit;      /* the refit was made while the last tasks ran (the leader won) */
    const char *search_stopped; /* a budget that ended the search early (search.max_time,
                                 * search.early_stop), or NULL */
    int holdout_valid;
    double *holdout_scores; /* n_metrics, when holdout_valid */
    int refit_valid;        /* the refit's solver report below is known */
    double refit_n_iter;
    int refit_stop; /* hf_fit_stop */
    const char *model_path;
    const hf_rung *rungs; /* Hyperband: the plan (results.json "hyperband"), or NULL */
    size_t n_rungs;
    const double *rung_resources; /* ASHA: its rungs' resources (results.json "asha"), or NULL */
    size_t n_rung_resources;
    /* The evaluation objects (worker/evaluation.h) of the best trial's out-of-fold predictions
     * and of the refit on the holdout (results.json "evaluation", "holdout_evaluation"), borrowed;
     * NULL: not written. */
    json_t *evaluation, *holdout_evaluation;
    double oof_seconds; /* the out-of-fold pass (results.json timing.oof_seconds) */
    /* output.upload: this session's run id and prefix (results.json "upload"), or NULL. */
    const char *upload_run_id, *upload_uri;
} hf_run_info;

/* Writes results.json and trials.csv into info->run_dir (durably). */
int hf_results_write(const hf_sweep *s, const hf_trial *trials, const hf_run_info *info);

/* Not collective. The best trial of a finished run's results.json: its index, its parameters
 * (best.params as compact JSON, the caller's) and the spec hash of the run (spec_sha256, 65
 * bytes). HF_EINVAL, naming the file, when it has none: the run did not finish. */
int hf_results_read_best(const char *results_path, long *best, char **params_json,
                         char spec_sha256[65]);
/* Rank 0. The iterations trial t used on each split (n_splits values; NaN where it failed): in a
 * sweep, or in a finished run's results.json. */
void hf_sweep_trial_iters(const hf_sweep *s, size_t t, double *out);
int hf_results_read_iters(const char *results_path, long trial, double **out, size_t *n_splits);

/* Not collective. Records a retrain decision: appends it as one line to log_path (the history)
 * and sets it as results.json's "retrain" member (the file rewritten atomically). */
int hf_results_add_retrain(const char *results_path, const char *log_path, json_t *decision);

#endif
