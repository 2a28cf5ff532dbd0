/* hf.h - error handling, logging and allocation shared by every hyperfold module.
 *
 * Conventions (see docs/architecture.md):
 *  - Functions that can fail return int: 0 on success, a negative HF_E* code on failure.
 *  - The first failure records a one-line message (no trailing newline) with hf_error(); later
 *    failures on the way back up do not overwrite it ("first error wins", as in curl).
 *  - Callers propagate with HF_CALL(expr) or keep a `result` variable and `goto out`.
 *  - assert() is never used for runtime errors.
 */
#ifndef HF_H
#define HF_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define HF_VERSION "0.1.0"

typedef enum hf_status {
    HF_OK = 0,
    HF_EINVAL = -1, /* bad input: job spec, CLI usage, CSV content (exit code 2) */
    HF_EIO = -2,    /* file system or HDF5 I/O failure */
    HF_ENOMEM = -3, /* allocation failed */
    HF_EDATA = -4,  /* data does not fit the schema / model (exit code 2) */
    HF_ENET = -5,   /* network or remote service failure after retries */
    HF_EAUTH = -6,  /* credentials refused */
    HF_ENUM = -7,   /* numerical failure (singular matrix, no convergence, NaN) */
    HF_EMPI = -8,   /* MPI or BLACS failure */
    HF_EINTR = -9,  /* stopped by a signal; work so far is journaled (exit code 3) */
    HF_EINTERNAL = -10
} hf_status;

/* Records the message for `code` unless a message is already pending; returns `code`.
 * Not collective. The message is formatted like printf and must be one line. */
int hf_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends context in front of the pending message ("reading x.csv: <old>"), returns code. */
int hf_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The pending message ("" if none). Borrowed: valid until the next hf_error_clear(). */
const char *hf_error_message(void);
/* The code recorded with the pending message (HF_OK if none). */
int hf_error_code(void);
void hf_error_clear(void);
/* Process exit code for a status: 0 ok, 2 bad input, 3 interrupted, 1 anything else. */
int hf_exit_code(int code);
/* Ends the process with exit code `code` after MPI_Finalize: flushes stdio and hyperfold's own
 * exit-time output, then _exit, so that no library destructor runs while threads that MPI's
 * runtime leaves behind (PMIx, libevent progress threads) are still being torn down (the rare
 * SIGSEGV at exit seen in libgcc_s's unwinder, Open MPI 4.1 + PMIx 4). Under AddressSanitizer a
 * plain exit, whose leak check runs at exit. Never returns. */
_Noreturn void hf_exit_after_mpi(int code);

#define HF_CALL(expr)                                                                              \
    do {                                                                                           \
        int hf__r = (expr);                                                                        \
        if (hf__r < 0)                                                                             \
            return hf__r;                                                                          \
    } while (0)

/* Allocation wrappers: on failure they record HF_ENOMEM with the size and return NULL. */
void *hf_malloc(size_t n);
void *hf_calloc(size_t count, size_t size);
void *hf_realloc(void *p, size_t n);
/* For large arrays that live long and are read many times (a rank's copy of the table): from
 * 4 MiB up, aligned to 2 MiB and advised to the kernel as transparent huge pages, which cuts the
 * page faults of filling them 512-fold and the TLB misses of every pass over them (below 4 MiB,
 * plain malloc). Released with free(). */
void *hf_malloc_large(size_t n);
char *hf_strdup(const char *s);
/* Frees the n strings of v and v itself (v may be NULL). */
void hf_strv_free(char **v, size_t n);
/* Appends s to the growing vector *v of *n strings (capacity *cap, doubled as needed) and takes
 * s: on failure, or when s is NULL (a failed hf_strdup), s is freed and HF_ENOMEM returned;
 * *v keeps its strings either way. */
int hf_strv_push(char ***v, size_t *n, size_t *cap, char *s);
char *hf_strndup(const char *s, size_t n);
/* printf into a new string (caller frees). */
char *hf_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logging to stderr, prefixed "hyperfold: " (and "[rank N] " when rank > 0). */
typedef enum { HF_LOG_QUIET = 0, HF_LOG_INFO = 1, HF_LOG_DEBUG = 2 } hf_log_level;
void hf_log_set_level(hf_log_level level);
void hf_log_set_rank(int rank);
/* strerror with the error's name, for messages: "No space left on device (ENOSPC)". Thread-safe
 * (a per-thread buffer, valid until the thread's next call). */
const char *hf_strerror(int e);
/* Failure injection for the tests: 1 when this durable write is the one HF_TEST_FAIL_WRITE
 * names (the caller then fails as on ENOSPC); see hf.c. */
int hf_test_write_fails(void);
/* Fault injection for the tests (tests/cli/test_kill_stages.py): when HF_TEST_KILL_AT is
 * "STAGE" or "STAGE:RANK" and names this stage (and this process's rank), the process kills
 * itself with SIGKILL here, as a node failure or the OOM killer would. No effect otherwise. */
void hf_test_kill_point(const char *stage);
void hf_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hf_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hf_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock seconds from a monotonic clock. */
double hf_now(void);
/* *ts = the realtime clock now plus `seconds` (>= 0): the absolute deadline that
 * pthread_cond_timedwait takes. */
struct timespec;
void hf_deadline_in(struct timespec *ts, double seconds);

#endif
