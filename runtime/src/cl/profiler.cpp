// The profiler: per-kernel and per-scope device time; the launch census of tests.
#include "cl/profiler.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <utility>

#include "settings.hpp"

namespace clnn::detail {

namespace {

bool profile_from_env() {
  return profile_setting() != ProfileMode::off;
}

std::atomic<bool>& profiling_switch() {
  static std::atomic<bool> on{profile_from_env()};
  return on;
}

std::atomic<bool>& by_node_switch() {
  static std::atomic<bool> on{profile_setting() == ProfileMode::nodes};
  return on;
}

// The scope this thread's launches go to; null outside every scope.
thread_local const std::string* current_scope = nullptr;

struct KernelTotals {
  double ms = 0;
  std::size_t launches = 0;
};

class Profile {
 public:
  void add_launch(const std::string& kernel, double ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    KernelTotals& t = kernels_[kernel];
    t.ms += ms;
    ++t.launches;
    ProfileRow& row = row_locked(current_scope ? *current_scope : kOtherScope);
    row.ms += ms;
    ++row.launches;
    row.kernel_ms[kernel] += ms;
  }

  void add_entry(const std::string& label, double flops, double bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    ProfileRow& row = row_locked(label);
    ++row.entries;
    row.flops += flops;
    row.bytes += bytes;
  }

  std::vector<ProfileRow> take() {
    std::vector<ProfileRow> rows;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& [label, row] : rows_) rows.push_back(std::move(row));
      rows_.clear();
    }
    std::sort(rows.begin(), rows.end(),
              [](const ProfileRow& a, const ProfileRow& b) { return a.ms > b.ms; });
    return rows;
  }

  // CLNN_PROFILE=1's report: the kernels' totals over the whole run, then the scopes' rows that
  // no tool took.
  ~Profile() {
    if (!profile_from_env() || kernels_.empty()) return;
    std::vector<std::pair<std::string, KernelTotals>> kernels(kernels_.begin(), kernels_.end());
    std::sort(kernels.begin(), kernels.end(),
              [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    double all = 0;
    for (const auto& k : kernels) all += k.second.ms;
    std::fprintf(stderr, "clnn profile: %.3f ms of kernel time\n%-28s %12s %9s %7s\n", all,
                 "kernel", "total ms", "launches", "share");
    for (const auto& [name, t] : kernels)
      std::fprintf(stderr, "%-28s %12.3f %9zu %6.1f%%\n", name.c_str(), t.ms, t.launches,
                   100.0 * t.ms / all);
    const std::vector<ProfileRow> rows = take();
    if (rows.empty()) return;
    std::fprintf(stderr, "\n%-28s %12s %9s %9s\n", "scope", "total ms", "launches", "entries");
    for (const ProfileRow& r : rows)
      std::fprintf(stderr, "%-28s %12.3f %9zu %9zu\n", r.label.c_str(), r.ms, r.launches,
                   r.entries);
  }

 private:
  ProfileRow& row_locked(const std::string& label) {
    ProfileRow& row = rows_[label];
    if (row.label.empty()) row.label = label;
    return row;
  }

  std::mutex mutex_;
  std::map<std::string, KernelTotals> kernels_;  // for the whole run
  std::map<std::string, ProfileRow> rows_;       // since the last take()
};

Profile& profile() {
  static Profile p;
  return p;
}

// Waits for a launch and adds its time under `name`; a diagnostic, so a launch it cannot time
// is left out rather than failing the work it measures.
void profile_event(const std::string& name, cl_event event) {
  try {
    check(clWaitForEvents(1, &event), "clWaitForEvents");
    profile().add_launch(name, event_ms(event));
  } catch (const Error&) {
  }
}

std::mutex census_mutex;
std::set<std::string> census;

}  // namespace

std::string kernel_name(cl_kernel kernel) {
  char name[256] = {};
  if (clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof(name) - 1, name, nullptr) !=
      CL_SUCCESS)
    return "(unnamed kernel)";
  return name;
}

bool profiling_enabled() {
  return profiling_switch().load(std::memory_order_relaxed);
}

void set_profiling(bool on) {
  profiling_switch().store(on);
}

bool profiling_by_node() {
  return by_node_switch().load(std::memory_order_relaxed);
}

void set_profiling_by_node(bool on) {
  by_node_switch().store(on);
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
  profile_event(kernel_name(kernel), event);
}

std::vector<ProfileRow> take_profile() {
  return profile().take();
}

ProfileScope::ProfileScope(std::string label, double flops, double bytes)
    : label_(std::move(label)) {
  if (!profiling_enabled() || current_scope) return;
  profile().add_entry(label_, flops, bytes);
  current_scope = &label_;
  open_ = true;
}

ProfileScope::~ProfileScope() {
  if (open_) current_scope = nullptr;
}

LibraryCallTimer::LibraryCallTimer(const char* name, cl_event*& event) : name_(name) {
  if (!profiling_enabled()) return;
  if (!event) event = &own_;
  event_ = event;
}

void LibraryCallTimer::finished() {
  if (event_ && *event_) profile_event(name_, *event_);
}

LibraryCallTimer::~LibraryCallTimer() {
  if (own_) clReleaseEvent(own_);
}

HostCallTimer::HostCallTimer(const char* name)
    : name_(name), on_(profiling_enabled()), start_(std::chrono::steady_clock::now()) {}

void HostCallTimer::finished() {
  if (!on_) return;
  const std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start_;
  profile().add_launch(name_, ms.count());
}

std::atomic<bool> census_on{false};

void record_launches(bool on) {
  census_on = on;
}

void add_to_census(cl_kernel kernel) {
  const std::string name = kernel_name(kernel);
  std::lock_guard<std::mutex> lock(census_mutex);
  census.insert(name);
}

std::set<std::string> launched_kernels() {
  std::lock_guard<std::mutex> lock(census_mutex);
  return census;
}

void forget_launches() {
  std::lock_guard<std::mutex> lock(census_mutex);
  census.clear();
}

}  // namespace clnn::detail
