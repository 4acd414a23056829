// Device discovery and selection: agreement with clinfo, CLNN_DEVICE specs and their errors.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "context_impl.hpp"
#include "support.hpp"

namespace {

using clnn::DeviceInfo;
using clnn::DeviceType;

std::string run_command(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof(chunk), pipe)) out.append(chunk, n);
  pclose(pipe);
  return out;
}

DeviceInfo synthetic(std::string name, DeviceType type, std::uint32_t units, std::uint32_t mhz,
                     int platform, int device) {
  DeviceInfo d;
  d.name = std::move(name);
  d.platform_name = "Synthetic";
  d.type = type;
  d.compute_units = units;
  d.max_clock_mhz = mhz;
  d.platform_index = platform;
  d.device_index = device;
  return d;
}


}  // namespace

TEST_CASE("device list is non-empty and complete", "[device]") {
  const auto& devices = clnn::list_devices();
  REQUIRE_FALSE(devices.empty());
  for (const auto& d : devices) {
    INFO(d.label());
    CHECK_FALSE(d.name.empty());
    CHECK_FALSE(d.platform_name.empty());
    CHECK_FALSE(d.driver_version.empty());
    CHECK(d.opencl_c_version.find("OpenCL C") != std::string::npos);
    CHECK(d.compute_units > 0);
    CHECK(d.global_mem_size > 0);
    CHECK(d.max_mem_alloc_size > 0);
    CHECK(d.max_mem_alloc_size <= d.global_mem_size);
    CHECK(d.local_mem_size > 0);
    CHECK(d.max_work_group_size > 0);
    CHECK(d.max_work_item_sizes.size() >= 3);
    CHECK(d.preferred_work_group_multiple >= 1);
    CHECK(d.simd_width >= 1);
    CHECK(d.has_fp64 == d.has_extension("cl_khr_fp64"));
  }
}

TEST_CASE("device limits agree with clinfo --json", "[device]") {
  // CLNN_CLINFO_JSON names a saved `clinfo --json`: on a GPU in exclusive compute mode a second
  // process started from here would not see the device this process holds.
  const char* saved = std::getenv("CLNN_CLINFO_JSON");
  std::string text = saved ? run_command(std::string("cat '") + saved + "'")
                           : run_command("clinfo --json 2>/dev/null");
  REQUIRE_FALSE(text.empty());  // clinfo is installed by scripts/setup-deps
  auto report = nlohmann::json::parse(text);
  const auto& devices = clnn::list_devices();
  // clnn sees every device clinfo lists, and clinfo's figures for each.
  std::size_t listed = 0;
  for (const auto& platform : report.at("devices")) listed += platform.at("online").size();
  CHECK(devices.size() == listed);
  for (const auto& d : devices) {
    INFO(d.label());
    const auto& online = report.at("devices").at(d.platform_index).at("online");
    REQUIRE(static_cast<std::size_t>(d.device_index) < online.size());
    const auto& c = online.at(d.device_index);
    CHECK(c.at("CL_DEVICE_NAME").get<std::string>() == d.name);
    CHECK(c.at("CL_DEVICE_MAX_COMPUTE_UNITS").get<std::uint64_t>() == d.compute_units);
    CHECK(c.at("CL_DEVICE_LOCAL_MEM_SIZE").get<std::uint64_t>() == d.local_mem_size);
    CHECK(c.at("CL_DEVICE_GLOBAL_MEM_CACHE_SIZE").get<std::uint64_t>() ==
          d.global_mem_cache_size);
    CHECK(c.at("CL_DEVICE_MAX_WORK_GROUP_SIZE").get<std::uint64_t>() == d.max_work_group_size);
    // Memory sizes are left out: PoCL reports the host's free memory, which moves between runs.
  }
}

TEST_CASE("select_device understands gpu and cpu and indices and names", "[device]") {
  std::vector<DeviceInfo> devices{
      synthetic("Small CPU", DeviceType::cpu, 4, 2000, 0, 0),
      synthetic("Big CPU", DeviceType::cpu, 64, 2000, 0, 1),
      synthetic("Slow GPU", DeviceType::gpu, 8, 1000, 1, 0),
      synthetic("Fast GPU Turbo", DeviceType::gpu, 132, 1980, 1, 1),
  };
  CHECK(clnn::select_device("", devices).name == "Fast GPU Turbo");
  CHECK(clnn::select_device("  ", devices).name == "Fast GPU Turbo");
  CHECK(clnn::select_device("gpu", devices).name == "Fast GPU Turbo");
  CHECK(clnn::select_device("GPU", devices).name == "Fast GPU Turbo");
  CHECK(clnn::select_device("cpu", devices).name == "Big CPU");
  CHECK(clnn::select_device("1:0", devices).name == "Slow GPU");
  CHECK(clnn::select_device("0:0", devices).name == "Small CPU");
  CHECK(clnn::select_device("small", devices).name == "Small CPU");
  CHECK(clnn::select_device("turbo", devices).name == "Fast GPU Turbo");

  SECTION("without a GPU the default is the best CPU") {
    devices.resize(2);
    CHECK(clnn::select_device("", devices).name == "Big CPU");
  }
}

