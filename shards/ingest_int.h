/* ingest_int.h - what the files of the ingest share (internal to shards/ingest*.c and
 * shards/predict_input.c): the context of one ingest and the functions of each concern.
 *
 *   ingest.c          the driver: the column plan, types and schema, codes, the manifest
 *   ingest_split.c    the sources: enumeration (rank 0), the header, the broadcast, the work split
 *   ingest_records.c  the records: pass 1 (numbers, type evidence), pass 2 (strings), bad rows
 *   ingest_dict.c     the global dictionaries of text columns and numeric labels
 *   ingest_write.c    the shard files: slabs, collective write, hashes, fsync, renames, rejects
 *   predict_input.c   a CSV read with a fixed schema (hyperfold predict)
 *
 * Names shared between those files carry the hf__ingest_ prefix; everything else is static. */
#ifndef HF_INGEST_INT_H
#define HF_INGEST_INT_H

#include "common/hf.h"
#include "shards/csv.h"
#include "shards/ingest.h"

#include <stddef.h>
#include <stdint.h>

#define HEADER_BLOCK ((size_t)64 << 10)

enum part_kind { PART_PLAIN = 0, PART_GZ = 1, PART_ZIP = 2 };
enum role { ROLE_DROP = -1, ROLE_FEATURE = 0, ROLE_TARGET, ROLE_FOLD, ROLE_GROUP, ROLE_ORDER };
enum mode { MODE_PASS1 = 0, MODE_PASS2, MODE_PREDICT };
/* data.columns' "datetime": a forced type besides the hf_col_type values (the schema never holds
 * it: a datetime column becomes the numeric features of shards/datetime.h). */
#define HF__INGEST_DATETIME 3

typedef struct part {
    char *uri;   /* object URI as it may be printed (hf_source_display) */
    char *open;  /* the URI to open: it may carry credentials, so it is never printed */
    char *entry; /* zip entry name or NULL */
    int kind;
    size_t object; /* index into the object list */
} part;

typedef struct object {
    char *uri;  /* as it may be printed (hf_source_display) */
    char *open; /* as given: only for opening */
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
    const hf_ingest_opts *o;
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
    int *role;              /* per source column */
    int *slot;              /* per source column: index into a row of cells, -1 = not stored */
    int *forced;            /* per source column: -1, an hf_col_type or HF__INGEST_DATETIME */
    const char **dt_format; /* per source column: data.datetime_formats' format or NULL (ISO) */
    size_t nslots;
    int *slot_col;               /* slot -> source column */
    struct hf__name_ix *by_name; /* the header's names sorted (hf__ingest_col_index) */
    const hf_schema *fixed;      /* MODE_PREDICT */
    long *feat_of_col;           /* MODE_PREDICT: source column -> feature index or -1 */
    /* pass 1 results */
    double *cells;
    size_t nrows, cap_cells;
    int64_t *ord; /* local record ordinal of each kept row */
    size_t cap_ord;
    char *kind;   /* per source column, for the current record: 'n' number, 'b' bool, 't' text,
                     'd' a date and time (its time in the cell, shards/datetime.h) */
    int64_t nrec; /* records seen (kept + rejected) */
    int64_t *rejected_ord;
    size_t n_rejected, cap_rejected;
    int64_t *not_numeric, *not_bool; /* per slot flags (0/1) */
    int64_t *not_dt;                 /* per slot: a value that is not an ISO date and time seen */
    int *dt_pending; /* fast path: slots whose not_dt flag is not set yet (the others are done) */
    size_t n_dt_pending;
    char **first_text; /* per slot: the target's first text value (message) */
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
    hf_csv_span *spans;           /* the fields that are not plain numbers (ncols entries) */
    int *text_col_slot;           /* pass 2: per column, its slot if it is a text slot, else -1 */
    char *is_bool;                /* per slot, scratch: the record's value is a boolean */
    struct hf__predict_extra *px; /* MODE_PREDICT: the target and kept columns, or NULL */
} ctx;

/* MODE_PREDICT: what is read besides the features (predict_input.c owns it). */
typedef struct hf__predict_extra {
    long target_col; /* source column of the target to read, or -1 */
    double *y;       /* per kept row: the target (class index or number) */
    size_t cap_y;
    long *keep_col; /* source columns passed through */
    size_t n_keep;
    arena kept;         /* per row, n_keep field texts */
    int64_t *item_rec0; /* per item: the local record ordinal of its first record */
    size_t cap_item_rec0;
} hf__predict_extra;

/* What an ingest builds from the parsed cells: the schema, the slot of each role's column in a
 * row of cells, the global counts, and the arrays written to the shards. */
