// Direct convolution over a zero-padded copy of the input (cl_kernels/conv_padded.cl).
#include "ops/conv_padded.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <optional>
#include <string>
#include <utility>

#include "checked_int.hpp"
#include "cl/kernel_call.hpp"
#include "clnn/error.hpp"
#include "ops/common.hpp"
#include "ops/gemm_host.hpp"

namespace clnn::detail {

namespace {

// The copy's extents per phase (conv_padded.cl): each padded extent dealt into its stride's
// phases, and below each phase's last row enough rows of zeros for the `reach` positions a
// work-item reads from the last output position on. In 64 bits: pads may be as large as the
// window allows; fits() keeps what runs within an int.
std::array<std::int64_t, 3> extents(const Window& win, std::size_t reach) {
  std::array<std::int64_t, 3> p{};
  for (std::size_t d = 0; d < 3; ++d)
    p[d] = (win.in[d] + win.pad_begin[d] + win.pad_end[d] + win.stride[d] - 1) / win.stride[d];
  p[1] += (std::int64_t(reach) - 1 + p[2] - 1) / p[2];
  return p;
}

// Floats of a channel's copy: every phase's.
std::int64_t padded_plane(const Window& win, const std::array<std::int64_t, 3>& p) {
  return (CheckedInt(p[0]) * p[1] * p[2] * win.stride[0] * win.stride[1] * win.stride[2]).value();
}

// The extents as the kernels take them (within an int once fits() has passed them).
cl_int4 as_int4(const std::array<std::int64_t, 3>& e) {
  cl_int4 p{};
  for (int d = 0; d < 3; ++d) p.s[d] = cl_int(e[std::size_t(d)]);
  return p;
}

// One past the last output position's index p in a phase's planes.
std::int64_t span(const Window& win, const cl_int4& p) {
  return ((win.out[0] - 1) * p.s[1] + win.out[1] - 1) * std::int64_t(p.s[2]) + win.out[2];
}

// The input gradient of a unit-stride convolution as a convolution of gy (spatial.hpp's
// input_gradient_window, read by the kernel's FLIP), or nullopt for strides, or where a pad
// would be negative: the original's larger than its window's reach.
std::optional<Window> flipped_window(const Window& win, std::int64_t filters) {
  if (!win.unit_strides()) return std::nullopt;
  const Window v = input_gradient_window(win, filters);
  for (std::size_t d = 0; d < 3; ++d)
    if (v.pad_begin[d] < 0 || v.pad_end[d] < 0) return std::nullopt;
  return v;
}

// gy as its own padded copy: no pads, the copy's planes holding zeros past the output.
Window output_window(const Window& win, std::int64_t filters) {
  Window v = win;
  v.c = filters;
  v.in = win.out;
  v.pad_begin = v.pad_end = {0, 0, 0};
  return v;
}

// Floats of convolution v's padded copy (and with `gradient_copy`, the weight gradient's, gy's
// too) for reads of `reach` positions; 0 where the route cannot run it: strides in the weight
// gradient, or an index past an int.
std::int64_t copies(const Window& v, std::int64_t filters, std::size_t reach, bool gradient_copy) {
  if (gradient_copy && !v.unit_strides()) return 0;
  try {
    const std::int64_t floats = (CheckedInt(v.n) * (v.c + (gradient_copy ? filters : 0)) *
                                 padded_plane(v, extents(v, reach)))
                                    .value();
    if (floats >= INT_MAX || (CheckedInt(v.n) * filters * v.out_positions()).value() >= INT_MAX)
      return 0;
    return floats;
  } catch (const Error&) {  // past 64 bits
    return 0;
  }
}

// Whether convolution `v` with `filters` outputs runs here within the workspace.
bool fits(const ContextImpl& ctx, const Window& v, std::int64_t filters,
          std::size_t workspace_floats, bool gradient_copy = false) {
  const std::int64_t floats =
      copies(v, filters, ctx.planner.padded_conv(std::size_t(filters)).reach(), gradient_copy);
  return floats > 0 && std::size_t(floats) <= workspace_floats;
}

// conv_padded.cl's strides, which it takes as constants.
std::string stride_options(const Window& v) {
  if (v.unit_strides()) return "";
  return " -DSTRIDE_D=" + std::to_string(v.stride[0]) +
         " -DSTRIDE_H=" + std::to_string(v.stride[1]) +
         " -DSTRIDE_W=" + std::to_string(v.stride[2]);
}

// The window's extents and dilations as constants where it has at most kUnrolledTaps taps: the
// kernel then unrolls the loop over the taps, which keeps the weights' addresses in registers
// and the taps' offsets in the instructions (N32 C64 56x56 K64 3x3 on 2 cores: 35 to 30 ms).
// Not so for 5x5: unrolled, alexnet's N32 C64 27x27 K192 ran 77-81 ms against 56-58, the main
// job's large layer (N128 C32 14x14 K64) 19.3-19.9 against 15.3-16.6.
constexpr std::int64_t kUnrolledTaps = 9;

std::string window_options(const Window& v) {
  if (v.kernel_positions() > kUnrolledTaps) return "";
  std::string options;
  const char* axes[] = {"D", "H", "W"};
  for (std::size_t d = 0; d < 3; ++d)
    options += std::string(" -DWINDOW_") + axes[d] + "=" + std::to_string(v.kernel[d]) +
               " -DDILATION_" + axes[d] + "=" + std::to_string(v.dilation[d]);
  return options;
}

// Copies x into the workspace from `offset` with convolution v's padding.
void pad(ContextImpl& ctx, const Window& v, const cl_int4& padded, const Tensor& x,
         cl_mem workspace, std::size_t offset) {
  const auto rows =
      cl_int(v.n * v.c * v.stride[0] * v.stride[1] * v.stride[2] * padded.s[0] * padded.s[1]);
  cl_kernel k = ctx.kernel("conv_padded", "pad_planes", stride_options(v));
  set_args(k, mem(x), workspace, cl_ulong(offset), v.packed(), padded, rows);
  ctx.enqueue_lines(k, std::size_t(rows));
}

std::string plan_options(const PaddedConvPlan& plan) {
  return "-DVEC=" + std::to_string(plan.vector) + " -DFILTERS=" + std::to_string(plan.filters) +
         " -DVECS=" + std::to_string(plan.vectors) + " -DTAPS=" + std::to_string(plan.taps) +
         " -DGRADIENT_FILTERS=" + std::to_string(plan.gradient_filters);
}

// What conv_padded computes: a convolution of one group, its input gradient (w the original
// convolution's [filters', v.c, taps], v its flipped_window), or a depthwise forward pass (a
// filter per channel).
enum class PaddedPass { forward, flipped, depthwise };

// The padded plan for `filters` filters in a pass: a depthwise pass blocks one a work-item.
// Strides (phases) and taps that window_options() leaves in a loop keep more addresses live.
PaddedConvPlan pass_plan(const ContextImpl& ctx, const Window& v, std::int64_t filters,
                         PaddedPass pass) {
  const std::size_t f = pass == PaddedPass::depthwise ? 1 : std::size_t(filters);
  const std::size_t widest = ctx.planner.padded_conv(f).reach();  // what fits() allowed for
  const bool addresses_live = !v.unit_strides() || v.kernel_positions() > kUnrolledTaps;
  return ctx.planner.padded_conv(f, 1, std::size_t(span(v, as_int4(extents(v, widest)))),
                                 addresses_live);
}

// y = epilogue(beta * y + conv_v(x, w) + bias) for convolution `v`, written where `placement`
// says if it says: x copied with its padding into the workspace, then conv_padded.
void run(ContextImpl& ctx, const Window& v, std::int64_t filters, const Tensor& x, const Tensor& w,
         const Tensor* bias, const Tensor& y, float beta, const Epilogue& epilogue,
         cl_mem workspace, PaddedPass pass, const Placement& placement = {}) {
  const Tensor& out = placement.into ? *placement.into : y;
  const auto y_offset = cl_ulong(placement.channel * v.out_positions());
  const PaddedConvPlan plan = pass_plan(ctx, v, filters, pass);
  const std::array<std::int64_t, 3> copy_extents = extents(v, plan.reach());
  const cl_int4 padded = as_int4(copy_extents);
  pad(ctx, v, padded, x, workspace, 0);
  const std::string options = plan_options(plan) + stride_options(v) + window_options(v) +
                              (pass == PaddedPass::flipped ? " -DFLIP=1" : "") +
                              (pass == PaddedPass::depthwise ? " -DDEPTHWISE=1" : "") +
                              epilogue_options(epilogue);
  const std::int64_t taps = v.kernel_positions();
  const bool filters_first =
      pass != PaddedPass::depthwise &&
      ctx.planner.padded_filters_first(std::size_t(v.c * padded_plane(v, copy_extents)),
                                       std::size_t(filters * v.c * taps));
  cl_kernel k = ctx.kernel("conv_padded", "conv_padded",
                           options + (filters_first ? " -DFILTERS_FIRST=1" : ""));
  set_args(k, workspace, mem(w), mem(bias ? *bias : w), cl_int(bias != nullptr), mem(out), y_offset,
           cl_int(out.shape()[1]), v.packed(), v.packed_out(), padded, cl_int(filters), beta);
  // A few work-items a group along the positions, as gemm_cpu's share rows of A.
  const std::size_t items = (std::size_t(span(v, padded)) + plan.reach() - 1) / plan.reach();
  const std::size_t local = std::min<std::size_t>(4, items);
  std::array<std::size_t, 3> global{(items + local - 1) / local * local,
                                    std::size_t(filters) / plan.filters, std::size_t(v.n)},
      group{local, 1, 1};
  if (filters_first) std::swap(global[0], global[1]), std::swap(group[0], group[1]);
  enqueue<3>(ctx.queue.get(), k, global, group, nullptr);
}

}  // namespace

std::size_t padded_workspace_floats(const Window& win, std::int64_t filters, std::int64_t groups) {
  if (groups != 1) return 0;
  // The widest reach any device plans (LaunchPlanner::padded_conv): the most rows of zeros.
  constexpr std::size_t kWidest = 64;
  std::int64_t most =
      std::max(copies(win, filters, kWidest, true), copies(win, filters, kWidest, false));
  if (const std::optional<Window> v = flipped_window(win, filters))
    most = std::max(most, copies(*v, win.c, kWidest, false));
  return std::size_t(most);
}

bool PaddedConv::serves_forward(std::size_t workspace_floats) const {
  // Strided, its per-output work is a fraction of a unit stride's and the copy's phases cost a
  // pass: where the host BLAS runs the column route's products, those keep 1 x 1 windows (on a
  // 2-core AVX-512 Xeon, clnn-run of single layers at batch 32: ResNet's 1 x 1 downsampling of 64
  // channels at 56x56 4.3-6.9 ms there against 6.7-11 here). Wider windows run here since taps
  // are unrolled: ResNet's 3 x 3 stride-2 layers 22.7-30 ms against 24-39, mobilenet_v2's 3 x 3
  // stem of 3 channels 7.1-8.4 against 18-33, ResNet's 7 x 7 stem 39-40 against 91.
  const bool pays = win.unit_strides() || !host_blas_pays(ctx) || win.kernel_positions() > 1;
  return groups == 1 && fits(ctx, win, filters, workspace_floats) &&
         takes(ConvRoute::padded, false, pays);
}

bool PaddedConv::serves_input_gradient(std::size_t workspace_floats) const {
  const std::optional<Window> v = flipped_window(win, filters);
  return groups == 1 && v && fits(ctx, *v, win.c, workspace_floats) &&
         takes(ConvRoute::padded, false, true);
}

bool PaddedConv::serves_weight_gradient(std::size_t workspace_floats) const {
  return groups == 1 && fits(ctx, win, filters, workspace_floats, true) &&
         takes(ConvRoute::padded, false, true);
}

void PaddedConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                         float beta, const Epilogue& epilogue, const Tensor& workspace,
                         const Placement& placement) const {
  run(ctx, win, filters, x, w, bias, y, beta, epilogue, mem(workspace), PaddedPass::forward,
      placement);
}

