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
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/drift.h"
#include "coordinator/modelfile.h"
#include "coordinator/pipeline.h"
#include "coordinator/report.h"
#include "coordinator/results.h"
#include "coordinator/rowset.h"
#include "shards/source.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "common/rng.h"
#include "jobs/rundir.h"
#include "jobs/spec.h"
#include "worker/metrics.h"
#include "worker/task.h"

#include <curl/curl.h>
#include <errno.h>
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
        "                                [--reload-url URL [--reload-token-file F]]\n"
        "\n"
        "Refits the best configuration of the run in RUN_DIR on new data (NEW_SOURCE, or the\n"
        "spec's data.source re-read), scores the new model and the current RUN_DIR/model.h5 on\n"
        "the same holdout of the new data (cv.holdout, or 20%% of the rows), drawn from rows the\n"
        "current model was not trained on, and promotes the new model (RUN_DIR/model.h5, the\n"
        "previous one kept as model.previous.h5) only if it is not worse. Both scores, the\n"
        "holdout and the decision are written to RUN_DIR/results.json under \"retrain\" and\n"
        "appended to RUN_DIR/retrain.jsonl; the holdout's row numbers to\n"
        "RUN_DIR/retrain_holdout.csv.\n"
        "\n"
        "--reload-url URL: after promoting, POST to URL (a `hyperfold serve`'s /reload, e.g.\n"
        "http://127.0.0.1:8080/reload) so that the server loads the new model; with\n"
        "--reload-token-file, as `Authorization: Bearer <token>`. A failed notification is a\n"
        "warning: the model is promoted either way (docs/serving.md).\n");
}

