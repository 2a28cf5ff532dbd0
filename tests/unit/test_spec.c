/* test_spec.c - job spec parsing, defaults, validation messages and data checks (jobs/spec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/hf.h"
#include "common/suggest.h"
#include "jobs/spec.h"
#include "worker/metrics.h"
#include "worker/model.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_DIR HF_SOURCE_DIR "/tests/data/specs"

static hf_spec *parse_ok(const char *text)
{
    hf_spec *spec = NULL;
    hf_error_clear();
    int rc = hf_spec_parse("job.yaml", text, strlen(text), &spec);
    if (rc != HF_OK)
        print_error("unexpected error: %s\n", hf_error_message());
    assert_int_equal(rc, HF_OK);
    assert_non_null(spec);
    return spec;
}

/* Parses text that must fail and returns the message (static until the next call). */
static const char *parse_fail(const char *text)
{
    hf_spec *spec = NULL;
    hf_error_clear();
    int rc = hf_spec_parse("job.yaml", text, strlen(text), &spec);
    assert_int_equal(rc, HF_EINVAL);
    assert_null(spec);
    const char *msg = hf_error_message();
    assert_null(strchr(msg, '\n'));
    return msg;
}

static void assert_message(const char *text, const char *expected)
{
    const char *msg = parse_fail(text);
    if (strcmp(msg, expected) != 0)
        print_error("got      %s\nexpected %s\n", msg, expected);
    assert_string_equal(msg, expected);
}

static const hf_param_space *param(const hf_spec *s, const char *name)
{
    long i = hf_space_index(&s->space, name);
    if (i < 0)
        print_error("no parameter %s\n", name);
    assert_true(i >= 0);
    return &s->space.params[i];
}

#define MINIMAL "name: t\ndata:\n  source: d.csv\n  target: y\n"

/* (issue 18) A spec nested 100,000 deep or with 50,000 keys in a mapping is refused at once. */
static void test_spec_shape(void **state)
{
    (void)state;
    size_t n = 100000, len = 0;
    char *deep = malloc(2 * n + 64), *wide = malloc(n * 16 + 64);
    assert_non_null(deep);
    assert_non_null(wide);
    len = (size_t)sprintf(deep, "name: t\ndata: ");
    memset(deep + len, '[', n);
    memset(deep + len + n, ']', n);
    deep[len + 2 * n] = '\0';
    assert_message(deep, "job.yaml:2:70: got nesting deeper than 64 levels, expected a job spec");
    len = (size_t)sprintf(wide, "name: t\ndata:\n");
    for (size_t i = 0; i < 50000; i++)
        len += (size_t)sprintf(wide + len, "  k%zu: 1\n", i);
    assert_message(wide, "job.yaml:1003:3: got a mapping of more than 1000 keys, expected a job "
                         "spec's few");
    free(deep);
    free(wide);
}

