/* csvw.h - writing CSV (RFC 4180) output: results' trials.csv, predictions, rejects. */
#ifndef HF_CSVW_H
#define HF_CSVW_H

#include <stdio.h>

/* Writes one field, quoted (with doubled quotes) when it holds a comma, quote, CR or LF. */
void hf_csvw_put_field(FILE *fp, const char *s);

#endif
