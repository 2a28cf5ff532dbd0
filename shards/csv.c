/* csv.c - RFC 4180 record reader, field splitter, number parser and the byte streams under them.
 *
 * The parser is our own code: no Debian library parses RFC 4180 from an arbitrary byte offset with
 * an externally supplied quote state, which is what the parallel range split needs (each rank
 * starts in the middle of the file knowing only the quote parity before its range). */
#include "shards/csv.h"
#include "common/hf.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define READ_BLOCK ((size_t)8 << 20)

/* ---- streams ---------------------------------------------------------------------------- */

typedef struct src_stream {
    hf_source *src;
    uint64_t off;
} src_stream;

static int src_read(void *ctx, char *buf, size_t len, size_t *got)
{
    src_stream *s = ctx;
    int result = hf_source_read_at(s->src, s->off, buf, len, got);
    if (result == HF_OK)
        s->off += *got;
    return result;
}

int hf_csv_stream_source(hf_source *src, uint64_t offset, hf_csv_stream *out)
{
    src_stream *s = hf_calloc(1, sizeof *s);
    memset(out, 0, sizeof *out);
    if (!s)
        return HF_ENOMEM;
    s->src = src;
    s->off = offset;
    out->read = src_read;
    out->close = free;
    out->ctx = s;
    return HF_OK;
}

typedef struct gz_stream {
    hf_source *src;
    uint64_t off;
    z_stream z;
    int z_ready;
    int src_eof;
    int finished;
    unsigned char *in;
} gz_stream;

static void gz_close(void *ctx)
{
    gz_stream *g = ctx;
    if (g->z_ready)
        inflateEnd(&g->z);
    free(g->in);
    free(g);
}

/* The next compressed block into the inflater's input; src_eof once the source is done. */
static int gz_refill(gz_stream *g)
{
    size_t n = 0;
    HF_CALL(hf_source_read_at(g->src, g->off, g->in, READ_BLOCK, &n));
    g->off += n;
    g->z.next_in = g->in;
    g->z.avail_in = (uInt)n;
    if (n == 0)
        g->src_eof = 1;
    return HF_OK;
}

static int gz_read(void *ctx, char *buf, size_t len, size_t *got)
{
    gz_stream *g = ctx;
    *got = 0;
    if (g->finished)
        return HF_OK;
    g->z.next_out = (unsigned char *)buf;
    g->z.avail_out = (uInt)(len > (1u << 30) ? (1u << 30) : len);
    while (g->z.avail_out > 0) {
        if (g->z.avail_in == 0 && !g->src_eof)
            HF_CALL(gz_refill(g));
        int zr = inflate(&g->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            /* Another gzip member may follow (concatenated .gz files are valid). */
            if (g->z.avail_in == 0 && g->src_eof) {
                g->finished = 1;
                break;
            }
            if (g->z.avail_in == 0) {
                HF_CALL(gz_refill(g));
                if (g->src_eof) {
                    g->finished = 1;
                    break;
                }
            }
            inflateReset(&g->z);
            continue;
        }
        if (zr == Z_BUF_ERROR && g->src_eof && g->z.avail_in == 0)
            return hf_error(HF_EDATA,
                            "%s: got a truncated gzip stream, expected complete gzip data",
                            g->src->uri);
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return hf_error(HF_EDATA, "%s: got corrupt gzip data (%s), expected a gzip file",
                            g->src->uri, g->z.msg ? g->z.msg : "inflate failed");
    }
    *got = (size_t)((char *)g->z.next_out - buf);
    return HF_OK;
}

int hf_csv_stream_gzip(hf_source *src, hf_csv_stream *out)
{
    int result = HF_OK;
    gz_stream *g = hf_calloc(1, sizeof *g);
    memset(out, 0, sizeof *out);
    if (!g)
        return HF_ENOMEM;
    g->src = src;
    g->in = hf_malloc(READ_BLOCK);
    if (!g->in) {
        result = HF_ENOMEM;
        goto out;
    }
    if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        result = hf_error(HF_ENOMEM, "%s: initialising zlib", src->uri);
        goto out;
    }
    g->z_ready = 1;
    out->read = gz_read;
    out->close = gz_close;
    out->ctx = g;
out:
    if (result < 0)
        gz_close(g);
    return result;
}

typedef struct zip_stream {
    hf_source *src;
    uint64_t off;
    struct archive *a;
    char *buf;
} zip_stream;