static void test_full_spec(void **state)
{
    (void)state;
    hf_spec *s = NULL;
    hf_error_clear();
    assert_int_equal(hf_spec_load(SPEC_DIR "/good_full.yaml", &s), HF_OK);
    assert_string_equal(s->name, "diabetes-ridge");
    assert_int_equal(strlen(s->sha256), 64);
    assert_non_null(strstr(s->text, "diabetes-ridge"));
    assert_string_equal(s->data.source, "examples/data/diabetes.csv");
    assert_string_equal(s->data.target, "target");
    assert_int_equal(s->data.task, HF_TASK_REGRESSION);
    assert_int_equal(s->data.delimiter, ',');
    assert_int_equal(s->data.n_na_values, 3);
    assert_string_equal(s->data.na_values[0], "");
    assert_string_equal(s->data.na_values[2], "?");
    assert_int_equal(s->data.n_columns, 2);
    assert_string_equal(s->data.column_names[0], "sex");
    assert_int_equal(s->data.column_types[0], HF_COL_CATEGORICAL);
    assert_int_equal(s->data.column_types[1], HF_COL_BOOLEAN);
    assert_int_equal(s->data.n_drop, 1);
    assert_string_equal(s->data.drop[0], "customer_id");
    assert_int_equal(s->data.skip_bad_rows, 1);
    assert_int_equal(s->data.shard_count, 8);
    assert_int_equal(s->cv.folds, 4);
    assert_int_equal(s->cv.strategy, HF_CV_GROUP);
    char at[600];
    assert_string_equal(s->cv.group_column, "g");
    assert_int_equal(s->cv.seed, 42);
    assert_int_equal(s->cv.repeats, 2);
    assert_true(s->cv.holdout == 0.2);
    assert_string_equal(hf_spec_where(s, "cv.folds", at, sizeof at),
                        SPEC_DIR "/good_full.yaml:15:10");

    assert_string_equal(s->model_type, "ridge");

    /* Model params in spec order, then omitted ones at their defaults, then preprocess.* */
    const char *order[] = {"alpha",
                           "fit_intercept",
                           "max_iter",
                           "tol",
                           "preprocess.impute.numeric",
                           "preprocess.impute.categorical",
                           "preprocess.impute.indicator",
                           "preprocess.scale",
                           "preprocess.categorical",
                           "preprocess.min_frequency"};
    assert_int_equal(s->space.n_params, sizeof order / sizeof order[0]);
    for (size_t i = 0; i < s->space.n_params; i++)
        assert_string_equal(s->space.params[i].name, order[i]);
    const hf_param_space *alpha = param(s, "alpha");
    assert_int_equal(alpha->kind, HF_PARAM_LOG_UNIFORM);
    assert_true(alpha->low == 1e-3 && alpha->high == 1e3);
    assert_int_equal(alpha->grid_points, 7);
    assert_int_equal(alpha->value_type, HF_VAL_NUMBER);
    assert_string_equal(hf_spec_where(s, "model.params.alpha", at, sizeof at),
                        SPEC_DIR "/good_full.yaml:24:12");

    const hf_param_space *fi = param(s, "fit_intercept");
    assert_int_equal(fi->kind, HF_PARAM_CHOICE);
    assert_int_equal(fi->n_choices, 2);
    assert_int_equal(fi->choices[0].type, HF_VAL_BOOL);
    assert_int_equal(fi->choices[0].u.b, 1);
    assert_int_equal(fi->choices[1].u.b, 0);
    const hf_param_space *mi = param(s, "max_iter");
    assert_int_equal(mi->kind, HF_PARAM_FIXED);
    assert_int_equal(mi->fixed.type, HF_VAL_INT);
    assert_int_equal(mi->fixed.u.i, 500);
    /* tol was omitted: the model's default, as a fixed value. */
    const hf_model_ops *ridge = hf_model_find("ridge");
    assert_non_null(ridge);
    hf_value def;
    assert_int_equal(
        hf_model_param_default(&ridge->params[hf_model_param_index(ridge, "tol")], &def), HF_OK);
    const hf_param_space *tol = param(s, "tol");
    assert_int_equal(tol->kind, HF_PARAM_FIXED);
    assert_true(hf_value_equal(&tol->fixed, &def));
    assert_string_equal(hf_spec_where(s, "model.params.tol", at, sizeof at),
                        SPEC_DIR "/good_full.yaml");
    const hf_param_space *scale = param(s, "preprocess.scale");
    assert_int_equal(scale->kind, HF_PARAM_CHOICE);
    assert_string_equal(scale->choices[0].u.str, "standard");
    assert_string_equal(scale->choices[1].u.str, "none");
    assert_string_equal(param(s, "preprocess.impute.numeric")->fixed.u.str, "median");
    assert_int_equal(param(s, "preprocess.impute.indicator")->fixed.type, HF_VAL_BOOL);
    assert_int_equal(param(s, "preprocess.min_frequency")->fixed.type, HF_VAL_INT);
    assert_int_equal(param(s, "preprocess.min_frequency")->fixed.u.i, 2);

    assert_int_equal(s->search.strategy, HF_SEARCH_GRID);
    assert_int_equal(s->search.seed, 7);
    assert_int_equal(s->search.error_score_given, 1);
    assert_true(s->search.error_score == -1.5);
    assert_string_equal(s->objective.metric, "rmse");
    assert_int_equal(s->objective.n_report, 2);
    assert_string_equal(s->objective.report[1], "mae");
    assert_string_equal(s->output.dir, "runs/diabetes");
    assert_string_equal(s->output.upload, "s3://bucket/prefix/");
    assert_string_equal(s->output.sse, "aws:kms");
    assert_string_equal(s->output.kms_key_id, "alias/hyperfold");
    assert_string_equal(s->s3.endpoint, "http://127.0.0.1:9000");
    assert_string_equal(s->s3.region, "eu-west-1");
    assert_int_equal(s->s3.path_style, 1);
    assert_int_equal(s->parallel.ranks_per_task, 4);
    assert_int_equal(s->parallel.grid_rows, 2);
    assert_int_equal(s->parallel.grid_cols, 2);
    assert_int_equal(s->parallel.block_size, 64);
    assert_true(s->parallel.memory_per_rank == 2ull << 30);
    assert_string_equal(s->slurm.partition, "batch");
    assert_string_equal(s->slurm.account, "ml");
    assert_string_equal(s->slurm.time, "01:00:00");
    assert_int_equal(s->slurm.nodes, 2);
    assert_int_equal(s->slurm.ntasks_per_node, 4);

    /* Round trip: parsing the stored text again gives the same spec. */
    hf_spec *again = NULL;
    assert_int_equal(hf_spec_parse(s->path, s->text, strlen(s->text), &again), HF_OK);
    assert_string_equal(again->sha256, s->sha256);
    assert_int_equal(again->space.n_params, s->space.n_params);
    for (size_t i = 0; i < s->space.n_params; i++) {
        assert_string_equal(again->space.params[i].name, s->space.params[i].name);
        assert_int_equal(again->space.params[i].kind, s->space.params[i].kind);
    }
    hf_spec_free(again);
    hf_spec_free(s);
}

