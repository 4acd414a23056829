// Internal: the OpenCL C API with clnn's error checking and owning handles. Shared by
// clnn::device and clnn::clnn; never part of the public headers.
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <string>
#include <utility>
#include <vector>

#include "clnn/error.hpp"

namespace clnn::detail {

// Throws DeviceError naming the call (what) and the OpenCL error when code is not CL_SUCCESS.
inline void check(cl_int code, const char* what) {
  if (code != CL_SUCCESS) throw DeviceError(what, code);
}

// Sole owner of an OpenCL object: released when it goes out of scope; movable, not copyable.
template <typename Handle, cl_int(CL_API_CALL* Release)(Handle)>
class Owned {
 public:
  Owned() = default;
  explicit Owned(Handle handle) : handle_(handle) {}
  Owned(Owned&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  Handle get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }
  void reset() {
    if (handle_) Release(handle_);
    handle_ = nullptr;
  }

 private:
  Handle handle_ = nullptr;
};

using OwnedContext = Owned<cl_context, clReleaseContext>;
using OwnedQueue = Owned<cl_command_queue, clReleaseCommandQueue>;
using OwnedProgram = Owned<cl_program, clReleaseProgram>;
using OwnedKernel = Owned<cl_kernel, clReleaseKernel>;
using OwnedMem = Owned<cl_mem, clReleaseMemObject>;
using OwnedEvent = Owned<cl_event, clReleaseEvent>;

// Every platform; empty when there is none (CL_PLATFORM_NOT_FOUND_KHR is not an error here).
std::vector<cl_platform_id> platform_ids();
// Every device of a platform; empty when it has none.
std::vector<cl_device_id> device_ids(cl_platform_id platform);

// The program's build log for a device (empty when there is none).
std::string build_log(cl_program program, cl_device_id device);

}  // namespace clnn::detail
