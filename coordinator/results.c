/* results.c - reduction, selection and the results.json / trials.csv writers. */
#include "coordinator/results.h"
#include "shards/source.h"
#include "common/csvw.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "worker/metrics.h"

#include <jansson.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SC(s, t, f, m) ((s)->scores[((t) * (s)->n_splits + (f)) * (s)->n_metrics + (m)])
#define ST(s, t, f) ((s)->state[(t) * (s)->n_splits + (f)])
#define IT(s, t, f) ((s)->n_iter[(t) * (s)->n_splits + (f)])
#define STOP(s, t, f) ((s)->stop[(t) * (s)->n_splits + (f)])

int hf_sweep_init(hf_sweep *s, size_t n_trials, size_t n_splits, const char **metrics,
                  size_t n_metrics)
{
    memset(s, 0, sizeof *s);
    s->n_trials = n_trials;
    s->n_splits = n_splits;
    s->n_metrics = n_metrics;
    s->metrics = metrics;
    s->best = -1;
    size_t cells = n_trials * n_splits;
    s->scores = hf_malloc((cells * n_metrics > 0 ? cells * n_metrics : 1) * sizeof *s->scores);
    s->state = hf_calloc(cells ? cells : 1, 1);
    s->errors = hf_calloc(n_trials ? n_trials : 1, sizeof *s->errors);
    s->fit_seconds = hf_calloc(n_trials ? n_trials : 1, sizeof *s->fit_seconds);
    s->n_iter = hf_calloc(cells ? cells : 1, sizeof *s->n_iter);
    s->stop = hf_calloc(cells ? cells : 1, 1);
    s->greater_is_better = hf_calloc(n_metrics ? n_metrics : 1, sizeof *s->greater_is_better);
    if (!s->scores || !s->state || !s->errors || !s->fit_seconds || !s->n_iter || !s->stop ||
        !s->greater_is_better) {
        hf_sweep_free(s);
        return HF_ENOMEM;
    }
    for (size_t i = 0; i < cells * n_metrics; i++)
        s->scores[i] = NAN;
    for (size_t m = 0; m < n_metrics; m++) {
        const hf_metric *mt = hf_metric_find(metrics[m]);
        if (!mt) {
            hf_sweep_free(s);
            return hf_error(HF_EINVAL, "unknown metric \"%s\"", metrics[m]);
        }
        s->greater_is_better[m] = mt->greater_is_better;
    }
    return HF_OK;
}

int hf_sweep_add(hf_sweep *s, const hf_task_result *r)
{
    if (r->split < 0 || (size_t)r->split >= s->n_splits)
        return hf_error(HF_EDATA, "task %d reports split %d of %zu", r->task, r->split,
                        s->n_splits);
    for (size_t i = 0; i < r->n_trials; i++) {
        const hf_trial_result *t = &r->trials[i];
        if (t->trial < 0 || (size_t)t->trial >= s->n_trials)
            return hf_error(HF_EDATA, "task %d reports trial %d of %zu", r->task, t->trial,
                            s->n_trials);
        if (ST(s, t->trial, r->split) != 0)
            return hf_error(HF_EDATA, "trial %d on split %d was reported twice", t->trial,
                            r->split);
        if (!t->ok) {
            int first = 1;
            for (size_t f = 0; f < s->n_splits && first; f++)
                first = ST(s, t->trial, f) != 2;
            s->failed_trials += first;
        }
        ST(s, t->trial, r->split) = t->ok ? 1 : 2;
        for (size_t m = 0; m < s->n_metrics; m++)
            SC(s, t->trial, r->split, m) = t->ok ? t->scores[m] : NAN;
        s->fit_seconds[t->trial] += t->fit_seconds;
        IT(s, t->trial, r->split) = t->ok ? t->n_iter : 0;
        STOP(s, t->trial, r->split) = (unsigned char)(t->ok ? t->stop : HF_FIT_CONVERGED);
        if (!t->ok && !s->errors[t->trial] && t->error)
            s->errors[t->trial] = hf_strdup(t->error);
    }
    s->tasks_done++;
    return HF_OK;
}

