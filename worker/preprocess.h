/* preprocess.h - the preprocessing pipeline fitted inside each fold: numeric columns (log1p ->)
 * impute (-> clip -> power -> kbins) -> scale (-> polynomial), categorical ones impute -> one-hot
 * / ordinal / frequency / target encoding (-> PCA when preprocess.pca.n_components > 0).
 *
 * A pipeline is fitted on the training rows of a split only and applied to its validation rows;
 * the refit's pipeline is stored in model.h5 and applied by `hyperfold predict`. Semantics follow
 * scikit-learn 1.2 (SimpleImputer, StandardScaler, MinMaxScaler, OneHotEncoder) and are documented
 * in docs/preprocessing.md, including the layout of the design matrix:
 *   [numeric and boolean columns, source order] [polynomial products]
 *   [one-hot blocks (or one column each), source order] [missing indicators, source order]
 * A trivial pipeline (only numeric columns, no missing values, scale none) is an exact copy.
 * With PCA the design matrix is the projection of that layout on the top principal components
 * (columns "pca0", "pca1", ...), as scikit-learn's PCA(svd_solver="full"). */
#ifndef HF_PREPROCESS_H
#define HF_PREPROCESS_H

#include "common/dataset.h"
#include "common/opts.h"
#include "worker/prep_num.h"
#include "worker/group.h"
#include "worker/model.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hf_impute_kind {
    HF_IMPUTE_MEAN = 0,
    HF_IMPUTE_MEDIAN,
    HF_IMPUTE_MOST_FREQUENT,
    HF_IMPUTE_CONSTANT,
    HF_IMPUTE_NONE /* numeric only: missing values stay NaN, for models that handle them */
} hf_impute_kind;

typedef enum hf_scale_kind { HF_SCALE_NONE = 0, HF_SCALE_STANDARD, HF_SCALE_MINMAX } hf_scale_kind;

/* preprocess.categorical: the encoding of every categorical column. */
typedef enum hf_encode_kind {
    HF_ENCODE_ONEHOT = 0, /* OneHotEncoder */
    HF_ENCODE_ORDINAL,    /* OrdinalEncoder: the rank in sorted order; unknown -1 */
    HF_ENCODE_FREQUENCY,  /* the training share of the level; unknown 0 */
    HF_ENCODE_TARGET,     /* TargetEncoder (scikit-learn 1.3), cross-fitted on the fit rows */
    HF_ENCODE_NATIVE      /* the ordinal code as one categorical feature; missing and unknown
                           * levels NaN (models with native_categorical: XGBoost's categorical
                           * splits) */
} hf_encode_kind;

#define HF_PREP_FILL_MAX 128
#define HF_PREP_COLUMNS_MAX 512

/* The preprocessing settings of one trial. Plain data: copy it by assignment. */
typedef struct hf_prep_config {
    hf_impute_kind impute_numeric;     /* preprocess.impute.numeric, default mean */
    hf_impute_kind impute_categorical; /* preprocess.impute.categorical: most_frequent|constant */
    int fill_given;                    /* preprocess.impute.fill_value was set */
    double fill_number;                /* numeric constant fill (default 0) */
    char fill_text[HF_PREP_FILL_MAX];  /* categorical constant fill (default "missing_value") */
    int indicator;                     /* preprocess.impute.indicator, default 0 */
    hf_scale_kind scale;               /* preprocess.scale, default none */
    int64_t min_frequency;             /* preprocess.min_frequency, default 0 (off) */
    int64_t pca_components;            /* preprocess.pca.n_components, default 0 (no PCA) */
    int log1p;                         /* preprocess.log1p: log1p of numeric columns first */
    int target_log1p;      /* preprocess.target_transform log1p: fit on log1p(y), predict expm1 */
    double train_fraction; /* preprocess.train_fraction: of each split's training rows, in
                            * (0, 1] (default 1); the budget of Hyperband and ASHA for models
                            * without one of their own */
    double clip_lower, clip_upper; /* preprocess.clip.lower/upper: quantiles, default 0 and 1 */
    hf_power_kind power;           /* preprocess.power: none, yeo-johnson, box-cox */
    int64_t kbins;                 /* preprocess.kbins: quantile bins (0 = off) */
    int kbins_onehot;              /* preprocess.kbins_encode onehot (default ordinal) */
    int64_t polynomial;            /* preprocess.polynomial: 0 (off) or 2 */
    int interaction_only;          /* preprocess.interaction_only */
    hf_encode_kind encode;         /* preprocess.categorical */
    int64_t max_categories;        /* preprocess.max_categories: one-hot (0 = off) */
    /* preprocess.encode_columns: per-column encodings overriding `encode`, "COL:ENC, COL:ENC"
     * (see hf_prep_encode_columns_next); "" = none */
    char encode_columns[HF_PREP_COLUMNS_MAX];
    uint64_t seed; /* the job's cv.seed (set by the caller, not a setting): the inner folds of
                    * target encoding */
} hf_prep_config;

