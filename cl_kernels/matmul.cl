// Tiled matrix multiply, batched: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], row-major.
// op(A) is M x K and op(B) is K x N; with TRANS_A the stored A is K x M (likewise TRANS_B).
// A work-group computes a TILE_M x TILE_N block of C; each work-item a WORK_M x WORK_N block of
// it, with rows ty + i*LY and columns tx + j*LX so that neighbouring work-items touch neighbouring
// elements. The tiles come from the LaunchPlanner (-D options); USE_LOCAL_MEMORY stages the
// operand tiles in local memory (GPUs), otherwise they are read through the cache (CPUs).
// beta == 0 never reads C.

#include "gemm_arguments.h"
#include "muladd.h"

#ifndef TILE_M
#define TILE_M 32
#endif
#ifndef TILE_N
#define TILE_N 32
#endif
#ifndef TILE_K
#define TILE_K 8
#endif
#ifndef WORK_M
#define WORK_M 4
#endif
#ifndef WORK_N
#define WORK_N 4
#endif
#ifndef USE_LOCAL_MEMORY
#define USE_LOCAL_MEMORY 1
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#define LX (TILE_N / WORK_N)
#define LY (TILE_M / WORK_M)

#if TRANS_A
#define A_AT(m, k) A[(k) * lda + (m)]
#else
#define A_AT(m, k) A[(m) * lda + (k)]
#endif
#if TRANS_B
#define B_AT(k, n) B[(n) * ldb + (k)]
#else
#define B_AT(k, n) B[(k) * ldb + (n)]
#endif

__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm(GEMM_ARGUMENTS) {
  const int tx = get_local_id(0), ty = get_local_id(1);
  const int n0 = get_group_id(0) * TILE_N, m0 = get_group_id(1) * TILE_M;
  const ulong batch = get_global_id(2);
  A += offset_a + batch * stride_a;
  B += offset_b + batch * stride_b;
  C += offset_c + batch * stride_c;

  float acc[WORK_M][WORK_N];
  for (int i = 0; i < WORK_M; ++i)
    for (int j = 0; j < WORK_N; ++j) acc[i][j] = 0.0f;

#if USE_LOCAL_MEMORY
  __local float As[TILE_K][TILE_M];
  __local float Bs[TILE_K][TILE_N];
  const int tid = ty * LX + tx;
  for (int k0 = 0; k0 < K; k0 += TILE_K) {
    // Loads walk the stored matrix's contiguous dimension, so they coalesce.
    for (int i = tid; i < TILE_M * TILE_K; i += LX * LY) {
#if TRANS_A
      const int kk = i / TILE_M, mm = i % TILE_M;
#else
      const int mm = i / TILE_K, kk = i % TILE_K;
#endif
      const int m = m0 + mm, k = k0 + kk;
      As[kk][mm] = (m < M && k < K) ? A_AT(m, k) : 0.0f;
    }
    for (int i = tid; i < TILE_N * TILE_K; i += LX * LY) {
#if TRANS_B
      const int nn = i / TILE_K, kk = i % TILE_K;
#else
      const int kk = i / TILE_N, nn = i % TILE_N;
#endif
      const int n = n0 + nn, k = k0 + kk;
      Bs[kk][nn] = (n < N && k < K) ? B_AT(k, n) : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int kk = 0; kk < TILE_K; ++kk) {
      float a[WORK_M], b[WORK_N];
      for (int i = 0; i < WORK_M; ++i) a[i] = As[kk][ty + i * LY];
      for (int j = 0; j < WORK_N; ++j) b[j] = Bs[kk][tx + j * LX];
      for (int i = 0; i < WORK_M; ++i)
        for (int j = 0; j < WORK_N; ++j) acc[i][j] = MULADD(a[i], b[j], acc[i][j]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#else
  int rows[WORK_M], cols[WORK_N];
  for (int i = 0; i < WORK_M; ++i) rows[i] = min(m0 + ty + i * LY, M - 1);
  for (int j = 0; j < WORK_N; ++j) cols[j] = min(n0 + tx + j * LX, N - 1);
  for (int k = 0; k < K; ++k) {
    float a[WORK_M], b[WORK_N];
    for (int i = 0; i < WORK_M; ++i) a[i] = A_AT(rows[i], k);
    for (int j = 0; j < WORK_N; ++j) b[j] = B_AT(k, cols[j]);
    for (int i = 0; i < WORK_M; ++i)
      for (int j = 0; j < WORK_N; ++j) acc[i][j] = MULADD(a[i], b[j], acc[i][j]);
  }
#endif

  for (int i = 0; i < WORK_M; ++i) {
    const int m = m0 + ty + i * LY;
    if (m >= M) continue;
    for (int j = 0; j < WORK_N; ++j) {
      const int n = n0 + tx + j * LX;
      if (n >= N) continue;
      __global float* c = C + (ulong)m * ldc + n;
      *c = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
    }
  }
}

// c[offset_c + i] = alpha * sum_s partial[offset_p + s * mn + i] + beta * c[...]: the slices
// of a split-K product summed into C (contiguous, mn elements). beta == 0 never reads C.
#include "epilogue.h"  // a split convolution's activation, applied by the sum

// With -DCOL_BIAS=1, col_bias[i % columns] joins each sum before alpha (gemm_vec4's COL_BIAS).
__kernel void gemm_sum_slices(__global const float* partial, const ulong offset_p,
                              const int slices, const ulong mn, const float alpha,
                              const float beta, __global float* c, const ulong offset_c
#if COL_BIAS
                              , __global const float* col_bias, const int columns
#endif
                              ) {
  partial += offset_p;
  c += offset_c;
  for (ulong i = get_global_id(0); i < mn; i += get_global_size(0)) {
    float acc = 0.0f;
    for (int s = 0; s < slices; ++s) acc += partial[s * mn + i];
#if COL_BIAS
    acc += col_bias[i % columns];
#endif
    c[i] = FINISH(beta == 0.0f ? alpha * acc : alpha * acc + beta * c[i]);
  }
}
