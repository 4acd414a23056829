// Direct convolution over a zero-padded copy of the input (cl_kernels/conv_padded.cl).
#include "ops/conv_padded.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"

namespace clnn::detail {

namespace {

// The copy's extents: each spatial extent with both its pads.
cl_int4 padded_extents(const Window& win) {
  cl_int4 p{};
  for (int d = 0; d < 3; ++d)
    p.s[d] = cl_int(win.in[std::size_t(d)] + win.pad_begin[std::size_t(d)] +
                    win.pad_end[std::size_t(d)]);
  return p;
}

std::int64_t padded_plane(const Window& win) {
  const cl_int4 p = padded_extents(win);
  return std::int64_t(p.s[0]) * p.s[1] * p.s[2];
}

// One past the last output position's index p in the copy's planes.
std::int64_t span(const Window& win) {
  const cl_int4 p = padded_extents(win);
  return ((win.out[0] - 1) * p.s[1] + win.out[1] - 1) * std::int64_t(p.s[2]) + win.out[2];
}

}  // namespace

bool PaddedConv::serves_forward(std::size_t workspace_floats) const {
  if (groups != 1) return false;
  for (std::size_t d = 0; d < 3; ++d)
    if (win.stride[d] != 1) return false;
  const std::size_t vector = ctx.planner.padded_conv(std::size_t(filters)).vector;
  const std::int64_t copy = win.n * win.c * padded_plane(win) + std::int64_t(vector);
  if (copy >= INT_MAX || win.n * filters * win.out_positions() >= INT_MAX) return false;
  if (std::size_t(copy) > workspace_floats) return false;
  return takes(ConvRoute::padded, false, true);
}

void PaddedConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                         float beta, const Epilogue& epilogue, const Tensor& workspace) const {
  const PaddedConvPlan plan = ctx.planner.padded_conv(std::size_t(filters));
  const cl_int4 padded = padded_extents(win);
  const auto rows = cl_int(win.n * win.c * padded.s[0] * padded.s[1]);
  cl_kernel pad = ctx.kernel("conv_padded", "pad_planes");
  set_args(pad, mem(x), mem(workspace), win.packed(), padded, rows);
  ctx.enqueue_elementwise(pad, std::size_t(rows));

  const std::string options = "-DVEC=" + std::to_string(plan.vector) +
                              " -DFILTERS=" + std::to_string(plan.filters) +
                              epilogue_options(epilogue);
  cl_kernel k = ctx.kernel("conv_padded", "conv_padded", options);
  set_args(k, mem(workspace), mem(w), mem(bias ? *bias : w), cl_int(bias != nullptr), mem(y),
           win.packed(), win.packed_out(), padded, cl_int(filters), beta);
  // A few work-items a group along the positions, as gemm_cpu's share rows of A.
  const std::size_t vectors = (std::size_t(span(win)) + plan.vector - 1) / plan.vector;
  const std::size_t local = std::min<std::size_t>(4, vectors);
  enqueue<3>(ctx.queue.get(), k,
             {(vectors + local - 1) / local * local, std::size_t(filters) / plan.filters,
              std::size_t(win.n)},
             {local, 1, 1}, nullptr);
}

std::string PaddedConv::describe() const {
  const PaddedConvPlan plan = ctx.planner.padded_conv(std::size_t(filters));
  return "padded direct, " + std::to_string(plan.filters) + " filters x " +
         std::to_string(plan.vector) + " positions per item";
}

}  // namespace clnn::detail
