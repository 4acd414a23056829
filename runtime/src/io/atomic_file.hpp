// Internal: whole-file writes that readers never see half done.
#pragma once

#include <filesystem>
#include <functional>
#include <string_view>

namespace clnn::detail {

// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over `path`: a
// reader finds the old file or the new one. Throws IoError naming the file; the temporary file
// is removed on failure. before_rename runs between the two steps (tests interrupt there).
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           const std::function<void()>& before_rename = {});

}  // namespace clnn::detail
