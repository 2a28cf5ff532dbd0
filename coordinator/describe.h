/* describe.h - `hyperfold describe`: profile a job's data in parallel. */
#ifndef HF_DESCRIBE_H
#define HF_DESCRIBE_H

#include "common/comm.h"

/* Collective. Returns an hf_status. */
int hf_cmd_describe(hf_comm *world, int argc, char **argv);

#endif
