/* retrain.c - `hyperfold retrain RUN_DIR [--data NEW_SOURCE]`: refit the best configuration of an
 * earlier run on new data, score the new model and the current one on the same holdout of the new
 * data, and promote the new model only if it is not worse.
 *
 * The holdout is drawn from rows that neither model trained on: the new data may repeat the rows
 * the current model was trained on (a table that grows), and scoring it on them would favour it.
 * The current model's training rows are known by their content hashes (RUN/training_rows.bin,
 * rowset.h); the holdout is drawn at random (cv.seed) from the new data's other rows, and the new
 * model is trained on every row but the holdout. */
#define _GNU_SOURCE
#include "common/fsutil.h"
#include "common/hf.h"
#include "jobs/spec.h"
#include "shards/folds.h"
#include "shards/ingest.h"
#include "worker/metrics.h"
#include "worker/task.h"
#include "common/rng.h"
#include "coordinator/export.h"
#include "coordinator/retrain.h"
#include "coordinator/rowset.h"
#include "coordinator/run.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Default holdout when the spec has none: a retrain decision needs rows neither model trained on.
 */
#define DEFAULT_HOLDOUT 0.2

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: mpirun -np N hyperfold retrain RUN_DIR [--data NEW_SOURCE] [--quiet]\n"
        "\n"
        "Refits the best configuration of the run in RUN_DIR on new data (NEW_SOURCE, or the\n"
        "spec's data.source re-read), scores the new model and the current RUN_DIR/model.h5 on\n"
        "the same holdout of the new data (cv.holdout, or 20%% of the rows), drawn from rows the\n"
        "current model was not trained on, and promotes the new model (RUN_DIR/model.h5, the\n"
        "previous one kept as model.previous.h5) only if it is not worse. Both scores, the\n"
        "holdout and the decision are written to RUN_DIR/results.json under \"retrain\" and\n"
        "appended to RUN_DIR/retrain.jsonl; the holdout's row numbers to\n"
        "RUN_DIR/retrain_holdout.csv.\n");
}

/* Rewrites the rows of `d` (coded with the new data's dictionaries) into the codes of the old
 * model's schema: categories and classes are matched by their text; unknown categories get -1,
 * rows whose class the old model never saw get class -1 (scored as a wrong prediction). */
static int remap_to_schema(const hf_dataset *d, const int64_t *rows, size_t n, const hf_schema *old,
                           hf_dataset **out)
{
    const hf_schema *s = d->schema;
    int result = HF_OK;
    hf_dataset *r = hf_calloc(1, sizeof *r);
    long *col = hf_calloc(old->n_features ? old->n_features : 1, sizeof *col);
    if (!r || !col) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < old->n_features; j++) {
        col[j] = hf_schema_find(s, old->features[j].name);
        if (col[j] < 0) {
            result = hf_error(HF_EDATA,
                              "the new data has no column \"%s\", which the current model uses",
                              old->features[j].name);
            goto out;
        }
    }
    r->schema = hf_schema_clone(old);
    r->n_rows = n;
    r->X = hf_malloc((n ? n : 1) * (old->n_features ? old->n_features : 1) * sizeof *r->X);
    r->y = hf_malloc((n ? n : 1) * sizeof *r->y);
    if (!r->schema || !r->X || !r->y) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t src = (size_t)rows[i];
        for (size_t j = 0; j < old->n_features; j++) {
            double v = d->X[src * s->n_features + (size_t)col[j]];
            const hf_column *nc = &s->features[col[j]], *oc = &old->features[j];
            if (oc->type != HF_COL_NUMERIC && !isnan(v)) {
                double code = -1;
                if (v >= 0 && (size_t)v < nc->n_categories)
                    for (size_t k = 0; k < oc->n_categories; k++)
                        if (strcmp(oc->categories[k], nc->categories[(size_t)v]) == 0) {
                            code = (double)k;
                            break;
                        }
                v = code;
            }
            r->X[i * old->n_features + j] = v;
        }
        double y = d->y[src];
        if (old->task == HF_TASK_CLASSIFICATION) {
            double code = -1;
            for (size_t k = 0; k < old->n_classes; k++)
                if (strcmp(old->classes[k], s->classes[(size_t)y]) == 0) {
                    code = (double)k;
                    break;
                }
            y = code;
        }
        r->y[i] = y;
    }
    *out = r;
    r = NULL;
