/* comm.c - the communication module: every direct MPI call of hyperfold lives here. */
#include "common/comm.h"
#include "common/hf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hf_comm {
    MPI_Comm comm;
    int owned;
    int rank, size;
};

static int mpi_fail(int mpi_err, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(mpi_err, msg, &len);
    return hf_error(HF_EMPI, "%s failed: %.*s", what, len, msg);
}

#define MPI_CALL(expr, what)                                                                       \
    do {                                                                                           \
        int mpi__rc = (expr);                                                                      \
        if (mpi__rc != MPI_SUCCESS)                                                                \
            return mpi_fail(mpi__rc, what);                                                        \
    } while (0)

static int hf_comm_wrap(MPI_Comm c, int owned, hf_comm **out)
{
    hf_comm *w = hf_calloc(1, sizeof *w);
    if (!w)
        return HF_ENOMEM;
    w->comm = c;
    w->owned = owned;
    MPI_Comm_rank(c, &w->rank);
    MPI_Comm_size(c, &w->size);
    *out = w;
    return HF_OK;
}

/* MPI counts are int: a message carries at most g_chunk bytes (1 GiB; a broadcast, and each rank's
 * piece of a gather round), so buffers of any length move in pieces. HF_COMM_CHUNK_BYTES (a test
 * switch, read by hf_comm_init) lowers it, so that the pieces are exercised on small data. */
static size_t g_chunk = (size_t)1 << 30;

static int g_thread_level = 0;
static int g_node_size = 1;
static hf_comm *g_node; /* the world's ranks on this node */

int hf_comm_thread_multiple(void)
{
    return g_thread_level >= MPI_THREAD_MULTIPLE;
}

int hf_comm_init(int *argc, char ***argv, hf_comm **world)
{
    int provided = 0;
    const char *chunk = getenv("HF_COMM_CHUNK_BYTES");
    if (chunk && *chunk) {
        char *end = NULL;
        unsigned long long v = strtoull(chunk, &end, 10);
        if (*end || v == 0 || v > ((size_t)1 << 30))
            return hf_error(HF_EINVAL,
                            "HF_COMM_CHUNK_BYTES: got '%s', expected a number of bytes from 1 to "
                            "1073741824",
                            chunk);
        g_chunk = (size_t)v;
    }
    int result = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    g_thread_level = provided;
    if (result != MPI_SUCCESS)
        return hf_error(HF_EMPI, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_FUNNELED)
        return hf_error(HF_EMPI,
                        "the MPI library gives thread level %d; hyperfold needs at least "
                        "MPI_THREAD_FUNNELED",
                        provided);
    /* Errors come back as codes; we turn them into messages. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm dup;
    MPI_CALL(MPI_Comm_dup(MPI_COMM_WORLD, &dup), "MPI_Comm_dup");
    result = hf_comm_wrap(dup, 1, world);
    /* The ranks that share this node (and its memory). */
    if (result < 0)
        return result;
    /* Without it (MPI could not split) every rank loads its own table. */
    if (hf_comm_split_node(*world, &g_node) >= 0)
        g_node_size = g_node->size;
    else
        hf_error_clear();
    return result;
}

int hf_comm_node_size(void)
{
    return g_node_size;
}

hf_comm *hf_comm_node(void)
{
    return g_node;
}

int hf_comm_split_node(hf_comm *c, hf_comm **out)
{
    MPI_Comm node;
    *out = NULL;
    MPI_CALL(MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node),
             "MPI_Comm_split_type");
    MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN);
    return hf_comm_wrap(node, 1, out);
}

void hf_comm_finalize(hf_comm *world)
{
    hf_comm_free(g_node);
    g_node = NULL;
    hf_comm_free(world);
    world = NULL;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Finalize();
}

int hf_comm_split(hf_comm *c, int color, int key, hf_comm **out)
{
    MPI_Comm nc;
    MPI_CALL(MPI_Comm_split(c->comm, color, key, &nc), "MPI_Comm_split");
    return hf_comm_wrap(nc, 1, out);
}

void hf_comm_free(hf_comm *c)
{
    if (!c)
        return;
    if (c->owned) {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!finalized)
            MPI_Comm_free(&c->comm);
    }
    free(c);
}

int hf_comm_rank(const hf_comm *c)
{
    return c->rank;
}

int hf_comm_size(const hf_comm *c)
{
    return c->size;
}

