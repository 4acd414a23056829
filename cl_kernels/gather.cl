// gather_elements (ONNX GatherElements) and its gradient over up to 8 dimensions. Indices are
// floats holding whole numbers (negative ones count from the end of the axis); an index outside
// the axis reads NaN. Shapes travel as long8 extents, outermost first.

#define UNPACK8(v) {v.s0, v.s1, v.s2, v.s3, v.s4, v.s5, v.s6, v.s7}

// y (indices' shape) [c] = x[c with c[axis] = indices[c]].
__kernel void gather_elements_forward(__global const float* x, __global const float* indices,
                                      __global float* y, const ulong n, const int rank,
                                      const int axis, const long8 index_dims, const long8 x_dims) {
  const long id[8] = UNPACK8(index_dims);
  const long xd[8] = UNPACK8(x_dims);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long rest = (long)i, offset = 0, stride = 1;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      long c = rest % id[d];
      rest /= id[d];
      if (d == axis) {
        const float v = indices[i];
        c = (long)v;
        if (c < 0) c += xd[d];
        inside = inside && v == (float)(long)v && c >= 0 && c < xd[d];
      }
      offset += c * stride;
      stride *= xd[d];
    }
    y[i] = inside ? x[offset] : NAN;
  }
}

// gx[c] = beta * gx[c] + the sum of gy over the index positions (c with c[axis] = j) whose index
// names c[axis]: a loop over the indices' extent along the axis, no atomics.
__kernel void gather_elements_backward(__global const float* indices, __global const float* gy,
                                       __global float* gx, const ulong n, const int rank,
                                       const int axis, const long8 index_dims, const long8 x_dims,
                                       const float beta) {
  const long id[8] = UNPACK8(index_dims);
  const long xd[8] = UNPACK8(x_dims);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long rest = (long)i, base = 0, stride = 1, axis_stride = 1, target = 0;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      const long c = rest % xd[d];
      rest /= xd[d];
      if (d == axis) {
        target = c;
        axis_stride = stride;
      } else {
        inside = inside && c < id[d];
        base += c * stride;
      }
      stride *= id[d];
    }
    float sum = 0.0f;
    if (inside)
      for (long j = 0; j < id[axis]; ++j) {
        const float v = indices[base + j * axis_stride];
        long c = (long)v;
        if (c < 0) c += xd[axis];
        if (c == target && v == (float)(long)v) sum += gy[base + j * axis_stride];
      }
    gx[i] = beta == 0.0f ? sum : sum + beta * gx[i];
  }
}
