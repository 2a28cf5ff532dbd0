/* describe.c - `hyperfold describe`: a first look at the data, computed in parallel.
 *
 * Every rank loads its own contiguous slice of the rows from the shards and computes per-column
 * partial statistics; MPI reductions combine them. Quartiles are approximate: each numeric column's
 * values are counted in a 4096-bin histogram between the global min and max (reduced by summation),
 * and a quantile is interpolated linearly inside its bin, so its error is at most (max - min) /
 * 4096 (exact for min and max). Categorical columns report their distinct values and the most
 * frequent ones. The target's class balance (classification) or distribution (regression) and each
 * numeric feature's Pearson correlation with the target (pairwise complete rows) are reported too.
 */
#define _GNU_SOURCE
#include "../common/fsutil.h"
#include "../common/hf.h"
#include "../jobs/spec.h"
#include "../shards/ingest.h"
#include "../shards/partition.h"
#include "describe.h"
#include "run.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINS 4096
#define TOP 5

/* Per numeric column partial sums: count, missing, sum, sumsq, sum_xy, sum_y, sum_yy, n_xy. */
enum { S_COUNT, S_MISSING, S_SUM, S_SUMSQ, S_XY, S_Y, S_YY, S_NXY, S_N };

typedef struct col_stats {
    double s[S_N];
    double min, max;
    double *hist;  /* BINS (numeric) */
    double *codes; /* category counts (categorical/boolean) */
} col_stats;

static double quantile(const double *hist, double count, double lo, double hi, double q)
{
    if (count <= 0)
        return NAN;
    if (hi <= lo)
        return lo;
    double target = q * (count - 1); /* position among the sorted values, 0-based */
    double cum = 0;
    double w = (hi - lo) / BINS;
    for (int b = 0; b < BINS; b++) {
        if (hist[b] > 0 && cum + hist[b] > target) {
            double frac = (target - cum + 0.5) / hist[b];
            return lo + w * (b + (frac < 0 ? 0 : frac > 1 ? 1 : frac));
        }
        cum += hist[b];
    }
    return hi;
}

