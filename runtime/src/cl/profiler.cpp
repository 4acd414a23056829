// CLNN_PROFILE: per-kernel device time totals, printed at exit; the launch census of tests.
#include "cl/profiler.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace clnn::detail {

namespace {

struct Totals {
  double ms = 0;
  std::size_t launches = 0;
};

class Profile {
 public:
  void add(const std::string& kernel, double ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    Totals& t = totals_[kernel];
    t.ms += ms;
    ++t.launches;
  }
  ~Profile() {
    if (totals_.empty()) return;
    std::vector<std::pair<std::string, Totals>> rows(totals_.begin(), totals_.end());
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    double all = 0;
    for (const auto& r : rows) all += r.second.ms;
    std::fprintf(stderr, "clnn profile: %.3f ms of kernel time\n%-28s %12s %9s %7s\n", all,
                 "kernel", "total ms", "launches", "share");
    for (const auto& [name, t] : rows)
      std::fprintf(stderr, "%-28s %12.3f %9zu %6.1f%%\n", name.c_str(), t.ms, t.launches,
                   100.0 * t.ms / all);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, Totals> totals_;
};

Profile& profile() {
  static Profile p;
  return p;
}

std::string kernel_name(cl_kernel kernel) {
  char name[256] = {};
  clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof(name) - 1, name, nullptr);
  return name;
}

std::mutex census_mutex;
std::set<std::string> census;

}  // namespace

bool profiling_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("CLNN_PROFILE");
    return v && *v && std::string(v) != "0";
  }();
  return enabled;
}

double event_ms(cl_event event) {
  cl_ulong start = 0, end = 0;
  check(clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof(start), &start, nullptr),
        "clGetEventProfilingInfo");
  check(clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof(end), &end, nullptr),
        "clGetEventProfilingInfo");
  return double(end - start) * 1e-6;
}

void profile_launch(cl_kernel kernel, cl_event event) {
  try {
    check(clWaitForEvents(1, &event), "clWaitForEvents");
    profile().add(kernel_name(kernel), event_ms(event));
  } catch (const Error&) {  // a diagnostic: a launch it cannot time is left out
  }
}

std::atomic<bool> census_on{false};

void record_launches(bool on) { census_on = on; }

void add_to_census(cl_kernel kernel) {
  const std::string name = kernel_name(kernel);
  std::lock_guard<std::mutex> lock(census_mutex);
  census.insert(name);
}

std::set<std::string> launched_kernels() {
  std::lock_guard<std::mutex> lock(census_mutex);
  return census;
}

}  // namespace clnn::detail
