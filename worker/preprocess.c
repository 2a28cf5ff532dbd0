/* preprocess.c - impute -> scale -> one-hot (-> PCA), fitted on training rows (see preprocess.h
 * and docs/preprocessing.md). */
#include "worker/preprocess.h"

#include "common/hf.h"
#include "common/rng.h"
#include "common/stats.h"
#include "worker/dist.h"
#include "worker/group.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREP_FORMAT "hyperfold.preprocess/1"

/* One input feature of the fitted pipeline. */
typedef struct prep_feat {
    int categorical; /* 1: one-hot block; 0: numeric (boolean columns are numeric 0/1) */
    int dropped;     /* entirely missing in training (non-constant imputation): no output */
    int indicator;   /* has a missing-indicator column */
    int log1p;       /* preprocess.log1p applies: a numeric column (booleans stay 0/1) */
    double impute;   /* numeric: fill value; categorical: the code missing values become */
    double center, scale;
    size_t n_codes;  /* categorical: n_categories + 1 (the last: a constant fill category) */
    int32_t *slot;   /* categorical: output column within the block per code, or -1 */
    int32_t unknown; /* categorical: column of unknown codes (the infrequent one) or -1 */
    size_t width;    /* categorical: columns of the block */
    size_t out;      /* first output column */
    size_t ind_out;  /* output column of the indicator */
    /* Numeric steps after imputation (steps: a numeric column with one of them set):
     * clip to [clip_lo, clip_hi] -> power (lambda, then (t - pw_mean) / pw_std) -> kbins. */
    int steps;
    double clip_lo, clip_hi;
    double lambda, pw_mean, pw_std;
    double pw_floor; /* box-cox: the smallest training value, used for values <= 0 */
    double *edges;   /* kbins: n_edges bin edges */
    size_t n_edges;
    hf_encode_kind enc; /* categorical: its encoding (encode_columns, else categorical) */
    double *freq; /* categorical, encode frequency: the training share per code; encode target:
                   * the encoding per code fitted on all fit rows */
} prep_feat;

struct hf_prep {
    hf_prep_config cfg;
    size_t n_features, n_outputs;
    prep_feat *f;
    char **names;           /* n_outputs: the columns before PCA */
    unsigned char *cat_out; /* n_outputs: 1 for a native-encoded column; NULL when none is */
    int identity; /* numeric only, no drop, no indicator, no scaling: a copy with NaN imputed */
    int complete; /* the rows it was fitted on had no missing value */
    /* polynomial 2: n_poly products of the n_num numeric design columns from poly_out on */
    size_t n_num, n_poly, poly_out;
    /* target encoding: the mean target of the fit rows (unknown levels), and for the n_fit fit
     * rows (fit_rows, in fit order) their inner fold and cross-fitted encodings (te_fit: n_fit x
     * n_features, the categorical entries used) */
    double te_mean;
    size_t n_fit;
    int64_t *fit_rows;
    int *inner;
    double *te_fit;
    /* PCA (pca_k > 0): design = (z - pca_mean) . pca_comp^T for the n_outputs-wide row z. */
    size_t pca_k;
    double *pca_mean; /* n_outputs */
    double *pca_comp; /* pca_k x n_outputs, row-major */
    double *pca_var;  /* pca_k explained variances */
    char **pca_names; /* pca_k: "pca0", "pca1", ... */
};

/* 1 if some categorical feature of p has encoding k. */
static int any_encoding(const hf_prep *p, hf_encode_kind k)
{
    for (size_t j = 0; j < p->n_features; j++)
        if (p->f[j].categorical && p->f[j].enc == k)
            return 1;
    return 0;
}

/* Rows transformed per block when PCA projects them (bounds the scratch buffer). */
#define PCA_BLOCK_ROWS 256

/* Sum of a[i] * b[i], i < n, in index order. */
static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static const char *const impute_names[] = {"mean", "median", "most_frequent", "constant", "none"};
static const char *const power_names[] = {"none", "yeo-johnson", "box-cox"};
static const char *const encode_names[] = {"onehot", "ordinal", "frequency", "target", "native"};
#define N_ENCODINGS 5
static const char *const scale_names[] = {"none", "standard", "minmax"};

void hf_prep_config_default(hf_prep_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->impute_numeric = HF_IMPUTE_MEAN;
    cfg->impute_categorical = HF_IMPUTE_MOST_FREQUENT;
    cfg->fill_number = 0.0;
    snprintf(cfg->fill_text, sizeof cfg->fill_text, "%s", "missing_value");
    cfg->scale = HF_SCALE_NONE;
    cfg->train_fraction = 1.0;
    cfg->clip_upper = 1.0;
}

#define CMP(x, y) ((x) < (y) ? -1 : (x) > (y) ? 1 : 0)

int hf_prep_config_cmp(const hf_prep_config *a, const hf_prep_config *b)
{
    int c = CMP(a->impute_numeric, b->impute_numeric);
    if (!c)
        c = CMP(a->train_fraction, b->train_fraction);
    if (!c)
        c = CMP(a->impute_categorical, b->impute_categorical);
    if (!c)
        c = CMP(a->fill_given, b->fill_given);
    if (!c && !(isnan(a->fill_number) && isnan(b->fill_number)))
        c = isnan(a->fill_number)   ? -1
            : isnan(b->fill_number) ? 1
                                    : CMP(a->fill_number, b->fill_number);
    if (!c)
        c = strcmp(a->fill_text, b->fill_text);
    if (!c)
        c = CMP(a->indicator, b->indicator);
    if (!c)
        c = CMP(a->scale, b->scale);
    if (!c)
        c = CMP(a->min_frequency, b->min_frequency);
    if (!c)
        c = CMP(a->pca_components, b->pca_components);
    if (!c)
        c = CMP(a->log1p, b->log1p);
    if (!c)
        c = CMP(a->target_log1p, b->target_log1p);
    if (!c)
        c = CMP(a->clip_lower, b->clip_lower);
    if (!c)
        c = CMP(a->clip_upper, b->clip_upper);
    if (!c)
        c = CMP(a->power, b->power);
    if (!c)
        c = CMP(a->kbins, b->kbins);
    if (!c)
        c = CMP(a->polynomial, b->polynomial);
    if (!c)
        c = CMP(a->kbins_onehot, b->kbins_onehot);
    if (!c)
        c = CMP(a->interaction_only, b->interaction_only);
    if (!c)
        c = CMP(a->encode, b->encode);
    if (!c)
        c = CMP(a->max_categories, b->max_categories);
    if (!c)
        c = CMP(a->seed, b->seed);
    if (!c)
        c = strcmp(a->encode_columns, b->encode_columns);
    return c;
}

int hf_prep_config_equal(const hf_prep_config *a, const hf_prep_config *b)
{
    return hf_prep_config_cmp(a, b) == 0;
}

/* ---- the settings table ---------------------------------------------------------------------
 * Every preprocessing setting is one entry: its name under `preprocess:` in the job spec (dotted
 * for nesting: impute.numeric), its type, default and accepted values (hf_param_def: the job-spec
 * binder validates and searches it like a model parameter), and the function that applies a
 * value to a configuration. The values reach apply() already checked against the definition. */

static const char *const k_impute_numeric[] = {"mean",     "median", "most_frequent",
                                               "constant", "none",   NULL};
static const char *const k_impute_categorical[] = {"most_frequent", "constant", NULL};
static const char *const k_scale[] = {"standard", "minmax", "none", NULL};
static const char *const k_categorical[] = {"onehot", "ordinal", "frequency",
                                            "target", "native",  NULL};
static const char *const k_power[] = {"none", "yeo-johnson", "box-cox", NULL};

/* Index of a string value among names (NULL-terminated), or -1. */
static int choice_of(const hf_value *v, const char *const *names)
{
    for (int i = 0; v->type == HF_VAL_STRING && v->u.str && names[i]; i++)
        if (strcmp(v->u.str, names[i]) == 0)
            return i;
    return -1;
}

static void set_impute_numeric(const hf_value *v, hf_prep_config *cfg)
{
    static const hf_impute_kind kinds[] = {HF_IMPUTE_MEAN, HF_IMPUTE_MEDIAN,
                                           HF_IMPUTE_MOST_FREQUENT, HF_IMPUTE_CONSTANT,
                                           HF_IMPUTE_NONE};
    int c = choice_of(v, k_impute_numeric);
    cfg->impute_numeric = c >= 0 ? kinds[c] : HF_IMPUTE_MEAN;
}

static void set_impute_categorical(const hf_value *v, hf_prep_config *cfg)
{
    cfg->impute_categorical =
        choice_of(v, k_impute_categorical) == 1 ? HF_IMPUTE_CONSTANT : HF_IMPUTE_MOST_FREQUENT;
}

static void set_fill_value(const hf_value *v, hf_prep_config *cfg)
{
    char buf[64];
    const char *text = v->type == HF_VAL_STRING ? v->u.str : hf_value_format(v, buf, sizeof buf);
    cfg->fill_given = 1;
    snprintf(cfg->fill_text, sizeof cfg->fill_text, "%s", text ? text : "");
    cfg->fill_number = v->type == HF_VAL_STRING ? NAN : hf_value_as_double(v);
}

static void set_indicator(const hf_value *v, hf_prep_config *cfg)
{
    cfg->indicator = hf_value_as_double(v) != 0.0;
}

static void set_scale(const hf_value *v, hf_prep_config *cfg)
{
    static const hf_scale_kind kinds[] = {HF_SCALE_STANDARD, HF_SCALE_MINMAX, HF_SCALE_NONE};
    int c = choice_of(v, k_scale);
    cfg->scale = c >= 0 ? kinds[c] : HF_SCALE_NONE;
}

static void set_categorical(const hf_value *v, hf_prep_config *cfg)
{
    int c = choice_of(v, k_categorical);
    cfg->encode = c >= 0 ? (hf_encode_kind)c : HF_ENCODE_ONEHOT;
}

static void set_power(const hf_value *v, hf_prep_config *cfg)
{
    int c = choice_of(v, k_power);
    cfg->power = c >= 0 ? (hf_power_kind)c : HF_POWER_NONE;
}

static void set_clip_lower(const hf_value *v, hf_prep_config *cfg)
{
    cfg->clip_lower = hf_value_as_double(v);
}

static void set_clip_upper(const hf_value *v, hf_prep_config *cfg)
{
    cfg->clip_upper = hf_value_as_double(v);
}

static void set_kbins(const hf_value *v, hf_prep_config *cfg)
{
    cfg->kbins = (int64_t)hf_value_as_double(v);
}

static const char *const k_kbins_encode[] = {"ordinal", "onehot", NULL};

static void set_kbins_encode(const hf_value *v, hf_prep_config *cfg)
{
    cfg->kbins_onehot = choice_of(v, k_kbins_encode) == 1;
}

static void set_polynomial(const hf_value *v, hf_prep_config *cfg)
{
    cfg->polynomial = (int64_t)hf_value_as_double(v);
}

static void set_interaction_only(const hf_value *v, hf_prep_config *cfg)
{
    cfg->interaction_only = hf_value_as_double(v) != 0.0;
}

static void set_encode_columns(const hf_value *v, hf_prep_config *cfg)
{
    const char *t = v->type == HF_VAL_STRING && v->u.str ? v->u.str : "";
    /* a longer text is refused by hf_prep_config_from_values (it sees the truncation) */
    snprintf(cfg->encode_columns, sizeof cfg->encode_columns, "%s", t);
    if (strlen(t) >= sizeof cfg->encode_columns)
        cfg->encode_columns[sizeof cfg->encode_columns - 2] = '\x01';
}

static void set_max_categories(const hf_value *v, hf_prep_config *cfg)
{
    cfg->max_categories = (int64_t)hf_value_as_double(v);
}

static void set_min_frequency(const hf_value *v, hf_prep_config *cfg)
{
    cfg->min_frequency = (int64_t)hf_value_as_double(v);
}

static void set_pca_components(const hf_value *v, hf_prep_config *cfg)
{
    cfg->pca_components = (int64_t)hf_value_as_double(v);
}

static void set_log1p(const hf_value *v, hf_prep_config *cfg)
{
    cfg->log1p = hf_value_as_double(v) != 0.0;
}

static void set_train_fraction(const hf_value *v, hf_prep_config *cfg)
{
    cfg->train_fraction = hf_value_as_double(v);
}

static const char *const k_target_transforms[] = {"none", "log1p", NULL};

static void set_target_transform(const hf_value *v, hf_prep_config *cfg)
{
    cfg->target_log1p = choice_of(v, k_target_transforms) == 1;
}

int hf_prep_target_forward(const hf_prep_config *cfg, double *y, size_t n)
{
    if (!cfg->target_log1p)
        return HF_OK;
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] > -1.0))
            return hf_error(HF_EDATA,
                            "preprocess.target_transform: log1p of the target value %g, expected "
                            "values > -1",
                            y[i]);
        y[i] = log1p(y[i]);
    }
    return HF_OK;
}

void hf_prep_target_inverse(const hf_prep_config *cfg, double *pred, size_t n)
{
    if (!cfg->target_log1p)
        return;
    for (size_t i = 0; i < n; i++)
        pred[i] = expm1(pred[i]);
}

/* preprocess.log1p of one numeric value: log(1 + x), computed without cancellation for small x,
 * as numpy's log1p (scikit-learn's FunctionTransformer(np.log1p)). log1p is defined above -1:
 * a value at or below it becomes missing, to be imputed like any other missing value (numpy
 * gives -inf at -1 and NaN below, which scikit-learn's imputer then takes as missing for NaN and
 * refuses for -inf). */
static double log1p_value(double x)
{
    return x > -1.0 ? log1p(x) : NAN;
}

int hf_prep_encode_columns_next(const char **pos, char *name, size_t name_len, int *truncated,
                                hf_encode_kind *kind)
{
    const char *s = *pos;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (!*s) {
        *pos = s;
        return 0;
    }
    size_t len = strcspn(s, ","); /* the pair: up to the next comma */
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ':')
            colon = s + i;
    const char *ne = colon ? colon : s;
    while (ne > s && (ne[-1] == ' ' || ne[-1] == '\t'))
        ne--;
    const char *es = colon ? colon + 1 : s + len, *ee = s + len;
    while (es < ee && (*es == ' ' || *es == '\t'))
        es++;
    while (ee > es && (ee[-1] == ' ' || ee[-1] == '\t'))
        ee--;
    int k = -1;
    for (int i = 0; k < 0 && i < N_ENCODINGS; i++)
        if ((size_t)(ee - es) == strlen(encode_names[i]) &&
            strncmp(es, encode_names[i], (size_t)(ee - es)) == 0)
            k = i;
    if (ne == s || k < 0) {
        hf_error(HF_EINVAL,
                 "preprocess.encode_columns: got \"%.*s\", expected COLUMN:ENCODING with an "
                 "encoding onehot, ordinal, frequency, target or native",
                 (int)len, s);
        return -1;
    }
    size_t nl = (size_t)(ne - s);
    *truncated = nl >= name_len;
    if (name_len > 0) {
        size_t c = nl < name_len ? nl : name_len - 1;
        memcpy(name, s, c);
        name[c] = '\0';
    }
    *kind = (hf_encode_kind)k;
    *pos = s + len;
    return 1;
}

/* The encoding of the categorical column `column` under cfg: encode_columns' entry, else
 * `categorical`. */
