// peak_gflops: FP32 lanes per compute unit by vendor and kind, times units and clock.
#include <algorithm>
#include <cctype>

#include "clnn/device.hpp"

namespace clnn {

namespace {

bool contains(std::string text, const std::string& lowercase_word) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return text.find(lowercase_word) != std::string::npos;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// FP32 multiply-adds one compute unit issues per clock. Kept simple, one figure per vendor; where
// a generation differs, the peak is off by that factor:
// - NVIDIA, per SM: 128 lanes (Maxwell to Blackwell; GP100, Volta and Turing have 64).
// - AMD, per CU: 64 lanes, twice that where one instruction does two FP32 operations per lane
//   (RDNA3's dual issue, gfx11; CDNA2 and 3's packed FP32, gfx90a and gfx94x/95x).
// - Intel GPUs, per EU (what OpenCL counts as a compute unit): 8 lanes (Gen9 to Xe-HPG; Xe2's
//   are 16 wide).
// - Other GPUs: 64 lanes, a middle guess.
// - CPUs and the rest, per core (hardware thread, as OpenCL counts them: with SMT the peak is
//   counted twice): the native float vector width times 2 FMA ports.
double fma_lanes_per_unit(const DeviceInfo& d) {
  if (d.type != DeviceType::gpu)
    return double(std::max<std::uint32_t>(1, d.native_vector_width)) * 2.0;
  if (contains(d.vendor, "nvidia")) return 128;
  if (contains(d.vendor, "advanced micro devices") || contains(d.vendor, "amd")) {
    const bool two_per_lane = starts_with(d.name, "gfx11") || starts_with(d.name, "gfx90a") ||
                              starts_with(d.name, "gfx94") || starts_with(d.name, "gfx95");
    return two_per_lane ? 128 : 64;
  }
  if (contains(d.vendor, "intel")) return 8;
  return 64;
}

}  // namespace

double peak_gflops(const DeviceInfo& device) {
  const double flops_per_fma = 2;
  return double(device.compute_units) * fma_lanes_per_unit(device) * flops_per_fma *
         double(device.max_clock_mhz) * 1e-3;
}

}  // namespace clnn
