// Internal: the weight and input gradients of convolutions whose column matrices have few rows
// (cl_kernels/conv_direct.cl), read from x and gy where they lie: a network's first layer, whose
// column-route products are too thin for an efficient GEMM.
#pragma once

#include <cstdint>

#include "clnn/tensor.hpp"
#include "ops/conv_geometry.hpp"

namespace clnn::detail {

struct DirectConv : ConvGeometry {
  // Whether the context runs this convolution's gradients this way: one group, at most
  // kMaxRows column rows (channels x taps), tiles that fit local memory, work-groups (the
  // reduction plan's) of a tile's 32 columns at least, and ContextImpl::conv_route asks for it
  // or, automatic, a GPU.
  bool serves_gradients() const;

  // gx = beta * gx + the input gradient from gy.
  void input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta) const;
  // gw = beta * gw + the weight gradient from x and gy.
  void weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw, float beta) const;

  static constexpr std::int64_t kMaxRows = 64;
};

}  // namespace clnn::detail
