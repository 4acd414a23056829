// Device discovery: every OpenCL device of every platform, with the limits that shape kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "clnn/error.hpp"

namespace clnn {

enum class DeviceType { gpu, cpu, accelerator, other };

std::string to_string(DeviceType type);

// The arithmetic GEMMs and convolutions may run in (chosen per Context; see Context::create):
// fp32 throughout (the default), or products on tensor cores with fp32 sums from operands
// rounded to TF32 (10-bit mantissa), fp16 (10 bits, 5-bit exponent: past 65504 is infinite) or
// bf16 (7 bits, fp32's range). Tensors are stored in fp32 in every precision today; 16-bit
// storage of activations is the target of fp16 and bf16.
enum class Precision { fp32, tf32, fp16, bf16 };

std::string to_string(Precision precision);
// The precision to_string names; throws clnn::Error naming the text and the names it takes.
Precision precision_from_string(const std::string& name);

struct DeviceInfo {
  int platform_index = 0;  // position in clGetPlatformIDs
  int device_index = 0;    // position among the platform's devices
  std::string platform_name;
  std::string platform_version;
  std::string name;
  std::string vendor;
  std::string device_version;
  std::string driver_version;
  std::string opencl_c_version;
  DeviceType type = DeviceType::other;
  std::uint32_t compute_units = 0;
  std::uint32_t max_clock_mhz = 0;
  std::uint64_t global_mem_size = 0;
  std::uint64_t max_mem_alloc_size = 0;
  std::uint64_t local_mem_size = 0;
  // Bytes of cache in front of global memory, as the driver reports it: NVIDIA's reads 4.1 MiB on
  // the H100 (its compute units' L1s), not the 50 MB L2.
  std::uint64_t global_mem_cache_size = 0;
  bool local_mem_is_dedicated = false;  // CL_LOCAL vs CL_GLOBAL local memory type
  std::size_t max_work_group_size = 0;
  std::vector<std::size_t> max_work_item_sizes;
  std::size_t preferred_work_group_multiple = 1;  // measured on a probe kernel
  std::size_t simd_width = 1;  // warp/wavefront width where the vendor says, else the multiple
  // 32-bit registers a work-group may use, where the vendor says (NVIDIA: what a compute unit
  // holds); 0 where unknown.
  std::uint32_t registers_per_group = 0;
  // Floats per native SIMD register of one work-item (CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT): 16 on
  // AVX-512 CPUs, 8 with AVX, 1 on GPUs, which vectorize across work-items instead.
  std::uint32_t native_vector_width = 1;
  // NVIDIA's compute capability as major * 10 + minor (90 on an H100 or H200), where the device
  // answers cl_nv_device_attribute_query; 0 elsewhere.
  std::uint32_t nv_compute_capability = 0;
  bool has_fp64 = false;
  bool has_fp16 = false;
  std::vector<std::string> extensions;

  bool has_extension(const std::string& name) const;
  // "P:D name (platform)": how messages and tables name the device.
  std::string label() const;
};

// The device's peak FP32 rate in GFLOP/s (a multiply-add counts 2), from its compute units,
// clock and vendor (device_query/src/peak.cpp says what each kind is assumed to have); 0 when the
// device does not say its units or clock. A roofline's ceiling, not a promise.
double peak_gflops(const DeviceInfo& device);

// The precisions clnn runs natively on a device, fp32 first: TF32, fp16 and bf16 on NVIDIA
// devices of compute capability 8.0 and up (mma.sync through inline PTX). A Context asked for
// another runs fp32.
std::vector<Precision> native_precisions(const DeviceInfo& device);
bool runs_natively(const DeviceInfo& device, Precision precision);

// Every device of every platform, in platform then device order. Empty when there is no OpenCL
// platform. The list is read once per process.
const std::vector<DeviceInfo>& list_devices();

// The device a spec names. spec is what CLNN_DEVICE takes: "gpu", "cpu", "P:D" indices, or part
// of a device name (case-insensitive). An empty spec picks the GPU with the most compute units x
// clock, else the best CPU. Throws clnn::Error listing the devices that exist when nothing matches.
DeviceInfo select_device(const std::string& spec);

// Like select_device, over a given list (for tests and tools).
DeviceInfo select_device(const std::string& spec, const std::vector<DeviceInfo>& devices);

}  // namespace clnn
