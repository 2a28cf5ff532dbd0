/* group.c - worker groups and their BLACS process grids (see group.h). */
#define _GNU_SOURCE
#include "worker/group.h"

#include "common/hf.h"
#include "worker/rabit.h"
#include "worker/scalapack.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hf_group {
    hf_comm *comm; /* borrowed */
    int sys_handle;
    hf_grid grid;
    uint64_t memory_limit;
    int data_parallel;
};

/* Set once a BLACS grid was formed: hf_group_finalize then calls Cblacs_exit. */
static int blacs_used;

/* ---- the parallel section ------------------------------------------------------------------- */

/* "auto" or "RxC" (such as "2x2") into grid_rows and grid_cols. */
static int parse_grid(const char *t, void *opts)
{
    hf_parallel_opts *o = opts;
    char *end = NULL;
    if (!strcmp(t, "auto")) {
        o->grid_rows = o->grid_cols = 0;
        return 0;
    }
    long r = isdigit((unsigned char)t[0]) ? strtol(t, &end, 10) : 0, c = 0;
    if (r > 0 && end && (*end == 'x' || *end == 'X') && isdigit((unsigned char)end[1]))
        c = strtol(end + 1, &end, 10);
    if (r < 1 || c < 1 || *end || r > 65536 || c > 65536)
        return -1;
    o->grid_rows = (int)r;
    o->grid_cols = (int)c;
    return 0;
}

static const char *const k_data_parallel[] = {"false", "true", "auto", NULL};

static const hf_opt_def parallel_defs[] = {
    HF_DEF_INT("ranks_per_task", hf_parallel_opts, ranks_per_task, 0, 1, INT32_MAX,
               "ranks that fit one (fold, trial) task together"),
    HF_DEF_CUSTOM("grid", hf_parallel_opts, grid_rows, 0, parse_grid,
                  "auto or \"RxC\" such as \"2x2\"", "process grid of a distributed task"),
    HF_DEF_INT("block_size", hf_parallel_opts, block_size, 0, 1, INT32_MAX,
               "block size of the block-cyclic distribution (default 128)"),
    HF_DEF_SIZE("memory_per_rank", hf_parallel_opts, memory_per_rank, 0,
                "a size such as 2GiB, 512MiB or a number of bytes",
                "memory a rank may use for distributed matrices (refused before the sweep)"),
    HF_DEF_ENUM("data_parallel", hf_parallel_opts, data_parallel, 0, k_data_parallel, 0,
                "each rank of a group holds only its block of the table's rows (ridge, "
                "logistic_regression, xgboost, random_forest; auto: when one copy does not fit in "
                "memory_per_rank)"),
    HF_DEF_BOOL("shared_table", hf_parallel_opts, shared_table, 0,
                "one copy of the table per node that its ranks share (default true) or a copy "
                "per rank; the results are the same"),
};

/* A grid is the shape of one group: rows x cols ranks_per_task. */
static int parallel_check(void *opts)
{
    const hf_parallel_opts *o = opts;
    char at[512];
    if (o->grid_rows > 0 && (long)o->grid_rows * o->grid_cols != o->ranks_per_task)
        return hf_error(HF_EINVAL,
                        "%s: parallel.grid: got %dx%d, expected rows x cols = "
                        "parallel.ranks_per_task (%d)",
                        hf_opt_where(&o->src, "parallel.grid", at, sizeof at), o->grid_rows,
                        o->grid_cols, o->ranks_per_task);
    if (o->data_parallel == HF_DATA_PARALLEL_ON && o->ranks_per_task < 2)
        return hf_error(HF_EINVAL,
                        "%s: parallel.data_parallel: got true with parallel.ranks_per_task %d, "
                        "expected ranks_per_task >= 2 (a group of one rank holds the whole table)",
                        hf_opt_where(&o->src, "parallel.data_parallel", at, sizeof at),
                        o->ranks_per_task);
    return HF_OK;
}

int hf_parallel_data_parallel(const hf_parallel_opts *o, uint64_t table_bytes)
{
    if (o->data_parallel == HF_DATA_PARALLEL_AUTO)
        return o->ranks_per_task > 1 && o->memory_per_rank > 0 && table_bytes > o->memory_per_rank;
    return o->data_parallel == HF_DATA_PARALLEL_ON && o->ranks_per_task > 1;
}

void hf_group_row_block(uint64_t n_rows, int size, int rank, uint64_t *first, uint64_t *count)
{
    if (size < 1 || rank < 0 || rank >= size) {
        *first = *count = 0;
        return;
    }
    /* 128-bit products: n_rows * size may pass 2^64 for no real table, but costs nothing. */
    unsigned __int128 n = n_rows;
    uint64_t lo = (uint64_t)(n * (unsigned)rank / (unsigned)size);
    uint64_t hi = (uint64_t)(n * (unsigned)(rank + 1) / (unsigned)size);
    *first = lo;
    *count = hi - lo;
}

