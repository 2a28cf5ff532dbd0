/* rabit.c - the Rabit tracker of a worker group and libxgboost's communicator (see rabit.h).
 *
 * The tracker is python3-xgboost's own (xgboost/tracker.py: RabitTracker, standard-library
 * Python), loaded from its file without importing the xgboost package (no libxgboost or numpy in
 * the tracker process, which starts in about 50 ms). libxgboost 1.7 has no tracker of its own in C
 * (the C tracker came with XGBoost 2.1), and writing the tracker's protocol here would duplicate
 * the one the library's users run. A short wrapper script (k_tracker_py) makes one tracker serve
 * the group's training runs one after the other (accept_workers in a loop on one listening
 * socket), assigns Rabit ranks by task id (the group rank, zero-padded: sortby="task"), drops a
 * half-joined run after HF_RABIT_TIMEOUT seconds without a new connection (the ranks that joined
 * then fail instead of waiting forever), and exits when its stdin closes (the leader released it
 * or exited). Two fixes of tracker.py 1.7.4 for a worker that breaks off its handshake (found by
 * tests/mpi/test_xgb_net_fail.sh): ExSocket.recvall looped forever on a closed connection (recv
 * returning b'' added nothing), now it raises; and every accepted connection gets the timeout
 * too. A run that fails closes all of its connections, so that the ranks waiting on the tracker
 * for their links see the failure at once instead of waiting forever in ConnectTracker. */
#define _GNU_SOURCE /* pipe2 */
#include "worker/rabit.h"

#include "common/hf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xgboost/c_api.h>

extern char **environ;

#define HF_RABIT_DEFAULT_PYTHON "/usr/bin/python3"
#define HF_RABIT_DEFAULT_TIMEOUT 120.0
#define HF_RABIT_HOST_MAX 256

/* argv: host, number of workers, timeout in seconds. First line on stdout: "OK <port>", or the
 * error (a traceback's last line) and exit. */
static const char k_tracker_py[] =
    "import importlib.util, os, socket, sys, threading, time\n"
    "host, n, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])\n"
    "spec = importlib.util.find_spec('xgboost')\n"
    "if spec is None or not spec.submodule_search_locations:\n"
    "    sys.exit('no module xgboost in ' + sys.executable + ' (install python3-xgboost)')\n"
    "path = os.path.join(list(spec.submodule_search_locations)[0], 'tracker.py')\n"
    "tspec = importlib.util.spec_from_file_location('hf_rabit_tracker', path)\n"
    "mod = importlib.util.module_from_spec(tspec)\n"
    "tspec.loader.exec_module(mod)\n"
    "tracker = mod.RabitTracker(host_ip=host, n_workers=n, port=0, sortby='task')\n"
    "tracker.sock.settimeout(timeout)\n"
    "def recvall(self, nbytes):\n"
    "    res, nread = [], 0\n"
    "    while nread < nbytes:\n"
    "        chunk = self.sock.recv(min(nbytes - nread, 1024))\n"
    "        if not chunk:\n"
    "            raise ConnectionError('a worker closed its tracker connection')\n"
    "        nread += len(chunk)\n"
    "        res.append(chunk)\n"
    "    return b''.join(res)\n"
    "mod.ExSocket.recvall = recvall\n"
    "run = []\n"
    "class NoDelay:\n"
    "    def __init__(self, s):\n"
    "        self.s = s\n"
    "    def accept(self):\n"
    "        c, a = self.s.accept()\n"
    "        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
    "        c.settimeout(timeout)\n"
    "        run.append(c)\n"
    "        return c, a\n"
    "    def __getattr__(self, k):\n"
    "        return getattr(self.s, k)\n"
    "tracker.sock = NoDelay(tracker.sock)\n"
    "print('OK', tracker.port, flush=True)\n"
    "null = os.open(os.devnull, os.O_WRONLY)\n"
    "os.dup2(null, 1)\n"
    "os.dup2(null, 2)\n"
    "def watch():\n"
    "    sys.stdin.buffer.read()\n"
    "    os._exit(0)\n"
    "threading.Thread(target=watch, daemon=True).start()\n"
    "while True:\n"
    "    try:\n"
    "        tracker.accept_workers(n)\n"
    "    except Exception:\n"
    "        time.sleep(0.05)\n"
    "    for c in run:\n"
    "        try:\n"
    "            c.close()\n"
    "        except OSError:\n"
    "            pass\n"
    "    run.clear()\n";