static hf_encode_kind column_encoding(const hf_prep_config *cfg, const char *column)
{
    const char *pos = cfg->encode_columns;
    char name[256];
    int truncated = 0;
    hf_encode_kind kind, found = cfg->encode;
    while (hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind) > 0)
        if (!truncated && strcmp(name, column) == 0)
            found = kind;
    return found;
}

int hf_prep_encode_columns_check(const char *text, const hf_schema *schema, int *any_target)
{
    const char *pos = text;
    char name[256];
    int truncated = 0, r;
    hf_encode_kind kind;
    while ((r = hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind)) > 0) {
        size_t col = schema->n_features;
        for (size_t j = 0; j < schema->n_features && col == schema->n_features; j++)
            if (!truncated && schema->features[j].type == HF_COL_CATEGORICAL &&
                strcmp(schema->features[j].name, name) == 0)
                col = j;
        if (col == schema->n_features)
            return hf_error(HF_EINVAL,
                            "preprocess.encode_columns: got the column \"%s%s\", expected a "
                            "categorical feature of the data",
                            name, truncated ? "..." : "");
        /* A column named twice would leave which encoding wins to the reader's order. */
        const char *again = pos;
        char other[256];
        int t2 = 0;
        hf_encode_kind k2;
        while (hf_prep_encode_columns_next(&again, other, sizeof other, &t2, &k2) > 0)
            if (!t2 && strcmp(other, name) == 0)
                return hf_error(HF_EINVAL,
                                "preprocess.encode_columns: got the column \"%s\" twice, "
                                "expected each column once",
                                name);
        hf_error_clear();
        if (any_target && kind == HF_ENCODE_TARGET)
            *any_target = 1;
    }
    return r < 0 ? HF_EINVAL : HF_OK;
}

/* Every column named by encode_columns is a categorical feature of the schema. */
static int check_encode_columns(const hf_prep_config *cfg, const hf_schema *schema)
{
    return hf_prep_encode_columns_check(cfg->encode_columns, schema, NULL);
}

typedef struct prep_setting {
    hf_param_def def;
    void (*apply)(const hf_value *v, hf_prep_config *cfg);
} prep_setting;

static const prep_setting k_settings[] = {
    {HF_PARAM_CHOICE("impute.numeric", "mean", k_impute_numeric,
                     "numeric imputation: mean, median, most_frequent or constant (SimpleImputer "
                     "strategy), or none for a model that takes missing values (the default for "
                     "xgboost and random_forest)"),
     set_impute_numeric},
    {HF_PARAM_CHOICE("impute.categorical", "most_frequent", k_impute_categorical,
                     "categorical imputation: most_frequent or constant"),
     set_impute_categorical},
    {{"impute.fill_value", HF_VAL_NUMBER, NULL, -INFINITY, INFINITY, 0, NULL,
      "the constant of constant imputation: a number (numeric columns) or a text (categorical)",
      HF_PARAM_NUMBER_OR_TEXT},
     set_fill_value},
    {HF_PARAM_BOOL("impute.indicator", "false",
                   "add a missing-value indicator column per feature that had missing training "
                   "values"),
     set_indicator},
    {HF_PARAM_CHOICE("scale", "none", k_scale,
                     "numeric scaling: standard (StandardScaler), minmax (MinMaxScaler) or none"),
     set_scale},
    {HF_PARAM_CHOICE("categorical", "onehot", k_categorical,
                     "categorical encoding: onehot (OneHotEncoder(handle_unknown=\"ignore\")), "
                     "ordinal (the level's rank in sorted order, unknown -1) or frequency (the "
                     "level's share of the training rows, unknown 0) or target (the level's "
                     "mean target shrunk towards the overall mean, cross-fitted on 5 inner folds "
                     "of the training rows: TargetEncoder; regression and binary targets) or "
                     "native (the ordinal code as one categorical feature, missing and unknown "
                     "levels missing: xgboost and random_forest's categorical splits)"),
     set_categorical},
    {{"encode_columns", HF_VAL_STRING, "", 0, 0, 0, NULL,
      "per-column encodings overriding categorical: \"city:target, zip:frequency\" (each "
      "COLUMN:ENCODING, encodings as for categorical)",
      0},
     set_encode_columns},
    {HF_PARAM_INT("max_categories", "0", 0, INFINITY,
                  "one-hot: at most this many columns per categorical column, the rarest levels "
                  "pooled in the infrequent column (OneHotEncoder max_categories; 0 = off)"),
     set_max_categories},
    {HF_PARAM_NUMBER(
         "clip.lower", "0", 0, 1, 0,
         "clip every measured numeric column below this quantile of its training values "
         "(numpy.quantile, linear; 0 = off)"),
     set_clip_lower},
    {HF_PARAM_NUMBER(
         "clip.upper", "1", 0, 1, 0,
         "clip every measured numeric column above this quantile of its training values "
         "(1 = off)"),
     set_clip_upper},
    {HF_PARAM_CHOICE("power", "none", k_power,
                     "power transform of every measured numeric column (not a date's parts), "
                     "lambda by maximum likelihood on "
                     "the training rows, then standardised (PowerTransformer): yeo-johnson, "
                     "box-cox (positive values only) or none"),
     set_power},
    {HF_PARAM_INT("kbins", "0", 0, 1000000,
                  "quantile bins of every measured numeric column, written as the bin index "
                  "(KBinsDiscretizer(strategy=\"quantile\", encode=\"ordinal\")); 0 = off, "
                  "else at least 2"),
     set_kbins},
    {HF_PARAM_CHOICE("kbins_encode", "ordinal", k_kbins_encode,
                     "with kbins: ordinal (the bin index, scaled like any numeric value) or onehot "
                     "(one 0/1 column per bin, \"x=bin0\", not scaled: "
                     "KBinsDiscretizer(encode=\"onehot-dense\"))"),
     set_kbins_encode},
    {HF_PARAM_INT("polynomial", "0", 0, 2,
                  "2: append the degree-2 products of the numeric design columns "
                  "(PolynomialFeatures(2, include_bias=False)); 0 = off"),
     set_polynomial},
    {HF_PARAM_BOOL("interaction_only", "false",
                   "with polynomial 2: only the products of two different columns, no squares"),
     set_interaction_only},
    {HF_PARAM_INT("min_frequency", "0", 0, INFINITY,
                  "one-hot: categories seen fewer times in training share one infrequent column "
                  "(0 = off)"),
     set_min_frequency},
    {HF_PARAM_INT("pca.n_components", "0", 0, INFINITY,
                  "project the design matrix on its top principal components (0 = no PCA)"),
     set_pca_components},
    {HF_PARAM_BOOL("log1p", "false",
                   "log(1 + x) of every measured numeric column (not a date's parts) before "
                   "imputation (values <= -1 become "
                   "missing)"),
     set_log1p},
    {HF_PARAM_NUMBER("train_fraction", "1", 0, 1, 1,
                     "the fraction of each split's training rows the pipeline and the model are "
                     "fitted on in cross-validation (a seeded subsample, the same for every "
                     "trial; validation rows whole; the refit uses every row): the budget "
                     "search.strategy hyperband and asha give ridge, kernel_ridge and elastic "
                     "models without their own (default 1)"),
     set_train_fraction},
    {HF_PARAM_CHOICE("target_transform", "none", k_target_transforms,
                     "regression: log1p fits the model on log(1 + y) and maps its predictions "
                     "back with exp(p) - 1, so scores and predictions stay on the target's scale "
                     "(TransformedTargetRegressor); the target must be > -1"),
     set_target_transform},
};

#define N_SETTINGS (sizeof k_settings / sizeof k_settings[0])

size_t hf_prep_n_params(void)
{
    return N_SETTINGS;
}

const hf_param_def *hf_prep_param(size_t i)
{
    return i < N_SETTINGS ? &k_settings[i].def : NULL;
}

/* The key that asks for native encoding in cfg ("categorical" or "encode_columns"), or NULL. */
static const char *native_key(const hf_prep_config *cfg)
{
    if (cfg->encode == HF_ENCODE_NATIVE)
        return "categorical";
    const char *pos = cfg->encode_columns;
    char name[256];
    int truncated = 0, r;
    hf_encode_kind kind;
    while ((r = hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind)) > 0)
        if (kind == HF_ENCODE_NATIVE)
            return "encode_columns";
    if (r < 0)
        hf_error_clear(); /* a malformed text is refused where it is read */
    return NULL;
}

int hf_prep_model_check(const hf_prep_config *cfg, const hf_model_ops *model, const char **key)
{
    const char *k = native_key(cfg);
    if (key)
        *key = k;
    if (!k || !model || model->native_categorical)
        return HF_OK;
    char takers[256] = "";
    size_t len = 0;
    for (const hf_model_ops *const *m = hf_model_all(); *m; m++)
        if ((*m)->native_categorical && len < sizeof takers)
            len += (size_t)snprintf(takers + len, sizeof takers - len, "%s%s", len ? ", " : "",
                                    (*m)->name);
    return hf_error(HF_EINVAL,
                    "preprocess.%s: got native with model.type %s, which takes no categorical "
                    "features; expected onehot, ordinal, frequency or target (native: %s)",
                    k, model->name, takers);
}

int hf_prep_config_from_values(const hf_value *const *values, const hf_opt_source *src,
                               hf_prep_config *cfg)
{
    char at[512];
    hf_prep_config_default(cfg);
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (values[i] && values[i]->type != HF_VAL_NONE)
            k_settings[i].apply(values[i], cfg);
    if (cfg->fill_given && strlen(cfg->fill_text) >= HF_PREP_FILL_MAX - 1)
        return hf_error(HF_EINVAL,
                        "%s: preprocess.impute.fill_value: got a %zu-byte value, "
                        "expected at most %d bytes",
                        hf_opt_where(src, "preprocess.impute.fill_value", at, sizeof at),
                        strlen(cfg->fill_text), HF_PREP_FILL_MAX - 2);
    if (cfg->impute_numeric == HF_IMPUTE_NONE && cfg->pca_components > 0)
        return hf_error(HF_EINVAL,
                        "%s: preprocess.pca.n_components: got %lld with preprocess.impute.numeric "
                        "none, expected imputed columns (PCA cannot take missing values)",
                        hf_opt_where(src, "preprocess.pca.n_components", at, sizeof at),
                        (long long)cfg->pca_components);
    if (cfg->clip_lower >= cfg->clip_upper)
        return hf_error(HF_EINVAL,
                        "%s: preprocess.clip.lower: got %g with clip.upper %g, expected a lower "
                        "quantile below the upper one",
                        hf_opt_where(src, "preprocess.clip.lower", at, sizeof at), cfg->clip_lower,
                        cfg->clip_upper);
    if (strlen(cfg->encode_columns) >= HF_PREP_COLUMNS_MAX - 1)
        return hf_error(HF_EINVAL,
                        "%s: preprocess.encode_columns: got a longer text, expected at "
                        "most %d bytes",
                        hf_opt_where(src, "preprocess.encode_columns", at, sizeof at),
                        HF_PREP_COLUMNS_MAX - 2);
    {
        const char *pos = cfg->encode_columns;
        char name[256];
        int truncated = 0, r;
        hf_encode_kind kind;
        while ((r = hf_prep_encode_columns_next(&pos, name, sizeof name, &truncated, &kind)) > 0)
            ;
        if (r < 0)
            return hf_error_prefix(HF_EINVAL, "%s",
                                   hf_opt_where(src, "preprocess.encode_columns", at, sizeof at));
    }
    const char *nk = native_key(cfg);
    if (nk && cfg->pca_components > 0) {
        char name[64];
        snprintf(name, sizeof name, "preprocess.%s", nk);
        return hf_error(HF_EINVAL,
                        "%s: preprocess.%s: got native with preprocess.pca.n_components %lld, "
                        "expected onehot, ordinal, frequency or target (PCA mixes the columns, a "
                        "category code is no coordinate)",
                        hf_opt_where(src, name, at, sizeof at), nk, (long long)cfg->pca_components);
    }
    if (cfg->kbins == 1)
        return hf_error(HF_EINVAL,
                        "%s: preprocess.kbins: got 1, expected 0 (off) or at least 2 bins",
                        hf_opt_where(src, "preprocess.kbins", at, sizeof at));
    if (cfg->polynomial == 1)
        return hf_error(HF_EINVAL, "%s: preprocess.polynomial: got 1, expected 0 (off) or 2",
                        hf_opt_where(src, "preprocess.polynomial", at, sizeof at));
    if (cfg->impute_numeric == HF_IMPUTE_CONSTANT && cfg->fill_given && isnan(cfg->fill_number))
        return hf_error(HF_EINVAL,
                        "%s: preprocess.impute.fill_value: got \"%s\", expected a number with "
                        "preprocess.impute.numeric constant",
                        hf_opt_where(src, "preprocess.impute.fill_value", at, sizeof at),
                        cfg->fill_text);
    return HF_OK;
}

void hf_prep_free(hf_prep *p)
{
    if (!p)
        return;
    if (p->f)
        for (size_t j = 0; j < p->n_features; j++) {
            free(p->f[j].slot);
            free(p->f[j].edges);
            free(p->f[j].freq);
        }
    hf_strv_free(p->names, p->n_outputs);
    free(p->cat_out);
    hf_strv_free(p->pca_names, p->pca_k);
    free(p->fit_rows);
    free(p->inner);
    free(p->te_fit);
    free(p->pca_mean);
    free(p->pca_comp);
    free(p->pca_var);
    free(p->f);
    free(p);
}

size_t hf_prep_n_outputs(const hf_prep *p)
{
    return p->pca_k > 0 ? p->pca_k : p->n_outputs;
}

const unsigned char *hf_prep_output_categorical(const hf_prep *p)
{
    return p->pca_k > 0 ? NULL : p->cat_out;
}

const char *const *hf_prep_output_names(const hf_prep *p)
{
    return (const char *const *)(p->pca_k > 0 ? p->pca_names : p->names);
}

size_t hf_prep_pca(const hf_prep *p, size_t *q, const double **mean, const double **components,
                   const double **variance)
{
    if (q)
        *q = p->n_outputs;
    if (mean)
        *mean = p->pca_mean;
    if (components)
        *components = p->pca_comp;
    if (variance)
        *variance = p->pca_var;
    return p->pca_k;
}

const hf_prep_config *hf_prep_get_config(const hf_prep *p)
{
    return &p->cfg;
}

int hf_prep_feature_stats(const hf_prep *p, size_t j, double *impute, double *center, double *scale)
{
    if (j >= p->n_features)
        return hf_error(HF_EINVAL, "preprocess: feature %zu, expected fewer than %zu", j,
                        p->n_features);
    *impute = p->f[j].dropped ? NAN : p->f[j].impute;
    *center = p->f[j].center;
    *scale = p->f[j].scale;
    return 0;
}

/* Code of a categorical value: 0..n_codes-2 for dictionary codes, -1 for unknown ones. */
static long cat_code(double x, size_t n_categories)
{
    if (!(x >= 0) || x >= (double)n_categories || x != floor(x))
        return -1;
    return (long)x;
}

/* Category text of code c of column col (the last code is the constant fill category). */
static const char *code_name(const hf_prep *p, const hf_column *col, size_t c)
{
    if (c < col->n_categories)
        return col->categories[c];
    return p->cfg.fill_text;
}

