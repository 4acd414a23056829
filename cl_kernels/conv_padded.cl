// Convolution with unit strides computed directly, for CPUs (ops/conv_padded.hpp). pad_planes
// first copies the input with its zero padding into planes of Dp x Hp x Wp, where output position
// (d, h, w) and tap (a, b, e) read the copy at
//   p + (a * DD * Hp + b * DH) * Wp + e * DW,  p = (d * Hp + h) * Wp + w,
// so VEC consecutive values of p read VEC consecutive floats: a work-item's VECS vector loads per
// channel and tap serve FILTERS filters, each broadcast weight multiplied into VECS vector
// registers of sums (VECS + FILTERS loads for VECS x FILTERS multiply-adds: with VECS = 1 the
// loads would bound the kernel, two a cycle for as many multiply-adds).
// No column matrix is written or read, and no bound is checked in the loop. Lanes whose h or w
// lie in the padding's rows and columns are computed and dropped. Every load lies inside its
// channel's plane of the
// copy: the host leaves rows of zeros enough for a vector below each plane's last row.
//
// The geometry g and o are Window::packed() and packed_out(); padded is (Dp, Hp, Wp, 0). With
// FLIP the same kernel computes a convolution's input gradient as a convolution of its output
// gradient.

#include "epilogue.h"

#ifndef VEC
#define VEC 16
#endif
#ifndef FILTERS
#define FILTERS 16
#endif
#ifndef VECS
#define VECS 1
#endif
#ifndef FLIP
#define FLIP 0
#endif
#ifndef TAPS
#define TAPS 12
#endif
#ifndef GRADIENT_FILTERS
#define GRADIENT_FILTERS 1
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define floatV CAT(float, VEC)
#define vloadV CAT(vload, VEC)

// One past the last output's position p in the copy's planes (rows of Wp, planes of Hp rows).
inline int span_of(const int4 o, const int Hp, const int Wp) {
  return ((o.s0 - 1) * Hp + o.s1 - 1) * Wp + o.s2;
}

// xp[n, c, d, h, w] = x[n, c, d - PD, h - PH, w - PW], zero outside x: a work-item per row of
// the copy (n, c, d, h), written along w.
__kernel void pad_planes(__global const float* x, __global float* xp, const ulong xp_offset,
                         const int16 g, const int4 padded, const int rows) {
  const int Dp = padded.s0, Hp = padded.s1, Wp = padded.s2;
  xp += xp_offset;
  const int D = g.s1, H = g.s2, W = g.s3;
  for (int r = get_global_id(0); r < rows; r += get_global_size(0)) {
    const int hp = r % Hp, dp = r / Hp % Dp, nc = r / Hp / Dp;
    const int d = dp - g.sa, h = hp - g.sb;
    __global float* dst = xp + (long)r * Wp;
    if (d < 0 || d >= D || h < 0 || h >= H) {
      for (int w = 0; w < Wp; ++w) dst[w] = 0.0f;
      continue;
    }
    __global const float* src = x + (((long)nc * D + d) * H + h) * W;
    for (int w = 0; w < Wp; ++w) dst[w] = w >= g.sc && w < g.sc + W ? src[w - g.sc] : 0.0f;
  }
}

// y[n, k, d, h, w] = epilogue(beta * y + sum over c and taps of w[k, c, tap] xp[...] + bias[k])
// for FILTERS filters from get_global_id(1) * FILTERS (K is a multiple of FILTERS) and the
// VECS * VEC positions p from get_global_id(0) * VECS * VEC of sample get_global_id(2).
__kernel void conv_padded(__global const float* xp, __global const float* w,
                          __global const float* bias, const int has_bias, __global float* y,
                          const int16 g, const int4 o, const int4 padded, const int K,
                          const float beta) {
  const int Dp = padded.s0, Hp = padded.s1, Wp = padded.s2;
  const int OD = o.s0, OH = o.s1, OW = o.s2;
  const int span = span_of(o, Hp, Wp);
  const int p0 = get_global_id(0) * (VECS * VEC), k0 = get_global_id(1) * FILTERS;
  const int n = get_global_id(2);
  if (p0 >= span) return;  // the global size is rounded up to whole work-groups
  const int C = g.s0, KD = g.s4, KH = g.s5, KW = g.s6, taps = KD * KH * KW;
  const long plane = (long)Dp * Hp * Wp;
  __global const float* xs = xp + (long)n * C * plane + p0;
#if FLIP
  // An input gradient (ops/conv_padded.cpp): w is the original's [C, K, taps] (its filters are
  // this convolution's channels), each filter read with its taps reversed.
  const long filter = taps, channel = (long)K * taps;
  __global const float* wk = w + (long)k0 * taps + taps - 1;
#define TAP(t) (-(t))
#else
  const long filter = (long)C * taps, channel = taps;
  __global const float* wk = w + (long)k0 * filter;
#define TAP(t) (t)
#endif

  floatV acc[VECS][FILTERS];
#pragma unroll
  for (int j = 0; j < VECS; ++j)
#pragma unroll
    for (int i = 0; i < FILTERS; ++i) acc[j][i] = (floatV)(0.0f);
  for (int c = 0; c < C; ++c, xs += plane, wk += channel) {
    int t = 0;
    for (int a = 0; a < KD; ++a)
      for (int b = 0; b < KH; ++b) {
        __global const float* row = xs + (a * g.sd * Hp + b * g.se) * Wp;
        for (int e = 0; e < KW; ++e, ++t) {
          floatV v[VECS];
#pragma unroll
          for (int j = 0; j < VECS; ++j) v[j] = vloadV(j, row + e * g.sf);
#pragma unroll
          for (int i = 0; i < FILTERS; ++i) {
            const floatV weight = (floatV)(wk[i * filter + TAP(t)]);
#pragma unroll
            for (int j = 0; j < VECS; ++j) acc[j][i] = mad(weight, v[j], acc[j][i]);
          }
        }
      }
  }

  const long positions = (long)OD * OH * OW;
  for (int j = 0; j < VECS; ++j) {
    // Where each lane's output lies within a filter's output, or -1 for a dropped lane.
    int at[VEC];
    for (int l = 0; l < VEC; ++l) {
      const int p = p0 + j * VEC + l, wq = p % Wp, hq = p / Wp % Hp, dq = p / Wp / Hp;
      at[l] = p < span && wq < OW && hq < OH ? (dq * OH + hq) * OW + wq : -1;
    }
    float lanes[VEC];
    for (int i = 0; i < FILTERS; ++i) {
      const int k = k0 + i;
      const float shift = has_bias ? bias[k] : 0.0f;
      __global float* yk = y + ((long)n * K + k) * positions;
      CAT(vstore, VEC)(acc[j][i], 0, lanes);
      for (int l = 0; l < VEC; ++l) {
        if (at[l] < 0) continue;
        const float v = lanes[l] + shift;
        yk[at[l]] = FINISH(beta == 0.0f ? v : v + beta * yk[at[l]]);
      }
    }
  }
}

