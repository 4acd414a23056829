// Internal: launches that several op families share (scaled copies, reductions, broadcasts).
#pragma once

#include <cstddef>

#include "cl_api.hpp"
#include "clnn/tensor.hpp"

namespace clnn::detail {

struct ContextImpl;

cl_mem mem(const Tensor& t);
// Element count as the kernels take it.
cl_ulong count(const Tensor& t);

// y = a * x + beta * y over n elements (beta 0 does not read y).
void axpby(ContextImpl& ctx, float a, const Tensor& x, float beta, const Tensor& y, std::size_t n);

// gx = beta * gx + s * gy * (other ? other[i % other_n] : 1) over gy's elements.
void scaled_product(ContextImpl& ctx, const Tensor& gy, const Tensor* other, std::size_t other_n,
                    const Tensor& gx, float s, float beta);

// Views of a buffer as [outer, r, inner].
struct MiddleAxis {
  std::size_t outer, r, inner;
};

// y[o, k] = beta * y[o, k] + s * sum_j x[o, j, k] * (w ? w[o, j, k] : 1); x and w are read
// from element x_offset on.
void reduce_middle(ContextImpl& ctx, const Tensor& x, const Tensor* w, const Tensor& y,
                   MiddleAxis view, float s, float beta, std::size_t x_offset = 0);

// gx[o, j, k] = beta * gx[o, j, k] + s * gy[o, k]
void broadcast_middle(ContextImpl& ctx, const Tensor& gy, const Tensor& gx, MiddleAxis view,
                      float s, float beta);

}  // namespace clnn::detail