size_t hf_sweep_unconverged(const hf_sweep *s, size_t *max_iter, size_t *stalled)
{
    *max_iter = *stalled = 0;
    for (size_t t = 0; t < s->n_trials; t++) {
        int hit = 0, stall = 0;
        for (size_t f = 0; f < s->n_splits; f++) {
            hit |= ST(s, t, f) == 1 && STOP(s, t, f) == HF_FIT_MAX_ITER;
            stall |= ST(s, t, f) == 1 && STOP(s, t, f) == HF_FIT_STALLED;
        }
        *max_iter += hit;
        *stalled += !hit && stall;
    }
    return *max_iter + *stalled;
}

/* 1 if trial t converged on every split it was fitted on. */
static int trial_converged(const hf_sweep *s, size_t t)
{
    for (size_t f = 0; f < s->n_splits; f++)
        if (ST(s, t, f) == 1 && STOP(s, t, f) != HF_FIT_CONVERGED)
            return 0;
    return 1;
}

/* The most iterations trial t used on a split (0 for direct solvers). */
static double trial_max_iter(const hf_sweep *s, size_t t)
{
    double m = 0;
    for (size_t f = 0; f < s->n_splits; f++)
        m = IT(s, t, f) > m ? IT(s, t, f) : m;
    return m;
}

static int better(const hf_sweep *s, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    if (isnan(a))
        return 0;
    return s->greater_is_better[0] ? a > b : a < b;
}

/* The mean objective of trial t over its splits scored so far into *mean; returns how many there
 * are (0 also when one of its splits failed). */
static size_t known_mean(const hf_sweep *s, size_t t, double *mean)
{
    double sum = 0.0;
    size_t k = 0;
    for (size_t f = 0; f < s->n_splits; f++) {
        if (ST(s, t, f) == 2)
            return 0;
        if (ST(s, t, f) == 1) {
            sum += SC(s, t, f, 0);
            k++;
        }
    }
    *mean = k ? sum / (double)k : NAN;
    return k;
}

double hf_sweep_trial_loss(const hf_sweep *s, size_t t)
{
    double mean;
    if (s->n_splits == 0 || known_mean(s, t, &mean) != s->n_splits || isnan(mean))
        return NAN;
    return s->greater_is_better[0] ? -mean : mean;
}

#define ELIGIBLE(s, t) ((!(s)->eligible || (s)->eligible[t]) && (!(s)->pruned || !(s)->pruned[t]))

int hf_sweep_fold_scores(const hf_sweep *s, size_t t, size_t n, double *out)
{
    int all = 1;
    for (size_t f = 0; f < n && f < s->n_splits; f++) {
        out[f] = SC(s, t, f, 0);
        all &= ST(s, t, f) == 1;
    }
    return all && n <= s->n_splits;
}

double hf_sweep_best_so_far(const hf_sweep *s)
{
    double best = NAN, mean;
    for (size_t t = 0; t < s->n_trials; t++)
        if (ELIGIBLE(s, t) && s->n_splits > 0 && known_mean(s, t, &mean) == s->n_splits &&
            better(s, mean, best))
            best = mean;
    return best;
}

int hf_sweep_leader(const hf_sweep *s)
{
    int leader = -1;
    double lead = NAN, mean;
    for (size_t t = 0; t < s->n_trials; t++)
        if (ELIGIBLE(s, t) && known_mean(s, t, &mean) > 0 &&
            (leader < 0 || better(s, mean, lead))) {
            leader = (int)t;
            lead = mean;
        }
    return leader;
}

/* qsort has no context argument: the sweep being ranked (rank 0 only, one at a time). */
static const hf_sweep *g_sort_sweep;

static int cmp_trials(const void *pa, const void *pb)
{
    const hf_sweep *s = g_sort_sweep;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (ELIGIBLE(s, a) != ELIGIBLE(s, b))
        return ELIGIBLE(s, a) ? -1 : 1;
    double ma = s->mean[a * s->n_metrics], mb = s->mean[b * s->n_metrics];
    if (better(s, ma, mb))
        return -1;
    if (better(s, mb, ma))
        return 1;
    return a < b ? -1 : a > b;
}