static int bin_of(double v, double lo, double hi)
{
    if (hi <= lo)
        return 0;
    int b = (int)((v - lo) / (hi - lo) * BINS);
    return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

typedef struct top_entry {
    size_t code;
    double count;
} top_entry;

static int cmp_top(const void *a, const void *b)
{
    const top_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return x->code < y->code ? -1 : x->code > y->code;
}

/* Collective. Computes the statistics of every feature column and of the target. */
static int compute(hf_comm *world, const hf_manifest *m, const char *shard_dir, json_t **out)
{
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    const hf_schema *sc = hf_manifest_schema(m);
    int64_t n = hf_manifest_n_rows(m);
    int64_t first = n * rank / size, last = n * (rank + 1) / size;
    hf_dataset *d = NULL;
    size_t p = sc->n_features;
    int classification = sc->task == HF_TASK_CLASSIFICATION;
    col_stats *cs = hf_calloc(p + 1, sizeof *cs); /* [p] = the target */
    int result = cs ? hf_shards_load_range(shard_dir, m, first, last - first, &d) : HF_ENOMEM;
    result = hf_comm_check(world, result);
    if (result < 0)
        goto out;
    for (size_t j = 0; j <= p; j++) {
        int cat = j < p ? sc->features[j].type != HF_COL_NUMERIC : classification;
        size_t k = j < p ? sc->features[j].n_categories : sc->n_classes;
        cs[j].min = INFINITY;
        cs[j].max = -INFINITY;
        if (cat && !(cs[j].codes = hf_calloc(k ? k : 1, sizeof(double))))
            result = HF_ENOMEM;
        if (!cat && !(cs[j].hist = hf_calloc(BINS, sizeof(double))))
            result = HF_ENOMEM;
    }
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    /* Pass 1: moments, min, max, category counts. */
    for (size_t i = 0; i < d->n_rows; i++) {
        double y = d->y[i];
        for (size_t j = 0; j <= p; j++) {
            double v = j < p ? d->X[i * p + j] : y;
            col_stats *c = &cs[j];
            if (isnan(v)) {
                c->s[S_MISSING]++;
                continue;
            }
            c->s[S_COUNT]++;
            if (c->codes) {
                if (v >= 0)
                    c->codes[(size_t)v]++;
                continue;
            }
            c->s[S_SUM] += v;
            c->s[S_SUMSQ] += v * v;
            if (v < c->min)
                c->min = v;
            if (v > c->max)
                c->max = v;
            if (j < p && (!classification || sc->n_classes == 2) && !isnan(y)) {
                c->s[S_XY] += v * y;
                c->s[S_Y] += y;
                c->s[S_YY] += y * y;
                c->s[S_NXY]++;
            }
        }
    }
    for (size_t j = 0; j <= p && result >= 0; j++) {
        size_t k = j < p ? sc->features[j].n_categories : sc->n_classes;
        if ((result = hf_comm_allreduce_sum_f64(world, cs[j].s, S_N)) >= 0 &&
            (result = hf_comm_allreduce_min_f64(world, &cs[j].min, 1)) >= 0)
            result = hf_comm_allreduce_max_f64(world, &cs[j].max, 1);
        if (result >= 0 && cs[j].codes)
            result = hf_comm_allreduce_sum_f64(world, cs[j].codes, k);
    }
    if (result < 0)
        goto out;
    /* Pass 2: histograms between the global min and max. */
    for (size_t i = 0; i < d->n_rows; i++)
        for (size_t j = 0; j <= p; j++) {
            double v = j < p ? d->X[i * p + j] : d->y[i];
            if (cs[j].hist && !isnan(v))
                cs[j].hist[bin_of(v, cs[j].min, cs[j].max)]++;
        }
    for (size_t j = 0; j <= p && result >= 0; j++)
        if (cs[j].hist)
            result = hf_comm_allreduce_sum_f64(world, cs[j].hist, BINS);
    if (result < 0 || rank != 0)
        goto out;

    json_t *cols = json_array();
    for (size_t j = 0; j <= p; j++) {
        col_stats *c = &cs[j];
        json_t *o = json_object();
        const char *name = j < p ? sc->features[j].name : sc->target;
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "role", json_string(j < p ? "feature" : "target"));
        hf_col_type type = j < p            ? sc->features[j].type
                           : classification ? HF_COL_CATEGORICAL
                                            : HF_COL_NUMERIC;
        json_object_set_new(o, "type",
                            json_string(type == HF_COL_NUMERIC   ? "numeric"
                                        : type == HF_COL_BOOLEAN ? "boolean"
                                                                 : "categorical"));
        json_object_set_new(o, "count", json_integer((json_int_t)c->s[S_COUNT]));
        json_object_set_new(o, "missing", json_integer((json_int_t)c->s[S_MISSING]));
        if (c->hist) {
            double cnt = c->s[S_COUNT];
            double mean = cnt > 0 ? c->s[S_SUM] / cnt : NAN;
            double var = cnt > 1 ? (c->s[S_SUMSQ] - cnt * mean * mean) / (cnt - 1) : NAN;
            json_object_set_new(o, "mean", isfinite(mean) ? json_real(mean) : json_null());
            json_object_set_new(o, "std",
                                isfinite(var) ? json_real(sqrt(var > 0 ? var : 0)) : json_null());
            json_object_set_new(o, "min", cnt > 0 ? json_real(c->min) : json_null());
            const double qs[3] = {0.25, 0.5, 0.75};
            const char *qn[3] = {"q25", "median", "q75"};
            for (int q = 0; q < 3; q++) {
                double v = quantile(c->hist, cnt, c->min, c->max, qs[q]);
                json_object_set_new(o, qn[q], isfinite(v) ? json_real(v) : json_null());
            }
            json_object_set_new(o, "max", cnt > 0 ? json_real(c->max) : json_null());
            if (j < p && (!classification || sc->n_classes == 2)) {
                double nn = c->s[S_NXY];
                double cov = c->s[S_XY] - c->s[S_SUM] * c->s[S_Y] / (nn > 0 ? nn : 1);
                double vx = c->s[S_SUMSQ] - c->s[S_SUM] * c->s[S_SUM] / (nn > 0 ? nn : 1);
                double vy = c->s[S_YY] - c->s[S_Y] * c->s[S_Y] / (nn > 0 ? nn : 1);
                double r = vx > 0 && vy > 0 ? cov / sqrt(vx * vy) : NAN;
                json_object_set_new(o, "corr_target", isfinite(r) ? json_real(r) : json_null());
            }
        } else {
            size_t k = j < p ? sc->features[j].n_categories : sc->n_classes;
            char **names = j < p ? sc->features[j].categories : sc->classes;
            top_entry *t = hf_malloc((k ? k : 1) * sizeof *t);
            size_t distinct = 0;
            for (size_t i = 0; t && i < k; i++) {
                t[i].code = i;
                t[i].count = c->codes[i];
                distinct += c->codes[i] > 0;
            }
            json_object_set_new(o, "distinct", json_integer((json_int_t)distinct));
            json_t *top = json_array();
            if (t) {
                qsort(t, k, sizeof *t, cmp_top);
                size_t limit = j == p ? k : (k < TOP ? k : TOP); /* the target: every class */
                for (size_t i = 0; i < limit; i++) {
                    if (t[i].count <= 0)
                        break;
                    json_t *e = json_object();
                    json_object_set_new(e, "value", json_string(names[t[i].code]));
                    json_object_set_new(e, "count", json_integer((json_int_t)t[i].count));
                    json_object_set_new(e, "fraction", json_real(t[i].count / c->s[S_COUNT]));
                    json_array_append_new(top, e);
                }
            }
            free(t);
            json_object_set_new(o, j == p ? "classes" : "top", top);
        }
        json_array_append_new(cols, o);
    }
    json_t *root = json_object();
    json_object_set_new(root, "rows", json_integer((json_int_t)n));
    json_object_set_new(root, "task",
                        json_string(classification ? "classification" : "regression"));
    json_object_set_new(root, "quantiles",
                        json_string("approximate: 4096-bin histogram between min and max, "
                                    "linear inside the bin"));
    json_object_set_new(root, "columns", cols);
    *out = root;
out:
    if (cs)
        for (size_t j = 0; j <= p; j++) {
            free(cs[j].hist);
            free(cs[j].codes);
        }
    free(cs);
    hf_dataset_free(d);
    return result;
}