typedef struct built {
    hf_schema *schema;
    int *feat_slot; /* feature k's slot */
    int *feat_part; /* feature k's hf_dt_part (a part of a datetime column's time), 0: the cell */
    size_t nf;
    int target_slot, fold_slot, group_slot, order_slot; /* -1: none */
    int need_pass2;
    int64_t counts[3]; /* rows kept, records, rows rejected: in all */
    int64_t offs[3];   /* the same before this rank (0 on rank 0) */
    double *X;         /* the cells, compacted to nrows x nf (owned by the context) */
    double *y, *order;
    int64_t *fold, *group, *rowpos;
} built;

/* The default NA texts ("", NA, NaN, null, ?): data.na_values' default, and the NA texts of a
 * prediction input (ingest_opts.c). */
extern char *const hf__ingest_default_na[];
/* Which values an ingest accepts and how it types them, part of the ingest's identity
 * (hf_ingest_opts_hash): change it when a value an older ingest stored would now be refused or
 * typed otherwise, so that its shards are not reused ("target-type": data.columns declaring the
 * target categorical or boolean makes a classification, where older shards kept a regression). */
#define HF__INGEST_VALUE_RULES "finite,datetime,target-type"
#define HF__INGEST_N_DEFAULT_NA 5

/* ingest.c */
/* Zeroes c and sets what every mode shares: the communicator, the byte sources' options and
 * the NA texts (data.na_values; NULL: the defaults of hf_ingest_opts_init). */
void hf__ingest_ctx_init(ctx *c, hf_comm *comm, const hf_source_opts *opts, char *const *na,
                         size_t n_na);
/* Collective: the same status on every rank (the worst one), with the first failing rank's
 * message. */
int hf__ingest_agree(ctx *c, int status);
int hf__ingest_grow(void **p, size_t *cap, size_t need, size_t elem);
int hf__ingest_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n);
int hf__ingest_append_quoted(char **buf, size_t *len, size_t *cap, const char *s, size_t n);
void hf__ingest_ctx_free(ctx *c);
long hf__ingest_col_index(const ctx *c, const char *name);
int hf__ingest_alloc_plan(ctx *c);

/* ingest_split.c */
int hf__ingest_enumerate(ctx *c, const char *uri);
int hf__ingest_read_global_header(ctx *c);
int hf__ingest_share_source(ctx *c, int status);
int hf__ingest_plan_items(ctx *c, item **items, size_t *n_items);
int hf__ingest_open_part_stream(ctx *c, const part *p, uint64_t offset, hf_source **src,
                                hf_csv_stream *st);
/* A column name and its index, for lookups by name in O(log n) (headers of 100,000 columns). */
typedef struct hf__name_ix {
    const char *name; /* borrowed */
    size_t col;
} hf__name_ix;
/* names[0..n) sorted bytewise, equal names by index (caller frees; NULL: out of memory). */
hf__name_ix *hf__ingest_sort_names(char *const *names, size_t n);
/* The index of `name` in a hf__ingest_sort_names array (the first of equal names), or -1. */
long hf__ingest_find_name(const hf__name_ix *sorted, size_t n, const char *name);
/* The column names of a header record (checked: non-empty, distinct). */
int hf__ingest_parse_header(ctx *c, const char *file, const hf_csv_record *rec, char delim,
                            char ***names, size_t *n);
const char *hf__ingest_part_name(const part *p, char *buf, size_t cap);

int hf__ingest_parse_items(ctx *c, item *items, size_t n_items);
void hf__ingest_release_items(item *items, size_t n_items);
void hf__ingest_free_items(item *items, size_t n_items);

/* ingest_dict.c */
int hf__ingest_global_dict(ctx *c, const arena *a, char ***dict, size_t *n);
int hf__ingest_global_values(ctx *c, int s, double **vals, size_t *n);
long hf__ingest_find_str(char *const *dict, size_t n, const char *s);
long hf__ingest_find_dbl(const double *v, size_t n, double x);
char *hf__ingest_format_number(double x);

/* ingest_write.c */
int hf__ingest_remove_old(const char *dir);
/* Collective. Writes b's rows as the manifest's shards into dir: to temporary names, hashed in
 * parallel while rank 0 fsyncs them, then renamed durably; on failure no part file is left. */
int hf__ingest_write_shards(ctx *c, const char *dir, const built *b, hf_manifest *m);
/* Collective. The rejected rows, in source order, into rejects_path (rank 0). */
int hf__ingest_write_rejects(ctx *c, const char *rejects_path, int64_t n_rejected);

#endif
