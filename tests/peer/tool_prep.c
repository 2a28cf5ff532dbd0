/* tool_prep.c - helper of tests/peer/test_pipeline_peer.py and the peer tests of the steps
 * (prep_steps_lib.py); not a test by itself.
 *
 * Reads a dataset of codes written by the Python test, builds the folds with hf_folds_make, and
 * for every split fits the preprocessing on the training rows, round-trips it through
 * hf_prep_export/hf_prep_import and writes the design matrix of all rows.
 *
 * Input (whitespace-separated tokens):
 *   features P
 *   P lines: <N|B|C|D> <name> <n_categories> <category>... (D: the numeric part of a datetime
 *            column, named SOURCE.PART, e.g. "when.dayofweek": hf_column.source and .part set)
 *   config <mean|median|most_frequent|constant> <most_frequent|constant> <fill_given 0|1>
 *          <fill_text> <indicator 0|1> <none|standard|minmax> <min_frequency>
 *   optionally: steps <clip_lower> <clip_upper> <none|yeo-johnson|box-cox> <kbins>
 *          <polynomial 0|2> <interaction_only 0|1> <onehot|ordinal|frequency|target>
 *          <max_categories> <log1p 0|1> <seed> <none|regression|binary>
 *          <kbins_encode ordinal|onehot>
 *          (regression or binary: every row line has the target after its key; binary makes
 *          the task classification with classes "0" and "1")
 *   cv <predefined|group|timeseries|kfold|stratified> <folds>
 *   rows N
 *   N lines: <key> [<target>] <value>... ("nan" for missing; codes for categorical/boolean
 *            columns); <key> is the fold value, the group code or the integer order key
 * Output: per split "split K", "train <rows>", "valid <rows>", "names <names>", with a power
 * transform "lambdas" and the fitted lambda of each input column (1 for other columns), then
 * "matrix R C" and R lines of C values (%.17g); with target encoding also "inner <inner fold of
 * each training row>" and "fitrows R C" with R lines: hf_prep_transform_fit_rows of the training
 * rows (their cross-fitted encodings). Exit status 0 on success, 1 on any failure (message on
 * stderr). */
#include "common/dataset.h"
#include "common/hf.h"
#include "shards/datetime.h"
#include "worker/folds.h"
#include "worker/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_token(FILE *in, char *buf, size_t len)
{
    char fmt[32];
    snprintf(fmt, sizeof fmt, "%%%zus", len - 1);
    if (fscanf(in, fmt, buf) != 1)
        return hf_error(HF_EINVAL, "tool_prep: unexpected end of input");
    return 0;
}

static int read_expect(FILE *in, const char *word)
{
    char buf[64];
    HF_CALL(read_token(in, buf, sizeof buf));
    if (strcmp(buf, word) != 0)
        return hf_error(HF_EINVAL, "tool_prep: got \"%s\", expected \"%s\"", buf, word);
    return 0;
}

static int read_number(FILE *in, double *out)
{
    char buf[64], *end = NULL;
    HF_CALL(read_token(in, buf, sizeof buf));
    *out = strtod(buf, &end);
    if (end == buf || *end)
        return hf_error(HF_EINVAL, "tool_prep: got \"%s\", expected a number", buf);
    return 0;
}

