/* spec.c - the job spec: its sections bound into the options of the modules that own them, and
 * the rules between sections (the schema is documented in docs/job-spec.md).
 *
 * The YAML is loaded with libyaml's document API; every node keeps its start mark, so each error
 * names the file, line and column of the offending key or value. Scalars are typed the YAML 1.2
 * core way: quoted scalars are strings; plain scalars are null (~, null, empty), booleans
 * (true/false), integers, floats, or strings. The per-key work is jobs/bind.c's; this file only
 * lists the sections and checks what spans several of them. */
#include "jobs/spec.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "common/suggest.h"
#include "jobs/bind.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_GRID_INT_VALUES 10000

/* ---- where keys were --------------------------------------------------------------------------
 */

const char *hf_spec_where(const hf_spec *spec, const char *key, char *buf, size_t len)
{
    for (size_t i = spec->n_keys; key && i-- > 0;)
        if (!strcmp(spec->keys[i].key, key)) {
            snprintf(buf, len, "%s:%d:%d", spec->path, spec->keys[i].line, spec->keys[i].column);
            return buf;
        }
    snprintf(buf, len, "%s", spec->path ? spec->path : "job spec");
    return buf;
}

static const char *where_cb(const void *arg, const char *key, char *buf, size_t len)
{
    return hf_spec_where(arg, key, buf, len);
}

/* ---- the sections -----------------------------------------------------------------------------
 */

/* The spec's sections, in the order they are bound (and so checked): a module's table, or a
 * function of this file (model, preprocess). */
typedef struct section {
    const char *key;
    const hf_opt_section *sec; /* NULL: bound by `bind` */
    size_t offset;             /* of the options in hf_spec */
    int (*bind)(hf_bind *b, const yaml_node_t *n);
    int required;
    const char *expected; /* when required */
} section;

static int bind_model(hf_bind *b, const yaml_node_t *n);
static int bind_preprocess(hf_bind *b, const yaml_node_t *n);

static const section k_sections[] = {
    {"data", &hf_data_section, offsetof(hf_spec, data), NULL, 1,
     "a mapping with source and target"},
    {"shards", &hf_shards_section, offsetof(hf_spec, data), NULL, 0, NULL},
    {"cv", &hf_cv_section, offsetof(hf_spec, cv), NULL, 0, NULL},
    {"model", NULL, 0, bind_model, 1, "a mapping with type and params"},
    {"preprocess", NULL, 0, bind_preprocess, 0, NULL},
    {"search", &hf_search_section, offsetof(hf_spec, search), NULL, 0, NULL},
    {"objective", &hf_objective_section, offsetof(hf_spec, objective), NULL, 0, NULL},
    {"output", &hf_output_section, offsetof(hf_spec, output), NULL, 0, NULL},
    {"s3", &hf_s3_section, offsetof(hf_spec, s3), NULL, 0, NULL},
    {"parallel", &hf_parallel_section, offsetof(hf_spec, parallel), NULL, 0, NULL},
    {"slurm", &hf_slurm_section, offsetof(hf_spec, slurm), NULL, 0, NULL},
};
#define N_SECTIONS (sizeof k_sections / sizeof k_sections[0])

static int init_options(hf_spec *s)
{
    HF_CALL(hf_ingest_opts_init(&s->data));
    hf_cv_opts_init(&s->cv);
    hf_search_opts_init(&s->search);
    hf_objective_opts_init(&s->objective);
    HF_CALL(hf_output_opts_init(&s->output));
    hf_s3_config_init(&s->s3);
    hf_parallel_opts_init(&s->parallel);
    hf_slurm_opts_init(&s->slurm);
    return HF_OK;
}

/* "ridge, kernel_ridge": the registered models that support `task`, into buf. */
static const char *models_for(hf_task_kind task, char *buf, size_t len)
{
    const hf_model_ops *const *all = hf_model_all();
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; all && all[i]; i++)
        if (all[i]->tasks & (1u << task))
            o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? ", " : "",
                                  all[i]->name);
    return buf;
}

/* model: {type, params}: the model's own table types its parameters; every parameter the spec
 * does not give is fixed at its default, so each trial carries all of them. */
static int bind_model(hf_bind *b, const yaml_node_t *n)
{
    static const char *const keys[] = {"type", "params", NULL};
    hf_spec *s = b->spec;
    HF_CALL(hf_bind_check_mapping(b, n, "model", keys));
    HF_CALL(hf_bind_record(b, "model", n));
    yaml_node_t *v = hf_bind_lookup(b, n, "type");
    if (!v)
        return hf_bind_fail(b, n, "model.type", "missing required key, expected %s",
                            "a registered model name");
    const hf_model_ops *const *all = hf_model_all();
    const char *names[64];
    size_t n_names = 0;
    for (size_t i = 0; all && all[i] && n_names + 1 < sizeof names / sizeof names[0]; i++)
        names[n_names++] = all[i]->name;
    names[n_names] = NULL;
    const hf_model_ops *ops = v->type == YAML_SCALAR_NODE ? hf_model_find(hf_bind_text(v)) : NULL;
    if (!ops) {
        char expected[512];
        size_t o = 0;
        for (size_t i = 0; i < n_names; i++)
            o += (size_t)snprintf(expected + o, sizeof expected - o, "%s%s",
                                  i == 0 ? "" : (i + 1 == n_names ? " or " : ", "), names[i]);
        const char *sug =
            v->type == YAML_SCALAR_NODE ? hf_suggest(hf_bind_text(v), names, 0) : NULL;
        if (sug)
            snprintf(expected + o, sizeof expected - o, " (did you mean \"%s\"?)", sug);
        return hf_bind_fail_got(b, v, "model.type", expected);
    }
    HF_CALL(hf_bind_string(b, v, "model.type", "a registered model name", &s->model_type));
    HF_CALL(hf_bind_record(b, "model.type", v));
    yaml_node_t *params = hf_bind_lookup(b, n, "params");
    if (params) {
        HF_CALL(hf_bind_check_mapping(b, params, "model.params", NULL));
        for (yaml_node_pair_t *p = params->data.mapping.pairs.start;
             p < params->data.mapping.pairs.top; p++) {
            const char *k = hf_bind_text(hf_bind_node(b, p->key));
            char key[HF_BIND_PATH_LEN];
            snprintf(key, sizeof key, "model.params.%s", k);
            long idx = hf_model_param_index(ops, k);
            if (idx < 0) {
                const char *pn[128];
                size_t m = 0;
                for (; m < ops->n_params && m + 1 < sizeof pn / sizeof pn[0]; m++)
                    pn[m] = ops->params[m].name;
                pn[m] = NULL;
                const char *sug = hf_suggest(k, pn, 0);
                if (sug)
                    return hf_bind_fail(b, hf_bind_node(b, p->key), key,
                                        "unknown parameter of model %s, did you mean \"%s\"?",
                                        ops->name, sug);
                char list[600];
                size_t o = 0;
                for (size_t i = 0; i < m; i++)
                    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
                                          i == 0 ? "" : (i + 1 == m ? " or " : ", "), pn[i]);
                return hf_bind_fail(b, hf_bind_node(b, p->key), key,
                                    "unknown parameter of model %s, expected one of %s", ops->name,
                                    list);
            }
            HF_CALL(hf_bind_param(b, hf_bind_node(b, p->value), key, &ops->params[idx],
                                  ops->params[idx].name, &s->space));
        }
    }
    for (size_t i = 0; i < ops->n_params; i++) {
        if (hf_space_index(&s->space, ops->params[i].name) >= 0)
            continue;
        hf_param_space *p = hf_realloc(s->space.params, (s->space.n_params + 1) * sizeof *p);
        if (!p)
            return HF_ENOMEM;
        s->space.params = p;
        hf_param_space *ps = &p[s->space.n_params++];
        memset(ps, 0, sizeof *ps);
        ps->name = hf_strdup(ops->params[i].name);
        if (!ps->name)
            return HF_ENOMEM;
        ps->kind = HF_PARAM_FIXED;
        ps->value_type = ops->params[i].type;
        int result = hf_model_param_default(&ops->params[i], &ps->fixed);
        if (result != HF_OK)
            return hf_error_prefix(result, "%s: default of model.params.%s", b->path,
                                   ops->params[i].name);
    }
    return HF_OK;
}

