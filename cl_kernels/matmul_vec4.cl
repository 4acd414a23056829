// GEMM for GPUs, vectorized: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], row-major, with
// the same arguments as matmul.cl's gemm. Only for aligned calls: N, K, the leading dimensions,
// offsets and batch strides all multiples of 4, and M where A is transposed, so every float4 lies
// wholly inside or outside a matrix (the host checks; gemm falls back to matmul.cl otherwise).
//
// A work-group of (TILE_N/8) x (TILE_M/8) work-items computes a TILE_M x TILE_N block of C; each
// work-item an 8x8 block made of four 4x4 pieces, rows 4*ty + i and 4*ty + i + TILE_M/2, columns
// 4*tx + j and 4*tx + j + TILE_N/2. With that split, the work-items of a SIMD group read
// consecutive float4s of the B tile (no bank conflicts) and one or two float4s of the A tile
// (broadcast). Both tiles are staged k-major in local memory, A transposed on the way in, and
// double-buffered: the next tile's global loads are in flight while the current one is used,
// with one barrier per step. TILE_K is a multiple of 4.
//
// With -DCONV_GATHER=1 the same kernel is a convolution as an implicit GEMM (see the note at
// #if CONV_GATHER), and with -DA_SCALAR=1 A's rows need not be float4-aligned. With
// -DTAP_ROWS=T (TRANS_B only) B's rows are the taps of a convolution's zero-padded input (see
// b_row). With -DMMA_TF32=1 (and PAD4=2) the products run on NVIDIA's tensor cores in TF32 (see
// the note at #if MMA_TF32); loads and local tiles stay as they are. With -DMMA16=1 (and PAD4=2)
// they run in fp16, or bf16 with -DMMA_BF16=1, from local tiles of 16-bit pairs (see #if MMA16).
// With -DCOL_BIAS=1 (plain fp32 products) the kernel takes one more argument, col_bias, and adds
// col_bias[n] to column n's sums before alpha: a Linear layer's bias (the host passes alpha 1).

#include "block_order.h"
#include "gemm_arguments.h"
#include "muladd.h"
#include "mma.h"

#ifndef TILE_M
#define TILE_M 128
#endif
#ifndef TILE_N
#define TILE_N 128
#endif
#ifndef TILE_K
#define TILE_K 8
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#ifndef CONV_GATHER
#define CONV_GATHER 0
#endif
#ifndef A_SCALAR
#define A_SCALAR 0
#endif
#ifndef ALIGNED_POSITIONS
#define ALIGNED_POSITIONS 0
#endif
#ifndef WHOLE_TAPS
#define WHOLE_TAPS 0
#endif
#ifndef TAP_ROWS
#define TAP_ROWS 0
#endif

#ifndef WORK_M
#define WORK_M 8
#endif
#ifndef WORK_N
#define WORK_N 8
#endif
#define LX (TILE_N / WORK_N)  // 8 x 8 blocks a work-item, or the tensor cores' (8 x 16)
#define LY (TILE_M / WORK_M)
#define THREADS (LX * LY)
#define B_ROWS_APART (THREADS / (TILE_N / 4))  // rows of a B tile between a work-item's loads
#define A_LOADS (TILE_M * TILE_K / 4 / THREADS)  // float4 loads per work-item and tile
#define B_LOADS (TILE_N * TILE_K / 4 / THREADS)
// Each row of a local tile is padded by PAD4 float4s: the transposing stores (A, or B with
// TRANS_B) write four rows at once, which without padding fall in the same memory bank.
#ifndef PAD4
#define PAD4 1
#endif
#define A_ROW (TILE_M + 4 * PAD4)  // floats per row of the A tile
#define B_ROW (TILE_N + 4 * PAD4)

#ifndef MMA_TF32
#define MMA_TF32 0
#endif
#ifndef MMA16
#define MMA16 0
#endif
#ifndef MMA_BF16
#define MMA_BF16 0
#endif
#define MMA (MMA_TF32 || MMA16)

