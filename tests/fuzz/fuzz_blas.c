/* fuzz_blas.c - bounds checks on the BLAS calls hyperfold makes.
 *
 * OpenBLAS is not instrumented: a read or write past an array inside cblas_ddot goes unseen by
 * AddressSanitizer (a model read from a file with a 0 x p "coef" made ridge's predict read p
 * values of a one-value array without a report). Every harness links these definitions of the
 * level-1 to level-3 routines hyperfold calls; the static library's calls resolve to them, they
 * check that every element the routine may touch lies in addressable memory
 * (__asan_region_is_poisoned) and forward to OpenBLAS (dlsym RTLD_NEXT). */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <cblas.h>
#include <dlfcn.h>
#include <sanitizer/asan_interface.h>
#include <stdio.h>
#include <stdlib.h>

static void *next(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "fuzz_blas: %s not found\n", name);
        abort();
    }
    return f;
}

/* Elements spanned by a vector of n with stride inc. */
static size_t vec_span(blasint n, blasint inc)
{
    if (n <= 0)
        return 0;
    size_t a = (size_t)(inc < 0 ? -(long)inc : (long)inc);
    return (size_t)(n - 1) * a + 1;
}

/* Elements spanned by a rows x cols matrix with leading dimension ld. */
static size_t mat_span(enum CBLAS_ORDER order, blasint rows, blasint cols, blasint ld)
{
    if (rows <= 0 || cols <= 0)
        return 0;
    if (order == CblasColMajor)
        return (size_t)(cols - 1) * (size_t)ld + (size_t)rows;
    return (size_t)(rows - 1) * (size_t)ld + (size_t)cols;
}

static void check(const char *fn, const char *arg, const double *p, size_t n)
{
    if (n == 0)
        return;
    void *bad = __asan_region_is_poisoned((void *)p, n * sizeof(double));
    hf_fuzz_check(bad == NULL,
                  "%s: %s spans %zu doubles from %p, but %p is not addressable (%td doubles in)",
                  fn, arg, n, (const void *)p, bad, (const double *)bad - p);
}

double cblas_ddot(OPENBLAS_CONST blasint n, OPENBLAS_CONST double *x, OPENBLAS_CONST blasint incx,
                  OPENBLAS_CONST double *y, OPENBLAS_CONST blasint incy)
{
    static double (*real)(blasint, const double *, blasint, const double *, blasint);
    if (!real)
        *(void **)&real = next("cblas_ddot");
    check("cblas_ddot", "x", x, vec_span(n, incx));
    check("cblas_ddot", "y", y, vec_span(n, incy));
    return real(n, x, incx, y, incy);
}

void cblas_dgemv(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans,
                 OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n, OPENBLAS_CONST double alpha,
                 OPENBLAS_CONST double *a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST double *x,
                 OPENBLAS_CONST blasint incx, OPENBLAS_CONST double beta, double *y,
                 OPENBLAS_CONST blasint incy)
{
    static void (*real)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, double,
                        const double *, blasint, const double *, blasint, double, double *,
                        blasint);
    if (!real)
        *(void **)&real = next("cblas_dgemv");
    int t = trans != CblasNoTrans;
    check("cblas_dgemv", "A", a, mat_span(order, m, n, lda));
    check("cblas_dgemv", "x", x, vec_span(t ? m : n, incx));
    check("cblas_dgemv", "y", y, vec_span(t ? n : m, incy));
    real(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

void cblas_dgemm(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m,
                 OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k, OPENBLAS_CONST double alpha,
                 OPENBLAS_CONST double *a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST double *b,
                 OPENBLAS_CONST blasint ldb, OPENBLAS_CONST double beta, double *c,
                 OPENBLAS_CONST blasint ldc)
{
    static void (*real)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                        blasint, blasint, double, const double *, blasint, const double *, blasint,
                        double, double *, blasint);
    if (!real)
        *(void **)&real = next("cblas_dgemm");
    int tA = ta != CblasNoTrans, tB = tb != CblasNoTrans;
    if (k > 0) {
        check("cblas_dgemm", "A", a, mat_span(order, tA ? k : m, tA ? m : k, lda));
        check("cblas_dgemm", "B", b, mat_span(order, tB ? n : k, tB ? k : n, ldb));
    }
    check("cblas_dgemm", "C", c, mat_span(order, m, n, ldc));
    real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