int hf_sweep_finish(hf_sweep *s, const hf_search_opts *search)
{
    size_t nm = s->n_metrics;
    s->mean = hf_malloc((s->n_trials * nm > 0 ? s->n_trials * nm : 1) * sizeof *s->mean);
    s->std = hf_malloc((s->n_trials * nm > 0 ? s->n_trials * nm : 1) * sizeof *s->std);
    s->rank = hf_calloc(s->n_trials ? s->n_trials : 1, sizeof *s->rank);
    if (!s->mean || !s->std || !s->rank)
        return HF_ENOMEM;
    for (size_t t = 0; t < s->n_trials; t++) {
        for (size_t m = 0; m < nm; m++) {
            double sum = 0, sq = 0;
            int bad = 0;
            for (size_t f = 0; f < s->n_splits; f++) {
                double v = SC(s, t, f, m);
                if (ST(s, t, f) != 1) {
                    if (search->error_score_given && m == 0)
                        v = search->error_score;
                    else
                        bad = 1;
                }
                sum += v;
            }
            double mean = bad || s->n_splits == 0 ? NAN : sum / (double)s->n_splits;
            for (size_t f = 0; f < s->n_splits && !bad; f++) {
                double v = ST(s, t, f) == 1 ? SC(s, t, f, m) : search->error_score;
                sq += (v - mean) * (v - mean);
            }
            s->mean[t * nm + m] = mean;
            s->std[t * nm + m] = bad || s->n_splits == 0 ? NAN : sqrt(sq / (double)s->n_splits);
        }
    }
    /* Rank by mean objective; NaN last; ties by trial id. */
    size_t *order = hf_malloc((s->n_trials ? s->n_trials : 1) * sizeof *order);
    if (!order)
        return HF_ENOMEM;
    for (size_t t = 0; t < s->n_trials; t++)
        order[t] = t;
    g_sort_sweep = s;
    qsort(order, s->n_trials, sizeof *order, cmp_trials);
    for (size_t r = 0; r < s->n_trials; r++)
        s->rank[order[r]] = (int)r + 1;
    s->best =
        s->n_trials && ELIGIBLE(s, order[0]) && !isnan(s->mean[order[0] * nm]) ? (int)order[0] : -1;
    free(order);
    return HF_OK;
}