#if MMA
// Tensor cores, for NVIDIA devices of compute capability 8.0 and up (the host builds these only
// there): the work-group's warps of 32 work-items each multiply a 64 x (4 * WORK_N) piece
// of the block, WARPS_N pieces across, as 4 x N_TILES tiles of mma.sync (16 x 8 sums in fp32)
// per eight rows of a local tile: m16n8k8 in TF32 (A row-major 16 x 8, B 8 x 8), or m16n8k16
// in fp16 or bf16 under MMA16, whose rows hold two k each. Local memory's bandwidth bounds the
// kernel: a warp reads (64 + 4 * WORK_N) x 8 words for 4 * N_TILES products, so the wider piece
// (WORK_N = 16) reads a third less per product. The lanes of a warp read their fragments from the
// k-major local tiles: lane (group g, thread t of 4) takes rows k + t and k + t + 4 at columns
// g and g + 8 of A, g of B; with PAD4 = 2 each tile's rows lie 8 floats past a multiple of 32,
// so a fragment's 32 loads hit 32 different banks. Operands are rounded to TF32 on their way
// into local memory (to_tf32), once per element instead of once per fragment that reads it.
#define N_TILES (WORK_N / 2)
#define WARPS_N (TILE_N / (4 * WORK_N))
#endif

#if MMA_TF32
#define MMA_ROWS TILE_K  // rows of a local tile: one k each

// Each lane rounded to TF32 (tf32, mma.h).
inline float4 to_tf32(float4 x) {
  return as_float4((uint4)(tf32(x.x), tf32(x.y), tf32(x.z), tf32(x.w)));
}
#endif

#if MMA16
// fp16 or bf16 on tensor cores (compute capability 8.0 and up), fp32 sums: mma.sync m16n8k16.
// The local tiles hold 32-bit words of two 16-bit values, rows k and k + 1 of one column (the
// smaller k in the low half, as a fragment register holds them), so a tile has TILE_K / 2 rows
// of words laid out as TF32's rows of floats, and the lanes' fragment loads are TF32's, word for
// word: lane (g, t) takes word rows t and t + 4 (k = 2t, 2t + 1 and 2t + 8, 2t + 9). A step of
// 16 k thus reads as many bytes as TF32's step of 8 for twice the products. Operands are rounded
// to nearest even on their way in (cvt.rn); fp16 overflows to infinity past 65504.
//
// Stores into word rows want the two k of a word in one work-item: where a tile's float4s run
// along K (A untransposed, B transposed) each float4 gives two words; where they run across it,
// a work-item's loads come in pairs of neighbouring rows (across_row), and each pair gives a
// uint4 of four columns. pack16 (mma.h) rounds and packs a pair.
#define MMA_ROWS (TILE_K / 2)
#endif

// Row (k within a step) and float4 column of float4 number f = tid + l * THREADS of a tile whose
// float4s run across K, per_row of them a row. Elsewhere rows follow f; under MMA16 load l + 1
// takes the row under load l's (l even), so that the two fill one row of words.
inline int across_row(int f, int per_row) {
#if MMA16
  const int l = f / THREADS, t = f % THREADS;
  return 2 * ((t + l / 2 * THREADS) / per_row) + (l & 1);
#else
  return f / per_row;
#endif
}

inline int across_column(int f, int per_row) {
#if MMA16
  return f % THREADS % per_row;  // THREADS is a multiple of per_row
#else
  return f % per_row;
#endif
}

// A float4 at p, which the host's alignment rules put on a 16-byte boundary: dereferenced as a
// float4 so the compiler emits one vector load or store (vload4 and vstore4 may not assume the
// alignment, and split into four).
#define AT4(p) (*(__global float4*)(p))
#define AT4_CONST(p) (*(__global const float4*)(p))

// A work-item's float4 loads of a tile keep their place in the tile from step to step, so each
// load's address at k = 0 is worked out once and moves along K by whole steps. Rows and columns
// past the edge of the matrix are clamped to the last one: read, never stored, they leave the
// loop without checks. Only k is checked, and only where a step may reach past the end of K
// (the host defines WHOLE_K_STEPS when none does). On the H100 the checks and index arithmetic
// of the loads had cost 9% at n = 4096, and 20% at n = 1024.
#if !CONV_GATHER
#ifndef WHOLE_K_STEPS
#define WHOLE_K_STEPS 0
#endif

