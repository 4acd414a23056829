// Internal: the profiler. While on (CLNN_PROFILE=1, or set_profiling(true) from a tool), every
// kernel clnn launches is waited for and timed from its event (so only for finding where time
// goes), and its time is added to its kernel's total and to the row of the scope it ran in: the
// node pass, optimizer update or metric that the runtime opened around it (ProfileScope).
// take_profile() hands the rows over; with CLNN_PROFILE=1 what was never taken is printed to
// stderr at exit, with the per-kernel totals. Launches inside CLBlast are not seen one by one:
// its GEMMs are timed as one launch each (profile_library_call).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cl_api.hpp"

namespace clnn::detail {

// A kernel's function name, or "(unnamed kernel)" where the driver cannot say.
std::string kernel_name(cl_kernel kernel);

// Whether launches are timed now. Reading it costs one relaxed atomic load.
bool profiling_enabled();
// Turns the profiler on or off for the whole process (the initial state is CLNN_PROFILE's).
// Every context's queue is created with profiling enabled, so this may be called at any time;
// launches already enqueued are not timed.
void set_profiling(bool on);

// Whether an executor's node passes are profiled one row per node ("conv forward 'conv2'")
// rather than one per op and pass ("conv forward"): CLNN_PROFILE=nodes, or set from a tool.
bool profiling_by_node();
void set_profiling_by_node(bool on);

// Turns the profiler on for its lifetime, then back to what it was (on under CLNN_PROFILE=1),
// also when its scope is left by an exception: a tool's profiled steps, a test's.
class ProfilingOn {
 public:
  ProfilingOn() : was_(profiling_enabled()) { set_profiling(true); }
  ~ProfilingOn() { set_profiling(was_); }
  ProfilingOn(const ProfilingOn&) = delete;
  ProfilingOn& operator=(const ProfilingOn&) = delete;

 private:
  bool was_;
};

// Device milliseconds of a finished launch, from its event (the queue has profiling enabled);
// throws clnn::Error when the driver cannot say.
double event_ms(cl_event event);
// Adds a launch's device time to its kernel's total and its scope's row; waits for the event.
void profile_launch(cl_kernel kernel, cl_event event);

// One scope's launches since the last take_profile().
struct ProfileRow {
  std::string label;  // "conv forward", "optimizer", ...; "other" outside every scope
  double ms = 0;      // device time of its launches
  std::size_t launches = 0;
  std::size_t entries = 0;  // times the scope was opened
  double flops = 0;         // what the scope's owner declared for its entries, summed
  double bytes = 0;
  std::map<std::string, double> kernel_ms;  // device time per kernel name
};
// The rows since the last call, by decreasing time; resets them.
std::vector<ProfileRow> take_profile();
inline constexpr const char* kOtherScope = "other";
// The Trainer's evaluation: not part of a training step.
inline constexpr const char* kEvaluationScope = "evaluation";

// Labels the launches of this thread while it lives, and declares their cost (from the cost
// model of whoever opens it: ops/op.hpp's Op::cost, the optimizers). A scope opened inside
// another adds nothing: its launches belong to the outer one (the Trainer's evaluation holds the
// evaluation executor's node passes). Does nothing while the profiler is off.
class ProfileScope {
 public:
  ProfileScope(std::string label, double flops, double bytes);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  std::string label_;
  bool open_ = false;
};

// A library's call (a CLBlast GEMM) that enqueues launches clnn does not see, timed as one launch
// named `name` from the event of the call: `event` is pointed at the timer's own event when the
// caller wants none. Only the call's last launch is covered by that event (CLBlast pads or
// transposes some operands first, in launches of their own that go untimed).
class LibraryCallTimer {
 public:
  LibraryCallTimer(const char* name, cl_event*& event);
  // The call succeeded: waits for its event and adds its time.
  void finished();
  ~LibraryCallTimer();
  LibraryCallTimer(const LibraryCallTimer&) = delete;
  LibraryCallTimer& operator=(const LibraryCallTimer&) = delete;

 private:
  const char* name_;
  cl_event* event_ = nullptr;
  cl_event own_ = nullptr;
};

// A call the host runs itself (the host BLAS's GEMM on a CPU device), timed on the host's clock
// from construction to finished() and added as one launch named `name`.
class HostCallTimer {
 public:
  explicit HostCallTimer(const char* name);
  void finished();
  HostCallTimer(const HostCallTimer&) = delete;
  HostCallTimer& operator=(const HostCallTimer&) = delete;

 private:
  const char* name_;
  bool on_;
  std::chrono::steady_clock::time_point start_;
};

// A census of launches for tests that must prove a run reached every kernel
// (tests/test_oclgrind.cpp): while on, each launched kernel's name is kept; while off (the
// default), a launch costs one atomic load.
void record_launches(bool on);
std::set<std::string> launched_kernels();
// Empties the census: for a test that counts one run's launches where earlier cases in the same
// process (a whole-binary run, as on the GPU machine) left theirs.
void forget_launches();
extern std::atomic<bool> census_on;
void add_to_census(cl_kernel kernel);
inline void note_launch(cl_kernel kernel) {
  if (census_on.load(std::memory_order_relaxed)) add_to_census(kernel);
}

}  // namespace clnn::detail