/* preprocess: the preprocessing module's settings table, searchable like model parameters. */
static int bind_preprocess(hf_bind *b, const yaml_node_t *n)
{
    return hf_bind_param_table(b, n, "preprocess", hf_prep_param, hf_prep_n_params(),
                               &b->spec->space);
}

/* ---- rules between sections -------------------------------------------------------------------
 */

/* Grid search needs a finite set of values per axis. */
static int check_search_space(hf_bind *b)
{
    hf_spec *s = b->spec;
    char at[HF_BIND_PATH_LEN];
    if (s->search.strategy != HF_SEARCH_GRID)
        return HF_OK;
    for (size_t i = 0; i < s->space.n_params; i++) {
        const hf_param_space *p = &s->space.params[i];
        char key[HF_BIND_PATH_LEN];
        if (!strncmp(p->name, "preprocess.", 11))
            snprintf(key, sizeof key, "%s", p->name);
        else
            snprintf(key, sizeof key, "model.params.%s", p->name);
        const char *dist = p->kind == HF_PARAM_LOG_UNIFORM ? "log_uniform"
                           : p->kind == HF_PARAM_UNIFORM   ? "uniform"
                                                           : "int_uniform";
        if ((p->kind == HF_PARAM_UNIFORM || p->kind == HF_PARAM_LOG_UNIFORM) && !p->grid_points)
            return hf_error(HF_EINVAL,
                            "%s: %s: got {%s: [%g, %g]} with search.strategy grid, expected "
                            "grid_points: N in the mapping (or search.strategy random)",
                            hf_spec_where(s, key, at, sizeof at), key, dist, p->low, p->high);
        if (p->kind == HF_PARAM_INT_UNIFORM && !p->grid_points &&
            p->high - p->low + 1 > MAX_GRID_INT_VALUES)
            return hf_error(HF_EINVAL,
                            "%s: %s: got {int_uniform: [%.0f, %.0f]} with search.strategy grid, "
                            "expected at most %d values or grid_points: N",
                            hf_spec_where(s, key, at, sizeof at), key, p->low, p->high,
                            MAX_GRID_INT_VALUES);
    }
    return HF_OK;
}

/* Hyperband and ASHA: the model's resource parameter is the budget each rung sets; the spec gives
 * it one value, the full resource (max_resource's default), never a search. */
static int check_hyperband(hf_bind *b)
{
    hf_spec *s = b->spec;
    hf_search_opts *o = &s->search;
    char at[HF_BIND_PATH_LEN], key[HF_BIND_PATH_LEN];
    int async = o->strategy == HF_SEARCH_ASHA || (o->strategy == HF_SEARCH_TPE && o->async);
    if (async && s->parallel.ranks_per_task > 1)
        return hf_error(HF_EINVAL,
                        "%s: parallel.ranks_per_task: got %d with an asynchronous search (%s), "
                        "expected 1 (or search.strategy hyperband, or tpe with mode batch)",
                        hf_spec_where(s, "parallel.ranks_per_task", at, sizeof at),
                        s->parallel.ranks_per_task,
                        o->strategy == HF_SEARCH_ASHA ? "asha" : "tpe, mode async");
    if (o->strategy != HF_SEARCH_HYPERBAND && o->strategy != HF_SEARCH_ASHA)
        return HF_OK;
    const char *strategy = o->strategy == HF_SEARCH_ASHA ? "asha" : "hyperband";
    const hf_model_ops *m = s->model_type ? hf_model_find(s->model_type) : NULL;
    if (!m)
        return HF_OK; /* model.type's own check reports it */
    /* The model's own budget, or the fraction of the training rows (ridge, kernel_ridge, and
     * with them PCA: scikit-learn's Halving*SearchCV resource n_samples). */
    o->resource = m->resource_param ? m->resource_param : "preprocess.train_fraction";
    long i = hf_space_index(&s->space, o->resource);
    if (i < 0 && !m->resource_param) { /* not given: one value, every row */
        hf_param_space *np =
            hf_realloc(s->space.params, (s->space.n_params + 1) * sizeof *s->space.params);
        if (!np)
            return HF_ENOMEM;
        s->space.params = np;
        hf_param_space *q = &np[s->space.n_params];
        memset(q, 0, sizeof *q);
        if (!(q->name = hf_strdup(o->resource)))
            return HF_ENOMEM;
        q->kind = HF_PARAM_FIXED;
        q->value_type = HF_VAL_NUMBER;
        q->fixed.type = HF_VAL_NUMBER;
        q->fixed.u.num = 1.0;
        i = (long)s->space.n_params++;
    }
    if (i < 0)
        return hf_error(HF_EINTERNAL, "resource %s is not in the space", o->resource);
    const hf_param_space *p = &s->space.params[i];
    if (m->resource_param)
        snprintf(key, sizeof key, "model.params.%s", p->name);
    else
        snprintf(key, sizeof key, "%s", p->name);
    if (p->kind != HF_PARAM_FIXED)
        return hf_error(HF_EINVAL,
                        "%s: %s: is %s's resource: give it one value (the full budget, "
                        "max_resource's default) or set search.max_resource, not a search",
                        hf_spec_where(s, key, at, sizeof at), key, strategy);
    if (o->max_resource <= 0)
        o->max_resource = hf_value_as_double(&p->fixed);
    if (o->min_resource <= 0)
        o->min_resource = o->max_resource / pow(o->eta, 3);
    o->resource_integer = p->value_type == HF_VAL_INT;
    if (o->resource_integer && o->min_resource < 1)
        o->min_resource = 1;
    if (o->min_resource > o->max_resource)
        return hf_error(HF_EINVAL,
                        "%s: search.min_resource: got %g, expected at most max_resource (%g)",
                        hf_spec_where(s, "search.min_resource", at, sizeof at), o->min_resource,
                        o->max_resource);
    if (o->strategy == HF_SEARCH_ASHA) { /* enough configurations to reach the top rung */
        double *res = NULL;
        size_t nr = 0;
        HF_CALL(hf_asha_rungs(o->min_resource, o->max_resource, o->eta, o->resource_integer, &res,
                              &nr));
        free(res);
        double need = pow(o->eta, (double)nr - 1);
        if ((double)o->trials < need)
            return hf_error(HF_EINVAL,
                            "%s: search.trials: got %d with asha's %zu rungs, expected at least "
                            "eta^%zu = %.0f configurations, so that one reaches max_resource",
                            hf_spec_where(s, "search.trials", at, sizeof at), o->trials, nr, nr - 1,
                            need);
    }
    return HF_OK;
}

