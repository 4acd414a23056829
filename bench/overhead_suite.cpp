// The overhead suite (issue 18): a chain of small elementwise nodes, one kernel each, run by an
// inference executor. Host microseconds per launch: forward() returning, the queue not waited
// for; device microseconds per launch: the profiler's kernel time; wall microseconds per launch:
// forward() and the wait for its kernels. Beside them, the driver's floor: clEnqueueNDRangeKernel
// alone on a trivial kernel whose arguments were set once, nothing of clnn's on the path, and
// that kernel's wall time a launch by its work-groups.
// bench/compare/torch_overhead.py times the same chain in PyTorch eager.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "clnn/clnn.hpp"
#include "clnn/interop.hpp"
#include "step_profile.hpp"

namespace clnn::bench {

namespace {

constexpr int kNodes = 1000;
constexpr int kRuns = 11;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A one-line kernel over n floats with its arguments set once, nothing of clnn's on its path.
class TrivialKernel {
 public:
  TrivialKernel(const Context& ctx, std::int64_t n)
      : x_(Tensor::zeros(ctx, {n})),
        kernel_(ctx,
                "__kernel void halve(__global float* x, const ulong n) {\n"
                "  const ulong i = get_global_id(0);\n"
                "  if (i < n) x[i] *= 0.5f;\n"
                "}\n",
                "halve") {
    kernel_.set_arg(0, native_buffer(x_));
    kernel_.set_arg(1, cl_ulong(n));
  }

  std::size_t most_local() const { return kernel_.most_local(); }

  // Median seconds of kNodes launches over `global` items in groups of `local`, to the return
  // of the last enqueue (host) and to the queue's end (wall).
  std::pair<double, double> time(const Context& ctx, std::size_t global, std::size_t local) {
    cl_command_queue queue = native_queue(ctx);
    std::vector<double> host, wall;
    for (int r = 0; r <= kRuns; ++r) {  // the first run warms up
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kNodes; ++i)
        check_cl(clEnqueueNDRangeKernel(queue, kernel_.get(), 1, nullptr, &global, &local, 0,
                                        nullptr, nullptr),
                 "clEnqueueNDRangeKernel");
      const auto enqueued = std::chrono::steady_clock::now();
      ctx.finish();
      const auto done = std::chrono::steady_clock::now();
      if (r == 0) continue;
      host.push_back(std::chrono::duration<double>(enqueued - start).count());
      wall.push_back(std::chrono::duration<double>(done - start).count());
    }
    return {median(host), median(wall)};
  }

 private:
  Tensor x_;
  RawKernel kernel_;
};

// Host microseconds per clEnqueueNDRangeKernel of the trivial kernel over n floats in groups of
// 256: what the driver takes for a launch.
double driver_us_per_launch(const Context& ctx, std::int64_t n) {
  TrivialKernel k(ctx, n);
  const std::size_t local = 256, global = (std::size_t(n) + local - 1) / local * local;
  return k.time(ctx, global, local).first / kNodes * 1e6;
}

// Wall microseconds per launch of the trivial kernel over n floats dealt into 1, 4, 16, 64 and
// 256 work-groups, where n divides so and the device takes the group: what a launch costs the
// device by its groups (PoCL wakes a thread per group, up to its compute units).
std::vector<std::pair<std::int64_t, double>> wall_by_groups(const Context& ctx, std::int64_t n) {
  TrivialKernel k(ctx, n);
  std::vector<std::pair<std::int64_t, double>> walls;
  for (std::int64_t groups : {1, 4, 16, 64, 256}) {
    if (n % groups != 0 || std::size_t(n / groups) > k.most_local()) continue;
    const auto [host, wall] = k.time(ctx, std::size_t(n), std::size_t(n / groups));
    walls.emplace_back(groups, wall / kNodes * 1e6);
  }
  return walls;
}

}  // namespace

std::vector<Record> overhead_suite(const Context& ctx, const Options& options) {
  const std::vector<std::int64_t> sizes =
      options.sizes.empty() ? std::vector<std::int64_t>{kSmallLaunchFloats} : options.sizes;
  fmt::print("{} relu nodes in a chain, inference\n", kNodes);
  fmt::print("{:>10}  {:>14}  {:>16}  {:>14}  {:>16}\n", "n", "host us/launch", "device us/launch",
             "wall us/launch", "driver us/launch");
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
    Record r;
    r["n"] = n;
    r["nodes"] = kNodes;
    r["host_us_per_launch"] = median(host) / kNodes * 1e6;
    r["device_us_per_launch"] = device_seconds_per_launch(ctx, [&] { ex.forward(); }) * 1e6;
    r["wall_us_per_launch"] = median(wall) / kNodes * 1e6;
    r["driver_us_per_launch"] = driver_us_per_launch(ctx, n);
    fmt::print("{:>10}  {:>14.2f}  {:>16.2f}  {:>14.2f}  {:>16.2f}\n", n,
               r["host_us_per_launch"].get<double>(), r["device_us_per_launch"].get<double>(),
               r["wall_us_per_launch"].get<double>(), r["driver_us_per_launch"].get<double>());
    std::string line;
    for (const auto& [groups, us] : wall_by_groups(ctx, n)) {
      r["driver_wall_us_by_groups"][std::to_string(groups)] = us;
      line += fmt::format("  {} groups {:.2f}", groups, us);
    }
    fmt::print("{:>10}  driver wall us/launch by work-groups:{}\n", "", line);
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
