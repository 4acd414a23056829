// tune_matmul: candidates around the plan, each checked against the planned kernel's result and
// timed as gemm() runs it (split over K where it would be); the fastest goes into the tuning
// cache.
#include <random>

#include "clnn/error.hpp"
#include "clnn/tune.hpp"
#include "context_impl.hpp"
#include "ops/gemm.hpp"
#include "ops/gemm_host.hpp"
#include "tune/measure.hpp"

namespace clnn {

namespace {

using detail::GemmCall;

// Configurations of every kernel the device can run that fit it and can take the call; fast
// keeps square tiles and blocks, and the CPU kernel's native width.
std::vector<MatmulPlan> candidates(const LaunchPlanner& planner, const GemmCall& call, bool full) {
  const MatmulPlan planned = planner.matmul();
  std::vector<MatmulPlan> out;
  auto consider = [&](const MatmulPlan& p) {
    if (detail::gemm_plan_serves(planner, p, call)) out.push_back(p);
  };
  for (std::size_t tm : {16, 32, 64, 128})
    for (std::size_t tn : {16, 32, 64, 128})
      for (std::size_t tk : {8, 16, 32})
        for (std::size_t wm : {1, 2, 4, 8})
          for (std::size_t wn : {1, 2, 4, 8})
            if (full || (tm == tn && wm == wn))
              consider({planned.use_local_memory, tm, tn, tk, wm, wn});
  // Each device's own kind of fast kernel: vec4 where tiles are staged in local memory, the
  // vector-register kernel on CPUs.
  if (planned.use_local_memory) {
    for (std::size_t tm : {32, 64, 128, 256})
      for (std::size_t tn : {32, 64, 128, 256})
        for (std::size_t tk : {8, 16, 32})
          if (full || tk <= 16) consider({true, tm, tn, tk, 8, 8, MatmulKernel::vec4});
  } else {
    for (std::size_t wm : {2, 4, 6, 8, 12, 16})
      for (std::size_t wn : {4, 8, 16, 24, 32, 48, 64})
        for (std::size_t items : {1, 2, 4, 8})
          if (full || (wn == planned.work_n && wm % 4 == 0 && items >= 2)) {
            // A row of work-items sharing A, and a column of them sharing B's rows in steps of
            // k between barriers (LaunchPlanner::matmul's plan for single large products).
            consider({false, wm, wn * items, 1, wm, wn, MatmulKernel::cpu});
            consider({false, wm, wn * items, 1, wm, wn, MatmulKernel::cpu, 0, true});
            consider(
                {false, wm * items, wn, LaunchPlanner::kCpuColumnStep, wm, wn, MatmulKernel::cpu});
          }
  }
  return out;
}

// Wall-clock milliseconds of the call run with plan on backend, as gemm() would run it: a product
// that splits K with the plan is timed split (a weight gradient's blocks, timed in one launch
// over all of K, had taken 22 ms for 0.2 ms split, and a tuned small-tile plan that won there
// turned the split off).
double time_plan(detail::ContextImpl& ctx, const GemmCall& call, const MatmulPlan& plan,
                 detail::GemmBackend backend = detail::GemmBackend::own) {
  return detail::wall_ms(ctx, [&] { detail::gemm_as_chosen(ctx, call, {backend, plan}); });
}

}  // namespace

TuneResult tune_matmul(const Context& ctx, std::int64_t m, std::int64_t n, std::int64_t k,
                       bool transpose_a, bool transpose_b) {
  auto& impl = detail::Access::impl(ctx);
  return tune_matmul(ctx, m, n, k, transpose_a, transpose_b,
                     impl.tune_full ? TuneEffort::full : TuneEffort::fast);
}

TuneResult tune_matmul(const Context& ctx, std::int64_t m, std::int64_t n, std::int64_t k,
                       bool transpose_a, bool transpose_b, TuneEffort effort) {
  if (m <= 0 || n <= 0 || k <= 0) throw ShapeError("tune_matmul: sizes must be positive");
  return detail::tune_gemm_shape(ctx, {m, n, k, transpose_a, transpose_b}, effort);
}

namespace detail {

TuneResult tune_gemm_shape(const Context& ctx, const std::vector<std::int64_t>& shape,
                           TuneEffort effort) {
  auto& impl = Access::impl(ctx);
  GemmCall call = gemm_call_of_tuning_shape(shape);
  std::mt19937 rng(1);
  const auto m = std::int64_t(call.m), n = std::int64_t(call.n), k = std::int64_t(call.k);
  Tensor a = random_tensor(ctx, m * k, rng);
  Tensor b = random_tensor(ctx, std::int64_t(b_operand_floats(call)), rng);
  Tensor reference = Tensor::empty(ctx, {m * n}), out = Tensor::empty(ctx, {m * n});
  call.a = Access::mem(a), call.b = Access::mem(b);

  const MatmulPlan planned = gemm_planner_plan(impl, call);
  call.c = Access::mem(reference);
  TuneResult result;
  result.kernel = "gemm";
  result.shape = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                 (call.b_rows.taps ? " over tap rows" : "");
  result.planned_ms = result.best_ms = time_plan(impl, call, planned);
  result.best = planned.describe();
  MatmulPlan best = planned;
  const auto want = reference.to_host();
  call.c = Access::mem(out);
  for (const MatmulPlan& p : candidates(impl.planner, call, effort == TuneEffort::full)) {
    // A candidate wins only with the planned kernel's result (sums may round differently).
    if (candidate_wins(
            result, p.describe(), [&] { return time_plan(impl, call, p); },
            [&] { return relative_l2(out.to_host(), want) < 1e-5; }))
      best = p;
  }
  // Which backend serves this shape best: the tuned kernel, CLBlast or (CPU devices) the host
  // BLAS, timed alike. Only clnn's kernel reads tap rows.
  result.own_wall_ms = result.best_ms;
  std::string tiles = "own";
  if (!call.b_rows.taps) {
    result.clblast_wall_ms = time_plan(impl, call, best, GemmBackend::clblast);
    if (result.clblast_wall_ms < result.own_wall_ms) tiles = "clblast";
  }
  if (host_blas_serves(impl, call)) {
    result.blas_wall_ms = time_plan(impl, call, best, GemmBackend::blas);
    if (result.blas_wall_ms < std::min(result.own_wall_ms, result.clblast_wall_ms)) tiles = "blas";
  }
  result.backend = tiles;
  // A skinny product runs as a matrix-vector product whatever the tiles' winner (which serves it
  // where CLNN_GEMM forces a backend): timed alike for the report.
  if (choose_gemm_backend(impl, call) == GemmBackend::gemv) {
    result.gemv_wall_ms = time_plan(impl, call, best, GemmBackend::gemv);
    result.backend = "gemv";
  }
  if (impl.tuning)
    impl.tuning->store("gemm", gemm_tuning_shape(call),
                       {{"local", best.use_local_memory},
                        {"tile_m", best.tile_m},
                        {"tile_n", best.tile_n},
                        {"tile_k", best.tile_k},
                        {"work_m", best.work_m},
                        {"work_n", best.work_n},
                        {"kernel", to_string(best.kernel)},
                        {"columns_first", best.columns_first},
                        {"backend", tiles}},
                       result.best_ms);
  return result;
}

}  // namespace detail

}  // namespace clnn
