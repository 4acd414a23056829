// Diagnostics on stderr, filtered by CLNN_LOG.
#include "log.hpp"

#include <cstdio>
#include <string>

#include "settings.hpp"

namespace clnn::detail {

LogLevel log_level() {
  static const LogLevel level = log_setting();
  return level;
}

void log(LogLevel level, const std::string& message) {
  if (level > log_level()) return;
  std::fprintf(stderr, "clnn %s: %s\n", level == LogLevel::debug  ? "debug"
                                                    : level == LogLevel::info ? "info"
                                                                              : "note",
               message.c_str());
}

}  // namespace clnn::detail
