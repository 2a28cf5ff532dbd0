/* ingest.c - parallel CSV ingest into HDF5 shards, and CSV reading with a fixed schema.
 *
 * Phases (docs/shards.md): rank 0 lists the parts and reads the header; the work is split (one
 * plain part: byte ranges with exscanned quote parity and line counts; otherwise whole parts per
 * rank); pass 1 parses numbers and infers types; pass 2 (only when a column is text) collects the
 * strings of text columns; global dictionaries are built by allgather; the shards are written
 * collectively; rank 0 writes manifest.json last. */
#include "shards/ingest.h"
#include "shards/csv.h"
#include "shards/schema_json.h"
#include "common/fsutil.h"
#include "common/hf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER_BLOCK ((size_t)64 << 10)

static char *const default_na[] = {"", "NA", "NaN", "null", "?"};

enum part_kind { PART_PLAIN = 0, PART_GZ = 1, PART_ZIP = 2 };
enum role { ROLE_DROP = -1, ROLE_FEATURE = 0, ROLE_TARGET, ROLE_FOLD, ROLE_GROUP, ROLE_ORDER };
enum mode { MODE_PASS1 = 0, MODE_PASS2, MODE_PREDICT };

typedef struct part {
    char *uri;   /* object URI */
    char *entry; /* zip entry name or NULL */
    int kind;
    size_t object; /* index into the object list */
} part;

typedef struct object {
    char *uri;
    char *fingerprint;
    uint64_t size;
} object;

/* A unit of parsing work on one rank. */
typedef struct item {
    size_t part;
    int whole; /* 1: the whole part (header first); 0: a byte range of the single plain part */
    uint64_t begin, end;
    int in_quote;
    int64_t line;
    int at_record_start; /* range items: a record starts at begin */
    hf_source *src;      /* plain parts: the open source and its bytes in memory, kept for */
    hf_csv_buffer *buf;  /* every pass (NULL until the first pass opens them) */
} item;

/* Growable string arena with per-row offsets (-1 = missing). */
typedef struct arena {
    char *buf;
    size_t len, cap;
    int64_t *off;
    size_t n, cap_off;
} arena;

typedef struct ctx {
    hf_comm *comm;
    int rank, size;
    const hf_spec *spec;
    const hf_source_opts *opts;
    int mode;
    int skip_bad;
    /* source */
    object *objects;
    size_t n_objects;
    part *parts;
    size_t n_parts;
    char delim;
    char **names;
    size_t ncols;
    uint64_t data_start;
    int64_t data_line;
    char *const *na;
    size_t n_na;
    size_t na_max;
    /* column plan */
    int *role;   /* per source column */
    int *slot;   /* per source column: index into a row of cells, -1 = not stored */
    int *forced; /* per source column: -1 or an hf_col_type */
    size_t nslots;
    int *slot_col;          /* slot -> source column */
    const hf_schema *fixed; /* MODE_PREDICT */
    long *feat_of_col;      /* MODE_PREDICT: source column -> feature index or -1 */
    /* pass 1 results */
    double *cells;
    size_t nrows, cap_cells;
    int64_t *ord; /* local record ordinal of each kept row */
    size_t cap_ord;
    char *kind;   /* per source column, for the current record: 'n' number, 'b' bool, 't' text */
    int64_t nrec; /* records seen (kept + rejected) */
    int64_t *rejected_ord;
    size_t n_rejected, cap_rejected;
    int64_t *not_numeric, *not_bool, *not_integer; /* per slot flags (0/1) */
    char **first_text;                             /* per slot: message of the first text value */
    char *rejects;
    size_t rejects_len, rejects_cap;
    /* pass 2 */
    int *text_slot; /* per slot: 1 if strings are collected */
    arena *arenas;
    size_t pass2_row;
    size_t pass2_rej;
    hf_csv_fields fields;
    const char *cur_file;
    /* the fast path for common records (hf_csv_fast_record) */
    int fast;          /* 1: try it in pass 1 / predict */
    int fast_empty_na; /* "" is an NA token */
    int all_not_bool;  /* every slot's not_bool flag is set */
    int *check_slot;   /* slots of non-feature columns (checked after a fast parse) */
    int *check_role;   /* their roles */
    size_t n_check;
    hf_csv_span *spans; /* the fields that are not plain numbers (ncols entries) */
    int *text_col_slot; /* pass 2: per column, its slot if it is a text slot, else -1 */
    char *is_bool;      /* per slot, scratch: the record's value is a boolean */
} ctx;

/* ---- small helpers ------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int kind_of(const char *uri)
{
    if (ends_with(uri, ".gz"))
        return PART_GZ;
    if (ends_with(uri, ".zip"))
        return PART_ZIP;
    return PART_PLAIN;
}

/* All ranks agree on failure; the failing rank with the lowest number supplies the message
 * verbatim (it is the earliest in source order). Collective. */
static int agree(ctx *c, int status)
{
    int64_t mine = status < 0 ? c->rank : c->size;
    int rc = hf_comm_allreduce_min_i64(c->comm, &mine, 1);
    if (rc < 0)
        return rc;
    if (mine == c->size)
        return HF_OK;
    int root = (int)mine;
    int64_t code = status;
    char *msg = NULL;
    size_t len = 0;
    if (c->rank == root) {
        msg = hf_strdup(hf_error_message());
        len = msg ? strlen(msg) : 0;
    }
    rc = hf_comm_bcast(c->comm, &code, sizeof code, root);
    if (rc >= 0)
        rc = hf_comm_bcast_blob(c->comm, &msg, &len, root);
    if (rc < 0) {
        free(msg);
        return rc;
    }
    if (c->rank != root) {
        hf_error_clear();
        hf_error((int)code, "%s", msg);
    }
    free(msg);
    return (int)code;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return HF_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = hf_realloc(*p, nc * elem);
    if (!np)
        return HF_ENOMEM;
    *p = np;
    *cap = nc;
    return HF_OK;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    int rc = grow((void **)buf, cap, *len + n + 1, 1);
    if (rc < 0)
        return rc;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return HF_OK;
}

/* Appends a CSV-quoted field. */
static int append_quoted(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    int rc = append(buf, len, cap, "\"", 1);
    size_t i = 0;
    while (rc >= 0 && i < n) {
        const char *q = memchr(s + i, '"', n - i);
        size_t e = q ? (size_t)(q - s) + 1 : n;
        rc = append(buf, len, cap, s + i, e - i);
        if (rc >= 0 && q)
            rc = append(buf, len, cap, "\"", 1);
        i = e;
    }
    if (rc >= 0)
        rc = append(buf, len, cap, "\"", 1);
    return rc;
}

/* ---- source enumeration (rank 0) and broadcast ------------------------------------------- */

static int add_object(ctx *c, const char *uri)
{
    hf_source *s = NULL;
    int rc = hf_source_open(uri, c->opts, &s);
    if (rc < 0)
        return rc;
    object *no = hf_realloc(c->objects, (c->n_objects + 1) * sizeof *no);
    if (!no) {
        hf_source_close(&s);
        return HF_ENOMEM;
    }
    c->objects = no;
    object *o = &c->objects[c->n_objects];
    o->uri = hf_strdup(uri);
    o->fingerprint = hf_strdup(s->fingerprint);
    o->size = s->size;
    c->n_objects++;
    int kind = kind_of(uri);
    if (!o->uri || !o->fingerprint) {
        hf_source_close(&s);
        return HF_ENOMEM;
    }
    char **entries = NULL;
    size_t ne = 0;
    if (kind == PART_ZIP) {
        rc = hf_csv_zip_entries(s, &entries, &ne);
        if (rc >= 0 && ne == 0)
            rc = hf_error(HF_EDATA,
                          "%s: got a zip archive without .csv entries, expected at "
                          "least one",
                          uri);
    } else {
        ne = 1;
    }
    hf_source_close(&s);
    if (rc < 0)
        return rc;
    part *np = hf_realloc(c->parts, (c->n_parts + ne) * sizeof *np);
    if (!np) {
        hf_strv_free(entries, ne);
        return HF_ENOMEM;
    }
    c->parts = np;
    for (size_t i = 0; i < ne; i++) {
        part *p = &c->parts[c->n_parts++];
        p->uri = hf_strdup(uri);
        p->entry = entries ? entries[i] : NULL;
        p->kind = kind;
        p->object = c->n_objects - 1;
        if (!p->uri) {
            free(entries);
            return HF_ENOMEM;
        }
    }
    free(entries);
    return HF_OK;
}

static int enumerate(ctx *c, const char *uri)
{
    if (!hf_source_is_prefix(uri))
        return add_object(c, uri);
    char **uris = NULL;
    size_t n = 0;
    int rc = hf_source_list(uri, c->opts, &uris, &n);
    if (rc < 0)
        return rc;
    if (n == 0)
        rc = hf_error(HF_EDATA, "%s: got no .csv or .csv.gz objects, expected at least one", uri);
    for (size_t i = 0; rc >= 0 && i < n; i++)
        rc = add_object(c, uris[i]);
    hf_strv_free(uris, n);
    return rc;
}

/* Opens the byte stream of a part from its start. */
static int open_part_stream(ctx *c, const part *p, uint64_t offset, hf_source **src,
                            hf_csv_stream *st)
{
    int rc = hf_source_open(p->uri, c->opts, src);
    if (rc < 0)
        return rc;
    if (p->kind == PART_GZ)
        rc = hf_csv_stream_gzip(*src, st);
    else if (p->kind == PART_ZIP)
        rc = hf_csv_stream_zip_entry(*src, p->entry, st);
    else
        rc = hf_csv_stream_source(*src, offset, st);
    if (rc < 0)
        hf_source_close(src);
    return rc;
}

static const char *part_name(const part *p, char *buf, size_t cap)
{
    if (p->entry) {
        snprintf(buf, cap, "%s:%s", p->uri, p->entry);
        return buf;
    }
    return p->uri;
}

/* Splits the header record into names (checked: UTF-8, non-empty, unique). */
static int parse_header(ctx *c, const char *file, const hf_csv_record *rec, char delim,
                        char ***names, size_t *n)
{
    const char *text = rec->text;
    size_t len = rec->len;
    size_t bom = hf_csv_bom_len(text, len);
    const char *reason;
    size_t off;
    *names = NULL;
    *n = 0;
    text += bom;
    len -= bom;
    int rc = hf_csv_split(text, len, delim, &c->fields, &reason, &off);
    if (rc == HF_ENOMEM)
        return rc;
    if (rc < 0) {
        int64_t l, col;
        hf_csv_locate(text, off, rec->line, &l, &col);
        return hf_error(HF_EDATA, "%s:%lld:%lld: header: got %s, expected a valid CSV header", file,
                        (long long)l, (long long)col, reason);
    }
    char **v = hf_calloc(c->fields.n, sizeof *v);
    if (!v)
        return HF_ENOMEM;
    for (size_t i = 0; i < c->fields.n; i++) {
        const hf_csv_field *f = &c->fields.f[i];
        int64_t l, col;
        hf_csv_locate(text, f->off, rec->line, &l, &col);
        if (f->len == 0 || hf_csv_utf8_check(f->p, f->len) != f->len) {
            hf_strv_free(v, i);
            return hf_error(HF_EDATA,
                            "%s:%lld:%lld: header column %zu: got %s, expected a "
                            "non-empty UTF-8 column name",
                            file, (long long)l, (long long)col + (long long)bom, i + 1,
                            f->len == 0 ? "an empty name" : "invalid UTF-8");
        }
        v[i] = hf_strndup(f->p, f->len);
        if (!v[i]) {
            hf_strv_free(v, i);
            return HF_ENOMEM;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(v[k], v[i]) == 0) {
                int r = hf_error(HF_EDATA,
                                 "%s:%lld:%lld: header: got the column name \"%s\" "
                                 "twice, expected unique names",
                                 file, (long long)l, (long long)col, v[i]);
                hf_strv_free(v, i + 1);
                return r;
            }
        }
    }
    *names = v;
    *n = c->fields.n;
    return HF_OK;
}