std::size_t padded_depthwise_floats(const ContextImpl& ctx, const Window& win) {
  const std::int64_t floats =
      copies(win, win.c, pass_plan(ctx, win, win.c, PaddedPass::depthwise).reach(), false);
  return std::size_t(floats);
}

void padded_depthwise_forward(ContextImpl& ctx, const Window& win, const Tensor& x, const Tensor& w,
                              const Tensor* bias, const Tensor& y, float beta,
                              const Epilogue& epilogue) {
  cl_mem scratch = ctx.scratch(padded_depthwise_floats(ctx, win));
  run(ctx, win, win.c, x, w, bias, y, beta, epilogue, scratch, PaddedPass::depthwise);
}

void PaddedConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta,
                                const Tensor& workspace) const {
  const std::optional<Window> v = flipped_window(win, filters);
  if (!v) throw Error("conv: no padded input gradient for this geometry");  // serves_ checks
  run(ctx, *v, win.c, gy, w, nullptr, gx, beta, {}, mem(workspace), PaddedPass::flipped);
}

void PaddedConv::weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw, float beta,
                                 const Tensor& workspace) const {
  const PaddedConvPlan plan =
      ctx.planner.padded_conv(std::size_t(filters), std::size_t(win.kernel_positions()));
  const std::array<std::int64_t, 3> e = extents(win, plan.vector);
  const cl_int4 padded = as_int4(e);
  const std::size_t gy_offset = std::size_t(win.n * win.c * padded_plane(win, e));
  pad(ctx, win, padded, x, mem(workspace), 0);
  pad(ctx, output_window(win, filters), padded, gy, mem(workspace), gy_offset);
  cl_kernel k = ctx.kernel("conv_padded", "conv_padded_weight_gradient", plan_options(plan));
  set_args(k, mem(workspace), cl_ulong(gy_offset), mem(gw), win.packed(), win.packed_out(), padded,
           cl_int(filters), cl_int(win.n), beta);
  const std::size_t blocks = (std::size_t(win.kernel_positions()) + plan.taps - 1) / plan.taps;
  ctx.enqueue_lines(k, std::size_t(filters) / plan.gradient_filters * blocks * std::size_t(win.c));
}

namespace {

std::string describe_positions(const PaddedConvPlan& plan) {
  return "padded direct, " + std::to_string(plan.vectors) + " vectors of " +
         std::to_string(plan.vector) + " positions by " + std::to_string(plan.filters) + " filters";
}

}  // namespace

std::string PaddedConv::describe_forward() const {
  return describe_positions(pass_plan(ctx, win, filters, PaddedPass::forward));
}

std::string PaddedConv::describe_input_gradient() const {
  const std::optional<Window> v = flipped_window(win, filters);
  return v ? describe_positions(pass_plan(ctx, *v, win.c, PaddedPass::flipped)) : "padded direct";
}

std::string PaddedConv::describe_weight_gradient() const {
  const PaddedConvPlan plan =
      ctx.planner.padded_conv(std::size_t(filters), std::size_t(win.kernel_positions()));
  return "padded direct, " + std::to_string(plan.gradient_filters) + " filters by " +
         std::to_string(plan.taps) + " taps";
}

}  // namespace clnn::detail
