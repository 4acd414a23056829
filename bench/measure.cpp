// Measurements shared by the suites: the median time of an operation, the copy bandwidth.
#include <algorithm>
#include <chrono>

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

double copy_gbps(const Context& ctx, const Tensor& x, Tensor& y) {
  const double seconds = median_seconds(ctx, [&] { copy(x, y); });
  return 2.0 * double(x.size()) * sizeof(float) / seconds * 1e-9;  // read x, write y
}

}  // namespace clnn::bench
