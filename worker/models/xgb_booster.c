/* xgb_booster.c - the booster plumbing of the models on libxgboost 1.7 (see xgb_booster.h).
 *
 * Data reach XGBoost as float32 (what its DMatrix stores), with NaN as the missing value, as
 * Python's xgboost.DMatrix converts a float64 array; the histogram method (tree_method hist);
 * the booster's JSON serialisation is the model's blob, which xgboost.Booster in Python loads.
 * Training is deterministic for a fixed seed whatever the number of threads (checked here on
 * 1.7.4: the JSON of a model trained with 1, 2 and 4 threads is byte-identical), so the threads
 * follow the cores each rank has and results do not depend on the number of ranks.
 * Categorical features (hf_fit_data.categorical, preprocess.categorical native) are feature type
 * "c" on every DMatrix (training, validation, prediction, the shards), the others "q"; the
 * fitted model carries the flags as its array "categorical" (1 x p of 0/1), which prediction
 * and the check of a loaded booster's categorical splits read. */
#define _GNU_SOURCE /* sched_getaffinity, RTLD_DEFAULT */
#include "worker/models/xgb_booster.h"

#include "common/hf.h"
#include "worker/group.h"
#include "worker/metrics.h"
#include "worker/rabit.h"

#include <dlfcn.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

const char *const hf_xgb_objectives[] = {"auto", "reg:squarederror", "reg:pseudohubererror",
                                         "reg:absoluteerror", NULL};
const char *const hf_xgb_grow_policies[] = {"depthwise", "lossguide", NULL};
const char *const hf_xgb_class_weights[] = {"none", "balanced", NULL};

int hf_xgb_check_task(const char *objective, const char *class_weight, hf_task_kind task,
                      const char **key)
{
    if (task == HF_TASK_CLASSIFICATION && strcmp(objective, "auto") != 0) {
        *key = "objective";
        return hf_error(HF_EINVAL,
                        "objective: got %s, a regression objective, for a classification target; "
                        "expected auto (binary:logistic for two classes, multi:softprob for more)",
                        objective);
    }
    if (task == HF_TASK_REGRESSION && strcmp(class_weight, "none") != 0) {
        *key = "class_weight";
        return hf_error(HF_EINVAL,
                        "class_weight: got %s on a regression target, expected none (it weighs "
                        "the classes of a classification)",
                        class_weight);
    }
    return HF_OK;
}

void hf_xgb_set_text(hf_xgb_params *p, const char *key, const char *v)
{
    if (p->n == HF_XGB_MAX_PARAMS)
        return; /* the models set fewer: checked by the unit test */
    p->key[p->n] = key;
    snprintf(p->val[p->n], sizeof p->val[p->n], "%s", v);
    p->n++;
}

void hf_xgb_set_number(hf_xgb_params *p, const char *key, double v)
{
    char buf[64];
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", v);
    else
        snprintf(buf, sizeof buf, "%.17g", v);
    hf_xgb_set_text(p, key, buf);
}

/* The cores this rank may use (OMP_NUM_THREADS, if set, decides): its CPU affinity shared among
 * the ranks of its node. An affinity smaller than the node's cores does not tell that the rank
 * has those cores to itself (a cpuset or a Slurm allocation with --bind-to none gives every rank
 * the same set), and one rank cannot see the others' without a collective, so the count never
 * oversubscribes: ranks bound to several cores each (--map-by slot:PE=N with more than one rank
 * per node) get fewer threads than cores unless n_jobs or OMP_NUM_THREADS says N
 * (docs/models.md). A single rank per node uses its whole affinity. */
static int rank_threads(void)
{
    const char *omp = getenv("OMP_NUM_THREADS");
    if (omp && atoi(omp) > 0)
        return atoi(omp);
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int ranks = local && atoi(local) > 0 ? atoi(local) : 1;
    int t = cpus >= ranks ? cpus / ranks : 1;
    return t > 0 ? t : 1;
}

void hf_xgb_set_task(hf_xgb_params *p, const hf_fit_data *d, const char *objective, int n_jobs)
{
    if (d->n_classes == 0) {
        hf_xgb_set_text(p, "objective", objective);
    } else if (d->n_classes == 2) {
        hf_xgb_set_text(p, "objective", "binary:logistic");
    } else {
        hf_xgb_set_text(p, "objective", "multi:softprob");
        hf_xgb_set_number(p, "num_class", (double)d->n_classes);
    }
    hf_xgb_set_text(p, "tree_method", "hist");
    hf_xgb_set_number(p, "nthread", n_jobs > 0 ? n_jobs : rank_threads());
}

static pthread_once_t g_quiet_once = PTHREAD_ONCE_INIT;

/* XGBoost logs warnings to the console; hyperfold reports through its own messages. */
static void dm_cache_free(void);

static void quiet_library(void)
{
    XGBSetGlobalConfig("{\"verbosity\": 0}");
    atexit(dm_cache_free); /* before libxgboost's own destructors run */
}

static int xgb_error(const char *what)
{
    return hf_error(HF_ENUM, "xgboost: %s: %s", what, hf_rabit_last_error());
}

/* The balanced weight of each of the n rows whose class indices are y (k_max classes at most). */
static int balanced_weights(const double *y, size_t n, size_t k_max, float *w)
{
    size_t *count = hf_calloc(k_max ? k_max : 1, sizeof *count), present = 0;
    if (!count)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (y[i] >= 0 && y[i] < (double)k_max && count[(size_t)y[i]]++ == 0)
            present++;
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((double)n / ((double)present * (double)count[(size_t)y[i]]));
    free(count);
    return HF_OK;
}

/* Marks the features flagged in cat (p flags; NULL: none) categorical ("c", the others "q"), as
 * xgboost.DMatrix(feature_types=..., enable_categorical=True) does: the hist method then makes
 * categorical splits on them (max_cat_to_onehot, max_cat_threshold). */
static int set_feature_types(DMatrixHandle dm, const unsigned char *cat, size_t p)
{
    if (!cat)
        return HF_OK;
    const char **types = hf_malloc((p ? p : 1) * sizeof *types);
    if (!types)
        return HF_ENOMEM;
    for (size_t j = 0; j < p; j++)
        types[j] = cat[j] ? "c" : "q";
    int result = XGDMatrixSetStrFeatureInfo(dm, "feature_type", types, (bst_ulong)p) != 0
                     ? xgb_error("setting the categorical features")
                     : HF_OK;
    free(types);
    return result;
}

/* A DMatrix of n rows of X (p wide; NaN missing) and their targets (y may be NULL); with
 * balanced > 0, y's classes (balanced of them at most) weighted as hf_xgb_params says; cat (may
 * be NULL) flags the categorical features. */
