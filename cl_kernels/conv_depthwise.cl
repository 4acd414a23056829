// Depthwise convolutions (groups == channels, ops/conv_depthwise.cpp): filter k reads channel
// k / M alone, M the channel multiplier, so every output is a short sum over one channel's taps
// and no GEMM is needed. On GPUs, forward and input gradient gather a work-item per element,
// neighbours along the innermost dimension, and the weight gradient sums over samples and
// positions in work-groups. CPUs (LaunchPlanner::prefers_row_loops) take the *_rows kernels: a
// work-item per segment of a line along the innermost dimension, whose loops over a tap's range
// of positions need no index division or bounds check per element. Geometry g and o are
// conv.cl's: (C, D, H, W, KD, KH, KW, SD, SH, SW, PD, PH, PW, DD, DH, DW) and (OD, OH, OW, 0).
// x is [N, C, D, H, W], w [C * M, 1, KD, KH, KW], y [N, C * M, OD, OH, OW]. The host keeps
// padded extents, x and y within int range: the per-element kernels index in int, whose
// division costs a fraction of a long's (on the H200, mobilenet_v2's depthwise layers at batch 32
// took 1.7 ms with long indices, 12% of the copy bandwidth their reads and writes allow).

#include "epilogue.h"
#include "line_segments.h"
#include "muladd.h"

// The filters' extents, the stride and dilation along W and the outputs per work-item along W
// (OWB), compiled in for depthwise_forward (the host always builds it so): its tap loops unroll,
// a tap in the padding reads its plane's first element and adds 0 (no branch around a load), and
// a work-item's OWB neighbouring outputs share each input line's SPAN loads, held in registers
// (a 7 x 7 filter: 10 loads a line for 4 outputs instead of 28; one output per work-item held
// convnext_tiny's depthwise layers at 5% of the H200's rate).
#ifndef KD
#define KD 1
#define KH 1
#define KW 1
#define SW 1
#define DW 1
#define OWB 1
#endif
#define SPAN ((OWB - 1) * SW + (KW - 1) * DW + 1)

// Position xx of the input line starting at line_at, 0 in the padding (its plane's first element
// is read instead, so that no branch surrounds the load).
inline float line_tap(__global const float* x_at, const int line_at, const bool in_line,
                      const int xx, const int width) {
  const bool in = in_line && (uint)xx < (uint)width;
  const float value = x_at[in ? line_at + xx : 0];
  return in ? value : 0.0f;
}

// y = epilogue(beta * y + conv(x, w) + bias (has_bias)): a work-item per OWB neighbouring
// elements of a line of y sums their windows.
__kernel void depthwise_forward(__global const float* x, __global const float* w,
                                __global const float* bias, const int has_bias,
                                __global float* y, const int16 g, const int4 o, const int N,
                                const int M, const float beta) {
  const int C = g.s0, K = C * M, T = KD * KH * KW;
  const int lines = o.s0 * o.s1, blocks = (o.s2 + OWB - 1) / OWB, V = g.s1 * g.s2 * g.s3;
  for (int i = get_global_id(0); i < N * K * lines * blocks; i += get_global_size(0)) {
    const int plane = i / (lines * blocks), rest = i - plane * lines * blocks;
    const int line = rest / blocks, ow0 = (rest - line * blocks) * OWB;
    const int n = plane / K, k = plane - n * K, od = line / o.s1, oh = line - od * o.s1;
    __global const float* x_at = x + (long)(n * C + k / M) * V;
    __global const float* w_at = w + (long)k * T;
    const int x0 = ow0 * SW - g.sc;
    float sum[OWB];
#pragma unroll
    for (int j = 0; j < OWB; ++j) sum[j] = 0.0f;
#pragma unroll
    for (int a = 0; a < KD; ++a) {
      const int z = od * g.s7 - g.sa + a * g.sd;
      const bool in_z = (uint)z < (uint)g.s1;
#pragma unroll
      for (int b = 0; b < KH; ++b) {
        const int yy = oh * g.s8 - g.sb + b * g.se;
        const bool in_line = in_z && (uint)yy < (uint)g.s2;
        const int line_at = in_line ? (z * g.s2 + yy) * g.s3 : 0;
#if OWB > 1  // the line's SPAN positions loaded once (the host keeps SPAN below OWB * KW)
        float v[SPAN];
#pragma unroll
        for (int s = 0; s < SPAN; ++s) {
          const int xx = x0 + s;
          const bool in = in_line && (uint)xx < (uint)g.s3;
          const float value = x_at[in ? line_at + xx : 0];
          v[s] = in ? value : 0.0f;
        }
#define LINE_AT(s) v[s]
#else  // one output: its KW taps alone (a dilated filter's span holds positions it skips)
#define LINE_AT(s) line_tap(x_at, line_at, in_line, x0 + (s), g.s3)
#endif
#pragma unroll
        for (int e = 0; e < KW; ++e) {
          const float tap = w_at[(a * KH + b) * KW + e];
#pragma unroll
          for (int j = 0; j < OWB; ++j) sum[j] = MULADD(LINE_AT(j * SW + e * DW), tap, sum[j]);
        }
#undef LINE_AT
      }
    }
    const float shift = has_bias ? bias[k] : 0.0f;
    __global float* y_at = y + ((long)plane * lines + line) * o.s2;
#pragma unroll
    for (int j = 0; j < OWB; ++j)
      if (ow0 + j < o.s2) {
        __global float* out = y_at + ow0 + j;
        *out = FINISH((beta == 0.0f ? 0.0f : beta * *out) + (sum[j] + shift));
      }
  }
}

