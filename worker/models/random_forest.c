/* random_forest.c - random forests in XGBoost's forest mode, as xgboost.XGBRFRegressor and
 * XGBRFClassifier build them: one boosting round of n_estimators parallel trees
 * (num_parallel_tree), each on a subsample of the rows and a fraction of the columns at every
 * split, with learning rate 1 and XGBRF's defaults (subsample 0.8, colsample_bynode 0.8,
 * reg_lambda 1e-5).
 *
 * Against scikit-learn's RandomForest*: n_estimators and max_depth mean the same; max_features is
 * the fraction of the columns each split draws from (colsample_bynode; scikit-learn's float
 * max_features); rows are drawn without replacement (subsample), not bootstrapped; min_child_weight
 * is the least hessian of a leaf, which for regression's squared error is scikit-learn's
 * min_samples_leaf and for classification is not (a row weighs p (1 - p)); trees split on
 * histograms of max_bin bins, not on every distinct value; classification leaves are fitted by
 * the logistic loss's Newton step, not by class frequencies. No work is shared across trials: a
 * forest is one round, so fewer trees are not a prefix of it. */
#include "worker/model.h"
#include "worker/models/xgb_booster.h"

#include "common/hf.h"

#include <math.h>
#include <string.h>

extern const hf_model_ops hf_model_random_forest;

enum {
    P_N_ESTIMATORS = 0,
    P_MAX_DEPTH,
    P_MAX_FEATURES,
    P_SUBSAMPLE,
    P_MIN_CHILD_WEIGHT,
    P_REG_LAMBDA,
    P_MAX_BIN,
    P_MAX_LEAVES,
    P_GROW_POLICY,
    P_OBJECTIVE,
    P_RANDOM_STATE,
    P_N_JOBS,
    P_CLASS_WEIGHT,
    P_MAX_CAT_TO_ONEHOT,
    P_MAX_CAT_THRESHOLD,
    N_PARAMS
};

static const hf_param_def rf_params[N_PARAMS] = {
    HF_PARAM_INT("n_estimators", "100", 1, 1e5, "trees of the forest (num_parallel_tree)"),
    HF_XGB_PARAM_MAX_DEPTH,
    HF_PARAM_NUMBER("max_features", "0.8", 0.0, 1.0, 1,
                    "fraction of the columns each split draws from (colsample_bynode)"),
    HF_PARAM_NUMBER("subsample", "0.8", 0.0, 1.0, 1,
                    "fraction of the rows each tree sees (drawn without replacement)"),
    HF_PARAM_NUMBER("min_child_weight", "1", 0.0, INFINITY, 0,
                    "least hessian a leaf needs (regression: min_samples_leaf)"),
    HF_PARAM_NUMBER("reg_lambda", "1e-5", 0.0, INFINITY, 0, "L2 penalty on the leaf weights"),
    HF_XGB_PARAM_MAX_BIN,
    HF_XGB_PARAM_MAX_LEAVES,
    HF_XGB_PARAM_GROW_POLICY,
    HF_XGB_PARAM_OBJECTIVE,
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

static int rf_fit(const hf_fit_data *d, const hf_value *const *params, size_t n_trials,
                  hf_fitted **out)
{
    for (size_t t = 0; t < n_trials; t++) {
        const hf_value *v = params[t];
        const char *objective = v[P_OBJECTIVE].u.str;
        if (d->n_classes > 0 && strcmp(objective, "auto") != 0)
            return hf_error(HF_EINVAL,
                            "random_forest: objective %s is for regression, expected auto for a "
                            "classification target",
                            objective);
        hf_xgb_params bp = {0};
        hf_xgb_set_task(&bp, d, strcmp(objective, "auto") ? objective : "reg:squarederror",
                        (int)num(v, P_N_JOBS));
        hf_xgb_set_number(&bp, "eta", 1.0);
        hf_xgb_set_number(&bp, "num_parallel_tree", num(v, P_N_ESTIMATORS));
        hf_xgb_set_number(&bp, "max_depth", num(v, P_MAX_DEPTH));
        hf_xgb_set_number(&bp, "colsample_bynode", num(v, P_MAX_FEATURES));
        hf_xgb_set_number(&bp, "subsample", num(v, P_SUBSAMPLE));
        hf_xgb_set_number(&bp, "min_child_weight", num(v, P_MIN_CHILD_WEIGHT));
        hf_xgb_set_number(&bp, "lambda", num(v, P_REG_LAMBDA));
        hf_xgb_set_number(&bp, "max_bin", num(v, P_MAX_BIN));
        hf_xgb_set_number(&bp, "max_leaves", num(v, P_MAX_LEAVES));
        hf_xgb_set_text(&bp, "grow_policy", v[P_GROW_POLICY].u.str);
        hf_xgb_set_number(&bp, "seed", num(v, P_RANDOM_STATE));
        hf_xgb_set_number(&bp, "max_cat_to_onehot", num(v, P_MAX_CAT_TO_ONEHOT));
        hf_xgb_set_number(&bp, "max_cat_threshold", num(v, P_MAX_CAT_THRESHOLD));
        bp.balanced = strcmp(v[P_CLASS_WEIGHT].u.str, "balanced") == 0;
        int one = 1;
        int result = hf_xgb_train(&hf_model_random_forest, d, &bp, &one, 1, 0, &out[t]);
        if (result < 0) {
            for (size_t i = 0; i < t; i++) {
                hf_fitted_free(out[i]);
                out[i] = NULL;
            }
            return result;
        }
    }
    return HF_OK;
}

static int rf_check_params(const hf_value *v, hf_task_kind task, const char **key)
{
    return hf_xgb_check_task(v[P_OBJECTIVE].u.str, v[P_CLASS_WEIGHT].u.str, task, key);
}

const hf_model_ops hf_model_random_forest = {
    .name = "random_forest",
    .resource_param = "n_estimators",
    .tasks = (1u << HF_TASK_REGRESSION) | (1u << HF_TASK_CLASSIFICATION),
    .params = rf_params,
    .n_params = N_PARAMS,
    .fit = rf_fit,
    .predict = hf_xgb_predict,
    .save_state = hf_xgb_save_state,
    .load_state = hf_xgb_load_state,
    .free_state = hf_xgb_free_state,
    .check_params = rf_check_params,
    .handles_missing = 1,
    .data_parallel = 1,
    .native_categorical = 1,
    .preflight = hf_xgb_preflight,
};
