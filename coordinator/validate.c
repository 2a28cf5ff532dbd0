/* validate.c - `hyperfold validate`: the spec checked and its trials listed; unless --no-data, the
 * data read once into a scratch directory (removed) for the checks that need it. */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/pipeline.h"

#include "common/hf.h"
#include "jobs/spec.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hyperfold validate JOB.yaml [--no-data]\n\n"
                "Checks the job spec, reads the data once to infer and print its schema\n"
                "(column types, categories, classes) and to check what depends on it\n"
                "(a class smaller than the number of folds, a metric that does not fit the\n"
                "task), and prints the trials it would run. Writes nothing: the data is\n"
                "parsed into a scratch directory that is removed.\n"
                "  --no-data   check the spec alone, without reading the data\n"
                "Exit codes: 0 valid, 2 invalid (one line naming file:line:column, the key,\n"
                "the value and what was expected).\n");
}

/* Removes a directory tree we created (the scratch shards). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void print_schema(FILE *fp, const hf_manifest *m)
{
    const hf_schema *s = hf_manifest_schema(m);
    fprintf(fp, "schema:     %lld rows", (long long)hf_manifest_n_rows(m));
    if (hf_manifest_rejected(m))
        fprintf(fp, " (%lld bad rows would be skipped)", (long long)hf_manifest_rejected(m));
    fprintf(fp, ", %zu features\n", s->n_features);
    for (size_t j = 0; j < s->n_features; j++) {
        const hf_column *c = &s->features[j];
        fprintf(fp, "  %-30s %s", c->name,
                c->type == HF_COL_NUMERIC   ? "numeric"
                : c->type == HF_COL_BOOLEAN ? "boolean"
                                            : "categorical");
        if (c->type == HF_COL_CATEGORICAL) {
            fprintf(fp, " (%zu values:", c->n_categories);
            for (size_t k = 0; k < c->n_categories && k < 5; k++)
                fprintf(fp, " %s", c->categories[k]);
            fprintf(fp, "%s)", c->n_categories > 5 ? " ..." : "");
        }
        fputc('\n', fp);
    }
    fprintf(fp, "  %-30s target, %s", s->target,
            s->task == HF_TASK_CLASSIFICATION ? "classification" : "regression");
    if (s->task == HF_TASK_CLASSIFICATION) {
        fprintf(fp, " (%zu classes:", s->n_classes);
        for (size_t k = 0; k < s->n_classes && k < 10; k++)
            fprintf(fp, " %s", s->classes[k]);
        fprintf(fp, "%s)", s->n_classes > 10 ? " ..." : "");
    }
    fputc('\n', fp);
}

int hf_cmd_validate(hf_comm *world, int argc, char **argv)
{
    int no_data = 0, rank = hf_comm_rank(world);
    const char *path = NULL;
    size_t n_pos = 0;
    const hf_arg_def defs[] = {{"--no-data", NULL, HF_ARG_FLAG, &no_data}};
    int result = hf_args_parse("validate", argc, argv, defs, 1, &path, 1, &n_pos, usage, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    if (!path)
        return hf_error(HF_EINVAL, "validate: no job spec given (usage: hyperfold validate "
                                   "JOB.yaml)");
    hf_spec *spec = NULL;
    hf_trial *trials = NULL;
    hf_manifest *m = NULL;
    hf_job job = {0};
    char scratch[] = "/tmp/hyperfold-validate.XXXXXX";
    char *shards = NULL, *rejects = NULL;
    size_t n = 0;
    int made = 0, reused = 0;
    if ((result = hf_pipeline_spec(world, path, &spec)) < 0)
        goto out;
    result = hf_comm_check(world, hf_spec_trials(spec, &trials, &n));
    if (result >= 0 && rank == 0)
        result = hf_spec_print(spec, trials, n, stdout);
    if (result < 0 || no_data)
        goto out;
    if (rank == 0 && !mkdtemp(scratch))
        result = hf_error(HF_EIO, "creating a scratch directory in /tmp");
    made = result >= 0;
    if ((result = hf_comm_check(world, result)) >= 0)
        result = hf_comm_bcast(world, scratch, sizeof scratch, 0);
    if (result < 0)
        goto out;
    shards = hf_asprintf("%s/shards", scratch);
    rejects = hf_asprintf("%s/rejects.csv", scratch);
    result = shards && rejects
                 ? hf_pipeline_ingest(world, spec, NULL, shards, NULL, rejects, &m, &reused)
                 : hf_comm_check(world, HF_ENOMEM);
    if (result >= 0)
        result = hf_comm_check(world, hf_pipeline_prepare(spec, shards, m, 0, &job));
    if (result >= 0 && rank == 0) {
        print_schema(stdout, m);
        printf("splits:     %zu (%zu search rows, %zu holdout rows)\n", job.folds->n_splits,
               job.folds->n_search, job.folds->n_holdout);
    }
out:
    if (made && rank == 0)
        nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    hf_job_free(&job);
    hf_manifest_free(m);
    if (trials)
        hf_trials_free(trials, n, spec->space.n_params);
    hf_spec_free(spec);
    free(shards);
    free(rejects);
    return result;
}