/* Rank 0: reads the header of part 0. */
static int read_global_header(ctx *c)
{
    hf_source *src = NULL;
    hf_csv_stream st;
    hf_csv_reader *r = NULL;
    hf_csv_record rec;
    char nb[1024];
    const part *p = &c->parts[0];
    const char *file = part_name(p, nb, sizeof nb);
    hf_csv_range rg = {
        .begin = 0, .end = UINT64_MAX, .at_record_start = 1, .line = 1, .block = HEADER_BLOCK};
    int rc = open_part_stream(c, p, 0, &src, &st);
    if (rc < 0)
        return rc;
    rc = hf_csv_reader_open(st, &rg, &r);
    if (rc >= 0)
        rc = hf_csv_reader_next(r, &rec);
    if (rc == 0)
        rc = hf_error(HF_EDATA, "%s:1:1: got an empty file, expected a header row", file);
    if (rc >= 0) {
        size_t bom = hf_csv_bom_len(rec.text, rec.len);
        char d = c->spec && c->spec->data.delimiter
                     ? c->spec->data.delimiter
                     : hf_csv_detect_delimiter(rec.text + bom, rec.len - bom);
        c->delim = d;
        rc = parse_header(c, file, &rec, d, &c->names, &c->ncols);
        c->data_start = hf_csv_reader_pos(r);
        c->data_line = hf_csv_reader_line(r);
    }
    hf_csv_reader_free(r);
    hf_source_close(&src);
    return rc < 0 ? rc : HF_OK;
}

/* Rank 0 packs the parts, objects and header; every rank unpacks. Collective. */
static int share_source(ctx *c, int status)
{
    int rc = agree(c, status);
    if (rc < 0)
        return rc;
    json_t *j = NULL;
    char *text = NULL;
    size_t len = 0;
    if (c->rank == 0) {
        j = json_pack("{s:i, s:I, s:I, s:[], s:[], s:[]}", "delim", (int)c->delim, "data_start",
                      (json_int_t)c->data_start, "data_line", (json_int_t)c->data_line, "objects",
                      "parts", "names");
        int fail = !j;
        for (size_t i = 0; !fail && i < c->n_objects; i++)
            fail |= json_array_append_new(json_object_get(j, "objects"),
                                          json_pack("[s,s,I]", c->objects[i].uri,
                                                    c->objects[i].fingerprint,
                                                    (json_int_t)c->objects[i].size)) != 0;
        for (size_t i = 0; !fail && i < c->n_parts; i++)
            fail |= json_array_append_new(json_object_get(j, "parts"),
                                          json_pack("[s,s?,i,I]", c->parts[i].uri,
                                                    c->parts[i].entry, c->parts[i].kind,
                                                    (json_int_t)c->parts[i].object)) != 0;
        for (size_t i = 0; !fail && i < c->ncols; i++)
            fail |=
                json_array_append_new(json_object_get(j, "names"), json_string(c->names[i])) != 0;
        text = fail ? NULL : json_dumps(j, JSON_COMPACT);
        json_decref(j);
        j = NULL;
        len = text ? strlen(text) : 0;
    }
    rc = agree(c, c->rank == 0 && !text ? hf_error(HF_ENOMEM, "packing the source list") : 0);
    if (rc >= 0)
        rc = hf_comm_bcast_blob(c->comm, &text, &len, 0);
    if (rc < 0 || c->rank == 0) {
        free(text);
        return rc;
    }
    json_error_t err;
    j = json_loads(text, 0, &err);
    free(text);
    if (!j)
        return hf_error(HF_EINTERNAL, "unpacking the source list: %s", err.text);
    c->delim = (char)json_integer_value(json_object_get(j, "delim"));
    c->data_start = (uint64_t)json_integer_value(json_object_get(j, "data_start"));
    c->data_line = json_integer_value(json_object_get(j, "data_line"));
    json_t *o = json_object_get(j, "objects"), *p = json_object_get(j, "parts"),
           *n = json_object_get(j, "names");
    c->n_objects = json_array_size(o);
    c->n_parts = json_array_size(p);
    c->ncols = json_array_size(n);
    c->objects = hf_calloc(c->n_objects + 1, sizeof *c->objects);
    c->parts = hf_calloc(c->n_parts + 1, sizeof *c->parts);
    c->names = hf_calloc(c->ncols + 1, sizeof *c->names);
    rc = c->objects && c->parts && c->names ? HF_OK : HF_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < c->n_objects; i++) {
        json_t *e = json_array_get(o, i);
        c->objects[i].uri = hf_strdup(json_string_value(json_array_get(e, 0)));
        c->objects[i].fingerprint = hf_strdup(json_string_value(json_array_get(e, 1)));
        c->objects[i].size = (uint64_t)json_integer_value(json_array_get(e, 2));
        if (!c->objects[i].uri || !c->objects[i].fingerprint)
            rc = HF_ENOMEM;
    }
    for (size_t i = 0; rc >= 0 && i < c->n_parts; i++) {
        json_t *e = json_array_get(p, i);
        c->parts[i].uri = hf_strdup(json_string_value(json_array_get(e, 0)));
        const char *en = json_string_value(json_array_get(e, 1));
        c->parts[i].entry = en ? hf_strdup(en) : NULL;
        c->parts[i].kind = (int)json_integer_value(json_array_get(e, 2));
        c->parts[i].object = (size_t)json_integer_value(json_array_get(e, 3));
        if (!c->parts[i].uri || (en && !c->parts[i].entry))
            rc = HF_ENOMEM;
    }
    for (size_t i = 0; rc >= 0 && i < c->ncols; i++) {
        c->names[i] = hf_strdup(json_string_value(json_array_get(n, i)));
        if (!c->names[i])
            rc = HF_ENOMEM;
    }
    json_decref(j);
    return rc;
}

/* ---- work split ------------------------------------------------------------------------------ */

/* Builds this rank's items. Collective (exscan of quote and newline counts for a range split). */
static int plan_items(ctx *c, item **items, size_t *n_items)
{
    int rc = HF_OK;
    *items = NULL;
    *n_items = 0;
    if (c->n_parts == 1 && c->parts[0].kind == PART_PLAIN) {
        uint64_t size = c->objects[0].size;
        uint64_t span = size > c->data_start ? size - c->data_start : 0;
        uint64_t b = c->data_start + span * (uint64_t)c->rank / (uint64_t)c->size;
        uint64_t e = c->data_start + span * (uint64_t)(c->rank + 1) / (uint64_t)c->size;
        int64_t counts[2] = {0, 0};
        char last = 0;
        hf_source *src = NULL;
        hf_csv_buffer *buf = NULL;
        char *all = NULL;
        size_t *lens = NULL;
        /* The range is read once (mapped, or one ranged read) and kept for every pass. Only the
         * ranks before the last count: the exscan never uses the last rank's counts. */
        if (e > b) {
            rc = hf_source_open(c->parts[0].uri, c->opts, &src);
            if (rc >= 0)
                rc = hf_csv_buffer_open(src, b, e, &buf);
            if (rc >= 0) {
                uint64_t pos;
                size_t len;
                const char *bytes = hf_csv_buffer_bytes(buf, &pos, &len);
                if (len < e - b)
                    rc = hf_error(HF_EIO,
                                  "%s: got %zu bytes at offset %llu, expected %llu (did the file "
                                  "change during the ingest?)",
                                  c->parts[0].uri, len, (unsigned long long)b,
                                  (unsigned long long)(e - b));
                else if (c->rank + 1 < c->size)
                    hf_csv_count(bytes, (size_t)(e - b), &counts[0], &counts[1]);
                if (rc >= 0)
                    last = bytes[e - b - 1];
            }
            if (rc >= 0) {
                *items = hf_calloc(1, sizeof **items);
                if (!*items)
                    rc = HF_ENOMEM;
            }
        }
        rc = agree(c, rc);
        if (rc >= 0)
            rc = hf_comm_exscan_sum_i64(c->comm, counts, 2);
        /* The byte before the range (the last byte of the nearest non-empty range before it)
         * says whether a record starts at b; it comes from that rank, not from the source. */
        if (rc >= 0)
            rc = hf_comm_allgather_blob(c->comm, &last, e > b ? 1 : 0, &all, &lens);
        int prev_nl = 0;
        if (rc >= 0) {
            size_t at = 0;
            for (int r = 0; r < c->rank; r++) {
                if (lens[r] > 0)
                    prev_nl = all[at] == '\n';
                at += lens[r];
            }
        }
        free(all);
        free(lens);
        if (rc < 0) {
            free(*items);
            *items = NULL;
            hf_csv_buffer_free(buf);
            hf_source_close(&src);
            return rc;
        }
        if (c->rank == 0)
            counts[0] = counts[1] = 0;
        if (e > b) {
            int in_quote = (int)(counts[0] & 1);
            (*items)[0] = (item){.part = 0,
                                 .whole = 0,
                                 .begin = b,
                                 .end = e,
                                 .in_quote = in_quote,
                                 .line = c->data_line + counts[1],
                                 .at_record_start = b == c->data_start || (prev_nl && !in_quote),
                                 .src = src,
                                 .buf = buf};
            *n_items = 1;
        }
        return HF_OK;
    }
    /* Whole parts, contiguous per rank so that rank order is source order. */
    size_t lo = c->n_parts * (size_t)c->rank / (size_t)c->size;
    size_t hi = c->n_parts * (size_t)(c->rank + 1) / (size_t)c->size;
    if (hi > lo) {
        *items = hf_calloc(hi - lo, sizeof **items);
        if (!*items)
            return HF_ENOMEM;
        for (size_t i = lo; i < hi; i++)
            (*items)[i - lo] = (item){.part = i, .whole = 1, .end = UINT64_MAX, .line = 1};
        *n_items = hi - lo;
    }
    return HF_OK;
}

/* ---- record handling --------------------------------------------------------------------------
 */