static size_t discard_body(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* Rank 0, after a promotion: POST url (a serve's /reload). Returns 0, or -1 with a warning line
 * (the promotion stands; the server can be reloaded by hand). */
static int notify_reload(const char *url, const char *token_file)
{
    char *tok = NULL, *auth = NULL;
    size_t tl = 0;
    if (token_file && hf_fs_read_file(token_file, &tok, &tl) < 0) {
        hf_warn("retrain: promoted the new model, but --reload-token-file %s: %s; reload the "
                "server by hand (POST /reload or SIGHUP)",
                token_file, hf_error_message());
        hf_error_clear();
        return -1;
    }
    while (tok && tl && (tok[tl - 1] == '\n' || tok[tl - 1] == '\r' || tok[tl - 1] == ' '))
        tok[--tl] = '\0';
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (h) {
        if (tok && (auth = hf_asprintf("Authorization: Bearer %s", tok)))
            hdr = curl_slist_append(hdr, auth);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_body);
        rc = curl_easy_perform(h);
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(hdr);
    free(auth);
    free(tok);
    if (rc == CURLE_OK && status == 200)
        return 0;
    if (rc != CURLE_OK)
        hf_warn("retrain: promoted the new model, but POST %s failed: %s; reload the server by "
                "hand (POST /reload or SIGHUP)",
                url, curl_easy_strerror(rc));
    else
        hf_warn("retrain: promoted the new model, but POST %s answered %ld, expected 200; reload "
                "the server by hand (POST /reload or SIGHUP)",
                url, status);
    return -1;
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
 * classification, rows of a class the model never saw (class -1) are left out. Collective over
 * `group` when it has several ranks (a distributed model predicts together); every group rank
 * gets the score. */
static int score(const hf_metric *m, const hf_prep *prep, const hf_fitted *fitted,
                 const hf_group *group, const hf_dataset *d, size_t n_classes, double *out)
{
    size_t no = fitted->n_outputs;
    double *pred = hf_malloc((d->n_rows ? d->n_rows : 1) * no * sizeof *pred);
    if (!pred)
        return HF_ENOMEM;
    int result = hf_predict_pipeline(prep, fitted, group, d, NULL, d->n_rows, pred);
    if (result >= 0) {
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
        result = hf_metric_compute(m, y, pred, k, n_classes, out);
        free(y);
    }
    free(pred);
    return result;
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
    int result = hf_fs_open_tmp(path, &fp, &tmp);
    if (result < 0)
        return result;
    fputs("row\n", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%lld\n", (long long)rows[i]);
    if (ferror(fp)) {
        hf_fs_abort_tmp(fp, tmp);
        return hf_error(HF_EIO, "writing %s", path);
    }
    return hf_fs_commit_tmp(fp, tmp, path);
}

/* Rank 0: the holdout and training rows of the new data (draw_holdout), from the current model's
 * schema and training rows. */
static int choose_rows(const hf_job *job, const hf_modelfile *old, const hf_rundir *dir,
                       double holdout, uint64_t seed, int64_t **hold, size_t *n_hold,
                       int64_t **train, size_t *n_train, size_t *eligible, int *know_seen)
{
    const hf_dataset *data = job->data;
    uint64_t *seen = NULL;
    size_t n_seen = 0;
    hf_dataset *view = NULL;
    int64_t *every = NULL;
    int result = HF_OK;
    *know_seen = hf_fs_exists(dir->training_rows);
    if (*know_seen) {
        if ((result = hf_rowset_read(dir->training_rows, &seen, &n_seen)) < 0)
            goto out;
        if (old->n_train_rows > 0 && (double)n_seen != old->n_train_rows) {
            result = hf_error(HF_EDATA,
                              "%s holds %zu training rows but %s was trained on %.0f: the two "
                              "files are not of the same model",
                              dir->training_rows, n_seen, dir->model, old->n_train_rows);
            goto out;
        }
    } else {
        hf_warn("retrain: %s is missing (a run made before hyperfold recorded its training rows): "
                "the holdout may contain rows the current model was trained on, which favours it",
                dir->training_rows);
    }
    every = hf_malloc((data->n_rows ? data->n_rows : 1) * sizeof *every);
    if (!every) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < data->n_rows; i++)
        every[i] = (int64_t)i;
    if ((result = remap_to_schema(data, every, data->n_rows, old->schema, &view)) < 0)
        goto out;
    size_t want = (size_t)ceil(holdout * (double)data->n_rows);
    result = draw_holdout(view, *know_seen ? seen : NULL, n_seen, want, seed, hold, n_hold, train,
                          n_train, eligible);
out:
    free(seen);
    free(every);
    hf_dataset_free(view);
    return result;
}

/* Collective: row indices from rank 0 to every rank. */
static int bcast_rows(hf_comm *world, int64_t **rows, size_t *n)
{
    char *blob = (char *)*rows;
    size_t len = *n * sizeof **rows;
    HF_CALL(hf_comm_bcast_blob(world, &blob, &len, 0));
    *rows = (int64_t *)(void *)blob;
    *n = len / sizeof **rows;
    return HF_OK;
}

/* The decision as a JSON object (the line of retrain.jsonl and results.json's "retrain"). */
static json_t *decision_json(const hf_spec *spec, const char *source, const hf_manifest *manifest,
                             const hf_metric *metric, const hf_rundir *dir, size_t n_rows,
                             size_t n_hold, size_t n_train, size_t eligible, int know_seen,
                             double new_score, double old_score, int promote, int no_new)
{
    (void)spec;
    json_t *rt = json_object();
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(rt, "time", json_string(when));
    char *shown = hf_source_display(source);
    json_object_set_new(rt, "source", shown ? json_string(shown) : json_null());
    free(shown);
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
                        json_integer((json_int_t)(n_rows - eligible)));
    json_object_set_new(hd, "file", json_string(dir->retrain_holdout));
    json_object_set_new(rt, "holdout", hd);
    json_object_set_new(rt, "train_rows", json_integer((json_int_t)n_train));
    json_object_set_new(rt, "new_score", isfinite(new_score) ? json_real(new_score) : json_null());
    json_object_set_new(rt, "previous_score",
                        isfinite(old_score) ? json_real(old_score) : json_null());
    json_object_set_new(rt, "promoted", json_boolean(promote));
    json_object_set_new(rt, "model",
                        json_string(promote || no_new ? dir->model : dir->retrain_model));
    if (no_new)
        json_object_set_new(rt, "reason",
                            json_string("no row of the new data is new to the current model: "
                                        "nothing to compare the models on"));
    return rt;
}

/* Rank 0: moves the new model and its training rows into place, keeping the previous ones (each
 * step a rename). */
static int promote_model(const hf_rundir *dir, int know_seen)
{
    if (rename(dir->model, dir->previous_model) != 0)
        return hf_error(HF_EIO, "renaming %s to %s: %s", dir->model, dir->previous_model,
                        hf_strerror(errno));
    HF_CALL(hf_fs_rename_durable(dir->retrain_model, dir->model));
    if (know_seen && rename(dir->training_rows, dir->previous_rows) != 0)
        return hf_error(HF_EIO, "renaming %s to %s: %s", dir->training_rows, dir->previous_rows,
                        hf_strerror(errno));
    return hf_fs_rename_durable(dir->retrain_rows, dir->training_rows);
}

/* The rows of a retrain: the holdout both models are scored on and the new model's training
 * rows (rows of the new data), and what choose_rows found. */
typedef struct retrain_rows {
    int64_t *hold, *train;
    size_t n_hold, n_train, eligible;
    int know_seen;
} retrain_rows;

/* Rank 0. The current model scored on the new model's holdout, the new model's files written
 * (its holdout rows, training rows and model.retrain.h5), and the new one promoted if it is not
 * worse; *old_score and *promote say how it went. */
static int judge(const hf_spec *spec, const hf_job *job, const hf_manifest *manifest,
                 const hf_rundir *dir, const hf_modelfile *old, const hf_prep *prep,
                 const hf_fitted *fitted, const retrain_rows *r, const char *params,
                 double new_score, double *old_score, int *promote)
{
    const hf_metric *metric = hf_metric_find(spec->objective.metric);
    hf_dataset *view = NULL;
    uint64_t *hashes = hf_malloc((r->n_train ? r->n_train : 1) * sizeof *hashes);
    int result = hashes ? HF_OK : HF_ENOMEM;
    /* The current model on the same rows, recoded into its own schema. */
    if (result >= 0)
        result = remap_to_schema(job->data, r->hold, r->n_hold, old->schema, &view);
    if (result >= 0)
        result = score(metric, old->prep, old->fitted, NULL, view,
                       old->schema->task == HF_TASK_CLASSIFICATION ? old->schema->n_classes : 0,
                       old_score);
    if (result >= 0)
        result = write_holdout_rows(dir->retrain_holdout, r->hold, r->n_hold);
    /* The new model's training rows, in its own schema's coding, for the next retrain. */
    if (result >= 0) {
        hf_rowset_hash(job->data, r->train, r->n_train, hashes);
        result = hf_rowset_write(dir->retrain_rows, hashes, r->n_train);
    }
    *promote = metric->greater_is_better ? new_score >= *old_score : new_score <= *old_score;
    if (isnan(*old_score) && !isnan(new_score))
        *promote = 1;
    hf_modelfile_meta meta = {.spec_sha256 = spec->sha256,
                              .source_fingerprint = hf_manifest_fingerprint(manifest),
                              .params_json = params,
                              .metric = metric->name,
                              .cv_score = NAN,
                              .cv_std = NAN,
                              .n_train_rows = r->n_train};
    if (result >= 0)
        result = hf_modelfile_write(dir->retrain_model, job->data->schema, prep, fitted, &meta);
    if (result >= 0 && *promote)
        result = promote_model(dir, r->know_seen);
    hf_dataset_free(view);
    free(hashes);
    return result;
}

/* Rank 0. The decision into results.json and retrain.jsonl, and one line about it. */
static int record(const hf_spec *spec, const char *source, const hf_manifest *manifest,
                  const hf_rundir *dir, size_t n_rows, const retrain_rows *r, double new_score,
                  double old_score, int promote, json_t *drift, int quiet)
{
    const hf_metric *metric = hf_metric_find(spec->objective.metric);
    int no_new = r->n_hold == 0;
    json_t *rt = decision_json(spec, source, manifest, metric, dir, n_rows, r->n_hold, r->n_train,
                               r->eligible, r->know_seen, new_score, old_score, promote, no_new);
    /* The new data's drift from the training data's profile (null: the run has none). */
    json_object_set(rt, "drift", drift ? drift : json_null());
    if (drift && !quiet) {
        char moved[512];
        hf_drift_summary(drift, moved, sizeof moved);
        hf_info("retrain: drift from the training data: %s", *moved ? moved
                                                                    : "no column moved "
                                                                      "(every PSI <= 0.1)");
    }
    int result = hf_results_add_retrain(dir->results, dir->retrain_log, rt);
    json_decref(rt);
    if (result >= 0 && !quiet && no_new)
        hf_info("retrain: every one of the %zu rows of %s was a training row of the current "
                "model: no row is left to compare a new model on, kept the current model",
                n_rows, source);
    else if (result >= 0 && !quiet)
        hf_info("retrain: new %s = %.6g, current = %.6g on %zu holdout rows (drawn from the %zu "
                "rows the current model was not trained on; listed in %s): %s",
                metric->name, new_score, old_score, r->n_hold, r->eligible, dir->retrain_holdout,
                promote ? "promoted the new model" : "kept the current model");
    return result;
}

int hf_cmd_retrain(hf_comm *world, int argc, char **argv)
{
    int rank = hf_comm_rank(world);
    const char *run_dir = NULL, *new_source = NULL, *reload_url = NULL, *reload_token = NULL;
    int quiet = 0;
    const hf_arg_def defs[] = {HF_VALUE_ARG("--data", &new_source, NULL),
                               HF_FLAG_ARG("--quiet", "-q", &quiet),
                               HF_VALUE_ARG("--reload-url", &reload_url, NULL),
                               HF_VALUE_ARG("--reload-token-file", &reload_token, NULL)};
    const hf_cmdline cl = {"retrain", HF_ARGS(defs), "run directory", "RUN_DIR", 0, usage};
    int result = hf_args_parse(&cl, argc, argv, &run_dir, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (reload_token && !reload_url)
        return hf_error(HF_EINVAL, "retrain: --reload-token-file goes with --reload-url");

    hf_spec *spec = NULL;
    hf_manifest *manifest = NULL;
    hf_job job = {0};
    hf_rundir dir = {0};
    hf_dataset *view = NULL;
    hf_modelfile *old = NULL;
    hf_prep *prep = NULL;
    hf_fitted *fitted = NULL;
    hf_comm *group_comm = NULL;
    hf_group *group = NULL;
    retrain_rows r = {0};
    double *split_iters = NULL;
    size_t n_splits = 0;
    hf_value *refit_vals = NULL;
    hf_trial_config refit_cfg;
    int reused = 0, promote = 0;
    long best = -1;
    int lock_fd = -1;
    char *params = NULL, results_sha[65] = "";
    size_t params_len = 0;
    hf_trial *trial = NULL;
    hf_trial_config *best_cfg = NULL;
    double new_score = NAN, old_score = NAN;
    hf_profile *profile = NULL;
    json_t *drift = NULL;
    /* The run directory is locked, as run locks it, before anything of it is read. */
    if ((result = hf_comm_check(world, hf_rundir_at(run_dir, &dir))) < 0)
        goto out;
    if (rank == 0)
        result = hf_fs_exists(dir.dir) ? hf_rundir_lock(&dir, "hyperfold retrain", &lock_fd)
                                       : hf_error(HF_EINVAL, "%s: no such run directory", run_dir);
    if ((result = hf_comm_check(world, result)) < 0 ||
        (result = hf_pipeline_spec(world, dir.spec, &spec)) < 0)
        goto out;
    const char *source = new_source ? new_source : spec->data.source;
    /* A retrain decision needs rows neither model trained on: cv.holdout of them, or 20%. */
    const double holdout = spec->cv.holdout > 0 ? spec->cv.holdout : DEFAULT_HOLDOUT;
    /* The run directory's three records of the run must be of one spec: job.yaml (what is refit
     * and re-read), results.json (the best parameters) and model.h5 (the current model). */
    if (rank == 0) {
        result = hf_results_read_best(dir.results, &best, &params, results_sha);
        if (result >= 0)
            result = hf_modelfile_read(dir.model, &old);
        if (result >= 0 && strcmp(results_sha, spec->sha256) != 0)
            result =
                hf_error(HF_EINVAL,
                         "%s: results of another job spec (spec_sha256 %.12s..., %s has "
                         "%.12s...): refusing to refit; run the spec again to completion first",
                         dir.results, results_sha, dir.spec, spec->sha256);
        else if (result >= 0 && (!old->spec_sha256 || strcmp(old->spec_sha256, spec->sha256) != 0))
            result = hf_error(
                HF_EINVAL,
                "%s: a model of another job spec (spec_sha256 %.12s..., %s has "
                "%.12s...): refusing to refit; run the spec again to completion first",
                dir.model, old->spec_sha256 ? old->spec_sha256 : "none", dir.spec, spec->sha256);
        params_len = params ? strlen(params) : 0;
    }
    /* The refit configuration is the best trial's parameters as results.json records them (a
     * study's trials are not the spec's expansion: an index into it would name another one). */
    if ((result = hf_comm_check(world, result)) < 0 ||
        (result = hf_comm_bcast_blob(world, &params, &params_len, 0)) < 0)
        goto out;
    trial = hf_trials_alloc(1, spec->space.n_params);
    result = trial ? hf_space_trial_from_json(&spec->space, params, trial) : HF_ENOMEM;
    if (result < 0 && rank == 0)
        hf_error_prefix(result, "%s: best.params", dir.results);
    if ((result = hf_comm_check(world, result)) < 0 ||
        (result = hf_pipeline_groups(world, &spec->parallel, &group_comm, &group)) < 0 ||
        /* --data NEW replaces data.source: the spec's data.etl step is not run then. */
        (!new_source && (result = hf_pipeline_etl(world, spec, dir.audit, quiet)) < 0) ||
        (result = hf_pipeline_ingest(world, spec, source, dir.retrain_shards, dir.audit, NULL,
                                     &manifest, &reused)) < 0 ||
        (result = hf_comm_check(
             world, hf_pipeline_prepare(spec, dir.retrain_shards, manifest, 1, &job))) < 0)
        goto out;
    /* The new data's drift from the profile of the data the current model was trained on: each
     * rank counts its share of the rows. */
    if ((result = hf_profile_load(world, dir.profile, 1, &profile)) < 0)
        goto out;
    if (profile) {
        size_t nr = job.data->n_rows, size = (size_t)hf_comm_size(world);
        size_t first = nr * (size_t)rank / size, last = nr * ((size_t)rank + 1) / size;
        if ((result = hf_drift_compute(world, profile, job.data, first, last - first, &drift)) < 0)
            goto out;
    }
    if (result >= 0)
        result = hf_spec_decode_trials(spec, job.model, trial, 1, &best_cfg);
    if (rank == 0 && result >= 0)
        result = choose_rows(&job, old, &dir, holdout, spec->cv.seed, &r.hold, &r.n_hold, &r.train,
                             &r.n_train, &r.eligible, &r.know_seen);
    /* The run's best trial as it was refitted: from the iterations of its splits there. */
    if (rank == 0 && result >= 0 && job.model->refit_params)
        result = hf_results_read_iters(dir.results, best, &split_iters, &n_splits);
    uint64_t ns = n_splits;
    if ((result = hf_comm_check(world, result)) < 0 ||
        (result = hf_comm_bcast(world, &best, sizeof best, 0)) < 0 ||
        (result = hf_comm_bcast(world, &ns, sizeof ns, 0)) < 0 ||
        (result = bcast_rows(world, &r.hold, &r.n_hold)) < 0 ||
        (result = bcast_rows(world, &r.train, &r.n_train)) < 0)
        goto out;
    n_splits = (size_t)ns;
    if (rank != 0 && n_splits && !(split_iters = hf_malloc(n_splits * sizeof *split_iters)))
        result = HF_ENOMEM;
    if ((result = hf_comm_check(world, result)) < 0 ||
        (n_splits &&
         (result = hf_comm_bcast(world, split_iters, n_splits * sizeof *split_iters, 0)) < 0) ||
        (result = hf_comm_check(world, hf_refit_config(job.model, &best_cfg[0], split_iters,
                                                       n_splits, &refit_cfg, &refit_vals))) < 0)
        goto out;
    /* No row is new to the current model: nothing to compare the models on fairly, and nothing
     * new to learn from. The current model stays; the decision is recorded (a periodic retrain
     * of unchanged data is not a failure). */
    const int no_new = r.n_hold == 0;
    if (!no_new && r.n_train == 0) {
        result = hf_comm_check(
            world,
            hf_error(HF_EINVAL, "retrain: no rows left to train on after the %zu holdout rows",
                     r.n_hold));
        goto out;
    }
    int refit_rank = group ? rank < hf_comm_size(group_comm) : rank == 0;
    if (!no_new && refit_rank) {
        /* The refit group fits and scores the new model together, as run does. */
        size_t nc =
            job.data->schema->task == HF_TASK_CLASSIFICATION ? job.data->schema->n_classes : 0;
        result = hf_fit_pipeline(&refit_cfg, job.data, job.model, r.train, r.n_train, group, &prep,
                                 &fitted);
        if (result >= 0)
            result = remap_to_schema(job.data, r.hold, r.n_hold, job.data->schema, &view);
        if (result >= 0)
            result = score(hf_metric_find(spec->objective.metric), prep, fitted, group, view, nc,
                           &new_score);
    }
    if (!no_new && rank == 0 && result >= 0)
        result = judge(spec, &job, manifest, &dir, old, prep, fitted, &r, params, new_score,
                       &old_score, &promote);
    if (rank == 0 && result >= 0)
        result = record(spec, source, manifest, &dir, job.data->n_rows, &r, new_score, old_score,
                        promote, drift, quiet);
    /* A promoted model was trained on the new data: its profile is the one to compare with. */
    /* Failing to write it fails nothing (the model is promoted); the old profile, of the data the
     * replaced model saw, is removed so drift says "no profile" rather than compare with it. */
    if (rank == 0 && result >= 0 && promote && hf_profile_write(job.data, dir.profile) < 0) {
        hf_warn("profile.json not written (drift will have no profile): %s", hf_error_message());
        hf_error_clear();
        remove(dir.profile);
    }
    /* The report shows the decision's drift; failing to write it fails nothing (as in run). */
    if (rank == 0 && result >= 0 && hf_report_write(dir.dir, NULL) < 0) {
        hf_warn("report.html not written: %s", hf_error_message());
        hf_error_clear();
    }
    if (rank == 0 && result >= 0 && promote && reload_url &&
        notify_reload(reload_url, reload_token) == 0 && !quiet)
        hf_info("retrain: %s reloaded the new model", reload_url);
    result = hf_comm_check(world, result);
out:
    hf_profile_free(profile);
    json_decref(drift);
    hf_prep_free(prep);
    hf_fitted_free(fitted);
    hf_modelfile_free(old);
    hf_dataset_free(view);
    hf_job_free(&job);
    hf_manifest_free(manifest);
    hf_group_free(group);
    hf_comm_free(group_comm);
    if (best_cfg)
        hf_trial_configs_free(best_cfg, 1);
    if (trial)
        hf_trials_free(trial, 1, spec->space.n_params);
    hf_spec_free(spec);
    hf_rundir_free(&dir);
    hf_rundir_unlock(lock_fd);
    free(params);
    free(r.hold);
    free(r.train);
    free(split_iters);
    free(refit_vals);
    return result;
}
