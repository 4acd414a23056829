// Max and average pooling over three spatial dimensions (1-D and 2-D inputs have leading extents
// of 1), forward and backward. Geometry as in conv.cl: g = (C, D, H, W, KD, KH, KW, SD, SH, SW,
// PD, PH, PW, DD, DH, DW), o = (OD, OH, OW, -); e = (end pads PD', PH', PW', count_include_pad).
// Backward gathers: each input element sums over the windows that contain it, so no two
// work-items write one element.

#include "line_segments.h"
#include "muladd.h"

// Element i of planes of D x H x W as (plane, d, h, w), in 32-bit arithmetic where i and the
// plane fit it (64-bit division had made max pooling run at a quarter of the copy bandwidth on
// the H200).
void split_position(const long i, const int D, const int H, const int W, long* plane, int* d,
                    int* h, int* w) {
  const long per_plane = (long)D * H * W;
  if (i <= UINT_MAX && per_plane <= UINT_MAX) {
    uint t = (uint)i;
    *plane = t / (uint)per_plane;
    t %= (uint)per_plane;
    *w = t % (uint)W;
    t /= (uint)W;
    *h = t % (uint)H;
    *d = t / (uint)H;
    return;
  }
  *plane = i / per_plane;
  long t = i % per_plane;
  *w = t % W;
  t /= W;
  *h = t % H;
  *d = t / H;
}

// Line r of outputs (OW of them, the *_rows and *_pairs kernels' unit) as (plane, od, oh).
void split_line(const long r, const int4 o, long* plane, int* od, int* oh) {
  *oh = r % o.s1;
  *od = r / o.s1 % o.s0;
  *plane = r / o.s1 / o.s0;
}

// Offset of input position (d, h, w) of plane (n, c), or -1 when it lies in the padding.
long tap_offset(const int16 g, const long plane, const int d, const int h, const int w) {
  if (d < 0 || d >= g.s1 || h < 0 || h >= g.s2 || w < 0 || w >= g.s3) return -1;
  return ((plane * g.s1 + d) * g.s2 + h) * g.s3 + w;
}

// The input offset of the first maximum of window (od, oh, ow) of `plane`; -1 if the window
// holds no input element. The plane's offset and each row's are worked out once, not per tap
// (three 64-bit products a tap had held max pooling at under half the copy bandwidth, H200).
long window_argmax(__global const float* x, const int16 g, const long plane, const int od,
                   const int oh, const int ow) {
  const long plane_at = plane * g.s1 * g.s2 * g.s3;
  const int d0 = od * g.s7 - g.sa, h0 = oh * g.s8 - g.sb, w0 = ow * g.s9 - g.sc;
  x += plane_at;
  long best = -1;
  float best_value = -INFINITY;
  for (int a = 0; a < g.s4; ++a) {
    const int d = d0 + a * g.sd;
    if (d < 0 || d >= g.s1) continue;
    for (int b = 0; b < g.s5; ++b) {
      const int h = h0 + b * g.se;
      if (h < 0 || h >= g.s2) continue;
      const long row = ((long)d * g.s2 + h) * g.s3;
      for (int e = 0; e < g.s6; ++e) {
        const int w = w0 + e * g.sf;
        if (w < 0 || w >= g.s3) continue;
        const float v = x[row + w];
        if (best < 0 || v > best_value) {
          best = row + w;
          best_value = v;
        }
      }
    }
  }
  return best < 0 ? -1 : plane_at + best;
}

// The divisor of average window (od, oh, ow): its taps inside the padded input when padding
// counts, else those inside the input.
float window_divisor(const int16 g, const int4 e, const int od, const int oh, const int ow) {
  const int start[3] = {od * g.s7 - g.sa, oh * g.s8 - g.sb, ow * g.s9 - g.sc};
  const int extent[3] = {g.s1, g.s2, g.s3}, size[3] = {g.s4, g.s5, g.s6};
  const int pad_begin[3] = {g.sa, g.sb, g.sc}, pad_end[3] = {e.s0, e.s1, e.s2};
  float count = 1.0f;
  for (int d = 0; d < 3; ++d) {
    int lo = start[d], hi = start[d] + size[d];
    if (e.s3) {
      lo = max(lo, -pad_begin[d]);
      hi = min(hi, extent[d] + pad_end[d]);
    } else {
      lo = max(lo, 0);
      hi = min(hi, extent[d]);
    }
    count *= (float)max(hi - lo, 0);
  }
  return count;
}

