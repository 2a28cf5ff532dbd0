/* validate.c - `hyperfold validate`: the spec checked and its trials listed; unless --no-data, the
 * data read once into a scratch directory (removed) for the checks that need it. */
#define _GNU_SOURCE
#include "coordinator/args.h"
#include "coordinator/commands.h"
#include "coordinator/pipeline.h"

#include "common/hf.h"
#include "jobs/rundir.h"
#include "jobs/spec.h"
#include "shards/etl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hyperfold validate JOB.yaml [--no-data] [--scratch DIR]\n\n"
                "Checks the job spec, reads the data once to infer and print its schema\n"
                "(column types, categories, classes) and to check what depends on it\n"
                "(a class smaller than the number of folds, a metric that does not fit the\n"
                "task), and prints the trials it would run. Writes nothing but the audit\n"
                "log: the data is parsed into a scratch directory that is removed, and its\n"
                "S3 / HTTP reads are appended to the run directory's audit.jsonl.\n"
                "  --no-data   check the spec alone, without reading the data\n"
                "  --scratch DIR  where the scratch directory goes (default $TMPDIR, else the\n"
                "              current directory; every rank must see it)\n"
                "Exit codes: 0 valid, 2 invalid (one line naming file:line:column, the key,\n"
                "the value and what was expected).\n");
}

/* " (N values: a b c ...)": the first `most` of n names. */
static void print_names(FILE *fp, const char *what, char *const *names, size_t n, size_t most)
{
    fprintf(fp, " (%zu %s:", n, what);
    for (size_t k = 0; k < n && k < most; k++)
        fprintf(fp, " %s", names[k]);
    fprintf(fp, "%s)", n > most ? " ..." : "");
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
        fprintf(fp, "  %-30s %s", c->name, hf_col_type_name(c->type));
        if (c->type == HF_COL_CATEGORICAL)
            print_names(fp, "values", c->categories, c->n_categories, 5);
        if (c->source)
            fprintf(fp, " (from the datetime column \"%s\", %s)", c->source,
                    c->format ? c->format : "ISO 8601");
        fputc('\n', fp);
    }
    fprintf(fp, "  %-30s target, %s", s->target, hf_task_name(s->task));
    if (s->task == HF_TASK_CLASSIFICATION)
        print_names(fp, "classes", s->classes, s->n_classes, 10);
    fputc('\n', fp);
}

int hf_cmd_validate(hf_comm *world, int argc, char **argv)
{
    int no_data = 0, rank = hf_comm_rank(world);
    const char *path = NULL, *scratch_base = NULL;
    const hf_arg_def defs[] = {HF_FLAG_ARG("--no-data", NULL, &no_data),
                               HF_VALUE_ARG("--scratch", &scratch_base, NULL)};
    const hf_cmdline cl = {"validate", HF_ARGS(defs), "job spec", "JOB.yaml", 0, usage};
    int result = hf_args_parse(&cl, argc, argv, &path, NULL, rank == 0);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    hf_spec *spec = NULL;
    hf_trial *trials = NULL;
    hf_manifest *m = NULL;
    hf_job job = {0};
    char *scratch = NULL;
    hf_rundir sd = {0}; /* the scratch directory, laid out as a run's */
    hf_rundir rd = {0}; /* the run directory: its audit.jsonl records the reads */
    size_t n = 0;
    int reused = 0;
    if ((result = hf_pipeline_spec(world, path, &spec)) < 0)
        goto out;
    /* Under mpirun, the ranks it was started with must suit the groups (at 1 rank, the launch
     * the spec is meant for is not known). */
    if (hf_comm_size(world) > 1 && (result = hf_pipeline_check_world(world, &spec->parallel)) < 0)
        goto out;
    result = hf_comm_check(world, hf_spec_trials(spec, &trials, &n));
    if (result >= 0 && rank == 0)
        result = hf_spec_print(spec, trials, n, stdout);
    if (result < 0 || no_data)
        goto out;
    if ((result = hf_pipeline_scratch(world, scratch_base, "validate", &scratch)) < 0)
        goto out;
    if ((result = hf_comm_check(world, hf_rundir_at(scratch, &sd))) >= 0)
        result = hf_comm_check(world, hf_rundir_of(&spec->output, spec->name, &rd));
    /* data.source produced by data.etl, not extracted yet: one line saying so (validate does
     * not run the step; `hyperfold run` does) rather than the ingest's object-not-found. */
    if (result >= 0) {
        hf_source_opts so = {.s3 = &spec->s3, .audit_path = rd.audit, .rank = rank};
        result =
            hf_comm_check(world, rank == 0 ? hf_etl_check_extracted(&spec->data.etl, &so,
                                                                    spec->path, spec->data.source)
                                           : HF_OK);
    }
    if (result >= 0)
        result =
            hf_pipeline_ingest(world, spec, NULL, sd.shards, rd.audit, sd.rejects, &m, &reused);
    if (result >= 0)
        result = hf_comm_check(world, hf_pipeline_prepare(spec, sd.shards, m, 0, &job));
    /* parallel.data_parallel: refused with a model or preprocessing that cannot split the rows,
     * and a table too large for memory_per_rank without it (as `run` refuses them). */
    int data_parallel = 0;
    if (result >= 0)
        result = hf_comm_check(world, hf_pipeline_data_parallel(&job, NULL, &data_parallel));
    if (result >= 0 && rank == 0) {
        print_schema(stdout, m);
        printf("splits:     %zu (%zu search rows, %zu holdout rows)\n", job.folds->n_splits,
               job.folds->n_search, job.folds->n_holdout);
        if (data_parallel)
            printf("data_parallel: each of the %d ranks of a group holds about %zu of the %zu "
                   "rows\n",
                   spec->parallel.ranks_per_task,
                   (job.data->n_rows + (size_t)spec->parallel.ranks_per_task - 1) /
                       (size_t)spec->parallel.ranks_per_task,
                   job.data->n_rows);
    }
out:
    hf_pipeline_scratch_remove(world, scratch);
    free(scratch);
    hf_job_free(&job);
    hf_manifest_free(m);
    if (trials)
        hf_trials_free(trials, n, spec->space.n_params);
    hf_spec_free(spec);
    hf_rundir_free(&sd);
    hf_rundir_free(&rd);
    return result;
}

static void usage_keys(FILE *out)
{
    fprintf(out,
            "usage: hyperfold keys\n"
            "\n"
            "Lists every key a job spec may hold, section by section: what its value must be,\n"
            "its default and what it means (from the tables the parser reads; docs/job-spec.md\n"
            "explains them).\n");
}

int hf_cmd_keys(int argc, char **argv)
{
    const hf_cmdline cl = {"keys", NULL, 0, NULL, NULL, 0, usage_keys};
    int result = hf_args_parse(&cl, argc, argv, NULL, NULL, 1);
    if (result != HF_OK)
        return result > 0 ? HF_OK : result;
    HF_CALL(hf_spec_print_keys(stdout));
    return fflush(stdout) == 0 ? HF_OK : hf_error(HF_EIO, "keys: writing stdout failed");
}
