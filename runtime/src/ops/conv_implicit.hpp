// Internal: convolution as an implicit GEMM, matmul_vec4.cl built with CONV_GATHER: the kernel
// reads its operand straight from the input, so no column matrix is written or read, and writes
// the output in NCDHW order with the bias added.
#pragma once

#include <cstdint>

#include "clnn/tensor.hpp"
#include "context_impl.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

// y = conv(x, w) over `win`, with `filters` filters in `groups` groups.
struct ImplicitConv {
  ContextImpl& ctx;
  Window win;
  std::int64_t filters = 1, groups = 1;

  // Whether the context runs this convolution's forward pass this way: ContextImpl::conv_route
  // asks for it or, automatic, the GPU's column route would be slower; and 32-bit indices
  // suffice.
  bool serves_forward() const;
  // The same for the input gradient, which needs unit strides as well (and, automatic, 32 input
  // channels per group).
  bool serves_input_gradient() const;

  // y = beta * y + conv(x, w) + bias (bias may be null).
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
               float beta) const;
  // gx = beta * gx + the gradient of the input from gy: the convolution of gy with the filters
  // flipped (into ContextImpl::scratch). forward, too, rearranges the filters there.
  void input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta) const;

 private:
  // The input gradient's convolution: gy as the input, unit strides, the padding that maps it
  // back onto x's extents.
  Window input_gradient_window() const;
};

}  // namespace clnn::detail
