// clnn-devices: every OpenCL device clnn sees, its limits, and the launch plans derived from them.
#include <fmt/format.h>

#include <cstdio>
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "clnn/device.hpp"
#include "clnn/launch.hpp"

namespace {

using nlohmann::json;

std::string bytes_text(std::uint64_t bytes) {
  if (bytes >= (1ull << 30)) return fmt::format("{:.1f} GiB", bytes / double(1ull << 30));
  if (bytes >= (1ull << 20)) return fmt::format("{:.1f} MiB", bytes / double(1ull << 20));
  return fmt::format("{} KiB", bytes >> 10);
}

json matmul_json(const clnn::MatmulPlan& m) {
  return {{"kernel", clnn::to_string(m.kernel)},
          {"use_local_memory", m.use_local_memory},
          {"tile_m", m.tile_m},
          {"tile_n", m.tile_n},
          {"tile_k", m.tile_k},
          {"work_m", m.work_m},
          {"work_n", m.work_n},
          {"work_group", {m.local_x(), m.local_y()}},
          {"local_mem_bytes", m.local_mem_bytes()}};
}

json plan_json(const clnn::LaunchPlanner& planner) {
  auto e = planner.elementwise();
  auto r = planner.reduction();
  return {
      {"elementwise", {{"local_size", e.local_size}, {"max_groups", e.max_groups}}},
      {"reduction",
       {{"local_size", r.local_size}, {"max_groups", r.max_groups}, {"max_serial", r.max_serial}}},
      {"matmul", matmul_json(planner.matmul())},
      {"matmul_any_shape", matmul_json(planner.matmul_any_shape())},
      {"row_loops", planner.prefers_row_loops()},
  };
}

std::string matmul_text(const clnn::MatmulPlan& m) {
  return fmt::format("{} tile {}x{}x{}, {}x{} per item, work-group {}x{}, {}",
                     clnn::to_string(m.kernel), m.tile_m, m.tile_n, m.tile_k, m.work_m, m.work_n,
                     m.local_x(), m.local_y(),
                     m.use_local_memory ? bytes_text(m.local_mem_bytes()) + " local memory"
                                        : std::string("no local memory"));
}

// What clnn runs natively there (a Context asked for another precision runs fp32).
std::vector<std::string> precision_names(const clnn::DeviceInfo& d) {
  std::vector<std::string> names;
  for (clnn::Precision p : clnn::native_precisions(d)) names.push_back(clnn::to_string(p));
  return names;
}

json device_json(const clnn::DeviceInfo& d) {
  return {
      {"platform_index", d.platform_index},
      {"device_index", d.device_index},
      {"platform_name", d.platform_name},
      {"platform_version", d.platform_version},
      {"name", d.name},
      {"vendor", d.vendor},
      {"device_version", d.device_version},
      {"driver_version", d.driver_version},
      {"opencl_c_version", d.opencl_c_version},
      {"type", clnn::to_string(d.type)},
      {"compute_units", d.compute_units},
      {"max_clock_mhz", d.max_clock_mhz},
      {"global_mem_size", d.global_mem_size},
      {"max_mem_alloc_size", d.max_mem_alloc_size},
      {"local_mem_size", d.local_mem_size},
      {"local_mem_is_dedicated", d.local_mem_is_dedicated},
      {"global_mem_cache_size", d.global_mem_cache_size},
      {"max_work_group_size", d.max_work_group_size},
      {"max_work_item_sizes", d.max_work_item_sizes},
      {"preferred_work_group_multiple", d.preferred_work_group_multiple},
      {"simd_width", d.simd_width},
      {"registers_per_group", d.registers_per_group},
      {"native_vector_width", d.native_vector_width},
      {"has_fp64", d.has_fp64},
      {"has_fp16", d.has_fp16},
      {"nv_compute_capability", d.nv_compute_capability},
      {"native_precisions", precision_names(d)},
      {"extensions", d.extensions},
      {"launch_plan", plan_json(clnn::LaunchPlanner(d))},
  };
}

void print_table(const std::vector<clnn::DeviceInfo>& devices) {
  for (const auto& d : devices) {
    clnn::LaunchPlanner planner(d);
    auto e = planner.elementwise();
    fmt::print("{}:{}  {}\n", d.platform_index, d.device_index, d.name);
    auto row = [](const char* key, const std::string& value) {
      fmt::print("    {:<26}{}\n", key, value);
    };
    row("platform", d.platform_name + " (" + d.platform_version + ")");
    row("type / vendor", clnn::to_string(d.type) + " / " + d.vendor);
    row("driver / OpenCL C", d.driver_version + " / " + d.opencl_c_version);
    row("compute units x clock", fmt::format("{} x {} MHz", d.compute_units, d.max_clock_mhz));
    row("global memory", fmt::format("{} (largest buffer {}, cache {})",
                                     bytes_text(d.global_mem_size),
                                     bytes_text(d.max_mem_alloc_size),
                                     bytes_text(d.global_mem_cache_size)));
    row("local memory", fmt::format("{} ({})", bytes_text(d.local_mem_size),
                                    d.local_mem_is_dedicated ? "dedicated" : "global"));
    row("max work-group", fmt::format("{} (items {})", d.max_work_group_size,
                                      fmt::join(d.max_work_item_sizes, " x ")));
    row("preferred multiple / SIMD",
        fmt::format("{} / {}", d.preferred_work_group_multiple, d.simd_width));
    row("native vector width", fmt::format("{} floats", d.native_vector_width));
    row("registers per work-group",
        d.registers_per_group ? std::to_string(d.registers_per_group) : std::string("unknown"));
    row("fp64 / fp16",
        fmt::format("{} / {}", d.has_fp64 ? "yes" : "no", d.has_fp16 ? "yes" : "no"));
    row("native precisions", fmt::format("{}", fmt::join(precision_names(d), " ")));
    row("plan: elementwise",
        fmt::format("work-group {}, up to {} groups", e.local_size, e.max_groups));
    const auto r = planner.reduction();
    row("plan: reduction",
        fmt::format("work-group {}, up to {} groups, up to {} elements a work-item",
                    r.local_size, r.max_groups, r.max_serial));
    row("plan: matmul", matmul_text(planner.matmul()));
    row("plan: matmul, any shape", matmul_text(planner.matmul_any_shape()));
    row("plan: gathers", planner.prefers_row_loops() ? "a row per work-item"
                                                     : "an element per work-item");
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool as_json = false;
  CLI::App app{"Lists every OpenCL device with its limits and the launch plans clnn derives.",
               "clnn-devices"};
  app.add_flag("--json", as_json, "as JSON");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto& devices = clnn::list_devices();
    if (as_json) {
      json out = json::array();
      for (const auto& d : devices) out.push_back(device_json(d));
      std::cout << json{{"devices", out}}.dump(2) << "\n";
    } else if (devices.empty()) {
      std::puts("no OpenCL devices found (install an ICD, e.g. pocl-opencl-icd)");
    } else {
      print_table(devices);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-devices: %s\n", e.what());
    return 1;
  }
  return 0;
}