// Where float4 number f (of A_LOADS * THREADS) of the A tile at row m0 lies at k = 0.
inline __global const float* a_start(__global const float* A, int lda, int M, int m0, int f) {
#if TRANS_A  // stored K x M: float4s run along m
  return A + (long)across_row(f, TILE_M / 4) * lda +
         min(m0 + 4 * across_column(f, TILE_M / 4), M - 4);
#else  // stored M x K: float4s run along k
  return A + (long)min(m0 + f / (TILE_K / 4), M - 1) * lda + 4 * (f % (TILE_K / 4));
#endif
}

// The k of that float4 within a step.
inline int a_k(int f) {
#if TRANS_A
  return across_row(f, TILE_M / 4);
#else
  return 4 * (f % (TILE_K / 4));
#endif
}

#if TAP_ROWS
// Where row n of B starts when B is a weight gradient's column matrix read from a zero-padded
// input laid out channel by channel, ldb apart (ops/conv_shifted.cpp): row n = c * TAP_ROWS + t
// for tap t = (a * TAP_KH + b) * TAP_KW + e is channel c from the tap's offset on.
inline long b_row(int n, int ldb) {
  const int c = n / TAP_ROWS, t = n - c * TAP_ROWS, e = t % TAP_KW, ab = t / TAP_KW;
  return (long)c * ldb + (long)(ab / TAP_KH) * TAP_STEP_D + (long)(ab % TAP_KH) * TAP_STEP_H +
         (long)e * TAP_STEP_W;
}
#else
inline long b_row(int n, int ldb) { return (long)n * ldb; }
#endif

inline __global const float* b_start(__global const float* B, int ldb, int N, int n0, int f) {
#if TRANS_B  // stored N x K: float4s run along k
  return B + b_row(min(n0 + f / (TILE_K / 4), N - 1), ldb) + 4 * (f % (TILE_K / 4));
#else  // stored K x N: float4s run along n
  return B + (long)across_row(f, TILE_N / 4) * ldb +
         min(n0 + 4 * across_column(f, TILE_N / 4), N - 4);
#endif
}

inline int b_k(int f) {
#if TRANS_B
  return 4 * (f % (TILE_K / 4));
#else
  return across_row(f, TILE_N / 4);
#endif
}

// The float4 at p, whose k is k: zero past the end of K.
inline float4 load_k(__global const float* p, int k, int k_end) {
#if WHOLE_K_STEPS
  return AT4_CONST(p);
#else
  return k < k_end ? AT4_CONST(p) : (float4)(0.0f);
#endif
}

#else
// The convolution's A (filters, stored M x K) loads float4 number f of the tile at (m0, k0) by
// its indices, zero outside A. There the pointer loads above had run 4% slower on the H100.
inline float4 load_a(__global const float* A, int lda, int M, int K, int m0, int k0, int f) {
  const int m = m0 + f / (TILE_K / 4), k = k0 + 4 * (f % (TILE_K / 4));
#if A_SCALAR  // K or lda not a multiple of 4 (a convolution's C * taps): four loads
  if (m >= M) return (float4)(0.0f);
  __global const float* p = A + (long)m * lda + k;
  return (float4)(k < K ? p[0] : 0.0f, k + 1 < K ? p[1] : 0.0f, k + 2 < K ? p[2] : 0.0f,
                  k + 3 < K ? p[3] : 0.0f);
#else
  return (m < M && k < K) ? AT4_CONST(A + (long)m * lda + k) : (float4)(0.0f);
#endif
}
#endif

// Stores float4 number f of a tile whose float4s run along k into its k-major local copy (rows
// of `row` floats): the four values go to column f / (TILE_K / 4) of four consecutive rows.
inline void store_transposed(__local float* tile, int row, int f, float4 v) {
  const int column = f / (TILE_K / 4), k = 4 * (f % (TILE_K / 4));
  tile[(k + 0) * row + column] = v.x;
  tile[(k + 1) * row + column] = v.y;
  tile[(k + 2) * row + column] = v.z;
  tile[(k + 3) * row + column] = v.w;
}

inline void store_a(__local float4 (*As)[TILE_M / 4 + PAD4], int f, float4 v) {
#if MMA_TF32
  v = to_tf32(v);
#endif
#if TRANS_A
  As[f / (TILE_M / 4)][f % (TILE_M / 4)] = v;
#else
  store_transposed((__local float*)As, A_ROW, f, v);
#endif
}

