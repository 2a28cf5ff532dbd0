/* main.c - the hyperfold command line: dispatches to the subcommands. */
#include "coordinator/commands.h"

#include "common/hf.h"
#include "worker/group.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The subcommands: those that run under MPI, and those that do not. */
static const struct {
    const char *name;
    int (*mpi)(hf_comm *world, int argc, char **argv);
    int (*plain)(int argc, char **argv);
} k_commands[] = {
    {"run", hf_cmd_run, NULL},
    {"validate", hf_cmd_validate, NULL},
    {"predict", hf_cmd_predict, NULL},
    {"describe", hf_cmd_describe, NULL},
    {"retrain", hf_cmd_retrain, NULL},
    {"submit", NULL, hf_cmd_submit},
    {"s3", NULL, hf_cmd_s3},
    {"keys", NULL, hf_cmd_keys},
    {"serve", NULL, hf_cmd_serve},
    {"report", NULL, hf_cmd_report},
    {"evaluate", hf_cmd_evaluate, NULL},
    {"etl", hf_cmd_etl, NULL},
    {"iam-policy", NULL, hf_cmd_iam_policy},
};

static void usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: hyperfold <command> [options]\n"
        "\n"
        "Commands:\n"
        "  validate JOB.yaml          check a job spec and list the trials it would run\n"
        "  describe DATA|JOB.yaml     profile a file, URI or spec's data: statistics, distinct\n"
        "                             counts, flags, association with --target, drift\n"
        "                             --against RUN_DIR\n"
        "  run JOB.yaml               ingest, cross-validate every trial over the MPI ranks,\n"
        "                             select, refit and export the best model\n"
        "  predict --model M --input I --output O\n"
        "                             batch inference (transform) with a model.h5; local\n"
        "                             or s3:// models, inputs and outputs\n"
        "  evaluate --model M --input I [--output E.json]\n"
        "                             score a model on labelled rows (metrics, report, curves)\n"
        "  retrain RUN_DIR [--data S] refit the best configuration on new data; promote the\n"
        "                             new model only if it is not worse on a holdout\n"
        "  submit JOB.yaml            submit a run to Slurm (sbatch)\n"
        "  report RUN_DIR             write RUN_DIR/report.html: plots of the run\n"
        "  etl SOURCE DEST            extract an archive (zip, tar.gz, .gz) from a path, s3:// or\n"
        "                             http(s):// into an s3:// prefix or a directory\n"
        "  s3 ls|cp|head ...          inspect and copy S3 objects with hyperfold's client\n"
        "  iam-policy JOB.yaml        the IAM policy the job needs (least privilege)\n"
        "  keys                       every job-spec key: its values, default and meaning\n"
        "  serve --model M            serve a model.h5 over HTTP (SageMaker's contract)\n"
        "\n"
        "Run MPI commands under mpirun or srun, e.g. `mpirun -np 4 hyperfold run job.yaml`.\n"
        "`hyperfold <command> --help` describes each command. Docs: docs/ in the source tree.\n"
        "\n"
        "Options: --version, --help\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("hyperfold %s\n", HF_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    size_t c = 0;
    while (c < sizeof k_commands / sizeof k_commands[0] && strcmp(k_commands[c].name, cmd) != 0)
        c++;
    if (c == sizeof k_commands / sizeof k_commands[0]) {
        fprintf(stderr, "hyperfold: error: unknown command \"%s\" (see hyperfold --help)\n", cmd);
        return 2;
    }
    /* hyperfold reports every HDF5 failure itself, in one line naming the file and what failed:
     * libhdf5's own error stack (20-60 lines on a full disk or a damaged file) stays silent. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int result;
    if (k_commands[c].plain) {
        result = k_commands[c].plain(argc - 1, argv + 1);
    } else {
        hf_comm *world = NULL;
        result = hf_comm_init(&argc, &argv, &world);
        if (result >= 0) {
            hf_log_set_rank(hf_comm_rank(world));
            result = k_commands[c].mpi(world, argc - 1, argv + 1);
            /* Every rank knows the outcome; only rank 0 reports it. */
            if (result < 0 && hf_comm_rank(world) == 0)
                fprintf(stderr, "hyperfold: error: %s\n", hf_error_message());
            hf_group_finalize(); /* Cblacs_exit before MPI_Finalize, if BLACS was used */
            hf_comm_finalize(world);
            hf_exit_after_mpi(hf_exit_code(result));
        }
    }
    if (result < 0)
        fprintf(stderr, "hyperfold: error: %s\n", hf_error_message());
    return hf_exit_code(result);
}
