// Elementwise kernels. Each is a grid-stride loop, so the host may launch any number of
// work-items (the LaunchPlanner's elementwise plan) for any n. Gradient kernels take beta: 0
// overwrites the destination without reading it (it may hold garbage), 1 adds to it.
//
// The plainest kernels go through float4s, (n + 3) / 4 work-items' worth: every buffer starts
// 16-byte aligned, and one 16-byte access per step keeps four times the bytes in flight (the
// H100's copy rose from 2.4 to 2.9 TB/s). The last n % 4 elements follow one by one.
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
  FLOAT4_STEPS(i, n) AS_FLOAT4(y)[i] = mad((float4)(a), AS_CONST_FLOAT4(x)[i], AS_FLOAT4(y)[i]);
  TAIL_STEPS(i, n) y[i] = a * x[i] + y[i];
}

// y = a * x + beta * y
__kernel void axpby(const float a, __global const float* x, const float beta, __global float* y,
                    const ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0))
    y[i] = beta == 0.0f ? a * x[i] : a * x[i] + beta * y[i];
}

#include "kernel_codes.h"  // the binary operations' codes

// out[i] = a[i] (op) b[i % nb]: b repeats over a's leading dimensions.
__kernel void binary_forward(__global const float* a, __global const float* b,
                             __global float* out, const ulong n, const ulong nb, const int op) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float x = a[i], y = b[i % nb];
    out[i] = op == BIN_ADD ? x + y : op == BIN_SUB ? x - y : x * y;
  }
}

// gx[i] = beta * gx[i] + s * gy[i] * (has_other ? other[i % n_other] : 1)
__kernel void scaled_product(__global const float* gy, __global const float* other,
                             const int has_other, __global float* gx, const ulong n,
                             const ulong n_other, const float s, const float beta) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float g = s * gy[i];
    if (has_other) g *= other[i % n_other];
    gx[i] = beta == 0.0f ? g : g + beta * gx[i];
  }
}

// A permutation of up to 8 dimensions: output element with coordinates (c0..c[rank-1]) over
// out_dims comes from input offset sum(c[d] * in_strides[d]) (strides already permuted).
__kernel void permute(__global const float* x, __global float* y, const ulong n, const int rank,
                      const long8 out_dims, const long8 in_strides, const float beta) {
  long dims[8] = {out_dims.s0, out_dims.s1, out_dims.s2, out_dims.s3,
                  out_dims.s4, out_dims.s5, out_dims.s6, out_dims.s7};
  long strides[8] = {in_strides.s0, in_strides.s1, in_strides.s2, in_strides.s3,
                     in_strides.s4, in_strides.s5, in_strides.s6, in_strides.s7};
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long rest = (long)i, offset = 0;
    for (int d = rank - 1; d >= 0; --d) {
      offset += (rest % dims[d]) * strides[d];
      rest /= dims[d];
    }
    y[i] = beta == 0.0f ? x[offset] : x[offset] + beta * y[i];
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
// 8 dimensions.
__kernel void window(__global const float* x, __global float* y, const ulong n, const int rank,
                     const long8 out_dims, const long8 in_dims, const long8 in_strides,
                     const long8 mul, const long8 add, const long8 div, const float pad,
                     const float beta) {
  const long od[8] = {out_dims.s0, out_dims.s1, out_dims.s2, out_dims.s3,
                      out_dims.s4, out_dims.s5, out_dims.s6, out_dims.s7};
  const long id[8] = {in_dims.s0, in_dims.s1, in_dims.s2, in_dims.s3,
                      in_dims.s4, in_dims.s5, in_dims.s6, in_dims.s7};
  const long st[8] = {in_strides.s0, in_strides.s1, in_strides.s2, in_strides.s3,
                      in_strides.s4, in_strides.s5, in_strides.s6, in_strides.s7};
  const long m[8] = {mul.s0, mul.s1, mul.s2, mul.s3, mul.s4, mul.s5, mul.s6, mul.s7};
  const long a[8] = {add.s0, add.s1, add.s2, add.s3, add.s4, add.s5, add.s6, add.s7};
  const long q[8] = {div.s0, div.s1, div.s2, div.s3, div.s4, div.s5, div.s6, div.s7};
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long rest = (long)i, offset = 0;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      const long c = rest % od[d], num = c * m[d] + a[d];
      rest /= od[d];
      const long in = num / q[d];
      inside = inside && in * q[d] == num && in >= 0 && in < id[d];
      offset += in * st[d];
    }
    const float v = inside ? x[offset] : pad;
    y[i] = beta == 0.0f ? v : v + beta * y[i];
  }
}
