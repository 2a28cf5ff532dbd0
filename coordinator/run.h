/* run.h - the subcommands: run, validate, predict (coordinator/run.c, predict.c). */
#ifndef HF_RUN_H
#define HF_RUN_H

#include "common/comm.h"

/* Collective. `hyperfold run job.yaml [--fresh] [--quiet]`. Returns an hf_status. */
int hf_cmd_run(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold validate job.yaml [--no-data]`. */
int hf_cmd_validate(hf_comm *world, int argc, char **argv);
/* Collective. `hyperfold predict --model M --input I --output O`. */
int hf_cmd_predict(hf_comm *world, int argc, char **argv);

/* Collective: rank 0 reads the spec file, every rank parses the same bytes. */
struct hf_spec;
int hf_spec_load_collective(hf_comm *world, const char *path, struct hf_spec **out);

#endif
