// GEMM on NVIDIA's tensor cores in TF32, pipelined: C[b] = alpha * op(A[b]) * op(B[b]) +
// beta * C[b], row-major, with the arguments of matmul.cl's gemm, for the aligned calls that
// matmul_vec4.cl takes (N, K, leading dimensions, offsets and batch strides multiples of 4, and M
// where A is transposed). NVIDIA devices of compute capability 8.0 and up only: inline PTX.
//
// A work-group of (TILE_N / WORK_N) x (TILE_M / WORK_M) work-items computes a TILE_M x TILE_N
// block of C. Each warp of 32 multiplies a 64 x (4 * WORK_N) piece of it with mma.sync
// m16n8k8 (TF32 operands, fp32 sums): 4 x N_TILES tiles of 16 x 8, WORK_M x WORK_N sums a lane.
//
// The operand tiles go from global to local memory with cp.async (16 bytes a copy, no registers
// on the way) into STAGES buffers, all of them in flight from the start. Each step of TILE_K
// costs one barrier, after which the buffer just read is refilled with the step STAGES ahead.
// A warp's fragments are read one k-step of 8 ahead of its products, across the barrier too:
// the products of a step's last 8 k are issued after the barrier, the refill's copies and the
// next step's first fragment loads, so that they cover the loads' latency. Against issuing them
// before the barrier this ran 126.7 TFLOP/s against 107.8 on an H100 at 8192 (PERFORMANCE.md).
//
// The tiles keep each operand's layout in global memory and stay fp32 (lanes round to TF32 as
// they read their fragments). Without padding, a fragment's 32 loads would fall in 8 banks, so
// the 16-byte chunks of each row are permuted by XOR with bits of the row (along_word,
// across_word): every fragment load then hits 32 banks, and each copy stays one 16-byte chunk.
// Operands stored along k (A, or B transposed) are read with ldmatrix, four 8 x 4 fp32 blocks
// an instruction (a 16-bit 8 x 8 matrix is an 8 x 4 matrix of 32-bit words), one A fragment or
// two B fragments. NVIDIA places a __local float array on a 4-byte boundary (after 4 bytes of
// its own): the tiles are float4s, which cp.async's and ldmatrix's 16-byte rows need.

#define MMA_TF32 1
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
#define TILE_K 16
#endif
#ifndef WORK_M
#define WORK_M 8
#endif
#ifndef WORK_N
#define WORK_N 16
#endif
#ifndef STAGES
#define STAGES 3
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef WHOLE_K_STEPS
#define WHOLE_K_STEPS 0
#endif

#define LX (TILE_N / WORK_N)
#define LY (TILE_M / WORK_M)
#define THREADS (LX * LY)
#define N_TILES (WORK_N / 2)          // 8-wide mma tiles across a warp's piece
#define WARPS_N (TILE_N / (4 * WORK_N))
#define CHUNKS (TILE_K / 4)           // 16-byte chunks in a row of k
#define A_WORDS (TILE_M * TILE_K)     // floats of one stage's A tile
#define STAGE_WORDS ((TILE_M + TILE_N) * TILE_K)
#define A_COPIES (TILE_M * CHUNKS / THREADS)  // 16-byte copies a work-item makes per step
#define B_COPIES (TILE_N * CHUNKS / THREADS)

// cp.async.wait_group takes a literal: how many groups of copies (one a step) a work-item may
// leave in flight when it needs the oldest. All STAGES are in flight before the first step;
// from then on one is refilled per step, after the wait for the next.
#if STAGES == 2
#define WAIT_FIRST "cp.async.wait_group 1;"
#define WAIT_STEP "cp.async.wait_group 0;"
#elif STAGES == 3
#define WAIT_FIRST "cp.async.wait_group 2;"
#define WAIT_STEP "cp.async.wait_group 1;"
#elif STAGES == 4
#define WAIT_FIRST "cp.async.wait_group 3;"
#define WAIT_STEP "cp.async.wait_group 2;"
#else
#error "STAGES is 2, 3 or 4"
#endif

