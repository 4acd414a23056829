// A convolution's weight gradient over shifted copies of its padded input (ops/conv_shifted.hpp).
//
// gw[k, c, tap] sums gy[n, k, o] * x[n, c, o + tap - pad] over samples n and output positions o.
// With x in zero-padded blocks, one per channel, and gy in blocks of the same strides (zeros where
// no output lies), that is a GEMM over the positions q of gy's blocks:
// gw[k, c * taps + t] = sum_q gyp[k, q] * xp[c, q + offset(t)]. B's row for (c, t) is the padded
// channel c read from offset(t) on: a row start, not a copy, which the vec4 kernel computes from
// its index (TAP_ROWS). On the bench's 14x14, 5x5 layer the column route's matrix is 80 MB,
// written once and read once; the two copies here take 12 MB, which stay in the H100's L2 cache.
#include "ops/conv_shifted.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/gemm.hpp"

namespace clnn::detail {

namespace {

// Positions per tile of the spread (conv_shifted.cl's TILE_P): a 128-byte line of floats.
constexpr std::int64_t kTilePositions = 32;

// The blocks: [channel][E0][E1][E2][samples], samples innermost and padded to a float4, so a tap,
// which moves a row by whole positions, keeps every row on a float4.
//
// Along the outermost spatial axis a block has the padded extent I + both pads, and gy's blocks
// the output's O; q runs over those. Along the inner axes blocks share their padding: extent
// I + max(pad begin, pad end) (at least O), the input at the begin pad, and q runs over all of it
// (the positions past O are the padding's share of the work). A tap that reaches past the end of
// an inner axis reads the leading padding at the next position of the axis outside it, zero as
// the trailing padding would have been, or, past the last channel, the zeros that follow it.
struct ShiftedLayout {
  Triple extent{1, 1, 1};
  std::size_t outer = 0;  // the outermost spatial axis
  std::int64_t out_outer = 1, samples = 1, batch = 4, channels = 1, filters = 1;
  std::int64_t reach = 0;  // the farthest tap's offset along the inner axes

