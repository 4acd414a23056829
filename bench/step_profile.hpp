// The per-op profile of a step (clnn-bench models --profile): the runtime profiler's rows (one per
// op kind and pass, the optimizer, ...) per step, each against the device's roofline.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench.hpp"

namespace clnn::bench {

// What the device can do at best, measured or known in this run.
struct Roofline {
  double gbps = 0;    // memory bandwidth: clnn's copy kernel
  double gflops = 0;  // peak_gflops of the device; 0 when unknown
  // The profiler's device time a launch of a near-empty kernel (launch_floor_seconds): what a
  // row's launches take before their work counts, as this profiler sees them.
  double launch_seconds = 0;
  static Roofline measure(const Context& ctx);
  // The least time work of this many flops and bytes takes at the device's peaks.
  double ideal_seconds(double flops, double bytes) const;
};

// Device seconds per launch of what `run` enqueues, as the runtime's profiler reports them.
double device_seconds_per_launch(const Context& ctx, const std::function<void()>& run);

// The floats of each relu in clnn-bench overhead's chain by default, and in launch_floor_seconds'.
inline constexpr std::int64_t kSmallLaunchFloats = 1024;

// The profiler's device time a launch of clnn's near-empty kernels takes on this device: a chain
// of relus over kSmallLaunchFloats floats in an inference executor, the least of three passes'
// averages.
double launch_floor_seconds(const Context& ctx);

struct OpRow {
  std::string label;  // "conv backward", "optimizer", "other", ...
  double ms = 0;      // device time per step
  double share = 0;   // of the step's kernel time
  double launches = 0;
  std::vector<std::pair<std::string, double>> top_kernels;  // at most 3: name, ms per step
  double gbps = 0, tflops = 0;                              // achieved, from the cost model
  // Ideal time / measured time; none for a row without a cost model ("other").
  std::optional<double> roofline;
  // The row's launches times Roofline::launch_seconds / measured time: how much of the row a
  // near-empty kernel's launches would take. Beside a flag it tells a row whose launches are
  // most of its time (fewer of them would help) from one whose kernels are slow.
  double launch_floor = 0;
  bool flagged = false;  // over kFlagShare of the step at under kFlagRoofline of its roofline
};

// Issue 17's rule for a row worth a look: it takes a large part of the step and does far less
// than its roofline allows.
inline constexpr double kFlagShare = 0.10;
inline constexpr double kFlagRoofline = 0.10;

// Runs `run`, which does `steps` steps, with the runtime's profiler on, and returns the rows per
// step, by decreasing time. The Trainer's evaluation is left out: it is not part of a step.
std::vector<OpRow> profile_steps(const Context& ctx, const Roofline& roofline, double steps,
                                 const std::function<void()>& run);

void print_profile(const std::vector<OpRow>& rows);
Record profile_json(const std::vector<OpRow>& rows);
std::size_t flag_count(const std::vector<OpRow>& rows);

}  // namespace clnn::bench
