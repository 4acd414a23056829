// Internal: device memory, checked against the device's limits before it is allocated.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "cl_api.hpp"
#include "clnn/device.hpp"

namespace clnn::detail {

// count * element_size in bytes; ShapeError naming `what` on overflow.
std::size_t checked_bytes(std::int64_t count, std::size_t element_size, const std::string& what);

// AllocationError naming `what` when bytes is zero or above the device's max_mem_alloc_size.
void check_allocation(const DeviceInfo& device, std::size_t bytes, const std::string& what);

class Buffer {
 public:
  // Throws check_allocation's AllocationError, or DeviceError when the driver refuses.
  Buffer(cl_context context, const DeviceInfo& device, std::size_t bytes, const std::string& what);

  cl_mem mem() const { return mem_.get(); }
  std::size_t bytes() const { return bytes_; }
  // Counts writes through clnn's calls (Tensor::write and write_async, fill, copy, axpy,
  // native_buffer, the optimizers' updates): what an inference executor prepared from a
  // parameter is stale once its count moves. Other writes may count too (a spare preparation).
  std::uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }
  void note_write() { writes_.fetch_add(1, std::memory_order_relaxed); }

 private:
  OwnedMem mem_;
  std::size_t bytes_;
  std::atomic<std::uint64_t> writes_{0};
};

}  // namespace clnn::detail