/* The objective's metrics belong to one task: the first's, or data.task's when it is given. */
static int check_metrics_task(hf_bind *b)
{
    hf_spec *s = b->spec;
    const hf_objective_opts *o = &s->objective;
    char at[HF_BIND_PATH_LEN], names[256];
    hf_task_kind task = s->data.task;
    for (size_t i = 0; i <= o->n_report; i++) {
        const char *name = i == 0 ? o->metric : o->report[i - 1];
        const hf_metric *m = name ? hf_metric_find(name) : NULL;
        char key[64];
        if (i == 0)
            snprintf(key, sizeof key, "objective.metric");
        else
            snprintf(key, sizeof key, "objective.report[%zu]", i - 1);
        if (!m)
            continue;
        if (task != HF_TASK_AUTO && m->task != task)
            return hf_error(HF_EINVAL,
                            "%s: %s: got \"%s\", expected a %s metric (%s) with data.task %s",
                            hf_spec_where(s, key, at, sizeof at), key, name, hf_task_name(task),
                            hf_metric_names_for(task, names, sizeof names), hf_task_name(task));
        task = m->task;
    }
    return HF_OK;
}

/* The task rule (docs/job-spec.md, "data.task"): data.task when given; otherwise the model's task
 * when the model supports one task only (ridge: regression, logistic_regression:
 * classification); otherwise the objective's metric's task; otherwise the target decides at
 * ingest (not a number: classification). So a 0/1 or 0..9 target is classification with a
 * classifier or a classification metric, and regression with a regressor. A model that does
 * not support the task, or a metric of the other task, is refused here, naming the models that
 * would do. */
static int infer_task(hf_bind *b)
{
    hf_spec *s = b->spec;
    const hf_model_ops *ops = hf_model_find(s->model_type);
    char list[256], at[HF_BIND_PATH_LEN];
    if (!ops)
        return hf_error(HF_EINTERNAL, "infer_task: unknown model %s", s->model_type);
    const unsigned reg = 1u << HF_TASK_REGRESSION, cls = 1u << HF_TASK_CLASSIFICATION;
    const hf_metric *m = s->objective.metric ? hf_metric_find(s->objective.metric) : NULL;
    HF_CALL(check_metrics_task(b));
    if (s->data.task != HF_TASK_AUTO) {
        snprintf(s->task_why, sizeof s->task_why, "data.task");
        if (!(ops->tasks & (1u << s->data.task)))
            return hf_error(HF_EINVAL,
                            "%s: model.type: got \"%s\", which does not support %s (data.task "
                            "%s), expected one of %s",
                            hf_spec_where(s, "model.type", at, sizeof at), ops->name,
                            hf_task_name(s->data.task), hf_task_name(s->data.task),
                            models_for(s->data.task, list, sizeof list));
    } else {
        hf_task_kind other =
            m && m->task == HF_TASK_REGRESSION ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION;
        if (m && !(ops->tasks & (1u << m->task)))
            return hf_error(HF_EINVAL,
                            "%s: objective.metric: got \"%s\", a %s metric, but model %s supports "
                            "only %s: use a %s metric, or a %s model (%s)",
                            hf_spec_where(s, "objective.metric", at, sizeof at), m->name,
                            hf_task_name(m->task), ops->name, hf_task_name(other),
                            hf_task_name(other), hf_task_name(m->task),
                            models_for(m->task, list, sizeof list));
        if ((ops->tasks & (reg | cls)) == reg || (ops->tasks & (reg | cls)) == cls) {
            s->data.task = (ops->tasks & reg) ? HF_TASK_REGRESSION : HF_TASK_CLASSIFICATION;
            snprintf(s->task_why, sizeof s->task_why, "model.type %s", ops->name);
        } else if (m) {
            s->data.task = m->task;
            snprintf(s->task_why, sizeof s->task_why, "objective.metric %s", m->name);
        }
    }
    if (s->data.task == HF_TASK_REGRESSION) {
        char why[160];
        if (!strcmp(s->task_why, "data.task"))
            snprintf(why, sizeof why, " with data.task regression");
        else
            snprintf(why, sizeof why, ": data.task is regression, implied by %s", s->task_why);
        HF_CALL(hf_cv_check_task(&s->cv, HF_TASK_REGRESSION, why));
    }
    if (s->data.task != HF_TASK_AUTO && !s->objective.metric)
        HF_CALL(hf_objective_resolve(&s->objective, s->data.task));
    return HF_OK;
}

/* A column of the cv section that is the target. */
static int check_cv_columns(hf_bind *b)
{
    hf_spec *s = b->spec;
    char at[HF_BIND_PATH_LEN];
    const struct {
        const char *key, *value;
    } cols[] = {{"cv.fold_column", s->cv.fold_column},
                {"cv.group_column", s->cv.group_column},
                {"cv.order_column", s->cv.order_column}};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        if (cols[i].value && s->data.target && !strcmp(cols[i].value, s->data.target))
            return hf_error(
                HF_EINVAL, "%s: %s: got \"%s\", expected a column other than the target",
                hf_spec_where(s, cols[i].key, at, sizeof at), cols[i].key, cols[i].value);
    return HF_OK;
}

/* Every trial's preprocessing settings combine (a text fill value with constant numeric
 * imputation does not): checked on the space's fixed values and every choice, so a bad
 * combination is refused before any trial runs. */