// y = each window's maximum; with has_argmax, argmax = the input offset it came from (for
// backward; -1 for a window over padding only).
__kernel void max_pool_forward(__global const float* x, __global float* y,
                               __global int* argmax, const int has_argmax, const int16 g,
                               const int4 o, const long planes) {
  const long P = (long)o.s0 * o.s1 * o.s2, total = planes * P;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    long plane;
    int od, oh, ow;
    split_position(i, o.s0, o.s1, o.s2, &plane, &od, &oh, &ow);
    const long at = window_argmax(x, g, plane, od, oh, ow);
    y[i] = at >= 0 ? x[at] : 0.0f;
    if (has_argmax) argmax[i] = (int)at;
  }
}

// The same, a work-item per segment of SEG outputs of a line in one float16 (line_segments.h):
// no index division per output, and a tap one or two vector loads where the segment's reads
// lie inside x's row (unit or stride-2 windows), lanes gathered one by one only at a padded
// edge. Each lane keeps the first maximum as window_argmax does. A work-item takes a whole
// plane, so its indices cost no division per segment. (A scalar window_argmax per output had
// run resnet18's 3x3 stride-2 pooling at 1 GB/s on 2 cores.)
__kernel void max_pool_forward_rows(__global const float* x, __global float* y,
                                    __global int* argmax, const int has_argmax, const int16 g,
                                    const int4 o, const long planes) {
  for (long plane = get_global_id(0); plane < planes; plane += get_global_size(0)) {
    for (int od = 0; od < o.s0; ++od) {
      for (int oh = 0; oh < o.s1; ++oh) {
        for (int begin = 0; begin < o.s2; begin += SEG) {
          const long r = (plane * o.s0 + od) * o.s1 + oh;  // the line
          const long plane_at = plane * g.s1 * g.s2 * g.s3;
          float16 best = (float16)(-INFINITY);
          int16 at = (int16)(-1);  // in the plane; -1 until a lane meets an input element
          for (int a = 0; a < g.s4; ++a) {
            const int d = od * g.s7 - g.sa + a * g.sd;
            if (d < 0 || d >= g.s1) continue;
            for (int b = 0; b < g.s5; ++b) {
              const int h = oh * g.s8 - g.sb + b * g.se;
              if (h < 0 || h >= g.s2) continue;
              const int row = (d * g.s2 + h) * g.s3;
              for (int e = 0; e < g.s6; ++e) {
                const int first = begin * g.s9 - g.sc + e * g.sf;  // lane 0's column
                const int16 cols = segment_columns(first, g.s9);
                const float16 v = segment_load(x + plane_at + row, first, g.s9, g.s3);
                const int16 take = (cols >= 0) & (cols < g.s3) & ((at < 0) | isgreater(v, best));
                best = select(best, v, take);
                at = select(at, (int16)(row) + cols, take);
              }
            }
          }
          const long out = r * o.s2 + begin;
          const int count = min(SEG, o.s2 - begin);
          segment_store(y + out, select(best, (float16)(0.0f), at < 0), count);
          if (has_argmax) {
            int index[SEG];
            vstore16(select((int16)(plane_at) + at, (int16)(-1), at < 0), 0, index);
            for (int s = 0; s < count; ++s) argmax[out + s] = index[s];
          }
        }
      }
    }
  }
}

// The same for whole 2 x 2 windows with strides 2 (no padding or dilation, one plane deep) on
// GPUs: a work-item per output, its two input rows' pairs read as float2s, 32-bit indices (the
// host checks that x's offsets fit an int). The general kernel's 64-bit divisions had run the
// large model's first pooling at batch 512 at 39% of the bandwidth on the H100 (0.057 ms; 0.034
// so). Planes of H x W, outputs of OH x OW a plane; the first maximum in the order (0, 0),
// (0, 1), (1, 0), (1, 1), as window_argmax takes it (isgreater, as >, never prefers a NaN: a
// NaN wins only as its window's first element).
__kernel void max_pool_forward_2x2(__global const float* x, __global float* y,
                                   __global int* argmax, const int has_argmax, const int H,
                                   const int W, const int OH, const int OW, const int total) {
  for (int i = get_global_id(0); i < total; i += get_global_size(0)) {
    const int ow = i % OW, line = i / OW, oh = line % OH, plane = line / OH;
    const int top = (plane * H + 2 * oh) * W + 2 * ow;
    const float2 upper = vload2(0, x + top), lower = vload2(0, x + top + W);
    float best = upper.x;
    int at = top;
    if (isgreater(upper.y, best)) best = upper.y, at = top + 1;
    if (isgreater(lower.x, best)) best = lower.x, at = top + W;
    if (isgreater(lower.y, best)) best = lower.y, at = top + W + 1;
    y[i] = best;
    if (has_argmax) argmax[i] = at;
  }
}

