/* xgboost.c - gradient-boosted trees (XGBoost's gbtree booster, histogram method) through
 * libxgboost 1.7's C API: regression (squared, pseudo-Huber or absolute error) and
 * classification (binary:logistic, multi:softprob). Parameters keep XGBoost's names, defaults and
 * bounds (the scikit-learn wrapper's names where they differ from the booster's: learning_rate
 * for eta, reg_lambda, reg_alpha, random_state, n_jobs).
 *
 * Work shared across trials: trials that differ only in n_estimators are one training run, each
 * trial's model a prefix of its rounds (XGBoosterSlice). With early_stopping_rounds, every round
 * is scored on the split's validation rows with the objective's own metric (hyperfold's, the
 * booster's predictions of a cached matrix costing one round's trees each), and each trial keeps
 * its rounds up to its best score; its n_iter is the rounds it kept. The refit on every search row
 * has no validation rows: it trains the mean of the splits' best rounds, rounded (XGBoost's own cv
 * picks the round of the best mean curve, which needs every split's whole curve on one rank; the
 * mean of the best rounds is its usual stand-in, and the median would ignore a fold that needed
 * many more rounds). Missing values stay missing: XGBoost learns the side each split sends them.
 * Columns encoded natively (preprocess.categorical native) are categorical features of every
 * DMatrix (xgb_booster.c): max_cat_to_onehot and max_cat_threshold shape their splits. */
#include "worker/model.h"
#include "worker/models/xgb_booster.h"

#include "common/hf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const hf_model_ops hf_model_xgboost;

enum {
    P_N_ESTIMATORS = 0,
    P_LEARNING_RATE,
    P_MAX_DEPTH,
    P_MIN_CHILD_WEIGHT,
    P_SUBSAMPLE,
    P_COLSAMPLE_BYTREE,
    P_COLSAMPLE_BYNODE,
    P_REG_LAMBDA,
    P_REG_ALPHA,
    P_GAMMA,
    P_MAX_BIN,
    P_MAX_LEAVES,
    P_GROW_POLICY,
    P_SCALE_POS_WEIGHT,
    P_MAX_DELTA_STEP,
    P_OBJECTIVE,
    P_HUBER_SLOPE,
    P_EARLY_STOPPING,
    P_RANDOM_STATE,
    P_N_JOBS,
    P_CLASS_WEIGHT,
    P_MAX_CAT_TO_ONEHOT,
    P_MAX_CAT_THRESHOLD,
    N_PARAMS
};

static const hf_param_def xgb_params[N_PARAMS] = {
    HF_PARAM_INT("n_estimators", "100", 1, 1e6, "boosting rounds (the most, with early stopping)"),
    HF_PARAM_NUMBER("learning_rate", "0.3", 0.0, 1.0, 1, "eta: shrinkage of each round's trees"),
    HF_XGB_PARAM_MAX_DEPTH,
    HF_PARAM_NUMBER("min_child_weight", "1", 0.0, INFINITY, 0,
                    "least hessian a child needs (rows, for squared error)"),
    HF_PARAM_NUMBER("subsample", "1", 0.0, 1.0, 1, "fraction of the rows each tree sees"),
    HF_PARAM_NUMBER("colsample_bytree", "1", 0.0, 1.0, 1, "fraction of the columns per tree"),
    HF_PARAM_NUMBER("colsample_bynode", "1", 0.0, 1.0, 1, "fraction of the columns per split"),
    HF_PARAM_NUMBER("reg_lambda", "1", 0.0, INFINITY, 0, "L2 penalty on the leaf weights"),
    HF_PARAM_NUMBER("reg_alpha", "0", 0.0, INFINITY, 0, "L1 penalty on the leaf weights"),
    HF_PARAM_NUMBER("gamma", "0", 0.0, INFINITY, 0, "least loss reduction that makes a split"),
    HF_XGB_PARAM_MAX_BIN,
    HF_XGB_PARAM_MAX_LEAVES,
    HF_XGB_PARAM_GROW_POLICY,
    HF_PARAM_NUMBER("scale_pos_weight", "1", 0.0, INFINITY, 1,
                    "binary classification: weight of the positive class"),
    HF_PARAM_NUMBER("max_delta_step", "0", 0.0, INFINITY, 0,
                    "cap on each leaf's weight step (0: none)"),
    HF_XGB_PARAM_OBJECTIVE,
    HF_PARAM_NUMBER("huber_slope", "1", 0.0, INFINITY, 1, "reg:pseudohubererror: its delta"),
    HF_PARAM_INT("early_stopping_rounds", "0", 0, 1e6,
                 "stop after this many rounds without a better validation score (0: off)"),
    HF_XGB_PARAM_RANDOM_STATE,
    HF_XGB_PARAM_N_JOBS,
    HF_XGB_PARAM_CLASS_WEIGHT,
    HF_XGB_PARAM_MAX_CAT_TO_ONEHOT,
    HF_XGB_PARAM_MAX_CAT_THRESHOLD,
};

static double num(const hf_value *v, int i)
{
    return hf_value_as_double(&v[i]);
}

