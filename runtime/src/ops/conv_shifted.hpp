// Internal: a convolution's weight gradient as one GEMM whose column matrix is never built: x is
// copied once into zero-padded blocks, and each row of the column matrix is that copy shifted by
// a tap (cl_kernels/matmul_vec4.cl with TAP_ROWS). Unit strides only.
#pragma once

#include <cstddef>

#include "clnn/tensor.hpp"
#include "ops/conv_geometry.hpp"

namespace clnn::detail {

struct ShiftedConv : ConvGeometry {
  // Whether the context runs this convolution's weight gradient this way: one group, unit
  // strides, filters and column rows (channels x taps) in float4s, padded copies that fit
  // `workspace_floats`, and ContextImpl::conv_route asks for it or, automatic, a GPU where the
  // padding adds little work (kMaxPaddedShare).
  bool serves_weight_gradient(std::size_t workspace_floats) const;

  // gw = beta_w * gw + the weight gradient from x and gy, and gb = beta_b * gb + the bias
  // gradient where gb is given; the padded copies go to the workspace.
  void weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw, const Tensor* gb,
                       float beta_w, float beta_b, const Tensor& workspace) const;

  // The most positions the GEMM may run over per output position (the rest is padding). The
  // bench's 14x14 layers take 1.07 (3x3) and 1.14 (5x5), the 56x56 one 1.02, the 3-D one 1.06.
  static constexpr double kMaxPaddedShare = 1.5;
};

}  // namespace clnn::detail
