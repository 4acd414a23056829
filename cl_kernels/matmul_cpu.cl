// GEMM for CPUs: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], row-major, with the same
// arguments as matmul.cl's gemm, any sizes.
//
// Each work-item computes a WORK_M x WORK_N block of C held in WORK_M x VECS vector registers of
// VEC floats: per step of k it loads VECS vectors of B's row and adds A(m, k) times them to each
// row's accumulators. That is the register-blocked inner loop of CPU BLAS kernels, written with
// OpenCL vector types so the compiler emits SIMD instructions directly instead of having to
// vectorize across work-items (which a loop over K inside each work-item defeats). With one
// vector a row (8 x 16 on AVX-512) a step took 9 loads for 8 multiply-adds, and the load ports
// set the pace; 8 rows of 3 vectors take 11 loads for 24. Work-items of a group run along N and
// share their rows of A through the cache, or (TILE_K > 1) along M and share the rows of B: then
// a barrier after every TILE_K steps of k makes PoCL run each step for the whole group before the
// next (it loops over the work-items between barriers, keeping their sums aside), so the group's
// TILE_K rows of B, read once from memory, serve every block of rows from the cache.
//
// With -DROW_BIAS=1 the kernel takes one more argument, bias, and finishes C as a convolution's
// output: C = FINISH(alpha * op(A) op(B) + beta * C + bias[m]) (epilogue.h), so that a pointwise
// convolution needs no second pass over its output (ops/conv_pointwise.cpp). With -DCOL_BIAS=1
// it takes col_bias instead and adds col_bias[n] to column n (a Linear layer's bias; the host
// passes alpha 1).

#include "gemm_arguments.h"
#include "muladd.h"
#include "epilogue.h"

#ifndef WORK_M
#define WORK_M 8
#endif
#ifndef WORK_N
#define WORK_N 16
#endif
#ifndef TILE_K
#define TILE_K 1
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef ROW_BIAS
#define ROW_BIAS 0
#endif
#ifndef COL_BIAS
#define COL_BIAS 0
#endif
// Rows of B ahead of k that each step prefetches (TILE_K == 1), where the compiler targets a CPU
// (PoCL's prefetch() is empty; clang's builtin emits the instruction). B's rows lie a row of the
// activations apart (2.9 KB for a 27 x 27 plane): farther than the core's stride prefetcher
// follows, and across pages, so each step waited on its row, at twice the time where the other
// core had just written B. On the 2-core AVX-512 Xeon (clnn-run, five alternated rounds, batch
// 1): squeezenet1_1 5.97 -> 5.35 ms, mobilenet_v2 6.80 -> 6.33 (32 rows ahead: 5.57, 6.59); batch
// 32: 160 -> 144-150 and 186-193 -> 173-180. Steps between barriers (TILE_K > 1) read rows of B
// that the group shares from the cache, where prefetching slowed SGEMM 1024 by a fifth.
#if !defined(B_PREFETCH) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__))
#define B_PREFETCH 16
#endif
#ifndef COLUMNS_FIRST
#define COLUMNS_FIRST 0
#endif

// The widest vector of 16, 8 or 4 floats that divides WORK_N (LaunchPlanner::fits allows at
// most 4 of them).
#if WORK_N % 16 == 0
#define VEC 16
#elif WORK_N % 8 == 0
#define VEC 8
#else
#define VEC 4
#endif
#define VECS (WORK_N / VEC)

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatV CAT(float, VEC)
#define vloadV CAT(vload, VEC)
#define vstoreV CAT(vstore, VEC)

#if TRANS_A
#define A_AT(m, k) A[(long)(k) * lda + (m)]
#else
#define A_AT(m, k) A[(long)(m) * lda + (k)]
#endif

