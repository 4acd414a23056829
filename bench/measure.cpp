// Measurements shared by the suites: the median time of an operation, the copy bandwidth,
// pseudo-random inputs and how far two results differ.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "bench.hpp"
#include "clnn/clnn.hpp"

namespace clnn::bench {

double median_seconds(const Context& ctx, const std::function<void()>& enqueue, int runs) {
  enqueue();  // warm-up: builds programs, touches memory
  ctx.finish();
  // Enough calls per run that one run takes about 50 ms.
  auto start = std::chrono::steady_clock::now();
  enqueue();
  ctx.finish();
  double once = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int repeat = std::clamp(int(0.05 / std::max(once, 1e-7)), 1, 1000);
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < repeat; ++i) enqueue();
    ctx.finish();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeat);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

double copy_gbps(const Context& ctx, std::int64_t n) {
  Tensor x = Tensor::zeros(ctx, {n}), y = Tensor::zeros(ctx, {n});
  return 2.0 * double(n) * sizeof(float) / median_seconds(ctx, [&] { copy(x, y); }) * 1e-9;
}

std::vector<float> pseudo_random(std::size_t n, std::uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = float(seed >> 8) / float(1 << 24) - 0.5f;
  }
  return v;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    diff += double(a[i] - b[i]) * double(a[i] - b[i]);
    norm += double(b[i]) * double(b[i]);
  }
  return std::sqrt(diff / norm);
}

}  // namespace clnn::bench
