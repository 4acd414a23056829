// Device discovery: reads each OpenCL device's limits into a DeviceInfo.
#include "clnn/device.hpp"

#include <algorithm>
#include <mutex>
#include <sstream>

#include "cl_api.hpp"

// Vendor queries for the SIMD width and registers (cl_nv_device_attribute_query,
// cl_amd_device_attribute_query).
#ifndef CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV
#define CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV 0x4000
#define CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV 0x4001
#endif
#ifndef CL_DEVICE_REGISTERS_PER_BLOCK_NV
#define CL_DEVICE_REGISTERS_PER_BLOCK_NV 0x4002
#endif
#ifndef CL_DEVICE_WARP_SIZE_NV
#define CL_DEVICE_WARP_SIZE_NV 0x4003
#endif
#ifndef CL_DEVICE_WAVEFRONT_WIDTH_AMD
#define CL_DEVICE_WAVEFRONT_WIDTH_AMD 0x4043
#endif

namespace clnn {
namespace detail {

std::vector<cl_platform_id> platform_ids() {
  cl_uint count = 0;
  cl_int status = clGetPlatformIDs(0, nullptr, &count);
  if (status == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || count == 0) return {};
  check(status, "clGetPlatformIDs");
  std::vector<cl_platform_id> ids(count);
  check(clGetPlatformIDs(count, ids.data(), nullptr), "clGetPlatformIDs");
  return ids;
}

std::vector<cl_device_id> device_ids(cl_platform_id platform) {
  cl_uint count = 0;
  cl_int status = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, nullptr, &count);
  if (status == CL_DEVICE_NOT_FOUND || count == 0) return {};
  check(status, "clGetDeviceIDs");
  std::vector<cl_device_id> ids(count);
  check(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, count, ids.data(), nullptr), "clGetDeviceIDs");
  return ids;
}

std::string build_log(cl_program program, cl_device_id device) {
  std::size_t size = 0;
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size) != CL_SUCCESS)
    return {};
  std::string log(size, '\0');
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log.data(), nullptr) !=
      CL_SUCCESS)
    return {};
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

}  // namespace detail

namespace {

using detail::check;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

// A string property through its clGet*Info call (size query, then the value).
template <typename Object, typename Info>
std::string info_string(cl_int(CL_API_CALL* query)(Object, Info, std::size_t, void*, std::size_t*),
                        Object object, Info what, const char* call) {
  std::size_t size = 0;
  check(query(object, what, 0, nullptr, &size), call);
  std::string value(size, '\0');
  check(query(object, what, size, value.data(), nullptr), call);
  return trimmed(value);
}

std::string platform_string(cl_platform_id platform, cl_platform_info what) {
  return info_string(clGetPlatformInfo, platform, what, "clGetPlatformInfo");
}

std::string device_string(cl_device_id device, cl_device_info what) {
  return info_string(clGetDeviceInfo, device, what, "clGetDeviceInfo");
}

template <typename T>
T device_value(cl_device_id device, cl_device_info what) {
  T value{};
  check(clGetDeviceInfo(device, what, sizeof(T), &value, nullptr), "clGetDeviceInfo");
  return value;
}

// A vendor query that only some devices answer: 0 when the device does not.
cl_uint optional_device_uint(cl_device_id device, cl_device_info what) {
  cl_uint value = 0;
  if (clGetDeviceInfo(device, what, sizeof(value), &value, nullptr) != CL_SUCCESS) return 0;
  return value;
}

DeviceType device_type(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) return DeviceType::gpu;
  if (type & CL_DEVICE_TYPE_CPU) return DeviceType::cpu;
  if (type & CL_DEVICE_TYPE_ACCELERATOR) return DeviceType::accelerator;
  return DeviceType::other;
}

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE is a property of a built kernel, so it is read from
// a small probe kernel. Returns 0 when the probe cannot be built.
std::size_t measure_preferred_multiple(cl_device_id device) {
  static const char* probe =
      "__kernel void clnn_probe(__global float* x, float a) {\n"
      "  size_t i = get_global_id(0);\n"
      "  x[i] = a * x[i] + 1.0f;\n"
      "}\n";
  cl_int status = CL_SUCCESS;
  detail::OwnedContext context(clCreateContext(nullptr, 1, &device, nullptr, nullptr, &status));
  if (status != CL_SUCCESS) return 0;
  detail::OwnedProgram program(
      clCreateProgramWithSource(context.get(), 1, &probe, nullptr, &status));
  if (status != CL_SUCCESS) return 0;
  if (clBuildProgram(program.get(), 1, &device, "", nullptr, nullptr) != CL_SUCCESS) return 0;
  detail::OwnedKernel kernel(clCreateKernel(program.get(), "clnn_probe", &status));
  if (status != CL_SUCCESS) return 0;
  std::size_t multiple = 0;
  if (clGetKernelWorkGroupInfo(kernel.get(), device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                               sizeof(multiple), &multiple, nullptr) != CL_SUCCESS)
    return 0;
  return multiple;
}