static la_ssize_t zip_cb_read(struct archive *a, void *ctx, const void **out)
{
    zip_stream *z = ctx;
    size_t got = 0;
    if (hf_source_read_at(z->src, z->off, z->buf, READ_BLOCK, &got) < 0) {
        archive_set_error(a, EIO, "%s", hf_error_message());
        return -1;
    }
    z->off += got;
    *out = z->buf;
    return (la_ssize_t)got;
}

static la_int64_t zip_cb_skip(struct archive *a, void *ctx, la_int64_t request)
{
    (void)a;
    zip_stream *z = ctx;
    uint64_t left = z->src->size > z->off ? z->src->size - z->off : 0;
    if ((uint64_t)request > left)
        request = (la_int64_t)left;
    z->off += (uint64_t)request;
    return request;
}

static void zip_close(void *ctx)
{
    zip_stream *z = ctx;
    if (z->a)
        archive_read_free(z->a);
    free(z->buf);
    free(z);
}

static int zip_open(hf_source *src, zip_stream **out)
{
    int result = HF_OK;
    zip_stream *z = hf_calloc(1, sizeof *z);
    *out = NULL;
    if (!z)
        return HF_ENOMEM;
    z->src = src;
    z->buf = hf_malloc(READ_BLOCK);
    z->a = archive_read_new();
    if (!z->buf || !z->a) {
        result = hf_error(HF_ENOMEM, "%s: creating a zip reader", src->uri);
        goto out;
    }
    archive_read_support_format_zip(z->a);
    archive_read_set_read_callback(z->a, zip_cb_read);
    archive_read_set_skip_callback(z->a, zip_cb_skip);
    archive_read_set_callback_data(z->a, z);
    if (archive_read_open1(z->a) != ARCHIVE_OK) {
        result = hf_error(HF_EDATA, "%s: got an unreadable zip archive (%s), expected a zip file",
                          src->uri, archive_error_string(z->a));
        goto out;
    }
    *out = z;
out:
    if (result < 0)
        zip_close(z);
    return result;
}

static int ends_with_csv(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcmp(name + n - 4, ".csv") == 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int hf_csv_zip_entries(hf_source *src, char ***names, size_t *n)
{
    int result = HF_OK;
    zip_stream *z = NULL;
    char **v = NULL;
    size_t count = 0, cap = 0;
    struct archive_entry *e;
    *names = NULL;
    *n = 0;
    result = zip_open(src, &z);
    if (result < 0)
        goto out;
    for (;;) {
        int ar = archive_read_next_header(z->a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
            result = hf_error(HF_EDATA, "%s: got a corrupt zip archive (%s), expected a zip file",
                              src->uri, archive_error_string(z->a));
            goto out;
        }
        const char *name = archive_entry_pathname(e);
        if (archive_entry_filetype(e) == AE_IFREG && name && ends_with_csv(name)) {
            result = hf_strv_push(&v, &count, &cap, hf_strdup(name));
            if (result < 0)
                goto out;
        }
        archive_read_data_skip(z->a);
    }
    if (count > 1)
        qsort(v, count, sizeof *v, str_cmp);
out:
    if (z)
        zip_close(z);
    if (result < 0) {
        hf_strv_free(v, count);
        return result;
    }
    *names = v;
    *n = count;
    return result;
}

static int zip_read(void *ctx, char *buf, size_t len, size_t *got)
{
    zip_stream *z = ctx;
    la_ssize_t n = archive_read_data(z->a, buf, len);
    *got = 0;
    if (n < 0)
        return hf_error(HF_EDATA, "%s: got corrupt zip entry data (%s), expected a zip file",
                        z->src->uri, archive_error_string(z->a));
    *got = (size_t)n;
    return HF_OK;
}

int hf_csv_stream_zip_entry(hf_source *src, const char *name, hf_csv_stream *out)
{
    int result = HF_OK;
    zip_stream *z = NULL;
    struct archive_entry *e;
    memset(out, 0, sizeof *out);
    result = zip_open(src, &z);
    if (result < 0)
        goto out;
    for (;;) {
        int ar = archive_read_next_header(z->a, &e);
        if (ar == ARCHIVE_EOF) {
            result = hf_error(HF_EDATA, "%s: zip entry %s not found", src->uri, name);
            goto out;
        }
        if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
            result = hf_error(HF_EDATA, "%s: got a corrupt zip archive (%s), expected a zip file",
                              src->uri, archive_error_string(z->a));
            goto out;
        }
        const char *en = archive_entry_pathname(e);
        if (en && strcmp(en, name) == 0)
            break;
        archive_read_data_skip(z->a);
    }
    out->read = zip_read;
    out->close = zip_close;
    out->ctx = z;
    z = NULL;
out:
    if (z)
        zip_close(z);
    return result;
}