void hf_sweep_free(hf_sweep *s)
{
    if (s->errors)
        for (size_t t = 0; t < s->n_trials; t++)
            free(s->errors[t]);
    free(s->errors);
    free(s->scores);
    free(s->state);
    free(s->fit_seconds);
    free(s->n_iter);
    free(s->stop);
    free(s->greater_is_better);
    free(s->mean);
    free(s->std);
    free(s->rank);
    memset(s, 0, sizeof *s);
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *value_json(const hf_value *v)
{
    switch (v->type) {
    case HF_VAL_NUMBER:
        return num_or_null(v->u.num);
    case HF_VAL_INT:
        return json_integer((json_int_t)v->u.i);
    case HF_VAL_BOOL:
        return json_boolean(v->u.b);
    case HF_VAL_STRING:
        return json_string(v->u.str ? v->u.str : "");
    default:
        return json_null();
    }
}

static json_t *params_json(const hf_space *space, const hf_trial *t)
{
    json_t *o = json_object();
    for (size_t i = 0; i < space->n_params; i++)
        json_object_set_new(o, space->params[i].name, value_json(&t->values[i]));
    return o;
}

static const char *trial_status(const hf_sweep *s, size_t t)
{
    if (s->pruned && s->pruned[t])
        return "pruned";
    int failed = 0, pending = 0;
    for (size_t f = 0; f < s->n_splits; f++) {
        failed += ST(s, t, f) == 2;
        pending += ST(s, t, f) == 0;
    }
    return failed ? "failed" : pending ? "pending" : "ok";
}

static int write_json(const char *path, json_t *o)
{
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    char *with_nl = text ? hf_asprintf("%s\n", text) : NULL;
    int result = with_nl ? hf_fs_write_atomic(path, with_nl, strlen(with_nl))
                         : hf_error(HF_ENOMEM, "out of memory writing %s", path);
    free(with_nl);
    free(text);
    return result;
}

/* results.json's "best": the selected trial, its scores and split scores of the objective. */
static json_t *best_json(const hf_sweep *s, const hf_trial *trials, const hf_run_info *info)
{
    size_t nm = s->n_metrics, b = (size_t)s->best;
    json_t *best = json_object();
    json_object_set_new(best, "trial", json_integer((json_int_t)b));
    json_object_set_new(best, "params", params_json(info->space, &trials[b]));
    json_object_set_new(best, "score", num_or_null(s->mean[b * nm]));
    json_object_set_new(best, "std", num_or_null(s->std[b * nm]));
    json_t *fs = json_array();
    for (size_t f = 0; f < s->n_splits; f++)
        json_array_append_new(fs, num_or_null(SC(s, b, f, 0)));
    json_object_set_new(best, "fold_scores", fs);
    json_t *means = json_object();
    for (size_t m = 0; m < nm; m++)
        json_object_set_new(means, s->metrics[m], num_or_null(s->mean[b * nm + m]));
    json_object_set_new(best, "scores", means);
    return best;
}

/* One element of results.json's "trials": parameters, status, scores per metric and split, and
 * the solver's iterations and whether it converged on every split (iterative models). */
static json_t *trial_json(const hf_sweep *s, const hf_trial *trials, const hf_run_info *info,
                          size_t t)
{
    size_t nm = s->n_metrics;
    json_t *jt = json_object();
    json_object_set_new(jt, "trial", json_integer((json_int_t)t));
    json_object_set_new(jt, "params", params_json(info->space, &trials[t]));
    json_object_set_new(jt, "status", json_string(trial_status(s, t)));
    if (s->errors[t])
        json_object_set_new(jt, "error", json_string(s->errors[t]));
    json_object_set_new(jt, "rank", json_integer(s->rank[t]));
    json_t *mean = json_object(), *std = json_object(), *folds = json_object();
    for (size_t m = 0; m < nm; m++) {
        json_object_set_new(mean, s->metrics[m], num_or_null(s->mean[t * nm + m]));
        json_object_set_new(std, s->metrics[m], num_or_null(s->std[t * nm + m]));
        json_t *fa = json_array();
        for (size_t f = 0; f < s->n_splits; f++)
            json_array_append_new(fa, num_or_null(SC(s, t, f, m)));
        json_object_set_new(folds, s->metrics[m], fa);
    }
    json_object_set_new(jt, "mean", mean);
    json_object_set_new(jt, "std", std);
    json_object_set_new(jt, "fold_scores", folds);
    json_t *its = json_array(), *stops = json_array();
    for (size_t f = 0; f < s->n_splits; f++) {
        json_array_append_new(its, ST(s, t, f) == 1 ? json_real(IT(s, t, f)) : json_null());
        json_array_append_new(stops, ST(s, t, f) == 1 ? json_string(hf_fit_stop_name(STOP(s, t, f)))
                                                      : json_null());
    }
    json_object_set_new(jt, "n_iter", its);
    json_object_set_new(jt, "stop", stops);
    json_object_set_new(jt, "converged", json_boolean(trial_converged(s, t)));
    return jt;
}

/* results.json's "holdout", "evaluation", "holdout_evaluation", "convergence", "refit" and
 * "timing". */
static void run_json(json_t *o, const hf_sweep *s, const hf_run_info *info)
{
    size_t nm = s->n_metrics, hit, stalled;
    if (info->holdout_valid) {
        json_t *h = json_object(), *sc = json_object();
        json_object_set_new(h, "rows", json_integer((json_int_t)info->n_holdout_rows));
        for (size_t m = 0; m < nm; m++)
            json_object_set_new(sc, s->metrics[m], num_or_null(info->holdout_scores[m]));
        json_object_set_new(h, "scores", sc);
        json_object_set_new(h, "score", num_or_null(info->holdout_scores[0]));
        json_object_set_new(o, "holdout", h);
    }
    if (info->evaluation)
        json_object_set(o, "evaluation", info->evaluation);
    if (info->holdout_evaluation)
        json_object_set(o, "holdout_evaluation", info->holdout_evaluation);
    json_t *conv = json_object();
    json_object_set_new(conv, "unconverged_trials",
                        json_integer((json_int_t)hf_sweep_unconverged(s, &hit, &stalled)));
    json_object_set_new(conv, "max_iter_trials", json_integer((json_int_t)hit));
    json_object_set_new(conv, "stalled_trials", json_integer((json_int_t)stalled));
    json_object_set_new(o, "convergence", conv);
    if (info->refit_valid) {
        json_t *rf = json_object();
        json_object_set_new(rf, "n_iter", json_real(info->refit_n_iter));
        json_object_set_new(rf, "stop", json_string(hf_fit_stop_name(info->refit_stop)));
        json_object_set_new(rf, "converged", json_boolean(info->refit_stop == HF_FIT_CONVERGED));
        json_object_set_new(o, "refit", rf);
    }
    json_t *timing = json_object();
    json_object_set_new(timing, "seconds", json_real(info->seconds));
    json_object_set_new(timing, "ranks", json_integer(info->ranks));
    json_object_set_new(timing, "reused_shards", json_boolean(info->reused_shards));
    json_object_set_new(timing, "resumed_tasks", json_integer(info->resumed_tasks));
    json_object_set_new(timing, "speculative_refit", json_boolean(info->speculative_refit));
    json_object_set_new(timing, "oof_seconds", json_real(info->oof_seconds));
    json_object_set_new(o, "timing", timing);
}

static int write_results_json(const hf_sweep *s, const hf_trial *trials, const hf_run_info *info)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(info->name));
    json_object_set_new(o, "hyperfold_version", json_string(HF_VERSION));
    json_object_set_new(o, "spec_sha256", json_string(info->spec_sha256));
    char *source = info->source ? hf_source_display(info->source) : NULL;
    json_object_set_new(o, "source", source ? json_string(source) : json_null());
    free(source);
    json_object_set_new(o, "source_fingerprint", json_string(info->source_fingerprint));
    json_object_set_new(o, "model", json_string(info->model));
    json_object_set_new(o, "metric", json_string(s->metrics[0]));
    json_object_set_new(o, "direction",
                        json_string(s->greater_is_better[0] ? "maximize" : "minimize"));
    json_t *rep = json_array();
    for (size_t m = 1; m < s->n_metrics; m++)
        json_array_append_new(rep, json_string(s->metrics[m]));
    json_object_set_new(o, "report", rep);
    json_t *data = json_object();
    json_object_set_new(data, "rows", json_integer((json_int_t)info->n_rows));
    json_object_set_new(data, "search_rows", json_integer((json_int_t)info->n_search_rows));
    json_object_set_new(data, "holdout_rows", json_integer((json_int_t)info->n_holdout_rows));
    json_object_set_new(data, "rejected_rows", json_integer((json_int_t)info->rejected_rows));
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "n_splits", json_integer((json_int_t)s->n_splits));
    json_object_set_new(o, "n_trials", json_integer((json_int_t)s->n_trials));
    if (info->search_stopped)
        json_object_set_new(o, "search_stopped", json_string(info->search_stopped));
    if (info->rungs) {
        json_t *hb = json_array();
        for (size_t i = 0; i < info->n_rungs; i++) {
            const hf_rung *g = &info->rungs[i];
            json_t *r = json_object();
            json_object_set_new(r, "bracket", json_integer(g->bracket));
            json_object_set_new(r, "rung", json_integer(g->rung));
            json_object_set_new(r, "configs", json_integer((json_int_t)g->n));
            json_object_set_new(r, "resource", json_real(g->resource));
            json_object_set_new(r, "first_trial", json_integer((json_int_t)g->first));
            json_array_append_new(hb, r);
        }
        json_object_set_new(o, "hyperband", hb);
    }
    if (info->rung_resources) {
        json_t *res = json_array();
        for (size_t i = 0; i < info->n_rung_resources; i++)
            json_array_append_new(res, json_real(info->rung_resources[i]));
        json_t *asha = json_object();
        json_object_set_new(asha, "rung_resources", res);
        json_object_set_new(o, "asha", asha);
    }
    size_t n_failed = 0;
    for (size_t t = 0; t < s->n_trials; t++)
        n_failed += strcmp(trial_status(s, t), "failed") == 0;
    json_object_set_new(o, "n_failed_trials", json_integer((json_int_t)n_failed));
    json_object_set_new(o, "best", s->best >= 0 ? best_json(s, trials, info) : json_null());
    json_t *arr = json_array();
    for (size_t t = 0; t < s->n_trials; t++)
        json_array_append_new(arr, trial_json(s, trials, info, t));
    json_object_set_new(o, "trials", arr);
    run_json(o, s, info);
    if (info->model_path)
        json_object_set_new(o, "model_path", json_string(info->model_path));
    if (info->upload_uri)
        json_object_set_new(
            o, "upload",
            json_pack("{s:s, s:s}", "run_id", info->upload_run_id, "uri", info->upload_uri));
    int result = write_json(info->results_path, o);
    json_decref(o);
    return result;
}

