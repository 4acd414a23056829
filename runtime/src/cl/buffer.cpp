// Buffer: device allocations with their size checked before the driver sees them.
#include "cl/buffer.hpp"

#include <limits>

#include "cl/fault.hpp"

namespace clnn::detail {

std::size_t checked_bytes(std::int64_t count, std::size_t element_size, const std::string& what) {
  if (count < 0 ||
      static_cast<std::uint64_t>(count) > std::numeric_limits<std::size_t>::max() / element_size)
    throw ShapeError(what + ": " + std::to_string(count) + " elements of " +
                     std::to_string(element_size) + " bytes do not fit in memory");
  return static_cast<std::size_t>(count) * element_size;
}

void check_allocation(const DeviceInfo& device, std::size_t bytes, const std::string& what) {
  if (bytes == 0) throw AllocationError(what + ": cannot allocate an empty device buffer");
  if (bytes > device.max_mem_alloc_size)
    throw AllocationError(what + ": " + std::to_string(bytes) + " bytes is more than the device '" +
                          device.name + "' allows in one buffer (max_mem_alloc_size " +
                          std::to_string(device.max_mem_alloc_size) + " bytes)");
}

Buffer::Buffer(cl_context context, const DeviceInfo& device, std::size_t bytes,
               const std::string& what)
    : bytes_(bytes) {
  check_allocation(device, bytes, what);
  cl_int status = fault::injected(fault::Site::allocate);
  if (status == CL_SUCCESS)
    mem_ = OwnedMem(clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, nullptr, &status));
  check(status, ("clCreateBuffer(" + std::to_string(bytes) + " bytes for " + what + ")").c_str());
}

}  // namespace clnn::detail
