// select_device: turns a CLNN_DEVICE spec into one device, or an error listing what exists.
#include <algorithm>
#include <cctype>

#include "clnn/device.hpp"

namespace clnn {

namespace {

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// Throughput proxy used to rank devices of one type.
double device_score(const DeviceInfo& d) {
  return static_cast<double>(d.compute_units) * std::max<std::uint32_t>(d.max_clock_mhz, 1);
}

// "P:D" with both parts decimal; false when spec is not of that form.
bool parse_indices(const std::string& spec, int& platform, int& device) {
  auto colon = spec.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size()) return false;
  auto all_digits = [](const std::string& s) {
    return s.size() <= 6 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  };
  std::string p = spec.substr(0, colon), d = spec.substr(colon + 1);
  if (!all_digits(p) || !all_digits(d)) return false;
  platform = std::stoi(p);
  device = std::stoi(d);
  return true;
}

const DeviceInfo* best_of(const std::vector<const DeviceInfo*>& candidates) {
  const DeviceInfo* best = nullptr;
  for (const DeviceInfo* d : candidates)
    if (!best || device_score(*d) > device_score(*best)) best = d;
  return best;
}

std::vector<const DeviceInfo*> matching(const std::vector<DeviceInfo>& devices,
                                        bool (*match)(const DeviceInfo&, const std::string&),
                                        const std::string& key) {
  std::vector<const DeviceInfo*> found;
  for (const auto& d : devices)
    if (match(d, key)) found.push_back(&d);
  return found;
}

bool type_is(const DeviceInfo& d, const std::string& type) {
  return to_string(d.type) == type;
}
bool name_contains(const DeviceInfo& d, const std::string& part) {
  return lowercase(d.name).find(part) != std::string::npos;
}

[[noreturn]] void no_match(const std::string& spec, const std::vector<DeviceInfo>& devices) {
  std::string message = "no OpenCL device matches '" + spec + "'";
  if (devices.empty()) {
    message += ": no OpenCL device was found (is an ICD such as pocl-opencl-icd installed?)";
  } else {
    message += "; the devices are:";
    for (const auto& d : devices) message += "\n  " + d.label() + " [" + to_string(d.type) + "]";
    message += "\nuse 'gpu', 'cpu', 'P:D' indices, or part of a device name";
  }
  throw Error(message);
}

}  // namespace

DeviceInfo select_device(const std::string& spec) {
  return select_device(spec, list_devices());
}

DeviceInfo select_device(const std::string& raw_spec, const std::vector<DeviceInfo>& devices) {
  const std::string spec = trim(raw_spec);
  const std::string key = lowercase(spec);
  const DeviceInfo* chosen = nullptr;
  int platform = 0, device = 0;
  if (key.empty()) {
    chosen = best_of(matching(devices, type_is, "gpu"));
    if (!chosen) chosen = best_of(matching(devices, type_is, "cpu"));
    if (!chosen && !devices.empty()) chosen = &devices.front();
  } else if (key == "gpu" || key == "cpu" || key == "accelerator") {
    chosen = best_of(matching(devices, type_is, key));
  } else if (parse_indices(key, platform, device)) {
    for (const auto& d : devices)
      if (d.platform_index == platform && d.device_index == device) chosen = &d;
  } else {
    chosen = best_of(matching(devices, name_contains, key));
  }
  if (!chosen) no_match(spec.empty() ? "(default)" : spec, devices);
  return *chosen;
}

}  // namespace clnn
