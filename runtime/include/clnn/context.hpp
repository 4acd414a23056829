// Context: one OpenCL device with its context, in-order profiling queue and program cache.
#pragma once

#include <memory>
#include <string>

#include "clnn/device.hpp"
#include "clnn/launch.hpp"

namespace clnn {

namespace detail {
struct ContextImpl;
struct Access;
}  // namespace detail

// A handle: copies share the same device context. Threads may share a Context: each may build
// and run its own Executors, tensors and optimizers on it at once (their launches interleave on
// the one in-order queue). An Executor, Tensor or Optimizer is used by one thread at a time, and
// the tuners (clnn/tune.hpp) need the Context to themselves while they run.
class Context {
 public:
  // The device named by the environment variable CLNN_DEVICE, else the best GPU, else a CPU.
  static Context create();
  // The device a spec names (see select_device).
  static Context create(const std::string& spec);
  static Context create(const DeviceInfo& device);

  const DeviceInfo& device() const;
  const LaunchPlanner& planner() const;
  // Blocks until all work enqueued on the context's queue has finished.
  void finish() const;

 private:
  explicit Context(std::shared_ptr<detail::ContextImpl> impl);
  std::shared_ptr<detail::ContextImpl> impl_;
  friend struct detail::Access;
  friend class Tensor;
};

}  // namespace clnn
