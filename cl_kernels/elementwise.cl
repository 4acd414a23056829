// Elementwise kernels. Each is a grid-stride loop, so the host may launch any number of
// work-items (the LaunchPlanner's elementwise plan) for any n. Gradient kernels take beta: 0
// overwrites the destination without reading it (it may hold garbage), 1 adds to it.
//
// The plainest kernels go through float4s, (n + 3) / 4 work-items' worth: every buffer starts
// 16-byte aligned, and one 16-byte access per step keeps four times the bytes in flight (the
// H100's copy rose from 2.4 to 2.9 TB/s). The last n % 4 elements follow one by one.
#include "epilogue.h"
#include "muladd.h"

#define FLOAT4_STEPS(i, n) for (ulong i = get_global_id(0); i < (n) / 4; i += get_global_size(0))
#define TAIL_STEPS(i, n) \
  for (ulong i = (n) / 4 * 4 + get_global_id(0); i < (n); i += get_global_size(0))
#define AS_FLOAT4(p) ((__global float4*)(p))
#define AS_CONST_FLOAT4(p) ((__global const float4*)(p))

__kernel void fill(__global float* y, const ulong n, const float value) {
  FLOAT4_STEPS(i, n) AS_FLOAT4(y)[i] = (float4)(value);
  TAIL_STEPS(i, n) y[i] = value;
}

// y[i] = i: positions along an axis (argmax, hardmax).
__kernel void iota(__global float* y, const ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) y[i] = (float)i;
}

__kernel void copy(__global const float* x, __global float* y, const ulong n) {
  FLOAT4_STEPS(i, n) AS_FLOAT4(y)[i] = AS_CONST_FLOAT4(x)[i];
  TAIL_STEPS(i, n) y[i] = x[i];
}

// y = a * x + y
__kernel void axpy(const float a, __global const float* x, __global float* y, const ulong n) {
  FLOAT4_STEPS(i, n) AS_FLOAT4(y)[i] = MULADD((float4)(a), AS_CONST_FLOAT4(x)[i], AS_FLOAT4(y)[i]);
  TAIL_STEPS(i, n) y[i] = a * x[i] + y[i];
}

// y = a * x + beta * y
__kernel void axpby(const float a, __global const float* x, const float beta, __global float* y,
                    const ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0))
    y[i] = beta == 0.0f ? a * x[i] : a * x[i] + beta * y[i];
}

#include "kernel_codes.h"  // the binary operations' codes

// Where element i of an operand of `period` elements repeated to n elements lies: i % period, in
// 32-bit arithmetic where n < 2^32 and with no division where the operand is whole (a 64-bit
// remainder per element held bias adds at a quarter of the H200's bandwidth).
inline ulong repeated(const ulong i, const ulong period, const ulong n) {
  if (period == n) return i;
  return n <= UINT_MAX ? (ulong)((uint)i % (uint)period) : i % period;
}

float4 binary4(const float4 x, const float4 y, const int op) {
  return op == BIN_ADD ? x + y : op == BIN_SUB ? x - y : x * y;
}

// out[i] = epilogue(a[i] (op) b[i % nb]): b repeats over a's leading dimensions (nb divides n).
// Four at a time where nb is a multiple of 4.
__kernel void binary_forward(__global const float* a, __global const float* b,
                             __global float* out, const ulong n, const ulong nb, const int op) {
  if (nb % 4 == 0) {
    FLOAT4_STEPS(i, n)
    AS_FLOAT4(out)[i] = FINISH(binary4(AS_CONST_FLOAT4(a)[i],
                                       AS_CONST_FLOAT4(b)[repeated(i, nb / 4, n / 4)], op));
    return;
  }
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float x = a[i], y = b[repeated(i, nb, n)];
    out[i] = FINISH(op == BIN_ADD ? x + y : op == BIN_SUB ? x - y : x * y);
  }
}

// gx[i] = beta * gx[i] + s * gy[i] * (has_other ? other[i % n_other] : 1)
__kernel void scaled_product(__global const float* gy, __global const float* other,
                             const int has_other, __global float* gx, const ulong n,
                             const ulong n_other, const float s, const float beta) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float g = s * gy[i];
    if (has_other) g *= other[repeated(i, n_other, n)];
    gx[i] = beta == 0.0f ? g : g + beta * gx[i];
  }
}

// Element i of an [outer, r, inner] block as (o, j, k): in 32-bit arithmetic where the block
// has fewer than 2^32 elements: a GPU's 64-bit division takes several times as long (squeezenet1_1's
// concat copies at batch 32 on the H200: 1450 GB/s with it, 2180 without).
inline void split_block_index(const ulong i, const ulong total, const ulong r, const ulong inner,
                              ulong* o, ulong* j, ulong* k) {
  if (total <= 0xffffffffUL) {
    const uint t = (uint)i, in = (uint)inner, q = t / in;
    *k = t - q * in;
    *j = q % (uint)r;
    *o = q / (uint)r;
  } else {
    *k = i % inner;
    *j = (i / inner) % r;
    *o = i / (inner * r);
  }
}

