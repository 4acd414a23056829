// clnn-bench internals: what a suite gets and gives back.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "clnn/context.hpp"
#include "clnn/interop.hpp"
#include "clnn/dist.hpp"
#include "clnn/tensor.hpp"
#include "clnn/train.hpp"

namespace clnn::bench {

struct Options {
  std::vector<std::int64_t> sizes;  // empty: the suite's defaults for the device
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::int64_t steps = 0;  // train: batches to time (0: the suite's default)
  std::vector<std::int64_t> layers;  // conv: the layers to run, numbered from 1 (empty: all)
  std::string zoo = "zoo";           // models: the folder of ONNX models
  std::vector<std::string> models;   // models: the models to run (empty: all)
  bool profile = false;              // models: a per-op profile of one step for each row
  bool profile_nodes = false;        // models: the profile with a row per node, not per op
  std::int64_t batch = 128;          // train: the (whole) batch
  // train: data parallel over these ranks (null: one device), against one rank alone.
  dist::Communicator* communicator = nullptr;
  std::size_t bucket_bytes = train::Options{}.bucket_bytes;  // train, distributed
};

// One measurement: its parameters and figures under self-explaining keys.
using Record = nlohmann::json;

// Median seconds per call of `enqueue` (which enqueues one operation): after a warm-up, each run
// enqueues `repeat` calls back to back and waits for the queue, so launch overhead is amortized
// and every kernel an operation enqueues is counted.
double median_seconds(const Context& ctx, const std::function<void()>& enqueue, int runs = 5);

// n pseudo-random floats in [-0.5, 0.5), the same for a seed on every run.
std::vector<float> pseudo_random(std::size_t n, std::uint32_t seed);
// The L2 norm of a - b relative to b's (infinite where either holds a NaN or infinity).
double relative_difference(const std::vector<float>& a, const std::vector<float>& b);

// Throws Error naming the OpenCL call where status is not CL_SUCCESS.
void check_cl(cl_int status, const char* call);

// A kernel built from OpenCL C source outside clnn's program cache, for probes that want
// nothing of clnn's on their path (overhead, mma). A failed build throws with its log.
class RawKernel {
 public:
  RawKernel(const Context& ctx, const char* source, const char* name,
            const std::string& options = "");
  ~RawKernel();
  RawKernel(const RawKernel&) = delete;
  RawKernel& operator=(const RawKernel&) = delete;

  cl_kernel get() const { return kernel_; }
  template <typename T>
  void set_arg(cl_uint index, const T& value) {
    check_cl(clSetKernelArg(kernel_, index, sizeof value, &value), "clSetKernelArg");
  }
  // The largest work-group the kernel takes on its device.
  std::size_t most_local() const;

 private:
  void release();

  cl_device_id device_ = nullptr;
  cl_program program_ = nullptr;
  cl_kernel kernel_ = nullptr;
};

// The elementwise suite's default sizes for a device, smallest first: the last one is beyond
// its caches.
std::vector<std::int64_t> elementwise_sizes(const DeviceInfo& device);
// Bytes read and written per second by clnn's copy of n floats: the elementwise suite's copy
// figure, which memory-bound kernels elsewhere are measured against.
double copy_gbps(const Context& ctx, std::int64_t n);

std::vector<Record> attention_suite(const Context& ctx, const Options& options);
std::vector<Record> matmul_suite(const Context& ctx, const Options& options);
std::vector<Record> skinny_suite(const Context& ctx, const Options& options);
std::vector<Record> conv_suite(const Context& ctx, const Options& options);
std::vector<Record> elementwise_suite(const Context& ctx, const Options& options);
std::vector<Record> train_suite(const Context& ctx, const Options& options);
std::vector<Record> models_suite(const Context& ctx, const Options& options);
std::vector<Record> overhead_suite(const Context& ctx, const Options& options);
std::vector<Record> mma_suite(const Context& ctx, const Options& options);
// The models the models suite knows, for --models.
const std::vector<std::string>& model_names();

}  // namespace clnn::bench
