// The elementwise suite: memory-bound kernels in GB/s (bytes read and written per second):
// copy, y = a x + y, and relu forward through the graph.
#include <fmt/format.h>

#include "bench.hpp"
#include "clnn/clnn.hpp"

namespace clnn::bench {

std::vector<std::int64_t> elementwise_sizes(const DeviceInfo& device) {
  std::vector<std::int64_t> sizes{1 << 20, 1 << 24};
  if (device.type == DeviceType::gpu) sizes.push_back(1 << 28);
  return sizes;
}

std::vector<Record> elementwise_suite(const Context& ctx, const Options& options) {
  const std::vector<std::int64_t> sizes =
      options.sizes.empty() ? elementwise_sizes(ctx.device()) : options.sizes;
  fmt::print("{:>12}  {:>10}  {:>10}  {:>10}\n", "n", "copy GB/s", "axpy GB/s", "relu GB/s");
  std::vector<Record> records;
  for (std::int64_t n : sizes) {
    Tensor x = Tensor::zeros(ctx, {n}), y = Tensor::zeros(ctx, {n});
    Graph g;
    Value in = g.input("x", {n});
    Value out = relu(in);
    Executor ex(ctx, g, {out}, Mode::inference);
    ex.set_input("x", x);
    const double bytes = double(n) * sizeof(float);
    const double axpy_s = median_seconds(ctx, [&] { axpy(2.0f, x, y); });
    const double relu_s = median_seconds(ctx, [&] { ex.forward(); });
    Record r;
    r["n"] = n;
    r["copy_gbps"] = copy_gbps(ctx, n);
    r["axpy_gbps"] = 3 * bytes / axpy_s * 1e-9;
    r["relu_gbps"] = 2 * bytes / relu_s * 1e-9;
    fmt::print("{:>12}  {:>10.1f}  {:>10.1f}  {:>10.1f}\n", n, r["copy_gbps"].get<double>(),
               r["axpy_gbps"].get<double>(), r["relu_gbps"].get<double>());
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
