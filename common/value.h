/* value.h - a typed scalar: the value of one hyperparameter in a trial, or a spec setting. */
#ifndef HF_VALUE_H
#define HF_VALUE_H

#include <stdint.h>
#include <stddef.h>

typedef enum hf_value_type {
    HF_VAL_NONE = 0,
    HF_VAL_NUMBER, /* double */
    HF_VAL_INT,    /* int64_t */
    HF_VAL_BOOL,   /* int 0/1 */
    HF_VAL_STRING  /* NUL-terminated, owned by whoever owns the containing array */
} hf_value_type;

typedef struct hf_value {
    hf_value_type type;
    union {
        double num;
        int64_t i;
        int b;
        char *str;
    } u;
} hf_value;

/* Numeric view of a value (NUMBER, INT or BOOL); NAN for strings. */
double hf_value_as_double(const hf_value *v);
/* Writes a printable form ("0.001", "true", "standard") into buf; returns buf. Numbers use %.17g
 * trimmed to the shortest form that round-trips. */
char *hf_value_format(const hf_value *v, char *buf, size_t len);
/* 1 if equal (same type and value; strings by content). */
int hf_value_equal(const hf_value *a, const hf_value *b);
/* Deep copy (duplicates strings). */
int hf_value_copy(hf_value *dst, const hf_value *src);
void hf_value_free(hf_value *v);

#endif