static int read_size(FILE *in, size_t *out)
{
    double v;
    HF_CALL(read_number(in, &v));
    if (!(v >= 0) || v != floor(v))
        return hf_error(HF_EINVAL, "tool_prep: got %g, expected a count", v);
    *out = (size_t)v;
    return 0;
}

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int read_input(FILE *in, hf_dataset *d, hf_prep_config *cfg, hf_cv_opts *spec)
{
    int with_y = 0;
    char buf[256];
    size_t p = 0, n = 0;
    hf_schema *s = hf_calloc(1, sizeof *s);
    if (!s)
        return HF_ENOMEM;
    d->schema = s;
    s->task = HF_TASK_REGRESSION;
    s->target = hf_strdup("y");
    s->fold_column = hf_strdup("fold");
    HF_CALL(read_expect(in, "features"));
    HF_CALL(read_size(in, &p));
    s->features = hf_calloc(p ? p : 1, sizeof *s->features);
    if (!s->features)
        return HF_ENOMEM;
    s->n_features = p;
    for (size_t j = 0; j < p; j++) {
        hf_column *c = &s->features[j];
        HF_CALL(read_token(in, buf, sizeof buf));
        c->type = buf[0] == 'C'   ? HF_COL_CATEGORICAL
                  : buf[0] == 'B' ? HF_COL_BOOLEAN
                                  : HF_COL_NUMERIC;
        int derived = buf[0] == 'D'; /* a datetime column's part: "when.dayofweek" */
        HF_CALL(read_token(in, buf, sizeof buf));
        c->name = hf_strdup(buf);
        if (derived) {
            const char *dot = strrchr(buf, '.');
            if (!dot || !(c->part = hf_dt_part_from_name(dot + 1)))
                return hf_error(HF_EINVAL, "tool_prep: D %s: expected SOURCE.PART", buf);
            c->source = hf_strndup(buf, (size_t)(dot - buf));
        }
        HF_CALL(read_size(in, &c->n_categories));
        if (c->n_categories) {
            c->categories = hf_calloc(c->n_categories, sizeof *c->categories);
            if (!c->categories)
                return HF_ENOMEM;
            for (size_t k = 0; k < c->n_categories; k++) {
                HF_CALL(read_token(in, buf, sizeof buf));
                c->categories[k] = hf_strdup(buf);
            }
        }
    }
    static const char *const impute[] = {"mean", "median", "most_frequent", "constant"};
    static const char *const scale[] = {"none", "standard", "minmax"};
    double v;
    hf_prep_config_default(cfg);
    HF_CALL(read_expect(in, "config"));
    HF_CALL(read_token(in, buf, sizeof buf));
    cfg->impute_numeric = (hf_impute_kind)lookup(buf, impute, 4);
    HF_CALL(read_token(in, buf, sizeof buf));
    cfg->impute_categorical = (hf_impute_kind)lookup(buf, impute, 4);
    HF_CALL(read_number(in, &v));
    cfg->fill_given = v != 0;
    HF_CALL(read_token(in, buf, sizeof buf));
    if (cfg->fill_given) {
        char *end = NULL;
        if (strlen(buf) >= sizeof cfg->fill_text)
            return hf_error(HF_EINVAL, "tool_prep: fill text too long");
        memcpy(cfg->fill_text, buf, strlen(buf) + 1);
        cfg->fill_number = strtod(buf, &end);
        if (end == buf || *end)
            cfg->fill_number = NAN;
    }
    HF_CALL(read_number(in, &v));
    cfg->indicator = v != 0;
    HF_CALL(read_token(in, buf, sizeof buf));
    cfg->scale = (hf_scale_kind)lookup(buf, scale, 3);
    HF_CALL(read_number(in, &v));
    cfg->min_frequency = (int64_t)v;
    if ((int)cfg->impute_numeric < 0 || (int)cfg->impute_categorical < 0 || (int)cfg->scale < 0)
        return hf_error(HF_EINVAL, "tool_prep: bad config line");
    static const char *const strategies[] = {"kfold", "stratified", "predefined", "group",
                                             "timeseries"};
    HF_CALL(read_token(in, buf, sizeof buf));
    if (strcmp(buf, "steps") == 0) {
        static const char *const power[] = {"none", "yeo-johnson", "box-cox"};
        static const char *const encode[] = {"onehot", "ordinal", "frequency", "target"};
        HF_CALL(read_number(in, &cfg->clip_lower));
        HF_CALL(read_number(in, &cfg->clip_upper));
        HF_CALL(read_token(in, buf, sizeof buf));
        int pw = lookup(buf, power, 3);
        HF_CALL(read_number(in, &v));
        cfg->kbins = (int64_t)v;
        HF_CALL(read_number(in, &v));
        cfg->polynomial = (int64_t)v;
        HF_CALL(read_number(in, &v));
        cfg->interaction_only = v != 0;
        HF_CALL(read_token(in, buf, sizeof buf));
        int en = lookup(buf, encode, 4);
        HF_CALL(read_number(in, &v));
        cfg->max_categories = (int64_t)v;
        HF_CALL(read_number(in, &v));
        cfg->log1p = v != 0;
        HF_CALL(read_number(in, &v));
        cfg->seed = (uint64_t)v;
        HF_CALL(read_token(in, buf, sizeof buf));
        with_y = strcmp(buf, "none") != 0;
        char kb[32];
        HF_CALL(read_token(in, kb, sizeof kb));
        cfg->kbins_onehot = strcmp(kb, "onehot") == 0;
        if (strcmp(buf, "binary") == 0) {
            s->task = HF_TASK_CLASSIFICATION;
            s->n_classes = 2;
            s->classes = hf_calloc(2, sizeof *s->classes);
            if (!s->classes || !(s->classes[0] = hf_strdup("0")) ||
                !(s->classes[1] = hf_strdup("1")))
                return HF_ENOMEM;
        }
        if (pw < 0 || en < 0)
            return hf_error(HF_EINVAL, "tool_prep: bad steps line");
        cfg->power = (hf_power_kind)pw;
        cfg->encode = (hf_encode_kind)en;
        HF_CALL(read_token(in, buf, sizeof buf));
    }
    if (strcmp(buf, "cv") != 0)
        return hf_error(HF_EINVAL, "tool_prep: got \"%s\", expected \"cv\"", buf);
    HF_CALL(read_token(in, buf, sizeof buf));
    int st = lookup(buf, strategies, 5);
    if (st < 0)
        return hf_error(HF_EINVAL, "tool_prep: unknown strategy %s", buf);
    spec->strategy = (hf_cv_strategy)st;
    HF_CALL(read_number(in, &v));
    spec->folds = (int)v;
    HF_CALL(read_expect(in, "rows"));
    HF_CALL(read_size(in, &n));
    d->n_rows = n;
    size_t cells = n * p > 0 ? n * p : 1;
    d->X = hf_malloc(cells * sizeof *d->X);
    d->y = hf_calloc(n ? n : 1, sizeof *d->y);
    d->row = hf_malloc((n ? n : 1) * sizeof *d->row);
    d->fold = hf_malloc((n ? n : 1) * sizeof *d->fold);
    if (!d->X || !d->y || !d->row || !d->fold)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        d->row[i] = (int64_t)i;
        HF_CALL(read_number(in, &v));
        d->fold[i] = (int64_t)v;
        if (with_y)
            HF_CALL(read_number(in, &d->y[i]));
        for (size_t j = 0; j < p; j++)
            HF_CALL(read_number(in, &d->X[i * p + j]));
    }
    /* The first column of a row is the fold value, the group code or the order key. */
    if (spec->strategy == HF_CV_GROUP) {
        d->group = d->fold;
        d->fold = NULL;
    } else if (spec->strategy == HF_CV_TIMESERIES) {
        d->order = hf_malloc((n ? n : 1) * sizeof *d->order);
        if (!d->order)
            return HF_ENOMEM;
        for (size_t i = 0; i < n; i++)
            d->order[i] = (double)d->fold[i];
        free(d->fold);
        d->fold = NULL;
    }
    return 0;
}