/* impute.numeric none leaves NaN in the design matrix: only for a model that takes it. */
static int check_impute_model(const hf_spec *s, const hf_prep_config *cfg, const hf_opt_source *src)
{
    const hf_model_ops *m = s->model_type ? hf_model_find(s->model_type) : NULL;
    char at[512];
    if (cfg->impute_numeric != HF_IMPUTE_NONE || !m || m->handles_missing)
        return HF_OK;
    return hf_error(HF_EINVAL,
                    "%s: preprocess.impute.numeric: got none with model.type %s, which cannot take "
                    "missing values; expected mean, median, most_frequent or constant (or xgboost "
                    "or random_forest, which learn where missing values go)",
                    hf_opt_where(src, "preprocess.impute.numeric", at, sizeof at), m->name);
}

/* What a trial's preprocessing must satisfy beyond its own table: the model's missing values and
 * categorical features (the whole search space is checked here, so a TPE or Hyperband trial
 * proposed during the run cannot be one that fails them). */
static int check_prep_config(const hf_spec *s, const hf_prep_config *cfg, const hf_opt_source *src)
{
    HF_CALL(check_impute_model(s, cfg, src));
    const char *key = NULL;
    /* preprocess.categorical native: only for a model that takes categorical features */
    if (hf_prep_model_check(cfg, s->model_type ? hf_model_find(s->model_type) : NULL, &key) < 0) {
        char at[512], name[128];
        snprintf(name, sizeof name, "preprocess.%s", key);
        return hf_error_prefix(HF_EINVAL, "%s", hf_opt_where(src, name, at, sizeof at));
    }
    return HF_OK;
}

/* The settings vals[] (fixed values, NULL = default) with setting i taken as v, decoded and
 * checked (check_prep_config). */
static int check_prep_value(const hf_spec *s, const hf_value **vals, size_t i, const hf_value *v,
                            const hf_opt_source *src)
{
    const hf_value *save = vals[i];
    hf_prep_config cfg;
    vals[i] = v;
    int result = hf_prep_config_from_values(vals, src, &cfg);
    vals[i] = save;
    return result == HF_OK ? check_prep_config(s, &cfg, src) : result;
}

static int check_prep_settings(hf_bind *b)
{
    hf_spec *s = b->spec;
    hf_opt_source src = {where_cb, s};
    const size_t n = hf_prep_n_params();
    const hf_value *vals[64] = {NULL};
    long idx[64];
    if (n > 64)
        return hf_error(HF_EINTERNAL, "more than 64 preprocessing settings");
    for (size_t i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof name, "preprocess.%s", hf_prep_param(i)->name);
        idx[i] = hf_space_index(&s->space, name);
        if (idx[i] >= 0 && s->space.params[idx[i]].kind == HF_PARAM_FIXED)
            vals[i] = &s->space.params[idx[i]].fixed;
    }
    /* The fill value's choices against numeric imputation's. */
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0 || s->space.params[idx[i]].kind != HF_PARAM_CHOICE)
            continue;
        const hf_param_space *p = &s->space.params[idx[i]];
        for (size_t c = 0; c < p->n_choices; c++) {
            HF_CALL(check_prep_value(s, vals, i, &p->choices[c], &src));
        }
    }
    /* An integer distribution's values (int_uniform: [0, 2] would draw polynomial 1): the first
     * 64 integers of its range (where the settings' forbidden values lie: kbins 1, polynomial
     * 1) and its upper end, as a choice would be checked. */
    for (size_t i = 0; i < n; i++) {
        if (idx[i] < 0 || s->space.params[idx[i]].kind != HF_PARAM_INT_UNIFORM)
            continue;
        const hf_param_space *p = &s->space.params[idx[i]];
        int64_t lo = (int64_t)p->low, hi = (int64_t)p->high;
        for (int64_t k = 0; k <= 64; k++) {
            int64_t x = k < 64 ? lo + k : hi;
            if (k < 64 && (x > hi || x < lo)) /* past the range (or wrapped) */
                continue;
            hf_value v = {.type = HF_VAL_INT, .u = {.i = x}};
            HF_CALL(check_prep_value(s, vals, i, &v, &src));
        }
    }
    hf_prep_config cfg;
    HF_CALL(hf_prep_config_from_values(vals, &src, &cfg));
    return check_prep_config(s, &cfg, &src);
}

static int check_name(hf_bind *b, const yaml_node_t *v)
{
    static const char *what =
        "a job name of letters, digits, '.', '_' or '-', other than \".\" and \"..\"";
    HF_CALL(hf_bind_string(b, v, "name", what, &b->spec->name));
    /* The name is a directory under output.dir: "." and ".." would be output.dir or its parent
     * (and ingest's clean-up would delete that directory's shards). */
    const char *name = b->spec->name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return hf_bind_fail_got(b, v, "name", what);
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return hf_bind_fail_got(b, v, "name", what);
    return hf_bind_record(b, "name", v);
}

static int bind_root(hf_bind *b, yaml_node_t *root)
{
    hf_spec *s = b->spec;
    const char *top[N_SECTIONS + 2];
    top[0] = "name";
    for (size_t i = 0; i < N_SECTIONS; i++)
        top[i + 1] = k_sections[i].key;
    top[N_SECTIONS + 1] = NULL;
    HF_CALL(hf_bind_check_mapping(b, root, "", top));
    yaml_node_t *v = hf_bind_lookup(b, root, "name");
    if (!v)
        return hf_bind_fail(b, root, "name", "missing required key, expected a job name");
    HF_CALL(check_name(b, v));
    hf_opt_source src = {where_cb, s};
    for (size_t i = 0; i < N_SECTIONS; i++) {
        const section *sec = &k_sections[i];
        v = hf_bind_lookup(b, root, sec->key);
        if (!v && sec->required)
            return hf_bind_fail(b, root, sec->key, "missing required key, expected %s",
                                sec->expected);
        if (sec->sec)
            HF_CALL(hf_bind_section(b, v, sec->sec, (char *)s + sec->offset, src));
        else if (v)
            HF_CALL(sec->bind(b, v));
    }
    HF_CALL(check_cv_columns(b));
    HF_CALL(infer_task(b));
    HF_CALL(check_prep_settings(b));
    HF_CALL(check_hyperband(b));
    return check_search_space(b);
}

/* ---- the public API ----------------------------------------------------------------------------
 */

/* Limits on a spec's shape, checked on libyaml's event stream before the document is built: a
 * job spec is a few dozen keys, and libyaml's composition and the binder's duplicate checks grow
 * faster than linearly (100,000 nesting levels took 127 s, 50,000 keys in one mapping 9.7 s). */
#define SPEC_MAX_BYTES ((size_t)1 << 20)
#define SPEC_MAX_DEPTH 64
#define SPEC_MAX_KEYS 1000

/* Not collective. One document of bounded size, depth and mapping width (HF_EINVAL with the
 * position otherwise; a syntax error is left to the loader, which says it best). */