// The same for whole 2 x 2 windows with strides 2 (no padding or dilation, one plane deep), the
// common CNN pooling on CPUs: eight outputs a step from float16 loads of their two
// input rows, the first maximum in the order (0, 0), (0, 1), (1, 0), (1, 1) as window_argmax
// takes it (isgreater, as >, never prefers a NaN).
__kernel void max_pool_forward_pairs(__global const float* x, __global float* y,
                                     __global int* argmax, const int has_argmax, const int16 g,
                                     const int4 o, const long planes) {
  const long lines = planes * o.s0 * o.s1;
  const long inputs = planes * g.s1 * g.s2 * g.s3;
  const int W = g.s3;
  for (long r = get_global_id(0); r < lines; r += get_global_size(0)) {
    long plane;
    int od, oh;
    split_line(r, o, &plane, &od, &oh);
    const long first = r * o.s2;
    const long row = tap_offset(g, plane, od, 2 * oh, 0);  // the windows' top row
    int ow = 0;
    // A line's last outputs take the vector too where its loads stay inside x (reading on into
    // the next rows, whose lanes are not stored): lines of 7 or 14 outputs are common.
    for (; ow < o.s2 && (ow + 8 <= o.s2 || row + 2 * ow + W + 16 <= inputs); ow += 8) {
      const long at = row + 2 * ow;
      const float16 top = vload16(0, x + at), bottom = vload16(0, x + at + W);
      float8 best = top.even;
      int8 offset = (int8)(0);
      int8 take = isgreater(top.odd, best);
      best = select(best, top.odd, take);
      offset = select(offset, (int8)(1), take);
      take = isgreater(bottom.even, best);
      best = select(best, bottom.even, take);
      offset = select(offset, (int8)(W), take);
      take = isgreater(bottom.odd, best);
      best = select(best, bottom.odd, take);
      offset = select(offset, (int8)(W + 1), take);
      const int8 from = (int8)((int)at) + (int8)(0, 2, 4, 6, 8, 10, 12, 14) + offset;
      if (ow + 8 <= o.s2) {
        vstore8(best, 0, y + first + ow);
        if (has_argmax) vstore8(from, 0, argmax + first + ow);
        continue;
      }
      float values[8];
      int offsets[8];
      vstore8(best, 0, values);
      vstore8(from, 0, offsets);
      for (int j = 0; ow + j < o.s2; ++j) {
        y[first + ow + j] = values[j];
        if (has_argmax) argmax[first + ow + j] = offsets[j];
      }
    }
    for (; ow < o.s2; ++ow) {
      const long at = window_argmax(x, g, plane, od, oh, ow);
      y[first + ow] = x[at];
      if (has_argmax) argmax[first + ow] = (int)at;
    }
  }
}

// Each window's maximum alone (inference, no argmax) for 2-D or 1-D windows one plane deep,
// without dilation, at a column stride of 1 or 2 (CPUs): a work-item per line of outputs first
// takes the maximum of the window's rows column by column into a private line (its padding
// -INFINITY), then of each window's columns from it, 16 outputs a step with one or two vector
// loads a tap. The rows kernel's per-lane bookkeeping of where each maximum came from had cost
// 4x ONNX Runtime's time (squeezenet1_1's 3x3 stride-2 pooling of 64 planes of 111 x 111, 0.35
// ms against 0.09 on 2 cores). Every window holds an input element (make_window's rule), so no
// -INFINITY is stored. A NaN in a window gives NaN (the kernels above keep a NaN only where it
// is a window's first element: training, and GPUs' other kernels, may differ on NaN inputs).
#ifndef VALUES_LINE  // floats of the private line (PoolOp's kValuesLineFloats sets it)
#define VALUES_LINE 1024
#endif

