/* scalapack.h - prototypes of the BLACS, ScaLAPACK and PBLAS routines hyperfold calls.
 *
 * Debian's ScaLAPACK 2.2.1 (libscalapack-openmpi) ships no C header. The C BLACS interface
 * (Cblacs_*) takes its arguments by value; the Fortran routines (lower case, trailing underscore)
 * take every argument by pointer, and every character argument adds a hidden size_t length at the
 * end of the argument list (gfortran calling convention). Matrices are column-major and described
 * by a 9-integer array descriptor filled by descinit_. Only worker/group.c and worker/dist.c (and
 * the models built on them) include this header. */
#ifndef HF_SCALAPACK_H
#define HF_SCALAPACK_H

#include <mpi.h>
#include <stddef.h>

/* Array descriptor entries (0-based indices into the 9-integer descriptor). */
enum {
    HF_DESC_DTYPE = 0,
    HF_DESC_CTXT = 1,
    HF_DESC_M = 2,
    HF_DESC_N = 3,
    HF_DESC_MB = 4,
    HF_DESC_NB = 5,
    HF_DESC_RSRC = 6,
    HF_DESC_CSRC = 7,
    HF_DESC_LLD = 8,
    HF_DESC_LEN = 9
};

/* C BLACS. */
void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_get(int icontxt, int what, int *val);
void Cblacs_gridinit(int *icontxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int icontxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int icontxt);
void Cblacs_exit(int notdone);
void Cblacs_barrier(int icontxt, const char *scope);
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);

/* ScaLAPACK TOOLS. */
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);

/* Cholesky factorisation and solve of a distributed symmetric positive definite matrix. */
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, int *info, size_t uplo_len);
void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *ia,
              const int *ja, const int *desca, double *b, const int *ib, const int *jb,
              const int *descb, int *info, size_t uplo_len);
void pdposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *ia,
             const int *ja, const int *desca, double *b, const int *ib, const int *jb,
             const int *descb, int *info, size_t uplo_len);

/* Divide-and-conquer symmetric eigensolver (eigenvalues ascending). lwork = liwork = -1 queries
 * the workspace sizes into work[0] and iwork[0]. */
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia,
              const int *ja, const int *desca, double *w, double *z, const int *iz, const int *jz,
              const int *descz, double *work, const int *lwork, int *iwork, const int *liwork,
              int *info, size_t jobz_len, size_t uplo_len);

/* Argument errors reported inside ScaLAPACK and PBLAS. ScaLAPACK's routines report an illegal
 * argument through PXERBLA (which prints a line and returns, so the caller goes on with a
 * result that may be garbage) and PBLAS's through PB_Cabort (which prints and aborts the whole
 * MPI job). worker/dist.c defines both symbols; the executable's definitions take precedence over
 * the library's (its internal calls go through the PLT), so every such report is recorded here,
 * per thread, instead. hf_scalapack_take_error returns 1 and the routine name and argument
 * number of the first report since the last call (then forgets it), or 0 if there was none. */
int hf_scalapack_take_error(char *routine, size_t len, int *arg);

#endif