// dst[o, dst_at + j, k] = a[o, j, k] for j < a_r, then b[o, j - a_r, k] for j < a_r + b_r: two
// whole operands of concat written in one launch (a launch costs more than these copies at
// batch 1).
__kernel void copy_two_blocks(__global const float* a, const ulong a_r, __global const float* b,
                              const ulong b_r, __global float* dst, const ulong dst_r,
                              const ulong dst_at, const ulong outer, const ulong inner) {
  const ulong r = a_r + b_r, total = outer * r * inner;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    ulong o, j, k;
    split_block_index(i, total, r, inner, &o, &j, &k);
    const float v = j < a_r ? a[(o * a_r + j) * inner + k] : b[(o * b_r + j - a_r) * inner + k];
    dst[(o * dst_r + dst_at + j) * inner + k] = v;
  }
}

// dst[o, dst_at + j, k] = beta * dst[...] + src[o, src_at + j, k] for j < r: a block of the
// middle axis of [outer, src_r, inner] copied into [outer, dst_r, inner] (concat and its
// gradient).
__kernel void copy_block(__global const float* src, const ulong src_r, const ulong src_at,
                         __global float* dst, const ulong dst_r, const ulong dst_at,
                         const ulong outer, const ulong r, const ulong inner, const float beta) {
  const ulong total = outer * r * inner;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    ulong o, j, k;
    split_block_index(i, total, r, inner, &o, &j, &k);
    const ulong to = (o * dst_r + dst_at + j) * inner + k;
    const float v = src[(o * src_r + src_at + j) * inner + k];
    dst[to] = beta == 0.0f ? v : v + beta * dst[to];
  }
}

// y[c] = beta * y[c] + x at input coordinates in_d = (c_d * mul_d + add_d) / div_d, or `pad`
// where a division is inexact or an in_d falls outside [0, in_dims_d): slices (steps, reversed),
// constant padding, broadcasts (mul 0) and the gradients of slice and pad (div the step), up to
// 8 dimensions (the host merges the ones that read as one run). Unrolled over the long8's
// components and in 32-bit arithmetic where the host says every coordinate fits (`narrow`): the
// 64-bit loop over run-time-indexed arrays held swin_t's slices at 8% of the H200's bandwidth.
#define WINDOW_STEP(T, c)                                                 \
  if ((c) < rank) {                                                       \
    const T e_ = (T)out_dims.s##c, q_ = r_ / e_, at_ = r_ - q_ * e_;      \
    T in_ = at_ * (T)mul.s##c + (T)add.s##c;                              \
    r_ = q_;                                                              \
    if (div.s##c != 1) {                                                  \
      const T num_ = in_, d_ = (T)div.s##c;                               \
      in_ = num_ / d_;                                                    \
      inside = inside && in_ * d_ == num_;                                \
    }                                                                     \
    inside = inside && in_ >= 0 && in_ < (T)in_dims.s##c;                 \
    at += (inside ? in_ : 0) * (T)in_strides.s##c; /* outside: no overflow */ \
  }
#define WINDOW_LOOP(T, VALUE)                                                                  \
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {                      \
    T r_ = (T)i, at = 0;                                                                  \
    bool inside = true;                                                                   \
    WINDOW_STEP(T, 7) WINDOW_STEP(T, 6) WINDOW_STEP(T, 5) WINDOW_STEP(T, 4)                \
    WINDOW_STEP(T, 3) WINDOW_STEP(T, 2) WINDOW_STEP(T, 1) WINDOW_STEP(T, 0)                \
    const VALUE v = inside ? x[at] : fill;                                                \
    y[i] = beta == 0.0f ? v : v + beta * y[i];                                            \
  }
// VALUE: float or float4; the kernels below spell out their names for tests/test_oclgrind.cpp's
// census.
#define WINDOW_BODY(VALUE)                  \
  {                                         \
    const VALUE fill = (VALUE)(pad);        \
    if (narrow)                             \
      WINDOW_LOOP(int, VALUE)               \
    else                                    \
      WINDOW_LOOP(long, VALUE)              \
  }
__kernel void window(__global const float* x, __global float* y, const ulong n, const int rank,
                     const long8 out_dims, const long8 in_dims, const long8 in_strides,
                     const long8 mul, const long8 add, const long8 div, const float pad,
                     const float beta, const int narrow) WINDOW_BODY(float)

// The same in float4s, where the innermost axis is copied four at a time whole (its extents and
// shift multiples of 4, no step): n, the innermost axis's extents and shift and the other axes'
// strides are counted in float4s.
__kernel void window4(__global const float4* x, __global float4* y, const ulong n, const int rank,
                      const long8 out_dims, const long8 in_dims, const long8 in_strides,
                      const long8 mul, const long8 add, const long8 div, const float pad,
                      const float beta, const int narrow) WINDOW_BODY(float4)
