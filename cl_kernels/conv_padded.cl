// Convolution computed directly, for CPUs (ops/conv_padded.hpp). pad_planes first copies the
// input with its zero padding, dealt into SD x SH x SW phases by each coordinate's remainder
// modulo its stride (one phase, the padded input itself, with unit strides), each phase planes of
// Dq x Hq rows of Wq floats. Output position (d, h, w) and tap (a, b, e) then read the copy at
//   phase(a DD % SD, b DH % SH, e DW % SW) + (a DD / SD * Hq + b DH / SH) * Wq + e DW / SW + p,
//   p = (d * Hq + h) * Wq + w,
// so VEC consecutive values of p read VEC consecutive floats: a work-item's VECS vector loads per
// channel and tap serve FILTERS filters, each broadcast weight multiplied into VECS vector
// registers of sums (VECS + FILTERS loads for VECS x FILTERS multiply-adds: with VECS = 1 the
// loads would bound the kernel, two a cycle for as many multiply-adds). No column matrix is
// written or read, and no bound is checked in the loop. Lanes whose h or w lie in the padding's
// rows and columns are computed and dropped. Every load lies inside its channel's copy: the host
// leaves rows of zeros enough for a work-item's reads below each phase's last row.
//
// The geometry g and o are Window::packed() and packed_out(); padded is (Dq, Hq, Wq, 0). With
// FLIP the same kernel computes a convolution's input gradient as a convolution of its output
// gradient (unit strides); with DEPTHWISE (FILTERS 1) a depthwise convolution's forward pass.

#include "epilogue.h"
#include "muladd.h"

#ifndef VEC
#define VEC 16
#endif
#ifndef FILTERS
#define FILTERS 16
#endif
#ifndef VECS
#define VECS 1
#endif
// The strides, g's SD, SH and SW, as constants: the phase arithmetic of the taps then costs no
// division.
#ifndef STRIDE_D
#define STRIDE_D 1
#endif
#ifndef STRIDE_H
#define STRIDE_H 1
#endif
#ifndef STRIDE_W
#define STRIDE_W 1
#endif
#ifndef FLIP
#define FLIP 0
#endif
#ifndef DEPTHWISE
#define DEPTHWISE 0
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
#define vstoreV CAT(vstore, VEC)

// One past the last output's position p in a phase's planes (rows of Wq, planes of Hq rows).
inline int span_of(const int4 o, const int Hq, const int Wq) {
  return ((o.s0 - 1) * Hq + o.s1 - 1) * Wq + o.s2;
}

// Element (dq, hq, wq) of phase (pd, ph, pw) is (dq SD + pd, hq SH + ph, wq SW + pw) of the
// padded input: xp[n, c, phase, dq, hq, wq] = x[n, c, d - PD, h - PH, w - PW] there, zero outside
// x. A work-item per row of the copy.
__kernel void pad_planes(__global const float* x, __global float* xp, const ulong xp_offset,
                         const int16 g, const int4 padded, const int rows) {
  const int Dq = padded.s0, Hq = padded.s1, Wq = padded.s2;
  const int phases = STRIDE_D * STRIDE_H * STRIDE_W;
  xp += xp_offset;
  const int D = g.s1, H = g.s2, W = g.s3;
  for (int r = get_global_id(0); r < rows; r += get_global_size(0)) {
    const int hq = r % Hq, dq = r / Hq % Dq, phase = r / Hq / Dq % phases;
    const int nc = r / Hq / Dq / phases, pw = phase % STRIDE_W;
    const int d = dq * STRIDE_D + phase / (STRIDE_H * STRIDE_W) - g.sa;
    const int h = hq * STRIDE_H + phase / STRIDE_W % STRIDE_H - g.sb;
    __global float* dst = xp + (long)r * Wq;
    if (d < 0 || d >= D || h < 0 || h >= H) {
      for (int w = 0; w < Wq; ++w) dst[w] = 0.0f;
      continue;
    }
    __global const float* src = x + (((long)nc * D + d) * H + h) * W;
#if STRIDE_W == 1  // the pads and the row apart: a plain copy, which the compiler vectorizes
    for (int w = 0; w < g.sc; ++w) dst[w] = 0.0f;
    __global float* inside = dst + g.sc;
    for (int w = 0; w < W; ++w) inside[w] = src[w];
    for (int w = g.sc + W; w < Wq; ++w) dst[w] = 0.0f;
#else  // the same, every STRIDE_W-th column from pw on
    const int first = min(Wq, (max(g.sc - pw, 0) + STRIDE_W - 1) / STRIDE_W);
    const int end = max(first, min(Wq, (g.sc + W - pw + STRIDE_W - 1) / STRIDE_W));
    for (int wq = 0; wq < first; ++wq) dst[wq] = 0.0f;
    __global const float* column = src + pw - g.sc;
    int wq = first;
#if STRIDE_W == 2  // 16 columns from two vector loads while they stay inside the row
    for (; wq + 16 <= end && pw - g.sc + 2 * wq + 32 <= W; wq += 16)
      vstore16((float16)(vload16(0, column + 2 * wq).even, vload16(0, column + 2 * wq + 16).even),
               0, dst + wq);
#endif
    for (; wq < end; ++wq) dst[wq] = column[wq * STRIDE_W];
    for (int wq = end; wq < Wq; ++wq) dst[wq] = 0.0f;
#endif
  }
}

