// GEMM for GPUs, vectorized: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], row-major, with
// the same arguments as matmul.cl's gemm. Only for aligned calls: M, N, K, the leading dimensions,
// offsets and batch strides all multiples of 4, so every float4 lies wholly inside or outside a
// matrix (the host checks; gemm falls back to matmul.cl otherwise).
//
// A work-group of (TILE_N/8) x (TILE_M/8) work-items computes a TILE_M x TILE_N block of C; each
// work-item an 8x8 block made of four 4x4 pieces, rows 4*ty + i and 4*ty + i + TILE_M/2, columns
// 4*tx + j and 4*tx + j + TILE_N/2. With that split, the work-items of a SIMD group read
// consecutive float4s of the B tile (no bank conflicts) and one or two float4s of the A tile
// (broadcast). Both tiles are staged k-major in local memory, A transposed on the way in, and
// double-buffered: the next tile's global loads are in flight while the current one is used,
// with one barrier per step. TILE_K is a multiple of 4.

#ifndef TILE_M
#define TILE_M 128
#endif
#ifndef TILE_N
#define TILE_N 128
#endif
#ifndef TILE_K
#define TILE_K 8
#endif
#ifndef GROUP_ROWS
#define GROUP_ROWS 8
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#define LX (TILE_N / 8)
#define LY (TILE_M / 8)
#define THREADS (LX * LY)
#define A_LOADS (TILE_M * TILE_K / 4 / THREADS)  // float4 loads per work-item and tile
#define B_LOADS (TILE_N * TILE_K / 4 / THREADS)
// Each row of a local tile is padded by PAD4 float4s: the transposing stores (A, or B with
// TRANS_B) write four rows at once, which without padding fall in the same memory bank.
#ifndef PAD4
#define PAD4 1
#endif
#define A_ROW (TILE_M + 4 * PAD4)  // floats per row of the A tile
#define B_ROW (TILE_N + 4 * PAD4)

// A float4 at p, which the host's alignment rules put on a 16-byte boundary: dereferenced as a
// float4 so the compiler emits one vector load or store (vload4 and vstore4 may not assume the
// alignment, and split into four).
#define AT4(p) (*(__global float4*)(p))
#define AT4_CONST(p) (*(__global const float4*)(p))

// Loads float4 number f (of A_LOADS * THREADS) of the A tile at (m0, k0), zero outside A.
inline float4 load_a(__global const float* A, int lda, int M, int K, int m0, int k0, int f) {
#if TRANS_A  // stored K x M: float4s run along m
  const int k = k0 + f / (TILE_M / 4), m = m0 + 4 * (f % (TILE_M / 4));
  return (k < K && m < M) ? AT4_CONST(A + (long)k * lda + m) : (float4)(0.0f);
#else  // stored M x K: float4s run along k
  const int m = m0 + f / (TILE_K / 4), k = k0 + 4 * (f % (TILE_K / 4));
  return (m < M && k < K) ? AT4_CONST(A + (long)m * lda + k) : (float4)(0.0f);
#endif
}

inline void store_a(__local float4 (*As)[TILE_M / 4 + PAD4], int f, float4 v) {
#if TRANS_A
  As[f / (TILE_M / 4)][f % (TILE_M / 4)] = v;
#else
  const int m = f / (TILE_K / 4), k = 4 * (f % (TILE_K / 4));
  __local float* column = (__local float*)As;
  column[(k + 0) * A_ROW + m] = v.x;
  column[(k + 1) * A_ROW + m] = v.y;
  column[(k + 2) * A_ROW + m] = v.z;
  column[(k + 3) * A_ROW + m] = v.w;
#endif
}

inline float4 load_b(__global const float* B, int ldb, int N, int K, int n0, int k0, int f) {
#if TRANS_B  // stored N x K: float4s run along k
  const int n = n0 + f / (TILE_K / 4), k = k0 + 4 * (f % (TILE_K / 4));
  return (n < N && k < K) ? AT4_CONST(B + (long)n * ldb + k) : (float4)(0.0f);
#else  // stored K x N: float4s run along n
  const int k = k0 + f / (TILE_N / 4), n = n0 + 4 * (f % (TILE_N / 4));
  return (k < K && n < N) ? AT4_CONST(B + (long)k * ldb + n) : (float4)(0.0f);
#endif
}

inline void store_b(__local float4 (*Bs)[TILE_N / 4 + PAD4], int f, float4 v) {
#if TRANS_B
  const int n = f / (TILE_K / 4), k = 4 * (f % (TILE_K / 4));
  __local float* row = (__local float*)Bs;
  row[(k + 0) * B_ROW + n] = v.x;
  row[(k + 1) * B_ROW + n] = v.y;
  row[(k + 2) * B_ROW + n] = v.z;
  row[(k + 3) * B_ROW + n] = v.w;
#else
  Bs[f / (TILE_N / 4)][f % (TILE_N / 4)] = v;
#endif
}