static void hf_csv_stream_close(hf_csv_stream *s)
{
    if (s && s->close && s->ctx)
        s->close(s->ctx);
    if (s)
        memset(s, 0, sizeof *s);
}

/* ---- in-memory buffers -------------------------------------------------------------------- */

#define TAIL_BLOCK ((size_t)4 << 10)

struct hf_csv_buffer {
    hf_source *src;
    const char *data; /* the bytes from pos */
    size_t len;
    uint64_t pos;
    char *owned; /* data when read (not mapped) */
    void *map;   /* the mapping when mapped */
    size_t map_len;
    size_t next_block; /* size of the next tail read */
    int complete;      /* 1: holds every byte up to the end of the source */
};

int hf_csv_buffer_open(hf_source *src, uint64_t begin, uint64_t end, hf_csv_buffer **out)
{
    int result = HF_OK;
    hf_csv_buffer *b = hf_calloc(1, sizeof *b);
    *out = NULL;
    if (!b)
        return HF_ENOMEM;
    b->src = src;
    b->pos = begin;
    b->next_block = TAIL_BLOCK;
    if (begin >= src->size) {
        b->data = "";
        b->complete = 1;
        goto out;
    }
    result = hf_source_map(src, begin, &b->data, &b->len, &b->map, &b->map_len);
    if (result < 0)
        goto out;
    if (result == 1) {
        result = HF_OK;
        b->complete = 1;
        goto out;
    }
    if (end > src->size)
        end = src->size;
    size_t want = end > begin ? (size_t)(end - begin) : 0, got = 0;
    b->owned = hf_calloc(1, want + HF_CSV_PAD);
    if (!b->owned) {
        result = HF_ENOMEM;
        goto out;
    }
    result = hf_source_read_at(src, begin, b->owned, want, &got);
    if (result >= 0 && got < want)
        result = hf_error(HF_EIO,
                          "%s: got %zu bytes at offset %llu, expected %zu (did the source change "
                          "during the ingest?)",
                          src->uri, got, (unsigned long long)begin, want);
    if (result < 0)
        goto out;
    b->data = b->owned;
    b->len = got;
    b->complete = begin + got >= src->size;
out:
    if (result < 0) {
        hf_csv_buffer_free(b);
        return result;
    }
    *out = b;
    return HF_OK;
}

/* Reads the next tail block after the held bytes (blocks of 4 KiB, doubling up to 8 MiB). */
static int buffer_extend(hf_csv_buffer *b)
{
    if (b->complete)
        return HF_OK;
    uint64_t at = b->pos + b->len;
    uint64_t left = b->src->size > at ? b->src->size - at : 0;
    size_t want = left < b->next_block ? (size_t)left : b->next_block;
    if (b->next_block < READ_BLOCK)
        b->next_block *= 2;
    char *nb = hf_realloc(b->owned, b->len + want + HF_CSV_PAD);
    if (!nb)
        return HF_ENOMEM;
    b->owned = nb;
    b->data = nb;
    size_t got = 0;
    int result = hf_source_read_at(b->src, at, nb + b->len, want, &got);
    if (result < 0)
        return result;
    b->len += got;
    memset(nb + b->len, 0, HF_CSV_PAD);
    if (got == 0 || at + got >= b->src->size)
        b->complete = 1;
    return HF_OK;
}

const char *hf_csv_buffer_bytes(const hf_csv_buffer *b, uint64_t *pos, size_t *len)
{
    *pos = b->pos;
    *len = b->len;
    return b->data;
}

void hf_csv_buffer_free(hf_csv_buffer *b)
{
    if (!b)
        return;
    if (b->map)
        munmap(b->map, b->map_len);
    free(b->owned);
    free(b);
}

/* ---- record reader ------------------------------------------------------------------------ */

struct hf_csv_reader {
    hf_csv_stream stream;
    hf_csv_buffer *source; /* buffer mode: the bytes (borrowed), else NULL */
    const char *buf;       /* the bytes: mem (stream mode) or the buffer's */
    char *mem;             /* stream mode: owned read buffer */
    size_t cap, len;       /* stream mode capacity; bytes held */
    uint64_t buf_pos;      /* absolute position of buf[0] */
    size_t cur;            /* index of the next record start */
    int64_t line;          /* line of buf[cur] */
    uint64_t end;
    int eof;
    int done;
};