// Where element (r, k) of a tile stored "along" k lies (rows of TILE_K floats: A, or B
// transposed): chunk k / 4 of row r, XORed with bits of r that spread the 8 rows a fragment load
// reads over every bank (for CHUNKS of 2, 4, 8: rows 4, 2, 1 apart share a pattern).
inline int along_swizzle(int r) { return r / (8 / CHUNKS) % CHUNKS; }
inline int along_word(int r, int k) {
  return r * TILE_K + 4 * ((k / 4) ^ along_swizzle(r)) + k % 4;
}

// Where element (k, c) of a tile stored "across" k lies (rows of `width` floats, one per k: A
// transposed, or B): chunk c / 4 of row k, XORed with 2 * (k % 4), so that the 4 rows of a
// fragment load fall in 4 different pairs of chunks.
inline int across_word(int width, int k, int c) {
  return k * width + 4 * ((c / 4) ^ (2 * (k % 4))) + c % 4;
}

// One 16-byte copy, global to local, of `bytes` (16, or 0 for a chunk of zeros past K).
inline void copy16(__local float4* to, __global const float* from, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"((uint)(ulong)to),
               "l"(from), "r"(bytes)
               : "memory");
}

inline void commit_copies(void) { asm volatile("cp.async.commit_group;" ::: "memory"); }

// A work-item's copies keep their place in the tile from step to step: each one's source at
// k = 0 (rows and columns past the matrix clamped to the last, read and never stored), how far
// it moves a step, its k within a step, and its word in a stage.
typedef struct {
  __global const float* from;
  int k;     // within a step, for the check against K
  int word;  // within a stage's tile
} Copy;

inline Copy along_copy(__global const float* X, int ld, int rows, int r0, int f) {
  const int r = f / CHUNKS, k = 4 * (f % CHUNKS);
  Copy c;
  c.from = X + (long)min(r0 + r, rows - 1) * ld + k;
  c.k = k;
  c.word = along_word(r, k);
  return c;
}

inline Copy across_copy(__global const float* X, int ld, int columns, int width, int c0, int f) {
  const int k = f / (width / 4), c = 4 * (f % (width / 4));
  Copy copy;
  copy.from = X + (long)k * ld + min(c0 + c, columns - 4);
  copy.k = k;
  copy.word = across_word(width, k, c);
  return copy;
}

// Copies step k0 of one operand: `step` floats apart in global memory from one step to the next.
// Chunks past K copy no bytes (zeros), from `fallback`, an address inside the matrix.
inline void copy_step(__local float4* tile, const Copy* copies, int count, long step, int k0,
                      int k_end, __global const float* fallback) {
#pragma unroll
  for (int l = 0; l < count; ++l) {
    __global const float* from = copies[l].from + (k0 / TILE_K) * step;
#if WHOLE_K_STEPS
    copy16(tile + copies[l].word / 4, from, 16);
#else
    const bool inside = k0 + copies[l].k < k_end;
    copy16(tile + copies[l].word / 4, inside ? from : fallback, inside ? 16 : 0);
#endif
  }
}

// Copies step k0 of both operands into a stage: A's tile, then B's.
inline void copy_stage(__local float4* stage, const Copy* a_copies, long a_step,
                       __global const float* A, const Copy* b_copies, long b_step,
                       __global const float* B, int k0, int K) {
  copy_step(stage, a_copies, A_COPIES, a_step, k0, K, A);
  copy_step(stage + A_WORDS / 4, b_copies, B_COPIES, b_step, k0, K, B);
}

// Four 8 x 4 blocks of fp32 words (8 x 8 of 16 bits) from local memory: lanes 8 q .. 8 q + 7
// give the addresses of block q's rows, 16 bytes each; a lane gets word (lane % 4) of row
// (lane / 4) of each block.
inline void load_blocks(uint* r, __local const float* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"((uint)(ulong)row));
}