// Where tap a (of kernel extent along one dimension) of input coordinate z meets the output:
// z = out * stride - pad + a * dilation; -1 where it meets none.
inline int depthwise_meets(int z, int a, int stride, int pad, int dilation, int extent) {
  const int shifted = z + pad - a * dilation;
  if (shifted < 0 || shifted % stride != 0) return -1;
  const int out = shifted / stride;
  return out < extent ? out : -1;
}

// gx = beta * gx + the input gradient: a work-item per element of x gathers gy * w over the
// taps that reach it and the M filters of its channel.
__kernel void depthwise_input_gradient(__global const float* gy, __global const float* w,
                                       __global float* gx, const int16 g, const int4 o,
                                       const int N, const int M, const float beta) {
  const int C = g.s0, T = g.s4 * g.s5 * g.s6;
  const int P = o.s0 * o.s1 * o.s2, V = g.s1 * g.s2 * g.s3;
  for (int i = get_global_id(0); i < N * C * V; i += get_global_size(0)) {
    const int plane = i / V, v = i - plane * V, n = plane / C, c = plane - n * C;
    const int row = v / g.s3, xw = v - row * g.s3, xd = row / g.s2, xh = row - xd * g.s2;
    // The channel's M filters: gy's channels c * M ..., w's rows c * M ....
    __global const float* gy_at = gy + (long)(n * C + c) * M * P;
    __global const float* w_at = w + (long)c * M * T;
    float sum = 0.0f;
    for (int a = 0; a < g.s4; ++a) {
      const int od = depthwise_meets(xd, a, g.s7, g.sa, g.sd, o.s0);
      if (od < 0) continue;
      for (int b = 0; b < g.s5; ++b) {
        const int oh = depthwise_meets(xh, b, g.s8, g.sb, g.se, o.s1);
        if (oh < 0) continue;
        for (int e = 0; e < g.s6; ++e) {
          const int ow = depthwise_meets(xw, e, g.s9, g.sc, g.sf, o.s2);
          if (ow < 0) continue;
          const int p = (od * o.s1 + oh) * o.s2 + ow, t = (a * g.s5 + b) * g.s6 + e;
          for (int m = 0; m < M; ++m) sum = MULADD(gy_at[(long)m * P + p], w_at[m * T + t], sum);
        }
      }
    }
    gx[i] = (beta == 0.0f ? 0.0f : beta * gx[i]) + sum;
  }
}

