// GEMM for CPUs: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], row-major, with the same
// arguments as matmul.cl's gemm, any sizes.
//
// Each work-item computes a WORK_M x WORK_N block of C (WORK_N = 8 or 16) held in WORK_M vector
// registers: per step of k it loads one vector of B's row and adds A(m, k) times it to each row's
// accumulator. That is the register-blocked inner loop of CPU BLAS kernels, written with OpenCL
// vector types so the compiler emits SIMD instructions directly instead of having to vectorize
// across work-items (which a loop over K inside each work-item defeats). Work-items of a group
// run along N and share their rows of A through the cache.

#include "muladd.h"

#ifndef WORK_M
#define WORK_M 8
#endif
#ifndef WORK_N
#define WORK_N 16
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatW CAT(float, WORK_N)
#define vloadW CAT(vload, WORK_N)
#define vstoreW CAT(vstore, WORK_N)

#if TRANS_A
#define A_AT(m, k) A[(long)(k) * lda + (m)]
#else
#define A_AT(m, k) A[(long)(m) * lda + (k)]
#endif

__kernel void gemm_cpu(const int M, const int N, const int K, const float alpha,
                       __global const float* A, const ulong offset_a, const int lda,
                       const ulong stride_a, __global const float* B, const ulong offset_b,
                       const int ldb, const ulong stride_b, const float beta, __global float* C,
                       const ulong offset_c, const int ldc, const ulong stride_c) {
  const int n0 = get_global_id(0) * WORK_N, m0 = get_global_id(1) * WORK_M;
  if (n0 >= N || m0 >= M) return;  // the global size is rounded up to whole work-groups
  const ulong batch = get_global_id(2);
  A += offset_a + batch * stride_a;
  B += offset_b + batch * stride_b;
  C += offset_c + batch * stride_c;

  int rows[WORK_M];  // clamped: rows past M compute duplicates that are never stored
  for (int i = 0; i < WORK_M; ++i) rows[i] = min(m0 + i, M - 1);
  floatW acc[WORK_M];
  for (int i = 0; i < WORK_M; ++i) acc[i] = (floatW)(0.0f);

  const bool whole = n0 + WORK_N <= N;
#if TRANS_B && !TRANS_A
  // Both operands run along k (B is stored N x K): the block is computed as 4 x 4 groups of dot
  // products, each accumulated in vectors along k and summed across lanes at the end, instead of
  // gathering a column of B element by element per k (which ran at half the speed).
  float block[WORK_M][WORK_N];
  for (int i0 = 0; i0 < WORK_M; i0 += 4)
    for (int j0 = 0; j0 < WORK_N; j0 += 4) {
      __global const float* a[4];
      __global const float* b[4];
      for (int u = 0; u < 4; ++u) {
        a[u] = A + (long)rows[min(i0 + u, WORK_M - 1)] * lda;
        b[u] = B + (long)min(n0 + j0 + u, N - 1) * ldb;
      }
      floatW dots[4][4];
      for (int u = 0; u < 4; ++u)
        for (int v = 0; v < 4; ++v) dots[u][v] = (floatW)(0.0f);
      int k = 0;
      for (; k + WORK_N <= K; k += WORK_N) {
        floatW av[4], bv[4];
        for (int u = 0; u < 4; ++u) av[u] = vloadW(0, a[u] + k), bv[u] = vloadW(0, b[u] + k);
        for (int u = 0; u < 4; ++u)
          for (int v = 0; v < 4; ++v) dots[u][v] = MULADD(av[u], bv[v], dots[u][v]);
      }
      for (int u = 0; u < 4 && i0 + u < WORK_M; ++u)
        for (int v = 0; v < 4 && j0 + v < WORK_N; ++v) {
          float lanes[WORK_N];
          vstoreW(dots[u][v], 0, lanes);
          float sum = 0.0f;
          for (int l = 0; l < WORK_N; ++l) sum += lanes[l];
          for (int kk = k; kk < K; ++kk) sum = MULADD(a[u][kk], b[v][kk], sum);
          block[i0 + u][j0 + v] = sum;
        }
    }
  for (int i = 0; i < WORK_M; ++i) acc[i] = vloadW(0, block[i]);
#else
  if (whole && !TRANS_B) {
    for (int k = 0; k < K; ++k) {
      const floatW b = vloadW(0, B + (long)k * ldb + n0);
      for (int i = 0; i < WORK_M; ++i) acc[i] = MULADD((floatW)(A_AT(rows[i], k)), b, acc[i]);
    }
  } else {
    // Columns gathered one by one: op(B) transposed, or the last block of a row.
    float column[WORK_N];
    for (int k = 0; k < K; ++k) {
      for (int j = 0; j < WORK_N; ++j) {
        const int n = min(n0 + j, N - 1);
        column[j] = TRANS_B ? B[(long)n * ldb + k] : B[(long)k * ldb + n];
      }
      const floatW b = vloadW(0, column);
      for (int i = 0; i < WORK_M; ++i) acc[i] = MULADD((floatW)(A_AT(rows[i], k)), b, acc[i]);
    }
  }
#endif

  for (int i = 0; i < WORK_M && m0 + i < M; ++i) {
    __global float* c = C + (long)(m0 + i) * ldc + n0;
    const floatW r = alpha * acc[i];
    if (whole) {
      vstoreW(beta == 0.0f ? r : MULADD((floatW)(beta), vloadW(0, c), r), 0, c);
    } else {
      float out[WORK_N];
      vstoreW(r, 0, out);
      for (int j = 0; j < N - n0; ++j) c[j] = beta == 0.0f ? out[j] : out[j] + beta * c[j];
    }
  }
}