static int make_dmatrix(const double *X, const double *y, size_t n, size_t p, size_t balanced,
                        const unsigned char *cat, DMatrixHandle *out)
{
    size_t cells = n * p;
    float *f = hf_malloc((cells ? cells : 1) * sizeof *f);
    float *l = y ? hf_malloc((n ? n : 1) * sizeof *l) : NULL;
    int result = f && (!y || l) ? HF_OK : HF_ENOMEM;
    *out = NULL;
    for (size_t i = 0; result == HF_OK && i < cells; i++)
        f[i] = (float)X[i];
    for (size_t i = 0; result == HF_OK && y && i < n; i++)
        l[i] = (float)y[i];
    if (result == HF_OK && XGDMatrixCreateFromMat(f, (bst_ulong)n, (bst_ulong)p, NAN, out) != 0)
        result = xgb_error("making the data matrix");
    if (result == HF_OK)
        result = set_feature_types(*out, cat, p);
    if (result == HF_OK && y && XGDMatrixSetFloatInfo(*out, "label", l, (bst_ulong)n) != 0)
        result = xgb_error("setting the labels");
    if (result == HF_OK && y && balanced &&
        (result = balanced_weights(y, n, balanced, l)) == HF_OK &&
        XGDMatrixSetFloatInfo(*out, "weight", l, (bst_ulong)n) != 0)
        result = xgb_error("setting the class weights");
    free(f);
    free(l);
    if (result < 0 && *out) {
        XGDMatrixFree(*out);
        *out = NULL;
    }
    return result;
}

/* The collective DMatrix of this rank's share of the rows (row_shard; Rabit communicator active on
 * every rank of gc): like make_dmatrix, but the class weights count the classes of every rank's
 * rows (the same weights a single process gives the whole table), and the staging copy is agreed
 * on (hf_comm_check) before libxgboost's matrix, whose creation reduces the column count over the
 * group, so that a rank that ran out of memory does not leave the others waiting. Collective. */
static int shard_dmatrix(hf_comm *gc, const double *X, const double *y, size_t n, size_t p,
                         size_t balanced, const unsigned char *cat, DMatrixHandle *out)
{
    size_t cells = n * p;
    int64_t missing = 0;
    for (size_t i = 0; i < cells && !missing; i++)
        missing = isnan(X[i]);
    /* libxgboost 1.7.4's distributed hist training waits forever when some ranks' rows have a
     * missing value and another rank's rows have none (reproduced with python3-xgboost's own
     * tracker: the ranks' dense and sparse pages disagree on their collective calls). A training
     * matrix without any then gets one more row whose features are all missing, with weight 0: it
     * enters no quantile sketch (every value is missing) and no gradient or hessian sum (its
     * weight), so the trees are those of the real rows. */
    int64_t any_missing = missing;
    int result = y ? hf_comm_allreduce_sum_i64(gc, &any_missing, 1) : HF_OK;
    if (result < 0)
        return result;
    const size_t pad = y && any_missing > 0 && !missing ? 1 : 0, rows = n + pad;
    float *f = hf_malloc((rows * p > 0 ? rows * p : 1) * sizeof *f);
    float *l = y ? hf_malloc((rows ? rows : 1) * sizeof *l) : NULL;
    float *w = y && (balanced || pad) ? hf_malloc(rows * sizeof *w) : NULL;
    int64_t *count = balanced ? hf_calloc(balanced + 1, sizeof *count) : NULL;
    result = f && (!y || l) && (!(y && (balanced || pad)) || w) && (!balanced || count) ? HF_OK
                                                                                        : HF_ENOMEM;
    *out = NULL;
    for (size_t i = 0; result == HF_OK && i < cells; i++)
        f[i] = (float)X[i];
    for (size_t i = 0; result == HF_OK && y && i < n; i++)
        l[i] = (float)y[i];
    for (size_t i = 0; result == HF_OK && balanced && i < n; i++)
        if (y[i] >= 0 && y[i] < (double)balanced)
            count[(size_t)y[i]]++;
    if (result == HF_OK && pad) {
        for (size_t j = 0; j < p; j++)
            f[cells + j] = NAN;
        l[n] = 0.0f;
    }
    if (count)
        count[balanced] = (int64_t)n;
    result = hf_comm_check(gc, result);
    if (result == HF_OK && balanced)
        result = hf_comm_allreduce_sum_i64(gc, count, balanced + 1);
    if (result == HF_OK && XGDMatrixCreateFromMat(f, (bst_ulong)rows, (bst_ulong)p, NAN, out) != 0)
        result = xgb_error("making the data matrix of this rank's rows");
    if (result == HF_OK)
        result = set_feature_types(*out, cat, p);
    if (result == HF_OK && y && XGDMatrixSetFloatInfo(*out, "label", l, (bst_ulong)rows) != 0)
        result = xgb_error("setting the labels");
    if (result == HF_OK && w) {
        size_t present = 0;
        for (size_t k = 0; balanced && k < balanced; k++)
            present += count[k] > 0;
        for (size_t i = 0; i < n; i++)
            w[i] = balanced ? (float)((double)count[balanced] /
                                      ((double)present * (double)count[(size_t)y[i]]))
                            : 1.0f;
        if (pad)
            w[n] = 0.0f;
        if (XGDMatrixSetFloatInfo(*out, "weight", w, (bst_ulong)rows) != 0)
            result = xgb_error("setting the row weights");
    }
    free(f);
    free(l);
    free(w);
    free(count);
    if (result < 0 && *out) {
        XGDMatrixFree(*out);
        *out = NULL;
    }
    return result;
}

/* ---- the data-matrix cache ------------------------------------------------------------------
 * A fold's training rows reach the models once per task, and a sweep has many tasks per fold
 * (every depth, learning rate, ... of the grid is its own task). XGBoost keeps the quantised
 * matrix (the quantile cuts and the histogram index, for a given max_bin) inside the DMatrix
 * that was trained on, so handing the same DMatrix to the next booster on the same rows skips
 * the float conversion, the sketch and the index. There is no such cache in libxgboost's C API
 * (each XGDMatrixCreateFromMat starts over), hence this one: the last HF_XGB_CACHED matrices of
 * this process, at most HF_XGB_CACHE_BYTES of their float copies (a task list visits the folds in
 * turn, trial by trial: the cache holds every fold's training and validation matrices of a
 * 5-fold sweep, or it would miss every time), keyed by their content (a 128-bit hash of the values
 * and labels, and the shape, so a buffer reused at the same address with other values is a miss,
 * never a wrong matrix). A matrix is taken out of the cache while a booster trains on it (two
 * threads never share one: rank 0's speculative refit runs beside the sweep) and put back
 * afterwards. */
#define HF_XGB_CACHED 16
#define HF_XGB_CACHE_BYTES ((size_t)1 << 30)

typedef struct dm_key {
    uint64_t h[2];
    size_t n, p;
    int has_y;
    size_t balanced; /* the weights are part of the matrix */
    uint64_t cat;    /* a hash of the categorical flags (0: none): the feature types are too */
} dm_key;

typedef struct dm_entry {
    dm_key key;
    DMatrixHandle dm;
} dm_entry;

static pthread_mutex_t g_dm_mu = PTHREAD_MUTEX_INITIALIZER;
static dm_entry g_dm[HF_XGB_CACHED]; /* the most recently returned last */
static size_t g_dm_n;

