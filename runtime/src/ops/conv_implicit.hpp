// Internal: convolution as an implicit GEMM, matmul_vec4.cl built with CONV_GATHER: the kernel
// reads its operand straight from the input, so no column matrix is written or read, and writes
// the output in NCDHW order with the bias added.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "clnn/ops.hpp"
#include "clnn/tensor.hpp"
#include "clnn/tune.hpp"
#include "context_impl.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/op.hpp"
#include "ops/spatial.hpp"

namespace clnn::detail {

// One launch of the implicit GEMM: the convolution over win of `filters` filters in `groups`
// groups (a forward pass, or the convolution of gy that gives an input gradient).
struct ImplicitLaunch {
  Window win;
  std::int64_t filters = 1, groups = 1;
};

// How a launch runs: its block, and the slices of K it sums into copies of y (split-K).
struct ImplicitConfig {
  MatmulPlan plan;
  std::int64_t slices = 1;

  std::string describe() const;
};

// The planner's configuration for a launch the kernel can run.
ImplicitConfig planned_config(const ContextImpl& ctx, const ImplicitLaunch& l);
// The configuration a launch runs with: the tuning cache's for the nearest shape (key "conv")
// where it fits the device, else the planner's.
ImplicitConfig chosen_config(const ContextImpl& ctx, const ImplicitLaunch& l);
// A launch's shape in the tuning cache: filters and channels per group, columns, rows.
std::vector<std::int64_t> implicit_tuning_shape(const ImplicitLaunch& l);
// Whether the kernel runs a launch on this device (its extents within int, a block that fits).
bool implicit_runs(const ContextImpl& ctx, const ImplicitLaunch& l);
// An operand of run_implicit: a buffer and the element it starts at.
struct Operand {
  cl_mem mem = nullptr;
  std::size_t offset = 0;
};
// y = conv(x, w) for a launch the kernel runs, run with `config`, where w already holds the
// filters in the kernel's tap-major order (the tuner times configurations so; the Winograd route
// runs its 3-D products so). A split configuration sums its slices in ContextImpl::scratch: the
// operands must lie elsewhere then.
void run_implicit(ContextImpl& ctx, const ImplicitLaunch& l, const ImplicitConfig& config,
                  const Operand& x, const Operand& w, const Operand& y);
// Writes w (filters x channels x taps per group) from element 0 into `out` from element
// `offset` on in the kernel's tap-major order (conv.cl's tap_major_filters); flipped, with
// channels and filters exchanged, for the input gradient.
void arrange_filters(ContextImpl& ctx, cl_mem w, cl_mem out, std::size_t offset,
                     std::int64_t filters, std::int64_t channels, std::int64_t taps,
                     std::int64_t groups, bool flip);

// y = conv(x, w) as implicit GEMMs.
struct ImplicitConv : ConvGeometry {
  // Whether the context runs this convolution's forward pass this way: ContextImpl::conv_route
  // asks for it or, automatic, the GPU's column route would be slower; and 32-bit indices
  // suffice.
  bool serves_forward() const;
  // The same for the input gradient, which needs unit strides as well (and, automatic, 32 input
  // channels per group).
  bool serves_input_gradient() const;

  // y = epilogue(beta * y + conv(x, w) + bias) (bias may be null), written where `placement`
  // says if it says (straight from the kernel where it can, else copied from y). The filters
  // are read from `prepared` where given (prepare_filters' order), else rearranged first.
  void forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y, float beta,
               const Epilogue& epilogue, const Placement& placement = {},
               const Tensor* prepared = nullptr) const;
  // Floats of the filters in the kernel's tap-major order, 0 where that is the stored order (one
  // tap, or one channel per group); prepare_filters writes them into `prepared`.
  std::size_t prepared_filter_floats() const;
  void prepare_filters(const Tensor& w, const Tensor& prepared) const;
  // gx = beta * gx + the gradient of the input from gy: the convolution of gy with the filters
  // flipped (into ContextImpl::scratch). forward, too, rearranges the filters there.
  void input_gradient(const Tensor& gy, const Tensor& w, const Tensor& gx, float beta) const;

  // The launches of the two passes (each noted in the active TuningNotes when it runs).
  ImplicitLaunch forward_launch() const { return {win, filters, groups}; }
  ImplicitLaunch input_gradient_launch() const { return {input_gradient_window(), win.c, groups}; }

 private:
  // The input gradient's convolution: gy as the input, unit strides, the padding that maps it
  // back onto x's extents.
  Window input_gradient_window() const;
};

// Times configurations of a launch around its plan, checks each against the plan's result, and
// stores the fastest in the tuning cache (tune/conv_tuner.cpp).
TuneResult tune_implicit_conv(const Context& ctx, const ImplicitLaunch& l, TuneEffort effort);

// The implicit GEMM of conv(x, w) with these options (shapes already checked; ops/conv.cpp).
ImplicitConv implicit_conv_for(ContextImpl& ctx, const Shape& x, const Shape& w,
                               const ConvOptions& options);

}  // namespace clnn::detail