/* Reports a bad record: error (HF_EDATA) or, when skipping, a line of rejects.csv. */
static int bad_row(ctx *c, const hf_csv_record *rec, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int bad_row(ctx *c, const hf_csv_record *rec, size_t off, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int64_t line, col;
    hf_csv_locate(rec->text, off, rec->line, &line, &col);
    if (!c->skip_bad)
        return hf_error(HF_EDATA, "%s:%lld:%lld: %s", c->cur_file, (long long)line, (long long)col,
                        what);
    int rc = grow((void **)&c->rejected_ord, &c->cap_rejected, c->n_rejected + 1,
                  sizeof *c->rejected_ord);
    if (rc < 0)
        return rc;
    c->rejected_ord[c->n_rejected++] = c->nrec;
    char head[64];
    snprintf(head, sizeof head, ",%lld,", (long long)rec->line);
    rc = append_quoted(&c->rejects, &c->rejects_len, &c->rejects_cap, c->cur_file,
                       strlen(c->cur_file));
    if (rc >= 0)
        rc = append(&c->rejects, &c->rejects_len, &c->rejects_cap, head, strlen(head));
    if (rc >= 0) {
        char full[1200];
        snprintf(full, sizeof full, "%lld:%lld: %s", (long long)line, (long long)col, what);
        rc = append_quoted(&c->rejects, &c->rejects_len, &c->rejects_cap, full, strlen(full));
    }
    if (rc >= 0)
        rc = append(&c->rejects, &c->rejects_len, &c->rejects_cap, ",", 1);
    if (rc >= 0)
        rc = append_quoted(&c->rejects, &c->rejects_len, &c->rejects_cap, rec->text, rec->len);
    if (rc >= 0)
        rc = append(&c->rejects, &c->rejects_len, &c->rejects_cap, "\n", 1);
    return rc < 0 ? rc : 1;
}

static int is_na(const ctx *c, const hf_csv_field *f)
{
    return f->len <= c->na_max && hf_csv_is_na(f->p, f->len, c->na, c->n_na);
}

static const char *type_word(int t)
{
    return t == HF_COL_BOOLEAN ? "true or false" : "a number";
}

/* Predict: one field of a feature column into *out. Returns 0, or the bad_row status. */
static int predict_field(ctx *c, const hf_csv_record *rec, size_t j, const hf_csv_field *f,
                         double *out)
{
    const hf_column *fc = &c->fixed->features[c->feat_of_col[j]];
    char shown[256];
    if (is_na(c, f)) {
        *out = NAN;
        return 0;
    }
    if (fc->type == HF_COL_NUMERIC) {
        if (hf_csv_parse_double(f->p, f->len, out))
            return 0;
        hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
        return bad_row(c, rec, f->off, "column \"%s\": got \"%s\", expected a number", c->names[j],
                       shown);
    }
    if (fc->type == HF_COL_BOOLEAN) {
        int b = hf_csv_parse_bool(f->p, f->len);
        if (b >= 0) {
            *out = b;
            return 0;
        }
        hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
        return bad_row(c, rec, f->off, "column \"%s\": got \"%s\", expected true or false",
                       c->names[j], shown);
    }
    size_t bad = hf_csv_utf8_check(f->p, f->len);
    if (bad != f->len)
        return bad_row(c, rec, f->off + bad,
                       "column \"%s\": got the byte 0x%02x, expected UTF-8 text", c->names[j],
                       (unsigned)(unsigned char)f->p[bad]);
    /* Categorical: binary search in the sorted dictionary (bytewise); unknown -> -1. */
    long lo = 0, hi = (long)fc->n_categories - 1;
    *out = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        const char *cat = fc->categories[mid];
        size_t cl = strlen(cat);
        int cmp = memcmp(cat, f->p, cl < f->len ? cl : f->len);
        if (cmp == 0)
            cmp = cl < f->len ? -1 : cl > f->len ? 1 : 0;
        if (cmp == 0) {
            *out = (double)mid;
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0;
}

/* Pass 1 and predict: one record. Returns 0 kept, 1 rejected, < 0 error. */
static int handle_record(ctx *c, const hf_csv_record *rec)
{
    const char *reason = NULL;
    size_t off = 0;
    char shown[256];
    int rc = hf_csv_split(rec->text, rec->len, c->delim, &c->fields, &reason, &off);
    if (rc == HF_ENOMEM)
        return rc;
    if (rc == 0 && rec->unterminated) {
        rc = HF_EDATA;
        reason = "an unterminated quoted field";
    }
    if (rc < 0) {
        size_t k = 0;
        for (size_t i = 0; i < off && i < rec->len; i++)
            k += rec->text[i] == c->delim;
        hf_csv_quote_for_message(rec->text + off, rec->len - off, shown, sizeof shown);
        return bad_row(c, rec, off, "column \"%s\": got %s (\"%s\"), expected RFC 4180 quoting",
                       k < c->ncols ? c->names[k] : "?", reason, shown);
    }
    if (c->fields.n != c->ncols) {
        size_t at = c->fields.n > c->ncols ? c->fields.f[c->ncols].off : rec->len;
        return bad_row(c, rec, at, "got %zu fields, expected %zu (the header's columns)",
                       c->fields.n, c->ncols);
    }
    rc = grow((void **)&c->cells, &c->cap_cells, (c->nrows + 1) * (c->nslots ? c->nslots : 1),
              sizeof *c->cells);
    if (rc >= 0)
        rc = grow((void **)&c->ord, &c->cap_ord, c->nrows + 1, sizeof *c->ord);
    if (rc < 0)
        return rc;
    double *row = c->cells + c->nrows * c->nslots;
    for (size_t j = 0; j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0)
            continue;
        const hf_csv_field *f = &c->fields.f[j];
        int role = c->role[j];
        c->kind[j] = 0;
        if (c->mode == MODE_PREDICT) {
            rc = predict_field(c, rec, j, f, &row[s]);
            if (rc != 0)
                return rc;
            continue;
        }
        if (is_na(c, f)) {
            row[s] = NAN;
            if (role != ROLE_FEATURE)
                return bad_row(c, rec, f->off,
                               "column \"%s\": got a missing value, expected a "
                               "%s value",
                               c->names[j], role == ROLE_TARGET ? "target" : "non-missing");
            continue;
        }
        double v;
        if (hf_csv_parse_double(f->p, f->len, &v)) {
            if (c->forced[j] == HF_COL_BOOLEAN) {
                hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
                return bad_row(c, rec, f->off, "column \"%s\": got \"%s\", expected true or false",
                               c->names[j], shown);
            } else {
                if (isnan(v) && role != ROLE_FEATURE)
                    return bad_row(c, rec, f->off,
                                   "column \"%s\": got a missing value, expected "
                                   "a %s value",
                                   c->names[j], role == ROLE_TARGET ? "target" : "non-missing");
                if (role == ROLE_FOLD && (v != floor(v) || fabs(v) > 1e15)) {
                    hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
                    return bad_row(c, rec, f->off,
                                   "column \"%s\": got \"%s\", expected an "
                                   "integer fold number",
                                   c->names[j], shown);
                }
                row[s] = v;
                c->kind[j] = 'n';
                continue;
            }
        }
        size_t bad = hf_csv_utf8_check(f->p, f->len);
        if (bad != f->len)
            return bad_row(c, rec, f->off + bad,
                           "column \"%s\": got the byte 0x%02x, expected UTF-8 text", c->names[j],
                           (unsigned)(unsigned char)f->p[bad]);
        /* Pass 1: text in a column. */
        int b = hf_csv_parse_bool(f->p, f->len);
        int forced = c->forced[j];
        if (forced == HF_COL_NUMERIC || forced == HF_COL_BOOLEAN ||
            (forced < 0 && (role == ROLE_FOLD || role == ROLE_ORDER))) {
            if (!(forced == HF_COL_BOOLEAN && b >= 0)) {
                hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
                return bad_row(c, rec, f->off, "column \"%s\": got \"%s\", expected %s",
                               c->names[j], shown,
                               forced == HF_COL_BOOLEAN ? type_word(HF_COL_BOOLEAN)
                                                        : type_word(HF_COL_NUMERIC));
            }
        }
        row[s] = b >= 0 ? b : NAN;
        c->kind[j] = b >= 0 ? 'b' : 't';
    }
    /* The record is kept: only now do its values count for type inference. */
    for (size_t j = 0; c->mode == MODE_PASS1 && j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0 || !c->kind[j])
            continue;
        if (c->kind[j] == 'n') {
            c->not_bool[s] = 1;
            continue;
        }
        c->not_numeric[s] = 1;
        if (c->kind[j] == 't')
            c->not_bool[s] = 1;
        if (!c->first_text[s]) {
            const hf_csv_field *f = &c->fields.f[j];
            int64_t line, col;
            hf_csv_locate(rec->text, f->off, rec->line, &line, &col);
            hf_csv_quote_for_message(f->p, f->len, shown, sizeof shown);
            c->first_text[s] = hf_asprintf("%s:%lld:%lld: column \"%s\": got \"%s\"", c->cur_file,
                                           (long long)line, (long long)col, c->names[j], shown);
            if (!c->first_text[s])
                return HF_ENOMEM;
        }
    }
    c->ord[c->nrows] = c->nrec;
    c->nrows++;
    return 0;
}

static int arena_push(arena *a, const char *p, size_t len, int missing)
{
    int rc = grow((void **)&a->off, &a->cap_off, a->n + 1, sizeof *a->off);
    if (rc < 0)
        return rc;
    if (missing) {
        a->off[a->n++] = -1;
        return HF_OK;
    }
    rc = grow((void **)&a->buf, &a->cap, a->len + len + 1, 1);
    if (rc < 0)
        return rc;
    a->off[a->n++] = (int64_t)a->len;
    memcpy(a->buf + a->len, p, len);
    a->buf[a->len + len] = '\0';
    a->len += len + 1;
    return HF_OK;
}

/* Pass 2: collects the strings of text slots of the kept records. */
static int handle_record_pass2(ctx *c, const hf_csv_record *rec)
{
    if (c->pass2_rej < c->n_rejected && c->rejected_ord[c->pass2_rej] == c->nrec) {
        c->pass2_rej++;
        return 1;
    }
    const char *reason;
    size_t off;
    int rc = hf_csv_split(rec->text, rec->len, c->delim, &c->fields, &reason, &off);
    if (rc < 0 || c->fields.n != c->ncols)
        return hf_error(HF_EIO, "%s:%lld: the record changed between the two passes of the ingest",
                        c->cur_file, (long long)rec->line);
    for (size_t j = 0; j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0 || !c->text_slot[s])
            continue;
        const hf_csv_field *f = &c->fields.f[j];
        rc = arena_push(&c->arenas[s], f->p, f->len, is_na(c, f));
        if (rc < 0)
            return rc;
    }
    c->pass2_row++;
    return 0;
}

/* Fast path: the value of an unquoted field that is not a plain number (the logic of
 * handle_record without its error reports). Returns 1 with row[slot] and kind set, 0 when the
 * field is bad in any way (the general path then reports it). */