static void dm_cache_free(void)
{
    pthread_mutex_lock(&g_dm_mu);
    for (size_t i = 0; i < g_dm_n; i++)
        XGDMatrixFree(g_dm[i].dm);
    g_dm_n = 0;
    pthread_mutex_unlock(&g_dm_mu);
}

static void hash_words(const double *v, size_t n, uint64_t h[2])
{
    for (size_t i = 0; i < n; i++) {
        uint64_t w;
        memcpy(&w, &v[i], sizeof w);
        h[0] = (h[0] ^ w) * 0x100000001b3ULL;
        h[1] = ((h[1] + w) ^ (h[1] >> 29)) * 0x9e3779b97f4a7c15ULL;
    }
}

static dm_key dm_key_of(const double *X, const double *y, size_t n, size_t p, size_t balanced,
                        const unsigned char *cat)
{
    dm_key k = {{0xcbf29ce484222325ULL, 0x243f6a8885a308d3ULL}, n, p, y != NULL, balanced, 0};
    hash_words(X, n * p, k.h);
    if (y)
        hash_words(y, n, k.h);
    for (size_t j = 0; cat && j < p; j++)
        k.cat = (k.cat ^ (cat[j] ? 2 * j + 1 : 2 * j + 2)) * 0x100000001b3ULL;
    return k;
}

static int dm_key_equal(const dm_key *a, const dm_key *b)
{
    return a->h[0] == b->h[0] && a->h[1] == b->h[1] && a->n == b->n && a->p == b->p &&
           a->has_y == b->has_y && a->balanced == b->balanced && a->cat == b->cat;
}

/* The data matrix of n rows of X (and labels y, or none), from the cache or made; the caller
 * trains on it, then hands it back with put_dmatrix (or frees it). */
static int take_dmatrix(const double *X, const double *y, size_t n, size_t p, size_t balanced,
                        const unsigned char *cat, dm_key *key, DMatrixHandle *out)
{
    *key = dm_key_of(X, y, n, p, balanced, cat);
    pthread_mutex_lock(&g_dm_mu);
    for (size_t i = 0; i < g_dm_n; i++)
        if (dm_key_equal(&g_dm[i].key, key)) {
            *out = g_dm[i].dm;
            memmove(&g_dm[i], &g_dm[i + 1], (g_dm_n - i - 1) * sizeof g_dm[0]);
            g_dm_n--;
            pthread_mutex_unlock(&g_dm_mu);
            return HF_OK;
        }
    pthread_mutex_unlock(&g_dm_mu);
    return make_dmatrix(X, y, n, p, balanced, cat, out);
}

static size_t dm_bytes(const dm_key *k)
{
    return k->n * k->p * sizeof(float);
}

static void put_dmatrix(const dm_key *key, DMatrixHandle dm)
{
    if (!dm)
        return;
    pthread_mutex_lock(&g_dm_mu);
    size_t bytes = dm_bytes(key);
    for (size_t i = 0; i < g_dm_n; i++)
        bytes += dm_bytes(&g_dm[i].key);
    while (g_dm_n > 0 && (g_dm_n == HF_XGB_CACHED || bytes > HF_XGB_CACHE_BYTES)) {
        bytes -= dm_bytes(&g_dm[0].key);
        XGDMatrixFree(g_dm[0].dm);
        memmove(&g_dm[0], &g_dm[1], (g_dm_n - 1) * sizeof g_dm[0]);
        g_dm_n--;
    }
    g_dm[g_dm_n++] = (dm_entry){*key, dm};
    pthread_mutex_unlock(&g_dm_mu);
}

static const char k_predict_config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                       "\"iteration_end\": 0, \"strict_shape\": false}";

/* The booster's predictions for dm (n rows) into out (n x n_out: the value, or the class
 * probabilities, binary: [1 - p, p]). With dm among the booster's cached matrices this costs
 * one new round's trees, not all of them. */
static int predict_dmatrix(BoosterHandle b, DMatrixHandle dm, size_t n, size_t n_out, double *out)
{
    bst_ulong const *shape = NULL;
    bst_ulong dim = 0;
    float const *res = NULL;
    if (XGBoosterPredictFromDMatrix(b, dm, k_predict_config, &shape, &dim, &res) != 0)
        return xgb_error("predicting");
    size_t got = 1;
    for (bst_ulong i = 0; i < dim; i++)
        got *= (size_t)shape[i];
    size_t per_row = n_out == 2 ? 1 : n_out;
    if (got != n * per_row)
        return hf_error(HF_EINTERNAL, "xgboost: %zu predictions for %zu rows of %zu", got, n,
                        per_row);
    for (size_t i = 0; i < n; i++) {
        if (n_out == 2) {
            out[2 * i] = 1.0 - (double)res[i];
            out[2 * i + 1] = (double)res[i];
        } else {
            for (size_t k = 0; k < n_out; k++)
                out[i * n_out + k] = (double)res[i * n_out + k];
        }
    }
    return HF_OK;
}

/* Where each trial of a training run stands in its early stopping. */
typedef struct trial_track {
    int rounds; /* its n_estimators */
    int best;   /* round (0-based) of its best validation score so far; -1: none yet */
    double best_score;
    int stopped;
} trial_track;

/* After round r, with the validation score s: each trial still training takes it. Returns the
 * number of trials that may still improve. */
static size_t track_round(trial_track *t, size_t n, const hf_metric *metric, int r, double s,
                          int early_stopping)
{
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].stopped || r >= t[i].rounds)
            continue;
        if (t[i].best < 0 || hf_metric_better(metric, s, t[i].best_score)) {
            t[i].best = r;
            t[i].best_score = s;
        } else if (r - t[i].best >= early_stopping) {
            t[i].stopped = 1;
        }
        open += !t[i].stopped && r + 1 < t[i].rounds;
    }
    return open;
}

/* ---- boosters kept for their promotion ----------------------------------------------------
 * Hyperband and ASHA promote a trial from r to eta r rounds: the same parameters on the same rows
 * with a larger n_estimators, in a later fit call. A resumable fit (hf_fit_data.resumable, only
 * under those strategies) keeps its booster, serialised with its configuration
 * (XGBoosterSerializeToBuffer), the rounds it trained and, with early stopping, the validation
 * score of every round, keyed by the training matrix (dm_key: its values, labels, weights and
 * categorical flags), the validation matrix when it stops early, every booster parameter's text
 * (all but the rounds, which are not a booster parameter), early_stopping_rounds and the metric.
 * A later fit of the same key restores the booster, replays the kept scores through track_round
 * (so its early stopping stands where a fresh run's would) and trains only the rounds it lacks;
 * one that needs no more rounds (fewer, or an early stop within them) only slices. The rounds a
 * booster adds after its restoration are those a fresh run trains (checked bit for bit by
 * tests/unit/test_xgboost_continue.c: the same JSON model and the same predictions): without
 * sampling hist training draws no random numbers, and the restored booster's prediction caches
 * are rebuilt tree by tree in the order the incremental ones were summed. Row sampling
 * (subsample < 1) draws one number per tree from libxgboost's process-wide generator, seeded
 * once when a booster is configured: a kept booster carries the generator's state after its last
 * round and a continuation sets it back (restore_rng). Column sampling (colsample_* < 1) draws
 * from a generator inside the tree updater, which nothing keeps: such fits are never kept (a
 * fresh fit every time), nor are random_forest's (one round) or a row-sharded group's. At most
 * hf_fit_data.resumable bytes of kept boosters per process, the least recently used dropped first;
 * freed at the end of the sweep (hf_xgb_sweep_end). HF_XGB_NO_CONTINUE=1 (a test and diagnostic
 * switch) keeps none. */
