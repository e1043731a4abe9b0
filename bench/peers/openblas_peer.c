/* OpenBLAS sgemm peer for the GEMM benchmarks: times cblas_sgemm on row-major operands.
 * Usage: openblas_peer M N K transA transB threads reps   (transA/transB: 0 or 1)
 * Prints one JSON line {"gflops": median, ...}. Build: gcc -O2 openblas_peer.c -lopenblas
 * Run with OPENBLAS_CORETYPE=SKYLAKEX (or COOPERLAKE): auto-detection on Zen 5 picks a generic kernel. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern void openblas_set_num_threads(int);
extern char* openblas_get_corename(void); /* which kernel OpenBLAS actually runs */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: %s M N K transA transB threads reps\n", argv[0]);
    return 2;
  }
  const int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]);
  const int ta = atoi(argv[4]), tb = atoi(argv[5]), threads = atoi(argv[6]);
  int reps = atoi(argv[7]);
  if (M <= 0 || N <= 0 || K <= 0 || threads <= 0 || reps <= 0) {
    fprintf(stderr, "sizes, threads and reps must be positive\n");
    return 2;
  }
  if (reps > 1000) reps = 1000;
  openblas_set_num_threads(threads);
  float* A = malloc(sizeof(float) * (size_t)M * K);
  float* B = malloc(sizeof(float) * (size_t)K * N);
  float* C = malloc(sizeof(float) * (size_t)M * N);
  if (!A || !B || !C) return 1;
  for (size_t i = 0; i < (size_t)M * K; ++i) A[i] = (float)((i * 7919 % 1000) / 1000.0 - 0.5);
  for (size_t i = 0; i < (size_t)K * N; ++i) B[i] = (float)((i * 104729 % 1000) / 1000.0 - 0.5);
  for (size_t i = 0; i < (size_t)M * N; ++i) C[i] = 0.f;
  /* Row-major: A is M x K (or K x M stored, when transposed), B is K x N (or N x K). */
  const int lda = ta ? M : K, ldb = tb ? K : N;
  const enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  double flops = 2.0 * M * N * K;
  double t0 = now_s();
  int warm = 0;
  do { /* warm-up: at least 2 calls and 0.2 s */
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N);
    ++warm;
  } while (warm < 2 || now_s() - t0 < 0.2);
  double* t = malloc(sizeof(double) * reps);
  for (int r = 0; r < reps; ++r) {
    double s = now_s();
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N);
    t[r] = now_s() - s;
  }
  qsort(t, reps, sizeof(double), cmp_double);
  double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
  printf("{\"gflops\": %.2f, \"M\": %d, \"N\": %d, \"K\": %d, \"transA\": %d, \"transB\": %d, \"threads\": %d, "
         "\"median_ms\": %.4f, \"core\": \"%s\"}\n", flops / med * 1e-9, M, N, K, ta, tb, threads, med * 1e3,
         openblas_get_corename());
  free(t); free(A); free(B); free(C);
  return 0;
}