/* Makes more bytes available after buf[len); keeps buf[cur..len) (stream mode moves it to the
 * front, buffer mode keeps every index). Sets eof when the bytes are exhausted. */
static int reader_fill(hf_csv_reader *r)
{
    if (r->source) {
        int result = buffer_extend(r->source);
        if (result < 0)
            return result;
        r->buf = r->source->data;
        r->len = r->source->len;
        r->eof = r->source->complete;
        return HF_OK;
    }
    if (r->cur > 0) {
        memmove(r->mem, r->mem + r->cur, r->len - r->cur);
        r->buf_pos += r->cur;
        r->len -= r->cur;
        r->cur = 0;
    }
    if (r->len == r->cap) {
        size_t nc = r->cap * 2;
        char *nb = hf_realloc(r->mem, nc + HF_CSV_PAD);
        if (!nb)
            return HF_ENOMEM;
        r->mem = nb;
        r->buf = nb;
        r->cap = nc;
    }
    size_t got = 0;
    int result = r->stream.read(r->stream.ctx, r->mem + r->len, r->cap - r->len, &got);
    if (result < 0)
        return result;
    if (got == 0)
        r->eof = 1;
    r->len += got;
    r->mem[r->len] = '\0';
    return HF_OK;
}

/* Scans buf from *i with quote state *q for a '\n' outside quotes; counts newlines inside quotes.
 * Returns 1 with *i at the newline, or 0 with *i == len. */
static int scan_newline(const char *buf, size_t len, size_t *i, int *q, int64_t *inner_nl)
{
    size_t k = *i;
    while (k < len) {
        if (!*q) {
            const char *nl = memchr(buf + k, '\n', len - k);
            size_t lim = nl ? (size_t)(nl - buf) : len;
            const char *qp = memchr(buf + k, '"', lim - k);
            if (!qp) {
                *i = lim;
                return nl != NULL;
            }
            k = (size_t)(qp - buf) + 1;
            *q = 1;
        } else {
            const char *qp = memchr(buf + k, '"', len - k);
            size_t lim = qp ? (size_t)(qp - buf) : len;
            for (const char *p = memchr(buf + k, '\n', lim - k); p;
                 p = memchr(p + 1, '\n', (size_t)(buf + lim - (p + 1))))
                (*inner_nl)++;
            if (!qp) {
                k = len;
                break;
            }
            k = lim + 1;
            *q = 0;
        }
    }
    *i = k;
    return 0;
}

/* Moves the reader to the first record that starts after a '\n' outside quotes found from
 * buf[i] on (quote state q at buf[i]). */
static int seek_first_record(hf_csv_reader *r, size_t i, int q)
{
    int64_t inner = 0;
    for (;;) {
        if (scan_newline(r->buf, r->len, &i, &q, &inner)) {
            r->line += inner + 1;
            r->cur = i + 1;
            return HF_OK;
        }
        if (r->eof) {
            r->done = 1;
            return HF_OK;
        }
        /* Nothing before i is needed. */
        r->line += inner;
        inner = 0;
        r->cur = i;
        int result = reader_fill(r);
        if (result < 0)
            return result;
        i = r->cur;
    }
}

/* Positions a reader whose bytes start at range->begin - 1 (or at begin with from_begin). */
static int reader_start(hf_csv_reader *r, const hf_csv_range *range)
{
    r->end = range->end;
    r->line = range->line;
    if (range->at_record_start)
        return HF_OK;
    if (range->from_begin)
        return seek_first_record(r, 0, range->in_quote);
    /* The bytes start at begin - 1: find the first record that starts at or after begin. */
    while (r->len < 1 && !r->eof) {
        int result = reader_fill(r);
        if (result < 0)
            return result;
    }
    if (r->len < 1) {
        r->done = 1;
        return HF_OK;
    }
    if (r->buf[0] == '\n' && !range->in_quote) {
        r->cur = 1;
        return HF_OK;
    }
    return seek_first_record(r, 1, range->in_quote);
}

int hf_csv_reader_open(hf_csv_stream stream, const hf_csv_range *range, hf_csv_reader **out)
{
    int result = HF_OK;
    hf_csv_reader *r = hf_calloc(1, sizeof *r);
    *out = NULL;
    if (!r) {
        hf_csv_stream_close(&stream);
        return HF_ENOMEM;
    }
    r->stream = stream;
    r->cap = range->block ? range->block : READ_BLOCK;
    if (r->cap < 16)
        r->cap = 16;
    r->mem = hf_calloc(1, r->cap + HF_CSV_PAD);
    r->buf = r->mem;
    if (!r->mem) {
        result = HF_ENOMEM;
        goto out;
    }
    r->buf_pos = range->at_record_start || range->from_begin ? range->begin : range->begin - 1;
    result = reader_start(r, range);
out:
    if (result < 0) {
        hf_csv_reader_free(r);
        return result;
    }
    *out = r;
    return HF_OK;
}

