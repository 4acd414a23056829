// Direct convolution gradients for few column rows (cl_kernels/conv_direct.cl).
#include "ops/conv_direct.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/reduction.hpp"

namespace clnn::detail {

namespace {

std::int64_t rows(const Window& win) { return win.c * win.kernel_positions(); }

// The weight-gradient kernel's two local tiles, of filters and of rows, tile_q + 1 floats each.
std::size_t local_bytes(const Window& win, std::int64_t filters, std::size_t tile_q) {
  return std::size_t(filters + rows(win)) * (tile_q + 1) * sizeof(float);
}

// Work-groups of the weight-gradient kernel run at least this many tiles of columns each, so
// that small batches do not trade their work for partial sums, and at most this many per compute
// unit: the kernel holds few registers and little local memory, and two a unit had left the
// H200 mostly idle (the large model's first layer at batch 512: 0.19 ms, 0.12 with eight).
constexpr std::size_t kMinTiles = 4, kGroupsPerUnit = 8;

// The shorter of the weight-gradient kernel's tiles of columns.
constexpr std::size_t kLeastTileColumns = 32;

// Columns the weight-gradient kernel stages at a time (conv_direct.cl's TILE_Q): 64 where there
// are columns enough for every work-group, the tiles leave half of local memory free and the
// reduction plan's work-groups hold 64 work-items (one stages each column), else 32. Longer
// tiles give each work-item more products per pair of barriers; shorter ones more work-groups
// (the default model's first layer at batch 64 ran 0.040 ms in 196 work-groups of 4 tiles of 64,
// 0.032 in 262 of 6 tiles of 32).
std::size_t tile_columns(const ContextImpl& ctx, const Window& win, std::int64_t filters) {
  const std::size_t columns = std::size_t(win.n * win.out_positions());
  const std::size_t units = std::max<cl_uint>(1, ctx.info.compute_units);
  const bool plenty = columns / 64 >= kMinTiles * kGroupsPerUnit * units;
  return plenty && ctx.reduction_plan.local_size >= 64 &&
                 local_bytes(win, filters, 64) <= ctx.info.local_mem_size / 2
             ? 64
             : kLeastTileColumns;
}

// The weight-gradient kernel's work-group: whole columns of a tile's work-items, with as few
// pairs (filter, row) a work-item as the reduction plan's work-groups allow, spread evenly. In
// groups of 256, the first layers' 32 filters x 9 taps (288 pairs) had left all but one SIMD
// group waiting at each barrier while it summed a second pair.
std::size_t weight_gradient_items(const ContextImpl& ctx, const Window& win, std::int64_t filters,
                                  std::size_t tile_q) {
  const std::size_t pairs = std::size_t(filters * rows(win)), most = ctx.reduction_plan.local_size;
  if (most < tile_q)  // serves_gradients and tile_columns keep the plan from this
    throw Error("conv: work-groups of " + std::to_string(most) + " cannot stage tiles of " +
                std::to_string(tile_q) + " columns");
  const std::size_t per_item = (pairs + most - 1) / most;
  const std::size_t items = ((pairs + per_item - 1) / per_item + tile_q - 1) / tile_q * tile_q;
  return std::min(items, most / tile_q * tile_q);
}

// Both kernels' build options (one program holds them): the weight gradient's work-group and
// tile too.
std::string build_options(const ContextImpl& ctx, const Window& win, std::int64_t filters) {
  const std::size_t tile_q = tile_columns(ctx, win, filters);
  return "-DFILTERS=" + std::to_string(filters) + " -DROWS=" + std::to_string(rows(win)) +
         " -DITEMS=" + std::to_string(weight_gradient_items(ctx, win, filters, tile_q)) +
         " -DTILE_Q=" + std::to_string(tile_q);
}

}  // namespace

bool DirectConv::serves_gradients() const {
  if (groups != 1 || rows(win) > kMaxRows) return false;
  if (local_bytes(win, filters, kLeastTileColumns) > ctx.info.local_mem_size / 2 ||
      ctx.reduction_plan.local_size < kLeastTileColumns)
    return false;
  for (std::int64_t extent : {win.n * win.c * win.in_positions(),
                              win.n * filters * win.out_positions(), win.n * win.out_positions()})
    if (extent >= INT_MAX) return false;
  return takes(ConvRoute::direct, true);
}

void DirectConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                float beta) const {
  cl_kernel k = ctx.kernel("conv_direct", "conv_input_gradient_direct",
                           build_options(ctx, win, filters));
  set_args(k, mem(gy), mem(w), mem(gx), win.packed(), win.packed_out(), cl_int(win.n),
           cl_int(filters), beta);
  ctx.enqueue_elementwise(k, std::size_t(win.n * win.c * win.in_positions()));
}

void DirectConv::weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                 float beta) const {
  // A work-group per run of columns; the partial sums of each, [groups, outputs], added by the
  // reduction engine.
  const std::size_t tile_q = tile_columns(ctx, win, filters);
  const std::size_t columns = std::size_t(win.n * win.out_positions());
  const std::size_t tiles = (columns + tile_q - 1) / tile_q;
  const std::size_t units = std::max<cl_uint>(1, ctx.info.compute_units);
  const std::size_t groups = std::min((tiles + kMinTiles - 1) / kMinTiles, kGroupsPerUnit * units);
  const std::size_t per_group = (tiles + groups - 1) / groups * tile_q;
  const std::size_t used = (columns + per_group - 1) / per_group;
  const std::size_t outputs = std::size_t(filters * rows(win));
  ReductionPasses sum(ctx.reduction_plan, used * outputs);
  sum.sum_middle({Place::Of::scratch, 0}, false, {1, used, outputs}, {Place::Of::output, 0}, 1.0f,
                 beta);
  cl_mem partial = ctx.scratch(sum.scratch_floats());
  cl_kernel k = ctx.kernel("conv_direct", "conv_weight_gradient_direct",
                           build_options(ctx, win, filters));
  set_args(k, mem(x), mem(gy), partial, win.packed(), win.packed_out(), cl_int(win.n),
           cl_int(per_group));
  const std::size_t local = weight_gradient_items(ctx, win, filters, tile_q);
  enqueue<1>(ctx.queue.get(), k, {used * local}, {local});
  sum.run(ctx, nullptr, nullptr, mem(gw));
}

}  // namespace clnn::detail