const hf_opt_section hf_parallel_section =
    HF_OPT_SECTION("parallel", parallel_defs, hf_parallel_opts, parallel_check);

void hf_parallel_opts_init(hf_parallel_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ranks_per_task = 1;
    o->shared_table = 1;
}

void hf_group_auto_shape(int size, int *nprow, int *npcol)
{
    int r = 1;
    for (int d = 1; (long)d * d <= size; d++) {
        if (size % d == 0)
            r = d;
    }
    *nprow = r;
    *npcol = size > 0 ? size / r : 1;
}

int hf_group_create(hf_comm *group_comm, int nprow, int npcol, int block_size, hf_group **out)
{
    int result = HF_OK;
    hf_group *g = NULL;

    *out = NULL;
    if (group_comm == NULL) {
        result = hf_error(HF_EINVAL, "hf_group_create: no group communicator");
        goto out;
    }
    int size = hf_comm_size(group_comm);
    if (nprow < 0 || npcol < 0 || (nprow == 0) != (npcol == 0)) {
        result = hf_error(HF_EINVAL,
                          "parallel.grid %dx%d: expected \"auto\" or ROWSxCOLS with both positive",
                          nprow, npcol);
        goto out;
    }
    if (nprow == 0)
        hf_group_auto_shape(size, &nprow, &npcol);
    if ((long)nprow * npcol != size) {
        result = hf_error(HF_EINVAL,
                          "parallel.grid %dx%d has %d processes but the group has %d ranks "
                          "(parallel.ranks_per_task): rows x cols must equal ranks_per_task",
                          nprow, npcol, nprow * npcol, size);
        goto out;
    }
    if (block_size < 0) {
        result =
            hf_error(HF_EINVAL, "parallel.block_size %d: expected a positive integer", block_size);
        goto out;
    }
    g = hf_calloc(1, sizeof(*g));
    if (g == NULL) {
        result = HF_ENOMEM;
        goto out;
    }
    g->comm = group_comm;
    g->grid.size = size;
    g->grid.rank = hf_comm_rank(group_comm);
    g->grid.block_size = block_size > 0 ? block_size : HF_GROUP_DEFAULT_BLOCK;
    g->sys_handle = -1;
    g->grid.context = -1;

    int me = 0, nprocs = 0;
    Cblacs_pinfo(&me, &nprocs);
    blacs_used = 1;
    g->sys_handle = Csys2blacs_handle(hf_comm_mpi(group_comm));
    g->grid.context = g->sys_handle;
    Cblacs_gridinit(&g->grid.context, "Row", nprow, npcol);
    Cblacs_gridinfo(g->grid.context, &g->grid.nprow, &g->grid.npcol, &g->grid.myrow,
                    &g->grid.mycol);
    if (g->grid.nprow != nprow || g->grid.npcol != npcol || g->grid.myrow < 0 ||
        g->grid.mycol < 0) {
        result = hf_error(
            HF_EMPI, "BLACS grid %dx%d: rank %d got position (%d, %d) in a %dx%d grid", nprow,
            npcol, g->grid.rank, g->grid.myrow, g->grid.mycol, g->grid.nprow, g->grid.npcol);
        goto out;
    }
    *out = g;
    g = NULL;
out:
    hf_group_free(g);
    g = NULL;
    return result;
}

void hf_group_free(hf_group *g)
{
    if (g == NULL)
        return;
    /* The Rabit tracker this rank started for the group's distributed XGBoost fits, if any. */
    hf_rabit_release(hf_group_comm(g));
    if (g->grid.context >= 0 && g->grid.myrow >= 0)
        Cblacs_gridexit(g->grid.context);
    if (g->sys_handle >= 0)
        Cfree_blacs_system_handle(g->sys_handle);
    free(g);
}

void hf_group_finalize(void)
{
    if (blacs_used)
        Cblacs_exit(1);
    blacs_used = 0;
}

hf_comm *hf_group_comm(const hf_group *g)
{
    return g->comm;
}

const hf_grid *hf_group_grid(const hf_group *g)
{
    return &g->grid;
}

void hf_group_set_memory_limit(hf_group *g, uint64_t bytes)
{
    g->memory_limit = bytes;
}

uint64_t hf_group_memory_limit(const hf_group *g)
{
    return g->memory_limit;
}

