// Internal: depthwise convolutions (groups == channels, any channel multiplier) gathered
// directly (cl_kernels/conv_depthwise.cl). The GEMM routes run them as one product per channel
// with a single filter row per group (mobilenet_v2's 3x3 layers left 63/64 of each block of the
// implicit GEMM idle); here each output is summed over its one channel's taps, and nothing else.
#pragma once

#include <cstdint>
#include <string>

#include "clnn/tensor.hpp"
#include "ops/conv_geometry.hpp"

namespace clnn::detail {

struct DepthwiseConv : ConvGeometry {
  // Whether the context runs this convolution's passes this way: one group per input channel,
  // padded extents and the output within the kernels' int indices, and ContextImpl::conv_route
  // asks for it or is automatic (on every device) with more than one group.
  bool serves() const;

  // y = epilogue(beta * y + conv(x, w) + bias) (bias may be null).
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, float beta,
               const Epilogue& epilogue) const;
  // How the forward pass runs: on GPUs a work-item per element (or a few); on CPUs a plane per
  // work-item where the plane kernel serves, over a padded copy for short lines it does not,
  // else a line per work-item.
  enum class ForwardForm { elements, planes, padded, lines };
  ForwardForm forward_form() const;
  // The forward pass in words, for Executor::schedule().
  std::string describe_forward() const;
  // gx = beta * gx + the input gradient from gy.
  void input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta) const;
  // gw = beta * gw + the weight gradient from x and gy.
  void weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw, float beta) const;

  // The weight gradient's work-items hold a sum per tap of a block of at most this many (3x3
  // filters in one block, 5x5 and 3x3x3 in two): registers, not local memory, hold them.
  static constexpr std::int64_t kMaxTapsPerItem = 16;
  // CPUs run the forward pass a plane per work-item (depthwise_forward_planes) where the plane's
  // private copy holds at most this many floats, at stride 2 kMaxStridedPlaneFloats (PoCL, 2-core
  // AVX-512 EPYC, batch 32, ms against the line kernel: 3x3 over 56x56 4.96-5.83 against
  // 11.2-16.0, over 112x112 4.7-8.3 against 8.2-8.5; at stride 2 from 56x56 3.1-6.3 against
  // 3.2-5.8, from 112x112 8.8-12.8 against 7.8-8.5).
  static constexpr std::int64_t kMaxPlaneFloats = 16384;
  static constexpr std::int64_t kMaxStridedPlaneFloats = 4096;
  // ... and where its filters have at most this many taps (7 x 7), whose loops it unrolls.
  static constexpr std::int64_t kMaxPlaneTaps = 49;
};

}  // namespace clnn::detail
