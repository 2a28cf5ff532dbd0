/* evaluate.c - `hyperfold evaluate`: scores a model on labelled rows (the evaluation object of
 * worker/evaluation.h), rows split over the ranks as predict splits them, gathered on rank 0. */
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/modelfile.h"

#include "common/csvw.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/audit.h"
#include "shards/ingest.h"
#include "shards/s3.h"
#include "worker/evaluation.h"
#include "worker/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: mpirun -np N hyperfold evaluate --model MODEL.h5 --input LABELLED.csv\n"
        "                                       [--output EVAL.json] [--predictions OUT.csv]\n"
        "                                       [--ignore-extra-columns] [--quiet]\n"
        "                                       [--endpoint URL] [--region R] [--path-style]\n"
        "                                       [--audit FILE]\n"
        "\n"
        "Scores the model on LABELLED.csv, which has the model's feature columns and its\n"
        "target column: prints every metric of the task and, for classifiers, the\n"
        "classification report and the confusion matrix (rows: true class, columns:\n"
        "predicted). --output writes the evaluation object (docs/evaluation.md: metrics,\n"
        "curves, residuals); --predictions writes row,target,prediction[,proba_<class>...].\n"
        "The rows are split over the ranks; the result does not depend on their number.\n"
        "MODEL and LABELLED may be s3:// (or http(s)://) as for predict; --endpoint, --region,\n"
        "--path-style and --audit as for predict (the audit log by default\n"
        "$HYPERFOLD_AUDIT, else ~/.local/state/hyperfold/audit.jsonl).\n");
}

/* One rank's rows as a blob: n, then n row numbers, n targets, n x no predictions. */
static int pack(const hf_dataset *d, const double *pred, size_t no, char **out, size_t *len)
{
    int64_t n = (int64_t)d->n_rows;
    size_t sz = sizeof n + d->n_rows * (sizeof(int64_t) + (1 + no) * sizeof(double));
    char *b = hf_malloc(sz);
    if (!b)
        return HF_ENOMEM;
    char *p = b;
    memcpy(p, &n, sizeof n);
    p += sizeof n;
    memcpy(p, d->row, d->n_rows * sizeof(int64_t));
    p += d->n_rows * sizeof(int64_t);
    memcpy(p, d->y, d->n_rows * sizeof(double));
    p += d->n_rows * sizeof(double);
    memcpy(p, pred, d->n_rows * no * sizeof(double));
    *out = b;
    *len = sz;
    return HF_OK;
}

/* Rank 0: the gathered blobs into row numbers, targets and predictions in input order. */
static int unpack(const char *all, const size_t *lens, int ranks, size_t no, int64_t **rows,
                  double **y, double **pred, size_t *n)
{
    size_t total = 0, at = 0;
    for (int r = 0; r < ranks; r++) {
        int64_t k;
        memcpy(&k, all + at, sizeof k);
        total += (size_t)k;
        at += lens[r];
    }
    *rows = hf_malloc((total ? total : 1) * sizeof **rows);
    *y = hf_malloc((total ? total : 1) * sizeof **y);
    *pred = hf_malloc((total ? total : 1) * no * sizeof **pred);
    if (!*rows || !*y || !*pred)
        return HF_ENOMEM;
    size_t i = 0;
    at = 0;
    for (int r = 0; r < ranks; r++) {
        const char *p = all + at;
        int64_t k;
        memcpy(&k, p, sizeof k);
        p += sizeof k;
        memcpy(*rows + i, p, (size_t)k * sizeof(int64_t));
        p += (size_t)k * sizeof(int64_t);
        memcpy(*y + i, p, (size_t)k * sizeof(double));
        p += (size_t)k * sizeof(double);
        memcpy(*pred + i * no, p, (size_t)k * no * sizeof(double));
        i += (size_t)k;
        at += lens[r];
    }
    *n = total;
    return HF_OK;
}

static int write_predictions(const char *path, const hf_schema *s, const int64_t *rows,
                             const double *y, const double *pred, size_t n, size_t no)
{
    FILE *fp;
    char *tmp;
    int result = hf_fs_open_tmp(path, &fp, &tmp);
    if (result < 0)
        return result;
    fputs("row,target,", fp);
    hf_csvw_put_pred_header(fp, s);
    fputc('\n', fp);
    for (size_t i = 0; i < n; i++) {
        fprintf(fp, "%lld,", (long long)rows[i]);
        if (s->task == HF_TASK_CLASSIFICATION)
            hf_csvw_put_field(fp, s->classes[(size_t)y[i]]);
        else
            fprintf(fp, "%.17g", y[i]);
        fputc(',', fp);
        hf_csvw_put_pred(fp, s, pred + i * no, no);
        fputc('\n', fp);
    }
    return hf_fs_commit_tmp(fp, tmp, path);
}