static size_t g_kept_limit; /* the bound: the latest resumable fit's hf_fit_data.resumable */
#define HF_XGB_RNG_BACK 1   /* see restore_rng (0 fails unit.xgboost_continue's row sampling) */

typedef struct mt_state {
    unsigned long x[624];
    size_t p;
} mt_state;

/* libxgboost's process-wide generator, xgboost::common::GlobalRandom() (1.7: a thread-local
 * std::mt19937, libstdc++'s layout: 624 words of uint_fast32_t and the position). Row sampling
 * draws one number from it per tree; a kept booster carries its state, so that the rounds a
 * continued fit adds draw what a fresh run's would. No C API exposes it: the function is looked
 * up at run time by its C++ name, and only in libxgboost 1.7 (whose layout unit.xgboost_continue
 * checks). Elsewhere, or where the symbol is not exported, this is NULL and fits with row
 * sampling are never kept: a fresh fit every time, the same models. */
static mt_state *(*g_global_random)(void);
static pthread_once_t g_global_random_once = PTHREAD_ONCE_INIT;

static void find_global_random(void)
{
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    if (major != 1 || minor != 7)
        return;
    void *f = dlsym(RTLD_DEFAULT, "_ZN7xgboost6common12GlobalRandomEv");
    if (f)
        memcpy(&g_global_random, &f, sizeof f); /* (a data pointer to a function pointer) */
}

static mt_state *global_random(void)
{
    pthread_once(&g_global_random_once, find_global_random);
    return g_global_random ? g_global_random() : NULL;
}

typedef struct kept_booster {
    dm_key train, valid; /* valid: zeroed without early stopping */
    char *params;        /* every booster parameter, early stopping and the metric, as text */
    char *buf;           /* the booster (XGBoosterSerializeToBuffer) */
    size_t len;
    int trained;  /* its rounds */
    double *hist; /* with early stopping: the validation score of each of its rounds */
    size_t bytes;
    int has_rng; /* row sampling: rng is the generator's state after its last round */
    mt_state rng;
} kept_booster;

static pthread_mutex_t g_kept_mu = PTHREAD_MUTEX_INITIALIZER;
static kept_booster **g_kept; /* the most recently used last */
static size_t g_kept_n, g_kept_cap, g_kept_bytes;
static uint64_t g_kept_counts[2]; /* fits that continued a booster; rounds they did not train */

static void kept_free(kept_booster *k)
{
    if (!k)
        return;
    free(k->params);
    free(k->buf);
    free(k->hist);
    free(k);
}

/* 0: the fit is never kept nor continued; 1: it may be; 2: it may be, with the generator's state
 * (subsample < 1). Column sampling (colsample_* < 1) draws from a generator inside the tree
 * updater, which no serialisation keeps: never. */
static int may_keep(const hf_xgb_params *p, const hf_fit_data *d, int shard)
{
    const char *off = getenv("HF_XGB_NO_CONTINUE");
    if (!p->continuable || !d->resumable || shard || (off && *off && strcmp(off, "0") != 0))
        return 0;
    pthread_mutex_lock(&g_kept_mu);
    g_kept_limit = d->resumable;
    pthread_mutex_unlock(&g_kept_mu);
    int how = 1;
    for (size_t i = 0; i < p->n; i++) {
        if (strncmp(p->key[i], "colsample_", 10) == 0 && strtod(p->val[i], NULL) != 1.0)
            return 0;
        if (strcmp(p->key[i], "subsample") == 0 && strtod(p->val[i], NULL) != 1.0)
            how = 2;
    }
    return how == 2 && !global_random() ? 0 : how;
}

/* The text every kept booster of these parameters shares; NULL when out of memory. */
static char *kept_params(const hf_xgb_params *p, int early_stopping, int stopping,
                         const char *metric)
{
    char *text = hf_asprintf("es=%d/%d/%s;", early_stopping, stopping, metric ? metric : "");
    for (size_t i = 0; text && i < p->n; i++) {
        char *more = hf_asprintf("%s%s=%s;", text, p->key[i], p->val[i]);
        free(text);
        text = more;
    }
    char *more = text ? hf_asprintf("%sbalanced=%d", text, p->balanced) : NULL;
    free(text);
    return more;
}

/* The kept booster of this key, taken out of the list (the caller puts it back), or NULL. */
static kept_booster *kept_take(const dm_key *train, const dm_key *valid, const char *params)
{
    kept_booster *found = NULL;
    pthread_mutex_lock(&g_kept_mu);
    for (size_t i = 0; i < g_kept_n; i++)
        if (dm_key_equal(&g_kept[i]->train, train) && dm_key_equal(&g_kept[i]->valid, valid) &&
            strcmp(g_kept[i]->params, params) == 0) {
            found = g_kept[i];
            memmove(&g_kept[i], &g_kept[i + 1], (g_kept_n - i - 1) * sizeof *g_kept);
            g_kept_n--;
            g_kept_bytes -= found->bytes;
            break;
        }
    pthread_mutex_unlock(&g_kept_mu);
    return found;
}

/* Keeps k (taken) as the most recently used, dropping the least recently used beyond the bound;
 * one larger than the bound alone, or one the list cannot hold, is freed. */
static void kept_put(kept_booster *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&g_kept_mu);
    if (k->bytes > g_kept_limit) {
        pthread_mutex_unlock(&g_kept_mu);
        kept_free(k);
        return;
    }
    while (g_kept_n > 0 && g_kept_bytes + k->bytes > g_kept_limit) {
        g_kept_bytes -= g_kept[0]->bytes;
        kept_free(g_kept[0]);
        memmove(&g_kept[0], &g_kept[1], (g_kept_n - 1) * sizeof *g_kept);
        g_kept_n--;
    }
    if (g_kept_n == g_kept_cap) {
        size_t cap = g_kept_cap ? 2 * g_kept_cap : 16;
        kept_booster **grown = realloc(g_kept, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&g_kept_mu);
            kept_free(k);
            return;
        }
        g_kept = grown;
        g_kept_cap = cap;
    }
    g_kept[g_kept_n++] = k;
    g_kept_bytes += k->bytes;
    pthread_mutex_unlock(&g_kept_mu);
}

void hf_xgb_sweep_end(uint64_t counts[2])
{
    pthread_mutex_lock(&g_kept_mu);
    for (size_t i = 0; i < g_kept_n; i++)
        kept_free(g_kept[i]);
    free(g_kept);
    g_kept = NULL;
    g_kept_n = g_kept_cap = g_kept_bytes = 0;
    counts[0] += g_kept_counts[0];
    counts[1] += g_kept_counts[1];
    g_kept_counts[0] = g_kept_counts[1] = 0;
    pthread_mutex_unlock(&g_kept_mu);
}