/* The defaults: mean / most_frequent imputation, no indicator, no scaling, one-hot. */
void hf_prep_config_default(hf_prep_config *cfg);

/* The preprocessing settings, searchable like model parameters: entry i's name is its key under
 * `preprocess:` in the job spec ("impute.numeric", "scale", "pca.n_components"), with its type,
 * default and accepted values. The job-spec binder reads and validates them from this table; a
 * new setting is one entry in preprocess.c. */
size_t hf_prep_n_params(void);
const hf_param_def *hf_prep_param(size_t i);

/* Not collective. The configuration of one trial from values[i] of setting i (every entry of the
 * table; NULL or a NONE value: the default). Refuses combinations of settings (a text fill value
 * with constant numeric imputation) with HF_EINVAL, naming the setting's position through src. */
int hf_prep_config_from_values(const hf_value *const *values, const hf_opt_source *src,
                               hf_prep_config *cfg);

/* preprocess.target_transform of a regression target (scikit-learn's
 * TransformedTargetRegressor(func=np.log1p, inverse_func=np.expm1)): the model is fitted on the
 * transformed target and its predictions are transformed back, so every score and every
 * prediction is on the target's own scale. hf_prep_target_forward transforms y[0..n) in place
 * (HF_EDATA, naming the value, for one the transform is not defined at: log1p needs y > -1);
 * hf_prep_target_inverse transforms n predictions back. Both do nothing without a transform.
 * Not collective. */
int hf_prep_target_forward(const hf_prep_config *cfg, double *y, size_t n);
void hf_prep_target_inverse(const hf_prep_config *cfg, double *pred, size_t n);

/* preprocess.encode_columns' text: pairs "COLUMN:ENCODING" separated by commas, the encoding
 * after the pair's last colon (onehot, ordinal, frequency, target or native), blanks around either
 * part ignored. Reads the pair at *pos (advancing it): 1 and the column name (truncated to name_len
 * - 1 bytes; *truncated set when it was longer) and kind, 0 at the end of the text, or -1 when the
 * text there is not a pair (a hf_error names it). Not collective. */
int hf_prep_encode_columns_next(const char **pos, char *name, size_t name_len, int *truncated,
                                hf_encode_kind *kind);

/* Checks an encode_columns text against a schema: every column it names is a categorical
 * feature (else HF_EINVAL naming it); *any_target (may be NULL) is set to 1 when it asks for
 * target encoding. Not collective. */
int hf_prep_encode_columns_check(const char *text, const hf_schema *schema, int *any_target);

/* Not collective. Refuses (HF_EINVAL, the message naming the key, the value and the models that
 * take it) native categorical encoding (preprocess.categorical or encode_columns; *key set to
 * the key, NULL when cfg asks for none) with a model that takes no categorical features
 * (hf_model_ops.native_categorical 0). model NULL: no check. */
int hf_prep_model_check(const hf_prep_config *cfg, const hf_model_ops *model, const char **key);

/* 1 if a and b give the same fitted pipeline on the same rows (a cache key for the worker). */
int hf_prep_config_equal(const hf_prep_config *a, const hf_prep_config *b);
/* A total order of configurations (0: equal), for sorting trials by their preprocessing. */
int hf_prep_config_cmp(const hf_prep_config *a, const hf_prep_config *b);

typedef struct hf_prep hf_prep;

/* Fits on rows[0..n) of X (n_features = schema->n_features columns, row-major; rows == NULL: the
 * first n rows). *out is owned by the caller (hf_prep_free). O(n * p) except the median and
 * numeric most_frequent, which sort each column's training values.
 * Collective over `group` when cfg->pca_components > 0 and the group has more than one rank:
 * every group rank must then call it with the same arguments (the covariance is summed over row
 * slices and its eigenpairs come from PDSYEVD); otherwise (group NULL, or no PCA) not
 * collective. A PCA with more components than design-matrix columns or training rows is refused
 * (HF_EINVAL) before any collective call, identically on every rank. */
int hf_prep_fit(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                const int64_t *rows, size_t n, const hf_group *group, hf_prep **out);

/* hf_prep_fit with the target y (indexed like the rows of X: y[rows[i]]; a regression value or
 * a class index), which target encoding (preprocess.categorical target) needs; hf_prep_fit
 * refuses that encoding (HF_EINVAL). A classification target with more than two classes is
 * refused too. With target encoding, the fit rows' own design values are cross-fitted (see
 * hf_prep_transform_fit_rows). */
int hf_prep_fit_y(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                  const double *y, const int64_t *rows, size_t n, const hf_group *group,
                  hf_prep **out);