/* Rank 0: the evaluation, its summary on stdout, the output files. */
static int report(const hf_modelfile *m, const char *input, const char *output,
                  const char *predictions, const int64_t *rows, const double *y, const double *pred,
                  size_t n)
{
    const hf_schema *s = m->schema;
    size_t no = m->fitted->n_outputs;
    json_t *ev = NULL;
    char *text = NULL;
    /* The input as it may be written: no user-info or signed query of an http(s) URL. */
    char *shown = hf_source_display(input);
    int result = shown ? hf_evaluation_of(s, shown, n, y, pred, &ev) : HF_ENOMEM;
    free(shown);
    if (result < 0)
        goto out;
    hf_evaluation_print(ev, stdout);
    fflush(stdout);
    if (output) {
        text = json_dumps(ev, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        result = text ? hf_fs_write_atomic(output, text, strlen(text))
                      : hf_error(HF_ENOMEM, "out of memory formatting %s", output);
        if (result < 0)
            goto out;
    }
    if (predictions)
        result = write_predictions(predictions, s, rows, y, pred, n, no);
out:
    free(text);
    json_decref(ev);
    return result;
}

int hf_cmd_evaluate(hf_comm *world, int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *output = NULL, *predictions = NULL;
    hf_s3_flags s3f = {0};
    int quiet = 0, ignore_extra = 0, rank = hf_comm_rank(world);
    const hf_arg_def defs[] = {HF_VALUE_ARG("--model", &model_path, NULL),
                               HF_VALUE_ARG("--input", &input, NULL),
                               HF_VALUE_ARG("--output", &output, NULL),
                               HF_VALUE_ARG("--predictions", &predictions, NULL),
                               HF_FLAG_ARG("--ignore-extra-columns", NULL, &ignore_extra),
                               HF_S3_FLAG_ARGS(&s3f),
                               HF_FLAG_ARG("--quiet", "-q", &quiet)};
    const hf_cmdline cl = {"evaluate", HF_ARGS(defs), NULL, NULL, 0, usage};
    int result = hf_args_parse(&cl, argc, argv, NULL, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (!model_path || !input)
        return hf_error(HF_EINVAL, "evaluate: --model and --input are required");
    if (quiet)
        hf_log_set_level(HF_LOG_QUIET);

    double t0 = hf_now();
    hf_modelfile *m = NULL;
    hf_dataset *local = NULL;
    double *pred = NULL, *y = NULL, *all_pred = NULL;
    int64_t *rows = NULL;
    char *blob = NULL, *all = NULL;
    size_t blob_len = 0, *lens = NULL, n = 0;
    hf_s3_config s3; /* the model or the input may be s3:// (as predict takes them) */
    hf_source_opts sopts;
    hf_s3_flags_apply(&s3f, rank, &s3, &sopts);
    char *audit = NULL; /* every S3 / HTTP access audited (shards/audit.h) */
    if ((result = hf_comm_check(world, hf_audit_resolve(s3f.audit, &audit))) < 0)
        goto out;
    sopts.audit_path = audit;
    if ((result = hf_modelfile_read_uri(world, model_path, &sopts, &m)) < 0)
        goto out;
    hf_predict_input_opts pio = {.read_target = 1, .ignore_extra_columns = ignore_extra};
    result = hf_ingest_predict_input_ex(world, input, m->schema, &sopts, &pio, &local, NULL);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    size_t no = m->fitted->n_outputs;
    pred = hf_malloc((local->n_rows ? local->n_rows : 1) * no * sizeof *pred);
    result = pred ? hf_predict_pipeline(m->prep, m->fitted, NULL, local, NULL, local->n_rows, pred)
                  : HF_ENOMEM;
    if (result >= 0)
        result = pack(local, pred, no, &blob, &blob_len);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    /* Ranks hold consecutive row ranges in rank order: concatenating keeps the input order. */
    if ((result = hf_comm_gather_blob(world, blob, blob_len, 0, &all, &lens)) < 0)
        goto out;
    if (rank == 0) {
        result = unpack(all, lens, hf_comm_size(world), no, &rows, &y, &all_pred, &n);
        if (result >= 0)
            result = report(m, input, output, predictions, rows, y, all_pred, n);
        if (result >= 0 && !quiet)
            hf_info("evaluated %zu rows of %s (%.2fs)%s%s%s%s", n, input, hf_now() - t0,
                    output ? "; wrote " : "", output ? output : "", predictions ? "; wrote " : "",
                    predictions ? predictions : "");
    }
    result = hf_comm_check(world, result);
out:
    hf_modelfile_free(m);
    hf_dataset_free(local);
    free(pred);
    free(y);
    free(all_pred);
    free(rows);
    free(blob);
    free(all);
    free(lens);
    free(audit);
    return result;
}
