#include "common/csvw.h"

#include "common/hf.h"

#include <stdlib.h>
#include <string.h>

void hf_csvw_put_field(FILE *fp, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

size_t hf_pred_class(const double *p, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (p[k] > p[best])
            best = k;
    return best;
}

void hf_csvw_put_pred_header(FILE *fp, const hf_schema *s)
{
    fputs("prediction", fp);
    for (size_t k = 0; s->task == HF_TASK_CLASSIFICATION && k < s->n_classes; k++) {
        char *h = hf_asprintf("proba_%s", s->classes[k]);
        fputc(',', fp);
        hf_csvw_put_field(fp, h ? h : "");
        free(h);
    }
}

void hf_csvw_put_pred(FILE *fp, const hf_schema *s, const double *p, size_t n_outputs)
{
    if (s->task != HF_TASK_CLASSIFICATION) {
        fprintf(fp, "%.17g", p[0]);
        return;
    }
    hf_csvw_put_field(fp, s->classes[hf_pred_class(p, n_outputs)]);
    for (size_t k = 0; k < n_outputs; k++)
        fprintf(fp, ",%.17g", p[k]);
}
