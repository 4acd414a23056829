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

// v's lanes moved up by p (1 to 3), zeros coming in at the bottom; constant shuffles, one
// permute each.
__attribute__((always_inline)) inline float16 lanes_up(const float16 v, const int p) {
  if (p == 1) return (float16)(0.0f, v.s0123, v.s4567, v.s89ab, v.scde);
  if (p == 2) return (float16)((float2)(0.0f), v.s0123, v.s4567, v.s89ab, v.scd);
  return (float16)((float3)(0.0f), v.s0123, v.s4567, v.s89ab, v.sc);
}

// v's lanes moved down by q (1 to 3), zeros coming in at the top.
__attribute__((always_inline)) inline float16 lanes_down(const float16 v, const int q) {
  if (q == 1) return (float16)(v.s1234, v.s5678, v.s9abc, v.sdef, 0.0f);
  if (q == 2) return (float16)(v.s2345, v.s6789, v.sabcd, v.sef, (float2)(0.0f));
  return (float16)(v.s3456, v.s789a, v.sbcde, v.sf, (float3)(0.0f));
}

// line[first + s * stride] for lanes s < 16, 0 in a lane whose column lies outside [0, extent):
// one or two vector loads where every column lies inside and the stride is 1 or 2 (the
// stride-2 lanes are the even elements of 16 from `first` and the odd ones of 16 from
// first + 15, so no load reaches past the last column). At the ends of a line of 16 or more
// (a pad of up to 3 at stride 1, of 1 at stride 2) the vectors at the line's end, their lanes
// moved. On PoCL's 2 cores (clnn-run, three rounds) that took mobilenet_v2's depthwise layers
// at batch 1 from 0.56-1.07 ms to 0.36-0.68 (56 wide, 144 channels) and from 0.40-0.76 to
// 0.27-0.48 (stride 2 from 112). Else a gather from clamped columns, without a branch per lane
// (lines of 7 to 14 positions are edges from end to end).
__attribute__((always_inline)) inline float16 segment_load(__global const float* line,
                                                           const int first, const int stride,
                                                           const int extent) {
  if (first >= 0 && first + 15 * stride < extent) {
    if (stride == 1) return vload16(0, line + first);
    if (stride == 2)
      return (float16)(vload16(0, line + first).even, vload16(0, line + first + 15).odd);
  }
  if (stride == 1 && extent >= 16) {
    if (first < 0 && first >= -3) return lanes_up(vload16(0, line), -first);
    const int past = first + 16 - extent;  // lanes past the line's end
    if (first >= 0 && past >= 1 && past <= 3)
      return lanes_down(vload16(0, line + extent - 16), past);
  }
  if (stride == 2 && first == -1 && extent >= 32) {  // columns -1, 1, 3, ..., 29
    const float8 low = vload16(0, line).odd, high = vload16(0, line + 16).odd;
    return (float16)(0.0f, low, high.s0123, high.s456);
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
