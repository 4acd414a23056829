// Internal: permuting copies (transpose and its gradient; cl_kernels/transpose.cl).
#pragma once

#include <cstdint>
#include <vector>

#include "clnn/tensor.hpp"

namespace clnn::detail {

struct ContextImpl;

// y (of shape out_dims, up to 8 dimensions) = beta * y + x read through in_strides, one per
// output dimension (beta 0 does not read y).
void permute(ContextImpl& ctx, const Tensor& x, const Tensor& y, const Shape& out_dims,
             const std::vector<std::int64_t>& in_strides, float beta);

}  // namespace clnn::detail