typedef struct code_sort {
    const char *name;
    size_t code;
} code_sort;

static int cmp_code_sort(const void *a, const void *b)
{
    return strcmp(((const code_sort *)a)->name, ((const code_sort *)b)->name);
}

typedef struct count_pos {
    size_t count, pos;
} count_pos;

static int cmp_count_pos(const void *a, const void *b)
{
    const count_pos *x = a, *y = b;
    return x->count != y->count ? (x->count > y->count) - (x->count < y->count)
                                : (x->pos > y->pos) - (x->pos < y->pos);
}

/* kbins_encode onehot: the number of bin columns of a numeric feature (0: one value column). */
static size_t bin_width(const hf_prep *p, const prep_feat *f)
{
    return p->cfg.kbins_onehot && !f->categorical && f->n_edges >= 2 ? f->n_edges - 1 : 0;
}

/* Lays out the outputs (offsets) and builds their names; needs f[].width/dropped/indicator and,
 * for categorical columns, slot/unknown. */
static int build_layout(hf_prep *p, const hf_schema *schema)
{
    int result = 0;
    size_t o = 0;
    for (size_t j = 0; j < p->n_features; j++)
        if (!p->f[j].categorical && !p->f[j].dropped) {
            size_t bw = bin_width(p, &p->f[j]);
            p->f[j].out = o;
            o += bw ? bw : 1;
        }
    p->n_num = o;
    p->n_poly = 0;
    p->poly_out = o;
    if (p->cfg.polynomial == 2)
        p->n_poly = p->cfg.interaction_only ? o * (o ? o - 1 : 0) / 2 : o * (o + 1) / 2;
    o += p->n_poly;
    for (size_t j = 0; j < p->n_features; j++)
        if (p->f[j].categorical && !p->f[j].dropped) {
            p->f[j].out = o;
            o += p->f[j].width;
        }
    for (size_t j = 0; j < p->n_features; j++)
        if (p->f[j].indicator)
            p->f[j].ind_out = o++;
    p->n_outputs = o;
    p->names = hf_calloc(o ? o : 1, sizeof *p->names);
    if (!p->names)
        return HF_ENOMEM;
    free(p->cat_out);
    p->cat_out = NULL;
    if (any_encoding(p, HF_ENCODE_NATIVE)) {
        if (!(p->cat_out = hf_calloc(o ? o : 1, 1)))
            return HF_ENOMEM;
        for (size_t j = 0; j < p->n_features; j++)
            if (p->f[j].categorical && !p->f[j].dropped && p->f[j].enc == HF_ENCODE_NATIVE)
                p->cat_out[p->f[j].out] = 1;
    }
    /* Names; an allocation failure leaves a NULL (the allocator recorded the error). */
    int oom = 0;
    for (size_t j = 0; j < p->n_features; j++) {
        const prep_feat *f = &p->f[j];
        const hf_column *col = &schema->features[j];
        if (f->indicator) {
            p->names[f->ind_out] = hf_asprintf("missing(%s)", col->name);
            oom |= !p->names[f->ind_out];
        }
        if (f->dropped)
            continue;
        if (!f->categorical && bin_width(p, f)) {
            for (size_t k = 0; k < bin_width(p, f); k++) {
                p->names[f->out + k] = hf_asprintf("%s=bin%zu", col->name, k);
                oom |= !p->names[f->out + k];
            }
            continue;
        }
        if (!f->categorical) {
            p->names[f->out] = hf_strdup(col->name);
            oom |= !p->names[f->out];
            continue;
        }
        if (f->enc != HF_ENCODE_ONEHOT) {
            p->names[f->out] = hf_strdup(col->name);
            oom |= !p->names[f->out];
            continue;
        }
        for (size_t c = 0; c < f->n_codes; c++) {
            int32_t s = f->slot[c];
            if (s < 0 || s == f->unknown || p->names[f->out + (size_t)s])
                continue;
            p->names[f->out + (size_t)s] = hf_asprintf("%s=%s", col->name, code_name(p, col, c));
            oom |= !p->names[f->out + (size_t)s];
        }
        if (f->unknown >= 0) {
            p->names[f->out + (size_t)f->unknown] = hf_asprintf("%s=infrequent", col->name);
            oom |= !p->names[f->out + (size_t)f->unknown];
        }
    }
    if (!oom && p->n_poly > 0) {
        /* PolynomialFeatures' order: (0,0), (0,1), ..., (1,1), ... (no (i,i) with
         * interaction_only); names "a^2" and "a*b" */
        size_t at = p->poly_out;
        for (size_t a = 0; a < p->n_num && !oom; a++)
            for (size_t b = p->cfg.interaction_only ? a + 1 : a; b < p->n_num; b++) {
                p->names[at] = a == b ? hf_asprintf("%s^2", p->names[a])
                                      : hf_asprintf("%s*%s", p->names[a], p->names[b]);
                oom |= !p->names[at++];
            }
    }
    if (oom) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < o; i++)
        if (!p->names[i]) {
            result = hf_error(HF_EINTERNAL, "preprocess: output column %zu has no name", i);
            goto out;
        }
    int identity = p->cfg.scale == HF_SCALE_NONE && !p->cfg.log1p && p->n_poly == 0;
    for (size_t j = 0; j < p->n_features; j++)
        if (p->f[j].categorical || p->f[j].dropped || p->f[j].indicator || p->f[j].steps ||
            p->f[j].out != j)
            identity = 0;
    p->identity = identity && o == p->n_features;
out:
    return result;
}

/* Statistic of the sorted non-missing values v[0..m) (m > 0) for median / most_frequent. */
static double sorted_stat(const double *v, size_t m, hf_impute_kind kind)
{
    if (kind == HF_IMPUTE_MEDIAN)
        return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2.0;
    double best = v[0];
    size_t best_n = 0;
    for (size_t i = 0; i < m;) {
        size_t k = i;
        while (k < m && v[k] == v[i])
            k++;
        if (k - i > best_n) { /* strictly more: ties keep the smaller value */
            best_n = k - i;
            best = v[i];
        }
        i = k;
    }
    return best;
}

/* Fits the categorical block of feature j from its code counts (count[c] over n_codes, missing
 * already added to the imputed code). */
static int fit_onehot(hf_prep *p, const hf_column *col, prep_feat *f, const size_t *count)
{
    int result = 0;
    code_sort *cs = hf_malloc(f->n_codes * sizeof *cs);
    f->slot = hf_malloc(f->n_codes * sizeof *f->slot);
    if (!cs || !f->slot) {
        result = HF_ENOMEM;
        goto out;
    }
    f->unknown = -1;
    if (f->enc != HF_ENCODE_ONEHOT) {
        /* ordinal: the rank of the level among the training levels in sorted order (-1:
         * unknown); frequency: its share of the training rows (unknown: 0) */
        size_t n_present = 0, total = 0;
        for (size_t c = 0; c < f->n_codes; c++) {
            f->slot[c] = -1;
            total += count[c];
            if (count[c] > 0) {
                cs[n_present].name = code_name(p, col, c);
                cs[n_present++].code = c;
            }
        }
        qsort(cs, n_present, sizeof *cs, cmp_code_sort);
        for (size_t i = 0; i < n_present; i++)
            f->slot[cs[i].code] = (int32_t)i;
        f->width = 1;
        if (f->enc == HF_ENCODE_FREQUENCY) {
            if (!(f->freq = hf_calloc(f->n_codes, sizeof *f->freq))) {
                result = HF_ENOMEM;
                goto out;
            }
            for (size_t c = 0; c < f->n_codes; c++)
                f->freq[c] = total ? (double)count[c] / (double)total : 0.0;
        }
        goto out;
    }
    /* The levels present, in sorted order: OneHotEncoder's categories_ */
    size_t n_present = 0;
    for (size_t c = 0; c < f->n_codes; c++) {
        f->slot[c] = -1;
        if (count[c] > 0) {
            cs[n_present].name = code_name(p, col, c);
            cs[n_present++].code = c;
        }
    }
    qsort(cs, n_present, sizeof *cs, cmp_code_sort);
    /* Infrequent levels, as scikit-learn 1.2's _identify_infrequent: count < min_frequency;
     * then, when max_categories < (frequent levels + 1), the levels before the last
     * max_categories - 1 of a stable ascending sort by count (so ties keep the later level) */
    char *infreq = hf_calloc(n_present ? n_present : 1, 1);
    count_pos *order = hf_malloc((n_present ? n_present : 1) * sizeof *order);
    if (!infreq || !order) {
        free(infreq);
        free(order);
        result = HF_ENOMEM;
        goto out;
    }
    size_t n_infreq = 0;
    for (size_t i = 0; i < n_present; i++)
        if ((int64_t)count[cs[i].code] < p->cfg.min_frequency) {
            infreq[i] = 1;
            n_infreq++;
        }
    int64_t mc = p->cfg.max_categories;
    if (mc > 0 && mc < (int64_t)(n_present - n_infreq + 1) && mc >= 2) {
        /* np.argsort(count, kind="mergesort"): by count, ties by position */
        for (size_t i = 0; i < n_present; i++) {
            order[i].count = count[cs[i].code];
            order[i].pos = i;
        }
        qsort(order, n_present, sizeof *order, cmp_count_pos);
        for (size_t i = 0; i + (size_t)(mc - 1) < n_present; i++)
            infreq[order[i].pos] = 1;
        n_infreq = 0;
        for (size_t i = 0; i < n_present; i++)
            n_infreq += infreq[i];
    }
    size_t n_freq = 0;
    for (size_t i = 0; i < n_present; i++)
        if (!infreq[i])
            f->slot[cs[i].code] = (int32_t)n_freq++;
    if (n_infreq > 0) {
        f->unknown = (int32_t)n_freq;
        for (size_t i = 0; i < n_present; i++)
            if (infreq[i])
                f->slot[cs[i].code] = f->unknown;
    }
    free(infreq);
    free(order);
    f->width = n_freq + (n_infreq > 0);
out:
    free(cs);
    return result;
}

static void base_transform(const hf_prep *p, const double *X, const int64_t *rows, size_t n,
                           double *out);
static void put_fit_encodings(const hf_prep *p, size_t i0, size_t m, size_t q, double *out);

/* Allocates the PCA arrays and names of p for k components of q-wide rows (pca_k = k). */
static int pca_alloc(hf_prep *p, size_t k, size_t q)
{
    p->pca_mean = hf_calloc(q ? q : 1, sizeof *p->pca_mean);
    p->pca_comp = hf_calloc(k * q > 0 ? k * q : 1, sizeof *p->pca_comp);
    p->pca_var = hf_calloc(k ? k : 1, sizeof *p->pca_var);
    p->pca_names = hf_calloc(k ? k : 1, sizeof *p->pca_names);
    if (!p->pca_mean || !p->pca_comp || !p->pca_var || !p->pca_names)
        return HF_ENOMEM;
    p->pca_k = k;
    for (size_t j = 0; j < k; j++) {
        p->pca_names[j] = hf_asprintf("pca%zu", j);
        if (!p->pca_names[j])
            return HF_ENOMEM;
    }
    return 0;
}

/* Fits the PCA step on the n training rows: centre their design rows Z (n x q), C = Zc^T Zc /
 * (n - 1), top-k eigenpairs of C. With a group of several ranks, each group rank forms
 * the Gram matrix of its row slice [r n / G, (r + 1) n / G) and the slices are summed
 * (hf_dist_gram), then PDSYEVD runs on the group's grid (hf_dist_eigh_topk): collective. Signs
 * follow scikit-learn 1.2's svd_flip on U: the largest-|value| entry (the first on ties) of each
 * column of Zc . v over the training rows is positive, so transform() of the training rows equals
 * sklearn's PCA.fit(Z).transform(Z).
 *
 * shard (parallel.data_parallel; then g is NULL): rows[0..n) are this group rank's share of the
 * n_all training rows. The column sums and the cross-product Zc^T Zc of the shares are added over
 * the group in group-rank order (hf_dist_sum: the same bits on every rank; equal to the single
 * copy up to the order of the additions), the eigenpairs come from the group's grid, and the
 * sign's largest-|value| entry is the first of the largest over the shares in row order.
 * Collective over shard. */
static int pca_fit(hf_prep *p, const double *X, const int64_t *rows, size_t n, size_t n_all,
                   const hf_group *g, const hf_group *shard)
{
    int result = 0;
    size_t q = p->n_outputs;
    int64_t want = p->cfg.pca_components;
    double *Z = NULL, *C = NULL, *best_v = NULL;
    if (want > (int64_t)q || want > (int64_t)n_all) {
        int cols = want > (int64_t)q;
        result = hf_error(HF_EINVAL,
                          "preprocess.pca.n_components: got %lld, expected at most %zu (the %s)",
                          (long long)want, cols ? q : n_all,
                          cols ? "design-matrix columns after impute/scale/one-hot"
                               : "training rows of this split");
        goto out;
    }
    size_t k = (size_t)want;
    Z = hf_malloc((n ? n : 1) * q * sizeof *Z);
    C = hf_malloc(q * q * sizeof *C);
    best_v = hf_malloc(2 * (k ? k : 1) * sizeof *best_v);
    result = Z && C && best_v ? pca_alloc(p, k, q) : HF_ENOMEM;
    if (shard)
        result = hf_dist_agree(shard, result);
    if (result < 0)
        goto out;
    base_transform(p, X, rows, n, Z);
    put_fit_encodings(p, 0, n, q, Z);
    double *mean = p->pca_mean;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            mean[j] += Z[i * q + j];
    if (shard && (result = hf_dist_sum(shard, mean, q)) < 0)
        goto out;
    for (size_t j = 0; j < q; j++)
        mean[j] /= (double)n_all;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            Z[i * q + j] -= mean[j];
    const hf_group *use = hf_dist_is_parallel(g) ? g : NULL;
    size_t lo = 0, hi = n;
    if (use) {
        size_t size = (size_t)hf_group_grid(use)->size, r = (size_t)hf_group_grid(use)->rank;
        lo = r * n / size;
        hi = (r + 1) * n / size;
    }
    if (shard) {
        /* this share's cross-product, then the fixed-order sum over the group */
        use = shard;
        result = hf_dist_gram(NULL, Z, n, q, NULL, C, NULL);
        if (result >= 0)
            result = hf_dist_sum(shard, C, q * q);
    } else {
        result = hf_dist_gram(use, Z + lo * q, hi - lo, q, NULL, C, NULL);
    }
    if (result < 0)
        goto out;
    if (n_all > 1)
        for (size_t i = 0; i < q * q; i++)
            C[i] /= (double)(n_all - 1);
    result = hf_dist_eigh_topk(use, C, q, k, p->pca_var, p->pca_comp);
    if (result < 0) {
        hf_error_prefix(result, "preprocess.pca: covariance of %zu columns", q);
        goto out;
    }
    for (size_t j = 0; j < k; j++) {
        double *v = p->pca_comp + j * q, best = 0.0, best_abs = -1.0;
        for (size_t i = 0; i < n; i++) {
            double t = dot(Z + i * q, v, q);
            if (fabs(t) > best_abs) {
                best_abs = fabs(t);
                best = t;
            }
        }
        best_v[2 * j] = best_abs;
        best_v[2 * j + 1] = best;
    }
    if (shard) {
        /* every share's (largest |t|, t) per component, in group-rank order = row order */
        double *all = NULL;
        size_t n_got = 0;
        if ((result = hf_dist_gather(shard, best_v, 2 * k, &all, &n_got)) < 0)
            goto out;
        for (size_t j = 0; j < k; j++) {
            double best_abs = -1.0;
            for (size_t r = 0; r + 2 * k <= n_got; r += 2 * k)
                if (all[r + 2 * j] > best_abs) {
                    best_abs = all[r + 2 * j];
                    best_v[2 * j + 1] = all[r + 2 * j + 1];
                }
        }
        free(all);
    }
    for (size_t j = 0; j < k; j++) {
        double *v = p->pca_comp + j * q;
        if (best_v[2 * j + 1] < 0)
            for (size_t i = 0; i < q; i++)
                v[i] = -v[i];
    }
out:
    free(Z);
    free(C);
    free(best_v);
    return result;
}

