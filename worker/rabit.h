/* rabit.h - XGBoost's distributed training on a worker group: the Rabit tracker and the
 * communicator of libxgboost 1.7.
 *
 * Debian's libxgboost 1.7.4 has only Rabit's TCP communicator (no MPI). Its ranks meet through a
 * tracker: the one shipped in python3-xgboost (xgboost/tracker.py, standard-library Python).
 * The group leader (group rank 0) starts it as a child process (python3, posix_spawn) the first
 * time the group trains together, reads its address from a pipe and broadcasts it over the
 * group's communicator; every group rank then joins with XGCommunicatorInit (world size = group
 * size, Rabit rank = group rank) and leaves with XGCommunicatorFinalize. One tracker serves every
 * training run of the group, one after the other; it lives until hf_rabit_release (or until the
 * leader process exits: the tracker quits when its stdin, a pipe from the leader, closes).
 *
 * Configuration (environment of the group leader, read at each tracker start):
 *   HF_RABIT_HOST     the address the tracker listens on and the group's ranks connect to.
 *                     Default: 127.0.0.1 when every group rank runs on the leader's host
 *                     (same hostname), else the leader's first non-loopback IPv4 address of an
 *                     interface that is up (several networks: set it to the one the ranks share).
 *   HF_RABIT_PYTHON   the Python that has python3-xgboost; default /usr/bin/python3.
 *   HF_RABIT_TIMEOUT  seconds (default 120): the most the leader waits for the tracker to start,
 *                     the tracker waits for a missing rank to join, and a rank waits on a peer in
 *                     one of Rabit's collectives (rabit_timeout_sec). A failure ends the training
 *                     with one error line on every group rank instead of a hang.
 *
 * The communicator is libxgboost's, per thread: a rank trains on the thread that called
 * hf_rabit_begin, and while it is active every DMatrix that thread creates is collective (its
 * column count is reduced over the group). */
#ifndef HF_RABIT_H
#define HF_RABIT_H

#include "common/comm.h"

/* Collective over comm: starts the group's tracker on rank 0 if it has none (or its tracker
 * exited), broadcasts its address and joins libxgboost's communicator on every rank (Rabit rank
 * = rank of comm). On failure (no python3-xgboost, the tracker did not start, a rank could not
 * join) every rank returns the same error with one message, and no rank is left in the
 * communicator. A comm of one rank joins nothing and returns HF_OK. */
int hf_rabit_begin(hf_comm *comm);

/* Not collective in MPI but in Rabit (every rank that began calls it): leaves libxgboost's
 * communicator. A comm of one rank: no-op. */
int hf_rabit_end(hf_comm *comm);

/* Not collective: stops this process's tracker for comm, if it runs one (the group leader), and
 * forgets it. For the owner of the group, when the group is freed (hf_group_free). */
void hf_rabit_release(hf_comm *comm);

/* Not collective: libxgboost's last error (XGBGetLastError) cut to its first line (the library
 * appends a stack trace), for hyperfold's one-line messages. Borrowed: a per-thread buffer, valid
 * until this thread's next call. */
const char *hf_rabit_last_error(void);

#endif