inline void store_b(__local float4 (*Bs)[TILE_N / 4 + PAD4], int f, float4 v) {
#if MMA_TF32
  v = to_tf32(v);
#endif
#if TRANS_B
  store_transposed((__local float*)Bs, B_ROW, f, v);
#else
  Bs[f / (TILE_N / 4)][f % (TILE_N / 4)] = v;
#endif
}

#if MMA16
// Float4 number f of a tile whose float4s run along K (k .. k + 3 of one column): two words.
inline void store_along16(__local uint* tile, int row, int f, float4 v) {
  const int column = f / (TILE_K / 4), pair = 2 * (f % (TILE_K / 4));
  tile[pair * row + column] = pack16(v.x, v.y);
  tile[(pair + 1) * row + column] = pack16(v.z, v.w);
}

// Float4s number f (an even load) and f + THREADS (the next) of a tile whose float4s run across
// K, per_row a row: rows k and k + 1 of four columns, a uint4 of words.
inline void store_across16(__local uint* tile, int row, int per_row, int f, float4 lo,
                           float4 hi) {
  __local uint* at = tile + across_row(f, per_row) / 2 * row + 4 * across_column(f, per_row);
  *(__local uint4*)at = (uint4)(pack16(lo.x, hi.x), pack16(lo.y, hi.y), pack16(lo.z, hi.z),
                                pack16(lo.w, hi.w));
}

#if TRANS_A
#define STORE_A_STEP(tile)                                                                 \
  for (int l = 0; l < A_LOADS; l += 2)                                                     \
  store_across16((__local uint*)(tile), A_ROW, TILE_M / 4, tid + l * THREADS, next_a[l], \
                 next_a[l + 1])
#else
#define STORE_A_STEP(tile)            \
  for (int l = 0; l < A_LOADS; ++l) \
  store_along16((__local uint*)(tile), A_ROW, tid + l * THREADS, next_a[l])
#endif
#if TRANS_B
#define STORE_B_STEP(tile)            \
  for (int l = 0; l < B_LOADS; ++l) \
  store_along16((__local uint*)(tile), B_ROW, tid + l * THREADS, next_b[l])
#else
#define STORE_B_STEP(tile)                                                                 \
  for (int l = 0; l < B_LOADS; l += 2)                                                     \
  store_across16((__local uint*)(tile), B_ROW, TILE_N / 4, tid + l * THREADS, next_b[l], \
                 next_b[l + 1])
#endif
#else
#define STORE_A_STEP(tile) \
  for (int l = 0; l < A_LOADS; ++l) store_a(tile, tid + l * THREADS, next_a[l])
#define STORE_B_STEP(tile) \
  for (int l = 0; l < B_LOADS; ++l) store_b(tile, tid + l * THREADS, next_b[l])
#endif

#define OUTER(acc, a, b)                      \
  acc[0] = MULADD((float4)(a.x), b, acc[0]);     \
  acc[1] = MULADD((float4)(a.y), b, acc[1]);     \
  acc[2] = MULADD((float4)(a.z), b, acc[2]);     \
  acc[3] = MULADD((float4)(a.w), b, acc[3]);

// Writes a 4x4 piece of C at (m, n): alpha * acc (+ beta * C).
inline void store_c(__global float* C, int ldc, int M, int N, int m, int n, const float4* acc,
                    float alpha, float beta) {
  if (n >= N) return;
  for (int i = 0; i < 4; ++i) {
    if (m + i >= M) return;
    __global float* c = C + (long)(m + i) * ldc + n;
    const float4 r = alpha * acc[i];
    AT4(c) = beta == 0.0f ? r : MULADD((float4)(beta), AT4(c), r);
  }
}


#if CONV_GATHER
// Convolution as an implicit GEMM: y = alpha * conv(x, A) + bias + beta * y, where B is the
// column matrix of the input x, which is never built. Its rows run tap-major: B[r, q] with
// r = t * Cg + c and tap t = (a * KH + b) * KW + e is x[n, c] at the window origin of output
// position q plus the tap (a, b, e), zero in the padding; A holds the filters in the same order
// (conv.cl's tap_major_filters). Columns q run over samples n and output positions p,
// q = n * P + p with P = OD * OH * OW. The geometry g and o are conv.cl's. B points at x, ldb is
// the distance between samples of x, stride_b between groups (the batch); C points at y
// [N, groups * M, P], ldc is the distance between its samples and stride_c between groups.
// TRANS_B is 0.
//
// A work-item reads the same four columns (its lanes) at every step of k: their window origins
// are worked out once (Column), and each row's offset and reach come from the table taps[r] =
// (offset of x[c, a * DD, b * DH, e * DW] from x[0, 0, 0, 0], a * DD, b * DH, e * DW), which
// ops/conv_implicit.cpp's tap_table holds: no index is divided inside the loop.
typedef struct {
  long origin;  // offset of the window origin in x (it may lie in the padding)
  int d, h, w;  // its coordinates; h lies far outside for a column past the last
} Column;