static void fmt_num(char *buf, size_t len, json_t *v)
{
    if (json_is_number(v))
        snprintf(buf, len, "%.6g", json_number_value(v));
    else
        snprintf(buf, len, "-");
}

static void print_table(FILE *fp, json_t *root)
{
    json_t *cols = json_object_get(root, "columns");
    fprintf(fp, "%lld rows, task %s\n\n",
            (long long)json_integer_value(json_object_get(root, "rows")),
            json_string_value(json_object_get(root, "task")));
    fprintf(fp, "%-24s %-11s %8s %7s %11s %11s %11s %11s %11s %11s %11s %8s\n", "column", "type",
            "count", "missing", "mean", "std", "min", "q25", "median", "q75", "max", "corr_y");
    size_t i;
    json_t *c;
    json_array_foreach(cols, i, c)
    {
        const char *type = json_string_value(json_object_get(c, "type"));
        char name[64];
        snprintf(name, sizeof name, "%s%s", json_string_value(json_object_get(c, "name")),
                 strcmp(json_string_value(json_object_get(c, "role")), "target") == 0 ? " (target)"
                                                                                      : "");
        fprintf(fp, "%-24.24s %-11s %8lld %7lld", name, type,
                (long long)json_integer_value(json_object_get(c, "count")),
                (long long)json_integer_value(json_object_get(c, "missing")));
        if (strcmp(type, "numeric") == 0) {
            const char *keys[] = {"mean", "std", "min", "q25", "median", "q75", "max"};
            for (int k = 0; k < 7; k++) {
                char b[32];
                fmt_num(b, sizeof b, json_object_get(c, keys[k]));
                fprintf(fp, " %11s", b);
            }
            char b[32];
            fmt_num(b, sizeof b, json_object_get(c, "corr_target"));
            fprintf(fp, " %8s", b);
        } else {
            json_t *top = json_object_get(c, "top");
            if (!top)
                top = json_object_get(c, "classes");
            fprintf(fp, "  distinct %lld:",
                    (long long)json_integer_value(json_object_get(c, "distinct")));
            size_t k;
            json_t *e;
            json_array_foreach(top, k, e)
            {
                fprintf(fp, " %s=%lld (%.1f%%)", json_string_value(json_object_get(e, "value")),
                        (long long)json_integer_value(json_object_get(e, "count")),
                        100 * json_real_value(json_object_get(e, "fraction")));
            }
        }
        fputc('\n', fp);
    }
    fprintf(fp, "\nquartiles are %s\n", json_string_value(json_object_get(root, "quantiles")));
}

