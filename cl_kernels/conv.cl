// Convolution through column matrices (vol2col + GEMM). Every convolution is three-dimensional
// here: 1-D and 2-D ones have leading spatial extents of 1. The geometry travels as
// g = (C, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH, DW) (components s0 .. sf) and
// o = (OD, OH, OW, -).
// A chunk of nb samples starting at n0 is worked at a time; its column matrix is
// col[r, q], r = ((c * KD + a) * KH + b) * KW + e over all channels, q = n * P + position,
// P = OD * OH * OW. Buffers in the executor's workspace are addressed with offsets.

#include "epilogue.h"

// col = the input patches of samples n0 .. n0 + nb - 1 (zero where the patch is padding). One
// work-item per channel and output position (c, q), looping over that channel's part of the
// patch: coordinates are divided out once per work-item, where an index division per element
// made this the slowest kernel of a training step on the H100, and there are still C times as
// many work-items as positions to fill the device. Neighbouring work-items write neighbouring
// columns of each row, so the writes coalesce.
__kernel void vol2col(__global const float* x, __global float* col, const ulong col_offset,
                      const int16 g, const int4 o, const int n0, const int nb) {
  const long P = (long)o.s0 * o.s1 * o.s2, nbP = nb * P;
  const long volume = (long)g.s1 * g.s2 * g.s3, taps = (long)g.s4 * g.s5 * g.s6;
  col += col_offset;
  for (long i = get_global_id(0); i < g.s0 * nbP; i += get_global_size(0)) {
    const int c = i / nbP;
    const long q = i - c * nbP;
    long t = q;
    const int ow = t % o.s2; t /= o.s2;
    const int oh = t % o.s1; t /= o.s1;
    const int od = t % o.s0;
    const long n = n0 + t / o.s0;
    const int d0 = od * g.s7 - g.sa, h0 = oh * g.s8 - g.sb, w0 = ow * g.s9 - g.sc;
    __global const float* xc = x + (n * g.s0 + c) * volume;
    __global float* dst = col + c * taps * nbP + q;
    for (int a = 0; a < g.s4; ++a) {
      const int id = d0 + a * g.sd;
      const bool d_in = id >= 0 && id < g.s1;
      for (int b = 0; b < g.s5; ++b) {
        const int ih = h0 + b * g.se;
        const bool dh_in = d_in && ih >= 0 && ih < g.s2;
        const long row = ((long)id * g.s2 + ih) * g.s3;
        for (int e = 0; e < g.s6; ++e, dst += nbP) {
          const int iw = w0 + e * g.sf;
          *dst = dh_in && iw >= 0 && iw < g.s3 ? xc[row + iw] : 0.0f;
        }
      }
    }
  }
}

// The same, one work-item per line of OW output positions: fewer index divisions and
// contiguous writes, which suits CPUs (LaunchPlanner::prefers_row_loops).
__kernel void vol2col_rows(__global const float* x, __global float* col, const ulong col_offset,
                           const int16 g, const int4 o, const int n0, const int nb) {
  const long P = (long)o.s0 * o.s1 * o.s2, nbP = nb * P;
  const long lines = (long)nb * o.s0 * o.s1;
  const long total = (long)g.s0 * g.s4 * g.s5 * g.s6 * lines;
  col += col_offset;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const long r = i / lines;
    long t = i % lines;
    const int oh = t % o.s1; t /= o.s1;
    const int od = t % o.s0;
    const long n = t / o.s0;
    long u = r;
    const int e = u % g.s6; u /= g.s6;
    const int b = u % g.s5; u /= g.s5;
    const int a = u % g.s4;
    const int c = u / g.s4;
    const int id = od * g.s7 - g.sa + a * g.sd;
    const int ih = oh * g.s8 - g.sb + b * g.se;
    __global float* dst = col + r * nbP + ((n * o.s0 + od) * o.s1 + oh) * o.s2;
    if (id < 0 || id >= g.s1 || ih < 0 || ih >= g.s2) {
      for (int ow = 0; ow < o.s2; ++ow) dst[ow] = 0.0f;
      continue;
    }
    __global const float* src = x + ((((n0 + n) * g.s0 + c) * g.s1 + id) * g.s2 + ih) * g.s3;
    for (int ow = 0; ow < o.s2; ++ow) {
      const int iw = ow * g.s9 - g.sc + e * g.sf;
      dst[ow] = iw >= 0 && iw < g.s3 ? src[iw] : 0.0f;
    }
  }
}

// gx (samples n0 ..) = beta * gx + the sum of every column entry that read each input element:
// a gather, so no two work-items write one element.
// The output coordinate o along one axis whose window tap reaches input coordinate t + o * stride
// (t = input + pad - tap * dilation): o = t / stride when that divides and lies inside the
// extent. Unit strides, the common case, skip the division (per tap and element it dominated
// the kernel).
inline bool tap_output(const int t, const int stride, const int extent, int* o) {
  if (stride == 1) {
    *o = t;
    return t >= 0 && t < extent;
  }
  if (t < 0 || t % stride != 0) return false;
  *o = t / stride;
  return *o < extent;
}