inline Column column_origin(int q, int N, int ldb, const int16 g, const int4 o) {
  const int P = o.s0 * o.s1 * o.s2, n = q / P, p = q - n * P, t = p / o.s2;
  Column s;
  s.w = (p - t * o.s2) * g.s9 - g.sc;
  s.h = t % o.s1 * g.s8 - g.sb;
  s.d = t / o.s1 * g.s7 - g.sa;
  s.origin = (long)n * ldb + ((long)s.d * g.s2 + s.h) * g.s3 + s.w;
  if (q >= N) s.h = INT_MIN / 2;  // every tap falls outside
  return s;
}

// Whether the tap t of lane s falls inside x (one unsigned comparison checks both ends).
inline bool tap_inside(const Column* s, const int4 t, const int16 g) {
  return (uint)(s->d + t.y) < (uint)g.s1 && (uint)(s->h + t.z) < (uint)g.s2 &&
         (uint)(s->w + t.w) < (uint)g.s3;
}

// Row r of a work-item's four columns.
inline float4 gather_b(__global const float* x, __global const int4* taps, const Column* lane,
                       int K, int r, const int16 g) {
  if (r >= K) return (float4)(0.0f);
  const int4 t = taps[r];
  float v[4];
  for (int j = 0; j < 4; ++j) v[j] = tap_inside(&lane[j], t, g) ? x[lane[j].origin + t.x] : 0.0f;
  return (float4)(v[0], v[1], v[2], v[3]);
}

#if WHOLE_TAPS
// A work-item's B loads of one k-step: rows r, r + B_ROWS_APART, ... of its four columns (under
// MMA16 pairs of rows, r and r + 1, r + 2 * B_ROWS_APART and one more, ...: across_row). With
// WHOLE_TAPS the host guarantees that every k-step lies within one tap (the channels per tap are
// a multiple of TILE_K), so each lane checks the tap's bounds once for all the rows, which are
// channels one after another: their elements lie a channel's volume apart.
inline void gather_step(float4* b, __global const float* x, __global const int4* taps,
                        const Column* lane, int r, const int16 g) {
  const int4 t = taps[r];
  const bool in0 = tap_inside(&lane[0], t, g), in1 = tap_inside(&lane[1], t, g),
             in2 = tap_inside(&lane[2], t, g), in3 = tap_inside(&lane[3], t, g);
  const long volume = (long)g.s1 * g.s2 * g.s3;
  __global const float *p0 = x + lane[0].origin + t.x, *p1 = x + lane[1].origin + t.x,
                       *p2 = x + lane[2].origin + t.x, *p3 = x + lane[3].origin + t.x;
  for (int l = 0; l < B_LOADS; ++l) {
#if MMA16
    const long at = volume * (l / 2 * 2 * B_ROWS_APART + (l & 1));
#else
    const long at = volume * l * B_ROWS_APART;
#endif
    b[l] = (float4)(in0 ? p0[at] : 0.0f, in1 ? p1[at] : 0.0f, in2 ? p2[at] : 0.0f,
                    in3 ? p3[at] : 0.0f);
  }
}
#endif

#include "epilogue.h"  // unsplit launches only

