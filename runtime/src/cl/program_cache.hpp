// Internal: built OpenCL programs, kept in memory per (source hash, options) and on disk as
// device binaries keyed by source, options, device, driver and platform.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "cl/kernel_source.hpp"
#include "cl_api.hpp"
#include "clnn/device.hpp"

namespace clnn::detail {

struct ProgramCacheStats {
  std::size_t memory_hits = 0;
  std::size_t disk_loads = 0;
  std::size_t source_builds = 0;
};

class ProgramCache {
 public:
  // disk_dir: where binaries are kept; nullopt keeps programs in memory only.
  ProgramCache(cl_context context, cl_device_id device, const DeviceInfo& info,
               std::optional<std::filesystem::path> disk_dir);

  // The built program for source compiled with options. A build failure throws DeviceError
  // carrying the build log.
  cl_program get(const KernelSource& source, const std::string& options);

  ProgramCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  bool disk_enabled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return disk_dir_.has_value();
  }

  // <root>/programs, where the root is `configured` (CLNN_CACHE_DIR; "off" disables), else
  // $XDG_CACHE_HOME/clnn, else ~/.cache/clnn.
  static std::optional<std::filesystem::path> default_disk_dir(const std::string& configured);

 private:
  std::string disk_key(const KernelSource& source, const std::string& options) const;
  std::filesystem::path disk_path(const std::string& key) const;
  OwnedProgram load_from_disk(const std::string& key, const std::string& options);
  void save_to_disk(const std::string& key, cl_program program);
  OwnedProgram build_from_source(const KernelSource& source, const std::string& options);
  void disable_disk(const std::string& why);

  cl_context context_;
  cl_device_id device_;
  std::string device_identity_;  // device name, driver and platform version
  std::optional<std::filesystem::path> disk_dir_;
  // Threads sharing a context share its cache; a build holds the lock so that two threads
  // wanting one program build it once. The programs handed out are immutable once built.
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, OwnedProgram> programs_;
  ProgramCacheStats stats_;
};

}  // namespace clnn::detail
