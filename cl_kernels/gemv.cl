// Skinny products, batched: C = alpha * op(A) op(B) + beta * C where M or N is at most 16 (see
// ops/gemv.hpp and LaunchPlanner::gemv). The host hands over SKINNY vectors of length K and one
// big matrix of L (the long side of C) by K, which is streamed once, as strided views:
//   big(l, k) = big[l * big_l + k * big_k]     (gemv_rows and gemv_row_blocks: big_k is 1;
//                                               gemv_cols: big_l is 1)
//   x(k, s)   = small[k * small_k + s * small_s]
//   C(l, s)   = c[l * c_l + s * c_s]
// each from its offset, with a batch stride per get_group_id(2) (0 shares an operand). A product
// split over K runs slice get_group_id(1) of slice_k elements, whose partial sums land c_slice
// floats after the previous slice's (the host passes alpha 1, beta 0 and its scratch as C, and
// gemm_sum_slices sums them). beta == 0 never reads C.
// The host checks that every index within one matrix fits an int.

#include "muladd.h"

#ifndef SKINNY
#define SKINNY 1
#endif
#ifndef LOCAL_SIZE
#define LOCAL_SIZE 64
#endif
#ifndef TEAM  // gemv_rows: work-items summing one row, a power of two dividing LOCAL_SIZE
#define TEAM LOCAL_SIZE
#endif
// Vectors summed in one walk over a slice of K, so their accumulators stay in registers (a CPU's
// hold fewer than 16 of them); the next ones walk it again, from cache.
#ifndef PASS
#define PASS SKINNY
#endif
#ifndef WIDTH  // gemv_cols: float4s of outputs per work-item (CPUs: a run of a row per walk);
                // gemv_row_blocks: rows per work-item
#define WIDTH 1
#endif
// The big matrix's contiguous runs start at multiples of 4 floats (its offset, its other stride
// and its batch stride are multiples of 4): they load as aligned float4s.
#ifndef BIG_FLOAT4
#define BIG_FLOAT4 0
#endif
// gemv_rows: the vectors are contiguous along K (small_k == 1) and start at multiples of 4 floats.
#ifndef SMALL_FLOAT4
#define SMALL_FLOAT4 0
#endif
// gemv_rows: the vectors lie side by side (small_s == 1, small_k > 1: x(k, s) and x(k, s + 1)
// are neighbours), so each element of a row meets a contiguous run of them.
#ifndef SMALL_ALONG_S
#define SMALL_ALONG_S 0
#endif

// The arguments every matrix-vector kernel takes, in the order ops/gemv.cpp sets them; the big
// matrix's stride between runs is big_l (rows kernels) or big_k (gemv_cols).
#define GEMV_ARGUMENTS(big_stride)                                                             \
  const int L, const int K, const int slice_k, const float alpha, __global const float* big,    \
      const ulong big_offset, const int big_stride, const ulong big_batch,                      \
      __global const float* small, const ulong small_offset, const int small_k,                 \
      const int small_s, const ulong small_batch, const float beta, __global float* c,          \
      const ulong c_offset, const int c_l, const int c_s, const ulong c_batch, const ulong c_slice

inline void store(__global float* c, const float alpha, const float acc, const float beta) {
  *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}

// Elements k .. k + 3 of vector s.
inline float4 small4(__global const float* x, const int k, const int small_k, const int small_s,
                     const int s) {
#if SMALL_FLOAT4
  return *(__global const float4*)(x + s * small_s + k);
#else
  __global const float* p = x + s * small_s + k * small_k;
  return (float4)(p[0], p[small_k], p[2 * small_k], p[3 * small_k]);
#endif
}