static int fast_other_field(ctx *c, size_t j, const char *p, size_t len, double *row)
{
    int s = c->slot[j], role = c->role[j];
    double v;
    c->kind[j] = 0;
    if (len <= c->na_max && hf_csv_is_na(p, len, c->na, c->n_na)) {
        row[s] = NAN;
        return c->mode == MODE_PREDICT || role == ROLE_FEATURE;
    }
    if (hf_csv_parse_double(p, len, &v)) {
        if (c->mode == MODE_PASS1 && isnan(v) && role != ROLE_FEATURE)
            return 0;
        if (c->mode == MODE_PASS1 && role == ROLE_FOLD && (v != floor(v) || fabs(v) > 1e15))
            return 0;
        row[s] = v;
        c->kind[j] = 'n';
        return 1;
    }
    if (c->mode == MODE_PREDICT || hf_csv_utf8_check(p, len) != len)
        return 0;
    int b = hf_csv_parse_bool(p, len);
    int forced = c->forced[j];
    if (forced == HF_COL_NUMERIC || forced == HF_COL_BOOLEAN ||
        (forced < 0 && (role == ROLE_FOLD || role == ROLE_ORDER)))
        return 0;
    row[s] = b >= 0 ? b : NAN;
    c->kind[j] = b >= 0 ? 'b' : 't';
    return 1;
}

/* Pass 2 fast path: collects the text slots of an unquoted kept record. Returns 1 if consumed, 0
 * if the general path must handle it (a rejected record, quotes), < 0 on ENOMEM. */
static int fast_record_pass2(ctx *c, hf_csv_reader *r)
{
    const char *p;
    size_t avail, n_spans = 0;
    if (c->pass2_rej < c->n_rejected && c->rejected_ord[c->pass2_rej] == c->nrec)
        return 0;
    if (!hf_csv_reader_peek(r, &p, &avail))
        return 0;
    size_t used = hf_csv_fast_record(p, avail, c->delim, c->ncols, c->text_col_slot, 1, NULL,
                                     c->spans, &n_spans);
    if (used == 0)
        return 0;
    for (size_t k = 0; k < n_spans; k++) {
        const hf_csv_span *sp = &c->spans[k];
        const char *f = p + sp->off;
        int na = sp->len <= c->na_max && hf_csv_is_na(f, sp->len, c->na, c->n_na);
        int rc = arena_push(&c->arenas[c->slot[sp->col]], f, sp->len, na);
        if (rc < 0)
            return rc;
    }
    hf_csv_reader_skip_line(r, used);
    c->pass2_row++;
    return 1;
}

/* Pass 1 / predict fast path: the record at the reader's position if hf_csv_fast_record takes it
 * and every field passes the checks of handle_record. Returns 1 if consumed, 0 if the general
 * path must handle the record, < 0 on ENOMEM. */
static int fast_record(ctx *c, hf_csv_reader *r)
{
    const char *p;
    size_t avail, n_other = 0;
    char shown[256];
    if (c->mode == MODE_PASS2)
        return fast_record_pass2(c, r);
    if (!hf_csv_reader_peek(r, &p, &avail))
        return 0;
    size_t ns = c->nslots ? c->nslots : 1;
    int rc = grow((void **)&c->cells, &c->cap_cells, (c->nrows + 1) * ns, sizeof *c->cells);
    if (rc >= 0)
        rc = grow((void **)&c->ord, &c->cap_ord, c->nrows + 1, sizeof *c->ord);
    if (rc < 0)
        return rc;
    double *row = c->cells + c->nrows * c->nslots;
    size_t used = hf_csv_fast_record(p, avail, c->delim, c->ncols, c->slot, c->fast_empty_na, row,
                                     c->spans, &n_other);
    if (used == 0)
        return 0;
    for (size_t k = 0; k < n_other; k++) {
        const hf_csv_span *sp = &c->spans[k];
        if (!fast_other_field(c, sp->col, p + sp->off, sp->len, row))
            return 0;
    }
    /* Plain numbers are never NaN: a NaN from hf_csv_fast_record is an empty (missing) field. */
    for (size_t k = 0; k < c->n_check; k++) {
        double v = row[c->check_slot[k]];
        if (isnan(v))
            return 0;
        if (c->check_role[k] == ROLE_FOLD && (v != floor(v) || fabs(v) > 1e15))
            return 0;
    }
    if (c->mode == MODE_PASS1) {
        /* The record is kept: only now do its values count for type inference. Text fields
         * were listed in others; every other non-NaN value is a number. */
        if (!c->all_not_bool) {
            /* A boolean's 0/1 is not a number: its slot is skipped. */
            for (size_t k = 0; k < n_other; k++)
                if (c->kind[c->spans[k].col] == 'b')
                    c->is_bool[c->slot[c->spans[k].col]] = 1;
            int all = 1;
            for (size_t s = 0; s < c->nslots; s++) {
                if (!isnan(row[s]) && !c->is_bool[s])
                    c->not_bool[s] = 1;
                all &= c->not_bool[s] != 0;
            }
            c->all_not_bool = all;
            for (size_t k = 0; k < n_other; k++)
                c->is_bool[c->slot[c->spans[k].col]] = 0;
        }
        for (size_t k = 0; k < n_other; k++) {
            const hf_csv_span *sp = &c->spans[k];
            size_t j = sp->col;
            int s = c->slot[j];
            if (c->kind[j] == 'n' || !c->kind[j])
                continue;
            c->not_numeric[s] = 1;
            if (c->kind[j] == 't')
                c->not_bool[s] = 1;
            if (!c->first_text[s]) {
                int64_t line, col;
                hf_csv_locate(p, sp->off, hf_csv_reader_line(r), &line, &col);
                hf_csv_quote_for_message(p + sp->off, sp->len, shown, sizeof shown);
                c->first_text[s] =
                    hf_asprintf("%s:%lld:%lld: column \"%s\": got \"%s\"", c->cur_file,
                                (long long)line, (long long)col, c->names[j], shown);
                if (!c->first_text[s])
                    return HF_ENOMEM;
            }
        }
    }
    hf_csv_reader_skip_line(r, used);
    c->ord[c->nrows] = c->nrec;
    c->nrows++;
    return 1;
}

/* Decides whether the fast path applies: pass 1 without boolean-forced columns, or prediction
 * with numeric features only; and no NA token that reads as a plain number. */
static int setup_fast(ctx *c)
{
    c->fast = 0;
    c->n_check = 0;
    c->fast_empty_na = 0;
    if (c->mode == MODE_PASS2) {
        /* Pass 2 splits records only to collect the fields of text slots. */
        free(c->spans);
        free(c->text_col_slot);
        c->spans = hf_calloc(c->ncols + 1, sizeof *c->spans);
        c->text_col_slot = hf_calloc(c->ncols + 1, sizeof *c->text_col_slot);
        if (!c->spans || !c->text_col_slot)
            return HF_ENOMEM;
        for (size_t j = 0; j < c->ncols; j++)
            c->text_col_slot[j] = c->slot[j] >= 0 && c->text_slot[c->slot[j]] ? c->slot[j] : -1;
        c->fast = 1;
        return HF_OK;
    }
    for (size_t j = 0; j < c->ncols; j++) {
        if (c->slot[j] < 0)
            continue;
        if (c->mode == MODE_PASS1 && c->forced[j] == HF_COL_BOOLEAN)
            return HF_OK;
        if (c->mode == MODE_PREDICT && c->fixed->features[c->feat_of_col[j]].type != HF_COL_NUMERIC)
            return HF_OK;
    }
    for (size_t i = 0; i < c->n_na; i++) {
        size_t n = strlen(c->na[i]);
        char *t = hf_malloc(n + 2);
        int zero = 0;
        double v;
        if (!t)
            return HF_ENOMEM;
        memcpy(t, c->na[i], n);
        t[n] = '\n';
        t[n + 1] = '\0';
        hf_csv_span sp;
        size_t n_sp = 0;
        size_t used =
            n > 0 ? hf_csv_fast_record(t, n + 1, c->delim, 1, &zero, 0, &v, &sp, &n_sp) : 0;
        free(t);
        if (used > 0 && n_sp == 0)
            return HF_OK; /* an NA token that looks like a number: every value needs is_na */
        if (n == 0)
            c->fast_empty_na = 1;
    }
    free(c->check_slot);
    free(c->check_role);
    free(c->spans);
    free(c->is_bool);
    c->check_slot = hf_calloc(c->ncols + 1, sizeof *c->check_slot);
    c->check_role = hf_calloc(c->ncols + 1, sizeof *c->check_role);
    c->spans = hf_calloc(c->ncols + 1, sizeof *c->spans);
    c->is_bool = hf_calloc(c->ncols + 1, 1);
    if (!c->check_slot || !c->check_role || !c->spans || !c->is_bool)
        return HF_ENOMEM;
    for (size_t j = 0; c->mode == MODE_PASS1 && j < c->ncols; j++) {
        if (c->slot[j] < 0 || c->role[j] == ROLE_FEATURE)
            continue;
        c->check_slot[c->n_check] = c->slot[j];
        c->check_role[c->n_check++] = c->role[j];
    }
    c->fast = 1;
    c->all_not_bool = 0;
    return HF_OK;
}

/* Opens a reader over an item: plain parts through their in-memory buffer (opened on the first
 * pass, kept in the item for the next), compressed parts through a stream. */
static int open_item_reader(ctx *c, item *it, hf_source **src, hf_csv_reader **r)
{
    const part *p = &c->parts[it->part];
    hf_csv_range rg = {.begin = it->whole ? 0 : it->begin,
                       .end = it->end,
                       .at_record_start = it->whole || it->at_record_start,
                       .in_quote = it->in_quote,
                       .line = it->line,
                       .from_begin = !it->whole && !it->at_record_start};
    int rc = HF_OK;
    *src = NULL;
    *r = NULL;
    if (p->kind == PART_PLAIN) {
        if (!it->buf) {
            rc = hf_source_open(p->uri, c->opts, &it->src);
            if (rc >= 0)
                rc = hf_csv_buffer_open(it->src, 0, it->src->size, &it->buf);
            if (rc < 0)
                return rc;
        }
        return hf_csv_reader_open_buffer(it->buf, &rg, r);
    }
    hf_csv_stream st;
    rg.from_begin = 0;
    rc = open_part_stream(c, p, 0, src, &st);
    if (rc >= 0)
        rc = hf_csv_reader_open(st, &rg, r);
    if (rc < 0)
        hf_source_close(src);
    return rc;
}

/* Releases the in-memory bytes of the items (after their last pass). */
static void release_items(item *items, size_t n_items)
{
    for (size_t k = 0; items && k < n_items; k++) {
        hf_csv_buffer_free(items[k].buf);
        items[k].buf = NULL;
        hf_source_close(&items[k].src);
    }
}

static void free_items(item *items, size_t n_items)
{
    release_items(items, n_items);
    free(items);
}

