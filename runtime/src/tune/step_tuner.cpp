// tune_executor: every matmul product and implicit convolution of a training step (as its
// schedule noted them), then the elementwise and reduction launch plans, timed over whole forward
// and backward passes so that every kernel family that launches through them (activations,
// losses, convolution helpers, pooling, normalization, optimizers' elementwise steps, their
// backward kernels) counts.
#include <algorithm>
#include <string>

#include "clnn/error.hpp"
#include "clnn/tune.hpp"
#include "context_impl.hpp"
#include "ops/conv_implicit.hpp"
#include "ops/gemm.hpp"
#include "tune/measure.hpp"
#include "tune/tuning_notes.hpp"

namespace clnn {

namespace {

// The loss and every parameter's gradient after one pass, flattened: what a candidate plan must
// reproduce.
std::vector<float> step_results(Executor& ex, const Value& loss) {
  std::vector<float> out = ex.value(loss).to_host();
  for (const Value& p : ex.parameters()) {
    const auto g = ex.gradient(p).to_host();
    out.insert(out.end(), g.begin(), g.end());
  }
  return out;
}

// Whether got matches want to 1e-4 relative (L2): whole passes sum more terms than one product.
bool same_results(const std::vector<float>& got, const std::vector<float>& want) {
  return got.size() == want.size() && detail::relative_l2(got, want) < 1e-4;
}

// Times `candidates` of one plan kind over whole passes, each installed with `install`; keeps
// the fastest whose results match the plan in force before.
template <typename Plan, typename Install, typename Describe>
TuneResult tune_plan(Executor& ex, const Value& loss, const std::string& kernel, Plan planned,
                     const std::vector<Plan>& candidates, Install install, Describe describe) {
  auto& impl = detail::Access::impl(ex.context());
  const std::uint64_t step = ex.step();
  auto pass = [&] {
    ex.set_step(step);  // the same dropout masks in every pass
    ex.forward();
    ex.backward(loss);
  };
  TuneResult result;
  result.kernel = kernel;
  result.backend = "own";
  install(planned);
  result.planned_ms = result.best_ms = detail::wall_ms(impl, pass);
  result.best = describe(planned);
  const auto want = step_results(ex, loss);
  Plan best = planned;
  for (const Plan& p : candidates) {
    install(p);
    if (detail::candidate_wins(
            result, describe(p), [&] { return detail::wall_ms(impl, pass); },
            [&] { return same_results(step_results(ex, loss), want); }))
      best = p;
  }
  install(best);
  ex.set_step(step);
  if (impl.tuning)
    impl.tuning->store(kernel, {},
                       {{"local_size", best.local_size}, {"max_groups", best.max_groups}},
                       result.best_ms);
  return result;
}

std::string describe_launch(std::size_t local, std::size_t groups) {
  return "work-group " + std::to_string(local) + ", up to " + std::to_string(groups) + " groups";
}

// Sizes around the planned one: powers of two from half to twice it (fast) or wider (full).
std::vector<std::size_t> around(std::size_t planned, bool full) {
  std::vector<std::size_t> out;
  for (double f : {1.0 / 4, 1.0 / 2, 1.0, 2.0, 4.0})
    if (full || (f >= 0.5 && f <= 2.0))
      out.push_back(std::max<std::size_t>(1, std::size_t(double(planned) * f)));
  return out;
}

}  // namespace

std::vector<TuneResult> tune_executor(Executor& executor, const Value& loss, TuneEffort effort) {
  auto& impl = detail::Access::impl(executor.context());
  // One step, so that every pass of the schedule has run (or been recorded) and noted what it
  // asks of the tuning cache.
  executor.forward();
  executor.backward(loss);
  detail::TuningNotes notes = detail::schedule_tuning_notes(executor);
  std::vector<std::vector<std::int64_t>>& shapes = notes.products;
  const std::vector<detail::ImplicitLaunch>& convolutions = notes.convolutions;
  std::sort(shapes.begin(), shapes.end());
  shapes.erase(std::unique(shapes.begin(), shapes.end()), shapes.end());
  std::vector<TuneResult> results;
  for (const auto& s : shapes)
    results.push_back(detail::tune_gemm_shape(executor.context(), s, effort));
  std::vector<std::vector<std::int64_t>> tuned;  // one launch per tuning shape
  for (const detail::ImplicitLaunch& l : convolutions) {
    const auto shape = detail::implicit_tuning_shape(l);
    if (std::find(tuned.begin(), tuned.end(), shape) != tuned.end()) continue;
    tuned.push_back(shape);
    results.push_back(detail::tune_implicit_conv(executor.context(), l, effort));
  }

  // With the products tuned, the one-dimensional plans: around the planner's, each checked.
  const bool full = effort == TuneEffort::full;
  const LaunchPlanner& planner = impl.planner;
  const ElementwisePlan e_planned = planner.elementwise();
  std::vector<ElementwisePlan> e_candidates;
  for (std::size_t local : around(e_planned.local_size, full))
    for (std::size_t groups : around(e_planned.max_groups, full)) {
      const ElementwisePlan p{local, groups};
      if (planner.fits(p) && (local != e_planned.local_size || groups != e_planned.max_groups))
        e_candidates.push_back(p);
    }
  results.push_back(tune_plan(
      executor, loss, detail::kElementwiseTuningKey, e_planned, e_candidates,
      [&](const ElementwisePlan& p) { impl.elementwise_plan = p; },
      [](const ElementwisePlan& p) { return describe_launch(p.local_size, p.max_groups); }));

  const ReductionPlan r_planned = planner.reduction();
  std::vector<ReductionPlan> r_candidates;
  for (std::size_t local : around(r_planned.local_size, full)) {
    ReductionPlan p = r_planned;
    p.local_size = local;
    if (planner.fits(p) && local != r_planned.local_size) r_candidates.push_back(p);
  }
  results.push_back(tune_plan(
      executor, loss, detail::kReductionTuningKey, r_planned, r_candidates,
      [&](const ReductionPlan& p) { impl.reduction_plan = p; },
      [](const ReductionPlan& p) { return describe_launch(p.local_size, p.max_groups); }));
  return results;
}

}  // namespace clnn
