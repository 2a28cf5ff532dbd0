/* fuzz_util.h - what every libFuzzer harness of tests/fuzz shares.
 *
 * A harness reports a finding to libFuzzer by crashing: the sanitizers do it for memory errors and
 * undefined behaviour; hf_fuzz_check() aborts on a broken invariant (a differential mismatch, an
 * error returned without its message). */
#ifndef HF_FUZZ_UTIL_H
#define HF_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Once per process: quiet logging, HDF5's error stack off, a private scratch directory. */
void hf_fuzz_init(void);

/* Aborts with the message when `ok` is 0 (a finding). */
#define hf_fuzz_check(ok, ...) hf_fuzz_check_at((ok), __FILE__, __LINE__, __VA_ARGS__)
void hf_fuzz_check_at(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The convention of common/hf.h after a call returned rc: a failure (rc < 0) has recorded a
 * one-line message with its code; a success leaves no pending message behind (it would hide the
 * message of the next failure, "first error wins"). Clears the message afterwards. With
 * HF_FUZZ_VERBOSE set in the environment, prints each outcome (for reading a reproducer). */
void hf_fuzz_check_status(int rc, const char *what);

/* The bytes as a NUL-terminated string (caller frees). */
char *hf_fuzz_strndup(const uint8_t *data, size_t size);

/* Writes the bytes to a file in the process's scratch directory (on tmpfs when there is one) and
 * returns its path (static storage, the same name on every call with the same `name`). */
const char *hf_fuzz_write_file(const char *name, const uint8_t *data, size_t size);

/* The scratch directory (created by hf_fuzz_init). */
const char *hf_fuzz_scratch_dir(void);

/* A little-endian reader over the fuzz input: takes bytes from the front; returns zeros when the
 * input is exhausted. */
typedef struct hf_fuzz_input {
    const uint8_t *p;
    size_t left;
} hf_fuzz_input;

uint8_t hf_fuzz_u8(hf_fuzz_input *in);
uint32_t hf_fuzz_u32(hf_fuzz_input *in);
uint64_t hf_fuzz_u64(hf_fuzz_input *in);
/* A value in [0, n) (0 when n == 0). */
uint64_t hf_fuzz_below(hf_fuzz_input *in, uint64_t n);
/* Takes up to `max` bytes as a NUL-terminated string of length taken from the input (caller
 * frees). */
char *hf_fuzz_str(hf_fuzz_input *in, size_t max);

#endif
