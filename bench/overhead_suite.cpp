// The overhead suite (issue 18): a chain of small elementwise nodes, one kernel each, run by an
// inference executor. Host microseconds per launch: forward() returning, the queue not waited
// for; device microseconds per launch: the profiler's kernel time; wall microseconds per launch:
// forward() and the wait for its kernels. Beside them, the driver's floor: clEnqueueNDRangeKernel
// alone on a trivial kernel whose arguments were set once, nothing of clnn's on the path.
// bench/compare/torch_overhead.py times the same chain in PyTorch eager.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "bench.hpp"
#include "cl/profiler.hpp"
#include "clnn/clnn.hpp"
#include "clnn/interop.hpp"

namespace clnn::bench {

namespace {

constexpr int kNodes = 1000;
constexpr int kRuns = 11;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void check_cl(cl_int status, const char* call) {
  if (status != CL_SUCCESS) throw Error(fmt::format("overhead: {} failed ({})", call, status));
}

// Host microseconds per clEnqueueNDRangeKernel of a one-line kernel over n floats, its arguments
// set once, kNodes launches a run on the context's queue: what the driver takes for a launch.
double driver_us_per_launch(const Context& ctx, std::int64_t n) {
  const char* source =
      "__kernel void halve(__global float* x, const ulong n) {\n"
      "  const ulong i = get_global_id(0);\n"
      "  if (i < n) x[i] *= 0.5f;\n"
      "}\n";
  cl_int status = CL_SUCCESS;
  cl_device_id device = native_device(ctx);
  cl_program program = clCreateProgramWithSource(native_context(ctx), 1, &source, nullptr, &status);
  check_cl(status, "clCreateProgramWithSource");
  std::vector<double> runs;
  cl_kernel kernel = nullptr;
  try {
    check_cl(clBuildProgram(program, 1, &device, "", nullptr, nullptr), "clBuildProgram");
    kernel = clCreateKernel(program, "halve", &status);
    check_cl(status, "clCreateKernel");
    Tensor x = Tensor::zeros(ctx, {n});
    cl_mem buffer = native_buffer(x);
    const cl_ulong count = cl_ulong(n);
    check_cl(clSetKernelArg(kernel, 0, sizeof buffer, &buffer), "clSetKernelArg");
    check_cl(clSetKernelArg(kernel, 1, sizeof count, &count), "clSetKernelArg");
    const std::size_t local = 256, global = (std::size_t(n) + local - 1) / local * local;
    cl_command_queue queue = native_queue(ctx);
    for (int r = 0; r <= kRuns; ++r) {  // the first run warms up
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kNodes; ++i)
        check_cl(
            clEnqueueNDRangeKernel(queue, kernel, 1, nullptr, &global, &local, 0, nullptr, nullptr),
            "clEnqueueNDRangeKernel");
      const auto enqueued = std::chrono::steady_clock::now();
      ctx.finish();
      if (r > 0) runs.push_back(std::chrono::duration<double>(enqueued - start).count());
    }
  } catch (...) {
    if (kernel) clReleaseKernel(kernel);
    clReleaseProgram(program);
    throw;
  }
  clReleaseKernel(kernel);
  clReleaseProgram(program);
  return median(runs) / kNodes * 1e6;
}

}  // namespace

std::vector<Record> overhead_suite(const Context& ctx, const Options& options) {
  const std::vector<std::int64_t> sizes = options.sizes.empty() ? std::vector<std::int64_t>{1024}
                                                                 : options.sizes;
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
    r["driver_us_per_launch"] = driver_us_per_launch(ctx, n);
    fmt::print("{:>10}  {:>14.2f}  {:>16.2f}  {:>14.2f}  {:>16.2f}\n", n,
               r["host_us_per_launch"].get<double>(), r["device_us_per_launch"].get<double>(),
               r["wall_us_per_launch"].get<double>(), r["driver_us_per_launch"].get<double>());
    records.push_back(r);
  }
  return records;
}

}  // namespace clnn::bench
