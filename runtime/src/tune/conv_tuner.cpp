// tune_conv: configurations of the implicit-GEMM convolution (block, k-step and slices of K)
// around the planned one, each checked against the planned configuration's result; the fastest
// goes into the tuning cache under "conv", which later launches of a shape near it use.
#include <random>

#include "clnn/error.hpp"
#include "clnn/graph.hpp"
#include "clnn/tune.hpp"
#include "context_impl.hpp"
#include "ops/conv_implicit.hpp"
#include "ops/conv_winograd.hpp"
#include "tune/measure.hpp"

namespace clnn {

namespace detail {

TuneResult tune_implicit_conv(const Context& ctx, const ImplicitLaunch& l, TuneEffort effort) {
  auto& impl = Access::impl(ctx);
  std::mt19937 rng(1);
  const std::int64_t channels = l.win.c / l.groups, taps = l.win.kernel_positions();
  Tensor x = random_tensor(ctx, l.win.n * l.win.c * l.win.in_positions(), rng);
  Tensor w = random_tensor(ctx, l.filters * channels * taps, rng);  // any order serves for timing
  const std::int64_t outputs = l.win.n * l.filters * l.win.out_positions();
  Tensor reference = Tensor::empty(ctx, {outputs}), out = Tensor::empty(ctx, {outputs});
  const cl_mem x_mem = Access::mem(x), w_mem = Access::mem(w);
  auto run = [&](const ImplicitConfig& c, const Tensor& y) {
    return [&impl, &l, c, x_mem, w_mem, y_mem = Access::mem(y)] {
      run_implicit(impl, l, c, {x_mem}, {w_mem}, {y_mem});
    };
  };

  const ImplicitConfig planned = planned_config(impl, l);
  TuneResult result;
  result.kernel = "conv";
  result.backend = "own";
  result.planned_ms = result.best_ms = wall_ms(impl, run(planned, reference));
  result.best = planned.describe();
  ImplicitConfig best = planned;
  const auto want = reference.to_host();
  // Blocks of 32 to 128 filters (none mostly outside them) by 64 to 256 columns, k-steps of 8
  // and 16, and slices of K.
  const std::int64_t rows = channels * taps, m = l.filters / l.groups;
  const bool full = effort == TuneEffort::full;
  const std::vector<std::int64_t> slice_counts =
      full ? std::vector<std::int64_t>{1, 2, 3, 4, 6, 8} : std::vector<std::int64_t>{1, 2, 4};
  for (std::size_t tile_m : {32, 64, 128})
    for (std::size_t tile_n : {64, 128, 256})
      for (std::size_t tile_k : {8, 16}) {
        const MatmulPlan plan{true, tile_m, tile_n, tile_k, 8, 8, MatmulKernel::vec4};
        if ((tile_m > 32 && std::int64_t(tile_m) >= 2 * m) || !impl.planner.fits(plan)) continue;
        for (std::int64_t slices : slice_counts) {
          if (slices > 1 && rows / slices < std::int64_t(tile_k)) continue;
          const ImplicitConfig c{plan, slices};
          if (c.describe() == planned.describe()) continue;
          // Slices sum in another order: a candidate must match the plan's result closely.
          if (candidate_wins(
                  result, c.describe(), [&] { return wall_ms(impl, run(c, out)); },
                  [&] { return relative_l2(out.to_host(), want) < 1e-5; }))
            best = c;
        }
      }
  result.own_wall_ms = result.best_ms;
  if (impl.tuning)
    impl.tuning->store("conv", implicit_tuning_shape(l),
                       {{"tile_m", best.plan.tile_m},
                        {"tile_n", best.plan.tile_n},
                        {"tile_k", best.plan.tile_k},
                        {"slices", best.slices}},
                       result.best_ms);
  return result;
}

}  // namespace detail

std::vector<TuneResult> tune_conv(const Context& ctx, const Shape& x, const Shape& w,
                                  const ConvOptions& options, TuneEffort effort) {
  {  // The shapes go through conv's own checks first.
    Graph g;
    conv(g.input("x", x), g.input("w", w), std::nullopt, options);
  }
  const detail::ImplicitConv c =
      detail::implicit_conv_for(detail::Access::impl(ctx), x, w, options);
  // Passes that Winograd's transforms take run no implicit GEMM to tune.
  const detail::WinogradConv winograd{c};
  std::vector<TuneResult> results;
  if (c.serves_forward() && !winograd.serves_forward())
    results.push_back(detail::tune_implicit_conv(ctx, c.forward_launch(), effort));
  if (c.serves_input_gradient() && !winograd.serves_input_gradient())
    results.push_back(detail::tune_implicit_conv(ctx, c.input_gradient_launch(), effort));
  return results;
}

}  // namespace clnn