static void test_defaults(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(MINIMAL "model:\n  type: ridge\n");
    /* ridge is a regression model: the task is implied by it. */
    assert_int_equal(s->data.task, HF_TASK_REGRESSION);
    assert_string_equal(s->task_why, "model.type ridge");
    assert_int_equal(s->data.delimiter, 0);
    const char *na[] = {"", "NA", "NaN", "null", "?"};
    assert_int_equal(s->data.n_na_values, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(s->data.na_values[i], na[i]);
    assert_int_equal(s->data.skip_bad_rows, 0);
    assert_int_equal(s->data.shard_count, 0);
    assert_int_equal(s->cv.folds, 5);
    assert_int_equal(s->cv.strategy, HF_CV_AUTO);
    assert_int_equal(hf_cv_strategy_for(&s->cv, s->data.task), HF_CV_KFOLD);

    assert_int_equal(s->cv.repeats, 1);
    assert_true(s->cv.holdout == 0.0);
    assert_int_equal(s->cv.seed, 0);
    assert_int_equal(s->search.strategy, HF_SEARCH_GRID);
    assert_int_equal(s->search.trials, 10);
    assert_int_equal(s->search.error_score_given, 0);
    assert_true(isnan(s->search.error_score));
    assert_string_equal(s->objective.metric, "r2");
    assert_string_equal(s->output.dir, "runs");
    assert_null(s->output.upload);
    assert_int_equal(s->s3.path_style, -1);
    assert_int_equal(s->parallel.ranks_per_task, 1);
    assert_int_equal(s->parallel.grid_rows, 0);
    assert_true(s->parallel.memory_per_rank == 0);
    /* Every ridge parameter is present, fixed at its default; no preprocess entries. */
    const hf_model_ops *ridge = hf_model_find("ridge");
    assert_int_equal(s->space.n_params, ridge->n_params);
    for (size_t i = 0; i < ridge->n_params; i++) {
        hf_value def;
        assert_int_equal(hf_model_param_default(&ridge->params[i], &def), HF_OK);
        assert_string_equal(s->space.params[i].name, ridge->params[i].name);
        assert_int_equal(s->space.params[i].kind, HF_PARAM_FIXED);
        assert_int_equal(s->space.params[i].value_type, ridge->params[i].type);
        assert_true(hf_value_equal(&s->space.params[i].fixed, &def));
        hf_value_free(&def);
    }

    /* Data typed as the other task is refused when the task is resolved after ingest. */
    hf_error_clear();
    assert_int_equal(hf_spec_resolve_task(s, HF_TASK_CLASSIFICATION), HF_EINVAL);
    hf_error_clear();
    assert_int_equal(hf_spec_resolve_task(s, HF_TASK_REGRESSION), HF_OK);
    assert_int_equal(hf_cv_strategy_for(&s->cv, s->data.task), HF_CV_KFOLD);
    hf_spec_free(s);

    /* A classifier implies classification, with its defaults. */
    s = parse_ok(MINIMAL "model:\n  type: logistic_regression\n");
    assert_int_equal(s->data.task, HF_TASK_CLASSIFICATION);
    assert_string_equal(s->task_why, "model.type logistic_regression");
    assert_int_equal(hf_cv_strategy_for(&s->cv, s->data.task), HF_CV_STRATIFIED);
    assert_string_equal(s->objective.metric, "accuracy");
    assert_int_equal(hf_spec_resolve_task(s, HF_TASK_CLASSIFICATION), HF_OK);
    hf_spec_free(s);

    s = parse_ok(MINIMAL "  task: regression\nmodel: {type: ridge}\n");
    assert_string_equal(s->objective.metric, "r2");
    assert_int_equal(hf_cv_strategy_for(&s->cv, s->data.task), HF_CV_KFOLD);
    hf_spec_free(s);
    s = parse_ok(MINIMAL "  task: classification\nmodel: {type: logistic_regression}\n");
    assert_string_equal(s->objective.metric, "accuracy");
    assert_int_equal(hf_cv_strategy_for(&s->cv, s->data.task), HF_CV_STRATIFIED);
    assert_int_equal(s->cv.strategy, HF_CV_AUTO);
    hf_spec_free(s);
}

/* Every tests/data/specs/bad_*.yaml states the message it must produce in "# expect: " lines
 * (each a substring of the message); every good_*.yaml must load. */
static void test_fixture_files(void **state)
{
    (void)state;
    DIR *d = opendir(SPEC_DIR);
    assert_non_null(d);
    int n_bad = 0, n_good = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", SPEC_DIR, e->d_name);
        hf_spec *s = NULL;
        hf_error_clear();
        int rc = hf_spec_load(path, &s);
        if (strncmp(e->d_name, "good_", 5) == 0) {
            if (rc != HF_OK)
                print_error("%s: %s\n", e->d_name, hf_error_message());
            assert_int_equal(rc, HF_OK);
            hf_spec_free(s);
            n_good++;
            continue;
        }
        if (rc == HF_OK)
            print_error("%s loaded but must fail\n", e->d_name);
        assert_int_equal(rc, HF_EINVAL);
        assert_null(s);
        const char *msg = hf_error_message();
        /* The message starts with the path as given, then line and column. */
        assert_int_equal(strncmp(msg, path, strlen(path)), 0);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[1024];
        int n_expect = 0;
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "# expect: ", 10) != 0)
                continue;
            size_t l = strlen(line);
            while (l > 10 && (line[l - 1] == '\n' || line[l - 1] == ' '))
                line[--l] = '\0';
            if (!strstr(msg, line + 10))
                print_error("%s:\n  got      %s\n  expected %s\n", e->d_name, msg, line + 10);
            assert_non_null(strstr(msg, line + 10));
            n_expect++;
        }
        fclose(f);
        assert_true(n_expect > 0);
        n_bad++;
    }
    closedir(d);
    assert_true(n_bad >= 10);
    assert_true(n_good >= 2);
}

