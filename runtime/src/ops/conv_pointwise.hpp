// Internal: 1x1 convolutions (one tap, unit strides, no pads, one group) as plain products of each
// sample's [C, P] plane, CPUs' route for forward (and both gradients where the host BLAS pays):
// y[n] = w x[n] on the GEMM, with no column matrix and no reordering of the product. The column
// route copied x into columns and the product back into NCHW order around the same GEMM; the padded
// route ran 1x1 filters at a fraction of the BLAS's rate (mobilenet_v2's pointwise layers,
// PERFORMANCE.md "CPUs: pointwise convolutions").
#pragma once

#include "clnn/tensor.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/gemm.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

// Runs g, a convolution's products of each sample's plane (g.batch samples of g.m filters by
// g.n positions) into y [samples, channels, positions] from channel `first`, and finishes them:
// y = epilogue(product + bias[k]) (bias may be null), in gemm_cpu's stores where it takes them,
// else in one pass after the product. For this route and the column route on CPUs. `first`
// counts channels from y's start, so n0 * channels more starts at sample n0.
void gemm_into_channels(ContextImpl& ctx, GemmCall g, const Tensor& y, const Tensor* bias,
                        const Epilogue& epilogue, std::int64_t first);

struct PointwiseConv : ConvGeometry {
  // Whether the passes take this route: a 1x1 convolution of one group with unit strides and no
  // pads, and ContextImpl::conv_route asks for it or is automatic on a CPU, where for the
  // gradients the host BLAS must pay too (host_blas_pays).
  bool serves_forward() const;
  bool serves_gradients() const;

  // y = epilogue(beta * y + conv(x, w) + bias) (bias may be null), written in placement's
  // channels instead of y where it gives them.
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, float beta,
               const Epilogue& epilogue, const Placement& placement = {}) const;
  // gx = beta * gx + w^T gy, sample by sample.
  void input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta) const;
  // gw = beta * gw + sum over samples of gy[n] x[n]^T.
  void weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw, float beta) const;

 private:
  bool one_by_one() const;
};

}  // namespace clnn::detail
