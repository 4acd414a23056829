// Depthwise convolution: forward and both gradients gathered directly
// (cl_kernels/conv_depthwise.cl).
#include "ops/conv_depthwise.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/conv_padded.hpp"
#include "ops/reduction.hpp"

namespace clnn::detail {

namespace {

// The channel multiplier: filters per input channel.
cl_int multiplier(const DepthwiseConv& c) {
  return cl_int(c.filters / c.groups);
}

// The other *_rows kernels' segments of a line of `extent` positions: as even as they can be, and
// no longer than the reduction plan lets one work-item run.
cl_int segment(const ContextImpl& ctx, std::int64_t extent) {
  const std::int64_t most = std::int64_t(std::max<std::size_t>(ctx.reduction_plan.max_serial, 1));
  const std::int64_t segments = (extent + most - 1) / most;
  return cl_int((extent + segments - 1) / segments);
}

// The weight gradient's blocks of taps, and taps per block (TAPS).
std::int64_t tap_blocks(const Window& win) {
  return (win.kernel_positions() + DepthwiseConv::kMaxTapsPerItem - 1) /
         DepthwiseConv::kMaxTapsPerItem;
}
std::int64_t taps_per_block(const Window& win) {
  return (win.kernel_positions() + tap_blocks(win) - 1) / tap_blocks(win);
}

// depthwise_forward's outputs per work-item along W (OWB): up to 4, sharing their input lines'
// loads, where the span of a line they read stays a few dozen registers and holds fewer
// positions than their taps do (a long stride or dilation skips most of it: one output then).
std::int64_t outputs_per_item(const Window& win) {
  const std::int64_t kw = win.kernel[2];
  for (std::int64_t outputs = std::min<std::int64_t>(4, win.out[2]); outputs > 1; --outputs) {
    const std::int64_t span = (outputs - 1) * win.stride[2] + (kw - 1) * win.dilation[2] + 1;
    if (span <= 32 && span < outputs * kw) return outputs;
  }
  return 1;
}

// depthwise_forward_planes for this convolution: its build options and each work-item's private
// floats, or no options where it does not serve. It takes 2-D planes (or 1-D lines; one plane
// deep in and out) at a stride of 1 or 2 along both axes, without dilation, whose input is
// exactly stride x the output's extents (the padding, if any, "same"), whose filters have at
// most kMaxPlaneTaps taps, and whose private copy holds at most kMaxPlaneFloats
// (kMaxStridedPlaneFloats at stride 2).
struct PlaneKernel {
  std::string options;
  std::int64_t floats = 0;
};

PlaneKernel plane_kernel(const Window& win) {
  const std::int64_t s = win.stride[1];
  // One plane deep in and out (depth padding would add output planes the kernel never writes),
  // and at most kMaxPlaneTaps taps: the kernel unrolls their loops.
  if (win.in[0] != 1 || win.out[0] != 1 || win.kernel[0] != 1 || win.stride[0] != 1 ||
      win.stride[2] != s || (s != 1 && s != 2) ||
      win.kernel_positions() > DepthwiseConv::kMaxPlaneTaps)
    return {};
  for (std::int64_t d : win.dilation)
    if (d != 1) return {};
  if (win.in[1] != s * win.out[1] || win.in[2] != s * win.out[2]) return {};
  // Tap (b, e) reads its phase at the output's own position plus floor((b - PH) / s) rows and
  // floor((e - PW) / s) columns: the zeros before and after each phase cover the farthest reads,
  // and 15 lanes more for the last segment.
  auto floor_div = [s](std::int64_t a) { return a >= 0 ? a / s : -((s - 1 - a) / s); };
  std::int64_t lowest = 0, highest = 0;
  for (std::int64_t b = 0; b < win.kernel[1]; ++b)
    for (std::int64_t e = 0; e < win.kernel[2]; ++e) {
      const std::int64_t offset =
          floor_div(b - win.pad_begin[1]) * win.out[2] + floor_div(e - win.pad_begin[2]);
      lowest = std::min(lowest, offset), highest = std::max(highest, offset);
    }
  const std::int64_t lead = -lowest, tail = highest + 15;
  const std::int64_t floats = s * s * (lead + win.out[1] * win.out[2] + tail);
  if (floats > (s == 1 ? DepthwiseConv::kMaxPlaneFloats : DepthwiseConv::kMaxStridedPlaneFloats))
    return {};
  auto define = [](const char* name, std::int64_t value) {
    return std::string(" -D") + name + "=" + std::to_string(value);
  };
  return {define("P_STRIDE", s) + define("P_KH", win.kernel[1]) + define("P_KW", win.kernel[2]) +
              define("P_PH", win.pad_begin[1]) + define("P_PW", win.pad_begin[2]) +
              define("P_OH", win.out[1]) + define("P_OW", win.out[2]) + define("P_LEAD", lead) +
              define("P_TAIL", tail),
          floats};
}

}  // namespace

bool DepthwiseConv::serves() const {
  if (groups != win.c || filters % groups != 0) return false;
  // The kernels index within y and w, and every coordinate of a window (up to the padded
  // extent), with int arithmetic.
  // x and y are indexed with int, with room for a grid-stride step past their end.
  if (win.n * filters * win.out_positions() >= INT_MAX / 2) return false;
  if (win.n * win.c * win.in_positions() >= INT_MAX / 2) return false;
  if (filters * win.kernel_positions() >= INT_MAX) return false;
  for (std::size_t d = 0; d < 3; ++d)
    if (win.in[d] + win.pad_begin[d] + win.pad_end[d] >= INT_MAX) return false;
  // One channel in one group is an ordinary convolution (a first layer) that the other routes
  // were measured on; everywhere else the gather does only the work the convolution has, on
  // CPUs as on GPUs.
  return takes(ConvRoute::depthwise, groups > 1, groups > 1);
}

DepthwiseConv::ForwardForm DepthwiseConv::forward_form() const {
  if (!ctx.row_loops) return ForwardForm::elements;
  if (!plane_kernel(win).options.empty()) return ForwardForm::planes;
  // Short lines that the plane kernel does not take (padding other than "same") run over a
  // padded copy (ops/conv_padded.hpp), where the line kernel would gather every lane:
  // mobilenet_v2's 7x7 layers of 960 channels at batch 32 (2-core AVX-512 Xeon) ran 3.3-3.5 ms
  // there against 5.8-6.6, its 14x14 ones 4.3-5.0 against 5.2-5.6. Longer lines and strides keep
  // the line kernel: the copy's pass cost more than its vector loads saved (56x56 with 144
  // channels 17.1 against 14.9 ms; stride 2, 96 channels of 112x112, 32.1 against 21.6).
  if (multiplier(*this) == 1 && win.unit_strides() && win.out[2] < kSegment &&
      padded_depthwise_floats(ctx, win) > 0)
    return ForwardForm::padded;
  return ForwardForm::lines;
}

std::string DepthwiseConv::describe_forward() const {
  switch (forward_form()) {
    case ForwardForm::planes:
      return "depthwise, a plane per work-item";
    case ForwardForm::padded:
      return "depthwise over a padded copy";
    case ForwardForm::lines:
      return "depthwise, a line per work-item";
    case ForwardForm::elements:
      break;
  }
  return "depthwise";
}

void DepthwiseConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                            float beta, const Epilogue& epilogue) const {
  const cl_mem b = mem(bias ? *bias : w);
  const cl_int has_bias = bias != nullptr, n = cl_int(win.n);
  const ForwardForm form = forward_form();
  if (form == ForwardForm::planes) {
    const PlaneKernel planes = plane_kernel(win);
    cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_forward_planes",
                             planes.options + epilogue_options(epilogue));
    set_args(k, mem(x), mem(w), b, has_bias, mem(y), n, cl_int(win.c), multiplier(*this), beta);
    // A plane per work-item, and its private copy (with the taps and a segment) per item.
    const std::size_t private_bytes = std::size_t(planes.floats + win.kernel_positions() + 16) * 4;
    ctx.enqueue_lines(k, std::size_t(win.n * filters), private_bytes);
    return;
  }
  if (form == ForwardForm::padded)
    return padded_depthwise_forward(ctx, win, x, w, bias, y, beta, epilogue);
  if (form == ForwardForm::lines) {
    cl_kernel k =
        ctx.kernel("conv_depthwise", "depthwise_forward_rows", epilogue_options(epilogue));
    set_args(k, mem(x), mem(w), b, has_bias, mem(y), win.packed(), win.packed_out(), n,
             multiplier(*this), beta);
    ctx.enqueue_lines(k, std::size_t(win.n * filters));  // a plane per work-item
    return;
  }
  const std::int64_t per_item = outputs_per_item(win);
  const std::string compiled_in =
      " -DKD=" + std::to_string(win.kernel[0]) + " -DKH=" + std::to_string(win.kernel[1]) +
      " -DKW=" + std::to_string(win.kernel[2]) + " -DSW=" + std::to_string(win.stride[2]) +
      " -DDW=" + std::to_string(win.dilation[2]) + " -DOWB=" + std::to_string(per_item);
  cl_kernel k =
      ctx.kernel("conv_depthwise", "depthwise_forward", compiled_in + epilogue_options(epilogue));
  set_args(k, mem(x), mem(w), b, has_bias, mem(y), win.packed(), win.packed_out(), n,
           multiplier(*this), beta);
  const std::int64_t blocks = (win.out[2] + per_item - 1) / per_item;
  ctx.enqueue_elementwise(k, std::size_t(win.n * filters * win.out[0] * win.out[1] * blocks));
}

void DepthwiseConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                   float beta) const {
  if (ctx.row_loops) {
    cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_input_gradient_rows");
    const cl_int seg = segment(ctx, win.in[2]);
    set_args(k, mem(gy), mem(w), mem(gx), win.packed(), win.packed_out(), cl_int(win.n),
             multiplier(*this), seg, beta);
    const std::int64_t segments = (win.in[2] + seg - 1) / seg;
    ctx.enqueue_lines(k, std::size_t(win.n * win.c * win.in[0] * win.in[1] * segments));
    return;
  }
  cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_input_gradient");
  set_args(k, mem(gy), mem(w), mem(gx), win.packed(), win.packed_out(), cl_int(win.n),
           multiplier(*this), beta);
  ctx.enqueue_elementwise(k, std::size_t(win.n * win.c * win.in_positions()));
}

void DepthwiseConv::weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                    float beta) const {
  // GPUs: a work-group per (filter, block of taps, piece of the columns), summing with a tree in
  // local memory. CPUs (item_per_row), as the reduction engine: a work-item per piece.
  const bool rows_style = ctx.reduction_plan.item_per_row;
  ReductionPlan plan = ctx.reduction_plan;
  if (rows_style) plan.local_size = 1;
  const std::size_t rows = std::size_t(filters * tap_blocks(win));
  const std::size_t columns = std::size_t(win.n * win.out_positions());
  // Pieces short enough that no work-item sums more than max_serial columns, and as many more as
  // fill the device where the filters alone would not.
  const std::size_t pieces = row_pieces(plan, rows, columns);
  const std::size_t outputs = std::size_t(filters * win.kernel_positions());
  // With several pieces their sums go to scratch, [filters * taps, pieces], and the reduction
  // engine adds them into gw.
  ReductionPasses sum(ctx.reduction_plan, pieces > 1 ? outputs * pieces : 0);
  if (pieces > 1)
    sum.sum_middle({Place::Of::scratch, 0}, false, {outputs, pieces, 1}, {Place::Of::output, 0},
                   1.0f, beta);
  const cl_mem out = pieces > 1 ? ctx.scratch(sum.scratch_floats()) : mem(gw);
  const float out_beta = pieces > 1 ? 0.0f : beta;
  const std::string taps = "-DTAPS=" + std::to_string(taps_per_block(win));
  if (rows_style) {
    // Pieces of whole segments of lines: at most a segment past max_serial columns each.
    const cl_int seg = segment(ctx, win.out[2]);
    const std::int64_t units = win.n * win.out[0] * win.out[1] * ((win.out[2] + seg - 1) / seg);
    const std::int64_t per_piece = (units + std::int64_t(pieces) - 1) / std::int64_t(pieces);
    cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_weight_gradient_rows", taps);
    set_args(k, mem(x), mem(gy), out, win.packed(), win.packed_out(), cl_int(win.n),
             multiplier(*this), seg, cl_int(pieces), cl_long(per_piece), out_beta);
    ctx.enqueue_lines(k, rows * pieces);
  } else {
    const std::string options = taps + " -DITEMS=" + std::to_string(plan.local_size);
    cl_kernel k = ctx.kernel("conv_depthwise", "depthwise_weight_gradient", options);
    set_args(k, mem(x), mem(gy), out, win.packed(), win.packed_out(), cl_int(win.n),
             multiplier(*this), cl_int(pieces), out_beta);
    enqueue_rows(ctx, k, plan, rows * pieces, plan.local_size);
  }
  if (pieces > 1) sum.run(ctx, out, out, mem(gw));
}

}  // namespace clnn::detail