static void csv_num(FILE *fp, double v)
{
    if (isfinite(v))
        fprintf(fp, "%.17g", v);
}

static int write_trials_csv(const hf_sweep *s, const hf_space *space, const hf_trial *trials,
                            const char *path)
{
    FILE *fp;
    char *tmp;
    int result = hf_fs_open_tmp(path, &fp, &tmp);
    if (result < 0)
        return result;
    size_t nm = s->n_metrics;
    fputs("trial,status,rank", fp);
    for (size_t i = 0; i < space->n_params; i++) {
        fputc(',', fp);
        hf_csvw_put_field(fp, space->params[i].name);
    }
    for (size_t m = 0; m < nm; m++)
        fprintf(fp, ",mean_%s,std_%s", s->metrics[m], s->metrics[m]);
    for (size_t f = 0; f < s->n_splits; f++)
        fprintf(fp, ",split%zu_%s", f, s->metrics[0]);
    fputs(",n_iter,converged,fit_seconds,error\n", fp);
    char buf[256];
    for (size_t t = 0; t < s->n_trials; t++) {
        fprintf(fp, "%zu,%s,%d", t, trial_status(s, t), s->rank[t]);
        for (size_t i = 0; i < space->n_params; i++) {
            fputc(',', fp);
            hf_csvw_put_field(fp, hf_value_format(&trials[t].values[i], buf, sizeof buf));
        }
        for (size_t m = 0; m < nm; m++) {
            fputc(',', fp);
            csv_num(fp, s->mean[t * nm + m]);
            fputc(',', fp);
            csv_num(fp, s->std[t * nm + m]);
        }
        for (size_t f = 0; f < s->n_splits; f++) {
            fputc(',', fp);
            csv_num(fp, SC(s, t, f, 0));
        }
        fprintf(fp, ",%.17g,%s", trial_max_iter(s, t), trial_converged(s, t) ? "true" : "false");
        fprintf(fp, ",%.6f,", s->fit_seconds[t]);
        hf_csvw_put_field(fp, s->errors[t] ? s->errors[t] : "");
        fputc('\n', fp);
    }
    if (ferror(fp)) {
        result = hf_error(HF_EIO, "writing %s", tmp);
        hf_fs_abort_tmp(fp, tmp);
    } else {
        result = hf_fs_commit_tmp(fp, tmp, path);
    }
    return result;
}