int hf_csv_reader_open_buffer(hf_csv_buffer *b, const hf_csv_range *range, hf_csv_reader **out)
{
    hf_csv_reader *r = hf_calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return HF_ENOMEM;
    r->source = b;
    r->buf = b->data;
    r->len = b->len;
    r->buf_pos = b->pos;
    r->eof = b->complete;
    int result = reader_start(r, range);
    if (result < 0) {
        hf_csv_reader_free(r);
        return result;
    }
    *out = r;
    return HF_OK;
}

int hf_csv_reader_next(hf_csv_reader *r, hf_csv_record *rec)
{
    for (;;) {
        if (r->done || r->buf_pos + r->cur >= r->end)
            return 0;
        size_t i = r->cur;
        int q = 0;
        int64_t inner = 0;
        int found;
        for (;;) {
            found = scan_newline(r->buf, r->len, &i, &q, &inner);
            if (found || r->eof)
                break;
            size_t rel = i - r->cur;
            int result = reader_fill(r);
            if (result < 0)
                return result;
            i = r->cur + rel;
        }
        if (!found && i == r->cur) {
            r->done = 1;
            return 0;
        }
        size_t len = i - r->cur;
        rec->text = r->buf + r->cur;
        rec->pos = r->buf_pos + r->cur;
        rec->line = r->line;
        rec->unterminated = !found && q;
        if (!rec->unterminated && len > 0 && rec->text[len - 1] == '\r')
            len--;
        rec->len = len;
        r->line += inner + (found ? 1 : 0);
        r->cur = found ? i + 1 : i;
        if (!found)
            r->done = 1;
        if (len == 0)
            continue;
        return 1;
    }
}

int hf_csv_reader_peek(hf_csv_reader *r, const char **p, size_t *avail)
{
    if (r->done || r->buf_pos + r->cur >= r->end)
        return 0;
    *p = r->buf + r->cur;
    *avail = r->len - r->cur;
    return 1;
}

void hf_csv_reader_skip_line(hf_csv_reader *r, size_t n)
{
    r->cur += n;
    r->line++;
}

uint64_t hf_csv_reader_pos(const hf_csv_reader *r)
{
    return r->buf_pos + r->cur;
}

int64_t hf_csv_reader_line(const hf_csv_reader *r)
{
    return r->line;
}

void hf_csv_reader_free(hf_csv_reader *r)
{
    if (!r)
        return;
    hf_csv_stream_close(&r->stream);
    free(r->mem);
    free(r);
}

void hf_csv_count(const char *buf, size_t len, int64_t *quotes, int64_t *newlines)
{
    int64_t q = 0, n = 0;
    size_t i = 0;
#if defined(__SSE2__)
    /* Byte-wise counters (a compare gives -1 per match), folded into 64-bit sums with SAD before
     * they can overflow: one pass over the bytes for both characters. */
    const __m128i vq = _mm_set1_epi8('"'), vn = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
    while (i + 16 <= len) {
        __m128i cq = zero, cn = zero;
        size_t stop = len - i >= 255 * 16 ? i + 255 * 16 : i + (len - i) / 16 * 16;
        for (; i < stop; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
            cq = _mm_sub_epi8(cq, _mm_cmpeq_epi8(v, vq));
            cn = _mm_sub_epi8(cn, _mm_cmpeq_epi8(v, vn));
        }
        __m128i sq = _mm_sad_epu8(cq, zero), sn = _mm_sad_epu8(cn, zero);
        q += _mm_cvtsi128_si32(sq) + _mm_cvtsi128_si32(_mm_srli_si128(sq, 8));
        n += _mm_cvtsi128_si32(sn) + _mm_cvtsi128_si32(_mm_srli_si128(sn, 8));
    }
#endif
    for (; i < len; i++) {
        q += buf[i] == '"';
        n += buf[i] == '\n';
    }
    *quotes = q;
    *newlines = n;
}

/* ---- fields ------------------------------------------------------------------------------ */