// A lane's fragments for k-step kk of a stage (A's tile, then B's): a[i] for A's
// rows wm + 16 i .. + 15, b[j] for B's columns wn + 8 j .. + 7, rounded to TF32. The lane holds
// rows g (+ 8) of A at k = t (+ 4), columns g of B at k = t (+ 4). In an along tile the rows 16
// apart share their swizzle; in an across tile the XOR of 2 * t moves the lane's column chunks
// among groups of four: (2 q) ^ (2 t) for chunk pair q, swap[q] words. Always inlined (as
// products): the fragment arrays stay in registers only where every index is a constant.
__attribute__((always_inline)) inline void load_fragments(uint a[4][4], uint b[N_TILES][2],
                                                          __local const float4* stage, int kk,
                                                          int wm, int wn, int lane,
                                                          const int* swap) {
  __local const float* as = (__local const float*)stage;
  __local const float* bs = as + A_WORDS;
  const int g = lane / 4, t = lane % 4;
#if TRANS_A
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      // column chunks of rows wm + 16 i + 8 h + g: chunk pair 2 i + h, 4 pairs to a group
      const int at = wm + 32 * (i / 2) + swap[(2 * i + h) % 4] + 4 * (g / 4) + g % 4;
      a[i][h] = tf32(as[(kk + t) * TILE_M + at]);
      a[i][h + 2] = tf32(as[(kk + t + 4) * TILE_M + at]);
    }
#else
  // Blocks: rows 0-7 and 8-15 at k 0-3, then both at k 4-7: a[i][0..3] in the mma's order.
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    load_blocks(a[i], as + along_word(wm + 16 * i + lane % 16, kk + 4 * (lane / 16)));
#pragma unroll
    for (int e = 0; e < 4; ++e) a[i][e] = tf32(as_float(a[i][e]));
  }
#endif
#if TRANS_B
  // Blocks: columns of tile j at k 0-3 and 4-7, then those of tile j + 1.
#pragma unroll
  for (int j = 0; j < N_TILES; j += 2) {
    uint r[4];
    load_blocks(r, bs + along_word(wn + 8 * (j + lane / 16) + lane % 8, kk + 4 * (lane / 8 % 2)));
    b[j][0] = tf32(as_float(r[0]));
    b[j][1] = tf32(as_float(r[1]));
    b[j + 1][0] = tf32(as_float(r[2]));
    b[j + 1][1] = tf32(as_float(r[3]));
  }
#else
#pragma unroll
  for (int j = 0; j < N_TILES; ++j) {
    const int at = wn + 32 * (j / 4) + swap[j % 4] + 4 * (g / 4) + g % 4;
    b[j][0] = tf32(bs[(kk + t) * TILE_N + at]);
    b[j][1] = tf32(bs[(kk + t + 4) * TILE_N + at]);
  }
#endif
}

__attribute__((always_inline)) inline void products(float acc[4][N_TILES][4], uint a[4][4],
                                                    uint b[N_TILES][2]) {
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < N_TILES; ++j) mma_tile(acc[i][j], a[i], b[j]);
}

// k-steps of 8 a stage, and how many the loop unrolls: whole stages, at least two k-steps, so
// that which of the two fragment buffers a k-step fills is known when it is compiled.
#define SUBSTEPS (TILE_K / 8)
#define UNROLLED (SUBSTEPS > 1 ? SUBSTEPS : 2)
#if TILE_K != 8 && TILE_K != 16 && TILE_K != 32
#error "TILE_K is 8, 16 or 32 (the swizzles, and the fragment buffers' parity)"
#endif
#if TRANS_B && N_TILES % 2
#error "ldmatrix reads B's fragments two tiles at a time"
#endif