static int check_shape(const char *path, const char *text, size_t len)
{
    if (len > SPEC_MAX_BYTES)
        return hf_error(HF_EINVAL, "%s: got a job spec of %zu bytes, expected at most %zu", path,
                        len, SPEC_MAX_BYTES);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return hf_error(HF_ENOMEM, "%s: cannot initialise the YAML parser", path);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int result = HF_OK, depth = 0, docs = 0, done = 0;
    size_t items[SPEC_MAX_DEPTH + 1] = {0}; /* events inside each open collection */
    int is_map[SPEC_MAX_DEPTH + 1] = {0};
    while (result == HF_OK && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e))
            break; /* the loader reports the syntax error */
        int line = (int)e.start_mark.line + 1, col = (int)e.start_mark.column + 1;
        if (depth > 0 &&
            (e.type == YAML_SCALAR_EVENT || e.type == YAML_ALIAS_EVENT ||
             e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT) &&
            is_map[depth] && ++items[depth] > 2 * SPEC_MAX_KEYS)
            result = hf_error(HF_EINVAL,
                              "%s:%d:%d: got a mapping of more than %d keys, expected "
                              "a job spec's few",
                              path, line, col, SPEC_MAX_KEYS);
        switch (e.type) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                result = hf_error(HF_EINVAL,
                                  "%s:%d:%d: got a second YAML document, expected one job spec "
                                  "per file",
                                  path, line, col);
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (++depth > SPEC_MAX_DEPTH) {
                result = hf_error(HF_EINVAL,
                                  "%s:%d:%d: got nesting deeper than %d levels, expected a job "
                                  "spec",
                                  path, line, col, SPEC_MAX_DEPTH);
                break;
            }
            items[depth] = 0;
            is_map[depth] = e.type == YAML_MAPPING_START_EVENT;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    return result;
}

int hf_spec_parse(const char *path, const char *text, size_t len, hf_spec **out)
{
    int result = HF_OK;
    yaml_parser_t parser;
    yaml_document_t doc;
    int parser_ok = 0, doc_ok = 0;
    hf_spec *spec = NULL;

    *out = NULL;
    spec = hf_calloc(1, sizeof *spec);
    if (!spec) {
        result = HF_ENOMEM;
        goto out;
    }
    hf_bind b = {path, &doc, spec};
    spec->path = hf_strdup(path);
    spec->text = hf_strndup(text, len);
    if (!spec->path || !spec->text) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_sha256_hex(text, len, spec->sha256);
    if (result == HF_OK)
        result = init_options(spec);
    if (result != HF_OK)
        goto out;
    if (!yaml_parser_initialize(&parser)) {
        result = hf_error(HF_ENOMEM, "%s: cannot initialise the YAML parser", path);
        goto out;
    }
    parser_ok = 1;
    if ((result = check_shape(path, text, len)) < 0)
        goto out;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        const char *ctxt = parser.context ? parser.context : NULL;
        if (ctxt)
            result = hf_error(
                HF_EINVAL, "%s:%d:%d: YAML syntax error: %s %s started at line %d, column %d", path,
                (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                parser.problem ? parser.problem : "invalid YAML", ctxt,
                (int)parser.context_mark.line + 1, (int)parser.context_mark.column + 1);
        else
            result =
                hf_error(HF_EINVAL, "%s:%d:%d: YAML syntax error: %s", path,
                         (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                         parser.problem ? parser.problem : "invalid YAML");
        goto out;
    }
    doc_ok = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        result = hf_error(HF_EINVAL,
                          "%s:1:1: (top level): got an empty document, expected a "
                          "mapping with name, data and model",
                          path);
        goto out;
    }
    result = bind_root(&b, root);
out:
    if (doc_ok)
        yaml_document_delete(&doc);
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (result != HF_OK) {
        hf_spec_free(spec);
        return result;
    }
    *out = spec;
    return HF_OK;
}

int hf_spec_load(const char *path, hf_spec **out)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int result = hf_fs_read_file(path, &text, &len);
    if (result != HF_OK)
        return hf_error_prefix(result, "reading job spec %s", path);
    result = hf_spec_parse(path, text, len, out);
    free(text);
    return result;
}

void hf_spec_free(hf_spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (k_sections[i].sec)
            hf_opts_release(k_sections[i].sec, (char *)spec + k_sections[i].offset);
    hf_space_release(&spec->space);
    for (size_t i = 0; i < spec->n_keys; i++)
        free(spec->keys[i].key);
    free(spec->keys);
    free(spec->path);
    free(spec->text);
    free(spec->name);
    free(spec->model_type);
    free(spec);
}

/* Every trial's model values through the model's check_params (for the task the spec knows so
 * far), so that a combination the model cannot fit is refused before any trial runs. */
static int check_model_trials(const hf_spec *spec, const hf_trial *trials, size_t n)
{
    const hf_model_ops *m = spec->model_type ? hf_model_find(spec->model_type) : NULL;
    if (!m || !m->check_params || n == 0)
        return HF_OK;
    long *idx = hf_malloc((m->n_params ? m->n_params : 1) * sizeof *idx);
    hf_value *v = hf_calloc(m->n_params ? m->n_params : 1, sizeof *v);
    int result = idx && v ? HF_OK : HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < m->n_params; i++)
        if ((idx[i] = hf_space_index(&spec->space, m->params[i].name)) < 0)
            result =
                hf_error(HF_EINTERNAL, "model parameter %s is not in the space", m->params[i].name);
    for (size_t t = 0; result >= 0 && t < n; t++) {
        for (size_t i = 0; i < m->n_params; i++)
            v[i] = trials[t].values[idx[i]]; /* shallow */
        const char *key = NULL;
        if ((result = m->check_params(v, spec->data.task, &key)) < 0) {
            char at[512], name[160];
            snprintf(name, sizeof name, "model.params.%s", key ? key : "");
            hf_opt_source src = {where_cb, spec};
            hf_error_prefix(result, "%s: model.params (%s, trial %zu)",
                            hf_opt_where(&src, key ? name : "model.type", at, sizeof at), m->name,
                            t);
        }
    }
    free(idx);
    free(v);
    return result;
}

int hf_spec_trials(const hf_spec *spec, hf_trial **trials, size_t *n_trials)
{
    HF_CALL(hf_space_trials(&spec->space, &spec->search, spec->path, trials, n_trials));
    int result = check_model_trials(spec, *trials, *n_trials);
    if (result < 0) {
        hf_trials_free(*trials, *n_trials, spec->space.n_params);
        *trials = NULL;
        *n_trials = 0;
    }
    return result;
}

