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
  // The profiler's device time a launch of the least kernel (launch_floor_seconds): however
  // little a launch does, it takes this long, which a small step's rows cannot escape.
  double launch_seconds = 0;
  static Roofline measure(const Context& ctx);
  // The least time work of this many flops and bytes takes at the device's peaks.
  double peak_seconds(double flops, double bytes) const;
  // ... and in this many launches, each of which takes launch_seconds at least.
  double ideal_seconds(double flops, double bytes, double launches) const {
    return launches * launch_seconds + peak_seconds(flops, bytes);
  }
};

// Device seconds per launch of what `run` enqueues, as the runtime's profiler reports them.
double device_seconds_per_launch(const Context& ctx, const std::function<void()>& run);

// The least device time a launch of clnn's takes on this device: a chain of relus over a few
// floats in an inference executor, the least average of three runs.
double launch_floor_seconds(const Context& ctx);

struct OpRow {
  std::string label;  // "conv backward", "optimizer", "other", ...
  double ms = 0;      // device time per step
  double share = 0;   // of the step's kernel time
  double launches = 0;
  std::vector<std::pair<std::string, double>> top_kernels;  // at most 3: name, ms per step
  double gbps = 0, tflops = 0;                              // achieved, from the cost model
  // Ideal time (its launches included) / measured time; none for a row without a cost model
  // ("other").
  std::optional<double> roofline;
  std::optional<double> of_peak;  // the same without the launches: the share of the peaks
  bool flagged = false;  // over kFlagShare of the step at under kFlagRoofline of its roofline
};

// Issue 17's rule for a row worth a look: it takes a large part of the step and does far less
// than its roofline allows. The roofline counts each launch's floor: on an H200 a launch of a
// thousand floats takes about 5 us of device time, so a batch-1 step of 0.06 ms reaches no
// tenth of the peaks however its kernels are written, and flags there said nothing.
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
