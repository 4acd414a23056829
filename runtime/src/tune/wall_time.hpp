// Internal: host wall-clock timing of queued work, for the tuners.
#pragma once

#include <algorithm>
#include <chrono>
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

}  // namespace clnn::detail