/* sum += the row's values, nan_count += 1 for each NaN (which adds 0 to sum). */
static void sum_row(const double *restrict x, size_t p, double *restrict sum,
                    double *restrict nan_count)
{
    for (size_t j = 0; j < p; j++) {
        const double v = x[j];
        const int ok = v == v;
        sum[j] += ok ? v : 0.0;
        nan_count[j] += ok ? 0.0 : 1.0;
    }
}

/* Row i of the training rows: rows[i] of X, or row i when rows is NULL. */
static const double *train_row(const double *X, const int64_t *rows, size_t i, size_t p_in)
{
    return X + (size_t)(rows ? rows[i] : (int64_t)i) * p_in;
}

/* What the first pass over the training rows counts, per feature. */
typedef struct fit_counts {
    size_t *missing;
    size_t **counts; /* categorical: per code */
    double *sum;     /* numeric: of the present values */
} fit_counts;

static void fit_counts_free(fit_counts *c, size_t p_in)
{
    for (size_t j = 0; c->counts && j < p_in; j++)
        free(c->counts[j]);
    free(c->counts);
    free(c->missing);
    free(c->sum);
}

/* The columns preprocess.log1p and the numeric steps (clip, power, kbins) apply to: the measured
 * numeric columns. A boolean column (0/1) and the derived parts of a datetime column
 * (hf_column.source: year, month, day, dayofweek, hour, elapsed_days) pass through them unchanged,
 * as a ColumnTransformer that selects the measured columns for those steps (docs/preprocessing.md,
 * "Date and time columns"): a part such as dayofweek (0 on Mondays) or hour (0 for a date) is a
 * calendar code, not a measurement to reshape, and Box-Cox could not take its zeros. Imputation,
 * scaling, missing indicators and polynomial features apply to them as to any numeric column. */
static int measured_numeric(const hf_column *col)
{
    return col->type == HF_COL_NUMERIC && !col->source;
}

/* The features' kinds, then pass 1: missing counts, sums, category counts. Without categorical
 * columns the inner loop has no branch (a NaN adds 0 to the sum and 1 to the count) and
 * vectorises: this file is compiled with -fno-trapping-math, without which a comparison with NaN
 * is not if-converted. */
static int count_pass(hf_prep *p, const hf_schema *schema, const double *X, const int64_t *rows,
                      size_t n, fit_counts *c)
{
    size_t p_in = p->n_features;
    int any_categorical = 0;
    c->missing = hf_calloc(p_in ? p_in : 1, sizeof *c->missing);
    c->counts = hf_calloc(p_in ? p_in : 1, sizeof *c->counts);
    c->sum = hf_calloc(p_in ? p_in : 1, sizeof *c->sum);
    if (!c->missing || !c->counts || !c->sum)
        return HF_ENOMEM;
    for (size_t j = 0; j < p_in; j++) {
        prep_feat *f = &p->f[j];
        f->categorical = schema->features[j].type == HF_COL_CATEGORICAL;
        f->log1p = p->cfg.log1p && measured_numeric(&schema->features[j]);
        f->center = 0.0;
        f->scale = 1.0;
        f->unknown = -1;
        if (f->categorical) {
            f->enc = column_encoding(&p->cfg, schema->features[j].name);
            f->n_codes = schema->features[j].n_categories + 1;
            if (!(c->counts[j] = hf_calloc(f->n_codes, sizeof **c->counts)))
                return HF_ENOMEM;
            any_categorical = 1;
        }
    }
    if (!any_categorical) {
        double *nan_count = hf_calloc(p_in ? p_in : 1, sizeof *nan_count);
        if (!nan_count)
            return HF_ENOMEM;
        for (size_t i = 0; i < n; i++)
            sum_row(train_row(X, rows, i, p_in), p_in, c->sum, nan_count);
        for (size_t j = 0; j < p_in; j++)
            c->missing[j] = (size_t)nan_count[j];
        free(nan_count);
        return HF_OK;
    }
    for (size_t i = 0; i < n; i++) {
        const double *x = train_row(X, rows, i, p_in);
        for (size_t j = 0; j < p_in; j++) {
            double v = x[j];
            if (isnan(v)) {
                c->missing[j]++;
            } else if (p->f[j].categorical) {
                long code = cat_code(v, p->f[j].n_codes - 1);
                if (code >= 0)
                    c->counts[j][code]++;
            } else {
                c->sum[j] += v;
            }
        }
    }
    return HF_OK;
}

/* A numeric feature's imputation value: a constant, the mean, or the median or most frequent
 * value of its present training values (sorted into col, n rows long). */
static void impute_numeric(prep_feat *f, const hf_prep_config *cfg, const double *X,
                           const int64_t *rows, size_t n, size_t n_all, size_t p_in, size_t j,
                           const fit_counts *c, double *col, const double *given)
{
    hf_impute_kind k = cfg->impute_numeric;
    size_t present = n_all - c->missing[j]; /* of every training row (the group's, sharded) */
    if (k == HF_IMPUTE_NONE) {
        f->impute = NAN; /* kept, missing values and all: the model takes NaN */
    } else if (k == HF_IMPUTE_CONSTANT) {
        f->impute = cfg->fill_number;
    } else if (present == 0) {
        f->dropped = 1;
        f->impute = NAN;
    } else if (k == HF_IMPUTE_MEAN) {
        f->impute = c->sum[j] / (double)present;
    } else if (given) {
        f->impute = given[j]; /* data-parallel: gathered_order_stats */
    } else {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            double v = train_row(X, rows, i, p_in)[j];
            if (!isnan(v))
                col[m++] = v;
        }
        qsort(col, m, sizeof *col, hf_cmp_double);
        f->impute = sorted_stat(col, m, k);
    }
}

/* Collective over shard (data-parallel): the median or most frequent value (impute.numeric) of
 * every numeric column with a present value, into stat[j]: the column's present training values
 * of every group rank gathered in the table's row order (hf_dist_gather), sorted, as the single
 * copy sorts its own. One column at a time: n_all doubles on every rank. col: n doubles. */
static int gathered_order_stats(const hf_prep *p, const double *X, const int64_t *rows, size_t n,
                                size_t n_all, const fit_counts *c, const hf_group *shard,
                                double *col, double *stat)
{
    size_t p_in = p->n_features;
    int result = HF_OK;
    for (size_t j = 0; j < p_in && result >= 0; j++) {
        stat[j] = NAN;
        if (p->f[j].categorical || n_all == c->missing[j]) /* the same on every group rank */
            continue;
        size_t m = 0, m_all = 0;
        for (size_t i = 0; i < n; i++) {
            double v = train_row(X, rows, i, p_in)[j];
            if (!isnan(v))
                col[m++] = v;
        }
        double *all = NULL;
        if ((result = hf_dist_gather(shard, col, m, &all, &m_all)) < 0)
            break;
        qsort(all, m_all, sizeof *all, hf_cmp_double);
        stat[j] = sorted_stat(all, m_all, p->cfg.impute_numeric);
        free(all);
    }
    return result;
}

/* Imputation values of every feature, and the one-hot layout of the categorical ones. shard: the
 * data-parallel group (collective over it), or NULL. */
static int fit_imputation(hf_prep *p, const hf_schema *schema, const double *X, const int64_t *rows,
                          size_t n, size_t n_all, fit_counts *c, const hf_group *shard)
{
    const hf_prep_config *cfg = &p->cfg;
    size_t p_in = p->n_features;
    double *col = NULL, *given = NULL;
    int order =
        cfg->impute_numeric == HF_IMPUTE_MEDIAN || cfg->impute_numeric == HF_IMPUTE_MOST_FREQUENT;
    if (order && !(col = hf_malloc((n ? n : 1) * sizeof *col)) && !shard)
        return HF_ENOMEM;
    int result = HF_OK;
    if (order && shard) {
        given = hf_malloc((p_in ? p_in : 1) * sizeof *given);
        result = hf_dist_agree(shard, col && given ? HF_OK : HF_ENOMEM);
        if (result >= 0)
            result = gathered_order_stats(p, X, rows, n, n_all, c, shard, col, given);
        if (result < 0) {
            free(col);
            free(given);
            return result;
        }
    }
    p->complete = 1;
    for (size_t j = 0; j < p_in && result >= 0; j++) {
        prep_feat *f = &p->f[j];
        const hf_column *cc = &schema->features[j];
        if (c->missing[j] > 0)
            p->complete = 0;
        f->indicator = cfg->indicator && c->missing[j] > 0;
        if (!f->categorical) {
            impute_numeric(f, cfg, X, rows, n, n_all, p_in, j, c, col, given);
            continue;
        }
        if (f->enc == HF_ENCODE_NATIVE) {
            /* native: the levels' ordinal codes, missing values stay missing (NaN) */
            f->impute = NAN;
            result = fit_onehot(p, cc, f, c->counts[j]);
            continue;
        }
        size_t fill = f->n_codes - 1; /* the extra code: a fill text not in the dictionary */
        if (cfg->impute_categorical == HF_IMPUTE_CONSTANT) {
            for (size_t k = 0; k < cc->n_categories; k++)
                if (strcmp(cc->categories[k], cfg->fill_text) == 0)
                    fill = k;
        } else {
            size_t best_n = 0;
            for (size_t k = 0; k + 1 < f->n_codes; k++)
                if (c->counts[j][k] > best_n) {
                    best_n = c->counts[j][k];
                    fill = k;
                }
            if (best_n == 0) {
                f->dropped = 1;
                f->impute = NAN;
                continue;
            }
        }
        f->impute = (double)fill;
        c->counts[j][fill] += c->missing[j];
        result = fit_onehot(p, cc, f, c->counts[j]);
    }
    free(col);
    free(given);
    return result;
}

/* Scaling, on the imputed training values (the scaler follows the imputer). Values that stay
 * missing (impute.numeric none) are left out, as scikit-learn's scalers disregard NaN in fit. */
static int fit_scaling(hf_prep *p, const double *X, const int64_t *rows, size_t n,
                       const hf_group *shard)
{
    const hf_prep_config *cfg = &p->cfg;
    size_t p_in = p->n_features, w = p_in ? p_in : 1;
    if (cfg->scale == HF_SCALE_NONE)
        return HF_OK;
    double *mean = hf_calloc(w, sizeof *mean), *m2 = hf_calloc(w, sizeof *m2);
    double *corr = hf_calloc(w, sizeof *corr), *mn = hf_malloc(w * sizeof *mn);
    double *mx = hf_malloc(w * sizeof *mx), *cnt = hf_calloc(w, sizeof *cnt);
    int result = mean && m2 && corr && mn && mx && cnt ? HF_OK : HF_ENOMEM;
    for (size_t j = 0; j < p_in && result == HF_OK; j++) {
        mn[j] = INFINITY;
        mx[j] = -INFINITY;
    }
    for (size_t i = 0; i < n && result == HF_OK; i++) {
        const double *x = train_row(X, rows, i, p_in);
        for (size_t j = 0; j < p_in; j++) {
            if (p->f[j].categorical || p->f[j].dropped)
                continue;
            double v = isnan(x[j]) ? p->f[j].impute : x[j];
            if (isnan(v))
                continue;
            cnt[j]++;
            mean[j] += v;
            if (v < mn[j])
                mn[j] = v;
            if (v > mx[j])
                mx[j] = v;
        }
    }
    /* Data-parallel: counts, sums, minima and maxima over the group's shares. */
    if (shard && (result = hf_dist_agree(shard, result)) == HF_OK) {
        if ((result = hf_dist_sum(shard, cnt, p_in)) == HF_OK &&
            (result = hf_dist_sum(shard, mean, p_in)) == HF_OK &&
            (result = hf_dist_min(shard, mn, p_in)) == HF_OK)
            result = hf_dist_max(shard, mx, p_in);
    }
    for (size_t j = 0; j < p_in && result == HF_OK; j++)
        mean[j] = cnt[j] > 0 ? mean[j] / cnt[j] : 0.0;
    /* Two-pass variance with the correction term, as sklearn's _incremental_mean_and_var. */
    for (size_t i = 0; i < n && result == HF_OK && cfg->scale == HF_SCALE_STANDARD; i++) {
        const double *x = train_row(X, rows, i, p_in);
        for (size_t j = 0; j < p_in; j++) {
            if (p->f[j].categorical || p->f[j].dropped)
                continue;
            double t = (isnan(x[j]) ? p->f[j].impute : x[j]) - mean[j];
            if (isnan(t))
                continue;
            corr[j] += t;
            m2[j] += t * t;
        }
    }
    if (shard && result == HF_OK && cfg->scale == HF_SCALE_STANDARD &&
        (result = hf_dist_sum(shard, corr, p_in)) == HF_OK)
        result = hf_dist_sum(shard, m2, p_in);
    for (size_t j = 0; j < p_in && result == HF_OK; j++) {
        prep_feat *f = &p->f[j];
        if (f->categorical || f->dropped)
            continue;
        if (cnt[j] == 0 || bin_width(p, f)) { /* bin columns are not scaled */
            f->center = 0.0;
            f->scale = 1.0;
        } else if (cfg->scale == HF_SCALE_STANDARD) {
            double nd = cnt[j];
            double var = (m2[j] - corr[j] * corr[j] / nd) / nd;
            double bound = nd * DBL_EPSILON * var +
                           (nd * mean[j] * DBL_EPSILON) * (nd * mean[j] * DBL_EPSILON);
            f->center = mean[j];
            f->scale = var <= bound ? 1.0 : sqrt(var);
        } else {
            /* sklearn's x * scale_ + min_ written as (x - min) / range, so that every numeric
             * column follows one formula in model.h5 (differences ~1 ulp). */
            double range = mx[j] - mn[j];
            f->center = mn[j];
            f->scale = range < 10 * DBL_EPSILON ? 1.0 : range;
        }
    }
    free(mean);
    free(m2);
    free(corr);
    free(mn);
    free(mx);
    free(cnt);
    return result;
}

/* The numeric steps after imputation of one value of a numeric feature (NaN stays NaN). */
static double num_steps(const prep_feat *f, const hf_prep_config *cfg, double v)
{
    if (!f->steps || isnan(v))
        return v;
    if (v < f->clip_lo)
        v = f->clip_lo;
    if (v > f->clip_hi)
        v = f->clip_hi;
    if (cfg->power != HF_POWER_NONE) {
        if (cfg->power == HF_POWER_BOX_COX && !(v > 0))
            v = f->pw_floor;
        v = (hf_prepnum_power(cfg->power, v, f->lambda) - f->pw_mean) / f->pw_std;
    }
    if (f->n_edges > 0)
        v = hf_prepnum_kbins_bin(f->edges, f->n_edges, v);
    return v;
}

