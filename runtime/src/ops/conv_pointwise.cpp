// 1x1 convolutions as products of each sample's plane (ops/conv_pointwise.hpp).
#include "ops/conv_pointwise.hpp"

#include "cl/kernel_call.hpp"
#include "ops/common.hpp"
#include "ops/gemm.hpp"
#include "ops/gemm_host.hpp"

namespace clnn::detail {

namespace {

// The products of every sample at once: op(A) [m, k] shared, B and C one plane per sample.
GemmCall per_sample(const Window& win, std::size_t m, std::size_t k, cl_mem b, cl_mem c) {
  const auto positions = std::size_t(win.in_positions());
  GemmCall g;
  g.m = m, g.n = positions, g.k = k, g.batch = std::size_t(win.n);
  g.b = b, g.ldb = positions, g.stride_b = k * positions;
  g.c = c, g.ldc = positions, g.stride_c = m * positions;
  return g;
}

// y = epilogue(y + bias[k]) over the `filters` channels from `first` of y (gemm_into_channels'
// pass where the product left them out).
void add_channel_bias(ContextImpl& ctx, const Tensor& y, const Tensor* bias, std::int64_t samples,
                      std::int64_t filters, std::int64_t positions, const Epilogue& epilogue,
                      std::int64_t first) {
  if (!bias && !epilogue.on) return;
  // A line of positions per work-item: no index arithmetic per element on CPUs.
  cl_kernel k = ctx.kernel("conv", "channel_bias_rows", epilogue_options(epilogue));
  const auto rows = cl_long(samples * filters);
  set_args(k, mem(y), mem(bias ? *bias : y), cl_int(bias != nullptr), cl_int(filters),
           cl_int(y.shape()[1]), cl_int(first), cl_long(positions), rows);
  ctx.enqueue_elementwise(k, std::size_t(rows));
}

}  // namespace

void gemm_into_channels(ContextImpl& ctx, GemmCall g, const Tensor& y, const Tensor* bias,
                        const Epilogue& epilogue, std::int64_t first) {
  g.row_bias = bias ? mem(*bias) : nullptr;
  g.finish = epilogue;
  if (!gemm_finishing_rows(ctx, g))
    add_channel_bias(ctx, y, bias, std::int64_t(g.batch), std::int64_t(g.m), std::int64_t(g.n),
                     epilogue, first);
}

bool PointwiseConv::one_by_one() const {
  for (std::size_t d = 0; d < 3; ++d)
    if (win.kernel[d] != 1 || win.stride[d] != 1 || win.pad_begin[d] != 0 || win.pad_end[d] != 0)
      return false;
  return groups == 1;
}

bool PointwiseConv::serves_forward() const {
  // On every CPU: without the host BLAS, clnn's gemm_cpu ran ResNet-50's 1 x 1 layers at batch 32
  // 1.6x to 3.6x as fast as the padded route (2-core AVX-512 Xeon, OPENBLAS_CORETYPE=Prescott:
  // C256 56x56 K64 33.7 ms against 61.1, C64 56x56 K256 11.2 against 40.9, C1024 14x14 K256
  // 11.5 against 26.9, C512 7x7 K2048 18.3 against 37.6).
  return one_by_one() && takes(ConvRoute::pointwise, false, true);
}

bool PointwiseConv::serves_gradients() const {
  // Where the host BLAS pays: the gradients' transposed products on gemm_cpu lost to the padded
  // route on three of those four layers (forward and backward 118, 174, 117 and 220 ms against
  // 257, 289, 101 and 153 with both passes padded).
  return one_by_one() && takes(ConvRoute::pointwise, false, host_blas_pays(ctx));
}

void PointwiseConv::forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                            float beta, const Epilogue& epilogue,
                            const Placement& placement) const {
  // Into the concat's channels where a placement is given: each sample's product lands in its
  // slice (squeezenet1_1's concats had cost a quarter of its step on 16 cores as copies).
  const Tensor& out = placement.into ? *placement.into : y;
  const auto first = placement.into ? placement.channel : 0;
  const auto positions = std::size_t(win.in_positions());
  GemmCall g = per_sample(win, std::size_t(filters), std::size_t(win.c), mem(x), mem(out));
  g.offset_c = std::size_t(first) * positions;
  g.stride_c = std::size_t(out.shape()[1]) * positions;
  g.a = mem(w), g.lda = std::size_t(win.c);
  g.beta = beta;
  // The bias and activation in the product's own kernel where it takes them (gemm_cpu): at
  // batch 1 mobilenet_v2's bias passes had taken a tenth of its step on PoCL, 0.25 ms for one
  // layer's 112 x 112 x 96 outputs.
  gemm_into_channels(ctx, g, out, bias, epilogue, first);
}

void PointwiseConv::input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                   float beta) const {
  GemmCall g = per_sample(win, std::size_t(win.c), std::size_t(filters), mem(gy), mem(gx));
  g.trans_a = true;
  g.a = mem(w), g.lda = std::size_t(win.c);
  g.beta = beta;
  gemm(ctx, g);
}

void PointwiseConv::weight_gradient(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                    float beta) const {
  // gw [K, C] += gy[n] [K, P] x[n]^T, one product per sample summed into gw (the samples' planes
  // are not one matrix): on the host BLAS each is a full-rate product over P.
  const auto positions = std::size_t(win.in_positions());
  GemmCall g;
  g.trans_b = true;
  g.m = std::size_t(filters), g.n = std::size_t(win.c), g.k = positions;
  g.a = mem(gy), g.lda = positions;
  g.b = mem(x), g.ldb = positions;
  g.c = mem(gw), g.ldc = std::size_t(win.c);
  for (std::int64_t n = 0; n < win.n; ++n) {
    g.offset_a = std::size_t(n * filters) * positions;
    g.offset_b = std::size_t(n * win.c) * positions;
    g.beta = n == 0 ? beta : 1.0f;
    gemm(ctx, g);
  }
}

}  // namespace clnn::detail
