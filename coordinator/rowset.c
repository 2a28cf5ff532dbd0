/* rowset.c - content hashes of training rows and their file (see rowset.h). */
#include "coordinator/rowset.h"
#include "common/fsutil.h"
#include "common/hf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char k_magic[8] = {'H', 'F', 'R', 'O', 'W', 'S', '1', '\n'};

/* splitmix64's finaliser: a bijection that spreads every input bit over the output. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t value_bits(double v)
{
    uint64_t b;
    if (isnan(v))
        return 0x7ff8000000000000ull;
    if (v == 0.0)
        v = 0.0; /* -0 and 0 are one value */
    memcpy(&b, &v, sizeof b);
    return b;
}

void hf_rowset_hash(const hf_dataset *d, const int64_t *rows, size_t n, uint64_t *out)
{
    const size_t p = d->schema->n_features;
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? (size_t)rows[i] : i;
        const double *x = d->X + r * p;
        uint64_t h = 0x6a09e667f3bcc908ull ^ (uint64_t)p;
        for (size_t j = 0; j < p; j++)
            h = mix(h ^ value_bits(x[j])) + 0x9e3779b97f4a7c15ull;
        out[i] = mix(h ^ value_bits(d->y[r]) ^ 0xa5a5a5a5a5a5a5a5ull);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

int hf_rowset_write(const char *path, uint64_t *hashes, size_t n)
{
    qsort(hashes, n, sizeof *hashes, cmp_u64);
    size_t len = 16 + 8 * n;
    unsigned char *buf = hf_malloc(len);
    if (!buf)
        return HF_ENOMEM;
    memcpy(buf, k_magic, 8);
    put_le64(buf + 8, (uint64_t)n);
    for (size_t i = 0; i < n; i++)
        put_le64(buf + 16 + 8 * i, hashes[i]);
    int result = hf_fs_write_atomic(path, buf, len);
    free(buf);
    return result;
}

int hf_rowset_read(const char *path, uint64_t **hashes, size_t *n)
{
    char *text = NULL;
    size_t len = 0;
    *hashes = NULL;
    *n = 0;
    int result = hf_fs_read_file(path, &text, &len);
    if (result < 0)
        return result;
    const unsigned char *b = (const unsigned char *)text;
    uint64_t count = len >= 16 ? get_le64(b + 8) : 0;
    if (len < 16 || memcmp(b, k_magic, 8) != 0 || count != (len - 16) / 8 || (len - 16) % 8) {
        result = hf_error(HF_EINVAL,
                          "%s: not a training-rows file (expected %zu bytes for its "
                          "count, got %zu)",
                          path, len >= 16 ? (size_t)(16 + 8 * count) : (size_t)16, len);
        goto out;
    }
    uint64_t *h = hf_malloc((count ? count : 1) * sizeof *h);
    if (!h) {
        result = HF_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        h[i] = get_le64(b + 16 + 8 * i);
        if (i > 0 && h[i] < h[i - 1]) {
            free(h);
            result =
                hf_error(HF_EINVAL, "%s: the training-row hashes are not sorted (at %zu)", path, i);
            goto out;
        }
    }
    *hashes = h;
    *n = (size_t)count;
out:
    free(text);
    return result;
}

int hf_rowset_contains(const uint64_t *hashes, size_t n, uint64_t h)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hashes[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && hashes[lo] == h;
}