static void write_rows(FILE *out, const char *label, const int64_t *v, size_t n)
{
    fprintf(out, "%s", label);
    for (size_t i = 0; i < n; i++)
        fprintf(out, " %lld", (long long)v[i]);
    fprintf(out, "\n");
}

static int run_split(FILE *out, const hf_dataset *d, const hf_prep_config *cfg, const hf_split *s)
{
    int result = 0;
    hf_prep *fitted = NULL, *loaded = NULL;
    hf_array *arrays = NULL;
    size_t n_arrays = 0;
    char *json = NULL;
    double *a = NULL, *b = NULL;
    result = hf_prep_fit_y(cfg, d->schema, d->X, d->y, s->train, s->n_train, NULL, &fitted);
    if (result < 0)
        goto out;
    result = hf_prep_export(fitted, &arrays, &n_arrays, &json);
    if (result < 0)
        goto out;
    result = hf_prep_import(d->schema, arrays, n_arrays, json, &loaded);
    if (result < 0)
        goto out;
    size_t w = hf_prep_n_outputs(loaded), n = d->n_rows;
    size_t cells = n * w > 0 ? n * w : 1;
    a = hf_malloc(cells * sizeof *a);
    b = hf_malloc(cells * sizeof *b);
    if (!a || !b) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_prep_transform(fitted, d->X, NULL, n, a);
    if (result >= 0)
        result = hf_prep_transform(loaded, d->X, NULL, n, b);
    if (result < 0)
        goto out;
    if (memcmp(a, b, n * w * sizeof *a) != 0) {
        result = hf_error(HF_EINTERNAL, "tool_prep: imported pipeline transforms differently");
        goto out;
    }
    fprintf(out, "split %d\n", s->fold);
    write_rows(out, "train", s->train, s->n_train);
    write_rows(out, "valid", s->valid, s->n_valid);
    fprintf(out, "names");
    for (size_t k = 0; k < w; k++)
        fprintf(out, " %s", hf_prep_output_names(loaded)[k]);
    fprintf(out, "\n");
    if (cfg->power != HF_POWER_NONE) {
        /* the lambdas as stored in model.h5: column 2 of prep.num */
        const hf_array *num = NULL;
        for (size_t k = 0; k < n_arrays; k++)
            if (strcmp(arrays[k].name, "prep.num") == 0)
                num = &arrays[k];
        if (!num) {
            result = hf_error(HF_EINTERNAL, "tool_prep: no prep.num array");
            goto out;
        }
        fprintf(out, "lambdas");
        for (size_t j = 0; j < num->rows; j++)
            fprintf(out, " %.17g", num->data[j * 6 + 2]);
        fprintf(out, "\n");
    }
    fprintf(out, "matrix %zu %zu\n", n, w);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < w; k++)
            fprintf(out, "%.17g%c", b[i * w + k], k + 1 == w ? '\n' : ' ');
    size_t n_fit = 0;
    const int *inner = hf_prep_inner_folds(fitted, &n_fit);
    if (inner) {
        fprintf(out, "inner");
        for (size_t i = 0; i < n_fit; i++)
            fprintf(out, " %d", inner[i]);
        fprintf(out, "\n");
        result = hf_prep_transform_fit_rows(fitted, d->X, s->train, s->n_train, a);
        if (result < 0)
            goto out;
        fprintf(out, "fitrows %zu %zu\n", s->n_train, w);
        for (size_t i = 0; i < s->n_train; i++)
            for (size_t k = 0; k < w; k++)
                fprintf(out, "%.17g%c", a[i * w + k], k + 1 == w ? '\n' : ' ');
    }
