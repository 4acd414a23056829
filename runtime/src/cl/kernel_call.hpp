// Internal: setting a kernel's arguments and enqueueing it, with every call checked.
#pragma once

#include <array>
#include <cstddef>

#include "cl/fault.hpp"
#include "cl/profiler.hpp"
#include "cl_api.hpp"

namespace clnn::detail {

// A __local argument of `bytes` bytes.
struct LocalBytes {
  std::size_t bytes;
};

inline void set_arg(cl_kernel kernel, cl_uint index, LocalBytes local) {
  check(clSetKernelArg(kernel, index, local.bytes, nullptr), "clSetKernelArg(local)");
}

template <typename T>
void set_arg(cl_kernel kernel, cl_uint index, const T& value) {
  check(clSetKernelArg(kernel, index, sizeof(T), &value), "clSetKernelArg");
}

template <typename... Args>
void set_args(cl_kernel kernel, const Args&... args) {
  cl_uint index = 0;
  (set_arg(kernel, index++, args), ...);
}

// Enqueues an N-dimensional launch; global sizes must be multiples of local sizes.
template <std::size_t N>
void enqueue(cl_command_queue queue, cl_kernel kernel, const std::array<std::size_t, N>& global,
             const std::array<std::size_t, N>& local, cl_event* event = nullptr) {
  // Read once: another thread may switch the profiler while this launch is enqueued.
  const bool timed = profiling_enabled();
  cl_event own = nullptr;
  if (timed && !event) event = &own;
  cl_int status = fault::injected(fault::Site::enqueue);
  if (status == CL_SUCCESS)
    status = clEnqueueNDRangeKernel(queue, kernel, N, nullptr, global.data(), local.data(), 0,
                                    nullptr, event);
  check(status, "clEnqueueNDRangeKernel");
  note_launch(kernel);
  if (timed) profile_launch(kernel, *event);
  if (own) clReleaseEvent(own);
}

}  // namespace clnn::detail
