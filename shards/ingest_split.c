/* ingest_split.c - the sources of an ingest: enumeration (rank 0), the header, the broadcast of
 * what rank 0 found, and the split of the parsing work over the ranks (see ingest_int.h). */
#include "shards/ingest_int.h"

#include "common/fsutil.h"
#include "common/hf.h"
#include "shards/csv.h"
#include "shards/schema_json.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int add_object(ctx *c, const char *uri)
{
    hf_source *s = NULL;
    int result = hf_source_open(uri, c->opts, &s);
    if (result < 0)
        return result;
    object *no = hf_realloc(c->objects, (c->n_objects + 1) * sizeof *no);
    if (!no) {
        hf_source_close(s);
        s = NULL;
        return HF_ENOMEM;
    }
    c->objects = no;
    object *o = &c->objects[c->n_objects];
    o->uri = hf_source_display(uri);
    o->open = hf_strdup(uri);
    o->fingerprint = hf_strdup(s->fingerprint);
    o->size = s->size;
    c->n_objects++;
    if (!o->uri || !o->open || !o->fingerprint) {
        hf_source_close(s);
        s = NULL;
        return HF_ENOMEM;
    }
    const char *name = o->uri;
    int kind = kind_of(name);
    char **entries = NULL;
    size_t ne = 0;
    if (kind == PART_ZIP) {
        result = hf_csv_zip_entries(s, &entries, &ne);
        if (result >= 0 && ne == 0)
            result = hf_error(HF_EDATA,
                              "%s: got a zip archive without .csv entries, expected at "
                              "least one",
                              name);
    } else {
        ne = 1;
    }
    hf_source_close(s);
    s = NULL;
    if (result < 0)
        return result;
    part *np = hf_realloc(c->parts, (c->n_parts + ne) * sizeof *np);
    if (!np) {
        hf_strv_free(entries, ne);
        return HF_ENOMEM;
    }
    c->parts = np;
    for (size_t i = 0; i < ne; i++) {
        part *p = &c->parts[c->n_parts++];
        p->uri = hf_strdup(name);
        p->open = hf_strdup(uri);
        p->entry = entries ? entries[i] : NULL;
        p->kind = kind;
        p->object = c->n_objects - 1;
        if (!p->uri || !p->open) {
            free(entries);
            return HF_ENOMEM;
        }
    }
    free(entries);
    return HF_OK;
}

int hf__ingest_enumerate(ctx *c, const char *uri)
{
    if (!hf_source_is_prefix(uri))
        return add_object(c, uri);
    char **uris = NULL;
    size_t n = 0;
    int result = hf_source_list(uri, c->opts, &uris, &n);
    if (result < 0)
        return result;
    if (n == 0) {
        char *name = hf_source_display(uri);
        result = hf_error(HF_EDATA, "%s: got no .csv or .csv.gz objects, expected at least one",
                          name ? name : "data.source");
        free(name);
    }
    for (size_t i = 0; result >= 0 && i < n; i++)
        result = add_object(c, uris[i]);
    hf_strv_free(uris, n);
    return result;
}

/* Opens the byte stream of a part from its start. */
int hf__ingest_open_part_stream(ctx *c, const part *p, uint64_t offset, hf_source **src,
                                hf_csv_stream *st)
{
    int result = hf_source_open(p->open, c->opts, src);
    if (result < 0)
        return result;
    if (p->kind == PART_GZ)
        result = hf_csv_stream_gzip(*src, st);
    else if (p->kind == PART_ZIP)
        result = hf_csv_stream_zip_entry(*src, p->entry, st);
    else
        result = hf_csv_stream_source(*src, offset, st);
    /* The stream reads the source but does not own it: the caller closes *src after the stream
     * (a NULL here leaked every source opened this way, and its descriptor). */
    if (result < 0) {
        hf_source_close(*src);
        *src = NULL;
    }
    return result;
}

const char *hf__ingest_part_name(const part *p, char *buf, size_t cap)
{
    if (p->entry) {
        snprintf(buf, cap, "%s:%s", p->uri, p->entry);
        return buf;
    }
    return p->uri;
}

static int cmp_name_ix(const void *a, const void *b)
{
    const hf__name_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->col > y->col) - (x->col < y->col);
}

hf__name_ix *hf__ingest_sort_names(char *const *names, size_t n)
{
    hf__name_ix *v = hf_malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = (hf__name_ix){names[i], i};
    qsort(v, n, sizeof *v, cmp_name_ix);
    return v;
}