int hf_results_write(const hf_sweep *s, const hf_trial *trials, const hf_run_info *info)
{
    /* results.json last: it is the run's claim of success, so it is written only when every
     * other output is (a full disk at trials.csv leaves the earlier run's results.json). */
    HF_CALL(write_trials_csv(s, info->space, trials, info->trials_csv_path));
    hf_test_kill_point("results");
    return write_results_json(s, trials, info);
}

int hf_results_read_best(const char *results_path, long *best, char **params_json,
                         char spec_sha256[65])
{
    json_error_t jerr;
    json_t *r = json_load_file(results_path, 0, &jerr);
    json_t *b = r ? json_object_get(json_object_get(r, "best"), "trial") : NULL;
    json_t *p = r ? json_object_get(json_object_get(r, "best"), "params") : NULL;
    const char *sha = r ? json_string_value(json_object_get(r, "spec_sha256")) : NULL;
    int result = HF_OK;
    *params_json = NULL;
    spec_sha256[0] = '\0';
    if (!r)
        result = hf_error(HF_EINVAL, "%s: %s (was the run finished?)", results_path, jerr.text);
    else if (!json_is_integer(b) || json_integer_value(b) < 0)
        result = hf_error(HF_EINVAL, "%s: no best.trial (was the run finished?)", results_path);
    else if (!json_is_object(p))
        result = hf_error(HF_EINVAL, "%s: best.params: expected the best trial's parameters",
                          results_path);
    else if (!sha || strlen(sha) != 64)
        result = hf_error(HF_EINVAL, "%s: spec_sha256: expected the run's spec hash", results_path);
    else if (!(*params_json = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS)))
        result = hf_error(HF_ENOMEM, "out of memory");
    if (result >= 0) {
        *best = (long)json_integer_value(b);
        memcpy(spec_sha256, sha, 65);
    }
    json_decref(r);
    return result;
}

