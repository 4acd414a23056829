// The per-op profile of a step: the runtime profiler's rows per step against the roofline.
#include "step_profile.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "cl/profiler.hpp"
#include "clnn/clnn.hpp"

namespace clnn::bench {

namespace {

std::vector<std::pair<std::string, double>> top_kernels(const detail::ProfileRow& row,
                                                        double steps) {
  std::vector<std::pair<std::string, double>> kernels;
  for (const auto& [name, ms] : row.kernel_ms) kernels.emplace_back(name, ms / steps);
  std::sort(kernels.begin(), kernels.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  if (kernels.size() > 3) kernels.resize(3);
  return kernels;
}

}  // namespace

Roofline Roofline::measure(const Context& ctx) {
  // The elementwise suite's largest size, beyond every cache (the H200's L2 holds 50 MB).
  return {copy_gbps(ctx, elementwise_sizes(ctx.device()).back()), peak_gflops(ctx.device()),
          launch_floor_seconds(ctx)};
}

double device_seconds_per_launch(const Context& ctx, const std::function<void()>& run) {
  ctx.finish();
  detail::ProfilingOn on;
  detail::take_profile();
  run();
  ctx.finish();
  double ms = 0, launches = 0;
  for (const detail::ProfileRow& row : detail::take_profile())
    ms += row.ms, launches += double(row.launches);
  return launches > 0 ? ms * 1e-3 / launches : 0.0;
}

double launch_floor_seconds(const Context& ctx) {
  constexpr int kChain = 200;
  Graph g;
  Value y = g.input("x", {kSmallLaunchFloats});
  for (int i = 0; i < kChain; ++i) y = relu(y);
  Executor ex(ctx, g, {y}, Mode::inference);
  ex.set_input("x", pseudo_random(std::size_t(kSmallLaunchFloats), 1));
  ex.forward();  // builds the program and records the launches
  double least = 0;
  for (int run = 0; run < 3; ++run) {
    const double s = device_seconds_per_launch(ctx, [&] { ex.forward(); });
    if (run == 0 || s < least) least = s;
  }
  return least;
}

double Roofline::ideal_seconds(double flops, double bytes) const {
  const double memory = gbps > 0 ? bytes / (gbps * 1e9) : 0.0;
  const double compute = gflops > 0 ? flops / (gflops * 1e9) : 0.0;
  return std::max(memory, compute);
}

std::vector<OpRow> profile_steps(const Context& ctx, const Roofline& roofline, double steps,
                                 const std::function<void()>& run) {
  std::vector<detail::ProfileRow> taken;
  {
    ctx.finish();
    detail::ProfilingOn on;
    detail::take_profile();  // what ran before is not this step's
    run();
    ctx.finish();
    taken = detail::take_profile();
  }
  std::vector<OpRow> rows;
  double total_ms = 0;
  for (const detail::ProfileRow& p : taken) {
    if (p.label == detail::kEvaluationScope || p.launches == 0) continue;
    OpRow r;
    r.label = p.label;
    r.ms = p.ms / steps;
    r.launches = double(p.launches) / steps;
    r.top_kernels = top_kernels(p, steps);
    const double seconds = r.ms * 1e-3, flops = p.flops / steps, bytes = p.bytes / steps;
    if (seconds > 0) {
      r.gbps = bytes / seconds * 1e-9;
      r.tflops = flops / seconds * 1e-12;
      if (flops > 0 || bytes > 0) r.roofline = roofline.ideal_seconds(flops, bytes) / seconds;
      r.launch_floor = r.launches * roofline.launch_seconds / seconds;
    }
    total_ms += r.ms;
    rows.push_back(r);
  }
  for (OpRow& r : rows) {
    r.share = total_ms > 0 ? r.ms / total_ms : 0.0;
    r.flagged = r.share > kFlagShare && r.roofline && *r.roofline < kFlagRoofline;
  }
  return rows;  // take_profile's order: by decreasing time
}

void print_profile(const std::vector<OpRow>& rows) {
  double total = 0;
  for (const OpRow& r : rows) total += r.ms;
  fmt::print("    kernel time per step: {:.3f} ms\n", total);
  fmt::print("    {:<30} {:>9} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}  {}\n", "op", "ms", "share",
             "launches", "GB/s", "TFLOP/s", "roofline", "floor", "kernels (ms)");
  for (const OpRow& r : rows) {
    std::string kernels;
    for (const auto& [name, ms] : r.top_kernels)
      kernels += fmt::format("{}{} ({:.3f})", kernels.empty() ? "" : ", ", name, ms);
    const std::string roofline = r.roofline ? fmt::format("{:.1f}%", 100 * *r.roofline) : "-";
    fmt::print("    {:<30} {:>9.3f} {:>5.1f}% {:>8.1f} {:>8.1f} {:>8.3f} {:>8} {:>7.0f}%  {}{}\n",
               r.label, r.ms, 100 * r.share, r.launches, r.gbps, r.tflops, roofline,
               100 * r.launch_floor, kernels, r.flagged ? "  FLAG" : "");
  }
}

Record profile_json(const std::vector<OpRow>& rows) {
  Record out = Record::array();
  for (const OpRow& r : rows) {
    Record kernels = Record::array();
    for (const auto& [name, ms] : r.top_kernels) kernels.push_back({{"name", name}, {"ms", ms}});
    out.push_back({{"op", r.label},
                   {"ms", r.ms},
                   {"share", r.share},
                   {"launches", r.launches},
                   {"kernels", kernels},
                   {"gbps", r.gbps},
                   {"tflops", r.tflops},
                   {"roofline_fraction", r.roofline ? Record(*r.roofline) : Record()},
                   {"launch_floor_fraction", r.launch_floor},
                   {"flagged", r.flagged}});
  }
  return out;
}

std::size_t flag_count(const std::vector<OpRow>& rows) {
  return std::size_t(
      std::count_if(rows.begin(), rows.end(), [](const OpRow& r) { return r.flagged; }));
}

}  // namespace clnn::bench