/* Rows of an n-row dimension held by process 0 of nprocs with blocks of nb (the largest share). */
static uint64_t first_share(size_t n, int nb, int nprocs)
{
    uint64_t blocks = (n + (size_t)nb - 1) / (size_t)nb;
    uint64_t mine = (blocks + (uint64_t)nprocs - 1) / (uint64_t)nprocs;
    uint64_t rows = mine * (uint64_t)nb;
    return rows < n ? rows : n;
}

uint64_t hf_group_matrix_bytes(size_t n, int nb, int nprow, int npcol)
{
    if (nb <= 0)
        nb = HF_GROUP_DEFAULT_BLOCK;
    return first_share(n, nb, nprow) * first_share(n, nb, npcol) * sizeof(double);
}

const char *hf_group_format_bytes(uint64_t b, char *buf, size_t len)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.2f %s", v, unit[u]);
    return buf;
}

int hf_group_check_bytes(uint64_t need, uint64_t memory_per_rank, const char *what)
{
    char need_s[32], limit_s[32];
    if (memory_per_rank == 0 || need <= memory_per_rank)
        return HF_OK;
    return hf_error(HF_EINVAL, "%s: one task needs %s per rank, the limit is %s", what,
                    hf_group_format_bytes(need, need_s, sizeof need_s),
                    hf_group_format_bytes(memory_per_rank, limit_s, sizeof limit_s));
}

uint64_t hf_group_default_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int ranks = hf_comm_node_size();
    if (pages <= 0 || page <= 0)
        return 0; /* unknown: no limit */
    return (uint64_t)pages * (uint64_t)page / (uint64_t)(ranks > 0 ? ranks : 1);
}

int hf_group_check_memory(const hf_group *g, size_t n, uint64_t memory_per_rank, int n_matrices,
                          const char *what)
{
    int nprow = g ? g->grid.nprow : 1, npcol = g ? g->grid.npcol : 1;
    int nb = g ? g->grid.block_size : HF_GROUP_DEFAULT_BLOCK;
    int size = nprow * npcol;
    char need_s[32], limit_s[32];

    if (memory_per_rank == 0 || n_matrices <= 0)
        return HF_OK;
    uint64_t need = hf_group_matrix_bytes(n, nb, nprow, npcol) * (uint64_t)n_matrices;
    if (need <= memory_per_rank)
        return HF_OK;
    hf_group_format_bytes(need, need_s, sizeof(need_s));
    hf_group_format_bytes(memory_per_rank, limit_s, sizeof(limit_s));
    /* No grid holds less than one block per process: if that does not fit, more ranks cannot
     * help, a smaller block can. */
    uint64_t blk = n < (size_t)nb ? n : (size_t)nb;
    if (blk * blk * sizeof(double) * (uint64_t)n_matrices > memory_per_rank) {
        uint64_t fit = 1;
        while ((fit + 1) * (fit + 1) * sizeof(double) * (uint64_t)n_matrices <= memory_per_rank)
            fit++;
        return hf_error(HF_EINVAL,
                        "%s: %d distributed %zux%zu matrices need %s per rank on %d ranks but "
                        "parallel.memory_per_rank is %s, and with parallel.block_size %d no "
                        "number of ranks holds less than one %dx%d block per rank: use "
                        "parallel.block_size <= %llu",
                        what, n_matrices, n, n, need_s, size, limit_s, nb, (int)blk, (int)blk,
                        (unsigned long long)fit);
    }
    /* The smallest group (auto grid) on which the matrices would fit. */
    for (int r = size + 1; r <= (1 << 20); r++) {
        int pr, pc;
        hf_group_auto_shape(r, &pr, &pc);
        if (hf_group_matrix_bytes(n, nb, pr, pc) * (uint64_t)n_matrices <= memory_per_rank) {
            return hf_error(HF_EINVAL,
                            "%s: %d distributed %zux%zu matrices need %s per rank on %d ranks "
                            "(%dx%d grid) but parallel.memory_per_rank is %s: use "
                            "parallel.ranks_per_task >= %d (grid %dx%d)",
                            what, n_matrices, n, n, need_s, size, nprow, npcol, limit_s, r, pr, pc);
        }
    }
    return hf_error(HF_EINVAL,
                    "%s: %d distributed %zux%zu matrices need %s per rank on %d ranks but "
                    "parallel.memory_per_rank is %s: they do not fit even on %d ranks",
                    what, n_matrices, n, n, need_s, size, limit_s, 1 << 20);
}

void hf_group_set_data_parallel(hf_group *g, int on)
{
    if (g)
        g->data_parallel = on != 0;
}

int hf_group_data_parallel(const hf_group *g)
{
    return g != NULL && g->data_parallel && g->grid.size > 1;
}
