// Diagnostics on stderr, filtered by CLNN_LOG.
#include "log.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace clnn::detail {

LogLevel log_level() {
  static const LogLevel level = [] {
    const char* env = std::getenv("CLNN_LOG");
    std::string value = env ? env : "";
    if (value == "debug") return LogLevel::debug;
    if (value == "info") return LogLevel::info;
    return LogLevel::quiet;
  }();
  return level;
}

void log(LogLevel level, const std::string& message) {
  if (level > log_level()) return;
  std::fprintf(stderr, "clnn %s: %s\n", level == LogLevel::debug ? "debug" : "info",
               message.c_str());
}

}  // namespace clnn::detail
