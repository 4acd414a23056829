// Winograd F(2x2, 3x3) for 2-D convolutions with 3x3 filters, unit strides and dilations
// (ops/conv_winograd.cpp): the output in 2x2 tiles, each from a 4x4 tile of the input, with 16
// multiplications per channel instead of 36. The three kernels below transform the filters and
// the input tiles into 16 matrices each (one per point xi of the 4x4 transform), a batched GEMM
// multiplies them, M[xi] = U[xi] V[xi], and the last kernel transforms M back into the output.
// Layouts: U[xi][f][c] (F x C per point), V[xi][c][t] and M[xi][f][t] (T_LD per row), where
// t = (n * TH + ty) * TW + tx numbers the tiles of all samples.

// Tile t of the numbering above: its sample n, row ty and column tx, as (n, ty, tx).
inline int3 tile_at(int t, int TH, int TW) { return (int3)(t / (TW * TH), t / TW % TH, t % TW); }

// U = G g G^T for one filter g (3x3), G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// For each (f, c): with flip = 0, g = w[f, c]; with flip = 1 (the input gradient, where f runs
// over the forward pass's channels and c over its filters), g = w[c, f] turned by 180 degrees.
__kernel void winograd_filters(__global const float* w, __global float* u, const ulong u_offset,
                               const int F, const int C, const int flip) {
  u += u_offset;
  for (int i = get_global_id(0); i < F * C; i += get_global_size(0)) {
    const int f = i / C, c = i % C;
    __global const float* src = w + (long)(flip ? c * F + f : f * C + c) * 9;
    float g[3][3];
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) g[a][b] = flip ? src[8 - (3 * a + b)] : src[3 * a + b];
    float t[4][3];  // G g
    for (int b = 0; b < 3; ++b) {
      t[0][b] = g[0][b];
      t[1][b] = 0.5f * (g[0][b] + g[1][b] + g[2][b]);
      t[2][b] = 0.5f * (g[0][b] - g[1][b] + g[2][b]);
      t[3][b] = g[2][b];
    }
    for (int a = 0; a < 4; ++a) {  // (G g) G^T
      __global float* row = u + (long)(4 * a) * F * C + i;
      row[0] = t[a][0];
      row[(long)F * C] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
      row[(long)2 * F * C] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
      row[(long)3 * F * C] = t[a][2];
    }
  }
}

// V = B^T d B for each input tile d (4x4 of channel c, zero in the padding), B^T = [1 0 -1 0;
// 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. shape: (N, C, H, W); tiles: (TH, TW, PH, PW), the tiles per
// sample in height and width and the padding before the first row and column.
__kernel void winograd_inputs(__global const float* x, __global float* v, const ulong v_offset,
                              const int4 shape, const int4 tiles, const int T_LD) {
  v += v_offset;
  const int N = shape.s0, C = shape.s1, H = shape.s2, W = shape.s3;
  const int TH = tiles.s0, TW = tiles.s1, T = N * TH * TW;
  for (long i = get_global_id(0); i < (long)C * T; i += get_global_size(0)) {
    const int c = i / T, t = i % T;
    const int3 at = tile_at(t, TH, TW);
    const int h0 = 2 * at.y - tiles.s2, w0 = 2 * at.z - tiles.s3;
    __global const float* plane = x + ((long)at.x * C + c) * H * W;
    float d[4][4];
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) {
        const int h = h0 + a, w = w0 + b;
        d[a][b] = (uint)h < (uint)H && (uint)w < (uint)W ? plane[h * W + w] : 0.0f;
      }
    float e[4][4];  // B^T d
    for (int b = 0; b < 4; ++b) {
      e[0][b] = d[0][b] - d[2][b];
      e[1][b] = d[1][b] + d[2][b];
      e[2][b] = d[2][b] - d[1][b];
      e[3][b] = d[1][b] - d[3][b];
    }
    const long point = (long)C * T_LD;  // between the matrices of two points
    __global float* out = v + (long)c * T_LD + t;
    for (int a = 0; a < 4; ++a) {  // (B^T d) B
      out[(4 * a + 0) * point] = e[a][0] - e[a][2];
      out[(4 * a + 1) * point] = e[a][1] + e[a][2];
      out[(4 * a + 2) * point] = e[a][2] - e[a][1];
      out[(4 * a + 3) * point] = e[a][1] - e[a][3];
    }
  }
}

// y = beta * y + A^T m A + bias[f] for each output tile (2x2 of filter f), from the 16 products
// m of the tile, A^T = [1 1 1 0; 0 1 -1 -1]. shape: (N, F, OH, OW); tiles: (TH, TW).
#ifdef EPILOGUE_LO  // an activation folded in (ops/epilogue.hpp)
#define FINISH(v) fmin(fmax((v), EPILOGUE_LO), EPILOGUE_HI)
#else
#define FINISH(v) (v)
#endif

__kernel void winograd_outputs(__global const float* m, const ulong m_offset, __global float* y,
                               __global const float* bias, const int4 shape, const int2 tiles,
                               const int T_LD, const float beta) {
  m += m_offset;
  const int N = shape.s0, F = shape.s1, OH = shape.s2, OW = shape.s3;
  const int TH = tiles.s0, TW = tiles.s1, T = N * TH * TW;
  for (long i = get_global_id(0); i < (long)F * T; i += get_global_size(0)) {
    const int f = i / T, t = i % T;
    const int3 at = tile_at(t, TH, TW);
    const long point = (long)F * T_LD;
    __global const float* in = m + (long)f * T_LD + t;
    float p[4][4];
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) p[a][b] = in[(4 * a + b) * point];
    float q[2][4];  // A^T p
    for (int b = 0; b < 4; ++b) {
      q[0][b] = p[0][b] + p[1][b] + p[2][b];
      q[1][b] = p[1][b] - p[2][b] - p[3][b];
    }
    const float add = bias ? bias[f] : 0.0f;
    __global float* plane = y + ((long)at.x * F + f) * OH * OW;
    for (int a = 0; a < 2; ++a) {  // (A^T p) A
      const float r[2] = {q[a][0] + q[a][1] + q[a][2], q[a][1] - q[a][2] - q[a][3]};
      const int h = 2 * at.y + a;
      for (int b = 0; b < 2; ++b) {
        const int w = 2 * at.z + b;
        if (h < OH && w < OW) {
          __global float* out = plane + h * OW + w;
          *out = FINISH((beta == 0.0f ? 0.0f : beta * *out) + r[b] + add);
        }
      }
    }
  }
}
