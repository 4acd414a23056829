// enqueue_nd: every kernel launch of clnn.
#include "cl/kernel_call.hpp"

#include "cl/fault.hpp"
#include "cl/profiler.hpp"

namespace clnn::detail {

void enqueue_nd(cl_command_queue queue, cl_kernel kernel, cl_uint dims, const std::size_t* global,
                const std::size_t* local, cl_event* event) {
  if (LaunchRecording* r = active_recording()) r->note_launch(kernel, dims, global, local, event != nullptr);
  // Read once: another thread may switch the profiler while this launch is enqueued.
  const bool timed = profiling_enabled();
  cl_event own = nullptr;
  if (timed && !event) event = &own;
  cl_int status = fault::injected(fault::Site::enqueue);
  if (status == CL_SUCCESS)
    status = clEnqueueNDRangeKernel(queue, kernel, dims, nullptr, global, local, 0, nullptr, event);
  check(status, "clEnqueueNDRangeKernel");
  note_launch(kernel);
  if (timed) profile_launch(kernel, *event);
  if (own) clReleaseEvent(own);
}

}  // namespace clnn::detail
