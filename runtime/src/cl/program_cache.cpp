// ProgramCache: memory and disk caches of built programs. Disk entries hold the full key and a
// checksum and are written atomically; any that fails to validate or to load is rebuilt from
// source, and a disk that cannot be used only turns the disk cache off.
#include "cl/program_cache.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cl/fault.hpp"
#include "cl/hash.hpp"
#include "files.hpp"
#include "log.hpp"

namespace clnn::detail {

namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'C', 'L', 'N', 'N', 'P', 'R', 'O', 'G'};
constexpr std::uint32_t kFormatVersion = 1;
// Options every program is built with, in front of the caller's.
constexpr const char* kBaseOptions = "-cl-std=CL1.2";
constexpr std::uint64_t kMaxBinaryBytes = 1ull << 30;

template <typename T>
void append_pod(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Reads a T at `offset` of `data`, advancing offset; false when the data is too short.
template <typename T>
bool read_pod(const std::string& data, std::size_t& offset, T& value) {
  if (data.size() < offset || data.size() - offset < sizeof(T)) return false;
  std::memcpy(&value, data.data() + offset, sizeof(T));
  offset += sizeof(T);
  return true;
}

// The binary inside a cache file, when the file is whole and made for `key`.
std::optional<std::string> parse_entry(const std::string& data, const std::string& key) {
  std::size_t offset = sizeof(kMagic);
  if (data.size() < offset || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0)
    return std::nullopt;
  std::uint32_t version = 0, key_size = 0;
  std::uint64_t binary_size = 0, checksum = 0;
  if (!read_pod(data, offset, version) || version != kFormatVersion) return std::nullopt;
  if (!read_pod(data, offset, key_size) || key_size != key.size()) return std::nullopt;
  if (data.size() - offset < key_size || data.compare(offset, key_size, key) != 0)
    return std::nullopt;
  offset += key_size;
  if (!read_pod(data, offset, binary_size) || !read_pod(data, offset, checksum))
    return std::nullopt;
  if (binary_size == 0 || binary_size != data.size() - offset) return std::nullopt;
  std::string binary = data.substr(offset);
  if (fnv1a64(binary) != checksum) return std::nullopt;
  return binary;
}

std::string full_options(const std::string& options) {
  return options.empty() ? std::string(kBaseOptions) : std::string(kBaseOptions) + " " + options;
}

}  // namespace

ProgramCache::ProgramCache(cl_context context, cl_device_id device, const DeviceInfo& info,
                           std::optional<fs::path> disk_dir)
    : context_(context),
      device_(device),
      device_identity_(info.name + "|" + info.driver_version + "|" + info.platform_version),
      disk_dir_(std::move(disk_dir)) {
  if (!disk_dir_) return;
  std::error_code ec;
  fs::create_directories(*disk_dir_, ec);
  if (ec) disable_disk("cannot create " + disk_dir_->string() + ": " + ec.message());
}

std::optional<fs::path> ProgramCache::default_disk_dir(const std::string& configured) {
  fs::path root;
  if (!configured.empty()) {
    if (configured == "off") return std::nullopt;
    root = configured;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    root = fs::path(xdg) / "clnn";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    root = fs::path(home) / ".cache" / "clnn";
  } else {
    return std::nullopt;
  }
  return root / "programs";
}

cl_program ProgramCache::get(const KernelSource& source, const std::string& options) {
  auto memory_key = std::make_pair(source.hash, options);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = programs_.find(memory_key); it != programs_.end()) {
    ++stats_.memory_hits;
    return it->second.get();
  }
  OwnedProgram program;
  std::string key = disk_key(source, options);
  if (disk_dir_) program = load_from_disk(key, options);
  if (program) {
    ++stats_.disk_loads;
  } else {
    program = build_from_source(source, options);
    ++stats_.source_builds;
    if (disk_dir_) save_to_disk(key, program.get());
  }
  return programs_.emplace(memory_key, std::move(program)).first->second.get();
}

std::string ProgramCache::disk_key(const KernelSource& source, const std::string& options) const {
  return source.hash + "|" + full_options(options) + "|" + device_identity_;
}

fs::path ProgramCache::disk_path(const std::string& key) const {
  return *disk_dir_ / (hex64(fnv1a64(key)) + ".bin");
}

OwnedProgram ProgramCache::build_from_source(const KernelSource& source,
                                             const std::string& options) {
  cl_int status = CL_SUCCESS;
  const char* text = source.text.data();
  std::size_t length = source.text.size();
  OwnedProgram program(clCreateProgramWithSource(context_, 1, &text, &length, &status));
  check(status, "clCreateProgramWithSource");
  std::string all_options = full_options(options);
  status = fault::injected(fault::Site::build);
  if (status == CL_SUCCESS)
    status = clBuildProgram(program.get(), 1, &device_, all_options.c_str(), nullptr, nullptr);
  if (status != CL_SUCCESS) {
    throw DeviceError(
        "building OpenCL program '" + source.name + "' with options '" + all_options + "'", status,
        build_log(program.get(), device_));
  }
  return program;
}

OwnedProgram ProgramCache::load_from_disk(const std::string& key, const std::string& options) {
  fs::path path = disk_path(key);
  std::string data;
  try {
    data = read_file(path, kMaxBinaryBytes + key.size() + 64);
  } catch (const IoError&) {
    return {};  // no entry (or an unreadable one): build from source
  }
  auto binary = parse_entry(data, key);
  if (!binary) {
    log_debug("program cache: ignoring invalid entry " + path.string());
    return {};
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(binary->data());
  std::size_t size = binary->size();
  cl_int binary_status = CL_SUCCESS, status = CL_SUCCESS;
  OwnedProgram program(
      clCreateProgramWithBinary(context_, 1, &device_, &size, &bytes, &binary_status, &status));
  std::string all_options = full_options(options);
  // A binary the driver refuses, at creation or at the build (an injected failure included),
  // is rebuilt from source.
  if (status != CL_SUCCESS || binary_status != CL_SUCCESS ||
      fault::injected(fault::Site::build) != CL_SUCCESS ||
      clBuildProgram(program.get(), 1, &device_, all_options.c_str(), nullptr, nullptr) !=
          CL_SUCCESS) {
    log_debug("program cache: driver rejected " + path.string() + ", rebuilding");
    return {};
  }
  return program;
}

void ProgramCache::save_to_disk(const std::string& key, cl_program program) {
  std::size_t size = 0;
  if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, nullptr) !=
          CL_SUCCESS ||
      size == 0 || size > kMaxBinaryBytes)
    return;  // the driver offers no binary: nothing to keep
  std::string binary(size, '\0');
  unsigned char* target = reinterpret_cast<unsigned char*>(binary.data());
  if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(target), &target, nullptr) !=
      CL_SUCCESS)
    return;

  std::string entry(kMagic, sizeof(kMagic));
  append_pod(entry, kFormatVersion);
  append_pod(entry, static_cast<std::uint32_t>(key.size()));
  entry += key;
  append_pod(entry, static_cast<std::uint64_t>(binary.size()));
  append_pod(entry, fnv1a64(binary));
  entry += binary;

  try {
    write_file_atomically(disk_path(key), entry);
  } catch (const IoError& e) {
    disable_disk(e.what());
  }
}

void ProgramCache::disable_disk(const std::string& why) {
  log_debug("program cache: disk cache off: " + why);
  disk_dir_.reset();
}

}  // namespace clnn::detail
