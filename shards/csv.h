/* csv.h - the CSV reader: RFC 4180 records from a byte stream, fields, numbers, delimiters.
 *
 * Nothing here is collective: the parallel split (quote parity and line numbers exchanged between
 * ranks) is done in ingest.c with these building blocks, and the unit tests drive the same
 * functions to simulate any number of ranks without MPI.
 *
 * Record rules (docs/shards.md): a record ends at a '\n' outside quotes; every '"' toggles the
 * quote state ("" toggles twice), so the state at any byte is the parity of the quotes before it; a
 * '\r' before the '\n' is dropped; empty records (blank lines) are skipped; a UTF-8 BOM before the
 * header is skipped. */
#ifndef HF_CSV_H
#define HF_CSV_H

#include "shards/source.h"

#include <stddef.h>
#include <stdint.h>

/* A sequential byte stream: read() fills up to len bytes, *got == 0 only at the end. */
typedef struct hf_csv_stream {
    int (*read)(void *ctx, char *buf, size_t len, size_t *got);
    void (*close)(void *ctx);
    void *ctx;
} hf_csv_stream;

/* Opens a stream over the bytes of `src` from `offset` to its end (src borrowed). */
int hf_csv_stream_source(hf_source *src, uint64_t offset, hf_csv_stream *out);
/* Opens a stream of the gzip-decompressed bytes of `src` (zlib, concatenated members allowed). */
int hf_csv_stream_gzip(hf_source *src, hf_csv_stream *out);
/* Lists the names of the regular .csv entries of the zip archive `src`, sorted bytewise
 * (caller frees each and the array). */
int hf_csv_zip_entries(hf_source *src, char ***names, size_t *n);
/* Opens a stream of the zip entry `name` of `src` (libarchive, reading through src). */
int hf_csv_stream_zip_entry(hf_source *src, const char *name, hf_csv_stream *out);

/* What part of the stream to return records from. Positions are offsets in the (decompressed)
 * bytes of one part; the stream must start at begin (at_record_start) or at begin - 1. */
typedef struct hf_csv_range {
    uint64_t begin, end; /* return records that START in [begin, end); end = UINT64_MAX: all */
    int at_record_start; /* 1: a record starts at begin and the stream starts at begin; 0: the
                            stream starts at begin - 1 and the first record start is searched */
    int in_quote;        /* quote parity at begin (quotes in [data start, begin) mod 2) */
    int64_t line;        /* 1-based line number of the byte at begin */
    size_t block;        /* read size in bytes (the buffer grows past it for long records);
                            0 = 8 MiB */
    int from_begin;      /* with at_record_start = 0: the bytes start at begin (not begin - 1)
                            and the byte before begin is known not to end a record, so the first
                            record start is searched from begin (hf_csv_reader_open_buffer) */
} hf_csv_range;

typedef struct hf_csv_reader hf_csv_reader;

/* One record returned by hf_csv_reader_next (pointers borrowed until the next call). */
typedef struct hf_csv_record {
    const char *text; /* the record without its newline and trailing '\r' */
    size_t len;
    int64_t line;     /* line number of its first byte */
    uint64_t pos;     /* absolute position of its first byte */
    int unterminated; /* 1: the stream ended inside a quoted field */
} hf_csv_record;

/* Creates a reader over `stream` (taken over: closed by hf_csv_reader_free). */
int hf_csv_reader_open(hf_csv_stream stream, const hf_csv_range *range, hf_csv_reader **out);
/* Next record: returns 1 with *rec filled, 0 at the end of the range, < 0 on a read error. */
int hf_csv_reader_next(hf_csv_reader *r, hf_csv_record *rec);
/* Absolute position of the next record start and its line number. */
uint64_t hf_csv_reader_pos(const hf_csv_reader *r);
int64_t hf_csv_reader_line(const hf_csv_reader *r);
void hf_csv_reader_free(hf_csv_reader *r);

/* Counts '"' and '\n' bytes of a buffer (the per-rank summary that is prefix-summed) in one
 * vectorised pass. */
void hf_csv_count(const char *buf, size_t len, int64_t *quotes, int64_t *newlines);

/* Readable bytes after the data of a buffer, a mapping and a reader's bytes, the first of them a
 * NUL: hf_csv_fast_record scans without bounds checks and stops there. */
#define HF_CSV_PAD 64

/* A part's bytes held in memory for every pass over them: a read-only mapping of a local file,
 * or one ranged read of another source, grown on demand for the tail of the last record. */
typedef struct hf_csv_buffer hf_csv_buffer;

/* Makes the bytes [begin, end) of `src` (borrowed: must outlive the buffer) available in memory.
 * A local file is mapped (MAP_PRIVATE, read-only, MADV_SEQUENTIAL) from begin to the end of the
 * file, so reading past end costs nothing; any other source is read with ONE hf_source_read_at of
 * exactly [begin, end), and the bytes after end are read only when a reader needs them (blocks of
 * 4 KiB, doubling). *out: free with hf_csv_buffer_free. Not collective. */
int hf_csv_buffer_open(hf_source *src, uint64_t begin, uint64_t end, hf_csv_buffer **out);
/* The bytes held now (borrowed; valid until the buffer grows or is freed): *pos is the source
 * offset of the first one, *len how many. */
const char *hf_csv_buffer_bytes(const hf_csv_buffer *b, uint64_t *pos, size_t *len);
/* Frees the buffer (unmaps or frees its memory); NULL is ignored. */
void hf_csv_buffer_free(hf_csv_buffer *b);
/* Creates a reader over the bytes of `b` (borrowed: must outlive the reader; records point into
 * it, so nothing is copied). range->begin must be the buffer's first byte, or the byte after it
 * with at_record_start = 0 and from_begin = 0. Not collective. */