TEST_CASE("a spec that matches nothing lists the devices", "[device]") {
  std::vector<DeviceInfo> devices{synthetic("Only CPU", DeviceType::cpu, 4, 2000, 0, 0)};
  for (const char* spec : {"gpu", "7:0", "0:3", "no such device", "accelerator"}) {
    INFO(spec);
    try {
      clnn::select_device(spec, devices);
      FAIL("expected clnn::Error");
    } catch (const clnn::Error& e) {
      std::string message = e.what();
      CHECK(message.find(spec) != std::string::npos);
      CHECK(message.find("0:0 Only CPU") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(clnn::select_device("gpu", {}), clnn::Error);
  CHECK_THROWS_WITH(clnn::select_device("", {}), Catch::Contains("no OpenCL device was found"));
}

TEST_CASE("Context::create honours CLNN_DEVICE", "[device][context]") {
  const DeviceInfo& first = clnn::list_devices().front();
  {
    clnn::test::ScopedEnv env("CLNN_DEVICE", "0:0");
    auto ctx = clnn::Context::create();
    CHECK(ctx.device().name == first.name);
    CHECK(ctx.device().platform_index == 0);
  }
  {
    clnn::test::ScopedEnv env("CLNN_DEVICE", first.name.substr(0, 6).c_str());
    CHECK(clnn::Context::create().device().name.find(first.name.substr(0, 6)) == 0);
  }
  {
    clnn::test::ScopedEnv env("CLNN_DEVICE", "device-that-does-not-exist");
    CHECK_THROWS_WITH(clnn::Context::create(),
                      Catch::Contains("device-that-does-not-exist") && Catch::Contains("0:0"));
  }
  CHECK(clnn::Context::create("0:0").device().name == first.name);
}

TEST_CASE("OpenCL errors carry their names", "[device]") {
  CHECK(clnn::cl_error_name(-5) == "CL_OUT_OF_RESOURCES");
  CHECK(clnn::cl_error_name(-11) == "CL_BUILD_PROGRAM_FAILURE");
  CHECK(clnn::cl_error_name(-9999) == "CL error -9999");
  clnn::DeviceError e("clEnqueueNDRangeKernel", -54);
  CHECK(std::string(e.what()) == "clEnqueueNDRangeKernel failed: CL_INVALID_WORK_GROUP_SIZE");
  CHECK(e.code() == -54);
  CHECK(std::string(e.code_name()) == "CL_INVALID_WORK_GROUP_SIZE");
}

TEST_CASE("a context uploads each lookup table once", "[device][context]") {
  auto& impl = clnn::detail::Access::impl(clnn::test::context());
  const std::vector<cl_int> table{3, -1, 4, 1, 5}, other{3, -1, 4, 1, 6};
  cl_mem first = impl.int_table(table);
  CHECK(impl.int_table(table) == first);
  CHECK(impl.int_table(other) != first);
  std::vector<cl_int> back(table.size());
  clnn::detail::check(clEnqueueReadBuffer(impl.queue.get(), first, CL_TRUE, 0,
                                          back.size() * sizeof(cl_int), back.data(), 0, nullptr,
                                          nullptr),
                      "clEnqueueReadBuffer");
  CHECK(back == table);
}

TEST_CASE("peak_gflops: lanes per compute unit by vendor and kind", "[device]") {
  // An H100 SXM: 132 SMs of 128 lanes at 1980 MHz, 66.9 TFLOP/s as NVIDIA quotes it.
  DeviceInfo h100 = synthetic("NVIDIA H100 80GB HBM3", DeviceType::gpu, 132, 1980, 0, 0);
  h100.vendor = "NVIDIA Corporation";
  CHECK(clnn::peak_gflops(h100) == Approx(132 * 128 * 2 * 1.98));
  // An MI300X (gfx942, packed FP32): 304 CUs at 2100 MHz, 163.4 TFLOP/s as AMD quotes it.
  DeviceInfo mi300 = synthetic("gfx942:sramecc+:xnack-", DeviceType::gpu, 304, 2100, 0, 0);
  mi300.vendor = "Advanced Micro Devices, Inc.";
  CHECK(clnn::peak_gflops(mi300) == Approx(163430.4));
  // Without dual issue (gfx1030): 64 lanes.
  DeviceInfo rdna2 = synthetic("gfx1030", DeviceType::gpu, 40, 2000, 0, 0);
  rdna2.vendor = "Advanced Micro Devices, Inc.";
  CHECK(clnn::peak_gflops(rdna2) == Approx(40 * 64 * 2 * 2.0));
  // Intel counts EUs: an Arc A770's 512 EUs of 8 lanes at 2400 MHz.
  DeviceInfo arc = synthetic("Intel(R) Arc(TM) A770 Graphics", DeviceType::gpu, 512, 2400, 0, 0);
  arc.vendor = "Intel(R) Corporation";
  CHECK(clnn::peak_gflops(arc) == Approx(512 * 8 * 2 * 2.4));
  // A CPU: cores x float vector width x 2 FMA ports, whatever its vendor says (PoCL names AMD).
  DeviceInfo cpu = synthetic("pthread-haswell-AMD EPYC", DeviceType::cpu, 2, 2445, 0, 0);
  cpu.vendor = "AuthenticAMD";
  cpu.native_vector_width = 8;
  CHECK(clnn::peak_gflops(cpu) == Approx(2 * 8 * 2 * 2 * 2.445));
  // Unknown units or clock: no figure.
  CHECK(clnn::peak_gflops(synthetic("x", DeviceType::gpu, 0, 1000, 0, 0)) == 0);
}