/* A kept booster of b (trained rounds; hist: their scores, or NULL), or NULL when out of memory
 * or libxgboost cannot serialise it (the fit then simply keeps nothing). */
static kept_booster *kept_make(BoosterHandle b, const dm_key *train, const dm_key *valid,
                               const char *params, int trained, const double *hist,
                               const mt_state *rng)
{
    bst_ulong len = 0;
    char const *raw = NULL;
    if (XGBoosterSerializeToBuffer(b, &len, &raw) != 0)
        return NULL;
    kept_booster *k = hf_calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->train = *train;
    k->valid = *valid;
    k->params = hf_strdup(params);
    k->buf = hf_malloc(len ? (size_t)len : 1);
    k->hist = hist ? hf_malloc((trained ? (size_t)trained : 1) * sizeof *hist) : NULL;
    if (!k->params || !k->buf || (hist && !k->hist)) {
        kept_free(k);
        return NULL;
    }
    memcpy(k->buf, raw, (size_t)len);
    if (hist)
        memcpy(k->hist, hist, (size_t)trained * sizeof *hist);
    k->len = (size_t)len;
    k->trained = trained;
    if (rng) {
        k->rng = *rng;
        k->has_rng = 1;
    }
    k->bytes = sizeof *k + strlen(params) + k->len + (hist ? (size_t)trained * sizeof *hist : 0);
    return k;
}

/* Before a restored booster trains (row sampling): its configuration, which a prediction forces
 * (and which seeds the generator on a new booster), then the generator set to the state of a
 * fresh run after the kept rounds, one number back: the tree updater, made anew at the first
 * round, draws one for its column sampler, which a fresh run drew before its first round. */
static int restore_rng(BoosterHandle b, DMatrixHandle dm, const mt_state *rng)
{
    bst_ulong const *shape = NULL;
    bst_ulong dim = 0;
    float const *res = NULL;
    if (XGBoosterPredictFromDMatrix(b, dm, k_predict_config, &shape, &dim, &res) != 0)
        return xgb_error("configuring a kept booster");
    mt_state *g = global_random();
    if (!g)
        return hf_error(HF_EINTERNAL, "xgboost: a kept booster with row sampling, but no "
                                      "generator to restore");
    *g = *rng;
    g->p -= HF_XGB_RNG_BACK;
    return HF_OK;
}

/* Trial i's model: the first `keep` rounds of the booster. */
static int slice_model(const hf_model_ops *ops, const hf_fit_data *d, BoosterHandle b, int keep,
                       int trained, hf_fitted **out)
{
    BoosterHandle s = NULL;
    if (keep == trained) {
        /* The whole booster: a copy through its serialisation (Slice needs a strict prefix). */
        bst_ulong len = 0;
        char const *raw = NULL;
        if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"ubj\"}", &len, &raw) != 0 ||
            XGBoosterCreate(NULL, 0, &s) != 0 || XGBoosterLoadModelFromBuffer(s, raw, len) != 0) {
            if (s)
                XGBoosterFree(s);
            return xgb_error("copying the booster");
        }
    } else if (XGBoosterSlice(b, 0, keep, 1, &s) != 0) {
        return xgb_error("keeping the best rounds");
    }
    hf_fitted *m =
        hf_fitted_new(ops, d->p, d->n_classes ? d->n_classes : 1, d->categorical ? 1 : 0);
    double *flags = m && d->categorical ? hf_fitted_array(m, 0, "categorical", 1, d->p) : NULL;
    if (!m || (d->categorical && !flags)) {
        hf_fitted_free(m);
        XGBoosterFree(s);
        return HF_ENOMEM;
    }
    for (size_t j = 0; flags && j < d->p; j++)
        flags[j] = d->categorical[j] ? 1.0 : 0.0;
    m->state = s;
    m->n_iter = keep;
    m->stop = HF_FIT_CONVERGED;
    *out = m;
    return HF_OK;
}

/* Collective over gc: hf_comm_check where a failure whose message names rabit's source (a broken
 * Rabit link: another rank left the communicator) is secondary, so that every rank reports the
 * rank whose failure caused it. Every step of a row_shard training run that can fail on one rank
 * alone ends in one of these before the next collective call, so that all ranks leave together
 * or go on together: their sequences of MPI and Rabit collectives stay the same whatever fails
 * where (issue 17). */
static int shard_agree(hf_comm *gc, int status)
{
    return hf_comm_check_cause(gc, status,
                               status < 0 && strstr(hf_error_message(), "/rabit/") != NULL);
}

/* The validation score of round r with row_shard: every rank's predictions of its validation
 * rows gathered in rank order (the shares are the table's row blocks in order, so this is the
 * single process's prediction vector) and scored on every rank by hyperfold's metric, the same
 * score everywhere, as one process would compute it. status: this rank's round so far (its
 * boosting and its predictions), agreed first; the metric's own status (it may allocate) is
 * agreed last, so that a rank whose scoring fails does not leave while the others go on to the
 * next round. Collective over gc. */
static int shard_score(hf_comm *gc, const hf_metric *metric, const double *y_all, size_t n_all,
                       const double *pv, size_t n_local, size_t n_out, size_t n_classes, int status,
                       double *s)
{
    HF_CALL(shard_agree(gc, status));
    char *all = NULL;
    size_t *lens = NULL;
    HF_CALL(hf_comm_allgather_blob(gc, pv, n_local * n_out * sizeof *pv, &all, &lens));
    size_t bytes = 0;
    for (int r = 0; r < hf_comm_size(gc); r++)
        bytes += lens[r];
    int result = bytes == n_all * n_out * sizeof(double)
                     ? hf_metric_compute(metric, y_all, (const double *)all, n_all, n_classes, s)
                     : hf_error(HF_EINTERNAL,
                                "xgboost: gathered %zu bytes of predictions for %zu "
                                "validation rows",
                                bytes, n_all);
    free(all);
    free(lens);
    return shard_agree(gc, result);
}