MPI_Comm hf_comm_mpi(const hf_comm *c)
{
    return c->comm;
}

void hf_comm_abort(hf_comm *c, int code)
{
    MPI_Abort(c ? c->comm : MPI_COMM_WORLD, code);
}

int hf_comm_check(hf_comm *c, int status)
{
    return hf_comm_check_cause(c, status, 0);
}

int hf_comm_check_cause(hf_comm *c, int status, int secondary)
{
    /* Lowest failing rank wins (secondary failures after every other); its status and message
     * are shared with everyone. */
    int mine = status < 0 ? (secondary ? c->size + c->rank : c->rank) : 2 * c->size;
    int first = 2 * c->size;
    MPI_CALL(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->comm), "MPI_Allreduce");
    if (first == 2 * c->size)
        return HF_OK;
    first %= c->size;
    int code = status;
    MPI_CALL(MPI_Bcast(&code, 1, MPI_INT, first, c->comm), "MPI_Bcast");
    char msg[2048];
    if (c->rank == first)
        snprintf(msg, sizeof msg, "%s", hf_error_message());
    MPI_CALL(MPI_Bcast(msg, sizeof msg, MPI_CHAR, first, c->comm), "MPI_Bcast");
    if (c->rank != first) {
        hf_error_clear();
        if (first > 0)
            hf_error(code, "rank %d: %s", first, msg);
        else
            hf_error(code, "%s", msg);
    }
    return code;
}

int hf_comm_barrier(hf_comm *c)
{
    MPI_CALL(MPI_Barrier(c->comm), "MPI_Barrier");
    return HF_OK;
}

int hf_comm_bcast(hf_comm *c, void *buf, size_t len, int root)
{
    char *p = buf;
    for (size_t off = 0; off < len; off += g_chunk) {
        size_t n = len - off < g_chunk ? len - off : g_chunk;
        MPI_CALL(MPI_Bcast(p + off, (int)n, MPI_BYTE, root, c->comm), "MPI_Bcast");
    }
    return HF_OK;
}

int hf_comm_bcast_blob(hf_comm *c, char **buf, size_t *len, int root)
{
    uint64_t n = c->rank == root ? (uint64_t)*len : 0;
    MPI_CALL(MPI_Bcast(&n, 1, MPI_UINT64_T, root, c->comm), "MPI_Bcast");
    if (c->rank != root) {
        *buf = hf_malloc((size_t)n + 1);
        if (!*buf)
            return HF_ENOMEM; /* the others will block: callers treat ENOMEM as fatal */
        (*buf)[n] = '\0';
        *len = (size_t)n;
    }
    return hf_comm_bcast(c, *buf, (size_t)n, root);
}

/* Element-wise, so in pieces of at most 2^27 elements (MPI's int count) with the same result;
 * not g_chunk, whose test values would change the sums' reduction algorithm. */
#define ALLREDUCE(fn, ctype, mpitype, op)                                                          \
    int fn(hf_comm *c, ctype *v, size_t n)                                                         \
    {                                                                                              \
        const size_t most = (size_t)1 << 27;                                                       \
        for (size_t at = 0; at < n; at += most)                                                    \
            MPI_CALL(MPI_Allreduce(MPI_IN_PLACE, v + at, (int)(n - at < most ? n - at : most),     \
                                   mpitype, op, c->comm),                                          \
                     "MPI_Allreduce");                                                             \
        return HF_OK;                                                                              \
    }

ALLREDUCE(hf_comm_allreduce_sum_i64, int64_t, MPI_INT64_T, MPI_SUM)
ALLREDUCE(hf_comm_allreduce_sum_f64, double, MPI_DOUBLE, MPI_SUM)
ALLREDUCE(hf_comm_allreduce_min_f64, double, MPI_DOUBLE, MPI_MIN)
ALLREDUCE(hf_comm_allreduce_max_f64, double, MPI_DOUBLE, MPI_MAX)
ALLREDUCE(hf_comm_allreduce_max_i64, int64_t, MPI_INT64_T, MPI_MAX)
ALLREDUCE(hf_comm_allreduce_min_i64, int64_t, MPI_INT64_T, MPI_MIN)

