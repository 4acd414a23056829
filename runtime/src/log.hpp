// Internal: diagnostics on stderr, chosen with CLNN_LOG (info, debug; default: quiet).
#pragma once

#include <string>

namespace clnn::detail {

enum class LogLevel { quiet = 0, info = 1, debug = 2 };

LogLevel log_level();
void log(LogLevel level, const std::string& message);
inline void log_debug(const std::string& message) {
  log(LogLevel::debug, message);
}
// Shown whatever CLNN_LOG says: what a user asked for and does not get (a precision the device
// does not run), said once.
inline void log_note(const std::string& message) {
  log(LogLevel::quiet, message);
}
inline void log_info(const std::string& message) {
  log(LogLevel::info, message);
}

}  // namespace clnn::detail
