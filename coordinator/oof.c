#define _GNU_SOURCE
/* oof.c - out-of-fold predictions of the best trial, the holdout's predictions, their
 * evaluations (oof.h). */
#include "coordinator/oof.h"

#include "common/csvw.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "worker/evaluation.h"
#include "worker/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One predicted row: where it sits in the table and the split that predicted it. */
typedef struct oof_row {
    int64_t row; /* the row's position in the source */
    int64_t idx; /* the row's index in the table */
    int repeat, fold;
    const double *pred; /* n_outputs */
} oof_row;

static int by_repeat_row(const void *a, const void *b)
{
    const oof_row *x = a, *y = b;
    if (x->repeat != y->repeat)
        return x->repeat < y->repeat ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Fits cfg on split s's training rows and predicts its validation rows into out (n_valid x
 * n_outputs). Collective over group when it is set. */
static int predict_split(const hf_job *job, const hf_trial_config *cfg, const hf_split *sp,
                         const hf_group *group, double *out)
{
    hf_prep *prep = NULL;
    hf_fitted *fitted = NULL;
    int result =
        hf_fit_pipeline(cfg, job->data, job->model, sp->train, sp->n_train, group, &prep, &fitted);
    if (result >= 0)
        result = hf_predict_pipeline(prep, fitted, group, job->data, sp->valid, sp->n_valid, out);
    hf_prep_free(prep);
    hf_fitted_free(fitted);
    return result;
}

static size_t n_outputs(const hf_job *job)
{
    const hf_schema *s = job->data->schema;
    return s->task == HF_TASK_CLASSIFICATION ? s->n_classes : 1;
}

/* v with the fewest significant digits (15 to 17) that read back as v: the input's own text for
 * a target read from "1.5", 17 digits where needed. */
static void put_num(FILE *fp, double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, fp);
}

/* The header's probability columns and a row's target, prediction and probabilities. */
static void put_header_tail(FILE *fp, const hf_schema *s)
{
    fputs("target,", fp);
    hf_csvw_put_pred_header(fp, s);
    fputc('\n', fp);
}

static void put_row_tail(FILE *fp, const hf_schema *s, double y, const double *p)
{
    if (s->task != HF_TASK_CLASSIFICATION) {
        put_num(fp, y);
        fputc(',', fp);
        put_num(fp, p[0]);
        fputc('\n', fp);
        return;
    }
    hf_csvw_put_field(fp, s->classes[(size_t)y]);
    fputc(',', fp);
    hf_csvw_put_field(fp, s->classes[hf_pred_class(p, s->n_classes)]);
    for (size_t k = 0; k < s->n_classes; k++) {
        fputc(',', fp);
        put_num(fp, p[k]);
    }
    fputc('\n', fp);
}

/* The evaluation of rows[0..n) of the table with predictions pred (n x n_outputs). */
static int evaluate_rows(const hf_job *job, const char *source, const int64_t *idx,
                         const double *pred, size_t n, json_t **out)
{
    const hf_schema *s = job->data->schema;
    double *y = hf_malloc((n ? n : 1) * sizeof *y);
    if (!y)
        return HF_ENOMEM;
    for (size_t i = 0; i < n; i++)
        y[i] = job->data->y[idx[i]];
    int result = hf_evaluation_of(s, source, n, y, pred, out);
    free(y);
    return result;
}

/* Rank 0: the gathered splits (blobs of [int64 split, int64 ok, n_valid x no doubles when ok])
 * into oof.csv and the evaluation of repeat 0. */
static int write_oof(const hf_job *job, const char *all, size_t len, const char *out_path,
                     int quiet, double t0, json_t **evaluation)
{
    const hf_folds *folds = job->folds;
    const hf_schema *s = job->data->schema;
    size_t no = n_outputs(job), total = 0;
    int result = HF_OK;
    for (size_t sp = 0; sp < folds->n_splits; sp++)
        total += folds->splits[sp].n_valid;
    oof_row *rows = hf_malloc((total ? total : 1) * sizeof *rows);
    double *pred0 = hf_malloc((total ? total : 1) * no * sizeof *pred0);
    int64_t *idx0 = hf_malloc((total ? total : 1) * sizeof *idx0);
    char *path = hf_strdup(out_path), *tmp = NULL;
    FILE *fp = NULL;
    if (!rows || !pred0 || !idx0 || !path) {
        result = HF_ENOMEM;
        goto out;
    }
    size_t n = 0, at = 0, failed = 0;
    while (at + 2 * sizeof(int64_t) <= len) {
        int64_t head[2];
        memcpy(head, all + at, sizeof head);
        at += sizeof head;
        const hf_split *sp = &folds->splits[head[0]];
        if (!head[1]) {
            hf_warn("out-of-fold predictions: the fit on split %lld (repeat %d, fold %d) failed: "
                    "its %zu rows are left out of oof.csv",
                    (long long)head[0], sp->repeat, sp->fold, sp->n_valid);
            failed++;
            continue;
        }
        const double *p = (const double *)(const void *)(all + at);
        at += sp->n_valid * no * sizeof(double);
        for (size_t i = 0; i < sp->n_valid; i++)
            rows[n++] = (oof_row){.row = job->data->row[sp->valid[i]],
                                  .idx = sp->valid[i],
                                  .repeat = sp->repeat,
                                  .fold = sp->fold,
                                  .pred = p + i * no};
    }
    qsort(rows, n, sizeof *rows, by_repeat_row);
    if ((result = hf_fs_open_tmp(path, &fp, &tmp)) < 0)
        goto out;
    fputs("row,repeat,fold,", fp);
    put_header_tail(fp, s);
    size_t n0 = 0;
    for (size_t i = 0; i < n; i++) {
        fprintf(fp, "%lld,%d,%d,", (long long)rows[i].row, rows[i].repeat, rows[i].fold);
        put_row_tail(fp, s, job->data->y[rows[i].idx], rows[i].pred);
        if (rows[i].repeat == 0) {
            idx0[n0] = rows[i].idx;
            memcpy(pred0 + n0 * no, rows[i].pred, no * sizeof *pred0);
            n0++;
        }
    }
    if ((result = hf_fs_commit_tmp(fp, tmp, path)) < 0)
        goto out;
    if (n0 == 0) {
        hf_warn("out-of-fold predictions: no rows were predicted (%zu splits failed); "
                "results.json has no \"evaluation\"",
                failed);
        goto out;
    }
    result = evaluate_rows(job, "oof", idx0, pred0, n0, evaluation);
    if (result >= 0 && !quiet)
        hf_info("wrote %s: %zu out-of-fold predictions of the best trial (%.2fs)", path, n,
                hf_now() - t0);
out:
    free(rows);
    free(pred0);
    free(idx0);
    free(path);
    return result;
}