// to[0, n) = FINISH(from[0, n) + beta * to[0, n)) for n < 16, in pieces of 8, 4, 2 and 1 floats
// (the same sum as a whole vector's store).
#define STORE_PIECE(S)                                                                      \
  if (n & S) {                                                                              \
    const CAT(float, S) v = CAT(vload, S)(0, from);                                         \
    CAT(vstore, S)                                                                          \
    (FINISH(beta == 0.0f ? v : MULADD((CAT(float, S))(beta), CAT(vload, S)(0, to), v)), 0, to); \
    from += S, to += S;                                                                     \
  }
inline void store_run(const float* from, __global float* to, const int n, const float beta) {
  STORE_PIECE(8)
  STORE_PIECE(4)
  STORE_PIECE(2)
  if (n & 1) *to = FINISH(beta == 0.0f ? *from : MULADD(beta, *to, *from));
}
#undef STORE_PIECE

// y[n, k, d, h, w] = epilogue(beta * y + sum over c and taps of w[k, c, tap] xp[...] + bias[k])
// (y's sample n at y_offset + n * y_channels * positions)
// for FILTERS filters from get_global_id(1) * FILTERS (K is a multiple of FILTERS) and the
// VECS * VEC positions p from get_global_id(0) * VECS * VEC of sample get_global_id(2) (with
// FILTERS_FIRST the first two dimensions exchanged).
__kernel void conv_padded(__global const float* xp, __global const float* w,
                          __global const float* bias, const int has_bias, __global float* y,
                          const ulong y_offset, const int y_channels, const int16 g,
                          const int4 o, const int4 padded, const int K, const float beta) {
  const int Dq = padded.s0, Hq = padded.s1, Wq = padded.s2;
  const int SD = STRIDE_D, SH = STRIDE_H, SW = STRIDE_W;
  const int OD = o.s0, OH = o.s1, OW = o.s2;
  const int span = span_of(o, Hq, Wq);
#ifdef FILTERS_FIRST  // blocks of filters the first dimension of the grid (ops/conv_padded.cpp)
  const int p0 = get_global_id(1) * (VECS * VEC), k0 = get_global_id(0) * FILTERS;
#else
  const int p0 = get_global_id(0) * (VECS * VEC), k0 = get_global_id(1) * FILTERS;
#endif
  const int n = get_global_id(2);
  if (p0 >= span) return;  // the global size is rounded up to whole work-groups
#ifdef WINDOW_D
  const int KD = WINDOW_D, KH = WINDOW_H, KW = WINDOW_W;
  const int DD = DILATION_D, DH = DILATION_H, DW = DILATION_W;
#else
  const int KD = g.s4, KH = g.s5, KW = g.s6, DD = g.sd, DH = g.se, DW = g.sf;
#endif
#if DEPTHWISE  // a filter per channel (groups = channels = K): filter k0 reads channel k0 alone
  const int C = 1, taps = KD * KH * KW;
  const long phase = (long)Dq * Hq * Wq, plane = phase * SD * SH * SW;
  __global const float* xs = xp + ((long)n * K + k0) * plane + p0;
#else
  const int C = g.s0, taps = KD * KH * KW;
  const long phase = (long)Dq * Hq * Wq, plane = phase * SD * SH * SW;
  __global const float* xs = xp + (long)n * C * plane + p0;
#endif
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
#pragma unroll
    for (int a = 0; a < KD; ++a)
#pragma unroll
      for (int b = 0; b < KH; ++b) {
        const int da = a * DD, hb = b * DH;
        __global const float* row =
            xs + (da % SD * SH + hb % SH) * SW * phase + (da / SD * Hq + hb / SH) * Wq;
#pragma unroll
        for (int e = 0; e < KW; ++e, ++t) {
          const int ew = e * DW;
          __global const float* at = row + ew % SW * phase + ew / SW;
          floatV v[VECS];
#pragma unroll
          for (int j = 0; j < VECS; ++j) v[j] = vloadV(j, at);
#pragma unroll
          for (int i = 0; i < FILTERS; ++i) {
            const floatV weight = (floatV)(wk[i * filter + TAP(t)]);
#pragma unroll
            for (int j = 0; j < VECS; ++j) acc[j][i] = MULADD(weight, v[j], acc[j][i]);
          }
        }
      }
  }

  const long positions = (long)OD * OH * OW;
  // Sample n's output: y's own, or its channels of a concat (y_channels in all, y_offset floats
  // in) where the outputs are placed there.
  __global float* yn = y + y_offset + (long)n * y_channels * positions;
  // The coordinates of position p0, then of each lane's in turn, without a division.
  int wq = p0 % Wq, hq = p0 / Wq % Hq, dq = p0 / Wq / Hq;
  for (int j = 0; j < VECS; ++j) {
    // Most vectors lie whole within a row of the output: stored as one vector (the lanes one by
    // one became scatter instructions, a tenth of the kernel's time on 56 x 56 planes).
    if (p0 + (j + 1) * VEC <= span && wq + VEC <= OW && hq < OH) {
      __global float* yk = yn + (long)k0 * positions + (dq * OH + hq) * OW + wq;
      for (int i = 0; i < FILTERS; ++i, yk += positions) {
        const floatV v = acc[j][i] + (has_bias ? bias[k0 + i] : 0.0f);
        vstoreV(FINISH(beta == 0.0f ? v : MULADD((floatV)(beta), vloadV(0, yk), v)), 0, yk);
      }
      wq += VEC;  // at most to the row's end (where Wq = OW: 1 x 1 windows without pads)
      if (wq == Wq) {
        wq = 0;
        if (++hq == Hq) hq = 0, ++dq;
      }
      continue;
    }
    // The vector's runs of output lanes: where a row of the copy ends within it, or its last
    // lanes lie in the padding's columns, each row's run is stored in pieces of 8, 4, 2 and 1
    // from a private copy, not lane by lane (every vector of a 13 x 13 layer is such a one).
    int run_lane[VEC], run_at[VEC], run_length[VEC], runs = 0;
    for (int l = 0; l < VEC;) {
      const int length = min(VEC - l, Wq - wq);  // lanes left in this row of the copy
      if (dq < OD && hq < OH && wq < OW) {
        run_lane[runs] = l;
        run_at[runs] = (dq * OH + hq) * OW + wq;
        run_length[runs++] = min(length, OW - wq);
      }
      l += length;
      wq += length;
      if (wq == Wq) {
        wq = 0;
        if (++hq == Hq) hq = 0, ++dq;
      }
    }
    float lanes[VEC];
    for (int i = 0; i < FILTERS; ++i) {
      const float shift = has_bias ? bias[k0 + i] : 0.0f;
      __global float* yk = yn + (long)(k0 + i) * positions;
      vstoreV(acc[j][i] + shift, 0, lanes);
      for (int r = 0; r < runs; ++r)
        store_run(lanes + run_lane[r], yk + run_at[r], run_length[r], beta);
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
          for (int i = 0; i < GRADIENT_FILTERS; ++i) acc[i][j] = MULADD(d[i], v, acc[i][j]);
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