/* StandardScaler's mean and scale of v[0..m) (m > 0): the population std, two-pass with the
 * correction term, 1 for a (near-)constant column (as fit_scaling). */
static void std_fit(const double *v, size_t m, double *mean, double *scale)
{
    double s = 0.0, corr = 0.0, m2 = 0.0, nd = (double)m;
    for (size_t i = 0; i < m; i++)
        s += v[i];
    double mu = s / nd;
    for (size_t i = 0; i < m; i++) {
        double t = v[i] - mu;
        corr += t;
        m2 += t * t;
    }
    double var = (m2 - corr * corr / nd) / nd;
    double bound = nd * DBL_EPSILON * var + (nd * mu * DBL_EPSILON) * (nd * mu * DBL_EPSILON);
    *mean = mu;
    *scale = var <= bound ? 1.0 : sqrt(var);
}

/* Fits clip -> power -> kbins of feature f on its m imputed present training values v (changed;
 * w: m doubles of scratch). Not collective. */
static int fit_column(prep_feat *f, const hf_prep_config *cfg, const char *name, double *v,
                      double *w, size_t m)
{
    if (cfg->clip_lower > 0 || cfg->clip_upper < 1) {
        memcpy(w, v, m * sizeof *w);
        qsort(w, m, sizeof *w, hf_cmp_double);
        if (cfg->clip_lower > 0)
            f->clip_lo = hf_quantile_sorted(w, m, cfg->clip_lower);
        if (cfg->clip_upper < 1)
            f->clip_hi = hf_quantile_sorted(w, m, cfg->clip_upper);
    }
    for (size_t i = 0; i < m; i++)
        v[i] = v[i] < f->clip_lo ? f->clip_lo : v[i] > f->clip_hi ? f->clip_hi : v[i];
    if (cfg->power != HF_POWER_NONE) {
        if (cfg->power == HF_POWER_BOX_COX) {
            f->pw_floor = INFINITY;
            for (size_t i = 0; i < m; i++) {
                if (!(v[i] > 0))
                    return hf_error(HF_EINVAL,
                                    "preprocess.power: box-cox of column \"%s\": got the "
                                    "training value %g, expected values > 0 (use "
                                    "yeo-johnson for zero or negative values)",
                                    name, v[i]);
                if (v[i] < f->pw_floor)
                    f->pw_floor = v[i];
            }
        }
        /* a constant column has no maximum-likelihood lambda: 1 */
        hf_prepnum_power_lambda(cfg->power, v, m, w, &f->lambda);
        for (size_t i = 0; i < m; i++)
            v[i] = hf_prepnum_power(cfg->power, v[i], f->lambda);
        std_fit(v, m, &f->pw_mean, &f->pw_std);
    }
    if (cfg->kbins >= 2) {
        for (size_t i = 0; i < m; i++)
            w[i] = cfg->power != HF_POWER_NONE ? (v[i] - f->pw_mean) / f->pw_std : v[i];
        qsort(w, m, sizeof *w, hf_cmp_double);
        if (!(f->edges = hf_malloc(((size_t)cfg->kbins + 1) * sizeof *f->edges)))
            return HF_ENOMEM;
        f->n_edges = hf_prepnum_kbins_edges(w, m, (size_t)cfg->kbins, f->edges);
    }
    return HF_OK;
}

/* Data-parallel (collective over shard): fit_column of the columns cols[0..nc) (nc <= the group
 * size), column c's training values of every group rank gathered to group rank c in row order
 * (hf_dist_gather_to: the single copy's array), fitted there, and its fitted values broadcast
 * from there: the group fits nc columns at once, each rank holding at most one gathered column
 * (n_all doubles, and as many of scratch). M (n x p_in): the imputed local rows; v: n doubles. */
static int fit_columns_shard(hf_prep *p, const hf_schema *schema, const double *M, size_t n,
                             const size_t *cols, size_t nc, const hf_group *shard, double *v)
{
    const hf_prep_config *cfg = &p->cfg;
    const size_t p_in = p->n_features, kb = cfg->kbins >= 2 ? (size_t)cfg->kbins + 1 : 0;
    const int me = hf_group_grid(shard)->rank;
    double *all = NULL, *w = NULL;
    size_t m_all = 0;
    int result = HF_OK;
    for (size_t c = 0; c < nc && result >= 0; c++) {
        size_t j = cols[c], m = 0;
        for (size_t i = 0; i < n; i++)
            if (!isnan(M[i * p_in + j]))
                v[m++] = M[i * p_in + j];
        double *got = NULL;
        size_t n_got = 0;
        result = hf_dist_gather_to(shard, (int)c, v, m, &got, &n_got);
        if (result >= 0 && (int)c == me) {
            all = got;
            m_all = n_got;
        } else {
            free(got);
        }
    }
    /* this rank's column fitted (a failure carried to the agreement) */
    if (result >= 0 && (size_t)me < nc && m_all > 0) {
        prep_feat *f = &p->f[cols[me]];
        w = hf_malloc(m_all * sizeof *w);
        result = w ? fit_column(f, cfg, schema->features[cols[me]].name, all, w, m_all) : HF_ENOMEM;
    }
    free(all);
    free(w);
    result = hf_dist_agree(shard, result);
    /* the fitted values: clip_lo, clip_hi, lambda, pw_mean, pw_std, pw_floor, n_edges, edges */
    double *buf = result >= 0 ? hf_malloc((7 + kb) * sizeof *buf) : NULL;
    if (result >= 0)
        result = hf_dist_agree(shard, buf ? HF_OK : HF_ENOMEM);
    for (size_t c = 0; c < nc && result >= 0; c++) {
        prep_feat *f = &p->f[cols[c]];
        if ((int)c == me) {
            double head[7] = {f->clip_lo, f->clip_hi,  f->lambda,         f->pw_mean,
                              f->pw_std,  f->pw_floor, (double)f->n_edges};
            memcpy(buf, head, sizeof head);
            for (size_t e = 0; e < f->n_edges; e++)
                buf[7 + e] = f->edges[e];
        }
        if ((result = hf_dist_bcast(shard, buf, 7 + kb, (int)c)) < 0)
            break;
        if ((int)c == me) {
            result = hf_dist_agree(shard, result); /* as the others' below */
            continue;
        }
        f->clip_lo = buf[0], f->clip_hi = buf[1], f->lambda = buf[2];
        f->pw_mean = buf[3], f->pw_std = buf[4], f->pw_floor = buf[5];
        f->n_edges = (size_t)buf[6];
        if (f->n_edges > 0) {
            if (!(f->edges = hf_malloc(f->n_edges * sizeof *f->edges)))
                result = HF_ENOMEM;
            else
                memcpy(f->edges, buf + 7, f->n_edges * sizeof *f->edges);
        }
        result = hf_dist_agree(shard, result);
    }
    free(buf);
    return result;
}

/* Fits clip -> power -> kbins of every numeric column on its imputed training values (NaN left
 * out: impute.numeric none) and writes *mapped (n x p_in): the training rows with those steps
 * applied to the numeric columns (imputed), other columns copied. With shard (collective over
 * it), the columns are fitted G at a time, each on one group rank (fit_columns_shard). */
static int fit_numeric_steps(hf_prep *p, const hf_schema *schema, const double *X,
                             const int64_t *rows, size_t n, const hf_group *shard, double **mapped)
{
    const hf_prep_config *cfg = &p->cfg;
    size_t p_in = p->n_features, nc = 0;
    int result = HF_OK;
    double *M = hf_malloc((n ? n : 1) * (p_in ? p_in : 1) * sizeof *M);
    double *v = hf_malloc((n ? n : 1) * sizeof *v), *w = hf_malloc((n ? n : 1) * sizeof *w);
    size_t *cols = hf_malloc((p_in ? p_in : 1) * sizeof *cols);
    if (!M || !v || !w || !cols)
        result = HF_ENOMEM;
    /* Data-parallel: the columns are gathered below, collectively: every rank takes part. */
    if (shard)
        result = hf_dist_agree(shard, result);
    if (result < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        memcpy(M + i * p_in, train_row(X, rows, i, p_in), p_in * sizeof *M);
    for (size_t j = 0; j < p_in; j++) {
        prep_feat *f = &p->f[j];
        f->clip_lo = -INFINITY;
        f->clip_hi = INFINITY;
        f->lambda = 1.0;
        f->pw_mean = 0.0;
        f->pw_std = 1.0;
        f->pw_floor = 0.0;
        if (f->categorical || f->dropped || !measured_numeric(&schema->features[j]))
            continue;
        f->steps = 1;
        cols[nc++] = j;
        for (size_t i = 0; i < n; i++)
            if (isnan(M[i * p_in + j]))
                M[i * p_in + j] = f->impute;
    }
    if (shard) {
        size_t size = (size_t)hf_group_grid(shard)->size;
        for (size_t c0 = 0; c0 < nc && result >= 0; c0 += size)
            result = fit_columns_shard(p, schema, M, n, cols + c0, nc - c0 < size ? nc - c0 : size,
                                       shard, v);
    }
    for (size_t c = 0; c < nc && result >= 0; c++) {
        size_t j = cols[c], m = 0;
        prep_feat *f = &p->f[j];
        if (!shard) {
            for (size_t i = 0; i < n; i++)
                if (!isnan(M[i * p_in + j]))
                    v[m++] = M[i * p_in + j];
            if (m == 0)
                continue;
            if ((result = fit_column(f, cfg, schema->features[j].name, v, w, m)) < 0)
                break;
        }
        for (size_t i = 0; i < n; i++)
            M[i * p_in + j] = num_steps(f, cfg, M[i * p_in + j]);
    }
out:
    free(v);
    free(w);
    free(cols);
    if (result < 0) {
        free(M);
        M = NULL;
    }
    *mapped = M;
    return result;
}

/* Target encoding: the RNG stream of the inner folds, hf_rng_init(cfg->seed, TE_STREAM, 0). */
#define TE_STREAM 0x7e7eULL
#define TE_FOLDS 5

/* The inner folds of the n fit positions (y: class index when binary): as KFold(5, shuffle)
 * for regression (the positions shuffled, cut into contiguous folds, the first n % 5 one
 * larger), as StratifiedKFold(5, shuffle) for a binary target (each class's positions shuffled,
 * class 0's then class 1's dealt round-robin) - the same algorithms as worker/folds.c. */
static int inner_folds(const hf_prep_config *cfg, const double *yv, size_t n, int binary, int *fold)
{
    int64_t *perm = hf_malloc((n ? n : 1) * sizeof *perm);
    if (!perm)
        return HF_ENOMEM;
    hf_rng rng;
    hf_rng_init(&rng, cfg->seed, TE_STREAM, 0);
    if (!binary) {
        for (size_t i = 0; i < n; i++)
            perm[i] = (int64_t)i;
        hf_rng_shuffle_i64(&rng, perm, (int64_t)n);
        size_t pos = 0;
        for (size_t k = 0; k < TE_FOLDS; k++) {
            size_t size = n / TE_FOLDS + (k < n % TE_FOLDS ? 1 : 0);
            for (size_t j = 0; j < size; j++)
                fold[perm[pos++]] = (int)k;
        }
    } else {
        size_t m = 0;
        for (int c = 0; c < 2; c++) {
            size_t start = m;
            for (size_t i = 0; i < n; i++)
                if ((int)yv[i] == c)
                    perm[m++] = (int64_t)i;
            hf_rng_shuffle_i64(&rng, perm + start, (int64_t)(m - start));
        }
        for (size_t j = 0; j < m; j++)
            fold[perm[j]] = (int)(j % TE_FOLDS);
    }
    free(perm);
    return HF_OK;
}

/* TargetEncoder's encodings (smooth "auto") of the codes of the positions not in inner fold
 * `skip` (all when fold is NULL): per level c with n_c rows, mean m_c and within sum of squares
 * s_c, and the mean and population variance v of those rows' target, lambda = v n_c / (v n_c +
 * s_c / n_c) and enc = lambda m_c + (1 - lambda) mean; a level without rows (or lambda NaN: v =
 * 0) gets the mean. enc, sum, cnt, ssd hold n_codes values; returns the mean. */
static double te_encode(const long *code, const double *yv, size_t n, const int *fold, int skip,
                        size_t n_codes, double *enc, double *sum, double *cnt, double *ssd)
{
    double ys = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (!fold || fold[i] != skip) {
            ys += yv[i];
            m++;
        }
    double mean = ys / m, var = 0.0;
    for (size_t i = 0; i < n; i++)
        if (!fold || fold[i] != skip)
            var += (yv[i] - mean) * (yv[i] - mean);
    var /= m;
    for (size_t c = 0; c < n_codes; c++)
        sum[c] = cnt[c] = ssd[c] = 0.0;
    for (size_t i = 0; i < n; i++)
        if ((!fold || fold[i] != skip) && code[i] >= 0) {
            sum[code[i]] += yv[i];
            cnt[code[i]] += 1.0;
        }
    for (size_t c = 0; c < n_codes; c++)
        enc[c] = sum[c] / cnt[c];
    for (size_t i = 0; i < n; i++)
        if ((!fold || fold[i] != skip) && code[i] >= 0) {
            double d = yv[i] - enc[code[i]];
            ssd[code[i]] += d * d;
        }
    for (size_t c = 0; c < n_codes; c++) {
        double lam = var * cnt[c] / (var * cnt[c] + ssd[c] / cnt[c]);
        enc[c] = isnan(lam) ? mean : lam * enc[c] + (1.0 - lam) * mean;
    }
    return mean;
}

/* Data-parallel target encoding: pos[i] = the position of this rank's fit row rows[i] within
 * all_rows[0..n_all) (rows being its subsequence, in the same order); HF_EINTERNAL when rows is
 * not one. */
static int fit_positions(const int64_t *rows, size_t n, const int64_t *all_rows, size_t n_all,
                         int64_t *pos)
{
    size_t i = 0;
    for (size_t k = 0; k < n_all && i < n; k++)
        if (all_rows[k] == rows[i])
            pos[i++] = (int64_t)k;
    if (i < n)
        return hf_error(HF_EINTERNAL,
                        "preprocess target encoding: fit row %lld of this group rank is not in the "
                        "split's %zu training rows in their order",
                        (long long)rows[i], n_all);
    return HF_OK;
}

/* Data-parallel: at[k] = the position within the split's fit order of the k-th fit row of the
 * group, the ranks' rows concatenated in group-rank order (every position exactly once). pos: this
 * rank's positions (n); seen: n_all ints of scratch. Collective over shard. */
static int gather_positions(const hf_group *shard, const int64_t *pos, size_t n, size_t n_all,
                            double *mine, int64_t *at, int *seen)
{
    for (size_t i = 0; i < n; i++)
        mine[i] = (double)pos[i]; /* exact: below 2^53 */
    double *all = NULL;
    size_t n_got = 0;
    HF_CALL(hf_dist_gather(shard, mine, n, &all, &n_got));
    int result = n_got == n_all ? HF_OK
                                : hf_error(HF_EINTERNAL,
                                           "preprocess target encoding: the group holds %zu of "
                                           "the split's %zu training rows",
                                           n_got, n_all);
    memset(seen, 0, n_all * sizeof *seen);
    for (size_t k = 0; k < n_got && result >= 0; k++) {
        double v = all[k];
        if (!(v >= 0 && v < (double)n_all) || seen[(size_t)v]++)
            result = hf_error(HF_EINTERNAL,
                              "preprocess target encoding: training position %g gathered twice "
                              "or out of 0..%zu",
                              v, n_all);
        else
            at[k] = (int64_t)v;
    }
    free(all);
    return result;
}

/* Fits target encoding of every kept categorical column: the encodings on all the fit rows
 * (f->freq, p->te_mean) and the cross-fitted encodings of the fit rows themselves (p->te_fit).
 * With shard (parallel.data_parallel), rows[0..n) are this rank's share of the split's fit rows
 * all_rows[0..n_all) (in its order; every rank holds y whole): each encoded column's codes are
 * gathered from the group and placed in the split's order, and every group rank runs the single
 * copy's fit on them (the same bits on every rank, and the single copy's), keeping the cross-fitted
 * encodings and inner folds of its own rows. Without shard all_rows and n_all are ignored. */
static int fit_target(hf_prep *p, const hf_schema *schema, const double *X, const double *y,
                      const int64_t *rows, size_t n, const hf_group *shard, const int64_t *all_rows,
                      size_t n_all)
{
    size_t p_in = p->n_features;
    int binary = schema->task == HF_TASK_CLASSIFICATION;
    int result = HF_OK;
    if (!shard) {
        all_rows = rows;
        n_all = n;
    }
    /* the checks below give the same answer on every group rank */
    if (!y)
        return hf_error(HF_EINVAL, "preprocess.categorical: got target, but this program fits "
                                   "the pipeline without the target");
    if (binary && schema->n_classes > 2)
        return hf_error(HF_EINVAL,
                        "preprocess.categorical: got target for a target with %zu classes, "
                        "expected a regression or binary target",
                        schema->n_classes);
    if (n_all < TE_FOLDS)
        return hf_error(HF_EINVAL,
                        "preprocess.categorical: got target with %zu training rows, expected at "
                        "least %d (its inner folds)",
                        n_all, TE_FOLDS);
    size_t max_codes = 1;
    for (size_t j = 0; j < p_in; j++)
        if (p->f[j].categorical && p->f[j].n_codes > max_codes)
            max_codes = p->f[j].n_codes;
    /* over the split's fit order (n_all): */
    double *yv = hf_malloc(n_all * sizeof *yv);
    long *code = hf_malloc(n_all * sizeof *code);
    int *inner = shard ? hf_malloc(n_all * sizeof *inner) : NULL;
    int64_t *at = shard ? hf_malloc(n_all * sizeof *at) : NULL;
    /* over this rank's fit rows (n): */
    int64_t *pos = shard ? hf_malloc((n ? n : 1) * sizeof *pos) : NULL;
    double *mine = shard ? hf_malloc((n ? n : 1) * sizeof *mine) : NULL;
    double *enc = hf_malloc(max_codes * sizeof *enc);
    double *sum = hf_malloc(max_codes * sizeof *sum), *cnt = hf_malloc(max_codes * sizeof *cnt);
    double *ssd = hf_malloc(max_codes * sizeof *ssd);
    p->fit_rows = hf_malloc((n ? n : 1) * sizeof *p->fit_rows);
    p->inner = hf_malloc((n ? n : 1) * sizeof *p->inner);
    p->te_fit = hf_calloc((n ? n : 1) * (p_in ? p_in : 1), sizeof *p->te_fit);
    if (!yv || !enc || !sum || !cnt || !ssd || !code || !p->fit_rows || !p->inner || !p->te_fit ||
        (shard && (!inner || !at || !pos || !mine)))
        result = HF_ENOMEM;
    for (size_t j = 0; j < p_in && result >= 0; j++) {
        prep_feat *f = &p->f[j];
        if (f->categorical && !f->dropped && f->enc == HF_ENCODE_TARGET &&
            !(f->freq = hf_malloc(f->n_codes * sizeof *f->freq)))
            result = HF_ENOMEM;
    }
    if (result >= 0 && shard)
        result = fit_positions(rows, n, all_rows, n_all, pos);
    /* Ascending fit rows (every splitter's today): the blocks are ascending ranges of rows, so the
     * shares concatenated in group-rank order are already in the split's order. */
    int ascending = 1;
    for (size_t i = 1; shard && i < n_all && ascending; i++)
        ascending = all_rows[i - 1] < all_rows[i];
    if (shard && (result = hf_dist_agree(shard, result)) >= 0) {
        if (!ascending)
            result = gather_positions(shard, pos, n, n_all, mine, at, inner);
        else
            for (size_t k = 0; k < n_all; k++)
                at[k] = (int64_t)k;
    }
    if (result < 0)
        goto out;
    if (!shard)
        inner = p->inner; /* the fit order is this rank's */
    p->n_fit = n;
    for (size_t i = 0; i < n; i++)
        p->fit_rows[i] = rows ? rows[i] : (int64_t)i;
    for (size_t i = 0; i < n_all; i++) {
        yv[i] = y[all_rows ? all_rows[i] : (int64_t)i];
        if (binary && yv[i] != 0.0 && yv[i] != 1.0) {
            result = hf_error(
                HF_EINVAL, "preprocess.categorical target: class index %g, expected 0 or 1", yv[i]);
            goto out;
        }
    }
    if ((result = inner_folds(&p->cfg, yv, n_all, binary, inner)) < 0)
        goto out;
    for (size_t i = 0; shard && i < n; i++)
        p->inner[i] = inner[pos[i]];
    for (size_t j = 0; j < p_in; j++) {
        prep_feat *f = &p->f[j];
        if (!f->categorical || f->dropped || f->enc != HF_ENCODE_TARGET)
            continue;
        for (size_t i = 0; i < n; i++) {
            double v = train_row(X, rows, i, p_in)[j];
            long c = isnan(v) ? (long)f->impute : cat_code(v, f->n_codes - 1);
            if (shard)
                mine[i] = (double)c;
            else
                code[i] = c;
        }
        if (shard) {
            /* the group's codes, placed at their rows' positions in the split's order */
            double *all = NULL;
            size_t n_got = 0;
            if ((result = hf_dist_gather(shard, mine, n, &all, &n_got)) < 0)
                goto out;
            for (size_t k = 0; k < n_got && k < n_all; k++)
                code[at[k]] = (long)all[k];
            free(all);
            if (n_got != n_all) { /* the same on every rank */
                result = hf_error(HF_EINTERNAL,
                                  "preprocess target encoding: the group holds %zu of the "
                                  "split's %zu training rows",
                                  n_got, n_all);
                goto out;
            }
        }
        p->te_mean = te_encode(code, yv, n_all, NULL, -1, f->n_codes, f->freq, sum, cnt, ssd);
        for (int k = 0; k < TE_FOLDS; k++) {
            double mk = te_encode(code, yv, n_all, inner, k, f->n_codes, enc, sum, cnt, ssd);
            for (size_t i = 0; i < n; i++) {
                size_t gi = shard ? (size_t)pos[i] : i;
                if (inner[gi] == k)
                    p->te_fit[i * p_in + j] = code[gi] >= 0 ? enc[code[gi]] : mk;
            }
        }
    }
out:
    if (shard)
        free(inner);
    free(at);
    free(pos);
    free(mine);
    free(yv);
    free(enc);
    free(sum);
    free(cnt);
    free(ssd);
    free(code);
    return result;
}

/* Writes the cross-fitted target encodings of fit positions [i0, i0 + m) into their design rows
 * (q wide) at out. */
static void put_fit_encodings(const hf_prep *p, size_t i0, size_t m, size_t q, double *out)
{
    if (!p->te_fit)
        return;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < p->n_features; j++)
            if (p->f[j].categorical && !p->f[j].dropped && p->f[j].enc == HF_ENCODE_TARGET)
                out[i * q + p->f[j].out] = p->te_fit[(i0 + i) * p->n_features + j];
}

