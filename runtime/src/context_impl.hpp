// Internal: what a Context holds, and access to the internals behind the public handles.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "cl/buffer.hpp"
#include "cl/program_cache.hpp"
#include "tune/tuning_cache.hpp"
#include "cl_api.hpp"
#include "clnn/context.hpp"
#include "clnn/tensor.hpp"
#include "settings.hpp"

namespace clnn::detail {

struct ContextImpl {
  // precision: the one asked for (else CLNN_PRECISION's).
  ContextImpl(const DeviceInfo& info, std::optional<Precision> precision);

  // Threads may share a context (its members below are set at creation and then only read, except
  // by the tuners, which need the context to themselves), so what it hands out is either
  // immutable (programs, lookup tables) or kept per calling thread (kernels, scratch).

  // A kernel of an embedded source built with options; kernel objects are kept per program and
  // per thread, because a kernel's arguments are state that clSetKernelArg changes without any
  // lock (the OpenCL spec exempts it from thread safety): two threads launching one cl_kernel
  // could each enqueue the other's arguments.
  cl_kernel kernel(const std::string& source_name, const std::string& kernel_name,
                   const std::string& options = {});
  // A kernel of a built program.
  cl_kernel kernel(cl_program program, const std::string& kernel_name);
  // Enqueues a one-dimensional grid-stride kernel over n elements with the elementwise plan.
  void enqueue_elementwise(cl_kernel kernel, std::size_t n);
  // The same for a kernel that steps through n floats four at a time (FLOAT4_STEPS).
  void enqueue_float4s(cl_kernel kernel, std::size_t n) { enqueue_elementwise(kernel, (n + 3) / 4); }
  // The same for kernels whose work-items each walk a long line of work in a loop of their own
  // (a plane, a row: CPUs' line kernels): on CPUs the groups shrink until every compute unit has
  // about kCpuLineWaves of them, where groups of the elementwise plan's size would leave most of
  // them idle (a depthwise layer of 32 planes at batch 1: one group of 256 work-items, one core of
  // 16). A kernel whose work-items each hold `private_bytes` of private arrays gets groups that
  // hold at most kCpuGroupPrivateBytes of them: PoCL keeps a group's arrays side by side on its
  // thread's stack (a group of 256 planes of 12,600 floats overflowed it).
  void enqueue_lines(cl_kernel kernel, std::size_t n, std::size_t private_bytes = 0);
  static constexpr std::size_t kCpuGroupPrivateBytes = 256 * 1024;
  // The fewest groups per compute unit of a line kernel where its lines allow: mobilenet_v2 at
  // batch 1 ran 6.21-6.94 ms with 4, against 6.70-7.19 with one group per unit (2-core AVX-512
  // Xeon, six alternated rounds); 8 and 16 ran as 4 did.
  static constexpr std::size_t kCpuLineWaves = 4;
  // A device buffer of at least `floats` floats for a library routine's temporaries (split-K
  // partial products); grows as needed. One per thread: the in-order queue orders one thread's
  // launches, but another thread's could land between a routine's write and read of it. While
  // this thread records launches, the recording's own (cl/launch_recording.hpp).
  cl_mem scratch(std::size_t floats);
  // Whether mem is the calling thread's scratch buffer: a routine given operands there (the
  // Winograd route's products) must not take scratch for its own temporaries.
  bool is_scratch(cl_mem mem);
  // A device copy of a small table of ints (a kernel's lookup table), uploaded the first time
  // these contents are asked for and kept with the context, so a launch that needs one costs no
  // kernel or copy after the first.
  cl_mem int_table(const std::vector<cl_int>& contents);

  DeviceInfo info;
  LaunchPlanner planner;
  // The one-dimensional launch plans in force: the planner's, or the tuned ones the tuning cache
  // holds for this device (tune_executor times them over whole training steps).
  ElementwisePlan elementwise_plan;
  ReductionPlan reduction_plan;
  // Gather kernels' style (LaunchPlanner::prefers_row_loops); tests run both.
  bool row_loops = false;
  ConvRoute conv_route = ConvRoute::automatic;  // CLNN_CONV
  // What GEMMs and convolutions compute in: the precision asked for where the device runs it
  // natively, else fp32 (kernels that have no other form run fp32 in any case).
  Precision precision = Precision::fp32;
  cl_device_id device = nullptr;
  OwnedContext context;
  OwnedQueue queue;
  std::unique_ptr<ProgramCache> programs;
  GemmBackend gemm_backend = GemmBackend::automatic;  // matmul's backend (CLNN_GEMM)
  Tf32Gemm tf32_gemm = Tf32Gemm::automatic;           // CLNN_TF32_GEMM
  std::unique_ptr<TuningCache> tuning;                // null with CLNN_TUNE=off
  bool tune_full = false;                             // CLNN_TUNE=full
  // Whether executors record their passes' launches and replay them (tests compare both ways).
  bool replay_launches = true;

  // What ops choose their launches by besides shapes and the device: an executor replays
  // recorded launches only while this is what they were recorded under (the tuners and tests
  // change it between runs of one executor).
  using LaunchChoices =
      std::tuple<ConvRoute, GemmBackend, Precision, Tf32Gemm, bool, std::size_t, std::size_t,
                 std::size_t, std::size_t, std::size_t, bool, std::uint64_t>;
  LaunchChoices launch_choices() const {
    return {conv_route,
            gemm_backend,
            precision,
            tf32_gemm,
            row_loops,
            elementwise_plan.local_size,
            elementwise_plan.max_groups,
            reduction_plan.local_size,
            reduction_plan.max_groups,
            reduction_plan.max_serial,
            reduction_plan.item_per_row,
            tuning ? tuning->version() : 0};
  }

 private:
  // Guards the three maps; what they hand out is used outside the lock (see above). A thread's
  // entries stay until the context goes, reused by a later thread given the same id.
  std::mutex mutex_;
  std::map<std::tuple<cl_program, std::string, std::thread::id>, OwnedKernel> kernels_;
  std::map<std::thread::id, std::unique_ptr<Buffer>> scratch_;
  std::map<std::vector<cl_int>, std::unique_ptr<Buffer>> int_tables_;
};

// Tuning-cache keys of the device-wide one-dimensional plans (stored with an empty shape).
inline constexpr const char* kElementwiseTuningKey = "elementwise";
inline constexpr const char* kReductionTuningKey = "reduction";

// Sets ctx's elementwise and reduction plans: tuned ones from its tuning cache where they fit the
// device, else the planner's.
void load_launch_plans(ContextImpl& ctx);

// The internals behind Context and Tensor (friend of both).
struct Access {
  static ContextImpl& impl(const Context& ctx) { return *ctx.impl_; }
  static const std::shared_ptr<ContextImpl>& shared_impl(const Context& ctx) { return ctx.impl_; }
  static ContextImpl& impl(const Tensor& t);
  static cl_mem mem(const Tensor& t);
  // The tensor's buffer's count of public writes (Buffer::writes), and one more of them.
  static std::uint64_t writes(const Tensor& t);
  static void note_write(const Tensor& t);
  // A tensor of `shape` over `buffer`, which must hold at least that many floats.
  static Tensor make_tensor(const Context& ctx, Shape shape, std::shared_ptr<Buffer> buffer) {
    return Tensor(ctx.impl_, std::move(shape), std::move(buffer));
  }
};

}  // namespace clnn::detail