// Big contiguous along K: a team of TEAM work-items per row l, each taking every TEAM-th float4
// of the slice (so a team's loads are contiguous), then a tree in local memory over the team.
__kernel __attribute__((reqd_work_group_size(LOCAL_SIZE, 1, 1)))
void gemv_rows(GEMV_ARGUMENTS(big_l)) {
  const int lid = get_local_id(0), t = lid % TEAM;
  const int l = get_group_id(0) * (LOCAL_SIZE / TEAM) + lid / TEAM;
  const int slice = get_group_id(1);
  const ulong b = get_group_id(2);
  const int k0 = slice * slice_k, k1 = min(K, k0 + slice_k);
  float acc[SKINNY];
  for (int s = 0; s < SKINNY; ++s) acc[s] = 0.0f;
  if (l < L) {  // no return: the whole group meets the barriers below
    __global const float* row = big + big_offset + b * big_batch + (ulong)l * big_l;
    __global const float* x = small + small_offset + b * small_batch;
    const int whole = k0 + (k1 - k0) / 4 * 4;  // k0 is a multiple of 4
#pragma unroll
    for (int s0 = 0; s0 < SKINNY; s0 += PASS) {
#if SMALL_ALONG_S
      // Element k + e of the row meets a run of PASS neighbouring vectors' elements: one sum per
      // vector, so a CPU adds the run as a vector.
      float sums[PASS];
#else
      // Four lanes per vector (one per element of a float4 of the row), added up once at the
      // end: a multiply-add per element, where a dot product would add across lanes every step.
      float4 sums[PASS];
#endif
#pragma unroll
      for (int i = 0; i < PASS; ++i) sums[i] = 0.0f;
      int k = k0 + 4 * t;
#if TEAM == 1 && SMALL_FLOAT4 && !SMALL_ALONG_S
      // CPUs (a row per work-item, the vectors contiguous along K): 16 floats a step, one AVX-512
      // vector, then float4s for the rest. With float4 sums alone each multiply-add waited on the
      // last (4 floats per latency of one): fully connected layers at batch 1 streamed their
      // weights at half of PoCL's copy bandwidth.
      float16 wide[PASS];
#pragma unroll
      for (int i = 0; i < PASS; ++i) wide[i] = 0.0f;
      for (; k + 16 <= whole; k += 16) {
        const float16 w = vload16(0, row + k);
#pragma unroll
        for (int i = 0; i < PASS; ++i)
          if (s0 + i < SKINNY) wide[i] = MULADD(w, vload16(0, x + (s0 + i) * small_s + k), wide[i]);
      }
#pragma unroll
      for (int i = 0; i < PASS; ++i)
        sums[i] = (wide[i].s0123 + wide[i].s4567) + (wide[i].s89ab + wide[i].scdef);
#endif
      for (; k < whole; k += 4 * TEAM) {
#if BIG_FLOAT4
        const float4 w = *(__global const float4*)(row + k);
#else
        const float4 w = vload4(0, row + k);
#endif
#if SMALL_ALONG_S
        __global const float* xk = x + k * small_k + s0;
        const float we[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int e = 0; e < 4; ++e)
#pragma unroll
          for (int i = 0; i < PASS; ++i)
            if (s0 + i < SKINNY) sums[i] = MULADD(we[e], xk[e * small_k + i], sums[i]);
#else
#pragma unroll
        for (int i = 0; i < PASS; ++i)
          if (s0 + i < SKINNY) sums[i] = MULADD(w, small4(x, k, small_k, small_s, s0 + i), sums[i]);
#endif
      }
#pragma unroll
      for (int i = 0; i < PASS; ++i)
#if SMALL_ALONG_S
        if (s0 + i < SKINNY) acc[s0 + i] = sums[i];
#else
        if (s0 + i < SKINNY) acc[s0 + i] = (sums[i].x + sums[i].y) + (sums[i].z + sums[i].w);
#endif
    }
    for (int k = whole + t; k < k1; k += TEAM)  // K's last elements, in the last slice
      for (int s = 0; s < SKINNY; ++s) acc[s] = MULADD(row[k], x[k * small_k + s * small_s], acc[s]);
  }
#if TEAM > 1
  // Vector-major, so the work-items of one step touch neighbouring words.
  __local float sums[SKINNY * LOCAL_SIZE];
  for (int s = 0; s < SKINNY; ++s) sums[s * LOCAL_SIZE + lid] = acc[s];
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int step = TEAM / 2; step > 0; step /= 2) {
    if (t < step)
      for (int s = 0; s < SKINNY; ++s) sums[s * LOCAL_SIZE + lid] += sums[s * LOCAL_SIZE + lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (int s = 0; s < SKINNY; ++s) acc[s] = sums[s * LOCAL_SIZE + lid];
#endif
  if (t == 0 && l < L) {
    __global float* out = c + c_offset + b * c_batch + slice * c_slice + (ulong)l * c_l;
    for (int s = 0; s < SKINNY; ++s) store(out + s * c_s, alpha, acc[s], beta);
  }
}

// Elements k .. k + 15 of vector s: one load where the vectors run along K.
inline float16 small16(__global const float* x, const int k, const int small_k, const int small_s,
                       const int s) {
  __global const float* p = x + s * small_s + k * small_k;
  if (small_k == 1) return vload16(0, p);
  float lanes[16];
  for (int e = 0; e < 16; ++e) lanes[e] = p[e * small_k];
  return vload16(0, lanes);
}

// gemv_rows for CPUs (rows plans of WIDTH > 1, teams of 1): WIDTH neighbouring rows per
// work-item, walked side by side 16 floats a step, each step's 16 elements of a vector serving
// every row. A row at a time held one stream of the big matrix per core and one chain of
// multiply-adds per vector: batch-1 fully connected layers read their weights at 22 GB/s on a
// 2-core EPYC where ONNX Runtime's reached 36.
__kernel __attribute__((reqd_work_group_size(LOCAL_SIZE, 1, 1)))
void gemv_row_blocks(GEMV_ARGUMENTS(big_l)) {
  const int l0 = get_global_id(0) * WIDTH;
  if (l0 >= L) return;  // no barriers
  const int slice = get_group_id(1);
  const ulong b = get_group_id(2);
  const int k0 = slice * slice_k, k1 = min(K, k0 + slice_k);
  __global const float* rows[WIDTH];
  for (int r = 0; r < WIDTH; ++r)  // rows past L repeat the last, and are not stored
    rows[r] = big + big_offset + b * big_batch + (ulong)min(l0 + r, L - 1) * big_l;
  __global const float* x = small + small_offset + b * small_batch;
  __global float* out = c + c_offset + b * c_batch + slice * c_slice;
  for (int s0 = 0; s0 < SKINNY; s0 += PASS) {
    float16 sums[WIDTH][PASS];
#pragma unroll
    for (int r = 0; r < WIDTH; ++r)
#pragma unroll
      for (int i = 0; i < PASS; ++i) sums[r][i] = 0.0f;
    int k = k0;
    for (; k + 16 <= k1; k += 16) {
      float16 xs[PASS];
#pragma unroll
      for (int i = 0; i < PASS; ++i)
        xs[i] = s0 + i < SKINNY ? small16(x, k, small_k, small_s, s0 + i) : 0.0f;
#pragma unroll
      for (int r = 0; r < WIDTH; ++r) {
        const float16 w = vload16(0, rows[r] + k);
#pragma unroll
        for (int i = 0; i < PASS; ++i) sums[r][i] = MULADD(w, xs[i], sums[r][i]);
      }
    }
    for (int r = 0; r < WIDTH && l0 + r < L; ++r)
      for (int i = 0; i < PASS && s0 + i < SKINNY; ++i) {
        const float16 v = sums[r][i];
        const float8 h = v.lo + v.hi;
        const float4 q = h.lo + h.hi;
        float acc = (q.x + q.y) + (q.z + q.w);
        for (int kk = k; kk < k1; ++kk)
          acc = MULADD(rows[r][kk], x[kk * small_k + (s0 + i) * small_s], acc);
        store(out + (ulong)(l0 + r) * c_l + (s0 + i) * c_s, alpha, acc, beta);
      }
  }
}

// Elements l .. l + 3 of a row of the big matrix, of which `valid` lie within L.
inline float4 big4(__global const float* p, const int valid) {
  if (valid >= 4) {
#if BIG_FLOAT4
    return *(__global const float4*)p;
#else
    return vload4(0, p);
#endif
  }
  if (valid <= 0) return 0.0f;
  return (float4)(p[0], valid > 1 ? p[1] : 0.0f, valid > 2 ? p[2] : 0.0f, 0.0f);
}

// Big contiguous along L: each work-item owns outputs l .. l + 4 * WIDTH - 1 and walks its slice
// of K; neighbouring work-items load neighbouring float4s (WIDTH 1, GPUs), and all of a group
// read the same x(k, s).
__kernel __attribute__((reqd_work_group_size(LOCAL_SIZE, 1, 1)))
void gemv_cols(GEMV_ARGUMENTS(big_k)) {
  const int l = 4 * WIDTH * get_global_id(0);
  if (l >= L) return;
  const int slice = get_group_id(1);
  const ulong b = get_group_id(2);
  const int k0 = slice * slice_k, k1 = min(K, k0 + slice_k);
  __global const float* col = big + big_offset + b * big_batch + l;
  __global const float* x = small + small_offset + b * small_batch;
  __global float* out = c + c_offset + b * c_batch + slice * c_slice + (ulong)l * c_l;
#pragma unroll
  for (int s0 = 0; s0 < SKINNY; s0 += PASS) {
    float4 acc[WIDTH][PASS];
#pragma unroll
    for (int j = 0; j < WIDTH; ++j)
#pragma unroll
      for (int i = 0; i < PASS; ++i) acc[j][i] = 0.0f;
    for (int k = k0; k < k1; ++k) {
      float xs[PASS];
#pragma unroll
      for (int i = 0; i < PASS; ++i)
        xs[i] = s0 + i < SKINNY ? x[k * small_k + (s0 + i) * small_s] : 0.0f;
#pragma unroll
      for (int j = 0; j < WIDTH; ++j) {
        const float4 w = big4(col + k * big_k + 4 * j, L - l - 4 * j);
#pragma unroll
        for (int i = 0; i < PASS; ++i) acc[j][i] = MULADD(w, (float4)(xs[i]), acc[j][i]);
      }
    }
    for (int j = 0; j < WIDTH; ++j)
      for (int i = 0; i < PASS && s0 + i < SKINNY; ++i) {
        const float v[4] = {acc[j][i].x, acc[j][i].y, acc[j][i].z, acc[j][i].w};
        for (int e = 0; e < 4 && l + 4 * j + e < L; ++e)
          store(out + (4 * j + e) * c_l + (s0 + i) * c_s, alpha, v[e], beta);
      }
  }
}