/* A tracker this process runs (as a group leader). */
typedef struct tracker {
    const hf_comm *comm; /* the group's communicator (the key) */
    int size;            /* its ranks */
    pid_t pid;
    int in_fd; /* the write end of the tracker's stdin; closing it stops the tracker */
    char host[HF_RABIT_HOST_MAX];
    int port;
    struct tracker *next;
} tracker;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static tracker *g_trackers;

static double env_timeout(void)
{
    const char *s = getenv("HF_RABIT_TIMEOUT");
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0.0;
    return s && end != s && *end == '\0' && v > 0 ? v : HF_RABIT_DEFAULT_TIMEOUT;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Stops the tracker process: closes its stdin, waits up to a second, then kills it. */
static void tracker_stop(tracker *t)
{
    if (t->in_fd >= 0)
        close(t->in_fd);
    t->in_fd = -1;
    for (int i = 0; t->pid > 0 && i < 100; i++) {
        if (waitpid(t->pid, NULL, WNOHANG) != 0)
            t->pid = 0;
        else
            usleep(10000);
    }
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    t->pid = 0;
}

static int tracker_alive(tracker *t)
{
    if (t->pid <= 0)
        return 0;
    if (waitpid(t->pid, NULL, WNOHANG) == 0)
        return 1;
    t->pid = 0; /* exited (reaped) */
    return 0;
}

/* The address the tracker listens on (see rabit.h). */
static int tracker_host(int same_host, char *out, size_t cap)
{
    const char *env = getenv("HF_RABIT_HOST");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return HF_OK;
    }
    if (same_host) {
        snprintf(out, cap, "127.0.0.1");
        return HF_OK;
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return hf_error(HF_ENET, "xgboost: the Rabit tracker's address: getifaddrs: %s",
                        strerror(errno));
    int found = 0;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
            !(i->ifa_flags & IFF_LOOPBACK))
            found = inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out,
                              (socklen_t)cap) != NULL;
    freeifaddrs(ifs);
    if (!found)
        return hf_error(
            HF_ENET, "xgboost: the group's ranks run on several hosts and this host has no "
                     "IPv4 address other than loopback for the Rabit tracker; set HF_RABIT_HOST");
    return HF_OK;
}

/* Reads the tracker's output up to its line "OK <port>" (by the deadline) into line, that line
 * first; on EOF before it, the whole output. Returns 1 on the OK line, 0 on EOF, -1 on timeout. */
static int read_line(int fd, char *line, size_t cap, double deadline)
{
    size_t len = 0, start = 0; /* start: where the current line begins */
    line[0] = '\0';
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000.0) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 ? -1 : 0;
        char c[512];
        ssize_t got = read(fd, c, sizeof c);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        for (ssize_t i = 0; i < got; i++) {
            if (len + 1 < cap)
                line[len++] = c[i];
            line[len] = '\0';
            if (c[i] != '\n')
                continue;
            if (strncmp(line + start, "OK ", 3) == 0) { /* after any warnings Python printed */
                memmove(line, line + start, len - start + 1);
                return 1;
            }
            start = len;
        }
    }
}

/* The last non-empty line of text, trimmed, in place. */
static const char *last_line(char *text)
{
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

/* Starts a tracker for `size` ranks on host; fills t. */
static int tracker_start(tracker *t, int size, const char *host, double timeout)
{
    const char *py = getenv("HF_RABIT_PYTHON");
    if (!py || !*py)
        py = HF_RABIT_DEFAULT_PYTHON;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
        }
        return hf_error(HF_EIO, "xgboost: the Rabit tracker's pipes: %s", strerror(e));
    }
    char n_text[32], timeout_text[32];
    snprintf(n_text, sizeof n_text, "%d", size);
    snprintf(timeout_text, sizeof timeout_text, "%g", timeout);
    char *argv[] = {(char *)py,   "-c", (char *)k_tracker_py, (char *)host, n_text,
                    timeout_text, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, py, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        return hf_error(HF_EINVAL,
                        "xgboost: cannot start the Rabit tracker: %s: %s (HF_RABIT_PYTHON names "
                        "the Python with python3-xgboost)",
                        py, strerror(rc));
    }
    *t = (tracker){.size = size, .pid = pid, .in_fd = in[1]};
    snprintf(t->host, sizeof t->host, "%s", host);
    char line[4096];
    double startup = timeout < 60.0 ? timeout : 60.0;
    int got = read_line(out[0], line, sizeof line, now_s() + startup);
    close(out[0]);
    int port = 0;
    if (got == 1 && sscanf(line, "OK %d", &port) == 1 && port > 0 && port < 65536) {
        t->port = port;
        return HF_OK;
    }
    tracker_stop(t);
    if (got < 0)
        return hf_error(HF_ENET, "xgboost: the Rabit tracker (%s) did not start within %g s", py,
                        startup);
    return hf_error(HF_EINVAL, "xgboost: the Rabit tracker (%s) on %s did not start: %s", py, host,
                    line[0] ? last_line(line) : "it exited without a word");
}