__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm_mma(GEMM_ARGUMENTS) {
  __local float4 tiles[STAGES][STAGE_WORDS / 4];
  const int tid = get_local_id(1) * LX + get_local_id(0);
  const int2 origin = block_origin(TILE_M, TILE_N);
  const int m0 = origin.x, n0 = origin.y;
  const ulong batch = get_global_id(2);
  A += offset_a + batch * stride_a;
  B += offset_b + batch * stride_b;
  C += offset_c + batch * stride_c;

  // Steps are k-relative: a step's copies start at k0 * (1 or ld) floats past step 0's.
  Copy a_copies[A_COPIES], b_copies[B_COPIES];
#if TRANS_A
  const long a_step = (long)TILE_K * lda;
#pragma unroll
  for (int l = 0; l < A_COPIES; ++l)
    a_copies[l] = across_copy(A, lda, M, TILE_M, m0, tid + l * THREADS);
#else
  const long a_step = TILE_K;
#pragma unroll
  for (int l = 0; l < A_COPIES; ++l)
    a_copies[l] = along_copy(A, lda, M, m0, tid + l * THREADS);
#endif
#if TRANS_B
  const long b_step = TILE_K;
#pragma unroll
  for (int l = 0; l < B_COPIES; ++l)
    b_copies[l] = along_copy(B, ldb, N, n0, tid + l * THREADS);
#else
  const long b_step = (long)TILE_K * ldb;
#pragma unroll
  for (int l = 0; l < B_COPIES; ++l)
    b_copies[l] = across_copy(B, ldb, N, TILE_N, n0, tid + l * THREADS);
#endif

  // Every stage in flight; one group of copies per step, empty past K, so that every work-item
  // counts the same groups.
#pragma unroll
  for (int s = 0; s < STAGES; ++s) {
    if (s * TILE_K < K)
      copy_stage(tiles[s], a_copies, a_step, A, b_copies, b_step, B, s * TILE_K, K);
    commit_copies();
  }

  // acc[i][j]: the lane's four sums of tile (i, j) of its warp's piece: rows wm + 16 i + g
  // (and + 8), columns wn + 8 j + 2 t (and + 1).
  const int lane = tid % 32, warp = tid / 32, g = lane / 4, t = lane % 4;
  const int wm = warp / WARPS_N * 64, wn = warp % WARPS_N * (4 * WORK_N);
  float acc[4][N_TILES][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < N_TILES; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
  int swap[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) swap[q] = 8 * (q ^ t);

  // Fragments in two buffers: a k-step's products use one while the next k-step's loads fill
  // the other.
  uint a[2][4][4], b[2][N_TILES][2];
  asm volatile(WAIT_FIRST ::: "memory");
  barrier(CLK_LOCAL_MEM_FENCE);
  load_fragments(a[0], b[0], tiles[0], 0, wm, wn, lane, swap);
  const int substeps = (K + TILE_K - 1) / TILE_K * SUBSTEPS;
  for (int u0 = 0; u0 < substeps; u0 += UNROLLED) {
#pragma unroll
    for (int h = 0; h < UNROLLED; ++h) {
      const int u = u0 + h, step = u / SUBSTEPS, read = step % STAGES;
      const int kk = h % SUBSTEPS * 8, now = h % 2, next = 1 - now;
      if (kk + 8 < TILE_K) {
        load_fragments(a[next], b[next], tiles[read], kk + 8, wm, wn, lane, swap);
        products(acc, a[now], b[now]);
      } else if (u < substeps) {  // false only in steps of 8, for the step past an odd last
        asm volatile(WAIT_STEP ::: "memory");
        barrier(CLK_LOCAL_MEM_FENCE);  // the next step landed for all; this one is read
        const int ahead = (step + STAGES) * TILE_K;
        if (ahead < K) copy_stage(tiles[read], a_copies, a_step, A, b_copies, b_step, B, ahead, K);
        commit_copies();
        // Past the last step this reads a stage holding no further step (stale or never
        // written); those fragments go unused.
        load_fragments(a[next], b[next], tiles[(read + 1) % STAGES], 0, wm, wn, lane, swap);
        products(acc, a[now], b[now]);
      }
    }
  }
  asm volatile("cp.async.wait_group 0;" ::: "memory");  // none left in flight at the exit

#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < N_TILES; ++j) {
      const int m = m0 + wm + 16 * i + g, n = n0 + wn + 8 * j + 2 * t;
      store_c_pair(C, ldc, M, N, m, n, (float2)(acc[i][j][0], acc[i][j][1]), alpha, beta);
      store_c_pair(C, ldc, M, N, m + 8, n, (float2)(acc[i][j][2], acc[i][j][3]), alpha, beta);
    }
}