__kernel void gemm_cpu(GEMM_ARGUMENTS
#if ROW_BIAS
                       , __global const float* bias
#elif COL_BIAS
                       , __global const float* col_bias
#endif
                       ) {
  // The columns this work-item stores start at first; the last block of a row, where it would
  // run past N, is computed whole, shifted left to end at N (its leading columns duplicate the
  // previous block's and are not stored), so that only products narrower than a block gather
  // columns one by one.
#if COLUMNS_FIRST
  // The groups take their blocks column by column, every block-row of a column before the next
  // column (as one of block_order.h's bands holding every row), so that a column's rows of B
  // serve all its blocks from the core's cache.
  const int down = get_num_groups(1);
  const int order = get_group_id(0) + get_group_id(1) * get_num_groups(0);  // launch order
  const int first = (order / down * (int)get_local_size(0) + (int)get_local_id(0)) * WORK_N;
  const int m0 = (order % down * (int)get_local_size(1) + (int)get_local_id(1)) * WORK_M;
#else
  const int first = get_global_id(0) * WORK_N, m0 = get_global_id(1) * WORK_M;
#endif
  // Items past M compute clamped duplicates where their group meets barriers (TILE_K > 1).
  if (first >= N || (TILE_K == 1 && m0 >= M)) return;  // the global size is in whole groups
  const int n0 = first + WORK_N > N ? max(N - WORK_N, 0) : first;
  const ulong batch = get_global_id(2);
  A += offset_a + batch * stride_a;
  B += offset_b + batch * stride_b;
  C += offset_c + batch * stride_c;

  int rows[WORK_M];  // clamped: rows past M compute duplicates that are never stored
  for (int i = 0; i < WORK_M; ++i) rows[i] = min(m0 + i, M - 1);
  floatV acc[WORK_M][VECS];
#pragma unroll
  for (int i = 0; i < WORK_M; ++i)
#pragma unroll
    for (int j = 0; j < VECS; ++j) acc[i][j] = (floatV)(0.0f);

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
      floatV dots[4][4];
      for (int u = 0; u < 4; ++u)
        for (int v = 0; v < 4; ++v) dots[u][v] = (floatV)(0.0f);
      int k = 0;
      for (; k + VEC <= K; k += VEC) {
        floatV av[4], bv[4];
        for (int u = 0; u < 4; ++u) av[u] = vloadV(0, a[u] + k), bv[u] = vloadV(0, b[u] + k);
        for (int u = 0; u < 4; ++u)
          for (int v = 0; v < 4; ++v) dots[u][v] = MULADD(av[u], bv[v], dots[u][v]);
      }
      for (int u = 0; u < 4 && i0 + u < WORK_M; ++u)
        for (int v = 0; v < 4 && j0 + v < WORK_N; ++v) {
          float lanes[VEC];
          vstoreV(dots[u][v], 0, lanes);
          float sum = 0.0f;
          for (int l = 0; l < VEC; ++l) sum += lanes[l];
          for (int kk = k; kk < K; ++kk) sum = MULADD(a[u][kk], b[v][kk], sum);
          block[i0 + u][j0 + v] = sum;
        }
    }
  for (int i = 0; i < WORK_M; ++i)
    for (int j = 0; j < VECS; ++j) acc[i][j] = vloadV(j, block[i]);
#else
  if (whole && !TRANS_B) {
    const int step = TILE_K > 1 ? TILE_K : K;  // without barriers, all of K at once
    for (int kb = 0; kb < K; kb += step) {
      const int kend = min(K, kb + step);
      for (int k = kb; k < kend; ++k) {
        floatV b[VECS];
#if defined(B_PREFETCH) && TILE_K == 1
        if (k + B_PREFETCH < K) {  // every 64-byte line of the row's WORK_N floats
          __global const float* ahead = B + (long)(k + B_PREFETCH) * ldb + n0;
#pragma unroll
          for (int j = 0; j < WORK_N; j += 16) __builtin_prefetch(ahead + j);
          __builtin_prefetch(ahead + WORK_N - 1);
        }
#endif
#pragma unroll
        for (int j = 0; j < VECS; ++j) b[j] = vloadV(j, B + (long)k * ldb + n0);
#pragma unroll
        for (int i = 0; i < WORK_M; ++i) {
          const floatV a = (floatV)(A_AT(rows[i], k));
#pragma unroll
          for (int j = 0; j < VECS; ++j) acc[i][j] = MULADD(a, b[j], acc[i][j]);
        }
      }
#if TILE_K > 1
      barrier(CLK_LOCAL_MEM_FENCE);
#endif
    }
  } else {
    // Columns gathered one by one: op(B) transposed, or the last block of a row.
    float column[WORK_N];
    for (int k = 0; k < K; ++k) {
      for (int j = 0; j < WORK_N; ++j) {
        const int n = min(n0 + j, N - 1);
        column[j] = TRANS_B ? B[(long)n * ldb + k] : B[(long)k * ldb + n];
      }
      for (int i = 0; i < WORK_M; ++i) {
        const floatV a = (floatV)(A_AT(rows[i], k));
        for (int j = 0; j < VECS; ++j) acc[i][j] = MULADD(a, vloadV(j, column), acc[i][j]);
      }
    }
  }
#endif

  for (int i = 0; i < WORK_M && m0 + i < M; ++i) {
    __global float* c = C + (long)(m0 + i) * ldc + n0;
#if ROW_BIAS  // added after the product and C, as channel_bias_rows adds it: the same bits
    const float row_bias = bias[m0 + i];
#define BIASED(v) ((v) + row_bias)
#else
#define BIASED(v) (v)
#endif
#if COL_BIAS  // joins the sums before alpha, as gemm_vec4 adds it; where the block is wider
              // than N (not whole), only the columns that exist, in the stores below
    if (whole)
      for (int j = 0; j < VECS; ++j) acc[i][j] += vloadV(j, col_bias + n0);
#endif
    if (n0 == first && whole) {
      for (int j = 0; j < VECS; ++j) {
        const floatV r = alpha * acc[i][j];
        vstoreV(FINISH(BIASED(beta == 0.0f ? r : MULADD((floatV)(beta), vloadV(j, c), r))), j, c);
      }
    } else {
      float out[WORK_N];
      for (int j = 0; j < VECS; ++j) vstoreV(acc[i][j], j, out);
      for (int j = first - n0; j < min(WORK_N, N - n0); ++j) {
#if COL_BIAS
        if (!whole) out[j] += col_bias[n0 + j];
#endif
        const float r = alpha * out[j];
        c[j] = FINISH(BIASED(beta == 0.0f ? r : r + beta * c[j]));
      }
    }
  }
}
