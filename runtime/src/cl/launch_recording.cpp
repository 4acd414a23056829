// LaunchRecording: captures a pass's launches; RecordedLaunches replays them.
#include "cl/launch_recording.hpp"

#include <string>

#include "cl/kernel_call.hpp"
#include "cl/profiler.hpp"

namespace clnn::detail {

namespace {

thread_local LaunchRecording* active = nullptr;  // this thread's

}  // namespace

LaunchRecording* active_recording() {
  return active;
}

void RecordedLaunches::replay(cl_command_queue queue) const {
  for (const Launch& l : launches_)
    enqueue_nd(queue, l.kernel.get(), l.dims, l.global.data(), l.local.data(), nullptr);
}

std::vector<std::string> RecordedLaunches::kernel_names() const {
  std::vector<std::string> names;
  for (const Launch& l : launches_) names.push_back(kernel_name(l.kernel.get()));
  return names;
}

cl_mem RecordingScratch::get(cl_context context, const DeviceInfo& device, std::size_t bytes) {
  if (!buffer_ || buffer_->bytes() < bytes)
    buffer_ = std::make_unique<Buffer>(context, device, bytes, "scratch of recorded launches");
  return buffer_->mem();
}

LaunchRecording::LaunchRecording(RecordingScratch& scratch) : scratch_(scratch), outer_(active) {
  // A pass inside a pass (none today) would mix their launches: the inner one runs live.
  if (outer_) outer_->note_unrepeatable();
  active = this;
}

LaunchRecording::~LaunchRecording() {
  active = outer_;
}

LaunchRecording::KernelArgs& LaunchRecording::args_of(cl_kernel kernel) {
  for (KernelArgs& k : current_)
    if (k.kernel == kernel) return k;
  return current_.emplace_back(KernelArgs{kernel, {}});
}

void LaunchRecording::note_arg(cl_kernel kernel, cl_uint index, std::size_t size,
                               const void* value, bool is_memory) {
  std::vector<Arg>& args = args_of(kernel).args;
  if (args.size() <= index) args.resize(index + 1);
  Arg& a = args[index];
  a.set = true;
  a.size = size;
  a.value.clear();
  if (value) a.value.assign(static_cast<const unsigned char*>(value),
                            static_cast<const unsigned char*>(value) + size);
  if (is_memory && value) {
    cl_mem mem = *static_cast<const cl_mem*>(value);
    if (mem && clRetainMemObject(mem) == CL_SUCCESS)
      recorded_->retained_.emplace_back(mem);
  }
}

void LaunchRecording::note_launch(cl_kernel kernel, cl_uint dims, const std::size_t* global,
                                  const std::size_t* local, bool caller_keeps_event) {
  if (!repeatable_) return;
  // An argument set before the recording began is not known here: such a pass runs live.
  const std::vector<Arg>& args = args_of(kernel).args;
  cl_uint expected = 0;
  if (caller_keeps_event || dims > 3 ||
      clGetKernelInfo(kernel, CL_KERNEL_NUM_ARGS, sizeof expected, &expected, nullptr) !=
          CL_SUCCESS ||
      args.size() != expected) {
    repeatable_ = false;
    return;
  }
  for (const Arg& a : args)
    if (!a.set) {
      repeatable_ = false;
      return;
    }
  // The launch's own kernel object: the program and name of the one launched.
  cl_program program = nullptr;
  check(clGetKernelInfo(kernel, CL_KERNEL_PROGRAM, sizeof program, &program, nullptr),
        "clGetKernelInfo(CL_KERNEL_PROGRAM)");
  const std::string name = kernel_name(kernel);
  cl_int status = CL_SUCCESS;
  RecordedLaunches::Launch launch;
  launch.kernel = OwnedKernel(clCreateKernel(program, name.c_str(), &status));
  check(status, ("clCreateKernel(" + name + ")").c_str());
  for (cl_uint i = 0; i < expected; ++i) {
    const Arg& a = args[i];
    check(clSetKernelArg(launch.kernel.get(), i, a.size, a.value.empty() ? nullptr : a.value.data()),
          "clSetKernelArg");
  }
  launch.dims = dims;
  for (cl_uint d = 0; d < dims; ++d) {
    launch.global[d] = global[d];
    launch.local[d] = local[d];
  }
  recorded_->launches_.push_back(std::move(launch));
}

std::unique_ptr<RecordedLaunches> LaunchRecording::finish() {
  if (!repeatable_) return nullptr;
  return std::move(recorded_);
}

}  // namespace clnn::detail