static void test_value_errors(void **state)
{
    (void)state;
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: abc\n",
                   "job.yaml:8:12: model.params.alpha: got \"abc\", expected a number > 0, a list "
                   "or a distribution {log_uniform: [lo, hi]}");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: -1\n",
                   "job.yaml:8:12: model.params.alpha: got -1, expected a number > 0, a list or "
                   "a distribution {log_uniform: [lo, hi]}");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: [1, x]\n",
                   "job.yaml:8:16: model.params.alpha[1]: got \"x\", expected a number > 0");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    fit_intercept: yes\n",
                   "job.yaml:8:20: model.params.fit_intercept: got \"yes\", expected true or "
                   "false, or a list of them");
    assert_message(MINIMAL "model:\n  type: logistic_regression\n  params:\n    max_iter: 5.5\n",
                   "job.yaml:8:15: model.params.max_iter: got 5.5, expected an integer in [1, "
                   "1000000000], a list or a distribution {log_uniform: [lo, hi]}");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: {uniform: [1, 2], "
                           "log_uniform: [1, 2]}\n",
                   "job.yaml:8:30: model.params.alpha.log_uniform: got a second distribution, "
                   "expected exactly one of log_uniform, uniform or int_uniform");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    fit_intercept: {uniform: [0, "
                           "1]}\n",
                   "job.yaml:8:20: model.params.fit_intercept: got a distribution, expected true "
                   "or false, or a list of them");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: []\n",
                   "job.yaml:8:12: model.params.alpha: got an empty list, expected at least one "
                   "value (a number > 0)");
    assert_message(MINIMAL "model:\n  type: ridge\npreprocess:\n  scale: standrd\n",
                   "job.yaml:8:10: preprocess.scale: got \"standrd\", expected standard, minmax "
                   "or none, or a list of them (did you mean \"standard\"?)");
    assert_message(MINIMAL "cv: {strategy: stratifed}\nmodel: {type: ridge}\n",
                   "job.yaml:5:16: cv.strategy: got \"stratifed\", expected kfold, stratified, "
                   "predefined, group or timeseries (did you mean \"stratified\"?)");
    assert_message(MINIMAL "cv: {holdout: -0.1}\nmodel: {type: ridge}\n",
                   "job.yaml:5:15: cv.holdout: got -0.1, expected a fraction 0 <= x < 1");
    assert_message("name: a b\ndata: {source: d, target: y}\nmodel: {type: ridge}\n",
                   "job.yaml:1:7: name: got \"a b\", expected a job name of letters, digits, '.', "
                   "'_' or '-', other than \".\" and \"..\"");
    /* (issue 18) The name is a directory under output.dir. */
    assert_message("name: '..'\ndata: {source: d.csv, target: y}\nmodel: {type: ridge}\n",
                   "job.yaml:1:7: name: got \"..\", expected a job name of letters, digits, '.', "
                   "'_' or '-', other than \".\" and \"..\"");
    assert_message("name: .\ndata: {source: d.csv, target: y}\nmodel: {type: ridge}\n",
                   "job.yaml:1:7: name: got \".\", expected a job name of letters, digits, '.', "
                   "'_' or '-', other than \".\" and \"..\"");
    /* (issue 18) One document, of bounded shape; sizes checked before anything is allocated. */
    assert_message(MINIMAL "model: {type: ridge}\n---\nname: u\n",
                   "job.yaml:6:1: got a second YAML document, expected one job spec per file");
    assert_message(MINIMAL "model: {type: ridge}\nparallel: {memory_per_rank: 0.5}\n",
                   "job.yaml:6:29: parallel.memory_per_rank: got 0.5, expected a size such as "
                   "2GiB, 512MiB or a number of bytes");
    assert_message(MINIMAL "model: {type: ridge}\ncv: {folds: 3, repeats: 1000000}\n",
                   "job.yaml:6:25: cv.repeats: got 1000000, expected an integer <= 10000");
    assert_message(MINIMAL "model: {type: ridge}\ncv: {folds: 10, repeats: 5000}\n",
                   "job.yaml:6:26: cv.repeats: got 5000 with cv.folds 10, expected folds x repeats "
                   "<= 10000 splits");
    assert_message(MINIMAL
                   "model: {type: ridge}\nsearch: {strategy: random, trials: 99999999999}\n",
                   "job.yaml:6:36: search.trials: got 99999999999, expected an integer <= "
                   "2147483647");
    assert_message(MINIMAL "model: {type: ridge}\nshards: {count: 2147483647}\n",
                   "job.yaml:6:17: shards.count: got 2147483647, expected an integer <= 100000");
    assert_message(MINIMAL "model: {type: ridge}\nparallel: {grid: 2by2}\n",
                   "job.yaml:6:18: parallel.grid: got \"2by2\", expected auto or \"RxC\" such as "
                   "\"2x2\"");
    assert_message(MINIMAL "model: {type: ridge}\nparallel: {memory_per_rank: 2XB}\n",
                   "job.yaml:6:29: parallel.memory_per_rank: got \"2XB\", expected a size such as "
                   "2GiB, 512MiB or a number of bytes");
    assert_message(
        MINIMAL "model: {type: ridge}\noutput: {upload: bucket/x}\n",
        "job.yaml:6:18: output.upload: got \"bucket/x\", expected an s3://bucket/prefix/ "
        "URL");
}