DeviceInfo read_device(cl_platform_id platform, cl_device_id device) {
  DeviceInfo info;
  info.platform_name = platform_string(platform, CL_PLATFORM_NAME);
  info.platform_version = platform_string(platform, CL_PLATFORM_VERSION);
  info.name = device_string(device, CL_DEVICE_NAME);
  info.vendor = device_string(device, CL_DEVICE_VENDOR);
  info.device_version = device_string(device, CL_DEVICE_VERSION);
  info.driver_version = device_string(device, CL_DRIVER_VERSION);
  info.opencl_c_version = device_string(device, CL_DEVICE_OPENCL_C_VERSION);
  info.type = device_type(device_value<cl_device_type>(device, CL_DEVICE_TYPE));
  info.compute_units = device_value<cl_uint>(device, CL_DEVICE_MAX_COMPUTE_UNITS);
  info.max_clock_mhz = device_value<cl_uint>(device, CL_DEVICE_MAX_CLOCK_FREQUENCY);
  info.global_mem_size = device_value<cl_ulong>(device, CL_DEVICE_GLOBAL_MEM_SIZE);
  info.max_mem_alloc_size = device_value<cl_ulong>(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  info.local_mem_size = device_value<cl_ulong>(device, CL_DEVICE_LOCAL_MEM_SIZE);
  info.global_mem_cache_size = device_value<cl_ulong>(device, CL_DEVICE_GLOBAL_MEM_CACHE_SIZE);
  info.local_mem_is_dedicated =
      device_value<cl_device_local_mem_type>(device, CL_DEVICE_LOCAL_MEM_TYPE) == CL_LOCAL;
  info.max_work_group_size = device_value<std::size_t>(device, CL_DEVICE_MAX_WORK_GROUP_SIZE);
  auto dims = device_value<cl_uint>(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS);
  info.max_work_item_sizes.resize(dims);
  check(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, dims * sizeof(std::size_t),
                        info.max_work_item_sizes.data(), nullptr),
        "clGetDeviceInfo(CL_DEVICE_MAX_WORK_ITEM_SIZES)");
  info.native_vector_width =
      std::max<cl_uint>(1, device_value<cl_uint>(device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT));
  info.extensions = split_words(device_string(device, CL_DEVICE_EXTENSIONS));
  info.has_fp64 = info.has_extension("cl_khr_fp64");
  info.has_fp16 = info.has_extension("cl_khr_fp16");

  std::size_t multiple = measure_preferred_multiple(device);
  info.preferred_work_group_multiple = multiple > 0 ? multiple : 1;
  cl_uint vendor_simd = 0;
  if (info.has_extension("cl_nv_device_attribute_query")) {
    vendor_simd = optional_device_uint(device, CL_DEVICE_WARP_SIZE_NV);
    info.registers_per_group = optional_device_uint(device, CL_DEVICE_REGISTERS_PER_BLOCK_NV);
    info.nv_compute_capability =
        10 * optional_device_uint(device, CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV) +
        optional_device_uint(device, CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV);
  } else if (info.has_extension("cl_amd_device_attribute_query"))
    vendor_simd = optional_device_uint(device, CL_DEVICE_WAVEFRONT_WIDTH_AMD);
  info.simd_width = vendor_simd > 0 ? vendor_simd : info.preferred_work_group_multiple;
  return info;
}

std::vector<DeviceInfo> discover_devices() {
  std::vector<DeviceInfo> devices;
  auto platforms = detail::platform_ids();
  for (std::size_t p = 0; p < platforms.size(); ++p) {
    auto ids = detail::device_ids(platforms[p]);
    for (std::size_t d = 0; d < ids.size(); ++d) {
      DeviceInfo info = read_device(platforms[p], ids[d]);
      info.platform_index = static_cast<int>(p);
      info.device_index = static_cast<int>(d);
      devices.push_back(std::move(info));
    }
  }
  return devices;
}

}  // namespace

std::string to_string(DeviceType type) {
  switch (type) {
    case DeviceType::gpu:
      return "gpu";
    case DeviceType::cpu:
      return "cpu";
    case DeviceType::accelerator:
      return "accelerator";
    case DeviceType::other:
      break;
  }
  return "other";
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::tf32:
      return "tf32";
    case Precision::fp16:
      return "fp16";
    case Precision::bf16:
      return "bf16";
    case Precision::fp32:
      break;
  }
  return "fp32";
}

Precision precision_from_string(const std::string& name) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::fp16, Precision::bf16})
    if (to_string(p) == name) return p;
  throw Error("'" + name + "' is not a precision: fp32, tf32, fp16 or bf16");
}

std::vector<Precision> native_precisions(const DeviceInfo& device) {
  std::vector<Precision> native{Precision::fp32};
  // mma.sync's TF32 and bf16 shapes, and the f16x2 conversions the kernels use, came with
  // compute capability 8.0 (Ampere).
  if (device.nv_compute_capability >= 80)
    native.insert(native.end(), {Precision::tf32, Precision::fp16, Precision::bf16});
  return native;
}

bool runs_natively(const DeviceInfo& device, Precision precision) {
  const auto native = native_precisions(device);
  return std::find(native.begin(), native.end(), precision) != native.end();
}

bool DeviceInfo::has_extension(const std::string& extension) const {
  return std::find(extensions.begin(), extensions.end(), extension) != extensions.end();
}

std::string DeviceInfo::label() const {
  return std::to_string(platform_index) + ":" + std::to_string(device_index) + " " + name + " (" +
         platform_name + ")";
}

const std::vector<DeviceInfo>& list_devices() {
  // Discovery builds a probe kernel per device, so it runs once per process.
  static std::once_flag once;
  static std::vector<DeviceInfo> devices;
  std::call_once(once, [] { devices = discover_devices(); });
  return devices;
}

}  // namespace clnn