// The weight gradient gw[k, t] = sum over samples n and output positions p of
// gy[n, k, p] * x[n, k / M, the position tap t of p reads] (0 in the padding). A work-group per
// (filter k, block of TAPS taps, piece j of the N * P columns), grid-stride over them: its
// ITEMS work-items stride over the piece, each holding TAPS sums (one read of gy serves all),
// then a tree in local memory per tap. out[(k * T + t) * pieces + j] = beta * out[..] + the
// piece's sum: with one piece out is gw; with more, scratch that the reduction engine sums.
// Built with ITEMS (a power of two) and TAPS; the defaults only let the other kernels build.
#ifndef ITEMS
#define ITEMS 1
#endif
#ifndef TAPS
#define TAPS 1
#endif

// The offsets from a window's origin of taps t0 .. t0 + TAPS - 1 (past the last tap T - 1, the
// last again), and their sums zeroed: the weight gradients' per-block set-up.
inline void tap_offsets(const int t0, const int T, const int16 g, int* dz, int* dy, int* dx,
                        float* acc) {
  for (int s = 0; s < TAPS; ++s) {
    const int t = min(t0 + s, T - 1);
    const int e = t % g.s6, b = t / g.s6 % g.s5, a = t / (g.s6 * g.s5);
    dz[s] = a * g.sd - g.sa;
    dy[s] = b * g.se - g.sb;
    dx[s] = e * g.sf - g.sc;
    acc[s] = 0.0f;
  }
}