__attribute__((always_inline)) inline float16 max_or_nan(const float16 best, const float16 v) {
  return select(best, v, isgreater(v, best) | isnan(v));
}

__kernel void max_pool_forward_values(__global const float* x, __global float* y, const int16 g,
                                      const int4 o, const long planes, const int reach) {
  const int H = g.s2, W = g.s3, KH = g.s5, KW = g.s6, SH = g.s8, SW = g.s9, PW = g.sc;
  float line[VALUES_LINE];  // line[PW + c]: column c's maximum over the window's rows
  for (int c = 0; c < PW; ++c) line[c] = -INFINITY;
  for (int c = PW + W; c < reach; ++c) line[c] = -INFINITY;
  const long lines = planes * o.s1;
  for (long r = get_global_id(0); r < lines; r += get_global_size(0)) {
    const long plane = r / o.s1;
    const int top = (int)(r % o.s1) * SH - g.sb;
    const int first_row = max(top, 0), end_row = min(top + KH, H);
    __global const float* rows = x + (plane * H + first_row) * W;
    // Lines of 16 or more end on a vector that overlaps the one before (scalar columns there
    // had taken over half of the kernel's time at 111 columns). Shorter ones take one vector,
    // its lanes past the line -INFINITY, where it stays inside x.
    const int rows_read = end_row - first_row;
    const bool short_line = W < 16;
    if (short_line && (plane * H + first_row + rows_read - 1) * W + 16 > planes * H * W) {
      for (int c = 0; c < W; ++c) {
        float best = rows[c];
        for (int h = 1; h < rows_read; ++h) {
          const float v = rows[h * W + c];
          if (isgreater(v, best) || isnan(v)) best = v;
        }
        line[PW + c] = best;
      }
    } else {
      for (int c = 0; c < W; c += 16) {
        const int at = short_line ? 0 : min(c, W - 16);
        float16 best = vload16(0, rows + at);
        for (int h = 1; h < rows_read; ++h) best = max_or_nan(best, vload16(0, rows + h * W + at));
        if (short_line) best = select(best, (float16)(-INFINITY), segment_columns(0, 1) >= W);
        vstore16(best, 0, line + PW + at);
      }
    }
    for (int begin = 0; begin < o.s2; begin += SEG) {
      float16 best = (float16)(-INFINITY);
      for (int e = 0; e < KW; ++e) {
        const float* at = line + begin * SW + e;  // lane s's window starts at (begin + s) * SW
        best = max_or_nan(best, SW == 1 ? vload16(0, at)
                                        : (float16)(vload16(0, at).even, vload16(0, at + 16).even));
      }
      segment_store(y + r * o.s2 + begin, best, min(SEG, o.s2 - begin));
    }
  }
}

// Each window's maximum alone (inference) on GPUs, for 2-D or 1-D windows one plane deep: a
// work-item per output, the window's extents, strides and dilations constants (UNROLLED_KH,
// UNROLLED_KW, UNROLLED_SH, UNROLLED_SW, UNROLLED_DH, UNROLLED_DW), its taps unrolled, 32-bit
// indices (the host checks that x's offsets fit an int). NaN as in max_pool_forward_values; a
// window over padding alone (dilation allows one) gives 0, as in max_pool_forward.
// max_pool_forward's loops over the extents, 64-bit offsets and argmax had run squeezenet1_1's
// three 3 x 3 stride-2 poolings at batch 32 in 0.229 ms on the H200, at under half of the
// bandwidth.
#ifdef UNROLLED_KH
__kernel void max_pool_forward_unrolled(__global const float* x, __global float* y,
                                        const int16 g, const int4 o, const int total) {
  const int H = g.s2, W = g.s3;
  for (int i = get_global_id(0); i < total; i += get_global_size(0)) {
    const int ow = i % o.s2, line = i / o.s2, oh = line % o.s1, plane = line / o.s1;
    const int top = oh * UNROLLED_SH - g.sb, left = ow * UNROLLED_SW - g.sc;
    __global const float* planar = x + plane * H * W;
    float best = -INFINITY;
    bool seen = false;
#pragma unroll
    for (int b = 0; b < UNROLLED_KH; ++b) {
      const int h = top + b * UNROLLED_DH;
      if (h < 0 || h >= H) continue;
#pragma unroll
      for (int e = 0; e < UNROLLED_KW; ++e) {
        const int w = left + e * UNROLLED_DW;
        if (w < 0 || w >= W) continue;
        const float v = planar[h * W + w];
        if (isgreater(v, best) || isnan(v)) best = v;
        seen = true;
      }
    }
    y[i] = seen ? best : 0.0f;
  }
}
#endif