/* Parses this rank's items, calling the handler of the current mode for every record. */
static int parse_items(ctx *c, item *items, size_t n_items)
{
    int rc = setup_fast(c);
    c->nrec = 0;
    for (size_t k = 0; rc >= 0 && k < n_items; k++) {
        item *it = &items[k];
        const part *p = &c->parts[it->part];
        char nb[1024];
        hf_source *src = NULL;
        hf_csv_reader *r = NULL;
        hf_csv_record rec;
        c->cur_file = part_name(p, nb, sizeof nb);
        rc = open_item_reader(c, it, &src, &r);
        if (rc < 0)
            break;
        if (it->whole) {
            /* Each part starts with the same header as part 0. */
            rc = hf_csv_reader_next(r, &rec);
            if (rc == 0)
                rc = hf_error(HF_EDATA, "%s:1:1: got an empty file, expected a header row",
                              c->cur_file);
            char **names = NULL;
            size_t n = 0;
            if (rc > 0)
                rc = parse_header(c, c->cur_file, &rec, c->delim, &names, &n);
            if (rc >= 0) {
                int same = n == c->ncols;
                for (size_t i = 0; same && i < n; i++)
                    same = strcmp(names[i], c->names[i]) == 0;
                if (!same)
                    rc = hf_error(HF_EDATA,
                                  "%s:1:1: header: got %zu columns starting \"%s\", "
                                  "expected the %zu columns of %s",
                                  c->cur_file, n, n ? names[0] : "", c->ncols, c->parts[0].uri);
            }
            hf_strv_free(names, n);
        }
        while (rc >= 0) {
            if (c->fast) {
                rc = fast_record(c, r);
                if (rc < 0)
                    break;
                if (rc > 0) {
                    c->nrec++;
                    continue;
                }
            }
            rc = hf_csv_reader_next(r, &rec);
            if (rc <= 0)
                break;
            rc = c->mode == MODE_PASS2 ? handle_record_pass2(c, &rec) : handle_record(c, &rec);
            c->nrec++;
        }
        hf_csv_reader_free(r);
        hf_source_close(&src);
    }
    return rc < 0 ? rc : HF_OK;
}

/* ---- dictionaries ------------------------------------------------------------------------------
 */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Global sorted distinct strings of an arena. Collective. *dict: caller frees each and array. */
static int global_dict(ctx *c, const arena *a, char ***dict, size_t *n)
{
    int rc = HF_OK;
    char **loc = hf_calloc(a->n + 1, sizeof *loc);
    char *blob = NULL, *all = NULL;
    size_t blen = 0, bcap = 0, *lens = NULL, m = 0;
    char **v = NULL;
    *dict = NULL;
    *n = 0;
    if (!loc)
        rc = HF_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < a->n; i++)
        if (a->off[i] >= 0)
            loc[m++] = a->buf + a->off[i];
    if (rc >= 0)
        qsort(loc, m, sizeof *loc, cmp_str);
    for (size_t i = 0; rc >= 0 && i < m; i++)
        if (i == 0 || strcmp(loc[i], loc[i - 1]) != 0)
            rc = append(&blob, &blen, &bcap, loc[i], strlen(loc[i]) + 1);
    rc = agree(c, rc);
    if (rc >= 0)
        rc = hf_comm_allgather_blob(c->comm, blob ? blob : "", blen, &all, &lens);
    if (rc < 0)
        goto out;
    size_t total = 0, cnt = 0;
    for (int r = 0; r < c->size; r++)
        total += lens[r];
    for (size_t i = 0; i < total; i++)
        cnt += all[i] == '\0';
    v = hf_calloc(cnt + 1, sizeof *v);
    if (!v) {
        rc = HF_ENOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < total; i += strlen(all + i) + 1)
        v[k++] = all + i;
    qsort(v, k, sizeof *v, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || strcmp(v[i], v[u - 1]) != 0)
            v[u++] = v[i];
    for (size_t i = 0; i < u; i++) {
        v[i] = hf_strdup(v[i]);
        if (!v[i]) {
            hf_strv_free(v, i);
            v = NULL;
            rc = HF_ENOMEM;
            goto out;
        }
    }
    *dict = v;
    *n = u;
out:
    free(loc);
    free(blob);
    free(all);
    free(lens);
    return rc;
}

/* Global sorted distinct non-NaN values of slot s. Collective. */
static int global_values(ctx *c, int s, double **vals, size_t *n)
{
    int rc = HF_OK;
    double *loc = hf_malloc((c->nrows + 1) * sizeof *loc);
    char *all = NULL;
    size_t *lens = NULL, m = 0, u = 0;
    *vals = NULL;
    *n = 0;
    if (!loc)
        rc = HF_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < c->nrows; i++) {
        double v = c->cells[i * c->nslots + (size_t)s];
        if (!isnan(v))
            loc[m++] = v == 0 ? 0.0 : v;
    }
    if (rc >= 0) {
        qsort(loc, m, sizeof *loc, cmp_dbl);
        for (size_t i = 0; i < m; i++)
            if (u == 0 || loc[i] != loc[u - 1])
                loc[u++] = loc[i];
    }
    rc = agree(c, rc);
    if (rc >= 0)
        rc = hf_comm_allgather_blob(c->comm, loc, u * sizeof *loc, &all, &lens);
    if (rc < 0)
        goto out;
    size_t total = 0;
    for (int r = 0; r < c->size; r++)
        total += lens[r] / sizeof(double);
    double *v = hf_malloc((total + 1) * sizeof *v);
    if (!v) {
        rc = HF_ENOMEM;
        goto out;
    }
    memcpy(v, all, total * sizeof *v);
    qsort(v, total, sizeof *v, cmp_dbl);
    u = 0;
    for (size_t i = 0; i < total; i++)
        if (u == 0 || v[i] != v[u - 1])
            v[u++] = v[i];
    *vals = v;
    *n = u;
out:
    free(loc);
    free(all);
    free(lens);
    return rc;
}

static long find_str(char *const *dict, size_t n, const char *s)
{
    long lo = 0, hi = (long)n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int cmp = strcmp(dict[mid], s);
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static long find_dbl(const double *v, size_t n, double x)
{
    long lo = 0, hi = (long)n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (v[mid] == x)
            return mid;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Shortest %.17g form of x that reads back to the same double. */
static char *format_number(double x)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return hf_strdup(buf);
}

/* ---- spec hash ---------------------------------------------------------------------------------
 */

int hf_ingest_spec_hash(const hf_spec *spec, char out[65])
{
    json_t *j = json_object();
    json_t *na = json_array(), *cols = json_array(), *drop = json_array();
    char *text = NULL;
    int rc = HF_OK;
    if (!j || !na || !cols || !drop) {
        rc = hf_error(HF_ENOMEM, "building the spec hash");
        goto out;
    }
    for (size_t i = 0; i < spec->data.n_na_values; i++)
        json_array_append_new(na, json_string(spec->data.na_values[i]));
    for (size_t i = 0; i < spec->data.n_columns; i++)
        json_array_append_new(
            cols, json_pack("[s,i]", spec->data.columns[i].name, (int)spec->data.columns[i].type));
    for (size_t i = 0; i < spec->data.n_drop; i++)
        json_array_append_new(drop, json_string(spec->data.drop[i]));
    json_object_set_new(j, "version", json_integer(HF_MANIFEST_VERSION));
    json_object_set_new(j, "source", json_string(spec->data.source ? spec->data.source : ""));
    json_object_set_new(j, "target", json_string(spec->data.target ? spec->data.target : ""));
    json_object_set_new(j, "task", json_integer(spec->data.task));
    json_object_set_new(j, "delimiter", json_integer(spec->data.delimiter));
    json_object_set_new(j, "na_values", na);
    json_object_set_new(j, "columns", cols);
    json_object_set_new(j, "drop", drop);
    na = cols = drop = NULL;
    json_object_set_new(j, "skip_bad_rows", json_integer(spec->data.skip_bad_rows));
    json_object_set_new(j, "shards", json_integer(spec->shards.count));
    json_object_set_new(j, "fold_column",
                        spec->cv.fold_column ? json_string(spec->cv.fold_column) : json_null());
    json_object_set_new(j, "group_column",
                        spec->cv.group_column ? json_string(spec->cv.group_column) : json_null());
    json_object_set_new(j, "order_column",
                        spec->cv.order_column ? json_string(spec->cv.order_column) : json_null());
    text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = hf_error(HF_ENOMEM, "serialising the spec hash");
        goto out;
    }
    rc = hf_sha256_hex(text, strlen(text), out);
out:
    free(text);
    json_decref(j);
    json_decref(na);
    json_decref(cols);
    json_decref(drop);
    return rc;
}

/* ---- context setup --------------------------------------------------------------------------- */

static void ctx_free(ctx *c)
{
    for (size_t i = 0; i < c->n_objects; i++) {
        free(c->objects[i].uri);
        free(c->objects[i].fingerprint);
    }
    free(c->objects);
    for (size_t i = 0; i < c->n_parts; i++) {
        free(c->parts[i].uri);
        free(c->parts[i].entry);
    }
    free(c->parts);
    hf_strv_free(c->names, c->ncols);
    free(c->role);
    free(c->slot);
    free(c->forced);
    free(c->slot_col);
    free(c->feat_of_col);
    free(c->cells);
    free(c->ord);
    free(c->rejected_ord);
    free(c->not_numeric);
    free(c->not_bool);
    free(c->not_integer);
    hf_strv_free(c->first_text, c->ncols);
    free(c->rejects);
    free(c->text_slot);
    free(c->kind);
    free(c->check_slot);
    free(c->check_role);
    free(c->spans);
    free(c->is_bool);
    free(c->text_col_slot);
    if (c->arenas) {
        for (size_t i = 0; i < c->ncols; i++) {
            free(c->arenas[i].buf);
            free(c->arenas[i].off);
        }
        free(c->arenas);
    }
    hf_csv_fields_free(&c->fields);
}

static long col_index(const ctx *c, const char *name)
{
    for (size_t j = 0; j < c->ncols; j++)
        if (strcmp(c->names[j], name) == 0)
            return (long)j;
    return -1;
}

static int alloc_plan(ctx *c)
{
    c->role = hf_calloc(c->ncols + 1, sizeof *c->role);
    c->slot = hf_calloc(c->ncols + 1, sizeof *c->slot);
    c->forced = hf_calloc(c->ncols + 1, sizeof *c->forced);
    c->slot_col = hf_calloc(c->ncols + 1, sizeof *c->slot_col);
    c->feat_of_col = hf_calloc(c->ncols + 1, sizeof *c->feat_of_col);
    c->not_numeric = hf_calloc(c->ncols + 1, sizeof *c->not_numeric);
    c->not_bool = hf_calloc(c->ncols + 1, sizeof *c->not_bool);
    c->not_integer = hf_calloc(c->ncols + 1, sizeof *c->not_integer);
    c->first_text = hf_calloc(c->ncols + 1, sizeof *c->first_text);
    c->text_slot = hf_calloc(c->ncols + 1, sizeof *c->text_slot);
    c->kind = hf_calloc(c->ncols + 1, 1);
    c->arenas = hf_calloc(c->ncols + 1, sizeof *c->arenas);
    if (!c->role || !c->slot || !c->forced || !c->slot_col || !c->feat_of_col || !c->not_numeric ||
        !c->not_bool || !c->not_integer || !c->first_text || !c->text_slot || !c->arenas ||
        !c->kind)
        return HF_ENOMEM;
    for (size_t j = 0; j < c->ncols; j++) {
        c->forced[j] = -1;
        c->slot[j] = -1;
        c->feat_of_col[j] = -1;
    }
    c->na_max = 0;
    for (size_t i = 0; i < c->n_na; i++)
        if (strlen(c->na[i]) > c->na_max)
            c->na_max = strlen(c->na[i]);
    return HF_OK;
}