__kernel __attribute__((reqd_work_group_size(ITEMS, 1, 1)))
void depthwise_weight_gradient(__global const float* x, __global const float* gy,
                               __global float* out, const int16 g, const int4 o, const int N,
                               const int M, const int pieces, const float beta) {
  __local float tree[ITEMS];
  const int C = g.s0, K = C * M, T = g.s4 * g.s5 * g.s6;
  const int P = o.s0 * o.s1 * o.s2, V = g.s1 * g.s2 * g.s3;
  const int blocks = (T + TAPS - 1) / TAPS, lid = get_local_id(0);
  const long Q = (long)N * P, piece = (Q + pieces - 1) / pieces;
  for (long group = get_group_id(0); group < (long)K * blocks * pieces;
       group += get_num_groups(0)) {
    const int j = group % pieces, block = group / pieces % blocks, k = group / pieces / blocks;
    const int t0 = block * TAPS;
    // Each tap's offset from a window's origin, once per group.
    int dz[TAPS], dy[TAPS], dx[TAPS];
    float acc[TAPS];
    tap_offsets(t0, T, g, dz, dy, dx, acc);
    const long end = min(Q, (j + 1) * piece);
    for (long q = j * piece + lid; q < end; q += ITEMS) {
      const long n = q / P;
      const int p = q - n * P;
      const int ow = p % o.s2, oh = p / o.s2 % o.s1, od = p / (o.s2 * o.s1);
      const float d = gy[(n * K + k) * P + p];
      __global const float* x_at = x + (n * C + k / M) * V;
      for (int s = 0; s < TAPS; ++s) {
        const int z = od * g.s7 + dz[s], yy = oh * g.s8 + dy[s], xx = ow * g.s9 + dx[s];
        if ((uint)z < (uint)g.s1 && (uint)yy < (uint)g.s2 && (uint)xx < (uint)g.s3)
          acc[s] = MULADD(d, x_at[(z * g.s2 + yy) * g.s3 + xx], acc[s]);
      }
    }
    // The last block's taps past T repeat tap T - 1 and are not written.
    for (int s = 0; s < TAPS && t0 + s < T; ++s) {
      tree[lid] = acc[s];
      barrier(CLK_LOCAL_MEM_FENCE);
      for (int step = ITEMS / 2; step > 0; step /= 2) {
        if (lid < step) tree[lid] += tree[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
      }
      if (lid == 0) {
        const long at = ((long)k * T + t0 + s) * pieces + j;
        out[at] = (beta == 0.0f ? 0.0f : beta * out[at]) + tree[0];
      }
    }
  }
}

// ceil(n / d) for d > 0 and any n.
inline int depthwise_ceil_div(int n, int d) { return n > 0 ? (n + d - 1) / d : -(-n / d); }

// The positions out of [begin, end) along a line whose tap at offset `off` (stride s) reads
// inside an input line of `extent`: 0 <= out * s + off < extent.
inline int2 depthwise_span(int off, int s, int extent, int begin, int end) {
  return (int2)(max(begin, depthwise_ceil_div(-off, s)),
                min(end, depthwise_ceil_div(extent - off, s)));
}

// acc plus a row's three taps at stride 2 from column -1 over the segment of outputs from
// `begin`, whose columns 2 begin .. 2 begin + 31 lie inside the line: output o reads columns
// 2 o - 1, 2 o and 2 o + 1, so the 32 columns, loaded once, give all three: the odd ones moved
// up a lane (column 2 begin - 1, or the padding's zero, first), the even ones, the odd ones.
__attribute__((always_inline)) inline float16 stride2_three_taps(__global const float* line,
                                                                 const int begin,
                                                                 __global const float* taps,
                                                                 const float16 acc) {
  const float16 low = vload16(0, line + 2 * begin), high = vload16(0, line + 2 * begin + 16);
  const float16 even = (float16)(low.even, high.even), odd = (float16)(low.odd, high.odd);
  const float before = begin > 0 ? line[2 * begin - 1] : 0.0f;
  const float16 left = (float16)(before, odd.s0123, odd.s4567, odd.s89ab, odd.scde);
  return MULADD(odd, (float16)(taps[2]),
                MULADD(even, (float16)(taps[1]), MULADD(left, (float16)(taps[0]), acc)));
}

// depthwise_forward, a work-item per segment of SEG positions of a line of y, summed in one
// float16 (line_segments.h) and stored once with the bias, beta and the epilogue (FINISH): a tap
// is one or two vector loads of x's line where the segment's reads lie inside it (unit or
// stride-2 convolutions) or reach a few columns into its padding (moved lanes), lanes gathered
// one by one only at other padded edges, zeros standing for the padding; at stride 2 with three
// taps from column -1, a row's taps share their loads (stride2_three_taps). A work-item takes a
// whole plane of y (sample, filter), so its indices cost no division per segment. (Summing in y
// tap by tap had cost three scalar memory operations per tap and position: mobilenet_v2's
// depthwise layers ran at a tenth of the CPU's bandwidth.)
__kernel void depthwise_forward_rows(__global const float* x, __global const float* w,
                                     __global const float* bias, const int has_bias,
                                     __global float* y, const int16 g, const int4 o, const int N,
                                     const int M, const float beta) {
  const int C = g.s0, K = C * M, T = g.s4 * g.s5 * g.s6, V = g.s1 * g.s2 * g.s3;
  // Stride 2 along W, three taps from column -1 (mobilenet's downsampling layers): a row's
  // taps share one pair of loads.
  const bool pairs = g.s9 == 2 && g.s6 == 3 && g.sc == 1 && g.sf == 1;
  for (long plane = get_global_id(0); plane < (long)N * K; plane += get_global_size(0)) {
    for (int od = 0; od < o.s0; ++od) {
      for (int oh = 0; oh < o.s1; ++oh) {
        for (int start = 0; start < o.s2; start += SEG) {
          // With beta 0 a line of SEG or more ends on a whole segment that overlaps the one
          // before (its outputs written twice, the same values): its loads then reach at most
          // the pad past the line's end, which segment_load takes as vectors, not gathers.
          const int begin = beta == 0.0f && start + SEG > o.s2 && o.s2 >= SEG ? o.s2 - SEG : start;
          const int k = plane % K;
          const long n = plane / K, line = (plane * o.s0 + od) * o.s1 + oh;
          float16 acc = (float16)(0.0f);
          __global const float* x_at = x + (n * C + k / M) * V;
          __global const float* w_at = w + (long)k * T;
          for (int a = 0; a < g.s4; ++a) {
            const int z = od * g.s7 - g.sa + a * g.sd;
            if ((uint)z >= (uint)g.s1) continue;
            for (int b = 0; b < g.s5; ++b) {
              const int yy = oh * g.s8 - g.sb + b * g.se;
              if ((uint)yy >= (uint)g.s2) continue;
              __global const float* x_line = x_at + (z * g.s2 + yy) * g.s3;
              __global const float* taps = w_at + (a * g.s5 + b) * g.s6;
              if (pairs && 2 * begin + 31 < g.s3) {
                acc = stride2_three_taps(x_line, begin, taps, acc);
                continue;
              }
              for (int e = 0; e < g.s6; ++e) {
                const float16 v = segment_load(x_line, begin * g.s9 + e * g.sf - g.sc, g.s9, g.s3);
                acc = MULADD(v, (float16)(taps[e]), acc);
              }
            }
          }
          __global float* y_line = y + line * o.s2 + begin;
          const int count = min(SEG, o.s2 - begin);
          acc += (float16)(has_bias ? bias[k] : 0.0f);
          if (beta != 0.0f) {
            float before[SEG];
            for (int s = 0; s < SEG; ++s) before[s] = s < count ? y_line[s] : 0.0f;
            acc = MULADD((float16)(beta), vload16(0, before), acc);
          }
          segment_store(y_line, FINISH(acc), count);
        }
      }
    }
  }
}

// depthwise_forward for small planes on CPUs (ops/conv_depthwise.cpp's plane_kernel_floats):
// a work-item per plane of y, its lanes running over the plane's positions from end to end
// rather than line by line, so that lines of 7 or 14 positions fill whole vectors. Built for
// one geometry: stride P_STRIDE (1 or 2) along both axes, input planes of exactly P_STRIDE *
// (P_OH, P_OW) positions, P_KH x P_KW taps from (-P_PH, -P_PW), no dilation. The input plane is
// first copied into private memory, dealt into P_STRIDE x P_STRIDE phases by the parity of row
// and column (one phase at unit stride), each a plane of P_OH x P_OW with P_LEAD zeros before it
// and P_TAIL after: tap (b, e) then reads phase ((b - PH) mod S, (e - PW) mod S) at the output's
// own flat position plus a constant, one vector load for 16 outputs. Rows above and below the
// input read the zeros; a column past either side would read the neighbouring row's end, so
// those lanes are masked. (The line kernel gathered every lane of such short lines: mobilenet_v2's
// 7x7 and 14x14 layers ran at a tenth of the bandwidth their reads and writes allow.)
#ifndef P_OW
#define P_STRIDE 1
#define P_KH 1
#define P_KW 1
#define P_PH 0
#define P_PW 0
#define P_OH 1
#define P_OW 1
#define P_LEAD 0
#define P_TAIL 15
#endif
#define P_POSITIONS (P_OH * P_OW)
#define P_PHASE (P_LEAD + P_POSITIONS + P_TAIL)
// floor(a / P_STRIDE) and a mod P_STRIDE for a possibly negative tap offset a.
#define P_DIV(a) ((a) >= 0 ? (a) / P_STRIDE : -((P_STRIDE - 1 - (a)) / P_STRIDE))
#define P_MOD(a) ((a) - P_DIV(a) * P_STRIDE)

__kernel void depthwise_forward_planes(__global const float* x, __global const float* w,
                                       __global const float* bias, const int has_bias,
                                       __global float* y, const int N, const int C, const int M,
                                       const float beta) {
  const int K = C * M, T = P_KH * P_KW;
  float phases[P_STRIDE * P_STRIDE * P_PHASE];
  // The zeros around each phase, once: the copies below write only the planes between them.
  for (int f = 0; f < P_STRIDE * P_STRIDE; ++f) {
    for (int i = 0; i < P_LEAD; ++i) phases[f * P_PHASE + i] = 0.0f;
    for (int i = 0; i < P_TAIL; ++i) phases[f * P_PHASE + P_LEAD + P_POSITIONS + i] = 0.0f;
  }
  for (long plane = get_global_id(0); plane < (long)N * K; plane += get_global_size(0)) {
    const int k = plane % K;
    const long n = plane / K;
    __global const float* x_at =
        x + (n * C + k / M) * (P_STRIDE * P_STRIDE * P_POSITIONS);
#if P_STRIDE == 1
    float* inside = phases + P_LEAD;
    int i = 0;
    for (; i + 16 <= P_POSITIONS; i += 16) vstore16(vload16(0, x_at + i), 0, inside + i);
    for (; i < P_POSITIONS; ++i) inside[i] = x_at[i];
#else  // rows and columns of each parity into their phases
    for (int row = 0; row < 2 * P_OH; ++row) {
      __global const float* src = x_at + row * (2 * P_OW);
      float* even = phases + (row % 2 * 2) * P_PHASE + P_LEAD + row / 2 * P_OW;
      float* odd = even + P_PHASE;
      int j = 0;
      for (; j + 8 <= P_OW; j += 8) {
        const float16 v = vload16(0, src + 2 * j);
        vstore8(v.even, 0, even + j);
        vstore8(v.odd, 0, odd + j);
      }
      for (; j < P_OW; ++j) even[j] = src[2 * j], odd[j] = src[2 * j + 1];
    }
#endif
    float taps[P_KH * P_KW];
    for (int t = 0; t < T; ++t) taps[t] = w[(long)k * T + t];
    const float shift = has_bias ? bias[k] : 0.0f;
    __global float* y_at = y + plane * P_POSITIONS;
    // Each lane's output column, for the masks of the taps that reach across a side.
    int16 column = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) % P_OW;
    for (int p0 = 0; p0 < P_POSITIONS; p0 += 16) {
      float16 acc = (float16)(0.0f);
#pragma unroll
      for (int b = 0; b < P_KH; ++b) {
#pragma unroll
        for (int e = 0; e < P_KW; ++e) {
          const int phase = P_MOD(b - P_PH) * P_STRIDE + P_MOD(e - P_PW);
          const int across = P_DIV(e - P_PW);  // columns moved, within the phase
          const float* at = phases + phase * P_PHASE + P_LEAD + p0;
          float16 v = vload16(0, at + P_DIV(b - P_PH) * P_OW + across);
          if (across != 0)
            v = select((float16)(0.0f), v, (column + across >= 0) & (column + across < P_OW));
          acc = MULADD(v, (float16)(taps[b * P_KW + e]), acc);
        }
      }
      acc += (float16)(shift);
      const int count = min(16, P_POSITIONS - p0);
      if (beta != 0.0f) {
        float before[16];
        for (int s = 0; s < 16; ++s) before[s] = s < count ? y_at[p0 + s] : 0.0f;
        acc = MULADD((float16)(beta), vload16(0, before), acc);
      }
      segment_store(y_at + p0, FINISH(acc), count);
      column += (int16)(16 % P_OW);
      column = select(column, column - (int16)(P_OW), column >= (int16)(P_OW));
    }
  }
}

