// LaunchPlanner: work-group sizes and tiles for each kernel family, derived from a DeviceInfo.
// Every function is deterministic in the DeviceInfo, so plans can be unit-tested on synthetic
// devices and printed by clnn-devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "clnn/device.hpp"

namespace clnn {

// Elementwise kernels: one-dimensional, grid-stride loops beyond max_groups work-groups.
struct ElementwisePlan {
  std::size_t local_size = 1;
  std::size_t max_groups = 1;
  // The global size for n elements: whole work-groups, at most max_groups of them.
  std::size_t global_size(std::size_t n) const;
};

// Tiled matmul C[M,N] = A[M,K] B[K,N]: a work-group computes a tile_m x tile_n block of C, each
// work-item a work_m x work_n register block, stepping tile_k along K. With use_local_memory the
// operand tiles are staged in local memory; without (CPU devices) they are read from global
// memory through the cache.
struct MatmulPlan {
  bool use_local_memory = true;
  std::size_t tile_m = 1, tile_n = 1, tile_k = 1;
  std::size_t work_m = 1, work_n = 1;
  std::size_t local_x() const { return tile_n / work_n; }  // work-items along N
  std::size_t local_y() const { return tile_m / work_m; }  // work-items along M
  std::size_t work_group_size() const { return local_x() * local_y(); }
  // Bytes of local memory the staged tiles take (0 without local memory).
  std::size_t local_mem_bytes() const;
  // "-D" options that compile the kernel for this plan.
  std::string build_options() const;
};

// Reductions with a work-group per row: a power-of-two local size whose partial sums fit in
// local memory.
struct ReductionPlan {
  std::size_t local_size = 1;
  std::size_t max_groups = 1;
};

class LaunchPlanner {
 public:
  explicit LaunchPlanner(DeviceInfo device);
  const DeviceInfo& device() const { return device_; }

  ElementwisePlan elementwise() const;
  MatmulPlan matmul() const;
  // Whether a matmul configuration (planned or tuned) respects the device's limits.
  bool fits(const MatmulPlan& plan) const;
  ReductionPlan reduction() const;

  // The largest work-group size usable in one dimension: max_work_group_size and
  // max_work_item_sizes[0] together.
  std::size_t max_local_size_1d() const;

  // Whether gather/scatter kernels should give each work-item a whole row to loop over rather
  // than one element: CPUs run loops cheaply and pay for the index divisions per element; GPUs
  // want one element per work-item so that neighbouring work-items touch neighbouring memory.
  bool prefers_row_loops() const { return device_.type == DeviceType::cpu; }

 private:
  DeviceInfo device_;
};

}  // namespace clnn
