/* fuzz_util.c - helpers shared by the harnesses (see fuzz_util.h). */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include "common/hf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_scratch[256];
static char g_path[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_scratch(void)
{
    if (g_scratch[0])
        nftw(g_scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void hf_fuzz_init(void)
{
    if (g_scratch[0])
        return;
    hf_log_set_level(HF_LOG_QUIET);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const char *base = getenv("HF_FUZZ_TMP");
    struct stat st;
    if (!base || !*base)
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(g_scratch, sizeof g_scratch, "%s/hf-fuzz.%ld", base, (long)getpid());
    if (mkdir(g_scratch, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "hf_fuzz_init: cannot create %s: %s\n", g_scratch, strerror(errno));
        abort();
    }
    atexit(remove_scratch);
}

const char *hf_fuzz_scratch_dir(void)
{
    return g_scratch;
}

void hf_fuzz_check_at(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\n==== hyperfold fuzz finding at %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

void hf_fuzz_check_status(int rc, const char *what)
{
    const char *msg = hf_error_message();
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("HF_FUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "fuzz: %s: %d %s\n", what, rc, msg);
    if (rc < 0) {
        hf_fuzz_check(hf_error_code() != HF_OK && msg[0] != '\0',
                      "%s returned %d without recording a message", what, rc);
        hf_fuzz_check(strchr(msg, '\n') == NULL, "%s: message is not one line: %s", what, msg);
    } else {
        hf_fuzz_check(hf_error_code() == HF_OK,
                      "%s returned %d but left a pending error message: %s", what, rc, msg);
    }
    hf_error_clear();
}

char *hf_fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

const char *hf_fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    snprintf(g_path, sizeof g_path, "%s/%s", g_scratch, name);
    int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "hf_fuzz_write_file: %s: %s\n", g_path, strerror(errno));
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "hf_fuzz_write_file: %s: %s\n", g_path, strerror(errno));
            abort();
        }
        done += (size_t)n;
    }
    close(fd);
    return g_path;
}

uint8_t hf_fuzz_u8(hf_fuzz_input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

uint32_t hf_fuzz_u32(hf_fuzz_input *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)hf_fuzz_u8(in) << (8 * i);
    return v;
}

uint64_t hf_fuzz_u64(hf_fuzz_input *in)
{
    uint64_t lo = hf_fuzz_u32(in);
    return lo | (uint64_t)hf_fuzz_u32(in) << 32;
}

uint64_t hf_fuzz_below(hf_fuzz_input *in, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t v = n <= 256 ? hf_fuzz_u8(in) : n <= (1ull << 32) ? hf_fuzz_u32(in) : hf_fuzz_u64(in);
    return v % n;
}

char *hf_fuzz_str(hf_fuzz_input *in, size_t max)
{
    size_t n = (size_t)hf_fuzz_below(in, max + 1);
    if (n > in->left)
        n = in->left;
    char *s = hf_fuzz_strndup(in->p, n);
    in->p += n;
    in->left -= n;
    return s;
}