int hf_csv_reader_open_buffer(hf_csv_buffer *b, const hf_csv_range *range, hf_csv_reader **out);

/* Maps a local file source read-only from `offset` to its end (defined in source.c, which owns
 * the file descriptor), followed by at least one page of zeros (so HF_CSV_PAD holds). Returns 1
 * with *data, *len set and *map, *map_len the whole mapping (for munmap), 0 if the source is not
 * a local file (nothing mapped) or empty past offset, < 0 on an error. A file truncated while
 * mapped raises SIGBUS on access. Not collective. */
int hf_source_map(hf_source *s, uint64_t offset, const char **data, size_t *len, void **map,
                  size_t *map_len);

/* The unread bytes from the next record start, for hf_csv_fast_record: returns 1 with *p and
 * *avail set (borrowed until the next reader call; p[avail] is a NUL followed by more padding,
 * see HF_CSV_PAD), 0 when the range is finished. */
int hf_csv_reader_peek(hf_csv_reader *r, const char **p, size_t *avail);
/* Consumes `n` bytes holding one complete single-line record (its line end included), after
 * hf_csv_fast_record accepted them. */
void hf_csv_reader_skip_line(hf_csv_reader *r, size_t n);

/* A field of a record taken by hf_csv_fast_record that is not a plain number. */
typedef struct hf_csv_span {
    size_t col; /* column index */
    size_t off; /* offset of its first byte from the record start */
    size_t len;
} hf_csv_span;

/* Fast path for the common record: one unquoted line of exactly `ncols` fields separated by
 * `delim`. Every field j with slot[j] >= 0 that is a plain decimal number
 * ([+-]digits[.digits][(e|E)[+-]digits], no blanks, no words) is stored in row[slot[j]] (exactly
 * as hf_csv_parse_double); an empty one is stored as NaN when empty_na is 1; any other such field
 * is listed in others[0..*n_others) (room for ncols entries) for the caller to interpret; with
 * row NULL, every such field is listed (a plain split). Fields with slot[j] < 0 are skipped. p
 * points at a record start with `avail` bytes followed by a NUL (HF_CSV_PAD); the line end ("\n" or
 * "\r\n", not part of any field) must lie within them. Returns the bytes consumed including the
 * line end, or 0 when the record needs the general reader (a quote, a NUL, another field count, a
 * blank line, no line end in avail, an empty field when empty_na is 0); row is then partly written.
 */
size_t hf_csv_fast_record(const char *p, size_t avail, char delim, size_t ncols, const int *slot,
                          int empty_na, double *row, hf_csv_span *others, size_t *n_others);

/* One field of a split record. */
typedef struct hf_csv_field {
    const char *p; /* value bytes: into the record, or into the fields' scratch when unescaped */
    size_t len;
    size_t off; /* offset of the field's first byte in the record */
    int quoted;
} hf_csv_field;

/* Reusable field list: grows geometrically, never allocates per record once warm. */
typedef struct hf_csv_fields {
    hf_csv_field *f;
    size_t n, cap;
    char *scratch;
    size_t scratch_cap;
} hf_csv_fields;

/* Splits a record into fields. On a malformed record returns HF_EDATA without recording an
 * error; *reason is a static text ("an unterminated quoted field", ...) and *err_off the offset
 * in the record where the problem is. */
int hf_csv_split(const char *rec, size_t len, char delim, hf_csv_fields *out, const char **reason,
                 size_t *err_off);
void hf_csv_fields_free(hf_csv_fields *f);

/* The delimiter among , ; TAB | that occurs most often outside quotes in `header` (ties in that
 * order; ',' if none occurs). */
char hf_csv_detect_delimiter(const char *header, size_t len);
/* Length of a UTF-8 byte order mark at the start of buf (3 or 0). */
size_t hf_csv_bom_len(const char *buf, size_t len);

/* Parses a decimal number (surrounding blanks allowed; nan, any case, is a number whose value is
 * NaN, i.e. missing). Returns 1 and sets *out if the whole text is a finite number (or nan); 0 if
 * it is not a number; HF_EDATA (no error recorded, *out untouched) if it is a number that is not
 * finite: inf/infinity (any case, signed or not) or a magnitude that overflows a double (1e400,
 * a 400-digit integer). Callers test > 0 for a usable value and report HF_EDATA as "expected a
 * finite number" (ingest, predict input, and any future reader of data values). A magnitude
 * below the smallest subnormal (1e-400) is 0, finite. Exact: Clinger's fast path, strtod
 * otherwise. */
int hf_csv_parse_double(const char *p, size_t len, double *out);
/* 1 for true/True/TRUE, 0 for false/False/FALSE, -1 for anything else. */
int hf_csv_parse_bool(const char *p, size_t len);
/* Offset of the first byte that is not valid UTF-8 (or a NUL), or len if the text is valid. */
size_t hf_csv_utf8_check(const char *p, size_t len);
/* 1 if the text equals one of the NA tokens. */
int hf_csv_is_na(const char *p, size_t len, char *const *na, size_t n_na);
/* Line and 1-based column of byte `off` of a record that starts at `line` (records may span lines).
 */
void hf_csv_locate(const char *rec, size_t off, int64_t line, int64_t *out_line, int64_t *out_col);
/* Writes a printable, truncated (to about 60 bytes) form of a value for messages into buf. */
void hf_csv_quote_for_message(const char *p, size_t len, char *buf, size_t cap);

#endif
