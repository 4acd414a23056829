// Reductions over the middle axis of an [outer, r, inner] view, and the matching broadcast.
// Destinations take beta like the elementwise gradient kernels: 0 overwrites without reading.
// The reductions read x and w from element offset on (a block of a workspace).

// y[o, k] = beta * y[o, k] + s * sum_j x[o, j, k] * (has_w ? w[o, j, k] : 1)
// One work-item per (o, k): neighbouring work-items read neighbouring k.
__kernel void reduce_strided(__global const float* x, __global const float* w, const int has_w,
                             const ulong offset, __global float* y, const ulong outer, const ulong r,
                             const ulong inner, const float s, const float beta) {
  const ulong total = outer * inner;
  x += offset;
  w += offset;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    const ulong o = i / inner, k = i % inner;
    const ulong base = o * r * inner + k;
    float acc = 0.0f;
    for (ulong j = 0; j < r; ++j) {
      float v = x[base + j * inner];
      acc += has_w ? v * w[base + j * inner] : v;
    }
    y[i] = beta == 0.0f ? s * acc : s * acc + beta * y[i];
  }
}

// The same for inner == 1, each row cut into `segments` contiguous pieces: one work-group per
// piece (grid-stride over pieces), its work-items striding over the piece, then a tree in local
// memory; y[o * segments + piece] gets the piece's sum. With one segment that is y[o]; with more,
// a second pass sums the pieces (a long row then keeps many work-groups busy). The local size is
// a power of two.
__kernel void reduce_rows(__global const float* x, __global const float* w, const int has_w,
                          const ulong offset, __global float* y, const ulong outer, const ulong r,
                          const ulong segments, const float s, const float beta,
                          __local float* partial) {
  const size_t lid = get_local_id(0), lsize = get_local_size(0);
  const ulong piece = (r + segments - 1) / segments;
  x += offset;
  w += offset;
  for (ulong g = get_group_id(0); g < outer * segments; g += get_num_groups(0)) {
    const ulong o = g / segments, first = (g % segments) * piece;
    const ulong begin = o * r + first, end = o * r + min(r, first + piece);
    float acc = 0.0f;
    for (ulong j = begin + lid; j < end; j += lsize) acc += has_w ? x[j] * w[j] : x[j];
    partial[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t step = lsize / 2; step > 0; step /= 2) {
      if (lid < step) partial[lid] += partial[lid + step];
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) y[g] = beta == 0.0f ? s * partial[0] : s * partial[0] + beta * y[g];
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