__kernel void col2vol(__global const float* gcol, const ulong col_offset, __global float* gx,
                      const int16 g, const int4 o, const int n0, const int nb, const float beta) {
  const long P = (long)o.s0 * o.s1 * o.s2, nbP = nb * P;
  const long per_sample = (long)g.s0 * g.s1 * g.s2 * g.s3;
  const long total = nb * per_sample;
  gcol += col_offset;
  gx += n0 * per_sample;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    long t = i;
    const int iw = t % g.s3; t /= g.s3;
    const int ih = t % g.s2; t /= g.s2;
    const int id = t % g.s1; t /= g.s1;
    const int c = t % g.s0;
    const long n = t / g.s0;
    float sum = 0.0f;
    for (int a = 0; a < g.s4; ++a) {
      int od;
      if (!tap_output(id + g.sa - a * g.sd, g.s7, o.s0, &od)) continue;
      for (int b = 0; b < g.s5; ++b) {
        int oh;
        if (!tap_output(ih + g.sb - b * g.se, g.s8, o.s1, &oh)) continue;
        const long r0 = ((c * g.s4 + a) * g.s5 + b) * g.s6;
        const long q0 = n * P + ((long)od * o.s1 + oh) * o.s2;
        for (int e = 0; e < g.s6; ++e) {
          int ow;
          if (!tap_output(iw + g.sc - e * g.sf, g.s9, o.s2, &ow)) continue;
          sum += gcol[(r0 + e) * nbP + q0 + ow];
        }
      }
    }
    gx[i] = beta == 0.0f ? sum : sum + beta * gx[i];
  }
}

// y[n0 + n, k, p] = beta * y + yt[k, n * P + p] + bias[k]: the GEMM's [K, nb * P] result in
// NCDHW order.
__kernel void chunk_to_nkp(__global const float* yt, const ulong yt_offset, __global float* y,
                           __global const float* bias, const int has_bias, const int K,
                           const long P, const int n0, const int nb, const float beta) {
  const long total = (long)nb * K * P;
  yt += yt_offset;
  y += (long)n0 * K * P;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const long p = i % P, k = (i / P) % K, n = i / (P * K);
    const float v = yt[k * nb * P + n * P + p] + (has_bias ? bias[k] : 0.0f);
    y[i] = beta == 0.0f ? v : v + beta * y[i];
  }
}

// gyt[k, n * P + p] = gy[n0 + n, k, p]: the output gradient as the GEMMs want it.
__kernel void nkp_to_chunk(__global const float* gy, __global float* gyt, const ulong gyt_offset,
                           const int K, const long P, const int n0, const int nb) {
  const long total = (long)nb * K * P;
  gyt += gyt_offset;
  gy += (long)n0 * K * P;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const long p = i % P, n = i / P % nb, k = i / (P * nb);
    gyt[i] = gy[(n * K + k) * P + p];
  }
}

// The filters as the implicit GEMM's A (matmul_vec4.cl, CONV_GATHER), whose rows of the column
// matrix run tap-major (ops/conv_implicit.cpp's tap_table). For group z, filter k < Kg,
// channel c < Cg and tap t < T:
// - forward (flip = 0): out[z, k, t, c] = w[z * Kg + k, c, t];
// - input gradient (flip = 1): out[z, c, t, k] = w[z * Kg + k, c, T - 1 - t], the filters of
//   the convolution of the output gradient that gives a unit-stride convolution's input
//   gradient: flipped, with their channel and filter roles exchanged.
__kernel void tap_major_filters(__global const float* w, __global float* out,
                                const ulong out_offset, const int Kg, const int Cg, const int T,
                                const int groups, const int flip) {
  const long total = (long)groups * Cg * Kg * T;
  const int R = flip ? Cg : Kg, S = flip ? Kg : Cg;  // A's rows, and its columns per tap
  out += out_offset;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const int s = i % S;
    long u = i / S;
    const int t = u % T;
    u /= T;
    const int row = u % R, z = u / R;
    const int k = flip ? s : row, c = flip ? row : s, tap = flip ? T - 1 - t : t;
    out[i] = w[(((long)z * Kg + k) * Cg + c) * T + tap];
  }
}

// y[n, first + k, p] = FINISH(y[n, first + k, p] + bias[k]) for each row (sample n, filter k) of
// the K channels from `first` of y [N, channels, P]: the bias and epilogue of a convolution whose
// product left them out (ops/conv_pointwise.cpp). `first` counts channels from y's start, so
// n0 * channels more starts at sample n0 (the column route's chunks). A row per work-item, for
// CPUs: no index division per element.
__kernel void channel_bias_rows(__global float* y, __global const float* bias, const int has_bias,
                                const int K, const int channels, const int first, const long P,
                                const long rows) {
  for (long row = get_global_id(0); row < rows; row += get_global_size(0)) {
    __global float* line = y + (row / K * channels + first + row % K) * P;
    const float b = has_bias ? bias[row % K] : 0.0f;
    for (long p = 0; p < P; ++p) line[p] = FINISH(line[p] + b);
  }
}
