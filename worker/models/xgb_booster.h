/* xgb_booster.h - what the two models on libxgboost share (worker/models/xgboost.c and
 * random_forest.c; internal to them): booster parameters as text, the training loop with early
 * stopping on the split's validation rows, prediction, and the booster's state as a blob. */
#ifndef HF_XGB_BOOSTER_H
#define HF_XGB_BOOSTER_H

#include "worker/model.h"

#define HF_XGB_MAX_PARAMS 32

/* The choices of the two models' objective and grow_policy parameters. */
extern const char *const hf_xgb_objectives[];
extern const char *const hf_xgb_grow_policies[];

/* What both models' check_params refuse: a regression objective (anything but "auto") on a
 * classification task (*key = "objective"), class_weight balanced on a regression task
 * (*key = "class_weight"). */
int hf_xgb_check_task(const char *objective, const char *class_weight, hf_task_kind task,
                      const char **key);

/* The parameter definitions both models have, with one text and one range each. */
#define HF_XGB_PARAM_MAX_DEPTH                                                                     \
    HF_PARAM_INT("max_depth", "6", 0, 1000, "deepest a tree grows (0: no limit)")
#define HF_XGB_PARAM_MAX_BIN HF_PARAM_INT("max_bin", "256", 2, 65536, "histogram bins per feature")
#define HF_XGB_PARAM_MAX_LEAVES                                                                    \
    HF_PARAM_INT("max_leaves", "0", 0, 2147483647.0, "most leaves per tree (0: no limit)")
#define HF_XGB_PARAM_GROW_POLICY                                                                   \
    HF_PARAM_CHOICE("grow_policy", "depthwise", hf_xgb_grow_policies,                              \
                    "depthwise (level by level) or lossguide (best leaf first)")
#define HF_XGB_PARAM_OBJECTIVE                                                                     \
    HF_PARAM_CHOICE("objective", "auto", hf_xgb_objectives,                                        \
                    "auto (squared error; classification: binary:logistic or multi:softprob), or " \
                    "a regression objective")
#define HF_XGB_PARAM_RANDOM_STATE                                                                  \
    HF_PARAM_INT("random_state", "0", 0, 2147483647.0, "seed of the row and column sampling")
#define HF_XGB_PARAM_N_JOBS                                                                        \
    HF_PARAM_INT("n_jobs", "0", 0, 1024, "threads per rank (0: the cores each rank has)")
#define HF_XGB_PARAM_CLASS_WEIGHT                                                                  \
    HF_PARAM_CHOICE("class_weight", "none", hf_xgb_class_weights,                                  \
                    "classification: none, or balanced (each class weighs as much in all: a row "  \
                    "weighs n / (classes x rows of its class), scikit-learn's balanced)")

/* Categorical splits (preprocess.categorical native): XGBoost's parameters, defaults and bounds. */
#define HF_XGB_PARAM_MAX_CAT_TO_ONEHOT                                                             \
    HF_PARAM_INT("max_cat_to_onehot", "4", 1, 2147483647.0,                                        \
                 "categorical features with fewer levels split one level against the rest; "       \
                 "others partition their levels")
#define HF_XGB_PARAM_MAX_CAT_THRESHOLD                                                             \
    HF_PARAM_INT("max_cat_threshold", "64", 1, 2147483647.0,                                       \
                 "most levels a partition split considers on one side")

/* Booster parameters by XGBoost's names, as the text XGBoosterSetParam takes. */
typedef struct hf_xgb_params {
    const char *key[HF_XGB_MAX_PARAMS];
    char val[HF_XGB_MAX_PARAMS][64];
    size_t n;
    /* class_weight balanced: each training row weighs n / (k n_c), k the classes present in the
     * training rows and n_c the rows of its class (scikit-learn's compute_sample_weight). */
    int balanced;
    /* 1: a resumable fit (hf_fit_data.resumable) keeps its booster so that a later fit of the same
     * parameters with more rounds trains only the rounds it lacks (xgboost; not random_forest,
     * whose one round cannot grow). */
    int continuable;
} hf_xgb_params;

/* The choices of the models' class_weight parameter. */
extern const char *const hf_xgb_class_weights[];

/* Appends key = the number v, printed so that it reads back exactly ("%.17g"; integers as
 * integers). */
void hf_xgb_set_number(hf_xgb_params *p, const char *key, double v);
void hf_xgb_set_text(hf_xgb_params *p, const char *key, const char *v);

/* The common parameters of every booster: the objective for the task (regression: `objective`;
 * two classes: binary:logistic; more: multi:softprob with num_class), the histogram method and
 * the threads (n_jobs, or the cores this rank may use). */
void hf_xgb_set_task(hf_xgb_params *p, const hf_fit_data *d, const char *objective, int n_jobs);

/* Fits n_trials boosters that differ only in their number of rounds (rounds[t]; NULL: the
 * caller's allocation of it failed, HF_ENOMEM after the same agreements as any other failure, so
 * that a row_shard group's other ranks do not wait) on d's training
 * rows, in one training run: trial t's model is the first rounds[t] rounds, or, with
 * early_stopping > 0 and validation rows in d, the rounds up to its best score on them
 * (d->metric; stopping after early_stopping rounds without improvement, as XGBoost's
 * early_stopping_rounds). out[t] gets the model (ops, its booster in state, n_iter the rounds it
 * kept). Not collective, except with d->row_shard on a group of several ranks: then collective
 * over the group (worker/rabit.h): X, y and the validation rows are this rank's share of the rows
 * (the group's shares in rank order are the table's rows in order), XGBoost trains one model over
 * all the shares through Rabit (the quantile sketches and the gradient histograms are reduced
 * over the group), the early-stopping score is the metric over every rank's validation rows, and
 * every rank gets the same models; any rank's failure fails the call on every rank. The data
 * matrix cache is not used then (a collective matrix depends on every rank's rows). */
int hf_xgb_train(const hf_model_ops *ops, const hf_fit_data *d, const hf_xgb_params *params,
                 const int *rounds, size_t n_trials, int early_stopping, hf_fitted **out);

/* predict, save_state, load_state and free_state of a booster model. */
int hf_xgb_predict(const hf_fitted *m, const hf_group *g, const double *X, size_t n, size_t p,
                   double *out);
/* The memory preflight of the tree models (hf_model_ops.preflight): a fit holds the training
 * rows as float32 (the staging copy) and libxgboost's DMatrix of them, at least 8 bytes a cell. */
int hf_xgb_preflight(const hf_group *group, size_t n, size_t p, size_t n_trials,
                     uint64_t memory_per_rank);
int hf_xgb_save_state(hf_fitted *m);
/* hf_model_ops.sweep_end: frees the boosters kept for continuation; counts[0] += the fit calls
 * that continued a kept booster, counts[1] += the rounds they did not train again. */
void hf_xgb_sweep_end(uint64_t counts[2]);
int hf_xgb_load_state(hf_fitted *m);
void hf_xgb_free_state(hf_fitted *m);

#endif