int hf_xgb_train(const hf_model_ops *ops, const hf_fit_data *d, const hf_xgb_params *params,
                 const int *rounds, size_t n_trials, int early_stopping, hf_fitted **out)
{
    int result = HF_OK;
    DMatrixHandle dm[2] = {NULL, NULL};
    dm_key key[2];
    BoosterHandle b = NULL;
    kept_booster *kept = NULL; /* a resumable fit's booster, kept for a promotion */
    char *kept_text = NULL;
    double *hist = NULL; /* a resumable fit: the validation score of each round */
    memset(key, 0, sizeof key);
    size_t n_out = d->n_classes ? d->n_classes : 1;
    const hf_metric *metric = d->metric ? hf_metric_find(d->metric) : NULL;
    /* row_shard on a group of several ranks: one collective training run over Rabit. */
    hf_comm *gc = d->row_shard && d->group ? hf_group_comm(d->group) : NULL;
    const int shard = gc && hf_comm_size(gc) > 1;
    int began = 0;
    double *y_all = NULL; /* row_shard with early stopping: every rank's validation targets */
    int64_t total[2] = {(int64_t)d->n, (int64_t)d->n_valid};
    for (size_t i = 0; i < n_trials; i++)
        out[i] = NULL;
    trial_track *t = hf_calloc(n_trials ? n_trials : 1, sizeof *t);
    const int may_stop = early_stopping > 0 && metric != NULL;
    double *pv = may_stop ? hf_malloc((d->n_valid ? d->n_valid : 1) * n_out * sizeof *pv) : NULL;
    pthread_once(&g_quiet_once, quiet_library);
    if (d->rows)
        result = hf_error(HF_EINTERNAL, "%s: training rows given by index", ops->name);
    else if (!t || !rounds || (may_stop && !pv))
        result = HF_ENOMEM; /* rounds NULL: the caller's copy failed, agreed here with the rest */
    if (shard && (result = hf_comm_check(gc, result)) == HF_OK)
        result = hf_comm_allreduce_sum_i64(gc, total, 2);
    if (result < 0)
        goto out;
    if (total[0] == 0) {
        result = hf_error(HF_EDATA, "%s: no training rows", ops->name);
        goto out;
    }
    int stopping = may_stop && total[1] > 0;
    int max_rounds = 0;
    for (size_t i = 0; i < n_trials; i++) {
        t[i].rounds = rounds[i];
        t[i].best = -1;
        if (rounds[i] > max_rounds)
            max_rounds = rounds[i];
    }
    const size_t balanced = params->balanced && d->n_classes ? d->n_classes : 0;
    if (shard) {
        char *all = NULL;
        size_t *lens = NULL;
        if (stopping) {
            if ((result = hf_comm_allgather_blob(gc, d->y_valid, d->n_valid * sizeof *d->y_valid,
                                                 &all, &lens)) < 0)
                goto out;
            y_all = (double *)all;
            free(lens);
        }
        if ((result = hf_rabit_begin(gc)) < 0)
            goto out;
        began = 1;
        /* shard_dmatrix agrees before libxgboost's matrix; what follows it (the feature types, the
         * labels, the weights) may fail on this rank alone: agreed before the next collective. */
        result = shard_agree(
            gc, shard_dmatrix(gc, d->X, d->y, d->n, d->p, balanced, d->categorical, &dm[0]));
        if (result == HF_OK && stopping)
            result = shard_agree(gc, shard_dmatrix(gc, d->X_valid, NULL, d->n_valid, d->p, 0,
                                                   d->categorical, &dm[1]));
        if (result < 0)
            goto out;
    } else if ((result = take_dmatrix(d->X, d->y, d->n, d->p, balanced, d->categorical, &key[0],
                                      &dm[0])) < 0 ||
               (stopping && (result = take_dmatrix(d->X_valid, NULL, d->n_valid, d->p, 0,
                                                   d->categorical, &key[1], &dm[1])) < 0)) {
        goto out;
    }
    /* A resumable fit: the booster kept by an earlier fit of these parameters, if any. */
    const int keep_how = may_keep(params, d, shard);
    if (keep_how) {
        if (!(kept_text = kept_params(params, early_stopping, stopping, d->metric)) ||
            !(hist = hf_malloc((size_t)(max_rounds > 0 ? max_rounds : 1) * sizeof *hist))) {
            result = HF_ENOMEM;
            goto out;
        }
        kept = kept_take(&key[0], &key[1], kept_text);
    }
    if (XGBoosterCreate(dm, stopping ? 2 : 1, &b) != 0)
        result = xgb_error("creating the booster");
    else if (kept && XGBoosterUnserializeFromBuffer(b, kept->buf, (bst_ulong)kept->len) != 0)
        result = xgb_error("restoring a kept booster");
    for (size_t i = 0; result == HF_OK && !kept && i < params->n; i++)
        if (XGBoosterSetParam(b, params->key[i], params->val[i]) != 0)
            result = hf_error(HF_EINVAL, "%s: parameter %s = %s: %s", ops->name, params->key[i],
                              params->val[i], hf_rabit_last_error());
    if (shard)
        result = shard_agree(gc, result);
    if (result < 0)
        goto out;
    /* trained: the rounds a fresh run would have trained so far; have: the booster's rounds. */
    int trained = 0, have = kept ? kept->trained : 0, open = 1;
    for (int r = 0; kept && r < have && r < max_rounds && open; r++) {
        trained = r + 1;
        if (stopping) {
            hist[r] = kept->hist[r];
            open = track_round(t, n_trials, metric, r, hist[r], early_stopping) > 0;
        }
    }
    if (kept && open && trained < max_rounds && kept->has_rng &&
        (result = restore_rng(b, dm[stopping ? 1 : 0], &kept->rng)) < 0)
        goto out;
    if (kept) {
        pthread_mutex_lock(&g_kept_mu);
        g_kept_counts[0]++;
        g_kept_counts[1] += (uint64_t)trained;
        pthread_mutex_unlock(&g_kept_mu);
    }
    for (int r = trained; open && r < max_rounds; r++) {
        int st = HF_OK;
        if (XGBoosterUpdateOneIter(b, r, dm[0]) != 0) {
            st = xgb_error("boosting a round");
            if (began) {
                /* Leave Rabit now: a rank still in one of its collectives fails on the closed
                 * links instead of waiting for this one. */
                hf_rabit_end(gc);
                began = 0;
            }
        }
        /* Without early stopping a round has no MPI collective: a rank that fails here goes to
         * the one agreement after the loop, and the others meet it there (their next Rabit call
         * fails on its closed links, or they finish their rounds). */
        if (st < 0 && !(shard && stopping)) {
            result = st;
            goto out;
        }
        trained = have = r + 1;
        if (!stopping)
            continue;
        double s = NAN;
        if (shard) {
            /* With early stopping every rank meets the others in shard_score, which agrees on
             * this round (boosting, prediction, score) before they all go on or all leave. A rank
             * with no validation rows predicts none. */
            if (st == HF_OK && d->n_valid)
                st = predict_dmatrix(b, dm[1], d->n_valid, n_out, pv);
            result = shard_score(gc, metric, y_all, (size_t)total[1], pv, d->n_valid, n_out,
                                 d->n_classes, st, &s);
        } else if ((result = predict_dmatrix(b, dm[1], d->n_valid, n_out, pv)) == HF_OK) {
            result = hf_metric_compute(metric, d->y_valid, pv, d->n_valid, d->n_classes, &s);
        }
        if (result < 0)
            goto out;
        if (hist)
            hist[r] = s;
        if (track_round(t, n_trials, metric, r, s, early_stopping) == 0)
            break;
    }
    /* Row sampling: the generator's state after the booster's last round, for its continuation. */
    const mt_state *rng = keep_how == 2 && have > 0 ? global_random() : NULL;
    if (rng && (rng->p < 1 || rng->p > 624))
        rng = NULL; /* not the layout it should be: nothing is kept */
    for (size_t i = 0; i < n_trials && result >= 0; i++) {
        int keep = stopping && t[i].best >= 0 ? t[i].best + 1 : rounds[i];
        result = slice_model(ops, d, b, keep, have, &out[i]);
    }
    /* Kept for a promotion: the booster as it now is, unless the kept one already had it all. */
    if (result >= 0 && hist && (!kept || have > kept->trained) && (keep_how == 1 || rng)) {
        kept_free(kept);
        kept = kept_make(b, &key[0], &key[1], kept_text, have, stopping ? hist : NULL, rng);
    }
out:
    kept_put(kept);
    free(kept_text);
    free(hist);
    if (b)
        XGBoosterFree(b);
    for (int i = 0; i < 2; i++) {
        if (shard && dm[i])
            XGDMatrixFree(dm[i]);
        else if (!shard)
            put_dmatrix(&key[i], dm[i]);
    }
    if (began) {
        int end = hf_rabit_end(gc);
        if (result >= 0)
            result = end;
    }
    /* A rank whose Rabit link broke (libxgboost's message names rabit's source) failed because
     * another rank did: the other rank's message is the one every rank reports. */
    if (shard)
        result = shard_agree(gc, result);
    if (result < 0)
        for (size_t i = 0; i < n_trials; i++) {
            hf_fitted_free(out[i]);
            out[i] = NULL;
        }
    free(t);
    free(pv);
    free(y_all);
    return result;
}