/* HF_EDATA for a column `name` (of spec key `key`) that the header lacks: the closest header
 * name as a suggestion, then the header's names (at most 20). */
static int no_such_column(const ctx *c, const char *name, const char *key)
{
    char list[1024];
    size_t o = 0, shown = 0;
    list[0] = '\0';
    for (size_t j = 0; j < c->ncols && o < sizeof list - 64; j++, shown++) {
        if (shown == 20)
            break;
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", j ? ", " : "", c->names[j]);
    }
    if (shown < c->ncols)
        snprintf(list + o, sizeof list - o, " and %zu more", c->ncols - shown);
    const char *sug = hf_spec_suggest(name, (const char *const *)c->names, c->ncols);
    if (sug)
        return hf_error(HF_EDATA,
                        "%s: got the column \"%s\", which is not in the header of %s: did you "
                        "mean \"%s\"? (columns: %s)",
                        key, name, c->parts[0].uri, sug, list);
    return hf_error(HF_EDATA,
                    "%s: got the column \"%s\", which is not in the header of %s, expected one of "
                    "%s",
                    key, name, c->parts[0].uri, list);
}

static int set_role(ctx *c, const char *name, int role, const char *key)
{
    long j = col_index(c, name);
    if (j < 0)
        return no_such_column(c, name, key);
    if (c->role[j] != ROLE_FEATURE && c->role[j] != role)
        return hf_error(HF_EDATA, "%s: got the column \"%s\", which already has another role", key,
                        name);
    c->role[j] = role;
    return HF_OK;
}

/* Ingest column plan from the spec. */
static int plan_columns(ctx *c)
{
    const hf_spec *sp = c->spec;
    int rc = alloc_plan(c);
    if (rc < 0)
        return rc;
    if (!sp->data.target)
        return hf_error(HF_EINVAL, "data.target: got nothing, expected a column name");
    for (size_t i = 0; rc >= 0 && i < sp->data.n_drop; i++)
        rc = set_role(c, sp->data.drop[i], ROLE_DROP, "data.drop");
    if (rc >= 0)
        rc = set_role(c, sp->data.target, ROLE_TARGET, "data.target");
    if (rc >= 0 && sp->cv.fold_column)
        rc = set_role(c, sp->cv.fold_column, ROLE_FOLD, "cv.fold_column");
    if (rc >= 0 && sp->cv.group_column)
        rc = set_role(c, sp->cv.group_column, ROLE_GROUP, "cv.group_column");
    if (rc >= 0 && sp->cv.order_column)
        rc = set_role(c, sp->cv.order_column, ROLE_ORDER, "cv.order_column");
    for (size_t i = 0; rc >= 0 && i < sp->data.n_columns; i++) {
        long j = col_index(c, sp->data.columns[i].name);
        if (j < 0)
            rc = no_such_column(c, sp->data.columns[i].name, "data.columns");
        else
            c->forced[j] = (int)sp->data.columns[i].type;
    }
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < c->ncols; j++) {
        if (c->role[j] == ROLE_DROP)
            continue;
        c->slot[j] = (int)c->nslots;
        c->slot_col[c->nslots++] = (int)j;
    }
    return HF_OK;
}

/* ---- shards ------------------------------------------------------------------------------------
 */

/* A thread that fsyncs the temporary shard files while the ranks hash them: the write-back costs
 * CPU (about 0.35 s per GB here) that then runs beside the hashing instead of after it. */
typedef struct syncer {
    char *const *paths;
    size_t n;
    size_t failed; /* index of the first file that failed, n if none */
    int err;       /* its errno */
    pthread_t thread;
    int started;
} syncer;