static int push_field(hf_csv_fields *out, const char *p, size_t len, size_t off, int quoted)
{
    if (out->n == out->cap) {
        size_t nc = out->cap ? 2 * out->cap : 32;
        hf_csv_field *nf = hf_realloc(out->f, nc * sizeof *nf);
        if (!nf)
            return HF_ENOMEM;
        out->f = nf;
        out->cap = nc;
    }
    out->f[out->n++] = (hf_csv_field){p, len, off, quoted};
    return HF_OK;
}

int hf_csv_split(const char *rec, size_t len, char delim, hf_csv_fields *out, const char **reason,
                 size_t *err_off)
{
    out->n = 0;
    *reason = NULL;
    *err_off = 0;
    if (out->scratch_cap < len + 1) {
        size_t nc = out->scratch_cap ? out->scratch_cap : 256;
        while (nc < len + 1)
            nc *= 2;
        char *ns = hf_realloc(out->scratch, nc);
        if (!ns)
            return HF_ENOMEM;
        out->scratch = ns;
        out->scratch_cap = nc;
    }
    size_t sp = 0;
    size_t i = 0;
    int result;
    if (!memchr(rec, '"', len)) {
        /* Fast path: no quotes anywhere. */
        for (;;) {
            const char *d = memchr(rec + i, delim, len - i);
            size_t e = d ? (size_t)(d - rec) : len;
            result = push_field(out, rec + i, e - i, i, 0);
            if (result < 0)
                return result;
            if (!d)
                return HF_OK;
            i = e + 1;
        }
    }
    for (;;) {
        size_t start = i;
        if (i < len && rec[i] == '"') {
            char *dst = out->scratch + sp;
            size_t k = 0;
            i++;
            for (;;) {
                if (i >= len) {
                    *reason = "an unterminated quoted field";
                    *err_off = start;
                    return HF_EDATA;
                }
                if (rec[i] == '"') {
                    if (i + 1 < len && rec[i + 1] == '"') {
                        dst[k++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                dst[k++] = rec[i++];
            }
            if (i < len && rec[i] != delim) {
                *reason = "text after a closing quote";
                *err_off = i;
                return HF_EDATA;
            }
            result = push_field(out, dst, k, start, 1);
            if (result < 0)
                return result;
            sp += k;
        } else {
            while (i < len && rec[i] != delim) {
                if (rec[i] == '"') {
                    *reason = "a quote inside an unquoted field";
                    *err_off = i;
                    return HF_EDATA;
                }
                i++;
            }
            result = push_field(out, rec + start, i - start, start, 0);
            if (result < 0)
                return result;
        }
        if (i >= len)
            return HF_OK;
        i++; /* the delimiter */
        if (i == len) {
            result = push_field(out, rec + len, 0, len, 0);
            return result < 0 ? result : HF_OK;
        }
    }
}

void hf_csv_fields_free(hf_csv_fields *f)
{
    if (!f)
        return;
    free(f->f);
    free(f->scratch);
    memset(f, 0, sizeof *f);
}

char hf_csv_detect_delimiter(const char *header, size_t len)
{
    static const char cands[4] = {',', ';', '\t', '|'};
    size_t counts[4] = {0, 0, 0, 0};
    int q = 0;
    for (size_t i = 0; i < len; i++) {
        char c = header[i];
        if (c == '"') {
            q ^= 1;
            continue;
        }
        if (q)
            continue;
        for (int k = 0; k < 4; k++)
            counts[k] += c == cands[k];
    }
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (counts[k] > counts[best])
            best = k;
    return cands[best];
}

size_t hf_csv_bom_len(const char *buf, size_t len)
{
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF)
        return 3;
    return 0;
}

/* ---- values ------------------------------------------------------------------------------- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int ieq(const char *p, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return 1;
}

/* strtod on a NUL-terminated copy (the rare slow path: > 19 digits or a large exponent). A
 * magnitude above DBL_MAX (1e400, 400 digits) rounds to infinity there: HF_EDATA, *out untouched;
 * one below the smallest subnormal (1e-400) rounds to 0, which is finite and kept. */
static int slow_double(const char *p, size_t len, double *out)
{
    char stack[128];
    char *tmp = stack;
    if (len + 1 > sizeof stack) {
        tmp = malloc(len + 1);
        if (!tmp)
            return 0;
    }
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    int ok = end == tmp + len;
    if (tmp != stack)
        free(tmp);
    if (ok && isinf(v))
        return HF_EDATA;
    if (ok)
        *out = v;
    return ok;
}

int hf_csv_parse_double(const char *p, size_t len, double *out)
{
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 0;
    size_t i = 0;
    int neg = 0;
    if (p[0] == '+' || p[0] == '-') {
        neg = p[0] == '-';
        i++;
    }
    uint64_t m = 0;
    int nd = 0, truncated = 0, any = 0;
    int64_t e10 = 0;
    while (i < len && p[i] >= '0' && p[i] <= '9') {
        int d = p[i] - '0';
        any = 1;
        if (m == 0 && d == 0) {
            /* leading zero */
        } else if (nd < 19) {
            m = m * 10 + (uint64_t)d;
            nd++;
        } else {
            e10++;
            truncated |= d != 0;
        }
        i++;
    }
    if (i < len && p[i] == '.') {
        i++;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            int d = p[i] - '0';
            any = 1;
            if (m == 0 && d == 0) {
                e10--;
            } else if (nd < 19) {
                m = m * 10 + (uint64_t)d;
                nd++;
                e10--;
            } else {
                truncated |= d != 0;
            }
            i++;
        }
    }
    if (!any) {
        /* A word after the sign: inf, infinity (refused: not finite), nan (missing; not after
         * a '.': ".nan" is text). */
        size_t sign = p[0] == '+' || p[0] == '-';
        const char *w = p + sign;
        size_t wl = len - sign;
        if (ieq(w, wl, "inf") || ieq(w, wl, "infinity"))
            return HF_EDATA;
        if (ieq(w, wl, "nan")) {
            *out = NAN;
            return 1;
        }
        return 0;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < len && (p[i] == '+' || p[i] == '-')) {
            eneg = p[i] == '-';
            i++;
        }
        if (i >= len || p[i] < '0' || p[i] > '9')
            return 0;
        int64_t ev = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            if (ev < 100000)
                ev = ev * 10 + (p[i] - '0');
            i++;
        }
        e10 += eneg ? -ev : ev;
    }
    if (i != len)
        return 0;
    double v;
    if (m == 0) {
        v = 0.0;
    } else if (!truncated && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        v = (double)m;
        if (e10 < 0)
            v /= pow10_exact[-e10];
        else
            v *= pow10_exact[e10];
    } else if (!truncated && e10 == 0) {
        v = (double)m; /* u64 -> double conversion is correctly rounded */
    } else {
        return slow_double(p, len, out);
    }
    *out = neg ? -v : v;
    return 1;
}

