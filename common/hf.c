#define _GNU_SOURCE
#include "common/hf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Per thread: rank 0 runs a worker thread beside the coordinator. */
static _Thread_local char g_msg[2048];
static _Thread_local int g_code = HF_OK;
static hf_log_level g_level = HF_LOG_INFO;
static int g_rank = 0;

/* Keeps the message on one line: every control character (a newline, but also a vertical tab or
 * a form feed, which a terminal shows as a line break; a message may quote a damaged file's bytes)
 * becomes a space. */
static void one_line(char *msg)
{
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

static void set_message(const char *fmt, va_list ap)
{
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    one_line(g_msg);
}

int hf_error(int code, const char *fmt, ...)
{
    if (g_code != HF_OK)
        return code;
    va_list ap;
    va_start(ap, fmt);
    set_message(fmt, ap);
    va_end(ap);
    g_code = code;
    return code;
}

int hf_error_prefix(int code, const char *fmt, ...)
{
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    one_line(prefix);
    if (g_code == HF_OK) {
        snprintf(g_msg, sizeof g_msg, "%s", prefix);
        g_code = code;
        return code;
    }
    char old[sizeof g_msg];
    memcpy(old, g_msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof g_msg - 3)
        n = sizeof g_msg - 3;
    memcpy(g_msg, prefix, n);
    memcpy(g_msg + n, ": ", 2);
    size_t room = sizeof g_msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(g_msg + n + 2, old, m);
    g_msg[n + 2 + m] = '\0';
    return code;
}

const char *hf_error_message(void)
{
    return g_msg;
}

int hf_error_code(void)
{
    return g_code;
}

void hf_error_clear(void)
{
    g_msg[0] = '\0';
    g_code = HF_OK;
}

int hf_exit_code(int code)
{
    switch (code) {
    case HF_OK:
        return 0;
    case HF_EINVAL:
    case HF_EDATA:
        return 2;
    case HF_EINTR:
        return 3;
    default:
        return 1;
    }
}

/* ---- failure injection (tests/cli/test_torture.py) -------------------------------------------
 * HF_TEST_FAIL_ALLOC=N makes the Nth allocation through hf_malloc, hf_calloc, hf_realloc and
 * hf_asprintf of this process fail, HF_TEST_FAIL_WRITE=N the Nth durable write (hf_test_write_fails
 * at each write of fsutil.c and the journal), as curl's torture tests do; HF_TEST_COUNT=1 prints
 * the counts at exit, so that a test knows how many there are. Off (and one branch) otherwise. */
static _Atomic long g_n_alloc, g_n_write;
static long g_fail_alloc = -2, g_fail_write = -2; /* -2: not read yet, -1: off */
static int g_count_at_exit = -1;

static void print_counts(void)
{
    fprintf(stderr, "hf_test: %ld allocations, %ld writes\n", (long)g_n_alloc, (long)g_n_write);
}

static void read_fail_env(void)
{
    const char *a = getenv("HF_TEST_FAIL_ALLOC"), *w = getenv("HF_TEST_FAIL_WRITE");
    g_fail_write = w ? atol(w) : -1;
    g_fail_alloc = a ? atol(a) : -1;
    g_count_at_exit = getenv("HF_TEST_COUNT") != NULL;
    if (g_count_at_exit)
        atexit(print_counts);
}

#if defined(__SANITIZE_ADDRESS__)
#define HF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HF_ASAN 1
#endif
#endif

_Noreturn void hf_exit_after_mpi(int code)
{
#ifdef HF_ASAN
    exit(code); /* runs print_counts (atexit) and the leak check */
#else
    if (g_count_at_exit > 0)
        print_counts();
    fflush(NULL);
    _exit(code);
#endif
}

static int alloc_fails(void)
{
    if (g_fail_alloc == -2)
        read_fail_env();
    long k = ++g_n_alloc;
    return k == g_fail_alloc;
}

int hf_test_write_fails(void)
{
    if (g_fail_write == -2)
        read_fail_env();
    long k = ++g_n_write;
    return k == g_fail_write;
}

void *hf_malloc(size_t n)
{
    void *p = alloc_fails() ? NULL : malloc(n ? n : 1);
    if (!p)
        hf_error(HF_ENOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *hf_malloc_large(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n < 2 * huge)
        return hf_malloc(n);
    if (n > SIZE_MAX - huge) {
        hf_error(HF_ENOMEM, "out of memory allocating %zu bytes", n);
        return NULL;
    }
    void *p = NULL;
    size_t rounded = (n + huge - 1) / huge * huge;
    if (alloc_fails() || posix_memalign(&p, huge, rounded) != 0) {
        hf_error(HF_ENOMEM, "out of memory allocating %zu bytes", n);
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: without THP it changes nothing */
#endif
    return p;
}

void hf_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int hf_strv_push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (!s)
        return HF_ENOMEM;
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        char **nv = hf_realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(s);
            return HF_ENOMEM;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    return HF_OK;
}

void *hf_calloc(size_t count, size_t size)
{
    void *p = alloc_fails() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (!p)
        hf_error(HF_ENOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *hf_realloc(void *p, size_t n)
{
    void *q = alloc_fails() ? NULL : realloc(p, n ? n : 1);
    if (!q)
        hf_error(HF_ENOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

char *hf_strdup(const char *s)
{
    return hf_strndup(s, strlen(s));
}

char *hf_strndup(const char *s, size_t n)
{
    char *p = hf_malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hf_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = alloc_fails() ? -1 : vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0) {
        hf_error(HF_ENOMEM, "out of memory formatting a string");
        return NULL;
    }
    return out;
}

void hf_log_set_level(hf_log_level level)
{
    g_level = level;
}

const char *hf_strerror(int e)
{
    static _Thread_local char buf[160];
    const char *name = strerrorname_np(e);
    char tmp[128];
    const char *text = strerror_r(e, tmp, sizeof tmp); /* (the GNU strerror_r) */
    if (name)
        snprintf(buf, sizeof buf, "%s (%s)", text, name);
    else
        snprintf(buf, sizeof buf, "%s", text);
    return buf;
}

void hf_test_kill_point(const char *stage)
{
    const char *at = getenv("HF_TEST_KILL_AT");
    size_t n = strlen(stage);
    if (!at || strncmp(at, stage, n) != 0 || (at[n] != '\0' && at[n] != ':'))
        return;
    if (at[n] == ':' && atoi(at + n + 1) != g_rank)
        return;
    fprintf(stderr, "hyperfold[rank %d]: HF_TEST_KILL_AT %s: killed\n", g_rank, stage);
    raise(SIGKILL);
}

void hf_log_set_rank(int rank)
{
    g_rank = rank;
}

static void vlog(const char *tag, const char *fmt, va_list ap)
{
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    if (g_rank > 0)
        fprintf(stderr, "hyperfold[rank %d]: %s%s\n", g_rank, tag, line);
    else
        fprintf(stderr, "hyperfold: %s%s\n", tag, line);
}

void hf_info(const char *fmt, ...)
{
    if (g_level < HF_LOG_INFO)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

void hf_debug(const char *fmt, ...)
{
    if (g_level < HF_LOG_DEBUG)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("debug: ", fmt, ap);
    va_end(ap);
}

void hf_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("warning: ", fmt, ap);
    va_end(ap);
}

double hf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void hf_deadline_in(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_REALTIME, ts);
    long whole = (long)seconds;
    ts->tv_sec += whole;
    ts->tv_nsec += (long)((seconds - (double)whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}