out:
    hf_prep_free(fitted);
    hf_prep_free(loaded);
    hf_prep_export_free(arrays, n_arrays, json);
    free(a);
    free(b);
    return result;
}

int main(int argc, char **argv)
{
    int result = 0;
    FILE *in = NULL;
    hf_dataset *d = NULL;
    hf_folds *folds = NULL;
    hf_prep_config cfg;
    if (argc != 2) {
        result = hf_error(HF_EINVAL, "usage: tool_prep INPUT > OUTPUT");
        goto out;
    }
    in = fopen(argv[1], "r");
    d = hf_calloc(1, sizeof *d);
    if (!in || !d) {
        result = hf_error(HF_EIO, "tool_prep: cannot open %s", argv[1]);
        goto out;
    }
    hf_cv_opts spec;
    hf_cv_opts_init(&spec);
    result = read_input(in, d, &cfg, &spec);
    if (result < 0)
        goto out;
    result = hf_folds_make(&spec, d, &folds);
    if (result < 0)
        goto out;
    for (size_t k = 0; k < folds->n_splits; k++) {
        result = run_split(stdout, d, &cfg, &folds->splits[k]);
        if (result < 0)
            goto out;
    }
out:
    if (result < 0)
        fprintf(stderr, "tool_prep: %s\n", hf_error_message());
    if (in)
        fclose(in);
    hf_folds_free(folds);
    hf_dataset_free(d);
    return result < 0 ? 1 : 0;
}
