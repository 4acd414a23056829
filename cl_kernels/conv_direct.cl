// Direct gradients of convolutions whose column matrices have few rows (one group, C x taps of
// at most a few dozen: a network's first layer), ops/conv_direct.cpp. There the column route's
// products have too few rows and columns for an efficient GEMM, and the implicit GEMM's blocks
// would mostly compute nothing; these kernels read x and gy where they lie instead.
// Geometry g and o are conv.cl's: (C, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH, DW)
// and (OD, OH, OW, 0). x is [N, C, D, H, W], gy [N, K, OD, OH, OW], w [K, C, KD, KH, KW].

// Where tap a (of kernel extent along one dimension) of input coordinate z meets the output:
// z = out * stride - pad + a * dilation; -1 where it meets none.
#include "muladd.h"

inline int meets(int z, int a, int stride, int pad, int dilation, int extent) {
  const int shifted = z + pad - a * dilation;
  if (shifted < 0 || shifted % stride != 0) return -1;
  const int out = shifted / stride;
  return out < extent ? out : -1;
}

// gx = beta * gx + the input gradient: a work-item per element of x sums gy * w over the filters
// and the taps that reach it.
__kernel void conv_input_gradient_direct(__global const float* gy, __global const float* w,
                                         __global float* gx, const int16 g, const int4 o,
                                         const int N, const int K, const float beta) {
  const int C = g.s0, D = g.s1, H = g.s2, W = g.s3, T = g.s4 * g.s5 * g.s6;
  const int P = o.s0 * o.s1 * o.s2, V = D * H * W;
  for (long i = get_global_id(0); i < (long)N * C * V; i += get_global_size(0)) {
    const int v = i % V, c = i / V % C, n = i / ((long)V * C);
    const int xw = v % W, xh = v / W % H, xd = v / (W * H);
    float sum = 0.0f;
    for (int a = 0; a < g.s4; ++a) {
      const int od = meets(xd, a, g.s7, g.sa, g.sd, o.s0);
      if (od < 0) continue;
      for (int b = 0; b < g.s5; ++b) {
        const int oh = meets(xh, b, g.s8, g.sb, g.se, o.s1);
        if (oh < 0) continue;
        for (int e = 0; e < g.s6; ++e) {
          const int ow = meets(xw, e, g.s9, g.sc, g.sf, o.s2);
          if (ow < 0) continue;
          __global const float* gy_at = gy + (long)n * K * P + (od * o.s1 + oh) * o.s2 + ow;
          __global const float* w_at = w + (long)c * T + (a * g.s5 + b) * g.s6 + e;
          for (int k = 0; k < K; ++k) sum = MULADD(gy_at[(long)k * P], w_at[(long)k * C * T], sum);
        }
      }
    }
    gx[i] = (beta == 0.0f ? 0.0f : beta * gx[i]) + sum;
  }
}

// The weight gradient gw[k, r] (r = c * T + t, w's own order) = sum over columns q (samples and
// output positions) of gy[k, q] * col[r, q], col the column matrix, never stored: work-group j
// sums its run of `columns` columns into partial[j], TILE_Q columns at a time staged in local
// memory (rows padded by one float against bank conflicts), each work-item owning the pairs
// (k, r) lid, lid + ITEMS, .... Built with FILTERS (K), ROWS (C * T), ITEMS (work-group size)
// and TILE_Q.
//
// Each work-item stages one column of a tile (ITEMS / TILE_Q work-items a column, ITEMS a
// multiple of TILE_Q), so where its sample and position lie is worked out once per tile, not per
// staged element: a dozen divisions each had cost more than the products (the large model's
// first layer at batch 512 on the H100: 0.122 ms, 13% of the roofline; 0.080 so, in
// ops/conv_direct.cpp's work-groups).
#define PAIRS ((FILTERS * ROWS + ITEMS - 1) / ITEMS)
#define COLUMN_ITEMS (ITEMS / TILE_Q)  // work-items staging one column
#if ITEMS < TILE_Q || ITEMS % TILE_Q != 0
#error "conv_weight_gradient_direct: ITEMS must be a multiple of TILE_Q"
#endif

__kernel __attribute__((reqd_work_group_size(ITEMS, 1, 1)))
void conv_weight_gradient_direct(__global const float* x, __global const float* gy,
                                 __global float* partial, const int16 g, const int4 o,
                                 const int N, const int columns) {
  __local float gy_tile[FILTERS][TILE_Q + 1];
  __local float col_tile[ROWS][TILE_Q + 1];
  const int T = g.s4 * g.s5 * g.s6, P = o.s0 * o.s1 * o.s2, Q = N * P;
  const int V = g.s1 * g.s2 * g.s3;
  const int lid = get_local_id(0), qq = lid % TILE_Q, first = lid / TILE_Q;
  const int q_begin = get_group_id(0) * columns, q_end = min(Q, q_begin + columns);
  float acc[PAIRS];
  for (int s = 0; s < PAIRS; ++s) acc[s] = 0.0f;
  for (int q0 = q_begin; q0 < q_end; q0 += TILE_Q) {
    {
      const int q = q0 + qq, n = q / P, p = q - n * P;
      const int ow = p % o.s2, oh = p / o.s2 % o.s1, od = p / (o.s2 * o.s1);
      const bool column = q < q_end;
      __global const float* gy_at = gy + (long)n * FILTERS * P + p;
      for (int k = first; k < FILTERS; k += COLUMN_ITEMS)
        gy_tile[k][qq] = column ? gy_at[(long)k * P] : 0.0f;
      const int z0 = od * g.s7 - g.sa, y0 = oh * g.s8 - g.sb, x0 = ow * g.s9 - g.sc;
      __global const float* x_at = x + (long)n * g.s0 * V;
      for (int r = first; r < ROWS; r += COLUMN_ITEMS) {
        const int c = r / T, t = r % T, e = t % g.s6, b = t / g.s6 % g.s5, a = t / (g.s6 * g.s5);
        const int z = z0 + a * g.sd, y = y0 + b * g.se, xx = x0 + e * g.sf;
        const bool inside = column && (uint)z < (uint)g.s1 && (uint)y < (uint)g.s2 &&
                            (uint)xx < (uint)g.s3;
        col_tile[r][qq] = inside ? x_at[(long)c * V + ((long)z * g.s2 + y) * g.s3 + xx] : 0.0f;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = 0; s < PAIRS; ++s) {
      const int pair = lid + s * ITEMS;
      if (pair < FILTERS * ROWS) {
        const int k = pair / ROWS, r = pair % ROWS;
        float sum = acc[s];
        for (int i = 0; i < TILE_Q; ++i) sum = MULADD(gy_tile[k][i], col_tile[r][i], sum);
        acc[s] = sum;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (int s = 0; s < PAIRS; ++s) {
    const int pair = lid + s * ITEMS;
    if (pair < FILTERS * ROWS) partial[(long)get_group_id(0) * FILTERS * ROWS + pair] = acc[s];
  }
}