static void *syncer_main(void *arg)
{
    syncer *s = arg;
    for (size_t i = 0; i < s->n && s->failed == s->n; i++) {
        int fd = open(s->paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0) {
            s->failed = i;
            s->err = errno;
        }
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

/* Starts the syncer; without a thread the fsync of hf_rename_durable does the work later. */
static void syncer_start(syncer *s, char *const *paths, size_t n)
{
    memset(s, 0, sizeof *s);
    s->paths = paths;
    s->n = n;
    s->failed = n;
    s->started = pthread_create(&s->thread, NULL, syncer_main, s) == 0;
}

/* Waits for the syncer; returns its first failure as an error. */
static int syncer_finish(syncer *s)
{
    if (!s->started)
        return HF_OK;
    pthread_join(s->thread, NULL);
    s->started = 0;
    if (s->failed < s->n)
        return hf_error(HF_EIO, "fsync of %s: %s", s->paths[s->failed], strerror(s->err));
    return HF_OK;
}

static int remove_old(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return HF_OK;
    int rc = HF_OK;
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (strncmp(e->d_name, "part-", 5) != 0 && strcmp(e->d_name, "manifest.json") != 0)
            continue;
        char *p = hf_asprintf("%s/%s", dir, e->d_name);
        if (!p) {
            rc = HF_ENOMEM;
            break;
        }
        unlink(p);
        free(p);
    }
    closedir(d);
    return rc;
}

/* The whole ingest after the source is shared. Collective. */
static int ingest_data(ctx *c, const char *dir, const char *rejects_path, hf_manifest *m)
{
    int rc;
    item *items = NULL;
    size_t n_items = 0;
    double *y = NULL, *order = NULL, *X = NULL;
    int64_t *fold = NULL, *group = NULL, *rowpos = NULL;
    char **dict = NULL;
    size_t n_dict = 0;
    double *vals = NULL;
    size_t n_vals = 0;
    char *all = NULL;
    size_t *lens = NULL;
    char *hashes = NULL;
    hf_schema *schema = NULL;
    char **tmp_paths = NULL;
    hf_shard_slab *slabs = NULL;
    size_t n_shards = 0;

    rc = agree(c, plan_columns(c));
    if (rc < 0)
        goto out;
    double t0 = hf_now();
    rc = plan_items(c, &items, &n_items);
    if (rc < 0)
        goto out;
    double t_plan = hf_now();
    c->mode = MODE_PASS1;
    rc = agree(c, parse_items(c, items, n_items));
    double t_pass1 = hf_now();
    hf_debug("ingest: split %.3fs, pass 1 %.3fs (%zu rows)", t_plan - t0, t_pass1 - t_plan,
             c->nrows);
    if (rc < 0)
        goto out;

    /* Global type flags and record ordinals. */
    size_t ns = c->nslots;
    int64_t *flags = hf_calloc(2 * ns + 1, sizeof *flags);
    rc = agree(c, flags ? HF_OK : HF_ENOMEM);
    if (rc < 0) {
        free(flags);
        goto out;
    }
    for (size_t s = 0; s < ns; s++) {
        flags[s] = c->not_numeric[s];
        flags[ns + s] = c->not_bool[s];
    }
    rc = hf_comm_allreduce_max_i64(c->comm, flags, 2 * ns);
    int64_t counts[3] = {(int64_t)c->nrows, c->nrec, (int64_t)c->n_rejected};
    int64_t offs[3] = {counts[0], counts[1], counts[2]};
    if (rc >= 0)
        rc = hf_comm_exscan_sum_i64(c->comm, offs, 3);
    if (rc >= 0)
        rc = hf_comm_allreduce_sum_i64(c->comm, counts, 3);
    if (rc < 0) {
        free(flags);
        goto out;
    }
    if (c->rank == 0)
        offs[0] = offs[1] = offs[2] = 0;

    /* Decide the types and build the schema. */
    schema = hf_calloc(1, sizeof *schema);
    size_t nf = 0;
    for (size_t j = 0; j < c->ncols; j++)
        nf += c->slot[j] >= 0 && c->role[j] == ROLE_FEATURE;
    if (schema)
        schema->features = hf_calloc(nf + 1, sizeof *schema->features);
    rc = schema && schema->features ? HF_OK : HF_ENOMEM;
    int *feat_slot = hf_calloc(nf + 1, sizeof *feat_slot);
    if (!feat_slot)
        rc = HF_ENOMEM;
    int need_pass2 = 0, target_slot = -1, fold_slot = -1, group_slot = -1, order_slot = -1;
    int local_err = HF_OK;
    for (size_t j = 0; rc >= 0 && j < c->ncols; j++) {
        int s = c->slot[j];
        if (s < 0)
            continue;
        int notnum = (int)flags[s], notbool = (int)flags[ns + s];
        switch (c->role[j]) {
        case ROLE_FEATURE: {
            hf_column *col = &schema->features[schema->n_features];
            feat_slot[schema->n_features++] = s;
            col->name = hf_strdup(c->names[j]);
            if (!col->name)
                rc = HF_ENOMEM;
            int t = c->forced[j] >= 0 ? c->forced[j]
                    : !notnum         ? HF_COL_NUMERIC
                    : !notbool        ? HF_COL_BOOLEAN
                                      : HF_COL_CATEGORICAL;
            col->type = (hf_col_type)t;
            if (t == HF_COL_BOOLEAN) {
                col->categories = hf_calloc(2, sizeof *col->categories);
                if (col->categories) {
                    col->n_categories = 2;
                    col->categories[0] = hf_strdup("false");
                    col->categories[1] = hf_strdup("true");
                }
                if (!col->categories || !col->categories[0] || !col->categories[1])
                    rc = HF_ENOMEM;
            } else if (t == HF_COL_CATEGORICAL) {
                c->text_slot[s] = 1;
                need_pass2 = 1;
            }
            break;
        }
        case ROLE_TARGET:
            target_slot = s;
            schema->target = hf_strdup(c->names[j]);
            if (!schema->target)
                rc = HF_ENOMEM;
            if (notnum && c->spec->data.task == HF_TASK_REGRESSION) {
                if (c->first_text[s])
                    local_err = hf_error(HF_EDATA, "%s, expected a number (%s)", c->first_text[s],
                                         hf_spec_task_hint(c->spec));
            }
            schema->task = notnum || c->spec->data.task == HF_TASK_CLASSIFICATION
                               ? HF_TASK_CLASSIFICATION
                               : HF_TASK_REGRESSION;
            if (notnum) {
                c->text_slot[s] = 1;
                need_pass2 = 1;
            }
            break;
        case ROLE_FOLD:
            fold_slot = s;
            schema->fold_column = hf_strdup(c->names[j]);
            break;
        case ROLE_GROUP:
            group_slot = s;
            schema->group_column = hf_strdup(c->names[j]);
            if (notnum) {
                c->text_slot[s] = 1;
                need_pass2 = 1;
            }
            break;
        case ROLE_ORDER:
            order_slot = s;
            schema->order_column = hf_strdup(c->names[j]);
            break;
        default:
            break;
        }
    }
    free(flags);
    if (rc >= 0)
        rc = local_err;
    rc = agree(c, rc);
    if (rc < 0) {
        free(feat_slot);
        goto out;
    }
    if (need_pass2) {
        c->mode = MODE_PASS2;
        c->pass2_row = 0;
        c->pass2_rej = 0;
        rc = agree(c, parse_items(c, items, n_items));
        if (rc >= 0 && c->pass2_row != c->nrows)
            rc = hf_error(HF_EIO, "%s: the source changed during the ingest", c->parts[0].uri);
        rc = agree(c, rc);
        if (rc < 0) {
            free(feat_slot);
            goto out;
        }
    }
    /* The source bytes are not read again: unmap / free them before the shards are built. */
    release_items(items, n_items);
    /* Text slots: global dictionaries, then codes. */
    for (size_t s = 0; s < ns && rc >= 0; s++) {
        if (!c->text_slot[s])
            continue;
        rc = global_dict(c, &c->arenas[s], &dict, &n_dict);
        if (rc < 0)
            break;
        for (size_t i = 0; i < c->nrows; i++) {
            int64_t o = c->arenas[s].off[i];
            c->cells[i * ns + s] =
                o < 0 ? NAN : (double)find_str(dict, n_dict, c->arenas[s].buf + o);
        }
        int j = c->slot_col[s];
        if ((int)s == target_slot) {
            schema->classes = dict;
            schema->n_classes = n_dict;
        } else if (c->role[j] == ROLE_FEATURE) {
            long f = hf_schema_find(schema, c->names[j]);
            schema->features[f].categories = dict;
            schema->features[f].n_categories = n_dict;
        } else {
            hf_strv_free(dict, n_dict);
        }
        dict = NULL;
        n_dict = 0;
    }
    /* Numeric class labels and numeric group codes. */
    if (rc >= 0 && schema->task == HF_TASK_CLASSIFICATION && !c->text_slot[target_slot]) {
        rc = global_values(c, target_slot, &vals, &n_vals);
        /* Numeric class labels must be whole numbers (scikit-learn's classifiers refuse a
         * "continuous" target likewise): 0.5 is a measurement, not a class. */
        for (size_t i = 0; rc >= 0 && i < n_vals; i++)
            if (vals[i] != floor(vals[i]))
                rc = hf_error(HF_EDATA,
                              "%s: data.target \"%s\": got %g, expected whole-number class "
                              "labels (%s)",
                              c->parts[0].uri, schema->target, vals[i], hf_spec_task_hint(c->spec));
        if (rc >= 0) {
            schema->classes = hf_calloc(n_vals + 1, sizeof *schema->classes);
            rc = schema->classes ? HF_OK : HF_ENOMEM;
            for (size_t i = 0; rc >= 0 && i < n_vals; i++) {
                schema->classes[i] = format_number(vals[i]);
                schema->n_classes = i + 1;
                if (!schema->classes[i])
                    rc = HF_ENOMEM;
            }
            for (size_t i = 0; rc >= 0 && i < c->nrows; i++) {
                double v = c->cells[i * ns + (size_t)target_slot];
                c->cells[i * ns + (size_t)target_slot] = (double)find_dbl(vals, n_vals, v);
            }
        }
        free(vals);
        vals = NULL;
    }
    if (rc >= 0 && group_slot >= 0 && !c->text_slot[group_slot]) {
        rc = global_values(c, group_slot, &vals, &n_vals);
        for (size_t i = 0; rc >= 0 && i < c->nrows; i++) {
            double v = c->cells[i * ns + (size_t)group_slot];
            c->cells[i * ns + (size_t)group_slot] = (double)find_dbl(vals, n_vals, v);
        }
        free(vals);
        vals = NULL;
    }
    rc = agree(c, rc);
    if (rc < 0) {
        free(feat_slot);
        goto out;
    }

    /* Split the cells into X, y, row, fold, group, order (X compacted in place). */
    size_t n = c->nrows;
    y = hf_malloc((n + 1) * sizeof *y);
    rowpos = hf_malloc((n + 1) * sizeof *rowpos);
    fold = fold_slot >= 0 ? hf_malloc((n + 1) * sizeof *fold) : NULL;
    group = group_slot >= 0 ? hf_malloc((n + 1) * sizeof *group) : NULL;
    order = order_slot >= 0 ? hf_malloc((n + 1) * sizeof *order) : NULL;
    rc = y && rowpos && (fold_slot < 0 || fold) && (group_slot < 0 || group) &&
                 (order_slot < 0 || order)
             ? HF_OK
             : HF_ENOMEM;
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        const double *r = c->cells + i * ns;
        y[i] = r[target_slot];
        rowpos[i] = c->ord[i] + offs[1];
        if (fold)
            fold[i] = (int64_t)r[fold_slot];
        if (group)
            group[i] = (int64_t)r[group_slot];
        if (order)
            order[i] = r[order_slot];
    }
    if (rc >= 0) {
        /* Slots of features increase with the feature index, so row i moves down (never over
         * bytes not yet moved), one memmove per run of consecutive slots. */
        X = c->cells;
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < nf;) {
                size_t run = 1;
                while (k + run < nf && feat_slot[k + run] == feat_slot[k] + (int)run)
                    run++;
                memmove(X + i * nf + k, X + i * ns + (size_t)feat_slot[k], run * sizeof *X);
                k += run;
            }
        }
    }
    free(feat_slot);
    rc = agree(c, rc);
    if (rc < 0)
        goto out;

    double t_write = hf_now();
    hf_debug("ingest: types, codes and arrays %.3fs", t_write - t_pass1);
    /* Shards. */
    int64_t total = counts[0];
    n_shards = c->spec->shards.count > 0 ? (size_t)c->spec->shards.count : (size_t)c->size;
    tmp_paths = hf_calloc(n_shards, sizeof *tmp_paths);
    rc = tmp_paths ? HF_OK : HF_ENOMEM;
    m->shards = hf_calloc(n_shards, sizeof *m->shards);
    if (!m->shards)
        rc = HF_ENOMEM;
    else
        m->n_shards = n_shards;
    for (size_t i = 0; rc >= 0 && i < n_shards; i++) {
        m->shards[i].first_row = (int64_t)((uint64_t)total * i / n_shards);
        m->shards[i].rows =
            (int64_t)((uint64_t)total * (i + 1) / n_shards) - m->shards[i].first_row;
        m->shards[i].file = hf_shard_name(i);
        tmp_paths[i] = hf_asprintf("%s/.tmp-part-%05zu.h5", dir, i);
        if (!m->shards[i].file || !tmp_paths[i])
            rc = HF_ENOMEM;
    }
    rc = agree(c, rc);
    int64_t g0 = offs[0];
    slabs = rc >= 0 ? hf_calloc(n_shards + 1, sizeof *slabs) : NULL;
    rc = agree(c, rc >= 0 && !slabs ? HF_ENOMEM : rc);
    for (size_t i = 0; rc >= 0 && i < n_shards; i++) {
        int64_t lo = m->shards[i].first_row, hi = lo + m->shards[i].rows;
        int64_t a = g0 > lo ? g0 : lo, b = g0 + (int64_t)n < hi ? g0 + (int64_t)n : hi;
        if (b < a)
            b = a;
        size_t at = (size_t)(a - g0 < 0 ? 0 : a - g0);
        hf_shard_slab slab = {.shard_rows = m->shards[i].rows,
                              .offset = a - lo,
                              .count = b - a,
                              .n_features = nf,
                              .X = X ? X + at * nf : NULL,
                              .y = y + at,
                              .row = rowpos + at,
                              .fold = fold ? fold + at : NULL,
                              .group = group ? group + at : NULL,
                              .order = order ? order + at : NULL,
                              .has_fold = fold_slot >= 0,
                              .has_group = group_slot >= 0,
                              .has_order = order_slot >= 0};
        if (b == a)
            slab.offset = 0;
        slabs[i] = slab;
    }
    if (rc >= 0)
        rc = agree(c, hf_shard_write_all(c->comm, tmp_paths, slabs, n_shards));
    /* Hashes are computed in parallel from the temporary files while a thread of rank 0 fsyncs
     * them, then rank 0 moves them to their names durably (the fsync there finds nothing left to
     * write), so a failure leaves no part file under its final name. */
    double t_hash = hf_now();
    syncer sync = {0};
    if (rc >= 0 && c->rank == 0)
        syncer_start(&sync, tmp_paths, n_shards);
    if (rc >= 0) {
        size_t mine = 0;
        for (size_t i = (size_t)c->rank; i < n_shards; i += (size_t)c->size)
            mine++;
        hashes = hf_calloc(mine * 64 + 1, 1);
        rc = hashes ? HF_OK : HF_ENOMEM;
        size_t k = 0;
        for (size_t i = (size_t)c->rank; rc >= 0 && i < n_shards; i += (size_t)c->size) {
            char hex[65];
            rc = hf_sha256_file_hex(tmp_paths[i], hex);
            if (rc >= 0)
                memcpy(hashes + 64 * k++, hex, 64);
        }
        rc = agree(c, rc);
        if (rc >= 0)
            rc = hf_comm_allgather_blob(c->comm, hashes, mine * 64, &all, &lens);
        if (rc >= 0) {
            size_t base = 0;
            for (int r = 0; r < c->size; r++) {
                size_t k2 = 0;
                for (size_t i = (size_t)r; i < n_shards; i += (size_t)c->size) {
                    memcpy(m->shards[i].sha256, all + base + 64 * k2++, 64);
                    m->shards[i].sha256[64] = '\0';
                }
                base += lens[r];
            }
        }
    }
    double t_rename = hf_now();
    int sync_rc = syncer_finish(&sync);
    if (rc >= 0)
        rc = sync_rc;
    if (rc >= 0 && c->rank == 0) {
        for (size_t i = 0; rc >= 0 && i < n_shards; i++) {
            char *final = hf_shard_path(dir, i);
            rc = final ? hf_rename_durable(tmp_paths[i], final) : HF_ENOMEM;
            free(final);
        }
    }
    rc = agree(c, rc);
    if (rc < 0)
        goto out;

    hf_debug("ingest: shards written %.3fs, hashed %.3fs, synced and renamed %.3fs",
             t_hash - t_write, t_rename - t_hash, hf_now() - t_rename);
    /* Rejected rows: gathered in rank (= source) order, written by rank 0. */
    if (c->skip_bad) {
        free(all);
        free(lens);
        all = NULL;
        lens = NULL;
        rc = hf_comm_gather_blob(c->comm, c->rejects ? c->rejects : "", c->rejects_len, 0, &all,
                                 &lens);
        if (rc >= 0 && c->rank == 0) {
            size_t tot = 0;
            for (int r = 0; r < c->size; r++)
                tot += lens[r];
            static const char head[] = "file,line,reason,record\n";
            char *text = hf_malloc(sizeof head + tot);
            rc = text ? HF_OK : HF_ENOMEM;
            if (text) {
                memcpy(text, head, sizeof head - 1);
                memcpy(text + sizeof head - 1, all, tot);
                rc = hf_write_file_atomic(rejects_path, text, sizeof head - 1 + tot);
            }
            free(text);
        }
        rc = agree(c, rc);
        if (rc < 0)
            goto out;
        if (counts[2] > 0 && c->rank == 0)
            hf_warn("%lld bad rows skipped; see %s", (long long)counts[2], rejects_path);
    }
    m->schema = schema;
    schema = NULL;
    m->n_rows = total;
    m->n_rejected = counts[2];
    m->has_fold = fold_slot >= 0;
    m->has_group = group_slot >= 0;
    m->has_order = order_slot >= 0;