/* The model's categorical flags (its array "categorical", 1 x n_features of 0 and 1) into *out
 * (owned by the caller), or NULL when it has none. HF_EDATA for an array of another shape or
 * other values. */
static int model_categorical(const hf_fitted *m, unsigned char **out)
{
    const hf_array *a = hf_fitted_get(m, "categorical");
    *out = NULL;
    if (!a)
        return HF_OK;
    if (a->rows * a->cols != m->n_features)
        return hf_error(HF_EDATA, "%s: the model's categorical flags: %zu values, expected %zu",
                        m->ops->name, a->rows * a->cols, m->n_features);
    unsigned char *f = hf_malloc(m->n_features ? m->n_features : 1);
    if (!f)
        return HF_ENOMEM;
    for (size_t j = 0; j < m->n_features; j++) {
        if (a->data[j] != 0.0 && a->data[j] != 1.0) {
            free(f);
            return hf_error(HF_EDATA,
                            "%s: the model's categorical flag %zu: got %g, expected 0 or 1",
                            m->ops->name, j, a->data[j]);
        }
        f[j] = a->data[j] == 1.0;
    }
    *out = f;
    return HF_OK;
}

int hf_xgb_predict(const hf_fitted *m, const hf_group *g, const double *X, size_t n, size_t p,
                   double *out)
{
    (void)g; /* every rank of a group predicts on its own: boosters are small */
    if (!m->state)
        return hf_error(HF_EINTERNAL, "%s: model has no booster", m->ops->name);
    if (p != m->n_features)
        return hf_error(HF_EDATA, "%s: model has %zu features, data has %zu", m->ops->name,
                        m->n_features, p);
    if (n == 0)
        return HF_OK;
    DMatrixHandle dm = NULL;
    unsigned char *cat = NULL;
    HF_CALL(model_categorical(m, &cat));
    int made = make_dmatrix(X, NULL, n, p, 0, cat, &dm);
    free(cat);
    HF_CALL(made);
    int result = predict_dmatrix(m->state, dm, n, m->n_outputs, out);
    XGDMatrixFree(dm);
    return result;
}

int hf_xgb_save_state(hf_fitted *m)
{
    bst_ulong len = 0;
    char const *raw = NULL;
    if (XGBoosterSaveModelToBuffer(m->state, "{\"format\": \"json\"}", &len, &raw) != 0)
        return xgb_error("saving the booster");
    return hf_fitted_add_blob(m, "booster", "json", raw, (size_t)len);
}

/* ---- the booster blob, checked before libxgboost reads it ------------------------------------
 * libxgboost trusts a model buffer: a buffer that does not start with '{' is read as UBJSON, whose
 * length prefixes then size allocations (a zeroed blob asked for 495 GB: fuzz_model_h5), and the
 * JSON's counts (num_trees, num_nodes, num_class) size its arrays. hyperfold writes JSON, so the
 * blob must be a JSON document whose counts agree with its own arrays, and whose feature and class
 * counts are the model's, before libxgboost sees it. */

/* An XGBoost count: a decimal integer written as a JSON string, in [lo, hi]. */
static int json_count(json_t *o, const char *key, long long lo, long long hi, long long *out)
{
    const char *s = json_string_value(json_object_get(o, key));
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* Element i of a JSON array of integers, or `bad` where it is not one. */
static long long int_at(json_t *a, size_t i, long long bad)
{
    json_t *v = json_array_get(a, i);
    return json_is_integer(v) ? (long long)json_integer_value(v) : bad;
}

/* The categorical splits of a tree (libxgboost's RegTree::LoadCategoricalSplit reads them
 * unchecked): categories_nodes strictly increasing node indices, each with a segment
 * [categories_segments, + categories_sizes) of at least one category inside `categories`, every
 * category in [0, 2^24) (a float holds such a code exactly; a larger one sized the node's bit
 * field unchecked), and every node whose split_type is 1 among them, splitting on a feature the
 * model's flags (cat; NULL: none) say is categorical. */
static int check_categorical_splits(json_t *t, long long nodes, const unsigned char *cat,
                                    long long n_features)
{
    json_t *split_type = json_object_get(t, "split_type");
    json_t *cn = json_object_get(t, "categories_nodes");
    json_t *cs = json_object_get(t, "categories_segments");
    json_t *cz = json_object_get(t, "categories_sizes");
    json_t *cv = json_object_get(t, "categories");
    json_t *feature = json_object_get(t, "split_indices");
    size_t k = json_array_size(cn), n_cats = json_array_size(cv);
    if (json_array_size(cs) != k || json_array_size(cz) != k)
        return 0;
    long long prev = -1;
    for (size_t i = 0; i < k; i++) {
        long long node = int_at(cn, i, -1), beg = int_at(cs, i, -1), size = int_at(cz, i, -1);
        if (node <= prev || node >= nodes || beg < 0 || size < 1 || (size_t)beg > n_cats ||
            (size_t)size > n_cats - (size_t)beg || int_at(split_type, (size_t)node, 0) != 1)
            return 0;
        prev = node;
    }
    for (size_t i = 0; i < n_cats; i++) {
        long long c = int_at(cv, i, -1);
        if (c < 0 || c >= (1LL << 24))
            return 0;
    }
    size_t at = 0;
    for (size_t i = 0; i < json_array_size(split_type); i++) {
        long long st = int_at(split_type, i, -1);
        if (st == 0)
            continue;
        long long f = int_at(feature, i, -1);
        if (st != 1 || (long long)i >= nodes || !cat || f < 0 || f >= n_features || !cat[f])
            return 0;
        while (at < k && int_at(cn, at, -1) < (long long)i)
            at++;
        if (at == k || int_at(cn, at, -1) != (long long)i)
            return 0;
    }
    return 1;
}

/* A tree libxgboost can walk: its arrays hold num_nodes entries, and from the root every split
 * node has two children inside the tree that no other node has (a cycle made prediction loop
 * forever: fuzz_model_h5), splits on a feature of the model, and numeric splits, or categorical
 * ones on the model's categorical features (check_categorical_splits). */
static int check_tree(json_t *t, long long n_features, const unsigned char *cat)
{
    static const char *const arrays[] = {"left_children", "right_children",   "parents",
                                         "split_indices", "split_conditions", "default_left",
                                         "base_weights",  "loss_changes",     "sum_hessian"};
    long long nodes = 0;
    if (!json_count(json_object_get(t, "tree_param"), "num_nodes", 1, 1 << 30, &nodes))
        return 0;
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        json_t *a = json_object_get(t, arrays[i]);
        if (!json_is_array(a) || (long long)json_array_size(a) != nodes)
            return 0;
    }
    if (!check_categorical_splits(t, nodes, cat, n_features))
        return 0;
    json_t *left = json_object_get(t, "left_children");
    json_t *right = json_object_get(t, "right_children");
    json_t *feature = json_object_get(t, "split_indices");
    unsigned char *seen = hf_calloc((size_t)nodes, 1);
    long long *stack = hf_malloc((size_t)nodes * sizeof *stack);
    int ok = seen && stack;
    size_t top = 0;
    if (ok) {
        stack[top++] = 0;
        seen[0] = 1;
    }
    while (ok && top > 0) {
        size_t i = (size_t)stack[--top];
        long long l = int_at(left, i, -2), r = int_at(right, i, -2);
        if (l == -1 && r == -1)
            continue; /* a leaf */
        long long f = int_at(feature, i, -1);
        ok = l >= 0 && l < nodes && r >= 0 && r < nodes && l != r && !seen[l] && !seen[r] &&
             f >= 0 && f < n_features;
        if (ok) {
            seen[l] = seen[r] = 1;
            stack[top++] = l; /* at most nodes entries: each node is pushed once */
            stack[top++] = r;
        }
    }
    free(seen);
    free(stack);
    return ok;
}

