// Internal: 1x1 convolutions (one tap, unit strides, no pads, one group) as plain products of each
// sample's [C, P] plane, CPUs' route for forward (and both gradients where the host BLAS pays):
// y[n] = w x[n] on the GEMM, with no column matrix and no reordering of the product. The column
// route copied x into columns and the product back into NCHW order around the same GEMM; the padded
// route ran 1x1 filters at a fraction of the BLAS's rate (mobilenet_v2's pointwise layers,
// PERFORMANCE.md "CPUs: pointwise convolutions").
#pragma once

#include "clnn/tensor.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/op.hpp"

namespace clnn::detail {

// y = epilogue(y + bias[k]) over the `filters` channels from `first` of y [samples, channels,
// positions] (bias may be null): for routes whose products leave the bias and epilogue out (this
// one; the column route on CPUs). `first` counts channels from y's start, so n0 * channels more
// starts at sample n0.
void add_channel_bias(ContextImpl& ctx, const Tensor& y, const Tensor* bias, std::int64_t samples,
                      std::int64_t filters, std::int64_t positions, const Epilogue& epilogue,
                      std::int64_t first = 0);

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