int hf_comm_exscan_sum_i64(hf_comm *c, int64_t *v, size_t n)
{
    int64_t *in = hf_malloc(n * sizeof *in);
    if (!in)
        return HF_ENOMEM;
    memcpy(in, v, n * sizeof *in);
    int mpi_err = MPI_Exscan(in, v, (int)n, MPI_INT64_T, MPI_SUM, c->comm);
    free(in);
    if (mpi_err != MPI_SUCCESS)
        return mpi_fail(mpi_err, "MPI_Exscan");
    if (c->rank == 0)
        memset(v, 0, n * sizeof *v); /* MPI leaves rank 0's result undefined */
    return HF_OK;
}

/* Every rank's blob to every rank (root < 0) or to root, concatenated in rank order. The sizes are
 * gathered first (on every rank, so that every rank knows how many rounds there are); then, when
 * every blob fits in one chunk (g_chunk bytes, and size chunks within MPI's int count), one
 * MPI_Allgatherv / MPI_Gatherv into the result; else rounds, each moving the next chunk of every
 * rank's blob into a scratch buffer of size chunks, from which the receivers copy each piece to
 * its place. So a blob or a total of any length moves (each message within MPI's int count). */
static int gather_common(hf_comm *c, const void *mine, size_t len, int root, char **all,
                         size_t **lens)
{
    int result = HF_OK;
    int everyone = root < 0;
    uint64_t my = len;
    uint64_t *sizes = hf_malloc((size_t)c->size * sizeof *sizes);
    int *counts = hf_malloc((size_t)c->size * sizeof *counts);
    int *displs = hf_malloc((size_t)c->size * sizeof *displs);
    size_t *start = hf_malloc((size_t)c->size * sizeof *start);
    char *buf = NULL, *scratch = NULL;
    size_t *l = NULL; /* *lens, allocated before the last collective step: agreed with buf */
    /* A rank that fails before a collective step must not leave the others waiting in it: each
     * local failure is agreed (hf_comm_check) before the next collective. */
    if (!sizes || !counts || !displs || !start)
        result = HF_ENOMEM;
    if ((result = hf_comm_check(c, result)) < 0)
        goto out;
    int mpi_err = MPI_Allgather(&my, 1, MPI_UINT64_T, sizes, 1, MPI_UINT64_T, c->comm);
    if (mpi_err != MPI_SUCCESS) {
        result = mpi_fail(mpi_err, "MPI_Allgather");
        goto out;
    }
    /* the piece of one rank in one round: size pieces within MPI's int count */
    size_t chunk =
        g_chunk < (size_t)INT_MAX / (size_t)c->size ? g_chunk : (size_t)INT_MAX / (size_t)c->size;
    uint64_t total = 0, longest = 0;
    for (int i = 0; i < c->size; i++) {
        start[i] = (size_t)total;
        total += sizes[i];
        if (sizes[i] > longest)
            longest = sizes[i];
    }
    int rounds = longest > chunk;
    int receiver = everyone || c->rank == root;
    if (receiver && total > (uint64_t)SIZE_MAX - 1)
        result = hf_error(HF_EINTERNAL, "gathered message too large (%llu bytes)",
                          (unsigned long long)total);
    if (receiver && result >= 0) {
        buf = hf_malloc((size_t)total + 1);
        l = buf ? hf_malloc((size_t)c->size * sizeof *l) : NULL;
        if (!buf || !l)
            result = HF_ENOMEM;
        else
            buf[total] = '\0';
    }
    if (rounds && receiver && result >= 0 && !(scratch = hf_malloc(chunk * (size_t)c->size)))
        result = HF_ENOMEM;
    if ((result = hf_comm_check(c, result)) < 0)
        goto out;
    const char *from = mine;
    const uint64_t n_rounds = rounds ? (longest + chunk - 1) / chunk : 1;
    for (uint64_t k = 0; k < n_rounds; k++) {
        const uint64_t off = k * chunk;
        size_t piece = 0;
        for (int i = 0; i < c->size; i++) {
            uint64_t left = sizes[i] > off ? sizes[i] - off : 0;
            size_t n = rounds ? (left < chunk ? (size_t)left : chunk) : (size_t)sizes[i];
            counts[i] = (int)n;
            displs[i] = rounds ? (int)((size_t)i * chunk) : (int)start[i];
            if (i == c->rank)
                piece = n;
        }
        char *into = rounds ? scratch : buf;
        const char *send = piece ? from + off : from;
        mpi_err = everyone ? MPI_Allgatherv(send, (int)piece, MPI_BYTE, into, counts, displs,
                                            MPI_BYTE, c->comm)
                           : MPI_Gatherv(send, (int)piece, MPI_BYTE, into, counts, displs, MPI_BYTE,
                                         root, c->comm);
        if (mpi_err != MPI_SUCCESS) {
            result = mpi_fail(mpi_err, everyone ? "MPI_Allgatherv" : "MPI_Gatherv");
            goto out;
        }
        for (int i = 0; rounds && receiver && i < c->size; i++)
            if (counts[i] > 0)
                memcpy(buf + start[i] + off, scratch + (size_t)i * chunk, (size_t)counts[i]);
    }
    if (receiver) {
        for (int i = 0; i < c->size; i++)
            l[i] = (size_t)sizes[i];
        *lens = l;
        *all = buf;
        buf = NULL;
        l = NULL;
    } else {
        *lens = NULL;
        *all = NULL;
    }
out:
    free(buf);
    free(scratch);
    free(l);
    free(sizes);
    free(counts);
    free(displs);
    free(start);
    return result;
}

