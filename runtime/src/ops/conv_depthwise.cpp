// Depthwise convolution: forward and both gradients gathered directly
// (cl_kernels/conv_depthwise.cl).
#include "ops/conv_depthwise.hpp"

#include <climits>
#include <string>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/reduction.hpp"

namespace clnn::detail {

namespace {

// The channel multiplier: filters per input channel.
cl_int multiplier(const DepthwiseConv& c) {
  return cl_int(c.filters / c.groups);
}

}  // namespace

bool DepthwiseConv::serves() const {
  if (groups != win.c || filters % groups != 0) return false;
  // The kernels index a sample of y, and every coordinate of a window (up to the padded
  // extent), with int arithmetic.
  if (win.n * filters * win.out_positions() >= INT_MAX) return false;
  for (std::size_t d = 0; d < 3; ++d)
    if (win.in[d] + win.pad_begin[d] + win.pad_end[d] >= INT_MAX) return false;
  if (ctx.conv_route == ConvRoute::depthwise) return true;
  // One channel in one group is an ordinary convolution (a first layer) that the other routes
  // were measured on; everywhere else the gather does only the work the convolution has, on
  // CPUs as on GPUs.
  return ctx.conv_route == ConvRoute::automatic && groups > 1;
}

void DepthwiseConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                            float beta) const {
  cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_forward");
  set_args(k, mem(x), mem(w), mem(bias ? *bias : w), cl_int(bias != nullptr), mem(y), win.packed(),
           win.packed_out(), cl_int(win.n), multiplier(*this), beta);
  ctx.enqueue_elementwise(k, std::size_t(win.n * filters * win.out_positions()));
}

void DepthwiseConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                   float beta) const {
  cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_input_gradient");
  set_args(k, mem(gy), mem(w), mem(gx), win.packed(), win.packed_out(), cl_int(win.n),
           multiplier(*this), beta);
  ctx.enqueue_elementwise(k, std::size_t(win.n * win.c * win.in_positions()));
}

void DepthwiseConv::weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                    float beta) const {
  const std::int64_t taps = win.kernel_positions();
  const std::int64_t blocks = (taps + kMaxTapsPerItem - 1) / kMaxTapsPerItem;
  const std::int64_t per_item = (taps + blocks - 1) / blocks;
  // A work-group per (filter, block of taps, piece of the columns) sums with a tree in local
  // memory; a CPU (item_per_row) gives the piece to one work-item, as the reduction engine does.
  ReductionPlan plan = ctx.reduction_plan;
  if (plan.item_per_row) plan.local_size = 1;
  const std::size_t rows = std::size_t(filters * blocks);
  const std::size_t columns = std::size_t(win.n * win.out_positions());
  // Pieces short enough that no work-item sums more than max_serial columns, and as many more as
  // fill the device when the filters alone would not.
  const std::size_t pieces = row_pieces(plan, rows, columns);
  const std::size_t outputs = std::size_t(filters * taps);
  // With several pieces their sums go to scratch, [filters * taps, pieces], and the reduction
  // engine adds them into gw.
  ReductionPasses sum(ctx.reduction_plan, pieces > 1 ? outputs * pieces : 0);
  if (pieces > 1)
    sum.sum_middle({Place::Of::scratch, 0}, false, {outputs, pieces, 1}, {Place::Of::output, 0},
                   1.0f, beta);
  const cl_mem out = pieces > 1 ? ctx.scratch(sum.scratch_floats()) : mem(gw);
  const std::string options =
      "-DITEMS=" + std::to_string(plan.local_size) + " -DTAPS=" + std::to_string(per_item);
  cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_weight_gradient", options);
  set_args(k, mem(x), mem(gy), out, win.packed(), win.packed_out(), cl_int(win.n),
           multiplier(*this), cl_int(pieces), pieces > 1 ? 0.0f : beta);
  enqueue_rows(ctx, k, plan, rows * pieces, plan.local_size);
  if (pieces > 1) sum.run(ctx, out, out, mem(gw));
}

}  // namespace clnn::detail