/* A copy of the JSON text t (len bytes) with XGBoost's bare NaN numbers (the split_conditions of
 * categorical splits) written 0e0, which jansson reads (it refuses NaN); NULL when out of memory.
 * Only for the checks: libxgboost reads the blob itself. */
static char *nan_as_zero(const unsigned char *t, size_t len)
{
    char *c = hf_malloc(len ? len : 1);
    if (!c)
        return NULL;
    memcpy(c, t, len);
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (c[i] == '\\')
                i++;
            else if (c[i] == '"')
                in_string = 0;
        } else if (c[i] == '"') {
            in_string = 1;
        } else if (c[i] == 'N' && i + 3 <= len && memcmp(c + i, "NaN", 3) == 0) {
            memcpy(c + i, "0e0", 3);
            i += 2;
        }
    }
    return c;
}

static int check_booster_json(const hf_fitted *m, const hf_blob *b, const unsigned char *cat)
{
    json_error_t err;
    json_t *root = NULL;
    char *text = b->len > 0 && b->data[0] == '{' ? nan_as_zero(b->data, b->len) : NULL;
    int ok = strcmp(b->format, "json") == 0 && text &&
             (root = json_loadb(text, b->len, 0, &err)) != NULL;
    free(text);
    json_t *learner = json_object_get(root, "learner");
    json_t *lp = json_object_get(learner, "learner_model_param");
    json_t *model = json_object_get(json_object_get(learner, "gradient_booster"), "model");
    json_t *trees = json_object_get(model, "trees"), *info = json_object_get(model, "tree_info");
    long long nf = 0, nc = 0, nt = 0;
    ok = ok && json_count(lp, "num_feature", 0, 1 << 24, &nf) && (size_t)nf == m->n_features &&
         json_count(lp, "num_class", 0, 1 << 24, &nc) &&
         (size_t)(nc > 2 ? nc : 1) == (m->n_outputs > 2 ? m->n_outputs : 1) &&
         json_count(json_object_get(model, "gbtree_model_param"), "num_trees", 0, 1 << 30, &nt) &&
         json_is_array(trees) && (long long)json_array_size(trees) == nt && json_is_array(info) &&
         (long long)json_array_size(info) == nt;
    for (size_t i = 0; ok && i < json_array_size(trees); i++)
        ok = check_tree(json_array_get(trees, i), nf, cat);
    json_decref(root);
    if (!ok)
        return hf_error(HF_EDATA,
                        "%s: the model file's booster is not a JSON booster of %zu features and "
                        "%zu outputs whose trees hold the nodes they count and are trees",
                        m->ops->name, m->n_features, m->n_outputs);
    return HF_OK;
}

int hf_xgb_load_state(hf_fitted *m)
{
    const hf_blob *blob = hf_fitted_blob(m, "booster");
    BoosterHandle b = NULL;
    char threads[32];
    pthread_once(&g_quiet_once, quiet_library);
    if (!blob)
        return hf_error(HF_EDATA, "%s: model file has no booster", m->ops->name);
    unsigned char *cat = NULL;
    HF_CALL(model_categorical(m, &cat));
    int checked = check_booster_json(m, blob, cat);
    free(cat);
    HF_CALL(checked);
    snprintf(threads, sizeof threads, "%d", rank_threads());
    if (XGBoosterCreate(NULL, 0, &b) != 0 ||
        XGBoosterLoadModelFromBuffer(b, blob->data, (bst_ulong)blob->len) != 0 ||
        XGBoosterSetParam(b, "nthread", threads) != 0) {
        int result = hf_error(HF_EDATA, "%s: the model file's booster: %s", m->ops->name,
                              hf_rabit_last_error());
        if (b)
            XGBoosterFree(b);
        return result;
    }
    bst_ulong nf = 0;
    if (XGBoosterGetNumFeature(b, &nf) != 0 || (size_t)nf != m->n_features) {
        XGBoosterFree(b);
        return hf_error(HF_EDATA, "%s: the booster has %llu features, the model %zu", m->ops->name,
                        (unsigned long long)nf, m->n_features);
    }
    int rounds = 0;
    if (XGBoosterBoostedRounds(b, &rounds) == 0)
        m->n_iter = rounds;
    m->state = b;
    return HF_OK;
}

void hf_xgb_free_state(hf_fitted *m)
{
    if (m->state)
        XGBoosterFree(m->state);
    m->state = NULL;
}

int hf_xgb_preflight(const hf_group *group, size_t n, size_t p, size_t n_trials,
                     uint64_t memory_per_rank)
{
    (void)group;
    (void)n_trials; /* (the trials of one call share the matrix) */
    char what[96];
    snprintf(what, sizeof what, "libxgboost: the %zux%zu training rows as float32 and as a DMatrix",
             n, p);
    return hf_group_check_bytes(8 * (uint64_t)n * p, memory_per_rank, what);
}