// Writes a 4x4 piece of the output at filter m, columns q .. q + 3.
inline void store_y(__global float* y, int ldc, const int4 o, int M, int N, int m, int q,
                    const float4* acc, float alpha, float beta, __global const float* bias) {
  if (q >= N) return;
  const int P = o.s0 * o.s1 * o.s2;
  for (int i = 0; i < 4 && m + i < M; ++i) {
    const float4 r = alpha * acc[i] + (bias ? bias[m + i] : 0.0f);
#if ALIGNED_POSITIONS  // P a multiple of 4: the four columns lie in one sample, a float4 of y
    const int n = q / P;
    __global float* c = y + (long)n * ldc + (long)(m + i) * P + (q - n * P);
    AT4(c) = FINISH(beta == 0.0f ? r : MULADD((float4)(beta), AT4(c), r));
#else  // element by element: the columns may straddle two samples
    const float v[4] = {r.x, r.y, r.z, r.w};
    for (int j = 0; j < 4 && q + j < N; ++j) {
      const int n = (q + j) / P;
      __global float* c = y + (long)n * ldc + (long)(m + i) * P + (q + j - n * P);
      *c = FINISH(beta == 0.0f ? v[j] : MULADD(beta, *c, v[j]));
    }
#endif
  }
}

#if MMA
// Writes output elements at filter m, columns q and q + 1 (element by element: they may lie in
// two samples).
inline void store_y_pair(__global float* y, int ldc, const int4 o, int M, int N, int m, int q,
                         float2 v, float alpha, float beta, __global const float* bias) {
  if (m >= M) return;
  const int P = o.s0 * o.s1 * o.s2;
  const float values[2] = {v.x, v.y};
  for (int j = 0; j < 2 && q + j < N; ++j) {
    const int n = (q + j) / P;
    __global float* c = y + (long)n * ldc + (long)m * P + (q + j - n * P);
    const float r = alpha * values[j] + (bias ? bias[m] : 0.0f);
    *c = FINISH(beta == 0.0f ? r : MULADD(beta, *c, r));
  }
}
#endif

// A work-item's B loads all fall in the same four columns, its lanes (THREADS is a multiple of
// TILE_N / 4), rows B_ROWS_APART apart. Under LANES_APART (the host's choice where the stride
// along W is 1) the lanes lie TILE_N / 4 columns apart, so the work-items of a SIMD group read
// neighbouring columns and each load spans a quarter of the lines. With every layer's lanes
// apart, on the H100, the large model trained 4-10% faster at batch 128 and 512, squeezenet1_1
// and resnet50 ran 1-5% faster, and alexnet's 11 x 11 stride-4 first layer ran slower (0.28 ms
// against 0.23, for reasons not known), hence the rule; with it squeezenet1_1 and resnet50 kept
// 1.5-2.5% and alexnet ran level (session 59, PERFORMANCE.md). next_b[l]
// then holds one row of four columns TILE_N / 4 apart, stored one by one in place of the GEMM's
// float4 store (uint4 of words under MMA16). Where a SIMD group's stores cover several rows (TILE_N
// of 64 or less) they meet 2-way bank conflicts, which the vector stores had not.
#ifndef LANES_APART
#define LANES_APART 0
#endif
#if LANES_APART
inline int lane_column(int tid, int j) { return tid % (TILE_N / 4) + j * (TILE_N / 4); }

#undef STORE_B_STEP
#if MMA16
// Loads l (even) and l + 1, rows k and k + 1 of the four lanes: a word each.
#define STORE_B_STEP(tile)                                                                    \
  for (int l = 0; l < B_LOADS; l += 2) {                                                      \
    __local uint* at = (__local uint*)(tile) + across_row(tid + l * THREADS, TILE_N / 4) / 2 * \
                                                   B_ROW + lane_column(tid, 0);              \
    at[0] = pack16(next_b[l].x, next_b[l + 1].x);                                             \
    at[TILE_N / 4] = pack16(next_b[l].y, next_b[l + 1].y);                                    \
    at[TILE_N / 2] = pack16(next_b[l].z, next_b[l + 1].z);                                    \
    at[3 * TILE_N / 4] = pack16(next_b[l].w, next_b[l + 1].w);                                \
  }
#else
inline void store_lanes(__local float* row, float4 v) {
#if MMA_TF32
  v = to_tf32(v);
#endif
  row[0] = v.x;
  row[TILE_N / 4] = v.y;
  row[TILE_N / 2] = v.z;
  row[3 * TILE_N / 4] = v.w;
}
#define STORE_B_STEP(tile)                                                                     \
  for (int l = 0; l < B_LOADS; ++l)                                                            \
  store_lanes((__local float*)(tile) + across_row(tid + l * THREADS, TILE_N / 4) * B_ROW +    \
                  lane_column(tid, 0),                                                         \
              next_b[l])