int hf_comm_allgather_blob(hf_comm *c, const void *mine, size_t len, char **all, size_t **lens)
{
    return gather_common(c, mine, len, -1, all, lens);
}

int hf_comm_gather_blob(hf_comm *c, const void *mine, size_t len, int root, char **all,
                        size_t **lens)
{
    return gather_common(c, mine, len, root, all, lens);
}

struct hf_comm_shared {
    MPI_Win win;
    hf_comm *node;
    size_t size;
};

int hf_comm_shared_alloc(hf_comm *node, size_t size, hf_comm_shared **out, void **base)
{
    *out = NULL;
    *base = NULL;
    uint64_t total = node->rank == 0 ? (uint64_t)size : 0;
    MPI_CALL(MPI_Bcast(&total, 1, MPI_UINT64_T, 0, node->comm), "MPI_Bcast");
    /* MPI places the segment after its own header: room to start the caller's bytes on a page. */
    const uint64_t align = 4096;
    uint64_t padded = total ? total + align : 0;
    hf_comm_shared *s = hf_calloc(1, sizeof *s);
    int ok = s != NULL;
    /* Every rank must enter the allocation (it is collective): agree first. */
    MPI_CALL(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, node->comm), "MPI_Allreduce");
    if (!ok) {
        free(s);
        return hf_error(HF_ENOMEM, "out of memory");
    }
    /* The whole segment on the node's rank 0, none elsewhere: every rank reads rank 0's part. */
    void *mine = NULL;
    int mpi_err = MPI_Win_allocate_shared(node->rank == 0 ? (MPI_Aint)padded : 0, 1, MPI_INFO_NULL,
                                          node->comm, &mine, &s->win);
    int failed = mpi_err != MPI_SUCCESS;
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, node->comm);
    if (failed) {
        /* A window this rank made while another rank's failed is left alone: freeing it is
         * collective, and the failing rank would not join. */
        free(s);
        if (mpi_err == MPI_SUCCESS)
            return hf_error(HF_EMPI, "MPI_Win_allocate_shared of %llu bytes failed on another rank",
                            (unsigned long long)total);
        return mpi_fail(mpi_err, "MPI_Win_allocate_shared");
    }
    MPI_Win_set_errhandler(s->win, MPI_ERRORS_RETURN);
    MPI_Aint got = 0;
    int disp = 0;
    void *at = NULL;
    mpi_err = MPI_Win_shared_query(s->win, 0, &got, &disp, &at);
    /* Freeing the window is collective: every rank frees it if the query failed on any. */
    failed = mpi_err != MPI_SUCCESS || (uint64_t)got < padded;
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, node->comm);
    if (failed) {
        MPI_Win_free(&s->win);
        free(s);
        if (mpi_err == MPI_SUCCESS && (uint64_t)got >= padded)
            return hf_error(HF_EMPI, "MPI_Win_shared_query failed on another rank");
        if (mpi_err != MPI_SUCCESS)
            return mpi_fail(mpi_err, "MPI_Win_shared_query");
        return hf_error(HF_EMPI, "MPI_Win_shared_query: got %lld bytes, expected %llu",
                        (long long)got, (unsigned long long)padded);
    }
    s->node = node;
    s->size = (size_t)total;
    *base = total ? (void *)((char *)at + (align - (uintptr_t)at % align) % align) : NULL;
    *out = s;
    return HF_OK;
}