static void test_key_errors(void **state)
{
    (void)state;
    assert_message("name: t\ndata:\n  sorce: d.csv\n  target: y\nmodel: {type: ridge}\n",
                   "job.yaml:3:3: data.sorce: unknown key, did you mean \"source\"?");
    assert_message(MINIMAL "modle: {type: ridge}\n",
                   "job.yaml:5:1: modle: unknown key, did you mean \"model\"?");
    assert_message(MINIMAL "model: {type: ridge}\nsearch: {stratgey: grid}\n",
                   "job.yaml:6:10: search.stratgey: unknown key, did you mean \"strategy\"?");
    assert_message(MINIMAL "model: {type: ridge}\nzzz: 1\n",
                   "job.yaml:6:1: zzz: unknown key, expected one of name, data, shards, cv, model, "
                   "preprocess, search, objective, output, s3, parallel or slurm");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpah: 1\n",
                   "job.yaml:8:5: model.params.alpah: unknown parameter of model ridge, did you "
                   "mean \"alpha\"?");
    assert_message(MINIMAL "model: {type: ridge}\nname: again\n",
                   "job.yaml:6:1: name: duplicate key, expected each key once");
    /* Missing required keys point at the parent mapping. */
    assert_message("name: t\ndata:\n  source: d.csv\nmodel: {type: ridge}\n",
                   "job.yaml:3:3: data.target: missing required key, expected the name of the "
                   "target column");
    assert_message(MINIMAL "model:\n  params: {alpha: 1}\n",
                   "job.yaml:6:3: model.type: missing required key, expected a registered model "
                   "name");
    assert_message("data: {source: d, target: y}\nmodel: {type: ridge}\n",
                   "job.yaml:1:1: name: missing required key, expected a job name");
    assert_message("name: t\ndata: {target: y}\nmodel: {type: ridge}\n",
                   "job.yaml:2:7: data.source: missing required key, expected a path, file://, "
                   "s3:// or http(s):// URL");
    /* A registered model list with a suggestion; the list itself comes from the registry. */
    const char *msg = parse_fail(MINIMAL "model: {type: logistic}\n");
    assert_non_null(strstr(msg, "job.yaml:5:15: model.type: got \"logistic\", expected "));
    assert_non_null(strstr(msg, "ridge"));
    assert_non_null(strstr(msg, "logistic_regression"));
}

static void test_syntax_error(void **state)
{
    (void)state;
    const char *msg = parse_fail("name: t\ndata:\n  source: [a, b\nmodel: {type: ridge}\n");
    assert_non_null(strstr(msg, "job.yaml:4:6: YAML syntax error: "));
    assert_non_null(strstr(msg, "flow sequence"));
    msg = parse_fail("name: t\n  bad indent: 1\n");
    assert_non_null(strstr(msg, "job.yaml:2:"));
    assert_non_null(strstr(msg, "YAML syntax error: "));
    msg = parse_fail("");
    assert_string_equal(msg, "job.yaml:1:1: (top level): got an empty document, expected a "
                             "mapping with name, data and model");
    msg = parse_fail("- a\n- b\n");
    assert_string_equal(msg, "job.yaml:1:1: (top level): got [\"a\", \"b\"], expected a mapping");
}