static int has_numeric_steps(const hf_prep_config *cfg)
{
    return cfg->clip_lower > 0 || cfg->clip_upper < 1 || cfg->power != HF_POWER_NONE ||
           cfg->kbins >= 2;
}

int hf_prep_fit(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                const int64_t *rows, size_t n, const hf_group *group, hf_prep **out)
{
    return hf_prep_fit_y(cfg, schema, X, NULL, rows, n, group, out);
}

/* Data-parallel: the first pass's counts and sums added over the group; *n becomes the number of
 * training rows of the whole group. Counts are integers below 2^53, so their sums are exact. */
static int reduce_counts(hf_prep *p, fit_counts *c, const hf_group *shard, size_t *n)
{
    const size_t p_in = p->n_features;
    size_t len = 1 + 2 * p_in;
    for (size_t j = 0; j < p_in; j++)
        len += p->f[j].categorical ? p->f[j].n_codes : 0;
    double *buf = hf_malloc(len * sizeof *buf);
    int result = hf_dist_agree(shard, buf ? HF_OK : HF_ENOMEM);
    if (result < 0) {
        free(buf);
        return result;
    }
    size_t k = 0;
    buf[k++] = (double)*n;
    for (size_t j = 0; j < p_in; j++) {
        buf[k++] = (double)c->missing[j];
        buf[k++] = c->sum[j];
        for (size_t i = 0; p->f[j].categorical && i < p->f[j].n_codes; i++)
            buf[k++] = (double)c->counts[j][i];
    }
    if ((result = hf_dist_sum(shard, buf, len)) >= 0) {
        k = 0;
        *n = (size_t)buf[k++];
        for (size_t j = 0; j < p_in; j++) {
            c->missing[j] = (size_t)buf[k++];
            c->sum[j] = buf[k++];
            for (size_t i = 0; p->f[j].categorical && i < p->f[j].n_codes; i++)
                c->counts[j][i] = (size_t)buf[k++];
        }
    }
    free(buf);
    return result;
}

static int prep_fit_impl(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                         const double *y, const int64_t *rows, size_t n, const hf_group *group,
                         const hf_group *shard, const int64_t *all_rows, size_t n_all_rows,
                         hf_prep **out);

int hf_prep_fit_y(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                  const double *y, const int64_t *rows, size_t n, const hf_group *group,
                  hf_prep **out)
{
    return prep_fit_impl(cfg, schema, X, y, rows, n, group, NULL, NULL, 0, out);
}

int hf_prep_fit_shard(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                      const double *y, const int64_t *rows, size_t n, const int64_t *all_rows,
                      size_t n_all_rows, const hf_group *group, hf_prep **out)
{
    *out = NULL;
    /* A group of one rank holds every row: the plain fit. */
    return prep_fit_impl(cfg, schema, X, y, rows, n, NULL,
                         hf_dist_is_parallel(group) ? group : NULL, all_rows, n_all_rows, out);
}

/* shard: the group whose ranks each hold a share of the training rows (hf_prep_fit_shard), or
 * NULL; all_rows[0..n_all_rows): the split's fit rows in its order (with shard: target encoding's
 * order). */
static int prep_fit_impl(const hf_prep_config *cfg, const hf_schema *schema, const double *X,
                         const double *y, const int64_t *rows, size_t n, const hf_group *group,
                         const hf_group *shard, const int64_t *all_rows, size_t n_all_rows,
                         hf_prep **out)
{
    int result = 0;
    size_t p_in = schema->n_features;
    hf_prep *p = NULL;
    fit_counts counts = {0};
    double *mapped = NULL;
    *out = NULL;
    if (n == 0 && !shard)
        return hf_error(HF_EINVAL, "preprocess: no training rows, expected at least one");
    /* With shard, a failure before a collective step is carried to the next agreement instead of
     * returning, so that every group rank enters the same collectives. */
    p = hf_calloc(1, sizeof *p);
    if (!p || !(p->f = hf_calloc(p_in ? p_in : 1, sizeof *p->f)))
        result = HF_ENOMEM;
    if (result >= 0) {
        p->cfg = *cfg;
        p->n_features = p_in;
        result = check_encode_columns(cfg, schema);
    }
    /* With log1p, the statistics are those of the transformed numeric values: they are computed
     * on a transformed copy of the training rows (the PCA below transforms its rows itself). */
    const double *SX = X;
    const int64_t *srows = rows;
    if (result >= 0 && cfg->log1p &&
        !(mapped = hf_malloc((n ? n : 1) * (p_in ? p_in : 1) * sizeof *mapped)))
        result = HF_ENOMEM;
    if (result < 0 && !shard)
        goto out;
    if (result >= 0 && cfg->log1p) {
        for (size_t i = 0; i < n; i++) {
            const double *x = train_row(X, rows, i, p_in);
            for (size_t j = 0; j < p_in; j++)
                mapped[i * p_in + j] =
                    measured_numeric(&schema->features[j]) ? log1p_value(x[j]) : x[j];
        }
        SX = mapped;
        srows = NULL;
    }
    /* n_all: the training rows of the whole group (data-parallel), else n. */
    size_t n_all = n;
    if (result >= 0)
        result = count_pass(p, schema, SX, srows, n, &counts);
    if (shard && (result = hf_dist_agree(shard, result)) >= 0 &&
        (result = reduce_counts(p, &counts, shard, &n_all)) >= 0 && n_all == 0)
        result = hf_error(HF_EINVAL, "preprocess: no training rows, expected at least one");
    if (result >= 0)
        result = fit_imputation(p, schema, SX, srows, n, n_all, &counts, shard);
    /* fit_scaling reduces over the shard group next. */
    if (shard)
        result = hf_dist_agree(shard, result);
    if (result < 0)
        goto out;
    if (shard && any_encoding(p, HF_ENCODE_TARGET) && n_all_rows != n_all)
        result = hf_error(HF_EINTERNAL,
                          "preprocess target encoding: the split has %zu training rows, the "
                          "group's shares %zu",
                          n_all_rows, n_all);
    if (result >= 0 && any_encoding(p, HF_ENCODE_TARGET))
        result = fit_target(p, schema, X, y, rows, n, shard, all_rows, n_all_rows);
    if (result < 0)
        goto out;
    if (has_numeric_steps(cfg)) {
        double *stepped = NULL;
        if ((result = fit_numeric_steps(p, schema, SX, srows, n, shard, &stepped)) < 0)
            goto out;
        free(mapped);
        SX = mapped = stepped;
        srows = NULL;
    }
    if ((result = fit_scaling(p, SX, srows, n, shard)) < 0 ||
        (result = build_layout(p, schema)) < 0)
        goto out;
    if (cfg->pca_components > 0 && (result = pca_fit(p, X, rows, n, n_all, group, shard)) < 0)
        goto out;
    *out = p;
    p = NULL;
out:
    fit_counts_free(&counts, p_in);
    free(mapped);
    hf_prep_free(p);
    return result;
}