int hf_comm_shared_sync(hf_comm_shared *s)
{
    /* The pattern for a shared window that is safe in MPI's separate memory model too (MPI-3.1,
     * section 11.7, example 11.21): a passive-target epoch, MPI_Win_sync on both sides of the
     * barrier. */
    MPI_CALL(MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win), "MPI_Win_lock_all");
    int mpi_err = MPI_Win_sync(s->win);
    if (mpi_err == MPI_SUCCESS)
        mpi_err = MPI_Barrier(s->node->comm);
    if (mpi_err == MPI_SUCCESS)
        mpi_err = MPI_Win_sync(s->win);
    int unlock = MPI_Win_unlock_all(s->win);
    if (mpi_err != MPI_SUCCESS)
        return mpi_fail(mpi_err, "MPI_Win_sync");
    if (unlock != MPI_SUCCESS)
        return mpi_fail(unlock, "MPI_Win_unlock_all");
    return HF_OK;
}

size_t hf_comm_shared_size(const hf_comm_shared *s)
{
    return s->size;
}

hf_comm *hf_comm_shared_comm(const hf_comm_shared *s)
{
    return s->node;
}

void hf_comm_shared_free(hf_comm_shared *s)
{
    if (!s)
        return;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Win_free(&s->win);
    free(s);
}

int hf_comm_send(hf_comm *c, int dest, int tag, const void *buf, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return hf_error(HF_EINTERNAL, "message of %zu bytes is too large", len);
    MPI_CALL(MPI_Send(buf, (int)len, MPI_BYTE, dest, tag, c->comm), "MPI_Send");
    return HF_OK;
}

int hf_comm_recv(hf_comm *c, int src, int *from, int *tag, char **buf, size_t *len)
{
    MPI_Status st;
    MPI_CALL(MPI_Probe(src < 0 ? MPI_ANY_SOURCE : src, MPI_ANY_TAG, c->comm, &st), "MPI_Probe");
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    char *b = hf_malloc((size_t)count + 1);
    if (!b)
        return HF_ENOMEM;
    int result =
        MPI_Recv(b, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, c->comm, MPI_STATUS_IGNORE);
    if (result != MPI_SUCCESS) {
        free(b);
        return mpi_fail(result, "MPI_Recv");
    }
    b[count] = '\0';
    *buf = b;
    *len = (size_t)count;
    *from = st.MPI_SOURCE;
    *tag = st.MPI_TAG;
    return HF_OK;
}

struct hf_comm_req {
    MPI_Request req;
    char *buf;
};

int hf_comm_isend(hf_comm *c, int dest, int tag, const void *buf, size_t len, hf_comm_req **req)
{
    *req = NULL;
    if (len > (size_t)INT32_MAX)
        return hf_error(HF_EINTERNAL, "message of %zu bytes is too large", len);
    hf_comm_req *r = hf_calloc(1, sizeof *r);
    if (!r || !(r->buf = hf_malloc(len ? len : 1))) {
        free(r);
        return HF_ENOMEM;
    }
    memcpy(r->buf, buf, len);
    int result = MPI_Isend(r->buf, (int)len, MPI_BYTE, dest, tag, c->comm, &r->req);
    if (result != MPI_SUCCESS) {
        free(r->buf);
        free(r);
        return mpi_fail(result, "MPI_Isend");
    }
    *req = r;
    return HF_OK;
}

int hf_comm_test(hf_comm_req **req, int *done)
{
    *done = 0;
    if (!*req) {
        *done = 1;
        return HF_OK;
    }
    MPI_CALL(MPI_Test(&(*req)->req, done, MPI_STATUS_IGNORE), "MPI_Test");
    if (*done) {
        free((*req)->buf);
        free(*req);
        *req = NULL;
    }
    return HF_OK;
}

int hf_comm_wait(hf_comm_req **req)
{
    if (!req || !*req)
        return HF_OK;
    int result = MPI_Wait(&(*req)->req, MPI_STATUS_IGNORE);
    free((*req)->buf);
    free(*req);
    *req = NULL;
    return result == MPI_SUCCESS ? HF_OK : mpi_fail(result, "MPI_Wait");
}

int hf_comm_iprobe(hf_comm *c, int src, int *ready)
{
    MPI_Status st;
    MPI_CALL(MPI_Iprobe(src < 0 ? MPI_ANY_SOURCE : src, MPI_ANY_TAG, c->comm, ready, &st),
             "MPI_Iprobe");
    return HF_OK;
}