static void test_impossible_requests(void **state)
{
    (void)state;
    assert_message(MINIMAL "  task: regression\ncv: {strategy: stratified}\nmodel: {type: ridge}\n",
                   "job.yaml:6:16: cv.strategy: got \"stratified\", expected kfold, group or "
                   "timeseries with data.task regression (stratified folds need classes)");
    assert_message(MINIMAL "cv:\n  strategy: predefined\nmodel: {type: ridge}\n",
                   "job.yaml:6:3: cv.fold_column: missing required key, expected a column name "
                   "with cv.strategy predefined");
    assert_message(MINIMAL "cv: {strategy: group}\nmodel: {type: ridge}\n",
                   "job.yaml:5:5: cv.group_column: missing required key, expected a column name "
                   "with cv.strategy group");
    assert_message(MINIMAL "cv: {strategy: timeseries}\nmodel: {type: ridge}\n",
                   "job.yaml:5:5: cv.order_column: missing required key, expected a column name "
                   "with cv.strategy timeseries");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: {uniform: [0.1, 2]}\n",
                   "job.yaml:8:12: model.params.alpha: got {uniform: [0.1, 2]} with "
                   "search.strategy grid, expected grid_points: N in the mapping (or "
                   "search.strategy random)");
    assert_message(MINIMAL "cv: {folds: 1}\nmodel: {type: ridge}\n",
                   "job.yaml:5:13: cv.folds: got 1, expected an integer >= 2");
    assert_message(MINIMAL "cv: {holdout: 1}\nmodel: {type: ridge}\n",
                   "job.yaml:5:15: cv.holdout: got 1, expected a fraction 0 <= x < 1");
    assert_message(MINIMAL "model: {type: ridge}\nsearch: {trials: 0}\n",
                   "job.yaml:6:18: search.trials: got 0, expected an integer >= 1");
    assert_message(MINIMAL "model: {type: ridge}\nsearch: {strategy: random, trials: 0}\n",
                   "job.yaml:6:36: search.trials: got 0, expected an integer >= 1 with "
                   "search.strategy random");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    tol: {log_uniform: [-1, 1]}\n"
                           "search: {strategy: random}\n",
                   "job.yaml:8:24: model.params.tol.log_uniform: got [-1, 1], expected 0 < lo < "
                   "hi for a log-uniform distribution");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: {log_uniform: [2, 2]}\n"
                           "search: {strategy: random}\n",
                   "job.yaml:8:26: model.params.alpha.log_uniform: got [2, 2], expected lo < hi");
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: {uniform: [0, 1]}\n"
                           "search: {strategy: random}\n",
                   "job.yaml:8:22: model.params.alpha.uniform: got [0, 1], expected bounds that "
                   "are each a number > 0");
    assert_message(MINIMAL "  task: regression\nmodel: {type: ridge}\nobjective: {metric: f1}\n",
                   "job.yaml:7:21: objective.metric: got \"f1\", expected a regression metric (r2, "
                   "rmse or mae) with data.task regression");
    /* The lists of metric names come from the metrics module's table (a new metric is one
     * entry there, and this test follows). */
    char names[512], want[1024];
    snprintf(want, sizeof want,
             "job.yaml:6:40: objective.report[0]: got \"r2\", expected a classification metric "
             "(%s) with data.task classification",
             hf_metric_names_for(HF_TASK_CLASSIFICATION, names, sizeof names));
    assert_non_null(strstr(want, "(accuracy, "));
    assert_message(MINIMAL "model: {type: ridge}\nobjective: {metric: accuracy, report: [r2]}\n",
                   want);
    const char *const *all = hf_objective_section.defs[0].choices_fn();
    size_t n_all = 0, used = 0;
    while (all[n_all])
        n_all++;
    assert_true(n_all >= 8);
    for (size_t i = 0; i < n_all; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                 i == 0           ? ""
                                 : i + 1 == n_all ? " or "
                                                  : ", ",
                                 all[i]);
    assert_non_null(strstr(names, "r2, rmse, mae, accuracy"));
    snprintf(want, sizeof want, "job.yaml:6:21: objective.metric: got \"auc\", expected %s", names);
    assert_message(MINIMAL "model: {type: ridge}\nobjective: {metric: auc}\n", want);
}

static void test_int_bool_typing(void **state)
{
    (void)state;
    hf_spec *s = parse_ok(MINIMAL "model:\n  type: logistic_regression\n  params:\n"
                                  "    max_iter: 200.0\n    C: 3\n    fit_intercept: false\n"
                                  "    tol: [1, 1e-3]\n");
    const hf_param_space *mi = param(s, "max_iter");
    assert_int_equal(mi->fixed.type, HF_VAL_INT);
    assert_int_equal(mi->fixed.u.i, 200);
    const hf_param_space *c = param(s, "C");
    assert_int_equal(c->fixed.type, HF_VAL_NUMBER);
    assert_true(c->fixed.u.num == 3.0);
    assert_int_equal(param(s, "fit_intercept")->fixed.type, HF_VAL_BOOL);
    assert_int_equal(param(s, "fit_intercept")->fixed.u.b, 0);
    const hf_param_space *tol = param(s, "tol");
    assert_int_equal(tol->choices[0].type, HF_VAL_NUMBER);
    assert_true(tol->choices[0].u.num == 1.0 && tol->choices[1].u.num == 1e-3);
    hf_spec_free(s);
    /* A quoted number is a string, not a number. */
    assert_message(MINIMAL "model:\n  type: ridge\n  params:\n    alpha: \"1\"\n",
                   "job.yaml:8:12: model.params.alpha: got \"1\", expected a number > 0, a list "
                   "or a distribution {log_uniform: [lo, hi]}");
    /* Preprocess settings are typed too. */
    s = parse_ok(MINIMAL "model: {type: ridge}\npreprocess:\n  impute: {indicator: [true, false], "
                         "fill_value: 0}\n  min_frequency: 3\n");
    assert_int_equal(param(s, "preprocess.impute.indicator")->choices[1].type, HF_VAL_BOOL);
    assert_int_equal(param(s, "preprocess.impute.fill_value")->fixed.type, HF_VAL_NUMBER);
    assert_int_equal(param(s, "preprocess.min_frequency")->fixed.type, HF_VAL_INT);
    assert_int_equal(param(s, "preprocess.min_frequency")->value_type, HF_VAL_INT);
    hf_spec_free(s);
    assert_message(MINIMAL "model: {type: ridge}\npreprocess:\n  min_frequency: -1\n",
                   "job.yaml:7:18: preprocess.min_frequency: got -1, expected an integer >= 0, a "
                   "list or a distribution {log_uniform: [lo, hi]}");
}

