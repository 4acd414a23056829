// Convolution as an implicit GEMM on the vec4 matmul kernel (cl_kernels/matmul_vec4.cl with
// CONV_GATHER): the forward pass, and the input gradient of unit-stride convolutions as the
// convolution of the output gradient with flipped filters.
#include "ops/conv_implicit.hpp"

#include <climits>
#include <optional>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"

namespace clnn::detail {

namespace {

// The block for a convolution's product, filters per group by samples x positions, batched
// over the groups: the planner's. A device whose planner picks another kernel (a CPU that a test
// makes run this path) gets the smallest vec4 block.
std::optional<MatmulPlan> product_plan(const ContextImpl& ctx, std::int64_t m, std::int64_t n,
                                       std::int64_t groups) {
  MatmulPlan plan = ctx.planner.matmul(std::size_t(m), std::size_t(n), std::size_t(groups));
  if (plan.kernel != MatmulKernel::vec4) plan = {true, 32, 32, 8, 8, 8, MatmulKernel::vec4};
  if (!ctx.planner.fits(plan)) return std::nullopt;
  return plan;
}

// The output row width rounded up to a multiple of 4: the kernel's columns run over padded rows.
std::int64_t padded_row(const Window& win) { return (win.out[2] + 3) / 4 * 4; }

// The product's columns: samples x output positions in padded rows.
std::int64_t columns(const Window& win) {
  return win.n * win.out[0] * win.out[1] * padded_row(win);
}

bool can_run(const ContextImpl& ctx, const Window& win, std::int64_t filters,
             std::int64_t groups) {
  // The kernel indexes columns, and samples of x and y, with int arithmetic.
  for (std::int64_t extent : {columns(win), win.c * win.in_positions(),
                              filters * win.out_positions()})
    if (extent >= INT_MAX) return false;
  return product_plan(ctx, filters / groups, columns(win), groups).has_value();
}

// Column matrices from this size up are written and read through the column route more slowly
// than the implicit GEMM gathers them (measured on the H100, below).
constexpr double kImplicitFromColumnBytes = 96.0 * (1 << 20);

// Whether the implicit GEMM should replace the column route for a convolution over win, which
// writes and reads a column matrix of C / G * taps rows by N * P columns per group. The gather
// costs more per element than a GEMM's float4 loads, so it pays where that matrix is large. On
// the H100 the forward passes of the 14x14 bench layers, with column matrices of 58 and 80 MB,
// ran at 0.92x and 0.88x the column route's speed, and their input gradients slower too. Layers
// with 231 and 453 MB ran 1.43x and 1.32x as fast. (NVIDIA reports a 4 MB global memory cache,
// so the driver's figure cannot place this line.) Where the filters' rows are not float4-aligned,
// the column route cannot use the vec4 kernel; the implicit GEMM ran 2.5x as fast (25 taps).
bool pays(const ContextImpl& ctx, const Window& win, std::int64_t groups) {
  if (ctx.conv_route == ConvRoute::implicit) return true;
  if (ctx.conv_route == ConvRoute::columns) return false;
  if (ctx.planner.matmul().kernel != MatmulKernel::vec4) return false;  // CPUs: rows of A in cache
  const std::int64_t rows = win.c / groups * win.kernel_positions();
  if (rows % 4 != 0) return true;
  const double column_bytes = 4.0 * double(rows * groups) * double(win.n * win.out_positions());
  return column_bytes >= kImplicitFromColumnBytes;
}

// Whether the columns that pad the output rows of a run over win are few enough: at most an
// eighth of the work (rows of 4k, 7, 14 or 15), unless the implicit route is forced.
bool little_padding(const ContextImpl& ctx, const Window& win) {
  return ctx.conv_route == ConvRoute::implicit ||
         8 * (padded_row(win) - win.out[2]) <= padded_row(win);
}

// The row table of the kernel's gather (conv.cl's conv_taps) takes this many floats of scratch.
std::size_t taps_floats(const Window& win, std::int64_t groups) {
  return std::size_t(4 * (win.c / groups) * win.kernel_positions());
}

// y = beta * y + conv(x, w) + bias over win, w at offset_w; the row table goes to the start of
// taps (taps_floats).
void launch(ContextImpl& ctx, const Window& win, std::int64_t filters, std::int64_t groups,
            cl_mem x, cl_mem w, std::size_t offset_w, cl_mem bias, cl_mem y, float beta,
            cl_mem taps) {
  const std::int64_t positions = win.out_positions(), volume = win.in_positions();
  const std::int64_t m = filters / groups, n = columns(win);
  const std::int64_t k = win.c / groups * win.kernel_positions();
  cl_kernel fill = ctx.kernel("conv", "conv_taps");
  set_args(fill, taps, win.packed(), cl_int(k));
  ctx.enqueue_elementwise(fill, std::size_t(k));

  const MatmulPlan plan = *product_plan(ctx, m, n, groups);
  std::string options = plan.build_options() + " -DTRANS_A=0 -DTRANS_B=0 -DCONV_GATHER=1";
  if (k % 4 != 0) options += " -DA_SCALAR=1";  // the filters' rows are not float4-aligned
  // Rows padded to a multiple of 4 are stored element by element; others as float4s, which a
  // run-time choice between the two had slowed by 13% on the H100.
  if (padded_row(win) != win.out[2]) options += " -DPADDED_ROWS=1";
  cl_kernel kernel = ctx.kernel(plan.source_name(), "conv_vec4", options);
  cl_int4 out = win.packed_out();
  out.s[3] = cl_int(padded_row(win));
  set_args(kernel, cl_int(m), cl_int(n), cl_int(k), 1.0f, w, cl_ulong(offset_w), cl_int(k),
           cl_ulong(m * k), x, cl_ulong(0), cl_int(win.c * volume),
           cl_ulong(win.c / groups * volume), beta, y, cl_ulong(0), cl_int(filters * positions),
           cl_ulong(m * positions), win.packed(), out, bias, taps);
  const std::size_t groups_n = std::size_t(n + plan.tile_n - 1) / plan.tile_n;
  const std::size_t groups_m = std::size_t(m + plan.tile_m - 1) / plan.tile_m;
  enqueue<3>(ctx.queue.get(), kernel,
             {groups_n * plan.local_x(), groups_m * plan.local_y(), std::size_t(groups)},
             {plan.local_x(), plan.local_y(), 1});
}

}  // namespace

bool ImplicitConv::serves_forward() const {
  return pays(ctx, win, groups) && little_padding(ctx, win) && can_run(ctx, win, filters, groups);
}

bool ImplicitConv::serves_input_gradient() const {
  for (std::int64_t s : win.stride)
    if (s != 1) return false;
  // Each block computes at least 32 rows, here input channels per group: with fewer, most of the
  // work is thrown away (the first bench layer's single channel ran 2.5x slower than columns).
  if (ctx.conv_route == ConvRoute::automatic && win.c / groups < 32) return false;
  const Window gradient = input_gradient_window();
  return pays(ctx, win, groups) && little_padding(ctx, gradient) &&
         can_run(ctx, gradient, win.c, groups);
}

void ImplicitConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                           float beta) const {
  launch(ctx, win, filters, groups, mem(x), mem(w), 0, bias ? mem(*bias) : nullptr, mem(y), beta,
         ctx.scratch(taps_floats(win, groups)));
}

void ImplicitConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                  float beta) const {
  // Scratch holds the gather's row table, then the flipped filters.
  const Window window = input_gradient_window();
  const std::size_t table = taps_floats(window, groups);
  const std::int64_t taps = win.kernel_positions();
  const std::int64_t filters_per_group = filters / groups, channels_per_group = win.c / groups;
  const std::size_t weights = std::size_t(filters * channels_per_group * taps);
  cl_mem scratch = ctx.scratch(table + weights);
  cl_kernel flip = ctx.kernel("conv", "flip_filters");
  set_args(flip, mem(w), scratch, cl_ulong(table), cl_int(filters_per_group),
           cl_int(channels_per_group), cl_int(taps), cl_int(groups));
  ctx.enqueue_elementwise(flip, weights);
  launch(ctx, window, win.c, groups, mem(gy), scratch, table, nullptr, mem(gx), beta, scratch);
}

Window ImplicitConv::input_gradient_window() const {
  Window g = win;
  g.c = filters;
  g.in = win.out;
  g.out = win.in;
  for (std::size_t d = 0; d < 3; ++d) {
    // Output position i of the gradient meets gy at i + pad - tap * dilation: with the taps
    // flipped, that is a window starting at i - (reach - pad).
    const std::int64_t reach = win.dilation[d] * (win.kernel[d] - 1);
    g.stride[d] = 1;
    g.pad_begin[d] = reach - win.pad_begin[d];
    g.pad_end[d] = reach - win.pad_end[d];
  }
  return g;
}

}  // namespace clnn::detail