out:
    hf_dataset_free(r);
    free(col);
    return result;
}

/* Scores the predictions of a fitted pipeline on every row of d with metric `m`; for
 * classification, rows of a class the model never saw (class -1) are left out. */
static int score(const hf_metric *m, const hf_prep *prep, const hf_fitted *fitted,
                 const hf_dataset *d, size_t n_classes, double *out)
{
    size_t no = fitted->n_outputs;
    double *pred = hf_malloc((d->n_rows ? d->n_rows : 1) * no * sizeof *pred);
    if (!pred)
        return HF_ENOMEM;
    int rc = hf_predict_pipeline(prep, fitted, d, NULL, d->n_rows, pred);
    if (rc >= 0) {
        /* Keep the rows whose class the model knows. */
        size_t k = 0;
        double *y = hf_malloc((d->n_rows ? d->n_rows : 1) * sizeof *y);
        if (!y) {
            free(pred);
            return HF_ENOMEM;
        }
        for (size_t i = 0; i < d->n_rows; i++) {
            if (n_classes > 0 && d->y[i] < 0)
                continue; /* a class the model never saw */
            memmove(pred + k * no, pred + i * no, no * sizeof *pred);
            y[k++] = d->y[i];
        }
        rc = hf_metric_compute(m, y, pred, k, n_classes, out);
        free(y);
    }
    free(pred);
    return rc;
}

/* The rows to compare the models on: `want` rows drawn at random (seeded) from those of d (coded in
 * the current model's schema, as `view`) whose content is not among the current model's
 * training rows (`seen`, sorted hashes; NULL when unknown: every row is eligible). *hold (sorted
 * row numbers, caller frees) gets min(want, eligible) rows, *train the others; *eligible how
 * many rows were new to the current model. */
static int draw_holdout(const hf_dataset *view, const uint64_t *seen, size_t n_seen, size_t want,
                        uint64_t seed, int64_t **hold, size_t *n_hold, int64_t **train,
                        size_t *n_train, size_t *eligible)
{
    size_t n = view->n_rows;
    uint64_t *h = hf_malloc((n ? n : 1) * sizeof *h);
    int64_t *cand = hf_malloc((n ? n : 1) * sizeof *cand);
    unsigned char *in_hold = hf_calloc(n ? n : 1, 1);
    *hold = hf_malloc((n ? n : 1) * sizeof **hold);
    *train = hf_malloc((n ? n : 1) * sizeof **train);
    int result = h && cand && in_hold && *hold && *train ? HF_OK : HF_ENOMEM;
    if (result < 0)
        goto out;
    hf_rowset_hash(view, NULL, n, h);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!seen || !hf_rowset_contains(seen, n_seen, h[i]))
            cand[m++] = (int64_t)i;
    *eligible = m;
    hf_rng r;
    hf_rng_init(&r, seed, 0x7e7a1u, 0);
    hf_rng_shuffle_i64(&r, cand, (int64_t)m);
    size_t k = want < m ? want : m;
    for (size_t i = 0; i < k; i++)
        in_hold[cand[i]] = 1;
    *n_hold = *n_train = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_hold[i])
            (*hold)[(*n_hold)++] = (int64_t)i;
        else
            (*train)[(*n_train)++] = (int64_t)i;
    }
out:
    free(h);
    free(cand);
    free(in_hold);
    return result;
}

/* RUN/retrain_holdout.csv: the data rows (0-based, in the order of the source) the models were
 * compared on. */
