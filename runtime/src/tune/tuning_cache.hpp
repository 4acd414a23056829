// Internal: tuned launch configurations, kept per device and driver in a versioned JSON file
// beside the program cache. A lookup finds the entry of the same kernel whose shape is nearest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clnn/device.hpp"

namespace clnn::detail {

class TuningCache {
 public:
  // file: where entries live (nullopt: in memory only). An unreadable, corrupt or older file is
  // ignored (and replaced on the next store).
  TuningCache(const DeviceInfo& device, std::optional<std::filesystem::path> file);

  // The configuration stored for `kernel` at the shape nearest to `shape` (log distance over
  // the extents; same rank only; within about a factor of 2), or nullptr. Valid until the next
  // store.
  const nlohmann::json* nearest(const std::string& kernel,
                                const std::vector<std::int64_t>& shape) const;
  // Stores (or replaces) the configuration for exactly this kernel and shape, and writes the
  // file atomically; a file that cannot be written only keeps the entry in memory.
  void store(const std::string& kernel, const std::vector<std::int64_t>& shape,
             const nlohmann::json& config, double milliseconds);

  std::size_t size() const { return entries_.size(); }
  // Counts stores: what was chosen from the cache before may differ after.
  std::uint64_t version() const { return version_; }

  // <root>/tuning-v2.json (see ProgramCache::default_disk_dir for the root; `configured` is
  // CLNN_CACHE_DIR).
  static std::optional<std::filesystem::path> default_file(const std::string& configured);

 private:
  struct Entry {
    std::string kernel;
    std::vector<std::int64_t> shape;
    nlohmann::json config;
    double milliseconds;
  };
  std::string device_, driver_;
  std::optional<std::filesystem::path> file_;
  std::vector<Entry> entries_;
  std::uint64_t version_ = 0;
};

}  // namespace clnn::detail