// gw[k, c, t] = beta * gw + the sum over samples n and positions p of gyp[n, k, p] times
// xp[n, c, p + offset(t)], gyp being gy copied into the same planes (gy_offset floats into the
// workspace, after x's copy) with zeros wherever no output lies: a work-item per block of
// GRADIENT_FILTERS filters, channel and block of up to TAPS taps, each sum in a vector register
// until the end, so that each vector of gy serves TAPS sums and each vector of x
// GRADIENT_FILTERS. Lanes where gyp holds a zero still multiply an x value, so an infinite or
// NaN input element can make a sum NaN where the exact gradient pairs it with nothing.
__kernel void conv_padded_weight_gradient(__global const float* xp, const ulong gy_offset,
                                          __global float* gw, const int16 g, const int4 o,
                                          const int4 padded, const int K, const int N,
                                          const float beta) {
  const int Dp = padded.s0, Hp = padded.s1, Wp = padded.s2;
  const int C = g.s0, KH = g.s5, KW = g.s6, taps = g.s4 * KH * KW;
  const int blocks = (taps + TAPS - 1) / TAPS, items = K / GRADIENT_FILTERS * C * blocks;
  const int span = span_of(o, Hp, Wp);
  const long plane = (long)Dp * Hp * Wp;
  __global const float* gyp = xp + gy_offset;
  for (int item = get_global_id(0); item < items; item += get_global_size(0)) {
    const int block = item % blocks, c = item / blocks % C;
    const int k0 = item / blocks / C * GRADIENT_FILTERS, t0 = block * TAPS;
    int offset[TAPS];
    for (int j = 0; j < TAPS; ++j) {
      const int t = min(t0 + j, taps - 1), e = t % KW, b = t / KW % KH, a = t / KW / KH;
      offset[j] = (a * g.sd * Hp + b * g.se) * Wp + e * g.sf;
    }
    floatV acc[GRADIENT_FILTERS][TAPS];
#pragma unroll
    for (int i = 0; i < GRADIENT_FILTERS; ++i)
#pragma unroll
      for (int j = 0; j < TAPS; ++j) acc[i][j] = (floatV)(0.0f);
    for (int n = 0; n < N; ++n) {
      __global const float* gs = gyp + ((long)n * K + k0) * plane;
      __global const float* xs = xp + ((long)n * C + c) * plane;
      for (int p = 0; p < span; p += VEC) {
        floatV d[GRADIENT_FILTERS];
#pragma unroll
        for (int i = 0; i < GRADIENT_FILTERS; ++i) d[i] = vloadV(0, gs + i * plane + p);
#pragma unroll
        for (int j = 0; j < TAPS; ++j) {
          const floatV v = vloadV(0, xs + p + offset[j]);
#pragma unroll
          for (int i = 0; i < GRADIENT_FILTERS; ++i) acc[i][j] = mad(d[i], v, acc[i][j]);
        }
      }
    }
    float lanes[VEC];
    for (int i = 0; i < GRADIENT_FILTERS; ++i)
      for (int j = 0; j < TAPS && t0 + j < taps; ++j) {
        CAT(vstore, VEC)(acc[i][j], 0, lanes);
        float sum = 0.0f;
        for (int l = 0; l < VEC; ++l) sum += lanes[l];
        __global float* out = gw + ((long)(k0 + i) * C + c) * taps + t0 + j;
        *out = beta == 0.0f ? sum : sum + beta * *out;
      }
  }
}
