// Winograd F(m x m, r x r) for convolutions with r x r filter planes, unit strides and dilations
// (ops/conv_winograd.cpp): the output in m x m tiles, each from an alpha x alpha tile of the
// input (alpha = m + r - 1), with alpha^2 multiplications per channel instead of m^2 r^2. The
// three kernels below transform the filters and the input tiles into alpha^2 matrices each (one
// per point xi of the transform), a batched GEMM multiplies them, M[xi] = U[xi] V[xi], and the
// last kernel transforms M back into the output. A 3-D convolution runs the input and output
// transforms over its planes (depth slices) as channels and filters, and sums its depth taps in
// its own products (ops/conv_winograd.cpp's multiply).
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

// out = mat in, out being rows x cols, in type T (float, or a vector of tiles): the left product
// of each transform (G g, B^T d, A^T p), unrolled like TERM's callers.
#define LEFT_PRODUCT(T, out, mat, in, rows, cols, inner)                           \
  _Pragma("unroll") for (int a_ = 0; a_ < (rows); ++a_)                           \
      _Pragma("unroll") for (int b_ = 0; b_ < (cols); ++b_) {                     \
    T s_ = 0.0f;                                                                  \
    _Pragma("unroll") for (int k_ = 0; k_ < (inner); ++k_) TERM(s_, mat[a_][k_], in[k_][b_]); \
    out[a_][b_] = s_;                                                             \
  }

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
    LEFT_PRODUCT(float, t, G, g, ALPHA, WIN_R, WIN_R);
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
    LEFT_PRODUCT(float, e, BT, d, ALPHA, ALPHA, ALPHA);
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

// y = beta * y + A^T p A + bias[f / depth] for each output tile (m x m of plane f), from the
// alpha^2 products p of the tile. shape: (N, F, OH, OW); tiles: (TH, TW). Sample n's plane f is
// plane n * y_channels + f of y from y_offset on: y's own (y_channels = F), or F planes of a
// concat. In 2-D a plane is a filter (depth 1); in 3-D the planes of a filter are its depth.
#include "epilogue.h"

__kernel void winograd_outputs(__global const float* m, const ulong m_offset, __global float* y,
                               const ulong y_offset, const int y_channels,
                               __global const float* bias, const int4 shape, const int2 tiles,
                               const int T_LD, const int depth, const float beta) {
  const float AT[WIN_M][ALPHA] = WIN_AT;
  m += m_offset;
  y += y_offset;
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
    LEFT_PRODUCT(float, q, AT, p, WIN_M, ALPHA, ALPHA);
    const float add = bias ? bias[f / depth] : 0.0f;
    __global float* plane = y + ((long)at.x * y_channels + f) * OH * OW;
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

// CPUs (ops/conv_winograd.cpp defines LANES, the device's vector width, where the context
// loops rows): the same input and output transforms with LANES consecutive tiles in the lanes
// of vectors, so that each entry's sums take one vector instruction for LANES tiles and the
// rows of V and M are written and read as vectors. On 2 cores of an AVX-512 Xeon the tile per
// work-item kernels above, bound by their instructions, took 25 and 12 ms for ResNet's 64
// channels of 56x56 at batch 32 (input and output transforms), these 11 and 6. A work-item per
// LANES tiles of one channel (or filter); lanes past the last tile repeat it and are not stored.
#ifdef LANES
#define CATL_(a, b) a##b
#define CATL(a, b) CATL_(a, b)
#define floatL CATL(float, LANES)
#define vloadL CATL(vload, LANES)
#define vstoreL CATL(vstore, LANES)

// For the tiles t0 .. t0 + LANES - 1 of the numbering above (the last one repeated past T),
// each lane's tile stepped from its predecessor's rather than divided: with tile_ = (n, ty, tx)
// of lane l's tile (the caller's expressions plane, row0 and column0 read it), rows_[l] = row0,
// columns_[l] = column0 and offset_[l] = plane + row0 * at_ + column0, at_ floats a row.
#define LANE_TILES(t0, T, TH, TW, plane, row0, column0, at_, offset_, rows_, columns_)  \
  do {                                                                                     \
    int3 tile_ = tile_at(t0, TH, TW);                                                      \
    for (int l = 0; l < LANES; ++l) {                                                      \
      rows_[l] = (row0), columns_[l] = (column0);                                          \
      offset_[l] = (plane) + (long)rows_[l] * (at_) + columns_[l];                         \
      if ((t0) + l + 1 < (T) && ++tile_.z == (TW)) {                                       \
        tile_.z = 0;                                                                       \
        if (++tile_.y == (TH)) tile_.y = 0, ++tile_.x;                                     \
      }                                                                                    \
    }                                                                                      \
  } while (0)

// V = B^T d B for LANES tiles of channel c; arguments as winograd_inputs'. Each lane's tile is
// gathered row by row into d's lanes (bounds checked only for tiles that reach the padding),
// then transformed as vectors.
__kernel void winograd_inputs_lanes(__global const float* x, __global float* v,
                                    const ulong v_offset, const int4 shape, const int4 tiles,
                                    const int T_LD) {
  const float BT[ALPHA][ALPHA] = WIN_BT;
  v += v_offset;
  const int N = shape.s0, C = shape.s1, H = shape.s2, W = shape.s3;
  const int TH = tiles.s0, TW = tiles.s1, T = N * TH * TW, groups = (T + LANES - 1) / LANES;
  for (long i = get_global_id(0); i < (long)C * groups; i += get_global_size(0)) {
    const int c = i / groups, t0 = i % groups * LANES;
    long offset[LANES];
    int h0[LANES], w0[LANES];
    LANE_TILES(t0, T, TH, TW, ((long)tile_.x * C + c) * H * W, WIN_M * tile_.y - tiles.s2,
               WIN_M * tile_.z - tiles.s3, W, offset, h0, w0);
    float lanes[ALPHA * ALPHA][LANES];
    for (int l = 0; l < LANES; ++l) {
      __global const float* at = x + offset[l];
      if (h0[l] >= 0 && w0[l] >= 0 && h0[l] + ALPHA <= H && w0[l] + ALPHA <= W) {
#pragma unroll
        for (int a = 0; a < ALPHA; ++a)
#pragma unroll
          for (int b = 0; b < ALPHA; ++b) lanes[ALPHA * a + b][l] = at[a * W + b];
      } else {
        for (int a = 0; a < ALPHA; ++a)
          for (int b = 0; b < ALPHA; ++b) {
            const bool inside = (uint)(h0[l] + a) < (uint)H && (uint)(w0[l] + b) < (uint)W;
            lanes[ALPHA * a + b][l] = inside ? at[a * W + b] : 0.0f;
          }
      }
    }
    floatL d[ALPHA][ALPHA], e[ALPHA][ALPHA];  // B^T d
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) d[a][b] = vloadL(0, lanes[ALPHA * a + b]);
    LEFT_PRODUCT(floatL, e, BT, d, ALPHA, ALPHA, ALPHA);
    const long point = (long)C * T_LD;
    __global float* out = v + (long)c * T_LD + t0;
    const int stored = min(LANES, T - t0);
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)  // (B^T d) B
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) {
        floatL s = 0.0f;
#pragma unroll
        for (int k = 0; k < ALPHA; ++k) TERM(s, BT[b][k], e[a][k]);
        __global float* row = out + (ALPHA * a + b) * point;
        if (stored == LANES) {
          vstoreL(s, 0, row);
        } else {
          vstoreL(s, 0, lanes[0]);
          for (int l = 0; l < stored; ++l) row[l] = lanes[0][l];
        }
      }
  }
}

