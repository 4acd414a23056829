// Shared test helpers: the device under test, random data, and error measures.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "clnn/clnn.hpp"

namespace clnn::test {

// Whether context() has created the device under test's context.
inline bool& context_created() {
  static bool created = false;
  return created;
}

// The device under test: CLNN_DEVICE when set, else the default device. Created once.
inline Context& context() {
  static Context ctx = [] {
    Context made = Context::create();
    context_created() = true;
    return made;
  }();
  return ctx;
}

// A fresh folder under the system's temporary folder, removed with its contents at the end.
struct TempDir {
  explicit TempDir(const std::string& tag)
      : dir(std::filesystem::temp_directory_path() /
            ("clnn-" + tag + "-" + std::to_string(getpid()))) {
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  std::filesystem::path dir;
};

// Sets an environment variable (unset with a null value) for its lifetime, then restores it.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { had_ ? setenv(name_, old_.c_str(), 1) : unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// A whole file's bytes (empty when it cannot be read).
inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::vector<float> random_vector(std::size_t n, std::uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// ‖out − ref‖ / ‖ref‖ in double precision (absolute when ref is zero); infinity when any output
// is NaN or infinite, or the sizes differ, so such a result never passes.
template <typename Ref>
double relative_error(const std::vector<float>& out, const std::vector<Ref>& ref) {
  if (out.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return std::numeric_limits<double>::infinity();
    double d = static_cast<double>(out[i]) - static_cast<double>(ref[i]);
    diff += d * d;
    norm += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

}  // namespace clnn::test
