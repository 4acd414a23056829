// Internal: 3x3 and 5x5 convolutions by Winograd's F(4x4, 3x3) and F(2x2, 5x5)
// (cl_kernels/winograd.cl, ops/winograd_transform.hpp): filters and input tiles transformed into
// 36 matrices each, one batched GEMM, and the products transformed back into the output. 4x and
// 2.8x fewer multiplications than the implicit GEMM, for more memory traffic, which pays where
// channels and filters are many (64 or more on GPUs; on CPUs, 3x3 only, 32 channels, 64 filters
// and 32 tiles, or 16 where channels times filters is 8192 or more). 3-D convolutions with such
// planes (any filter depth) transform plane by plane and sum the depth taps in the product: a
// grouped implicit GEMM on GPUs, a batched GEMM per tap on CPUs (forward passes only; on CPUs the
// tiles of every output plane count).
#pragma once

#include <cstdint>
#include <string>

#include "clnn/tensor.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

struct WinogradConv : ConvGeometry {
  // Whether the context runs this convolution's forward pass, or its input gradient, this way:
  // a 2-D convolution (or, forward only, a 3-D one of such planes) with 3x3 or 5x5 filters, unit
  // strides and dilations and one group, and
  // ContextImpl::conv_route asks for it or, automatic, enough channels and filters (on CPUs 3x3
  // only, and enough tiles).
  bool serves_forward() const;
  bool serves_input_gradient() const;
  // The transform, as "F(4x4, 3x3)" (3-D: "F(4x4, 3x3) over 3 depth taps").
  std::string describe() const;

  // y = epilogue(beta * y + conv(x, w) + bias) (bias may be null), written where `placement`
  // says if it says; the transformed filters are read from `prepared` where given
  // (prepare_filters' result), else transformed first.
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, float beta,
               const Epilogue& epilogue, const Placement& placement,
               const Tensor* prepared = nullptr) const;
  // Floats of the forward pass's transformed filters (U), which prepare_filters writes.
  std::size_t prepared_filter_floats() const;
  void prepare_filters(const Tensor& w, const Tensor& prepared) const;
  // gx = beta * gx + the gradient of the input from gy: gy convolved with the filters turned by
  // 180 degrees, their channels and filters exchanged.
  void input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta) const;
};

}  // namespace clnn::detail