#endif
#else
inline int lane_column(int tid, int j) { return 4 * (tid % (TILE_N / 4)) + j; }
#endif

#if WHOLE_TAPS
#define LOAD_B_STEP(k0) \
  gather_step(next_b, B, taps, lanes, (k0) + across_row(tid, TILE_N / 4), geometry)
#else
#define LOAD_B_STEP(k0)                                                                   \
  for (int l = 0; l < B_LOADS; ++l)                                                       \
  next_b[l] = gather_b(B, taps, lanes, k_end, (k0) + across_row(tid + l * THREADS, TILE_N / 4), \
                       geometry)
#endif
#define LOAD_A_STEP(k0) \
  for (int l = 0; l < A_LOADS; ++l) next_a[l] = load_a(A, lda, M, k_end, m0, k0, tid + l * THREADS)
#define KERNEL_NAME conv_vec4
#else
// Each load's address moves (k0) rows where K runs down the stored matrix (A transposed, B not),
// (k0) floats where it runs along.
#define LOAD_A_STEP(k0)                                                          \
  for (int l = 0; l < A_LOADS; ++l)                                              \
    next_a[l] = load_k(a_at[l] + (long)(k0) * (TRANS_A ? lda : 1),               \
                       (k0) + a_k(tid + l * THREADS), k_end)
#define LOAD_B_STEP(k0)                                                          \
  for (int l = 0; l < B_LOADS; ++l)                                              \
    next_b[l] = load_k(b_at[l] + (long)(k0) * (TRANS_B ? 1 : ldb),               \
                       (k0) + b_k(tid + l * THREADS), k_end)
#define KERNEL_NAME gemm_vec4
#endif

__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void KERNEL_NAME(GEMM_ARGUMENTS
#if CONV_GATHER
               , const int16 geometry, const int4 out, __global const float* bias,
               __global const int4* taps, const int slice_k, const ulong slice_stride_c
#elif COL_BIAS && !MMA
               , __global const float* col_bias
#endif
               ) {
#if MMA16  // rows of words, declared as uint4s for store_across16's 16-byte alignment
  __local uint4 As[2][MMA_ROWS][A_ROW / 4];
  __local uint4 Bs[2][MMA_ROWS][B_ROW / 4];
#else
  __local float4 As[2][TILE_K][TILE_M / 4 + PAD4];
  __local float4 Bs[2][TILE_K][TILE_N / 4 + PAD4];
#endif
  const int tx = get_local_id(0), ty = get_local_id(1), tid = ty * LX + tx;
  const int2 origin = block_origin(TILE_M, TILE_N);
  const int m0 = origin.x, n0 = origin.y;
#if CONV_GATHER
  // The third dimension runs over groups and, within each, slices of K (split-K): slice s sums
  // rows [s * slice_k, (s + 1) * slice_k) into its own copy of y, slice_stride_c apart.
  const int slices = (K + slice_k - 1) / slice_k, slice = get_global_id(2) % slices;
  const ulong batch = get_global_id(2) / slices;
  const int k_begin = slice * slice_k, k_end = min(K, k_begin + slice_k);
  C += slice * slice_stride_c;
  if (slice > 0) bias = 0;  // added once
#else
  const ulong batch = get_global_id(2);
  const int k_begin = 0, k_end = K;
#endif
  A += offset_a + batch * stride_a;
  B += offset_b + batch * stride_b;
  C += offset_c + batch * stride_c;
#if CONV_GATHER
  Column lanes[4];
  for (int j = 0; j < 4; ++j)
    lanes[j] = column_origin(n0 + lane_column(tid, j), N, ldb, geometry, out);
  if (bias) bias += batch * M;
#else
  __global const float* a_at[A_LOADS];
  for (int l = 0; l < A_LOADS; ++l) a_at[l] = a_start(A, lda, M, m0, tid + l * THREADS);
  __global const float* b_at[B_LOADS];
  for (int l = 0; l < B_LOADS; ++l) b_at[l] = b_start(B, ldb, N, n0, tid + l * THREADS);
#endif

#if MMA
  // acc[i][j]: the lane's four sums of tile (i, j) of its warp's piece, rows wm + 16 * i + gid
  // (+ 8), columns wn + 8 * j + 2 * tig (+ 1).
  const int warp = tid / 32, gid = tid % 32 / 4, tig = tid % 4;
  const int wm = warp / WARPS_N * 64, wn = warp % WARPS_N * (8 * N_TILES);
  float acc[4][N_TILES][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < N_TILES; ++j)
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
#else
  // acc[h][g][i]: row 4*ty + i + h*TILE_M/2, columns 4*tx + g*TILE_N/2 + (0..3).
  float4 acc[2][2][4];
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 2; ++g)
      for (int i = 0; i < 4; ++i) acc[h][g][i] = (float4)(0.0f);