/* Parses a plain decimal number at s ([+-]digits[.digits][(e|E)[+-]digits], at least one digit)
 * and returns the byte after it, or NULL if s does not start with one. Every loop stops at a
 * byte that is not part of a number, so the NUL after the bytes (HF_CSV_PAD) bounds it. The value
 * is exact: the Clinger fast path, else hf_csv_parse_double on the number's bytes. */
static inline const char *plain_number(const char *s, double *out)
{
    const char *q = s;
    /* Branch-free sign: random signs would mispredict half of the time. */
    uint64_t neg = *q == '-';
    q += *q == '-' || *q == '+';
    uint64_t m = 0;
    const char *d0 = q;
    while ((unsigned)(*q - '0') < 10u) {
        m = m * 10 + (uint64_t)(*q - '0');
        q++;
    }
    size_t nd = (size_t)(q - d0), fd = 0;
    if (*q == '.') {
        const char *f0 = ++q;
        while ((unsigned)(*q - '0') < 10u) {
            m = m * 10 + (uint64_t)(*q - '0');
            q++;
        }
        fd = (size_t)(q - f0);
        nd += fd;
    }
    if (nd == 0)
        return NULL;
    int64_t e10 = -(int64_t)fd;
    if (*q == 'e' || *q == 'E') {
        q++;
        int eneg = *q == '-';
        q += *q == '-' || *q == '+';
        if ((unsigned)(*q - '0') >= 10u)
            return NULL;
        int64_t ev = 0;
        while ((unsigned)(*q - '0') < 10u) {
            if (ev < 100000)
                ev = ev * 10 + (*q - '0');
            q++;
        }
        e10 += eneg ? -ev : ev;
    }
    /* At most 19 digits (leading zeros included) cannot overflow m. */
    if (nd <= 19 && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        double v = (double)m;
        if (e10 < 0)
            v /= pow10_exact[-e10];
        else
            v *= pow10_exact[e10];
        uint64_t bits;
        memcpy(&bits, &v, sizeof bits);
        bits |= neg << 63; /* v >= 0: setting the sign bit negates it (0 gives -0) */
        memcpy(out, &bits, sizeof bits);
        return q;
    }
    return hf_csv_parse_double(s, (size_t)(q - s), out) > 0 ? q : NULL;
}

/* 1 if the field that ends at s ends there: the delimiter before another field, the line end
 * after the last one. */
