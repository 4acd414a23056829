// Interop: the OpenCL objects behind clnn's handles, for applications that enqueue their own
// kernels. The only public header that includes OpenCL. The objects stay owned by clnn.
#pragma once

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "clnn/tensor.hpp"

namespace clnn {

cl_context native_context(const Context& ctx);
cl_device_id native_device(const Context& ctx);
cl_command_queue native_queue(const Context& ctx);  // in order, profiling enabled
// size() floats. Each call counts as a write of the tensor: an inference Executor prepares what it
// keeps from its parameters (rearranged filters) anew after one.
cl_mem native_buffer(const Tensor& t);
// Tells clnn that t's buffer was written by other means than clnn's calls (an application's own
// kernel or copy through native_buffer's handle), so that an inference Executor prepares what it
// keeps from that parameter anew before its next forward().
void mark_written(const Tensor& t);

}  // namespace clnn