// The input offset of each window's first maximum as a float (ONNX MaxPool's Indices output,
// over the whole of x; -1 for a window over padding only). With column_major the spatial
// position counts in column-major order within its plane (ONNX's storage_order 1).
__kernel void max_pool_indices(__global const float* x, __global float* y, const int16 g,
                               const int4 o, const long planes, const int column_major) {
  const long P = (long)o.s0 * o.s1 * o.s2, total = planes * P;
  const long plane_size = (long)g.s1 * g.s2 * g.s3;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    long plane;
    int od, oh, ow;
    split_position(i, o.s0, o.s1, o.s2, &plane, &od, &oh, &ow);
    long at = window_argmax(x, g, plane, od, oh, ow);
    if (column_major && at >= 0) {
      const long r = at % plane_size, w = r % g.s3, h = r / g.s3 % g.s2, d = r / (g.s3 * g.s2);
      at = plane * plane_size + (w * g.s2 + h) * g.s1 + d;
    }
    y[i] = (float)at;
  }
}

__kernel void avg_pool_forward(__global const float* x, __global float* y, const int16 g,
                               const int4 o, const int4 e, const long planes) {
  const long P = (long)o.s0 * o.s1 * o.s2, total = planes * P;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    long plane;
    int od, oh, ow;
    split_position(i, o.s0, o.s1, o.s2, &plane, &od, &oh, &ow);
    float sum = 0.0f;
    for (int a = 0; a < g.s4; ++a)
      for (int b = 0; b < g.s5; ++b)
        for (int c = 0; c < g.s6; ++c) {
          const long at = tap_offset(g, plane, od * g.s7 - g.sa + a * g.sd,
                                     oh * g.s8 - g.sb + b * g.se, ow * g.s9 - g.sc + c * g.sf);
          if (at >= 0) sum += x[at];
        }
    const float divisor = window_divisor(g, e, od, oh, ow);
    y[i] = divisor > 0.0f ? sum / divisor : 0.0f;
  }
}

// For input position (id, ih, iw): calls BODY once per output window (od, oh, ow) holding it.
#define FOR_EACH_WINDOW(BODY)                                                         \
  for (int a = 0; a < g.s4; ++a) {                                                     \
    const int td = id + g.sa - a * g.sd;                                               \
    if (td < 0 || td % g.s7 != 0 || td / g.s7 >= o.s0) continue;                       \
    const int od = td / g.s7;                                                          \
    for (int b = 0; b < g.s5; ++b) {                                                   \
      const int th = ih + g.sb - b * g.se;                                             \
      if (th < 0 || th % g.s8 != 0 || th / g.s8 >= o.s1) continue;                     \
      const int oh = th / g.s8;                                                        \
      for (int c = 0; c < g.s6; ++c) {                                                 \
        const int tw = iw + g.sc - c * g.sf;                                           \
        if (tw < 0 || tw % g.s9 != 0 || tw / g.s9 >= o.s2) continue;                   \
        const int ow = tw / g.s9;                                                      \
        const long out = (plane * o.s0 + od) * o.s1 * o.s2 + (long)oh * o.s2 + ow;     \
        BODY                                                                           \
      }                                                                                \
    }                                                                                  \
  }

// gx = beta * gx + gy of every window whose (first) maximum is this element.
__kernel void max_pool_backward(__global const int* argmax, __global const float* gy,
                                __global float* gx, const int16 g, const int4 o,
                                const long planes, const float beta) {
  const long per_plane = (long)g.s1 * g.s2 * g.s3, total = planes * per_plane;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    long plane;
    int id, ih, iw;
    split_position(i, g.s1, g.s2, g.s3, &plane, &id, &ih, &iw);
    float sum = 0.0f;
    FOR_EACH_WINDOW(if (argmax[out] == i) sum += gy[out];)
    gx[i] = beta == 0.0f ? sum : sum + beta * gx[i];
  }
}

