/* suggest.c - "did you mean" suggestions for unknown keys and enum values. */
#include "common/suggest.h"

#include "common/hf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
 * adjacent characters each cost 1. Three rolling rows keep the memory at O(len(b)). */
size_t hf_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t result = la > lb ? la : lb;
    size_t *prev2 = calloc(lb + 1, sizeof *prev2);
    size_t *prev = calloc(lb + 1, sizeof *prev);
    size_t *cur = calloc(lb + 1, sizeof *cur);
    if (!prev2 || !prev || !cur)
        goto out;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    result = prev[lb];
out:
    free(prev2);
    free(prev);
    free(cur);
    return result;
}

/* The closest candidate within a typo's distance, or NULL; borrowed from `candidates`.
 * Not collective. */
const char *hf_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t len = strlen(word);
    /* The same word in other letter case ("status" for "Status") first. */
    for (size_t i = 0; n ? i < n : candidates[i] != NULL; i++)
        if (strcasecmp(word, candidates[i]) == 0)
            return candidates[i];
    /* A typo changes at most a third of a word (at least 1, at most 3 edits). */
    size_t limit = len / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    for (size_t i = 0; n ? i < n : candidates[i] != NULL; i++) {
        size_t d = hf_edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    if (best && best_d <= limit && best_d < strlen(best))
        return best;
    return NULL;
}