/* The design rows before PCA (n_outputs wide) of rows[0..n) of X. */
static void base_transform(const hf_prep *p, const double *X, const int64_t *rows, size_t n,
                           double *out)
{
    size_t p_in = p->n_features, q = p->n_outputs;
    for (size_t i = 0; i < n; i++) {
        const double *x = X + (size_t)(rows ? rows[i] : (int64_t)i) * p_in;
        double *o = out + i * q;
        if (p->identity) {
            for (size_t j = 0; j < p_in; j++)
                o[j] = isnan(x[j]) ? p->f[j].impute : x[j];
            continue;
        }
        for (size_t j = 0; j < p_in; j++) {
            const prep_feat *f = &p->f[j];
            double v = x[j];
            if (f->log1p)
                v = log1p_value(v); /* NaN stays NaN */
            int miss = isnan(v);
            if (f->indicator)
                o[f->ind_out] = miss ? 1.0 : 0.0;
            if (f->dropped)
                continue;
            if (miss)
                v = f->impute;
            if (!f->categorical && bin_width(p, f)) {
                size_t bw = bin_width(p, f);
                v = num_steps(f, &p->cfg, v); /* the bin index; NaN (impute none): no bin */
                for (size_t k = 0; k < bw; k++)
                    o[f->out + k] = 0.0;
                if (!isnan(v))
                    o[f->out + (size_t)v] = 1.0;
                continue;
            }
            if (!f->categorical) {
                v = num_steps(f, &p->cfg, v);
                if (p->cfg.scale != HF_SCALE_NONE)
                    v = (v - f->center) / f->scale;
                o[f->out] = v;
                continue;
            }
            double *b = o + f->out;
            if (f->enc == HF_ENCODE_NATIVE) {
                /* the level's ordinal code; a missing or unseen level is missing */
                long c = miss ? -1 : cat_code(v, f->n_codes - 1);
                b[0] = c >= 0 && f->slot[c] >= 0 ? (double)f->slot[c] : NAN;
                continue;
            }
            if (f->enc != HF_ENCODE_ONEHOT) {
                long c = miss ? (long)f->impute : cat_code(v, f->n_codes - 1);
                if (f->enc == HF_ENCODE_ORDINAL)
                    b[0] = c >= 0 ? (double)f->slot[c] : -1.0;
                else if (f->enc == HF_ENCODE_TARGET)
                    b[0] = c >= 0 && f->freq ? f->freq[c] : p->te_mean;
                else
                    b[0] = c >= 0 && f->freq ? f->freq[c] : 0.0;
                continue;
            }
            for (size_t k = 0; k < f->width; k++)
                b[k] = 0.0;
            long c = miss ? (long)f->impute : cat_code(v, f->n_codes - 1);
            int32_t s = c >= 0 ? f->slot[c] : -1;
            if (s < 0)
                s = f->unknown;
            if (s >= 0)
                b[s] = 1.0;
        }
        if (p->n_poly > 0) {
            double *q = o + p->poly_out;
            for (size_t a = 0; a < p->n_num; a++)
                for (size_t c = p->cfg.interaction_only ? a + 1 : a; c < p->n_num; c++)
                    *q++ = o[a] * o[c];
        }
    }
}

/* hf_prep_transform; fit_rows: the rows are the fit rows (cross-fitted target encodings). */
static int transform_impl(const hf_prep *p, const double *X, const int64_t *rows, size_t n,
                          double *out, int fit_rows)
{
    if (p->pca_k == 0) {
        base_transform(p, X, rows, n, out);
        if (fit_rows)
            put_fit_encodings(p, 0, n, p->n_outputs, out);
        return 0;
    }
    /* Blocks of rows through a scratch buffer; each row is projected on its own (k dot products),
     * so a row's value does not depend on which other rows share the call. */
    size_t q = p->n_outputs, k = p->pca_k;
    size_t block = n < PCA_BLOCK_ROWS ? n : PCA_BLOCK_ROWS;
    double *z = hf_malloc((block ? block : 1) * (q ? q : 1) * sizeof *z);
    if (!z)
        return HF_ENOMEM;
    for (size_t i0 = 0; i0 < n; i0 += block) {
        size_t m = n - i0 < block ? n - i0 : block;
        base_transform(p, rows ? X : X + i0 * p->n_features, rows ? rows + i0 : NULL, m, z);
        if (fit_rows)
            put_fit_encodings(p, i0, m, q, z);
        for (size_t i = 0; i < m; i++) {
            double *zi = z + i * q;
            for (size_t j = 0; j < q; j++)
                zi[j] -= p->pca_mean[j];
            for (size_t c = 0; c < k; c++)
                out[(i0 + i) * k + c] = dot(p->pca_comp + c * q, zi, q);
        }
    }
    free(z);
    return 0;
}

int hf_prep_transform(const hf_prep *p, const double *X, const int64_t *rows, size_t n, double *out)
{
    return transform_impl(p, X, rows, n, out, 0);
}

int hf_prep_transform_fit_rows(const hf_prep *p, const double *X, const int64_t *rows, size_t n,
                               double *out)
{
    if (p->te_fit) {
        int same = n == p->n_fit;
        for (size_t i = 0; i < n && same; i++)
            same = p->fit_rows[i] == (rows ? rows[i] : (int64_t)i);
        if (!same)
            return hf_error(HF_EINVAL,
                            "preprocess: the %zu rows given are not the %zu rows the target "
                            "encoding was fitted on",
                            n, p->n_fit);
    }
    return transform_impl(p, X, rows, n, out, 1);
}

const int *hf_prep_inner_folds(const hf_prep *p, size_t *n_fit)
{
    if (n_fit)
        *n_fit = p->inner ? p->n_fit : 0;
    return p->inner;
}

/* ---- export / import ---- */

static double *new_array(hf_array *a, const char *name, size_t rows, size_t cols)
{
    a->name = hf_strdup(name);
    a->rows = rows;
    a->cols = cols;
    size_t count = rows * cols;
    a->data = hf_calloc(count > 0 ? count : 1, sizeof *a->data);
    return a->name && a->data ? a->data : NULL;
}

void hf_prep_export_free(hf_array *arrays, size_t n_arrays, char *config_json)
{
    if (arrays)
        for (size_t i = 0; i < n_arrays; i++) {
            free(arrays[i].name);
            free(arrays[i].data);
        }
    free(arrays);
    free(config_json);
}

int hf_prep_export(const hf_prep *p, hf_array **arrays, size_t *n_arrays, char **config_json)
{
    int result = 0;
    size_t na = p->pca_k > 0 ? 7 : 4, p_in = p->n_features, total = 0, n_edges = 0;
    hf_array *a = NULL;
    json_t *root = NULL, *feats = NULL, *outs = NULL;
    *arrays = NULL;
    *n_arrays = 0;
    *config_json = NULL;
    for (size_t j = 0; j < p_in; j++) {
        total += p->f[j].categorical ? p->f[j].n_codes : 0;
        n_edges += p->f[j].n_edges;
    }
    int steps = has_numeric_steps(&p->cfg),
        freq = any_encoding(p, HF_ENCODE_FREQUENCY) || any_encoding(p, HF_ENCODE_TARGET);
    size_t at_num = na;
    na += steps ? 2 : 0;
    size_t at_freq = na;
    na += freq ? 1 : 0;
    a = hf_calloc(na, sizeof *a);
    if (!a) {
        result = HF_ENOMEM;
        goto out;
    }
    double *imp = new_array(&a[0], "prep.impute", 1, p_in);
    double *cen = new_array(&a[1], "prep.center", 1, p_in);
    double *sca = new_array(&a[2], "prep.scale", 1, p_in);
    double *slo = new_array(&a[3], "prep.slots", total, 1);
    if (!imp || !cen || !sca || !slo) {
        result = HF_ENOMEM;
        goto out;
    }
    if (p->pca_k > 0) {
        size_t q = p->n_outputs, k = p->pca_k;
        double *pm = new_array(&a[4], "prep.pca_mean", 1, q);
        double *pc = new_array(&a[5], "prep.pca_components", k, q);
        double *pv = new_array(&a[6], "prep.pca_explained_variance", 1, k);
        if (!pm || !pc || !pv) {
            result = HF_ENOMEM;
            goto out;
        }
        memcpy(pm, p->pca_mean, q * sizeof *pm);
        memcpy(pc, p->pca_comp, k * q * sizeof *pc);
        memcpy(pv, p->pca_var, k * sizeof *pv);
    }
    if (steps) {
        /* per input column: clip_lo, clip_hi, lambda, pw_mean, pw_std, pw_floor */
        double *num = new_array(&a[at_num], "prep.num", p_in, 6);
        double *edg = new_array(&a[at_num + 1], "prep.kbins_edges", n_edges, 1);
        if (!num || !edg) {
            result = HF_ENOMEM;
            goto out;
        }
        size_t e = 0;
        for (size_t j = 0; j < p_in; j++) {
            const prep_feat *f = &p->f[j];
            double row[6] = {f->clip_lo, f->clip_hi, f->lambda, f->pw_mean, f->pw_std, f->pw_floor};
            memcpy(num + j * 6, row, sizeof row);
            for (size_t k = 0; k < f->n_edges; k++)
                edg[e++] = f->edges[k];
        }
    }
    if (freq) {
        double *fr = new_array(&a[at_freq], "prep.freq", total, 1);
        if (!fr) {
            result = HF_ENOMEM;
            goto out;
        }
        size_t e = 0;
        for (size_t j = 0; j < p_in; j++)
            for (size_t c = 0; p->f[j].categorical && c < p->f[j].n_codes; c++)
                fr[e++] = p->f[j].freq ? p->f[j].freq[c] : 0.0;
    }
    size_t at = 0;
    root = json_object();
    feats = json_array();
    outs = json_array();
    if (!root || !feats || !outs) {
        result = hf_error(HF_ENOMEM, "preprocess: out of memory building the config JSON");
        goto out;
    }
    for (size_t j = 0; j < p_in; j++) {
        const prep_feat *f = &p->f[j];
        imp[j] = f->impute;
        cen[j] = f->center;
        sca[j] = f->scale;
        if (f->categorical)
            for (size_t c = 0; c < f->n_codes; c++)
                slo[at++] = f->slot ? (double)f->slot[c] : -1.0;
        json_t *o =
            json_pack("{s:b,s:b,s:b,s:I,s:I,s:I}", "categorical", f->categorical, "dropped",
                      f->dropped, "indicator", f->indicator, "n_codes", (json_int_t)f->n_codes,
                      "width", (json_int_t)f->width, "unknown", (json_int_t)f->unknown);
        if (o && f->n_edges > 0)
            json_object_set_new(o, "n_edges", json_integer((json_int_t)f->n_edges));
        if (o && f->categorical)
            json_object_set_new(o, "encode", json_string(encode_names[f->enc]));
        if (!o || json_array_append_new(feats, o) < 0) {
            result = hf_error(HF_ENOMEM, "preprocess: out of memory building the config JSON");
            goto out;
        }
    }
    for (size_t i = 0; i < p->n_outputs; i++)
        if (json_array_append_new(outs, json_string(p->names[i])) < 0) {
            result = hf_error(HF_ENOMEM, "preprocess: out of memory building the config JSON");
            goto out;
        }
    const hf_prep_config *c = &p->cfg;
    json_t *cfg = json_pack(
        "{s:s,s:s,s:b,s:f,s:s,s:b,s:s,s:I,s:b}", "impute_numeric", impute_names[c->impute_numeric],
        "impute_categorical", impute_names[c->impute_categorical], "fill_given", c->fill_given,
        "fill_number", isnan(c->fill_number) ? 0.0 : c->fill_number, "fill_text", c->fill_text,
        "indicator", c->indicator, "scale", scale_names[c->scale], "min_frequency",
        (json_int_t)c->min_frequency, "log1p", c->log1p);
    if (cfg)
        json_object_set_new(cfg, "target_transform",
                            json_string(c->target_log1p ? "log1p" : "none"));
    if (!cfg) {
        result = hf_error(HF_ENOMEM, "preprocess: out of memory building the config JSON");
        goto out;
    }
    json_object_set_new(cfg, "fill_is_number", json_boolean(!isnan(c->fill_number)));
    json_object_set_new(cfg, "pca_components", json_integer((json_int_t)p->pca_k));
    json_object_set_new(cfg, "clip_lower", json_real(c->clip_lower));
    json_object_set_new(cfg, "clip_upper", json_real(c->clip_upper));
    json_object_set_new(cfg, "power", json_string(power_names[c->power]));
    json_object_set_new(cfg, "kbins", json_integer((json_int_t)c->kbins));
    json_object_set_new(cfg, "kbins_encode", json_string(c->kbins_onehot ? "onehot" : "ordinal"));
    json_object_set_new(cfg, "polynomial", json_integer((json_int_t)c->polynomial));
    json_object_set_new(cfg, "interaction_only", json_boolean(c->interaction_only));
    json_object_set_new(cfg, "encode", json_string(encode_names[c->encode]));
    json_object_set_new(cfg, "max_categories", json_integer((json_int_t)c->max_categories));
    json_object_set_new(cfg, "target_mean", json_real(p->te_mean));
    json_object_set_new(cfg, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(cfg, "encode_columns", json_string(c->encode_columns));
    json_object_set_new(root, "format", json_string(PREP_FORMAT));
    json_object_set_new(root, "config", cfg);
    json_object_set_new(root, "features", feats);
    json_object_set_new(root, "outputs", outs);
    feats = outs = NULL;
    *config_json = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!*config_json) {
        result = hf_error(HF_ENOMEM, "preprocess: out of memory writing the config JSON");
        goto out;
    }
    *arrays = a;
    *n_arrays = na;
    a = NULL;
out:
    hf_prep_export_free(a, na, NULL);
    json_decref(root);
    json_decref(feats);
    json_decref(outs);
    return result;
}

static const hf_array *find_array(const hf_array *arrays, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (arrays[i].name && strcmp(arrays[i].name, name) == 0)
            return &arrays[i];
    return NULL;
}

