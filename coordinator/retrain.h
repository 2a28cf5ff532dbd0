/* retrain.h - `hyperfold retrain`: refit on new data, promote only if not worse. */
#ifndef HF_RETRAIN_H
#define HF_RETRAIN_H

#include "common/comm.h"

/* Collective. Returns an hf_status. */
int hf_cmd_retrain(hf_comm *world, int argc, char **argv);

#endif