// depthwise_input_gradient, a work-item per segment of `seg` positions of a line of x: each tap
// adds gy's line times the tap at the positions it reached, every stride-th one.
__kernel void depthwise_input_gradient_rows(__global const float* gy, __global const float* w,
                                            __global float* gx, const int16 g, const int4 o,
                                            const int N, const int M, const int seg,
                                            const float beta) {
  const int C = g.s0, T = g.s4 * g.s5 * g.s6, P = o.s0 * o.s1 * o.s2;
  const int segs = (g.s3 + seg - 1) / seg;
  for (long i = get_global_id(0); i < (long)N * C * g.s1 * g.s2 * segs;
       i += get_global_size(0)) {
    const long line = i / segs;
    const int xh = line % g.s2, xd = line / g.s2 % g.s1, c = line / ((long)g.s2 * g.s1) % C;
    const long n = line / ((long)g.s2 * g.s1 * C);
    const int begin = i % segs * seg, end = min(g.s3, begin + seg);
    __global float* gx_line = gx + line * g.s3;
    if (beta == 0.0f)
      for (int xw = begin; xw < end; ++xw) gx_line[xw] = 0.0f;
    else
      for (int xw = begin; xw < end; ++xw) gx_line[xw] *= beta;
    for (int a = 0; a < g.s4; ++a) {
      const int od = depthwise_meets(xd, a, g.s7, g.sa, g.sd, o.s0);
      if (od < 0) continue;
      for (int b = 0; b < g.s5; ++b) {
        const int oh = depthwise_meets(xh, b, g.s8, g.sb, g.se, o.s1);
        if (oh < 0) continue;
        for (int m = 0; m < M; ++m) {
          const long k = (long)c * M + m;
          __global const float* gy_line = gy + (n * C * M + k) * P + (od * o.s1 + oh) * o.s2;
          for (int e = 0; e < g.s6; ++e) {
            // Output position ow reaches xw = ow * SW + off; those within [begin, end).
            const int off = e * g.sf - g.sc;
            const int lo = max(0, depthwise_ceil_div(begin - off, g.s9));
            const int hi = min(o.s2, depthwise_ceil_div(end - off, g.s9));
            const float tap = w[k * T + (a * g.s5 + b) * g.s6 + e];
            for (int ow = lo; ow < hi; ++ow)
              gx_line[ow * g.s9 + off] = MULADD(gy_line[ow], tap, gx_line[ow * g.s9 + off]);
          }
        }
      }
    }
  }
}

