// Internal: a node pass's kernel launches, captured while it runs once and replayed after that
// without running its host code again (the executor's schedule).
//
// While a LaunchRecording lives on a thread, every argument set_arg() gives a kernel and every
// launch enqueue() makes are noted; each launch gets a kernel object of its own with the
// arguments it ran with, so a replay only enqueues (no routes chosen, no strings built, no
// caches read, no arguments set). A pass whose host code does what a replay would not repeat (a
// library's launches that clnn does not see, a read or write of a buffer, a launch whose event
// the caller keeps) makes the recording unusable, and the pass keeps running live.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "cl/buffer.hpp"
#include "cl_api.hpp"
#include "clnn/device.hpp"

namespace clnn::detail {

// The launches of one pass, each with its own kernel and arguments; the buffers they name are
// retained, so a buffer released elsewhere (a scratch buffer that grew) stays valid here.
class RecordedLaunches {
 public:
  void replay(cl_command_queue queue) const;
  std::size_t size() const { return launches_.size(); }
  // The kernel of each launch, by name.
  std::vector<std::string> kernel_names() const;

 private:
  friend class LaunchRecording;
  struct Launch {
    OwnedKernel kernel;
    cl_uint dims = 1;
    std::array<std::size_t, 3> global{}, local{};
  };
  std::vector<Launch> launches_;
  std::vector<OwnedMem> retained_;
};

// Device memory for the temporaries of recorded passes (ContextImpl::scratch hands it out while
// a recording is active): owned by whoever replays them, so another thread's or another
// executor's use of the context's scratch cannot land between a replayed write and read.
class RecordingScratch {
 public:
  cl_mem get(cl_context context, const DeviceInfo& device, std::size_t bytes);
  bool holds(cl_mem mem) const { return buffer_ && buffer_->mem() == mem; }

 private:
  std::unique_ptr<Buffer> buffer_;
};

// Captures this thread's launches while it lives (one at a time per thread).
class LaunchRecording {
 public:
  explicit LaunchRecording(RecordingScratch& scratch);
  ~LaunchRecording();
  LaunchRecording(const LaunchRecording&) = delete;
  LaunchRecording& operator=(const LaunchRecording&) = delete;

  // The launches since construction, or null when the pass did something a replay cannot
  // repeat; call once, after the pass succeeded.
  std::unique_ptr<RecordedLaunches> finish();

  // The hooks (kernel_call.hpp and the few enqueues that are not kernel launches).
  void note_arg(cl_kernel kernel, cl_uint index, std::size_t size, const void* value,
                bool is_memory);
  void note_launch(cl_kernel kernel, cl_uint dims, const std::size_t* global,
                   const std::size_t* local, bool caller_keeps_event);
  void note_unrepeatable() { repeatable_ = false; }
  RecordingScratch& scratch() { return scratch_; }

 private:
  struct Arg {
    bool set = false;
    std::size_t size = 0;
    std::vector<unsigned char> value;  // empty for a __local argument (size bytes of it)
  };
  struct KernelArgs {
    cl_kernel kernel;
    std::vector<Arg> args;
  };
  KernelArgs& args_of(cl_kernel kernel);

  RecordingScratch& scratch_;
  std::vector<KernelArgs> current_;  // each kernel's arguments as last set
  std::unique_ptr<RecordedLaunches> recorded_ = std::make_unique<RecordedLaunches>();
  bool repeatable_ = true;
  LaunchRecording* outer_;
};

// The recording active on this thread, or null.
LaunchRecording* active_recording();

// Called by the enqueues that are not kernel launches (reads, writes, a library's GEMM): a pass
// that makes one runs live.
inline void note_unrepeatable() {
  if (LaunchRecording* r = active_recording()) r->note_unrepeatable();
}

}  // namespace clnn::detail
