/* commands.h - the subcommands of the hyperfold binary, dispatched by coordinator/main.c.
 *
 * Each returns an hf_status with the message set on failure (main prints it once and maps it to
 * the exit code), except `s3`, which prints its own errors and returns an exit code. The MPI
 * commands are collective over `world`: every rank calls them with the same arguments. */
#ifndef HF_COMMANDS_H
#define HF_COMMANDS_H

#include "common/comm.h"

/* Collective. `hyperfold run job.yaml [--fresh] [--quiet]` (run.c). */
int hf_cmd_run(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold validate job.yaml [--no-data]` (validate.c). */
int hf_cmd_validate(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold predict --model M --input I --output O` (predict.c): batch transform. */
int hf_cmd_predict(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold evaluate --model M --input I [--output E.json]` (evaluate.c). */
int hf_cmd_evaluate(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold describe DATA|job.yaml [--target COL] [--against RUN_DIR] ...`
 * (describe.c; docs/describe.md). */
int hf_cmd_describe(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold retrain RUN_DIR [--data S]` (retrain.c). */
int hf_cmd_retrain(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold etl SOURCE DEST [flags]`: an archive into S3 or a directory (etl.c). */
int hf_cmd_etl(hf_comm *world, int argc, char **argv);
/* Not collective (no MPI). `hyperfold submit job.yaml [flags]` (submit.c). */
int hf_cmd_submit(int argc, char **argv);
/* Not collective (no MPI). `hyperfold keys`: every job-spec key, its values, default and meaning
 * (validate.c). */
int hf_cmd_keys(int argc, char **argv);
/* Not collective (no MPI). `hyperfold report RUN_DIR [--output F]` (report.c). */
int hf_cmd_report(int argc, char **argv);
/* Not collective (no MPI). `hyperfold s3 ls|cp|head` (s3_cli.c). */
int hf_cmd_s3(int argc, char **argv);
/* Not collective (no MPI). `hyperfold iam-policy job.yaml [--role NAME] [--account ID]`: the IAM
 * policy the job needs (iam_policy.c). */
int hf_cmd_iam_policy(int argc, char **argv);
/* Not collective (no MPI). `hyperfold serve --model M [flags]`: the model over HTTP (serve.c). */
int hf_cmd_serve(int argc, char **argv);

#endif