// depthwise_weight_gradient for CPUs (ReductionPlan::item_per_row): a work-item per (filter k,
// block of TAPS taps, piece j), the piece a run of `per_piece` units, each a segment of `seg`
// positions of a line of gy over samples and (OD, OH). out as there.
__kernel void depthwise_weight_gradient_rows(__global const float* x, __global const float* gy,
                                             __global float* out, const int16 g, const int4 o,
                                             const int N, const int M, const int seg,
                                             const int pieces, const long per_piece,
                                             const float beta) {
  const int C = g.s0, K = C * M, T = g.s4 * g.s5 * g.s6;
  const int P = o.s0 * o.s1 * o.s2, V = g.s1 * g.s2 * g.s3;
  const int blocks = (T + TAPS - 1) / TAPS, segs = (o.s2 + seg - 1) / seg;
  const long units = (long)N * o.s0 * o.s1 * segs;
  for (long i = get_global_id(0); i < (long)K * blocks * pieces; i += get_global_size(0)) {
    const int j = i % pieces, block = i / pieces % blocks, k = i / pieces / blocks;
    const int t0 = block * TAPS;
    int dz[TAPS], dy[TAPS], dx[TAPS];
    float acc[TAPS];
    tap_offsets(t0, T, g, dz, dy, dx, acc);
    const long last = min(units, (j + 1) * per_piece);
    for (long u = j * per_piece; u < last; ++u) {
      const long line = u / segs;  // over (n, od, oh)
      const int oh = line % o.s1, od = line / o.s1 % o.s0;
      const long n = line / ((long)o.s1 * o.s0);
      const int begin = u % segs * seg, end = min(o.s2, begin + seg);
      __global const float* gy_line = gy + (n * K + k) * P + (od * o.s1 + oh) * o.s2;
      __global const float* x_at = x + (n * C + k / M) * V;
      for (int s = 0; s < TAPS; ++s) {
        const int z = od * g.s7 + dz[s], yy = oh * g.s8 + dy[s];
        if ((uint)z >= (uint)g.s1 || (uint)yy >= (uint)g.s2) continue;
        __global const float* x_line = x_at + (z * g.s2 + yy) * g.s3;
        const int off = dx[s];
        const int2 span = depthwise_span(off, g.s9, g.s3, begin, end);
        float sum = acc[s];
        for (int ow = span.s0; ow < span.s1; ++ow)
          sum = MULADD(gy_line[ow], x_line[ow * g.s9 + off], sum);
        acc[s] = sum;
      }
    }
    for (int s = 0; s < TAPS && t0 + s < T; ++s) {
      const long at = ((long)k * T + t0 + s) * pieces + j;
      out[at] = (beta == 0.0f ? 0.0f : beta * out[at]) + acc[s];
    }
  }
}
