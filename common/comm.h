/* comm.h - the communication module: the only place that calls MPI directly (apart from HDF5's and
 * ScaLAPACK's own use of a communicator handed to them via hf_comm_mpi()).
 *
 * Every function whose comment says "Collective" must be called by every rank of the communicator.
 * Errors: MPI failures return HF_EMPI with the MPI error string. */
#ifndef HF_COMM_H
#define HF_COMM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hf_comm hf_comm;

/* Initialises MPI (MPI_THREAD_MULTIPLE requested, at least FUNNELED required) and returns the world
 * communicator. Call once; hf_comm_finalize at exit. */
int hf_comm_init(int *argc, char ***argv, hf_comm **world);
void hf_comm_finalize(hf_comm *world);
/* 1 if MPI was initialised with MPI_THREAD_MULTIPLE. */
int hf_comm_thread_multiple(void);
/* The number of ranks of the world on this node (MPI_COMM_TYPE_SHARED; 1 before hf_comm_init). */
int hf_comm_node_size(void);
/* The ranks of the world that share this node's memory (MPI_COMM_TYPE_SHARED, in world rank
 * order), made by hf_comm_init; NULL before it or where MPI could not split. Borrowed. */
hf_comm *hf_comm_node(void);
/* Collective: the ranks of c that share this node's memory (MPI_Comm_split_type with
 * MPI_COMM_TYPE_SHARED, ordered by their rank in c). Free with hf_comm_free. */
int hf_comm_split_node(hf_comm *c, hf_comm **out);
/* Collective: splits into groups of `size` consecutive ranks (color = rank / size). */
int hf_comm_split(hf_comm *c, int color, int key, hf_comm **out);
void hf_comm_free(hf_comm *c);

int hf_comm_rank(const hf_comm *c);
int hf_comm_size(const hf_comm *c);
MPI_Comm hf_comm_mpi(const hf_comm *c);
/* Aborts every rank (MPI_Abort) with an exit code; for unrecoverable states only. */
void hf_comm_abort(hf_comm *c, int code);

/* Collective: agreement on success. Every rank passes its status; returns the first failing
 * status in rank order (or HF_OK) on every rank, and copies that rank's error message into the
 * local error state, so rank 0 can print the real cause. */
int hf_comm_check(hf_comm *c, int status);
/* Collective: hf_comm_check where a rank may mark its failure `secondary` (a consequence of
 * another rank's, such as a broken link to it): the first failing rank whose failure is not
 * secondary wins, else the first failing rank. */
int hf_comm_check_cause(hf_comm *c, int status, int secondary);

/* Collective operations. */
int hf_comm_barrier(hf_comm *c);
int hf_comm_bcast(hf_comm *c, void *buf, size_t len, int root);
/* Broadcasts a variable-length buffer; non-root ranks receive a newly allocated copy (NUL
 * terminated for convenience). */
int hf_comm_bcast_blob(hf_comm *c, char **buf, size_t *len, int root);
int hf_comm_allreduce_sum_i64(hf_comm *c, int64_t *v, size_t n);
int hf_comm_allreduce_sum_f64(hf_comm *c, double *v, size_t n);
int hf_comm_allreduce_min_f64(hf_comm *c, double *v, size_t n);
int hf_comm_allreduce_max_f64(hf_comm *c, double *v, size_t n);
int hf_comm_allreduce_max_i64(hf_comm *c, int64_t *v, size_t n);
int hf_comm_allreduce_min_i64(hf_comm *c, int64_t *v, size_t n);
/* Exclusive prefix sum over ranks (rank 0 gets zeros). */
int hf_comm_exscan_sum_i64(hf_comm *c, int64_t *v, size_t n);
/* Every rank contributes a blob; every rank receives all of them concatenated in rank order
 * (*all, caller frees) with their lengths (*lens: size entries, caller frees). Blobs and totals of
 * any length: the bytes move in rounds of at most one chunk per rank (1 GiB, and at most
 * 2^31 - 1 bytes a round: MPI's int count), one round when every blob fits in a chunk. The
 * environment variable HF_COMM_CHUNK_BYTES (a test switch, 1 to 2^30, read by hf_comm_init) lowers
 * the chunk, for hf_comm_bcast too. */
int hf_comm_allgather_blob(hf_comm *c, const void *mine, size_t len, char **all, size_t **lens);
/* Like allgather_blob but only `root` receives. */
int hf_comm_gather_blob(hf_comm *c, const void *mine, size_t len, int root, char **all,
                        size_t **lens);

/* Memory every rank of a node communicator (hf_comm_split_node) reads and writes: one MPI-3
 * shared window (MPI_Win_allocate_shared), all `size` bytes of it on the node's rank 0. */
typedef struct hf_comm_shared hf_comm_shared;
/* Collective over `node`, whose ranks must share memory. Rank 0 allocates `size` bytes (the size
 * rank 0 passes counts; the others may pass anything), every rank gets their address in its own
 * address space (*base, page aligned; NULL when size is 0) and the window (*out). Fails on every
 * rank alike (HF_EMPI with MPI's message) when the allocation fails. */
int hf_comm_shared_alloc(hf_comm *node, size_t size, hf_comm_shared **out, void **base);
/* Collective over the window's ranks: makes what any rank wrote to the window before the call
 * visible to every rank after it (MPI_Win_sync around a barrier). */
int hf_comm_shared_sync(hf_comm_shared *s);
/* The window's size in bytes and its node communicator (borrowed). */
size_t hf_comm_shared_size(const hf_comm_shared *s);
hf_comm *hf_comm_shared_comm(const hf_comm_shared *s);
/* Collective over the window's ranks (MPI_Win_free): every rank's *base becomes invalid. Accepts
 * NULL. */
void hf_comm_shared_free(hf_comm_shared *s);

/* Point-to-point messages of the scheduler: a tag and a byte payload. */
int hf_comm_send(hf_comm *c, int dest, int tag, const void *buf, size_t len);
/* Blocking receive from any source (src < 0) or `src`; allocates *buf; returns source and tag. */
int hf_comm_recv(hf_comm *c, int src, int *from, int *tag, char **buf, size_t *len);
/* Non-blocking send of a copy of buf: returns at once; the message goes out as the MPI library
 * progresses. Complete it with hf_comm_test or hf_comm_wait (which free the request). */
typedef struct hf_comm_req hf_comm_req;
int hf_comm_isend(hf_comm *c, int dest, int tag, const void *buf, size_t len, hf_comm_req **req);
/* *done = 1 (and the request is freed, *req set to NULL) once the send completed. */
int hf_comm_test(hf_comm_req **req, int *done);
/* Blocks until the send completed; frees the request. Accepts NULL. */
int hf_comm_wait(hf_comm_req **req);

/* Non-blocking probe: *ready = 1 if a message is waiting. */
int hf_comm_iprobe(hf_comm *c, int src, int *ready);

#endif
