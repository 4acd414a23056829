// resize (ONNX Resize, nearest and linear) over up to 8 dimensions and its gradient. Each output
// coordinate maps to a source coordinate per axis (the coordinate transformation mode, with the
// axis' scale); nearest rounds it to an index, linear interpolates between the two indices
// around it (clamped to the axis, so the edge repeats). The gradient gives each input element
// the sum of what the outputs that read it took from it: a loop over the outputs near it, no
// atomics.

#define UNPACK8(v) {v.s0, v.s1, v.s2, v.s3, v.s4, v.s5, v.s6, v.s7}

#include "kernel_codes.h"  // RESIZE_: the coordinate modes and roundings

// a / b correctly rounded in practice: OpenCL lets a float division be 2.5 ulp off (NVIDIA's
// is), which moved nearest's ties (3.5 / 3.5 - 0.5 came out above 0.5 on the H200); the exact
// remainder fma(-q, b, a) corrects the quotient.
inline float divided(const float a, const float b) {
  const float q = a / b;
  return q + fma(-q, b, a) / b;
}

inline float source_coordinate(const int mode, const long o, const long in_len,
                               const long out_len, const float scale) {
  switch (mode) {
    case RESIZE_ASYMMETRIC: return divided((float)o, scale);
    case RESIZE_ALIGN_CORNERS:
      return out_len == 1 ? 0.0f : divided((float)o * (float)(in_len - 1), (float)(out_len - 1));
    case RESIZE_PYTORCH_HALF_PIXEL:
      return out_len > 1 ? divided((float)o + 0.5f, scale) - 0.5f : 0.0f;
    default: return divided((float)o + 0.5f, scale) - 0.5f;
  }
}

inline long nearest_index(const float x, const int rounding, const long in_len) {
  float r;
  switch (rounding) {
    case RESIZE_PREFER_CEIL: r = (x - floor(x) == 0.5f) ? ceil(x) : round(x); break;
    case RESIZE_FLOOR: r = floor(x); break;
    case RESIZE_CEIL: r = ceil(x); break;
    default: r = (x - floor(x) == 0.5f) ? floor(x) : round(x); break;
  }
  return clamp((long)r, 0L, in_len - 1);
}

// Along one axis, output o reads index lo with weight 1 - w and hi with weight w (nearest: lo
// with weight 1, w = 0).
inline void axis_taps(const int linear, const int mode, const int rounding, const long o,
                      const long in_len, const long out_len, const float scale, long* lo,
                      long* hi, float* w) {
  const float x = source_coordinate(mode, o, in_len, out_len, scale);
  if (!linear) {
    *lo = *hi = nearest_index(x, rounding, in_len);
    *w = 0.0f;
    return;
  }
  const float f = floor(x);
  *lo = clamp((long)f, 0L, in_len - 1);
  *hi = clamp((long)f + 1, 0L, in_len - 1);
  *w = *lo == *hi ? 0.0f : x - f;
}

__kernel void resize_forward(__global const float* x, __global float* y, const ulong n,
                             const int rank, const long8 in_dims, const long8 out_dims,
                             const float8 scales, const int linear, const int mode,
                             const int rounding) {
  const long in[8] = UNPACK8(in_dims);
  const long out[8] = UNPACK8(out_dims);
  const float sc[8] = UNPACK8(scales);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long lo[8], hi[8], stride[8];
    float w[8];
    long rest = (long)i, s = 1;
    for (int d = rank - 1; d >= 0; --d) {
      axis_taps(linear, mode, rounding, rest % out[d], in[d], out[d], sc[d], &lo[d], &hi[d],
                &w[d]);
      rest /= out[d];
      stride[d] = s;
      s *= in[d];
    }
    // Each corner of the box around the source point: bit d of `corner` picks hi along axis d
    // (only where that axis interpolates).
    float sum = 0.0f;
    for (int corner = 0; corner < (1 << rank); ++corner) {
      float weight = 1.0f;
      long offset = 0;
      for (int d = 0; d < rank; ++d) {
        const int up = (corner >> d) & 1;
        if (up && w[d] == 0.0f) {
          weight = 0.0f;
          break;
        }
        weight *= up ? w[d] : 1.0f - w[d];
        offset += (up ? hi[d] : lo[d]) * stride[d];
      }
      if (weight != 0.0f) sum += weight * x[offset];
    }
    y[i] = sum;
  }
}

// gx[c] = beta * gx[c] + the sum over the outputs o that read c of gy[o] times o's weight on c.
// Along each axis the source coordinate grows with o, so the outputs that can read index c lie
// in a window around (c + 0.5) * scale (align_corners: c (out - 1) / (in - 1)), which the loop
// walks.
__kernel void resize_backward(__global const float* gy, __global float* gx, const ulong n,
                              const int rank, const long8 in_dims, const long8 out_dims,
                              const float8 scales, const int linear, const int mode,
                              const int rounding, const float beta) {
  const long in[8] = UNPACK8(in_dims);
  const long out[8] = UNPACK8(out_dims);
  const float sc[8] = UNPACK8(scales);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long c[8], first[8], count[8];
    long rest = (long)i, total = 1;
    for (int d = rank - 1; d >= 0; --d) {
      c[d] = rest % in[d];
      rest /= in[d];
      if (in[d] == out[d] && sc[d] == 1.0f) {  // the identity along this axis
        first[d] = c[d];
        count[d] = 1;
      } else {
        // Outputs whose source coordinate lies within 1 of c (those that read it): o is about
        // (x + 0.5) * scale, give or take half a scale, in every mode but align_corners, where
        // it is x (out - 1) / (in - 1).
        const bool corners = mode == RESIZE_ALIGN_CORNERS;
        const float per = corners ? (float)(out[d] - 1) / (float)max(in[d] - 1, 1L) : sc[d];
        const long centre = (long)(((float)c[d] + (corners ? 0.0f : 0.5f)) * per);
        const long reach = (long)ceil(2.0f * per) + 2;
        first[d] = max(centre - reach, 0L);
        count[d] = min(centre + reach, out[d] - 1) - first[d] + 1;
        if (in[d] == 1 || out[d] == 1) {  // every output reads index 0: the whole axis
          first[d] = 0;
          count[d] = out[d];
        }
      }
      total *= count[d];
    }
    float sum = 0.0f;
    for (long k = 0; k < total; ++k) {
      long r = k, o_offset = 0, o_stride = 1;
      float weight = 1.0f;
      for (int d = rank - 1; d >= 0 && weight != 0.0f; --d) {
        const long o = first[d] + r % count[d];
        r /= count[d];
        long lo, hi;
        float w;
        axis_taps(linear, mode, rounding, o, in[d], out[d], sc[d], &lo, &hi, &w);
        weight *= (lo == c[d] ? 1.0f - w : 0.0f) + (hi == c[d] && w != 0.0f ? w : 0.0f);
        o_offset += o * o_stride;
        o_stride *= out[d];
      }
      if (weight != 0.0f) sum += weight * gy[o_offset];
    }
    gx[i] = beta == 0.0f ? sum : sum + beta * gx[i];
  }
}