#endif

  float4 next_a[A_LOADS], next_b[B_LOADS];
  LOAD_A_STEP(k_begin);
  LOAD_B_STEP(k_begin);
  STORE_A_STEP(As[0]);
  STORE_B_STEP(Bs[0]);
  barrier(CLK_LOCAL_MEM_FENCE);

  int buffer = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += TILE_K) {
    const bool more = k0 + TILE_K < k_end;
    if (more) {
      LOAD_A_STEP(k0 + TILE_K);
      LOAD_B_STEP(k0 + TILE_K);
    }
#if MMA
#pragma unroll
    for (int kk = 0; kk < MMA_ROWS; kk += 8) {  // a k8 (TF32) or k16 (MMA16) step of tiles
      __local const uint* as = (__local const uint*)As[buffer] + (kk + tig) * A_ROW + wm + gid;
      __local const uint* bs = (__local const uint*)Bs[buffer] + (kk + tig) * B_ROW + wn + gid;
      uint a[4][4], b[N_TILES][2];
      for (int i = 0; i < 4; ++i) {
        a[i][0] = as[16 * i];
        a[i][1] = as[16 * i + 8];
        a[i][2] = as[4 * A_ROW + 16 * i];
        a[i][3] = as[4 * A_ROW + 16 * i + 8];
      }
      for (int j = 0; j < N_TILES; ++j) {
        b[j][0] = bs[8 * j];
        b[j][1] = bs[4 * B_ROW + 8 * j];
      }
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < N_TILES; ++j) mma_tile(acc[i][j], a[i], b[j]);
    }
#else
#pragma unroll
    for (int kk = 0; kk < TILE_K; ++kk) {
      const float4 a0 = As[buffer][kk][ty], a1 = As[buffer][kk][ty + TILE_M / 8];
      const float4 b0 = Bs[buffer][kk][tx], b1 = Bs[buffer][kk][tx + TILE_N / 8];
      OUTER(acc[0][0], a0, b0)
      OUTER(acc[0][1], a0, b1)
      OUTER(acc[1][0], a1, b0)
      OUTER(acc[1][1], a1, b1)
    }
#endif
    if (more) {
      // The other buffer was last read before the previous barrier, so it is free.
      STORE_A_STEP(As[buffer ^ 1]);
      STORE_B_STEP(Bs[buffer ^ 1]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    buffer ^= 1;
  }

#if MMA
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < N_TILES; ++j) {
      const int m = m0 + wm + 16 * i + gid, n = n0 + wn + 8 * j + 2 * tig;
      const float2 top = (float2)(acc[i][j][0], acc[i][j][1]);
      const float2 bottom = (float2)(acc[i][j][2], acc[i][j][3]);
#if CONV_GATHER
      store_y_pair(C, ldc, out, M, N, m, n, top, alpha, beta, bias);
      store_y_pair(C, ldc, out, M, N, m + 8, n, bottom, alpha, beta, bias);
#else
      store_c_pair(C, ldc, M, N, m, n, top, alpha, beta);
      store_c_pair(C, ldc, M, N, m + 8, n, bottom, alpha, beta);
#endif
    }
#else
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 2; ++g) {
      const int m = m0 + 4 * ty + h * (TILE_M / 2), n = n0 + 4 * tx + g * (TILE_N / 2);
#if CONV_GATHER
      store_y(C, ldc, out, M, N, m, n, acc[h][g], alpha, beta, bias);
#else
#if COL_BIAS
      if (n < N) {
        const float4 bias = vload4(0, col_bias + n);
        for (int i = 0; i < 4; ++i) acc[h][g][i] += bias;
      }
#endif
      store_c(C, ldc, M, N, m, n, acc[h][g], alpha, beta);
#endif
    }
#endif
}
