/* group.h - a worker group: the ranks that fit one task together, and their BLACS process grid.
 *
 * The coordinator splits the world into groups of parallel.ranks_per_task consecutive ranks
 * (hf_comm_split), creates one hf_group per group communicator with hf_group_create, and keeps it
 * for every task the group runs. Distributed models (kernel_ridge) find it in hf_fit_data.group;
 * NULL there means one rank and the plain LAPACK path. A group of one rank (a 1x1 grid) also takes
 * the LAPACK path, so results do not depend on whether a group exists.
 *
 * The grid is row-major ("Row" order): group rank r sits at grid position (r / npcol, r % npcol).
 * Matrices are distributed 2-D block-cyclically with square blocks of block_size, starting at
 * process (0, 0). See docs/distributed.md. */
#ifndef HF_GROUP_H
#define HF_GROUP_H

#include "common/comm.h"
#include "common/opts.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hf_group hf_group;

/* The job spec's parallel section: this module's options (see common/opts.h). */
typedef struct hf_parallel_opts {
    int ranks_per_task;       /* ranks that run one task together; default 1 */
    int grid_rows, grid_cols; /* their process grid; 0 x 0 = as square as possible */
    int block_size;           /* block-cyclic block size; 0 = HF_GROUP_DEFAULT_BLOCK */
    uint64_t memory_per_rank; /* bytes a rank may use for distributed matrices; 0 = no limit */
    int data_parallel;        /* HF_DATA_PARALLEL_*: each group rank holds a block of the rows */
    int shared_table; /* 1 (default): one copy of the table per node, in a shared window that
                         every rank of the node reads (docs/scaling.md); 0: a copy per rank */
    hf_opt_source src;
} hf_parallel_opts;

/* parallel.data_parallel: false (every group rank holds the whole table, the default), true
 * (each group rank holds only its block of the table's rows, hf_group_row_block, and the fits
 * combine the blocks' sums), auto (true when ranks_per_task > 1 and one copy of the table would
 * not fit in memory_per_rank: hf_parallel_data_parallel). */
enum { HF_DATA_PARALLEL_OFF = 0, HF_DATA_PARALLEL_ON = 1, HF_DATA_PARALLEL_AUTO = 2 };

/* Not collective: whether a job runs data-parallel, from parallel.data_parallel and, for auto,
 * the bytes of one copy of the table (table_bytes) against memory_per_rank (0 = no limit: auto
 * is then off). */
int hf_parallel_data_parallel(const hf_parallel_opts *o, uint64_t table_bytes);

/* Not collective, a pure function of its arguments: the contiguous block of rows
 * [*first, *first + *count) of a table of n_rows that group rank `rank` of `size` holds with
 * parallel.data_parallel: rank r gets [r n / size, (r + 1) n / size). */
void hf_group_row_block(uint64_t n_rows, int size, int rank, uint64_t *first, uint64_t *count);

/* Whether the group's ranks each hold a share of the training rows (parallel.data_parallel,
 * decided once the table is known: hf_parallel_data_parallel): the worker then fits every task
 * on row shards (worker/task.c). Not collective; set it identically on every group rank.
 * hf_group_data_parallel is 0 for NULL and for a group of one rank. */
void hf_group_set_data_parallel(hf_group *g, int on);
int hf_group_data_parallel(const hf_group *g);

/* The parallel section's table, for the job-spec binder. */
extern const hf_opt_section hf_parallel_section;
void hf_parallel_opts_init(hf_parallel_opts *o);

/* Default block size of the block-cyclic distribution when parallel.block_size is 0. */
#define HF_GROUP_DEFAULT_BLOCK 128

/* Collective over group_comm: forms a BLACS grid of nprow x npcol processes on the group's MPI
 * communicator (nprow = npcol = 0: as square as possible, nprow <= npcol) with square blocks of
 * block_size (0: HF_GROUP_DEFAULT_BLOCK). nprow * npcol must equal the group size. group_comm is
 * borrowed and must outlive the group. *out is a new group (free with hf_group_free). */
int hf_group_create(hf_comm *group_comm, int nprow, int npcol, int block_size, hf_group **out);
/* Collective: releases the BLACS grid and the group; accepts NULL and sets *g to NULL. */
void hf_group_free(hf_group *g);
/* Not collective, once per process before MPI_Finalize if any group was ever created: shuts BLACS
 * down (Cblacs_exit(1), which leaves MPI running). A no-op when BLACS was never used. */
void hf_group_finalize(void);

/* The most square grid for `size` processes: nprow the largest divisor of size <= sqrt(size). */
void hf_group_auto_shape(int size, int *nprow, int *npcol);

/* Where a rank stands in its group's process grid. */
typedef struct hf_grid {
    int context;      /* BLACS context */
    int size, rank;   /* of the group's communicator */
    int nprow, npcol; /* the grid */
    int myrow, mycol; /* this rank's place in it */
    int block_size;   /* of the block-cyclic distribution */
} hf_grid;

/* Accessors (not collective). The communicator is borrowed; the grid lives as long as g. */
hf_comm *hf_group_comm(const hf_group *g);
const hf_grid *hf_group_grid(const hf_group *g);

/* Memory budget per rank in bytes (parallel.memory_per_rank; 0 = unlimited, the default). Models
 * check their distributed matrices against it with hf_group_check_memory before allocating. */
void hf_group_set_memory_limit(hf_group *g, uint64_t bytes);
uint64_t hf_group_memory_limit(const hf_group *g);

/* Bytes of the largest local part of an n x n matrix distributed block-cyclically with blocks of
 * nb over an nprow x npcol grid (process (0,0) holds the most). */
uint64_t hf_group_matrix_bytes(size_t n, int nb, int nprow, int npcol);

/* Not collective (every rank computes the same answer): refuses (HF_EINVAL) a task whose
 * n_matrices distributed n x n matrices would not fit in memory_per_rank bytes on each rank of g
 * (NULL = one rank, default block size), with a message naming `what`, the bytes needed, and the
 * smallest parallel.ranks_per_task (auto grid) on which they would fit. memory_per_rank 0 = no
 * limit. */
int hf_group_check_memory(const hf_group *g, size_t n, uint64_t memory_per_rank, int n_matrices,
                          const char *what);
/* Not collective: refuses (HF_EINVAL) a task that needs `need` bytes per rank (`what` says of
 * what) when memory_per_rank (non-zero) is less. */
int hf_group_check_bytes(uint64_t need, uint64_t memory_per_rank, const char *what);
/* Human-readable size ("1.50 GiB") into buf; returns buf. Not collective. */
const char *hf_group_format_bytes(uint64_t b, char *buf, size_t len);
/* The memory a rank may use when parallel.memory_per_rank is not set: this node's physical
 * memory divided among the ranks that share it. */
uint64_t hf_group_default_memory(void);

#endif