void hf_sweep_trial_iters(const hf_sweep *s, size_t t, double *out)
{
    for (size_t f = 0; f < s->n_splits; f++)
        out[f] = ST(s, t, f) == 1 ? IT(s, t, f) : NAN;
}

int hf_results_read_iters(const char *results_path, long trial, double **out, size_t *n_splits)
{
    json_error_t jerr;
    json_t *r = json_load_file(results_path, 0, &jerr);
    json_t *its =
        r ? json_object_get(json_array_get(json_object_get(r, "trials"), (size_t)trial), "n_iter")
          : NULL;
    int result = HF_OK;
    *out = NULL;
    *n_splits = 0;
    if (!r)
        result = hf_error(HF_EINVAL, "%s: %s", results_path, jerr.text);
    else if (!json_is_array(its) || json_array_size(its) == 0)
        result = hf_error(HF_EINVAL, "%s: trials[%ld].n_iter: expected the splits' iterations",
                          results_path, trial);
    else if (!(*out = hf_malloc(json_array_size(its) * sizeof **out)))
        result = HF_ENOMEM;
    for (size_t f = 0; result >= 0 && f < json_array_size(its); f++) {
        json_t *v = json_array_get(its, f);
        (*out)[f] = json_is_number(v) ? json_number_value(v) : NAN;
        *n_splits = f + 1;
    }
    json_decref(r);
    return result;
}

int hf_results_add_retrain(const char *results_path, const char *log_path, json_t *decision)
{
    json_error_t jerr;
    json_t *r = json_load_file(results_path, 0, &jerr);
    char *line = json_dumps(decision, JSON_COMPACT | JSON_REAL_PRECISION(17));
    int result = HF_OK;
    if (!r) {
        result = hf_error(HF_EINVAL, "%s: %s", results_path, jerr.text);
        goto out;
    }
    if (!line) {
        result = hf_error(HF_ENOMEM, "out of memory");
        goto out;
    }
    /* The history: append, then rewrite results.json atomically. */
    FILE *fp = fopen(log_path, "a");
    if (!fp || fprintf(fp, "%s\n", line) < 0 || fclose(fp) != 0) {
        result = hf_error(HF_EIO, "appending to %s: %s", log_path, hf_strerror(errno));
        goto out;
    }
    json_object_set(r, "retrain", decision);
    result = write_json(results_path, r);
out:
    json_decref(r);
    free(line);
    return result;
}
