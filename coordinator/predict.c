/* predict.c - `hyperfold predict`: batch inference with a model.h5, rows split over the ranks,
 * output in input order. */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/modelfile.h"

#include "common/csvw.h"
#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/ingest.h"
#include "worker/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: mpirun -np N hyperfold predict --model MODEL.h5 --input IN.csv --output "
            "OUT.csv [--quiet]\n"
            "\n"
            "Applies the model's preprocessing and model to every row of IN.csv. The rows are\n"
            "split over the ranks; OUT.csv keeps the input order and has a `prediction` column\n"
            "and, for classifiers, one `proba_<class>` column per class. IN.csv must have the\n"
            "model's feature columns (the target column may be present; it is ignored).\n");
}

/* Formats this rank's predictions as CSV lines into a memory buffer. */
static int format_rows(const hf_modelfile *m, const double *pred, size_t n, char **out, size_t *len)
{
    FILE *fp = open_memstream(out, len);
    if (!fp)
        return hf_error(HF_ENOMEM, "out of memory formatting predictions");
    const hf_schema *s = m->schema;
    size_t no = m->fitted->n_outputs;
    for (size_t i = 0; i < n; i++) {
        const double *p = pred + i * no;
        if (s->task == HF_TASK_CLASSIFICATION) {
            size_t best = 0;
            for (size_t k = 1; k < no; k++)
                if (p[k] > p[best])
                    best = k;
            hf_csvw_put_field(fp, s->classes[best]);
            for (size_t k = 0; k < no; k++)
                fprintf(fp, ",%.17g", p[k]);
        } else {
            fprintf(fp, "%.17g", p[0]);
        }
        fputc('\n', fp);
    }
    if (fclose(fp) != 0)
        return hf_error(HF_ENOMEM, "out of memory formatting predictions");
    return HF_OK;
}

int hf_cmd_predict(hf_comm *world, int argc, char **argv)
{
    const char *model_path = NULL, *input = NULL, *output = NULL;
    int quiet = 0, rank = hf_comm_rank(world);
    const hf_arg_def defs[] = {
        HF_VALUE_ARG("--model", &model_path, NULL), HF_VALUE_ARG("--input", &input, NULL),
        HF_VALUE_ARG("--output", &output, NULL), HF_FLAG_ARG("--quiet", "-q", &quiet)};
    const hf_cmdline cl = {"predict", HF_ARGS(defs), NULL, NULL, 0, usage};
    int result = hf_args_parse(&cl, argc, argv, NULL, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (!model_path || !input || !output)
        return hf_error(HF_EINVAL, "predict: --model, --input and --output are required");
    if (quiet)
        hf_log_set_level(HF_LOG_QUIET);

    double t0 = hf_now();
    hf_modelfile *m = NULL;
    hf_dataset *local = NULL;
    double *pred = NULL;
    char *text = NULL, *all = NULL;
    size_t text_len = 0, *lens = NULL;
    result = hf_comm_check(world, hf_modelfile_read(model_path, &m));
    if (result < 0)
        goto out;
    hf_source_opts sopts = {.rank = rank};
    result = hf_ingest_predict_input(world, input, m->schema, &sopts, &local);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    size_t no = m->fitted->n_outputs;
    pred = hf_malloc((local->n_rows ? local->n_rows : 1) * no * sizeof *pred);
    result = pred ? hf_predict_pipeline(m->prep, m->fitted, NULL, local, NULL, local->n_rows, pred)
                  : HF_ENOMEM;
    if (result >= 0)
        result = format_rows(m, pred, local->n_rows, &text, &text_len);
    if ((result = hf_comm_check(world, result)) < 0)
        goto out;
    int64_t total = (int64_t)local->n_rows;
    if ((result = hf_comm_allreduce_sum_i64(world, &total, 1)) < 0)
        goto out;
    /* Ranks hold consecutive row ranges in rank order: concatenating keeps the input order. */
    if ((result = hf_comm_gather_blob(world, text, text_len, 0, &all, &lens)) < 0)
        goto out;
    if (rank == 0) {
        FILE *fp;
        char *tmp;
        result = hf_fs_open_tmp(output, &fp, &tmp);
        if (result >= 0) {
            fputs("prediction", fp);
            if (m->schema->task == HF_TASK_CLASSIFICATION)
                for (size_t k = 0; k < m->schema->n_classes; k++) {
                    char *h = hf_asprintf("proba_%s", m->schema->classes[k]);
                    fputc(',', fp);
                    hf_csvw_put_field(fp, h ? h : "");
                    free(h);
                }
            fputc('\n', fp);
            size_t sum = 0;
            for (int r = 0; r < hf_comm_size(world); r++)
                sum += lens[r];
            if (sum && fwrite(all, 1, sum, fp) != sum) {
                result = hf_error(HF_EIO, "writing %s", tmp);
                hf_fs_abort_tmp(fp, tmp);
            } else {
                result = hf_fs_commit_tmp(fp, tmp, output);
            }
        }
        if (result >= 0 && !quiet)
            hf_info("wrote %lld predictions to %s (%.2fs)", (long long)total, output,
                    hf_now() - t0);
    }
    result = hf_comm_check(world, result);
out:
    hf_modelfile_free(m);
    hf_dataset_free(local);
    free(pred);
    free(text);
    free(all);
    free(lens);
    return result;
}
