// Convolution as an implicit GEMM on the vec4 matmul kernel (cl_kernels/matmul_vec4.cl with
// CONV_GATHER): the forward pass, and the input gradient of unit-stride convolutions as the
// convolution of the output gradient with flipped filters.
#include "ops/conv_implicit.hpp"

#include <algorithm>
#include <climits>
#include <optional>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/gemm.hpp"
#include "tune/tuning_notes.hpp"

namespace clnn::detail {

namespace {

// A launch's product: filters per group (m) by samples x output positions (columns) over
// channels per group x taps (rows), batched over the groups; and its output's size.
std::int64_t filters_per_group(const ImplicitLaunch& l) { return l.filters / l.groups; }
std::int64_t columns(const ImplicitLaunch& l) { return l.win.n * l.win.out_positions(); }
std::int64_t rows(const ImplicitLaunch& l) { return l.win.c / l.groups * l.win.kernel_positions(); }

// The most rows (K) for which the kernel applies a folded activation as it stores y. Built with
// it, conv_vec4 ran about 6% slower over its whole loop (H200, same call, two rounds each: r3d_18
// at batch 32 81.4 ms against 76.2, resnet50 7.67 against 7.32). The activation's own pass
// reads and writes y, 8 bytes an output, where the kernel does 2K flops an output: at half the
// H200's 67 TFLOP/s and its 3.9 TB/s, 6% of the kernel outweighs the pass once K is above about
// 570. squeezenet1_1's layers (K of 16 to 576) ran no slower with it and saved the 0.26-0.30 ms
// of their passes (2.39 ms against 2.55).
constexpr std::int64_t kMaxRowsForStoredEpilogue = 576;
std::int64_t outputs(const ImplicitLaunch& l) {
  return l.win.n * l.filters * l.win.out_positions();
}

// The planner's block for a launch, if the kernel can run it. A device whose planner picks
// another kernel (a CPU that a test makes run this path) gets the smallest vec4 block.
std::optional<MatmulPlan> product_plan(const ContextImpl& ctx, const ImplicitLaunch& l) {
  // The kernel indexes columns, and samples of x and y, with int arithmetic.
  for (std::int64_t extent :
       {columns(l), l.win.c * l.win.in_positions(), l.filters * l.win.out_positions()})
    if (extent >= INT_MAX) return std::nullopt;
  MatmulPlan plan = ctx.planner.implicit_conv(std::size_t(filters_per_group(l)),
                                              std::size_t(columns(l)), std::size_t(l.groups),
                                              std::size_t(l.win.kernel_positions()));
  if (plan.kernel != MatmulKernel::vec4) plan = smallest_vec4_plan();
  if (!ctx.planner.fits(plan)) return std::nullopt;
  return plan;
}

// Whether each k-step of the plan lies within one tap of the tap-major rows (WHOLE_TAPS).
bool whole_taps(const ImplicitLaunch& l, const MatmulPlan& plan) {
  return l.win.c / l.groups % std::int64_t(plan.tile_k) == 0;
}

// Column matrices from this size up are written and read through the column route more slowly
// than the implicit GEMM gathers them row by row (measured on the H100, below).
constexpr double kImplicitFromColumnBytes = 96.0 * (1 << 20);

// Whether the implicit GEMM should replace the column route for a launch, which
// writes and reads a column matrix of C / G * taps rows by N * P columns per group. On the H100:
// - where every k-step lies within one tap, the gather checks each tap's bounds once for all
//   its channels, and the forward passes of every bench layer with 16 or more channels ran 1.1x
//   (the 14x14 ones, column matrices of 58 and 80 MB) to 1.6x (the 3-D one) as fast as the
//   column route;
// - gathered row by row, it pays only for a large column matrix: the 14x14 layers ran at 0.9x,
//   layers with 231 and 453 MB at 1.4x and 1.3x (NVIDIA reports a 4 MB global memory cache, so
//   the driver's figure cannot place this line);
// - where the filters' rows are not float4-aligned, the column route cannot use the vec4 kernel;
//   the implicit GEMM ran 2.5x as fast (25 taps).
bool pays(const ImplicitLaunch& l, const MatmulPlan& plan) {
  if (whole_taps(l, plan)) return true;
  if (rows(l) % 4 != 0) return true;
  const double column_bytes = 4.0 * double(rows(l) * l.groups) * double(columns(l));
  return column_bytes >= kImplicitFromColumnBytes;
}

// Scratch holds the filters in tap-major order where the caller rearranges them, then the
// slices' partial outputs where K is split, starting on a float4.
struct ScratchLayout {
  std::size_t partials = 0, total = 0;
};

// The rows per slice of K: whole k-steps, which keep every step within one tap.
std::int64_t slice_rows(const ImplicitLaunch& l, const ImplicitConfig& config) {
  const std::int64_t k = rows(l), step = std::int64_t(config.plan.tile_k);
  const std::int64_t slices = std::max<std::int64_t>(1, config.slices);
  return std::max(step, ((k + slices - 1) / slices + step - 1) / step * step);
}

// The slices those rows make (fewer than config.slices where rounding leaves some empty).
std::int64_t slice_count(const ImplicitLaunch& l, const ImplicitConfig& config) {
  const std::int64_t per_slice = slice_rows(l, config);
  return (rows(l) + per_slice - 1) / per_slice;
}

ScratchLayout scratch_layout(const ImplicitLaunch& l, const ImplicitConfig& config,
                             bool rearranged_filters) {
  const std::size_t k = std::size_t(rows(l));
  const std::int64_t slices = slice_count(l, config);
  ScratchLayout s;
  s.partials = rearranged_filters ? float4_aligned(std::size_t(l.filters) * k) : 0;
  s.total = s.partials + (slices > 1 ? std::size_t(slices * outputs(l)) : 0);
  return s;
}

// The gather's table (matmul_vec4.cl, CONV_GATHER): for each of the K rows of the column matrix,
// in tap-major order r = t * Cg + c with t = (a * KH + b) * KW + e and Cg = K / taps, the offset
// of x[c, a * DD, b * DH, e * DW] within a sample's group of channels, and the tap's reach
// a * DD, b * DH, e * DW. Tap-major rows let a k-step that lies within one tap share its bounds
// checks.
std::vector<cl_int> tap_table(const Window& win, std::int64_t k) {
  const std::int64_t channels = k / win.kernel_positions();
  std::vector<cl_int> table;
  table.reserve(std::size_t(4 * k));
  for (std::int64_t a = 0; a < win.kernel[0]; ++a)
    for (std::int64_t b = 0; b < win.kernel[1]; ++b)
      for (std::int64_t e = 0; e < win.kernel[2]; ++e) {
        const std::int64_t ad = a * win.dilation[0], bh = b * win.dilation[1],
                           ew = e * win.dilation[2];
        for (std::int64_t c = 0; c < channels; ++c)
          for (std::int64_t v :
               {((c * win.in[0] + ad) * win.in[1] + bh) * win.in[2] + ew, ad, bh, ew})
            table.push_back(cl_int(v));
      }
  return table;
}

// Where a launch writes y: sample n from element offset + n * sample_stride of `mem` on.
struct OutputAt {
  cl_mem mem;
  std::size_t offset;
  std::int64_t sample_stride;
  bool placed;  // in a concat's channels (ops/op.hpp's Placement)
};

// y = beta * y + conv(x, w) + bias for a launch, w at offset_w in tap-major order, with scratch
// laid out as `layout`; and the epilogue: stored by the kernel where the launch is not split
// over K and K is short enough to pay (or y is placed, where no later pass could reach it),
// applied by the sum of the slices where it is split. Returns whether it applied the epilogue.
bool launch(ContextImpl& ctx, const ImplicitLaunch& l, const ImplicitConfig& config,
            const Operand& x, cl_mem w, std::size_t offset_w, cl_mem bias, const OutputAt& y,
            float beta, cl_mem scratch, const ScratchLayout& layout,
            const Epilogue& epilogue = {}) {
  const Window& win = l.win;
  const std::int64_t positions = win.out_positions(), volume = win.in_positions();
  const std::int64_t m = filters_per_group(l), n = columns(l), k = rows(l);

  const MatmulPlan& plan = config.plan;
  std::string options = plan.build_options() + " -DTRANS_A=0 -DTRANS_B=0 -DCONV_GATHER=1";
  if (whole_taps(l, plan)) options += " -DWHOLE_TAPS=1";
  if (k % 4 != 0) options += " -DA_SCALAR=1";  // the filters' rows are not float4-aligned
  // Samples of a multiple of 4 positions are stored in float4s; others element by element (a
  // run-time choice between the two had slowed the kernel by 13% on the H100).
  if (positions % 4 == 0) options += " -DALIGNED_POSITIONS=1";
  // Neighbouring columns read neighbouring elements of x: the SIMD groups' loads coalesce with
  // each work-item's columns spread across the tile (see LANES_APART).
  if (win.stride[2] == 1) options += " -DLANES_APART=1";
  const std::int64_t slices = slice_count(l, config);
  const bool split = slices > 1;
  // Split, the sum of the slices applies it.
  const bool stores_epilogue =
      !split && epilogue.on && (k <= kMaxRowsForStoredEpilogue || y.placed);
  if (stores_epilogue) options += epilogue_options(epilogue);
  cl_kernel kernel = ctx.kernel(plan.source_name(), "conv_vec4", options);
  set_args(kernel, cl_int(m), cl_int(n), cl_int(k), 1.0f, w, cl_ulong(offset_w), cl_int(k),
           cl_ulong(m * k), x.mem, cl_ulong(x.offset), cl_int(win.c * volume),
           cl_ulong(win.c / l.groups * volume), split ? 0.0f : beta, split ? scratch : y.mem,
           cl_ulong(split ? layout.partials : y.offset),
           cl_int(split ? l.filters * positions : y.sample_stride), cl_ulong(m * positions),
           win.packed(), win.packed_out(), bias, ctx.int_table(tap_table(win, k)),
           cl_int(slice_rows(l, config)), cl_ulong(outputs(l)));
  const std::size_t groups_n = std::size_t(n + plan.tile_n - 1) / plan.tile_n;
  const std::size_t groups_m = std::size_t(m + plan.tile_m - 1) / plan.tile_m;
  enqueue<3>(ctx.queue.get(), kernel,
             {groups_n * plan.local_x(), groups_m * plan.local_y(), std::size_t(l.groups * slices)},
             {plan.local_x(), plan.local_y(), 1});
  if (split)
    sum_slices(ctx, scratch, layout.partials, std::size_t(slices), std::size_t(outputs(l)), 1.0f,
               beta, y.mem, y.offset, epilogue);
  return stores_epilogue || (split && epilogue.on);
}

// y itself from element `offset` on, samples one after another.
OutputAt contiguous(const ImplicitLaunch& l, cl_mem y, std::size_t offset = 0) {
  return {y, offset, l.filters * l.win.out_positions(), false};
}

// The channels of `placement` where the launch can write them: its samples are placement's
// samples if the kernel stores them (its int sample stride permitting), or if the slices' sum
// does and there is one sample (the sum writes one contiguous run).
std::optional<OutputAt> placed_output(const ImplicitLaunch& l, const ImplicitConfig& config,
                                      const Placement& placement) {
  if (!placement.into) return std::nullopt;
  const std::int64_t positions = l.win.out_positions();
  const std::int64_t stride = placement.into->shape()[1] * positions;
  if (stride >= INT_MAX || (slice_count(l, config) > 1 && l.win.n > 1)) return std::nullopt;
  return OutputAt{mem(*placement.into), std::size_t(placement.channel * positions), stride, true};
}

}  // namespace

void arrange_filters(ContextImpl& ctx, cl_mem w, cl_mem out, std::size_t offset,
                     std::int64_t filters, std::int64_t channels, std::int64_t taps,
                     std::int64_t groups, bool flip) {
  cl_kernel arrange = ctx.kernel("conv", "tap_major_filters");
  set_args(arrange, w, out, cl_ulong(offset), cl_int(filters / groups), cl_int(channels / groups),
           cl_int(taps), cl_int(groups), cl_int(flip ? 1 : 0));
  ctx.enqueue_elementwise(arrange, std::size_t(filters * (channels / groups) * taps));
}

bool implicit_runs(const ContextImpl& ctx, const ImplicitLaunch& l) {
  return product_plan(ctx, l).has_value();
}

std::string ImplicitConfig::describe() const {
  return plan.describe() + (slices > 1 ? ", K in " + std::to_string(slices) + " slices" : "");
}

ImplicitConfig planned_config(const ContextImpl& ctx, const ImplicitLaunch& l) {
  ImplicitConfig config{*product_plan(ctx, l)};
  const std::size_t blocks = config.plan.blocks(std::size_t(filters_per_group(l)),
                                                std::size_t(columns(l)), std::size_t(l.groups));
  config.slices = std::int64_t(ctx.planner.k_slices(config.plan, blocks, std::size_t(rows(l))));
  return config;
}

std::vector<std::int64_t> implicit_tuning_shape(const ImplicitLaunch& l) {
  return {filters_per_group(l), l.win.c / l.groups, columns(l), rows(l)};
}

namespace {

// chosen_config's configuration in fp32.
ImplicitConfig chosen_fp32_config(const ContextImpl& ctx, const ImplicitLaunch& l) {
  const nlohmann::json* entry =
      ctx.tuning ? ctx.tuning->nearest("conv", implicit_tuning_shape(l)) : nullptr;
  if (entry) {
    try {
      const ImplicitConfig tuned{
          {true, entry->at("tile_m").get<std::size_t>(), entry->at("tile_n").get<std::size_t>(),
           entry->at("tile_k").get<std::size_t>(), 8, 8, MatmulKernel::vec4},
          entry->at("slices").get<std::int64_t>()};
      if (ctx.planner.fits(tuned.plan) && tuned.slices >= 1) return tuned;
    } catch (const std::exception&) {  // a malformed entry: the plan serves
    }
  }
  return planned_config(ctx, l);
}

}  // namespace

ImplicitConfig chosen_config(const ContextImpl& ctx, const ImplicitLaunch& l) {
  ImplicitConfig config = chosen_fp32_config(ctx, l);
  // TF32, fp16 or bf16 where the context runs it: the same loads and slices, the products on
  // tensor cores.
  if (auto mma = ctx.planner.with_tensor_cores(config.plan, ctx.precision)) config.plan = *mma;
  return config;
}

void run_implicit(ContextImpl& ctx, const ImplicitLaunch& l, const ImplicitConfig& config,
                  const Operand& x, const Operand& w, const Operand& y) {
  const ScratchLayout layout = scratch_layout(l, config, false);
  launch(ctx, l, config, x, w.mem, w.offset, nullptr, contiguous(l, y.mem, y.offset), 0.0f,
         ctx.scratch(layout.total), layout);
}

bool ImplicitConv::serves_forward() const {
  const ImplicitLaunch l = forward_launch();
  const std::optional<MatmulPlan> plan = product_plan(ctx, l);
  return plan && takes(ConvRoute::implicit, pays(l, *plan));
}

bool ImplicitConv::serves_input_gradient() const {
  for (std::int64_t s : win.stride)
    if (s != 1) return false;
  const ImplicitLaunch l = input_gradient_launch();
  const std::optional<MatmulPlan> plan = product_plan(ctx, l);
  // Each block computes at least 32 rows, here input channels per group: with fewer, most of the
  // work is thrown away (the first bench layer's single channel ran 2.5x slower than columns).
  return plan && takes(ConvRoute::implicit, win.c / groups >= 32 && pays(l, *plan));
}

std::size_t ImplicitConv::prepared_filter_floats() const {
  // The filters' order is already tap-major with one channel per group, or one tap.
  const std::int64_t taps = win.kernel_positions();
  if (win.c / groups == 1 || taps == 1) return 0;
  return float4_aligned(std::size_t(filters * (win.c / groups) * taps));
}

void ImplicitConv::prepare_filters(const Tensor& w, const Tensor& prepared) const {
  arrange_filters(ctx, mem(w), mem(prepared), 0, filters, win.c, win.kernel_positions(), groups,
                  false);
}

void ImplicitConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                           float beta, const Epilogue& epilogue, const Placement& placement,
                           const Tensor* prepared) const {
  const ImplicitLaunch l = forward_launch();
  if (TuningNotes* notes = active_tuning_notes()) notes->convolutions.push_back(l);
  if (prepared_filter_floats() == 0) prepared = nullptr;  // read as stored
  const bool rearrange = prepared_filter_floats() > 0 && !prepared;
  const ImplicitConfig config = chosen_config(ctx, l);
  const ScratchLayout layout = scratch_layout(l, config, rearrange);
  cl_mem scratch = ctx.scratch(layout.total);
  if (rearrange)
    arrange_filters(ctx, mem(w), scratch, 0, filters, win.c, win.kernel_positions(), groups, false);
  cl_mem filters_mem = rearrange ? scratch : prepared ? mem(*prepared) : mem(w);
  const std::optional<OutputAt> placed = placed_output(l, config, placement);
  const bool applied =
      launch(ctx, l, config, {mem(x)}, filters_mem, 0, bias ? mem(*bias) : nullptr,
             placed ? *placed : contiguous(l, mem(y)), beta, scratch, layout, epilogue);
  if (placed) return;  // the launch stored the epilogue
  if (!applied) apply_epilogue(ctx, y, epilogue);
  if (placement.into) copy_to_placement(ctx, y, placement);
}

void ImplicitConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                  float beta) const {
  const ImplicitLaunch l = input_gradient_launch();
  if (TuningNotes* notes = active_tuning_notes()) notes->convolutions.push_back(l);
  const ImplicitConfig config = chosen_config(ctx, l);
  const ScratchLayout layout = scratch_layout(l, config, true);
  cl_mem scratch = ctx.scratch(layout.total);
  arrange_filters(ctx, mem(w), scratch, 0, filters, win.c, win.kernel_positions(), groups, true);
  launch(ctx, l, config, {mem(gy)}, scratch, 0, nullptr, contiguous(l, mem(gx)), beta, scratch,
         layout);
}

Window ImplicitConv::input_gradient_window() const {
  return detail::input_gradient_window(win, filters);
}

}  // namespace clnn::detail
