// Reductions over the middle axis of an [outer, r, inner] view, and the matching broadcast.
// The host's reduction engine (runtime/src/ops/reduction.cpp) chains these passes: a pass may
// cut r into `segments` pieces whose partial sums a later pass adds, so no work-item sums a long
// run serially. Destinations take beta like the elementwise gradient kernels: 0 overwrites
// without reading. x and w are read from element x_at on, y written from y_at on (blocks of a
// workspace or of scratch).

#include "kernel_codes.h"

// The combination the passes apply, fixed at build time (-DREDUCE_OP, a REDUCE_ code): sums take
// s, beta and weights; max, min and products are built with s 1, beta 0 and no weights.
#ifndef REDUCE_OP
#define REDUCE_OP REDUCE_SUM
#endif
#if REDUCE_OP == REDUCE_MAX
#define REDUCE_INIT (-INFINITY)
#define COMBINE(a, b) fmax(a, b)
#elif REDUCE_OP == REDUCE_MIN
#define REDUCE_INIT INFINITY
#define COMBINE(a, b) fmin(a, b)
#elif REDUCE_OP == REDUCE_PROD
#define REDUCE_INIT 1.0f
#define COMBINE(a, b) ((a) * (b))
#else
#define REDUCE_INIT 0.0f
#define COMBINE(a, b) ((a) + (b))
#endif

// y[(o * segments + p) * inner + k] = beta * y[..] + s * sum over j in piece p of
// x[o, j, k] * (has_w ? w[o, j, k] : 1). One work-item per output: neighbouring work-items read
// neighbouring k, so each step of the loop reads whole rows of x.
__kernel void reduce_strided(__global const float* x, __global const float* w, const int has_w,
                             const ulong x_at, __global float* y, const ulong y_at,
                             const ulong outer, const ulong r, const ulong inner,
                             const ulong segments, const float s, const float beta) {
  const ulong total = outer * segments * inner, piece = (r + segments - 1) / segments;
  x += x_at;
  w += x_at;
  y += y_at;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    const ulong k = i % inner, g = i / inner;
    const ulong o = g / segments, first = (g % segments) * piece;
    const ulong end = min(r, first + piece);
    float acc = REDUCE_INIT;
    for (ulong j = first, at = (o * r + first) * inner + k; j < end; ++j, at += inner)
      acc = COMBINE(acc, has_w ? x[at] * w[at] : x[at]);
    y[i] = beta == 0.0f ? s * acc : s * acc + beta * y[i];
  }
}

// The same for inner == 1: `lanes` work-items per piece of a row (a power of two dividing the
// work-group, which sums local size / lanes pieces at once, grid-stride over pieces), each
// striding over the piece, then a tree in local memory within the lanes; y[o * segments + p] gets
// the piece's sum. Short rows share a group: a row of 169 (global average pooling over 13x13)
// took a whole 256-item group and a tree of eight barriers per row.
__kernel void reduce_rows(__global const float* x, __global const float* w, const int has_w,
                          const ulong x_at, __global float* y, const ulong y_at, const ulong outer,
                          const ulong r, const ulong segments, const float s, const float beta,
                          const int lanes, __local float* partial) {
  const size_t lid = get_local_id(0), lane = lid % lanes;
  const ulong per_group = get_local_size(0) / lanes, total = outer * segments;
  const ulong piece = (r + segments - 1) / segments;
  x += x_at;
  w += x_at;
  y += y_at;
  for (ulong g0 = get_group_id(0) * per_group; g0 < total; g0 += get_num_groups(0) * per_group) {
    const ulong g = g0 + lid / lanes;
    float acc = REDUCE_INIT;
    if (g < total) {
      const ulong o = g / segments, first = (g % segments) * piece;
      const ulong begin = o * r + first, end = o * r + min(r, first + piece);
      for (ulong j = begin + lane; j < end; j += lanes)
        acc = COMBINE(acc, has_w ? x[j] * w[j] : x[j]);
    }
    partial[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = lanes / 2; step > 0; step /= 2) {
      if (lane < step) partial[lid] = COMBINE(partial[lid], partial[lid + step]);
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lane == 0 && g < total)
      y[g] = beta == 0.0f ? s * partial[lid] : s * partial[lid] + beta * y[g];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
}

// gx[o, j, k] = beta * gx[o, j, k] + s * gy[o, k]
__kernel void broadcast_middle(__global const float* gy, __global float* gx, const ulong outer,
                               const ulong r, const ulong inner, const float s, const float beta) {
  const ulong total = outer * r * inner;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    const ulong k = i % inner, o = i / (r * inner);
    float g = s * gy[o * inner + k];
    gx[i] = beta == 0.0f ? g : g + beta * gx[i];
  }
}

// The gradient of a max or min over the middle axis: gx[o, j, k] = beta * gx[o, j, k] +
// (x[o, j, k] == y[o, k] ? gy[o, k] : 0): every element equal to the extremum gets the gradient.
// For a product, gx = gy * y / x (x nonzero).
__kernel void reduce_select_backward(__global const float* x, __global const float* y,
                                     __global const float* gy, __global float* gx,
                                     const ulong outer, const ulong r, const ulong inner,
                                     const float beta) {
  const ulong total = outer * r * inner;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    const ulong k = i % inner, o = i / (r * inner), at = o * inner + k;
#if REDUCE_OP == REDUCE_PROD
    const float g = gy[at] * y[at] / x[i];
#else
    const float g = x[i] == y[at] ? gy[at] : 0.0f;
#endif
    gx[i] = beta == 0.0f ? g : g + beta * gx[i];
  }
}
