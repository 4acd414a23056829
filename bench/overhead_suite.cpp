// The overhead suite (issue 18): a chain of small elementwise nodes, one kernel each, run by an
// inference executor. Host microseconds per launch: forward() returning, the queue not waited
// for; device microseconds per launch: the profiler's kernel time; wall microseconds per launch:
// forward() and the wait for its kernels. bench/compare/torch_overhead.py times the same chain in
// PyTorch eager.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "bench.hpp"
#include "cl/profiler.hpp"
#include "clnn/clnn.hpp"

namespace clnn::bench {

namespace {

constexpr int kNodes = 1000;
constexpr int kRuns = 11;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

std::vector<Record> overhead_suite(const Context& ctx, const Options& options) {
  const std::vector<std::int64_t> sizes = options.sizes.empty() ? std::vector<std::int64_t>{1024}
                                                                 : options.sizes;
  fmt::print("{} relu nodes in a chain, inference\n", kNodes);
  fmt::print("{:>10}  {:>14}  {:>16}  {:>14}\n", "n", "host us/launch", "device us/launch",
             "wall us/launch");
  std::vector<Record> records;
  for (std::int64_t n : sizes) {
    Graph g;
    Value y = g.input("x", {n});
    for (int i = 0; i < kNodes; ++i) y = relu(y);
    Executor ex(ctx, g, {y}, Mode::inference);
    ex.set_input("x", pseudo_random(std::size_t(n), 1));
    ex.forward();  // warm-up: builds the program
    ctx.finish();
    std::vector<double> host, wall;
    for (int r = 0; r < kRuns; ++r) {
      const auto start = std::chrono::steady_clock::now();
      ex.forward();
      const auto enqueued = std::chrono::steady_clock::now();
      ctx.finish();
      const auto done = std::chrono::steady_clock::now();
      host.push_back(std::chrono::duration<double>(enqueued - start).count());
      wall.push_back(std::chrono::duration<double>(done - start).count());
    }
    double device_ms = 0, launches = 0;
    {
      detail::ProfilingOn on;
      detail::take_profile();
      ex.forward();
      ctx.finish();
      for (const auto& row : detail::take_profile())
        device_ms += row.ms, launches += double(row.launches);
    }
    Record r;
    r["n"] = n;
    r["nodes"] = kNodes;
    r["launches"] = launches;
    r["host_us_per_launch"] = median(host) / kNodes * 1e6;
    r["device_us_per_launch"] = device_ms * 1e3 / std::max(launches, 1.0);
    r["wall_us_per_launch"] = median(wall) / kNodes * 1e6;
    fmt::print("{:>10}  {:>14.2f}  {:>16.2f}  {:>14.2f}\n", n,
               r["host_us_per_launch"].get<double>(), r["device_us_per_launch"].get<double>(),
               r["wall_us_per_launch"].get<double>());
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
