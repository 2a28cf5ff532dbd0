/* netfail.c - an LD_PRELOAD library for tests/mpi/test_xgb_net_fail.sh: it breaks libxgboost's own
 * Rabit sockets from inside, where no hyperfold code runs, to check that a link failing in the
 * middle of a distributed fit ends it on every rank with one message and never hangs.
 *
 * It wraps send(2) and recv(2) and counts only the calls made from libxgboost (the caller's
 * address, dladdr): MPI's, PMIx's and Python's sockets pass through untouched.
 *   HF_TEST_NET_FAIL=N   the Nth counted call fails, and every later one on the same socket
 *   HF_TEST_NET_MODE     reset (default): the call fails with ECONNRESET;
 *                        eof: a recv returns 0 (the peer closed), a send fails with EPIPE
 *   HF_TEST_NET_COUNT=1  print "netfail: N calls" on stderr at exit (the calls of a whole fit)
 * Test code only: never linked into hyperfold. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_recv)(int, void *, size_t, int);
static long fail_at = -1;
static int eof_mode;
static atomic_long n_calls;
static atomic_int broken_fd = -1;

__attribute__((constructor)) static void netfail_init(void)
{
    real_send = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    real_recv = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    const char *s = getenv("HF_TEST_NET_FAIL");
    if (s && *s)
        fail_at = strtol(s, NULL, 10);
    const char *m = getenv("HF_TEST_NET_MODE");
    eof_mode = m && strcmp(m, "eof") == 0;
    /* Loaded now: the processes this one starts (the Rabit tracker's Python) run without it. */
    unsetenv("LD_PRELOAD");
}

__attribute__((destructor)) static void netfail_report(void)
{
    const char *c = getenv("HF_TEST_NET_COUNT");
    if (c && strcmp(c, "1") == 0)
        fprintf(stderr, "netfail: %ld calls\n", (long)atomic_load(&n_calls));
}

static int from_xgboost(const void *ret)
{
    Dl_info info;
    return dladdr(ret, &info) && info.dli_fname && strstr(info.dli_fname, "libxgboost");
}

/* 1 when this call (of socket fd, from libxgboost) must fail. */
static int must_fail(int fd, const void *ret)
{
    if (!from_xgboost(ret))
        return 0;
    long k = atomic_fetch_add(&n_calls, 1) + 1;
    if (fail_at > 0 && k == fail_at) {
        atomic_store(&broken_fd, fd);
        fprintf(stderr, "netfail: breaking call %ld (fd %d)\n", k, fd);
    }
    return fail_at > 0 && atomic_load(&broken_fd) == fd;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    if (must_fail(fd, __builtin_return_address(0))) {
        errno = eof_mode ? EPIPE : ECONNRESET;
        return -1;
    }
    return real_send(fd, buf, len, flags);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    if (must_fail(fd, __builtin_return_address(0))) {
        if (eof_mode)
            return 0;
        errno = ECONNRESET;
        return -1;
    }
    return real_recv(fd, buf, len, flags);
}