static int xgb_fit(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
                   hf_fitted **out)
{
    const hf_value *v = params[0]; /* the trials differ only in n_estimators */
    const char *objective = v[P_OBJECTIVE].u.str;
    if (d->n_classes > 0 && strcmp(objective, "auto") != 0)
        return hf_error(HF_EINVAL,
                        "xgboost: objective %s is for regression, expected auto for a "
                        "classification target",
                        objective);
    /* XGBoost would ignore it: a weight of the positive class needs two classes. */
    if (d->n_classes > 2 && num(v, P_SCALE_POS_WEIGHT) != 1.0)
        return hf_error(HF_EINVAL,
                        "xgboost: scale_pos_weight: got %g on %zu classes, expected 1 (it weighs "
                        "the positive class of a binary classification)",
                        num(v, P_SCALE_POS_WEIGHT), d->n_classes);
    hf_xgb_params bp = {0};
    hf_xgb_set_task(&bp, d, strcmp(objective, "auto") ? objective : "reg:squarederror",
                    (int)num(v, P_N_JOBS));
    static const struct {
        int param;
        const char *key;
    } numbers[] = {{P_LEARNING_RATE, "eta"},
                   {P_MAX_DEPTH, "max_depth"},
                   {P_MIN_CHILD_WEIGHT, "min_child_weight"},
                   {P_SUBSAMPLE, "subsample"},
                   {P_COLSAMPLE_BYTREE, "colsample_bytree"},
                   {P_COLSAMPLE_BYNODE, "colsample_bynode"},
                   {P_REG_LAMBDA, "lambda"},
                   {P_REG_ALPHA, "alpha"},
                   {P_GAMMA, "gamma"},
                   {P_MAX_BIN, "max_bin"},
                   {P_MAX_LEAVES, "max_leaves"},
                   {P_SCALE_POS_WEIGHT, "scale_pos_weight"},
                   {P_MAX_DELTA_STEP, "max_delta_step"},
                   {P_HUBER_SLOPE, "huber_slope"},
                   {P_RANDOM_STATE, "seed"},
                   {P_MAX_CAT_TO_ONEHOT, "max_cat_to_onehot"},
                   {P_MAX_CAT_THRESHOLD, "max_cat_threshold"}};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        hf_xgb_set_number(&bp, numbers[i].key, num(v, numbers[i].param));
    hf_xgb_set_text(&bp, "grow_policy", v[P_GROW_POLICY].u.str);
    bp.balanced = strcmp(v[P_CLASS_WEIGHT].u.str, "balanced") == 0;
    bp.continuable = 1;
    /* NULL on failure: hf_xgb_train agrees on it with a row_shard group's other ranks (issue 17).
     */
    int *rounds = hf_malloc((n_trials ? n_trials : 1) * sizeof *rounds);
    for (size_t t = 0; rounds && t < n_trials; t++)
        rounds[t] = (int)num(params[t], P_N_ESTIMATORS);
    int result = hf_xgb_train(&hf_model_xgboost, d, &bp, rounds, n_trials,
                              (int)num(v, P_EARLY_STOPPING), out);
    free(rounds);
    return result;
}

static int xgb_check_params(const hf_value *v, hf_task_kind task, const char **key)
{
    HF_CALL(hf_xgb_check_task(v[P_OBJECTIVE].u.str, v[P_CLASS_WEIGHT].u.str, task, key));
    if (task == HF_TASK_REGRESSION && num(v, P_SCALE_POS_WEIGHT) != 1.0) {
        *key = "scale_pos_weight";
        return hf_error(HF_EINVAL,
                        "scale_pos_weight: got %g on a regression target, expected 1 (it weighs "
                        "the positive class of a binary classification)",
                        num(v, P_SCALE_POS_WEIGHT));
    }
    return HF_OK;
}

/* The refit trains the mean of the splits' kept rounds when the trial stopped early. */
static int xgb_refit_params(const hf_value *params, const double *split_iters, size_t n_splits,
                            hf_value *out)
{
    memcpy(out, params, N_PARAMS * sizeof *out);
    if (num(params, P_EARLY_STOPPING) <= 0)
        return HF_OK;
    double sum = 0;
    size_t n = 0;
    for (size_t f = 0; f < n_splits; f++)
        if (isfinite(split_iters[f]) && split_iters[f] > 0) {
            sum += split_iters[f];
            n++;
        }
    if (n == 0)
        return hf_error(HF_ENUM, "xgboost: no split recorded its best round");
    double r = floor(sum / (double)n + 0.5);
    out[P_N_ESTIMATORS].type = HF_VAL_INT;
    out[P_N_ESTIMATORS].u.i = (int64_t)(r < 1 ? 1 : r);
    return HF_OK;
}

const hf_model_ops hf_model_xgboost = {
    .name = "xgboost",
    .resource_param = "n_estimators",
    .tasks = (1u << HF_TASK_REGRESSION) | (1u << HF_TASK_CLASSIFICATION),
    .params = xgb_params,
    .n_params = N_PARAMS,
    .fit = xgb_fit,
    .predict = hf_xgb_predict,
    .shared_param = "n_estimators",
    .save_state = hf_xgb_save_state,
    .load_state = hf_xgb_load_state,
    .free_state = hf_xgb_free_state,
    .refit_params = xgb_refit_params,
    .check_params = xgb_check_params,
    .handles_missing = 1,
    .data_parallel = 1,
    .native_categorical = 1,
    .preflight = hf_xgb_preflight,
    .sweep_end = hf_xgb_sweep_end,
};