int hf_oof_run(hf_comm *world, const hf_job *job, const hf_trial_config *cfg, const hf_group *group,
               int group_size, const char *out_path, int quiet, json_t **evaluation,
               double *seconds)
{
    const hf_folds *folds = job->folds;
    double t0 = hf_now();
    int rank = hf_comm_rank(world), size = hf_comm_size(world);
    int gs = group && group_size > 1 ? group_size : 1;
    int n_units = size / gs, unit = rank / gs, leader = rank % gs == 0;
    size_t no = n_outputs(job);
    char *blob = NULL, *all = NULL;
    size_t blob_len = 0, *lens = NULL;
    double *pred = NULL;
    int result = HF_OK;
    FILE *fp = open_memstream(&blob, &blob_len);
    if (!fp) {
        result = hf_error(HF_ENOMEM, "out of memory");
        goto out;
    }
    /* Split s goes to rank (or group) s mod n_units: the same fit whoever runs it. */
    for (size_t s = (size_t)unit; s < folds->n_splits; s += (size_t)n_units) {
        const hf_split *sp = &folds->splits[s];
        free(pred);
        pred = hf_malloc((sp->n_valid ? sp->n_valid : 1) * no * sizeof *pred);
        /* A group's ranks fit the split together: they agree before and after, so that none
         * leaves the loop while the others wait in the group's collectives. */
        hf_comm *gc = gs > 1 ? hf_group_comm(group) : NULL;
        int st = pred ? HF_OK : HF_ENOMEM;
        if (gc)
            st = hf_comm_check(gc, st);
        if (st < 0) {
            result = st;
            break;
        }
        st = predict_split(job, cfg, sp, gs > 1 ? group : NULL, pred);
        if (gc)
            st = hf_comm_check(gc, st);
        if (st == HF_ENOMEM) {
            result = st;
            break;
        }
        if (st < 0) {
            hf_debug("out-of-fold predictions: split %zu: %s", s, hf_error_message());
            hf_error_clear();
        }
        int64_t head[2] = {(int64_t)s, st >= 0};
        if (leader) {
            fwrite(head, sizeof head, 1, fp);
            if (st >= 0)
                fwrite(pred, sizeof *pred, sp->n_valid * no, fp);
        }
    }
    if (fclose(fp) != 0 && result >= 0)
        result = hf_error(HF_ENOMEM, "out of memory");
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    if ((result = hf_comm_gather_blob(world, blob, blob_len, 0, &all, &lens)) < 0)
        goto out;
    if (rank == 0) {
        size_t len = 0;
        for (int r = 0; r < size; r++)
            len += lens[r];
        result = write_oof(job, all, len, out_path, quiet, t0, evaluation);
    }
    result = hf_comm_check(world, result);
    if (seconds)
        *seconds = hf_now() - t0;
out:
    free(blob);
    free(all);
    free(lens);
    free(pred);
    return result;
}

int hf_oof_holdout(const hf_job *job, const double *pred, const char *out_path, json_t **evaluation)
{
    const hf_folds *folds = job->folds;
    const hf_schema *s = job->data->schema;
    size_t no = n_outputs(job);
    char *path = hf_strdup(out_path), *tmp = NULL;
    FILE *fp = NULL;
    int result = path ? hf_fs_open_tmp(path, &fp, &tmp) : HF_ENOMEM;
    if (result < 0)
        goto out;
    fputs("row,", fp);
    put_header_tail(fp, s);
    for (size_t i = 0; i < folds->n_holdout; i++) {
        int64_t r = folds->holdout[i];
        fprintf(fp, "%lld,", (long long)job->data->row[r]);
        put_row_tail(fp, s, job->data->y[r], pred + i * no);
    }
    if ((result = hf_fs_commit_tmp(fp, tmp, path)) < 0)
        goto out;
    result = evaluate_rows(job, "holdout", folds->holdout, pred, folds->n_holdout, evaluation);
out:
    free(path);
    return result;
}