const char *hf_spec_task_hint(const hf_spec *spec)
{
    static _Thread_local char buf[512];
    char list[256];
    hf_task_kind t = spec->data.task, other;
    if (t == HF_TASK_AUTO) {
        snprintf(buf, sizeof buf, "set data.task: regression or classification");
        return buf;
    }
    other = t == HF_TASK_REGRESSION ? HF_TASK_CLASSIFICATION : HF_TASK_REGRESSION;
    const char *why = spec->task_why[0] ? spec->task_why : "data.task";
    if (!strcmp(why, "data.task"))
        snprintf(buf, sizeof buf,
                 "data.task is %s: for a %s target set data.task: %s and a %s model (%s)",
                 hf_task_name(t), other == HF_TASK_REGRESSION ? "continuous" : "class",
                 hf_task_name(other), hf_task_name(other), models_for(other, list, sizeof list));
    else
        snprintf(buf, sizeof buf,
                 "data.task is %s, implied by %s: for a %s target use a %s model (%s)%s",
                 hf_task_name(t), why, other == HF_TASK_REGRESSION ? "continuous" : "class",
                 hf_task_name(other), models_for(other, list, sizeof list),
                 strncmp(why, "objective", 9) == 0 ? " or metric" : "");
    return buf;
}

int hf_spec_resolve_task(hf_spec *spec, hf_task_kind task)
{
    char at[HF_BIND_PATH_LEN], list[256];
    if (task != HF_TASK_REGRESSION && task != HF_TASK_CLASSIFICATION)
        return hf_error(HF_EINTERNAL, "hf_spec_resolve_task: task must be regression or "
                                      "classification");
    if (spec->data.task != HF_TASK_AUTO && spec->data.task != task)
        return hf_error(HF_EINVAL, "%s: data.task: got %s, but the data was ingested as %s",
                        spec->path, hf_task_name(spec->data.task), hf_task_name(task));
    const hf_model_ops *ops = spec->model_type ? hf_model_find(spec->model_type) : NULL;
    if (ops && !(ops->tasks & (1u << task)))
        return hf_error(HF_EINVAL,
                        "%s: model.type: got \"%s\", which does not support %s (the target \"%s\" "
                        "is not numeric), expected one of %s",
                        hf_spec_where(spec, "model.type", at, sizeof at), ops->name,
                        hf_task_name(task), spec->data.target, models_for(task, list, sizeof list));
    char why[160];
    snprintf(why, sizeof why, " for the %s target \"%s\"", hf_task_name(task), spec->data.target);
    HF_CALL(hf_cv_check_task(&spec->cv, task, why));
    HF_CALL(hf_objective_resolve(&spec->objective, task));
    spec->data.task = task;
    return HF_OK;
}

/* preprocess.categorical target in some trial: a regression or binary target
 * (docs/preprocessing.md). */
static int check_target_encoding(const hf_spec *spec, const hf_schema *schema)
{
    char at[HF_BIND_PATH_LEN];
    int multiclass = schema->task == HF_TASK_CLASSIFICATION && schema->n_classes > 2;
    /* preprocess.encode_columns: its columns exist and are categorical, and its encodings */
    long e = hf_space_index(&spec->space, "preprocess.encode_columns");
    const hf_param_space *es = e >= 0 ? &spec->space.params[e] : NULL;
    size_t ne = !es                           ? 0
                : es->kind == HF_PARAM_FIXED  ? 1
                : es->kind == HF_PARAM_CHOICE ? es->n_choices
                                              : 0;
    for (size_t c = 0; c < ne; c++) {
        const hf_value *v = es->kind == HF_PARAM_FIXED ? &es->fixed : &es->choices[c];
        int target = 0;
        if (v->type != HF_VAL_STRING)
            continue;
        if (hf_prep_encode_columns_check(v->u.str, schema, &target) < 0)
            return hf_error_prefix(HF_EINVAL, "%s",
                                   hf_spec_where(spec, "preprocess.encode_columns", at, sizeof at));
        if (target && multiclass)
            return hf_error(HF_EINVAL,
                            "%s: preprocess.encode_columns: got target for the %zu-class target "
                            "\"%s\", expected onehot, ordinal or frequency (target encoding "
                            "takes a regression or binary target)",
                            hf_spec_where(spec, "preprocess.encode_columns", at, sizeof at),
                            schema->n_classes, spec->data.target);
    }
    long i = hf_space_index(&spec->space, "preprocess.categorical");
    if (i < 0 || !multiclass)
        return HF_OK;
    const hf_param_space *ps = &spec->space.params[i];
    int any = 0;
    if (ps->kind == HF_PARAM_FIXED)
        any = ps->fixed.type == HF_VAL_STRING && strcmp(ps->fixed.u.str, "target") == 0;
    for (size_t c = 0; ps->kind == HF_PARAM_CHOICE && c < ps->n_choices; c++)
        any |= ps->choices[c].type == HF_VAL_STRING && strcmp(ps->choices[c].u.str, "target") == 0;
    if (!any)
        return HF_OK;
    return hf_error(HF_EINVAL,
                    "%s: preprocess.categorical: got target for the %zu-class target \"%s\", "
                    "expected onehot, ordinal or frequency (target encoding takes a regression "
                    "or binary target)",
                    hf_spec_where(spec, "preprocess.categorical", at, sizeof at), schema->n_classes,
                    spec->data.target);
}

/* preprocess.target_transform log1p in some trial: only for a regression target, all of whose
 * values are > -1. */
static int check_target_transform(const hf_spec *spec, hf_task_kind task, const double *y,
                                  size_t n_rows)
{
    long i = hf_space_index(&spec->space, "preprocess.target_transform");
    if (i < 0)
        return HF_OK;
    const hf_param_space *ps = &spec->space.params[i];
    int any = 0;
    if (ps->kind == HF_PARAM_FIXED)
        any = ps->fixed.type == HF_VAL_STRING && strcmp(ps->fixed.u.str, "log1p") == 0;
    for (size_t c = 0; ps->kind == HF_PARAM_CHOICE && c < ps->n_choices; c++)
        any |= ps->choices[c].type == HF_VAL_STRING && strcmp(ps->choices[c].u.str, "log1p") == 0;
    if (!any)
        return HF_OK;
    char at[HF_BIND_PATH_LEN];
    const char *where = hf_spec_where(spec, "preprocess.target_transform", at, sizeof at);
    if (task != HF_TASK_REGRESSION)
        return hf_error(HF_EINVAL,
                        "%s: preprocess.target_transform: got log1p for the %s target \"%s\", "
                        "expected none (a transform of a regression target)",
                        where, hf_task_name(task), spec->data.target);
    for (size_t r = 0; r < n_rows; r++)
        if (!(y[r] > -1.0))
            return hf_error(HF_EINVAL,
                            "%s: preprocess.target_transform: got log1p with the target value %g "
                            "(row %zu of the data), expected every value of \"%s\" > -1",
                            where, y[r], r + 1, spec->data.target);
    return HF_OK;
}

