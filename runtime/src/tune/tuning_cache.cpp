// TuningCache: a JSON file of tuned configurations, one per (device, driver, kernel, shape).
#include "tune/tuning_cache.hpp"

#include <cmath>

#include "cl/program_cache.hpp"
#include "clnn/error.hpp"
#include "files.hpp"
#include "log.hpp"

namespace clnn::detail {

namespace {

// 2: GEMM entries on CPU devices time the host BLAS too (version 1's never did, so their "own"
// winners would keep products off it).
constexpr int kVersion = 2;

double log_distance(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = std::log2(double(std::max<std::int64_t>(a[i], 1))) -
                     std::log2(double(std::max<std::int64_t>(b[i], 1)));
    d += x * x;
  }
  return d;
}

// Every entry of the file (of all devices); empty when there is no file or it is unreadable,
// corrupt or of another version.
nlohmann::json file_entries(const std::filesystem::path& file) {
  try {
    const auto doc = nlohmann::json::parse(read_file(file));
    if (doc.at("version").get<int>() == kVersion && doc.at("entries").is_array())
      return doc.at("entries");
  } catch (const std::exception& e) {
    log_debug("tuning cache: ignoring " + file.string() + ": " + e.what());
  }
  return nlohmann::json::array();
}

bool same_device(const nlohmann::json& e, const std::string& device, const std::string& driver) {
  return e.at("device") == device && e.at("driver") == driver;
}

}  // namespace

std::optional<std::filesystem::path> TuningCache::default_file(const std::string& configured) {
  auto programs = ProgramCache::default_disk_dir(configured);  // <root>/programs
  if (!programs) return std::nullopt;
  return programs->parent_path() / ("tuning-v" + std::to_string(kVersion) + ".json");
}

TuningCache::TuningCache(const DeviceInfo& device, std::optional<std::filesystem::path> file)
    : device_(device.name), driver_(device.driver_version), file_(std::move(file)) {
  if (!file_) return;
  try {
    for (const auto& e : file_entries(*file_))
      if (same_device(e, device_, driver_))
        entries_.push_back({e.at("kernel").get<std::string>(),
                            e.at("shape").get<std::vector<std::int64_t>>(), e.at("config"),
                            e.at("ms").get<double>()});
  } catch (const std::exception& e) {  // a malformed entry: the whole file is ignored
    log_debug("tuning cache: ignoring " + file_->string() + ": " + e.what());
    entries_.clear();
  }
}

const nlohmann::json* TuningCache::nearest(const std::string& kernel,
                                           const std::vector<std::int64_t>& shape) const {
  // Only shapes this near: about one dimension within a factor of 2. Beyond that the best
  // configuration changes with the product's occupancy of the device (on the H100 the 1024^3
  // winner ran 2048^3 at 29 TFLOP/s, the planner's shape-aware plan at 44).
  constexpr double kMaxDistance = 1.0;
  const Entry* best = nullptr;
  double best_distance = kMaxDistance;
  for (const Entry& e : entries_) {
    if (e.kernel != kernel || e.shape.size() != shape.size()) continue;
    const double d = log_distance(e.shape, shape);
    if (d <= best_distance) best = &e, best_distance = d;
  }
  return best ? &best->config : nullptr;
}

void TuningCache::store(const std::string& kernel, const std::vector<std::int64_t>& shape,
                        const nlohmann::json& config, double milliseconds) {
  ++version_;
  bool replaced = false;
  for (Entry& e : entries_)
    if (e.kernel == kernel && e.shape == shape)
      e = {kernel, shape, config, milliseconds}, replaced = true;
  if (!replaced) entries_.push_back({kernel, shape, config, milliseconds});
  if (!file_) return;
  // Entries of other devices in the file are kept; a corrupt file is replaced whole.
  nlohmann::json others = nlohmann::json::array();
  try {
    for (const auto& e : file_entries(*file_))
      if (!same_device(e, device_, driver_)) others.push_back(e);
  } catch (const std::exception&) {
    others = nlohmann::json::array();
  }
  for (const Entry& e : entries_)
    others.push_back({{"device", device_},
                      {"driver", driver_},
                      {"kernel", e.kernel},
                      {"shape", e.shape},
                      {"config", e.config},
                      {"ms", e.milliseconds}});
  try {
    std::filesystem::create_directories(file_->parent_path());
    write_file_atomically(*file_,
                          nlohmann::json{{"version", kVersion}, {"entries", others}}.dump(1));
  } catch (const std::exception& e) {
    log_debug(std::string("tuning cache: kept in memory only: ") + e.what());
  }
}

}  // namespace clnn::detail