static inline int field_ends(const char *s, char delim, int last)
{
    if (!last)
        return *s == delim;
    return *s == '\n' || (s[0] == '\r' && s[1] == '\n');
}

/* The end of an unquoted field that starts at f and whose scan is at s: the delimiter or the line
 * end (whose '\r' is not part of the last field); NULL if the field holds a quote or the bytes
 * end, which the general reader handles. */
static inline const char *plain_field_end(const char *s, const char *f, char delim, int last)
{
    while (*s != delim && *s != '\n' && *s != '"' && *s != '\0')
        s++;
    if (*s == '"' || *s == '\0')
        return NULL;
    if (last && *s == '\n' && s > f && s[-1] == '\r')
        s--;
    return s;
}

size_t hf_csv_fast_record(const char *p, size_t avail, char delim, size_t ncols, const int *slot,
                          int empty_na, double *row, hf_csv_span *others, size_t *n_others)
{
    /* p[avail] is a NUL (HF_CSV_PAD): every scan below stops there at the latest. A NUL inside
     * the bytes stops it too, and the general reader takes that record. */
    const char *s = p, *end = p + avail;
    size_t n_other = 0;
    *n_others = 0;
    if (avail == 0 || *p == '\n' || *p == '\r' || ncols == 0)
        return 0;
    for (size_t j = 0; j < ncols; j++) {
        int k = slot[j], last = j + 1 == ncols;
        const char *f = s;
        if (k >= 0 && !row) {
            if (!(s = plain_field_end(s, f, delim, last)))
                return 0;
            others[n_other++] = (hf_csv_span){j, (size_t)(f - p), (size_t)(s - f)};
        } else if (k >= 0 && field_ends(s, delim, last)) {
            if (!empty_na)
                return 0;
            row[k] = NAN;
        } else {
            const char *q = k >= 0 ? plain_number(s, &row[k]) : NULL;
            if (q && field_ends(q, delim, last)) {
                s = q;
            } else {
                if (!(s = plain_field_end(s, f, delim, last)))
                    return 0;
                if (k >= 0)
                    others[n_other++] = (hf_csv_span){j, (size_t)(f - p), (size_t)(s - f)};
            }
        }
        if (!last) {
            if (*s != delim)
                return 0;
            s++;
        } else if (*s == '\n') {
            s++;
        } else if (s[0] == '\r' && s[1] == '\n') {
            s += 2;
        } else {
            return 0;
        }
    }
    if (s > end)
        return 0;
    *n_others = n_other;
    return (size_t)(s - p);
}

int hf_csv_parse_bool(const char *p, size_t len)
{
    if (len == 4 && (!memcmp(p, "true", 4) || !memcmp(p, "True", 4) || !memcmp(p, "TRUE", 4)))
        return 1;
    if (len == 5 && (!memcmp(p, "false", 5) || !memcmp(p, "False", 5) || !memcmp(p, "FALSE", 5)))
        return 0;
    return -1;
}

size_t hf_csv_utf8_check(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            if (c == 0)
                return i; /* NUL: valid UTF-8 but never text in a CSV */
            i++;
            continue;
        }
        size_t n;
        unsigned min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            min = 0x10000;
        } else {
            return i;
        }
        if (i + n >= len)
            return i;
        unsigned cp = c & (0x3Fu >> n);
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

int hf_csv_is_na(const char *p, size_t len, char *const *na, size_t n_na)
{
    for (size_t k = 0; k < n_na; k++) {
        size_t n = strlen(na[k]);
        if (n == len && memcmp(na[k], p, len) == 0)
            return 1;
    }
    return 0;
}

void hf_csv_locate(const char *rec, size_t off, int64_t line, int64_t *out_line, int64_t *out_col)
{
    size_t line_start = 0;
    for (size_t i = 0; i < off; i++) {
        if (rec[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    *out_line = line;
    *out_col = (int64_t)(off - line_start) + 1;
}

void hf_csv_quote_for_message(const char *p, size_t len, char *buf, size_t cap)
{
    size_t k = 0;
    size_t limit = len > 60 ? 60 : len;
    for (size_t i = 0; i < limit && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') {
            buf[k++] = '\\';
            buf[k++] = 'n';
        } else if (c == '\r') {
            buf[k++] = '\\';
            buf[k++] = 'r';
        } else if (c < 0x20 || c == 0x7F) {
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
        } else {
            buf[k++] = (char)c;
        }
    }
    if (limit < len && k + 4 < cap) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k < cap ? k : cap - 1] = '\0';
}