#define OUTER(acc, a, b)                      \
  acc[0] = mad((float4)(a.x), b, acc[0]);     \
  acc[1] = mad((float4)(a.y), b, acc[1]);     \
  acc[2] = mad((float4)(a.z), b, acc[2]);     \
  acc[3] = mad((float4)(a.w), b, acc[3]);

// Writes a 4x4 piece of C at (m, n): alpha * acc (+ beta * C).
inline void store_c(__global float* C, int ldc, int M, int N, int m, int n, const float4* acc,
                    float alpha, float beta) {
  if (n >= N) return;
  for (int i = 0; i < 4; ++i) {
    if (m + i >= M) return;
    __global float* c = C + (long)(m + i) * ldc + n;
    const float4 r = alpha * acc[i];
    AT4(c) = beta == 0.0f ? r : mad((float4)(beta), AT4(c), r);
  }
}

__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm_vec4(const int M, const int N, const int K, const float alpha,
               __global const float* A, const ulong offset_a, const int lda, const ulong stride_a,
               __global const float* B, const ulong offset_b, const int ldb, const ulong stride_b,
               const float beta,
               __global float* C, const ulong offset_c, const int ldc, const ulong stride_c) {
  __local float4 As[2][TILE_K][TILE_M / 4 + PAD4];
  __local float4 Bs[2][TILE_K][TILE_N / 4 + PAD4];
  const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * LX + tx;
  // Blocks run in bands of GROUP_ROWS block-rows, column by column within a band, instead of
  // row by row: the blocks resident at once then share a few panels of A and of B, which stay
  // in the L2 cache, where whole rows of blocks would stream all of B through it per row.
  const int groups_n = get_num_groups(0), groups_m = get_num_groups(1);
  const int linear = get_group_id(1) * groups_n + get_group_id(0);
  const int band = linear / (GROUP_ROWS * groups_n), in_band = linear % (GROUP_ROWS * groups_n);
  const int band_rows = min(GROUP_ROWS, groups_m - band * GROUP_ROWS);
  const int n0 = (in_band / band_rows) * TILE_N;
  const int m0 = (band * GROUP_ROWS + in_band % band_rows) * TILE_M;
  const ulong batch = get_global_id(2);
  A += offset_a + batch * stride_a;
  B += offset_b + batch * stride_b;
  C += offset_c + batch * stride_c;

  // acc[h][g][i]: row 4*ty + i + h*TILE_M/2, columns 4*tx + g*TILE_N/2 + (0..3).
  float4 acc[2][2][4];
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 4; ++i) acc[h][g][i] = (float4)(0.0f);

  float4 next_a[A_LOADS], next_b[B_LOADS];
  for (int l = 0; l < A_LOADS; ++l) next_a[l] = load_a(A, lda, M, K, m0, 0, tid + l * THREADS);
  for (int l = 0; l < B_LOADS; ++l) next_b[l] = load_b(B, ldb, N, K, n0, 0, tid + l * THREADS);
  for (int l = 0; l < A_LOADS; ++l) store_a(As[0], tid + l * THREADS, next_a[l]);
  for (int l = 0; l < B_LOADS; ++l) store_b(Bs[0], tid + l * THREADS, next_b[l]);
  barrier(CLK_LOCAL_MEM_FENCE);

  int buffer = 0;
  for (int k0 = 0; k0 < K; k0 += TILE_K) {
    const bool more = k0 + TILE_K < K;
    if (more) {
      for (int l = 0; l < A_LOADS; ++l)
        next_a[l] = load_a(A, lda, M, K, m0, k0 + TILE_K, tid + l * THREADS);
      for (int l = 0; l < B_LOADS; ++l)
        next_b[l] = load_b(B, ldb, N, K, n0, k0 + TILE_K, tid + l * THREADS);
    }
#pragma unroll
    for (int kk = 0; kk < TILE_K; ++kk) {
      const float4 a0 = As[buffer][kk][ty], a1 = As[buffer][kk][ty + TILE_M / 8];
      const float4 b0 = Bs[buffer][kk][tx], b1 = Bs[buffer][kk][tx + TILE_N / 8];
      OUTER(acc[0][0], a0, b0)
      OUTER(acc[0][1], a0, b1)
      OUTER(acc[1][0], a1, b0)
      OUTER(acc[1][1], a1, b1)
    }
    if (more) {
      // The other buffer was last read before the previous barrier, so it is free.
      for (int l = 0; l < A_LOADS; ++l) store_a(As[buffer ^ 1], tid + l * THREADS, next_a[l]);
      for (int l = 0; l < B_LOADS; ++l) store_b(Bs[buffer ^ 1], tid + l * THREADS, next_b[l]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    buffer ^= 1;
  }

  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 2; ++g)
      store_c(C, ldc, M, N, m0 + 4 * ty + h * (TILE_M / 2), n0 + 4 * tx + g * (TILE_N / 2),
              acc[h][g], alpha, beta);
}