int hf_cmd_describe(hf_comm *world, int argc, char **argv)
{
    const char *path = NULL;
    int rank = hf_comm_rank(world);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (rank == 0)
                printf(
                    "usage: mpirun -np N hyperfold describe JOB.yaml\n\n"
                    "Ingests the job's data (or reuses its shards) and profiles every column in\n"
                    "parallel: type, count, missing, mean, std, min, approximate quartiles, max;\n"
                    "categorical columns: distinct values and the most frequent; the target's\n"
                    "class balance or distribution; each numeric feature's correlation with the\n"
                    "target. Prints a table and writes <output.dir>/<name>/describe.json.\n");
            return HF_OK;
        } else if (argv[i][0] == '-') {
            return hf_error(HF_EINVAL, "describe: unknown option %s", argv[i]);
        } else if (!path) {
            path = argv[i];
        }
    }
    if (!path)
        return hf_error(HF_EINVAL, "describe: no job spec given (usage: hyperfold describe "
                                   "JOB.yaml)");
    hf_spec *spec = NULL;
    hf_manifest *m = NULL;
    json_t *root = NULL;
    char *run_dir = NULL, *shard_dir = NULL, *out_path = NULL, *audit = NULL;
    int reused = 0;
    int result = hf_spec_load_collective(world, path, &spec);
    if (result < 0)
        goto out;
    run_dir = hf_asprintf("%s/%s", spec->output.dir, spec->name);
    shard_dir = hf_asprintf("%s/%s/shards", spec->output.dir, spec->name);
    out_path = hf_asprintf("%s/%s/describe.json", spec->output.dir, spec->name);
    audit = hf_asprintf("%s/%s/audit.jsonl", spec->output.dir, spec->name);
    result = run_dir && shard_dir && out_path && audit ? HF_OK : HF_ENOMEM;
    if (result >= 0 && rank == 0)
        result = hf_mkdirs(run_dir);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    hf_source_opts so = {.spec = spec, .audit_path = audit, .rank = rank};
    char *rejects = hf_asprintf("%s/rejects.csv", run_dir);
    result = hf_ingest(world, spec, shard_dir, &so, spec->data.skip_bad_rows ? rejects : NULL, &m,
                       &reused);
    free(rejects);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    result = compute(world, m, shard_dir, &root);
    if (result >= 0 && rank == 0) {
        print_table(stdout, root);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        result = text ? hf_write_file_atomic(out_path, text, strlen(text)) : HF_ENOMEM;
        free(text);
        if (result >= 0)
            fprintf(stdout, "wrote %s\n", out_path);
    }
    result = hf_comm_check(world, result);
out:
    json_decref(root);
    hf_manifest_free(m);
    hf_spec_free(spec);
    free(run_dir);
    free(shard_dir);
    free(out_path);
    free(audit);
    return result;
}