/* Leader: this comm's running tracker, or a new one. */
static int leader_tracker(hf_comm *comm, int same_host, double timeout, char *host, int *port)
{
    int size = hf_comm_size(comm), result = HF_OK;
    pthread_mutex_lock(&g_mu);
    tracker **at = &g_trackers;
    while (*at && (*at)->comm != comm)
        at = &(*at)->next;
    tracker *t = *at;
    if (t && (t->size != size || !tracker_alive(t))) {
        *at = t->next;
        tracker_stop(t);
        free(t);
        t = NULL;
    }
    if (!t) {
        char addr[HF_RABIT_HOST_MAX];
        t = hf_calloc(1, sizeof *t);
        if (!t)
            result = HF_ENOMEM;
        if (result == HF_OK)
            result = tracker_host(same_host, addr, sizeof addr);
        if (result == HF_OK)
            result = tracker_start(t, size, addr, timeout);
        if (result == HF_OK) {
            t->comm = comm;
            t->next = g_trackers;
            g_trackers = t;
        } else {
            free(t);
            t = NULL;
        }
    }
    if (t) {
        snprintf(host, HF_RABIT_HOST_MAX, "%s", t->host);
        *port = t->port;
    }
    pthread_mutex_unlock(&g_mu);
    return result;
}

void hf_rabit_release(hf_comm *comm)
{
    pthread_mutex_lock(&g_mu);
    tracker **at = &g_trackers;
    while (*at && (*at)->comm != comm)
        at = &(*at)->next;
    tracker *t = *at;
    if (t) {
        *at = t->next;
        tracker_stop(t);
        free(t);
    }
    pthread_mutex_unlock(&g_mu);
}

/* 1 if every rank of comm has this rank's hostname. Collective. */
static int same_hostname(hf_comm *comm, int *same)
{
    char name[HF_RABIT_HOST_MAX] = "";
    if (gethostname(name, sizeof name - 1) != 0)
        snprintf(name, sizeof name, "?");
    char *all = NULL;
    size_t *lens = NULL;
    HF_CALL(hf_comm_allgather_blob(comm, name, strlen(name) + 1, &all, &lens));
    *same = 1;
    size_t off = 0;
    for (int r = 0; r < hf_comm_size(comm); r++) {
        if (lens[r] != strlen(name) + 1 || memcmp(all + off, name, lens[r]) != 0)
            *same = 0;
        off += lens[r];
    }
    free(all);
    free(lens);
    return HF_OK;
}

const char *hf_rabit_last_error(void)
{
    static _Thread_local char buf[1024];
    snprintf(buf, sizeof buf, "%s", XGBGetLastError());
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

/* libxgboost's console lines (Rabit says "task 00000001 got new rank 1" on every join, whatever
 * the verbosity) go to hyperfold's debug log instead of stderr. */
static void xgb_log(const char *msg)
{
    hf_debug("xgboost: %s", msg);
}

/* The join's watchdog. libxgboost 1.7.4's join (XGCommunicatorInit: Rabit's ConnectTracker and
 * ReConnectLinks) waits in a blocking recv() from the tracker and a blocking accept() of its peers'
 * links with no timeout of its own: a rank whose join failed half-way (its link to a peer broke,
 * tests/mpi/test_xgb_net_fail.sh) left its peers there forever, while it waited for them in the
 * group's agreement. So the joining thread is watched: after `timeout` seconds (HF_RABIT_TIMEOUT;
 * every rank enters the join together, after the broadcast of the tracker's address) the watchdog
 * interrupts its system call with JOIN_SIGNAL, whose handler does nothing and is installed without
 * SA_RESTART, so that the call fails with EINTR and Rabit gives up (it does not retry on EINTR);
 * again every 0.1 s until the join returns. SIGURG: ignored by default, and never used by
 * hyperfold or Open MPI; the previous action is restored after the join. */
#define JOIN_SIGNAL SIGURG

typedef struct join_watch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, fired;
    double timeout;
    pthread_t target;
} join_watch;

static void join_wake(int sig)
{
    (void)sig;
}

