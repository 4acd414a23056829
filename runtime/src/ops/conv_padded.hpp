// Internal: convolutions computed directly over a zero-padded copy of the input
// (cl_kernels/conv_padded.cl), CPUs' route for forward (any strides: the copy is dealt into their
// phases) and both gradients (unit strides). The column
// route wrote a column matrix of C x taps rows per output position and read it back through the
// GEMM, then reordered the product into y; here each channel and tap is one vector load of the copy
// for a block of filters, and y is written once.
#pragma once

#include <cstdint>

#include "clnn/tensor.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

// Workspace floats that the route's copies need on any device (the forward's x, the input
// gradient's gy, the weight gradient's x and gy): what a convolution asks for beside its column
// matrices; 0 where the route cannot run it.
std::size_t padded_workspace_floats(const Window& win, std::int64_t filters, std::int64_t groups);

// A depthwise convolution's forward pass (a filter per channel: groups = channels = filters)
// over a padded copy in the context's scratch, as CPUs run it (ops/conv_depthwise.cpp): every
// tap one vector load of the copy, no bound checked and no lane gathered at the edges. The
// floats of the copy, or 0 where an index would pass an int.
std::size_t padded_depthwise_floats(const ContextImpl& ctx, const Window& win);
void padded_depthwise_forward(ContextImpl& ctx, const Window& win, const Tensor& x, const Tensor& w,
                              const Tensor* bias, const Tensor& y, float beta,
                              const Epilogue& epilogue);

struct PaddedConv : ConvGeometry {
  // Whether forward takes this route: one group, the padded copy (with its spare rows) within
  // `workspace_floats` and int indices, and ContextImpl::conv_route asks for it or is automatic
  // on a CPU.
  bool serves_forward(std::size_t workspace_floats) const;

  // y = epilogue(beta * y + conv(x, w) + bias) (bias may be null), the padded copy written to the
  // start of `workspace`; into a concat's channels instead where `placement` says.
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, float beta,
               const Epilogue& epilogue, const Tensor& workspace,
               const Placement& placement = {}) const;

  // Whether the input gradient takes it: the same, for the convolution of gy that gives it (the
  // filters flipped, pads of the window's reach less the original's, none negative).
  bool serves_input_gradient(std::size_t workspace_floats) const;
  // gx = beta * gx + the input gradient from gy, through that convolution.
  void input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta,
                      const Tensor& workspace) const;

  // Whether the weight gradient takes it: the same, with gy's copy in the workspace too.
  bool serves_weight_gradient(std::size_t workspace_floats) const;
  // gw = beta * gw + the weight gradient from x and gy, over both copies.
  void weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw, float beta,
                       const Tensor& workspace) const;

  // Each pass's plan in words: "padded direct, 3 vectors of 16 positions by 8 filters" (forward
  // and input gradient), "padded direct, 2 filters by 9 taps" (weight gradient).
  std::string describe_forward() const;
  std::string describe_input_gradient() const;
  std::string describe_weight_gradient() const;
};

}  // namespace clnn::detail