// y = beta * y + A^T p A + bias[f / depth] for LANES tiles of plane f; arguments as
// winograd_outputs'.
// The transformed tiles' m x m outputs are set aside by lanes, then stored tile by tile.
__kernel void winograd_outputs_lanes(__global const float* m, const ulong m_offset,
                                     __global float* y, const ulong y_offset, const int y_channels,
                                     __global const float* bias, const int4 shape,
                                     const int2 tiles, const int T_LD, const int depth,
                                     const float beta) {
  const float AT[WIN_M][ALPHA] = WIN_AT;
  m += m_offset;
  y += y_offset;
  const int N = shape.s0, F = shape.s1, OH = shape.s2, OW = shape.s3;
  const int TH = tiles.s0, TW = tiles.s1, T = N * TH * TW, groups = (T + LANES - 1) / LANES;
  for (long i = get_global_id(0); i < (long)F * groups; i += get_global_size(0)) {
    const int f = i / groups, t0 = i % groups * LANES;
    const long point = (long)F * T_LD;
    __global const float* in = m + (long)f * T_LD + t0;
    const int stored = min(LANES, T - t0);
    floatL p[ALPHA][ALPHA];
#pragma unroll
    for (int a = 0; a < ALPHA; ++a)
#pragma unroll
      for (int b = 0; b < ALPHA; ++b) {
        __global const float* row = in + (ALPHA * a + b) * point;
        if (stored == LANES) {
          p[a][b] = vloadL(0, row);
        } else {
          float lane[LANES];
          for (int l = 0; l < LANES; ++l) lane[l] = row[min(l, stored - 1)];
          p[a][b] = vloadL(0, lane);
        }
      }
    floatL q[WIN_M][ALPHA];  // A^T p
    LEFT_PRODUCT(floatL, q, AT, p, WIN_M, ALPHA, ALPHA);
    const float add = bias ? bias[f / depth] : 0.0f;
    float lanes[WIN_M * WIN_M][LANES];
#pragma unroll
    for (int a = 0; a < WIN_M; ++a)  // (A^T p) A
#pragma unroll
      for (int b = 0; b < WIN_M; ++b) {
        floatL s = add;
#pragma unroll
        for (int k = 0; k < ALPHA; ++k) TERM(s, AT[b][k], q[a][k]);
        vstoreL(s, 0, lanes[WIN_M * a + b]);
      }
    long offset[LANES];
    int h0[LANES], w0[LANES];
    LANE_TILES(t0, T, TH, TW, ((long)tile_.x * y_channels + f) * OH * OW, WIN_M * tile_.y,
               WIN_M * tile_.z, OW, offset, h0, w0);
    for (int l = 0; l < stored; ++l) {
      __global float* out = y + offset[l];
      const int rows = min(WIN_M, OH - h0[l]), columns = min(WIN_M, OW - w0[l]);
      if (rows == WIN_M && columns == WIN_M) {
        // A whole tile: its rows stored with constant bounds, as vectors.
#pragma unroll
        for (int a = 0; a < WIN_M; ++a) {
          float row[WIN_M];
#pragma unroll
          for (int b = 0; b < WIN_M; ++b) {
            const float s = lanes[WIN_M * a + b][l];
            row[b] = FINISH(beta == 0.0f ? s : beta * out[a * OW + b] + s);
          }
#pragma unroll
          for (int b = 0; b < WIN_M; ++b) out[a * OW + b] = row[b];
        }
        continue;
      }
      for (int a = 0; a < rows; ++a)
        for (int b = 0; b < columns; ++b) {
          const float s = lanes[WIN_M * a + b][l];
          out[a * OW + b] = FINISH(beta == 0.0f ? s : beta * out[a * OW + b] + s);
        }
    }
  }
}
#endif