int hf_spec_check_data(const hf_spec *spec, const hf_schema *schema, const double *y, size_t n_rows)
{
    int result = HF_OK;
    size_t *counts = NULL;
    char at[HF_BIND_PATH_LEN];
    hf_task_kind task = schema->task;
    hf_cv_strategy strategy = hf_cv_strategy_for(&spec->cv, task);
    char why[160];
    snprintf(why, sizeof why, " for the regression target \"%s\"", spec->data.target);
    if (task == HF_TASK_REGRESSION && (result = hf_cv_check_task(&spec->cv, task, why)) < 0)
        goto out;
    if ((result = check_target_transform(spec, task, y, n_rows)) < 0 ||
        (result = check_target_encoding(spec, schema)) < 0)
        goto out;
    const char *metrics[64];
    size_t n_metrics = 0;
    if (spec->objective.metric)
        metrics[n_metrics++] = spec->objective.metric;
    for (size_t i = 0; i < spec->objective.n_report && n_metrics < 64; i++)
        metrics[n_metrics++] = spec->objective.report[i];
    for (size_t i = 0; i < n_metrics; i++) {
        const hf_metric *m = hf_metric_find(metrics[i]);
        const char *key =
            i == 0 && spec->objective.metric ? "objective.metric" : "objective.report";
        if (m && m->task != task) {
            result = hf_error(HF_EINVAL,
                              "%s: %s: got \"%s\", expected a %s metric for the %s target \"%s\"",
                              hf_spec_where(spec, key, at, sizeof at), key, metrics[i],
                              hf_task_name(task), hf_task_name(task), spec->data.target);
            goto out;
        }
    }
    if (strategy == HF_CV_KFOLD && n_rows < (size_t)spec->cv.folds) {
        result = hf_error(HF_EINVAL,
                          "%s: cv.folds: got %d, expected at most %zu, the number of "
                          "rows",
                          hf_spec_where(spec, "cv.folds", at, sizeof at), spec->cv.folds, n_rows);
        goto out;
    }
    if (task == HF_TASK_CLASSIFICATION && strategy == HF_CV_STRATIFIED) {
        if (schema->n_classes < 2) {
            result = hf_error(HF_EINVAL,
                              "%s: data.target: got %zu class in \"%s\", expected at least 2 for "
                              "classification",
                              spec->path, schema->n_classes, spec->data.target);
            goto out;
        }
        counts = hf_calloc(schema->n_classes, sizeof *counts);
        if (!counts) {
            result = HF_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n_rows; i++) {
            double v = y[i];
            if (!(v >= 0) || v >= (double)schema->n_classes || v != floor(v)) {
                result = hf_error(HF_EDATA,
                                  "%s: data.target: row %zu has class index %g, "
                                  "expected 0..%zu",
                                  spec->path, i, v, schema->n_classes - 1);
                goto out;
            }
            counts[(size_t)v]++;
        }
        for (size_t k = 0; k < schema->n_classes; k++) {
            if (counts[k] < (size_t)spec->cv.folds) {
                result = hf_error(HF_EINVAL,
                                  "%s: cv.folds: got %d, expected at most %zu: class \"%s\" of "
                                  "target \"%s\" has only %zu rows (stratified folds need at "
                                  "least one row of each class per fold)",
                                  hf_spec_where(spec, "cv.folds", at, sizeof at), spec->cv.folds,
                                  counts[k], schema->classes ? schema->classes[k] : "?",
                                  spec->data.target, counts[k]);
                goto out;
            }
        }
    }
out:
    free(counts);
    return result;
}

int hf_spec_sweep_id(const hf_spec *spec, const hf_trial *trials, size_t n_trials,
                     const char *const *metrics, size_t n_metrics, char out[65])
{
    char *text = NULL;
    size_t len = 0;
    int result = hf_opts_identity(&hf_data_section, &spec->data, &text, &len);
    if (result >= 0)
        result = hf_opts_identity(&hf_cv_section, &spec->cv, &text, &len);
    if (result >= 0)
        result = hf_opts_identity_add(&text, &len, "model.type", spec->model_type);
    for (size_t i = 0; i < n_metrics && result >= 0; i++)
        result = hf_opts_identity_add(&text, &len, "metric", metrics[i]);
    /* A study's trials depend on its settings (TPE's proposals, Hyperband's and ASHA's plan), not
     * only on the draws below. */
    /* Grid and random search with a budget or the pruner run their trials in batches and stages
     * (search.batch, the pruner's keys), which number the journal's tasks: their settings too. */
    const hf_search_opts *so = &spec->search;
    const int plain = so->strategy == HF_SEARCH_GRID || so->strategy == HF_SEARCH_RANDOM;
    if (result >= 0 && (!plain || so->max_time > 0 || so->early_stop > 0 || so->pruner))
        result = hf_opts_identity(&hf_search_section, &spec->search, &text, &len);
    for (size_t i = 0; i < n_trials && result >= 0; i++) {
        char *p = hf_trial_params_json(&spec->space, &trials[i]);
        result = p ? hf_opts_identity_add(&text, &len, "trial", p) : HF_ENOMEM;
        free(p);
    }
    if (result >= 0)
        result = hf_sha256_hex(text, len, out);
    free(text);
    return result;
}

int hf_spec_decode_trials(const hf_spec *spec, const hf_model_ops *model, const hf_trial *trials,
                          size_t n, hf_trial_config **out)
{
    int result = HF_OK;
    const size_t np = model->n_params, nq = hf_prep_n_params();
    hf_opt_source src = {where_cb, spec};
    long *midx = hf_malloc((np ? np : 1) * sizeof *midx);
    long *pidx = hf_malloc((nq ? nq : 1) * sizeof *pidx);
    const hf_value **pv = hf_calloc(nq ? nq : 1, sizeof *pv);
    hf_trial_config *c = hf_calloc(n ? n : 1, sizeof *c);
    hf_value *vals = hf_calloc((n ? n : 1) * (np ? np : 1), sizeof *vals);
    *out = NULL;
    if (!midx || !pidx || !pv || !c || !vals) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        midx[i] = hf_space_index(&spec->space, model->params[i].name);
        if (midx[i] < 0) {
            result = hf_error(HF_EINTERNAL, "model parameter %s is not in the space",
                              model->params[i].name);
            goto out;
        }
    }
    for (size_t i = 0; i < nq; i++) {
        char name[128];
        snprintf(name, sizeof name, "preprocess.%s", hf_prep_param(i)->name);
        pidx[i] = hf_space_index(&spec->space, name);
    }
    const long impute_idx = hf_space_index(&spec->space, "preprocess.impute.numeric");
    /* Now that the data decided the task, the model's check sees it too. */
    if ((result = check_model_trials(spec, trials, n)) < 0)
        goto out;
    for (size_t t = 0; t < n; t++) {
        hf_value *mv = vals + t * np;
        for (size_t i = 0; i < np; i++)
            mv[i] = trials[t].values[midx[i]]; /* shallow: borrowed from the trial */
        c[t].model = mv;
        for (size_t i = 0; i < nq; i++)
            pv[i] = pidx[i] >= 0 ? &trials[t].values[pidx[i]] : NULL;
        if ((result = hf_prep_config_from_values(pv, &src, &c[t].prep)) < 0)
            goto out;
        c[t].prep.seed = spec->cv.seed; /* target encoding's inner folds */
        /* A model that takes missing values gets them, unless the spec asks for imputation (or
         * for PCA, which needs it). */
        if (model->handles_missing && impute_idx < 0 && c[t].prep.pca_components == 0)
            c[t].prep.impute_numeric = HF_IMPUTE_NONE;
    }
    /* The value arrays live in one block, reached through the first config. */
    if (n > 0) {
        *out = c;
        c = NULL;
        vals = NULL;
    } else {
        *out = c;
        c = NULL;
    }
