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
  // The same, with the precision of its GEMMs and convolutions (else CLNN_PRECISION's, else
  // fp32). A precision the device does not run natively (native_precisions) runs as fp32, and a
  // note on stderr says so once per device and precision.
  static Context create(Precision precision);  // on CLNN_DEVICE's device, as create()
  static Context create(const std::string& spec, Precision precision);
  static Context create(const DeviceInfo& device, Precision precision);

  // What the context computes in: the precision asked for where the device runs it, else fp32.
  Precision precision() const;

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