static int write_holdout_rows(const char *path, const int64_t *rows, size_t n)
{
    FILE *fp;
    char *tmp;
    int result = hf_open_tmp(path, &fp, &tmp);
    if (result < 0)
        return result;
    fputs("row\n", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%lld\n", (long long)rows[i]);
    if (ferror(fp)) {
        hf_abort_tmp(fp, tmp);
        return hf_error(HF_EIO, "writing %s", path);
    }
    return hf_commit_tmp(fp, tmp, path);
}

int hf_cmd_retrain(hf_comm *world, int argc, char **argv)
{
    int rank = hf_comm_rank(world);
    const char *run_dir = NULL, *new_source = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (rank == 0)
                usage(stdout);
            return HF_OK;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            new_source = argv[++i];
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (argv[i][0] == '-') {
            return hf_error(HF_EINVAL, "retrain: unknown option %s (see hyperfold retrain --help)",
                            argv[i]);
        } else if (!run_dir) {
            run_dir = argv[i];
        }
    }
    if (!run_dir)
        return hf_error(HF_EINVAL, "retrain: no run directory given");

    int result = HF_OK;
    hf_spec *spec = NULL;
    hf_manifest *manifest = NULL;
    hf_dataset *data = NULL, *old_view = NULL;
    hf_trial *trials = NULL;
    size_t n_trials = 0;
    hf_model_file *old = NULL;
    hf_prep *prep = NULL;
    hf_fitted *fitted = NULL;
    json_t *results = NULL;
    char *spec_path = hf_asprintf("%s/job.yaml", run_dir);
    char *results_path = hf_asprintf("%s/results.json", run_dir);
    char *model_path = hf_asprintf("%s/model.h5", run_dir);
    char *new_model = hf_asprintf("%s/model.retrain.h5", run_dir);
    char *prev_model = hf_asprintf("%s/model.previous.h5", run_dir);
    char *shard_dir = hf_asprintf("%s/retrain-shards", run_dir);
    char *audit = hf_asprintf("%s/audit.jsonl", run_dir);
    char *log_path = hf_asprintf("%s/retrain.jsonl", run_dir);
    char *rows_path = hf_asprintf("%s/" HF_TRAINING_ROWS_FILE, run_dir);
    char *new_rows = hf_asprintf("%s/training_rows.retrain.bin", run_dir);
    char *prev_rows = hf_asprintf("%s/training_rows.previous.bin", run_dir);
    char *hold_path = hf_asprintf("%s/retrain_holdout.csv", run_dir);
    uint64_t *seen = NULL, *train_hashes = NULL;
    size_t n_seen = 0, n_hold = 0, n_train = 0, eligible = 0;
    int64_t *hold_rows = NULL, *train_rows = NULL;
    hf_dataset *all_view = NULL;
    if (!spec_path || !results_path || !model_path || !new_model || !prev_model || !shard_dir ||
        !audit || !log_path || !rows_path || !new_rows || !prev_rows || !hold_path) {
        result = HF_ENOMEM;
        goto out;
    }
    if ((result = hf_spec_load_collective(world, spec_path, &spec)) < 0)
        goto out;
    if (new_source) {
        char *s = hf_strdup(new_source);
        if (!s) {
            result = HF_ENOMEM;
            goto out;
        }
        free(spec->data.source);
        spec->data.source = s;
    }
    if (spec->cv.holdout <= 0)
        spec->cv.holdout = DEFAULT_HOLDOUT;
    /* The best trial of the earlier run. */
    long best = -1;
    if (rank == 0) {
        json_error_t jerr;
        results = json_load_file(results_path, 0, &jerr);
        json_t *b = results ? json_object_get(json_object_get(results, "best"), "trial") : NULL;
        if (!json_is_integer(b))
            result = hf_error(HF_EINVAL, "%s: no best.trial (was the run finished?)", results_path);
        else
            best = (long)json_integer_value(b);
        if (result >= 0)
            result = hf_model_read(model_path, &old);
    }
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    hf_source_opts so = {.spec = spec, .audit_path = audit, .rank = rank};
    int reused = 0;
    result = hf_ingest(world, spec, shard_dir, &so, NULL, &manifest, &reused);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    if (rank != 0)
        goto out; /* the refit and scoring run on rank 0 */
    if ((result = hf_shards_load(shard_dir, manifest, &data)) < 0 ||
        (result = hf_spec_resolve_task(spec, data->schema->task)) < 0 ||
        (result = hf_spec_trials(spec, &trials, &n_trials)) < 0)
        goto rank0_done;
    /* The rows the current model was trained on, and a holdout drawn from the others. */
    int know_seen = hf_file_exists(rows_path);
    if (know_seen) {
        if ((result = hf_rowset_read(rows_path, &seen, &n_seen)) < 0)
            goto rank0_done;
        if (old->n_train_rows > 0 && (double)n_seen != old->n_train_rows) {
            result = hf_error(HF_EDATA,
                              "%s holds %zu training rows but %s was trained on %.0f: the two "
                              "files are not of the same model",
                              rows_path, n_seen, model_path, old->n_train_rows);
            goto rank0_done;
        }
    } else {
        hf_warn("retrain: %s is missing (a run made before hyperfold recorded its training rows): "
                "the holdout may contain rows the current model was trained on, which favours it",
                rows_path);
    }
    {
        int64_t *every = hf_malloc((data->n_rows ? data->n_rows : 1) * sizeof *every);
        if (!every) {
            result = HF_ENOMEM;
            goto rank0_done;
        }
        for (size_t i = 0; i < data->n_rows; i++)
            every[i] = (int64_t)i;
        result = remap_to_schema(data, every, data->n_rows, old->schema, &all_view);
        free(every);
        if (result < 0)
            goto rank0_done;
    }
    size_t want = (size_t)ceil(spec->cv.holdout * (double)data->n_rows);
    if ((result = draw_holdout(all_view, know_seen ? seen : NULL, n_seen, want, spec->cv.seed,
                               &hold_rows, &n_hold, &train_rows, &n_train, &eligible)) < 0)
        goto rank0_done;
    /* No row is new to the current model: nothing to compare the models on fairly, and nothing
     * new to learn from. The current model stays; the decision is recorded (a periodic retrain
     * of unchanged data is not a failure). */
    const int no_new = n_hold == 0;
    if (!no_new && n_train == 0) {
        result = hf_error(HF_EINVAL, "retrain: no rows left to train on after the %zu holdout rows",
                          n_hold);
        goto rank0_done;
    }
    if (best < 0 || (size_t)best >= n_trials) {
        result = hf_error(HF_EINVAL, "%s: best.trial %ld is not a trial of %s", results_path, best,
                          spec_path);
        goto rank0_done;
    }
    const hf_model_ops *model = hf_model_find(spec->model_type);
    const hf_metric *metric = hf_metric_find(spec->objective.metric);
    if (!model || !metric) {
        result = hf_error(HF_EINVAL, "%s: unknown model or metric", spec_path);
        goto rank0_done;
    }
    double new_score = NAN, old_score = NAN;
    int promote = 0;
    if (no_new)
        goto record;
    if ((result = hf_fit_pipeline(spec, data, model, &trials[best], train_rows, n_train, NULL,
                                  &prep, &fitted)) < 0)
        goto rank0_done;
    size_t nc = data->schema->task == HF_TASK_CLASSIFICATION ? data->schema->n_classes : 0;
    /* The new model on the holdout rows (in the new data's coding). */
    if ((result = remap_to_schema(data, hold_rows, n_hold, data->schema, &old_view)) < 0 ||
        (result = score(metric, prep, fitted, old_view, nc, &new_score)) < 0)
        goto rank0_done;
    hf_dataset_free(old_view);
    old_view = NULL;
    /* The current model on the same rows, recoded into its own schema. */
    if ((result = remap_to_schema(data, hold_rows, n_hold, old->schema, &old_view)) < 0 ||
        (result = score(metric, old->prep, old->fitted, old_view,
                        old->schema->task == HF_TASK_CLASSIFICATION ? old->schema->n_classes : 0,
                        &old_score)) < 0)
        goto rank0_done;
    if ((result = write_holdout_rows(hold_path, hold_rows, n_hold)) < 0)
        goto rank0_done;
    /* The new model's training rows, in its own schema's coding, for the next retrain. */
    train_hashes = hf_malloc((n_train ? n_train : 1) * sizeof *train_hashes);
    if (!train_hashes) {
        result = HF_ENOMEM;
        goto rank0_done;
    }
    hf_rowset_hash(data, train_rows, n_train, train_hashes);
    if ((result = hf_rowset_write(new_rows, train_hashes, n_train)) < 0)
        goto rank0_done;
    promote = metric->greater_is_better ? new_score >= old_score : new_score <= old_score;
    if (isnan(old_score) && !isnan(new_score))
        promote = 1;
    char *params = hf_trial_params_json(spec, &trials[best]);
    hf_model_meta meta = {.spec_sha256 = spec->sha256,
                          .source_fingerprint = hf_manifest_fingerprint(manifest),
                          .params_json = params ? params : "{}",
                          .metric = metric->name,
                          .cv_score = NAN,
                          .cv_std = NAN,
                          .fold_scores = NULL,
                          .n_folds = 0,
                          .n_train_rows = n_train};
    result = hf_model_write(new_model, data->schema, prep, fitted, &meta);
    free(params);
    if (result < 0)
        goto rank0_done;
    if (promote) {
        /* Keep the current model, then move the new one into place (each step a rename); its
         * training rows follow it. */
        if (rename(model_path, prev_model) != 0 ||
            (result = hf_rename_durable(new_model, model_path)) < 0) {
            if (result >= 0)
                result = hf_error(HF_EIO, "renaming %s to %s", model_path, prev_model);
            goto rank0_done;
        }
        if (know_seen && rename(rows_path, prev_rows) != 0) {
            result = hf_error(HF_EIO, "renaming %s to %s", rows_path, prev_rows);
            goto rank0_done;
        }
        if ((result = hf_rename_durable(new_rows, rows_path)) < 0)
            goto rank0_done;
    }
record:;
    /* Record the decision. */
    json_t *rt = json_object();
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(rt, "time", json_string(when));
    json_object_set_new(rt, "source", json_string(spec->data.source));
    json_object_set_new(rt, "source_fingerprint", json_string(hf_manifest_fingerprint(manifest)));
    json_object_set_new(rt, "metric", json_string(metric->name));
    json_object_set_new(rt, "holdout_rows", json_integer((json_int_t)n_hold));
    json_t *hd = json_object();
    json_object_set_new(hd, "rows", json_integer((json_int_t)n_hold));
    json_object_set_new(hd, "drawn_from",
                        json_string(know_seen ? "rows of the new data the current model was not "
                                                "trained on"
                                              : "every row of the new data (the current model's "
                                                "training rows are not recorded)"));
    json_object_set_new(hd, "new_rows", json_integer((json_int_t)eligible));
    json_object_set_new(hd, "rows_seen_by_current_model",
                        json_integer((json_int_t)(data->n_rows - eligible)));
    json_object_set_new(hd, "file", json_string(hold_path));
    json_object_set_new(rt, "holdout", hd);
    json_object_set_new(rt, "train_rows", json_integer((json_int_t)n_train));
    json_object_set_new(rt, "new_score", isfinite(new_score) ? json_real(new_score) : json_null());
    json_object_set_new(rt, "previous_score",
                        isfinite(old_score) ? json_real(old_score) : json_null());
    json_object_set_new(rt, "promoted", json_boolean(promote));
    json_object_set_new(rt, "model", json_string(promote || no_new ? model_path : new_model));
    if (no_new)
        json_object_set_new(rt, "reason",
                            json_string("no row of the new data is new to the current model: "
                                        "nothing to compare the models on"));
    char *line = json_dumps(rt, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_object_set(results, "retrain", rt);
    char *text = json_dumps(results, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    json_decref(rt);
    if (!line || !text) {
        result = hf_error(HF_ENOMEM, "out of memory");
    } else {
        /* The history: append, then rewrite results.json atomically. */
        FILE *fp = fopen(log_path, "a");
        if (!fp || fprintf(fp, "%s\n", line) < 0 || fclose(fp) != 0)
            result = hf_error(HF_EIO, "appending to %s", log_path);
        if (result >= 0)
            result = hf_write_file_atomic(results_path, text, strlen(text));
    }
    if (result >= 0 && !quiet && no_new)
        hf_info("retrain: every one of the %zu rows of %s was a training row of the current "
                "model: no row is left to compare a new model on, kept the current model",
                data->n_rows, spec->data.source);
    else if (result >= 0 && !quiet)
        hf_info("retrain: new %s = %.6g, current = %.6g on %zu holdout rows (drawn from the %zu "
                "rows the current model was not trained on; listed in %s): %s",
                metric->name, new_score, old_score, n_hold, eligible, hold_path,
                promote ? "promoted the new model" : "kept the current model");
    free(line);
    free(text);
rank0_done:;
out:
    result = hf_comm_check(world, result);
    json_decref(results);
    hf_prep_free(prep);
    hf_fitted_free(fitted);
    hf_model_file_free(old);
    hf_dataset_free(old_view);
    hf_dataset_free(data);
    if (trials)
        hf_trials_free(trials, n_trials, spec->n_params);
    hf_manifest_free(manifest);
    hf_dataset_free(all_view);
    free(seen);
    free(train_hashes);
    free(hold_rows);
    free(train_rows);
    free(rows_path);
    free(new_rows);
    free(prev_rows);
    free(hold_path);
    hf_spec_free(spec);
    free(spec_path);
    free(results_path);
    free(model_path);
    free(new_model);
    free(prev_model);
    free(shard_dir);
    free(audit);
    free(log_path);
    return result;
}