  // Floats between positions along axis d.
  std::int64_t stride(std::size_t d) const {
    std::int64_t s = batch;
    for (std::size_t e = d + 1; e < 3; ++e) s *= extent[e];
    return s;
  }
  std::int64_t channel() const { return extent[0] * stride(0); }  // B's ldb
  std::int64_t columns() const { return out_outer * stride(outer); }  // the GEMM's K
  std::int64_t gy_offset() const { return float4_aligned(channels * channel() + reach); }
  std::int64_t total() const { return gy_offset() + filters * columns(); }
};

ShiftedLayout layout_for(const Window& win, std::int64_t filters) {
  ShiftedLayout l;
  l.outer = 3 - std::max<std::size_t>(win.spatial_dims, 1);
  for (std::size_t d = l.outer; d < 3; ++d)
    l.extent[d] = d == l.outer ? win.in[d] + win.pad_begin[d] + win.pad_end[d]
                               : std::max(win.in[d] + std::max(win.pad_begin[d], win.pad_end[d]),
                                          win.out[d]);
  l.out_outer = win.out[l.outer];
  l.samples = win.n, l.batch = float4_aligned(win.n);
  l.channels = win.c, l.filters = filters;
  for (std::size_t d = l.outer + 1; d < 3; ++d)
    l.reach += (win.kernel[d] - 1) * win.dilation[d] * l.stride(d);
  return l;
}

// dst (from dst_offset, `total` floats) = src [N, channels, extents] spread into blocks of the
// layout's strides with `outer` positions along its outermost axis, placed at begin.
void spread(ContextImpl& ctx, const ShiftedLayout& l, cl_mem src, std::int64_t channels,
            const Triple& extents, std::int64_t outer, const Triple& begin, cl_mem dst,
            std::int64_t dst_offset, std::int64_t total) {
  Triple blocks = l.extent;
  blocks[l.outer] = outer;
  const std::size_t items = ctx.reduction_plan.local_size;
  std::string options = "-DITEMS=" + std::to_string(items) +
                        " -DTILE_P=" + std::to_string(kTilePositions) +
                        " -DNB=" + std::to_string(l.batch) +
                        " -DSAMPLES=" + std::to_string(l.samples) +
                        " -DCHANNELS=" + std::to_string(channels);
  for (std::size_t d = 0; d < 3; ++d) {
    const std::string axis = std::to_string(d) + "=";
    options += " -DE" + axis + std::to_string(blocks[d]) + " -DB" + axis +
               std::to_string(begin[d]) + " -DI" + axis + std::to_string(extents[d]);
  }
  cl_kernel k = ctx.kernel("conv_shifted", "spread_channels", options);
  set_args(k, src, dst, cl_ulong(dst_offset), cl_int(total));
  // A work-group per tile of kTilePositions positions by 4 * items / kTilePositions samples.
  const std::int64_t positions = blocks[0] * blocks[1] * blocks[2];
  const std::int64_t tile_samples = 4 * std::int64_t(items) / kTilePositions;
  const std::int64_t tiles = (positions + kTilePositions - 1) / kTilePositions *
                             ((l.batch + tile_samples - 1) / tile_samples) *
                             ((total + positions * l.batch - 1) / (positions * l.batch));
  enqueue<1>(ctx.queue.get(), k, {std::size_t(tiles) * items}, {items});
}

}  // namespace

bool ShiftedConv::serves_weight_gradient(std::size_t workspace_floats) const {
  if (groups != 1 || filters % 4 != 0 || win.c * win.kernel_positions() % 4 != 0) return false;
  // The spread's work-groups hold tiles of whole float4s of samples.
  if (ctx.reduction_plan.local_size % kTilePositions != 0) return false;
  if (!win.unit_strides()) return false;
  const ShiftedLayout l = layout_for(win, filters);
  // The spread kernel's int indices run to a channel past the end.
  if (std::size_t(l.total()) > workspace_floats || l.total() + l.channel() >= INT_MAX) return false;
  return takes(ConvRoute::shifted,
               double(l.columns()) <= kMaxPaddedShare * double(win.n * win.out_positions()));
}

void ShiftedConv::weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                  const Tensor* gb, float beta_w, float beta_b,
                                  const Tensor& workspace) const {
  const ShiftedLayout l = layout_for(win, filters);
  cl_mem ws = mem(workspace);
  spread(ctx, l, mem(x), win.c, win.in, l.extent[l.outer], win.pad_begin, ws, 0, l.gy_offset());
  spread(ctx, l, mem(gy), filters, win.out, l.out_outer, {0, 0, 0}, ws, l.gy_offset(),
         filters * l.columns());

  GemmCall g;
  g.trans_b = true;
  g.m = std::size_t(filters), g.n = std::size_t(win.c * win.kernel_positions());
  g.k = std::size_t(l.columns());
  g.a = ws, g.offset_a = std::size_t(l.gy_offset()), g.lda = g.k;
  g.b = ws, g.ldb = std::size_t(l.channel());
  g.c = mem(gw), g.ldc = g.n;
  g.beta = beta_w;
  g.b_rows.taps = std::size_t(win.kernel_positions());
  g.b_rows.kh = std::size_t(win.kernel[1]), g.b_rows.kw = std::size_t(win.kernel[2]);
  g.b_rows.step_d = std::size_t(win.dilation[0] * l.stride(0));
  g.b_rows.step_h = std::size_t(win.dilation[1] * l.stride(1));
  g.b_rows.step_w = std::size_t(win.dilation[2] * l.stride(2));
  gemm(ctx, g);
  if (gb)  // gyp's rows hold gy's channels (and zeros)
    reduce_middle(ctx, workspace, nullptr, *gb, {std::size_t(filters), g.k, 1}, 1.0f, beta_b,
                  g.offset_a);
}

}  // namespace clnn::detail