static hf_schema *schema_new(hf_task_kind task, const char **classes, size_t n_classes)
{
    hf_schema *sc = hf_calloc(1, sizeof *sc);
    assert_non_null(sc);
    sc->task = task;
    sc->target = hf_strdup("y");
    if (n_classes) {
        sc->classes = hf_calloc(n_classes, sizeof(char *));
        for (size_t i = 0; i < n_classes; i++)
            sc->classes[i] = hf_strdup(classes[i]);
        sc->n_classes = n_classes;
    }
    return sc;
}

/* The task rule: data.task, else the model's single task, else the metric's; a model that cannot
 * do the task is refused naming the models that can. */
static void test_task_rule(void **state)
{
    (void)state;
    static const struct {
        const char *model, *task, *metric;
        hf_task_kind want; /* HF_TASK_AUTO: refused */
        const char *why;
    } cases[] = {
        {"ridge", NULL, NULL, HF_TASK_REGRESSION, "model.type ridge"},
        {"ridge", NULL, "rmse", HF_TASK_REGRESSION, "model.type ridge"},
        {"ridge", "regression", NULL, HF_TASK_REGRESSION, "data.task"},
        {"ridge", "classification", NULL, HF_TASK_AUTO, NULL},
        {"ridge", NULL, "accuracy", HF_TASK_AUTO, NULL},
        {"kernel_ridge", NULL, NULL, HF_TASK_REGRESSION, "model.type kernel_ridge"},
        {"kernel_ridge", "classification", NULL, HF_TASK_AUTO, NULL},
        {"kernel_ridge", NULL, "log_loss", HF_TASK_AUTO, NULL},
        {"logistic_regression", NULL, NULL, HF_TASK_CLASSIFICATION,
         "model.type logistic_regression"},
        {"logistic_regression", NULL, "roc_auc", HF_TASK_CLASSIFICATION,
         "model.type logistic_regression"},
        {"logistic_regression", "classification", "f1", HF_TASK_CLASSIFICATION, "data.task"},
        {"logistic_regression", "regression", NULL, HF_TASK_AUTO, NULL},
        {"logistic_regression", NULL, "r2", HF_TASK_AUTO, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "name: t\ndata: {source: d.csv, target: y%s%s}\nmodel: {type: "
                 "%s}\n%s%s%s",
                 cases[i].task ? ", task: " : "", cases[i].task ? cases[i].task : "",
                 cases[i].model, cases[i].metric ? "objective: {metric: " : "",
                 cases[i].metric ? cases[i].metric : "", cases[i].metric ? "}\n" : "");
        if (cases[i].want == HF_TASK_AUTO) {
            const char *msg = parse_fail(text);
            /* The message names the models that support the other task. */
            if (!strstr(msg, "logistic_regression") && !strstr(msg, "ridge"))
                print_error("case %zu: %s\n", i, msg);
            assert_true(strstr(msg, "model.type") || strstr(msg, "objective.metric"));
            continue;
        }
        hf_spec *s = parse_ok(text);
        assert_int_equal(s->data.task, cases[i].want);
        assert_string_equal(s->task_why, cases[i].why);
        assert_int_equal(hf_cv_strategy_for(&s->cv, s->data.task),
                         cases[i].want == HF_TASK_CLASSIFICATION ? HF_CV_STRATIFIED : HF_CV_KFOLD);
        assert_non_null(s->objective.metric);
        hf_spec_free(s);
    }
    assert_message("name: t\ndata: {source: d.csv, target: y, task: classification}\n"
                   "model: {type: ridge}\n",
                   "job.yaml:3:15: model.type: got \"ridge\", which does not support "
                   "classification (data.task classification), expected one of "
                   "logistic_regression, xgboost, random_forest");
}

