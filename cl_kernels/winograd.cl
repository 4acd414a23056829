// Winograd F(m x m, r x r) for 2-D convolutions with r x r filters, unit strides and dilations
// (ops/conv_winograd.cpp): the output in m x m tiles, each from an alpha x alpha tile of the
// input (alpha = m + r - 1), with alpha^2 multiplications per channel instead of m^2 r^2. The
// three kernels below transform the filters and the input tiles into alpha^2 matrices each (one
// per point xi of the transform), a batched GEMM multiplies them, M[xi] = U[xi] V[xi], and the
// last kernel transforms M back into the output.
// Layouts: U[xi][f][c] (F x C per point), V[xi][c][t] and M[xi][f][t] (T_LD per row), where
// t = (n * TH + ty) * TW + tx numbers the tiles of all samples.
// The host defines WIN_M, WIN_R and the transform's matrices A^T (WIN_AT, m x alpha), G (WIN_G,
// alpha x r) and B^T (WIN_BT, alpha x alpha) as initializers (ops/winograd_transform.hpp); the
// loops over them unroll, so their zeros cost nothing.

#define ALPHA (WIN_M + WIN_R - 1)

// s += c * v for a matrix entry c, which is a constant once the loops unroll: zero entries add
// nothing (0 * v is not folded away by the compiler, as v may be infinite), ones no product.
#define TERM(s, c, v)      \
  do {                     \
    if ((c) == 1.0f)       \
      s += (v);            \
    else if ((c) == -1.0f) \
      s -= (v);            \
    else if ((c) != 0.0f)  \
      s += (c) * (v);      \
  } while (0)

// Tile t of the numbering above: its sample n, row ty and column tx, as (n, ty, tx).
inline int3 tile_at(int t, int TH, int TW) { return (int3)(t / (TW * TH), t / TW % TH, t % TW); }

// U = G g G^T for one filter g (r x r). For each (f, c): with flip = 0, g = w[f, c]; with
// flip = 1 (the input gradient, where f runs over the forward pass's channels and c over its
// filters), g = w[c, f] turned by 180 degrees.
__kernel void winograd_filters(__global const float* w, __global float* u, const ulong u_offset,
                               const int F, const int C, const int flip) {
  const float G[ALPHA][WIN_R] = WIN_G;
  u += u_offset;
  for (int i = get_global_id(0); i < F * C; i += get_global_size(0)) {
    const int f = i / C, c = i % C;
    __global const float* src = w + (long)(flip ? c * F + f : f * C + c) * (WIN_R * WIN_R);
    float g[WIN_R][WIN_R];
#pragma unroll
    for (int a = 0; a < WIN_R; ++a)
#pragma unroll
      for (int b = 0; b < WIN_R; ++b)
        g[a][b] = src[flip ? WIN_R * WIN_R - 1 - (WIN_R * a + b) : WIN_R * a + b];
    float t[ALPHA][WIN_R];  // G g
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)
#pragma unroll
      for (int b = 0; b < WIN_R; ++b) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < WIN_R; ++k) TERM(s, G[a][k], g[k][b]);
        t[a][b] = s;
      }
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)  // (G g) G^T
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < WIN_R; ++k) TERM(s, G[b][k], t[a][k]);
        u[(long)(ALPHA * a + b) * F * C + i] = s;
      }
  }
}

// V = B^T d B for each input tile d (alpha x alpha of channel c, zero in the padding).
// shape: (N, C, H, W); tiles: (TH, TW, PH, PW), the tiles per sample in height and width and
// the padding before the first row and column.
__kernel void winograd_inputs(__global const float* x, __global float* v, const ulong v_offset,
                              const int4 shape, const int4 tiles, const int T_LD) {
  const float BT[ALPHA][ALPHA] = WIN_BT;
  v += v_offset;
  const int N = shape.s0, C = shape.s1, H = shape.s2, W = shape.s3;
  const int TH = tiles.s0, TW = tiles.s1, T = N * TH * TW;
  for (long i = get_global_id(0); i < (long)C * T; i += get_global_size(0)) {
    const int c = i / T, t = i % T;
    const int3 at = tile_at(t, TH, TW);
    const int h0 = WIN_M * at.y - tiles.s2, w0 = WIN_M * at.z - tiles.s3;
    __global const float* plane = x + ((long)at.x * C + c) * H * W;
    float d[ALPHA][ALPHA];
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) {
        const int h = h0 + a, w = w0 + b;
        d[a][b] = (uint)h < (uint)H && (uint)w < (uint)W ? plane[h * W + w] : 0.0f;
      }
    float e[ALPHA][ALPHA];  // B^T d
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < ALPHA; ++k) TERM(s, BT[a][k], d[k][b]);
        e[a][b] = s;
      }
    const long point = (long)C * T_LD;  // between the matrices of two points
    __global float* out = v + (long)c * T_LD + t;
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)  // (B^T d) B
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < ALPHA; ++k) TERM(s, BT[b][k], e[a][k]);
        out[(ALPHA * a + b) * point] = s;
      }
  }
}

// y = beta * y + A^T p A + bias[f] for each output tile (m x m of filter f), from the alpha^2
// products p of the tile. shape: (N, F, OH, OW); tiles: (TH, TW).
#include "epilogue.h"

__kernel void winograd_outputs(__global const float* m, const ulong m_offset, __global float* y,
                               __global const float* bias, const int4 shape, const int2 tiles,
                               const int T_LD, const float beta) {
  const float AT[WIN_M][ALPHA] = WIN_AT;
  m += m_offset;
  const int N = shape.s0, F = shape.s1, OH = shape.s2, OW = shape.s3;
  const int TH = tiles.s0, TW = tiles.s1, T = N * TH * TW;
  for (long i = get_global_id(0); i < (long)F * T; i += get_global_size(0)) {
    const int f = i / T, t = i % T;
    const int3 at = tile_at(t, TH, TW);
    const long point = (long)F * T_LD;
    __global const float* in = m + (long)f * T_LD + t;
    float p[ALPHA][ALPHA];
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) p[a][b] = in[(ALPHA * a + b) * point];
    float q[WIN_M][ALPHA];  // A^T p
#pragma unroll
    for (int a = 0; a < WIN_M; ++a)
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < ALPHA; ++k) TERM(s, AT[a][k], p[k][b]);
        q[a][b] = s;
      }
    const float add = bias ? bias[f] : 0.0f;
    __global float* plane = y + ((long)at.x * F + f) * OH * OW;
#pragma unroll
    for (int a = 0; a < WIN_M; ++a) {  // (A^T p) A
      const int h = WIN_M * at.y + a;
#pragma unroll
      for (int b = 0; b < WIN_M; ++b) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < ALPHA; ++k) TERM(s, AT[b][k], q[a][k]);
        const int w = WIN_M * at.z + b;
        if (h < OH && w < OW) {
          __global float* out = plane + h * OW + w;
          *out = FINISH((beta == 0.0f ? 0.0f : beta * *out) + s + add);
        }
      }
    }
  }
}
