// Internal: what the tuners measure: host wall-clock time of queued work on random operands, and
// how far a candidate's result is from the plan's.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "clnn/error.hpp"
#include "clnn/tune.hpp"
#include "context_impl.hpp"

namespace clnn::detail {

// Median milliseconds of three timings of `run` after a warm-up, each waited for: wall clock
// around the queue, so everything a run enqueues counts (CLBlast may launch several kernels).
// Short work is repeated within a timing to last about 10 ms, so that the wait for the queue
// does not swamp it.
template <typename Run>
double wall_ms(ContextImpl& ctx, Run run) {
  using Clock = std::chrono::steady_clock;
  auto finish = [&] { check(clFinish(ctx.queue.get()), "clFinish"); };
  auto start = Clock::now();
  run();
  finish();
  const double once = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const int repeat = std::clamp(int(10.0 / std::max(once, 1e-3)), 1, 1000);
  std::vector<double> times;
  for (int r = 0; r < 3; ++r) {
    start = Clock::now();
    for (int i = 0; i < repeat; ++i) run();
    finish();
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() /
                    repeat);
  }
  std::sort(times.begin(), times.end());
  return times[1];
}

// Host timings are noisy: a candidate timed so must beat the plan by 3% to replace it.
inline constexpr double kHostTimingMargin = 0.97;

// Counts a candidate in result and times it with `time`. Where the driver ran it and `matches`
// then finds its result the plan's, its time is listed in result.timings as `name`; else it is
// counted as rejected. True where it also beats the best so far and, by kHostTimingMargin, the
// plan: then result.best_ms and result.best are its, and the caller keeps its configuration.
template <typename Time, typename Matches>
bool candidate_wins(TuneResult& result, const std::string& name, Time time, Matches matches) {
  ++result.candidates;
  double ms = 0;
  try {
    ms = time();
  } catch (const Error&) {  // the driver refused it (registers, local memory): not a winner
    ++result.rejected;
    return false;
  }
  if (!matches()) {
    ++result.rejected;
    return false;
  }
  result.timings.emplace_back(name, ms);
  if (ms >= result.best_ms || ms >= kHostTimingMargin * result.planned_ms) return false;
  result.best_ms = ms;
  result.best = name;
  return true;
}

// count floats uniform in [-1, 1] on ctx's device, from rng: the tuners' operands.
inline Tensor random_tensor(const Context& ctx, std::int64_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (auto& x : v) x = uniform(rng);
  return Tensor::from_host(ctx, {count}, v);
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
