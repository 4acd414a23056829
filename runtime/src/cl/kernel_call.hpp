// Internal: setting a kernel's arguments and enqueueing it, with every call checked.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "cl/fault.hpp"
#include "cl/launch_recording.hpp"
#include "cl/profiler.hpp"
#include "cl_api.hpp"

namespace clnn::detail {

// A __local argument of `bytes` bytes.
struct LocalBytes {
  std::size_t bytes;
};

inline void set_arg(cl_kernel kernel, cl_uint index, LocalBytes local) {
  check(clSetKernelArg(kernel, index, local.bytes, nullptr), "clSetKernelArg(local)");
  if (LaunchRecording* r = active_recording()) r->note_arg(kernel, index, local.bytes, nullptr, false);
}

template <typename T>
void set_arg(cl_kernel kernel, cl_uint index, const T& value) {
  check(clSetKernelArg(kernel, index, sizeof(T), &value), "clSetKernelArg");
  if (LaunchRecording* r = active_recording())
    r->note_arg(kernel, index, sizeof(T), &value, std::is_same_v<T, cl_mem>);
}

template <typename... Args>
void set_args(cl_kernel kernel, const Args&... args) {
  cl_uint index = 0;
  (set_arg(kernel, index++, args), ...);
}

// Enqueues a launch of `dims` dimensions (global sizes multiples of local sizes): noted by the
// recording active on this thread, timed while the profiler is on, failed by the fault seam.
void enqueue_nd(cl_command_queue queue, cl_kernel kernel, cl_uint dims, const std::size_t* global,
                const std::size_t* local, cl_event* event);

template <std::size_t N>
void enqueue(cl_command_queue queue, cl_kernel kernel, const std::array<std::size_t, N>& global,
             const std::array<std::size_t, N>& local, cl_event* event = nullptr) {
  enqueue_nd(queue, kernel, cl_uint(N), global.data(), local.data(), event);
}

}  // namespace clnn::detail
