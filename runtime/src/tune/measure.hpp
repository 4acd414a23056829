// Internal: what the tuners measure: host wall-clock time of queued work, and how far a
// candidate's result is from the plan's.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "context_impl.hpp"

namespace clnn::detail {

// Median milliseconds of three runs of `run` after a warm-up, each waited for: wall clock around
// the queue, so everything a run enqueues counts (CLBlast may launch several kernels).
template <typename Run>
double wall_ms(ContextImpl& ctx, Run run) {
  run();
  check(clFinish(ctx.queue.get()), "clFinish");
  std::vector<double> times;
  for (int r = 0; r < 3; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    check(clFinish(ctx.queue.get()), "clFinish");
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  return times[1];
}

// The L2 norm of got - want relative to want's (NaN when either holds one): sums in another
// order round differently, so candidates are compared to the plan's result within a bound.
inline double relative_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) {
    diff += double(got[i] - want[i]) * double(got[i] - want[i]);
    norm += double(want[i]) * double(want[i]);
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

}  // namespace clnn::detail