long hf__ingest_find_name(const hf__name_ix *sorted, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sorted[mid].name, name);
        if (c == 0)
            return (long)sorted[mid].col; /* ties sort by column: the first of equal names */
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Splits the header record into names (checked: UTF-8, non-empty, unique). Linear in the header's
 * length apart from one sort of the names: a field's line and column are only worked out for a
 * message (hf_csv_locate scans from the record start), and duplicates are found by sorting. */
int hf__ingest_parse_header(ctx *c, const char *file, const hf_csv_record *rec, char delim,
                            char ***names, size_t *n)
{
    const char *text = rec->text;
    size_t len = rec->len;
    size_t bom = hf_csv_bom_len(text, len);
    const char *reason;
    size_t off;
    int64_t l, col;
    *names = NULL;
    *n = 0;
    text += bom;
    len -= bom;
    int result = hf_csv_split(text, len, delim, &c->fields, &reason, &off);
    if (result == HF_ENOMEM)
        return result;
    if (result < 0) {
        hf_csv_locate(text, off, rec->line, &l, &col);
        return hf_error(HF_EDATA, "%s:%lld:%lld: header: got %s, expected a valid CSV header", file,
                        (long long)l, (long long)col, reason);
    }
    size_t nf = c->fields.n;
    char **v = hf_calloc(nf ? nf : 1, sizeof *v);
    if (!v)
        return HF_ENOMEM;
    for (size_t i = 0; i < nf; i++) {
        const hf_csv_field *f = &c->fields.f[i];
        if (f->len == 0 || hf_csv_utf8_check(f->p, f->len) != f->len) {
            hf_strv_free(v, i);
            hf_csv_locate(text, f->off, rec->line, &l, &col);
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
    }
    /* The first column whose name an earlier column already has (sorted: equal names are
     * adjacent, by column). */
    hf__name_ix *sorted = hf__ingest_sort_names(v, nf);
    if (!sorted) {
        hf_strv_free(v, nf);
        return HF_ENOMEM;
    }
    size_t dup = nf;
    for (size_t k = 1; k < nf; k++)
        if (sorted[k].col < dup && strcmp(sorted[k - 1].name, sorted[k].name) == 0)
            dup = sorted[k].col;
    free(sorted);
    if (dup < nf) {
        hf_csv_locate(text, c->fields.f[dup].off, rec->line, &l, &col);
        result = hf_error(HF_EDATA,
                          "%s:%lld:%lld: header: got the column name \"%s\" twice, expected "
                          "unique names",
                          file, (long long)l, (long long)col, v[dup]);
        hf_strv_free(v, nf);
        return result;
    }
    *names = v;
    *n = nf;
    return HF_OK;
}

/* Rank 0: reads the header of part 0. */
int hf__ingest_read_global_header(ctx *c)
{
    hf_source *src = NULL;
    hf_csv_stream st;
    hf_csv_reader *r = NULL;
    hf_csv_record rec;
    char nb[1024];
    const part *p = &c->parts[0];
    const char *file = hf__ingest_part_name(p, nb, sizeof nb);
    hf_csv_range rg = {
        .begin = 0, .end = UINT64_MAX, .at_record_start = 1, .line = 1, .block = HEADER_BLOCK};
    int result = hf__ingest_open_part_stream(c, p, 0, &src, &st);
    if (result < 0)
        return result;
    result = hf_csv_reader_open(st, &rg, &r);
    if (result >= 0)
        result = hf_csv_reader_next(r, &rec);
    if (result == 0)
        result = hf_error(HF_EDATA, "%s:1:1: got an empty file, expected a header row", file);
    if (result >= 0) {
        size_t bom = hf_csv_bom_len(rec.text, rec.len);
        char d = c->o && c->o->delimiter ? c->o->delimiter
                                         : hf_csv_detect_delimiter(rec.text + bom, rec.len - bom);
        c->delim = d;
        result = hf__ingest_parse_header(c, file, &rec, d, &c->names, &c->ncols);
        c->data_start = hf_csv_reader_pos(r);
        c->data_line = hf_csv_reader_line(r);
    }
    hf_csv_reader_free(r);
    hf_source_close(src);
    src = NULL;
    return result < 0 ? result : HF_OK;
}

/* Rank 0 packs the parts, objects and header; every rank unpacks. Collective. */
int hf__ingest_share_source(ctx *c, int status)
{
    int result = hf__ingest_agree(c, status);
    if (result < 0)
        return result;
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
                                          json_pack("[s,s,s,I]", c->objects[i].uri,
                                                    c->objects[i].open, c->objects[i].fingerprint,
                                                    (json_int_t)c->objects[i].size)) != 0;
        for (size_t i = 0; !fail && i < c->n_parts; i++)
            fail |=
                json_array_append_new(json_object_get(j, "parts"),
                                      json_pack("[s,s,s?,i,I]", c->parts[i].uri, c->parts[i].open,
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
    result = hf__ingest_agree(
        c, c->rank == 0 && !text ? hf_error(HF_ENOMEM, "packing the source list") : 0);
    if (result >= 0)
        result = hf_comm_bcast_blob(c->comm, &text, &len, 0);
    if (result < 0 || c->rank == 0) {
        free(text);
        return result;
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
    result = c->objects && c->parts && c->names ? HF_OK : HF_ENOMEM;
    for (size_t i = 0; result >= 0 && i < c->n_objects; i++) {
        json_t *e = json_array_get(o, i);
        c->objects[i].uri = hf_strdup(json_string_value(json_array_get(e, 0)));
        c->objects[i].open = hf_strdup(json_string_value(json_array_get(e, 1)));
        c->objects[i].fingerprint = hf_strdup(json_string_value(json_array_get(e, 2)));
        c->objects[i].size = (uint64_t)json_integer_value(json_array_get(e, 3));
        if (!c->objects[i].uri || !c->objects[i].open || !c->objects[i].fingerprint)
            result = HF_ENOMEM;
    }
    for (size_t i = 0; result >= 0 && i < c->n_parts; i++) {
        json_t *e = json_array_get(p, i);
        c->parts[i].uri = hf_strdup(json_string_value(json_array_get(e, 0)));
        c->parts[i].open = hf_strdup(json_string_value(json_array_get(e, 1)));
        const char *en = json_string_value(json_array_get(e, 2));
        c->parts[i].entry = en ? hf_strdup(en) : NULL;
        c->parts[i].kind = (int)json_integer_value(json_array_get(e, 3));
        c->parts[i].object = (size_t)json_integer_value(json_array_get(e, 4));
        if (!c->parts[i].uri || !c->parts[i].open || (en && !c->parts[i].entry))
            result = HF_ENOMEM;
    }
    for (size_t i = 0; result >= 0 && i < c->ncols; i++) {
        c->names[i] = hf_strdup(json_string_value(json_array_get(n, i)));
        if (!c->names[i])
            result = HF_ENOMEM;
    }
    json_decref(j);
    return result;
}

/* Builds this rank's items. Collective (exscan of quote and newline counts for a range split). */
int hf__ingest_plan_items(ctx *c, item **items, size_t *n_items)
{
    int result = HF_OK;
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
            result = hf_source_open(c->parts[0].open, c->opts, &src);
            if (result >= 0)
                result = hf_csv_buffer_open(src, b, e, &buf);
            if (result >= 0) {
                uint64_t pos;
                size_t len;
                const char *bytes = hf_csv_buffer_bytes(buf, &pos, &len);
                if (len < e - b)
                    result = hf_error(
                        HF_EIO,
                        "%s: got %zu bytes at offset %llu, expected %llu (did the file "
                        "change during the ingest?)",
                        c->parts[0].uri, len, (unsigned long long)b, (unsigned long long)(e - b));
                else if (c->rank + 1 < c->size)
                    hf_csv_count(bytes, (size_t)(e - b), &counts[0], &counts[1]);
                if (result >= 0)
                    last = bytes[e - b - 1];
            }
            if (result >= 0) {
                *items = hf_calloc(1, sizeof **items);
                if (!*items)
                    result = HF_ENOMEM;
            }
        }
        result = hf__ingest_agree(c, result);
        if (result >= 0)
            result = hf_comm_exscan_sum_i64(c->comm, counts, 2);
        /* The byte before the range (the last byte of the nearest non-empty range before it)
         * says whether a record starts at b; it comes from that rank, not from the source. */
        if (result >= 0)
            result = hf_comm_allgather_blob(c->comm, &last, e > b ? 1 : 0, &all, &lens);
        int prev_nl = 0;
        if (result >= 0) {
            size_t at = 0;
            for (int r = 0; r < c->rank; r++) {
                if (lens[r] > 0)
                    prev_nl = all[at] == '\n';
                at += lens[r];
            }
        }
        free(all);
        free(lens);
        if (result < 0) {
            free(*items);
            *items = NULL;
            hf_csv_buffer_free(buf);
            hf_source_close(src);
            src = NULL;
            return result;
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
