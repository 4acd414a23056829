// The CPU line kernels that keep a segment of SEG positions of a line in one float16
// (conv_depthwise.cl's depthwise_forward_rows, pool.cl's max_pool_forward_rows): 16 floats, one
// AVX-512 vector. Explicit vectors, as PoCL
// vectorizes them (private arrays of lanes had stayed scalar), and always inlined (PoCL had
// called segment_load, a float16 through memory, once per tap).
#define SEG 16

// The columns first + s * stride of a segment's lanes s.
__attribute__((always_inline)) inline int16 segment_columns(const int first, const int stride) {
  return (int16)(first) + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) * stride;
}

// line[first + s * stride] for lanes s < 16, 0 in a lane whose column lies outside [0, extent):
// one or two vector loads where every column lies inside and the stride is 1 or 2 (the
// stride-2 lanes are the even elements of 16 from `first` and the odd ones of 16 from
// first + 15, so no load reaches past the last column); else a gather from clamped columns,
// without a branch per lane (short lines, 7 to 28 positions, are edges from end to end).
__attribute__((always_inline)) inline float16 segment_load(__global const float* line,
                                                           const int first, const int stride,
                                                           const int extent) {
  if (first >= 0 && first + 15 * stride < extent) {
    if (stride == 1) return vload16(0, line + first);
    if (stride == 2)
      return (float16)(vload16(0, line + first).even, vload16(0, line + first + 15).odd);
  }
  const int16 cols = segment_columns(first, stride);
  const int16 at = max(min(cols, (int16)(extent - 1)), (int16)(0));
  const float16 v =
      (float16)(line[at.s0], line[at.s1], line[at.s2], line[at.s3], line[at.s4], line[at.s5],
                line[at.s6], line[at.s7], line[at.s8], line[at.s9], line[at.sa], line[at.sb],
                line[at.sc], line[at.sd], line[at.se], line[at.sf]);
  return select((float16)(0.0f), v, (cols >= 0) & (cols < extent));
}

// Stores the first `count` lanes of v at out.
__attribute__((always_inline)) inline void segment_store(__global float* out, const float16 v,
                                                         const int count) {
  if (count == 16) return vstore16(v, 0, out);
  float lanes[16];
  vstore16(v, 0, lanes);
  for (int s = 0; s < count; ++s) out[s] = lanes[s];
}