/* parallel.data_parallel: hf_prep_fit_y when X (rows[0..n) of it) holds only this group rank's
 * share of the training rows. Collective over `group`: the statistics (counts, missing counts,
 * sums, categories' counts, scaling's sums, minima and maxima) are reduced over the group, so every
 * group rank gets the pipeline fitted on all the shares. n may be 0 on some ranks. The order
 * statistics (median and most frequent imputation, clip's quantiles, power's lambda and
 * standardisation, kbins' edges) are computed on each column's training values gathered from
 * every group rank in row order (hf_dist_gather: n_all doubles per column on every rank, one
 * column at a time), so they equal the single copy's bit for bit when the rows are in table
 * order; PCA adds the shares' column sums and cross-products over the group.
 * all_rows[0..n_all_rows) are the split's training rows in the split's order (what hf_prep_fit_y
 * would be given; the same on every group rank), rows[0..n) its subsequence in this rank's block:
 * target encoding gathers each encoded column's codes, places them in that order and fits as the
 * single copy (y: the whole target column, on every rank), so its encodings, inner folds and
 * cross-fitted encodings of this rank's rows are the single copy's bit for bit. */
int hf_prep_fit_shard(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                      const double *y, const int64_t *rows, size_t n, const int64_t *all_rows,
                      size_t n_all_rows, const hf_group *group, hf_prep **out);

/* Not collective. The design rows of the very rows the pipeline was fitted on (rows[0..n) as
 * given to the fit, same order), what a model is fitted on: as hf_prep_transform, except that a
 * target-encoded column holds each row's cross-fitted encoding (fitted on the inner folds that
 * do not hold the row, so a row's own target never enters its encoding: scikit-learn's
 * TargetEncoder.fit_transform). HF_EINVAL when the rows are not the fit rows. */
int hf_prep_transform_fit_rows(const hf_prep *p, const double *X, const int64_t *rows, size_t n,
                               double *out);

/* Target encoding's inner fold (0..4) of each fit row position (n_fit of them), or NULL without
 * target encoding (and for an imported pipeline). Borrowed. */
const int *hf_prep_inner_folds(const hf_prep *p, size_t *n_fit);

/* Columns of the design matrix. */
size_t hf_prep_n_outputs(const hf_prep *p);

/* Not collective. Writes n x hf_prep_n_outputs(p) row-major into out for rows[0..n) of X
 * (rows == NULL: the first n rows of X). Never fails on data: NaN is imputed, unknown category
 * codes (-1, out of range, not seen in training) encode as zeros or as the infrequent column. */
int hf_prep_transform(const hf_prep *p, const double *X, const int64_t *rows, size_t n,
                      double *out);

/* Per design-matrix column, 1 where it is a native-encoded categorical feature (its values the
 * level's code 0, 1, ... or NaN), or NULL when no column is (hf_fit_data.categorical). Borrowed,
 * valid until hf_prep_free. */
const unsigned char *hf_prep_output_categorical(const hf_prep *p);

/* Names of the design-matrix columns ("age", "city=Paris", "city=infrequent", "missing(age)");
 * borrowed, valid until hf_prep_free. */
const char *const *hf_prep_output_names(const hf_prep *p);

/* The configuration the pipeline was fitted with; borrowed. */
const hf_prep_config *hf_prep_get_config(const hf_prep *p);

/* Fitted statistics of input feature j (for inspection and tests): the imputation value
 * (category code for categorical columns; NAN if the column is dropped because it was entirely
 * missing in training) and the scaler's center/scale: the design value is (x - center) / scale
 * (standard: mean and std; minmax: min and max - min; none: 0 and 1). HF_EINVAL for j out of
 * range. */
int hf_prep_feature_stats(const hf_prep *p, size_t j, double *impute, double *center,
                          double *scale);

/* Not collective. The PCA step of a fitted pipeline, borrowed (valid until hf_prep_free): returns
 * the number of components k (0 = no PCA: the three array pointers come back NULL); *q receives
 * the width of the design matrix before the projection, *mean its q training means, *components the
 * k x q row-major principal axes (sklearn's components_, sign-fixed as documented in
 * docs/preprocessing.md) and *variance the k explained variances (eigenvalues of the covariance
 * with divisor n - 1). Any output pointer may be NULL. */
size_t hf_prep_pca(const hf_prep *p, size_t *q, const double **mean, const double **components,
                   const double **variance);

/* Serialisation for model.h5 without knowing HDF5: *arrays (n_arrays named arrays, names without
 * '/'; with PCA also prep.pca_mean, prep.pca_components and prep.pca_explained_variance) and
 * *config_json (the settings and the column layout). All owned by the caller: free with
 * hf_prep_export_free. */
int hf_prep_export(const hf_prep *p, hf_array **arrays, size_t *n_arrays, char **config_json);
void hf_prep_export_free(hf_array *arrays, size_t n_arrays, char *config_json);

/* Rebuilds a fitted pipeline from what hf_prep_export wrote. The schema must have the same feature
 * columns (names, types, category counts) as at fit time, else HF_EDATA. *out owned by caller. */
int hf_prep_import(const hf_schema *schema, const hf_array *arrays, size_t n_arrays,
                   const char *config_json, hf_prep **out);

/* Frees p; NULL is accepted. */
void hf_prep_free(hf_prep *p);
/* 1 if transforming the rows the pipeline was fitted on would only copy them (numeric columns, no
 * scaling, no PCA, no missing value in those rows), so a model may read them in place. */
int hf_prep_is_copy(const hf_prep *p);

#endif
