// Measurements shared by the suites: the median time of an operation, the copy bandwidth,
// pseudo-random inputs, how far two results differ, and kernels built outside clnn.
#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

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

void check_cl(cl_int status, const char* call) {
  if (status != CL_SUCCESS) throw Error(fmt::format("clnn-bench: {} failed ({})", call, status));
}

RawKernel::RawKernel(const Context& ctx, const char* source, const char* name,
                     const std::string& options)
    : device_(native_device(ctx)) {
  cl_int status = CL_SUCCESS;
  program_ = clCreateProgramWithSource(native_context(ctx), 1, &source, nullptr, &status);
  try {
    check_cl(status, "clCreateProgramWithSource");
    if (clBuildProgram(program_, 1, &device_, options.c_str(), nullptr, nullptr) != CL_SUCCESS) {
      std::size_t size = 0;
      clGetProgramBuildInfo(program_, device_, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
      std::string log(size, '\0');
      clGetProgramBuildInfo(program_, device_, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr);
      throw Error(fmt::format("clnn-bench: {} ({}) did not build:\n{}", name, options, log));
    }
    kernel_ = clCreateKernel(program_, name, &status);
    check_cl(status, "clCreateKernel");
  } catch (...) {
    release();
    throw;
  }
}

RawKernel::~RawKernel() { release(); }

std::size_t RawKernel::most_local() const {
  std::size_t most = 1;
  check_cl(clGetKernelWorkGroupInfo(kernel_, device_, CL_KERNEL_WORK_GROUP_SIZE, sizeof most,
                                    &most, nullptr),
           "clGetKernelWorkGroupInfo");
  return most;
}

void RawKernel::release() {
  if (kernel_) clReleaseKernel(kernel_);
  if (program_) clReleaseProgram(program_);
  kernel_ = nullptr, program_ = nullptr;
}

}  // namespace clnn::bench