out:
    if (rc < 0 && c->rank == 0 && tmp_paths)
        for (size_t i = 0; i < n_shards; i++)
            if (tmp_paths[i])
                unlink(tmp_paths[i]);
    hf_strv_free(tmp_paths, n_shards);
    free(slabs);
    if (X == c->cells)
        X = NULL;
    free_items(items, n_items);
    free(y);
    free(order);
    free(fold);
    free(group);
    free(rowpos);
    free(vals);
    free(all);
    free(lens);
    free(hashes);
    hf_strv_free(dict, n_dict);
    hf_schema_free(schema);
    return rc;
}

/* Fills the manifest's sources from the context. */
static int manifest_sources(ctx *c, hf_manifest *m)
{
    m->version = HF_MANIFEST_VERSION;
    m->sources = hf_calloc(c->n_objects + 1, sizeof *m->sources);
    m->fingerprints = hf_calloc(c->n_objects + 1, sizeof *m->fingerprints);
    if (!m->sources || !m->fingerprints)
        return HF_ENOMEM;
    m->n_sources = c->n_objects;
    for (size_t i = 0; i < c->n_objects; i++) {
        m->sources[i] = hf_strdup(c->objects[i].uri);
        m->fingerprints[i] = hf_strdup(c->objects[i].fingerprint);
        if (!m->sources[i] || !m->fingerprints[i])
            return HF_ENOMEM;
    }
    return HF_OK;
}

/* 1 if the existing manifest matches the current spec hash and fingerprints. Rank 0 only. */
static int manifest_matches(ctx *c, const hf_manifest *old, const char *hash)
{
    if (strcmp(old->spec_hash, hash) != 0 || old->n_sources != c->n_objects)
        return 0;
    for (size_t i = 0; i < c->n_objects; i++)
        if (strcmp(old->sources[i], c->objects[i].uri) != 0 ||
            strcmp(old->fingerprints[i], c->objects[i].fingerprint) != 0)
            return 0;
    return 1;
}

int hf_ingest(hf_comm *comm, const hf_spec *spec, const char *shard_dir, const hf_source_opts *opts,
              const char *rejects_path, hf_manifest **out, int *reused)
{
    ctx c;
    int rc;
    char hash[65];
    char *text = NULL;
    size_t len = 0;
    hf_manifest *m = NULL;
    memset(&c, 0, sizeof c);
    c.comm = comm;
    c.rank = hf_comm_rank(comm);
    c.size = hf_comm_size(comm);
    c.spec = spec;
    c.opts = opts;
    c.skip_bad = spec->data.skip_bad_rows && rejects_path;
    c.na = spec->data.na_values ? spec->data.na_values : default_na;
    c.n_na = spec->data.na_values ? spec->data.n_na_values : sizeof default_na / sizeof *default_na;
    *out = NULL;
    *reused = 0;
    rc = hf_ingest_spec_hash(spec, hash);
    if (rc >= 0 && c.rank == 0) {
        rc = hf_mkdirs(shard_dir);
        if (rc >= 0 && !spec->data.source)
            rc = hf_error(HF_EINVAL, "data.source: got nothing, expected a path or URI");
        if (rc >= 0)
            rc = enumerate(&c, spec->data.source);
        if (rc >= 0)
            rc = read_global_header(&c);
    }
    rc = share_source(&c, rc);
    if (rc < 0)
        goto out;

    /* Reuse: rank 0 checks hash and fingerprints; every rank verifies its share of the hashes. */
    if (c.rank == 0) {
        hf_manifest *old = NULL;
        char *mp = hf_manifest_path(shard_dir);
        if (mp && hf_file_exists(mp) && hf_manifest_read(shard_dir, &old) >= 0 &&
            manifest_matches(&c, old, hash))
            text = hf_manifest_to_json(old);
        hf_error_clear();
        free(mp);
        hf_manifest_free(old);
        len = text ? strlen(text) + 1 : 0;
    }
    rc = hf_comm_bcast(comm, &len, sizeof len, 0);
    if (rc >= 0 && len > 0) {
        rc = hf_comm_bcast_blob(comm, &text, &len, 0);
        if (rc >= 0)
            rc = hf_manifest_from_json(text, "manifest.json", &m);
        int64_t ok = rc >= 0 ? hf_shards_verify(shard_dir, m, (size_t)c.rank, (size_t)c.size) : 0;
        rc = agree(&c, rc);
        if (rc >= 0)
            rc = hf_comm_allreduce_min_i64(comm, &ok, 1);
        if (rc < 0)
            goto out;
        if (ok == 1) {
            *out = m;
            m = NULL;
            *reused = 1;
            if (c.rank == 0)
                hf_info("reusing the ingest in %s (%lld rows)", shard_dir,
                        (long long)(*out)->n_rows);
            goto out;
        }
        hf_manifest_free(m);
        m = NULL;
    }
    if (rc < 0)
        goto out;
    rc = c.rank == 0 ? remove_old(shard_dir) : HF_OK;
    rc = agree(&c, rc);
    if (rc < 0)
        goto out;
    m = hf_calloc(1, sizeof *m);
    rc = m ? manifest_sources(&c, m) : HF_ENOMEM;
    if (rc >= 0) {
        memcpy(m->spec_hash, hash, sizeof hash);
        rc = agree(&c, rc);
    }
    if (rc >= 0)
        rc = ingest_data(&c, shard_dir, rejects_path, m);
    if (rc >= 0 && c.rank == 0) {
        /* The fingerprint text is derived; compute it by a JSON round trip. */
        rc = hf_manifest_write(shard_dir, m);
    }
    rc = agree(&c, rc);
    if (rc >= 0) {
        free(text);
        text = hf_manifest_to_json(m);
        hf_manifest_free(m);
        m = NULL;
        rc = text ? hf_manifest_from_json(text, "manifest.json", &m) : HF_ENOMEM;
        rc = agree(&c, rc);
    }
    if (rc >= 0) {
        *out = m;
        m = NULL;
    }
out:
    free(text);
    hf_manifest_free(m);
    ctx_free(&c);
    return rc;
}

/* ---- prediction input ---------------------------------------------------------------------------
 */

int hf_csv_read_for_schema(hf_comm *comm, const char *uri, const hf_schema *schema,
                           const hf_source_opts *opts, hf_dataset **local)
{
    ctx c;
    int rc;
    item *items = NULL;
    size_t n_items = 0;
    hf_dataset *d = NULL;
    memset(&c, 0, sizeof c);
    c.comm = comm;
    c.rank = hf_comm_rank(comm);
    c.size = hf_comm_size(comm);
    c.opts = opts;
    c.fixed = schema;
    c.na = default_na;
    c.n_na = sizeof default_na / sizeof *default_na;
    c.mode = MODE_PREDICT;
    *local = NULL;
    rc = HF_OK;
    if (c.rank == 0) {
        rc = enumerate(&c, uri);
        if (rc >= 0)
            rc = read_global_header(&c);
    }
    rc = share_source(&c, rc);
    if (rc < 0)
        goto out;
    rc = alloc_plan(&c);
    /* Match columns by name. */
    char missing[1024] = "", extra[1024] = "";
    for (size_t j = 0; rc >= 0 && j < c.ncols; j++) {
        long f = hf_schema_find(schema, c.names[j]);
        const char *nm = c.names[j];
        int known = (schema->target && strcmp(nm, schema->target) == 0) ||
                    (schema->fold_column && strcmp(nm, schema->fold_column) == 0) ||
                    (schema->group_column && strcmp(nm, schema->group_column) == 0) ||
                    (schema->order_column && strcmp(nm, schema->order_column) == 0);
        if (f >= 0) {
            c.slot[j] = (int)f;
            c.feat_of_col[j] = f;
        } else if (!known) {
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "%s\"%s\"", l ? ", " : "", nm);
        }
    }
    for (size_t k = 0; rc >= 0 && k < schema->n_features; k++) {
        if (col_index(&c, schema->features[k].name) < 0) {
            size_t l = strlen(missing);
            snprintf(missing + l, sizeof missing - l, "%s\"%s\"", l ? ", " : "",
                     schema->features[k].name);
        }
    }
    if (rc >= 0 && missing[0] && extra[0])
        rc = hf_error(HF_EDATA,
                      "%s: missing feature columns %s and unknown columns %s, expected the "
                      "model's features (and optionally its target)",
                      uri, missing, extra);
    if (rc >= 0 && missing[0])
        rc = hf_error(HF_EDATA,
                      "%s: missing feature columns %s, expected every feature of the "
                      "model's schema",
                      uri, missing);
    if (rc >= 0 && extra[0])
        rc = hf_error(HF_EDATA,
                      "%s: unknown columns %s, expected only the model's features "
                      "(and optionally its target)",
                      uri, extra);
    c.nslots = schema->n_features;
    rc = agree(&c, rc);
    if (rc >= 0)
        rc = plan_items(&c, &items, &n_items);
    if (rc < 0)
        goto out;
    c.ord = NULL;
    rc = agree(&c, parse_items(&c, items, n_items));
    int64_t off = c.nrec;
    if (rc >= 0)
        rc = hf_comm_exscan_sum_i64(comm, &off, 1);
    if (rc < 0)
        goto out;
    if (c.rank == 0)
        off = 0;
    d = hf_calloc(1, sizeof *d);
    rc = d ? HF_OK : HF_ENOMEM;
    if (d) {
        d->id = hf_dataset_new_id();
        d->schema = hf_schema_clone(schema);
        d->n_rows = c.nrows;
        d->y = hf_malloc((c.nrows + 1) * sizeof *d->y);
        d->row = hf_malloc((c.nrows + 1) * sizeof *d->row);
        if (!d->schema || !d->y || !d->row)
            rc = HF_ENOMEM;
    }
    for (size_t i = 0; rc >= 0 && i < c.nrows; i++) {
        d->y[i] = NAN;
        d->row[i] = c.ord[i] + off;
    }
    if (rc >= 0) {
        d->X = c.cells ? c.cells : hf_malloc(sizeof(double));
        c.cells = NULL;
        if (!d->X)
            rc = HF_ENOMEM;
    }
    rc = agree(&c, rc);
    if (rc >= 0) {
        *local = d;
        d = NULL;
    }
out:
    hf_dataset_free(d);
    free_items(items, n_items);
    ctx_free(&c);
    return rc;
}