// For windows that never overlap (each input element in one window at most): gx[argmax] += gy,
// one work-item per window, after gx was zeroed or holds the gradient to add to.
__kernel void max_pool_backward_scatter(__global const int* argmax, __global const float* gy,
                                        __global float* gx, const long outputs) {
  for (long i = get_global_id(0); i < outputs; i += get_global_size(0))
    if (argmax[i] >= 0) gx[argmax[i]] += gy[i];
}

// For windows that tile the input (strides equal to the kernel, no padding or dilation, every
// element in a window): each window writes all its elements, gy at its (first) maximum and 0
// elsewhere, so gx needs no fill first.
__kernel void max_pool_backward_tiles(__global const int* argmax, __global const float* gy,
                                      __global float* gx, const int16 g, const int4 o,
                                      const long planes, const float beta) {
  const long total = planes * o.s0 * o.s1 * o.s2;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    long plane;
    int od, oh, ow;
    split_position(i, o.s0, o.s1, o.s2, &plane, &od, &oh, &ow);
    const long best = argmax[i];
    const float grad = gy[i];
    for (int a = 0; a < g.s4; ++a)
      for (int b = 0; b < g.s5; ++b)
        for (int e = 0; e < g.s6; ++e) {
          const long at = tap_offset(g, plane, od * g.s7 + a, oh * g.s8 + b, ow * g.s9 + e);
          const float v = at == best ? grad : 0.0f;
          gx[at] = beta == 0.0f ? v : v + beta * gx[at];
        }
  }
}

// max_pool_backward_tiles for 2 x 2 windows with strides 2 that tile the input exactly (as
// max_pool_forward_pairs takes them), on CPUs: a work-item per line of windows, eight a step,
// each of their four inputs given gy where the saved argmax names it, else 0, and written as
// float16s along the two input rows.
__kernel void max_pool_backward_pairs(__global const int* argmax, __global const float* gy,
                                      __global float* gx, const int16 g, const int4 o,
                                      const long planes, const float beta) {
  const long lines = planes * o.s0 * o.s1;
  const int W = g.s3;
  const uint16 interleave = (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  for (long r = get_global_id(0); r < lines; r += get_global_size(0)) {
    long plane;
    int od, oh;
    split_line(r, o, &plane, &od, &oh);
    const long first = r * o.s2;
    const long row = tap_offset(g, plane, od, 2 * oh, 0);  // the windows' top row
    int ow = 0;
    for (; ow + 8 <= o.s2; ow += 8) {
      const long at = row + 2 * ow;
      const int8 best = vload8(0, argmax + first + ow);
      const int8 left = (int8)((int)at) + (int8)(0, 2, 4, 6, 8, 10, 12, 14);
      const float8 grad = vload8(0, gy + first + ow), none = (float8)(0.0f);
      float16 top = shuffle2(select(none, grad, best == left), select(none, grad, best == left + 1),
                             interleave);
      float16 bottom = shuffle2(select(none, grad, best == left + W),
                                select(none, grad, best == left + W + 1), interleave);
      if (beta != 0.0f) {
        top = MULADD((float16)(beta), vload16(0, gx + at), top);
        bottom = MULADD((float16)(beta), vload16(0, gx + at + W), bottom);
      }
      vstore16(top, 0, gx + at);
      vstore16(bottom, 0, gx + at + W);
    }
    for (; ow < o.s2; ++ow) {
      const long best = argmax[first + ow];
      const float grad = gy[first + ow];
      for (int b = 0; b < 2; ++b)
        for (int e = 0; e < 2; ++e) {
          const long at = row + b * W + 2 * ow + e;
          const float v = at == best ? grad : 0.0f;
          gx[at] = beta == 0.0f ? v : v + beta * gx[at];
        }
    }
  }
}

// gx = beta * gx + sum over the windows holding this element of gy / divisor.
__kernel void avg_pool_backward(__global const float* gy, __global float* gx, const int16 g,
                                const int4 o, const int4 e, const long planes, const float beta) {
  const long per_plane = (long)g.s1 * g.s2 * g.s3, total = planes * per_plane;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    long plane;
    int id, ih, iw;
    split_position(i, g.s1, g.s2, g.s3, &plane, &id, &ih, &iw);
    float sum = 0.0f;
    FOR_EACH_WINDOW(sum += gy[out] / window_divisor(g, e, od, oh, ow);)
    gx[i] = beta == 0.0f ? sum : sum + beta * gx[i];
  }
}
