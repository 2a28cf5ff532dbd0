/* suggest.h - "did you mean" suggestions for unknown keys, values and column names. */
#ifndef HF_SUGGEST_H
#define HF_SUGGEST_H

#include <stddef.h>

/* Damerau-Levenshtein (optimal string alignment) distance between two strings. */
size_t hf_edit_distance(const char *a, const char *b);
/* The candidate closest to `word` if it is close enough to be a likely typo, else NULL.
 * Borrowed from `candidates` (n entries, or NULL-terminated when n == 0). */
const char *hf_suggest(const char *word, const char *const *candidates, size_t n);

#endif