out:
    if (c)
        free(c);
    free(vals);
    free(midx);
    free(pidx);
    free(pv);
    return result;
}

void hf_trial_configs_free(hf_trial_config *c, size_t n)
{
    if (!c)
        return;
    if (n > 0)
        free((void *)c[0].model);
    free(c);
}

/* ---- hyperfold keys ----------------------------------------------------------------------- */

/* The default of d in the freshly initialised options o, as text. */
static void default_text(const hf_opt_def *d, const void *o, char *buf, size_t len)
{
    const char *f = (const char *)o + d->offset;
    int i = 0;
    switch (d->kind) {
    case HF_OPT_STRING: {
        const char *v = *(char *const *)f;
        snprintf(buf, len, "%s", v ? v : "none");
        return;
    }
    case HF_OPT_STRING_LIST: {
        char *const *v = *(char **const *)f;
        size_t n = *(const size_t *)((const char *)o + d->count_offset), used = 0;
        used += (size_t)snprintf(buf, len, "[");
        for (size_t k = 0; k < n && used < len; k++)
            used += (size_t)snprintf(buf + used, len - used, "%s\"%s\"", k ? ", " : "", v[k]);
        if (used < len)
            snprintf(buf + used, len - used, "]");
        return;
    }
    case HF_OPT_INT:
        memcpy(&i, f, sizeof i);
        if (i < d->min)
            snprintf(buf, len, "not set");
        else
            snprintf(buf, len, "%d", i);
        return;
    case HF_OPT_BOOL:
        memcpy(&i, f, sizeof i);
        snprintf(buf, len, "%s", i < 0 ? "auto" : i ? "true" : "false");
        return;
    case HF_OPT_ENUM:
        memcpy(&i, f, sizeof i);
        i -= d->first_choice;
        for (int k = 0; d->choices && k <= i; k++)
            if (!d->choices[k])
                i = -1;
        snprintf(buf, len, "%s", i >= 0 && d->choices ? d->choices[i] : "auto");
        return;
    case HF_OPT_SEED:
    case HF_OPT_SIZE: {
        uint64_t u;
        memcpy(&u, f, sizeof u);
        snprintf(buf, len, d->kind == HF_OPT_SIZE && u == 0 ? "unlimited" : "%llu",
                 (unsigned long long)u);
        return;
    }
    case HF_OPT_NUMBER: {
        double x;
        memcpy(&x, f, sizeof x);
        snprintf(buf, len, "%.17g", x);
        return;
    }
    case HF_OPT_ENUM_MAP:
    case HF_OPT_STRING_MAP:
        snprintf(buf, len, "%s",
                 *(const size_t *)((const char *)o + d->count_offset) ? "given" : "none");
        return;
    case HF_OPT_CUSTOM:
        snprintf(buf, len, "see the meaning");
        return;
    case HF_OPT_SUBSECTION:
        snprintf(buf, len, "none");
        return;
    }
    buf[0] = '\0';
}

static void print_key(FILE *out, const char *key, const char *values, const char *dflt,
                      const char *help)
{
    fprintf(out, "%s\n    values:  %s\n    default: %s\n    %s\n", key, values, dflt,
            help ? help : "");
}

int hf_spec_print_keys(FILE *out)
{
    hf_spec *d = hf_calloc(1, sizeof *d);
    int result = d ? init_options(d) : HF_ENOMEM;
    char key[256], values[512], dflt[512];
    for (size_t s = 0; s < N_SECTIONS && result == HF_OK; s++) {
        const section *sec = &k_sections[s];
        if (sec->sec) {
            for (size_t i = 0; i < sec->sec->n_defs; i++) {
                const hf_opt_def *od = &sec->sec->defs[i];
                if (od->kind == HF_OPT_SUBSECTION) { /* data.etl: its keys, under its name */
                    const char *o = (const char *)d + sec->offset + od->offset;
                    for (size_t j = 0; j < od->sub->n_defs; j++) {
                        const hf_opt_def *sd = &od->sub->defs[j];
                        snprintf(key, sizeof key, "%s.%s%s", od->sub->name, sd->key,
                                 sd->flags & HF_OPT_REQUIRED ? " (required)" : "");
                        hf_bind_describe_opt(sd, values, sizeof values);
                        default_text(sd, o, dflt, sizeof dflt);
                        print_key(out, key, values, dflt, sd->help);
                    }
                    continue;
                }
                snprintf(key, sizeof key, "%s.%s%s", sec->key, od->key,
                         od->flags & HF_OPT_REQUIRED ? " (required)" : "");
                hf_bind_describe_opt(od, values, sizeof values);
                default_text(od, (const char *)d + sec->offset, dflt, sizeof dflt);
                print_key(out, key, values, dflt, od->help);
            }
        } else if (!strcmp(sec->key, "model")) {
            const hf_model_ops *const *all = hf_model_all();
            size_t used = 0;
            values[0] = '\0';
            for (size_t m = 0; all[m]; m++)
                used +=
                    (size_t)snprintf(values + used, used < sizeof values ? sizeof values - used : 0,
                                     "%s%s", m ? ", " : "", all[m]->name);
            print_key(out, "model.type (required)", values, "none", "the model to fit");
            for (size_t m = 0; all[m]; m++)
                for (size_t i = 0; i < all[m]->n_params; i++) {
                    const hf_param_def *pd = &all[m]->params[i];
                    snprintf(key, sizeof key, "model.params.%s (%s)", pd->name, all[m]->name);
                    hf_bind_describe_param(pd, values, sizeof values);
                    print_key(out, key, values, pd->default_text ? pd->default_text : "none",
                              pd->help);
                }
        } else {
            for (size_t i = 0; i < hf_prep_n_params(); i++) {
                const hf_param_def *pd = hf_prep_param(i);
                snprintf(key, sizeof key, "preprocess.%s", pd->name);
                hf_bind_describe_param(pd, values, sizeof values);
                print_key(out, key, values, pd->default_text ? pd->default_text : "see the meaning",
                          pd->help);
            }
        }
    }
    if (d)
        hf_spec_free(d);
    return result;
}
