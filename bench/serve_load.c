/* serve_load.c - the load generator of bench/serve.sh: C clients that POST one body again and
 * again to 127.0.0.1:PORT/invocations, one blocking TCP connection per client thread, kept alive
 * unless the server closes it (gunicorn's sync workers do: then it reconnects, and the connect is
 * part of that request's latency). With the optional last argument `close` every request says
 * `Connection: close`, so that each one opens its own connection, whatever the server's keep-alive
 * (the same client behaviour for both servers of bench/serve.sh). Prints one line: requests/s,
 * p50 and p99 in microseconds, requests answered, errors, and the client's own CPU time per
 * request in microseconds (user + system, getrusage: what the client takes from the cores it
 * shares with the server).
 *
 * usage: serve_load PORT BODY_FILE CONCURRENCY MAX_REQUESTS MAX_SECONDS [close]
 * Built by bench/serve.sh with cc -O2 -pthread. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_port;
static char *g_req;
static size_t g_req_len;
static long g_max;
static double g_deadline;
static long g_next; /* requests handed out (atomic) */
static long g_errors;
static int g_close; /* close the connection after each response */

typedef struct {
    double *lat;
    size_t n;
} thr;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends the request and reads one response; returns 1 if the connection stays open, 0 if the
 * server closes it, -1 on an error (or a status other than 200). The end of the headers is looked
 * for only in the bytes each recv adds (and the 3 before them), and the headers are scanned once
 * for Content-Length and Connection; the body is read to its declared length. */
static int one(int fd, char *buf, size_t cap)
{
    size_t off = 0;
    while (off < g_req_len) {
        ssize_t w = send(fd, g_req + off, g_req_len - off, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0)
            return -1;
        size_t from = got > 3 ? got - 3 : 0;
        got += (size_t)r;
        end = memmem(buf + from, got - from, "\r\n\r\n", 4);
        if (!end && got + 1 >= cap)
            return -1;
    }
    int ok =
        got >= 12 && (memcmp(buf, "HTTP/1.1 200", 12) == 0 || memcmp(buf, "HTTP/1.0 200", 12) == 0);
    *end = '\0';
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    int closes = strcasestr(buf, "\r\nconnection: close") != NULL;
    if (!cl)
        return -1; /* both servers send Content-Length: without it completeness is unknown */
    size_t body = strtoul(cl + 17, NULL, 10);
    size_t have = got - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t r = recv(fd, buf, cap - 1, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    if (!ok || have != body)
        return -1; /* not 200, or more bytes than the response holds (nothing is pipelined) */
    return closes ? 0 : 1;
}

static void *run(void *arg)
{
    thr *t = arg;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    int fd = -1;
    t->lat = malloc((size_t)g_max * sizeof *t->lat);
    /* One clock read per request: a request's end is the next one's start (and the deadline's
     * check). */
    double t0 = now();
    while (__atomic_fetch_add(&g_next, 1, __ATOMIC_RELAXED) < g_max && t0 < g_deadline) {
        if (fd < 0)
            fd = dial();
        int r = fd < 0 ? -1 : one(fd, buf, cap);
        if ((r <= 0 || g_close) && fd >= 0) {
            close(fd);
            fd = -1;
        }
        double t1 = now();
        if (r < 0)
            __atomic_fetch_add(&g_errors, 1, __ATOMIC_RELAXED);
        else
            t->lat[t->n++] = t1 - t0;
        t0 = t1;
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int close_each = argc == 7 && strcmp(argv[6], "close") == 0;
    g_close = close_each;
    if (argc != 6 && !close_each) {
        fprintf(stderr,
                "usage: serve_load PORT BODY_FILE CONCURRENCY MAX_REQUESTS MAX_SECONDS [close]\n");
        return 2;
    }
    g_port = atoi(argv[1]);
    FILE *fp = fopen(argv[2], "rb");
    if (!fp) {
        perror(argv[2]);
        return 2;
    }
    fseek(fp, 0, SEEK_END);
    long blen = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *body = malloc((size_t)blen + 1);
    if (fread(body, 1, (size_t)blen, fp) != (size_t)blen)
        return 2;
    fclose(fp);
    int conc = atoi(argv[3]);
    g_max = atol(argv[4]);
    double secs = atof(argv[5]);
    g_req = malloc((size_t)blen + 512);
    int h = sprintf(g_req,
                    "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                    "Accept: text/csv\r\n%sContent-Length: %ld\r\n\r\n",
                    close_each ? "Connection: close\r\n" : "", blen);
    memcpy(g_req + h, body, (size_t)blen);
    g_req_len = (size_t)h + (size_t)blen;
    pthread_t *tid = calloc((size_t)conc, sizeof *tid);
    thr *ts = calloc((size_t)conc, sizeof *ts);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = now();
    g_deadline = t0 + secs;
    for (int i = 0; i < conc; i++)
        pthread_create(&tid[i], NULL, run, &ts[i]);
    for (int i = 0; i < conc; i++)
        pthread_join(tid[i], NULL);
    double el = now() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                          ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                          ru0.ru_stime.tv_usec) *
                     1e-6;
    size_t n = 0;
    for (int i = 0; i < conc; i++)
        n += ts[i].n;
    double *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < conc; i++)
        for (size_t j = 0; j < ts[i].n; j++)
            all[k++] = ts[i].lat[j];
    qsort(all, n, sizeof *all, cmp);
    double p50 = n ? all[n / 2] : 0, p99 = n ? all[(size_t)((double)(n - 1) * 0.99)] : 0;
    printf("%.1f %.1f %.1f %zu %ld %.1f\n", (double)n / el, p50 * 1e6, p99 * 1e6, n, g_errors,
           n ? cpu * 1e6 / (double)n : 0.0);
    return 0;
}