/* The string member `key` of obj, or "" when absent or not a string. */
static const char *jstr(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static int lookup_name(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* Rebuilds the PCA step (k components) from prep.pca_mean, prep.pca_components and
 * prep.pca_explained_variance; p's layout (n_outputs) is already built. */
static int import_pca(hf_prep *p, const hf_array *arrays, size_t n_arrays, json_int_t k)
{
    size_t q = p->n_outputs;
    const hf_array *pm = find_array(arrays, n_arrays, "prep.pca_mean");
    const hf_array *pc = find_array(arrays, n_arrays, "prep.pca_components");
    const hf_array *pv = find_array(arrays, n_arrays, "prep.pca_explained_variance");
    if (k < 0 || (size_t)k > q)
        return hf_error(HF_EDATA,
                        "preprocess config JSON: pca_components %lld, expected 0..%zu (the "
                        "design-matrix columns)",
                        (long long)k, q);
    if (!pm || !pc || !pv || pm->rows * pm->cols != q || pc->rows != (size_t)k || pc->cols != q ||
        pv->rows * pv->cols != (size_t)k)
        return hf_error(HF_EDATA,
                        "preprocess: expected arrays prep.pca_mean (1 x %zu), prep.pca_components "
                        "(%lld x %zu) and prep.pca_explained_variance (1 x %lld)",
                        q, (long long)k, q, (long long)k);
    int result = pca_alloc(p, (size_t)k, q);
    if (result < 0)
        return result;
    memcpy(p->pca_mean, pm->data, q * sizeof *p->pca_mean);
    memcpy(p->pca_comp, pc->data, (size_t)k * q * sizeof *p->pca_comp);
    memcpy(p->pca_var, pv->data, (size_t)k * sizeof *p->pca_var);
    return 0;
}

/* The "config" object of the exported JSON into c. */
static int import_config(json_t *cfg, hf_prep_config *c)
{
    hf_prep_config_default(c);
    int in_ = lookup_name(jstr(cfg, "impute_numeric"), impute_names, 5);
    int ic = lookup_name(jstr(cfg, "impute_categorical"), impute_names, 4);
    int sc = lookup_name(jstr(cfg, "scale"), scale_names, 3);
    const char *fill_text = json_string_value(json_object_get(cfg, "fill_text"));
    if (in_ < 0 || ic < 0 || sc < 0 || !fill_text || strlen(fill_text) >= HF_PREP_FILL_MAX)
        return hf_error(HF_EDATA, "preprocess config JSON: bad impute_numeric, "
                                  "impute_categorical, scale or fill_text");
    c->impute_numeric = (hf_impute_kind)in_;
    c->impute_categorical = (hf_impute_kind)ic;
    c->scale = (hf_scale_kind)sc;
    c->fill_given = json_is_true(json_object_get(cfg, "fill_given"));
    c->fill_number = json_is_true(json_object_get(cfg, "fill_is_number"))
                         ? json_number_value(json_object_get(cfg, "fill_number"))
                         : NAN;
    snprintf(c->fill_text, sizeof c->fill_text, "%s", fill_text);
    c->indicator = json_is_true(json_object_get(cfg, "indicator"));
    c->min_frequency = json_integer_value(json_object_get(cfg, "min_frequency"));
    c->log1p = json_is_true(json_object_get(cfg, "log1p")); /* absent in older models: off */
    const char *tt = json_string_value(json_object_get(cfg, "target_transform"));
    if (tt && strcmp(tt, "none") != 0 && strcmp(tt, "log1p") != 0)
        return hf_error(HF_EDATA, "preprocess: target_transform %s, expected none or log1p", tt);
    c->target_log1p = tt && strcmp(tt, "log1p") == 0; /* absent in older models: none */
    c->pca_components = json_integer_value(json_object_get(cfg, "pca_components"));
    /* absent in older models: off */
    json_t *cl = json_object_get(cfg, "clip_lower"), *cu = json_object_get(cfg, "clip_upper");
    c->clip_lower = cl ? json_number_value(cl) : 0.0;
    c->clip_upper = cu ? json_number_value(cu) : 1.0;
    const char *pw = json_string_value(json_object_get(cfg, "power"));
    const char *en = json_string_value(json_object_get(cfg, "encode"));
    int pwi = pw ? lookup_name(pw, power_names, 3) : 0,
        eni = en ? lookup_name(en, encode_names, N_ENCODINGS) : 0;
    c->kbins = json_integer_value(json_object_get(cfg, "kbins"));
    c->polynomial = json_integer_value(json_object_get(cfg, "polynomial"));
    const char *ke = json_string_value(json_object_get(cfg, "kbins_encode"));
    c->kbins_onehot = ke && strcmp(ke, "onehot") == 0;
    if (ke && !c->kbins_onehot && strcmp(ke, "ordinal") != 0)
        return hf_error(HF_EDATA,
                        "preprocess config JSON: kbins_encode \"%s\", expected ordinal "
                        "or onehot",
                        ke);
    c->interaction_only = json_is_true(json_object_get(cfg, "interaction_only"));
    c->max_categories = json_integer_value(json_object_get(cfg, "max_categories"));
    if (pwi < 0 || eni < 0 ||
        !(c->clip_lower >= 0 && c->clip_lower < c->clip_upper && c->clip_upper <= 1) ||
        c->kbins < 0 || c->kbins > 1000000 || (c->polynomial != 0 && c->polynomial != 2) ||
        c->max_categories < 0)
        return hf_error(HF_EDATA, "preprocess config JSON: bad power, encode, clip_lower, "
                                  "clip_upper, kbins, polynomial or max_categories");
    c->power = (hf_power_kind)pwi;
    c->encode = (hf_encode_kind)eni;
    c->seed = (uint64_t)json_integer_value(json_object_get(cfg, "seed"));
    const char *ec = json_string_value(json_object_get(cfg, "encode_columns"));
    if (ec && strlen(ec) >= sizeof c->encode_columns)
        return hf_error(HF_EDATA,
                        "preprocess config JSON: encode_columns of %zu bytes, expected "
                        "at most %zu",
                        strlen(ec), sizeof c->encode_columns - 1);
    snprintf(c->encode_columns, sizeof c->encode_columns, "%s", ec ? ec : "");
    return HF_OK;
}

/* A categorical feature's one-hot slots from prep.slots (at: the next unread value), checked
 * against what a fit can make. */
static int import_slots(prep_feat *f, const hf_column *col, const hf_array *slo, size_t *at,
                        int onehot)
{
    /* A fit makes at most one one-hot column per code (width <= n_codes): a width from the
     * file sized the output names and rows unchecked (1.8e9 columns, 14 GB). */
    if (*at + f->n_codes > slo->rows * slo->cols || f->width > f->n_codes || f->unknown < -1 ||
        f->unknown >= (int32_t)f->width || (!onehot && (f->width != 1 || f->unknown != -1)))
        return hf_error(HF_EDATA,
                        "preprocess: prep.slots is too short or inconsistent for feature \"%s\"",
                        col->name);
    if (!(f->slot = hf_malloc(f->n_codes * sizeof *f->slot)))
        return HF_ENOMEM;
    /* ordinal and frequency: a slot is the level's rank, below n_codes */
    size_t limit = onehot ? f->width : f->n_codes;
    for (size_t k = 0; k < f->n_codes; k++) {
        double s = slo->data[(*at)++];
        if (!(s >= -1 && s < (double)limit && s == floor(s)))
            return hf_error(HF_EDATA,
                            "preprocess: prep.slots value %.17g for feature \"%s\", expected a "
                            "whole number from -1 to %zu",
                            s, col->name, limit ? limit - 1 : 0);
        f->slot[k] = (int32_t)s;
    }
    /* A kept feature's missing values take the imputed code: base_transform converts it to an
     * index, so it must be one (NaN, which a fit only leaves on a dropped feature, converted to
     * long is undefined). A native-encoded feature's missing values stay missing: no code. */
    if (!f->dropped && f->enc != HF_ENCODE_NATIVE &&
        !(f->impute >= 0 && f->impute < (double)f->n_codes && f->impute == floor(f->impute)))
        return hf_error(HF_EDATA,
                        "preprocess: imputed code %.17g for feature \"%s\", expected a whole "
                        "number from 0 to %zu",
                        f->impute, col->name, f->n_codes - 1);
    return HF_OK;
}

/* The numeric steps (prep.num, prep.kbins_edges) and the frequency table (prep.freq). */
static int import_steps(hf_prep *p, const hf_schema *schema, json_t *feats, const hf_array *arrays,
                        size_t n_arrays)
{
    size_t p_in = p->n_features;
    if (has_numeric_steps(&p->cfg)) {
        const hf_array *num = find_array(arrays, n_arrays, "prep.num");
        const hf_array *edg = find_array(arrays, n_arrays, "prep.kbins_edges");
        if (!num || !edg || num->rows != p_in || num->cols != 6)
            return hf_error(HF_EDATA,
                            "preprocess: expected arrays prep.num (%zu x 6) and "
                            "prep.kbins_edges",
                            p_in);
        size_t e = 0;
        for (size_t j = 0; j < p_in; j++) {
            prep_feat *f = &p->f[j];
            const double *r = num->data + j * 6;
            f->clip_lo = r[0];
            f->clip_hi = r[1];
            f->lambda = r[2];
            f->pw_mean = r[3];
            f->pw_std = r[4];
            f->pw_floor = r[5];
            f->steps = !f->categorical && !f->dropped && measured_numeric(&schema->features[j]);
            json_int_t ne =
                json_integer_value(json_object_get(json_array_get(feats, j), "n_edges"));
            if (ne < 0 || (ne > 0 && (ne < 2 || !f->steps)) ||
                (size_t)ne > edg->rows * edg->cols - e || ne > p->cfg.kbins + 1)
                return hf_error(HF_EDATA,
                                "preprocess: n_edges %lld of feature \"%s\", expected "
                                "0 or 2..%lld within prep.kbins_edges",
                                (long long)ne, schema->features[j].name,
                                (long long)p->cfg.kbins + 1);
            if (ne > 0) {
                if (!(f->edges = hf_malloc((size_t)ne * sizeof *f->edges)))
                    return HF_ENOMEM;
                memcpy(f->edges, edg->data + e, (size_t)ne * sizeof *f->edges);
                f->n_edges = (size_t)ne;
                e += (size_t)ne;
            }
        }
    }
    if (any_encoding(p, HF_ENCODE_FREQUENCY) || any_encoding(p, HF_ENCODE_TARGET)) {
        const hf_array *fr = find_array(arrays, n_arrays, "prep.freq");
        size_t total = 0;
        for (size_t j = 0; j < p_in; j++)
            total += p->f[j].categorical ? p->f[j].n_codes : 0;
        if (!fr || fr->rows * fr->cols != total)
            return hf_error(HF_EDATA, "preprocess: expected array prep.freq (%zu values)", total);
        size_t e = 0;
        for (size_t j = 0; j < p_in; j++) {
            prep_feat *f = &p->f[j];
            if (!f->categorical)
                continue;
            if (!(f->freq = hf_malloc((f->n_codes ? f->n_codes : 1) * sizeof *f->freq)))
                return HF_ENOMEM;
            memcpy(f->freq, fr->data + e, f->n_codes * sizeof *f->freq);
            e += f->n_codes;
        }
    }
    return HF_OK;
}

/* Every feature from the "features" array and the prep.* arrays. */
static int import_features(hf_prep *p, const hf_schema *schema, json_t *feats,
                           const hf_array *arrays, size_t n_arrays)
{
    size_t p_in = p->n_features, at = 0;
    const hf_array *imp = find_array(arrays, n_arrays, "prep.impute");
    const hf_array *cen = find_array(arrays, n_arrays, "prep.center");
    const hf_array *sca = find_array(arrays, n_arrays, "prep.scale");
    const hf_array *slo = find_array(arrays, n_arrays, "prep.slots");
    if (!imp || !cen || !sca || !slo || imp->rows * imp->cols != p_in ||
        cen->rows * cen->cols != p_in || sca->rows * sca->cols != p_in)
        return hf_error(HF_EDATA,
                        "preprocess: expected arrays prep.impute, prep.center, prep.scale (%zu "
                        "values each) and prep.slots",
                        p_in);
    for (size_t j = 0; j < p_in; j++) {
        prep_feat *f = &p->f[j];
        const hf_column *col = &schema->features[j];
        json_t *o = json_array_get(feats, j);
        f->categorical = json_is_true(json_object_get(o, "categorical"));
        f->log1p = p->cfg.log1p && measured_numeric(col);
        f->dropped = json_is_true(json_object_get(o, "dropped"));
        f->indicator = json_is_true(json_object_get(o, "indicator"));
        f->n_codes = (size_t)json_integer_value(json_object_get(o, "n_codes"));
        f->width = (size_t)json_integer_value(json_object_get(o, "width"));
        f->unknown = (int32_t)json_integer_value(json_object_get(o, "unknown"));
        f->impute = imp->data[j];
        f->center = cen->data[j];
        f->scale = sca->data[j];
        if (f->categorical != (col->type == HF_COL_CATEGORICAL) ||
            (f->categorical && f->n_codes != col->n_categories + 1))
            return hf_error(HF_EDATA,
                            "preprocess: feature %zu \"%s\" is %s with %zu categories, expected "
                            "the column the pipeline was fitted on",
                            j, col->name, hf_col_type_name(col->type), col->n_categories);
        if (f->categorical) {
            /* absent in older models: the config's encoding */
            const char *en = json_string_value(json_object_get(o, "encode"));
            int k = en ? lookup_name(en, encode_names, N_ENCODINGS) : (int)p->cfg.encode;
            if (k < 0)
                return hf_error(HF_EDATA,
                                "preprocess: encoding \"%s\" of feature \"%s\", "
                                "expected onehot, ordinal, frequency, target or native",
                                en, col->name);
            f->enc = (hf_encode_kind)k;
            HF_CALL(import_slots(f, col, slo, &at, f->enc == HF_ENCODE_ONEHOT));
        }
    }
    return import_steps(p, schema, feats, arrays, n_arrays);
}

int hf_prep_import(const hf_schema *schema, const hf_array *arrays, size_t n_arrays,
                   const char *config_json, hf_prep **out)
{
    int result = 0;
    hf_prep *p = NULL;
    json_error_t jerr;
    size_t p_in = schema->n_features;
    *out = NULL;
    json_t *root = json_loads(config_json ? config_json : "", 0, &jerr);
    if (!root)
        return hf_error(HF_EDATA, "preprocess config JSON: %s at line %d, expected valid JSON",
                        jerr.text, jerr.line);
    const char *format = json_string_value(json_object_get(root, "format"));
    json_t *cfg = json_object_get(root, "config");
    json_t *feats = json_object_get(root, "features");
    json_t *outs = json_object_get(root, "outputs");
    if (!format || strcmp(format, PREP_FORMAT) != 0 || !json_is_object(cfg) ||
        !json_is_array(feats) || !json_is_array(outs)) {
        result = hf_error(HF_EDATA,
                          "preprocess config JSON: expected format \"%s\" with config, features "
                          "and outputs",
                          PREP_FORMAT);
        goto out;
    }
    if (json_array_size(feats) != p_in) {
        result = hf_error(HF_EDATA, "preprocess: fitted on %zu features, the schema has %zu",
                          json_array_size(feats), p_in);
        goto out;
    }
    p = hf_calloc(1, sizeof *p);
    if (!p || !(p->f = hf_calloc(p_in ? p_in : 1, sizeof *p->f))) {
        result = HF_ENOMEM;
        goto out;
    }
    p->n_features = p_in;
    p->te_mean = json_number_value(json_object_get(cfg, "target_mean"));
    if ((result = import_config(cfg, &p->cfg)) < 0 ||
        (result = import_features(p, schema, feats, arrays, n_arrays)) < 0 ||
        (result = build_layout(p, schema)) < 0)
        goto out;
    if (json_array_size(outs) != p->n_outputs) {
        result = hf_error(HF_EDATA, "preprocess: %zu output names stored, expected %zu",
                          json_array_size(outs), p->n_outputs);
        goto out;
    }
    for (size_t i = 0; i < p->n_outputs; i++) {
        const char *name = json_string_value(json_array_get(outs, i));
        if (!name || strcmp(name, p->names[i]) != 0) {
            result = hf_error(HF_EDATA, "preprocess: output %zu is \"%s\", expected \"%s\"", i,
                              name ? name : "", p->names[i]);
            goto out;
        }
    }
    if (p->cfg.pca_components != 0 &&
        (result = import_pca(p, arrays, n_arrays, p->cfg.pca_components)) < 0)
        goto out;
    *out = p;
    p = NULL;
out:
    json_decref(root);
    hf_prep_free(p);
    return result;
}

int hf_prep_is_copy(const hf_prep *p)
{
    if (!p->identity || !p->complete || p->pca_k > 0 || p->n_outputs != p->n_features)
        return 0;
    for (size_t j = 0; j < p->n_features; j++)
        if (p->f[j].center != 0.0 || p->f[j].scale != 1.0)
            return 0;
    return 1;
}