static void *watch_join(void *arg)
{
    join_watch *w = arg;
    struct timespec until;
    hf_deadline_in(&until, w->timeout);
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT && !w->done) {
            w->fired = 1;
            pthread_kill(w->target, JOIN_SIGNAL);
            hf_deadline_in(&until, 0.1);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Joins libxgboost's Rabit communicator at the tracker; *joined = 1 once it did, *waited = 1 when
 * it failed after the watchdog interrupted it. */
static int join(const char *host, int port, int rank, int size, double timeout, int *joined,
                int *waited)
{
    char config[HF_RABIT_HOST_MAX + 512];
    *joined = 0;
    XGBRegisterLogCallback(xgb_log); /* per thread in libxgboost: the training thread's */
    /* Strings only: libxgboost passes each entry to Rabit as name=value. */
    snprintf(config, sizeof config,
             "{\"rabit_tracker_uri\": \"%s\", "
             "\"rabit_tracker_port\": \"%d\", \"rabit_task_id\": \"%08d\", "
             "\"rabit_world_size\": \"%d\", \"rabit_timeout\": \"1\", "
             "\"rabit_timeout_sec\": \"%.0f\", \"rabit_enable_tcp_no_delay\": \"1\", "
             "\"DMLC_WORKER_CONNECT_RETRY\": \"3\"}",
             host, port, rank, size, timeout < 1 ? 1.0 : timeout);
    join_watch w = {.mu = PTHREAD_MUTEX_INITIALIZER,
                    .cv = PTHREAD_COND_INITIALIZER,
                    .timeout = timeout,
                    .target = pthread_self()};
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = join_wake; /* no SA_RESTART: the blocked call fails with EINTR */
    sigemptyset(&sa.sa_mask);
    int watched = sigaction(JOIN_SIGNAL, &sa, &old) == 0;
    pthread_t watcher;
    if (watched && pthread_create(&watcher, NULL, watch_join, &w) != 0) {
        sigaction(JOIN_SIGNAL, &old, NULL);
        watched = 0; /* joins unwatched, as before */
    }
    int rc = XGCommunicatorInit(config);
    if (watched) {
        pthread_mutex_lock(&w.mu);
        w.done = 1;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(watcher, NULL);
        sigaction(JOIN_SIGNAL, &old, NULL);
    }
    *waited = rc != 0 && w.fired;
    if (*waited)
        return hf_error(HF_ENET,
                        "xgboost: joining the group's Rabit tracker at %s:%d: no answer from the "
                        "tracker or a peer within %.0f s (HF_RABIT_TIMEOUT): %s",
                        host, port, timeout, hf_rabit_last_error());
    if (rc != 0)
        return hf_error(HF_ENET, "xgboost: joining the group's Rabit tracker at %s:%d: %s", host,
                        port, hf_rabit_last_error());
    *joined = 1;
    int r = XGCommunicatorGetRank(), s = XGCommunicatorGetWorldSize();
    if (r != rank || s != size)
        return hf_error(HF_EINTERNAL,
                        "xgboost: Rabit gave group rank %d of %d the rank %d of %d (expected the "
                        "group's rank and size)",
                        rank, size, r, s);
    return HF_OK;
}

int hf_rabit_begin(hf_comm *comm)
{
    int size = hf_comm_size(comm), rank = hf_comm_rank(comm);
    if (size <= 1)
        return HF_OK;
    double timeout = env_timeout();
    int same = 1;
    HF_CALL(same_hostname(comm, &same));
    struct {
        char host[HF_RABIT_HOST_MAX];
        int port;
    } addr;
    memset(&addr, 0, sizeof addr);
    int result = HF_OK;
    if (rank == 0)
        result = leader_tracker(comm, same, timeout, addr.host, &addr.port);
    HF_CALL(hf_comm_check(comm, result));
    HF_CALL(hf_comm_bcast(comm, &addr, sizeof addr, 0));
    int joined = 0, waited = 0;
    result = join(addr.host, addr.port, rank, size, timeout, &joined, &waited);
    /* A rank whose join was interrupted after the timeout most likely waited for one that failed:
     * that one's cause wins. */
    result = hf_comm_check_cause(comm, result, waited);
    if (result < 0) {
        if (joined)
            XGCommunicatorFinalize();
        if (rank == 0)
            hf_rabit_release(comm); /* the next run starts a fresh tracker */
    }
    return result;
}

int hf_rabit_end(hf_comm *comm)
{
    if (hf_comm_size(comm) <= 1)
        return HF_OK;
    if (XGCommunicatorFinalize() != 0)
        return hf_error(HF_ENET, "xgboost: leaving the group's Rabit communicator: %s",
                        hf_rabit_last_error());
    return HF_OK;
}
