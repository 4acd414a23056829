// Direct convolution gradients for few column rows (cl_kernels/conv_direct.cl).
#include "ops/conv_direct.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/gemm.hpp"

namespace clnn::detail {

namespace {

constexpr std::size_t kTileColumns = 32;  // conv_direct.cl's TILE_Q: columns staged at a time

std::int64_t rows(const Window& win) { return win.c * win.kernel_positions(); }

// The weight-gradient kernel's two local tiles, of filters and of rows, TILE_Q + 1 floats each.
std::size_t local_bytes(const Window& win, std::int64_t filters) {
  return std::size_t(filters + rows(win)) * (kTileColumns + 1) * sizeof(float);
}

std::string build_options(const ContextImpl& ctx, const Window& win, std::int64_t filters) {
  return "-DFILTERS=" + std::to_string(filters) + " -DROWS=" + std::to_string(rows(win)) +
         " -DITEMS=" + std::to_string(ctx.reduction_plan.local_size) +
         " -DTILE_Q=" + std::to_string(kTileColumns);
}

}  // namespace

bool DirectConv::serves_gradients() const {
  if (groups != 1 || rows(win) > kMaxRows) return false;
  if (local_bytes(win, filters) > ctx.info.local_mem_size / 2) return false;
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
  // A work-group per run of columns, two per compute unit: enough to occupy the device, few
  // enough that adding their partial sums (gemm_sum_slices, a loop over them per output) stays
  // cheap.
  const std::size_t columns = std::size_t(win.n * win.out_positions());
  const std::size_t tiles = (columns + kTileColumns - 1) / kTileColumns;
  const std::size_t units = std::max<cl_uint>(1, ctx.info.compute_units);
  const std::size_t groups = std::min(tiles, 2 * units);
  const std::size_t per_group = (tiles + groups - 1) / groups * kTileColumns;
  const std::size_t used = (columns + per_group - 1) / per_group;
  const std::size_t outputs = std::size_t(filters * rows(win));
  cl_mem partial = ctx.scratch(used * outputs);
  cl_kernel k = ctx.kernel("conv_direct", "conv_weight_gradient_direct",
                           build_options(ctx, win, filters));
  set_args(k, mem(x), mem(gy), partial, win.packed(), win.packed_out(), cl_int(win.n),
           cl_int(per_group));
  const std::size_t local = ctx.reduction_plan.local_size;
  enqueue<1>(ctx.queue.get(), k, {used * local}, {local});
  sum_slices(ctx, partial, 0, used, outputs, 1.0f, beta, mem(gw), 0);
}

}  // namespace clnn::detail
