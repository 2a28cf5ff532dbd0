/* fuzz_etl.c - the etl step's archive reading and member checks (shards/etl.c hf_etl_scan and
 * hf_etl_check_member) over archive bytes an attacker controls (a zip, tar, tar.gz, .gz or plain
 * file from a web site or a bucket).
 *
 * Input: byte 0 chooses the options (bit 0: --include "*.csv"; bit 1: max_ratio 2 instead of
 * 200), the rest is the archive. Checks, besides memory safety and UB:
 *  - the hf.h error convention;
 *  - every member the scan accepts is safe to write under a destination: a non-empty relative
 *    path, no ".." / "." / empty segment, no '\', no control character, not the manifest's name;
 *    its normal form is a fixed point of hf_etl_check_member; no two members share a path, and
 *    none is the directory of another ("a" and "a/b");
 *  - the limits hold on what was accepted: each member and all of them within max_bytes, all of
 *    them within max_ratio times the archive's size (at least 64 KiB);
 *  - an --include scan accepts exactly the members of the full scan that match the glob;
 *  - hf_etl_check_member on the input's first line as a name: an accepted name has the same
 *    properties. */
#include "fuzz_util.h"

#include "common/hf.h"
#include "shards/etl.h"
#include "shards/source.h"

#include <archive_entry.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    hf_fuzz_init();
    return 0;
}

static void check_path(const char *p, const char *what)
{
    hf_fuzz_check(p && *p && p[0] != '/', "%s: empty or absolute member path", what);
    hf_fuzz_check(!strchr(p, '\\'), "%s: member path \"%s\" has a backslash", what, p);
    for (const unsigned char *c = (const unsigned char *)p; *c; c++)
        hf_fuzz_check(*c >= 0x20 && *c != 0x7F, "%s: control byte in a member path", what);
    const char *s = p;
    for (;;) {
        size_t n = strcspn(s, "/");
        hf_fuzz_check(n > 0 && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.'),
                      "%s: member path \"%s\" has an empty, '.' or '..' segment", what, p);
        if (!s[n])
            break;
        s += n + 1;
    }
    hf_fuzz_check(strcmp(p, "_manifest.json") != 0, "%s: the manifest's name accepted", what);
    char *again = NULL;
    int rc = hf_etl_check_member("fuzz", p, AE_IFREG, 0, &again);
    hf_fuzz_check(rc == HF_OK && again && !strcmp(again, p), "%s: \"%s\" is not a fixed point",
                  what, p);
    free(again);
    hf_error_clear();
}

static int scan(const uint8_t *data, size_t size, const hf_etl_opts *o, hf_etl_member **m,
                size_t *n)
{
    hf_source *src = NULL;
    int rc = hf_source_open_memory(data, size, "fuzz.bin", &src);
    hf_fuzz_check_status(rc, "hf_source_open_memory");
    if (rc < 0)
        return rc;
    rc = hf_etl_scan(src, "fuzz.bin", "fuzz", o, m, n);
    hf_fuzz_check_status(rc, "hf_etl_scan");
    hf_source_close(src);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    hf_etl_opts o;
    hf_etl_opts_init(&o);
    o.max_bytes = 32u << 20; /* bounded work per input */
    o.max_ratio = (mode & 2) ? 2 : 200;
    hf_etl_member *m = NULL, *mi = NULL;
    size_t n = 0, ni = 0;
    int rc = scan(data, size, &o, &m, &n);
    if (rc == HF_OK) {
        uint64_t total = 0;
        for (size_t i = 0; i < n; i++) {
            check_path(m[i].path, "scan");
            hf_fuzz_check(m[i].size <= o.max_bytes, "member over max_bytes");
            hf_fuzz_check(strlen(m[i].sha256) == 64 && strlen(m[i].md5) == 32, "digest length");
            for (size_t j = 0; j < i; j++) {
                hf_fuzz_check(strcmp(m[i].path, m[j].path) != 0, "two members \"%s\"", m[i].path);
                /* Neither is the other's directory ("a" and "a/b"). */
                size_t li = strlen(m[i].path), lj = strlen(m[j].path);
                const char *lo = li < lj ? m[i].path : m[j].path,
                           *hi = li < lj ? m[j].path : m[i].path;
                size_t ll = li < lj ? li : lj;
                hf_fuzz_check(!(li != lj && !strncmp(lo, hi, ll) && hi[ll] == '/'),
                              "member \"%s\" is also the directory of \"%s\"", lo, hi);
            }
            total += m[i].size;
        }
        double floor_a = size < 65536 ? 65536.0 : (double)size;
        hf_fuzz_check(total <= o.max_bytes && (double)total <= o.max_ratio * floor_a,
                      "members total %llu bytes from %zu: over the limits",
                      (unsigned long long)total, size);
        if (mode & 1) {
            char *glob = "*.csv";
            o.include = &glob;
            o.n_include = 1;
            rc = scan(data, size, &o, &mi, &ni);
            size_t want = 0;
            for (size_t i = 0; i < n; i++)
                want += fnmatch(glob, m[i].path, 0) == 0;
            if (want == 0) {
                hf_fuzz_check(rc == HF_EINVAL, "an --include matching nothing accepted");
            } else {
                hf_fuzz_check(rc == HF_OK && ni == want, "--include kept %zu of %zu matching", ni,
                              want);
                for (size_t i = 0, k = 0; i < n && k < ni; i++)
                    if (fnmatch(glob, m[i].path, 0) == 0) {
                        hf_fuzz_check(!strcmp(m[i].path, mi[k].path) &&
                                          !strcmp(m[i].sha256, mi[k].sha256),
                                      "--include member %zu differs", k);
                        k++;
                    }
            }
        }
    }
    /* The input's first line as a member name. */
    size_t len = 0;
    while (len < size && data[len] != '\n' && len < 4096)
        len++;
    char *name = hf_fuzz_strndup(data, len);
    char *norm = NULL;
    rc = hf_etl_check_member("fuzz", name, (mode & 4) ? AE_IFDIR : AE_IFREG, 0, &norm);
    hf_fuzz_check_status(rc, "hf_etl_check_member");
    if (rc == HF_OK && norm)
        check_path(norm, "check_member");
    free(norm);
    free(name);
    hf_etl_members_free(m, n);
    hf_etl_members_free(mi, ni);
    return 0;
}