static void test_check_data(void **state)
{
    (void)state;
    const char *classes[] = {"cat", "dog"};
    double y[12];
    for (int i = 0; i < 12; i++)
        y[i] = i < 10 ? 0 : 1; /* 10 cats, 2 dogs */

    /* Stratified folds on a regression target: a regression model implies the task, so the
     * spec alone is refused. */
    assert_message(MINIMAL "cv: {strategy: stratified}\nmodel: {type: ridge}\n",
                   "job.yaml:5:16: cv.strategy: got \"stratified\", expected kfold, group or "
                   "timeseries: data.task is regression, implied by model.type ridge (stratified "
                   "folds need classes)");
    /* The data's check says the same for a target typed regression. */
    hf_spec *s =
        parse_ok(MINIMAL "cv: {strategy: stratified}\nmodel: {type: logistic_regression}\n");
    hf_schema *reg = schema_new(HF_TASK_REGRESSION, NULL, 0);
    hf_error_clear();
    assert_int_equal(hf_spec_check_data(s, reg, y, 12), HF_EINVAL);
    assert_string_equal(hf_error_message(),
                        "job.yaml:5:16: cv.strategy: got \"stratified\", expected kfold, group or "
                        "timeseries for the regression target \"y\" (stratified folds need "
                        "classes)");
    hf_spec_free(s);

    /* A classification metric with a regression model. */
    assert_message(MINIMAL "model: {type: ridge}\nobjective: {metric: roc_auc}\n",
                   "job.yaml:6:21: objective.metric: got \"roc_auc\", a classification metric, "
                   "but model ridge supports only regression: use a regression metric, or a "
                   "classification model (logistic_regression, xgboost, random_forest)");

    /* A class with fewer rows than folds (the default stratified split). */
    s = parse_ok(MINIMAL "cv: {folds: 3}\nmodel: {type: logistic_regression}\n");
    hf_schema *cls = schema_new(HF_TASK_CLASSIFICATION, classes, 2);
    hf_error_clear();
    assert_int_equal(hf_spec_check_data(s, cls, y, 12), HF_EINVAL);
    assert_string_equal(hf_error_message(),
                        "job.yaml:5:13: cv.folds: got 3, expected at most 2: class \"dog\" of "
                        "target \"y\" has only 2 rows (stratified folds need at least one row of "
                        "each class per fold)");
    hf_spec_free(s);
    s = parse_ok(MINIMAL "cv: {folds: 2}\nmodel: {type: logistic_regression}\n");
    hf_error_clear();
    assert_int_equal(hf_spec_check_data(s, cls, y, 12), HF_OK);
    /* A classifier's spec is stratified: a target ingested as regression does not fit it. */
    assert_int_equal(hf_spec_check_data(s, reg, y, 12), HF_EINVAL);
    hf_error_clear();
    hf_spec_free(s);
    /* Plain kfold with more folds than rows. */
    s = parse_ok(MINIMAL "cv: {folds: 20}\nmodel: {type: ridge}\n");
    hf_error_clear();
    assert_int_equal(hf_spec_check_data(s, reg, y, 12), HF_EINVAL);
    assert_non_null(strstr(hf_error_message(), "cv.folds: got 20, expected at most 12"));
    hf_spec_free(s);
    hf_schema_free(reg);
    hf_schema_free(cls);
}

static void test_suggest(void **state)
{
    (void)state;
    assert_int_equal(hf_edit_distance("source", "source"), 0);
    assert_int_equal(hf_edit_distance("sorce", "source"), 1);
    assert_int_equal(hf_edit_distance("tagret", "target"), 1); /* one transposition */
    assert_int_equal(hf_edit_distance("", "abc"), 3);
    assert_int_equal(hf_edit_distance("kitten", "sitting"), 3);
    const char *const keys[] = {"folds", "strategy", "seed", NULL};
    assert_string_equal(hf_suggest("stratgey", keys, 0), "strategy");
    assert_string_equal(hf_suggest("fold", keys, 3), "folds");
    assert_null(hf_suggest("zzzzzz", keys, 0));
    assert_null(hf_suggest("x", keys, 0));
}

/* describe's target-less ingest (hf_ingest_opts.no_target) is no key of the data section, and
 * it is part of the ingest identity: a run never reuses shards written without a target. */
static void test_no_target(void **state)
{
    (void)state;
    const char *msg = parse_fail(MINIMAL "  no_target: true\nmodel:\n  type: ridge\n");
    assert_non_null(strstr(msg, "no_target"));
    hf_spec *s = parse_ok(MINIMAL "model:\n  type: ridge\n");
    assert_int_equal(s->data.no_target, 0);
    char with[65], without[65], again[65];
    assert_int_equal(hf_ingest_opts_hash(&s->data, with), HF_OK);
    hf_ingest_opts o = s->data;
    o.no_target = 1;
    assert_int_equal(hf_ingest_opts_hash(&o, without), HF_OK);
    assert_int_equal(hf_ingest_opts_hash(&s->data, again), HF_OK);
    assert_string_not_equal(with, without);
    assert_string_equal(with, again);
    hf_spec_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec),       cmocka_unit_test(test_spec_shape),
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_fixture_files),
        cmocka_unit_test(test_value_errors),    cmocka_unit_test(test_key_errors),
        cmocka_unit_test(test_syntax_error),    cmocka_unit_test(test_impossible_requests),
        cmocka_unit_test(test_int_bool_typing), cmocka_unit_test(test_task_rule),
        cmocka_unit_test(test_check_data),      cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_no_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
